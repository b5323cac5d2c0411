//! `Figure`: a grid of panels (images with captions, line charts) drawn with plotters, shown
//! inline in evcxr as PNG and saved to PNG or SVG.

use std::cell::RefCell;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{drawing, PlotError, Result};
use crate::font::{ensure_fonts, FONT_FAMILY};
use crate::image_view::{ImageView, IntoImageView};
use crate::bar_chart::BarChart;
use crate::confusion_plot::ConfusionMatrixPlot;
use crate::line_chart::LineChart;

/// What one cell of a figure's grid holds.
#[derive(Debug, Clone)]
pub enum Panel {
    /// An image, with an optional caption under it (matplotlib's `xlabel`).
    Image {
        /// The image.
        view: ImageView,
        /// Caption drawn below the image.
        caption: Option<String>,
    },
    /// A line chart.
    Lines(LineChart),
    /// A bar chart.
    Bars(BarChart),
    /// A confusion-matrix heatmap.
    Confusion(ConfusionMatrixPlot),
    /// An empty cell.
    Blank,
}

impl Panel {
    /// An image panel without caption.
    pub fn image(view: ImageView) -> Self {
        Panel::Image { view, caption: None }
    }

    /// An image panel with a caption under it.
    pub fn captioned(view: ImageView, caption: impl Into<String>) -> Self {
        Panel::Image { view, caption: Some(caption.into()) }
    }
}

impl From<LineChart> for Panel {
    fn from(chart: LineChart) -> Self {
        Panel::Lines(chart)
    }
}

impl From<BarChart> for Panel {
    fn from(chart: BarChart) -> Self {
        Panel::Bars(chart)
    }
}

impl From<ConfusionMatrixPlot> for Panel {
    fn from(plot: ConfusionMatrixPlot) -> Self {
        Panel::Confusion(plot)
    }
}

impl From<ImageView> for Panel {
    fn from(view: ImageView) -> Self {
        Panel::image(view)
    }
}

/// A figure: `rows × cols` panels filled row by row, an optional title, a size in pixels.
///
/// In a notebook, a cell whose last value is a `Figure` shows it inline (evcxr calls
/// [`Figure::evcxr_display`]). [`Figure::save`] writes `.png` or `.svg`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_plots::{Figure, ImageView, LineChart, Panel};
/// let img = ImageView::new(&Tensor::zeros((3, 8, 8), candle_core::DType::U8, &Device::Cpu).unwrap()).unwrap();
/// let chart = LineChart::new().title("loss").series("train", &[1.0, 2.0, 3.0], &[0.9, 0.5, 0.3]).unwrap();
/// let fig = Figure::grid(1, 2).size(600, 300).with_panel(Panel::captioned(img, "Image")).with_panel(chart);
/// let png = fig.to_rgb().unwrap();
/// assert_eq!((png.width(), png.height()), (600, 300));
/// ```
#[derive(Debug, Clone)]
pub struct Figure {
    width: u32,
    height: u32,
    rows: usize,
    cols: usize,
    title: Option<String>,
    panels: Vec<Panel>,
    image_padding: u32,
}

/// Caption and title font size in pixels.
const LABEL_PX: f64 = 17.0;
const TITLE_PX: f64 = 22.0;

impl Figure {
    /// An empty `rows × cols` grid, 400 pixels per panel side until [`Figure::size`] says otherwise.
    pub fn grid(rows: usize, cols: usize) -> Self {
        let (r, c) = (rows.max(1), cols.max(1));
        Self { width: 400 * c as u32, height: 400 * r as u32, rows: r, cols: c, title: None, panels: Vec::new(), image_padding: 8 }
    }

    /// Sets the size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Sets a title drawn above all panels.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Space in pixels around each image panel's image (default 8; tight grids use 1 or 2).
    pub fn image_padding(mut self, px: u32) -> Self {
        self.image_padding = px;
        self
    }

    /// Rows and columns of the grid.
    pub fn grid_shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Adds the next panel (row by row).
    pub fn with_panel(mut self, panel: impl Into<Panel>) -> Self {
        self.panels.push(panel.into());
        self
    }

    /// Adds the next panel in place.
    pub fn push(&mut self, panel: impl Into<Panel>) {
        self.panels.push(panel.into());
    }

    /// Number of panels added.
    pub fn panel_count(&self) -> usize {
        self.panels.len()
    }

    /// The panels, row by row.
    pub fn panels(&self) -> &[Panel] {
        &self.panels
    }

    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn check(&self) -> Result<()> {
        if self.width < 16 || self.height < 16 {
            return Err(PlotError::BadLayout(format!("figure of {}x{} pixels is too small", self.width, self.height)));
        }
        if self.width > 16384 || self.height > 16384 {
            return Err(PlotError::BadLayout(format!("figure of {}x{} pixels is too large", self.width, self.height)));
        }
        if self.panels.len() > self.rows * self.cols {
            return Err(PlotError::BadLayout(format!(
                "{} panels do not fit a {}x{} grid",
                self.panels.len(),
                self.rows,
                self.cols
            )));
        }
        Ok(())
    }

    /// Draws the figure on any plotters drawing area.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.draw_into(root, None)
    }

    /// Draws the figure; with `images`, image panels are not drawn but their placement and pixels
    /// are collected (the SVG writer embeds them as PNG `<image>` elements instead of one
    /// rectangle per pixel).
    fn draw_into<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, images: Option<&RefCell<Vec<PlacedImage>>>) -> Result<()> {
        self.check()?;
        ensure_fonts();
        root.fill(&WHITE).map_err(drawing)?;
        let body = match &self.title {
            Some(t) => root
                .titled(t, (FONT_FAMILY, TITLE_PX * 1.1).into_font().style(FontStyle::Bold))
                .map_err(drawing)?,
            None => root.clone(),
        };
        let cells = body.split_evenly((self.rows, self.cols));
        for (panel, area) in self.panels.iter().zip(cells.iter()) {
            match panel {
                Panel::Image { view, caption } => draw_image(area, view, caption.as_deref(), self.image_padding, images)?,
                Panel::Lines(chart) => chart.draw(area)?,
                Panel::Bars(chart) => chart.draw(area)?,
                Panel::Confusion(plot) => plot.draw(area)?,
                Panel::Blank => {}
            }
        }
        root.present().map_err(drawing)?;
        Ok(())
    }

    /// Renders to an RGB buffer.
    pub fn to_rgb(&self) -> Result<image::RgbImage> {
        self.check()?;
        let mut buf = vec![0u8; self.width as usize * self.height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (self.width, self.height)).into_drawing_area();
            self.draw(&root)?;
        }
        image::RgbImage::from_raw(self.width, self.height, buf)
            .ok_or_else(|| PlotError::Drawing("bitmap buffer has the wrong size".into()))
    }

    /// Renders to PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        use image::ImageEncoder;
        let rgb = self.to_rgb()?;
        let mut out = Vec::new();
        // Best compression with adaptive filters: notebooks keep every figure inline (and are
        // committed), so bytes matter more than the milliseconds of encoding.
        image::codecs::png::PngEncoder::new_with_quality(&mut out, image::codecs::png::CompressionType::Best, image::codecs::png::FilterType::Adaptive)
            .write_image(rgb.as_raw(), rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)?;
        Ok(out)
    }

    /// Renders to an SVG document; images are embedded as PNG data (`<image href="data:...">`).
    pub fn to_svg(&self) -> Result<String> {
        self.check()?;
        let mut svg = String::new();
        let images = RefCell::new(Vec::new());
        {
            let root = SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            self.draw_into(&root, Some(&images))?;
        }
        let mut embedded = String::new();
        for img in images.into_inner() {
            let mut png = std::io::Cursor::new(Vec::new());
            img.rgb.write_to(&mut png, image::ImageFormat::Png)?;
            embedded.push_str(&format!(
                "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
                img.x,
                img.y,
                img.rgb.width(),
                img.rgb.height(),
                base64(png.get_ref())
            ));
        }
        // Images go first after the background so captions and frames stay on top.
        match svg.find("<rect") {
            Some(pos) => {
                let end = svg[pos..].find("/>").map_or(pos, |e| pos + e + 2);
                svg.insert_str(end, &format!("\n{embedded}"));
            }
            None => {
                if let Some(pos) = svg.rfind("</svg>") {
                    svg.insert_str(pos, &embedded);
                }
            }
        }
        Ok(svg)
    }

    /// Saves to `path` as PNG or SVG (by extension). The file is written to a temporary file next
    /// to it and renamed, so a crash never leaves half a file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
        let bytes = match ext.as_deref() {
            Some("png") => self.to_png()?,
            Some("svg") => self.to_svg()?.into_bytes(),
            _ => return Err(PlotError::UnknownFormat { path: path.display().to_string() }),
        };
        candlebook_models::write_atomic(path, &bytes).map_err(|source| PlotError::Io { path: path.display().to_string(), source })
    }

    /// Shows the figure inline in evcxr as a PNG; if it cannot be drawn, prints why instead.
    pub fn evcxr_display(&self) {
        match self.to_png() {
            Ok(png) => evcxr_runtime::mime_type("image/png").bytes(&png),
            Err(e) => println!("(figure could not be drawn: {e})"),
        }
    }
}

/// An image panel's pixels and where they go, for the SVG writer.
struct PlacedImage {
    x: i32,
    y: i32,
    rgb: image::RgbImage,
}

/// Standard base64 (RFC 4648) with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn draw_image<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &ImageView,
    caption: Option<&str>,
    pad: u32,
    sink: Option<&RefCell<Vec<PlacedImage>>>,
) -> Result<()> {
    let (aw, ah) = area.dim_in_pixel();
    let line = (LABEL_PX * 1.35) as u32;
    let color = view.text_color();
    let text_color = RGBColor(color[0], color[1], color[2]);
    let title_lines: Vec<&str> = view.title_text().map(|(t, _)| t.lines().collect()).unwrap_or_default();
    let top = if title_lines.is_empty() { 0 } else { line * title_lines.len() as u32 + 4 };
    let bottom = if caption.is_some() { line + 4 } else { 0 };
    let max_w = aw.saturating_sub(2 * pad).max(1);
    let max_h = ah.saturating_sub(2 * pad + top + bottom).max(1);
    let rgb = view.fitted(max_w, max_h);
    let (iw, ih) = (rgb.width(), rgb.height());
    let x = ((aw - iw.min(aw)) / 2) as i32;
    let block_h = top + ih + bottom;
    let y0 = ((ah.saturating_sub(block_h)) / 2) as i32;
    let y = y0 + top as i32;
    // Long captions in narrow panels shrink to fit (DejaVu Sans averages ~0.6 em per character).
    let longest = title_lines.iter().chain(caption.iter()).map(|t| t.chars().count()).max().unwrap_or(1).max(1);
    let font_px = LABEL_PX.min((aw.saturating_sub(4)) as f64 / (0.6 * longest as f64)).max(7.0);
    let style = (FONT_FAMILY, font_px).into_font().color(&text_color).pos(Pos::new(HPos::Center, VPos::Center));
    for (i, text) in title_lines.iter().enumerate() {
        let cy = y0 + (line * i as u32 + line / 2) as i32;
        area.draw_text(text, &style, ((aw / 2) as i32, cy)).map_err(drawing)?;
    }
    match sink {
        Some(sink) => {
            let (bx, by) = area.get_base_pixel();
            sink.borrow_mut().push(PlacedImage { x: bx + x, y: by + y, rgb });
        }
        None => {
            let element = BitMapElement::with_owned_buffer((x, y), (iw, ih), rgb.into_raw())
                .ok_or_else(|| PlotError::Drawing("image buffer has the wrong size".into()))?;
            area.draw(&element).map_err(drawing)?;
        }
    }
    if view.has_frame() {
        area.draw(&Rectangle::new([(x - 1, y - 1), (x + iw as i32, y + ih as i32)], BLACK.stroke_width(1)))
            .map_err(drawing)?;
    }
    if let Some(text) = caption {
        area.draw_text(text, &style, ((aw / 2) as i32, y + ih as i32 + 4 + (line / 2) as i32)).map_err(drawing)?;
    }
    Ok(())
}

/// Images side by side, each with its caption underneath: the layout of the tutorials' kernel
/// figures (`plt.subplot(1, n, i)` + `plt.xlabel(...)`). Accepts tensors, `image` buffers or views.
///
/// ```
/// use candle_core::{Device, Tensor, DType};
/// use candlebook_plots::side_by_side;
/// let a = Tensor::zeros((3, 20, 30), DType::U8, &Device::Cpu).unwrap();
/// let b = Tensor::ones((20, 30), DType::F32, &Device::Cpu).unwrap();
/// let fig = side_by_side([(&a, "Original"), (&b, "Edges")]).unwrap();
/// assert_eq!(fig.panel_count(), 2);
/// assert!(side_by_side(Vec::<(&Tensor, &str)>::new()).is_err());
/// ```
pub fn side_by_side<V, S, I>(items: I) -> Result<Figure>
where
    V: IntoImageView,
    S: Into<String>,
    I: IntoIterator<Item = (V, S)>,
{
    let panels: Vec<Panel> = items
        .into_iter()
        .map(|(v, s)| Ok(Panel::captioned(v.into_image_view()?, s)))
        .collect::<Result<_>>()?;
    if panels.is_empty() {
        return Err(PlotError::Empty("side_by_side needs at least one image".into()));
    }
    let n = panels.len() as u32;
    // Each panel ~ 360 px wide; the height follows the tallest aspect ratio plus the caption.
    let panel_w = if n <= 2 { 420 } else { 340 };
    let aspect = panels
        .iter()
        .filter_map(|p| match p {
            Panel::Image { view, .. } => Some(view.height() as f64 / view.width() as f64),
            _ => None,
        })
        .fold(0.0f64, f64::max);
    let img_h = ((panel_w - 16) as f64 * aspect).round().clamp(60.0, 900.0) as u32;
    let height = img_h + 16 + (LABEL_PX * 1.6) as u32;
    let mut fig = Figure::grid(1, panels.len()).size(panel_w * n, height);
    for p in panels {
        fig.push(p);
    }
    Ok(fig)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
