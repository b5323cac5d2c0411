//! Benchmark half of `scripts/bench-logistic`: sklearn's `LogisticRegression()` baseline of the
//! fingers notebook with candlebook-models. Loads the first TRAIN training images and all test
//! images (sorted file names, raw 0..255 grey pixels flattened to 16,384 f32 features, digit labels
//! from the names), fits with the defaults and prints one `ours ...` line.
//!
//! Usage: `cargo run --release -p candlebook-models --example bench_logistic -- FINGERS_DIR [TRAIN] [--unit]`
//! (`--unit` divides pixels by 255, like the seed's matplotlib `imread`; `--reps=N` fits N times and
//! reports the fastest).

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candlebook_models::LogisticRegression;
use rayon::prelude::*;

fn load(dir: &Path, limit: Option<usize>, scale: f32) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    if let Some(l) = limit {
        names.truncate(l);
    }
    let images = names
        .par_iter()
        .map(|name| -> Result<(Vec<f32>, u32), String> {
            let img = image::open(dir.join(name)).map_err(|e| format!("{name}: {e}"))?.to_luma8();
            let digit = name.strip_suffix(".png").and_then(|s| s.chars().rev().nth(1)).and_then(|c| c.to_digit(10));
            let digit = digit.ok_or_else(|| format!("{name}: no digit label in the file name"))?;
            Ok((img.as_raw().iter().map(|&v| f32::from(v) * scale).collect(), digit))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let n = images.len();
    let f = images.first().map_or(0, |(p, _)| p.len());
    let mut x = Vec::with_capacity(n * f);
    let mut y = Vec::with_capacity(n);
    for (p, d) in images {
        x.extend(p);
        y.push(d);
    }
    Ok((Tensor::from_vec(x, (n, f), &Device::Cpu)?, Tensor::from_vec(y, n, &Device::Cpu)?))
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, 100 ticks/s; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    // After the command name: state is not numeric, so utime/stime are entries 11 and 12 here.
    f.get(10).zip(f.get(11)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let unit = args.iter().any(|a| a == "--unit");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let root = Path::new(pos.first().map(|s| s.as_str()).unwrap_or("../shared/datasets/fingers"));
    let n_train: usize = pos.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let scale = if unit { 1.0 / 255.0 } else { 1.0 };

    let t = Instant::now();
    let (xtr, ytr) = load(&root.join("train"), Some(n_train), scale)?;
    let (xte, yte) = load(&root.join("test"), None, scale)?;
    let load_s = t.elapsed().as_secs_f64();

    // The machine is shared: fit `reps` times and keep the fastest wall time (and its CPU time).
    let reps: usize = args.iter().find_map(|a| a.strip_prefix("--reps=")).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let mut lm = LogisticRegression::new();
    let (mut fit_s, mut cpu_s) = (f64::INFINITY, 0.0);
    for _ in 0..reps.max(1) {
        let (t, c) = (Instant::now(), cpu_seconds());
        lm.fit(&xtr, &ytr)?;
        let w = t.elapsed().as_secs_f64();
        if w < fit_s {
            (fit_s, cpu_s) = (w, cpu_seconds() - c);
        }
    }
    let (train, test) = (lm.score(&xtr, &ytr)?, lm.score(&xte, &yte)?);
    println!(
        "ours    fit={fit_s:.2}s cpu={cpu_s:.2}s n_iter={} converged={} train_acc={train:.5} test_acc={test:.5} (evaluations {}, load {load_s:.1}s, {} train / {} test)",
        lm.n_iter(),
        lm.converged(),
        lm.n_evaluations(),
        xtr.dim(0)?,
        xte.dim(0)?
    );
    Ok(())
}
