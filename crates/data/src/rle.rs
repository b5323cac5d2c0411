//! Run-length encoding of masks as in the Severstal competition: space-separated pairs
//! `start length`, starts 1-based, pixels numbered top to bottom, then left to right
//! (column-major) over an image `height × width`.

use crate::error::{DataError, Result};

/// Parses an encoding into `(start, length)` runs with 0-based starts, checking that every run
/// stays inside `height × width` pixels.
///
/// ```
/// use candlebook_data::rle_runs;
/// assert_eq!(rle_runs("1 3 10 2", 4, 4)?, vec![(0, 3), (9, 2)]);
/// assert!(rle_runs("15 3", 4, 4).is_err()); // pixels 15..17 of 16
/// assert!(rle_runs("1", 4, 4).is_err());    // odd count
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn rle_runs(encoded: &str, height: usize, width: usize) -> Result<Vec<(usize, usize)>> {
    let total = height.checked_mul(width).ok_or_else(|| DataError::Rle { message: format!("image {height}x{width} too large") })?;
    let mut nums = Vec::new();
    for tok in encoded.split_ascii_whitespace() {
        let v: usize = tok.parse().map_err(|_| DataError::Rle { message: format!("{:?} is not a non-negative integer", tok.chars().take(30).collect::<String>()) })?;
        nums.push(v);
    }
    if nums.len() % 2 != 0 {
        return Err(DataError::Rle { message: format!("{} numbers: expected pairs of start and length", nums.len()) });
    }
    let mut runs = Vec::with_capacity(nums.len() / 2);
    for p in nums.chunks_exact(2) {
        let (start, len) = (p[0], p[1]);
        if start == 0 {
            return Err(DataError::Rle { message: "start 0: starts are 1-based".into() });
        }
        let end = (start - 1).checked_add(len).filter(|&e| e <= total).ok_or_else(|| DataError::Rle {
            message: format!("run {start} {len} reaches past the image's {total} pixels ({height}x{width})"),
        })?;
        runs.push((start - 1, end - (start - 1)));
    }
    Ok(runs)
}

/// Decodes an encoding to a row-major `height × width` mask of 0/1 bytes.
///
/// ```
/// use candlebook_data::rle_decode;
/// // 3 rows x 2 columns; pixels 1..=4 are column 0 rows 0,1,2 then column 1 row 0
/// let m = rle_decode("2 3", 3, 2)?;
/// assert_eq!(m, vec![0, 1,
///                    1, 0,
///                    1, 0]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn rle_decode(encoded: &str, height: usize, width: usize) -> Result<Vec<u8>> {
    let runs = rle_runs(encoded, height, width)?;
    let mut mask = vec![0u8; height * width];
    for (start, len) in runs {
        for p in start..start + len {
            let (col, row) = (p / height, p % height);
            mask[row * width + col] = 1;
        }
    }
    Ok(mask)
}

/// Encodes a row-major `height × width` mask (non-zero = set) in the same scheme.
///
/// ```
/// use candlebook_data::{rle_decode, rle_encode};
/// let m = vec![0, 1, 1, 0, 1, 0];
/// assert_eq!(rle_encode(&m, 3, 2)?, "2 3");
/// assert_eq!(rle_decode(&rle_encode(&m, 3, 2)?, 3, 2)?, m);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn rle_encode(mask: &[u8], height: usize, width: usize) -> Result<String> {
    if mask.len() != height * width {
        return Err(DataError::Rle { message: format!("mask has {} pixels, expected {height}x{width}", mask.len()) });
    }
    let mut out = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for p in 0..height * width {
        let on = mask[(p % height) * width + p / height] != 0;
        run = match (run, on) {
            (None, true) => Some((p, 1)),
            (Some((s, l)), true) => Some((s, l + 1)),
            (Some((s, l)), false) => {
                out.push(format!("{} {l}", s + 1));
                None
            }
            (None, false) => None,
        };
    }
    if let Some((s, l)) = run {
        out.push(format!("{} {l}", s + 1));
    }
    Ok(out.join(" "))
}
