//! Curves from training histories and sweeps: loss/accuracy per epoch, learning curves over the
//! training-set size, a sweep over a hyperparameter, and stacks of charts sharing the x axis.

use candlebook_models::History;

use crate::error::{PlotError, Result};
use crate::figure::{Figure, Panel};
use crate::line_chart::LineChart;

/// Loss and accuracy curves of a [`History`]: the training series and, when recorded, the
/// validation series (`val_<metric>`), per epoch (1, 2, ...).
///
/// ```
/// use candlebook_models::History;
/// use candlebook_plots::LearningCurves;
/// let h = History::from_series([("loss", vec![0.9, 0.5, 0.4]), ("val_loss", vec![1.0, 0.7, 0.6]),
///                               ("accuracy", vec![0.6, 0.8, 0.85]), ("val_accuracy", vec![0.5, 0.7, 0.75])]).unwrap();
/// let curves = LearningCurves::new(&h);
/// let loss = curves.loss().unwrap();
/// assert_eq!(loss.series_list().len(), 2);
/// assert!(curves.chart("precision").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct LearningCurves {
    history: History,
}

impl LearningCurves {
    /// Curves of this history.
    pub fn new(history: &History) -> Self {
        Self { history: history.clone() }
    }

    /// `metric` and `val_<metric>` against the epoch, titled "<Metric> Curves", legend "Training
    /// <metric>" / "Validation <metric>" (rename with `.names(...)`, recolour with `.colors(...)`).
    pub fn chart(&self, metric: &str) -> Result<LineChart> {
        let train = self.history.get(metric).ok_or_else(|| {
            let known: Vec<&str> = self.history.metric_names().collect();
            PlotError::Empty(format!("history has no metric '{metric}' (it has: {})", known.join(", ")))
        })?;
        let epochs: Vec<f64> = (1..=train.len()).map(|e| e as f64).collect();
        let pretty = capitalise(metric);
        let mut chart = LineChart::new()
            .title(format!("{pretty} Curves"))
            .labels("Epoch", pretty.clone())
            .series(format!("Training {metric}"), &epochs, train)?;
        if let Some(val) = self.history.get(&format!("val_{metric}")) {
            chart = chart.series(format!("Validation {metric}"), &epochs, val)?;
        }
        Ok(chart)
    }

    /// The loss curves.
    pub fn loss(&self) -> Result<LineChart> {
        self.chart("loss")
    }

    /// The accuracy curves (`accuracy`, or Keras 1's `acc`).
    pub fn accuracy(&self) -> Result<LineChart> {
        if self.history.get("accuracy").is_some() {
            self.chart("accuracy")
        } else {
            self.chart("acc")
        }
    }

    /// Loss and accuracy side by side in one figure.
    pub fn both(&self) -> Result<Figure> {
        Ok(Figure::grid(1, 2).size(1200, 420).with_panel(self.loss()?).with_panel(self.accuracy()?))
    }
}

/// The steel seed's `graph_results(results)`: the loss curves (`loss`, `val_loss`, legend "Loss",
/// "Val_Loss") above the accuracy curves ("Train Accuracy", "Val Accuracy"), both against the
/// epoch, in one figure. Validation series are drawn when the history has them; a history
/// without `loss` or `accuracy` is an error naming what it has.
///
/// ```
/// use candlebook_models::History;
/// let h = History::from_series([("loss", vec![0.9, 0.5]), ("val_loss", vec![1.0, 0.7]),
///                               ("accuracy", vec![0.6, 0.8]), ("val_accuracy", vec![0.5, 0.7])]).unwrap();
/// assert_eq!(candlebook_plots::graph_results(&h).unwrap().grid_shape(), (2, 1));
/// ```
pub fn graph_results(history: &History) -> Result<Figure> {
    let curves = LearningCurves::new(history);
    let loss = curves.loss()?.names(&["Loss", "Val_Loss"]).title("").labels("Epoch", "Loss");
    let accuracy = curves.accuracy()?.names(&["Train Accuracy", "Val Accuracy"]).title("").labels("Epoch", "Accuracy");
    Ok(Figure::grid(2, 1).size(900, 760).with_panel(loss).with_panel(accuracy))
}

/// Colours of [`history_comparison`]: per run, a darker training and a lighter validation shade.
const RUN_COLOURS: [[[u8; 3]; 2]; 4] = [
    [[0, 0, 0], [120, 120, 120]],
    [[0, 0, 255], [110, 160, 255]],
    [[200, 0, 0], [255, 140, 120]],
    [[0, 128, 0], [110, 200, 110]],
];

/// Several trainings' curves in one figure: loss on the left, accuracy on the right, each run's
/// training and validation series in its own pair of shades ("plain training", "plain
/// validation", "augmented training", ...), so that the gap between training and validation of
/// one run can be set beside another's. Every history needs `loss`; accuracy is drawn when all
/// have it. At most four runs.
///
/// ```
/// use candlebook_models::History;
/// let a = History::from_series([("loss", vec![0.9, 0.2]), ("val_loss", vec![1.0, 0.8]), ("accuracy", vec![0.7, 0.99]), ("val_accuracy", vec![0.6, 0.8])]).unwrap();
/// let b = History::from_series([("loss", vec![1.2, 0.5]), ("val_loss", vec![1.0, 0.4]), ("accuracy", vec![0.6, 0.9]), ("val_accuracy", vec![0.6, 0.92])]).unwrap();
/// let fig = candlebook_plots::history_comparison(&[("plain", &a), ("augmented", &b)]).unwrap();
/// assert_eq!(fig.grid_shape(), (1, 2));
/// ```
pub fn history_comparison<S: AsRef<str>>(runs: &[(S, &History)]) -> Result<Figure> {
    if runs.is_empty() || runs.len() > RUN_COLOURS.len() {
        return Err(PlotError::BadLayout(format!("history_comparison draws 1 to {} runs, got {}", RUN_COLOURS.len(), runs.len())));
    }
    let with_accuracy = runs.iter().all(|(_, h)| h.get("accuracy").is_some());
    let metrics: &[&str] = if with_accuracy { &["loss", "accuracy"] } else { &["loss"] };
    let mut fig = Figure::grid(1, metrics.len()).size(600 * metrics.len() as u32, 440);
    for metric in metrics {
        let pretty = capitalise(metric);
        let mut chart = LineChart::new().title(format!("{pretty} Curves")).labels("Epoch", pretty.clone());
        let mut colours = Vec::new();
        for (i, (name, history)) in runs.iter().enumerate() {
            let name = name.as_ref();
            let train = history.get(metric).ok_or_else(|| PlotError::Empty(format!("the history of '{name}' has no '{metric}' series")))?;
            let epochs: Vec<f64> = (1..=train.len()).map(|e| e as f64).collect();
            chart = chart.series(format!("{name} training"), &epochs, train)?;
            colours.push(RUN_COLOURS[i][0]);
            if let Some(val) = history.get(&format!("val_{metric}")) {
                let epochs: Vec<f64> = (1..=val.len()).map(|e| e as f64).collect();
                chart = chart.series(format!("{name} validation"), &epochs, val)?;
                colours.push(RUN_COLOURS[i][1]);
            }
        }
        fig.push(Panel::Lines(chart.colors(&colours).line_width(2)));
    }
    Ok(fig)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Accuracy against the training-set size, test and train (the fingers notebook's learning curve).
/// Zoom like the seed's `ax.set_xlim(1500); ax.set_ylim(0.95)` with `.xlim(Some(1500.0), None)` and
/// `.ylim(Some(0.95), None)`.
///
/// ```
/// let c = candlebook_plots::learning_curve(&[10.0, 20.0, 40.0], &[1.0, 1.0, 1.0], &[0.7, 0.8, 0.9]).unwrap();
/// assert_eq!(c.series_list()[0].name, "Test");
/// assert!(candlebook_plots::learning_curve(&[10.0], &[1.0, 2.0], &[0.5]).is_err());
/// ```
pub fn learning_curve(sizes: &[f64], train: &[f64], test: &[f64]) -> Result<LineChart> {
    LineChart::new()
        .title("Learning curve")
        .labels("training set size", "accuracy")
        .series("Test", sizes, test)?
        .series("Train", sizes, train)
        .map(|c| c.size(900, 450))
}

/// Accuracy against a hyperparameter (e.g. the regularisation strength C), test and train, with a
/// logarithmic x axis when `log_x`.
///
/// ```
/// let c = candlebook_plots::parameter_sweep("C", &[0.01, 0.1, 1.0], &[1.0, 1.0, 1.0], &[0.98, 0.99, 0.99], true).unwrap();
/// assert!(c.to_figure().to_rgb().is_ok());
/// ```
pub fn parameter_sweep(name: &str, values: &[f64], train: &[f64], test: &[f64], log_x: bool) -> Result<LineChart> {
    if log_x {
        if let Some(v) = values.iter().find(|v| **v <= 0.0) {
            return Err(PlotError::BadLayout(format!("a log axis needs positive {name} values, got {v}")));
        }
    }
    LineChart::new()
        .title(format!("Accuracy against {name}"))
        .labels(name, "accuracy")
        .series("Test", values, test)?
        .series("Train", values, train)
        .map(|c| c.log_x(log_x).size(900, 450))
}

/// Charts stacked in one column sharing the x axis (the fingers notebook's four loss curves): every
/// chart gets the union of the x ranges, only the bottom one shows x tick labels and `xlabel`.
///
/// ```
/// use candlebook_plots::{stack_shared_x, LineChart};
/// let a = LineChart::new().series("cnn", &[1.0, 2.0, 3.0], &[0.5, 0.1, 0.05]).unwrap();
/// let b = LineChart::new().series("dense", &[1.0, 2.0, 3.0, 4.0], &[0.9, 0.4, 0.2, 0.1]).unwrap();
/// let fig = stack_shared_x(vec![a, b], "Epochs").unwrap();
/// assert_eq!(fig.grid_shape(), (2, 1));
/// ```
pub fn stack_shared_x(charts: Vec<LineChart>, xlabel: &str) -> Result<Figure> {
    if charts.is_empty() {
        return Err(PlotError::Empty("no charts to stack".into()));
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for c in &charts {
        let (a, b) = c.x_range()?;
        lo = lo.min(a);
        hi = hi.max(b);
    }
    let n = charts.len();
    let mut fig = Figure::grid(n, 1).size(900, (230 * n as u32).max(300));
    for (i, c) in charts.into_iter().enumerate() {
        let last = i + 1 == n;
        let c = c.xlim(Some(lo), Some(hi)).x_tick_labels(last);
        fig.push(Panel::Lines(if last { c.xlabel(xlabel) } else { c }));
    }
    Ok(fig)
}

/// Colours of [`loss_comparison`]'s rows, after the seed's `c='b'`, `'black'`, `'y'`, `'g'`.
const COMPARISON_COLOURS: [[u8; 3]; 4] = [[0, 0, 255], [0, 0, 0], [191, 191, 0], [0, 128, 0]];

/// The training loss of several models, one row each, sharing the epoch axis (the fingers
/// notebook's comparison of its networks): each row's legend names the model, `ylim` (the seed
/// uses `(-0.01, 0.1)`) applies to every row.
///
/// ```
/// use candlebook_models::History;
/// let a = History::from_series([("loss", vec![0.2, 0.01, 0.001])]).unwrap();
/// let b = History::from_series([("loss", vec![0.3, 0.05, 0.08, 0.02])]).unwrap();
/// let fig = candlebook_plots::loss_comparison(&[("CNNModel", &a), ("NNModel", &b)], Some((-0.01, 0.1))).unwrap();
/// assert_eq!(fig.grid_shape(), (2, 1));
/// let none = History::from_series([("accuracy", vec![0.5])]).unwrap();
/// assert!(candlebook_plots::loss_comparison(&[("x", &none)], None).is_err());
/// ```
pub fn loss_comparison<S: AsRef<str>>(runs: &[(S, &History)], ylim: Option<(f64, f64)>) -> Result<Figure> {
    let mut charts = Vec::with_capacity(runs.len());
    for (i, (name, history)) in runs.iter().enumerate() {
        let loss = history.get("loss").ok_or_else(|| {
            PlotError::Empty(format!("the history of '{}' has no 'loss' series", name.as_ref()))
        })?;
        let epochs: Vec<f64> = (1..=loss.len()).map(|e| e as f64).collect();
        let mut chart = LineChart::new()
            .series(name.as_ref(), &epochs, loss)?
            .colors(&[COMPARISON_COLOURS[i % COMPARISON_COLOURS.len()]])
            .ylabel("Loss");
        if let Some((lo, hi)) = ylim {
            chart = chart.ylim(Some(lo), Some(hi));
        }
        charts.push(chart);
    }
    stack_shared_x(charts, "Epochs")
}
