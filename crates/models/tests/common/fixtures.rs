//! Reading the Keras reference fixtures in `tests/fixtures/keras_*.json`, made by
//! `scripts/make-keras-fixtures` (arrays as `{"shape", "data"}`, non-finite values as "nan",
//! "inf", "-inf"; Keras layouts).
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use candlebook_models::{LayerSpec, Sequential};
use serde_json::Value;

/// The parsed fixture file `tests/fixtures/<name>`.
pub fn load(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (regenerate with scripts/make-keras-fixtures)", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A number, or one of the strings the fixtures use for non-finite values.
pub fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other}"),
        },
        v => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

/// An array's shape and values.
pub fn array(v: &Value) -> (Vec<usize>, Vec<f32>) {
    let shape = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = v["data"].as_array().unwrap().iter().map(|x| number(x) as f32).collect();
    (shape, data)
}

/// An array as an f32 CPU tensor, in the fixture's (Keras) layout.
pub fn tensor(v: &Value) -> Tensor {
    let (shape, data) = array(v);
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

/// An (N, H, W, C) array as an (N, C, H, W) tensor; other ranks unchanged.
pub fn nchw(v: &Value) -> Tensor {
    let t = tensor(v);
    if t.rank() == 4 {
        t.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap()
    } else {
        t
    }
}

/// An (N, C, H, W) tensor as (N, H, W, C), to compare with a fixture array.
pub fn nhwc(t: &Tensor) -> Tensor {
    t.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap()
}

/// Sets every weight of `model` from `weights` (`"<layer>/<weight>"` → array in Keras layouts).
pub fn set_keras_weights(model: &Sequential, weights: &Value) {
    for layer in model.layers() {
        for (wname, var) in layer.weights() {
            let key = format!("{}/{}", layer.name(), wname);
            let value = tensor(weights.get(&key).unwrap_or_else(|| panic!("no '{key}' in the fixture")));
            let value = if matches!(layer.spec(), LayerSpec::Conv2D { .. }) && wname == "kernel" { value.permute((3, 2, 0, 1)).unwrap().contiguous().unwrap() } else { value };
            var.set(&value).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }
}

/// The largest difference between `got` and `want` relative to `want`'s largest magnitude (at
/// least `floor`); NaN anywhere counts as infinitely different unless both are NaN there.
pub fn max_rel_diff(got: &[f32], want: &[f32], floor: f32) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths");
    let scale = want.iter().filter(|v| v.is_finite()).fold(floor, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(&a, &b)| match (a.is_nan(), b.is_nan()) {
            (true, true) => 0.0,
            (false, false) if a == b => 0.0,
            (false, false) => (a - b).abs() / scale,
            _ => f32::INFINITY,
        })
        .fold(0f32, f32::max)
}
