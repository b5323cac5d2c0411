//! Fast CPU training kernels as candle custom ops (forward and backward): convolution, max
//! pooling, batch normalisation and ReLU. The layers use them for contiguous f32 tensors on the
//! CPU; every other device keeps candle's own ops (and cuDNN where built with it).

mod adam;
mod conv;
mod direct;
mod norm;
mod pool;

pub(crate) use adam::{adam_in_place, AdamMoments, AdamStep};
pub(crate) use conv::{conv2d_grad, conv_forward_with_sums, Conv2dForward, ConvGeometry, ReluMask};
pub(crate) use norm::{batch_norm_grad, batch_norm_train_given, channel_sums, conv_grad_through_batch_norm, ImageSums, batch_norm_inference, batch_norm_train, Stats};
pub(crate) use pool::{conv_grad_through_max_pool, conv_relu_max_pool, MaxPool2d};

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

/// The f32 data behind a contiguous layout, or an error naming the operand.
pub(crate) fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(all) = s else {
        return Err(candle_core::Error::Msg(format!("{what}: expected f32 data, got {:?}", candle_core::backend::BackendStorage::dtype(s))));
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => Err(candle_core::Error::Msg(format!("{what}: expected a contiguous tensor"))),
    }
}

/// Runs `f` on the f32 data of contiguous CPU tensors (in the order given); `None` when one is
/// on another device.
pub(crate) fn with_cpu_f32<R>(tensors: &[&Tensor], f: impl FnOnce(&[&[f32]]) -> R) -> candle_core::Result<Option<R>> {
    let guards: Vec<_> = tensors.iter().map(|t| t.storage_and_layout()).collect();
    let mut data = Vec::with_capacity(guards.len());
    for (i, (storage, layout)) in guards.iter().enumerate() {
        let candle_core::Storage::Cpu(cpu) = &**storage else { return Ok(None) };
        data.push(contiguous_f32(cpu, layout, &format!("operand {i}"))?);
    }
    Ok(Some(f(&data)))
}

/// A read-only matrix view: base pointer, row stride, column stride (in elements).
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Mat {
    pub fn of(data: &[f32], rs: isize, cs: isize) -> Self {
        Mat { ptr: data.as_ptr(), rs, cs }
    }
}

/// A writable matrix view.
#[derive(Clone, Copy)]
pub(crate) struct MatMut {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, single-threaded (callers parallelise over images).
///
/// Callers guarantee that the views lie inside their buffers: every caller derives the strides
/// from the same geometry that sized the buffers.
pub(crate) fn gemm_f32(m: usize, n: usize, k: usize, dst: MatMut, accumulate: bool, lhs: Mat, rhs: Mat) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: see above; `dst` does not alias `lhs`/`rhs` (distinct buffers at every call site).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.ptr,
            dst.cs,
            dst.rs,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// An `n`-float vector built on the rayon pool `chunk` floats at a time: each chunk is zeroed
/// just before `fill(chunk_index, chunk)` runs on it, while it is in cache, instead of a separate
/// memset pass over the whole buffer first.
pub(crate) fn par_build(n: usize, chunk: usize, fill: impl Fn(usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    v.spare_capacity_mut().par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| {
        for x in c.iter_mut() {
            x.write(0.0);
        }
        // SAFETY: every element of `c` was initialised just above; MaybeUninit<f32> has f32's layout.
        let c = unsafe { &mut *(c as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
        fill(i, c);
    });
    // SAFETY: the chunks cover the whole capacity and each was initialised above.
    unsafe { v.set_len(n) };
    v
}

/// An `n`-float vector built on the rayon pool `chunk` floats at a time by `fill`, with no
/// zeroing first (unlike [`par_build`]).
///
/// # Safety
/// `fill` must write every element of the chunk it is given.
pub(crate) unsafe fn par_build_written(n: usize, chunk: usize, fill: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync + Send) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    v.spare_capacity_mut().par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| fill(i, c));
    // SAFETY: the chunks cover the whole capacity and `fill` initialises each (its contract).
    unsafe { v.set_len(n) };
    v
}

thread_local! {
    /// Per-thread work buffers of the convolution kernels (im2col blocks and stride phases), kept
    /// between calls: allocating and zeroing them for every rayon job cost a memset per image.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// The same for fused operations whose steps use [`SCRATCH`] themselves (a convolution's
    /// output held for the pooling after it).
    static OUTER_SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's two scratch buffers, at least `a` and `b` floats long (contents
/// left over from earlier calls: callers overwrite what they read).
pub(crate) fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    scratch_from(&SCRATCH, a, b, f)
}

/// [`with_scratch`] with a second pair of buffers, for code that calls kernels using the first.
pub(crate) fn with_outer_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    scratch_from(&OUTER_SCRATCH, a, b, f)
}

fn scratch_from<R>(key: &'static std::thread::LocalKey<std::cell::RefCell<(Vec<f32>, Vec<f32>)>>, a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let (x, y) = &mut *bufs;
            if x.len() < a {
                x.resize(a, 0.0);
            }
            if y.len() < b {
                y.resize(b, 0.0);
            }
            f(&mut x[..a], &mut y[..b])
        }
        // re-entered on this thread (a kernel inside a kernel): fresh buffers
        Err(_) => f(&mut vec![0f32; a], &mut vec![0f32; b]),
    })
}

/// Lanes and block length of the reductions below: f32 sums in 16 independent lanes over blocks
/// of 256 values (vectorised, and exact enough over so few terms), each block's total then added
/// in f64. A single running sum would be a chain of dependent adds, one per 4 cycles; f64 lanes
/// are only two wide on baseline x86-64.
const LANES: usize = 16;
const BLOCK: usize = 256;

/// `Σ f(i)` over `0..n` for an f32 term, blocked as described at [`LANES`].
#[inline(always)]
fn blocked_sum(n: usize, f: impl Fn(usize) -> f32) -> f64 {
    let mut total = 0f64;
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let mut acc = [0f32; LANES];
        let mut i = start;
        while i + LANES <= end {
            for (l, a) in acc.iter_mut().enumerate() {
                *a += f(i + l);
            }
            i += LANES;
        }
        let mut block = acc.iter().map(|&a| a as f64).sum::<f64>();
        for j in i..end {
            block += f(j) as f64;
        }
        total += block;
        start = end;
    }
    total
}

/// `Σ x` in f64.
pub(crate) fn sum_f64(x: &[f32]) -> f64 {
    blocked_sum(x.len(), |i| x[i])
}

/// `Σ (x - mean)²`.
pub(crate) fn sum_sq_dev_f64(x: &[f32], mean: f64) -> f64 {
    let m = mean as f32;
    blocked_sum(x.len(), |i| (x[i] - m) * (x[i] - m))
}

/// `(Σ g, Σ g · x̂)` with `x̂ = (x - mean) · rstd`, in one pass over `g` and `x` (blocked as
/// [`blocked_sum`]).
pub(crate) fn sum_grad_and_dot_f64(g: &[f32], x: &[f32], mean: f32, rstd: f32) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if direct::available() {
        // SAFETY: AVX-512F is present (`available`).
        return unsafe { sum_grad_and_dot_avx512(g, x, mean, rstd, None) };
    }
    sum_grad_and_dot_with(g, x, mean, rstd, |_, g| g)
}

/// [`sum_grad_and_dot_f64`] (or, with `relu`, [`sum_grad_and_dot_relu_f64`]) with AVX-512: the
/// same sixteen lanes and blocks, each lane's terms computed and added in the same order (a
/// multiply then an add, no fused multiply-add), so the same sums, a whole vector at a time (the
/// baseline build left the lane loop scalar).
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_grad_and_dot_avx512(g: &[f32], x: &[f32], mean: f32, rstd: f32, relu: Option<(f32, f32)>) -> (f64, f64) {
    use std::arch::x86_64::*;
    const _: () = assert!(LANES == 16);
    let n = g.len().min(x.len());
    let (vmean, vrstd) = (_mm512_set1_ps(mean), _mm512_set1_ps(rstd));
    let vrelu = relu.map(|(scale, shift)| (_mm512_set1_ps(scale), _mm512_set1_ps(shift)));
    let grad = |x: f32, g: f32| match relu {
        Some((scale, shift)) => f32::from_bits(g.to_bits() & ((x * scale + shift > 0.0) as u32).wrapping_neg()),
        None => g,
    };
    let (mut total_g, mut total_dot) = (0f64, 0f64);
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (mut acc_g, mut acc_dot) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = start;
        while i + LANES <= end {
            // SAFETY: i + 16 <= end <= n, within both slices.
            let xv = _mm512_loadu_ps(x.as_ptr().add(i));
            let mut gv = _mm512_loadu_ps(g.as_ptr().add(i));
            if let Some((scale, shift)) = vrelu {
                let on = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_add_ps(_mm512_mul_ps(xv, scale), shift), _mm512_setzero_ps());
                gv = _mm512_maskz_mov_ps(on, gv);
            }
            acc_g = _mm512_add_ps(acc_g, gv);
            acc_dot = _mm512_add_ps(acc_dot, _mm512_mul_ps(gv, _mm512_mul_ps(_mm512_sub_ps(xv, vmean), vrstd)));
            i += LANES;
        }
        let (mut lanes_g, mut lanes_dot) = ([0f32; LANES], [0f32; LANES]);
        _mm512_storeu_ps(lanes_g.as_mut_ptr(), acc_g);
        _mm512_storeu_ps(lanes_dot.as_mut_ptr(), acc_dot);
        let (mut block_g, mut block_dot) = (lanes_g.iter().map(|&a| a as f64).sum::<f64>(), lanes_dot.iter().map(|&a| a as f64).sum::<f64>());
        for j in i..end {
            let gl = grad(x[j], g[j]);
            block_g += gl as f64;
            block_dot += (gl * ((x[j] - mean) * rstd)) as f64;
        }
        total_g += block_g;
        total_dot += block_dot;
        start = end;
    }
    (total_g, total_dot)
}

/// [`sum_grad_and_dot_f64`] for a batch norm followed by a ReLU: `g` counts only where the
/// batch norm's output `x · scale + shift` is positive (the ReLU's mask, recomputed from `x`
/// exactly as the forward pass computed the output).
pub(crate) fn sum_grad_and_dot_relu_f64(g: &[f32], x: &[f32], mean: f32, rstd: f32, (scale, shift): (f32, f32)) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if direct::available() {
        // SAFETY: AVX-512F is present (`available`).
        return unsafe { sum_grad_and_dot_avx512(g, x, mean, rstd, Some((scale, shift))) };
    }
    sum_grad_and_dot_with(g, x, mean, rstd, |x, g| f32::from_bits(g.to_bits() & ((x * scale + shift > 0.0) as u32).wrapping_neg()))
}

#[inline(always)]
fn sum_grad_and_dot_with(g: &[f32], x: &[f32], mean: f32, rstd: f32, grad: impl Fn(f32, f32) -> f32) -> (f64, f64) {
    let n = g.len().min(x.len());
    let (g, x) = (&g[..n], &x[..n]);
    let (mut total_g, mut total_dot) = (0f64, 0f64);
    for (gb, xb) in g.chunks(BLOCK).zip(x.chunks(BLOCK)) {
        let (mut acc_g, mut acc_dot) = ([0f32; LANES], [0f32; LANES]);
        let (gc, xc) = (gb.chunks_exact(LANES), xb.chunks_exact(LANES));
        let (gr, xr) = (gc.remainder(), xc.remainder());
        for (gv, xv) in gc.zip(xc) {
            for l in 0..LANES {
                let gl = grad(xv[l], gv[l]);
                acc_g[l] += gl;
                acc_dot[l] += gl * ((xv[l] - mean) * rstd);
            }
        }
        let (mut block_g, mut block_dot) = (acc_g.iter().map(|&a| a as f64).sum::<f64>(), acc_dot.iter().map(|&a| a as f64).sum::<f64>());
        for (&gv, &xv) in gr.iter().zip(xr) {
            let gl = grad(xv, gv);
            block_g += gl as f64;
            block_dot += (gl * ((xv - mean) * rstd)) as f64;
        }
        total_g += block_g;
        total_dot += block_dot;
    }
    (total_g, total_dot)
}

/// `Σ x` in f32 with independent lanes.
pub(crate) fn sum_f32(x: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..16 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// TensorFlow's ReLU of one value, `std::max(x, 0)`: `x < 0 ? 0 : x`, so NaN stays NaN (Rust's
/// `f32::max(x, 0.0)` returns 0 for NaN, which made NaN inputs train silently). On x86 this is one
/// `maxps` with the operands in that order.
#[inline(always)]
pub(crate) fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// ReLU whose gradient is computed from its output in one pass. NaN propagates (see [`relu`]).
pub(crate) struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "candlebook-relu"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "input")?;
        let y = par_build(x.len(), 1 << 14, |i, y| {
            y.iter_mut().zip(&x[i << 14..]).for_each(|(y, &x)| *y = relu(x));
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }
    fn bwd(&self, _x: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op2_no_bwd(res, &ReluMask)?))
    }
}

/// The environment variable that picks the CPU's kernels (the data crate's, shared so that one
/// setting switches training and augmentation alike): unset, this crate's own (AVX-512 where the
/// CPU has it); `portable`, its portable kernels; `generic`, none of them — the CPU then takes the
/// device path, the same candle ops, autograd and optimiser code that a CUDA or Metal device runs
/// (how the tests check that path without a GPU). Read once per process here.
pub use candlebook_data::CPU_KERNELS_ENV;

/// False when [`CPU_KERNELS_ENV`] is `generic`: the CPU takes the device path.
pub fn fast_cpu_kernels() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var(CPU_KERNELS_ENV).map_or(true, |v| v != "generic"))
}

/// True when the fast CPU kernels apply to `x`.
pub(crate) fn applies(x: &Tensor) -> bool {
    let yes = fast_cpu_kernels() && x.device().is_cpu() && x.dtype() == candle_core::DType::F32;
    if yes {
        keep_freed_memory();
    }
    yes
}

/// Training allocates and frees the same large activation buffers every step. glibc hands blocks
/// over 32 MiB straight back to the kernel and maps fresh ones, so each step pays page faults and
/// TLB shootdowns on every buffer (~15% of a step on the CIFAR CNN). Raising the mmap and trim
/// thresholds once keeps those blocks in the heap for reuse.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator thresholds; valid at any time.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 1);
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
                libc::mallopt(libc::M_TOP_PAD, 64 << 20);
            }
        });
    }
}

/// Makes every CPU thread that trains flush subnormal floats to zero (x86's FTZ and DAZ flags), as
/// TensorFlow does on its CPU threads. Late in training, gradients and Adam's second moments of
/// large dense kernels sink below f32's normal range, and each arithmetic operation on a subnormal
/// takes a microcode assist: the fingers notebook's Dense(128) network slowed from 7 s to 40 s per
/// epoch after its fourth epoch. Sets the calling thread every time (the flags are per thread), and
/// once per process candle's worker pool and the rayon pools that run the GEMMs.
pub(crate) fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        set_flush_denormals_here();
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            candle_core::utils::barrier_pool().execute(|_| set_flush_denormals_here());
            rayon::broadcast(|_| set_flush_denormals_here());
            candle_core::utils::with_threadpool(|| rayon::broadcast(|_| set_flush_denormals_here()));
        });
    }
}

/// FTZ (bit 15) and DAZ (bit 6) in this thread's MXCSR.
#[cfg(target_arch = "x86_64")]
fn set_flush_denormals_here() {
    #[allow(deprecated)]
    // SAFETY: SSE is baseline on x86_64; the two bits only change how subnormals are handled.
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x8040);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    /// The AVX-512 batch-norm gradient sums equal the portable ones bit for bit (lengths with and
    /// without a remainder, several blocks, with and without the ReLU mask).
    #[test]
    fn avx512_gradient_sums_equal_the_portable_ones() {
        if !super::direct::available() {
            return;
        }
        let mut rng = crate::sequential::SplitMix(7);
        for n in [0usize, 5, 16, 64, 255, 256, 257, 1024, 1000] {
            let g: Vec<f32> = (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
            let x: Vec<f32> = (0..n).map(|_| rng.next_f32() * 3.0 - 1.0).collect();
            for relu in [None, Some((0.8f32, -0.3f32))] {
                let portable = match relu {
                    None => super::sum_grad_and_dot_with(&g, &x, 0.4, 1.7, |_, g| g),
                    Some((scale, shift)) => super::sum_grad_and_dot_with(&g, &x, 0.4, 1.7, |x, g| f32::from_bits(g.to_bits() & ((x * scale + shift > 0.0) as u32).wrapping_neg())),
                };
                // SAFETY: checked above.
                let fast = unsafe { super::sum_grad_and_dot_avx512(&g, &x, 0.4, 1.7, relu) };
                assert_eq!(fast, portable, "n = {n}, relu = {relu:?}");
            }
        }
    }

    #[test]
    fn fused_convolution_and_pooling_equal_the_two_steps() {
        use candle_core::{Device, Tensor};
        let dev = Device::Cpu;
        // the faces net's first pair in small (stride 4, 3×3/2 `same` pooling) and a 5×5 one
        for (n, cin, h, cout, k, stride, pad) in [(3, 3, 37, 16, 11, 4, 4), (2, 5, 14, 32, 5, 1, 2)] {
            let oh = (h + 2 * pad - k) / stride + 1;
            let g = super::ConvGeometry { n, cin, h, w: h, cout, kh: k, kw: k, sy: stride, sx: stride, pad_top: pad, pad_left: pad, oh, ow: oh };
            let x = Tensor::randn(0f32, 1f32, (n, cin, h, h), &dev).unwrap();
            let w = Tensor::randn(0f32, 0.2f32, (cout, cin, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 0.1f32, cout, &dev).unwrap();
            let pool = crate::ops::max_pool_op_for(n, cout, oh, oh, (3, 3), (2, 2), crate::spec::Padding::Same).unwrap();
            let Some((fused, fused_winners, sums)) = super::conv_relu_max_pool(&g, &x, &w, &b, &pool, true).unwrap() else {
                assert!(!super::direct::available(), "the fused kernels run with AVX-512");
                continue;
            };
            let conv = x.apply_op3_no_bwd(&w, &b, &super::Conv2dForward { geom: g, relu: true }).unwrap();
            let (two_step, winners) = pool.forward_with_winners(&conv).unwrap();
            assert_eq!(fused.dims(), two_step.dims());
            assert_eq!(fused.flatten_all().unwrap().to_vec1::<f32>().unwrap(), two_step.flatten_all().unwrap().to_vec1::<f32>().unwrap(), "pooled values");
            assert_eq!(*fused_winners, *winners, "winners");
            // the per-image channel sums, and the batch statistics from them
            let pooled = two_step.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let s = pool.out.0 * pool.out.1;
            let want: Vec<Vec<(f64, f64)>> = pooled.chunks(cout * s).map(|img| super::channel_sums(img, s)).collect();
            let sums = sums.expect("sums were asked for");
            assert_eq!(sums, want);
            let stats = super::Stats::from_image_sums(&sums, n, cout, s, 1e-3).unwrap();
            let direct = super::Stats::compute(&pooled, n, cout, s, 1e-3);
            for ch in 0..cout {
                assert!((stats.mean[ch] - direct.mean[ch]).abs() <= 1e-6 * (1.0 + direct.mean[ch].abs()), "mean {ch}");
                assert!((stats.var[ch] - direct.var[ch]).abs() <= 1e-5 * (1e-3 + direct.var[ch].abs()), "var {ch}: {} vs {}", stats.var[ch], direct.var[ch]);
            }
        }
        // a pooling that does not fit the convolution is an error, not a panic
        let g = super::ConvGeometry { n: 1, cin: 1, h: 8, w: 8, cout: 2, kh: 3, kw: 3, sy: 1, sx: 1, pad_top: 1, pad_left: 1, oh: 8, ow: 8 };
        let pool = crate::ops::max_pool_op_for(1, 3, 8, 8, (2, 2), (2, 2), crate::spec::Padding::Valid).unwrap();
        let (x, w, b) = (Tensor::zeros((1, 1, 8, 8), candle_core::DType::F32, &dev).unwrap(), Tensor::zeros((2, 1, 3, 3), candle_core::DType::F32, &dev).unwrap(), Tensor::zeros(2, candle_core::DType::F32, &dev).unwrap());
        if super::direct::available() {
            assert!(super::conv_relu_max_pool(&g, &x, &w, &b, &pool, false).is_err());
        }
    }

    /// NaN inputs through the fused ReLU convolution + max pooling give what the two steps give
    /// (the convolution's ReLU keeps NaN, the pooling skips it or floors an all-NaN window at
    /// `f32::MIN`), with the same winners; at strides 1, 2 and unequal ones.
    #[test]
    fn fused_convolution_and_pooling_treat_nan_as_the_two_steps() {
        use candle_core::{Device, Tensor};
        let dev = Device::Cpu;
        for (sy, sx) in [(1, 1), (2, 2), (2, 1)] {
            let (n, cin, h, cout, k) = (2usize, 2usize, 12usize, 16usize, 3usize);
            let (oh, ow) = (h.div_ceil(sy), h.div_ceil(sx));
            let pad = |s: usize, o: usize| ((o - 1) * s + k).saturating_sub(h) / 2;
            let g = super::ConvGeometry { n, cin, h, w: h, cout, kh: k, kw: k, sy, sx, pad_top: pad(sy, oh), pad_left: pad(sx, ow), oh, ow };
            let mut xv = Tensor::randn(0f32, 1f32, (n, cin, h, h), &dev).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            // one NaN pixel in the first image, a whole NaN plane in the second
            xv[5 * h + 6] = f32::NAN;
            xv[(cin + 1) * h * h..(cin + 2) * h * h].fill(f32::NAN);
            let x = Tensor::from_vec(xv, (n, cin, h, h), &dev).unwrap();
            let w = Tensor::randn(0f32, 0.3f32, (cout, cin, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 0.1f32, cout, &dev).unwrap();
            let pool = crate::ops::max_pool_op_for(n, cout, oh, ow, (2, 2), (2, 2), crate::spec::Padding::Same).unwrap();
            let conv = x.apply_op3_no_bwd(&w, &b, &super::Conv2dForward { geom: g, relu: true }).unwrap();
            let conv_values = conv.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(conv_values.iter().any(|v| v.is_nan()), "the ReLU convolution keeps NaN");
            let (two_step, winners) = pool.forward_with_winners(&conv).unwrap();
            let bits = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let pooled = two_step.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(pooled.iter().all(|v| !v.is_nan()) && pooled.contains(&f32::MIN), "pooling skips NaN, floors all-NaN windows");
            let Some((fused, fused_winners, _)) = super::conv_relu_max_pool(&g, &x, &w, &b, &pool, false).unwrap() else {
                assert!(!super::direct::available(), "the fused kernels run with AVX-512");
                continue;
            };
            assert_eq!(bits(&fused), bits(&two_step), "strides ({sy}, {sx}): pooled values");
            assert_eq!(*fused_winners, *winners, "strides ({sy}, {sx}): winners");
        }
    }

    #[test]
    fn subnormal_results_are_flushed_on_training_threads() {
        use rayon::prelude::*;
        super::flush_denormals();
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        assert_eq!(std::hint::black_box(tiny) / 4.0, 0.0, "calling thread");
        let pool: Vec<f32> = (0..64).into_par_iter().map(|_| std::hint::black_box(tiny) / 4.0).collect();
        assert!(pool.iter().all(|&v| v == 0.0), "rayon threads");
    }

    #[test]
    fn lane_reductions_match_plain_sums() {
        let x: Vec<f32> = (0..1003).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
        let g: Vec<f32> = (0..1003).map(|i| ((i * 11 % 17) as f32 - 8.0) * 0.1).collect();
        let plain: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((super::sum_f64(&x) - plain).abs() < 1e-5);
        let mean = plain / x.len() as f64;
        let sq: f64 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
        assert!((super::sum_sq_dev_f64(&x, mean) - sq).abs() < 1e-4 * sq);
        let (m, r) = (mean as f32, 1.7f32);
        let sd: f64 = g.iter().map(|&v| v as f64).sum();
        let sdx: f64 = g.iter().zip(&x).map(|(&g, &v)| g as f64 * ((v - m) * r) as f64).sum();
        let (a, b) = super::sum_grad_and_dot_f64(&g, &x, m, r);
        assert!((a - sd).abs() < 1e-4 && (b - sdx).abs() < 1e-4, "{a} vs {sd}, {b} vs {sdx}");
        let plain32: f32 = x.iter().sum();
        assert!((super::sum_f32(&x) - plain32).abs() < 1e-3);
    }
}
