//! The comparison page, `compare.html`: one run beside its baseline. Written beside
//! `index.html` by `run --baseline`, and by `loadplan compare A B` for any two saved runs.
//!
//! Input: the two summaries and the [`BaselineReport`] the gate made of them (this stage never
//! compares: `gate::baseline` does, and the page shows its checks as they are). Output: one
//! self-contained HTML page (inline SVG, inline CSS, the run report's strict Content-Security-
//! Policy, no script, no network): the checks that regressed first, then per cell and per named
//! request the two percentile spectra overlaid on one log axis and the table of deltas, each
//! with its outcome, the tolerance and the 95 % band of the change (the noise the runs, their
//! rounds and each percentile's histogram show).
//!
//! Must not: decide an outcome (the gate's checks carry it), read or write files, or put any
//! string from a summary into the page other than through `{{…}}`, which escapes it.

use serde::Serialize;

use super::{ReportError, figures, insight, junit, page};
use crate::stats::{BaselineCheck, BaselineReport, CellSummary, Outcome, Summary};
use crate::units;

const TEMPLATE: &str = include_str!("../../templates/compare.html.hbs");
const STYLE: &str = include_str!("../../templates/style.hbs");

/// The two runs and the gate's checks of one against the other.
pub struct Compared<'a> {
    /// The earlier run, and how it was named on the command line.
    pub baseline: &'a Summary,
    pub baseline_file: &'a str,
    /// The run compared with it.
    pub current: &'a Summary,
    pub current_file: &'a str,
    pub report: &'a BaselineReport,
}

#[derive(Serialize)]
struct PageView<'a> {
    plan: &'a str,
    baseline_run: &'a str,
    baseline_started: String,
    baseline_file: &'a str,
    current_run: &'a str,
    current_started: String,
    current_file: &'a str,
    #[serde(flatten)]
    head: insight::BaselineHead<'a>,
    latency_floor: String,
    /// Every check that regressed, first on the page.
    regressed: Vec<CheckRow>,
    regressed_count: usize,
    cells: Vec<CellView>,
}

#[derive(Serialize)]
struct CellView {
    anchor: String,
    title: String,
    charts: Vec<String>,
    /// Histograms that could not be drawn, and why.
    problems: Vec<String>,
    checks: Vec<CheckRow>,
    /// The worst outcome of the cell's checks, for its heading.
    mark: &'static str,
    class: &'static str,
}

#[derive(Serialize)]
struct CheckRow {
    anchor: String,
    cell: String,
    metric: String,
    baseline: String,
    current: String,
    change: String,
    /// `±10.0%`: the change the plan allows.
    tolerance: String,
    /// `-4.1% to +12.0%`: the 95 % interval of the change, the noise band; `-` when nothing
    /// measured the noise.
    band: String,
    /// `failed`, `passed` or `noise`: the mark's colour.
    class: &'static str,
    mark: &'static str,
    evidence: String,
}

/// The outcome as the page marks it: class and words.
fn outcome_mark(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Regressed => ("failed", "✘ regressed"),
        Outcome::Improved => ("passed", "✔ improved"),
        Outcome::Unchanged => ("passed", "= unchanged"),
        Outcome::Inconclusive => ("noise", "? inconclusive"),
    }
}

fn percent(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| "-".into(), |v| format!("{:+.1}%", v * 100.0))
}

fn cell_anchor(scenario: usize, cell: usize) -> String {
    format!("compare-{}-{}", scenario + 1, cell + 1)
}

fn same_cell(k: &BaselineCheck, scenario: &str, c: &CellSummary) -> bool {
    k.scenario == scenario && k.model == c.model && k.concurrency == c.concurrency
}

fn check_row(anchor: &str, k: &BaselineCheck) -> CheckRow {
    let (class, mark) = outcome_mark(k.outcome);
    CheckRow {
        anchor: anchor.to_string(),
        cell: format!("{} · {}", k.scenario, k.label()),
        metric: k.metric.clone(),
        baseline: junit::baseline_value(&k.metric, k.baseline),
        current: junit::baseline_value(&k.metric, k.current),
        change: percent(k.change),
        tolerance: if k.tolerance.is_finite() {
            format!("±{}", units::percent(k.tolerance))
        } else {
            "-".into()
        },
        band: match (k.change_low, k.change_high) {
            (Some(lo), Some(hi)) => format!("{} to {}", percent(Some(lo)), percent(Some(hi))),
            _ => "-".into(),
        },
        class,
        mark,
        evidence: insight::evidence_words(k),
    }
}

/// A cell of the current run against the same cell of the baseline: its spectra (the cell,
/// then each named request both runs have) and its checks.
fn cell_view(c: &Compared, si: usize, ci: usize) -> Option<CellView> {
    let sc = c.current.scenarios.get(si)?;
    let cur = sc.cells.get(ci)?;
    let base = c
        .baseline
        .scenarios
        .iter()
        .find(|b| b.name == sc.name)?
        .cells
        .iter()
        .find(|b| b.model == cur.model && b.concurrency == cur.concurrency)?;
    let anchor = cell_anchor(si, ci);
    let title = format!("{} · {}", sc.name, cur.label());
    let mut charts = Vec::new();
    let mut problems = Vec::new();
    let (svg, mut p) = figures::comparison_spectrum(
        &format!("{anchor}-spectrum"),
        "Latency by percentile, every operation: baseline against this run",
        &format!("Latency percentile spectrum of {title}: baseline and this run"),
        [
            (format!("baseline {}", c.baseline.run_id), &base.histogram),
            (format!("this run {}", c.current.run_id), &cur.histogram),
        ],
    );
    charts.push(svg);
    problems.append(&mut p);
    if cur.requests.len() > 1 {
        for (ri, r) in cur.requests.iter().enumerate() {
            let Some(b) = base.requests.iter().find(|b| b.name == r.name) else {
                continue;
            };
            let (svg, mut p) = figures::comparison_spectrum(
                &format!("{anchor}-request-{}", ri + 1),
                &format!(
                    "Latency by percentile of {}: baseline against this run",
                    r.name
                ),
                &format!(
                    "Latency percentile spectrum of request {} in {title}: baseline and this run",
                    r.name
                ),
                [
                    (format!("{} · baseline", r.name), &b.histogram),
                    (format!("{} · this run", r.name), &r.histogram),
                ],
            );
            charts.push(svg);
            problems.append(&mut p);
        }
    }
    let checks: Vec<CheckRow> = c
        .report
        .checks
        .iter()
        .filter(|k| same_cell(k, &sc.name, cur))
        .map(|k| check_row(&anchor, k))
        .collect();
    let worst = c
        .report
        .checks
        .iter()
        .filter(|k| same_cell(k, &sc.name, cur))
        .map(|k| k.outcome)
        .fold(Outcome::Unchanged, |w, o| match (w, o) {
            (Outcome::Regressed, _) | (_, Outcome::Regressed) => Outcome::Regressed,
            (Outcome::Inconclusive, _) | (_, Outcome::Inconclusive) => Outcome::Inconclusive,
            (Outcome::Improved, _) | (_, Outcome::Improved) => Outcome::Improved,
            _ => Outcome::Unchanged,
        });
    let (class, mark) = outcome_mark(worst);
    Some(CellView {
        anchor,
        title,
        charts,
        problems,
        checks,
        mark,
        class,
    })
}

/// Renders `compare.html`.
pub fn render(c: &Compared) -> Result<String, ReportError> {
    let err = |e: String| ReportError::Render {
        file: "compare.html",
        reason: e,
    };
    let mut registry = page::registry();
    registry
        .register_partial("style", STYLE)
        .map_err(|e| err(e.to_string()))?;
    registry
        .register_template_string("compare", TEMPLATE)
        .map_err(|e| err(e.to_string()))?;
    let b = c.report;
    let cells: Vec<CellView> = c
        .current
        .scenarios
        .iter()
        .enumerate()
        .flat_map(|(si, sc)| (0..sc.cells.len()).map(move |ci| (si, ci)))
        .filter_map(|(si, ci)| cell_view(c, si, ci))
        .collect();
    let regressed: Vec<CheckRow> = b
        .checks
        .iter()
        .filter(|k| k.outcome == Outcome::Regressed)
        .map(|k| {
            let anchor = c
                .current
                .scenarios
                .iter()
                .enumerate()
                .find(|(_, sc)| sc.name == k.scenario)
                .and_then(|(si, sc)| {
                    let ci = sc.cells.iter().position(|x| same_cell(k, &sc.name, x))?;
                    Some(cell_anchor(si, ci))
                })
                .unwrap_or_default();
            check_row(&anchor, k)
        })
        .collect();
    let view = PageView {
        plan: &c.current.plan.name,
        baseline_run: &c.baseline.run_id,
        baseline_started: c.baseline.started_at.to_string(),
        baseline_file: c.baseline_file,
        current_run: &c.current.run_id,
        current_started: c.current.started_at.to_string(),
        current_file: c.current_file,
        head: insight::baseline_head(b),
        latency_floor: units::micros(b.latency_floor_us),
        regressed_count: regressed.len(),
        regressed,
        cells,
    };
    registry
        .render("compare", &view)
        .map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::sample;

    /// A run against itself made 2× slower: both spectra drawn in every compared cell, and
    /// every regressed check listed at the top.
    #[test]
    fn a_slower_run_lists_every_regressed_check_and_draws_both_spectra() {
        let base = sample();
        let mut cur = sample();
        cur.run_id = "slower".into();
        let mut checks = Vec::new();
        for sc in &cur.scenarios {
            for cell in &sc.cells {
                for (metric, outcome) in [("p50", Outcome::Regressed), ("p99", Outcome::Unchanged)]
                {
                    let mut k =
                        crate::gate::baseline::unchecked(&sc.name, cell, metric.into(), 0.1);
                    k.baseline = 1000.0;
                    k.current = 2000.0;
                    k.change = Some(1.0);
                    k.outcome = outcome;
                    k.passed = outcome != Outcome::Regressed;
                    k.change_low = Some(0.8);
                    k.change_high = Some(1.2);
                    checks.push(k);
                }
            }
        }
        let regressed = checks
            .iter()
            .filter(|k| k.outcome == Outcome::Regressed)
            .count();
        let report = BaselineReport {
            file: "base/summary.json".into(),
            run_id: base.run_id.clone(),
            started_at: base.started_at.clone(),
            tolerance: 0.1,
            latency_floor_us: 1000,
            passed: false,
            runs: Vec::new(),
            alpha: 0.05,
            checks,
            missing_in_baseline: Vec::new(),
            missing_in_run: vec!["gone · sequential c=1".into()],
        };
        let page = render(&Compared {
            baseline: &base,
            baseline_file: "base/summary.json",
            current: &cur,
            current_file: "cur/summary.json",
            report: &report,
        })
        .expect("renders");
        assert!(page.contains("Content-Security-Policy"));
        assert!(!page.contains("<script"));
        let top = &page[page.find(r#"id="regressed""#).expect("regressed list")..];
        let top = &top[..top.find("</section>").expect("closed")];
        assert_eq!(top.matches("✘ regressed").count(), regressed);
        assert!(regressed > 0);
        let compared = page.matches(r#"<section class="compare-cell""#).count();
        assert!(compared > 0);
        for svg in page.split("<svg").skip(1) {
            let svg = &svg[..svg.find("</svg>").expect("closed svg")];
            if svg.contains("chart-compare") && !svg.contains("no data") {
                assert_eq!(svg.matches("<polyline").count(), 2, "both spectra");
            }
        }
        assert!(page.contains("+80.0% to +120.0%"), "the noise band");
        assert!(page.contains("gone · sequential c&#x3D;1"));
    }
}
