//! `ImageDataGenerator`-style augmentation against Keras 3.15's legacy `apply_transform`
//! (`apply_affine_transform` through SciPy 1.17's `ndimage.affine_transform`, then `flip_axis`),
//! fixtures written by `scripts/make-augment-fixtures`; and the generator's own contract (seeds,
//! both CPU paths, parameter errors, shapes).

use candle_core::{DType, Device, Tensor};
use candlebook_data::{apply_affine_transform, apply_affine_transform_generic, AffineParams, DataError, FillMode, ImageDataGenerator};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keras_augment.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// (H, W, C) row-major values to a (C, H, W) tensor.
fn hwc_to_chw(data: &[f32], h: usize, w: usize, c: usize) -> Tensor {
    Tensor::from_vec(data.to_vec(), (h, w, c), &Device::Cpu).unwrap().permute((2, 0, 1)).unwrap().contiguous().unwrap()
}

fn mode(name: &str) -> FillMode {
    match name {
        "nearest" => FillMode::Nearest,
        "constant" => FillMode::Constant,
        "reflect" => FillMode::Reflect,
        "wrap" => FillMode::Wrap,
        m => panic!("unknown fill mode {m}"),
    }
}

fn params_of(case: &Value) -> AffineParams {
    let f = |k: &str| case[k].as_f64().unwrap() as f32;
    AffineParams {
        theta: f("theta"),
        tx: f("tx"),
        ty: f("ty"),
        zx: f("zx"),
        zy: f("zy"),
        flip_horizontal: case["flip_horizontal"].as_bool().unwrap(),
        flip_vertical: case["flip_vertical"].as_bool().unwrap(),
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Every fixture case through both implementations. A tolerance is needed at all because Keras
/// builds its matrix with NumPy (BLAS dot products, f64) while we compose it in plain f64 Rust,
/// the fixture is rounded to 3 decimals, and the device path sums in f32: a sampling coordinate
/// that lands within an ulp of a pixel boundary (an exact `len - 1` under `'constant'`, an
/// integer under `floor`) can fall on the other side, which moves that one pixel by up to the
/// neighbour difference. So: within 1 grey level (0..255) on >= 99% of the pixels, and the
/// largest difference is printed for each case.
#[test]
fn matches_keras_apply_transform() {
    let fx = fixture();
    eprintln!("Keras fixtures: {}", fx["versions"]);
    let mut report = Vec::new();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let img = &fx["images"][case["image"].as_str().unwrap()];
        let shape: Vec<usize> = img["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let (h, w, c) = (shape[0], shape[1], shape[2]);
        let x = hwc_to_chw(&floats(&img["data"]), h, w, c);
        let want = values(&hwc_to_chw(&floats(&case["output"]), h, w, c));
        let p = params_of(case);
        let (m, cval) = (mode(case["fill_mode"].as_str().unwrap()), case["cval"].as_f64().unwrap() as f32);
        for (path, got) in [
            ("cpu", apply_affine_transform(&x, &[p], m, cval).unwrap()),
            ("ops", apply_affine_transform_generic(&x, &[p], m, cval).unwrap()),
        ] {
            assert_eq!(got.dims(), &[c, h, w], "{name} ({path})");
            let got = values(&got);
            let close = got.iter().zip(&want).filter(|(a, b)| (*a - *b).abs() <= 1.0).count();
            let max = max_abs_diff(&got, &want);
            report.push(format!("{name:45} {path}: max |diff| {max:.4}, {close}/{} within 1", want.len()));
            assert!(close as f64 >= 0.99 * want.len() as f64, "{name} ({path}): only {close}/{} pixels within 1 grey level, max diff {max}", want.len());
        }
    }
    eprintln!("{}", report.join("\n"));
}

fn batch(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Tensor {
    let mut r = candlebook_data::XorShift::new(seed);
    let v: Vec<f32> = (0..n * c * h * w).map(|_| r.range(0.0, 255.0)).collect();
    Tensor::from_vec(v, (n, c, h, w), &Device::Cpu).unwrap()
}

fn full() -> ImageDataGenerator {
    ImageDataGenerator::new()
        .rotation_range(30.0)
        .width_shift_range(0.2)
        .height_shift_range(0.15)
        .zoom_range(0.2)
        .horizontal_flip(true)
        .vertical_flip(true)
}

#[test]
fn same_seed_same_batch_other_seed_other_batch() {
    let x = batch(6, 1, 28, 28, 1);
    let gen = full();
    let a = values(&gen.augment(&x, 11).unwrap());
    let b = values(&gen.augment(&x, 11).unwrap());
    assert_eq!(a, b);
    let c = values(&gen.augment(&x, 12).unwrap());
    assert_ne!(a, c);
    assert_eq!(gen.random_transforms(6, 28, 28, 11).unwrap(), gen.random_transforms(6, 28, 28, 11).unwrap());
    assert_ne!(gen.random_transforms(6, 28, 28, 11).unwrap(), gen.random_transforms(6, 28, 28, 12).unwrap());
}

#[test]
fn random_transforms_draw_within_ranges_and_only_what_is_on() {
    let gen = full();
    let ps = gen.random_transforms(500, 20, 30, 5).unwrap();
    assert!(ps.iter().all(|p| p.theta.abs() <= 30.0 && p.tx.abs() <= 0.15 * 20.0 && p.ty.abs() <= 0.2 * 30.0));
    assert!(ps.iter().all(|p| (0.8..=1.2).contains(&p.zx) && (0.8..=1.2).contains(&p.zy)));
    assert!(ps.iter().any(|p| p.zx != p.zy), "zx and zy are drawn independently");
    let flips = ps.iter().filter(|p| p.flip_horizontal).count();
    assert!((180..320).contains(&flips), "about half flipped: {flips}");
    // only rotation on: the rest stays the identity
    let rot = ImageDataGenerator::new().rotation_range(10.0).random_transforms(50, 8, 8, 1).unwrap();
    assert!(rot.iter().all(|p| p.tx == 0.0 && p.ty == 0.0 && p.zx == 1.0 && p.zy == 1.0 && !p.flip_horizontal && !p.flip_vertical));
    assert!(rot.iter().any(|p| p.theta != 0.0));
    // nothing on: identity transforms, and augment gives the batch back
    let x = batch(2, 3, 5, 7, 2);
    assert!(ImageDataGenerator::new().random_transforms(3, 5, 7, 0).unwrap().iter().all(AffineParams::is_identity));
    assert_eq!(values(&ImageDataGenerator::new().augment(&x, 4).unwrap()), values(&x));
}

#[test]
fn both_cpu_paths_agree() {
    for (m, cval) in [(FillMode::Nearest, 0.0), (FillMode::Constant, 17.0), (FillMode::Reflect, 0.0), (FillMode::Wrap, 0.0)] {
        for (n, c, h, w) in [(5, 1, 28, 28), (3, 3, 16, 24), (2, 2, 20, 30)] {
            let x = batch(n, c, h, w, 9);
            let gen = full().zoom_range_between(0.5, 2.5).fill_mode(m).cval(cval);
            let ps = gen.random_transforms(n, h, w, 3).unwrap();
            let a = values(&apply_affine_transform(&x, &ps, m, cval).unwrap());
            let b = values(&apply_affine_transform_generic(&x, &ps, m, cval).unwrap());
            let d = max_abs_diff(&a, &b);
            assert!(d <= 1e-4, "{m:?} {n}x{c}x{h}x{w}: the CPU loop and the candle-op path differ by {d}");
        }
    }
    // another dtype goes down the candle-op path, and keeps its dtype
    let x = batch(2, 1, 12, 12, 3);
    let ps = full().random_transforms(2, 12, 12, 8).unwrap();
    let y = apply_affine_transform(&x.to_dtype(DType::F64).unwrap(), &ps, FillMode::Nearest, 0.0).unwrap();
    assert_eq!(y.dtype(), DType::F64);
    let a = values(&y.to_dtype(DType::F32).unwrap());
    let b = values(&apply_affine_transform(&x, &ps, FillMode::Nearest, 0.0).unwrap());
    assert!(max_abs_diff(&a, &b) <= 1e-4);
}

#[test]
fn bad_parameters_are_named_errors() {
    let x = batch(1, 1, 8, 8, 0);
    let cases = [
        ("zoom_range", ImageDataGenerator::new().zoom_range_between(-0.5, 1.0)),
        ("zoom_range", ImageDataGenerator::new().zoom_range(-0.1)),
        ("zoom_range", ImageDataGenerator::new().zoom_range(1.0)),
        ("zoom_range", ImageDataGenerator::new().zoom_range_between(1.2, 0.9)),
        ("width_shift_range", ImageDataGenerator::new().width_shift_range(1.0)),
        ("height_shift_range", ImageDataGenerator::new().height_shift_range(3.0)),
        ("height_shift_range", ImageDataGenerator::new().height_shift_range(-0.1)),
        ("rotation_range", ImageDataGenerator::new().rotation_range(f32::NAN)),
        ("rotation_range", ImageDataGenerator::new().rotation_range(-5.0)),
        ("zoom_range", ImageDataGenerator::new().zoom_range_between(0.9, f32::INFINITY)),
        ("cval", ImageDataGenerator::new().cval(f32::NAN)),
    ];
    for (want, gen) in cases {
        for err in [gen.validate().unwrap_err(), gen.augment(&x, 0).unwrap_err(), gen.random_transforms(1, 8, 8, 0).unwrap_err()] {
            match err {
                DataError::BadAugmentation { parameter, .. } => assert_eq!(parameter, want, "{gen:?}"),
                e => panic!("{gen:?}: expected BadAugmentation, got {e}"),
            }
        }
    }
    let msg = ImageDataGenerator::new().width_shift_range(1.5).validate().unwrap_err().to_string();
    assert!(msg.contains("width_shift_range") && msg.contains("1.5"), "{msg}");
    let nan = AffineParams { theta: f32::NAN, ..AffineParams::default() };
    assert!(matches!(apply_affine_transform(&x, &[nan], FillMode::Nearest, 0.0), Err(DataError::BadAugmentation { parameter: "theta", .. })));
}

#[test]
fn wrong_shapes_are_named_errors() {
    let flat = Tensor::zeros((8, 8), DType::F32, &Device::Cpu).unwrap();
    let e = full().augment(&flat, 0).unwrap_err();
    assert!(matches!(&e, DataError::BadArgument(m) if m.contains("(N, C, H, W)") && m.contains("[8, 8]")), "{e}");
    let e = apply_affine_transform(&flat, &[AffineParams::default()], FillMode::Nearest, 0.0).unwrap_err();
    assert!(matches!(e, DataError::BadArgument(_)), "{e}");
    // one params per image
    let x = batch(3, 1, 4, 4, 0);
    let e = apply_affine_transform(&x, &[AffineParams::default(); 2], FillMode::Nearest, 0.0).unwrap_err();
    assert!(e.to_string().contains("2 params for 3 image"), "{e}");
    // integer images: convert first
    let u = Tensor::zeros((1, 1, 4, 4), DType::U8, &Device::Cpu).unwrap();
    assert!(apply_affine_transform(&u, &[AffineParams { theta: 5.0, ..Default::default() }], FillMode::Nearest, 0.0).is_err());
}

#[test]
fn identity_returns_the_input_and_single_images_work() {
    let x = batch(2, 3, 9, 11, 4);
    let id = [AffineParams::default(); 2];
    for m in [FillMode::Nearest, FillMode::Constant, FillMode::Reflect, FillMode::Wrap] {
        assert_eq!(values(&apply_affine_transform(&x, &id, m, 5.0).unwrap()), values(&x));
        assert_eq!(values(&apply_affine_transform_generic(&x, &id, m, 5.0).unwrap()), values(&x));
    }
    // one image (C, H, W) with one params, same as the batch's first image
    let img = x.get(0).unwrap();
    let p = AffineParams { theta: 12.0, zx: 0.9, ..AffineParams::default() };
    let one = apply_affine_transform(&img, &[p], FillMode::Reflect, 0.0).unwrap();
    assert_eq!(one.dims(), &[3, 9, 11]);
    let both = apply_affine_transform(&x, &[p, AffineParams::default()], FillMode::Reflect, 0.0).unwrap();
    assert_eq!(values(&one), values(&both.get(0).unwrap()));
    assert_eq!(values(&both.get(1).unwrap()), values(&x.get(1).unwrap()));
    // a flip twice is the identity; a flip alone moves the values exactly
    let fl = AffineParams { flip_horizontal: true, flip_vertical: true, ..AffineParams::default() };
    let once = apply_affine_transform(&img, &[fl], FillMode::Nearest, 0.0).unwrap();
    assert_eq!(values(&apply_affine_transform(&once, &[fl], FillMode::Nearest, 0.0).unwrap()), values(&img));
    assert_eq!(values(&once.flip_all()), values(&img));
}

trait FlipAll {
    fn flip_all(&self) -> Tensor;
}

impl FlipAll for Tensor {
    /// Reverses the last two axes (rows and columns) with index_select.
    fn flip_all(&self) -> Tensor {
        let (_, h, w) = self.dims3().unwrap();
        let rev = |n: usize| Tensor::from_vec((0..n as u32).rev().collect::<Vec<_>>(), n, &Device::Cpu).unwrap();
        self.index_select(&rev(h), 1).unwrap().index_select(&rev(w), 2).unwrap()
    }
}

/// Cost on an MNIST-sized epoch (60,000 28×28 images), both paths:
/// `cargo test -p candlebook-data --features candlebook-data/parquet --test augment timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_mnist_sized_epoch() {
    let x = batch(60_000, 1, 28, 28, 1);
    let gen = full().fill_mode(FillMode::Nearest);
    let ps = gen.random_transforms(60_000, 28, 28, 2).unwrap();
    for (name, f) in [("cpu loop", apply_affine_transform as fn(&Tensor, &[AffineParams], FillMode, f32) -> _), ("candle ops", apply_affine_transform_generic)] {
        let t = std::time::Instant::now();
        let y = f(&x, &ps, FillMode::Nearest, 0.0).unwrap();
        eprintln!("{name}: {:.3} s for {:?}", t.elapsed().as_secs_f64(), y.dims());
    }
    let t = std::time::Instant::now();
    for b in 0..(60_000 / 128) {
        gen.augment(&x.narrow(0, b * 128, 128).unwrap(), b as u64).unwrap();
    }
    eprintln!("augment in batches of 128: {:.3} s", t.elapsed().as_secs_f64());
}
