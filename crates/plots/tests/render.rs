//! Figures are checked by their pixels, not just by a file being written.

use candle_core::{DType, Device, Tensor};
use candlebook_plots::*;

fn solid(rgb: [u8; 3], h: usize, w: usize) -> Tensor {
    let hwc: Vec<u8> = (0..h * w).flat_map(|_| rgb).collect();
    Tensor::from_vec(hwc, (h, w, 3), &Device::Cpu).unwrap().permute((2, 0, 1)).unwrap()
}

fn dark_pixels(img: &image::RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y).0;
            if p.iter().all(|&c| c < 100) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn side_by_side_places_images_in_order_with_captions() {
    let red = solid([255, 0, 0], 20, 20);
    let blue = solid([0, 0, 255], 20, 20);
    let fig = side_by_side([(&red, "Left"), (&blue, "Right")]).unwrap();
    let img = fig.to_rgb().unwrap();
    let (w, h) = (img.width(), img.height());
    // Centres of the two panels' image areas.
    assert_eq!(img.get_pixel(w / 4, h / 2 - 10).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(3 * w / 4, h / 2 - 10).0, [0, 0, 255]);
    // Caption text is drawn under each image (the embedded font works without system fonts).
    let band = h - 28;
    assert!(dark_pixels(&img, 0, band, w / 2, h) > 20, "no caption under the left image");
    assert!(dark_pixels(&img, w / 2, band, w, h) > 20, "no caption under the right image");
}

#[test]
fn single_channel_uses_viridis_by_default_and_colour_maps_on_request() {
    let t = Tensor::new(&[[0f32, 1.0]], &Device::Cpu).unwrap();
    let rgb = ImageView::new(&t).unwrap().to_rgb();
    assert_eq!(rgb.get_pixel(0, 0).0, [68, 1, 84]);
    assert_eq!(rgb.get_pixel(1, 0).0, [253, 231, 37]);
    let red = Colormap::linear(&[[0, 0, 0], [255, 0, 0]]).unwrap();
    let rgb = ImageView::new(&t).unwrap().cmap(red).to_rgb();
    assert_eq!(rgb.get_pixel(1, 0).0, [255, 0, 0]);
    let flat = Tensor::full(7f32, (1, 2, 2), &Device::Cpu).unwrap();
    assert_eq!(ImageView::new(&flat).unwrap().to_rgb().get_pixel(1, 1).0, [68, 1, 84]);
}

#[test]
fn float_rgb_is_clipped_and_nan_is_handled() {
    let t = Tensor::new(&[[[2.0f32]], [[-1.0]], [[f32::NAN]]], &Device::Cpu).unwrap();
    assert_eq!(ImageView::new(&t).unwrap().to_rgb().get_pixel(0, 0).0, [255, 0, 0]);
    let gray = Tensor::new(&[[f32::NAN, 0.0, 1.0]], &Device::Cpu).unwrap();
    assert_eq!(ImageView::new(&gray).unwrap().to_rgb().get_pixel(0, 0).0, [255, 255, 255]);
}

#[test]
fn bad_images_give_errors() {
    let five = Tensor::zeros((5, 4, 4), DType::U8, &Device::Cpu).unwrap();
    let e = ImageView::new(&five).unwrap_err();
    assert!(e.to_string().contains("[5, 4, 4]"), "{e}");
    let batch = Tensor::zeros((2, 3, 4, 4), DType::U8, &Device::Cpu).unwrap();
    assert!(ImageView::new(&batch).is_err());
    assert!(side_by_side(Vec::<(Tensor, String)>::new()).is_err());
}

#[test]
fn line_chart_draws_each_series_in_its_colour_and_checks_input() {
    let chart = LineChart::new()
        .title("loss")
        .labels("epoch", "loss")
        .series("train", &[0.0, 1.0, 2.0], &[1.0, 1.0, 1.0])
        .unwrap()
        .series("validation", &[0.0, 1.0, 2.0], &[0.0, 0.0, 0.0])
        .unwrap();
    let img = chart.to_figure().to_rgb().unwrap();
    let count = |c: [u8; 3]| img.pixels().filter(|p| p.0 == c).count();
    assert!(count(TAB10[0]) > 200, "train line (blue) missing");
    assert!(count(TAB10[1]) > 200, "validation line (orange) missing");
    assert!(LineChart::new().series("x", &[1.0, 2.0], &[1.0]).is_err());
    let nan_only = LineChart::new().series("nan", &[f64::NAN], &[f64::NAN]).unwrap();
    assert!(nan_only.to_figure().to_rgb().is_err());
    assert!(LineChart::new().to_figure().to_rgb().is_err());
}

#[test]
fn saves_png_and_svg_atomically_and_rejects_unknown_extensions() {
    let dir = std::env::temp_dir().join(format!("candlebook-plots-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fig = side_by_side([(&solid([0, 255, 0], 8, 8), "green")]).unwrap();
    fig.save(dir.join("f.png")).unwrap();
    let back = image::open(dir.join("f.png")).unwrap().to_rgb8();
    assert_eq!((back.width(), back.height()), fig.dimensions());
    fig.save(dir.join("f.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("f.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("green"));
    assert!(fig.save(dir.join("f.bmpx")).is_err());
    assert!(fig.save("/nonexistent-dir/f.png").unwrap_err().to_string().contains("/nonexistent-dir/f.png"));
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
