//! Change points on the trend page end to end: twelve saved runs made from one real run's
//! summary.json, their latencies 30 % higher from the seventh run on (with ±5 % noise), give
//! exactly one change point per latency series, marked at run 7 with its size and confidence;
//! the same twelve runs without the step give none. `--fail-on-change` exits 1 on a shift for
//! the worse among the last `--recent` runs, and 0 when the shift is older or there is none.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::util::{self, loadplan};

const RUNS: usize = 12;

/// One real run of a two-cell plan: the summary every saved run is made from.
fn original(dir: &Path) -> Value {
    util::two_cell_run(dir, "nightly")
}

/// Noise within ±5 %, the same on every run of the test (a fixed linear congruential sequence).
fn noise(n: usize) -> Vec<f64> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1.0 + ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.10
        })
        .collect()
}

/// Twelve nights under `dir/name/nightly/`: latency × `step` from run 7 on, every figure noisy.
fn history(dir: &Path, original: &Value, name: &str, step: f64) -> PathBuf {
    let plan_dir = dir.join(name).join("nightly");
    let wobble = noise(RUNS * 8);
    for i in 0..RUNS {
        let mut s = original.clone();
        let id = format!("night-{:02}", i + 1);
        util::restamp(&mut s, &id, i + 1);
        s["verdict"] = json!("passed");
        let level = if i >= 6 { step } else { 1.0 };
        // One scenario: a cell's place among all is its place in the scenario.
        for (ci, cell) in util::every_cell_mut(&mut s).into_iter().enumerate() {
            let w = |k: usize| wobble[i * 8 + ci * 4 + k];
            let p50 = (2_000.0 * level * w(0)) as u64;
            let p99 = (6_000.0 * level * w(1)) as u64;
            util::set_latency(cell, p50, p99);
            cell["throughput_per_s"] = json!(1_000.0 * w(2));
            cell["error_rate"] = json!(0.0);
        }
        util::save_run(&plan_dir, &id, &s);
    }
    plan_dir
}

fn trend(dir: &Path, plan_dir: &Path, page: &Path, extra: &[&str]) -> util::Output {
    let mut args = vec![
        "trend",
        util::path_str(plan_dir),
        "--out",
        util::path_str(page),
    ];
    args.extend_from_slice(extra);
    loadplan(dir, &args)
}

#[test]
fn a_thirty_percent_step_at_run_seven_is_one_change_point_and_a_flat_history_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = original(dir.path());
    let cells = original["scenarios"][0]["cells"]
        .as_array()
        .expect("cells")
        .len();

    let slower = history(dir.path(), &original, "slower", 1.3);
    let page = dir.path().join("slower.html");
    let r = trend(dir.path(), &slower, &page, &[]);
    // Run 7 of 12 is the sixth latest: not among the last five, so not recent by default.
    assert_eq!(r.code, 0, "{r:?}");
    let html = std::fs::read_to_string(&page).expect("page");
    // One change per latency series (p50 and p99 of each cell), none in throughput or errors.
    let rows = html.matches("<tr class=\"change change-worse\">").count();
    assert_eq!(rows, 2 * cells, "{html}");
    assert!(!html.contains("change-better"), "no change for the better");
    for row in html.split("<tr class=\"change change-worse\">").skip(1) {
        assert!(
            row.starts_with("<td>7 "),
            "the first run of the new level: {row:.200}"
        );
    }
    assert_eq!(
        html.matches("class=\"rule rule-change rule-change-worse\"")
            .count(),
        2 * cells
    );
    for chart in html.split("<figure class=\"chart\"").skip(1) {
        let changes = chart.matches("<li class=\"change change-worse\">").count();
        let latency =
            chart.contains("data-metric=\"p50\"") || chart.contains("data-metric=\"p99\"");
        assert_eq!(changes, usize::from(latency), "{chart:.300}");
        if latency {
            assert!(chart.contains("▲ worse from run 7: "), "{chart:.300}");
            assert!(chart.contains("confidence 99."), "{chart:.300}");
        }
    }
    // Recent enough with --recent 6: the job fails and says why.
    let r = trend(
        dir.path(),
        &slower,
        &page,
        &["--fail-on-change", "--recent", "6"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "{} change points for the worse within the last 6 runs",
            2 * cells
        )),
        "{r:?}"
    );
    assert!(r.stderr.contains("from run 7 (night-07)"), "{r:?}");
    let r = trend(dir.path(), &slower, &page, &["--fail-on-change"]);
    assert_eq!(r.code, 0, "older than the last five runs: {r:?}");

    let flat = history(dir.path(), &original, "flat", 1.0);
    let page = dir.path().join("flat.html");
    let r = trend(
        dir.path(),
        &flat,
        &page,
        &["--fail-on-change", "--recent", "12"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("No change point"), "flat history");
    assert!(!html.contains("rule-change"), "no change marked");
}
