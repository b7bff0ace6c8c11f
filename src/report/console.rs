//! The console: progress on stderr while the run goes on (a bar per cell on a terminal, one quiet
//! line per cell otherwise, so CI logs stay readable) and the summary table on stdout at the end.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::cell_label;
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
        // Throughput counts successes only: errors are no work done.
        let tput = if wall > 0.0 {
            rec.successes as f64 / wall
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
                    cell_label(c.model, c.concurrency, c.workers)
                        + if c.complete { "" } else { " (incomplete)" },
                    c.operations.to_string(),
                    c.errors.values().sum::<u64>().to_string(),
                    units::number(c.throughput_per_s),
                    units::micros(c.latency_us.p50),
                    units::micros(c.latency_us.p99),
                    units::micros(c.latency_us.max),
                    units::number(c.cores_busy),
                    units::speedup(c.speedup),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut l = String::from("  ");
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
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
                cell_label(c.model, c.concurrency, c.workers),
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
            out.push_str(&format!(
                "  note, {}: {}\n",
                cell_label(c.model, c.concurrency, c.workers),
                c.notes.join("; ")
            ));
        }
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
                    cell_label(c.model, c.concurrency, c.workers),
                    t.expression,
                    t.observed_text
                ));
            }
        }
    }
    if let Some(b) = &summary.baseline {
        let failed: Vec<_> = b.checks.iter().filter(|c| !c.passed).collect();
        let noise = b
            .checks
            .iter()
            .filter(|c| c.noise.as_ref().is_some_and(|n| n.within_noise));
        out.push_str(&format!(
            "\nbaseline {} ({}): {} checks, {} regressions, {} within noise (tolerance {})\n",
            b.run_id,
            b.file,
            b.checks.len(),
            failed.len(),
            noise.count(),
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
