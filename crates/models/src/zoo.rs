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
