//! Segmentation masks drawn over an image, one colour per class: the Severstal steel plates with
//! their defect masks (classes 1–4).

use candle_core::{DType, Tensor};
use image::{DynamicImage, RgbImage};

use crate::error::{PlotError, Result};
use crate::figure::Figure;
use crate::image_view::ImageView;

/// The colours of mask planes 0, 1, 2, … (Severstal's defect classes 1, 2, 3, 4 first: red, green,
/// blue, yellow; then orange, purple, cyan, magenta, lime, pink for more classes, repeating).
pub const MASK_COLOURS: [[u8; 3]; 10] = [
    [230, 25, 75],
    [60, 180, 75],
    [0, 130, 200],
    [255, 225, 25],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 212],
];

/// The names of [`MASK_COLOURS`], used in the legend.
pub const MASK_COLOUR_NAMES: [&str; 10] = ["red", "green", "blue", "yellow", "orange", "purple", "cyan", "magenta", "lime", "pink"];

/// The colour of mask plane `k` ([`MASK_COLOURS`], repeating after ten).
pub fn mask_colour(k: usize) -> [u8; 3] {
    MASK_COLOURS[k % MASK_COLOURS.len()]
}

/// The image's pixels as interleaved RGB bytes: `(H, W)`, `(1, H, W)` (gray, repeated) or
/// `(3, H, W)`; u8 as 0..=255, floats as 0..=1 (clipped; NaN as 0), other integers as 0..=255.
fn image_rgb(image: &Tensor) -> Result<(usize, usize, Vec<u8>)> {
    let shape = image.dims().to_vec();
    let bad = || PlotError::BadImageShape { shape: shape.clone() };
    let t = match shape.len() {
        2 => image.unsqueeze(0)?,
        3 if matches!(shape[0], 1 | 3) => image.clone(),
        _ => return Err(bad()),
    };
    let (c, h, w) = t.dims3()?;
    if h == 0 || w == 0 {
        return Err(bad());
    }
    let t = t.to_device(&candle_core::Device::Cpu)?;
    let values: Vec<u8> = match t.dtype() {
        DType::U8 => t.flatten_all()?.to_vec1::<u8>()?,
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => {
            let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            v.into_iter().map(|x| if x.is_nan() { 0 } else { (x.clamp(0.0, 1.0) * 255.0).round() as u8 }).collect()
        }
        DType::U32 | DType::I64 => {
            let v = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
            v.into_iter().map(|x| x.clamp(0.0, 255.0) as u8).collect()
        }
        other => return Err(PlotError::BadImageDType(format!("{other:?}"))),
    };
    let plane = h * w;
    let mut rgb = Vec::with_capacity(plane * 3);
    for p in 0..plane {
        for ch in 0..3 {
            rgb.push(values[if c == 1 { p } else { ch * plane + p }]);
        }
    }
    Ok((h, w, rgb))
}

/// Which planes of `(K, H', W')` (or one `(H', W')`) masks are set (non-zero) at each pixel of an
/// `h × w` image; masks of another size are scaled to it: a larger mask by "any pixel of the
/// block is set" (a 3-pixel scratch on a 1600-wide mask stays visible on a 256-wide image), a
/// smaller one by nearest neighbour.
fn mask_planes(masks: &Tensor, h: usize, w: usize) -> Result<Vec<Vec<bool>>> {
    let shape = masks.dims().to_vec();
    let m = match shape.len() {
        2 => masks.unsqueeze(0)?,
        3 => masks.clone(),
        _ => return Err(PlotError::BadImageShape { shape }),
    };
    let (k, mh, mw) = m.dims3()?;
    if mh == 0 || mw == 0 {
        return Err(PlotError::BadImageShape { shape });
    }
    let set = m.to_device(&candle_core::Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok((0..k)
        .map(|plane| {
            let base = plane * mh * mw;
            (0..h * w)
                .map(|p| {
                    // the block of mask pixels this image pixel covers (one pixel when the mask is
                    // the same size or smaller: nearest neighbour); set when any of them is set
                    let (y, x) = (p / w, p % w);
                    let (y0, x0) = (y * mh / h, x * mw / w);
                    let (y1, x1) = (((y + 1) * mh / h).max(y0 + 1), ((x + 1) * mw / w).max(x0 + 1));
                    (y0..y1).any(|my| set[base + my * mw + x0..base + my * mw + x1].iter().any(|&v| v != 0.0))
                })
                .collect()
        })
        .collect())
}

/// The legend of the planes that have any pixel set: `class 1 red, class 3 blue` (or
/// `no mask` when none has).
fn legend<S: AsRef<str>>(planes: &[Vec<bool>], class_names: &[S]) -> String {
    let parts: Vec<String> = planes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.iter().any(|&b| b))
        .map(|(k, _)| {
            let name = class_names.get(k).map_or_else(|| format!("class {}", k + 1), |s| s.as_ref().to_string());
            format!("{name} {}", MASK_COLOUR_NAMES[k % MASK_COLOUR_NAMES.len()])
        })
        .collect();
    if parts.is_empty() {
        "no mask".to_string()
    } else {
        parts.join(", ")
    }
}

fn check_alpha(alpha: f32) -> Result<()> {
    if (0.0..=1.0).contains(&alpha) {
        Ok(())
    } else {
        Err(PlotError::BadLayout(format!("mask overlay alpha {alpha}: expected a value in 0..=1")))
    }
}

/// The blended pixels and the legend.
fn overlay<S: AsRef<str>>(image: &Tensor, masks: &Tensor, alpha: f32, class_names: &[S]) -> Result<(RgbImage, String)> {
    check_alpha(alpha)?;
    let (h, w, mut rgb) = image_rgb(image)?;
    let planes = mask_planes(masks, h, w)?;
    for (k, plane) in planes.iter().enumerate() {
        let colour = mask_colour(k);
        for (p, _) in plane.iter().enumerate().filter(|(_, &on)| on) {
            for ch in 0..3 {
                let base = rgb[p * 3 + ch] as f32;
                rgb[p * 3 + ch] = ((1.0 - alpha) * base + alpha * colour[ch] as f32).round() as u8;
            }
        }
    }
    let img = RgbImage::from_raw(w as u32, h as u32, rgb).ok_or_else(|| PlotError::BadImageShape { shape: vec![h, w] })?;
    Ok((img, legend(&planes, class_names)))
}

/// An image with its masks drawn over it, each mask plane in its own colour ([`MASK_COLOURS`]:
/// plane 0 = Severstal class 1 red, 1 = class 2 green, 2 = class 3 blue, 3 = class 4 yellow), titled
/// with a legend naming the classes present (`class 1 red, class 3 blue`, or `no mask`). Shows
/// inline in evcxr as a cell's last value, saves with `.save(...)`, and goes into any figure grid.
///
/// `image` is `(1, H, W)` or `(H, W)` gray, or `(3, H, W)` colour; u8 0..=255 or floats 0..=1.
/// `masks` is `(K, H, W)` (or one `(H, W)`), non-zero = set, any dtype, e.g. the `(4, 256, 1600)`
/// of candlebook-data's `Severstal::masks(image_id)`; masks of another size
/// than the image are scaled to it (an image pixel is marked when any mask pixel it covers is set) (the full-size masks over the tutorial's
/// 256×256 images). Where plane k is set, a pixel becomes `(1 - alpha) · pixel + alpha · colour_k`
/// (rounded; later planes blend over earlier ones where they overlap); elsewhere it keeps the
/// image's value. `alpha` outside 0..=1 is an error ([`PlotError::BadLayout`]).
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_plots::{mask_overlay, MASK_COLOURS};
/// let dev = Device::Cpu;
/// let plate = Tensor::full(100u8, (1, 4, 6), &dev)?;
/// // class 2 (plane 1) covers the top-left pixel
/// let mut m = vec![0u8; 4 * 4 * 6];
/// m[4 * 6] = 1;
/// let masks = Tensor::from_vec(m, (4, 4, 6), &dev)?;
/// let view = mask_overlay(&plate, &masks, 0.5)?;
/// let rgb = view.to_rgb();
/// let g = MASK_COLOURS[1];
/// assert_eq!(rgb.get_pixel(0, 0).0, [(50.0 + g[0] as f32 / 2.0).round() as u8, (50.0 + g[1] as f32 / 2.0).round() as u8, (50.0 + g[2] as f32 / 2.0).round() as u8]);
/// assert_eq!(rgb.get_pixel(1, 0).0, [100, 100, 100]);
/// assert_eq!(format!("{view:?}"), "ImageView(6x4, RGB, title \"class 2 green\")");
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn mask_overlay(image: &Tensor, masks: &Tensor, alpha: f32) -> Result<ImageView> {
    mask_overlay_named::<&str>(image, masks, alpha, &[])
}

/// [`mask_overlay`] with the classes' names in the legend (`class_names[k]` for plane k; a plane
/// without a name is `class k+1`).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let plate = Tensor::full(0.5f32, (8, 8), &Device::Cpu)?;
/// let masks = Tensor::ones((2, 8, 8), candle_core::DType::U8, &Device::Cpu)?;
/// let v = candlebook_plots::mask_overlay_named(&plate, &masks, 0.4, &["pits", "scratches"])?;
/// assert_eq!(format!("{v:?}"), "ImageView(8x8, RGB, title \"pits red, scratches green\")");
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn mask_overlay_named<S: AsRef<str>>(image: &Tensor, masks: &Tensor, alpha: f32, class_names: &[S]) -> Result<ImageView> {
    let (img, legend) = overlay(image, masks, alpha, class_names)?;
    Ok(ImageView::from_image(&DynamicImage::ImageRgb8(img)).title(legend))
}

/// Several plates with their masks, `cols` per row, each titled `titles[i]` (e.g. the image id)
/// above its legend; the figure's title names every class's colour (`mask classes: 1 red, 2 green,
/// 3 blue, 4 yellow`). `images` is `(N, C, H, W)`
/// (C = 1 or 3) or `(N, H, W)`, `masks` `(N, K, H', W')`, as in [`mask_overlay`]; `titles` may be
/// empty (legends only) or hold one title per image.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// let dev = Device::Cpu;
/// let plates = Tensor::full(120u8, (3, 1, 16, 100), &dev)?;
/// let masks = Tensor::zeros((3, 4, 16, 100), DType::U8, &dev)?;
/// let fig = candlebook_plots::mask_overlay_grid(&plates, &masks, 0.5, &["a.jpg", "b.jpg", "c.jpg"], 1)?;
/// assert_eq!((fig.grid_shape(), fig.panel_count()), ((3, 1), 3));
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn mask_overlay_grid<S: AsRef<str>>(images: &Tensor, masks: &Tensor, alpha: f32, titles: &[S], cols: usize) -> Result<Figure> {
    check_alpha(alpha)?;
    let n = images.dims().first().copied().unwrap_or(0);
    if !(3..=4).contains(&images.rank()) {
        return Err(PlotError::BadImageShape { shape: images.dims().to_vec() });
    }
    if masks.rank() != 4 {
        return Err(PlotError::BadImageShape { shape: masks.dims().to_vec() });
    }
    let (mn, k) = (masks.dim(0)?, masks.dim(1)?);
    if mn != n {
        return Err(PlotError::LengthMismatch { name: "images/masks".into(), x_len: n, y_len: mn });
    }
    if !titles.is_empty() && titles.len() != n {
        return Err(PlotError::LengthMismatch { name: "images/titles".into(), x_len: n, y_len: titles.len() });
    }
    if n == 0 || cols == 0 {
        return Err(PlotError::Empty(format!("mask overlay grid of {n} images in {cols} columns")));
    }
    let cols = cols.min(n);
    let rows = n.div_ceil(cols);
    let first = image_rgb(&images.get(0)?)?;
    let (h, w) = (first.0 as f64, first.1 as f64);
    // panels about 500 pixels wide for the 1600x256 plates (taller for square images)
    let cell_w = 500u32.min((w as u32).max(200));
    let cell_h = ((cell_w as f64 * h / w).round() as u32).max(60) + 60;
    let all: Vec<String> = (0..k).map(|c| format!("{} {}", c + 1, MASK_COLOUR_NAMES[c % MASK_COLOUR_NAMES.len()])).collect();
    // wide enough for the title's legend
    let width = (cell_w * cols as u32).max(13 * (14 + all.join(", ").len() as u32));
    let mut fig = Figure::grid(rows, cols).size(width, cell_h * rows as u32 + 40).title(format!("mask classes: {}", all.join(", ")));
    for i in 0..n {
        let view = mask_overlay(&images.get(i)?, &masks.get(i)?, alpha)?;
        let legend = view.title_text().map(|(t, _)| t.to_string()).unwrap_or_default();
        let title = match titles.get(i) {
            Some(t) => format!("{}\n{legend}", t.as_ref()),
            None => legend,
        };
        fig.push(view.title(title));
    }
    Ok(fig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn blend(base: u8, colour: [u8; 3], alpha: f32) -> [u8; 3] {
        colour.map(|c| ((1.0 - alpha) * base as f32 + alpha * c as f32).round() as u8)
    }

    /// A 6×10 gray plate, class k's mask a 1-pixel-wide column at x = 2k (plus an overlap of classes
    /// 1 and 2 at (5, 9)): under class k's mask a pixel is the blend with class k's colour, outside
    /// every mask it is the unchanged gray, for u8 and float images.
    #[test]
    fn masked_pixels_carry_their_class_colour_and_the_rest_stay_gray() {
        let dev = Device::Cpu;
        let (h, w) = (6usize, 10usize);
        let gray: Vec<u8> = (0..h * w).map(|p| (p * 4) as u8).collect();
        let mut m = vec![0u8; 4 * h * w];
        for k in 0..4 {
            for y in 0..h {
                m[k * h * w + y * w + 2 * k] = 1;
            }
        }
        m[h * w + 5 * w + 9] = 1; // class 2 at (y 5, x 9)
        m[2 * h * w + 5 * w + 9] = 1; // and class 3 over it
        let masks = Tensor::from_vec(m.clone(), (4, h, w), &dev).unwrap();
        let image = Tensor::from_vec(gray.clone(), (1, h, w), &dev).unwrap();
        let alpha = 0.45;
        for img in [image.clone(), image.to_dtype(DType::F32).unwrap().affine(1.0 / 255.0, 0.0).unwrap(), image.squeeze(0).unwrap()] {
            let rgb = mask_overlay(&img, &masks, alpha).unwrap().to_rgb();
            assert_eq!((rgb.width(), rgb.height()), (w as u32, h as u32));
            for y in 0..h {
                for x in 0..w {
                    let g = gray[y * w + x];
                    let px = rgb.get_pixel(x as u32, y as u32).0;
                    let want = if (y, x) == (5, 9) {
                        let once = blend(g, MASK_COLOURS[1], alpha);
                        std::array::from_fn(|c| ((1.0 - alpha) * once[c] as f32 + alpha * MASK_COLOURS[2][c] as f32).round() as u8)
                    } else if x % 2 == 0 && x / 2 < 4 {
                        blend(g, MASK_COLOURS[x / 2], alpha)
                    } else {
                        [g, g, g]
                    };
                    assert_eq!(px, want, "pixel ({x}, {y})");
                }
            }
        }
        // four distinct colours for the steel classes, and a legend naming them
        let distinct: std::collections::BTreeSet<[u8; 3]> = MASK_COLOURS[..4].iter().copied().collect();
        assert_eq!(distinct.len(), 4);
        let v = mask_overlay(&image, &masks, alpha).unwrap();
        assert_eq!(v.title_text().unwrap().0, "class 1 red, class 2 green, class 3 blue, class 4 yellow");
        // alpha 0 leaves the image as it is, alpha 1 paints the colour
        let clear = mask_overlay(&image, &masks, 0.0).unwrap().to_rgb();
        assert!(clear.pixels().zip(&gray).all(|(p, &g)| p.0 == [g, g, g]));
        let solid = mask_overlay(&image, &masks, 1.0).unwrap().to_rgb();
        assert_eq!(solid.get_pixel(6, 0).0, MASK_COLOURS[3]);
    }

    #[test]
    fn colour_images_and_scaled_masks() {
        let dev = Device::Cpu;
        // a 3-channel image keeps its colours outside the masks
        let img = Tensor::from_vec((0..3 * 4 * 4).map(|v| v as u8 * 5).collect::<Vec<_>>(), (3, 4, 4), &dev).unwrap();
        // a (1, 2, 8) mask over a 4x4 image: nearest neighbour, the left half set
        let mut m = vec![0u8; 16];
        for x in 0..4 {
            m[x] = 1;
            m[8 + x] = 1;
        }
        let masks = Tensor::from_vec(m, (1, 2, 8), &dev).unwrap();
        let rgb = mask_overlay(&img, &masks, 0.5).unwrap().to_rgb();
        let orig = |x: usize, y: usize| -> [u8; 3] { std::array::from_fn(|c| ((c * 16 + y * 4 + x) * 5) as u8) };
        for y in 0..4 {
            for x in 0..4 {
                let o = orig(x, y);
                let want = if x < 2 { std::array::from_fn(|c| (0.5 * o[c] as f32 + 0.5 * MASK_COLOURS[0][c] as f32).round() as u8) } else { o };
                assert_eq!(rgb.get_pixel(x as u32, y as u32).0, want, "({x}, {y})");
            }
        }
    }

    /// A one-pixel-wide scratch on a mask 8 times wider than the image still marks the column it
    /// falls in (nearest-neighbour sampling would skip it), and nothing else.
    #[test]
    fn thin_defects_survive_downscaling() {
        let dev = Device::Cpu;
        let img = Tensor::zeros((1, 4, 4), DType::U8, &dev).unwrap();
        let mut m = vec![0u8; 4 * 32];
        for y in 0..4 {
            m[y * 32 + 13] = 1; // column 13 of 32 -> image column 1
        }
        let rgb = mask_overlay(&img, &Tensor::from_vec(m, (1, 4, 32), &dev).unwrap(), 1.0).unwrap().to_rgb();
        for y in 0..4 {
            for x in 0..4 {
                let want = if x == 1 { MASK_COLOURS[0] } else { [0, 0, 0] };
                assert_eq!(rgb.get_pixel(x, y).0, want, "({x}, {y})");
            }
        }
    }

    #[test]
    fn bad_input_is_a_named_error() {
        let dev = Device::Cpu;
        let img = Tensor::zeros((1, 4, 4), DType::U8, &dev).unwrap();
        let masks = Tensor::zeros((4, 4, 4), DType::U8, &dev).unwrap();
        assert!(matches!(mask_overlay(&img, &masks, 1.5), Err(PlotError::BadLayout(_))));
        assert!(matches!(mask_overlay(&img, &masks, f32::NAN), Err(PlotError::BadLayout(_))));
        assert!(matches!(mask_overlay(&Tensor::zeros((2, 4, 4), DType::U8, &dev).unwrap(), &masks, 0.5), Err(PlotError::BadImageShape { .. })));
        assert!(matches!(mask_overlay(&img, &Tensor::zeros((1, 1, 4, 4), DType::U8, &dev).unwrap(), 0.5), Err(PlotError::BadImageShape { .. })));
        assert_eq!(mask_overlay(&img, &masks, 0.5).unwrap().title_text().unwrap().0, "no mask");
        let imgs = Tensor::zeros((2, 1, 4, 4), DType::U8, &dev).unwrap();
        let e = mask_overlay_grid(&imgs, &Tensor::zeros((3, 4, 4, 4), DType::U8, &dev).unwrap(), 0.5, &["a", "b"], 2).unwrap_err();
        assert!(matches!(e, PlotError::LengthMismatch { x_len: 2, y_len: 3, .. }), "{e:?}");
        let e = mask_overlay_grid(&imgs, &Tensor::zeros((2, 4, 4, 4), DType::U8, &dev).unwrap(), 0.5, &["a"], 2).unwrap_err();
        assert!(matches!(e, PlotError::LengthMismatch { x_len: 2, y_len: 1, .. }), "{e:?}");
    }

    #[test]
    fn grid_titles_and_renders() {
        let dev = Device::Cpu;
        let imgs = Tensor::full(100u8, (3, 1, 32, 200), &dev).unwrap();
        let mut m = vec![0u8; 3 * 4 * 32 * 200];
        m[(4 + 2) * 32 * 200 + 5 * 200 + 7] = 1; // image 1, class 3
        let masks = Tensor::from_vec(m, (3, 4, 32, 200), &dev).unwrap();
        let fig = mask_overlay_grid(&imgs, &masks, 0.5, &["a.jpg", "b.jpg", "c.jpg"], 2).unwrap();
        assert_eq!((fig.grid_shape(), fig.panel_count()), ((2, 2), 3));
        let titles: Vec<String> = fig
            .panels()
            .iter()
            .map(|p| match p {
                crate::Panel::Image { view, .. } => view.title_text().unwrap().0.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(titles, ["a.jpg\nno mask", "b.jpg\nclass 3 blue", "c.jpg\nno mask"]);
        let png = fig.to_rgb().unwrap();
        assert_eq!((png.width(), png.height()), fig.dimensions());
        assert!(mask_overlay_grid::<&str>(&imgs, &masks, 0.5, &[], 3).unwrap().panel_count() == 3);
    }
}

/// Severstal plates with their defect masks drawn over them ([`mask_overlay_grid`] at alpha
/// 0.45): the plates at these positions of `steel.dataset` (its 256×256 images), each mask
/// (256×1600, scaled to the image) in its class's colour, titled with `titles`.
///
/// ```
/// use candlebook_data::{generated_steel, severstal_options};
/// let steel = generated_steel(8, &severstal_options(), &candle_core::Device::Cpu)?;
/// let plates = steel.first_plate_of_each_class()?;
/// let titles: Vec<String> = plates.iter().map(|&p| steel.image_ids[p].clone()).collect();
/// let fig = candlebook_plots::plate_masks_grid(&steel, &plates, &titles, 2)?;
/// assert_eq!(fig.panel_count(), plates.len());
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn plate_masks_grid<S: AsRef<str>>(steel: &candlebook_data::Severstal, plates: &[usize], titles: &[S], cols: usize) -> Result<Figure> {
    let device = steel.dataset.images.device().clone();
    let idx = Tensor::new(plates.iter().map(|&p| p as u32).collect::<Vec<u32>>(), &device)?;
    if plates.iter().any(|&p| p >= steel.dataset.len()) {
        return Err(PlotError::Empty(format!("plate positions {plates:?} reach past the {} plates", steel.dataset.len())));
    }
    let images = steel.dataset.images.index_select(&idx, 0)?;
    let masks = steel.masks_of(plates, &device)?;
    mask_overlay_grid(&images, &masks, 0.45, titles, cols)
}

/// The steel notebook's look at its mistakes: prints how many of `holdout`'s plates the
/// predictions get wrong, then shows up to `max` of them with their true defect masks
/// ([`plate_masks_grid`]), titled `predicted …, true …` with `class_names`. `holdout` must carry
/// the `plate` column (each image's position in `steel.dataset`, added before splitting);
/// `predictions` are class indices `(N,)` or probabilities `(N, K)`. Returns the number wrong.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::{generated_steel, severstal_options, steel_class_names};
/// let steel = generated_steel(6, &severstal_options(), &Device::Cpu)?;
/// let holdout = steel.dataset.clone().with_extra("plate", Tensor::arange(0u32, 6, &Device::Cpu)?)?;
/// let wrong_everywhere = (holdout.labels.to_dtype(candle_core::DType::F32)? + 1.0)?.to_dtype(candle_core::DType::U32)?;
/// let n = candlebook_plots::show_misclassified_plates(&steel, &holdout, &wrong_everywhere, &steel_class_names(), 4)?;
/// assert_eq!(n, 6);
/// # Ok::<(), candlebook_plots::PlotError>(())
/// ```
pub fn show_misclassified_plates<S: AsRef<str>>(
    steel: &candlebook_data::Severstal,
    holdout: &candlebook_data::Dataset,
    predictions: &Tensor,
    class_names: &[S],
    max: usize,
) -> Result<usize> {
    let actual = candlebook_models::class_indices(&holdout.labels)?;
    let predicted = candlebook_models::class_indices(predictions)?;
    let wrong = candlebook_models::misclassified(&actual, &predicted)?;
    let plates: Vec<usize> = holdout
        .extra("plate")
        .ok_or_else(|| PlotError::Empty("the holdout set has no 'plate' column (add it with with_extra before splitting)".into()))?
        .to_dtype(DType::U32)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|p| p as usize)
        .collect();
    let name = |k: usize| class_names.get(k).map_or(k.to_string(), |s| s.as_ref().to_string());
    if wrong.is_empty() {
        println!("no misclassified plates (all {} right)", actual.len());
        return Ok(0);
    }
    let shown: Vec<usize> = wrong.iter().take(max).copied().collect();
    let titles: Vec<String> = shown.iter().map(|&i| format!("predicted {}, true {}", name(predicted[i]), name(actual[i]))).collect();
    let fig = plate_masks_grid(steel, &shown.iter().map(|&i| plates[i]).collect::<Vec<_>>(), &titles, 2)?;
    let note = if wrong.len() > max { format!(", the first {max} shown") } else { String::new() };
    println!("{} of {} plates misclassified{note}", wrong.len(), actual.len());
    fig.evcxr_display();
    Ok(wrong.len())
}
