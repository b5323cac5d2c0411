//! compile / fit / evaluate on a small learnable problem: two classes of 8×8 images (bright left
//! half vs bright right half, with noise).

use candle_core::{DType, Device, Tensor};
use candlebook_models::*;

mod common;
use common::fixtures;

fn data(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut px = Vec::with_capacity(n * 64);
    let mut y = Vec::with_capacity(n * 2);
    for i in 0..n {
        let class = i % 2;
        for _r in 0..8 {
            for c in 0..8 {
                let bright = (c < 4) == (class == 1);
                px.push(if bright { 0.7 } else { 0.2 } + 0.3 * next());
            }
        }
        y.extend(if class == 1 { [0f32, 1.0] } else { [1.0, 0.0] });
    }
    (Tensor::from_vec(px, (n, 1, 8, 8), &Device::Cpu).unwrap(), Tensor::from_vec(y, (n, 2), &Device::Cpu).unwrap())
}

fn model(seed: u64) -> Sequential {
    let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(seed);
    m.add(Conv2D::new(4, (3, 3)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
    m.add(MaxPooling2D::new((2, 2))).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dropout::new(0.2)).unwrap();
    m.add(Dense::new(2).activation(Activation::Softmax)).unwrap();
    m.compile(Optimizer::adam().with_learning_rate(0.01), Loss::CategoricalCrossentropy { from_logits: false }, true);
    m
}

#[test]
fn fit_learns_and_reports_history_and_evaluate_agrees() {
    let (x, y) = data(64, 1);
    let (vx, vy) = data(32, 2);
    let mut m = model(3);
    let h = m.fit(&x, &y, Fit::new().epochs(8).batch_size(16).validation_data(&vx, &vy).seed(5).verbose(false)).unwrap();
    assert_eq!(h.epochs(), 8);
    assert_eq!(h.metric_names().collect::<Vec<_>>(), ["loss", "accuracy", "val_loss", "val_accuracy"]);
    let loss = h.get("loss").unwrap();
    assert!(loss[7] < loss[0] * 0.5, "loss did not fall: {loss:?}");
    assert!(h.get("val_accuracy").unwrap()[7] >= 0.95);
    let ev = m.evaluate(&vx, &vy, 8).unwrap();
    assert!((ev.loss() - h.get("val_loss").unwrap()[7]).abs() < 1e-5, "{ev}");
    assert_eq!(ev.accuracy().unwrap(), h.get("val_accuracy").unwrap()[7]);
    // continuing training keeps the optimiser state and improves further
    let h2 = m.fit(&x, &y, Fit::new().epochs(2).batch_size(16).seed(6).verbose(false)).unwrap();
    assert!(h2.get("loss").unwrap()[1] <= loss[7] * 1.5);
}

#[test]
fn same_seeds_give_identical_histories() {
    let (x, y) = data(48, 4);
    let run = || {
        let mut m = model(11);
        m.fit(&x, &y, Fit::new().epochs(3).batch_size(8).validation_split(0.25).seed(9).verbose(false)).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a.get("val_loss").unwrap().len(), 3);
}

#[test]
fn early_stopping_stops_and_restores_and_checkpoint_saves_the_best() {
    let (x, y) = data(32, 7);
    let mut m = model(2);
    // a learning rate of 0: nothing improves after the first epoch
    m.compile(Optimizer::sgd(0.0), Loss::CategoricalCrossentropy { from_logits: false }, true);
    let dir = std::env::temp_dir().join(format!("candlebook-fit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.safetensors");
    let h = m
        .fit(
            &x,
            &y,
            Fit::new()
                .epochs(10)
                .validation_split(0.25)
                .early_stopping(EarlyStopping::new("val_loss").patience(1).restore_best_weights(true))
                .checkpoint(ModelCheckpoint::new(&path).monitor("val_accuracy").save_best_only(true))
                .verbose(false),
        )
        .unwrap();
    // Keras (tests/fixtures/keras_early_stopping.json, a real fit with a learning rate of 0):
    // patience 1 stops at the first epoch without improvement
    assert_eq!(h.epochs() as u64, keras_epochs_run("lr0_val_loss_patience_1"), "epochs run, as Keras runs them");
    assert_eq!(h.epochs(), 2);
    let back = Sequential::load(&path, &Device::Cpu).unwrap();
    let probe = x.narrow(0, 0, 4).unwrap();
    assert_eq!(back.predict(&probe).unwrap().to_vec2::<f32>().unwrap(), m.predict(&probe).unwrap().to_vec2::<f32>().unwrap());
    let e = m.fit(&x, &y, Fit::new().early_stopping(EarlyStopping::new("val_precision")).validation_split(0.25).verbose(false)).unwrap_err();
    assert!(e.to_string().contains("val_precision"), "{e}");
}

#[test]
fn a_diverging_loss_names_epoch_and_batch_and_bad_calls_are_errors() {
    let (x, y) = data(32, 8);
    let mut m = model(4);
    m.compile(Optimizer::sgd(1e30), Loss::CategoricalCrossentropy { from_logits: false }, true);
    let e = m.fit(&x, &y, Fit::new().epochs(3).batch_size(8).verbose(false)).unwrap_err().to_string();
    assert!(e.contains("epoch ") && e.contains("batch ") && e.contains("training stopped"), "{e}");
    let mut fresh = Sequential::new(Input::image(8, 8, 1), &Device::Cpu);
    fresh.add(Flatten::new()).unwrap();
    fresh.add(Dense::new(2).activation(Activation::Softmax)).unwrap();
    assert!(fresh.fit(&x, &y, Fit::new()).unwrap_err().to_string().contains("compile"));
    let y_short = y.narrow(0, 0, 10).unwrap();
    let mut m2 = model(5);
    assert!(m2.fit(&x, &y_short, Fit::new().verbose(false)).is_err());
    let bad = Tensor::zeros((32, 8, 8, 1), DType::F32, &Device::Cpu).unwrap();
    assert!(m2.fit(&bad, &y, Fit::new().verbose(false)).unwrap_err().to_string().contains("[32, 1, 8, 8]"));
}

/// How many epochs Keras ran in the real fit `name` of `keras_early_stopping.json`.
fn keras_epochs_run(name: &str) -> u64 {
    let doc = fixtures::load("keras_early_stopping.json");
    let case = doc["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}"));
    case["keras"]["epochs_run"].as_u64().unwrap()
}

/// Keras's EarlyStopping stops once `wait >= patience`: with patience 3 and a loss that never
/// improves after the first epoch (a learning rate of 0), Keras runs 4 epochs (a real Keras fit,
/// `lr0_loss_patience_3`); restoring the best weights keeps the first epoch's, which equal the
/// last ones here. The per-epoch decisions on scripted sequences are checked in `fit.rs`'s unit
/// tests against the same fixture.
#[test]
fn early_stopping_with_patience_3_runs_as_many_epochs_as_keras() {
    let (x, y) = data(32, 9);
    let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(4);
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(2).activation(Activation::Softmax)).unwrap();
    m.compile(Optimizer::sgd(0.0), Loss::categorical_crossentropy(), true);
    for restore in [false, true] {
        let es = EarlyStopping::new("loss").patience(3).restore_best_weights(restore);
        let h = m.fit(&x, &y, Fit::new().epochs(10).batch_size(32).shuffle(false).early_stopping(es).verbose(false)).unwrap();
        assert_eq!(h.epochs() as u64, keras_epochs_run("lr0_loss_patience_3"), "restore {restore}");
        assert_eq!(h.epochs(), 4);
    }
}

/// A model that outputs its input (Input -> Activation), so `evaluate` and `fit` see exactly the
/// fixture's predictions.
fn passthrough(features: usize, activation: Activation) -> Sequential {
    let mut m = Sequential::new(Input::flat(features), &Device::Cpu);
    m.add(ActivationLayer::new(activation)).unwrap();
    m
}

fn fixture_loss(case: &serde_json::Value) -> Loss {
    let from_logits = case["from_logits"].as_bool().unwrap();
    match case["loss"].as_str().unwrap() {
        "binary_crossentropy" => Loss::BinaryCrossentropy { from_logits },
        "categorical_crossentropy" => Loss::CategoricalCrossentropy { from_logits },
        "sparse_categorical_crossentropy" => Loss::SparseCategoricalCrossentropy { from_logits },
        other => panic!("loss {other}"),
    }
}

fn fixture_activation(case: &serde_json::Value) -> Activation {
    match case["activation"].as_str().unwrap() {
        "linear" => Activation::Linear,
        "sigmoid" => Activation::Sigmoid,
        "softmax" => Activation::Softmax,
        other => panic!("activation {other}"),
    }
}

/// Loss and `metrics=["accuracy"]` as Keras's `model.evaluate` reports them
/// (`tests/fixtures/keras_losses_metrics.json`): binary cross-entropy on a 2-unit linear head
/// (probabilities clipped to [1e-7, 1 - 1e-7]; Keras then picks categorical accuracy, so the
/// accuracy stays within [0, 1]), one-unit outputs with targets (N,) and (N, 1), soft targets,
/// a sigmoid output (loss from its logits), `from_logits` (the accuracy still thresholds at
/// 0.5), categorical and sparse targets; and the target shapes Keras rejects, which are errors
/// naming both shapes. Through `evaluate` and through one epoch of `fit` (a model without
/// weights, so training does not change its output).
#[test]
fn losses_and_accuracy_match_keras_evaluate() {
    let doc = fixtures::load("keras_losses_metrics.json");
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (fixtures::tensor(&case["x"]), fixtures::tensor(&case["y"]));
        let loss = fixture_loss(case);
        let mut m = passthrough(x.dim(1).unwrap(), fixture_activation(case));
        m.compile(Optimizer::sgd(0.1), loss, true);
        let keras = &case["keras"];
        let n = x.dim(0).unwrap();
        if let Some(message) = keras["error"].as_str() {
            let e = m.evaluate(&x, &y, n).unwrap_err();
            assert!(matches!(e, ModelError::Shape(_)), "{name}: {e:?}");
            let text = e.to_string();
            assert!(text.contains(&format!("{:?}", y.dims())) && text.contains(&format!("{:?}", x.dims())) && text.contains("expected"), "{name}: '{text}' (Keras: {message})");
            let e = m.fit(&x, &y, Fit::new().batch_size(n).verbose(false)).unwrap_err();
            assert!(matches!(e, ModelError::Shape(_)), "{name}: fit gave {e:?}");
            checked += 1;
            continue;
        }
        let (want_loss, want_acc) = (keras["loss"].as_f64().unwrap(), keras["accuracy"].as_f64().unwrap());
        let ev = m.evaluate(&x, &y, n).unwrap();
        assert_eq!(ev.metrics().iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["loss", "accuracy"]);
        assert!((ev.loss() - want_loss).abs() <= 1e-5 * (1.0 + want_loss.abs()), "{name}: loss {} vs Keras {want_loss}", ev.loss());
        let acc = ev.accuracy().unwrap();
        assert!((acc - want_acc).abs() < 1e-6, "{name}: accuracy {acc} vs Keras {want_acc} ({})", keras["accuracy_metric"]);
        // the same through fit (the training step's output and running metrics)
        let h = m.fit(&x, &y, Fit::new().batch_size(n).shuffle(false).verbose(false)).unwrap();
        let (fit_loss, fit_acc) = (h.get("loss").unwrap()[0], h.get("accuracy").unwrap()[0]);
        assert!((fit_loss - want_loss).abs() <= 1e-5 * (1.0 + want_loss.abs()), "{name}: fit loss {fit_loss} vs Keras {want_loss}");
        assert!((fit_acc - want_acc).abs() < 1e-6, "{name}: fit accuracy {fit_acc} vs Keras {want_acc}");
        // and Loss::compute on the model's output directly
        if fixture_activation(case) == Activation::Linear {
            let l = loss.compute(&x, &y).unwrap().to_scalar::<f32>().unwrap() as f64;
            assert!((l - want_loss).abs() <= 1e-5 * (1.0 + want_loss.abs()), "{name}: Loss::compute {l} vs Keras {want_loss}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} cases");
}

/// `clone()` is a deep copy: training the copy leaves the original's weights (and batch-norm
/// statistics) unchanged and the other way round; a compiled model's copy continues with a copy
/// of the optimiser's state, so copy and original trained alike stay alike. `clone_model()` is
/// Keras's: same layers and names, fresh weights, not compiled.
#[test]
fn clones_train_independently_and_clone_model_starts_fresh() {
    let (x, y) = data(32, 12);
    let build = || {
        let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(21);
        m.add(Conv2D::new(4, (3, 3)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
        m.add(BatchNormalization::new()).unwrap();
        m.add(Flatten::new()).unwrap();
        m.add(Dense::new(2).activation(Activation::Softmax)).unwrap();
        m.compile(Optimizer::adam().with_learning_rate(0.01), Loss::categorical_crossentropy(), true);
        m
    };
    let weights = |m: &Sequential| -> Vec<Vec<f32>> { m.keras_weights().unwrap().iter().map(|(_, t)| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect() };
    let fit = Fit::new().epochs(2).batch_size(8).seed(3).verbose(false);
    let mut original = build();
    original.fit(&x, &y, fit.clone()).unwrap();
    let trained = weights(&original);
    let mut copy = original.clone();
    assert_eq!(weights(&copy), trained, "the copy starts with the original's values");
    copy.fit(&x, &y, fit.clone()).unwrap();
    assert_eq!(weights(&original), trained, "training the copy changed the original");
    assert_ne!(weights(&copy), trained, "the copy did not train");
    // the original, trained the same way, matches the copy: the optimiser state was copied too
    original.fit(&x, &y, fit.clone()).unwrap();
    assert_eq!(weights(&original), weights(&copy));
    // clone_model: the architecture, fresh weights from the seed, not compiled
    let fresh = original.clone_model().unwrap();
    let names = |m: &Sequential| m.layers().iter().map(|l| l.name().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&fresh), names(&original));
    assert_eq!(fresh.count_params(), original.count_params());
    assert_eq!(weights(&fresh), weights(&build()), "fresh weights, as a model built with the same seed starts");
    assert!(fresh.clone().fit(&x, &y, Fit::new().verbose(false)).unwrap_err().to_string().contains("compile"));
}

/// `evaluate` names its results: `loss()` and `accuracy()` agree with the last validation epoch
/// of `fit` and with `accuracy(labels, predict(x))`; a model compiled without accuracy reports the
/// same loss and an error naming the missing accuracy; it prints as Keras's progress line.
#[test]
fn evaluation_is_named_and_agrees_with_predict_and_accuracy() {
    let (x, y) = data(64, 21);
    let (vx, vy) = data(40, 22);
    let mut m = model(23);
    let h = m.fit(&x, &y, Fit::new().epochs(3).batch_size(16).validation_data(&vx, &vy).seed(1).verbose(false)).unwrap();
    let ev = m.evaluate(&vx, &vy, 7).unwrap();
    assert_eq!(ev.accuracy().unwrap(), h.get("val_accuracy").unwrap()[2]);
    let predicted = m.predict(&vx).unwrap();
    assert_eq!(accuracy(&vy, &predicted).unwrap(), ev.accuracy().unwrap());
    assert_eq!(accuracy(&vy.argmax(1).unwrap(), &predicted).unwrap(), ev.accuracy().unwrap());
    assert_eq!(ev.to_string(), format!("loss: {:.4} - accuracy: {:.4}", ev.loss(), ev.accuracy().unwrap()));

    m.compile(Optimizer::adam(), Loss::categorical_crossentropy(), false);
    let loss_only = m.evaluate(&vx, &vy, 7).unwrap();
    assert!((loss_only.loss() - ev.loss()).abs() < 1e-9);
    let e = loss_only.accuracy().unwrap_err();
    assert!(matches!(&e, ModelError::Spec(m) if m.contains("compiled without accuracy")), "{e:?}");
    assert_eq!(loss_only.to_string(), format!("loss: {:.4}", ev.loss()));
}

/// `Fit::augment` (Keras's `fit(datagen.flow(x, y))`): each batch is transformed afresh, the same
/// seed gives the same training, another seed another one, the data still trains, and a bad
/// generator or non-image inputs are named errors before any step.
#[test]
fn augmented_fits_are_seeded_learn_and_check_their_generator() {
    use candlebook_data::ImageDataGenerator;
    let (x, y) = data(64, 3);
    let datagen = ImageDataGenerator::new().rotation_range(10.0).zoom_range(0.1).height_shift_range(0.1).vertical_flip(true);
    let run = |seed: u64| {
        let mut m = model(5);
        let h = m.fit(&x, &y, Fit::new().epochs(6).batch_size(16).seed(seed).verbose(false).augment(datagen.clone())).unwrap();
        (h.get("loss").unwrap().to_vec(), m.evaluate(&x, &y, 32).unwrap().accuracy().unwrap())
    };
    let (a, acc) = run(1);
    assert_eq!(a, run(1).0, "same seed, same augmented batches, same losses");
    assert_ne!(a, run(2).0, "another seed draws other transforms");
    let mut plain = model(5);
    let p = plain.fit(&x, &y, Fit::new().epochs(6).batch_size(16).seed(1).verbose(false)).unwrap();
    assert_ne!(a, p.get("loss").unwrap().to_vec(), "augmentation changes what the steps see");
    // left/right halves survive small rotations, zooms, vertical shifts and up-down flips
    assert!(acc > 0.9, "augmented training still learns: accuracy {acc}");

    let mut m = model(5);
    let bad = ImageDataGenerator::new().zoom_range(-0.5);
    let e = m.fit(&x, &y, Fit::new().verbose(false).augment(bad)).unwrap_err();
    assert!(matches!(e, ModelError::Data(candlebook_data::DataError::BadAugmentation { parameter: "zoom_range", .. })), "{e:?}");
    let flat = x.flatten_from(1).unwrap();
    let e = m.fit(&flat, &y, Fit::new().verbose(false).augment(datagen)).unwrap_err();
    assert!(e.to_string().contains("(N, C, H, W)"), "{e}");
}
