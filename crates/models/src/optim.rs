//! Optimisers with Keras 3's defaults and update rules, and the losses `compile` names.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var, D};

use crate::sequential::VarKey;

use crate::error::{ModelError, Result};

/// Keras's optimisers, with Keras's default hyperparameters.
///
/// ```
/// use candlebook_models::Optimizer;
/// assert_eq!(Optimizer::adam(), Optimizer::Adam { learning_rate: 1e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 });
/// assert_eq!(Optimizer::rmsprop().learning_rate(), 1e-3);
/// let sgd = Optimizer::sgd(0.01).with_momentum(0.9);
/// assert!(matches!(sgd, Optimizer::Sgd { momentum, .. } if momentum == 0.9));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// `keras.optimizers.Adam()`.
    Adam { learning_rate: f32, beta_1: f32, beta_2: f32, epsilon: f32 },
    /// `keras.optimizers.RMSprop()` (what `compile` uses when no optimiser is named).
    RmsProp { learning_rate: f32, rho: f32, epsilon: f32 },
    /// `keras.optimizers.SGD(learning_rate, momentum)`.
    Sgd { learning_rate: f32, momentum: f32 },
}

impl Optimizer {
    /// Adam: lr 1e-3, betas 0.9 / 0.999, epsilon 1e-7.
    pub fn adam() -> Self {
        Optimizer::Adam { learning_rate: 1e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }
    }
    /// RMSprop: lr 1e-3, rho 0.9, epsilon 1e-7.
    pub fn rmsprop() -> Self {
        Optimizer::RmsProp { learning_rate: 1e-3, rho: 0.9, epsilon: 1e-7 }
    }
    /// SGD with this learning rate and no momentum.
    pub fn sgd(learning_rate: f32) -> Self {
        Optimizer::Sgd { learning_rate, momentum: 0.0 }
    }
    /// The same optimiser with another learning rate.
    pub fn with_learning_rate(self, lr: f32) -> Self {
        match self {
            Optimizer::Adam { beta_1, beta_2, epsilon, .. } => Optimizer::Adam { learning_rate: lr, beta_1, beta_2, epsilon },
            Optimizer::RmsProp { rho, epsilon, .. } => Optimizer::RmsProp { learning_rate: lr, rho, epsilon },
            Optimizer::Sgd { momentum, .. } => Optimizer::Sgd { learning_rate: lr, momentum },
        }
    }
    /// SGD's momentum (other optimisers are returned unchanged).
    pub fn with_momentum(self, m: f32) -> Self {
        match self {
            Optimizer::Sgd { learning_rate, .. } => Optimizer::Sgd { learning_rate, momentum: m },
            other => other,
        }
    }
    /// The learning rate.
    pub fn learning_rate(&self) -> f32 {
        match *self {
            Optimizer::Adam { learning_rate, .. } | Optimizer::RmsProp { learning_rate, .. } | Optimizer::Sgd { learning_rate, .. } => learning_rate,
        }
    }
}

/// An optimiser with its per-variable state (moments, velocities) and step count.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    config: Optimizer,
    iterations: u64,
    /// Keyed by [`VarKey`], not by candle's tensor id: in a notebook, variables made in
    /// different cells can share an id (see `sequential/identity.rs`).
    slots: HashMap<VarKey, (Tensor, Option<Tensor>)>,
    /// Adam's moments for CPU f32 variables, updated by the fused in-place kernel.
    cpu_adam: HashMap<VarKey, crate::cpu::AdamMoments>,
}

impl OptimizerState {
    /// Fresh state for this optimiser.
    pub fn new(config: Optimizer) -> Self {
        Self { config, iterations: 0, slots: HashMap::new(), cpu_adam: HashMap::new() }
    }

    /// This state for a copy of the model whose variables `ids` maps old to new: the slots and
    /// moments of each variable move to its copy (the slot tensors are never changed in place,
    /// so sharing them is safe; the in-place Adam moments are copied).
    pub(crate) fn remapped(&self, ids: &HashMap<VarKey, VarKey>) -> OptimizerState {
        OptimizerState {
            config: self.config,
            iterations: self.iterations,
            slots: self.slots.iter().filter_map(|(id, s)| ids.get(id).map(|new| (*new, s.clone()))).collect(),
            cpu_adam: self.cpu_adam.iter().filter_map(|(id, m)| ids.get(id).map(|new| (*new, m.clone()))).collect(),
        }
    }

    /// The optimiser's settings.
    pub fn config(&self) -> Optimizer {
        self.config
    }

    /// Steps taken.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Applies one update to every variable that has a gradient, with Keras 3's formulas (scalars
    /// computed in f32 as Keras does for f32 variables).
    pub fn step(&mut self, vars: &[Var], grads: &GradStore) -> Result<()> {
        let pairs: Vec<(Var, Tensor)> = vars.iter().filter_map(|v| grads.get(v.as_tensor()).map(|g| (v.clone(), g.clone()))).collect();
        self.step_with(&pairs)
    }

    /// [`OptimizerState::step`] with each variable's gradient given beside it, rather than looked
    /// up by tensor id (which may repeat across notebook cells).
    pub(crate) fn step_with(&mut self, pairs: &[(Var, Tensor)]) -> Result<()> {
        let t = (self.iterations + 1) as f32;
        for (var, g) in pairs {
            // Gradients can carry the op graph of the step that made them; the slots below are
            // built from them, so without detaching, every step's slot would keep the previous
            // step's tensors alive (a leak of several weight-sized tensors per step).
            let g = &g.detach();
            if g.dims() != var.dims() {
                return Err(ModelError::Shape(format!("gradient of shape {:?} for a weight of shape {:?}", g.dims(), var.dims())));
            }
            let id = VarKey::of(var);
            if let Optimizer::Adam { learning_rate: lr, beta_1: b1, beta_2: b2, epsilon: eps } = self.config {
                let w = var.as_tensor();
                if crate::cpu::fast_cpu_kernels() && w.device().is_cpu() && w.dtype() == DType::F32 && w.is_contiguous() && g.dtype() == DType::F32 && !self.slots.contains_key(&id) {
                    let moments = self.cpu_adam.entry(id).or_insert_with(|| crate::cpu::AdamMoments::zeros(w.elem_count()));
                    let step = crate::cpu::AdamStep {
                        one_minus_b1: 1.0 - b1,
                        one_minus_b2: 1.0 - b2,
                        alpha: lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t)),
                        eps,
                    };
                    crate::cpu::adam_in_place(w, g, moments, step)?;
                    continue;
                }
            }
            let w = &var.as_tensor().detach();
            if !self.slots.contains_key(&id) {
                let second = matches!(self.config, Optimizer::Adam { .. }).then(|| w.zeros_like()).transpose()?;
                self.slots.insert(id, (w.zeros_like()?, second));
            }
            let (slot, second) = self.slots.get_mut(&id).ok_or_else(|| ModelError::Spec("optimizer state missing".into()))?;
            match self.config {
                Optimizer::Adam { learning_rate: lr, beta_1: b1, beta_2: b2, epsilon: eps } => {
                    let (m, v) = (slot, second);
                    let v_prev = v.clone().ok_or_else(|| ModelError::Spec("optimizer state lost its second moment".into()))?;
                    let alpha = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
                    let new_m = (&*m + ((g - &*m)? * (1.0 - b1) as f64)?)?;
                    let new_v = (&v_prev + ((g.sqr()? - &v_prev)? * (1.0 - b2) as f64)?)?;
                    let update = ((&new_m * alpha as f64)? / (new_v.sqrt()? + eps as f64)?)?;
                    var.set(&(w - update)?)?;
                    *m = new_m;
                    *v = Some(new_v);
                }
                Optimizer::RmsProp { learning_rate: lr, rho, epsilon: eps } => {
                    let vel = slot;
                    let new_vel = ((&*vel * rho as f64)? + (g.sqr()? * (1.0 - rho) as f64)?)?;
                    let inc = ((g * lr as f64)? / (&new_vel + eps as f64)?.sqrt()?)?;
                    var.set(&(w - inc)?)?;
                    *vel = new_vel;
                }
                Optimizer::Sgd { learning_rate: lr, momentum } => {
                    if momentum == 0.0 {
                        var.set(&(w - (g * lr as f64)?)?)?;
                    } else {
                        let m = slot;
                        let new_m = ((&*m * momentum as f64)? - (g * lr as f64)?)?;
                        var.set(&(w + &new_m)?)?;
                        *m = new_m;
                    }
                }
            }
        }
        self.iterations += 1;
        Ok(())
    }
}

/// The losses of Keras's `compile`, with Keras's `from_logits` meaning (`false`: the model outputs
/// probabilities, which are renormalised and clipped to `[1e-7, 1 - 1e-7]` as Keras does).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::Loss;
/// let p = Tensor::new(&[[0.25f32, 0.75]], &Device::Cpu)?;
/// let y = Tensor::new(&[[0f32, 1.0]], &Device::Cpu)?;
/// let l = Loss::CategoricalCrossentropy { from_logits: false }.compute(&p, &y)?.to_scalar::<f32>()?;
/// assert!((l - (-(0.75f32).ln())).abs() < 1e-6);
/// let labels = Tensor::new(&[1u32], &Device::Cpu)?;
/// let s = Loss::SparseCategoricalCrossentropy { from_logits: false }.compute(&p, &labels)?.to_scalar::<f32>()?;
/// assert!((s - l).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// One-hot targets `(N, K)`.
    CategoricalCrossentropy { from_logits: bool },
    /// Integer targets `(N,)`.
    SparseCategoricalCrossentropy { from_logits: bool },
    /// Targets in {0, 1}, same shape as the output; for a one-unit output `(N, 1)`, targets `(N,)`
    /// are taken as `(N, 1)`, as Keras does.
    BinaryCrossentropy { from_logits: bool },
}

const EPSILON: f64 = 1e-7;

impl Loss {
    /// `loss='categorical_crossentropy'`: one-hot targets, probabilities out.
    ///
    /// ```
    /// use candlebook_models::Loss;
    /// assert_eq!(Loss::categorical_crossentropy(), Loss::CategoricalCrossentropy { from_logits: false });
    /// ```
    pub fn categorical_crossentropy() -> Self {
        Loss::CategoricalCrossentropy { from_logits: false }
    }

    /// `loss='sparse_categorical_crossentropy'`: integer targets, probabilities out.
    pub fn sparse_categorical_crossentropy() -> Self {
        Loss::SparseCategoricalCrossentropy { from_logits: false }
    }

    /// `loss='binary_crossentropy'`: 0/1 targets, probabilities out.
    pub fn binary_crossentropy() -> Self {
        Loss::BinaryCrossentropy { from_logits: false }
    }

    /// The loss as Keras's TensorFlow backend computes it for a model output: when the output came
    /// from a softmax (for the categorical losses) or a sigmoid (for binary cross-entropy) and
    /// `from_logits` is false, Keras uses the logits behind it instead of the clipped
    /// probabilities. `logits` is what [`crate::Sequential::forward_with_logits`] returns.
    pub fn compute_keras(&self, output: &Tensor, logits: Option<&(Tensor, crate::spec::Activation)>, target: &Tensor) -> Result<Tensor> {
        use crate::spec::Activation::{Sigmoid, Softmax};
        match (*self, logits) {
            (Loss::CategoricalCrossentropy { from_logits: false }, Some((z, Softmax))) => {
                Loss::CategoricalCrossentropy { from_logits: true }.compute(z, target)
            }
            (Loss::SparseCategoricalCrossentropy { from_logits: false }, Some((z, Softmax))) => {
                Loss::SparseCategoricalCrossentropy { from_logits: true }.compute(z, target)
            }
            (Loss::BinaryCrossentropy { from_logits: false }, Some((z, Sigmoid))) => Loss::BinaryCrossentropy { from_logits: true }.compute(z, target),
            _ => self.compute(output, target),
        }
    }

    /// Mean loss over the batch (Keras's `sum_over_batch_size` reduction).
    ///
    /// Targets whose rank differs from the output's by a last axis of size 1 are squeezed or
    /// expanded first, as Keras's loss wrapper does: binary targets `(N,)` fit a one-unit output
    /// `(N, 1)`. Any other difference of shapes is an error that names both shapes and the shape
    /// expected (Keras raises one too).
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::Loss;
    /// let p = Tensor::new(&[[0.9f32], [0.2]], &Device::Cpu)?;
    /// let bce = Loss::binary_crossentropy();
    /// let a = bce.compute(&p, &Tensor::new(&[1f32, 0.0], &Device::Cpu)?)?.to_scalar::<f32>()?;
    /// let b = bce.compute(&p, &Tensor::new(&[[1f32], [0.0]], &Device::Cpu)?)?.to_scalar::<f32>()?;
    /// assert_eq!(a, b);
    /// let e = bce.compute(&p, &Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &Device::Cpu)?).unwrap_err();
    /// assert!(e.to_string().contains("expected targets of shape [2, 1] or [2]"), "{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compute(&self, output: &Tensor, target: &Tensor) -> Result<Tensor> {
        let per_example = match *self {
            Loss::CategoricalCrossentropy { from_logits } => {
                let (target, output) = &same_rank(target, output)?;
                if target.dims() != output.dims() {
                    return Err(shape_error("categorical cross-entropy", target, output, "one-hot targets"));
                }
                let logp = log_probs(output, from_logits)?;
                (target.to_dtype(logp.dtype())? * logp)?.sum(D::Minus1)?.neg()?
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                let (n, k) = output.dims2()?;
                let labels = target.flatten_all()?.to_dtype(candle_core::DType::U32)?;
                if labels.elem_count() != n {
                    return Err(ModelError::Shape(format!("sparse categorical cross-entropy: {} labels for {n} outputs", labels.elem_count())));
                }
                let max = labels.max(0)?.to_scalar::<u32>()? as usize;
                if max >= k {
                    return Err(ModelError::LabelOutOfRange { what: "targets", label: max, index: 0, n_classes: k });
                }
                let logp = log_probs(output, from_logits)?;
                logp.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?
            }
            Loss::BinaryCrossentropy { from_logits } => {
                let (y, output) = &same_rank(&target.to_dtype(output.dtype())?, output)?;
                if y.dims() != output.dims() {
                    return Err(shape_error("binary cross-entropy", target, output, "targets of 0 and 1"));
                }
                let l = if from_logits {
                    // TensorFlow's sigmoid_cross_entropy_with_logits: max(z, 0) - z·y + log(1 + e^-|z|)
                    let z = output;
                    ((z.relu()? - (z * y)?)? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?
                } else {
                    let p = crate::ops::clamp_keep_nan(output, EPSILON as f32 as f64, (1.0 - EPSILON) as f32 as f64)?;
                    ((y * p.log()?)? + ((y.affine(-1.0, 1.0))? * p.affine(-1.0, 1.0)?.log()?)?)?.neg()?
                };
                if l.rank() > 1 {
                    l.mean(D::Minus1)?
                } else {
                    l
                }
            }
        };
        Ok(per_example.mean_all()?)
    }
}

/// Keras's `squeeze_or_expand_to_same_rank(target, output)`: when the ranks differ by one and the
/// longer shape ends in 1, that axis is dropped (or, against a rank-1 shape, the other one gains
/// it): targets `(N,)` against outputs `(N, 1)` become `(N, 1)`.
pub(crate) fn same_rank(target: &Tensor, output: &Tensor) -> Result<(Tensor, Tensor)> {
    let (t, o) = (target.rank(), output.rank());
    let (mut target, mut output) = (target.clone(), output.clone());
    if t == o + 1 && target.dims().last() == Some(&1) {
        if o == 1 {
            output = output.unsqueeze(1)?;
        } else {
            target = target.squeeze(t - 1)?;
        }
    } else if o == t + 1 && output.dims().last() == Some(&1) {
        if t == 1 {
            target = target.unsqueeze(1)?;
        } else {
            output = output.squeeze(o - 1)?;
        }
    }
    Ok((target, output))
}

/// A loss whose targets do not fit the output: both shapes, and the target shapes that would.
fn shape_error(loss: &str, target: &Tensor, output: &Tensor, what: &str) -> ModelError {
    let want = output.dims();
    let alternatives = match want {
        [n, 1] => format!("{want:?} or [{n}]"),
        _ => format!("{want:?}"),
    };
    ModelError::Shape(format!("{loss}: targets of shape {:?} do not fit outputs of shape {:?}: expected targets of shape {alternatives} ({what})", target.dims(), want))
}

fn log_probs(output: &Tensor, from_logits: bool) -> Result<Tensor> {
    if from_logits {
        let m = output.max_keepdim(D::Minus1)?;
        let shifted = output.broadcast_sub(&m)?;
        let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
        Ok(shifted.broadcast_sub(&lse)?)
    } else {
        let p = output.broadcast_div(&output.sum_keepdim(D::Minus1)?)?;
        Ok(crate::ops::clamp_keep_nan(&p, EPSILON as f32 as f64, (1.0 - EPSILON) as f32 as f64)?.log()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The optimiser's state must neither grow with the number of steps (one slot per variable)
    /// nor hold on to the op graph of earlier steps: either one leaks memory in every step (a
    /// notebook that trained a dense net on 16,384 inputs ran out of 24 GB).
    #[test]
    fn state_stays_one_detached_slot_per_variable() -> Result<()> {
        let dev = Device::Cpu;
        let w = Var::from_tensor(&Tensor::new(&[[0.5f32, -0.25], [0.1, 0.2]], &dev)?)?;
        let b = Var::from_tensor(&Tensor::new(&[0.0f32, 0.1], &dev)?)?;
        let x = Tensor::new(&[[1.0f32, 2.0], [3.0, -1.0]], &dev)?;
        for config in [Optimizer::adam(), Optimizer::rmsprop(), Optimizer::Sgd { learning_rate: 0.1, momentum: 0.9 }] {
            // (Adam on CPU f32 variables keeps its moments in plain vectors: nothing to leak.)
            let mut state = OptimizerState::new(config);
            for _ in 0..5 {
                let loss = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?.sqr()?.sum_all()?;
                let mut grads = loss.backward()?;
                // A gradient that still carries an op graph (as the taped step's can).
                let tracked = (grads.get(w.as_tensor()).cloned().ok_or(ModelError::Spec("no grad".into()))? + (w.as_tensor() * 0.0)?)?;
                assert!(tracked.track_op());
                grads.insert(w.as_tensor(), tracked);
                state.step(&[w.clone(), b.clone()], &grads)?;
            }
            assert_eq!(state.slots.len() + state.cpu_adam.len(), 2, "{config:?}");
            for (m, v) in state.slots.values() {
                assert!(!m.track_op(), "{config:?}: a slot keeps an op graph");
                assert!(v.as_ref().is_none_or(|v| !v.track_op()), "{config:?}: a second moment keeps an op graph");
            }
            assert_eq!(state.iterations(), 5);
        }
        Ok(())
    }
}
