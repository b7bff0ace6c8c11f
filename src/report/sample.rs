//! A small but complete summary, built by hand: the trial render of a template folder uses it
//! (every list a template loops over is non-empty), and the renderers' tests start from it.
//!
//! Input: nothing. Output: a [`Summary`] of two scenarios (I/O and CPU) of three cells each,
//! run in three rounds, with errors and their messages, connections, two named requests (a
//! flow's steps) and think time (HTTP cells), machine checks that flag a slowed cell beside
//! other load (CPU cells), thresholds (one of them per request), a baseline with a check
//! within noise, and CI metadata. Must not depend on the clock or the
//! machine: the same summary every time, so renders of it can be compared byte for byte.
//! For tests also: [`hostile`], a summary of every number a renderer must survive, and
//! [`snapshot`], which compares a render with a file in `src/report/snapshots/`.

use crate::plan::Model;
use crate::stats::{
    BaselineCheck, BaselineReport, BaselineRun, Bound, CellSummary, CiInfo, ConnectionsSummary,
    FlagKind, Host, LatencySummary, MachineCheck, MachineFlag, MachineSample, Outcome,
    PercentileInterval, PlanInfo, RequestSummary, RoundsSummary, ScenarioSummary, Spread, Summary,
    ThresholdResult, TimelinePoint, Timestamp, Verdict, histogram_to_base64, new_histogram,
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
        retried: 0,
        status_codes: [("200".to_string(), 4 - errors), ("503".to_string(), errors)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect(),
        error_rate: errors as f64 / 4.0,
        bytes: 64,
        wall_seconds: 0.5 / speedup,
        throughput_per_s: 8.0 * speedup,
        attempts_per_s: 8.0 * speedup,
        requests_per_s: None,
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
            percentiles: Default::default(),
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
            windows: None,
        }],
        timeline: vec![TimelinePoint {
            error_kinds: Default::default(),
            requests: None,
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
        capacity: None,
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
        rounds: Some(rounds(8.0 * speedup, speedup, errors as f64 / 4.0)),
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
            cell(Model::BASELINE, 1, 1.0, 0),
            cell(Model::DEFAULT, 2, 1.8, 1),
            cell(Model::DEFAULT, 4, 3.0, 0),
        ]
        .into_iter()
        .map(|mut c| {
            if kind == Bound::Cpu {
                // A CPU kernel opens no connection, and runs no flow.
                c.connections = None;
                if c.model == Model::DEFAULT && c.concurrency == 2 {
                    c.machine = slowed();
                }
            } else {
                c.requests = flow_steps(&c, &h);
                c.think_us = Some(steady(4, 10_000));
                c.thresholds.push(ThresholdResult {
                    expression: "p99{request=login} < 250ms".into(),
                    observed: Some(2_000.0),
                    passed: true,
                    limit: 250_000.0,
                    unit: "us".into(),
                    observed_text: "2.00ms".into(),
                    windows: None,
                });
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
            effective: Vec::new(),
        },
        groups: Vec::new(),
        once: Vec::new(),
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
            runs: vec![BaselineRun {
                file: "baseline/summary.json".into(),
                run_id: "earlier".into(),
                started_at: at(1_767_139_200),
            }],
            alpha: 0.05,
            checks: vec![
                BaselineCheck {
                    scenario: "sample".into(),
                    model: Model::DEFAULT,
                    concurrency: 2,
                    workers: 1,
                    metric: "p99".into(),
                    baseline: 40_000.0,
                    current: 52_000.0,
                    change: Some(0.3),
                    outcome: Outcome::Regressed,
                    passed: false,
                    tolerance: 0.1,
                    baseline_values: vec![40_000.0, 39_000.0, 41_000.0],
                    current_values: vec![52_000.0, 51_000.0, 53_000.0],
                    current_interval: Some(PercentileInterval {
                        low: 50_000.0,
                        high: 55_000.0,
                        confidence: 0.95,
                        count: 1_000,
                        upper_is_max: false,
                    }),
                    change_low: Some(0.22),
                    change_high: Some(0.38),
                    p_value: Some(0.0004),
                    alpha: Some(0.01),
                    detectable: Some(46_000.0),
                    detectable_change: Some(0.15),
                    reason: None,
                    noise: None,
                },
                BaselineCheck {
                    scenario: "sample".into(),
                    model: Model::DEFAULT,
                    concurrency: 2,
                    workers: 1,
                    metric: "throughput_per_s".into(),
                    baseline: 17.0,
                    current: 14.4,
                    change: Some(-0.153),
                    outcome: Outcome::Inconclusive,
                    passed: true,
                    tolerance: 0.1,
                    baseline_values: vec![17.0, 15.0, 19.0],
                    current_values: vec![14.4, 17.5, 12.0],
                    current_interval: None,
                    change_low: Some(-0.4),
                    change_high: Some(0.1),
                    p_value: Some(0.21),
                    alpha: Some(0.0125),
                    detectable: Some(9.8),
                    detectable_change: Some(-0.42),
                    reason: Some("beyond the tolerance, but not beyond the noise".into()),
                    noise: None,
                },
            ],
            missing_in_baseline: vec!["sample · async c=4 w=1".into()],
            missing_in_run: vec!["sample · threads c=2".into()],
        }),
        validity: Vec::new(),
        export: Vec::new(),
    }
}

/// A figure over three rounds: `values`, their median and range.
fn spread(values: [f64; 3]) -> Spread {
    let mut sorted = values;
    sorted.sort_by(f64::total_cmp);
    Spread {
        median: sorted[1],
        min: sorted[0],
        max: sorted[2],
        values: values.to_vec(),
    }
}

/// Three rounds around a cell's `throughput`, `speedup` and `error_rate`: the throughput and
/// speedup spread over ±10%, p50 and p99 move, the rest held.
fn rounds(throughput: f64, speedup: f64, error_rate: f64) -> RoundsSummary {
    let around = |v: f64| spread([v * 0.9, v * 1.1, v]);
    let held = |v: f64| spread([v, v, v]);
    RoundsSummary {
        count: 3,
        throughput_per_s: around(throughput),
        attempts_per_s: around(throughput),
        error_rate: spread([error_rate, 0.0, 0.0]),
        // Sequential against itself is 1× in every round.
        speedup: Some(if speedup == 1.0 {
            held(1.0)
        } else {
            around(speedup)
        }),
        p50_us: spread([1_100.0, 1_300.0, 1_200.0]),
        p90_us: held(52_000.0),
        p99_us: spread([48_000.0, 52_000.0, 52_000.0]),
        cores_busy: held(0.02),
        wall_seconds: held(0.5 / speedup / 3.0),
        cpu_us_per_op: None,
    }
}

/// `count` values of `us` each.
fn steady(count: u64, us: u64) -> LatencySummary {
    LatencySummary {
        count,
        min: us,
        mean: us as f64,
        p50: us,
        p90: us,
        p99: us,
        p999: us,
        max: us,
        stdev: 0.0,
        percentiles: Default::default(),
    }
}

/// A flow's two steps in cell `c`: `login` (fast, 401 for the cell's failed iterations) and
/// `item` (slow, sent only after a login that succeeded).
fn flow_steps(c: &CellSummary, h: &hdrhistogram::Histogram<u64>) -> Vec<RequestSummary> {
    let failed = c.operations - c.successes;
    let step = |name: &str, operations: u64, errors: u64, us: u64, bytes: u64| RequestSummary {
        name: name.into(),
        operations,
        successes: operations - errors,
        errors: [("status".to_string(), errors)].into_iter().collect(),
        retried: 0,
        error_rate: if operations == 0 {
            0.0
        } else {
            errors as f64 / operations as f64
        },
        status_codes: [
            ("200".to_string(), operations - errors),
            ("401".to_string(), errors),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect(),
        error_messages: if errors == 0 {
            Default::default()
        } else {
            [("status".to_string(), vec!["status 401".to_string()])]
                .into_iter()
                .collect()
        },
        bytes,
        latency_us: steady(operations, us),
        histogram: histogram_to_base64(h),
        timeline: vec![TimelinePoint {
            error_kinds: Default::default(),
            requests: None,
            seconds: 1.0,
            second: 0,
            operations,
            errors,
            bytes,
            p50_us: us,
            p99_us: us,
            max_us: us,
            in_flight: 0.0,
            histogram: String::new(),
        }],
    };
    vec![
        step("login", c.operations, failed, 2_000, 44 * c.operations),
        step("item", c.successes, 0, 12_000, 16 * c.successes),
    ]
}

/// A cell of a CPU kernel that ran on a slower CPU while other load kept a core busy.
fn slowed() -> MachineCheck {
    MachineCheck {
        cpu_us_per_op: Some(2_500.0),
        cpu_per_op_vs_sequential: Some(1.6),
        sample: Some(MachineSample {
            wall_seconds: 0.28,
            busy_seconds: 0.56,
            steal_seconds: 0.0,
            runner_cpu_seconds: 0.01,
            target_cpu_seconds: None,
        }),
        other_seconds: Some(0.55),
        other_share: Some(0.98),
        other_cores: Some(1.96),
        steal_share: Some(0.0),
        too_short: false,
        flags: vec![
            MachineFlag {
                kind: FlagKind::SlowerCpu,
                message: "the CPU was slower here (other load, frequency scaling, or SMT siblings): this speedup understates the model (2.50ms of CPU per operation against 1.56ms in the sequential cell, +60%)".into(),
            },
            MachineFlag {
                kind: FlagKind::OtherLoad,
                message: "other load kept 1.96 cores busy during this cell (98.0% of the machine's busy time was not loadplan's: other processes, or a target running on this machine): figures that need free cores understate the model".into(),
            },
        ],
    }
}

/// The gate's default rule failing cell `c` by its errors, as `gate::evaluate` records it when
/// no `error_rate` threshold covers the cell.
#[cfg(test)]
pub fn error_rule(c: &CellSummary) -> ThresholdResult {
    let errors: u64 = c.errors.values().sum();
    ThresholdResult {
        expression: crate::gate::DEFAULT_ERROR_RULE.into(),
        observed: Some(errors as f64),
        passed: false,
        limit: 0.0,
        unit: "errors".into(),
        observed_text: format!(
            "{errors} of {} operations failed; add e.g. `error_rate < 5%` to accept some",
            c.operations
        ),
        windows: None,
    }
}

/// A healthy run whose first cell failed every one of its 10 operations with `kind` (its first
/// message `message`), no threshold covering them: the gate's default rule failed it.
#[cfg(test)]
pub fn failed_by_errors(kind: &str, message: &str) -> Summary {
    let mut s = healthy();
    s.verdict = Verdict::Failed;
    s.baseline = None;
    let c = &mut s.scenarios[0].cells[0];
    c.operations = 10;
    c.successes = 0;
    c.error_rate = 1.0;
    c.errors.insert(kind.into(), 10);
    c.error_messages.insert(kind.into(), vec![message.into()]);
    c.thresholds.push(error_rule(c));
    s
}

/// Rounds whose every figure took `values`, for tests.
#[cfg(test)]
pub fn rounds_of(values: &[f64]) -> RoundsSummary {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let spread = Spread {
        median: crate::stats::rounds_median(values).unwrap_or(0.0),
        min: finite.clone().fold(f64::INFINITY, f64::min),
        max: finite.fold(f64::NEG_INFINITY, f64::max),
        values: values.to_vec(),
    };
    RoundsSummary {
        count: values.len(),
        throughput_per_s: spread.clone(),
        attempts_per_s: spread.clone(),
        error_rate: spread.clone(),
        speedup: Some(spread.clone()),
        p50_us: spread.clone(),
        p90_us: spread.clone(),
        p99_us: spread.clone(),
        cores_busy: spread.clone(),
        wall_seconds: spread,
        cpu_us_per_op: None,
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
        percentiles: Default::default(),
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
        streamed: 0,
        events: 0,
        first_event_us: LatencySummary::default(),
        event_gap_us: LatencySummary::default(),
        upgrade_us: LatencySummary::default(),
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
        c.machine = MachineCheck::default();
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
