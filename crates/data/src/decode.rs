//! Decoding many image files in parallel into one `(N, C, H, W)` u8 buffer.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use image::DynamicImage;
use rayon::prelude::*;

use crate::dataset::Skipped;
use crate::error::{DataError, Result};
use crate::progress::Progress;

/// Which channels to keep when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Channels {
    /// The first file's channel count (1 gray, 3 RGB, 4 RGBA); others are converted to it.
    Keep,
    /// One channel, with OpenCV's `RGB2GRAY` weights.
    Gray,
    /// Three channels (gray images are replicated; alpha is dropped).
    #[default]
    Rgb,
}

impl Channels {
    fn count(self) -> Option<usize> {
        match self {
            Channels::Keep => None,
            Channels::Gray => Some(1),
            Channels::Rgb => Some(3),
        }
    }
}

/// How a resize on load interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResizeFilter {
    /// OpenCV `INTER_AREA` (kernels crate), what the tutorials use to shrink.
    #[default]
    Area,
    /// TensorFlow bilinear (half-pixel centres), rounded to u8.
    Bilinear,
    /// TensorFlow's `tf.cast(tf.image.resize_with_pad(img, height, width), tf.uint8)`: keeps the
    /// aspect ratio (bilinear, as [`ResizeFilter::Bilinear`]), pads with black, centred, and
    /// truncates to u8 as TensorFlow's cast does. How the faces tutorial makes its 224×224 inputs
    /// from photos of every shape.
    BilinearWithPad,
}

/// Options shared by the image loaders (builder style).
///
/// ```
/// use candlebook_data::{Channels, LoadOptions};
/// let o = LoadOptions::default().channels(Channels::Gray).resize(100, 100).skip_corrupt(true).cache(false);
/// assert_eq!(o.resize, Some((100, 100)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Channels to decode to (default: the dataset's natural ones).
    pub channels: Option<Channels>,
    /// Resize every image to `(width, height)` on load.
    pub resize: Option<(usize, usize)>,
    /// Interpolation of the resize.
    pub filter: ResizeFilter,
    /// Skip undecodable files and report them in [`crate::Dataset::skipped`] instead of failing.
    pub skip_corrupt: bool,
    /// Use the on-disk decode cache (default on).
    pub cache: bool,
    /// Where the cache lives (default: `CANDLEBOOK_CACHE`, else `~/.cache/candlebook`).
    pub cache_dir: Option<PathBuf>,
    /// Print progress lines for long loads (default on).
    pub progress: bool,
    /// Load at most this many files per split (a quick look at a big set); the files taken are
    /// spread evenly over the sorted list.
    pub limit: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { channels: None, resize: None, filter: ResizeFilter::Area, skip_corrupt: false, cache: true, cache_dir: None, progress: true, limit: None }
    }
}

impl LoadOptions {
    /// Sets the channels.
    pub fn channels(mut self, c: Channels) -> Self {
        self.channels = Some(c);
        self
    }
    /// Resizes every image to `width × height` on load.
    pub fn resize(mut self, width: usize, height: usize) -> Self {
        self.resize = Some((width, height));
        self
    }
    /// Sets the resize interpolation.
    pub fn filter(mut self, f: ResizeFilter) -> Self {
        self.filter = f;
        self
    }
    /// Skip-and-report mode for corrupt files.
    pub fn skip_corrupt(mut self, on: bool) -> Self {
        self.skip_corrupt = on;
        self
    }
    /// Cache on or off.
    pub fn cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }
    /// Cache folder.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
    /// Progress lines on or off.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
    /// At most `n` files per split.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

/// Picks `n` items spread evenly over `v` (all when `n >= len`).
pub(crate) fn spread<T: Clone>(v: &[T], n: Option<usize>) -> Vec<T> {
    match n {
        Some(n) if n < v.len() => (0..n).map(|i| v[i * v.len() / n].clone()).collect(),
        _ => v.to_vec(),
    }
}

/// Decoded pixels, channel planes `(C, H, W)`.
struct Planes {
    c: usize,
    h: usize,
    w: usize,
    px: Vec<u8>,
}

fn gray_from_rgb(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 4899 + g as u32 * 9617 + b as u32 * 1868 + 8192) >> 14) as u8
}

fn to_planes(img: DynamicImage, channels: Channels) -> Planes {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let c = match channels {
        Channels::Keep if img.color().has_alpha() => 4,
        Channels::Keep if img.color().channel_count() == 1 => 1,
        Channels::Keep => 3,
        Channels::Gray => 1,
        Channels::Rgb => 3,
    };
    let px = match (c, img) {
        (1, DynamicImage::ImageLuma8(g)) => g.into_raw(),
        (1, img) if img.color().channel_count() <= 2 => img.to_luma8().into_raw(),
        (1, img) => img.to_rgb8().pixels().map(|p| gray_from_rgb(p[0], p[1], p[2])).collect(),
        (3, img) => interleaved_to_planes(&img.to_rgb8().into_raw(), 3),
        (_, img) => interleaved_to_planes(&img.to_rgba8().into_raw(), 4),
    };
    Planes { c, h, w, px }
}

fn interleaved_to_planes(raw: &[u8], c: usize) -> Vec<u8> {
    let n = raw.len() / c;
    let mut out = vec![0u8; raw.len()];
    for (i, p) in raw.chunks_exact(c).enumerate() {
        for k in 0..c {
            out[k * n + i] = p[k];
        }
    }
    out
}

fn resize_planes(p: Planes, (w, h): (usize, usize), filter: ResizeFilter) -> Result<Planes> {
    if p.w == w && p.h == h {
        return Ok(p);
    }
    let t = Tensor::from_vec(p.px, (p.c, p.h, p.w), &Device::Cpu)?;
    let px = resize_u8(&t, (w, h), filter)?.flatten_all()?.to_vec1::<u8>()?;
    Ok(Planes { c: p.c, h, w, px })
}

/// Resizes u8 images (`(C,H,W)` or `(N,C,H,W)`) to `width × height` with `filter`, back to u8.
pub(crate) fn resize_u8(images: &Tensor, (w, h): (usize, usize), filter: ResizeFilter) -> Result<Tensor> {
    Ok(match filter {
        ResizeFilter::Area => candlebook_kernels::resize_area(images, w, h)?,
        ResizeFilter::Bilinear => crate::transform::resize_bilinear(images, w, h)?.round()?.clamp(0f32, 255f32)?.to_dtype(DType::U8)?,
        // Bilinear weights sum to 1, so the values stay in 0..=255; the f32 -> u8 conversion
        // truncates, as TensorFlow's tf.cast does.
        ResizeFilter::BilinearWithPad => crate::transform::resize_with_pad(images, h, w)?.clamp(0f32, 255f32)?.to_dtype(DType::U8)?,
    })
}

/// Reads and decodes one file (format from its content) to channel planes.
fn decode_one(path: &Path, channels: Channels, resize: Option<(usize, usize)>, filter: ResizeFilter) -> Result<Planes> {
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    let img = image::load_from_memory(&bytes).map_err(|source| DataError::Decode { path: path.to_path_buf(), source })?;
    let planes = to_planes(img, channels);
    match resize {
        Some(size) => resize_planes(planes, size, filter),
        None => Ok(planes),
    }
}

/// The result of decoding a file list.
pub(crate) struct Decoded {
    /// `(N, C, H, W)` u8 on the CPU.
    pub images: Tensor,
    /// Indices into the file list of the images kept (all of them unless files were skipped).
    pub kept: Vec<usize>,
    pub skipped: Vec<Skipped>,
}

/// Decodes `files` in parallel. The first file fixes the channel count (for [`Channels::Keep`])
/// and the size (unless `resize` is set); a file of another size is a [`DataError::MixedSizes`].
pub(crate) fn decode_files(files: &[PathBuf], opts: &LoadOptions, default_channels: Channels, label: &str) -> Result<Decoded> {
    let channels = opts.channels.unwrap_or(default_channels);
    let (resize, filter) = (opts.resize, opts.filter);
    // The first decodable file fixes the shape.
    let mut skipped = Vec::new();
    let mut first = None;
    for (i, f) in files.iter().enumerate() {
        match decode_one(f, channels, resize, filter) {
            Ok(p) => {
                first = Some((i, p));
                break;
            }
            Err(e @ DataError::Decode { .. }) if opts.skip_corrupt => skipped.push(Skipped { path: f.clone(), reason: e.to_string() }),
            Err(e) => return Err(e),
        }
    }
    let Some((first_i, first)) = first else {
        let images = Tensor::zeros((0, channels.count().unwrap_or(1), 0, 0), DType::U8, &Device::Cpu)?;
        return Ok(Decoded { images, kept: Vec::new(), skipped });
    };
    let (c, h, w) = (first.c, first.h, first.w);
    let keep = if channels == Channels::Keep {
        match c {
            1 => Channels::Gray,
            3 => Channels::Rgb,
            _ => Channels::Keep,
        }
    } else {
        channels
    };
    let plane = c * h * w;
    let rest = &files[first_i + 1..];
    let mut buf = vec![0u8; plane * (rest.len() + 1)];
    buf[..plane].copy_from_slice(&first.px);
    let progress = Progress::new(label, files.len(), opts.progress, 2000);
    for _ in 0..=first_i {
        progress.tick();
    }
    let results: Vec<Result<bool>> = buf[plane..]
        .par_chunks_mut(plane)
        .zip(rest.par_iter())
        .map(|(slot, path)| {
            let r = decode_one(path, keep, resize, filter).and_then(|mut p| {
                if p.c != c && keep == Channels::Keep {
                    // an RGBA file among RGB ones (or the reverse): convert through the image crate
                    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
                    let img = image::load_from_memory(&bytes).map_err(|source| DataError::Decode { path: path.clone(), source })?;
                    p = to_planes(DynamicImage::ImageRgba8(img.to_rgba8()), Channels::Keep);
                }
                if (p.h, p.w) != (h, w) {
                    return Err(DataError::MixedSizes { path: path.clone(), want_w: w, want_h: h, got_w: p.w, got_h: p.h });
                }
                slot.copy_from_slice(&p.px);
                Ok(true)
            });
            progress.tick();
            match r {
                Err(DataError::Decode { .. }) if opts.skip_corrupt => Ok(false),
                other => other,
            }
        })
        .collect();
    let mut kept = vec![first_i];
    for (k, r) in results.into_iter().enumerate() {
        let i = first_i + 1 + k;
        if r? {
            kept.push(i);
        } else {
            let reason = decode_one(&files[i], keep, resize, filter).err().map(|e| e.to_string()).unwrap_or_default();
            skipped.push(Skipped { path: files[i].clone(), reason });
        }
    }
    if kept.len() < rest.len() + 1 {
        // compact: move kept images down over the skipped slots
        let mut out = vec![0u8; plane * kept.len()];
        for (dst, &i) in kept.iter().enumerate() {
            let src = i - first_i;
            out[dst * plane..(dst + 1) * plane].copy_from_slice(&buf[src * plane..(src + 1) * plane]);
        }
        buf = out;
    }
    let images = Tensor::from_vec(buf, (kept.len(), c, h, w), &Device::Cpu)?;
    Ok(Decoded { images, kept, skipped })
}

/// Image files (by extension: png, jpg, jpeg, bmp) directly in `dir`, sorted by name.
pub(crate) fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    check_dir(dir, "image folder")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(DataError::io(dir))?
        .filter_map(|e| e.ok())
        // the entry's type comes with the listing (no extra stat per file); follow symlinks only
        .filter(|e| e.file_type().map(|t| t.is_file() || (t.is_symlink() && e.path().is_file())).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg" | "bmp"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A [`DataError::NotFound`] or [`DataError::WrongKind`] unless `dir` is a folder.
pub(crate) fn check_dir(dir: &Path, what: &'static str) -> Result<()> {
    if !dir.exists() {
        return Err(DataError::NotFound { what, path: dir.to_path_buf() });
    }
    if !dir.is_dir() {
        return Err(DataError::WrongKind { path: dir.to_path_buf(), expected: "folder" });
    }
    Ok(())
}

/// A labelled file list, decoded through the cache and announced as real data.
pub(crate) struct Listed {
    /// Cache name, e.g. `fingers-train`.
    pub name: String,
    /// The folder the files came from (for messages and [`DataSource::Files`]).
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub labels: Vec<u32>,
    pub extra: Vec<(String, Vec<u32>)>,
    pub class_names: Vec<String>,
    pub default_channels: Channels,
}

/// Decodes (or reads from the cache) a labelled file list and prints one `REAL DATA:` line.
pub(crate) fn load_listed(l: Listed, opts: &LoadOptions, device: &Device) -> Result<crate::Dataset> {
    use crate::dataset::{DataSource, Dataset};
    if l.files.is_empty() {
        return Err(DataError::EmptyFolder { path: l.dir.clone(), expected: "image files" });
    }
    let start = std::time::Instant::now();
    let mut key = crate::cache::Fingerprint::new();
    key.add_str(&format!("{} {:?} {:?} {:?} {} {:?}", l.name, opts.channels.unwrap_or(l.default_channels), opts.resize, opts.filter, opts.skip_corrupt, l.class_names));
    for f in &l.files {
        key.add_file(f)?;
    }
    let ds = crate::cache::cached(opts.cache, opts.cache_dir.as_deref(), &l.name, &key, device, || {
        let d = decode_files(&l.files, opts, l.default_channels, &l.name)?;
        let pick = |v: &[u32]| -> Vec<u32> { d.kept.iter().map(|&i| v[i]).collect() };
        let n = d.kept.len();
        let labels = Tensor::from_vec(pick(&l.labels), n, &Device::Cpu)?;
        let mut ds = Dataset::new(d.images, labels, l.class_names.clone(), DataSource::Files(l.dir.clone()))?;
        for (name, col) in &l.extra {
            ds = ds.with_extra(name.clone(), Tensor::from_vec(pick(col), n, &Device::Cpu)?)?;
        }
        ds.skipped = d.skipped;
        Ok(ds)
    })?;
    let how = match &ds.source {
        DataSource::Cache { cache, .. } => format!("from the cache {}", cache.display()),
        _ => "decoded".to_string(),
    };
    let dims = ds.images.dims();
    println!(
        "REAL DATA: {}: {} images {}x{}x{}, {} classes, {how} in {:.2} s{}",
        l.dir.display(),
        ds.len(),
        dims.get(1).unwrap_or(&0),
        dims.get(2).unwrap_or(&0),
        dims.get(3).unwrap_or(&0),
        ds.num_classes(),
        start.elapsed().as_secs_f64(),
        if ds.skipped.is_empty() { String::new() } else { format!("; {} corrupt files skipped (see .skipped)", ds.skipped.len()) }
    );
    Ok(ds)
}
