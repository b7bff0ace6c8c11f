//! Service-level checks over time and the PR comment: a windowed threshold against a target
//! that is slow for four seconds of a 20-second cell (a Python server of the test's own), and
//! `summary.md` of a reduced demo checked as CommonMark (GitHub's flavour: tables, HTML blocks).
//!
//! Every process started here is stopped by its pid; every port is loopback.

use std::path::Path;
use std::time::Duration;

use pulldown_cmark::{Event, Options, Parser, Tag};

use super::util;

/// Answers every GET with `ok` in one write (TCP_NODELAY, so no Nagle stall): after 3 ms, but
/// after 400 ms from second 8 to second 12 after its first request.
const SLOW_SERVER: &str = r#"
import socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

start = []
lock = threading.Lock()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        with lock:
            if not start:
                start.append(time.monotonic())
        t = time.monotonic() - start[0]
        time.sleep(0.4 if 8.0 <= t < 12.0 else 0.003)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
    def log_message(self, *a):
        pass

s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Issue 25: `p99 over 2s < 50ms` fails and names where (seconds 8 to 12), while the same
/// limit over the whole cell holds; every output says so and the timeline shades it.
#[test]
fn a_windowed_threshold_names_the_window_that_broke_it() {
    let dir = tempfile::tempdir().expect("dir");
    // The Python server (slow.py), stopped by its pid however the test ends.
    let server = util::PyServer::start(dir.path(), "slow.py", SLOW_SERVER, &[]);
    let plan = util::write_plan(
        dir.path(),
        "windows.yaml",
        &format!(
            "version: 1\nname: windows\nbase: http://127.0.0.1:{}\nscenarios:\n  - name: api\n    targets: [ /orders ]\n    duration: 20s\n    models: [async]\n    concurrency: 2\n    thresholds: [ \"p99 < 50ms\", \"p99 over 2s < 50ms\", \"drift(p99) < 1000000%/h\" ]\n",
            server.port()
        ),
    );
    let out = dir.path().join("out");
    let r = util::loadplan_in(
        dir.path(),
        &["run", util::path_str(&plan), "--out", util::path_str(&out)],
        &[],
        Duration::from_secs(90),
    );
    drop(server);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = util::summary(&out, "windows");
    let c = util::cell(&s, "api", "async");
    let results = c["thresholds"].as_array().expect("thresholds");
    let whole = &results[0];
    assert_eq!(whole["passed"], true, "the whole cell's p99: {whole}");
    let w = &results[1];
    assert_eq!(w["passed"], false, "{w}");
    let windows = &w["windows"];
    assert_eq!(windows["seconds"], 2);
    // The slow stretch, as windows of 2 s see it: a window breaks when most of it is slow (a
    // closed model sends few requests while the target is slow), so from second 8 to 12, one
    // second either side at most for where the server's clock started.
    let spans: Vec<(u64, u64)> = windows["breaches"]
        .as_array()
        .expect("breaches")
        .iter()
        .map(|b| (util::u(&b["from_s"]), util::u(&b["to_s"])))
        .collect();
    assert!(
        spans
            .iter()
            .any(|(from, to)| (7..=8).contains(from) && (12..=13).contains(to)),
        "{spans:?}"
    );
    let first = &windows["first_breach"];
    let first = (util::u(&first["from_s"]), util::u(&first["to_s"]));
    assert!(first.0 <= 8 && first.1 - first.0 == 2, "{first:?}");
    let named = format!(
        "in {}–{} s, the first window of 2 s that broke it",
        first.0, first.1
    );
    let text = w["observed_text"].as_str().expect("text");
    assert!(text.contains(&named), "{text}");
    assert_eq!(results[2]["unit"], "fraction_per_h");
    // Every output names the window.
    let run = util::run_dir(&out, "windows");
    for (file, what) in [
        ("summary.md", named.as_str()),
        ("junit.xml", named.as_str()),
        ("index.html", "class=\"breach\""),
    ] {
        let body = std::fs::read_to_string(run.join(file)).expect(file);
        assert!(body.contains(what), "{file} does not say {what}");
    }
    assert!(r.stdout.contains(&named), "{}", r.stdout);
}

/// The demo, reduced (one round, fewer operations): `summary.md` opens with at most 2 KiB
/// before its first `<details>`, parses as CommonMark with every table a table and every
/// `<details>` closed, and `--markdown-max-bytes` cuts whole sections and says which.
#[test]
fn summary_md_is_a_pr_comment() {
    let dir = tempfile::tempdir().expect("dir");
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/concurrency.yaml"),
    )
    .expect("the demo plan");
    let reduced = demo
        .replace("rounds: 3", "rounds: 1")
        .replace("repeat: 64", "repeat: 4")
        .replace("n: 72000000", "n: 100000")
        .replace("repeat: 40", "repeat: 4");
    assert_ne!(reduced, demo);
    let plan = util::write_plan(dir.path(), "demo.yaml", &reduced);
    let out = dir.path().join("out");
    let r = util::run_plan_with(
        dir.path(),
        &plan,
        &out,
        &["--markdown-max-bytes", "4096"],
        Duration::from_secs(120),
    );
    // A reduced CPU comparison may be judged invalid on a busy machine; the Markdown is the point.
    assert!([0, 1, 4].contains(&r.code), "{}\n{}", r.stdout, r.stderr);
    let md_path = util::run_dir(&out, "concurrency-basics").join("summary.md");
    let bounded = std::fs::read_to_string(&md_path).expect("summary.md");
    assert!(bounded.len() <= 4096, "{}", bounded.len());
    check_markdown(&bounded);
    // The same run re-rendered without a bound: everything, folded.
    let full_out = dir.path().join("full");
    let r = util::loadplan(
        dir.path(),
        &[
            "report",
            util::path_str(&md_path.with_file_name("summary.json")),
            "--out",
            util::path_str(&full_out),
        ],
    );
    assert!([0, 1, 4].contains(&r.code), "{}", r.stderr);
    let full =
        std::fs::read_to_string(util::run_dir(&full_out, "concurrency-basics").join("summary.md"))
            .expect("summary.md");
    check_markdown(&full);
    eprintln!(
        "summary.md: {} bytes before the first <details>, {} in all, {} bounded",
        full.find("<details>").unwrap_or(0),
        full.len(),
        bounded.len()
    );
    // Cut only when the whole would not fit (the unit tests cut a sample for certain).
    assert!(!full.contains("_Cut to stay"), "{full}");
    assert_eq!(
        bounded.contains("_Cut to stay within 4096 bytes: "),
        full.len() > 4096,
        "{bounded}"
    );
    for scenario in ["download-sites", "sum-of-squares"] {
        assert!(full.contains(&format!(" {scenario} (")), "{full}");
    }
}

/// The opening summary is at most 2 KiB; the document parses as GitHub renders it: every
/// `<details>` closed after it opened, each with a `<summary>`, and every table line in a table.
fn check_markdown(md: &str) {
    let head = md.find("<details>").expect("a <details> block");
    assert!(
        head <= 2048,
        "{head} bytes before the first <details>:\n{md}"
    );
    let (mut open, mut details, mut rows, mut tables) = (0i32, 0, 0, 0);
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => {
                let opens = h.matches("<details>").count() as i32;
                let closes = h.matches("</details>").count() as i32;
                if opens > 0 {
                    assert!(h.contains("<summary>") && h.contains("</summary>"), "{h}");
                }
                open += opens - closes;
                details += opens;
                assert!(open >= 0, "</details> before its <details>");
            }
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::TableRow) | Event::Start(Tag::TableHead) => rows += 1,
            Event::Text(t) => assert!(!t.contains("details>"), "markup shown as text: {t}"),
            _ => {}
        }
    }
    assert_eq!(open, 0, "unbalanced <details>");
    assert!(details >= 2, "{md}");
    // Every line that starts with `|` is a row of a parsed table (separator lines excepted).
    let table_lines = md
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .count();
    assert_eq!(rows, table_lines, "{tables} tables:\n{md}");
}
