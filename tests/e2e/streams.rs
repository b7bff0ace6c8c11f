//! Streamed responses timed event by event, against a server loadplan did not write (a Python
//! server, standard library only) and against the built-in server's `/sse`: time to the first
//! event and the gaps between events land in `connections.first_event_us` and `event_gap_us`,
//! events are counted, and `p99{phase=first_event}` / `{phase=event_gap}` thresholds judge them.

use std::path::Path;

use super::util::{self, cell, u};

/// `GET /sse?n=N&every=MS&pause=MS`: server-sent events, N of them, the first after `pause`,
/// then one every `every` ms, on a fixed schedule, each gap with a comment (`: ping`) halfway
/// that is no event; `GET /chunks?…`: the same schedule as chunks of newline-delimited JSON.
/// Both chunked, over HTTP/1.1 with TCP_NODELAY, so every write leaves at once.
const SERVER: &str = r#"
import socket, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    def at(self, t):
        d = t - time.monotonic()
        if d > 0: time.sleep(d)
    def do_GET(self):
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        n, every, pause = int(q.get("n", 20)), float(q.get("every", 50)) / 1e3, float(q.get("pause", 300)) / 1e3
        sse = u.path == "/sse"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if sse else "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        head = time.monotonic()
        start = head + pause
        for i in range(n):
            if sse and i > 0:
                self.at(start + (i - 0.5) * every)
                self.chunk(b": ping\n\n")
            self.at(start + i * every)
            self.chunk(b'data: {"n": %d}\n\n' % i if sse else b'{"n": %d}\n' % i)
            if i == 0:
                # The server's own clock: how long after the head its first event left.
                log.write("%s %.6f\n" % (u.path, time.monotonic() - head))
        self.wfile.write(b"0\r\n\r\n")

log = open(sys.argv[1], "a", buffering=1)
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// For each `/sse` response of the streamer's log, in the order sent, how long after its head
/// the server wrote its first event, in µs.
fn first_events_us(server: &util::LoggedApi) -> Vec<u64> {
    server
        .lines()
        .iter()
        .filter(|l| l[0] == "/sse")
        .map(|l| (l[1].parse::<f64>().unwrap_or(f64::NAN) * 1e6) as u64)
        .collect()
}

fn within(got: u64, want_ms: u64, slack_ms: u64, what: &str) {
    within_us(got, want_ms * 1000, slack_ms, what);
}

fn within_us(got: u64, want_us: u64, slack_ms: u64, what: &str) {
    let (lo, hi) = (
        want_us.saturating_sub(slack_ms * 1000),
        want_us + slack_ms * 1000,
    );
    assert!(
        (lo..=hi).contains(&got),
        "{what}: {got} µs, want {want_us} µs ± {slack_ms} ms"
    );
}

/// 20 events 50 ms apart after a 300 ms pause: the first event 300 ms after the head, gaps of 50 ms (the
/// comments between events are not events), every event counted; chunks of a chunked body are
/// events too. The thresholds on both phases pass.
#[test]
fn events_are_timed_from_a_python_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let server = util::LoggedApi::start(d, SERVER, &[]);
    let plan = util::write_plan(
        d,
        "streams.yaml",
        &format!(
            r#"version: 1
name: streams
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: sse
    targets: [ "/sse?n=20&every=50&pause=300" ]
    repeat: 4
    models: [sequential, async]
    concurrency: 4
    thresholds: [ "p50{{phase=first_event}} < 500ms", "p50{{phase=event_gap}} < 100ms" ]
  - name: chunks
    targets: [ "/chunks?n=5&every=20&pause=0" ]
    repeat: 2
    models: [async]
    concurrency: 1
"#,
            port = server.port
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "streams");
    // The server's own pauses, 4 per model in the order the models ran.
    let pauses = first_events_us(&server);
    assert_eq!(pauses.len(), 8, "{pauses:?}");
    for (m, model) in ["sequential", "async"].iter().enumerate() {
        let c = cell(&s, "sse", model);
        let k = &c["connections"];
        assert_eq!(u(&c["successes"]), 4, "{c}");
        assert_eq!((u(&k["streamed"]), u(&k["events"])), (4, 80), "{k}");
        assert_eq!(u(&k["first_event_us"]["count"]), 4, "{k}");
        assert_eq!(u(&k["event_gap_us"]["count"]), 76, "{k}");
        // The first event is due 300 ms after the server sent the head, which the time to first
        // byte measures. On a busy machine the sleeping Python thread wakes late (up to 22 ms
        // seen with both cores compiling), so the pause that counts is the one the server
        // itself measured: loadplan's first event is within the issue's 5 ms of head + that
        // pause, and the pause is the 300 ms asked or later, never earlier.
        let mut pause: Vec<u64> = pauses[m * 4..m * 4 + 4].to_vec();
        pause.sort_unstable();
        // The rank HdrHistogram's p50 of four values takes: the second.
        let pause = pause[1];
        assert!(pause >= 299_000, "the server paused {pause} µs");
        let head = u(&k["ttfb_us"]["p50"]);
        let first = u(&k["first_event_us"]["p50"]);
        eprintln!("{model}: first event p50 {first} µs; head {head} µs + server pause {pause} µs");
        within_us(
            first,
            head + pause,
            5,
            &format!("first event p50 (head {head} µs + the server's pause {pause} µs)"),
        );
        within(u(&k["event_gap_us"]["p50"]), 50, 5, "event gap p50");
        let thresholds = c["thresholds"].as_array().expect("thresholds");
        assert_eq!(thresholds.len(), 2, "{c}");
        assert!(thresholds.iter().all(|t| t["passed"] == true), "{c}");
    }
    let k = &cell(&s, "chunks", "async")["connections"];
    assert_eq!((u(&k["streamed"]), u(&k["events"])), (2, 10), "{k}");
    within(u(&k["event_gap_us"]["p50"]), 20, 10, "chunk gap p50");
    shown_in_console_and_html(&o.stdout, &util::run_dir(&out, "streams"));
}

/// The console and the HTML report show the phases streams have (first event, event gap) with
/// the event counts, one row per cell that streamed: `sequential  4  80  20.0  …`.
fn shown_in_console_and_html(console: &str, run: &Path) {
    // One table per scenario (sse, then chunks).
    let tables = util::console_streams_tables(console);
    let [table, chunked] = tables[..] else {
        panic!("two streams tables in the console:\n{console}");
    };
    let header: Vec<&str> = table.lines().next().unwrap_or("").split("  ").collect();
    for phase in ["first_event p50/p99", "event_gap p50/p99", "events/resp"] {
        assert!(
            header.iter().any(|h| h.trim() == phase),
            "{phase}: {header:?}"
        );
    }
    // label, streamed, events, events per response, first event p50 / p99, event gap p50 / p99.
    let sequential = util::row_words(table, "sequential");
    assert_eq!(sequential[1..4], ["4", "80", "20.0"], "{sequential:?}");
    assert!(sequential[4].ends_with("ms"), "{sequential:?}");
    let chunks = util::row_words(chunked, "async c=1");
    assert_eq!(chunks[3..6], ["2", "10", "5.00"], "{chunks:?}");
    let streams = util::html_streams_table(run);
    for words in [
        "first event",
        "event gap",
        "events/resp.",
        "<td>4</td><td>80</td><td>20.0</td>",
    ] {
        assert!(streams.contains(words), "{words}: {streams}");
    }
}

/// The built-in server's `/sse` streams on its schedule, and a threshold on the first event that
/// the stream cannot meet fails the run with the observed time.
#[test]
fn the_builtin_sse_endpoint_and_a_failing_first_event_threshold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "builtin-sse.yaml",
        r#"version: 1
name: builtin-sse
base: builtin
scenarios:
  - name: sse
    targets: [ "/sse?events=5&every=20ms&delay=200ms" ]
    repeat: 2
    models: [async]
    concurrency: 2
    thresholds: [ "p50{phase=first_event} < 100ms" ]
"#,
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 1, "{o:?}");
    let s = util::summary(&out, "builtin-sse");
    let c = cell(&s, "sse", "async");
    let k = &c["connections"];
    assert_eq!((u(&k["streamed"]), u(&k["events"])), (2, 10), "{k}");
    // Loose: this only shows the built-in server keeps its schedule (a loaded machine wakes
    // its timer late); the Python test above is the accuracy check.
    within(u(&k["first_event_us"]["p50"]), 200, 40, "first event p50");
    within(u(&k["event_gap_us"]["p50"]), 20, 10, "event gap p50");
    let t = &c["thresholds"][0];
    assert_eq!(t["passed"], false, "{t}");
    assert!(util::f(&t["observed"]) >= 180_000.0, "{t}");
}
