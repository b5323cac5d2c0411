//! Errors of the kernels crate.

use thiserror::Error;

/// Everything that can go wrong when filtering images. Every variant names the offending value.
#[derive(Debug, Error)]
pub enum KernelError {
    /// A filter kernel with no rows or no columns.
    #[error("empty kernel: a filter kernel needs at least one row and one column (got {rows}x{cols})")]
    EmptyKernel { rows: usize, cols: usize },
    /// Rows of different lengths.
    #[error("ragged kernel: row 0 has {expected} values but row {row} has {got}")]
    RaggedKernel { row: usize, expected: usize, got: usize },
    /// NaN or infinite kernel weight.
    #[error("kernel weight at row {row}, column {col} is {value}; kernel weights must be finite")]
    NonFiniteKernel { row: usize, col: usize, value: f32 },
    /// Gaussian ksize that OpenCV rejects (each side must be odd and positive, or 0 to derive it from sigma).
    #[error("Gaussian ksize must be odd and positive (or 0 with a positive sigma), got {width}x{height}")]
    InvalidKsize { width: usize, height: usize },
    /// Gaussian sigma that is negative or not finite.
    #[error("Gaussian sigma must be finite and >= 0 (0 means: derive it from ksize), got {0}")]
    InvalidSigma(f64),
    /// A tensor that is not an image or a batch of images.
    #[error("expected an image tensor of shape (C, H, W) or a batch (N, C, H, W), got shape {0:?}")]
    BadShape(Vec<usize>),
    /// A tensor with an empty spatial extent.
    #[error("image has an empty side: shape {0:?}")]
    EmptyImage(Vec<usize>),
    /// Wrong element type for the operation.
    #[error("{op} works on {expected} images, got dtype {got}")]
    BadDType { op: &'static str, expected: &'static str, got: String },
    /// Wrong number of channels for the operation.
    #[error("{op} works on images with {expected} channels, got {got}")]
    BadChannels { op: &'static str, expected: &'static str, got: usize },
    /// Canny thresholds that are negative or not finite.
    #[error("Canny thresholds must be finite and >= 0, got low={low}, high={high}")]
    InvalidThreshold { low: f64, high: f64 },
    /// Resize to an empty image.
    #[error("resize target must have a positive width and height, got {width}x{height}")]
    EmptyTarget { width: usize, height: usize },
    /// Pooling window that does not fit.
    #[error("pooling window {window}x{window} with stride {stride} does not fit an image of {height}x{width}")]
    BadPool { window: usize, stride: usize, height: usize, width: usize },
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, KernelError>;
