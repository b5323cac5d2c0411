//! Border modes (how pixels outside the image are made up), with OpenCV's names and meanings.

use candle_core::{Device, Tensor};

use crate::error::Result;

/// How a filter reads pixels beyond the image edge. The default is OpenCV's `BORDER_REFLECT_101`.
///
/// For a row `a b c d e`, two pixels of padding on each side give:
/// - `Reflect101`: `c b | a b c d e | d c` (the edge pixel is not repeated; OpenCV's default)
/// - `Reflect`:    `b a | a b c d e | e d`
/// - `Replicate`:  `a a | a b c d e | e e`
/// - `Constant(v)`: `v v | a b c d e | v v`
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Border {
    /// `gfedcb|abcdefgh|gfedcba` (OpenCV `BORDER_REFLECT_101`, also `BORDER_DEFAULT`).
    #[default]
    Reflect101,
    /// `fedcba|abcdefgh|hgfedcb` (OpenCV `BORDER_REFLECT`).
    Reflect,
    /// `aaaaaa|abcdefgh|hhhhhhh` (OpenCV `BORDER_REPLICATE`).
    Replicate,
    /// A constant value (OpenCV `BORDER_CONSTANT`).
    Constant(f32),
}

impl Border {
    /// Maps a coordinate `i` (possibly outside `0..len`) to the source coordinate, or `None` for a
    /// constant border. `len` must be at least 1.
    ///
    /// ```
    /// use candlebook_kernels::Border;
    /// assert_eq!(Border::Reflect101.source_index(-1, 5), Some(1));
    /// assert_eq!(Border::Reflect.source_index(-1, 5), Some(0));
    /// assert_eq!(Border::Replicate.source_index(7, 5), Some(4));
    /// assert_eq!(Border::Constant(0.0).source_index(-1, 5), None);
    /// ```
    pub fn source_index(&self, i: isize, len: usize) -> Option<usize> {
        let n = len as isize;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        match self {
            Border::Constant(_) => None,
            Border::Replicate => Some(i.clamp(0, n - 1) as usize),
            Border::Reflect101 => {
                if n == 1 {
                    return Some(0);
                }
                let period = 2 * (n - 1);
                let mut j = i.rem_euclid(period);
                if j >= n {
                    j = period - j;
                }
                Some(j as usize)
            }
            Border::Reflect => {
                let period = 2 * n;
                let mut j = i.rem_euclid(period);
                if j >= n {
                    j = period - 1 - j;
                }
                Some(j as usize)
            }
        }
    }
}

/// Pads dimension 2 (height) and 3 (width) of a 4-D tensor with the given border.
pub(crate) fn pad_hw(
    x: &Tensor,
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
    border: Border,
) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    match border {
        Border::Constant(v) => {
            let v = v as f64;
            let shifted = if v != 0.0 { x.affine(1.0, -v)? } else { x.clone() };
            let padded = shifted.pad_with_zeros(2, top, bottom)?.pad_with_zeros(3, left, right)?;
            Ok(if v != 0.0 { padded.affine(1.0, v)? } else { padded })
        }
        _ => {
            let rows = index_map(h, top, bottom, border, x.device())?;
            let cols = index_map(w, left, right, border, x.device())?;
            Ok(x.index_select(&rows, 2)?.index_select(&cols, 3)?)
        }
    }
}

fn index_map(len: usize, before: usize, after: usize, border: Border, device: &Device) -> Result<Tensor> {
    let idx: Vec<u32> = (-(before as isize)..(len + after) as isize)
        .map(|i| border.source_index(i, len).unwrap_or(0) as u32)
        .collect();
    Ok(Tensor::new(idx, device)?)
}
