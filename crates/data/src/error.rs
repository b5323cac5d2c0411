//! Errors of the data crate.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong when finding or reading data. Every variant names the file or value.
#[derive(Debug, Error)]
pub enum DataError {
    /// A path that does not exist.
    #[error("{what} not found: {path}")]
    NotFound { what: &'static str, path: PathBuf },
    /// A path that exists but is not what was expected.
    #[error("{path} is not a {expected}")]
    WrongKind { path: PathBuf, expected: &'static str },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A file that is not a decodable image.
    #[error("cannot decode {path} as an image (expected PNG or JPEG data): {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    /// An error from the kernels crate.
    #[error(transparent)]
    Kernel(#[from] candlebook_kernels::KernelError),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DataError>;
