//! What a tensor holds at a glance: its shape, dtype, smallest and largest value and mean, for a
//! notebook's "x_train (50000, 3, 32, 32) float32, values 0.0 to 1.0" line.

use std::fmt;

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use crate::error::{DataError, Result};

/// Elements converted to f64 at a time: bounds the extra memory for a dataset-sized tensor.
const CHUNK: usize = 1 << 20;

/// Count, NaN count, min, max and sum of a tensor's values, in one pass.
#[derive(Debug, Clone, Copy)]
struct Scan {
    count: usize,
    nan: usize,
    min: f64,
    max: f64,
    sum: f64,
}

impl Scan {
    const EMPTY: Scan = Scan { count: 0, nan: 0, min: f64::INFINITY, max: f64::NEG_INFINITY, sum: 0.0 };

    fn merge(self, o: Scan) -> Scan {
        Scan { count: self.count + o.count, nan: self.nan + o.nan, min: self.min.min(o.min), max: self.max.max(o.max), sum: self.sum + o.sum }
    }

    fn of(t: &Tensor) -> Result<Scan> {
        let flat = t.flatten_all()?;
        let n = flat.elem_count();
        (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| -> Result<Scan> {
                let start = c * CHUNK;
                let values = flat.narrow(0, start, CHUNK.min(n - start))?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
                let mut s = Scan::EMPTY;
                for v in values {
                    if v.is_nan() {
                        s.nan += 1;
                    } else {
                        s.count += 1;
                        s.min = s.min.min(v);
                        s.max = s.max.max(v);
                        s.sum += v;
                    }
                }
                Ok(s)
            })
            .try_reduce(|| Scan::EMPTY, |a, b| Ok(a.merge(b)))
    }
}

/// The smallest and largest value of a tensor of any dtype (u8, u32, i64, f16, bf16, f32, f64)
/// and shape, as f64: numpy's `(x.min(), x.max())`.
///
/// An empty tensor, or one holding NaN, is an error that says so (numpy would return NaN);
/// [`TensorSummary::of`] describes such tensors, NaN count included.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::value_range;
/// let images = Tensor::new(&[[[0u8, 128], [255, 3]]], &Device::Cpu)?;
/// assert_eq!(value_range(&images)?, (0.0, 255.0));
/// let (lo, hi) = value_range(&(images.to_dtype(candle_core::DType::F32)? / 255.0)?)?;
/// println!("values {lo} to {hi}"); // values 0 to 1
/// assert_eq!((lo, hi), (0.0, 1.0));
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn value_range(t: &Tensor) -> Result<(f64, f64)> {
    let s = Scan::of(t)?;
    if t.elem_count() == 0 {
        return Err(DataError::BadArgument(format!("value_range: the tensor of shape {:?} holds no values", t.dims())));
    }
    if s.nan > 0 {
        return Err(DataError::BadArgument(format!(
            "value_range: the {:?} tensor of shape {:?} holds {} NaN among its {} values, so it has no range; TensorSummary::of(..) counts them",
            t.dtype(),
            t.dims(),
            s.nan,
            t.elem_count()
        )));
    }
    Ok((s.min, s.max))
}

/// A tensor's shape, dtype, value range and mean; prints as
/// `shape [50000, 3, 32, 32] F32, values 0 to 1, mean 0.4733` (with `, 12 NaN` when it holds NaN,
/// `no values` when it is empty).
///
/// Range and mean leave NaN out and count them in [`nan_count`](Self::nan_count); both are `None`
/// when nothing else is left. Works for every dtype; the values are read in chunks, so a
/// dataset-sized tensor needs little extra memory.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_data::TensorSummary;
/// let x = (Tensor::arange(0u8, 6, &Device::Cpu)?.reshape((1, 2, 3))?.to_dtype(DType::F32)? / 5.0)?;
/// println!("x_train {}", TensorSummary::of(&x)?); // x_train shape [1, 2, 3] F32, values 0 to 1, mean 0.5
/// assert_eq!(TensorSummary::of(&x)?.to_string(), "shape [1, 2, 3] F32, values 0 to 1, mean 0.5");
/// let s = TensorSummary::of(&Tensor::new(&[0u8, 255, 255], &Device::Cpu)?)?;
/// assert_eq!((s.range, s.mean, s.nan_count), (Some((0.0, 255.0)), Some(170.0), 0));
/// assert_eq!(s.to_string(), "shape [3] U8, values 0 to 255, mean 170");
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSummary {
    /// The tensor's dimensions.
    pub shape: Vec<usize>,
    /// The tensor's element type.
    pub dtype: DType,
    /// Smallest and largest value other than NaN; `None` if there are none.
    pub range: Option<(f64, f64)>,
    /// Mean of the values other than NaN; `None` if there are none.
    pub mean: Option<f64>,
    /// How many elements are NaN.
    pub nan_count: usize,
}

impl TensorSummary {
    /// Describes `t` (one pass over its values).
    pub fn of(t: &Tensor) -> Result<TensorSummary> {
        let s = Scan::of(t)?;
        let any = s.count > 0;
        Ok(TensorSummary {
            shape: t.dims().to_vec(),
            dtype: t.dtype(),
            range: any.then_some((s.min, s.max)),
            mean: any.then(|| s.sum / s.count as f64),
            nan_count: s.nan,
        })
    }
}

impl fmt::Display for TensorSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shape {:?} {:?}, ", self.shape, self.dtype)?;
        match (self.range, self.mean) {
            (Some((lo, hi)), Some(mean)) => write!(f, "values {} to {}, mean {}", number(lo, 6), number(hi, 6), number(mean, 4))?,
            _ if self.nan_count > 0 => return write!(f, "all {} values NaN", self.nan_count),
            _ => return write!(f, "no values"),
        }
        if self.nan_count > 0 {
            write!(f, ", {} NaN", self.nan_count)?;
        }
        Ok(())
    }
}

/// `v` with `significant` significant digits, without trailing zeros: whole numbers as integers
/// (`255`, `1`), others as `0.4733` or, far from 1, `1.234e-7`.
fn number(v: f64, significant: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..15).contains(&magnitude) {
        return format!("{v:.prec$e}", prec = significant.saturating_sub(1));
    }
    let decimals = (significant as i32 - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(number(0.0, 6), "0");
        assert_eq!(number(-0.0, 6), "0");
        assert_eq!(number(255.0, 6), "255");
        assert_eq!(number(0.47331234, 4), "0.4733");
        assert_eq!(number(120.70684, 4), "120.7");
        assert_eq!(number(1.0 / 255.0, 6), "0.00392157");
        assert_eq!(number(0.99996, 6), "0.99996");
        assert_eq!(number(-2.5, 6), "-2.5");
        assert_eq!(number(1.5e-7, 4), "1.500e-7");
        assert_eq!(number(f64::INFINITY, 4), "inf");
    }

    #[test]
    fn every_dtype_gives_range_and_mean() {
        let dev = Device::Cpu;
        let base = Tensor::new(&[[3u32, 0, 7], [250, 1, 9]], &dev).unwrap();
        for dtype in [DType::U8, DType::U32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64] {
            let t = base.to_dtype(dtype).unwrap();
            assert_eq!(value_range(&t).unwrap(), (0.0, 250.0), "{dtype:?}");
            let s = TensorSummary::of(&t).unwrap();
            assert_eq!(s.mean, Some(45.0), "{dtype:?}");
            assert_eq!(s.to_string(), format!("shape [2, 3] {dtype:?}, values 0 to 250, mean 45"));
        }
        // a non-contiguous view: same values
        assert_eq!(value_range(&base.t().unwrap()).unwrap(), (0.0, 250.0));
        let neg = Tensor::new(&[-1.5f32, 0.25], &dev).unwrap();
        assert_eq!(value_range(&neg).unwrap(), (-1.5, 0.25));
        assert_eq!(TensorSummary::of(&neg).unwrap().to_string(), "shape [2] F32, values -1.5 to 0.25, mean -0.625");
        assert_eq!(value_range(&Tensor::new(4i64, &dev).unwrap()).unwrap(), (4.0, 4.0));
    }

    #[test]
    fn spans_several_chunks_exactly() {
        // more than two chunks, with the extremes in the last and the middle one
        let n = 17 * 123_400;
        assert!(n > 2 * CHUNK);
        let mut v: Vec<f32> = (0..n).map(|i| (i % 100) as f32 / 100.0).collect();
        v[n - 1] = -3.0;
        v[CHUNK + 5] = 7.0;
        let want_mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let t = Tensor::from_vec(v, (n / 17, 17), &Device::Cpu).unwrap();
        assert_eq!(value_range(&t).unwrap(), (-3.0, 7.0));
        let mean = TensorSummary::of(&t).unwrap().mean.unwrap();
        assert!((mean - want_mean).abs() < 1e-12, "{mean} vs {want_mean}");
    }

    #[test]
    fn nan_and_empty_are_named() {
        let dev = Device::Cpu;
        let t = Tensor::new(&[1f32, f32::NAN, 3.0], &dev).unwrap();
        let e = value_range(&t).unwrap_err();
        assert!(matches!(&e, DataError::BadArgument(m) if m.contains("1 NaN among its 3 values")), "{e:?}");
        assert_eq!(TensorSummary::of(&t).unwrap().to_string(), "shape [3] F32, values 1 to 3, mean 2, 1 NaN");
        let all_nan = Tensor::new(&[f64::NAN, f64::NAN], &dev).unwrap();
        assert_eq!(TensorSummary::of(&all_nan).unwrap().to_string(), "shape [2] F64, all 2 values NaN");
        let empty = Tensor::zeros((0, 3), DType::U8, &dev).unwrap();
        let e = value_range(&empty).unwrap_err();
        assert!(matches!(&e, DataError::BadArgument(m) if m.contains("[0, 3] holds no values")), "{e:?}");
        let s = TensorSummary::of(&empty).unwrap();
        assert_eq!((s.range, s.mean), (None, None));
        assert_eq!(s.to_string(), "shape [0, 3] U8, no values");
    }
}

/// How many elements of `t` are not zero (NumPy's `np.count_nonzero`), for any dtype; NaN counts
/// as non-zero, as in NumPy.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let edges = Tensor::new(&[[0u8, 255, 0], [255, 255, 0]], &Device::Cpu)?;
/// assert_eq!(candlebook_data::count_nonzero(&edges)?, 3);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn count_nonzero(t: &Tensor) -> Result<usize> {
    let zero = Tensor::zeros((), t.dtype(), t.device())?.broadcast_as(t.shape())?;
    Ok(t.ne(&zero)?.to_dtype(candle_core::DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize)
}
