//! Every figure kind of the notebooks, checked by properties of its pixels.

use candle_core::{DType, Device, Tensor};
use candlebook_models::{ConfusionMatrix, History};
use candlebook_plots::*;

fn pixels_of(img: &image::RgbImage, c: [u8; 3]) -> Vec<(u32, u32)> {
    img.enumerate_pixels().filter(|(_, _, p)| p.0 == c).map(|(x, y, _)| (x, y)).collect()
}

fn mean_x(p: &[(u32, u32)]) -> f64 {
    p.iter().map(|(x, _)| *x as f64).sum::<f64>() / p.len() as f64
}

#[test]
fn probability_bars_put_red_at_the_prediction_and_blue_at_the_truth() {
    let probs = [0.02, 0.03, 0.05, 0.6, 0.05, 0.05, 0.05, 0.1, 0.03, 0.02];
    let img = probability_bars(&probs, 7).unwrap().to_figure().to_rgb().unwrap();
    let red = pixels_of(&img, PREDICTED_RED);
    let blue = pixels_of(&img, TRUE_BLUE);
    assert!(!red.is_empty() && !blue.is_empty());
    // class 3 lies left of class 7, and the tall red bar is taller than the blue one
    assert!(mean_x(&red) < mean_x(&blue));
    let top = |p: &[(u32, u32)]| p.iter().map(|(_, y)| *y).min().unwrap();
    assert!(top(&red) < top(&blue));
    // bar positions are proportional to the class index: 3/10 and 7/10 of the width, roughly
    let w = img.width() as f64;
    assert!((mean_x(&red) / w - 0.35).abs() < 0.08, "red at {}", mean_x(&red) / w);
    assert!((mean_x(&blue) / w - 0.72).abs() < 0.08, "blue at {}", mean_x(&blue) / w);
}

#[test]
fn feature_map_grid_has_one_tile_per_channel() {
    let maps = Tensor::rand(0f32, 1f32, (1, 32, 6, 6), &Device::Cpu).unwrap();
    let fig = feature_map_grid(&maps, 8).unwrap();
    assert_eq!(fig.grid_shape(), (4, 8));
    let img = fig.to_rgb().unwrap();
    // Along a horizontal line through the first row of tiles, count white-to-colour transitions.
    let y = img.height() / 8;
    let mut tiles = 0;
    let mut in_tile = false;
    for x in 0..img.width() {
        let white = img.get_pixel(x, y).0 == [255, 255, 255];
        if !white && !in_tile {
            tiles += 1;
        }
        in_tile = !white;
    }
    assert_eq!(tiles, 8);
    assert!(feature_map_grid(&Tensor::zeros((2, 3, 4, 4), DType::F32, &Device::Cpu).unwrap(), 4).is_err());
}

#[test]
fn confusion_matrix_counts_are_drawn_in_their_cells() {
    let cm_with = |extra_21: usize, extra_43: usize| {
        let mut t = Vec::new();
        let mut p = Vec::new();
        for c in 0..5 {
            for _ in 0..50 {
                t.push(c);
                p.push(c);
            }
        }
        for _ in 0..extra_21 {
            t.push(2);
            p.push(1);
        }
        for _ in 0..extra_43 {
            t.push(4);
            p.push(3);
        }
        ConfusionMatrix::from_labels(&t, &p, 5).unwrap()
    };
    let render = |cm: &ConfusionMatrix| ConfusionMatrixPlot::new(cm).to_figure().to_rgb().unwrap();
    let base = render(&cm_with(1, 1));
    let a = render(&cm_with(8, 1)); // only cell (true 2, predicted 1) changes: "1" -> "8"
    let b = render(&cm_with(1, 8)); // only cell (true 4, predicted 3) changes
    let diff = |x: &image::RgbImage| -> Vec<(u32, u32)> {
        base.enumerate_pixels().filter(|(i, j, p)| x.get_pixel(*i, *j) != *p).map(|(i, j, _)| (i, j)).collect()
    };
    let (da, db) = (diff(&a), diff(&b));
    assert!(!da.is_empty() && !db.is_empty());
    let centre = |d: &[(u32, u32)]| (mean_x(d), d.iter().map(|(_, y)| *y as f64).sum::<f64>() / d.len() as f64);
    let (ax, ay) = centre(&da);
    let (bx, by) = centre(&db);
    // (2,1) is left of and above (4,3); each change stays inside one cell (a fifth of the plot)
    assert!(ax < bx && ay < by, "({ax},{ay}) vs ({bx},{by})");
    let span = |d: &[(u32, u32)]| d.iter().map(|p| p.0).max().unwrap() - d.iter().map(|p| p.0).min().unwrap();
    assert!((span(&da) as f64) < base.width() as f64 / 5.0);
    let single = ConfusionMatrix::from_labels(&[0, 0], &[0, 0], 1).unwrap();
    assert!(ConfusionMatrixPlot::new(&single).to_figure().to_rgb().is_ok());
}

#[test]
fn history_curves_follow_the_history_and_name_missing_metrics() {
    let h = History::from_series([("loss", vec![1.0, 0.5, 0.25]), ("val_loss", vec![1.1, 0.8, 0.7])]).unwrap();
    let curves = LearningCurves::new(&h);
    let chart = curves.loss().unwrap();
    assert_eq!(chart.series_list().len(), 2);
    assert_eq!(chart.series_list()[0].x, vec![1.0, 2.0, 3.0]);
    let e = curves.accuracy().unwrap_err();
    assert!(e.to_string().contains("loss, val_loss"), "{e}");
    let img = chart.colors(&[[0, 0, 0], [0, 128, 0]]).line_width(2).to_figure().to_rgb().unwrap();
    assert!(pixels_of(&img, [0, 128, 0]).len() > 100, "validation curve missing");
}

#[test]
fn legend_avoids_the_data() {
    // Data rising to the upper right: the legend must not sit there.
    let x: Vec<f64> = (0..50).map(|i| i as f64).collect();
    let chart = LineChart::new().series("rising", &x, &x).unwrap().legend(true);
    let img = chart.to_figure().to_rgb().unwrap();
    let line = pixels_of(&img, TAB10[0]);
    let (w, h) = (img.width(), img.height());
    // The line runs from lower left to upper right, so its pixels never reach the upper-left
    // third; the legend's swatch (drawn in the series colour) must be the blue found there.
    let upper_left = line.iter().filter(|(x, y)| *x < w / 3 && *y < h / 3).count();
    assert!(upper_left > 0, "legend (with its blue swatch) expected in the upper left");
}

#[test]
fn shared_x_stack_gives_every_chart_the_same_range() {
    let a = LineChart::new().series("a", &[0.0, 5.0], &[1.0, 0.0]).unwrap();
    let b = LineChart::new().series("b", &[0.0, 10.0], &[1.0, 0.0]).unwrap();
    let fig = stack_shared_x(vec![a, b], "Epochs").unwrap();
    let ranges: Vec<(f64, f64)> = fig
        .panels()
        .iter()
        .map(|p| match p {
            Panel::Lines(c) => c.x_range().unwrap(),
            _ => panic!("not a line chart"),
        })
        .collect();
    assert_eq!(ranges[0], ranges[1]);
    assert!(ranges[0].1 >= 10.0);
    assert!(stack_shared_x(vec![], "x").is_err());
}

#[test]
fn prediction_panel_colours_captions_by_correctness() {
    let images = Tensor::full(200u8, (2, 3, 8, 8), &Device::Cpu).unwrap();
    let probs = Tensor::new(&[[0.9f32, 0.1], [0.8, 0.2]], &Device::Cpu).unwrap();
    let fig = prediction_panel(&images, &probs, &[0, 1], &["cat", "dog"], &[0, 1]).unwrap();
    let img = fig.to_rgb().unwrap();
    let half = img.width() / 2;
    let top = img.height() / 2;
    // Text is anti-aliased: count pixels that are clearly blue or clearly red.
    let count = |c: [u8; 3], x0: u32, x1: u32| {
        img.enumerate_pixels()
            .filter(|(x, y, p)| {
                let [r, g, b] = p.0;
                let like = if c == TRUE_BLUE { b > 150 && r < 110 && g < 110 } else { r > 150 && g < 110 && b < 110 };
                *x >= x0 && *x < x1 && *y < top && like
            })
            .count()
    };
    // first example is right: blue caption; second wrong: red caption
    assert!(count(TRUE_BLUE, 0, half) > 10 && count(PREDICTED_RED, 0, half) == 0);
    assert!(count(PREDICTED_RED, half, img.width()) > 10);
    assert!(prediction_panel(&images, &probs, &[0, 1], &["cat", "dog"], &[5]).is_err());
    assert!(prediction_panel(&images, &probs, &[0, 9], &["cat", "dog"], &[1]).is_err());
}

#[test]
fn grids_and_bars_reject_bad_input() {
    let images = Tensor::zeros((3, 1, 4, 4), DType::U8, &Device::Cpu).unwrap();
    assert!(misclassified_grid(&images, &[0, 1, 2], &[0, 1, 2], &["a", "b", "c"], 10, 4).is_err());
    assert!(misclassified_grid(&images, &[0, 1], &[0, 1, 2], &["a", "b", "c"], 10, 4).is_err());
    let views = batch_views(&images).unwrap();
    assert!(image_grid(views.iter().map(|v| (v, "x")), 1, 2).is_err());
    assert!(BarChart::new(&[1.0, f64::INFINITY]).is_err());
    assert!(parameter_sweep("C", &[0.0, 1.0], &[1.0, 1.0], &[1.0, 1.0], true).is_err());
    assert!(learning_curve(&[1.0, 2.0], &[1.0], &[1.0, 1.0]).is_err());
}

#[test]
fn channel_views_use_stepped_custom_maps() {
    let ramp = Tensor::arange(0f32, 256f32, &Device::Cpu).unwrap().reshape((1, 256)).unwrap();
    let red = Colormap::linear_levels(&[[0, 0, 0], [255, 0, 0]], 20).unwrap();
    let rgb = ImageView::new(&ramp).unwrap().cmap(red).to_rgb();
    let distinct: std::collections::BTreeSet<[u8; 3]> = rgb.pixels().map(|p| p.0).collect();
    assert_eq!(distinct.len(), 20);
    assert!(distinct.iter().all(|c| c[1] == 0 && c[2] == 0));
}

#[test]
fn every_kind_renders_fast_enough_for_a_notebook() {
    // Not a timing assertion: one render of the largest figure, to catch pathological slowness in
    // review (the gallery prints render times).
    let maps = Tensor::rand(0f32, 1f32, (128, 16, 16), &Device::Cpu).unwrap();
    assert!(feature_map_grid(&maps, 16).unwrap().to_png().unwrap().len() > 1000);
}


#[test]
fn every_kind_also_renders_as_svg() {
    let h = History::from_series([("loss", vec![1.0, 0.5]), ("val_loss", vec![1.2, 0.9])]).unwrap();
    let cm = ConfusionMatrix::from_labels(&[0, 1], &[0, 0], 2).unwrap();
    let images = Tensor::zeros((2, 3, 8, 8), DType::U8, &Device::Cpu).unwrap();
    let probs = Tensor::new(&[[0.9f32, 0.1], [0.3, 0.7]], &Device::Cpu).unwrap();
    let figures = vec![
        LearningCurves::new(&h).loss().unwrap().to_figure(),
        ConfusionMatrixPlot::new(&cm).to_figure(),
        probability_bars(&[0.2, 0.8], 0).unwrap().to_figure(),
        prediction_panel(&images, &probs, &[0, 0], &["a", "b"], &[0, 1]).unwrap(),
        feature_map_grid(&images.get(0).unwrap(), 3).unwrap(),
        parameter_sweep("C", &[0.1, 1.0], &[1.0, 1.0], &[0.9, 0.95], true).unwrap().to_figure(),
    ];
    for fig in figures {
        let svg = fig.to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 500);
    }
}
