//! Sharpens a batch of 60,000 RGB 32×32 images (the size of CIFAR-10's training plus test set)
//! with the tutorial's kernel, `reps` times, and prints one line per run:
//! `sharpen images=<n> seconds=<s> images_per_s=<r>`. Used by `scripts/bench-kernels`, which runs
//! OpenCV's per-image loop from the tutorial beside it.

use std::time::Instant;

use candle_core::{Device, Tensor};
use candlebook_kernels::{filter2d, Border, Kernel2d};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60_000);
    let reps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    // Deterministic pseudo-random pixels (content does not change the work done).
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let pixels: Vec<u8> = (0..n * 3 * 32 * 32)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let batch = Tensor::from_vec(pixels, (n, 3, 32, 32), &Device::Cpu)?;
    let kernel = Kernel2d::sharpen();
    // One untimed run warms the thread pool and the allocator.
    let _ = filter2d(&batch.narrow(0, 0, n.min(1000))?, &kernel, Border::default())?;
    for _ in 0..reps {
        let t = Instant::now();
        let out = filter2d(&batch, &kernel, Border::default())?;
        let s = t.elapsed().as_secs_f64();
        assert_eq!(out.dims(), batch.dims());
        println!("sharpen images={n} seconds={s:.4} images_per_s={:.0}", n as f64 / s);
    }
    Ok(())
}
