//! Gaussian blur with OpenCV's `GaussianBlur` semantics, bit-exact on 8-bit images.

use candle_core::{DType, Device, Tensor};

use crate::border::Border;
use crate::error::{KernelError, Result};
use crate::filter::{correlate_planes, correlate_tensor, Kernel2d};
use crate::layout::{pixel_kind, with_host_slice, Batch, Pixel};

/// OpenCV's fixed kernels for `sigma <= 0` and ksize 1, 3, 5, 7.
const SMALL_GAUSSIAN: [&[f64]; 4] = [
    &[1.0],
    &[0.25, 0.5, 0.25],
    &[0.0625, 0.25, 0.375, 0.25, 0.0625],
    &[0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
];

/// The sigma OpenCV derives from the kernel size when sigma is 0: `0.3 * ((ksize - 1) / 2 - 1) + 0.8`.
///
/// ```
/// assert!((candlebook_kernels::sigma_for_ksize(3) - 0.8).abs() < 1e-12);
/// assert!((candlebook_kernels::sigma_for_ksize(5) - 1.1).abs() < 1e-12);
/// ```
pub fn sigma_for_ksize(ksize: usize) -> f64 {
    0.3 * ((ksize as f64 - 1.0) * 0.5 - 1.0) + 0.8
}

/// The 1-D Gaussian kernel as `cv2.getGaussianKernel(ksize, sigma)` returns it (normalised to sum 1;
/// the fixed tables for ksize 1/3/5/7 when sigma <= 0).
///
/// ```
/// let k = candlebook_kernels::gaussian_kernel_1d(3, 0.0);
/// assert_eq!(k, vec![0.25, 0.5, 0.25]);
/// ```
pub fn gaussian_kernel_1d(ksize: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 && ksize % 2 == 1 && ksize <= 7 {
        return SMALL_GAUSSIAN[ksize / 2].to_vec();
    }
    let s = if sigma > 0.0 { sigma } else { sigma_for_ksize(ksize) };
    let scale = -0.5 / (s * s);
    let raw: Vec<f64> = (0..ksize)
        .map(|i| {
            let x = i as f64 - (ksize as f64 - 1.0) * 0.5;
            (scale * x * x).exp()
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|v| v / sum).collect()
}

/// The kernel of OpenCV's bit-exact 8-bit path: the Gaussian (computed as OpenCV's
/// `getGaussianKernelBitExact`, symmetric halves) rounded to 8 fractional bits (`ufixedpoint16`).
/// Returns the weights in units of 1/256.
fn gaussian_kernel_fixed(ksize: usize, sigma: f64) -> Vec<u32> {
    let real = if sigma <= 0.0 && ksize % 2 == 1 && ksize <= 7 {
        SMALL_GAUSSIAN[ksize / 2].to_vec()
    } else {
        let s = if sigma > 0.0 { sigma } else { ksize as f64 * 0.15 + 0.35 };
        let scale = -0.125 / (s * s);
        let half = (ksize - 1) / 2;
        let values: Vec<f64> = (0..half)
            .map(|i| {
                let x = 2 * i as i64 + 1 - ksize as i64;
                ((x * x) as f64 * scale).exp()
            })
            .collect();
        let mut sum = values.iter().sum::<f64>() * 2.0 + 1.0;
        if ksize % 2 == 0 {
            sum += 1.0;
        }
        let mul = 1.0 / sum;
        let mut k = vec![0.0; ksize];
        for (i, v) in values.iter().enumerate() {
            k[i] = v * mul;
            k[ksize - 1 - i] = v * mul;
        }
        k[half] = mul;
        if ksize % 2 == 0 {
            k[half + 1] = mul;
        }
        k
    };
    if real.len() % 2 == 0 {
        return real.iter().map(|v| (v * 256.0).round_ties_even().clamp(0.0, 65535.0) as u32).collect();
    }
    // OpenCV's `getGaussianKernelFixedPoint_ED`: round the outer taps with error diffusion from the
    // edge inwards; the centre takes what is left, so the weights sum to exactly 256.
    let half = real.len() / 2;
    let mut fixed = vec![0u32; real.len()];
    let mut err = 0.0f64;
    let mut sum = 0i64;
    for i in 0..half {
        let adj = real[i] * 256.0 + err;
        let v = adj.round_ties_even();
        err = adj - v;
        fixed[i] = v.max(0.0) as u32;
        fixed[real.len() - 1 - i] = fixed[i];
        sum += 2 * v as i64;
    }
    fixed[half] = (256 - sum).max(0) as u32;
    fixed
}

/// Gaussian blur settings, as the arguments of `cv2.GaussianBlur(src, ksize, sigmaX, sigmaY, borderType)`.
///
/// A side of `ksize` may be 0 when its sigma is positive: it is then derived from sigma as OpenCV does.
/// A sigma of 0 is derived from the kernel size (`sigma_for_ksize`); `sigma_y` of 0 takes `sigma_x`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_kernels::GaussianBlur;
/// let img = Tensor::new(&[[[0u8, 0, 0], [0, 160, 0], [0, 0, 0]]], &Device::Cpu).unwrap();
/// let blurred = GaussianBlur::new((3, 3), 0.0).apply(&img).unwrap();
/// // centre weight 0.5 * 0.5 = 1/4 of 160
/// assert_eq!(blurred.to_vec3::<u8>().unwrap()[0][1][1], 40);
/// assert!(GaussianBlur::new((4, 4), 0.0).apply(&img).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianBlur {
    /// Kernel width and height (odd), as in `cv2.GaussianBlur(img, (w, h), ...)`.
    pub ksize: (usize, usize),
    /// Standard deviation along x; 0 derives it from the width.
    pub sigma_x: f64,
    /// Standard deviation along y; 0 takes `sigma_x`.
    pub sigma_y: f64,
    /// Border mode (OpenCV's default: `Reflect101`).
    pub border: Border,
}

impl GaussianBlur {
    /// `cv2.GaussianBlur(img, ksize, sigma)`.
    pub fn new(ksize: (usize, usize), sigma: f64) -> Self {
        Self { ksize, sigma_x: sigma, sigma_y: 0.0, border: Border::Reflect101 }
    }

    /// Sets sigma along y.
    pub fn sigma_y(mut self, sigma_y: f64) -> Self {
        self.sigma_y = sigma_y;
        self
    }

    /// Sets the border mode.
    pub fn border(mut self, border: Border) -> Self {
        self.border = border;
        self
    }

    /// Resolves ksize and sigmas the way OpenCV does, or says what is wrong.
    fn resolve(&self, u8_input: bool) -> Result<((usize, f64), (usize, f64))> {
        for s in [self.sigma_x, self.sigma_y] {
            if !s.is_finite() || s < 0.0 {
                return Err(KernelError::InvalidSigma(s));
            }
        }
        let sx = self.sigma_x;
        let sy = if self.sigma_y > 0.0 { self.sigma_y } else { sx };
        let factor = if u8_input { 3.0 } else { 4.0 };
        let derive = |k: usize, s: f64| {
            if k == 0 && s > 0.0 {
                ((s * factor * 2.0 + 1.0).round_ties_even() as usize) | 1
            } else {
                k
            }
        };
        let (kw, kh) = (derive(self.ksize.0, sx), derive(self.ksize.1, sy));
        if kw == 0 || kh == 0 || kw % 2 == 0 || kh % 2 == 0 {
            return Err(KernelError::InvalidKsize { width: self.ksize.0, height: self.ksize.1 });
        }
        Ok(((kw, sx), (kh, sy)))
    }

    /// Blurs an image `(C, H, W)` or a batch `(N, C, H, W)` on its device. u8 images follow
    /// OpenCV's bit-exact fixed-point path (weights with 8 fractional bits, rounding half up);
    /// f32 images use the float kernels of `getGaussianKernel`.
    pub fn apply(&self, image: &Tensor) -> Result<Tensor> {
        let batch = Batch::new(image)?;
        let kind = pixel_kind(&batch.x, "gaussian_blur")?;
        let ((kw, sx), (kh, sy)) = self.resolve(kind == Pixel::U8)?;
        let (row, col) = match kind {
            Pixel::U8 => {
                let fx: Vec<f32> = gaussian_kernel_fixed(kw, sx).iter().map(|&v| v as f32 / 256.0).collect();
                let fy: Vec<f32> = gaussian_kernel_fixed(kh, sy).iter().map(|&v| v as f32 / 256.0).collect();
                (fx, fy)
            }
            Pixel::F32 => {
                let f = |k: usize, s: f64| gaussian_kernel_1d(k, s).iter().map(|&v| v as f32).collect::<Vec<_>>();
                (f(kw, sx), f(kh, sy))
            }
        };
        let kx = Kernel2d::from_rows([row])?;
        let ky = Kernel2d::from_rows(col.iter().map(|&v| [v]))?;
        let y = if batch.x.device().is_cpu() {
            blur_cpu(&batch.x, &kx, &ky, self.border, kind)?
        } else {
            blur_tensor(&batch.x, &kx, &ky, self.border, kind)?
        };
        batch.finish(y)
    }
}

/// The largest value of OpenCV's 8.8 fixed-point intermediate (`ufixedpoint16`).
const FIXED16_MAX: f32 = 65535.0 / 256.0;

fn blur_cpu(x: &Tensor, kx: &Kernel2d, ky: &Kernel2d, border: Border, kind: Pixel) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let shape = (n, c, h, w);
    Ok(match kind {
        Pixel::U8 => {
            let mid = with_host_slice::<u8, _>(x, |src| correlate_planes(src, (h, w), kx, border, |v| v.min(FIXED16_MAX)))?;
            let out = correlate_planes(&mid, (h, w), ky, border, |v| (v + 0.5).floor().min(255.0) as u8);
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
        Pixel::F32 => {
            let mid = with_host_slice::<f32, _>(x, |src| correlate_planes(src, (h, w), kx, border, |v| v))?;
            let out = correlate_planes(&mid, (h, w), ky, border, |v| v);
            Tensor::from_vec(out, shape, &Device::Cpu)?
        }
    })
}

fn blur_tensor(x: &Tensor, kx: &Kernel2d, ky: &Kernel2d, border: Border, kind: Pixel) -> Result<Tensor> {
    let mid = correlate_tensor(x, kx, border, Pixel::F32)?;
    Ok(match kind {
        Pixel::U8 => {
            let mid = mid.clamp(0f32, FIXED16_MAX)?;
            let out = correlate_tensor(&mid, ky, border, Pixel::F32)?;
            out.affine(1.0, 0.5)?.floor()?.clamp(0f32, 255f32)?.to_dtype(DType::U8)?
        }
        Pixel::F32 => correlate_tensor(&mid, ky, border, Pixel::F32)?,
    })
}

/// `cv2.GaussianBlur(image, ksize, sigma)` on an image `(C, H, W)` or a batch `(N, C, H, W)`.
///
/// ```
/// use candle_core::{Device, Tensor, DType};
/// let img = Tensor::full(100u8, (3, 8, 8), &Device::Cpu).unwrap();
/// let out = candlebook_kernels::gaussian_blur(&img, (5, 5), 0.0).unwrap();
/// assert_eq!(out.dims(), &[3, 8, 8]);
/// ```
pub fn gaussian_blur(image: &Tensor, ksize: (usize, usize), sigma: f64) -> Result<Tensor> {
    GaussianBlur::new(ksize, sigma).apply(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_kernels_match_opencv() {
        // Read off cv2.GaussianBlur on a one-row impulse (OpenCV 4.12 / 5.0).
        assert_eq!(gaussian_kernel_fixed(7, 1.5), vec![9, 29, 55, 70, 55, 29, 9]);
        assert_eq!(gaussian_kernel_fixed(9, 0.0), vec![4, 13, 30, 51, 60, 51, 30, 13, 4]);
        assert_eq!(gaussian_kernel_fixed(3, 0.0), vec![64, 128, 64]);
    }
}
