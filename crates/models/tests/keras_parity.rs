//! The twelve architectures of the four notebooks against Keras: layer names, output shapes and
//! parameter counts exactly; with the fixture weights loaded, the output and every layer's
//! activation within 1e-4 (max abs) in inference mode. Reads `../shared/fixtures/keras` when present
//! and says plainly when it is skipped.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candlebook_models::*;
use serde_json::Value;

mod common;
use common::fixtures;

fn fixtures() -> Option<PathBuf> {
    let p = match std::env::var_os("CANDLEBOOK_SHARED") {
        Some(s) => PathBuf::from(s).join("fixtures/keras"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/keras"),
    };
    p.join("models.json").is_file().then_some(p)
}

use Activation::{Linear, Relu, Softmax};

fn conv(f: usize, k: usize) -> Conv2D {
    Conv2D::new(f, (k, k))
}

/// The notebooks' architectures, written as the seeds write them.
fn build(name: &str) -> Sequential {
    let cpu = Device::Cpu;
    let mut m;
    match name {
        "faces_alexnet" => {
            m = Sequential::new(Input::image(224, 224, 3), &cpu);
            m.add(conv(32, 11).strides((4, 4)).activation(Relu).padding(Padding::Same)).unwrap();
            m.add(MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(conv(64, 5).activation(Relu).padding(Padding::Same)).unwrap();
            m.add(MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            for f in [128, 64, 32] {
                m.add(conv(f, 3).activation(Relu).padding(Padding::Same)).unwrap();
            }
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(64).activation(Relu)).unwrap();
            m.add(Dropout::new(0.5)).unwrap();
            m.add(Dense::new(64).activation(Relu)).unwrap();
            m.add(Dropout::new(0.5)).unwrap();
            m.add(Dense::new(2).activation(Softmax)).unwrap();
        }
        "cifar10_cnn" | "cifar10_cnn_sharpened" => {
            m = Sequential::new(Input::image(32, 32, 3), &cpu);
            for (f, drop) in [(32, 0.3), (64, 0.5), (128, 0.5)] {
                for _ in 0..2 {
                    m.add(conv(f, 3).padding(Padding::Same).activation(Relu)).unwrap();
                    m.add(BatchNormalization::new()).unwrap();
                }
                m.add(MaxPooling2D::new((2, 2))).unwrap();
                m.add(Dropout::new(drop)).unwrap();
            }
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(128).activation(Relu)).unwrap();
            if name == "cifar10_cnn_sharpened" {
                m.add(BatchNormalization::new()).unwrap();
            }
            m.add(Dropout::new(0.5)).unwrap();
            m.add(Dense::new(10).activation(Softmax)).unwrap();
        }
        "asl_cnn" => {
            m = Sequential::new(Input::image(28, 28, 1), &cpu);
            let pool = || MaxPooling2D::new((2, 2)).strides((2, 2)).padding(Padding::Same);
            m.add(conv(75, 3).padding(Padding::Same).activation(Relu)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(pool()).unwrap();
            m.add(conv(50, 3).padding(Padding::Same).activation(Relu)).unwrap();
            m.add(Dropout::new(0.2)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(pool()).unwrap();
            m.add(conv(25, 3).padding(Padding::Same).activation(Relu)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(pool()).unwrap();
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(512).activation(Relu)).unwrap();
            m.add(Dropout::new(0.3)).unwrap();
            m.add(Dense::new(24).activation(Softmax)).unwrap();
        }
        "fingers_softmax" | "fingers_dense128" | "fingers_dense_128_64_32" => {
            m = Sequential::new(Input::flat(16384), &cpu);
            let hidden: &[usize] = match name {
                "fingers_softmax" => &[],
                "fingers_dense128" => &[128],
                _ => &[128, 64, 32],
            };
            for &u in hidden {
                m.add(Dense::new(u).activation(Relu)).unwrap();
            }
            m.add(Dense::new(6).activation(Softmax)).unwrap();
        }
        "fingers_dense_bn" => {
            m = Sequential::new(Input::flat(16384), &cpu);
            for u in [128, 64, 32] {
                m.add(Dense::new(u)).unwrap();
                m.add(BatchNormalization::new()).unwrap();
                m.add(ActivationLayer::new(Relu)).unwrap();
            }
            m.add(Dense::new(6).activation(Softmax)).unwrap();
        }
        "fingers_cnn" | "fingers_cnn_bn" => {
            m = Sequential::new(Input::image(128, 128, 1), &cpu);
            for (f, k) in [(64, 4), (32, 3)] {
                m.add(conv(f, k).strides((2, 2))).unwrap();
                if name == "fingers_cnn_bn" {
                    m.add(BatchNormalization::new()).unwrap();
                }
                m.add(ActivationLayer::new(Relu)).unwrap();
            }
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(6).activation(Softmax)).unwrap();
        }
        "steel_cnn5" | "steel_cnn7_l2" => {
            m = Sequential::new(Input::image(256, 256, 1), &cpu);
            let blocks = if name == "steel_cnn5" { 5 } else { 7 };
            for _ in 0..blocks {
                m.add(conv(64, 2).activation(Relu)).unwrap();
                m.add(MaxPooling2D::new((2, 2))).unwrap();
            }
            m.add(Flatten::new()).unwrap();
            if name == "steel_cnn5" {
                m.add(Dense::new(128).activation(Relu)).unwrap();
                m.add(Dense::new(128).activation(Relu)).unwrap();
            } else {
                for u in [512, 256, 128] {
                    m.add(Dense::new(u).activation(Relu).l2(0.01)).unwrap();
                }
            }
            m.add(Dense::new(2).activation(Linear)).unwrap();
        }
        other => panic!("unknown architecture {other}"),
    }
    m
}

fn nhwc_to_model(x: &Tensor) -> Tensor {
    if x.rank() == 4 {
        x.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap()
    } else {
        x.clone()
    }
}

fn model_to_nhwc(x: &Tensor) -> Tensor {
    if x.rank() == 4 {
        x.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap()
    } else {
        x.clone()
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

#[test]
fn all_twelve_architectures_match_keras() {
    let Some(dir) = fixtures() else {
        println!("SKIPPED: ../shared/fixtures/keras not found (set CANDLEBOOK_SHARED to the shared folder)");
        return;
    };
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("models.json")).unwrap()).unwrap();
    let models = spec["models"].as_object().unwrap();
    assert_eq!(models.len(), 12);
    for (name, want) in models {
        let mut model = build(name);
        // names, shapes, counts
        let layers = want["layers"].as_array().unwrap();
        assert_eq!(model.layers().len(), layers.len(), "{name}: layer count");
        for (l, w) in model.layers().iter().zip(layers) {
            assert_eq!(l.name(), w["name"].as_str().unwrap(), "{name}: layer name");
            assert_eq!(l.spec().class_name(), w["class"].as_str().unwrap(), "{name}/{}: class", l.name());
            let shape: Vec<usize> = w["output_shape"].as_array().unwrap()[1..].iter().map(|v| v.as_u64().unwrap() as usize).collect();
            assert_eq!(l.output_shape().keras_dims(), shape, "{name}/{}: output shape", l.name());
            let (t, n) = l.param_counts();
            assert_eq!(t + n, w["params"].as_u64().unwrap() as usize, "{name}/{}: params", l.name());
            assert_eq!(n, w["non_trainable_params"].as_u64().unwrap() as usize, "{name}/{}: non-trainable", l.name());
        }
        let (t, n) = model.count_params();
        assert_eq!(t + n, want["total_params"].as_u64().unwrap() as usize, "{name}: total");
        assert_eq!(t, want["trainable_params"].as_u64().unwrap() as usize, "{name}: trainable");
        let summary = model.summary();
        assert_eq!(summary.total_params, t + n);
        // the function the network computes
        let Some(file) = want["file"].as_str() else {
            println!("{name}: shapes and counts match (no weights fixture)");
            continue;
        };
        model.load_keras_npz(dir.join(file)).unwrap();
        let arrays: std::collections::HashMap<String, Tensor> = Tensor::read_npz(dir.join(file)).unwrap().into_iter().collect();
        let x = nhwc_to_model(&arrays["input"]);
        let out = model.forward(&x, false).unwrap();
        let d = max_abs_diff(&out, &arrays["output"]);
        assert!(d < 1e-4, "{name}: output differs by {d}");
        let mut checked = 0;
        for (lname, act) in model.layer_outputs(&x.narrow(0, 0, 1).unwrap()).unwrap() {
            if let Some(want) = arrays.get(&format!("activation/{lname}")) {
                let mut act = model_to_nhwc(&act);
                if want.dims() == [1] && act.elem_count() > 1 {
                    // fingers_softmax's fixture keeps only the first value of its one layer's
                    // activation (shape (1,)); compare that value.
                    act = act.flatten_all().unwrap().narrow(0, 0, 1).unwrap();
                }
                let d = max_abs_diff(&act, want);
                assert!(d < 1e-4, "{name}/{lname}: activation differs by {d}");
                checked += 1;
            }
        }
        println!("{name}: shapes, counts, output and {checked} activations match Keras");
    }
}

#[test]
fn mismatched_weights_name_the_tensor_and_both_shapes() {
    let Some(dir) = fixtures() else {
        println!("SKIPPED: ../shared/fixtures/keras not found");
        return;
    };
    // The CIFAR-10 weights do not fit the sharpened variant (an extra BN layer shifts the names).
    let mut m = build("cifar10_cnn");
    let before = m.layers()[0].weights()[0].1.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let e = m.load_keras_npz(dir.join("faces_alexnet.npz")).unwrap_err().to_string();
    assert!(e.contains("conv2d/kernel") && e.contains("[11, 11, 3, 32]") && e.contains("[3, 3, 3, 32]"), "{e}");
    let after = m.layers()[0].weights()[0].1.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(before, after, "a failed load must leave the weights unchanged");
    assert!(m.load_keras_npz(dir.join("no-such.npz")).unwrap_err().to_string().contains("no-such.npz"));
}

/// Which layer arguments Keras 3 accepts and which it rejects
/// (`tests/fixtures/keras_layer_arguments.json`, made by `scripts/make-keras-fixtures`): we accept
/// the same ones, with Keras's output shape, and reject the others with an error (not a panic)
/// that names the argument Keras names (zero units, filters, kernel sizes, pool sizes or strides,
/// a negative or NaN L2 factor, a dropout rate outside [0, 1], a `valid` window larger than its
/// input).
#[test]
fn layer_arguments_are_accepted_and_rejected_as_keras_does() {
    let doc = fixtures::load("keras_layer_arguments.json");
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let (class, args, keras) = (case["class"].as_str().unwrap(), &case["args"], &case["keras"]);
        let shape: Vec<usize> = case["input_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let input = if shape.len() == 1 { Input::flat(shape[0]) } else { Input::image(shape[0], shape[1], shape[2]) };
        let pair = |v: &Value| -> (usize, usize) {
            match v.as_array() {
                Some(a) => (a[0].as_u64().unwrap() as usize, a[1].as_u64().unwrap() as usize),
                None => (v.as_u64().unwrap() as usize, v.as_u64().unwrap() as usize),
            }
        };
        let padding = if args["padding"].as_str() == Some("same") { Padding::Same } else { Padding::Valid };
        let spec: LayerSpec = match class {
            "Dense" => {
                let d = Dense::new(args["units"].as_u64().unwrap() as usize);
                match args.get("l2") {
                    Some(f) => d.l2(fixtures::number(f)).into(),
                    None => d.into(),
                }
            }
            "Conv2D" => Conv2D::new(args["filters"].as_u64().unwrap() as usize, pair(&args["kernel_size"]))
                .strides(args.get("strides").map_or((1, 1), pair))
                .padding(padding)
                .into(),
            "MaxPooling2D" | "AveragePooling2D" => {
                let (pool, strides) = (pair(&args["pool_size"]), args.get("strides").map(pair));
                if class == "MaxPooling2D" {
                    let p = MaxPooling2D::new(pool).padding(padding);
                    strides.map_or(p.clone(), |s| p.strides(s)).into()
                } else {
                    let p = AveragePooling2D::new(pool).padding(padding);
                    strides.map_or(p.clone(), |s| p.strides(s)).into()
                }
            }
            "Dropout" => Dropout::new(fixtures::number(&args["rate"])).into(),
            other => panic!("class {other}"),
        };
        let mut m = Sequential::new(input, &Device::Cpu);
        let what = format!("{class} {args}");
        match (m.add(spec), keras["accepted"].as_bool().unwrap()) {
            (Ok(_), true) => {
                let want: Vec<usize> = keras["output_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
                assert_eq!(m.output_shape().keras_dims(), want, "{what}: output shape");
            }
            (Ok(_), false) => panic!("{what}: accepted, Keras rejects it ({})", keras["error"]),
            (Err(e), true) => panic!("{what}: rejected ({e}), Keras accepts it"),
            (Err(e), false) => {
                assert!(m.layers().is_empty(), "{what}: a rejected layer was added");
                let (ours, theirs) = (e.to_string(), keras["error"].as_str().unwrap());
                // the argument Keras names in backticks, if any, is named here too
                if let Some(arg) = theirs.split('`').nth(1).filter(|a| !a.contains(' ')) {
                    assert!(ours.contains(&format!("`{arg}`")), "{what}: '{ours}' does not name `{arg}` (Keras: {theirs})");
                }
                assert!(ours.contains(class), "{what}: '{ours}' does not name the layer");
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cases");
}
