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
    /// True when the image is a generated stand-in.
    pub fn is_generated(&self) -> bool {
        self.source == ImageSource::Generated
    }
}
