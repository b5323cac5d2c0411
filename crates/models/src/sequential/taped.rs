//! The CPU training step without candle's autograd: a forward pass that keeps what each layer's
//! gradient needs (a tape), then the layers' gradients in reverse, all with the fast CPU kernels.
//!
//! candle's generic backward starts every node's gradient as a zero tensor and adds into it, runs
//! those element-wise passes on its own thread pool beside rayon's, and holds the whole graph; for
//! a plain layer stack none of that is needed. The loss and its gradient with respect to the last
//! layer's logits still come from candle's autograd, on the tiny `(N, classes)` tensors, so every
//! loss keeps exactly the Keras semantics of [`crate::Loss::compute_keras`].

use candle_core::{DType, Tensor, Var, D};

use super::{activate, update_moving, Layer, Params, Sequential, SplitMix};
use crate::cpu;
use crate::error::Result;
use crate::ops::{conv_geometry, max_pool_op, max_pool_op_for};
use crate::optim::{Loss, OptimizerState};
use crate::spec::{Activation, LayerSpec};

/// What one layer's backward pass needs.
enum Tape {
    /// Fused convolution (bias, optional ReLU). `y` (the output, for the ReLU's mask) is not kept
    /// when the convolution was fused with the max pooling after it, which applies the mask.
    Conv { x: Tensor, y: Option<Tensor>, geom: cpu::ConvGeometry, relu: bool },
    /// Max pooling: each window's winner, and the output (for a ReLU mask, see `masked`).
    Pool { winners: std::sync::Arc<Vec<u32>>, op: cpu::MaxPool2d, y: Tensor },
    /// Batch norm on batch statistics.
    Norm { x: Tensor, stats: cpu::Stats, relu_after: Option<Tensor> },
    /// Batch norm on its moving statistics (a frozen layer): `dx = g · scale`.
    Scale { scale: Tensor },
    Mask { mask: Tensor },
    Flatten { dims: (usize, usize, usize, usize) },
    /// Dense before its activation: input and the activation's output.
    Dense { x: Tensor, y: Tensor, activation: Activation },
    Act { y: Tensor, activation: Activation },
    Identity,
}

/// Dropout mask values (`1 / keep` or 0) of draws `first..` from the generator in `state`, into `m`.
#[inline(always)]
fn dropout_chunk(state: u64, first: u64, keep: f32, m: &mut [f32]) {
    let (rng, scale) = (SplitMix(state), 1.0 / keep);
    for (j, m) in m.iter_mut().enumerate() {
        *m = if rng.f32_at(first + j as u64) < keep { scale } else { 0.0 };
    }
}

/// [`dropout_chunk`] compiled for AVX-512 (64-bit vector multiplies).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn dropout_chunk_avx512(state: u64, first: u64, keep: f32, m: &mut [f32]) {
    dropout_chunk(state, first, keep, m)
}

/// A tape entry that does not fit its layer's weights (an internal error, reported rather than
/// panicking so a notebook keeps its variables).
fn mismatch(l: &Layer) -> crate::error::ModelError {
    crate::error::ModelError::Spec(format!("layer '{}': recorded forward pass does not match its weights", l.name))
}

/// The gradient through `activation` from its output `y`.
fn activation_grad(g: &Tensor, y: &Tensor, activation: Activation) -> Result<Tensor> {
    Ok(match activation {
        Activation::Linear => g.clone(),
        Activation::Relu => g.contiguous()?.apply_op2_no_bwd(&y.contiguous()?, &cpu::ReluMask)?,
        Activation::Sigmoid => (g * (y * y.affine(-1.0, 1.0)?)?)?,
        Activation::Softmax => {
            let dot = (g * y)?.sum_keepdim(D::Minus1)?;
            (y * g.broadcast_sub(&dot)?)?
        }
    })
}

impl Sequential {
    /// Whether [`Sequential::taped_step`] handles this model on this device.
    pub(crate) fn tape_supported(&self) -> bool {
        let n = self.layers.len();
        crate::cpu::fast_cpu_kernels()
            && self.device.is_cpu()
            && self.layers.iter().enumerate().all(|(i, l)| match &l.spec {
                LayerSpec::Conv2D { activation, .. } => {
                    matches!(activation, Activation::Relu | Activation::Linear) || (i + 1 == n && matches!(activation, Activation::Softmax | Activation::Sigmoid))
                }
                LayerSpec::AveragePooling2D { .. } => false,
                _ => true,
            })
    }

    /// One layer forward in training mode, with its tape. `activation_override` replaces a Dense/Conv2D
    /// layer's own: `Linear` for the last layer when the loss takes logits, `Relu` for a linear
    /// convolution whose next layer is a ReLU (that layer then passes values and gradients through).
    /// `sums`: carried from a convolution (or pooling) to the batch norm right after it, the
    /// output's per-image channel sums taken while each image was in cache (set here when
    /// `next_is_norm`, taken by the batch norm).
    fn taped_layer(&self, l: &Layer, x: &Tensor, activation_override: Option<Activation>, next_is_norm: bool, sums: &mut Option<cpu::ImageSums>) -> Result<(Tensor, Tape)> {
        let given = sums.take();
        let det = |v: &Var| v.as_tensor().detach();
        Ok(match (&l.spec, &l.params) {
            (LayerSpec::Conv2D { strides, padding, activation, .. }, Params::Conv { kernel, bias }) => {
                let act = activation_override.unwrap_or(*activation);
                let (k, b) = (det(kernel), det(bias));
                let geom = conv_geometry(x, &k, &b, *strides, *padding)?;
                let relu = act == Activation::Relu;
                if !matches!(act, Activation::Relu | Activation::Linear) {
                    return Err(crate::error::ModelError::Spec(format!("Conv2D '{}': the taped step fuses only ReLU or linear", l.name)));
                }
                let x = x.contiguous()?;
                let with_sums = if next_is_norm { cpu::conv_forward_with_sums(&geom, &x, &k, &b, relu)? } else { None };
                let z = match with_sums {
                    Some((z, s)) => {
                        *sums = Some(s);
                        z
                    }
                    None => x.apply_op3_no_bwd(&k, &b, &cpu::Conv2dForward { geom, relu })?,
                };
                (z.clone(), Tape::Conv { x, y: Some(z), geom, relu })
            }
            (LayerSpec::MaxPooling2D { pool, strides, padding, .. }, _) => {
                let op = max_pool_op(x, *pool, *strides, *padding)?;
                let (y, winners) = op.forward_with_winners(x)?;
                (y.clone(), Tape::Pool { winners, op, y })
            }
            (LayerSpec::BatchNormalization { .. }, Params::Norm { gamma, beta, mean, var }) => {
                if l.trainable {
                    self.taped_norm(l, x, given.as_ref(), false)?
                } else {
                    let LayerSpec::BatchNormalization { epsilon, .. } = &l.spec else { return Err(mismatch(l)) };
                    let c = gamma.elem_count();
                    let shape: Vec<usize> = if x.rank() == 4 { vec![1, c, 1, 1] } else { vec![1, c] };
                    let inv = (det(var) + *epsilon)?.sqrt()?.recip()?.broadcast_mul(&det(gamma))?.reshape(shape.clone())?;
                    let shift = det(beta).reshape(shape.clone())?.broadcast_sub(&det(mean).reshape(shape)?.broadcast_mul(&inv)?)?;
                    (x.broadcast_mul(&inv)?.broadcast_add(&shift)?, Tape::Scale { scale: inv })
                }
            }
            (LayerSpec::Dropout { rate, .. }, _) => match self.dropout_apply(x, *rate)? {
                Some((mask, y)) => (y, Tape::Mask { mask }),
                None => (x.clone(), Tape::Identity),
            },
            (LayerSpec::Flatten { .. }, _) if x.rank() == 4 => {
                let (n, c, h, w) = x.dims4()?;
                (x.permute((0, 2, 3, 1))?.reshape((n, ()))?, Tape::Flatten { dims: (n, c, h, w) })
            }
            (LayerSpec::Flatten { .. }, _) => (x.clone(), Tape::Identity),
            (LayerSpec::Dense { activation, .. }, Params::Dense { kernel, bias }) => {
                let act = activation_override.unwrap_or(*activation);
                let z = x.matmul(&det(kernel))?.broadcast_add(&det(bias))?;
                let y = activate(&z, act)?;
                (y.clone(), Tape::Dense { x: x.clone(), y, activation: act })
            }
            (LayerSpec::Activation { activation, .. }, _) => {
                let act = activation_override.unwrap_or(*activation);
                let y = activate(x, act)?;
                (y.clone(), Tape::Act { y, activation: act })
            }
            (spec, _) => return Err(crate::error::ModelError::Spec(format!("layer '{}' ({}) has no weights", l.name, spec.class_name()))),
        })
    }

    /// Layers `i` (a ReLU convolution) and `i + 1` (max pooling) forward in one pass, image by
    /// image ([`cpu::conv_relu_max_pool`]), with their tapes; `None` when the layers are not such
    /// a pair or the fused kernels do not run here.
    fn taped_conv_pool(&self, i: usize, x: &Tensor, sums: &mut Option<cpu::ImageSums>) -> Result<Option<(Tensor, Tape, Tape)>> {
        let (Some(conv), Some(pool)) = (self.layers.get(i), self.layers.get(i + 1)) else { return Ok(None) };
        let (LayerSpec::Conv2D { strides, padding, activation: Activation::Relu, .. }, Params::Conv { kernel, bias }) = (&conv.spec, &conv.params) else { return Ok(None) };
        let LayerSpec::MaxPooling2D { pool: window, strides: pool_strides, padding: pool_padding, .. } = &pool.spec else { return Ok(None) };
        let (k, b) = (kernel.as_tensor().detach(), bias.as_tensor().detach());
        let geom = conv_geometry(x, &k, &b, *strides, *padding)?;
        let op = max_pool_op_for(geom.n, geom.cout, geom.oh, geom.ow, *window, *pool_strides, *pool_padding)?;
        let x = x.contiguous()?;
        let Some((y, winners, pooled_sums)) = cpu::conv_relu_max_pool(&geom, &x, &k, &b, &op, self.is_trainable_norm(i + 2))? else { return Ok(None) };
        *sums = pooled_sums;
        Ok(Some((y.clone(), Tape::Conv { x, y: None, geom, relu: true }, Tape::Pool { winners, op, y })))
    }

    /// A training batch norm forward (statistics from `sums` when given), with `relu` also the
    /// ReLU layer after it in the same pass.
    fn taped_norm(&self, l: &Layer, x: &Tensor, sums: Option<&cpu::ImageSums>, relu: bool) -> Result<(Tensor, Tape)> {
        let (LayerSpec::BatchNormalization { epsilon, momentum, .. }, Params::Norm { gamma, beta, mean, var }) = (&l.spec, &l.params) else { return Err(mismatch(l)) };
        let beta = beta.as_tensor().detach();
        let (y, bm, bv, stats) = cpu::batch_norm_train_given(x, &gamma.as_tensor().detach(), &beta, *epsilon, sums, relu, false)?;
        update_moving(mean, &bm, *momentum)?;
        update_moving(var, &bv, *momentum)?;
        Ok((y, Tape::Norm { x: x.contiguous()?, stats, relu_after: relu.then_some(beta) }))
    }

    /// Whether layer `i` is a batch norm that trains (normalises by batch statistics).
    fn is_trainable_norm(&self, i: usize) -> bool {
        self.layers.get(i).is_some_and(|l| l.trainable && matches!(l.spec, LayerSpec::BatchNormalization { .. }))
    }

    /// [`Sequential::train_step_with_output`] on the CPU with the taped backward pass.
    pub(crate) fn taped_step(&self, x: &Tensor, y: &Tensor, loss: &Loss, optimizer: &mut OptimizerState) -> Result<(f32, Tensor)> {
        self.check_input(x)?;
        let n_layers = self.layers.len();
        let last_act = self.layers.last().map(|l| match &l.spec {
            LayerSpec::Dense { activation, .. } | LayerSpec::Conv2D { activation, .. } | LayerSpec::Activation { activation, .. } => *activation,
            _ => Activation::Linear,
        });
        let split_logits = matches!(last_act, Some(Activation::Softmax | Activation::Sigmoid));
        let mut h = x.to_dtype(DType::F32)?;
        let mut tapes = Vec::with_capacity(n_layers);
        let mut i = 0;
        let mut sums = None;
        while i < n_layers {
            if let Some((out, conv, pool)) = self.taped_conv_pool(i, &h, &mut sums)? {
                tapes.extend([conv, pool]);
                h = out;
                i += 2;
                continue;
            }
            // a training batch norm and the ReLU layer after it in one pass
            let relu_next = matches!(self.layers.get(i + 1).map(|l| &l.spec), Some(LayerSpec::Activation { activation: Activation::Relu, .. })) && !(split_logits && i + 2 == n_layers);
            if self.is_trainable_norm(i) && relu_next && cpu::applies(&h) {
                let (out, tape) = self.taped_norm(&self.layers[i], &h, sums.take().as_ref(), true)?;
                tapes.extend([tape, Tape::Identity]);
                h = out;
                i += 2;
                continue;
            }
            // a linear convolution and the ReLU layer after it (Keras's `Conv2D` then
            // `Activation('relu')`) as one ReLU convolution: no pass of its own over the
            // activations forward or backward (the fingers CNN's first layer writes 1 MB an image)
            if relu_next && matches!(self.layers[i].spec, LayerSpec::Conv2D { activation: Activation::Linear, .. }) && cpu::applies(&h) {
                let (out, tape) = self.taped_layer(&self.layers[i], &h, Some(Activation::Relu), self.is_trainable_norm(i + 2), &mut sums)?;
                tapes.extend([tape, Tape::Identity]);
                h = out;
                i += 2;
                continue;
            }
            let linear = split_logits && i + 1 == n_layers;
            let (out, tape) = self.taped_layer(&self.layers[i], &h, linear.then_some(Activation::Linear), self.is_trainable_norm(i + 1), &mut sums)?;
            tapes.push(tape);
            h = out;
            i += 1;
        }
        // The loss and d(loss)/d(logits) through candle's autograd on (N, classes).
        let z = Var::from_tensor(&h)?;
        let (out, total) = if let (true, Some(act)) = (split_logits, last_act) {
            let out = activate(z.as_tensor(), act)?;
            let l = loss.compute_keras(&out, Some(&(z.as_tensor().clone(), act)), y)?;
            (out, l)
        } else {
            (z.as_tensor().clone(), loss.compute_keras(z.as_tensor(), None, y)?)
        };
        let mut value = total.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        let mut grads: Vec<(Var, Tensor)> = Vec::new();
        if let Some(reg) = self.regularization_loss()? {
            value += reg.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        }
        if !value.is_finite() {
            return Err(crate::error::ModelError::NonFinite(format!("loss is {value} on this batch")));
        }
        let mut g = match total.backward()?.get(z.as_tensor()) {
            Some(g) => g.clone(),
            None => return Err(crate::error::ModelError::Spec("the loss does not depend on the model output".into())),
        };
        // Layers below the first trainable one (a frozen base in transfer learning) need no
        // gradient at all: the backward pass stops there.
        let first_trainable = self.layers.iter().position(|l| l.trainable).unwrap_or(n_layers);
        // A batch norm or max pooling right after a ReLU convolution also applies that ReLU's mask
        // to its input gradient (one pass fewer over the activations); `masked` tells the
        // convolution.
        let after_relu_conv: Vec<bool> = (0..tapes.len()).map(|i| i > 0 && matches!(tapes[i - 1], Tape::Conv { relu: true, .. })).collect();
        let mut masked = false;
        let mut tapes: Vec<Option<Tape>> = tapes.into_iter().map(Some).collect();
        let mut i = tapes.len();
        while i > 0 {
            i -= 1;
            if i < first_trainable {
                break;
            }
            let (l, Some(tape)) = (&self.layers[i], tapes[i].take()) else { continue };
            let need_dx = i > first_trainable;
            let already_masked = std::mem::take(&mut masked);
            // Max pooling after a convolution: both backward passes at once, image by image
            // (the pooling's input gradient never goes out to memory).
            if let (Tape::Pool { winners, op, y }, Some(j)) = (&tape, i.checked_sub(1).filter(|&j| j >= first_trainable)) {
                if let (Some(Tape::Conv { x, geom, relu, .. }), conv) = (&tapes[j], &self.layers[j]) {
                    let Params::Conv { kernel, bias } = &conv.params else { return Err(mismatch(conv)) };
                    if let Some((dx, dw, db)) = cpu::conv_grad_through_max_pool(geom, x, &kernel.as_tensor().detach(), op, winners, &g, y, *relu, j > first_trainable)? {
                        if conv.trainable {
                            grads.push((kernel.clone(), dw));
                            grads.push((bias.clone(), db));
                        }
                        tapes[j] = None;
                        match dx {
                            Some(dx) => g = dx,
                            None => break,
                        }
                        i = j;
                        continue;
                    }
                }
            }
            // Batch norm after a convolution: likewise, the batch norm's input gradient made
            // image by image for both convolution gradients.
            if let (Tape::Norm { x: norm_x, stats, relu_after }, Some(j)) = (&tape, i.checked_sub(1).filter(|&j| j >= first_trainable)) {
                if let (Some(Tape::Conv { x, geom, relu, .. }), conv) = (&tapes[j], &self.layers[j]) {
                    let (Params::Conv { kernel, bias }, Params::Norm { gamma, beta, .. }) = (&conv.params, &l.params) else { return Err(mismatch(conv)) };
                    if let Some(r) = cpu::conv_grad_through_batch_norm(geom, x, &kernel.as_tensor().detach(), norm_x, &gamma.as_tensor().detach(), &g, stats, *relu, relu_after.as_ref(), j > first_trainable)? {
                        grads.push((gamma.clone(), r.dgamma));
                        grads.push((beta.clone(), r.dbeta));
                        if conv.trainable {
                            grads.push((kernel.clone(), r.dw));
                            grads.push((bias.clone(), r.db));
                        }
                        tapes[j] = None;
                        match r.dx {
                            Some(dx) => g = dx,
                            None => break,
                        }
                        i = j;
                        continue;
                    }
                }
            }
            g = match tape {
                Tape::Conv { x, y, geom, relu } => {
                    let Params::Conv { kernel, bias } = &l.params else { return Err(mismatch(l)) };
                    let mask = match (relu && !already_masked, y) {
                        (false, _) => None,
                        (true, Some(y)) => Some(y),
                        (true, None) => return Err(crate::error::ModelError::Spec(format!("Conv2D '{}': fused with its pooling, but the pooling did not apply the ReLU mask", l.name))),
                    };
                    let (dx, dw, db) = cpu::conv2d_grad(&geom, mask.as_ref(), &x, &kernel.as_tensor().detach(), &g, need_dx)?;
                    if l.trainable {
                        grads.push((kernel.clone(), dw));
                        grads.push((bias.clone(), db));
                    }
                    match dx {
                        Some(dx) => dx,
                        None => break,
                    }
                }
                Tape::Pool { winners, op, y } => {
                    masked = after_relu_conv[i];
                    if masked {
                        op.grad_from_winners_through_relu(&winners, &g, &y)?
                    } else {
                        op.grad_from_winners(&winners, &g)?
                    }
                }
                Tape::Norm { x, stats, relu_after } => {
                    let Params::Norm { gamma, beta, .. } = &l.params else { return Err(mismatch(l)) };
                    masked = after_relu_conv[i];
                    let (dx, dgamma, dbeta) = cpu::batch_norm_grad(&x, &gamma.as_tensor().detach(), &g, &stats, masked, relu_after.as_ref())?;
                    grads.push((gamma.clone(), dgamma));
                    grads.push((beta.clone(), dbeta));
                    dx
                }
                Tape::Scale { scale } => g.broadcast_mul(&scale)?,
                Tape::Mask { mask } => (g * mask)?,
                Tape::Flatten { dims: (n, c, h, w) } => g.reshape((n, h, w, c))?.permute((0, 3, 1, 2))?.contiguous()?,
                Tape::Dense { x, y, activation } => {
                    let Params::Dense { kernel, bias } = &l.params else { return Err(mismatch(l)) };
                    let gz = activation_grad(&g, &y, activation)?;
                    if l.trainable {
                        let mut dw = x.t()?.matmul(&gz)?;
                        if let LayerSpec::Dense { l2: Some(f), .. } = &l.spec {
                            dw = (dw + (kernel.as_tensor().detach() * (2.0 * *f))?)?;
                        }
                        grads.push((kernel.clone(), dw));
                        grads.push((bias.clone(), gz.sum(0)?));
                    }
                    if !need_dx {
                        break;
                    }
                    gz.matmul(&kernel.as_tensor().detach().t()?)?
                }
                Tape::Act { y, activation } => activation_grad(&g, &y, activation)?,
                Tape::Identity => g,
            };
        }
        optimizer.step_with(&grads)?;
        Ok((value, out.detach()))
    }

    /// The dropout mask (`0` or `1 / keep`) for `x`, drawn from the model's dropout generator, or
    /// `None` when the rate is zero.
    pub(crate) fn dropout_mask(&self, x: &Tensor, rate: f64) -> Result<Option<Tensor>> {
        Ok(self.dropout_draw(x, rate, false)?.map(|(mask, _)| mask))
    }

    /// `(mask, x · mask)` for dropout at `rate` (see [`Sequential::dropout_mask`]), both drawn
    /// and applied in parallel chunks (the generator is counter-based, so the masks equal the
    /// sequential draw's); `None` when the rate is zero.
    fn dropout_apply(&self, x: &Tensor, rate: f64) -> Result<Option<(Tensor, Tensor)>> {
        Ok(self.dropout_draw(x, rate, true)?.and_then(|(mask, y)| y.map(|y| (mask, y))))
    }

    fn dropout_draw(&self, x: &Tensor, rate: f64, apply: bool) -> Result<Option<(Tensor, Option<Tensor>)>> {
        use rayon::prelude::*;
        if rate <= 0.0 {
            return Ok(None);
        }
        const CHUNK: usize = 1 << 14;
        let rng = SplitMix(self.dropout_rng.get());
        let (keep, n) = (1.0 - rate as f32, x.elem_count());
        // a chunk's mask values from draw `first` on (AVX-512 multiplies the 64-bit lanes in vectors)
        let state = rng.0;
        let draw_chunk = move |first: usize, m: &mut [f32]| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512dq") {
                // SAFETY: AVX-512F/DQ are present (checked above).
                return unsafe { dropout_chunk_avx512(state, first as u64, keep, m) };
            }
            dropout_chunk(state, first as u64, keep, m)
        };
        let mut mask = vec![0f32; n];
        let xc = if apply && x.dtype() == DType::F32 { Some(x.contiguous()?) } else { None };
        let applied = match &xc {
            Some(xc) => cpu::with_cpu_f32(&[xc], |v| {
                let mut y = vec![0f32; n];
                mask.par_chunks_mut(CHUNK).zip(y.par_chunks_mut(CHUNK)).zip(v[0].par_chunks(CHUNK)).enumerate().for_each(|(c, ((m, y), x))| {
                    draw_chunk(c * CHUNK, m);
                    y.iter_mut().zip(m.iter()).zip(x).for_each(|((y, m), x)| *y = x * m);
                });
                y
            })?,
            None => None,
        };
        if applied.is_none() {
            mask.par_chunks_mut(CHUNK).enumerate().for_each(|(c, m)| draw_chunk(c * CHUNK, m));
        }
        let mut next = rng;
        next.advance(n as u64);
        self.dropout_rng.set(next.0);
        let mask = Tensor::from_vec(mask, x.dims(), x.device())?;
        let y = match applied {
            Some(y) => Some(Tensor::from_vec(y, x.dims(), x.device())?),
            None if apply => Some((x * &mask)?),
            None => None,
        };
        Ok(Some((mask, y)))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use crate::optim::{Loss, Optimizer, OptimizerState};
    use crate::spec::{Activation, BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D, Padding};
    use crate::{Input, Sequential};

    /// Roughly standard-normal inputs of `shape` from a fixed seed (a sum of four uniforms), so
    /// every run checks the same numbers: with `Tensor::randn` one run of these tests in twenty failed
    /// on a batch-normed convolution's bias, whose gradient is rounding noise around zero.
    fn normal_inputs(shape: &[usize], seed: u64) -> Tensor {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.732).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    /// Two steps of `build()`'s model on `x` give the same loss and weights through the taped
    /// step as through candle's autograd, with Adam and with plain SGD (Adam's first steps do not
    /// change when a gradient is scaled; SGD's do).
    fn assert_taped_matches_autograd(build: impl Fn() -> Sequential, x: &Tensor, y: &Tensor) {
        for optimizer in [Optimizer::adam(), Optimizer::sgd(0.05)] {
            assert_taped_matches_autograd_with(&build, x, y, optimizer);
        }
    }

    fn assert_taped_matches_autograd_with(build: &impl Fn() -> Sequential, x: &Tensor, y: &Tensor, optimizer: Optimizer) {
        let (taped, reference) = (build(), build());
        assert!(taped.tape_supported());
        let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
        let (mut oa, mut ob) = (OptimizerState::new(optimizer), OptimizerState::new(optimizer));
        for step in 0..2 {
            let la = taped.taped_step(x, y, &loss, &mut oa).unwrap().0;
            let lb = reference.autograd_step(x, y, &loss, &mut ob).unwrap().0;
            assert!((la - lb).abs() < 1e-5 * (1.0 + lb.abs()), "step {step}: loss {la} vs {lb}");
        }
        for (la, lb) in taped.layers.iter().zip(&reference.layers) {
            for ((name, a), (_, b)) in la.weights().into_iter().zip(lb.weights()) {
                let (a, b) = (a.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap());
                for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                    assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "{}/{name}[{i}]: taped {p} vs autograd {q}", la.name);
                }
            }
        }
    }

    /// Dropout masks drawn in parallel chunks equal the generator's sequential draws, and the
    /// taped step's masked output is `x · mask`.
    #[test]
    fn parallel_dropout_masks_equal_sequential_draws() {
        let dev = Device::Cpu;
        let mut m = Sequential::new(Input::image(4, 4, 1), &dev).seed(3);
        m.add(crate::spec::Dropout::new(0.3)).unwrap();
        let x = normal_inputs(&[5, 3, 70, 70], 1);
        let n = x.elem_count();
        let start = m.dropout_rng.get();
        let mut rng = super::SplitMix(start);
        let want: Vec<f32> = (0..n).map(|_| if rng.next_f32() < 0.7 { 1.0 / 0.7 } else { 0.0 }).collect();
        let mask = m.dropout_mask(&x, 0.3).unwrap().unwrap();
        assert_eq!(mask.flatten_all().unwrap().to_vec1::<f32>().unwrap(), want);
        assert_eq!(m.dropout_rng.get(), rng.0, "the generator moves on by one draw per value");
        // the next draw continues the sequence, and applies the mask
        let want: Vec<f32> = (0..n).map(|_| if rng.next_f32() < 0.7 { 1.0 / 0.7 } else { 0.0 }).collect();
        let (mask, y) = m.dropout_apply(&x, 0.3).unwrap().unwrap();
        assert_eq!(mask.flatten_all().unwrap().to_vec1::<f32>().unwrap(), want);
        let xv = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let masked: Vec<f32> = xv.iter().zip(&want).map(|(a, b)| a * b).collect();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), masked);
    }

    /// ReLU convolutions followed by batch norm or max pooling (whose gradients then also apply
    /// the ReLU mask; a convolution and its pooling run fused, forward and backward).
    #[test]
    fn taped_step_matches_autograd_with_relu_convolutions_before_batch_norm_and_pooling() {
        let dev = Device::Cpu;
        let build = || {
            let mut m = Sequential::new(Input::image(12, 12, 3), &dev).seed(7);
            m.add(Conv2D::new(8, (3, 3)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(Conv2D::new(16, (3, 3)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(MaxPooling2D::new((2, 2))).unwrap();
            m.add(Conv2D::new(8, (3, 3)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
            m.add(MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same)).unwrap();
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(5).activation(Activation::Softmax)).unwrap();
            m
        };
        let x = normal_inputs(&[6, 3, 12, 12], 2);
        let y = Tensor::new(&[0u32, 1, 2, 3, 4, 0], &dev).unwrap();
        assert_taped_matches_autograd(build, &x, &y);
    }

    /// The fingers CNN's pattern: linear strided convolutions, each followed by batch norm and a
    /// ReLU layer (run in one pass with the batch norm, its mask recomputed in the gradient).
    #[test]
    fn taped_step_matches_autograd_with_batch_norm_and_relu_layers() {
        let dev = Device::Cpu;
        let build = || {
            let mut m = Sequential::new(Input::image(24, 24, 1), &dev).seed(5);
            for (filters, k) in [(8, 4), (6, 3)] {
                m.add(Conv2D::new(filters, (k, k)).strides((2, 2))).unwrap();
                m.add(BatchNormalization::new()).unwrap();
                m.add(crate::spec::ActivationLayer::new(Activation::Relu)).unwrap();
            }
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(4).activation(Activation::Softmax)).unwrap();
            m
        };
        let x = normal_inputs(&[6, 1, 24, 24], 3);
        let y = Tensor::new(&[0u32, 1, 2, 3, 0, 1], &dev).unwrap();
        assert_taped_matches_autograd(build, &x, &y);
    }

    /// The plain fingers CNN's pattern, linear strided convolutions each followed by a ReLU layer
    /// (run as ReLU convolutions, the layer passing through), and the same pair before a batch
    /// norm and before a max pooling.
    #[test]
    fn taped_step_matches_autograd_with_relu_layers_after_linear_convolutions() {
        let dev = Device::Cpu;
        let build = || {
            let mut m = Sequential::new(Input::image(26, 26, 1), &dev).seed(9);
            m.add(Conv2D::new(8, (4, 4)).strides((2, 2))).unwrap();
            m.add(crate::spec::ActivationLayer::new(Activation::Relu)).unwrap();
            m.add(Conv2D::new(6, (3, 3)).strides((2, 2))).unwrap();
            m.add(crate::spec::ActivationLayer::new(Activation::Relu)).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(Conv2D::new(5, (3, 3)).padding(Padding::Same)).unwrap();
            m.add(crate::spec::ActivationLayer::new(Activation::Relu)).unwrap();
            m.add(MaxPooling2D::new((2, 2))).unwrap();
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(4).activation(Activation::Softmax)).unwrap();
            m
        };
        let x = normal_inputs(&[6, 1, 26, 26], 4);
        let y = Tensor::new(&[0u32, 1, 2, 3, 0, 1], &dev).unwrap();
        assert_taped_matches_autograd(build, &x, &y);
    }

    /// The faces net's opening in small: a strided first convolution (no input gradient) and a
    /// 5×5 one (input gradient), each fused with the overlapping pooling after it, the first
    /// pooling's channel sums feeding the batch norm after it.
    #[test]
    fn taped_step_matches_autograd_with_fused_convolution_and_pooling_pairs() {
        let dev = Device::Cpu;
        let build = || {
            let pool = || MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same);
            let mut m = Sequential::new(Input::image(40, 40, 3), &dev).seed(11);
            m.add(Conv2D::new(16, (11, 11)).strides((4, 4)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
            m.add(pool()).unwrap();
            m.add(BatchNormalization::new()).unwrap();
            m.add(Conv2D::new(32, (5, 5)).padding(Padding::Same).activation(Activation::Relu)).unwrap();
            m.add(pool()).unwrap();
            m.add(Flatten::new()).unwrap();
            m.add(Dense::new(3).activation(Activation::Softmax)).unwrap();
            m
        };
        let x = normal_inputs(&[5, 3, 40, 40], 5);
        let y = Tensor::new(&[0u32, 1, 2, 1, 0], &dev).unwrap();
        assert_taped_matches_autograd(build, &x, &y);
    }
}
