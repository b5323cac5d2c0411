//! Confusion matrices and the misclassified examples of a classifier.

use std::fmt;

use candle_core::{DType, Tensor, D};

use crate::error::{ModelError, Result};

/// Class indices from a label or prediction tensor: `(N,)` integer labels (u8, u32, i64) as they
/// are, `(N, K)` scores, probabilities or one-hot rows by their argmax (Keras's
/// `np.argmax(y, axis=-1)`). Float `(N,)` labels must hold whole, non-negative numbers.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::class_indices;
/// let probs = Tensor::new(&[[0.1f32, 0.9], [0.7, 0.3]], &Device::Cpu)?;
/// assert_eq!(class_indices(&probs)?, vec![1, 0]);
/// assert_eq!(class_indices(&Tensor::new(&[2i64, 0, 1], &Device::Cpu)?)?, vec![2, 0, 1]);
/// assert!(class_indices(&Tensor::new(&[-1i64], &Device::Cpu)?).is_err());
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn class_indices(labels: &Tensor) -> Result<Vec<usize>> {
    match labels.rank() {
        1 => {}
        2 => return Ok(labels.argmax(D::Minus1)?.to_vec1::<u32>()?.into_iter().map(|v| v as usize).collect()),
        _ => {
            return Err(ModelError::Shape(format!(
                "class labels must be (N,) indices or (N, K) scores, got shape {:?}",
                labels.dims()
            )))
        }
    }
    let values = labels.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v >= 0.0 && v.fract() == 0.0 && v.is_finite() {
                Ok(v as usize)
            } else {
                Err(ModelError::Shape(format!("label {v} at position {i} is not a class index (a whole number >= 0)")))
            }
        })
        .collect()
}

/// Counts of (true class, predicted class) pairs, as `sklearn.metrics.confusion_matrix`: row = true
/// class, column = predicted class.
///
/// ```
/// use candlebook_models::ConfusionMatrix;
/// let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 2], &[0, 2, 2, 2], 3).unwrap();
/// assert_eq!(cm.count(1, 2), 1);
/// assert_eq!(cm.count(2, 2), 2);
/// assert_eq!(cm.accuracy(), 0.75);
/// assert!(ConfusionMatrix::from_labels(&[0, 5], &[0, 1], 3).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    n: usize,
    counts: Vec<u64>,
    class_names: Vec<String>,
}

impl ConfusionMatrix {
    /// Counts the pairs; both lists must have the same length and labels must be `< n_classes`.
    pub fn from_labels(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        if y_true.len() != y_pred.len() {
            return Err(ModelError::LengthMismatch {
                what: "true labels vs predicted labels".into(),
                left: y_true.len(),
                right: y_pred.len(),
            });
        }
        if n_classes == 0 {
            return Err(ModelError::Empty("a confusion matrix needs at least one class".into()));
        }
        let mut counts = vec![0u64; n_classes * n_classes];
        for (i, (&t, &p)) in y_true.iter().zip(y_pred).enumerate() {
            for (what, label) in [("true labels", t), ("predicted labels", p)] {
                if label >= n_classes {
                    return Err(ModelError::LabelOutOfRange { what, label, index: i, n_classes });
                }
            }
            counts[t * n_classes + p] += 1;
        }
        let class_names = (0..n_classes).map(|i| i.to_string()).collect();
        Ok(Self { n: n_classes, counts, class_names })
    }

    /// The matrix of two label tensors, each `(N,)` class indices or `(N, K)` scores / one-hot rows
    /// (see [`class_indices`]).
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::ConfusionMatrix;
    /// let dev = Device::Cpu;
    /// let truth = Tensor::new(&[0u32, 1, 1], &dev)?;
    /// let probs = Tensor::new(&[[0.8f32, 0.2], [0.4, 0.6], [0.9, 0.1]], &dev)?;
    /// let cm = ConfusionMatrix::from_tensors(&truth, &probs, 2)?;
    /// assert_eq!(cm.count(1, 0), 1);
    /// # Ok::<(), candlebook_models::ModelError>(())
    /// ```
    pub fn from_tensors(y_true: &Tensor, y_pred: &Tensor, n_classes: usize) -> Result<Self> {
        Self::from_labels(&class_indices(y_true)?, &class_indices(y_pred)?, n_classes)
    }

    /// Names the classes (one per class) for printing and plotting.
    pub fn with_class_names<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self> {
        if names.len() != self.n {
            return Err(ModelError::LengthMismatch { what: "class names vs classes".into(), left: names.len(), right: self.n });
        }
        self.class_names = names.iter().map(|s| s.as_ref().to_string()).collect();
        Ok(self)
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n
    }

    /// Count of examples of class `true_class` predicted as `predicted` (0 outside the matrix).
    pub fn count(&self, true_class: usize, predicted: usize) -> u64 {
        if true_class < self.n && predicted < self.n {
            self.counts[true_class * self.n + predicted]
        } else {
            0
        }
    }

    /// The class names (the class indices as text unless named).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Fraction on the diagonal (NaN for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        let right: u64 = (0..self.n).map(|i| self.count(i, i)).sum();
        right as f64 / total as f64
    }

    /// The largest count.
    pub fn max_count(&self) -> u64 {
        self.counts.iter().copied().max().unwrap_or(0)
    }
}

impl fmt::Display for ConfusionMatrix {
    /// Prints the matrix as sklearn's array, rows = true class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.max_count().to_string().len();
        for t in 0..self.n {
            let row: Vec<String> = (0..self.n).map(|p| format!("{:>width$}", self.count(t, p))).collect();
            let open = if t == 0 { "[[" } else { " [" };
            let close = if t + 1 == self.n { "]]" } else { "]," };
            writeln!(f, "{open}{}{close}", row.join(", "))?;
        }
        Ok(())
    }
}

/// Positions where the prediction differs from the truth, in order (the seed's
/// `predictions != y_test` selection).
///
/// ```
/// assert_eq!(candlebook_models::misclassified(&[1, 2, 3], &[1, 0, 3]).unwrap(), vec![1]);
/// ```
pub fn misclassified(y_true: &[usize], y_pred: &[usize]) -> Result<Vec<usize>> {
    if y_true.len() != y_pred.len() {
        return Err(ModelError::LengthMismatch { what: "true labels vs predicted labels".into(), left: y_true.len(), right: y_pred.len() });
    }
    Ok(y_true.iter().zip(y_pred).enumerate().filter(|(_, (t, p))| t != p).map(|(i, _)| i).collect())
}
