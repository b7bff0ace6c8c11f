//! Where a violation is: the field path (`scenarios[1].cells[2].wall_seconds`) and the checks
//! each kind of value gets (ranges, names, times).

use std::time::SystemTime;

use super::*;

// ---------------------------------------------------------------------------------------------
// Paths and range checks.

/// A field's path, built on the stack as the checks descend; rendered only for a message.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
pub(super) enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

/// A violated rule: where, and why.
pub(super) struct Violation {
    path: String,
    reason: String,
}

pub(super) type Check = Result<(), Violation>;

impl Violation {
    pub(super) fn in_file(self, name: &str) -> SavedError {
        SavedError::Invalid {
            name: name.into(),
            path: self.path,
            reason: self.reason,
        }
    }
}

pub(super) const ROOT: At<'static> = At {
    parent: None,
    seg: Seg::Root,
};

impl<'a> At<'a> {
    pub(super) fn field(&'a self, name: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    pub(super) fn index(&'a self, i: usize) -> At<'a> {
        At {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    pub(super) fn render(&self) -> String {
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

    pub(super) fn fail(&self, reason: impl Into<String>) -> Violation {
        Violation {
            path: self.render(),
            reason: reason.into(),
        }
    }

    pub(super) fn out_of_range(&self, shown: impl std::fmt::Display, range: &str) -> Violation {
        self.fail(format!("{shown} is out of range ({range})"))
    }

    /// Finite, at least 0, at most `max`.
    pub(super) fn float(&self, v: f64, max: f64, range: &str) -> Check {
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(())
        } else {
            Err(self.out_of_range(show(v), range))
        }
    }

    pub(super) fn seconds(&self, v: f64) -> Check {
        self.float(v, MAX_SECONDS, "0 to 315576000 seconds, ten years")
    }

    pub(super) fn cpu_seconds(&self, v: f64) -> Check {
        self.float(
            v,
            MAX_CPU_SECONDS,
            "0 to 3.15576e12 seconds, ten years on each of 10000 shards",
        )
    }

    pub(super) fn magnitude(&self, v: f64) -> Check {
        self.float(v, MAX_MAGNITUDE, "0 to 1e40")
    }

    pub(super) fn fraction(&self, v: f64) -> Check {
        self.float(v, 1.0, "0 to 1")
    }

    pub(super) fn finite(&self, v: f64) -> Check {
        self.float(v, f64::MAX, "a finite number, at least 0")
    }

    pub(super) fn micros(&self, v: u64) -> Check {
        if v as f64 <= MAX_SECONDS * 1e6 {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 315576000000000 µs, ten years"))
        }
    }

    /// A shard's counter.
    pub(super) fn count(&self, v: u64) -> Check {
        if v <= MAX_COUNT {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 2^50"))
        }
    }

    /// A summary's counter (perhaps merged from shards).
    pub(super) fn total(&self, v: u64) -> Check {
        if v <= MAX_SUMMARY_COUNT {
            Ok(())
        } else {
            Err(self.out_of_range(v, "0 to 2^50 × 10000"))
        }
    }

    pub(super) fn within(&self, v: usize, lo: usize, hi: usize) -> Check {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(self.out_of_range(v, &format!("{lo} to {hi}")))
        }
    }

    /// As plan names are: not blank, at most 100 characters, no control characters.
    pub(super) fn name(&self, s: &str) -> Check {
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
    pub(super) fn run_id(&self, s: &str) -> Check {
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

    pub(super) fn time(&self, s: &str) -> Check {
        if parse_time(s).is_some() {
            Ok(())
        } else {
            Err(self.fail(format!("`{}` is not an RFC 3339 time", printable(s))))
        }
    }

    /// `sum` of the parts must equal `whole`; `what` says what is summed.
    pub(super) fn adds_up(
        &self,
        parts: impl IntoIterator<Item = u64>,
        whole: u64,
        what: &str,
    ) -> Check {
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
pub(super) fn show(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-6..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A saved time: RFC 3339 as loadplan writes it (`2026-11-28T16:10:12Z`), with an optional
/// fraction, or with a numeric offset (`+02:00`) instead of `Z`; from 1970 on. jiff parses it,
/// once its shape is RFC 3339's: jiff's own parser also takes Temporal's forms (a space for the
/// `T`, minutes without seconds, offsets to ±25:59, `[zone]` annotations).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let separators = b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && b.get(10) == Some(&b'T')
        && b.get(13) == Some(&b':')
        && b.get(16) == Some(&b':');
    let offset = match b {
        [.., b'Z'] => true,
        [.., b'+' | b'-', h1, h2, b':', m1, m2] => {
            let digits = [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit());
            digits && (h1 - b'0') * 10 + (h2 - b'0') <= 23 && (m1 - b'0') * 10 + (m2 - b'0') <= 59
        }
        _ => false,
    };
    if !separators || !offset {
        return None;
    }
    let t: jiff::Timestamp = s.parse().ok()?;
    if t < jiff::Timestamp::UNIX_EPOCH {
        return None;
    }
    SystemTime::try_from(t).ok()
}
