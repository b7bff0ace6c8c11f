//! zlib (RFC 1950) streams inflated by `flate2` (the same one `hdrhistogram` links), with a hard
//! limit on the output.
//!
//! Input: the compressed bytes of one histogram, and the most bytes the output may have.
//! Output: the inflated bytes, after the stream ended and its Adler-32 checksum matched, or an
//! [`InflateError`]. Exists so that a saved histogram's inner header can be checked before the
//! HdrHistogram decoder (which sizes a buffer from that header) sees it. Must not allocate
//! beyond the limit (one byte more, to tell "exactly the limit" from "more"), or panic.

use flate2::{Decompress, FlushDecompress, Status};

/// Why a compressed histogram was not inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("inflates to more than {0} bytes")]
    TooLarge(usize),
    #[error("the compressed stream is cut off")]
    CutOff,
    #[error("not a valid zlib stream ({0})")]
    Invalid(String),
}

/// Inflates a zlib stream into at most `limit` bytes. Bytes after the end of the stream are
/// ignored, as zlib does.
pub fn zlib(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity(limit.saturating_add(1));
    let mut z = Decompress::new(true);
    // One call: the input is all here, and the output can hold one byte past the limit, so
    // anything but the end of the stream means "cut off" or "too large".
    let status = z
        .decompress_vec(data, &mut out, FlushDecompress::Finish)
        .map_err(|e| InflateError::Invalid(e.to_string()))?;
    if out.len() > limit {
        return Err(InflateError::TooLarge(limit));
    }
    match status {
        Status::StreamEnd => Ok(out),
        Status::Ok | Status::BufError if out.len() == out.capacity() => {
            Err(InflateError::TooLarge(limit))
        }
        Status::Ok | Status::BufError => Err(InflateError::CutOff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored block: 78 01, final + type 0, LEN 3, NLEN !3, "abc", then Adler-32.
    fn stored() -> Vec<u8> {
        let mut s = vec![0x78, 0x01, 0x01, 3, 0, !3, 0xff, b'a', b'b', b'c'];
        s.extend(0x024d_0127u32.to_be_bytes());
        s
    }

    #[test]
    fn broken_and_oversized_streams_are_refused() {
        let stored = stored();
        assert_eq!(zlib(&stored, 3).as_deref(), Ok(&b"abc"[..]));
        assert_eq!(zlib(&stored, 100).as_deref(), Ok(&b"abc"[..]));
        // Found by the old hand-written inflater's fuzzing: zlib refuses an incomplete
        // literal/length code ("invalid literal/lengths set").
        let incomplete = [
            &[0x78, 0x01][..],
            include_bytes!("../../../tests/fixtures/saved/inflate/incomplete-literal-code.deflate"),
        ]
        .concat();
        // Found by the `inflate` fuzz target: a stream whose back-reference reaches before its
        // start, which zlib refuses ("invalid distance too far back") and flate2's streaming
        // reader reads quietly as 471 bytes.
        let too_far =
            include_bytes!("../../../tests/fixtures/saved/inflate/flate2-reader-disagrees.zlib")
                .to_vec();
        let cases: [(Vec<u8>, usize, &str); 9] = [
            (stored.clone(), 2, "inflates to more than 2 bytes"),
            (stored.clone(), 0, "inflates to more than 0 bytes"),
            (stored[..stored.len() - 1].to_vec(), 3, "cut off"),
            (
                [&stored[..10], &[0, 0, 0, 0]].concat(),
                3,
                "not a valid zlib stream",
            ),
            (vec![0x78, 0x01, 0x07], 9, "not a valid zlib stream"),
            (vec![0x78, 0x02], 9, "not a valid zlib stream"),
            (Vec::new(), 9, "cut off"),
            (incomplete, 100, "not a valid zlib stream"),
            (too_far, 1 << 16, "not a valid zlib stream"),
        ];
        for (bytes, limit, want) in cases {
            let e = zlib(&bytes, limit).expect_err(want);
            assert!(e.to_string().contains(want), "got {e}, wants {want}");
        }
    }
}
