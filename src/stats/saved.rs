//! Saved results, read back: the bytes of a `summary.json` or of a shard results file, from
//! wherever they came (a CI artifact, another machine, another loadplan version).
//!
//! Input: a name for messages and the file's bytes. Output: a [`Saved`] value (a [`Summary`] or a
//! shard's [`Results`]) whose every number is in range and consistent with the others, and whose
//! every histogram decodes to loadplan's bounds; or a [`SavedError`] naming the file, the field's
//! path and the offending value. Every reader of saved results goes through [`parse`] (or
//! [`parse_summary`]), so no stage after it meets a value it cannot draw or add.
//!
//! The kind is told by a typed probe of two fields, never by searching the text: a `format` of
//! [`RESULTS_FORMAT`] is a shard results file, a `schema_version` without `format` is a summary.
//! One version rule for both kinds: exactly the current version ([`SCHEMA_VERSION`],
//! `RESULTS_VERSION`) is read; a newer one is refused as written by a newer loadplan, an older one
//! as no longer read.
//!
//! Must not: do I/O (callers read the file), guess, repair or drop anything silently, or hand an
//! unchecked histogram to the HdrHistogram decoder (whose buffer size and counts come from the
//! bytes it is given: it is only ever given bytes checked here, inflated by [`inflate`]).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde::Deserialize;

use super::recorder::{MAX_LATENCY_US, RecorderWire, TimelinePoint, new_histogram};
use super::results::{CellPartWire, RESULTS_FORMAT, RESULTS_VERSION, Results};
use super::summary::{
    BaselineReport, CellSummary, LatencySummary, OpenSummary, PlanInfo, SCHEMA_VERSION,
    ScenarioSummary, Summary,
};
use crate::plan::spec::MAX_CONCURRENCY;

/// Larger files are refused unread: a day-long run with a per-second timeline stays far below.
pub const MAX_SAVED_BYTES: usize = 1 << 30;
/// Wall, offset and run times: ten years of 365.25 days, in seconds.
pub const MAX_SECONDS: f64 = 315_576_000.0;
/// CPU seconds add up over processes and shards: ten years on each of [`MAX_SHARDS`] shards.
pub const MAX_CPU_SECONDS: f64 = MAX_SECONDS * MAX_SHARDS as f64;
/// A shard's counter (operations, errors, bytes, arrivals): about a million a second for 35
/// years, and low enough that the counters of [`MAX_SHARDS`] shards add up without overflow.
pub const MAX_COUNT: u64 = 1 << 50;
/// A summary's counter: what [`MAX_SHARDS`] shards of [`MAX_COUNT`] add up to.
pub const MAX_SUMMARY_COUNT: u64 = MAX_COUNT * MAX_SHARDS as u64;
/// Rates (per second) and ratios (speedups, cores busy, operations in flight): far beyond what a
/// merge of valid shards can produce, far below where arithmetic on them overflows (1e308).
pub const MAX_MAGNITUDE: f64 = 1e40;
/// `--shard I/N` allows N up to this.
pub const MAX_SHARDS: usize = 10_000;
/// Logical CPUs of the machine a run reports.
pub const MAX_CORES: usize = 1 << 16;
/// Worker threads or processes of one cell (a plan bounds concurrency, not `workers`).
pub const MAX_WORKERS: usize = 1 << 20;

/// A saved file, checked.
#[derive(Debug, Clone)]
pub enum Saved {
    Summary(Box<Summary>),
    Results(Box<Results>),
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{name}: {size} bytes; saved results larger than {MAX_SAVED_BYTES} bytes are refused")]
    TooLarge { name: String, size: usize },
    #[error("{name}: not valid JSON: {reason} (line {line}, column {column})")]
    Syntax {
        name: String,
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("{name}: {}{reason} (line {line}, column {column})", field_prefix(.path))]
    Shape {
        name: String,
        path: String,
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("{name}: neither a loadplan summary.json nor a shard results file: {reason}")]
    UnknownKind { name: String, reason: String },
    #[error("{name}: {}", version_message(.field, *.found, *.supported))]
    Version {
        name: String,
        field: &'static str,
        found: u64,
        supported: u32,
    },
    #[error("{name}: {}{reason}", field_prefix(.path))]
    Invalid {
        name: String,
        path: String,
        reason: String,
    },
    #[error(
        "{name}: a shard results file where a summary.json is expected (merge shard files with `loadplan report FILE…`)"
    )]
    NotSummary { name: String },
}

/// Text from the file as it may appear in a message: control characters escaped (no terminal
/// escapes reach the screen), and cut at 200 characters.
fn printable(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 200 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn field_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn version_message(field: &str, found: u64, supported: u32) -> String {
    if found > u64::from(supported) {
        format!(
            "{field} {found} is newer than this loadplan reads ({supported}): read it with the loadplan that wrote it, or a newer one"
        )
    } else {
        format!(
            "{field} {found} is older than this loadplan reads ({supported}): read it with the loadplan that wrote it"
        )
    }
}

/// Parses and checks a saved file of either kind.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Saved, SavedError> {
    if bytes.len() > MAX_SAVED_BYTES {
        return Err(SavedError::TooLarge {
            name: name.into(),
            size: bytes.len(),
        });
    }
    let probe: Probe = from_json(name, bytes)?;
    match (probe.format, probe.schema_version) {
        (Some(format), _) if format == RESULTS_FORMAT => {
            let Some(version) = probe.version else {
                return Err(invalid(name, "version", "missing: a results file carries its version"));
            };
            check_version(name, "version", version, RESULTS_VERSION)?;
            let results: Results = from_json(name, bytes)?;
            check_results(name, &results)?;
            Ok(Saved::Results(Box::new(results)))
        }
        (Some(format), _) => Err(SavedError::UnknownKind {
            name: name.into(),
            reason: format!(
                "its format is `{}`, not `{RESULTS_FORMAT}`",
                printable(&format)
            ),
        }),
        (None, Some(version)) => {
            check_version(name, "schema_version", version, SCHEMA_VERSION)?;
            let summary: Summary = from_json(name, bytes)?;
            check_summary(name, &summary)?;
            Ok(Saved::Summary(Box::new(summary)))
        }
        (None, None) => Err(SavedError::UnknownKind {
            name: name.into(),
            reason: "it has neither `schema_version` (a summary.json) nor `format` (a shard results file)".into(),
        }),
    }
}

/// Parses and checks a saved `summary.json`; a shard results file is refused.
pub fn parse_summary(name: &str, bytes: &[u8]) -> Result<Summary, SavedError> {
    match parse(name, bytes)? {
        Saved::Summary(s) => Ok(*s),
        Saved::Results(_) => Err(SavedError::NotSummary { name: name.into() }),
    }
}

/// The two fields that tell the kinds apart; everything else is skipped unread.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object (a loadplan summary.json or shard results file)")]
struct Probe {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    schema_version: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
}

fn check_version(
    name: &str,
    field: &'static str,
    found: u64,
    supported: u32,
) -> Result<(), SavedError> {
    if found == u64::from(supported) {
        Ok(())
    } else {
        Err(SavedError::Version {
            name: name.into(),
            field,
            found,
            supported,
        })
    }
}

fn invalid(name: &str, path: &str, reason: &str) -> SavedError {
    SavedError::Invalid {
        name: name.into(),
        path: path.into(),
        reason: reason.into(),
    }
}

fn from_json<'a, T: Deserialize<'a>>(name: &str, bytes: &'a [u8]) -> Result<T, SavedError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let reason = printable(
            full.strip_suffix(&format!(" at line {line} column {column}"))
                .unwrap_or(&full),
        );
        match e.classify() {
            serde_json::error::Category::Data => {
                let mut path = json_path_at(bytes, line, column);
                // serde reports a missing field at the object's end, after its last key.
                if reason.starts_with("missing field") {
                    path.pop_key();
                }
                SavedError::Shape {
                    name: name.into(),
                    path: path.render(),
                    reason,
                    line,
                    column,
                }
            }
            _ => SavedError::Syntax {
                name: name.into(),
                reason,
                line,
                column,
            },
        }
    })
}

/// Where in the document a position lies, as a field path (`scenarios[1].cells[0].model`).
#[derive(Debug, Default)]
struct JsonPath(Vec<JsonSeg>);

#[derive(Debug)]
enum JsonSeg {
    /// An object and the key last read in it.
    Key(Option<String>),
    Index(usize),
}

impl JsonPath {
    fn pop_key(&mut self) {
        if let Some(JsonSeg::Key(k)) = self.0.last_mut() {
            *k = None;
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                JsonSeg::Key(Some(k)) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&printable(k));
                }
                JsonSeg::Key(None) => {}
                JsonSeg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Scans the JSON up to serde_json's (line, column) and says which field it was in. Works on any
/// bytes (the document may be broken past that point); keys are shown as written, escapes kept.
fn json_path_at(bytes: &[u8], line: usize, column: usize) -> JsonPath {
    let mut start = 0;
    let mut newlines = 1;
    if line > 1 {
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                newlines += 1;
                if newlines == line {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    let end = start.saturating_add(column).min(bytes.len());
    let mut path = JsonPath::default();
    let mut expect_key = false;
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => {
                path.0.push(JsonSeg::Key(None));
                expect_key = true;
            }
            b'[' => {
                path.0.push(JsonSeg::Index(0));
                expect_key = false;
            }
            b'}' | b']' => {
                path.0.pop();
                expect_key = false;
            }
            b',' => match path.0.last_mut() {
                Some(JsonSeg::Index(n)) => *n += 1,
                Some(JsonSeg::Key(k)) => {
                    *k = None;
                    expect_key = true;
                }
                None => {}
            },
            b':' => expect_key = false,
            b'"' => {
                let from = i + 1;
                i = from;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if expect_key && let Some(JsonSeg::Key(k)) = path.0.last_mut() {
                    let to = i.min(bytes.len());
                    *k = Some(String::from_utf8_lossy(&bytes[from..to]).into_owned());
                }
            }
            _ => {}
        }
        i += 1;
    }
    path
}

// ---------------------------------------------------------------------------------------------
// Paths and range checks.

/// A field's path, built on the stack as the checks descend; rendered only for a message.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

/// A violated rule: where, and why.
struct Violation {
    path: String,
    reason: String,
}

type Check = Result<(), Violation>;

impl Violation {
    fn in_file(self, name: &str) -> SavedError {
        SavedError::Invalid {
            name: name.into(),
            path: self.path,
            reason: self.reason,
        }
    }
}

const ROOT: At<'static> = At {
    parent: None,
    seg: Seg::Root,
};

impl<'a> At<'a> {
    fn field(&'a self, name: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    fn index(&'a self, i: usize) -> At<'a> {
        At {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(a) = at {
            segs.push(a.seg);
            at = a.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Field(f) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&printable(f));
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn fail(&self, reason: impl Into<String>) -> Violation {
        Violation {
            path: self.render(),
            reason: reason.into(),
        }
    }

    fn out_of_range(&self, shown: impl std::fmt::Display, range: &str) -> Violation {
        self.fail(format!("{shown} is out of range ({range})"))
    }

    /// Finite, at least 0, at most `max`.
    fn float(&self, v: f64, max: f64, range: &str) -> Check {
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(())
        } else {
            Err(self.out_of_range(show(v), range))
        }
    }

    fn seconds(&self, v: f64) -> Check {
        self.float(v, MAX_SECONDS, "0 to 315576000 seconds, ten years")
    }

    fn cpu_seconds(&self, v: f64) -> Check {
        self.float(
            v,
            MAX_CPU_SECONDS,
            "0 to 3.15576e12 seconds, ten years on each of 10000 shards",
        )
    }

    fn magnitude(&self, v: f64) -> Check {
        self.float(v, MAX_MAGNITUDE, "0 to 1e40")
    }

    fn fraction(&self, v: f64) -> Check {
        self.float(v, 1.0, "0 to 1")
    }

    fn finite(&self, v: f64) -> Check {
        self.float(v, f64::MAX, "a finite number, at least 0")
    }

    fn micros(&self, v: u64) -> Check {
        if v as f64 <= MAX_SECONDS * 1e6 {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 315576000000000 µs, ten years"))
        }
    }

    /// A shard's counter.
    fn count(&self, v: u64) -> Check {
        if v <= MAX_COUNT {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 2^50"))
        }
    }

    /// A summary's counter (perhaps merged from shards).
    fn total(&self, v: u64) -> Check {
        if v <= MAX_SUMMARY_COUNT {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 2^50 × 10000"))
        }
    }

    fn within(&self, v: usize, lo: usize, hi: usize) -> Check {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(self.out_of_range(v, &format!("{lo} to {hi}")))
        }
    }

    /// As plan names are: not blank, at most 100 characters, no control characters.
    fn name(&self, s: &str) -> Check {
        if s.trim().is_empty() {
            Err(self.fail("must not be empty"))
        } else if s.chars().count() > 100 {
            Err(self.fail("is longer than 100 characters"))
        } else if s.chars().any(char::is_control) {
            Err(self.fail("must not contain control characters"))
        } else {
            Ok(())
        }
    }

    /// A run id names the run's folder: one plain path component, never `..` or absolute.
    fn run_id(&self, s: &str) -> Check {
        let bad = s.is_empty()
            || s.len() > 200
            || s.starts_with('.')
            || s.chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | ':'));
        if bad {
            Err(self.fail(format!(
                "`{}` is not a run folder name (a plain name, no `/`, `\\`, `:` or leading `.`)",
                printable(s)
            )))
        } else {
            Ok(())
        }
    }

    fn time(&self, s: &str) -> Check {
        if parse_time(s).is_some() {
            Ok(())
        } else {
            Err(self.fail(format!("`{}` is not an RFC 3339 time", printable(s))))
        }
    }

    /// `sum` of the parts must equal `whole`; `what` says what is summed.
    fn adds_up(&self, parts: impl IntoIterator<Item = u64>, whole: u64, what: &str) -> Check {
        let mut sum = 0u64;
        for p in parts {
            sum = sum
                .checked_add(p)
                .ok_or_else(|| self.fail(format!("{what} overflow")))?;
        }
        if sum == whole {
            Ok(())
        } else {
            Err(self.fail(format!("{what} add up to {sum}, not {whole}")))
        }
    }
}

/// A float as people can read it: `1e308`, not three hundred digits.
fn show(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-6..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A saved time: RFC 3339 as loadplan writes it (`2026-11-28T16:10:12Z`), with an optional
/// fraction, or with a numeric offset (`+02:00`) instead of `Z`; from 1970 on.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let split = s.len().checked_sub(6).filter(|i| s.is_char_boundary(*i));
    if let Some((local, offset)) = split.map(|i| s.split_at(i))
        && let [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] = offset.as_bytes()
        && [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
    {
        let digit = |d: &u8| u64::from(d - b'0');
        let (hours, minutes) = (digit(h1) * 10 + digit(h2), digit(m1) * 10 + digit(m2));
        if hours > 23 || minutes > 59 {
            return None;
        }
        let t = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
        // Local time = UTC + offset.
        let offset = Duration::from_secs(hours * 3600 + minutes * 60);
        return match sign {
            b'+' => t.checked_sub(offset),
            _ => t.checked_add(offset),
        };
    }
    humantime::parse_rfc3339(s).ok()
}

// ---------------------------------------------------------------------------------------------
// Histograms.

/// V2 HdrHistogram cookies (word size 8), uncompressed and compressed.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER_BYTES: usize = 40;

/// The highest trackable value a loadplan histogram can say it has: its values stop at
/// [`MAX_LATENCY_US`], its buckets grow by doubling.
const GROWN_HIGHEST: u64 = 2 * MAX_LATENCY_US;

/// loadplan's histograms: what every saved histogram must be.
struct Shape {
    /// Counts slots of a histogram with loadplan's bounds.
    slots: usize,
    /// The largest value such a histogram reports.
    highest_us: u64,
}

fn shape() -> &'static Shape {
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
/// every byte: loadplan's bounds (1 µs to one hour, 3 significant digits), a payload that is
/// exactly what the header says, counts that fit. Returns the histogram.
pub fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    let bytes = BASE64.decode(b64).map_err(|e| format!("not base64: {e}"))?;
    let cookie = read_u32(&bytes, 0).ok_or("shorter than a histogram header")?;
    let shape = shape();
    let inflated;
    let v2: &[u8] = match cookie {
        V2_COOKIE => &bytes,
        V2_COMPRESSED_COOKIE => {
            let len = read_u32(&bytes, 4).ok_or("shorter than a histogram header")? as usize;
            let data = bytes.get(8..).unwrap_or_default();
            let data = data.get(..len).ok_or_else(|| {
                format!(
                    "the header announces {len} compressed bytes, {} follow",
                    data.len()
                )
            })?;
            inflated = inflate::zlib(data, V2_HEADER_BYTES + shape.slots * 9)?;
            &inflated
        }
        other => return Err(format!("unknown cookie {other:#010x}")),
    };
    let total = check_v2(v2, shape)?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &v2[..])
        .map_err(|e| format!("does not decode: {e}"))?;
    if h.len() != total {
        return Err(format!("holds {} values, its counts say {total}", h.len()));
    }
    Ok(h)
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Checks an uncompressed V2 histogram: header, payload length, every count; returns the total.
fn check_v2(b: &[u8], shape: &Shape) -> Result<u64, String> {
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
fn varint(b: &[u8]) -> Option<(u64, usize)> {
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

pub mod inflate {
    //! zlib (RFC 1950) around DEFLATE (RFC 1951), decoded with a hard limit on the output.
    //!
    //! Input: the compressed bytes of one histogram, and the most bytes the output may have.
    //! Output: the inflated bytes, after their Adler-32 checksum matched. Exists so that a saved
    //! histogram's inner header can be checked before the HdrHistogram decoder (which sizes a
    //! buffer from that header) sees it. Must not allocate beyond the limit, loop without
    //! consuming input, or panic: every malformed stream is an error.

    const LENGTH_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LENGTH_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u8; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];
    /// The order code-length code lengths are sent in.
    const CLEN_ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];

    /// Inflates a zlib stream into at most `limit` bytes.
    pub fn zlib(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        let (&cmf, &flg) = match data {
            [a, b, ..] => (a, b),
            _ => return Err("the compressed stream is empty".into()),
        };
        if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
            return Err("not a zlib stream".into());
        }
        if flg & 0x20 != 0 {
            return Err("the zlib stream needs a preset dictionary".into());
        }
        let (out, used) = raw(&data[2..], limit)?;
        let at = 2 + used;
        let want = data.get(at..at + 4).ok_or("the zlib checksum is missing")?;
        let want = u32::from_be_bytes([want[0], want[1], want[2], want[3]]);
        if adler32(&out) != want {
            return Err("the zlib checksum does not match".into());
        }
        Ok(out)
    }

    /// Inflates a raw DEFLATE stream into at most `limit` bytes; returns them and how many input
    /// bytes the stream took (up to its last whole byte).
    pub fn raw(data: &[u8], limit: usize) -> Result<(Vec<u8>, usize), String> {
        let mut d = Inflater {
            bits: Bits {
                data,
                pos: 0,
                buf: 0,
                count: 0,
            },
            out: Vec::new(),
            limit,
        };
        d.blocks()?;
        Ok((d.out, d.bits.pos))
    }

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

    /// Least significant bit first, as DEFLATE packs them.
    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
        buf: u32,
        count: u32,
    }

    impl Bits<'_> {
        fn need(&mut self, n: u32) -> Result<u32, String> {
            while self.count < n {
                let byte = *self
                    .data
                    .get(self.pos)
                    .ok_or("the compressed stream is cut off")?;
                self.pos += 1;
                self.buf |= u32::from(byte) << self.count;
                self.count += 8;
            }
            let v = self.buf & ((1u32 << n) - 1);
            self.buf >>= n;
            self.count -= n;
            Ok(v)
        }

        /// Drops the bits left of the current byte (stored blocks start on a byte).
        fn align(&mut self) {
            self.buf = 0;
            self.count = 0;
        }
    }

    /// A canonical Huffman code: how many codes of each length, and the symbols in code order.
    struct Huffman {
        counts: [u16; 16],
        symbols: Vec<u16>,
    }

    /// Whether a code must use every bit pattern of its lengths.
    #[derive(Clone, Copy)]
    enum Complete {
        Always,
        /// Or be the one 1-bit code an encoder sends for a single symbol (zlib's rule).
        ButOneBit,
        /// The fixed distance code: 30 of its 32 patterns are used, by definition.
        Never,
    }

    impl Huffman {
        /// Builds the code from each symbol's code length (0 = unused). Over-subscribed codes are
        /// refused; an incomplete one as `rule` says.
        fn new(lengths: &[u8], rule: Complete) -> Result<Huffman, String> {
            let mut counts = [0u16; 16];
            for &l in lengths {
                counts[usize::from(l)] += 1;
            }
            let mut left: i32 = 1;
            for &c in &counts[1..] {
                left = left * 2 - i32::from(c);
                if left < 0 {
                    return Err("a Huffman code is over-subscribed".into());
                }
            }
            let used = lengths.len() - usize::from(counts[0]);
            let refused = match rule {
                Complete::Always => true,
                Complete::ButOneBit => used != usize::from(counts[1]),
                Complete::Never => false,
            };
            if left > 0 && refused {
                return Err("a Huffman code is incomplete".into());
            }
            let mut offsets = [0usize; 16];
            for len in 1..15 {
                offsets[len + 1] = offsets[len] + usize::from(counts[len]);
            }
            let mut symbols = vec![0u16; lengths.len()];
            for (sym, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    let slot = &mut offsets[usize::from(l)];
                    symbols[*slot] = sym as u16;
                    *slot += 1;
                }
            }
            counts[0] = 0;
            Ok(Huffman { counts, symbols })
        }
    }

    struct Inflater<'a> {
        bits: Bits<'a>,
        out: Vec<u8>,
        limit: usize,
    }

    impl Inflater<'_> {
        fn blocks(&mut self) -> Result<(), String> {
            loop {
                let last = self.bits.need(1)? == 1;
                match self.bits.need(2)? {
                    0 => self.stored()?,
                    1 => {
                        let (lit, dist) = fixed()?;
                        self.codes(&lit, &dist)?;
                    }
                    2 => {
                        let (lit, dist) = self.dynamic()?;
                        self.codes(&lit, &dist)?;
                    }
                    _ => return Err("a DEFLATE block of the reserved type 3".into()),
                }
                if last {
                    self.bits.align();
                    return Ok(());
                }
            }
        }

        fn room(&self, n: usize) -> Result<(), String> {
            if self.out.len() + n > self.limit {
                Err(format!(
                    "inflates to more than {} bytes, larger than any loadplan histogram",
                    self.limit
                ))
            } else {
                Ok(())
            }
        }

        fn stored(&mut self) -> Result<(), String> {
            self.bits.align();
            let b = &mut self.bits;
            let header = b
                .data
                .get(b.pos..b.pos + 4)
                .ok_or("a stored block is cut off")?;
            let len = u16::from_le_bytes([header[0], header[1]]);
            let nlen = u16::from_le_bytes([header[2], header[3]]);
            if len != !nlen {
                return Err("a stored block's length check fails".into());
            }
            let from = b.pos + 4;
            let body = b
                .data
                .get(from..from + usize::from(len))
                .ok_or("a stored block is cut off")?;
            b.pos = from + usize::from(len);
            self.room(body.len())?;
            self.out.extend_from_slice(body);
            Ok(())
        }

        fn decode(&mut self, h: &Huffman) -> Result<usize, String> {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..16 {
                code |= self.bits.need(1)? as i32;
                let count = i32::from(h.counts[len]);
                if code - count < first {
                    let at = (index + code - first) as usize;
                    return h
                        .symbols
                        .get(at)
                        .map(|s| usize::from(*s))
                        .ok_or_else(|| "a Huffman code points nowhere".to_string());
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            Err("a Huffman code is not in its table".into())
        }

        fn dynamic(&mut self) -> Result<(Huffman, Huffman), String> {
            let nlen = self.bits.need(5)? as usize + 257;
            let ndist = self.bits.need(5)? as usize + 1;
            let ncode = self.bits.need(4)? as usize + 4;
            if nlen > 286 || ndist > 30 {
                return Err("a dynamic block declares too many codes".into());
            }
            let mut clen = [0u8; 19];
            for &at in &CLEN_ORDER[..ncode] {
                clen[at] = self.bits.need(3)? as u8;
            }
            let clen = Huffman::new(&clen, Complete::Always)?;
            let mut lengths = vec![0u8; nlen + ndist];
            let mut i = 0;
            while i < lengths.len() {
                let sym = self.decode(&clen)?;
                let (value, repeat) = match sym {
                    0..=15 => (sym as u8, 1),
                    16 => {
                        let Some(&prev) = i.checked_sub(1).and_then(|p| lengths.get(p)) else {
                            return Err("a length repeat with nothing before it".into());
                        };
                        (prev, 3 + self.bits.need(2)? as usize)
                    }
                    17 => (0, 3 + self.bits.need(3)? as usize),
                    _ => (0, 11 + self.bits.need(7)? as usize),
                };
                let run = lengths
                    .get_mut(i..i + repeat)
                    .ok_or("code lengths run past their count")?;
                run.fill(value);
                i += repeat;
            }
            if lengths[256] == 0 {
                return Err("a dynamic block has no end-of-block code".into());
            }
            Ok((
                Huffman::new(&lengths[..nlen], Complete::ButOneBit)?,
                Huffman::new(&lengths[nlen..], Complete::ButOneBit)?,
            ))
        }

        fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), String> {
            loop {
                let sym = self.decode(lit)?;
                if sym < 256 {
                    self.room(1)?;
                    self.out.push(sym as u8);
                    continue;
                }
                if sym == 256 {
                    return Ok(());
                }
                let k = sym - 257;
                let (Some(base), Some(extra)) = (LENGTH_BASE.get(k), LENGTH_EXTRA.get(k)) else {
                    return Err("an invalid length code".into());
                };
                let len = usize::from(*base) + self.bits.need(u32::from(*extra))? as usize;
                let k = self.decode(dist)?;
                let (Some(base), Some(extra)) = (DIST_BASE.get(k), DIST_EXTRA.get(k)) else {
                    return Err("an invalid distance code".into());
                };
                let back = usize::from(*base) + self.bits.need(u32::from(*extra))? as usize;
                if back > self.out.len() {
                    return Err("a distance reaches before the start".into());
                }
                self.room(len)?;
                let from = self.out.len() - back;
                for j in 0..len {
                    let b = self.out[from + j];
                    self.out.push(b);
                }
            }
        }
    }

    fn fixed() -> Result<(Huffman, Huffman), String> {
        let mut lit = [0u8; 288];
        lit[..144].fill(8);
        lit[144..256].fill(9);
        lit[256..280].fill(7);
        lit[280..].fill(8);
        Ok((
            Huffman::new(&lit, Complete::Always)?,
            Huffman::new(&[5u8; 30], Complete::Never)?,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The summary.

/// Checks a parsed summary (see the module doc); `name` is the file, for messages.
pub fn check_summary(name: &str, s: &Summary) -> Result<(), SavedError> {
    summary_rules(s).map_err(|v| v.in_file(name))
}

fn summary_rules(s: &Summary) -> Check {
    let at = ROOT;
    let (started, finished) = (s.started_at.to_string(), s.finished_at.to_string());
    run(&s.plan, &s.run_id, [&started, &finished])?;
    at.field("duration_seconds").seconds(s.duration_seconds)?;
    at.field("host")
        .field("cores")
        .within(s.host.cores, 1, MAX_CORES)?;
    let scenarios = at.field("scenarios");
    for (i, sc) in s.scenarios.iter().enumerate() {
        scenario(&scenarios.index(i), sc)?;
    }
    if let Some(b) = &s.baseline {
        baseline(&at.field("baseline"), b)?;
    }
    Ok(())
}

/// What a summary and a shard file both say about their run.
fn run(plan: &PlanInfo, run_id: &str, [started, finished]: [&str; 2]) -> Check {
    ROOT.field("plan").field("name").name(&plan.name)?;
    ROOT.field("run_id").run_id(run_id)?;
    ROOT.field("started_at").time(started)?;
    ROOT.field("finished_at").time(finished)
}

fn scenario(at: &At, s: &ScenarioSummary) -> Check {
    at.field("name").name(&s.name)?;
    at.field("busy_fraction").magnitude(s.busy_fraction)?;
    if s.cells.is_empty() {
        return Err(at
            .field("cells")
            .fail("a scenario without cells is never written"));
    }
    let cells = at.field("cells");
    for (i, c) in s.cells.iter().enumerate() {
        cell(&cells.index(i), c)?;
    }
    Ok(())
}

fn cell(at: &At, c: &CellSummary) -> Check {
    at.field("concurrency")
        .within(c.concurrency, 1, MAX_CONCURRENCY)?;
    at.field("workers").within(c.workers, 1, MAX_WORKERS)?;
    let ops = c.operations;
    at.field("operations").total(ops)?;
    at.field("successes").total(c.successes)?;
    let errors = at.field("errors");
    for (k, n) in &c.errors {
        errors.field(k).total(*n)?;
    }
    at.adds_up(
        c.errors.values().copied().chain([c.successes]),
        ops,
        "successes and errors",
    )?;
    let statuses = at.field("status_codes");
    for (code, n) in &c.status_codes {
        let at = statuses.field(code);
        match code.parse::<u16>() {
            Ok(100..=999) => at.total(*n)?,
            _ => return Err(at.fail("not an HTTP status code (100 to 999)")),
        }
    }
    let answered = c
        .status_codes
        .values()
        .try_fold(0u64, |a, n| a.checked_add(*n));
    if answered.is_none_or(|n| n > ops) {
        return Err(statuses.fail(format!("count more responses than the {ops} operations")));
    }
    at.field("error_rate").fraction(c.error_rate)?;
    at.field("bytes").total(c.bytes)?;
    at.field("wall_seconds").seconds(c.wall_seconds)?;
    at.field("throughput_per_s").magnitude(c.throughput_per_s)?;
    at.field("cpu_seconds").cpu_seconds(c.cpu_seconds)?;
    at.field("cores_busy").magnitude(c.cores_busy)?;
    at.field("start_offset_seconds")
        .seconds(c.start_offset_seconds)?;
    if let Some(x) = c.speedup {
        at.field("speedup").magnitude(x)?;
    }
    let latency_at = at.field("latency_us");
    latency(&latency_at, &c.latency_us)?;
    at.field("latency_out_of_range")
        .total(c.latency_out_of_range)?;
    at.adds_up(
        [c.latency_us.count, c.latency_out_of_range],
        ops,
        "latency_us.count and latency_out_of_range",
    )?;
    if !c.histogram.is_empty() {
        let at = at.field("histogram");
        let h = histogram(&at, &c.histogram)?;
        agrees(&at, &h, &c.latency_us)?;
    }
    let thresholds = at.field("thresholds");
    for (i, t) in c.thresholds.iter().enumerate() {
        let at = thresholds.index(i);
        if let Some(o) = t.observed {
            at.field("observed").finite(o)?;
        }
        at.field("limit").finite(t.limit)?;
    }
    timeline(&at.field("timeline"), &c.timeline, c)?;
    if let Some(o) = &c.open {
        open(&at.field("open"), o, ops)?;
    }
    Ok(())
}

/// Percentiles in order and in the histogram's range; `count` within the counters' range.
fn latency(at: &At, l: &LatencySummary) -> Check {
    at.field("count").total(l.count)?;
    let highest = shape().highest_us;
    let marks = [
        ("min", l.min),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ];
    for (field, v) in marks {
        if v > highest {
            return Err(at
                .field(field)
                .out_of_range(v, &format!("0 to {highest} µs, one hour")));
        }
    }
    for pair in marks.windows(2) {
        let ((a, x), (b, y)) = (pair[0], pair[1]);
        if x > y {
            return Err(at.fail(format!("out of order: {a} {x} > {b} {y}")));
        }
    }
    let range = format!("0 to {highest} µs, one hour");
    at.field("mean").float(l.mean, highest as f64, &range)?;
    at.field("stdev").float(l.stdev, highest as f64, &range)
}

fn histogram(at: &At, b64: &str) -> Result<Histogram<u64>, Violation> {
    decode_histogram(b64).map_err(|e| at.fail(format!("not a valid HdrHistogram ({e})")))
}

/// The histogram holds what the summary says it holds.
fn agrees(at: &At, h: &Histogram<u64>, l: &LatencySummary) -> Check {
    if h.len() != l.count {
        return Err(at.fail(format!(
            "holds {} values, but latency_us.count is {}",
            h.len(),
            l.count
        )));
    }
    if l.count > 0 && !(h.equivalent(h.min(), l.min) && h.equivalent(h.max(), l.max)) {
        return Err(at.fail(format!(
            "spans {} to {} µs, but latency_us says {} to {}",
            h.min(),
            h.max(),
            l.min,
            l.max
        )));
    }
    Ok(())
}

/// What summary and shard timelines share: seconds in order and within ten years, each second's
/// counters in range and its errors within its operations, and all of them adding up to the
/// cell's. Each item: (second, operations, errors, bytes).
fn seconds(
    at: &At,
    points: impl Iterator<Item = (u32, u64, u64, u64)> + Clone,
    count: fn(&At, u64) -> Check,
    (ops, errors): (u64, u64),
) -> Check {
    let mut previous: Option<u32> = None;
    for (i, (second, operations, errs, bytes)) in points.clone().enumerate() {
        let at = at.index(i);
        if let Some(p) = previous.filter(|p| second <= *p) {
            return Err(at
                .field("second")
                .fail(format!("{second} does not follow second {p}")));
        }
        previous = Some(second);
        if f64::from(second) > MAX_SECONDS {
            return Err(at.field("second").out_of_range(second, "0 to ten years"));
        }
        count(&at.field("operations"), operations)?;
        count(&at.field("bytes"), bytes)?;
        if errs > operations {
            return Err(at.field("errors").fail(format!(
                "{errs} errors in a second of {operations} operations"
            )));
        }
    }
    at.adds_up(points.clone().map(|p| p.1), ops, "the seconds' operations")?;
    at.adds_up(points.map(|p| p.2), errors, "the seconds' errors")
}

/// A per-second histogram: valid, and holding no more values than the second's operations.
fn second_histogram(at: &At, b64: &str, operations: u64) -> Check {
    let h = histogram(at, b64)?;
    if h.len() > operations {
        return Err(at.fail(format!(
            "holds {} values in a second of {operations} operations",
            h.len()
        )));
    }
    Ok(())
}

/// An open model's arrivals: counters in range, no more dropped than scheduled.
fn arrivals(at: &At, scheduled: u64, dropped: u64, count: fn(&At, u64) -> Check) -> Check {
    count(&at.field("scheduled"), scheduled)?;
    count(&at.field("dropped"), dropped)?;
    if dropped > scheduled {
        return Err(at
            .field("dropped")
            .fail(format!("{dropped} dropped of {scheduled} scheduled")));
    }
    Ok(())
}

fn timeline(at: &At, points: &[TimelinePoint], c: &CellSummary) -> Check {
    if points.is_empty() {
        return Ok(()); // written by a loadplan that kept no timeline
    }
    // The errors were checked to add up to at most the operations: no overflow.
    let errors = c.errors.values().sum();
    let counts = points
        .iter()
        .map(|p| (p.second, p.operations, p.errors, p.bytes));
    seconds(at, counts, |a, v| a.total(v), (c.operations, errors))?;
    let highest = shape().highest_us;
    for (i, p) in points.iter().enumerate() {
        let at = at.index(i);
        for (field, v) in [
            ("p50_us", p.p50_us),
            ("p99_us", p.p99_us),
            ("max_us", p.max_us),
        ] {
            if v > highest {
                return Err(at.field(field).out_of_range(v, "0 to one hour"));
            }
        }
        if p.p50_us > p.p99_us || p.p99_us > p.max_us {
            return Err(at.fail(format!(
                "out of order: p50_us {}, p99_us {}, max_us {}",
                p.p50_us, p.p99_us, p.max_us
            )));
        }
        at.field("in_flight").magnitude(p.in_flight)?;
        if !p.histogram.is_empty() {
            second_histogram(&at.field("histogram"), &p.histogram, p.operations)?;
        }
    }
    Ok(())
}

fn open(at: &At, o: &OpenSummary, ops: u64) -> Check {
    arrivals(at, o.scheduled, o.dropped, |a, v| a.total(v))?;
    at.field("target_rate_per_s")
        .magnitude(o.target_rate_per_s)?;
    at.field("achieved_rate_per_s")
        .magnitude(o.achieved_rate_per_s)?;
    for (field, l) in [
        ("latency_uncorrected_us", &o.latency_uncorrected_us),
        ("send_lag_us", &o.send_lag_us),
    ] {
        let at = at.field(field);
        latency(&at, l)?;
        if l.count > ops {
            return Err(at
                .field("count")
                .fail(format!("{} values for {ops} operations", l.count)));
        }
    }
    Ok(())
}

fn baseline(at: &At, b: &BaselineReport) -> Check {
    at.field("tolerance").finite(b.tolerance)?;
    let checks = at.field("checks");
    for (i, c) in b.checks.iter().enumerate() {
        let at = checks.index(i);
        at.field("baseline").finite(c.baseline)?;
        at.field("current").finite(c.current)?;
        if let Some(x) = c.change
            && !x.is_finite()
        {
            return Err(at.field("change").out_of_range(show(x), "a finite number"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shard results.

/// Checks a parsed shard results file (see the module doc); `name` is the file, for messages.
/// What needs the plan (scenario indices, the plan's cells) is checked by `merge_results`.
pub fn check_results(name: &str, r: &Results) -> Result<(), SavedError> {
    results_rules(r).map_err(|v| v.in_file(name))
}

fn results_rules(r: &Results) -> Check {
    let at = ROOT;
    run(&r.plan, &r.run_id, [&r.started_at, &r.finished_at])?;
    if r.plan_hash.len() != 64 || !r.plan_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(at
            .field("plan_hash")
            .fail("not a plan hash (64 hexadecimal digits)"));
    }
    let shard = at.field("shard");
    shard.field("count").within(r.shard.count, 1, MAX_SHARDS)?;
    if r.shard.index >= r.shard.count {
        return Err(shard.field("index").fail(format!(
            "{} is out of range for {} shards (0-based)",
            r.shard.index, r.shard.count
        )));
    }
    at.field("cores").within(r.cores, 1, MAX_CORES)?;
    let cells = at.field("cells");
    for (i, c) in r.cells.iter().enumerate() {
        let at = cells.index(i);
        part(&at, c)?;
        let twice = r.cells[..i]
            .iter()
            .any(|o| (o.scenario, o.model, o.concurrency) == (c.scenario, c.model, c.concurrency));
        if twice {
            return Err(at.fail(format!(
                "a second share of cell `{} · {}` in one shard",
                c.scenario_name,
                c.model.label(c.concurrency, c.workers)
            )));
        }
    }
    Ok(())
}

fn part(at: &At, c: &CellPartWire) -> Check {
    at.field("scenario_name").name(&c.scenario_name)?;
    at.field("concurrency")
        .within(c.concurrency, 1, MAX_CONCURRENCY)?;
    at.field("workers").within(c.workers, 1, MAX_WORKERS)?;
    at.field("wall_us").micros(c.wall_us)?;
    at.field("cpu_us").micros(c.cpu_us)?;
    at.field("offset_us").micros(c.offset_us)?;
    recorder(&at.field("recorder"), &c.recorder)
}

fn recorder(at: &At, r: &RecorderWire) -> Check {
    let ops = r.operations;
    at.field("operations").count(ops)?;
    at.field("successes").count(r.successes)?;
    let errors = at.field("errors");
    for (i, n) in r.errors.iter().enumerate() {
        errors.index(i).count(*n)?;
    }
    at.adds_up(
        r.errors.iter().copied().chain([r.successes]),
        ops,
        "successes and errors",
    )?;
    let statuses = at.field("statuses");
    for (i, (code, n)) in r.statuses.iter().enumerate() {
        let at = statuses.index(i);
        if !(100..=999).contains(code) {
            return Err(at.fail(format!("{code} is not an HTTP status code (100 to 999)")));
        }
        if r.statuses[..i].iter().any(|(c, _)| c == code) {
            return Err(at.fail(format!("status {code} is listed twice")));
        }
        at.count(*n)?;
    }
    let answered = r
        .statuses
        .iter()
        .try_fold(0u64, |a, (_, n)| a.checked_add(*n));
    if answered.is_none_or(|n| n > ops) {
        return Err(statuses.fail(format!("count more responses than the {ops} operations")));
    }
    at.field("bytes").count(r.bytes)?;
    at.field("out_of_range").count(r.out_of_range)?;
    let latency = histogram(&at.field("latency"), &r.latency)?;
    at.adds_up(
        [latency.len(), r.out_of_range],
        ops,
        "the latency histogram's values and out_of_range",
    )?;
    // Unlike a summary's (older summaries have none), a shard's timeline always accounts for
    // every operation: merged with another shard's, it must still add up.
    let timeline = at.field("timeline");
    let counts = r
        .timeline
        .iter()
        .map(|s| (s.second, s.operations, s.errors, s.bytes));
    seconds(
        &timeline,
        counts,
        |a, v| a.count(v),
        (ops, r.errors.iter().sum()),
    )?;
    for (i, s) in r.timeline.iter().enumerate() {
        second_histogram(
            &timeline.index(i).field("latency"),
            &s.latency,
            s.operations,
        )?;
    }
    if let Some(o) = &r.open {
        let at = at.field("open");
        arrivals(&at, o.scheduled, o.dropped, |a, v| a.count(v))?;
        for (field, b64) in [("uncorrected", &o.uncorrected), ("lag", &o.lag)] {
            let at = at.field(field);
            let h = histogram(&at, b64)?;
            if h.len() > ops {
                return Err(at.fail(format!("holds {} values for {ops} operations", h.len())));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
    use serde_json::Value;

    const SUMMARY: &[u8] = include_bytes!("../../tests/fixtures/saved/summary.json");
    const SHARD_1: &[u8] = include_bytes!("../../tests/fixtures/saved/shard-1-of-2.json");
    const SHARD_2: &[u8] = include_bytes!("../../tests/fixtures/saved/shard-2-of-2.json");

    /// `fixture` with `edit` applied: `POINTER = JSON` sets a value, `POINTER = -` removes it.
    fn edited(fixture: &[u8], edit: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(fixture).expect("fixture is JSON");
        let (pointer, to) = edit.split_once(" = ").expect("POINTER = VALUE");
        if to == "-" {
            let (parent, key) = pointer.rsplit_once('/').expect("a child");
            let parent = v.pointer_mut(parent).expect(parent);
            parent.as_object_mut().expect("an object").remove(key);
        } else {
            *v.pointer_mut(pointer).expect(pointer) = serde_json::from_str(to).expect(to);
        }
        serde_json::to_vec_pretty(&v).expect("serialize")
    }

    fn refusal(name: &str, bytes: &[u8]) -> String {
        match parse(name, bytes) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e.to_string(),
        }
    }

    /// Each line `POINTER = JSON => MESSAGE`: the edited fixture is refused with that message.
    fn refused_cases(fixture: &[u8], name: &str, cases: &str) {
        for case in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (edit, want) = case.split_once(" => ").expect("EDIT => MESSAGE");
            let Err(got) = parse(name, &edited(fixture, edit)).map_err(|e| e.to_string()) else {
                panic!("{edit}: accepted");
            };
            assert!(got.starts_with(&format!("{name}: ")), "{got}");
            assert!(
                got.contains(want),
                "{edit}\n  got:   {got}\n  wants: {want}"
            );
        }
    }

    #[test]
    fn real_files_are_accepted_as_their_kind() {
        match parse("summary.json", SUMMARY) {
            Ok(Saved::Summary(s)) => assert_eq!(s.plan.name, "saved-fixture"),
            other => panic!("{other:?}"),
        }
        for shard in [SHARD_1, SHARD_2] {
            assert!(matches!(parse("s.json", shard), Ok(Saved::Results(_))));
        }
        assert!(parse_summary("summary.json", SUMMARY).is_ok());
        let e = parse_summary("s.json", SHARD_1).expect_err("a shard is not a summary");
        assert!(matches!(e, SavedError::NotSummary { .. }), "{e}");
    }

    #[test]
    fn the_kind_comes_from_the_fields_not_the_text() {
        // The old reader searched the text for the results format's name.
        let mentions = edited(SUMMARY, "/plan/description = \"loadplan-results\"");
        assert!(matches!(parse("s.json", &mentions), Ok(Saved::Summary(_))));
        let cases: [(&[u8], &str); 9] = [
            (
                b"",
                "x.json: not valid JSON: EOF while parsing a value (line 1, column 0)",
            ),
            (b"{", "not valid JSON"),
            (b"\"text\"", "expected a JSON object"),
            (
                b"{}",
                "neither a loadplan summary.json nor a shard results file",
            ),
            (
                b"[]",
                "neither a loadplan summary.json nor a shard results file",
            ),
            (
                b"{\"format\": \"csv\"}",
                "its format is `csv`, not `loadplan-results`",
            ),
            (
                b"{\"schema_version\": \"1\"}",
                "x.json: schema_version: invalid type: string",
            ),
            (
                b"{\"format\": \"\\u001b[2J\"}",
                "its format is `\\u{1b}[2J`",
            ),
            (
                b"{\"format\": \"loadplan-results\"}",
                "x.json: version: missing",
            ),
        ];
        for (bytes, want) in cases {
            let got = refusal("x.json", bytes);
            assert!(got.contains(want), "{got}\nwants: {want}");
        }
    }

    #[test]
    fn exactly_the_current_version_is_read() {
        refused_cases(
            SUMMARY,
            "s.json",
            "/schema_version = 2 => schema_version 2 is newer than this loadplan reads (1)
             /schema_version = 0 => schema_version 0 is older than this loadplan reads (1)",
        );
        refused_cases(
            SHARD_1,
            "r.json",
            "/version = 7 => version 7 is newer than this loadplan reads (1)
             /version = 0 => version 0 is older than this loadplan reads (1)",
        );
    }

    #[test]
    fn summaries_out_of_range_or_inconsistent_are_refused_with_the_field_path() {
        let other_cells_histogram = {
            let v: Value = serde_json::from_slice(SUMMARY).expect("json");
            v["scenarios"][1]["cells"][0]["histogram"].to_string()
        };
        refused_cases(
            SUMMARY,
            "summary.json",
            &format!(
                "/scenarios/1/cells/0/start_offset_seconds = 18446744073709551615 => scenarios[1].cells[0].start_offset_seconds: 1.8446744073709552e19 is out of range
                 /scenarios/0/cells/1/speedup = 1e308 => scenarios[0].cells[1].speedup: 1e308 is out of range
                 /scenarios/0/cells/1/wall_seconds = 1e308 => scenarios[0].cells[1].wall_seconds: 1e308 is out of range
                 /scenarios/0/cells/1/wall_seconds = -1 => cells[1].wall_seconds: -1 is out of range (0 to 315576000 seconds, ten years)
                 /scenarios/0/cells/1/cpu_seconds = 4e12 => cells[1].cpu_seconds: 4000000000000 is out of range
                 /scenarios/0/cells/1/throughput_per_s = 2e41 => cells[1].throughput_per_s: 2e41 is out of range (0 to 1e40)
                 /scenarios/0/cells/1/error_rate = 1.5 => cells[1].error_rate: 1.5 is out of range (0 to 1)
                 /scenarios/0/cells/1/operations = 18446744073709551615 => cells[1].operations: 18446744073709551615 is out of range
                 /scenarios/0/cells/1/successes = 1000000 => scenarios[0].cells[1]: successes and errors add up to 100000
                 /scenarios/0/cells/1/errors/status = 1 => scenarios[0].cells[1]: successes and errors add up to
                 /scenarios/0/cells/1/status_codes/200 = 1000000 => cells[1].status_codes: count more responses than the 120 operations
                 /scenarios/0/cells/1/status_codes = {{\"OK\": 1}} => cells[1].status_codes.OK: not an HTTP status code
                 /scenarios/0/cells/1/latency_us/p50 = 10000000 => cells[1].latency_us: out of order: p50 10000000 > p90
                 /scenarios/0/cells/1/latency_us/max = 9223372036854775808 => cells[1].latency_us.max: 9223372036854775808 is out of range
                 /scenarios/0/cells/1/latency_us/count = 3 => latency_us.count and latency_out_of_range add up to 3, not 120
                 /scenarios/0/cells/1/latency_us/mean = 1e300 => cells[1].latency_us.mean: 1e300 is out of range
                 /scenarios/0/cells/1/histogram = \"not base64!\" => cells[1].histogram: not a valid HdrHistogram (not base64
                 /scenarios/0/cells/1/histogram = \"HISTFAAAAA==\" => cells[1].histogram: not a valid HdrHistogram (shorter than a histogram header)
                 /scenarios/0/cells/1/histogram = \"AAAAAAAAAAAA\" => cells[1].histogram: not a valid HdrHistogram (unknown cookie
                 /scenarios/0/cells/1/histogram = {other_cells_histogram} => cells[1].histogram: holds 40 values, but latency_us.count is 120
                 /scenarios/0/cells/1/concurrency = 0 => cells[1].concurrency: 0 is out of range (1 to 10000)
                 /scenarios/0/cells/1/workers = 0 => cells[1].workers: 0 is out of range
                 /scenarios/0/cells/1/timeline/0/operations = 500 => cells[1].timeline: the seconds' operations add up to 500, not 120
                 /scenarios/0/cells/1/timeline/0/errors = 500 => cells[1].timeline[0].errors: 500 errors in a second of 120 operations
                 /scenarios/0/cells/1/timeline/0/p50_us = 1099511627776 => cells[1].timeline[0].p50_us: 1099511627776 is out of range
                 /scenarios/0/cells/1/timeline/0/histogram = \"HISTFAAAAB\" => cells[1].timeline[0].histogram: not a valid HdrHistogram
                 /scenarios/0/cells/1/thresholds/0/limit = -3 => cells[1].thresholds[0].limit: -3 is out of range
                 /scenarios/2/cells/0/open/dropped = 1000000 => cells[0].open.dropped: 1000000 dropped of 150 scheduled
                 /scenarios/2/cells/0/open/send_lag_us/count = 1000 => open.send_lag_us.count: 1000 values for 150 operations
                 /scenarios/2/cells/0/timeline/1/second = 0 => scenarios[2].cells[0].timeline[1].second: 0 does not follow second 0
                 /scenarios/0/cells = [] => scenarios[0].cells: a scenario without cells is never written
                 /scenarios/0/busy_fraction = 1e300 => scenarios[0].busy_fraction: 1e300 is out of range
                 /scenarios/0/name = \"a\\u001b[31m\" => scenarios[0].name: must not contain control characters
                 /plan/name = \" \" => summary.json: plan.name: must not be empty
                 /run_id = \"../../etc\" => summary.json: run_id: `../../etc` is not a run folder name
                 /run_id = \"/tmp/x\" => summary.json: run_id: `/tmp/x` is not a run folder name
                 /started_at = \"yesterday\" => summary.json: started_at: `yesterday` is not an RFC 3339 time
                 /duration_seconds = 1e10 => summary.json: duration_seconds: 10000000000 is out of range
                 /host/cores = 0 => summary.json: host.cores: 0 is out of range
                 /scenarios/0/cells/1/model = \"fibers\" => scenarios[0].cells[1].model: unknown variant `fibers`
                 /scenarios/0/cells/1/operations = \"120\" => scenarios[0].cells[1].operations: invalid type: string \"120\", expected u64 (line
                 /scenarios/0/cells/1/operations = -1 => scenarios[0].cells[1].operations: invalid value: integer `-1`
                 /scenarios/0/cells/1/operations = - => scenarios[0].cells[1]: missing field `operations`
                 /scenarios/1/cells/0/timeline = {{}} => scenarios[1].cells[0].timeline: invalid type: map"
            ),
        );
    }

    #[test]
    fn shard_files_out_of_range_or_inconsistent_are_refused_with_the_field_path() {
        refused_cases(
            SHARD_1,
            "shard.json",
            "/shard/index = 18446744073709551615 => shard.index: 18446744073709551615 is out of range for 2 shards
             /shard/index = 2 => shard.index: 2 is out of range for 2 shards
             /shard/count = 0 => shard.count: 0 is out of range (1 to 10000)
             /plan_hash = \"ééééééééé\" => plan_hash: not a plan hash
             /cores = 1099511627776 => cores: 1099511627776 is out of range
             /run_id = \"..\" => run_id: `..` is not a run folder name
             /cells/1/wall_us = 18446744073709551615 => cells[1].wall_us: 18446744073709551615 is out of range
             /cells/1/concurrency = 0 => cells[1].concurrency: 0 is out of range
             /cells/1/scenario_name = \"\" => cells[1].scenario_name: must not be empty
             /cells/2/model = \"threads\" => cells[2]: a second share of cell `download · threads c=4` in one shard
             /cells/1/recorder/operations = 61 => cells[1].recorder: successes and errors add up to 60, not 61
             /cells/1/recorder/errors/2 = 1152921504606846976 => cells[1].recorder.errors[2]: 1152921504606846976 is out of range
             /cells/1/recorder/statuses = [[200, 1], [200, 2]] => cells[1].recorder.statuses[1]: status 200 is listed twice
             /cells/1/recorder/statuses = [[42, 1]] => cells[1].recorder.statuses[0]: 42 is not an HTTP status code
             /cells/1/recorder/statuses = [[200, 100]] => cells[1].recorder.statuses: count more responses than the 60 operations
             /cells/1/recorder/latency = \"????\" => cells[1].recorder.latency: not a valid HdrHistogram (not base64
             /cells/1/recorder/out_of_range = 1 => the latency histogram's values and out_of_range add up to 61, not 60
             /cells/1/recorder/timeline/0/operations = 100 => cells[1].recorder.timeline: the seconds' operations add up to 100, not 60
             /cells/1/recorder/timeline = [] => cells[1].recorder.timeline: the seconds' operations add up to 0, not 60
             /cells/1/recorder/timeline/0/latency = \"HISTEwAAAA==\" => cells[1].recorder.timeline[0].latency: not a valid HdrHistogram
             /cells/6/recorder/open/dropped = 76 => cells[6].recorder.open.dropped: 76 dropped of 75 scheduled
             /shard/index = \"1\" => shard.json: shard.index: invalid type: string",
        );
    }

    fn results(bytes: &[u8]) -> Results {
        match parse("r.json", bytes) {
            Ok(Saved::Results(r)) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merge_takes_no_index_on_trust() {
        let (a, b) = (results(SHARD_1), results(SHARD_2));
        let plan = crate::plan::parse_saved(std::path::Path::new("plan.yaml"), &a.plan.source)
            .expect("the plan the shards carry");
        let merge = |b: Results| {
            super::super::merge_results(&plan, &[("a".into(), a.clone()), ("b".into(), b)])
        };
        assert!(merge(b.clone()).is_ok());
        // Values a caller that skipped the loader could pass.
        type Damage = fn(&mut Results);
        let cases: [(Damage, &str); 10] = [
            (
                |r| r.shard.index = usize::MAX,
                "b: shard.index: 18446744073709551615 is out of range for 2 shards",
            ),
            (
                |r| r.shard.count = usize::MAX,
                "b: shard.count: 18446744073709551615 is out of range",
            ),
            (|r| r.shard.index = 0, "b: shard 1 of 2 is given twice"),
            (
                |r| r.plan_hash = "é".repeat(32),
                "b: plan_hash: not a plan hash",
            ),
            (
                |r| r.plan_hash = "0".repeat(64),
                "b is a run of plan `saved-fixture` (000000000000)",
            ),
            (
                |r| r.cells[0].scenario = 7,
                "b: cells[0].scenario: 7 is out of range (the plan it carries has 3 scenarios)",
            ),
            (
                |r| r.cells[0].scenario_name = "squares".into(),
                "b: cells[0].scenario_name: `squares`, but scenario 0 of the plan is `download`",
            ),
            (
                |r| r.cells[0].concurrency = 3,
                "b: cells[0]: `download · threads c=3` is not a cell of the plan it carries",
            ),
            (
                |r| r.cells[0].recorder.operations = u64::MAX,
                "b: cells[0].recorder.operations: 18446744073709551615 is out of range",
            ),
            (
                |r| r.started_at = "1980-01-01T00:00:00Z".into(),
                "days: they are not shards of one run",
            ),
        ];
        for (damage, want) in cases {
            let mut bad = b.clone();
            damage(&mut bad);
            let e = merge(bad).expect_err(want);
            assert!(e.contains(want), "{e}\nwants: {want}");
        }
    }

    fn v2(values: &[u64]) -> (Histogram<u64>, Vec<u8>, Vec<u8>) {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).expect("in range");
        }
        let (mut plain, mut deflated) = (Vec::new(), Vec::new());
        V2Serializer::new().serialize(&h, &mut plain).expect("v2");
        V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .expect("v2 deflate");
        (h, plain, deflated)
    }

    /// A V2 payload of these zig-zag numbers (counts, or runs of empty slots when negative).
    fn payload(header: &[u8], numbers: &[i64]) -> String {
        let mut body = Vec::new();
        for n in numbers {
            let mut v = ((n << 1) ^ (n >> 63)) as u64;
            for i in 0..9 {
                if i == 8 {
                    body.push(v as u8);
                } else if v >> 7 == 0 {
                    body.push(v as u8);
                    break;
                } else {
                    body.push((v & 0x7f) as u8 | 0x80);
                    v >>= 7;
                }
            }
        }
        let mut b = header[..V2_HEADER_BYTES].to_vec();
        b[4..8].copy_from_slice(&(body.len() as u32).to_be_bytes());
        b.extend(body);
        BASE64.encode(b)
    }

    #[test]
    fn hostile_histograms_are_refused_before_the_decoder_sees_them() {
        let (_, good, _) = v2(&[1, 10, 100, 5000, 3_000_000]);
        assert_eq!(
            decode_histogram(&BASE64.encode(&good)).map(|h| h.len()),
            Ok(5)
        );
        assert_eq!(
            decode_histogram(&payload(&good, &[2, -3, 5])).map(|h| h.len()),
            Ok(7)
        );
        let patched = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            BASE64.encode(b)
        };
        let slots = shape().slots as i64;
        let compressed_too_long = [0x1c, 0x84, 0x93, 0x14, 0xff, 0xff, 0xff, 0xff, 0x78];
        let cases = [
            (
                patched(4, &u32::MAX.to_be_bytes()),
                "announces 4294967295 payload bytes",
            ),
            (
                patched(12, &5u32.to_be_bytes()),
                "with 5 digits, not loadplan's",
            ),
            (
                patched(24, &u64::MAX.to_be_bytes()),
                "bounds are 1 to 18446744073709551615",
            ),
            (patched(8, &1u32.to_be_bytes()), "normalizing offset"),
            (
                payload(&good, &[i64::MIN]),
                "a run of empty slots is out of range",
            ),
            (
                payload(&good, &[i64::MAX; 3]),
                "its counts add up past 2^64",
            ),
            (
                payload(&good, &[-slots, 1]),
                "counts run past the histogram's end",
            ),
            (
                payload(&good, &[-slots - 1]),
                "empty slots run past the histogram's end",
            ),
            (
                BASE64.encode(&good[..good.len() - 1]),
                "payload bytes, fewer follow",
            ),
            (
                BASE64.encode(&good[..20]),
                "shorter than a histogram header",
            ),
            (
                BASE64.encode(compressed_too_long),
                "announces 4294967295 compressed bytes",
            ),
        ];
        for (b64, want) in cases {
            match decode_histogram(&b64) {
                Ok(h) => panic!("accepted {} values, wants {want}", h.len()),
                Err(e) => assert!(e.contains(want), "got {e}, wants {want}"),
            }
        }
    }

    #[test]
    fn inflate_reads_what_hdrhistogram_compresses() {
        let mut rng = fastrand::Rng::with_seed(18);
        for round in 0..200 {
            let n = rng.usize(0..=round * 10);
            let values: Vec<u64> = (0..n)
                .map(|_| {
                    let top = MAX_LATENCY_US >> rng.u32(0..30);
                    rng.u64(1..=top)
                })
                .collect();
            let (h, plain, deflated) = v2(&values);
            let inner = inflate::zlib(&deflated[8..], 1 << 20).expect("inflates");
            assert_eq!(inner, plain, "round {round}");
            let back = decode_histogram(&BASE64.encode(&deflated)).expect("decodes");
            assert_eq!(back, h);
        }
    }

    #[test]
    fn inflate_refuses_broken_streams() {
        // A stored block: 78 01, final + type 0, LEN 3, NLEN !3, "abc", Adler-32.
        let mut stored = vec![0x78, 0x01, 0x01, 3, 0, !3, 0xff, b'a', b'b', b'c'];
        stored.extend(0x024d_0127u32.to_be_bytes());
        assert_eq!(inflate::zlib(&stored, 3).as_deref(), Ok(&b"abc"[..]));
        let cases: [(Vec<u8>, usize, &str); 6] = [
            (stored.clone(), 2, "inflates to more than 2 bytes"),
            (
                stored[..stored.len() - 1].to_vec(),
                3,
                "checksum is missing",
            ),
            (
                [&stored[..10], &[0, 0, 0, 0]].concat(),
                3,
                "checksum does not match",
            ),
            (vec![0x78, 0x01, 0x07], 9, "reserved type 3"),
            (vec![0x78, 0x02], 9, "not a zlib stream"),
            (vec![0x78, 0x01, 0x03], 9, "cut off"),
        ];
        for (bytes, limit, want) in cases {
            let e = inflate::zlib(&bytes, limit).expect_err(want);
            assert!(e.contains(want), "got {e}, wants {want}");
        }
        // Found by fuzz/fuzz_targets/inflate.rs: zlib refuses an incomplete literal/length code
        // ("invalid literal/lengths set"), and so must this inflater.
        let incomplete =
            include_bytes!("../../tests/fixtures/saved/inflate/incomplete-literal-code.deflate");
        let e = inflate::raw(incomplete, 100).expect_err("incomplete code");
        assert!(e.contains("a Huffman code is incomplete"), "{e}");
    }

    #[test]
    fn times_are_rfc3339_from_1970_on() {
        let base = parse_time("2026-05-01T02:00:00Z").expect("utc");
        let half = Duration::from_millis(500);
        for (text, want) in [
            ("2026-05-01T02:00:00.500Z", Some(base + half)),
            ("2026-05-01T04:00:00+02:00", Some(base)),
            ("2026-04-30T23:30:00-02:30", Some(base)),
            ("2026-05-01T02:00:00", None),
            ("2026-05-01 02:00:00Z", None),
            ("yesterday", None),
            ("", None),
            ("2026-05-01T02:00:00+25:00", None),
            ("2026-05-01T02:00:00+02:60", None),
            ("1969-12-31T23:59:59Z", None),
            ("2026-05-01T02:00:00Zé", None),
            ("é2026-05-01T02:00:00+01:00", None),
        ] {
            assert_eq!(parse_time(text), want, "{text}");
        }
    }

    #[test]
    fn json_positions_name_the_field() {
        let text = b"{\"a\": [1, {\"b\": {\"c\": 2, \"d\": \"x\"}}], \"e\": 3}";
        let at = |col| json_path_at(text, 1, col).render();
        let want = [
            (0, ""),
            (6, "a"),
            (8, "a[0]"),
            (23, "a[1].b.c"),
            (25, "a[1].b"),
        ];
        for (col, path) in want.into_iter().chain([(33, "a[1].b.d"), (44, "e")]) {
            assert_eq!(at(col), path, "column {col}");
        }
        assert_eq!(
            json_path_at(b"{\n \"a\":\n [1,\n 2]}", 4, 2).render(),
            "a[1]"
        );
        // Broken or strange input never panics.
        for junk in [&b"\"\\"[..], b"}}]]", b"{\"\xff\":", b"[[[,,,"] {
            let _ = json_path_at(junk, 3, usize::MAX).render();
        }
    }

    #[test]
    fn regression_fixtures_are_refused_with_their_expected_message() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saved/refused");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let want = std::fs::read_to_string(path.with_extension("expect"))
                .unwrap_or_else(|e| panic!("{}: no .expect beside it: {e}", path.display()));
            let name = path.display().to_string();
            let got = refusal(&name, &std::fs::read(&path).expect("read"));
            let want = want.trim();
            assert!(
                got.contains(want),
                "{name}:\n  got:   {got}\n  wants: {want}"
            );
            seen += 1;
        }
        assert!(seen >= 3, "the reproductions of issue 18 are there");
    }
}
