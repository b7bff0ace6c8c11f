//! Validity end to end: an open model whose users cannot carry its rate is `invalid` (exit 4)
//! with the users' cap and the concurrency it needs, first in the console, the HTML report,
//! summary.md and junit.xml; the same run passes at a rate the users can carry; a plan can turn
//! the rule into a warning; an invalid run that also failed a threshold stays invalid and still
//! lists the failed check.

use std::path::Path;

use super::util::{self, run_dir, summary, write_plan};

/// 4 users in front of a 200 ms target: they can carry 20 arrivals a second.
fn plan(dir: &Path, rate: u32, extra: &str) -> std::path::PathBuf {
    write_plan(
        dir,
        "arrivals.yaml",
        &format!(
            r#"version: 1
name: arrivals
base: builtin
{extra}scenarios:
  - name: api
    targets: ["/io?delay=200ms"]
    rate: {rate}/s
    duration: 2s
    concurrency: 4
    timeout: 1s
    models: [async]
"#
        ),
    )
}

/// The number after `raise concurrency to ≥ ` in `text`.
fn needed(text: &str) -> u32 {
    let at = text
        .find("raise concurrency to ≥ ")
        .unwrap_or_else(|| panic!("no fix in {text}"));
    text[at + "raise concurrency to ≥ ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

#[test]
fn arrivals_beyond_the_users_cap_make_the_run_invalid_and_name_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");

    // 15/s: within the cap of 20/s.
    let ok = plan(dir.path(), 15, "");
    let out = dir.path().join("ok");
    let r = util::run_plan(dir.path(), &ok, &out);
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&out, "arrivals");
    assert_eq!(s["verdict"], "passed");
    assert!(s.get("validity").is_none(), "{}", s["validity"]);

    // 60/s: three times the cap.
    let over = plan(dir.path(), 60, "");
    let out = dir.path().join("over");
    let r = util::run_plan(dir.path(), &over, &out);
    assert_eq!(r.code, 4, "{r:?}");
    let s = summary(&out, "arrivals");
    assert_eq!(s["verdict"], "invalid");
    let findings = s["validity"].as_array().expect("validity findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(f["rule"], "dropped_arrivals");
    assert_eq!(f["action"], "fail");
    assert_eq!(f["cell"], "async c=4 w=1");
    let fix = f["fix"].as_str().expect("fix");
    // 4 users × ~200 ms = ~20/s; 60/s × ~200 ms × 1.1 ≈ 13.2 → 14 (more if the target is slow).
    assert!(fix.starts_with("4 users × 2"), "{fix}");
    assert!(fix.contains(" = 19/s") || fix.contains(" = 20/s"), "{fix}");
    assert!((14..=16).contains(&needed(fix)), "{fix}");
    assert!(f["measured"].as_f64() > f["bound"].as_f64(), "{f}");

    // First in every output: the console before the gate's results, the verdict line.
    for said in [
        "✘ INVALID: the run did not measure what it asked",
        "api · async c=4 w=1: dropped_arrivals:",
        "verdict: INVALID",
    ] {
        assert!(r.stdout.contains(said), "{said:?} in {}", r.stdout);
    }
    let run = run_dir(&out, "arrivals");
    let html = std::fs::read_to_string(run.join("index.html")).expect("index.html");
    let main = &html[html.find("<main>").expect("main")..];
    assert!(
        main.trim_start_matches("<main>")
            .trim_start()
            .starts_with("<section class=\"why-invalid\"")
    );
    assert!(html.contains("verdict-invalid"));
    let md = std::fs::read_to_string(run.join("summary.md")).expect("summary.md");
    assert!(
        md.lines().next().is_some_and(|l| l.contains("⚠️ invalid")),
        "{md}"
    );
    let first_section = md.find("<details>").expect("a section");
    assert!(
        md[first_section..].starts_with("<details><summary>⚠️ Why it is invalid</summary>"),
        "{md}"
    );
    let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit.xml");
    let suite = junit
        .find("<testsuite name=\"validity\"")
        .expect("validity suite");
    assert!(suite < junit.find("<testsuite name=\"api\"").expect("api suite"));
    assert!(junit.contains("raise concurrency to ≥"), "{junit}");
}

#[test]
fn a_plan_can_turn_the_rule_into_a_warning_and_invalid_beats_failed() {
    let dir = tempfile::tempdir().expect("tempdir");

    let warned = plan(dir.path(), 60, "validity: { dropped_arrivals: warn }\n");
    let out = dir.path().join("warned");
    let r = util::run_plan(dir.path(), &warned, &out);
    assert_eq!(r.code, 0, "{r:?}");
    let s = summary(&out, "arrivals");
    assert_eq!(s["verdict"], "passed");
    assert_eq!(s["validity"][0]["action"], "warn");
    assert!(
        r.stdout
            .contains("⚠ warn api · async c=4 w=1: dropped_arrivals"),
        "{}",
        r.stdout
    );

    // Invalid and a failed threshold: invalid wins (exit 4), the failed check is still listed.
    let both = write_plan(
        dir.path(),
        "both.yaml",
        r#"version: 1
name: arrivals
base: builtin
scenarios:
  - name: api
    targets: ["/io?delay=200ms"]
    rate: 60/s
    duration: 2s
    concurrency: 4
    timeout: 1s
    models: [async]
    thresholds: ["p99 < 1ms"]
"#,
    );
    let out = dir.path().join("both");
    let r = util::run_plan(dir.path(), &both, &out);
    assert_eq!(r.code, 4, "{r:?}");
    assert_eq!(summary(&out, "arrivals")["verdict"], "invalid");
    let invalid = r.stdout.find("✘ INVALID").expect("invalid first");
    let failed = r
        .stdout
        .find("why it failed")
        .expect("failed checks listed");
    assert!(invalid < failed, "{}", r.stdout);
    assert!(r.stdout.contains("p99 < 1ms"), "{}", r.stdout);

    // An unknown rule name is a plan error.
    let typo = plan(dir.path(), 15, "validity: { dropped: warn }\n");
    let r = util::loadplan(dir.path(), &["validate", util::path_str(&typo)]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("dropped_arrivals"), "{r:?}");
}
