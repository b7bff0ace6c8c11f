//! The chart kit: inline SVG drawn in Rust for the run report and the trend page.
//!
//! Input: plain numbers, labels and styles, never a summary (the pages turn summaries into
//! series and bars). Output: SVG markup that pages insert raw (`{{{…}}}`), so every piece of
//! text is escaped here with [`esc`]. Charts need no script, no font file and no network: text
//! widths are estimated, never measured, and kept generous so labels do not collide. Each series
//! has a colour *and* a dash pattern and a marker shape, each stacked segment a colour *and* a
//! fill pattern, so charts survive greyscale printing. Data points carry `<title>` tooltips.
//!
//! Must not panic on any `f64`: NaN, ±∞, 1e308, zero, negatives and empty input all draw
//! something sensible (points that cannot be placed are skipped, an empty chart says so in
//! words). Hence no `f64::clamp` on a range computed from data here: [`within`] instead.
//!
//! [`scale`] holds the axes (linear, log, the percentile axis, time), [`line`](mod@line) line charts,
//! [`bar`] horizontal and stacked bars, [`style`] colours, dashes, markers and fills, [`legend`]
//! the legend rows.

use std::fmt::Write;

pub mod bar;
pub mod legend;
pub mod line;
pub mod scale;
pub mod style;

pub use bar::{
    Bar, HBarChart, RefMark, StackChart, StackRow, StackUnit, hbar_chart, stacked_hbar_chart,
};
pub use line::{Band, Plot, Point, Rule, Series, Tag, line_chart, line_chart_sized};
pub use scale::Axis;
pub use style::{Fill, Marker, Pattern, Style};

/// Width of a chart's coordinate system, and its natural width in CSS pixels: every chart says
/// `width` and `height` in pixels, and the page only ever shrinks it to a narrower column
/// (`max-width: 100%`), never stretches it, so text is drawn at [`FONT`] pixels whatever the
/// layout. Two charts side by side fit a 1,200 px page at this width.
pub const WIDTH: f64 = 560.0;
/// The natural width of a chart that has a row of the page to itself: the report's column
/// (1,200 px less its padding), so the chart takes the page's width at 1,280 px and shrinks
/// only on a narrower window.
pub const PAGE_WIDTH: f64 = 1150.0;
pub const FONT: f64 = 12.0;
const TITLE_FONT: f64 = 14.0;

/// Escapes text for SVG (XML) content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A generous estimate of a label's width: 0.62 em per character covers DejaVu Sans digits and
/// lower case, the widest of the usual fallback fonts.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.62
}

/// Cuts a label to fit `width`, ending in `…`; the full text stays in the tooltip.
pub fn fit(s: &str, width: f64, size: f64) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    // `as usize` maps a negative or NaN width to 0: the label becomes `…`.
    let keep = ((width / (size * 0.62)) as usize).saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// `v` kept between `lo` and `hi`; `lo` when the range is empty (a label wider than the chart)
/// or `v` is NaN. Unlike `f64::clamp`, never panics.
pub fn within(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() || lo.is_nan() || hi.is_nan() || lo > hi {
        lo
    } else {
        v.max(lo).min(hi)
    }
}

/// The outside of a chart: its id, CSS class, visible title and accessible name.
pub struct Frame<'a> {
    pub id: &'a str,
    pub class: &'a str,
    pub title: &'a str,
    /// The accessible name (`<title>`), which may name the scenario.
    pub about: &'a str,
}

/// Opens an `<svg>` with its accessible name and visible title, `size` CSS pixels large (see
/// [`WIDTH`]).
fn open(out: &mut String, f: &Frame, size: (f64, f64)) {
    let (width, height) = size;
    let id = esc(f.id);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart {}" id="{id}" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-labelledby="{id}-title" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="{FONT}"><title id="{id}-title">{}</title><rect width="{width:.0}" height="{height:.0}" fill="#fff"/><text class="chart-title" x="8" y="20" font-size="{TITLE_FONT}" font-weight="600" fill="#1b1f24">{}</text>"##,
        f.class,
        esc(f.about),
        esc(f.title),
    );
}

/// Tick marks and labels along the x axis, each label dropped when it would touch the previous
/// one.
fn x_tick_labels(out: &mut String, axis: &Axis, left: f64, pw: f64, y: f64, width: f64) {
    let mut last_right = f64::NEG_INFINITY;
    for (v, text) in &axis.ticks {
        let x = left + axis.t(*v) * pw;
        let w = text_width(text, FONT);
        // Keep the first and last label inside the chart.
        let cx = within(x, w / 2.0 + 2.0, width - w / 2.0 - 2.0);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#57606a"/>"##,
            y - 14.0,
            y - 10.0
        );
        if cx - w / 2.0 < last_right + 6.0 {
            continue;
        }
        let _ = write!(
            out,
            r##"<text x="{cx:.1}" y="{y:.1}" text-anchor="middle" fill="#57606a">{}</text>"##,
            esc(text)
        );
        last_right = cx + w / 2.0;
    }
}

/// The x axis' vertical grid lines, tick labels, left edge and label, under a plot area of
/// bars from `top` to `bottom`.
fn bar_x_axis(
    out: &mut String,
    axis: &Axis,
    (left, pw): (f64, f64),
    (top, bottom): (f64, f64),
    width: f64,
) {
    for (v, _) in &axis.ticks {
        let x = left + axis.t(*v) * pw;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#e5e8eb"/>"##
        );
    }
    x_tick_labels(out, axis, left, pw, bottom + 18.0, width);
    let _ = write!(
        out,
        r##"<line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="#8c959f"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1b1f24">{}</text>"##,
        left + pw / 2.0,
        bottom + 36.0,
        esc(&axis.label)
    );
}

/// Numbers no chart may stumble on, for the kit's tests.
#[cfg(test)]
pub(crate) const ODD: [f64; 12] = [
    0.0,
    -0.0,
    -5.0,
    1.0,
    1e-300,
    5e-324,
    1e308,
    f64::MAX,
    f64::MIN,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn fit_cuts_long_labels() {
        assert_eq!(fit("short", 200.0, FONT), "short");
        let cut = fit(&"x".repeat(100), 100.0, FONT);
        assert!(
            cut.ends_with('…') && text_width(&cut, FONT) <= 100.0,
            "{cut}"
        );
        for width in [0.0, -5.0, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(fit("label", width, FONT), "…", "{width}");
        }
        assert_eq!(fit("label", f64::INFINITY, FONT), "label");
    }

    #[test]
    fn within_never_panics() {
        for (v, lo, hi, want) in [
            (5.0, 0.0, 10.0, 5.0),
            (-1.0, 0.0, 10.0, 0.0),
            (11.0, 0.0, 10.0, 10.0),
            (5.0, 10.0, 0.0, 10.0),
            (f64::NAN, 1.0, 2.0, 1.0),
            (f64::INFINITY, 1.0, 2.0, 2.0),
            (f64::NEG_INFINITY, 1.0, 2.0, 1.0),
            (3.0, f64::NAN, 2.0, f64::NAN),
        ] {
            let got = within(v, lo, hi);
            assert!(
                got == want || (got.is_nan() && want.is_nan()),
                "within({v}, {lo}, {hi}) = {got}, want {want}"
            );
        }
    }
}
