//! The CI gate end to end: thresholds decide the exit code and are reported in the console,
//! junit.xml and summary.md; a baseline run (one summary or a history folder) catches a
//! deliberately slower target; tolerances without `%` and baselines that compare nothing are
//! exit 2; the committed JSON Schemas accept real output; saved results re-render.

use std::path::Path;
use std::time::Duration;

use super::util::{self, loadplan, summary, write_plan};

use super::util::path_str as s;

const GATED: &str = r#"version: 1
name: gated
base: builtin
scenarios:
  - name: api
    targets: ["/io?delay=20ms"]
    repeat: 12
    models: [sequential, async]
    concurrency: 4
    thresholds: ["p99 < LIMIT", "error_rate < 1%", "speedup(async) > 1.5"]
"#;

#[test]
fn thresholds_set_the_exit_code_and_are_reported_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (limit, code, verdict) in [("2s", 0, "passed"), ("5ms", 1, "failed")] {
        let plan = write_plan(dir.path(), "gated.yaml", &GATED.replace("LIMIT", limit));
        let out = dir.path().join(format!("out-{limit}"));
        let step_summary = dir.path().join(format!("step-{limit}.md"));
        let r = util::loadplan_in(
            dir.path(),
            &["run", s(&plan), "--out", s(&out)],
            &[("GITHUB_STEP_SUMMARY", s(&step_summary))],
            Duration::from_secs(60),
        );
        assert_eq!(r.code, code, "p99 < {limit}: {r:?}");
        let sum = summary(&out, "gated");
        assert_eq!(sum["verdict"], verdict);
        let cell = util::cell(&sum, "api", "async");
        let t = cell["thresholds"]
            .as_array()
            .expect("thresholds")
            .iter()
            .find(|t| {
                t["expression"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("p99"))
            })
            .expect("the p99 threshold was checked");
        let observed = t["observed"].as_f64().expect("observed");
        assert!(
            observed >= 20_000.0,
            "a 20 ms endpoint has p99 ≥ 20 ms: {observed}"
        );
        assert_eq!(t["passed"], code == 0);
        // speedup(async) is checked on the async cell only.
        let seq = util::cell(&sum, "api", "sequential");
        assert_eq!(seq["thresholds"].as_array().expect("thresholds").len(), 2);

        let run = util::run_dir(&out, "gated");
        let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit.xml");
        let md = std::fs::read_to_string(run.join("summary.md")).expect("summary.md");
        let step = std::fs::read_to_string(&step_summary).expect("step summary appended");
        assert_eq!(
            step.trim(),
            md.trim(),
            "GITHUB_STEP_SUMMARY gets the Markdown"
        );
        let expr = format!("p99 &lt; {limit}");
        assert!(junit.contains(&expr), "{junit}");
        if code == 1 {
            let shown = t["observed_text"].as_str().expect("observed_text");
            assert!(
                r.stdout.contains(&format!(
                    "FAIL api · async c=4 w=1: p99 < {limit} (observed {shown})"
                )),
                "{}",
                r.stdout
            );
            assert!(
                junit.contains("<failure") && junit.contains(shown),
                "{junit}"
            );
            assert!(
                md.contains("❌") && md.contains(&format!("`p99 < {limit}`, observed {shown}")),
                "{md}"
            );
        } else {
            assert!(!junit.contains("<failure"), "{junit}");
            assert!(
                r.stdout.contains("pass api · async c=4 w=1: p99 < 2s"),
                "{}",
                r.stdout
            );
        }
    }
}

const BASELINED: &str = r#"version: 1
name: baselined
base: builtin
baseline: { tolerance: 50% }
scenarios:
  - name: api
    targets: ["/io?delay=${LOADPLAN_E2E_DELAY}"]
    repeat: 20
    models: [async]
    concurrency: 4
"#;

#[test]
fn a_slower_target_fails_the_baseline_and_an_identical_rerun_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plan, base) = util::baseline_run(dir.path(), BASELINED, "baselined", "20ms");
    let run = |delay: &str, out: &str, baseline: Option<&Path>| {
        let envs = [("LOADPLAN_E2E_DELAY", delay)];
        util::run_against(dir.path(), &plan, out, &envs, baseline)
    };

    let (same, out2) = run("20ms", "same", Some(&base));
    assert_eq!(
        same.code, 0,
        "an identical re-run is within tolerance: {same:?}"
    );
    let b = &summary(&out2, "baselined")["baseline"];
    assert_eq!(b["passed"], true);
    assert_eq!(b["checks"].as_array().expect("checks").len(), 5);

    let (slow, out3) = run("80ms", "slow", Some(&base));
    let sum = summary(&out3, "baselined");
    if slow.code == 0 && busier_machine(&sum, "p50") {
        // Other load (a shared CI machine) rose since the baseline: the gate says inconclusive
        // rather than blame the service, and this test has nothing left to check.
        return;
    }
    assert_eq!(slow.code, 1, "a 4× slower target regresses: {slow:?}");
    let checks = sum["baseline"]["checks"].as_array().expect("checks");
    let p50 = checks
        .iter()
        .find(|c| c["metric"] == "p50")
        .expect("p50 check");
    assert_eq!(p50["passed"], false);
    let (was, now) = (
        p50["baseline"].as_f64().expect("n"),
        p50["current"].as_f64().expect("n"),
    );
    assert!(
        was < 40_000.0 && now >= 80_000.0,
        "both values are reported: {was} → {now}"
    );
    assert!(
        slow.stdout
            .contains("FAIL api · async c=4 w=1: p50 regressed"),
        "{}",
        slow.stdout
    );
    let junit = std::fs::read_to_string(util::run_dir(&out3, "baselined").join("junit.xml"))
        .expect("junit");
    assert!(
        junit.contains("baseline p50") && junit.contains("regressed"),
        "{junit}"
    );

    // A baseline of another plan is refused before anything runs.
    let other = dir.path().join("other.json");
    let text = std::fs::read_to_string(&base)
        .expect("read")
        .replace("\"name\": \"baselined\"", "\"name\": \"elsewhere\"");
    std::fs::write(&other, text).expect("write");
    let (refused, out4) = run("20ms", "refused", Some(&other));
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(!out4.exists());
}

pub fn validator(schema_file: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema_file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema")).expect("json");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

#[test]
fn real_output_and_example_plans_match_the_committed_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(dir.path(), "gated.yaml", &GATED.replace("LIMIT", "5ms"));
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    assert_eq!(r.code, 1, "{r:?}");
    let sum = summary(&out, "gated");
    let v = validator("summary.schema.json");
    let errors: Vec<String> = v
        .iter_errors(&sum)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema is not vacuous: a renamed field is refused.
    let mut broken = sum.clone();
    broken["scenarios"][0]["cells"][0]
        .as_object_mut()
        .expect("cell")
        .remove("throughput_per_s");
    assert!(!v.is_valid(&broken));

    let plan_schema = validator("plan.schema.json");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("plans")).expect("plans/") {
        let path = entry.expect("entry").path();
        // Example plans; `plans/data/` holds their data files.
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("plan");
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/plan.schema.json"),
            "{} starts with the editor modeline",
            path.display()
        );
        let yaml: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
        let errors: Vec<String> = plan_schema
            .iter_errors(&yaml)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    let typo: serde_json::Value = serde_json::json!({"version": 1, "name": "x", "scenarios": [{"name": "a", "targets": ["/x"], "repeat": 1, "retries": 2}]});
    assert!(
        !plan_schema.is_valid(&typo),
        "unknown keys are refused by the schema too"
    );

    let printed = loadplan(root, &["schema"]);
    assert_eq!(printed.code, 0);
    let committed = std::fs::read_to_string(root.join("schemas/plan.schema.json")).expect("schema");
    assert_eq!(
        printed.stdout.trim(),
        committed.trim(),
        "`loadplan schema` prints the committed schema"
    );
}

#[test]
fn saved_results_rerender_into_the_same_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(dir.path(), "gated.yaml", &GATED.replace("LIMIT", "5ms"));
    let out = dir.path().join("out");
    assert_eq!(util::run_plan(dir.path(), &plan, &out).code, 1);
    let first = util::run_dir(&out, "gated");
    let again = dir.path().join("again");
    let r = loadplan(dir.path(), &["report", s(&first), "--out", s(&again)]);
    assert_eq!(r.code, 1, "the verdict is re-derived: {r:?}");
    let second = util::run_dir(&again, "gated");
    for file in ["summary.json", "junit.xml", "summary.md", "index.html"] {
        let a = std::fs::read(first.join(file)).expect(file);
        let b = std::fs::read(second.join(file)).expect(file);
        assert!(a == b, "{file} re-renders identically");
    }
    let bad = write_plan(dir.path(), "bad.json", "{\"schema_version\": 1}");
    assert_eq!(
        loadplan(dir.path(), &["report", s(&bad), "--out", s(&again)]).code,
        2
    );
}

/// Whether the check of `metric` was called inconclusive because other load kept the machine
/// busier than during the baseline (a shared machine), not because of the service.
fn busier_machine(summary: &serde_json::Value, metric: &str) -> bool {
    summary["baseline"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["metric"] == metric)
        .any(|c| {
            c["outcome"] == "inconclusive"
                && c["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("other load") || r.contains("hypervisor"))
        })
}

const TOLERANT: &str = r#"version: 1
name: tolerant
base: builtin
baseline: { tolerance: TOLERANCE }
scenarios:
  - name: api
    targets: ["/io?delay=5ms"]
    repeat: 8
    models: [async]
    concurrency: 2
"#;

#[test]
fn a_tolerance_needs_its_percent_sign_and_must_leave_throughput_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    // (the plan's tolerance, exit code of validate, a word of the error)
    let cases = [
        ("10%", 0, ""),
        ("{p99: 20%, throughput: 10%}", 0, ""),
        ("10", 2, "write 10%"),
        ("0.1", 2, "write 0.1%"),
        ("150%", 2, "100% or more"),
        ("{p99: 20, throughput: 10%}", 2, "write 20%"),
        ("{throughput: 100%}", 2, "100% or more"),
        ("{p95: 10%}", 2, "p95"),
    ];
    for (tolerance, code, says) in cases {
        let plan = write_plan(
            dir.path(),
            "tolerant.yaml",
            &TOLERANT.replace("TOLERANCE", tolerance),
        );
        let r = loadplan(dir.path(), &["validate", s(&plan)]);
        assert_eq!(r.code, code, "{tolerance}: {r:?}");
        assert!(r.stderr.contains(says), "{tolerance}: {}", r.stderr);
    }
    // On the command line: `--tolerance 10` once meant 1000 %.
    let plan = write_plan(
        dir.path(),
        "tolerant.yaml",
        &TOLERANT.replace("TOLERANCE", "10%"),
    );
    let out = dir.path().join("out");
    for (flag, says) in [("10", "write 10%"), ("100%", "100% or more")] {
        let r = loadplan(
            dir.path(),
            &["run", s(&plan), "--out", s(&out), "--tolerance", flag],
        );
        assert_eq!(r.code, 2, "--tolerance {flag}: {r:?}");
        assert!(r.stderr.contains(says), "--tolerance {flag}: {}", r.stderr);
        assert!(!out.exists(), "nothing runs");
    }
}

const HISTORIC: &str = r#"version: 1
name: historic
base: builtin
scenarios:
  - name: api
    targets: ["/io?delay=${LOADPLAN_E2E_DELAY}"]
    repeat: 20
    models: [async]
    concurrency: CONCURRENCY
"#;

#[test]
fn a_history_folder_is_the_baseline_and_a_baseline_that_compares_nothing_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "historic.yaml",
        &HISTORIC.replace("CONCURRENCY", "4"),
    );
    let history = dir.path().join("history");
    let run = |delay: &str, out: &Path, extra: &[&str]| {
        let mut args = vec!["run", s(&plan), "--out", s(out)];
        args.extend(extra);
        util::loadplan_in(
            dir.path(),
            &args,
            &[("LOADPLAN_E2E_DELAY", delay)],
            Duration::from_secs(60),
        )
    };
    // Five runs: with three, a machine whose speed drifts between runs (others compiling) leaves
    // too few degrees of freedom to call even a large change beyond the noise.
    for _ in 0..5 {
        let r = run("20ms", &history, &[]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    // A failed run in the history is not a reference: a copy marked failed, far slower.
    let runs: Vec<_> = std::fs::read_dir(history.join("historic"))
        .expect("history")
        .map(|e| e.expect("entry").path().join("summary.json"))
        .collect();
    assert_eq!(runs.len(), 5);
    let failed = history.join("old").join("summary.json");
    std::fs::create_dir_all(failed.parent().expect("parent")).expect("mkdir");
    let text = std::fs::read_to_string(&runs[0]).expect("read");
    std::fs::write(
        &failed,
        text.replace("\"verdict\": \"passed\"", "\"verdict\": \"failed\""),
    )
    .expect("write");

    let same = dir.path().join("same");
    let r = run("20ms", &same, &["--baseline", s(&history)]);
    assert_eq!(r.code, 0, "an identical rerun against its history: {r:?}");
    let b = &summary(&same, "historic")["baseline"];
    assert_eq!(b["runs"].as_array().expect("runs").len(), 5, "{b}");
    let checks = b["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 5);
    for c in checks {
        assert_ne!(c["outcome"], "regressed", "{c}");
        assert_eq!(c["passed"], true, "{c}");
        assert!(c["alpha"].as_f64().is_some_and(|a| a <= 0.05), "{c}");
    }
    let p50 = checks.iter().find(|c| c["metric"] == "p50").expect("p50");
    assert_eq!(p50["baseline_values"].as_array().expect("values").len(), 5);
    assert!(p50["current_interval"]["low"].as_f64().is_some(), "{p50}");
    assert!(p50["detectable"].as_f64().is_some(), "{p50}");

    let two = dir.path().join("two");
    let r = run(
        "20ms",
        &two,
        &["--baseline", s(&history), "--baseline-runs", "2"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let b = &summary(&two, "historic")["baseline"];
    assert_eq!(b["runs"].as_array().expect("runs").len(), 2, "{b}");

    let slow = dir.path().join("slow");
    let r = run("160ms", &slow, &["--baseline", s(&history)]);
    let sum = summary(&slow, "historic");
    if !(r.code == 0 && busier_machine(&sum, "p50")) {
        assert_eq!(r.code, 1, "an 8× slower target regresses: {r:?}");
        let checks = sum["baseline"]["checks"].as_array().expect("checks");
        let p50 = checks.iter().find(|c| c["metric"] == "p50").expect("p50");
        assert_eq!(p50["outcome"], "regressed", "{p50}");
        assert_eq!(p50["passed"], false);
        assert!(
            r.stdout
                .contains("✘ FAIL api · async c=4 w=1: p50 regressed"),
            "{}",
            r.stdout
        );
    }

    // Concurrency changed 4 → 8: nothing to compare is not a pass, and nothing runs.
    let wider = write_plan(
        dir.path(),
        "historic.yaml",
        &HISTORIC.replace("CONCURRENCY", "8"),
    );
    let none = dir.path().join("none");
    let r = util::loadplan_in(
        dir.path(),
        &[
            "run",
            s(&wider),
            "--out",
            s(&none),
            "--baseline",
            s(&history),
        ],
        &[("LOADPLAN_E2E_DELAY", "20ms")],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("compares nothing")
            && r.stderr.contains("async c=8 w=1")
            && r.stderr.contains("concurrency 8 here, 4 in the baseline"),
        "{}",
        r.stderr
    );
    assert!(!none.exists(), "nothing runs");
}
