//! # candlebook-models
//!
//! Keras-style building blocks for the tutorials' CNNs. So far: device selection ([`best_device`]
//! picks CUDA, then Metal, then the CPU, and prints what it picked, so a notebook runs unchanged on
//! a laptop and on a GPU machine) and the small result types the plots crate draws: [`History`]
//! (per-epoch metrics), [`ConfusionMatrix`] and [`misclassified`].
//!
//! ## Examples
//!
//! ```
//! use candlebook_models::best_device;
//! let device = best_device(); // prints e.g. "device: CPU (2 threads; built without the cuda/metal features)"
//! let x = candle_core::Tensor::zeros((2, 3), candle_core::DType::F32, &device)?;
//! assert_eq!(x.dims(), &[2, 3]);
//! # Ok::<(), candle_core::Error>(())
//! ```

mod accuracy;
mod classification_report;
mod confusion;
mod cpu;
mod device;
mod error;
mod evaluation;
mod fit;
mod history;
mod keras_import;
mod logistic;
mod ops;
mod optim;
mod persist;
mod sequential;
mod spec;
mod summary;
pub mod throughput;
pub mod zoo;

pub use accuracy::accuracy;
pub use evaluation::choose_by_validation;
pub use classification_report::{classification_report, ClassLabels, ClassificationReport};
pub use confusion::{class_indices, misclassified, ConfusionMatrix};
pub use cpu::{fast_cpu_kernels, CPU_KERNELS_ENV};
pub use device::{best_device, choose_device, DeviceChoice};
pub use error::{ModelError, Result};
pub use evaluation::Evaluation;
pub use fit::{Compiled, EarlyStopping, Fit, Mode, ModelCheckpoint, Validation};
pub use history::History;
pub use logistic::{c_sweep, logistic_learning_curve, seed_c_grid, seed_learning_curve_sizes, CSweep, LbfgsStop, LearningCurvePoints, LogisticRegression};
pub use optim::{Loss, Optimizer, OptimizerState};
pub use persist::write_atomic;
pub use ops::{avg_pool2d_keras, conv2d_keras, max_pool2d_keras, pad_same, same_padding, window_output};
pub use sequential::{Input, InputShape, Layer, Sequential};
pub use spec::{ActivationLayer, Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, LayerSpec, MaxPooling2D, Padding};
pub use summary::Summary;
