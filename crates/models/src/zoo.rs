//! The tutorials' convolutional networks, layer for layer as the Keras notebooks build them. Used by
//! the training benchmark and the tests; a notebook writes its model out cell by cell instead.
//!
//! ```
//! use candle_core::Device;
//! let m = candlebook_models::zoo::fingers_cnn_bn(&Device::Cpu)?;
//! assert_eq!(m.count_params(), (204_262, 192)); // (trainable, non-trainable), as Keras counts them
//! # Ok::<(), candlebook_models::ModelError>(())
//! ```

use candle_core::Device;

use crate::error::Result;
use crate::sequential::{Input, Sequential};
use crate::spec::{Activation, ActivationLayer, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Padding};

/// Seed 001's CIFAR-10 CNN: three blocks of two 3×3 `same` convolutions with batch norm, 2×2 max
/// pooling and dropout (0.3, 0.5, 0.5), then Dense(128) and a 10-way softmax.
pub fn cifar10_cnn(device: &Device) -> Result<Sequential> {
    cifar10_cnn_with(device, "cifar10_cnn", false)
}

/// Seed 001's CNN for the sharpened CIFAR-10 images: [`cifar10_cnn`] with a batch norm after its
/// Dense(128) (552,874 parameters, 1,152 of them non-trainable).
///
/// ```
/// let m = candlebook_models::zoo::cifar10_cnn_sharpened(&candle_core::Device::Cpu)?;
/// assert_eq!(m.count_params(), (552_874 - 1_152, 1_152));
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn cifar10_cnn_sharpened(device: &Device) -> Result<Sequential> {
    cifar10_cnn_with(device, "cifar10_cnn_sharpened", true)
}

fn cifar10_cnn_with(device: &Device, name: &str, dense_batch_norm: bool) -> Result<Sequential> {
    let mut m = Sequential::new(Input::image(32, 32, 3), device).with_name(name);
    for (filters, drop) in [(32, 0.3), (64, 0.5), (128, 0.5)] {
        for _ in 0..2 {
            m.add(Conv2D::new(filters, (3, 3)).padding(Padding::Same).activation(Activation::Relu))?;
            m.add(BatchNormalization::new())?;
        }
        m.add(MaxPooling2D::new((2, 2)))?;
        m.add(Dropout::new(drop))?;
    }
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation(Activation::Relu))?;
    if dense_batch_norm {
        m.add(BatchNormalization::new())?;
    }
    m.add(Dropout::new(0.5))?;
    m.add(Dense::new(10).activation(Activation::Softmax))?;
    Ok(m)
}

/// Seed 003's fingers CNN with batch norm: 64 4×4 and 32 3×3 stride-2 `valid` convolutions, each
/// followed by batch norm and ReLU, then a 6-way softmax on 128×128 grey images.
pub fn fingers_cnn_bn(device: &Device) -> Result<Sequential> {
    let mut m = Sequential::new(Input::image(128, 128, 1), device).with_name("fingers_cnn_bn");
    for (filters, k) in [(64, 4), (32, 3)] {
        m.add(Conv2D::new(filters, (k, k)).strides((2, 2)))?;
        m.add(BatchNormalization::new())?;
        m.add(ActivationLayer::new(Activation::Relu))?;
    }
    m.add(Flatten::new())?;
    m.add(Dense::new(6).activation(Activation::Softmax))?;
    Ok(m)
}

/// Seed 002's Sign Language MNIST CNN: 75/50/25 3×3 convolutions with batch norm and 2×2 `same`
/// pooling, Dense(512), dropout 0.3, a 24-way softmax on 28×28 grey images.
pub fn asl_cnn(device: &Device) -> Result<Sequential> {
    let mut m = Sequential::new(Input::image(28, 28, 1), device).with_name("asl_cnn");
    let pool = || MaxPooling2D::new((2, 2)).strides((2, 2)).padding(Padding::Same);
    m.add(Conv2D::new(75, (3, 3)).padding(Padding::Same).activation(Activation::Relu))?;
    m.add(BatchNormalization::new())?;
    m.add(pool())?;
    m.add(Conv2D::new(50, (3, 3)).padding(Padding::Same).activation(Activation::Relu))?;
    m.add(Dropout::new(0.2))?;
    m.add(BatchNormalization::new())?;
    m.add(pool())?;
    m.add(Conv2D::new(25, (3, 3)).padding(Padding::Same).activation(Activation::Relu))?;
    m.add(BatchNormalization::new())?;
    m.add(pool())?;
    m.add(Flatten::new())?;
    m.add(Dense::new(512).activation(Activation::Relu))?;
    m.add(Dropout::new(0.3))?;
    m.add(Dense::new(24).activation(Activation::Softmax))?;
    Ok(m)
}

/// Seed 001's AlexNet-like faces network on 224×224 RGB: an 11×11 stride-4 convolution, overlapping
/// 3×3 stride-2 pooling and batch norm twice, three 3×3 convolutions, Dense 64-64 with dropout and
/// a 2-way softmax.
pub fn faces_alexnet(device: &Device) -> Result<Sequential> {
    let mut m = Sequential::new(Input::image(224, 224, 3), device).with_name("faces_alexnet");
    let pool = || MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same);
    m.add(Conv2D::new(32, (11, 11)).strides((4, 4)).activation(Activation::Relu).padding(Padding::Same))?;
    m.add(pool())?;
    m.add(BatchNormalization::new())?;
    m.add(Conv2D::new(64, (5, 5)).activation(Activation::Relu).padding(Padding::Same))?;
    m.add(pool())?;
    m.add(BatchNormalization::new())?;
    for filters in [128, 64, 32] {
        m.add(Conv2D::new(filters, (3, 3)).activation(Activation::Relu).padding(Padding::Same))?;
    }
    m.add(Flatten::new())?;
    for _ in 0..2 {
        m.add(Dense::new(64).activation(Activation::Relu))?;
        m.add(Dropout::new(0.5))?;
    }
    m.add(Dense::new(2).activation(Activation::Softmax))?;
    Ok(m)
}

/// The output layer of the Severstal steel CNNs ([`steel_cnn_5_with_head`],
/// [`steel_cnn_7_with_head`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteelHead {
    /// The seed's own head: `Dense(2)` with no activation (linear), trained there with
    /// `binary_crossentropy` on one-hot `(N, 2)` targets, so the loss clips the raw outputs to
    /// `[1e-7, 1 - 1e-7]` before taking logs.
    Linear2,
    /// The corrected binary head: one `Dense(1, activation='sigmoid')` unit, for
    /// `binary_crossentropy` with `(N,)` 0/1 targets.
    Sigmoid1,
    /// A `Dense(k, activation='softmax')` head for `categorical_crossentropy` (the seed's multiclass
    /// part has 5 classes: no defect and defect classes 1–4).
    Softmax(usize),
}

/// Seed 000's first Severstal CNN (`conv_1`, first version), with its own linear `Dense(2)` head:
/// on 256×256×1 input, five blocks of `Conv2D(64, (2, 2), activation='relu')` (valid padding) and
/// `MaxPooling2D((2, 2))`, `Flatten`, `Dense(128, relu)` twice, `Dense(2)`. 484,418 parameters.
///
/// ```
/// use candlebook_models::zoo::{steel_cnn_5, steel_cnn_5_with_head, SteelHead};
/// let dev = candle_core::Device::Cpu;
/// let m = steel_cnn_5(&dev)?;
/// assert_eq!(m.count_params(), (484_418, 0));
/// assert_eq!(m.output_shape().keras_dims(), vec![2]);
/// // the corrected heads: one sigmoid unit, or a 5-way softmax for the multiclass labels
/// assert_eq!(steel_cnn_5_with_head(&dev, SteelHead::Sigmoid1)?.count_params(), (484_289, 0));
/// assert_eq!(steel_cnn_5_with_head(&dev, SteelHead::Softmax(5))?.count_params(), (484_805, 0));
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn steel_cnn_5(device: &Device) -> Result<Sequential> {
    steel_cnn_5_with_head(device, SteelHead::Linear2)
}

/// [`steel_cnn_5`] with the given output layer ([`SteelHead`]).
pub fn steel_cnn_5_with_head(device: &Device, head: SteelHead) -> Result<Sequential> {
    steel_cnn(device, "steel_cnn_5", 5, &[(128, None), (128, None)], head)
}

/// Seed 000's second Severstal CNN (`conv_1` rebuilt, the one whose summary the seed prints): on
/// 256×256×1 input, seven blocks of `Conv2D(64, (2, 2), activation='relu')` and
/// `MaxPooling2D((2, 2))` (down to 1×1×64), `Flatten`, then `Dense(512)`, `Dense(256)`,
/// `Dense(128)`, each with ReLU and `kernel_regularizer=l2(0.01)`, and the linear `Dense(2)`.
/// 296,770 parameters.
///
/// ```
/// let m = candlebook_models::zoo::steel_cnn_7(&candle_core::Device::Cpu)?;
/// assert_eq!(m.count_params(), (296_770, 0));
/// assert_eq!(m.layers()[1].output_shape().keras_dims(), vec![127, 127, 64]);
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn steel_cnn_7(device: &Device) -> Result<Sequential> {
    steel_cnn_7_with_head(device, SteelHead::Linear2)
}

/// [`steel_cnn_7`] with the given output layer ([`SteelHead`]).
pub fn steel_cnn_7_with_head(device: &Device, head: SteelHead) -> Result<Sequential> {
    steel_cnn(device, "steel_cnn_7", 7, &[(512, Some(0.01)), (256, Some(0.01)), (128, Some(0.01))], head)
}

fn steel_cnn(device: &Device, name: &str, blocks: usize, dense: &[(usize, Option<f64>)], head: SteelHead) -> Result<Sequential> {
    let mut m = Sequential::new(Input::image(256, 256, 1), device).with_name(name);
    for _ in 0..blocks {
        m.add(Conv2D::new(64, (2, 2)).activation(Activation::Relu))?;
        m.add(MaxPooling2D::new((2, 2)))?;
    }
    m.add(Flatten::new())?;
    for &(units, l2) in dense {
        let layer = Dense::new(units).activation(Activation::Relu);
        m.add(match l2 {
            Some(f) => layer.l2(f),
            None => layer,
        })?;
    }
    m.add(match head {
        SteelHead::Linear2 => Dense::new(2),
        SteelHead::Sigmoid1 => Dense::new(1).activation(Activation::Sigmoid),
        SteelHead::Softmax(k) => Dense::new(k).activation(Activation::Softmax),
    })?;
    Ok(m)
}

#[cfg(test)]
mod steel_tests {
    use super::*;
    use crate::spec::LayerSpec;
    use crate::{Loss, Sequential};
    use candle_core::{DType, Tensor};

    fn rows(m: &Sequential) -> Vec<(String, Vec<usize>, usize)> {
        m.layers().iter().map(|l| (l.name().to_string(), l.output_shape().keras_dims(), l.param_counts().0 + l.param_counts().1)).collect()
    }

    /// The rows the seed prints of `conv_1.summary()` for the seven-block network (the print was
    /// cut off by a KeyboardInterrupt after the fourth convolution's shape): Keras's own names
    /// (`conv2d_6` … there, a fresh session's `conv2d`, `max_pooling2d`, `conv2d_1`, … here),
    /// output shapes and parameter counts.
    #[test]
    fn seven_block_summary_starts_as_the_seed_prints() {
        let m = steel_cnn_7(&Device::Cpu).unwrap();
        let seed: [(&str, &[usize], usize); 7] = [
            ("conv2d", &[255, 255, 64], 320),
            ("max_pooling2d", &[127, 127, 64], 0),
            ("conv2d_1", &[126, 126, 64], 16448),
            ("max_pooling2d_1", &[63, 63, 64], 0),
            ("conv2d_2", &[62, 62, 64], 16448),
            ("max_pooling2d_2", &[31, 31, 64], 0),
            ("conv2d_3", &[30, 30, 64], 16448),
        ];
        let got = rows(&m);
        for (i, (name, dims, params)) in seed.iter().enumerate() {
            assert_eq!(got[i], (name.to_string(), dims.to_vec(), *params), "row {i}");
        }
    }

    /// Every row of both networks, worked out from Keras's rules (valid 2×2 convolution: side - 1;
    /// 2×2 pooling: floor(side / 2); Conv2D params 2·2·c_in·64 + 64; Dense in·out + out) — the seed
    /// never printed its totals, so these are the checks: 484,418 and 296,770.
    #[test]
    fn every_layer_shape_and_the_totals() {
        let five = steel_cnn_5(&Device::Cpu).unwrap();
        let sides5 = [255, 127, 126, 63, 62, 31, 30, 15, 14, 7];
        let got = rows(&five);
        assert_eq!(got.len(), 10 + 1 + 3);
        for (i, side) in sides5.iter().enumerate() {
            assert_eq!(got[i].1, vec![*side, *side, 64], "layer {i}");
        }
        assert_eq!(got[10].1, vec![7 * 7 * 64]);
        assert_eq!(got[11..].iter().map(|r| (r.1[0], r.2)).collect::<Vec<_>>(), [(128, 3136 * 128 + 128), (128, 128 * 128 + 128), (2, 258)]);
        assert_eq!(five.count_params(), (320 + 4 * 16_448 + 401_536 + 16_512 + 258, 0));
        assert_eq!(five.count_params().0, 484_418);

        let seven = steel_cnn_7(&Device::Cpu).unwrap();
        let got = rows(&seven);
        let sides7 = [255, 127, 126, 63, 62, 31, 30, 15, 14, 7, 6, 3, 2, 1];
        for (i, side) in sides7.iter().enumerate() {
            assert_eq!(got[i].1, vec![*side, *side, 64], "layer {i}");
        }
        assert_eq!(got[14].1, vec![64]);
        assert_eq!(got[15..].iter().map(|r| (r.1[0], r.2)).collect::<Vec<_>>(), [(512, 33_280), (256, 131_328), (128, 32_896), (2, 258)]);
        assert_eq!(seven.count_params(), (296_770, 0));
        // kernel_regularizer=l2(0.01) on the three hidden Dense layers only, linear head
        let dense: Vec<_> = seven.layers().iter().filter_map(|l| match l.spec() {
            LayerSpec::Dense { l2, activation, .. } => Some((*l2, *activation)),
            _ => None,
        }).collect();
        assert_eq!(dense, [(Some(0.01), Activation::Relu), (Some(0.01), Activation::Relu), (Some(0.01), Activation::Relu), (None, Activation::Linear)]);
        assert_eq!(seven.summary().total_params, 296_770);
    }

    #[test]
    fn heads() {
        let dev = Device::Cpu;
        let head = |m: &Sequential| match m.layers().last().unwrap().spec() {
            LayerSpec::Dense { units, activation, .. } => (*units, *activation),
            other => panic!("{other:?}"),
        };
        assert_eq!(head(&steel_cnn_5(&dev).unwrap()), (2, Activation::Linear));
        assert_eq!(head(&steel_cnn_5_with_head(&dev, SteelHead::Sigmoid1).unwrap()), (1, Activation::Sigmoid));
        assert_eq!(head(&steel_cnn_5_with_head(&dev, SteelHead::Softmax(5)).unwrap()), (5, Activation::Softmax));
        assert_eq!(head(&steel_cnn_7_with_head(&dev, SteelHead::Softmax(5)).unwrap()), (5, Activation::Softmax));
        assert_eq!(steel_cnn_7_with_head(&dev, SteelHead::Sigmoid1).unwrap().count_params().0, 296_770 - 258 + 129);
        assert!(steel_cnn_5_with_head(&dev, SteelHead::Softmax(0)).is_err());
    }

    /// One forward pass of the smaller network on two 256×256 gray images gives `(2, 2)` raw
    /// outputs, and binary cross-entropy on them clips as Keras does: by hand, for outputs
    /// (1.7, -0.3) and (0.4, 0.7) against one-hot (1, 0) and (0, 1), Keras's
    /// `mean(-(y·log(clip(p)) + (1-y)·log(1-clip(p))), axis=-1)` with clip to [1e-7, 1-1e-7] is
    /// (-ln(1-1e-7) + (-ln(0.6) - ln(0.7)) / 2) / 2 (the first row's 1.7 and -0.3 both clip to the
    /// right answer's side). The fixture case `bce_linear_two_units` of
    /// `tests/fixtures/keras_losses_metrics.json` checks the same against Keras itself.
    #[test]
    fn forward_shape_and_bce_on_linear_outputs() {
        let dev = Device::Cpu;
        let m = steel_cnn_5(&dev).unwrap();
        let x = Tensor::rand(0f32, 1.0, (2, 1, 256, 256), &dev).unwrap();
        assert_eq!(m.forward(&x, false).unwrap().dims(), &[2, 2]);
        let out = Tensor::new(&[[1.7f32, -0.3], [0.4, 0.7]], &dev).unwrap();
        let y = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &dev).unwrap();
        let got = Loss::binary_crossentropy().compute(&out, &y).unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
        let hi = 1.0 - 1e-7f32 as f64; // Keras clips in float32
        let want = (-hi.ln() + (-(0.6f64.ln()) - 0.7f64.ln()) / 2.0) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
