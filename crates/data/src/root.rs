//! Where datasets live: `CANDLEBOOK_DATA`, else the project's `data/` folder.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::error::{DataError, Result};
use crate::image_file::load_image;

/// The environment variable that points at the datasets folder.
pub const DATA_ENV: &str = "CANDLEBOOK_DATA";

/// The folder holding the datasets (`faces/`, `fingers/`, `cifar10/`, ...).
///
/// [`DataRoot::locate`] takes `CANDLEBOOK_DATA` when it is set (and fails if that folder does not
/// exist, rather than silently using other data); otherwise the first of `./data` and `../data`
/// that exists (so notebooks in `notebooks/` find the project's `data/`), else `./data`.
///
/// ```
/// use candlebook_data::DataRoot;
/// let root = DataRoot::at(std::env::temp_dir());
/// assert!(!root.has("no/such/file.png"));
/// assert!(DataRoot::at("/definitely/not/here").check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoot {
    path: PathBuf,
    from_env: bool,
}

impl DataRoot {
    /// A root at an explicit folder.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), from_env: false }
    }

    /// Finds the root as described on the type.
    pub fn locate() -> Result<Self> {
        if let Some(p) = std::env::var_os(DATA_ENV).filter(|p| !p.is_empty()) {
            let root = Self { path: PathBuf::from(p), from_env: true };
            root.check()?;
            return Ok(root);
        }
        let candidates = [PathBuf::from("data"), PathBuf::from("../data")];
        let path = candidates.iter().find(|p| p.is_dir()).cloned().unwrap_or_else(|| candidates[0].clone());
        Ok(Self { path, from_env: false })
    }

    /// Fails with a named error when the folder does not exist or is not a folder.
    pub fn check(&self) -> Result<()> {
        if !self.path.exists() {
            return Err(DataError::NotFound { what: "data folder", path: self.path.clone() });
        }
        if !self.path.is_dir() {
            return Err(DataError::WrongKind { path: self.path.clone(), expected: "folder" });
        }
        Ok(())
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the root.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.path.join(relative)
    }

    /// True when `relative` exists under the root.
    pub fn has(&self, relative: impl AsRef<Path>) -> bool {
        self.join(relative).exists()
    }

    /// Loads the image at `relative` when it exists; otherwise calls `fallback` for a generated
    /// stand-in. Prints one line saying which it used, so a notebook's output never passes
    /// generated data off as real.
    pub fn image_or_generated(
        &self,
        relative: impl AsRef<Path>,
        device: &Device,
        fallback: impl FnOnce(&Device) -> Result<Tensor>,
    ) -> Result<LoadedImage> {
        let path = self.join(relative.as_ref());
        if path.exists() {
            let image = load_image(&path, device)?;
            let (c, h, w) = image.dims3()?;
            println!("REAL DATA: loaded {} ({w}x{h}, {c} channels)", path.display());
            Ok(LoadedImage { image, source: ImageSource::File(path) })
        } else {
            let image = fallback(device)?;
            let (c, h, w) = image.dims3()?;
            let hint = if self.from_env { "" } else { "; set CANDLEBOOK_DATA to the datasets folder for the real image" };
            println!(
                "GENERATED DATA: {} not found, using a generated {w}x{h} stand-in ({c} channels){hint}",
                path.display()
            );
            Ok(LoadedImage { image, source: ImageSource::Generated })
        }
    }
}

impl DataRoot {
    /// The first `n` images (by file name) of the folder `relative`, each at its own size, for a
    /// look at raw files before any resizing (`(C, H, W)` u8 as [`load_image`] reads them). When the folder is absent,
    /// `n` stand-ins from `fallback(i, device)`. Prints one line saying which, like
    /// [`DataRoot::image_or_generated`]. A folder holding fewer than `n` images gives them all;
    /// one that cannot be decoded is an error naming the file.
    ///
    /// ```
    /// use candlebook_data::{generated, DataRoot};
    /// let root = DataRoot::at("/nonexistent/datasets");
    /// let dev = candle_core::Device::Cpu;
    /// let photos = root.first_images_or_generated("faces/female", 3, &dev, |i, d| generated::face_photo(i, 0, d))?;
    /// assert_eq!(photos.len(), 3);
    /// assert!(photos.iter().all(|p| p.is_generated()));
    /// assert_ne!(photos[0].image.dims(), photos[1].image.dims());
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn first_images_or_generated(
        &self,
        relative: impl AsRef<Path>,
        n: usize,
        device: &Device,
        fallback: impl Fn(usize, &Device) -> Result<Tensor>,
    ) -> Result<Vec<LoadedImage>> {
        let dir = self.join(relative.as_ref());
        if dir.exists() {
            let files = crate::decode::image_files(&dir)?;
            let out = files
                .iter()
                .take(n)
                .map(|f| {
                    let image = load_image(f, device)?;
                    Ok(LoadedImage { image, source: ImageSource::File(f.clone()) })
                })
                .collect::<Result<Vec<_>>>()?;
            let sizes: Vec<String> = out.iter().map(|l| l.image.dims3().map(|(_, h, w)| format!("{w}x{h}"))).collect::<candle_core::Result<_>>()?;
            println!("REAL DATA: the first {} of {} images in {} ({})", out.len(), files.len(), dir.display(), sizes.join(", "));
            Ok(out)
        } else {
            let out = (0..n).map(|i| Ok(LoadedImage { image: fallback(i, device)?, source: ImageSource::Generated })).collect::<Result<Vec<_>>>()?;
            let hint = if self.from_env { "" } else { "; set CANDLEBOOK_DATA to the datasets folder for the real images" };
            println!("GENERATED DATA: {} not found, using {n} generated stand-ins{hint}", dir.display());
            Ok(out)
        }
    }

    /// True when the root came from `CANDLEBOOK_DATA`.
    pub fn from_env(&self) -> bool {
        self.from_env
    }

    /// Prints the `GENERATED DATA:` line for a dataset loader that fell back to `ds` because
    /// `missing` was not found.
    pub fn announce_generated(&self, missing: &Path, ds: &crate::Dataset) {
        let hint = if self.from_env { "" } else { "; set CANDLEBOOK_DATA to the datasets folder (see data/README.md) for the real data" };
        let what = match &ds.source {
            crate::DataSource::Generated(w) => w.clone(),
            other => other.to_string(),
        };
        println!("GENERATED DATA: {} not found, using {what}{hint}", missing.display());
    }
}

/// Where an image came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Read from this file.
    File(PathBuf),
    /// Made by the project's generator (the real file was absent).
    Generated,
}

/// An image tensor `(C, H, W)` u8 and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The pixels.
    pub image: Tensor,
    /// File or generated.
    pub source: ImageSource,
}

impl LoadedImage {
    /// Width × height in pixels, as a caption: `"300×400"`.
    ///
    /// ```
    /// use candlebook_data::{DataRoot, generated};
    /// let dev = candle_core::Device::Cpu;
    /// let photos = DataRoot::at("/nowhere").first_images_or_generated("faces/female", 2, &dev, |i, d| generated::face_photo(i, 0, d))?;
    /// assert_eq!(photos[0].size_label(), "300×400");
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn size_label(&self) -> String {
        match self.image.dims() {
            [.., h, w] => format!("{w}×{h}"),
            dims => format!("{dims:?}"),
        }
    }

    /// True when the image is a generated stand-in.
    pub fn is_generated(&self) -> bool {
        self.source == ImageSource::Generated
    }
}
