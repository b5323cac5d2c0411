//! sklearn's `LogisticRegression()` on candle tensors: the fingers notebook's baseline.
//!
//! Same defaults and objective as scikit-learn's estimator: multinomial (softmax) for more than two
//! classes and binomial for two, L2 penalty with `C = 1.0` (the objective is the mean cross-entropy
//! plus `||W||² / (2 C n)`; the intercept is fitted and not penalised), L-BFGS with `max_iter = 100`,
//! `tol = 1e-4` (stop when every gradient entry is below it), the relative-reduction test
//! `ftol = 64 eps`, history 10 and a Moré–Thuente line search of at most 50 evaluations, as sklearn
//! passes them to scipy's L-BFGS-B. When `max_iter` is hit it prints a line like sklearn's
//! `ConvergenceWarning` (to stderr) and [`LogisticRegression::converged`] is false.
//!
//! The heavy products `X Wᵀ` and `(P − Y)ᵀ X` run through candle's matmul, in the dtype (f32 or f64)
//! and on the device of `x`; the softmax, the loss and the optimiser state are f64 on the host.

mod curves;
mod lbfgs;
mod line_search;
mod objective;

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::error::{ModelError, Result};
pub use curves::{c_sweep, logistic_learning_curve, seed_c_grid, seed_learning_curve_sizes, CSweep, LearningCurvePoints};
pub use lbfgs::LbfgsStop;
use lbfgs::{minimize, LbfgsOptions};
use objective::{probabilities, raw_scores, weight_rows, Objective};

/// Multinomial logistic regression with sklearn's defaults, fitted by L-BFGS.
///
/// Hyperparameters are set builder-style and checked once, when [`fit`](Self::fit) runs. `x` is an
/// `(n, features)` float tensor (f32 or f64), `y` holds `n` integer labels (u8, u32 or i64; any
/// values — like sklearn, the sorted distinct labels become [`classes`](Self::classes)).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::LogisticRegression;
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[0f32, 0.0], [0.2, 0.1], [3.0, 3.0], [3.1, 2.8], [0.0, 3.0], [0.2, 3.1]], &dev)?;
/// let y = Tensor::new(&[0u32, 0, 1, 1, 2, 2], &dev)?;
/// let mut lm = LogisticRegression::new().c(10.0).max_iter(200);
/// lm.fit(&x, &y)?;
/// assert_eq!(lm.score(&x, &y)?, 1.0);
/// assert_eq!(lm.predict(&x)?.to_vec1::<u32>()?, vec![0, 0, 1, 1, 2, 2]);
/// assert_eq!(lm.predict_proba(&x)?.dims(), &[6, 3]);
/// assert_eq!(lm.coef()?.dims(), &[3, 2]);
/// assert!(lm.converged() && lm.n_iter() > 0);
/// // Bad hyperparameters are a clear error, not a panic:
/// let e = LogisticRegression::new().c(0.0).fit(&x, &y).unwrap_err();
/// assert!(e.to_string().contains("C must be"));
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    c: f64,
    max_iter: usize,
    tol: f64,
    fit_intercept: bool,
    warnings: bool,
    fitted: Option<Fitted>,
}

#[derive(Debug, Clone)]
struct Fitted {
    classes: Vec<i64>,
    label_dtype: DType,
    dtype: DType,
    device: Device,
    n_features: usize,
    /// Row-major `(rows, n_features)`.
    coef: Vec<f64>,
    intercept: Vec<f64>,
    n_iter: usize,
    n_fev: usize,
    stop: LbfgsStop,
    loss: f64,
    seconds: f64,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegression {
    /// sklearn's defaults: `C = 1.0`, `max_iter = 100`, `tol = 1e-4`, intercept fitted.
    pub fn new() -> Self {
        LogisticRegression { c: 1.0, max_iter: 100, tol: 1e-4, fit_intercept: true, warnings: true, fitted: None }
    }

    /// Inverse regularisation strength (`> 0`, finite); smaller means a stronger L2 penalty.
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }

    /// Most L-BFGS iterations (`>= 1`).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Gradient tolerance (`>= 0`): stop when every gradient entry is at most this.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Fit an intercept (default true; never penalised).
    pub fn fit_intercept(mut self, yes: bool) -> Self {
        self.fit_intercept = yes;
        self
    }

    /// Print the convergence warning line when `max_iter` is hit (default true).
    pub fn warnings(mut self, yes: bool) -> Self {
        self.warnings = yes;
        self
    }

    /// The configured `C`.
    pub fn get_c(&self) -> f64 {
        self.c
    }

    /// A copy with the same hyperparameters and no fitted state.
    pub fn unfitted(&self) -> Self {
        LogisticRegression { fitted: None, ..self.clone() }
    }

    fn validate(&self) -> Result<()> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(ModelError::Spec(format!("LogisticRegression: C must be > 0 and finite, got {}", self.c)));
        }
        if self.max_iter == 0 {
            return Err(ModelError::Spec("LogisticRegression: max_iter must be at least 1, got 0".into()));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(ModelError::Spec(format!("LogisticRegression: tol must be >= 0 and finite, got {}", self.tol)));
        }
        Ok(())
    }

    /// Fits on `x` `(n, features)` and labels `y` `(n,)`; returns `self` for chaining.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor) -> Result<&mut Self> {
        self.validate()?;
        let start = Instant::now();
        let (n, f) = check_x(x, "x")?;
        let (labels, label_dtype) = read_labels(y, "y")?;
        if labels.len() != n {
            return Err(ModelError::LengthMismatch { what: "x rows vs y labels".into(), left: n, right: labels.len() });
        }
        let mut classes = labels.clone();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ModelError::Spec(format!(
                "LogisticRegression needs at least 2 classes in y, got only {:?}",
                classes
            )));
        }
        let encoded: Vec<usize> = labels.iter().map(|l| classes.binary_search(l).unwrap_or(0)).collect();
        let k = classes.len();
        let rows = weight_rows(k);
        let objective =
            Objective { x, labels: &encoded, n_classes: k, fit_intercept: self.fit_intercept, l2: 1.0 / (self.c * n as f64) };
        let options = LbfgsOptions {
            max_iter: self.max_iter,
            gtol: self.tol,
            ftol: 64.0 * f64::EPSILON,
            max_ls: 50,
            memory: 10,
            max_fun: 15000,
        };
        let r = minimize(|w| objective.loss_grad(w), vec![0.0; rows * (f + 1)], &options)?;
        let n_iter = r.nit.min(self.max_iter);
        if r.stop.status() != 0 && self.warnings {
            eprintln!(
                "ConvergenceWarning: lbfgs failed to converge after {n_iter} iteration(s) (status={}): {}. \
                 Increase the number of iterations (max_iter={}) or scale the data (e.g. x / 255).",
                r.stop.status(),
                r.stop.message(),
                self.max_iter
            );
        }
        let mut coef = r.x;
        let mut intercept = coef.split_off(rows * f);
        if !self.fit_intercept {
            intercept.iter_mut().for_each(|b| *b = 0.0);
        }
        self.fitted = Some(Fitted {
            classes,
            label_dtype,
            dtype: x.dtype(),
            device: x.device().clone(),
            n_features: f,
            coef,
            intercept,
            n_iter,
            n_fev: r.nfev,
            stop: r.stop,
            loss: r.f,
            seconds: start.elapsed().as_secs_f64(),
        });
        Ok(self)
    }

    fn fitted(&self) -> Result<&Fitted> {
        self.fitted.as_ref().ok_or_else(|| ModelError::Empty("LogisticRegression is not fitted yet: call fit first".into()))
    }

    fn scores(&self, x: &Tensor) -> Result<(&Fitted, Vec<f64>)> {
        let m = self.fitted()?;
        let (_, f) = check_x(x, "x")?;
        if f != m.n_features {
            return Err(ModelError::Shape(format!(
                "x has {f} features per row, but the model was fitted on {} features",
                m.n_features
            )));
        }
        let rows = weight_rows(m.classes.len());
        let z = raw_scores(x, &m.coef, &m.intercept, rows)?;
        Ok((m, z))
    }

    /// Class indices (into [`classes`](Self::classes)) of the highest probability per row.
    fn predict_indices(&self, x: &Tensor) -> Result<(&Fitted, Vec<usize>)> {
        let (m, z) = self.scores(x)?;
        let rows = weight_rows(m.classes.len());
        let idx = z
            .chunks_exact(rows)
            .map(|r| {
                if rows == 1 {
                    usize::from(r[0] > 0.0)
                } else {
                    // First maximum, like numpy's argmax.
                    r.iter().enumerate().fold(0, |best, (i, v)| if *v > r[best] { i } else { best })
                }
            })
            .collect();
        Ok((m, idx))
    }

    /// Predicted labels `(n,)`, in the dtype of the labels `fit` saw.
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let (m, idx) = self.predict_indices(x)?;
        let labels = idx.iter().map(|&i| m.classes[i]);
        let n = idx.len();
        let t = match m.label_dtype {
            DType::U8 => Tensor::from_vec(labels.map(|l| l as u8).collect::<Vec<_>>(), n, x.device())?,
            DType::U32 => Tensor::from_vec(labels.map(|l| l as u32).collect::<Vec<_>>(), n, x.device())?,
            _ => Tensor::from_vec(labels.collect::<Vec<i64>>(), n, x.device())?,
        };
        Ok(t)
    }

    /// Class probabilities `(n, classes)` in the dtype of `x`; rows sum to 1.
    pub fn predict_proba(&self, x: &Tensor) -> Result<Tensor> {
        let (m, z) = self.scores(x)?;
        let k = m.classes.len();
        let p = probabilities(&z, k);
        let n = p.len() / k;
        Ok(Tensor::from_vec(p, (n, k), x.device())?.to_dtype(x.dtype())?)
    }

    /// Mean accuracy of [`predict`](Self::predict) against `y` (labels never seen in training count as wrong).
    pub fn score(&self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let (labels, _) = read_labels(y, "y")?;
        let (m, idx) = self.predict_indices(x)?;
        if labels.len() != idx.len() {
            return Err(ModelError::LengthMismatch { what: "x rows vs y labels".into(), left: idx.len(), right: labels.len() });
        }
        if labels.is_empty() {
            return Err(ModelError::Empty("score needs at least one sample".into()));
        }
        let hits = idx.iter().zip(&labels).filter(|(i, l)| m.classes[**i] == **l).count();
        Ok(hits as f64 / labels.len() as f64)
    }

    /// Weights `(rows, features)`: one row per class, or a single row for two classes (as sklearn's
    /// `coef_`), in the dtype and on the device of the training `x`.
    pub fn coef(&self) -> Result<Tensor> {
        let m = self.fitted()?;
        let rows = m.coef.len() / m.n_features.max(1);
        Ok(Tensor::from_slice(&m.coef, (rows, m.n_features), &m.device)?.to_dtype(m.dtype)?)
    }

    /// Intercepts `(rows,)`, like sklearn's `intercept_` (zeros without `fit_intercept`).
    pub fn intercept(&self) -> Result<Tensor> {
        let m = self.fitted()?;
        Ok(Tensor::from_slice(&m.intercept, m.intercept.len(), &m.device)?.to_dtype(m.dtype)?)
    }

    /// The weights as f64, row-major `(rows, features)`, and the intercepts (empty before `fit`).
    pub fn coef_f64(&self) -> (&[f64], &[f64]) {
        self.fitted.as_ref().map_or((&[], &[]), |m| (&m.coef[..], &m.intercept[..]))
    }

    /// The sorted distinct training labels (empty before `fit`).
    pub fn classes(&self) -> &[i64] {
        self.fitted.as_ref().map_or(&[], |m| &m.classes)
    }

    /// L-BFGS iterations of the last fit (at most `max_iter`, like sklearn's `n_iter_`).
    pub fn n_iter(&self) -> usize {
        self.fitted.as_ref().map_or(0, |m| m.n_iter)
    }

    /// Objective evaluations (each one `X Wᵀ` and one `(P − Y)ᵀ X`) of the last fit.
    pub fn n_evaluations(&self) -> usize {
        self.fitted.as_ref().map_or(0, |m| m.n_fev)
    }

    /// Whether the last fit met the tolerance (false when it hit `max_iter` or the line search failed).
    pub fn converged(&self) -> bool {
        self.fitted.as_ref().is_some_and(|m| m.stop.status() == 0)
    }

    /// Why the last fit stopped (`None` before `fit`).
    pub fn stop_reason(&self) -> Option<LbfgsStop> {
        self.fitted.as_ref().map(|m| m.stop)
    }

    /// The objective at the solution (mean cross-entropy plus the L2 term).
    pub fn loss(&self) -> Option<f64> {
        self.fitted.as_ref().map(|m| m.loss)
    }

    /// Wall-clock seconds of the last fit.
    pub fn fit_seconds(&self) -> f64 {
        self.fitted.as_ref().map_or(0.0, |m| m.seconds)
    }
}

/// Checks that `x` is a 2-D float tensor without NaN or infinity; returns `(rows, features)`.
fn check_x(x: &Tensor, what: &str) -> Result<(usize, usize)> {
    let (n, f) = match x.dims() {
        &[n, f] => (n, f),
        d => return Err(ModelError::Shape(format!("{what} must be 2-D (samples, features), got shape {d:?}"))),
    };
    if !matches!(x.dtype(), DType::F32 | DType::F64) {
        return Err(ModelError::Shape(format!("{what} must be f32 or f64, got {:?}", x.dtype())));
    }
    if n == 0 || f == 0 {
        return Err(ModelError::Empty(format!("{what} has shape [{n}, {f}]: no samples or no features")));
    }
    // Fast check: the sum is finite unless something is NaN/inf (or it overflows: then look closer).
    let sum = x.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    if !sum.is_finite() {
        let v = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        if let Some(i) = v.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite(format!(
                "{what} holds {} at row {}, column {}; logistic regression needs finite inputs",
                v[i],
                i / f,
                i % f
            )));
        }
    }
    Ok((n, f))
}

/// Reads integer labels `(n,)` or `(n, 1)` as i64, with their dtype.
fn read_labels(y: &Tensor, what: &str) -> Result<(Vec<i64>, DType)> {
    let y1 = match y.dims() {
        [_] => y.clone(),
        [n, 1] => y.reshape(*n)?,
        d => return Err(ModelError::Shape(format!("{what} must be 1-D labels (samples,), got shape {d:?}"))),
    };
    let v = match y.dtype() {
        DType::U8 => y1.to_vec1::<u8>()?.into_iter().map(i64::from).collect(),
        DType::U32 => y1.to_vec1::<u32>()?.into_iter().map(i64::from).collect(),
        DType::I64 => y1.to_vec1::<i64>()?,
        d => {
            return Err(ModelError::Shape(format!("{what} must hold integer labels (u8, u32 or i64), got {d:?}")))
        }
    };
    Ok((v, y.dtype()))
}
