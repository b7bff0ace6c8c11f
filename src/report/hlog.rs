//! `histograms.hlog`: every cell's latencies in the HdrHistogram interval log format, readable by
//! the standard HdrHistogram tools (Java's HistogramLogProcessor, Python's `hdrh`).
//!
//! One interval per second of each cell, as long as the time it covered, tagged with the cell (`scenario.model.cN.wM`), compressed
//! V2 histograms in microseconds. The per-second histograms have the cell histogram's precision,
//! so the intervals of a tag add up to exactly the cell's histogram in summary.json.
//! Input: a summary. Output: the log's bytes. Must not do I/O, nor write a histogram it could not
//! read back exactly: an unreadable one is an error naming the file, never skipped silently.

use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::{ReportError, Reporter};
use crate::stats::{Summary, histogram_from_base64};

pub struct Hlog;

/// A tag may not hold commas, spaces or line breaks; anything outside a safe set becomes `-`.
pub fn tag(scenario: &str, model: &str, concurrency: usize, workers: usize) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}.{model}.c{concurrency}.w{workers}", safe(scenario))
}

/// A cell's start in seconds since the run's start as a `Duration`: 0 for a negative or NaN
/// value, `Duration::MAX` beyond what it holds (an edited summary.json may say anything).
fn offset(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

/// An interval's length: the time its point really covered (`seconds`: less than 1 for a
/// cell's last, partial second, the sum over the rounds that reached it with rounds), so that a
/// reader's rate (count ÷ length) is never a partial second scaled up. An edited file's length
/// that no `Duration` holds, or none at all, counts as a whole second.
fn length(seconds: f64) -> Duration {
    if seconds > 0.0 {
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::from_secs(1))
    } else {
        Duration::from_secs(1)
    }
}

impl Reporter for Hlog {
    fn file_name(&self) -> &'static str {
        "histograms.hlog"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        let err = |reason: String| ReportError::Render {
            file: "histograms.hlog",
            reason,
        };
        let start =
            SystemTime::try_from(summary.started_at.get()).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment(&format!(
                "loadplan {} run {} of plan {}",
                summary.loadplan_version,
                summary.run_id,
                summary.plan.name.replace(['\n', '\r'], " ")
            ))
            .add_comment(
                "values in microseconds; one tag per cell: scenario.model.cCONCURRENCY.wWORKERS",
            )
            .with_start_time(start)
            .with_base_time(start)
            // The max column is for people: show it in milliseconds.
            .with_max_value_divisor(1000.0);
        let mut writer = builder
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| err(e.to_string()))?;
        for s in &summary.scenarios {
            for c in &s.cells {
                let name = tag(&s.name, c.model.as_str(), c.concurrency, c.workers);
                let tag = Tag::new(&name).ok_or_else(|| err(format!("bad tag {name}")))?;
                for p in &c.timeline {
                    if p.histogram.is_empty() {
                        continue;
                    }
                    let h = histogram_from_base64(&p.histogram).map_err(|e| err(e.to_string()))?;
                    let at = offset(c.start_offset_seconds)
                        .checked_add(Duration::from_secs(u64::from(p.second)))
                        .unwrap_or(Duration::MAX);
                    writer
                        .write_histogram(&h, at, length(p.seconds), Some(tag))
                        .map_err(|e| err(format!("{e:?}")))?;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{hostile, sample};

    #[test]
    fn odd_start_offsets_are_placed_not_panicked_on() {
        for (seconds, want) in [
            (1.5, Duration::from_millis(1_500)),
            (-3.0, Duration::ZERO),
            (f64::NAN, Duration::ZERO),
            (f64::NEG_INFINITY, Duration::ZERO),
            (1.8446744073709552e19, Duration::MAX),
            (f64::INFINITY, Duration::MAX),
        ] {
            assert_eq!(offset(seconds), want, "{seconds}");
        }
        // A cell starting at 2^64 seconds still gets its intervals.
        let log = Hlog.render(&hostile()).expect("renders");
        assert!(String::from_utf8_lossy(&log).contains("Tag=sample.sequential.c1.w1,"));
    }

    #[test]
    fn an_interval_is_as_long_as_the_time_it_covered() {
        for (seconds, want) in [
            (1.0, Duration::from_secs(1)),
            (0.25, Duration::from_millis(250)),
            (3.0, Duration::from_secs(3)),
            (0.0, Duration::from_secs(1)),
            (-1.0, Duration::from_secs(1)),
            (f64::NAN, Duration::from_secs(1)),
            (f64::INFINITY, Duration::from_secs(1)),
        ] {
            assert_eq!(length(seconds), want, "{seconds}");
        }
        let mut s = sample();
        s.scenarios[0].cells[0].timeline[0].seconds = 0.25;
        let log = String::from_utf8(Hlog.render(&s).expect("renders")).expect("utf-8");
        // `Tag=…,start,length,max,histogram`: the first cell's interval lasts 0.25 s.
        let line = log
            .lines()
            .find(|l| l.starts_with("Tag=sample.sequential.c1.w1,"))
            .expect("the first cell's interval");
        assert_eq!(line.split(',').nth(2), Some("0.250"), "{line}");
    }

    #[test]
    fn an_unreadable_interval_is_an_error_naming_the_file() {
        let mut s = sample();
        s.scenarios[0].cells[0].timeline[0].histogram = "not base64!".into();
        let e = Hlog.render(&s).expect_err("unreadable");
        assert!(
            e.to_string().starts_with("cannot render histograms.hlog: "),
            "{e}"
        );
    }

    #[test]
    fn tags_are_safe_for_the_log_format() {
        assert_eq!(
            tag("download sites", "async", 16, 1),
            "download-sites.async.c16.w1"
        );
        assert_eq!(tag("a,b\nc", "threads", 2, 2), "a-b-c.threads.c2.w2");
    }
}
