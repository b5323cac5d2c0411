//! `LineChart`: named series as lines, with title, axis labels, legend and optional limits.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{drawing, PlotError, Result};
use crate::figure::{Figure, Panel};
use crate::font::FONT_FAMILY;

/// matplotlib's default colour cycle (`tab10`).
pub const TAB10: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// x values.
    pub x: Vec<f64>,
    /// y values (NaN values leave a gap).
    pub y: Vec<f64>,
    /// Colour; the next colour of matplotlib's cycle when `None`.
    pub color: Option<[u8; 3]>,
    /// Line width in pixels.
    pub width: u32,
}

/// A line chart: series, title, axis labels, legend, optional x/y limits (matplotlib's
/// `set_xlim` / `set_ylim`; either end may be left open).
///
/// ```
/// use candlebook_plots::LineChart;
/// let chart = LineChart::new()
///     .title("Model loss")
///     .labels("epoch", "loss")
///     .series("train", &[1.0, 2.0, 3.0], &[0.8, 0.4, 0.3]).unwrap()
///     .series("validation", &[1.0, 2.0, 3.0], &[0.9, 0.6, 0.5]).unwrap()
///     .ylim(Some(0.0), None);
/// let fig = chart.to_figure();
/// assert_eq!(fig.panel_count(), 1);
/// assert!(LineChart::new().series("bad", &[1.0], &[1.0, 2.0]).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineChart {
    series: Vec<Series>,
    title: Option<String>,
    xlabel: Option<String>,
    ylabel: Option<String>,
    xlim: (Option<f64>, Option<f64>),
    ylim: (Option<f64>, Option<f64>),
    legend: bool,
}

impl LineChart {
    /// An empty chart with the legend on.
    pub fn new() -> Self {
        Self { legend: true, ..Default::default() }
    }

    /// Adds a series; x and y must have the same length.
    pub fn series(mut self, name: impl Into<String>, x: &[f64], y: &[f64]) -> Result<Self> {
        let name = name.into();
        if x.len() != y.len() {
            return Err(PlotError::LengthMismatch { name, x_len: x.len(), y_len: y.len() });
        }
        self.series.push(Series { name, x: x.to_vec(), y: y.to_vec(), color: None, width: 2 });
        Ok(self)
    }

    /// Adds a fully specified series.
    pub fn with_series(mut self, s: Series) -> Result<Self> {
        if s.x.len() != s.y.len() {
            return Err(PlotError::LengthMismatch { name: s.name, x_len: s.x.len(), y_len: s.y.len() });
        }
        self.series.push(s);
        Ok(self)
    }

    /// Title above the chart.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = Some(t.into());
        self
    }

    /// x and y axis labels.
    pub fn labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.xlabel = Some(x.into());
        self.ylabel = Some(y.into());
        self
    }

    /// x limits; `None` keeps the data's end.
    pub fn xlim(mut self, lo: Option<f64>, hi: Option<f64>) -> Self {
        self.xlim = (lo, hi);
        self
    }

    /// y limits; `None` keeps the data's end.
    pub fn ylim(mut self, lo: Option<f64>, hi: Option<f64>) -> Self {
        self.ylim = (lo, hi);
        self
    }

    /// Turns the legend on or off.
    pub fn legend(mut self, on: bool) -> Self {
        self.legend = on;
        self
    }

    /// The series, in drawing order.
    pub fn series_list(&self) -> &[Series] {
        &self.series
    }

    /// This chart alone in a 640×420 figure.
    pub fn to_figure(&self) -> Figure {
        Figure::grid(1, 1).size(640, 420).with_panel(Panel::Lines(self.clone()))
    }

    /// Shows the chart inline in evcxr.
    pub fn evcxr_display(&self) {
        self.to_figure().evcxr_display();
    }

    fn bounds(&self) -> Result<((f64, f64), (f64, f64))> {
        let pts = || self.series.iter().flat_map(|s| s.x.iter().zip(&s.y)).filter(|(x, y)| x.is_finite() && y.is_finite());
        if pts().next().is_none() {
            return Err(PlotError::NoFiniteValues { what: "line chart".into() });
        }
        let fold = |vals: Vec<f64>| vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (x0, x1) = fold(pts().map(|(x, _)| *x).collect());
        let (y0, y1) = fold(pts().map(|(_, y)| *y).collect());
        // matplotlib's 5% margins; a flat range gets a unit span.
        let widen = |lo: f64, hi: f64| {
            if hi > lo {
                let m = (hi - lo) * 0.05;
                (lo - m, hi + m)
            } else {
                (lo - 0.5, hi + 0.5)
            }
        };
        let (x0, x1) = widen(x0, x1);
        let (y0, y1) = widen(y0, y1);
        let x = (self.xlim.0.unwrap_or(x0), self.xlim.1.unwrap_or(x1));
        let y = (self.ylim.0.unwrap_or(y0), self.ylim.1.unwrap_or(y1));
        if !(x.1 > x.0) || !(y.1 > y.0) {
            return Err(PlotError::BadLayout(format!("empty axis range: x {:?}, y {:?}", x, y)));
        }
        Ok((x, y))
    }

    /// Draws the chart in a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        if self.series.is_empty() {
            return Err(PlotError::Empty("line chart has no series".into()));
        }
        let ((x0, x1), (y0, y1)) = self.bounds()?;
        let mut builder = ChartBuilder::on(area);
        builder.margin(12).x_label_area_size(42).y_label_area_size(60);
        if let Some(t) = &self.title {
            builder.caption(t, (FONT_FAMILY, 20.0));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(drawing)?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style((FONT_FAMILY, 14.0))
            .axis_desc_style((FONT_FAMILY, 16.0));
        if let Some(x) = &self.xlabel {
            mesh.x_desc(x.as_str());
        }
        if let Some(y) = &self.ylabel {
            mesh.y_desc(y.as_str());
        }
        mesh.draw().map_err(drawing)?;
        for (i, s) in self.series.iter().enumerate() {
            let c = s.color.unwrap_or(TAB10[i % TAB10.len()]);
            let color = RGBColor(c[0], c[1], c[2]);
            let style = color.stroke_width(s.width.max(1));
            // NaN breaks the line, as in matplotlib.
            let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (&x, &y) in s.x.iter().zip(&s.y) {
                if x.is_finite() && y.is_finite() {
                    if let Some(last) = segments.last_mut() {
                        last.push((x, y));
                    }
                } else if segments.last().is_some_and(|l| !l.is_empty()) {
                    segments.push(Vec::new());
                }
            }
            let mut first = true;
            for seg in segments.into_iter().filter(|s| !s.is_empty()) {
                let drawn = chart.draw_series(LineSeries::new(seg, style)).map_err(drawing)?;
                if first {
                    drawn.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                    });
                    first = false;
                }
            }
        }
        if self.legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font((FONT_FAMILY, 14.0))
                .draw()
                .map_err(drawing)?;
        }
        Ok(())
    }
}
