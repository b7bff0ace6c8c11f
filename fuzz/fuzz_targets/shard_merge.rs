//! Fuzz target: two shard results files merged as `loadplan report a.json b.json` merges them:
//! each through the loader, the plan they carry re-read, `merge_results`, then the summary and the
//! gate. Raw input is two JSON documents split at the first NUL byte; otherwise both real shard
//! files get structure-aware edits. Nothing may panic, and a merge of files the loader accepted
//! must give a summary the loader accepts too (what loadplan writes, loadplan reads).
#![no_main]

use std::path::Path;

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use loadplan::stats::saved::{self, Saved};
use loadplan_fuzz::{Edit, SHARD_1, SHARD_2, edited, is_raw, parse};

fn inputs(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if is_raw(data) {
        return match data.iter().position(|b| *b == 0) {
            Some(at) => (data[..at].to_vec(), data[at + 1..].to_vec()),
            None => (data.to_vec(), SHARD_2.to_vec()),
        };
    }
    let mut u = Unstructured::new(data);
    let swap = u.arbitrary::<bool>().unwrap_or(false);
    let first: Vec<Edit> = u.arbitrary().unwrap_or_default();
    let second = Vec::<Edit>::arbitrary_take_rest(u).unwrap_or_default();
    let (a, b) = if swap {
        (SHARD_2, SHARD_1)
    } else {
        (SHARD_1, SHARD_2)
    };
    (edited(a, &first), edited(b, &second))
}

fuzz_target!(|data: &[u8]| {
    let (a, b) = inputs(data);
    let (Some(Saved::Results(x)), Some(Saved::Results(y))) =
        (parse("a.json", &a), parse("b.json", &b))
    else {
        return;
    };
    let Ok(plan) = loadplan::plan::parse_saved(Path::new(&x.plan.file), &x.plan.source) else {
        return;
    };
    let files = vec![("a.json".to_string(), *x), ("b.json".to_string(), *y)];
    let Ok(run) = loadplan::stats::merge_results(&plan, &files) else {
        return;
    };
    let mut summary = loadplan::stats::summarize(&plan, &run);
    loadplan::gate::evaluate(&plan, &mut summary, None);
    if let Err(e) = saved::check_summary("merged", &summary) {
        panic!("a merge of accepted shard files is refused: {e}");
    }
    let _ = loadplan::report::console::table(&summary);
    let _ = loadplan::report::markdown::render(&summary);
});
