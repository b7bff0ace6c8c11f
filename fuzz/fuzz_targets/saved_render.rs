//! Fuzz target: a saved file (bytes that look like JSON as they are; otherwise a real summary.json
//! or shard file with structure-aware edits) through the saved-results loader, then, when the
//! loader accepts a summary, through every renderer `loadplan report` runs. The loader must refuse
//! with a message naming the file, or accept something every renderer draws without panicking;
//! and the summary.json rendered from it must read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadplan::stats::saved::Saved;
use loadplan_fuzz::{SHARD_1, SUMMARY, parse, render_everything, saved_file};

fuzz_target!(|data: &[u8]| {
    let bytes = saved_file(data, &[SUMMARY, SUMMARY, SUMMARY, SHARD_1]);
    if let Some(Saved::Summary(s)) = parse("fuzz.json", &bytes) {
        render_everything(*s);
    }
});
