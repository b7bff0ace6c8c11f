//! The errors and status-code breakdowns: one stacked bar per cell, split by error category or
//! by HTTP status code.
//!
//! Input: a scenario's summary (its cells' counts). Output: SVG markup drawn with the chart kit,
//! or nothing when there is nothing to split. Must not panic on odd counts (sums that overflow,
//! odd status codes).

use std::collections::BTreeMap;

use super::label;
use crate::report::chart::{
    Fill, Frame, Pattern, StackChart, StackRow, StackUnit, stacked_hbar_chart,
};
use crate::stats::{CellSummary, ScenarioSummary};
use crate::units;

/// What a breakdown chart splits each cell's bar by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// Failed operations by error category.
    Errors,
    /// Responses by HTTP status code.
    StatusCodes,
}

impl Breakdown {
    fn counts(self, c: &CellSummary) -> &BTreeMap<String, u64> {
        match self {
            Breakdown::Errors => &c.errors,
            Breakdown::StatusCodes => &c.status_codes,
        }
    }

    /// The legend's categories, sorted: every error category that occurred; every status code
    /// that was seen.
    fn keys(self, s: &ScenarioSummary) -> Vec<&str> {
        let mut keys: Vec<&str> = s
            .cells
            .iter()
            .flat_map(|c| self.counts(c).iter())
            .filter(|(_, n)| self == Breakdown::StatusCodes || **n > 0)
            .map(|(k, _)| k.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn fills(self, keys: &[&str]) -> Vec<Fill> {
        match self {
            Breakdown::Errors => (0..keys.len()).map(Fill::nth).collect(),
            Breakdown::StatusCodes => {
                let mut per_class = [0usize; 6];
                keys.iter()
                    .map(|code| {
                        let class = code
                            .chars()
                            .next()
                            .and_then(|d| d.to_digit(10))
                            .map_or(0, |d| d as usize)
                            .min(5);
                        let nth = per_class.get(class).copied().unwrap_or(0);
                        if let Some(n) = per_class.get_mut(class) {
                            *n += 1;
                        }
                        status_fill(class, nth)
                    })
                    .collect()
            }
        }
    }

    fn tip(self, cell: &str, key: &str, n: u64) -> String {
        match self {
            Breakdown::Errors => format!("{cell} · {key}: {n} errors"),
            Breakdown::StatusCodes => format!("{cell} · status {key}: {n}"),
        }
    }

    /// Printed after a cell's bar.
    fn total(self, c: &CellSummary) -> String {
        let total = self
            .counts(c)
            .values()
            .fold(0u64, |a, n| a.saturating_add(*n));
        match self {
            Breakdown::Errors => format!("{total} ({})", units::percent(c.error_rate)),
            Breakdown::StatusCodes => format!("{total} responses"),
        }
    }

    /// Class, title, accessible name's start, x axis label.
    fn words(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Breakdown::Errors => (
                "chart-errors",
                "Errors by category",
                "Errors by category",
                "operations that failed",
            ),
            Breakdown::StatusCodes => (
                "chart-status",
                "Responses by HTTP status code",
                "Responses by status code",
                "responses",
            ),
        }
    }
}

/// 2xx solid green; 3xx blue; 4xx orange; 5xx red; each further code of a class a new pattern.
fn status_fill(class: usize, nth: usize) -> Fill {
    let colour = match class {
        2 => "#009e73",
        3 => "#56b4e9",
        4 => "#e69f00",
        5 => "#d55e00",
        _ => "#777777",
    };
    let patterns = match class {
        2 => [
            Pattern::Solid,
            Pattern::Dots,
            Pattern::Stripes,
            Pattern::Hatch,
        ],
        _ => [
            Pattern::Hatch,
            Pattern::Cross,
            Pattern::Dots,
            Pattern::Stripes,
        ],
    };
    Fill {
        colour,
        pattern: patterns[nth % patterns.len()],
    }
}

/// One stacked bar per cell, split by `what`; `None` when there is nothing to split (no errors;
/// no response at all, as in a CPU scenario).
pub fn breakdown_chart(id: &str, s: &ScenarioSummary, what: Breakdown) -> Option<String> {
    let keys = what.keys(s);
    if keys.is_empty() {
        return None;
    }
    let rows = s
        .cells
        .iter()
        .map(|c| {
            let counts = what.counts(c);
            let segments = keys
                .iter()
                .enumerate()
                .filter_map(|(i, k)| {
                    let n = *counts.get(*k)?;
                    (n > 0).then(|| (i, n as f64, what.tip(&label(c), k, n)))
                })
                .collect();
            StackRow {
                label: label(c),
                segments,
                text: what.total(c),
            }
        })
        .collect();
    let (class, title, about, x_label) = what.words();
    let frame = Frame {
        id,
        class,
        title,
        about: &format!("{about} for each cell of scenario {}", s.name),
    };
    let fills = what.fills(&keys);
    let keys = keys.iter().map(|k| (*k).to_string()).zip(fills).collect();
    Some(stacked_hbar_chart(
        &frame,
        &StackChart {
            x_label,
            unit: StackUnit::Count,
            rows,
            keys,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::report::figures::tests::{cell, scenario};

    #[test]
    fn errors_and_status_codes_stack_per_cell() {
        let mut a = cell(Model::Sequential, 1, &[1]);
        a.errors.insert("status".into(), 3);
        a.errors.insert("timeout".into(), 1);
        a.status_codes = [("200".to_string(), 6), ("503".to_string(), 3)]
            .into_iter()
            .collect();
        let b = cell(Model::Async, 2, &[1]);
        let s = scenario(vec![a, b]);
        let errors = breakdown_chart("e", &s, Breakdown::Errors).expect("errors chart");
        assert!(errors.contains("sequential · status: 3 errors"));
        assert!(errors.contains("sequential · timeout: 1 errors"));
        assert!(
            errors.contains(r#"<pattern id="e-k1""#),
            "greyscale pattern for the 2nd key"
        );
        let status = breakdown_chart("st", &s, Breakdown::StatusCodes).expect("status chart");
        assert!(status.contains("sequential · status 503: 3"));
        let clean = scenario(vec![cell(Model::Sequential, 1, &[1])]);
        for what in [Breakdown::Errors, Breakdown::StatusCodes] {
            assert!(breakdown_chart("e", &clean, what).is_none(), "{what:?}");
        }
    }
}
