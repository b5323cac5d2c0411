//! Keras's `ImageDataGenerator` augmentation (random rotations, shifts, zooms and flips) for image
//! batches `(N, C, H, W)`.
//!
//! [`ImageDataGenerator`] holds the ranges (Keras's argument names and defaults),
//! [`ImageDataGenerator::random_transforms`] draws one [`AffineParams`] per image (in Keras's
//! order, from a seeded [`XorShift`]) and [`apply_affine_transform`] applies them exactly as Keras
//! 3's legacy `keras.src.legacy.preprocessing.image.apply_affine_transform` does with SciPy:
//! the matrix rotation · shift · zoom, centred by `transform_matrix_offset_center(h, w)` and with
//! Keras's row/column swap, sampled by `scipy.ndimage.affine_transform(order=1)` with SciPy's
//! boundary modes ([`FillMode`]), then `flip_axis` for the flips. The tests compare every mode
//! with SciPy 1.17's output (`crates/data/tests/fixtures/keras_augment.json`).
//!
//! Two implementations give the same values: a direct loop over the pixels (rayon over the
//! images) for f32 tensors on the CPU, and a path built from candle ops (the host computes each
//! output pixel's four source indices and bilinear weights, the device gathers and sums) for
//! other devices and dtypes, or for the CPU when [`generic_cpu_kernels`] is on.
//!
//! Keras's quirks are kept on purpose (Keras builds the matrix in (x, y) order, centres it with
//! (h, w), then swaps the axes): `height_shift_range` gives `tx`, pixels of the height, which moves
//! the content horizontally, and `width_shift_range` gives `ty`, pixels of the width, which moves
//! it vertically; for a non-square image the centre of the rotation/zoom uses the height for the
//! column axis and the width for the row axis. See [`AffineParams`].

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::rng::XorShift;

/// The environment variable that sends CPU tensors down the candle-op path (value `generic`).
pub const CPU_KERNELS_ENV: &str = "CANDLEBOOK_CPU_KERNELS";

/// True when `CANDLEBOOK_CPU_KERNELS=generic`: the switch that sends CPU tensors down the device
/// path (candle ops: host-computed indices and weights, `gather`, weighted sum) instead of the
/// direct CPU loop, to check one against the other or to time them. Read at each call.
///
/// ```
/// // unset (or any other value): CPU f32 tensors take the direct loop
/// if std::env::var("CANDLEBOOK_CPU_KERNELS").is_err() {
///     assert!(!candlebook_data::generic_cpu_kernels());
/// }
/// ```
pub fn generic_cpu_kernels() -> bool {
    std::env::var(CPU_KERNELS_ENV).is_ok_and(|v| v == "generic")
}

/// Keras's `fill_mode`: how points outside the input are filled, with SciPy's
/// `ndimage.affine_transform` semantics for linear (order 1) interpolation.
///
/// ```
/// use candlebook_data::FillMode;
/// assert_eq!(FillMode::default(), FillMode::Nearest);
/// assert_eq!(FillMode::Reflect.keras_name(), "reflect");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FillMode {
    /// `aaaa|abcd|dddd`: the coordinate is clamped to the image (Keras's default).
    #[default]
    Nearest,
    /// `kkkk|abcd|kkkk` with `k = cval`: SciPy's `'constant'` (not `'grid-constant'`): a sample
    /// whose coordinate lies outside `[0, len - 1]` on either axis is `cval`; inside, the edge
    /// pixels are interpolated with no `cval` mixed in.
    Constant,
    /// `dcba|abcd|dcba`: SciPy's `'reflect'` (half-sample symmetric): the coordinate is reflected
    /// about the image's outer edge (`-0.5`, `len - 0.5`); a coordinate left in the half pixel
    /// past the edge interpolates with the edge pixel repeated.
    Reflect,
    /// `abc|abcd|bcd` (period `len - 1`): SciPy's `'wrap'` (not `'grid-wrap'`), whose first and
    /// last pixels coincide.
    Wrap,
}

impl FillMode {
    /// Keras's (and SciPy's) name of the mode.
    pub fn keras_name(self) -> &'static str {
        match self {
            FillMode::Nearest => "nearest",
            FillMode::Constant => "constant",
            FillMode::Reflect => "reflect",
            FillMode::Wrap => "wrap",
        }
    }
}

/// One image's random transform (Keras's `get_random_transform` dict): rotation `theta` in
/// degrees, shifts `tx`/`ty` in PIXELS, zoom factors `zx`/`zy` (above 1 shrinks the content: they
/// scale the sampling coordinates), and the flips applied after the affine part.
///
/// Keras names `tx` the vertical shift (it draws it from `height_shift_range` and scales it by
/// the height) and `ty` the horizontal one, but its legacy `apply_affine_transform` swaps the
/// matrix's axes after building it, so `tx` moves the content along the COLUMNS and `ty` along the
/// ROWS (output pixel `(r, c)` samples `(r + ty, c + tx)` when nothing else is set). Likewise `zx`
/// scales the columns and `zy` the rows, and for non-square images the rotation/zoom centre takes
/// the height for the column axis and the width for the row axis. All of this is reproduced as
/// Keras 3.15 does it (the fixtures hold non-square cases).
///
/// ```
/// use candlebook_data::AffineParams;
/// let p = AffineParams { theta: 30.0, ..AffineParams::default() };
/// assert!(!p.is_identity() && AffineParams::default().is_identity());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees.
    pub theta: f32,
    /// Keras's `tx` (drawn from `height_shift_range`), in pixels: moves along the columns.
    pub tx: f32,
    /// Keras's `ty` (drawn from `width_shift_range`), in pixels: moves along the rows.
    pub ty: f32,
    /// Keras's `zx`: scales the column coordinate.
    pub zx: f32,
    /// Keras's `zy`: scales the row coordinate.
    pub zy: f32,
    /// Mirror the columns (left-right) after the affine part.
    pub flip_horizontal: bool,
    /// Mirror the rows (up-down) after the affine part.
    pub flip_vertical: bool,
}

impl Default for AffineParams {
    /// The identity: no rotation, shift, zoom or flip.
    fn default() -> Self {
        Self { theta: 0.0, tx: 0.0, ty: 0.0, zx: 1.0, zy: 1.0, flip_horizontal: false, flip_vertical: false }
    }
}

impl AffineParams {
    /// True when the transform leaves every image as it is (no affine part, no flip).
    pub fn is_identity(&self) -> bool {
        !self.has_affine() && !self.flip_horizontal && !self.flip_vertical
    }

    /// Keras builds (and applies) a matrix only when one of these differs from the identity.
    fn has_affine(&self) -> bool {
        self.theta != 0.0 || self.tx != 0.0 || self.ty != 0.0 || self.zx != 1.0 || self.zy != 1.0
    }

    fn check_finite(&self) -> Result<()> {
        for (parameter, v) in [("theta", self.theta), ("tx", self.tx), ("ty", self.ty), ("zx", self.zx), ("zy", self.zy)] {
            if !v.is_finite() {
                return Err(bad(parameter, v, "a finite number"));
            }
        }
        Ok(())
    }

    /// The sampling map of Keras's `apply_affine_transform` for an `h`×`w` image: input
    /// `(row, col) = A · (r, c) + b` for output pixel `(r, c)`, as `[a00, a01, a10, a11, b0, b1]`,
    /// in f64 as NumPy computes it.
    fn sampling_matrix(&self, h: usize, w: usize) -> [f64; 6] {
        type M = [[f64; 3]; 3];
        fn dot(a: &M, b: &M) -> M {
            let mut o = [[0.0; 3]; 3];
            for i in 0..3 {
                for j in 0..3 {
                    o[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
                }
            }
            o
        }
        let mut m: Option<M> = None;
        if self.theta != 0.0 {
            let t = (self.theta as f64).to_radians();
            let (s, c) = (t.sin(), t.cos());
            m = Some([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]);
        }
        if self.tx != 0.0 || self.ty != 0.0 {
            let sh = [[1.0, 0.0, self.tx as f64], [0.0, 1.0, self.ty as f64], [0.0, 0.0, 1.0]];
            m = Some(m.map_or(sh, |m| dot(&m, &sh)));
        }
        if self.zx != 1.0 || self.zy != 1.0 {
            let z = [[self.zx as f64, 0.0, 0.0], [0.0, self.zy as f64, 0.0], [0.0, 0.0, 1.0]];
            m = Some(m.map_or(z, |m| dot(&m, &z)));
        }
        let m = m.unwrap_or([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        // transform_matrix_offset_center(m, h, w)
        let (ox, oy) = (h as f64 / 2.0 - 0.5, w as f64 / 2.0 - 0.5);
        let offset = [[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]];
        let reset = [[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]];
        let t = dot(&dot(&offset, &m), &reset);
        // Keras swaps columns 0 and 1, then rows 0 and 1 (col_axis > row_axis)
        [t[1][1], t[1][0], t[0][1], t[0][0], t[1][2], t[0][2]]
    }
}

fn bad(parameter: &'static str, value: impl std::fmt::Debug, expected: &'static str) -> DataError {
    DataError::BadAugmentation { parameter, value: format!("{value:?}"), expected }
}

/// Keras's `ImageDataGenerator` geometric augmentation: ranges for random rotations, shifts,
/// zooms and flips (Keras's argument names; everything off by default), the fill mode and `cval`.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candlebook_data::{FillMode, ImageDataGenerator};
///
/// let gen = ImageDataGenerator::new()
///     .rotation_range(10.0)
///     .width_shift_range(0.1)
///     .height_shift_range(0.1)
///     .zoom_range(0.1)
///     .fill_mode(FillMode::Nearest);
/// let batch = Tensor::rand(0f32, 1.0, (8, 1, 28, 28), &Device::Cpu)?;
/// let a = gen.augment(&batch, 1)?;
/// assert_eq!(a.dims(), batch.dims());
/// // the same seed gives the same batch
/// let b = gen.augment(&batch, 1)?;
/// assert_eq!((a - b)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataGenerator {
    /// Degrees: rotations drawn from `U(-r, r)`.
    pub rotation_range: f32,
    /// Fraction of the width: `ty` drawn from `U(-s, s) * width` pixels (which Keras's legacy
    /// transform applies along the rows; see [`AffineParams`]).
    pub width_shift_range: f32,
    /// Fraction of the height: `tx` drawn from `U(-s, s) * height` pixels (applied along the
    /// columns, as Keras does; see [`AffineParams`]).
    pub height_shift_range: f32,
    /// Zoom factors `zx`, `zy` drawn independently from `U(lo, hi)`; `(1, 1)` turns zoom off.
    pub zoom_range: (f32, f32),
    /// Flip half of the images left-right.
    pub horizontal_flip: bool,
    /// Flip half of the images up-down.
    pub vertical_flip: bool,
    /// How points outside the input are filled.
    pub fill_mode: FillMode,
    /// The value of [`FillMode::Constant`]'s outside points.
    pub cval: f32,
}

impl Default for ImageDataGenerator {
    /// Keras's defaults: no rotation, shift, zoom (`(1, 1)`) or flip, [`FillMode::Nearest`],
    /// `cval` 0.
    fn default() -> Self {
        Self {
            rotation_range: 0.0,
            width_shift_range: 0.0,
            height_shift_range: 0.0,
            zoom_range: (1.0, 1.0),
            horizontal_flip: false,
            vertical_flip: false,
            fill_mode: FillMode::Nearest,
            cval: 0.0,
        }
    }
}

impl ImageDataGenerator {
    /// Keras's defaults (nothing on); see [`ImageDataGenerator::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Random rotations in `[-degrees, degrees]` (Keras's `rotation_range`).
    pub fn rotation_range(mut self, degrees: f32) -> Self {
        self.rotation_range = degrees;
        self
    }

    /// Keras's `width_shift_range` as a float below 1: `ty` up to `fraction` of the width (Keras
    /// reads values `>= 1` as pixels; this crate takes fractions only and
    /// [`validate`](Self::validate) rejects them). Keras's legacy transform applies `ty` along the
    /// rows (see [`AffineParams`]); for square images only the direction's name differs.
    pub fn width_shift_range(mut self, fraction: f32) -> Self {
        self.width_shift_range = fraction;
        self
    }

    /// Keras's `height_shift_range`: `tx` up to `fraction` of the height (fractions only, as for
    /// [`width_shift_range`](Self::width_shift_range)), applied along the columns as Keras does.
    pub fn height_shift_range(mut self, fraction: f32) -> Self {
        self.height_shift_range = fraction;
        self
    }

    /// Random zooms in `[1 - z, 1 + z]` (Keras's float `zoom_range`).
    pub fn zoom_range(mut self, z: f32) -> Self {
        self.zoom_range = (1.0 - z, 1.0 + z);
        self
    }

    /// Random zooms in `[lo, hi]` (Keras's `zoom_range=[lo, hi]`).
    pub fn zoom_range_between(mut self, lo: f32, hi: f32) -> Self {
        self.zoom_range = (lo, hi);
        self
    }

    /// Flip half of the images left-right (Keras's `horizontal_flip`).
    pub fn horizontal_flip(mut self, on: bool) -> Self {
        self.horizontal_flip = on;
        self
    }

    /// Flip half of the images up-down (Keras's `vertical_flip`).
    pub fn vertical_flip(mut self, on: bool) -> Self {
        self.vertical_flip = on;
        self
    }

    /// How points outside the input are filled (Keras's `fill_mode`).
    pub fn fill_mode(mut self, m: FillMode) -> Self {
        self.fill_mode = m;
        self
    }

    /// The value outside the input for [`FillMode::Constant`] (Keras's `cval`).
    pub fn cval(mut self, v: f32) -> Self {
        self.cval = v;
        self
    }

    /// Checks the parameters: a [`DataError::BadAugmentation`] names the first bad one — NaN or
    /// infinity anywhere, a negative rotation, a shift outside `[0, 1)` (Keras reads a shift
    /// `>= 1` as pixels; this crate takes fractions of the image only), a zoom bound `<= 0` or
    /// `lo > hi` (which a negative `z` of [`zoom_range`](Self::zoom_range) gives).
    ///
    /// ```
    /// use candlebook_data::{DataError, ImageDataGenerator};
    /// assert!(ImageDataGenerator::new().zoom_range(0.2).validate().is_ok());
    /// let e = ImageDataGenerator::new().width_shift_range(2.0).validate().unwrap_err();
    /// assert!(matches!(e, DataError::BadAugmentation { parameter: "width_shift_range", .. }));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let r = self.rotation_range;
        if !r.is_finite() || r < 0.0 {
            return Err(bad("rotation_range", r, "a finite number of degrees >= 0"));
        }
        for (parameter, s) in [("width_shift_range", self.width_shift_range), ("height_shift_range", self.height_shift_range)] {
            if !s.is_finite() || !(0.0..1.0).contains(&s) {
                return Err(bad(parameter, s, "a fraction of the image in [0, 1) (shifts in pixels are not supported)"));
            }
        }
        let (lo, hi) = self.zoom_range;
        if !lo.is_finite() || !hi.is_finite() || lo <= 0.0 || hi <= 0.0 {
            return Err(bad("zoom_range", (lo, hi), "finite zoom factors > 0 (zoom_range(z) needs 0 <= z < 1)"));
        }
        if lo > hi {
            return Err(bad("zoom_range", (lo, hi), "lo <= hi (zoom_range(z) needs z >= 0)"));
        }
        if !self.cval.is_finite() {
            return Err(bad("cval", self.cval, "a finite number"));
        }
        Ok(())
    }

    /// Draws `n` transforms for images of `height`×`width` from a seeded [`XorShift`], in Keras's
    /// order per image: `theta = U(-r, r)`; `tx = U(-hs, hs) * height`; `ty = U(-ws, ws) * width`;
    /// `zx`, `zy = U(lo, hi)` independently (both 1, undrawn, when `lo == hi == 1`);
    /// `flip_horizontal = U < 0.5` when enabled; `flip_vertical` likewise. Only what is enabled is
    /// drawn. The same seed gives the same transforms. Validates first.
    ///
    /// ```
    /// use candlebook_data::ImageDataGenerator;
    /// let gen = ImageDataGenerator::new().rotation_range(20.0).horizontal_flip(true);
    /// let p = gen.random_transforms(4, 28, 28, 7)?;
    /// assert_eq!(p, gen.random_transforms(4, 28, 28, 7)?);
    /// assert!(p.iter().all(|t| t.theta.abs() <= 20.0 && t.tx == 0.0 && t.zx == 1.0));
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn random_transforms(&self, n: usize, height: usize, width: usize, seed: u64) -> Result<Vec<AffineParams>> {
        self.validate()?;
        let mut rng = XorShift::new(seed);
        let (r, hs, ws) = (self.rotation_range, self.height_shift_range, self.width_shift_range);
        let (lo, hi) = self.zoom_range;
        Ok((0..n)
            .map(|_| {
                let mut p = AffineParams::default();
                if r != 0.0 {
                    p.theta = rng.range(-r, r);
                }
                if hs != 0.0 {
                    p.tx = rng.range(-hs, hs) * height as f32;
                }
                if ws != 0.0 {
                    p.ty = rng.range(-ws, ws) * width as f32;
                }
                if !(lo == 1.0 && hi == 1.0) {
                    p.zx = rng.range(lo, hi);
                    p.zy = rng.range(lo, hi);
                }
                if self.horizontal_flip {
                    p.flip_horizontal = rng.uniform() < 0.5;
                }
                if self.vertical_flip {
                    p.flip_vertical = rng.uniform() < 0.5;
                }
                p
            })
            .collect())
    }

    /// Augments a batch `(N, C, H, W)` (or one image `(C, H, W)`) of float images (any value
    /// range) with transforms freshly drawn by [`random_transforms`](Self::random_transforms)
    /// from `seed`, on the tensor's device; same dtype and shape. Validates first.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_data::ImageDataGenerator;
    /// let x = Tensor::rand(0f32, 255.0, (2, 3, 16, 24), &Device::Cpu)?;
    /// let gen = ImageDataGenerator::new().zoom_range_between(0.9, 1.2).vertical_flip(true);
    /// let y = gen.augment(&x, 3)?;
    /// assert_eq!(y.dims(), x.dims());
    /// assert!(ImageDataGenerator::new().zoom_range(-0.1).augment(&x, 3).is_err());
    /// # Ok::<(), candlebook_data::DataError>(())
    /// ```
    pub fn augment(&self, images: &Tensor, seed: u64) -> Result<Tensor> {
        self.validate()?;
        let (n, h, w) = match images.dims() {
            &[_, h, w] => (1, h, w),
            &[n, _, h, w] => (n, h, w),
            d => return Err(rank_error(d)),
        };
        let params = self.random_transforms(n, h, w, seed)?;
        apply_affine_transform(images, &params, self.fill_mode, self.cval)
    }
}

fn rank_error(dims: &[usize]) -> DataError {
    DataError::BadArgument(format!("augmentation expects an image (C, H, W) or a batch (N, C, H, W), got a tensor of shape {dims:?}"))
}

/// Keras's `apply_affine_transform` (SciPy's `ndimage.affine_transform`, linear interpolation,
/// `fill_mode`, `cval`) followed by its flips (`flip_axis`), for one image `(C, H, W)` with one
/// params or a batch `(N, C, H, W)` with one params per image. Float tensors of any dtype and
/// device; the result has the input's shape, dtype and device. Params equal to the identity
/// return the image unchanged, as Keras does. Non-finite pixels spread as in SciPy (every tap is
/// multiplied, so an inf next to a sample gives NaN there); one difference: the candle-op path
/// also multiplies the unused taps of a flip-only image, where the CPU loop copies the pixel.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_data::{apply_affine_transform, AffineParams, FillMode};
/// let x = Tensor::new(&[[[1f32, 2.0, 3.0], [4.0, 5.0, 6.0]]], &Device::Cpu)?; // 1x2x3
/// // Keras's tx = 1 samples the next COLUMN, its ty = 1 the next ROW (see AffineParams)
/// let p = AffineParams { tx: 1.0, ..AffineParams::default() };
/// let y = apply_affine_transform(&x, &[p], FillMode::Constant, 0.0)?;
/// assert_eq!(y.to_vec3::<f32>()?, vec![vec![vec![2.0, 3.0, 0.0], vec![5.0, 6.0, 0.0]]]);
/// let p = AffineParams { ty: 1.0, ..AffineParams::default() };
/// let y = apply_affine_transform(&x, &[p], FillMode::Constant, 0.0)?;
/// assert_eq!(y.to_vec3::<f32>()?, vec![vec![vec![4.0, 5.0, 6.0], vec![0.0, 0.0, 0.0]]]);
/// let flipped = AffineParams { flip_horizontal: true, ..AffineParams::default() };
/// let y = apply_affine_transform(&x, &[flipped], FillMode::Nearest, 0.0)?;
/// assert_eq!(y.to_vec3::<f32>()?, vec![vec![vec![3.0, 2.0, 1.0], vec![6.0, 5.0, 4.0]]]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn apply_affine_transform(images: &Tensor, params: &[AffineParams], fill_mode: FillMode, cval: f32) -> Result<Tensor> {
    let generic = !matches!(images.device(), Device::Cpu) || images.dtype() != DType::F32 || generic_cpu_kernels();
    transform(images, params, fill_mode, cval, generic)
}

#[doc(hidden)]
/// [`apply_affine_transform`] through the candle-op (device) path even for CPU f32 tensors, for
/// the tests that compare the two paths.
pub fn apply_affine_transform_generic(images: &Tensor, params: &[AffineParams], fill_mode: FillMode, cval: f32) -> Result<Tensor> {
    transform(images, params, fill_mode, cval, true)
}

fn transform(images: &Tensor, params: &[AffineParams], fill_mode: FillMode, cval: f32, generic: bool) -> Result<Tensor> {
    let (x, single) = match images.rank() {
        3 => (images.unsqueeze(0)?, true),
        4 => (images.clone(), false),
        _ => return Err(rank_error(images.dims())),
    };
    let (n, c, h, w) = x.dims4()?;
    if params.len() != n {
        return Err(DataError::BadArgument(format!(
            "apply_affine_transform: {} params for {n} image(s) of shape {:?}; give one per image",
            params.len(),
            images.dims()
        )));
    }
    if !images.dtype().is_float() {
        return Err(DataError::BadArgument(format!(
            "apply_affine_transform expects float images, got {:?}; convert first (e.g. transform::to_f32_unit)",
            images.dtype()
        )));
    }
    if !cval.is_finite() {
        return Err(bad("cval", cval, "a finite number"));
    }
    for p in params {
        p.check_finite()?;
    }
    if params.iter().all(AffineParams::is_identity) || n * c * h * w == 0 {
        return Ok(images.clone());
    }
    let y = if generic { transform_ops(&x, params, fill_mode, cval)? } else { transform_cpu(&x, params, fill_mode, cval)? };
    Ok(if single { y.squeeze(0)? } else { y })
}

/// SciPy's `map_coordinate` for one axis of length `len`: a coordinate outside `[0, len - 1]`
/// brought back according to the mode; `-1` (or below) means "use cval".
#[inline]
fn map_coordinate(mut x: f64, len: usize, mode: FillMode) -> f64 {
    let n = len as f64;
    if x < 0.0 {
        match mode {
            FillMode::Nearest => 0.0,
            FillMode::Constant => -1.0,
            FillMode::Reflect => {
                if len <= 1 {
                    return 0.0;
                }
                let sz2 = 2.0 * n;
                if x < -sz2 {
                    x += sz2 * (-x / sz2).trunc();
                }
                if x < -n {
                    x + sz2
                } else {
                    (if x > -1e-15 { 1e-15 } else { -x }) - 1.0
                }
            }
            FillMode::Wrap => {
                if len <= 1 {
                    return 0.0;
                }
                let sz = n - 1.0;
                x + sz * ((-x / sz).trunc() + 1.0)
            }
        }
    } else if x > n - 1.0 {
        match mode {
            FillMode::Nearest => n - 1.0,
            FillMode::Constant => -1.0,
            FillMode::Reflect => {
                if len <= 1 {
                    return 0.0;
                }
                let sz2 = 2.0 * n;
                x -= sz2 * (x / sz2).trunc();
                if x >= n {
                    sz2 - x - 1.0
                } else {
                    x
                }
            }
            FillMode::Wrap => {
                if len <= 1 {
                    return 0.0;
                }
                let sz = n - 1.0;
                x - sz * (x / sz).trunc()
            }
        }
    } else {
        x
    }
}

/// The index SciPy reads for a spline tap `idx` (always in `-1..=len`) outside the image: the
/// mode's own mapping for nearest and reflect (both give the edge pixel), whole-sample mirror for
/// constant and wrap (SciPy's `_get_spline_boundary_mode`).
#[inline]
fn tap_index(idx: isize, len: usize, mode: FillMode) -> usize {
    let n = len as isize;
    if (0..n).contains(&idx) {
        return idx as usize;
    }
    if n <= 1 {
        return 0;
    }
    match mode {
        FillMode::Nearest | FillMode::Reflect => idx.clamp(0, n - 1) as usize,
        FillMode::Constant | FillMode::Wrap => (if idx < 0 { -idx } else { 2 * n - 2 - idx }).clamp(0, n - 1) as usize,
    }
}

/// One axis's linear taps: `(i0, i1, w0, w1)`, or `None` for cval.
#[inline]
fn axis_taps(x: f64, len: usize, mode: FillMode) -> Option<(usize, usize, f64, f64)> {
    let cc = if mode == FillMode::Nearest { x.clamp(0.0, len as f64 - 1.0) } else { map_coordinate(x, len, mode) };
    // NaN never reaches here (parameters are checked finite)
    if cc <= -1.0 {
        return None;
    }
    // floor without libm's call (baseline x86-64 has no SSE4.1 `roundsd`): cc > -1 here
    let s = cc as isize;
    let s = if (s as f64) > cc { s - 1 } else { s };
    let t = cc - s as f64;
    Some((tap_index(s, len, mode), tap_index(s + 1, len, mode), 1.0 - t, t))
}

/// One image's sampling: the Keras matrix, the flips, the plane's size and the fill mode.
struct Sampler {
    m: [f64; 6],
    affine: bool,
    flip_horizontal: bool,
    flip_vertical: bool,
    h: usize,
    w: usize,
    mode: FillMode,
}

impl Sampler {
    fn new(p: &AffineParams, h: usize, w: usize, mode: FillMode) -> Self {
        let affine = p.has_affine();
        let m = p.sampling_matrix(h, w);
        Self { m, affine, flip_horizontal: p.flip_horizontal, flip_vertical: p.flip_vertical, h, w, mode }
    }

    /// Output pixel `(r, c)`'s four source offsets in the `h`×`w` plane and their weights, or
    /// `None` for cval. Flips are applied to the output coordinates (Keras flips the affine
    /// output). Without an affine part the first tap is the pixel itself with weight 1.
    #[inline]
    fn taps(&self, r: usize, c: usize) -> Option<([usize; 4], [f64; 4])> {
        let (h, w, m) = (self.h, self.w, &self.m);
        let r = if self.flip_vertical { h - 1 - r } else { r };
        let c = if self.flip_horizontal { w - 1 - c } else { c };
        if !self.affine {
            return Some(([r * w + c; 4], [1.0, 0.0, 0.0, 0.0]));
        }
        let (rf, cf) = (r as f64, c as f64);
        // SciPy's order: the shift first, then each coordinate times its matrix entry
        let y = m[4] + rf * m[0] + cf * m[1];
        let x = m[5] + rf * m[2] + cf * m[3];
        let (i0, i1, a0, a1) = axis_taps(y, h, self.mode)?;
        let (j0, j1, b0, b1) = axis_taps(x, w, self.mode)?;
        Some(([i0 * w + j0, i0 * w + j1, i1 * w + j0, i1 * w + j1], [a0 * b0, a0 * b1, a1 * b0, a1 * b1]))
    }
}

/// The direct loop for f32 CPU tensors: rayon over images, one pass over the output pixels, the
/// taps computed once per pixel and used for every channel. The only allocation is the output.
fn transform_cpu(x: &Tensor, params: &[AffineParams], mode: FillMode, cval: f32) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let plane = h * w;
    let mut out = vec![0f32; n * c * plane];
    let x = x.contiguous()?;
    {
        let (storage, layout) = x.storage_and_layout();
        let src: &[f32] = match (&*storage, layout.contiguous_offsets()) {
            (candle_core::Storage::Cpu(cpu), Some((start, end))) => &cpu.as_slice::<f32>()?[start..end],
            _ => return Err(DataError::BadArgument("apply_affine_transform: the CPU path needs a contiguous f32 CPU tensor".into())),
        };
        out.par_chunks_mut(c * plane).zip(src.par_chunks(c * plane)).zip(params.par_iter()).for_each(|((o, s), p)| {
            let sampler = Sampler::new(p, h, w, mode);
            for r in 0..h {
                for col in 0..w {
                    let at = r * w + col;
                    match sampler.taps(r, col) {
                        Some((idx, _)) if !sampler.affine => {
                            for ch in 0..c {
                                o[ch * plane + at] = s[ch * plane + idx[0]];
                            }
                        }
                        Some((idx, wt)) => {
                            for ch in 0..c {
                                let sp = &s[ch * plane..(ch + 1) * plane];
                                // f64 sum as SciPy's, every tap multiplied (as SciPy: a zero
                                // weight on an inf or NaN neighbour gives NaN there too)
                                let v = sp[idx[0]] as f64 * wt[0]
                                    + sp[idx[1]] as f64 * wt[1]
                                    + sp[idx[2]] as f64 * wt[2]
                                    + sp[idx[3]] as f64 * wt[3];
                                o[ch * plane + at] = v as f32;
                            }
                        }
                        None => {
                            for ch in 0..c {
                                o[ch * plane + at] = cval;
                            }
                        }
                    }
                }
            }
        });
    }
    Ok(Tensor::from_vec(out, (n, c, h, w), &Device::Cpu)?)
}

/// The candle-op path: the host computes every output pixel's four source offsets (u32) and
/// weights, and a cval mask; the device gathers, weights, sums and fills.
fn transform_ops(x: &Tensor, params: &[AffineParams], mode: FillMode, cval: f32) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let plane = h * w;
    if plane > u32::MAX as usize {
        return Err(DataError::BadArgument(format!("apply_affine_transform: {h}x{w} images are too large for u32 indices")));
    }
    let mut idx = vec![0u32; n * plane * 4];
    let mut wts = vec![0f32; n * plane * 4];
    let mut fill = vec![0u8; n * plane];
    idx.par_chunks_mut(plane * 4)
        .zip(wts.par_chunks_mut(plane * 4))
        .zip(fill.par_chunks_mut(plane))
        .zip(params.par_iter())
        .for_each(|(((ix, wt), fl), p)| {
            let sampler = Sampler::new(p, h, w, mode);
            for r in 0..h {
                for col in 0..w {
                    let at = r * w + col;
                    match sampler.taps(r, col) {
                        Some((i, k)) => {
                            for t in 0..4 {
                                ix[at * 4 + t] = i[t] as u32;
                                wt[at * 4 + t] = k[t] as f32;
                            }
                        }
                        None => fl[at] = 1,
                    }
                }
            }
        });
    let dev = x.device();
    let dtype = x.dtype();
    let idx = Tensor::from_vec(idx, (n, 1, plane * 4), dev)?.broadcast_as((n, c, plane * 4))?.contiguous()?;
    let wts = Tensor::from_vec(wts, (n, 1, plane, 4), dev)?.to_dtype(dtype)?;
    let fill = Tensor::from_vec(fill, (n, 1, plane), dev)?.broadcast_as((n, c, plane))?;
    let src = x.reshape((n, c, plane))?.contiguous()?;
    let taps = src.gather(&idx, 2)?.reshape((n, c, plane, 4))?;
    let sum = taps.broadcast_mul(&wts)?.sum(3)?;
    let cv = Tensor::new(cval, dev)?.to_dtype(dtype)?.broadcast_as((n, c, plane))?;
    let y = fill.where_cond(&cv, &sum)?;
    Ok(y.reshape((n, c, h, w))?)
}
