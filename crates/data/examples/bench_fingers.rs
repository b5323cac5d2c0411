//! Benchmark (run by `scripts/bench-data`): loads every fingers PNG (train + test) by decoding,
//! then from the decode cache, and prints the best of `REPS` runs of each as `key=value` lines.
//! Usage: bench_fingers [FINGERS_DIR] [REPS]

use std::time::Instant;

use candle_core::Device;
use candlebook_data::{load_fingers_dir, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).cloned().unwrap_or_else(|| "../shared/datasets/fingers".into());
    let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let dir = std::path::PathBuf::from(dir);
    let cache = std::env::temp_dir().join(format!("candlebook-bench-cache-{}", std::process::id()));
    let splits = [dir.join("train"), dir.join("test")];
    let load = |opts: &LoadOptions| -> Result<usize, candlebook_data::DataError> {
        let mut n = 0;
        for s in &splits {
            n += load_fingers_dir(s, opts, &Device::Cpu)?.len();
        }
        Ok(n)
    };
    let decode_opts = LoadOptions::default().cache(false).progress(false);
    let mut decode = f64::INFINITY;
    let mut n = 0;
    for _ in 0..reps {
        let t = Instant::now();
        n = load(&decode_opts)?;
        decode = decode.min(t.elapsed().as_secs_f64());
    }
    let cache_opts = LoadOptions::default().cache_dir(&cache).progress(false);
    let t = Instant::now();
    load(&cache_opts)?; // decode + write the cache
    let write = t.elapsed().as_secs_f64();
    let mut reload = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        load(&cache_opts)?;
        reload = reload.min(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&cache);
    println!("images={n}");
    println!("threads={}", rayon::current_num_threads());
    println!("decode_s={decode:.4}");
    println!("first_cached_load_s={write:.4}");
    println!("cache_reload_s={reload:.4}");
    Ok(())
}
