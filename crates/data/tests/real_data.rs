//! The loaders on the real datasets in `../shared/datasets` (next to the workspace), when that
//! folder is present; otherwise each test prints `SKIPPED: ...` and passes. Counts, shapes and
//! label histograms as the datasets' README states them. CIFAR-10's 60,000 JPEGs are only
//! counted and sampled here (decoding all of them is a benchmark's job, not a test's).

use std::path::PathBuf;

use candle_core::{DType, Device};
use candlebook_data::*;

fn shared() -> Option<DataRoot> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    p.is_dir().then(|| DataRoot::at(p))
}

fn cache_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("candlebook-real-cache-{}-{name}", std::process::id()))
}

macro_rules! root_or_skip {
    ($what:expr) => {
        match shared() {
            Some(r) if r.has($what) => r,
            _ => {
                println!("SKIPPED: ../shared/datasets/{} not found", $what);
                return;
            }
        }
    };
}

#[test]
fn real_fingers_counts_and_histograms() {
    let root = root_or_skip!("fingers");
    let opts = LoadOptions::default().cache_dir(cache_dir("fingers"));
    let test = fingers(&root, Split::Test, &opts, &Device::Cpu).unwrap();
    assert!(!test.is_generated());
    assert_eq!(test.images.dims(), &[3600, 1, 128, 128]);
    assert_eq!(test.images.dtype(), DType::U8);
    assert_eq!(test.class_counts().unwrap(), vec![600; 6]);
    let hands = test.extra("hand").unwrap().to_vec1::<u32>().unwrap();
    let labels = test.labels_vec().unwrap();
    let mut per12 = [0usize; 12];
    for (l, h) in labels.iter().zip(&hands) {
        per12[*l as usize * 2 + *h as usize] += 1;
    }
    assert_eq!(per12, [300; 12]);
    let train = fingers(&root, Split::Train, &opts, &Device::Cpu).unwrap();
    assert_eq!(train.len(), 6000);
    assert_eq!(train.class_counts().unwrap(), vec![1000; 6]);
    let hands = train.extra("hand").unwrap().to_vec1::<u32>().unwrap();
    assert_eq!(hands.iter().filter(|&&h| h == 0).count(), 3000);
    // from the cache the second time, identical
    let again = fingers(&root, Split::Test, &opts, &Device::Cpu).unwrap();
    assert!(matches!(again.source, DataSource::Cache { .. }));
    assert_eq!(again.labels_vec().unwrap(), labels);
    let (a, b) = (test.images.to_dtype(DType::F32).unwrap().sum_all().unwrap(), again.images.to_dtype(DType::F32).unwrap().sum_all().unwrap());
    assert_eq!(a.to_scalar::<f32>().unwrap(), b.to_scalar::<f32>().unwrap());
    // the seed's downsampling
    assert_eq!(test.narrow(0, 10).unwrap().max_pool(4).unwrap().images.dims(), &[10, 1, 32, 32]);
    let _ = std::fs::remove_dir_all(cache_dir("fingers"));
}

#[test]
fn real_faces_counts() {
    let root = root_or_skip!("faces");
    let ds = faces(&root, &LoadOptions::default().cache(false), &Device::Cpu).unwrap();
    assert_eq!(ds.images.dims(), &[800, 3, 100, 100]);
    assert_eq!(ds.class_names, vec!["female", "male"]);
    assert_eq!(ds.class_counts().unwrap(), vec![400, 400]);
    assert!(ds.skipped.is_empty());
    let padded = ds.narrow(0, 4).unwrap().resize_with_pad(224, 224).unwrap();
    assert_eq!(padded.images.dims(), &[4, 3, 224, 224]);
}

#[test]
fn real_cifar10_folders_counted_and_sampled() {
    let root = root_or_skip!("cifar10");
    for (split, per_class) in [(Split::Train, 5000usize), (Split::Test, 1000)] {
        let dir = root.join("cifar10").join(split.as_str());
        let classes = class_folders(&dir).unwrap();
        assert_eq!(classes, generated::CIFAR10_CLASSES.to_vec());
        for c in &classes {
            let n = std::fs::read_dir(dir.join(c)).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "jpg")).count();
            assert_eq!(n, per_class, "{split:?}/{c}");
        }
    }
    // decode a sample: 20 per class of the test split
    let ds = cifar10(&root, Split::Test, &LoadOptions::default().limit(20).cache(false), &Device::Cpu).unwrap();
    assert_eq!(ds.images.dims(), &[200, 3, 32, 32]);
    assert_eq!(ds.class_counts().unwrap(), vec![20; 10]);
}

#[test]
fn real_sign_mnist_rows_and_labels() {
    let root = root_or_skip!("sign_mnist");
    let train = sign_mnist(&root, Split::Train, &Device::Cpu).unwrap();
    let test = sign_mnist(&root, Split::Test, &Device::Cpu).unwrap();
    assert_eq!(train.images.dims(), &[188, 1, 28, 28]);
    assert_eq!(test.len(), 11);
    for ds in [&train, &test] {
        let orig = ds.extra("original").unwrap().to_vec1::<u32>().unwrap();
        assert!(orig.iter().all(|&l| l <= 24 && l != 9));
        assert!(ds.labels_vec().unwrap().iter().all(|&l| l < 24));
        assert_eq!(ds.one_hot().unwrap().dims()[1], 24);
    }
}

#[test]
fn real_severstal_sample() {
    let root = root_or_skip!("severstal_sample");
    let s = severstal(&root, &severstal_options().cache(false), &Device::Cpu).unwrap();
    assert_eq!(s.dataset.images.dims(), &[17, 1, 256, 256]);
    assert_eq!(s.rows.len(), 9);
    let classes: std::collections::BTreeSet<u32> = s.rows.iter().map(|r| r.class_id).collect();
    assert_eq!(classes, [1, 3].into_iter().collect());
    for r in &s.rows {
        let runs = rle_runs(&r.encoded, STEEL_HEIGHT, STEEL_WIDTH).unwrap();
        assert!(runs.iter().all(|(s, l)| s + l <= STEEL_HEIGHT * STEEL_WIDTH));
        let m = r.mask(&Device::Cpu).unwrap();
        assert!(m.to_dtype(DType::U32).unwrap().sum_all().unwrap().to_scalar::<u32>().unwrap() > 0);
    }
    let defect = s.dataset.extra("defect").unwrap().to_vec1::<u32>().unwrap();
    let with_rows: std::collections::BTreeSet<&str> = s.rows.iter().map(|r| r.image_id.as_str()).collect();
    assert_eq!(defect.iter().sum::<u32>() as usize, with_rows.len());
    let labels = s.dataset.labels_vec().unwrap();
    assert!(labels.iter().all(|&l| l == 0 || l == 1 || l == 3));
}
