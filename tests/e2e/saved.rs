//! Saved results read back (issue 18): a damaged, out-of-range or other-version summary.json or
//! shard file makes `loadplan report` exit 2 naming the file and the field's path, and writes
//! nothing; `--baseline` refuses the same before any load is sent; real files of every kind pass.
//!
//! The binary's `report` command reads every file through `stats::saved::parse`; the
//! library-level proofs of the same refusals are unit tests in `src/stats/saved/`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use loadplan::report;
use loadplan::stats::saved::{self, Saved};
use serde_json::Value;

use super::util::{self, loadplan, path_str as s};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saved")
}

/// Every `refused/*.json` with the message its `.expect` file says it is refused with.
fn refused_fixtures() -> Vec<(PathBuf, String)> {
    let dir = fixtures().join("refused");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("refused fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let want = std::fs::read_to_string(p.with_extension("expect")).expect(".expect");
            (p, want.trim().to_string())
        })
        .collect();
    out.sort();
    out
}

/// The fixture `name` with the value at `pointer` replaced, written into `dir`.
fn fixture_with(dir: &Path, name: &str, pointer: &str, value: Value) -> PathBuf {
    let bytes = std::fs::read(fixtures().join(name)).expect("fixture");
    let mut v: Value = serde_json::from_slice(&bytes).expect("json");
    *v.pointer_mut(pointer).expect(pointer) = value;
    let file = dir.join(name);
    std::fs::write(&file, v.to_string()).expect("write");
    file
}

/// `loadplan report FILES… --out DIR` exits 2, says each of `wants`, and writes nothing.
fn report_refuses(dir: &Path, files: &[&Path], wants: &[&str]) {
    let out = dir.join("out");
    let mut args = vec!["report"];
    args.extend(files.iter().map(|f| s(f)));
    args.extend(["--out", s(&out)]);
    let r = loadplan(dir, &args);
    assert_eq!(r.code, 2, "{files:?}: {r:?}");
    for want in wants {
        assert!(r.stderr.contains(want), "wants `{want}`: {r:?}");
    }
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    assert!(!out.exists(), "{files:?}: nothing written");
}

#[test]
fn damaged_files_make_report_exit_2_naming_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, want) in refused_fixtures() {
        let named = format!("{}: ", file.display());
        report_refuses(dir.path(), &[&file], &[&named, &want]);
    }
}

#[test]
fn report_reads_exactly_the_current_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = fixture_with(
        dir.path(),
        "summary.json",
        "/schema_version",
        Value::from(2),
    );
    let want = "schema_version 2 is newer than this loadplan reads (1)";
    report_refuses(dir.path(), &[&newer], &[want]);
}

#[test]
fn a_damaged_shard_stops_the_merge_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = fixtures().join("shard-1-of-2.json");
    let pointer = "/cells/0/recorder/operations";
    let bad = fixture_with(
        dir.path(),
        "shard-2-of-2.json",
        pointer,
        Value::from(u64::MAX),
    );
    let want = "cells[0].recorder.operations: 18446744073709551615 is out of range";
    report_refuses(dir.path(), &[&good, &bad], &[want]);
    let out = dir.path().join("out");
    // The two real shards still merge.
    let other = fixtures().join("shard-2-of-2.json");
    let r = loadplan(
        dir.path(),
        &["report", s(&good), s(&other), "--out", s(&out)],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_damaged_baseline_is_refused_before_any_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = fixtures().join("plan.yaml");
    for (file, want) in refused_fixtures()
        .into_iter()
        .filter(|(f, _)| !s(f).contains("shard"))
    {
        let out = dir.path().join("out");
        let r = loadplan(
            dir.path(),
            &["run", s(&plan), "--baseline", s(&file), "--out", s(&out)],
        );
        assert_eq!(r.code, 2, "{}: {r:?}", file.display());
        assert!(
            r.stderr.contains(s(&file)) && r.stderr.contains(&want),
            "wants `{want}`: {r:?}"
        );
        assert!(!out.exists(), "nothing ran, nothing written");
    }
}

/// The run folder's summary.json under `out`, read through the loader.
fn loaded(out: &Path) -> Saved {
    let file = util::run_dir(out, "saved-fixture").join("summary.json");
    let bytes = std::fs::read(&file).expect("summary.json");
    saved::parse(s(&file), &bytes).unwrap_or_else(|e| panic!("refused: {e}"))
}

#[test]
fn real_runs_shards_merges_and_baselines_pass_the_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = fixtures().join("plan.yaml");
    let first = dir.path().join("first");
    let r = util::run_plan(dir.path(), &plan, &first);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(matches!(loaded(&first), Saved::Summary(_)));

    // A run compared with a baseline carries the comparison in its summary.
    let baseline = util::run_dir(&first, "saved-fixture").join("summary.json");
    let second = dir.path().join("second");
    let r = loadplan(
        dir.path(),
        &[
            "run",
            s(&plan),
            "--baseline",
            s(&baseline),
            "--tolerance",
            "99%",
            "--out",
            s(&second),
        ],
    );
    // Passed or failed by the comparison (a busy machine), the summary is written either way.
    assert!(r.code == 0 || r.code == 1, "{r:?}");
    match loaded(&second) {
        Saved::Summary(s) => assert!(s.baseline.is_some()),
        other => panic!("{other:?}"),
    }

    let mut shards = Vec::new();
    for i in 1..=2 {
        let file = dir.path().join(format!("shard-{i}.json"));
        let shard = format!("{i}/2");
        let r = loadplan(
            dir.path(),
            &["run", s(&plan), "--shard", &shard, "--results", s(&file)],
        );
        assert_eq!(r.code, 0, "{r:?}");
        let bytes = std::fs::read(&file).expect("results");
        match saved::parse(s(&file), &bytes) {
            Ok(Saved::Results(_)) => {}
            other => panic!("{other:?}"),
        }
        shards.push(file);
    }
    let merged = dir.path().join("merged");
    let r = loadplan(
        dir.path(),
        &["report", s(&shards[0]), s(&shards[1]), "--out", s(&merged)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(matches!(loaded(&merged), Saved::Summary(_)));
}

// ---------------------------------------------------------------------------------------------
// The in-process mutation run (the library-level twin of scripts/mutate_saved.py).

/// Replacements a mutation may put anywhere.
fn extremes(old: &Value, rng: &mut fastrand::Rng) -> Value {
    let pick = rng.usize(0..17);
    match pick {
        0 => Value::from(0),
        1 => Value::from(-1),
        2 => Value::from(1e308),
        3 => Value::from(1u64 << 63),
        4 => Value::from(u64::MAX),
        5 => Value::from(-1e308),
        6 => Value::from(5e-324),
        7 => Value::from("NaN"),
        8 => Value::from("Infinity"),
        9 => Value::from(old.to_string()),
        10 => Value::Array(Vec::new()),
        11 => Value::Object(Default::default()),
        12 => Value::Null,
        13 => Value::from(true),
        14 => Value::from(old.as_f64().map_or(1.0, |f| f * 2.0 + 1.0)),
        15 => Value::from(old.as_u64().map_or(0, |n| n.saturating_add(1))),
        _ => Value::from(old.as_u64().map_or(0, |n| n.saturating_sub(1))),
    }
}

/// Pointers to every node of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            pointers(
                c,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

/// One to three random damages: an extreme or wrongly typed value, a dropped key, a truncated
/// string (a histogram cut short), one character of a string changed.
fn mutate(template: &Value, rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut v = template.clone();
    for _ in 0..rng.usize(1..=3) {
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let at = all[rng.usize(..all.len())].clone();
        let Some((parent, key)) = at.rsplit_once('/') else {
            continue;
        };
        let action = rng.usize(0..10);
        if action == 0 {
            if let Some(Value::Object(m)) = v.pointer_mut(parent) {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            continue;
        }
        let Some(node) = v.pointer_mut(&at) else {
            continue;
        };
        match (action, &mut *node) {
            (1 | 2, Value::String(text)) if !text.is_empty() => {
                let mut chars: Vec<char> = text.chars().collect();
                if action == 1 {
                    chars.truncate(rng.usize(..chars.len()));
                } else {
                    let i = rng.usize(..chars.len());
                    chars[i] = rng.alphanumeric();
                }
                *text = chars.into_iter().collect();
            }
            _ => *node = extremes(node, rng),
        }
    }
    serde_json::to_vec_pretty(&v).expect("serialize")
}

/// What one mutated copy came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Refused,
    Accepted,
    Panicked,
}

/// What `loadplan report A B` does with two accepted shard files, short of writing: the plan
/// they carry re-read, the merge, the gate; the merged summary must pass the loader's checks.
fn merged_with(r: loadplan::stats::Results, sibling: &loadplan::stats::Results) -> Outcome {
    let Ok(plan) = loadplan::plan::parse_saved(Path::new(&r.plan.file), &r.plan.source) else {
        return Outcome::Refused; // the plan it carries no longer parses: exit 2
    };
    let files = vec![("a".to_string(), r), ("b".to_string(), sibling.clone())];
    let Ok(run) = loadplan::stats::merge_results(&plan, &files) else {
        return Outcome::Refused;
    };
    let mut s = loadplan::stats::summarize(&plan, &run);
    loadplan::gate::evaluate(&plan, &mut s, None);
    if let Err(e) = saved::check_summary("merged", &s) {
        panic!("a merge of accepted shards is refused: {e}");
    }
    let _ = report::console::table(&s);
    let _ = report::markdown::render(&s);
    Outcome::Accepted
}

#[test]
#[ignore = "slow: LOADPLAN_MUTATIONS=10000 cargo test --test e2e mutated -- --ignored --nocapture"]
fn mutated_saved_files_are_refused_or_rendered_never_a_panic() {
    let n: usize = std::env::var("LOADPLAN_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(fixtures().join(name)).expect("fixture"))
            .expect("json")
    };
    let (summary, shard, sibling) = (
        read("summary.json"),
        read("shard-1-of-2.json"),
        read("shard-2-of-2.json"),
    );
    let sibling = match saved::parse("shard-2-of-2.json", sibling.to_string().as_bytes()) {
        Ok(Saved::Results(r)) => *r,
        other => panic!("{other:?}"),
    };
    let reporters = report::reporters(None).expect("templates");
    let last_panic = Arc::new(Mutex::new(String::new()));
    let seen = Arc::clone(&last_panic);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut s) = seen.lock() {
            *s = info.to_string();
        }
    }));
    let mut rng = fastrand::Rng::with_seed(18);
    let mut counts: BTreeMap<(&str, Outcome), usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for (kind, template) in [("summary", &summary), ("shard", &shard)] {
        for i in 0..n {
            let bytes = mutate(template, &mut rng);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                match saved::parse("mutated.json", &bytes) {
                    Err(_) => Outcome::Refused,
                    Ok(Saved::Summary(mut s)) => {
                        loadplan::gate::decide(&mut s);
                        let _ = report::console::table(&s);
                        let _ = report::console::gate(&s);
                        for r in &reporters {
                            let _ = r.render(&s);
                        }
                        Outcome::Accepted
                    }
                    Ok(Saved::Results(r)) => merged_with(*r, &sibling),
                }
            }))
            .unwrap_or(Outcome::Panicked);
            if outcome == Outcome::Panicked {
                let dump = std::env::temp_dir().join(format!("loadplan-mutated-{kind}-{i}.json"));
                let _ = std::fs::write(&dump, &bytes);
                let message = last_panic.lock().map(|s| s.clone()).unwrap_or_default();
                panics.push(format!("{}: {message}", dump.display()));
            }
            *counts.entry((kind, outcome)).or_default() += 1;
        }
    }
    std::panic::set_hook(hook);
    eprintln!("{n} mutated copies of each kind: {counts:?}");
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

#[test]
fn a_threshold_limit_that_overflows_is_refused_when_the_plan_is_read() {
    let plan = fixtures().join("known/threshold-infinite-limit.yaml");
    let r = loadplan(fixtures().as_path(), &["validate", s(&plan)]);
    assert_eq!(
        r.code, 2,
        "the run's summary.json could not be read back: {r:?}"
    );
}
