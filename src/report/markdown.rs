//! `summary.md`: compact tables fit for `$GITHUB_STEP_SUMMARY` or a merge-request comment.
//!
//! Input: a summary. Output: GitHub-flavoured Markdown: why the run failed (when it did), a
//! health section (the warnings of `insight/`), then per scenario its finding, its cells, its
//! thresholds, its connections and its errors with their messages. Plan-provided text and error
//! messages (which come from servers) are escaped so that they cannot break a table or inject
//! markup. Pass and fail read as an icon and a word: `✅ passed`, `❌ failed`.

use super::insight::{self, Reason, Severity, numbers};
use super::junit::{baseline_change, baseline_failure};
use super::{ReportError, Reporter};
use super::{connections, requests};
use crate::stats::{Outcome, Summary, Verdict};
use crate::units;

pub struct Markdown;

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, s: &Summary) -> Result<Vec<u8>, ReportError> {
        Ok(render(s).into_bytes())
    }
}

/// Escapes what Markdown (and the HTML it may contain) would interpret.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(s: &Summary) -> String {
    let verdict = match s.verdict {
        Verdict::Passed => "✅ passed",
        Verdict::Failed => "❌ failed",
        Verdict::Invalid => "⚠️ invalid",
        Verdict::Interrupted => "⚠️ interrupted",
    };
    let mut md = format!(
        "## loadplan: {} — {verdict}\n\n{} · {:.1} s · {} cores · loadplan {}\n",
        esc(&s.plan.name),
        s.started_at,
        s.duration_seconds,
        s.host.cores,
        s.loadplan_version
    );
    md.push_str(&why_invalid(s));
    md.push_str(&why_failed(s));
    md.push_str(&health(s));
    for sc in &s.scenarios {
        md.push_str(&format!(
            "\n### {} ({})\n\n{}\n",
            esc(&sc.name),
            insight::bound_words(sc).1,
            esc(&insight::findings(sc).headline)
        ));
        if sc.tls_insecure {
            md.push_str(INSECURE);
        }
        md.push_str("\n| cell | ops | errors | error rate | throughput/s | attempts/s | p50 | p99 | max | cores busy | speedup |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for c in &sc.cells {
            md.push_str(&format!(
                "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                c.label(),
                if c.complete { "" } else { " (incomplete)" },
                c.operations,
                c.errors.values().fold(0u64, |a, n| a.saturating_add(*n)),
                numbers::error_rate(c).inline(),
                numbers::throughput(c).inline()
                    + &c.requests_per_s.map_or_else(String::new, |r| {
                        format!(" ({} requests/s)", units::number(r))
                    }),
                numbers::attempts(c).inline(),
                numbers::p50(c).inline(),
                numbers::p99(c).inline(),
                units::micros(c.latency_us.max),
                numbers::cores_busy(c).inline(),
                numbers::speedup(sc, c).inline(),
            ));
        }
        md.push_str(&format!(
            "\nThroughput counts successful operations, attempts all of them.{}\n",
            numbers::rounds_note(sc).map_or_else(String::new, |n| format!(" {}", esc(&n)))
        ));
        let checks: Vec<String> = sc
            .cells
            .iter()
            .flat_map(|c| {
                c.thresholds.iter().map(move |t| {
                    if insight::is_error_rule(t) {
                        return format!(
                            "- {} · {}: errors: {}; {}\n",
                            mark(t.passed),
                            c.label(),
                            insight::errors_observed(c),
                            insight::accept_some_hint()
                        );
                    }
                    format!(
                        "- {} · {}: `{}`, observed {}\n",
                        mark(t.passed),
                        c.label(),
                        t.expression.replace('`', "'"),
                        t.observed_text
                    )
                })
            })
            .collect();
        if !checks.is_empty() {
            md.push_str("\nThresholds:\n\n");
            md.push_str(&checks.concat());
        }
        md.push_str(&capacity(sc));
        md.push_str(&scaling(sc));
        md.push_str(&requests(sc));
        md.push_str(&connections(sc));
        md.push_str(&errors(sc));
    }
    if let Some(b) = &s.baseline {
        md.push_str(&format!(
            "\n### Baseline: {} ({})\n\nTolerance {}, latency floor {}. ",
            esc(&b.run_id),
            if b.passed {
                "✅ no regression"
            } else {
                "❌ regressed"
            },
            units::percent(b.tolerance),
            units::micros(b.latency_floor_us)
        ));
        md.push_str(&format!(
            "{}: {} (Holm, α {} per cell; {} compared).\n",
            units::count(b.checks.len(), "check"),
            insight::outcome_counts(&b.checks),
            b.alpha,
            units::count(b.runs.len().max(1), "earlier run"),
        ));
        // Every check not shown unchanged: regressed, improved or inconclusive.
        let listed: Vec<_> = b
            .checks
            .iter()
            .filter(|c| c.outcome != Outcome::Unchanged)
            .collect();
        if !listed.is_empty() {
            md.push_str(
                "\n| scenario | cell | change | outcome | evidence |\n|---|---|---|---|---|\n",
            );
            for c in listed {
                let (result, change) = match c.outcome {
                    Outcome::Regressed => (mark(false), baseline_failure(c, c.tolerance)),
                    Outcome::Improved => ("✅ improved", baseline_change(c, c.tolerance)),
                    _ => ("❔ inconclusive", baseline_change(c, c.tolerance)),
                };
                md.push_str(&format!(
                    "| {} | {} | {} | {result} | {} |\n",
                    esc(&c.scenario),
                    c.label(),
                    esc(&change),
                    esc(&insight::evidence_words(c))
                ));
            }
        }
        for (what, cells) in [
            ("Not in the baseline", &b.missing_in_baseline),
            ("In the baseline but not run", &b.missing_in_run),
        ] {
            if !cells.is_empty() {
                let list: Vec<String> = cells.iter().map(|c| esc(c)).collect();
                md.push_str(&format!("\n{what}: {}.\n", list.join(", ")));
            }
        }
    }
    md
}

/// Said under the title of a scenario that did not verify certificates.
const INSECURE: &str = "\n> ⚠️ **Warning: TLS certificates were NOT verified** (`tls.insecure`): anything could have answered as the server.\n";

/// A pass or a fail: icon and word, the failure in bold.
fn mark(passed: bool) -> &'static str {
    if passed {
        "✅ passed"
    } else {
        "❌ **failed**"
    }
}

/// `### ❌ Why it failed`: every failed threshold, baseline check and failing cell; nothing
/// unless the verdict is `failed`.
/// The validity rules the run broke, first after the title.
fn why_invalid(s: &Summary) -> String {
    let lines = insight::validity(s);
    if lines.is_empty() {
        return String::new();
    }
    let mut md = if s.verdict == Verdict::Invalid {
        format!(
            "\n### ⚠️ Why it is invalid\n\n**{}**\n\n",
            esc(&insight::validity_headline(s))
        )
    } else {
        "\n### Validity warnings\n\nThese rules broke, but the plan set them to `warn`.\n\n"
            .to_string()
    };
    for l in &lines {
        md.push_str(&format!(
            "- {} {} · `{}`: {} ({}). **Fix:** {}\n",
            if l.warning { "⚠️ warn" } else { "⚠️" },
            esc(&l.who),
            l.rule,
            esc(&l.reason),
            esc(&l.measured),
            esc(&l.fix)
        ));
    }
    md
}

fn why_failed(s: &Summary) -> String {
    let failures = insight::failures(s);
    let listed =
        s.verdict == Verdict::Failed || (s.verdict == Verdict::Invalid && !failures.is_empty());
    if !listed {
        return String::new();
    }
    let mut md = format!(
        "\n### ❌ Why it failed: {}\n\n",
        insight::failure_count(&failures)
    );
    if failures.is_empty() {
        md.push_str(&format!("{}\n", esc(insight::UNEXPLAINED)));
    }
    for f in &failures {
        let what = match &f.reason {
            Reason::Threshold {
                expression,
                observed,
                limit,
            } => format!(
                "threshold `{}`: observed **{}**, limit {}",
                expression.replace('`', "'"),
                esc(observed),
                esc(limit)
            ),
            Reason::Baseline { text, .. } => esc(text),
            Reason::Cell { why } => esc(why),
            Reason::Errors { text, hint } => format!(
                "{}. To accept some, add `{hint}` to the scenario's thresholds.",
                esc(text)
            ),
        };
        md.push_str(&format!("- ❌ **failed** · {}: {what}\n", esc(&f.who)));
    }
    md
}

/// The scenario's named requests (a flow's steps, a mix's targets), each cell's in flow order
/// with the iteration last; nothing when they add nothing to the cells table.
/// A capacity search per cell: the headline, and a row per probe.
fn capacity(sc: &crate::stats::ScenarioSummary) -> String {
    use crate::report::insight::capacity::{PROBE_HEADER, headline, probe_row};
    let mut md = String::new();
    for c in &sc.cells {
        let Some(x) = &c.capacity else { continue };
        md.push_str(&format!(
            "\n**Capacity, {}**: {}\n\n| {} |\n|{}\n",
            c.label(),
            esc(&headline(x)),
            PROBE_HEADER.join(" | "),
            "---:|".repeat(PROBE_HEADER.len())
        ));
        for p in &x.probes {
            md.push_str(&format!(
                "| {} |\n",
                probe_row(p).map(|t| esc(&t)).join(" | ")
            ));
        }
    }
    md
}

/// Each model's scalability fit, one line each.
fn scaling(sc: &crate::stats::ScenarioSummary) -> String {
    let fits = crate::report::insight::scalability::scalability(sc);
    if fits.is_empty() {
        return String::new();
    }
    let mut md = String::from("\nScalability (Universal Scalability Law):\n\n");
    for m in fits {
        md.push_str(&format!("- {}: {}\n", m.label(), esc(&m.words)));
    }
    md
}

fn requests(sc: &crate::stats::ScenarioSummary) -> String {
    let groups = requests::groups(sc);
    if groups.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\nRequests (each named request per cell; a flow's iteration last, think time excluded and shown beside it):\n\n| cell | request | requests | errors | status codes | p50 | p90 | p99 | max | think |\n|---|---|---:|---:|---|---:|---:|---:|---:|---|\n",
    );
    for g in &groups {
        for r in &g.rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} ({}){} | {} | {} | {} | {} | {} | {} |\n",
                g.label,
                esc(&r.request),
                r.operations,
                r.errors,
                r.error_rate,
                r.retried_after(),
                esc(&r.status_codes),
                r.p50,
                r.p90,
                r.p99,
                r.max,
                r.think
            ));
        }
    }
    md
}

/// The scenario's connections: a table of each cell's connections and phase percentiles, then
/// where an operation's time went; nothing for a scenario without connections.
fn connections(sc: &crate::stats::ScenarioSummary) -> String {
    let rows = connections::rows(sc);
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\nConnections (setup timed once per connection, first byte once per request; p50 / p99):\n\n| cell | connections | retried | ops/conn. | TLS handshakes | protocol | DNS | connect | TLS | first byte |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.label,
            r.opened,
            r.retried,
            r.per_connection,
            r.handshakes,
            esc(&r.protocols),
            r.dns,
            r.connect,
            r.tls,
            r.ttfb
        ));
    }
    md.push_str(&format!(
        "\nWhere an operation's time goes (means): {}\n\n",
        esc(&connections::reuse(sc))
    ));
    for x in connections::splits(sc) {
        md.push_str(&format!("- {}: {}\n", x.label, esc(&x.describe())));
    }
    md
}

/// Each cell's errors by category with their first messages (escaped: they come from servers).
fn errors(sc: &crate::stats::ScenarioSummary) -> String {
    let mut md = String::new();
    for c in &sc.cells {
        for g in insight::error_groups(c) {
            let first = g.messages_after(|m| format!("“{}”", esc(m)), "; ");
            md.push_str(&format!(
                "- {} · {}: {} error{}{first}\n",
                c.label(),
                esc(&g.category),
                g.count,
                if g.count == 1 { "" } else { "s" }
            ));
        }
    }
    if md.is_empty() {
        return md;
    }
    format!("\nErrors, with their first messages:\n\n{md}")
}

/// Cells listed under one health item; the HTML report lists them all.
const CELLS_SHOWN: usize = 5;

/// `### Health`: each warning and note with the cells it concerns, or what was checked.
fn health(s: &Summary) -> String {
    let items = insight::health(s);
    let mut md = String::from("\n### Health\n\n");
    if items.is_empty() {
        md.push_str(&format!("✅ {}\n", insight::health_criteria(s)));
        return md;
    }
    for h in &items {
        let mark = match h.severity {
            Severity::Warning => "⚠️",
            Severity::Note => "ℹ️",
        };
        md.push_str(&format!(
            "- {mark} **{}** {}\n",
            esc(h.title),
            esc(&h.detail)
        ));
        for c in h.cells.iter().take(CELLS_SHOWN) {
            md.push_str(&format!("  - {}\n", esc(&c.text)));
        }
        if h.cells.len() > CELLS_SHOWN {
            md.push_str(&format!("  - and {} more\n", h.cells.len() - CELLS_SHOWN));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{sample, snapshot};

    #[test]
    fn a_failed_run_says_why_first_then_each_scenario_in_full() {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        s.scenarios[0].cells[1].thresholds[0].passed = false;
        s.scenarios[0].tls_insecure = true;
        s.scenarios[0].cells[1]
            .error_messages
            .insert("status".into(), vec!["<b>|x".into(), "status 503".into()]);
        let md = render(&s);
        snapshot("summary.md", &md);
        let at = |needle: &str| md.find(needle).unwrap_or_else(|| panic!("{needle}: {md}"));
        assert!(
            at("### ❌ Why it failed: 1 threshold, 1 baseline check and 2 cells")
                < at("### Health")
        );
        for line in [
            "- ❌ **failed** · sample · async c=2 w=1: threshold `p99 < 100ms`: observed **52.0ms**, limit 100.0ms\n",
            "- ❌ **failed** · sample · async c=2 w=1: did not complete: a worker exited\n",
            "- ✅ passed · sequential: `p99 < 100ms`, observed 52.0ms\n",
            "- ❌ **failed** · async c=2 w=1: `p99 < 100ms`, observed 52.0ms\n",
            "| sequential | 1 | 0 | 4.00 | 1 | HTTP/1.1 | - | 150µs / 300µs | 2.00ms / 3.00ms | 1.00ms / 40.0ms |\n",
            "- sequential: 14.4ms per operation: connect 38µs, TLS handshake 500µs, waiting (to first byte) 1.00ms, body 12.9ms\n",
            // Messages come from servers: escaped, so they cannot break a list or a table.
            "- async c=2 w=1 · status: 1 error: “&lt;b&gt;\\|x”; “status 503”\n",
            INSECURE,
            "**TLS certificates were NOT verified.**",
        ] {
            assert!(md.contains(line), "{line}\n{md}");
        }
        // The CPU scenario has neither connections nor the TLS warning.
        let cpu = &md[md.rfind("### sample (cpu-bound)").expect("cpu scenario")..];
        assert!(
            !cpu.contains("Connections") && !cpu.contains("tls.insecure"),
            "{cpu}"
        );
        s.verdict = Verdict::Passed;
        assert!(!render(&s).contains("Why it failed"));
    }

    #[test]
    fn escapes_table_breakers_and_markup() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(esc("x\ny"), "x y");
        assert_eq!(esc("**bold**"), "\\*\\*bold\\*\\*");
    }
}
