//! Max pooling with TensorFlow's semantics on the CPU: any window and stride, `same` padding whose
//! cells never win, and a gradient that goes wholly to the first maximum of each window in
//! row-major order (what TensorFlow's CPU kernel does; candle 0.11 splits it or fails).
//!
//! NaN as TensorFlow 2.21's CPU kernel (`tf.nn.max_pool2d`, Keras's `MaxPooling2D`) treats it,
//! checked against it in `tests/fixtures/keras_max_pool_nan.json`: a NaN never wins a window's
//! value, which is the largest number in it, at least `f32::MIN` (a window of only NaN and -inf
//! gives `f32::MIN`, TensorFlow's starting value, not NaN or -inf). The gradient follows
//! TensorFlow's gradient kernel: each window starts from its first cell, and a later cell takes
//! over only where it is larger, so a window whose first cell is NaN sends its gradient there.
//!
//! The training step keeps each window's winner (an index into its plane) from the forward pass,
//! so the gradient is a scatter rather than a second search.

use std::mem::MaybeUninit;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, par_build};

/// Per-lane constants of a pooling's search (see [`MaxPool2d::lane_indices`]).
pub(crate) type Lanes = (Vec<u32>, Vec<u32>);

/// `(N, C, H, W)` → `(N, C, oh, ow)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaxPool2d {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub pool: (usize, usize),
    pub strides: (usize, usize),
    pub pad: (usize, usize),
    pub out: (usize, usize),
    pub dims: (usize, usize),
}

/// The input cells `lo..hi` that window `o` of a `size`-wide axis covers (padding clipped away).
#[inline]
fn window(o: usize, stride: usize, pad: usize, pool: usize, size: usize) -> (usize, usize) {
    let start = (o * stride) as isize - pad as isize;
    (start.max(0) as usize, ((start + pool as isize).max(0) as usize).min(size))
}

impl MaxPool2d {
    /// Width of one phase row: enough for every output column and window column.
    fn phase_width(&self) -> usize {
        self.out.1 + (self.pool.1 - 1) / self.strides.1
    }

    /// Rows of one phase: enough for every output row and window row.
    fn phase_rows(&self) -> usize {
        self.out.0 + (self.pool.0 - 1) / self.strides.0
    }

    /// Length of a plane's stride phases (`sy × sx` phases of `phase_rows × phase_width`).
    fn phases_len(&self) -> usize {
        self.strides.0 * self.strides.1 * self.phase_rows() * self.phase_width()
    }

    /// Per-plane constants of the search, on the wide grid of `out.0 × phase_width` lanes (lane
    /// `oy * jw + ox`; lanes with `ox ≥ out.1` are computed and dropped): each lane's plane index
    /// of window cell (0, 0) (wrapping where that cell is padding), and of the window's first real
    /// cell (the winner TF reports for an all −∞ window).
    pub(crate) fn lane_indices(&self) -> Lanes {
        let (jw, (sy, sx), (py, px)) = (self.phase_width(), self.strides, self.pad);
        let mut base = Vec::with_capacity(self.out.0 * jw);
        let mut first = Vec::with_capacity(self.out.0 * jw);
        for oy in 0..self.out.0 {
            let ya = window(oy, sy, py, self.pool.0, self.h).0;
            for ox in 0..jw {
                let cell = ((oy * sy) as isize - py as isize) * self.w as isize + (ox * sx) as isize - px as isize;
                base.push(cell as u32);
                let xa = if ox < self.out.1 { window(ox, sx, px, self.pool.1, self.w).0 } else { 0 };
                first.push((ya * self.w + xa) as u32);
            }
        }
        (base, first)
    }

    /// Every window of one plane: its maximum into `y` (NaN skipped, at least `f32::MIN`), the
    /// plane index of its first maximum (row-major; the first cell when that is NaN, as in TF's
    /// gradient) into `idx`.
    ///
    /// The plane is first split into its `sy × sx` stride phases padded with −∞
    /// (`phases[ry][rx][i][j]` is padded cell `(i * sy + ry, j * sx + rx)`), so window cell
    /// `(ky, kx)` of every output is one contiguous run of the phase `(ky % sy, kx % sx)` when the
    /// output is laid out `phase_width` wide. The search then runs over the whole plane at once,
    /// cell by cell of the window, as element-wise selects the compiler vectorises. Padding (−∞)
    /// never wins, and each window starts at its first real cell.
    fn plane(&self, xp: &[f32], lanes: &Lanes, scratch: &mut [f32], y: &mut [MaybeUninit<f32>], idx: &mut [MaybeUninit<u32>]) {
        #[cfg(target_arch = "x86_64")]
        if super::direct::available() {
            // SAFETY: AVX-512F is present (checked above).
            return unsafe { self.plane_avx512(xp, lanes, scratch, y, idx) };
        }
        self.plane_portable(xp, lanes, scratch, y, idx)
    }

    /// [`MaxPool2d::plane`] compiled for AVX-512: the selects become 16-lane masked blends.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    unsafe fn plane_avx512(&self, xp: &[f32], lanes: &Lanes, scratch: &mut [f32], y: &mut [MaybeUninit<f32>], idx: &mut [MaybeUninit<u32>]) {
        self.plane_portable(xp, lanes, scratch, y, idx)
    }

    #[inline(always)]
    fn plane_portable(&self, xp: &[f32], (base, first): &Lanes, scratch: &mut [f32], y: &mut [MaybeUninit<f32>], idx: &mut [MaybeUninit<u32>]) {
        let ((sy, sx), px, jw, jh) = (self.strides, self.pad.1, self.phase_width(), self.phase_rows());
        let (ow, wide) = (self.out.1, self.out.0 * jw);
        let (phases, rest) = scratch.split_at_mut(self.phases_len());
        let (v, best) = rest.split_at_mut(wide);
        // `best` holds u32 plane indices as f32 bit patterns (one scratch buffer for both)
        if (sx, px) == (2, 0) {
            self.split_pairs(xp, phases);
        } else {
            self.split_phases(xp, phases);
        }
        v.fill(f32::NEG_INFINITY);
        best.iter_mut().zip(first).for_each(|(b, &f)| *b = f32::from_bits(f));
        for ky in 0..self.pool.0 {
            for kx in 0..self.pool.1 {
                let ph = (ky % sy) * sx + kx % sx;
                // the last output row needs only its `ow` real lanes (its run ends the phase)
                let src = &phases[ph * jh * jw + (ky / sy) * jw + kx / sx..][..wide - jw + ow];
                let cell = (ky * self.w + kx) as u32;
                for ((((v, b), &c), &l), &f) in v.iter_mut().zip(best.iter_mut()).zip(src).zip(base.iter()).zip(first.iter()) {
                    // a NaN wins only as its window's first cell, and then keeps the window
                    // (nothing compares larger than NaN); its value is then recomputed below
                    let wins = (c > *v) | (c.is_nan() & (l.wrapping_add(cell) == f));
                    // bit masks, not `if`: baseline x86-64 (SSE2) has no blend, and the compiler
                    // turns the selects into a branch per lane
                    let m = (wins as u32).wrapping_neg();
                    *v = f32::from_bits((c.to_bits() & m) | (v.to_bits() & !m));
                    *b = f32::from_bits((l.wrapping_add(cell) & m) | (b.to_bits() & !m));
                }
            }
        }
        for (oy, ((yr, ir), (vr, br))) in y.chunks_exact_mut(ow).zip(idx.chunks_exact_mut(ow)).zip(v.chunks_exact(jw).zip(best.chunks_exact(jw))).enumerate() {
            yr.iter_mut().zip(vr).enumerate().for_each(|(ox, (y, &v))| {
                // TF starts each window at f32::MIN: -inf (a window of -inf and NaN) gives f32::MIN
                y.write(if v.is_nan() { self.window_max(xp, oy, ox) } else { v.max(f32::MIN) });
            });
            ir.iter_mut().zip(br).for_each(|(i, b)| {
                i.write(b.to_bits());
            });
        }
    }

    /// The value TF gives window `(oy, ox)` of plane `xp`: its largest number, NaN skipped, at
    /// least `f32::MIN`. Only for windows whose first cell is NaN (rare): the vectorised search
    /// keeps the NaN there as the winner, for the gradient.
    #[cold]
    fn window_max(&self, xp: &[f32], oy: usize, ox: usize) -> f32 {
        let (ya, yb) = window(oy, self.strides.0, self.pad.0, self.pool.0, self.h);
        let (xa, xb) = window(ox, self.strides.1, self.pad.1, self.pool.1, self.w);
        let mut m = f32::MIN;
        for row in xp[ya * self.w..yb * self.w].chunks_exact(self.w) {
            for &c in &row[xa..xb] {
                if c > m {
                    m = c;
                }
            }
        }
        m
    }

    /// Fills `phases` (see [`MaxPool2d::plane`]) from plane `xp`, any strides and padding.
    #[inline(always)]
    fn split_phases(&self, xp: &[f32], phases: &mut [f32]) {
        let ((sy, sx), (py, px), jw, jh) = (self.strides, self.pad, self.phase_width(), self.phase_rows());
        for (ph, dst) in phases.chunks_exact_mut(jh * jw).enumerate() {
            let (ry, rx) = (ph / sx, ph % sx);
            for (i, row) in dst.chunks_exact_mut(jw).enumerate() {
                let iy = (i * sy + ry).wrapping_sub(py);
                if iy >= self.h {
                    row.fill(f32::NEG_INFINITY);
                    continue;
                }
                let src = &xp[iy * self.w..(iy + 1) * self.w];
                // cells lo..hi hold real columns: j * sx + rx - px in 0..w
                let first = |bound: usize| {
                    if rx >= bound {
                        0
                    } else {
                        (bound - rx).div_ceil(sx)
                    }
                };
                let (lo, hi) = (first(px).min(jw), first(px + self.w).min(jw));
                let hi = hi.max(lo);
                row[..lo].fill(f32::NEG_INFINITY);
                row[hi..].fill(f32::NEG_INFINITY);
                if lo < hi {
                    let start = lo * sx + rx - px;
                    row[lo..hi].iter_mut().zip(src[start..].iter().step_by(sx)).for_each(|(c, x)| *c = *x);
                }
            }
        }
    }

    /// [`MaxPool2d::split_phases`] for a horizontal stride of 2 without left padding (every
    /// stride-2 pooling of an even-width or `valid` input): each input row is read once as pairs
    /// of columns, the two column phases written side by side, which the compiler vectorises;
    /// the general loop read the row once per phase with a strided scalar copy.
    #[inline(always)]
    fn split_pairs(&self, xp: &[f32], phases: &mut [f32]) {
        let (sy, py, jw, jh) = (self.strides.0, self.pad.0, self.phase_width(), self.phase_rows());
        for ry in 0..sy {
            let (even, odd) = phases[2 * ry * jh * jw..(2 * ry + 2) * jh * jw].split_at_mut(jh * jw);
            for (i, (a, b)) in even.chunks_exact_mut(jw).zip(odd.chunks_exact_mut(jw)).enumerate() {
                let iy = (i * sy + ry).wrapping_sub(py);
                if iy >= self.h {
                    a.fill(f32::NEG_INFINITY);
                    b.fill(f32::NEG_INFINITY);
                    continue;
                }
                let src = &xp[iy * self.w..(iy + 1) * self.w];
                let pairs = src.chunks_exact(2);
                let last = pairs.remainder();
                let n = pairs.len().min(jw);
                for ((a, b), p) in a.iter_mut().zip(b.iter_mut()).zip(pairs) {
                    *a = p[0];
                    *b = p[1];
                }
                // an odd width leaves one even column
                let na = match last {
                    [x] if n < jw => {
                        a[n] = *x;
                        n + 1
                    }
                    _ => n,
                };
                a[na..].fill(f32::NEG_INFINITY);
                b[n..].fill(f32::NEG_INFINITY);
            }
        }
    }

    /// Floats of scratch [`MaxPool2d::planes_into`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.phases_len() + 2 * self.out.0 * self.phase_width()
    }

    /// Pools consecutive planes (`h × w` each) of `x` into `y` and `idx` (`oh × ow` per plane),
    /// writing every value of both.
    pub(crate) fn planes_into(&self, x: &[f32], lanes: &Lanes, scratch: &mut [f32], y: &mut [MaybeUninit<f32>], idx: &mut [MaybeUninit<u32>]) {
        let (hw, ohw) = (self.h * self.w, self.out.0 * self.out.1);
        for ((xp, yp), ip) in x.chunks_exact(hw).zip(y.chunks_exact_mut(ohw)).zip(idx.chunks_exact_mut(ohw)) {
            self.plane(xp, lanes, scratch, yp, ip);
        }
    }

    /// Output and winners of every window over the contiguous f32 data `x`.
    fn run(&self, x: &[f32]) -> candle_core::Result<(Vec<f32>, Vec<u32>)> {
        let (hw, ohw) = (self.h * self.w, self.out.0 * self.out.1);
        if x.len() != self.planes * hw || hw > u32::MAX as usize {
            return Err(candle_core::Error::Msg(format!("max pooling: expected {} planes of {}×{}, got {} values", self.planes, self.h, self.w, x.len())));
        }
        let lanes = self.lane_indices();
        // written in full by `plane` (no zeroing pass first)
        let (mut y, mut idx) = (Vec::with_capacity(self.planes * ohw), Vec::with_capacity(self.planes * ohw));
        let scratch_len = self.scratch_len();
        y.spare_capacity_mut()
            .par_chunks_mut(ohw)
            .zip(idx.spare_capacity_mut().par_chunks_mut(ohw))
            .zip(x.par_chunks(hw))
            .for_each_init(|| vec![0f32; scratch_len], |scratch, ((yp, ip), xp)| self.plane(xp, &lanes, scratch, yp, ip));
        // SAFETY: `plane` wrote every value of every chunk, and the chunks cover both capacities.
        unsafe {
            y.set_len(self.planes * ohw);
            idx.set_len(self.planes * ohw);
        }
        Ok((y, idx))
    }

    fn out_shape(&self) -> Shape {
        Shape::from((self.dims.0, self.dims.1, self.out.0, self.out.1))
    }

    /// Training forward pass: the pooled tensor and the winners [`MaxPool2d::grad_from_winners`] needs.
    pub(crate) fn forward_with_winners(&self, x: &Tensor) -> candle_core::Result<(Tensor, Arc<Vec<u32>>)> {
        let x = x.contiguous()?;
        let (y, idx) = {
            let (storage, layout) = x.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                return Err(candle_core::Error::Msg("max pooling: expected a CPU tensor".into()));
            };
            self.run(contiguous_f32(cpu, layout, "input")?)?
        };
        Ok((Tensor::from_vec(y, self.out_shape(), x.device())?, Arc::new(idx)))
    }

    /// The input gradient from the output gradient and the forward pass's winners: each output
    /// cell's gradient added to its window's winner.
    pub(crate) fn grad_from_winners(&self, winners: &Arc<Vec<u32>>, grad: &Tensor) -> candle_core::Result<Tensor> {
        grad.contiguous()?.apply_op1_no_bwd(&ScatterToWinners { pool: *self, winners: winners.clone() })
    }

    /// [`MaxPool2d::grad_from_winners`] when the pooled input is a ReLU's output: the gradient also
    /// passed back through that ReLU, in the same scatter. `y` is this pooling's output (each
    /// window's maximum, its winner's value: the mask is `y > 0`).
    pub(crate) fn grad_from_winners_through_relu(&self, winners: &Arc<Vec<u32>>, grad: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
        grad.contiguous()?.apply_op2_no_bwd(&y.contiguous()?, &ScatterToPositiveWinners { pool: *self, winners: winners.clone() })
    }

    /// The input gradient for output gradient `grad` (searching the windows again).
    pub(crate) fn grad(&self, x: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2dGrad(*self))
    }
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (y, _) = self.run(contiguous_f32(s, l, "input")?)?;
        Ok((CpuStorage::F32(y), self.out_shape()))
    }
    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.grad(x, grad)?))
    }
}

/// The training forward pass of a ReLU convolution followed by max pooling, image by image: each
/// image's convolution output stays in this thread's cache while it is pooled, instead of the
/// whole batch's going out to memory and being read back (the faces net's first convolution
/// writes 12.8 MB per batch). Returns the pooled tensor and its winners, as
/// [`MaxPool2d::forward_with_winners`] on the convolution's output would; the convolution's
/// output itself is not kept (its ReLU mask is the pooling's, see
/// [`MaxPool2d::grad_from_winners_through_relu`]). With `sums`, also each pooled image's channel
/// sums (see [`super::channel_sums`]) for a batch norm after the pooling. `None` where the
/// AVX-512 kernels do not run.
pub(crate) fn conv_relu_max_pool(g: &super::ConvGeometry, x: &Tensor, w: &Tensor, b: &Tensor, pool: &MaxPool2d, sums: bool) -> candle_core::Result<Option<PooledConv>> {
    if !super::direct::available() {
        return Ok(None);
    }
    let (p, ohw) = (g.oh * g.ow, pool.out.0 * pool.out.1);
    if (pool.planes, pool.h, pool.w) != (g.n * g.cout, g.oh, g.ow) || p > u32::MAX as usize {
        return Err(candle_core::Error::Msg(format!("convolution and pooling: {} planes of {}×{} pooled, the convolution gives {} of {}×{}", pool.planes, pool.h, pool.w, g.n * g.cout, g.oh, g.ow)));
    }
    let (x, w, b) = (x.contiguous()?, w.contiguous()?, b.contiguous()?);
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let (bs, bl) = b.storage_and_layout();
    let (candle_core::Storage::Cpu(xs), candle_core::Storage::Cpu(ws), candle_core::Storage::Cpu(bs)) = (&*xs, &*ws, &*bs) else {
        return Ok(None);
    };
    let (xv, wv, bv) = (contiguous_f32(xs, xl, "input")?, contiguous_f32(ws, wl, "kernel")?, contiguous_f32(bs, bl, "bias")?);
    let image = g.cin * g.h * g.w;
    if xv.len() != g.n * image || wv.len() != g.cout * g.cin * g.kh * g.kw || bv.len() != g.cout {
        return Err(candle_core::Error::Msg(format!("convolution: {} input, {} kernel and {} bias values for {g:?}", xv.len(), wv.len(), bv.len())));
    }
    let forward = super::direct::Forward::new(g, wv, bv, true);
    let lanes = pool.lane_indices();
    let per_image = g.cout * ohw;
    let (mut y, mut idx) = (Vec::with_capacity(g.n * per_image), Vec::with_capacity(g.n * per_image));
    let image_sums: Vec<Vec<(f64, f64)>> = y
        .spare_capacity_mut()
        .par_chunks_mut(per_image)
        .zip(idx.spare_capacity_mut().par_chunks_mut(per_image))
        .enumerate()
        .map(|(i, (yi, ii))| {
            super::with_outer_scratch(g.cout * p, pool.scratch_len(), |conv, scratch| {
                // SAFETY: f32 and MaybeUninit<f32> share a layout; `image` only writes.
                let out = unsafe { &mut *(conv as *mut [f32] as *mut [MaybeUninit<f32>]) };
                forward.image(&xv[i * image..(i + 1) * image], out);
                pool.planes_into(conv, &lanes, scratch, yi, ii);
            });
            // the pooled image's channel sums, for a batch norm after the pooling
            // SAFETY: `planes_into` wrote every value of `yi`.
            if sums {
                super::channel_sums(unsafe { &*(yi as *const [MaybeUninit<f32>] as *const [f32]) }, ohw)
            } else {
                Vec::new()
            }
        })
        .collect();
    // SAFETY: `planes_into` wrote every value of every chunk; the chunks cover both capacities.
    unsafe {
        y.set_len(g.n * per_image);
        idx.set_len(g.n * per_image);
    }
    Ok(Some((Tensor::from_vec(y, pool.out_shape(), x.device())?, Arc::new(idx), sums.then_some(image_sums))))
}

/// What [`conv_relu_max_pool`] returns: the pooled tensor, its winners, and with `sums` the
/// pooled images' channel sums.
pub(crate) type PooledConv = (Tensor, Arc<Vec<u32>>, Option<super::ImageSums>);

/// A max pooling's input gradient (see [`scatter`]), scattered one image at a time for the
/// convolution below the pooling.
struct PooledGrad<'a> {
    pool: &'a MaxPool2d,
    winners: &'a [u32],
    dy: &'a [f32],
    relu_output: Option<&'a [f32]>,
    channels: usize,
}

impl super::direct::OutputGrad for PooledGrad<'_> {
    fn image<'a>(&'a self, i: usize, scratch: &'a mut [f32]) -> &'a [f32] {
        scratch.fill(0.0);
        scatter_planes(self.pool, i * self.channels..(i + 1) * self.channels, self.winners, self.dy, self.relu_output, scratch);
        scratch
    }
}

/// The backward pass of a convolution followed by max pooling, from the pooling's output
/// gradient `grad`: `(dx, dw, db)` of the convolution as [`super::conv2d_grad`] gives them on the
/// pooling's input gradient, with `dx` only when `input_grad`. With `relu` (a ReLU convolution)
/// the gradient also passes back through the ReLU, its mask taken from the pooling's output `y`
/// (see [`MaxPool2d::grad_from_winners_through_relu`]). Image by image, the pooling's gradient is
/// scattered into cache and used there by both convolution gradients, instead of the batch's
/// going out to memory and being read back twice. `None` where the AVX-512 kernels do not run,
/// or for an input gradient at a stride other than 1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_grad_through_max_pool(
    g: &super::ConvGeometry,
    x: &Tensor,
    w: &Tensor,
    pool: &MaxPool2d,
    winners: &[u32],
    grad: &Tensor,
    y: &Tensor,
    relu: bool,
    input_grad: bool,
) -> candle_core::Result<Option<(Option<Tensor>, Tensor, Tensor)>> {
    if !super::direct::available() || (input_grad && !super::direct::input_grad_supported(g)) {
        return Ok(None);
    }
    let ohw = pool.out.0 * pool.out.1;
    if (pool.planes, pool.h, pool.w) != (g.n * g.cout, g.oh, g.ow) || winners.len() != pool.planes * ohw {
        return Err(candle_core::Error::Msg(format!("convolution and pooling gradients: {} planes of {}×{} pooled ({} winners), the convolution gives {} of {}×{}", pool.planes, pool.h, pool.w, winners.len(), g.n * g.cout, g.oh, g.ow)));
    }
    let (x, w, grad, y) = (x.contiguous()?, w.contiguous()?, grad.contiguous()?, y.contiguous()?);
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let (gs, gl) = grad.storage_and_layout();
    let (ys, yl) = y.storage_and_layout();
    let (candle_core::Storage::Cpu(xs), candle_core::Storage::Cpu(ws), candle_core::Storage::Cpu(gs), candle_core::Storage::Cpu(ys)) = (&*xs, &*ws, &*gs, &*ys) else {
        return Ok(None);
    };
    let (xv, wv, gv, yv) = (contiguous_f32(xs, xl, "input")?, contiguous_f32(ws, wl, "kernel")?, contiguous_f32(gs, gl, "output gradient")?, contiguous_f32(ys, yl, "pooled output")?);
    if xv.len() != g.n * g.cin * g.h * g.w || wv.len() != g.cout * g.cin * g.kh * g.kw || gv.len() != pool.planes * ohw || yv.len() != pool.planes * ohw {
        return Err(candle_core::Error::Msg(format!(
            "convolution and pooling gradients: {} input, {} kernel, {} gradient and {} pooled values for {g:?} pooled to {:?}",
            xv.len(),
            wv.len(),
            gv.len(),
            yv.len(),
            pool.out
        )));
    }
    let source = PooledGrad { pool, winners, dy: gv, relu_output: relu.then_some(yv), channels: g.cout };
    let (dx, dw, db) = super::direct::conv_backward(g, xv, &source, input_grad.then_some(wv));
    let dev = x.device();
    let dx = dx.map(|dx| Tensor::from_vec(dx, (g.n, g.cin, g.h, g.w), dev)).transpose()?;
    Ok(Some((dx, Tensor::from_vec(dw, (g.cout, g.cin, g.kh, g.kw), dev)?, Tensor::from_vec(db, g.cout, dev)?)))
}

/// Adds each output gradient to its window's winner, plane by plane. With `relu_output` (the
/// pooling's output, when its input is a ReLU's output), only where that output is positive: a
/// window's maximum is its winner's value, so this is the ReLU's gradient mask, applied here
/// instead of in a pass of its own over every input.
fn scatter(p: &MaxPool2d, winners: &[u32], dy: &[f32], relu_output: Option<&[f32]>) -> Vec<f32> {
    par_build(p.planes * p.h * p.w, p.h * p.w, |plane, dxp| scatter_planes(p, plane..plane + 1, winners, dy, relu_output, dxp))
}

/// [`scatter`] for planes `planes`: adds into `dx` (their `h × w` cells, zero on entry).
pub(crate) fn scatter_planes(p: &MaxPool2d, planes: std::ops::Range<usize>, winners: &[u32], dy: &[f32], relu_output: Option<&[f32]>, dx: &mut [f32]) {
    let (hw, ohw) = (p.h * p.w, p.out.0 * p.out.1);
    for (plane, dxp) in planes.zip(dx.chunks_exact_mut(hw)) {
        let span = plane * ohw..(plane + 1) * ohw;
        let (Some(ip), Some(dyp)) = (winners.get(span.clone()), dy.get(span.clone())) else { return };
        match relu_output.and_then(|y| y.get(span)) {
            Some(yp) => {
                for ((&i, &g), &v) in ip.iter().zip(dyp).zip(yp) {
                    if let Some(d) = dxp.get_mut(i as usize) {
                        // the mask as bits: a branch on the sign mispredicts
                        *d += f32::from_bits(g.to_bits() & ((v > 0.0) as u32).wrapping_neg());
                    }
                }
            }
            None => {
                for (&i, &g) in ip.iter().zip(dyp) {
                    if let Some(d) = dxp.get_mut(i as usize) {
                        *d += g;
                    }
                }
            }
        }
    }
}

/// [`MaxPool2d`]'s gradient from recorded winners.
struct ScatterToWinners {
    pool: MaxPool2d,
    winners: Arc<Vec<u32>>,
}

impl CustomOp1 for ScatterToWinners {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-scatter"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &self.pool;
        let dy = contiguous_f32(s, l, "output gradient")?;
        if dy.len() != self.winners.len() {
            return Err(candle_core::Error::Msg(format!("max pooling gradient: {} values for {} windows", dy.len(), self.winners.len())));
        }
        Ok((CpuStorage::F32(scatter(p, &self.winners, dy, None)), Shape::from((p.dims.0, p.dims.1, p.h, p.w))))
    }
}

/// [`ScatterToWinners`] through the ReLU that produced the pooled input: an op of `(dy, y)`,
/// `y` the pooling's output.
struct ScatterToPositiveWinners {
    pool: MaxPool2d,
    winners: Arc<Vec<u32>>,
}

impl CustomOp2 for ScatterToPositiveWinners {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-relu-scatter"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &self.pool;
        let (dy, y) = (contiguous_f32(s1, l1, "output gradient")?, contiguous_f32(s2, l2, "pooled output")?);
        if dy.len() != self.winners.len() || y.len() != dy.len() {
            return Err(candle_core::Error::Msg(format!("max pooling gradient: {} gradient values and {} outputs for {} windows", dy.len(), y.len(), self.winners.len())));
        }
        Ok((CpuStorage::F32(scatter(p, &self.winners, dy, Some(y))), Shape::from((p.dims.0, p.dims.1, p.h, p.w))))
    }
}

/// The gradient of [`MaxPool2d`] (autograd path): the windows searched again, then the scatter.
struct MaxPool2dGrad(MaxPool2d);

impl CustomOp2 for MaxPool2dGrad {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, dy) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "output gradient")?);
        let (_, winners) = self.0.run(x)?;
        if dy.len() != winners.len() {
            return Err(candle_core::Error::Msg(format!("max pooling gradient: {} values for {} windows", dy.len(), winners.len())));
        }
        Ok((CpuStorage::F32(scatter(&self.0, &winners, dy, None)), l1.shape().clone()))
    }
}
