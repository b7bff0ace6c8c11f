//! Helpers shared by the end-to-end tests: run the binary with a time limit, write plans, read
//! the summary of a run.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loadplan"))
}

/// What a finished `loadplan` process left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `loadplan ARGS` in `dir`, killing it (and failing the test) after `limit`.
pub fn loadplan_in(dir: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start loadplan");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loadplan {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().expect("stdout thread"),
        stderr: t_err.join().expect("stderr thread"),
    }
}

/// Runs `loadplan ARGS` in `dir` with a one-minute limit and no extra environment.
pub fn loadplan(dir: &Path, args: &[&str]) -> Output {
    loadplan_in(dir, args, &[], Duration::from_secs(60))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_plan(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write plan");
    p
}

/// The only run folder under `out/<plan>/`.
pub fn run_dir(out: &Path, plan_slug: &str) -> PathBuf {
    let plan_dir = out.join(plan_slug);
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&plan_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", plan_dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "expected one run folder in {}: {runs:?}",
        plan_dir.display()
    );
    runs.pop().expect("one run")
}

/// The parsed summary.json of the only run of `plan_slug` under `out`.
pub fn summary(out: &Path, plan_slug: &str) -> serde_json::Value {
    let p = run_dir(out, plan_slug).join("summary.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// The cells of `scenario`, in order.
pub fn cells<'a>(summary: &'a serde_json::Value, scenario: &str) -> &'a [serde_json::Value] {
    summary["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["name"] == scenario)
        .unwrap_or_else(|| panic!("no scenario {scenario}"))["cells"]
        .as_array()
        .expect("cells")
}

/// The cell of `scenario` run under `model` (the first one, for sweeps).
pub fn cell<'a>(
    summary: &'a serde_json::Value,
    scenario: &str,
    model: &str,
) -> &'a serde_json::Value {
    cells(summary, scenario)
        .iter()
        .find(|c| c["model"] == model)
        .unwrap_or_else(|| panic!("no {model} cell in {scenario}"))
}

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

pub fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `loadplan run PLAN --out DIR/OUT [--baseline SUMMARY]` with `envs`, in `dir`, one minute at
/// most; returns what it left and the output folder.
pub fn run_against(
    dir: &Path,
    plan: &Path,
    out: &str,
    envs: &[(&str, &str)],
    baseline: Option<&Path>,
) -> (Output, PathBuf) {
    let out = dir.join(out);
    let mut args = vec!["run", path_str(plan), "--out", path_str(&out)];
    if let Some(b) = baseline {
        args.extend(["--baseline", path_str(b)]);
    }
    let r = loadplan_in(dir, &args, envs, Duration::from_secs(60));
    (r, out)
}

/// A path as the `&str` an argument list wants (test paths are UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `loadplan run PLAN --out OUT` in `dir`, with the one-minute limit.
pub fn run_plan(dir: &Path, plan: &Path, out: &Path) -> Output {
    loadplan(dir, &["run", path_str(plan), "--out", path_str(out)])
}

/// A loopback port that was just free: nothing listens there any more.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes `text` (a plan whose targets read `${LOADPLAN_E2E_DELAY}`) to `dir`, runs it once with
/// that `delay`, and returns the plan and that run's summary.json, to serve as a baseline.
pub fn baseline_run(dir: &Path, text: &str, slug: &str, delay: &str) -> (PathBuf, PathBuf) {
    let plan = write_plan(dir, &format!("{slug}.yaml"), text);
    let (first, out) = run_against(dir, &plan, "first", &[("LOADPLAN_E2E_DELAY", delay)], None);
    assert_eq!(first.code, 0, "{first:?}");
    let base = run_dir(&out, slug).join("summary.json");
    (plan, base)
}
