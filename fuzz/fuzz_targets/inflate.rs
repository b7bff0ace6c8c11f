//! Fuzz target: loadplan's own DEFLATE inflater (it checks saved histograms before the
//! HdrHistogram decoder sees them) against flate2 on the same raw stream. Whatever one inflates
//! within the limit, the other must inflate to the same bytes; neither may panic, and loadplan's
//! never exceeds the limit. (The zlib wrapper's checksum is compared with zlib's own by the unit
//! tests: flate2's Rust backend does not check it.)
#![no_main]

use flate2::{Decompress, FlushDecompress, Status};
use libfuzzer_sys::fuzz_target;
use loadplan::stats::saved::inflate;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let ours = inflate::raw(data, LIMIT);
    let mut theirs = Vec::with_capacity(LIMIT);
    let status = Decompress::new(false).decompress_vec(data, &mut theirs, FlushDecompress::Finish);
    let theirs_ok = matches!(status, Ok(Status::StreamEnd));
    match &ours {
        Ok((out, _)) if theirs_ok => assert_eq!(out, &theirs, "both inflate, differently"),
        Ok((out, _)) => panic!("ours inflates {} bytes, flate2 says {status:?}", out.len()),
        Err(e) if theirs_ok => panic!("flate2 inflates {} bytes, ours refuses: {e}", theirs.len()),
        Err(_) => {}
    }
    if let Ok((out, used)) = ours {
        assert!(out.len() <= LIMIT && used <= data.len());
    }
});
