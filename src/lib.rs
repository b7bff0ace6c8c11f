//! loadplan: a declarative load-test runner.
//!
//! A run is a pipeline of stages, each handing the next a typed value and never reaching back
//! ([`pipeline`] is the whole of it, one call per stage):
//!
//! 1. `plan`: YAML file → validated [`plan::Plan`] (errors name file, line and column; exit 2).
//! 2. `run`: plan → one [`stats::CellResult`] per cell (scenario × model × concurrency): a load
//!    shape decides what each user does next, a host decides where the users run.
//! 3. `stats`: results → [`stats::Summary`], the JSON contract (percentiles, speedups, bound).
//! 4. `gate`: summary → [`stats::Verdict`] (thresholds, baseline), which alone decides the exit
//!    code.
//! 5. `report`: summary → the bytes of `index.html`, `summary.json`, `junit.xml`, `summary.md`
//!    and `histograms.hlog`, and the console table's text; `cmd` writes them to
//!    `<out>/<plan>/<run id>/` and prints (the only module that prints or writes).
//!
//! [`measure`] is stage 2 with its live exporter and [`judge`] stages 3 and 4: `run --shard` and
//! `report` (merging shards) call them rather than assembling stages of their own.
//!
//! Beside them: `export` (live metrics pushed while the run goes on, `--export`; it follows the
//! run stage's cells and hands the report stage one summary per endpoint), `workload` (what
//! one operation is: the only HTTP client and the CPU kernels),
//! `server` (the built-in target server), `units` (durations and numbers as people read them),
//! `cmd` (one file per command), `cli` (the only user of clap) and [`Error`] (exit codes 2 and 3).
//! `ARCHITECTURE.md` is the map.

pub mod bare;
pub mod category;
pub mod cli;
pub mod cmd;
mod error;
pub mod export;
pub mod files;
pub mod gate;
pub mod pem;
pub mod plan;
pub mod report;
pub mod run;
pub mod server;
pub mod stats;
pub mod units;
pub mod workload;

use std::process::ExitCode;

use cli::{Cli, Command};
use cmd::OutputDir;
pub use error::Error;
use plan::{Cell, Plan};
use report::Reporter;
use stats::{Summary, Verdict};

/// Runs one command line and returns the process exit code; the one place errors are printed.
pub fn main(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => cmd::run::run(&args),
        Command::Validate { plans, set } => cmd::validate::run(&plans, &set),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Report {
            results,
            out,
            quiet,
            markdown_max_bytes,
        } => cmd::report::run(&results, &out, quiet, markdown_max_bytes),
        Command::Init(args) => cmd::init::run(&args),
        Command::Completions { shell } => cmd::completions::run(shell),
        Command::Schema { summary } => cmd::schema::run(summary),
        Command::Trend {
            paths,
            out,
            fail_on_change,
            recent,
        } => cmd::trend::run(
            &paths,
            &out,
            fail_on_change,
            usize::try_from(recent).unwrap_or(usize::MAX),
        ),
        Command::Try {
            plan,
            scenario,
            iterations,
        } => cmd::trial::run(&plan, scenario.as_deref(), iterations),
        Command::Compare { baseline, run, out } => {
            cmd::compare::run(&baseline, &run, out.as_deref())
        }
        Command::Worker => cmd::worker::run(),
    };
    ExitCode::from(match outcome {
        Ok(verdict) => gate::exit_code(verdict),
        Err(e) => {
            crate::cmd::tell!("{e}");
            e.exit_code()
        }
    })
}

/// What the stages after the plan need besides it.
pub struct Stages<'a> {
    pub run_id: &'a str,
    pub observer: &'a dyn run::Observer,
    pub console: cmd::Console,
    pub baseline: Option<gate::Baseline<'a>>,
    pub dir: &'a OutputDir,
    pub reporters: &'a [Box<dyn Reporter>],
    /// Live export (`--export`); [`export::Settings::off`] for none.
    pub export: &'a export::Settings,
}

/// One validated plan through the stages: run its cells (followed live by the exporter, when
/// asked), summarise, gate, report.
pub fn pipeline(plan: &Plan, cells: &[Cell], stages: Stages) -> Result<(Summary, Verdict), Error> {
    let (results, exported) = measure(
        plan,
        cells,
        stages.run_id,
        stages.observer,
        stages.export,
        None,
    )?;
    let (summary, verdict) = judge(plan, &results, exported, stages.baseline);
    cmd::publish(
        &summary,
        verdict,
        stages.dir,
        stages.reporters,
        stages.console,
    )?;
    Ok((summary, verdict))
}

/// The run stage, followed live by the exporter when asked: the results of `cells` (this
/// shard's part of them, with `shard`) and what each export endpoint received.
pub fn measure(
    plan: &Plan,
    cells: &[Cell],
    run_id: &str,
    observer: &dyn run::Observer,
    export: &export::Settings,
    shard: Option<stats::Shard>,
) -> Result<(stats::RunResults, Vec<stats::ExportSummary>), Error> {
    let exporter =
        export::Exporter::start(export, plan, run_id, shard).map_err(|source| Error::System {
            what: "cannot start the exporter".into(),
            source,
        })?;
    let follower = exporter.as_ref().map(|e| e as &dyn run::live::Follower);
    let results = run::execute_followed(plan, cells, run_id, observer, shard, follower);
    let exported = exporter.map(export::Exporter::finish).unwrap_or_default();
    Ok((results?, exported))
}

/// The stats and gate stages: results summarised (with what was exported), then judged
/// against the plan's thresholds and the baseline.
pub fn judge(
    plan: &Plan,
    results: &stats::RunResults,
    exported: Vec<stats::ExportSummary>,
    baseline: Option<gate::Baseline>,
) -> (Summary, Verdict) {
    let mut summary = stats::summarize(plan, results);
    summary.export = exported;
    let verdict = gate::evaluate(plan, &mut summary, baseline);
    (summary, verdict)
}
