//! Saved histograms checked byte by byte before the HdrHistogram decoder sees them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use crate::stats::recorder::{MAX_LATENCY_US, new_histogram};

use super::*;

// ---------------------------------------------------------------------------------------------
// Histograms.

/// Why a saved histogram was refused before the decoder saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    #[error("not base64: {0}")]
    NotBase64(String),
    #[error("shorter than a histogram header")]
    Short,
    #[error("unknown cookie {0:#010x}")]
    Cookie(u32),
    #[error("the header announces {announced} compressed bytes, {present} follow")]
    Compressed { announced: usize, present: usize },
    #[error(transparent)]
    Inflate(#[from] inflate::InflateError),
    #[error("the inner cookie is not a V2 histogram's")]
    InnerCookie,
    #[error("uses features loadplan never writes (normalizing offset, ratio)")]
    Features,
    #[error(
        "its bounds are {low} to {high} with {digits} digits, not loadplan's 1 to at most {GROWN_HIGHEST} µs with 3"
    )]
    Bounds { low: u64, high: u64, digits: u32 },
    #[error("the header announces {0} payload bytes, fewer follow")]
    Payload(usize),
    #[error("a count is cut off")]
    CountCutOff,
    #[error("a run of empty slots is out of range")]
    EmptyRun,
    #[error("empty slots run past the histogram's end")]
    EmptyPastEnd,
    #[error("counts run past the histogram's end")]
    CountsPastEnd,
    #[error("its counts add up past 2^64")]
    Overflow,
    #[error("does not decode: {0}")]
    Decode(String),
    #[error("holds {held} values, its counts say {said}")]
    Total { held: u64, said: u64 },
}

/// V2 HdrHistogram cookies (word size 8), uncompressed and compressed.
pub(super) const V2_COOKIE: u32 = 0x1c84_9313;
pub(super) const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
pub(super) const V2_HEADER_BYTES: usize = 40;

/// The highest trackable value a loadplan histogram can say it has: its values stop at
/// [`MAX_LATENCY_US`], its buckets grow by doubling.
pub(super) const GROWN_HIGHEST: u64 = 2 * MAX_LATENCY_US;

/// loadplan's histograms: what every saved histogram must be.
pub(super) struct Shape {
    /// Counts slots of a histogram with loadplan's bounds.
    pub(super) slots: usize,
    /// The largest value such a histogram reports.
    pub(super) highest_us: u64,
}

pub(super) fn shape() -> &'static Shape {
    static SHAPE: std::sync::OnceLock<Shape> = std::sync::OnceLock::new();
    SHAPE.get_or_init(|| {
        // The largest a loadplan histogram grows to. Histograms start small and grow with their
        // values (never past one hour), a bucket at a time: one that held a value near an hour
        // says a highest trackable value of up to twice that.
        let h = Histogram::<u64>::new_with_bounds(1, GROWN_HIGHEST, 3)
            .unwrap_or_else(|_| new_histogram());
        Shape {
            slots: h.distinct_values(),
            highest_us: h.highest_equivalent(MAX_LATENCY_US),
        }
    })
}

/// Decodes a saved histogram (base64 of a V2 HdrHistogram, compressed or not) after checking
/// every byte: see [`decode_histogram_bytes`].
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = BASE64
        .decode(b64)
        .map_err(|e| HistogramError::NotBase64(e.to_string()))?;
    decode_histogram_bytes(&bytes)
}

/// Decodes a V2 HdrHistogram, compressed or not, after checking every byte: loadplan's bounds
/// (1 µs to one hour, 3 significant digits), a payload that is exactly what the header says
/// (never longer than the bytes present: the decoder allocates what the header announces), a
/// compressed one inflating to no more than such a histogram takes, counts that fit. Returns
/// the histogram, free to grow like a recorder's.
///
/// The one way into the HdrHistogram decoder in loadplan: the shard merge, worker frames and the
/// report all come through here.
pub fn decode_histogram_bytes(bytes: &[u8]) -> Result<Histogram<u64>, HistogramError> {
    let cookie = read_u32(bytes, 0).ok_or(HistogramError::Short)?;
    let shape = shape();
    let inflated;
    let v2: &[u8] = match cookie {
        V2_COOKIE => bytes,
        V2_COMPRESSED_COOKIE => {
            let len = read_u32(bytes, 4).ok_or(HistogramError::Short)? as usize;
            let data = bytes.get(8..).unwrap_or_default();
            let data = data.get(..len).ok_or(HistogramError::Compressed {
                announced: len,
                present: data.len(),
            })?;
            inflated = inflate::zlib(data, V2_HEADER_BYTES + shape.slots * 9)?;
            &inflated
        }
        other => return Err(HistogramError::Cookie(other)),
    };
    let total = check_v2(v2, shape)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &v2[..])
        .map_err(|e| HistogramError::Decode(e.to_string()))?;
    if h.len() != total {
        return Err(HistogramError::Total {
            held: h.len(),
            said: total,
        });
    }
    // Sized to its content when decoded: let it grow, so that adding a wider one never fails.
    h.auto(true);
    Ok(h)
}

pub(super) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(super) fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Checks an uncompressed V2 histogram: header, payload length, every count; returns the total.
pub(super) fn check_v2(b: &[u8], shape: &Shape) -> Result<u64, HistogramError> {
    if read_u32(b, 0).ok_or(HistogramError::Short)? != V2_COOKIE {
        return Err(HistogramError::InnerCookie);
    }
    let payload_len = read_u32(b, 4).ok_or(HistogramError::Short)? as usize;
    let normalizing = read_u32(b, 8).ok_or(HistogramError::Short)?;
    let digits = read_u32(b, 12).ok_or(HistogramError::Short)?;
    let low = read_u64(b, 16).ok_or(HistogramError::Short)?;
    let high = read_u64(b, 24).ok_or(HistogramError::Short)?;
    let ratio = read_u64(b, 32).ok_or(HistogramError::Short)?;
    if normalizing != 0 || ratio != 1f64.to_bits() {
        return Err(HistogramError::Features);
    }
    if low != 1 || digits != 3 || !(2..=GROWN_HIGHEST).contains(&high) {
        return Err(HistogramError::Bounds { low, high, digits });
    }
    let payload = b
        .get(V2_HEADER_BYTES..)
        .and_then(|p| p.get(..payload_len))
        .ok_or(HistogramError::Payload(payload_len))?;
    let (mut pos, mut slot, mut total) = (0usize, 0usize, 0u64);
    while pos < payload.len() {
        let (raw, used) = varint(&payload[pos..]).ok_or(HistogramError::CountCutOff)?;
        pos += used;
        let n = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        if n < 0 {
            let zeros = n.checked_neg().ok_or(HistogramError::EmptyRun)?;
            slot = usize::try_from(zeros)
                .ok()
                .and_then(|z| slot.checked_add(z))
                .filter(|s| *s <= shape.slots)
                .ok_or(HistogramError::EmptyPastEnd)?;
        } else {
            if n > 0 {
                if slot >= shape.slots {
                    return Err(HistogramError::CountsPastEnd);
                }
                total = total
                    .checked_add(n as u64)
                    .ok_or(HistogramError::Overflow)?;
            }
            slot += 1;
        }
    }
    Ok(total)
}

/// LEB128 as HdrHistogram writes it: up to 8 bytes of 7 bits, a ninth byte of 8.
pub(super) fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some((v | (u64::from(byte) << 56), 9));
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}
