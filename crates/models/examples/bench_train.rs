//! Training throughput of the tutorials' CNNs on synthetic data (what `scripts/bench-train` runs).
//!
//! `cargo run --release -p candlebook-models --example bench_train -- <model> [steps]`
//! prints `model=<name> batch=<n> img_per_s=<x>`: forward, backward and an Adam update per step,
//! timed after two warm-up steps.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candlebook_models::{zoo, Loss, ModelError, Optimizer, OptimizerState, Sequential};

fn build(name: &str, device: &Device) -> Result<(Sequential, usize), ModelError> {
    Ok(match name {
        "cifar10_cnn" => (zoo::cifar10_cnn(device)?, 64),
        "fingers_cnn_bn" => (zoo::fingers_cnn_bn(device)?, 32),
        "asl_cnn" => (zoo::asl_cnn(device)?, 32),
        "faces_alexnet" => (zoo::faces_alexnet(device)?, 32),
        other => return Err(ModelError::Spec(format!("unknown model '{other}'"))),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("cifar10_cnn");
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let device = Device::Cpu;
    let (model, batch) = build(name, &device)?;
    let dims = model.input_shape().batch_dims(batch);
    let classes = model.output_shape().batch_dims(1)[1];
    let x = Tensor::rand(0f32, 1f32, dims, &device)?;
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % classes as u32).collect();
    let y = Tensor::new(labels, &device)?.to_dtype(DType::U32)?;
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let mut opt = OptimizerState::new(Optimizer::adam());
    for _ in 0..2 {
        model.train_step(&x, &y, &loss, &mut opt)?;
    }
    let start = Instant::now();
    for _ in 0..steps {
        model.train_step(&x, &y, &loss, &mut opt)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("model={name} batch={batch} steps={steps} img_per_s={:.1}", (steps * batch) as f64 / secs);
    Ok(())
}
