//! `loadplan trend` end to end: one real run against the built-in server, ten saved runs made
//! from its summary.json (different start times, latencies, throughput, error rates and
//! verdicts), the trend page rendered and opened in headless Chromium with JavaScript disabled.
//! The DOM must hold, for every cell, four charts of ten points in time order, with the failed
//! and interrupted runs marked by shape and rule. Mixed plans and broken files must exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loadplan::units as format;
use serde_json::{Value, json};

use super::util::{self, loadplan};

const RUNS: usize = 10;
/// Runs (by time order) that failed and that were interrupted.
const FAILED: [usize; 2] = [3, 7];
const INTERRUPTED: usize = 5;

/// Builds the saved runs under `dir/history/trend-e2e/`; returns the plan folder and the
/// run ids in time order.
fn saved_runs(dir: &Path) -> (PathBuf, Vec<String>, Value) {
    let original = util::two_cell_run(dir, "trend-e2e");

    let plan_dir = dir.join("history").join("trend-e2e");
    let mut ids = Vec::new();
    for i in 0..RUNS {
        let mut s = original.clone();
        // Folder names that do not sort by time, so the page must order by started_at.
        let id = format!("run-{}", (i * 7) % RUNS);
        util::restamp(&mut s, &id, i + 1);
        s["verdict"] = json!(if FAILED.contains(&i) {
            "failed"
        } else if i == INTERRUPTED {
            "interrupted"
        } else {
            "passed"
        });
        // One scenario: a cell's place among all is its place in the scenario.
        for (ci, cell) in util::every_cell_mut(&mut s).into_iter().enumerate() {
            // A slow drift: +10% latency per night, throughput falling, errors on one night.
            let (p50, p99) = expected_latency(i, ci);
            util::set_latency(cell, p50, p99);
            cell["throughput_per_s"] = json!(1000.0 - 40.0 * i as f64 - ci as f64);
            cell["error_rate"] = json!(if i == 8 { 0.05 } else { 0.0 });
        }
        util::save_run(&plan_dir, &id, &s);
        ids.push(id);
    }
    (plan_dir, ids, original)
}

fn expected_latency(run: usize, cell: usize) -> (u64, u64) {
    let f = 1.0 + 0.1 * run as f64;
    let p50 = (2_000.0 * f) as u64 + cell as u64 * 100;
    (p50, p50 * 3)
}

/// Runs `program ARGS` in its own process group, killing the group after `limit` (and in any
/// case once it returns, so no browser helper process outlives the test).
fn run_bounded(program: &str, args: &[String], limit: Duration) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e} (CI installs it: see .ci/run)"));
    // The child leads its own process group (process_group(0)), so its id is the group's id.
    let pgid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    assert!(pgid > 1, "a real process group");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + limit;
    // Not `kill -KILL -PGID`: procps-ng 4.0.2's kill reads `-PGID` after a signal as `-1`
    // (strace shows `kill(-1, 0)` for `kill -0 -PGID`), which signals every process.
    let kill_group = || {
        // The group created for this child, by its (positive) id: never all processes or our
        // own group.
        if let Some(group) = rustix::process::Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    };
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            kill_group();
            let _ = child.wait();
            panic!("{program} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    kill_group();
    (
        status.code().unwrap_or(-1),
        t_out.join().expect("stdout thread"),
        t_err.join().expect("stderr thread"),
    )
}

/// Chromium headless, no network services, a fresh profile.
///
/// JavaScript is off through the page's own Content-Security-Policy (`default-src 'none'`), not
/// through `--blink-settings=scriptEnabled=false`: with that flag Chromium 156 writes neither
/// `--dump-dom` output nor a screenshot (both are taken by script through DevTools), while the
/// page's CSP blocks every script of the page itself and leaves DevTools working. The test
/// checks that the CSP is there.
fn chromium(page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut args: Vec<String> = util::CHROMIUM_HEADLESS
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    args.push(format!("file://{}", page.display()));
    let (code, stdout, stderr) = run_bounded("chromium", &args, Duration::from_secs(90));
    assert_eq!(code, 0, "chromium failed: {stderr}");
    stdout
}

/// The text between `start` and the next `end`, for every occurrence of `start`.
fn blocks<'a>(text: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    text.match_indices(start)
        .map(|(i, _)| {
            let rest = &text[i..];
            &rest[..rest.find(end).expect("block end")]
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let i = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    &tag[i..i + tag[i..].find('"').expect("closing quote")]
}

#[test]
fn trend_page_charts_ten_runs_and_marks_the_failed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plan_dir, ids, original) = saved_runs(dir.path());
    let page = dir.path().join("pages").join("trend.html");
    let r = loadplan(
        dir.path(),
        &[
            "trend",
            plan_dir.to_str().expect("utf-8"),
            "--out",
            page.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("10 runs, 2 cells"), "{r:?}");

    let dom = chromium(&page, &["--dump-dom".into()]);
    assert!(dom.contains("trend-e2e"), "the page rendered: {dom:.400}");
    assert!(!dom.contains("<script"), "the page needs no script");
    assert!(
        dom.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""),
        "the page forbids scripts and network: the DOM below is the page without JavaScript"
    );

    let cell_labels: Vec<String> = original["scenarios"][0]["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c["model"].as_str().expect("model").to_string())
        .collect();
    let cells = blocks(&dom, "<section class=\"cell\"", "</section>");
    assert_eq!(cells.len(), cell_labels.len(), "one section per cell");
    for (ci, cell) in cells.iter().enumerate() {
        assert_eq!(attr(cell, "data-scenario"), "hello");
        assert!(
            attr(cell, "data-cell").starts_with(&cell_labels[ci]),
            "cell order as in the plan"
        );
        let charts = blocks(cell, "<svg class=\"trend-chart\"", "</svg>");
        let metrics: Vec<&str> = charts.iter().map(|c| attr(c, "data-metric")).collect();
        assert_eq!(metrics, ["p50", "p99", "throughput", "error-rate"]);
        for chart in &charts {
            let points = blocks(chart, "<g class=\"point", "</g>");
            assert_eq!(points.len(), RUNS, "ten points per chart");
            // Left to right in time order, whatever the folder names.
            let order: Vec<&str> = points.iter().map(|p| attr(p, "data-run")).collect();
            assert_eq!(order, ids, "points in started_at order");
            for (i, p) in points.iter().enumerate() {
                let want = if FAILED.contains(&i) {
                    "point verdict-failed"
                } else if i == INTERRUPTED {
                    "point verdict-interrupted"
                } else {
                    "point verdict-passed"
                };
                assert_eq!(attr(p, "class"), want, "run {i}");
                let title = &p[p.find("<title>").expect("tooltip")..];
                assert!(
                    title.contains(&format!("2026-05-{:02}T02:00:00Z", i + 1)),
                    "{title}"
                );
                if FAILED.contains(&i) {
                    assert!(title.contains("FAILED"), "{title}");
                }
            }
            // The failed runs are marked by a shape and by a rule through the chart.
            assert_eq!(
                chart.matches("class=\"rule rule-failed\"").count(),
                FAILED.len()
            );
            assert_eq!(chart.matches("class=\"rule rule-interrupted\"").count(), 1);
            assert!(chart.contains("(UTC)"), "the time axis is labelled");
        }
        // The values drawn are the values saved: the newest p99, and the drift in words.
        let p99 = charts[1];
        let (_, first) = expected_latency(0, ci);
        let (_, last) = expected_latency(RUNS - 1, ci);
        let newest = blocks(p99, "<g class=\"point", "</g>")[RUNS - 1];
        assert!(
            newest.contains(&format!("p99 latency {}", format::micros(last))),
            "{newest}"
        );
        let caption = format!(
            "first {} → latest {}",
            format::micros(first),
            format::micros(last)
        );
        assert!(cell.contains(&caption), "caption {caption}");
        assert!(cell.contains("p99 latency (ms)"), "axis with unit");
        let rate = charts[3];
        assert!(blocks(rate, "<g class=\"point", "</g>")[8].contains("Error rate 5.00%"));
        assert!(
            cell.contains("first 0% → latest 0%, highest 5.00%"),
            "the spike in words"
        );
    }
    // The runs table says it in words too.
    assert_eq!(dom.matches("✕ failed</span>").count(), FAILED.len());

    for (width, name) in [(1280, "trend-1280.png"), (800, "trend-800.png")] {
        let shot = dir.path().join(name);
        chromium(
            &page,
            &[
                format!("--screenshot={}", shot.display()),
                format!("--window-size={width},1600"),
                "--hide-scrollbars".into(),
            ],
        );
        let png = std::fs::read(&shot).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
        // Kept for a human to look at when LOADPLAN_TEST_SHOTS names a folder.
        if let Ok(keep) = std::env::var("LOADPLAN_TEST_SHOTS") {
            std::fs::write(Path::new(&keep).join(name), &png).expect("keep screenshot");
        }
    }
}

#[test]
fn trend_refuses_mixed_plans_and_broken_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plan_dir, _, original) = saved_runs(dir.path());

    let mut other = original.clone();
    other["plan"]["name"] = json!("someone-else");
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, serde_json::to_vec(&other).expect("json")).expect("write");
    let r = loadplan(
        dir.path(),
        &[
            "trend",
            plan_dir.to_str().expect("utf-8"),
            other_file.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("someone-else") && r.stderr.contains("trend-e2e"),
        "{r:?}"
    );
    assert!(
        !dir.path().join("trend.html").exists(),
        "no page from mixed plans"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema_version\": 1, \"plan\": ").expect("write");
    let r = loadplan(dir.path(), &["trend", broken.to_str().expect("utf-8")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("broken.json"), "{r:?}");

    let mut bad_time = original;
    bad_time["started_at"] = json!("yesterday");
    let bad = dir.path().join("bad-time.json");
    std::fs::write(&bad, serde_json::to_vec(&bad_time).expect("json")).expect("write");
    let r = loadplan(dir.path(), &["trend", bad.to_str().expect("utf-8")]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("bad-time.json") && r.stderr.contains("yesterday"),
        "{r:?}"
    );

    let r = loadplan(dir.path(), &["trend", "does-not-exist"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("does-not-exist"), "{r:?}");

    // The default output: trend.html in the current folder.
    let r = loadplan(dir.path(), &["trend", plan_dir.to_str().expect("utf-8")]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(dir.path().join("trend.html").is_file());
}
