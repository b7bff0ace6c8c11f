//! loadplan: a declarative load-test runner.
//!
//! A run is a pipeline of stages, each handing the next a typed value and never reaching back:
//!
//! 1. `plan`: YAML file → validated [`plan::Plan`] (errors name file, line and column; exit 2).
//! 2. `run`: plan → one [`stats::CellResult`] per cell (scenario × model × concurrency), each
//!    measured by per-worker HdrHistograms merged at the end.
//! 3. `stats`: results → [`stats::Summary`], the JSON contract (percentiles, speedups, bound).
//! 4. `gate`: summary → [`stats::Verdict`], which alone decides the exit code.
//! 5. `report`: summary → files (`index.html`, `summary.json`) in `<out>/<plan>/<run id>/`.
//!
//! Beside them: `workload` (what one operation is: the only HTTP client and the CPU kernels),
//! `server` (the built-in target server) and `cli` (the only user of clap).

pub mod cli;
pub mod gate;
pub mod plan;
pub mod report;
pub mod run;
pub mod server;
pub mod stats;
pub mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Cli, Command, RunArgs};
use gate::exit;

/// Runs one command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Run(args) => run(&args),
        Command::Validate { plans } => validate(&plans),
        Command::Serve { addr } => match server::run_standalone(addr) {
            Ok(()) => exit::PASSED,
            Err(e) => {
                eprintln!("error: {e:#}");
                exit::RUN_FAILED
            }
        },
        Command::Worker => match run::worker::main() {
            Ok(()) => exit::PASSED,
            Err(e) => {
                eprintln!("loadplan worker: {e:#}");
                exit::RUN_FAILED
            }
        },
    };
    ExitCode::from(code)
}

/// Loads every plan before anything runs; prints every error found.
fn load_plans(paths: &[PathBuf]) -> Result<Vec<plan::Plan>, u8> {
    let mut plans = Vec::new();
    let mut failed = false;
    for p in paths {
        match plan::load(p) {
            Ok(plan) => plans.push(plan),
            Err(e) => {
                eprintln!("{}", e.render());
                failed = true;
            }
        }
    }
    if failed {
        Err(exit::INVALID)
    } else {
        Ok(plans)
    }
}

/// The cells to run: all of them, or those of the scenarios `only` names.
fn select_cells(
    plan: &plan::Plan,
    only: &[String],
    cores: usize,
) -> Result<Vec<plan::Cell>, String> {
    for name in only {
        if !plan.scenarios.iter().any(|s| s.name == *name) {
            return Err(format!(
                "{}: --only {name}: the plan has no scenario of that name",
                plan.file.display()
            ));
        }
    }
    Ok(plan
        .cells(cores)
        .into_iter()
        .filter(|c| only.is_empty() || only.contains(&plan.scenarios[c.scenario].name))
        .collect())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `loadplan validate`: lists each plan's cells and totals.
fn validate(paths: &[PathBuf]) -> u8 {
    let plans = match load_plans(paths) {
        Ok(p) => p,
        Err(code) => return code,
    };
    for p in &plans {
        let cells = p.cells(cores());
        println!(
            "{}: ok: plan `{}`, {} scenarios, {} cells",
            p.file.display(),
            p.name,
            p.scenarios.len(),
            cells.len()
        );
        let mut total_ops = 0u64;
        let mut total_time = std::time::Duration::ZERO;
        for c in &cells {
            let s = &p.scenarios[c.scenario];
            let label = plan::cell_label(c.model, c.concurrency.get(), c.workers.get());
            let amount = match s.load {
                plan::Load::Repeat(_) => {
                    let n = p.cell_operations(c).unwrap_or(0);
                    total_ops += n;
                    format!("{n} operations")
                }
                plan::Load::Duration(d) => {
                    total_time += d;
                    format!("for {}", humantime::format_duration(d))
                }
            };
            println!("  {} · {label}: {amount}", s.name);
        }
        println!(
            "  total: {total_ops} counted operations, {} of timed load",
            humantime::format_duration(total_time)
        );
    }
    exit::PASSED
}

/// `loadplan run`: the pipeline, plan by plan.
pub fn run(args: &RunArgs) -> u8 {
    let plans = match load_plans(&args.plans) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut selected = Vec::new();
    for p in &plans {
        match select_cells(p, &args.only, cores()) {
            Ok(cells) => selected.push(cells),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    // Templates and output folders are checked before any load is sent.
    let reporters = match report::reporters() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN_FAILED;
        }
    };
    let mut dirs = Vec::new();
    for p in &plans {
        match report::OutputDir::prepare(&args.out, &p.slug) {
            Ok(d) => dirs.push(d),
            Err(e) => {
                eprintln!("error: the output folder is not writable: {e}");
                return exit::RUN_FAILED;
            }
        }
    }
    install_interrupt_handler();
    let observer = report::console::Progress::new();
    let mut worst = exit::PASSED;
    for ((plan, cells), dir) in plans.iter().zip(&selected).zip(&dirs) {
        if run::stopping() {
            break;
        }
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace(':', "-");
        let run_id = dir.unique_run_id(&stamp);
        eprintln!("running plan `{}` ({} cells)", plan.name, cells.len());
        let results = match run::execute(plan, cells, &run_id, &observer) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e}", plan.file.display());
                return exit::RUN_FAILED;
            }
        };
        let mut summary = stats::summarize(plan, &results);
        let verdict = gate::evaluate(&mut summary);
        print!("{}", report::console::table(&summary));
        match report::write_run(dir, &summary, &reporters) {
            Ok(path) => println!(
                "\nverdict: {} · report: {}",
                verdict_word(verdict),
                path.join("index.html").display()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::RUN_FAILED;
            }
        }
        worst = worst_code(worst, gate::exit_code(verdict));
    }
    worst
}

fn verdict_word(v: stats::Verdict) -> &'static str {
    match v {
        stats::Verdict::Passed => "passed",
        stats::Verdict::Failed => "FAILED",
        stats::Verdict::Interrupted => "interrupted",
    }
}

/// Interrupted beats failed beats passed.
fn worst_code(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        exit::INTERRUPTED => 3,
        exit::GATE_FAILED => 2,
        exit::PASSED => 0,
        _ => 1,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// First Ctrl-C or SIGTERM: stop the load, keep what was measured. Second: leave at once
/// (worker processes and the built-in server die with us through PDEATHSIG).
fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if run::stopping() {
            // The user insists: no more waiting for workers or reports.
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        eprintln!(
            "\ninterrupted: stopping the load and writing what was measured (Ctrl-C again to quit at once)"
        );
        run::request_stop();
    });
    if let Err(e) = result {
        eprintln!("warning: Ctrl-C will not keep partial results: {e}");
    }
}
