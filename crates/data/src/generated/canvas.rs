//! A tiny float canvas for drawing generated images (filled shapes, noise), `(C, H, W)`.

use crate::rng::XorShift;

/// Pixels in 0..=255 as f32, channel planes.
pub(crate) struct Canvas {
    pub w: usize,
    pub h: usize,
    pub c: usize,
    pub px: Vec<f32>,
}

impl Canvas {
    pub fn new(w: usize, h: usize, c: usize, fill: &[f32]) -> Self {
        let mut px = vec![0f32; w * h * c];
        for k in 0..c {
            px[k * w * h..(k + 1) * w * h].fill(fill[k.min(fill.len() - 1)]);
        }
        Self { w, h, c, px }
    }

    pub fn set(&mut self, x: usize, y: usize, color: &[f32]) {
        let (w, h) = (self.w, self.h);
        for k in 0..self.c {
            self.px[k * w * h + y * w + x] = color[k.min(color.len() - 1)];
        }
    }

    /// Fills the pixels (within the box `x0..x1`, `y0..y1`, clipped) whose centre satisfies `inside`.
    pub fn fill(&mut self, bbox: (f32, f32, f32, f32), color: &[f32], inside: impl Fn(f32, f32) -> bool) {
        let (x0, y0, x1, y1) = bbox;
        let xs = (x0.floor().max(0.0) as usize)..(x1.ceil().max(0.0) as usize).min(self.w);
        let ys = (y0.floor().max(0.0) as usize)..(y1.ceil().max(0.0) as usize).min(self.h);
        for y in ys {
            for x in xs.clone() {
                if inside(x as f32 + 0.5, y as f32 + 0.5) {
                    self.set(x, y, color);
                }
            }
        }
    }

    /// A rotated ellipse (angle in radians).
    pub fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, angle: f32, color: &[f32]) {
        let (s, c) = angle.sin_cos();
        let r = rx.max(ry);
        self.fill((cx - r, cy - r, cx + r + 1.0, cy + r + 1.0), color, |x, y| {
            let (dx, dy) = (x - cx, y - cy);
            let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
            (u / rx).powi(2) + (v / ry).powi(2) <= 1.0
        });
    }

    /// A thick segment with round ends.
    pub fn capsule(&mut self, (x0, y0): (f32, f32), (x1, y1): (f32, f32), r: f32, color: &[f32]) {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        let bbox = (x0.min(x1) - r, y0.min(y1) - r, x0.max(x1) + r + 1.0, y0.max(y1) + r + 1.0);
        self.fill(bbox, color, |x, y| {
            let t = (((x - x0) * dx + (y - y0) * dy) / len2).clamp(0.0, 1.0);
            let (px, py) = (x0 + t * dx - x, y0 + t * dy - y);
            px * px + py * py <= r * r
        });
    }

    /// An axis-aligned rectangle.
    pub fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, color: &[f32]) {
        self.fill((x0, y0, x1, y1), color, |x, y| x >= x0 && x < x1 && y >= y0 && y < y1);
    }

    /// A triangle.
    pub fn triangle(&mut self, a: (f32, f32), b: (f32, f32), c: (f32, f32), color: &[f32]) {
        let bbox = (a.0.min(b.0).min(c.0), a.1.min(b.1).min(c.1), a.0.max(b.0).max(c.0) + 1.0, a.1.max(b.1).max(c.1) + 1.0);
        let edge = |p: (f32, f32), q: (f32, f32), x: f32, y: f32| (q.0 - p.0) * (y - p.1) - (q.1 - p.1) * (x - p.0);
        self.fill(bbox, color, |x, y| {
            let (e0, e1, e2) = (edge(a, b, x, y), edge(b, c, x, y), edge(c, a, x, y));
            (e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0)
        });
    }

    /// Adds uniform noise of amplitude `amp` to every pixel.
    pub fn noise(&mut self, rng: &mut XorShift, amp: f32) {
        for p in &mut self.px {
            *p += (rng.uniform() - 0.5) * 2.0 * amp;
        }
    }

    /// Mirrors left-right.
    pub fn mirror(&mut self) {
        let w = self.w;
        for row in self.px.chunks_mut(w) {
            row.reverse();
        }
    }

    /// Rounds to u8 planes.
    pub fn to_u8(&self) -> Vec<u8> {
        self.px.iter().map(|v| v.round().clamp(0.0, 255.0) as u8).collect()
    }
}
