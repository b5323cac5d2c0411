//! Conversions between `image` buffers and `(C, H, W)` u8 tensors.

use candle_core::{DType, Device, Tensor};
use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

use crate::error::{KernelError, Result};

/// Turns an `image` buffer into a `(C, H, W)` u8 tensor: 1 channel for gray images, 3 for RGB,
/// 4 for images with alpha. 16-bit and float images are converted to 8-bit first.
///
/// ```
/// use candle_core::Device;
/// use candlebook_kernels::image_to_tensor;
/// let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 2));
/// let t = image_to_tensor(&img, &Device::Cpu).unwrap();
/// assert_eq!(t.dims(), &[3, 2, 4]);
/// ```
pub fn image_to_tensor(img: &DynamicImage, device: &Device) -> Result<Tensor> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (c, raw) = if img.color().has_alpha() {
        (4, img.to_rgba8().into_raw())
    } else if img.color().channel_count() == 1 {
        (1, img.to_luma8().into_raw())
    } else {
        (3, img.to_rgb8().into_raw())
    };
    let hwc = Tensor::from_vec(raw, (h, w, c), device)?;
    Ok(hwc.permute((2, 0, 1))?.contiguous()?)
}

/// Turns a `(C, H, W)` tensor (C = 1, 3 or 4) back into an `image` buffer. u8 values are taken as
/// they are; f32 values are taken as 0..=1 intensities (as matplotlib does for RGB) and clipped.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_kernels::tensor_to_image;
/// let t = Tensor::zeros((1, 2, 3), candle_core::DType::U8, &Device::Cpu).unwrap();
/// let img = tensor_to_image(&t).unwrap();
/// assert_eq!((img.width(), img.height()), (3, 2));
/// ```
pub fn tensor_to_image(t: &Tensor) -> Result<DynamicImage> {
    let dims = t.dims().to_vec();
    let t = match dims.len() {
        2 => t.unsqueeze(0)?,
        3 => t.clone(),
        4 if dims[0] == 1 => t.squeeze(0)?,
        _ => return Err(KernelError::BadShape(dims)),
    };
    let (c, h, w) = t.dims3()?;
    let t = match t.dtype() {
        DType::U8 => t,
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            t.to_dtype(DType::F32)?.clamp(0f32, 1f32)?.affine(255.0, 0.0)?.round()?.to_dtype(DType::U8)?
        }
        other => {
            return Err(KernelError::BadDType {
                op: "tensor_to_image",
                expected: "u8 or float",
                got: format!("{other:?}"),
            })
        }
    };
    let raw = t.permute((1, 2, 0))?.flatten_all()?.to_vec1::<u8>()?;
    let (w32, h32) = (w as u32, h as u32);
    let img = match c {
        1 => GrayImage::from_raw(w32, h32, raw).map(DynamicImage::ImageLuma8),
        3 => RgbImage::from_raw(w32, h32, raw).map(DynamicImage::ImageRgb8),
        4 => RgbaImage::from_raw(w32, h32, raw).map(DynamicImage::ImageRgba8),
        _ => return Err(KernelError::BadChannels { op: "tensor_to_image", expected: "1, 3 or 4", got: c }),
    };
    img.ok_or(KernelError::BadShape(dims))
}
