//! What each named request did, cell by cell, in figures every page shows alike: a flow's steps
//! or a scenario's named targets, each with its operations, errors, status codes and latency,
//! and, for a flow with think time, the whole iteration (think excluded) with its think time
//! beside it.
//!
//! Input: a scenario's summary (`cells[].requests`, `cells[].think_us`). Output: [`Group`]s of
//! [`Row`]s, one group per cell in flow order (the HTML, Markdown and console tables). Pure: no
//! markup, no I/O. A scenario whose cells each hold one request equal to the cell itself (plain
//! targets) has nothing to add to its cells table: [`shown`] is false and every page leaves the
//! section out.

use crate::stats::{CellSummary, LatencySummary, RequestSummary, ScenarioSummary};
use crate::units;

/// What the row of a flow's whole iteration is called.
pub const ITERATION: &str = "iteration, think excluded";

/// One request of one cell, or a flow's whole iteration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// The request's name as the plan gave it, or [`ITERATION`].
    pub request: String,
    /// True for the iteration row.
    pub iteration: bool,
    pub operations: u64,
    pub errors: u64,
    pub error_rate: String,
    /// `status 3, timeout 1`; empty without errors.
    pub kinds: String,
    /// Requests sent once more on a new connection after their reused one broke unanswered.
    pub retried: u64,
    /// `200 ×98, 401 ×2`; `-` when no response came.
    pub status_codes: String,
    pub p50: String,
    pub p90: String,
    pub p99: String,
    pub max: String,
    /// On the iteration row: think time per iteration, `p50 10.0ms, p99 14.9ms`; empty
    /// elsewhere.
    pub think: String,
    pub bytes: String,
}

/// The rows of one cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Group {
    /// The cell's index in its scenario.
    pub cell: usize,
    pub label: String,
    pub rows: Vec<Row>,
}

/// True when a cell's one request is the cell itself: nothing a requests table would add.
fn is_the_cell(c: &CellSummary) -> bool {
    match c.requests.as_slice() {
        [] => true,
        [r] => c.think_us.is_none() && r.operations == c.operations && r.latency_us == c.latency_us,
        _ => false,
    }
}

/// True when some cell of the scenario has requests beyond the cell itself.
pub fn shown(s: &ScenarioSummary) -> bool {
    s.cells.iter().any(|c| !is_the_cell(c))
}

/// Every cell's requests, in flow order, then the iteration when the cell thought between
/// steps; empty when [`shown`] is false.
pub fn groups(s: &ScenarioSummary) -> Vec<Group> {
    if !shown(s) {
        return Vec::new();
    }
    s.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.requests.is_empty() || c.think_us.is_some())
        .map(|(i, c)| {
            let mut rows: Vec<Row> = c.requests.iter().map(request_row).collect();
            if let Some(think) = &c.think_us {
                rows.push(iteration_row(c, think));
            }
            Group {
                cell: i,
                label: c.label(),
                rows,
            }
        })
        .collect()
}

fn sum(counts: &std::collections::BTreeMap<String, u64>) -> u64 {
    counts.values().fold(0u64, |a, n| a.saturating_add(*n))
}

/// `status 3, timeout 1`: the categories that had errors, in the order of an exchange's phases.
fn kinds(errors: &std::collections::BTreeMap<String, u64>) -> String {
    let mut had: Vec<(&String, &u64)> = errors.iter().filter(|(_, n)| **n > 0).collect();
    had.sort_by_key(|(k, _)| crate::stats::category_rank(k));
    had.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Row {
    /// `, 3 retried`, or nothing: what follows the errors wherever they are shown.
    pub fn retried_after(&self) -> String {
        match self.retried {
            0 => String::new(),
            n => format!(", {n} retried"),
        }
    }
}

fn status_codes(codes: &std::collections::BTreeMap<String, u64>) -> String {
    let seen: Vec<String> = codes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| format!("{code} ×{n}"))
        .collect();
    if seen.is_empty() {
        "-".into()
    } else {
        seen.join(", ")
    }
}

/// A latency's percentiles, `-` for each when nothing was measured.
fn latency(l: &LatencySummary) -> [String; 4] {
    if l.count == 0 {
        return ["-", "-", "-", "-"].map(String::from);
    }
    [l.p50, l.p90, l.p99, l.max].map(units::micros)
}

/// The figures a request's row and the iteration's row both show, from the same kinds of
/// fields; no status codes and no think time (each row adds its own).
fn row(
    request: String,
    operations: u64,
    errors: &std::collections::BTreeMap<String, u64>,
    error_rate: f64,
    retried: u64,
    latency_us: &LatencySummary,
    bytes: u64,
) -> Row {
    let [p50, p90, p99, max] = latency(latency_us);
    Row {
        request,
        iteration: false,
        operations,
        errors: sum(errors),
        error_rate: units::percent(error_rate),
        kinds: kinds(errors),
        retried,
        status_codes: String::new(),
        p50,
        p90,
        p99,
        max,
        think: String::new(),
        bytes: units::bytes(bytes),
    }
}

fn request_row(r: &RequestSummary) -> Row {
    Row {
        status_codes: status_codes(&r.status_codes),
        ..row(
            r.name.clone(),
            r.operations,
            &r.errors,
            r.error_rate,
            r.retried,
            &r.latency_us,
            r.bytes,
        )
    }
}

/// The name of a cell's one row when it names no requests: every operation of the cell.
pub const ALL_OPERATIONS: &str = "all operations";

/// A cell as one row, for a cell without named requests: its own figures.
pub fn cell_row(c: &CellSummary) -> Row {
    let [p50, p90, p99, max] = latency(&c.latency_us);
    Row {
        request: ALL_OPERATIONS.into(),
        iteration: false,
        operations: c.operations,
        errors: sum(&c.errors),
        error_rate: units::percent(c.error_rate),
        kinds: kinds(&c.errors),
        retried: c.retried,
        status_codes: status_codes(&c.status_codes),
        p50,
        p90,
        p99,
        max,
        think: String::new(),
        bytes: units::bytes(c.bytes),
    }
}

/// The flow as a whole: the cell's own figures (an iteration's latency leaves its think time
/// out) and the think time beside them.
fn iteration_row(c: &CellSummary, think: &LatencySummary) -> Row {
    Row {
        iteration: true,
        think: if think.count == 0 {
            "-".into()
        } else {
            format!(
                "p50 {}, p99 {}",
                units::micros(think.p50),
                units::micros(think.p99)
            )
        },
        ..row(
            ITERATION.into(),
            c.operations,
            &c.errors,
            c.error_rate,
            c.retried,
            &c.latency_us,
            c.bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{hostile, sample};

    #[test]
    fn a_flow_shows_each_step_then_the_iteration_with_its_think_time() {
        let s = sample();
        let io = &s.scenarios[0];
        assert!(shown(io));
        let g = groups(io);
        assert_eq!(g.len(), 3, "one group per cell");
        assert_eq!((g[1].cell, g[1].label.as_str()), (1, "async c=2 w=1"));
        let names: Vec<&str> = g[1].rows.iter().map(|r| r.request.as_str()).collect();
        assert_eq!(names, ["login", "item", ITERATION]);
        let login = &g[1].rows[0];
        assert_eq!(
            (
                login.operations,
                login.errors,
                login.error_rate.as_str(),
                login.kinds.as_str()
            ),
            (4, 1, "25.0%", "status 1")
        );
        assert_eq!(login.status_codes, "200 ×3, 401 ×1");
        assert_eq!(
            (login.p50.as_str(), login.p99.as_str()),
            ("2.00ms", "2.00ms")
        );
        assert_eq!(login.think, "");
        let iteration = &g[1].rows[2];
        assert!(iteration.iteration);
        assert_eq!(iteration.p99, "52.0ms");
        assert_eq!(iteration.think, "p50 10.0ms, p99 10.0ms");
        // A CPU kernel has no requests.
        assert!(!shown(&s.scenarios[1]) && groups(&s.scenarios[1]).is_empty());
    }

    #[test]
    fn plain_targets_add_nothing_to_the_cells_table() {
        let mut s = sample().scenarios[0].clone();
        for c in &mut s.cells {
            let mut only = c.requests[0].clone();
            only.operations = c.operations;
            only.latency_us = c.latency_us.clone();
            c.requests = vec![only];
            c.think_us = None;
        }
        assert!(!shown(&s));
        assert!(groups(&s).is_empty());
        // A second target, or a one-step flow with think time, is worth its table.
        let mut two = s.clone();
        let again = two.cells[0].requests[0].clone();
        two.cells[0].requests.push(again);
        assert!(shown(&two));
        let mut think = s.clone();
        think.cells[2].think_us = Some(LatencySummary::default());
        assert!(shown(&think));
        assert_eq!(groups(&think)[2].rows[1].think, "-");
        // Nothing measured: dashes, never a made-up 0µs.
        let mut empty = sample().scenarios[0].clone();
        empty.cells[0].requests[1].latency_us = LatencySummary::default();
        assert_eq!(groups(&empty)[0].rows[1].p99, "-");
        for sc in &hostile().scenarios {
            let _ = groups(sc);
        }
    }
}
