//! How series and segments look: colour, dash, marker shape, fill pattern.
//!
//! Input: an index (the n-th series or category). Output: a style, and the markup of a marker or
//! a pattern. The colour alone is never the only difference between two series (greyscale
//! printing, colour-blind readers). Must not know what the series mean.

use std::fmt::Write;

use super::esc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Ring,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
    Marker::Ring,
];

/// Okabe–Ito colours (distinct for colour-blind readers; a dark grey for black).
const COLOURS: [&str; 8] = [
    "#444444", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#b8a300",
];

/// Dash patterns, paired with the colours so that no two of the first
/// [`DISTINCT_FAMILIES`] families look alike even in greyscale.
const DASHES: [&str; 4] = ["", "9 4", "2 3", "12 3 3 3"];

/// Families (one per model, say) drawn with a (colour, dash) pair of their own: every
/// colour with every dash. Past it, pairs repeat, but markers still tell series apart.
pub const DISTINCT_FAMILIES: usize = COLOURS.len() * DASHES.len();

/// How one series is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: &'static str,
    pub dash: &'static str,
    pub marker: Marker,
}

impl Style {
    /// The `family`-th colour and dash, with a marker that changes with the family and the
    /// series' `rank` within it (the cells of one model share a colour, not a marker).
    pub fn series(family: usize, rank: usize) -> Style {
        // Colour by family; the dash moves on one more each time the colours come round, so
        // family f and f + 8k (k < 4) differ in dash.
        let colour = COLOURS[family % COLOURS.len()];
        let turn = family % DISTINCT_FAMILIES / COLOURS.len();
        let dash = DASHES[(turn + family % DASHES.len()) % DASHES.len()];
        Style {
            colour,
            dash,
            marker: MARKERS[family.wrapping_add(rank) % MARKERS.len()],
        }
    }
}

/// Draws marker `m` centred on (x, y) with tooltip `tip`.
pub fn marker(out: &mut String, m: Marker, colour: &str, (x, y): (f64, f64), tip: &str) {
    let tip = esc(tip);
    // Writing into a String cannot fail.
    let _ = match m {
        Marker::Circle => write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"><title>{tip}</title></circle>"#
        ),
        Marker::Square => write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{colour}"><title>{tip}</title></rect>"#,
            x - 3.5,
            y - 3.5
        ),
        Marker::Triangle => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{colour}"><title>{tip}</title></path>"#,
            y - 4.5,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        Marker::Diamond => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{colour}"><title>{tip}</title></path>"#,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        Marker::Cross => write!(
            out,
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{colour}" stroke-width="2.2" fill="none"><title>{tip}</title></path>"#,
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
        Marker::Ring => write!(
            out,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#fff" stroke="{colour}" stroke-width="2"><title>{tip}</title></circle>"##
        ),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Solid,
    Hatch,
    Cross,
    Dots,
    Stripes,
}

/// How a stacked segment is filled: a colour and a pattern that reads in greyscale.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    pub colour: &'static str,
    pub pattern: Pattern,
}

impl Fill {
    /// The fill of the `i`-th category of a breakdown: warm colours first, each with a pattern.
    pub fn nth(i: usize) -> Fill {
        const FILLS: [Fill; 5] = [
            Fill {
                colour: "#d55e00",
                pattern: Pattern::Solid,
            },
            Fill {
                colour: "#cc79a7",
                pattern: Pattern::Hatch,
            },
            Fill {
                colour: "#e69f00",
                pattern: Pattern::Dots,
            },
            Fill {
                colour: "#0072b2",
                pattern: Pattern::Cross,
            },
            Fill {
                colour: "#555555",
                pattern: Pattern::Stripes,
            },
        ];
        FILLS[i % FILLS.len()]
    }

    /// The `fill` attribute of key `key` of chart `chart` (an escaped id).
    pub(super) fn paint(&self, chart: &str, key: usize) -> String {
        match self.pattern {
            Pattern::Solid => self.colour.to_string(),
            _ => format!("url(#{chart}-k{key})"),
        }
    }

    /// The `<pattern>` that [`Fill::paint`] refers to; nothing for a solid fill.
    pub(super) fn def(&self, chart: &str, key: usize) -> String {
        let inner = match self.pattern {
            Pattern::Solid => return String::new(),
            Pattern::Hatch => {
                r##"<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/>"##
            }
            Pattern::Cross => {
                r##"<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="1.5"/><line x1="0" y1="3" x2="6" y2="3" stroke="#fff" stroke-width="1.5"/>"##
            }
            Pattern::Dots => r##"<circle cx="3" cy="3" r="1.4" fill="#fff"/>"##,
            Pattern::Stripes => {
                r##"<line x1="0" y1="1.5" x2="6" y2="1.5" stroke="#fff" stroke-width="1.5"/>"##
            }
        };
        let rotate = match self.pattern {
            Pattern::Hatch | Pattern::Cross => r#" patternTransform="rotate(45)""#,
            _ => "",
        };
        format!(
            r#"<pattern id="{chart}-k{key}" width="6" height="6" patternUnits="userSpaceOnUse"{rotate}><rect width="6" height="6" fill="{}"/>{inner}</pattern>"#,
            self.colour
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_differ_by_more_than_colour() {
        let a = Style::series(1, 0);
        let b = Style::series(2, 0);
        assert_ne!(a.colour, b.colour);
        assert_ne!(a.dash, b.dash);
        assert_ne!(a.marker, b.marker);
        // Every family below DISTINCT_FAMILIES has its own colour and dash.
        let mut seen = std::collections::HashSet::new();
        for f in 0..DISTINCT_FAMILIES {
            let s = Style::series(f, 0);
            assert!(seen.insert((s.colour, s.dash)), "family {f} repeats {s:?}");
        }
        // Any index is valid, however large.
        let _ = Style::series(usize::MAX, usize::MAX);
        let _ = Fill::nth(usize::MAX);
    }

    #[test]
    fn markers_escape_their_tooltips_and_survive_odd_positions() {
        for m in MARKERS {
            let mut out = String::new();
            marker(&mut out, m, "#000", (f64::NAN, f64::INFINITY), "<b>");
            assert!(out.contains("<title>&lt;b&gt;</title>"), "{m:?}: {out}");
        }
    }

    #[test]
    fn patterns_are_defined_where_painted() {
        for i in 0..5 {
            let f = Fill::nth(i);
            let paint = f.paint("c", i);
            let def = f.def("c", i);
            if f.pattern == Pattern::Solid {
                assert!(def.is_empty() && paint.starts_with('#'));
            } else {
                assert!(
                    def.contains(&format!(r#"id="c-k{i}""#)) && paint == format!("url(#c-k{i})")
                );
            }
        }
    }
}
