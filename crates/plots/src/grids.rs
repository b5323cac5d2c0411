//! Grids of images: sample grids with captions or titles, feature maps, misclassified examples,
//! and predictions above their probability bars.

use candle_core::{DType, Tensor};

use crate::bar_chart::{argmax, probability_bars, PREDICTED_RED, TRUE_BLUE};
use crate::error::{PlotError, Result};
use crate::figure::{Figure, Panel};
use crate::image_view::{ImageView, IntoImageView};

/// Splits a batch `(N, C, H, W)` (or `(N, H, W)` for one channel) into one view per image.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let batch = Tensor::zeros((4, 3, 8, 8), DType::U8, &Device::Cpu).unwrap();
/// assert_eq!(candlebook_plots::batch_views(&batch).unwrap().len(), 4);
/// ```
pub fn batch_views(batch: &Tensor) -> Result<Vec<ImageView>> {
    let dims = batch.dims().to_vec();
    if !(dims.len() == 3 || dims.len() == 4) {
        return Err(PlotError::BadImageShape { shape: dims });
    }
    (0..dims[0]).map(|i| ImageView::new(&batch.get(i)?)).collect()
}

/// Images in a `rows × cols` grid, each with an optional caption under it (the seeds' sample grids:
/// `plt.subplot(rows, cols, i)`, `plt.xlabel(class_name)`). Titles above images come from each
/// view's `.title(...)`. Missing cells stay empty; more images than cells is an error.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_plots::{batch_views, image_grid};
/// let views = batch_views(&Tensor::zeros((6, 3, 8, 8), DType::U8, &Device::Cpu).unwrap()).unwrap();
/// let fig = image_grid(views.into_iter().map(|v| (v, "cat")), 2, 3).unwrap();
/// assert_eq!(fig.panel_count(), 6);
/// ```
pub fn image_grid<V, S, I>(items: I, rows: usize, cols: usize) -> Result<Figure>
where
    V: IntoImageView,
    S: Into<String>,
    I: IntoIterator<Item = (V, S)>,
{
    if rows == 0 || cols == 0 {
        return Err(PlotError::BadLayout(format!("a {rows}x{cols} grid has no cells")));
    }
    let mut panels = Vec::new();
    for (v, s) in items {
        let caption: String = s.into();
        let view = v.into_image_view()?;
        panels.push(if caption.is_empty() { Panel::image(view) } else { Panel::captioned(view, caption) });
    }
    if panels.is_empty() {
        return Err(PlotError::Empty("image grid has no images".into()));
    }
    if panels.len() > rows * cols {
        return Err(PlotError::BadLayout(format!("{} images do not fit a {rows}x{cols} grid", panels.len())));
    }
    let cell = if cols >= 8 { 150 } else { 200 };
    let mut fig = Figure::grid(rows, cols).size(cell * cols as u32, (cell + 30) * rows as u32);
    for p in panels {
        fig.push(p);
    }
    Ok(fig)
}

/// The name of class `c`, or its number when `class_names` has no entry for it.
fn class_name<S: AsRef<str>>(class_names: &[S], c: usize) -> String {
    class_names.get(c).map_or(c.to_string(), |s| s.as_ref().to_string())
}

/// The first `rows × cols` images of a batch (fewer if the batch is smaller), each captioned with
/// its class name: the seeds' "some images from the training set" figures
/// (`plt.subplot(rows, cols, i)`, `plt.xlabel(class_names[label])`). `labels` holds one class
/// index per image, `(N)`; a label outside `class_names` is shown as its number.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let images = Tensor::zeros((12, 3, 8, 8), DType::U8, &Device::Cpu).unwrap();
/// let labels = Tensor::new(&[0u32, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0], &Device::Cpu).unwrap();
/// let fig = candlebook_plots::labelled_grid(&images, &labels, &["cat", "dog"], 2, 5).unwrap();
/// assert_eq!((fig.grid_shape(), fig.panel_count()), ((2, 5), 10));
/// ```
pub fn labelled_grid<S: AsRef<str>>(images: &Tensor, labels: &Tensor, class_names: &[S], rows: usize, cols: usize) -> Result<Figure> {
    let n = images.dims().first().copied().unwrap_or(0);
    let labels = candlebook_models::class_indices(labels)?;
    if labels.len() != n {
        return Err(PlotError::LengthMismatch { name: "images/labels".into(), x_len: n, y_len: labels.len() });
    }
    let take = n.min(rows * cols);
    let views = batch_views(&images.narrow(0, 0, take)?)?;
    image_grid(views.into_iter().zip(&labels).map(|(v, &l)| (v.axis(false), class_name(class_names, l))), rows, cols)
}

/// The three channels of one RGB image `(3, H, W)` side by side, each drawn from black to its own
/// colour (red, green, blue) in 20 levels: the faces tutorial's channel views
/// (`LinearSegmentedColormap.from_list("Custom", [(0, 0, 0), (1, 0, 0)], N=20)`).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let img = Tensor::rand(0f32, 255f32, (3, 16, 16), &Device::Cpu).unwrap();
/// assert_eq!(candlebook_plots::rgb_channels(&img).unwrap().panel_count(), 3);
/// let gray = Tensor::rand(0f32, 255f32, (1, 16, 16), &Device::Cpu).unwrap();
/// assert!(candlebook_plots::rgb_channels(&gray).is_err());
/// ```
pub fn rgb_channels(image: &Tensor) -> Result<Figure> {
    let dims = image.dims().to_vec();
    if dims.len() != 3 || dims[0] != 3 {
        return Err(PlotError::BadImageShape { shape: dims });
    }
    let colours = [("red", [255, 0, 0]), ("green", [0, 255, 0]), ("blue", [0, 0, 255])];
    let mut fig = Figure::grid(1, 3).size(900, 330);
    for (c, (name, rgb)) in colours.into_iter().enumerate() {
        let view = ImageView::new(&image.get(c)?)?.cmap(crate::Colormap::linear_levels(&[[0, 0, 0], rgb], 20)?);
        fig.push(Panel::captioned(view, name));
    }
    Ok(fig)
}

/// The first `rows × cols` images, each titled `True: <class>` / `Predict: <class>`, no axes: the
/// CIFAR-10 tutorial's 5×5 look at test predictions. `true_labels` and `predicted` hold class
/// indices `(N)`, or `predicted` may be the `(N, K)` probabilities, whose argmax is taken
/// (as [`candlebook_models::class_indices`]).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let images = Tensor::zeros((4, 3, 8, 8), DType::U8, &Device::Cpu).unwrap();
/// let truth = Tensor::new(&[0u32, 1, 1, 0], &Device::Cpu).unwrap();
/// let probs = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], &Device::Cpu).unwrap();
/// let fig = candlebook_plots::prediction_grid(&images, &truth, &probs, &["cat", "dog"], 2, 2).unwrap();
/// assert_eq!(fig.panel_count(), 4);
/// ```
pub fn prediction_grid<S: AsRef<str>>(
    images: &Tensor,
    true_labels: &Tensor,
    predicted: &Tensor,
    class_names: &[S],
    rows: usize,
    cols: usize,
) -> Result<Figure> {
    if rows == 0 || cols == 0 {
        return Err(PlotError::BadLayout(format!("a {rows}x{cols} grid has no cells")));
    }
    let n = images.dims().first().copied().unwrap_or(0);
    let truth = candlebook_models::class_indices(true_labels)?;
    let guess = candlebook_models::class_indices(predicted)?;
    if truth.len() != n || guess.len() != n {
        return Err(PlotError::LengthMismatch { name: "images/true labels/predictions".into(), x_len: n, y_len: truth.len().min(guess.len()) });
    }
    let take = n.min(rows * cols);
    let mut fig = Figure::grid(rows, cols).size(200 * cols as u32, 230 * rows as u32);
    for (i, v) in batch_views(&images.narrow(0, 0, take)?)?.into_iter().enumerate() {
        fig.push(v.axis(false).title(format!("True: {}\nPredict: {}", class_name(class_names, truth[i]), class_name(class_names, guess[i]))));
    }
    Ok(fig)
}

/// Every channel of one layer's output as a grid of small images, each scaled to its own minimum and
/// maximum, drawn with viridis and no axes (the seed's 8×16 grid for 128 channels). Accepts
/// `(C, H, W)` or `(1, C, H, W)`; `cols` channels per row.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let maps = Tensor::rand(0f32, 1f32, (1, 128, 12, 12), &Device::Cpu).unwrap();
/// let fig = candlebook_plots::feature_map_grid(&maps, 16).unwrap();
/// assert_eq!(fig.grid_shape(), (8, 16));
/// assert_eq!(fig.panel_count(), 128);
/// ```
pub fn feature_map_grid(maps: &Tensor, cols: usize) -> Result<Figure> {
    let dims = maps.dims().to_vec();
    let maps = match dims.len() {
        3 => maps.clone(),
        4 if dims[0] == 1 => maps.squeeze(0)?,
        _ => return Err(PlotError::BadImageShape { shape: dims }),
    };
    let (c, h, w) = maps.dims3()?;
    if c == 0 || h == 0 || w == 0 || cols == 0 {
        return Err(PlotError::BadImageShape { shape: dims });
    }
    let rows = c.div_ceil(cols);
    let maps = maps.to_dtype(DType::F32)?;
    let tile = (1600 / cols as u32).clamp(40, 160);
    let mut fig = Figure::grid(rows, cols).size(tile * cols as u32, tile * rows as u32).image_padding(1);
    for ch in 0..c {
        fig.push(Panel::image(ImageView::new(&maps.get(ch)?.unsqueeze(0)?)?.axis(false)));
    }
    Ok(fig)
}

/// The misclassified images (where `predicted != actual`), at most `max` of them, `cols` per row,
/// each titled `Predicted: … / Actual: …` in red. `class_names` may be empty (labels are shown as
/// numbers).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let images = Tensor::zeros((4, 1, 8, 8), DType::U8, &Device::Cpu).unwrap();
/// let fig = candlebook_plots::misclassified_grid(&images, &[0, 1, 2, 3], &[0, 2, 2, 1], &["a", "b", "c", "d"], 10, 5).unwrap();
/// assert_eq!(fig.panel_count(), 2);
/// ```
pub fn misclassified_grid<S: AsRef<str>>(
    images: &Tensor,
    actual: &[usize],
    predicted: &[usize],
    class_names: &[S],
    max: usize,
    cols: usize,
) -> Result<Figure> {
    let n = images.dims().first().copied().unwrap_or(0);
    if actual.len() != n || predicted.len() != n {
        return Err(PlotError::LengthMismatch { name: "images/actual/predicted".into(), x_len: n, y_len: actual.len().min(predicted.len()) });
    }
    let name = |k: usize| class_names.get(k).map_or(k.to_string(), |s| s.as_ref().to_string());
    let wrong: Vec<usize> = (0..n).filter(|&i| actual[i] != predicted[i]).take(max).collect();
    if wrong.is_empty() {
        return Err(PlotError::Empty("no misclassified images".into()));
    }
    let cols = cols.clamp(1, wrong.len());
    let rows = wrong.len().div_ceil(cols);
    // Sized for reading, not for bytes: eight photos to a row at 115 px each (about a 128×128
    // photo's own resolution) stay legible, with under a third of the pixels of 220×260 cells.
    let (cell_w, cell_h) = if cols >= 8 { (115, 150) } else { (220, 260) };
    let mut fig = Figure::grid(rows, cols).size(cell_w * cols as u32, cell_h * rows as u32);
    for i in wrong {
        let title = format!("Predicted: {}\nActual: {}", name(predicted[i]), name(actual[i]));
        fig.push(Panel::image(ImageView::new(&images.get(i)?)?.title(title).title_color(PREDICTED_RED)));
    }
    Ok(fig)
}

/// The fingers notebook's `show_errors`: prints how many of the images are misclassified, then shows
/// up to `max` of them (8 per row) titled `Predicted: … / Actual: …`, inline (evcxr's display
/// protocol on standard output). `actual` and `predicted` are label tensors: `(N,)` class
/// indices or `(N, K)` probabilities / one-hot rows. Returns the number misclassified; none is not
/// an error (it prints that there are none).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let dev = Device::Cpu;
/// let images = Tensor::zeros((3, 1, 8, 8), DType::U8, &dev)?;
/// let actual = Tensor::new(&[0u32, 1, 2], &dev)?;
/// let probs = Tensor::new(&[[0.9f32, 0.05, 0.05], [0.1, 0.2, 0.7], [0.0, 0.0, 1.0]], &dev)?;
/// assert_eq!(candlebook_plots::show_misclassified(&images, &actual, &probs, &["0", "1", "2"], 10)?, 1);
/// assert_eq!(candlebook_plots::show_misclassified(&images, &actual, &actual, &["0", "1", "2"], 10)?, 0);
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn show_misclassified<S: AsRef<str>>(
    images: &Tensor,
    actual: &Tensor,
    predicted: &Tensor,
    class_names: &[S],
    max: usize,
) -> Result<usize> {
    let actual = candlebook_models::class_indices(actual)?;
    let predicted = candlebook_models::class_indices(predicted)?;
    let wrong = candlebook_models::misclassified(&actual, &predicted)?.len();
    let n = actual.len();
    if wrong == 0 {
        println!("no misclassified images (all {n} right)");
        return Ok(0);
    }
    let fig = misclassified_grid(images, &actual, &predicted, class_names, max, 8)?;
    let shown = if wrong > max { format!(", the first {max} shown") } else { String::new() };
    println!("{wrong} of {n} images misclassified{shown}");
    fig.evcxr_display();
    Ok(wrong)
}

/// The seed's probability figure: for each chosen example, the image with the caption
/// `"<predicted> <confidence>% (<true>)"` (blue when right, red when wrong) above its probability bars
/// (predicted class red, true class blue). `probabilities` is `(N, K)`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let images = Tensor::zeros((3, 3, 8, 8), DType::U8, &Device::Cpu).unwrap();
/// let probs = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4]], &Device::Cpu).unwrap();
/// let fig = candlebook_plots::prediction_panel(&images, &probs, &[0, 1, 1], &["cat", "dog"], &[0, 1, 2]).unwrap();
/// assert_eq!(fig.grid_shape(), (2, 3));
/// ```
pub fn prediction_panel<S: AsRef<str>>(
    images: &Tensor,
    probabilities: &Tensor,
    true_labels: &[usize],
    class_names: &[S],
    indices: &[usize],
) -> Result<Figure> {
    let (n, k) = probabilities.dims2()?;
    if images.dims().first().copied() != Some(n) || true_labels.len() != n {
        return Err(PlotError::LengthMismatch { name: "images/probabilities/labels".into(), x_len: n, y_len: true_labels.len() });
    }
    if indices.is_empty() {
        return Err(PlotError::Empty("prediction_panel needs at least one index".into()));
    }
    let probs = probabilities.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let name = |c: usize| class_names.get(c).map_or(c.to_string(), |s| s.as_ref().to_string());
    let cols = indices.len();
    let mut fig = Figure::grid(2, cols).size(200 * cols as u32, 400);
    let mut bars = Vec::new();
    for &i in indices {
        if i >= n {
            return Err(PlotError::BadLayout(format!("index {i} is outside the {n} examples")));
        }
        let p = &probs[i];
        let predicted = argmax(p);
        let truth = true_labels[i];
        if truth >= k {
            return Err(PlotError::BadLayout(format!("true label {truth} of example {i} is outside the {k} classes")));
        }
        let colour = if predicted == truth { TRUE_BLUE } else { PREDICTED_RED };
        let caption = format!("{} {:2.0}% ({})", name(predicted), 100.0 * p[predicted], name(truth));
        let view = ImageView::new(&images.get(i)?)?.cmap(crate::Colormap::Binary).title_color(colour);
        fig.push(Panel::captioned(view, caption));
        bars.push(probability_bars(p, truth)?);
    }
    for b in bars {
        fig.push(b);
    }
    Ok(fig)
}

/// What an `ImageDataGenerator` makes of one image (the course's look at augmented samples): the
/// image itself in the first cell, captioned "original", then `rows × cols − 1` augmented copies
/// drawn with `seed`, each captioned with its number. `image` is `(C, H, W)` float.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::ImageDataGenerator;
/// let image = Tensor::arange(0f32, 64.0, &Device::Cpu)?.reshape((1, 8, 8))?;
/// let datagen = ImageDataGenerator::new().rotation_range(10.0).horizontal_flip(true);
/// let fig = candlebook_plots::augmentation_grid(&datagen, &image, 2, 4, 1)?;
/// assert_eq!(fig.panel_count(), 8);
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn augmentation_grid(datagen: &candlebook_data::ImageDataGenerator, image: &Tensor, rows: usize, cols: usize, seed: u64) -> Result<Figure> {
    if image.rank() != 3 {
        return Err(PlotError::BadImageShape { shape: image.dims().to_vec() });
    }
    let copies = (rows * cols).saturating_sub(1);
    if copies == 0 {
        return Err(PlotError::BadLayout(format!("a {rows}x{cols} grid leaves no cell for an augmented copy")));
    }
    let batch = image.unsqueeze(0)?.repeat((copies, 1, 1, 1))?;
    let augmented = datagen.augment(&batch, seed)?;
    let mut items = vec![(ImageView::new(image)?, "original".to_string())];
    for (k, view) in batch_views(&augmented)?.into_iter().enumerate() {
        items.push((view, format!("augmented {}", k + 1)));
    }
    image_grid(items, rows, cols)
}
