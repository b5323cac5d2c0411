//! Max pooling with TensorFlow's semantics on the CPU: any window and stride, `same` padding whose
//! cells never win, and a gradient that goes wholly to the first maximum of each window in
//! row-major order (what TensorFlow's CPU kernel does; candle 0.11 splits it or fails).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;

/// `(N, C, H, W)` → `(N, C, oh, ow)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaxPool2d {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub pool: (usize, usize),
    pub strides: (usize, usize),
    pub pad: (usize, usize),
    pub out: (usize, usize),
    pub dims: (usize, usize),
}

impl MaxPool2d {
    /// Index (within the plane) of the first maximum of output cell (oy, ox).
    #[inline]
    fn argmax(&self, plane: &[f32], oy: usize, ox: usize) -> usize {
        let y0 = (oy * self.strides.0) as isize - self.pad.0 as isize;
        let x0 = (ox * self.strides.1) as isize - self.pad.1 as isize;
        let (ya, yb) = (y0.max(0) as usize, ((y0 + self.pool.0 as isize) as usize).min(self.h));
        let (xa, xb) = (x0.max(0) as usize, ((x0 + self.pool.1 as isize) as usize).min(self.w));
        let mut best = ya * self.w + xa;
        let mut v = f32::NEG_INFINITY;
        for y in ya..yb {
            for x in xa..xb {
                let c = plane[y * self.w + x];
                // NaN propagates as in TF (it wins once seen)
                if c > v || (c.is_nan() && !v.is_nan()) {
                    v = c;
                    best = y * self.w + x;
                }
            }
        }
        best
    }
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "input")?;
        let (hw, ohw) = (self.h * self.w, self.out.0 * self.out.1);
        let mut y = vec![0f32; self.planes * ohw];
        y.par_chunks_mut(ohw).zip(x.par_chunks(hw)).for_each(|(yp, xp)| {
            for oy in 0..self.out.0 {
                for ox in 0..self.out.1 {
                    yp[oy * self.out.1 + ox] = xp[self.argmax(xp, oy, ox)];
                }
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((self.dims.0, self.dims.1, self.out.0, self.out.1))))
    }
    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.grad(x, grad)?))
    }
}

impl MaxPool2d {
    /// The input gradient for output gradient `grad`.
    pub(crate) fn grad(&self, x: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2dGrad(*self))
    }
}

/// The gradient of [`MaxPool2d`]: each output cell's gradient added to its window's first maximum.
struct MaxPool2dGrad(MaxPool2d);

impl CustomOp2 for MaxPool2dGrad {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &self.0;
        let (x, dy) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "output gradient")?);
        let (hw, ohw) = (p.h * p.w, p.out.0 * p.out.1);
        let mut dx = vec![0f32; p.planes * hw];
        dx.par_chunks_mut(hw).zip(x.par_chunks(hw)).zip(dy.par_chunks(ohw)).for_each(|((dxp, xp), dyp)| {
            for oy in 0..p.out.0 {
                for ox in 0..p.out.1 {
                    dxp[p.argmax(xp, oy, ox)] += dyp[oy * p.out.1 + ox];
                }
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
