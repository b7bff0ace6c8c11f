//! Plans run end to end: every model against the built-in server, counts and error categories in
//! summary.json, histogram totals equal to operation counts, invalid plans refused before any
//! output, and every example plan valid.

use std::path::Path;
use std::time::Duration;

use super::util::{self, cell, loadplan, loadplan_in, summary, u, write_plan};

const MODELS: [&str; 4] = ["sequential", "threads", "async", "processes"];

/// The histogram stored in a cell, decoded: its total must equal the operations counted.
fn histogram_total(c: &serde_json::Value) -> u64 {
    let b64 = c["histogram"].as_str().expect("histogram string");
    loadplan::stats::histogram_from_base64(b64)
        .expect("histogram decodes")
        .len()
}

#[test]
fn every_model_counts_operations_and_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "e2e.yaml",
        r#"version: 1
name: e2e
base: builtin
defaults: { timeout: 2s }
scenarios:
  - name: hello
    targets: [/hello, "/bytes?size=1000"]
    repeat: 15
    models: [sequential, threads, async, processes]
    concurrency: 4
    warmup: 3
  - name: unavailable
    targets: ["/status?code=503"]
    repeat: 12
    models: [sequential, threads, async, processes]
    concurrency: 3
    thresholds: ["error_rate <= 100%"]
  - name: flaky
    targets: ["/flaky?fail=0.5"]
    repeat: 200
    models: [async]
    concurrency: 8
    thresholds: ["error_rate <= 100%"]
  - name: wrong-status
    targets: ["/status?code=204"]
    repeat: 5
    models: [threads]
    concurrency: 2
    expect: { status: 200 }
    thresholds: ["error_rate <= 100%"]
  - name: squares
    cpu: { kernel: sum_squares, n: 1000 }
    repeat: 10
    models: [sequential, threads, async, processes]
    concurrency: 2
"#,
    );
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&out, "e2e");
    assert_eq!(s["schema_version"], 1);
    assert_eq!(s["verdict"], "passed");
    assert_eq!(s["plan"]["name"], "e2e");
    assert!(s["host"]["cores"].as_u64().is_some_and(|c| c >= 1));

    for model in MODELS {
        let hello = cell(&s, "hello", model);
        assert_eq!(
            u(&hello["operations"]),
            30,
            "{model}: warm-up is not counted"
        );
        assert_eq!(u(&hello["successes"]), 30, "{model}");
        assert_eq!(u(&hello["bytes"]), 15 * (6 + 1000), "{model}: body bytes");
        assert_eq!(histogram_total(hello), 30, "{model}");
        assert_eq!(u(&hello["latency_us"]["count"]), 30, "{model}");
        for cat in util::ERROR_CATEGORIES {
            assert_eq!(u(&hello["errors"][cat]), 0, "{model} {cat}");
        }
        assert_eq!(u(&hello["status_codes"]["200"]), 30, "{model}");

        let down = cell(&s, "unavailable", model);
        assert_eq!(u(&down["operations"]), 12, "{model}");
        assert_eq!(u(&down["errors"]["status"]), 12, "{model}");
        assert_eq!(u(&down["status_codes"]["503"]), 12, "{model}");
        assert_eq!(down["error_rate"], 1.0, "{model}");
        assert_eq!(histogram_total(down), 12, "{model}");

        let squares = cell(&s, "squares", model);
        assert_eq!(u(&squares["operations"]), 10, "{model}");
        assert_eq!(histogram_total(squares), 10, "{model}");
    }
    let flaky = cell(&s, "flaky", "async");
    let (ok, failed) = (u(&flaky["successes"]), u(&flaky["errors"]["status"]));
    assert_eq!(ok + failed, 200);
    // With p = 0.5 over 200 requests, either side being empty has probability 2^-199.
    assert!(
        ok > 0 && failed > 0,
        "flaky gave {ok} successes and {failed} failures"
    );
    let wrong = cell(&s, "wrong-status", "threads");
    assert_eq!(u(&wrong["errors"]["expectation"]), 5);

    let cells = |name: &str| {
        s["scenarios"]
            .as_array()
            .expect("scenarios")
            .iter()
            .find(|x| x["name"] == name)
            .expect("scenario")
            .clone()
    };
    assert_eq!(cells("hello")["kind"], "io");
    assert_eq!(cells("squares")["kind"], "cpu");
    // Speedup is against the scenario's sequential cell, and exactly 1 for that cell.
    assert_eq!(cell(&s, "hello", "sequential")["speedup"], 1.0);
    assert!(cell(&s, "flaky", "async")["speedup"].is_null());

    let run_dir = util::run_dir(&out, "e2e");
    let html = std::fs::read_to_string(run_dir.join("index.html")).expect("index.html");
    for name in ["hello", "unavailable", "flaky", "wrong-status", "squares"] {
        assert!(html.contains(name), "the report names scenario {name}");
    }
    // The console table lists every scenario.
    for name in ["hello", "unavailable", "squares"] {
        assert!(r.stdout.contains(name), "stdout names {name}: {}", r.stdout);
    }
}

/// From 256 users `async` runs its one thread as the multi-threaded scheduler's single worker
/// (`run/host/asynchronous.rs`), whose threads hand their recorders over as they stop: a cell
/// on each side of that line counts every operation, once, with one connection per user.
#[test]
fn async_counts_every_operation_on_either_scheduler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "sched.yaml",
        r#"version: 1
name: sched
base: builtin
defaults: { timeout: 5s }
scenarios:
  - name: few
    targets: [/hello]
    repeat: 400
    models: [async]
    concurrency: 8
  - name: many
    targets: [/hello]
    repeat: 1500
    models: [async]
    concurrency: 300
"#,
    );
    let s = util::run_passing(dir.path(), &plan, "sched");
    for (name, ops, users) in [("few", 400, 8), ("many", 1500, 300)] {
        let c = cell(&s, name, "async");
        assert_eq!(u(&c["operations"]), ops, "{name}");
        assert_eq!(u(&c["successes"]), ops, "{name}");
        assert_eq!(u(&c["status_codes"]["200"]), ops, "{name}");
        assert_eq!(histogram_total(c), ops, "{name}");
        let timeline = util::timeline_total(c);
        assert_eq!(timeline, ops, "{name}: the timeline counts each once");
        assert_eq!(u(&c["connections"]["opened"]), users, "{name}");
    }
}

#[test]
fn durations_and_sweeps_expand_into_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "sweep.yaml",
        r#"version: 1
name: sweep
base: builtin
scenarios:
  - name: timed
    targets: ["/io?delay=20ms"]
    duration: 600ms
    models: [sequential, async]
    concurrency: [1, 4]
"#,
    );
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&out, "sweep");
    let cells = s["scenarios"][0]["cells"].as_array().expect("cells");
    let shape: Vec<(String, u64)> = cells
        .iter()
        .map(|c| {
            (
                c["model"].as_str().expect("model").to_string(),
                u(&c["concurrency"]),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("sequential".into(), 1),
            ("async".into(), 1),
            ("async".into(), 4)
        ]
    );
    for c in cells {
        let wall = c["wall_seconds"].as_f64().expect("wall");
        // A timed cell runs for its duration, plus at most one operation in flight.
        assert!((0.55..3.0).contains(&wall), "wall {wall}");
        assert_eq!(histogram_total(c), u(&c["operations"]));
        assert!(u(&c["operations"]) > 0);
        let per_second = util::timeline_total(c);
        assert_eq!(per_second, u(&c["operations"]), "the timeline adds up");
    }
    // Four users waiting 20 ms each get through more requests than one.
    assert!(u(&cells[2]["operations"]) > u(&cells[1]["operations"]));
}

#[test]
fn cpu_bound_cells_take_turns_in_slices_and_add_up_per_round() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "slices.yaml",
        r#"version: 1
name: turns
rounds: 2
scenarios:
  - name: sum
    cpu: { kernel: sum_squares, n: 1000000 }
    repeat: 8
    models: [sequential, threads]
    concurrency: 2
"#,
    );
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    // One console line per cell and round, never one per slice.
    for line in [
        "[1/4] sum · sequential · round 1/2:",
        "[4/4] sum · threads c=2 · round 2/2:",
    ] {
        assert_eq!(r.stderr.matches(line).count(), 1, "{line}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("slice"), "{}", r.stderr);
    let s = summary(&out, "turns");
    let cells = s["scenarios"][0]["cells"].as_array().expect("cells");
    for c in cells {
        // Every round did its 8 computations, over its slices.
        assert_eq!(u(&c["operations"]), 16, "{c}");
        assert_eq!(histogram_total(c), 16, "{c}");
        let timeline = util::timeline_total(c);
        assert_eq!(timeline, 16, "the timeline adds up: {c}");
        let per_op = c["rounds"]["cpu_us_per_op"]["values"]
            .as_array()
            .expect("CPU per operation, round by round");
        assert_eq!(per_op.len(), 2, "{c}");
        assert!(
            per_op.iter().all(|v| v.as_f64().is_some_and(|v| v > 0.0)),
            "{c}"
        );
    }
    // The threads cell's first slice ran right after sequential's first slice (a quarter of
    // its round), not after the whole of sequential's round.
    let offset = |c: &serde_json::Value| c["start_offset_seconds"].as_f64().expect("offset");
    let first_round = cells[0]["rounds"]["wall_seconds"]["values"][0]
        .as_f64()
        .expect("wall");
    assert!(
        offset(&cells[1]) - offset(&cells[0]) < first_round,
        "threads began {:.3} s after sequential, whose first round measured {first_round:.3} s",
        offset(&cells[1]) - offset(&cells[0])
    );
}

#[test]
fn connection_refused_is_counted_as_connect_errors() {
    let port = util::closed_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "refused.yaml",
        &format!(
            "version: 1\nname: refused\nbase: http://127.0.0.1:{port}\nscenarios:\n  - name: nobody-home\n    targets: [/x]\n    repeat: 6\n    models: [sequential, threads, async, processes]\n    concurrency: 2\n    timeout: 1s\n"
        ),
    );
    let out = dir.path().join("out");
    let r = util::run_plan(dir.path(), &plan, &out);
    // A failing target is data: the run is carried out and reported (not exit 3), and its
    // errors, which no `error_rate` threshold accepts, fail the gate.
    assert_eq!(r.code, 1, "{r:?}");
    let s = summary(&out, "refused");
    assert_eq!(s["verdict"], "failed");
    for model in MODELS {
        let c = cell(&s, "nobody-home", model);
        assert_eq!(u(&c["operations"]), 6, "{model}");
        assert_eq!(u(&c["errors"]["connect"]), 6, "{model}");
    }
}

#[test]
fn timeouts_are_counted_and_bound_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "slow.yaml",
        r#"version: 1
name: slow
base: builtin
scenarios:
  - name: too-slow
    targets: ["/io?delay=5s"]
    repeat: 4
    timeout: 150ms
    models: [async, threads]
    concurrency: 4
    thresholds: ["error_rate <= 100%"]
"#,
    );
    let out = dir.path().join("out");
    let r = loadplan_in(
        dir.path(),
        &[
            "run",
            plan.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&out, "slow");
    for model in ["async", "threads"] {
        let c = cell(&s, "too-slow", model);
        assert_eq!(u(&c["errors"]["timeout"]), 4, "{model}");
        assert!(c["wall_seconds"].as_f64().expect("wall") < 2.0, "{model}");
    }
}

/// Each invalid plan exits 2 with `file:line:column`, and writes nothing.
#[test]
fn invalid_plans_exit_2_naming_file_line_and_column() {
    let cases = [
        (
            "unknown-key.yaml",
            "version: 1\nname: x\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/hello]\n    repeat: 1\n    retries: 3\n",
            ":8:5: ",
            "unknown field `retries`",
        ),
        (
            "wrong-type.yaml",
            "version: 1\nname: x\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/hello]\n    repeat: lots\n",
            ":7:13: ",
            "invalid type",
        ),
        (
            "missing-var.yaml",
            "version: 1\nname: x\nbase: builtin\nscenarios:\n  - name: a\n    targets:\n      - url: /hello\n        headers: { authorization: \"Bearer ${LOADPLAN_E2E_UNSET_TOKEN}\" }\n    repeat: 1\n",
            ":8:",
            "LOADPLAN_E2E_UNSET_TOKEN",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text, location, message) in cases {
        let plan = write_plan(dir.path(), name, text);
        let out = dir.path().join("out");
        for command in ["run", "validate"] {
            let r = loadplan(
                dir.path(),
                &[
                    command,
                    plan.to_str().expect("utf-8"),
                    "--out",
                    out.to_str().expect("utf-8"),
                ][..if command == "run" { 4 } else { 2 }],
            );
            assert_eq!(r.code, 2, "{name} {command}: {r:?}");
            let expected = format!("{}{location}", plan.display());
            assert!(
                r.stderr.contains(&expected),
                "{name}: wants `{expected}` in {}",
                r.stderr
            );
            assert!(
                r.stderr.contains(message),
                "{name}: wants `{message}` in {}",
                r.stderr
            );
            assert!(!out.exists(), "{name}: no output folder is created");
        }
    }
}

#[test]
fn every_example_plan_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("plans")).expect("plans/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let r = loadplan(root, &["validate", path.to_str().expect("utf-8")]);
            assert_eq!(r.code, 0, "{}: {r:?}", path.display());
            assert!(r.stdout.contains(": ok: plan"), "{}", r.stdout);
            seen += 1;
        }
    }
    assert!(seen >= 1, "plans/ holds example plans");
}

#[test]
fn validate_lists_cells_and_totals_without_sending() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = loadplan(root, &["validate", "plans/concurrency.yaml"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "download-sites · sequential: 128 operations",
        "download-sites · threads c=16: 128 operations",
        "sum-of-squares · processes c=2 w=2: 40 operations",
        // 672 a round, 3 rounds.
        "total over 3 rounds: 2016 counted operations",
    ] {
        assert!(r.stdout.contains(line), "wants `{line}` in {}", r.stdout);
    }
}

/// The most epoll instances and eventfds process `pid` held at once, sampled every 20 ms until
/// it exits (a tokio runtime holds an epoll instance; `bare`, which the `threads` host's users
/// run on, holds an eventfd and no epoll), and its exit code.
fn epolls_and_eventfds(child: &mut std::process::Child) -> (usize, usize, i32) {
    let fds = std::path::PathBuf::from(format!("/proc/{}/fd", child.id()));
    let (mut epolls, mut eventfds) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (epolls, eventfds, status.code().unwrap_or(-1));
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        let links: Vec<String> = std::fs::read_dir(&fds)
            .map(|d| {
                d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .map(|l| l.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        epolls = epolls.max(links.iter().filter(|l| l.contains("[eventpoll]")).count());
        eventfds = eventfds.max(links.iter().filter(|l| l.contains("[eventfd]")).count());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `threads` user is a thread that waits in `poll(2)` on its own socket, with no tokio runtime
/// (no epoll instance) of its own: 16 users hold 16 eventfds at once and only the process's few
/// runtimes' epolls. With `connections: N` (shared connections, whose tasks run on a runtime)
/// each user keeps a runtime: the same count sees an epoll per user, so it can tell them apart.
#[test]
fn threads_users_run_without_a_runtime_each() {
    const USERS: usize = 16;
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, shared, runtimes) in [
        ("bare", "", false),
        ("shared", "    connections: 2\n", true),
    ] {
        let plan = write_plan(
            dir.path(),
            &format!("{name}.yaml"),
            &format!(
                "version: 1\nname: {name}\nbase: builtin\nscenarios:\n  - name: s\n    targets: [\"/io?delay=5ms\"]\n    duration: 2s\n    models: [threads]\n    concurrency: {USERS}\n{shared}"
            ),
        );
        let out = dir.path().join("out");
        let mut child = std::process::Command::new(util::bin())
            .args(util::run_args(&plan, &out))
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start loadplan");
        let (epolls, eventfds, code) = epolls_and_eventfds(&mut child);
        assert_eq!(code, 0, "{name}");
        let s = summary(&out, name);
        let c = cell(&s, "s", "threads");
        assert!(u(&c["operations"]) > USERS as u64, "{name}: {c}");
        let errors: u64 = c["errors"]
            .as_object()
            .expect("errors")
            .values()
            .map(u)
            .sum();
        assert_eq!(errors, 0, "{name}: {c}");
        // Sampled while the users ran: each held its eventfd (tokio's runtimes hold one too).
        assert!(
            eventfds >= USERS,
            "{name}: at most {eventfds} eventfds seen"
        );
        if runtimes {
            assert!(epolls > USERS, "{name}: at most {epolls} epoll instances");
        } else {
            assert!(
                epolls < 4,
                "{name}: {epolls} epoll instances for {USERS} users"
            );
        }
    }
}
