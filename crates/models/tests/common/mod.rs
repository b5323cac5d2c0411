//! Helpers shared by the integration tests.
#![allow(dead_code)]

use candle_core::{Device, Tensor};

/// A deterministic f64 tensor with values in [-1, 1) (an LCG, so no test depends on an RNG crate).
pub fn rand(shape: &[usize], seed: u64) -> Tensor {
    let mut s = seed;
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

pub mod fixtures;
