//! Layer specifications that read like Keras layer constructors.

use serde::{Deserialize, Serialize};

/// Keras `padding`: `"valid"` (no padding) or `"same"` (output size `ceil(input / stride)`, with
/// TensorFlow's split: when the total padding is odd, the extra row/column goes at the bottom/right).
///
/// ```
/// use candlebook_models::{same_padding, Padding};
/// assert_eq!(Padding::default(), Padding::Valid);
/// // 'same' with stride 2 on 8 pixels and a 3-wide window pads 0 before, 1 after
/// assert_eq!(same_padding(8, 3, 2), (0, 1, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding.
    #[default]
    Valid,
    /// Pad so that the output is `ceil(input / stride)`.
    Same,
}

/// Keras activations.
///
/// ```
/// use candlebook_models::Activation;
/// assert_eq!(Activation::Softmax.keras_name(), "softmax");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Identity (Keras's default).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// Softmax over the last axis.
    Softmax,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// Keras's name for it.
    pub fn keras_name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Softmax => "softmax",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

/// One layer of a [`crate::Sequential`] model, as the Keras constructor would describe it. Build it
/// with the constructor types ([`Conv2D`], [`Dense`], ...), which convert into this.
///
/// ```
/// use candlebook_models::{Dense, LayerSpec};
/// let spec: LayerSpec = Dense::new(10).name("head").into();
/// assert_eq!((spec.class_name(), spec.given_name()), ("Dense", Some("head")));
/// assert_eq!(spec.auto_name_prefix(), "dense");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class")]
pub enum LayerSpec {
    /// `Conv2D(filters, kernel_size, strides, padding, activation)`.
    Conv2D { filters: usize, kernel: (usize, usize), strides: (usize, usize), padding: Padding, activation: Activation, name: Option<String> },
    /// `MaxPooling2D(pool_size, strides, padding)`; strides default to the pool size.
    MaxPooling2D { pool: (usize, usize), strides: (usize, usize), padding: Padding, name: Option<String> },
    /// `AveragePooling2D(pool_size, strides, padding)`.
    AveragePooling2D { pool: (usize, usize), strides: (usize, usize), padding: Padding, name: Option<String> },
    /// `BatchNormalization(momentum=0.99, epsilon=1e-3)` over the channel (last Keras) axis.
    BatchNormalization { momentum: f64, epsilon: f64, name: Option<String> },
    /// `Dropout(rate)`.
    Dropout { rate: f64, name: Option<String> },
    /// `Flatten()` in Keras's channels-last order.
    Flatten { name: Option<String> },
    /// `Dense(units, activation, kernel_regularizer=l2(l2))`.
    Dense { units: usize, activation: Activation, l2: Option<f64>, name: Option<String> },
    /// `Activation(activation)`.
    Activation { activation: Activation, name: Option<String> },
}

impl LayerSpec {
    /// Keras's class name, as `summary()` prints it.
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerSpec::Conv2D { .. } => "Conv2D",
            LayerSpec::MaxPooling2D { .. } => "MaxPooling2D",
            LayerSpec::AveragePooling2D { .. } => "AveragePooling2D",
            LayerSpec::BatchNormalization { .. } => "BatchNormalization",
            LayerSpec::Dropout { .. } => "Dropout",
            LayerSpec::Flatten { .. } => "Flatten",
            LayerSpec::Dense { .. } => "Dense",
            LayerSpec::Activation { .. } => "Activation",
        }
    }

    /// The prefix of Keras's automatic names (`conv2d`, `conv2d_1`, ...).
    pub fn auto_name_prefix(&self) -> &'static str {
        match self {
            LayerSpec::Conv2D { .. } => "conv2d",
            LayerSpec::MaxPooling2D { .. } => "max_pooling2d",
            LayerSpec::AveragePooling2D { .. } => "average_pooling2d",
            LayerSpec::BatchNormalization { .. } => "batch_normalization",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Flatten { .. } => "flatten",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Activation { .. } => "activation",
        }
    }

    /// The name given explicitly, if any.
    pub fn given_name(&self) -> Option<&str> {
        self.name_slot_ref().as_deref()
    }

    /// Gives the layer an explicit name.
    pub fn set_name(&mut self, new: impl Into<String>) {
        *self.name_slot() = Some(new.into());
    }

    fn name_slot(&mut self) -> &mut Option<String> {
        match self {
            LayerSpec::Conv2D { name, .. }
            | LayerSpec::MaxPooling2D { name, .. }
            | LayerSpec::AveragePooling2D { name, .. }
            | LayerSpec::BatchNormalization { name, .. }
            | LayerSpec::Dropout { name, .. }
            | LayerSpec::Flatten { name }
            | LayerSpec::Dense { name, .. }
            | LayerSpec::Activation { name, .. } => name,
        }
    }

    fn name_slot_ref(&self) -> &Option<String> {
        match self {
            LayerSpec::Conv2D { name, .. }
            | LayerSpec::MaxPooling2D { name, .. }
            | LayerSpec::AveragePooling2D { name, .. }
            | LayerSpec::BatchNormalization { name, .. }
            | LayerSpec::Dropout { name, .. }
            | LayerSpec::Flatten { name }
            | LayerSpec::Dense { name, .. }
            | LayerSpec::Activation { name, .. } => name,
        }
    }
}

macro_rules! named {
    () => {
        /// Names the layer (otherwise Keras's automatic name).
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.name = Some(name.into());
            self
        }
    };
}

/// `layers.Conv2D(filters, kernel_size)`; stride 1, `valid`, linear unless set.
///
/// ```
/// use candlebook_models::{Activation, Conv2D, Padding};
/// let c = Conv2D::new(32, (3, 3)).padding(Padding::Same).activation(Activation::Relu);
/// assert_eq!(c.filters, 32);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2D {
    /// Output channels.
    pub filters: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Strides along height and width.
    pub strides: (usize, usize),
    /// Padding mode.
    pub padding: Padding,
    /// Activation.
    pub activation: Activation,
    name: Option<String>,
}

impl Conv2D {
    /// `Conv2D(filters, kernel_size)`. Zero filters or a zero in `kernel` (or in `strides`) are
    /// rejected, with an error naming the argument, when the layer is added to a model
    /// ([`crate::Sequential::add`]; Keras rejects them in its constructor).
    pub fn new(filters: usize, kernel: (usize, usize)) -> Self {
        Self { filters, kernel, strides: (1, 1), padding: Padding::Valid, activation: Activation::Linear, name: None }
    }
    /// `strides=(sh, sw)`: any positive strides, equal or not, with either padding, as in Keras.
    ///
    /// ```
    /// use candle_core::Device;
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 3), &Device::Cpu);
    /// m.add(Conv2D::new(4, (3, 3)).strides((2, 1)))?;
    /// assert_eq!(m.output_shape(), Input::image(3, 6, 4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn strides(mut self, strides: (usize, usize)) -> Self {
        self.strides = strides;
        self
    }
    /// `padding=...`.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// `activation=...`.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    named!();
}

impl From<Conv2D> for LayerSpec {
    fn from(c: Conv2D) -> Self {
        LayerSpec::Conv2D { filters: c.filters, kernel: c.kernel, strides: c.strides, padding: c.padding, activation: c.activation, name: c.name }
    }
}

macro_rules! pooling_layer {
    ($ty:ident, $variant:ident, $keras:literal, $example:literal) => {
        #[doc = concat!("`layers.", $keras, "(pool_size)`; strides default to the pool size, `valid`.")]
        ///
        /// ```
        #[doc = $example]
        /// ```
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            /// Window height and width.
            pub pool: (usize, usize),
            /// Strides (the pool size unless set).
            pub strides: Option<(usize, usize)>,
            /// Padding mode.
            pub padding: Padding,
            name: Option<String>,
        }

        impl $ty {
            #[doc = concat!("`", $keras, "(pool_size)`.")]
            pub fn new(pool: (usize, usize)) -> Self {
                Self { pool, strides: None, padding: Padding::Valid, name: None }
            }
            /// `strides=(sh, sw)`.
            pub fn strides(mut self, strides: (usize, usize)) -> Self {
                self.strides = Some(strides);
                self
            }
            /// `padding=...`.
            pub fn padding(mut self, padding: Padding) -> Self {
                self.padding = padding;
                self
            }
            named!();
        }

        impl From<$ty> for LayerSpec {
            fn from(p: $ty) -> Self {
                LayerSpec::$variant { pool: p.pool, strides: p.strides.unwrap_or(p.pool), padding: p.padding, name: p.name }
            }
        }
    };
}

pooling_layer!(
    MaxPooling2D,
    MaxPooling2D,
    "MaxPooling2D",
    "use candlebook_models::{LayerSpec, MaxPooling2D, Padding};\nlet p: LayerSpec = MaxPooling2D::new((3, 3)).strides((2, 2)).padding(Padding::Same).into();\nassert!(matches!(p, LayerSpec::MaxPooling2D { strides: (2, 2), .. }));"
);
pooling_layer!(
    AveragePooling2D,
    AveragePooling2D,
    "AveragePooling2D",
    "use candlebook_models::{AveragePooling2D, LayerSpec};\nlet p: LayerSpec = AveragePooling2D::new((2, 2)).into();\nassert!(matches!(p, LayerSpec::AveragePooling2D { strides: (2, 2), .. }));"
);

/// `layers.BatchNormalization()` with Keras's defaults: momentum 0.99, epsilon 1e-3.
///
/// ```
/// use candlebook_models::BatchNormalization;
/// let bn = BatchNormalization::new();
/// assert_eq!((bn.momentum, bn.epsilon), (0.99, 1e-3));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormalization {
    /// Moving-average momentum.
    pub momentum: f64,
    /// Variance epsilon.
    pub epsilon: f64,
    name: Option<String>,
}

impl BatchNormalization {
    /// Keras's defaults.
    pub fn new() -> Self {
        Self { momentum: 0.99, epsilon: 1e-3, name: None }
    }
    /// `momentum=...`.
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
    /// `epsilon=...`.
    pub fn epsilon(mut self, e: f64) -> Self {
        self.epsilon = e;
        self
    }
    named!();
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl From<BatchNormalization> for LayerSpec {
    fn from(b: BatchNormalization) -> Self {
        LayerSpec::BatchNormalization { momentum: b.momentum, epsilon: b.epsilon, name: b.name }
    }
}

/// `layers.Dropout(rate)`: in training, each value is dropped with probability `rate` (in
/// [0, 1]; 1 drops every value, as in Keras) and the others are scaled by `1 / (1 - rate)`.
///
/// ```
/// use candlebook_models::Dropout;
/// assert_eq!(Dropout::new(0.5).rate, 0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    /// Fraction of units dropped in training.
    pub rate: f64,
    name: Option<String>,
}

impl Dropout {
    /// `Dropout(rate)`.
    pub fn new(rate: f64) -> Self {
        Self { rate, name: None }
    }
    named!();
}

impl From<Dropout> for LayerSpec {
    fn from(d: Dropout) -> Self {
        LayerSpec::Dropout { rate: d.rate, name: d.name }
    }
}

/// `layers.Flatten()`.
///
/// ```
/// use candlebook_models::{Flatten, LayerSpec};
/// let f: LayerSpec = Flatten::new().into();
/// assert_eq!(f.class_name(), "Flatten");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flatten {
    name: Option<String>,
}

impl Flatten {
    /// `Flatten()`.
    pub fn new() -> Self {
        Self { name: None }
    }
    named!();
}

impl From<Flatten> for LayerSpec {
    fn from(f: Flatten) -> Self {
        LayerSpec::Flatten { name: f.name }
    }
}

/// `layers.Dense(units)`; linear unless set, optional L2 kernel regulariser.
///
/// ```
/// use candlebook_models::{Activation, Dense};
/// let d = Dense::new(512).activation(Activation::Relu).l2(0.01);
/// assert_eq!((d.units, d.l2), (512, Some(0.01)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Output units.
    pub units: usize,
    /// Activation.
    pub activation: Activation,
    /// L2 factor of `kernel_regularizer=l2(...)`.
    pub l2: Option<f64>,
    name: Option<String>,
}

impl Dense {
    /// `Dense(units)`. Zero units (and a negative or non-finite L2 factor) are rejected, with an
    /// error naming the argument, when the layer is added to a model ([`crate::Sequential::add`]).
    pub fn new(units: usize) -> Self {
        Self { units, activation: Activation::Linear, l2: None, name: None }
    }
    /// `activation=...`.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    /// `kernel_regularizer=l2(factor)`.
    pub fn l2(mut self, factor: f64) -> Self {
        self.l2 = Some(factor);
        self
    }
    named!();
}

impl From<Dense> for LayerSpec {
    fn from(d: Dense) -> Self {
        LayerSpec::Dense { units: d.units, activation: d.activation, l2: d.l2, name: d.name }
    }
}

/// `layers.Activation(activation)`.
///
/// ```
/// use candlebook_models::{Activation, ActivationLayer, LayerSpec};
/// let a: LayerSpec = ActivationLayer::new(Activation::Relu).into();
/// assert_eq!(a.auto_name_prefix(), "activation");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationLayer {
    /// The activation.
    pub activation: Activation,
    name: Option<String>,
}

impl ActivationLayer {
    /// `Activation(activation)`.
    pub fn new(activation: Activation) -> Self {
        Self { activation, name: None }
    }
    named!();
}

impl From<ActivationLayer> for LayerSpec {
    fn from(a: ActivationLayer) -> Self {
        LayerSpec::Activation { activation: a.activation, name: a.name }
    }
}
