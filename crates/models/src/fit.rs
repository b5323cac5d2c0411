//! Keras's `compile` / `fit` / `evaluate`: epochs of shuffled mini-batches, one printed line per
//! epoch, a [`History`], validation, and the EarlyStopping and ModelCheckpoint callbacks.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Tensor};
use candlebook_data::ImageDataGenerator;

use crate::error::{ModelError, Result};
use crate::evaluation::Evaluation;
use crate::history::History;
use crate::optim::{Loss, Optimizer, OptimizerState};
use crate::sequential::{Sequential, SplitMix};

/// What `compile` fixed: the optimiser (with its state, so training continues across `fit` calls),
/// the loss and whether to report accuracy.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(crate) optimizer: OptimizerState,
    pub(crate) loss: Loss,
    pub(crate) accuracy: bool,
}

/// Keras's `monitor` direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
}

fn mode_for(monitor: &str) -> Mode {
    if monitor.contains("acc") {
        Mode::Max
    } else {
        Mode::Min
    }
}

/// Keras's `MonitorCallback._is_improvement`: whether `current` beats `best` by more than
/// `min_delta` in `mode`'s direction. Keras compares the two as float32 tensors (`ops.less` /
/// `ops.greater` of Python floats), so differences below float32's resolution are no
/// improvement; NaN never improves on a value, and anything improves on no value.
fn improves(mode: Mode, current: f64, best: Option<f64>, min_delta: f64) -> bool {
    let Some(best) = best else { return true };
    let d = min_delta.abs();
    match mode {
        Mode::Min => ((current + d) as f32) < best as f32,
        Mode::Max => ((current - d) as f32) > best as f32,
    }
}

/// Keras's EarlyStopping bookkeeping for one `fit`: the best value so far, its epoch, and
/// `wait`, the epochs since the last improvement.
#[derive(Debug, Clone)]
struct Stopper {
    mode: Mode,
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    best_epoch: usize,
    wait: usize,
}

/// What [`Stopper::epoch_end`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The monitored value improved: keep this epoch's weights if restoring.
    Improved,
    /// No improvement, patience left.
    Wait,
    /// No improvement for `patience` epochs: stop after this epoch.
    Stop,
}

impl Stopper {
    fn new(es: &EarlyStopping) -> Self {
        Stopper { mode: mode_for(&es.monitor), patience: es.patience, min_delta: es.min_delta, best: None, best_epoch: 0, wait: 0 }
    }

    /// Keras's `EarlyStopping.on_epoch_end` (epochs from 0): `wait` counts every epoch and
    /// restarts at an improvement; training stops once `wait >= patience` (after the first
    /// epoch), so patience 3 without any improvement after the first epoch runs 4 epochs.
    fn epoch_end(&mut self, epoch: usize, current: f64) -> Verdict {
        self.wait += 1;
        if improves(self.mode, current, self.best, self.min_delta) {
            self.best = Some(current);
            self.best_epoch = epoch;
            self.wait = 0;
            return Verdict::Improved;
        }
        if self.wait >= self.patience && epoch > 0 {
            Verdict::Stop
        } else {
            Verdict::Wait
        }
    }
}

/// `keras.callbacks.EarlyStopping(monitor, patience, restore_best_weights, min_delta)`, with
/// Keras 3's rules: an epoch improves when the monitored value beats the best so far by more
/// than `min_delta` (compared in float32, as Keras does; lower is better for losses, higher for
/// accuracies); training stops after `patience` epochs in a row without improvement (at least
/// one), so patience 3 with no improvement after the first epoch runs 4 epochs; with
/// `restore_best_weights`, the weights of the best epoch are put back when training ends,
/// whether it stopped early or ran all its epochs.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::*;
/// let es = EarlyStopping::new("loss").patience(3).restore_best_weights(true);
/// assert_eq!(es.patience, 3);
/// // a learning rate of 0: the loss never improves after the first epoch
/// let mut m = Sequential::new(Input::flat(2), &Device::Cpu).seed(1);
/// m.add(Dense::new(2).activation(Activation::Softmax))?;
/// m.compile(Optimizer::sgd(0.0), Loss::sparse_categorical_crossentropy(), false);
/// let x = Tensor::new(&[[0f32, 1.0], [1.0, 0.0]], &Device::Cpu)?;
/// let y = Tensor::new(&[1u32, 0], &Device::Cpu)?;
/// let h = m.fit(&x, &y, Fit::new().epochs(10).early_stopping(es).verbose(false))?;
/// assert_eq!(h.epochs(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    /// Metric watched, e.g. `"val_loss"`.
    pub monitor: String,
    /// Epochs in a row without improvement after which training stops (0 and 1 both stop at the
    /// first epoch that does not improve).
    pub patience: usize,
    /// Put back the weights of the best epoch when stopping (or at the end).
    pub restore_best: bool,
    /// An improvement must beat the best value by more than this (its absolute value).
    pub min_delta: f64,
}

impl EarlyStopping {
    /// Watch `monitor`, patience 0, keep the last weights.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self { monitor: monitor.into(), patience: 0, restore_best: false, min_delta: 0.0 }
    }
    /// `patience=...`.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// `restore_best_weights=...`.
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best = on;
        self
    }
    /// `min_delta=...`.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.min_delta = d.abs();
        self
    }
}

/// `keras.callbacks.ModelCheckpoint(path, monitor, save_best_only)`; files are written atomically.
/// "Best" follows Keras's comparison (see [`EarlyStopping`]) with no `min_delta`.
///
/// ```
/// let cp = candlebook_models::ModelCheckpoint::new("best.safetensors").monitor("val_accuracy").save_best_only(true);
/// assert!(cp.save_best_only);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCheckpoint {
    /// Where the model is saved.
    pub path: PathBuf,
    /// Metric deciding "best".
    pub monitor: String,
    /// Save only when the monitored metric improves.
    pub save_best_only: bool,
}

impl ModelCheckpoint {
    /// Save after every epoch to `path`, watching `val_loss`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), monitor: "val_loss".into(), save_best_only: false }
    }
    /// `monitor=...`.
    pub fn monitor(mut self, m: impl Into<String>) -> Self {
        self.monitor = m.into();
        self
    }
    /// `save_best_only=...`.
    pub fn save_best_only(mut self, on: bool) -> Self {
        self.save_best_only = on;
        self
    }
}

/// Where validation data comes from.
#[derive(Debug, Clone)]
pub enum Validation {
    /// No validation.
    None,
    /// `validation_data=(x, y)`.
    Data(Tensor, Tensor),
    /// `validation_split=f`: the last fraction of the data, before shuffling, as Keras does.
    Split(f64),
}

/// The arguments of `model.fit(...)`.
///
/// ```
/// use candlebook_models::Fit;
/// let f = Fit::new().epochs(14).batch_size(64).validation_split(0.2).seed(7);
/// assert_eq!((f.epochs, f.batch_size), (14, 64));
/// ```
#[derive(Debug, Clone)]
pub struct Fit {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Shuffle the training data every epoch.
    pub shuffle: bool,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Validation data.
    pub validation: Validation,
    /// Print one line per epoch.
    pub verbose: bool,
    /// Early stopping, if any.
    pub early_stopping: Option<EarlyStopping>,
    /// Checkpointing, if any.
    pub checkpoint: Option<ModelCheckpoint>,
    /// Random augmentation of every training batch, if any.
    pub augmentation: Option<ImageDataGenerator>,
}

impl Default for Fit {
    fn default() -> Self {
        Self { epochs: 1, batch_size: 32, shuffle: true, seed: 0, validation: Validation::None, verbose: true, early_stopping: None, checkpoint: None, augmentation: None }
    }
}

impl Fit {
    /// Keras's defaults: 1 epoch, batch 32, shuffled, verbose.
    pub fn new() -> Self {
        Self::default()
    }
    /// `epochs=...`.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    /// `batch_size=...`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// `shuffle=...`.
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }
    /// Seed of the shuffling.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// `validation_data=(x, y)`.
    pub fn validation_data(mut self, x: &Tensor, y: &Tensor) -> Self {
        self.validation = Validation::Data(x.clone(), y.clone());
        self
    }
    /// `validation_split=...`.
    pub fn validation_split(mut self, f: f64) -> Self {
        self.validation = Validation::Split(f);
        self
    }
    /// `verbose=...`.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }
    /// `callbacks=[EarlyStopping(...)]`.
    pub fn early_stopping(mut self, es: EarlyStopping) -> Self {
        self.early_stopping = Some(es);
        self
    }
    /// `callbacks=[ModelCheckpoint(...)]`.
    pub fn checkpoint(mut self, cp: ModelCheckpoint) -> Self {
        self.checkpoint = Some(cp);
        self
    }
    /// Keras's `model.fit(datagen.flow(x, y, batch_size=...))`: every training batch is
    /// augmented with fresh random transforms (seeded by [`Fit::seed`], the epoch and the batch)
    /// just before its step, on the data's device; the data itself is never copied whole, and
    /// validation data is never augmented. The generator's parameters are checked when `fit`
    /// starts.
    ///
    /// ```
    /// use candlebook_data::ImageDataGenerator;
    /// use candlebook_models::Fit;
    /// let datagen = ImageDataGenerator::new().rotation_range(10.0).zoom_range(0.1)
    ///     .width_shift_range(0.1).height_shift_range(0.1).horizontal_flip(true);
    /// let f = Fit::new().epochs(20).augment(datagen);
    /// assert!(f.augmentation.is_some());
    /// ```
    pub fn augment(mut self, datagen: ImageDataGenerator) -> Self {
        self.augmentation = Some(datagen);
        self
    }
}

/// The seed of one batch's augmentation: the fit's seed, the epoch and the batch mixed, so that
/// every batch of every epoch sees other transforms and a rerun sees the same ones.
fn augmentation_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (batch as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

/// The accuracy Keras's `metrics=["accuracy"]` stands for, which Keras picks from the shapes of
/// the targets and the output (`compile_utils.get_metric`), whatever the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accuracy {
    /// One output unit: `BinaryAccuracy`, the output above 0.5 (also for a model whose loss
    /// takes logits, as Keras does) equal to the target.
    Binary,
    /// Integer targets: `SparseCategoricalAccuracy`, the output's argmax equal to the target.
    Sparse,
    /// Otherwise `CategoricalAccuracy`: the output's argmax equal to the target's.
    Categorical,
}

impl Accuracy {
    /// Keras's `is_binary_or_sparse_categorical(y_true, y_pred)`.
    fn for_shapes(target: &[usize], output: &[usize]) -> Accuracy {
        let (t_last, o_last) = (target.last().copied().unwrap_or(1), output.last().copied().unwrap_or(1));
        if o_last == 1 {
            Accuracy::Binary
        } else if target.len() < output.len() || (t_last == 1 && o_last > 1) {
            Accuracy::Sparse
        } else {
            Accuracy::Categorical
        }
    }
}

/// The index of the first largest value (TensorFlow's `argmax`).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// The sum over the batch of each example's accuracy (Keras averages over the rest of an
/// example's values first, then over examples), as Keras's `metrics=["accuracy"]` computes it
/// (see [`Accuracy`]). Shapes that do not fit are an error naming them.
fn correct(output: &Tensor, target: &Tensor) -> Result<f64> {
    let n = output.dim(0)?;
    let kind = Accuracy::for_shapes(target.dims(), output.dims());
    let mismatch = || {
        ModelError::Shape(format!("accuracy ({kind:?}): targets of shape {:?} do not fit outputs of shape {:?}", target.dims(), output.dims()))
    };
    let values = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?) };
    // per-value matches, grouped by example below
    let matches: Vec<bool> = match kind {
        Accuracy::Binary => {
            let (t, o) = crate::optim::same_rank(target, output)?;
            if t.dims() != o.dims() {
                return Err(mismatch());
            }
            let (t, o) = (values(&t)?, values(&o)?);
            // `ops.equal(y_true, cast(y_pred > 0.5))`: a soft target matches nothing
            t.iter().zip(&o).map(|(&t, &p)| t == if p > 0.5 { 1.0 } else { 0.0 }).collect()
        }
        Accuracy::Sparse | Accuracy::Categorical => {
            let k = output.dims().last().copied().unwrap_or(1).max(1);
            let predicted: Vec<usize> = values(output)?.chunks(k).map(argmax).collect();
            let wanted: Vec<f32> = if kind == Accuracy::Sparse {
                values(target)?
            } else {
                if target.dims() != output.dims() {
                    return Err(mismatch());
                }
                values(target)?.chunks(k).map(|row| argmax(row) as f32).collect()
            };
            if wanted.len() != predicted.len() {
                return Err(mismatch());
            }
            wanted.iter().zip(&predicted).map(|(&t, &p)| t == p as f32).collect()
        }
    };
    if n == 0 || matches.len() % n != 0 {
        return Err(mismatch());
    }
    let per = matches.len() / n;
    Ok(matches.chunks(per).map(|m| m.iter().filter(|&&ok| ok).count() as f64 / per as f64).sum())
}

impl Sequential {
    /// `model.compile(optimizer, loss, metrics=["accuracy"])`. Compiling again resets the
    /// optimiser's state.
    pub fn compile(&mut self, optimizer: Optimizer, loss: Loss, accuracy: bool) {
        self.compiled = Some(Compiled { optimizer: OptimizerState::new(optimizer), loss, accuracy });
    }

    fn compiled_or_err(&self) -> Result<&Compiled> {
        self.compiled.as_ref().ok_or_else(|| ModelError::Spec("call compile(optimizer, loss, accuracy) before fit/evaluate".into()))
    }

    /// `model.evaluate(x, y, batch_size)`: the loss (with Keras's L2 terms) and, if compiled with
    /// it, the accuracy, in inference mode and in batches, as an [`Evaluation`]: Keras's
    /// `score[0]` is `score.loss()`, `score[1]` is `score.accuracy()?`, and printing it gives
    /// Keras's `loss: 0.1234 - accuracy: 0.9876`.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let dev = Device::Cpu;
    /// let mut model = Sequential::new(Input::flat(2), &dev).seed(0);
    /// model.add(Dense::new(2).activation(Activation::Softmax))?;
    /// model.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
    /// let (x, y) = (Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &dev)?, Tensor::new(&[0u32, 1], &dev)?);
    /// println!("Test accuracy: {:.5}", model.evaluate(&x, &y, 32)?.accuracy()?);
    /// println!("{}", model.evaluate(&x, &y, 32)?); // e.g. "loss: 0.6931 - accuracy: 0.5000"
    /// # Ok::<(), candlebook_models::ModelError>(())
    /// ```
    pub fn evaluate(&self, x: &Tensor, y: &Tensor, batch_size: usize) -> Result<Evaluation> {
        let c = self.compiled_or_err()?;
        self.evaluate_with(x, y, batch_size, c.loss, c.accuracy)
    }

    fn evaluate_with(&self, x: &Tensor, y: &Tensor, batch_size: usize, loss: Loss, accuracy: bool) -> Result<Evaluation> {
        let n = x.dim(0)?;
        if y.dim(0)? != n {
            return Err(ModelError::LengthMismatch { what: "examples vs targets".into(), left: n, right: y.dim(0)? });
        }
        let bs = batch_size.max(1);
        let (mut loss_sum, mut right) = (0.0, 0.0);
        let mut start = 0;
        while start < n {
            let len = bs.min(n - start);
            let (xb, yb) = (x.narrow(0, start, len)?, y.narrow(0, start, len)?);
            let (out, logits) = self.forward_with_logits(&xb, false)?;
            loss_sum += loss.compute_keras(&out, logits.as_ref(), &yb)?.to_dtype(DType::F64)?.to_scalar::<f64>()? * len as f64;
            if accuracy {
                right += correct(&out, &yb)?;
            }
            start += len;
        }
        let reg = match self.regularization_loss()? {
            Some(r) => r.to_dtype(DType::F64)?.to_scalar::<f64>()?,
            None => 0.0,
        };
        let n = n.max(1) as f64;
        Ok(Evaluation::new(loss_sum / n + reg, accuracy.then(|| right / n)))
    }

    fn snapshot(&self) -> Result<Vec<Tensor>> {
        let mut v = Vec::new();
        for l in self.layers() {
            for (_, var) in l.weights() {
                v.push(var.as_tensor().copy()?);
            }
        }
        Ok(v)
    }

    fn restore(&self, snap: &[Tensor]) -> Result<()> {
        let vars: Vec<_> = self.layers().iter().flat_map(|l| l.weights().into_iter().map(|(_, v)| v.clone())).collect();
        for (var, t) in vars.iter().zip(snap) {
            var.set(t)?;
        }
        Ok(())
    }

    /// `model.fit(x, y, ...)`: trains for the given epochs and returns the per-epoch metrics. Each
    /// epoch prints one line (loss, accuracy, validation metrics, seconds, images/s). Calling it
    /// again continues training (the optimiser keeps its state). A NaN/inf loss stops training with
    /// an error naming the epoch and batch.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor, opts: Fit) -> Result<History> {
        let n_all = x.dim(0)?;
        if y.dim(0)? != n_all {
            return Err(ModelError::LengthMismatch { what: "examples vs targets".into(), left: n_all, right: y.dim(0)? });
        }
        if opts.batch_size == 0 || opts.epochs == 0 {
            return Err(ModelError::Spec("epochs and batch_size must be positive".into()));
        }
        if let Some(datagen) = &opts.augmentation {
            datagen.validate()?;
            if x.rank() != 4 {
                return Err(ModelError::Shape(format!("augmentation needs image batches (N, C, H, W), got inputs of shape {:?}", x.dims())));
            }
        }
        let (x_train, y_train, val) = match &opts.validation {
            Validation::None => (x.clone(), y.clone(), None),
            Validation::Data(vx, vy) => (x.clone(), y.clone(), Some((vx.clone(), vy.clone()))),
            Validation::Split(f) => {
                if !(0.0..1.0).contains(f) {
                    return Err(ModelError::Spec(format!("validation_split must be in [0, 1), got {f}")));
                }
                let n_val = ((n_all as f64) * f).floor() as usize;
                let n_tr = n_all - n_val;
                let v = if n_val > 0 { Some((x.narrow(0, n_tr, n_val)?, y.narrow(0, n_tr, n_val)?)) } else { None };
                (x.narrow(0, 0, n_tr)?, y.narrow(0, 0, n_tr)?, v)
            }
        };
        let n = x_train.dim(0)?;
        if n == 0 {
            return Err(ModelError::Empty("no training examples".into()));
        }
        let mut compiled = self.compiled.take().ok_or_else(|| ModelError::Spec("call compile(optimizer, loss, accuracy) before fit".into()))?;
        let result = self.fit_epochs(&x_train, &y_train, val.as_ref(), &opts, &mut compiled);
        self.compiled = Some(compiled);
        result
    }

    fn fit_epochs(&self, x: &Tensor, y: &Tensor, val: Option<&(Tensor, Tensor)>, opts: &Fit, c: &mut Compiled) -> Result<History> {
        let n = x.dim(0)?;
        let mut history = History::new();
        let mut stopper = opts.early_stopping.as_ref().map(Stopper::new);
        // the weights of the best epoch so far, when they are to be restored
        let mut best_weights: Option<Vec<Tensor>> = None;
        let mut best_ckpt: Option<f64> = None;
        for epoch in 0..opts.epochs {
            let start = Instant::now();
            let mut order: Vec<u32> = (0..n as u32).collect();
            if opts.shuffle {
                let mut rng = SplitMix(opts.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9));
                for i in (1..n).rev() {
                    let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                    order.swap(i, j);
                }
            }
            let idx = Tensor::new(order, x.device())?;
            let (mut loss_sum, mut right) = (0.0f64, 0.0f64);
            let mut b = 0;
            while b * opts.batch_size < n {
                let s = b * opts.batch_size;
                let len = opts.batch_size.min(n - s);
                let bi = idx.narrow(0, s, len)?;
                let (mut xb, yb) = (x.index_select(&bi, 0)?, y.index_select(&bi.to_device(y.device())?, 0)?);
                if let Some(datagen) = &opts.augmentation {
                    xb = datagen.augment(&xb, augmentation_seed(opts.seed, epoch, b))?;
                }
                let (l, out) = match self.train_step_with_output(&xb, &yb, &c.loss, &mut c.optimizer) {
                    Ok(v) => v,
                    Err(ModelError::NonFinite(msg)) => {
                        return Err(ModelError::NonFinite(format!("epoch {}, batch {}: {msg}", epoch + 1, b + 1)))
                    }
                    Err(e) => return Err(e),
                };
                loss_sum += l as f64 * len as f64;
                if c.accuracy {
                    right += correct(&out, &yb)?;
                }
                b += 1;
            }
            let mut metrics: Vec<(String, f64)> = vec![("loss".into(), loss_sum / n as f64)];
            if c.accuracy {
                metrics.push(("accuracy".into(), right / n as f64));
            }
            if let Some((vx, vy)) = val {
                let ev = self.evaluate_with(vx, vy, opts.batch_size, c.loss, c.accuracy)?;
                metrics.extend(ev.metrics().into_iter().map(|(k, v)| (format!("val_{k}"), v)));
            }
            let secs = start.elapsed().as_secs_f64();
            let pairs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            history.record(&pairs);
            if opts.verbose {
                let parts: Vec<String> = metrics.iter().map(|(k, v)| format!("{k}: {v:.4}")).collect();
                println!(
                    "Epoch {}/{} - {:.1}s - {} - {:.0} img/s",
                    epoch + 1,
                    opts.epochs,
                    secs,
                    parts.join(" - "),
                    n as f64 / secs.max(1e-9)
                );
            }
            let get = |name: &str| -> Result<f64> {
                metrics.iter().find(|(k, _)| k == name).map(|(_, v)| *v).ok_or_else(|| {
                    ModelError::Spec(format!("callback monitors '{name}', which this fit does not compute ({})", metrics.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")))
                })
            };
            if let Some(cp) = &opts.checkpoint {
                let v = get(&cp.monitor)?;
                let better = improves(mode_for(&cp.monitor), v, best_ckpt, 0.0);
                if !cp.save_best_only || better {
                    self.save(&cp.path)?;
                }
                if better {
                    best_ckpt = Some(v);
                }
            }
            if let (Some(es), Some(stopper)) = (&opts.early_stopping, stopper.as_mut()) {
                let v = get(&es.monitor)?;
                match stopper.epoch_end(epoch, v) {
                    Verdict::Improved => {
                        if es.restore_best {
                            best_weights = Some(self.snapshot()?);
                        }
                    }
                    Verdict::Wait => {}
                    Verdict::Stop => {
                        if opts.verbose {
                            println!("Epoch {}: early stopping ({} did not improve for {} epochs)", epoch + 1, es.monitor, stopper.wait);
                        }
                        break;
                    }
                }
            }
        }
        // Keras restores the best weights when training ends, stopped early or not
        if let (Some(es), Some(stopper), Some(snap)) = (&opts.early_stopping, &stopper, &best_weights) {
            if es.restore_best {
                if opts.verbose {
                    println!("Restoring model weights from the end of the best epoch: {} (best {})", stopper.best_epoch + 1, es.monitor);
                }
                self.restore(snap)?;
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EarlyStopping's decisions against Keras's, epoch by epoch: each case of
    /// `tests/fixtures/keras_early_stopping.json` (made by `scripts/make-keras-fixtures`) is a
    /// Keras fit whose monitored value a callback scripted, with the epochs Keras ran, its best
    /// epoch and the epoch whose weights the model held afterwards.
    #[test]
    fn early_stopping_decides_as_keras_does() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keras_early_stopping.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let value = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) if s == "nan" => f64::NAN,
            v => v.as_f64().unwrap(),
        };
        let mut checked = 0;
        for case in doc["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let es = EarlyStopping::new(case["monitor"].as_str().unwrap())
                .patience(case["patience"].as_u64().unwrap() as usize)
                .min_delta(case["min_delta"].as_f64().unwrap())
                .restore_best_weights(case["restore_best_weights"].as_bool().unwrap());
            let values: Vec<f64> = case["values"].as_array().unwrap().iter().map(value).collect();
            let keras = &case["keras"];
            let mut stopper = Stopper::new(&es);
            let (mut epochs, mut stopped, mut restored) = (0, 0, None);
            for (epoch, &v) in values.iter().enumerate().take(case["max_epochs"].as_u64().unwrap() as usize) {
                epochs = epoch + 1;
                match stopper.epoch_end(epoch, v) {
                    Verdict::Improved => restored = Some(epoch + 1),
                    Verdict::Wait => {}
                    Verdict::Stop => {
                        stopped = epoch + 1;
                        break;
                    }
                }
            }
            assert_eq!(epochs as u64, keras["epochs_run"].as_u64().unwrap(), "{name}: epochs run");
            assert_eq!(stopped as u64, keras["stopped_epoch"].as_u64().unwrap(), "{name}: stopping epoch");
            assert_eq!(stopper.best_epoch as u64 + 1, keras["best_epoch"].as_u64().unwrap(), "{name}: best epoch");
            if let Some(held) = keras["weights_of_epoch"].as_u64() {
                let ours = if es.restore_best { restored.unwrap() } else { epochs };
                assert_eq!(ours as u64, held, "{name}: the epoch whose weights the model keeps");
            }
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} cases");
    }

    /// The comparison is Keras's float32 one, and NaN never improves.
    #[test]
    fn improvement_is_compared_in_float32() {
        assert!(!improves(Mode::Min, 0.99999999, Some(1.0), 0.0));
        assert!(improves(Mode::Min, 0.9999999, Some(1.0), 0.0));
        assert!(!improves(Mode::Min, f64::NAN, Some(1.0), 0.0));
        assert!(improves(Mode::Min, f64::NAN, None, 0.0));
        assert!(improves(Mode::Max, 0.7, Some(0.6), 0.05));
        assert!(!improves(Mode::Max, 0.64, Some(0.6), 0.05));
    }
}
