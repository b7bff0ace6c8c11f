//! The console's text: the summary table and the gate's results at the end of a run (the progress
//! while it goes on is `cmd/progress.rs`).
//!
//! Input: a [`Summary`]. Output: text; [`table`], [`gate`] and [`why_failed`] return it, `cmd/`
//! prints it. The table gives per scenario its cells, connections and errors with
//! their first messages, and ends with the health warnings of `insight/`, one line each; the
//! gate ends with why the run failed. Pass and fail read as an icon and a word (`✔ pass`,
//! `✘ FAIL`), without colour: the text goes to CI logs as often as to a terminal. Text that
//! came from a server is printed with its control characters escaped.
//! Must not decide anything (the gate does) nor word a warning differently from the reports.

use super::insight::{self, Severity, numbers};
use super::{connections, requests};
use crate::stats::{Outcome, ScenarioSummary, Summary, Verdict};
use crate::units;

/// The end-of-run table: one block per scenario, one row per cell.
pub fn table(summary: &Summary) -> String {
    let mut out = String::new();
    for s in &summary.scenarios {
        let measured = if s.classified {
            format!(
                "measured {} (runner busy {} in {})",
                insight::bound_words(s).1,
                units::percent(s.busy_fraction),
                s.bound_cell
            )
        } else {
            format!(
                "{} (every cell under {:.0} ms or {} operations)",
                insight::bound_words(s).1,
                crate::stats::machine::MIN_WALL_SECONDS * 1e3,
                crate::stats::machine::MIN_OPERATIONS
            )
        };
        out.push_str(&format!(
            "\n{} — workload {}, {measured}{}\n",
            s.name,
            s.kind.as_str(),
            if s.tls_insecure {
                " — WARNING: TLS certificates NOT verified (tls.insecure)"
            } else {
                ""
            }
        ));
        let header = [
            "cell", "ops", "errors", "err%", "tput/s", "att/s", "p50", "p99", "max", "cores",
            "speedup",
        ];
        let rows: Vec<[String; 11]> = s
            .cells
            .iter()
            .map(|c| {
                [
                    c.label() + if c.complete { "" } else { " (incomplete)" },
                    c.operations.to_string(),
                    c.errors
                        .values()
                        .fold(0u64, |a, n| a.saturating_add(*n))
                        .to_string(),
                    // Ranges only where models are compared: a CI log is read at 120 columns.
                    units::percent(c.error_rate),
                    numbers::throughput(c).inline(),
                    units::number(c.attempts_per_s),
                    units::micros(c.latency_us.p50),
                    units::micros(c.latency_us.p99),
                    units::micros(c.latency_us.max),
                    numbers::cores_busy(c).value,
                    numbers::speedup(s, c).inline(),
                ]
            })
            .collect();
        out.push_str(&aligned(&header, &rows));
        out.push_str(&other_percentiles(&s.cells));
        if !s.cells.iter().all(crate::stats::machine::cpu_measured) {
            out.push_str(&format!("  {}\n", crate::stats::machine::CPU_NOT_MEASURED));
        }
        if let Some(n) = numbers::round_count(s) {
            out.push_str(&format!(
                "  {n} rounds: tput/s (successful), att/s (attempted) and speedup are medians of the rounds, (lowest–highest) beside; the rest pools them\n"
            ));
        }
        for c in &s.cells {
            let Some(o) = &c.open else { continue };
            out.push_str(&format!(
                "  open, {}: target {}/s, achieved {}/s, {} of {} arrivals dropped, send lag p99 {}, uncorrected p50 {} p99 {}{}\n",
                c.label(),
                units::number(o.target_rate_per_s),
                units::number(o.achieved_rate_per_s),
                o.dropped,
                o.scheduled,
                units::micros(o.send_lag_us.p99),
                units::micros(o.latency_uncorrected_us.p50),
                units::micros(o.latency_uncorrected_us.p99),
                if o.rate_not_reached {
                    " — WARNING: the rate was not kept"
                } else {
                    ""
                }
            ));
        }
        for c in &s.cells {
            let Some(x) = &c.capacity else { continue };
            out.push_str(&format!(
                "  capacity, {}: {}\n",
                c.label(),
                crate::report::insight::capacity::headline(x)
            ));
            let rows: Vec<[String; 8]> = x
                .probes
                .iter()
                .map(crate::report::insight::capacity::probe_row)
                .collect();
            for line in aligned(&crate::report::insight::capacity::PROBE_HEADER, &rows).lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        for m in crate::report::insight::scalability::scalability(s) {
            out.push_str(&format!("  scaling, {}: {}\n", m.label(), m.words));
        }
        for c in s.cells.iter().filter(|c| !c.notes.is_empty()) {
            out.push_str(&format!("  note, {}: {}\n", c.label(), c.notes.join("; ")));
        }
        out.push_str(&requests(s));
        out.push_str(&connections(s));
        out.push_str(&errors(s));
    }
    out.push_str(&groups(summary));
    out.push_str(&health(summary));
    out.push_str(&exports(summary));
    out
}

/// Each scenario group's combined figures: a row per position, and its successes and errors per
/// second of the group's clock.
fn groups(summary: &Summary) -> String {
    let mut out = String::new();
    for g in &summary.groups {
        out.push_str(&format!(
            "\ngroup {} — {} together\n",
            g.name,
            g.members.join(" + ")
        ));
        let header = ["cell", "ops", "err%", "tput/s", "p50", "p99", "max"];
        let rows: Vec<[String; 7]> = g
            .cells
            .iter()
            .map(|c| {
                [
                    c.label() + if c.complete { "" } else { " (incomplete)" },
                    c.operations.to_string(),
                    units::percent(c.error_rate),
                    units::number(c.throughput_per_s),
                    units::micros(c.latency_us.p50),
                    units::micros(c.latency_us.p99),
                    units::micros(c.latency_us.max),
                ]
            })
            .collect();
        out.push_str(&aligned(&header, &rows));
        out.push_str(&other_percentiles(&g.cells));
        for c in &g.cells {
            let seconds: Vec<String> = c
                .timeline
                .iter()
                .map(|p| {
                    let ok = p.operations.saturating_sub(p.errors);
                    if p.errors > 0 {
                        format!("{ok}+{}err", p.errors)
                    } else {
                        ok.to_string()
                    }
                })
                .collect();
            out.push_str(&format!(
                "  per second, {}: {}\n",
                c.label(),
                seconds.join(" ")
            ));
        }
    }
    out
}

/// One line per `--export` endpoint: what it was sent and what it lost.
fn exports(summary: &Summary) -> String {
    summary
        .export
        .iter()
        .map(|e| {
            format!(
                "export {} {}: {} of {} intervals sent, {} lost, {} attempts retried{}\n",
                e.kind,
                e.url,
                e.sent,
                e.intervals,
                e.dropped,
                e.retried,
                e.last_error
                    .as_ref()
                    .map(|m| format!(" (last error: {})", printable(m)))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Rows under a header, the first column left-aligned, the others right-aligned, indented.
fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::from("  ");
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str("  ");
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
        }
        // An empty last column would leave the line padded with spaces.
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// The scenario's named requests (a flow's steps, a mix's targets) under its cells: one row per
/// request of each cell, then the iteration; nothing when they add nothing to the cells table.
fn requests(s: &ScenarioSummary) -> String {
    let rows: Vec<[String; 9]> = requests::groups(s)
        .into_iter()
        .flat_map(|g| {
            let label = g.label;
            g.rows.into_iter().map(move |r| {
                [
                    format!("{label} · {}", printable(&r.request)),
                    r.operations.to_string(),
                    format!("{} ({}){}", r.errors, r.error_rate, r.retried_after()),
                    printable(&r.status_codes),
                    r.p50,
                    r.p90,
                    r.p99,
                    r.max,
                    r.think,
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let header = [
        "request", "requests", "errors", "status", "p50", "p90", "p99", "max", "think",
    ];
    aligned(&header, &rows)
}

/// The scenario's connections under its cells: one row per cell, then where an operation's
/// time went; nothing for a scenario without connections.
fn connections(s: &ScenarioSummary) -> String {
    let rows: Vec<[String; 10]> = connections::rows(s)
        .into_iter()
        .map(|r| {
            [
                r.label,
                r.opened.to_string(),
                r.retried.to_string(),
                r.per_connection,
                r.handshakes,
                r.protocols,
                r.dns,
                r.connect,
                r.tls,
                r.ttfb,
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let header = [
        "connections",
        "opened",
        "retried",
        "ops/conn",
        "handshakes",
        "protocol",
        "dns p50/p99",
        "connect p50/p99",
        "tls p50/p99",
        "first byte p50/p99",
    ];
    let mut out = aligned(&header, &rows);
    for x in connections::splits(s) {
        out.push_str(&format!("  time, {}: {}\n", x.label, x.describe()));
    }
    out.push_str(&streams(s));
    out
}

/// The phases only streamed responses and WebSocket steps have, for the cells that had them:
/// events, time to the first event, gaps between events, upgrades.
fn streams(s: &ScenarioSummary) -> String {
    let rows: Vec<[String; 8]> = connections::stream_rows(s)
        .into_iter()
        .map(connections::StreamRow::texts)
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let header = [
        "streams",
        "streamed",
        "events",
        "events/resp",
        "first_event p50/p99",
        "event_gap p50/p99",
        "ws upgrades",
        "upgrade p50/p99",
    ];
    aligned(&header, &rows)
}

/// `text` with control characters escaped: messages come from servers, and a terminal would
/// obey an escape sequence among them.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Each cell's errors by category, with their first messages.
fn errors(s: &ScenarioSummary) -> String {
    let mut out = String::new();
    for c in &s.cells {
        for g in insight::error_groups(c) {
            let first = g.messages_after(printable, " | ");
            out.push_str(&format!(
                "  errors, {} · {} ({}){first}\n",
                c.label(),
                printable(&g.category),
                g.count
            ));
        }
    }
    out
}

/// One line per health warning or note, with the first cell it concerns; nothing for a run
/// without any.
fn health(summary: &Summary) -> String {
    let items = insight::health(summary);
    if items.is_empty() {
        return String::new();
    }
    let count = |sev| items.iter().filter(|h| h.severity == sev).count();
    let mut out = format!(
        "\nhealth: {}, {}\n",
        crate::units::count(count(Severity::Warning), "warning"),
        crate::units::count(count(Severity::Note), "note")
    );
    for h in &items {
        let word = match h.severity {
            Severity::Warning => "WARNING",
            Severity::Note => "note",
        };
        out.push_str(&format!("  {word}: {}\n", health_line(h)));
    }
    out
}

/// One health item in a line: its title, its first cell, how many more.
fn health_line(h: &insight::HealthItem) -> String {
    let mut line = h.title.to_string();
    if let Some(first) = h.cells.first() {
        line.push_str(&format!(" {}", first.text));
    }
    if h.cells.len() > 1 {
        line.push_str(&format!(" (and {} more)", h.cells.len() - 1));
    }
    line
}

/// The health warnings alone (no notes), one line each, for `--quiet`: a quiet run drops the
/// table but keeps its warnings. Empty when there are none.
pub fn warnings(summary: &Summary) -> String {
    insight::health(summary)
        .iter()
        .filter(|h| h.severity == Severity::Warning)
        .map(|h| format!("warning: {}\n", health_line(h)))
        .collect()
}

/// Threshold and baseline results, failures first, for the end of the console output.
pub fn gate(summary: &Summary) -> String {
    let mut out = why_invalid(summary);
    // Each scenario's cells, then each group's (the default error rule is a member's, never a
    // group's: a group has only the thresholds it names).
    let owners = summary
        .scenarios
        .iter()
        .map(|s| (s.name.clone(), &s.cells))
        .chain(
            summary
                .groups
                .iter()
                .map(|g| (format!("group {}", g.name), &g.cells)),
        );
    for (who, cells) in owners {
        for c in cells {
            for t in &c.thresholds {
                let what = if insight::is_error_rule(t) {
                    format!(
                        "errors: {}; {}",
                        insight::errors_observed(c),
                        insight::accept_some_hint()
                    )
                } else {
                    format!("{} (observed {})", t.expression, t.observed_text)
                };
                out.push_str(&format!(
                    "  {} {who} · {}: {what}\n",
                    if t.passed { "✔ pass" } else { "✘ FAIL" },
                    c.label(),
                ));
            }
        }
    }
    if let Some(b) = &summary.baseline {
        let runs = if b.runs.len() > 1 {
            format!(", {} runs", b.runs.len())
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\nbaseline {} ({}{runs}): {}: {} (tolerance {}, α {} per cell)\n",
            b.run_id,
            b.file,
            units::count(b.checks.len(), "check"),
            insight::outcome_counts(&b.checks),
            units::percent(b.tolerance),
            b.alpha
        ));
        for c in b.checks.iter().filter(|c| c.outcome != Outcome::Unchanged) {
            let evidence = insight::evidence_words(c);
            let evidence = if evidence.is_empty() {
                String::new()
            } else {
                format!(" ({evidence})")
            };
            let (mark, text) = match c.outcome {
                Outcome::Regressed => ("✘ FAIL", super::junit::baseline_failure(c, c.tolerance)),
                Outcome::Improved => ("✔ improved", super::junit::baseline_change(c, c.tolerance)),
                _ => (
                    "? inconclusive",
                    super::junit::baseline_change(c, c.tolerance),
                ),
            };
            out.push_str(&format!(
                "  {mark} {} · {}: {text}{evidence}\n",
                c.scenario,
                c.label(),
            ));
        }
        for m in &b.missing_in_baseline {
            out.push_str(&format!("  note: {m} is not in the baseline\n"));
        }
        for m in &b.missing_in_run {
            out.push_str(&format!("  note: {m} is in the baseline but was not run\n"));
        }
    }
    out.push_str(&why_failed(summary));
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    out
}

/// The validity rules the run broke, first in the gate's output: why it is invalid (and the
/// rules the plan turned into warnings). Nothing when every rule held. `--quiet` prints it too.
pub fn why_invalid(summary: &Summary) -> String {
    let lines = insight::validity(summary);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = if summary.verdict == Verdict::Invalid {
        format!(
            "✘ INVALID: {}
",
            insight::validity_headline(summary)
        )
    } else {
        "validity warnings (rules the plan set to `warn`):
"
        .to_string()
    };
    for l in &lines {
        let mark = if l.warning { "⚠ warn" } else { "✘" };
        out.push_str(&format!(
            "  {mark} {}
",
            printable(&l.sentence())
        ));
    }
    out
}

/// Every reason the run failed, one line each, just above the verdict line; nothing unless the
/// verdict is `failed` (or `invalid` with failed checks, which are still listed).
/// `--quiet` prints it too, on stderr: a failure's reasons are errors.
pub fn why_failed(summary: &Summary) -> String {
    let failures = insight::failures(summary);
    let listed = summary.verdict == Verdict::Failed
        || (summary.verdict == Verdict::Invalid && !failures.is_empty());
    if !listed {
        return String::new();
    }
    let mut out = format!("\n✘ why it failed: {}\n", insight::failure_count(&failures));
    if failures.is_empty() {
        out.push_str(&format!("  {}\n", insight::UNEXPLAINED));
    }
    for f in &failures {
        out.push_str(&format!("  ✘ {}\n", printable(&f.sentence())));
    }
    out
}

/// The percentiles the plan's thresholds named beyond the table's (`p95`), one line per cell;
/// nothing when there are none.
fn other_percentiles(cells: &[crate::stats::CellSummary]) -> String {
    let mut out = String::new();
    for c in cells
        .iter()
        .filter(|c| !c.latency_us.percentiles.is_empty())
    {
        let figures: Vec<String> = c
            .latency_us
            .percentiles
            .iter()
            .map(|(name, v)| format!("{name} {}", units::micros(*v)))
            .collect();
        out.push_str(&format!("  {}: {}\n", c.label(), figures.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{behind_schedule, healthy, sample, snapshot};

    #[test]
    fn the_table_lines_up_and_ends_with_the_health_warnings() {
        let table = table(&sample());
        snapshot("console-table.txt", &table);
        let lines: Vec<&str> = table.lines().collect();
        let header = lines
            .iter()
            .position(|l| l.trim_start().starts_with("cell "))
            .expect("a header");
        // Right-aligned columns: every row of the block is as wide as its header.
        let width = lines[header].chars().count();
        for row in &lines[header + 1..header + 4] {
            assert_eq!(row.chars().count(), width, "{row:?}");
        }
        assert!(table.contains("async c=2 w=1 (incomplete)"));
        assert!(table.contains("  note, async c=2 w=1: a worker exited\n"));
        assert!(table.contains("\nhealth: 6 warnings, 0 notes\n"), "{table}");
        assert!(table.contains(
            "  WARNING: Incomplete cells. sample · async c=2 w=1: a worker exited (and 1 more)\n"
        ));
    }

    #[test]
    fn a_failed_run_ends_with_why_it_failed() {
        let mut s = sample();
        s.verdict = Verdict::Failed;
        s.scenarios[0].cells[1].thresholds[0].passed = false;
        let g = gate(&s);
        assert!(g.contains("  ✘ FAIL sample · async c=2 w=1: p99 < 100ms (observed 52.0ms)\n"));
        assert!(
            g.ends_with(
                "\n✘ why it failed: 1 threshold, 1 baseline check and 2 cells\n  ✘ sample · async c=2 w=1: threshold p99 < 100ms: observed 52.0ms, limit 100.0ms\n  ✘ sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%\n  ✘ sample · async c=2 w=1: did not complete: a worker exited\n  ✘ sample · async c=2 w=1: did not complete: a worker exited\n"
            ),
            "{g}"
        );
    }

    #[test]
    fn connections_and_error_messages_come_under_their_scenario() {
        let mut s = sample();
        s.scenarios[0].tls_insecure = true;
        s.scenarios[0].cells[1]
            .error_messages
            .insert("status".into(), vec!["\u{1b}[2Jgone".into()]);
        let t = table(&s);
        assert!(t.contains("(runner busy 2.00% in sequential) — WARNING: TLS certificates NOT verified (tls.insecure)\n"));
        assert!(
            t.contains("  sequential          1        0      4.00           1  HTTP/1.1"),
            "{t}"
        );
        assert!(
            t.contains("  time, async c=4 w=1: 14.4ms per operation: "),
            "{t}"
        );
        // A server's escape sequence is shown, never obeyed.
        assert!(
            t.contains("  errors, async c=2 w=1 · status (1): \\u{1b}[2Jgone\n"),
            "{t}"
        );
        assert!(!t.contains('\u{1b}'));
        assert!(
            t.contains("WARNING: TLS certificates were NOT verified. sample: tls.insecure is set")
        );
    }

    #[test]
    fn too_short_to_classify_and_no_speedup_are_said() {
        let mut s = healthy();
        s.scenarios[0].classified = false;
        let c = &mut s.scenarios[0].cells[1];
        c.successes = 0;
        c.speedup = None;
        let t = table(&s);
        assert!(
            t.contains("sample — workload io, too short to classify (every cell under 100 ms or 20 operations)\n"),
            "{t}"
        );
        assert!(t.contains("  no speedup\n"), "{t}");
        assert!(t.contains("sample — workload cpu, measured cpu-bound (runner busy"));
        let md = crate::report::markdown::render(&s);
        assert!(
            md.contains("sample (too short to classify)</summary>"),
            "{md}"
        );
        assert!(md.contains("| no speedup |"), "{md}");
    }

    /// Issue 14: the default error rule reads as errors, with the threshold that would accept
    /// some, in the gate's list and in why the run failed; alike in `summary.md`.
    #[test]
    fn errors_failed_by_default_read_as_what_they_are() {
        let s = crate::report::sample::failed_by_errors("connect", "connect: refused");
        let g = gate(&s);
        let hint = "to accept some, add `error_rate < 5%` to the scenario's thresholds";
        assert!(
            g.contains(&format!(
                "  ✘ FAIL sample · sequential: errors: 10 of 10 operations failed (100%); {hint}\n"
            )),
            "{g}"
        );
        assert!(
            g.ends_with(&format!(
                "\n✘ why it failed: 1 cell\n  ✘ sample · sequential: errors: 10 of 10 operations failed (100%), and no error_rate threshold accepts them (first: connect: refused); {hint}\n"
            )),
            "{g}"
        );
        let md = crate::report::markdown::render(&s);
        assert!(
            md.contains("- ❌ **failed** · sample · sequential: errors: 10 of 10 operations failed (100%), and no error\\_rate threshold accepts them (first: connect: refused). To accept some, add `error_rate < 5%` to the scenario's thresholds.\n"),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "- ❌ **failed** · sequential: errors: 10 of 10 operations failed (100%); {hint}\n"
            )),
            "{md}"
        );
    }

    #[test]
    fn a_healthy_run_has_no_health_lines() {
        assert!(!table(&healthy()).contains("health"));
        assert!(warnings(&healthy()).is_empty());
    }

    #[test]
    fn quiet_keeps_the_warnings_not_the_notes() {
        let w = warnings(&sample());
        assert_eq!(w.lines().count(), 6, "{w}");
        assert!(w.lines().all(|l| l.starts_with("warning: ")), "{w}");
        assert!(w.contains(
            "warning: Incomplete cells. sample · async c=2 w=1: a worker exited (and 1 more)\n"
        ));
    }

    #[test]
    fn an_open_model_behind_its_schedule_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[2].open = Some(behind_schedule());
        let t = table(&s);
        assert!(t.contains(
            "  open, async c=4 w=1: target 100/s, achieved 88.0/s, 120 of 1000 arrivals dropped, send lag p99 0µs, uncorrected p50 0µs p99 0µs — WARNING: the rate was not kept\n"
        ), "{t}");
        assert!(t.contains("WARNING: The arrival rate was not kept."), "{t}");
    }

    #[test]
    fn gate_lists_thresholds_then_the_baseline() {
        let g = gate(&sample());
        snapshot("console-gate.txt", &g);
        assert!(g.starts_with("\n  ✔ pass sample · sequential: p99 < 100ms (observed 52.0ms)\n"));
        assert!(g.contains(
            "\nbaseline earlier (baseline/summary.json): 2 checks: 1 regressed, 1 inconclusive (tolerance 10.0%, α 0.05 per cell)\n"
        ));
        assert!(
            g.contains("  ✘ FAIL sample · async c=2 w=1: p99 regressed: 52.0ms against 40.0ms")
        );
        // Each check not shown unchanged says what the data could have seen.
        assert!(g.contains(
            "  ? inconclusive sample · async c=2 w=1: throughput: 14.4/s against 17.0/s in the baseline (-15.3%), tolerance 10.0% (beyond the tolerance, but not beyond the noise; change -40.0% to +10.0% (95%); could detect ≤ 9.80/s (-42.0%))\n"
        ), "{g}");
        // An interrupted run: no "why it failed" (the health section says it was interrupted).
        assert!(!g.contains("why it failed"));
        assert!(g.contains("  note: sample · async c=4 w=1 is not in the baseline\n"));
        let mut quiet = sample();
        quiet.baseline = None;
        quiet
            .scenarios
            .iter_mut()
            .flat_map(|s| &mut s.cells)
            .for_each(|c| c.thresholds.clear());
        assert_eq!(gate(&quiet), "");
    }
}
