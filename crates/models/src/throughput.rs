//! Training and inference throughput of the seed CNNs on synthetic data: the measurement that
//! `scripts/bench-train` runs as a release binary and `scripts/bench-notebook` runs inside a
//! Jupyter (evcxr) kernel, so that both time exactly the same code.
//!
//! ```
//! use candle_core::Device;
//! use candlebook_models::throughput::{seed_cnn, Throughput};
//! let (model, batch) = seed_cnn("fingers_cnn_bn", &Device::Cpu)?;
//! let t = Throughput::new(&model, batch)?;
//! assert!(t.training(1)? > 0.0); // images per second, after two warm-up steps
//! assert!(t.inference(1)? > 0.0);
//! # Ok::<(), candlebook_models::ModelError>(())
//! ```

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::error::{ModelError, Result};
use crate::optim::{Loss, Optimizer, OptimizerState};
use crate::sequential::Sequential;
use crate::zoo;

/// The four seed CNNs and the batch sizes their tutorials train with.
pub const SEED_CNNS: [(&str, usize); 4] = [("cifar10_cnn", 64), ("fingers_cnn_bn", 32), ("asl_cnn", 32), ("faces_alexnet", 32)];

/// The seed CNN called `name` (one of [`SEED_CNNS`]) and its tutorial's batch size.
pub fn seed_cnn(name: &str, device: &Device) -> Result<(Sequential, usize)> {
    let batch = SEED_CNNS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).ok_or_else(|| {
        let known: Vec<&str> = SEED_CNNS.iter().map(|(n, _)| *n).collect();
        ModelError::Spec(format!("unknown seed CNN '{name}': expected one of {}", known.join(", ")))
    })?;
    let model = match name {
        "cifar10_cnn" => zoo::cifar10_cnn(device)?,
        "fingers_cnn_bn" => zoo::fingers_cnn_bn(device)?,
        "asl_cnn" => zoo::asl_cnn(device)?,
        _ => zoo::faces_alexnet(device)?,
    };
    Ok((model, batch))
}

/// One model, one batch of uniform random images and cycling labels, ready to be timed.
pub struct Throughput<'a> {
    model: &'a Sequential,
    x: Tensor,
    y: Tensor,
}

impl<'a> Throughput<'a> {
    /// A random batch of `batch` images of the model's input shape (on the model's device).
    pub fn new(model: &'a Sequential, batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(ModelError::Spec("batch size must be positive".into()));
        }
        let device = model.device();
        let x = Tensor::rand(0f32, 1f32, model.input_shape().batch_dims(batch), device)?;
        let classes = model.output_shape().batch_dims(1)[1] as u32;
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % classes).collect();
        let y = Tensor::new(labels, device)?.to_dtype(DType::U32)?;
        Ok(Throughput { model, x, y })
    }

    /// Images per second of `steps` training steps (forward, backward, Adam; Keras's
    /// `train_on_batch` with sparse categorical cross-entropy), timed after two warm-up steps.
    pub fn training(&self, steps: usize) -> Result<f64> {
        let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
        let mut opt = OptimizerState::new(Optimizer::adam());
        for _ in 0..2 {
            self.model.train_step(&self.x, &self.y, &loss, &mut opt)?;
        }
        let start = Instant::now();
        for _ in 0..steps {
            self.model.train_step(&self.x, &self.y, &loss, &mut opt)?;
        }
        Ok(rate(steps * self.x.dims()[0], start))
    }

    /// Images per second of `steps` calls of [`Sequential::predict`] (inference mode, in batches
    /// of 32 as Keras's `model.predict`) on [`PREDICT_IMAGES`] random images, timed after one
    /// warm-up call.
    pub fn inference(&self, steps: usize) -> Result<f64> {
        let x = Tensor::rand(0f32, 1f32, self.model.input_shape().batch_dims(PREDICT_IMAGES), self.model.device())?;
        self.model.predict(&x)?;
        let start = Instant::now();
        for _ in 0..steps {
            self.model.predict(&x)?;
        }
        // a GPU queues the work: the time counts only once it is done
        self.model.device().synchronize()?;
        Ok(rate(steps * PREDICT_IMAGES, start))
    }
}

/// How many images one timed `predict` call of [`Throughput::inference`] classifies (eight batches
/// of 32), so that a call's fixed cost weighs as it does on a test set.
pub const PREDICT_IMAGES: usize = 256;

fn rate(images: usize, start: Instant) -> f64 {
    images as f64 / start.elapsed().as_secs_f64()
}
