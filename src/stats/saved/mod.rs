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
//! bytes it is given: it is only ever given bytes checked here, inflated by [`inflate`], which
//! is `flate2` with a limit).
//! [`decode_histogram_bytes`] is the program's one way into that decoder: the shard merge,
//! worker frames and the reports decode through it too.

use serde::Deserialize;

use crate::stats::results::{RESULTS_FORMAT, RESULTS_VERSION, Results};
use crate::stats::summary::{SCHEMA_VERSION, Summary};

mod at;
mod histogram;
pub mod inflate;
mod results_rules;
mod summary_rules;

pub use at::parse_time;
use at::*;
use histogram::*;
pub use histogram::{HistogramError, decode_histogram, decode_histogram_bytes};
pub use results_rules::check_results;
pub use summary_rules::check_summary;
use summary_rules::*;

pub use crate::units::MAX_SAVED_BYTES;
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
pub(super) fn printable(s: &str) -> String {
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

pub(super) fn field_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

pub(super) fn version_message(field: &str, found: u64, supported: u32) -> String {
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
    // Editors on Windows (and PowerShell's `Out-File`) start UTF-8 text with a byte order mark,
    // which JSON does not allow but readers may skip (RFC 8259, 8.1).
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
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

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

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
pub(super) struct Probe {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    schema_version: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
}

pub(super) fn check_version(
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

pub(super) fn invalid(name: &str, path: &str, reason: &str) -> SavedError {
    SavedError::Invalid {
        name: name.into(),
        path: path.into(),
        reason: reason.into(),
    }
}

pub(super) fn from_json<'a, T: Deserialize<'a>>(
    name: &str,
    bytes: &'a [u8],
) -> Result<T, SavedError> {
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
pub(super) struct JsonPath(Vec<JsonSeg>);

#[derive(Debug)]
pub(super) enum JsonSeg {
    /// An object and the key last read in it.
    Key(Option<String>),
    Index(usize),
}

impl JsonPath {
    pub(super) fn pop_key(&mut self) {
        if let Some(JsonSeg::Key(k)) = self.0.last_mut() {
            *k = None;
        }
    }

    pub(super) fn render(&self) -> String {
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
pub(super) fn json_path_at(bytes: &[u8], line: usize, column: usize) -> JsonPath {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::recorder::{MAX_LATENCY_US, new_histogram};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
    use serde_json::Value;
    use std::time::Duration;

    const SUMMARY: &[u8] = include_bytes!("../../../tests/fixtures/saved/summary.json");
    const SHARD_1: &[u8] = include_bytes!("../../../tests/fixtures/saved/shard-1-of-2.json");
    const SHARD_2: &[u8] = include_bytes!("../../../tests/fixtures/saved/shard-2-of-2.json");

    /// `fixture` with `edit` applied: `POINTER = JSON` sets (or adds) a value, `POINTER = -`
    /// removes it.
    fn edited(fixture: &[u8], edit: &str) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(fixture).expect("fixture is JSON");
        let (pointer, to) = edit.split_once(" = ").expect("POINTER = VALUE");
        if to == "-" {
            let (parent, key) = pointer.rsplit_once('/').expect("a child");
            let parent = v.pointer_mut(parent).expect(parent);
            parent.as_object_mut().expect("an object").remove(key);
        } else {
            let value: Value = serde_json::from_str(to).expect(to);
            match v.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => {
                    let (parent, key) = pointer.rsplit_once('/').expect("a child");
                    let parent = v.pointer_mut(parent).expect(parent);
                    parent
                        .as_object_mut()
                        .expect("an object")
                        .insert(key.into(), value);
                }
            }
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

    /// The fixture was written before the `tls`, `dns` and `protocol` categories and before
    /// `retried`: it loads, and what it lacks reads as none.
    #[test]
    fn a_summary_from_before_the_newer_error_categories_loads() {
        let s = parse_summary("summary.json", SUMMARY).expect("loads");
        let c = &s.scenarios[0].cells[0];
        for category in ["tls", "dns", "protocol"] {
            assert_eq!(
                c.errors.get(category),
                None,
                "{category}: the file has none"
            );
        }
        assert_eq!(c.errors.get("status"), Some(&5));
        assert_eq!(c.retried, 0);
        assert!(c.requests.iter().all(|r| r.retried == 0));
        // A summary of today's, with them, loads as well.
        let mut v: serde_json::Value = serde_json::from_slice(SUMMARY).expect("json");
        v["scenarios"][0]["cells"][0]["errors"]["protocol"] = 0.into();
        v["scenarios"][0]["cells"][0]["errors"]["dns"] = 0.into();
        v["scenarios"][0]["cells"][0]["retried"] = 2.into();
        let bytes = serde_json::to_vec(&v).expect("bytes");
        let s = parse_summary("summary.json", &bytes).expect("loads");
        assert_eq!(s.scenarios[0].cells[0].retried, 2);
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped() {
        let bom = |b: &[u8]| [UTF8_BOM, b].concat();
        assert!(parse_summary("summary.json", &bom(SUMMARY)).is_ok());
        assert!(matches!(
            parse("s.json", &bom(SHARD_1)),
            Ok(Saved::Results(_))
        ));
        // Only at the start, and only once.
        let twice = bom(&bom(SUMMARY));
        assert!(refusal("x.json", &twice).contains("not valid JSON"));
        let inside = [&SUMMARY[..1], UTF8_BOM, &SUMMARY[1..]].concat();
        assert!(refusal("x.json", &inside).contains("not valid JSON"));
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
        let spread = r#"{"median": 2, "min": 1, "max": 3, "values": [1, 2, 3]}"#;
        let rounds = format!(
            r#"{{"count": 3, "throughput_per_s": {spread}, "attempts_per_s": {spread}, "error_rate": {{"median": 0, "min": 0, "max": 0, "values": []}}, "speedup": null, "p50_us": {spread}, "p90_us": {spread}, "p99_us": {{"median": 5, "min": 1, "max": 3, "values": [1, 3]}}, "cores_busy": {spread}, "wall_seconds": {spread}}}"#
        );
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
                 /scenarios/0/cells/1/thresholds/0/windows = {{\"seconds\": 2, \"checked\": 9, \"breaches\": [{{\"from_s\": 8, \"to_s\": 4, \"worst\": 1}}]}} => cells[1].thresholds[0].windows.breaches[0]: a span from second 8 to second 4 goes back in time
                 /scenarios/0/cells/1/attempts_per_s = 2e41 => cells[1].attempts_per_s: 2e41 is out of range
                 /scenarios/0/cells/1/peak_rss_bytes = 18446744073709551615 => cells[1].peak_rss_bytes: 18446744073709551615 is out of range
                 /scenarios/0/cells/1/error_messages = {{\"fizz\": [\"x\"]}} => cells[1].error_messages.fizz: messages of an error category the cell does not count
                 /scenarios/0/cells/1/error_messages = {{\"status\": [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\"]}} => cells[1].error_messages.status: 6 is out of range (0 to 5 entries)
                 /scenarios/0/cells/1/machine = {{\"other_share\": -1, \"too_short\": false, \"flags\": []}} => cells[1].machine.other_share: -1 is out of range
                 /scenarios/0/cells/1/rounds = {rounds} => cells[1].rounds.p99_us: min, median and max out of order
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
             /cells/1/peak_rss_bytes = 18446744073709551615 => cells[1].peak_rss_bytes: 18446744073709551615 is out of range
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

    /// The summary fixture with what its plan does not record: cell 1 of the first scenario
    /// given a request name (with the cell's own figures), connection phases and think time.
    fn summary_with_requests() -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(SUMMARY).expect("json");
        let c = &mut v["scenarios"][0]["cells"][1];
        let mut request = serde_json::json!({"name": "GET /io?delay=20ms"});
        for field in [
            "operations",
            "successes",
            "errors",
            "error_rate",
            "status_codes",
            "bytes",
            "latency_us",
            "histogram",
        ] {
            request[field] = c[field].clone();
        }
        let l = c["latency_us"].clone();
        c["requests"] = Value::Array(vec![request]);
        c["connections"] = serde_json::json!({
            "opened": 4, "tls_handshakes": 0, "tls_resumed": 0, "protocols": {"HTTP/1.1": 4},
            "dns_us": l, "connect_us": l, "tls_us": l, "ttfb_us": l,
        });
        c["think_us"] = l;
        let bytes = serde_json::to_vec_pretty(&v).expect("serialize");
        assert!(parse_summary("s.json", &bytes).is_ok());
        bytes
    }

    #[test]
    fn requests_connections_and_think_time_of_a_summary_follow_the_cells_rules() {
        refused_cases(
            &summary_with_requests(),
            "summary.json",
            "/scenarios/0/cells/1/requests/0/histogram = \"aGVsbG8gd29ybGQ=\" => summary.json: scenarios[0].cells[1].requests[0].histogram: not a valid HdrHistogram (unknown cookie
             /scenarios/0/cells/1/requests/0/histogram = \"\" => requests[0].histogram: missing (every request name's latencies are written)
             /scenarios/0/cells/1/requests/0/latency_us/p50 = 10000000 => scenarios[0].cells[1].requests[0].latency_us: out of order: p50 10000000 > p90
             /scenarios/0/cells/1/requests/0/latency_us/mean = 1e308 => scenarios[0].cells[1].requests[0].latency_us.mean: 1e308 is out of range
             /scenarios/0/cells/1/requests/0/latency_us/count = 1000000 => scenarios[0].cells[1].requests[0].latency_us.count: 1000000 values for
             /scenarios/0/cells/1/requests/0/successes = 1000000 => scenarios[0].cells[1].requests[0]: successes and errors add up to
             /scenarios/0/cells/1/requests/0/operations = 18446744073709551615 => scenarios[0].cells[1].requests[0].operations: 18446744073709551615 is out of range
             /scenarios/0/cells/1/requests/0/status_codes = {\"OK\": 1} => scenarios[0].cells[1].requests[0].status_codes.OK: not an HTTP status code
             /scenarios/0/cells/1/requests/0/error_rate = 2 => scenarios[0].cells[1].requests[0].error_rate: 2 is out of range (0 to 1)
             /scenarios/0/cells/1/requests/0/name = \"a\\u001b[31m\" => scenarios[0].cells[1].requests[0].name: must not contain control characters
             /scenarios/0/cells/1/requests/0/error_messages = {\"fizz\": [\"x\"]} => scenarios[0].cells[1].requests[0].error_messages.fizz: messages of an error category
             /export = [{\"kind\": \"prometheus\", \"url\": \"http://127.0.0.1:9/\", \"intervals\": 18446744073709551615, \"sent\": 0, \"retried\": 0, \"dropped\": 0, \"last_error\": null}] => summary.json: export[0].intervals: 18446744073709551615 is out of range
             /scenarios/0/cells/1/connections/ttfb_us/p50 = 10000000 => scenarios[0].cells[1].connections.ttfb_us: out of order
             /scenarios/0/cells/1/connections/opened = 18446744073709551615 => scenarios[0].cells[1].connections.opened: 18446744073709551615 is out of range
             /scenarios/0/cells/1/think_us/max = 9223372036854775808 => scenarios[0].cells[1].think_us.max: 9223372036854775808 is out of range",
        );
    }

    /// The first shard fixture with what its plan does not record (it names no requests and
    /// sends no HTTP through a connection it opens): cell 1 given a request name (a copy of its
    /// own recorder), connection phases and think time.
    fn shard_with_requests() -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(SHARD_1).expect("json");
        let r = &mut v["cells"][1]["recorder"];
        let h = r["latency"].clone();
        r["requests"] = Value::Array(vec![r.clone()]);
        r["connections"] = serde_json::json!({
            "dns": h, "connect": h, "tls": h, "ttfb": h,
            "opened": 4, "tls_handshakes": 0, "tls_resumed": 0, "protocols": {"HTTP/1.1": 4},
        });
        r["think"] = h;
        let bytes = serde_json::to_vec_pretty(&v).expect("serialize");
        assert!(matches!(parse("s.json", &bytes), Ok(Saved::Results(_))));
        bytes
    }

    /// A histogram whose header announces `ff00001c` (4 GB) of payload: the HdrHistogram
    /// decoder allocates what it is told before reading a byte of it.
    fn announcing_4_gb(b64: &str) -> String {
        let mut b = BASE64.decode(b64).expect("base64");
        b[4..8].copy_from_slice(&[0xff, 0x00, 0x00, 0x1c]);
        BASE64.encode(b)
    }

    #[test]
    fn every_histogram_of_a_shard_is_checked_with_its_path() {
        let base = shard_with_requests();
        let v: Value = serde_json::from_slice(&base).expect("json");
        let request = &v["cells"][1]["recorder"]["requests"][0];
        let second = request["timeline"][0]["latency"].as_str().expect("base64");
        let bomb = Value::from(announcing_4_gb(second)).to_string();
        refused_cases(
            &base,
            "shard.json",
            &format!(
                "/cells/1/recorder/requests/0/timeline/0/latency = {bomb} => cells[1].recorder.requests[0].timeline[0].latency: not a valid HdrHistogram (the header announces 4278190108 payload bytes, fewer follow)
                 /cells/1/recorder/requests/0/latency = \"aGVsbG8gd29ybGQ=\" => cells[1].recorder.requests[0].latency: not a valid HdrHistogram (unknown cookie
                 /cells/1/recorder/requests/0/successes = 55 => cells[1].recorder.requests[0]: successes and errors add up to 61, not 60
                 /cells/1/recorder/requests/0/timeline/0/operations = 7 => cells[1].recorder.requests[0].timeline: the seconds' operations add up to 7, not 60
                 /cells/1/recorder/connections/ttfb = \"AAAAAAAAAAAA\" => cells[1].recorder.connections.ttfb: not a valid HdrHistogram (unknown cookie
                 /cells/1/recorder/connections/opened = 18446744073709551615 => cells[1].recorder.connections.opened: 18446744073709551615 is out of range
                 /cells/1/recorder/think = \"????\" => cells[1].recorder.think: not a valid HdrHistogram (not base64"
            ),
        );
    }

    fn results(bytes: &[u8]) -> Results {
        match parse("r.json", bytes) {
            Ok(Saved::Results(r)) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shards_of_different_plans_name_the_part_that_differs() {
        let (a, b) = (results(SHARD_1), results(SHARD_2));
        let plan = crate::plan::parse_saved(std::path::Path::new("plan.yaml"), &a.plan.source)
            .expect("the plan the shards carry");
        let parts = |v: &[(&str, char)]| -> std::collections::BTreeMap<String, String> {
            v.iter()
                .map(|(k, c)| (k.to_string(), c.to_string().repeat(64)))
                .collect()
        };
        let header = "scenario `shop`, request `login`, header `authorization`";
        let url = "scenario `shop`, request `login`, url";
        type Parts<'a> = &'a [(&'a str, char)];
        let cases: [(Parts, Parts, &str); 5] = [
            (
                &[(url, 'a'), (header, 'b')],
                &[(url, 'a'), (header, 'c')],
                "but the shards differ in scenario `shop`, request `login`, header `authorization`:",
            ),
            (
                &[(url, 'a')],
                &[(url, 'a'), (header, 'c')],
                "the shards differ in scenario `shop`, request `login`, header `authorization`:",
            ),
            (
                &[(url, 'a')],
                &[(url, 'b')],
                "the shards differ in scenario `shop`, request `login`, url:",
            ),
            (
                &[(url, 'a')],
                &[(url, 'a')],
                "run by different versions of loadplan",
            ),
            (
                &[],
                &[(url, 'a')],
                "the plans differ (a file from an older loadplan",
            ),
        ];
        for (pa, pb, want) in cases {
            let mut a = a.clone();
            let mut b = b.clone();
            a.plan_parts = parts(pa);
            b.plan_parts = parts(pb);
            b.plan_hash = "0".repeat(64);
            let e = super::super::merge_results(&plan, &[("a".into(), a), ("b".into(), b)])
                .expect_err(want);
            assert!(e.to_string().contains(want), "{e}\nwants: {want}");
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
                "b and a are runs of plan `saved-fixture`, but the plans differ",
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
            assert!(e.to_string().contains(want), "{e}\nwants: {want}");
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
                Err(e) => assert!(e.to_string().contains(want), "got {e}, wants {want}"),
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
