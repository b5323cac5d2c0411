//! `Sequential`: a stack of Keras-style layers with Keras's shapes, parameter counts, names and
//! arithmetic, computing on NCHW candle tensors.

use std::cell::Cell;
use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
mod identity;
mod taped;

pub(crate) use identity::VarKey;

use crate::ops::{avg_pool2d_keras, conv2d_activated, max_pool2d_keras, window_output};
use crate::spec::{Activation, LayerSpec, Padding};

/// The shape of one example, as Keras's `input_shape` (channels last for images).
///
/// ```
/// use candlebook_models::{Input, InputShape};
/// let shape = Input::image(28, 28, 1);
/// assert_eq!(shape, InputShape::Image { height: 28, width: 28, channels: 1 });
/// assert_eq!(shape.keras_dims(), vec![28, 28, 1]);
/// assert_eq!(shape.batch_dims(32), vec![32, 1, 28, 28]);
/// assert_eq!(Input::flat(16384).keras_dims(), vec![16384]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputShape {
    /// An image `(height, width, channels)`; tensors are fed as `(N, C, H, W)`.
    Image { height: usize, width: usize, channels: usize },
    /// A flat vector of this many features; tensors are fed as `(N, features)`.
    Flat(usize),
}

/// Shorthands for [`InputShape`], read like Keras's `Input(shape=...)`.
///
/// ```
/// let s = candlebook_models::Input::flat(784);
/// assert_eq!(s.batch_dims(2), vec![2, 784]);
/// ```
pub struct Input;

impl Input {
    /// `Input(shape=(height, width, channels))`.
    pub fn image(height: usize, width: usize, channels: usize) -> InputShape {
        InputShape::Image { height, width, channels }
    }
    /// `Input(shape=(features,))`.
    pub fn flat(features: usize) -> InputShape {
        InputShape::Flat(features)
    }
}

impl InputShape {
    /// Keras's output-shape tuple without the batch axis: `(H, W, C)` or `(F,)`.
    pub fn keras_dims(&self) -> Vec<usize> {
        match *self {
            InputShape::Image { height, width, channels } => vec![height, width, channels],
            InputShape::Flat(n) => vec![n],
        }
    }

    /// The tensor shape of a batch of `n` examples: `(n, C, H, W)` or `(n, F)`.
    pub fn batch_dims(&self, n: usize) -> Vec<usize> {
        match *self {
            InputShape::Image { height, width, channels } => vec![n, channels, height, width],
            InputShape::Flat(f) => vec![n, f],
        }
    }

    fn features(&self) -> usize {
        match *self {
            InputShape::Image { channels, .. } => channels,
            InputShape::Flat(n) => n,
        }
    }
}

/// A layer's weights.
#[derive(Debug, Clone)]
pub(crate) enum Params {
    None,
    /// kernel `(out, in, kh, kw)`, bias `(out)`.
    Conv { kernel: Var, bias: Var },
    /// kernel `(in, out)` as Keras, bias `(out)`.
    Dense { kernel: Var, bias: Var },
    /// gamma, beta (trainable), moving mean and variance (not trainable).
    Norm { gamma: Var, beta: Var, mean: Var, var: Var },
}

/// One built layer.
///
/// ```
/// use candle_core::Device;
/// use candlebook_models::*;
/// let mut m = Sequential::new(Input::image(8, 8, 3), &Device::Cpu);
/// m.add(BatchNormalization::new()).unwrap();
/// let layer = &m.layers()[0];
/// assert_eq!(layer.name(), "batch_normalization");
/// assert_eq!(layer.param_counts(), (6, 6)); // gamma+beta trainable, moving stats not
/// assert_eq!(layer.weights().iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["gamma", "beta", "moving_mean", "moving_variance"]);
/// ```
///
/// A `Layer` is a view of one layer of its model: cloning it gives another handle on the same
/// weight variables (training the model changes what both show). To copy a model with its own
/// weights, clone the [`Sequential`].
#[derive(Debug, Clone)]
pub struct Layer {
    pub(crate) name: String,
    pub(crate) spec: LayerSpec,
    pub(crate) input: InputShape,
    pub(crate) output: InputShape,
    pub(crate) params: Params,
    pub(crate) trainable: bool,
    /// The build of this crate whose candle made `params` (see `sequential/identity.rs`).
    pub(crate) made_by: usize,
}

impl Layer {
    /// The variables training updates (none when the layer is frozen).
    pub(crate) fn trainable_params(&self) -> Vec<&Var> {
        if !self.trainable {
            return vec![];
        }
        match &self.params {
            Params::None => vec![],
            Params::Conv { kernel, bias } | Params::Dense { kernel, bias } => vec![kernel, bias],
            Params::Norm { gamma, beta, .. } => vec![gamma, beta],
        }
    }

    /// This layer for one autograd step run by this build: each weight the step's graph reads is
    /// a copy made here. A trainable batch norm's moving statistics stay the layer's own: the
    /// step only updates them in place, outside the graph.
    fn with_weights_made_here(&self) -> Result<Layer> {
        let copy = |v: &Var| -> Result<Var> { Ok(Var::from_tensor(&handle_made_here(v.as_tensor())?)?) };
        let params = match &self.params {
            Params::None => Params::None,
            Params::Conv { kernel, bias } => Params::Conv { kernel: copy(kernel)?, bias: copy(bias)? },
            Params::Dense { kernel, bias } => Params::Dense { kernel: copy(kernel)?, bias: copy(bias)? },
            Params::Norm { gamma, beta, mean, var } => {
                let (mean, var) = if self.trainable { (mean.clone(), var.clone()) } else { (copy(mean)?, copy(var)?) };
                Params::Norm { gamma: copy(gamma)?, beta: copy(beta)?, mean, var }
            }
        };
        Ok(Layer { params, made_by: identity::this_build(), ..self.clone() })
    }

    /// The layer's name (`conv2d`, `dense_1`, or the one given).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the layer was built from.
    pub fn spec(&self) -> &LayerSpec {
        &self.spec
    }
    /// The shape this layer receives.
    pub fn input_shape(&self) -> InputShape {
        self.input
    }
    /// Keras's output shape without the batch axis.
    pub fn output_shape(&self) -> InputShape {
        self.output
    }
    /// Whether training updates this layer.
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }
    /// `(trainable, non-trainable)` parameter counts, as Keras counts them (a frozen layer's
    /// weights count as non-trainable).
    pub fn param_counts(&self) -> (usize, usize) {
        let (t, n) = match &self.params {
            Params::None => (0, 0),
            Params::Conv { kernel, bias } | Params::Dense { kernel, bias } => (kernel.elem_count() + bias.elem_count(), 0),
            Params::Norm { gamma, beta, mean, var } => (gamma.elem_count() + beta.elem_count(), mean.elem_count() + var.elem_count()),
        };
        if self.trainable {
            (t, n)
        } else {
            (0, t + n)
        }
    }
    /// The named weight tensors in Keras's naming (`kernel`, `bias`, `gamma`, `beta`,
    /// `moving_mean`, `moving_variance`) and our layouts.
    pub fn weights(&self) -> Vec<(&'static str, &Var)> {
        match &self.params {
            Params::None => vec![],
            Params::Conv { kernel, bias } | Params::Dense { kernel, bias } => vec![("kernel", kernel), ("bias", bias)],
            Params::Norm { gamma, beta, mean, var } => {
                vec![("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var)]
            }
        }
    }
}

/// SplitMix64: a small, seedable generator for weight initialisation and dropout masks.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    #[inline(always)]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// What the `k`-th call (from 0) of [`SplitMix::next_f32`] returns, starting from this state,
    /// without making the calls before it: the generator is a counter through a mixing
    /// function, so long streams can be drawn in parallel and still equal the sequential ones.
    #[inline(always)]
    pub fn f32_at(&self, k: u64) -> f32 {
        SplitMix(self.0.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))).next_f32()
    }
    /// Skips `n` draws.
    pub fn advance(&mut self, n: u64) {
        self.0 = self.0.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

/// A Keras-style sequential model. Layers are added with [`Sequential::add`]; names, output shapes
/// and parameter counts follow Keras; weights start glorot-uniform (biases zero) from the model's
/// seed, so two models built with the same seed are identical.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::*;
/// let mut model = Sequential::new(Input::image(32, 32, 3), &Device::Cpu).seed(7);
/// model.add(Conv2D::new(32, (3, 3)).padding(Padding::Same).activation(Activation::Relu))?;
/// model.add(MaxPooling2D::new((2, 2)))?;
/// model.add(Flatten::new())?;
/// model.add(Dense::new(10).activation(Activation::Softmax))?;
/// assert_eq!(model.layers()[1].name(), "max_pooling2d");
/// assert_eq!(model.count_params(), (896 + 8192 * 10 + 10, 0));
/// let x = Tensor::zeros((2, 3, 32, 32), candle_core::DType::F32, &Device::Cpu)?;
/// assert_eq!(model.predict(&x)?.dims(), &[2, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `clone()` copies the model with its own weights (see [`Sequential::clone`]); training either
/// copy leaves the other as it was. [`Sequential::clone_model`] is Keras's `clone_model`: the same
/// layers with freshly initialised weights, not compiled.
#[derive(Debug)]
pub struct Sequential {
    name: String,
    input: InputShape,
    layers: Vec<Layer>,
    device: Device,
    seed: u64,
    counts: HashMap<String, usize>,
    dropout_rng: Cell<u64>,
    pub(crate) compiled: Option<crate::fit::Compiled>,
}

impl Clone for Sequential {
    /// An independent copy: every weight (and batch-norm moving statistic) is a new variable
    /// holding the same values, the layers keep their names and frozen flags, a compiled model
    /// stays compiled with a copy of its optimiser's state (moments, step count), and the
    /// dropout generator continues from the same state. Training the copy leaves the original
    /// unchanged, and the other way round (Keras's `clone_model` gives fresh weights instead:
    /// see [`Sequential::clone_model`]).
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut original = Sequential::new(Input::flat(2), &Device::Cpu).seed(3);
    /// original.add(Dense::new(2).activation(Activation::Softmax))?;
    /// original.compile(Optimizer::sgd(0.5), Loss::sparse_categorical_crossentropy(), false);
    /// let before = original.keras_weights()?[0].1.to_vec2::<f32>()?;
    /// let mut copy = original.clone();
    /// let x = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &Device::Cpu)?;
    /// let y = Tensor::new(&[1u32, 0], &Device::Cpu)?;
    /// copy.fit(&x, &y, Fit::new().epochs(3).verbose(false))?;
    /// assert_eq!(original.keras_weights()?[0].1.to_vec2::<f32>()?, before);
    /// assert_ne!(copy.keras_weights()?[0].1.to_vec2::<f32>()?, before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// Only if the device cannot allocate the copy (as `Vec::clone` would on the CPU).
    fn clone(&self) -> Self {
        self.deep_copy().unwrap_or_else(|e| panic!("Sequential::clone: cannot copy the weights of model '{}': {e}", self.name))
    }
}

impl Sequential {
    /// [`Sequential`]'s `clone`, with a device error returned instead.
    fn deep_copy(&self) -> Result<Sequential> {
        let mut ids = HashMap::new();
        let mut copy_var = |v: &Var| -> Result<Var> {
            // a detached tensor is not a variable, so `from_tensor` copies its storage
            let fresh = Var::from_tensor(&v.as_tensor().detach())?;
            ids.insert(VarKey::of(v), VarKey::of(&fresh));
            Ok(fresh)
        };
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let params = match &l.params {
                Params::None => Params::None,
                Params::Conv { kernel, bias } => Params::Conv { kernel: copy_var(kernel)?, bias: copy_var(bias)? },
                Params::Dense { kernel, bias } => Params::Dense { kernel: copy_var(kernel)?, bias: copy_var(bias)? },
                Params::Norm { gamma, beta, mean, var } => Params::Norm { gamma: copy_var(gamma)?, beta: copy_var(beta)?, mean: copy_var(mean)?, var: copy_var(var)? },
            };
            layers.push(Layer { name: l.name.clone(), spec: l.spec.clone(), input: l.input, output: l.output, params, trainable: l.trainable, made_by: identity::this_build() });
        }
        let compiled = self.compiled.as_ref().map(|c| crate::fit::Compiled { optimizer: c.optimizer.remapped(&ids), loss: c.loss, accuracy: c.accuracy });
        Ok(Sequential {
            name: self.name.clone(),
            input: self.input,
            layers,
            device: self.device.clone(),
            seed: self.seed,
            counts: self.counts.clone(),
            dropout_rng: Cell::new(self.dropout_rng.get()),
            compiled,
        })
    }

    /// Keras's `keras.models.clone_model(model)`: a new model with the same input shape, layers,
    /// layer names and frozen flags, whose weights are freshly initialised (glorot-uniform, from
    /// the model's seed: the weights a model built the same way with that seed starts with), and
    /// which is not compiled. Use [`Sequential::clone_model_with_seed`] for other initial weights,
    /// or `clone()` to copy the trained weights.
    ///
    /// ```
    /// use candle_core::Device;
    /// use candlebook_models::*;
    /// let build = || -> Result<Sequential> {
    ///     let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(5);
    ///     m.add(Conv2D::new(2, (3, 3)).name("features"))?;
    ///     m.add(Flatten::new())?;
    ///     m.add(Dense::new(3))?;
    ///     Ok(m)
    /// };
    /// let m = build()?;
    /// let fresh = m.clone_model()?;
    /// assert_eq!(fresh.layers().iter().map(|l| l.name()).collect::<Vec<_>>(), ["features", "flatten", "dense"]);
    /// assert_eq!(fresh.keras_weights()?[0].1.flatten_all()?.to_vec1::<f32>()?, build()?.keras_weights()?[0].1.flatten_all()?.to_vec1::<f32>()?);
    /// let other = m.clone_model_with_seed(6)?;
    /// assert_ne!(other.keras_weights()?[0].1.flatten_all()?.to_vec1::<f32>()?, build()?.keras_weights()?[0].1.flatten_all()?.to_vec1::<f32>()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clone_model(&self) -> Result<Sequential> {
        self.clone_model_with_seed(self.seed)
    }

    /// [`Sequential::clone_model`] with the weights initialised from `seed`.
    pub fn clone_model_with_seed(&self, seed: u64) -> Result<Sequential> {
        let mut m = Sequential::new(self.input, &self.device).seed(seed).with_name(self.name.clone());
        for l in &self.layers {
            let mut spec = l.spec.clone();
            spec.set_name(l.name.clone());
            m.add(spec)?;
            if !l.trainable {
                m.set_trainable(&l.name, false)?;
            }
        }
        // so that layers added later get the names they would have got in the original
        m.counts = self.counts.clone();
        Ok(m)
    }

    /// An empty model for inputs of this shape, computing on `device`, named `sequential`.
    pub fn new(input: InputShape, device: &Device) -> Self {
        Self {
            name: "sequential".into(),
            input,
            layers: Vec::new(),
            device: device.clone(),
            seed: 0x5eed,
            counts: HashMap::new(),
            dropout_rng: Cell::new(0x0d0d),
            compiled: None,
        }
    }

    /// Sets the seed of the weight initialisation and dropout masks (before adding layers).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.dropout_rng.set(seed ^ 0x0d0d_0d0d);
        self
    }

    /// Names the model (Keras's `name=`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input shape.
    pub fn input_shape(&self) -> InputShape {
        self.input
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The layers in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The output shape of the last layer (the input shape for an empty model).
    pub fn output_shape(&self) -> InputShape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// `(trainable, non-trainable)` parameter counts.
    pub fn count_params(&self) -> (usize, usize) {
        self.layers.iter().map(|l| l.param_counts()).fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    }

    /// The layer with this name.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// Adds a layer after the last one: checks it fits the current output shape, names it, and
    /// initialises its weights. Arguments Keras 3 rejects are errors here, naming the argument
    /// and what was expected: zero `filters`, `units`, `kernel_size`, `pool_size` or `strides`, a
    /// negative or non-finite L2 factor, a dropout rate outside [0, 1].
    ///
    /// ```
    /// use candle_core::Device;
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu);
    /// let e = m.add(Conv2D::new(0, (3, 3))).unwrap_err();
    /// assert_eq!(e.to_string(), "Conv2D: `filters` must be a positive integer, got 0");
    /// assert!(m.add(Conv2D::new(4, (3, 3)).strides((2, 0))).unwrap_err().to_string().contains("`strides` must be two positive integers"));
    /// m.add(Flatten::new())?;
    /// assert!(m.add(Dense::new(0)).unwrap_err().to_string().contains("`units` must be a positive integer"));
    /// assert_eq!(m.layers().len(), 1); // nothing was added by the failed calls
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add(&mut self, spec: impl Into<LayerSpec>) -> Result<&mut Self> {
        let spec = spec.into();
        let input = self.output_shape();
        let output = output_shape(&spec, input)?;
        let name = match spec.given_name() {
            Some(n) => {
                if self.layers.iter().any(|l| l.name == n) {
                    return Err(ModelError::Spec(format!("a layer named '{n}' already exists")));
                }
                n.to_string()
            }
            None => {
                let prefix = spec.auto_name_prefix();
                loop {
                    let k = self.counts.entry(prefix.to_string()).or_insert(0);
                    let candidate = if *k == 0 { prefix.to_string() } else { format!("{prefix}_{k}") };
                    *k += 1;
                    if !self.layers.iter().any(|l| l.name == candidate) {
                        break candidate;
                    }
                }
            }
        };
        let mut rng = SplitMix(self.seed ^ (self.layers.len() as u64 + 1).wrapping_mul(0x1234_5678_9ABC_DEF1));
        let params = init_params(&spec, input, &self.device, &mut rng)?;
        self.layers.push(Layer { name, spec, input, output, params, trainable: true, made_by: identity::this_build() });
        Ok(self)
    }

    /// Removes and returns the last layer (to replace a classifier head).
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(1);
    /// m.add(Conv2D::new(2, (3, 3)).padding(Padding::Same))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(3).activation(Activation::Softmax).l2(0.01))?;
    /// let head = m.pop().unwrap();
    /// assert_eq!(head.name(), "dense");
    /// m.add(Dense::new(2).name("new_head"))?;
    /// assert_eq!(m.output_shape(), InputShape::Flat(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&mut self) -> Option<Layer> {
        self.layers.pop()
    }

    /// Freezes (or unfreezes) every layer up to and including `name`; frozen layers keep their
    /// weights in training and batch normalisation in them uses its moving statistics.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(1);
    /// m.add(Conv2D::new(2, (3, 3)).padding(Padding::Same))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(3).activation(Activation::Softmax).l2(0.01))?;
    /// m.set_trainable_until("flatten", false)?;
    /// assert_eq!(m.trainable_vars().len(), 2); // the Dense kernel and bias
    /// assert!(m.set_trainable_until("nope", false).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_trainable_until(&mut self, name: &str, trainable: bool) -> Result<()> {
        let idx = self
            .layers
            .iter()
            .position(|l| l.name == name)
            .ok_or_else(|| ModelError::Spec(format!("no layer named '{name}'")))?;
        for l in &mut self.layers[..=idx] {
            l.trainable = trainable;
        }
        Ok(())
    }

    /// Sets one layer's trainable flag.
    pub fn set_trainable(&mut self, name: &str, trainable: bool) -> Result<()> {
        let l = self
            .layers
            .iter_mut()
            .find(|l| l.name == name)
            .ok_or_else(|| ModelError::Spec(format!("no layer named '{name}'")))?;
        l.trainable = trainable;
        Ok(())
    }

    /// The trainable variables (what an optimiser updates), in layer order.
    pub fn trainable_vars(&self) -> Vec<Var> {
        self.layers.iter().flat_map(|l| l.trainable_params()).cloned().collect()
    }

    /// The sum of the L2 regularisation terms, `Σ l2 · Σ kernel²`, that Keras adds to the loss.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(1);
    /// m.add(Conv2D::new(2, (3, 3)).padding(Padding::Same))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(3).activation(Activation::Softmax).l2(0.01))?;
    /// let penalty = m.regularization_loss()?.unwrap().to_scalar::<f32>()?;
    /// assert!(penalty > 0.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn regularization_loss(&self) -> Result<Option<Tensor>> {
        regularization_loss_of(&self.layers)
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let dims = x.dims();
        let want = self.input.batch_dims(dims.first().copied().unwrap_or(0));
        if dims != want.as_slice() {
            return Err(ModelError::Shape(format!(
                "model '{}' expects input of shape {:?} (N first{}), got {:?}",
                self.name,
                want,
                if matches!(self.input, InputShape::Image { .. }) { ", channels before height and width" } else { "" },
                dims
            )));
        }
        Ok(())
    }

    /// Runs the model. `training` switches dropout on and batch normalisation to batch statistics
    /// (updating the moving averages), as Keras's `model(x, training=True)`.
    pub fn forward(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        Ok(self.forward_with_logits(x, training)?.0)
    }

    /// [`Sequential::forward`], also returning the last layer's input to its softmax or sigmoid
    /// (the logits) when it ends in one. Keras computes cross-entropy from these logits rather
    /// than from the clipped probabilities (so a confident wrong prediction is not capped at
    /// -log(1e-7) and still has a gradient); training does the same.
    pub fn forward_with_logits(&self, x: &Tensor, training: bool) -> Result<(Tensor, Option<(Tensor, Activation)>)> {
        self.forward_through(&self.layers, x, training)
    }

    /// [`Sequential::forward_with_logits`] through `layers`: the model's own, or the same layers
    /// with other handles on their weights (see [`Sequential::autograd_step`]).
    fn forward_through(&self, layers: &[Layer], x: &Tensor, training: bool) -> Result<(Tensor, Option<(Tensor, Activation)>)> {
        self.check_input(x)?;
        let mut h = x.to_dtype(DType::F32)?;
        let n = layers.len();
        for (i, l) in layers.iter().enumerate() {
            if i + 1 == n {
                let last_act = match &l.spec {
                    LayerSpec::Dense { activation, .. } | LayerSpec::Conv2D { activation, .. } | LayerSpec::Activation { activation, .. } => *activation,
                    _ => Activation::Linear,
                };
                if matches!(last_act, Activation::Softmax | Activation::Sigmoid) {
                    let logits = match &l.spec {
                        LayerSpec::Activation { .. } => h.clone(),
                        _ => self.forward_layer_pre_activation(l, &h, training)?,
                    };
                    let out = activate(&logits, last_act)?;
                    return Ok((out, Some((logits, last_act))));
                }
            }
            h = self.forward_layer(l, &h, training)?;
        }
        Ok((h, None))
    }

    /// A Dense or Conv2D layer without its activation.
    fn forward_layer_pre_activation(&self, l: &Layer, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut linear = l.clone();
        match &mut linear.spec {
            LayerSpec::Dense { activation, .. } | LayerSpec::Conv2D { activation, .. } => *activation = Activation::Linear,
            _ => {}
        }
        self.forward_layer(&linear, x, training)
    }

    /// Every layer's output for `x` in inference mode, in order: `(layer name, output)`. Image
    /// outputs are `(N, C, H, W)`, flat ones `(N, F)`. What the feature-map figures draw.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(1);
    /// m.add(Conv2D::new(2, (3, 3)).padding(Padding::Same))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(3).activation(Activation::Softmax).l2(0.01))?;
    /// let x = Tensor::zeros((1, 1, 8, 8), candle_core::DType::F32, &Device::Cpu)?;
    /// let outs = m.layer_outputs(&x)?;
    /// assert_eq!(outs[0].0, "conv2d");
    /// assert_eq!(outs[0].1.dims(), &[1, 2, 8, 8]);
    /// let maps = m.feature_maps(&x, &["conv2d"])?;
    /// assert_eq!(maps.len(), 1);
    /// assert!(m.feature_maps(&x, &["nope"]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer_outputs(&self, x: &Tensor) -> Result<Vec<(String, Tensor)>> {
        self.check_input(x)?;
        let mut h = x.to_dtype(DType::F32)?;
        let mut out = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            h = self.forward_layer(l, &h, false)?.detach();
            out.push((l.name.clone(), h.clone()));
        }
        Ok(out)
    }

    /// The outputs of the named layers only (in the order asked), for feature-map figures; an
    /// unknown name is an error that lists the model's layers.
    pub fn feature_maps(&self, x: &Tensor, names: &[&str]) -> Result<Vec<(String, Tensor)>> {
        for n in names {
            if self.layer(n).is_none() {
                let known: Vec<&str> = self.layers.iter().map(|l| l.name.as_str()).collect();
                return Err(ModelError::Spec(format!("no layer named '{n}' (layers: {})", known.join(", "))));
            }
        }
        let all = self.layer_outputs(x)?;
        Ok(names.iter().filter_map(|n| all.iter().find(|(name, _)| name == n).cloned()).collect())
    }

    /// The output of one named layer (for one feature-map figure per cell): `x` through the model
    /// up to that layer, in inference mode. An unknown name is an error that lists the layers.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::{Conv2D, Flatten, Dense, Input, Sequential};
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu);
    /// m.add(Conv2D::new(4, (3, 3)))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(2))?;
    /// let x = Tensor::zeros((1, 1, 8, 8), candle_core::DType::F32, &Device::Cpu)?;
    /// assert_eq!(m.feature_map(&x, "conv2d")?.dims(), &[1, 4, 6, 6]);
    /// assert!(m.feature_map(&x, "conv2d_7").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feature_map(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let mut maps = self.feature_maps(x, &[name])?;
        maps.pop().map(|(_, t)| t).ok_or_else(|| ModelError::Spec(format!("no layer named '{name}'")))
    }

    /// One training step as Keras's `train_on_batch`: forward in training mode, the loss (plus the
    /// L2 terms), gradients, one optimiser update of the trainable variables. Returns the loss
    /// Keras would report for this batch. A NaN or infinite loss is an error and nothing is updated.
    pub fn train_step(&self, x: &Tensor, y: &Tensor, loss: &crate::optim::Loss, optimizer: &mut crate::optim::OptimizerState) -> Result<f32> {
        Ok(self.train_step_with_output(x, y, loss, optimizer)?.0)
    }

    /// [`Sequential::train_step`], also returning the training-mode output (for running metrics).
    pub(crate) fn train_step_with_output(
        &self,
        x: &Tensor,
        y: &Tensor,
        loss: &crate::optim::Loss,
        optimizer: &mut crate::optim::OptimizerState,
    ) -> Result<(f32, Tensor)> {
        if self.device.is_cpu() {
            crate::cpu::flush_denormals();
        }
        if self.tape_supported() {
            return self.taped_step(x, y, loss, optimizer);
        }
        self.autograd_step(x, y, loss, optimizer)
    }

    /// The training step through candle's autograd (every device; on the CPU the reference for
    /// the taped step).
    ///
    /// Candle's `backward` keys gradients by tensor id, and ids repeat across notebook cells (see
    /// `sequential/identity.rs`), so every tensor of the graph must come from the build of candle
    /// that runs this step: the batch and targets enter as new handles made here, and the weights
    /// of layers made by another build enter as copies made here; their gradients then update the
    /// model's own variables. A model built and trained by one build (a program, a test, one cell)
    /// uses its variables directly.
    pub(crate) fn autograd_step(&self, x: &Tensor, y: &Tensor, loss: &crate::optim::Loss, optimizer: &mut crate::optim::OptimizerState) -> Result<(f32, Tensor)> {
        let here = identity::this_build();
        let step_layers: Vec<Layer> = self.layers.iter().map(|l| if l.made_by == here { Ok(l.clone()) } else { l.with_weights_made_here() }).collect::<Result<_>>()?;
        let (x, y) = (handle_made_here(x)?, handle_made_here(y)?);
        let (out, logits) = self.forward_through(&step_layers, &x, true)?;
        let mut total = loss.compute_keras(&out, logits.as_ref(), &y)?;
        if let Some(reg) = regularization_loss_of(&step_layers)? {
            total = (total + reg)?;
        }
        let value = total.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(ModelError::NonFinite(format!("loss is {value} on this batch")));
        }
        let grads = total.backward()?;
        let mut pairs = Vec::new();
        for (own, used) in self.layers.iter().zip(&step_layers) {
            for (var, used_var) in own.trainable_params().into_iter().zip(used.trainable_params()) {
                if let Some(g) = grads.get(used_var.as_tensor()) {
                    pairs.push((var.clone(), g.clone()));
                }
            }
        }
        optimizer.step_with(&pairs)?;
        Ok((value, out.detach()))
    }

    /// Inference on a large input in batches of `batch_size`, so memory stays bounded.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 1), &Device::Cpu).seed(1);
    /// m.add(Conv2D::new(2, (3, 3)).padding(Padding::Same))?;
    /// m.add(Flatten::new())?;
    /// m.add(Dense::new(3).activation(Activation::Softmax).l2(0.01))?;
    /// let x = Tensor::zeros((70, 1, 8, 8), candle_core::DType::F32, &Device::Cpu)?;
    /// assert_eq!(m.predict_batched(&x, 32)?.dims(), &[70, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict_batched(&self, x: &Tensor, batch_size: usize) -> Result<Tensor> {
        let n = x.dims().first().copied().unwrap_or(0);
        if batch_size == 0 {
            return Err(ModelError::Spec("batch size must be positive".into()));
        }
        // Each batch's output is detached: through the weights (candle variables) it would keep
        // its whole op graph, every activation of the batch, alive until the last batch is done
        // (a loaded CNN needed 2.9 GB to predict 640 fingers images, and 22 GB for 3,600).
        if n <= batch_size {
            return Ok(self.forward(x, false)?.detach());
        }
        let mut parts = Vec::new();
        let mut start = 0;
        while start < n {
            let len = batch_size.min(n - start);
            parts.push(self.forward(&x.narrow(0, start, len)?, false)?.detach());
            start += len;
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Inference (`model.predict(x)`), in batches of 32 as Keras does.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        self.predict_batched(x, 32)
    }

    fn forward_layer(&self, l: &Layer, x: &Tensor, training: bool) -> Result<Tensor> {
        let y = match (&l.spec, &l.params) {
            (LayerSpec::Conv2D { strides, padding, activation, .. }, Params::Conv { kernel, bias }) => {
                conv2d_activated(x, kernel.as_tensor(), bias.as_tensor(), *strides, *padding, *activation)?
            }
            (LayerSpec::MaxPooling2D { pool, strides, padding, .. }, _) => {
                if training || crate::cpu::applies(x) {
                    max_pool2d_keras(x, *pool, *strides, *padding)?
                } else {
                    crate::ops::max_pool2d_inference(x, *pool, *strides, *padding)?
                }
            }
            (LayerSpec::AveragePooling2D { pool, strides, padding, .. }, _) => avg_pool2d_keras(x, *pool, *strides, *padding)?,
            (LayerSpec::BatchNormalization { epsilon, momentum, .. }, Params::Norm { gamma, beta, mean, var }) => {
                let shape: Vec<usize> = if x.rank() == 4 { vec![1, gamma.elem_count(), 1, 1] } else { vec![1, gamma.elem_count()] };
                let update = |moving: &Var, batch: &Tensor| update_moving(moving, batch, *momentum);
                if training && l.trainable && crate::cpu::applies(x) {
                    let (y, bm, bv) = crate::cpu::batch_norm_train(x, gamma.as_tensor(), beta.as_tensor(), *epsilon)?;
                    update(mean, &bm)?;
                    update(var, &bv)?;
                    return Ok(y);
                }
                if !(training && l.trainable) && crate::cpu::applies(x) && matches!(x.rank(), 2 | 4) {
                    return Ok(crate::cpu::batch_norm_inference(x, gamma.as_tensor(), beta.as_tensor(), mean.as_tensor(), var.as_tensor(), *epsilon)?);
                }
                let (m, v) = if training && l.trainable {
                    let axes: Vec<usize> = if x.rank() == 4 { vec![0, 2, 3] } else { vec![0] };
                    let bm = x.mean_keepdim(axes.clone())?;
                    let bv = x.broadcast_sub(&bm)?.sqr()?.mean_keepdim(axes)?;
                    update(mean, &bm)?;
                    update(var, &bv)?;
                    (bm, bv)
                } else {
                    (mean.as_tensor().reshape(shape.clone())?, var.as_tensor().reshape(shape.clone())?)
                };
                let inv = (v + *epsilon)?.sqrt()?.recip()?.broadcast_mul(&gamma.as_tensor().reshape(shape.clone())?)?;
                let shift = beta.as_tensor().reshape(shape)?.broadcast_sub(&m.broadcast_mul(&inv)?)?;
                x.broadcast_mul(&inv)?.broadcast_add(&shift)?
            }
            (LayerSpec::Dropout { rate, .. }, _) => match self.dropout_mask(x, if training { *rate } else { 0.0 })? {
                Some(mask) => (x * mask)?,
                None => x.clone(),
            },
            (LayerSpec::Flatten { .. }, _) => {
                if x.rank() == 4 {
                    // Keras flattens channels-last: (N, C, H, W) -> (N, H, W, C) -> (N, H*W*C).
                    let n = x.dim(0)?;
                    x.permute((0, 2, 3, 1))?.reshape((n, ()))?
                } else {
                    x.clone()
                }
            }
            (LayerSpec::Dense { activation, .. }, Params::Dense { kernel, bias }) => {
                let y = x.matmul(kernel.as_tensor())?.broadcast_add(bias.as_tensor())?;
                activate(&y, *activation)?
            }
            (LayerSpec::Activation { activation, .. }, _) => activate(x, *activation)?,
            (spec, _) => return Err(ModelError::Spec(format!("layer '{}' ({}) has no weights", l.name, spec.class_name()))),
        };
        Ok(y)
    }
}

/// Keras's batch-norm moving average: `moving = moving * momentum + batch * (1 - momentum)`.
pub(crate) fn update_moving(moving: &Var, batch: &Tensor, momentum: f64) -> Result<()> {
    let b = batch.flatten_all()?.detach();
    moving.set(&((moving.as_tensor() * momentum)? + (b * (1.0 - momentum))?)?)?;
    Ok(())
}

/// Applies an activation.
pub(crate) fn activate(x: &Tensor, a: Activation) -> Result<Tensor> {
    Ok(match a {
        Activation::Linear => x.clone(),
        Activation::Relu if crate::cpu::applies(x) => x.contiguous()?.apply_op1(crate::cpu::Relu)?,
        Activation::Relu => crate::ops::relu_keep_nan(x)?,
        Activation::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip()?,
        Activation::Softmax => {
            let m = x.max_keepdim(D::Minus1)?;
            let e = x.broadcast_sub(&m)?.exp()?;
            e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?
        }
    })
}

fn window_out(input: usize, k: usize, s: usize, padding: Padding, what: &str) -> Result<usize> {
    window_output(input, k, s, padding).map_err(|e| ModelError::Shape(format!("{what}: {e}")))
}

/// The arguments Keras 3's layer constructors reject, as errors that name the layer, the argument
/// and what was expected (Keras raises at construction; here [`Sequential::add`] does).
fn check_spec(spec: &LayerSpec) -> Result<()> {
    let class = spec.class_name();
    let positive_pair = |arg: &str, (a, b): (usize, usize)| -> Result<()> {
        if a == 0 || b == 0 {
            return Err(ModelError::Spec(format!("{class}: `{arg}` must be two positive integers, got ({a}, {b})")));
        }
        Ok(())
    };
    match spec {
        LayerSpec::Conv2D { filters, kernel, strides, .. } => {
            if *filters == 0 {
                return Err(ModelError::Spec("Conv2D: `filters` must be a positive integer, got 0".into()));
            }
            positive_pair("kernel_size", *kernel)?;
            positive_pair("strides", *strides)?;
        }
        LayerSpec::MaxPooling2D { pool, strides, .. } | LayerSpec::AveragePooling2D { pool, strides, .. } => {
            positive_pair("pool_size", *pool)?;
            positive_pair("strides", *strides)?;
        }
        LayerSpec::Dense { units, l2, .. } => {
            if *units == 0 {
                return Err(ModelError::Spec("Dense: `units` must be a positive integer, got 0".into()));
            }
            if let Some(f) = l2 {
                if !(f.is_finite() && *f >= 0.0) {
                    return Err(ModelError::Spec(format!("Dense: the l2 regularisation factor must be a non-negative number, got {f}")));
                }
            }
        }
        LayerSpec::Dropout { rate, .. } => {
            // Keras accepts 1 (every value dropped in training)
            if !(0.0..=1.0).contains(rate) {
                return Err(ModelError::Spec(format!("Dropout: `rate` must be a number in [0, 1], got {rate}")));
            }
        }
        LayerSpec::BatchNormalization { .. } | LayerSpec::Flatten { .. } | LayerSpec::Activation { .. } => {}
    }
    Ok(())
}

/// Keras's output shape of a layer for this input shape, or why it does not fit.
fn output_shape(spec: &LayerSpec, input: InputShape) -> Result<InputShape> {
    check_spec(spec)?;
    let image = |what: &str| match input {
        InputShape::Image { height, width, channels } => Ok((height, width, channels)),
        InputShape::Flat(n) => Err(ModelError::Shape(format!("{what} needs an image input (H, W, C), got a flat input of {n}"))),
    };
    Ok(match spec {
        LayerSpec::Conv2D { filters, kernel, strides, padding, .. } => {
            let (h, w, _) = image("Conv2D")?;
            InputShape::Image {
                height: window_out(h, kernel.0, strides.0, *padding, "Conv2D")?,
                width: window_out(w, kernel.1, strides.1, *padding, "Conv2D")?,
                channels: *filters,
            }
        }
        LayerSpec::MaxPooling2D { pool, strides, padding, .. } | LayerSpec::AveragePooling2D { pool, strides, padding, .. } => {
            let (h, w, c) = image(spec.class_name())?;
            InputShape::Image {
                height: window_out(h, pool.0, strides.0, *padding, spec.class_name())?,
                width: window_out(w, pool.1, strides.1, *padding, spec.class_name())?,
                channels: c,
            }
        }
        LayerSpec::Flatten { .. } => InputShape::Flat(input.keras_dims().iter().product()),
        LayerSpec::Dense { units, .. } => match input {
            InputShape::Flat(_) => InputShape::Flat(*units),
            InputShape::Image { .. } => return Err(ModelError::Shape("Dense needs a flat input: add Flatten first".into())),
        },
        LayerSpec::Dropout { .. } | LayerSpec::BatchNormalization { .. } | LayerSpec::Activation { .. } => input,
    })
}

/// Glorot-uniform kernels, zero biases, BN gamma 1 / beta 0 / mean 0 / variance 1.
fn init_params(spec: &LayerSpec, input: InputShape, device: &Device, rng: &mut SplitMix) -> Result<Params> {
    let mut glorot = |shape: &[usize], fan_in: usize, fan_out: usize| -> Result<Var> {
        let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * limit).collect();
        Ok(Var::from_tensor(&Tensor::from_vec(v, shape, device)?)?)
    };
    let zeros = |n: usize| -> Result<Var> { Ok(Var::zeros(n, DType::F32, device)?) };
    Ok(match spec {
        LayerSpec::Conv2D { filters, kernel, .. } => {
            let cin = input.features();
            let rf = kernel.0 * kernel.1;
            Params::Conv { kernel: glorot(&[*filters, cin, kernel.0, kernel.1], rf * cin, rf * filters)?, bias: zeros(*filters)? }
        }
        LayerSpec::Dense { units, .. } => {
            let fin = input.keras_dims().iter().product();
            Params::Dense { kernel: glorot(&[fin, *units], fin, *units)?, bias: zeros(*units)? }
        }
        LayerSpec::BatchNormalization { .. } => {
            let c = input.features();
            Params::Norm {
                gamma: Var::ones(c, DType::F32, device)?,
                beta: zeros(c)?,
                mean: zeros(c)?,
                var: Var::ones(c, DType::F32, device)?,
            }
        }
        _ => Params::None,
    })
}

/// A handle on `t`'s values that this build of candle made (a new tensor id, the same storage when
/// `t` is contiguous), outside any graph.
fn handle_made_here(t: &Tensor) -> Result<Tensor> {
    Ok(t.detach().reshape(t.shape())?)
}

/// The L2 terms of these layers (see [`Sequential::regularization_loss`]).
fn regularization_loss_of(layers: &[Layer]) -> Result<Option<Tensor>> {
    let mut total: Option<Tensor> = None;
    for l in layers {
        if let (LayerSpec::Dense { l2: Some(f), .. }, Params::Dense { kernel, .. }) = (&l.spec, &l.params) {
            let term = (kernel.as_tensor().sqr()?.sum_all()? * *f)?;
            total = Some(match total {
                None => term,
                Some(t) => (t + term)?,
            });
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Loss, Optimizer, OptimizerState};
    use crate::spec::{BatchNormalization, Conv2D, Dense, Dropout, Flatten};

    /// A step of a model whose layers another build made (as a notebook cell other than the
    /// training one would) goes through copies of the weights made here; it must update the
    /// model's own variables exactly as a step on a model made here does.
    #[test]
    fn a_step_through_weights_made_here_updates_the_models_own_variables_identically() {
        let dev = Device::Cpu;
        let mut made_here = Sequential::new(InputShape::Image { height: 6, width: 6, channels: 2 }, &dev).seed(4);
        made_here.add(Conv2D::new(3, (3, 3)).activation(Activation::Relu)).unwrap();
        made_here.add(BatchNormalization::new()).unwrap();
        made_here.add(BatchNormalization::new().name("frozen_norm")).unwrap();
        made_here.add(Flatten::new()).unwrap();
        made_here.add(Dropout::new(0.25)).unwrap();
        made_here.add(Dense::new(4).activation(Activation::Softmax).l2(0.01)).unwrap();
        made_here.set_trainable("frozen_norm", false).unwrap();
        let mut made_elsewhere = made_here.clone();
        for l in &mut made_elsewhere.layers {
            l.made_by = 0;
        }
        let x = Tensor::rand(0f32, 1f32, (5, 2, 6, 6), &dev).unwrap();
        let y = Tensor::new(&[0u32, 1, 2, 3, 1], &dev).unwrap();
        let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
        let (mut opt_a, mut opt_b) = (OptimizerState::new(Optimizer::adam()), OptimizerState::new(Optimizer::adam()));
        for _ in 0..3 {
            let (la, _) = made_here.autograd_step(&x, &y, &loss, &mut opt_a).unwrap();
            let (lb, _) = made_elsewhere.autograd_step(&x, &y, &loss, &mut opt_b).unwrap();
            assert_eq!(la, lb);
        }
        let weights = |m: &Sequential| -> Vec<Vec<f32>> { m.layers.iter().flat_map(|l| l.weights()).map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()).collect() };
        let (a, b) = (weights(&made_here), weights(&made_elsewhere));
        assert_eq!(a, b, "weights and moving statistics after three steps");
        let initial = weights(&made_here.clone_model().unwrap());
        assert_ne!(a[0], initial[0], "the convolution kernel was trained");
        for l in &made_elsewhere.layers {
            assert_eq!(l.made_by, 0, "the model keeps its own variables");
        }
    }
}
