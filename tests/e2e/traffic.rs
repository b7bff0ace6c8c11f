//! Traffic that looks like a real service's, end to end, against a small Python API (standard
//! library only) that logs every request it served: per-user `setup:` (each user logs in once,
//! its token kept across its iterations), in every model and over two shards merged; `for_each`
//! over a captured list, `pick: random`, a `when:` condition on a captured value, and `chance:`.
//! The server's own log is the truth loadplan's counts are held against.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::util::{self, every_cell, u};

/// The API: `POST /login {user}` → `{"token": …}`; `GET /browse` (Bearer token); `GET /items` →
/// `{"items": [{"id": …}, …], "more": "yes" | "no"}` (one to six distinct ids at random);
/// `GET /items/<id>`, `GET /first/<id>`, `GET /picked/<id>`, `GET /more`, `POST /checkout`.
/// Every request logged as a line: `login USER T`, `browse USER T`, `checkout T`,
/// `list ID,ID,… MORE`, `item ID`, `first ID`, `picked ID`, `more`, `bad PATH` (T: the server's
/// clock when it served the request, seconds since the epoch; `groups.rs` holds them against
/// each other).
pub(super) const SERVER: &str = r#"
import json, random, secrets, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from jsonapi import JsonHandler, serve

tokens = {}
lock = threading.Lock()
log = open(sys.argv[1], "a", buffering=1)

def write(line):
    with lock: log.write(line + "\n")

class H(JsonHandler):
    def do_POST(self):
        body = self.body()
        if self.path == "/checkout":
            write(f"checkout {time.time():.6f}")
            return self.reply(200, {"order": secrets.token_hex(4)})
        if self.path != "/login":
            return self.reply(404, {})
        user = json.loads(body).get("user", "?")
        token = "SECRETTOKEN" + secrets.token_hex(8)
        with lock:
            tokens[token] = user
        write(f"login {user} {time.time():.6f}")
        self.reply(200, {"token": token})
    def do_GET(self):
        p = self.path
        if p == "/browse":
            user = tokens.get(self.headers.get("authorization", "").removeprefix("Bearer "))
            if user is None:
                write(f"bad {p}")
                return self.reply(401, {})
            write(f"browse {user} {time.time():.6f}")
            return self.reply(200, {"ok": True})
        if p == "/items":
            ids = random.sample(range(1, 1000), random.randint(1, 6))
            more = random.choice(["yes", "no"])
            write("list " + ",".join(map(str, ids)) + " " + more)
            return self.reply(200, {"items": [{"id": i} for i in ids], "more": more})
        for kind in ("items", "first", "picked"):
            prefix = f"/{kind}/"
            if p.startswith(prefix) and p[len(prefix):].isdigit():
                write(f"{'item' if kind == 'items' else kind} {p[len(prefix):]}")
                return self.reply(200, {})
        if p == "/more":
            write("more")
            return self.reply(200, {})
        write(f"bad {p}")
        self.reply(404, {})

class Server(ThreadingHTTPServer):
    # 40 users connect at once: the default backlog of 5 drops SYNs, retried after a second.
    request_queue_size = 256

serve(Server(("127.0.0.1", 0), H))
"#;

/// The shop API above, logging to `api.log` in `dir`.
pub(super) fn start_api(dir: &Path) -> util::LoggedApi {
    util::LoggedApi::start(dir, SERVER, &[])
}

/// Runs `plan` as shards 1/2 and 2/2 side by side, each a run of its own, and merges their
/// results with `loadplan report`: the merged summary (plan `slug`).
pub(super) fn two_shards_merged(d: &Path, plan: &Path, slug: &str) -> serde_json::Value {
    let files = util::run_shards_together(d, plan, 2, &[1, 2], &[]);
    util::merge_shards(d, &files, slug)
}

/// The operations of request `name` in cell `c` (0 when it never ran).
pub(super) fn ops(c: &serde_json::Value, name: &str) -> u64 {
    c["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["name"] == name)
        .map_or(0, |r| u(&r["operations"]))
}

fn total(s: &serde_json::Value, name: &str) -> u64 {
    every_cell(s).iter().map(|c| ops(c, name)).sum()
}

const SETUP_PLAN: &str = r#"version: 1
name: setup
base: http://127.0.0.1:PORT
defaults: { timeout: 5s }
scenarios:
  - name: browse
    setup:
      - name: login
        request: { url: /login, method: POST, json: { user: "u" } }
        expect: { status: 200 }
        capture: { token: { json: "$.token" } }
    flow:
      - name: browse
        request: { url: /browse, headers: { authorization: "Bearer ${token}" } }
        expect: { status: 200 }
        think: 20ms
    duration: 1s
    models: MODELS
    concurrency: 40
"#;

#[test]
fn every_user_logs_in_once_and_keeps_its_token_in_every_model_and_over_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let api = start_api(d);
    let text = SETUP_PLAN.replace("PORT", &api.port.to_string());
    let plan = util::write_plan(
        d,
        "setup.yaml",
        &text.replace("MODELS", "[sequential, threads, async, processes]"),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "setup");
    let cells = every_cell(&s);
    assert_eq!(cells.len(), 4);
    // Each cell: one login per user (sequential runs one user), every iteration a browse with
    // the token its user got once; the logins are not iterations.
    for c in &cells {
        let users = if c["model"] == "sequential" { 1 } else { 40 };
        assert_eq!(ops(c, "login"), users, "{c}");
        assert_eq!(u(&c["operations"]), ops(c, "browse"), "{c}");
        assert!(
            ops(c, "browse") > users,
            "several iterations per login: {c}"
        );
    }
    assert_eq!(api.count("bad"), 0, "every browse carried a valid token");
    assert_eq!(api.count("login"), total(&s, "login"));
    assert_eq!(api.count("browse"), total(&s, "browse"));
    assert_eq!(api.count("login"), 1 + 3 * 40);

    // Two shards, merged: the users are split between them, and each still logs in once.
    api.clear();
    let plan = util::write_plan(
        d,
        "setup.yaml",
        &text.replace("MODELS", "[async, processes]"),
    );
    let m = two_shards_merged(d, &plan, "setup");
    for c in every_cell(&m) {
        assert_eq!(ops(c, "login"), 40, "{c}");
        assert_eq!(u(&c["operations"]), ops(c, "browse"), "{c}");
    }
    assert_eq!(api.count("bad"), 0);
    assert_eq!(api.count("login"), 80);
    assert_eq!(api.count("login"), total(&m, "login"));
    assert_eq!(api.count("browse"), total(&m, "browse"));
}

#[test]
fn a_failed_setup_fails_the_users_iterations_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let api = start_api(d);
    let text = SETUP_PLAN
        .replace("PORT", &api.port.to_string())
        .replace("MODELS", "[async]")
        .replace("\"$.token\"", "\"$.missing\"")
        .replace("duration: 1s", "repeat: 6")
        .replace(
            "concurrency: 40",
            "concurrency: 2\n    thresholds: [\"error_rate <= 100%\"]",
        );
    let plan = util::write_plan(d, "setup.yaml", &text);
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "setup");
    let c = every_cell(&s)[0];
    // Every iteration tried the setup again, failed it, and sent nothing further.
    assert_eq!(u(&c["errors"]["expectation"]), 6, "{c}");
    assert_eq!(ops(c, "login"), 6, "{c}");
    assert_eq!(ops(c, "browse"), 0, "{c}");
    let m = c["error_messages"]["expectation"].to_string();
    assert!(
        m.contains("setup: capture `token`: json `$.missing` finds nothing"),
        "{m}"
    );
    assert_eq!(api.count("login"), 6);
    assert_eq!(api.count("browse"), 0);
}

#[test]
fn for_each_fetches_every_listed_id_and_when_follows_a_captured_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let api = start_api(d);
    let plan = util::write_plan(
        d,
        "logic.yaml",
        &format!(
            r#"version: 1
name: logic
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: shop
    flow:
      - name: list
        request: /items
        capture:
          ids: {{ json: "$.items[*].id", pick: all }}
          one: {{ json: "$.items[*].id", pick: random }}
          more: {{ json: "$.more" }}
      - name: item
        for_each: {{ in: ids, as: id, limit: 50 }}
        request: "/items/${{id}}"
      - name: first
        for_each: {{ in: ids, as: id, limit: 2 }}
        request: "/first/${{id}}"
      - name: picked
        request: "/picked/${{one}}"
      - name: more
        when: {{ var: more, equals: "yes" }}
        request: /more
    repeat: 20
    models: [sequential, async, processes]
    concurrency: 3
"#,
            port = api.port
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "logic");
    let log = api.lines();
    assert!(log.iter().all(|l| l[0] != "bad"), "{log:?}");
    let lists: Vec<(Vec<String>, bool)> = log
        .iter()
        .filter(|l| l[0] == "list")
        .map(|l| (l[1].split(',').map(str::to_string).collect(), l[2] == "yes"))
        .collect();
    assert_eq!(lists.len(), 60);
    let tally = |ids: &mut dyn Iterator<Item = String>| {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for id in ids {
            *m.entry(id).or_default() += 1;
        }
        m
    };
    // Every id the server listed was fetched, as often as it was listed, and nothing else.
    let listed = tally(&mut lists.iter().flat_map(|(ids, _)| ids.iter().cloned()));
    let fetched = tally(&mut log.iter().filter(|l| l[0] == "item").map(|l| l[1].clone()));
    assert_eq!(listed, fetched);
    // `limit: 2` took the first two of each list.
    let firsts = tally(
        &mut lists
            .iter()
            .flat_map(|(ids, _)| ids.iter().take(2).cloned()),
    );
    let fetched_first = tally(&mut log.iter().filter(|l| l[0] == "first").map(|l| l[1].clone()));
    assert_eq!(firsts, fetched_first);
    // `pick: random` picked a listed id once per iteration.
    let picked: Vec<&String> = log
        .iter()
        .filter(|l| l[0] == "picked")
        .map(|l| &l[1])
        .collect();
    assert_eq!(picked.len(), 60);
    assert!(picked.iter().all(|p| listed.contains_key(*p)), "{picked:?}");
    // `when:` sent `/more` exactly for the lists that said "yes".
    let yes = lists.iter().filter(|(_, more)| *more).count() as u64;
    assert_eq!(api.count("more"), yes);
    for (name, kind) in [
        ("list", "list"),
        ("item", "item"),
        ("first", "first"),
        ("picked", "picked"),
        ("more", "more"),
    ] {
        assert_eq!(total(&s, name), api.count(kind), "{name}");
    }
    for c in every_cell(&s) {
        assert_eq!(u(&c["operations"]), 20, "{c}");
        assert_eq!(u(&c["successes"]), 20, "{c}");
    }
}

#[test]
fn a_step_with_chance_runs_in_its_share_of_iterations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "chance.yaml",
        r#"version: 1
name: chance
base: builtin
scenarios:
  - name: c
    seed: 7
    flow:
      - name: always
        request: /hello
      - name: lucky
        chance: 20%
        request: /hello?lucky=1
    repeat: 5000
    models: [async]
    concurrency: 8
"#,
    );
    let s = util::run_passing(d, &plan, "chance");
    let c = every_cell(&s)[0];
    assert_eq!(ops(c, "always"), 5000);
    let lucky = ops(c, "lucky") as f64 / 5000.0;
    assert!((0.18..=0.22).contains(&lucky), "{lucky}");
}

/// Consecutive weighted steps are one switch: exactly one of them runs per iteration, in
/// proportion to its weight.
#[test]
fn weighted_steps_run_one_of_them_per_iteration_in_their_proportions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "weights.yaml",
        r#"version: 1
name: weights
base: builtin
scenarios:
  - name: w
    seed: 11
    flow:
      - name: always
        request: /hello
      - name: cart
        weight: 3
        request: /hello?cart=1
      - name: search
        weight: 1
        request: /hello?search=1
      - name: after
        request: /hello?after=1
    repeat: 4000
    models: [async]
    concurrency: 8
"#,
    );
    let s = util::run_passing(d, &plan, "weights");
    let c = every_cell(&s)[0];
    assert_eq!(ops(c, "always"), 4000);
    assert_eq!(ops(c, "after"), 4000);
    assert_eq!(
        ops(c, "cart") + ops(c, "search"),
        4000,
        "one of the two each time"
    );
    let cart = ops(c, "cart") as f64 / 4000.0;
    assert!((0.73..=0.77).contains(&cart), "{cart}");
}

#[test]
fn try_prints_each_exchange_masks_secrets_and_fails_on_a_check_with_what_it_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("want.csv"), "want\nglobe\nglobe-x\n").expect("csv");
    let plan = util::write_plan(
        d,
        "try.yaml",
        r#"version: 1
name: try
base: builtin
scenarios:
  - name: cpu
    cpu: { kernel: sum_squares, n: 10 }
    repeat: 1
  - name: shop
    data: { file: want.csv }
    setup:
      - name: login
        request: { url: /login, method: POST, json: { user: user1, password: "${TRY_PASSWORD}" } }
        capture: { token: { json: "$.token" } }
    flow:
      - name: item
        request: { url: /items/7, headers: { authorization: "Bearer ${token}" } }
        expect: { json: { "$.name": "${want}" } }
    repeat: 2
"#,
    );
    let o = util::loadplan_in(
        d,
        &["try", util::path_str(&plan), "--iterations", "2"],
        &[("TRY_PASSWORD", "pass-1")],
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 1, "{o:?}");
    let out = &o.stdout;
    // Both exchanges of the first iteration, in full; the login only once (setup).
    assert_eq!(out.matches("> POST http://127.0.0.1:").count(), 1, "{out}");
    assert_eq!(out.matches("> GET http://127.0.0.1:").count(), 2, "{out}");
    assert!(out.contains("/login    [login]"), "{out}");
    assert!(out.contains("< 200"), "{out}");
    assert!(out.contains("\"name\":\"globe\""), "{out}");
    assert!(out.contains("iteration 1: ok"), "{out}");
    // The failed check shows what it expected (a data value: masked) and what it found.
    assert!(
        out.contains(
            "iteration 2: FAILED (expectation): json `$.name` does not find the expected value: expected `${want}`, found `\"globe\"`"
        ),
        "{out}"
    );
    // Secrets show as their names: the environment's password, the captured token.
    assert!(out.contains("\"password\":\"${TRY_PASSWORD}\""), "{out}");
    assert!(!out.contains("pass-1"), "{out}");
    assert!(out.contains("authorization: Bearer ${token}"), "{out}");
    assert!(out.contains("{\"token\":\"${token}\"}"), "{out}");
    assert!(!out.contains("globe-x"), "{out}");

    // A scenario that is not there is a usage error.
    let o = util::loadplan_in(
        d,
        &["try", util::path_str(&plan), "--scenario", "nope"],
        &[("TRY_PASSWORD", "pass-1")],
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("no scenario `nope`"), "{o:?}");
}

const RUN_WIDE: &str = r#"version: 1
name: runwide
base: http://127.0.0.1:PORT
defaults: { timeout: 5s }
before:
  - name: admin-login
    request: { url: /login, method: POST, json: { user: admin } }
    capture: { token: { json: "$.TOKEN_PATH" } }
after:
  - name: farewell
    request: { url: /login, method: POST, json: { user: after } }
    expect: { status: 200 }
scenarios:
  - name: browse
    flow:
      - name: browse
        request: { url: /browse, headers: { authorization: "Bearer ${token}" } }
        expect: { status: 200 }
    repeat: 10
    models: [async, processes]
    concurrency: 2
"#;

#[test]
fn before_runs_once_per_run_and_its_captures_reach_every_user_and_after_runs_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let api = start_api(d);
    let text = RUN_WIDE
        .replace("PORT", &api.port.to_string())
        .replace("TOKEN_PATH", "token");
    let plan = util::write_plan(d, "runwide.yaml", &text);
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let said = format!("{}{}", o.stdout, o.stderr);
    assert!(said.contains("before: 1 request in"), "{said}");
    assert!(said.contains("after: 1 request in"), "{said}");
    let log = api.lines();
    // One login before any browse, one after the last; every browse with before's token.
    assert_eq!(
        log.first().map(|l| l[..2].join(" ")).as_deref(),
        Some("login admin")
    );
    assert_eq!(
        log.last().map(|l| l[..2].join(" ")).as_deref(),
        Some("login after")
    );
    assert_eq!(api.count("login"), 2);
    assert_eq!(api.count("bad"), 0, "{log:?}");
    assert!(
        log.iter()
            .filter(|l| l[0] == "browse")
            .all(|l| l[1] == "admin")
    );
    let s = util::summary(&out, "runwide");
    assert_eq!(api.count("browse"), total(&s, "browse"));
    assert_eq!(total(&s, "browse"), 20);
    assert_eq!(
        total(&s, "admin-login"),
        0,
        "before's requests are no cell's"
    );
    // Their own statistics: summary.json's `once`, shown in summary.md and index.html too.
    let once = |s: &serde_json::Value, key: &str, name: &str| -> (u64, u64) {
        let o = s["once"]
            .as_array()
            .expect("once")
            .iter()
            .find(|o| o["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {s}"));
        let q = &o["requests"][0];
        assert_eq!(q["name"], name);
        assert!(
            q["latency_us"]["p99"].as_u64().is_some_and(|p| p > 0),
            "{q}"
        );
        (u(&q["operations"]), u(&q["successes"]))
    };
    assert_eq!(once(&s, "before", "admin-login"), (1, 1));
    assert_eq!(once(&s, "after", "farewell"), (1, 1));
    let run = util::run_dir(&out, "runwide");
    let md = std::fs::read_to_string(run.join("summary.md")).expect("summary.md");
    assert!(md.contains("| before | admin-login | 1 | 0 |"), "{md}");
    let html = std::fs::read_to_string(run.join("index.html")).expect("index.html");
    assert!(
        html.contains("<td class=\"text\">farewell</td><td>1</td>"),
        "{html}"
    );

    // Per shard: each shard's process is a run of its own, with its own before and after.
    api.clear();
    let m = two_shards_merged(d, &plan, "runwide");
    assert_eq!(once(&m, "before", "admin-login"), (2, 2), "one per shard");
    assert_eq!(once(&m, "after", "farewell"), (2, 2));
    let log = api.lines();
    assert_eq!(
        log.iter()
            .filter(|l| l[..2].join(" ") == "login admin")
            .count(),
        2
    );
    assert_eq!(
        log.iter()
            .filter(|l| l[..2].join(" ") == "login after")
            .count(),
        2
    );
    assert_eq!(api.count("bad"), 0, "{log:?}");

    // A failed before stops the run before any load: exit 3, with its reason.
    api.clear();
    let plan = util::write_plan(
        d,
        "runwide.yaml",
        &RUN_WIDE
            .replace("PORT", &api.port.to_string())
            .replace("TOKEN_PATH", "missing"),
    );
    let o = util::run_plan(d, &plan, &d.join("out2"));
    assert_eq!(o.code, 3, "{o:?}");
    assert!(o.stderr.contains("before: 1 request in"), "{o:?}");
    assert!(
        o.stderr
            .contains("capture `token`: json `$.missing` finds nothing; no cell ran"),
        "{o:?}"
    );
    assert_eq!(api.count("browse"), 0);
}
