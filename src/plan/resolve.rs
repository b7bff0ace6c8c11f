//! From the file's mirror to the plan the runner executes: defaults applied, names typed, URLs
//! split into absolute ones and paths waiting for the base, and the cell list expanded.
//!
//! Input: [`spec::PlanSpec`]. Output: [`Plan`]. Must not see YAML or do I/O.

use std::collections::BTreeMap;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::capacity::{self, CapacitySearch, Slo};
use super::locate::Path;
use super::requests::{self, HttpWorkload, Mix};
use super::spec::{self, BaseSpec, CpuSpec, LoadSpec, PlanSpec, WorkloadSpec};
use super::threshold::{self, Threshold};
use super::unset::Unset;
use super::validity::Validity;

pub use super::model::Model;

/// The timeout of one operation when the plan sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// `name` made safe as one folder name (no separators, no dots alone).
    pub slug: String,
    pub description: Option<String>,
    pub file: PathBuf,
    /// The plan text as written (variables not substituted), for the report.
    pub source: String,
    pub base: Base,
    pub scenarios: Vec<Scenario>,
    pub baseline: BaselineSettings,
    /// How many times every cell runs, interleaved: the rounds of a cell give its figures as a
    /// median with a spread.
    pub rounds: NonZeroUsize,
    /// The plan's `validity` actions (a scenario's own are in [`Scenario::validity`]).
    pub validity: Validity,
    /// `before:` and `after:` steps, once per run (per shard), as flows of one iteration.
    pub before: Option<Box<HttpWorkload>>,
    pub after: Option<Box<HttpWorkload>>,
    /// The timeout of each `before:` and `after:` request: `defaults.timeout`.
    pub defaults_timeout: Duration,
    /// Load values that came from the environment or `--set` (never a request's text).
    pub effective: Vec<super::effective::Effective>,
    /// Scenario groups, in the order of their first member: scenarios that run together.
    pub groups: Vec<Group>,
}

/// Scenarios that run at the same time (`group: NAME`): one host model, one clock, each member
/// with its own load and start offset. Members agree on their models and the length of their
/// concurrency sweeps, so that their cells pair up position by position.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Indices into [`Plan::scenarios`], in plan order.
    pub members: Vec<usize>,
    /// The thresholds of the group's combined figures (`groups: { NAME: { thresholds } }`).
    pub thresholds: Vec<Threshold>,
}

/// How much worse than its baseline a cell may get before the run fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BaselineSettings {
    /// Relative change allowed, figure by figure.
    pub tolerance: Tolerances,
    /// Latency changes smaller than this never count: they are noise at any percentage.
    pub latency_floor: Duration,
    /// With a history folder: how many of the plan's last passing runs make the reference.
    pub runs: NonZeroUsize,
}

impl Default for BaselineSettings {
    /// What a plan that says nothing about its baseline gets (`loadplan compare` of two saved
    /// runs, which come without their plan).
    fn default() -> BaselineSettings {
        BaselineSettings {
            tolerance: Tolerances::all(DEFAULT_TOLERANCE),
            latency_floor: DEFAULT_LATENCY_FLOOR,
            runs: DEFAULT_BASELINE_RUNS,
        }
    }
}

/// Relative changes allowed (0.1 = 10%), one per compared figure; a request's percentiles and
/// error rate use the same figure's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerances {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    /// A fall of this fraction; always below 1.
    pub throughput: f64,
    pub error_rate: f64,
}

impl Tolerances {
    /// The same tolerance for every figure.
    pub fn all(t: f64) -> Tolerances {
        Tolerances {
            p50: t,
            p90: t,
            p99: t,
            throughput: t,
            error_rate: t,
        }
    }

    /// The tolerance of a check's metric (`p99`, `p95`, `p99{request=login}`,
    /// `throughput_per_s`, `error_rate{request=login}`).
    pub fn of(&self, metric: &str) -> f64 {
        let stat = metric.split('{').next().unwrap_or(metric);
        match stat {
            "p50" => self.p50,
            "p90" => self.p90,
            "p99" => self.p99,
            // A capacity is a throughput: the rate the target sustains within its SLO.
            "throughput_per_s" | "capacity_per_s" => self.throughput,
            // Another percentile (`p95`): the tolerance of the nearest named one below it.
            other => match super::threshold::percentile_of(other) {
                Some(Ok(ppm)) if ppm >= 990_000 => self.p99,
                Some(Ok(ppm)) if ppm >= 900_000 => self.p90,
                Some(Ok(_)) => self.p50,
                _ => self.error_rate,
            },
        }
    }
}

/// The tolerance of every figure the plan does not set.
pub const DEFAULT_TOLERANCE: f64 = 0.10;
/// Passing runs of a history that make the reference, unless the plan or `--baseline-runs`
/// says otherwise.
pub const DEFAULT_BASELINE_RUNS: NonZeroUsize = NonZeroUsize::new(5).expect("5 is not zero");
const DEFAULT_LATENCY_FLOOR: Duration = Duration::from_millis(1);

/// Where relative target URLs point.
#[derive(Debug, Clone, Serialize)]
pub enum Base {
    /// No base: every target is an absolute URL.
    None,
    /// Start the built-in target server as a child process (over TLS with a certificate made at
    /// start and trusted by this run only, for `builtin+https`).
    Builtin { tls: bool },
    /// An origin given in the plan; `display` is the raw text with `${VAR}` kept.
    Url { url: url::Url, display: String },
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub workload: Workload,
    pub load: Load,
    pub models: Vec<Model>,
    /// One entry, or several for a sweep.
    pub concurrency: Vec<NonZeroUsize>,
    /// Runtime threads for `async`, worker processes for `processes`; `None` = the model's default.
    pub workers: Option<NonZeroUsize>,
    pub timeout: Duration,
    /// Operations per cell run before measuring, excluded from statistics.
    pub warmup: u64,
    /// Time run before measuring (`warmup: 5s`), excluded from statistics.
    pub warmup_time: Duration,
    /// Defaults' thresholds followed by the scenario's own.
    pub thresholds: Vec<Threshold>,
    /// What each validity rule does to the run: the scenario's `validity`, then the plan's.
    pub validity: Validity,
    /// `group: NAME`: the group it runs with (see [`Group`]).
    pub group: Option<String>,
    /// `start: 2s`: when a group member starts, after the group's start.
    pub start: Duration,
}

#[derive(Debug, Clone)]
pub enum Workload {
    Http(Box<HttpWorkload>),
    Cpu(Kernel),
}

impl Workload {
    /// `io` for HTTP, `cpu` for kernels: what the workload is, before anything is measured.
    pub fn kind(&self) -> &'static str {
        match self {
            Workload::Http(_) => "io",
            Workload::Cpu(_) => "cpu",
        }
    }

    /// Operations in one pass over the workload (the number of targets, or 1 for a kernel).
    pub fn ops_per_pass(&self) -> u64 {
        match self {
            // A flow's iteration is one operation; a pass over targets is one per target.
            Workload::Http(h) => match h.mix {
                Mix::Flow(_) => 1,
                Mix::InOrder | Mix::Weighted(_) => h.requests.len() as u64,
            },
            Workload::Cpu(_) => 1,
        }
    }
}

/// A CPU kernel: one operation computes it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub enum Kernel {
    SumSquares { n: u64 },
    Sha256 { bytes: u64 },
    Spin { micros: u64 },
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Kernel::SumSquares { n } => write!(f, "sum_squares(n={n})"),
            Kernel::Sha256 { bytes } => write!(f, "sha256(bytes={bytes})"),
            Kernel::Spin { micros } => write!(
                f,
                "spin({})",
                humantime::format_duration(Duration::from_micros(*micros))
            ),
        }
    }
}

/// How much load a cell generates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Load {
    /// `repeat × ops_per_pass` operations in total, shared by the cell's users.
    Repeat(NonZeroU64),
    /// Every user loops until the time is up.
    Duration(Duration),
    /// Closed model with a changing number of users: (stage length, users at its end), ramping
    /// linearly from the previous stage's users (0 before the first).
    Users(Vec<(Duration, usize)>),
    /// Open model: arrivals on a schedule, latency measured from each arrival's intended start.
    Open {
        /// Arrivals per second at the start.
        start_rate: f64,
        /// (stage length, arrivals per second at its end), ramping linearly.
        stages: Vec<(Duration, f64)>,
        /// Operations outstanding at most; an arrival beyond it is dropped and counted.
        max_in_flight: NonZeroUsize,
    },
    /// A capacity search: open-model probes at rates the search chooses (`run/capacity.rs`).
    Capacity(CapacitySearch),
}

impl Load {
    /// The load as a plan would write it: `repeat: 80`, `duration: 30s`,
    /// `rate: 100/s for 10s`, `stages: 10s→50/s, 20s→200/s`, `stages: 10s→20 users`.
    pub fn describe(&self) -> String {
        let d = |d: &Duration| humantime::format_duration(*d).to_string();
        let rate = |r: f64| format!("{}/s", (r * 100.0).round() / 100.0);
        match self {
            Load::Capacity(c) => format!(
                "capacity: {} from {} to {}, hold {}, precision {}%",
                c.slo
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                rate(c.from),
                rate(c.to),
                d(&c.hold),
                (c.precision * 1000.0).round() / 10.0
            ),
            Load::Repeat(n) => format!("repeat: {n}"),
            Load::Duration(t) => format!("duration: {}", d(t)),
            Load::Users(stages) => format!(
                "stages: {}",
                stages
                    .iter()
                    .map(|(t, c)| format!("{}→{c} users", d(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Load::Open {
                start_rate,
                stages,
                max_in_flight,
            } => match stages.as_slice() {
                [(t, r)] if r == start_rate => {
                    format!(
                        "rate: {} for {} (max_in_flight {max_in_flight})",
                        rate(*r),
                        d(t)
                    )
                }
                _ => format!(
                    "rate from {}, stages: {} (max_in_flight {max_in_flight})",
                    rate(*start_rate),
                    stages
                        .iter()
                        .map(|(t, r)| format!("{}→{}", d(t), rate(*r)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }

    /// How long the measured phase is planned to last, when it is set by time.
    pub fn planned_time(&self) -> Option<Duration> {
        match self {
            Load::Repeat(_) => None,
            Load::Duration(d) => Some(*d),
            Load::Users(stages) => Some(stages.iter().map(|s| s.0).sum()),
            Load::Open { stages, .. } => Some(stages.iter().map(|s| s.0).sum()),
            // Each probe's own: the search decides how many.
            Load::Capacity(_) => None,
        }
    }

    /// The users a cell of this load needs at most (the whole sweep value for closed loads).
    fn users(&self, concurrency: NonZeroUsize) -> NonZeroUsize {
        match self {
            Load::Users(stages) => stages
                .iter()
                .map(|s| s.1)
                .max()
                .and_then(NonZeroUsize::new)
                .unwrap_or(NonZeroUsize::MIN),
            // Open: the users are the connections that carry the arrivals; `max_in_flight`
            // separately caps what may be outstanding (queued or running).
            Load::Open { .. } | Load::Capacity(_) | Load::Repeat(_) | Load::Duration(_) => {
                concurrency
            }
        }
    }
}

/// In-flight operations an open scenario allows when the plan does not say.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;

/// One scenario × model × concurrency: what the runner executes and the report compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub scenario: usize,
    pub model: Model,
    pub concurrency: NonZeroUsize,
    /// Runtime threads (`async`), worker processes (`processes`), 1 for `sequential`, C for
    /// `threads`.
    pub workers: NonZeroUsize,
}

impl Plan {
    /// Every cell in plan order: scenarios, then models as listed, then concurrencies as listed.
    /// `sequential` runs once per scenario with concurrency 1, whatever the sweep says.
    pub fn cells(&self, cores: usize) -> Vec<Cell> {
        let mut out = Vec::new();
        for (si, s) in self.scenarios.iter().enumerate() {
            let sweep: Vec<NonZeroUsize> = s.concurrency.iter().map(|c| s.load.users(*c)).collect();
            for &model in &s.models {
                for c in model.concurrencies(&sweep) {
                    out.push(Cell {
                        scenario: si,
                        model,
                        concurrency: c,
                        workers: model.workers(c, s.workers, cores),
                    });
                }
            }
        }
        out
    }

    /// A hash of everything the plan sends or checks: the SHA-256 of [`Plan::part_digests`]
    /// (each part's name and digest) and loadplan's version. Shard results merge only when it
    /// matches. Substituted values, data rows and key material go into it, and never anywhere
    /// else.
    pub fn hash(&self) -> String {
        Plan::hash_of(&self.part_digests())
    }

    /// [`Plan::hash`] from parts already digested (they cost a key stretch each).
    pub fn hash_of(parts: &BTreeMap<String, String>) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for (part, digest) in parts {
            h.update(b"\n");
            h.update(part.as_bytes());
            h.update(b"\0");
            h.update(digest.as_bytes());
        }
        hex(&h.finalize())
    }

    /// Every part of the plan that is sent or checked, named as a user finds it
    /// (``scenario `shop`, request `login`, header `authorization` ``), with the SHA-256 of its
    /// resolved value serialised as JSON (PBKDF2-HMAC-SHA256 for what a request carries). Shard files carry this map so that a refused merge can
    /// name the part that differs; the values themselves never leave the process.
    pub fn part_digests(&self) -> BTreeMap<String, String> {
        let mut parts = BTreeMap::new();
        // What a request carries (URL, headers, body, data rows, TLS keys) may hold a
        // substituted secret: those parts are stretched, so that a short token cannot be
        // guessed back from a shard file.
        let mut carried = Vec::new();
        let mut put = |name: String, value: serde_json::Value| {
            parts.insert(name, digest(&value));
        };
        put("plan name".into(), json(&self.name));
        put("base".into(), json(&self.base));
        put("baseline".into(), json(&self.baseline));
        put("rounds".into(), json(&self.rounds));
        for s in &self.scenarios {
            let at = format!("scenario `{}`", s.name);
            let thresholds: Vec<&str> = s.thresholds.iter().map(|t| t.text.as_str()).collect();
            put(format!("{at}, description"), json(&s.description));
            put(format!("{at}, load"), json(&s.load));
            put(format!("{at}, models"), json(&s.models));
            put(format!("{at}, concurrency"), json(&s.concurrency));
            put(format!("{at}, workers"), json(&s.workers));
            put(format!("{at}, timeout"), json(&s.timeout));
            put(format!("{at}, warmup"), json(&(s.warmup, s.warmup_time)));
            // A threshold is parsed from its text alone.
            put(format!("{at}, thresholds"), json(&thresholds));
            match &s.workload {
                Workload::Cpu(k) => put(format!("{at}, kernel"), json(k)),
                Workload::Http(h) => {
                    for (part, value) in http_parts(h) {
                        carried.push((format!("{at}, {part}"), value));
                    }
                }
            }
        }
        for (name, value) in carried {
            let d = stretched(&self.name, &name, &value);
            parts.insert(name, d);
        }
        parts
    }
    /// Total measured operations of a cell, when the load is a count.
    pub fn cell_operations(&self, cell: &Cell) -> Option<u64> {
        let s = &self.scenarios[cell.scenario];
        match s.load {
            Load::Repeat(n) => Some(n.get().saturating_mul(s.workload.ops_per_pass())),
            Load::Duration(_) | Load::Users(_) | Load::Open { .. } | Load::Capacity(_) => None,
        }
    }
}

/// A value as JSON, for [`Plan::part_digests`]; the resolved types serialise whole (they travel
/// to worker processes that way), unlike their `Debug`, which hides values.
fn json(value: &impl Serialize) -> serde_json::Value {
    // Only a non-finite float fails, and validation refuses those; it would hash as `null`.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn digest(value: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(value.to_string().as_bytes()))
}

/// Key stretching rounds for the parts that may hold a secret: PBKDF2-HMAC-SHA256, as password
/// storage uses it, so each guess at a secret costs this many hashes. About 5 ms a part in a
/// release build; only shard runs and merges compute digests.
const STRETCH_ROUNDS: u32 = 20_000;

/// A part's digest through PBKDF2-HMAC-SHA256, salted with the plan's and the part's names:
/// shards of one plan agree, a guess at a secret in it costs [`STRETCH_ROUNDS`] hashes, and no
/// table of precomputed digests fits two plans.
fn stretched(plan: &str, part: &str, value: &serde_json::Value) -> String {
    let salt = format!("loadplan plan part\0{plan}\0{part}");
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        value.to_string().as_bytes(),
        salt.as_bytes(),
        STRETCH_ROUNDS,
        &mut out,
    );
    hex(&out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP workload's parts: each request by its name (a header by its name, then the URL,
/// method, body and checks), then the rest (mix and flow steps, data file, HTTP and TLS
/// settings, ...) by key.
fn http_parts(h: &HttpWorkload) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    let serde_json::Value::Object(whole) = json(h) else {
        return vec![("workload".into(), json(h))];
    };
    for (key, value) in whole {
        match (key.as_str(), value) {
            ("requests", serde_json::Value::Array(requests)) => {
                for (i, r) in requests.into_iter().enumerate() {
                    out.extend(request_parts(&request_name(h, i), r));
                }
            }
            ("data", value) => {
                let file = h.data.as_ref().map_or("none", |d| d.file.as_str());
                out.push((format!("data file `{file}`"), value));
            }
            (key, value) => out.push((key.replace('_', " "), value)),
        }
    }
    out
}

/// ``request `name` ``: its statistics name, numbered when several requests share it.
fn request_name(h: &HttpWorkload, i: usize) -> String {
    let stats = h.requests.get(i).map_or(usize::MAX, |r| r.stats);
    let name = h.names.get(stats).map_or("?", String::as_str);
    let same: Vec<usize> = (0..h.requests.len())
        .filter(|j| h.requests[*j].stats == stats)
        .collect();
    match same.iter().position(|j| *j == i) {
        Some(n) if same.len() > 1 => format!("request `{name}` #{}", n + 1),
        _ => format!("request `{name}`"),
    }
}

fn request_parts(at: &str, request: serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let serde_json::Value::Object(fields) = request else {
        return vec![(at.to_string(), request)];
    };
    let mut out = Vec::new();
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("headers", serde_json::Value::Array(headers)) => {
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for header in headers {
                    let name = header
                        .get(0)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("?")
                        .to_ascii_lowercase();
                    let n = seen.entry(name.clone()).or_default();
                    *n += 1;
                    let part = if *n == 1 {
                        format!("{at}, header `{name}`")
                    } else {
                        format!("{at}, header `{name}` #{n}")
                    };
                    out.push((part, header));
                }
            }
            (key, value) => out.push((format!("{at}, {}", key.replace('_', " ")), value)),
        }
    }
    out
}

/// A check across keys that failed, with the path of the value it concerns.
pub(super) struct ResolveError {
    pub message: String,
    pub at: Path,
    /// Set when the error is variables no source provides: `plan::parse` then goes on looking
    /// for the others, so that one error names them all.
    pub unset: Option<Box<Unset>>,
}

impl ResolveError {
    pub(super) fn at(at: Path, message: impl Into<String>) -> ResolveError {
        ResolveError {
            message: message.into(),
            at,
            unset: None,
        }
    }

    /// Variables of the value at `at` that nothing provides.
    pub(super) fn unset(at: Path, unset: Unset) -> ResolveError {
        ResolveError {
            message: unset.message(),
            at,
            unset: Some(Box::new(unset)),
        }
    }
}

/// What resolving needs beside the file's mirror: where `${NAME}` values come from.
pub(super) struct Context<'a> {
    pub file: &'a std::path::Path,
    pub source: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// False for a plan re-read from saved results: files it names (TLS) are not read.
    pub read_files: bool,
}

impl Context<'_> {
    /// The template's text with its variables substituted; a missing one is an error at `at`.
    fn expand(&self, t: &spec::Template, at: &Path) -> Result<String, ResolveError> {
        t.expand(self.env).map_err(|names| {
            let unset = Unset {
                names,
                note: String::new(),
                hint: String::new(),
                columns: None,
            };
            ResolveError::unset(at.clone(), unset)
        })
    }
}

/// The path of a key that a scenario may set itself or inherit from `defaults`.
fn inherited(at: &Path, own: bool, key: &str) -> Path {
    if own {
        at.key(key)
    } else {
        Path::root().key("defaults").key(key)
    }
}

pub(super) fn resolve(spec: PlanSpec, ctx: &Context) -> Result<Plan, ResolveError> {
    let base = match spec.base {
        None => Base::None,
        Some(BaseSpec::Builtin) => Base::Builtin { tls: false },
        Some(BaseSpec::BuiltinTls) => Base::Builtin { tls: true },
        Some(BaseSpec::Url(t)) => {
            let at = Path::root().key("base");
            let value = ctx.expand(&t, &at)?;
            let url =
                spec::absolute_http_url(&value, &t.raw).map_err(|e| ResolveError::at(at, e))?;
            Base::Url {
                url,
                display: t.raw,
            }
        }
    };
    let has_base = !matches!(base, Base::None);
    let d = &spec.defaults;
    let defaults_http = spec::HttpKeys {
        tls: d.tls.clone(),
        http: d.http,
        connections: d.connections,
        connection: d.connection,
        retry: d.retry,
    };
    let rounds = match (spec.rounds, d.rounds) {
        (Some(_), Some(_)) => {
            return Err(ResolveError::at(
                Path::root().key("defaults").key("rounds"),
                "`rounds` is set both at the top level and in `defaults`: set it once",
            ));
        }
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => NonZeroUsize::MIN,
    };
    // `before:` and `after:`: flows of the plan's defaults; `before`'s captures are variables
    // of every scenario and of `after`.
    let run_flow = |key: &str,
                    steps: Option<Vec<spec::StepSpec>>,
                    run_vars: &[String]|
     -> Result<Option<Box<HttpWorkload>>, ResolveError> {
        let Some(steps) = steps else { return Ok(None) };
        let at = Path::root();
        if steps.is_empty() {
            return Err(ResolveError::at(
                at.key(key),
                format!("`{key}` has no step"),
            ));
        }
        let parts = requests::Parts {
            at: &at,
            expect: d.expect.as_ref(),
            expect_at: Path::root().key("defaults").key("expect"),
            scenario_headers: None,
            defaults_headers: d.headers.as_ref(),
            data: None,
            has_base,
            settings: super::http::resolve(ctx, &spec::HttpKeys::default(), &defaults_http, &at)?,
            cookies: true,
            seed: None,
            run_vars,
        };
        Ok(Some(Box::new(requests::flow(
            ctx,
            Vec::new(),
            (key, steps),
            parts,
        )?)))
    };
    let defaults_timeout = d
        .timeout
        .map(|t| t.0)
        .filter(|t| !t.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT);
    let before = run_flow("before", spec.before, &[])?;
    let run_vars: Vec<String> = before.as_ref().map_or_else(Vec::new, |b| b.capture_names());
    let after = run_flow("after", spec.after, &run_vars)?;
    let mut scenarios = Vec::with_capacity(spec.scenarios.0.len());
    for (si, s) in spec.scenarios.0.into_iter().enumerate() {
        let at = Path::root().key("scenarios").index(si);
        let parts = || -> Result<requests::Parts, ResolveError> {
            Ok(requests::Parts {
                at: &at,
                expect: s.expect.as_ref().or(d.expect.as_ref()),
                expect_at: inherited(&at, s.expect.is_some(), "expect"),
                scenario_headers: s.headers.as_ref(),
                defaults_headers: d.headers.as_ref(),
                data: s.data.as_ref(),
                has_base,
                settings: super::http::resolve(ctx, &s.http, &defaults_http, &at)?,
                cookies: s.cookies,
                seed: s.seed,
                run_vars: &run_vars,
            })
        };
        let workload = match s.workload {
            WorkloadSpec::Targets(targets) => {
                Workload::Http(Box::new(requests::targets(ctx, targets, parts()?)?))
            }
            WorkloadSpec::Flow(steps) => Workload::Http(Box::new(requests::flow(
                ctx,
                s.setup.unwrap_or_default(),
                ("flow", steps),
                parts()?,
            )?)),
            WorkloadSpec::Cpu(c) => Workload::Cpu(match c {
                CpuSpec::SumSquares { n } => Kernel::SumSquares { n },
                CpuSpec::Sha256 { bytes } => Kernel::Sha256 { bytes },
                CpuSpec::Spin { duration } => Kernel::Spin {
                    micros: crate::units::micros_of(duration),
                },
            }),
        };
        let load = match s.load {
            LoadSpec::Repeat(n) => Load::Repeat(n),
            LoadSpec::Duration(d) => Load::Duration(d),
            LoadSpec::UserStages(stages) => Load::Users(stages),
            LoadSpec::Open {
                start,
                stages,
                max_in_flight,
            } => Load::Open {
                start_rate: start,
                stages,
                max_in_flight: max_in_flight
                    .or(NonZeroUsize::new(DEFAULT_MAX_IN_FLIGHT))
                    .unwrap_or(NonZeroUsize::MIN),
            },
            LoadSpec::Capacity {
                spec,
                max_in_flight,
            } => Load::Capacity(CapacitySearch {
                // Each objective was checked as the plan was read.
                slo: spec
                    .slo
                    .iter()
                    .filter_map(|t| Slo::from_threshold(t).ok())
                    .collect(),
                from: spec.from.0,
                to: spec.to.0,
                hold: spec.hold.map_or(capacity::DEFAULT_HOLD, |h| h.0),
                precision: spec.precision.map_or(capacity::DEFAULT_PRECISION, |p| p.0),
                max_in_flight: max_in_flight
                    .or(NonZeroUsize::new(DEFAULT_MAX_IN_FLIGHT))
                    .unwrap_or(NonZeroUsize::MIN),
            }),
        };
        let models_at = inherited(&at, s.models.is_some(), "models");
        let mut models = s
            .models
            .or_else(|| d.models.clone())
            .unwrap_or_else(|| vec![Model::DEFAULT]);
        dedup_in_order(&mut models);
        if models.is_empty() {
            return Err(ResolveError::at(
                models_at,
                format!("scenario `{}`: `models` is empty", s.name),
            ));
        }
        // Defaults' thresholds first, then the scenario's own, each with where it was written.
        let written = d
            .thresholds
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, t)| (t, Path::root().key("defaults").key("thresholds").index(i)))
            .chain(
                s.thresholds
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, t)| (t, at.key("thresholds").index(i))),
            );
        let mut thresholds = Vec::new();
        for (t, t_at) in written {
            let needs = match t.metric {
                threshold::Metric::Speedup(m) => vec![m, Model::BASELINE],
                _ => t.model.into_iter().collect(),
            };
            if let Some(name) = &t.request {
                let names = match &workload {
                    Workload::Http(h) => h.names.as_slice(),
                    Workload::Cpu(_) => &[],
                };
                if !names.contains(name) {
                    return Err(ResolveError::at(
                        t_at,
                        format!(
                            "threshold `{t}`: scenario `{}` has no request named `{name}` (its requests: {})",
                            s.name,
                            names.join(", ")
                        ),
                    ));
                }
            }
            if let Some(missing) = needs.iter().find(|m| !models.contains(m)) {
                return Err(ResolveError::at(
                    t_at,
                    format!(
                        "threshold `{t}` of scenario `{}` needs the `{missing}` model, which the scenario does not run",
                        s.name
                    ),
                ));
            }
            thresholds.push(t.clone());
        }
        let timeout_at = inherited(&at, s.timeout.is_some(), "timeout");
        let timeout = s.timeout.or(d.timeout).map_or(DEFAULT_TIMEOUT, |t| t.0);
        if timeout.is_zero() {
            return Err(ResolveError::at(
                timeout_at,
                format!("scenario `{}`: `timeout` must be above zero", s.name),
            ));
        }
        scenarios.push(Scenario {
            name: s.name,
            description: s.description,
            workload,
            load,
            models,
            concurrency: s
                .concurrency
                .or_else(|| d.concurrency.clone())
                .map_or_else(|| vec![NonZeroUsize::MIN], |c| c.0),
            workers: s.workers.or(d.workers),
            timeout,
            warmup: s
                .warmup
                .or(match d.warmup {
                    Some(spec::WarmupSpec::Count(n)) => Some(n),
                    _ => None,
                })
                .unwrap_or(0),
            warmup_time: if s.warmup_time.is_zero() {
                match (s.warmup, d.warmup) {
                    (None, Some(spec::WarmupSpec::Time(t))) => t,
                    _ => Duration::ZERO,
                }
            } else {
                s.warmup_time
            },
            thresholds,
            validity: Validity::new(spec.validity, s.validity),
            group: s.group,
            start: s.start.unwrap_or_default(),
        });
    }
    let groups = groups(&scenarios, spec.groups.unwrap_or_default())?;
    Ok(Plan {
        groups,
        before,
        after,
        defaults_timeout,
        slug: slug(&spec.name.0),
        name: spec.name.0,
        description: spec.description,
        file: ctx.file.to_path_buf(),
        source: ctx.source.to_string(),
        base,
        scenarios,
        baseline: BaselineSettings {
            tolerance: tolerances(spec.baseline.as_ref().and_then(|b| b.tolerance)),
            runs: spec
                .baseline
                .as_ref()
                .and_then(|b| b.runs)
                .unwrap_or(DEFAULT_BASELINE_RUNS),
            latency_floor: spec
                .baseline
                .as_ref()
                .and_then(|b| b.latency_floor)
                .map_or(DEFAULT_LATENCY_FLOOR, |d| d.0),
        },
        rounds,
        validity: Validity::new(spec.validity, None),
        effective: Vec::new(),
    })
}

/// The plan's groups from its scenarios' `group:` keys and the top-level `groups:` settings:
/// every member on the same models with sweeps of the same length, every `groups:` entry named
/// by some scenario, and its thresholds about the group's combined figures only.
fn groups(
    scenarios: &[Scenario],
    mut settings: BTreeMap<String, spec::GroupSpec>,
) -> Result<Vec<Group>, ResolveError> {
    let mut out: Vec<Group> = Vec::new();
    for (si, s) in scenarios.iter().enumerate() {
        let Some(name) = &s.group else { continue };
        let at = Path::root().key("scenarios").index(si);
        match out.iter_mut().find(|g| g.name == *name) {
            Some(g) => {
                let first = &scenarios[g.members[0]];
                if first.models != s.models {
                    return Err(ResolveError::at(
                        at.key("models"),
                        format!(
                            "scenario `{}` runs on {} but `{}`, also in group `{name}`, on {}: the members of a group run on the same models",
                            s.name,
                            model_list(&s.models),
                            first.name,
                            model_list(&first.models)
                        ),
                    ));
                }
                if first.concurrency.len() != s.concurrency.len() {
                    return Err(ResolveError::at(
                        at.key("concurrency"),
                        format!(
                            "scenario `{}` sweeps {} concurrencies but `{}`, also in group `{name}`, {}: the members' cells run together position by position",
                            s.name,
                            s.concurrency.len(),
                            first.name,
                            first.concurrency.len()
                        ),
                    ));
                }
                g.members.push(si);
            }
            None => out.push(Group {
                name: name.clone(),
                members: vec![si],
                thresholds: Vec::new(),
            }),
        }
    }
    let known: Vec<String> = out.iter().map(|g| g.name.clone()).collect();
    for g in &mut out {
        let Some(spec) = settings.remove(&g.name) else {
            continue;
        };
        for (i, t) in spec.thresholds.into_iter().flatten().enumerate() {
            let t_at = Path::root()
                .key("groups")
                .key(&g.name)
                .key("thresholds")
                .index(i);
            if t.request.is_some() || matches!(t.metric, threshold::Metric::Speedup(_)) {
                return Err(ResolveError::at(
                    t_at,
                    format!(
                        "threshold `{t}` of group `{}`: a group's thresholds are about its combined figures; name requests and speedups in a member's own `thresholds`",
                        g.name
                    ),
                ));
            }
            g.thresholds.push(t);
        }
    }
    if let Some(name) = settings.into_keys().next() {
        return Err(ResolveError::at(
            Path::root().key("groups").key(&name),
            format!(
                "no scenario is in group `{name}` (give members `group: {name}`){}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; the plan's groups: {}", known.join(", "))
                }
            ),
        ));
    }
    Ok(out)
}

fn model_list(models: &[Model]) -> String {
    let names: Vec<String> = models.iter().map(|m| format!("`{m}`")).collect();
    names.join(", ")
}

/// The plan's tolerances, the default where it sets none.
fn tolerances(spec: Option<spec::ToleranceSpec>) -> Tolerances {
    let d = DEFAULT_TOLERANCE;
    match spec {
        None => Tolerances::all(d),
        Some(spec::ToleranceSpec::All(p)) => Tolerances::all(p.0),
        Some(spec::ToleranceSpec::Each(m)) => Tolerances {
            p50: m.p50.map_or(d, |p| p.0),
            p90: m.p90.map_or(d, |p| p.0),
            p99: m.p99.map_or(d, |p| p.0),
            throughput: m.throughput.map_or(d, |p| p.0),
            error_rate: m.error_rate.map_or(d, |p| p.0),
        },
    }
}

fn dedup_in_order(models: &mut Vec<Model>) {
    let mut seen = Vec::new();
    models.retain(|m| {
        let new = !seen.contains(m);
        seen.push(*m);
        new
    });
}

/// A folder name from a plan name: letters, digits, `-`, `_` and `.` kept, anything else `-`;
/// never `.` or `..`, so a plan named `../../etc` stays inside the output folder.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('.').to_string();
    if s.is_empty() { "plan".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Groups from `group:` keys: members in plan order, their settings' thresholds; members
    /// that disagree on models or sweep lengths, settings no scenario names and per-request
    /// group thresholds are refused with the key to fix.
    #[test]
    fn groups_gather_their_members_and_refuse_what_cannot_run_together() {
        let scenario = |name: &str, extra: &str| {
            format!("  - name: {name}\n    targets: [/hello]\n    duration: 1s\n{extra}")
        };
        let plan = |groups: &str, scenarios: &[String]| {
            let text = format!(
                "version: 1\nname: t\nbase: builtin\n{groups}scenarios:\n{}",
                scenarios.concat()
            );
            super::super::parse(std::path::Path::new("p.yaml"), &text)
        };
        let ok = plan(
            "groups:\n  shop:\n    thresholds: [\"p95 < 200ms\"]\n",
            &[
                scenario("a", "    group: shop\n"),
                scenario("lone", ""),
                scenario("b", "    group: shop\n    start: 2s\n"),
            ],
        )
        .expect("valid");
        assert_eq!(ok.groups.len(), 1);
        assert_eq!(ok.groups[0].members, vec![0, 2]);
        assert_eq!(ok.groups[0].thresholds.len(), 1);
        assert_eq!(ok.scenarios[2].start, Duration::from_secs(2));
        assert_eq!(ok.scenarios[1].group, None);
        let cases = [
            (
                plan(
                    "",
                    &[
                        scenario("a", "    group: g\n    models: [async]\n"),
                        scenario("b", "    group: g\n    models: [threads]\n"),
                    ],
                ),
                "the members of a group run on the same models",
            ),
            (
                plan(
                    "",
                    &[
                        scenario("a", "    group: g\n    concurrency: [1, 2]\n"),
                        scenario("b", "    group: g\n"),
                    ],
                ),
                "run together position by position",
            ),
            (
                plan("groups:\n  h: {}\n", &[scenario("a", "    group: g\n")]),
                "no scenario is in group `h`",
            ),
            (
                plan(
                    "groups:\n  g:\n    thresholds: [\"p99{request=x} < 1s\"]\n",
                    &[scenario("a", "    group: g\n")],
                ),
                "name requests and speedups in a member's own `thresholds`",
            ),
            (
                plan("", &[scenario("a", "    start: 1s\n")]),
                "add `group: NAME`",
            ),
        ];
        for (got, want) in cases {
            let e = got.expect_err(want);
            assert!(e.render().contains(want), "{}", e.render());
        }
    }

    /// Two plans that differ in one thing sent or checked: their hashes differ, and the one
    /// part that differs is named; a value never appears in a part's name.
    #[test]
    fn the_hash_covers_what_is_sent_and_names_the_part_that_differs() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, text) in [("a.csv", "user\nann\n"), ("b.csv", "user\nbob\n")] {
            std::fs::write(dir.path().join(file), text).expect("csv");
        }
        let plan = |token: &str, body: &str, csv: &str, check: &str| {
            let text = format!(
                "version: 1\nname: t\nbase: builtin\nscenarios:\n  - name: shop\n    data: {{ file: {csv} }}\n    flow:\n      - name: login\n        request: {{ url: /login, method: POST, body: \"{body} ${{user}}\", headers: {{ Authorization: \"Bearer ${{TOKEN}}\" }} }}\n        expect: {{ body_contains: {check} }}\n    repeat: 2\n    models: [sequential]\n"
            );
            let token = token.to_string();
            let env = move |name: &str| (name == "TOKEN").then(|| token.clone());
            super::super::parse_with(&dir.path().join("plan.yaml"), &text, &env).expect("valid")
        };
        let base = plan("s3cret", "hello", "a.csv", "ok");
        let cases = [
            (
                plan("other", "hello", "a.csv", "ok"),
                "scenario `shop`, request `login`, header `authorization`",
            ),
            (
                plan("s3cret", "bye", "a.csv", "ok"),
                "scenario `shop`, request `login`, body",
            ),
            (
                plan("s3cret", "hello", "b.csv", "ok"),
                "scenario `shop`, data file `b.csv`",
            ),
            (
                plan("s3cret", "hello", "a.csv", "fine"),
                "scenario `shop`, request `login`, check",
            ),
        ];
        let (mine, theirs) = (base.part_digests(), plan("s3cret", "hello", "a.csv", "ok"));
        assert_eq!(base.hash(), theirs.hash(), "the same plan, the same hash");
        for (other, want) in cases {
            assert_ne!(base.hash(), other.hash(), "{want}");
            let parts = other.part_digests();
            let differ: Vec<&String> = parts
                .keys()
                .chain(mine.keys())
                .filter(|k| parts.get(*k) != mine.get(*k))
                .collect();
            assert!(differ.iter().any(|k| *k == want), "{want}: {differ:?}");
            assert!(
                parts
                    .keys()
                    .all(|k| !k.contains("s3cret") && !k.contains("other")),
                "{parts:?}"
            );
        }
    }

    #[test]
    fn baseline_tolerances_are_one_for_all_or_one_per_figure() {
        let plan = |baseline: &str| {
            let text = format!(
                "version: 1\nname: t\nbase: builtin\n{baseline}\nscenarios:\n  - name: a\n    targets: [/x]\n    repeat: 1\n    models: [async]\n"
            );
            crate::plan::parse(std::path::Path::new("t.yaml"), &text).map(|p| p.baseline)
        };
        // (the plan's baseline key, p50, p99, throughput, error rate, runs)
        let cases = [
            ("", 0.1, 0.1, 0.1, 0.1, 5),
            ("baseline: { tolerance: 25% }", 0.25, 0.25, 0.25, 0.25, 5),
            (
                "baseline: { tolerance: { p99: 20%, throughput: 5% }, runs: 3 }",
                0.1,
                0.2,
                0.05,
                0.1,
                3,
            ),
            (
                "baseline: { tolerance: { error_rate: 300% } }",
                0.1,
                0.1,
                0.1,
                3.0,
                5,
            ),
        ];
        for (key, p50, p99, throughput, errors, runs) in cases {
            let b = plan(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            let t = b.tolerance;
            assert_eq!(
                (t.p50, t.p99, t.throughput, t.error_rate, b.runs.get()),
                (p50, p99, throughput, errors, runs),
                "{key}"
            );
            assert_eq!(t.of("p99{request=login}"), p99);
            assert_eq!(t.of("throughput_per_s"), throughput);
        }
        for bad in [
            "baseline: { tolerance: 10 }",
            "baseline: { tolerance: 100% }",
            "baseline: { tolerance: { throughput: 120% } }",
            "baseline: { tolerance: { p95: 10% } }",
            "baseline: { runs: 0 }",
        ] {
            assert!(plan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_stay_inside_the_output_folder() {
        for (name, want) in [
            ("concurrency-basics", "concurrency-basics"),
            ("../../etc", "-..-etc"),
            ("..", "plan"),
            ("a b/c", "a-b-c"),
            ("nightly.v2", "nightly.v2"),
        ] {
            assert_eq!(slug(name), want, "{name}");
            assert!(!slug(name).contains('/'));
        }
    }

    #[test]
    fn cells_expand_models_and_sweeps() {
        let text = "version: 1\nname: t\nbase: builtin\nscenarios:\n  - name: a\n    targets: [/x, /y]\n    repeat: 5\n    models: [sequential, threads, async, processes]\n    concurrency: [1, 4]\n    workers: 2\n";
        let plan = super::super::parse(std::path::Path::new("t.yaml"), text).expect("valid");
        let cells = plan.cells(2);
        let got: Vec<(Model, usize, usize)> = cells
            .iter()
            .map(|c| (c.model, c.concurrency.get(), c.workers.get()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Model::Sequential, 1, 1),
                (Model::Threads, 1, 1),
                (Model::Threads, 4, 4),
                (Model::Async, 1, 2),
                (Model::Async, 4, 2),
                (Model::Processes, 1, 1),
                (Model::Processes, 4, 2),
            ]
        );
        assert_eq!(plan.cell_operations(&cells[0]), Some(10));
    }

    #[test]
    fn rounds_are_set_once_at_the_top_or_in_defaults() {
        let body = "scenarios:\n  - name: a\n    targets: [/x]\n    repeat: 1\n";
        // (extra keys, rounds or the error's words)
        let cases = [
            ("", Ok(1)),
            ("rounds: 3\n", Ok(3)),
            ("defaults: { rounds: 5 }\n", Ok(5)),
            ("rounds: 3\ndefaults: { rounds: 5 }\n", Err("set it once")),
            ("rounds: 0\n", Err("a whole number above 0")),
        ];
        for (extra, want) in cases {
            let text = format!("version: 1\nname: t\nbase: builtin\n{extra}{body}");
            let got = super::super::parse(std::path::Path::new("t.yaml"), &text);
            match (got, want) {
                (Ok(p), Ok(n)) => assert_eq!(p.rounds.get(), n, "{extra}"),
                (Err(e), Err(words)) => assert!(e.message.contains(words), "{extra}: {e}"),
                (got, want) => panic!("{extra}: got {:?}, want {want:?}", got.map(|p| p.rounds)),
            }
        }
    }
}
