//! The plan file as written: a serde mirror of the YAML, version 1.
//!
//! Input: YAML text. Output: [`PlanSpec`], still shaped like the file. Every struct denies unknown
//! keys, and every value that can be checked on its own (durations, `${NAME}` references, kernel
//! names, counts) is checked while it is read, so that serde reports the error at that value's line
//! and column. Checks that need several keys at once live in `try_from` conversions, which serde
//! reports at the start of the enclosing mapping. Nothing here sends load or touches files.
//!
//! This file holds the plan and its scenarios; the values they are made of are beside it:
//! `values.rs` (durations, rates, counts, names), `template.rs` (`${NAME}` strings and headers),
//! `target.rs` (URLs, requests, `expect`) and `cpu.rs` (kernels).

mod capacity;
mod cpu;
mod flow;
mod http;
mod target;
mod template;
mod values;

use std::fmt;
use std::num::{NonZeroU64, NonZeroUsize};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

pub use super::model::Model;
pub use super::threshold::Threshold;
pub use super::validity::ValiditySpec;
pub use capacity::*;
pub use cpu::*;
pub use flow::*;
pub use http::*;
pub use target::*;
pub use template::*;
pub use values::*;

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
    /// Run every cell this many times, interleaved (A B C … A B C …); figures are the medians of
    /// the rounds with their spread. `--rounds N` overrides it.
    #[serde(default)]
    pub rounds: Option<NonZeroUsize>,
    /// Validity rules turned into warnings (`validity: { cpu_drift: warn }`); each rule left
    /// out makes a run that breaks it `invalid` (exit 4).
    #[serde(default)]
    pub validity: Option<ValiditySpec>,
    /// Steps run once per run (per shard), before the first cell: their captures are variables
    /// every scenario (and `after`) may use. Their failure stops the run before any load.
    #[serde(default)]
    pub before: Option<Vec<StepSpec>>,
    /// Steps run once per run (per shard), after the last cell, with `before`'s captures.
    #[serde(default)]
    pub after: Option<Vec<StepSpec>>,
    /// Scenario groups' own settings, by group name (`groups: { shop: { thresholds: [...] } }`):
    /// the thresholds of the group's combined figures (its members' operations together).
    #[serde(default)]
    pub groups: Option<std::collections::BTreeMap<String, GroupSpec>>,
    pub scenarios: Scenarios,
}

/// A scenario group's own settings (its members name it with `group: NAME`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Thresholds of the group's combined figures: every member's operations together, on the
    /// group's one clock (`error_rate < 1%`, `p95 < 200ms`, `throughput > 50`).
    #[serde(default)]
    pub thresholds: Option<Vec<Threshold>>,
}

/// The plan file: a [`PlanSpec`] whose top-level keys starting with `x-` are read and ignored,
/// so that YAML anchors can be defined beside the plan (`x-flow: &flow`, as in Compose files).
/// Every other key is read by `PlanSpec` itself, with its own line and column.
#[derive(Debug)]
pub struct PlanFile(pub PlanSpec);

impl<'de> Deserialize<'de> for PlanFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlanFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a plan: a mapping with `version`, `name` and `scenarios`")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<PlanFile, A::Error> {
                PlanSpec::deserialize(de::value::MapAccessDeserializer::new(SkipExtensions(map)))
                    .map(PlanFile)
            }
        }
        d.deserialize_map(V)
    }
}

/// A top-level key the plan ignores: `x-` and anything after it.
pub fn is_extension_key(key: &str) -> bool {
    key.starts_with("x-")
}

/// The plan's mapping without its `x-…` keys (their values are read and dropped).
struct SkipExtensions<A>(A);

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for SkipExtensions<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        loop {
            match self.0.next_key_seed(KeySeed(&mut seed))? {
                None => return Ok(None),
                Some(Some(k)) => return Ok(Some(k)),
                Some(None) => {
                    self.0.next_value::<de::IgnoredAny>()?;
                }
            }
        }
    }

    fn next_value_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(seed)
    }
}

/// Reads one key: `None` for an `x-…` key; otherwise the key as the plan's own seed reads it
/// (inside the YAML reader, so its errors keep the key's line and column).
struct KeySeed<'a, K>(&'a mut Option<K>);

impl<'de, K: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for KeySeed<'_, K> {
    type Value = Option<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: de::DeserializeSeed<'de>> Visitor<'de> for KeySeed<'_, K> {
    type Value = Option<K::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        use de::IntoDeserializer as _;
        if is_extension_key(s) {
            return Ok(None);
        }
        match self.0.take() {
            Some(seed) => seed.deserialize(s.into_deserializer()).map(Some),
            None => Err(E::custom("a key was read twice")),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
}

/// `baseline: { tolerance: 10%, latency_floor: 1ms, runs: 5 }`; `tolerance` may be one per
/// figure: `{p99: 20%, throughput: 10%}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    #[serde(default)]
    pub tolerance: Option<ToleranceSpec>,
    /// With a history folder as `--baseline`: how many of the plan's last passing runs make the
    /// reference (default 5). `--baseline-runs N` overrides it.
    #[serde(default)]
    pub runs: Option<NonZeroUsize>,
    #[serde(default)]
    pub latency_floor: Option<Dur>,
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
    /// TLS settings for `https://` targets.
    #[serde(default)]
    pub tls: Option<TlsSpec>,
    /// The HTTP protocol: `auto`, "1.1" or "2".
    #[serde(default)]
    pub http: Option<HttpVersionSpec>,
    /// The users of a cell share this many connections (default: one per user); worker
    /// processes and shards split them as they split the users, each keeping at least one.
    #[serde(default)]
    pub connections: Option<NonZeroUsize>,
    /// `keep-alive` (default) or `per-request`.
    #[serde(default)]
    pub connection: Option<ConnectionSpec>,
    /// `true` (default): an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) whose
    /// reused HTTP/1.1 connection breaks before any byte of its response arrives is sent once
    /// more on a new connection, and counted as `retried`; `false`: it is a `protocol` error.
    #[serde(default)]
    pub retry: Option<bool>,
    #[serde(default)]
    pub thresholds: Option<Vec<Threshold>>,
    /// The same as `rounds` at the top level (a plan sets it in one place only).
    #[serde(default)]
    pub rounds: Option<NonZeroUsize>,
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
    /// `tls`, `http`, `connections`, `connection`, `retry`.
    pub http: HttpKeys,
    pub data: Option<DataSpec>,
    /// `setup:` steps, once per user before its first iteration (flows only).
    pub setup: Option<Vec<StepSpec>>,
    pub cookies: bool,
    pub seed: Option<u64>,
    pub thresholds: Option<Vec<Threshold>>,
    pub validity: Option<ValiditySpec>,
    /// `group: NAME`: runs at the same time as the other scenarios of that group.
    pub group: Option<String>,
    /// `start: 2s`: a group member's start, after the group's start.
    pub start: Option<Duration>,
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
    /// Steps run in order, once per iteration, instead of `targets`.
    #[serde(default)]
    flow: Option<Vec<StepSpec>>,
    /// Steps each user runs once, before its first iteration (log in once): their captures
    /// stay set in every iteration of that user; their requests keep statistics of their own and
    /// are not iterations. With `flow` only.
    #[serde(default)]
    setup: Option<Vec<StepSpec>>,
    #[serde(default)]
    cpu: Option<CpuSpec>,
    /// A CSV file whose columns become variables, a row per iteration.
    #[serde(default)]
    data: Option<DataSpec>,
    /// Each user keeps a cookie jar across its iterations (default true).
    #[serde(default)]
    cookies: Option<bool>,
    /// The seed of random choices (weighted targets, random rows, think ranges); default: a new
    /// one each run, reported.
    #[serde(default)]
    seed: Option<Seed>,
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
    /// A capacity search instead of one load: the highest arrival rate that keeps the SLO.
    #[serde(default)]
    capacity: Option<CapacitySpec>,
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
    /// TLS settings for `https://` targets.
    #[serde(default)]
    tls: Option<TlsSpec>,
    /// The HTTP protocol: `auto`, "1.1" or "2".
    #[serde(default)]
    http: Option<HttpVersionSpec>,
    /// The users of a cell share this many connections (default: one per user); worker
    /// processes and shards split them as they split the users, each keeping at least one.
    #[serde(default)]
    connections: Option<NonZeroUsize>,
    /// `keep-alive` (default) or `per-request`.
    #[serde(default)]
    connection: Option<ConnectionSpec>,
    /// `true` (default): an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) whose
    /// reused HTTP/1.1 connection breaks before any byte of its response arrives is sent once
    /// more on a new connection, and counted as `retried`; `false`: it is a `protocol` error.
    #[serde(default)]
    retry: Option<bool>,
    #[serde(default)]
    thresholds: Option<Vec<Threshold>>,
    /// This scenario's validity rules turned into warnings (or back into failures); its keys
    /// win over the plan's `validity`.
    #[serde(default)]
    validity: Option<ValiditySpec>,
    /// Scenarios that share a group run at the same time, on one host model and one clock,
    /// each with its own load; the group's combined figures come beside each member's.
    #[serde(default)]
    group: Option<String>,
    /// With `group`: this member starts this long after the group's start (default 0s).
    #[serde(default)]
    start: Option<Dur>,
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

/// What one unit of work is.
#[derive(Debug)]
pub enum WorkloadSpec {
    Targets(Vec<TargetSpec>),
    Flow(Vec<StepSpec>),
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
    /// A capacity search: open-model probes at rates the search chooses.
    Capacity {
        spec: CapacitySpec,
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
        let workload = match (r.targets, r.flow, r.cpu) {
            (Some(t), None, None) if t.is_empty() => {
                return Err(format!("scenario `{}`: `targets` is empty", r.name));
            }
            (None, Some(f), None) if f.is_empty() => {
                return Err(format!("scenario `{}`: `flow` has no step", r.name));
            }
            (Some(t), None, None) => WorkloadSpec::Targets(t),
            (None, Some(f), None) => WorkloadSpec::Flow(f),
            (None, None, Some(c)) => WorkloadSpec::Cpu(c),
            (None, None, None) => {
                return Err(format!(
                    "scenario `{}`: a workload is missing: add `targets` or `flow` (HTTP) or `cpu` (a kernel)",
                    r.name
                ));
            }
            (Some(_), None, Some(_)) => {
                return Err(format!(
                    "scenario `{}`: set either `targets` or `cpu`, not both",
                    r.name
                ));
            }
            _ => {
                return Err(format!(
                    "scenario `{}`: set only one of `targets`, `flow` and `cpu`",
                    r.name
                ));
            }
        };
        if let Some(g) = &r.group {
            check_name(g, "group name")?;
        }
        match (&r.group, &r.start, &workload, &load) {
            (None, Some(_), _, _) => {
                return Err(format!(
                    "scenario `{}`: `start` is a group member's offset: add `group: NAME`",
                    r.name
                ));
            }
            (Some(g), _, WorkloadSpec::Cpu(_), _) => {
                return Err(format!(
                    "scenario `{}`: group `{g}` runs HTTP traffic together; a `cpu` kernel takes turns with other cells instead",
                    r.name
                ));
            }
            (Some(g), _, _, LoadSpec::Capacity { .. }) => {
                return Err(format!(
                    "scenario `{}`: a `capacity` search chooses its own rates and cannot run in group `{g}`",
                    r.name
                ));
            }
            _ => {}
        }
        match (&r.setup, &workload) {
            (Some(s), WorkloadSpec::Flow(_)) if s.is_empty() => {
                return Err(format!("scenario `{}`: `setup` has no step", r.name));
            }
            (Some(_), WorkloadSpec::Targets(_) | WorkloadSpec::Cpu(_)) => {
                return Err(format!(
                    "scenario `{}`: `setup` goes with `flow`: write the targets as flow steps",
                    r.name
                ));
            }
            _ => {}
        }
        if let WorkloadSpec::Targets(t) = &workload {
            let weighted = t.iter().filter(|t| t.weight.is_some()).count();
            if weighted > 0 && weighted < t.len() {
                return Err(format!(
                    "scenario `{}`: give every target a `weight`, or none",
                    r.name
                ));
            }
        }
        let http = HttpKeys {
            tls: r.tls,
            http: r.http,
            connections: r.connections,
            connection: r.connection,
            retry: r.retry,
        };
        if matches!(workload, WorkloadSpec::Cpu(_))
            && (r.expect.is_some()
                || r.headers.is_some()
                || !http.is_empty()
                || r.data.is_some()
                || r.cookies.is_some())
        {
            return Err(format!(
                "scenario `{}`: `expect`, `headers`, `tls`, `http`, `connections`, `connection`, `retry`, `data` and `cookies` apply to HTTP, not to `cpu`",
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
            http,
            data: r.data,
            setup: r.setup,
            cookies: r.cookies.unwrap_or(true),
            seed: r.seed.map(|s| s.0),
            thresholds: r.thresholds,
            validity: r.validity,
            group: r.group,
            start: r.start.map(|d| d.0),
        })
    }
}

/// Reads the load keys of a scenario: `repeat`, `duration`, `rate`, `stages`, `max_in_flight`.
fn load_spec(r: &RawScenario) -> Result<LoadSpec, String> {
    let name = &r.name;
    let err = |msg: &str| Err(format!("scenario `{name}`: {msg}"));
    if let Some(c) = &r.capacity {
        if r.repeat.is_some() || r.duration.is_some() || r.rate.is_some() || r.stages.is_some() {
            return err(
                "`capacity` chooses its own rates: remove `repeat`, `duration`, `rate` and `stages`",
            );
        }
        if let Err(e) = c.check() {
            return err(&e);
        }
        return Ok(LoadSpec::Capacity {
            spec: c.clone(),
            max_in_flight: r.max_in_flight,
        });
    }
    if r.max_in_flight.is_some()
        && r.capacity.is_none()
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
