//! `LineChart`: named series as lines, with title, axis labels, legend and optional limits.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
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
    log_x: bool,
    x_ticks: bool,
    size: Option<(u32, u32)>,
}

impl LineChart {
    /// An empty chart with the legend on.
    pub fn new() -> Self {
        Self { legend: true, x_ticks: true, ..Default::default() }
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

    /// The x axis label alone.
    pub fn xlabel(mut self, x: impl Into<String>) -> Self {
        self.xlabel = Some(x.into());
        self
    }

    /// The y axis label alone.
    pub fn ylabel(mut self, y: impl Into<String>) -> Self {
        self.ylabel = Some(y.into());
        self
    }

    /// x limits; `None` keeps the data's end. Unless `ylim` fixes them, the y limits then follow
    /// the points inside the x window (a zoom keeps every curve in view).
    pub fn xlim(mut self, lo: Option<f64>, hi: Option<f64>) -> Self {
        self.xlim = (lo, hi);
        self
    }

    /// y limits; `None` keeps the data's end.
    pub fn ylim(mut self, lo: Option<f64>, hi: Option<f64>) -> Self {
        self.ylim = (lo, hi);
        self
    }

    /// Colours of the series in order (series beyond the list keep matplotlib's cycle).
    pub fn colors(mut self, colors: &[[u8; 3]]) -> Self {
        for (s, &c) in self.series.iter_mut().zip(colors) {
            s.color = Some(c);
        }
        self
    }

    /// Line width in pixels for every series.
    pub fn line_width(mut self, width: u32) -> Self {
        for s in &mut self.series {
            s.width = width.max(1);
        }
        self
    }

    /// Legend labels of the series in order (as `plt.legend([...])`).
    pub fn names<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        for (s, n) in self.series.iter_mut().zip(names) {
            s.name = n.as_ref().to_string();
        }
        self
    }

    /// A logarithmic x axis (for sweeps over a regularisation strength, say). x values must be > 0.
    pub fn log_x(mut self, on: bool) -> Self {
        self.log_x = on;
        self
    }

    /// Shows or hides the x tick labels (hidden on the upper rows of a shared-x stack).
    pub fn x_tick_labels(mut self, on: bool) -> Self {
        self.x_ticks = on;
        self
    }

    /// Size in pixels when the chart is shown on its own.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    /// The x range the chart would draw (data with 5% margins, overridden by `xlim`).
    pub fn x_range(&self) -> Result<(f64, f64)> {
        Ok(self.bounds()?.0)
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
        let (w, h) = self.size.unwrap_or((640, 420));
        Figure::grid(1, 1).size(w, h).with_panel(Panel::Lines(self.clone()))
    }

    /// Shows the chart inline in evcxr.
    pub fn evcxr_display(&self) {
        self.to_figure().evcxr_display();
    }

    fn bounds(&self) -> Result<((f64, f64), (f64, f64))> {
        let log = self.log_x;
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.x.iter().zip(&s.y))
                .filter(move |(x, y)| x.is_finite() && y.is_finite() && (!log || **x > 0.0))
        };
        if pts().next().is_none() {
            return Err(PlotError::NoFiniteValues { what: "line chart".into() });
        }
        let fold = |vals: Vec<f64>| vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (x0, x1) = fold(pts().map(|(x, _)| *x).collect());
        // A zoom (`xlim`) also zooms y: the automatic y range covers the points inside the x
        // window, so every curve stays in view (matplotlib keeps the whole data's y range).
        let in_window = |x: f64| self.xlim.0.is_none_or(|lo| x >= lo) && self.xlim.1.is_none_or(|hi| x <= hi);
        let window: Vec<f64> = pts().filter(|(x, _)| in_window(**x)).map(|(_, y)| *y).collect();
        let (y0, y1) = if window.is_empty() { fold(pts().map(|(_, y)| *y).collect()) } else { fold(window) };
        // matplotlib's 5% margins; a flat range gets a unit span.
        let widen = |lo: f64, hi: f64| {
            if hi > lo {
                let m = (hi - lo) * 0.05;
                (lo - m, hi + m)
            } else {
                (lo - 0.5, hi + 0.5)
            }
        };
        let (x0, x1) = if log {
            // margins in log space
            let (l0, l1) = widen(x0.log10(), x1.log10());
            (10f64.powf(l0), 10f64.powf(l1))
        } else {
            widen(x0, x1)
        };
        let (y0, y1) = widen(y0, y1);
        let x = (self.xlim.0.unwrap_or(x0), self.xlim.1.unwrap_or(x1));
        let y = (self.ylim.0.unwrap_or(y0), self.ylim.1.unwrap_or(y1));
        if !(x.1 > x.0) || !(y.1 > y.0) || (log && x.0 <= 0.0) {
            return Err(PlotError::BadLayout(format!("empty axis range: x {:?}, y {:?}", x, y)));
        }
        Ok((x, y))
    }

    /// matplotlib's `loc="best"` in spirit: the corner whose legend box would cover the fewest
    /// points of the lines (sampled along each segment), upper right on ties.
    fn legend_corner(&self, ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64))) -> SeriesLabelPosition {
        let fx = |x: f64| if self.log_x { x.log10() } else { x };
        let (lx0, lx1) = (fx(x0), fx(x1));
        let norm = |x: f64, y: f64| ((fx(x) - lx0) / (lx1 - lx0), (y - y0) / (y1 - y0));
        let longest = self.series.iter().map(|s| s.name.chars().count()).max().unwrap_or(4) as f64;
        let (w, h) = ((0.1 + 0.018 * longest).min(0.6), (0.06 + 0.075 * self.series.len() as f64).min(0.8));
        let mut samples = Vec::new();
        for s in &self.series {
            let pts: Vec<(f64, f64)> = s
                .x
                .iter()
                .zip(&s.y)
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_x || **x > 0.0))
                .map(|(&x, &y)| norm(x, y))
                .collect();
            for pair in pts.windows(2) {
                for k in 0..=8 {
                    let t = k as f64 / 8.0;
                    samples.push((pair[0].0 + t * (pair[1].0 - pair[0].0), pair[0].1 + t * (pair[1].1 - pair[0].1)));
                }
            }
            if pts.len() == 1 {
                samples.push(pts[0]);
            }
        }
        let corners = [
            (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0), (1.0 - h, 1.0)),
            (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
            (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
            (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
        ];
        let covered = |(xa, xb): (f64, f64), (ya, yb): (f64, f64)| {
            samples.iter().filter(|(x, y)| *x >= xa && *x <= xb && *y >= ya && *y <= yb).count()
        };
        let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
        for (pos, xs, ys) in corners {
            let n = covered(xs, ys);
            if n < best.0 {
                best = (n, pos);
            }
        }
        best.1
    }

    /// Draws the chart in a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        if self.series.is_empty() {
            return Err(PlotError::Empty("line chart has no series".into()));
        }
        let ((x0, x1), (y0, y1)) = self.bounds()?;
        let mut builder = ChartBuilder::on(area);
        builder.margin(12).x_label_area_size(if self.x_ticks { 42 } else { 8 }).y_label_area_size(64);
        if let Some(t) = &self.title {
            builder.caption(t, (FONT_FAMILY, 20.0));
        }
        if self.log_x {
            let chart = builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(drawing)?;
            self.finish(chart, ((x0, x1), (y0, y1)))
        } else {
            let chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(drawing)?;
            self.finish(chart, ((x0, x1), (y0, y1)))
        }
    }

    /// Mesh, series and legend, for either kind of x axis.
    fn finish<'a, DB, X>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
        ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut mesh = chart.configure_mesh();
        let hide = |_: &f64| String::new();
        mesh.light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style((FONT_FAMILY, 14.0))
            .axis_desc_style((FONT_FAMILY, 16.0))
            .y_label_formatter(&tick_label);
        if self.x_ticks {
            mesh.x_label_formatter(&tick_label);
        } else {
            mesh.x_label_formatter(&hide);
        }
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
            // NaN (and, on a log axis, x <= 0) breaks the line, as in matplotlib; the rest is
            // clipped to the axes box, so zooming with limits cuts lines instead of flattening them.
            let mut points: Vec<Option<(f64, f64)>> = Vec::with_capacity(s.x.len());
            for (&x, &y) in s.x.iter().zip(&s.y) {
                let ok = x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0);
                points.push(ok.then_some((x, y)));
            }
            let segments = clip_polyline(&points, (x0, x1), (y0, y1), self.log_x);
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
                .position(self.legend_corner(((x0, x1), (y0, y1))))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font((FONT_FAMILY, 14.0))
                .draw()
                .map_err(drawing)?;
        }
        Ok(())
    }
}

/// Tick text as matplotlib writes it: integers without decimals, others with up to four significant
/// decimals, very large or small magnitudes in exponent form.
fn tick_label(v: &f64) -> String {
    let v = *v;
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.0e}");
    }
    if (v - v.round()).abs() < 1e-9 * a.max(1.0) {
        return format!("{}", v.round() as i64);
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Splits a polyline at missing points and clips it to the axes box (Liang–Barsky per segment; in
/// log10 space along x for a log axis), giving the visible runs.
fn clip_polyline(points: &[Option<(f64, f64)>], (x0, x1): (f64, f64), (y0, y1): (f64, f64), log_x: bool) -> Vec<Vec<(f64, f64)>> {
    let fx = |x: f64| if log_x { x.log10() } else { x };
    let gx = |x: f64| if log_x { 10f64.powf(x) } else { x };
    let (bx0, bx1) = (fx(x0), fx(x1));
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let inside = |(x, y): (f64, f64)| x >= bx0 && x <= bx1 && y >= y0 && y <= y1;
    let flush = |current: &mut Vec<(f64, f64)>, runs: &mut Vec<Vec<(f64, f64)>>| {
        if !current.is_empty() {
            runs.push(std::mem::take(current).into_iter().map(|(x, y)| (gx(x), y)).collect());
        }
    };
    let mut prev: Option<(f64, f64)> = None;
    for p in points {
        let Some((x, y)) = *p else {
            flush(&mut current, &mut runs);
            prev = None;
            continue;
        };
        let q = (fx(x), y);
        match prev {
            None => {
                if inside(q) {
                    current.push(q);
                }
            }
            Some(a) => {
                // Liang–Barsky: the part of segment a→q inside the box.
                let (dx, dy) = (q.0 - a.0, q.1 - a.1);
                let (mut t0, mut t1) = (0.0f64, 1.0f64);
                let mut visible = true;
                for (pk, qk) in [(-dx, a.0 - bx0), (dx, bx1 - a.0), (-dy, a.1 - y0), (dy, y1 - a.1)] {
                    if pk == 0.0 {
                        if qk < 0.0 {
                            visible = false;
                        }
                    } else {
                        let r = qk / pk;
                        if pk < 0.0 {
                            t0 = t0.max(r);
                        } else {
                            t1 = t1.min(r);
                        }
                    }
                }
                if visible && t0 <= t1 {
                    let start = (a.0 + t0 * dx, a.1 + t0 * dy);
                    let end = (a.0 + t1 * dx, a.1 + t1 * dy);
                    if t0 > 0.0 || current.is_empty() {
                        flush(&mut current, &mut runs);
                        current.push(start);
                    }
                    current.push(end);
                    if t1 < 1.0 {
                        flush(&mut current, &mut runs);
                    }
                } else {
                    flush(&mut current, &mut runs);
                }
            }
        }
        prev = Some(q);
    }
    flush(&mut current, &mut runs);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_lines_at_the_box() {
        let pts = [Some((0.0, 0.0)), Some((2.0, 2.0)), Some((4.0, 0.0))];
        let runs = clip_polyline(&pts, (0.0, 4.0), (0.0, 1.0), false);
        assert_eq!(runs, vec![vec![(0.0, 0.0), (1.0, 1.0)], vec![(3.0, 1.0), (4.0, 0.0)]]);
        let gap = [Some((0.0, 0.5)), None, Some((1.0, 0.5)), Some((2.0, 0.5))];
        assert_eq!(clip_polyline(&gap, (0.0, 2.0), (0.0, 1.0), false).len(), 2);
    }

    #[test]
    fn zooming_x_zooms_y_to_the_curves_inside_the_window() -> Result<()> {
        let x = [10.0, 100.0, 1000.0, 2000.0, 3000.0];
        let chart = LineChart::new().series("train", &x, &[1.0, 1.0, 1.0, 1.0, 1.0])?.series("test", &x, &[0.3, 0.6, 0.85, 0.9, 0.93])?;
        let (_, (y0, _)) = chart.bounds()?;
        assert!(y0 < 0.3, "unzoomed y starts at {y0}");
        let (_, (y0, y1)) = chart.clone().xlim(Some(1500.0), None).bounds()?;
        assert!(y0 > 0.85 && y0 < 0.9 && y1 > 1.0, "zoomed y range {y0}..{y1} must show 0.9..1.0 and no more");
        let (_, (y0, _)) = chart.xlim(Some(1500.0), None).ylim(Some(0.95), None).bounds()?;
        assert_eq!(y0, 0.95, "ylim still wins");
        Ok(())
    }

    #[test]
    fn tick_labels_read_like_matplotlib() {
        assert_eq!(tick_label(&2.0), "2");
        assert_eq!(tick_label(&0.25), "0.25");
        assert_eq!(tick_label(&1e-4), "1e-4");
        assert_eq!(tick_label(&0.0), "0");
    }
}
