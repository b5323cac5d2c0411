//! The fingers dataset: 128×128 gray PNGs whose names carry the label, `<uuid>_<digit><L|R>.png`.

use std::path::Path;

use candle_core::Device;

use crate::dataset::Dataset;
use crate::decode::{image_files, load_listed, spread, Channels, Listed, LoadOptions};
use crate::error::{DataError, Result};
use crate::root::DataRoot;
use crate::Split;

/// Which hand a fingers image shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hand {
    /// `L` in the file name; label 0 in the `hand` column.
    Left,
    /// `R` in the file name; label 1.
    Right,
}

/// Reads `(digit, hand)` from a fingers file name `<anything>_<digit><L|R>.<ext>` (digit 0..=5).
///
/// ```
/// use candlebook_data::{parse_finger_name, Hand};
/// assert_eq!(parse_finger_name("000e7aa6-100b_5L.png")?, (5, Hand::Left));
/// assert_eq!(parse_finger_name("x_0R.png")?, (0, Hand::Right));
/// assert!(parse_finger_name("x_6R.png").is_err());
/// assert!(parse_finger_name("x5R.png").is_err());
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn parse_finger_name(name: &str) -> Result<(u8, Hand)> {
    let bad = || DataError::BadFileName { name: name.to_string(), expected: "<id>_<digit 0-5><L|R>.png" };
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    let (_, tag) = stem.rsplit_once('_').ok_or_else(bad)?;
    let b = tag.as_bytes();
    if b.len() != 2 || !(b'0'..=b'5').contains(&b[0]) {
        return Err(bad());
    }
    let hand = match b[1] {
        b'L' => Hand::Left,
        b'R' => Hand::Right,
        _ => return Err(bad()),
    };
    Ok((b[0] - b'0', hand))
}

/// Loads every image of a fingers folder (`train/` or `test/`): labels = the digit (classes
/// `"0"`..`"5"`), the `hand` column = 0 for L, 1 for R. Gray by default; cached (see
/// [`LoadOptions`]). Fails with a named error on a missing or empty folder or a file name without
/// a label.
pub fn load_fingers_dir(dir: impl AsRef<Path>, opts: &LoadOptions, device: &Device) -> Result<Dataset> {
    let dir = dir.as_ref();
    let files = spread(&image_files(dir)?, opts.limit);
    let mut labels = Vec::with_capacity(files.len());
    let mut hands = Vec::with_capacity(files.len());
    for f in &files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (d, h) = parse_finger_name(&name)?;
        labels.push(d as u32);
        hands.push(matches!(h, Hand::Right) as u32);
    }
    let split = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    load_listed(
        Listed {
            name: format!("fingers-{split}"),
            dir: dir.to_path_buf(),
            files,
            labels,
            extra: vec![("hand".into(), hands)],
            class_names: (0..6).map(|d| d.to_string()).collect(),
            default_channels: Channels::Gray,
        },
        opts,
        device,
    )
}

/// The fingers split from `<root>/fingers/<train|test>`, or, when that folder is absent,
/// [`crate::generated::fingers`] (400 per digit and hand for train, 4,800 images; 50 for test) with a `GENERATED DATA:`
/// line.
///
/// ```
/// use candlebook_data::{fingers, DataRoot, LoadOptions, Split};
/// let root = DataRoot::at(std::env::temp_dir().join("candlebook-no-data-here"));
/// let test = fingers(&root, Split::Test, &LoadOptions::default(), &candle_core::Device::Cpu)?;
/// assert!(test.is_generated());
/// assert_eq!(test.images.dims()[1..], [1, 128, 128]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn fingers(root: &DataRoot, split: Split, opts: &LoadOptions, device: &Device) -> Result<Dataset> {
    let dir = root.join("fingers").join(split.as_str());
    if dir.is_dir() {
        return load_fingers_dir(&dir, opts, device);
    }
    let per_class = opts.limit.map(|l| l.div_ceil(12)).unwrap_or(if split == Split::Train { 400 } else { 50 });
    let ds = crate::generated::fingers(split, per_class, device)?;
    root.announce_generated(&dir, &ds);
    Ok(ds)
}
