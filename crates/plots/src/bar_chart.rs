//! `BarChart`: one bar per class, e.g. a classifier's probabilities with the predicted class in red
//! and the true class in blue.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{drawing, PlotError, Result};
use crate::figure::{Figure, Panel};
use crate::font::FONT_FAMILY;

/// matplotlib's `#777777`, the seed's bar colour.
pub const BAR_GREY: [u8; 3] = [0x77, 0x77, 0x77];
/// Red for the predicted class.
pub const PREDICTED_RED: [u8; 3] = [255, 0, 0];
/// Blue for the true class.
pub const TRUE_BLUE: [u8; 3] = [0, 0, 255];

/// Bars at x = 0, 1, 2, ... with their own colours, tick labels and an optional y range.
///
/// ```
/// use candlebook_plots::{BarChart, TRUE_BLUE};
/// let bars = BarChart::new(&[0.1, 0.7, 0.2]).unwrap().color_of(1, TRUE_BLUE).ylim(0.0, 1.0);
/// assert_eq!(bars.len(), 3);
/// assert!(BarChart::new(&[]).is_err());
/// assert!(BarChart::new(&[f64::NAN]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    values: Vec<f64>,
    colors: Vec<[u8; 3]>,
    labels: Vec<String>,
    ylim: Option<(f64, f64)>,
    title: Option<String>,
    y_ticks: bool,
}

impl BarChart {
    /// Grey bars for finite values, labelled 0, 1, 2, ...
    pub fn new(values: &[f64]) -> Result<Self> {
        if values.is_empty() {
            return Err(PlotError::Empty("bar chart has no values".into()));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(PlotError::NoFiniteValues { what: format!("bar {i} (value {})", values[i]) });
        }
        Ok(Self {
            values: values.to_vec(),
            colors: vec![BAR_GREY; values.len()],
            labels: (0..values.len()).map(|i| i.to_string()).collect(),
            ylim: None,
            title: None,
            y_ticks: true,
        })
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a bar chart has at least one bar.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Colours bar `i` (ignored when out of range).
    pub fn color_of(mut self, i: usize, rgb: [u8; 3]) -> Self {
        if let Some(c) = self.colors.get_mut(i) {
            *c = rgb;
        }
        self
    }

    /// The colour of bar `i`.
    pub fn bar_color(&self, i: usize) -> Option<[u8; 3]> {
        self.colors.get(i).copied()
    }

    /// Tick labels under the bars (one per bar; extra ones are ignored).
    pub fn labels<S: AsRef<str>>(mut self, labels: &[S]) -> Self {
        for (l, s) in self.labels.iter_mut().zip(labels) {
            *l = s.as_ref().to_string();
        }
        self
    }

    /// Fixes the y range.
    pub fn ylim(mut self, lo: f64, hi: f64) -> Self {
        self.ylim = Some((lo, hi));
        self
    }

    /// Title above the bars.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }

    /// Shows or hides the y tick labels (the seed hides them).
    pub fn y_tick_labels(mut self, on: bool) -> Self {
        self.y_ticks = on;
        self
    }

    /// This chart alone in a figure.
    pub fn to_figure(&self) -> Figure {
        Figure::grid(1, 1).size(480, 320).with_panel(Panel::Bars(self.clone()))
    }

    /// Shows the chart inline in evcxr.
    pub fn evcxr_display(&self) {
        self.to_figure().evcxr_display();
    }

    /// Draws the chart in a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.values.len();
        let (lo, hi) = self.ylim.unwrap_or_else(|| {
            let max = self.values.iter().cloned().fold(0.0, f64::max);
            let min = self.values.iter().cloned().fold(0.0, f64::min);
            (min, if max > min { max * 1.05 } else { min + 1.0 })
        });
        if !(hi > lo) {
            return Err(PlotError::BadLayout(format!("empty y range {lo}..{hi}")));
        }
        let mut builder = ChartBuilder::on(area);
        builder.margin(6).x_label_area_size(24).y_label_area_size(if self.y_ticks { 44 } else { 4 });
        if let Some(t) = &self.title {
            builder.caption(t, (FONT_FAMILY, 16.0));
        }
        let mut chart = builder.build_cartesian_2d((0..n as i32 - 1).into_segmented(), lo..hi).map_err(drawing)?;
        let labels = self.labels.clone();
        let formatter = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh().x_labels(n).x_label_formatter(&formatter).label_style((FONT_FAMILY, 12.0));
        if !self.y_ticks {
            mesh.y_labels(0);
        }
        mesh.draw().map_err(drawing)?;
        for (i, (&v, c)) in self.values.iter().zip(&self.colors).enumerate() {
            let color = RGBColor(c[0], c[1], c[2]);
            let i = i as i32;
            let bar = Rectangle::new([(SegmentValue::Exact(i), 0f64.max(lo)), (SegmentValue::Exact(i + 1), v.clamp(lo, hi))], color.filled());
            chart.draw_series(std::iter::once(bar)).map_err(drawing)?;
        }
        Ok(())
    }
}

/// The seed's `plot_value_array`: one grey bar per class probability on 0..1, the predicted class
/// (largest probability) red and the true class blue (blue wins when they are the same class).
///
/// ```
/// use candlebook_plots::{probability_bars, PREDICTED_RED, TRUE_BLUE};
/// let bars = probability_bars(&[0.1, 0.6, 0.3], 2).unwrap();
/// assert_eq!(bars.bar_color(1), Some(PREDICTED_RED));
/// assert_eq!(bars.bar_color(2), Some(TRUE_BLUE));
/// assert!(probability_bars(&[0.5, 0.5], 7).is_err());
/// ```
pub fn probability_bars(probabilities: &[f64], true_class: usize) -> Result<BarChart> {
    if true_class >= probabilities.len() {
        return Err(PlotError::BadLayout(format!(
            "true class {true_class} is outside the {} probabilities",
            probabilities.len()
        )));
    }
    let predicted = argmax(probabilities);
    Ok(BarChart::new(probabilities)?
        .ylim(0.0, 1.0)
        .y_tick_labels(false)
        .color_of(predicted, PREDICTED_RED)
        .color_of(true_class, TRUE_BLUE))
}

/// Index of the largest finite value (the first one on ties).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
