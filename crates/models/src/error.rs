//! Errors of the models crate.

use thiserror::Error;

/// What can go wrong in the models crate. Every variant names the offending value.
///
/// ```
/// use candlebook_models::ConfusionMatrix;
/// let e = ConfusionMatrix::from_labels(&[0, 1], &[0], 2).unwrap_err();
/// assert_eq!(e.to_string(), "true labels vs predicted labels: 2 vs 1 entries");
/// ```
#[derive(Debug, Error)]
pub enum ModelError {
    /// Series or label lists whose lengths disagree.
    #[error("{what}: {left} vs {right} entries")]
    LengthMismatch { what: String, left: usize, right: usize },
    /// A class label outside `0..n_classes`.
    #[error("{what} holds label {label} at position {index}, but there are only {n_classes} classes (0..{n_classes})")]
    LabelOutOfRange { what: &'static str, label: usize, index: usize, n_classes: usize },
    /// A layer specification that cannot be built.
    #[error("{0}")]
    Spec(String),
    /// A tensor or layer shape that does not fit.
    #[error("{0}")]
    Shape(String),
    /// Weights that do not match the architecture.
    #[error("weights do not match the model: {0}")]
    WeightMismatch(String),
    /// Reading or writing a file failed.
    #[error("cannot access {path}: {reason}")]
    File { path: String, reason: String },
    /// A NaN or infinite value where training needs a finite one.
    #[error("training stopped: {0}")]
    NonFinite(String),
    /// A required value that is missing or empty.
    #[error("{0}")]
    Empty(String),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from the data crate (e.g. a bad augmentation parameter).
    #[error(transparent)]
    Data(#[from] candlebook_data::DataError),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
