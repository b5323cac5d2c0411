//! The fingers notebook's two logistic-regression figures: accuracy against the training-set size
//! (learning curve) and against the regularisation strength C (sweep). Each point prints one whole
//! progress line (evcxr shows output a line at a time).

use std::time::Instant;

use candle_core::Tensor;

use super::LogisticRegression;
use crate::error::{ModelError, Result};

/// Train and test accuracy per training-set size, from [`logistic_learning_curve`].
#[derive(Debug, Clone, Default)]
pub struct LearningCurvePoints {
    /// Training-set sizes (the first `size` rows of the training data).
    pub sizes: Vec<usize>,
    /// Accuracy on those training rows.
    pub train_acc: Vec<f64>,
    /// Accuracy on the whole test set.
    pub test_acc: Vec<f64>,
    /// L-BFGS iterations per fit.
    pub n_iter: Vec<usize>,
    /// The model fitted on the last size given (the seed's function returns it too, and the notebook
    /// goes on with its predictions).
    pub last_model: Option<LogisticRegression>,
}

impl LearningCurvePoints {
    /// The sizes as f64, for `candlebook_plots::learning_curve(&p.sizes_f64(), &p.train_acc, &p.test_acc)`.
    pub fn sizes_f64(&self) -> Vec<f64> {
        self.sizes.iter().map(|&s| s as f64).collect()
    }
}

/// The curve's last point, as the seed prints it after the loop.
///
/// ```
/// let p = candlebook_models::LearningCurvePoints { sizes: vec![10, 20], train_acc: vec![1.0, 1.0], test_acc: vec![0.5, 0.75], ..Default::default() };
/// assert_eq!(p.to_string(), "final train accuracy 1.00000, test accuracy 0.75000, train size 20");
/// assert_eq!(candlebook_models::LearningCurvePoints::default().to_string(), "no points (no training size was given)");
/// ```
impl std::fmt::Display for LearningCurvePoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.sizes.last(), self.train_acc.last(), self.test_acc.last()) {
            (Some(size), Some(train), Some(test)) => write!(f, "final train accuracy {train:.5}, test accuracy {test:.5}, train size {size}"),
            _ => write!(f, "no points (no training size was given)"),
        }
    }
}

/// Train and test accuracy per value of C, from [`c_sweep`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CSweep {
    /// The C values, in the order given.
    pub c: Vec<f64>,
    /// Accuracy on the training data.
    pub train_acc: Vec<f64>,
    /// Accuracy on the test data.
    pub test_acc: Vec<f64>,
    /// L-BFGS iterations per fit.
    pub n_iter: Vec<usize>,
}

/// The seed's training sizes: 10, 20, …, 250 (step 10), then 300, 350, … (step 50) up to `m`.
///
/// ```
/// use candlebook_models::seed_learning_curve_sizes;
/// let s = seed_learning_curve_sizes(400);
/// assert_eq!(&s[..3], &[10, 20, 30]);
/// assert_eq!(&s[24..], &[250, 300, 350, 400]);
/// assert_eq!(seed_learning_curve_sizes(3000).len(), 80);
/// ```
pub fn seed_learning_curve_sizes(m: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut i = 10;
    while i <= m {
        sizes.push(i);
        i += if i < 250 { 10 } else { 50 };
    }
    sizes
}

/// The seed's C grid: `np.linspace(0.0001, 1200, 10) / 1000`.
///
/// ```
/// let c = candlebook_models::seed_c_grid();
/// assert_eq!(c.len(), 10);
/// assert!((c[0] - 1e-7).abs() < 1e-15 && (c[9] - 1.2).abs() < 1e-12);
/// ```
pub fn seed_c_grid() -> Vec<f64> {
    let (start, stop, num) = (0.0001f64, 1200.0f64, 10);
    let step = (stop - start) / (num - 1) as f64;
    (0..num).map(|i| if i == num - 1 { stop } else { start + step * i as f64 } / 1000.0).collect()
}

/// Fits a copy of `template` on the first `size` training rows for each of `sizes` and scores it on
/// those rows and on the whole test set, printing one line per point.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::{logistic_learning_curve, LogisticRegression};
/// let dev = Device::Cpu;
/// let x: Vec<f32> = (0..40).map(|i| if i % 2 == 0 { (i % 4) as f32 } else { (i % 5) as f32 * 0.1 }).collect();
/// let x = Tensor::from_vec(x, (20, 2), &dev)?;
/// let y = Tensor::from_vec((0..20u32).map(|i| u32::from(i % 4 >= 2)).collect::<Vec<_>>(), 20, &dev)?;
/// let curve = logistic_learning_curve(&x, &y, &x, &y, &[10, 20], &LogisticRegression::new())?;
/// assert_eq!(curve.sizes, vec![10, 20]);
/// assert_eq!(curve.test_acc.len(), 2);
/// assert_eq!(curve.last_model.as_ref().map(|m| m.n_iter()), curve.n_iter.last().copied());
/// assert!(logistic_learning_curve(&x, &y, &x, &y, &[30], &LogisticRegression::new()).is_err());
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn logistic_learning_curve(
    x_train: &Tensor,
    y_train: &Tensor,
    x_test: &Tensor,
    y_test: &Tensor,
    sizes: &[usize],
    model_template: &LogisticRegression,
) -> Result<LearningCurvePoints> {
    let n = x_train.dims().first().copied().unwrap_or(0);
    let m = sizes.iter().copied().max().unwrap_or(0);
    if let Some(bad) = sizes.iter().find(|&&s| s == 0 || s > n) {
        return Err(ModelError::Spec(format!("learning curve size {bad} is outside 1..={n} (the training rows)")));
    }
    let mut out = LearningCurvePoints::default();
    for &size in sizes {
        let t = Instant::now();
        let xs = x_train.narrow(0, 0, size)?;
        let ys = y_train.narrow(0, 0, size)?;
        let mut lm = model_template.unfitted();
        lm.fit(&xs, &ys)?;
        let (train, test) = (lm.score(&xs, &ys)?, lm.score(x_test, y_test)?);
        println!(
            "{size}/{m}: train {train:.4}, test {test:.4} ({} iterations, {:.2} s)",
            lm.n_iter(),
            t.elapsed().as_secs_f64()
        );
        out.sizes.push(size);
        out.train_acc.push(train);
        out.test_acc.push(test);
        out.n_iter.push(lm.n_iter());
        out.last_model = Some(lm);
    }
    Ok(out)
}

/// Fits `LogisticRegression::new().c(c)` (sklearn's defaults otherwise) on all the training rows for
/// each C and scores it on train and test, printing one line per value.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::c_sweep;
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[0f32, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], &dev)?;
/// let y = Tensor::new(&[0u8, 1, 0, 1], &dev)?;
/// let sweep = c_sweep(&x, &y, &x, &y, &[0.01, 1.0, 100.0])?;
/// assert_eq!(sweep.c, vec![0.01, 1.0, 100.0]);
/// assert_eq!(sweep.train_acc[2], 1.0);
/// assert!(c_sweep(&x, &y, &x, &y, &[-1.0]).is_err());
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn c_sweep(x_train: &Tensor, y_train: &Tensor, x_test: &Tensor, y_test: &Tensor, cs: &[f64]) -> Result<CSweep> {
    let mut out = CSweep::default();
    for (i, &c) in cs.iter().enumerate() {
        let t = Instant::now();
        let mut lm = LogisticRegression::new().c(c);
        lm.fit(x_train, y_train)?;
        let (train, test) = (lm.score(x_train, y_train)?, lm.score(x_test, y_test)?);
        println!(
            "{}/{} C={c:.6}: train {train:.4}, test {test:.4} ({} iterations, {:.2} s)",
            i + 1,
            cs.len(),
            lm.n_iter(),
            t.elapsed().as_secs_f64()
        );
        out.c.push(c);
        out.train_acc.push(train);
        out.test_acc.push(test);
        out.n_iter.push(lm.n_iter());
    }
    Ok(out)
}
