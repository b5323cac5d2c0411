//! The embedded font: figures render text with no system fonts or fontconfig.

use std::sync::Once;

use plotters::style::FontStyle;

static REGISTER: Once = Once::new();

/// The family name figures use; DejaVu Sans (matplotlib's default face) is registered under it.
pub const FONT_FAMILY: &str = "sans-serif";

/// Registers DejaVu Sans (regular, bold, oblique) with plotters, once per process.
pub(crate) fn ensure_fonts() {
    REGISTER.call_once(|| {
        // The bytes come from the `dejavu` crate and are valid TrueType files; a failure here
        // would only mean text falls back to nothing, so it is not worth a panic.
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Bold, dejavu::sans::bold());
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Italic, dejavu::sans::oblique());
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Oblique, dejavu::sans::oblique());
    });
}
