//! Colour maps for single-channel images (matplotlib's names and behaviour).

use crate::error::{PlotError, Result};
use crate::viridis::VIRIDIS;

/// How a single-channel image becomes colours. Values are first scaled to 0..=1 between the
/// image's minimum and maximum (or a given range), as matplotlib's `imshow` does.
///
/// ```
/// use candlebook_plots::Colormap;
/// assert_eq!(Colormap::Gray.color(1.0), [255, 255, 255]);
/// assert_eq!(Colormap::Binary.color(1.0), [0, 0, 0]);
/// assert_eq!(Colormap::Viridis.color(0.0), [68, 1, 84]);
/// let red = Colormap::linear(&[[0, 0, 0], [255, 0, 0]]).unwrap();
/// assert_eq!(red.color(0.5), [128, 0, 0]);
/// assert!(Colormap::linear(&[[0, 0, 0]]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Colormap {
    /// matplotlib's default: dark purple → blue → green → yellow.
    #[default]
    Viridis,
    /// Black → white.
    Gray,
    /// White → black (matplotlib's `binary`).
    Binary,
    /// Linear blend through two or more colours, evenly spaced (matplotlib's
    /// `LinearSegmentedColormap.from_list`), e.g. black → red for a red-channel view.
    Linear(Vec<[u8; 3]>),
    /// A linear map quantised to `levels` colours (matplotlib's `from_list(..., N=levels)`).
    Stepped {
        /// The colours blended between, evenly spaced.
        colours: Vec<[u8; 3]>,
        /// How many distinct colours the map has.
        levels: usize,
    },
}

impl Colormap {
    /// A linear colour map through the given colours (at least two).
    pub fn linear(colours: &[[u8; 3]]) -> Result<Self> {
        if colours.len() < 2 {
            return Err(PlotError::TooFewColours(colours.len()));
        }
        Ok(Colormap::Linear(colours.to_vec()))
    }

    /// A linear map through `colours` with only `levels` distinct colours, as matplotlib's
    /// `LinearSegmentedColormap.from_list("name", colours, N=levels)`.
    pub fn linear_levels(colours: &[[u8; 3]], levels: usize) -> Result<Self> {
        if colours.len() < 2 {
            return Err(PlotError::TooFewColours(colours.len()));
        }
        Ok(Colormap::Stepped { colours: colours.to_vec(), levels: levels.max(2) })
    }

    /// matplotlib's `Blues` (white to dark blue), used for confusion matrices.
    pub fn blues() -> Self {
        Colormap::Linear(vec![
            [247, 251, 255],
            [222, 235, 247],
            [198, 219, 239],
            [158, 202, 225],
            [107, 174, 214],
            [66, 146, 198],
            [33, 113, 181],
            [8, 81, 156],
            [8, 48, 107],
        ])
    }

    /// The colour of a value in 0..=1 (values outside are clipped; NaN is white, as matplotlib
    /// leaves bad values transparent on a white figure).
    pub fn color(&self, t: f32) -> [u8; 3] {
        if t.is_nan() {
            return [255, 255, 255];
        }
        let t = t.clamp(0.0, 1.0);
        // matplotlib looks colours up in a 256-entry table: index = floor(t * 256), capped at 255.
        let idx = ((t * 256.0) as usize).min(255);
        match self {
            Colormap::Viridis => VIRIDIS[idx],
            Colormap::Gray => [idx as u8; 3],
            Colormap::Binary => [255 - idx as u8; 3],
            // A hand-built map with fewer than two colours (`Colormap::linear` refuses those) is
            // drawn flat rather than failing mid-figure.
            Colormap::Linear(cs) if cs.len() < 2 => cs.first().copied().unwrap_or([0, 0, 0]),
            Colormap::Linear(cs) => blend(cs, idx as f32 / 255.0),
            Colormap::Stepped { colours, .. } if colours.len() < 2 => colours.first().copied().unwrap_or([0, 0, 0]),
            Colormap::Stepped { colours, levels } => {
                let n = (*levels).max(2);
                let step = ((t * n as f32) as usize).min(n - 1);
                blend(colours, step as f32 / (n - 1) as f32)
            }
        }
    }
}

/// The colour at `pos` (0..=1) of evenly spaced colour stops (at least two).
fn blend(cs: &[[u8; 3]], pos: f32) -> [u8; 3] {
    let pos = pos * (cs.len() - 1) as f32;
    let i = (pos.floor() as usize).min(cs.len() - 2);
    let f = pos - i as f32;
    let (a, b) = (cs[i], cs[i + 1]);
    std::array::from_fn(|k| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8)
}
