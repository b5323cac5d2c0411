//! Keras-semantics building blocks on NCHW tensors, differentiable with candle's autograd:
//! convolution and pooling with TensorFlow's `same`/`valid` padding.
//!
//! candle 0.11's own `max_pool2d` gradient is wrong (a 2×2 window's unique maximum gets 0.25, and
//! it fails when the window and stride differ), so pooling here gathers the window positions with
//! `index_select` and reduces them with `max`/`sum`, whose gradients are exact: the maximum of
//! each window gets the whole gradient, the average spreads it over the cells inside the image.

use candle_core::{Tensor, D};

use crate::cpu;
use crate::error::{ModelError, Result};
use crate::spec::{Activation, Padding};

/// TensorFlow's 'same' padding along one axis: `(before, after, output size)`, the odd cell at the
/// end (bottom/right).
///
/// ```
/// assert_eq!(candlebook_models::same_padding(224, 11, 4), (3, 4, 56));
/// ```
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (total / 2, total - total / 2, out)
}

fn pad_const(x: &Tensor, dim: usize, before: usize, after: usize, value: f64) -> Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    if value == 0.0 {
        return Ok(x.pad_with_zeros(dim, before, after)?);
    }
    let mut parts = Vec::new();
    let mut shape = x.dims().to_vec();
    if before > 0 {
        shape[dim] = before;
        parts.push((Tensor::ones(shape.clone(), x.dtype(), x.device())? * value)?);
    }
    parts.push(x.clone());
    if after > 0 {
        shape[dim] = after;
        parts.push((Tensor::ones(shape, x.dtype(), x.device())? * value)?);
    }
    Ok(Tensor::cat(&parts, dim)?)
}

/// Pads height and width for `same` (no-op for `valid`) with `value`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_models::{pad_same, Padding};
/// let x = Tensor::zeros((1, 1, 4, 4), DType::F32, &Device::Cpu)?;
/// assert_eq!(pad_same(&x, (3, 3), (2, 2), Padding::Same, 0.0)?.dims(), &[1, 1, 5, 5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pad_same(x: &Tensor, kernel: (usize, usize), strides: (usize, usize), padding: Padding, value: f64) -> Result<Tensor> {
    if padding == Padding::Valid {
        return Ok(x.clone());
    }
    if kernel.0 == 0 || kernel.1 == 0 || strides.0 == 0 || strides.1 == 0 {
        return Err(ModelError::Spec(format!("window {kernel:?} and strides {strides:?} must be positive")));
    }
    let (_, _, h, w) = x.dims4()?;
    let (t, b, _) = same_padding(h, kernel.0, strides.0);
    let (l, r, _) = same_padding(w, kernel.1, strides.1);
    pad_const(&pad_const(x, 2, t, b, value)?, 3, l, r, value)
}

/// Output size along one axis, or why the window does not fit.
///
/// ```
/// use candlebook_models::{window_output, Padding};
/// assert_eq!(window_output(128, 4, 2, Padding::Valid).unwrap(), 63);
/// assert_eq!(window_output(224, 11, 4, Padding::Same).unwrap(), 56);
/// assert!(window_output(2, 3, 1, Padding::Valid).is_err());
/// ```
pub fn window_output(input: usize, kernel: usize, stride: usize, padding: Padding) -> Result<usize> {
    if stride == 0 || kernel == 0 {
        return Err(ModelError::Spec("window and stride must be positive".into()));
    }
    Ok(match padding {
        Padding::Same => input.div_ceil(stride),
        Padding::Valid => {
            if input < kernel {
                return Err(ModelError::Shape(format!("a window of {kernel} does not fit an input of size {input}")));
            }
            (input - kernel) / stride + 1
        }
    })
}

/// Keras `Conv2D` arithmetic: `x` `(N, C, H, W)`, kernel `(out, in, kh, kw)`, bias `(out)`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::{conv2d_keras, Padding};
/// let x = Tensor::ones((1, 1, 5, 5), candle_core::DType::F32, &Device::Cpu)?;
/// let k = Tensor::ones((1, 1, 2, 2), candle_core::DType::F32, &Device::Cpu)?;
/// let b = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu)?;
/// let y = conv2d_keras(&x, &k, &b, (2, 2), Padding::Same)?;
/// assert_eq!(y.dims(), &[1, 1, 3, 3]);
/// // TF pads the odd cell at the end: the last row/column sees one real row/column of ones
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, vec![4.0, 4.0, 2.0, 4.0, 4.0, 2.0, 2.0, 2.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn conv2d_keras(x: &Tensor, kernel: &Tensor, bias: &Tensor, strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    if cpu::applies(x) {
        return conv2d_cpu(x, kernel, bias, strides, padding, false);
    }
    let (_, _, kh, kw) = kernel.dims4()?;
    let x = pad_same(x, (kh, kw), strides, padding, 0.0)?;
    // Drop trailing rows/columns no window reaches: they do not change the output, and candle's
    // convolution gradient fails when the stride does not tile the input exactly.
    let (_, _, h, w) = x.dims4()?;
    let (oh, ow) = (window_output(h, kh, strides.0, Padding::Valid)?, window_output(w, kw, strides.1, Padding::Valid)?);
    let (used_h, used_w) = ((oh - 1) * strides.0 + kh, (ow - 1) * strides.1 + kw);
    let x = if used_h < h || used_w < w { x.narrow(2, 0, used_h)?.narrow(3, 0, used_w)? } else { x };
    let y = if strides.0 == strides.1 {
        x.conv2d(kernel, 0, strides.0, 1, 1)?
    } else {
        // candle's convolution takes one stride: at stride 1, then every `sy`-th row and `sx`-th
        // column (gradients flow back through the selection)
        let rows = Tensor::new((0..oh).map(|i| (i * strides.0) as u32).collect::<Vec<_>>(), x.device())?;
        let cols = Tensor::new((0..ow).map(|j| (j * strides.1) as u32).collect::<Vec<_>>(), x.device())?;
        x.conv2d(kernel, 0, 1, 1, 1)?.index_select(&rows, 2)?.index_select(&cols, 3)?
    };
    Ok(y.broadcast_add(&bias.reshape((1, (), 1, 1))?)?)
}

/// A convolution followed by `activation`: on the CPU the bias and a ReLU are fused into the
/// convolution kernel; elsewhere candle's convolution and the activation run one after the other.
pub(crate) fn conv2d_activated(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    strides: (usize, usize),
    padding: Padding,
    activation: Activation,
) -> Result<Tensor> {
    if cpu::applies(x) && matches!(activation, Activation::Relu | Activation::Linear) {
        return conv2d_cpu(x, kernel, bias, strides, padding, activation == Activation::Relu);
    }
    crate::sequential::activate(&conv2d_keras(x, kernel, bias, strides, padding)?, activation)
}

fn conv2d_cpu(x: &Tensor, kernel: &Tensor, bias: &Tensor, strides: (usize, usize), padding: Padding, relu: bool) -> Result<Tensor> {
    let geom = conv_geometry(x, kernel, bias, strides, padding)?;
    let x = x.contiguous()?;
    Ok(x.apply_op3(&kernel.contiguous()?, &bias.contiguous()?, cpu::Conv2dForward { geom, relu })?)
}

/// The shapes of a Keras convolution of `x` by `kernel`, or why they do not fit.
pub(crate) fn conv_geometry(x: &Tensor, kernel: &Tensor, bias: &Tensor, (sy, sx): (usize, usize), padding: Padding) -> Result<cpu::ConvGeometry> {
    let (n, cin, h, w) = x.dims4()?;
    let (cout, kin, kh, kw) = kernel.dims4()?;
    if kin != cin || bias.dims() != [cout] {
        return Err(ModelError::Shape(format!(
            "Conv2D: input has {cin} channels, kernel is {:?} and bias {:?}",
            kernel.dims(),
            bias.dims()
        )));
    }
    let (pad_top, oh, pad_left, ow) = match padding {
        Padding::Same => {
            if sy == 0 || sx == 0 || kh == 0 || kw == 0 {
                return Err(ModelError::Spec(format!("Conv2D: kernel {kh}×{kw} and strides ({sy}, {sx}) must be positive")));
            }
            let (t, _, oh) = same_padding(h, kh, sy);
            let (l, _, ow) = same_padding(w, kw, sx);
            (t, oh, l, ow)
        }
        Padding::Valid => (0, window_output(h, kh, sy, padding)?, 0, window_output(w, kw, sx, padding)?),
    };
    Ok(cpu::ConvGeometry { n, cin, h, w, cout, kh, kw, sy, sx, pad_top, pad_left, oh, ow })
}

/// The max-pooling kernel for `x`'s shape.
pub(crate) fn max_pool_op(x: &Tensor, pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<cpu::MaxPool2d> {
    let (n, c, h, w) = x.dims4()?;
    max_pool_op_for(n, c, h, w, pool, strides, padding)
}

/// [`max_pool_op`] for an `(n, c, h, w)` input.
pub(crate) fn max_pool_op_for(n: usize, c: usize, h: usize, w: usize, pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<cpu::MaxPool2d> {
    let out = (window_output(h, pool.0, strides.0, padding)?, window_output(w, pool.1, strides.1, padding)?);
    let pad = match padding {
        Padding::Same => (same_padding(h, pool.0, strides.0).0, same_padding(w, pool.1, strides.1).0),
        Padding::Valid => (0, 0),
    };
    Ok(cpu::MaxPool2d { planes: n * c, h, w, pool, strides, pad, out, dims: (n, c) })
}

/// The window cells of every output position: `pool.0 * pool.1` tensors of shape
/// `(N, C, out_h, out_w)`, gathered from an already padded input.
fn windows(x: &Tensor, pool: (usize, usize), strides: (usize, usize), out: (usize, usize)) -> Result<Vec<Tensor>> {
    let dev = x.device();
    let mut cells = Vec::with_capacity(pool.0 * pool.1);
    for dy in 0..pool.0 {
        let rows: Vec<u32> = (0..out.0).map(|i| (dy + strides.0 * i) as u32).collect();
        let xr = x.index_select(&Tensor::new(rows, dev)?, 2)?;
        for dx in 0..pool.1 {
            let cols: Vec<u32> = (0..out.1).map(|j| (dx + strides.1 * j) as u32).collect();
            cells.push(xr.index_select(&Tensor::new(cols, dev)?, 3)?);
        }
    }
    Ok(cells)
}

/// Keras `MaxPooling2D` with a correct gradient for any window and stride (padded cells never win).
///
/// NaN as TensorFlow's CPU kernel treats it: a NaN never wins, each window's value is its largest
/// number and at least the dtype's lowest value (`f32::MIN` for a window of only NaN or -inf).
/// On the CPU the gradient goes to each window's first maximum (to its first cell when that is
/// NaN, as TensorFlow's gradient does); on other devices, to every cell equal to the maximum.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use candlebook_models::{max_pool2d_keras, Padding};
/// let x = Var::new(&[[[[1f32, 2.0], [3.0, 4.0]]]], &Device::Cpu)?;
/// let y = max_pool2d_keras(x.as_tensor(), (2, 2), (2, 2), Padding::Valid)?;
/// let g = y.sum_all()?.backward()?;
/// // the unique maximum gets the whole gradient (candle 0.11's own op gives 0.25)
/// assert_eq!(g.get(&x).unwrap().flatten_all()?.to_vec1::<f32>()?, vec![0.0, 0.0, 0.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn max_pool2d_keras(x: &Tensor, pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    if cpu::applies(x) {
        return Ok(x.contiguous()?.apply_op1(max_pool_op(x, pool, strides, padding)?)?);
    }
    let (_, _, h, w) = x.dims4()?;
    let out = (window_output(h, pool.0, strides.0, padding)?, window_output(w, pool.1, strides.1, padding)?);
    let xp = pad_same(&nan_to_neg_inf(x)?, pool, strides, padding, f64::NEG_INFINITY)?;
    let cells = windows(&xp, pool, strides, out)?;
    floor_at_lowest(&Tensor::stack(&cells, 4)?.max(D::Minus1)?)
}

/// Max pooling for inference off the CPU: candle's own forward (right, only its gradient is not,
/// and faster there than [`max_pool2d_keras`]'s gathering), with NaN skipped and each window
/// floored at the lowest value as TensorFlow does.
pub(crate) fn max_pool2d_inference(x: &Tensor, pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    let xp = pad_same(&nan_to_neg_inf(x)?, pool, strides, padding, f64::NEG_INFINITY)?;
    floor_at_lowest(&xp.max_pool2d_with_stride(pool, strides)?)
}

/// `x` with every NaN replaced by -inf, so that a maximum skips them on every device.
pub(crate) fn nan_to_neg_inf(x: &Tensor) -> Result<Tensor> {
    let neg_inf = (x.ones_like()? * f64::NEG_INFINITY)?;
    Ok(x.ne(x)?.where_cond(&neg_inf, x)?)
}

/// `max(x, lowest)` for the dtype's lowest finite value: TensorFlow's max pooling starts every
/// window there, so a window of only -inf (or NaN) gives that value.
pub(crate) fn floor_at_lowest(x: &Tensor) -> Result<Tensor> {
    let lowest = match x.dtype() {
        candle_core::DType::F64 => f64::MIN,
        candle_core::DType::F32 => f32::MIN as f64,
        _ => return Ok(x.clone()),
    };
    Ok(x.maximum(lowest)?)
}

/// TensorFlow's ReLU on any device: `max(x, 0)` with NaN kept NaN (candle's own `relu` returns 0
/// for NaN, on the CPU and on CUDA). The CPU f32 path uses [`cpu::Relu`] instead.
pub(crate) fn relu_keep_nan(x: &Tensor) -> Result<Tensor> {
    Ok(x.ne(x)?.where_cond(x, &x.relu()?)?)
}

/// `clamp(x, lo, hi)` with NaN kept NaN, as TensorFlow's `clip_by_value` (candle's CPU clamp
/// keeps it; CUDA's `fmaxf`/`fminf` would not).
pub(crate) fn clamp_keep_nan(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    let c = x.clamp(lo, hi)?;
    if x.device().is_cpu() {
        return Ok(c);
    }
    Ok(x.ne(x)?.where_cond(x, &c)?)
}

/// Keras `AveragePooling2D`: with `same`, each window is averaged over its cells inside the image
/// (TensorFlow's rule), so border outputs are not pulled towards zero.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::{avg_pool2d_keras, Padding};
/// let x = Tensor::new(&[[[[1f32, 2.0, 3.0]]]], &Device::Cpu)?;
/// let y = avg_pool2d_keras(&x, (1, 2), (1, 2), Padding::Same)?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, vec![1.5, 3.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn avg_pool2d_keras(x: &Tensor, pool: (usize, usize), strides: (usize, usize), padding: Padding) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let out = (window_output(h, pool.0, strides.0, padding)?, window_output(w, pool.1, strides.1, padding)?);
    let xp = pad_same(x, pool, strides, padding, 0.0)?;
    let sum = Tensor::stack(&windows(&xp, pool, strides, out)?, 4)?.sum(D::Minus1)?;
    match padding {
        Padding::Valid => Ok((sum / (pool.0 * pool.1) as f64)?),
        Padding::Same => {
            let ones = pad_same(&x.ones_like()?, pool, strides, padding, 0.0)?;
            let count = Tensor::stack(&windows(&ones, pool, strides, out)?, 4)?.sum(D::Minus1)?;
            Ok((sum / count)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }

    /// The paths other devices take (candle's ops), run here on f64 tensors: ReLU keeps NaN as
    /// TensorFlow's does (candle's own `relu` returns 0), and so does the clamp of the losses.
    #[test]
    fn generic_relu_and_clamp_keep_nan() {
        let x = Tensor::new(&[f64::NAN, -1.0, 0.0, 2.5, f64::NEG_INFINITY, f64::INFINITY], &Device::Cpu).unwrap();
        let y = values(&crate::sequential::activate(&x, crate::spec::Activation::Relu).unwrap());
        assert!(y[0].is_nan(), "{y:?}");
        assert_eq!(&y[1..], &[0.0, 0.0, 2.5, 0.0, f64::INFINITY]);
        assert_eq!(values(&x.relu().unwrap())[0], 0.0, "candle's relu (why the generic path does not use it alone)");
        let c = values(&clamp_keep_nan(&x, 1e-7, 1.0 - 1e-7).unwrap());
        assert!(c[0].is_nan() && c[1] == 1e-7 && c[5] == 1.0 - 1e-7, "{c:?}");
        // the CPU f32 kernel agrees
        let y32 = values(&crate::sequential::activate(&x.to_dtype(DType::F32).unwrap(), crate::spec::Activation::Relu).unwrap());
        assert!(y32[0].is_nan());
        assert_eq!(&y32[1..], &[0.0, 0.0, 2.5, 0.0, f64::INFINITY]);
    }

    /// Inference max pooling off the CPU (candle's op behind NaN and -inf handling) gives what the
    /// CPU kernel gives: NaN skipped, windows without a number at the lowest value.
    #[test]
    fn inference_max_pooling_skips_nan() {
        let nan = f32::NAN;
        let v = vec![1.0, nan, nan, nan, nan, nan, f32::NEG_INFINITY, nan, -2.0, 5.0, nan, 0.5];
        let x = Tensor::from_vec(v, (1, 1, 3, 4), &Device::Cpu).unwrap();
        for padding in [Padding::Valid, Padding::Same] {
            let want = values(&max_pool2d_keras(&x, (2, 2), (2, 2), padding).unwrap());
            let got = values(&max_pool2d_inference(&x, (2, 2), (2, 2), padding).unwrap());
            assert_eq!(got, want, "{padding:?}");
            assert!(want.contains(&(f32::MIN as f64)), "{want:?}");
            // and the generic training path (f64 through the gathered windows)
            let generic: Vec<f64> = values(&max_pool2d_keras(&x.to_dtype(DType::F64).unwrap(), (2, 2), (2, 2), padding).unwrap());
            let expect: Vec<f64> = want.iter().map(|&v| if v == f32::MIN as f64 { f64::MIN } else { v }).collect();
            assert_eq!(generic, expect, "{padding:?}");
        }
    }
}
