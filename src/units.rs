//! Units: durations as whole microseconds (the unit of every histogram and of the worker wire),
//! and numbers as people read them (`850µs`, `14.2×`, `25.0%`, `16.0 KiB`).
//!
//! Below every stage: the gate words its observed values with these, the renderers their tables.
//! Also the limits that more than one stage keeps (the histograms' bound, the highest
//! concurrency, the largest saved file), so that no stage imports a later one for a constant.
//! Depends on nothing of loadplan.

use std::time::Duration;

/// Latencies are recorded in microseconds, from 1 µs to one hour, 3 significant digits: the
/// histograms' upper bound (the recorder's) and the highest latency a threshold may name (the
/// plan's).
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Concurrency above this is a typo rather than a plan (each unit owns a connection or a thread):
/// the plan refuses it, and the loader of saved results refuses it too.
pub const MAX_CONCURRENCY: usize = 10_000;

/// Saved results (summary.json, shard results files, baselines and histories) larger than this
/// are refused unread (a day-long run with a per-second timeline stays far below; the whole file
/// is parsed in memory): the bounded reader's limit for them and the loader's.
pub const MAX_SAVED_BYTES: usize = 256 << 20;

/// An HTTP cell whose runner kept this share of the host's cores busy was limited by the runner:
/// the validity rule `generator_saturated` and the report's health warning use the same bound.
pub const SATURATED_SHARE: f64 = 0.8;

/// `summary.md`'s bound by default: GitHub's limit on a job's step summary, 1 MiB (a PR comment
/// takes 65,536 characters: `--markdown-max-bytes 65536`). The command line and the Markdown
/// renderer share it.
pub const MARKDOWN_MAX_BYTES: usize = 1 << 20;
/// The least `--markdown-max-bytes` accepts: the opening summary (2 KiB at most) and the note of
/// what was cut always fit.
pub const MARKDOWN_MIN_BYTES: usize = 4096;

/// A duration in whole microseconds, saturating at `u64::MAX` (584,000 years).
pub fn micros_of(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Serde adapter: a [`Duration`] as whole microseconds (`#[serde(with = "crate::units::as_micros")]`).
pub mod as_micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::micros_of(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

/// A count with its noun, singular for one: `1 run`, `5 runs`, `0 cells`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Microseconds as `850µs`, `52.1ms` or `1.20s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..10_000 => format!("{:.2}ms", us as f64 / 1e3),
        10_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

/// A rate or count with sensible precision: `0.52`, `12.3`, `1534`.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// A speedup as `14.2×`, or `-` where there is no sequential cell.
pub fn speedup(s: Option<f64>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{}×", number(s)))
}

pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{}%", number(p))
    }
}

/// Bytes as `512 B`, `3.5 KiB`, `12.0 MiB` or `1.25 GiB`.
pub fn bytes(b: u64) -> String {
    if b < 1024 {
        return format!("{b} B");
    }
    let mut value = b as f64 / 1024.0;
    for unit in ["KiB", "MiB"] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.2} GiB")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(count(1, "run"), "1 run");
        assert_eq!(count(0, "cell"), "0 cells");
        assert_eq!(count(12, "scenario"), "12 scenarios");
    }

    use super::*;

    #[test]
    fn formats() {
        assert_eq!(micros(850), "850µs");
        assert_eq!(micros(1_234), "1.23ms");
        assert_eq!(micros(52_100), "52.1ms");
        assert_eq!(micros(1_200_000), "1.20s");
        assert_eq!(number(1534.4), "1534");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(speedup(Some(14.24)), "14.2×");
        assert_eq!(speedup(None), "-");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0004), "<0.1%");
        assert_eq!(percent(0.25), "25.0%");
        assert_eq!(bytes(16384), "16.0 KiB");
    }
}
