//! Generated stand-ins for whole datasets: small, deterministic and learnable look-alikes, used
//! when the real files are absent. Each sample is drawn from its own seeded generator, so the
//! same call always gives the same pixels, in parallel.

use std::f32::consts::PI;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::canvas::Canvas;
use crate::dataset::{DataSource, Dataset};
use crate::error::Result;
use crate::rng::XorShift;
use crate::Split;

fn split_seed(split: Split) -> u64 {
    match split {
        Split::Train => 1,
        Split::Test => 2,
    }
}

/// Draws `n` images of `(c, h, w)` in parallel; `draw(i, rng)` returns the canvas of sample `i`.
fn draw_all(n: usize, (c, h, w): (usize, usize, usize), seed: u64, device: &Device, draw: impl Fn(usize, &mut XorShift) -> Canvas + Sync) -> Result<Tensor> {
    let mut buf = vec![0u8; n * c * h * w];
    buf.par_chunks_mut((c * h * w).max(1)).enumerate().for_each(|(i, slot)| {
        let mut rng = XorShift::new(seed.wrapping_mul(0x1000_0001).wrapping_add(i as u64));
        slot.copy_from_slice(&draw(i, &mut rng).to_u8());
    });
    Ok(Tensor::from_vec(buf, (n, c, h, w), device)?)
}

/// Generated fingers: 128×128 gray hands on black, `k` raised fingers (0..=5) and a left or right
/// hand (mirror images, the thumb on opposite sides), `per_class` images for each of the 12
/// (digit, hand) classes. Labels are the digit; the `hand` column is 0 for L, 1 for R.
///
/// ```
/// use candlebook_data::{generated, Split};
/// let ds = generated::fingers(Split::Test, 2, &candle_core::Device::Cpu)?;
/// assert_eq!(ds.images.dims(), &[24, 1, 128, 128]);
/// assert_eq!(ds.class_counts()?, vec![4; 6]);
/// assert!(ds.is_generated());
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn fingers(split: Split, per_class: usize, device: &Device) -> Result<Dataset> {
    let n = per_class * 12;
    let class = |i: usize| (i % 6, (i / 6) % 2); // (digit, hand)
    let images = draw_all(n, (1, 128, 128), 100 + split_seed(split), device, |i, rng| {
        let (k, hand) = class(i);
        // grey on dark grey, as the real photos (background about 50 of 255 with a grainy texture,
        // the hand 170-210)
        let mut cv = Canvas::new(128, 128, 1, &[rng.range(38.0, 62.0)]);
        let tone = rng.range(170.0, 215.0);
        let (cx, cy) = (64.0 + rng.range(-8.0, 8.0), 80.0 + rng.range(-6.0, 6.0));
        let tilt = rng.range(-0.25, 0.25);
        let scale = rng.range(0.85, 1.1);
        // wrist, palm
        let down = (cx - tilt.sin() * 60.0, cy + tilt.cos() * 60.0);
        cv.capsule((cx, cy), down, 15.0 * scale, &[tone - 15.0]);
        cv.ellipse(cx, cy, 22.0 * scale, 24.0 * scale, tilt, &[tone]);
        // four fingers spread over the top of the palm; the first k are raised (index first)
        for f in 0..4 {
            let a = tilt + (f as f32 - 1.5) * 0.28 - 0.1;
            let base = (cx + (f as f32 - 1.5) * 11.0 * scale * tilt.cos(), cy - 18.0 * scale);
            let raised = f < k.min(4);
            let len = if raised { rng.range(34.0, 44.0) * scale } else { 8.0 * scale };
            let tip = (base.0 + a.sin() * len, base.1 - a.cos() * len);
            cv.capsule(base, tip, 5.0 * scale, &[tone + rng.range(-10.0, 10.0)]);
        }
        // thumb on the right of the image for a left hand: raised for five, folded otherwise
        let tb = (cx + 20.0 * scale, cy + 2.0);
        let (tlen, ta) = if k == 5 { (38.0 * scale, tilt + 1.0) } else { (12.0 * scale, tilt + 2.2) };
        cv.capsule(tb, (tb.0 + ta.sin() * tlen, tb.1 - ta.cos() * tlen), 6.0 * scale, &[tone - 5.0]);
        if hand == 1 {
            cv.mirror();
        }
        cv.noise(rng, 14.0);
        cv
    })?;
    let labels: Vec<u32> = (0..n).map(|i| class(i).0 as u32).collect();
    let hands: Vec<u32> = (0..n).map(|i| class(i).1 as u32).collect();
    let names = (0..6).map(|d| d.to_string()).collect();
    let what = format!("{n} drawn 128x128 hands, {per_class} per digit and hand");
    Dataset::new(images, Tensor::from_vec(labels, n, device)?, names, DataSource::Generated(what))?.with_extra("hand", Tensor::from_vec(hands, n, device)?)
}

/// CIFAR-10's class names, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Generated CIFAR-like images: 32×32 RGB, 10 classes, each a shape on a class-typical
/// background (sky, road, grass, water, ...) with random colours, positions and noise;
/// `per_class` per class, named after CIFAR-10's classes.
///
/// ```
/// use candlebook_data::{generated, Split};
/// let ds = generated::cifar10(Split::Train, 3, &candle_core::Device::Cpu)?;
/// assert_eq!(ds.images.dims(), &[30, 3, 32, 32]);
/// assert_eq!(ds.class_names[9], "truck");
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn cifar10(split: Split, per_class: usize, device: &Device) -> Result<Dataset> {
    let n = per_class * 10;
    let images = draw_all(n, (3, 32, 32), 200 + split_seed(split), device, |i, rng| {
        let k = i % 10;
        let bg: [[f32; 3]; 10] = [
            [135.0, 180.0, 230.0],
            [90.0, 90.0, 95.0],
            [150.0, 200.0, 240.0],
            [160.0, 130.0, 110.0],
            [70.0, 120.0, 60.0],
            [190.0, 170.0, 140.0],
            [90.0, 140.0, 70.0],
            [110.0, 150.0, 80.0],
            [40.0, 80.0, 150.0],
            [120.0, 120.0, 120.0],
        ];
        let b = bg[k].map(|v| v + rng.range(-25.0, 25.0));
        let mut cv = Canvas::new(32, 32, 3, &b);
        let col = [rng.range(30.0, 230.0), rng.range(30.0, 230.0), rng.range(30.0, 230.0)];
        let (x, y) = (16.0 + rng.range(-4.0, 4.0), 16.0 + rng.range(-4.0, 4.0));
        let s = rng.range(0.8, 1.2);
        match k {
            0 => {
                cv.capsule((x - 12.0 * s, y), (x + 12.0 * s, y), 2.5 * s, &col);
                cv.capsule((x, y - 9.0 * s), (x, y + 9.0 * s), 1.5 * s, &col);
            }
            1 => {
                cv.rect(x - 11.0 * s, y - 5.0 * s, x + 11.0 * s, y + 4.0 * s, &col);
                cv.ellipse(x - 6.0 * s, y + 5.0 * s, 3.0 * s, 3.0 * s, 0.0, &[20.0]);
                cv.ellipse(x + 6.0 * s, y + 5.0 * s, 3.0 * s, 3.0 * s, 0.0, &[20.0]);
            }
            2 => {
                cv.ellipse(x, y, 6.0 * s, 3.5 * s, 0.3, &col);
                cv.triangle((x + 5.0 * s, y - 2.0), (x + 10.0 * s, y), (x + 5.0 * s, y + 1.0), &[230.0, 170.0, 40.0]);
            }
            3 => {
                cv.ellipse(x, y + 2.0, 8.0 * s, 7.0 * s, 0.0, &col);
                cv.triangle((x - 8.0 * s, y - 2.0), (x - 5.0 * s, y - 12.0 * s), (x - 1.0, y - 4.0), &col);
                cv.triangle((x + 8.0 * s, y - 2.0), (x + 5.0 * s, y - 12.0 * s), (x + 1.0, y - 4.0), &col);
            }
            4 => {
                cv.ellipse(x, y, 9.0 * s, 5.0 * s, 0.0, &[140.0, 95.0, 55.0]);
                for dx in [-6.0, 6.0] {
                    cv.capsule((x + dx * s, y), (x + dx * s, y + 12.0 * s), 1.2, &[120.0, 80.0, 45.0]);
                }
                cv.capsule((x + 8.0 * s, y - 3.0), (x + 10.0 * s, y - 12.0 * s), 1.0, &[100.0, 70.0, 40.0]);
            }
            5 => {
                cv.ellipse(x, y, 8.0 * s, 7.0 * s, 0.0, &col);
                cv.ellipse(x - 8.0 * s, y + 2.0, 3.0 * s, 6.0 * s, 0.2, &[80.0, 50.0, 30.0]);
                cv.ellipse(x + 8.0 * s, y + 2.0, 3.0 * s, 6.0 * s, -0.2, &[80.0, 50.0, 30.0]);
            }
            6 => {
                cv.ellipse(x, y + 3.0, 10.0 * s, 6.0 * s, 0.0, &[60.0, rng.range(150.0, 220.0), 50.0]);
                cv.ellipse(x - 4.0, y - 2.0, 2.0, 2.0, 0.0, &[10.0]);
                cv.ellipse(x + 4.0, y - 2.0, 2.0, 2.0, 0.0, &[10.0]);
            }
            7 => {
                cv.ellipse(x, y, 10.0 * s, 5.0 * s, 0.0, &[120.0, 75.0, 40.0]);
                cv.capsule((x + 8.0 * s, y - 2.0), (x + 12.0 * s, y - 12.0 * s), 2.5, &[120.0, 75.0, 40.0]);
                for dx in [-7.0, -3.0, 3.0, 7.0] {
                    cv.capsule((x + dx * s, y), (x + dx * s, y + 12.0 * s), 1.0, &[90.0, 55.0, 30.0]);
                }
            }
            8 => {
                cv.rect(0.0, y + 3.0, 32.0, 32.0, &[30.0, 60.0, 140.0]);
                cv.triangle((x - 13.0 * s, y - 2.0), (x + 13.0 * s, y - 2.0), (x + 8.0 * s, y + 5.0), &col);
                cv.rect(x - 3.0, y - 9.0 * s, x + 3.0, y - 2.0, &[230.0, 230.0, 230.0]);
            }
            _ => {
                cv.rect(x - 12.0 * s, y - 8.0 * s, x + 4.0 * s, y + 5.0 * s, &col);
                cv.rect(x + 4.0 * s, y - 3.0 * s, x + 11.0 * s, y + 5.0 * s, &[200.0, 40.0, 40.0]);
                for dx in [-8.0, 0.0, 8.0] {
                    cv.ellipse(x + dx * s, y + 6.0 * s, 2.5 * s, 2.5 * s, 0.0, &[20.0]);
                }
            }
        }
        if rng.uniform() < 0.5 {
            cv.mirror();
        }
        cv.noise(rng, 10.0);
        cv
    })?;
    let labels: Vec<u32> = (0..n).map(|i| (i % 10) as u32).collect();
    let names = CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect();
    let what = format!("{n} drawn 32x32 RGB scenes named after CIFAR-10's classes, {per_class} per class");
    Dataset::new(images, Tensor::from_vec(labels, n, device)?, names, DataSource::Generated(what))
}

/// Generated sign-language-MNIST-like images: 28×28 gray, 24 classes, a hand blob with one to
/// three strokes whose angles and count depend on the class. Labels 0..=23; the `original`
/// column holds the 0..=24-without-9 labels the real CSV would carry.
///
/// ```
/// use candlebook_data::{generated, Split};
/// let ds = generated::sign_mnist(Split::Train, 2, &candle_core::Device::Cpu)?;
/// assert_eq!(ds.images.dims(), &[48, 1, 28, 28]);
/// assert_eq!(ds.num_classes(), 24);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn sign_mnist(split: Split, per_class: usize, device: &Device) -> Result<Dataset> {
    let n = per_class * 24;
    let images = draw_all(n, (1, 28, 28), 300 + split_seed(split), device, |i, rng| {
        let k = i % 24;
        let mut cv = Canvas::new(28, 28, 1, &[rng.range(60.0, 120.0)]);
        let (x, y) = (14.0 + rng.range(-2.0, 2.0), 17.0 + rng.range(-2.0, 2.0));
        let tone = rng.range(170.0, 220.0);
        cv.ellipse(x, y, 6.0, 7.0, 0.0, &[tone]);
        let strokes = 1 + k % 3;
        let base = (k / 3) as f32 * PI / 8.0 - PI / 2.0 + rng.range(-0.08, 0.08);
        for s in 0..strokes {
            let a = base + s as f32 * 0.45;
            cv.capsule((x, y), (x + a.cos() * 11.0, y + a.sin() * 11.0), 1.6, &[tone - 20.0]);
        }
        cv.noise(rng, 8.0);
        cv
    })?;
    let labels: Vec<u32> = (0..n).map(|i| (i % 24) as u32).collect();
    let original: Vec<u32> = labels.iter().map(|&l| crate::sign_mnist::original_label(l)).collect();
    let names = crate::sign_mnist::class_names();
    let what = format!("{n} drawn 28x28 gray hand signs, {per_class} per class");
    Dataset::new(images, Tensor::from_vec(labels, n, device)?, names, DataSource::Generated(what))?.with_extra("original", Tensor::from_vec(original, n, device)?)
}

/// Generated faces: two classes (`female`, `male`), `per_class` each, RGB `size = (width,
/// height)`: a face with long hair framing it (female) or short hair and a darker jaw (male).
pub fn faces(per_class: usize, (w, h): (usize, usize), device: &Device) -> Result<Dataset> {
    let n = per_class * 2;
    let images = draw_all(n, (3, h, w), 400, device, |i, rng| draw_face(w, h, i % 2 == 1, rng))?;
    let labels: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let what = format!("{n} drawn {w}x{h} RGB faces, {per_class} per class");
    Dataset::new(images, Tensor::from_vec(labels, n, device)?, vec!["female".into(), "male".into()], DataSource::Generated(what))
}

/// Sizes `(width, height)` of the generated "photos": portrait, landscape and square, as the
/// real collection's photos vary.
const PHOTO_SIZES: [(usize, usize); 6] = [(300, 400), (448, 336), (256, 256), (320, 448), (400, 300), (280, 360)];

/// One generated face "photo" `(3, H, W)` u8 for the faces tutorial's look at the raw files:
/// class 0 female, 1 male (as [`faces`] draws them), in a size that changes with `index` (six
/// sizes in turn, portrait, landscape and square), so the stand-ins differ in shape like the real
/// photos do. Deterministic.
///
/// ```
/// use candlebook_data::generated::face_photo;
/// let dev = candle_core::Device::Cpu;
/// let (a, b) = (face_photo(0, 0, &dev)?, face_photo(1, 0, &dev)?);
/// assert_eq!((a.dims(), b.dims()), (&[3, 400, 300][..], &[3, 336, 448][..]));
/// assert_eq!(a.to_vec3::<u8>()?, face_photo(0, 0, &dev)?.to_vec3::<u8>()?);
/// assert!(face_photo(0, 2, &dev).is_err());
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn face_photo(index: usize, class: usize, device: &Device) -> Result<Tensor> {
    if class > 1 {
        return Err(crate::DataError::BadArgument(format!("face_photo: class {class} is not 0 (female) or 1 (male)")));
    }
    let (w, h) = PHOTO_SIZES[index % PHOTO_SIZES.len()];
    let seed = 500 + 2 * index as u64 + class as u64;
    Ok(draw_all(1, (3, h, w), seed, device, |_, rng| draw_face(w, h, class == 1, rng))?.squeeze(0)?)
}

/// A face on a plain background in a `w × h` canvas: long hair framing it (female) or short hair
/// and a darker jaw (male).
fn draw_face(w: usize, h: usize, male: bool, rng: &mut XorShift) -> Canvas {
    let (wf, hf) = (w as f32, h as f32);
    // the face's size follows the shorter side, so wide and tall canvases keep round faces
    let (sx, sy) = (wf.min(hf), wf.min(hf));
    let mut cv = Canvas::new(w, h, 3, &[rng.range(90.0, 200.0), rng.range(90.0, 200.0), rng.range(90.0, 200.0)]);
    let (cx, cy) = (wf * rng.range(0.45, 0.55), hf * rng.range(0.45, 0.55));
    let hair = [rng.range(20.0, 120.0), rng.range(15.0, 80.0), rng.range(10.0, 50.0)];
    let skin = [rng.range(170.0, 235.0), rng.range(130.0, 190.0), rng.range(110.0, 160.0)];
    if male {
        cv.ellipse(cx, cy - sy * 0.08, sx * 0.27, sy * 0.30, 0.0, &hair);
    } else {
        cv.ellipse(cx, cy + sy * 0.05, sx * 0.36, sy * 0.42, 0.0, &hair);
    }
    cv.ellipse(cx, cy, sx * 0.22, sy * 0.28, 0.0, &skin);
    if male {
        cv.ellipse(cx, cy + sy * 0.17, sx * 0.16, sy * 0.09, 0.0, &skin.map(|v| v * 0.6));
    }
    for ex in [-0.08, 0.08] {
        cv.ellipse(cx + sx * ex, cy - sy * 0.05, sx * 0.03, sy * 0.02, 0.0, &[30.0, 30.0, 30.0]);
    }
    cv.ellipse(cx, cy + sy * 0.12, sx * 0.07, sy * 0.02, 0.0, &[170.0, 60.0, 70.0]);
    cv.noise(rng, 8.0);
    cv
}
