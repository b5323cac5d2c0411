//! LogisticRegression against scikit-learn: small synthetic problems whose sklearn solutions are
//! committed in `fixtures/logistic_small.json` (regenerate with
//! `.tools/bench-venv/bin/python scripts/bench_logistic.py --fixture`), the bad-input errors, and a
//! 300/300 slice of the real fingers data when `../shared/datasets/fingers` exists.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candlebook_models::{
    c_sweep, logistic_learning_curve, seed_learning_curve_sizes, LbfgsStop, LogisticRegression, ModelError,
};
use serde_json::Value;

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logistic_small.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("fixture json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn case(name: &str) -> Value {
    fixture()["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned().expect(name)
}

/// The case's data as tensors (x in `dtype`), and a model with its hyperparameters.
fn setup(c: &Value, dtype: DType) -> (Tensor, Tensor, LogisticRegression) {
    let (n, f) = (c["n"].as_u64().unwrap() as usize, c["f"].as_u64().unwrap() as usize);
    let x = Tensor::from_vec(floats(&c["x"]), (n, f), &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
    let y: Vec<i64> = c["y"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let y = Tensor::from_vec(y, n, &Device::Cpu).unwrap();
    let p = &c["params"];
    let lm = LogisticRegression::new()
        .c(p["C"].as_f64().unwrap())
        .max_iter(p["max_iter"].as_u64().unwrap() as usize)
        .tol(p["tol"].as_f64().unwrap());
    (x, y, lm)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn proba(lm: &LogisticRegression, x: &Tensor) -> Vec<f64> {
    lm.predict_proba(x).unwrap().to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn tightly_converged_solutions_match_sklearn() {
    for name in ["multinomial_tight", "binary_tight", "multinomial_small_c"] {
        let c = case(name);
        let (x, y, mut lm) = setup(&c, DType::F64);
        lm.fit(&x, &y).unwrap();
        assert!(lm.converged(), "{name}: {:?}", lm.stop_reason());
        let (coef, intercept) = lm.coef_f64();
        let dc = max_abs_diff(coef, &floats(&c["coef"]));
        let di = max_abs_diff(intercept, &floats(&c["intercept"]));
        let dp = max_abs_diff(&proba(&lm, &x), &floats(&c["proba"]));
        println!("{name}: |coef| diff {dc:.2e}, |intercept| diff {di:.2e}, |proba| diff {dp:.2e}, n_iter {} (sklearn {})", lm.n_iter(), c["n_iter"]);
        assert!(dc < 1e-6 && di < 1e-6 && dp < 1e-7, "{name}: {dc} {di} {dp}");
        assert_eq!(lm.coef().unwrap().dims(), &[c["coef_rows"].as_u64().unwrap() as usize, x.dim(1).unwrap()]);
        assert_eq!(lm.score(&x, &y).unwrap(), c["train_acc"].as_f64().unwrap());
    }
}

#[test]
fn f32_inputs_give_the_same_probabilities() {
    let c = case("multinomial_tight");
    let (x, y, mut lm) = setup(&c, DType::F32);
    lm.fit(&x, &y).unwrap();
    assert_eq!(lm.predict_proba(&x).unwrap().dtype(), DType::F32);
    let dp = max_abs_diff(&proba(&lm, &x), &floats(&c["proba"]));
    assert!(dp < 1e-4, "f32 |proba| diff {dp}");
}

#[test]
fn defaults_follow_sklearns_iterations_and_stopping_rule() {
    let c = case("multinomial_defaults");
    let (x, y, mut lm) = setup(&c, DType::F64);
    lm.fit(&x, &y).unwrap();
    let sk = c["n_iter"].as_u64().unwrap() as usize;
    println!("defaults: n_iter {} (sklearn {sk}), stop {:?}", lm.n_iter(), lm.stop_reason());
    assert!(lm.converged());
    assert!(lm.n_iter().abs_diff(sk) <= 1, "n_iter {} vs sklearn {sk}", lm.n_iter());
    let dp = max_abs_diff(&proba(&lm, &x), &floats(&c["proba"]));
    assert!(dp < 1e-3, "|proba| diff {dp}");

    let c = case("multinomial_max_iter");
    let (x, y, mut lm) = setup(&c, DType::F64);
    lm.fit(&x, &y).unwrap();
    assert_eq!((lm.n_iter(), lm.converged(), lm.stop_reason()), (15, false, Some(LbfgsStop::MaxIter)));
    assert_eq!(lm.n_iter(), c["n_iter"].as_u64().unwrap() as usize);
    let dp = max_abs_diff(&proba(&lm, &x), &floats(&c["proba"]));
    println!("max_iter case: |proba| diff {dp:.2e}");
    assert!(dp < 1e-3, "|proba| diff {dp}");
}

fn msg(e: ModelError) -> String {
    e.to_string()
}

#[test]
fn bad_inputs_are_errors_naming_the_value() {
    let dev = Device::Cpu;
    let x = Tensor::new(&[[0f32, 1.0], [1.0, 0.0], [0.5, 0.5]], &dev).unwrap();
    let y = Tensor::new(&[0u32, 1, 1], &dev).unwrap();
    let fit = |x: &Tensor, y: &Tensor| LogisticRegression::new().fit(x, y).map(|_| ()).map_err(msg);

    let e = fit(&Tensor::new(&[0f32, 1.0, 2.0], &dev).unwrap(), &y).unwrap_err();
    assert!(e.contains("2-D") && e.contains("[3]"), "{e}");
    let e = fit(&x.reshape((3, 2, 1)).unwrap(), &y).unwrap_err();
    assert!(e.contains("[3, 2, 1]"), "{e}");
    let e = fit(&x, &Tensor::new(&[0u32, 1], &dev).unwrap()).unwrap_err();
    assert!(e.contains("3 vs 2"), "{e}");
    let e = fit(&x, &Tensor::new(&[4u32, 4, 4], &dev).unwrap()).unwrap_err();
    assert!(e.contains("at least 2 classes") && e.contains('4'), "{e}");
    let e = fit(&x, &Tensor::new(&[0f32, 1.0, 1.0], &dev).unwrap()).unwrap_err();
    assert!(e.contains("integer labels") && e.contains("F32"), "{e}");
    let nan = Tensor::new(&[[0f32, 1.0], [1.0, f32::NAN], [0.5, 0.5]], &dev).unwrap();
    let e = fit(&nan, &y).unwrap_err();
    assert!(e.contains("NaN") && e.contains("row 1, column 1"), "{e}");

    for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = LogisticRegression::new().c(c).fit(&x, &y).map(|_| ()).map_err(msg).unwrap_err();
        assert!(e.contains("C must be > 0 and finite") && e.contains(&format!("{c}")), "{e}");
    }
    let e = LogisticRegression::new().max_iter(0).fit(&x, &y).map(|_| ()).map_err(msg).unwrap_err();
    assert!(e.contains("max_iter"), "{e}");

    let unfitted = LogisticRegression::new();
    assert!(msg(unfitted.predict(&x).unwrap_err()).contains("not fitted"));

    let mut lm = LogisticRegression::new();
    lm.fit(&x, &y).unwrap();
    let wide = Tensor::zeros((2, 3), DType::F32, &dev).unwrap();
    let e = msg(lm.predict(&wide).unwrap_err());
    assert!(e.contains("3 features") && e.contains("fitted on 2"), "{e}");
    assert!(lm.predict_proba(&nan).is_err());
    assert!(msg(lm.score(&x, &Tensor::new(&[0u32], &dev).unwrap()).unwrap_err()).contains("3 vs 1"));
    // Labels come back in the training dtype.
    assert_eq!(lm.predict(&x).unwrap().dtype(), DType::U32);
}

#[test]
fn curves_have_one_point_per_size_and_c() {
    let c = case("multinomial_defaults");
    let (x, y, _) = setup(&c, DType::F32);
    let sizes = seed_learning_curve_sizes(90);
    assert_eq!(sizes, vec![10, 20, 30, 40, 50, 60, 70, 80, 90]);
    let curve = logistic_learning_curve(&x, &y, &x, &y, &sizes, &LogisticRegression::new().warnings(false)).unwrap();
    assert_eq!((curve.sizes.len(), curve.train_acc.len(), curve.test_acc.len()), (9, 9, 9));
    assert_eq!(curve.test_acc[8], curve.train_acc[8]);
    let sweep = c_sweep(&x, &y, &x, &y, &[0.001, 1.0]).unwrap();
    assert!(sweep.train_acc[1] >= sweep.train_acc[0]);
    let e = logistic_learning_curve(&x, &y, &x, &y, &[91], &LogisticRegression::new()).unwrap_err();
    assert!(e.to_string().contains("91"), "{e}");
}

fn fingers_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fingers")
}

/// The first `limit` images of `dir` by sorted file name, raw 0..255, flattened, with digit labels.
fn load_fingers(dir: &Path, limit: usize) -> (Tensor, Tensor) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names.truncate(limit);
    let mut x = Vec::with_capacity(names.len() * 128 * 128);
    let mut y = Vec::with_capacity(names.len());
    for name in &names {
        let img = image::open(dir.join(name)).unwrap().to_luma8();
        x.extend(img.as_raw().iter().map(|&v| f32::from(v)));
        y.push(u32::from(name.as_bytes()[name.len() - 6] - b'0'));
    }
    let n = names.len();
    (Tensor::from_vec(x, (n, 128 * 128), &Device::Cpu).unwrap(), Tensor::from_vec(y, n, &Device::Cpu).unwrap())
}

#[test]
fn fingers_slice_matches_sklearn_accuracy() {
    let root = fingers_root();
    if !root.join("train").is_dir() {
        println!("SKIPPED: no fingers data at {}", root.display());
        return;
    }
    let reference = fixture()["fingers_slice"].clone();
    if reference.is_null() {
        println!("SKIPPED: the fixture has no fingers_slice numbers (regenerate it where the data exists)");
        return;
    }
    let (n_train, n_test) = (reference["train"].as_u64().unwrap() as usize, reference["test"].as_u64().unwrap() as usize);
    let (xtr, ytr) = load_fingers(&root.join("train"), n_train);
    let (xte, yte) = load_fingers(&root.join("test"), n_test);
    let mut lm = LogisticRegression::new();
    lm.fit(&xtr, &ytr).unwrap();
    let (train, test) = (lm.score(&xtr, &ytr).unwrap(), lm.score(&xte, &yte).unwrap());
    let (sk_train, sk_test) = (reference["train_acc"].as_f64().unwrap(), reference["test_acc"].as_f64().unwrap());
    println!(
        "fingers {n_train}/{n_test}: ours train {train:.4} test {test:.4} ({} iterations, {:.2} s); sklearn train {sk_train:.4} test {sk_test:.4} ({} iterations)",
        lm.n_iter(),
        lm.fit_seconds(),
        reference["n_iter"]
    );
    // Tolerance: 2 points (6 of 300 test images) — both stop early on unscaled pixels, at nearby but
    // not identical points (f32 GEMMs here, float64 in sklearn).
    assert!((test - sk_test).abs() <= 0.02, "test accuracy {test} vs sklearn {sk_test}");
    assert!((train - sk_train).abs() <= 0.02, "train accuracy {train} vs sklearn {sk_train}");
}
