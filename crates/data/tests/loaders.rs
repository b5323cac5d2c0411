//! Loaders on files the tests write themselves: fingers PNGs, class folders, a CIFAR binary
//! batch, a parquet file in a hub-style cache, CSVs, an RLE row, .npy/.npz; the cache; bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candlebook_data::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("candlebook-loaders-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gray_png(path: &Path, w: u32, h: u32, v: u8) {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([v.wrapping_add((x + 3 * y) as u8)])).save_with_format(path, image::ImageFormat::Png).unwrap();
}

fn opts(cache: &Path) -> LoadOptions {
    LoadOptions::default().cache_dir(cache)
}

#[test]
fn fingers_folder_labels_hands_and_cache() {
    let d = tmp("fingers");
    let train = d.join("fingers/train");
    std::fs::create_dir_all(&train).unwrap();
    for (i, tag) in ["3L", "0R", "5R", "1L"].iter().enumerate() {
        gray_png(&train.join(format!("id{i}_{tag}.png")), 128, 128, i as u8 * 10);
    }
    let cache = d.join("cache");
    let root = DataRoot::at(&d);
    let ds = fingers(&root, Split::Train, &opts(&cache), &Device::Cpu).unwrap();
    assert!(!ds.is_generated());
    assert_eq!(ds.images.dims(), &[4, 1, 128, 128]);
    assert_eq!(ds.labels_vec().unwrap(), vec![3, 0, 5, 1]);
    assert_eq!(ds.extra("hand").unwrap().to_vec1::<u32>().unwrap(), vec![0, 1, 1, 0]);
    // pixel check: file 2 has base value 20, pixel (x=1, y=2) = 20 + 1 + 6
    let px = ds.images.get(2).unwrap().get(0).unwrap().get(2).unwrap().get(1).unwrap().to_scalar::<u8>().unwrap();
    assert_eq!(px, 27);
    // second load comes from the cache, same content
    let again = fingers(&root, Split::Train, &opts(&cache), &Device::Cpu).unwrap();
    assert!(matches!(again.source, DataSource::Cache { .. }), "{:?}", again.source);
    assert_eq!(again.images.flatten_all().unwrap().to_vec1::<u8>().unwrap(), ds.images.flatten_all().unwrap().to_vec1::<u8>().unwrap());
    assert_eq!(again.extra("hand").unwrap().to_vec1::<u32>().unwrap(), vec![0, 1, 1, 0]);
    // a changed source file invalidates the cache
    std::thread::sleep(std::time::Duration::from_millis(20));
    gray_png(&train.join("id0_3L.png"), 128, 128, 99);
    let fresh = fingers(&root, Split::Train, &opts(&cache), &Device::Cpu).unwrap();
    assert!(matches!(fresh.source, DataSource::Files(_)));
    assert_eq!(fresh.images.get(0).unwrap().flatten_all().unwrap().to_vec1::<u8>().unwrap()[0], 99);
}

#[test]
fn cache_from_another_version_is_a_named_error_or_a_clean_redecode() {
    let d = tmp("cachever");
    let ds = generated::fingers(Split::Test, 1, &Device::Cpu).unwrap();
    let path = d.join("c.safetensors");
    write_cache(&path, "k", &ds).unwrap();
    let back = read_cache(&path, Some("k"), &Device::Cpu).unwrap().unwrap();
    assert_eq!(back.len(), 12);
    assert!(read_cache(&path, Some("other"), &Device::Cpu).unwrap().is_none());
    // a file from another format version
    let t = Tensor::zeros(3, DType::U8, &Device::Cpu).unwrap();
    let meta = std::collections::HashMap::from([("format".to_string(), "candlebook-data-cache/0".to_string())]);
    safetensors::serialize_to_file([("images", &t)], Some(meta), &path).unwrap();
    let e = read_cache(&path, None, &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::CacheVersion { .. }) && e.to_string().contains("candlebook-data-cache/0"), "{e}");
    // garbage
    std::fs::write(&path, b"garbage").unwrap();
    assert!(matches!(read_cache(&path, None, &Device::Cpu).unwrap_err(), DataError::CacheVersion { .. }));

    // a loader that meets a foreign cache file at its cache path decodes again and overwrites it
    let src = d.join("fingers/test");
    std::fs::create_dir_all(&src).unwrap();
    gray_png(&src.join("a_2L.png"), 8, 8, 1);
    let cache = d.join("cache");
    let o = opts(&cache);
    load_fingers_dir(&src, &o, &Device::Cpu).unwrap();
    let file = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
    let meta = std::collections::HashMap::from([("format".to_string(), "candlebook-data-cache/999".to_string())]);
    safetensors::serialize_to_file([("images", &t)], Some(meta), &file).unwrap();
    let ds = load_fingers_dir(&src, &o, &Device::Cpu).unwrap();
    assert!(matches!(ds.source, DataSource::Files(_)));
    assert!(matches!(load_fingers_dir(&src, &o, &Device::Cpu).unwrap().source, DataSource::Cache { .. }));
}

#[test]
fn bad_folders_and_files_are_named_errors() {
    let d = tmp("bad");
    let e = load_fingers_dir(d.join("nope"), &LoadOptions::default(), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }) && e.to_string().contains("nope"), "{e}");
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = load_fingers_dir(&empty, &LoadOptions::default(), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::EmptyFolder { .. }), "{e}");
    let e = load_image_folder(&empty, &LoadOptions::default(), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::EmptyFolder { .. }), "{e}");
    // a bad file name
    let badname = d.join("badname");
    std::fs::create_dir_all(&badname).unwrap();
    gray_png(&badname.join("hand_7X.png"), 4, 4, 0);
    let e = load_fingers_dir(&badname, &LoadOptions::default().cache(false), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::BadFileName { .. }) && e.to_string().contains("hand_7X.png"), "{e}");
    // a corrupt PNG: named error, or skipped and reported
    let corrupt = d.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    gray_png(&corrupt.join("a_1L.png"), 4, 4, 0);
    std::fs::write(corrupt.join("b_2R.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    gray_png(&corrupt.join("c_3L.png"), 4, 4, 0);
    let e = load_fingers_dir(&corrupt, &LoadOptions::default().cache(false), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::Decode { .. }) && e.to_string().contains("b_2R.png"), "{e}");
    let ds = load_fingers_dir(&corrupt, &LoadOptions::default().cache(false).skip_corrupt(true), &Device::Cpu).unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.labels_vec().unwrap(), vec![1, 3]);
    assert_eq!(ds.skipped.len(), 1);
    assert!(ds.skipped[0].path.ends_with("b_2R.png"));
    // the first file corrupt too
    std::fs::write(corrupt.join("a_1L.png"), b"not an image").unwrap();
    let ds = load_fingers_dir(&corrupt, &LoadOptions::default().cache(false).skip_corrupt(true), &Device::Cpu).unwrap();
    assert_eq!((ds.len(), ds.skipped.len()), (1, 2));
    // mixed sizes without a resize
    let mixed = d.join("mixed/cls");
    std::fs::create_dir_all(&mixed).unwrap();
    gray_png(&mixed.join("a.png"), 4, 4, 0);
    gray_png(&mixed.join("b.png"), 5, 4, 0);
    let e = load_image_folder(d.join("mixed"), &LoadOptions::default().cache(false), &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::MixedSizes { .. }) && e.to_string().contains("b.png"), "{e}");
}

#[test]
fn image_folder_with_png_bytes_in_jpg_and_resize() {
    let d = tmp("faces");
    for (class, v) in [("female", 50u8), ("male", 200)] {
        let c = d.join("faces").join(class);
        std::fs::create_dir_all(&c).unwrap();
        // a real JPEG
        image::RgbImage::from_pixel(40, 60, image::Rgb([v, v, v])).save_with_format(c.join("0 (1).jpg"), image::ImageFormat::Jpeg).unwrap();
        // PNG data in a .jpg file, another size
        image::RgbImage::from_pixel(80, 50, image::Rgb([v, 0, 0])).save_with_format(c.join("0 (2).jpg"), image::ImageFormat::Png).unwrap();
    }
    let ds = faces(&DataRoot::at(&d), &LoadOptions::default().cache(false), &Device::Cpu).unwrap();
    assert_eq!(ds.images.dims(), &[4, 3, 100, 100]);
    assert_eq!(ds.class_names, vec!["female", "male"]);
    assert_eq!(ds.labels_vec().unwrap(), vec![0, 0, 1, 1]);
    let red = ds.images.get(1).unwrap().to_dtype(DType::F32).unwrap().mean_keepdim(1).unwrap().mean_keepdim(2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(red, vec![50.0, 0.0, 0.0]);
    // generated faces when absent
    let g = faces(&DataRoot::at(d.join("none")), &LoadOptions::default(), &Device::Cpu).unwrap();
    assert!(g.is_generated());
    assert_eq!(g.images.dims(), &[400, 3, 100, 100]);
}

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    for c in 0..3u32 {
        for y in 0..32u32 {
            for x in 0..32u32 {
                r.push((seed as u32 + c * 80 + y * 2 + x * 5) as u8);
            }
        }
    }
    r
}

fn cifar_test_batch(d: &Path) -> ([Vec<u8>; 3], Dataset) {
    let bin = d.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let recs = [cifar_record(3, 0), cifar_record(0, 17), cifar_record(9, 101)];
    std::fs::write(bin.join("test_batch.bin"), recs.concat()).unwrap();
    let ds = load_cifar_bin(&cifar_bin_files(&bin, Split::Test), &Device::Cpu).unwrap();
    (recs, ds)
}

#[test]
fn cifar_binary_batches() {
    let d = tmp("cifar-bin");
    let (recs, ds) = cifar_test_batch(&d);
    let bin = d.join("cifar-10-batches-bin");
    assert_eq!(ds.images.dims(), &[3, 3, 32, 32]);
    assert_eq!(ds.labels_vec().unwrap(), vec![3, 0, 9]);
    // channel 1, row 2, column 3 of record 1: 17 + 80 + 4 + 15
    let v = ds.images.get(1).unwrap().get(1).unwrap().get(2).unwrap().get(3).unwrap().to_scalar::<u8>().unwrap();
    assert_eq!(v, 116);
    let via_root = cifar10(&DataRoot::at(&d), Split::Test, &LoadOptions::default(), &Device::Cpu).unwrap();
    assert_eq!(via_root.len(), 3);
    // a truncated batch and a bad label
    std::fs::write(bin.join("cut.bin"), &recs[0][..100]).unwrap();
    assert!(matches!(load_cifar_bin(&[bin.join("cut.bin")], &Device::Cpu).unwrap_err(), DataError::BadFormat { .. }));
    std::fs::write(bin.join("lbl.bin"), cifar_record(10, 0)).unwrap();
    let e = load_cifar_bin(&[bin.join("lbl.bin")], &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("label 10"), "{e}");
}

#[cfg(not(feature = "parquet"))]
#[test]
fn cifar_parquet_without_the_feature_says_how_to_enable_it() {
    let e = load_cifar_parquet("/nowhere/test-00000-of-00001.parquet", &Device::Cpu).unwrap_err();
    assert!(matches!(e, DataError::FeatureDisabled { feature: "parquet", .. }), "{e}");
    assert!(e.to_string().contains(r#"features = ["parquet"]"#), "{e}");
}

#[cfg(feature = "parquet")]
#[test]
fn cifar_binary_batch_and_hub_parquet_agree() {
    use polars::prelude::*;
    let d = tmp("cifar");
    let (recs, ds) = cifar_test_batch(&d);

    // the same three images as the hub's parquet: img {bytes: PNG, path}, label
    let pngs: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| {
            let img = image::RgbImage::from_fn(32, 32, |x, y| {
                let p = (y * 32 + x) as usize;
                image::Rgb([r[1 + p], r[1 + 1024 + p], r[1 + 2048 + p]])
            });
            let mut out = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
            out
        })
        .collect();
    let bytes = Series::new("bytes".into(), pngs.iter().map(|v| v.as_slice()).collect::<Vec<&[u8]>>());
    let paths = Series::new("path".into(), vec!["0.png", "1.png", "2.png"]);
    let img = StructChunked::from_series("img".into(), 3, [bytes, paths].iter()).unwrap().into_series();
    let label = Series::new("label".into(), vec![3i64, 0, 9]);
    let mut df = DataFrame::new(3, vec![img.into(), label.into()]).unwrap();
    // hub cache layout: datasets--uoft-cs--cifar10/{refs/main, snapshots/<rev>/plain_text/...}
    let hub = d.join("hub");
    let repo = hub.join("datasets--uoft-cs--cifar10");
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let snap = repo.join("snapshots").join(rev).join("plain_text");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), rev).unwrap();
    let file = std::fs::File::create(snap.join("test-00000-of-00001.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();

    let hubfile = cifar10_hub_file(Split::Test).cache_dir(&hub);
    let path = hubfile.get().unwrap();
    let from_hub = load_cifar_parquet(&path, &Device::Cpu).unwrap();
    assert_eq!(from_hub.images.dims(), &[3, 3, 32, 32]);
    assert_eq!(from_hub.labels_vec().unwrap(), vec![3, 0, 9]);
    // same orientation (H then W) and values as the binary loader
    assert_eq!(from_hub.images.flatten_all().unwrap().to_vec1::<u8>().unwrap(), ds.images.flatten_all().unwrap().to_vec1::<u8>().unwrap());
    // not in the cache: a named error, no network
    let e = cifar10_hub_file(Split::Train).cache_dir(&hub).get().unwrap_err();
    assert!(matches!(e, DataError::HubMissing { .. }) && e.to_string().contains("train-00000"), "{e}");
    // HF_HUB_OFFLINE: cached files still load, missing ones say why nothing was downloaded
    std::env::set_var("HF_HUB_OFFLINE", "1");
    assert!(offline());
    assert_eq!(cifar10_hub_file(Split::Test).cache_dir(&hub).get().unwrap(), path);
    let e = cifar10_hub_file(Split::Train).cache_dir(&hub).get().unwrap_err();
    std::env::remove_var("HF_HUB_OFFLINE");
    assert!(e.to_string().contains("HF_HUB_OFFLINE"), "{e}");
}

fn sign_csv(rows: &[String]) -> String {
    let mut s = String::from("label");
    for i in 1..=784 {
        s.push_str(&format!(",pixel{i}"));
    }
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn sign_row(label: i64, v: u8) -> String {
    let mut s = label.to_string();
    for i in 0..784 {
        s.push_str(&format!(",{}", (v as usize + i) % 256));
    }
    s
}

#[test]
fn sign_mnist_csv_labels_and_errors() {
    let d = tmp("sign");
    let p = d.join("sign_mnist_train.csv");
    std::fs::write(&p, sign_csv(&[sign_row(0, 1), sign_row(10, 2), sign_row(24, 3), sign_row(8, 4)])).unwrap();
    let ds = load_sign_mnist_csv(&p, &Device::Cpu).unwrap();
    assert_eq!(ds.images.dims(), &[4, 1, 28, 28]);
    assert_eq!(ds.labels_vec().unwrap(), vec![0, 9, 23, 8]);
    assert_eq!(ds.extra("original").unwrap().to_vec1::<u32>().unwrap(), vec![0, 10, 24, 8]);
    assert_eq!(ds.class_names[9], "K");
    assert_eq!(ds.one_hot().unwrap().dims(), &[4, 24]);
    // row-major 28x28: pixel (row 1, col 2) is pixel index 30 -> value (2 + 30) % 256
    let v = ds.images.get(1).unwrap().get(0).unwrap().get(1).unwrap().get(2).unwrap().to_scalar::<u8>().unwrap();
    assert_eq!(v, 32);
    // a short row, a long row, a label 9, a pixel 300
    let cases = [
        (sign_row(1, 0)[..200].to_string(), "columns"),
        (format!("{},5", sign_row(1, 0)), "columns"),
        (sign_row(9, 0), "label 9"),
        (sign_row(1, 0).replacen(",0", ",300", 1), "pixel"),
    ];
    for (i, (bad, what)) in cases.iter().enumerate() {
        let p = d.join(format!("bad{i}.csv"));
        std::fs::write(&p, sign_csv(&[sign_row(2, 0), bad.clone()])).unwrap();
        let e = load_sign_mnist_csv(&p, &Device::Cpu).unwrap_err();
        assert!(e.to_string().contains(what), "case {i}: {e}");
        if *what == "columns" {
            assert!(matches!(e, DataError::CsvColumns { row: 2, .. }), "case {i}: {e:?}");
        }
    }
    let g = sign_mnist(&DataRoot::at(d.join("none")), Split::Test, &Device::Cpu).unwrap();
    assert!(g.is_generated());
    assert_eq!(g.num_classes(), 24);
}

/// The course names the held-out file `sign_mnist_valid.csv`, Kaggle `sign_mnist_test.csv`: the
/// loader takes either, the course's first; the frame keeps the CSV's own labels and pixels.
#[test]
fn sign_mnist_valid_name_and_frames() {
    let d = tmp("sign-valid");
    let dir = d.join("sign_mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let root = DataRoot::at(&d);
    assert_eq!(sign_mnist_csv_path(&root, Split::Test), dir.join("sign_mnist_test.csv"));
    std::fs::write(dir.join("sign_mnist_test.csv"), sign_csv(&[sign_row(3, 0)])).unwrap();
    std::fs::write(dir.join("sign_mnist_valid.csv"), sign_csv(&[sign_row(24, 7), sign_row(0, 1)])).unwrap();
    assert_eq!(sign_mnist_csv_path(&root, Split::Test), dir.join("sign_mnist_valid.csv"));
    let ds = sign_mnist(&root, Split::Test, &Device::Cpu).unwrap();
    assert_eq!(ds.len(), 2);
    let mut df = sign_mnist_frame(&root, Split::Test).unwrap();
    assert_eq!(df.shape(), (2, 785));
    let labels = df.drop_in_place("label").unwrap();
    assert_eq!(letter_classes(&labels, &Device::Cpu).unwrap().to_vec1::<u32>().unwrap(), vec![23, 0]);
    let x = frame_to_tensor(&df, &Device::Cpu).unwrap();
    assert_eq!(x.dims(), &[2, 784]);
    // pixel k of the first row is (7 + k) % 256, as the CSV holds it
    assert_eq!(x.get(0).unwrap().narrow(0, 0, 3).unwrap().to_vec1::<f32>().unwrap(), vec![7.0, 8.0, 9.0]);
    // a corrupt file is the loader's named error, not a frame
    std::fs::write(dir.join("sign_mnist_valid.csv"), sign_csv(&[sign_row(9, 0)])).unwrap();
    let e = sign_mnist_frame(&root, Split::Test).unwrap_err();
    assert!(matches!(e, DataError::LabelOutOfRange { label: 9, .. }), "{e:?}");
    // a label column holding a letter outside the alphabet's 0..=24 without 9
    let bad = polars::prelude::Column::new("label".into(), vec![25i64]);
    assert!(matches!(letter_classes(&bad, &Device::Cpu), Err(DataError::LabelOutOfRange { label: 25, .. })));
}

#[test]
fn severstal_csv_rle_mask_and_labels() {
    // hand-computed: on a 4x3 image (4 rows, 3 columns) "2 3 9 2" sets pixels 2,3,4 (column 0,
    // rows 1..3) and 9,10 (column 2, rows 0..1)
    let m = rle_decode("2 3 9 2", 4, 3).unwrap();
    assert_eq!(m, vec![0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0]);
    assert_eq!(rle_encode(&m, 4, 3).unwrap(), "2 3 9 2");
    assert!(matches!(rle_decode("12 2", 4, 3).unwrap_err(), DataError::Rle { .. }));

    let d = tmp("steel");
    let imgs = d.join("severstal_sample/train_images");
    std::fs::create_dir_all(&imgs).unwrap();
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        image::RgbImage::from_pixel(1600, 256, image::Rgb([90, 90, 90])).save_with_format(imgs.join(name), image::ImageFormat::Jpeg).unwrap();
    }
    let csv = "ImageId,ClassId,EncodedPixels\nb.jpg,3,1 256 513 10\nb.jpg,1,300 5\nc.jpg,4,409590 11\n";
    std::fs::write(d.join("severstal_sample/train.csv"), csv).unwrap();
    let s = severstal(&DataRoot::at(&d), &severstal_options().cache(false), &Device::Cpu).unwrap();
    assert_eq!(s.dataset.images.dims(), &[3, 1, 256, 256]);
    assert_eq!(s.dataset.labels_vec().unwrap(), vec![0, 3, 4]);
    assert_eq!(s.dataset.extra("defect").unwrap().to_vec1::<u32>().unwrap(), vec![0, 1, 1]);
    let masks = s.masks("b.jpg", &Device::Cpu).unwrap();
    assert_eq!(masks.dims(), &[4, 256, 1600]);
    // class 3: column 0 whole, column 2 rows 0..10
    let c3 = masks.get(2).unwrap();
    assert_eq!(c3.to_dtype(DType::U32).unwrap().sum_all().unwrap().to_scalar::<u32>().unwrap(), 266);
    assert_eq!(c3.get(9).unwrap().get(2).unwrap().to_scalar::<u8>().unwrap(), 1);
    assert_eq!(c3.get(10).unwrap().get(2).unwrap().to_scalar::<u8>().unwrap(), 0);
    let last = s.rows[2].mask(&Device::Cpu).unwrap();
    assert_eq!(last.get(255).unwrap().get(1599).unwrap().to_scalar::<u8>().unwrap(), 1);
    // runs past the image, a bad class
    std::fs::write(d.join("severstal_sample/train.csv"), "ImageId,ClassId,EncodedPixels\nb.jpg,3,409590 12\n").unwrap();
    let e = read_severstal_csv(d.join("severstal_sample/train.csv")).unwrap_err();
    assert!(e.to_string().contains("past the image") && e.to_string().contains("row 1"), "{e}");
    std::fs::write(d.join("severstal_sample/train.csv"), "ImageId,ClassId,EncodedPixels\nb.jpg,5,1 1\n").unwrap();
    assert!(read_severstal_csv(d.join("severstal_sample/train.csv")).unwrap_err().to_string().contains("ClassId"));
    std::fs::write(d.join("severstal_sample/train.csv"), "ImageId,EncodedPixels\nb.jpg,1 1\n").unwrap();
    assert!(matches!(read_severstal_csv(d.join("severstal_sample/train.csv")).unwrap_err(), DataError::CsvFormat { .. }));
    // generated steel: rows decode inside bounds and agree with the labels
    let g = severstal(&DataRoot::at(d.join("none")), &severstal_options(), &Device::Cpu).unwrap();
    assert!(g.dataset.is_generated());
    assert_eq!(g.dataset.images.dims(), &[STEEL_STANDIN_PLATES, 1, 256, 256]);
    // the real data's shape: clean plates the largest class, class 3 the commonest defect,
    // class 2 the rarest, every class present; some plates with a second defect row
    let counts = g.dataset.class_counts().unwrap();
    assert!(counts[0] > counts[3] && counts[3] > counts[1] && counts[1] > counts[2] && counts[2] > 0 && counts[4] > 0, "{counts:?}");
    let with_rows: std::collections::BTreeSet<&str> = g.rows.iter().map(|r| r.image_id.as_str()).collect();
    assert!(g.rows.len() > with_rows.len(), "no plate has two defects");
    let classes: std::collections::BTreeSet<u32> = g.rows.iter().map(|r| r.class_id).collect();
    assert_eq!(classes.len(), 4);
    for r in &g.rows {
        assert!(r.mask(&Device::Cpu).unwrap().to_dtype(DType::U32).unwrap().sum_all().unwrap().to_scalar::<u32>().unwrap() > 0);
    }
}

fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    let h = format!("{header}{}\n", " ".repeat(pad));
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(data);
    b
}

#[test]
fn npy_and_npz_stored_and_deflated() {
    let d = tmp("npy");
    let f: Vec<u8> = [1.5f32, -2.0, 3.25].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(d.join("x.npy"), npy_bytes("<f4", "(3,)", &f)).unwrap();
    assert_eq!(read_npy(d.join("x.npy"), &Device::Cpu).unwrap().to_vec1::<f32>().unwrap(), vec![1.5, -2.0, 3.25]);
    let l: Vec<u8> = [7i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let i4: Vec<u8> = [5i32, -6].iter().flat_map(|v| v.to_le_bytes()).collect();
    for (name, method) in [("stored.npz", zip::CompressionMethod::Stored), ("deflated.npz", zip::CompressionMethod::Deflated)] {
        let file = std::fs::File::create(d.join(name)).unwrap();
        let mut z = zip::ZipWriter::new(file);
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file("y.npy", o).unwrap();
        z.write_all(&npy_bytes("<i8", "(2, 1)", &l)).unwrap();
        z.start_file("img.npy", o).unwrap();
        z.write_all(&npy_bytes("|u1", "(1, 2, 2)", &[1, 2, 3, 4])).unwrap();
        z.start_file("i.npy", o).unwrap();
        z.write_all(&npy_bytes("<i4", "(2,)", &i4)).unwrap();
        z.finish().unwrap();
        let arrays = read_npz(d.join(name), &Device::Cpu).unwrap();
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["y", "img", "i"]);
        assert_eq!(arrays[0].1.to_vec2::<i64>().unwrap(), vec![vec![7], vec![-1]]);
        assert_eq!(arrays[1].1.dims(), &[1, 2, 2]);
        assert_eq!(arrays[2].1.to_vec1::<i64>().unwrap(), vec![5, -6]);
    }
    std::fs::write(d.join("short.npy"), npy_bytes("<f4", "(30,)", &f)).unwrap();
    assert!(matches!(read_npy(d.join("short.npy"), &Device::Cpu).unwrap_err(), DataError::BadFormat { .. }));
    std::fs::write(d.join("junk.npz"), b"junk").unwrap();
    assert!(matches!(read_npz(d.join("junk.npz"), &Device::Cpu).unwrap_err(), DataError::Zip { .. }));
}

#[test]
fn generated_fallbacks_are_deterministic_and_announced() {
    let root = DataRoot::at("/definitely/not/here");
    let a = fingers(&root, Split::Train, &LoadOptions::default(), &Device::Cpu).unwrap();
    let b = fingers(&root, Split::Train, &LoadOptions::default(), &Device::Cpu).unwrap();
    assert!(a.is_generated());
    assert_eq!(a.images.dims(), &[4800, 1, 128, 128]);
    assert_eq!(a.class_counts().unwrap(), vec![800; 6]);
    assert_eq!(a.images.flatten_all().unwrap().to_vec1::<u8>().unwrap(), b.images.flatten_all().unwrap().to_vec1::<u8>().unwrap());
    let c = cifar10(&root, Split::Test, &LoadOptions::default(), &Device::Cpu).unwrap();
    assert!(c.is_generated());
    assert_eq!(c.images.dims(), &[500, 3, 32, 32]);
    assert!(a.source.to_string().starts_with("GENERATED DATA"));
    // the classes differ the way the real ones do: more raised fingers, more bright pixels
    let bright: Vec<f32> = (0..6u32)
        .map(|d| {
            let idx: Vec<u32> = a.labels_vec().unwrap().iter().enumerate().filter(|(_, &l)| l == d).map(|(i, _)| i as u32).collect();
            let imgs = a.index_select(&idx).unwrap().images.to_dtype(DType::F32).unwrap();
            imgs.ge(128f32).unwrap().to_dtype(DType::F32).unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap()
        })
        .collect();
    assert!(bright.windows(2).all(|w| w[0] < w[1]), "{bright:?}");
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn resize_with_pad_on_load_matches_tensorflow() {
    // Expected planes (C,H,W) from TensorFlow 2.21:
    // tf.cast(tf.image.resize_with_pad(img, H, W), tf.uint8) on the RGB images below.
    let wide_tf = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001a38567492b0ce850b29476583a1bc496482a0bedc584853557391afcdb03599b474405e7c5b6886a4bd4c4e6c74555973563f5d7c9ab89b647e414e6c8aa53853718f9c5f79977b4361809e876a8488a3968f912039577593af8c9d692944a8c2722e4c6a888a95b3ca3f3d5b7994223c5a7896b4d2580f2d4b6987a5c3de0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000354f6d8ba9c7e56b22405e7c9ab8d6f17e99b7d5d3485f616b8aa8c65b32506ace6a577586637f9dbbb347654f516f8a8e58567492b1cf977b80476583a1974a6d88a69e7290ae775a7896b589817629bd9ea68732506e8caab796b45f405e79dd624563819f98accaba36547290a09957718fadcbe93f254462809ebcdab01300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000006a84a2c0defc5238577593b1cf750b26b3ce7e3a58766f82a0bfd64b4950556f536e615a7896b4d2a95e7a576886a4bf536d8ba9b15a7492825e7c9ab893647fa2bd9f89913a53718fadc88b9872445ea2bd7d496785a3918fadc655577593ae425c7a98afa6c2652f4d6b89a7aeb3ce8ca6c4e2d8263c5a7997b5d3f1972d480000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    let tall_tf = "0000081a2d0000000000002f415300000000000055687a0000000000007c8ea1000000000000a3b5c7000000000000c9dcee000000000000c5d81500000000000017293b0000000000003d5062000000000000697b8e00000000000090a2b4000000000000b6c9db000000000000ddc5490000000000008416280000000000002a3d4f000000000000516376000000000000788a9c0000000000009eb1c3000000000000cadcc4000000000000c68315000000000000342a3c0000000000003e50630000000000006577890000000000008b9eb0000000000000b2c4d7000000000000d9eb7d0000000000002a3c2400000000";
    let d = tmp("with-pad");
    let cases = [
        ("wide", 13u32, 7u32, (37u32, 91u32, 53u32), 16usize, wide_tf),
        ("tall", 5, 12, (11, 29, 97), 9, tall_tf),
    ];
    for (name, w, h, (kx, ky, kc), side, want) in cases {
        let class = d.join(name).join("only");
        std::fs::create_dir_all(&class).unwrap();
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([0, 1, 2].map(|c| ((x * kx + y * ky + c * kc) % 256) as u8)))
            .save_with_format(class.join("img.png"), image::ImageFormat::Png)
            .unwrap();
        let opts = LoadOptions::default().resize(side, side).filter(ResizeFilter::BilinearWithPad).cache(false);
        let ds = load_image_folder(d.join(name), &opts, &Device::Cpu).unwrap();
        assert_eq!(ds.images.dims(), &[1, 3, side, side], "{name}");
        assert_eq!(ds.images.flatten_all().unwrap().to_vec1::<u8>().unwrap(), hex_bytes(want), "{name}");
    }
}
