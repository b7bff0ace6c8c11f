//! Scenarios together (`group: NAME`), end to end, against the Python API of `traffic.rs`: 40
//! browsing users log in once each and browse while a checkout scenario arrives at 5/s in the
//! same group. The server's own log is the truth: its counts equal loadplan's per scenario and
//! per request, and its timestamps show every checkout served between browses (the members ran
//! at the same time), in every model and over two shards merged. The group's combined figures
//! add up to its members'.
//!
//! A second test runs a group with rounds, user stages and a rate on the built-in server.
//!
//! Wall time: the `async` run browses for the issue's 10 s; the other models and the shards for
//! 3 s each (the same code path, shorter), about 45 s in all.

use std::path::{Path, PathBuf};

use super::traffic::{ops, start_api, two_shards_merged};
use super::util::{self, u};

const PLAN: &str = r#"version: 1
name: together
base: http://127.0.0.1:PORT
defaults: { timeout: 5s }
groups:
  shop:
    thresholds: ["error_rate < 1%", "p95 < 2s"]
scenarios:
  - name: browse
    group: shop
    setup:
      - name: login
        request: { url: /login, method: POST, json: { user: "u" } }
        expect: { status: 200 }
        capture: { token: { json: "$.token" } }
    flow:
      - name: browse
        request: { url: /browse, headers: { authorization: "Bearer ${token}" } }
        expect: { status: 200 }
        think: 50ms
    duration: SECONDS
    models: MODELS
    concurrency: 40
  - name: checkout
    group: shop
    start: 1s
    flow:
      - name: checkout
        request: { url: /checkout, method: POST, json: { item: 1 } }
        expect: { status: 200 }
    rate: 5/s
    duration: CHECKOUT
    models: MODELS
"#;

/// The plan for the API on `port`: models `models`, browsing for `seconds` (checkout from 1 s
/// to 1 s before the end).
fn plan(dir: &Path, port: u16, models: &str, seconds: u64) -> PathBuf {
    let text = PLAN
        .replace("PORT", &port.to_string())
        .replace("MODELS", models)
        .replace("CHECKOUT", &format!("{}s", seconds - 2))
        .replace("SECONDS", &format!("{seconds}s"));
    util::write_plan(dir, "together.yaml", &text)
}

/// The summary's cells of `scenario`.
fn cells<'a>(s: &'a serde_json::Value, scenario: &str) -> &'a [serde_json::Value] {
    util::cells(s, scenario)
}

/// Holds a run's summary against the server's log since it was last cleared: logins, browses
/// and checkouts counted alike per scenario and per request, every checkout served while
/// browses went on (a browse within half a second before it and one after it), and each
/// group cell the sum of its members' cells. `users` is the browsing users per cell.
fn check(api: &util::LoggedApi, s: &serde_json::Value, users: &[u64]) {
    let browse = cells(s, "browse");
    let checkout = cells(s, "checkout");
    assert_eq!(browse.len(), users.len());
    assert_eq!(checkout.len(), users.len());
    for (c, &n) in browse.iter().zip(users) {
        assert_eq!(ops(c, "login"), n, "one login per user: {c}");
        assert_eq!(u(&c["operations"]), ops(c, "browse"), "{c}");
        assert_eq!(u(&c["successes"]), u(&c["operations"]), "no errors: {c}");
    }
    let sum = |cs: &[serde_json::Value], name: &str| cs.iter().map(|c| ops(c, name)).sum::<u64>();
    let per_scenario =
        |cs: &[serde_json::Value]| -> u64 { cs.iter().map(|c| u(&c["operations"])).sum() };
    assert_eq!(api.count("login"), users.iter().sum::<u64>());
    assert_eq!(api.count("login"), sum(browse, "login"));
    assert_eq!(api.count("browse"), sum(browse, "browse"));
    assert_eq!(api.count("browse"), per_scenario(browse));
    assert_eq!(api.count("checkout"), sum(checkout, "checkout"));
    assert_eq!(api.count("checkout"), per_scenario(checkout));
    assert!(api.count("checkout") > 0);
    assert_eq!(api.count("bad"), 0);

    // The server's clock: every checkout between two browses, close on either side.
    let log = api.lines();
    let time = |l: &Vec<String>| l.last().and_then(|t| t.parse::<f64>().ok()).expect("time");
    let browses: Vec<f64> = log.iter().filter(|l| l[0] == "browse").map(time).collect();
    let checkouts: Vec<f64> = log
        .iter()
        .filter(|l| l[0] == "checkout")
        .map(time)
        .collect();
    eprintln!(
        "server clock: browses {:.3}..{:.3} s, checkouts {:.3}..{:.3} s ({} and {})",
        browses.first().copied().unwrap_or_default(),
        browses.last().copied().unwrap_or_default(),
        checkouts.first().copied().unwrap_or_default(),
        checkouts.last().copied().unwrap_or_default(),
        browses.len(),
        checkouts.len()
    );
    for t in &checkouts {
        let before = browses.iter().any(|b| *b <= *t && t - b < 0.5);
        let after = browses.iter().any(|b| *b >= *t && b - t < 0.5);
        assert!(
            before && after,
            "checkout at {t:.3} s with no browse around it"
        );
    }

    // The group: one combined cell per model, its members' operations and seconds added.
    let groups = s["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g["name"], "shop");
    assert_eq!(g["members"], serde_json::json!(["browse", "checkout"]));
    let gcells = g["cells"].as_array().expect("group cells");
    assert_eq!(gcells.len(), users.len());
    for ((gc, b), c) in gcells.iter().zip(browse).zip(checkout) {
        assert_eq!(gc["model"], b["model"]);
        assert_eq!(
            u(&gc["operations"]),
            u(&b["operations"]) + u(&c["operations"]),
            "{gc}"
        );
        assert_eq!(util::timeline_total(gc), u(&gc["operations"]), "{gc}");
        // The checkout's seconds are on the group clock: nothing in its first second.
        let first = c["timeline"][0]["second"].as_f64().expect("second");
        assert!(first >= 1.0, "checkout starts 1 s in: {c}");
        let names: Vec<&str> = gc["thresholds"]
            .as_array()
            .expect("thresholds")
            .iter()
            .filter_map(|t| {
                t["passed"]
                    .as_bool()
                    .filter(|p| *p)
                    .and(t["expression"].as_str())
            })
            .collect();
        assert_eq!(names, ["error_rate < 1%", "p95 < 2s"], "{gc}");
    }
}

#[test]
fn browse_and_checkout_run_together_and_count_as_the_server_saw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let api = start_api(d);

    // async, for the issue's 10 s.
    let p = plan(d, api.port, "[async]", 10);
    let out = d.join("async");
    let o = util::run_plan(d, &p, &out);
    assert_eq!(o.code, 0, "{o:?}");
    check(&api, &util::summary(&out, "together"), &[40]);

    // The other models, 3 s each.
    api.clear();
    let p = plan(d, api.port, "[sequential, threads, processes]", 3);
    let out = d.join("others");
    let o = util::run_plan(d, &p, &out);
    assert_eq!(o.code, 0, "{o:?}");
    check(&api, &util::summary(&out, "together"), &[1, 40, 40]);

    // Two shards side by side, merged: each runs its share of both members together.
    api.clear();
    let p = plan(d, api.port, "[async, processes]", 3);
    check(&api, &two_shards_merged(d, &p, "together"), &[40, 40]);
}

/// Members that disagree on their models are a plan error at the second member's `models`.
#[test]
fn members_on_different_models_are_a_plan_error_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let text = "version: 1\nname: g\nbase: builtin\nscenarios:\n  - name: a\n    group: g\n    targets: [/hello]\n    repeat: 1\n    models: [async]\n  - name: b\n    group: g\n    targets: [/hello]\n    repeat: 1\n    models: [async, threads]\n";
    let p = util::write_plan(d, "g.yaml", text);
    let r = util::loadplan(d, &["validate", util::path_str(&p)]);
    assert_eq!(r.code, 2, "{r:?}");
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("g.yaml:14:"), "{said}");
    assert!(
        said.contains("the members of a group run on the same models"),
        "{said}"
    );
}

/// A group with `rounds: 2` whose members have three kinds of load (closed users for a duration,
/// user stages, an arrival rate with a start offset), on the built-in server, in three models:
/// each round runs the members together, the rate member's arrivals are exactly its rate's, and
/// the group's cell adds up its members' in every model.
#[test]
fn a_group_runs_rounds_stages_and_a_rate_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let plan = util::write_plan(
        d,
        "rounds.yaml",
        r#"version: 1
name: group-rounds
base: builtin
rounds: 2
groups:
  shop:
    thresholds: ["error_rate < 1%"]
scenarios:
  - name: browse
    group: shop
    targets: [/hello]
    duration: 1s
    concurrency: 2
    models: [sequential, async, processes]
  - name: ramp
    group: shop
    targets: [/hello]
    stages: [ { duration: 500ms, concurrency: 2 }, { duration: 500ms, concurrency: 4 } ]
    models: [sequential, async, processes]
  - name: buy
    group: shop
    targets: [/hello]
    rate: 20/s
    duration: 1s
    concurrency: 2
    start: 200ms
    models: [sequential, async, processes]
"#,
    );
    // `validate` says the members run together, and counts their time once per round: three
    // models × (0.2 s offset + 1 s) × 2 rounds.
    let v = util::loadplan(d, &["validate", util::path_str(&plan)]);
    assert_eq!(v.code, 0, "{v:?}");
    assert!(
        v.stdout
            .contains("group shop: browse + ramp + buy run together")
            && v.stdout
                .contains("total over 2 rounds: 0 counted operations, 7s 200ms of timed load"),
        "{}",
        v.stdout
    );
    let out = d.join("out");
    let r = util::run_plan(d, &plan, &out);
    assert_eq!(r.code, 0, "{r:?}");
    let s = util::summary(&out, "group-rounds");
    let g = &s["groups"][0];
    assert_eq!(g["members"], serde_json::json!(["browse", "ramp", "buy"]));
    for (i, model) in ["sequential", "async", "processes"].iter().enumerate() {
        let members: Vec<&serde_json::Value> = ["browse", "ramp", "buy"]
            .iter()
            .map(|m| &cells(&s, m)[i])
            .collect();
        for c in &members {
            assert_eq!(c["model"], *model, "{c}");
            assert_eq!(u(&c["rounds"]["count"]), 2, "{c}");
        }
        // 20/s for 1 s, in each of 2 rounds.
        assert_eq!(u(&members[2]["operations"]), 40, "{}", members[2]);
        let gc = &g["cells"][i];
        assert_eq!(gc["model"], *model, "{gc}");
        let sum: u64 = members.iter().map(|c| u(&c["operations"])).sum();
        assert_eq!(u(&gc["operations"]), sum, "{gc}");
        assert_eq!(u(&gc["rounds"]["count"]), 2, "{gc}");
        assert_eq!(gc["thresholds"][0]["passed"], true, "{gc}");
    }
}
