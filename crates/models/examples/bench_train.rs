//! Training and inference throughput of the tutorials' CNNs on synthetic data (what
//! `scripts/bench-train` and `scripts/bench-notebook` run).
//!
//! `cargo run --release -p candlebook-models --example bench_train -- <model> [steps] [train|predict]`
//! prints `model=<name> batch=<n> mode=<train|predict> img_per_s=<x>`: a training step is forward,
//! backward and an Adam update; a prediction is `model.predict` on one batch. It runs on the device
//! `choose_device` picks (a GPU in a `--features cuda` build on a machine with one), named on stderr.

use candlebook_models::choose_device;
use candlebook_models::throughput::{seed_cnn, Throughput};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("cifar10_cnn");
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let mode = args.get(2).map(String::as_str).unwrap_or("train");
    let choice = choose_device();
    eprintln!("device: {}", choice.description);
    let (model, batch) = seed_cnn(name, &choice.device)?;
    let t = Throughput::new(&model, batch)?;
    let rate = match mode {
        "train" => t.training(steps)?,
        "predict" => t.inference(steps)?,
        other => return Err(format!("unknown mode '{other}': expected train or predict").into()),
    };
    println!("model={name} batch={batch} mode={mode} steps={steps} img_per_s={rate:.1}");
    Ok(())
}
