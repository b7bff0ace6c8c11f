//! `index.html`: one self-contained page rendered by handlebars from `templates/` (embedded in the
//! binary). Every plan-provided string goes through `{{…}}`, which escapes HTML; only our own
//! generated markup would use `{{{…}}}`.
//!
//! Input: a [`Summary`]. Output: HTML bytes. The view model below turns numbers into the words and
//! formatted values the template shows, so the template holds no logic beyond loops.

use handlebars::Handlebars;
use serde::Serialize;

use super::format;
use super::{ReportError, Reporter};
use crate::plan::{Model, cell_label};
use crate::stats::{Bound, CellSummary, ScenarioSummary, Summary, Verdict};

const TEMPLATE: &str = include_str!("../../templates/report.html.hbs");

pub struct Html {
    registry: Handlebars<'static>,
}

impl Html {
    pub fn new() -> Result<Html, ReportError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry
            .register_template_string("report", TEMPLATE)
            .map_err(|e| ReportError::Render {
                file: "index.html",
                reason: e.to_string(),
            })?;
        Ok(Html { registry })
    }
}

impl Reporter for Html {
    fn file_name(&self) -> &'static str {
        "index.html"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        self.registry
            .render("report", &View::new(summary))
            .map(String::into_bytes)
            .map_err(|e| ReportError::Render {
                file: "index.html",
                reason: e.to_string(),
            })
    }
}

#[derive(Serialize)]
struct View<'a> {
    plan: &'a str,
    description: &'a str,
    file: &'a str,
    verdict: &'static str,
    started_at: &'a str,
    duration: String,
    cores: usize,
    os: String,
    version: &'a str,
    ci: Vec<(&'static str, String)>,
    scenarios: Vec<ScenarioView<'a>>,
    source: &'a str,
}

#[derive(Serialize)]
struct ScenarioView<'a> {
    name: &'a str,
    anchor: String,
    description: &'a str,
    kind: &'static str,
    bound: &'static str,
    busy: String,
    bound_cell: &'a str,
    workload: &'a [String],
    load: &'a str,
    fastest: String,
    finding: String,
    rows: Vec<RowView>,
}

#[derive(Serialize)]
struct RowView {
    label: String,
    model: &'static str,
    concurrency: usize,
    workers: usize,
    operations: u64,
    errors: u64,
    error_rate: String,
    throughput: String,
    p50: String,
    p90: String,
    p99: String,
    p999: String,
    max: String,
    cores_busy: String,
    speedup: String,
    incomplete: bool,
    notes: String,
}

impl<'a> View<'a> {
    fn new(s: &'a Summary) -> View<'a> {
        let mut ci = Vec::new();
        if let Some(c) = &s.ci {
            ci.push(("CI", c.system.clone()));
            for (k, v) in [
                ("commit", &c.commit),
                ("branch", &c.branch),
                ("job", &c.job_url),
            ] {
                if let Some(v) = v {
                    ci.push((k, v.clone()));
                }
            }
        }
        View {
            plan: &s.plan.name,
            description: s.plan.description.as_deref().unwrap_or(""),
            file: &s.plan.file,
            verdict: match s.verdict {
                Verdict::Passed => "passed",
                Verdict::Failed => "failed",
                Verdict::Interrupted => "interrupted",
            },
            started_at: &s.started_at,
            duration: format!("{:.1} s", s.duration_seconds),
            cores: s.host.cores,
            os: format!("{} {}", s.host.os, s.host.arch),
            version: &s.loadplan_version,
            ci,
            scenarios: s
                .scenarios
                .iter()
                .enumerate()
                .map(|(i, sc)| scenario_view(i, sc))
                .collect(),
            source: &s.plan.source,
        }
    }
}

fn label(c: &CellSummary) -> String {
    cell_label(c.model, c.concurrency, c.workers)
}

fn scenario_view(i: usize, s: &ScenarioSummary) -> ScenarioView<'_> {
    let fastest = s
        .cells
        .iter()
        .filter(|c| c.operations > 0)
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    ScenarioView {
        name: &s.name,
        anchor: format!("scenario-{}", i + 1),
        description: s.description.as_deref().unwrap_or(""),
        kind: s.kind.as_str(),
        bound: s.bound.as_str(),
        busy: format::percent(s.busy_fraction),
        bound_cell: &s.bound_cell,
        workload: &s.workload,
        load: &s.load,
        fastest: fastest.map(label).unwrap_or_else(|| "none".into()),
        finding: finding(s),
        rows: s
            .cells
            .iter()
            .map(|c| RowView {
                label: label(c),
                model: c.model.as_str(),
                concurrency: c.concurrency,
                workers: c.workers,
                operations: c.operations,
                errors: c.errors.values().sum(),
                error_rate: format::percent(c.error_rate),
                throughput: format::number(c.throughput_per_s),
                p50: format::micros(c.latency_us.p50),
                p90: format::micros(c.latency_us.p90),
                p99: format::micros(c.latency_us.p99),
                p999: format::micros(c.latency_us.p999),
                max: format::micros(c.latency_us.max),
                cores_busy: format::number(c.cores_busy),
                speedup: format::speedup(c.speedup),
                incomplete: !c.complete,
                notes: c.notes.join("; "),
            })
            .collect(),
    }
}

/// One plain sentence stating what the numbers show.
pub(crate) fn finding(s: &ScenarioSummary) -> String {
    let best = s
        .cells
        .iter()
        .filter(|c| c.model != Model::Sequential && c.speedup.is_some())
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    let Some(best) = best else {
        return match s.bound {
            Bound::Io => format!(
                "The runner was busy {} of the time: this scenario is I/O-bound (it mostly waited).",
                format::percent(s.busy_fraction)
            ),
            Bound::Cpu => format!(
                "The runner was busy {} of the time: this scenario is CPU-bound (it mostly computed).",
                format::percent(s.busy_fraction)
            ),
        };
    };
    let speed = format::speedup(best.speedup);
    let cores = format::number(best.cores_busy);
    let mut sentence = match s.bound {
        Bound::Io => format!(
            "{} was {speed} faster than sequential while keeping {cores} cores busy: the time was spent waiting, and concurrency overlaps waiting.",
            label(best)
        ),
        Bound::Cpu => format!(
            "{} was {speed} faster than sequential using {cores} cores: the work was computation, which only runs faster on more cores at once.",
            label(best)
        ),
    };
    if s.bound == Bound::Cpu {
        if let Some(a) = s
            .cells
            .iter()
            .find(|c| c.model == Model::Async && c.workers == 1)
        {
            sentence.push_str(&format!(
                " A single-threaded async event loop ran it at {} of sequential speed: a task computing never yields to the others.",
                format::speedup(a.speedup)
            ));
        }
        if let Some(t) = s
            .cells
            .iter()
            .filter(|c| c.model == Model::Threads)
            .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s))
            .filter(|t| t.speedup.is_some_and(|x| x > 1.2))
        {
            sentence.push_str(&format!(
                " Threads sped it up {} because Rust threads compute on several cores at once (CPython's interpreter lock would not allow that).",
                format::speedup(t.speedup)
            ));
        }
    }
    sentence
}
