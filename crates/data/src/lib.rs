//! # candlebook-data
//!
//! The tutorials' datasets as candle tensors: a [`Dataset`] type (images `(N, C, H, W)`, labels,
//! class names, where they came from) with slicing, batching and the conversions the models
//! want; loaders for each dataset's real on-disk format ([`fingers`], [`load_image_folder`] and
//! [`faces`], [`cifar10`] from JPEG folders, binary batches or the Hugging Face hub's parquet,
//! [`sign_mnist`] CSVs (also as polars frames, shown as HTML tables in a notebook through
//! [`NotebookDisplay`]), [`severstal`] with run-length-encoded masks, [`read_npy`]/[`read_npz`]);
//! parallel decoding with progress lines and an on-disk cache; [`transform`]s; scikit-learn's
//! [`train_test_split`]; a tensor's [`value_range`] and [`TensorSummary`], and [`same_values`]
//! for two tensors; Keras's [`ImageDataGenerator`] augmentation (random rotations, shifts, zooms,
//! flips; [`apply_affine_transform`]); and [`generated`] stand-ins, used — and announced with a
//! `GENERATED DATA:` line — when the real files are absent.
//!
//! Loaders look under [`DataRoot`]: the folder named by `CANDLEBOOK_DATA`, else `data/` (see
//! the project's `data/README.md` for each dataset's layout and how to fetch it).
//!
//! ## Examples
//!
//! ```
//! use candle_core::Device;
//! use candlebook_data::*;
//!
//! let root = DataRoot::at(std::env::temp_dir().join("candlebook-no-data-here"));
//! // prints "GENERATED DATA: .../fingers/train not found, using 720 drawn 128x128 hands ..."
//! let ds = fingers(&root, Split::Train, &LoadOptions::default().limit(120), &Device::Cpu)?;
//! assert!(ds.is_generated());
//! let small = ds.max_pool(4)?.to_f32()?; // 128x128 -> 32x32, 0..1
//! assert_eq!(small.images.dims()[1..], [1, 32, 32]);
//! let (train, test) = train_test_split(&small, &TrainTestSplit::new(0.2).seed(0).stratify(true))?;
//! assert_eq!((train.len(), test.len()), (96, 24));
//! assert_eq!(train.one_hot()?.dims(), &[96, 6]);
//!
//! let face = root.image_or_generated("faces/female/0 (487).jpg", &Device::Cpu, generated::face)?;
//! assert_eq!(face.image.dims(), &[3, 448, 336]);
//! # Ok::<(), candlebook_data::DataError>(())
//! ```

mod augment;
mod cache;
mod cifar;
mod dataset;
mod decode;
mod error;
mod fingers;
mod frame;
mod folder;
pub mod generated;
mod hub;
mod image_file;
mod npy;
mod progress;
mod rng;
mod rle;
mod root;
mod same_values;
mod severstal;
pub mod sign_mnist;
mod split;
mod tensor_summary;
pub mod transform;

pub use augment::{
    apply_affine_transform, apply_affine_transform_generic, generic_cpu_kernels, AffineParams, FillMode, ImageDataGenerator, CPU_KERNELS_ENV,
};
pub use cifar::{cifar10, cifar10_hub_file, cifar_bin_files, load_cifar_bin, load_cifar_parquet};
pub use cache::{default_cache_dir, read_cache, write_cache, CACHE_ENV, CACHE_FORMAT};
pub use dataset::{DataSource, Dataset, Skipped};
pub use decode::{Channels, LoadOptions, ResizeFilter};
pub use error::{DataError, Result};
/// polars, as the data crate uses it (its `DataFrame` and `Column` name the frames' types).
pub use polars;
pub use polars::prelude::{Column, DataFrame};
pub use frame::{drop_duplicates, frame_html, frame_to_tensor, NotebookDisplay, MAX_TABLE_COLUMNS, MAX_TABLE_ROWS};
pub use fingers::{fingers, load_fingers_dir, parse_finger_name, Hand};
pub use folder::{class_folders, faces, load_image_folder};
pub use hub::{offline, HubFile};
pub use image_file::load_image;
pub use npy::{parse_npy, read_npy, read_npz, write_npy};
pub use rng::XorShift;
pub use rle::{rle_decode, rle_encode, rle_runs};
pub use root::{DataRoot, ImageSource, LoadedImage, DATA_ENV};
pub use severstal::{
    generated_steel, generated_steel_plate, load_severstal_dir, steel_class_names, STEEL_STANDIN_PLATES, read_severstal_csv, severstal, severstal_options, steel_labels, Severstal, SteelRow,
    STEEL_HEIGHT, STEEL_WIDTH,
};
pub use sign_mnist::{letter_classes, load_sign_mnist_csv, read_sign_mnist_frame, sign_mnist, sign_mnist_csv_path, sign_mnist_frame};
pub use same_values::same_values;
pub use split::{split_arrays, train_test_split, Split, TestSize, TrainTestSplit};
pub use tensor_summary::{count_nonzero, value_range, TensorSummary};
