//! # candlebook-data
//!
//! Finding and reading the tutorials' data: [`DataRoot`] (the `CANDLEBOOK_DATA` folder or the
//! project's `data/`), [`load_image`] for PNG/JPEG files (format from content, errors that name the
//! file), and [`generated`] stand-ins used — and announced — when the real files are absent.
//!
//! ## Examples
//!
//! ```
//! use candle_core::Device;
//! use candlebook_data::{generated, DataRoot};
//!
//! let root = DataRoot::at(std::env::temp_dir().join("candlebook-no-data-here"));
//! // prints "GENERATED DATA: ... not found, using a generated 336x448 stand-in ..."
//! let face = root.image_or_generated("faces/female/0 (487).jpg", &Device::Cpu, generated::face)?;
//! assert!(face.is_generated());
//! assert_eq!(face.image.dims(), &[3, 448, 336]);
//! # Ok::<(), candlebook_data::DataError>(())
//! ```

mod error;
pub mod generated;
mod image_file;
mod root;

pub use error::{DataError, Result};
pub use image_file::load_image;
pub use root::{DataRoot, ImageSource, LoadedImage, DATA_ENV};
