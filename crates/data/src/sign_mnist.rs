//! Sign Language MNIST: CSV files with a header `label,pixel1..pixel784`, one 28×28 gray image
//! per row (row-major). Labels are letters A..Y without J (9) and Z (25): 24 classes with
//! original labels 0..=24 minus 9, mapped here to contiguous classes 0..=23.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use polars::prelude::*;

use crate::dataset::{DataSource, Dataset};
use crate::error::{DataError, Result};
use crate::root::DataRoot;
use crate::Split;

/// Columns per row: the label and 784 pixels.
pub const SIGN_MNIST_COLUMNS: usize = 785;

/// The contiguous class (0..=23) of an original label (0..=24 without 9), or an error naming the
/// label.
///
/// ```
/// use candlebook_data::sign_mnist::{contiguous_label, original_label};
/// assert_eq!(contiguous_label(8)?, 8);
/// assert_eq!(contiguous_label(10)?, 9);
/// assert_eq!(contiguous_label(24)?, 23);
/// assert!(contiguous_label(9).is_err() && contiguous_label(25).is_err());
/// assert_eq!(original_label(23), 24);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn contiguous_label(original: i64) -> Result<u32> {
    match original {
        0..=8 => Ok(original as u32),
        10..=24 => Ok(original as u32 - 1),
        _ => Err(DataError::LabelOutOfRange { label: original, expected: "0..=24 without 9 (sign-language letters A..Y without J)".into() }),
    }
}

/// The original label (0..=24 without 9) of a contiguous class (0..=23).
pub fn original_label(class: u32) -> u32 {
    if class < 9 {
        class
    } else {
        class + 1
    }
}

/// The 24 class names, letters A..Y without J.
pub fn class_names() -> Vec<String> {
    (0..24).map(|c| ((b'A' + original_label(c) as u8) as char).to_string()).collect()
}

/// Parses one data row `label,p1,…,p784` (row numbers count data rows from 1, for messages):
/// the original label (0..=24 without 9) and the 784 pixels (integers 0..=255). Every problem is
/// a named error: wrong column count, a cell that is not an integer in range, a bad label.
///
/// ```
/// use candlebook_data::sign_mnist::parse_row;
/// let line = format!("3{}", ",7".repeat(784));
/// let (label, px) = parse_row(&line, 1, "x.csv".as_ref())?;
/// assert_eq!((label, px.len(), px[0]), (3, 784, 7));
/// assert!(parse_row("3,1,2", 1, "x.csv".as_ref()).is_err());
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn parse_row(line: &str, row: usize, path: &Path) -> Result<(u32, Vec<u8>)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let got = line.split(',').count();
    if got != SIGN_MNIST_COLUMNS {
        return Err(DataError::CsvColumns { path: path.to_path_buf(), row, expected: SIGN_MNIST_COLUMNS, got });
    }
    let mut cells = line.split(',');
    let label_cell = cells.next().unwrap_or("").trim();
    let label: i64 = label_cell.parse().map_err(|_| DataError::CsvValue {
        path: path.to_path_buf(),
        row,
        column: "label".into(),
        value: label_cell.chars().take(40).collect(),
        expected: "an integer label",
    })?;
    let original = contiguous_label(label).map(original_label)?;
    let mut px = Vec::with_capacity(784);
    for (i, cell) in cells.enumerate() {
        let cell = cell.trim();
        let v: u8 = cell.parse().map_err(|_| DataError::CsvValue {
            path: path.to_path_buf(),
            row,
            column: format!("pixel{}", i + 1),
            value: cell.chars().take(40).collect(),
            expected: "an integer 0..=255",
        })?;
        px.push(v);
    }
    Ok((original, px))
}

/// Finds the first bad row of a CSV with our own row parser (for a precise error after polars
/// rejected the file).
fn first_bad_row(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    for (i, line) in text.lines().skip(1).enumerate() {
        if !line.trim().is_empty() {
            parse_row(line, i + 1, path)?;
        }
    }
    Ok(())
}

/// Reads a Sign Language MNIST CSV through polars: images `(N, 1, 28, 28)` u8, labels the 24
/// contiguous classes (for a one-hot of width 24), the `original` column the CSV's labels.
pub fn load_sign_mnist_csv(path: impl AsRef<Path>, device: &Device) -> Result<Dataset> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(DataError::NotFound { what: "sign-language MNIST CSV", path: path.to_path_buf() });
    }
    let pe = |source| DataError::Polars { path: path.to_path_buf(), source };
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0)) // every column as text: we check the values ourselves
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish());
    let df = match df {
        Ok(df) => df,
        Err(e) => {
            first_bad_row(path)?;
            return Err(pe(e));
        }
    };
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    if names.len() != SIGN_MNIST_COLUMNS || names[0] != "label" {
        return Err(DataError::CsvFormat {
            path: path.to_path_buf(),
            message: format!("expected the header label,pixel1..pixel784 ({SIGN_MNIST_COLUMNS} columns), found {} columns starting {:?}", names.len(), names.first()),
        });
    }
    let n = df.height();
    let mut labels = vec![0u32; n];
    let mut original = vec![0u32; n];
    let mut px = vec![0u8; n * 784];
    for (j, col) in df.columns().iter().enumerate() {
        let s = col.str().map_err(pe)?;
        for (i, v) in s.iter().enumerate() {
            let cell = v.unwrap_or("").trim();
            if j == 0 {
                let l: i64 = cell.parse().map_err(|_| DataError::CsvValue { path: path.to_path_buf(), row: i + 1, column: "label".into(), value: cell.into(), expected: "an integer label" })?;
                labels[i] = contiguous_label(l)?;
                original[i] = l as u32;
            } else {
                let p: u8 = cell.parse().map_err(|_| {
                    // a missing cell means a short row: report it as such
                    match first_bad_row(path) {
                        Err(e) => e,
                        Ok(()) => DataError::CsvValue { path: path.to_path_buf(), row: i + 1, column: names[j].clone(), value: cell.into(), expected: "an integer 0..=255" },
                    }
                })?;
                px[i * 784 + j - 1] = p;
            }
        }
    }
    let images = Tensor::from_vec(px, (n, 1, 28, 28), device)?;
    let ds = Dataset::new(images, Tensor::from_vec(labels, n, device)?, class_names(), DataSource::Files(path.to_path_buf()))?;
    ds.with_extra("original", Tensor::from_vec(original, n, device)?)
}

/// The CSV of a split under `<root>/sign_mnist/`: `sign_mnist_train.csv`, and for the held-out
/// split `sign_mnist_valid.csv` (the course's name) if it exists, else `sign_mnist_test.csv`
/// (Kaggle's name).
pub fn sign_mnist_csv_path(root: &DataRoot, split: Split) -> PathBuf {
    let dir = root.join("sign_mnist");
    match split {
        Split::Train => dir.join("sign_mnist_train.csv"),
        Split::Test => {
            let valid = dir.join("sign_mnist_valid.csv");
            if valid.is_file() {
                valid
            } else {
                dir.join("sign_mnist_test.csv")
            }
        }
    }
}

/// Rows per class of the generated stand-in: 150 for train, 20 for the held-out split. Sized
/// for the notebook's second training, with the course's augmentation: on 60 per letter the ASL
/// CNN trained on augmented batches scored 0.49 on clean validation images in inference mode, and
/// Keras 3.15 on the same images and augmentation 0.54 (its batch norm follows dropout, and the
/// 900 steps were too few); on 150 per letter it reaches 0.98, like the plain run.
fn standin_per_class(split: Split) -> usize {
    if split == Split::Train {
        150
    } else {
        20
    }
}

/// The split from [`sign_mnist_csv_path`], or a generated stand-in
/// ([`crate::generated::sign_mnist`], 150 per class for train, 20 for test) with a
/// `GENERATED DATA:` line.
pub fn sign_mnist(root: &DataRoot, split: Split, device: &Device) -> Result<Dataset> {
    let path = sign_mnist_csv_path(root, split);
    if path.is_file() {
        let ds = load_sign_mnist_csv(&path, device)?;
        println!("REAL DATA: {}: {} images 1x28x28, 24 classes", path.display(), ds.len());
        return Ok(ds);
    }
    let ds = crate::generated::sign_mnist(split, standin_per_class(split), device)?;
    root.announce_generated(&path, &ds);
    Ok(ds)
}

/// A Sign Language MNIST CSV as pandas's `read_csv` gives it: a polars `DataFrame` with an i64
/// `label` column (the CSV's letters 0..=24 without 9) and `pixel1`..`pixel784`. The file is
/// checked as [`load_sign_mnist_csv`] checks it (header, column count, labels, pixels 0..=255),
/// with the same named errors.
pub fn read_sign_mnist_frame(path: impl AsRef<Path>) -> Result<DataFrame> {
    let ds = load_sign_mnist_csv(path.as_ref(), &Device::Cpu)?;
    dataset_frame(&ds)
}

/// The frame of a split ([`sign_mnist_csv_path`]), or of the generated stand-in (announced with
/// a `GENERATED DATA:` line) when the file is absent.
///
/// ```
/// use candlebook_data::{sign_mnist::sign_mnist_frame, DataRoot, Split};
/// let root = DataRoot::at(std::env::temp_dir().join("candlebook-no-data-here"));
/// let df = sign_mnist_frame(&root, Split::Test)?; // GENERATED DATA: ... 480 drawn 28x28 gray hand signs
/// assert_eq!(df.shape(), (480, 785));
/// assert_eq!(df.get_column_names()[0].as_str(), "label");
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn sign_mnist_frame(root: &DataRoot, split: Split) -> Result<DataFrame> {
    dataset_frame(&sign_mnist(root, split, &Device::Cpu)?)
}

/// `label` (the original letters) and `pixel1..pixel784` of a loaded split.
fn dataset_frame(ds: &Dataset) -> Result<DataFrame> {
    let n = ds.len();
    let original = match ds.extra("original") {
        Some(t) => t.to_device(&Device::Cpu)?.to_vec1::<u32>()?,
        None => ds.labels.to_device(&Device::Cpu)?.to_vec1::<u32>()?.into_iter().map(original_label).collect(),
    };
    let px = ds.images.to_device(&Device::Cpu)?.flatten_from(1)?.to_vec2::<u8>()?;
    let mut columns = Vec::with_capacity(SIGN_MNIST_COLUMNS);
    columns.push(Column::new("label".into(), original.iter().map(|&l| l as i64).collect::<Vec<i64>>()));
    for j in 0..784 {
        columns.push(Column::new(format!("pixel{}", j + 1).into(), px.iter().map(|row| row[j] as i64).collect::<Vec<i64>>()));
    }
    DataFrame::new(n, columns).map_err(|e| DataError::Polars { path: PathBuf::from("sign_mnist frame"), source: e })
}

/// The contiguous classes 0..=23 of a frame's `label` column (original letters 0..=24 without
/// 9 = J): A..I keep their number, K..Y move down by one. Keras's `to_categorical(y, 24)` needs
/// this: the letter Y is 24, one past the last of 24 classes. A label outside the letters is a
/// [`DataError::LabelOutOfRange`].
///
/// ```
/// use polars::prelude::*;
/// let labels = Column::new("label".into(), vec![0i64, 8, 10, 24]);
/// let classes = candlebook_data::sign_mnist::letter_classes(&labels, &candle_core::Device::Cpu)?;
/// assert_eq!(classes.to_vec1::<u32>()?, vec![0, 8, 9, 23]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn letter_classes(labels: &Column, device: &Device) -> Result<Tensor> {
    let bad = |e: PolarsError| DataError::BadArgument(format!("label column '{}': {e}", labels.name()));
    let cast = labels.cast(&DataType::Int64).map_err(bad)?;
    let mut classes = Vec::with_capacity(cast.len());
    for v in cast.i64().map_err(bad)?.iter() {
        let v = v.ok_or_else(|| DataError::BadArgument(format!("label column '{}' has a missing value", labels.name())))?;
        classes.push(contiguous_label(v)?);
    }
    let n = classes.len();
    Ok(Tensor::from_vec(classes, n, device)?)
}
