//! Helpers shared by the end-to-end tests: run the binary with a time limit, write plans, read
//! the summary of a run.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loadplan"))
}

/// What a finished `loadplan` process left.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `loadplan ARGS` in `dir`, killing it (and failing the test) after `limit`.
pub fn loadplan_in(dir: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    loadplan_with(dir, args, limit, |cmd| {
        for (k, v) in envs {
            cmd.env(k, v);
        }
    })
}

/// [`loadplan_in`], with `prepare` given the command before it starts (an environment, or a
/// `pre_exec` that enters a network namespace).
pub fn loadplan_with(
    dir: &Path,
    args: &[&str],
    limit: Duration,
    prepare: impl FnOnce(&mut Command),
) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    prepare(&mut cmd);
    let mut child = cmd.spawn().expect("start loadplan");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("loadplan {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().expect("stdout thread"),
        stderr: t_err.join().expect("stderr thread"),
    }
}

/// Runs `loadplan ARGS` in `dir` with a one-minute limit and no extra environment.
pub fn loadplan(dir: &Path, args: &[&str]) -> Output {
    loadplan_in(dir, args, &[], Duration::from_secs(60))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_plan(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write plan");
    p
}

/// The only run folder under `out/<plan>/`.
pub fn run_dir(out: &Path, plan_slug: &str) -> PathBuf {
    let plan_dir = out.join(plan_slug);
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&plan_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", plan_dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "expected one run folder in {}: {runs:?}",
        plan_dir.display()
    );
    runs.pop().expect("one run")
}

/// The console's `streams` tables (streamed responses' and WebSocket steps' phases), one per
/// scenario that had them, in order, each from its header line to the next blank line.
pub fn console_streams_tables(console: &str) -> Vec<&str> {
    console
        .split("\n  streams ")
        .skip(1)
        .map(|t| t.split("\n\n").next().unwrap_or(t))
        .collect()
}

/// The HTML report's streams table (`<table class="streams">`) in the run's index.html.
pub fn html_streams_table(run_dir: &Path) -> String {
    let page = std::fs::read_to_string(run_dir.join("index.html")).expect("index.html");
    page.split("<table class=\"streams\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no streams table in the HTML report"))
        .to_string()
}

/// The words of the first line of a console `table` that begins with `label`.
pub fn row_words(table: &str, label: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} row:\n{table}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The parsed summary.json of the only run of `plan_slug` under `out`.
pub fn summary(out: &Path, plan_slug: &str) -> serde_json::Value {
    let p = run_dir(out, plan_slug).join("summary.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// Every cell of every scenario of a summary, in order.
pub fn every_cell(summary: &serde_json::Value) -> Vec<&serde_json::Value> {
    summary["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .flat_map(|sc| sc["cells"].as_array().expect("cells"))
        .collect()
}

/// [`every_cell`], to change them (a saved history made from one real run).
pub fn every_cell_mut(summary: &mut serde_json::Value) -> Vec<&mut serde_json::Value> {
    summary["scenarios"]
        .as_array_mut()
        .expect("scenarios")
        .iter_mut()
        .flat_map(|sc| sc["cells"].as_array_mut().expect("cells"))
        .collect()
}

/// The cells of `scenario`, in order.
pub fn cells<'a>(summary: &'a serde_json::Value, scenario: &str) -> &'a [serde_json::Value] {
    summary["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["name"] == scenario)
        .unwrap_or_else(|| panic!("no scenario {scenario}"))["cells"]
        .as_array()
        .expect("cells")
}

/// The cell of `scenario` run under `model` (the first one, for sweeps).
pub fn cell<'a>(
    summary: &'a serde_json::Value,
    scenario: &str,
    model: &str,
) -> &'a serde_json::Value {
    cells(summary, scenario)
        .iter()
        .find(|c| c["model"] == model)
        .unwrap_or_else(|| panic!("no {model} cell in {scenario}"))
}

/// The error categories summary.json counts, every one present in every cell's `errors`, as the
/// README lists them (written out here, not read from the crate, so that a dropped category fails).
pub const ERROR_CATEGORIES: [&str; 10] = [
    "dns",
    "connect",
    "tls",
    "protocol",
    "timeout",
    "status",
    "grpc_status",
    "websocket_close",
    "body",
    "expectation",
];

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The operations a cell's per-second timeline counts, all seconds together.
pub fn timeline_total(c: &serde_json::Value) -> u64 {
    c["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|p| u(&p["operations"]))
        .sum()
}

pub fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `loadplan run PLAN --out DIR/OUT [--baseline SUMMARY]` with `envs`, in `dir`, one minute at
/// most; returns what it left and the output folder.
pub fn run_against(
    dir: &Path,
    plan: &Path,
    out: &str,
    envs: &[(&str, &str)],
    baseline: Option<&Path>,
) -> (Output, PathBuf) {
    let out = dir.join(out);
    let mut args = vec!["run", path_str(plan), "--out", path_str(&out)];
    if let Some(b) = baseline {
        args.extend(["--baseline", path_str(b)]);
    }
    let r = loadplan_in(dir, &args, envs, Duration::from_secs(60));
    (r, out)
}

/// A path as the `&str` an argument list wants (test paths are UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The arguments `run PLAN --out OUT`.
pub fn run_args<'a>(plan: &'a Path, out: &'a Path) -> [&'a str; 4] {
    ["run", path_str(plan), "--out", path_str(out)]
}

/// `loadplan run PLAN --out OUT` in `dir`, with the one-minute limit.
pub fn run_plan(dir: &Path, plan: &Path, out: &Path) -> Output {
    loadplan(dir, &run_args(plan, out))
}

/// `loadplan run PLAN --out OUT EXTRA…` in `dir`, killed (failing the test) after `limit`.
pub fn run_plan_with(
    dir: &Path,
    plan: &Path,
    out: &Path,
    extra: &[&str],
    limit: Duration,
) -> Output {
    let args = [&run_args(plan, out)[..], extra].concat();
    loadplan_in(dir, &args, &[], limit)
}

/// Shard I of N's results file, `DIR/shard-I.json`, and the arguments that run it: `run PLAN
/// --shard I/N --results FILE`.
fn shard_args(dir: &Path, plan: &Path, i: usize, n: usize) -> (PathBuf, [String; 6]) {
    let file = dir.join(format!("shard-{i}.json"));
    let args = [
        "run".into(),
        path_str(plan).into(),
        "--shard".into(),
        format!("{i}/{n}"),
        "--results".into(),
        path_str(&file).into(),
    ];
    (file, args)
}

/// Shards `which` of `n` side by side, each a separate `loadplan run PLAN --shard I/N --results
/// DIR/shard-I.json EXTRA…` in `dir`; each must pass. Returns their results files, in order.
pub fn run_shards_together(
    dir: &Path,
    plan: &Path,
    n: usize,
    which: &[usize],
    extra: &[&str],
) -> Vec<PathBuf> {
    let children: Vec<(PathBuf, Child)> = which
        .iter()
        .map(|i| {
            let (file, args) = shard_args(dir, plan, *i, n);
            let child = Command::new(bin())
                .args(args)
                .args(extra)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a shard");
            (file, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(file, child)| {
            let out = child.wait_with_output().expect("shard finishes");
            assert!(
                out.status.success(),
                "shard {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            file
        })
        .collect()
}

/// `loadplan report FILES… --out DIR/merged` in `dir`, which must pass; the merged summary of
/// plan `slug`.
pub fn merge_shards(dir: &Path, files: &[PathBuf], slug: &str) -> serde_json::Value {
    let merged = dir.join("merged");
    let mut args = vec!["report"];
    args.extend(files.iter().map(|f| path_str(f)));
    args.extend(["--out", path_str(&merged)]);
    let r = loadplan(dir, &args);
    assert_eq!(r.code, 0, "{r:?}");
    summary(&merged, slug)
}

/// `loadplan run PLAN --out DIR/out` in `dir`, which must pass (exit 0); returns the summary
/// of `plan_slug`'s run.
pub fn run_passing(dir: &Path, plan: &Path, plan_slug: &str) -> serde_json::Value {
    let out = dir.join("out");
    let r = run_plan(dir, plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    summary(&out, plan_slug)
}

/// `loadplan serve --addr 127.0.0.1:0 ARGS`, running.
pub struct Serve {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    /// host:port
    pub addr: String,
    /// The `ca-certificate` line's path, when the server printed one.
    pub ca: Option<PathBuf>,
}

impl Serve {
    /// Starts the server and reads its address line and, with `--tls` alone, its CA line.
    pub fn start(args: &[&str]) -> Serve {
        let generated = args.contains(&"--tls") && !args.contains(&"--tls-cert");
        let mut child = Command::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the address line");
        let scheme = if args.contains(&"--tls") {
            "https"
        } else {
            "http"
        };
        let addr = line
            .trim_end()
            .strip_prefix(&format!("listening on {scheme}://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let ca = generated.then(|| {
            line.clear();
            stdout.read_line(&mut line).expect("the CA line");
            let path = line
                .trim_end_matches('\n')
                .strip_prefix("ca-certificate ")
                .unwrap_or_else(|| panic!("unexpected second line {line:?}"));
            PathBuf::from(path)
        });
        Serve {
            child,
            stdout,
            addr,
            ca,
        }
    }

    pub fn port(&self) -> u16 {
        let port = self.addr.rsplit(':').next().expect("a port");
        port.parse().expect("a port number")
    }

    /// SIGTERM, then the exit code and whatever else it printed on stdout and stderr.
    pub fn stop(mut self) -> (Option<i32>, String, String) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // A signal to our own child, not reaped before this returns.
        kill(pid, libc::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "the server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        let _ = self.stdout.read_to_string(&mut out);
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        (status.code(), out, err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Only when a test failed before `stop`: the child is still ours to kill and reap.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `openssl ARGS` in `dir`; the test needs it to succeed.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The nginx binary, wherever Debian or a local build put it.
pub fn nginx_binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is not installed: .ci/run installs it (apt-get install nginx)")
}

/// An nginx of a test's own, everything it writes under `dir` (config, pid, logs, temporary
/// folders), one worker, connections kept alive for as long as a test runs, `200 ok` on every
/// path. The access log says each request's protocol and status. Stopped (SIGQUIT, then SIGKILL,
/// by pid) when dropped.
pub struct NginxServer {
    child: Child,
    pub dir: PathBuf,
}

impl NginxServer {
    /// Writes `dir/nginx.conf` with `server` inside its server block (`listen` lines and
    /// whatever else the server needs), starts nginx with `prepare` given the command first,
    /// and returns once `ready` says it answers (failing the test after 10 s or if nginx exits).
    pub fn start(
        dir: &Path,
        server: &str,
        prepare: impl FnOnce(&mut Command),
        ready: impl Fn() -> bool,
    ) -> NginxServer {
        let d = dir.display();
        let conf = format!(
            r#"worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  log_format proto '$server_protocol $status';
  access_log {d}/access.log proto;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {{
{server}
    location / {{ return 200 "ok\n"; }}
  }}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
        let mut cmd = Command::new(nginx_binary());
        cmd.args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        prepare(&mut cmd);
        let mut nginx = NginxServer {
            child: cmd.spawn().expect("start nginx"),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited at start ({status}): {log}");
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// The access log's protocol column, one entry per request so far.
    pub fn protocols(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }
}

impl Drop for NginxServer {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGQUIT, Duration::from_secs(5));
    }
}

/// Sends `signal` (a libc signal number) to the process `pid`, through rustix: no `unsafe`.
pub fn kill(pid: i32, signal: libc::c_int) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::other(format!("{pid} is not a process id")))?;
    // A signal number rustix does not name is refused instead of sent.
    let signal = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| std::io::Error::other(format!("signal {signal}")))?;
    rustix::process::kill_process(pid, signal).map_err(std::io::Error::from)
}

/// Sends `signal` to our own `child` by its pid, waits up to `grace` for it to exit, then kills
/// and reaps it.
pub fn stop_child(child: &mut Child, signal: libc::c_int, grace: Duration) {
    if let (Ok(None), Ok(pid)) = (child.try_wait(), i32::try_from(child.id())) {
        // Our own child, not reaped yet (try_wait just said so).
        let _ = kill(pid, signal);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A loopback port that was just free: nothing listens there any more.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes `text` (a plan whose targets read `${LOADPLAN_E2E_DELAY}`) to `dir`, runs it once with
/// that `delay`, and returns the plan and that run's summary.json, to serve as a baseline.
pub fn baseline_run(dir: &Path, text: &str, slug: &str, delay: &str) -> (PathBuf, PathBuf) {
    let plan = write_plan(dir, &format!("{slug}.yaml"), text);
    let (first, out) = run_against(dir, &plan, "first", &[("LOADPLAN_E2E_DELAY", delay)], None);
    assert_eq!(first.code, 0, "{first:?}");
    let base = run_dir(&out, slug).join("summary.json");
    (plan, base)
}

/// Makes `summary` (a copy of a real run's) stand for the saved run `id`, started at 02:00 on
/// `day` of May 2026 and finished five seconds later.
pub fn restamp(summary: &mut serde_json::Value, id: &str, day: usize) {
    summary["run_id"] = serde_json::json!(id);
    summary["started_at"] = serde_json::json!(format!("2026-05-{day:02}T02:00:00Z"));
    summary["finished_at"] = serde_json::json!(format!("2026-05-{day:02}T02:00:05Z"));
}

/// Gives a saved cell the latency percentiles `p50` and `p99` (min, p90, p999 and max set in
/// order with them) and drops the histogram they no longer match: saved summaries are checked
/// on load.
pub fn set_latency(cell: &mut serde_json::Value, p50: u64, p99: u64) {
    let l = &mut cell["latency_us"];
    l["min"] = serde_json::json!(p50 / 2);
    l["p50"] = serde_json::json!(p50);
    l["p90"] = serde_json::json!(p50);
    l["p99"] = serde_json::json!(p99);
    l["p999"] = serde_json::json!(p99);
    l["max"] = serde_json::json!(p99);
    cell["histogram"] = serde_json::json!("");
}

/// Writes `summary` as `plan_dir/id/summary.json`, as a saved run.
pub fn save_run(plan_dir: &Path, id: &str, summary: &serde_json::Value) {
    let run = plan_dir.join(id);
    std::fs::create_dir_all(&run).expect("mkdir");
    std::fs::write(
        run.join("summary.json"),
        serde_json::to_vec_pretty(summary).expect("json"),
    )
    .expect("write");
}

/// Chromium's flags for a headless run with no network services of its own and no first-run
/// work; a test adds a fresh profile folder and what it asks of the browser.
pub const CHROMIUM_HEADLESS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// One real run, in `dir/first`, of a plan named `name` with two cells (`hello` under
/// sequential and async): the summary a test's saved history is made from.
pub fn two_cell_run(dir: &Path, name: &str) -> serde_json::Value {
    let plan = write_plan(
        dir,
        &format!("{name}.yaml"),
        &format!(
            "version: 1
name: {name}
base: builtin
defaults: {{ timeout: 2s }}
scenarios:
  - name: hello
    targets: [/hello]
    repeat: 6
    models: [sequential, async]
    concurrency: 2
"
        ),
    );
    let out = dir.join("first");
    let r = run_plan(dir, &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    summary(&out, name)
}

/// Debian's Python, where python3-grpcio and python3-websockets live (a `python3` earlier on
/// PATH, e.g. pyenv's, may lack them).
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// `jsonapi.py`, which [`PyServer::start`] writes beside every script, for the small JSON APIs
/// of the tests (standard library only; `from jsonapi import JsonHandler, serve`):
/// `class H(JsonHandler)` gets `body()` (the request's body) and `reply(code, obj)` (JSON, with
/// its length, over HTTP/1.1 keep-alive), and logs nothing to stderr; `serve(server)` prints the
/// server's port on its first line, as [`PyServer`] reads it, and serves.
const PY_JSON_API: &str = r#"import json
from http.server import BaseHTTPRequestHandler

class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def body(self):
        return self.rfile.read(int(self.headers.get("content-length", 0)))
    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

def serve(server):
    print(server.server_address[1], flush=True)
    server.serve_forever()
"#;

/// A Python server a test starts: its script, written to `dir/name`, prints its port on its first
/// line. The server may also answer questions, one line in and one line out (`ask`). It is stopped
/// by its pid (SIGTERM, then kill) however the test ends.
pub struct PyServer {
    child: Child,
    port: u16,
    stdin: Option<std::process::ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl PyServer {
    /// Writes `script` to `dir/name` (and [`PY_JSON_API`] to `dir/jsonapi.py`, for it to
    /// import) and runs it with `args`.
    pub fn start(dir: &Path, name: &str, script: &str, args: &[&Path]) -> PyServer {
        std::fs::write(dir.join("jsonapi.py"), PY_JSON_API).expect("write jsonapi.py");
        let path = dir.join(name);
        std::fs::write(&path, script).expect("write the server's script");
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is installed (scripts/test.sh installs what the servers import)");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the port line");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} printed {line:?}, not a port"));
        PyServer {
            child,
            port,
            stdin,
            stdout,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends `question` as one line on the server's stdin and returns the line it answers.
    pub fn ask(&mut self, question: &str) -> String {
        use std::io::Write as _;
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{question}").expect("ask the server");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the answer");
        line
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGTERM, Duration::from_secs(5));
    }
}

/// A server's log file (one served request per line), each line split on spaces; empty when the
/// file is not there yet.
pub fn log_lines(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect()
}

/// A Python API that logs each request it serves as one line of `api.log` in its folder: the
/// script is started with `args` and then the log's path.
pub struct LoggedApi {
    _server: PyServer,
    pub port: u16,
    log: PathBuf,
}

impl LoggedApi {
    pub fn start(dir: &Path, script: &str, args: &[&Path]) -> LoggedApi {
        let log = dir.join("api.log");
        let args: Vec<&Path> = args.iter().copied().chain([log.as_path()]).collect();
        let server = PyServer::start(dir, "api.py", script, &args);
        let port = server.port();
        LoggedApi {
            _server: server,
            port,
            log,
        }
    }

    /// The log, one entry per request served, split on spaces.
    pub fn lines(&self) -> Vec<Vec<String>> {
        log_lines(&self.log)
    }

    /// How many logged requests start with `kind`.
    pub fn count(&self, kind: &str) -> u64 {
        self.lines().iter().filter(|l| l[0] == kind).count() as u64
    }

    pub fn clear(&self) {
        std::fs::write(&self.log, "").expect("clear the log");
    }
}
