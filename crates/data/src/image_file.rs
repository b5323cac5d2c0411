//! Reading image files into tensors.

use std::path::Path;

use candle_core::{Device, Tensor};
use candlebook_kernels::image_to_tensor;

use crate::error::{DataError, Result};

/// Reads a PNG or JPEG file into a `(C, H, W)` u8 tensor (1 channel for gray, 3 for colour, 4 with
/// alpha). The format is taken from the file's content, not its name (some datasets hold PNG data
/// in `.jpg` files).
///
/// ```
/// use candle_core::Device;
/// let dir = std::env::temp_dir().join("candlebook-doc-load-image");
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("red.png");
/// image::RgbImage::from_pixel(5, 4, image::Rgb([255, 0, 0])).save(&path).unwrap();
/// let t = candlebook_data::load_image(&path, &Device::Cpu).unwrap();
/// assert_eq!(t.dims(), &[3, 4, 5]);
/// assert!(candlebook_data::load_image(dir.join("missing.png"), &Device::Cpu).is_err());
/// ```
pub fn load_image(path: impl AsRef<Path>, device: &Device) -> Result<Tensor> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(DataError::NotFound { what: "image file", path: path.to_path_buf() });
    }
    if !path.is_file() {
        return Err(DataError::WrongKind { path: path.to_path_buf(), expected: "file" });
    }
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let reader = image::ImageReader::open(path).map_err(io)?.with_guessed_format().map_err(io)?;
    let img = reader.decode().map_err(|source| DataError::Decode { path: path.to_path_buf(), source })?;
    Ok(image_to_tensor(&img, device)?)
}
