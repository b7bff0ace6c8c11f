//! WebSocket steps end to end against a server loadplan did not write: Python's `websockets`
//! (Debian's python3-websockets 10.4), an echo that counts the messages it received and sent.
//! 100 connections hold 20 s at 10 messages a second each; loadplan's sent and received equal
//! the server's counts; every model and the open model run the step; a server that closes with
//! 1011 gives `websocket_close` errors naming the code; plan errors stop before anything is
//! sent; `wss://` reaches the built-in echo over TLS.

use std::path::Path;

use super::util::{self, cell, every_cell, u};

/// `/echo` answers every message with itself; `/close?after=N` echoes N messages, then closes
/// with 1011. A line on stdin asks for the counts (received, sent, connections), as JSON.
const SERVER: &str = r#"
import asyncio, json, sys, threading
import websockets

counts = {"received": 0, "sent": 0, "connections": 0}

async def handler(ws, path):
    counts["connections"] += 1
    after = None
    if path.startswith("/close"):
        after = int(path.split("after=")[1]) if "after=" in path else 0
    async for message in ws:
        counts["received"] += 1
        if after is not None and counts_for(ws) >= after:
            await ws.close(code=1011, reason="overloaded")
            return
        await ws.send(message)
        counts["sent"] += 1
        ws.echoed = counts_for(ws) + 1

def counts_for(ws):
    return getattr(ws, "echoed", 0)

def answer():
    for _ in sys.stdin:
        print(json.dumps(counts), flush=True)

async def main():
    server = await websockets.serve(handler, "127.0.0.1", 0, backlog=512, ping_interval=None)
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=answer, daemon=True).start()
    await asyncio.Future()

asyncio.run(main())
"#;

/// The Python echo (echo.py), stopped by its pid however the test ends.
fn echo(dir: &Path) -> util::PyServer {
    util::PyServer::start(dir, "echo.py", SERVER, &[])
}

/// What the echo received and sent, and the connections it accepted, as JSON.
fn counts(echo: &mut util::PyServer) -> serde_json::Value {
    let line = echo.ask("counts");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// The statistics of request `name` in a cell.
fn request<'a>(c: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    c["requests"]
        .as_array()
        .and_then(|r| r.iter().find(|q| q["name"] == name))
}

/// 100 connections, each sending 200 messages 100 ms apart (20 s at 10 a second), every reply
/// checked: loadplan sent what the server received, received what it sent; the round trips are
/// the step's histogram, the upgrades a phase of their own.
#[test]
fn a_hundred_connections_hold_twenty_seconds_and_every_message_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut echo = echo(d);
    let plan = util::write_plan(
        d,
        "hold.yaml",
        &format!(
            r#"version: 1
name: ws-hold
defaults: {{ timeout: 5s }}
validity: {{ machine_load: warn, cpu_drift: warn }}
scenarios:
  - name: hold
    flow:
      - name: chat
        request:
          websocket:
            url: ws://127.0.0.1:{port}/echo
            send: {{ json: {{ text: hello, n: 1 }} }}
            messages: 200
            every: 100ms
            expect: {{ json: {{ "$.text": hello, "$.n": 1 }} }}
    repeat: 100
    models: [async]
    concurrency: 100
    thresholds: [ "p99{{phase=upgrade}} < 5s" ]
"#,
            port = echo.port()
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let counts = counts(&mut echo);
    let s = util::summary(&out, "ws-hold");
    let c = cell(&s, "hold", "async");
    assert_eq!((u(&c["operations"]), u(&c["successes"])), (100, 100), "{c}");
    let chat = request(c, "chat").expect("the step's own statistics");
    let (sent, received) = (u(&chat["operations"]), u(&chat["successes"]));
    assert_eq!(sent, 100 * 200, "{chat}");
    assert_eq!(sent, u(&counts["received"]), "{counts}");
    assert_eq!(received, u(&counts["sent"]), "{counts}");
    assert_eq!(u(&counts["connections"]), 100, "{counts}");
    // One round trip per reply, in the step's histogram; one upgrade per connection.
    assert_eq!(u(&chat["latency_us"]["count"]), received, "{chat}");
    assert!(u(&chat["latency_us"]["p50"]) > 0, "{chat}");
    assert!(
        !chat["histogram"].as_str().unwrap_or("").is_empty(),
        "{chat}"
    );
    let k = &c["connections"];
    assert_eq!(u(&k["opened"]), 100, "{k}");
    assert_eq!(u(&k["upgrade_us"]["count"]), 100, "{k}");
    assert_eq!(k["protocols"]["HTTP/1.1"], 100, "{k}");
    // Each connection held its messages 100 ms apart: 199 gaps at least.
    assert!(u(&c["latency_us"]["min"]) >= 19_900_000, "{c}");
    assert_eq!(c["thresholds"][0]["passed"], true, "{c}");
}

/// The step under every model and the open model: each message sent is one the server received,
/// a capture of one reply goes out in the next message, and a server that closes with 1011
/// after two echoes gives `websocket_close` errors that name the code.
#[test]
fn every_model_runs_the_step_and_a_1011_close_is_an_error_with_its_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut echo = echo(d);
    let step = |port: u16| {
        format!(
            r#"
      - name: chat
        request:
          websocket:
            url: /echo
            send: {{ json: {{ n: "${{n}}" }} }}
            messages: 5
            every: 10ms
            expect: {{ json: {{ "$.n": exists }} }}
            capture: {{ n: {{ json: "$.n" }} }}
    setup:
      - name: first
        request: {{ websocket: {{ url: "ws://127.0.0.1:{port}/echo", send: {{ json: {{ n: 1 }} }}, capture: {{ n: {{ json: "$.n" }} }} }} }}"#
        )
    };
    let plan = util::write_plan(
        d,
        "models.yaml",
        &format!(
            r#"version: 1
name: ws-models
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
validity: {{ machine_load: warn, cpu_drift: warn }}
scenarios:
  - name: closed
    flow:{steps}
    repeat: 8
    models: [sequential, threads, async, processes]
    concurrency: 2
  - name: open
    flow:{steps}
    rate: 20/s
    duration: 500ms
    models: [async]
    concurrency: 4
"#,
            port = echo.port(),
            steps = step(echo.port()),
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let counts = counts(&mut echo);
    let s = util::summary(&out, "ws-models");
    let sent: u64 = every_cell(&s)
        .iter()
        .flat_map(|c| ["chat", "first"].map(|n| request(c, n)))
        .flatten()
        .map(|r| u(&r["operations"]))
        .sum();
    assert_eq!(sent, u(&counts["received"]), "{counts}");
    assert_eq!(u(&counts["received"]), u(&counts["sent"]), "{counts}");
    for model in ["sequential", "threads", "async", "processes"] {
        let c = cell(&s, "closed", model);
        assert_eq!(
            (u(&c["operations"]), u(&c["successes"])),
            (8, 8),
            "{model}: {c}"
        );
        let chat = request(c, "chat").expect("chat");
        assert_eq!(u(&chat["successes"]), 40, "{model}: {chat}");
    }
    let open = cell(&s, "open", "async");
    assert!(u(&open["operations"]) > 0, "{open}");
    assert_eq!(u(&open["operations"]), u(&open["successes"]), "{open}");
    upgrades_shown(&o.stdout, &util::run_dir(&out, "ws-models"), &s);

    let closing = util::write_plan(
        d,
        "closing.yaml",
        &format!(
            r#"version: 1
name: ws-closing
validity: {{ machine_load: warn, cpu_drift: warn }}
scenarios:
  - name: closing
    targets: [ {{ name: chat, websocket: {{ url: "ws://127.0.0.1:{port}/close?after=2", send: hi, messages: 5 }} }} ]
    repeat: 6
    models: [async]
    concurrency: 2
"#,
            port = echo.port()
        ),
    );
    let out = d.join("out-closing");
    let o = util::run_plan(d, &closing, &out);
    assert_eq!(
        o.code, 1,
        "errors not covered by error_rate fail the run: {o:?}"
    );
    let s = util::summary(&out, "ws-closing");
    let c = cell(&s, "closing", "async");
    assert_eq!(u(&c["errors"]["websocket_close"]), 6, "{c}");
    let messages = c["error_messages"]["websocket_close"].to_string();
    assert!(
        messages.contains("closed with 1011 (internal error) after 2 of 5 replies: overloaded"),
        "{messages}"
    );
    let chat = request(c, "chat").expect("chat");
    // Two answered messages and the third, answered by the close, per connection.
    assert_eq!(
        (u(&chat["operations"]), u(&chat["successes"])),
        (18, 12),
        "{chat}"
    );
    assert_eq!(u(&chat["errors"]["websocket_close"]), 6, "{chat}");
}

/// The console and the HTML report show each cell's WebSocket upgrades and the `upgrade` phase
/// (p50 / p99) beside the streams' columns, which stay empty: `sequential  0  0  -  -  -  16  …`.
fn upgrades_shown(console: &str, run: &Path, s: &serde_json::Value) {
    let upgrades = u(&cell(s, "closed", "sequential")["connections"]["upgrade_us"]["count"]);
    assert!(upgrades > 0, "{s}");
    let tables = util::console_streams_tables(console);
    let [closed, _open] = tables[..] else {
        panic!("two streams tables in the console:\n{console}");
    };
    let header = closed.lines().next().unwrap_or("");
    assert!(
        header.contains("ws upgrades") && header.contains("upgrade p50/p99"),
        "{header}"
    );
    let row = util::row_words(closed, "sequential");
    let want = ["0", "0", "-", "-", "-"].map(String::from);
    assert_eq!(row[1..6], want, "{row:?}");
    assert_eq!(row[6], upgrades.to_string(), "{row:?}");
    assert!(row[7].ends_with('s') && row[8] == "/", "p50 / p99: {row:?}");
    let html = util::html_streams_table(run);
    let cells = format!("<td>-</td><td>-</td><td>-</td><td>{upgrades}</td><td>");
    assert!(
        html.contains("WebSocket upgrades") && html.contains(&cells),
        "{html}"
    );
}

/// Plan errors name the file, line and column and send nothing (exit 2).
#[test]
fn websocket_plan_errors_stop_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases = [
        (
            r#"url: "http://127.0.0.1:1/ws", send: hi"#,
            "unsupported scheme `http` for a WebSocket",
            "7:",
        ),
        (
            "url: /ws, send: hi, messages: 0",
            "send at least 1 message",
            "7:",
        ),
        ("url: /ws, send: hi, every: -5ms", "every", "7:"),
        ("url: /ws, send: hi, rate: 5", "unknown field `rate`", "7:"),
        (
            "url: /ws, send: hi, expect: { status: 200 }",
            "a WebSocket reply has no `status`",
            "7:",
        ),
        ("url: /ws, send: { json: 1, text: a }", "one of them", "7:"),
    ];
    for (i, (websocket, want, line)) in cases.into_iter().enumerate() {
        let plan = util::write_plan(
            d,
            &format!("bad-{i}.yaml"),
            &format!(
                r#"version: 1
name: bad
base: builtin
scenarios:
  - name: s
    targets:
      - websocket: {{ {websocket} }}
    repeat: 1
    models: [async]
"#
            ),
        );
        let o = util::loadplan(d, &["validate", util::path_str(&plan)]);
        assert_eq!(o.code, 2, "{websocket}: {o:?}");
        let file = format!("bad-{i}.yaml:{line}");
        assert!(o.stderr.contains(want), "{websocket}: {}", o.stderr);
        assert!(o.stderr.contains(&file), "{websocket}: {}", o.stderr);
    }
}

/// `wss://`: the built-in echo over TLS (`base: builtin+https`, a path joined as `wss`), under
/// every model: each connection's TLS handshake and upgrade timed, every reply checked.
#[test]
fn wss_to_the_builtin_echo_in_every_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "wss.yaml",
        r#"version: 1
name: wss
base: builtin+https
scenarios:
  - name: chat
    flow:
      - name: chat
        request:
          websocket:
            url: /ws
            send: { json: { text: hello } }
            messages: 5
            every: 10ms
            expect: { json: { "$.text": hello } }
    repeat: 4
    models: [sequential, threads, async, processes]
    concurrency: 2
"#,
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "wss");
    for model in ["sequential", "threads", "async", "processes"] {
        let c = cell(&s, "chat", model);
        assert_eq!(u(&c["successes"]), 4, "{c}");
        let k = &c["connections"];
        assert_eq!(u(&k["tls_handshakes"]), 4, "{k}");
        assert_eq!(u(&k["upgrade_us"]["count"]), 4, "{k}");
        let chat = c["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .find(|r| r["name"] == "chat")
            .expect("the chat step");
        assert_eq!(u(&chat["successes"]), 20, "{chat}");
    }
}
