//! Errors that say where they happened: a raw-socket server written here misbehaves on purpose,
//! one path per misbehaviour, and every operation of every cell must land in the category of the
//! phase it failed in, its message saying how far the exchange had come, under every model.
//! Beside it, a server that closes every connection after its response without saying
//! `Connection: close`: idempotent requests on a reused connection are sent once more on a new
//! one and counted as `retried`; a POST never is, and fails as `protocol`.
//!
//! "Unreachable" needs a network namespace of the test's own (root): there a route of type
//! `unreachable` answers at once, and nothing leaves the machine. Without root the case is
//! skipped, saying so; every other case runs on loopback as any user.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::netns::Netns;
use super::util::{self, cell, u};

/// A fatal TLS alert record (handshake_failure), as a server that refuses a handshake sends it.
const TLS_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

/// A loopback server that misbehaves by path, on port 0, until dropped.
struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    fn start(listener: TcpListener) -> RawServer {
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let stop = Arc::clone(&stop);
                            conns.push(std::thread::spawn(move || serve(s, &stop)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                    conns.retain(|c: &JoinHandle<()>| !c.is_finished());
                }
                for c in conns {
                    let _ = c.join();
                }
            })
        };
        RawServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (head and a `content-length` body); its path, or `None` when the client
/// closed or the test is stopping.
fn read_request(r: &mut BufReader<TcpStream>, stop: &AtomicBool) -> Option<String> {
    let mut path = None;
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                if path.is_none() {
                    path = line.split_whitespace().nth(1).map(str::to_string);
                } else if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body).ok()?;
    path
}

/// Sets SO_LINGER 0, so that closing sends a TCP reset instead of an orderly FIN.
fn linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Writes `bytes` one at a time, `every` apart, until the client goes or the test stops.
fn trickle(w: &mut TcpStream, bytes: impl Iterator<Item = u8>, every: Duration, stop: &AtomicBool) {
    for b in bytes {
        if stop.load(Ordering::Relaxed) || w.write_all(&[b]).is_err() {
            return;
        }
        std::thread::sleep(every);
    }
}

fn serve(stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut first = [0u8; 1];
    // A TLS client speaks first with a handshake record: refuse it with an alert.
    let tls = loop {
        match stream.peek(&mut first) {
            Ok(0) => return,
            Ok(_) => break first[0] == 0x16,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            Err(_) => return,
        }
    };
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    if tls {
        let mut hello = [0u8; 4096];
        let _ = (&stream).read(&mut hello);
        let _ = w.write_all(&TLS_ALERT);
        std::thread::sleep(Duration::from_millis(50));
        return;
    }
    let mut r = BufReader::new(stream);
    while let Some(path) = read_request(&mut r, stop) {
        match path.as_str() {
            "/half-reset" => {
                // 27 bytes of a response head, then a reset.
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Le");
                std::thread::sleep(Duration::from_millis(100));
                linger_zero(&w);
                return;
            }
            "/huge-header" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\nx-huge: ");
                let _ = w.write_all(&vec![b'a'; 1 << 20]);
                let _ = w.write_all(b"\r\ncontent-length: 0\r\n\r\n");
                return;
            }
            "/close" => return,
            "/not-http" => {
                let _ = w.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            "/trickle" => {
                let head = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                trickle(
                    &mut w,
                    head.iter().copied(),
                    Duration::from_millis(250),
                    stop,
                );
                return;
            }
            "/endless" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n");
                let kib = [b'x'; 1024];
                while !stop.load(Ordering::Relaxed) && w.write_all(&kib).is_ok() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return;
            }
            "/short" => {
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789");
                return;
            }
            "/ok-then-close" => {
                // A complete response that does not say `Connection: close`, then the close a
                // server with a short idle timeout makes: the next request on the connection is
                // already on its way and gets no answer.
                let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
            _ => {
                let _ = w.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            }
        }
    }
}

/// A namespace of this test's own with loopback up and a route that answers "unreachable" for
/// a private network that exists nowhere; `None` (and why, printed) when not root.
fn unreachable_namespace() -> Option<Netns> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("errors: skipping the unreachable case: creating a network namespace needs root");
        return None;
    }
    let ns = Netns::add(format!("lp-errors-{}", std::process::id()));
    ns.exec("ip link set lo up");
    ns.exec("ip route add unreachable 10.213.99.0/24");
    Some(ns)
}

const MODELS: [&str; 4] = ["sequential", "threads", "async", "processes"];

#[test]
fn every_fault_lands_in_its_phase_category_in_every_model() {
    let ns = unreachable_namespace();
    // The server listens where loadplan runs: inside the namespace when there is one.
    let listener = match &ns {
        Some(ns) => ns.run(|| TcpListener::bind("127.0.0.1:0")),
        None => TcpListener::bind("127.0.0.1:0"),
    }
    .expect("bind");
    let refused = match &ns {
        Some(ns) => ns.run(|| TcpListener::bind("127.0.0.1:0")),
        None => TcpListener::bind("127.0.0.1:0"),
    }
    .expect("bind")
    .local_addr()
    .expect("addr")
    .port();
    let server = RawServer::start(listener);
    // (scenario, target, its category, what its messages must say, operations)
    let mut cases = vec![
        (
            "half-reset",
            server.url("/half-reset"),
            "protocol",
            "reset after 27 bytes of the response head",
        ),
        (
            "huge-header",
            server.url("/huge-header"),
            "protocol",
            "the response head is too large after",
        ),
        (
            "close",
            server.url("/close"),
            "protocol",
            "closed before any byte of the response",
        ),
        (
            "not-http",
            server.url("/not-http"),
            "protocol",
            "malformed response head (invalid HTTP version parsed) after 21 bytes",
        ),
        (
            "trickle",
            server.url("/trickle"),
            "timeout",
            "of the response head",
        ),
        (
            "endless",
            server.url("/endless"),
            "timeout",
            "after the response head and",
        ),
        (
            "short",
            server.url("/short"),
            "body",
            "after 10 bytes of the body",
        ),
        (
            "refused",
            format!("http://127.0.0.1:{refused}/"),
            "connect",
            "connect: Connection refused",
        ),
        (
            "tls-alert",
            format!("https://127.0.0.1:{}/", server.port),
            "tls",
            "alert",
        ),
        (
            "dns",
            "http://loadplan-errors.invalid/".to_string(),
            "dns",
            "dns: the name does not resolve",
        ),
    ];
    if ns.is_some() {
        cases.push((
            "unreachable",
            "http://10.213.99.1:80/".to_string(),
            "connect",
            "connect: No route to host",
        ));
    }
    let mut plan =
        String::from("version: 1\nname: faults\ndefaults: { timeout: 1s }\nscenarios:\n");
    for (name, url, category, _) in &cases {
        // A timeout costs the whole second: fewer of those.
        let repeat = if *category == "timeout" { 2 } else { 4 };
        plan.push_str(&format!(
            "  - name: {name}\n    targets: [\"{url}\"]\n    repeat: {repeat}\n    models: [sequential, threads, async, processes]\n    concurrency: 2\n    workers: 2\n"
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let plan_path = util::write_plan(dir.path(), "faults.yaml", &plan);
    let out = dir.path().join("out");
    let started = Instant::now();
    let o = util::loadplan_with(
        dir.path(),
        &[
            "run",
            util::path_str(&plan_path),
            "--out",
            util::path_str(&out),
        ],
        Duration::from_secs(120),
        |cmd| {
            if let Some(ns) = &ns {
                ns.enter(cmd);
            }
        },
    );
    let took = started.elapsed();
    drop(server);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    // Errors no `error_rate` threshold accepts fail the gate: exit 1, not a run that broke.
    assert_eq!(o.code, 1, "{o:?}");
    // Bounded by the plan: 2 timeouts of 1 s per user in the slowest cells, the rest at once.
    assert!(took < Duration::from_secs(90), "{took:?}");
    let s = util::summary(&out, "faults");
    let mut wrong = Vec::new();
    for (name, _, category, phase) in &cases {
        for model in MODELS {
            let c = cell(&s, name, model);
            let ops = u(&c["operations"]);
            let errors = &c["errors"];
            let total: u64 = errors.as_object().expect("errors").values().map(u).sum();
            let messages = c["error_messages"][*category].to_string();
            if model == "async" {
                eprintln!("{name}: {category}: {messages}");
            }
            if ops == 0 || u(&errors[*category]) != ops || total != ops {
                wrong.push(format!("{name} {model}: {ops} operations, errors {errors}"));
            } else if !messages.contains(phase) {
                wrong.push(format!("{name} {model}: `{phase}` not in {messages}"));
            }
            let rss = u(&c["peak_rss_bytes"]);
            if rss >= 50 << 20 {
                wrong.push(format!("{name} {model}: peak RSS {rss} bytes"));
            }
            if *category == "timeout" {
                // A connection that was opened and then timed out was opened all the same.
                let opened = u(&c["connections"]["opened"]);
                if opened == 0 {
                    wrong.push(format!("{name} {model}: opened 0 connections"));
                }
            }
        }
    }
    let peak = util::every_cell(&s)
        .iter()
        .map(|c| u(&c["peak_rss_bytes"]))
        .max()
        .unwrap_or(0);
    eprintln!("faults: {took:?}, peak RSS {:.1} MB", peak as f64 / 1e6);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every category is a column of summary.json, zero or not.
    let c = cell(&s, "short", "async");
    for category in util::ERROR_CATEGORIES {
        assert!(
            c["errors"][category].is_u64(),
            "{category}: {}",
            c["errors"]
        );
    }
}

#[test]
fn a_server_that_closes_after_every_response_costs_gets_nothing_and_posts_an_error_each() {
    let server = RawServer::start(TcpListener::bind("127.0.0.1:0").expect("bind"));
    let url = server.url("/ok-then-close");
    let plan = format!(
        r#"version: 1
name: idle-close
defaults: {{ timeout: 5s }}
scenarios:
  - name: gets
    targets: ["{url}"]
    repeat: 500
    models: [threads, async, processes]
    concurrency: 10
    workers: 2
  - name: posts
    targets: [{{ url: "{url}", method: POST, body: "{{}}" }}]
    repeat: 500
    models: [async]
    concurrency: 10
    thresholds: ["error_rate <= 100%"]
  - name: gets-without-retry
    targets: ["{url}"]
    retry: false
    repeat: 200
    models: [async]
    concurrency: 10
    thresholds: ["error_rate <= 100%"]
"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let plan_path = util::write_plan(dir.path(), "idle.yaml", &plan);
    let out = dir.path().join("out");
    let o = util::run_plan(dir.path(), &plan_path, &out);
    drop(server);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "idle-close");
    for model in ["threads", "async", "processes"] {
        let c = cell(&s, "gets", model);
        let ops = u(&c["operations"]);
        let retried = u(&c["retried"]);
        let opened = u(&c["connections"]["opened"]);
        eprintln!("gets {model}: {ops} operations, {opened} connections, {retried} retried");
        assert_eq!(ops, 500, "{c}");
        assert_eq!(u(&c["successes"]), 500, "{model}: {}", c["error_messages"]);
        // The server never answers twice on a connection: every request ends on a new one, so
        // each one sent on a reused connection was retried.
        assert_eq!(opened, ops, "{model}");
        let reused = ops - (opened - retried);
        assert_eq!(retried, reused, "{model}");
        assert!(retried > 0, "{model}: the race never happened");
    }
    for name in ["posts", "gets-without-retry"] {
        let c = cell(&s, name, "async");
        let ops = u(&c["operations"]);
        let protocol = u(&c["errors"]["protocol"]);
        eprintln!("{name}: {ops} operations, {protocol} protocol errors");
        assert!(protocol > 0, "{name}: {c}");
        assert_eq!(
            u(&c["successes"]) + protocol,
            ops,
            "{name}: {}",
            c["errors"]
        );
        assert_eq!(u(&c["retried"]), 0, "{name}");
        let messages = c["error_messages"]["protocol"].to_string();
        assert!(
            messages.contains("before any byte of the response"),
            "{messages}"
        );
    }
}
