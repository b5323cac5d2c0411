//! Area-interpolated resize, as OpenCV's `cv2.resize(..., interpolation=cv2.INTER_AREA)`.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::error::{KernelError, Result};
use crate::layout::{pixel_kind, Batch, Pixel};

/// One weighted source index of an output index (OpenCV's `DecimateAlpha`).
#[derive(Debug, Clone, Copy)]
struct Tap {
    dst: usize,
    src: usize,
    alpha: f32,
}

/// OpenCV's `computeResizeAreaTab`: for each output index, the source indices it covers and the
/// fraction of the output cell each covers.
fn area_taps(ssize: usize, dsize: usize, scale: f64) -> Vec<Tap> {
    let mut tab = Vec::with_capacity(ssize * 2);
    for dx in 0..dsize {
        let fsx1 = dx as f64 * scale;
        let fsx2 = fsx1 + scale;
        let cell = scale.min(ssize as f64 - fsx1);
        let mut sx1 = fsx1.ceil() as isize;
        let mut sx2 = fsx2.floor() as isize;
        sx2 = sx2.min(ssize as isize - 1);
        sx1 = sx1.min(sx2);
        if sx1 as f64 - fsx1 > 1e-3 {
            tab.push(Tap { dst: dx, src: (sx1 - 1) as usize, alpha: ((sx1 as f64 - fsx1) / cell) as f32 });
        }
        for sx in sx1..sx2 {
            tab.push(Tap { dst: dx, src: sx as usize, alpha: (1.0 / cell) as f32 });
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            let a = (fsx2 - sx2 as f64).min(1.0).min(cell) / cell;
            tab.push(Tap { dst: dx, src: sx2 as usize, alpha: a as f32 });
        }
    }
    tab
}

/// Resizes an image `(C, H, W)` or batch `(N, C, H, W)` to `width × height` as OpenCV's
/// `cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)`.
///
/// Shrinking averages each output cell's source area (fractional weights at the cell edges, f32
/// sums, round half to even; integer factors use OpenCV's exact block mean). Enlarging (in either
/// direction) follows OpenCV's INTER_AREA upscaling rule: linear interpolation whose weights snap to
/// the nearest source pixel except across pixel boundaries, in 11-bit fixed point for u8.
/// u8 and f32 images; the work runs on the host (images in parallel) and the result goes back to
/// the input's device.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_kernels::resize_area;
/// let img = Tensor::new(&[[[0u8, 2, 4, 6], [2, 4, 6, 8]]], &Device::Cpu).unwrap();
/// let small = resize_area(&img, 2, 1).unwrap();
/// assert_eq!(small.to_vec3::<u8>().unwrap(), vec![vec![vec![2, 6]]]);
/// ```
pub fn resize_area(image: &Tensor, width: usize, height: usize) -> Result<Tensor> {
    if width == 0 || height == 0 {
        return Err(KernelError::EmptyTarget { width, height });
    }
    let batch = Batch::new(image)?;
    let kind = pixel_kind(&batch.x, "resize_area")?;
    let (n, c, h, w) = batch.dims();
    let device = batch.x.device().clone();
    let host = batch.x.to_device(&Device::Cpu)?;
    let planes = n * c;
    let src: Vec<f32> = host.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let scale_x = w as f64 / width as f64;
    let scale_y = h as f64 / height as f64;
    let out: Vec<f32> = if scale_x >= 1.0 && scale_y >= 1.0 {
        let (ix, iy) = (scale_x.round() as usize, scale_y.round() as usize);
        let fast = (scale_x - ix as f64).abs() < f64::EPSILON && (scale_y - iy as f64).abs() < f64::EPSILON;
        if fast {
            block_mean(&src, planes, (h, w), (height, width), (iy, ix), kind)
        } else {
            area_general(&src, planes, (h, w), (height, width), (scale_y, scale_x), kind)
        }
    } else {
        area_upscale(&src, planes, c, (h, w), (height, width), kind)
    };
    let y = Tensor::from_vec(out, (n, c, height, width), &Device::Cpu)?;
    let y = match kind {
        Pixel::U8 => y.to_dtype(DType::U8)?,
        Pixel::F32 => y,
    };
    batch.finish(y.to_device(&device)?)
}

/// OpenCV's `resizeAreaFast`: the mean of each `iy × ix` block. For u8, 2×2 blocks round half up
/// (`(a + b + c + d + 2) >> 2`, OpenCV's vector path); other sizes multiply by `1 / area` in f32
/// and round half to even.
fn block_mean(
    src: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (dh, dw): (usize, usize),
    (iy, ix): (usize, usize),
    kind: Pixel,
) -> Vec<f32> {
    let area = iy * ix;
    let scale = 1.0f32 / area as f32;
    let mut out = vec![0f32; planes * dh * dw];
    out.par_chunks_mut(dh * dw).zip(src.par_chunks(h * w)).for_each(|(dst, plane)| {
        for y in 0..dh {
            for x in 0..dw {
                let mut sum = 0f32;
                for by in 0..iy {
                    let row = &plane[(y * iy + by) * w + x * ix..][..ix];
                    for &v in row {
                        sum += v;
                    }
                }
                dst[y * dw + x] = match kind {
                    Pixel::U8 if area == 4 => ((sum as u32 + 2) >> 2) as f32,
                    Pixel::U8 => (sum * scale).round_ties_even().clamp(0.0, 255.0),
                    Pixel::F32 => sum * scale,
                };
            }
        }
    });
    out
}

/// OpenCV's `resizeArea` for non-integer shrink factors: per output row, weighted source rows,
/// each first summed horizontally with its column weights (f32, OpenCV's order).
fn area_general(
    src: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    (dh, dw): (usize, usize),
    (scale_y, scale_x): (f64, f64),
    kind: Pixel,
) -> Vec<f32> {
    let xtab = area_taps(w, dw, scale_x);
    let ytab = area_taps(h, dh, scale_y);
    let mut out = vec![0f32; planes * dh * dw];
    out.par_chunks_mut(dh * dw).zip(src.par_chunks(h * w)).for_each(|(dst, plane)| {
        let mut buf = vec![0f32; dw];
        let mut sum = vec![0f32; dw];
        let mut prev_dy: Option<usize> = None;
        let emit = |dy: usize, sum: &[f32], dst: &mut [f32]| {
            for (d, &s) in dst[dy * dw..(dy + 1) * dw].iter_mut().zip(sum) {
                *d = match kind {
                    Pixel::U8 => s.round_ties_even().clamp(0.0, 255.0),
                    Pixel::F32 => s,
                };
            }
        };
        for t in &ytab {
            let row = &plane[t.src * w..(t.src + 1) * w];
            buf.fill(0.0);
            for xt in &xtab {
                buf[xt.dst] += row[xt.src] * xt.alpha;
            }
            match prev_dy {
                Some(p) if p == t.dst => {
                    for (s, &b) in sum.iter_mut().zip(&buf) {
                        *s += t.alpha * b;
                    }
                }
                _ => {
                    if let Some(p) = prev_dy {
                        emit(p, &sum, dst);
                    }
                    for (s, &b) in sum.iter_mut().zip(&buf) {
                        *s = t.alpha * b;
                    }
                    prev_dy = Some(t.dst);
                }
            }
        }
        if let Some(p) = prev_dy {
            emit(p, &sum, dst);
        }
    });
    out
}

/// Source index and weight of the next pixel for OpenCV's INTER_AREA upscaling along one axis.
fn upscale_axis(ssize: usize, dsize: usize) -> Vec<(usize, f32)> {
    let scale = ssize as f64 / dsize as f64;
    let inv = dsize as f64 / ssize as f64;
    (0..dsize)
        .map(|d| {
            let mut s = (d as f64 * scale).floor() as isize;
            let mut f = ((d + 1) as f64 - (s + 1) as f64 * inv) as f32;
            f = if f <= 0.0 { 0.0 } else { f - f.floor() };
            if s < 0 {
                s = 0;
                f = 0.0;
            }
            if s as usize >= ssize - 1 {
                s = ssize as isize - 1;
                f = 0.0;
            }
            (s as usize, f)
        })
        .collect()
}

/// Width in u8 elements of the vector loop of OpenCV's vertical linear pass
/// (`VResizeLinearVec_32s8u`, SSE registers in the pip builds): whole blocks of `VEC` elements, then
/// one block of `VEC / 2` if it fits; the rest of the row goes through the scalar code, which
/// rounds differently.
const VEC: usize = 16;

/// INTER_AREA when enlarging: bilinear interpolation with OpenCV's area weights. u8 follows
/// OpenCV's fixed-point arithmetic (11-bit coefficients; the vector and scalar roundings of the
/// vertical pass, chosen per element as OpenCV's loop does on interleaved rows); f32 uses the float
/// weights.
#[allow(clippy::too_many_arguments)]
fn area_upscale(
    src: &[f32],
    planes: usize,
    channels: usize,
    (h, w): (usize, usize),
    (dh, dw): (usize, usize),
    kind: Pixel,
) -> Vec<f32> {
    let xs = upscale_axis(w, dw);
    let ys = upscale_axis(h, dh);
    const ONE: f32 = 2048.0;
    let fixed = |f: f32| -> (i32, i32) { (((1.0 - f) * ONE).round_ties_even() as i32, (f * ONE).round_ties_even() as i32) };
    let row_elems = dw * channels;
    let vec_end = {
        let mut x = 0;
        while x + VEC <= row_elems {
            x += VEC;
        }
        if x + VEC / 2 <= row_elems {
            x += VEC / 2;
        }
        x
    };
    let mut out = vec![0f32; planes * dh * dw];
    out.par_chunks_mut(dh * dw).zip(src.par_chunks(h * w)).enumerate().for_each(|(p, (dst, plane))| {
        let ch = p % channels;
        let px = |y: usize, x: usize| plane[y * w + x];
        for (dy, &(sy, fy)) in ys.iter().enumerate() {
            let sy1 = (sy + 1).min(h - 1);
            let (b0, b1) = fixed(fy);
            for (dx, &(sx, fx)) in xs.iter().enumerate() {
                let sx1 = (sx + 1).min(w - 1);
                dst[dy * dw + dx] = match kind {
                    Pixel::U8 => {
                        let (a0, a1) = if sx + 1 >= w { (ONE as i32, 0) } else { fixed(fx) };
                        let r0 = px(sy, sx) as i32 * a0 + px(sy, sx1) as i32 * a1;
                        let r1 = px(sy1, sx) as i32 * a0 + px(sy1, sx1) as i32 * a1;
                        let v = if dx * channels + ch < vec_end {
                            let hi = |s: i32, b: i32| (((s >> 4) as i16 as i32) * b) >> 16;
                            (hi(r0, b0) + hi(r1, b1) + 2) >> 2
                        } else {
                            (r0 * b0 + r1 * b1 + (1 << 21)) >> 22
                        };
                        v.clamp(0, 255) as f32
                    }
                    Pixel::F32 => {
                        let r0 = px(sy, sx) * (1.0 - fx) + px(sy, sx1) * fx;
                        let r1 = px(sy1, sx) * (1.0 - fx) + px(sy1, sx1) * fx;
                        r0 * (1.0 - fy) + r1 * fy
                    }
                };
            }
        }
    });
    out
}
