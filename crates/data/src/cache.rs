//! The on-disk decode cache: one safetensors file per (dataset, split, load options), keyed on
//! the source files' names, sizes and modification times and on [`CACHE_FORMAT`]. Written
//! atomically (temporary file, then rename); a cache that does not match is decoded again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// The parsed header of a safetensors file: metadata and `(name, dtype, shape, begin, end)` of
/// each tensor (offsets relative to the data section at `data_start`).
struct Header {
    meta: HashMap<String, String>,
    tensors: Vec<(String, String, Vec<usize>, u64, u64)>,
    data_start: u64,
}

fn read_header(file: &mut std::fs::File, path: &Path) -> Result<Header> {
    use std::io::Read;
    let foreign = |why: &str| DataError::CacheVersion { path: path.to_path_buf(), found: why.to_string(), expected: CACHE_FORMAT.into() };
    let mut n = [0u8; 8];
    file.read_exact(&mut n).map_err(|_| foreign("not a safetensors file (too short)"))?;
    let n = u64::from_le_bytes(n);
    let len = file.metadata().map_err(DataError::io(path))?.len();
    if n > 100_000_000 || 8 + n > len {
        return Err(foreign("not a safetensors file (bad header length)"));
    }
    let mut h = vec![0u8; n as usize];
    file.read_exact(&mut h).map_err(DataError::io(path))?;
    let v: serde_json::Value = serde_json::from_slice(&h).map_err(|_| foreign("not a safetensors file (header is not JSON)"))?;
    let obj = v.as_object().ok_or_else(|| foreign("not a safetensors file (header is not an object)"))?;
    let mut meta = HashMap::new();
    let mut tensors = Vec::new();
    for (k, val) in obj {
        if k == "__metadata__" {
            for (mk, mv) in val.as_object().into_iter().flatten() {
                meta.insert(mk.clone(), mv.as_str().unwrap_or_default().to_string());
            }
            continue;
        }
        let dtype = val["dtype"].as_str().unwrap_or_default().to_string();
        let shape: Vec<usize> = val["shape"].as_array().into_iter().flatten().filter_map(|d| d.as_u64().map(|d| d as usize)).collect();
        let off: Vec<u64> = val["data_offsets"].as_array().into_iter().flatten().filter_map(|d| d.as_u64()).collect();
        if off.len() != 2 || off[0] > off[1] || 8 + n + off[1] > len {
            return Err(foreign("a safetensors file with bad tensor offsets"));
        }
        tensors.push((k.clone(), dtype, shape, off[0], off[1]));
    }
    Ok(Header { meta, tensors, data_start: 8 + n })
}

/// Reads a cache file. A file of another [`CACHE_FORMAT`] (or not a cache at all) is a
/// [`DataError::CacheVersion`]; `key` (when given) must match the stored key, else `Ok(None)`.
/// Each tensor is read straight into its own buffer (no intermediate copy of the file).
pub fn read_cache(path: &Path, key: Option<&str>, device: &Device) -> Result<Option<Dataset>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let header = read_header(&mut file, path)?;
    let meta = &header.meta;
    let found = meta.get("format").cloned().unwrap_or_else(|| "none".into());
    if found != CACHE_FORMAT {
        return Err(DataError::CacheVersion { path: path.to_path_buf(), found, expected: CACHE_FORMAT.into() });
    }
    if let Some(k) = key {
        if meta.get("key").map(String::as_str) != Some(k) {
            return Ok(None);
        }
    }
    let mut load = |name: &str| -> Result<Tensor> {
        let (_, dtype, shape, begin, end) = header.tensors.iter().find(|t| t.0 == name).ok_or_else(|| DataError::CacheVersion {
            path: path.to_path_buf(),
            found: format!("{CACHE_FORMAT} without the tensor {name:?}"),
            expected: CACHE_FORMAT.into(),
        })?;
        file.seek(SeekFrom::Start(header.data_start + begin)).map_err(DataError::io(path))?;
        let mut buf = vec![0u8; (end - begin) as usize];
        file.read_exact(&mut buf).map_err(DataError::io(path))?;
        let bad = || DataError::CacheVersion { path: path.to_path_buf(), found: format!("tensor {name:?} of {dtype} {shape:?}"), expected: CACHE_FORMAT.into() };
        let t = match dtype.as_str() {
            "U8" if buf.len() == shape.iter().product::<usize>() => Tensor::from_vec(buf, shape.as_slice(), device)?,
            "U8" => return Err(bad()),
            "U32" | "F32" if buf.len() == 4 * shape.iter().product::<usize>() => {
                let dt = if dtype == "U32" { candle_core::DType::U32 } else { candle_core::DType::F32 };
                Tensor::from_raw_buffer(&buf, dt, shape, device)?
            }
            _ => return Err(bad()),
        };
        Ok(t)
    };
    let images = load("images")?;
    let labels = load("labels")?;
    let class_names: Vec<String> = meta.get("class_names").map(|s| s.split('\n').map(String::from).collect()).unwrap_or_default();
    let files = PathBuf::from(meta.get("source").cloned().unwrap_or_default());
    let mut extra_names: Vec<String> = header.tensors.iter().filter_map(|t| t.0.strip_prefix("extra.").map(String::from)).collect();
    extra_names.sort();
    let extras = extra_names.into_iter().map(|n| Ok((n.clone(), load(&format!("extra.{n}"))?))).collect::<Result<Vec<_>>>()?;
    let mut ds = Dataset::new(images, labels, class_names, DataSource::Cache { cache: path.to_path_buf(), files })?;
    for (n, t) in extras {
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
