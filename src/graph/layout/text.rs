//! How big text is, without a font engine: every string is measured as monospace at a
//! conservative advance, and the SVG asks for a monospace font, so a box computed here holds its
//! text in any renderer that finds one.

/// The advance of one character, in em. DejaVu Sans Mono, Menlo and Consolas all advance about
/// 0.60 em; the margin covers a fallback font that is slightly wider.
pub const EM_ADVANCE: f64 = 0.62;

/// The font stack the SVG names; the metrics above hold for each of them.
pub const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// Font sizes in px.
pub const HEADING: f64 = 14.0;
pub const TITLE: f64 = 12.0;
pub const DETAIL: f64 = 11.0;
pub const PORT: f64 = 10.0;
pub const OVERLAY: f64 = 11.0;

/// Line pitch inside a node box, in em.
pub const LINE: f64 = 1.3;

pub fn width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * EM_ADVANCE
}

/// From the top of a line's box to its baseline, and from the baseline to the box's bottom:
/// together 1.2 em, more than the ascender and descender of the fonts above.
pub fn ascent(size: f64) -> f64 {
    0.9 * size
}

pub fn descent(size: f64) -> f64 {
    0.3 * size
}

pub fn height(size: f64) -> f64 {
    ascent(size) + descent(size)
}
