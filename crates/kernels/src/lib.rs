//! # candlebook-kernels
//!
//! Image filters on candle tensors that reproduce OpenCV's results: the kernels chapter of the
//! tutorials (`cv2.filter2D`, `cv2.GaussianBlur`, `cv2.Canny`, `cv2.resize(..., INTER_AREA)`) plus
//! max/average pooling. Every function takes one image `(C, H, W)` or a whole batch
//! `(N, C, H, W)`, of u8 (0..=255) or f32 pixels, and gives the same rank back.
//!
//! Where the work runs: `filter2d`, `gaussian_blur` and the pooling functions run on the tensor's
//! device (a multi-threaded loop on the CPU, tensor ops on CUDA/Metal); `canny` and `resize_area`
//! run on the host and return their result to the input's device.
//!
//! ## Examples
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use candlebook_kernels::{canny, filter2d, gaussian_blur, resize_area, Border, Kernel2d};
//!
//! // a 3-channel 64x48 test image: a bright square on a dark background
//! let img = Tensor::zeros((3, 48, 64), candle_core::DType::U8, &Device::Cpu)?
//!     .slice_assign(&[0..3, 12..36, 16..48], &Tensor::full(200u8, (3, 24, 32), &Device::Cpu)?)?;
//! let small = resize_area(&img, 32, 24)?;                     // cv2.resize(img, (32, 24), INTER_AREA)
//! let sharp = filter2d(&small, &Kernel2d::sharpen(), Border::default())?; // cv2.filter2D(img, -1, k)
//! let blur = gaussian_blur(&small, (3, 3), 0.0)?;             // cv2.GaussianBlur(img, (3, 3), 0)
//! let edges = canny(&blur, 50.0, 150.0)?;                     // cv2.Canny(blur, 50, 150)
//! assert_eq!(sharp.dims(), &[3, 24, 32]);
//! assert_eq!(edges.dims(), &[1, 24, 32]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod border;
mod canny;
mod convert;
mod error;
mod filter;
mod gaussian;
mod image_ext;
mod layout;
mod pool;
mod resize;

pub use border::Border;
pub use canny::{canny, Canny};
pub use convert::{image_to_tensor, tensor_to_image};
pub use error::{KernelError, Result};
pub use filter::{filter2d, Kernel2d};
pub use gaussian::{gaussian_blur, gaussian_kernel_1d, sigma_for_ksize, GaussianBlur};
pub use image_ext::{map_image, ImageFilters};
pub use pool::{avg_pool, max_pool};
pub use resize::resize_area;

#[doc(hidden)]
pub mod testing {
    //! Entry points for the tests that compare the CPU loops with the device-generic tensor path.
    use candle_core::Tensor;

    use crate::{Border, Kernel2d, Result};

    /// `filter2d` through the tensor-op path even on the CPU.
    pub fn filter2d_tensor_path(x: &Tensor, kernel: &Kernel2d, border: Border) -> Result<Tensor> {
        let kind = crate::layout::pixel_kind(x, "filter2d")?;
        crate::filter::correlate_tensor(x, kernel, border, kind)
    }
}
