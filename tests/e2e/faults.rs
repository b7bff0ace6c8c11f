//! Faults and hostile input: interrupts, dying workers and runners, failing targets, invalid and
//! hostile plans, unwritable or escaping output folders, planted secrets, and bounded resources.
//!
//! Every target is on loopback: the built-in server, or small `std::net` servers below, bound to
//! port 0, each misbehaving in one way. Child processes are found through `/proc` by their parent
//! pid, never by name, so that other test runs on the machine are left alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::util;

// ---------------------------------------------------------------------------------------------
// Processes

/// A `loadplan` process started in the background, its output collected by threads.
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Writes `plan` to `dir/plan.yaml` and starts `run` on it with `dir/out` as the output
    /// folder, which it returns.
    fn run(dir: &Path, plan: &str) -> (Running, PathBuf) {
        let plan_path = util::write_plan(dir, "plan.yaml", plan);
        let out = dir.join("out");
        let run = Running::spawn(Running::command(dir, &util::run_args(&plan_path, &out)));
        (run, out)
    }

    /// `loadplan ARGS` in `dir`, stdin closed, stdout and stderr piped, not started yet.
    fn command(dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(util::bin());
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("start loadplan");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        Running {
            child,
            stdout: Some(std::thread::spawn(move || {
                let mut s = String::new();
                let _ = out.read_to_string(&mut s);
                s
            })),
            stderr: Some(std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            })),
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    fn signal(&self, sig: i32) {
        // Our own child, which has not been reaped (we hold its `Child`).
        let rc = super::util::kill(self.pid(), sig);
        assert!(rc.is_ok(), "kill({}, {sig}): {rc:?}", self.pid());
    }

    /// Waits for the exit (killing the process and failing after `limit`); returns the exit code
    /// (or -signal), stdout and stderr.
    fn finish(mut self, limit: Duration) -> util::Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("loadplan did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        use std::os::unix::process::ExitStatusExt;
        util::Output {
            code: status
                .code()
                .unwrap_or_else(|| -status.signal().unwrap_or(0)),
            stdout: self.stdout.take().expect("once").join().expect("stdout"),
            stderr: self.stderr.take().expect("once").join().expect("stderr"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave the runner (and through it its children) behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The direct children of `pid`, with their command lines, read from `/proc`.
fn children(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: fields start after the last `)`.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) {
            let cmd = std::fs::read(format!("/proc/{child}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            out.push((child, cmd));
        }
    }
    out
}

/// Waits until `pid` has children matching `want` (their count), returning them all.
fn wait_for_children(pid: i32, want: impl Fn(&[(i32, String)]) -> bool) -> Vec<(i32, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = children(pid);
        if want(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "children of {pid} never matched: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn workers(children: &[(i32, String)]) -> Vec<i32> {
    children
        .iter()
        .filter(|(_, c)| c.contains("__worker"))
        .map(|(p, _)| *p)
        .collect()
}

/// Whether `pid` still exists as a process that is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Asserts that every process in `pids` is gone (or at most a zombie awaiting init) soon.
fn assert_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pids(children: &[(i32, String)]) -> Vec<i32> {
    children.iter().map(|(p, _)| *p).collect()
}

// ---------------------------------------------------------------------------------------------
// Interrupts

/// A long plan: a built-in server, two worker processes, 30 s of load if nobody stops it.
const LONG_IO_PLAN: &str = "version: 1
name: long-io
base: builtin
scenarios:
  - name: slow-pages
    targets: [\"/io?delay=20ms\"]
    duration: 30s
    models: [processes]
    concurrency: 4
    workers: 2
";

/// A long CPU-bound plan: every operation computes for 20 s, in two worker processes, after a
/// sequential cell that would take 60 s on its own.
const LONG_CPU_PLAN: &str = "version: 1
name: long-cpu
scenarios:
  - name: spin
    cpu: { kernel: spin, duration: 20s }
    repeat: 3
    models: [processes, sequential]
    concurrency: 2
    workers: 2
";

fn interrupt(plan: &str, slug: &str, signal: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, out) = Running::run(dir.path(), plan);
    let kids = wait_for_children(run.pid(), |c| workers(c).len() == 2);
    // Let the workers report at least one snapshot (every 500 ms) before the interrupt.
    std::thread::sleep(Duration::from_millis(800));
    let kids = {
        let mut all = kids;
        all.extend(children(run.pid()));
        all.sort();
        all.dedup();
        all
    };
    let sent = Instant::now();
    run.signal(signal);
    let o = run.finish(Duration::from_secs(20));
    let took = sent.elapsed();
    assert_eq!(o.code, 130, "{o:?}");
    // The contract says "within about a second"; allow for a loaded CI machine.
    assert!(took < Duration::from_secs(4), "stopping took {took:?}");
    assert_all_gone(&pids(&kids));
    let s = util::summary(&out, slug);
    assert_eq!(s["verdict"], "interrupted");
    let cells: Vec<&serde_json::Value> = s["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .flat_map(|sc| sc["cells"].as_array().expect("cells"))
        .collect();
    assert_eq!(cells.len(), 1, "only the cell that ran is reported: {s}");
    assert_eq!(cells[0]["complete"], false);
    assert!(
        cells[0]["notes"].to_string().contains("interrupted"),
        "{}",
        cells[0]["notes"]
    );
    let html = std::fs::read_to_string(util::run_dir(&out, slug).join("index.html")).expect("html");
    assert!(html.contains("interrupted"), "the HTML report says so");
    assert!(o.stdout.contains("verdict: interrupted"), "{}", o.stdout);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    // Nothing half-written is left: only final names in the run folder.
    for e in std::fs::read_dir(util::run_dir(&out, slug)).expect("run dir") {
        let name = e.expect("entry").file_name();
        assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?}");
    }
}

#[test]
fn sigint_stops_the_load_keeps_results_and_reaps_children() {
    interrupt(LONG_IO_PLAN, "long-io", libc::SIGINT);
}

#[test]
fn sigterm_stops_long_computations_too() {
    // Each operation would compute for 20 s: the kernels must notice the stop themselves.
    interrupt(LONG_CPU_PLAN, "long-cpu", libc::SIGTERM);
}

#[test]
fn a_second_interrupt_exits_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, _out) = Running::run(dir.path(), LONG_IO_PLAN);
    let kids = wait_for_children(run.pid(), |c| workers(c).len() == 2);
    let frozen = workers(&kids)[0];
    // A stopped worker never sends its last frame: after the first interrupt the runner waits
    // out its grace period (seconds) for it. The second interrupt must not wait.
    // A process this test found as the runner's child.
    let _ = super::util::kill(frozen, libc::SIGSTOP);
    run.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        alive(run.pid()),
        "the first interrupt waits for the frozen worker"
    );
    let sent = Instant::now();
    run.signal(libc::SIGINT);
    let o = run.finish(Duration::from_secs(10));
    assert_eq!(o.code, 130, "{o:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    // The frozen worker and the server die with the runner (PDEATHSIG), stopped or not.
    assert_all_gone(&pids(&kids));
}

// ---------------------------------------------------------------------------------------------
// Dying processes

#[test]
fn a_killed_worker_is_reported_and_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = "version: 1
name: lost-worker
base: builtin
scenarios:
  - name: pages
    targets: [\"/io?delay=20ms\"]
    repeat: 200
    models: [processes]
    concurrency: 4
    workers: 2
";
    let (run, out) = Running::run(dir.path(), plan);
    let kids = wait_for_children(run.pid(), |c| workers(c).len() == 2);
    // Each worker has 100 requests of 20 ms for 2 users: about a second. Kill one after it has
    // streamed a snapshot (every 500 ms) but before it is done.
    std::thread::sleep(Duration::from_millis(650));
    let victim = workers(&kids)[0];
    // A process this test found as the runner's child.
    let _ = super::util::kill(victim, libc::SIGKILL);
    let o = run.finish(Duration::from_secs(30));
    assert_eq!(o.code, 1, "a lost worker fails the run: {o:?}");
    let s = util::summary(&out, "lost-worker");
    assert_eq!(s["verdict"], "failed");
    let c = util::cell(&s, "pages", "processes");
    assert_eq!(c["complete"], false);
    let notes = c["notes"].to_string();
    assert!(notes.contains("killed by signal 9"), "{notes}");
    let ops = util::u(&c["operations"]);
    // The surviving worker's 100 plus what the lost one had streamed, never all 200.
    assert!((100..200).contains(&ops), "{ops} operations");
    assert!(o.stdout.contains("incomplete"), "{}", o.stdout);
    assert_all_gone(&pids(&kids));
}

#[test]
fn a_killed_runner_takes_its_workers_and_server_along() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, _out) = Running::run(dir.path(), LONG_IO_PLAN);
    let kids = wait_for_children(run.pid(), |c| workers(c).len() == 2);
    assert!(
        kids.iter().any(|(_, c)| c.contains(" serve ")),
        "the built-in server runs: {kids:?}"
    );
    run.signal(libc::SIGKILL);
    let o = run.finish(Duration::from_secs(10));
    assert_eq!(o.code, -libc::SIGKILL);
    assert_all_gone(&pids(&kids));
}

// ---------------------------------------------------------------------------------------------
// Failing targets

/// How a [`FaultServer`] treats each connection.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Answers the head and part of the body, then resets the connection.
    ResetMidBody,
    /// Reads the request and never answers.
    Silent,
    /// Sends the head, then the body one byte every 100 ms.
    SlowBody,
    /// A chunked body that ends after its first chunk, with no terminating chunk.
    TruncatedChunked,
}

/// A loopback server that misbehaves in one way, on port 0, until dropped.
struct FaultServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    fn start(fault: Option<Fault>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            if let Some(fault) = fault {
                                let stop = Arc::clone(&stop);
                                conns.push(std::thread::spawn(move || serve(s, fault, &stop)));
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            })
        };
        FaultServer {
            port,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Head {
    Read,
    /// Nothing arrived for a while: look at the stop flag, then wait again.
    Idle,
    Closed,
}

/// Reads one request head, up to its blank line.
fn read_head(s: &mut BufReader<TcpStream>) -> Head {
    let mut line = String::new();
    let mut started = false;
    loop {
        line.clear();
        match s.read_line(&mut line) {
            Ok(0) => return Head::Closed,
            Ok(_) if line == "\r\n" => return Head::Read,
            Ok(_) => started = true,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if !started {
                    return Head::Idle;
                }
            }
            Err(_) => return Head::Closed,
        }
    }
}

fn serve(stream: TcpStream, fault: Fault, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    // Requests keep coming on a kept-alive connection until the client gives up on it.
    while !stop.load(Ordering::Relaxed) {
        match read_head(&mut r) {
            Head::Read => {}
            Head::Idle => continue,
            Head::Closed => return,
        }
        match fault {
            Fault::ResetMidBody => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial");
                let _ = w.flush();
                // Let the client read the head before the reset destroys what is unread.
                std::thread::sleep(Duration::from_millis(100));
                // Dropping both handles closes the socket; with SO_LINGER 0 that is a reset.
                let _ = linger_zero(&w);
                return;
            }
            Fault::Silent => {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Fault::SlowBody => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
                for _ in 0..1000 {
                    if stop.load(Ordering::Relaxed) || w.write_all(b"x").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Fault::TruncatedChunked => {
                let _ = w.write_all(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
                );
                let _ = w.flush();
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Sets SO_LINGER 0, so that closing sends a TCP reset instead of an orderly FIN.
fn linger_zero(s: &TcpStream) -> std::io::Result<()> {
    rustix::net::sockopt::set_socket_linger(s, Some(Duration::ZERO)).map_err(Into::into)
}

#[test]
fn failing_targets_become_counted_errors_in_every_model() {
    let refused = {
        // A port that was just free: nothing listens there any more.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let reset = FaultServer::start(Some(Fault::ResetMidBody));
    let silent = FaultServer::start(Some(Fault::Silent));
    let slow = FaultServer::start(Some(Fault::SlowBody));
    let chunked = FaultServer::start(Some(Fault::TruncatedChunked));
    // (scenario, target, error category every operation must end in)
    let cases = [
        (
            "refused",
            format!("http://127.0.0.1:{refused}/x"),
            "connect",
        ),
        ("reset", format!("{}x", reset.url()), "body"),
        ("silent", format!("{}x", silent.url()), "timeout"),
        ("slow-body", format!("{}x", slow.url()), "timeout"),
        ("truncated-chunked", format!("{}x", chunked.url()), "body"),
        ("storm-503", "/status?code=503".to_string(), "status"),
        ("dns", "http://loadplan-test.invalid/x".to_string(), "dns"),
    ];
    let mut plan = String::from(
        "version: 1\nname: failing\nbase: builtin\ndefaults: { timeout: 300ms, thresholds: [\"error_rate <= 100%\"] }\nscenarios:\n",
    );
    for (name, url, _) in &cases {
        plan.push_str(&format!(
            "  - name: {name}\n    targets: [\"{url}\"]\n    repeat: 4\n    models: [sequential, threads, async, processes]\n    concurrency: 2\n    workers: 2\n"
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let plan_path = util::write_plan(dir.path(), "plan.yaml", &plan);
    let out = dir.path().join("out");
    let started = Instant::now();
    let o = util::loadplan_in(
        dir.path(),
        &util::run_args(&plan_path, &out),
        &[],
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    // Errors are data, not a run that could not be carried out: the plan accepts them with an
    // `error_rate` threshold, so the run passes (without one it fails: see truth.rs).
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "failing");
    let mut wrong = Vec::new();
    for (name, _, category) in &cases {
        for model in ["sequential", "threads", "async", "processes"] {
            let c = util::cell(&s, name, model);
            let errors = &c["errors"];
            let ops = util::u(&c["operations"]);
            let counted = errors[*category].as_u64().unwrap_or(0);
            if ops != 4 || counted != 4 || c["complete"] != true {
                wrong.push(format!(
                    "{name}/{model}: {ops} ops, errors {errors}, want 4 {category}"
                ));
            }
            // A timeout bounds each operation; two rounds of 300 ms per user at most, plus slack.
            let wall = c["wall_seconds"].as_f64().unwrap_or(f64::MAX);
            if wall > 3.0 {
                wrong.push(format!("{name}/{model}: took {wall} s"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}\n{}", o.stdout);
    assert!(took < Duration::from_secs(45), "the run took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Hostile plans

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans/invalid")
}

/// Runs `loadplan run PLAN` and checks the refusal: exit 2, `file:line:col:` and `expect` in the
/// message, no panic, no output folder.
fn refused(dir: &Path, plan: &Path, expect: &str) -> Result<(), String> {
    let out = dir.join(format!(
        "out-{}",
        plan.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    let o = util::loadplan_in(
        dir,
        &util::run_args(plan, &out),
        &[],
        Duration::from_secs(20),
    );
    let name = plan.display().to_string();
    let located = o.stderr.lines().any(|l| {
        l.strip_prefix(&format!("error: {name}:"))
            .and_then(|rest| {
                let mut parts = rest.splitn(3, ':');
                let line = parts.next()?.parse::<usize>().ok()?;
                let col = parts.next()?.parse::<usize>().ok()?;
                Some(line > 0 && col > 0)
            })
            .unwrap_or(false)
    });
    let mut problems = Vec::new();
    if o.code != 2 {
        problems.push(format!("exit {}", o.code));
    }
    if !located {
        problems.push("no file:line:col".into());
    }
    if !o.stderr.contains(expect) {
        problems.push(format!("message lacks {expect:?}"));
    }
    if o.stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    if out.exists() {
        problems.push("an output folder was created".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}\n{}", problems.join(", "), o.stderr))
    }
}

#[test]
fn every_invalid_plan_is_refused_with_a_location() {
    let mut plans: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 40, "the corpus has {} plans", plans.len());
    let dir = tempfile::tempdir().expect("tempdir");
    // Each fixture's first line says what the message must contain: `# expect: …`.
    let wrong: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .chunks(plans.len().div_ceil(4))
            .map(|chunk| {
                let dir = dir.path();
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|p| {
                            let bytes = std::fs::read(p).expect("fixture");
                            let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
                            let expect = String::from_utf8_lossy(first)
                                .strip_prefix("# expect: ")
                                .map(str::to_string);
                            match expect {
                                None => Some(format!("{}: no `# expect:` line", p.display())),
                                Some(e) => refused(dir, p, &e).err(),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn huge_and_deep_plans_are_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = "version: 1\nname: t\nbase: builtin\n";
    let scenario = "scenarios:\n  - name: a\n    targets: [/hello]\n    repeat: 1\n";
    let n = 200_000;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "huge.yaml",
            format!("{head}description: \"{}\"\n{scenario}", "x".repeat(2 << 20)),
            "larger than",
        ),
        (
            "deep-flow.yaml",
            format!(
                "{head}description: {}{}\n{scenario}",
                "[".repeat(n),
                "]".repeat(n)
            ),
            "nested more than",
        ),
        (
            "deep-maps.yaml",
            format!(
                "{head}description: {}1{}\n{scenario}",
                "{a: ".repeat(n / 2),
                "}".repeat(n / 2)
            ),
            "nested more than",
        ),
        (
            // One anchored list of 100 000 items, repeated 100 000 times: 10^10 values.
            "wide-alias-bomb.yaml",
            format!(
                "{head}x: &x [{}]\ndescription: [{}]\n{scenario}",
                vec!["a"; 100_000].join(","),
                vec!["*x"; 100_000].join(",")
            ),
            "expands to more than",
        ),
        (
            // A request with 5 000 headers, repeated 5 000 times through an alias.
            "header-alias-bomb.yaml",
            format!(
                "{head}scenarios:\n  - name: a\n    repeat: 1\n    targets: [&t {{url: /x, headers: {{{}}}}}, {}]\n",
                (0..5000)
                    .map(|i| format!("h{i}: v"))
                    .collect::<Vec<_>>()
                    .join(", "),
                vec!["*t"; 5000].join(", ")
            ),
            "expands to more than",
        ),
    ];
    for (name, text, expect) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        let t = Instant::now();
        if let Err(e) = refused(dir.path(), &p, expect) {
            panic!("{e}");
        }
        // Generous: a debug build refuses each in well under a second.
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{name}: {:?}",
            t.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Output safety

/// A plan whose only target is a server that counts connections.
fn counted_plan(server: &FaultServer) -> String {
    format!(
        "version: 1\nname: counted\nbase: {}\nscenarios:\n  - name: a\n    targets: [/hello]\n    repeat: 5\n    models: [sequential]\n",
        server.url()
    )
}

#[test]
fn an_unwritable_output_folder_fails_before_any_request() {
    use std::os::unix::fs::PermissionsExt;
    let server = FaultServer::start(None);
    let dir = tempfile::tempdir().expect("tempdir");
    // The runner may run as an unprivileged user below: let it read the plan.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let plan = util::write_plan(dir.path(), "plan.yaml", &counted_plan(&server));
    let readonly = dir.path().join("readonly");
    std::fs::create_dir(&readonly).expect("mkdir");
    std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let a_file = util::write_plan(dir.path(), "a-file", "not a folder");
    let outs = [
        readonly.clone(),
        readonly.join("deeper"),
        a_file.join("out"),
    ];
    for out in &outs {
        let mut cmd = Running::command(dir.path(), &util::run_args(&plan, out));
        if rustix::process::geteuid().is_root() {
            // root writes into read-only folders regardless: run as `nobody` so the mode counts.
            cmd.uid(65534).gid(65534);
        }
        let o = Running::spawn(cmd).finish(Duration::from_secs(20));
        assert_eq!(o.code, 3, "{}: {o:?}", out.display());
        assert!(o.stderr.contains("not writable"), "{}", o.stderr);
    }
    assert_eq!(
        server.accepted.load(Ordering::Relaxed),
        0,
        "no request may be sent before the output folder is known to be writable"
    );
    std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_plan_name_cannot_escape_the_output_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("a/b");
    std::fs::create_dir_all(&base).expect("mkdir");
    let out = base.join("out");
    for (i, name) in ["../../etc", "..", "/tmp/abs", "a/../../b"]
        .iter()
        .enumerate()
    {
        let plan = format!(
            "version: 1\nname: \"{name}\"\nscenarios:\n  - name: s\n    cpu: {{ kernel: sum_squares, n: 1000 }}\n    repeat: 1\n    models: [sequential]\n"
        );
        let p = util::write_plan(&base, &format!("plan{i}.yaml"), &plan);
        let o = util::loadplan(&base, &util::run_args(&p, &out));
        assert_eq!(o.code, 0, "{name}: {o:?}");
    }
    // Every file written is below `out`; nothing appeared beside or above it.
    let mut outside = Vec::new();
    let mut inside = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.starts_with(&out) {
                inside += usize::from(p.ends_with("summary.json"));
            } else if p.extension().is_none_or(|e| e != "yaml") {
                outside.push(p);
            }
        }
    }
    assert_eq!(inside, 4, "four reports inside --out");
    assert!(outside.is_empty(), "written outside --out: {outside:?}");
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// Every file below `dir`, as bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

#[test]
fn planted_secrets_never_appear_in_any_output() {
    let secret = format!("s3cr3t-{}-planted", std::process::id());
    let bad_port = "not-a-port-s3cr3t";
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = "version: 1
name: secrets
base: builtin
scenarios:
  - name: in-the-url
    targets: [\"/hello?token=${LOADPLAN_TEST_SECRET}\", \"/status?code=503&t=${LOADPLAN_TEST_SECRET}\"]
    repeat: 3
    models: [sequential, processes]
    concurrency: 2
    thresholds: [\"error_rate <= 100%\"]
  - name: in-headers-and-body
    targets:
      - url: /io?delay=1ms
        method: POST
        headers: { authorization: \"Bearer ${LOADPLAN_TEST_SECRET}\" }
        body: '{\"password\": \"${LOADPLAN_TEST_SECRET}\"}'
    repeat: 3
    models: [async]
";
    let p = util::write_plan(dir.path(), "plan.yaml", plan);
    // A plan refused because of a variable's value: the message shows the reference only.
    let invalid = util::write_plan(
        dir.path(),
        "invalid.yaml",
        "version: 1\nname: bad\nscenarios:\n  - name: a\n    targets: [\"http://127.0.0.1:${LOADPLAN_TEST_PORT}/\"]\n    repeat: 1\n",
    );
    let out = dir.path().join("out");
    let envs = [
        ("LOADPLAN_TEST_SECRET", secret.as_str()),
        ("LOADPLAN_TEST_PORT", bad_port),
    ];
    let limit = Duration::from_secs(60);
    let runs = [
        util::loadplan_in(dir.path(), &util::run_args(&p, &out), &envs, limit),
        util::loadplan_in(
            dir.path(),
            &["validate", p.to_str().expect("utf-8")],
            &envs,
            limit,
        ),
        util::loadplan_in(dir.path(), &util::run_args(&invalid, &out), &envs, limit),
    ];
    assert_eq!(runs[0].code, 0, "{:?}", runs[0]);
    assert_eq!(runs[2].code, 2, "{:?}", runs[2]);
    assert!(
        runs[2].stderr.contains("${LOADPLAN_TEST_PORT}"),
        "{}",
        runs[2].stderr
    );
    for o in &runs {
        for text in [&o.stdout, &o.stderr] {
            assert!(
                !text.contains(&secret) && !text.contains(bad_port),
                "leaked: {text}"
            );
        }
    }
    let files = all_files(&out);
    assert!(files.len() >= 2, "{files:?}");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&secret),
            "{} holds the secret",
            path.display()
        );
        assert!(text.contains("${LOADPLAN_TEST_SECRET}") || !path.ends_with("summary.json"));
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded resources, measured inside a fresh process of this test binary

/// Runs the ignored probe `name` of this module alone, in a new process of this test binary, so
/// that no other test's threads, files or allocations blur what it counts. `targets` reach the
/// probe through the environment.
fn probe(name: &str, targets: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let o = Command::new(exe)
        .args([
            &format!("faults::{name}"),
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("LOADPLAN_FAULTS_PROBE", targets)
        .stdin(Stdio::null())
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("1 passed"),
        "{name}:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The targets the starting test passed in.
fn in_probe() -> Vec<String> {
    let targets = std::env::var("LOADPLAN_FAULTS_PROBE")
        .expect("run through its test, which starts it in a fresh process");
    targets.split_whitespace().map(str::to_string).collect()
}

/// Counts the observer's view of a run: open descriptors at each cell start, live heap peaks.
struct Counting {
    fds_at_start: std::sync::Mutex<Vec<usize>>,
}

impl loadplan::run::Observer for Counting {
    fn cell_started(
        &self,
        _: usize,
        _: usize,
        _: &str,
        _: Option<u64>,
        _: Arc<std::sync::atomic::AtomicU64>,
    ) {
        self.fds_at_start.lock().expect("lock").push(open_fds());
    }
    fn cell_finished(&self, _: usize, _: usize, _: &str, _: &loadplan::stats::Progress) {}
    fn note(&self, _: loadplan::run::Notice, _: &str) {}
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// What each open descriptor is, for a failure message.
fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            )
        })
        .collect()
}

fn parse(text: &str) -> loadplan::plan::Plan {
    loadplan::plan::parse(Path::new("probe.yaml"), text).expect("valid plan")
}

#[test]
fn descriptors_are_not_leaked_across_cells() {
    // The servers live here, outside the probe, so that their own sockets are not counted.
    let chunked = FaultServer::start(Some(Fault::TruncatedChunked));
    let silent = FaultServer::start(Some(Fault::Silent));
    probe(
        "probe_descriptors",
        &format!("{}a {}a", chunked.url(), silent.url()),
    );
}

#[test]
#[ignore = "a probe: started alone in a fresh process by descriptors_are_not_leaked_across_cells"]
fn probe_descriptors() {
    let targets = in_probe();
    let [chunked, silent] = targets.as_slice() else {
        panic!("two targets expected: {targets:?}");
    };
    // The built-in server would be this test binary re-executed, so the targets are loopback
    // servers of the starting test instead; `processes` would re-execute the test binary too,
    // so its cells are covered by the end-to-end tests above.
    let plan = parse(&format!(
        "version: 1
name: fds
defaults: {{ timeout: 100ms }}
scenarios:
  - name: broken
    targets: [\"{chunked}\", \"http://127.0.0.1:1/refused\"]
    repeat: 10
    models: [sequential, threads, async]
    concurrency: [1, 4, 8]
  - name: silent
    targets: [\"{silent}\"]
    repeat: 4
    models: [threads, async]
    concurrency: 4
  - name: cpu
    cpu: {{ kernel: sum_squares, n: 1000 }}
    repeat: 10
    models: [sequential, threads, async]
    concurrency: 4
"
    ));
    let cells = plan.cells(2);
    let observer = Counting {
        fds_at_start: std::sync::Mutex::new(Vec::new()),
    };
    // A first run opens what lives as long as the process: tokio's signal driver creates one
    // socket pair per process, on the first runtime. Count from there.
    loadplan::run::execute(&plan, &cells, "warm", &observer, None).expect("run");
    observer.fds_at_start.lock().expect("lock").clear();
    let before = open_fds();
    for round in 0..3 {
        let results = loadplan::run::execute(&plan, &cells, &format!("r{round}"), &observer, None)
            .expect("run");
        assert_eq!(results.cells.len(), cells.len());
        assert_eq!(open_fds(), before, "after run {round}: {:?}", fd_targets());
    }
    let seen = observer.fds_at_start.lock().expect("lock").clone();
    // Every cell starts once a run, and the CPU scenario's three cells once per slice: they take
    // turns in two slices each (10 operations over 4 users).
    assert_eq!(seen.len(), 3 * (cells.len() + 3));
    assert!(
        seen.iter().all(|n| *n == before),
        "open descriptors at each cell start, from {before}: {seen:?}"
    );
}

#[test]
fn memory_stays_flat_however_many_operations() {
    probe("probe_memory", "");
}

#[test]
#[ignore = "a probe: started alone in a fresh process by memory_stays_flat_however_many_operations"]
fn probe_memory() {
    in_probe();
    let plan_for = |repeat: u64| {
        parse(&format!(
            "version: 1
name: mem
scenarios:
  - name: tiny
    cpu: {{ kernel: sum_squares, n: 1 }}
    repeat: {repeat}
    models: [sequential, threads, async]
    concurrency: 4
"
        ))
    };
    let observer = Counting {
        fds_at_start: std::sync::Mutex::new(Vec::new()),
    };
    let mut peaks = Vec::new();
    for repeat in [10_000u64, 200_000] {
        let plan = plan_for(repeat);
        let cells = plan.cells(2);
        alloc::reset_peak();
        let results = loadplan::run::execute(&plan, &cells, "m", &observer, None).expect("run");
        let ops: u64 = results
            .cells
            .iter()
            .map(|c| c.measured.recorder.operations)
            .sum();
        assert_eq!(ops, 3 * repeat);
        drop(results);
        peaks.push(alloc::peak());
    }
    // 570 000 more operations: storing even 8 bytes each would add 4.5 MB. Histograms, counters
    // and per-second timeline points do not grow with the count.
    let growth = peaks[1].saturating_sub(peaks[0]);
    println!("peak heap: {peaks:?}");
    assert!(
        growth < 1 << 20,
        "peak heap grew by {growth} bytes: {peaks:?}"
    );
}

/// A counting allocator for this test binary: live and peak heap bytes, for the memory probe.
mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    struct Counting;

    // SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller upholds `alloc`'s contract, which we forward.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`, and `new_size` is the caller's valid request.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
                grew(new_size);
            }
            p
        }
    }

    fn grew(bytes: usize) {
        let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Starts a new peak from what is live now.
    pub fn reset_peak() {
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The most bytes live at once since the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}
