//! The command line for people and scripts: `--json` and `--quiet`, `--max-duration`, `init`,
//! `completions`, and plan errors in plain words.
//!
//! Every run is against the built-in server on an ephemeral port, small, and bounded in time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::util::{self, loadplan, path_str, write_plan};

/// A plan that passes in well under a second.
const QUICK: &str = "version: 1\nname: quick\nbase: builtin\nscenarios:\n  - name: hello\n    targets: [/hello]\n    repeat: 20\n    models: [async]\n    concurrency: 2\n    thresholds: [\"error_rate < 1%\"]\n";

/// `loadplan run quick.yaml --out out FLAG` in `dir`, passing: the output and the plan.
fn run_quick(dir: &Path, flag: &str) -> (util::Output, PathBuf) {
    let plan = write_plan(dir, "quick.yaml", QUICK);
    let out = dir.join("out");
    let o = loadplan(
        dir,
        &["run", path_str(&plan), "--out", path_str(&out), flag],
    );
    assert_eq!(o.code, 0, "{o:?}");
    (o, plan)
}

#[test]
fn json_stdout_is_the_summary_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (o, plan) = run_quick(dir.path(), "--json");
    let out = dir.path().join("out");
    // `| jq .verdict`
    let parsed: serde_json::Value = serde_json::from_str(&o.stdout).expect("stdout is JSON");
    assert_eq!(parsed["verdict"], "passed", "{}", o.stdout);
    let written = std::fs::read_to_string(util::run_dir(&out, "quick").join("summary.json"))
        .expect("summary.json");
    assert!(o.stdout == written, "stdout differs from summary.json");
    // Everything for people went to stderr.
    assert!(o.stderr.contains("verdict: passed"), "{}", o.stderr);

    // Two summaries would not be one JSON document: refused before anything runs.
    let other = write_plan(dir.path(), "other.yaml", &QUICK.replace("quick", "other"));
    let o = loadplan(
        dir.path(),
        &[
            "run",
            path_str(&plan),
            path_str(&other),
            "--out",
            path_str(&out),
            "--json",
        ],
    );
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(
        o.stderr.contains("--json prints one summary.json"),
        "{}",
        o.stderr
    );
    assert!(!out.join("other").exists(), "nothing ran");
}

#[test]
fn quiet_prints_the_verdict_line_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (o, _) = run_quick(dir.path(), "--quiet");
    let out = dir.path().join("out");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", o.stdout);
    assert!(
        lines[0].starts_with("verdict: passed · report: "),
        "{}",
        o.stdout
    );
    // No progress and no table, but the table's warnings stay (20 requests make a short cell).
    assert!(
        o.stderr
            .contains("warning: Cells too short to be meaningful. hello · async c=2 w=1: "),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.lines().all(|l| l.starts_with("warning: ")),
        "only warnings: {}",
        o.stderr
    );

    // `report --quiet` re-renders with the same one line.
    let summary = util::run_dir(&out, "quick").join("summary.json");
    let again = dir.path().join("again");
    let o = loadplan(
        dir.path(),
        &[
            "report",
            path_str(&summary),
            "--out",
            path_str(&again),
            "-q",
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);

    // Failed, the one line is joined by why, on stderr.
    let failing = write_plan(
        dir.path(),
        "failing.yaml",
        &QUICK.replace("error_rate < 1%", "p99 < 1us"),
    );
    let o = loadplan(
        dir.path(),
        &["run", path_str(&failing), "--out", path_str(&out), "-q"],
    );
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert!(o.stdout.starts_with("verdict: FAILED"), "{}", o.stdout);
    assert!(
        o.stderr.contains("why it failed") && o.stderr.contains("p99 < 1us"),
        "{}",
        o.stderr
    );
}

#[test]
fn init_writes_a_plan_that_validates_and_runs_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = loadplan(dir.path(), &["init"]);
    assert_eq!(o.code, 0, "{o:?}");
    let plan = dir.path().join("loadplan.yaml");
    let text = std::fs::read_to_string(&plan).expect("loadplan.yaml");
    assert!(
        text.starts_with("# yaml-language-server: $schema=loadplan.schema.json\n"),
        "{text}"
    );
    let schema = std::fs::read_to_string(dir.path().join("loadplan.schema.json")).expect("schema");
    assert_eq!(schema, loadplan(dir.path(), &["schema"]).stdout);

    let o = loadplan(dir.path(), &["validate", "loadplan.yaml"]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = loadplan(dir.path(), &["run", "loadplan.yaml"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(dir.path().join("reports/starter").is_dir());

    // A second init refuses and leaves the plan as it was.
    std::fs::write(&plan, format!("{text}# edited\n")).expect("edit");
    let o = loadplan(dir.path(), &["init", "--template", "flow"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("never overwrites"), "{}", o.stderr);
    let kept = std::fs::read_to_string(&plan).expect("loadplan.yaml");
    assert!(kept.ends_with("# edited\n"));

    // Another name in the same folder: the flow starter, validated.
    let o = loadplan(dir.path(), &["init", "flow.yaml", "--template", "flow"]);
    assert_eq!(o.code, 0, "{o:?}");
    let o = loadplan(dir.path(), &["validate", "flow.yaml"]);
    assert_eq!(o.code, 0, "{o:?}");
}

#[test]
fn bash_sources_the_completion_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = loadplan(dir.path(), &["completions", "bash"]);
    assert_eq!(o.code, 0, "{o:?}");
    let script = write_plan(dir.path(), "loadplan.bash", &o.stdout);
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(syntax.status.success(), "{syntax:?}");
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source '{}'; complete -p loadplan",
            script.display()
        ))
        .output()
        .expect("bash");
    let said = String::from_utf8_lossy(&sourced.stdout);
    assert!(sourced.status.success(), "{sourced:?}");
    assert!(said.contains("loadplan"), "{said}");
    assert!(sourced.stderr.is_empty(), "{sourced:?}");
}

#[test]
fn max_duration_stops_the_run_keeps_what_was_measured_and_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "long.yaml",
        "version: 1\nname: long\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/hello]\n    duration: 60s\n    models: [async, sequential]\n    concurrency: 2\n",
    );
    let out = dir.path().join("out");
    let started = Instant::now();
    let o = util::loadplan_in(
        dir.path(),
        &[
            "run",
            path_str(&plan),
            "--out",
            path_str(&out),
            "--max-duration",
            "2s",
        ],
        &[],
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    assert_eq!(o.code, 130, "{o:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        o.stderr.contains("--max-duration 2s reached"),
        "{}",
        o.stderr
    );
    let s = util::summary(&out, "long");
    assert_eq!(s["verdict"], "interrupted");
    let cells = s["scenarios"][0]["cells"].as_array().expect("cells");
    // The first cell was cut short and kept; the second never started.
    assert_eq!(cells.len(), 1, "{cells:?}");
    // The report has no row for it, so the console names it.
    assert!(
        o.stderr
            .contains("warning: interrupted before 1 cell started: a · "),
        "{}",
        o.stderr
    );
    assert_eq!(cells[0]["complete"], false);
    assert!(util::u(&cells[0]["operations"]) > 0);
}

#[test]
fn broken_plans_get_the_fix_in_plain_words() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans/invalid");
    // (fixture, what the message says, what it no longer says)
    let cases = [
        (
            "typo-key.yaml",
            vec!["did you mean `concurrency`?"],
            vec!["expected one of", "`thresholds`"],
        ),
        (
            "typo-model.yaml",
            vec!["did you mean `async`?"],
            vec!["variant", "`processes`"],
        ),
        (
            "wrong-type-repeat.yaml",
            vec!["expected a whole number above 0"],
            vec!["u64"],
        ),
        (
            "yaml-tab-list.yaml",
            vec!["tab character", "indents with spaces only"],
            vec!["cannot start any token"],
        ),
        (
            "yaml-tab-indent.yaml",
            vec!["tab character", "replace the tab with spaces"],
            vec!["while scanning"],
        ),
        (
            "missing-variables.yaml",
            vec![
                "3 environment variables are not set",
                "line 4: `${LOADPLAN_FIXTURE_UNSET_HOST}`",
                "line 7: `${LOADPLAN_FIXTURE_UNSET_TOKEN}`",
                "line 10: `${LOADPLAN_FIXTURE_UNSET_ID}`",
            ],
            vec![],
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wrong = Vec::new();
    for (name, says, not) in cases {
        let plan = fixtures.join(name);
        let o = loadplan(dir.path(), &["validate", path_str(&plan)]);
        if o.code != 2 {
            wrong.push(format!("{name}: exit {}", o.code));
        }
        for s in says.iter().filter(|s| !o.stderr.contains(**s)) {
            wrong.push(format!("{name}: lacks {s:?}:\n{}", o.stderr));
        }
        for s in not.iter().filter(|s| o.stderr.contains(**s)) {
            wrong.push(format!("{name}: still says {s:?}:\n{}", o.stderr));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `loadplan validate broken.yaml 2>&1 | head -1`: the reader stops after one line. The exit code
/// stays the plan error's 2, never a panic's 101 from printing to a closed pipe.
#[test]
fn a_closed_stderr_keeps_the_exit_code() {
    let plan =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans/invalid/typo-key.yaml");
    for args in [
        vec!["validate", path_str(&plan)],
        vec!["run", path_str(&plan)],
    ] {
        let mut child = Command::new(util::bin())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn loadplan");
        // Both ends closed before it writes a word.
        drop(child.stdout.take());
        drop(child.stderr.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "loadplan {args:?} did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(2), "loadplan {args:?}");
    }
}

/// `--only` a CPU scenario of a `base: builtin` plan: the HTTP scenarios left out are neither
/// resolved nor served, and the run passes.
#[test]
fn only_a_cpu_scenario_of_a_builtin_plan_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "only.yaml",
        "version: 1\nname: only\nbase: builtin\nscenarios:\n  - { name: web, targets: [/hello], repeat: 10 }\n  - { name: calc, cpu: { kernel: sum_squares, n: 1000 }, repeat: 10, models: [sequential] }\n",
    );
    let out = dir.path().join("out");
    let o = loadplan(
        dir.path(),
        &[
            "run",
            path_str(&plan),
            "--out",
            path_str(&out),
            "--only",
            "calc",
        ],
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stderr.contains("built-in target server"), "{}", o.stderr);
}
