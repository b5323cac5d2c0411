//! NumPy `.npy` arrays and `.npz` archives (stored or deflate-compressed, as `np.savez` and
//! `np.savez_compressed` write them): little-endian, C order.

use std::io::Read;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{DataError, Result};

fn bad(path: &Path, message: impl Into<String>) -> DataError {
    DataError::BadFormat { path: path.to_path_buf(), message: message.into() }
}

/// The value of `'key': ...` in a NumPy header dict, up to the next top-level comma or brace.
fn header_field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        return rest.find(')').map(|e| &rest[..=e]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Parses `.npy` bytes into a tensor. Element types: `u1 i1 u2 i2 u4 i4 u8 i8 f2 f4 f8 b1`;
/// u8/u32/i64/f16/f32/f64 keep their type, i8/i16/u16/i32 become i64, u64 becomes i64 (error if
/// too large), bool becomes u8. `name` is used in errors.
pub fn parse_npy(bytes: &[u8], name: &Path, device: &Device) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(name, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(name, format!(".npy format version {v} not supported (1, 2, 3 are)"))),
    };
    let header = bytes.get(start..start + hlen).ok_or_else(|| bad(name, "header runs past the end of the file"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(name, "header is not text"))?;
    let descr = header_field(header, "descr").ok_or_else(|| bad(name, "header has no 'descr'"))?.trim_matches(|c| c == '\'' || c == '"');
    if header_field(header, "fortran_order") == Some("True") {
        return Err(bad(name, "Fortran-order arrays are not supported; save with C order (np.ascontiguousarray)"));
    }
    let shape_s = header_field(header, "shape").ok_or_else(|| bad(name, "header has no 'shape'"))?;
    let shape: Vec<usize> = shape_s
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| bad(name, format!("bad shape {shape_s}"))))
        .collect::<Result<_>>()?;
    let count: usize = shape.iter().product();
    let data = &bytes[start + hlen..];
    let (order, kind) = descr.split_at(1.min(descr.len()));
    if order == ">" && !kind.ends_with('1') {
        return Err(bad(name, format!("big-endian dtype {descr} not supported")));
    }
    let size: usize = kind.get(1..).and_then(|s| s.parse().ok()).ok_or_else(|| bad(name, format!("dtype {descr} not supported")))?;
    if data.len() < count * size {
        return Err(bad(name, format!("{} data bytes, expected {} for shape {shape:?} of {descr}", data.len(), count * size)));
    }
    let data = &data[..count * size];
    macro_rules! le {
        ($t:ty) => {
            data.chunks_exact(size).map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_default()))
        };
    }
    let t = match kind {
        "u1" | "b1" => Tensor::from_vec(data.to_vec(), shape.as_slice(), device)?,
        "i1" => Tensor::from_vec(data.iter().map(|&b| b as i8 as i64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "u2" => Tensor::from_vec(le!(u16).map(|v| v as i64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "i2" => Tensor::from_vec(le!(i16).map(|v| v as i64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "u4" => Tensor::from_vec(le!(u32).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "i4" => Tensor::from_vec(le!(i32).map(|v| v as i64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "i8" => Tensor::from_vec(le!(i64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "u8" => {
            let v: Vec<i64> = le!(u64).map(|v| i64::try_from(v).map_err(|_| bad(name, format!("u64 value {v} does not fit i64")))).collect::<Result<_>>()?;
            Tensor::from_vec(v, shape.as_slice(), device)?
        }
        "f2" => Tensor::from_raw_buffer(data, DType::F16, &shape, device)?,
        "f4" => Tensor::from_vec(le!(f32).collect::<Vec<_>>(), shape.as_slice(), device)?,
        "f8" => Tensor::from_vec(le!(f64).collect::<Vec<_>>(), shape.as_slice(), device)?,
        _ => return Err(bad(name, format!("dtype {descr} not supported"))),
    };
    Ok(t)
}

/// Reads a `.npy` file.
///
/// ```
/// let path = std::env::temp_dir().join(format!("candlebook-doc-{}.npy", std::process::id()));
/// let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let pad = 64 - (10 + header.len() + 1) % 64;
/// let h = format!("{header}{}\n", " ".repeat(pad % 64));
/// bytes.extend((h.len() as u16).to_le_bytes());
/// bytes.extend(h.as_bytes());
/// bytes.extend([1u8, 2, 3, 4, 5, 6]);
/// std::fs::write(&path, bytes).unwrap();
/// let t = candlebook_data::read_npy(&path, &candle_core::Device::Cpu)?;
/// assert_eq!(t.to_vec2::<u8>()?, vec![vec![1, 2, 3], vec![4, 5, 6]]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn read_npy(path: impl AsRef<Path>, device: &Device) -> Result<Tensor> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(DataError::NotFound { what: ".npy file", path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(DataError::io(path))?;
    parse_npy(&bytes, path, device)
}

/// Reads every array of a `.npz` archive, `(name without .npy, tensor)` in archive order.
pub fn read_npz(path: impl AsRef<Path>, device: &Device) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(DataError::NotFound { what: ".npz file", path: path.to_path_buf() });
    }
    let file = std::fs::File::open(path).map_err(DataError::io(path))?;
    let ze = |source| DataError::Zip { path: path.to_path_buf(), source };
    let mut zip = zip::ZipArchive::new(file).map_err(ze)?;
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(ze)?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(DataError::io(path.join(&name)))?;
        let t = parse_npy(&bytes, &path.join(&name), device)?;
        out.push((name.strip_suffix(".npy").unwrap_or(&name).to_string(), t));
    }
    Ok(out)
}
