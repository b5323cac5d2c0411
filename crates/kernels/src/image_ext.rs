//! The same filters on single `image` buffers, for code that works with the `image` crate.

use candle_core::{Device, Tensor};
use image::DynamicImage;

use crate::border::Border;
use crate::canny::Canny;
use crate::convert::{image_to_tensor, tensor_to_image};
use crate::error::Result;
use crate::filter::{filter2d, Kernel2d};
use crate::gaussian::GaussianBlur;
use crate::resize::resize_area;

/// Runs a tensor filter on one `image` buffer (on the CPU) and gives an `image` buffer back.
pub fn map_image(img: &DynamicImage, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<DynamicImage> {
    let t = image_to_tensor(img, &Device::Cpu)?;
    tensor_to_image(&f(&t)?)
}

/// The kernels crate's filters as methods of `image::DynamicImage`.
///
/// ```
/// use candlebook_kernels::{ImageFilters, Kernel2d};
/// let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 6, image::Rgb([90, 120, 200])));
/// let small = img.resize_area(4, 3).unwrap();
/// assert_eq!((small.width(), small.height()), (4, 3));
/// let sharp = img.filter2d(&Kernel2d::sharpen()).unwrap();
/// assert_eq!(sharp.to_rgb8().get_pixel(2, 2).0, [90, 120, 200]);
/// let edges = img.gaussian_blur((3, 3), 0.0).unwrap().canny(50.0, 150.0).unwrap();
/// assert_eq!(edges.color(), image::ColorType::L8);
/// ```
pub trait ImageFilters {
    /// [`filter2d`] with OpenCV's default border.
    fn filter2d(&self, kernel: &Kernel2d) -> Result<DynamicImage>;
    /// [`crate::gaussian_blur`].
    fn gaussian_blur(&self, ksize: (usize, usize), sigma: f64) -> Result<DynamicImage>;
    /// [`crate::canny`].
    fn canny(&self, low: f64, high: f64) -> Result<DynamicImage>;
    /// [`resize_area`].
    fn resize_area(&self, width: usize, height: usize) -> Result<DynamicImage>;
}

impl ImageFilters for DynamicImage {
    fn filter2d(&self, kernel: &Kernel2d) -> Result<DynamicImage> {
        map_image(self, |t| filter2d(t, kernel, Border::default()))
    }
    fn gaussian_blur(&self, ksize: (usize, usize), sigma: f64) -> Result<DynamicImage> {
        map_image(self, |t| GaussianBlur::new(ksize, sigma).apply(t))
    }
    fn canny(&self, low: f64, high: f64) -> Result<DynamicImage> {
        map_image(self, |t| Canny::new(low, high).apply(t))
    }
    fn resize_area(&self, width: usize, height: usize) -> Result<DynamicImage> {
        map_image(self, |t| resize_area(t, width, height))
    }
}
