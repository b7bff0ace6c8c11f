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
mod schema;
pub mod server;
pub mod stats;
pub mod units;
pub mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Cli, Command, RunArgs};
use gate::exit;

/// `println!` that never panics: a closed stdout (`loadplan validate plan.yaml | head`) must not
/// turn into a crash, least of all in the middle of a run whose results are still to be written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` with the same guarantee.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Runs one command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Run(args) => run(&args),
        Command::Validate { plans } => validate(&plans),
        Command::Serve {
            addr,
            tls,
            tls_cert,
            tls_key,
            client_ca,
        } => match server::run_standalone(server::ServeOptions {
            addr,
            tls,
            tls_cert,
            tls_key,
            client_ca,
        }) {
            Ok(()) => exit::PASSED,
            Err(e) => {
                eprintln!("error: {e:#}");
                exit::RUN_FAILED
            }
        },
        Command::Report { results, out } => rerender(&results, &out),
        Command::Schema { summary } => {
            let schema = if summary {
                schema::summary()
            } else {
                schema::plan()
            };
            say!("{schema}");
            exit::PASSED
        }
        Command::Trend { paths, out } => trend(&paths, &out),
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

/// `loadplan trend`: one HTML page of every cell's numbers across saved runs of one plan.
fn trend(paths: &[PathBuf], out: &std::path::Path) -> u8 {
    match report::trend::run(paths, out) {
        Ok(w) => {
            for s in &w.skipped {
                eprintln!("warning: {}: no summary.json, skipped", s.display());
            }
            say!(
                "trend: {} runs, {} cells: {}",
                w.runs,
                w.cells,
                w.path.display()
            );
            exit::PASSED
        }
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_input_error() {
                exit::INVALID
            } else {
                exit::RUN_FAILED
            }
        }
    }
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
        say!(
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
            let amount = match &s.load {
                plan::Load::Repeat(_) => {
                    let n = p.cell_operations(c).unwrap_or(0);
                    total_ops += n;
                    format!("{n} operations")
                }
                other => {
                    total_time += other.planned_time().unwrap_or_default();
                    match run::scheduled_arrivals(other) {
                        Some(n) => format!("{}: {n} arrivals", other.describe()),
                        None => other.describe(),
                    }
                }
            };
            say!("  {} · {label}: {amount}", s.name);
        }
        say!(
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
    if let (Some(shard), Some(file)) = (args.shard, &args.results) {
        return run_shard(&plans, &selected, shard, file, args.start_at);
    }
    // Templates and output folders are checked before any load is sent.
    let reporters = match report::reporters(args.templates.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN_FAILED;
        }
    };
    let mut baselines = Vec::new();
    for path in &args.baseline {
        let Some(p) = plans
            .iter()
            .find(|p| baseline_plan_name(path).as_deref() == Some(&*p.name))
        else {
            eprintln!(
                "error: the baseline {} is not a summary.json of any plan being run",
                path.display()
            );
            return exit::INVALID;
        };
        match gate::baseline::load(path, &p.name) {
            Ok(s) => baselines.push((p.name.clone(), path.clone(), s)),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
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
    wait_until(args.start_at);
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
        let results = match run::execute(plan, cells, &run_id, &observer, None) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e}", plan.file.display());
                return exit::RUN_FAILED;
            }
        };
        let mut summary = stats::summarize(plan, &results);
        let baseline = baselines
            .iter()
            .find(|(name, _, _)| *name == plan.name)
            .map(|(_, file, s)| gate::Baseline {
                summary: s,
                file,
                settings: plan::BaselineSettings {
                    tolerance: args.tolerance.unwrap_or(plan.baseline.tolerance),
                    ..plan.baseline
                },
            });
        let verdict = gate::evaluate(plan, &mut summary, baseline);
        say_part!("{}", report::console::table(&summary));
        say_part!("{}", report::console::gate(&summary));
        match report::write_run(dir, &summary, &reporters) {
            Ok(path) => {
                say!(
                    "\nverdict: {} · report: {}",
                    verdict_word(verdict),
                    path.join("index.html").display()
                );
                append_step_summary(&summary);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::RUN_FAILED;
            }
        }
        worst = worst_code(worst, gate::exit_code(verdict));
    }
    worst
}

/// Sleeps until `at` (for shards that start together); Ctrl-C cuts the wait short.
fn wait_until(at: Option<std::time::SystemTime>) {
    let Some(at) = at else { return };
    if let Ok(wait) = at.duration_since(std::time::SystemTime::now()) {
        let whole = std::time::Duration::from_secs(wait.as_secs());
        eprintln!(
            "waiting {} for --start-at",
            humantime::format_duration(whole)
        );
    }
    while std::time::SystemTime::now() < at && !run::stopping() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `loadplan run --shard I/N --results FILE`: this shard's part of every cell, saved raw.
fn run_shard(
    plans: &[plan::Plan],
    selected: &[Vec<plan::Cell>],
    shard: stats::Shard,
    file: &std::path::Path,
    start_at: Option<std::time::SystemTime>,
) -> u8 {
    let ([plan], [cells]) = (plans, selected) else {
        eprintln!("error: --shard runs one plan at a time");
        return exit::INVALID;
    };
    // The results file is checked writable before any load is sent.
    if let Err(e) = report::write_atomic(file, b"") {
        eprintln!("error: the results file is not writable: {e}");
        return exit::RUN_FAILED;
    }
    install_interrupt_handler();
    wait_until(start_at);
    let began = start_at.unwrap_or_else(std::time::SystemTime::now);
    let stamp = humantime::format_rfc3339_seconds(began)
        .to_string()
        .replace(':', "-");
    eprintln!(
        "running shard {}/{} of plan `{}` ({} cells)",
        shard.index + 1,
        shard.count,
        plan.name,
        cells.len()
    );
    let observer = report::console::Progress::new();
    let results = match run::execute(plan, cells, &stamp, &observer, Some(shard)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", plan.file.display());
            return exit::RUN_FAILED;
        }
    };
    say_part!(
        "{}",
        report::console::table(&stats::summarize(plan, &results))
    );
    let saved = serde_json::to_vec(&stats::to_results(plan, &results, shard))
        .map_err(|e| e.to_string())
        .and_then(|bytes| report::write_atomic(file, &bytes).map_err(|e| e.to_string()));
    match saved {
        Ok(()) => say!(
            "\nshard {}/{}: results in {} (merge them with `loadplan report`)",
            shard.index + 1,
            shard.count,
            file.display()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN_FAILED;
        }
    }
    if results.interrupted {
        exit::INTERRUPTED
    } else {
        exit::PASSED
    }
}

/// The plan name inside a baseline file, to pair it with the plan being run.
fn baseline_plan_name(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["plan"]["name"].as_str().map(str::to_string)
}

/// GitHub Actions shows `$GITHUB_STEP_SUMMARY` on the job page: add this run's Markdown to it.
fn append_step_summary(summary: &stats::Summary) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let md = report::markdown::render(summary);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{md}\n").as_bytes()));
    if let Err(e) = written {
        eprintln!("warning: cannot append to $GITHUB_STEP_SUMMARY: {e}");
    }
}

/// `loadplan report`: every output rebuilt from saved summaries, verdicts re-derived.
fn rerender(results: &[PathBuf], out: &std::path::Path) -> u8 {
    let reporters = match report::reporters(None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::RUN_FAILED;
        }
    };
    let mut summaries = Vec::new();
    let mut shards = Vec::new();
    for r in results {
        let file = if r.is_dir() {
            r.join("summary.json")
        } else {
            r.clone()
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains(stats::RESULTS_FORMAT) {
            match serde_json::from_str::<stats::Results>(&text) {
                Ok(x) if x.format == stats::RESULTS_FORMAT => {
                    shards.push((file.display().to_string(), x));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!(
                        "error: {}: not a loadplan results file: {e}",
                        file.display()
                    );
                    return exit::INVALID;
                }
            }
        }
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_json::from_str::<stats::Summary>(&t)
                    .map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))
            });
        match parsed {
            Ok(s) if s.schema_version == stats::SCHEMA_VERSION => summaries.push(s),
            Ok(s) => {
                eprintln!(
                    "error: {}: schema_version {} is not supported (this loadplan reads {})",
                    file.display(),
                    s.schema_version,
                    stats::SCHEMA_VERSION
                );
                return exit::INVALID;
            }
            Err(e) => {
                eprintln!(
                    "error: {}: not a loadplan summary.json: {e}",
                    file.display()
                );
                return exit::INVALID;
            }
        }
    }
    if !shards.is_empty() {
        if !summaries.is_empty() {
            eprintln!("error: give either shard results files or summary.json files, not both");
            return exit::INVALID;
        }
        match merge_shards(&shards) {
            Ok(s) => summaries.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        }
    }
    let mut worst = exit::PASSED;
    for mut s in summaries {
        let verdict = gate::decide(&mut s);
        let dir = match report::OutputDir::prepare(out, &plan::slug(&s.plan.name)) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::RUN_FAILED;
            }
        };
        say_part!("{}", report::console::table(&s));
        say_part!("{}", report::console::gate(&s));
        match report::write_run(&dir, &s, &reporters) {
            Ok(path) => say!(
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

/// Shard results of one plan merged into the summary a single run would have produced, with the
/// plan's thresholds checked on the merged numbers.
fn merge_shards(shards: &[(String, stats::Results)]) -> Result<stats::Summary, String> {
    let (name, first) = &shards[0];
    let plan = plan::parse_saved(std::path::Path::new(&first.plan.file), &first.plan.source)
        .map_err(|e| format!("{name}: the plan it carries does not parse: {e}"))?;
    let run = stats::merge_results(&plan, shards)?;
    let mut summary = stats::summarize(&plan, &run);
    gate::evaluate(&plan, &mut summary, None);
    Ok(summary)
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
