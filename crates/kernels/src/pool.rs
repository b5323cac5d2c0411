//! Max and average pooling of images (downsampling), e.g. 128×128 → 32×32 with a 4×4 window.

use candle_core::{DType, Tensor};

use crate::error::{KernelError, Result};
use crate::layout::{pixel_kind, saturate_u8_half_even, Batch, Pixel};

fn check(batch: &Batch, window: usize, stride: usize) -> Result<()> {
    let (_, _, h, w) = batch.dims();
    if window == 0 || stride == 0 || window > h || window > w {
        return Err(KernelError::BadPool { window, stride, height: h, width: w });
    }
    Ok(())
}

/// Max pooling with a `window × window` window and the given stride (no padding), on the tensor's
/// device. Keeps the dtype (u8 or f32).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let img = Tensor::new(&[[[1u8, 2, 3, 4], [5, 6, 7, 8]]], &Device::Cpu).unwrap();
/// let p = candlebook_kernels::max_pool(&img, 2, 2).unwrap();
/// assert_eq!(p.to_vec3::<u8>().unwrap(), vec![vec![vec![6, 8]]]);
/// ```
pub fn max_pool(image: &Tensor, window: usize, stride: usize) -> Result<Tensor> {
    let batch = Batch::new(image)?;
    check(&batch, window, stride)?;
    let kind = pixel_kind(&batch.x, "max_pool")?;
    let y = batch.x.to_dtype(DType::F32)?.max_pool2d_with_stride(window, stride)?;
    let y = match kind {
        Pixel::U8 => y.to_dtype(DType::U8)?,
        Pixel::F32 => y,
    };
    batch.finish(y)
}

/// Average pooling with a `window × window` window and the given stride (no padding), on the
/// tensor's device. u8 means are rounded half to even.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let img = Tensor::new(&[[[1u8, 2, 3, 4], [5, 6, 7, 9]]], &Device::Cpu).unwrap();
/// let p = candlebook_kernels::avg_pool(&img, 2, 2).unwrap();
/// assert_eq!(p.to_vec3::<u8>().unwrap(), vec![vec![vec![4, 6]]]);
/// ```
pub fn avg_pool(image: &Tensor, window: usize, stride: usize) -> Result<Tensor> {
    let batch = Batch::new(image)?;
    check(&batch, window, stride)?;
    let kind = pixel_kind(&batch.x, "avg_pool")?;
    let y = batch.x.to_dtype(DType::F32)?.avg_pool2d_with_stride(window, stride)?;
    let y = match kind {
        Pixel::U8 => saturate_u8_half_even(&y)?,
        Pixel::F32 => y,
    };
    batch.finish(y)
}
