//! Horizontal bar charts: one bar per row with reference marks and, where a value has a spread
//! (rounds), an error bar from its lowest to its highest value ([`hbar_chart`]); or one stacked
//! bar per row split by category ([`stacked_hbar_chart`]).
//!
//! Input: a [`Frame`], rows of labelled values, the x axis' label. Output: a whole `<svg>`.
//! Row labels longer than 40% of the width are cut with `…` (the tooltip keeps them whole).
//! Must not panic or print `NaN` on any value: a bar that cannot be measured has no length.

use std::fmt::Write;

use super::legend::{LegendKey, legend};
use super::scale::tick_text;
use super::style::{Fill, Style};
use super::{Axis, FONT, Frame, WIDTH, bar_x_axis, esc, fit, open, text_width, within};

const ROW: f64 = 26.0;
const BAR: f64 = 16.0;

pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Printed after the bar.
    pub text: String,
    pub tip: String,
    pub style: Style,
    /// Drawn with an outline and a bold label (the fastest cell).
    pub strong: bool,
    /// The lowest and highest value behind `value` (its rounds): an error bar across the bar's
    /// end. Left out when either end is not a finite number.
    pub range: Option<(f64, f64)>,
}

impl Bar {
    /// The error bar's ends, when both are finite numbers, lowest first.
    fn whisker(&self) -> Option<(f64, f64)> {
        let (a, b) = self.range?;
        (a.is_finite() && b.is_finite()).then_some(if a <= b { (a, b) } else { (b, a) })
    }
}

/// A labelled vertical line across the bars at `value`.
pub struct RefMark {
    pub value: f64,
    pub label: String,
}

pub struct HBarChart<'a> {
    /// Of the coordinate system: narrower charts are drawn larger in a narrow column.
    pub width: f64,
    pub x_label: &'a str,
    /// Appended to tick labels (`×`).
    pub unit: &'a str,
    pub bars: Vec<Bar>,
    pub refs: Vec<RefMark>,
    /// Said instead of bars when there are none.
    pub empty: &'a str,
}

/// Left margin for row labels, at most 40% of the width; longer labels are cut with `…`.
fn label_margin<'a>(labels: impl Iterator<Item = &'a str>, width: f64) -> f64 {
    let w = labels.map(|l| text_width(l, FONT)).fold(0.0, f64::max);
    8.0 + w.min(width * 0.4) + 10.0
}

/// The widest of `texts`, printed after the bars.
fn widest<'a>(texts: impl Iterator<Item = &'a str>) -> f64 {
    texts.map(|t| text_width(t, FONT)).fold(0.0, f64::max)
}

pub fn hbar_chart(f: &Frame, c: &HBarChart) -> String {
    let width = c.width;
    let left = label_margin(c.bars.iter().map(|b| b.label.as_str()), width);
    let right = widest(c.bars.iter().map(|b| b.text.as_str())) + 14.0;
    let pw = (width - left - right).max(80.0);
    let max = c
        .bars
        .iter()
        .flat_map(|b| [Some(b.value), b.whisker().map(|w| w.1)])
        .flatten()
        .chain(c.refs.iter().map(|r| r.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let unit = c.unit;
    let axis = Axis::linear(c.x_label.into(), max, 5, &|v, step| {
        format!("{}{unit}", tick_text(v, step))
    });
    // Reference labels go in rows above the bars, a new row whenever two would touch.
    let mut rows_used: Vec<f64> = Vec::new();
    let mut placed = Vec::new();
    let mut refs: Vec<&RefMark> = c.refs.iter().collect();
    refs.sort_by(|a, b| a.value.total_cmp(&b.value));
    for r in refs {
        let x = left + axis.t(r.value) * pw;
        let w = text_width(&r.label, FONT);
        let lx = within(x - w / 2.0, 4.0, width - w - 4.0);
        let row = match rows_used.iter().position(|end| lx > end + 8.0) {
            Some(i) => i,
            None => {
                rows_used.push(f64::NEG_INFINITY);
                rows_used.len() - 1
            }
        };
        if let Some(end) = rows_used.get_mut(row) {
            *end = lx + w;
        }
        placed.push((x, lx, row, r));
    }
    let top = 34.0 + rows_used.len() as f64 * 16.0;
    let bottom = top + (c.bars.len().max(1) as f64) * ROW;
    let height = bottom + 46.0;
    let mut out = String::with_capacity(2048);
    open(&mut out, f, (width, height));
    bar_x_axis(&mut out, &axis, (left, pw), (top, bottom), width);
    // Writing into a String cannot fail.
    if c.bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#57606a">{}</text>"##,
            left + 6.0,
            top + 17.0,
            esc(c.empty)
        );
    }
    for (i, b) in c.bars.iter().enumerate() {
        let y = top + i as f64 * ROW + (ROW - BAR) / 2.0;
        let w = axis.t(b.value) * pw;
        let weight = if b.strong {
            r#" font-weight="700""#
        } else {
            ""
        };
        let outline = if b.strong {
            r##" stroke="#1b1f24" stroke-width="2""##
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<g class="bar"><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24"{weight}>{}</text><rect x="{left:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{}"{outline}><title>{}</title></rect>"##,
            left - 8.0,
            y + BAR - 4.0,
            esc(&fit(&b.label, left - 18.0, FONT)),
            b.style.colour,
            esc(&b.tip),
        );
        let mut end = left + w;
        if let Some((lo, hi)) = b.whisker() {
            let (x1, x2) = (left + axis.t(lo) * pw, left + axis.t(hi) * pw);
            let (cy, cap) = (y + BAR / 2.0, BAR / 2.0 + 2.0);
            // Dark over the bar, light around it: the whisker reads on any fill and on white.
            let _ = write!(
                out,
                r##"<g class="error-bar" stroke-width="1.5"><title>{}</title><path d="M{x1:.1} {:.1}V{:.1}M{x1:.1} {cy:.1}H{x2:.1}M{x2:.1} {:.1}V{:.1}" stroke="#fff" stroke-width="4" fill="none"/><path d="M{x1:.1} {:.1}V{:.1}M{x1:.1} {cy:.1}H{x2:.1}M{x2:.1} {:.1}V{:.1}" stroke="#1b1f24" fill="none"/></g>"##,
                esc(&b.tip),
                cy - cap,
                cy + cap,
                cy - cap,
                cy + cap,
                cy - cap,
                cy + cap,
                cy - cap,
                cy + cap,
            );
            end = end.max(x2);
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24"{weight}>{}</text></g>"##,
            end + 6.0,
            y + BAR - 4.0,
            esc(&b.text),
        );
    }
    for (x, lx, row, r) in placed {
        let ly = 34.0 + row as f64 * 16.0 + 10.0;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#1b1f24" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{lx:.1}" y="{ly:.1}" fill="#1b1f24">{}</text>"##,
            // From the plot's top: a line through the label rows could cross another label.
            top - 2.0,
            esc(&r.label)
        );
    }
    out.push_str("</svg>");
    out
}

pub struct StackRow {
    pub label: String,
    /// Key index, value, tooltip.
    pub segments: Vec<(usize, f64, String)>,
    pub text: String,
}

/// What the x axis of a stacked chart measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackUnit {
    /// Whole counts (errors, responses): no tick reads `0.2`.
    Count,
    /// Microseconds, labelled in µs, ms or s, whichever reads best.
    Micros,
}

pub struct StackChart<'a> {
    pub x_label: &'a str,
    pub unit: StackUnit,
    pub rows: Vec<StackRow>,
    /// The categories: legend text and fill.
    pub keys: Vec<(String, Fill)>,
}

pub fn stacked_hbar_chart(f: &Frame, c: &StackChart) -> String {
    let width = WIDTH;
    let left = label_margin(c.rows.iter().map(|r| r.label.as_str()), width);
    let text_w = widest(c.rows.iter().map(|r| r.text.as_str()));
    let pw = (width - left - text_w - 14.0).max(80.0);
    let total = |r: &StackRow| -> f64 {
        r.segments
            .iter()
            .map(|s| s.1)
            .filter(|v| v.is_finite() && *v > 0.0)
            .sum()
    };
    let max = c.rows.iter().map(total).fold(0.0, f64::max);
    let axis = match c.unit {
        StackUnit::Count => Axis::count(c.x_label, max),
        StackUnit::Micros => Axis::latency(c.x_label, max, 5),
    };
    let top = 34.0;
    let bottom = top + c.rows.len().max(1) as f64 * ROW;
    let id = esc(f.id);
    let entries: Vec<(String, LegendKey)> = c
        .keys
        .iter()
        .enumerate()
        .map(|(i, (name, fill))| (name.clone(), LegendKey::Fill(fill.paint(&id, i))))
        .collect();
    let (legend_svg, legend_h) = legend(&entries, 8.0, bottom + 44.0, width - 16.0);
    let height = bottom + 44.0 + legend_h + 6.0;
    let mut out = String::with_capacity(2048);
    open(&mut out, f, (width, height));
    out.push_str("<defs>");
    for (i, (_, fill)) in c.keys.iter().enumerate() {
        out.push_str(&fill.def(&id, i));
    }
    out.push_str("</defs>");
    bar_x_axis(&mut out, &axis, (left, pw), (top, bottom), width);
    for (i, r) in c.rows.iter().enumerate() {
        let y = top + i as f64 * ROW + (ROW - BAR) / 2.0;
        let _ = write!(
            out,
            r##"<g class="bar"><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24">{}</text>"##,
            left - 8.0,
            y + BAR - 4.0,
            esc(&fit(&r.label, left - 18.0, FONT))
        );
        let mut x = left;
        for (key, v, tip) in &r.segments {
            let w = axis.t(*v) * pw;
            let paint = c
                .keys
                .get(*key)
                .map_or_else(|| "#777".to_string(), |(_, f)| f.paint(&id, *key));
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{paint}" stroke="#fff" stroke-width="1"><title>{}</title></rect>"##,
                esc(tip)
            );
            x += w;
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text></g>"##,
            x + 6.0,
            y + BAR - 4.0,
            esc(&r.text)
        );
    }
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::style::Pattern;

    use crate::report::chart::ODD;

    fn frame() -> Frame<'static> {
        Frame {
            id: "b<",
            class: "chart-test",
            title: "T",
            about: "A",
        }
    }

    fn sane(svg: &str) {
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }

    #[test]
    fn bars_take_any_value() {
        for v in ODD {
            for r in ODD {
                let chart = HBarChart {
                    width: 520.0,
                    x_label: "speedup",
                    unit: "×",
                    bars: ODD
                        .iter()
                        .enumerate()
                        .map(|(i, b)| Bar {
                            label: format!("bar {i}"),
                            value: *b,
                            text: "text".into(),
                            tip: "t".into(),
                            style: Style::series(1, 0),
                            strong: *b == v,
                            range: Some((r, *b)),
                        })
                        .collect(),
                    refs: vec![
                        RefMark {
                            value: r,
                            label: "x".repeat(400),
                        },
                        RefMark {
                            value: v,
                            label: "ref".into(),
                        },
                    ],
                    empty: "none",
                };
                let svg = hbar_chart(&frame(), &chart);
                sane(&svg);
                assert_eq!(svg.matches(r#"<g class="bar">"#).count(), ODD.len());
            }
        }
        let empty = HBarChart {
            width: 520.0,
            x_label: "x",
            unit: "",
            bars: Vec::new(),
            refs: Vec::new(),
            empty: "no data here",
        };
        assert!(hbar_chart(&frame(), &empty).contains(">no data here</text>"));
    }

    #[test]
    fn error_bars_span_their_range_and_widen_the_axis() {
        let bar = |value: f64, range: Option<(f64, f64)>| Bar {
            label: "threads".into(),
            value,
            text: "1.90×".into(),
            tip: "rounds: 1.7×, 1.9×, 2.4×".into(),
            style: Style::series(1, 0),
            strong: false,
            range,
        };
        let chart = |bars: Vec<Bar>| {
            hbar_chart(
                &frame(),
                &HBarChart {
                    width: 520.0,
                    x_label: "speedup",
                    unit: "×",
                    bars,
                    refs: Vec::new(),
                    empty: "none",
                },
            )
        };
        // Upside down is read lowest first; the axis reaches the highest round.
        let svg = chart(vec![bar(1.9, Some((2.4, 1.7)))]);
        assert_eq!(svg.matches(r#"<g class="error-bar""#).count(), 1, "{svg}");
        assert!(svg.contains(">2.5×</text>"), "{svg}");
        let ends: Vec<f64> = svg
            .split(r#"<g class="error-bar""#)
            .nth(1)
            .and_then(|g| g.split(" d=\"M").nth(2))
            .map(|d| {
                d.split(['M', 'H', 'V', ' ', '"'])
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // M x1 top V bottom M x1 cy H x2 M x2 top V bottom: x1 < x2.
        assert!(ends.len() >= 8 && ends[0] < ends[5], "{ends:?}");
        // No range, or a range that is not a number: no error bar.
        for range in [None, Some((f64::NAN, 2.0)), Some((1.0, f64::INFINITY))] {
            let svg = chart(vec![bar(1.9, range)]);
            assert!(!svg.contains("error-bar"), "{range:?}");
            sane(&svg);
        }
    }

    #[test]
    fn stacks_take_any_value() {
        for v in ODD {
            let chart = StackChart {
                x_label: "errors",
                unit: if v > 0.0 {
                    StackUnit::Micros
                } else {
                    StackUnit::Count
                },
                rows: vec![
                    StackRow {
                        label: "a".repeat(300),
                        segments: vec![
                            (0, v, "t".into()),
                            (1, 2.0, "u".into()),
                            (9, v, "?".into()),
                        ],
                        text: "n".into(),
                    },
                    StackRow {
                        label: "b".into(),
                        segments: Vec::new(),
                        text: String::new(),
                    },
                ],
                keys: vec![("x".into(), Fill::nth(0)), ("y".into(), Fill::nth(1))],
            };
            let svg = stacked_hbar_chart(&frame(), &chart);
            sane(&svg);
            // Ids are escaped where they are defined and where they are used.
            assert!(svg.contains(r#"<pattern id="b&lt;-k1""#) && svg.contains("url(#b&lt;-k1)"));
            assert_eq!(Fill::nth(1).pattern, Pattern::Hatch);
        }
    }
}
