//! Finite-difference checks of the gradients of the padded convolution and of overlapping max and
//! average pooling (windows larger than strides, 'same' padding with an odd total).

use candle_core::{DType, Device, Tensor, Var};
use candlebook_models::{avg_pool2d_keras, conv2d_keras, max_pool2d_keras, Padding};

mod common;
use common::rand;

/// Compares autograd with central differences on every element of `x`.
fn check(name: &str, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let var = Var::from_tensor(x).unwrap();
    let y = f(var.as_tensor());
    let w = rand(y.dims(), 99);
    let loss = |t: &Tensor| (f(t) * &w).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let grads = (y * &w).unwrap().sum_all().unwrap().backward().unwrap();
    let g = grads.get(&var).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let base = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    let mut worst = 0f64;
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let num = (loss(&Tensor::from_vec(plus, x.dims(), &Device::Cpu).unwrap())
            - loss(&Tensor::from_vec(minus, x.dims(), &Device::Cpu).unwrap()))
            / (2.0 * eps);
        let err = (num - g[i]).abs() / (1e-3 + num.abs());
        worst = worst.max(err);
        assert!(err < 1e-5, "{name}: element {i}: autograd {} vs finite difference {num}", g[i]);
    }
    println!("{name}: {} elements, worst relative error {worst:.2e}", base.len());
}

#[test]
fn padded_convolution_gradients() {
    let x = rand(&[2, 3, 7, 8], 1);
    let k = rand(&[4, 3, 3, 3], 2);
    let b = rand(&[4], 3);
    // stride 2, 'same': 7 -> 4 with total padding 2 (1 + 1); 8 -> 4 with total 1 (0 + 1, odd)
    check("conv input", &x, |t| conv2d_keras(t, &k, &b, (2, 2), Padding::Same).unwrap());
    check("conv kernel", &k, |t| conv2d_keras(&x, t, &b, (2, 2), Padding::Same).unwrap());
    check("conv bias", &b, |t| conv2d_keras(&x, &k, t, (2, 2), Padding::Same).unwrap());
    check("conv valid 4x4 stride 2", &x, |t| {
        conv2d_keras(t, &rand(&[2, 3, 4, 4], 4), &rand(&[2], 5), (2, 2), Padding::Valid).unwrap()
    });
}

#[test]
fn overlapping_pooling_gradients() {
    let x = rand(&[2, 2, 9, 8], 7);
    check("max 3x3 stride 2 same", &x, |t| max_pool2d_keras(t, (3, 3), (2, 2), Padding::Same).unwrap());
    check("max 3x3 stride 2 valid", &x, |t| max_pool2d_keras(t, (3, 3), (2, 2), Padding::Valid).unwrap());
    check("max 2x2 stride 2", &x, |t| max_pool2d_keras(t, (2, 2), (2, 2), Padding::Valid).unwrap());
    check("avg 3x3 stride 2 same", &x, |t| avg_pool2d_keras(t, (3, 3), (2, 2), Padding::Same).unwrap());
    check("avg 3x3 stride 1 valid", &x, |t| avg_pool2d_keras(t, (3, 3), (1, 1), Padding::Valid).unwrap());
}

#[test]
fn pooling_values_follow_tensorflow_same_padding() {
    // 3x3 windows, stride 2, on a 4x4 ramp: 'same' pads 0 before and 1 after each axis.
    let x = Tensor::arange(0f32, 16f32, &Device::Cpu).unwrap().reshape((1, 1, 4, 4)).unwrap();
    let m = max_pool2d_keras(&x, (3, 3), (2, 2), Padding::Same).unwrap();
    assert_eq!(m.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![10.0, 11.0, 14.0, 15.0]);
    let a = avg_pool2d_keras(&x, (3, 3), (2, 2), Padding::Same).unwrap();
    // bottom-right window holds only 10, 11, 14, 15 (the padded cells are not counted)
    assert_eq!(a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![5.0, 6.5, 11.0, 12.5]);
    let _ = DType::F32;
}
