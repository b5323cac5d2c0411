//! A confusion matrix as a heatmap with the count written in every cell.

use candlebook_models::ConfusionMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colormap::Colormap;
use crate::error::{drawing, Result};
use crate::figure::{Figure, Panel};
use crate::font::FONT_FAMILY;

/// How a [`ConfusionMatrix`] is drawn: rows are true classes (top to bottom), columns predicted
/// classes (left to right), cells coloured by count (matplotlib's `Blues`), counts written in the
/// cells in white on dark cells and black on light ones, class names on both axes.
///
/// ```
/// use candlebook_models::ConfusionMatrix;
/// use candlebook_plots::ConfusionMatrixPlot;
/// let cm = ConfusionMatrix::from_labels(&[0, 1, 1], &[0, 1, 0], 2).unwrap();
/// let fig = ConfusionMatrixPlot::new(&cm).title("Confusion matrix").to_figure();
/// assert_eq!(fig.panel_count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrixPlot {
    cm: ConfusionMatrix,
    title: Option<String>,
    cmap: Colormap,
}

impl ConfusionMatrixPlot {
    /// The default look: `Blues`, no title.
    pub fn new(cm: &ConfusionMatrix) -> Self {
        Self { cm: cm.clone(), title: None, cmap: Colormap::blues() }
    }

    /// Title above the matrix.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }

    /// Another colour map for the cells.
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// A square figure sized for the number of classes.
    pub fn to_figure(&self) -> Figure {
        let n = self.cm.n_classes() as u32;
        let side = (n * 60).clamp(360, 1000) + 120;
        Figure::grid(1, 1).size(side, side).with_panel(Panel::Confusion(self.clone()))
    }

    /// Shows the plot inline in evcxr.
    pub fn evcxr_display(&self) {
        self.to_figure().evcxr_display();
    }

    /// Draws the heatmap in a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let n = self.cm.n_classes() as i32;
        let mut builder = ChartBuilder::on(area);
        builder.margin(10).x_label_area_size(56).y_label_area_size(80);
        if let Some(t) = &self.title {
            builder.caption(t, (FONT_FAMILY, 20.0));
        }
        let mut chart = builder.build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented()).map_err(drawing)?;
        let names = self.cm.class_names().to_vec();
        let names_y = names.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n as usize)
            .y_labels(n as usize)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            // y runs bottom-up in plotters; row 0 (true class 0) is drawn at the top.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names_y.get((n - 1 - *i) as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("Predicted label")
            .y_desc("True label")
            .label_style((FONT_FAMILY, 14.0))
            .axis_desc_style((FONT_FAMILY, 16.0))
            .draw()
            .map_err(drawing)?;
        let max = self.cm.max_count().max(1) as f32;
        let font = (n as f64 * -1.5 + 26.0).clamp(10.0, 22.0);
        for t in 0..n {
            for p in 0..n {
                let count = self.cm.count(t as usize, p as usize);
                let level = count as f32 / max;
                let c = self.cmap.color(level);
                let y = n - 1 - t;
                let cell = Rectangle::new(
                    [(SegmentValue::Exact(p), SegmentValue::Exact(y)), (SegmentValue::Exact(p + 1), SegmentValue::Exact(y + 1))],
                    RGBColor(c[0], c[1], c[2]).filled(),
                );
                chart.draw_series(std::iter::once(cell)).map_err(drawing)?;
                let text_color = if level > 0.5 { WHITE } else { BLACK };
                let style = (FONT_FAMILY, font).into_font().color(&text_color).pos(Pos::new(HPos::Center, VPos::Center));
                let label = Text::new(count.to_string(), (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)), style);
                chart.draw_series(std::iter::once(label)).map_err(drawing)?;
            }
        }
        Ok(())
    }
}
