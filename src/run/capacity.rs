//! The capacity search: the highest arrival rate at which the target keeps the SLO.
//!
//! Input: a cell whose load is `capacity:` ([`CapacitySearch`]). Output: one [`CellResult`]
//! whose figures are those of the probe at the rate found, with the whole search beside them
//! ([`CapacitySummary`]: every probe, the bracket, why it stopped). It must not judge the run:
//! the gate does, from the summary.
//!
//! Each probe is an open-model run of the cell on its own host (so the search runs under every
//! model, and a shard takes its share of every probe's arrivals): `warmup` (the scenario's, or a
//! fifth of the hold) at the probe's rate, unmeasured, then the hold. The rate steps up
//! geometrically (×2) from `from` until a probe breaks the SLO or `to` keeps it; then the
//! bracket (last good, first bad) is bisected until its width is within `precision` of the last
//! good rate. A probe whose SLO broke because of the generator, not the target, stops the search
//! as invalid ([`judge`] says when).

use std::time::Duration;

use super::{Context, RunError};
use crate::plan::capacity::{CapacitySearch, MAX_PROBES, ProbeFigures, STEP, SloKind};
use crate::plan::{Cell, Load};
use crate::stats::{CapacityProbe, CapacityStop, CapacitySummary, CellResult, Progress};

/// How a probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Kept,
    Broken,
    GeneratorLimited,
}

/// The search's state: the bracket so far, and the next rate to try.
#[derive(Debug, Clone)]
pub struct Bracket {
    from: f64,
    to: f64,
    precision: f64,
    good: Option<f64>,
    bad: Option<f64>,
    probes: usize,
}

impl Bracket {
    pub fn new(search: &CapacitySearch) -> Bracket {
        Bracket {
            from: search.from,
            to: search.to.max(search.from),
            precision: search.precision,
            good: None,
            bad: None,
            probes: 0,
        }
    }

    pub fn first(&self) -> f64 {
        self.from
    }

    /// Takes a probe's outcome at `rate`; returns the next rate, or why the search is over.
    pub fn next(&mut self, rate: f64, judged: Judged) -> Result<f64, CapacityStop> {
        self.probes += 1;
        match judged {
            Judged::GeneratorLimited => return Err(CapacityStop::GeneratorLimited),
            Judged::Kept => self.good = Some(self.good.map_or(rate, |g| g.max(rate))),
            Judged::Broken => self.bad = Some(self.bad.map_or(rate, |b| b.min(rate))),
        }
        let next = match (self.good, self.bad) {
            (None, _) => return Err(CapacityStop::BrokenAtStart),
            (Some(g), None) if g >= self.to => return Err(CapacityStop::Ceiling),
            (Some(g), None) => (g * STEP).min(self.to),
            (Some(g), Some(b)) if (b - g) <= self.precision * g => {
                return Err(CapacityStop::SloBroken);
            }
            (Some(g), Some(b)) => (g + b) / 2.0,
        };
        if self.probes >= MAX_PROBES {
            return Err(CapacityStop::ProbeLimit);
        }
        Ok(next)
    }

    pub fn good(&self) -> Option<f64> {
        self.good
    }

    pub fn bad(&self) -> Option<f64> {
        self.bad
    }
}

/// A probe's figures as the SLO reads them, from its merged recorder.
struct Figures<'a>(&'a CellResult);

impl ProbeFigures for Figures<'_> {
    fn latency_us(&self, q: Option<f64>) -> f64 {
        let h = &self.0.measured.recorder.latency;
        match q {
            Some(q) => h.value_at_quantile(q) as f64,
            None => h.mean(),
        }
    }

    fn error_rate(&self) -> f64 {
        self.0.measured.recorder.error_rate()
    }
}

/// Judges one probe: every objective kept; or broken by the target; or broken because the
/// generator could not send on time. That is when a latency objective broke on the latency
/// corrected for coordinated omission while the target's own latency (from the actual send)
/// kept it, and either the sends were late (send lag p99 at least half the corrected figure:
/// the wait was in loadplan's queue, too few users or a busy runner) or the runner's CPU was
/// saturated (at least 90% of `cores`). A target too slow for the objective breaks it on both
/// figures: that is the target's limit, whatever the lag.
pub fn judge(search: &CapacitySearch, probe: &CellResult, cores: usize) -> (Judged, Vec<String>) {
    let figures = Figures(probe);
    let broken: Vec<String> = search
        .slo
        .iter()
        .filter(|s| !s.holds(&figures))
        .map(|s| {
            let v = s.observed(&figures);
            let shown = match s.kind {
                SloKind::Latency(_) => crate::units::micros(v.round() as u64),
                SloKind::ErrorRate => format!("{:.2}%", v * 100.0),
            };
            format!("{} (measured {shown})", s.text)
        })
        .collect();
    if broken.is_empty() {
        return (Judged::Kept, broken);
    }
    let m = &probe.measured;
    let Some(open) = m.recorder.open.as_ref() else {
        return (Judged::Broken, broken);
    };
    let target = Uncorrected(open);
    let lag_p99 = open.lag.value_at_quantile(0.99) as f64;
    let wall = m.wall.as_secs_f64();
    let busy = if wall > 0.0 {
        m.cpu.as_secs_f64() / wall
    } else {
        0.0
    };
    let saturated = busy >= 0.9 * cores.max(1) as f64;
    let generator = search.slo.iter().any(|s| match s.kind {
        SloKind::Latency(q) if !s.holds(&figures) && s.holds(&target) => {
            saturated || lag_p99 >= 0.5 * figures.latency_us(q)
        }
        _ => false,
    });
    if generator {
        (Judged::GeneratorLimited, broken)
    } else {
        (Judged::Broken, broken)
    }
}

/// The target's own latency: from the actual send, not the intended start.
struct Uncorrected<'a>(&'a crate::stats::OpenStats);

impl ProbeFigures for Uncorrected<'_> {
    fn latency_us(&self, q: Option<f64>) -> f64 {
        let h = &self.0.uncorrected;
        match q {
            Some(q) => h.value_at_quantile(q) as f64,
            None => h.mean(),
        }
    }

    fn error_rate(&self) -> f64 {
        0.0
    }
}

/// One probe's line in the summary.
fn probe_summary(
    rate: f64,
    hold: Duration,
    r: &CellResult,
    judged: Judged,
    broken: Vec<String>,
) -> CapacityProbe {
    let m = &r.measured;
    let rec = &m.recorder;
    let secs = hold.as_secs_f64();
    let wall = m.wall.as_secs_f64();
    CapacityProbe {
        rate_per_s: rate,
        hold_seconds: secs,
        achieved_per_s: if secs > 0.0 {
            rec.successes as f64 / secs
        } else {
            0.0
        },
        operations: rec.operations,
        errors: rec.error_count(),
        error_rate: rec.error_rate(),
        dropped: rec.open.as_ref().map_or(0, |o| o.dropped),
        p50_us: rec.latency.value_at_quantile(0.5),
        p99_us: rec.latency.value_at_quantile(0.99),
        p99_uncorrected_us: rec
            .open
            .as_ref()
            .map_or(0, |o| o.uncorrected.value_at_quantile(0.99)),
        cores_busy: if wall > 0.0 {
            m.cpu.as_secs_f64() / wall
        } else {
            0.0
        },
        kept: judged == Judged::Kept,
        generator_limited: judged == Judged::GeneratorLimited,
        broken,
    }
}

impl Context<'_> {
    /// Runs the search of `cell` (round `round`, the run's cell number `index`); `None` when
    /// this process has no users in it.
    pub(super) fn run_capacity(
        &self,
        cell: &Cell,
        round: usize,
        index: usize,
        search: &CapacitySearch,
    ) -> Result<Option<CellResult>, RunError> {
        let Some(base) = self.work(cell, round, None) else {
            return Ok(None);
        };
        let scenario = &self.plan.scenarios[cell.scenario];
        let warmup = if scenario.warmup_time.is_zero() {
            search.hold / 5
        } else {
            scenario.warmup_time
        };
        let cell_label = self.label(cell, round, None);
        let mut bracket = Bracket::new(search);
        let mut rate = bracket.first();
        let mut probes = Vec::new();
        // The probe at the best rate that kept the SLO, and the last one run.
        let mut kept: Option<(usize, CellResult)> = None;
        let mut last: Option<(usize, CellResult)> = None;
        let stopped = loop {
            if super::stopping() {
                break CapacityStop::Interrupted;
            }
            let hold = search.probe_hold(rate);
            let mut work = base.clone();
            work.load = Load::Open {
                start_rate: rate,
                stages: vec![(hold, rate)],
                max_in_flight: search.max_in_flight,
            };
            work.warmup_time = warmup;
            let label = format!(
                "{cell_label} · probe {} at {}/s",
                probes.len() + 1,
                (rate * 10.0).round() / 10.0
            );
            let result = self.run_once(cell, round, (index, &label), &work, None)?;
            self.observer.slice_finished(&label);
            if super::stopping() {
                let cut = vec!["interrupted: not judged".to_string()];
                probes.push(probe_summary(rate, hold, &result, Judged::Broken, cut));
                last = Some((probes.len() - 1, result));
                break CapacityStop::Interrupted;
            }
            let (judged, broken) = judge(search, &result, self.cores);
            probes.push(probe_summary(rate, hold, &result, judged, broken));
            // A kept probe is always above the last good rate (the search only steps up or
            // bisects above it): the latest kept one is the best.
            if judged == Judged::Kept {
                kept = Some((probes.len() - 1, result));
            } else {
                last = Some((probes.len() - 1, result));
            }
            match bracket.next(rate, judged) {
                Ok(next) => rate = next,
                Err(stop) => break stop,
            }
        };
        let valid = matches!(
            stopped,
            CapacityStop::SloBroken | CapacityStop::Ceiling | CapacityStop::ProbeLimit
        );
        let summary = CapacitySummary {
            slo: search.slo.iter().map(|s| s.text.clone()).collect(),
            capacity_per_s: if valid { bracket.good() } else { None },
            good_per_s: bracket.good(),
            bad_per_s: bracket.bad(),
            from_per_s: search.from,
            to_per_s: search.to,
            precision: search.precision,
            stopped,
            probes,
            shown_probe: 0,
        };
        // The cell's figures: the probe at the capacity, else the last one that ran.
        let chosen = if valid { kept.or(last) } else { last.or(kept) };
        let Some((shown, mut result)) = chosen else {
            return Ok(None);
        };
        result.measured.notes.push(format!(
            "capacity search: {} probes, stopped: {}; these figures are the probe at {}/s",
            summary.probes.len(),
            stopped.as_str(),
            summary
                .probes
                .get(shown)
                .map_or(0.0, |p| (p.rate_per_s * 10.0).round() / 10.0)
        ));
        result.capacity = Some(CapacitySummary {
            shown_probe: shown,
            ..summary
        });
        self.observer
            .cell_finished(index, self.total, &cell_label, &Progress::of(&result));
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    fn search(from: f64, to: f64, precision: f64) -> CapacitySearch {
        CapacitySearch {
            slo: Vec::new(),
            from,
            to,
            hold: Duration::from_secs(1),
            precision,
            max_in_flight: NonZeroUsize::MIN,
        }
    }

    /// Runs the bracket against a target that keeps the SLO up to `capacity`.
    fn walk(
        s: &CapacitySearch,
        capacity: f64,
        limited_above: Option<f64>,
    ) -> (Vec<f64>, CapacityStop, Option<f64>) {
        let mut b = Bracket::new(s);
        let mut rate = b.first();
        let mut rates = Vec::new();
        loop {
            rates.push(rate);
            let judged = match limited_above {
                Some(l) if rate > l => Judged::GeneratorLimited,
                _ if rate <= capacity => Judged::Kept,
                _ => Judged::Broken,
            };
            match b.next(rate, judged) {
                Ok(next) => rate = next,
                Err(stop) => return (rates, stop, b.good()),
            }
        }
    }

    #[test]
    fn steps_up_then_bisects_to_the_precision() {
        let table = [
            // from, to, precision, capacity, stop
            (50.0, 5000.0, 0.05, 408.0, CapacityStop::SloBroken),
            (200.0, 1000.0, 0.03, 408.0, CapacityStop::SloBroken),
            (50.0, 300.0, 0.05, 408.0, CapacityStop::Ceiling),
            (500.0, 5000.0, 0.05, 408.0, CapacityStop::BrokenAtStart),
            (50.0, 5000.0, 0.01, 1234.5, CapacityStop::SloBroken),
        ];
        for (from, to, precision, capacity, want) in table {
            let s = search(from, to, precision);
            let (rates, stop, good) = walk(&s, capacity, None);
            assert_eq!(stop, want, "{from}..{to} at {capacity}: {rates:?}");
            match stop {
                CapacityStop::SloBroken => {
                    let g = good.expect("a good rate");
                    assert!(g <= capacity, "{g} kept, above {capacity}");
                    assert!(
                        capacity <= g * (1.0 + precision),
                        "{g} is further than {precision} below {capacity}: {rates:?}"
                    );
                }
                CapacityStop::Ceiling => assert_eq!(good, Some(to)),
                CapacityStop::BrokenAtStart => assert_eq!(good, None),
                _ => {}
            }
            assert!(rates.iter().all(|r| *r >= from && *r <= to), "{rates:?}");
            assert!(rates.len() < MAX_PROBES, "{rates:?}");
        }
    }

    #[test]
    fn the_first_steps_double() {
        let (rates, _, _) = walk(&search(50.0, 5000.0, 0.05), 408.0, None);
        assert_eq!(&rates[..5], &[50.0, 100.0, 200.0, 400.0, 800.0]);
        assert_eq!(rates[5], 600.0);
    }

    #[test]
    fn a_generator_limit_ends_the_search_as_invalid() {
        let (rates, stop, _) = walk(&search(50.0, 5000.0, 0.05), 408.0, Some(150.0));
        assert_eq!(stop, CapacityStop::GeneratorLimited);
        assert_eq!(rates, vec![50.0, 100.0, 200.0]);
    }
}
