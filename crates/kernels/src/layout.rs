//! Shapes and element types of image tensors: `(C, H, W)` for one image, `(N, C, H, W)` for a batch.

use candle_core::{DType, Tensor};

use crate::error::{KernelError, Result};

/// A tensor seen as a batch `(N, C, H, W)`, remembering whether it came in as a single image.
pub(crate) struct Batch {
    pub x: Tensor,
    pub single: bool,
}

impl Batch {
    /// Accepts `(C, H, W)` or `(N, C, H, W)` with non-empty height and width.
    pub fn new(x: &Tensor) -> Result<Self> {
        let dims = x.dims().to_vec();
        let (x, single) = match dims.len() {
            3 => (x.unsqueeze(0)?, true),
            4 => (x.clone(), false),
            _ => return Err(KernelError::BadShape(dims)),
        };
        let (_, c, h, w) = x.dims4()?;
        if h == 0 || w == 0 || c == 0 {
            return Err(KernelError::EmptyImage(dims));
        }
        Ok(Self { x, single })
    }

    pub fn dims(&self) -> (usize, usize, usize, usize) {
        let d = self.x.dims();
        (d[0], d[1], d[2], d[3])
    }

    /// Gives the result back in the caller's rank.
    pub fn finish(&self, y: Tensor) -> Result<Tensor> {
        Ok(if self.single { y.squeeze(0)? } else { y })
    }
}

/// The two element types images come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pixel {
    U8,
    F32,
}

pub(crate) fn pixel_kind(x: &Tensor, op: &'static str) -> Result<Pixel> {
    match x.dtype() {
        DType::U8 => Ok(Pixel::U8),
        DType::F32 => Ok(Pixel::F32),
        other => Err(KernelError::BadDType { op, expected: "u8 or f32", got: format!("{other:?}") }),
    }
}

/// Rounds half to even (OpenCV's `cvRound`, used by `saturate_cast<uchar>(float)`), then clamps to
/// 0..=255 and converts to u8.
pub(crate) fn saturate_u8_half_even(x: &Tensor) -> Result<Tensor> {
    let rounded = x.round()?;
    let floor = x.floor()?;
    let frac = (x - &floor)?;
    let tie = frac.eq(0.5)?;
    let even = (x.affine(0.5, 0.0)?.round()?.affine(2.0, 0.0))?;
    let r = tie.where_cond(&even, &rounded)?;
    Ok(r.clamp(0f32, 255f32)?.to_dtype(DType::U8)?)
}

/// Runs `f` on the elements of a CPU tensor in row-major order, borrowing the storage of a
/// contiguous tensor (no copy: copying a 60,000-image batch cost more than filtering it) and
/// copying otherwise.
pub(crate) fn with_host_slice<T, R>(x: &Tensor, f: impl FnOnce(&[T]) -> R) -> Result<R>
where
    T: candle_core::WithDType,
{
    {
        let (storage, layout) = x.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            let all = cpu.as_slice::<T>()?;
            return Ok(f(&all[start..end]));
        }
    }
    let v = x.flatten_all()?.to_vec1::<T>()?;
    Ok(f(&v))
}
