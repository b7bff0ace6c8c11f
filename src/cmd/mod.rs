//! One file per command. Each handler takes its parsed arguments and returns the verdict (or the
//! [`Error`] that `lib.rs` prints). This folder is the only place that prints or writes files:
//! the stages hand back text and bytes. What a command shows is worded by the console reporter
//! (`report::console`), the progress by `progress.rs`, the few lines of its own through [`say!`]
//! and [`tell!`], and where it goes (`--quiet`, `--json`) is [`Console`]'s choice; every output
//! file is written by `output.rs`.

pub mod compare;
pub mod completions;
pub mod init;
pub mod output;
pub mod progress;
pub mod report;
pub mod run;
pub mod schema;
pub mod serve;
pub mod trend;
pub mod trial;
pub mod validate;
pub mod worker;

use std::path::PathBuf;

use crate::Error;
use crate::plan::{self, Plan};
use crate::report::{self as reports, Reporter};
use crate::stats::{Summary, Verdict};
pub use output::{OutputDir, write_atomic};

/// `println!` that never panics: a closed stdout (`loadplan validate plan.yaml | head`) must not
/// turn into a crash, least of all in the middle of a run whose results are still to be written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use say;

/// `eprintln!` with the same guarantee: a closed stderr (`loadplan run plan.yaml 2>&1 | head -1`
/// on a plan error) must not turn an exit code of 2 into a panic's.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use tell;

/// `print!` with the same guarantee.
pub fn print(text: &str) {
    use std::io::Write as _;
    let _ = write!(std::io::stdout().lock(), "{text}");
}

/// Loads every plan before anything runs, with the `--set` values; reports every error found.
pub fn load_plans(paths: &[PathBuf], sets: &[plan::SetValue]) -> Result<Vec<Plan>, Error> {
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match plan::load_with(p, sets) {
            Ok(plan) => plans.push(plan),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(Error::Plans(errors))
    }
}

/// Logical CPUs available to the runner.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Where the human side of `run` and `report` goes, and how much of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console {
    /// Only the verdict line, warnings and errors.
    pub quiet: bool,
    /// stdout carries summary.json alone; everything meant for people goes to stderr.
    pub json: bool,
}

impl Console {
    /// Text for people (the table, the gate results): left out with `--quiet`.
    pub fn human(&self, text: &str) {
        if !self.quiet {
            self.line_out(text);
        }
    }

    /// Always shown: on stdout, or on stderr when stdout is for JSON.
    fn line_out(&self, text: &str) {
        if self.json {
            use std::io::Write as _;
            let _ = write!(std::io::stderr().lock(), "{text}");
        } else {
            print(text);
        }
    }
}

/// The last stage of `run` and `report`: the summary on the console, every output file written,
/// and the verdict line with where the report is; with `--json`, summary.json as written.
pub fn publish(
    summary: &Summary,
    verdict: Verdict,
    dir: &OutputDir,
    reporters: &[Box<dyn Reporter>],
    console: Console,
) -> Result<(), Error> {
    console.human(&reports::console::table(summary));
    console.human(&reports::console::gate(summary));
    if console.quiet {
        // The table is left out, its warnings are not (the README promises them).
        let warnings = reports::console::warnings(summary);
        if !warnings.is_empty() {
            tell!("{}", warnings.trim_end_matches('\n'));
        }
        // Alone, the verdict line would say that it failed, not why.
        let invalid = reports::console::why_invalid(summary);
        if !invalid.is_empty() {
            tell!("{}", invalid.trim_matches('\n'));
        }
        let why = reports::console::why_failed(summary);
        if !why.is_empty() {
            tell!("{}", why.trim_matches('\n'));
        }
    }
    let path = output::write_run(dir, summary, reporters)?;
    let verdict_line = format!(
        "verdict: {} · report: {}\n",
        verdict_word(verdict),
        path.join("index.html").display()
    );
    // A blank line sets the verdict off from the table; alone, it is the only line.
    console.line_out(&if console.quiet {
        verdict_line
    } else {
        format!("\n{verdict_line}")
    });
    if console.json {
        // The file as written, so that stdout and summary.json are the same bytes.
        let file = path.join("summary.json");
        let json = std::fs::read(&file).map_err(|source| Error::System {
            what: format!("cannot read back {}", file.display()),
            source,
        })?;
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(&json);
    }
    Ok(())
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "FAILED",
        Verdict::Invalid => "INVALID (the run did not measure what it asked)",
        Verdict::Interrupted => "interrupted",
    }
}
