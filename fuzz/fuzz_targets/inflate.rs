//! Fuzz target: loadplan's bounded zlib inflater (`stats::saved::inflate`, flate2 with a limit on
//! the output; it inflates saved histograms before the HdrHistogram decoder sees them) against
//! flate2's own streaming decoder without that limit, on the same zlib stream. Whatever flate2
//! inflates within the limit, the bounded one must inflate to the same bytes; what flate2
//! inflates past the limit, it must refuse as too large; what flate2 refuses, it must refuse. It
//! never returns more than the limit, and never panics. flate2's reader does not check the
//! Adler-32 trailer; the bounded inflater does, so a wrong checksum is the one refusal allowed
//! where flate2 reads the stream.
#![no_main]

use std::io::Read;

use flate2::read::ZlibDecoder;
use libfuzzer_sys::fuzz_target;
use loadplan::stats::saved::inflate::{self, InflateError};

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let ours = inflate::zlib(data, LIMIT);
    // Unbounded in spirit; capped far past the limit so that a zlib bomb cannot exhaust the
    // fuzzer's memory.
    let mut theirs = Vec::new();
    let mut decoder = ZlibDecoder::new(data);
    let read = (&mut decoder)
        .take(4 * LIMIT as u64)
        .read_to_end(&mut theirs);
    // flate2's streaming reader does not check the zlib trailer (Adler-32); the bounded
    // inflater does, and refuses a stream whose checksum is wrong. Where the trailer sits: just
    // before or just after what the reader consumed.
    let used = usize::try_from(decoder.total_in()).unwrap_or(usize::MAX);
    let sum = adler32(&theirs).to_be_bytes();
    let checksum_ok = [used.saturating_sub(4), used]
        .iter()
        .any(|&at| data.get(at..at.saturating_add(4)) == Some(&sum[..]));
    match (&ours, read) {
        (Err(InflateError::Invalid(_)), Ok(_)) if theirs.len() <= LIMIT && !checksum_ok => {}
        // flate2's reader can also read quietly past a back-reference that reaches before the
        // stream's start, which zlib refuses ("invalid distance too far back": the fixture
        // tests/fixtures/saved/inflate/flate2-reader-disagrees.zlib), and so does flate2's
        // one-shot decoder: refusing it is right.
        (Err(InflateError::Invalid(_)), Ok(_))
            if theirs.len() <= LIMIT && one_shot_refuses(data) => {}
        (Ok(out), Ok(_)) => assert_eq!(out, &theirs, "both inflate, differently"),
        (Ok(out), Err(e)) => panic!("ours inflates {} bytes, flate2 refuses: {e}", out.len()),
        (Err(InflateError::TooLarge(_)), Ok(_)) => {
            assert!(
                theirs.len() > LIMIT,
                "refused as too large at {}",
                theirs.len()
            )
        }
        (Err(e), Ok(_)) if theirs.len() <= LIMIT => {
            // flate2's reader stops quietly at the end of the input: a cut-off stream reads
            // as whatever it got. Ours must say it is cut off, not anything else.
            assert_eq!(
                e,
                &InflateError::CutOff,
                "flate2 inflates {} bytes",
                theirs.len()
            )
        }
        (Err(_), _) => {}
    }
    if let Ok(out) = ours {
        assert!(out.len() <= LIMIT);
    }
});

/// RFC 1950's checksum, to tell a wrong trailer from a real disagreement.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

/// Whether flate2's one-shot `Decompress`, given room for four times the limit, refuses
/// `data` as corrupt (its streaming reader may read such a stream quietly; see above).
fn one_shot_refuses(data: &[u8]) -> bool {
    let mut d = flate2::Decompress::new(true);
    let mut out = vec![0u8; 4 * LIMIT];
    d.decompress(data, &mut out, flate2::FlushDecompress::Finish)
        .is_err()
}
