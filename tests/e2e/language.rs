//! The plan language's outside inputs and checks: one plan run as smoke (`USERS`, `DURATION` in
//! the environment), as nightly (the defaults) and with `--set`, each effective value in
//! summary.json; a bad substituted value refused at its line; any percentile gating and shown in
//! every output; every plan error reported at once; `${…}` functions checked at load.

use std::path::Path;
use std::time::Duration;

use crate::util::{Output, loadplan_with, summary, write_plan};

const PLAN: &str = "version: 1
name: language
base: builtin
x-models: &models [async]
scenarios:
  - name: shop
    models: *models
    targets: [\"/hello?id=${uuid()}&n=${random_int(1, 9)}\"]
    duration: ${DURATION:-2s}
    concurrency: ${USERS:-3}
    thresholds: [\"p95 < 200ms\"]
";

/// Runs loadplan with exactly these load variables set (the others removed).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    loadplan_with(dir, args, Duration::from_secs(60), |cmd| {
        cmd.env_remove("USERS").env_remove("DURATION");
        for (k, v) in env {
            cmd.env(k, v);
        }
    })
}

/// The summary's effective values as (key, value, source).
fn effective(s: &serde_json::Value) -> Vec<(String, String, String)> {
    s["plan"]["effective"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let t = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                    (t("key"), t("value"), t("source"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn one_plan_runs_as_smoke_nightly_and_with_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_plan(dir.path(), "plan.yaml", PLAN);
    let e = |k: &str, v: &str, s: &str| (k.to_string(), v.to_string(), s.to_string());
    // (out folder, arguments, environment, concurrency, effective values)
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        u64,
        Vec<(String, String, String)>,
    );
    let cases: Vec<Case> = vec![
        (
            "smoke",
            &[],
            &[("USERS", "2"), ("DURATION", "1s")],
            2,
            vec![
                e("scenarios.shop.duration", "1s", "environment"),
                e("scenarios.shop.concurrency", "2", "environment"),
            ],
        ),
        (
            "nightly",
            &[],
            &[],
            3,
            vec![
                e("scenarios.shop.duration", "2s", "default"),
                e("scenarios.shop.concurrency", "3", "default"),
            ],
        ),
        (
            "set",
            &[
                "--set",
                "scenarios.shop.concurrency=4",
                "--set",
                "scenarios.shop.duration=1s",
            ],
            &[("USERS", "2")],
            4,
            vec![
                e("scenarios.shop.concurrency", "4", "set"),
                e("scenarios.shop.duration", "1s", "set"),
            ],
        ),
    ];
    for (out, extra, env, users, want) in cases {
        let mut args = vec!["run", "plan.yaml", "--out", out, "--quiet"];
        args.extend_from_slice(extra);
        let o = run(dir.path(), &args, env);
        assert_eq!(o.code, 0, "{out}: {}{}", o.stdout, o.stderr);
        let s = summary(&dir.path().join(out), "language");
        let cell = &s["scenarios"][0]["cells"][0];
        assert_eq!(cell["concurrency"].as_u64(), Some(users), "{out}");
        assert_eq!(effective(&s), want, "{out}");
        // The plan text is kept as written.
        assert!(
            s["plan"]["source"]
                .as_str()
                .is_some_and(|t| t.contains("${USERS:-3}")),
            "{out}"
        );
    }
}

#[test]
fn a_bad_substituted_value_fails_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_plan(dir.path(), "plan.yaml", PLAN);
    // (arguments, environment, where, what it says)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[],
            &[("USERS", "lots")],
            "plan.yaml:10:18: ",
            "came from `${USERS:-3}`",
        ),
        (
            &[],
            &[("DURATION", "{a: 1}")],
            "plan.yaml:9:15: ",
            "no number, duration",
        ),
        (
            &["--set", "scenarios.shop.concurrency=lots"],
            &[],
            "plan.yaml:10:18: ",
            "from `--set scenarios.shop.concurrency=lots`",
        ),
        (
            &["--set", "scenarios.shp.concurrency=5"],
            &[],
            "plan.yaml: --set",
            "did you mean `shop`?",
        ),
    ];
    for (extra, env, at, says) in cases {
        let mut args = vec!["validate", "plan.yaml"];
        args.extend_from_slice(extra);
        let o = run(dir.path(), &args, env);
        assert_eq!(o.code, 2, "{args:?} {env:?}: {}", o.stderr);
        assert!(o.stderr.contains(at), "{args:?} {env:?}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{args:?} {env:?}: {}", o.stderr);
    }
}

#[test]
fn any_percentile_gates_and_appears_in_every_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = PLAN
        .replace("${DURATION:-2s}", "1s")
        .replace("[\"p95 < 200ms\"]", "[\"p95 < 200ms\", \"p(99.5) < 1us\"]");
    write_plan(dir.path(), "plan.yaml", &text);
    let o = run(dir.path(), &["run", "plan.yaml", "--out", "out"], &[]);
    assert_eq!(o.code, 1, "p(99.5) < 1us fails: {}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("p95 < 200ms"), "{}", o.stdout);
    let s = summary(&dir.path().join("out"), "language");
    let cell = &s["scenarios"][0]["cells"][0];
    let results = cell["thresholds"].as_array().expect("thresholds");
    let passed: Vec<(&str, bool)> = results
        .iter()
        .map(|t| {
            (
                t["expression"].as_str().unwrap_or_default(),
                t["passed"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(passed, [("p95 < 200ms", true), ("p(99.5) < 1us", false)]);
    let p95 = cell["latency_us"]["percentiles"]["p95"]
        .as_u64()
        .expect("p95");
    assert_eq!(results[0]["observed"].as_f64(), Some(p95 as f64));
    let run = crate::util::run_dir(&dir.path().join("out"), "language");
    for file in ["summary.md", "index.html", "junit.xml", "summary.json"] {
        let body = std::fs::read_to_string(run.join(file)).expect(file);
        assert!(
            body.contains("p95 < 200ms") || body.contains("p95 &lt; 200ms"),
            "{file} lacks the threshold"
        );
    }
}

#[test]
fn every_plan_error_is_reported_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "version: 1
name: typos
base: builtin
scenarios:
  - name: a
    targets: [/hello]
    repeat: 1
    concurency: 4
    thresholds: [\"avg < 1s\"]
  - name: b
    targets: [\"/hello?id=${uid()}\"]
    duraton: 1s
";
    write_plan(dir.path(), "plan.yaml", text);
    let o = run(dir.path(), &["validate", "plan.yaml"], &[]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    let want = [
        ("plan.yaml:8:5: ", "did you mean `concurrency`?"),
        ("plan.yaml:9:18: ", "did you mean `mean`?"),
        ("plan.yaml:11:15: ", "did you mean `uuid()`?"),
        ("plan.yaml:12:5: ", "did you mean `duration`?"),
    ];
    assert_eq!(errors.len(), want.len(), "{}", o.stderr);
    for (line, (at, says)) in errors.iter().zip(want) {
        assert!(line.contains(at) && line.contains(says), "{line}");
    }
}

#[test]
fn named_percentiles_are_listed_in_the_console_markdown_html_and_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = PLAN.replace("${DURATION:-2s}", "1s");
    write_plan(dir.path(), "plan.yaml", &text);
    let o = run(dir.path(), &["run", "plan.yaml", "--out", "out"], &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("  async c=3 w=1: p95 "), "{}", o.stdout);
    let run = crate::util::run_dir(&dir.path().join("out"), "language");
    let md = std::fs::read_to_string(run.join("summary.md")).expect("summary.md");
    assert!(md.contains("| cell | p95 |"), "{md}");
    // The HTML cells table has a p95 column, after p90.
    let html = std::fs::read_to_string(run.join("index.html")).expect("index.html");
    assert!(
        html.contains(
            "<th scope=\"col\">p90</th><th scope=\"col\">p95</th><th scope=\"col\">p99</th>"
        ),
        "no p95 column in the cells table"
    );
    // Compared with that run as a baseline, p95 is one of the cell's checks.
    let base = run.join("summary.json");
    let o = self::run(
        dir.path(),
        &[
            "run",
            "plan.yaml",
            "--out",
            "again",
            "--baseline",
            base.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert!(o.code == 0 || o.code == 1, "{}{}", o.stdout, o.stderr);
    let s = summary(&dir.path().join("again"), "language");
    let checks = s["baseline"]["checks"].as_array().expect("baseline checks");
    let p95 = checks
        .iter()
        .find(|c| c["metric"] == "p95")
        .unwrap_or_else(|| panic!("no p95 check: {checks:?}"));
    assert!(p95["baseline"].as_f64().is_some_and(|v| v > 0.0), "{p95}");
}

/// Logs each request as `PATH SIGNATURE-OK BASE64-OK`, checking the signature and the encoding
/// with Python's own `hmac` and `base64`.
const ECHO: &str = r#"
import base64, hashlib, hmac, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
log = open(sys.argv[1], "a", buffering=1)
want_sig = hmac.new(b"KEYVALUE", b"msg", hashlib.sha256).hexdigest()
want_b64 = base64.b64encode(b"KEYVALUE").decode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        sig = self.headers.get("x-sig") == want_sig
        b64 = self.headers.get("x-b64") == want_b64
        log.write(f"{self.path} {sig} {b64}\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

#[test]
fn functions_give_fresh_values_per_request_and_sign_with_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("echo.log");
    let server = crate::util::PyServer::start(dir.path(), "echo.py", ECHO, &[&log]);
    let port = server.port();
    let text = format!(
        "version: 1
name: functions
base: http://127.0.0.1:{port}
scenarios:
  - name: f
    models: [sequential]
    targets:
      - url: \"/x?id=${{uuid()}}&n=${{random_int(1, 3)}}&q=${{url_encode('a b')}}\"
        headers:
          x-sig: \"${{hmac_sha256_hex(KEY, 'msg')}}\"
          x-b64: \"${{base64(${{KEY}})}}\"
    repeat: 20
"
    );
    write_plan(dir.path(), "plan.yaml", &text);
    let o = run(
        dir.path(),
        &["run", "plan.yaml", "--out", "out", "--quiet"],
        &[("KEY", "KEYVALUE")],
    );
    drop(server);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let served = std::fs::read_to_string(&log).expect("the server's log");
    let lines: Vec<&str> = served.lines().collect();
    assert_eq!(lines.len(), 20, "{served}");
    let mut ids = std::collections::BTreeSet::new();
    for l in &lines {
        let parts: Vec<&str> = l.split(' ').collect();
        assert_eq!(parts[1..], ["True", "True"], "{l}");
        let query: std::collections::BTreeMap<&str, &str> = parts[0]
            .trim_start_matches("/x?")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let id = query["id"];
        assert!(id.len() == 36 && &id[14..15] == "4", "{id}");
        ids.insert(id.to_string());
        assert!(["1", "2", "3"].contains(&query["n"]), "{l}");
        assert_eq!(query["q"], "a%20b");
    }
    assert_eq!(ids.len(), 20, "a new uuid for every request");
    // The environment's value is never shown.
    let all = o.stdout
        + &o.stderr
        + &std::fs::read_to_string(
            crate::util::run_dir(&dir.path().join("out"), "functions").join("summary.json"),
        )
        .expect("summary.json");
    assert!(!all.contains("KEYVALUE"));
}
