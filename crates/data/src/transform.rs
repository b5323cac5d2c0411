//! Transforms on image tensors `(C, H, W)` or batches `(N, C, H, W)`: scaling to 0..1, one-hot
//! labels, grayscale, TensorFlow's bilinear resize and `resize_with_pad`, sharpening.
//! Area resize and max pooling come from the kernels crate ([`candlebook_kernels::resize_area`],
//! [`candlebook_kernels::max_pool`]).

use candle_core::{DType, Device, Tensor};
use candlebook_kernels::{filter2d, Border, Kernel2d};
use rayon::prelude::*;

use crate::error::{DataError, Result};

/// u8 pixels to f32 in 0..=1, divided by 255 exactly as NumPy's `x / 255.0` (true division, not a
/// multiplication by the reciprocal). Float tensors are returned unchanged.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[0u8, 51, 255], &Device::Cpu)?;
/// let y = candlebook_data::transform::to_f32_unit(&x)?;
/// assert_eq!(y.to_vec1::<f32>()?, vec![0.0, 0.2, 1.0]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn to_f32_unit(images: &Tensor) -> Result<Tensor> {
    if images.dtype().is_float() {
        return Ok(images.clone());
    }
    let d = Tensor::new(255f32, images.device())?;
    Ok(images.to_dtype(DType::F32)?.broadcast_div(&d)?)
}

/// Class indices `(N,)` to one-hot rows `(N, num_classes)` f32 (Keras's `to_categorical`). A label
/// `>= num_classes` is a [`DataError::LabelOutOfRange`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// let y = candlebook_data::transform::one_hot(&Tensor::new(&[2u32, 0], &Device::Cpu)?, 3)?;
/// assert_eq!(y.to_vec2::<f32>()?, vec![vec![0.0, 0.0, 1.0], vec![1.0, 0.0, 0.0]]);
/// assert!(candlebook_data::transform::one_hot(&Tensor::new(&[3u32], &Device::Cpu)?, 3).is_err());
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn one_hot(labels: &Tensor, num_classes: usize) -> Result<Tensor> {
    let l = labels.to_dtype(DType::U32)?.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<u32>()?;
    let mut out = vec![0f32; l.len() * num_classes];
    for (i, &c) in l.iter().enumerate() {
        if c as usize >= num_classes {
            return Err(DataError::LabelOutOfRange { label: c as i64, expected: format!("0..{num_classes}") });
        }
        out[i * num_classes + c as usize] = 1.0;
    }
    Ok(Tensor::from_vec(out, (l.len(), num_classes), labels.device())?)
}

/// Keras's `keras.utils.to_categorical(y, num_classes)`: the same as [`one_hot`].
pub fn to_categorical(labels: &Tensor, num_classes: usize) -> Result<Tensor> {
    one_hot(labels, num_classes)
}

fn as_batch(images: &Tensor) -> Result<(Tensor, bool)> {
    match images.rank() {
        3 => Ok((images.unsqueeze(0)?, true)),
        4 => Ok((images.clone(), false)),
        _ => Err(DataError::BadArgument(format!("expected an image (C, H, W) or a batch (N, C, H, W), got {:?}", images.dims()))),
    }
}

fn unbatch(y: Tensor, single: bool) -> Result<Tensor> {
    Ok(if single { y.squeeze(0)? } else { y })
}

/// RGB to one gray channel with OpenCV's `cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)` weights
/// (0.299 R + 0.587 G + 0.114 B; for u8 OpenCV's 14-bit fixed point, so results match it
/// exactly). One-channel images are returned unchanged; a fourth (alpha) channel is ignored.
/// Runs with tensor ops on the tensor's device.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let rgb = Tensor::new(&[[[255u8]], [[0]], [[0]]], &Device::Cpu)?;
/// let g = candlebook_data::transform::grayscale(&rgb)?;
/// assert_eq!(g.to_vec3::<u8>()?, vec![vec![vec![76]]]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn grayscale(images: &Tensor) -> Result<Tensor> {
    let (x, single) = as_batch(images)?;
    let c = x.dims()[1];
    if c == 1 {
        return Ok(images.clone());
    }
    if c != 3 && c != 4 {
        return Err(DataError::BadArgument(format!("grayscale needs 1, 3 or 4 channels, got {c}")));
    }
    let ch = |i: usize| -> Result<Tensor> { Ok(x.narrow(1, i, 1)?.to_dtype(DType::F32)?) };
    let y = match x.dtype() {
        DType::U8 => {
            // OpenCV: (R*4899 + G*9617 + B*1868 + (1 << 13)) >> 14, exact in f32 (< 2^24).
            let s = ((ch(0)?.affine(4899.0, 0.0)? + ch(1)?.affine(9617.0, 0.0)?)? + ch(2)?.affine(1868.0, 8192.0)?)?;
            s.affine(1.0 / 16384.0, 0.0)?.floor()?.to_dtype(DType::U8)?
        }
        dt => {
            let s = ((ch(0)?.affine(0.299, 0.0)? + ch(1)?.affine(0.587, 0.0)?)? + ch(2)?.affine(0.114, 0.0)?)?;
            s.to_dtype(dt)?
        }
    };
    unbatch(y, single)
}

/// Interpolation weights of TensorFlow's resize kernel (half-pixel centres, no antialiasing).
struct Lerp {
    lower: usize,
    upper: usize,
    frac: f32,
}

fn lerps(in_size: usize, out_size: usize) -> Vec<Lerp> {
    let scale = in_size as f32 / out_size as f32;
    (0..out_size)
        .map(|i| {
            let x = (i as f32 + 0.5) * scale - 0.5;
            let f = x.floor();
            Lerp { lower: (f.max(0.0)) as usize, upper: (x.ceil() as i64).clamp(0, in_size as i64 - 1) as usize, frac: x - f }
        })
        .collect()
}

fn bilinear_plane(src: &[f32], (h, w): (usize, usize), ys: &[Lerp], xs: &[Lerp], out: &mut [f32]) {
    let ow = xs.len();
    for (oy, ly) in ys.iter().enumerate() {
        let top = &src[ly.lower * w..ly.lower * w + w];
        let bot = &src[ly.upper * w..ly.upper * w + w];
        for (ox, lx) in xs.iter().enumerate() {
            let tl = top[lx.lower];
            let tr = top[lx.upper];
            let bl = bot[lx.lower];
            let br = bot[lx.upper];
            let t = tl + (tr - tl) * lx.frac;
            let b = bl + (br - bl) * lx.frac;
            out[oy * ow + ox] = t + (b - t) * ly.frac;
        }
    }
    let _ = h;
}

/// Bilinear resize to `width × height` as TensorFlow's `tf.image.resize(img, (height, width))`
/// (method `bilinear`, `antialias=False`, half-pixel centres). Like TensorFlow it returns f32
/// (u8 input gives f32 values in 0..=255, not rounded). Runs on the host, images in parallel; the
/// result goes back to the input's device.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let img = Tensor::new(&[[[0f32, 4.0]]], &Device::Cpu)?; // 1x1x2
/// let up = candlebook_data::transform::resize_bilinear(&img, 4, 1)?;
/// assert_eq!(up.to_vec3::<f32>()?, vec![vec![vec![0.0, 1.0, 3.0, 4.0]]]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn resize_bilinear(images: &Tensor, width: usize, height: usize) -> Result<Tensor> {
    if width == 0 || height == 0 {
        return Err(DataError::BadArgument(format!("resize to {width}x{height}: sizes must be positive")));
    }
    let (x, single) = as_batch(images)?;
    let (n, c, h, w) = x.dims4()?;
    if h == 0 || w == 0 {
        return Err(DataError::BadArgument(format!("cannot resize an empty image {:?}", images.dims())));
    }
    let src = x.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let (ys, xs) = (lerps(h, height), lerps(w, width));
    let mut out = vec![0f32; n * c * height * width];
    out.par_chunks_mut(height * width)
        .zip(src.par_chunks(h * w))
        .for_each(|(o, s)| bilinear_plane(s, (h, w), &ys, &xs, o));
    let y = Tensor::from_vec(out, (n, c, height, width), &Device::Cpu)?.to_device(images.device())?;
    unbatch(y, single)
}

/// TensorFlow's `tf.image.resize_with_pad(img, target_height, target_width)`: scales the image to
/// fit inside the target keeping its aspect ratio (bilinear, as [`resize_bilinear`]), then pads
/// with zeros, centred (the extra pixel of an odd padding goes to the bottom/right). Returns f32,
/// as TensorFlow does.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let wide = Tensor::ones((3, 50, 100), DType::U8, &Device::Cpu)?;
/// let sq = candlebook_data::transform::resize_with_pad(&wide, 224, 224)?;
/// assert_eq!(sq.dims(), &[3, 224, 224]);
/// let col = sq.get(0)?.get(0)?; // top row is padding
/// assert_eq!(col.sum_all()?.to_scalar::<f32>()?, 0.0);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn resize_with_pad(images: &Tensor, target_height: usize, target_width: usize) -> Result<Tensor> {
    if target_width == 0 || target_height == 0 {
        return Err(DataError::BadArgument(format!("resize_with_pad to {target_height}x{target_width}: sizes must be positive")));
    }
    let (x, single) = as_batch(images)?;
    let (n, c, h, w) = x.dims4()?;
    // TensorFlow's arithmetic, in f32 as its graph does.
    let (fh, fw, th, tw) = (h as f32, w as f32, target_height as f32, target_width as f32);
    let ratio = (fw / tw).max(fh / th);
    let (rh_f, rw_f) = (fh / ratio, fw / ratio);
    let (rh, rw) = ((rh_f.floor() as usize).max(1), (rw_f.floor() as usize).max(1));
    let pad_h = (((th - rh_f) / 2.0).floor().max(0.0)) as usize;
    let pad_w = (((tw - rw_f) / 2.0).floor().max(0.0)) as usize;
    let resized = resize_bilinear(&x, rw, rh)?;
    let (rh, rw) = (rh.min(target_height), rw.min(target_width));
    let resized = resized.narrow(2, 0, rh)?.narrow(3, 0, rw)?;
    let y = resized.pad_with_zeros(2, pad_h, target_height - rh - pad_h)?.pad_with_zeros(3, pad_w, target_width - rw - pad_w)?;
    let _ = (n, c);
    unbatch(y, single)
}

/// Sharpens every image with the 3×3 sharpen kernel `[[0,-1,0],[-1,5,-1],[0,-1,0]]` through
/// [`candlebook_kernels::filter2d`] (OpenCV's `filter2D`, reflect-101 border), on the images' device.
pub fn sharpen(images: &Tensor) -> Result<Tensor> {
    Ok(filter2d(images, &Kernel2d::sharpen(), Border::default())?)
}
