//! Whether two tensors hold the same values: numpy's `np.array_equal(a, b)`.

use candle_core::Tensor;

use crate::error::{DataError, Result};

/// `true` when `a` and `b` have the same shape and every element of one equals the element of the
/// other at the same position (numpy's `np.array_equal`); `false` when the shapes differ or any
/// element does. NaN equals nothing, itself included, so a tensor holding NaN is never the same
/// as another. Tensors on different devices are compared on `a`'s.
///
/// Both must have the same dtype: an `F32` and a `U8` tensor are an error naming both dtypes,
/// not `false` (convert one with `to_dtype` first to compare values across dtypes).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_data::same_values;
/// let dev = Device::Cpu;
/// let a = Tensor::new(&[[1u8, 2], [3, 4]], &dev)?;
/// println!("same pixels: {}", same_values(&a, &a.copy()?)?); // same pixels: true
/// assert!(same_values(&a, &a.copy()?)?);
/// assert!(!same_values(&a, &Tensor::new(&[[1u8, 2], [3, 5]], &dev)?)?);
/// assert!(!same_values(&a, &a.flatten_all()?)?); // same values, other shape
/// assert!(same_values(&a, &a.to_dtype(DType::F32)?).is_err()); // U8 vs F32
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn same_values(a: &Tensor, b: &Tensor) -> Result<bool> {
    if a.dtype() != b.dtype() {
        return Err(DataError::BadArgument(format!(
            "same_values: the tensors have different dtypes ({:?} of shape {:?} vs {:?} of shape {:?}); convert one with to_dtype(..) to compare their values",
            a.dtype(),
            a.dims(),
            b.dtype(),
            b.dims()
        )));
    }
    if a.dims() != b.dims() {
        return Ok(false);
    }
    if a.elem_count() == 0 {
        return Ok(true);
    }
    let b = if a.device().same_device(b.device()) { b.clone() } else { b.to_device(a.device())? };
    // 1 where the elements differ (NaN differs from everything): any 1 makes them unequal
    let differing = a.ne(&b)?.flatten_all()?.max(0)?.to_scalar::<u8>()?;
    Ok(differing == 0)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};

    use super::*;

    #[test]
    fn equal_only_with_every_element_and_the_shape() {
        let dev = Device::Cpu;
        for dtype in [DType::U8, DType::U32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64] {
            let a = Tensor::arange(0u32, 24, &dev).unwrap().reshape((2, 3, 4)).unwrap().to_dtype(dtype).unwrap();
            assert!(same_values(&a, &a.copy().unwrap()).unwrap(), "{dtype:?}");
            // a non-contiguous view with the same values
            let t = a.transpose(0, 2).unwrap().contiguous().unwrap().transpose(0, 2).unwrap();
            assert!(!t.is_contiguous());
            assert!(same_values(&a, &t).unwrap(), "{dtype:?} transposed view");
            // one element differs: the last one
            let mut v = a.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap();
            *v.last_mut().unwrap() += 1.0;
            let b = Tensor::from_vec(v, (2, 3, 4), &dev).unwrap().to_dtype(dtype).unwrap();
            assert!(!same_values(&a, &b).unwrap(), "{dtype:?}");
            assert!(!same_values(&a, &a.reshape((4, 3, 2)).unwrap()).unwrap(), "{dtype:?} reshaped");
        }
    }

    #[test]
    fn nan_differs_and_dtypes_must_match() {
        let dev = Device::Cpu;
        let a = Tensor::new(&[1f32, f32::NAN], &dev).unwrap();
        assert!(!same_values(&a, &a).unwrap());
        let e = same_values(&Tensor::new(&[1u8], &dev).unwrap(), &Tensor::new(&[1f32], &dev).unwrap()).unwrap_err();
        assert!(matches!(&e, DataError::BadArgument(m) if m.contains("U8") && m.contains("F32")), "{e:?}");
        let empty = Tensor::zeros((0, 3), DType::F32, &dev).unwrap();
        assert!(same_values(&empty, &empty.copy().unwrap()).unwrap());
        assert!(!same_values(&empty, &Tensor::zeros((3, 0), DType::F32, &dev).unwrap()).unwrap());
        assert!(same_values(&Tensor::new(7i64, &dev).unwrap(), &Tensor::new(7i64, &dev).unwrap()).unwrap());
    }
}
