//! The HTML report of a real run, opened in headless Chromium with JavaScript disabled: every
//! scenario's table and charts must be in the rendered DOM. A failed run's report must say why
//! in its first screenful, and no report may be wider than the window. With
//! `LOADPLAN_SCREENSHOTS=DIR`, screenshots are written there, to look at while developing.
//!
//! Chromium's own `--dump-dom` and `--screenshot` evaluate script to do their work, so together
//! with `--blink-settings=scriptEnabled=false` they print nothing (seen with Chromium 156). The
//! test therefore drives Chromium over the DevTools protocol on a pipe (`--remote-debugging-pipe`):
//! script is disabled on the command line *and* for the page (`Emulation.setScriptExecutionDisabled`),
//! and the DOM is read with `DOM.getOuterHTML` and pictures taken with `Page.captureScreenshot`,
//! neither of which runs script in the page. A probe page proves script really was off.
//!
//! Where things are is asked of the browser's layout, again without script in the page:
//! `DOM.getBoxModel` gives an element's border box in CSS pixels (the page is never scrolled,
//! so these are page coordinates: y < 800 is the first screenful of a 1,280 × 800 window), and
//! `Page.getLayoutMetrics` the width of the whole laid-out content against the window's: when
//! a table or a chart pokes out of the page, the content is wider than the window (a table
//! that scrolls inside its own box does not widen it). Scrollbars are hidden, so the window's
//! width is all the page's.
//!
//! Chromium is `chromium` on the PATH, or `$CHROMIUM`. Every wait is bounded; Chromium is killed
//! and reaped on every path out.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::util::{self, loadplan_in, run_dir, run_plan, summary, write_plan};

const PLAN: &str = r#"version: 1
name: report-e2e
description: 'The <b>report</b> & "its" charts'
base: builtin
# The page is what this test checks: a busy machine makes the CPU cells' validity a warning here.
validity: { machine_load: warn, cpu_drift: warn }
defaults: { timeout: 2s }
scenarios:
  - name: waits <i>&</i> "sweeps"
    description: I/O-bound, with a concurrency sweep and some failures.
    targets: ["/io?delay=5ms", "/flaky?fail=0.3"]
    repeat: 20
    models: [sequential, threads, async]
    concurrency: [2, 4]
  - name: squares
    cpu: { kernel: sum_squares, n: 20000 }
    repeat: 30
    models: [sequential, threads, processes]
    concurrency: 2
"#;

/// A running Chromium speaking the DevTools protocol on its stdin/stdout (mapped to fds 3 and 4).
pub(super) struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Asks Chromium to close (so it takes its helper processes along), then kills it if it has
    /// not gone within five seconds.
    fn drop(&mut self) {
        let _ = self
            .to
            .write_all(b"{\"id\":999999,\"method\":\"Browser.close\",\"params\":{}}\0");
        let _ = self.to.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const STEP: Duration = Duration::from_secs(30);

impl Browser {
    pub(super) fn start() -> Browser {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = tempfile::tempdir().expect("profile dir");
        // The shell maps our pipes to the fds `--remote-debugging-pipe` uses (3: commands in,
        // 4: replies out), then silences Chromium's own stdout.
        let script = r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&chromium)
            .args(util::CHROMIUM_HEADLESS)
            .args([
                "--hide-scrollbars",
                "--blink-settings=scriptEnabled=false",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromium} (install chromium or set CHROMIUM): {e}")
            });
        let to = child.stdin.take().expect("stdin");
        let out = child.stdout.take().expect("stdout");
        let (tx, from) = channel();
        // Messages are JSON, each ended by a NUL byte.
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut buf = Vec::new();
            while matches!(r.read_until(0, &mut buf), Ok(n) if n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            to,
            from,
            next_id: 0,
            _profile: profile,
        }
    }

    /// Sends a command (to a page when `session` is given) and waits for its reply.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        self.to.flush().expect("flush");
        let reply = self.wait_for(|m| m["id"] == id, method);
        if let Some(e) = reply.get("error") {
            panic!("{method}: {e}");
        }
        reply["result"].clone()
    }

    fn wait_for(&self, want: impl Fn(&Value) -> bool, what: &str) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(m) if want(&m) => return m,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("chromium: no answer to {what} in {STEP:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("chromium exited during {what}"),
            }
        }
    }

    /// Opens `url` in a new page with script disabled, in a window `width` × 900, waits for its
    /// load event.
    pub(super) fn open(&mut self, url: &str, width: u32) -> String {
        self.open_sized(url, width, 900)
    }

    /// Opens `url` in a new page with script disabled, in a window `width` × `height`, waits for
    /// its load event.
    fn open_sized(&mut self, url: &str, width: u32, height: u32) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        let s = Some(session.as_str());
        self.call(
            s,
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": true }),
        );
        self.call(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.call(s, "Page.enable", json!({}));
        self.call(s, "Page.navigate", json!({ "url": url }));
        self.wait_for(
            |m| m["method"] == "Page.loadEventFired" && m["sessionId"] == session.as_str(),
            url,
        );
        session
    }

    pub(super) fn dom(&mut self, session: &str) -> String {
        let doc = self.call(Some(session), "DOM.getDocument", json!({ "depth": -1 }));
        let node = doc["root"]["nodeId"].clone();
        let html = self.call(Some(session), "DOM.getOuterHTML", json!({ "nodeId": node }));
        html["outerHTML"].as_str().expect("outerHTML").to_string()
    }

    /// The nodes matching `selector`, in document order.
    fn select(&mut self, session: &str, selector: &str) -> Vec<Value> {
        let doc = self.call(Some(session), "DOM.getDocument", json!({ "depth": 0 }));
        let root = doc["root"]["nodeId"].clone();
        let found = self.call(
            Some(session),
            "DOM.querySelectorAll",
            json!({ "nodeId": root, "selector": selector }),
        );
        found["nodeIds"].as_array().cloned().unwrap_or_default()
    }

    /// The first node matching `selector`: its outer HTML and its border box (left, top,
    /// right, bottom) in CSS pixels.
    fn find(&mut self, session: &str, selector: &str) -> (String, [f64; 4]) {
        let node = self
            .select(session, selector)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {selector:?} in the page"));
        let html = self.call(
            Some(session),
            "DOM.getOuterHTML",
            json!({ "nodeId": node.clone() }),
        );
        let html = html["outerHTML"].as_str().expect("outerHTML").to_string();
        (html, self.border_box(session, &node))
    }

    fn border_box(&mut self, session: &str, node: &Value) -> [f64; 4] {
        let model = self.call(
            Some(session),
            "DOM.getBoxModel",
            json!({ "nodeId": node.clone() }),
        );
        // A quad: four (x, y) corners clockwise from the top left.
        let q: Vec<f64> = model["model"]["border"]
            .as_array()
            .expect("border quad")
            .iter()
            .map(|v| v.as_f64().expect("coordinate"))
            .collect();
        let xs = [q[0], q[2], q[4], q[6]];
        let ys = [q[1], q[3], q[5], q[7]];
        [
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            ys.iter().copied().fold(f64::INFINITY, f64::min),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ]
    }

    /// The laid-out content's width and the window's, in CSS pixels.
    fn widths(&mut self, session: &str) -> (f64, f64) {
        let m = self.call(Some(session), "Page.getLayoutMetrics", json!({}));
        (
            m["cssContentSize"]["width"]
                .as_f64()
                .expect("content width"),
            m["cssLayoutViewport"]["clientWidth"]
                .as_f64()
                .expect("viewport width"),
        )
    }

    fn screenshot(&mut self, session: &str, path: &Path) {
        self.capture(session, path, true);
    }

    /// A picture of the page, whole or only what the window shows.
    fn capture(&mut self, session: &str, path: &Path, whole: bool) {
        let shot = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": whole }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64 png");
        std::fs::write(path, png).expect("write screenshot");
    }
}

pub(super) fn file_url(p: &Path) -> String {
    format!(
        "file://{}",
        p.canonicalize().expect("absolute path").display()
    )
}

/// The HTML of the element whose opening tag contains `marker`, up to its closing `tag`.
fn element<'a>(dom: &'a str, marker: &str, tag: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in the rendered DOM"));
    let end = dom[start..]
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("{marker:?} is not closed"));
    &dom[start..start + end]
}

#[test]
fn the_report_of_a_real_run_renders_without_javascript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(dir.path(), "plan.yaml", PLAN);
    let out = dir.path().join("out");
    let run = loadplan_in(
        dir.path(),
        &[
            "run",
            plan.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(matches!(run.code, 0 | 1), "loadplan run: {run:?}");
    let s = summary(&out, "report-e2e");
    let report = run_dir(&out, "report-e2e").join("index.html");

    let mut browser = Browser::start();

    // The harness itself: a page whose script would mark it must stay unmarked.
    let probe = dir.path().join("probe.html");
    std::fs::write(
        &probe,
        "<html><body><p id=p>static</p><script>document.getElementById('p').textContent='script ran'</script></body></html>",
    )
    .expect("probe");
    let session = browser.open(&file_url(&probe), 800);
    let probe_dom = browser.dom(&session);
    assert!(
        probe_dom.contains(">static<"),
        "script ran in the probe: {probe_dom}"
    );

    let session = browser.open(&file_url(&report), 1280);
    let dom = browser.dom(&session);
    assert!(dom.contains("<h1>report-e2e</h1>"));
    assert!(
        dom.contains("The &lt;b&gt;report&lt;/b&gt; &amp; \"its\" charts"),
        "description not escaped as text"
    );
    assert!(
        !dom.contains("<b>report</b>"),
        "plan markup became elements"
    );
    let panel = element(&dom, r#"id="bound-title""#, "section");
    let scenarios = s["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 2);
    for (i, sc) in scenarios.iter().enumerate() {
        let id = format!("scenario-{}", i + 1);
        let name = sc["name"].as_str().expect("name");
        let cells = sc["cells"].as_array().expect("cells").len();
        // The panel: the bound, and the speedup chart with one bar per cell.
        assert!(
            panel.contains(&format!(r#"id="{id}-speedup""#)),
            "{id}: no speedup chart"
        );
        let speedup = element(panel, &format!(r#"id="{id}-speedup""#), "svg");
        assert_eq!(
            speedup.matches(r#"<g class="bar">"#).count(),
            cells,
            "{id}: speedup bars"
        );
        let section = element(
            &dom,
            &format!(r#"<section class="scenario" id="{id}""#),
            "section",
        );
        let heading = html_text(name);
        assert!(section.contains(&heading), "{id}: heading {heading:?}");
        let table = element(section, r#"<table class="cells">"#, "table");
        assert_eq!(
            table.matches("<tr class=").count(),
            cells,
            "{id}: one row per cell"
        );
        for chart in [
            "chart-spectrum",
            "chart-timeline-throughput",
            "chart-timeline-p99",
        ] {
            let svg = element(section, &format!("chart {chart}"), "svg");
            assert!(svg.contains("<polyline"), "{id}: {chart} has no line");
            assert!(svg.contains("<title>"), "{id}: {chart} has no tooltips");
        }
        let spectrum = element(section, "chart chart-spectrum", "svg");
        assert_eq!(
            spectrum.matches("<polyline").count(),
            cells,
            "{id}: one line per cell"
        );
    }
    // The sweep and the failures of the first scenario; a CPU kernel has neither.
    let io = element(
        &dom,
        r#"<section class="scenario" id="scenario-1""#,
        "section",
    );
    for chart in [
        "chart-sweep-throughput",
        "chart-sweep-p99",
        "chart-errors",
        "chart-status",
        "chart-errors-over-time",
    ] {
        assert!(
            io.contains(&format!("chart {chart}")),
            "scenario-1: no {chart}"
        );
    }
    let cpu = element(
        &dom,
        r#"<section class="scenario" id="scenario-2""#,
        "section",
    );
    assert!(!cpu.contains("chart-sweep") && !cpu.contains("chart-status"));
    assert!(
        cpu.contains("No errors: all"),
        "scenario-2 should say it had no errors"
    );
    assert!(dom.contains(r#"id="health-title""#));
    assert!(
        dom.contains("Cells too short to be meaningful."),
        "short cells not flagged"
    );

    fits(&mut browser, &session, 1280.0);
    let narrow = browser.open(&file_url(&report), 800);
    fits(&mut browser, &narrow, 800.0);

    if let Some(shots) = std::env::var_os("LOADPLAN_SCREENSHOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        browser.screenshot(&session, &shots.join("report-1280.png"));
        browser.screenshot(&narrow, &shots.join("report-800.png"));
    }
}

/// Nothing on the page is wider than the window, and every chart is drawn at its own size: never
/// stretched (its text would grow past 12 px, as a single scenario's chart once did), and at
/// 1,280 px not shrunk either, since every column is as wide as its charts.
pub(super) fn fits(browser: &mut Browser, session: &str, window: f64) {
    let (content, viewport) = browser.widths(session);
    assert_eq!(viewport, window, "the window");
    assert!(
        content <= viewport + 0.5,
        "the page is {content} px wide in a {viewport} px window: something pokes out"
    );
    if window >= 1280.0 {
        // Issue 25: at 1,280 px no table scrolls inside its box either (the cells table's
        // health column is narrow, its full words on a row below).
        for node in browser.select(session, "table") {
            let [_, _, right, _] = browser.border_box(session, &node);
            assert!(right <= window + 0.5, "a table ends at {right} px");
        }
    }
    let charts = browser.select(session, "svg.chart");
    assert!(!charts.is_empty(), "no chart");
    for node in charts {
        let [left, _, right, _] = browser.border_box(session, &node);
        let attributes = browser.call(
            Some(session),
            "DOM.getAttributes",
            json!({ "nodeId": node.clone() }),
        );
        // Names and values in turn.
        let pairs: Vec<&str> = attributes["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect();
        let attribute = |name: &str| {
            pairs
                .chunks(2)
                .find(|p| p[0] == name)
                .map(|p| p[1].to_string())
                .unwrap_or_else(|| panic!("a chart without {name}"))
        };
        let (id, width): (String, f64) = (
            attribute("id"),
            attribute("width").parse().expect("a width in pixels"),
        );
        let shown = right - left;
        assert!(
            shown <= width + 0.5,
            "{id}: {width} px drawn {shown} px wide"
        );
        assert!(right <= window + 0.5, "{id} ends at {right} px");
        if window >= 1280.0 {
            assert!(
                shown >= width - 2.5,
                "{id}: {width} px shrunk to {shown} px"
            );
        }
    }
}

/// Issue 16: a failed run's report says why in its first screenful (1,280 × 800), with the
/// failing threshold's expression and observed value, before the models are compared and
/// before any chart; the page is no wider than the window, and with a single scenario its
/// charts keep their 12 px text.
#[test]
fn a_failed_runs_report_says_why_in_its_first_screenful() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans/valid/gate-fail.yaml");
    let out = dir.path().join("out");
    let run = run_plan(dir.path(), &plan, &out);
    assert_eq!(run.code, 1, "a threshold fails: {run:?}");
    let s = summary(&out, "gate-fail");
    assert_eq!(s["verdict"], "failed");
    // The panel lists failed thresholds first, in the summary's order.
    let first = s["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .flat_map(|sc| sc["cells"].as_array().expect("cells"))
        .flat_map(|c| c["thresholds"].as_array().expect("thresholds"))
        .find(|t| t["passed"] == false)
        .expect("a failed threshold");
    let expression = first["expression"].as_str().expect("expression");
    let observed = first["observed_text"].as_str().expect("observed_text");
    let report = run_dir(&out, "gate-fail").join("index.html");

    let mut browser = Browser::start();
    let session = browser.open_sized(&file_url(&report), 1280, 800);
    for (selector, text) in [
        ("#why-failed code.expression", html_text(expression)),
        ("#why-failed td.observed", html_text(observed)),
    ] {
        let (html, [left, top, right, bottom]) = browser.find(&session, selector);
        assert!(html.contains(&text), "{selector}: {html} lacks {text}");
        assert!(
            top >= 0.0 && bottom <= 800.0 && left >= 0.0 && right <= 1280.0,
            "{selector} at ({left}, {top})–({right}, {bottom}): not in the first screenful"
        );
    }
    let dom = browser.dom(&session);
    let at = |needle: &str| {
        dom.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in the page"))
    };
    let panel = at(r#"id="why-failed""#);
    assert!(panel < at(r#"id="bound-title""#) && panel < at("<svg"));
    fits(&mut browser, &session, 1280.0);

    if let Some(shots) = std::env::var_os("LOADPLAN_SCREENSHOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        browser.capture(&session, &shots.join("failed-1280x800.png"), false);
        browser.screenshot(&session, &shots.join("failed-1280.png"));
    }
}

/// A flow of three named requests under one model, as a service's test is written.
const ONE_MODEL_FLOW: &str = r#"version: 1
name: one-model-flow
base: builtin
defaults: { timeout: 5s }
scenarios:
  - name: shop
    data: { file: users.csv }
    flow:
      - name: login
        request: { url: /login, method: POST, json: { user: "${user}", password: "${password}" } }
        expect: { status: 200, json: { "$.token": exists } }
        capture: { token: { json: "$.token" } }
      - name: list
        request: { url: /items, headers: { authorization: "Bearer ${token}" } }
        expect: { status: 200 }
      - name: item
        request: { url: "/items/${item}", headers: { authorization: "Bearer ${token}" } }
        expect: { status: 200 }
    repeat: 20
    models: [async]
    concurrency: 4
    thresholds:
      - "p99{request=login} < 2s"
      - "p99 < 5s"
      - "error_rate{request=item} < 1%"
"#;

/// Issue 25: a scenario of one model compares nothing, so its report leads with its SLOs
/// (every threshold with observed, limit and result) and the latency of each request, in the
/// first screenful of a 1,280 × 800 window, with no model-comparison cards, nothing wider than
/// the page and no table scrolling inside its box.
#[test]
fn a_one_model_flow_report_leads_with_its_slos_and_request_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = write_plan(dir.path(), "plan.yaml", ONE_MODEL_FLOW);
    let users = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/data/users.csv");
    std::fs::copy(&users, dir.path().join("users.csv")).expect("users.csv");
    let out = dir.path().join("out");
    let run = run_plan(dir.path(), &plan, &out);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run_dir(&out, "one-model-flow").join("index.html");

    let mut browser = Browser::start();
    let session = browser.open_sized(&file_url(&report), 1280, 800);
    let dom = browser.dom(&session);
    assert!(
        !dom.contains(r#"id="bound-title""#),
        "one model: no model comparison"
    );
    let (thresholds, [_, top, right, bottom]) =
        browser.find(&session, "#slos table.slo-thresholds");
    assert!(
        top >= 0.0 && bottom <= 800.0 && right <= 1280.0,
        "the SLO table at {top}–{bottom}: not in the first screenful"
    );
    for head in ["observed", "limit", "result"] {
        assert!(thresholds.contains(&format!(">{head}</th>")), "no {head}");
    }
    assert_eq!(thresholds.matches("✔ passed").count(), 3, "{thresholds}");
    let (latency, [_, top, right, bottom]) = browser.find(&session, "#slos table.slo-latency");
    assert!(
        top >= 0.0 && bottom <= 800.0 && right <= 1280.0,
        "the request latency at {top}–{bottom}: not in the first screenful"
    );
    for request in ["login", "list", "item"] {
        assert!(
            latency.contains(&format!(r#"<td class="text">{request}</td>"#)),
            "no {request} in {latency}"
        );
    }
    // Over time, per request: each request's rate and p99, and the users in flight, on one
    // time axis for the cell.
    for (chart, lines) in [
        ("chart-request-rate", 3),
        ("chart-request-p99", 3),
        ("chart-users", 1),
    ] {
        let svg = element(&dom, &format!("chart {chart}"), "svg");
        assert_eq!(svg.matches("<polyline").count(), lines, "{chart}");
    }
    // Every threshold table of the page has observed, limit and result.
    for node in browser.select(&session, "table.thresholds") {
        let html = browser.call(
            Some(&session),
            "DOM.getOuterHTML",
            json!({ "nodeId": node.clone() }),
        );
        let html = html["outerHTML"].as_str().expect("outerHTML");
        assert!(html.contains(">limit</th>"), "{html}");
    }
    fits(&mut browser, &session, 1280.0);
    let narrow = browser.open(&file_url(&report), 800);
    fits(&mut browser, &narrow, 800.0);
    if let Some(shots) = std::env::var_os("LOADPLAN_SCREENSHOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        browser.capture(&session, &shots.join("one-model-1280x800.png"), false);
        browser.screenshot(&session, &shots.join("one-model-1280.png"));
    }
}

const COMPARED: &str = r#"version: 1
name: compared
base: builtin
scenarios:
  - name: api
    targets:
      - { name: orders, url: "/io?delay=${LOADPLAN_E2E_DELAY}" }
      - { name: users, url: "/io?delay=${LOADPLAN_E2E_DELAY}" }
    repeat: 30
    models: [async]
    concurrency: 4
"#;

/// Issue 25: a run 2× slower than its baseline gets `compare.html` beside `index.html`, and
/// `loadplan compare A B` writes the same page from the two run folders: both spectra in every
/// chart (the cell and each request), every regressed check listed at the top, no script.
#[test]
fn a_slower_runs_comparison_page_draws_both_spectra_and_lists_every_regression() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plan, base) = super::util::baseline_run(dir.path(), COMPARED, "compared", "20ms");
    let envs = [("LOADPLAN_E2E_DELAY", "40ms")];
    let (slow, out) = super::util::run_against(dir.path(), &plan, "slow", &envs, Some(&base));
    assert!(matches!(slow.code, 0 | 1), "{slow:?}");
    let s = summary(&out, "compared");
    let regressed: Vec<String> = s["baseline"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["outcome"] == "regressed")
        .map(|c| c["metric"].as_str().expect("metric").to_string())
        .collect();
    let busier = s["baseline"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .any(|c| {
            // A slower figure while other load took more of the machine than in the baseline
            // is `inconclusive` (gate/baseline.rs), in these words.
            c["reason"]
                .as_str()
                .is_some_and(|r| r.contains("busier") || r.contains("other load kept"))
        });
    // What the runs measured: on a machine busy enough to swamp a 20 ms difference the two p50s
    // may not differ twofold, and then no check must call it a regression.
    let p50 = |v: &serde_json::Value| util::u(&v["scenarios"][0]["cells"][0]["latency_us"]["p50"]);
    let before: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).expect("baseline")).expect("json");
    let measured = p50(&s) as f64 / p50(&before).max(1) as f64;
    assert!(
        busier || measured < 1.5 || regressed.iter().any(|m| m == "p50"),
        "a 2× slower target ({measured:.2}× measured) regresses its p50: {regressed:?}"
    );
    let folder = run_dir(&out, "compared");
    let from_run = std::fs::read_to_string(folder.join("compare.html")).expect("compare.html");

    let other = dir.path().join("other.html");
    let compare = loadplan_in(
        dir.path(),
        &[
            "compare",
            base.parent().expect("run folder").to_str().expect("utf-8"),
            folder.to_str().expect("utf-8"),
            "--out",
            other.to_str().expect("utf-8"),
        ],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(
        compare.code,
        if regressed.is_empty() { 0 } else { 1 },
        "{compare:?}"
    );
    let from_command = std::fs::read_to_string(&other).expect("compare --out");

    for page in [&from_run, &from_command] {
        assert!(page.contains("default-src 'none'") && !page.contains("<script"));
        let charts: Vec<&str> = page
            .split("<svg")
            .skip(1)
            .filter(|svg| svg.contains("chart-compare"))
            .collect();
        assert_eq!(charts.len(), 3, "the cell and its two requests");
        for svg in charts {
            let svg = &svg[..svg.find("</svg>").expect("closed")];
            assert_eq!(svg.matches("<polyline").count(), 2, "baseline and this run");
        }
        let top = element(page, r#"id="regressed""#, "section");
        assert_eq!(top.matches("✘ regressed").count(), regressed.len(), "{top}");
        for metric in &regressed {
            assert!(
                top.contains(&format!(
                    "<td>{}</td>",
                    html_text(metric).replace('=', "&#x3D;")
                )),
                "{metric} not listed"
            );
        }
    }
    let mut browser = Browser::start();
    let session = browser.open(&file_url(&folder.join("compare.html")), 1280);
    fits(&mut browser, &session, 1280.0);
    if let Some(shots) = std::env::var_os("LOADPLAN_SCREENSHOTS").map(PathBuf::from) {
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        browser.screenshot(&session, &shots.join("compare-1280.png"));
    }
}

/// `s` as it appears in the DOM's serialisation of text: `&`, `<`, `>` escaped, quotes kept.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
