//! The on-disk decode cache: one safetensors file per (dataset, split, load options), keyed on
//! the source files' names, sizes and modification times and on [`CACHE_FORMAT`]. Written
//! atomically (temporary file, then rename); a cache that does not match is decoded again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::safetensors::Load;
use candle_core::{Device, Tensor};

use crate::dataset::{DataSource, Dataset, Skipped};
use crate::error::{DataError, Result};

/// The cache format this crate writes and reads. A file with another value is never trusted.
pub const CACHE_FORMAT: &str = "candlebook-data-cache/1";

/// The environment variable naming the cache folder.
pub const CACHE_ENV: &str = "CANDLEBOOK_CACHE";

/// The cache folder: `CANDLEBOOK_CACHE`, else `$XDG_CACHE_HOME/candlebook`, else
/// `~/.cache/candlebook`, else the system temp folder's `candlebook-cache`.
pub fn default_cache_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env(CACHE_ENV)
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("candlebook")))
        .or_else(|| env("HOME").map(|p| p.join(".cache/candlebook")))
        .unwrap_or_else(|| std::env::temp_dir().join("candlebook-cache"))
}

/// A 128-bit FNV-1a fingerprint (two 64-bit lanes); stable across platforms and Rust versions,
/// unlike `DefaultHasher`.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprint(u64, u64);

impl Fingerprint {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142)
    }

    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&[0xff]) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
            self.1 = (self.1 ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3).rotate_left(5);
        }
    }

    pub fn add_str(&mut self, s: &str) {
        self.add(s.as_bytes());
    }

    /// Adds a file's name, size and modification time (nanoseconds).
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(DataError::io(path))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.add_str(&path.to_string_lossy());
        self.add(&meta.len().to_le_bytes());
        self.add(&mtime.to_le_bytes());
        Ok(())
    }

    pub fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.0, self.1)
    }
}

/// The cache file for `name` (e.g. `fingers-train`) with the key `key` in `dir`.
pub(crate) fn cache_path(dir: &Path, name: &str, key: &str) -> PathBuf {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    dir.join(format!("{clean}-{}.safetensors", &key[..16]))
}

/// Writes `ds` to `path` atomically (a temporary file in the same folder, then a rename).
pub fn write_cache(path: &Path, key: &str, ds: &Dataset) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), CACHE_FORMAT.to_string());
    meta.insert("key".to_string(), key.to_string());
    meta.insert("class_names".to_string(), ds.class_names.join("\n"));
    let source = match &ds.source {
        DataSource::Files(p) | DataSource::Cache { files: p, .. } => p.to_string_lossy().into_owned(),
        DataSource::Generated(w) => w.clone(),
    };
    meta.insert("source".to_string(), source);
    meta.insert("skipped".to_string(), ds.skipped.iter().map(|s| format!("{}\t{}", s.path.display(), s.reason.replace('\n', " "))).collect::<Vec<_>>().join("\n"));
    let images = ds.images.to_device(&Device::Cpu)?.contiguous()?;
    let labels = ds.labels.to_device(&Device::Cpu)?.contiguous()?;
    let mut tensors: Vec<(String, Tensor)> = vec![("images".into(), images), ("labels".into(), labels)];
    for (n, t) in &ds.extra {
        tensors.push((format!("extra.{n}"), t.to_device(&Device::Cpu)?.contiguous()?));
    }
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), nanos()));
    let st = |source| DataError::SafeTensors { path: path.to_path_buf(), source };
    if let Err(e) = safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta), &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(st(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::Io { path: path.to_path_buf(), source: e }
    })
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Reads a cache file. A file of another [`CACHE_FORMAT`] (or not a cache at all) is a
/// [`DataError::CacheVersion`]; `key` (when given) must match the stored key, else `Ok(None)`.
pub fn read_cache(path: &Path, key: Option<&str>, device: &Device) -> Result<Option<Dataset>> {
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|_| DataError::CacheVersion {
        path: path.to_path_buf(),
        found: "not a safetensors file".into(),
        expected: CACHE_FORMAT.into(),
    })?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|source| DataError::SafeTensors { path: path.to_path_buf(), source })?;
    let meta = header.metadata().clone().unwrap_or_default();
    let found = meta.get("format").cloned().unwrap_or_else(|| "none".into());
    if found != CACHE_FORMAT {
        return Err(DataError::CacheVersion { path: path.to_path_buf(), found, expected: CACHE_FORMAT.into() });
    }
    if let Some(k) = key {
        if meta.get("key").map(String::as_str) != Some(k) {
            return Ok(None);
        }
    }
    let load = |name: &str| -> Result<Tensor> {
        let view = st.tensor(name).map_err(|source| DataError::SafeTensors { path: path.to_path_buf(), source })?;
        Ok(view.load(device)?)
    };
    let images = load("images")?;
    let labels = load("labels")?;
    let class_names: Vec<String> = meta.get("class_names").map(|s| s.split('\n').map(String::from).collect()).unwrap_or_default();
    let files = PathBuf::from(meta.get("source").cloned().unwrap_or_default());
    let mut ds = Dataset::new(images, labels, class_names, DataSource::Cache { cache: path.to_path_buf(), files })?;
    let mut extra_names: Vec<String> = st.names().into_iter().filter_map(|n| n.strip_prefix("extra.").map(String::from)).collect();
    extra_names.sort();
    for n in extra_names {
        let t = load(&format!("extra.{n}"))?;
        ds = ds.with_extra(n, t)?;
    }
    ds.skipped = meta
        .get("skipped")
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split('\n')
                .map(|l| {
                    let (p, r) = l.split_once('\t').unwrap_or((l, ""));
                    Skipped { path: PathBuf::from(p), reason: r.to_string() }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(ds))
}

/// Loads through the cache: returns the cached dataset when `key` matches, else calls `decode`
/// and writes its result. A cache from another format version is reported in one line and
/// decoded again; a failure to write the cache is reported and otherwise ignored.
pub(crate) fn cached(
    enabled: bool,
    dir: Option<&Path>,
    name: &str,
    key: &Fingerprint,
    device: &Device,
    decode: impl FnOnce() -> Result<Dataset>,
) -> Result<Dataset> {
    if !enabled {
        return decode()?.to_device(device);
    }
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(default_cache_dir);
    let mut key = key.clone();
    key.add_str(CACHE_FORMAT);
    let key = key.hex();
    let path = cache_path(&dir, name, &key);
    if path.exists() {
        match read_cache(&path, Some(&key), device) {
            Ok(Some(ds)) => return Ok(ds),
            Ok(None) => {}
            Err(e) => println!("  cache {} not used ({e}); decoding again", path.display()),
        }
    }
    let ds = decode()?;
    if let Err(e) = write_cache(&path, &key, &ds) {
        println!("  could not write the cache {}: {e}", path.display());
    }
    ds.to_device(device)
}
