//! `index.html`: one self-contained page rendered by handlebars from `templates/` (embedded in the
//! binary, or read from a folder given with `--templates`). Every plan-provided string, and
//! every error message a server sent, goes through `{{…}}`, which escapes HTML; only our own
//! generated SVG (`figures/` on the chart kit, which escapes its own text) goes through `{{{…}}}`.
//!
//! Input: a [`Summary`]. Output: HTML bytes. The view model (`view.rs`) lays out the words of
//! `insight/` (why the run failed, health, findings, errors) and `connections.rs`, and the
//! charts of `figures/`, for the template, so the template holds no logic beyond loops and
//! conditions. A failed run's page opens with why it failed. Must not write files or reach the
//! network; a template folder is read once, when the reporter is built (before any load is
//! sent), and is checked then by a trial render.

use std::path::{Path, PathBuf};

use handlebars::Handlebars;

mod view;

use super::sample::sample;
use super::{ReportError, Reporter, page};
use crate::stats::Summary;
use view::View;

/// The main template's file name, embedded or in a template folder.
pub const MAIN_TEMPLATE: &str = "report.html.hbs";
const TEMPLATE: &str = include_str!("../../../templates/report.html.hbs");
/// Partials embedded beside the main template; a template folder may replace any of them.
const PARTIALS: [(&str, &str); 2] = [
    ("style", include_str!("../../../templates/style.hbs")),
    ("scenario", include_str!("../../../templates/scenario.hbs")),
];

pub struct Html {
    registry: Handlebars<'static>,
}

impl Html {
    /// The embedded templates, or those of `dir`: its `report.html.hbs`, and every other `*.hbs`
    /// file as a partial named after it (`style.hbs` → `{{> style}}`), replacing the embedded one.
    pub fn new(dir: Option<&Path>) -> Result<Html, ReportError> {
        let mut registry = page::registry();
        for (name, text) in PARTIALS {
            registry
                .register_partial(name, text)
                .map_err(|e| embedded_error(&e))?;
        }
        let Some(dir) = dir else {
            registry
                .register_template_string("report", TEMPLATE)
                .map_err(|e| embedded_error(&e))?;
            return Ok(Html { registry });
        };
        load_folder(&mut registry, dir)?;
        let html = Html { registry };
        // Strict mode finds a misspelt field only when rendering: find it now, before the load,
        // in the sample as it is and failed (which adds the "why it failed" panel).
        let mut failed = sample();
        failed.verdict = crate::stats::Verdict::Failed;
        for s in [sample(), failed] {
            html.registry
                .render("report", &View::new(&s))
                .map_err(|e| ReportError::Template {
                    path: dir.join(MAIN_TEMPLATE),
                    reason: e.to_string(),
                })?;
        }
        Ok(html)
    }
}

fn embedded_error(e: &impl std::fmt::Display) -> ReportError {
    ReportError::Render {
        file: "index.html",
        reason: format!("embedded template: {e}"),
    }
}

fn load_folder(registry: &mut Handlebars<'static>, dir: &Path) -> Result<(), ReportError> {
    let err = |path: &Path, reason: String| ReportError::Template {
        path: path.to_path_buf(),
        reason,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e.to_string()))?;
    let mut main: Option<(PathBuf, String)> = None;
    for entry in entries {
        let path = entry.map_err(|e| err(dir, e.to_string()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".hbs") else {
            continue;
        };
        let bytes = crate::files::read_template(&path).map_err(|e| err(&path, e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| err(&path, "not UTF-8 text".into()))?;
        if name == MAIN_TEMPLATE {
            main = Some((path, text));
        } else {
            registry
                .register_partial(stem, text)
                .map_err(|e| err(&path, e.to_string()))?;
        }
    }
    let Some((path, text)) = main else {
        return Err(err(
            &dir.join(MAIN_TEMPLATE),
            format!("not found: a template folder must hold {MAIN_TEMPLATE}"),
        ));
    };
    registry
        .register_template_string("report", text)
        .map_err(|e| err(&path, e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::report::insight;
    use crate::report::sample::{behind_schedule, healthy, snapshot};
    use crate::stats::Verdict;
    use crate::stats::{TimelinePoint, histogram_to_base64, new_histogram};

    const HOSTILE: &str = r#"<script>alert("x")</script> & co"#;
    const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co";

    fn render(s: &Summary) -> String {
        let html = Html::new(None).expect("embedded templates load");
        let bytes = html.render(s).expect("renders");
        String::from_utf8(bytes).expect("utf-8")
    }

    /// The text between `start` (included) and the next `end` (included).
    fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
        let a = page
            .find(start)
            .unwrap_or_else(|| panic!("no {start:?} in page"));
        let b = page[a..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?} after {start:?}"));
        &page[a..a + b + end.len()]
    }

    /// The health section of a page.
    fn health_of(page: &str) -> &str {
        between(
            page,
            r#"<section aria-labelledby="health-title">"#,
            "</section>",
        )
    }

    fn count(page: &str, needle: &str) -> usize {
        page.matches(needle).count()
    }

    #[test]
    fn plan_strings_are_escaped_everywhere() {
        let mut s = sample();
        s.plan.name = HOSTILE.into();
        s.plan.description = Some(HOSTILE.into());
        s.plan.file = HOSTILE.into();
        s.plan.source = format!("name: {HOSTILE}\ntoken: ${{API_TOKEN}}\n");
        for sc in &mut s.scenarios {
            sc.name = HOSTILE.into();
            sc.description = Some(HOSTILE.into());
            sc.workload = vec![HOSTILE.into()];
            sc.load = HOSTILE.into();
        }
        if let Some(ci) = &mut s.ci {
            ci.branch = Some(HOSTILE.into());
            ci.job_url = Some(r#"javascript:alert("x")"#.into());
        }
        let page = render(&s);
        // The template has no script of its own: any `<script` came from the plan.
        assert_eq!(count(&page, "<script"), 0, "raw <script> in the page");
        assert!(!page.contains(r#"alert("x")"#), "a raw quote survived");
        assert!(!page.contains("</script> & co"), "a raw ampersand survived");
        // Title, h1, description, plan file, scenario headings, panel cards, workload, source…
        assert!(count(&page, HOSTILE_ESCAPED) >= 10, "{page}");
        // …and inside the SVG charts' accessible names, escaped by svg.rs.
        assert!(page.contains(&format!(
            "Latency percentile spectrum of scenario {HOSTILE_ESCAPED}"
        )));
        assert!(page.contains("token: ${API_TOKEN}"));
        assert!(!page.contains("href=\"javascript"), "unsafe job URL linked");
    }

    #[test]
    fn every_id_on_the_page_is_unique() {
        let page = render(&sample());
        let mut seen = std::collections::BTreeSet::new();
        for part in page.split(" id=\"").skip(1) {
            let id = &part[..part.find('"').expect("closed")];
            assert!(seen.insert(id.to_string()), "id {id:?} twice");
        }
        assert!(seen.len() > 20, "{seen:?}");
    }

    #[test]
    fn every_scenario_has_its_table_and_charts() {
        let s = sample();
        let page = render(&s);
        let n = s.scenarios.len();
        assert_eq!(count(&page, "<h1>"), 1);
        for (i, sc) in s.scenarios.iter().enumerate() {
            let id = format!("scenario-{}", i + 1);
            let section = between(
                &page,
                &format!(r#"<section class="scenario" id="{id}""#),
                "</section>",
            );
            assert_eq!(count(section, r#"<table class="cells">"#), 1, "{id}");
            let cells = between(section, r#"<table class="cells">"#, "</table>");
            assert_eq!(
                count(cells, "<tr class="),
                sc.cells.len(),
                "{id}: one row per cell"
            );
            // A flow's steps each have a row per cell, the iteration last, and a chart.
            if crate::report::requests::shown(sc) {
                let requests = between(section, r#"<table class="requests">"#, "</table>");
                let steps: usize = sc.cells.iter().map(|c| c.requests.len()).sum();
                let iterations = sc.cells.iter().filter(|c| c.think_us.is_some()).count();
                assert_eq!(count(requests, "<tr"), 1 + steps + iterations, "{id}");
                assert_eq!(count(requests, r#"class="iteration""#), iterations, "{id}");
                assert_eq!(count(section, "chart chart-requests"), 1, "{id}");
            }
            for class in [
                "chart-spectrum",
                "chart-sweep-throughput",
                "chart-sweep-p99",
                "chart-timeline-throughput",
                "chart-timeline-p99",
                "chart-errors",
                "chart-status",
            ] {
                assert_eq!(
                    count(section, &format!("chart {class}")),
                    1,
                    "{id}: {class}"
                );
            }
            assert!(
                page.contains(&format!(r#"id="{id}-speedup""#)),
                "{id}: speedup chart"
            );
        }
        assert_eq!(count(&page, "chart chart-speedup"), n);
        // Every chart is named for assistive technology and has data points with tooltips.
        assert_eq!(
            count(&page, "<svg "),
            count(&page, r#"role="img" aria-labelledby="#)
        );
        assert!(count(&page, "<circle") + count(&page, "<rect x=") > 20);
        // Health: the sample's cells are short, one has errors and is incomplete.
        let health = health_of(&page);
        for words in [
            "The run was interrupted.",
            "Incomplete cells.",
            "Error rate above a few percent.",
            "Cells too short to be meaningful.",
        ] {
            assert!(health.contains(words), "health lacks {words:?}: {health}");
        }
        // Header: CI metadata, with the job URL as a link.
        assert!(page.contains(r#"<a href="https://ci.example/job/1">"#));
        assert!(page.contains("<dd>0123abc</dd>"));
        // Baseline: the failed check is listed.
        assert!(
            page.contains(r#"Baseline comparison: <span class="mark mark-failed">✘ failed</span>"#)
        );
        assert!(page.contains("<td>+30.0%</td>"));
        // …linked to the row of its cell, which says it failed.
        assert!(
            page.contains(r##"<a href="#scenario-1-cell-2">sample · async c&#x3D;2 w&#x3D;1</a>"##)
        );
        assert!(page.contains(r#"id="scenario-1-cell-2"><th scope="row">async"#));
        // Issue 23: a change the data cannot tell from noise is inconclusive, with its evidence.
        let baseline = between(&page, r#"<table class="baseline">"#, "</table>");
        assert!(
            baseline.contains(
                r#"<td>throughput_per_s</td><td>17.0/s</td><td>14.4/s</td><td>-15.3%</td><td><span class="mark mark-noise">? inconclusive</span> <span class="muted">(beyond the tolerance, but not beyond the noise; change -40.0% to +10.0% (95%); could detect ≤ 9.80/s (-42.0%))</span></td>"#
            ),
            "{baseline}"
        );
        assert!(
            page.contains("2 checks, 1 regressed, 1 inconclusive"),
            "{page}"
        );
        assert_eq!(count(baseline, r#"<tr><th scope="row">"#), 2);
    }

    #[test]
    fn a_healthy_run_says_what_was_checked() {
        let s = healthy();
        let page = render(&s);
        assert!(
            page.contains(r#"<p class="health-ok">No warnings."#),
            "{page}"
        );
        // No errors anywhere: each scenario says so instead of drawing an empty chart.
        assert_eq!(count(&page, "chart chart-errors"), 0);
        assert_eq!(
            count(&page, r#"<p class="no-errors">No errors"#),
            s.scenarios.len()
        );
    }

    #[test]
    fn an_http_runner_at_full_cores_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[1].cores_busy = 0.9; // host has 1 core
        s.scenarios[1].cells[1].cores_busy = 0.9; // a CPU kernel: expected, only a note
        let page = render(&s);
        let health = health_of(&page);
        assert!(health.contains("The load generator was the bottleneck."));
        assert_eq!(count(health, "0.90 of 1 cores busy"), 2);
        assert!(
            health.contains(
                r#"<li class="note"><strong>Note: The cores of the machine were saturated"#
            )
        );
        assert!(page.contains("short, errors, runner saturated"));
    }

    /// Snapshot tests of the parts whose markup is stable (see [`snapshot`]).
    #[test]
    fn snapshots_of_stable_parts() {
        let page = render(&sample());
        snapshot("header.html", between(&page, "<header>", "</header>"));
        snapshot("health.html", health_of(&page));
        snapshot(
            "cells-table.html",
            between(&page, r#"<table class="cells">"#, "</table>"),
        );
        snapshot(
            "speedup.svg",
            between(
                &page,
                r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-speedup""#,
                "</svg>",
            ),
        );
    }

    /// The sample, failed: a threshold of `async c=2 w=1` broken, its baseline check failed,
    /// and it lost a worker.
    fn failed() -> Summary {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        let t = &mut s.scenarios[0].cells[1].thresholds[0];
        t.passed = false;
        t.expression = "p99 < 10ms".into();
        t.limit = 10_000.0;
        s
    }

    #[test]
    fn a_failed_run_says_why_before_anything_else() {
        let page = render(&failed());
        let why = between(&page, r#"<section class="why-failed""#, "</section>");
        // First in <main>, before the models are compared.
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle}"));
        let panel = at(r#"<section class="why-failed""#);
        assert!(at("<main>") < panel && panel < at(r#"id="bound-title""#));
        assert!(why.contains("✘ Why it failed: 1 threshold, 1 baseline check and 2 cells"));
        snapshot("why-failed.html", why);
        // The threshold: expression, observed value and limit, linked to its cell's row.
        assert!(why.contains(
            r##"<th scope="row"><a href="#scenario-1-cell-2">sample · async c&#x3D;2 w&#x3D;1</a></th><td class="text"><code class="expression">p99 &lt; 10ms</code></td><td class="observed"><strong>52.0ms</strong></td><td>10.0ms</td>"##
        ), "{why}");
        assert!(why.contains("did not complete: a worker exited"));
        assert_eq!(
            count(why, r#"<span class="mark mark-failed">✘ failed</span>"#),
            4
        );
        // The cells the panel links to exist.
        for anchor in why.split(r##"href="#"##).skip(1) {
            let id = anchor.split('"').next().unwrap_or_default();
            assert!(page.contains(&format!(r#"id="{id}""#)), "no {id}");
        }
        // The row says it failed too, with an icon and a word.
        assert!(page.contains(r#"<td class="flags flags-fail">✘ failed</td>"#));
        // The column stays narrow: the whole of it on the row under the cell.
        assert!(page.contains("✘ failed · incomplete, short, errors</td></tr>"));
        assert!(page.contains(r#"<span class="verdict verdict-failed">✘ failed</span>"#));
        // A run that passed, or was interrupted, has no such panel.
        for verdict in [Verdict::Passed, Verdict::Interrupted] {
            let mut s = failed();
            s.verdict = verdict;
            let page = render(&s);
            assert_eq!(
                count(&page, r#"<section class="why-failed""#),
                0,
                "{verdict:?}"
            );
        }
        // Failed with no reason the summary names: it says so rather than show nothing.
        let mut s = healthy();
        s.baseline = None;
        s.verdict = Verdict::Failed;
        let page = render(&s);
        assert!(page.contains("names no failed threshold, baseline check or failing cell"));
    }

    /// Issue 14: a cell failed by the default error rule reads as errors, with the threshold
    /// that would accept some, in the "why it failed" panel and its scenario's thresholds; never
    /// as a threshold with a limit of 0.
    #[test]
    fn errors_failed_by_default_read_as_what_they_are() {
        let s = crate::report::sample::failed_by_errors("status", "status 404");
        let page = render(&s);
        let why = between(&page, r#"<section class="why-failed""#, "</section>");
        assert!(why.contains("Why it failed: 1 cell"), "{why}");
        assert!(why.contains(
            "sample · sequential</a>: errors: 10 of 10 operations failed (100%), and no error_rate threshold accepts them (first: status 404). To accept some, add <code class=\"expression\">error_rate &lt; 5%</code> to the scenario's thresholds.</li>"
        ), "{why}");
        assert!(
            !why.contains("failed-thresholds"),
            "the rule is no threshold: {why}"
        );
        let thresholds = between(&page, r#"<table class="thresholds">"#, "</table>");
        assert!(thresholds.contains(
            "<td class=\"text\">10 of 10 operations failed (100%)<span class=\"hint\">To accept some, add <code>error_rate &lt; 5%</code>"
        ), "{thresholds}");
    }

    #[test]
    fn pass_and_fail_read_as_icon_word_and_colour() {
        let page = render(&failed());
        let thresholds = between(&page, r#"<table class="thresholds">"#, "</table>");
        assert!(
            thresholds
                .contains(r##"<tr class="failed"><th scope="row"><a href="#scenario-1-cell-2">"##)
        );
        assert!(thresholds.contains(r#"<span class="mark mark-failed">✘ failed</span>"#));
        assert!(thresholds.contains(r#"<span class="mark mark-passed">✔ passed</span>"#));
        let page = render(&healthy());
        assert!(page.contains(r#"<span class="verdict verdict-passed">✔ passed</span>"#));
        assert!(page.contains(r#"<td class="flags flags-ok">✔ ok</td>"#));
    }

    #[test]
    fn http_scenarios_show_their_connections() {
        let page = render(&sample());
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        let table = between(io, r#"<table class="connections">"#, "</table>");
        assert_eq!(count(table, "<tr><th scope=\"row\">"), 3, "{table}");
        assert!(table.contains("<td>2.00ms / 3.00ms</td>"), "{table}");
        assert_eq!(count(io, "chart chart-phases"), 1);
        assert!(io.contains("Setup happens once per connection, not per request"));
        assert!(io.contains("carried 4.00 operations each"));
        // A CPU kernel opens no connection: no panel at all.
        let cpu = between(
            &page,
            r#"<section class="scenario" id="scenario-2""#,
            "</section>",
        );
        assert!(!cpu.contains("connections") && !cpu.contains("chart-phases"));
    }

    #[test]
    fn error_messages_are_listed_and_escaped() {
        let mut s = sample();
        s.scenarios[0].cells[1]
            .error_messages
            .insert("status".into(), vec![HOSTILE.into(), "status 503".into()]);
        let page = render(&s);
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        let errors = between(io, r#"<table class="errors">"#, "</table>");
        assert!(errors.contains(&format!("<li><code>{HOSTILE_ESCAPED}</code></li>")));
        assert!(errors.contains("<li><code>status 503</code></li>"));
        assert_eq!(count(&page, "<script"), 0);
    }

    #[test]
    fn unverified_certificates_are_said_loudly() {
        let mut s = healthy();
        s.scenarios[0].tls_insecure = true;
        let page = render(&s);
        let health = health_of(&page);
        assert!(health.contains("<strong>Warning: TLS certificates were NOT verified.</strong>"));
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        assert!(
            io.contains(r#"<p class="warning loud">⚠ Warning: TLS certificates were NOT verified"#)
        );
        let cpu = between(
            &page,
            r#"<section class="scenario" id="scenario-2""#,
            "</section>",
        );
        assert!(!cpu.contains("loud"));
    }

    /// Charts say their size in pixels, which the page only ever shrinks: text stays at 12 px
    /// whatever the number of scenarios; a chart is half the page wide, or the page's width
    /// for one that has a row to itself (a spectrum, a time axis).
    #[test]
    fn every_chart_has_a_pixel_size_that_fits_half_the_page_or_all_of_it() {
        for s in [sample(), big_summary(1, 1)] {
            let page = render(&s);
            let svgs: Vec<&str> = page.split("<svg ").skip(1).collect();
            assert!(!svgs.is_empty());
            for svg in svgs {
                let width = svg
                    .split(" width=\"")
                    .nth(1)
                    .and_then(|w| w.split('"').next())
                    .and_then(|w| w.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("no width: {}", &svg[..200]));
                let wide = [
                    "chart-spectrum",
                    "chart-timeline",
                    "chart-request-rate",
                    "chart-request-p99",
                    "chart-users",
                    "chart-errors-over-time",
                ]
                .iter()
                .any(|class| svg.contains(class));
                if wide {
                    assert_eq!(width, crate::report::chart::PAGE_WIDTH, "{}", &svg[..200]);
                } else {
                    assert!(width <= 560.0, "{width}");
                }
                assert!(svg.contains(r#"font-size="12""#));
            }
        }
        let style = include_str!("../../../templates/style.hbs");
        assert!(style.contains("svg.chart { display: block; max-width: 100%; height: auto;"));
        assert!(!style.contains("svg.chart { display: block; width: 100%"));
    }

    #[test]
    fn an_open_model_that_missed_its_rate_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[2].open = Some(behind_schedule());
        let page = render(&s);
        let health = health_of(&page);
        assert!(
            health.contains("The arrival rate was not kept."),
            "{health}"
        );
        assert!(health.contains("88.0/s achieved of 100/s planned, 120 of 1000 arrivals dropped"));
    }

    /// Issue 14: a scenario too short to classify shows so instead of a bound, and a cell where
    /// nothing succeeded has "no speedup", in its row and on its bar.
    #[test]
    fn too_short_to_classify_and_no_speedup_are_said() {
        let mut s = sample();
        let sc = &mut s.scenarios[0];
        sc.classified = false;
        sc.bound_cell = String::new();
        let c = &mut sc.cells[1];
        c.successes = 0;
        c.speedup = None;
        c.throughput_per_s = 0.0;
        c.rounds = None;
        let page = render(&s);
        let io = between(
            &page,
            r#"<section class="scenario" id="scenario-1""#,
            "</section>",
        );
        assert!(io.contains(
            r#"<span class="badge badge-unclassified">measured: too short to classify</span>"#
        ));
        assert!(!io.contains("badge-io"), "{io}");
        assert!(
            page.contains(r##"<a href="#scenario-1">sample</a> (too short to classify)</li>"##)
        );
        assert!(page.contains(
            r#"<span class="badge badge-unclassified">too short to classify</span></h3>"#
        ));
        assert!(io.contains("<td>no speedup</td>"), "{io}");
        assert!(page.contains(">no speedup: nothing succeeded</text>"));
        // The CPU scenario keeps its bound.
        assert!(page.contains("measured: cpu-bound"));
    }

    #[test]
    fn findings_state_the_numbers() {
        let s = sample();
        let io = insight::findings(&s.scenarios[0]).headline;
        assert!(
            io.starts_with("async c=4 w=1 was 3.00× (2.70–3.30) faster"),
            "{io}"
        );
    }

    #[test]
    fn a_template_folder_replaces_the_embedded_templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(MAIN_TEMPLATE),
            "<h1>{{plan}}</h1>{{> extra}}{{#each scenarios}}<p>{{name}}: {{bound}}</p>{{/each}}",
        )
        .expect("write");
        std::fs::write(dir.path().join("extra.hbs"), "<p>by {{version}}</p>").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "{{ not a template").expect("write");
        let html = Html::new(Some(dir.path())).expect("loads");
        let mut s = sample();
        s.plan.name = "a & b".into();
        let page = String::from_utf8(html.render(&s).expect("renders")).expect("utf-8");
        assert_eq!(
            page,
            format!(
                "<h1>a &amp; b</h1><p>by {}</p><p>sample: io</p><p>sample: cpu</p>",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn a_partial_alone_overrides_the_embedded_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MAIN_TEMPLATE), TEMPLATE).expect("write");
        std::fs::write(
            dir.path().join("style.hbs"),
            "body { color: rebeccapurple; }",
        )
        .expect("write");
        let html = Html::new(Some(dir.path())).expect("loads");
        let page = String::from_utf8(html.render(&sample()).expect("renders")).expect("utf-8");
        assert!(page.contains("body { color: rebeccapurple; }"));
        assert!(!page.contains("--fg: #1b1f24"), "embedded style still used");
        assert_eq!(
            count(&page, r#"<table class="cells">"#),
            2,
            "embedded scenario partial kept"
        );
    }

    #[test]
    fn bad_template_folders_fail_before_any_load() {
        let err = |dir: &Path| match Html::new(Some(dir)) {
            Ok(_) => panic!("{} accepted", dir.display()),
            Err(e) => e.to_string(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        assert!(err(&missing).contains("nope"));
        let e = err(dir.path());
        assert!(e.contains("must hold report.html.hbs"), "{e}");
        // A syntax error names the file.
        std::fs::write(dir.path().join(MAIN_TEMPLATE), "{{#each scenarios}}").expect("write");
        let e = err(dir.path());
        assert!(e.contains(MAIN_TEMPLATE), "{e}");
        // A misspelt field is found by the trial render, not after the run, also inside the
        // panel only a failed run shows.
        for (template, misspelt) in [
            ("{{#each scenarios}}{{nmae}}{{/each}}", "nmae"),
            ("{{#if why_failed}}{{why_failed.cuont}}{{/if}}", "cuont"),
        ] {
            std::fs::write(dir.path().join(MAIN_TEMPLATE), template).expect("write");
            let e = err(dir.path());
            assert!(e.contains(misspelt), "{e}");
        }
    }

    /// A summary of `scenarios` × `cells` cells with realistic histograms and minute-long
    /// timelines.
    /// Issue 25: the model comparison leads only where a scenario compares models; a scenario
    /// of one model leads with its SLOs instead, every threshold with observed, limit and result.
    #[test]
    fn the_layout_follows_what_the_plan_compares() {
        let compared = sample();
        assert!(compared.scenarios.iter().any(|sc| {
            let first = sc.cells.first().map(|c| c.model);
            sc.cells.iter().any(|c| Some(c.model) != first)
        }));
        let page = render(&compared);
        assert!(page.contains(r#"id="bound-title""#));
        let mut one = sample();
        for sc in &mut one.scenarios {
            sc.cells.truncate(1);
        }
        let page = render(&one);
        assert!(!page.contains(r#"id="bound-title""#), "no model comparison");
        let slos = between(&page, r#"<section class="slos" id="slos""#, "</section>");
        assert!(
            page.find(r#"id="slos""#) < page.find(r#"id="health-title""#),
            "the SLOs come before the generator's health"
        );
        assert_eq!(count(slos, r#"<article class="slo""#), one.scenarios.len());
        for head in ["observed", "limit", "result"] {
            assert!(
                slos.contains(&format!(r#"<th scope="col">{head}</th>"#)),
                "{head}"
            );
        }
        for table in page.split(r#"<table class="thresholds"#).skip(1) {
            let head = &table[..table.find("</thead>").expect("a head")];
            assert!(head.contains(">limit</th>"), "{head}");
        }
    }

    fn big_summary(scenarios: usize, cells: usize) -> Summary {
        let mut s = sample();
        let proto = s.scenarios[0].clone();
        s.scenarios = (0..scenarios)
            .map(|si| {
                let mut sc = proto.clone();
                sc.name = format!("scenario {si}");
                sc.cells = (0..cells)
                    .map(|ci| {
                        let mut c = proto.cells[1].clone();
                        c.model = [Model::Threads, Model::Async, Model::Processes][ci % 3];
                        c.concurrency = 1 << (ci / 3);
                        let mut h = new_histogram();
                        for k in 0..20_000u64 {
                            // A spread from 1 ms to several seconds, with a tail.
                            let _ = h.record(1_000 + (k * k * (ci as u64 + 1)) % 3_000_000);
                        }
                        c.histogram = histogram_to_base64(&h);
                        c.timeline = (0..60)
                            .map(|second| TimelinePoint {
                                error_kinds: Default::default(),
                                requests: None,
                                seconds: 1.0,
                                second,
                                operations: 300 + u64::from(second % 7),
                                errors: u64::from(second % 5),
                                bytes: 1_000,
                                p50_us: 5_000,
                                p99_us: 50_000 + u64::from(second) * 100,
                                max_us: 90_000,
                                in_flight: 0.0,
                                histogram: String::new(),
                            })
                            .collect();
                        c.wall_seconds = 60.0;
                        c
                    })
                    .collect();
                sc
            })
            .collect();
        s
    }

    /// A hundred cells render, to a page of sane size. How long it takes is a benchmark's
    /// question, not a test's: `cargo test --release --lib a_hundred_cells -- --nocapture` prints it.
    #[test]
    fn a_hundred_cells_render() {
        let s = big_summary(10, 10);
        assert_eq!(
            s.scenarios.iter().map(|sc| sc.cells.len()).sum::<usize>(),
            100
        );
        let html = Html::new(None).expect("loads");
        let start = std::time::Instant::now();
        let page = html.render(&s).expect("renders");
        let took = start.elapsed();
        eprintln!("rendered 100 cells in {took:?}, {} bytes", page.len());
        assert!(page.len() < 20 << 20, "page of {} bytes", page.len());
    }
}
