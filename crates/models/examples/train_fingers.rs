//! Seed 003's CNN with batch norm on the fingers data: `(N, 1, 128, 128)` images scaled to 0..1,
//! Adam, categorical cross-entropy, batch 32, then the test accuracy.
//!
//! `cargo run --release -p candlebook-models --example train_fingers -- [epochs] [train_limit]`
//! reads `CANDLEBOOK_DATA` (e.g. `../shared/datasets`), else `data/`, else generated hands.

use std::time::Instant;

use candle_core::Device;
use candlebook_data::{fingers, DataRoot, LoadOptions, Split};
use candlebook_models::{zoo, Fit, Loss, Optimizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let epochs: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let limit: Option<usize> = args.get(1).map(|s| s.parse()).transpose()?;
    let device = Device::Cpu;
    let root = DataRoot::locate()?;
    let mut opts = LoadOptions::default();
    if let Some(n) = limit {
        opts = opts.limit(n);
    }
    let train = fingers(&root, Split::Train, &opts, &device)?.to_f32()?;
    let test = fingers(&root, Split::Test, &LoadOptions::default(), &device)?.to_f32()?;
    println!("train {:?}, test {:?}", train.images.dims(), test.images.dims());
    let mut model = zoo::fingers_cnn_bn(&device)?;
    model.compile(Optimizer::adam(), Loss::CategoricalCrossentropy { from_logits: false }, true);
    let t0 = Instant::now();
    let history = model.fit(&train.images, &train.one_hot()?, Fit::new().epochs(epochs).batch_size(32).seed(0))?;
    let secs = t0.elapsed().as_secs_f64();
    let scores = model.evaluate(&test.images, &test.one_hot()?, 64)?;
    println!("trained {} epochs in {secs:.1} s; history: {:?}", history.epochs(), history.get("accuracy"));
    println!("test: {scores:?}");
    Ok(())
}
