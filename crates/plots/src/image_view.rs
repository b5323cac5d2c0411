//! `ImageView`: a tensor or `image` buffer prepared for display (RGB, or one channel through a
//! colour map), shown inline in evcxr or placed in a figure panel.

use candle_core::{DType, Tensor};
use image::{imageops::FilterType, DynamicImage, GrayImage, RgbImage};

use crate::colormap::Colormap;
use crate::error::{PlotError, Result};
use crate::figure::{Figure, Panel};

#[derive(Debug, Clone)]
enum Pixels {
    /// Interleaved RGB, 0..=255.
    Rgb(Vec<u8>),
    /// One value per pixel, coloured through the colour map.
    Scalar(Vec<f32>),
}

/// An image ready to be drawn. Made from a tensor (`(H, W)`, `(C, H, W)` or `(1, C, H, W)` with
/// C = 1, 3 or 4; u8 as 0..=255, floats as 0..=1 for colour images, any range for one channel) or
/// from an `image` buffer. One-channel images are drawn through a [`Colormap`] (viridis unless
/// set, as matplotlib), scaled between their minimum and maximum unless a range is given.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use candlebook_plots::{Colormap, ImageView};
/// let t = Tensor::new(&[[0f32, 1.0], [2.0, 3.0]], &Device::Cpu).unwrap();
/// let view = ImageView::new(&t).unwrap().cmap(Colormap::Gray);
/// let rgb = view.to_rgb();
/// assert_eq!(rgb.get_pixel(0, 0).0, [0, 0, 0]);
/// assert_eq!(rgb.get_pixel(1, 1).0, [255, 255, 255]);
/// ```
#[derive(Clone)]
pub struct ImageView {
    width: u32,
    height: u32,
    pixels: Pixels,
    cmap: Colormap,
    range: Option<(f32, f32)>,
    title: Option<String>,
    title_color: [u8; 3],
    frame: bool,
}

impl std::fmt::Debug for ImageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.pixels {
            Pixels::Rgb(_) => "RGB".to_string(),
            Pixels::Scalar(_) => format!("1 channel, {:?}", self.cmap),
        };
        write!(f, "ImageView({}x{}, {kind}", self.width, self.height)?;
        if let Some(t) = &self.title {
            write!(f, ", title {t:?}")?;
        }
        write!(f, ")")
    }
}

impl ImageView {
    /// From a tensor; see the type's documentation for the shapes and value ranges accepted.
    pub fn new(tensor: &Tensor) -> Result<Self> {
        let shape = tensor.dims().to_vec();
        let bad = || PlotError::BadImageShape { shape: shape.clone() };
        let t = match shape.len() {
            2 => tensor.unsqueeze(0)?,
            3 => tensor.clone(),
            4 if shape[0] == 1 => tensor.squeeze(0)?,
            _ => return Err(bad()),
        };
        let (c, h, w) = t.dims3()?;
        if h == 0 || w == 0 || !matches!(c, 1 | 3 | 4) {
            return Err(bad());
        }
        let t = t.to_device(&candle_core::Device::Cpu)?;
        let is_u8 = match t.dtype() {
            DType::U8 => true,
            DType::F32 | DType::F64 | DType::F16 | DType::BF16 | DType::U32 | DType::I64 => false,
            other => return Err(PlotError::BadImageDType(format!("{other:?}"))),
        };
        let pixels = if c == 1 {
            Pixels::Scalar(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        } else {
            let rgb = t.narrow(0, 0, 3)?.permute((1, 2, 0))?;
            let rgb = if is_u8 {
                rgb
            } else {
                // matplotlib clips float RGB to 0..=1; NaN shows as 0.
                let f = rgb.to_dtype(DType::F32)?;
                let f = f.ne(&f)?.where_cond(&f.zeros_like()?, &f)?;
                f.clamp(0f32, 1f32)?.affine(255.0, 0.0)?.round()?.to_dtype(DType::U8)?
            };
            Pixels::Rgb(rgb.flatten_all()?.to_vec1::<u8>()?)
        };
        Ok(Self::from_parts(w as u32, h as u32, pixels))
    }

    /// From an `image` buffer: gray images through the colour map, everything else as RGB.
    pub fn from_image(img: &DynamicImage) -> Self {
        let (w, h) = (img.width(), img.height());
        if img.color().channel_count() <= 2 {
            let gray: GrayImage = img.to_luma8();
            Self::from_parts(w, h, Pixels::Scalar(gray.as_raw().iter().map(|&v| v as f32).collect()))
        } else {
            Self::from_parts(w, h, Pixels::Rgb(img.to_rgb8().into_raw()))
        }
    }

    fn from_parts(width: u32, height: u32, pixels: Pixels) -> Self {
        Self { width, height, pixels, cmap: Colormap::default(), range: None, title: None, title_color: [0, 0, 0], frame: true }
    }

    /// The colour map for one-channel images (ignored for RGB).
    pub fn cmap(mut self, cmap: Colormap) -> Self {
        self.cmap = cmap;
        self
    }

    /// Fixes the value range mapped to the ends of the colour map (matplotlib's `vmin`, `vmax`).
    pub fn range(mut self, vmin: f32, vmax: f32) -> Self {
        self.range = Some((vmin, vmax));
        self
    }

    /// A title drawn above the image when it is shown in a figure.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Draws a thin frame around the image (on by default; `false` is matplotlib's `axis('off')`).
    pub fn axis(mut self, on: bool) -> Self {
        self.frame = on;
        self
    }

    pub(crate) fn has_frame(&self) -> bool {
        self.frame
    }

    /// The colour of the title and of the caption under the image in a figure (e.g. blue for a
    /// correct prediction, red for a wrong one).
    pub fn title_color(mut self, rgb: [u8; 3]) -> Self {
        self.title_color = rgb;
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// True for one-channel images (drawn through the colour map).
    pub fn is_single_channel(&self) -> bool {
        matches!(self.pixels, Pixels::Scalar(_))
    }

    pub(crate) fn text_color(&self) -> [u8; 3] {
        self.title_color
    }

    pub(crate) fn title_text(&self) -> Option<(&str, [u8; 3])> {
        self.title.as_deref().map(|t| (t, self.title_color))
    }

    /// The colours as drawn, at the image's own size.
    pub fn to_rgb(&self) -> RgbImage {
        let raw = match &self.pixels {
            Pixels::Rgb(v) => v.clone(),
            Pixels::Scalar(v) => {
                let (lo, hi) = self.range.unwrap_or_else(|| finite_range(v));
                let span = hi - lo;
                v.iter()
                    .flat_map(|&x| {
                        let t = if x.is_nan() {
                            f32::NAN
                        } else if span > 0.0 {
                            (x - lo) / span
                        } else {
                            0.0
                        };
                        self.cmap.color(t)
                    })
                    .collect()
            }
        };
        // The buffer has exactly width * height * 3 bytes by construction.
        RgbImage::from_raw(self.width, self.height, raw).unwrap_or_else(|| RgbImage::new(self.width, self.height))
    }

    /// The colours scaled to fit `max_w × max_h`, keeping the aspect ratio: nearest neighbour when
    /// enlarging (pixels stay crisp, as matplotlib shows small images), a triangle filter when
    /// shrinking.
    pub(crate) fn fitted(&self, max_w: u32, max_h: u32) -> RgbImage {
        let rgb = self.to_rgb();
        let scale = (max_w as f64 / self.width as f64).min(max_h as f64 / self.height as f64);
        let tw = ((self.width as f64 * scale).round() as u32).max(1);
        let th = ((self.height as f64 * scale).round() as u32).max(1);
        if (tw, th) == (self.width, self.height) {
            return rgb;
        }
        let filter = if scale >= 1.0 { FilterType::Nearest } else { FilterType::Triangle };
        image::imageops::resize(&rgb, tw, th, filter)
    }

    /// This image alone in a figure, enlarged so that small images are visible.
    pub fn to_figure(&self) -> Figure {
        let longest = self.width.max(self.height) as f64;
        let scale = if longest < 256.0 { (256.0 / longest).ceil() } else { 1.0 };
        let (w, h) = ((self.width as f64 * scale) as u32 + 20, (self.height as f64 * scale) as u32 + 20);
        let extra = if self.title.is_some() { 30 } else { 0 };
        Figure::grid(1, 1).size(w, h + extra).with_panel(Panel::image(self.clone()))
    }

    /// Shows the image inline in evcxr (the notebook calls this for a cell's last value).
    pub fn evcxr_display(&self) {
        self.to_figure().evcxr_display();
    }

    /// Saves the image (as its figure) to `.png` or `.svg`, atomically.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        self.to_figure().save(path)
    }
}

/// Minimum and maximum of the finite values (0..1 when there are none).
fn finite_range(v: &[f32]) -> (f32, f32) {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    for &x in v.iter().filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if lo > hi {
        (0.0, 1.0)
    } else {
        (lo, hi)
    }
}

/// Anything that can be shown as an image: tensors, `image` buffers, views.
pub trait IntoImageView {
    /// Makes the view.
    fn into_image_view(self) -> Result<ImageView>;
}

impl IntoImageView for ImageView {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(self)
    }
}
impl IntoImageView for &ImageView {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(self.clone())
    }
}
impl IntoImageView for &Tensor {
    fn into_image_view(self) -> Result<ImageView> {
        ImageView::new(self)
    }
}
impl IntoImageView for Tensor {
    fn into_image_view(self) -> Result<ImageView> {
        ImageView::new(&self)
    }
}
impl IntoImageView for &DynamicImage {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(ImageView::from_image(self))
    }
}
impl IntoImageView for DynamicImage {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(ImageView::from_image(&self))
    }
}
impl IntoImageView for &RgbImage {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(ImageView::from_image(&DynamicImage::ImageRgb8(self.clone())))
    }
}
impl IntoImageView for &GrayImage {
    fn into_image_view(self) -> Result<ImageView> {
        Ok(ImageView::from_image(&DynamicImage::ImageLuma8(self.clone())))
    }
}
