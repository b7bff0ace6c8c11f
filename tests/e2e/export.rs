//! Live export (`--export prometheus=URL`) against the real thing: Debian's Prometheus started
//! on loopback with its remote-write receiver, queried through its HTTP API after the run; and
//! against small servers of the tests' own that refuse, fail or capture what they are sent.
//!
//! Every process started here is stopped by its pid; every port is loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::util;

/// A Prometheus of the test's own: its data in a temporary folder, its remote-write receiver
/// on, stopped (SIGTERM, then SIGKILL, by pid) when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Prometheus {
    fn start() -> Prometheus {
        match Command::new("prometheus").arg("--version").output() {
            Ok(_) => {}
            Err(e) => panic!(
                "prometheus is not installed ({e}): scripts/test.sh installs Debian's package \
                 (apt-get install prometheus)"
            ),
        }
        let data = tempfile::tempdir().expect("temporary folder");
        let config = data.path().join("prometheus.yml");
        std::fs::write(&config, "global: { scrape_interval: 1m }\n").expect("config");
        // A port just free; should another process take it meanwhile, Prometheus exits and we
        // try another.
        for _ in 0..5 {
            let port = util::closed_port();
            let mut child = Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    data.path().join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-remote-write-receiver")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start prometheus");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if get(port, "/-/ready").is_some_and(|(code, _)| code == 200) {
                    return Prometheus {
                        child,
                        port,
                        _data: data,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            util::stop_child(&mut child, libc::SIGTERM, Duration::from_secs(5));
        }
        panic!("prometheus did not become ready on loopback");
    }

    fn write_url(&self) -> String {
        format!("prometheus=http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// Every series `selector` picks, each with all its samples of the last hour (time in
    /// seconds, value).
    fn series(&self, selector: &str) -> Vec<(Value, Vec<(f64, f64)>)> {
        self.query(&format!("{selector}[1h]"))
            .into_iter()
            .map(|r| {
                let samples = r["values"]
                    .as_array()
                    .expect("a matrix")
                    .iter()
                    .map(|v| {
                        let t = v[0].as_f64().expect("time");
                        let x = v[1].as_str().and_then(|x| x.parse().ok()).expect("value");
                        (t, x)
                    })
                    .collect();
                (r["metric"].clone(), samples)
            })
            .collect()
    }

    /// `/api/v1/query?query=…`: the `data.result` array.
    fn query(&self, promql: &str) -> Vec<Value> {
        let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let (code, body) = get(self.port, &format!("/api/v1/query?query={q}"))
            .unwrap_or_else(|| panic!("prometheus did not answer {promql}"));
        assert_eq!(code, 200, "{promql}: {body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        v["data"]["result"].as_array().expect("a result").clone()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        util::stop_child(&mut self.child, libc::SIGTERM, Duration::from_secs(10));
    }
}

/// A plain HTTP/1.0 GET on loopback: the status code and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((code, body.to_string()))
}

/// The label names of a series, sorted.
fn label_names(metric: &Value) -> Vec<String> {
    let mut names: Vec<String> = metric
        .as_object()
        .expect("metric")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// When the summary says a cell began, in seconds since the Unix epoch.
fn cell_start(summary: &Value, cell: &Value) -> f64 {
    let started = summary["started_at"].as_str().expect("started_at");
    let t = humantime::parse_rfc3339_weak(started.trim_end_matches('Z')).expect("RFC 3339");
    t.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        + util::f(&cell["start_offset_seconds"])
}

const PLAN: &str = r#"version: 1
name: live
base: builtin
scenarios:
  - name: steady
    targets: [ "/io?delay=2ms" ]
    duration: 10s
    models: [async]
    concurrency: 4
  - name: mix
    targets: [ { name: hello, url: /hello }, { name: slow, url: "/io?delay=1ms" } ]
    duration: 1s
    models: [threads, processes]
    concurrency: 2
  - name: arrivals
    targets: [ /hello ]
    rate: 50/s
    duration: 1s
    models: [async]
  - name: kernel
    cpu: { kernel: sum_squares, n: 1000 }
    repeat: 300
    models: [sequential]
"#;

#[test]
fn prometheus_holds_every_cell_as_summary_json_counts_it() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().expect("dir");
    let plan = util::write_plan(dir.path(), "live.yaml", PLAN);
    let out = dir.path().join("out");
    let r = util::run_plan_with(
        dir.path(),
        &plan,
        &out,
        &["--export", &prom.write_url()],
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = util::summary(&out, "live");
    let export = &s["export"][0];
    assert_eq!(
        export["url"],
        format!("http://127.0.0.1:{}/api/v1/write", prom.port)
    );
    assert!(util::u(&export["intervals"]) >= 14, "{export}");
    assert_eq!(export["sent"], export["intervals"], "{export}");
    assert_eq!(util::u(&export["dropped"]), 0, "{export}");
    assert!(r.stdout.contains("intervals sent, 0 lost"), "{}", r.stdout);
    let run_id = s["run_id"].as_str().expect("run id");

    // Every cell: its own counter (no request label) ends at its operations, each request's
    // at the request's; every cell's series carry exactly the documented labels.
    let mut checked = 0;
    for sc in s["scenarios"].as_array().expect("scenarios") {
        let name = sc["name"].as_str().expect("name");
        for c in sc["cells"].as_array().expect("cells") {
            let sel = format!(
                r#"run_id="{run_id}",plan="live",scenario="{name}",model="{}",concurrency="{}""#,
                c["model"].as_str().expect("model"),
                c["concurrency"]
            );
            let ops = prom.series(&format!("loadplan_operations_total{{{sel}}}"));
            let requests = c["requests"].as_array().cloned().unwrap_or_default();
            let per_request = name == "mix";
            assert_eq!(ops.len(), if per_request { 3 } else { 1 }, "{sel}: {ops:?}");
            for (metric, samples) in &ops {
                let mut want = vec![
                    "__name__",
                    "concurrency",
                    "model",
                    "plan",
                    "run_id",
                    "scenario",
                ];
                let last = samples.last().map(|(_, v)| *v as u64);
                match metric["request"].as_str() {
                    Some(req) => {
                        want.push("request");
                        let summary_ops = requests
                            .iter()
                            .find(|q| q["name"] == req)
                            .map(|q| util::u(&q["operations"]));
                        assert_eq!(last, summary_ops, "{sel} request {req}");
                    }
                    None => assert_eq!(last, Some(util::u(&c["operations"])), "{sel}"),
                }
                want.sort_unstable();
                assert_eq!(label_names(metric), want, "{sel}");
                let values: Vec<f64> = samples.iter().map(|(_, v)| *v).collect();
                assert!(
                    values.windows(2).all(|w| w[0] <= w[1]),
                    "{sel}: a counter went back"
                );
            }
            let categories = prom.query(&format!(
                r#"count by (category) (loadplan_errors_total{{{sel},request=""}})"#
            ));
            assert_eq!(
                categories.len(),
                util::ERROR_CATEGORIES.len(),
                "{sel}: every error category, zeros included"
            );
            for gauge in [
                "loadplan_throughput_per_second",
                "loadplan_interval_latency_seconds",
            ] {
                let g = prom.series(&format!(r#"{gauge}{{{sel},request=""}}"#));
                assert!(!g.is_empty(), "{sel}: no {gauge}");
            }
            let conns = prom.series(&format!("loadplan_connections_opened_total{{{sel}}}"));
            let last = conns
                .first()
                .and_then(|(_, s)| s.last())
                .map(|(_, v)| *v as u64);
            assert_eq!(
                last,
                c["connections"]["opened"].as_u64(),
                "{sel}: connections"
            );
            let lag = prom.series(&format!("loadplan_send_lag_seconds{{{sel}}}"));
            assert_eq!(
                !lag.is_empty(),
                name == "arrivals",
                "{sel}: send lag only when open"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 5);

    // The 10 s cell: a p99 for every second of it. Its measured phase ends with its last push
    // and lasted `wall_seconds`.
    let steady = &util::cells(&s, "steady")[0];
    let wall = util::f(&steady["wall_seconds"]);
    assert!(wall >= 10.0, "{wall}");
    let p99 = prom.series(&format!(
        r#"loadplan_interval_latency_seconds{{run_id="{run_id}",scenario="steady",quantile="0.99",request=""}}"#
    ));
    assert_eq!(p99.len(), 1);
    let stamps: Vec<f64> = p99[0].1.iter().map(|(t, _)| *t).collect();
    let end = stamps.last().copied().expect("samples");
    let start = end - wall;
    assert!(start >= cell_start(&s, steady), "{stamps:?}");
    for k in 0..10 {
        let (from, to) = (start + f64::from(k), start + f64::from(k) + 1.0);
        assert!(
            stamps.iter().any(|t| *t > from && *t <= to + 0.25),
            "no p99 sample in second {k} of the cell ({from}..{to}): {stamps:?}"
        );
    }

    // Rounds: one series per cell, counting on from round to round to the pooled operations.
    let plan = util::write_plan(
        dir.path(),
        "kernel.yaml",
        "version: 1\nname: live\nscenarios:\n  - name: kernel\n    cpu: { kernel: sum_squares, n: 1000 }\n    repeat: 300\n    models: [sequential]\n",
    );
    let rounds = dir.path().join("rounds");
    let args = ["--rounds", "3", "--export", &prom.write_url()];
    let r = util::loadplan(
        dir.path(),
        &[
            &[
                "run",
                util::path_str(&plan),
                "--out",
                util::path_str(&rounds),
            ][..],
            &args,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = util::summary(&rounds, "live");
    let ops = prom.series(&format!(
        r#"loadplan_operations_total{{run_id="{}",scenario="kernel"}}"#,
        s["run_id"].as_str().expect("run id")
    ));
    assert_eq!(ops.len(), 1, "{ops:?}");
    let last = ops[0].1.last().map(|(_, v)| *v as u64);
    assert_eq!(
        last,
        Some(util::u(
            &util::cell(&s, "kernel", "sequential")["operations"]
        ))
    );
    assert_eq!(last, Some(900));

    // A shard's series say which shard they are, so that a query sums the shards.
    let results = dir.path().join("shard.json");
    let args = ["--shard", "1/2", "--results", util::path_str(&results)];
    let r = util::loadplan(
        dir.path(),
        &[
            &["run", util::path_str(&plan), "--export", &prom.write_url()][..],
            &args,
        ]
        .concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shard = prom.series(r#"loadplan_operations_total{scenario="kernel",shard="1/2"}"#);
    assert_eq!(shard.len(), 1, "{shard:?}");
    assert_eq!(shard[0].1.last().map(|(_, v)| *v as u64), Some(300));
    assert!(r.stdout.contains("intervals sent, 0 lost"), "{}", r.stdout);
}

/// A server on loopback answering every request with `status` after reading it whole, each
/// request's head kept. Runs until the test ends (its thread blocks in accept).
struct Endpoint {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Endpoint {
    fn start(status: &'static str) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&heads);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || answer(conn, status, &kept));
            }
        });
        Endpoint { port, heads }
    }

    fn url(&self, userinfo: &str, query: &str) -> String {
        format!(
            "prometheus=http://{userinfo}127.0.0.1:{}/api/v1/write{query}",
            self.port
        )
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }
}

/// Answers each request of one connection (keep-alive) with `status`.
fn answer(conn: TcpStream, status: &str, heads: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0usize);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        heads.lock().expect("heads").push(head);
        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
        if conn.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

const COUNTED: &str = r#"version: 1
name: faults
base: builtin
scenarios:
  - name: counted
    targets: [ /hello ]
    repeat: 400
    models: [async]
    concurrency: 2
  - name: timed
    targets: [ "/io?delay=1ms" ]
    duration: 3s
    models: [async]
    concurrency: 2
"#;

/// `loadplan run` of `plan` with `args` and `envs`, and how long it took.
fn timed_run(
    dir: &Path,
    plan: &Path,
    out: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (util::Output, PathBuf, Duration) {
    let out = dir.join(out);
    let mut all = vec!["run", util::path_str(plan), "--out", util::path_str(&out)];
    all.extend(args);
    let began = Instant::now();
    let r = util::loadplan_in(dir, &all, envs, Duration::from_secs(60));
    (r, out, began.elapsed())
}

#[test]
fn a_dead_or_failing_endpoint_neither_slows_nor_changes_the_run_and_the_loss_is_reported() {
    let dir = tempfile::tempdir().expect("dir");
    let plan = util::write_plan(dir.path(), "faults.yaml", COUNTED);
    let failing = Endpoint::start("500 Internal Server Error");
    let closed = format!(
        "prometheus=http://127.0.0.1:{}/api/v1/write",
        util::closed_port()
    );
    let (plain, plain_out, plain_took) = timed_run(dir.path(), &plan, "plain", &[], &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let (r, out, took) = timed_run(
        dir.path(),
        &plan,
        "exported",
        &["--export", &closed, "--export", &failing.url("", "")],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        took < plain_took + Duration::from_millis(1500),
        "with dead endpoints the run took {took:?}, without {plain_took:?}"
    );
    let (base, s) = (
        util::summary(&plain_out, "faults"),
        util::summary(&out, "faults"),
    );
    assert!(base.get("export").is_none(), "no export, no field");
    let counted = (
        util::cell(&base, "counted", "async"),
        util::cell(&s, "counted", "async"),
    );
    for field in ["operations", "successes"] {
        assert_eq!(counted.0[field], counted.1[field], "{field}");
    }
    let timed = util::f(&util::cell(&s, "timed", "async")["wall_seconds"]);
    assert!((3.0..3.5).contains(&timed), "the timed cell ran {timed} s");
    let exports = s["export"].as_array().expect("export");
    assert_eq!(exports.len(), 2);
    for (e, error) in exports.iter().zip(["connect", "status 500"]) {
        let intervals = util::u(&e["intervals"]);
        assert!(intervals >= 3, "{e}");
        assert_eq!(util::u(&e["sent"]), 0, "{e}");
        assert_eq!(util::u(&e["dropped"]), intervals, "{e}");
        assert!(util::u(&e["retried"]) >= 1, "{e}");
        let last = e["last_error"].as_str().expect("last error");
        assert!(last.contains(error), "{e}");
        let line = format!(
            "{}: 0 of {intervals} intervals sent, {intervals} lost",
            e["url"].as_str().expect("url")
        );
        assert!(r.stdout.contains(&line), "{line}\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains("WARNING: Live export lost intervals."),
        "{}",
        r.stdout
    );
    let md = std::fs::read_to_string(util::run_dir(&out, "faults").join("summary.md")).expect("md");
    assert!(md.contains("Live export lost intervals."), "{md}");
    // Remote write's headers reached the failing endpoint on every attempt.
    let heads = failing.heads();
    assert!(
        heads.len() as u64 >= util::u(&exports[1]["retried"]),
        "{heads:?}"
    );
    for h in &heads {
        let h = h.to_ascii_lowercase();
        for want in [
            "post /api/v1/write http/1.1",
            "content-encoding: snappy",
            "content-type: application/x-protobuf",
            "x-prometheus-remote-write-version: 0.1.0",
            "user-agent: loadplan/",
        ] {
            assert!(h.contains(want), "{want} not in {h}");
        }
    }
}

#[test]
fn a_bearer_token_reaches_the_endpoint_and_no_output() {
    let dir = tempfile::tempdir().expect("dir");
    let plan = util::write_plan(
        dir.path(),
        "secret.yaml",
        "version: 1\nname: secret\nbase: builtin\nscenarios:\n  - name: s\n    targets: [ /hello ]\n    duration: 2s\n    models: [async]\n",
    );
    let capture = Endpoint::start("204 No Content");
    let secrets = ["bearer-e2e-7f3a", "url-password-91c2", "query-key-5d0e"];
    let url = capture.url("someone:url-password-91c2@", "?key=query-key-5d0e");
    let envs = [
        ("LOADPLAN_EXPORT_BEARER", secrets[0]),
        ("LOADPLAN_EXPORT", url.as_str()),
    ];
    let (r, out, _) = timed_run(dir.path(), &plan, "out", &[], &envs);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let heads = capture.heads();
    assert!(heads.len() >= 2, "{heads:?}");
    for h in &heads {
        assert!(
            h.contains(&format!("authorization: Bearer {}", secrets[0])),
            "{h}"
        );
        assert!(h.contains("POST /api/v1/write?key=query-key-5d0e "), "{h}");
    }
    let s = util::summary(&out, "secret");
    assert_eq!(s["export"][0]["dropped"], 0, "{}", s["export"]);
    // Not in the console, not in any file of the report, not in --help.
    let help = util::loadplan_in(
        dir.path(),
        &["run", "--help"],
        &envs,
        Duration::from_secs(10),
    );
    let mut texts = vec![r.stdout.clone(), r.stderr.clone(), help.stdout, help.stderr];
    for entry in std::fs::read_dir(util::run_dir(&out, "secret")).expect("run folder") {
        let path = entry.expect("entry").path();
        texts.push(String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned());
    }
    for secret in secrets {
        for t in &texts {
            assert!(!t.contains(secret), "{secret} shown");
        }
    }
    assert!(
        r.stdout
            .contains(&format!("http://127.0.0.1:{}/api/v1/write:", capture.port))
    );
}

/// A 60 s run pushing ten intervals a second to a closed port: the queue fills (300 intervals)
/// after 30 s, then drops the oldest; the runner's memory stays flat. Slow: `cargo test --test e2e export::memory -- --ignored --nocapture`.
#[test]
#[ignore = "runs for a minute"]
fn memory_stays_flat_with_the_endpoint_down_for_a_minute() {
    let dir = tempfile::tempdir().expect("dir");
    let plan = util::write_plan(
        dir.path(),
        "long.yaml",
        "version: 1\nname: long\nbase: builtin\nscenarios:\n  - name: s\n    targets: [ \"/io?delay=1ms\" ]\n    duration: 60s\n    models: [async]\n    concurrency: 8\n",
    );
    let closed = format!(
        "prometheus=http://127.0.0.1:{}/api/v1/write",
        util::closed_port()
    );
    let mut child = Command::new(util::bin())
        .args(["run", util::path_str(&plan), "--out"])
        .arg(dir.path().join("out"))
        .args(["--quiet", "--export", &closed, "--export-interval", "100ms"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loadplan");
    let status = format!("/proc/{}/status", child.id());
    let rss = || {
        std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    };
    let mut samples = Vec::new();
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(75) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if let Some(kb) = rss() {
            samples.push((began.elapsed().as_secs(), kb));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    util::stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
    let at = |s: u64| samples.iter().find(|(t, _)| *t >= s).map(|(_, kb)| *kb);
    let (early, late) = (at(15).expect("15 s"), at(58).expect("58 s"));
    eprintln!("VmRSS (kB) by second: {samples:?}\nfrom 15 s to 58 s: {early} → {late}");
    assert!(
        late < early + 2048,
        "memory grew from {early} kB to {late} kB"
    );
}

/// Issue 25: latency as a histogram that adds across shards. Two shards of one plan push to
/// Debian's Prometheus side by side; `histogram_quantile(0.99, sum by (le) (rate(…)))` lands
/// within one bucket of the merged report's p99, and the histogram's count, the responses by
/// status and the bytes, summed over shards, are the merged cell's.
#[test]
fn latency_histograms_add_up_across_shards() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().expect("dir");
    let plan = util::write_plan(
        dir.path(),
        "hist.yaml",
        "version: 1\nname: hist\nbase: builtin\nscenarios:\n  - name: mixed\n    targets: [ \"/io?delay=1ms\", \"/io?delay=3ms\", \"/io?delay=12ms\", \"/io?delay=40ms\" ]\n    duration: 3s\n    models: [async]\n    concurrency: 4\n    thresholds: [ \"p99 over 1s < 10s\" ]\n",
    );
    let write = prom.write_url();
    let files = util::run_shards_together(
        dir.path(),
        &plan,
        2,
        &[1, 2],
        &["--export", &write, "--export-interval", "250ms"],
    );
    let s = util::merge_shards(dir.path(), &files, "hist");
    let c = util::cell(&s, "mixed", "async");
    let p99_s = util::f(&c["latency_us"]["p99"]) / 1e6;
    // A windowed threshold is checked on the merged shards' per-second timeline.
    let w = &c["thresholds"][0];
    assert_eq!(w["passed"], true, "{w}");
    assert!(util::u(&w["windows"]["checked"]) >= 3, "{w}");

    let one = |promql: &str| -> f64 {
        let r = prom.query(promql);
        assert_eq!(r.len(), 1, "{promql}: {r:?}");
        r[0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{promql}: {r:?}"))
    };
    let sel = r#"plan="hist",scenario="mixed",request="""#;
    let q = one(&format!(
        "histogram_quantile(0.99, sum by (le) (rate(loadplan_latency_seconds_bucket{{{sel}}}[1h])))"
    ));
    // The bounds as the README documents them: a value's bucket is the first bound at or above.
    let bounds = [
        0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
        5.0, 10.0, 20.0, 30.0, 60.0,
    ];
    let bucket = |x: f64| {
        bounds
            .iter()
            .position(|le| x <= *le)
            .unwrap_or(bounds.len())
    };
    eprintln!("p99: Prometheus {q} s over both shards, the merged report {p99_s} s");
    assert!(
        bucket(q).abs_diff(bucket(p99_s)) <= 1,
        "Prometheus p99 {q} s, the merged report's {p99_s} s"
    );
    // Both shards pushed; every operation is in the histogram once.
    let shards = prom.query(&format!(
        "count by (shard) (loadplan_latency_seconds_count{{{sel}}})"
    ));
    assert_eq!(shards.len(), 2, "{shards:?}");
    let last =
        |name: &str, extra: &str| one(&format!("sum(last_over_time({name}{{{sel}{extra}}}[1h]))"));
    let ops = util::u(&c["operations"]) as f64;
    assert_eq!(last("loadplan_latency_seconds_count", ""), ops);
    assert_eq!(
        last("loadplan_latency_seconds_bucket", r#",le="+Inf""#),
        ops
    );
    assert_eq!(last("loadplan_responses_total", r#",status="200""#), ops);
    assert_eq!(
        last("loadplan_bytes_received_total", ""),
        util::u(&c["bytes"]) as f64
    );
    let sum_s = last("loadplan_latency_seconds_sum", "");
    let mean_s = util::f(&c["latency_us"]["mean"]) / 1e6;
    assert!(
        (sum_s / ops - mean_s).abs() <= mean_s * 0.01,
        "{sum_s} over {ops}: {mean_s}"
    );
    // Each shard runs half of the cell's 4 users.
    let users = prom.query(r#"last_over_time(loadplan_active_users{plan="hist"}[1h])"#);
    assert_eq!(users.len(), 2, "{users:?}");
    assert_eq!(
        one(r#"sum(last_over_time(loadplan_active_users{plan="hist"}[1h]))"#),
        4.0
    );
}

/// The Grafana dashboard in deploy/ reads only series loadplan pushes, and its latency from the
/// histogram summed over shards (`histogram_quantile` over `sum by (le, …)`), never from the
/// per-process quantile gauges.
#[test]
fn the_grafana_dashboard_aggregates_shards_through_the_histogram() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/loadplan-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let exprs: Vec<String> = v["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().expect("targets").clone())
        .map(|t| t["expr"].as_str().expect("expr").to_string())
        .collect();
    assert!(exprs.len() >= 6, "{exprs:?}");
    let pushed = [
        "loadplan_latency_seconds_bucket",
        "loadplan_operations_total",
        "loadplan_errors_total",
        "loadplan_active_users",
        "loadplan_responses_total",
        "loadplan_bytes_received_total",
    ];
    for e in &exprs {
        let names: Vec<&str> = e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("loadplan_"))
            .collect();
        assert!(!names.is_empty(), "{e}");
        for n in names {
            assert!(
                pushed.contains(&n),
                "{e}: `{n}` is not a series loadplan pushes"
            );
        }
        if e.contains("loadplan_latency_seconds_bucket") {
            assert!(
                e.starts_with("histogram_quantile(") && e.contains("sum by (le, "),
                "{e}"
            );
        }
    }
    assert!(
        exprs
            .iter()
            .any(|e| e.starts_with("histogram_quantile(0.99, sum by (le, ")),
        "{exprs:?}"
    );
}
