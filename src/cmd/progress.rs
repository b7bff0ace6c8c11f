//! Progress on stderr while a run goes on: a bar per cell on a terminal, one quiet line per
//! finished cell otherwise, so CI logs stay readable; with `--quiet`, only the run's warnings.
//!
//! Input: the run stage's events ([`run::Observer`]), each finished cell's figures as the run
//! stage hands them out ([`Progress`], computed by `stats` the way the summary computes them).
//! Output: lines on stderr. Must not compute a figure itself.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::{self, Notice, Observer};
use crate::stats::Progress;
use crate::units;

/// Progress on stderr: a bar per cell on a terminal, one line per finished cell.
pub struct Bars {
    terminal: bool,
    current: Mutex<Option<Ticker>>,
}

struct Ticker {
    bar: ProgressBar,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
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

impl Default for Bars {
    fn default() -> Self {
        Bars::new()
    }
}

impl Observer for Bars {
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

    fn slice_finished(&self, _label: &str) {
        if let Some(bar) = self.finish_ticker() {
            bar.finish_and_clear();
        }
    }

    fn cell_finished(&self, index: usize, total: usize, label: &str, p: &Progress) {
        if let Some(bar) = self.finish_ticker() {
            bar.finish_and_clear();
        }
        let mut line = format!(
            "[{}/{total}] {label}: {} ops in {:.2}s ({}/s), p99 {}, {} errors",
            index + 1,
            p.operations,
            p.wall.as_secs_f64(),
            units::number(p.throughput),
            units::micros(p.p99_us),
            p.errors,
        );
        if !p.complete {
            line.push_str(" (incomplete)");
        }
        super::tell!("{line}");
    }

    fn note(&self, notice: Notice, message: &str) {
        match notice {
            Notice::Info => super::tell!("{message}"),
            Notice::Warning => super::tell!("warning: {message}"),
        }
    }
}

/// The progress of `--quiet`: nothing but warnings.
pub struct Silent;

impl run::Observer for Silent {
    fn cell_started(&self, _: usize, _: usize, _: &str, _: Option<u64>, _: Arc<AtomicU64>) {}

    fn cell_finished(&self, _: usize, _: usize, _: &str, _: &Progress) {}

    fn note(&self, notice: Notice, message: &str) {
        // A warning says something is off in the setup (say, TLS checks turned off): even a
        // quiet run shows it.
        if notice == Notice::Warning {
            super::tell!("warning: {message}");
        }
    }
}
