//! Generated stand-in data, used when the real files are absent. Deterministic: the same call
//! always gives the same pixels.

use candle_core::{Device, Tensor};

use crate::error::Result;

mod canvas;
mod sets;

pub use sets::{cifar10, face_photo, faces, fingers, sign_mnist, CIFAR10_CLASSES};

/// A small deterministic noise source (SplitMix64), so generated images have texture.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Inside an axis-aligned ellipse centred at `(cx, cy)` with radii `(rx, ry)`, in 0..1 units.
fn in_ellipse(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> bool {
    let (dx, dy) = ((x - cx) / rx, (y - cy) / ry);
    dx * dx + dy * dy <= 1.0
}

/// A generated portrait, 336 wide and 448 high, RGB u8 `(3, 448, 336)`: a face with hair, eyes,
/// brows, nose and mouth on a graded background, with a little sensor-like noise. It stands in
/// for the faces dataset's photos in the kernels chapter: it has the smooth regions, fine texture
/// and sharp outlines that make sharpening, blurring and edge detection visible.
///
/// ```
/// let img = candlebook_data::generated::face(&candle_core::Device::Cpu).unwrap();
/// assert_eq!(img.dims(), &[3, 448, 336]);
/// let again = candlebook_data::generated::face(&candle_core::Device::Cpu).unwrap();
/// assert_eq!(img.to_vec3::<u8>().unwrap(), again.to_vec3::<u8>().unwrap());
/// ```
pub fn face(device: &Device) -> Result<Tensor> {
    let (w, h) = (336usize, 448usize);
    let mut noise = Noise(487);
    let mut px = vec![0u8; w * h * 3];
    for yi in 0..h {
        for xi in 0..w {
            let (x, y) = (xi as f32 / w as f32, yi as f32 / h as f32);
            // background: a soft vertical gradient, grey-blue
            let mut c = [120.0 + 60.0 * y, 140.0 + 40.0 * y, 170.0 - 20.0 * y];
            let hair = in_ellipse(x, y, 0.5, 0.40, 0.36, 0.36) || (in_ellipse(x, y, 0.5, 0.62, 0.40, 0.30) && y > 0.45);
            if hair {
                c = [70.0, 45.0, 30.0];
                // strands: thin darker stripes
                if ((x * 90.0 + y * 25.0).sin()) > 0.6 {
                    c = [45.0, 28.0, 18.0];
                }
            }
            // neck and shoulders
            if (0.40..0.60).contains(&x) && y > 0.68 {
                c = [205.0, 160.0, 135.0];
            }
            if y > 0.86 && in_ellipse(x, y, 0.5, 1.05, 0.55, 0.22) {
                c = [60.0, 90.0, 140.0];
            }
            if in_ellipse(x, y, 0.5, 0.47, 0.26, 0.29) {
                // face, lit from the left
                let shade = 1.0 - 0.25 * (x - 0.32).max(0.0);
                c = [225.0 * shade, 180.0 * shade, 155.0 * shade];
                for ex in [0.40f32, 0.60] {
                    if in_ellipse(x, y, ex, 0.42, 0.055, 0.025) {
                        c = [245.0, 245.0, 240.0];
                    }
                    if in_ellipse(x, y, ex, 0.42, 0.022, 0.022) {
                        c = [60.0, 90.0, 60.0];
                    }
                    if in_ellipse(x, y, ex, 0.42, 0.009, 0.009) {
                        c = [15.0, 15.0, 15.0];
                    }
                    if in_ellipse(x, y, ex, 0.365, 0.065, 0.012) && y < 0.37 {
                        c = [80.0, 55.0, 40.0];
                    }
                }
                // nose shadow and mouth
                if (0.495..0.515).contains(&x) && (0.45..0.55).contains(&y) {
                    c = [190.0, 145.0, 125.0];
                }
                if in_ellipse(x, y, 0.5, 0.62, 0.08, 0.025) {
                    c = [180.0, 70.0, 80.0];
                }
            }
            let n = (noise.next() - 0.5) * 14.0;
            for (k, v) in c.iter().enumerate() {
                px[(yi * w + xi) * 3 + k] = (v + n).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    let hwc = Tensor::from_vec(px, (h, w, 3), device)?;
    Ok(hwc.permute((2, 0, 1))?.contiguous()?)
}
