//! The console: progress on stderr while the run goes on (a bar per cell on a terminal, one quiet
//! line per cell otherwise, so CI logs stay readable) and the summary table on stdout at the end.
//!
//! Input: the run's events, then a [`Summary`]. Output: text; [`table`] and [`gate`] return it,
//! the caller prints it. The table ends with the health warnings of `insight.rs`, one line each.
//! Must not decide anything (the gate does) nor word a warning differently from the reports.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::insight::{self, Severity};
use crate::run::Observer;
use crate::stats::{CellResult, Summary};
use crate::units;

/// Progress on stderr.
pub struct Progress {
    terminal: bool,
    current: Mutex<Option<Ticker>>,
}

struct Ticker {
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            current: Mutex::new(None),
        }
    }

    fn finish_ticker(&self) -> Option<ProgressBar> {
        let t = self.current.lock().ok()?.take()?;
        t.done.store(true, Ordering::Relaxed);
        let _ = t.thread.join();
        Some(t.bar)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Observer for Progress {
    fn cell_started(
        &self,
        index: usize,
        total: usize,
        label: &str,
        expected_ops: Option<u64>,
        progress: Arc<AtomicU64>,
    ) {
        if !self.terminal {
            return;
        }
        let bar = match expected_ops {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if expected_ops.is_some() {
            "{prefix} {msg} [{bar:30}] {pos}/{len} ops {elapsed}"
        } else {
            "{prefix} {msg} {spinner} {pos} ops {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("[{}/{total}]", index + 1));
        bar.set_message(label.to_string());
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (bar, done) = (bar.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(progress.load(Ordering::Relaxed));
                    bar.tick();
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        if let Ok(mut cur) = self.current.lock() {
            *cur = Some(Ticker { bar, done, thread });
        }
    }

    fn cell_finished(&self, index: usize, total: usize, label: &str, r: &CellResult) {
        if let Some(bar) = self.finish_ticker() {
            bar.finish_and_clear();
        }
        let rec = &r.measured.recorder;
        let wall = r.measured.wall.as_secs_f64();
        let tput = if wall > 0.0 {
            rec.operations as f64 / wall
        } else {
            0.0
        };
        let p99 = rec.latency.value_at_quantile(0.99);
        let mut line = format!(
            "[{}/{total}] {label}: {} ops in {:.2}s ({}/s), p99 {}, {} errors",
            index + 1,
            rec.operations,
            wall,
            units::number(tput),
            units::micros(p99),
            rec.error_count(),
        );
        if !r.measured.complete {
            line.push_str(" (incomplete)");
        }
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    fn note(&self, message: &str) {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}

/// The end-of-run table: one block per scenario, one row per cell.
pub fn table(summary: &Summary) -> String {
    let mut out = String::new();
    for s in &summary.scenarios {
        out.push_str(&format!(
            "\n{} — workload {}, measured {}-bound (runner busy {} in {})\n",
            s.name,
            s.kind.as_str(),
            s.bound.as_str(),
            units::percent(s.busy_fraction),
            s.bound_cell
        ));
        let header = [
            "cell", "ops", "errors", "tput/s", "p50", "p99", "max", "cores", "speedup",
        ];
        let rows: Vec<[String; 9]> = s
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
                    units::number(c.throughput_per_s),
                    units::micros(c.latency_us.p50),
                    units::micros(c.latency_us.p99),
                    units::micros(c.latency_us.max),
                    units::number(c.cores_busy),
                    units::speedup(c.speedup),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
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
            l.push('\n');
            l
        };
        out.push_str(&line(header.to_vec()));
        for r in &rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
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
                    " — WARNING: the generator could not keep the rate"
                } else {
                    ""
                }
            ));
        }
        for c in s.cells.iter().filter(|c| !c.notes.is_empty()) {
            out.push_str(&format!("  note, {}: {}\n", c.label(), c.notes.join("; ")));
        }
    }
    out.push_str(&health(summary));
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
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "\nhealth: {}, {}\n",
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note")
    );
    for h in &items {
        let word = match h.severity {
            Severity::Warning => "WARNING",
            Severity::Note => "note",
        };
        out.push_str(&format!("  {word}: {}", h.title));
        if let Some(first) = h.cells.first() {
            out.push_str(&format!(" {}", first.text));
        }
        if h.cells.len() > 1 {
            out.push_str(&format!(" (and {} more)", h.cells.len() - 1));
        }
        out.push('\n');
    }
    out
}

/// Threshold and baseline results, failures first, for the end of the console output.
pub fn gate(summary: &Summary) -> String {
    let mut out = String::new();
    for s in &summary.scenarios {
        for c in &s.cells {
            for t in &c.thresholds {
                out.push_str(&format!(
                    "  {} {} · {}: {} (observed {})\n",
                    if t.passed { "pass" } else { "FAIL" },
                    s.name,
                    c.label(),
                    t.expression,
                    t.observed_text
                ));
            }
        }
    }
    if let Some(b) = &summary.baseline {
        let failed: Vec<_> = b.checks.iter().filter(|c| !c.passed).collect();
        out.push_str(&format!(
            "\nbaseline {} ({}): {} checks, {} regressions (tolerance {})\n",
            b.run_id,
            b.file,
            b.checks.len(),
            failed.len(),
            units::percent(b.tolerance)
        ));
        for c in failed {
            out.push_str(&format!(
                "  FAIL {} · {} c={}: {}\n",
                c.scenario,
                c.model.as_str(),
                c.concurrency,
                super::junit::baseline_failure(c, b.tolerance)
            ));
        }
        for m in &b.missing_in_baseline {
            out.push_str(&format!("  note: {m} is not in the baseline\n"));
        }
        for m in &b.missing_in_run {
            out.push_str(&format!("  note: {m} is in the baseline but was not run\n"));
        }
    }
    if !out.is_empty() {
        out.insert(0, '\n');
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
        assert!(table.contains("\nhealth: 4 warnings, 0 notes\n"), "{table}");
        assert!(table.contains(
            "  WARNING: Incomplete cells. sample · async c=2 w=1: a worker exited (and 1 more)\n"
        ));
    }

    #[test]
    fn a_healthy_run_has_no_health_lines() {
        assert!(!table(&healthy()).contains("health"));
    }

    #[test]
    fn an_open_model_behind_its_schedule_is_flagged() {
        let mut s = sample();
        s.scenarios[0].cells[2].open = Some(behind_schedule());
        let t = table(&s);
        assert!(t.contains(
            "  open, async c=4 w=1: target 100/s, achieved 88.0/s, 120 of 1000 arrivals dropped, send lag p99 0µs, uncorrected p50 0µs p99 0µs — WARNING: the generator could not keep the rate\n"
        ), "{t}");
        assert!(t.contains("WARNING: The arrival rate was not kept."), "{t}");
    }

    #[test]
    fn gate_lists_thresholds_then_the_baseline() {
        let g = gate(&sample());
        snapshot("console-gate.txt", &g);
        assert!(g.starts_with("\n  pass sample · sequential: p99 < 100ms (observed 52.0ms)\n"));
        assert!(g.contains(
            "\nbaseline earlier (baseline/summary.json): 1 checks, 1 regressions (tolerance 10.0%)\n"
        ));
        assert!(g.contains("  FAIL sample · async c=2: p99 regressed: 52.0ms against 40.0ms"));
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
