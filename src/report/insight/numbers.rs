//! A cell's figures as people read them, each with its spread over rounds beside it:
//! `780 (429–806)`, `3.37× (2.49–4.71)`, and `no speedup` where nothing succeeded.
//!
//! With `rounds: N`, throughput, attempts and speedup are the medians of the rounds (speedups
//! paired round by round with the same round's sequential cell), while counts, error rates and
//! percentiles pool every round; the range shown beside each is the lowest and highest value of
//! the rounds. A merged percentile always lies within its rounds' range, so `52.0ms (50.1ms–53.2ms)`
//! never contradicts itself. With one round there is no range, and every figure reads as before.
//!
//! Input: a cell (and its scenario, for the speedup). Output: [`Ranged`] text. Pure.

use crate::stats::{CellSummary, RoundsSummary, ScenarioSummary, Spread};
use crate::units;

/// A figure, and with rounds its range over them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ranged {
    pub value: String,
    /// `429–806`: the lowest and highest round, in the figure's unit. `None` with one round, and
    /// where every round reads the same.
    pub range: Option<String>,
}

impl Ranged {
    fn plain(value: impl Into<String>) -> Ranged {
        Ranged {
            value: value.into(),
            range: None,
        }
    }

    /// `value (range)`, for a line of text or a plain-text table.
    pub fn inline(&self) -> String {
        self.inline_with("")
    }

    /// `value` and `unit`, then the range: `24.0/s (21.6–26.4)`.
    pub fn inline_with(&self, unit: &str) -> String {
        match &self.range {
            Some(r) => format!("{}{unit} ({r})", self.value),
            None => format!("{}{unit}", self.value),
        }
    }
}

/// `value`, with the range of `spread` written by `show` when the rounds differ.
fn ranged(value: String, spread: Option<&Spread>, show: impl Fn(f64) -> String) -> Ranged {
    let range = spread.and_then(|s| {
        let (lo, hi) = (show(s.min), show(s.max));
        (lo != hi).then(|| format!("{lo}–{hi}"))
    });
    Ranged { value, range }
}

fn rounds(c: &CellSummary) -> Option<&RoundsSummary> {
    c.rounds.as_ref()
}

/// Microseconds held in an `f64` (a round's percentile): `-` for what is not a duration.
fn micros(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        units::micros(v.round() as u64)
    } else {
        "-".into()
    }
}

/// Successful operations per second.
pub fn throughput(c: &CellSummary) -> Ranged {
    ranged(
        units::number(c.throughput_per_s),
        rounds(c).map(|r| &r.throughput_per_s),
        units::number,
    )
}

/// Operations attempted per second, successes and errors alike.
pub fn attempts(c: &CellSummary) -> Ranged {
    ranged(
        units::number(c.attempts_per_s),
        rounds(c).map(|r| &r.attempts_per_s),
        units::number,
    )
}

pub fn error_rate(c: &CellSummary) -> Ranged {
    ranged(
        units::percent(c.error_rate),
        rounds(c).map(|r| &r.error_rate),
        units::percent,
    )
}

/// `–` for a cell too short to measure CPU (`stats::machine::cpu_measured`).
pub fn cores_busy(c: &CellSummary) -> Ranged {
    if !crate::stats::machine::cpu_measured(c) {
        return Ranged::plain("–");
    }
    ranged(
        units::number(c.cores_busy),
        rounds(c).map(|r| &r.cores_busy),
        units::number,
    )
}

pub fn p50(c: &CellSummary) -> Ranged {
    ranged(
        units::micros(c.latency_us.p50),
        rounds(c).map(|r| &r.p50_us),
        micros,
    )
}

pub fn p90(c: &CellSummary) -> Ranged {
    ranged(
        units::micros(c.latency_us.p90),
        rounds(c).map(|r| &r.p90_us),
        micros,
    )
}

pub fn p99(c: &CellSummary) -> Ranged {
    ranged(
        units::micros(c.latency_us.p99),
        rounds(c).map(|r| &r.p99_us),
        micros,
    )
}

/// Said where a cell has no speedup because nothing succeeded, on its side or sequential's.
pub const NO_SPEEDUP: &str = "no speedup";

/// The speedup against the scenario's sequential cell: `3.37× (2.49–4.71)`; [`NO_SPEEDUP`]
/// where this cell or the sequential cell had no success (successful throughput over nothing
/// is no ratio); `-` where there is no sequential cell at all.
pub fn speedup(s: &ScenarioSummary, c: &CellSummary) -> Ranged {
    match c.speedup {
        Some(v) => ranged(
            units::speedup(Some(v)),
            rounds(c).and_then(|r| r.speedup.as_ref()),
            units::number,
        ),
        None if nothing_succeeded(s, c) => Ranged::plain(NO_SPEEDUP),
        None => Ranged::plain("-"),
    }
}

/// True when `c` or the scenario's sequential cell completed no successful operation.
pub fn nothing_succeeded(s: &ScenarioSummary, c: &CellSummary) -> bool {
    c.successes == 0
        || s.cells
            .iter()
            .any(|q| q.model.is_baseline() && q.successes == 0)
}

/// The most rounds any cell of the scenario ran; `None` with one round everywhere.
pub fn round_count(s: &ScenarioSummary) -> Option<usize> {
    s.cells
        .iter()
        .filter_map(|c| c.rounds.as_ref().map(|r| r.count))
        .max()
        .filter(|n| *n > 1)
}

/// What the figures of a scenario with rounds are, in one sentence; `None` with one round.
pub fn rounds_note(s: &ScenarioSummary) -> Option<String> {
    round_count(s).map(|n| {
        format!(
            "{n} rounds, interleaved: throughput, attempts and speedup are the medians of the rounds (each round's speedup against the same round's sequential cell); counts, error rates, percentiles and cores busy pool every round. Beside a figure, its range over the rounds (lowest–highest) where they differ."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{hostile, rounds_of, sample};

    #[test]
    fn figures_carry_their_range_over_rounds() {
        let s = sample();
        let mut c = s.scenarios[0].cells[2].clone();
        c.rounds = None;
        let one: Vec<String> = [throughput(&c), speedup(&s.scenarios[0], &c), p99(&c)]
            .iter()
            .map(Ranged::inline)
            .collect();
        assert_eq!(one, ["24.0", "3.00×", "52.0ms"]);
        c.rounds = Some(rounds_of(&[15.7, 15.9, 16.1]));
        assert_eq!(
            speedup(&s.scenarios[0], &c).inline(),
            "3.00× (15.7–16.1)",
            "the range is the rounds', the value the cell's"
        );
        assert_eq!(throughput(&c).range.as_deref(), Some("15.7–16.1"));
        // Percentiles: microseconds in an f64, in their unit.
        c.rounds = Some(rounds_of(&[50_100.0, 52_000.0, 53_240.0]));
        assert_eq!(p99(&c).inline(), "52.0ms (50.1ms–53.2ms)");
        // Every round the same: no range to show.
        c.rounds = Some(rounds_of(&[2.0, 2.0, 2.0]));
        assert_eq!(attempts(&c).range, None);
        assert_eq!(round_count(&s.scenarios[0]), Some(3));
        assert!(rounds_note(&s.scenarios[0]).is_some_and(|n| n.starts_with("3 rounds")));
    }

    #[test]
    fn no_success_means_no_speedup_and_no_sequential_cell_a_dash() {
        let mut sc = sample().scenarios[0].clone();
        sc.cells[1].speedup = None;
        assert_eq!(speedup(&sc, &sc.cells[1]).inline(), "-");
        sc.cells[1].successes = 0;
        assert_eq!(speedup(&sc, &sc.cells[1]).inline(), NO_SPEEDUP);
        // Sequential had no success: nobody has a speedup.
        sc.cells[1].successes = 3;
        sc.cells[0].successes = 0;
        assert_eq!(speedup(&sc, &sc.cells[1]).inline(), NO_SPEEDUP);
        for sc in &hostile().scenarios {
            for c in &sc.cells {
                for r in [speedup(sc, c), p99(c), throughput(c), cores_busy(c)] {
                    assert!(!r.inline().contains("NaN"), "{r:?}");
                }
            }
        }
    }
}
