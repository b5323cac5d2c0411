//! What `model.evaluate(x, y)` returns: the loss and, when the model was compiled with it, the
//! accuracy, by name.

use std::fmt;

use crate::error::{ModelError, Result};

/// The result of [`Sequential::evaluate`](crate::Sequential::evaluate), Keras's
/// `[loss, accuracy]` with names: [`loss`](Evaluation::loss) always,
/// [`accuracy`](Evaluation::accuracy) when the model was compiled with accuracy (otherwise asking
/// for it is an error that says so, never a made-up number). It prints as Keras's progress line
/// does: `loss: 0.1234 - accuracy: 0.9876`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::*;
/// let dev = Device::Cpu;
/// // a model that outputs its input, so the loss and accuracy are those of these "predictions"
/// let mut model = Sequential::new(Input::flat(2), &dev);
/// model.add(ActivationLayer::new(Activation::Linear))?;
/// model.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
/// let x = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], &dev)?;
/// let y = Tensor::new(&[0u32, 1, 1, 1], &dev)?;
/// let score = model.evaluate(&x, &y, 32)?;
/// println!("Test accuracy: {:.5}", score.accuracy()?); // Test accuracy: 0.75000
/// assert_eq!(score.accuracy()?, 0.75);
/// assert!(score.loss() > 0.0);
/// assert!(score.to_string().starts_with("loss: 0.")); // "loss: 0.4004 - accuracy: 0.7500"
///
/// // compiled without accuracy: the loss only, and asking for the accuracy names why it is missing
/// model.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), false);
/// let score = model.evaluate(&x, &y, 32)?;
/// assert_eq!(score.metrics().len(), 1);
/// assert!(score.accuracy().unwrap_err().to_string().contains("compiled without accuracy"));
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    loss: f64,
    accuracy: Option<f64>,
}

impl Evaluation {
    /// The loss and, if the model computes it, the accuracy.
    pub(crate) fn new(loss: f64, accuracy: Option<f64>) -> Self {
        Evaluation { loss, accuracy }
    }

    /// The mean loss over the examples, with the model's L2 penalties (Keras's `score[0]`).
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The fraction of examples classified right, as Keras's `metrics=["accuracy"]` counts them
    /// (Keras's `score[1]`). An error if the model was compiled without accuracy
    /// (`compile(optimizer, loss, false)`).
    pub fn accuracy(&self) -> Result<f64> {
        self.accuracy.ok_or_else(|| {
            ModelError::Spec(
                "no accuracy: the model was compiled without accuracy; compile it with compile(optimizer, loss, true) and evaluate again".into(),
            )
        })
    }

    /// Every metric computed, by name and in Keras's order: `("loss", ..)` first, then
    /// `("accuracy", ..)` if compiled with it.
    ///
    /// ```
    /// # use candle_core::{Device, Tensor};
    /// # use candlebook_models::*;
    /// # let mut model = Sequential::new(Input::flat(2), &Device::Cpu);
    /// # model.add(ActivationLayer::new(Activation::Softmax))?;
    /// # model.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
    /// # let (x, y) = (Tensor::new(&[[1f32, 0.0]], &Device::Cpu)?, Tensor::new(&[0u32], &Device::Cpu)?);
    /// let names: Vec<&str> = model.evaluate(&x, &y, 32)?.metrics().iter().map(|(name, _)| *name).collect();
    /// assert_eq!(names, ["loss", "accuracy"]);
    /// # Ok::<(), candlebook_models::ModelError>(())
    /// ```
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("loss", self.loss)];
        if let Some(a) = self.accuracy {
            out.push(("accuracy", a));
        }
        out
    }
}

impl fmt::Display for Evaluation {
    /// `loss: 0.1234 - accuracy: 0.9876` (four decimals, like `fit`'s epoch lines); the precision
    /// of `{:.6}` is used instead when given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(4);
        for (i, (name, value)) in self.metrics().into_iter().enumerate() {
            if i > 0 {
                f.write_str(" - ")?;
            }
            write!(f, "{name}: {value:.digits$}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_keras_progress_line() {
        assert_eq!(Evaluation::new(0.123456, Some(0.98765)).to_string(), "loss: 0.1235 - accuracy: 0.9877");
        assert_eq!(format!("{:.2}", Evaluation::new(0.123456, Some(0.98765))), "loss: 0.12 - accuracy: 0.99");
        assert_eq!(Evaluation::new(2.5, None).to_string(), "loss: 2.5000");
    }

    #[test]
    fn accuracy_is_an_error_when_not_computed() {
        let e = Evaluation::new(1.0, None);
        assert!(matches!(e.accuracy(), Err(ModelError::Spec(m)) if m.contains("compiled without accuracy")));
        assert_eq!(e.metrics(), vec![("loss", 1.0)]);
        let e = Evaluation::new(1.0, Some(0.5));
        assert_eq!(e.accuracy().unwrap(), 0.5);
        assert_eq!(e.metrics(), vec![("loss", 1.0), ("accuracy", 0.5)]);
    }
}

/// Model selection on validation data, before the one evaluation on a holdout set: evaluates
/// every (compiled) candidate on `(x_val, y_val)` in inference mode, prints one line per
/// candidate (`name: loss: … - accuracy: …`) and which one is chosen, and returns the chosen
/// name and model: the highest accuracy, ties broken by the lower loss, then by the order given.
/// Candidates may be models or references to them (a notebook hands over the models, so that the
/// chosen one can be kept). An empty list is a [`ModelError::Empty`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_models::*;
/// let dev = Device::Cpu;
/// let (x, y) = (Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &dev)?, Tensor::new(&[0u32, 1], &dev)?);
/// let mut a = Sequential::new(Input::flat(2), &dev).seed(0);
/// a.add(Dense::new(2).activation(Activation::Softmax))?;
/// a.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
/// let mut b = a.clone_model()?; // the same layers, other initial weights
/// b.compile(Optimizer::adam(), Loss::sparse_categorical_crossentropy(), true);
/// let (name, _model) = choose_by_validation(vec![("a", &a), ("b", &b)], &x, &y)?;
/// assert!(name == "a" || name == "b");
/// assert!(choose_by_validation(Vec::<(&str, Sequential)>::new(), &x, &y).is_err());
/// # Ok::<(), candlebook_models::ModelError>(())
/// ```
pub fn choose_by_validation<S: AsRef<str>, M: std::borrow::Borrow<crate::sequential::Sequential>>(
    candidates: Vec<(S, M)>,
    x_val: &candle_core::Tensor,
    y_val: &candle_core::Tensor,
) -> Result<(String, M)> {
    let mut best: Option<(usize, f64, f64)> = None;
    for (i, (name, model)) in candidates.iter().enumerate() {
        let ev = model.borrow().evaluate(x_val, y_val, 32)?;
        println!("{}: {ev}", name.as_ref());
        let (acc, loss) = (ev.accuracy()?, ev.loss());
        let better = match best {
            None => true,
            Some((_, a, l)) => acc > a || (acc == a && loss < l),
        };
        if better {
            best = Some((i, acc, loss));
        }
    }
    let (chosen, _, _) = best.ok_or_else(|| ModelError::Empty("choose_by_validation: no candidate models".into()))?;
    let (name, model) = candidates.into_iter().nth(chosen).ok_or_else(|| ModelError::Empty("choose_by_validation: lost the chosen model".into()))?;
    println!("chosen on validation: {}", name.as_ref());
    Ok((name.as_ref().to_string(), model))
}
