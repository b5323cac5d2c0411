//! Draws every kind of figure the notebooks use, from generated data, and writes each as PNG and
//! SVG into a folder (default `out/gallery`).
//!
//! `cargo run --release -p candlebook-plots --example gallery [OUT_DIR]`

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use candlebook_models::{ConfusionMatrix, History};
use candlebook_plots::*;

type AnyResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Deterministic pseudo-random numbers in 0..1.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` RGB 32×32 images: a coloured disc whose hue depends on the class, on a gradient.
fn toy_images(n: usize, rng: &mut Rng) -> (Tensor, Vec<usize>) {
    let mut px = vec![0u8; n * 3 * 32 * 32];
    let mut labels = Vec::new();
    for i in 0..n {
        let class = (rng.next() * 10.0) as usize % 10;
        labels.push(class);
        let (cx, cy, r) = (8.0 + rng.next() * 16.0, 8.0 + rng.next() * 16.0, 5.0 + rng.next() * 6.0);
        let hue = class as f64 / 10.0;
        let fg = [(hue * 6.28).sin() * 0.5 + 0.5, (hue * 6.28 + 2.1).sin() * 0.5 + 0.5, (hue * 6.28 + 4.2).sin() * 0.5 + 0.5];
        for y in 0..32 {
            for x in 0..32 {
                let inside = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt() < r;
                for c in 0..3 {
                    let bg = 0.2 + 0.3 * (x + y) as f64 / 64.0;
                    let v = if inside { fg[c] } else { bg };
                    px[((i * 3 + c) * 32 + y) * 32 + x] = (v * 255.0) as u8;
                }
            }
        }
    }
    (Tensor::from_vec(px, (n, 3, 32, 32), &Device::Cpu).unwrap(), labels)
}

fn main() -> AnyResult<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "out/gallery".into()));
    std::fs::create_dir_all(&out)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut saved = Vec::new();
    let mut save = |name: &str, fig: Figure| -> AnyResult<()> {
        let t = std::time::Instant::now();
        fig.save(out.join(format!("{name}.png")))?;
        let ms = t.elapsed().as_millis();
        fig.save(out.join(format!("{name}.svg")))?;
        println!("{name}.png/.svg  {:?}  PNG in {ms} ms", fig.dimensions());
        saved.push(name.to_string());
        Ok(())
    };

    // Training history of 14 epochs.
    let e = 14;
    let loss: Vec<f64> = (0..e).map(|i| 1.6 * (-0.25 * i as f64).exp() + 0.35).collect();
    let val_loss: Vec<f64> = (0..e).map(|i| 1.5 * (-0.2 * i as f64).exp() + 0.55 + 0.01 * i as f64).collect();
    let acc: Vec<f64> = loss.iter().map(|l| 1.0 - l / 2.2).collect();
    let val_acc: Vec<f64> = val_loss.iter().map(|l| 1.0 - l / 2.4).collect();
    let history = History::from_series([("loss", loss), ("accuracy", acc), ("val_loss", val_loss), ("val_accuracy", val_acc)])?;
    let curves = LearningCurves::new(&history);
    let fig = curves
        .loss()?
        .names(&["Training Loss", "Validation Loss"])
        .colors(&[[0, 0, 0], [0, 128, 0]])
        .line_width(2)
        .title("Loss Curves")
        .size(600, 400)
        .to_figure();
    save("history_loss", fig)?;
    save("history_accuracy", curves.accuracy()?.names(&["Training Accuracy", "Validation Accuracy"]).colors(&[[0, 0, 0], [0, 0, 255]]).line_width(2).to_figure())?;
    save("history_both", curves.both()?)?;

    // Four loss curves sharing x, zoomed on y as the fingers notebook does.
    let names = ["CNN_BatchNorm", "CNN", "NN_batchNorm", "NN"];
    let colours = [[0, 0, 255], [0, 0, 0], [191, 191, 0], [0, 128, 0]];
    let charts = names
        .iter()
        .zip(colours)
        .enumerate()
        .map(|(k, (n, c))| {
            let y: Vec<f64> = (0..10).map(|i| 0.4 * (-(k as f64 + 1.0) * 0.6 * i as f64).exp()).collect();
            let x: Vec<f64> = (0..10).map(|i| i as f64).collect();
            Ok(LineChart::new().series(*n, &x, &y)?.colors(&[c]).ylim(Some(-0.01), Some(0.1)).ylabel("Loss"))
        })
        .collect::<std::result::Result<Vec<_>, PlotError>>()?;
    save("loss_comparison_shared_x", stack_shared_x(charts, "Epochs")?)?;

    // Sample grid with class names under the images.
    let (images, labels) = toy_images(25, &mut rng);
    let views = batch_views(&images.narrow(0, 0, 10)?)?;
    save("sample_grid", image_grid(views.into_iter().zip(&labels).map(|(v, &l)| (v, CLASSES[l])), 2, 5)?)?;

    // RGB channel views with black -> red / green / blue maps of 20 levels.
    let first = images.get(0)?;
    let maps = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
    let channel_views: Vec<(ImageView, String)> = (0..3)
        .map(|c| Ok((ImageView::new(&first.get(c)?)?.cmap(Colormap::linear_levels(&[[0, 0, 0], maps[c]], 20)?), format!("channel {c}"))))
        .collect::<std::result::Result<_, PlotError>>()?;
    save("rgb_channels", side_by_side(channel_views)?)?;

    // 128 feature maps in an 8x16 grid.
    let maps: Vec<f32> = (0..128 * 16 * 16)
        .map(|i| {
            let (c, y, x) = (i / 256, (i / 16) % 16, i % 16);
            let a = c as f32 * 0.37;
            ((x as f32 * a.cos() + y as f32 * a.sin()) * (0.3 + 0.02 * c as f32)).sin()
        })
        .collect();
    save("feature_maps", feature_map_grid(&Tensor::from_vec(maps, (1, 128, 16, 16), &Device::Cpu)?, 16)?)?;

    // Predictions: probabilities that are mostly right.
    let probs: Vec<f32> = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &l)| {
            let guess = if i % 4 == 3 { (l + 3) % 10 } else { l };
            (0..10).map(move |k| if k == guess { 0.7 } else if k == l { 0.15 } else { 0.15 / 8.0 }).collect::<Vec<f32>>()
        })
        .collect();
    let probs = Tensor::from_vec(probs, (25, 10), &Device::Cpu)?;
    let predicted: Vec<usize> = probs.argmax(1)?.to_vec1::<u32>()?.into_iter().map(|p| p as usize).collect();

    // 5x5 grid titled "True: ... / Predict: ...", no axes.
    let mut fig = Figure::grid(5, 5).size(1000, 1150);
    for (i, v) in batch_views(&images)?.into_iter().enumerate() {
        fig.push(v.axis(false).title(format!("True: {}\nPredict: {}", CLASSES[labels[i]], CLASSES[predicted[i]])));
    }
    save("prediction_grid_5x5", fig)?;
    save("prediction_bars", prediction_panel(&images, &probs, &labels, &CLASSES, &[1, 2, 3, 4, 5, 6, 7])?)?;
    save("misclassified", misclassified_grid(&images, &labels, &predicted, &CLASSES, 8, 4)?)?;

    // Confusion matrix like the fingers baseline.
    let mut t = Vec::new();
    let mut p = Vec::new();
    for class in 0..6 {
        for k in 0..600 {
            t.push(class);
            p.push(if class == 3 && k < 7 { 2 } else if class == 2 && k < 4 { 1 } else { class });
        }
    }
    let cm = ConfusionMatrix::from_labels(&t, &p, 6)?;
    println!("{cm}");
    save("confusion_matrix", ConfusionMatrixPlot::new(&cm).title("Confusion matrix").to_figure())?;

    // Learning curve over training-set size, and its zoom.
    let sizes: Vec<f64> = (1..=60).map(|i| (i * 50) as f64).collect();
    let test: Vec<f64> = sizes.iter().map(|s| 1.0 - 0.4 * (-s / 300.0).exp() - 0.002).collect();
    let train = vec![1.0; sizes.len()];
    let lc = learning_curve(&sizes, &train, &test)?;
    save("learning_curve", lc.to_figure())?;
    save("learning_curve_zoomed", lc.xlim(Some(1500.0), None).ylim(Some(0.95), None).to_figure())?;

    // Regularisation sweep with a log x axis.
    let c: Vec<f64> = (-4..=5).map(|k| 10f64.powi(k)).collect();
    let test: Vec<f64> = c.iter().map(|v| 0.985 + 0.01 * (1.0 - (v.log10() - 0.0).abs() / 5.0)).collect();
    let train: Vec<f64> = c.iter().map(|v| (0.99 + 0.002 * v.log10()).min(1.0)).collect();
    save("parameter_sweep", parameter_sweep("C", &c, &train, &test, true)?.ylim(Some(0.98), None).to_figure())?;

    // One image alone through viridis, as plt.imshow of a 2-D array.
    save("single_channel_viridis", ImageView::new(&first.get(0)?)?.to_figure())?;

    println!("{} figures written to {}", saved.len(), out.display());
    Ok(())
}
