//! `loadplan run`: every plan through the pipeline (`crate::pipeline`), or with `--shard`, this
//! shard's part of one plan saved as mergeable results.
//!
//! Everything that can be checked is checked before any load is sent: the plans, `--only`, the
//! templates, the baselines, and that the output folder (or results file) is writable.
//! `--max-duration` stops the run the way Ctrl-C does, through `run::request_stop`, from a timer
//! thread: what was measured is kept and the run is marked `interrupted`.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::{Console, cores, load_plans, say};
use super::{OutputDir, write_atomic};
use crate::cli::RunArgs;
use crate::plan::{BaselineSettings, Cell, Plan, Tolerances};
use crate::report as reports;
use crate::stats::{self, Shard, Summary, Verdict};
use crate::{Error, export, gate, run};

pub fn run(args: &RunArgs) -> Result<Verdict, Error> {
    let mut plans = load_plans(&args.plans, &args.set)?;
    if let Some(n) = args.rounds {
        for p in &mut plans {
            p.rounds = n;
        }
    }
    let selected = plans
        .iter()
        .map(|p| select_cells(p, &args.only))
        .collect::<Result<Vec<_>, _>>()?;
    let console = Console {
        quiet: args.quiet,
        json: args.json,
    };
    if let (Some(shard), Some(file)) = (args.shard, &args.results) {
        let ([plan], [cells]) = (plans.as_slice(), selected.as_slice()) else {
            return Err(Error::Usage("--shard runs one plan at a time".into()));
        };
        return run_shard(
            plan,
            cells,
            shard,
            file,
            args,
            console,
            &export_settings(args)?,
        );
    }
    if args.json && plans.len() > 1 {
        // stdout is one summary.json, byte for byte: several would be neither.
        return Err(Error::Usage(format!(
            "--json prints one summary.json: give one plan, not {} (run each plan on its own)",
            plans.len()
        )));
    }
    let export = export_settings(args)?;
    let reporters = reports::reporters_bounded(args.templates.as_deref(), args.markdown_max_bytes)?;
    let baselines = load_baselines(args, &plans)?;
    for (plan, cells) in plans.iter().zip(&selected) {
        let runs = runs_of(&baselines, &plan.name);
        let planned: Vec<gate::baseline::PlannedCell> = cells
            .iter()
            .map(|c| {
                let name = plan.scenarios[c.scenario].name.as_str();
                (name, c.model, c.concurrency.get(), c.workers.get())
            })
            .collect();
        if let Some(why) = gate::baseline::nothing_compared(&planned, &runs) {
            return Err(Error::Usage(format!("{}: {why}", plan.file.display())));
        }
    }
    let dirs = plans
        .iter()
        .map(|p| OutputDir::prepare(&args.out, &p.slug))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_writable("the output folder", e))?;
    install_interrupt_handler();
    wait_until(args.start_at);
    let _deadline = args.max_duration.map(Deadline::start).transpose()?;
    let progress = super::progress::Bars::new();
    let observer: &dyn run::Observer = if console.quiet {
        &super::progress::Silent
    } else {
        &progress
    };
    let mut worst = Verdict::Passed;
    for ((plan, cells), dir) in plans.iter().zip(&selected).zip(&dirs) {
        if run::stopping() {
            break;
        }
        let run_id = dir.unique_run_id(&stamp(SystemTime::now()));
        if !console.quiet {
            super::tell!(
                "running plan `{}` ({})",
                plan.name,
                crate::units::count(cells.len(), "cell")
            );
        }
        let runs = runs_of(&baselines, &plan.name);
        let baseline = (!runs.is_empty()).then(|| gate::Baseline {
            runs,
            settings: BaselineSettings {
                tolerance: args
                    .tolerance
                    .map_or(plan.baseline.tolerance, Tolerances::all),
                runs: args.baseline_runs.unwrap_or(plan.baseline.runs),
                ..plan.baseline
            },
        });
        let stages = crate::Stages {
            run_id: &run_id,
            observer,
            console,
            baseline,
            dir,
            reporters: &reporters,
            export: &export,
        };
        let (summary, verdict) = crate::pipeline(plan, cells, stages).inspect_err(|_| {
            // Nothing half written: folders made for runs that wrote nothing go again.
            for d in &dirs {
                d.discard_if_unused();
            }
        })?;
        write_comparison(&summary, &runs_of(&baselines, &plan.name), dir)?;
        append_step_summary(&summary, args.markdown_max_bytes);
        worst = gate::worst(worst, verdict);
    }
    Ok(worst)
}

/// With a baseline: `compare.html` beside `index.html`, this run against the newest earlier
/// run it was compared with.
fn write_comparison(
    summary: &Summary,
    runs: &[gate::baseline::Run],
    dir: &OutputDir,
) -> Result<(), Error> {
    let Some(report) = &summary.baseline else {
        return Ok(());
    };
    let Some(newest) = runs
        .iter()
        .filter(|r| r.summary.run_id == report.run_id)
        .max_by(|a, b| a.summary.started_at.cmp(&b.summary.started_at))
    else {
        return Ok(());
    };
    let folder = dir.run_dir(&summary.run_id);
    let page = crate::report::compare::render(&crate::report::compare::Compared {
        baseline: newest.summary,
        baseline_file: &report.file,
        current: summary,
        current_file: "summary.json",
        report,
    })?;
    super::write_atomic(&folder.join("compare.html"), page.as_bytes())?;
    Ok(())
}

/// `--export` and its credentials from the environment, checked before any load.
fn export_settings(args: &RunArgs) -> Result<export::Settings, Error> {
    let targets = args
        .export
        .iter()
        .map(|a| export::Target::parse(a, |k| std::env::var(k).ok()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(export::Settings {
        targets,
        interval: args.export_interval,
    })
}

/// The cells to run: all of them, or those of the scenarios `only` names.
fn select_cells(plan: &Plan, only: &[String]) -> Result<Vec<Cell>, Error> {
    if let Some(name) = only
        .iter()
        .find(|name| !plan.scenarios.iter().any(|s| s.name == **name))
    {
        let names = plan.scenarios.iter().map(|s| s.name.as_str());
        let hint = crate::plan::suggest(name, names)
            .map(|near| format!(": did you mean `{near}`?"))
            .unwrap_or_default();
        return Err(Error::Usage(format!(
            "{}: --only {name}: the plan has no scenario of that name{hint}",
            plan.file.display()
        )));
    }
    Ok(plan
        .cells(cores())
        .into_iter()
        .filter(|c| only.is_empty() || only.contains(&plan.scenarios[c.scenario].name))
        .collect())
}

/// An earlier run of a plan, read from a `--baseline` file or found in a history folder.
struct Earlier {
    file: std::path::PathBuf,
    summary: Summary,
}

/// Every `--baseline`: a summary.json (used as given; it must be a run of a plan being run), or
/// a folder of them (a history: the passing runs of the plans being run; others are skipped).
fn load_baselines(args: &RunArgs, plans: &[Plan]) -> Result<Vec<Earlier>, Error> {
    let mut out = Vec::new();
    for path in &args.baseline {
        if path.is_dir() {
            let found = gate::baseline::load_history(path)?;
            let before = out.len();
            out.extend(
                found
                    .into_iter()
                    .filter(|(_, s)| {
                        s.verdict == Verdict::Passed && plans.iter().any(|p| p.name == s.plan.name)
                    })
                    .map(|(file, summary)| Earlier { file, summary }),
            );
            if out.len() == before && !args.quiet {
                super::tell!(
                    "note: no passing run of {} in {} yet: this run is not compared with a baseline",
                    plans
                        .iter()
                        .map(|p| format!("`{}`", p.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    path.display()
                );
            }
            continue;
        }
        let s = gate::baseline::load(path)?;
        if !plans.iter().any(|p| p.name == s.plan.name) {
            return Err(Error::Usage(format!(
                "the baseline {} is a run of plan `{}`, which is not being run",
                path.display(),
                s.plan.name
            )));
        }
        out.push(Earlier {
            file: path.clone(),
            summary: s,
        });
    }
    Ok(out)
}

/// The earlier runs of the plan named `plan`.
fn runs_of<'a>(earlier: &'a [Earlier], plan: &str) -> Vec<gate::baseline::Run<'a>> {
    earlier
        .iter()
        .filter(|e| e.summary.plan.name == plan)
        .map(|e| gate::baseline::Run {
            file: &e.file,
            summary: &e.summary,
        })
        .collect()
}

/// A run id from a time: RFC 3339 to the second, safe in a folder name.
fn stamp(at: SystemTime) -> String {
    crate::stats::Timestamp::from_system(at)
        .to_string()
        .replace(':', "-")
}

/// Sleeps until `at` (for shards that start together); Ctrl-C cuts the wait short.
fn wait_until(at: Option<SystemTime>) {
    let Some(at) = at else { return };
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        let whole = Duration::from_secs(wait.as_secs());
        super::tell!(
            "waiting {} for --start-at",
            humantime::format_duration(whole)
        );
    }
    while SystemTime::now() < at && !run::stopping() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `loadplan run --shard I/N --results FILE`: this shard's part of every cell, saved raw.
fn run_shard(
    plan: &Plan,
    cells: &[Cell],
    shard: Shard,
    file: &Path,
    args: &RunArgs,
    console: Console,
    export: &export::Settings,
) -> Result<Verdict, Error> {
    // The results file is checked writable before any load is sent.
    write_atomic(file, b"").map_err(|e| not_writable("the results file", e))?;
    install_interrupt_handler();
    wait_until(args.start_at);
    let _deadline = args.max_duration.map(Deadline::start).transpose()?;
    let run_id = stamp(args.start_at.unwrap_or_else(SystemTime::now));
    if !console.quiet {
        super::tell!(
            "running shard {}/{} of plan `{}` ({})",
            shard.index + 1,
            shard.count,
            plan.name,
            crate::units::count(cells.len(), "cell")
        );
    }
    let progress = super::progress::Bars::new();
    let observer: &dyn run::Observer = if console.quiet {
        &super::progress::Silent
    } else {
        &progress
    };
    let (results, exported) = crate::measure(plan, cells, &run_id, observer, export, Some(shard))?;
    // A shard's table shows its own numbers; thresholds are checked on the merged run.
    let mut summary = stats::summarize(plan, &results);
    summary.export = exported;
    console.human(&reports::console::table(&summary));
    let bytes = serde_json::to_vec(&stats::to_results(plan, &results, shard)).map_err(|e| {
        Error::Report(crate::report::ReportError::Render {
            file: "the shard's results",
            reason: e.to_string(),
        })
    })?;
    write_atomic(file, &bytes)?;
    say!(
        "{}shard {}/{}: results in {} (merge them with `loadplan report`)",
        if console.quiet { "" } else { "\n" },
        shard.index + 1,
        shard.count,
        file.display()
    );
    Ok(if results.interrupted {
        Verdict::Interrupted
    } else {
        Verdict::Passed
    })
}

/// GitHub Actions shows `$GITHUB_STEP_SUMMARY` on the job page: add this run's Markdown to it.
fn append_step_summary(summary: &Summary, max_bytes: usize) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let md = reports::markdown::render_bounded(summary, max_bytes);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{md}\n").as_bytes()));
    if let Err(e) = written {
        super::tell!("warning: cannot append to $GITHUB_STEP_SUMMARY: {e}");
    }
}

/// `--max-duration`: a timer thread that stops the run the way Ctrl-C does. Dropping it (the run
/// ended first) ends the thread.
struct Deadline {
    _cancel: mpsc::Sender<()>,
}

impl Deadline {
    fn start(limit: Duration) -> Result<Deadline, Error> {
        let (cancel, cancelled) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("max-duration".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
                    super::tell!(
                        "\ntime limit: --max-duration {} reached, stopping the load and writing what was measured",
                        humantime::format_duration(limit)
                    );
                    run::request_stop();
                }
            })
            .map_err(|source| Error::System {
                what: "cannot start the --max-duration timer".into(),
                source,
            })?;
        Ok(Deadline { _cancel: cancel })
    }
}

/// First Ctrl-C or SIGTERM: stop the load, keep what was measured. Second: leave at once
/// (worker processes and the built-in server die with us through PDEATHSIG).
fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if run::stopping() {
            // The user insists: no more waiting for workers or reports.
            std::process::exit(i32::from(gate::exit::INTERRUPTED));
        }
        super::tell!(
            "\ninterrupted: stopping the load and writing what was measured (Ctrl-C again to quit at once)"
        );
        run::request_stop();
    });
    if let Err(e) = result {
        super::tell!("warning: Ctrl-C will not keep partial results: {e}");
    }
}

/// A place the run writes to, refused before any load is sent: the system's words, with what
/// the place is for.
fn not_writable(what: &str, e: crate::report::ReportError) -> Error {
    match e {
        crate::report::ReportError::Write { path, source } => Error::System {
            what: format!("{what} is not writable: {}", path.display()),
            source,
        },
        other => Error::Report(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_folder_names() {
        let t = crate::stats::saved::parse_time("2026-11-28T16:00:26Z").expect("time");
        assert_eq!(stamp(t), "2026-11-28T16-00-26Z");
    }

    #[test]
    fn only_names_scenarios_of_the_plan() {
        let text = "version: 1\nname: t\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/x]\n    repeat: 1\n    models: [sequential, async]\n  - name: b\n    cpu: { kernel: spin, duration: 1ms }\n    repeat: 1\n";
        let p = crate::plan::parse(Path::new("t.yaml"), text).expect("plan");
        assert_eq!(select_cells(&p, &[]).expect("all").len(), 3);
        assert_eq!(select_cells(&p, &["b".into()]).expect("b").len(), 1);
        let e = select_cells(&p, &["c".into()]).expect_err("no c");
        assert!(e.to_string().contains("--only c"), "{e}");
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }
}
