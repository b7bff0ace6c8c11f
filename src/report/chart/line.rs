//! Line charts: series of (x, y) over two axes, with marked points, horizontal reference lines
//! and vertical rules.
//!
//! Input: a [`Frame`] and a [`Plot`] (axes already chosen, see `scale.rs`). Output: a whole
//! `<svg>` ([`line_chart`]: title inside, legend below), or only the plot's markup
//! ([`Plot::draw`]) for a page that writes its own `<svg>` element. Must not panic or print
//! `NaN`: points that cannot be placed are left out, and a plot with none says so.

use std::fmt::Write;

use super::legend::{LegendKey, legend};
use super::style::{Marker, Style, marker};
use super::{FONT, Frame, WIDTH, esc, open, text_width, x_tick_labels};
use crate::report::chart::Axis;

/// Height of the plotting area of a full line chart.
const PLOT_HEIGHT: f64 = 210.0;
/// Beyond this many points a series gets markers (and tooltips) on every k-th point only.
const MAX_MARKERS: usize = 60;

pub struct Point {
    pub x: f64,
    pub y: f64,
    pub tip: String,
    /// Drawn in a shape of its own inside a group a page can style; never thinned out.
    pub tag: Option<Tag>,
}

impl Point {
    pub fn new(x: f64, y: f64, tip: String) -> Point {
        Point {
            x,
            y,
            tip,
            tag: None,
        }
    }
}

/// A point that stands for something of its own (a run on the trend page).
pub struct Tag {
    /// The group's `class`.
    pub class: String,
    /// `data-*` attributes of the group: name (without `data-`) and value.
    pub data: Vec<(&'static str, String)>,
    pub marker: Marker,
    pub colour: &'static str,
}

pub struct Series {
    pub label: String,
    pub style: Style,
    /// The drawn line, in data coordinates.
    pub line: Vec<(f64, f64)>,
    /// Marked points, each with a tooltip.
    pub points: Vec<Point>,
}

/// A vertical line through the whole plot at `at`, with a tooltip.
pub struct Rule {
    pub at: f64,
    pub class: String,
    pub colour: &'static str,
    pub dash: &'static str,
    pub tip: String,
}

/// A stretch of the x axis shaded through the whole plot (where a windowed threshold broke),
/// drawn under the series, with a tooltip.
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub class: String,
    pub colour: &'static str,
    pub tip: String,
}

pub struct Plot<'a> {
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Horizontal reference lines: value and label.
    pub hlines: Vec<(f64, String)>,
    pub rules: Vec<Rule>,
    /// Shaded stretches of the x axis, under everything else.
    pub bands: Vec<Band>,
    /// Said in the middle of a plot with nothing to draw.
    pub empty: &'a str,
}

/// The plot's box inside the chart's coordinate system.
struct Area {
    left: f64,
    top: f64,
    pw: f64,
    ph: f64,
}

impl Area {
    fn bottom(&self) -> f64 {
        self.top + self.ph
    }
}

/// A whole chart: the frame's title at the top, the plot, its legend below, [`WIDTH`] wide.
pub fn line_chart(f: &Frame, p: &Plot) -> String {
    line_chart_sized(f, p, WIDTH)
}

/// [`line_chart`] `width` pixels wide: [`PAGE_WIDTH`](super::PAGE_WIDTH) for a chart that has
/// the page's width to itself (a time axis, a spectrum), its text still [`FONT`] pixels.
pub fn line_chart_sized(f: &Frame, p: &Plot, width: f64) -> String {
    let width = if width.is_finite() && width >= WIDTH {
        width
    } else {
        WIDTH
    };
    let top = 36.0;
    let bottom = top + PLOT_HEIGHT;
    let entries: Vec<(String, LegendKey)> = p
        .series
        .iter()
        .map(|s| (s.label.clone(), LegendKey::Line(s.style)))
        .collect();
    let (legend_svg, legend_h) = legend(&entries, 8.0, bottom + 46.0, width - 16.0);
    let height = bottom + 46.0 + legend_h + 6.0;
    let mut out = String::with_capacity(4096);
    open(&mut out, f, (width, height));
    out.push_str(&p.draw(width, top, PLOT_HEIGHT));
    out.push_str(&legend_svg);
    out.push_str("</svg>");
    out
}

impl<'a> Plot<'a> {
    /// A plot of `series` alone: no reference lines, rules or shaded stretches; `empty` said
    /// when there is nothing to draw.
    pub fn new(x: Axis, y: Axis, series: Vec<Series>, empty: &'a str) -> Plot<'a> {
        Plot {
            x,
            y,
            series,
            hlines: Vec::new(),
            rules: Vec::new(),
            bands: Vec::new(),
            empty,
        }
    }

    /// Height of a chart whose plot starts at `top` and is `plot_height` high, with room below
    /// for the x axis' ticks and label (and no legend): for a page that draws its own `<svg>`.
    pub fn height(top: f64, plot_height: f64) -> f64 {
        top + plot_height + 52.0
    }

    /// Grid, axes, reference lines, rules and series, in a chart `width` wide, the plot from
    /// `top` down `plot_height`; the left margin fits the y tick labels.
    pub fn draw(&self, width: f64, top: f64, plot_height: f64) -> String {
        let ytick_w = self
            .y
            .ticks
            .iter()
            .map(|(_, t)| text_width(t, FONT))
            .fold(0.0, f64::max);
        let left = 8.0 + 16.0 + 8.0 + ytick_w + 6.0;
        let right = 18.0;
        let a = Area {
            left,
            top,
            // A narrow chart with very long tick labels still gets a plot to draw in.
            pw: (width - left - right).max(40.0),
            ph: plot_height,
        };
        let mut out = String::with_capacity(4096);
        self.bands(&mut out, &a);
        self.grid(&mut out, &a, width);
        self.references(&mut out, &a);
        let px = |v: f64| a.left + self.x.t(v) * a.pw;
        let py = |v: f64| a.bottom() - self.y.t(v) * a.ph;
        let drawable = self
            .series
            .iter()
            .any(|s| s.line.iter().any(|(x, y)| x.is_finite() && y.is_finite()));
        if !drawable {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#57606a">{}</text>"##,
                a.left + a.pw / 2.0,
                a.top + a.ph / 2.0,
                esc(self.empty)
            );
        }
        for s in &self.series {
            let pts: Vec<String> = s
                .line
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let _ = write!(
                out,
                r#"<g class="series"><polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}" stroke-linejoin="round"><title>{}</title></polyline>"#,
                pts.join(" "),
                s.style.colour,
                s.style.dash,
                esc(&s.label)
            );
            let every = s.points.len().div_ceil(MAX_MARKERS).max(1);
            let last = s.points.len().saturating_sub(1);
            for (i, p) in s.points.iter().enumerate() {
                let thinned = i % every != 0 && i != last && p.tag.is_none();
                if thinned || !p.x.is_finite() || !p.y.is_finite() {
                    continue;
                }
                let at = (px(p.x), py(p.y));
                match &p.tag {
                    None => marker(&mut out, s.style.marker, s.style.colour, at, &p.tip),
                    Some(t) => {
                        let _ = write!(out, r#"<g class="{}""#, esc(&t.class));
                        for (name, value) in &t.data {
                            let _ = write!(out, r#" data-{name}="{}""#, esc(value));
                        }
                        out.push('>');
                        marker(&mut out, t.marker, t.colour, at, &p.tip);
                        out.push_str("</g>");
                    }
                }
            }
            out.push_str("</g>");
        }
        out
    }

    /// The y grid with its labels, the plot's border, the x ticks and both axis labels.
    fn grid(&self, out: &mut String, a: &Area, width: f64) {
        let bottom = a.bottom();
        for (v, text) in &self.y.ticks {
            let y = bottom - self.y.t(*v) * a.ph;
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e8eb"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#57606a">{}</text>"##,
                a.left,
                a.left + a.pw,
                a.left - 6.0,
                y + 4.0,
                esc(text)
            );
        }
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#8c959f"/>"##,
            a.left, a.top, a.pw, a.ph
        );
        x_tick_labels(out, &self.x, a.left, a.pw, bottom + 18.0, width);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1b1f24">{}</text><text transform="rotate(-90)" x="{:.1}" y="18" text-anchor="middle" fill="#1b1f24">{}</text>"##,
            a.left + a.pw / 2.0,
            bottom + 36.0,
            esc(&self.x.label),
            -(a.top + a.ph / 2.0),
            esc(&self.y.label)
        );
    }

    /// The shaded stretches, clipped to the plot; a stretch outside it is left out.
    fn bands(&self, out: &mut String, a: &Area) {
        for b in &self.bands {
            if !(b.from.is_finite() && b.to.is_finite()) {
                continue;
            }
            let x0 = a.left + self.x.t(b.from).clamp(0.0, 1.0) * a.pw;
            let x1 = a.left + self.x.t(b.to).clamp(0.0, 1.0) * a.pw;
            if !(x0.is_finite() && x1.is_finite()) || x1 <= x0 {
                continue;
            }
            let _ = write!(
                out,
                r#"<rect class="{}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.18"><title>{}</title></rect>"#,
                esc(&b.class),
                a.top,
                x1 - x0,
                a.ph,
                b.colour,
                esc(&b.tip)
            );
        }
    }

    /// Horizontal reference lines with their labels, then vertical rules.
    fn references(&self, out: &mut String, a: &Area) {
        let right = a.left + a.pw;
        for (v, text) in &self.hlines {
            let y = a.bottom() - self.y.t(*v) * a.ph;
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#444" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#1b1f24" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
                a.left,
                right - 4.0,
                // Below the line near the top, above it elsewhere: stays inside the plot.
                if y < a.top + 16.0 { y + 14.0 } else { y - 5.0 },
                esc(text)
            );
        }
        for r in &self.rules {
            let x = a.left + self.x.t(r.at) * a.pw;
            let _ = write!(
                out,
                r#"<line class="{}" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="{}"><title>{}</title></line>"#,
                esc(&r.class),
                a.top,
                a.bottom(),
                r.colour,
                r.dash,
                esc(&r.tip)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::scale::tick_text;

    use crate::report::chart::ODD;

    fn frame() -> Frame<'static> {
        Frame {
            id: "t",
            class: "chart-test",
            title: "T",
            about: "a <test>",
        }
    }

    fn series(points: &[(f64, f64)]) -> Series {
        Series {
            label: "s".into(),
            style: Style::series(1, 0),
            line: points.to_vec(),
            points: points
                .iter()
                .map(|(x, y)| Point::new(*x, *y, format!("{x}, {y}")))
                .collect(),
        }
    }

    fn plot(x: Axis, y: Axis, series: Vec<Series>) -> Plot<'static> {
        Plot {
            x,
            y,
            series,
            hlines: vec![(f64::NAN, "nan line".into()), (1e308, "far".into())],
            bands: Vec::new(),
            rules: vec![Rule {
                at: f64::INFINITY,
                class: "rule".into(),
                colour: "#000",
                dash: "",
                tip: "r".into(),
            }],
            empty: "no data",
        }
    }

    /// Every coordinate in `svg` is a number.
    fn sane(svg: &str) {
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn any_numbers_draw_a_chart() {
        for a in ODD {
            for b in ODD {
                let x = Axis::number("x", a.max(b));
                let y = Axis::latency("y", b, 5);
                let pts: Vec<(f64, f64)> = ODD.iter().map(|v| (*v, a)).collect();
                let svg = line_chart(&frame(), &plot(x, y, vec![series(&pts), series(&[(a, b)])]));
                sane(&svg);
                assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
                // Both series are drawn whatever the values.
                assert_eq!(svg.matches("<polyline").count(), 2);
            }
        }
    }

    #[test]
    fn nothing_to_draw_says_so() {
        let p = plot(Axis::number("x", 0.0), Axis::number("y", 0.0), Vec::new());
        assert!(line_chart(&frame(), &p).contains(">no data</text>"));
        let p = plot(
            Axis::number("x", 1.0),
            Axis::number("y", 1.0),
            vec![series(&[(f64::NAN, 1.0)])],
        );
        assert!(line_chart(&frame(), &p).contains(">no data</text>"));
        // Text is escaped.
        assert!(line_chart(&frame(), &p).contains("a &lt;test&gt;"));
    }

    #[test]
    fn many_points_are_thinned_but_tagged_points_never() {
        let pts: Vec<(f64, f64)> = (0..600).map(|i| (f64::from(i), 1.0)).collect();
        let mut s = series(&pts);
        let svg = line_chart(
            &frame(),
            &plot(Axis::number("x", 600.0), Axis::number("y", 2.0), vec![s]),
        );
        assert!(svg.matches("<rect x=").count() < 70, "thinned");
        s = series(&pts);
        for p in &mut s.points {
            p.tag = Some(Tag {
                class: "point".into(),
                data: vec![("run", "r\"1".into())],
                marker: Marker::Cross,
                colour: "#f00",
            });
        }
        let p = plot(Axis::number("x", 600.0), Axis::number("y", 2.0), vec![s]);
        let body = p.draw(560.0, 12.0, 190.0);
        assert_eq!(
            body.matches(r#"<g class="point" data-run="r&quot;1">"#)
                .count(),
            600
        );
        assert_eq!(body.matches(r#"<line class="rule""#).count(), 1);
        assert!(Plot::height(12.0, 190.0) > 190.0);
    }

    #[test]
    fn long_tick_labels_keep_a_plot() {
        let y = Axis::linear("y".into(), 1.0, 4, &|v, s| {
            format!("{}{}", "x".repeat(200), tick_text(v, s))
        });
        let p = plot(Axis::number("x", 1.0), y, vec![series(&[(0.5, 0.5)])]);
        sane(&line_chart(&frame(), &p));
    }
}
