//! `summary.md`: compact tables fit for `$GITHUB_STEP_SUMMARY` or a merge-request comment.
//!
//! Input: a summary and a bound in bytes. Output: GitHub-flavoured Markdown fit for a PR
//! comment: an opening summary of at most 2 KiB (verdict, failed checks, the biggest changes
//! against the baseline, a line per scenario), then `<details>` blocks: validity, why the run
//! failed (when it did), health (the warnings of `insight/`), per scenario its finding,
//! cells, thresholds, requests, connections and errors with their messages, and the baseline.
//! Sections that would pass the bound are left out whole and named. Plan-provided text and
//! error messages (which come from servers) are escaped so that they cannot break a table or
//! inject markup. Pass and fail read as an icon and a word: `✅ passed`, `❌ failed`.

use super::insight::{self, Reason, Severity, numbers};
use super::junit::{baseline_change, baseline_failure};
use super::{ReportError, Reporter};
use super::{connections, requests};
use crate::stats::{Outcome, Summary, Verdict};
use crate::units;

/// `summary.md` bounded to `max_bytes` (`--markdown-max-bytes`).
pub struct Markdown {
    pub max_bytes: usize,
}

impl Default for Markdown {
    fn default() -> Markdown {
        Markdown {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, s: &Summary) -> Result<Vec<u8>, ReportError> {
        Ok(render_bounded(s, self.max_bytes).into_bytes())
    }
}

/// Escapes what Markdown (and the HTML it may contain) would interpret.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~') {
            out.push('\\');
            out.push(ch);
        } else {
            push_html(&mut out, ch);
        }
    }
    out
}

/// `ch` as HTML text on one line: `<`, `>`, `&` escaped, a line break a space.
fn push_html(out: &mut String, ch: char) {
    match ch {
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '&' => out.push_str("&amp;"),
        '\n' | '\r' => out.push(' '),
        c => out.push(c),
    }
}

/// A table under its heading (`head` ends with the header and separator lines), one row per
/// item, each cell already escaped; nothing at all without items.
fn table<T>(
    head: &str,
    items: impl IntoIterator<Item = T>,
    cells: impl Fn(T) -> Vec<String>,
) -> String {
    let rows: String = items
        .into_iter()
        .map(|item| format!("| {} |\n", cells(item).join(" | ")))
        .collect();
    if rows.is_empty() {
        rows
    } else {
        format!("{head}{rows}")
    }
}

pub fn render(s: &Summary) -> String {
    render_bounded(s, DEFAULT_MAX_BYTES)
}

/// GitHub's limit on a job's step summary (`$GITHUB_STEP_SUMMARY`), 1 MiB: the default bound.
pub const DEFAULT_MAX_BYTES: usize = units::MARKDOWN_MAX_BYTES;
/// The most the opening summary takes, before the first `<details>`: a PR comment's first look.
pub const HEAD_MAX_BYTES: usize = 2048;
/// The least `--markdown-max-bytes` accepts: the opening summary and the note of what was cut.
pub const MIN_MAX_BYTES: usize = units::MARKDOWN_MIN_BYTES;

/// `summary.md` in at most `max_bytes` (never less than [`MIN_MAX_BYTES`]): the opening
/// summary (verdict, failed checks, biggest changes against the baseline, one line per
/// scenario; at most [`HEAD_MAX_BYTES`]), then each section in a `<details>` block: validity,
/// why it failed, health, each scenario, the baseline. Sections that do not fit are left out
/// whole (never cut inside a table) and named in a last line.
pub fn render_bounded(s: &Summary, max_bytes: usize) -> String {
    let max_bytes = max_bytes.max(MIN_MAX_BYTES);
    let mut md = head(s);
    let sections = sections(s);
    let blocks: Vec<String> = sections.iter().map(|(t, b)| details(t, b)).collect();
    if md.len() + blocks.iter().map(String::len).sum::<usize>() <= max_bytes {
        return md + &blocks.concat();
    }
    let mut cut: Vec<&str> = Vec::new();
    // Room kept for the note naming what was cut, whatever is cut.
    let note_room = 200 + sections.iter().map(|x| x.0.len() + 2).sum::<usize>();
    for ((title, _), block) in sections.iter().zip(&blocks) {
        if md.len() + block.len() + note_room <= max_bytes {
            md.push_str(block);
        } else {
            cut.push(title);
        }
    }
    if !cut.is_empty() {
        let note = format!(
            "\n_Cut to stay within {} bytes: {}. summary.json and index.html have everything._\n",
            max_bytes,
            esc(&cut.join("; "))
        );
        if md.len() + note.len() <= max_bytes {
            md.push_str(&note);
        } else {
            md.push_str("\n_Sections were cut to fit; see summary.json._\n");
        }
    }
    md
}

/// A section folded away: `<summary>` holds plain text (escaped for HTML), and blank lines
/// around the body let GitHub render it as Markdown.
fn details(title: &str, body: &str) -> String {
    format!(
        "\n<details><summary>{}</summary>\n\n{}\n\n</details>\n",
        html_esc(title),
        body.trim_matches('\n')
    )
}

/// Escapes text for HTML (a `<summary>`, where Markdown escapes would show as written).
fn html_esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        push_html(&mut out, ch);
    }
    out
}

/// At most `n` characters of `text`, with `…` when cut (before escaping, so that no escape is
/// cut in half).
fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut out: String = text.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Lines added while they fit in [`HEAD_MAX_BYTES`], keeping room for a last `… and N more`.
struct Head {
    md: String,
}

/// Room kept in the head for one `… and N more` line and the end of the head.
const HEAD_RESERVE: usize = 96;

impl Head {
    /// Adds `lines` while they fit; then says how many did not. False when some were left out.
    fn lines(&mut self, lines: &[String], more: &str) -> bool {
        for (i, l) in lines.iter().enumerate() {
            if self.md.len() + l.len() + HEAD_RESERVE > HEAD_MAX_BYTES {
                self.md
                    .push_str(&format!("- … and {} more {more}\n", lines.len() - i));
                return false;
            }
            self.md.push_str(l);
        }
        true
    }

    /// Adds `text` if it fits.
    fn push(&mut self, text: &str) {
        if self.md.len() + text.len() + HEAD_RESERVE <= HEAD_MAX_BYTES {
            self.md.push_str(text);
        }
    }
}

/// The opening summary: title and verdict, why it is invalid, the failed checks, the biggest
/// changes against the baseline, and one line per scenario; at most [`HEAD_MAX_BYTES`].
fn head(s: &Summary) -> String {
    let verdict = match s.verdict {
        Verdict::Passed => "✅ passed",
        Verdict::Failed => "❌ failed",
        Verdict::Invalid => "⚠️ invalid",
        Verdict::Interrupted => "⚠️ interrupted",
    };
    let mut h = Head {
        md: format!(
            "## loadplan: {} — {verdict}\n\n{} · {:.1} s · {} cores · loadplan {}\n",
            esc(&clip(&s.plan.name, 80)),
            s.started_at,
            s.duration_seconds,
            s.host.cores,
            esc(&clip(&s.loadplan_version, 40))
        ),
    };
    if !insight::validity(s).is_empty() && s.verdict == Verdict::Invalid {
        h.push(&format!(
            "\n**⚠️ {}**\n",
            esc(&clip(&insight::validity_headline(s), 300))
        ));
    }
    let failures = insight::failures(s);
    if !failures.is_empty() && (s.verdict == Verdict::Failed || s.verdict == Verdict::Invalid) {
        h.push(&format!(
            "\n**Failed: {}**\n\n",
            esc(&insight::failure_count(&failures))
        ));
        let lines: Vec<String> = failures
            .iter()
            .map(|f| format!("- ❌ {}\n", esc(&clip(&f.sentence(), 220))))
            .collect();
        h.lines(&lines, "(under “Why it failed”)");
    }
    if let Some(b) = &s.baseline {
        let mut changed: Vec<&crate::stats::BaselineCheck> = b
            .checks
            .iter()
            .filter(|c| c.outcome != Outcome::Unchanged)
            .collect();
        // Regressions first, then the largest changes.
        changed.sort_by(|x, y| {
            let rank = |c: &crate::stats::BaselineCheck| match c.outcome {
                Outcome::Regressed => 0,
                Outcome::Improved => 1,
                _ => 2,
            };
            let size = |c: &crate::stats::BaselineCheck| c.change.map_or(0.0, f64::abs);
            rank(x).cmp(&rank(y)).then(size(y).total_cmp(&size(x)))
        });
        if !changed.is_empty() {
            h.push(&format!(
                "\n**Biggest changes against {}** ({}):\n\n",
                esc(&clip(&b.run_id, 60)),
                insight::outcome_counts(&b.checks)
            ));
            let lines: Vec<String> = changed
                .iter()
                .take(5)
                .map(|c| {
                    let (mark, text) = match c.outcome {
                        Outcome::Regressed => ("❌", baseline_failure(c, c.tolerance)),
                        Outcome::Improved => ("✅", baseline_change(c, c.tolerance)),
                        _ => ("❔", baseline_change(c, c.tolerance)),
                    };
                    format!(
                        "- {mark} {} · {}: {}\n",
                        esc(&clip(&c.scenario, 60)),
                        c.label(),
                        esc(&clip(&text, 160))
                    )
                })
                .collect();
            h.lines(&lines, "(under “Baseline”)");
        }
    }
    h.push("\n**Scenarios:**\n\n");
    let lines: Vec<String> = s.scenarios.iter().map(scenario_line).collect();
    h.lines(&lines, "scenarios (below)");
    h.md
}

/// Every cell ran to its end and held each of its thresholds.
fn all_held(cells: &[crate::stats::CellSummary]) -> bool {
    cells
        .iter()
        .all(|c| c.complete && c.thresholds.iter().all(|t| t.passed))
}

/// `- ✅ download-sites (io-bound): 4 cells, most throughput async c=16: 310 successes/s, p99
/// 52.0ms`.
fn scenario_line(sc: &crate::stats::ScenarioSummary) -> String {
    let passed = all_held(&sc.cells);
    let best = sc
        .cells
        .iter()
        .max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s));
    let best = best.map_or_else(String::new, |c| {
        format!(
            ", most throughput {}: {} successes/s, p99 {}",
            c.label(),
            numbers::throughput(c).inline(),
            numbers::p99(c).inline()
        )
    });
    format!(
        "- {} {} ({}): {}{best}\n",
        if passed { "✅" } else { "❌" },
        esc(&clip(&sc.name, 60)),
        insight::bound_words(sc).1,
        units::count(sc.cells.len(), "cell"),
    )
}

/// The folded sections, in order, each with its `<summary>` title: validity (first, as
/// everywhere), why it failed, health, every scenario, the baseline.
fn sections(s: &Summary) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let invalid = why_invalid(s);
    if !invalid.is_empty() {
        let title = if s.verdict == Verdict::Invalid {
            "⚠️ Why it is invalid"
        } else {
            "Validity warnings"
        };
        out.push((title.to_string(), invalid));
    }
    let failed = why_failed(s);
    if !failed.is_empty() {
        out.push(("❌ Why it failed".to_string(), failed));
    }
    out.push(("Health".to_string(), health(s)));
    for sc in &s.scenarios {
        let passed = all_held(&sc.cells);
        out.push((
            format!(
                "{} {} ({})",
                if passed { "✅" } else { "❌" },
                sc.name,
                insight::bound_words(sc).1
            ),
            scenario(sc),
        ));
    }
    for g in &s.groups {
        let passed = all_held(&g.cells);
        out.push((
            format!(
                "{} group {} ({})",
                if passed { "✅" } else { "❌" },
                g.name,
                g.members.join(" + ")
            ),
            group(g),
        ));
    }
    if !s.once.is_empty() {
        out.push(("Before and after the run".to_string(), once(s)));
    }
    if let Some(b) = &s.baseline {
        out.push((
            format!(
                "Baseline: {} ({})",
                b.run_id,
                if b.passed {
                    "no regression"
                } else {
                    "regressed"
                }
            ),
            baseline(b),
        ));
    }
    out
}

/// A scenario group's combined cells (its members ran together) and its thresholds.
fn group(g: &crate::stats::GroupSummary) -> String {
    let mut md = String::from(
        "\nThe members' operations together, per second of the group's clock in summary.json's `groups[].cells[].timeline`.\n\n| cell | operations | errors | throughput/s | p50 | p99 | max | thresholds |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for c in &g.cells {
        let thresholds: Vec<String> = c
            .thresholds
            .iter()
            .map(|t| {
                format!(
                    "{} `{}` ({})",
                    if t.passed { "✅" } else { "❌" },
                    esc(&t.expression),
                    esc(&t.observed_text)
                )
            })
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.label(),
            c.operations,
            units::percent(c.error_rate),
            units::number(c.throughput_per_s),
            units::micros(c.latency_us.p50),
            units::micros(c.latency_us.p99),
            units::micros(c.latency_us.max),
            thresholds.join("<br>")
        ));
    }
    md
}

/// `before:` and `after:`'s requests: counted in no scenario.
fn once(s: &Summary) -> String {
    table(
        "\nThe plan's `before:` and `after:` requests, once per run (per shard):\n\n| steps | request | requests | errors | p50 | p90 | p99 | max |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        s.once
            .iter()
            .flat_map(|o| o.requests.iter().map(move |q| (o, q))),
        |(o, q)| {
            vec![
                o.key.to_string(),
                esc(&q.name),
                q.operations.to_string(),
                q.operations.saturating_sub(q.successes).to_string(),
                units::micros(q.latency_us.p50),
                units::micros(q.latency_us.p90),
                units::micros(q.latency_us.p99),
                units::micros(q.latency_us.max),
            ]
        },
    )
}

/// One scenario in full: its finding, its cells, its thresholds, requests, connections, errors.
fn scenario(sc: &crate::stats::ScenarioSummary) -> String {
    let mut md = String::new();
    md.push_str(&format!("{}\n", esc(&insight::findings(sc).headline)));
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
    md.push_str(&other_percentiles(&sc.cells));
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
    md
}

/// The comparison with the baseline: the counts, then every check not unchanged.
fn baseline(b: &crate::stats::BaselineReport) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "Tolerance {}, latency floor {}. ",
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
        md.push_str("\n| scenario | cell | change | outcome | evidence |\n|---|---|---|---|---|\n");
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

/// The validity rules the run broke (a folded section after the opening summary).
fn why_invalid(s: &Summary) -> String {
    let lines = insight::validity(s);
    if lines.is_empty() {
        return String::new();
    }
    let mut md = if s.verdict == Verdict::Invalid {
        format!("**{}**\n\n", esc(&insight::validity_headline(s)))
    } else {
        "These rules broke, but the plan set them to `warn`.\n\n".to_string()
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

/// Every failed threshold, baseline check and failing cell; nothing unless the verdict is
/// `failed` (or `invalid` with failures).
fn why_failed(s: &Summary) -> String {
    let failures = insight::failures(s);
    let listed =
        s.verdict == Verdict::Failed || (s.verdict == Verdict::Invalid && !failures.is_empty());
    if !listed {
        return String::new();
    }
    let mut md = format!("{}:\n\n", insight::failure_count(&failures));
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
    table(
        "\nRequests (each named request per cell; a flow's iteration last, think time excluded and shown beside it):\n\n| cell | request | requests | errors | status codes | p50 | p90 | p99 | max | think |\n|---|---|---:|---:|---|---:|---:|---:|---:|---|\n",
        groups
            .iter()
            .flat_map(|g| g.rows.iter().map(move |r| (g, r))),
        |(g, r)| {
            vec![
                g.label.clone(),
                esc(&r.request),
                r.operations.to_string(),
                format!("{} ({}){}", r.errors, r.error_rate, r.retried_after()),
                esc(&r.status_codes),
                r.p50.clone(),
                r.p90.clone(),
                r.p99.clone(),
                r.max.clone(),
                r.think.clone(),
            ]
        },
    )
}

/// The scenario's connections: a table of each cell's connections and phase percentiles, then
/// where an operation's time went; nothing for a scenario without connections.
fn connections(sc: &crate::stats::ScenarioSummary) -> String {
    let mut md = table(
        "\nConnections (setup timed once per connection, first byte once per request; p50 / p99):\n\n| cell | connections | retried | ops/conn. | TLS handshakes | protocol | DNS | connect | TLS | first byte |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n",
        connections::rows(sc),
        |r| {
            vec![
                r.label,
                r.opened.to_string(),
                r.retried.to_string(),
                r.per_connection,
                r.handshakes,
                esc(&r.protocols),
                r.dns,
                r.connect,
                r.tls,
                r.ttfb,
            ]
        },
    );
    if md.is_empty() {
        return md;
    }
    md.push_str(&table(
        "\nStreams and WebSocket upgrades (p50 / p99):\n\n| cell | streamed | events | events/resp. | first event | event gap | WebSocket upgrades | upgrade |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        connections::stream_rows(sc),
        |r| Vec::from(r.texts()),
    ));
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

/// Health: each warning and note with the cells it concerns, or what was checked.
fn health(s: &Summary) -> String {
    let items = insight::health(s);
    let mut md = String::new();
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

/// The percentiles the plan's thresholds named beyond the table's (`p95`), as a table of their
/// own; nothing when there are none.
fn other_percentiles(cells: &[crate::stats::CellSummary]) -> String {
    let names: std::collections::BTreeSet<&String> = cells
        .iter()
        .flat_map(|c| c.latency_us.percentiles.keys())
        .collect();
    if names.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n| cell | {} |\n|---|{}\n",
        names.iter().map(|n| esc(n)).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(names.len())
    );
    for c in cells {
        let values: Vec<String> = names
            .iter()
            .map(|n| {
                c.latency_us
                    .percentiles
                    .get(*n)
                    .map_or_else(|| "–".to_string(), |v| units::micros(*v))
            })
            .collect();
        md.push_str(&format!("| {} | {} |\n", c.label(), values.join(" | ")));
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
        // The opening summary first, at most 2 KiB, then the folded sections in order.
        assert!(at("<details>") <= HEAD_MAX_BYTES, "{md}");
        assert!(at("**Failed: 1 threshold, 1 baseline check and 2 cells**") < at("<details>"));
        assert!(at("**Biggest changes against earlier**") < at("<details>"));
        assert!(
            at(
                "<details><summary>❌ Why it failed</summary>\n\n1 threshold, 1 baseline check and 2 cells:"
            ) < at("<details><summary>Health</summary>")
        );
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
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
        let cpu = &md[md
            .rfind("<summary>❌ sample (cpu-bound)")
            .expect("cpu scenario")..];
        let cpu = &cpu[..cpu.find("</details>").expect("its end")];
        assert!(
            !cpu.contains("Connections") && !cpu.contains("tls.insecure"),
            "{cpu}"
        );
        s.verdict = Verdict::Passed;
        assert!(!render(&s).contains("Why it failed"));
    }

    #[test]
    fn the_bound_cuts_whole_sections_and_says_which() {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        s.scenarios[0].cells[1].thresholds[0].passed = false;
        let full = render(&s);
        assert!(!full.contains("_Cut"), "{full}");
        let cases = [
            (full.len(), 0),
            (full.len() - 1, 1),
            (MIN_MAX_BYTES, 2),
            // Below the least: the least.
            (10, 2),
        ];
        for (bound, at_least) in cases {
            let md = render_bounded(&s, bound);
            assert!(
                md.len() <= bound.max(MIN_MAX_BYTES),
                "{bound}: {}",
                md.len()
            );
            let cut = md
                .lines()
                .find(|l| l.starts_with("_Cut to stay within"))
                .unwrap_or("");
            let named = cut.matches("; ").count() + usize::from(!cut.is_empty());
            assert!(named >= at_least, "{bound}: {cut}");
            assert_eq!(md == full, at_least == 0, "{bound}");
            // What is left is whole: every <details> closed, every table whole.
            assert_eq!(
                md.matches("<details>").count(),
                md.matches("</details>").count()
            );
            assert_eq!(
                md.matches("\n| cell | ops |").count(),
                md.matches("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
                    .count()
            );
            assert!(md.starts_with(&full[..full.find("<details>").expect("details")]));
        }
    }

    #[test]
    fn the_opening_summary_stays_under_2_kib_however_much_failed() {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        let many = s.scenarios[0].clone();
        for i in 0..40 {
            let mut sc = many.clone();
            sc.name = format!("scenario-{i}-{}", "x".repeat(100));
            for c in &mut sc.cells {
                for t in &mut c.thresholds {
                    t.passed = false;
                    t.observed_text = "y".repeat(500);
                }
            }
            s.scenarios.push(sc);
        }
        let md = render(&s);
        let head = md.find("<details>").expect("details");
        assert!(head <= HEAD_MAX_BYTES, "{head}");
        assert!(
            md[..head].contains("more (under “Why it failed”)"),
            "{}",
            &md[..head]
        );
    }

    /// Streamed responses' and WebSocket steps' phases get their own table, only for scenarios
    /// with a cell that streamed or upgraded.
    #[test]
    fn streams_and_upgrades_have_a_table_when_a_cell_had_them() {
        let mut s = sample();
        assert!(!render(&s).contains("Streams and WebSocket upgrades"));
        let k = s.scenarios[0].cells[0]
            .connections
            .as_mut()
            .expect("connections");
        (k.streamed, k.events) = (2, 10);
        k.first_event_us = crate::stats::LatencySummary {
            count: 2,
            p50: 300_000,
            p99: 300_000,
            ..Default::default()
        };
        let md = render(&s);
        let table = "Streams and WebSocket upgrades (p50 / p99):\n\n| cell | streamed | events | events/resp. | first event | event gap | WebSocket upgrades | upgrade |\n|---|---:|---:|---:|---:|---:|---:|---:|\n| sequential | 2 | 10 | 5.00 | 300.0ms / 300.0ms | - | 0 | - |\n";
        assert!(md.contains(table), "{md}");
        assert_eq!(md.matches("Streams and WebSocket upgrades").count(), 1);
    }

    #[test]
    fn escapes_table_breakers_and_markup() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(esc("x\ny"), "x y");
        assert_eq!(esc("**bold**"), "\\*\\*bold\\*\\*");
    }
}
