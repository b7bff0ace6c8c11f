//! Fuzz target: arbitrary bytes as a plan file. The parser must return a plan or a located error
//! and never panic, hang or exhaust memory (libFuzzer's `-timeout` and `-rss_limit_mb` watch the
//! last two). Bytes that are not UTF-8 are refused by `plan::load` before `parse`, so only text
//! reaches the parser, as in the binary.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = loadplan::plan::parse(Path::new("fuzz.yaml"), text) {
        // A refusal must always carry a position and a message.
        assert!(e.line >= 1 && e.column >= 1, "{e}");
        assert!(!e.message.is_empty());
        let _ = e.render();
    }
});
