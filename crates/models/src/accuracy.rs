//! The accuracy of predictions against labels, from tensors in any of the usual label shapes.

use candle_core::{DType, Tensor};

use crate::confusion::class_indices;
use crate::error::{ModelError, Result};

/// The fraction of examples whose predicted class is the labelled one: scikit-learn's
/// `accuracy_score(y_true, y_pred)`, or `np.mean(np.argmax(pred, 1) == y)`.
///
/// `labels` are `(N,)` class indices (any integer or float dtype holding whole numbers), the
/// same as a column `(N, 1)`, or `(N, C)` one-hot rows (their argmax). `predictions` are `(N, C)`
/// probabilities or logits (their argmax), `(N,)` or integer `(N, 1)` class indices, or one
/// sigmoid unit `(N, 1)` of floats (class 1 where it is above 0.5, as Keras's binary accuracy).
///
/// Errors name what does not fit: a different number of examples
/// ([`ModelError::LengthMismatch`]), no examples ([`ModelError::Empty`]), other shapes or
/// different class counts ([`ModelError::Shape`]), a label that is not a whole number from 0
/// ([`ModelError::Shape`]), a class index beyond the predictions' classes
/// ([`ModelError::LabelOutOfRange`]).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::accuracy;
/// let dev = Device::Cpu;
/// let labels = Tensor::new(&[0u32, 2, 1, 1], &dev)?;
/// let predictions = Tensor::new(&[[0.8f32, 0.1, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.0, 1.0, 0.0]], &dev)?;
/// println!("accuracy on the test set {:.4}", accuracy(&labels, &predictions)?); // 0.7500
/// assert_eq!(accuracy(&labels, &predictions)?, 0.75);
/// // one-hot labels and predicted class indices give the same
/// let one_hot = Tensor::new(&[[1f32, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], &dev)?;
/// assert_eq!(accuracy(&one_hot, &predictions.argmax(1)?)?, 0.75);
/// // shapes that do not fit are errors, not a number
/// assert!(accuracy(&labels.narrow(0, 0, 3)?, &predictions).is_err());
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn accuracy(labels: &Tensor, predictions: &Tensor) -> Result<f64> {
    let shapes = || format!("labels of shape {:?}, predictions of shape {:?}", labels.dims(), predictions.dims());
    for (what, t, expected) in [
        ("labels", labels, "(N,) class indices, an (N, 1) column of them or (N, C) one-hot rows"),
        ("predictions", predictions, "(N, C) probabilities or logits, (N,) class indices or one (N, 1) sigmoid unit"),
    ] {
        if !(1..=2).contains(&t.rank()) {
            return Err(ModelError::Shape(format!("accuracy: {what} must be {expected}; got {}", shapes())));
        }
    }
    let n = labels.dim(0)?;
    if predictions.dim(0)? != n {
        return Err(ModelError::LengthMismatch { what: "accuracy: labels vs predictions".into(), left: n, right: predictions.dim(0)? });
    }
    if n == 0 {
        return Err(ModelError::Empty(format!("accuracy of no examples ({})", shapes())));
    }
    // classes of a (N, C) tensor with C > 1; (N, 1) is a column of indices or one sigmoid unit
    let width = |t: &Tensor| if t.rank() == 2 { t.dim(1).ok() } else { None };
    let (label_classes, pred_classes) = (width(labels).filter(|&c| c > 1), width(predictions).filter(|&c| c > 1));
    if let (Some(l), Some(p)) = (label_classes, pred_classes) {
        if l != p {
            return Err(ModelError::Shape(format!("accuracy: labels have {l} classes but predictions {p} ({})", shapes())));
        }
    }
    let sigmoid = width(predictions) == Some(1) && predictions.dtype().is_float();
    let as_column = |t: &Tensor| -> Result<Tensor> { Ok(if width(t) == Some(1) { t.squeeze(1)? } else { t.clone() }) };
    let truth = class_indices(&as_column(labels)?)?;
    let predicted: Vec<usize> = if sigmoid {
        let p = predictions.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        p.into_iter().map(|v| usize::from(v > 0.5)).collect()
    } else {
        class_indices(&as_column(predictions)?)?
    };
    let n_classes = pred_classes.or(if sigmoid { Some(2) } else { None }).or(label_classes);
    if let Some(n_classes) = n_classes {
        for (what, indices) in [("labels", &truth), ("predictions", &predicted)] {
            if let Some((index, &label)) = indices.iter().enumerate().find(|(_, &c)| c >= n_classes) {
                return Err(ModelError::LabelOutOfRange { what, label, index, n_classes });
            }
        }
    }
    let right = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
    Ok(right as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    fn t<const N: usize, const C: usize>(rows: [[f32; C]; N]) -> Tensor {
        Tensor::new(&rows, &Device::Cpu).unwrap()
    }

    #[test]
    fn every_label_dtype_and_shape_gives_the_same_accuracy() {
        let dev = Device::Cpu;
        let probs = t([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4], [0.0, 0.0, 1.0]]);
        // predicted 0 2 1 0 2, labels 0 2 2 0 1: 3 of 5
        let want = 0.6;
        let labels_u32 = Tensor::new(&[0u32, 2, 2, 0, 1], &dev).unwrap();
        let labels_i64 = Tensor::new(&[0i64, 2, 2, 0, 1], &dev).unwrap();
        let labels_u8 = Tensor::new(&[0u8, 2, 2, 0, 1], &dev).unwrap();
        let labels_f32 = Tensor::new(&[0f32, 2.0, 2.0, 0.0, 1.0], &dev).unwrap();
        let column = labels_u32.unsqueeze(1).unwrap();
        let one_hot = t([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        for labels in [&labels_u32, &labels_i64, &labels_u8, &labels_f32, &column, &one_hot] {
            assert_eq!(accuracy(labels, &probs).unwrap(), want, "labels {labels}");
            // predicted class indices, (N,) and (N, 1) of integers
            let classes = probs.argmax(1).unwrap();
            assert_eq!(accuracy(labels, &classes).unwrap(), want);
            assert_eq!(accuracy(labels, &classes.unsqueeze(1).unwrap()).unwrap(), want);
        }
        // logits: the same argmax
        assert_eq!(accuracy(&labels_u32, &(probs.affine(10.0, -3.0).unwrap())).unwrap(), want);
        assert_eq!(accuracy(&labels_u32, &labels_u32).unwrap(), 1.0);
    }

    #[test]
    fn matches_the_argmax_eq_mean_chain() {
        let dev = Device::Cpu;
        let probs = Tensor::rand(0f32, 1.0, (200, 10), &dev).unwrap();
        let labels = Tensor::rand(0f32, 10.0, 200, &dev).unwrap().floor().unwrap().to_dtype(DType::U32).unwrap();
        let chain = probs.argmax(1).unwrap().eq(&labels).unwrap().to_dtype(DType::F32).unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!((accuracy(&labels, &probs).unwrap() - chain as f64).abs() < 1e-6);
    }

    #[test]
    fn one_sigmoid_unit_thresholds_at_one_half() {
        let dev = Device::Cpu;
        let p = t([[0.9], [0.2], [0.5], [0.51]]);
        let y = Tensor::new(&[1u32, 0, 1, 1], &dev).unwrap();
        assert_eq!(accuracy(&y, &p).unwrap(), 0.75); // 0.5 is not above 0.5
        let e = accuracy(&Tensor::new(&[1u32, 0, 2, 1], &dev).unwrap(), &p).unwrap_err();
        assert!(matches!(e, ModelError::LabelOutOfRange { label: 2, index: 2, n_classes: 2, .. }), "{e:?}");
    }

    #[test]
    fn shapes_that_do_not_fit_are_named_errors() {
        let dev = Device::Cpu;
        let probs = t([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7]]);
        let e = accuracy(&Tensor::new(&[0u32, 1, 2], &dev).unwrap(), &probs).unwrap_err();
        assert!(matches!(e, ModelError::LengthMismatch { left: 3, right: 2, .. }), "{e:?}");
        let e = accuracy(&t([[1.0, 0.0], [0.0, 1.0]]), &probs).unwrap_err();
        assert!(matches!(&e, ModelError::Shape(m) if m.contains("2 classes but predictions 3")), "{e:?}");
        let e = accuracy(&Tensor::new(&[0u32, 3], &dev).unwrap(), &probs).unwrap_err();
        assert!(matches!(e, ModelError::LabelOutOfRange { what: "labels", label: 3, index: 1, n_classes: 3 }), "{e:?}");
        let e = accuracy(&Tensor::new(&[0.5f32, 1.0], &dev).unwrap(), &probs).unwrap_err();
        assert!(matches!(&e, ModelError::Shape(m) if m.contains("0.5")), "{e:?}");
        let e = accuracy(&Tensor::zeros((2, 1, 3), DType::F32, &dev).unwrap(), &probs).unwrap_err();
        assert!(matches!(&e, ModelError::Shape(m) if m.contains("[2, 1, 3]")), "{e:?}");
        let e = accuracy(&Tensor::new(&[0u32, 1], &dev).unwrap(), &Tensor::new(5f32, &dev).unwrap()).unwrap_err();
        assert!(matches!(&e, ModelError::Shape(m) if m.contains("predictions must be")), "{e:?}");
        let empty = Tensor::zeros(0, DType::U32, &dev).unwrap();
        assert!(matches!(accuracy(&empty, &Tensor::zeros((0, 3), DType::F32, &dev).unwrap()), Err(ModelError::Empty(_))));
    }
}
