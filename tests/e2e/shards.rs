//! Scale-out end to end: a plan run as 4 shards (separate processes) merges into exactly the
//! operation counts of the unsharded run, and the merged histograms are the bucket-by-bucket sum of
//! the shards'; results of different plans refuse to merge; a missing shard is reported.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::util::{self, cell, loadplan, summary, u, write_plan};

use super::util::path_str as s;

const PLAN: &str = r#"version: 1
name: sharded
base: builtin
# Counts are what this test checks: a busy machine makes the CPU cells' validity a warning here.
validity: { machine_load: warn, cpu_drift: warn }
scenarios:
  - name: api
    targets: ["/hello", "/bytes?size=100", "/io?delay=1ms"]
    repeat: 33
    models: [sequential, threads, async, processes]
    concurrency: 6
    warmup: 5
    thresholds: ["error_rate < 1%"]
  - name: squares
    cpu: { kernel: sum_squares, n: 5000 }
    repeat: 21
    models: [threads, processes]
    concurrency: 3
"#;

/// Runs shards `which` of 4 side by side, each a separate `loadplan` process.
fn run_shards(dir: &Path, plan: &Path, which: &[usize]) -> Vec<PathBuf> {
    util::run_shards_together(dir, plan, 4, which, &[])
}

fn decode(b64: &str) -> Histogram<u64> {
    loadplan::stats::histogram_from_base64(b64).expect("histogram")
}

fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

#[test]
fn four_shards_merge_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(dir.path(), "sharded.yaml", PLAN);
    let whole = dir.path().join("whole");
    let r = util::run_plan(dir.path(), &plan, &whole);
    assert_eq!(r.code, 0, "{r:?}");
    let single = summary(&whole, "sharded");

    let files = run_shards(dir.path(), &plan, &[1, 2, 3, 4]);
    let merged_dir = dir.path().join("merged");
    let mut args = vec!["report"];
    args.extend(files.iter().map(|f| s(f)));
    args.extend(["--out", s(&merged_dir)]);
    let r = loadplan(dir.path(), &args);
    assert_eq!(r.code, 0, "{r:?}");
    let merged = summary(&merged_dir, "sharded");
    let run = util::run_dir(&merged_dir, "sharded");
    for f in [
        "index.html",
        "summary.json",
        "junit.xml",
        "summary.md",
        "histograms.hlog",
    ] {
        assert!(run.join(f).is_file(), "the merge writes {f}");
    }

    let shards: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json"))
        .collect();
    let mut compared = 0;
    for (scenario, models) in [
        ("api", &["sequential", "threads", "async", "processes"][..]),
        ("squares", &["threads", "processes"][..]),
    ] {
        for model in models {
            let one = cell(&single, scenario, model);
            let all = cell(&merged, scenario, model);
            assert_eq!(
                u(&all["operations"]),
                u(&one["operations"]),
                "{scenario} {model}: same total"
            );
            assert_eq!(
                u(&all["concurrency"]),
                u(&one["concurrency"]),
                "{scenario} {model}"
            );
            assert_eq!(all["complete"], true);
            // The merged histogram is the exact sum of the shards' histograms.
            let mut sum: Option<Histogram<u64>> = None;
            for sh in &shards {
                for part in sh["cells"].as_array().expect("cells") {
                    if part["scenario_name"] == scenario && part["model"] == *model {
                        let h = decode(part["recorder"]["latency"].as_str().expect("latency"));
                        match sum.as_mut() {
                            None => sum = Some(h),
                            Some(acc) => acc.add(&h).expect("add"),
                        }
                    }
                }
            }
            let sum = sum.expect("some shard ran the cell");
            let got = decode(all["histogram"].as_str().expect("histogram"));
            assert_eq!(got.len(), u(&all["operations"]), "{scenario} {model}");
            assert_eq!(
                buckets(&got),
                buckets(&sum),
                "{scenario} {model}: bucket by bucket"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
    // Thresholds are checked on the merged numbers.
    assert_eq!(
        cell(&merged, "api", "async")["thresholds"][0]["passed"],
        true
    );

    // Three of four shards: the merge says which one is missing and does not pass.
    let partial_dir = dir.path().join("partial");
    let mut args = vec!["report"];
    args.extend(files[..3].iter().map(|f| s(f)));
    args.extend(["--out", s(&partial_dir)]);
    let r = loadplan(dir.path(), &args);
    assert_eq!(r.code, 1, "{r:?}");
    let partial = summary(&partial_dir, "sharded");
    let c = cell(&partial, "api", "threads");
    assert_eq!(c["complete"], false);
    let notes = c["notes"].to_string();
    assert!(notes.contains("shard 4 of 4 missing"), "{notes}");
    assert!(r.stdout.contains("shard 4 of 4 missing"), "{}", r.stdout);
}

#[test]
fn results_of_different_plans_do_not_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = write_plan(dir.path(), "a.yaml", PLAN);
    let b = write_plan(
        dir.path(),
        "b.yaml",
        &PLAN.replace("repeat: 33", "repeat: 34"),
    );
    let mut files = run_shards(dir.path(), &a, &[1]);
    let second = dir.path().join("other.json");
    let r = loadplan(
        dir.path(),
        &["run", s(&b), "--shard", "2/4", "--results", s(&second)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    files.push(second);
    let r = report_refused(dir.path(), &files);
    assert!(
        r.stderr.contains("different plans or plan versions"),
        "{}",
        r.stderr
    );
}

/// `loadplan report FILES --out DIR/out`, which must refuse them (exit 2) and write nothing;
/// returns what it said.
fn report_refused(dir: &Path, files: &[PathBuf]) -> util::Output {
    let out = dir.join("out");
    let mut args = vec!["report"];
    args.extend(files.iter().map(|f| s(f)));
    args.extend(["--out", s(&out)]);
    let r = loadplan(dir, &args);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(!out.exists(), "nothing is written");
    r
}

#[test]
fn shards_that_differ_only_in_a_header_value_name_the_header_not_its_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "plan.yaml",
        "version: 1\nname: header\nbase: builtin\nscenarios:\n  - name: shop\n    flow:\n      - name: login\n        request: { url: /hello, headers: { Authorization: \"Bearer ${TOKEN}\" } }\n    repeat: 4\n    models: [sequential]\n",
    );
    let mut files = Vec::new();
    for (i, token) in [(1, "first-secret-value"), (2, "second-secret-value")] {
        let file = dir.path().join(format!("shard-{i}.json"));
        let r = util::loadplan_in(
            dir.path(),
            &[
                "run",
                s(&plan),
                "--shard",
                &format!("{i}/2"),
                "--results",
                s(&file),
            ],
            &[("TOKEN", token)],
            std::time::Duration::from_secs(60),
        );
        assert_eq!(r.code, 0, "{r:?}");
        let text = std::fs::read_to_string(&file).expect("results");
        assert!(
            !text.contains(token),
            "a substituted value is never written"
        );
        files.push(file);
    }
    let r = report_refused(dir.path(), &files);
    assert!(
        r.stderr.contains(
            "the shards differ in scenario `shop`, request `login`, header `authorization`"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret-value"), "{}", r.stderr);
}
