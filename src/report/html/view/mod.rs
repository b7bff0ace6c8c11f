//! The view model of `index.html`: the summary laid out for the template, so that the template
//! holds no logic beyond loops and conditions. The words come from `insight/` (health,
//! findings, why the run failed, errors) and `connections.rs`, the charts from `figures/`.
//!
//! Input: a [`Summary`]. Output: [`View`], serialised for handlebars. Every string here is
//! escaped by the template (`{{…}}`) except the SVG of our own charts (`*_svg`). Must not
//! format markup. One scenario's view is in `scenario.rs`, why the run failed and the baseline
//! comparison in `verdict.rs`.

mod scenario;
mod verdict;

use serde::Serialize;

use crate::report::insight;
use crate::stats::{CellSummary, Summary, Verdict};
use scenario::{ScenarioView, SloView, compares_models, scenario_view, slo_view};
use verdict::{BaselineView, WhyFailed, WhyInvalid, baseline_view, why_failed, why_invalid};

#[derive(Serialize)]
pub(super) struct View<'a> {
    plan: &'a str,
    description: &'a str,
    file: &'a str,
    verdict: &'static str,
    /// The verdict with its icon: `✘ failed`.
    verdict_mark: &'static str,
    /// The validity rules the run broke: first on the page, above why it failed.
    why_invalid: Option<WhyInvalid>,
    /// When the verdict is `failed` (or `invalid` with failed checks): why.
    why_failed: Option<WhyFailed>,
    started_at: String,
    finished_at: String,
    duration: String,
    cores: usize,
    os: String,
    version: &'a str,
    ci: Vec<CiRow>,
    cell_count: usize,
    health: Vec<HealthItem>,
    /// What was checked, said when nothing was found.
    health_criteria: String,
    scenarios: Vec<ScenarioView<'a>>,
    /// Some scenario compares two or more models: the page's model comparison is shown.
    compares: bool,
    /// The scenarios of one model, each leading with its SLOs and per-request latency, above
    /// everything but why the run failed.
    slos: Vec<SloView>,
    baseline: Option<BaselineView<'a>>,
    /// Scenario groups' combined figures, a row per group and position.
    groups: Vec<GroupRow>,
    /// `before:` and `after:`'s requests, a row each.
    once: Vec<OnceRow>,
    source: &'a str,
}

#[derive(Serialize)]
struct GroupRow {
    group: String,
    members: String,
    cell: String,
    operations: u64,
    error_rate: String,
    throughput: String,
    p50: String,
    p99: String,
    max: String,
    /// The group's thresholds on this cell: `✔ p95 < 200ms (observed 8.1ms)`.
    thresholds: Vec<String>,
}

#[derive(Serialize)]
struct OnceRow {
    key: String,
    request: String,
    requests: u64,
    errors: u64,
    p50: String,
    p90: String,
    p99: String,
    max: String,
}

fn group_rows(s: &Summary) -> Vec<GroupRow> {
    use crate::units;
    s.groups
        .iter()
        .flat_map(|g| {
            g.cells.iter().map(|c| GroupRow {
                group: g.name.clone(),
                members: g.members.join(" + "),
                cell: label(c),
                operations: c.operations,
                error_rate: units::percent(c.error_rate),
                throughput: units::number(c.throughput_per_s),
                p50: units::micros(c.latency_us.p50),
                p99: units::micros(c.latency_us.p99),
                max: units::micros(c.latency_us.max),
                thresholds: c
                    .thresholds
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {} (observed {})",
                            insight::mark(t.passed),
                            t.expression,
                            t.observed_text
                        )
                    })
                    .collect(),
            })
        })
        .collect()
}

fn once_rows(s: &Summary) -> Vec<OnceRow> {
    use crate::units;
    s.once
        .iter()
        .flat_map(|o| {
            o.requests.iter().map(|q| OnceRow {
                key: o.key.clone(),
                request: q.name.clone(),
                requests: q.operations,
                errors: q.operations.saturating_sub(q.successes),
                p50: units::micros(q.latency_us.p50),
                p90: units::micros(q.latency_us.p90),
                p99: units::micros(q.latency_us.p99),
                max: units::micros(q.latency_us.max),
            })
        })
        .collect()
}

#[derive(Serialize)]
struct CiRow {
    key: &'static str,
    value: String,
    /// Only `http(s)` URLs become links: an environment variable could hold `javascript:`.
    link: Option<String>,
}

#[derive(Serialize)]
struct HealthItem {
    /// `warning` (the numbers may not mean what they seem) or `note` (worth knowing).
    level: &'static str,
    /// `Warning` or `Note`, printed before the title.
    word: &'static str,
    title: &'static str,
    detail: String,
    cells: Vec<HealthCell>,
}

#[derive(Serialize)]
struct HealthCell {
    anchor: String,
    text: String,
}

impl<'a> View<'a> {
    pub(super) fn new(s: &'a Summary) -> View<'a> {
        let mut ci = Vec::new();
        if let Some(c) = &s.ci {
            ci.push(CiRow {
                key: "CI",
                value: c.system.clone(),
                link: None,
            });
            for (key, v) in [
                ("commit", &c.commit),
                ("branch", &c.branch),
                ("job", &c.job_url),
            ] {
                if let Some(v) = v {
                    let link = (key == "job"
                        && (v.starts_with("https://") || v.starts_with("http://")))
                    .then(|| v.clone());
                    ci.push(CiRow {
                        key,
                        value: v.clone(),
                        link,
                    });
                }
            }
        }
        let failures = insight::failures(s);
        View {
            plan: &s.plan.name,
            description: s.plan.description.as_deref().unwrap_or(""),
            file: &s.plan.file,
            verdict: match s.verdict {
                Verdict::Passed => "passed",
                Verdict::Failed => "failed",
                Verdict::Invalid => "invalid",
                Verdict::Interrupted => "interrupted",
            },
            verdict_mark: match s.verdict {
                Verdict::Passed => insight::mark(true),
                Verdict::Failed => insight::mark(false),
                Verdict::Invalid => "⚠ invalid",
                Verdict::Interrupted => "⚠ interrupted",
            },
            why_invalid: why_invalid(s),
            why_failed: (s.verdict == Verdict::Failed
                || (s.verdict == Verdict::Invalid && !failures.is_empty()))
            .then(|| why_failed(&failures)),
            started_at: s.started_at.to_string(),
            finished_at: s.finished_at.to_string(),
            duration: format!("{:.1} s", s.duration_seconds),
            cores: s.host.cores,
            os: format!("{} {}", s.host.os, s.host.arch),
            version: &s.loadplan_version,
            ci,
            cell_count: s.scenarios.iter().map(|sc| sc.cells.len()).sum(),
            health: health(s),
            health_criteria: insight::health_criteria(s),
            scenarios: s
                .scenarios
                .iter()
                .enumerate()
                .map(|(i, sc)| scenario_view(i, sc, s.host.cores, &failures))
                .collect(),
            compares: s.scenarios.iter().any(compares_models),
            slos: s
                .scenarios
                .iter()
                .enumerate()
                .filter(|(_, sc)| !compares_models(sc))
                .map(|(i, sc)| slo_view(i, sc))
                .collect(),
            baseline: s.baseline.as_ref().map(|b| baseline_view(s, b)),
            groups: group_rows(s),
            once: once_rows(s),
            source: &s.plan.source,
        }
    }
}

fn label(c: &CellSummary) -> String {
    c.label()
}

fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

/// The row of cell `cell` of scenario `scenario` in its table.
fn cell_anchor(scenario: usize, cell: usize) -> String {
    format!("scenario-{}-cell-{}", scenario + 1, cell + 1)
}

/// The health items of `insight`, each cell linked to its scenario's section.
fn health(s: &Summary) -> Vec<HealthItem> {
    insight::health(s)
        .into_iter()
        .map(|h| HealthItem {
            level: h.severity.as_str(),
            word: h.severity.word(),
            title: h.title,
            detail: h.detail,
            cells: h
                .cells
                .into_iter()
                .map(|c| HealthCell {
                    anchor: anchor(c.scenario),
                    text: c.text,
                })
                .collect(),
        })
        .collect()
}
