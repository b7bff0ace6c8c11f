//! Values a plan is made of, each checked as it is read: percentages, the format version, names,
//! rates, warm-ups, concurrency, durations and status codes.

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A map read in the order written (headers, JSON checks, captures): each key checked as soon as
/// it is read, so that an error points at it, then its value read as `In` and turned into `Out`.
/// `key` also sees the entries read so far (to refuse a repeat).
pub fn ordered_map<'de, D, In, Out>(
    d: D,
    expecting: &'static str,
    key: impl Fn(&str, &[(String, Out)]) -> Result<(), String>,
    value: impl Fn(&str, In) -> Result<Out, String>,
) -> Result<Vec<(String, Out)>, D::Error>
where
    D: Deserializer<'de>,
    In: Deserialize<'de>,
{
    struct Ordered<K, F, In, Out> {
        expecting: &'static str,
        key: K,
        value: F,
        types: PhantomData<fn(In) -> Out>,
    }
    impl<'de, K, F, In, Out> Visitor<'de> for Ordered<K, F, In, Out>
    where
        K: Fn(&str, &[(String, Out)]) -> Result<(), String>,
        F: Fn(&str, In) -> Result<Out, String>,
        In: Deserialize<'de>,
    {
        type Value = Vec<(String, Out)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                (self.key)(&k, &out).map_err(de::Error::custom)?;
                let v = (self.value)(&k, map.next_value::<In>()?).map_err(de::Error::custom)?;
                out.push((k, v));
            }
            Ok(out)
        }
    }
    d.deserialize_map(Ordered {
        expecting,
        key,
        value,
        types: PhantomData,
    })
}

/// A percentage, written with its sign: `10%`. A bare number is refused: `--tolerance 10`
/// once meant 1000 %.
#[derive(Debug, Clone, Copy)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(s: &str) -> Result<Percent, String> {
        let t = s.trim();
        let Some(num) = t.strip_suffix('%') else {
            return Err(match t.parse::<f64>() {
                Ok(v) if v.is_finite() => format!(
                    "`{s}` is not a tolerance: write {}% (a percentage, with its sign)",
                    units_text(v)
                ),
                _ => format!("`{s}` is not a tolerance: write a percentage such as 10%"),
            });
        };
        match num.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=1000.0).contains(&v) => Ok(Percent(v / 100.0)),
            _ => Err(format!(
                "`{s}` is not a tolerance: write a percentage from 0% to 1000%, such as 10%"
            )),
        }
    }

    /// A tolerance that also applies to throughput: a fall of 100 % or more is every throughput,
    /// so it would switch the check off.
    pub fn parse_for_throughput(s: &str) -> Result<Percent, String> {
        let p = Percent::parse(s)?;
        if p.0 >= 1.0 {
            return Err(format!(
                "`{s}` cannot be a throughput tolerance: throughput cannot fall by 100% or more, \
                 so the check would never fail; write less than 100%, such as 10%"
            ));
        }
        Ok(p)
    }
}

/// `10` as people write it in the hint (`10`, `0.1`).
fn units_text(v: f64) -> String {
    let mut t = format!("{v}");
    if t.ends_with(".0") {
        t.truncate(t.len() - 2);
    }
    t
}

/// Reads a percentage from a string, checking it with `check` inside the visitor (so the error
/// keeps its line and column); a number is refused the same way.
fn percent_with<'de, D: Deserializer<'de>>(
    d: D,
    check: fn(&str) -> Result<Percent, String>,
) -> Result<Percent, D::Error> {
    struct V(fn(&str) -> Result<Percent, String>);
    impl Visitor<'_> for V {
        type Value = Percent;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a percentage such as 10%")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Percent, E> {
            (self.0)(s).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
            (self.0)(&v.to_string()).map_err(E::custom)
        }
    }
    d.deserialize_any(V(check))
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        percent_with(d, Percent::parse)
    }
}

/// A throughput tolerance: a percentage under 100 %.
#[derive(Debug, Clone, Copy)]
pub struct ThroughputPercent(pub f64);

impl<'de> Deserialize<'de> for ThroughputPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        percent_with(d, Percent::parse_for_throughput).map(|p| ThroughputPercent(p.0))
    }
}

/// `tolerance: 10%` (every figure) or one per figure: `{p99: 20%, throughput: 10%}` (the
/// figures not named keep the default, 10%).
#[derive(Debug, Clone, Copy)]
pub enum ToleranceSpec {
    All(Percent),
    Each(ToleranceMap),
}

/// Tolerances figure by figure.
#[derive(Debug, Clone, Copy, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToleranceMap {
    #[serde(default)]
    pub p50: Option<Percent>,
    #[serde(default)]
    pub p90: Option<Percent>,
    #[serde(default)]
    pub p99: Option<Percent>,
    /// Under 100%.
    #[serde(default)]
    pub throughput: Option<ThroughputPercent>,
    #[serde(default)]
    pub error_rate: Option<Percent>,
}

impl<'de> Deserialize<'de> for ToleranceSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ToleranceSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a percentage such as 10%, or one per figure: {p99: 20%, throughput: 10%}",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ToleranceSpec, E> {
                // One tolerance for every figure, throughput included.
                Percent::parse_for_throughput(s)
                    .map(ToleranceSpec::All)
                    .map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ToleranceSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ToleranceSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ToleranceSpec, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ToleranceSpec, A::Error> {
                ToleranceMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ToleranceSpec::Each)
            }
        }
        d.deserialize_any(V)
    }
}

/// The format version; only `1` exists.
#[derive(Debug, Clone, Copy)]
pub struct Version;

/// Reads a string and checks it with `check` *inside* the visitor: the YAML library gives an error
/// raised there the string's own line and column (one raised after `deserialize` returns gets the
/// enclosing mapping's).
pub(crate) fn checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<F>(&'static str, F);
    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.1)(s).map_err(E::custom)
        }
    }
    d.deserialize_str(V(expecting, check))
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the plan format version, 1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                if v == 1 {
                    Ok(Version)
                } else {
                    Err(E::custom(format!(
                        "unsupported plan version {v}: this loadplan reads version 1"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Err(E::custom(format!(
                    "unsupported plan version {v}: this loadplan reads version 1"
                )))
            }
        }
        d.deserialize_u64(V)
    }
}

/// A plan name: it becomes a folder name under `--out`, so it may not contain path separators or
/// be `.`/`..`.
#[derive(Debug, Clone)]
pub struct PlanName(pub String);

impl<'de> Deserialize<'de> for PlanName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a string", |s| {
            check_name(s, "plan name").map(|()| PlanName(s.to_string()))
        })
    }
}

/// Names end up in folder names, table headers and JUnit test names: keep them printable and short.
pub(crate) fn check_name(s: &str, what: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if s.chars().count() > 100 {
        return Err(format!("{what} is longer than 100 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(())
}

/// Arrivals per second: `500/s`, `30/m`, `2/ms`, or a plain number (per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

/// No plan needs more arrivals per second than this from one runner; more is a typo.
pub const MAX_RATE: f64 = 1_000_000.0;

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let t = s.trim();
        let (num, per) = match t.split_once('/') {
            Some((n, unit)) => (
                n.trim(),
                match unit.trim() {
                    "s" | "sec" | "second" => 1.0,
                    "m" | "min" | "minute" => 60.0,
                    "h" | "hour" => 3600.0,
                    "ms" => 0.001,
                    other => {
                        return Err(format!(
                            "unknown rate unit `{other}` in `{s}`: write e.g. 500/s or 30/m"
                        ));
                    }
                },
            ),
            None => (t, 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && v / per <= MAX_RATE => Ok(Rate(v / per)),
            Ok(v) if v.is_finite() && v >= 0.0 => Err(format!(
                "rate `{s}` is above {MAX_RATE}/s, more than one runner can send"
            )),
            _ => Err(format!("`{s}` is not a rate: write e.g. 500/s or 30/m")),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate such as 500/s")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Rate, E> {
                Rate::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                Rate::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                Err(E::custom(format!("rate {v} is negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                Rate::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `warmup: 20` (operations) or `warmup: 5s` (time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WarmupSpec {
    Count(u64),
    Time(Duration),
}

impl<'de> Deserialize<'de> for WarmupSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WarmupSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of operations or a duration such as 5s")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WarmupSpec, E> {
                Ok(WarmupSpec::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WarmupSpec, E> {
                Err(E::custom(format!("warmup {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<WarmupSpec, E> {
                Dur::deserialize(de::value::StrDeserializer::<E>::new(s))
                    .map(|d| WarmupSpec::Time(d.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// `concurrency: 16` or a sweep `concurrency: [1, 4, 16]`.
#[derive(Debug, Clone)]
pub struct ConcurrencySpec(pub Vec<NonZeroUsize>);

pub use crate::units::MAX_CONCURRENCY;

impl<'de> Deserialize<'de> for ConcurrencySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn one<E: de::Error>(v: u64) -> Result<NonZeroUsize, E> {
            match usize::try_from(v).ok().and_then(NonZeroUsize::new) {
                Some(n) if n.get() <= MAX_CONCURRENCY => Ok(n),
                _ => Err(E::custom(format!(
                    "concurrency must be between 1 and {MAX_CONCURRENCY}, got {v}"
                ))),
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = ConcurrencySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive number or a list of positive numbers")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ConcurrencySpec(vec![one(v)?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "concurrency must be between 1 and {MAX_CONCURRENCY}, got {v}"
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<u64>()? {
                    let n = one(v)?;
                    if out.contains(&n) {
                        return Err(de::Error::custom(format!(
                            "concurrency {n} is listed twice"
                        )));
                    }
                    out.push(n);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the concurrency list is empty"));
                }
                Ok(ConcurrencySpec(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written with its unit: `250ms`, `5s`, `2m`.
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

/// No single duration in a plan may exceed a day: a longer one is a typo.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, like 250ms, 5s or 2m")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                let d = humantime::parse_duration(s.trim()).map_err(|e| {
                    use humantime::DurationError as H;
                    // humantime's own words point at byte offsets ("expected number at 0").
                    let why = match e {
                        H::UnknownUnit { unit, .. } => format!(": unknown unit `{unit}`"),
                        H::NumberOverflow => ": too large".into(),
                        _ => String::new(),
                    };
                    E::custom(format!(
                        "invalid duration `{s}`{why}: write a number with a unit, like 250ms, 5s or 2m"
                    ))
                })?;
                if d > MAX_DURATION {
                    return Err(E::custom(format!("duration `{s}` is longer than a day")));
                }
                Ok(Dur(d))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{v}` has no unit: write e.g. {v}s or {v}ms"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{v}` is not a positive duration"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{v}` has no unit: write e.g. {v}s or {v}ms"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone)]
pub struct StatusList(pub Vec<u16>);

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn code<E: de::Error>(v: u64) -> Result<u16, E> {
            match u16::try_from(v) {
                Ok(c) if (100..=599).contains(&c) => Ok(c),
                _ => Err(E::custom(format!(
                    "{v} is not an HTTP status code (100 to 599)"
                ))),
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = StatusList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code or a list of status codes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusList, E> {
                Ok(StatusList(vec![code(v)?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusList, E> {
                Err(E::custom(format!(
                    "{v} is not an HTTP status code (100 to 599)"
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<u64>()? {
                    out.push(code(v)?);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the status list is empty"));
                }
                Ok(StatusList(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        let ok: Dur = serde_yaml::from_str("250ms").expect("250ms");
        assert_eq!(ok.0, Duration::from_millis(250));
        for bad in ["5", "5x", "-1s", "2 days 1 year"] {
            assert!(serde_yaml::from_str::<Dur>(bad).is_err(), "{bad}");
        }
        // In words, without the parser's byte offsets.
        for (bad, says) in [
            ("fast", "invalid duration `fast`: write a number"),
            ("5x", "invalid duration `5x`: unknown unit `x`: write"),
        ] {
            let e = serde_yaml::from_str::<Dur>(bad).expect_err(bad).to_string();
            assert!(e.contains(says) && !e.contains(" at "), "{e}");
        }
    }
}
