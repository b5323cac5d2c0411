//! Loading images: real files, wrong extensions, missing and corrupt files.

use std::path::PathBuf;

use candle_core::Device;
use candlebook_data::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("candlebook-data-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn png_data_in_a_jpg_file_loads() {
    let d = tmp("ext");
    let p = d.join("really-a-png.jpg");
    image::GrayImage::from_pixel(6, 4, image::Luma([9])).save_with_format(&p, image::ImageFormat::Png).unwrap();
    let t = load_image(&p, &Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[1, 4, 6]);
}

#[test]
fn missing_folder_and_non_image_files_are_named() {
    let d = tmp("bad");
    let e = load_image(d.join("nope.jpg"), &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("nope.jpg") && e.to_string().contains("not found"), "{e}");
    let e = load_image(&d, &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("not a file"), "{e}");
    let txt = d.join("notes.jpg");
    std::fs::write(&txt, b"this is not an image").unwrap();
    let e = load_image(&txt, &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("notes.jpg") && e.to_string().contains("cannot decode"), "{e}");
    let truncated = d.join("cut.png");
    let mut png = Vec::new();
    image::RgbImage::new(20, 20).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    std::fs::write(&truncated, &png[..png.len() / 2]).unwrap();
    assert!(load_image(&truncated, &Device::Cpu).unwrap_err().to_string().contains("cut.png"));
}

#[test]
fn data_root_env_pointing_nowhere_is_an_error() {
    let e = DataRoot::at("/no/such/datasets").check().unwrap_err();
    assert!(e.to_string().contains("/no/such/datasets"), "{e}");
}

#[test]
fn generated_stand_in_is_announced_and_real_photo_loads_when_present() {
    let root = DataRoot::at(tmp("empty"));
    let img = root.image_or_generated("faces/female/0 (487).jpg", &Device::Cpu, generated::face).unwrap();
    assert!(img.is_generated());
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if shared.join("faces/female/0 (487).jpg").exists() {
        let real = DataRoot::at(&shared).image_or_generated("faces/female/0 (487).jpg", &Device::Cpu, generated::face).unwrap();
        assert!(!real.is_generated());
        assert_eq!(real.image.dims()[0], 3);
    } else {
        println!("SKIPPED the real-photo part: ../shared/datasets/faces not found");
    }
}
