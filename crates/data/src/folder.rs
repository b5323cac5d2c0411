//! Class-folder image sets (torchvision's ImageFolder layout): `<dir>/<class>/<image>`, classes
//! in sorted folder-name order. The faces (`female/`, `male/`) and the CIFAR-10 JPEG folders
//! (`train/<class>/NNNN.jpg`) are such sets.

use std::path::Path;

use candle_core::Device;

use crate::dataset::Dataset;
use crate::decode::{check_dir, image_files, load_listed, spread, Channels, Listed, LoadOptions};
use crate::error::{DataError, Result};
use crate::root::DataRoot;

/// The class folders of `dir`, sorted by name (hidden folders ignored).
pub fn class_folders(dir: impl AsRef<Path>) -> Result<Vec<String>> {
    let dir = dir.as_ref();
    check_dir(dir, "class-folder dataset")?;
    let mut classes: Vec<String> = std::fs::read_dir(dir)
        .map_err(DataError::io(dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::EmptyFolder { path: dir.to_path_buf(), expected: "class folders" });
    }
    Ok(classes)
}

/// Loads an ImageFolder-style set: label = index of the class folder in sorted order. RGB by
/// default; images of different sizes need [`LoadOptions::resize`] (else a
/// [`DataError::MixedSizes`] names the first odd file). The format comes from each file's
/// content (PNG data in a `.jpg` file loads). [`LoadOptions::limit`] applies per class.
///
/// ```
/// use candlebook_data::{load_image_folder, LoadOptions};
/// let dir = std::env::temp_dir().join(format!("candlebook-doc-folder-{}", std::process::id()));
/// for (class, v) in [("cats", 10u8), ("dogs", 200)] {
///     std::fs::create_dir_all(dir.join(class)).unwrap();
///     for i in 0..2 {
///         image::RgbImage::from_pixel(6 + i, 4, image::Rgb([v, v, v])).save(dir.join(class).join(format!("{i}.png"))).unwrap();
///     }
/// }
/// let ds = load_image_folder(&dir, &LoadOptions::default().resize(5, 5).cache(false), &candle_core::Device::Cpu)?;
/// assert_eq!(ds.images.dims(), &[4, 3, 5, 5]);
/// assert_eq!(ds.class_names, vec!["cats", "dogs"]);
/// assert_eq!(ds.labels_vec()?, vec![0, 0, 1, 1]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn load_image_folder(dir: impl AsRef<Path>, opts: &LoadOptions, device: &Device) -> Result<Dataset> {
    let dir = dir.as_ref();
    let classes = class_folders(dir)?;
    let (mut files, mut labels) = (Vec::new(), Vec::new());
    for (k, class) in classes.iter().enumerate() {
        let f = spread(&image_files(&dir.join(class))?, opts.limit);
        labels.extend(std::iter::repeat_n(k as u32, f.len()));
        files.extend(f);
    }
    let name = format!("folder-{}", dir.to_string_lossy());
    load_listed(Listed { name, dir: dir.to_path_buf(), files, labels, extra: vec![], class_names: classes, default_channels: Channels::Rgb }, opts, device)
}

/// The faces set from `<root>/faces` (`female/`, `male/`), resized on load to `opts.resize`
/// (default 100×100, area, as the tutorial's first step), or 200 + 200 generated faces with a
/// `GENERATED DATA:` line.
pub fn faces(root: &DataRoot, opts: &LoadOptions, device: &Device) -> Result<Dataset> {
    let mut opts = opts.clone();
    if opts.resize.is_none() {
        opts.resize = Some((100, 100));
    }
    let dir = root.join("faces");
    if dir.is_dir() {
        return load_image_folder(&dir, &opts, device);
    }
    let ds = crate::generated::faces(opts.limit.map(|l| l.div_ceil(2)).unwrap_or(200), opts.resize.unwrap_or((100, 100)), device)?;
    root.announce_generated(&dir, &ds);
    Ok(ds)
}
