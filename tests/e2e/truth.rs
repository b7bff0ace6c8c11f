//! Numbers to trust on a noisy machine (issue 14), end to end: open-model pacing under every host,
//! throughput that counts successes and errors that fail the run, rounds with their spread, the
//! machine checks naming other load, a noise-aware baseline, and timelines without a last-second
//! spike.
//!
//! This machine is shared: timing figures are asserted only with generous bounds, said so where
//! they are; the structure and the counts are asserted exactly.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::util::{self, cell, cells, f, loadplan, summary, u, write_plan};

use super::util::path_str as s;

/// What it must show, 1, as far as a shared machine allows: every host paces the open model,
/// every arrival is accounted for and its send lag kept, and the runner does not burn a core.
/// The lag itself (tens of microseconds) is measured by hand against an idle nginx: on a machine
/// running other tests, scheduling latency can reach milliseconds, so only generous bounds are
/// asserted here (median lag under 50 ms: paced, not batched; under half a core).
#[test]
fn arrivals_are_paced_to_their_time_under_every_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "paced.yaml",
        r#"version: 1
name: paced
base: builtin
scenarios:
  - name: one-thread
    targets: [/hello]
    rate: 200/s
    duration: 1s
    concurrency: 2
    models: [sequential, threads, async]
  - name: two-workers
    targets: [/hello]
    rate: 200/s
    duration: 1s
    concurrency: 2
    workers: 2
    models: [async, processes]
"#,
    );
    let sum = util::run_passing(dir.path(), &plan, "paced");
    for scenario in ["one-thread", "two-workers"] {
        for c in cells(&sum, scenario) {
            let name = format!("{scenario} {}", c["model"]);
            let open = &c["open"];
            assert_eq!(u(&open["scheduled"]), 200, "{name}");
            assert_eq!(u(&c["operations"]) + u(&open["dropped"]), 200, "{name}");
            let lag = &open["send_lag_us"];
            assert_eq!(u(&lag["count"]), u(&c["operations"]), "{name}: lag kept");
            assert!(
                u(&lag["p50"]) < 50_000,
                "{name}: send lag p50 {} µs",
                lag["p50"]
            );
            assert!(f(&c["cores_busy"]) < 0.5, "{name}: {}", c["cores_busy"]);
        }
    }
}

/// What it must show, 2: a closed port has no throughput and no speedup, and fails the run with
/// its reason in every output; an `error_rate` threshold that accepts it passes.
#[test]
fn a_closed_port_fails_the_run_and_says_why() {
    let port = util::closed_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "version: 1\nname: closed\nbase: http://127.0.0.1:{port}\nscenarios:\n  - name: nobody\n    targets: [/x]\n    repeat: 10\n    models: [sequential, async]\n    concurrency: 2\n    timeout: 1s\nTHRESHOLDS"
    );
    let run = |thresholds: &str, out: &str| {
        let plan = write_plan(
            dir.path(),
            &format!("{out}.yaml"),
            &text.replace("THRESHOLDS", thresholds),
        );
        let out = dir.path().join(out);
        (util::run_plan(dir.path(), &plan, &out), out)
    };
    let (r, out) = run("", "plain");
    assert_eq!(r.code, 1, "{r:?}");
    let sum = summary(&out, "closed");
    assert_eq!(sum["verdict"], "failed");
    for model in ["sequential", "async"] {
        let c = cell(&sum, "nobody", model);
        assert_eq!(u(&c["operations"]), 10, "{model}");
        assert_eq!(
            f(&c["throughput_per_s"]),
            0.0,
            "{model}: errors are not throughput"
        );
        assert!(f(&c["attempts_per_s"]) > 0.0, "{model}: the attempts are");
        assert!(c["speedup"].is_null(), "{model}: no success, no speedup");
        let rule = c["thresholds"]
            .as_array()
            .expect("thresholds")
            .iter()
            .find(|t| t["unit"] == "errors")
            .unwrap_or_else(|| panic!("{model}: the default error rule is recorded: {c}"));
        assert_eq!(rule["passed"], false);
        assert_eq!(f(&rule["observed"]), 10.0);
        // Ten refused connections in a few milliseconds: too short to call io or cpu.
        assert_eq!(c["machine"]["too_short"], true, "{model}");
    }
    assert_eq!(
        sum["scenarios"][0]["classified"], false,
        "too short to classify"
    );
    let reason = "10 of 10 operations failed (100%)";
    assert!(
        r.stdout
            .contains("FAIL nobody · async c=2 w=1: errors: 10 of 10")
            && r.stdout.contains("to accept some, add `error_rate < 5%`")
            && r.stdout.contains("Connection refused"),
        "{}",
        r.stdout
    );
    let run_dir = util::run_dir(&out, "closed");
    for file in ["junit.xml", "summary.md", "index.html"] {
        let text = std::fs::read_to_string(run_dir.join(file)).expect(file);
        assert!(text.contains(reason), "{file} says why");
    }

    // Accepting every error lets it pass; `< 100%` is not enough when all of them failed.
    let (r, out) = run("    thresholds: [\"error_rate <= 100%\"]\n", "accepted");
    assert_eq!(r.code, 0, "{r:?}");
    let c = cell(&summary(&out, "closed"), "nobody", "async").clone();
    assert!(c["thresholds"].to_string().contains("error_rate <= 100%"));
    let (r, _) = run("    thresholds: [\"error_rate < 100%\"]\n", "strict");
    assert_eq!(r.code, 1, "a 100% error rate is not below 100%: {r:?}");
}

/// What it must show, 3 (its structure; the demo's figures are measured by hand): every cell runs
/// N times, interleaved; figures are medians with their spread; speedups pair rounds; `--rounds`
/// wins over the plan; one round keeps the summary as it was.
#[test]
fn rounds_give_medians_with_their_spread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "rounds.yaml",
        r#"version: 1
name: rounds
base: builtin
rounds: 3
scenarios:
  - name: pages
    targets: ["/io?delay=5ms"]
    repeat: 30
    models: [sequential, threads, async]
    concurrency: 2
"#,
    );
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    // Interleaved: the progress lines go A B C A B C A B C.
    let order: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("· round "))
        .map(|l| l.split(" · ").nth(1).unwrap_or(""))
        .collect();
    let abc = ["sequential", "threads c=2", "async c=2 w=1"];
    assert_eq!(order, abc.repeat(3), "{}", r.stderr);
    let sum = summary(&out, "rounds");
    let errors: Vec<String> = super::gate::validator("summary.schema.json")
        .iter_errors(&sum)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for c in cells(&sum, "pages") {
        let name = c["model"].to_string();
        let rounds = &c["rounds"];
        assert_eq!(u(&rounds["count"]), 3, "{name}");
        assert_eq!(u(&c["operations"]), 90, "{name}: all rounds' operations");
        assert_eq!(
            u(&c["latency_us"]["count"]),
            90,
            "{name}: histograms merged"
        );
        for figure in [
            "throughput_per_s",
            "attempts_per_s",
            "p50_us",
            "p99_us",
            "speedup",
        ] {
            let sp = &rounds[figure];
            let values: Vec<f64> = sp["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(f)
                .collect();
            assert_eq!(values.len(), 3, "{name} {figure}");
            let (min, median, max) = (f(&sp["min"]), f(&sp["median"]), f(&sp["max"]));
            assert!(min <= median && median <= max, "{name} {figure}: {sp}");
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!(
                median, sorted[1],
                "{name} {figure}: the median of the rounds"
            );
        }
        assert_eq!(
            f(&c["throughput_per_s"]),
            f(&rounds["throughput_per_s"]["median"])
        );
        assert_eq!(f(&c["speedup"]), f(&rounds["speedup"]["median"]));
    }
    // Pair by pair: each round's sequential speedup is exactly 1.
    let seq = cell(&sum, "pages", "sequential");
    assert_eq!(
        seq["rounds"]["speedup"]["values"],
        serde_json::json!([1.0, 1.0, 1.0])
    );

    // `--rounds 1` wins over the plan, and one round is today's summary: no rounds field.
    let once = dir.path().join("once");
    let r = loadplan(
        dir.path(),
        &["run", s(&plan), "--out", s(&once), "--rounds", "1"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let sum = summary(&once, "rounds");
    for c in cells(&sum, "pages") {
        assert!(c.get("rounds").is_none(), "{c}");
        assert_eq!(u(&c["operations"]), 30);
    }
}

/// What it must show, 4 (as data; the report will draw it): a busy loop pinned to one core
/// during a CPU-bound scenario is named as other load on the cells it ran beside. 160 spins of
/// 3 ms keep the `threads` cell (2 users) at 240 ms or more even where it has free cores beside
/// the busy one: long enough to classify, and at least 0.1 s of other load at half a core.
#[test]
fn a_busy_loop_beside_the_run_is_named_as_other_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "busy.yaml",
        r#"version: 1
name: busy
scenarios:
  - name: spin
    cpu: { kernel: spin, duration: 3ms }
    repeat: 160
    models: [sequential, threads]
    concurrency: 2
"#,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut set = rustix::thread::CpuSet::new();
            set.set(0);
            let _ = rustix::thread::sched_setaffinity(None, &set);
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(0u64);
            }
        })
    };
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    stop.store(true, Ordering::Relaxed);
    busy.join().expect("busy loop");
    let sum = summary(&out, "busy");
    // A CPU comparison beside other load did not measure the models: invalid (exit 4), the
    // rule named, unless /proc/stat could not be read (then nothing is known of the machine).
    let sampled = cells(&sum, "spin")
        .iter()
        .all(|c| !c["machine"]["sample"].is_null());
    if sampled {
        assert_eq!(r.code, 4, "{r:?}");
        assert_eq!(sum["verdict"], "invalid");
        assert!(
            sum["validity"]
                .as_array()
                .expect("validity")
                .iter()
                .any(|v| v["rule"] == "machine_load"),
            "{}",
            sum["validity"]
        );
    }
    for c in cells(&sum, "spin") {
        let m = &c["machine"];
        if m["sample"].is_null() {
            return; // no /proc/stat here: nothing to check against
        }
        // One core spun the whole time: at least half a core of other load, a generous bound.
        assert!(f(&m["other_cores"]) >= 0.5, "{}: {m}", c["model"]);
        let flag = m["flags"]
            .as_array()
            .expect("flags")
            .iter()
            .find(|x| x["kind"] == "other_load")
            .unwrap_or_else(|| panic!("{}: other load is flagged: {m}", c["model"]));
        assert!(
            flag["message"]
                .as_str()
                .is_some_and(|t| t.contains("was not loadplan's")),
            "{flag}"
        );
        assert!(f(&m["cpu_us_per_op"]) > 0.0);
    }
}

/// The baseline's p50 check in the summary of the `rounds-baseline` run under `out`.
fn p50_check(out: &Path) -> serde_json::Value {
    summary(out, "rounds-baseline")["baseline"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["metric"] == "p50")
        .expect("p50 check")
        .clone()
}

/// What it must show, 5: identical runs of 5 rounds pass against each other five times out of
/// five, with the noise test recorded; a target twice as slow fails. The runs are seconds apart
/// on a machine running other tests, whose load can move every round of one run at once (drift,
/// which no test of the rounds can tell from a change): the plan allows 50% and 25 ms, which a
/// 50 ms target made 100 ms exceeds; the noise rule itself is tested beside the code.
#[test]
fn identical_runs_with_rounds_pass_and_a_slower_target_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"version: 1
name: rounds-baseline
base: builtin
rounds: 5
baseline: { tolerance: 50%, latency_floor: 25ms }
scenarios:
  - name: api
    targets: ["/io?delay=${LOADPLAN_E2E_DELAY}"]
    repeat: 12
    models: [async]
    concurrency: 4
"#;
    let (plan, base) = util::baseline_run(dir.path(), text, "rounds-baseline", "50ms");
    let run = |delay: &str, out: &str| {
        let envs = [("LOADPLAN_E2E_DELAY", delay)];
        util::run_against(dir.path(), &plan, out, &envs, Some(&base))
    };
    for i in 0..5 {
        let (again, out) = run("50ms", &format!("again-{i}"));
        assert_eq!(again.code, 0, "identical run {i}: {again:?}");
        let p50 = p50_check(&out);
        assert_ne!(p50["outcome"], "regressed", "{p50}");
        assert_eq!(p50["current_values"].as_array().map(Vec::len), Some(5));
        assert_eq!(p50["baseline_values"].as_array().map(Vec::len), Some(5));
        assert!(p50["p_value"].as_f64().is_some(), "{p50}");
    }
    let (slow, out) = run("100ms", "slow");
    let p50 = p50_check(&out);
    if slow.code == 0
        && p50["reason"]
            .as_str()
            .is_some_and(|r| r.contains("other load") || r.contains("hypervisor"))
    {
        // Other load rose since the baseline (a shared machine): inconclusive, by design.
        return;
    }
    assert_eq!(slow.code, 1, "a 2× slower target regresses: {slow:?}");
    assert!(
        slow.stdout
            .contains("FAIL api · async c=4 w=1: p50 regressed"),
        "{}",
        slow.stdout
    );
}

/// What it must show, 6: a steady 100/s open run draws no point above 110/s, its last, partial
/// second included, which says how long it was.
#[test]
fn a_steady_open_run_has_no_spike_at_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "steady.yaml",
        r#"version: 1
name: steady
base: builtin
scenarios:
  - name: steady
    targets: ["/io?delay=30ms"]
    rate: 100/s
    duration: 2500ms
    concurrency: 8
    models: [async]
"#,
    );
    let c = cell(
        &util::run_passing(dir.path(), &plan, "steady"),
        "steady",
        "async",
    )
    .clone();
    let points = c["timeline"].as_array().expect("timeline");
    let total: u64 = points.iter().map(|p| u(&p["operations"])).sum();
    assert_eq!(total, u(&c["operations"]));
    for p in points {
        let rate = f(&p["operations"]) / f(&p["seconds"]);
        assert!(rate <= 110.0, "second {}: {rate}/s ({p})", p["second"]);
    }
    let last = points.last().expect("points");
    assert_eq!(u(&last["second"]), 2);
    assert!((f(&last["seconds"]) - 0.5).abs() < 1e-6, "{last}");
}

/// The peak RSS a cell reports is loadplan's own, also when it was started by `fork` and `exec`
/// from a large parent (a CI harness, this test binary under the full suite): `ru_maxrss` would
/// carry the parent's size across the `exec` and book it as the run's.
#[test]
fn peak_rss_is_the_runs_own_under_a_large_parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "rss.yaml",
        "version: 1\nname: rss\nscenarios:\n  - name: spin\n    cpu: { kernel: spin, duration: 1ms }\n    repeat: 20\n    models: [sequential, processes]\n",
    );
    let out = dir.path().join("out");
    // 256 MB written, so resident in this process when it forks.
    let ballast = std::hint::black_box(vec![1u8; 256 << 20]);
    let r = util::loadplan_with(
        dir.path(),
        &util::run_args(&plan, &out),
        std::time::Duration::from_secs(60),
        |cmd| {
            use std::os::unix::process::CommandExt;
            // SAFETY: an empty hook; it only makes the spawn a fork and exec (as a `pre_exec`
            // of a harness would), rather than a `vfork`-like spawn that copies no memory.
            unsafe {
                cmd.pre_exec(|| Ok(()));
            }
        },
    );
    drop(ballast);
    assert_eq!(r.code, 0, "{r:?}");
    let sum = summary(&out, "rss");
    for c in cells(&sum, "spin") {
        let rss = u(&c["peak_rss_bytes"]);
        assert!(
            rss > 1 << 20 && rss < 128 << 20,
            "{}: peak RSS {rss} bytes",
            c["model"]
        );
    }
}
