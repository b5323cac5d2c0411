//! What the course's augmentation costs per epoch (`scripts/bench-augment`): the ASL CNN trained
//! for one epoch on the generated Sign MNIST stand-in (3,600 images, batch 32, RMSprop) with and
//! without `Fit::augment` (rotation 10°, zoom 0.1, shifts 0.1, horizontal flips), alternating,
//! `rounds` times each; prints the fastest epoch of each, their ratio, and the augmentation alone
//! (`ImageDataGenerator::augment` over the same batches).
//!
//! `cargo run --release -p candlebook-models --example bench_augment -- [rounds]`

use std::time::Instant;

use candle_core::Device;
use candlebook_data::{generated, ImageDataGenerator, Split};
use candlebook_models::{zoo, Fit, Loss, Optimizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let device = Device::Cpu;
    let data = generated::sign_mnist(Split::Train, 150, &device)?.to_f32()?;
    let (x, y) = (data.images.clone(), data.one_hot()?);
    let datagen = ImageDataGenerator::new().rotation_range(10.0).zoom_range(0.1).width_shift_range(0.1).height_shift_range(0.1).horizontal_flip(true);
    let mut model = zoo::asl_cnn(&device)?;
    model.compile(Optimizer::rmsprop(), Loss::categorical_crossentropy(), true);
    let (mut plain, mut augmented, mut alone) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for round in 0..rounds {
        let t = Instant::now();
        model.fit(&x, &y, Fit::new().seed(round as u64).verbose(false))?;
        plain = plain.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        model.fit(&x, &y, Fit::new().seed(round as u64).verbose(false).augment(datagen.clone()))?;
        augmented = augmented.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let n = x.dim(0)?;
        for (b, start) in (0..n).step_by(32).enumerate() {
            let batch = x.narrow(0, start, 32.min(n - start))?;
            datagen.augment(&batch, b as u64)?;
        }
        alone = alone.min(t.elapsed().as_secs_f64());
    }
    println!(
        "asl_cnn epoch of {} images: plain {plain:.2} s, augmented {augmented:.2} s, augmentation alone {alone:.3} s; ratio={:.3} (augmented / plain)",
        x.dim(0)?,
        augmented / plain
    );
    Ok(())
}
