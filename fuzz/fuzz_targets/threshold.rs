//! Fuzz target: threshold expressions. `plan::threshold::parse` must return a threshold whose limit
//! is a finite, non-negative number (it is written to summary.json, where JSON has no infinity) or
//! an error that quotes the expression; then the same expression, embedded in a plan whose
//! scenario matches the fixture summary's, is checked by the gate on a real summary, and the
//! result must render and read back.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use loadplan::plan::threshold;
use loadplan_fuzz::{SUMMARY, render_everything};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match threshold::parse(text) {
        Ok(t) => {
            assert!(
                t.limit.is_finite() && t.limit >= 0.0,
                "{text:?}: limit {}",
                t.limit
            );
            assert_eq!(t.to_string(), text.trim());
        }
        Err(e) => assert!(e.to_string().starts_with("threshold `"), "{e}"),
    }
    let Ok(quoted) = serde_json::to_string(text) else {
        return;
    };
    let yaml = format!(
        "version: 1\nname: saved-fixture\nbase: builtin\nscenarios:\n  - name: download\n    targets: [/hello]\n    repeat: 1\n    models: [sequential, threads]\n    thresholds: [{quoted}]\n"
    );
    let Ok(plan) = loadplan::plan::parse(Path::new("threshold.yaml"), &yaml) else {
        return;
    };
    let Ok(mut summary) = loadplan::stats::saved::parse_summary("summary.json", SUMMARY) else {
        panic!("the fixture summary reads");
    };
    loadplan::gate::evaluate(&plan, &mut summary, None);
    render_everything(summary);
});
