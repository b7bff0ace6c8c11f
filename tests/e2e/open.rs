//! The open model end to end: a stalled target shows in the corrected latency and not in the
//! uncorrected one; an unreachable rate drops arrivals visibly and ends on time; stages of rate
//! and of users shape the per-second timeline.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{self, cell, loadplan_in, summary, u, write_plan};

use super::util::path_str as s;

/// `loadplan serve` on port 0, as a process of its own the test can stop and resume.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(util::bin())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server says where it listens");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("address line")
            .to_string();
        Server { child, url }
    }

    fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // Our own child, which is not reaped before Drop.
        super::util::kill(pid, sig).expect("signal");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Resume it first in case the test failed while it was stopped.
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_stall_shows_in_corrected_latency_only() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "stall.yaml",
        &format!(
            "version: 1\nname: stall\nbase: {}\nscenarios:\n  - name: steady\n    targets: [/hello]\n    rate: 200/s\n    duration: 5s\n    concurrency: 4\n    timeout: 5s\n    models: [async]\n",
            server.url
        ),
    );
    let out = dir.path().join("out");
    let (plan_s, out_s) = (s(&plan).to_string(), s(&out).to_string());
    let run = std::thread::spawn(move || {
        loadplan_in(
            Path::new("/"),
            &["run", &plan_s, "--out", &out_s],
            &[],
            Duration::from_secs(40),
        )
    });
    // Stop the target for one second, two seconds into the five.
    std::thread::sleep(Duration::from_secs(2));
    server.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(1));
    server.signal(libc::SIGCONT);
    let r = run.join().expect("run thread");
    assert_eq!(r.code, 0, "{r:?}");
    let sum = summary(&out, "stall");
    let c = cell(&sum, "steady", "async");
    let open = &c["open"];
    assert_eq!(u(&open["scheduled"]), 1000);
    assert_eq!(
        u(&open["dropped"]),
        0,
        "the queue absorbs a one-second stall"
    );
    assert_eq!(u(&c["operations"]), 1000);
    let corrected_p99 = u(&c["latency_us"]["p99"]);
    let uncorrected_p99 = u(&open["latency_uncorrected_us"]["p99"]);
    // About a fifth of the arrivals fall in the stall and wait up to a second for it to end.
    assert!(
        corrected_p99 > 500_000,
        "corrected p99 {corrected_p99} µs reflects the 1 s stall"
    );
    // Only the 4 requests in flight when it began saw it from their own send: 0.4% of them.
    assert!(
        uncorrected_p99 < 200_000,
        "uncorrected p99 {uncorrected_p99} µs hides it"
    );
    assert!(
        u(&open["send_lag_us"]["max"]) > 500_000,
        "sends were late during the stall"
    );
    // The report shows both latencies side by side.
    let html =
        std::fs::read_to_string(util::run_dir(&out, "stall").join("index.html")).expect("html");
    assert!(
        html.contains("Open model: the schedule, and coordinated omission"),
        "open-model table"
    );
    assert!(html.contains("uncorrected p99"));
}

#[test]
fn an_unreachable_rate_is_reported_not_hung() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "overload.yaml",
        r#"version: 1
name: overload
base: builtin
scenarios:
  - name: flood
    targets: ["/io?delay=50ms"]
    rate: 5000/s
    duration: 2s
    concurrency: 4
    max_in_flight: 20
    timeout: 1s
    models: [async, threads]
"#,
    );
    let out = dir.path().join("out");
    let began = Instant::now();
    let r = util::run_plan(dir.path(), &plan, &out);
    // Dropped arrivals: the run did not measure the rate it asked for.
    assert_eq!(r.code, 4, "{r:?}");
    assert!(began.elapsed() < Duration::from_secs(30), "ends on time");
    let sum = summary(&out, "overload");
    for model in ["async", "threads"] {
        let c = cell(&sum, "flood", model);
        let o = &c["open"];
        assert_eq!(u(&o["scheduled"]), 10_000, "{model}");
        let dropped = u(&o["dropped"]);
        // 4 users at 50 ms carry about 80/s: nearly everything is dropped, and counted.
        assert!(dropped > 9_000, "{model}: {dropped} dropped");
        assert_eq!(
            u(&c["operations"]) + dropped,
            10_000,
            "{model}: nothing skipped silently"
        );
        assert_eq!(o["rate_not_reached"], true, "{model}");
        let achieved = o["achieved_rate_per_s"].as_f64().expect("rate");
        assert!(
            achieved < 500.0,
            "{model}: an honest achieved rate, {achieved}/s"
        );
    }
    assert!(
        r.stdout.contains("WARNING: the rate was not kept"),
        "{}",
        r.stdout
    );
    let html =
        std::fs::read_to_string(util::run_dir(&out, "overload").join("index.html")).expect("html");
    assert!(html.contains("the rate was not kept"), "the report warns");
}

#[test]
fn stages_shape_the_timeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "stages.yaml",
        r#"version: 1
name: stages
base: builtin
scenarios:
  - name: step-rate
    targets: [/hello]
    rate: 50/s
    stages: [{duration: 2s, rate: 50/s}, {duration: 0s, rate: 200/s}, {duration: 2s, rate: 200/s}]
    concurrency: 4
    models: [async]
  - name: step-users
    targets: ["/io?delay=20ms"]
    stages: [{duration: 0s, concurrency: 1}, {duration: 2s, concurrency: 1}, {duration: 0s, concurrency: 4}, {duration: 2s, concurrency: 4}]
    models: [threads]
"#,
    );
    let sum = util::run_passing(dir.path(), &plan, "stages");
    let per_second = |c: &serde_json::Value| -> Vec<u64> {
        let mut v = vec![0u64; 4];
        for p in c["timeline"].as_array().expect("timeline") {
            let sec = u(&p["second"]) as usize;
            if sec < 4 {
                v[sec] += u(&p["operations"]);
            }
        }
        v
    };
    let within = |got: u64, want: f64, what: &str| {
        assert!(
            (got as f64 - want).abs() <= want * 0.3,
            "{what}: {got} operations where about {want} are planned"
        );
    };
    let rate = per_second(cell(&sum, "step-rate", "async"));
    assert_eq!(
        u(&cell(&sum, "step-rate", "async")["open"]["scheduled"]),
        500
    );
    within(rate[0], 50.0, "rate second 0");
    within(rate[1], 50.0, "rate second 1");
    within(rate[2], 200.0, "rate second 2");
    within(rate[3], 200.0, "rate second 3");
    // One user waiting 20 ms does about 48 a second; four do about 190.
    let users = per_second(cell(&sum, "step-users", "threads"));
    within(users[0], 48.0, "users second 0");
    within(users[2], 190.0, "users second 2");
    within(users[3], 190.0, "users second 3");
}

#[test]
fn warmup_by_time_is_run_but_not_measured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(
        dir.path(),
        "warm.yaml",
        r#"version: 1
name: warm
base: builtin
# What is tested is the warm-up; on a machine busy with other work the pacer may fall behind,
# which the validity rule would rightly call invalid.
validity: { generator_saturated: warn }
scenarios:
  - name: closed
    targets: ["/io?delay=20ms"]
    duration: 600ms
    warmup: 600ms
    concurrency: 2
    models: [sequential, async, processes]
  - name: open
    targets: [/hello]
    rate: 100/s
    duration: 1s
    warmup: 1s
    concurrency: 2
    models: [async]
"#,
    );
    let sum = util::run_passing(dir.path(), &plan, "warm");
    for model in ["sequential", "async", "processes"] {
        let c = cell(&sum, "closed", model);
        let wall = c["wall_seconds"].as_f64().expect("wall");
        // Measured: 600 ms, not the 1.2 s the warm-up adds.
        assert!((0.55..1.0).contains(&wall), "{model}: wall {wall}");
        let users = if model == "sequential" { 1.0 } else { 2.0 };
        let most = users * 0.6 / 0.020 * 1.2;
        assert!(
            (u(&c["operations"]) as f64) < most,
            "{model}: {} operations",
            c["operations"]
        );
    }
    let o = cell(&sum, "open", "async");
    assert_eq!(
        u(&o["open"]["scheduled"]),
        100,
        "the warm-up's arrivals are not counted"
    );
    assert_eq!(u(&o["operations"]), 100);
}
