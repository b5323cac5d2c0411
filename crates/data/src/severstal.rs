//! Severstal steel defect detection: `train.csv` (`ImageId,ClassId,EncodedPixels`) and
//! `train_images/*.jpg` (1600×256). Labels as the tutorial builds them: binary defect / no
//! defect, and a multiclass label = the first ClassId of an image (after dropping duplicate
//! ImageIds, keeping the first row), 0 for an image without a row.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use polars::prelude::*;

use crate::dataset::{DataSource, Dataset};
use crate::decode::{image_files, load_listed, spread, Channels, Listed, LoadOptions};
use crate::error::{DataError, Result};
use crate::rle::{rle_decode, rle_runs};
use crate::root::DataRoot;

/// Height of a Severstal image.
pub const STEEL_HEIGHT: usize = 256;
/// Width of a Severstal image.
pub const STEEL_WIDTH: usize = 1600;

/// One row of `train.csv`: a defect of one class on one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteelRow {
    /// The image's file name, e.g. `0002cc93b.jpg`.
    pub image_id: String,
    /// Defect class 1..=4.
    pub class_id: u32,
    /// The run-length-encoded mask (see [`crate::rle_decode`]).
    pub encoded: String,
}

impl SteelRow {
    /// The mask as a `(256, 1600)` u8 tensor of 0/1.
    pub fn mask(&self, device: &Device) -> Result<Tensor> {
        let m = rle_decode(&self.encoded, STEEL_HEIGHT, STEEL_WIDTH)?;
        Ok(Tensor::from_vec(m, (STEEL_HEIGHT, STEEL_WIDTH), device)?)
    }
}

/// Reads `train.csv` through polars and checks every row: a ClassId in 1..=4 and an encoding
/// that stays inside 256×1600.
pub fn read_severstal_csv(path: impl AsRef<Path>) -> Result<Vec<SteelRow>> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(DataError::NotFound { what: "Severstal train.csv", path: path.to_path_buf() });
    }
    let pe = |source| DataError::Polars { path: path.to_path_buf(), source };
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(pe)?;
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    if names != ["ImageId", "ClassId", "EncodedPixels"] {
        return Err(DataError::CsvFormat { path: path.to_path_buf(), message: format!("expected the header ImageId,ClassId,EncodedPixels, found {names:?}") });
    }
    let col = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(df.column(name).map_err(pe)?.str().map_err(pe)?.iter().map(|v| v.map(String::from)).collect())
    };
    let (ids, classes, enc) = (col("ImageId")?, col("ClassId")?, col("EncodedPixels")?);
    let mut rows = Vec::with_capacity(ids.len());
    for (i, ((id, class), enc)) in ids.into_iter().zip(classes).zip(enc).enumerate() {
        let row = i + 1;
        let missing = |column: &str| DataError::CsvValue { path: path.to_path_buf(), row, column: column.into(), value: String::new(), expected: "a value" };
        let image_id = id.ok_or_else(|| missing("ImageId"))?;
        let class_s = class.ok_or_else(|| missing("ClassId"))?;
        let class_id: u32 = class_s.trim().parse().ok().filter(|c| (1..=4).contains(c)).ok_or_else(|| DataError::CsvValue {
            path: path.to_path_buf(),
            row,
            column: "ClassId".into(),
            value: class_s.clone(),
            expected: "a defect class 1..=4",
        })?;
        let encoded = enc.unwrap_or_default();
        rle_runs(&encoded, STEEL_HEIGHT, STEEL_WIDTH).map_err(|e| DataError::CsvValue {
            path: path.to_path_buf(),
            row,
            column: "EncodedPixels".into(),
            value: e.to_string(),
            expected: "a run-length encoding inside 256x1600",
        })?;
        rows.push(SteelRow { image_id, class_id, encoded });
    }
    Ok(rows)
}

/// Per-image labels: `(binary, multiclass)`. Binary is 1 when the image has any row; multiclass
/// is the ClassId of its first row (pandas' `drop_duplicates(subset='ImageId')` keeps the
/// first), 0 when it has none.
///
/// ```
/// use candlebook_data::{steel_labels, SteelRow};
/// let row = |id: &str, c| SteelRow { image_id: id.into(), class_id: c, encoded: "1 1".into() };
/// let rows = [row("b.jpg", 3), row("b.jpg", 1), row("c.jpg", 4)];
/// let ids = ["a.jpg".to_string(), "b.jpg".into(), "c.jpg".into()];
/// assert_eq!(steel_labels(&ids, &rows), (vec![0, 1, 1], vec![0, 3, 4]));
/// ```
pub fn steel_labels(image_ids: &[String], rows: &[SteelRow]) -> (Vec<u32>, Vec<u32>) {
    let mut first: HashMap<&str, u32> = HashMap::new();
    for r in rows {
        first.entry(r.image_id.as_str()).or_insert(r.class_id);
    }
    let multi: Vec<u32> = image_ids.iter().map(|id| first.get(id.as_str()).copied().unwrap_or(0)).collect();
    let binary = multi.iter().map(|&c| (c > 0) as u32).collect();
    (binary, multi)
}

/// Severstal images with their labels and the CSV rows (for masks).
#[derive(Debug, Clone)]
pub struct Severstal {
    /// Images (gray 256×256 by default), labels = multiclass (classes `"0"`..`"4"`), the
    /// `defect` column = binary.
    pub dataset: Dataset,
    /// The image file names, in dataset order.
    pub image_ids: Vec<String>,
    /// The rows of `train.csv`.
    pub rows: Vec<SteelRow>,
}

impl Severstal {
    /// The `(4, 256, 1600)` u8 masks of one image (one plane per defect class, 0/1; all zero for
    /// an image without defects).
    ///
    /// Errors: an `image_id` that is neither one of the images nor named by a row
    /// ([`DataError::NotFound`], a typo would otherwise give empty masks); a row whose class is
    /// outside 1..=4 ([`DataError::LabelOutOfRange`]) or whose encoding reaches past the image
    /// ([`DataError::Rle`]) — [`read_severstal_csv`] refuses both, rows built by hand can hold them.
    ///
    /// ```
    /// use candlebook_data::{generated_steel, severstal_options, DataError};
    /// let s = generated_steel(3, &severstal_options(), &candle_core::Device::Cpu)?;
    /// let m = s.masks(&s.rows[0].image_id, &candle_core::Device::Cpu)?;
    /// assert_eq!(m.dims(), &[4, 256, 1600]);
    /// assert!(matches!(s.masks("no-such-image.jpg", &candle_core::Device::Cpu), Err(DataError::NotFound { .. })));
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn masks(&self, image_id: &str, device: &Device) -> Result<Tensor> {
        let mut m = vec![0u8; 4 * STEEL_HEIGHT * STEEL_WIDTH];
        if !self.image_ids.iter().any(|id| id == image_id) && !self.rows.iter().any(|r| r.image_id == image_id) {
            return Err(DataError::NotFound { what: "Severstal image id (neither loaded nor in train.csv)", path: image_id.into() });
        }
        for r in self.rows.iter().filter(|r| r.image_id == image_id) {
            if !(1..=4).contains(&r.class_id) {
                return Err(DataError::LabelOutOfRange { label: r.class_id as i64, expected: format!("a defect class 1..=4 (row of {image_id})") });
            }
            let plane = rle_decode(&r.encoded, STEEL_HEIGHT, STEEL_WIDTH)?;
            let off = (r.class_id as usize - 1) * STEEL_HEIGHT * STEEL_WIDTH;
            for (d, s) in m[off..off + plane.len()].iter_mut().zip(plane) {
                *d |= s;
            }
        }
        Ok(Tensor::from_vec(m, (4, STEEL_HEIGHT, STEEL_WIDTH), device)?)
    }
}

impl Severstal {
    /// The rows of `train.csv` as a polars `DataFrame` (`ImageId`, `ClassId`, `EncodedPixels`),
    /// as pandas's `read_csv` gives them to the seed; one row per defect, so a plate with two
    /// defects has two rows.
    pub fn train_frame(&self) -> Result<DataFrame> {
        let ids: Vec<&str> = self.rows.iter().map(|r| r.image_id.as_str()).collect();
        let classes: Vec<i64> = self.rows.iter().map(|r| r.class_id as i64).collect();
        let pixels: Vec<&str> = self.rows.iter().map(|r| r.encoded.as_str()).collect();
        let n = ids.len();
        DataFrame::new(n, vec![Column::new("ImageId".into(), ids), Column::new("ClassId".into(), classes), Column::new("EncodedPixels".into(), pixels)])
            .map_err(|e| DataError::Polars { path: "train.csv rows".into(), source: e })
    }

    /// The `(n, 4, 256, 1600)` u8 masks of the plates at these dataset positions ([`masks`](Self::masks)
    /// of each). A position past the end is a [`DataError::BadArgument`].
    pub fn masks_of(&self, plates: &[usize], device: &Device) -> Result<Tensor> {
        let mut all = Vec::with_capacity(plates.len());
        for &p in plates {
            let id = self.image_ids.get(p).ok_or_else(|| DataError::BadArgument(format!("plate {p}: there are only {} plates", self.image_ids.len())))?;
            all.push(self.masks(id, device)?);
        }
        if all.is_empty() {
            return Ok(Tensor::zeros((0, 4, STEEL_HEIGHT, STEEL_WIDTH), candle_core::DType::U8, device)?);
        }
        Ok(Tensor::stack(&all, 0)?)
    }

    /// The seed's `label_dict`: every plate's file name with its multiclass label (the class of
    /// its first `train.csv` row, 0 without one), in the order of the plates.
    ///
    /// ```
    /// use candlebook_data::{generated_steel, severstal_options};
    /// let s = generated_steel(4, &severstal_options(), &candle_core::Device::Cpu)?;
    /// let d = s.label_dict()?;
    /// assert_eq!(d[0], ("generated_0000.jpg".to_string(), 0)); // plate 0 is clean
    /// assert_eq!(d[1].1, 3);
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn label_dict(&self) -> Result<Vec<(String, u32)>> {
        Ok(self.image_ids.iter().cloned().zip(self.dataset.labels_vec()?).collect())
    }

    /// The position of the first plate of each defect class 1..=4 (by its multiclass label, the
    /// first ClassId), skipping classes no plate has.
    pub fn first_plate_of_each_class(&self) -> Result<Vec<usize>> {
        let labels = self.dataset.labels_vec()?;
        Ok((1..=4u32).filter_map(|c| labels.iter().position(|&l| l == c)).collect())
    }

    /// Writes what the seed's previous notebook saved: `image_arrays.npy`, one row of 65,536
    /// gray values (0..=255, u8: a quarter of float32's size; scale after loading) per image, and
    /// `label_arrays.npy`, the binary labels one-hot `(N, 2)` f32 (column 1 = defect), into
    /// `dir` (created if needed). Both are written atomically and streamed from the tensors (no
    /// second copy of the images). Returns the two paths.
    pub fn save_arrays(&self, dir: impl AsRef<Path>) -> Result<(PathBuf, PathBuf)> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
        let images = self.dataset.images.flatten_from(1)?;
        let defect = self.dataset.extra("defect").ok_or_else(|| DataError::BadArgument("the Severstal dataset has no 'defect' column".into()))?;
        let labels = crate::transform::one_hot(defect, 2)?;
        let (x, y) = (dir.join("image_arrays.npy"), dir.join("label_arrays.npy"));
        crate::write_npy(&x, &images)?;
        crate::write_npy(&y, &labels)?;
        Ok((x, y))
    }
}

/// Names of the five multiclass labels: `"no defect"`, then `"class 1"` .. `"class 4"`.
pub fn steel_class_names() -> Vec<String> {
    (0..5).map(|c| if c == 0 { "no defect".to_string() } else { format!("class {c}") }).collect()
}

/// The tutorial's preprocessing as load options: gray, area-resized to 256×256.
pub fn severstal_options() -> LoadOptions {
    LoadOptions::default().channels(Channels::Gray).resize(256, 256)
}

/// Loads a Severstal folder (`train.csv` and `train_images/`) with `opts` (use
/// [`severstal_options`] for the tutorial's gray 256×256).
///
/// Errors name what is wrong: a `train.csv` row whose ClassId is outside 1..=4 or whose
/// EncodedPixels run past the 256×1600 image ([`DataError::CsvValue`] with the row and column), a
/// row naming an image that is not in `train_images/` ([`DataError::NotFound`] with that image's
/// path; checked against every image in the folder, also when `opts.limit` loads fewer).
pub fn load_severstal_dir(dir: impl AsRef<Path>, opts: &LoadOptions, device: &Device) -> Result<Severstal> {
    let dir = dir.as_ref();
    let rows = read_severstal_csv(dir.join("train.csv"))?;
    let all = image_files(&dir.join("train_images"))?;
    let present: std::collections::HashSet<String> = all.iter().filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    if let Some(r) = rows.iter().find(|r| !present.contains(&r.image_id)) {
        return Err(DataError::NotFound { what: "image named in train.csv", path: dir.join("train_images").join(&r.image_id) });
    }
    let files = spread(&all, opts.limit);
    let image_ids: Vec<String> = files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect();
    let (binary, multi) = steel_labels(&image_ids, &rows);
    let dataset = load_listed(
        Listed {
            name: "severstal".into(),
            dir: dir.join("train_images"),
            files,
            labels: multi,
            extra: vec![("defect".into(), binary)],
            class_names: (0..5).map(|c| c.to_string()).collect(),
            default_channels: Channels::Rgb,
        },
        opts,
        device,
    )?;
    Ok(Severstal { dataset, image_ids, rows })
}

/// The folder `<root>/severstal_sample` (else `<root>/severstal`) or, when neither exists,
/// generated steel ([`generated_steel`]) with a `GENERATED DATA:` line.
pub fn severstal(root: &DataRoot, opts: &LoadOptions, device: &Device) -> Result<Severstal> {
    for name in ["severstal_sample", "severstal"] {
        let dir = root.join(name);
        if dir.join("train.csv").is_file() {
            return load_severstal_dir(&dir, opts, device);
        }
    }
    let s = generated_steel(STEEL_STANDIN_PLATES, opts, device)?;
    root.announce_generated(&root.join("severstal_sample/train.csv"), &s.dataset);
    Ok(s)
}

/// Generated plate `i` of the stand-in: 1600×256 gray pixels (row-major u8) and its defects as
/// `(ClassId, EncodedPixels)`; the same `i` always gives the same plate, so a large layout can be
/// written plate by plate (see the `steel_scale` example).
pub fn generated_steel_plate(i: usize) -> (Vec<u8>, Vec<(u32, String)>) {
    use crate::rle::rle_encode;
    use crate::rng::XorShift;
    let (h, w) = (STEEL_HEIGHT, STEEL_WIDTH);

            let mut rng = XorShift::new(500 + i as u64);
            let row_tone: Vec<f32> = (0..h).map(|_| rng.range(-6.0, 6.0)).collect();
            let base = rng.range(95.0, 135.0);
            let mut px: Vec<f32> = (0..h * w).map(|p| base + row_tone[p / w] + (rng.uniform() - 0.5) * 16.0).collect();
            // Shares like the real train.csv after dropping duplicate ImageIds: clean plates the
            // largest group, class 3 the commonest defect, class 2 the rarest; every fourth
            // defective plate carries a second defect of another class (a second CSV row).
            let first = STANDIN_CLASS_CYCLE[i % STANDIN_CLASS_CYCLE.len()];
            let kinds: Vec<u32> = match first {
                0 => vec![],
                k if (i / STANDIN_CLASS_CYCLE.len()) % 4 == 1 => vec![k, 1 + (k % 4)],
                k => vec![k],
            };
            let mut rows = Vec::new();
            for k in kinds {
                let mut mask = vec![0u8; h * w];
                let (cx, cy) = (rng.range(150.0, 1450.0), rng.range(60.0, 196.0));
                let mut paint = |x: usize, y: usize, delta: f32| {
                    mask[y * w + x] = 1;
                    px[y * w + x] += delta;
                };
                match k {
                    1 => {
                        for _ in 0..16 {
                            let (px0, py0, r) = (cx + rng.range(-80.0, 80.0), cy + rng.range(-40.0, 40.0), rng.range(4.0, 9.0));
                            for y in (py0 - r).max(0.0) as usize..((py0 + r) as usize).min(h) {
                                for x in (px0 - r).max(0.0) as usize..((px0 + r) as usize).min(w) {
                                    if (x as f32 - px0).powi(2) + (y as f32 - py0).powi(2) <= r * r {
                                        paint(x, y, -80.0);
                                    }
                                }
                            }
                        }
                    }
                    2 => {
                        let len = rng.range(120.0, 250.0);
                        for y in (cy - len / 2.0).max(0.0) as usize..((cy + len / 2.0) as usize).min(h) {
                            for x in cx as usize..(cx as usize + 10).min(w) {
                                paint(x, y, 90.0);
                            }
                        }
                    }
                    3 => {
                        let len = rng.range(400.0, 900.0);
                        for x in (cx - len / 2.0).max(0.0) as usize..((cx + len / 2.0) as usize).min(w) {
                            let wob = ((x as f32) * 0.05).sin() * 4.0;
                            for y in (cy + wob - 12.0).max(0.0) as usize..((cy + wob + 12.0) as usize).min(h) {
                                paint(x, y, -65.0);
                            }
                        }
                    }
                    _ => {
                        let (rx, ry) = (rng.range(80.0, 160.0), rng.range(50.0, 90.0));
                        for y in (cy - ry).max(0.0) as usize..((cy + ry) as usize).min(h) {
                            for x in (cx - rx).max(0.0) as usize..((cx + rx) as usize).min(w) {
                                if ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2) <= 1.0 {
                                    paint(x, y, -85.0);
                                }
                            }
                        }
                    }
                }
                rows.push((k, rle_encode(&mask, h, w).unwrap_or_default()));
            }
            (px.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect(), rows)
        }

/// The first defect class of generated plate `i` is `STANDIN_CLASS_CYCLE[i % 20]`: 9 clean plates
/// in 20, 7 of class 3, 2 of class 1, 1 each of classes 2 and 4.
const STANDIN_CLASS_CYCLE: [u32; 20] = [0, 3, 0, 1, 3, 0, 3, 4, 0, 3, 0, 2, 3, 0, 1, 0, 3, 0, 3, 0];

/// Plates in the generated stand-in that [`severstal`] uses without the real folder: enough for
/// the seed's splits (10 % holdout, then 30 % of the rest for validation) to leave every defect
/// class in every part.
pub const STEEL_STANDIN_PLATES: usize = 480;

/// Generated steel: `n` 1600×256 gray plates with a streaky texture. As in the real data, clean
/// plates are the largest group (9 in 20) and class 3 the commonest defect (7 in 20; class 1 2 in
/// 20, classes 2 and 4 1 in 20 each); the defects are synthetic (1 pits, 2 vertical scratch, 3
/// long horizontal scuff, 4 large dark patch), every fourth defective plate has a second one of
/// another class, and each defect has its run-length row. `opts`
/// channels/resize apply as to real images (the mask rows stay at 256×1600).
///
/// ```
/// use candlebook_data::{generated_steel, severstal_options};
/// let s = generated_steel(6, &severstal_options(), &candle_core::Device::Cpu)?;
/// assert_eq!(s.dataset.images.dims(), &[6, 1, 256, 256]);
/// assert!(s.rows.iter().all(|r| (1..=4).contains(&r.class_id)));
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn generated_steel(n: usize, opts: &LoadOptions, device: &Device) -> Result<Severstal> {
    use rayon::prelude::*;
    let (h, w) = (STEEL_HEIGHT, STEEL_WIDTH);
    let plates: Vec<(Vec<u8>, Vec<(u32, String)>)> = (0..n).into_par_iter().map(generated_steel_plate).collect();
    let image_ids: Vec<String> = (0..n).map(|i| format!("generated_{i:04}.jpg")).collect();
    let rows: Vec<SteelRow> = plates
        .iter()
        .zip(&image_ids)
        .flat_map(|((_, r), id)| r.iter().map(move |(k, e)| SteelRow { image_id: id.clone(), class_id: *k, encoded: e.clone() }))
        .collect();
    let mut buf = Vec::with_capacity(n * h * w);
    for (p, _) in &plates {
        buf.extend_from_slice(p);
    }
    let mut images = Tensor::from_vec(buf, (n, 1, h, w), &Device::Cpu)?;
    if opts.channels == Some(Channels::Rgb) {
        images = images.repeat((1, 3, 1, 1))?;
    }
    if let Some((rw, rh)) = opts.resize {
        images = crate::decode::resize_u8(&images, (rw, rh), opts.filter)?;
    }
    let (binary, multi) = steel_labels(&image_ids, &rows);
    let what = format!("{n} generated 1600x256 steel plates with synthetic defects ({} rows)", rows.len());
    let dataset = Dataset::new(images.to_device(device)?, Tensor::from_vec(multi, n, device)?, (0..5).map(|c| c.to_string()).collect(), DataSource::Generated(what))?
        .with_extra("defect", Tensor::from_vec(binary, n, device)?)?;
    Ok(Severstal { dataset, image_ids, rows })
}
