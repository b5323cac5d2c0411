//! polars `DataFrame`s in a notebook: their values as a tensor (pandas's `df.values`) and an HTML
//! table when a cell's last value is a frame (pandas's inline display, truncated the same way).

use std::fmt::Write as _;

use candle_core::{Device, Tensor};
use polars::prelude::*;

use crate::error::{DataError, Result};

/// Rows shown before a frame is truncated to its head and tail (pandas's `display.max_rows`).
pub const MAX_TABLE_ROWS: usize = 60;
/// Columns shown before a frame is truncated to its first and last ones (pandas's
/// `display.max_columns`).
pub const MAX_TABLE_COLUMNS: usize = 20;

/// The frame's values as an `(rows, columns)` f32 tensor, pandas's `df.values` for a numeric
/// frame. A column that is not numeric, or a missing value, is a [`DataError::BadArgument`]
/// naming the column.
///
/// ```
/// use polars::prelude::*;
/// let df = df!("a" => [1i64, 2], "b" => [0.5f64, 3.0]).unwrap();
/// let x = candlebook_data::frame_to_tensor(&df, &candle_core::Device::Cpu)?;
/// assert_eq!(x.to_vec2::<f32>()?, vec![vec![1.0, 0.5], vec![2.0, 3.0]]);
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn frame_to_tensor(df: &DataFrame, device: &Device) -> Result<Tensor> {
    let (rows, cols) = df.shape();
    let mut values = vec![0f32; rows * cols];
    for (j, col) in df.columns().iter().enumerate() {
        if !col.dtype().is_primitive_numeric() {
            return Err(DataError::BadArgument(format!("column '{}' holds {}, expected numbers", col.name(), col.dtype())));
        }
        let cast = col.cast(&DataType::Float32).map_err(|e| DataError::BadArgument(format!("column '{}': {e}", col.name())))?;
        let ca = cast.f32().map_err(|e| DataError::BadArgument(format!("column '{}': {e}", col.name())))?;
        for (i, v) in ca.iter().enumerate() {
            values[i * cols + j] = v.ok_or_else(|| DataError::BadArgument(format!("column '{}' has a missing value in row {i}, expected numbers only", col.name())))?;
        }
    }
    Ok(Tensor::from_vec(values, (rows, cols), device)?)
}

/// pandas's `df.drop_duplicates([column])`: the rows whose `column` value has not been seen in an
/// earlier row, in their order (the first of each kept). A missing column is a
/// [`DataError::BadArgument`].
///
/// ```
/// use polars::prelude::*;
/// let df = df!("ImageId" => ["a.jpg", "b.jpg", "a.jpg"], "ClassId" => [1i64, 3, 4]).unwrap();
/// let first = candlebook_data::drop_duplicates(&df, "ImageId")?;
/// assert_eq!(first.height(), 2);
/// assert_eq!(first.column("ClassId").unwrap().i64().unwrap().get(0), Some(1));
/// # Ok::<(), candlebook_data::DataError>(())
/// ```
pub fn drop_duplicates(df: &DataFrame, column: &str) -> Result<DataFrame> {
    let col = df.column(column).map_err(|_| {
        let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        DataError::BadArgument(format!("drop_duplicates: no column '{column}' (the frame has {names:?})"))
    })?;
    let mut seen = std::collections::HashSet::new();
    let keep: Vec<bool> = (0..df.height()).map(|i| seen.insert(col.get(i).map(|v| v.to_string()).unwrap_or_default())).collect();
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    df.filter(&mask).map_err(|e| DataError::BadArgument(format!("drop_duplicates: {e}")))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The positions shown of `n` items when at most `max` fit: all of them, or the first and last
/// halves with a gap (`None`) between, as pandas truncates.
fn shown(n: usize, max: usize) -> Vec<Option<usize>> {
    if n <= max {
        return (0..n).map(Some).collect();
    }
    let head = max.div_ceil(2);
    let tail = max / 2;
    (0..head).map(Some).chain(std::iter::once(None)).chain((n - tail..n).map(Some)).collect()
}

/// The frame as an HTML table the way Jupyter shows a pandas frame: an index column, the column
/// names as a header, at most [`MAX_TABLE_ROWS`] rows and [`MAX_TABLE_COLUMNS`] columns (the
/// first and last ones around a `…`), and a `rows × columns` line under it when truncated.
///
/// ```
/// use polars::prelude::*;
/// let df = df!("label" => [3i64, 6], "pixel1" => [107i64, 155]).unwrap();
/// let html = candlebook_data::frame_html(&df);
/// assert!(html.contains("<th>label</th>") && html.contains("<td>155</td>"));
/// ```
pub fn frame_html(df: &DataFrame) -> String {
    let (rows, cols) = df.shape();
    let (row_pos, col_pos) = (shown(rows, MAX_TABLE_ROWS), shown(cols, MAX_TABLE_COLUMNS));
    let mut html = String::from("<div><table border=\"1\" class=\"dataframe\" style=\"font-size:12px\"><thead><tr style=\"text-align: right;\"><th></th>");
    for c in &col_pos {
        match c {
            Some(j) => {
                let _ = write!(html, "<th>{}</th>", escape(df.columns()[*j].name()));
            }
            None => html.push_str("<th>…</th>"),
        }
    }
    html.push_str("</tr></thead><tbody>");
    for r in &row_pos {
        html.push_str("<tr>");
        match r {
            Some(i) => {
                let _ = write!(html, "<th>{i}</th>");
                for c in &col_pos {
                    match c {
                        Some(j) => {
                            let cell = match df.columns()[*j].get(*i) {
                                Ok(AnyValue::Null) => "NaN".to_string(),
                                Ok(AnyValue::String(s)) => s.to_string(),
                                Ok(AnyValue::StringOwned(s)) => s.to_string(),
                                Ok(v) => v.to_string(),
                                Err(_) => String::new(),
                            };
                            let _ = write!(html, "<td>{}</td>", escape(&cell));
                        }
                        None => html.push_str("<td>…</td>"),
                    }
                }
            }
            None => {
                html.push_str("<th>…</th>");
                for _ in &col_pos {
                    html.push_str("<td>…</td>");
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    if rows > MAX_TABLE_ROWS || cols > MAX_TABLE_COLUMNS {
        let _ = write!(html, "<p>{rows} rows × {cols} columns</p>");
    }
    html.push_str("</div>");
    html
}

/// Shows a value inline in Jupyter's Rust kernel: evcxr calls `evcxr_display` on a cell's last
/// value, and with this trait in scope (it is in `candlebook::prelude`) a polars `DataFrame`
/// appears as an HTML table ([`frame_html`]) with its plain-text form beside it.
pub trait NotebookDisplay {
    /// Prints the value in evcxr's rich-output protocol.
    fn evcxr_display(&self);
}

impl NotebookDisplay for DataFrame {
    fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", frame_html(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_frames_are_truncated_like_pandas() {
        let cols: Vec<Column> = (0..785).map(|j| Column::new(format!("c{j}").into(), vec![j as i64; 70])).collect();
        let df = DataFrame::new(70, cols).unwrap();
        let html = frame_html(&df);
        assert_eq!(html.matches("<tr>").count(), 61, "30 head rows, the gap, 30 tail rows");
        assert!(html.contains("<th>c9</th><th>…</th><th>c775</th>"));
        assert!(html.contains("70 rows × 785 columns"));
        assert!(!html.contains("<th>c10</th>"));
    }

    #[test]
    fn text_columns_are_refused_as_values() {
        let df = DataFrame::new(1, vec![Column::new("a".into(), vec!["x"])]).unwrap();
        let err = frame_to_tensor(&df, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("column 'a'") && err.contains("expected numbers"), "{err}");
    }
}
