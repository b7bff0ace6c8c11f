//! A small but complete summary, built by hand: the trial render of a template folder uses it
//! (every list a template loops over is non-empty), and the renderers' tests start from it.
//!
//! Input: nothing. Output: a [`Summary`] of two scenarios (I/O and CPU) of three cells each,
//! with errors and their messages, connections (HTTP cells), thresholds, a baseline and CI
//! metadata. Must not depend on the clock or the
//! machine: the same summary every time, so renders of it can be compared byte for byte.
//! For tests also: [`hostile`], a summary of every number a renderer must survive, and
//! [`snapshot`], which compares a render with a file in `src/report/snapshots/`.

use crate::plan::Model;
use crate::stats::{
    BaselineCheck, BaselineReport, Bound, CellSummary, CiInfo, ConnectionsSummary, Host,
    LatencySummary, PlanInfo, ScenarioSummary, Summary, ThresholdResult, TimelinePoint, Timestamp,
    Verdict, histogram_to_base64, new_histogram,
};

/// A small but complete summary: every list the template loops over is non-empty, so a trial
/// render reaches every field a template folder may use.
pub fn sample() -> Summary {
    let mut h = new_histogram();
    for v in [900u64, 1_200, 1_500, 52_000] {
        // In range by construction; a failure would only leave the sample histogram smaller.
        let _ = h.record(v);
    }
    let cell = |model: Model, concurrency: usize, speedup: f64, errors: u64| CellSummary {
        model,
        concurrency,
        workers: 1,
        operations: 4,
        successes: 4 - errors,
        errors: [("status".to_string(), errors)].into_iter().collect(),
        status_codes: [("200".to_string(), 4 - errors), ("503".to_string(), errors)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
        error_rate: errors as f64 / 4.0,
        bytes: 64,
        wall_seconds: 0.5 / speedup,
        throughput_per_s: 8.0 * speedup,
        attempts_per_s: 8.0 * speedup,
        latency_us: LatencySummary {
            count: 4,
            min: 900,
            mean: 13_900.0,
            p50: 1_200,
            p90: 52_000,
            p99: 52_000,
            p999: 52_000,
            max: 52_000,
            stdev: 22_000.0,
        },
        latency_out_of_range: 0,
        cpu_seconds: 0.01,
        cores_busy: 0.02,
        peak_rss_bytes: 1 << 20,
        speedup: Some(speedup),
        complete: errors == 0,
        start_offset_seconds: 0.0,
        notes: if errors == 0 {
            Vec::new()
        } else {
            vec!["a worker exited".into()]
        },
        thresholds: vec![ThresholdResult {
            expression: "p99 < 100ms".into(),
            observed: Some(52_000.0),
            passed: true,
            limit: 100_000.0,
            unit: "us".into(),
            observed_text: "52.0ms".into(),
        }],
        timeline: vec![TimelinePoint {
            seconds: 1.0,
            second: 0,
            operations: 4,
            errors,
            bytes: 64,
            p50_us: 1_200,
            p99_us: 52_000,
            max_us: 52_000,
            in_flight: 0.0,
            histogram: histogram_to_base64(&h),
        }],
        histogram: histogram_to_base64(&h),
        open: None,
        connections: Some(connections(4, 1)),
        error_messages: if errors == 0 {
            Default::default()
        } else {
            [("status".to_string(), vec!["status 503".to_string()])]
                .into_iter()
                .collect()
        },
        requests: Vec::new(),
        think_us: None,
        rounds: None,
        machine: Default::default(),
    };
    let scenario = |kind: Bound| ScenarioSummary {
        seed: None,
        classified: true,
        name: "sample".into(),
        description: Some("a sample scenario".into()),
        kind,
        bound: kind,
        busy_fraction: if kind == Bound::Io { 0.02 } else { 0.95 },
        bound_cell: "sequential".into(),
        workload: vec!["/hello".into()],
        load: "repeat: 4".into(),
        tls_insecure: false,
        cells: vec![
            cell(Model::Sequential, 1, 1.0, 0),
            cell(Model::Async, 2, 1.8, 1),
            cell(Model::Async, 4, 3.0, 0),
        ]
        .into_iter()
        .map(|mut c| {
            // A CPU kernel opens no connection.
            if kind == Bound::Cpu {
                c.connections = None;
            }
            c
        })
        .collect(),
    };
    Summary {
        schema_version: crate::stats::SCHEMA_VERSION,
        plan: PlanInfo {
            name: "sample".into(),
            file: "sample.yaml".into(),
            description: Some("a sample plan".into()),
            source: "version: 1\n".into(),
        },
        run_id: "sample".into(),
        started_at: at(1_767_225_600),
        finished_at: at(1_767_225_601),
        duration_seconds: 1.0,
        loadplan_version: env!("CARGO_PKG_VERSION").into(),
        host: Host {
            cores: 1,
            os: "linux".into(),
            arch: "x86_64".into(),
        },
        ci: Some(CiInfo {
            system: "github-actions".into(),
            commit: Some("0123abc".into()),
            branch: Some("main".into()),
            job_url: Some("https://ci.example/job/1".into()),
        }),
        verdict: Verdict::Interrupted,
        scenarios: vec![scenario(Bound::Io), scenario(Bound::Cpu)],
        baseline: Some(BaselineReport {
            file: "baseline/summary.json".into(),
            run_id: "earlier".into(),
            started_at: at(1_767_139_200),
            tolerance: 0.1,
            latency_floor_us: 1_000,
            passed: false,
            checks: vec![BaselineCheck {
                scenario: "sample".into(),
                model: Model::Async,
                concurrency: 2,
                workers: 1,
                metric: "p99".into(),
                baseline: 40_000.0,
                current: 52_000.0,
                change: Some(0.3),
                passed: false,
                noise: None,
            }],
            missing_in_baseline: vec!["sample · async c=4 w=1".into()],
            missing_in_run: vec!["sample · threads c=2".into()],
        }),
        export: Vec::new(),
    }
}

/// HTTP/1.1 connections over TLS: `opened` of them for `operations` requests, 150 µs to
/// connect and 2 ms to handshake each, 1 ms to the first byte of each request; no DNS (an
/// address).
pub fn connections(operations: u64, opened: u64) -> ConnectionsSummary {
    let phase = |count: u64, p50: u64, p99: u64, mean: f64| LatencySummary {
        count,
        min: p50,
        mean,
        p50,
        p90: p99,
        p99,
        p999: p99,
        max: p99,
        stdev: 0.0,
    };
    ConnectionsSummary {
        opened,
        tls_handshakes: opened,
        tls_resumed: 0,
        protocols: [("HTTP/1.1".to_string(), opened)].into_iter().collect(),
        dns_us: LatencySummary::default(),
        connect_us: phase(opened, 150, 300, 150.0),
        tls_us: phase(opened, 2_000, 3_000, 2_000.0),
        ttfb_us: phase(operations, 1_000, 40_000, 1_000.0),
    }
}

/// A constant instant, in seconds since the Unix epoch.
fn at(second: i64) -> Timestamp {
    jiff::Timestamp::constant(second, 0).into()
}

/// The sample made healthy: passed, every cell complete, long enough and without errors.
#[cfg(test)]
pub fn healthy() -> Summary {
    let mut s = sample();
    s.verdict = Verdict::Passed;
    for c in s.scenarios.iter_mut().flat_map(|sc| &mut sc.cells) {
        c.operations = 10_000;
        c.wall_seconds = 5.0;
        c.complete = true;
        c.error_rate = 0.0;
        c.errors.values_mut().for_each(|n| *n = 0);
    }
    s
}

/// An open-model schedule the generator could not keep: 88/s of 100/s, 120 arrivals dropped.
#[cfg(test)]
pub fn behind_schedule() -> crate::stats::OpenSummary {
    crate::stats::OpenSummary {
        scheduled: 1_000,
        dropped: 120,
        target_rate_per_s: 100.0,
        achieved_rate_per_s: 88.0,
        latency_uncorrected_us: LatencySummary::default(),
        send_lag_us: LatencySummary::default(),
        rate_not_reached: true,
    }
}

/// The sample with numbers no run produces but an edited or corrupted summary.json may hold:
/// 1e308, NaN, ±∞, negatives, `u64::MAX` counts that overflow a sum, a cell start beyond what
/// a `Duration` holds, empty and unreadable histograms, empty timelines, a scenario without
/// cells, a host without cores. Every renderer must turn it into something without panicking.
#[cfg(test)]
pub fn hostile() -> Summary {
    let mut s = sample();
    s.host.cores = 0;
    s.duration_seconds = f64::NAN;
    let cells = &mut s.scenarios[0].cells;
    if let [a, b, c] = cells.as_mut_slice() {
        a.speedup = Some(1e308);
        a.wall_seconds = 1e308;
        a.throughput_per_s = 1e308;
        a.start_offset_seconds = 1.8446744073709552e19;
        a.cores_busy = f64::MAX;
        a.error_rate = f64::NAN;
        b.timeline.clear();
        b.histogram = String::new();
        b.speedup = Some(f64::NAN);
        b.throughput_per_s = f64::NAN;
        b.wall_seconds = f64::NAN;
        b.start_offset_seconds = f64::NEG_INFINITY;
        b.cores_busy = f64::INFINITY;
        c.histogram = "not base64!".into();
        c.speedup = Some(-1.0);
        c.wall_seconds = -5.0;
        c.throughput_per_s = f64::NEG_INFINITY;
        c.operations = u64::MAX;
        c.latency_us.p99 = u64::MAX;
        c.latency_us.max = u64::MAX;
        c.errors = [("a".to_string(), u64::MAX), ("b".to_string(), u64::MAX)]
            .into_iter()
            .collect();
        c.status_codes = [("999".to_string(), u64::MAX), (String::new(), 1)]
            .into_iter()
            .collect();
        for p in &mut c.timeline {
            p.second = u32::MAX;
            p.operations = u64::MAX;
            p.p99_us = u64::MAX;
        }
    }
    s.scenarios[0].tls_insecure = true;
    if let [a, b, ..] = s.scenarios[0].cells.as_mut_slice() {
        // Connections no run records: more than there were operations, means that are not
        // numbers, counts that overflow a product.
        let mut k = connections(u64::MAX, u64::MAX);
        k.tls_resumed = u64::MAX;
        k.dns_us.mean = f64::NAN;
        k.dns_us.count = 3;
        k.connect_us.mean = f64::INFINITY;
        k.tls_us.mean = -1.0;
        k.ttfb_us.mean = 1e308;
        k.protocols.insert(String::new(), u64::MAX);
        a.connections = Some(k);
        b.connections = Some(connections(0, 0));
        // What a server may say: markup, a terminal escape, a line break.
        b.error_messages.insert(
            "status".into(),
            vec!["<script>x</script>\u{1b}[2J\n| `x`".into(), String::new()],
        );
    }
    s.scenarios[1].busy_fraction = f64::NAN;
    for c in &mut s.scenarios[1].cells {
        c.speedup = Some(f64::INFINITY);
        c.operations = 0;
        c.timeline.clear();
    }
    let mut empty = s.scenarios[1].clone();
    empty.cells.clear();
    s.scenarios.push(empty);
    if let Some(b) = &mut s.baseline {
        for c in &mut b.checks {
            c.baseline = f64::NAN;
            c.current = f64::INFINITY;
            c.change = Some(f64::NEG_INFINITY);
        }
    }
    s
}

/// Compares `actual` with `src/report/snapshots/NAME`; `UPDATE_SNAPSHOTS=1 cargo test` rewrites
/// the file after a deliberate change (review the diff).
#[cfg(test)]
pub fn snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{} differs; actual:\n{actual}\n(UPDATE_SNAPSHOTS=1 rewrites it)",
        path.display()
    );
}
