//! Saved histograms checked byte by byte before the HdrHistogram decoder sees them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use crate::stats::recorder::{MAX_LATENCY_US, new_histogram};

use super::*;

// ---------------------------------------------------------------------------------------------
// Histograms.

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
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    let bytes = BASE64.decode(b64).map_err(|e| format!("not base64: {e}"))?;
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
pub fn decode_histogram_bytes(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    let cookie = read_u32(bytes, 0).ok_or("shorter than a histogram header")?;
    let shape = shape();
    let inflated;
    let v2: &[u8] = match cookie {
        V2_COOKIE => bytes,
        V2_COMPRESSED_COOKIE => {
            let len = read_u32(bytes, 4).ok_or("shorter than a histogram header")? as usize;
            let data = bytes.get(8..).unwrap_or_default();
            let data = data.get(..len).ok_or_else(|| {
                format!(
                    "the header announces {len} compressed bytes, {} follow",
                    data.len()
                )
            })?;
            inflated = inflate::zlib(data, V2_HEADER_BYTES + shape.slots * 9)
                .map_err(|e| e.to_string())?;
            &inflated
        }
        other => return Err(format!("unknown cookie {other:#010x}")),
    };
    let total = check_v2(v2, shape)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &v2[..])
        .map_err(|e| format!("does not decode: {e}"))?;
    if h.len() != total {
        return Err(format!("holds {} values, its counts say {total}", h.len()));
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
pub(super) fn check_v2(b: &[u8], shape: &Shape) -> Result<u64, String> {
    let short = || "shorter than a histogram header".to_string();
    if read_u32(b, 0).ok_or_else(short)? != V2_COOKIE {
        return Err("the inner cookie is not a V2 histogram's".into());
    }
    let payload_len = read_u32(b, 4).ok_or_else(short)? as usize;
    let normalizing = read_u32(b, 8).ok_or_else(short)?;
    let digits = read_u32(b, 12).ok_or_else(short)?;
    let low = read_u64(b, 16).ok_or_else(short)?;
    let high = read_u64(b, 24).ok_or_else(short)?;
    let ratio = read_u64(b, 32).ok_or_else(short)?;
    if normalizing != 0 || ratio != 1f64.to_bits() {
        return Err("uses features loadplan never writes (normalizing offset, ratio)".into());
    }
    if low != 1 || digits != 3 || !(2..=GROWN_HIGHEST).contains(&high) {
        return Err(format!(
            "its bounds are {low} to {high} with {digits} digits, not loadplan's 1 to at most {GROWN_HIGHEST} µs with 3"
        ));
    }
    let payload = b
        .get(V2_HEADER_BYTES..)
        .and_then(|p| p.get(..payload_len))
        .ok_or_else(|| format!("the header announces {payload_len} payload bytes, fewer follow"))?;
    let (mut pos, mut slot, mut total) = (0usize, 0usize, 0u64);
    while pos < payload.len() {
        let (raw, used) = varint(&payload[pos..]).ok_or("a count is cut off")?;
        pos += used;
        let n = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        if n < 0 {
            let zeros = n
                .checked_neg()
                .ok_or("a run of empty slots is out of range")?;
            slot = usize::try_from(zeros)
                .ok()
                .and_then(|z| slot.checked_add(z))
                .filter(|s| *s <= shape.slots)
                .ok_or("empty slots run past the histogram's end")?;
        } else {
            if n > 0 {
                if slot >= shape.slots {
                    return Err("counts run past the histogram's end".into());
                }
                total = total
                    .checked_add(n as u64)
                    .ok_or("its counts add up past 2^64")?;
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
