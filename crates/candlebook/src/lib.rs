//! # candlebook
//!
//! One dependency for a Rust notebook that follows a Keras CNN tutorial: datasets and image
//! loading ([`data`]), OpenCV-exact image filters ([`kernels`]), models and devices ([`models`]),
//! and figures that show inline in Jupyter ([`plots`]). A notebook starts with
//!
//! ```text
//! :dep candlebook = { path = "../crates/candlebook" }
//! use candlebook::prelude::*;
//! ```
//!
//! Backends: the `cuda`, `cudnn` and `metal` features reach candle through every crate.
//!
//! ## Examples
//!
//! ```
//! use candlebook::prelude::*;
//! let device = best_device();
//! let img = Tensor::full(128u8, (3, 32, 32), &device)?;
//! let sharp = filter2d(&img, &Kernel2d::sharpen(), Border::default())?;
//! let fig = side_by_side([(&img, "Image"), (&sharp, "Image Sharpened")])?;
//! assert_eq!(fig.panel_count(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use candle_core;
pub use candlebook_data as data;
pub use candlebook_kernels as kernels;
pub use candlebook_models as models;
pub use candlebook_plots as plots;

/// This crate's version, for a notebook's "versions in use" line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a notebook cell uses, in one import.
///
/// Looking at tensors and scoring predictions without spelling out tensor plumbing:
///
/// ```
/// use candlebook::prelude::*;
/// let device = Device::Cpu;
/// let x = Tensor::new(&[[0f32, 0.5], [1.0, 0.25]], &device)?;
/// println!("x_train {}", TensorSummary::of(&x)?); // x_train shape [2, 2] F32, values 0 to 1, mean 0.4375
/// assert_eq!(value_range(&x)?, (0.0, 1.0));
/// assert!(same_values(&x, &x.copy()?)?);
///
/// let labels = Tensor::new(&[1u32, 0], &device)?;
/// println!("accuracy {:.4}", accuracy(&labels, &x)?); // accuracy 1.0000 (each row's argmax: 1, 0)
/// assert_eq!(accuracy(&labels, &x)?, 1.0);
///
/// let mut model = Sequential::new(Input::flat(2), &device);
/// model.add(Dense::new(2).activation(Activation::Softmax))?;
/// model.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
/// let score: Evaluation = model.evaluate(&x, &labels, 32)?;
/// println!("Test loss: {:.4}, test accuracy: {:.4}", score.loss(), score.accuracy()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod prelude {
    pub use candle_core::{DType, Device, IndexOp, Tensor, D};
    pub use candlebook_data::sign_mnist::class_names as sign_mnist_letters;
    pub use candlebook_data::transform::to_categorical;

    pub use candlebook_data::{
        cifar10, faces, fingers, generated, load_cifar_bin, load_cifar_parquet, load_fingers_dir, load_image,
        load_image_folder, load_severstal_dir, load_sign_mnist_csv, frame_to_tensor, Column, DataFrame, sign_mnist_frame, letter_classes, NotebookDisplay,
        ImageDataGenerator, FillMode, read_npy, read_npz, write_npy, rle_decode, rle_encode,
        same_values, severstal, severstal_options, split_arrays, drop_duplicates, steel_labels, steel_class_names, STEEL_STANDIN_PLATES, sign_mnist, train_test_split, transform, value_range, count_nonzero, Channels,
        DataError, DataRoot, DataSource, Dataset, Hand, HubFile, LoadOptions, LoadedImage, ResizeFilter, Severstal, Split,
        SteelRow, TensorSummary, TrainTestSplit,
    };
    pub use candlebook_kernels::{
        avg_pool, canny, filter2d, gaussian_blur, image_to_tensor, max_pool, resize_area, tensor_to_image,
        Border, Canny, GaussianBlur, ImageFilters, Kernel2d, KernelError,
    };
    pub use candlebook_models::{
        accuracy, best_device, choose_device, classification_report, ClassificationReport, choose_by_validation, class_indices, misclassified, Activation, ActivationLayer, AveragePooling2D, BatchNormalization,
        ConfusionMatrix, Conv2D, Dense, Dropout, Flatten, History, Input, InputShape, MaxPooling2D, ModelError, Padding,
        Sequential, c_sweep, logistic_learning_curve, seed_c_grid, seed_learning_curve_sizes, CSweep, LearningCurvePoints,
        LogisticRegression, EarlyStopping, Evaluation, Fit, Loss, ModelCheckpoint, Optimizer,
    };
    pub use candlebook_models::zoo;
    pub use candlebook_plots::{
        augmentation_grid, graph_results, plate_masks_grid, show_misclassified_plates, mask_overlay, mask_overlay_grid, batch_views, feature_map_grid, history_comparison, image_grid, labelled_grid, learning_curve, loss_comparison, misclassified_grid, parameter_sweep,
        prediction_grid, prediction_panel, rgb_channels, show_misclassified, probability_bars, side_by_side, stack_shared_x, BarChart, Colormap, ConfusionMatrixPlot,
        Figure, ImageView, LearningCurves, LineChart, Panel, PlotError,
    };
}
