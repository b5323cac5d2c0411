//! Fetches the datasets that are on the Hugging Face hub into the hub cache (run by
//! `scripts/download-data`; needs the `hub-download` feature): CIFAR-10's parquet files from
//! `uoft-cs/cifar10`. The loaders then read them from the cache without network
//! (`HF_HUB_OFFLINE=1` works). Prints how to get the datasets that are not on the hub.

use candlebook_data::{cifar10_hub_file, Split};

fn main() {
    let mut failed = false;
    for split in [Split::Train, Split::Test] {
        let f = cifar10_hub_file(split);
        match f.get() {
            Ok(p) => println!("cifar10 {}: {}", split.as_str(), p.display()),
            Err(e) => {
                failed = true;
                eprintln!("cifar10 {}: {e}", split.as_str());
            }
        }
    }
    println!(
        "Not on the hub in the tutorials' form (see data/README.md): fingers, faces, Sign Language MNIST and \
         Severstal come from Kaggle; place them under $CANDLEBOOK_DATA (or data/) as that file describes."
    );
    if failed {
        std::process::exit(1);
    }
}
