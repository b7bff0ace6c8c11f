//! Legend rows under a chart: a line sample with its marker, or a filled swatch, and the text.
//!
//! Input: entries and the box to fill. Output: the markup and the height it took. Must not
//! overflow the box sideways: entries wrap to a new row, overlong text is cut with `…`.

use std::fmt::Write;

use super::style::{Style, marker};
use super::{FONT, esc, fit, text_width};

pub enum LegendKey {
    Line(Style),
    /// A `fill` value: a colour or a pattern reference.
    Fill(String),
}

/// Lays out legend entries in rows from (x0, y0) across `width`; returns the markup and its
/// height.
pub fn legend(entries: &[(String, LegendKey)], x0: f64, y0: f64, width: f64) -> (String, f64) {
    const ROW: f64 = 18.0;
    const SAMPLE: f64 = 30.0;
    let mut out = String::from(r#"<g class="legend">"#);
    let (mut x, mut y) = (x0, y0);
    for (text, key) in entries {
        let text = fit(text, width - SAMPLE - 6.0, FONT);
        let w = SAMPLE + 6.0 + text_width(&text, FONT) + 16.0;
        if x > x0 && x + w > x0 + width {
            x = x0;
            y += ROW;
        }
        let mid = y + ROW / 2.0;
        // Writing into a String cannot fail.
        match key {
            LegendKey::Line(s) => {
                let _ = write!(
                    out,
                    r#"<line x1="{x:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"#,
                    x + SAMPLE,
                    s.colour,
                    s.dash
                );
                marker(&mut out, s.marker, s.colour, (x + SAMPLE / 2.0, mid), &text);
            }
            LegendKey::Fill(paint) => {
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{SAMPLE}" height="11" fill="{paint}" stroke="#1b1f24" stroke-width=".5"/>"##,
                    mid - 5.5
                );
            }
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text>"##,
            x + SAMPLE + 6.0,
            mid + 4.0,
            esc(&text)
        );
        x += w;
    }
    out.push_str("</g>");
    (out, y + ROW - y0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::style::Marker;

    fn line(text: &str) -> (String, LegendKey) {
        let style = Style {
            colour: "#000",
            dash: "",
            marker: Marker::Circle,
        };
        (text.to_string(), LegendKey::Line(style))
    }

    #[test]
    fn entries_wrap_into_rows() {
        let (_, one) = legend(&[line("a")], 0.0, 0.0, 600.0);
        let many: Vec<_> = (0..30).map(|i| line(&format!("series {i}"))).collect();
        let (svg, tall) = legend(&many, 0.0, 0.0, 600.0);
        assert_eq!(one, 18.0);
        assert!(tall > 4.0 * one, "{tall}");
        assert_eq!(svg.matches("<text").count(), 30);
    }

    #[test]
    fn odd_boxes_still_lay_out() {
        for width in [0.0, -10.0, f64::NAN, 1e308] {
            let (svg, h) = legend(&[line(&"x".repeat(500)), line("b")], 0.0, 0.0, width);
            assert!(svg.ends_with("</g>") && h.is_finite(), "{width}: {h}");
        }
        assert_eq!(legend(&[], 0.0, 0.0, 100.0).0, r#"<g class="legend"></g>"#);
    }
}
