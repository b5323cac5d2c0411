//! 2-D convolution for training on the CPU: im2col in cache-sized blocks of output pixels and a
//! single-threaded AVX-512 GEMM per block, images spread over the rayon pool. Forward, weight and
//! input gradients all run at GEMM speed, where candle 0.11's CPU `conv2d` backward goes through a
//! scalar `conv_transpose2d` and whole-batch copies.
//!
//! Layouts: input `(N, Cin, H, W)`, kernel `(Cout, Cin, kh, kw)`, bias `(Cout)`, output
//! `(N, Cout, oh, ow)`, all f32 and contiguous. Each image is first rewritten once into padded
//! stride phases ([`to_phases`]), which turns TensorFlow's asymmetric `same` padding and any stride
//! into plain contiguous copies in im2col.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, gemm_f32, par_build, sum_f32, with_scratch, Mat, MatMut};

/// Shapes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    /// Vertical and horizontal strides (Keras allows them to differ).
    pub sy: usize,
    pub sx: usize,
    /// Zero rows above / columns left of the input (TF puts the odd one at the end).
    pub pad_top: usize,
    pub pad_left: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeometry {
    fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    fn pixels(&self) -> usize {
        self.oh * self.ow
    }
    /// Output pixels per im2col block: the block (K × pb floats) stays within ~1 MiB of L2.
    fn block(&self) -> usize {
        let pb = (256 * 1024 / self.k().max(1)).max(64);
        // whole output rows keep the im2col loops simple and the copies contiguous
        let rows = (pb / self.ow).max(1);
        (rows * self.ow).min(self.pixels())
    }
}

impl ConvGeometry {
    /// Width of one phase row of [`to_phases`]: enough for every output column and kernel column.
    pub(super) fn phase_width(&self) -> usize {
        self.ow + (self.kw - 1) / self.sx
    }
    fn phases_len(&self) -> usize {
        self.cin * self.h * self.sx * self.phase_width()
    }
    /// Strides of 1 in both directions (where the input gradient is itself a convolution).
    pub(crate) fn unit_strides(&self) -> bool {
        self.sy == 1 && self.sx == 1
    }
}

/// Splits every input row of one image into its `sx` phases (the horizontal stride), with the
/// horizontal padding written out as zeros: `phases[c][iy][r][j]` is padded column `j * sx + r`. A strided
/// receptive-field row (output columns `0..ow`, kernel column `kx`) is then the contiguous run
/// `phases[c][iy][kx % stride][kx / stride..][..ow]`, so im2col only copies runs.
fn to_phases(g: &ConvGeometry, img: &[f32], phases: &mut [f32]) {
    let (s, jw) = (g.sx, g.phase_width());
    for (row, dst) in img.chunks_exact(g.w).zip(phases.chunks_exact_mut(s * jw)) {
        if s == 1 {
            let (lo, hi) = (g.pad_left.min(jw), (g.pad_left + g.w).min(jw));
            dst[..lo].fill(0.0);
            dst[lo..hi].copy_from_slice(&row[..hi - lo]);
            dst[hi..].fill(0.0);
            continue;
        }
        for (r, phase) in dst.chunks_exact_mut(jw).enumerate() {
            // padded column j * s + r is input column j * s + r - pad_left
            let (lo, hi) = phase_range(g, r);
            phase[..lo].fill(0.0);
            phase[hi..].fill(0.0);
            if lo < hi {
                let first = lo * s + r - g.pad_left;
                phase[lo..hi].iter_mut().zip(row[first..].iter().step_by(s)).for_each(|(v, x)| *v = *x);
            }
        }
    }
}

/// The phase cells `lo..hi` of phase `r` that hold real input columns (not padding).
#[inline]
pub(super) fn phase_range(g: &ConvGeometry, r: usize) -> (usize, usize) {
    let (s, jw) = (g.sx, g.phase_width());
    // smallest j with j * s + r >= pad_left, and first j with j * s + r >= pad_left + w
    let first = |bound: usize| if r >= bound { 0 } else { (bound - r).div_ceil(s) };
    let (lo, hi) = (first(g.pad_left).min(jw), first(g.pad_left + g.w).min(jw));
    (lo, hi.max(lo))
}

/// The transpose of [`to_phases`]: adds the phase gradients of the real (unpadded) cells to the image gradient.
fn from_phases(g: &ConvGeometry, phases: &[f32], img: &mut [f32]) {
    let (s, jw) = (g.sx, g.phase_width());
    for (row, src) in img.chunks_exact_mut(g.w).zip(phases.chunks_exact(s * jw)) {
        if s == 1 {
            let lo = g.pad_left.min(jw);
            let hi = (g.pad_left + g.w).min(jw);
            row[..hi - lo].iter_mut().zip(&src[lo..hi]).for_each(|(d, v)| *d += *v);
            continue;
        }
        for (r, phase) in src.chunks_exact(jw).enumerate() {
            let (lo, hi) = phase_range(g, r);
            if lo < hi {
                let first = lo * s + r - g.pad_left;
                row[first..].iter_mut().step_by(s).zip(&phase[lo..hi]).for_each(|(d, v)| *d += *v);
            }
        }
    }
}

/// The input row that kernel row `ky` of output row `oy` reads, if it is not padding.
#[inline]
fn input_row(g: &ConvGeometry, oy: usize, ky: usize) -> Option<usize> {
    (oy * g.sy + ky).checked_sub(g.pad_top).filter(|&iy| iy < g.h)
}

/// Fills `col` (K × len, row-major) with the receptive fields of output pixels `p0..p0+len`
/// (whole output rows) of one image given as [`to_phases`].
fn im2col(g: &ConvGeometry, phases: &[f32], p0: usize, len: usize, col: &mut [f32]) {
    let (s, jw, ow) = (g.sx, g.phase_width(), g.ow);
    let (oy0, rows) = (p0 / ow, len / ow);
    for c in 0..g.cin {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((c * g.kh + ky) * g.kw + kx) * len..][..len];
                for (t, out) in row.chunks_exact_mut(ow).enumerate().take(rows) {
                    match input_row(g, oy0 + t, ky) {
                        None => out.fill(0.0),
                        Some(iy) => out.copy_from_slice(&phases[((c * g.h + iy) * s + kx % s) * jw + kx / s..][..ow]),
                    }
                }
            }
        }
    }
}

/// Adds `col` (K × len) back onto the phase gradient of one image: the transpose of [`im2col`].
fn col2im(g: &ConvGeometry, col: &[f32], p0: usize, len: usize, phases: &mut [f32]) {
    let (s, jw, ow) = (g.sx, g.phase_width(), g.ow);
    let (oy0, rows) = (p0 / ow, len / ow);
    for c in 0..g.cin {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &col[((c * g.kh + ky) * g.kw + kx) * len..][..len];
                for (t, src) in row.chunks_exact(ow).enumerate().take(rows) {
                    if let Some(iy) = input_row(g, oy0 + t, ky) {
                        let dst = &mut phases[((c * g.h + iy) * s + kx % s) * jw + kx / s..][..ow];
                        dst.iter_mut().zip(src).for_each(|(d, v)| *d += *v);
                    }
                }
            }
        }
    }
}

/// Forward: `y = act(conv(x, w) + b)` with `act` ReLU or identity.
pub(crate) struct Conv2dForward {
    pub geom: ConvGeometry,
    pub relu: bool,
}

impl CustomOp3 for Conv2dForward {
    fn name(&self) -> &'static str {
        "candlebook-conv2d"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.geom;
        let (x, w, b) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "kernel")?, contiguous_f32(s3, l3, "bias")?);
        if x.len() != g.n * g.cin * g.h * g.w || w.len() != g.cout * g.k() || b.len() != g.cout {
            return Err(candle_core::Error::Msg(format!("convolution: {} input, {} kernel and {} bias values for {g:?}", x.len(), w.len(), b.len())));
        }
        if super::direct::available() {
            let y = super::direct::conv_forward(&g, x, w, b, self.relu);
            return Ok((CpuStorage::F32(y), Shape::from((g.n, g.cout, g.oh, g.ow))));
        }
        let (k, p, pb) = (g.k(), g.pixels(), g.block());
        let y = par_build(g.n * g.cout * p, g.cout * p, |i, yi| {
            with_scratch(k * pb, g.phases_len(), |col, phases| {
                to_phases(&g, &x[i * g.cin * g.h * g.w..(i + 1) * g.cin * g.h * g.w], phases);
                let mut p0 = 0;
                while p0 < p {
                    let len = pb.min(p - p0);
                    im2col(&g, phases, p0, len, col);
                    let dst = MatMut { ptr: yi[p0..].as_mut_ptr(), rs: p as isize, cs: 1 };
                    gemm_f32(g.cout, len, k, dst, false, Mat::of(w, k as isize, 1), Mat::of(col, len as isize, 1));
                    for (co, &bias) in b.iter().enumerate() {
                        let row = &mut yi[co * p + p0..co * p + p0 + len];
                        if self.relu {
                            row.iter_mut().for_each(|v| *v = super::relu(*v + bias));
                        } else {
                            row.iter_mut().for_each(|v| *v += bias);
                        }
                    }
                    p0 += len;
                }
            })
        });
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.cout, g.oh, g.ow))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = conv2d_grad(&self.geom, self.relu.then_some(res), x, w, grad, x.track_op())?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// [`Conv2dForward`] (no autograd) also returning each image's per-channel output sums, for a
/// batch norm after the convolution (see [`super::batch_norm_train_given`]); `None` where the
/// AVX-512 kernels do not run.
pub(crate) fn conv_forward_with_sums(g: &ConvGeometry, x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> candle_core::Result<Option<(Tensor, super::ImageSums)>> {
    if !super::direct::available() {
        return Ok(None);
    }
    let (x, w, b) = (x.contiguous()?, w.contiguous()?, b.contiguous()?);
    let done = super::with_cpu_f32(&[&x, &w, &b], |v| {
        let (xv, wv, bv) = (v[0], v[1], v[2]);
        if xv.len() != g.n * g.cin * g.h * g.w || wv.len() != g.cout * g.k() || bv.len() != g.cout {
            return Err(candle_core::Error::Msg(format!("convolution: {} input, {} kernel and {} bias values for {g:?}", xv.len(), wv.len(), bv.len())));
        }
        Ok(super::direct::Forward::new(g, wv, bv, relu).batch_with_sums(xv))
    })?;
    let Some(result) = done else { return Ok(None) };
    let (y, sums) = result?;
    Ok(Some((Tensor::from_vec(y, (g.n, g.cout, g.oh, g.ow), x.device())?, sums)))
}

/// `(dx, dw, db)` of [`Conv2dForward`] from its input, kernel and output gradient (passed back
/// through the ReLU first when its output `relu_output` is given); `dx` only when `input_grad`.
pub(crate) fn conv2d_grad(g: &ConvGeometry, relu_output: Option<&Tensor>, x: &Tensor, w: &Tensor, grad: &Tensor, input_grad: bool) -> candle_core::Result<(Option<Tensor>, Tensor, Tensor)> {
    let grad = grad.contiguous()?;
    if super::direct::available() && (!input_grad || super::direct::input_grad_supported(g)) {
        // image by image: the ReLU mask and both gradients while each image's gradient is in cache
        let (x, w, y) = (x.contiguous()?, w.contiguous()?, relu_output.map(Tensor::contiguous).transpose()?);
        let mut tensors = vec![&x, &w, &grad];
        tensors.extend(y.as_ref());
        let done = super::with_cpu_f32(&tensors, |v| {
            let (xv, wv, dy) = (v[0], v[1], v[2]);
            let per_image = g.cout * g.oh * g.ow;
            if xv.len() != g.n * g.cin * g.h * g.w || wv.len() != g.cout * g.k() || dy.len() != g.n * per_image || v.get(3).is_some_and(|y| y.len() != dy.len()) {
                return Err(candle_core::Error::Msg(format!("convolution gradient: {} input, {} kernel, {} gradient values for {g:?}", xv.len(), wv.len(), dy.len())));
            }
            let source = super::direct::BatchGrad { dy, relu_output: v.get(3).copied(), per_image };
            Ok(super::direct::conv_backward(g, xv, &source, input_grad.then_some(wv)))
        })?;
        if let Some(result) = done {
            let (dx, dw, db) = result?;
            let dev = x.device();
            let dx = dx.map(|dx| Tensor::from_vec(dx, (g.n, g.cin, g.h, g.w), dev)).transpose()?;
            return Ok((dx, Tensor::from_vec(dw, (g.cout, g.cin, g.kh, g.kw), dev)?, Tensor::from_vec(db, g.cout, dev)?));
        }
    }
    let grad = match relu_output {
        Some(y) => grad.apply_op2_no_bwd(y, &ReluMask)?,
        None => grad,
    };
    let dx = if input_grad { Some(grad.apply_op2_no_bwd(w, &Conv2dInputGrad { geom: *g })?) } else { None };
    let dwb = x.apply_op2_no_bwd(&grad, &Conv2dWeightGrad { geom: *g })?;
    let k = g.k();
    let dw = dwb.narrow(1, 0, k)?.contiguous()?.reshape((g.cout, g.cin, g.kh, g.kw))?;
    let db = dwb.narrow(1, k, 1)?.contiguous()?.reshape(g.cout)?;
    Ok((dx, dw, db))
}

/// `grad * (y > 0)`: the gradient through a ReLU, from the ReLU's output.
pub(crate) struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "candlebook-relu-mask"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (g, y) = (contiguous_f32(s1, l1, "gradient")?, contiguous_f32(s2, l2, "activation")?);
        if g.len() != y.len() {
            return Err(candle_core::Error::Msg(format!("ReLU gradient: {} gradient values for {} activations", g.len(), y.len())));
        }
        let out = par_build(g.len(), 1 << 14, |i, o| {
            for ((o, &g), &y) in o.iter_mut().zip(&g[i << 14..]).zip(&y[i << 14..]) {
                *o = if y > 0.0 { g } else { 0.0 };
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Input gradient: `dx = col2im(wᵀ · dy)`, image by image.
struct Conv2dInputGrad {
    geom: ConvGeometry,
}

impl CustomOp2 for Conv2dInputGrad {
    fn name(&self) -> &'static str {
        "candlebook-conv2d-input-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.geom;
        let (dy, w) = (contiguous_f32(s1, l1, "output gradient")?, contiguous_f32(s2, l2, "kernel")?);
        if dy.len() != g.n * g.cout * g.oh * g.ow || w.len() != g.cout * g.k() {
            return Err(candle_core::Error::Msg(format!("convolution input gradient: {} gradient and {} kernel values for {g:?}", dy.len(), w.len())));
        }
        if super::direct::available() {
            if let Some(dx) = super::direct::conv_input_grad(&g, dy, w) {
                return Ok((CpuStorage::F32(dx), Shape::from((g.n, g.cin, g.h, g.w))));
            }
        }
        let (k, p, pb) = (g.k(), g.pixels(), g.block());
        let dx = par_build(g.n * g.cin * g.h * g.w, g.cin * g.h * g.w, |i, dxi| {
            with_scratch(k * pb, g.phases_len(), |dcol, dphases| {
                let dyi = &dy[i * g.cout * p..(i + 1) * g.cout * p];
                dphases.fill(0.0);
                let mut p0 = 0;
                while p0 < p {
                    let len = pb.min(p - p0);
                    let dst = MatMut { ptr: dcol.as_mut_ptr(), rs: len as isize, cs: 1 };
                    // wᵀ: (K × Cout) read from the (Cout × K) kernel with swapped strides
                    gemm_f32(k, len, g.cout, dst, false, Mat::of(w, 1, k as isize), Mat::of(&dyi[p0..], p as isize, 1));
                    col2im(&g, dcol, p0, len, dphases);
                    p0 += len;
                }
                from_phases(&g, dphases, dxi);
            })
        });
        Ok((CpuStorage::F32(dx), Shape::from((g.n, g.cin, g.h, g.w))))
    }
}

/// Weight and bias gradients as one `(Cout, K + 1)` matrix: `dw = Σ dy · colᵀ`, `db = Σ dy`.
struct Conv2dWeightGrad {
    geom: ConvGeometry,
}

impl CustomOp2 for Conv2dWeightGrad {
    fn name(&self) -> &'static str {
        "candlebook-conv2d-weight-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.geom;
        let (x, dy) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "output gradient")?);
        if x.len() != g.n * g.cin * g.h * g.w || dy.len() != g.n * g.cout * g.oh * g.ow {
            return Err(candle_core::Error::Msg(format!("convolution kernel gradient: {} input and {} gradient values for {g:?}", x.len(), dy.len())));
        }
        let (k, p, pb) = (g.k(), g.pixels(), g.block());
        if super::direct::available() {
            let (dw, db) = super::direct::conv_weight_grad(&g, x, dy);
            let mut total = vec![0f32; g.cout * (k + 1)];
            for (co, row) in total.chunks_exact_mut(k + 1).enumerate() {
                row[..k].copy_from_slice(&dw[co * k..(co + 1) * k]);
                row[k] = db[co];
            }
            return Ok((CpuStorage::F32(total), Shape::from((g.cout, k + 1))));
        }
        let threads = rayon::current_num_threads().max(1);
        let per = g.n.div_ceil(threads);
        // Each thread accumulates dwᵀ (K × Cout, Cout contiguous) and db: with the destination
        // contiguous along Cout, the GEMM streams the im2col block in place and only repacks the
        // much smaller output-gradient block (Cout × len), not the K × len block.
        let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..g.n.div_ceil(per))
            .into_par_iter()
            .map(|t| {
                let (mut acc, mut bias) = (vec![0f32; k * g.cout], vec![0f32; g.cout]);
                with_scratch(k * pb, g.phases_len(), |col, phases| {
                    for i in t * per..((t + 1) * per).min(g.n) {
                        to_phases(&g, &x[i * g.cin * g.h * g.w..(i + 1) * g.cin * g.h * g.w], phases);
                        let dyi = &dy[i * g.cout * p..(i + 1) * g.cout * p];
                        let mut p0 = 0;
                        while p0 < p {
                            let len = pb.min(p - p0);
                            im2col(&g, phases, p0, len, col);
                            let dst = MatMut { ptr: acc.as_mut_ptr(), rs: 1, cs: g.cout as isize };
                            // colᵀ: (len × K) read from the (K × len) block with swapped strides
                            gemm_f32(g.cout, k, len, dst, true, Mat::of(&dyi[p0..], p as isize, 1), Mat::of(col, 1, len as isize));
                            p0 += len;
                        }
                        for (co, b) in bias.iter_mut().enumerate() {
                            *b += sum_f32(&dyi[co * p..(co + 1) * p]);
                        }
                    }
                });
                (acc, bias)
            })
            .collect();
        let mut total = vec![0f32; g.cout * (k + 1)];
        for (acc, bias) in partials {
            for (co, row) in total.chunks_exact_mut(k + 1).enumerate() {
                row[..k].iter_mut().zip(acc[co..].iter().step_by(g.cout)).for_each(|(t, v)| *t += *v);
                row[k] += bias[co];
            }
        }
        Ok((CpuStorage::F32(total), Shape::from((g.cout, k + 1))))
    }
}
