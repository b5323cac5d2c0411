//! CIFAR-10 in its three forms: the JPEG class folders, the binary batches
//! (`data_batch_1..5.bin`, `test_batch.bin`: records of 1 label byte and 3072 bytes, the R, G and
//! B planes of a 32×32 image, row-major) and the Hugging Face hub's parquet (`img` = {bytes: PNG,
//! path}, `label`).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
#[cfg(feature = "parquet")]
use polars::prelude::*;
#[cfg(feature = "parquet")]
use rayon::prelude::*;

use crate::dataset::{DataSource, Dataset};
use crate::decode::{Channels, LoadOptions};
use crate::error::{DataError, Result};
use crate::folder::load_image_folder;
use crate::generated::CIFAR10_CLASSES;
use crate::hub::HubFile;
use crate::root::DataRoot;
use crate::Split;

const RECORD: usize = 1 + 3 * 32 * 32;

fn names() -> Vec<String> {
    CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
}

/// Reads CIFAR-10 binary batch files into `(N, 3, 32, 32)` u8 images and labels 0..=9.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("candlebook-doc-cifar-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let mut rec = vec![7u8]; // label: horse
/// rec.extend(std::iter::repeat(9u8).take(3072));
/// std::fs::write(dir.join("b.bin"), &rec).unwrap();
/// let ds = candlebook_data::load_cifar_bin(&[dir.join("b.bin")], &candle_core::Device::Cpu)?;
/// assert_eq!(ds.images.dims(), &[1, 3, 32, 32]);
/// assert_eq!(ds.class_names[ds.labels_vec()?[0] as usize], "horse");
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn load_cifar_bin(files: &[PathBuf], device: &Device) -> Result<Dataset> {
    let (mut px, mut labels) = (Vec::new(), Vec::new());
    for f in files {
        if !f.is_file() {
            return Err(DataError::NotFound { what: "CIFAR-10 batch file", path: f.clone() });
        }
        let bytes = std::fs::read(f).map_err(DataError::io(f))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(DataError::BadFormat { path: f.clone(), message: format!("{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records", bytes.len()) });
        }
        for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if rec[0] > 9 {
                return Err(DataError::BadFormat { path: f.clone(), message: format!("record {i}: label {} out of range 0..=9", rec[0]) });
            }
            labels.push(rec[0] as u32);
            px.extend_from_slice(&rec[1..]);
        }
    }
    let n = labels.len();
    let src = files.first().and_then(|f| f.parent()).map(Path::to_path_buf).unwrap_or_default();
    Dataset::new(Tensor::from_vec(px, (n, 3, 32, 32), device)?, Tensor::from_vec(labels, n, device)?, names(), DataSource::Files(src))
}

/// The batch files of a split in a `cifar-10-batches-bin` folder.
pub fn cifar_bin_files(dir: impl AsRef<Path>, split: Split) -> Vec<PathBuf> {
    let dir = dir.as_ref();
    match split {
        Split::Train => (1..=5).map(|i| dir.join(format!("data_batch_{i}.bin"))).collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
    }
}

/// Reads a CIFAR-10 parquet file (the hub's `uoft-cs/cifar10` layout: `img` struct with PNG
/// `bytes`, `label`) through polars, decoding the PNGs in parallel. Images are `(N, 3, 32, 32)`:
/// height then width, the same orientation as [`load_cifar_bin`].
///
/// Needs the `parquet` feature; without it this returns [`DataError::FeatureDisabled`], which
/// says how to turn it on.
#[cfg(not(feature = "parquet"))]
pub fn load_cifar_parquet(path: impl AsRef<Path>, _device: &Device) -> Result<Dataset> {
    Err(DataError::FeatureDisabled { feature: "parquet", what: format!("reading the parquet file {}", path.as_ref().display()) })
}

/// Reads a CIFAR-10 parquet file (the hub's `uoft-cs/cifar10` layout: `img` struct with PNG
/// `bytes`, `label`) through polars, decoding the PNGs in parallel. Images are `(N, 3, 32, 32)`:
/// height then width, the same orientation as [`load_cifar_bin`].
///
/// Needs the `parquet` feature; without it this returns [`DataError::FeatureDisabled`], which
/// says how to turn it on.
#[cfg(feature = "parquet")]
pub fn load_cifar_parquet(path: impl AsRef<Path>, device: &Device) -> Result<Dataset> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let pe = |source| DataError::Polars { path: path.to_path_buf(), source };
    let df = ParquetReader::new(file).finish().map_err(pe)?;
    let label_col = df.column("label").map_err(pe)?.cast(&DataType::Int64).map_err(pe)?;
    let labels: Vec<i64> = label_col.i64().map_err(pe)?.iter().map(|v| v.unwrap_or(-1)).collect();
    let img = df.column("img").map_err(pe)?;
    let bytes_series = img.struct_().map_err(pe)?.field_by_name("bytes").map_err(pe)?;
    let blobs: Vec<Option<&[u8]>> = bytes_series.binary().map_err(pe)?.iter().collect();
    let n = blobs.len();
    let mut px = vec![0u8; n * 3 * 1024];
    px.par_chunks_mut(3 * 1024).zip(blobs.par_iter()).enumerate().try_for_each(|(i, (slot, b))| -> Result<()> {
        let b = b.ok_or_else(|| DataError::BadFormat { path: path.to_path_buf(), message: format!("row {i}: img.bytes is null") })?;
        let im = image::load_from_memory(b).map_err(|source| DataError::Decode { path: path.join(format!("row{i}")), source })?.to_rgb8();
        if (im.width(), im.height()) != (32, 32) {
            return Err(DataError::BadFormat { path: path.to_path_buf(), message: format!("row {i}: image is {}x{}, expected 32x32", im.width(), im.height()) });
        }
        for (p, rgb) in im.pixels().enumerate() {
            for c in 0..3 {
                slot[c * 1024 + p] = rgb[c];
            }
        }
        Ok(())
    })?;
    let mut l32 = Vec::with_capacity(n);
    for &l in &labels {
        if !(0..=9).contains(&l) {
            return Err(DataError::LabelOutOfRange { label: l, expected: "0..=9 (CIFAR-10)".into() });
        }
        l32.push(l as u32);
    }
    Dataset::new(Tensor::from_vec(px, (n, 3, 32, 32), device)?, Tensor::from_vec(l32, n, device)?, names(), DataSource::Files(path.to_path_buf()))
}

/// The hub file of a CIFAR-10 split in `uoft-cs/cifar10`.
pub fn cifar10_hub_file(split: Split) -> HubFile {
    HubFile::dataset("uoft-cs/cifar10", format!("plain_text/{}-00000-of-00001.parquet", split.as_str()))
}

/// CIFAR-10 from the first of: `<root>/cifar10/<split>/<class>/*.jpg` (JPEG folders),
/// `<root>/cifar10/cifar-10-batches-bin/` or `<root>/cifar-10-batches-bin/` (binary batches),
/// the hub cache ([`cifar10_hub_file`], no network unless built with `hub-download`), else a
/// generated stand-in ([`crate::generated::cifar10`], 300 per class for train, 50 for test).
/// Prints which it used.
pub fn cifar10(root: &DataRoot, split: Split, opts: &LoadOptions, device: &Device) -> Result<Dataset> {
    let folders = root.join("cifar10").join(split.as_str());
    if folders.is_dir() {
        let opts = opts.clone().channels(opts.channels.unwrap_or(Channels::Rgb));
        return load_image_folder(&folders, &opts, device);
    }
    for bin in [root.join("cifar10/cifar-10-batches-bin"), root.join("cifar-10-batches-bin")] {
        if bin.is_dir() {
            let ds = load_cifar_bin(&cifar_bin_files(&bin, split), device)?;
            println!("REAL DATA: {}: {} images 3x32x32 (binary batches)", bin.display(), ds.len());
            return Ok(ds);
        }
    }
    let hub = cifar10_hub_file(split);
    if let Some(p) = hub.cached() {
        let ds = load_cifar_parquet(&p, device)?;
        println!("REAL DATA: {}: {} images 3x32x32 (hub cache {})", p.display(), ds.len(), hub.repo);
        return Ok(ds);
    }
    let per_class = opts.limit.map(|l| l.div_ceil(10)).unwrap_or(if split == Split::Train { 300 } else { 50 });
    let ds = crate::generated::cifar10(split, per_class, device)?;
    root.announce_generated(&folders, &ds);
    Ok(ds)
}
