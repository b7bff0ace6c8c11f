//! Thresholds over time: a windowed threshold (`p99 over 1m < 300ms`) holds when every window of
//! that length during the cell holds; a drift threshold (`drift(p99) < 10%/h`) bounds the fitted
//! slope of a latency over the run.
//!
//! Input: the threshold and the cell's summary (its per-second timeline, shards and rounds
//! merged). Output: a [`ThresholdResult`] whose observed value is the worst window's figure (or
//! the drift), whose text names the first window that broke it, and whose `windows` lists where
//! it broke (the report shades those spans on the timeline). Must not do I/O.

use super::result;
use crate::plan::Threshold;
use crate::plan::threshold::{Metric, Op};
use crate::stats::window::{Window, drift, each_window};
use crate::stats::{CellSummary, Span, ThresholdResult, WindowOutcome};
use crate::units;

/// True for the thresholds this file checks rather than `gate::check`.
pub fn is_timed(t: &Threshold) -> bool {
    t.over.is_some() || matches!(t.metric, Metric::Drift(_))
}

/// Checks a windowed or drift threshold on one cell.
pub fn check(t: &Threshold, c: &CellSummary) -> ThresholdResult {
    match (t.metric, t.over) {
        (Metric::Drift(stat), _) => {
            let fitted = drift(&c.timeline, stat);
            let (observed, text) = match fitted {
                Ok(Some(d)) => (Some(d), per_hour(d)),
                Ok(None) if c.operations == 0 => (None, "no operations were measured".into()),
                Ok(None) => (
                    None,
                    "too few seconds with latencies to fit a drift (at least 3)".into(),
                ),
                Err(e) => (None, format!("the timeline's histograms do not read: {e}")),
            };
            result(t, observed, "fraction_per_h", text, None)
        }
        (_, Some(len)) => windowed(t, c, len),
        // `is_timed` sends nothing else here.
        (_, None) => result(t, None, "us", "not a windowed threshold".into(), None),
    }
}

fn windowed(t: &Threshold, c: &CellSummary, len: u32) -> ThresholdResult {
    let unit = match t.metric {
        Metric::ErrorRate => "fraction",
        Metric::Throughput => "per_s",
        _ => "us",
    };
    let figure = |w: &Window| match t.metric {
        Metric::Latency(stat) => w.latency(stat),
        Metric::ErrorRate => w.error_rate(),
        Metric::Throughput => w.throughput(),
        Metric::Speedup(_) | Metric::Drift(_) | Metric::Capacity => None,
    };
    // The worst window: the highest figure against `<`, the lowest against `>`.
    let worse = |a: f64, b: f64| match t.op {
        Op::Lt | Op::Le => a > b,
        Op::Gt | Op::Ge => a < b,
    };
    let mut worst: Option<(f64, u32, u32)> = None;
    let mut breaches: Vec<Span> = Vec::new();
    let mut first: Option<Span> = None;
    let checked = each_window(&c.timeline, len, |w| {
        let Some(v) = figure(w) else { return };
        if worst.is_none_or(|(x, _, _)| worse(v, x)) {
            worst = Some((v, w.from_s, w.to_s));
        }
        if t.op.holds(v, t.limit) {
            return;
        }
        let span = Span {
            from_s: w.from_s,
            to_s: w.to_s,
            worst: v,
        };
        first.get_or_insert(span);
        match breaches.last_mut() {
            Some(last) if w.from_s <= last.to_s => {
                last.to_s = last.to_s.max(w.to_s);
                if worse(v, last.worst) {
                    last.worst = v;
                }
            }
            _ => breaches.push(span),
        }
    });
    let text = |v: f64| value_text(v, unit);
    let checked_count = checked.as_ref().map_or(0, |n| *n);
    let (observed, observed_text) = match (checked, worst) {
        (Err(e), _) => (None, format!("the timeline's histograms do not read: {e}")),
        (Ok(_), None) if c.operations == 0 => (None, "no operations were measured".into()),
        (Ok(_), None) if c.timeline.iter().all(|p| p.histogram.is_empty()) => (
            None,
            "the summary keeps no per-second histograms to check windows with".into(),
        ),
        (Ok(_), None) => (None, "no window had a figure".into()),
        (Ok(_), Some((v, from, to))) => (
            Some(v),
            match first {
                Some(f) => format!(
                    "{} in {}, the first window of {} that broke it (worst {} in {}); broken {}",
                    text(f.worst),
                    seconds(f.from_s, f.to_s),
                    window_text(len),
                    text(v),
                    seconds(from, to),
                    breaches
                        .iter()
                        .map(|b| seconds(b.from_s, b.to_s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!(
                    "{} at worst, in {} (every window of {} held)",
                    text(v),
                    seconds(from, to),
                    window_text(len)
                ),
            },
        ),
    };
    let outcome = WindowOutcome {
        seconds: len,
        checked: checked_count,
        first_breach: first,
        breaches,
    };
    result(t, observed, unit, observed_text, Some(outcome))
}

/// `8–10 s`: seconds since the cell's measured start.
pub fn seconds(from: u32, to: u32) -> String {
    format!("{from}–{to} s")
}

/// `2 s`, `1 min`, `90 s`, `1 h`: a window's length as a plan would write it.
pub fn window_text(len: u32) -> String {
    match len {
        l if l % 3600 == 0 => format!("{} h", l / 3600),
        l if l % 60 == 0 => format!("{} min", l / 60),
        l => format!("{l} s"),
    }
}

/// `+12.5%/h`.
pub fn per_hour(v: f64) -> String {
    format!("{:+.1}%/h", v * 100.0)
}

fn value_text(v: f64, unit: &str) -> String {
    match unit {
        "us" => units::micros(v.max(0.0).round() as u64),
        "fraction" => units::percent(v),
        "per_s" => format!("{}/s", units::number(v)),
        _ => units::number(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::threshold::parse;

    use crate::stats::window::tests::second;

    /// 20 s at 1 ms, slow (200 ms, few operations, some failing) from second 8 to 12.
    fn cell() -> CellSummary {
        let mut c = CellSummary::empty(crate::plan::Model::Async, 2, 1);
        c.timeline = (0..20)
            .map(|s| match s {
                8..12 => second(s, 5, 200_000, 1),
                _ => second(s, 1000, 1_000, 0),
            })
            .collect();
        c.operations = c.timeline.iter().map(|p| p.operations).sum();
        c
    }

    #[test]
    fn names_the_first_breaking_window_and_where_it_broke() {
        type Want = (
            bool,
            Option<(u32, u32)>,
            &'static [(u32, u32)],
            &'static str,
        );
        let cases: [(&str, Want); 5] = [
            (
                "p99 over 2s < 50ms",
                (
                    false,
                    Some((8, 10)),
                    &[(8, 12)],
                    "in 8–10 s, the first window",
                ),
            ),
            (
                "p99 over 20s < 50ms",
                (true, None, &[], "every window of 20 s held"),
            ),
            (
                "error_rate over 2s < 0.05%",
                (false, Some((7, 9)), &[(7, 13)], "broken 7–13 s"),
            ),
            (
                "throughput over 4s > 100/s",
                (false, Some((8, 12)), &[(8, 12)], "first window of 4 s"),
            ),
            (
                "max over 1m < 1s",
                (
                    true,
                    None,
                    &[],
                    "at worst, in 0–20 s (every window of 1 min held)",
                ),
            ),
        ];
        let c = cell();
        for (text, (passed, first, spans, words)) in cases {
            let t = parse(text).expect("parses");
            assert!(is_timed(&t));
            let r = check(&t, &c);
            let w = r.windows.as_ref().expect("windows");
            assert_eq!(r.passed, passed, "{text}: {}", r.observed_text);
            assert_eq!(w.first_breach.map(|s| (s.from_s, s.to_s)), first, "{text}");
            let got: Vec<(u32, u32)> = w.breaches.iter().map(|s| (s.from_s, s.to_s)).collect();
            assert_eq!(got, spans, "{text}");
            assert!(
                r.observed_text.contains(words),
                "{text}: {}",
                r.observed_text
            );
        }
    }

    #[test]
    fn drift_and_cells_without_figures() {
        let mut c = cell();
        let r = check(&parse("drift(p99) < 10%/h").expect("parses"), &c);
        assert_eq!((r.unit.as_str(), r.windows), ("fraction_per_h", None));
        assert!(r.observed.is_some(), "{}", r.observed_text);
        c.timeline.iter_mut().for_each(|p| p.histogram.clear());
        let r = check(&parse("p99 over 2s < 1s").expect("parses"), &c);
        assert!(!r.passed);
        assert!(
            r.observed_text.contains("no per-second histograms"),
            "{}",
            r.observed_text
        );
        let r = check(
            &parse("drift(p99) < 1%/h").expect("parses"),
            &CellSummary::empty(crate::plan::Model::Async, 2, 1),
        );
        assert_eq!(r.observed_text, "no operations were measured");
    }
}
