//! Bad input gives a named error, never a panic.

use candle_core::{DType, Device, Tensor};
use candlebook_kernels::*;

fn img() -> Tensor {
    Tensor::zeros((3, 8, 8), DType::U8, &Device::Cpu).unwrap()
}

#[test]
fn empty_and_malformed_kernels() {
    let e = Kernel2d::from_rows(Vec::<Vec<f32>>::new()).unwrap_err();
    assert!(matches!(e, KernelError::EmptyKernel { rows: 0, .. }), "{e}");
    let e = Kernel2d::from_rows([vec![], vec![]]).unwrap_err();
    assert!(e.to_string().contains("empty kernel"), "{e}");
    let e = Kernel2d::from_rows([vec![1.0, 2.0], vec![1.0]]).unwrap_err();
    assert!(e.to_string().contains("row 1 has 1"), "{e}");
    let e = Kernel2d::from_rows([vec![1.0, f32::NAN]]).unwrap_err();
    assert!(e.to_string().contains("row 0, column 1 is NaN"), "{e}");
    assert!(Kernel2d::mean(0, 3).is_err());
}

#[test]
fn gaussian_rejects_even_or_zero_ksize_and_bad_sigma() {
    let e = gaussian_blur(&img(), (4, 4), 0.0).unwrap_err();
    assert!(e.to_string().contains("odd") && e.to_string().contains("4x4"), "{e}");
    assert!(gaussian_blur(&img(), (0, 0), 0.0).is_err());
    assert!(gaussian_blur(&img(), (3, 3), -1.0).is_err());
    assert!(gaussian_blur(&img(), (3, 3), f64::NAN).is_err());
    // ksize 0 with a positive sigma is derived, as OpenCV does.
    assert_eq!(gaussian_blur(&img(), (0, 0), 1.0).unwrap().dims(), &[3, 8, 8]);
}

#[test]
fn wrong_shapes_and_dtypes() {
    let flat = Tensor::zeros((8, 8), DType::U8, &Device::Cpu).unwrap();
    let e = filter2d(&flat, &Kernel2d::sharpen(), Border::default()).unwrap_err();
    assert!(e.to_string().contains("[8, 8]"), "{e}");
    let empty = Tensor::zeros((3, 0, 8), DType::U8, &Device::Cpu).unwrap();
    assert!(filter2d(&empty, &Kernel2d::sharpen(), Border::default()).is_err());
    let ints = Tensor::zeros((3, 8, 8), DType::I64, &Device::Cpu).unwrap();
    let e = filter2d(&ints, &Kernel2d::sharpen(), Border::default()).unwrap_err();
    assert!(e.to_string().contains("I64"), "{e}");
    let floats = Tensor::zeros((1, 8, 8), DType::F32, &Device::Cpu).unwrap();
    let e = canny(&floats, 50.0, 150.0).unwrap_err();
    assert!(e.to_string().contains("u8"), "{e}");
}

#[test]
fn bad_thresholds_targets_and_windows() {
    assert!(canny(&img(), -1.0, 10.0).is_err());
    assert!(canny(&img(), 1.0, f64::INFINITY).is_err());
    let e = resize_area(&img(), 0, 5).unwrap_err();
    assert!(e.to_string().contains("0x5"), "{e}");
    assert!(max_pool(&img(), 9, 9).is_err());
    assert!(avg_pool(&img(), 2, 0).is_err());
}

#[test]
fn tensor_to_image_rejects_five_channels() {
    let t = Tensor::zeros((5, 4, 4), DType::U8, &Device::Cpu).unwrap();
    assert!(tensor_to_image(&t).is_err());
}
