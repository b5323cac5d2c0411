//! `History`: per-epoch metrics of a training run, as Keras's `History.history`.

use crate::error::{ModelError, Result};

/// Per-epoch metrics by name (`loss`, `accuracy`, `val_loss`, `val_accuracy`, ...), in the order they
/// were first recorded. Every series has one value per epoch; a metric that first appears in a later
/// epoch gets NaN for the epochs before it.
///
/// ```
/// use candlebook_models::History;
/// let mut h = History::new();
/// h.record(&[("loss", 0.9), ("accuracy", 0.6), ("val_loss", 1.0), ("val_accuracy", 0.55)]);
/// h.record(&[("loss", 0.5), ("accuracy", 0.8), ("val_loss", 0.7), ("val_accuracy", 0.70)]);
/// assert_eq!(h.epochs(), 2);
/// assert_eq!(h.get("loss"), Some(&[0.9, 0.5][..]));
/// assert_eq!(h.metric_names().collect::<Vec<_>>(), ["loss", "accuracy", "val_loss", "val_accuracy"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
    epochs: usize,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// A history from whole series (e.g. loaded from a file or another tool); all must have the
    /// same length.
    pub fn from_series<S: Into<String>>(series: impl IntoIterator<Item = (S, Vec<f64>)>) -> Result<Self> {
        let mut h = Self::new();
        for (name, values) in series {
            let name = name.into();
            if !h.names.is_empty() && values.len() != h.epochs {
                return Err(ModelError::LengthMismatch {
                    what: format!("series '{name}' against '{}'", h.names[0]),
                    left: values.len(),
                    right: h.epochs,
                });
            }
            h.epochs = values.len();
            h.names.push(name);
            h.values.push(values);
        }
        Ok(h)
    }

    /// Appends one epoch's metrics. Metrics not given this epoch get NaN.
    pub fn record(&mut self, metrics: &[(&str, f64)]) {
        for &(name, _) in metrics {
            if !self.names.iter().any(|n| n == name) {
                self.names.push(name.to_string());
                self.values.push(vec![f64::NAN; self.epochs]);
            }
        }
        for (name, series) in self.names.iter().zip(self.values.iter_mut()) {
            let v = metrics.iter().find(|(n, _)| n == name).map_or(f64::NAN, |&(_, v)| v);
            series.push(v);
        }
        self.epochs += 1;
    }

    /// Number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// One metric's values, epoch by epoch.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.names.iter().position(|n| n == name).map(|i| self.values[i].as_slice())
    }

    /// The metric names in the order they were first recorded.
    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|s| s.as_str())
    }

    /// The history as a polars `DataFrame`, one row per epoch: an `epoch` column (1-based, as
    /// Keras prints epochs) and one `f64` column per metric — what `pd.DataFrame(history.history)`
    /// gives a Keras user.
    ///
    /// ```
    /// use candlebook_models::History;
    /// let h = History::from_series([("loss", vec![0.9, 0.5]), ("accuracy", vec![0.6, 0.8])])?;
    /// let df = h.to_dataframe()?;
    /// assert_eq!(df.shape(), (2, 3));
    /// assert_eq!(df.column("loss")?.f64()?.get(1), Some(0.5));
    /// assert_eq!(df.column("epoch")?.u32()?.get(0), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_dataframe(&self) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::{Column, DataFrame};
        let mut columns = vec![Column::new("epoch".into(), (1..=self.epochs as u32).collect::<Vec<u32>>())];
        for (name, values) in self.names.iter().zip(&self.values) {
            columns.push(Column::new(name.as_str().into(), values.clone()));
        }
        DataFrame::new(self.epochs, columns).map_err(|e| ModelError::Spec(format!("History as a DataFrame: {e}")))
    }

    /// The history as an HTML table (`epoch` and one column per metric, like
    /// `pd.DataFrame(history.history)` in a Jupyter cell): what evcxr shows when a history is a
    /// cell's last value.
    ///
    /// ```
    /// use candlebook_models::History;
    /// let h = History::from_series([("loss", vec![0.5, 0.25]), ("val_loss", vec![0.6, 0.4])])?;
    /// let html = h.to_html()?;
    /// assert!(html.contains("<th>val_loss</th>") && html.contains("<td>0.25</td>"));
    /// # Ok::<(), candlebook_models::ModelError>(())
    /// ```
    pub fn to_html(&self) -> Result<String> {
        Ok(candlebook_data::frame_html(&self.to_dataframe()?))
    }

    /// Shows the history inline in Jupyter's Rust kernel as an HTML table ([`to_html`](Self::to_html)).
    pub fn evcxr_display(&self) {
        match self.to_html() {
            Ok(html) => println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT"),
            Err(e) => println!("{e}"),
        }
    }
}
