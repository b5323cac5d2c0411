//! `model.summary()`: Keras's table of layers, output shapes and parameter counts.

use std::fmt;

use crate::sequential::Sequential;

/// One row of the summary.
///
/// ```
/// use candle_core::Device;
/// use candlebook_models::*;
/// let mut m = Sequential::new(Input::flat(4), &Device::Cpu);
/// m.add(Dense::new(2)).unwrap();
/// let row = &m.summary().rows[0];
/// assert_eq!((row.name.as_str(), row.output_shape.as_str(), row.params), ("dense", "(None, 2)", 10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Layer name.
    pub name: String,
    /// Keras class name.
    pub class: String,
    /// Output shape with the batch axis as `None`, channels last: `(None, 32, 32, 3)`.
    pub output_shape: String,
    /// Parameters of the layer.
    pub params: usize,
}

/// Keras's `model.summary()`: printable as text (`println!("{}", model.summary())`) and shown as an
/// HTML table when it is a notebook cell's value.
///
/// ```
/// use candle_core::Device;
/// use candlebook_models::*;
/// let mut m = Sequential::new(Input::flat(16384), &Device::Cpu);
/// m.add(Dense::new(6).activation(Activation::Softmax)).unwrap();
/// let s = m.summary();
/// assert_eq!(s.total_params, 98310);
/// assert!(s.to_string().contains(" dense (Dense)"));
/// assert!(s.to_string().contains("Total params: 98,310"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The model's name.
    pub model_name: String,
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
    /// All parameters.
    pub total_params: usize,
    /// Parameters training updates.
    pub trainable_params: usize,
    /// Parameters training does not update (BN moving statistics, frozen layers).
    pub non_trainable_params: usize,
}

/// `1234567` → `"1,234,567"`.
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl Sequential {
    /// The Keras summary table.
    pub fn summary(&self) -> Summary {
        let rows = self
            .layers()
            .iter()
            .map(|l| {
                let dims = l.output_shape().keras_dims();
                let shape = format!("(None, {})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
                let (t, n) = l.param_counts();
                SummaryRow { name: l.name().to_string(), class: l.spec().class_name().to_string(), output_shape: shape, params: t + n }
            })
            .collect();
        let (t, n) = self.count_params();
        Summary { model_name: self.name().to_string(), rows, total_params: t + n, trainable_params: t, non_trainable_params: n }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = "_".repeat(65);
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        writeln!(f, "{line}")?;
        writeln!(f, " {:<27} {:<25} {:<10}", "Layer (type)", "Output Shape", "Param #")?;
        writeln!(f, "{}", "=".repeat(65))?;
        for (i, r) in self.rows.iter().enumerate() {
            writeln!(f, " {:<27} {:<25} {:<10}", format!("{} ({})", r.name, r.class), r.output_shape, r.params)?;
            if i + 1 < self.rows.len() {
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", "=".repeat(65))?;
        writeln!(f, "Total params: {}", thousands(self.total_params))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable_params))?;
        write!(f, "{line}")
    }
}

impl Summary {
    /// The table as HTML (what a notebook shows).
    pub fn to_html(&self) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let mut h = format!(
            "<div><b>Model: \"{}\"</b><table><thead><tr><th style=\"text-align:left\">Layer (type)</th>\
             <th style=\"text-align:left\">Output Shape</th><th style=\"text-align:right\">Param #</th></tr></thead><tbody>",
            esc(&self.model_name)
        );
        for r in &self.rows {
            h.push_str(&format!(
                "<tr><td style=\"text-align:left\">{} ({})</td><td style=\"text-align:left\">{}</td><td style=\"text-align:right\">{}</td></tr>",
                esc(&r.name),
                esc(&r.class),
                esc(&r.output_shape),
                thousands(r.params)
            ));
        }
        h.push_str(&format!(
            "</tbody></table>Total params: {}<br>Trainable params: {}<br>Non-trainable params: {}</div>",
            thousands(self.total_params),
            thousands(self.trainable_params),
            thousands(self.non_trainable_params)
        ));
        h
    }

    /// Shows the table inline in evcxr as HTML (and as text for plain front ends).
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }
}
