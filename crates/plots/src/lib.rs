//! # candlebook-plots
//!
//! Figures for notebooks, each one call: images (tensors or `image` buffers, RGB or one channel
//! through a colour map), side-by-side panels and grids with captions or coloured titles,
//! feature-map grids, misclassified examples, predictions above their probability bars, loss and
//! accuracy curves from a `History`, learning curves, hyperparameter sweeps (log x), stacks of
//! charts sharing x, and confusion-matrix heatmaps, drawn with plotters. Every
//! figure shows inline in evcxr (Jupyter's Rust kernel) as a PNG when it is a cell's last value,
//! and saves to PNG or SVG. Text uses an embedded DejaVu Sans, so figures render the same on a
//! machine with no system fonts.
//!
//! ## Examples
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use candlebook_plots::{side_by_side, Colormap, ImageView};
//!
//! let img = Tensor::zeros((3, 64, 64), DType::U8, &Device::Cpu)?;
//! let edges = Tensor::zeros((1, 64, 64), DType::U8, &Device::Cpu)?;
//! // as plt.subplot(1, 2, i); plt.imshow(...); plt.xlabel(...)
//! let fig = side_by_side([(ImageView::new(&img)?, "Image"), (ImageView::new(&edges)?.cmap(Colormap::Gray), "Edges")])?;
//! let dir = std::env::temp_dir();
//! fig.save(dir.join("candlebook-doc-example.png"))?;
//! fig.save(dir.join("candlebook-doc-example.svg"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bar_chart;
mod colormap;
mod confusion_plot;
mod error;
mod figure;
mod font;
mod grids;
mod history_plots;
mod image_view;
mod line_chart;
mod mask_overlay;
mod viridis;

pub use bar_chart::{probability_bars, BarChart, BAR_GREY, PREDICTED_RED, TRUE_BLUE};
pub use colormap::Colormap;
pub use confusion_plot::ConfusionMatrixPlot;
pub use error::{PlotError, Result};
pub use figure::{side_by_side, Figure, Panel};
pub use font::FONT_FAMILY;
pub use grids::{augmentation_grid, batch_views, feature_map_grid, image_grid, labelled_grid, misclassified_grid, prediction_grid, prediction_panel, rgb_channels, show_misclassified};
pub use history_plots::{graph_results, history_comparison, learning_curve, loss_comparison, parameter_sweep, stack_shared_x, LearningCurves};
pub use image_view::{ImageView, IntoImageView};
pub use line_chart::{LineChart, Series, TAB10};
pub use mask_overlay::{plate_masks_grid, show_misclassified_plates, mask_colour, mask_overlay, mask_overlay_grid, mask_overlay_named, MASK_COLOURS, MASK_COLOUR_NAMES};
