//! Max pooling with TensorFlow's semantics on the CPU: any window and stride, `same` padding whose
//! cells never win, and a gradient that goes wholly to the first maximum of each window in
//! row-major order (what TensorFlow's CPU kernel does; candle 0.11 splits it or fails).
//!
//! The training step keeps each window's winner (an index into its plane) from the forward pass,
//! so the gradient is a scatter rather than a second search.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous_f32, par_build, par_zeros};

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

/// The input cells `lo..hi` that window `o` of a `size`-wide axis covers (padding clipped away).
#[inline]
fn window(o: usize, stride: usize, pad: usize, pool: usize, size: usize) -> (usize, usize) {
    let start = (o * stride) as isize - pad as isize;
    (start.max(0) as usize, ((start + pool as isize).max(0) as usize).min(size))
}

impl MaxPool2d {
    /// Width of one phase row: enough for every output column and window column.
    fn phase_width(&self) -> usize {
        self.out.1 + (self.pool.1 - 1) / self.strides.1
    }

    /// Every window of one plane: its maximum into `y`, the plane index of its first maximum
    /// (row-major; NaN wins once seen, as in TF) into `idx`.
    ///
    /// The plane's rows are first split into stride phases padded with −∞ (`phases[iy][r][j]` is
    /// padded column `j * sx + r`), so window column `kx` of every output column is one
    /// contiguous run; the search then runs over whole output rows at once, cell by cell of the
    /// window, as element-wise selects the compiler vectorises. Padding (−∞) never wins, and
    /// each window starts at its first real cell, so an all-−∞ window reports that cell as TF does.
    fn plane(&self, xp: &[f32], first_col: &[u32], phases: &mut [f32], y: &mut [f32], idx: &mut [u32]) {
        let (sx, jw, ow, pad) = (self.strides.1, self.phase_width(), self.out.1, self.pad.1);
        for (row, dst) in xp.chunks_exact(self.w).zip(phases.chunks_exact_mut(sx * jw)) {
            for (r, phase) in dst.chunks_exact_mut(jw).enumerate() {
                for (j, v) in phase.iter_mut().enumerate() {
                    let ix = (j * sx + r).wrapping_sub(pad);
                    *v = if ix < self.w { row[ix] } else { f32::NEG_INFINITY };
                }
            }
        }
        for oy in 0..self.out.0 {
            let (ya, yb) = window(oy, self.strides.0, self.pad.0, self.pool.0, self.h);
            let (v, best) = (&mut y[oy * ow..(oy + 1) * ow], &mut idx[oy * ow..(oy + 1) * ow]);
            v.fill(f32::NEG_INFINITY);
            best.iter_mut().zip(first_col).for_each(|(b, &c)| *b = (ya * self.w) as u32 + c);
            for r in ya..yb {
                for kx in 0..self.pool.1 {
                    let src = &phases[(r * sx + kx % sx) * jw + kx / sx..][..ow];
                    // plane index of window column kx at output column 0 (wraps when in the padding,
                    // where it is never used)
                    let base = ((r * self.w + kx) as u32).wrapping_sub(pad as u32);
                    for (ox, ((v, b), &c)) in v.iter_mut().zip(best.iter_mut()).zip(src).enumerate() {
                        let wins = (c > *v) | (c.is_nan() & !v.is_nan());
                        // bit masks, not `if`: baseline x86-64 (SSE2) has no blend, and the compiler
                        // turns the selects into a branch per lane
                        let m = (wins as u32).wrapping_neg();
                        *v = f32::from_bits((c.to_bits() & m) | (v.to_bits() & !m));
                        *b = (base.wrapping_add((ox * sx) as u32) & m) | (*b & !m);
                    }
                }
            }
        }
    }

    /// The first real column of each output column's window.
    fn first_columns(&self) -> Vec<u32> {
        (0..self.out.1).map(|ox| window(ox, self.strides.1, self.pad.1, self.pool.1, self.w).0 as u32).collect()
    }

    /// Output and winners of every window over the contiguous f32 data `x`.
    fn run(&self, x: &[f32]) -> candle_core::Result<(Vec<f32>, Vec<u32>)> {
        let (hw, ohw) = (self.h * self.w, self.out.0 * self.out.1);
        if x.len() != self.planes * hw || hw > u32::MAX as usize {
            return Err(candle_core::Error::Msg(format!("max pooling: expected {} planes of {}×{}, got {} values", self.planes, self.h, self.w, x.len())));
        }
        let first_col = self.first_columns();
        let mut y = par_zeros(self.planes * ohw);
        let mut idx = vec![0u32; self.planes * ohw];
        let phases_len = self.h * self.strides.1 * self.phase_width();
        y.par_chunks_mut(ohw).zip(idx.par_chunks_mut(ohw)).zip(x.par_chunks(hw)).for_each_init(
            || vec![0f32; phases_len],
            |phases, ((yp, ip), xp)| self.plane(xp, &first_col, phases, yp, ip),
        );
        Ok((y, idx))
    }

    fn out_shape(&self) -> Shape {
        Shape::from((self.dims.0, self.dims.1, self.out.0, self.out.1))
    }

    /// Training forward pass: the pooled tensor and the winners [`MaxPool2d::grad_from_winners`] needs.
    pub(crate) fn forward_with_winners(&self, x: &Tensor) -> candle_core::Result<(Tensor, Arc<Vec<u32>>)> {
        let x = x.contiguous()?;
        let (y, idx) = {
            let (storage, layout) = x.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                return Err(candle_core::Error::Msg("max pooling: expected a CPU tensor".into()));
            };
            self.run(contiguous_f32(cpu, layout, "input")?)?
        };
        Ok((Tensor::from_vec(y, self.out_shape(), x.device())?, Arc::new(idx)))
    }

    /// The input gradient from the output gradient and the forward pass's winners: each output
    /// cell's gradient added to its window's winner.
    pub(crate) fn grad_from_winners(&self, winners: &Arc<Vec<u32>>, grad: &Tensor) -> candle_core::Result<Tensor> {
        grad.contiguous()?.apply_op1_no_bwd(&ScatterToWinners { pool: *self, winners: winners.clone() })
    }

    /// The input gradient for output gradient `grad` (searching the windows again).
    pub(crate) fn grad(&self, x: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2dGrad(*self))
    }
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (y, _) = self.run(contiguous_f32(s, l, "input")?)?;
        Ok((CpuStorage::F32(y), self.out_shape()))
    }
    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.grad(x, grad)?))
    }
}

/// Adds each output gradient to its window's winner, plane by plane.
fn scatter(p: &MaxPool2d, winners: &[u32], dy: &[f32]) -> Vec<f32> {
    let (hw, ohw) = (p.h * p.w, p.out.0 * p.out.1);
    par_build(p.planes * hw, hw, |plane, dxp| {
        let (ip, dyp) = (&winners[plane * ohw..(plane + 1) * ohw], &dy[plane * ohw..(plane + 1) * ohw]);
        for (&i, &g) in ip.iter().zip(dyp) {
            if let Some(d) = dxp.get_mut(i as usize) {
                *d += g;
            }
        }
    })
}

/// [`MaxPool2d`]'s gradient from recorded winners.
struct ScatterToWinners {
    pool: MaxPool2d,
    winners: Arc<Vec<u32>>,
}

impl CustomOp1 for ScatterToWinners {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-scatter"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &self.pool;
        let dy = contiguous_f32(s, l, "output gradient")?;
        if dy.len() != self.winners.len() {
            return Err(candle_core::Error::Msg(format!("max pooling gradient: {} values for {} windows", dy.len(), self.winners.len())));
        }
        Ok((CpuStorage::F32(scatter(p, &self.winners, dy)), Shape::from((p.dims.0, p.dims.1, p.h, p.w))))
    }
}

/// The gradient of [`MaxPool2d`] (autograd path): the windows searched again, then the scatter.
struct MaxPool2dGrad(MaxPool2d);

impl CustomOp2 for MaxPool2dGrad {
    fn name(&self) -> &'static str {
        "candlebook-max-pool2d-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, dy) = (contiguous_f32(s1, l1, "input")?, contiguous_f32(s2, l2, "output gradient")?);
        let (_, winners) = self.0.run(x)?;
        if dy.len() != winners.len() {
            return Err(candle_core::Error::Msg(format!("max pooling gradient: {} values for {} windows", dy.len(), winners.len())));
        }
        Ok((CpuStorage::F32(scatter(&self.0, &winners, dy)), l1.shape().clone()))
    }
}
