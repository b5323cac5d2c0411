//! Save/load round trips, bad files, and transfer learning with frozen layers.

use candle_core::{DType, Device, Tensor};
use candlebook_models::*;

fn small_cnn(seed: u64) -> Sequential {
    let mut m = Sequential::new(Input::image(12, 12, 1), &Device::Cpu).seed(seed);
    m.add(Conv2D::new(4, (3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(ActivationLayer::new(Activation::Relu)).unwrap();
    m.add(MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(6).activation(Activation::Softmax)).unwrap();
    m
}

fn input(n: usize) -> Tensor {
    let v: Vec<f32> = (0..n * 144).map(|i| ((i * 37 % 101) as f32) / 101.0).collect();
    Tensor::from_vec(v, (n, 1, 12, 12), &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("candlebook-models-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn same_seed_same_model_and_save_load_is_bit_identical() {
    let a = small_cnn(3);
    let b = small_cnn(3);
    let x = input(5);
    assert_eq!(values(&a.predict(&x).unwrap()), values(&b.predict(&x).unwrap()));
    assert_ne!(values(&a.predict(&x).unwrap()), values(&small_cnn(4).predict(&x).unwrap()));
    // move the BN statistics away from their initial values, then round-trip
    a.forward(&x, true).unwrap();
    let path = tmp("cnn.safetensors");
    a.save(&path).unwrap();
    let back = Sequential::load(&path, &Device::Cpu).unwrap();
    assert_eq!(back.summary(), a.summary());
    assert_eq!(values(&a.predict(&x).unwrap()), values(&back.predict(&x).unwrap()));
    let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp")).count();
    assert_eq!(leftovers, 0);
}

#[test]
fn bad_files_give_named_errors() {
    let m = small_cnn(1);
    let path = tmp("good.safetensors");
    m.save(&path).unwrap();
    // a different architecture: the Dense kernel has another shape
    let mut other = Sequential::new(Input::image(12, 12, 1), &Device::Cpu);
    other.add(Conv2D::new(4, (3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
    other.add(BatchNormalization::new()).unwrap();
    other.add(ActivationLayer::new(Activation::Relu)).unwrap();
    other.add(MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
    other.add(Flatten::new()).unwrap();
    other.add(Dense::new(7)).unwrap();
    let e = other.load_weights(&path).unwrap_err().to_string();
    assert!(e.contains("dense/kernel") && e.contains("[36, 6]") && e.contains("[36, 7]"), "{e}");
    // truncated and garbage files
    let bytes = std::fs::read(&path).unwrap();
    let cut = tmp("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = Sequential::load(&cut, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("cut.safetensors"), "{e}");
    let junk = tmp("junk.safetensors");
    std::fs::write(&junk, b"definitely not a model").unwrap();
    assert!(Sequential::load(&junk, &Device::Cpu).unwrap_err().to_string().contains("junk.safetensors"));
    assert!(Sequential::load(tmp("missing.safetensors"), &Device::Cpu).unwrap_err().to_string().contains("missing.safetensors"));
    // wrong input shape at predict time
    let e = m.predict(&Tensor::zeros((2, 12, 12, 1), DType::F32, &Device::Cpu).unwrap()).unwrap_err().to_string();
    assert!(e.contains("[2, 1, 12, 12]"), "{e}");
}

#[test]
fn frozen_layers_and_their_batch_norm_stay_put_while_the_new_head_learns() {
    let mut m = small_cnn(9);
    // replace the 6-class head with a 2-class one and freeze everything before it
    m.pop().unwrap();
    m.add(Dense::new(2).activation(Activation::Softmax).name("hand")).unwrap();
    m.set_trainable_until("flatten", false).unwrap();
    assert_eq!(m.trainable_vars().len(), 2, "only the head's kernel and bias are trainable");
    let (t, n) = m.count_params();
    assert_eq!(t, 36 * 2 + 2);
    assert!(n > 0);
    let snapshot = |m: &Sequential| -> Vec<Vec<f32>> {
        m.layers().iter().flat_map(|l| l.weights().into_iter().map(|(_, v)| values(v.as_tensor()))).collect()
    };
    let before = snapshot(&m);
    // one SGD step on cross-entropy against class 1, in training mode
    let x = input(8);
    let p = m.forward(&x, true).unwrap();
    let loss = p.narrow(1, 1, 1).unwrap().log().unwrap().mean_all().unwrap().neg().unwrap();
    let grads = loss.backward().unwrap();
    for v in m.trainable_vars() {
        let g = grads.get(&v).expect("head gradient");
        v.set(&(v.as_tensor() - (g * 0.5).unwrap()).unwrap()).unwrap();
    }
    let after = snapshot(&m);
    let head = m.layers().len() - 1;
    let n_frozen: usize = m.layers()[..head].iter().map(|l| l.weights().len()).sum();
    assert_eq!(&before[..n_frozen], &after[..n_frozen], "frozen weights and BN statistics changed");
    assert_ne!(&before[n_frozen..], &after[n_frozen..], "the head did not learn");
}

/// Predictions hold no op graph: through the weights (candle variables) every batch's output would
/// otherwise keep all of that batch's activations alive until the last batch (22 GB for the
/// fingers test set with a loaded CNN).
#[test]
fn predictions_carry_no_graph() -> std::result::Result<(), Box<dyn std::error::Error>> {
    use candle_core::{DType, Device, Tensor};
    use candlebook_models::*;
    let dev = Device::Cpu;
    let path = std::env::temp_dir().join(format!("candlebook-graph-{}.safetensors", std::process::id()));
    let mut m = Sequential::new(Input::image(8, 8, 1), &dev).seed(3);
    m.add(Conv2D::new(2, (3, 3)))?;
    m.add(BatchNormalization::new())?;
    m.add(Flatten::new())?;
    m.add(Dense::new(3).activation(Activation::Softmax))?;
    m.save(&path)?;
    let loaded = Sequential::load(&path, &dev)?;
    std::fs::remove_file(&path)?;
    let x = Tensor::ones((70, 1, 8, 8), DType::F32, &dev)?;
    for model in [&m, &loaded] {
        assert!(!model.predict(&x)?.track_op());
        assert!(!model.predict(&x.narrow(0, 0, 5)?)?.track_op());
        assert!(model.layer_outputs(&x.narrow(0, 0, 1)?)?.iter().all(|(_, t)| !t.track_op()));
    }
    Ok(())
}
