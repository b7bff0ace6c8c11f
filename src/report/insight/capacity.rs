//! A capacity search in words: the rate found with its bracket and why the search stopped, and
//! one row per probe, for the console, `summary.md` and the HTML report alike.
//!
//! Input: a cell's [`CapacitySummary`]. Output: text. No markup, no I/O.

use crate::stats::{CapacityProbe, CapacityStop, CapacitySummary};
use crate::units;

/// `400/s keeps p99 < 50ms (bracket 400–406/s, precision 3%; 9 probes; stopped: the SLO broke
/// above it)`, or why there is no capacity.
pub fn headline(c: &CapacitySummary) -> String {
    let slo = c.slo.join(", ");
    let probes = units::count(c.probes.len(), "probe");
    let bracket = match (c.good_per_s, c.bad_per_s) {
        (Some(g), Some(b)) => format!("bracket {}–{}/s", rate(g), rate(b)),
        (Some(g), None) => format!("at least {}/s", rate(g)),
        (None, Some(b)) => format!("below {}/s", rate(b)),
        (None, None) => "no bracket".into(),
    };
    match (c.capacity_per_s, c.stopped) {
        (Some(x), _) => format!(
            "capacity {}/s keeps {slo} ({bracket}, precision {}%; {probes}; {})",
            rate(x),
            (c.precision * 1000.0).round() / 10.0,
            stop_words(c.stopped)
        ),
        (None, stop) => format!(
            "no capacity for {slo}: {} ({bracket}; {probes})",
            stop_words(stop)
        ),
    }
}

/// Why the search stopped, in words.
pub fn stop_words(s: CapacityStop) -> &'static str {
    match s {
        CapacityStop::SloBroken => "the SLO broke just above it",
        CapacityStop::Ceiling => "the ceiling `to` kept the SLO: the capacity is at least that",
        CapacityStop::GeneratorLimited => "INVALID: the generator, not the target, limited a probe",
        CapacityStop::BrokenAtStart => "the first rate `from` already broke the SLO",
        CapacityStop::Interrupted => "interrupted before it finished",
        CapacityStop::ProbeLimit => "the probe limit was reached before the bracket closed",
    }
}

/// The columns of [`probe_row`].
pub const PROBE_HEADER: [&str; 8] = [
    "rate/s",
    "achieved/s",
    "p50",
    "p99",
    "p99 target",
    "errors",
    "dropped",
    "verdict",
];

/// One probe as table cells, in the order of [`PROBE_HEADER`].
pub fn probe_row(p: &CapacityProbe) -> [String; 8] {
    let verdict = if p.kept {
        "kept".to_string()
    } else if p.generator_limited {
        format!("generator-limited: {}", p.broken.join(", "))
    } else {
        format!("broke {}", p.broken.join(", "))
    };
    [
        rate(p.rate_per_s),
        rate(p.achieved_per_s),
        units::micros(p.p50_us),
        units::micros(p.p99_us),
        units::micros(p.p99_uncorrected_us),
        p.errors.to_string(),
        p.dropped.to_string(),
        verdict,
    ]
}

/// A rate without needless decimals.
fn rate(x: f64) -> String {
    units::number(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rate: f64, kept: bool) -> CapacityProbe {
        CapacityProbe {
            rate_per_s: rate,
            hold_seconds: 2.0,
            achieved_per_s: rate,
            operations: 800,
            errors: 0,
            error_rate: 0.0,
            dropped: 0,
            p50_us: 10_000,
            p99_us: if kept { 12_000 } else { 90_000 },
            p99_uncorrected_us: 11_000,
            cores_busy: 0.1,
            kept,
            generator_limited: false,
            broken: if kept {
                Vec::new()
            } else {
                vec!["p99 < 50ms (measured 90.0ms)".into()]
            },
        }
    }

    fn search(capacity: Option<f64>, stopped: CapacityStop) -> CapacitySummary {
        CapacitySummary {
            slo: vec!["p99 < 50ms".into()],
            capacity_per_s: capacity,
            good_per_s: Some(400.0),
            bad_per_s: Some(406.25),
            from_per_s: 200.0,
            to_per_s: 1000.0,
            precision: 0.03,
            stopped,
            probes: vec![probe(400.0, true), probe(406.25, false)],
            shown_probe: 0,
        }
    }

    #[test]
    fn the_headline_says_the_rate_its_bracket_and_why_it_stopped() {
        let table = [
            (
                search(Some(400.0), CapacityStop::SloBroken),
                "capacity 400/s keeps p99 < 50ms (bracket 400–406/s, precision 3%; 2 probes; the SLO broke just above it)",
            ),
            (
                search(None, CapacityStop::GeneratorLimited),
                "no capacity for p99 < 50ms: INVALID: the generator, not the target, limited a probe (bracket 400–406/s; 2 probes)",
            ),
        ];
        for (c, want) in table {
            assert_eq!(headline(&c), want);
        }
    }

    #[test]
    fn a_probe_row_says_what_broke() {
        let row = probe_row(&probe(406.25, false));
        assert_eq!(row[0], "406");
        assert_eq!(row[7], "broke p99 < 50ms (measured 90.0ms)");
        assert_eq!(probe_row(&probe(400.0, true))[7], "kept");
    }
}
