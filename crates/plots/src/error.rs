//! Errors of the plots crate.

use thiserror::Error;

/// What can go wrong when making or saving a figure. Every variant names the offending value.
#[derive(Debug, Error)]
pub enum PlotError {
    /// A tensor that cannot be shown as an image.
    #[error("cannot show a tensor of shape {shape:?} as an image: expected (H, W), (C, H, W) or (1, C, H, W) with C = 1, 3 or 4")]
    BadImageShape { shape: Vec<usize> },
    /// A tensor whose element type cannot be shown.
    #[error("cannot show a tensor of dtype {0} as an image")]
    BadImageDType(String),
    /// Non-finite values where a finite range is needed.
    #[error("{what} contains no finite values")]
    NoFiniteValues { what: String },
    /// A colour map needs at least two colours.
    #[error("a colour map needs at least 2 colours, got {0}")]
    TooFewColours(usize),
    /// Series of different lengths.
    #[error("series '{name}': {x_len} x values but {y_len} y values")]
    LengthMismatch { name: String, x_len: usize, y_len: usize },
    /// An empty figure or series where something must be drawn.
    #[error("nothing to draw: {0}")]
    Empty(String),
    /// Figure size or grid that cannot be laid out.
    #[error("bad figure layout: {0}")]
    BadLayout(String),
    /// A file extension the figure cannot be saved as.
    #[error("cannot save '{path}': unknown extension (use .png or .svg)")]
    UnknownFormat { path: String },
    /// Writing a file failed.
    #[error("cannot write '{path}': {source}")]
    Io { path: String, source: std::io::Error },
    /// Drawing failed inside plotters.
    #[error("drawing failed: {0}")]
    Drawing(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] image::ImageError),
    /// Labels or predictions that are not class indices (from the models crate).
    #[error(transparent)]
    Labels(#[from] candlebook_models::ModelError),
    /// An error from the data crate (e.g. a bad augmentation parameter).
    #[error(transparent)]
    Data(#[from] candlebook_data::DataError),
    /// An error from candle while reading a tensor.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, PlotError>;

/// Converts any plotters drawing error into [`PlotError::Drawing`].
pub(crate) fn drawing<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Drawing(e.to_string())
}
