//! Axes: where a value sits along a chart, and the round ticks that label it.
//!
//! Input: the data's extent (any `f64`, or Unix seconds for time). Output: an [`Axis`]: its
//! domain, whether it is logarithmic, and its ticks with their labels. Kinds: linear from zero
//! (plain numbers, counts, latencies in µs/ms/s, any scaled unit), given ticks on a linear or a
//! log domain (a concurrency sweep), the percentile axis (log of 1/(1−p)) and time (UTC).
//! Must not panic or loop without end on any input: NaN, ±∞, zero, negatives and values near
//! `f64::MAX` give a usable domain, and no axis has more than a few dozen ticks.

use std::cmp::Ordering;

/// One axis of a chart. `ticks` are (value, label) inside `min..=max`.
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub log: bool,
    pub ticks: Vec<(f64, String)>,
}

/// No axis gets more ticks than this, whatever the data.
const MAX_TICKS: usize = 40;

impl Axis {
    /// Position of `v` from 0 (min) to 1 (max), clamped; 0 for a value or a domain that cannot
    /// be placed.
    pub fn t(&self, v: f64) -> f64 {
        let f = |v: f64| if self.log { v.max(1e-12).log10() } else { v };
        let (a, b) = (f(self.min), f(self.max));
        if b.partial_cmp(&a) != Some(Ordering::Greater) || !v.is_finite() {
            return 0.0;
        }
        let mut t = (f(v) - a) / (b - a);
        if !(b - a).is_finite() {
            // A domain wider than f64 can hold (−MAX to MAX): measure it in halves.
            t = (f(v) / 2.0 - a / 2.0) / (b / 2.0 - a / 2.0);
        }
        if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) }
    }

    /// From 0 to a round top at or above `max`, about `intervals` round steps, each tick
    /// labelled by `show(value, step)`. A `max` that is not a positive number gives 0 to 1.
    pub fn linear(
        label: String,
        max: f64,
        intervals: usize,
        show: &dyn Fn(f64, f64) -> String,
    ) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let intervals = intervals.clamp(1, MAX_TICKS);
        let step = nice_step(max, intervals as f64);
        let top = (max / step).ceil() * step;
        let ticks: Vec<(f64, String)> = if top.is_finite() {
            let n = ((top / step).round() as usize).min(MAX_TICKS);
            (0..=n)
                .map(|i| {
                    let v = step * i as f64;
                    (v, show(v, step))
                })
                .collect()
        } else {
            // Rounding up overflowed (a value near f64::MAX): the top is the value itself.
            let step = max / intervals as f64;
            (0..=intervals)
                .map(|i| {
                    let v = max * (i as f64 / intervals as f64);
                    (v, show(v, step))
                })
                .collect()
        };
        Axis {
            label,
            min: 0.0,
            max: if top.is_finite() { top } else { max },
            log: false,
            ticks,
        }
    }

    /// Plain numbers from 0, five round steps.
    pub fn number(label: &str, max: f64) -> Axis {
        Axis::linear(label.into(), max, 5, &tick_text)
    }

    /// Whole counts from 0: steps of at least 1, so no tick reads `0.2 errors`.
    pub fn count(label: &str, max: f64) -> Axis {
        if max.is_nan() || max < 5.0 {
            // Up to 5: one tick per whole count (0 and 1 when there is nothing to count).
            let top = if max >= 1.0 { max.ceil() } else { 1.0 };
            return Axis {
                label: label.into(),
                min: 0.0,
                max: top,
                log: false,
                ticks: (0..=top as usize)
                    .map(|i| (i as f64, i.to_string()))
                    .collect(),
            };
        }
        // An infinite count (a sum that overflowed) reads as the largest number there is.
        Axis::number(label, max.min(f64::MAX))
    }

    /// Values in one unit labelled in another: ticks sit at raw values, read `raw × factor`
    /// (µs shown as ms: factor 1e-3; a fraction shown in %: factor 100).
    pub fn scaled(label: String, max_raw: f64, factor: f64, intervals: usize) -> Axis {
        let usable = |f: f64| f.is_finite() && f > 0.0 && (1.0 / f).is_finite();
        let factor = if usable(factor) { factor } else { 1.0 };
        let a = Axis::linear(label, max_raw * factor, intervals, &tick_text);
        a.rescaled(1.0 / factor)
    }

    /// A latency axis over microseconds, labelled in µs, ms or s, whichever reads best at
    /// `max_us`: `what (ms)`.
    pub fn latency(what: &str, max_us: f64, intervals: usize) -> Axis {
        let (unit, div) = if max_us >= 2e6 {
            ("s", 1e6)
        } else if max_us >= 2e3 {
            ("ms", 1e3)
        } else {
            ("µs", 1.0)
        };
        let label = format!("{what} ({unit})");
        Axis::linear(label, max_us / div, intervals, &tick_text).rescaled(div)
    }

    /// The same axis with its domain and tick positions multiplied by `div`, its labels kept;
    /// what would overflow is cut at `f64::MAX`.
    fn rescaled(mut self, div: f64) -> Axis {
        self.max *= div;
        for t in &mut self.ticks {
            t.0 *= div;
        }
        if !self.max.is_finite() {
            self.max = f64::MAX;
            self.ticks.retain(|t| t.0.is_finite());
        }
        self
    }

    /// The percentile axis of a latency spectrum: position `decade_of(p)`, from 0 (p0) to
    /// `decades` (90% is 1, 99% is 2, 99.9% is 3…). Values given to [`Axis::t`] are positions,
    /// already passed through [`decade_of`], so that the maximum (p = 1) can sit at the end.
    pub fn percentile(label: &str, decades: u32) -> Axis {
        let decades = decades.clamp(1, 15);
        Axis {
            label: label.into(),
            min: 0.0,
            max: f64::from(decades),
            log: false,
            ticks: (0..=decades)
                .map(|d| (f64::from(d), percentile_label(d)))
                .collect(),
        }
    }

    /// Unix seconds across `times`, padded, with ticks at steps a reader counts in (seconds to
    /// years) labelled in UTC; `what` names the axis: `what, 2026-05-01 (UTC)` when every tick
    /// falls on one day, `what (UTC)` otherwise. One instant gets an hour either side.
    pub fn time(what: &str, times: &[f64]) -> Axis {
        // Times beyond the years jiff holds (±9999) cannot be labelled: they sit at its ends.
        let (first, last) = (
            jiff::Timestamp::MIN.as_second() as f64,
            jiff::Timestamp::MAX.as_second() as f64,
        );
        let finite = || {
            times
                .iter()
                .filter(|t| t.is_finite())
                .map(move |t| t.clamp(first, last))
        };
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 0.0)
        };
        let span = hi - lo;
        // Padding keeps the first and last points off the axes.
        let pad = if span > 0.0 { span * 0.04 } else { 3600.0 };
        let (d0, d1) = (lo - pad, hi + pad);
        let max_ticks = 6.0;
        let step = TIME_STEPS
            .iter()
            .copied()
            .find(|s| (d1 - d0) / s <= max_ticks)
            .unwrap_or_else(|| YEAR * nice((d1 - d0) / YEAR / max_ticks));
        let same_day = utc(d0, "%Y-%m-%d") == utc(d1, "%Y-%m-%d");
        let format = if step >= DAY {
            "%Y-%m-%d"
        } else if !same_day {
            "%m-%d %H:%M"
        } else if step < 60.0 {
            "%H:%M:%S"
        } else {
            "%H:%M"
        };
        let mut ticks = Vec::new();
        let mut t = (d0 / step).ceil() * step;
        // Counted: a step too small to move `t` at this magnitude must not loop forever.
        while t <= d1 && ticks.len() < 12 {
            ticks.push((t, utc(t, format)));
            t += step;
        }
        let label = if step < DAY && same_day {
            format!("{what}, {} (UTC)", utc(lo, "%Y-%m-%d"))
        } else {
            format!("{what} (UTC)")
        };
        Axis {
            label,
            min: d0,
            max: d1,
            log: false,
            ticks,
        }
    }
}

const DAY: f64 = 86_400.0;
const YEAR: f64 = 31_536_000.0;

/// Time steps a reader can count in: seconds to a year.
const TIME_STEPS: [f64; 24] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0, 43200.0, DAY, 172800.0, 604800.0, 1209600.0, 2592000.0, 7776000.0, YEAR,
];

/// Unix seconds in UTC through a strftime `format`; empty beyond the years jiff holds.
fn utc(secs: f64, format: &str) -> String {
    // `as i64` saturates (and maps NaN to 0); `from_second` refuses what it cannot hold.
    jiff::Timestamp::from_second(secs.floor() as i64)
        .ok()
        .and_then(|t| jiff::fmt::strtime::format(format, t).ok())
        .unwrap_or_default()
}

/// 1, 2, 2.5 or 5 × 10^k: a tick step giving about `n` intervals up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    nice((max / n).max(f64::MIN_POSITIVE))
}

/// The smallest of 1, 2, 2.5, 5 or 10 × 10^k that is at least `raw` (1 for no usable value).
pub fn nice(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    let v = nice * mag;
    // 10 × 10^308 overflows: the largest finite step is still a step.
    if v.is_finite() { v } else { f64::MAX }
}

/// A tick value with as many decimals as its step needs (`0.25`, `40`, `7.5`, `0.002`), no
/// trailing zeros; in scientific notation (`1.8e308`) when plain digits would not fit.
pub fn tick_text(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let exp = step.log10().floor();
    // A step of 2.5 × 10^e needs one more digit than 10^e: 0.25, 2.5; but 25 and 250 need none.
    let extra = if (step / 10f64.powf(exp) - 2.5).abs() < 1e-9 {
        1.0
    } else {
        0.0
    };
    let decimals = (extra - exp).max(0.0);
    if v.abs() >= 1e12 || decimals > 9.0 {
        let s = format!("{v:.2e}");
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            None => s,
        };
    }
    let s = format!("{v:.*}", decimals as usize);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" { "0".into() } else { s.into() }
}

/// log10(1/(1−q)): where percentile q sits on the percentile axis (p99 at 2, p99.9 at 3).
pub fn decade_of(q: f64) -> f64 {
    (1.0 / (1.0 - q)).log10()
}

/// `0%`, `90%`, `99%`, `99.9%`… for decade d.
pub fn percentile_label(d: u32) -> String {
    match d {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        _ => format!("99.{}%", "9".repeat(d as usize - 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::chart::ODD;

    /// What every axis must satisfy: a forward domain, ticks inside it, few of them, labels
    /// that are short and say no NaN.
    fn check(a: &Axis, what: &str) {
        assert!(a.min.is_finite() && a.max.is_finite(), "{what}: {a:?}");
        assert!(a.max > a.min, "{what}: {a:?}");
        assert!(
            !a.ticks.is_empty() && a.ticks.len() <= MAX_TICKS + 1,
            "{what}"
        );
        for (v, label) in &a.ticks {
            assert!(v.is_finite(), "{what}: tick {v}");
            assert!(*v >= a.min && *v <= a.max, "{what}: tick {v} outside {a:?}");
            assert!(label.chars().count() <= 24, "{what}: label {label}");
            assert!(
                !label.contains("NaN") && !label.contains("inf"),
                "{what}: {label}"
            );
        }
        for v in ODD {
            let t = a.t(v);
            assert!((0.0..=1.0).contains(&t), "{what}: t({v}) = {t}");
        }
    }

    #[test]
    fn every_axis_takes_any_number() {
        for v in ODD {
            check(&Axis::number("n", v), &format!("number {v}"));
            check(&Axis::count("c", v), &format!("count {v}"));
            check(&Axis::latency("l", v, 5), &format!("latency {v}"));
            check(
                &Axis::scaled("%".into(), v, 100.0, 4),
                &format!("scaled {v}"),
            );
            check(&Axis::scaled("x".into(), 1.0, v, 4), &format!("factor {v}"));
            check(&Axis::time("t", &[v]), &format!("time {v}"));
            check(&Axis::time("t", &[v, 1.7e9]), &format!("time {v} and now"));
            for n in [0usize, 1, 4, usize::MAX] {
                check(
                    &Axis::linear("x".into(), v, n, &tick_text),
                    &format!("{n} of {v}"),
                );
            }
        }
        check(&Axis::time("t", &[]), "no time");
        for d in [0, 1, 3, 6, u32::MAX] {
            check(&Axis::percentile("p", d), &format!("percentile {d}"));
        }
    }

    #[test]
    fn a_given_domain_that_is_not_forward_places_everything_at_its_start() {
        for (min, max, log) in [
            (1.0, 1.0, false),
            (2.0, 1.0, false),
            (f64::NAN, 1.0, false),
            (0.0, f64::NAN, true),
            (5.0, 5.0, true),
            (f64::NEG_INFINITY, f64::INFINITY, false),
        ] {
            let a = Axis {
                label: String::new(),
                min,
                max,
                log,
                ticks: Vec::new(),
            };
            for v in ODD {
                let t = a.t(v);
                assert!((0.0..=1.0).contains(&t), "{min}..{max}: t({v}) = {t}");
            }
        }
        let wide = Axis {
            label: String::new(),
            min: f64::MIN,
            max: f64::MAX,
            log: false,
            ticks: Vec::new(),
        };
        assert!((wide.t(0.0) - 0.5).abs() < 1e-9);
        let log = Axis {
            label: String::new(),
            min: 1.0,
            max: 100.0,
            log: true,
            ticks: Vec::new(),
        };
        assert!((log.t(10.0) - 0.5).abs() < 1e-9);
        assert_eq!(log.t(-3.0), 0.0);
    }

    #[test]
    fn nice_steps() {
        for (max, step) in [
            (1.0, 0.2),
            (7.0, 2.0),
            (10.0, 2.0),
            (12.0, 2.5),
            (300.0, 100.0),
            (0.05, 0.01),
        ] {
            let got = nice_step(max, 5.0);
            assert!(
                (got - step).abs() < 1e-9,
                "max {max}: step {got}, want {step}"
            );
        }
        assert_eq!(nice(f64::MAX), f64::MAX);
        assert_eq!(nice(f64::NAN), 1.0);
    }

    /// Four steps from zero, as the trend page draws them: (top, step).
    fn four(max: f64) -> (f64, f64) {
        let a = Axis::linear(String::new(), max, 4, &tick_text);
        let step = a.ticks.get(1).map_or(0.0, |t| t.0);
        (a.max, step)
    }

    #[test]
    fn nice_axes() {
        assert_eq!(four(0.0), (1.0, 0.25));
        assert_eq!(four(13.0), (15.0, 5.0));
        assert_eq!(four(98.0), (100.0, 25.0));
        assert_eq!(four(f64::NAN), (1.0, 0.25));
        assert_eq!(four(f64::MAX), (f64::MAX, f64::MAX / 4.0));
        assert_eq!(tick_text(0.25, 0.25), "0.25");
        assert_eq!(tick_text(40.0, 20.0), "40");
        assert_eq!(tick_text(7.5, 2.5), "7.5");
        assert_eq!(tick_text(750.0, 250.0), "750");
        assert_eq!(tick_text(75.0, 25.0), "75");
        assert_eq!(tick_text(0.5, 0.5), "0.5");
        assert_eq!(tick_text(0.002, 0.001), "0.002");
        assert_eq!(tick_text(5.0, 2.5), "5");
        assert_eq!(tick_text(f64::MAX, f64::MAX / 4.0), "1.8e308");
        assert_eq!(tick_text(-0.0, 1.0), "0");
    }

    #[test]
    fn counts_step_in_whole_numbers() {
        let a = Axis::count("errors", 1.0);
        assert!(a.ticks.iter().all(|(v, _)| v.fract() == 0.0), "{a:?}");
    }

    #[test]
    fn latency_axes_pick_a_unit() {
        assert_eq!(Axis::latency("p99", 900.0, 5).label, "p99 (µs)");
        assert_eq!(Axis::latency("p99", 52_000.0, 5).label, "p99 (ms)");
        let s = Axis::latency("p99", 3e6, 5);
        assert_eq!(s.label, "p99 (s)");
        assert!(s.ticks.iter().any(|(v, l)| *v == 1e6 && l == "1"), "{s:?}");
        let pct = Axis::scaled("rate (%)".into(), 0.05, 100.0, 4);
        assert!(
            pct.ticks
                .iter()
                .any(|(v, l)| (*v - 0.02).abs() < 1e-12 && l == "2"),
            "{pct:?}"
        );
    }

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = (0..=5).map(percentile_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert!((decade_of(0.999) - 3.0).abs() < 1e-9);
    }

    fn at(s: &str) -> f64 {
        s.parse::<jiff::Timestamp>()
            .expect("a constant time")
            .as_second() as f64
    }

    #[test]
    fn time_axis_picks_readable_ticks() {
        let day = 86400.0;
        let t0 = at("2026-05-01T02:00:00Z");
        let nights: Vec<f64> = (0..10).map(|i| t0 + i as f64 * day).collect();
        let a = Axis::time("run started", &nights);
        assert!((2..=7).contains(&a.ticks.len()), "{:?}", a.ticks);
        assert!(
            a.ticks
                .iter()
                .all(|t| t.1.len() == 10 && t.1.starts_with("2026-05-")),
            "{:?}",
            a.ticks
        );
        assert_eq!(a.label, "run started (UTC)");

        let minutes: Vec<f64> = (0..10).map(|i| t0 + i as f64 * 60.0).collect();
        let a = Axis::time("run started", &minutes);
        assert!(
            a.ticks.iter().all(|t| t.1.len() == 5 && t.1.contains(':')),
            "{:?}",
            a.ticks
        );
        assert_eq!(a.label, "run started, 2026-05-01 (UTC)");

        // One run: an hour either side, never a zero-width axis.
        let a = Axis::time("run started", &[t0]);
        assert!(a.max - a.min >= 7200.0 && !a.ticks.is_empty());
        // Before 1970 is a time like any other.
        let a = Axis::time("run started", &[at("1969-07-20T20:17:00Z")]);
        assert!(a.ticks.iter().any(|t| t.1 == "20:00"), "{:?}", a.ticks);
    }
}
