//! The fast f32 CPU kernels (convolution forward and gradients, max pooling and its gradient)
//! against candle's own f64 operations on the same data, over the geometries the seed networks
//! use: strides 1, 2 and 4, kernels 3 to 11, `same` padding with odd totals, `valid` padding that
//! drops trailing rows and columns, one and several input channels; then against TensorFlow's own
//! outputs and gradients (fixtures made by `scripts/make-keras-fixtures`): max pooling over NaN
//! and -inf, and convolutions with unequal strides. The test script runs these tests with the
//! AVX-512 kernels (where present) and again with `CANDLEBOOK_CPU_KERNELS=portable`; f64 inputs
//! take the generic candle-op path that other devices use.

use candle_core::{DType, Tensor, Var};
use candlebook_models::{conv2d_keras, max_pool2d_keras, Padding};

mod common;
use common::{fixtures, rand};

fn max_rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let b = b.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(&b).fold(0f64, |m, (x, y)| m.max((x - y).abs() / scale))
}

/// Output and gradients (input, then each extra operand) of `f` in f32 and in f64.
fn compare(name: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) {
    let run = |dtype: DType| {
        let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()).collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = f(&ts);
        let w = rand(y.dims(), 17).to_dtype(dtype).unwrap();
        let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let gs: Vec<Tensor> = vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()).collect();
        (y, gs)
    };
    let (y32, g32) = run(DType::F32);
    let (y64, g64) = run(DType::F64);
    let d = max_rel_diff(&y32, &y64);
    assert!(d < 1e-5, "{name}: output differs by {d:.2e} of its largest value");
    for (i, (a, b)) in g32.iter().zip(&g64).enumerate() {
        let d = max_rel_diff(a, b);
        assert!(d < 1e-4, "{name}: gradient of operand {i} differs by {d:.2e} of its largest value");
    }
}

#[test]
fn convolutions_match_candle_in_f64() {
    // (n, cin, h, w, cout, k, stride, padding)
    let cases = [
        (2, 3, 32, 32, 8, 3, 1, Padding::Same),
        (2, 3, 37, 41, 4, 11, 4, Padding::Same),
        (2, 1, 20, 19, 6, 4, 2, Padding::Valid),
        (2, 5, 15, 13, 3, 3, 2, Padding::Valid),
        (1, 4, 14, 14, 5, 5, 1, Padding::Same),
        (2, 2, 9, 10, 3, 3, 3, Padding::Same),
    ];
    for (i, &(n, cin, h, w, cout, k, s, pad)) in cases.iter().enumerate() {
        let seed = 10 * i as u64;
        let inputs = [rand(&[n, cin, h, w], seed + 1), rand(&[cout, cin, k, k], seed + 2), rand(&[cout], seed + 3)];
        compare(&format!("conv {k}x{k} stride {s} {pad:?} on {h}x{w}x{cin}"), &inputs, |t| {
            conv2d_keras(&t[0], &t[1], &t[2], (s, s), pad).unwrap()
        });
    }
}

#[test]
fn max_pooling_matches_candle_in_f64() {
    // odd and even widths: stride-2 pooling without left padding splits rows as column pairs
    for (h, w) in [(11, 9), (9, 12)] {
        for (pool, stride, pad) in [(2, 2, Padding::Valid), (2, 2, Padding::Same), (3, 2, Padding::Same), (3, 2, Padding::Valid), (3, 1, Padding::Same)] {
            let x = rand(&[2, 3, h, w], pool as u64 * 7 + stride as u64 + w as u64);
            compare(&format!("max pool {pool}x{pool} stride {stride} {pad:?} on {h}x{w}"), &[x], |t| {
                max_pool2d_keras(&t[0], (pool, pool), (stride, stride), pad).unwrap()
            });
        }
    }
}

#[test]
fn max_pooling_skips_nan_as_tensorflow_does() {
    // tests/fixtures/keras_max_pool_nan.json: tf.nn.max_pool2d (Keras's MaxPooling2D) on inputs
    // holding NaN and -inf. A NaN never wins a window's value; a window without a number gives
    // float32's lowest value; the gradient goes to the first maximum, or to a window's first cell
    // when that is NaN (TensorFlow's gradient kernel).
    let doc = fixtures::load("keras_max_pool_nan.json");
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let pair = |k: &str| (case[k][0].as_u64().unwrap() as usize, case[k][1].as_u64().unwrap() as usize);
        let (pool, strides) = (pair("pool"), pair("strides"));
        let pad = if case["padding"] == "same" { Padding::Same } else { Padding::Valid };
        let x = fixtures::nchw(&case["x"]);
        let (want_y, want_dx) = (fixtures::array(&case["y"]).1, fixtures::array(&case["dx"]).1);
        let probe = fixtures::nchw(&serde_json::json!({"shape": case["y"]["shape"], "data": case["probe"]["data"]}));
        // the CPU kernel (f32), forward and gradient, bit for bit
        let v = Var::from_tensor(&x).unwrap();
        let y = max_pool2d_keras(v.as_tensor(), pool, strides, pad).unwrap();
        let got_y = fixtures::nhwc(&y).flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(got_y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want_y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{name}: {got_y:?} vs TF {want_y:?}");
        let grads = (&y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = fixtures::nhwc(grads.get(v.as_tensor()).unwrap()).flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(dx, want_dx, "{name}: gradient");
        // the generic path (f64), forward: the same values, float64's lowest for float32's
        let y64 = max_pool2d_keras(&x.to_dtype(DType::F64).unwrap(), pool, strides, pad).unwrap();
        let got: Vec<f64> = fixtures::nhwc(&y64).flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let want: Vec<f64> = want_y.iter().map(|&v| if v == f32::MIN { f64::MIN } else { v as f64 }).collect();
        assert_eq!(got, want, "{name}: generic path");
    }
}

#[test]
fn unequal_strides_match_tensorflow() {
    // tests/fixtures/keras_conv_strides.json: Conv2D with strides (2, 1), (1, 2), (3, 2), (2, 3),
    // (1, 3), (4, 1) and one equal pair, 'same' and 'valid': y = conv(x) + bias and the gradients
    // of sum(y * probe) with respect to x, kernel and bias, from TensorFlow. Checked on the CPU
    // kernels (f32) and on the generic candle path (f64).
    let doc = fixtures::load("keras_conv_strides.json");
    let cases = doc["layers"].as_array().unwrap();
    assert!(cases.len() >= 7);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let strides = (case["strides"][0].as_u64().unwrap() as usize, case["strides"][1].as_u64().unwrap() as usize);
        let pad = if case["padding"] == "same" { Padding::Same } else { Padding::Valid };
        let x = fixtures::nchw(&case["x"]);
        let k = fixtures::tensor(&case["kernel"]).permute((3, 2, 0, 1)).unwrap().contiguous().unwrap();
        let b = fixtures::tensor(&case["bias"]);
        let probe = fixtures::nchw(&case["probe"]);
        for dtype in [DType::F32, DType::F64] {
            let vars: Vec<Var> = [&x, &k, &b].iter().map(|t| Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()).collect();
            let y = conv2d_keras(vars[0].as_tensor(), vars[1].as_tensor(), vars[2].as_tensor(), strides, pad).unwrap();
            let flat = |t: &Tensor| t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let d = fixtures::max_rel_diff(&flat(&fixtures::nhwc(&y)), &fixtures::array(&case["y"]).1, 1e-3);
            assert!(d < 1e-5, "{name} {dtype:?}: output differs by {d:.1e}");
            let grads = (&y * &probe.to_dtype(dtype).unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
            let g = |i: usize| grads.get(vars[i].as_tensor()).unwrap().clone();
            let dx = fixtures::nhwc(&g(0));
            let dk = g(1).permute((2, 3, 1, 0)).unwrap().contiguous().unwrap();
            for (what, got, key) in [("dx", dx, "dx"), ("dkernel", dk, "dkernel"), ("dbias", g(2), "dbias")] {
                let d = fixtures::max_rel_diff(&flat(&got), &fixtures::array(&case[key]).1, 1e-3);
                assert!(d < 1e-4, "{name} {dtype:?}: {what} differs by {d:.1e}");
            }
        }
    }
}
