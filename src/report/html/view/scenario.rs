//! The view of one scenario: its finding, cells table, thresholds, open-model schedule,
//! connections, charts and errors, each cell's row reachable by its anchor.
//!
//! Input: a scenario's summary and the run's failures. Output: [`ScenarioView`], serialised for
//! the template. Every string is escaped by the template except our own charts' SVG (`*_svg`).
//! Must not format markup.

use serde::Serialize;

use super::{anchor, cell_anchor, label};
use crate::report::connections::{self, Row};
use crate::report::figures::{self, Breakdown};
use crate::report::insight::numbers::{self, Ranged};
use crate::report::insight::{self, ErrorGroup, Failure, Flag};
use crate::report::requests;
use crate::stats::{Bound, ScenarioSummary};
use crate::units;

#[derive(Serialize)]
pub(super) struct ScenarioView<'a> {
    name: &'a str,
    anchor: String,
    description: &'a str,
    kind: &'static str,
    kind_words: &'static str,
    bound: &'static str,
    /// `io`, `cpu` or `unclassified`: the badge's style.
    bound_class: &'static str,
    /// `io-bound`, `cpu-bound` or `too short to classify`.
    bound_words: &'static str,
    evidence: String,
    /// Said when the measurement contradicts the kind of workload.
    surprise: Option<String>,
    bound_cell: &'a str,
    workload: &'a [String],
    load: &'a str,
    /// Certificates were not verified: said loudly beside the scenario's title.
    tls_insecure: bool,
    fastest: String,
    fastest_detail: String,
    finding: String,
    speedup_svg: String,
    spectrum_svg: String,
    sweep: Option<SweepView>,
    /// Capacity searches, one per cell that ran one.
    capacity: Vec<CapacityView>,
    /// Sweeps of four levels or more: the Universal Scalability Law per model.
    scalability: Option<ScalabilityView>,
    timeline_throughput_svg: String,
    timeline_p99_svg: String,
    /// Cells of two or more named requests: each request's rate and p99 per second, and the
    /// users in flight (and arrivals), on one time axis per cell.
    over_time: Vec<OverTimeView>,
    /// Errors per second by category, when any second recorded one.
    errors_over_time_svg: Option<String>,
    errors_svg: Option<String>,
    /// Said instead of the errors chart when there were none.
    no_errors: String,
    status_svg: Option<String>,
    /// Each cell's errors by category with their first messages, one row per category.
    error_rows: Vec<ErrorRow>,
    /// HTTP scenarios: connections per cell and where an operation's time goes.
    connections: Option<ConnectionsView>,
    /// Flows and named targets: what each request did, per cell.
    requests: Option<RequestsView>,
    problems: Vec<String>,
    thresholds: Vec<ThresholdView>,
    /// Open-model cells: the schedule kept or not, corrected against uncorrected latency.
    open: Vec<OpenView>,
    rows: Vec<RowView>,
    /// With rounds: what the figures of the cells table are.
    rounds_note: Option<String>,
    /// Two or more models: the scenario compares them, and its card leads the page's model
    /// comparison. A scenario of one model leads with its SLOs instead.
    compares: bool,
    /// The scenario's column count in its cells table, for the row of health words under a cell.
    columns: usize,
    /// The percentiles the plan's thresholds name beyond the table's own (`p95`), as column
    /// headers: below p99 after p90, the others after p99.9.
    percentiles_low: Vec<String>,
    percentiles_high: Vec<String>,
}

/// What a scenario of one model leads with: its SLOs (every threshold with observed, limit and
/// result) and the latency and errors of each request.
#[derive(Serialize)]
pub(super) struct SloView {
    name: String,
    anchor: String,
    thresholds: Vec<ThresholdView>,
    latency: Vec<LatencyRow>,
}

/// One request of one cell (or the cell itself when it sends one kind of request).
#[derive(Serialize)]
struct LatencyRow {
    anchor: String,
    cell: String,
    #[serde(flatten)]
    row: requests::Row,
}

#[derive(Serialize)]
struct OverTimeView {
    anchor: String,
    label: String,
    charts: [String; 3],
}

#[derive(Serialize)]
struct ErrorRow {
    anchor: String,
    label: String,
    #[serde(flatten)]
    group: ErrorGroup,
}

/// Flows and named targets: each cell's requests (and iteration), and their latency chart.
#[derive(Serialize)]
struct RequestsView {
    groups: Vec<RequestGroup>,
    svg: Option<String>,
}

/// One cell's requests: the first row carries the cell's name across the group.
#[derive(Serialize)]
struct RequestGroup {
    anchor: String,
    label: String,
    /// Rows in the group (the cell's name spans them).
    span: usize,
    first: requests::Row,
    rest: Vec<requests::Row>,
}

#[derive(Serialize)]
struct ConnectionsView {
    rows: Vec<ConnectionRow>,
    /// Streamed responses' and WebSocket steps' phases, for the cells that had them.
    streams: Vec<StreamRowView>,
    /// Where an operation's time goes; `None` when no cell completed an operation.
    phases_svg: Option<String>,
    /// How the cells used their connections: what the chart's setup segments mean here.
    reuse: String,
}

#[derive(Serialize)]
struct StreamRowView {
    anchor: String,
    #[serde(flatten)]
    row: connections::StreamRow,
}

#[derive(Serialize)]
struct ConnectionRow {
    anchor: String,
    #[serde(flatten)]
    row: Row,
}

#[derive(Serialize)]
struct OpenView {
    label: String,
    target: String,
    achieved: String,
    scheduled: u64,
    dropped: u64,
    corrected_p50: String,
    corrected_p99: String,
    uncorrected_p50: String,
    uncorrected_p99: String,
    lag_p99: String,
    behind: bool,
}

/// A capacity search of one cell: the headline and a row per probe.
#[derive(Serialize)]
struct CapacityView {
    label: String,
    headline: String,
    /// The search is invalid (a probe was limited by the generator) or found no capacity.
    none: bool,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

/// Each model's scalability fit in words, and the two charts.
#[derive(Serialize)]
struct ScalabilityView {
    lines: Vec<String>,
    usl_svg: String,
    latency_svg: String,
}

#[derive(Serialize)]
struct SweepView {
    throughput_svg: String,
    p99_svg: String,
}

#[derive(Serialize)]
struct ThresholdView {
    anchor: String,
    cell: String,
    expression: String,
    observed: String,
    /// The limit in the threshold's unit, written as `observed` is.
    limit: String,
    /// For the default rule that failed a cell by its errors: the threshold that would accept
    /// some.
    accept: Option<&'static str>,
    passed: bool,
    /// `✔ passed` or `✘ failed`.
    result: &'static str,
}

#[derive(Serialize)]
struct RowView {
    /// `scenario-1-cell-2`: where the "Why it failed" panel and the baseline table link to.
    anchor: String,
    label: String,
    model: &'static str,
    concurrency: usize,
    workers: usize,
    operations: u64,
    errors: u64,
    /// With rounds, each figure but p99.9 and max carries its range over the rounds.
    error_rate: Ranged,
    wall: String,
    /// Successful operations per second.
    throughput: Ranged,
    /// Flows only: `92.4 requests/s`, beside the iterations per second in `throughput`.
    requests_per_s: Option<String>,
    /// Operations attempted per second, errors included.
    attempts: Ranged,
    p50: Ranged,
    p90: Ranged,
    p99: Ranged,
    p999: String,
    /// The values of the scenario's `percentiles_low` and `percentiles_high`, in their order
    /// (`-` where the cell has none).
    percentiles_low: Vec<String>,
    percentiles_high: Vec<String>,
    max: String,
    cores_busy: Ranged,
    /// `3.37×`, `no speedup` (nothing succeeded), or `-` (no sequential cell).
    speedup: Ranged,
    fastest: bool,
    /// Short health words for this row (`short`, `errors`…), empty when none.
    flags: String,
    /// `fail` (the cell fails the run, or a threshold or baseline check of it failed), `warn`
    /// (flags) or `ok`.
    status: &'static str,
    /// The status as icon and words: `✘ failed`, `⚠ short, errors`, `✔ ok`.
    status_mark: String,
    /// The status in one or two words for the narrow health column (`✘ failed`, `⚠ 2 flags`);
    /// the whole of `status_mark` goes on a row under the cell when it says more.
    status_short: String,
    /// `status_mark` when it says more than `status_short`.
    status_detail: Option<String>,
    incomplete: bool,
    notes: String,
}

/// The scenario's requests panel; `None` when its requests add nothing to its cells table.
fn requests_view(i: usize, s: &ScenarioSummary) -> Option<RequestsView> {
    let groups: Vec<RequestGroup> = requests::groups(s)
        .into_iter()
        .filter_map(|g| {
            let mut rows = g.rows.into_iter();
            let first = rows.next()?;
            let rest: Vec<requests::Row> = rows.collect();
            Some(RequestGroup {
                anchor: cell_anchor(i, g.cell),
                label: g.label,
                span: rest.len() + 1,
                first,
                rest,
            })
        })
        .collect();
    if groups.is_empty() {
        return None;
    }
    Some(RequestsView {
        groups,
        svg: figures::requests_chart(&format!("{}-requests-chart", anchor(i)), s),
    })
}

/// The scenario's connections panel; `None` for a scenario without connections (a CPU kernel).
fn connections_view(i: usize, s: &ScenarioSummary) -> Option<ConnectionsView> {
    if !connections::any(s) {
        return None;
    }
    Some(ConnectionsView {
        rows: connections::rows(s)
            .into_iter()
            .map(|row| ConnectionRow {
                anchor: cell_anchor(i, row.cell),
                row,
            })
            .collect(),
        streams: connections::stream_rows(s)
            .into_iter()
            .map(|row| StreamRowView {
                anchor: cell_anchor(i, row.cell),
                row,
            })
            .collect(),
        phases_svg: figures::phases_chart(&format!("{}-phases", anchor(i)), s),
        reuse: connections::reuse(s),
    })
}

/// A cell's status in its table: whether it failed (`fail`), has doubts (`warn`) or neither,
/// in words with an icon.
fn cell_status(failed: bool, flags: &[Flag]) -> (&'static str, String) {
    let words = flags
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match (failed, words.is_empty()) {
        (true, true) => ("fail", insight::mark(false).to_string()),
        (true, false) => ("fail", format!("{} · {words}", insight::mark(false))),
        (false, false) => ("warn", format!("⚠ {words}")),
        (false, true) => ("ok", "✔ ok".to_string()),
    }
}

/// The status in a few words for the narrow health column: the icon and `failed`, the one flag,
/// or how many flags there are.
fn status_short(failed: bool, flags: &[Flag]) -> String {
    match (failed, flags) {
        (true, _) => insight::mark(false).to_string(),
        (false, []) => "✔ ok".to_string(),
        (false, [one]) if one.as_str().chars().count() <= 12 => format!("⚠ {}", one.as_str()),
        (false, many) => format!("⚠ {} flags", many.len()),
    }
}

/// The number of distinct models among a scenario's cells.
fn model_count(s: &ScenarioSummary) -> usize {
    let mut models: Vec<crate::plan::Model> = s.cells.iter().map(|c| c.model).collect();
    models.sort_by_key(|m| m.as_str());
    models.dedup();
    models.len()
}

/// True when a scenario compares two or more models.
pub(super) fn compares_models(s: &ScenarioSummary) -> bool {
    model_count(s) >= 2
}

/// Every threshold of every cell, with observed, limit and result.
fn thresholds(i: usize, s: &ScenarioSummary) -> Vec<ThresholdView> {
    s.cells
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            c.thresholds.iter().map(move |t| {
                let rule = insight::is_error_rule(t);
                ThresholdView {
                    anchor: cell_anchor(i, ci),
                    cell: label(c),
                    expression: t.expression.clone(),
                    observed: if rule {
                        insight::errors_observed(c)
                    } else {
                        t.observed_text.clone()
                    },
                    limit: insight::limit_text(t),
                    accept: (rule && !t.passed).then_some(insight::ACCEPT_SOME),
                    passed: t.passed,
                    result: insight::mark(t.passed),
                }
            })
        })
        .collect()
}

/// The SLO panel of scenario `i`: its thresholds, and each request's latency and errors (the
/// cell's own when it has no named requests).
pub(super) fn slo_view(i: usize, s: &ScenarioSummary) -> SloView {
    let groups = requests::groups(s);
    let latency = s
        .cells
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            let rows: Vec<requests::Row> = match groups.iter().find(|g| g.cell == ci) {
                Some(g) => g.rows.clone(),
                None => vec![requests::cell_row(c)],
            };
            rows.into_iter().map(move |row| LatencyRow {
                anchor: cell_anchor(i, ci),
                cell: label(c),
                row,
            })
        })
        .collect();
    SloView {
        name: s.name.clone(),
        anchor: anchor(i),
        thresholds: thresholds(i, s),
        latency,
    }
}

pub(super) fn scenario_view<'a>(
    i: usize,
    s: &'a ScenarioSummary,
    host_cores: usize,
    failures: &[Failure],
) -> ScenarioView<'a> {
    let id = anchor(i);
    let found = insight::findings(s);
    let failed = |ci: usize| {
        failures
            .iter()
            .any(|f| f.scenario == i && f.cell == Some(ci))
    };
    let (low, high) = other_percentiles(s);
    let values = |c: &crate::stats::CellSummary, names: &[String]| -> Vec<String> {
        names
            .iter()
            .map(|n| {
                c.latency_us
                    .percentiles
                    .get(n)
                    .map_or_else(|| "-".to_string(), |v| units::micros(*v))
            })
            .collect()
    };
    let (spectrum_svg, problems) = figures::spectrum_chart(&format!("{id}-spectrum"), s);
    let [timeline_throughput_svg, timeline_p99_svg] =
        figures::timeline_charts(&format!("{id}-timeline"), s);
    let sweep = figures::is_sweep(s).then(|| {
        let [throughput_svg, p99_svg] = figures::sweep_charts(&format!("{id}-sweep"), s);
        SweepView {
            throughput_svg,
            p99_svg,
        }
    });
    let capacity = s
        .cells
        .iter()
        .filter_map(|c| {
            let x = c.capacity.as_ref()?;
            Some(CapacityView {
                label: label(c),
                headline: insight::capacity::headline(x),
                none: x.capacity_per_s.is_none(),
                header: insight::capacity::PROBE_HEADER.to_vec(),
                rows: x
                    .probes
                    .iter()
                    .map(|p| insight::capacity::probe_row(p).to_vec())
                    .collect(),
            })
        })
        .collect();
    let fits = insight::scalability::scalability(s);
    let scalability = (!fits.is_empty()).then(|| {
        let [usl_svg, latency_svg] =
            figures::scalability_charts(&format!("{id}-scalability"), s, &fits);
        ScalabilityView {
            lines: fits
                .iter()
                .map(|m| format!("{}: {}", m.label(), m.words))
                .collect(),
            usl_svg,
            latency_svg,
        }
    });
    let total_ops = s
        .cells
        .iter()
        .fold(0u64, |a, c| a.saturating_add(c.operations));
    let open = s
        .cells
        .iter()
        .filter_map(|c| {
            let o = c.open.as_ref()?;
            Some(OpenView {
                label: label(c),
                target: units::number(o.target_rate_per_s),
                achieved: units::number(o.achieved_rate_per_s),
                scheduled: o.scheduled,
                dropped: o.dropped,
                corrected_p50: units::micros(c.latency_us.p50),
                corrected_p99: units::micros(c.latency_us.p99),
                uncorrected_p50: units::micros(o.latency_uncorrected_us.p50),
                uncorrected_p99: units::micros(o.latency_uncorrected_us.p99),
                lag_p99: units::micros(o.send_lag_us.p99),
                behind: o.rate_not_reached,
            })
        })
        .collect();
    ScenarioView {
        open,
        name: &s.name,
        anchor: id.clone(),
        description: s.description.as_deref().unwrap_or(""),
        kind: s.kind.as_str(),
        kind_words: match s.kind {
            Bound::Io => "HTTP requests",
            Bound::Cpu => "a CPU kernel",
        },
        bound: s.bound.as_str(),
        bound_class: insight::bound_words(s).0,
        bound_words: insight::bound_words(s).1,
        evidence: found.evidence,
        surprise: found.surprise,
        bound_cell: &s.bound_cell,
        workload: &s.workload,
        load: &s.load,
        tls_insecure: s.tls_insecure,
        fastest: found.fastest_label,
        fastest_detail: found.fastest_detail,
        finding: found.headline,
        speedup_svg: figures::speedup_chart(&format!("{id}-speedup"), s, host_cores),
        spectrum_svg,
        sweep,
        capacity,
        scalability,
        timeline_throughput_svg,
        timeline_p99_svg,
        errors_over_time_svg: figures::errors_over_time(&format!("{id}-errors-over-time"), s),
        over_time: figures::requests_over_time(&format!("{id}-over-time"), s)
            .into_iter()
            .map(|o| OverTimeView {
                anchor: cell_anchor(i, o.cell),
                label: o.label,
                charts: o.charts,
            })
            .collect(),
        errors_svg: figures::breakdown_chart(&format!("{id}-errors-chart"), s, Breakdown::Errors),
        no_errors: format!("No errors: all {total_ops} operations of this scenario succeeded."),
        status_svg: figures::breakdown_chart(&format!("{id}-status"), s, Breakdown::StatusCodes),
        error_rows: s
            .cells
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| {
                insight::error_groups(c)
                    .into_iter()
                    .map(move |group| ErrorRow {
                        anchor: cell_anchor(i, ci),
                        label: label(c),
                        group,
                    })
            })
            .collect(),
        connections: connections_view(i, s),
        requests: requests_view(i, s),
        problems,
        thresholds: thresholds(i, s),
        rows: s
            .cells
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let flags = insight::cell_flags(c, s.kind, host_cores);
                let (status, status_mark) = cell_status(failed(ci), &flags);
                let short = status_short(failed(ci), &flags);
                let status_detail = (short != status_mark).then(|| status_mark.clone());
                RowView {
                    anchor: cell_anchor(i, ci),
                    label: label(c),
                    model: c.model.as_str(),
                    concurrency: c.concurrency,
                    workers: c.workers,
                    operations: c.operations,
                    errors: c.errors.values().fold(0u64, |a, n| a.saturating_add(*n)),
                    error_rate: numbers::error_rate(c),
                    wall: format!("{:.2} s", c.wall_seconds),
                    throughput: numbers::throughput(c),
                    requests_per_s: c
                        .requests_per_s
                        .map(|r| format!("{} requests/s", units::number(r))),
                    attempts: numbers::attempts(c),
                    p50: numbers::p50(c),
                    p90: numbers::p90(c),
                    p99: numbers::p99(c),
                    p999: units::micros(c.latency_us.p999),
                    percentiles_low: values(c, &low),
                    percentiles_high: values(c, &high),
                    max: units::micros(c.latency_us.max),
                    cores_busy: numbers::cores_busy(c),
                    speedup: numbers::speedup(s, c),
                    fastest: Some(ci) == found.fastest,
                    flags: flags
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    status,
                    status_mark,
                    status_short: short,
                    status_detail,
                    incomplete: !c.complete,
                    notes: c.notes.join("; "),
                }
            })
            .collect(),
        rounds_note: numbers::rounds_note(s),
        compares: compares_models(s),
        columns: 16 + low.len() + high.len(),
        percentiles_low: low,
        percentiles_high: high,
    }
}

/// The other percentiles the cells carry (those the plan's thresholds name, `p95`), in order:
/// those below p99, then the others.
fn other_percentiles(s: &ScenarioSummary) -> (Vec<String>, Vec<String>) {
    // Keyed as summary.json keys them: `p95`, `p99.99`.
    let mut named: Vec<(f64, String)> = s
        .cells
        .iter()
        .flat_map(|c| c.latency_us.percentiles.keys())
        .filter_map(|n| Some((n.strip_prefix('p')?.parse::<f64>().ok()?, n.clone())))
        .collect();
    named.sort_by(|a, b| a.0.total_cmp(&b.0));
    named.dedup_by(|a, b| a.1 == b.1);
    let (low, high): (Vec<_>, Vec<_>) = named.into_iter().partition(|(p, _)| *p < 99.0);
    let names = |v: Vec<(f64, String)>| v.into_iter().map(|(_, n)| n).collect();
    (names(low), names(high))
}
