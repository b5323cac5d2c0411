//! scikit-learn's `classification_report`: per-class precision, recall, F1 and support, accuracy,
//! macro and weighted averages, printed exactly as sklearn prints them.

use std::fmt;

use candle_core::{DType, Tensor};

use crate::confusion::class_indices;
use crate::error::{ModelError, Result};

/// Labels or predictions a [`classification_report`] accepts: slices and vectors of class indices
/// (`u8`, `u32`, `i64`, `usize`), or a [`Tensor`]: `(N,)` class indices, `(N, K)` probabilities,
/// logits or one-hot rows (their argmax), an integer `(N, 1)` column of indices, or one float
/// sigmoid unit `(N, 1)` (class 1 where it is above 0.5, as Keras's binary accuracy).
pub trait ClassLabels {
    /// The class index of every example; a negative or fractional label is an error.
    fn class_indices(&self) -> Result<Vec<usize>>;
}

impl ClassLabels for Tensor {
    fn class_indices(&self) -> Result<Vec<usize>> {
        if self.rank() == 2 && self.dim(1)? == 1 {
            if self.dtype().is_float() {
                let p = self.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
                return Ok(p.into_iter().map(|v| usize::from(v > 0.5)).collect());
            }
            return class_indices(&self.squeeze(1)?);
        }
        class_indices(self)
    }
}

macro_rules! unsigned_labels {
    ($($t:ty),*) => {$(
        impl ClassLabels for [$t] {
            fn class_indices(&self) -> Result<Vec<usize>> {
                Ok(self.iter().map(|&v| v as usize).collect())
            }
        }
        impl<const N: usize> ClassLabels for [$t; N] {
            fn class_indices(&self) -> Result<Vec<usize>> {
                self.as_slice().class_indices()
            }
        }
        impl ClassLabels for Vec<$t> {
            fn class_indices(&self) -> Result<Vec<usize>> {
                self.as_slice().class_indices()
            }
        }
    )*};
}
unsigned_labels!(u8, u32, u64, usize);

impl ClassLabels for [i64] {
    fn class_indices(&self) -> Result<Vec<usize>> {
        self.iter()
            .enumerate()
            .map(|(i, &v)| usize::try_from(v).map_err(|_| ModelError::Shape(format!("label {v} at position {i} is not a class index (a whole number >= 0)"))))
            .collect()
    }
}
impl<const N: usize> ClassLabels for [i64; N] {
    fn class_indices(&self) -> Result<Vec<usize>> {
        self.as_slice().class_indices()
    }
}
impl ClassLabels for Vec<i64> {
    fn class_indices(&self) -> Result<Vec<usize>> {
        self.as_slice().class_indices()
    }
}

/// The numbers of a classification report and its text. Made by [`classification_report`];
/// `Display` prints sklearn's table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    names: Vec<String>,
    precision: Vec<f64>,
    recall: Vec<f64>,
    f1: Vec<f64>,
    support: Vec<u64>,
    accuracy: f64,
    digits: usize,
}

/// `sklearn.metrics.classification_report(labels, predictions, labels=range(K),
/// target_names=class_names, digits=digits)`: for every class 0..K, precision (right / predicted
/// as the class), recall (right / labelled as the class), F1 (2·right / (predicted + labelled))
/// and support (labelled as the class); then the accuracy, the macro average (the plain mean over
/// the K classes) and the weighted average (weighted by support).
///
/// K is the number of `class_names` when they are given (a label or prediction `>= K` is then
/// [`ModelError::LabelOutOfRange`]), else the largest class index seen + 1; every class in
/// 0..K gets a row, also one that appears in neither list (sklearn without `labels=` would leave
/// that row out). A ratio with nothing to divide by is 0, as sklearn's default
/// `zero_division="warn"` prints it (without the warning). `digits` is the number of decimals
/// printed (sklearn's default is 2).
///
/// `labels` and `predictions` are anything [`ClassLabels`] takes: `&[u32]`, `&Vec<usize>`, a label
/// tensor, `(N, K)` probabilities. Different lengths are [`ModelError::LengthMismatch`], no
/// examples [`ModelError::Empty`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::classification_report;
/// let truth = [0u32, 0, 1, 1, 1, 2];
/// let predicted = [0u32, 1, 1, 1, 2, 2];
/// let names: Vec<String> = ["no defect", "scratch", "patch"].iter().map(|s| s.to_string()).collect();
/// let report = classification_report(&truth[..], &predicted[..], Some(&names), 2)?;
/// print!("{report}");
/// let lines = [
///     "              precision    recall  f1-score   support",
///     "",
///     "   no defect       1.00      0.50      0.67         2",
///     "     scratch       0.67      0.67      0.67         3",
///     "       patch       0.50      1.00      0.67         1",
///     "",
///     "    accuracy                           0.67         6",
///     "   macro avg       0.72      0.72      0.67         6",
///     "weighted avg       0.75      0.67      0.67         6",
/// ];
/// assert_eq!(report.to_string(), lines.join("\n") + "\n");
/// assert_eq!((report.precision(1), report.recall(0), report.support(1)), (Some(2.0 / 3.0), Some(0.5), Some(3)));
/// // straight from the model's probabilities
/// let probs = Tensor::new(&[[0.9f32, 0.1], [0.3, 0.7], [0.6, 0.4]], &Device::Cpu)?;
/// let r = classification_report(&Tensor::new(&[0u32, 1, 1], &Device::Cpu)?, &probs, None, 4)?;
/// assert_eq!(r.accuracy(), 2.0 / 3.0);
/// assert!(classification_report(&[0u32, 3][..], &[0u32, 1][..], Some(&names), 2).is_err()); // 3 >= 3 classes
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn classification_report<L, P>(labels: &L, predictions: &P, class_names: Option<&[String]>, digits: usize) -> Result<ClassificationReport>
where
    L: ClassLabels + ?Sized,
    P: ClassLabels + ?Sized,
{
    let truth = labels.class_indices()?;
    let predicted = predictions.class_indices()?;
    if truth.len() != predicted.len() {
        return Err(ModelError::LengthMismatch { what: "classification report: labels vs predictions".into(), left: truth.len(), right: predicted.len() });
    }
    if truth.is_empty() {
        return Err(ModelError::Empty("classification report of no examples".into()));
    }
    let k = match class_names {
        Some(names) if names.is_empty() => return Err(ModelError::Empty("classification report with an empty list of class names".into())),
        Some(names) => names.len(),
        None => truth.iter().chain(&predicted).copied().max().unwrap_or(0) + 1,
    };
    for (what, list) in [("labels", &truth), ("predictions", &predicted)] {
        if let Some((index, &label)) = list.iter().enumerate().find(|(_, &c)| c >= k) {
            return Err(ModelError::LabelOutOfRange { what, label, index, n_classes: k });
        }
    }
    let (mut tp, mut pred_sum, mut true_sum) = (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
    for (&t, &p) in truth.iter().zip(&predicted) {
        true_sum[t] += 1;
        pred_sum[p] += 1;
        if t == p {
            tp[t] += 1;
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = (0..k).map(|c| ratio(tp[c], pred_sum[c])).collect();
    let recall = (0..k).map(|c| ratio(tp[c], true_sum[c])).collect();
    let f1 = (0..k).map(|c| ratio(2 * tp[c], pred_sum[c] + true_sum[c])).collect();
    let right: u64 = tp.iter().sum();
    let names = match class_names {
        Some(n) => n.to_vec(),
        None => (0..k).map(|c| c.to_string()).collect(),
    };
    Ok(ClassificationReport { names, precision, recall, f1, support: true_sum, accuracy: right as f64 / truth.len() as f64, digits })
}

impl ClassificationReport {
    /// Number of classes (rows above the averages).
    pub fn n_classes(&self) -> usize {
        self.names.len()
    }

    /// The class names (the indices as text unless named).
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// Precision of `class` (`None` outside the classes).
    pub fn precision(&self, class: usize) -> Option<f64> {
        self.precision.get(class).copied()
    }

    /// Recall of `class`.
    pub fn recall(&self, class: usize) -> Option<f64> {
        self.recall.get(class).copied()
    }

    /// F1 score of `class`.
    pub fn f1(&self, class: usize) -> Option<f64> {
        self.f1.get(class).copied()
    }

    /// How many examples are labelled `class`.
    pub fn support(&self, class: usize) -> Option<u64> {
        self.support.get(class).copied()
    }

    /// The fraction of examples predicted right.
    pub fn accuracy(&self) -> f64 {
        self.accuracy
    }

    /// The number of examples.
    pub fn total_support(&self) -> u64 {
        self.support.iter().sum()
    }

    /// `(precision, recall, f1)` averaged over the classes with equal weight.
    pub fn macro_avg(&self) -> (f64, f64, f64) {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        (mean(&self.precision), mean(&self.recall), mean(&self.f1))
    }

    /// `(precision, recall, f1)` averaged over the classes weighted by their support (numpy's
    /// `np.average(values, weights=support)`; zeros when there is no support at all).
    pub fn weighted_avg(&self) -> (f64, f64, f64) {
        let total = self.total_support() as f64;
        let avg = |v: &[f64]| if total == 0.0 { 0.0 } else { v.iter().zip(&self.support).map(|(x, &s)| x * s as f64).sum::<f64>() / total };
        (avg(&self.precision), avg(&self.recall), avg(&self.f1))
    }

    /// The decimals printed.
    pub fn digits(&self) -> usize {
        self.digits
    }

    /// The same report printed with `digits` decimals.
    pub fn with_digits(mut self, digits: usize) -> Self {
        self.digits = digits;
        self
    }

    /// Shows the report inline in evcxr as its text (monospaced).
    pub fn evcxr_display(&self) {
        let esc = self.to_string().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        println!("EVCXR_BEGIN_CONTENT text/html\n<pre>{esc}</pre>\nEVCXR_END_CONTENT");
    }
}

impl fmt::Display for ClassificationReport {
    /// sklearn's text: a first column as wide as the longest class name, `weighted avg` or
    /// `digits` (whichever is widest), right-aligned; then four columns of width 9 each after two
    /// spaces; a blank line after the header and after the classes; the accuracy row with empty
    /// precision and recall cells; a newline after the last row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits;
        let width = self.names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("weighted avg".len()).max(d);
        writeln!(f, "{:>width$}  {:>9} {:>9} {:>9} {:>9}", "", "precision", "recall", "f1-score", "support")?;
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, p: f64, r: f64, f1: f64, s: u64| {
            writeln!(f, "{name:>width$}  {p:>9.d$} {r:>9.d$} {f1:>9.d$} {s:>9}")
        };
        for c in 0..self.names.len() {
            row(f, &self.names[c], self.precision[c], self.recall[c], self.f1[c], self.support[c])?;
        }
        writeln!(f)?;
        let total = self.total_support();
        writeln!(f, "{:>width$}  {:>9} {:>9} {:>9.d$} {total:>9}", "accuracy", "", "", self.accuracy)?;
        let (p, r, f1) = self.macro_avg();
        row(f, "macro avg", p, r, f1, total)?;
        let (p, r, f1) = self.weighted_avg();
        row(f, "weighted avg", p, r, f1, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_errors() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let e = classification_report(&[0u32, 1][..], &[0u32][..], None, 2).unwrap_err();
        assert!(matches!(e, ModelError::LengthMismatch { left: 2, right: 1, .. }), "{e:?}");
        let e = classification_report(&[0u32, 1][..], &[0u32, 2][..], Some(&names), 2).unwrap_err();
        assert!(matches!(e, ModelError::LabelOutOfRange { what: "predictions", label: 2, index: 1, n_classes: 2 }), "{e:?}");
        let e = classification_report(&[5u32, 1][..], &[0u32, 1][..], Some(&names), 2).unwrap_err();
        assert!(matches!(e, ModelError::LabelOutOfRange { what: "labels", label: 5, index: 0, n_classes: 2 }), "{e:?}");
        let e = classification_report(&[0i64, -1][..], &[0u32, 1][..], None, 2).unwrap_err();
        assert!(matches!(&e, ModelError::Shape(m) if m.contains("-1")), "{e:?}");
        let empty: [u32; 0] = [];
        assert!(matches!(classification_report(&empty[..], &empty[..], None, 2), Err(ModelError::Empty(_))));
        assert!(matches!(classification_report(&[0u32][..], &[0u32][..], Some(&[]), 2), Err(ModelError::Empty(_))));
    }

    #[test]
    fn tensors_of_every_shape_give_the_same_report() {
        let dev = candle_core::Device::Cpu;
        let want = classification_report(&[0u32, 1, 1, 0][..], &[0u32, 1, 0, 0][..], None, 2).unwrap();
        let truth = Tensor::new(&[0i64, 1, 1, 0], &dev).unwrap();
        let one_hot = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], &dev).unwrap();
        let probs = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], &dev).unwrap();
        let sigmoid = Tensor::new(&[[0.1f32], [0.8], [0.4], [0.5]], &dev).unwrap();
        let column = Tensor::new(&[[0u32], [1], [0], [0]], &dev).unwrap();
        for l in [&truth, &one_hot] {
            for p in [&probs, &sigmoid, &column] {
                assert_eq!(classification_report(l, p, None, 2).unwrap(), want, "{l} {p}");
            }
        }
        assert_eq!(want.support(1), Some(2));
        assert_eq!(want.precision(2), None);
    }
}
