//! NumPy `.npy` arrays and `.npz` archives (stored or deflate-compressed, as `np.savez` and
//! `np.savez_compressed` write them): little-endian, C order. [`write_npy`] writes `.npy` files as
//! `np.save` does.

use std::io::{Read, Write};
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

/// The header dict `np.save` writes for `descr` and `shape`, padded with spaces and ended by a
/// newline so that the data starts at a multiple of 64 bytes; with its magic, version and length
/// prefix. Format 1.0 while the header fits a u16 length, else 2.0 (u32), as numpy chooses.
fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    for (version, prefix) in [(1u8, 10usize), (2, 12)] {
        // numpy pads the dict with spaces and a final '\n' to a multiple of 64 bytes in total
        let pad = (64 - (prefix + dict.len() + 1) % 64) % 64;
        let hlen = dict.len() + pad + 1;
        if version == 1 && hlen > u16::MAX as usize {
            continue;
        }
        let mut out = Vec::with_capacity(prefix + hlen);
        out.extend_from_slice(b"\x93NUMPY");
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(hlen as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(hlen as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.extend(std::iter::repeat_n(b' ', pad));
        out.push(b'\n');
        return out;
    }
    unreachable!("a version 2.0 header always fits")
}

/// About how many bytes of tensor data are copied out of the tensor at a time.
const WRITE_CHUNK_BYTES: usize = 4 << 20;

/// Writes a tensor as a NumPy `.npy` file (what `np.load` reads back with the same dtype and
/// shape): u8 → `|u1`, u32 → `<u4`, i64 → `<i8`, f32 → `<f4`, f64 → `<f8`; C order,
/// little-endian, format 1.0 (2.0 when the header outgrows 65,535 bytes), the data 64-byte aligned
/// as `np.save` aligns it. Other dtypes are [`DataError::BadArgument`].
///
/// The tensor may live on any device and need not be contiguous: the data is copied out and
/// written in chunks of whole leading-axis slices (about 4 MiB each; one slice at a time when a
/// slice is larger), so writing never holds a second full copy of a large array. The file is
/// written atomically: into a temporary file in the same folder, flushed to disk, then renamed
/// over `path`, so a reader never sees half a file and a failed write leaves any earlier file in
/// place.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::{read_npy, write_npy};
/// let path = std::env::temp_dir().join(format!("candlebook-doc-write-{}.npy", std::process::id()));
/// let images = Tensor::arange(0u8, 24, &Device::Cpu)?.reshape((2, 3, 4))?;
/// write_npy(&path, &images)?; // np.load(path) gives uint8 (2, 3, 4)
/// let back = read_npy(&path, &Device::Cpu)?;
/// assert_eq!((back.dims(), back.to_vec3::<u8>()?), (images.dims(), images.to_vec3::<u8>()?));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn write_npy(path: impl AsRef<Path>, tensor: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let descr = match tensor.dtype() {
        DType::U8 => "|u1",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        other => {
            return Err(DataError::BadArgument(format!(
                "write_npy {}: a {other:?} tensor; .npy writing takes u8, u32, i64, f32 or f64 (convert with to_dtype)",
                path.display()
            )))
        }
    };
    let file_name = path.file_name().ok_or_else(|| DataError::BadArgument(format!("write_npy: {} is not a file path", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(DataError::NotFound { what: "folder for the .npy file", path: dir });
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp-{}-{n}", file_name.to_string_lossy(), std::process::id()));
    let written = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp).map_err(DataError::io(&tmp))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&npy_header(descr, tensor.dims())).map_err(DataError::io(&tmp))?;
        write_data(&mut out, tensor).map_err(|e| match e {
            DataError::Io { source, .. } => DataError::Io { path: tmp.clone(), source },
            other => other,
        })?;
        let file = out.into_inner().map_err(|e| DataError::Io { path: tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(DataError::io(&tmp))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::Io { path: path.to_path_buf(), source: e }
    })
}

/// The tensor's elements in C order as little-endian bytes, a chunk of leading-axis slices at a
/// time.
fn write_data<W: Write>(out: &mut W, tensor: &Tensor) -> Result<()> {
    let count = tensor.elem_count();
    if count == 0 {
        return Ok(());
    }
    if tensor.rank() == 0 {
        return write_chunk(out, &tensor.reshape(1)?);
    }
    let rows = tensor.dim(0)?;
    let row_bytes = (count / rows) * tensor.dtype().size_in_bytes();
    let step = (WRITE_CHUNK_BYTES / row_bytes.max(1)).clamp(1, rows);
    let mut start = 0;
    while start < rows {
        let len = step.min(rows - start);
        write_chunk(out, &tensor.narrow(0, start, len)?)?;
        start += len;
    }
    Ok(())
}

fn write_chunk<W: Write>(out: &mut W, chunk: &Tensor) -> Result<()> {
    let chunk = chunk.flatten_all()?;
    let chunk = if chunk.device().is_cpu() { chunk } else { chunk.to_device(&Device::Cpu)? };
    let io = |source| DataError::Io { path: std::path::PathBuf::new(), source };
    macro_rules! le {
        ($t:ty) => {{
            let values = chunk.to_vec1::<$t>()?;
            let mut bytes = Vec::with_capacity(values.len() * std::mem::size_of::<$t>());
            for v in values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            out.write_all(&bytes).map_err(io)?;
        }};
    }
    match chunk.dtype() {
        DType::U8 => out.write_all(&chunk.to_vec1::<u8>()?).map_err(io)?,
        DType::U32 => le!(u32),
        DType::I64 => le!(i64),
        DType::F32 => le!(f32),
        DType::F64 => le!(f64),
        other => return Err(DataError::BadArgument(format!("write_npy: dtype {other:?}"))),
    }
    Ok(())
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn header_is_numpys_and_aligned() {
        let h = npy_header("<f4", &[2, 3]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), "{text}");
        assert!(text.ends_with(" \n"));
        assert!(String::from_utf8_lossy(&npy_header("|u1", &[7])).contains("'shape': (7,), }"));
        assert!(String::from_utf8_lossy(&npy_header("<f8", &[])).contains("'shape': (), }"));
        // a header past 65,535 bytes switches to format 2.0 with a u32 length
        let shape = vec![1usize; 22_000];
        let h = npy_header("<f4", &shape);
        assert_eq!(&h[6..8], &[2, 0]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize, h.len() - 12);
    }

    /// `name` in a folder of its own (`name` without extension), so tests running at once do not
    /// see each other's temporary files.
    fn tmp(name: &str) -> std::path::PathBuf {
        let stem = name.split('.').next().unwrap_or(name).trim_end_matches(char::is_numeric);
        let d = std::env::temp_dir().join(format!("candlebook-npy-write-{}/{stem}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    fn same(a: &Tensor, b: &Tensor) {
        assert_eq!((a.dims(), a.dtype()), (b.dims(), b.dtype()));
        let (a, b) = (a.flatten_all().unwrap().to_dtype(DType::F64).unwrap(), b.flatten_all().unwrap().to_dtype(DType::F64).unwrap());
        let (a, b) = (a.to_vec1::<f64>().unwrap(), b.to_vec1::<f64>().unwrap());
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())));
    }

    #[test]
    fn every_dtype_and_shape_round_trips() {
        let dev = Device::Cpu;
        let f = Tensor::new(&[[1.5f32, -0.0, f32::NAN], [f32::INFINITY, 1e-30, -3.25]], &dev).unwrap();
        let cases = [
            Tensor::arange(0u8, 255, &dev).unwrap().reshape((3, 5, 17)).unwrap(),
            Tensor::new(&[0u32, 1, u32::MAX], &dev).unwrap(),
            Tensor::new(&[[i64::MIN, -1], [0, i64::MAX]], &dev).unwrap(),
            f.clone(),
            f.to_dtype(DType::F64).unwrap().affine(1.0 / 3.0, 0.0).unwrap(),
            Tensor::new(2.5f64, &dev).unwrap(),                      // 0-d
            Tensor::zeros((0, 4), DType::F32, &dev).unwrap(),       // empty
            f.t().unwrap(),                                          // not contiguous: written in C order of its own shape
            Tensor::rand(0f32, 1.0, (3, 700, 700), &dev).unwrap(),  // several 4 MiB chunks... of 1.96 MB rows
            Tensor::rand(0f32, 1.0, (5000, 300), &dev).unwrap(),    // rows smaller than a chunk
        ];
        for (i, t) in cases.iter().enumerate() {
            let path = tmp(&format!("case{i}.npy"));
            write_npy(&path, t).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + hlen) % 64, 0, "case {i}: data not 64-byte aligned");
            assert_eq!(bytes.len(), 10 + hlen + t.elem_count() * t.dtype().size_in_bytes(), "case {i}");
            same(&read_npy(&path, &dev).unwrap(), t);
        }
        // the transposed tensor's values in C order
        let back = read_npy(tmp("case7.npy"), &dev).unwrap();
        assert_eq!(back.dims(), &[3, 2]);
        assert_eq!(back.get(0).unwrap().to_vec1::<f32>().unwrap(), vec![1.5, f32::INFINITY]);
    }

    #[test]
    fn overwrites_atomically_and_leaves_no_temporary_files() {
        let dev = Device::Cpu;
        let path = tmp("atomic.npy");
        write_npy(&path, &Tensor::new(&[1u8, 2, 3], &dev).unwrap()).unwrap();
        write_npy(&path, &Tensor::new(&[4u32, 5], &dev).unwrap()).unwrap();
        assert_eq!(read_npy(&path, &dev).unwrap().to_vec1::<u32>().unwrap(), vec![4, 5]);
        // a dtype it cannot write: an error, and the earlier file is untouched
        let e = write_npy(&path, &Tensor::new(&[1f32], &dev).unwrap().to_dtype(DType::BF16).unwrap()).unwrap_err();
        assert!(matches!(&e, DataError::BadArgument(m) if m.contains("BF16")), "{e:?}");
        assert_eq!(read_npy(&path, &dev).unwrap().to_vec1::<u32>().unwrap(), vec![4, 5]);
        let dir = path.parent().unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains(".tmp-")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // a folder that does not exist
        let e = write_npy(dir.join("no/such/folder/x.npy"), &Tensor::new(&[1u8], &dev).unwrap()).unwrap_err();
        assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    }

    #[test]
    fn truncated_files_are_named_errors() {
        let dev = Device::Cpu;
        let path = tmp("truncated.npy");
        write_npy(&path, &Tensor::new(&[[1f32, 2.0], [3.0, 4.0]], &dev).unwrap()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // one byte short of the data
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let e = read_npy(&path, &dev).unwrap_err();
        assert!(matches!(&e, DataError::BadFormat { message, .. } if message.contains("15 data bytes, expected 16")), "{e:?}");
        assert!(e.to_string().contains("truncated.npy"), "{e}");
        // cut inside the header, and inside the magic and length
        for cut in [40, 9, 3] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let e = read_npy(&path, &dev).unwrap_err();
            assert!(matches!(e, DataError::BadFormat { .. }), "cut at {cut}: {e:?}");
        }
    }

    /// numpy itself reads what we write (skipped when the project's Python venv with numpy is
    /// absent: `scripts/make-keras-fixtures` makes it).
    #[test]
    fn numpy_loads_what_we_write() {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/keras-venv/bin/python");
        let has_numpy = std::process::Command::new(&python).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
        if !has_numpy {
            eprintln!("skipped: no numpy at {}", python.display());
            return;
        }
        let dev = Device::Cpu;
        let cases = [
            ("u8", Tensor::arange(0u8, 24, &dev).unwrap().reshape((2, 3, 4)).unwrap(), "uint8", "(2, 3, 4)", "276.0"),
            ("u32", Tensor::new(&[7u32, 4_000_000_000], &dev).unwrap(), "uint32", "(2,)", "4000000007.0"),
            ("i64", Tensor::new(&[[-5i64], [9]], &dev).unwrap(), "int64", "(2, 1)", "4.0"),
            ("f32", Tensor::new(&[[0.5f32, 0.25], [-1.0, 2.0]], &dev).unwrap().t().unwrap(), "float32", "(2, 2)", "1.75"),
            ("f64", Tensor::new(3.5f64, &dev).unwrap(), "float64", "()", "3.5"),
        ];
        for (name, t, dtype, shape, sum) in cases {
            let path = tmp(&format!("numpy_{name}.npy"));
            write_npy(&path, &t).unwrap();
            let script = format!("import numpy as np; a = np.load({:?}); print(a.dtype, a.shape, float(a.sum()), a.flags['C_CONTIGUOUS'], a.ravel()[:2].tolist())", path.to_string_lossy());
            let out = std::process::Command::new(&python).args(["-c", &script]).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with(&format!("{dtype} {shape} {sum} True")), "{name}: {text} {}", String::from_utf8_lossy(&out.stderr));
            if name == "f32" {
                assert!(text.trim_end().ends_with("[0.5, -1.0]"), "{text}"); // the transpose's C order
            }
        }
    }
}
