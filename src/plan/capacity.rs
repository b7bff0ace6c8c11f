//! A capacity search, resolved: `capacity: {slo, from, to, hold, precision}`.
//!
//! Input: the plan's SLO expressions (parsed as thresholds) and its rates. Output: a
//! [`CapacitySearch`] the run stage steps through, and the rule that judges one probe's figures
//! against the SLO ([`Slo::holds`]). It must not run anything: the search itself is
//! `run/capacity.rs`.
//!
//! An SLO is a latency bound (`p99 < 300ms`, any of the latency statistics thresholds know,
//! judged on the latency corrected for coordinated omission) or an error bound
//! (`error_rate < 1%`); the search looks for the highest arrival rate at which every one holds.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::threshold::{Metric, Op, Stat, Threshold};

/// How close the bracket must get when the plan does not say: 5 % of the last good rate.
pub const DEFAULT_PRECISION: f64 = 0.05;
/// How long each probe is measured when the plan does not say.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(10);
/// The geometric step while looking for the first rate that breaks the SLO.
pub const STEP: f64 = 2.0;
/// A probe is extended until it has at least this many operations per "tail" of its strictest
/// quantile (3 / (1 − q): 300 for p99), so that the quantile is read from more than one sample.
pub const TAIL_SAMPLES: f64 = 3.0;
/// No search runs more probes than this (a safety net: the bisection needs far fewer).
pub const MAX_PROBES: usize = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySearch {
    pub slo: Vec<Slo>,
    /// Arrivals per second of the first probe.
    pub from: f64,
    /// The ceiling: no probe asks more.
    pub to: f64,
    /// How long each probe is measured, its warm-up excluded.
    pub hold: Duration,
    /// The search stops when (first bad − last good) ÷ last good is at most this.
    pub precision: f64,
    /// Operations outstanding at most in each probe (as `max_in_flight` of an open model).
    pub max_in_flight: NonZeroUsize,
}

/// One objective of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// As written, shown in every output.
    pub text: String,
    pub kind: SloKind,
    /// `<=` rather than `<`.
    pub inclusive: bool,
    /// µs for a latency, a fraction for an error rate.
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SloKind {
    /// The latency at this quantile (0 = min, 1 = max); `None`: the mean.
    Latency(Option<f64>),
    ErrorRate,
}

/// What a probe measured, as the SLO reads it.
pub trait ProbeFigures {
    /// Corrected latency at quantile `q` (`None`: the mean), µs.
    fn latency_us(&self, q: Option<f64>) -> f64;
    fn error_rate(&self) -> f64;
}

impl Slo {
    /// Turns a threshold into an objective: a latency of the operations or an error rate,
    /// bounded from above, for every model; anything else is refused with the reason.
    pub fn from_threshold(t: &Threshold) -> Result<Slo, String> {
        let bad = |why: &str| Err(format!("slo `{}`: {why}", t.text));
        if t.model.is_some() || t.phase.is_some() || t.request.is_some() || t.category.is_some() {
            return bad("an objective of the search covers the whole cell: remove the `{…}`");
        }
        if t.over.is_some() {
            return bad("a probe is judged as a whole: remove `over`");
        }
        let inclusive = match t.op {
            Op::Lt => false,
            Op::Le => true,
            Op::Gt | Op::Ge => {
                return bad("an objective is an upper bound: use `<` or `<=`");
            }
        };
        let kind = match t.metric {
            Metric::Latency(stat) => SloKind::Latency(quantile(stat)),
            Metric::ErrorRate => SloKind::ErrorRate,
            Metric::Throughput | Metric::Speedup(_) | Metric::Capacity => {
                return bad("the search finds the throughput: bound a latency or the error rate");
            }
            Metric::Drift(_) => {
                return bad(
                    "a drift is fitted over a whole run: a probe is judged by its own figures",
                );
            }
        };
        Ok(Slo {
            text: t.text.clone(),
            kind,
            inclusive,
            limit: t.limit,
        })
    }

    /// The measured value this objective reads.
    pub fn observed(&self, f: &dyn ProbeFigures) -> f64 {
        match self.kind {
            SloKind::Latency(q) => f.latency_us(q),
            SloKind::ErrorRate => f.error_rate(),
        }
    }

    pub fn holds(&self, f: &dyn ProbeFigures) -> bool {
        let v = self.observed(f);
        if self.inclusive {
            v <= self.limit
        } else {
            v < self.limit
        }
    }
}

impl CapacitySearch {
    /// The strictest latency quantile any objective reads (below 1), for the probe length.
    pub fn tail_quantile(&self) -> Option<f64> {
        self.slo
            .iter()
            .filter_map(|s| match s.kind {
                SloKind::Latency(Some(q)) if q < 1.0 => Some(q),
                _ => None,
            })
            .max_by(f64::total_cmp)
    }

    /// How long a probe at `rate` is measured: the hold, or longer when the hold would give
    /// fewer than [`TAIL_SAMPLES`] operations beyond the strictest quantile.
    pub fn probe_hold(&self, rate: f64) -> Duration {
        let Some(q) = self.tail_quantile() else {
            return self.hold;
        };
        let need = TAIL_SAMPLES / (1.0 - q).max(1e-6);
        let secs = need / rate.max(1e-6);
        if secs.is_finite() && secs > self.hold.as_secs_f64() && secs < 24.0 * 3600.0 {
            // Whole milliseconds, rounded up: float noise must not shorten a probe.
            Duration::from_millis((secs * 1000.0 - 1e-6).ceil() as u64)
        } else {
            self.hold
        }
    }
}

/// The quantile a latency statistic reads; `None` for the mean.
fn quantile(stat: Stat) -> Option<f64> {
    match stat {
        Stat::Min => Some(0.0),
        Stat::Mean => None,
        Stat::P50 => Some(0.5),
        Stat::P90 => Some(0.9),
        Stat::P99 => Some(0.99),
        Stat::P999 => Some(0.999),
        Stat::Max => Some(1.0),
        Stat::Quantile(ppm) => Some(f64::from(ppm) / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::threshold::parse;

    struct Fig {
        p99: f64,
        errors: f64,
    }

    impl ProbeFigures for Fig {
        fn latency_us(&self, q: Option<f64>) -> f64 {
            match q {
                Some(q) if q >= 0.99 => self.p99,
                _ => self.p99 / 2.0,
            }
        }
        fn error_rate(&self) -> f64 {
            self.errors
        }
    }

    fn slo(text: &str) -> Result<Slo, String> {
        Slo::from_threshold(&parse(text).map_err(|e| e.to_string())?)
    }

    #[test]
    fn objectives_are_upper_bounds_on_latency_or_errors() {
        let table = [
            ("p99 < 50ms", true),
            ("p50 <= 10ms", true),
            ("mean < 10ms", true),
            ("error_rate < 1%", true),
            ("p99 > 50ms", false),
            ("throughput > 100/s", false),
            ("speedup(async) > 2", false),
            ("p99{threads} < 50ms", false),
            ("p99{phase=tls} < 50ms", false),
        ];
        for (text, ok) in table {
            assert_eq!(slo(text).is_ok(), ok, "{text}: {:?}", slo(text));
        }
    }

    #[test]
    fn a_probe_is_judged_on_every_objective() {
        let p99 = slo("p99 < 50ms").expect("parses");
        let p99_le = slo("p99 <= 50ms").expect("parses");
        let errors = slo("error_rate < 1%").expect("parses");
        let table = [
            (49_000.0, 0.0, true, true, true),
            (50_000.0, 0.0, false, true, true),
            (51_000.0, 0.0, false, false, true),
            (10_000.0, 0.01, true, true, false),
            (10_000.0, 0.009, true, true, true),
        ];
        for (p, e, lt, le, err) in table {
            let f = Fig { p99: p, errors: e };
            assert_eq!(p99.holds(&f), lt, "{p} <");
            assert_eq!(p99_le.holds(&f), le, "{p} <=");
            assert_eq!(errors.holds(&f), err, "{e}");
        }
    }

    #[test]
    fn probes_last_long_enough_for_their_quantile() {
        let search = |texts: &[&str]| CapacitySearch {
            slo: texts.iter().map(|t| slo(t).expect("parses")).collect(),
            from: 50.0,
            to: 5000.0,
            hold: Duration::from_secs(2),
            precision: DEFAULT_PRECISION,
            max_in_flight: NonZeroUsize::MIN,
        };
        // p99 needs 300 operations: 6 s at 50/s, the hold at 500/s.
        let s = search(&["p99 < 50ms"]);
        assert_eq!(s.probe_hold(50.0), Duration::from_secs(6));
        assert_eq!(s.probe_hold(500.0), Duration::from_secs(2));
        // The error rate alone or the max need no tail.
        assert_eq!(
            search(&["error_rate < 1%", "max < 1s"]).probe_hold(1.0),
            Duration::from_secs(2)
        );
        // p99.9 is stricter than p50.
        assert_eq!(
            search(&["p50 < 1s", "p999 < 1s"]).tail_quantile(),
            Some(0.999)
        );
    }
}
