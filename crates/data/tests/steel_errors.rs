//! Bad Severstal input gives named errors, never a panic or silently wrong masks: a run-length
//! encoding past the 256×1600 image, a ClassId outside 1–4, a `train.csv` row naming an image that
//! is not in `train_images/`, and hand-built rows that `read_severstal_csv` would have refused.

use candle_core::{DType, Device};
use candlebook_data::*;

fn folder(name: &str, csv: &str, images: &[&str]) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("candlebook-steel-errors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("train_images")).unwrap();
    for img in images {
        image::GrayImage::from_pixel(32, 8, image::Luma([100])).save_with_format(d.join("train_images").join(img), image::ImageFormat::Png).unwrap();
    }
    std::fs::write(d.join("train.csv"), csv).unwrap();
    d
}

fn load(d: &std::path::Path) -> Result<Severstal> {
    load_severstal_dir(d, &LoadOptions::default().cache(false), &Device::Cpu)
}

const HEADER: &str = "ImageId,ClassId,EncodedPixels\n";

#[test]
fn a_good_folder_loads() {
    let d = folder("good", &format!("{HEADER}a.jpg,1,1 3\nb.jpg,4,409599 1\n"), &["a.jpg", "b.jpg", "c.jpg"]);
    let s = load(&d).unwrap();
    assert_eq!(s.dataset.labels_vec().unwrap(), vec![1, 4, 0]);
    let m = s.masks("b.jpg", &Device::Cpu).unwrap();
    assert_eq!(m.get(3).unwrap().to_dtype(DType::U32).unwrap().sum_all().unwrap().to_scalar::<u32>().unwrap(), 1);
    // an image without rows has empty masks; one that does not exist at all is an error
    assert_eq!(s.masks("c.jpg", &Device::Cpu).unwrap().to_dtype(DType::U32).unwrap().sum_all().unwrap().to_scalar::<u32>().unwrap(), 0);
    let e = s.masks("a.jgp", &Device::Cpu).unwrap_err();
    assert!(matches!(&e, DataError::NotFound { path, .. } if path.to_string_lossy() == "a.jgp"), "{e:?}");
}

#[test]
fn a_run_past_the_image() {
    // 256 x 1600 = 409,600 pixels: the run 409,600 2 ends one pixel past the last
    for (enc, what) in [("409600 2", "past"), ("409601 1", "past"), ("1 409601", "past"), ("18446744073709551615 2", "past")] {
        let d = folder("rle", &format!("{HEADER}a.jpg,2,{enc}\n"), &["a.jpg"]);
        let e = load(&d).unwrap_err();
        match &e {
            DataError::CsvValue { row, column, value, .. } => {
                assert_eq!((*row, column.as_str()), (1, "EncodedPixels"), "{e}");
                assert!(value.contains(what) && value.contains("409600 pixels"), "{enc}: {e}");
            }
            other => panic!("{enc}: {other:?}"),
        }
        assert!(e.to_string().contains("row 1, column EncodedPixels"), "{e}");
    }
    // the same encodings straight through the decoder
    assert!(matches!(rle_decode("409600 2", STEEL_HEIGHT, STEEL_WIDTH), Err(DataError::Rle { .. })));
    assert!(matches!(rle_runs("0 5", 4, 4), Err(DataError::Rle { message }) if message.contains("1-based")));
    assert!(matches!(rle_runs("3 x", 4, 4), Err(DataError::Rle { message }) if message.contains("\"x\"")));
    assert!(matches!(rle_runs("1 2 3", 4, 4), Err(DataError::Rle { message }) if message.contains("pairs")));
    // a hand-built row with such an encoding: masks() is an error, not a panic
    let s = Severstal { rows: vec![SteelRow { image_id: "a.jpg".into(), class_id: 2, encoded: "409600 2".into() }], ..load(&folder("rle-ok", HEADER, &["a.jpg"])).unwrap() };
    assert!(matches!(s.masks("a.jpg", &Device::Cpu), Err(DataError::Rle { .. })));
    assert!(matches!(s.rows[0].mask(&Device::Cpu), Err(DataError::Rle { .. })));
}

#[test]
fn a_class_outside_one_to_four() {
    for class in ["0", "5", "-1", "2.5", "x", ""] {
        let d = folder("class", &format!("{HEADER}a.jpg,{class},1 1\n"), &["a.jpg"]);
        let e = load(&d).unwrap_err();
        match &e {
            DataError::CsvValue { row: 1, column, value, expected, .. } => {
                assert_eq!(column, "ClassId", "{class:?}: {e}");
                assert!(class.is_empty() || value == class, "{class:?}: {e}");
                assert!(expected.contains("1..=4") || (class.is_empty() && *expected == "a value"), "{class:?}: {e}");
            }
            other => panic!("{class:?}: {other:?}"),
        }
    }
    // rows built by hand with class 0 or 7: masks() names the class instead of panicking
    let good = load(&folder("class-ok", HEADER, &["a.jpg"])).unwrap();
    for class in [0u32, 7] {
        let s = Severstal { rows: vec![SteelRow { image_id: "a.jpg".into(), class_id: class, encoded: "1 1".into() }], ..good.clone() };
        let e = s.masks("a.jpg", &Device::Cpu).unwrap_err();
        assert!(matches!(&e, DataError::LabelOutOfRange { label, .. } if *label == class as i64), "{e:?}");
    }
}

#[test]
fn a_row_naming_a_missing_image() {
    let d = folder("missing", &format!("{HEADER}a.jpg,1,1 3\nz.jpg,3,5 5\n"), &["a.jpg", "b.jpg"]);
    let e = load(&d).unwrap_err();
    assert!(matches!(&e, DataError::NotFound { path, .. } if path.ends_with("train_images/z.jpg")), "{e:?}");
    assert!(e.to_string().contains("train.csv") && e.to_string().contains("z.jpg"), "{e}");
    // also when a limit loads only some of the images
    let e = load_severstal_dir(&d, &LoadOptions::default().cache(false).limit(1), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    // and through the DataRoot entry point (severstal_sample/)
    let root = d.parent().unwrap().join(format!("candlebook-steel-errors-{}-root", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::rename(&d, root.join("severstal_sample")).unwrap();
    let e = severstal(&DataRoot::at(&root), &LoadOptions::default().cache(false), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
}
