//! Batch normalisation in training mode on the CPU: batch statistics, the normalisation and its
//! full gradient (through the batch mean and variance) in a few parallel passes, where the
//! composed candle ops take a dozen single-threaded ones.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, par_build, sum_f64, sum_grad_and_dot_f64, sum_grad_and_dot_relu_f64, sum_sq_dev_f64};

/// Channel statistics of `x` viewed as `(n, c, s)`.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    n: usize,
    c: usize,
    s: usize,
    pub(super) mean: Arc<Vec<f32>>,
    pub(super) var: Arc<Vec<f32>>,
    eps: f32,
}

/// Per-channel `(Σ x, Σ x²)` in f64 over one image's planes of `s` values: what
/// [`Stats::from_image_sums`] needs, taken while a kernel's output for the image is still in cache.
pub(crate) fn channel_sums(img: &[f32], s: usize) -> Vec<(f64, f64)> {
    #[cfg(target_arch = "x86_64")]
    if super::direct::available() {
        // SAFETY: AVX-512F is present (`available`).
        return unsafe { channel_sums_avx512(img, s) };
    }
    channel_sums_portable(img, s)
}

/// [`channel_sums`] with AVX-512: each 8 values widened to f64 and added (and squared and
/// added) in 8-lane vectors, two of each in flight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn channel_sums_avx512(img: &[f32], s: usize) -> Vec<(f64, f64)> {
    use std::arch::x86_64::*;
    img.chunks_exact(s.max(1))
        .map(|plane| {
            let (mut a0, mut a1, mut b0, mut b1) = (_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd());
            let blocks = plane.chunks_exact(16);
            let rest = blocks.remainder();
            for c in blocks {
                let lo = _mm512_cvtps_pd(_mm256_loadu_ps(c.as_ptr()));
                let hi = _mm512_cvtps_pd(_mm256_loadu_ps(c.as_ptr().add(8)));
                a0 = _mm512_add_pd(a0, lo);
                a1 = _mm512_add_pd(a1, hi);
                b0 = _mm512_fmadd_pd(lo, lo, b0);
                b1 = _mm512_fmadd_pd(hi, hi, b1);
            }
            let (mut sa, mut sb) = (_mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), _mm512_reduce_add_pd(_mm512_add_pd(b0, b1)));
            for &v in rest {
                sa += v as f64;
                sb += v as f64 * v as f64;
            }
            (sa, sb)
        })
        .collect()
}

#[inline(always)]
fn channel_sums_portable(img: &[f32], s: usize) -> Vec<(f64, f64)> {
    img.chunks_exact(s.max(1))
        .map(|plane| {
            let (mut a, mut b) = ([0f64; 8], [0f64; 8]);
            let lanes = plane.chunks_exact(8);
            let rest = lanes.remainder();
            for c in lanes {
                for l in 0..8 {
                    let v = c[l] as f64;
                    a[l] += v;
                    b[l] += v * v;
                }
            }
            let (mut sa, mut sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
            for &v in rest {
                sa += v as f64;
                sb += v as f64 * v as f64;
            }
            (sa, sb)
        })
        .collect()
}

/// `x < 0 ? 0 : x` in f64: clamps a variance's negative round-off to 0 and keeps a NaN (from NaN
/// inputs) as NaN, as the batch statistics computed directly do.
fn relu64(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Per-channel sums of each image of a batch, from [`channel_sums`].
pub(crate) type ImageSums = Vec<Vec<(f64, f64)>>;

impl Stats {
    /// The statistics from per-image channel sums (added in image order, so the result does
    /// not depend on the threads): `mean = Σx / m`, `var = Σx² / m − mean²`, all in f64.
    pub(crate) fn from_image_sums(sums: &ImageSums, n: usize, c: usize, s: usize, eps: f32) -> Option<Self> {
        if sums.len() != n || sums.iter().any(|v| v.len() != c) {
            return None;
        }
        let m = (n * s) as f64;
        let (mean, var): (Vec<f32>, Vec<f32>) = (0..c)
            .map(|ch| {
                let (sx, sxx) = sums.iter().fold((0f64, 0f64), |(a, b), img| (a + img[ch].0, b + img[ch].1));
                let mean = sx / m;
                (mean as f32, relu64(sxx / m - mean * mean) as f32)
            })
            .unzip();
        Some(Stats { n, c, s, mean: Arc::new(mean), var: Arc::new(var), eps })
    }

    pub(crate) fn compute(x: &[f32], n: usize, c: usize, s: usize, eps: f32) -> Self {
        let m = (n * s) as f64;
        let (mean, var): (Vec<f32>, Vec<f32>) = (0..c)
            .into_par_iter()
            .map(|ch| {
                let planes = || (0..n).map(move |i| &x[(i * c + ch) * s..(i * c + ch + 1) * s]);
                let mean = planes().map(sum_f64).sum::<f64>() / m;
                let var = planes().map(|p| sum_sq_dev_f64(p, mean)).sum::<f64>() / m;
                (mean as f32, var as f32)
            })
            .unzip();
        Stats { n, c, s, mean: Arc::new(mean), var: Arc::new(var), eps }
    }
    /// Per-channel `(scale, shift)` with `y = x * scale + shift`, computed as the composed ops do.
    fn affine(&self, gamma: &[f32], beta: &[f32]) -> Vec<(f32, f32)> {
        (0..self.c)
            .map(|ch| {
                let inv = (self.var[ch] + self.eps).sqrt().recip() * gamma[ch];
                (inv, beta[ch] - self.mean[ch] * inv)
            })
            .collect()
    }
}

/// Training batch norm; with `.1` a ReLU applied to the output in the same pass.
struct BatchNormTrain(Stats, bool);

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "candlebook-batch-norm"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let st = &self.0;
        let (x, gamma, beta) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "gamma")?, contiguous_f32(s3, l3, "beta")?);
        let affine = st.affine(gamma, beta);
        let relu = self.1;
        let y = par_build(x.len(), st.c * st.s, |i, yi| {
            let xi = &x[i * st.c * st.s..(i + 1) * st.c * st.s];
            for (ch, &(scale, shift)) in affine.iter().enumerate() {
                let r = ch * st.s..(ch + 1) * st.s;
                if relu {
                    yi[r.clone()].iter_mut().zip(&xi[r]).for_each(|(y, &x)| *y = super::relu(x * scale + shift));
                } else {
                    yi[r.clone()].iter_mut().zip(&xi[r]).for_each(|(y, &x)| *y = x * scale + shift);
                }
            }
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }
    fn bwd(&self, x: &Tensor, gamma: &Tensor, _beta: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dgamma, dbeta) = batch_norm_grad(x, gamma, grad, &self.0, false, None)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// Batch norm on fixed (moving) statistics over `(n, c, s)` data, as an op of `(x, γ, β)`:
/// `scale = γ / √(var + ε)`, `y = x · scale + (β − mean · scale)`, the composed ops' arithmetic.
struct MovingBatchNorm {
    mean: Vec<f32>,
    var: Vec<f32>,
    eps: f32,
    s: usize,
}

impl MovingBatchNorm {
    fn rstd(&self, ch: usize) -> f32 {
        (self.var[ch] + self.eps).sqrt().recip()
    }
}

impl CustomOp3 for MovingBatchNorm {
    fn name(&self) -> &'static str {
        "candlebook-moving-batch-norm"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, gamma, beta) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "gamma")?, contiguous_f32(s3, l3, "beta")?);
        let c = self.mean.len();
        let per = c * self.s;
        if per == 0 || x.len() % per != 0 || gamma.len() != c || beta.len() != c {
            return Err(candle_core::Error::Msg(format!("batch norm: {} input values, {} and {} weights for {c} channels × {}", x.len(), gamma.len(), beta.len(), self.s)));
        }
        let affine: Vec<(f32, f32)> = (0..c)
            .map(|ch| {
                let inv = self.rstd(ch) * gamma[ch];
                (inv, beta[ch] - self.mean[ch] * inv)
            })
            .collect();
        let y = par_build(x.len(), per, |i, yi| {
            let xi = &x[i * per..(i + 1) * per];
            for (ch, &(scale, shift)) in affine.iter().enumerate() {
                let r = ch * self.s..(ch + 1) * self.s;
                yi[r.clone()].iter_mut().zip(&xi[r]).for_each(|(y, &x)| *y = x * scale + shift);
            }
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }
    /// `dx = g · scale`, `dγ = Σ g · x̂`, `dβ = Σ g` (the statistics are constants here).
    fn bwd(&self, x: &Tensor, gamma: &Tensor, _beta: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = self.mean.len();
        let shape: Vec<usize> = if x.rank() == 4 { vec![1, c, 1, 1] } else { vec![1, c] };
        let axes: Vec<usize> = if x.rank() == 4 { vec![0, 2, 3] } else { vec![0] };
        let rstd: Vec<f32> = (0..c).map(|ch| self.rstd(ch)).collect();
        let rstd = Tensor::from_vec(rstd, shape.clone(), x.device())?;
        let mean = Tensor::from_slice(&self.mean, shape.clone(), x.device())?;
        let dx = grad.broadcast_mul(&rstd.broadcast_mul(&gamma.reshape(shape)?)?)?;
        let xhat = x.broadcast_sub(&mean)?.broadcast_mul(&rstd)?;
        let dgamma = (grad * xhat)?.sum(axes.clone())?;
        let dbeta = grad.sum(axes)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// Batch norm of `x` (`(N, C, H, W)` or `(N, C)`) on its moving statistics in one parallel pass
/// (candle's broadcast multiply and add are two single-threaded ones); differentiable in `x`, γ, β.
pub(crate) fn batch_norm_inference(x: &Tensor, gamma: &Tensor, beta: &Tensor, mean: &Tensor, var: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let s: usize = x.dims()[2..].iter().product();
    let v = |t: &Tensor| t.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>();
    let op = MovingBatchNorm { mean: v(mean)?, var: v(var)?, eps: eps as f32, s };
    if op.mean.len() != x.dim(1)? || op.var.len() != op.mean.len() {
        return Err(candle_core::Error::Msg(format!("batch norm: input has {} channels, moving mean {} and variance {}", x.dim(1)?, op.mean.len(), op.var.len())));
    }
    x.contiguous()?.apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)
}

/// `[dx, dgamma, dbeta]` flattened into one vector; with `relu_input`, `dx` also passes back
/// through the ReLU that produced `x` (see [`batch_norm_grad`]).
struct BatchNormGrad {
    stats: Stats,
    relu_input: bool,
    /// β, when a ReLU follows the batch norm (see [`NormGrad::new`]).
    relu_beta: Option<Vec<f32>>,
}

impl CustomOp3 for BatchNormGrad {
    fn name(&self) -> &'static str {
        "candlebook-batch-norm-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (st, relu_input) = (&self.stats, self.relu_input);
        let (x, gamma, dy) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "gamma")?, contiguous_f32(s3, l3, "output gradient")?);
        let (n, c, s) = (st.n, st.c, st.s);
        if x.len() != n * c * s || dy.len() != x.len() || gamma.len() != c {
            return Err(candle_core::Error::Msg(format!("batch norm gradient: input {} values, output gradient {}, gamma {}; expected {} and {c}", x.len(), dy.len(), gamma.len(), n * c * s)));
        }
        if self.relu_beta.as_ref().is_some_and(|b| b.len() != c) {
            return Err(candle_core::Error::Msg(format!("batch norm gradient: {} beta values for {c} channels", self.relu_beta.as_ref().map_or(0, Vec::len))));
        }
        let g = NormGrad::new(st, x, gamma, dy, relu_input, self.relu_beta.as_deref());
        // chunks 0..n are the images' dx; the chunks after them hold dgamma then dbeta
        let out = par_build(x.len() + 2 * c, c * s, |i, chunk| {
            if i >= n {
                let t0 = (i - n) * c * s;
                for (t, v) in (t0..).zip(chunk.iter_mut()) {
                    *v = if t < c { g.sums[t].1 as f32 } else { g.sums[t - c].0 as f32 };
                }
                return;
            }
            g.image_into(i, chunk);
        });
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * c)))
    }
}

/// The input gradient of a training-mode batch norm, image by image, once its per-channel sums
/// are known: `dx = γ·rstd · (dy − mean(dy) − x̂ · mean(dy·x̂))`, masked by the ReLU that produced
/// `x` when `relu_input`.
pub(crate) struct NormGrad<'a> {
    st: &'a Stats,
    x: &'a [f32],
    gamma: &'a [f32],
    dy: &'a [f32],
    rstd: Vec<f32>,
    /// Per channel: `(Σ dy, Σ dy·x̂)` (dβ and dγ).
    sums: Vec<(f64, f64)>,
    relu_input: bool,
    /// Per channel `(scale, shift)` of the output when a ReLU follows the batch norm: `dy` is
    /// then masked where `x · scale + shift ≤ 0`.
    relu_output: Option<Vec<(f32, f32)>>,
}

impl<'a> NormGrad<'a> {
    /// Reads `x` and `dy` once (channels spread over the rayon pool) for the sums. The caller
    /// checks the lengths: `x` and `dy` hold `n × c × s` values, `gamma` `c`.
    /// With `relu_beta` (β, when a ReLU follows the batch norm) the output gradient `dy` is that
    /// ReLU's and is first passed back through it.
    pub(crate) fn new(st: &'a Stats, x: &'a [f32], gamma: &'a [f32], dy: &'a [f32], relu_input: bool, relu_beta: Option<&[f32]>) -> Self {
        let (n, c, s) = (st.n, st.c, st.s);
        let rstd: Vec<f32> = st.var.iter().map(|v| (v + st.eps).sqrt().recip()).collect();
        let relu_output = relu_beta.map(|beta| st.affine(gamma, beta));
        // per channel: Σ dy and Σ dy·x̂
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sd, mut sdx) = (0f64, 0f64);
                for i in 0..n {
                    let r = (i * c + ch) * s..(i * c + ch + 1) * s;
                    let (a, b) = match &relu_output {
                        Some(affine) => sum_grad_and_dot_relu_f64(&dy[r.clone()], &x[r], st.mean[ch], rstd[ch], affine[ch]),
                        None => sum_grad_and_dot_f64(&dy[r.clone()], &x[r], st.mean[ch], rstd[ch]),
                    };
                    sd += a;
                    sdx += b;
                }
                (sd, sdx)
            })
            .collect();
        NormGrad { st, x, gamma, dy, rstd, sums, relu_input, relu_output }
    }

    /// `(dγ, dβ)` per channel.
    pub(crate) fn gamma_beta_grads(&self) -> (Vec<f32>, Vec<f32>) {
        self.sums.iter().map(|&(sd, sdx)| (sdx as f32, sd as f32)).unzip()
    }

    /// Image `i`'s input gradient (`c × s` values) into `out`.
    pub(crate) fn image_into(&self, i: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if super::direct::available() {
            // SAFETY: AVX-512F is present (`available`).
            return unsafe { self.image_into_avx512(i, out) };
        }
        self.image_into_portable(i, out)
    }

    /// [`NormGrad::image_into`] compiled for AVX-512 (element by element the same arithmetic,
    /// sixteen lanes to a vector).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn image_into_avx512(&self, i: usize, out: &mut [f32]) {
        self.image_into_portable(i, out)
    }

    #[inline(always)]
    fn image_into_portable(&self, i: usize, out: &mut [f32]) {
        let (st, (c, s)) = (self.st, (self.st.c, self.st.s));
        let m = (st.n * s) as f32;
        let (xi, dyi) = (&self.x[i * c * s..(i + 1) * c * s], &self.dy[i * c * s..(i + 1) * c * s]);
        for ch in 0..c {
            let (sd, sdx) = (self.sums[ch].0 as f32 / m, self.sums[ch].1 as f32 / m);
            let k = self.gamma[ch] * self.rstd[ch];
            let r = ch * s..(ch + 1) * s;
            let (mean, rstd) = (st.mean[ch], self.rstd[ch]);
            let dx = |v: f32, g: f32| k * (g - sd - (v - mean) * rstd * sdx);
            let lanes = out[r.clone()].iter_mut().zip(&xi[r.clone()]).zip(&dyi[r]);
            let mask = |keep: bool| (keep as u32).wrapping_neg();
            // separate loops rather than tests inside one, and the masks as bits (a branch on
            // the sign of each activation mispredicts half the time): each loop vectorises
            match (self.relu_input, self.relu_output.as_ref().map(|a| a[ch])) {
                (false, None) => lanes.for_each(|((d, &v), &g)| *d = dx(v, g)),
                (true, None) => lanes.for_each(|((d, &v), &g)| *d = f32::from_bits(dx(v, g).to_bits() & mask(v > 0.0))),
                (false, Some((scale, shift))) => lanes.for_each(|((d, &v), &g)| *d = dx(v, f32::from_bits(g.to_bits() & mask(v * scale + shift > 0.0)))),
                (true, Some((scale, shift))) => lanes.for_each(|((d, &v), &g)| *d = f32::from_bits(dx(v, f32::from_bits(g.to_bits() & mask(v * scale + shift > 0.0))).to_bits() & mask(v > 0.0))),
            }
        }
    }
}

impl super::direct::OutputGrad for NormGrad<'_> {
    fn image<'b>(&'b self, i: usize, scratch: &'b mut [f32]) -> &'b [f32] {
        let len = self.st.c * self.st.s;
        self.image_into(i, &mut scratch[..len]);
        &scratch[..len]
    }
}

/// The backward pass of a convolution followed by training-mode batch norm, from the batch
/// norm's output gradient `grad`: `(dx, dw, db)` of the convolution (`dx` only when
/// `input_grad`) and `(dγ, dβ)` of the batch norm. The batch norm's input gradient (masked by
/// the convolution's ReLU when `relu`) is computed image by image into cache and used there by
/// both convolution gradients, instead of going out to memory for the batch. `None` where the
/// AVX-512 kernels do not run, or for an input gradient at a stride other than 1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_grad_through_batch_norm(
    g: &super::ConvGeometry,
    conv_x: &Tensor,
    w: &Tensor,
    norm_x: &Tensor,
    gamma: &Tensor,
    grad: &Tensor,
    stats: &Stats,
    relu: bool,
    relu_after: Option<&Tensor>,
    input_grad: bool,
) -> candle_core::Result<Option<ConvNormGrads>> {
    if !super::direct::available() || (input_grad && !super::direct::input_grad_supported(g)) {
        return Ok(None);
    }
    let (conv_x, w, norm_x, gamma, grad) = (conv_x.contiguous()?, w.contiguous()?, norm_x.contiguous()?, gamma.contiguous()?, grad.contiguous()?);
    let beta = relu_after.map(Tensor::contiguous).transpose()?;
    let mut tensors = vec![&conv_x, &w, &norm_x, &gamma, &grad];
    tensors.extend(beta.as_ref());
    let done = super::with_cpu_f32(&tensors, |v| {
        let (cx, wv, nx, gv, dy, relu_beta) = (v[0], v[1], v[2], v[3], v[4], v.get(5).copied());
        if relu_beta.is_some_and(|b| b.len() != g.cout) {
            return Err(candle_core::Error::Msg(format!("batch norm gradient: {} beta values for {} channels", relu_beta.map_or(0, <[f32]>::len), g.cout)));
        }
        let per_image = g.cout * g.oh * g.ow;
        if (stats.n, stats.c, stats.s) != (g.n, g.cout, g.oh * g.ow) || cx.len() != g.n * g.cin * g.h * g.w || wv.len() != g.cout * g.cin * g.kh * g.kw || nx.len() != g.n * per_image || dy.len() != nx.len() || gv.len() != g.cout {
            return Err(candle_core::Error::Msg(format!(
                "convolution and batch norm gradients: batch norm over {}×{}×{}, {} gradient values, {} gamma values, for {g:?}",
                stats.n,
                stats.c,
                stats.s,
                dy.len(),
                gv.len()
            )));
        }
        let source = NormGrad::new(stats, nx, gv, dy, relu, relu_beta);
        let (dgamma, dbeta) = source.gamma_beta_grads();
        let (dx, dw, db) = super::direct::conv_backward(g, cx, &source, input_grad.then_some(wv));
        Ok((dx, dw, db, dgamma, dbeta))
    })?;
    let Some(result) = done else { return Ok(None) };
    let (dx, dw, db, dgamma, dbeta) = result?;
    let dev = conv_x.device();
    let dx = dx.map(|dx| Tensor::from_vec(dx, (g.n, g.cin, g.h, g.w), dev)).transpose()?;
    Ok(Some(ConvNormGrads {
        dx,
        dw: Tensor::from_vec(dw, (g.cout, g.cin, g.kh, g.kw), dev)?,
        db: Tensor::from_vec(db, g.cout, dev)?,
        dgamma: Tensor::from_vec(dgamma, g.cout, dev)?,
        dbeta: Tensor::from_vec(dbeta, g.cout, dev)?,
    }))
}

/// What [`conv_grad_through_batch_norm`] returns.
pub(crate) struct ConvNormGrads {
    pub dx: Option<Tensor>,
    pub dw: Tensor,
    pub db: Tensor,
    pub dgamma: Tensor,
    pub dbeta: Tensor,
}

/// Training-mode batch norm of `x` (`(N, C, H, W)` or `(N, C)`): returns the output and the batch
/// mean and (biased) variance per channel, for the moving averages.
pub(crate) fn batch_norm_train(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (y, mean, var, _) = batch_norm_train_saved(x, gamma, beta, eps, true)?;
    Ok((y, mean, var))
}

/// [`batch_norm_train`] also returning the statistics its gradient needs; `track` false skips
/// candle's graph (for the taped training step).
pub(crate) fn batch_norm_train_saved(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    track: bool,
) -> candle_core::Result<(Tensor, Tensor, Tensor, Stats)> {
    batch_norm_train_given(x, gamma, beta, eps, None, false, track)
}

/// [`batch_norm_train_saved`] with the input's per-image channel sums already taken (see
/// [`channel_sums`]), which saves the statistics' pass over the input; `None` computes them.
///
/// With `relu`, the output is `relu(batch_norm(x))` in the same pass (a batch norm followed by a
/// ReLU layer); its gradient then needs β (see [`batch_norm_grad`]). Not with `track`: candle's
/// graph would miss the ReLU.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_train_given(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    sums: Option<&ImageSums>,
    relu: bool,
    track: bool,
) -> candle_core::Result<(Tensor, Tensor, Tensor, Stats)> {
    if relu && track {
        return Err(candle_core::Error::Msg("batch norm: a fused ReLU has no autograd graph".into()));
    }
    let x = x.contiguous()?;
    let dims = x.dims().to_vec();
    let (n, c) = (dims[0], dims[1]);
    let s: usize = dims[2..].iter().product();
    let stats = match sums.and_then(|sums| Stats::from_image_sums(sums, n, c, s, eps as f32)) {
        Some(stats) => stats,
        None => {
            let (storage, layout) = x.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                return Err(candle_core::Error::Msg("batch_norm_train: expected a CPU tensor".into()));
            };
            Stats::compute(contiguous_f32(cpu, layout, "input")?, n, c, s, eps as f32)
        }
    };
    let mean = Tensor::from_slice(&stats.mean[..], c, x.device())?;
    let var = Tensor::from_slice(&stats.var[..], c, x.device())?;
    let y = if track { x.apply_op3(gamma, beta, BatchNormTrain(stats.clone(), false))? } else { x.apply_op3_no_bwd(gamma, beta, &BatchNormTrain(stats.clone(), relu))? };
    Ok((y, mean, var, stats))
}

/// `(dx, dgamma, dbeta)` of a training-mode batch norm from its saved statistics. With
/// `relu_input` (`x` is the output of a ReLU), `dx` is also passed back through that ReLU,
/// `dx · (x > 0)`, in the same pass: the mask's own pass over the activations cost as much as
/// half the batch norm gradient.
///
/// With `relu_after` (β), `grad` is the gradient of a ReLU applied to the batch norm's output
/// (see [`batch_norm_train_given`]), passed back through it here.
pub(crate) fn batch_norm_grad(x: &Tensor, gamma: &Tensor, grad: &Tensor, stats: &Stats, relu_input: bool, relu_after: Option<&Tensor>) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let relu_beta = relu_after.map(|b| b.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()).transpose()?;
    let all = x.apply_op3_no_bwd(gamma, &grad.contiguous()?, &BatchNormGrad { stats: stats.clone(), relu_input, relu_beta })?;
    let numel = x.elem_count();
    Ok((all.narrow(0, 0, numel)?.reshape(x.shape())?, all.narrow(0, numel, stats.c)?, all.narrow(0, numel + stats.c, stats.c)?))
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor, Var};

    /// The fused moving-statistics batch norm against the composed candle ops in f64: output and
    /// the gradients of x, γ and β.
    #[test]
    fn moving_batch_norm_matches_the_composed_ops() {
        let dev = Device::Cpu;
        let r = |shape: &[usize], seed: u64| {
            let n: usize = shape.iter().product();
            let v: Vec<f64> = (0..n).map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 500.0) - 1.0).collect();
            Tensor::from_vec(v, shape, &dev).unwrap()
        };
        for dims in [vec![3, 4, 5, 6], vec![7, 4]] {
            let (x, g, b) = (r(&dims, 1), r(&[4], 2).affine(0.5, 1.0).unwrap(), r(&[4], 3));
            let (m, v) = (r(&[4], 4), r(&[4], 5).abs().unwrap().affine(1.0, 0.1).unwrap());
            let w = r(&dims, 6);
            let shape: Vec<usize> = if dims.len() == 4 { vec![1, 4, 1, 1] } else { vec![1, 4] };
            let run = |fused: bool, dtype: DType| {
                let vars: Vec<Var> = [&x, &g, &b].iter().map(|t| Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()).collect();
                let (xv, gv, bv) = (vars[0].as_tensor(), vars[1].as_tensor(), vars[2].as_tensor());
                let (mm, vv) = (m.to_dtype(dtype).unwrap(), v.to_dtype(dtype).unwrap());
                let y = if fused {
                    super::batch_norm_inference(xv, gv, bv, &mm, &vv, 1e-3).unwrap()
                } else {
                    let inv = (vv.reshape(shape.clone()).unwrap() + 1e-3).unwrap().sqrt().unwrap().recip().unwrap().broadcast_mul(&gv.reshape(shape.clone()).unwrap()).unwrap();
                    let shift = bv.reshape(shape.clone()).unwrap().broadcast_sub(&mm.reshape(shape.clone()).unwrap().broadcast_mul(&inv).unwrap()).unwrap();
                    xv.broadcast_mul(&inv).unwrap().broadcast_add(&shift).unwrap()
                };
                let grads = (&y * &w.to_dtype(dtype).unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
                let mut out = vec![y.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()];
                for var in &vars {
                    out.push(grads.get(var.as_tensor()).unwrap().to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap());
                }
                out
            };
            let (fused, reference) = (run(true, DType::F32), run(false, DType::F64));
            for (k, (a, b)) in fused.iter().zip(&reference).enumerate() {
                assert_eq!(a.len(), b.len());
                for (p, q) in a.iter().zip(b) {
                    assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "{dims:?} part {k}: {p} vs {q}");
                }
            }
        }
    }
}
