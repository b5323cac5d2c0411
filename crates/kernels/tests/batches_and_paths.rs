//! A batch gives the same pixels as its images one by one, and the device-generic tensor path
//! (used on CUDA/Metal) gives the same pixels as the CPU loops.

use candle_core::{DType, Device, IndexOp, Tensor};
use candlebook_kernels::testing::filter2d_tensor_path;
use candlebook_kernels::*;

fn batch() -> Tensor {
    // Deterministic varied pixels: 4 images, 3 channels, 19x23.
    let v: Vec<u8> = (0..4 * 3 * 19 * 23u32).map(|i| (i.wrapping_mul(2654435761u32) >> 24) as u8).collect();
    Tensor::from_vec(v, (4, 3, 19, 23), &Device::Cpu).unwrap()
}

fn same(a: &Tensor, b: &Tensor) {
    assert_eq!(a.dims(), b.dims());
    let a = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(a, b);
}

#[test]
fn batch_equals_images_one_by_one() {
    let x = batch();
    let k = Kernel2d::sharpen();
    let all = filter2d(&x, &k, Border::default()).unwrap();
    let blurred = gaussian_blur(&x, (5, 5), 0.0).unwrap();
    let edges = canny(&x, 50.0, 150.0).unwrap();
    let small = resize_area(&x, 10, 7).unwrap();
    for i in 0..4 {
        let one = x.i(i).unwrap();
        same(&all.i(i).unwrap(), &filter2d(&one, &k, Border::default()).unwrap());
        same(&blurred.i(i).unwrap(), &gaussian_blur(&one, (5, 5), 0.0).unwrap());
        same(&edges.i(i).unwrap(), &canny(&one, 50.0, 150.0).unwrap());
        same(&small.i(i).unwrap(), &resize_area(&one, 10, 7).unwrap());
    }
}

#[test]
fn tensor_path_matches_cpu_loop() {
    let x = batch();
    for border in [Border::Reflect101, Border::Reflect, Border::Replicate, Border::Constant(0.0)] {
        for k in [Kernel2d::sharpen(), Kernel2d::mean(3, 5).unwrap(), Kernel2d::new(&[[1.0, -2.0], [0.5, 3.0]]).unwrap()] {
            let cpu = filter2d(&x, &k, border).unwrap();
            let generic = filter2d_tensor_path(&x, &k, border).unwrap();
            // Integer kernels agree exactly; fractional ones may differ where the CPU loop's fused
            // multiply-add and the tensor ops' separate multiply and add round a .5 differently.
            let a = cpu.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = generic.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let differ = a.iter().zip(&b).filter(|(p, q)| p != q).count();
            let max = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            if k == Kernel2d::sharpen() {
                assert_eq!(differ, 0, "{border:?}");
            } else {
                assert!(max <= 1.0 && differ * 100 <= a.len(), "{border:?} {k:?}: {differ} differ, max {max}");
            }
        }
    }
}

#[test]
fn pooling_downsamples_like_the_fingers_notebook() {
    let x = Tensor::arange(0u32, 128 * 128, &Device::Cpu).unwrap().reshape((1, 128, 128)).unwrap();
    let x = (x.to_dtype(DType::F32).unwrap() / 100.0).unwrap().to_dtype(DType::U8).unwrap();
    let p = max_pool(&x, 4, 4).unwrap();
    assert_eq!(p.dims(), &[1, 32, 32]);
    // The first window's maximum is pixel (3, 3) = 3*128+3 = 387 -> 387/100 = 3.87 -> u8 3.
    assert_eq!(p.i((0, 0, 0)).unwrap().to_scalar::<u8>().unwrap(), 3);
}
