//! Adam's update as one pass over the weights, on the CPU: the first and second moments live in
//! plain vectors beside the variable and the weights change in place. Op by op (about a dozen
//! candle operations, each writing a new weight-sized tensor) the update of a 16,384×128 dense
//! kernel was most of a dense network's step. The arithmetic is Keras's, in the same f32
//! operations and order as the op-by-op form, so both give the same bits.

use std::cell::RefCell;

use candle_core::{CpuStorage, InplaceOp1, Layout, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;

/// Adam's per-variable state on the CPU.
#[derive(Debug, Clone)]
pub(crate) struct AdamMoments {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl AdamMoments {
    pub fn zeros(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n] }
    }
}

/// The scalars of one step: `1 - beta_1`, `1 - beta_2`, Keras's bias-corrected step size, epsilon.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep {
    pub one_minus_b1: f32,
    pub one_minus_b2: f32,
    pub alpha: f32,
    pub eps: f32,
}

struct AdamInPlace<'a> {
    grad: &'a [f32],
    moments: RefCell<&'a mut AdamMoments>,
    step: AdamStep,
}

impl InplaceOp1 for AdamInPlace<'_> {
    fn name(&self) -> &'static str {
        "adam-in-place"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(all) = storage else {
            return Err(candle_core::Error::Msg("fused Adam: expected f32 weights".into()));
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            return Err(candle_core::Error::Msg("fused Adam: expected contiguous weights".into()));
        };
        let w = &mut all[start..end];
        let mut moments = self.moments.borrow_mut();
        let AdamMoments { m, v } = &mut **moments;
        if w.len() != self.grad.len() || m.len() != w.len() || v.len() != w.len() {
            return Err(candle_core::Error::Msg(format!(
                "fused Adam: {} weights, {} gradients, {}/{} moments",
                w.len(),
                self.grad.len(),
                m.len(),
                v.len()
            )));
        }
        let AdamStep { one_minus_b1, one_minus_b2, alpha, eps } = self.step;
        const CHUNK: usize = 1 << 14;
        w.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(self.grad.par_chunks(CHUNK))
            .for_each(|(((w, m), v), g)| {
                for i in 0..w.len() {
                    let gi = g[i];
                    let mi = m[i] + (gi - m[i]) * one_minus_b1;
                    let vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
                    m[i] = mi;
                    v[i] = vi;
                    w[i] -= (mi * alpha) / (vi.sqrt() + eps);
                }
            });
        Ok(())
    }
}

/// Applies one Adam step to `weights` (a CPU f32 tensor, updated in place) from `grad`.
pub(crate) fn adam_in_place(weights: &Tensor, grad: &Tensor, moments: &mut AdamMoments, step: AdamStep) -> candle_core::Result<()> {
    let grad = grad.contiguous()?;
    let (storage, layout) = grad.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        return Err(candle_core::Error::Msg("fused Adam: expected a CPU gradient".into()));
    };
    let g = contiguous_f32(cpu, layout, "gradient")?;
    weights.inplace_op1(&AdamInPlace { grad: g, moments: RefCell::new(moments), step })
}
