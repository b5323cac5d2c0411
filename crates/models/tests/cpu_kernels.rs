//! The fast f32 CPU kernels (convolution forward and gradients, max pooling and its gradient)
//! against candle's own f64 operations on the same data, over the geometries the seed networks
//! use: strides 1, 2 and 4, kernels 3 to 11, `same` padding with odd totals, `valid` padding that
//! drops trailing rows and columns, one and several input channels.

use candle_core::{DType, Device, Tensor, Var};
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
fn a_nan_wins_its_pooling_window_and_takes_the_gradient() {
    // TF: a NaN beats every number once seen; later cells cannot displace it
    let mut v: Vec<f32> = (0..16).map(|i| i as f32).collect();
    v[5] = f32::NAN;
    let x = Var::from_tensor(&Tensor::from_vec(v, (1, 1, 4, 4), &Device::Cpu).unwrap()).unwrap();
    let y = max_pool2d_keras(x.as_tensor(), (2, 2), (2, 2), Padding::Valid).unwrap();
    let out = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(out[0].is_nan(), "{out:?}");
    assert_eq!(&out[1..], &[7.0, 13.0, 15.0]);
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = g.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let hot: Vec<usize> = g.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(i, _)| i).collect();
    assert_eq!(hot, vec![5, 7, 13, 15]);
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
