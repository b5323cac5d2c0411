//! Errors of the models crate.

use thiserror::Error;

/// What can go wrong in the models crate. Every variant names the offending value.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Series or label lists whose lengths disagree.
    #[error("{what}: {left} vs {right} entries")]
    LengthMismatch { what: String, left: usize, right: usize },
    /// A class label outside `0..n_classes`.
    #[error("{what} holds label {label} at position {index}, but there are only {n_classes} classes (0..{n_classes})")]
    LabelOutOfRange { what: &'static str, label: usize, index: usize, n_classes: usize },
    /// A required value that is missing or empty.
    #[error("{0}")]
    Empty(String),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
