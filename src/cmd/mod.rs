//! One file per command. Each handler takes its parsed arguments and returns the verdict (or the
//! [`Error`] that `lib.rs` prints); what a command shows on the terminal goes through the console
//! reporter, the few lines of its own through [`say!`].

pub mod report;
pub mod run;
pub mod schema;
pub mod serve;
pub mod trend;
pub mod validate;
pub mod worker;

use std::path::PathBuf;

use crate::Error;
use crate::plan::{self, Plan};
use crate::report::{self as reports, OutputDir, Reporter};
use crate::stats::{Summary, Verdict};

/// `println!` that never panics: a closed stdout (`loadplan validate plan.yaml | head`) must not
/// turn into a crash, least of all in the middle of a run whose results are still to be written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use say;

/// `print!` with the same guarantee.
pub fn print(text: &str) {
    use std::io::Write as _;
    let _ = write!(std::io::stdout().lock(), "{text}");
}

/// Loads every plan before anything runs; reports every error found.
pub fn load_plans(paths: &[PathBuf]) -> Result<Vec<Plan>, Error> {
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match plan::load(p) {
            Ok(plan) => plans.push(plan),
            Err(e) => errors.push(e),
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

/// The last stage of `run` and `report`: the summary on the console, every output file written,
/// and the verdict line with where the report is.
pub fn publish(
    summary: &Summary,
    verdict: Verdict,
    dir: &OutputDir,
    reporters: &[Box<dyn Reporter>],
) -> Result<(), Error> {
    print(&reports::console::table(summary));
    print(&reports::console::gate(summary));
    let path = reports::write_run(dir, summary, reporters)?;
    say!(
        "\nverdict: {} · report: {}",
        verdict_word(verdict),
        path.join("index.html").display()
    );
    Ok(())
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "FAILED",
        Verdict::Interrupted => "interrupted",
    }
}
