//! Canny edge detection, reproducing OpenCV's `cv2.Canny` on 8-bit images.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::error::{KernelError, Result};
use crate::layout::Batch;

/// Canny settings, as `cv2.Canny(image, threshold1, threshold2, apertureSize=3, L2gradient=False)`.
///
/// Steps (all as OpenCV does them): 3×3 Sobel derivatives with replicated borders; per pixel, the
/// channel with the largest gradient magnitude; magnitude `|dx| + |dy|` (or the Euclidean norm with
/// `l2_gradient`); non-maximum suppression along the gradient direction quantised to 0°, 45°, 90°,
/// 135°; hysteresis: pixels above `high` start edges, which grow through 8-connected pixels above
/// `low`. The output is one channel, 255 on edges and 0 elsewhere.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_kernels::Canny;
/// // a vertical step edge
/// let rows: Vec<Vec<u8>> = (0..6).map(|_| vec![0, 0, 0, 200, 200, 200]).collect();
/// let img = Tensor::new(rows, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
/// let edges = Canny::new(50.0, 150.0).apply(&img).unwrap();
/// let row = &edges.to_vec3::<u8>().unwrap()[0][2];
/// assert_eq!(row.iter().filter(|&&v| v == 255).count(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canny {
    /// Lower hysteresis threshold (`threshold1`).
    pub low: f64,
    /// Upper hysteresis threshold (`threshold2`).
    pub high: f64,
    /// Use the Euclidean gradient norm instead of `|dx| + |dy|`.
    pub l2_gradient: bool,
}

impl Canny {
    /// `cv2.Canny(image, low, high)` with the L1 gradient.
    pub fn new(low: f64, high: f64) -> Self {
        Self { low, high, l2_gradient: false }
    }

    /// Uses the Euclidean norm of the gradient (`L2gradient=True`).
    pub fn l2_gradient(mut self, on: bool) -> Self {
        self.l2_gradient = on;
        self
    }

    /// Runs on an 8-bit image `(C, H, W)` or batch `(N, C, H, W)` and gives `(1, H, W)` or
    /// `(N, 1, H, W)` edge maps on the input's device. The per-pixel work runs on the host,
    /// images in parallel: hysteresis is a sequential flood fill.
    pub fn apply(&self, image: &Tensor) -> Result<Tensor> {
        let (low, high) = (self.low, self.high);
        if !low.is_finite() || !high.is_finite() || low < 0.0 || high < 0.0 {
            return Err(KernelError::InvalidThreshold { low, high });
        }
        let batch = Batch::new(image)?;
        if batch.x.dtype() != DType::U8 {
            return Err(KernelError::BadDType {
                op: "Canny",
                expected: "u8",
                got: format!("{:?}", batch.x.dtype()),
            });
        }
        let (n, c, h, w) = batch.dims();
        let device = batch.x.device().clone();
        let src = batch.x.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<u8>()?;
        let (mut lo, mut hi) = (low, high);
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        let (lo, hi) = if self.l2_gradient {
            // OpenCV compares squared magnitudes against squared thresholds (capped at 32767^2).
            let cap = 32767.0f64;
            let (lo, hi) = (lo.min(cap), hi.min(cap));
            ((lo * lo).floor() as i64, (hi * hi).floor() as i64)
        } else {
            (lo.floor() as i64, hi.floor() as i64)
        };
        let l2 = self.l2_gradient;
        let mut out = vec![0u8; n * h * w];
        out.par_chunks_mut(h * w)
            .zip(src.par_chunks(c * h * w))
            .for_each(|(dst, img)| canny_one(img, c, h, w, lo, hi, l2, dst));
        let edges = Tensor::from_vec(out, (n, 1, h, w), &Device::Cpu)?.to_device(&device)?;
        batch.finish(edges)
    }
}

/// `cv2.Canny(image, low, high)`: see [`Canny`].
pub fn canny(image: &Tensor, low: f64, high: f64) -> Result<Tensor> {
    Canny::new(low, high).apply(image)
}

/// Sobel derivatives of one channel with BORDER_REPLICATE, as i32.
fn sobel(plane: &[u8], h: usize, w: usize, dx: &mut [i32], dy: &mut [i32]) {
    let at = |y: isize, x: isize| -> i32 {
        let yy = y.clamp(0, h as isize - 1) as usize;
        let xx = x.clamp(0, w as isize - 1) as usize;
        plane[yy * w + xx] as i32
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let (tl, t, tr) = (at(y - 1, x - 1), at(y - 1, x), at(y - 1, x + 1));
            let (l, r) = (at(y, x - 1), at(y, x + 1));
            let (bl, b, br) = (at(y + 1, x - 1), at(y + 1, x), at(y + 1, x + 1));
            let i = y as usize * w + x as usize;
            dx[i] = (tr + 2 * r + br) - (tl + 2 * l + bl);
            dy[i] = (bl + 2 * b + br) - (tl + 2 * t + tr);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn canny_one(img: &[u8], c: usize, h: usize, w: usize, low: i64, high: i64, l2: bool, dst: &mut [u8]) {
    let plane = h * w;
    let mut dx = vec![0i32; plane];
    let mut dy = vec![0i32; plane];
    let mut mag = vec![0i64; plane];
    let (mut cdx, mut cdy) = (vec![0i32; plane], vec![0i32; plane]);
    let norm = |a: i32, b: i32| -> i64 {
        if l2 {
            a as i64 * a as i64 + b as i64 * b as i64
        } else {
            (a.abs() + b.abs()) as i64
        }
    };
    for ch in 0..c {
        sobel(&img[ch * plane..(ch + 1) * plane], h, w, &mut cdx, &mut cdy);
        for i in 0..plane {
            let m = norm(cdx[i], cdy[i]);
            // The first channel wins ties: OpenCV keeps the earlier channel unless strictly larger.
            if ch == 0 || m > mag[i] {
                mag[i] = m;
                dx[i] = cdx[i];
                dy[i] = cdy[i];
            }
        }
    }
    // Magnitude with a zero frame, so neighbours outside the image read as 0.
    let mag_at = |y: isize, x: isize| -> i64 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0
        } else {
            mag[y as usize * w + x as usize]
        }
    };
    // Map: 0 = may be an edge, 1 = not an edge, 2 = edge.
    let mut map = vec![1u8; plane];
    let mut stack: Vec<usize> = Vec::new();
    const SHIFT: i64 = 15;
    let tg22 = (0.414_213_562_373_095_05_f64 * (1 << SHIFT) as f64 + 0.5) as i64;
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            let m = mag[i];
            if m <= low {
                continue;
            }
            let (xs, ys) = (dx[i] as i64, dy[i] as i64);
            let ax = xs.abs();
            let ay = ys.abs() << SHIFT;
            let tg22x = ax * tg22;
            let is_max = if ay < tg22x {
                m > mag_at(y, x - 1) && m >= mag_at(y, x + 1)
            } else {
                let tg67x = tg22x + (ax << (SHIFT + 1));
                if ay > tg67x {
                    m > mag_at(y - 1, x) && m >= mag_at(y + 1, x)
                } else {
                    let s: isize = if (xs ^ ys) < 0 { -1 } else { 1 };
                    m > mag_at(y - 1, x - s) && m > mag_at(y + 1, x + s)
                }
            };
            if is_max {
                if m > high {
                    map[i] = 2;
                    stack.push(i);
                } else {
                    map[i] = 0;
                }
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (y, x) = ((i / w) as isize, (i % w) as isize);
        for (oy, ox) in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)] {
            let (ny, nx) = (y + oy, x + ox);
            if ny < 0 || nx < 0 || ny >= h as isize || nx >= w as isize {
                continue;
            }
            let j = ny as usize * w + nx as usize;
            if map[j] == 0 {
                map[j] = 2;
                stack.push(j);
            }
        }
    }
    for (d, &m) in dst.iter_mut().zip(&map) {
        *d = if m == 2 { 255 } else { 0 };
    }
}
