//! Errors of the data crate.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong when finding or reading data. Every variant names the file or value and
/// what was expected; library code returns these instead of panicking.
#[derive(Debug, Error)]
pub enum DataError {
    /// A path that does not exist.
    #[error("{what} not found: {path}")]
    NotFound { what: &'static str, path: PathBuf },
    /// A path that exists but is not what was expected.
    #[error("{path} is not a {expected}")]
    WrongKind { path: PathBuf, expected: &'static str },
    /// A folder that holds none of the files a loader looks for.
    #[error("{path} holds no {expected}")]
    EmptyFolder { path: PathBuf, expected: &'static str },
    /// Reading or writing a file failed.
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A file that is not a decodable image.
    #[error("cannot decode {path} as an image (expected PNG or JPEG data): {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    /// Images of one dataset that do not share a size (and no resize was asked for).
    #[error("{path} is {got_w}x{got_h}, but the dataset's images are {want_w}x{want_h}; ask for a resize on load")]
    MixedSizes { path: PathBuf, want_w: usize, want_h: usize, got_w: usize, got_h: usize },
    /// A file name that does not carry a label in the expected form.
    #[error("cannot read a label from the file name {name:?}: expected {expected}")]
    BadFileName { name: String, expected: &'static str },
    /// A CSV row with the wrong number of columns.
    #[error("{path}: row {row} has {got} columns, expected {expected}")]
    CsvColumns { path: PathBuf, row: usize, expected: usize, got: usize },
    /// A CSV cell that is not what its column holds.
    #[error("{path}: row {row}, column {column}: {value:?} is not {expected}")]
    CsvValue { path: PathBuf, row: usize, column: String, value: String, expected: &'static str },
    /// A CSV file without the expected header or columns.
    #[error("{path}: {message}")]
    CsvFormat { path: PathBuf, message: String },
    /// A label outside the classes of a dataset or an encoding.
    #[error("label {label} out of range: expected {expected}")]
    LabelOutOfRange { label: i64, expected: String },
    /// A run-length encoding that is malformed or reaches past the image.
    #[error("bad run-length encoding: {message}")]
    Rle { message: String },
    /// A binary file whose length or content does not fit its format.
    #[error("{path}: {message}")]
    BadFormat { path: PathBuf, message: String },
    /// A cache file written by another version of this crate (or not by it at all).
    #[error("cache file {path} has format {found:?}, expected {expected:?}; delete it or load without the cache")]
    CacheVersion { path: PathBuf, found: String, expected: String },
    /// A split or transform asked for something impossible.
    #[error("{0}")]
    BadArgument(String),
    /// An augmentation parameter out of its range (see `ImageDataGenerator::validate`).
    #[error("augmentation parameter {parameter} = {value}: expected {expected}")]
    BadAugmentation { parameter: &'static str, value: String, expected: &'static str },
    /// A loader whose format this build leaves out (a cargo feature that is off).
    #[error("{what} needs the `{feature}` feature: add features = [\"{feature}\"] to the candlebook (or candlebook-data) dependency, e.g. `:dep candlebook = {{ path = \"../crates/candlebook\", features = [\"{feature}\"] }}`")]
    FeatureDisabled { feature: &'static str, what: String },
    /// Reading CSV or parquet through polars failed.
    #[error("{path}: {source}")]
    Polars { path: PathBuf, source: polars::error::PolarsError },
    /// Reading a safetensors cache failed.
    #[error("{path}: {source}")]
    SafeTensors { path: PathBuf, source: safetensors::SafeTensorError },
    /// Reading an .npz archive failed.
    #[error("{path}: {source}")]
    Zip { path: PathBuf, source: zip::result::ZipError },
    /// The hub file is neither in the local cache nor downloadable (offline, or built without
    /// the `hub-download` feature, or the download failed).
    #[error("{repo}/{file} is not in the hub cache {cache}: {why}")]
    HubMissing { repo: String, file: String, cache: PathBuf, why: String },
    /// An error from the kernels crate.
    #[error(transparent)]
    Kernel(#[from] candlebook_kernels::KernelError),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DataError>;
