//! The dataset type: images `(N, C, H, W)`, labels, class names and where they came from.

use std::fmt;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

use crate::error::{DataError, Result};
use crate::transform;

/// Where a dataset's samples came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// Decoded from the real files under this path.
    Files(PathBuf),
    /// Read from the decode cache `cache`, made from the real files under `files`.
    Cache { cache: PathBuf, files: PathBuf },
    /// Drawn by the project's generator because the real data was absent; says what was drawn.
    Generated(String),
}

impl DataSource {
    /// True for generated stand-in data.
    pub fn is_generated(&self) -> bool {
        matches!(self, DataSource::Generated(_))
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Files(p) => write!(f, "REAL DATA from {}", p.display()),
            DataSource::Cache { cache, files } => {
                write!(f, "REAL DATA from {} (cached in {})", files.display(), cache.display())
            }
            DataSource::Generated(what) => write!(f, "GENERATED DATA ({what})"),
        }
    }
}

/// A file that a loader skipped in skip-and-report mode, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// The error message.
    pub reason: String,
}

/// Images, labels and class names of one split of a dataset.
///
/// `images` is `(N, C, H, W)`, u8 as loaded (or f32 after [`Dataset::to_f32`]); `labels` is `(N,)`
/// u32 class indices into `class_names`. `extra` holds further per-sample label columns (the
/// fingers' hand, sign-language MNIST's original labels, ...). Slicing keeps every column aligned.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_data::{DataSource, Dataset};
/// let images = Tensor::zeros((4, 1, 2, 2), DType::U8, &Device::Cpu)?;
/// let labels = Tensor::new(&[0u32, 1, 1, 0], &Device::Cpu)?;
/// let ds = Dataset::new(images, labels, vec!["a".into(), "b".into()], DataSource::Generated("zeros".into()))?;
/// assert_eq!(ds.len(), 4);
/// assert_eq!(ds.class_counts()?, vec![2, 2]);
/// let head = ds.narrow(1, 2)?;
/// assert_eq!(head.labels_vec()?, vec![1, 1]);
/// assert_eq!(ds.one_hot()?.dims(), &[4, 2]);
/// assert_eq!(ds.to_f32()?.flatten()?.images.dims(), &[4, 4]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `(N, C, H, W)` pixels (or `(N, D)` after [`Dataset::flatten`], `(N, H, W, C)` after
    /// [`Dataset::nhwc`]).
    pub images: Tensor,
    /// `(N,)` u32 class indices.
    pub labels: Tensor,
    /// Names of the classes, index = label.
    pub class_names: Vec<String>,
    /// Real files, cache, or generated.
    pub source: DataSource,
    /// Further per-sample columns, `(name, (N,) tensor)`.
    pub extra: Vec<(String, Tensor)>,
    /// Files skipped in skip-and-report mode.
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// A dataset from its parts; checks that images and labels agree on N, and that every label
    /// is a class index.
    pub fn new(images: Tensor, labels: Tensor, class_names: Vec<String>, source: DataSource) -> Result<Self> {
        let n = images.dims().first().copied().unwrap_or(0);
        let labels = labels.to_dtype(DType::U32)?;
        if labels.dims() != [n] {
            return Err(DataError::BadArgument(format!(
                "labels have shape {:?}, expected ({n},) to match the images {:?}",
                labels.dims(),
                images.dims()
            )));
        }
        let ds = Self { images, labels, class_names, source, extra: Vec::new(), skipped: Vec::new() };
        if n > 0 && !ds.class_names.is_empty() {
            let max = ds.labels.max(0)?.to_scalar::<u32>()?;
            if max as usize >= ds.class_names.len() {
                return Err(DataError::LabelOutOfRange {
                    label: max as i64,
                    expected: format!("0..{} ({} class names)", ds.class_names.len(), ds.class_names.len()),
                });
            }
        }
        Ok(ds)
    }

    /// Adds a per-sample column (u32, `(N,)`).
    pub fn with_extra(mut self, name: impl Into<String>, column: Tensor) -> Result<Self> {
        let column = column.to_dtype(DType::U32)?;
        if column.dims() != [self.len()] {
            return Err(DataError::BadArgument(format!("extra column has shape {:?}, expected ({},)", column.dims(), self.len())));
        }
        self.extra.push((name.into(), column));
        Ok(self)
    }

    /// A per-sample column by name.
    pub fn extra(&self, name: &str) -> Option<&Tensor> {
        self.extra.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The same images labelled by one of the per-sample columns instead (e.g. the fingers' `hand`
    /// column, for a left/right classifier); the old labels become a column named `previous`.
    ///
    /// ```
    /// use candle_core::{DType, Device, Tensor};
    /// use candlebook_data::{DataSource, Dataset};
    /// let dev = Device::Cpu;
    /// let images = Tensor::zeros((3, 1, 2, 2), DType::U8, &dev)?;
    /// let ds = Dataset::new(images, Tensor::new(&[0u32, 5, 3], &dev)?, (0..6).map(|d| d.to_string()).collect(), DataSource::Generated("zeros".into()))?
    ///     .with_extra("hand", Tensor::new(&[1u32, 0, 1], &dev)?)?;
    /// let by_hand = ds.labels_from_column("hand", &["L", "R"])?;
    /// assert_eq!(by_hand.labels_vec()?, vec![1, 0, 1]);
    /// assert_eq!(by_hand.class_counts()?, vec![1, 2]);
    /// assert!(ds.labels_from_column("colour", &["a"]).is_err());
    /// assert!(ds.labels_from_column("hand", &["only one"]).is_err());
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn labels_from_column<S: AsRef<str>>(&self, column: &str, class_names: &[S]) -> Result<Self> {
        let labels = self.extra(column).cloned().ok_or_else(|| {
            let have: Vec<&str> = self.extra.iter().map(|(n, _)| n.as_str()).collect();
            DataError::BadArgument(format!("no per-sample column named '{column}' (this dataset has {have:?})"))
        })?;
        let names = class_names.iter().map(|s| s.as_ref().to_string()).collect();
        let mut out = Dataset::new(self.images.clone(), labels, names, self.source.clone())?;
        out.extra = self.extra.iter().filter(|(n, _)| n != column).cloned().collect();
        out.extra.push(("previous".into(), self.labels.clone()));
        out.skipped = self.skipped.clone();
        Ok(out)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// True when the samples are generated stand-ins.
    pub fn is_generated(&self) -> bool {
        self.source.is_generated()
    }

    /// The labels as a vector.
    pub fn labels_vec(&self) -> Result<Vec<u32>> {
        Ok(self.labels.to_vec1::<u32>()?)
    }

    /// The distinct label values, sorted (NumPy's `np.unique(labels)`).
    ///
    /// ```
    /// use candlebook_data::{generated, Split};
    /// let ds = generated::cifar10(Split::Test, 2, &candle_core::Device::Cpu)?;
    /// assert_eq!(ds.unique_labels()?, (0..10).collect::<Vec<u32>>());
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn unique_labels(&self) -> Result<Vec<u32>> {
        let mut v = self.labels_vec()?;
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    /// Samples per class (a label histogram), index = class.
    pub fn class_counts(&self) -> Result<Vec<usize>> {
        let mut counts = vec![0usize; self.num_classes()];
        for l in self.labels_vec()? {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        Ok(counts)
    }

    fn map_rows(&self, f: impl Fn(&Tensor) -> candle_core::Result<Tensor>) -> Result<Self> {
        Ok(Self {
            images: f(&self.images)?,
            labels: f(&self.labels)?,
            class_names: self.class_names.clone(),
            source: self.source.clone(),
            extra: self.extra.iter().map(|(n, t)| Ok((n.clone(), f(t)?))).collect::<Result<_>>()?,
            skipped: self.skipped.clone(),
        })
    }

    /// Samples `start..start + len` (no copy).
    pub fn narrow(&self, start: usize, len: usize) -> Result<Self> {
        if start + len > self.len() {
            return Err(DataError::BadArgument(format!("narrow {start}..{} of a dataset of {}", start + len, self.len())));
        }
        self.map_rows(|t| t.narrow(0, start, len))
    }

    /// The samples at `indices`, in that order.
    pub fn index_select(&self, indices: &[u32]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i as usize >= self.len()) {
            return Err(DataError::BadArgument(format!("index {bad} out of a dataset of {}", self.len())));
        }
        let idx = Tensor::new(indices, self.images.device())?;
        let idx_labels = idx.to_device(self.labels.device())?;
        Ok(Self {
            images: self.images.index_select(&idx, 0)?,
            labels: self.labels.index_select(&idx_labels, 0)?,
            class_names: self.class_names.clone(),
            source: self.source.clone(),
            extra: self
                .extra
                .iter()
                .map(|(n, t)| Ok((n.clone(), t.index_select(&idx_labels.to_device(t.device())?, 0)?)))
                .collect::<Result<_>>()?,
            skipped: self.skipped.clone(),
        })
    }

    /// Consecutive batches of `size` samples (the last one may be shorter), as cheap views.
    pub fn batches(&self, size: usize) -> impl Iterator<Item = Result<Dataset>> + '_ {
        let size = size.max(1);
        (0..self.len()).step_by(size).map(move |s| self.narrow(s, size.min(self.len() - s)))
    }

    /// The samples in a seeded random order (same seed, same order).
    pub fn shuffled(&self, seed: u64) -> Result<Self> {
        let mut idx: Vec<u32> = (0..self.len() as u32).collect();
        crate::rng::XorShift::new(seed).shuffle(&mut idx);
        self.index_select(&idx)
    }

    /// The same labels with new images (same N).
    pub fn with_images(&self, images: Tensor) -> Result<Self> {
        if images.dims().first() != Some(&self.len()) {
            return Err(DataError::BadArgument(format!("new images {:?} do not have {} samples", images.dims(), self.len())));
        }
        Ok(Self { images, ..self.clone() })
    }

    /// Applies `f` to the images tensor.
    pub fn map_images(&self, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Self> {
        self.with_images(f(&self.images)?)
    }

    /// Pixels as f32 in 0..=1: u8 values divided by 255 (as `x / 255.0` in NumPy). f32 images are
    /// returned unchanged.
    pub fn to_f32(&self) -> Result<Self> {
        self.map_images(transform::to_f32_unit)
    }

    /// The labels one-hot encoded, `(N, num_classes)` f32 (Keras's `to_categorical`).
    pub fn one_hot(&self) -> Result<Tensor> {
        transform::one_hot(&self.labels, self.num_classes())
    }

    /// Images flattened to `(N, C*H*W)` (row-major over C, H, W).
    pub fn flatten(&self) -> Result<Self> {
        self.map_images(|x| Ok(x.flatten_from(1)?))
    }

    /// Images reshaped to `shape` (N included).
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        self.map_images(|x| Ok(x.reshape(shape)?))
    }

    /// Images as `(N, H, W, C)` (TensorFlow's channels-last layout), contiguous.
    pub fn nhwc(&self) -> Result<Self> {
        self.map_images(|x| Ok(x.permute((0, 2, 3, 1))?.contiguous()?))
    }

    /// One channel, with OpenCV's `COLOR_RGB2GRAY` weights; see [`transform::grayscale`].
    pub fn grayscale(&self) -> Result<Self> {
        self.map_images(transform::grayscale)
    }

    /// OpenCV `INTER_AREA` resize to `width × height` (kernels crate).
    pub fn resize_area(&self, width: usize, height: usize) -> Result<Self> {
        self.map_images(|x| Ok(candlebook_kernels::resize_area(x, width, height)?))
    }

    /// TensorFlow bilinear resize to `width × height` (f32 result); see [`transform::resize_bilinear`].
    pub fn resize_bilinear(&self, width: usize, height: usize) -> Result<Self> {
        self.map_images(|x| transform::resize_bilinear(x, width, height))
    }

    /// TensorFlow's `resize_with_pad(img, height, width)` (f32 result); see [`transform::resize_with_pad`].
    pub fn resize_with_pad(&self, height: usize, width: usize) -> Result<Self> {
        self.map_images(|x| transform::resize_with_pad(x, height, width))
    }

    /// Max pooling with a `k × k` window and stride `k` (e.g. 4: 128×128 → 32×32).
    pub fn max_pool(&self, k: usize) -> Result<Self> {
        self.map_images(|x| Ok(candlebook_kernels::max_pool(x, k, k)?))
    }

    /// Every image sharpened with the 3×3 sharpen kernel through `filter2d`, on the images' device.
    pub fn sharpen(&self) -> Result<Self> {
        self.map_images(transform::sharpen)
    }

    /// Moves every tensor to `device`.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        self.map_rows(|t| t.to_device(device))
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} samples, images {:?} {:?}, {} classes; {}", self.len(), self.images.dims(), self.images.dtype(), self.num_classes(), self.source)?;
        if !self.skipped.is_empty() {
            write!(f, "; {} files skipped", self.skipped.len())?;
        }
        Ok(())
    }
}
