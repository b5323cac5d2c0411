//! The Severstal layout at full scale: writes 12,568 generated 1600×256 plates as JPEGs with their
//! `train.csv` (plate by plate, never all in memory), then loads them as the steel notebook does
//! (gray, area-resized to 256×256, u8) and reports the load time and the process's peak memory
//! (`VmHWM`). `scripts/bench-steel-scale`; the folder is reused when it is complete.
//!
//! `cargo run --release -p candlebook-data --example steel_scale -- [folder] [plates]`

use std::io::Write;
use std::time::Instant;

use candle_core::Device;
use candlebook_data::{generated_steel_plate, load_severstal_dir, severstal_options, STEEL_HEIGHT, STEEL_WIDTH};
use rayon::prelude::*;

fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().cloned().unwrap_or_else(|| "out/steel-scale".into()));
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(12_568);
    let images = dir.join("train_images");
    let done = dir.join("train.csv").is_file() && std::fs::read_dir(&images).map(|d| d.count()).unwrap_or(0) == n;
    if !done {
        std::fs::create_dir_all(&images)?;
        let t = Instant::now();
        let rows: Vec<String> = (0..n)
            .into_par_iter()
            .map(|i| -> Result<Vec<String>, String> {
                let (px, defects) = generated_steel_plate(i);
                let id = format!("plate_{i:05}.jpg");
                let img = image::GrayImage::from_raw(STEEL_WIDTH as u32, STEEL_HEIGHT as u32, px).ok_or("plate size")?;
                img.save(images.join(&id)).map_err(|e| e.to_string())?;
                Ok(defects.into_iter().map(|(k, rle)| format!("{id},{k},{rle}")).collect())
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let mut csv = std::io::BufWriter::new(std::fs::File::create(dir.join("train.csv"))?);
        writeln!(csv, "ImageId,ClassId,EncodedPixels")?;
        for r in &rows {
            writeln!(csv, "{r}")?;
        }
        println!("wrote {n} plates ({} defect rows) in {:.1} s", rows.len(), t.elapsed().as_secs_f64());
    }
    let before = peak_mib();
    let t = Instant::now();
    let steel = load_severstal_dir(&dir, &severstal_options(), &Device::Cpu)?;
    let secs = t.elapsed().as_secs_f64();
    let bytes = steel.dataset.images.elem_count();
    println!(
        "loaded {} plates to {:?} u8 ({:.0} MiB) in {secs:.1} s ({:.0} plates/s); peak memory {:.0} MiB (before loading {:.0} MiB)",
        steel.dataset.len(),
        steel.dataset.images.dims(),
        bytes as f64 / (1024.0 * 1024.0),
        steel.dataset.len() as f64 / secs,
        peak_mib().unwrap_or(f64::NAN),
        before.unwrap_or(f64::NAN)
    );
    Ok(())
}
