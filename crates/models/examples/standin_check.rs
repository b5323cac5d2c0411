//! How the notebooks' networks do on the generated stand-in data, measured as the notebook check
//! measures them: inference-mode accuracy (`evaluate`) on the training and test sets, beside the
//! last epoch's running `fit` accuracy. A tool for designing the stand-ins (sizes, difficulty)
//! without re-running a whole notebook.
//!
//! `cargo run --release -p candlebook-models --example standin_check -- <set> [train_per_class] [test_per_class] [epochs]`
//! with set one of `faces`, `cifar10`, `cifar10-sharp`, `fingers`, `fingers-bn`, `asl`,
//! `steel2`/`steel5` (the steel notebook's softmax-head CNNs), `asl-aug` (the ASL CNN with the course's augmentation).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candlebook_data::{generated, Dataset, ImageDataGenerator, Split};
use candlebook_models::{zoo, Activation, ActivationLayer, Conv2D, Dense, Fit, Flatten, Input, Loss, Optimizer, Sequential};

fn arg(args: &[String], i: usize, default: usize) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(args.get(i).map(|s| s.parse()).transpose()?.unwrap_or(default))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let set = args.first().map(String::as_str).unwrap_or("fingers-bn");
    let device = Device::Cpu;
    let (train, test, mut model, epochs, batch): (Dataset, Dataset, Sequential, usize, usize) = match set {
        "faces" => {
            let all = generated::faces(arg(&args, 1, 40)?, (224, 224), &device)?;
            // the tutorial feeds the faces' 0..255 values as they are
            let (mut train, mut test) = all.train_test_split(0.2, 1)?;
            train.images = train.images.to_dtype(DType::F32)?;
            test.images = test.images.to_dtype(DType::F32)?;
            (train, test, zoo::faces_alexnet(&device)?, arg(&args, 3, 40)?, 32)
        }
        "cifar10" | "cifar10-sharp" => {
            let mut train = generated::cifar10(Split::Train, arg(&args, 1, 100)?, &device)?.shuffled(0)?;
            let mut test = generated::cifar10(Split::Test, arg(&args, 2, 20)?, &device)?.shuffled(0)?;
            let mut model = zoo::cifar10_cnn(&device)?;
            let mut epochs = 14;
            if set == "cifar10-sharp" {
                train = train.sharpen()?;
                test = test.sharpen()?;
                model = zoo::cifar10_cnn_sharpened(&device)?;
                epochs = 19;
            }
            (train.to_f32()?, test.to_f32()?, model, arg(&args, 3, epochs)?, 64)
        }
        "fingers" | "fingers-bn" => {
            let train = generated::fingers(Split::Train, arg(&args, 1, 50)?, &device)?.to_f32()?;
            let test = generated::fingers(Split::Test, arg(&args, 2, 20)?, &device)?.to_f32()?;
            let model = if set == "fingers-bn" {
                zoo::fingers_cnn_bn(&device)?
            } else {
                let mut m = Sequential::new(Input::image(128, 128, 1), &device).seed(101);
                m.add(Conv2D::new(64, (4, 4)).strides((2, 2)))?;
                m.add(ActivationLayer::new(Activation::Relu))?;
                m.add(Conv2D::new(32, (3, 3)).strides((2, 2)))?;
                m.add(ActivationLayer::new(Activation::Relu))?;
                m.add(Flatten::new())?;
                m.add(Dense::new(6).activation(Activation::Softmax))?;
                m
            };
            (train, test, model, arg(&args, 3, 3)?, 32)
        }
        "steel2" | "steel5" => {
            // the steel notebook's stand-in, splits and networks: a softmax head over 2 (defect or
            // not) or 5 classes on the seed's five 2x2-conv blocks, 10 epochs; "test" is the 10 %
            // holdout (stratified, seed 6)
            let steel = candlebook_data::generated_steel(arg(&args, 1, candlebook_data::STEEL_STANDIN_PLATES)?, &candlebook_data::severstal_options(), &device)?;
            let mut ds = steel.dataset.clone();
            let classes = if set == "steel2" {
                ds = ds.labels_from_column("defect", &["no defect", "defect"])?;
                2
            } else {
                5
            };
            let (train, test) = candlebook_data::train_test_split(&ds, &candlebook_data::TrainTestSplit::new(0.1).seed(6).stratify(true))?;
            let model = zoo::steel_cnn_5_with_head(&device, zoo::SteelHead::Softmax(classes))?;
            (train.to_f32()?, test.to_f32()?, model, arg(&args, 3, 10)?, 32)
        }
        "asl" | "asl-aug" => {
            // the loader's stand-in sizes (150 and 20 per letter), the seed's 20 epochs
            let train = generated::sign_mnist(Split::Train, arg(&args, 1, 150)?, &device)?.to_f32()?;
            let test = generated::sign_mnist(Split::Test, arg(&args, 2, 20)?, &device)?.to_f32()?;
            (train, test, zoo::asl_cnn(&device)?, arg(&args, 3, 20)?, 32)
        }
        other => return Err(format!("unknown set '{other}'").into()),
    };
    if let Ok(dir) = std::env::var("STANDIN_DUMP") {
        // raw little-endian f32 images and u32 labels, for running the same data through Keras
        for (name, d) in [("train", &train), ("test", &test)] {
            let px: Vec<f32> = d.images.flatten_all()?.to_vec1()?;
            let bytes: Vec<u8> = px.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(format!("{dir}/{set}-{name}-x.f32"), bytes)?;
            let labels: Vec<u8> = d.labels_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(format!("{dir}/{set}-{name}-y.u32"), labels)?;
        }
    }
    let one_hot = |d: &Dataset| -> Result<Tensor, Box<dyn std::error::Error>> { Ok(d.one_hot()?) };
    // the ASL seed compiles without an optimizer: Keras's default, RMSprop
    let optimizer = if set.starts_with("asl") { Optimizer::rmsprop() } else { Optimizer::adam() };
    model.compile(optimizer, Loss::CategoricalCrossentropy { from_logits: false }, true);
    let mut fit = Fit::new().epochs(epochs).batch_size(batch).shuffle(true).verbose(std::env::var_os("STANDIN_VERBOSE").is_some());
    if set == "asl-aug" {
        // the course's augmentation
        // STANDIN_AUG picks the course's transforms to use (default: all of them)
        let pick = std::env::var("STANDIN_AUG").unwrap_or_else(|_| "rotation,zoom,shift,flip".into());
        let on = |name: &str| pick.split(',').any(|p| p == name);
        let mut datagen = ImageDataGenerator::new().horizontal_flip(on("flip"));
        if on("rotation") {
            datagen = datagen.rotation_range(10.0);
        }
        if on("zoom") {
            datagen = datagen.zoom_range(0.1);
        }
        if on("shift") {
            datagen = datagen.width_shift_range(0.1).height_shift_range(0.1);
        }
        fit = fit.augment(datagen);
    }
    let t0 = Instant::now();
    let history = model.fit(&train.images, &one_hot(&train)?, fit)?;
    let secs = t0.elapsed().as_secs_f64();
    let fit_acc = history.get("accuracy").and_then(|a| a.last().copied()).unwrap_or(f64::NAN);
    let train_scores = model.evaluate(&train.images, &one_hot(&train)?, 64)?;
    let test_scores = model.evaluate(&test.images, &one_hot(&test)?, 64)?;
    let steps = epochs * train.len().div_ceil(batch);
    println!(
        "{set}: train {} test {} images, {epochs} epochs ({steps} steps) in {secs:.1} s; last fit accuracy {fit_acc:.3}; evaluate: train {:.3}, test {:.3}",
        train.len(),
        test.len(),
        train_scores.accuracy()?,
        test_scores.accuracy()?
    );
    Ok(())
}
