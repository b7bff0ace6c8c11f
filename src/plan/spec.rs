//! The plan file as written: a serde mirror of the YAML, version 1.
//!
//! Input: YAML text. Output: [`PlanSpec`], still shaped like the file. Every struct denies unknown
//! keys, and every value that can be checked on its own (durations, `${NAME}` references, kernel
//! names, counts) is checked while it is read, so that serde reports the error at that value's line
//! and column. Checks that need several keys at once live in `try_from` conversions, which serde
//! reports at the start of the enclosing mapping. Nothing here sends load or touches files.

use std::fmt;
use std::num::{NonZeroU64, NonZeroUsize};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

pub use super::model::Model;
pub use super::threshold::Threshold;

/// A whole plan file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub version: Version,
    pub name: PlanName,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub base: Option<BaseSpec>,
    #[serde(default)]
    pub defaults: DefaultsSpec,
    /// How a run compares with a baseline given by `--baseline`.
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
    pub scenarios: Scenarios,
}

/// `baseline: { tolerance: 10%, latency_floor: 1ms }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    #[serde(default)]
    pub tolerance: Option<Percent>,
    #[serde(default)]
    pub latency_floor: Option<Dur>,
}

/// `10%` or a fraction such as `0.1`.
#[derive(Debug, Clone, Copy)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(s: &str) -> Result<Percent, String> {
        let t = s.trim();
        let (num, scale) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), 0.01),
            None => (t, 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && v * scale <= 10.0 => Ok(Percent(v * scale)),
            _ => Err(format!(
                "`{s}` is not a tolerance: write a percentage such as 10%"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as 10%")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Percent, E> {
                Percent::parse(s).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Percent::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::parse(&v.to_string()).map_err(E::custom)
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
fn check_name(s: &str, what: &str) -> Result<(), String> {
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

/// `base: builtin` (start the built-in target server) or an absolute `http://` URL. A URL with
/// `${NAME}` references is checked once they are substituted, in `resolve.rs`.
#[derive(Debug, Clone)]
pub enum BaseSpec {
    Builtin,
    Url(Template),
}

impl<'de> Deserialize<'de> for BaseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "`builtin` or an http:// URL", |s| {
            if s == "builtin" {
                return Ok(BaseSpec::Builtin);
            }
            let t = Template::parse(s)?;
            if !t.has_vars {
                absolute_http_url(&t.raw, &t.raw)?;
            }
            Ok(BaseSpec::Url(t))
        })
    }
}

/// Parses an absolute URL and accepts only plain `http`. Messages show the raw template only
/// (`value` may hold a substituted secret).
pub fn absolute_http_url(value: &str, raw: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(value).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    match u.scheme() {
        "http" => {}
        "https" => {
            return Err(format!(
                "`{raw}`: https is not supported yet; loadplan speaks plain HTTP/1.1 (scheme `http`)"
            ));
        }
        other => {
            return Err(format!(
                "`{raw}`: unsupported scheme `{other}`, expected `http`"
            ));
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    Ok(u)
}

/// Checks a target URL as far as it can be checked on its own: a path must be a valid URL path,
/// an absolute URL without variables must be a valid `http` URL. Whether a path has a `base` to
/// resolve against, and URLs with variables, are checked in `resolve.rs`.
pub fn check_target_url(value: &str, raw: &str) -> Result<(), String> {
    if value.starts_with('/') {
        // Check the path part by resolving it against a placeholder origin.
        let origin = url::Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?;
        origin
            .join(value)
            .map_err(|e| format!("`{raw}` is not a valid URL path: {e}"))?;
        return Ok(());
    }
    absolute_http_url(value, raw).map(|_| ())
}

/// Values every scenario inherits unless it sets its own.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    #[serde(default)]
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub concurrency: Option<ConcurrencySpec>,
    #[serde(default)]
    pub workers: Option<NonZeroUsize>,
    #[serde(default)]
    pub warmup: Option<WarmupSpec>,
    #[serde(default)]
    pub models: Option<Vec<Model>>,
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
    #[serde(default)]
    pub headers: Option<Headers>,
    #[serde(default)]
    pub thresholds: Option<Vec<Threshold>>,
}

/// The scenario list: at least one, names unique.
#[derive(Debug)]
pub struct Scenarios(pub Vec<ScenarioSpec>);

impl<'de> Deserialize<'de> for Scenarios {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scenarios;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of scenarios")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scenarios, A::Error> {
                let mut out: Vec<ScenarioSpec> = Vec::new();
                while let Some(s) = seq.next_element::<ScenarioSpec>()? {
                    if let Some(i) = out.iter().position(|o| o.name == s.name) {
                        return Err(de::Error::custom(format!(
                            "scenario {} repeats the name `{}` of scenario {}: names must be unique",
                            out.len() + 1,
                            s.name,
                            i + 1
                        )));
                    }
                    out.push(s);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("a plan needs at least one scenario"));
                }
                Ok(Scenarios(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One scenario as written. `try_from` enforces the either/or rules between keys.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawScenario")]
pub struct ScenarioSpec {
    pub name: String,
    pub description: Option<String>,
    pub workload: WorkloadSpec,
    pub load: LoadSpec,
    /// `warmup: 5s`: time run before measuring, left out of the statistics.
    pub warmup_time: Duration,
    pub models: Option<Vec<Model>>,
    pub concurrency: Option<ConcurrencySpec>,
    pub workers: Option<NonZeroUsize>,
    pub timeout: Option<Dur>,
    pub warmup: Option<u64>,
    pub expect: Option<ExpectSpec>,
    pub headers: Option<Headers>,
    pub thresholds: Option<Vec<Threshold>>,
}

/// One scenario: a workload (`targets` or `cpu`) and a load (`repeat` or `duration`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    targets: Option<Vec<TargetSpec>>,
    #[serde(default)]
    cpu: Option<CpuSpec>,
    #[serde(default)]
    repeat: Option<NonZeroU64>,
    #[serde(default)]
    duration: Option<Dur>,
    /// Open model: arrivals per second (`500/s`, `30/m`), with `duration`; or the start rate of
    /// `stages`.
    #[serde(default)]
    rate: Option<Rate>,
    /// Steps of an open model's rate (`{duration, rate}`) or of a closed model's users
    /// (`{duration, concurrency}`), each ramping linearly from the previous value.
    #[serde(default)]
    stages: Option<Vec<StageSpec>>,
    /// Open model: operations outstanding at most; arrivals beyond it are dropped and counted.
    #[serde(default)]
    max_in_flight: Option<NonZeroUsize>,
    #[serde(default)]
    models: Option<Vec<Model>>,
    #[serde(default)]
    concurrency: Option<ConcurrencySpec>,
    #[serde(default)]
    workers: Option<NonZeroUsize>,
    #[serde(default)]
    timeout: Option<Dur>,
    #[serde(default)]
    warmup: Option<WarmupSpec>,
    #[serde(default)]
    expect: Option<ExpectSpec>,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(default)]
    thresholds: Option<Vec<Threshold>>,
}

/// One stage: a duration and the rate or the users reached at its end.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub duration: Dur,
    #[serde(default)]
    pub rate: Option<Rate>,
    #[serde(default)]
    pub concurrency: Option<u64>,
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

/// What one unit of work is.
#[derive(Debug)]
pub enum WorkloadSpec {
    Targets(Vec<TargetSpec>),
    Cpu(CpuSpec),
}

/// How much work: a fixed count, a fixed time, users in stages, or arrivals on a schedule.
#[derive(Debug, Clone)]
pub enum LoadSpec {
    Repeat(NonZeroU64),
    Duration(Duration),
    /// Closed model whose users follow stages: (stage length, users at its end).
    UserStages(Vec<(Duration, usize)>),
    /// Open model: the rate at the start and stages of (length, rate at its end), per second.
    Open {
        start: f64,
        stages: Vec<(Duration, f64)>,
        max_in_flight: Option<NonZeroUsize>,
    },
}

/// Arrivals a single open scenario may schedule in all; more is a typo in a rate or a duration.
pub const MAX_ARRIVALS: f64 = 1e9;

impl TryFrom<RawScenario> for ScenarioSpec {
    type Error = String;

    fn try_from(r: RawScenario) -> Result<Self, String> {
        check_name(&r.name, "scenario name")?;
        let load = load_spec(&r)?;
        let workload = match (r.targets, r.cpu) {
            (Some(t), None) if t.is_empty() => {
                return Err(format!("scenario `{}`: `targets` is empty", r.name));
            }
            (Some(t), None) => WorkloadSpec::Targets(t),
            (None, Some(c)) => WorkloadSpec::Cpu(c),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "scenario `{}`: set either `targets` or `cpu`, not both",
                    r.name
                ));
            }
            (None, None) => {
                return Err(format!(
                    "scenario `{}`: a workload is missing: add `targets` (HTTP) or `cpu` (a kernel)",
                    r.name
                ));
            }
        };
        if matches!(workload, WorkloadSpec::Cpu(_)) && (r.expect.is_some() || r.headers.is_some()) {
            return Err(format!(
                "scenario `{}`: `expect` and `headers` apply to HTTP targets, not to `cpu`",
                r.name
            ));
        }
        Ok(ScenarioSpec {
            name: r.name,
            description: r.description,
            workload,
            load,
            warmup_time: match r.warmup {
                Some(WarmupSpec::Time(d)) => d,
                _ => Duration::ZERO,
            },
            models: r.models,
            concurrency: r.concurrency,
            workers: r.workers,
            timeout: r.timeout,
            warmup: match r.warmup {
                Some(WarmupSpec::Count(n)) => Some(n),
                Some(WarmupSpec::Time(_)) => Some(0),
                None => None,
            },
            expect: r.expect,
            headers: r.headers,
            thresholds: r.thresholds,
        })
    }
}

/// Reads the load keys of a scenario: `repeat`, `duration`, `rate`, `stages`, `max_in_flight`.
fn load_spec(r: &RawScenario) -> Result<LoadSpec, String> {
    let name = &r.name;
    let err = |msg: &str| Err(format!("scenario `{name}`: {msg}"));
    if r.max_in_flight.is_some()
        && r.rate.is_none()
        && !r
            .stages
            .as_ref()
            .is_some_and(|s| s.iter().any(|x| x.rate.is_some()))
    {
        return err("`max_in_flight` applies to an open model (`rate` or rate `stages`)");
    }
    if r.duration.is_some_and(|d| d.0.is_zero()) {
        return err("`duration` must be above zero");
    }
    match (r.repeat, r.duration, r.rate, &r.stages) {
        (Some(n), None, None, None) => Ok(LoadSpec::Repeat(n)),
        (None, Some(d), None, None) => Ok(LoadSpec::Duration(d.0)),
        (None, Some(d), Some(rate), None) => {
            if rate.0 <= 0.0 {
                return err("`rate` must be above zero");
            }
            if rate.0 * d.0.as_secs_f64() > MAX_ARRIVALS {
                return err("`rate` × `duration` schedules more than 10^9 arrivals");
            }
            Ok(LoadSpec::Open {
                start: rate.0,
                stages: vec![(d.0, rate.0)],
                max_in_flight: r.max_in_flight,
            })
        }
        (None, None, start, Some(stages)) => {
            if stages.is_empty() {
                return err("`stages` is empty");
            }
            let rates = stages.iter().filter(|s| s.rate.is_some()).count();
            let users = stages.iter().filter(|s| s.concurrency.is_some()).count();
            if stages
                .iter()
                .any(|s| s.rate.is_some() == s.concurrency.is_some())
                || (rates > 0 && users > 0)
            {
                return err(
                    "every stage sets either `rate` (an open model) or `concurrency` (a closed one), all stages the same",
                );
            }
            let total: Duration = stages.iter().map(|s| s.duration.0).sum();
            if total.is_zero() {
                return err("the stages last no time at all");
            }
            if rates > 0 {
                let start = start.map_or(0.0, |r| r.0);
                let mut arrivals = 0.0;
                let mut from = start;
                for s in stages {
                    let to = s.rate.map_or(0.0, |r| r.0);
                    arrivals += (from + to) / 2.0 * s.duration.0.as_secs_f64();
                    from = to;
                }
                if arrivals > MAX_ARRIVALS {
                    return err("the stages schedule more than 10^9 arrivals");
                }
                if arrivals < 1.0 {
                    return err("the stages schedule no arrival at all");
                }
                Ok(LoadSpec::Open {
                    start,
                    stages: stages
                        .iter()
                        .map(|s| (s.duration.0, s.rate.map_or(0.0, |r| r.0)))
                        .collect(),
                    max_in_flight: r.max_in_flight,
                })
            } else {
                if start.is_some() {
                    return err("`rate` does not combine with `concurrency` stages");
                }
                if r.concurrency.is_some() {
                    return err(
                        "with `concurrency` stages the users come from the stages: remove `concurrency`",
                    );
                }
                let mut out = Vec::new();
                for s in stages {
                    let c = s.concurrency.unwrap_or(0);
                    if c as usize > MAX_CONCURRENCY {
                        return err(&format!("stage concurrency {c} is above {MAX_CONCURRENCY}"));
                    }
                    out.push((s.duration.0, c as usize));
                }
                if out.iter().all(|(_, c)| *c == 0) {
                    return err("the stages never have a user");
                }
                Ok(LoadSpec::UserStages(out))
            }
        }
        (None, None, Some(_), None) => err("`rate` needs `duration` (or rate `stages`)"),
        (None, None, None, None) => err(
            "how much load is missing: add `repeat: N`, `duration: 30s`, `rate: 100/s` with `duration`, or `stages`",
        ),
        _ => err(
            "choose one load: `repeat`, `duration`, `rate` with `duration`, or `stages` (with an optional start `rate`)",
        ),
    }
}

/// `concurrency: 16` or a sweep `concurrency: [1, 4, 16]`.
#[derive(Debug, Clone)]
pub struct ConcurrencySpec(pub Vec<NonZeroUsize>);

/// Concurrency above this is a typo rather than a plan: each unit owns a connection or a thread.
pub const MAX_CONCURRENCY: usize = 10_000;

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
                    E::custom(format!(
                        "invalid duration `{s}` ({e}): write a number with a unit, like 250ms, 5s or 2m"
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

/// A string that may reference environment variables as `${NAME}` (`$${` writes a literal `${`).
///
/// The plan stage reads it as written (`raw`, the only form ever shown) and checks its syntax;
/// the values are substituted once, in `resolve.rs`, from the environment it is given.
#[derive(Debug, Clone)]
pub struct Template {
    pub raw: String,
    /// Whether it references at least one variable.
    pub has_vars: bool,
}

/// One piece of a template: text as written, or a variable's name.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

impl Template {
    /// Checks the `${NAME}` syntax of `raw`.
    pub fn parse(raw: &str) -> Result<Template, String> {
        let mut has_vars = false;
        for piece in pieces(raw) {
            if let Piece::Var(_) = piece? {
                has_vars = true;
            }
        }
        Ok(Template {
            raw: raw.to_string(),
            has_vars,
        })
    }

    /// The text with every variable substituted by `lookup`; the names `lookup` lacks otherwise.
    pub fn expand(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
        let mut value = String::with_capacity(self.raw.len());
        let mut missing = Vec::new();
        for piece in pieces(&self.raw) {
            match piece {
                Ok(Piece::Text(t)) => value.push_str(t),
                Ok(Piece::Var(name)) => match lookup(name) {
                    Some(v) => value.push_str(&v),
                    None if missing.iter().any(|m| m == name) => {}
                    None => missing.push(name.to_string()),
                },
                // `parse` accepted the text, so this cannot happen; keep the text as written.
                Err(_) => value.push_str(&self.raw),
            }
        }
        if missing.is_empty() {
            Ok(value)
        } else {
            Err(missing)
        }
    }
}

/// The message for variables the environment lacks.
pub fn missing_message(names: &[String]) -> String {
    match names {
        [one] => {
            format!("environment variable `{one}` is not set (the plan references `${{{one}}}`)")
        }
        many => format!(
            "environment variables {} are not set (the plan references them)",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Splits a template into text and variable names; `$${` is a literal `${`.
fn pieces(raw: &str) -> impl Iterator<Item = Result<Piece<'_>, String>> {
    let mut rest = raw;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let Some(i) = rest.find('$') else {
            let t = rest;
            rest = "";
            return Some(Ok(Piece::Text(t)));
        };
        if i > 0 {
            let t = &rest[..i];
            rest = &rest[i..];
            return Some(Ok(Piece::Text(t)));
        }
        let after = &rest[1..];
        if let Some(tail) = after.strip_prefix("${") {
            rest = tail;
            return Some(Ok(Piece::Text("${")));
        }
        let Some(tail) = after.strip_prefix('{') else {
            rest = after;
            return Some(Ok(Piece::Text("$")));
        };
        let Some(end) = tail.find('}') else {
            failed = true;
            return Some(Err(format!("unclosed `${{` in `{raw}`")));
        };
        let name = &tail[..end];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            failed = true;
            return Some(Err(format!(
                "`${{{name}}}` is not a valid variable reference: names are letters, digits and _"
            )));
        }
        rest = &tail[end + 1..];
        Some(Ok(Piece::Var(name)))
    })
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a string", Template::parse)
    }
}

/// Header name → value, in the order written.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, Template)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of header names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Template>()? {
                    if hyper::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                        return Err(de::Error::custom(format!(
                            "`{k}` is not a valid HTTP header name"
                        )));
                    }
                    // A value with variables is checked once they are substituted.
                    if !v.has_vars && hyper::header::HeaderValue::from_str(&v.raw).is_err() {
                        return Err(de::Error::custom(format!(
                            "the value of header `{k}` is not a valid HTTP header value"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A target: a URL string, or a request object.
#[derive(Debug)]
pub struct TargetSpec {
    /// Written as a request object (`{url, …}`) rather than a URL string.
    pub object: bool,
    pub url: Template,
    pub method: String,
    pub headers: Headers,
    pub body: Option<Template>,
}

/// A request object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    url: Template,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(default)]
    body: Option<Template>,
}

/// An HTTP method; only the usual ones, upper case.
#[derive(Debug)]
pub(crate) struct Method(String);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
        checked_str(d, "an HTTP method", |s| {
            if KNOWN.contains(&s) {
                Ok(Method(s.to_string()))
            } else {
                Err(format!(
                    "unknown HTTP method `{s}`, expected one of {}",
                    KNOWN.join(", ")
                ))
            }
        })
    }
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL string or a request {url, method, headers, body}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TargetSpec, E> {
                let url = Template::parse(s).map_err(E::custom)?;
                if !url.has_vars {
                    check_target_url(&url.raw, &url.raw).map_err(E::custom)?;
                }
                Ok(TargetSpec {
                    object: false,
                    url,
                    method: "GET".into(),
                    headers: Headers::default(),
                    body: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TargetSpec, A::Error> {
                let r = RequestSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !r.url.has_vars {
                    check_target_url(&r.url.raw, &r.url.raw).map_err(de::Error::custom)?;
                }
                Ok(TargetSpec {
                    object: true,
                    url: r.url,
                    method: r.method.map_or_else(|| "GET".into(), |m| m.0),
                    headers: r.headers.unwrap_or_default(),
                    body: r.body,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `expect: { status: 200 }` or `expect: { status: [200, 204] }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    pub status: StatusList,
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

/// A CPU kernel and its size. Checked in `try_from` so that errors keep their location.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawCpu")]
pub enum CpuSpec {
    /// Σ i² for i in 0..n, with wrapping arithmetic.
    SumSquares { n: u64 },
    /// SHA-256 of `bytes` bytes.
    Sha256 { bytes: u64 },
    /// Busy-waits for `duration`.
    Spin { duration: Duration },
}

/// A CPU kernel and its size.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCpu {
    kernel: KernelName,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    bytes: Option<u64>,
    #[serde(default)]
    duration: Option<Dur>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum KernelName {
    SumSquares,
    Sha256,
    Spin,
}

/// Bounds that keep one operation under about a minute on any machine.
const MAX_SUM_SQUARES_N: u64 = 100_000_000_000;
const MAX_SHA256_BYTES: u64 = 4 << 30;

impl TryFrom<RawCpu> for CpuSpec {
    type Error = String;

    fn try_from(r: RawCpu) -> Result<Self, String> {
        let (needs, n, bytes, duration) = match r.kernel {
            KernelName::SumSquares => ("n", r.n, None, None),
            KernelName::Sha256 => ("bytes", None, r.bytes, None),
            KernelName::Spin => ("duration", None, None, r.duration),
        };
        let extra = [
            ("n", r.n.is_some() && n.is_none()),
            ("bytes", r.bytes.is_some() && bytes.is_none()),
            ("duration", r.duration.is_some() && duration.is_none()),
        ];
        if let Some((key, _)) = extra.iter().find(|(_, bad)| *bad) {
            return Err(format!(
                "kernel `{}` takes `{needs}`, not `{key}`",
                kernel_str(r.kernel)
            ));
        }
        match r.kernel {
            KernelName::SumSquares => match n {
                Some(n) if (1..=MAX_SUM_SQUARES_N).contains(&n) => Ok(CpuSpec::SumSquares { n }),
                Some(n) => Err(format!(
                    "sum_squares `n` must be between 1 and {MAX_SUM_SQUARES_N}, got {n}"
                )),
                None => Err("kernel `sum_squares` needs `n`".into()),
            },
            KernelName::Sha256 => match bytes {
                Some(b) if (1..=MAX_SHA256_BYTES).contains(&b) => Ok(CpuSpec::Sha256 { bytes: b }),
                Some(b) => Err(format!(
                    "sha256 `bytes` must be between 1 and {MAX_SHA256_BYTES}, got {b}"
                )),
                None => Err("kernel `sha256` needs `bytes`".into()),
            },
            KernelName::Spin => match duration {
                Some(d) if !d.0.is_zero() && d.0 <= Duration::from_secs(60) => {
                    Ok(CpuSpec::Spin { duration: d.0 })
                }
                Some(_) => Err("spin `duration` must be above zero and at most 60s".into()),
                None => Err("kernel `spin` needs `duration`".into()),
            },
        }
    }
}

fn kernel_str(k: KernelName) -> &'static str {
    match k {
        KernelName::SumSquares => "sum_squares",
        KernelName::Sha256 => "sha256",
        KernelName::Spin => "spin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn templates_expand_and_escape() {
        let cases = [
            ("plain", "plain", false),
            ("Bearer ${TOKEN}", "Bearer s3cret", true),
            ("$${TOKEN}", "${TOKEN}", false),
            ("cost $5", "cost $5", false),
        ];
        for (raw, value, vars) in cases {
            let t = Template::parse(raw).expect(raw);
            assert_eq!(t.expand(&env).as_deref(), Ok(value), "{raw}");
            assert_eq!(t.has_vars, vars, "{raw}");
            assert_eq!(t.raw, raw);
            assert!(!format!("{t:?}").contains("s3cret"));
        }
    }

    #[test]
    fn template_errors_name_the_variable() {
        let cases = [
            ("${MISSING}", "`MISSING` is not set"),
            ("${bad-name}", "not a valid variable reference"),
            ("${TOKEN", "unclosed"),
        ];
        for (raw, msg) in cases {
            let e = Template::parse(raw)
                .map_err(|e| vec![e])
                .and_then(|t| t.expand(&env))
                .map_err(|e| {
                    if e.len() == 1 && e[0].contains(' ') {
                        e[0].clone()
                    } else {
                        missing_message(&e)
                    }
                })
                .expect_err(raw);
            assert!(e.contains(msg), "{raw}: {e}");
        }
    }

    #[test]
    fn durations_need_units() {
        let ok: Dur = serde_yaml::from_str("250ms").expect("250ms");
        assert_eq!(ok.0, Duration::from_millis(250));
        for bad in ["5", "5x", "-1s", "2 days 1 year"] {
            assert!(serde_yaml::from_str::<Dur>(bad).is_err(), "{bad}");
        }
    }
}
