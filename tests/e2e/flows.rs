//! Flows end to end against a server loadplan did not write: a small Python API (standard
//! library only) with a login that hands out tokens, items behind them, and a log of every
//! request it served. The server's own log proves what loadplan says it did: which users logged
//! in, with which tokens the items were fetched, that a failed capture sends nothing further,
//! and that no secret (environment, data file, captured token) reaches any output.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::util::{self, every_cell, f, u};

/// The API: `POST /login {user, password}` → `{"token": …}` for a user of `users.csv` with its
/// password, 401 otherwise; `GET /items/<id>` (Bearer token) → `{"id": …}`; every request
/// logged as a line: `login USER TOKEN`, `item USER ID`, `bad PATH`.
const SERVER: &str = r#"
import csv, json, secrets, sys, threading
from http.server import ThreadingHTTPServer
from jsonapi import JsonHandler, serve

users = {r["user"]: r["password"] for r in csv.DictReader(open(sys.argv[1]))}
tokens = {}
lock = threading.Lock()
log = open(sys.argv[2], "a", buffering=1)

class H(JsonHandler):
    def do_POST(self):
        body = self.body()
        if self.path != "/login":
            return self.reply(404, {})
        try:
            creds = json.loads(body)
        except ValueError:
            return self.reply(400, {})
        if users.get(creds.get("user")) != creds.get("password"):
            with lock: log.write("bad login\n")
            return self.reply(401, {})
        token = "SECRETTOKEN" + secrets.token_hex(8)
        with lock:
            tokens[token] = creds["user"]
            log.write(f"login {creds['user']} {token}\n")
        self.reply(200, {"token": token, "user": creds["user"]})
    def do_GET(self):
        auth = self.headers.get("authorization", "")
        user = tokens.get(auth.removeprefix("Bearer "))
        if not self.path.startswith("/items/") or user is None:
            with lock: log.write(f"bad {self.path}\n")
            return self.reply(401, {})
        item = self.path.removeprefix("/items/")
        with lock: log.write(f"item {user} {item}\n")
        self.reply(200, {"id": int(item) if item.isdigit() else item})

serve(ThreadingHTTPServer(("127.0.0.1", 0), H))
"#;

/// The API above, reading `users.csv` and logging to `api.log` in `dir`.
fn start_api(dir: &Path) -> util::LoggedApi {
    util::LoggedApi::start(dir, SERVER, &[&dir.join("users.csv")])
}

/// `users.csv`: user N has password `CSVSECRET-N` and item id `100 + N`.
fn users(dir: &Path, n: usize) {
    let mut csv = String::from("user,password,id\n");
    for i in 0..n {
        csv.push_str(&format!("user{i},CSVSECRET-{i},{}\n", 100 + i));
    }
    std::fs::write(dir.join("users.csv"), csv).expect("write users.csv");
}

fn request<'a>(c: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    c["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no request {name} in {c}"))
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).expect("read")));
            }
        }
    }
    out
}

const ROWS: usize = 12;

#[test]
fn a_flow_logs_in_from_csv_rows_and_fetches_with_captured_tokens_in_every_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    users(d, ROWS);
    let api = start_api(d);
    let plan = util::write_plan(
        d,
        "flow.yaml",
        &format!(
            r#"version: 1
name: flow
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: shop
    data: {{ file: users.csv, order: unique }}
    flow:
      - name: login
        request: {{ url: /login, method: POST, json: {{ user: "${{user}}", password: "${{password}}" }} }}
        expect: {{ status: 200, json: {{ "$.token": exists }}, body_contains: "${{user}}" }}
        capture: {{ token: {{ json: "$.token" }} }}
        think: 50ms
      - name: item
        request: {{ url: "/items/${{id}}", headers: {{ authorization: "Bearer ${{token}}", x-api-key: "${{FLOW_ENV_SECRET}}" }} }}
        expect: {{ json: {{ "$.id": exists }}, headers: {{ content-type: application/json }} }}
        think: 50ms
    repeat: {ROWS}
    models: [sequential, threads, async, processes]
    concurrency: 3
    thresholds: ["p99{{request=item}} < 2s", "error_rate{{request=login}} < 1%"]
  - name: open
    data: {{ file: users.csv, order: unique }}
    flow:
      - name: login
        request: {{ url: /login, method: POST, json: {{ user: "${{user}}", password: "${{password}}" }} }}
        capture: {{ token: {{ json: "$.token" }} }}
      - name: item
        request: {{ url: "/items/${{id}}", headers: {{ authorization: "Bearer ${{token}}" }} }}
    rate: 40/s
    duration: 300ms
    models: [async]
    concurrency: 4
"#,
            port = api.port
        ),
    );
    let out = d.join("out");
    let o = util::loadplan_in(
        d,
        &["run", util::path_str(&plan), "--out", util::path_str(&out)],
        &[("FLOW_ENV_SECRET", "ENVSECRET-flow")],
        Duration::from_secs(90),
    );
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "flow");

    // The server's view: every login with a CSV user and its own password, every item fetched
    // with the token that user got, for the id on the user's row.
    let log = api.lines();
    assert!(
        log.iter().all(|l| l[0] == "login" || l[0] == "item"),
        "{log:?}"
    );
    let logins: Vec<&Vec<String>> = log.iter().filter(|l| l[0] == "login").collect();
    let items: Vec<&Vec<String>> = log.iter().filter(|l| l[0] == "item").collect();
    let cells = every_cell(&s);
    let counted = |name: &str| -> u64 {
        cells
            .iter()
            .map(|c| u(&request(c, name)["operations"]))
            .sum()
    };
    assert_eq!(logins.len() as u64, counted("login"));
    assert_eq!(items.len() as u64, counted("item"));
    for item in &items {
        let n: usize = item[1].trim_start_matches("user").parse().expect("a user");
        assert_eq!(
            item[2],
            (100 + n).to_string(),
            "user{n} fetched its own row's id"
        );
    }
    // Unique rows: four counted cells, each hands every row out exactly once.
    for i in 0..ROWS {
        let user = format!("user{i}");
        let n = logins.iter().filter(|l| l[1] == user).count();
        assert!((4..=5).contains(&n), "{user} logged in {n} times");
    }
    for c in &cells[..4] {
        assert_eq!(u(&c["operations"]), ROWS as u64, "{c}");
        assert_eq!(u(&request(c, "login")["operations"]), ROWS as u64);
        assert_eq!(u(&request(c, "item")["successes"]), ROWS as u64);
        // Two pauses of 50 ms per iteration, left out of its latency and reported apart (the
        // histogram's 3 significant digits put 100 ms in a bucket starting at 99.97 ms).
        assert!(u(&c["think_us"]["min"]) >= 99_900, "{}", c["think_us"]);
        assert!(u(&c["latency_us"]["p50"]) < 100_000, "{}", c["latency_us"]);
        // Requests per second beside iterations per second: every iteration sent its steps,
        // and the timeline counts them second by second.
        let steps: u64 = c["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| u(&r["operations"]))
            .sum();
        assert_eq!(steps % ROWS as u64, 0, "{c}");
        let (rps, ips) = (f(&c["requests_per_s"]), f(&c["throughput_per_s"]));
        let per_iteration = steps as f64 / ROWS as f64;
        assert!(
            (rps - per_iteration * ips).abs() < 1e-6 * rps,
            "{rps} vs {ips}: {c}"
        );
        let timeline = c["timeline"].as_array().expect("timeline");
        assert_eq!(
            timeline.iter().map(|p| u(&p["requests"])).sum::<u64>(),
            steps,
            "{c}"
        );
    }
    // Sequential: twelve iterations of at least 100 ms each, one after the other.
    assert!(
        cells[0]["wall_seconds"].as_f64().unwrap_or(0.0) >= 1.2,
        "{}",
        cells[0]
    );
    let open = cells[4];
    assert_eq!(u(&open["operations"]), u(&open["open"]["scheduled"]));
    assert_eq!(
        u(&request(open, "item")["successes"]),
        u(&open["operations"])
    );

    // No secret anywhere: not the environment's, the data file's, nor a captured token.
    let mut everything = all_text(&out);
    everything.push_str(&o.stdout);
    everything.push_str(&o.stderr);
    for secret in ["ENVSECRET", "CSVSECRET", "SECRETTOKEN"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn a_capture_that_finds_nothing_ends_the_iteration_before_the_next_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    users(d, 3);
    let api = start_api(d);
    api.clear();
    let (out, o) = run(
        d,
        api.port,
        "        capture: { token: { json: \"$.missing\" } }\n",
        "    repeat: 6\n    models: [async, processes]\n    concurrency: 2\n    thresholds: [\"error_rate <= 100%\"]\n",
    );
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "capture");
    for c in every_cell(&s) {
        assert_eq!(u(&c["errors"]["expectation"]), 6, "{c}");
        assert_eq!(u(&request(c, "item")["operations"]), 0, "{c}");
        let m = c["error_messages"]["expectation"].to_string();
        assert!(
            m.contains("capture `token`: json `$.missing` finds nothing"),
            "{m}"
        );
    }
    let log = api.lines();
    assert!(
        log.iter().all(|l| l[0] == "login"),
        "the item step was sent: {log:?}"
    );
    assert_eq!(log.len(), 12);
}

/// Runs the two-step flow with `capture` and the load lines given.
fn run(dir: &Path, port: u16, capture: &str, load: &str) -> (PathBuf, util::Output) {
    let plan = util::write_plan(
        dir,
        "capture.yaml",
        &format!(
            "version: 1\nname: capture\nbase: http://127.0.0.1:{port}\nscenarios:\n  - name: c\n    data: {{ file: users.csv }}\n    flow:\n      - name: login\n        request: {{ url: /login, method: POST, json: {{ user: \"${{user}}\", password: \"${{password}}\" }} }}\n{capture}      - name: item\n        request: {{ url: \"/items/${{id}}\", headers: {{ authorization: \"Bearer ${{token}}\" }} }}\n{load}"
        ),
    );
    let out = dir.join("out");
    let o = util::run_plan(dir, &plan, &out);
    (out, o)
}

#[test]
fn plan_errors_in_flows_stop_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    users(d, 2);
    std::fs::write(d.join("no-id.csv"), "user,password\nuser0,CSVSECRET-0\n").expect("csv");
    let api = start_api(d);
    api.clear();
    let load = "    repeat: 1\n";
    let good_capture = "        capture: { token: { json: \"$.token\" } }\n";
    let cases: [(&str, String, &str); 4] = [
        (
            "undefined",
            good_capture.replace("token:", "tokn:"),
            "`${token}`",
        ),
        (
            "bad-path",
            good_capture.replace("$.token", "$$.token"),
            "is not a JSON path",
        ),
        (
            "missing-csv",
            good_capture.to_string(),
            "data file nothing.csv",
        ),
        (
            "no-column",
            good_capture.to_string(),
            "data file `no-id.csv` has no column `id` (its columns: `user`, `password`)",
        ),
    ];
    for (what, capture, message) in cases {
        let (_, o) = match what {
            "missing-csv" | "no-column" => {
                let file = if what == "missing-csv" {
                    "nothing.csv"
                } else {
                    "no-id.csv"
                };
                let plan = util::write_plan(
                    d,
                    "capture.yaml",
                    &format!(
                        "version: 1\nname: capture\nbase: http://127.0.0.1:{}\nscenarios:\n  - name: c\n    data: {{ file: {file} }}\n    flow:\n      - name: login\n        request: {{ url: /login, method: POST, json: {{ user: \"${{user}}\", password: \"${{password}}\" }} }}\n{capture}      - name: item\n        request: {{ url: \"/items/${{id}}\", headers: {{ authorization: \"Bearer ${{token}}\" }} }}\n{load}",
                        api.port
                    ),
                );
                let out = d.join("out");
                (out.clone(), util::run_plan(d, &plan, &out))
            }
            _ => run(d, api.port, &capture, load),
        };
        assert_eq!(o.code, 2, "{what}: {o:?}");
        assert!(o.stderr.contains(message), "{what}: {}", o.stderr);
        let located = o.stderr.lines().any(|l| {
            l.split_once(".yaml:")
                .and_then(|(_, rest)| rest.split(':').next()?.parse::<usize>().ok())
                .is_some_and(|n| n > 0)
        });
        assert!(located, "{what}: no file:line:col in {}", o.stderr);
        assert!(!o.stderr.contains("CSVSECRET"), "{}", o.stderr);
    }
    assert!(
        api.lines().is_empty(),
        "something was sent: {:?}",
        api.lines()
    );
}

#[test]
fn a_weighted_mix_keeps_its_proportions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "mix.yaml",
        "version: 1\nname: mix\nbase: builtin\nscenarios:\n  - name: m\n    targets:\n      - { url: /hello, name: often, weight: 9 }\n      - { url: \"/hello?rare\", name: rare, weight: 1 }\n    repeat: 5000\n    models: [async]\n    concurrency: 16\n",
    );
    let out = d.join("out");
    let began = Instant::now();
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(began.elapsed() < Duration::from_secs(60));
    let s = util::summary(&out, "mix");
    let c = every_cell(&s)[0];
    assert_eq!(u(&c["operations"]), 10_000);
    let often = u(&request(c, "often")["operations"]) as f64;
    assert!((often / 10_000.0 - 0.9).abs() <= 0.01, "{often} of 10000");
    assert!(s["scenarios"][0]["seed"].is_u64(), "the seed is reported");
}

#[test]
fn unique_rows_that_run_out_leave_the_cell_incomplete_and_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    users(d, 20);
    let scenario = |name: &str, repeat: u64| {
        format!(
            "  - name: {name}\n    data: {{ file: users.csv, order: unique }}\n    flow:\n      - name: hello\n        request: \"/hello?user=${{user}}\"\n    repeat: {repeat}\n    models: [sequential, threads, async, processes]\n    concurrency: 2\n    workers: 2\n"
        )
    };
    let plan = util::write_plan(
        d,
        "unique.yaml",
        &format!(
            "version: 1\nname: unique\nbase: builtin\nscenarios:\n{}{}",
            scenario("enough", 20),
            scenario("short", 30)
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 1, "the run fails: {o:?}");
    let s = util::summary(&out, "unique");
    assert_eq!(s["verdict"], "failed");
    for c in util::cells(&s, "enough") {
        assert_eq!(u(&c["operations"]), 20, "{c}");
        assert_eq!(c["complete"], true, "{c}");
    }
    for c in util::cells(&s, "short") {
        assert_eq!(u(&c["operations"]), 20, "{c}");
        assert_eq!(c["complete"], false, "{c}");
        assert_eq!(
            c["notes"],
            serde_json::json!([
                "data file `users.csv` ran out of unique rows after 20 iterations (30 planned)"
            ]),
            "{c}"
        );
    }
    assert!(o.stdout.contains("ran out of unique rows"), "{}", o.stdout);
}
