//! The summary: the JSON contract every consumer of `summary.json` relies on.
//!
//! Field names here are API: renaming one is a breaking change with a new [`SCHEMA_VERSION`].
//! Units are in the names (`_us` microseconds, `_seconds`, `_bytes`, `_per_s`). New fields may be
//! added freely. This file only declares types; `stats/mod.rs` fills them in.

use std::collections::BTreeMap;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::recorder::TimelinePoint;
use crate::plan::Model;
pub use crate::plan::validity::ValidityAction;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub schema_version: u32,
    pub plan: PlanInfo,
    /// The run folder's name under `<out>/<plan>/`.
    pub run_id: String,
    /// RFC 3339, UTC, when the first cell started.
    pub started_at: Timestamp,
    /// RFC 3339, UTC, when the last cell ended.
    pub finished_at: Timestamp,
    /// Wall time of the whole run, built-in server start-up included.
    pub duration_seconds: f64,
    pub loadplan_version: String,
    pub host: Host,
    /// CI metadata from the usual environment variables, when the run happened in CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiInfo>,
    pub verdict: Verdict,
    pub scenarios: Vec<ScenarioSummary>,
    /// Scenario groups (`group: NAME`): each group's combined figures beside its members' own.
    /// Absent when the plan has no group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSummary>,
    /// The plan's `before:` and `after:` steps, once per run (per shard: merged shards add
    /// theirs): their requests' own statistics, counted in no cell. Absent without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub once: Vec<OnceSummary>,
    /// Present when the run was compared with a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    /// Why the run did not measure what it asked (`gate/validity.rs`), each rule that broke with
    /// its measured value, its bound, the reason and the fix; a rule the plan set to `warn` is
    /// listed with `action: warn` and leaves the verdict alone. Absent when every rule held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validity: Vec<ValidityFinding>,
    /// Live export (`--export`): how each endpoint's pushes went; absent without export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export: Vec<ExportSummary>,
}

/// One `--export` endpoint. An interval is one push's worth of samples (every cell's series at
/// one moment); `intervals = sent + dropped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExportSummary {
    /// `prometheus` (remote write 1.0).
    pub kind: String,
    /// The endpoint, its credentials and query string left out.
    pub url: String,
    /// Intervals made for this endpoint.
    pub intervals: u64,
    /// Intervals the endpoint accepted.
    pub sent: u64,
    /// Failed attempts that were tried again (refused, timed out, 5xx, 429).
    pub retried: u64,
    /// Intervals lost: the oldest dropped when too many waited, refused by the endpoint (4xx),
    /// or still unsent at the end.
    pub dropped: u64,
    /// Why the last failed attempt failed (`status 500`, `connect: Connection refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanInfo {
    pub name: String,
    /// The plan file's path as given on the command line.
    pub file: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The plan text as written: `${VAR}` references are kept, never their values.
    #[serde(default)]
    pub source: String,
    /// Load values that came from outside the plan text: `--set PATH=VALUE`, and `${NAME}` or
    /// `${NAME:-default}` in a load key (`concurrency`, `duration`, `rate`, …), each with the
    /// value the run used. Never a URL's, header's or body's variable: those may be secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effective: Vec<crate::plan::Effective>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Host {
    /// Logical CPUs available to the runner.
    pub cores: usize,
    pub os: String,
    pub arch: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CiInfo {
    pub system: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub job_url: Option<String>,
}

/// The run's outcome; it alone decides the exit code. When several apply, `interrupted` wins,
/// then `invalid`, then `failed`: an invalid run's numbers are not to be trusted, whether they
/// passed the gates or not (its failed checks are still listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// A threshold or baseline check failed, or a cell could not be completed.
    Failed,
    /// The run did not measure what it asked (arrivals dropped, the generator or the machine
    /// limited it, a CPU comparison under a drifting CPU): see `validity`.
    Invalid,
    /// Stopped by Ctrl-C or SIGTERM; what was measured is kept.
    Interrupted,
}

/// One validity rule that broke (`gate/validity.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidityFinding {
    /// The rule, as a plan's `validity:` key names it: `dropped_arrivals`,
    /// `generator_saturated`, `machine_load` or `cpu_drift`.
    pub rule: String,
    /// `fail` (the run is invalid) or `warn` (the plan turned the rule into a warning).
    pub action: ValidityAction,
    pub scenario: String,
    /// The cell's label (`async c=4 w=1`), with `round N` when one round broke the rule.
    pub cell: String,
    /// What was measured, in `unit`.
    pub measured: f64,
    /// The bound it crossed, in `unit`.
    pub bound: f64,
    /// `per_s` (arrivals per second), `fraction` (0 to 1), `us` (microseconds), `cores` or
    /// `ratio`.
    pub unit: String,
    /// What went wrong, in words, with the numbers.
    pub reason: String,
    /// What to change so that the next run measures what it asks.
    pub fix: String,
}

/// `io` or `cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Io,
    Cpu,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Io => "io",
            Bound::Cpu => "cpu",
        }
    }
}

/// `before:` or `after:`: the requests it sent, each as a cell's `requests[]` entry (count,
/// successes, errors by category, latency percentiles; no `timeline`). Not iterations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OnceSummary {
    /// `before` or `after`.
    pub key: String,
    pub requests: Vec<RequestSummary>,
}

/// A scenario group: members that ran at the same time, on one host model and one clock.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GroupSummary {
    pub name: String,
    /// The member scenarios, in plan order; each has its own entry in `scenarios`.
    pub members: Vec<String>,
    /// Per position (the members' cells of one model and one place in their sweeps): their
    /// operations together. `concurrency` is the members' users added; `timeline` is per second
    /// of the group's clock (from the group's start), the members' counts added; `wall_seconds`
    /// runs from the group's start to the last member's end; `requests` is empty (each member
    /// lists its own); `thresholds` are the group's (`groups: { NAME: { thresholds } }`).
    pub cells: Vec<CellSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioSummary {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// What the workload is: `io` for HTTP targets, `cpu` for a kernel.
    pub kind: Bound,
    /// What the measurement says: `cpu` when the runner kept at least half of the cores it could
    /// use busy (see `busy_fraction`), `io` when it mostly waited.
    pub bound: Bound,
    /// The evidence for `bound`: CPU seconds ÷ (wall seconds × usable cores) of the cell it was
    /// read from (the `sequential` cell when there is one, else the busiest cell). 1.0 = computing
    /// all the time, 0.0 = waiting all the time.
    pub busy_fraction: f64,
    /// The model of the cell `busy_fraction` was read from.
    pub bound_cell: String,
    /// False when every cell was too short to classify (under 100 ms or 20 operations: see
    /// `machine.too_short`): `bound` then only repeats `kind`, `busy_fraction` is 0 and
    /// `bound_cell` empty. Too-short cells are never the evidence for `bound`.
    #[serde(default = "yes")]
    pub classified: bool,
    /// The workload as written: target URLs (variables not substituted) or the kernel.
    pub workload: Vec<String>,
    /// The seed of the scenario's random choices (weighted targets, random data rows, think
    /// ranges), when it makes any: `seed:` in the plan repeats them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `repeat: N` or `duration: 30s`, as planned.
    pub load: String,
    /// True when the scenario set `tls.insecure`: the certificates of its HTTPS targets were
    /// not verified, so anything could have answered as the server. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_insecure: bool,
    pub cells: Vec<CellSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CellSummary {
    pub model: Model,
    /// Users (connections or kernel loops) running at once.
    pub concurrency: usize,
    /// Runtime threads (`async`), worker processes (`processes`), threads (`threads`), 1
    /// (`sequential`).
    pub workers: usize,
    /// Measured operations (warm-up excluded).
    pub operations: u64,
    pub successes: u64,
    /// Error category → count: `dns`, `connect`, `tls`, `protocol`, `timeout`, `status`,
    /// `grpc_status`, `websocket_close`, `body`, `expectation`. Every category is present, zero or not (a summary written before
    /// `dns` and `protocol` existed lacks them: read them as zero).
    pub errors: BTreeMap<String, u64>,
    /// HTTP requests sent a second time, on a new connection, after their reused connection
    /// broke before any byte of the response arrived (idempotent methods only; `retry: false`
    /// turns it off). Their latency counts from the first attempt.
    #[serde(default)]
    pub retried: u64,
    /// HTTP status code → count of responses.
    #[serde(default)]
    pub status_codes: BTreeMap<String, u64>,
    /// errors ÷ operations, 0 to 1.
    pub error_rate: f64,
    /// Response body bytes received.
    #[serde(default)]
    pub bytes: u64,
    /// From the measured start (after warm-up) to the last operation's end; with rounds, the
    /// sum over the rounds.
    pub wall_seconds: f64,
    /// Successful operations per second (successes ÷ wall seconds); with rounds, the median of
    /// the rounds'. Errors never count as throughput.
    pub throughput_per_s: f64,
    /// Operations attempted per second, successes and errors alike (operations ÷ wall seconds);
    /// with rounds, the median of the rounds'.
    #[serde(default)]
    pub attempts_per_s: f64,
    /// Flows only: HTTP requests per second, every step's together, beside `throughput_per_s`
    /// (successful iterations per second); with rounds, the median of the rounds'. Absent for
    /// other workloads, where an operation is one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    pub latency_us: LatencySummary,
    /// Latencies above one hour: counted here, not in the histogram.
    #[serde(default)]
    pub latency_out_of_range: u64,
    /// The runner's user + system CPU over the measured phase, worker processes included.
    pub cpu_seconds: f64,
    /// cpu_seconds ÷ wall_seconds: how many cores the runner kept busy.
    pub cores_busy: f64,
    /// The highest resident set size of a runner process up to the end of this cell.
    #[serde(default)]
    pub peak_rss_bytes: u64,
    /// throughput ÷ the scenario's `sequential` throughput (successful operations on both
    /// sides); with rounds, computed round by round against the same round's sequential cell,
    /// then the median taken. Null where there is no such cell, or where either side had no
    /// success.
    pub speedup: Option<f64>,
    /// False when the cell was interrupted or lost a worker: its numbers cover only part of it.
    #[serde(default = "yes")]
    pub complete: bool,
    /// What went wrong while running the cell (a lost worker, an interrupt).
    #[serde(default)]
    pub notes: Vec<String>,
    /// When the cell began, in seconds since the run started (`started_at`).
    #[serde(default)]
    pub start_offset_seconds: f64,
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// Operations, errors and latency per second since the measured start.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// The latency histogram: compressed V2 HdrHistogram, base64, microseconds.
    #[serde(default)]
    pub histogram: String,
    /// Open model only: the schedule and what came of it. `latency_us` is then measured from
    /// each arrival's intended start (corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenSummary>,
    /// HTTP cells: connections opened and what each phase cost, apart from the requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<super::ConnectionsSummary>,
    /// The first distinct messages of each error category (at most five each), so that a
    /// reviewer sees why: `{"tls": ["tls: invalid peer certificate: UnknownIssuer"]}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_messages: BTreeMap<String, Vec<String>>,
    /// HTTP cells: statistics per request name (a target, or a flow's step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestSummary>,
    /// Flows: think time per iteration, microseconds (left out of the operation's latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_us: Option<LatencySummary>,
    /// With `rounds: N` above 1: each figure round by round, with its median and spread. With
    /// rounds, counts (operations, successes, errors, bytes), `error_rate`, `wall_seconds`,
    /// `cpu_seconds` and `cores_busy` pool all rounds, `latency_us` and `histogram` merge their
    /// histograms, and `throughput_per_s`, `attempts_per_s` and `speedup` are the medians below.
    /// Absent with one round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<RoundsSummary>,
    /// What the machine did around the cell, and what that says about its figures.
    #[serde(default)]
    pub machine: MachineCheck,
    /// A `capacity:` search: the highest arrival rate that kept the SLO, every probe, and why
    /// the search stopped. The cell's other figures are those of the probe at that rate (or of
    /// the last probe, when no rate kept the SLO). Absent for other loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySummary>,
}

/// What a capacity search found (`capacity: {slo, from, to, hold, precision}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapacitySummary {
    /// The objectives, as written.
    pub slo: Vec<String>,
    /// The highest probed arrival rate that kept every objective, per second: the capacity.
    /// Absent when the search is invalid (`generator_limited`), was interrupted, or no rate
    /// kept the SLO (`broken_at_start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_per_s: Option<f64>,
    /// The bracket: the last rate that kept the SLO and the first that broke it, per second
    /// (either absent when no probe was of that kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_per_s: Option<f64>,
    /// The plan's start rate and ceiling, per second, and its precision (a fraction).
    pub from_per_s: f64,
    pub to_per_s: f64,
    pub precision: f64,
    pub stopped: CapacityStop,
    /// Every probe, in the order they ran.
    pub probes: Vec<CapacityProbe>,
    /// Which probe (an index into `probes`) the cell's other figures are: the one at the
    /// capacity, or the last one when there is none.
    #[serde(default)]
    pub shown_probe: usize,
}

/// Why a capacity search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapacityStop {
    /// The bracket between the last good and the first bad rate is within the precision.
    SloBroken,
    /// The ceiling (`to`) kept the SLO: the capacity is at least `to`.
    Ceiling,
    /// The generator, not the target, limited a probe (arrivals waited in loadplan or were
    /// dropped while the target answered within the SLO, or the runner's CPU was saturated):
    /// the search is invalid, not a capacity.
    GeneratorLimited,
    /// The first rate (`from`) already broke the SLO: the capacity is below it.
    BrokenAtStart,
    /// Ctrl-C or a stop request: the search did not finish.
    Interrupted,
    /// The safety limit on probes was reached before the bracket closed.
    ProbeLimit,
}

impl CapacityStop {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityStop::SloBroken => "slo_broken",
            CapacityStop::Ceiling => "ceiling",
            CapacityStop::GeneratorLimited => "generator_limited",
            CapacityStop::BrokenAtStart => "broken_at_start",
            CapacityStop::Interrupted => "interrupted",
            CapacityStop::ProbeLimit => "probe_limit",
        }
    }
}

/// One probe of a capacity search: an open-model run at one rate, judged against the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityProbe {
    /// The arrival rate asked, per second.
    pub rate_per_s: f64,
    /// Measured phase, seconds (its warm-up excluded).
    pub hold_seconds: f64,
    /// Operations finished ÷ the hold, per second.
    pub achieved_per_s: f64,
    pub operations: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Arrivals dropped (`max_in_flight` reached, or too late to matter).
    pub dropped: u64,
    /// Latency from the intended start (corrected), microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    /// p99 from the actual send, microseconds: what the target itself took.
    pub p99_uncorrected_us: u64,
    /// The runner's cores busy over the probe.
    pub cores_busy: f64,
    /// Every objective held.
    pub kept: bool,
    /// The generator limited this probe (see [`CapacityStop::GeneratorLimited`]).
    pub generator_limited: bool,
    /// The objectives that broke, each with its measured value: `p99 < 50ms (measured 212ms)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<String>,
}

/// One request name's statistics within a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestSummary {
    /// The request's name: the plan's `name`, or its method and URL as written.
    pub name: String,
    pub operations: u64,
    pub successes: u64,
    /// Errors by category (dns, connect, tls, protocol, timeout, status, grpc_status,
    /// websocket_close, body, expectation).
    pub errors: BTreeMap<String, u64>,
    /// Requests of this name sent a second time on a new connection (see the cell's `retried`).
    #[serde(default)]
    pub retried: u64,
    /// Errors over operations, a fraction.
    pub error_rate: f64,
    /// Responses by status code.
    pub status_codes: BTreeMap<String, u64>,
    /// The first distinct messages of each error category.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_messages: BTreeMap<String, Vec<String>>,
    /// Response body bytes.
    pub bytes: u64,
    /// From the request's start to its response's last byte, microseconds.
    pub latency_us: LatencySummary,
    /// The request's latencies: compressed V2 HdrHistogram, base64, microseconds.
    pub histogram: String,
    /// This request's own seconds (each request filed under the second it ended in): its
    /// requests, errors, p50/p99/max and histogram, as the cell's `timeline`, for the report's
    /// lines per request over time. Written for cells of two or more request names (a cell of
    /// one is its own `timeline`); absent from summaries written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelinePoint>,
}

#[cfg(test)]
impl CellSummary {
    /// A complete cell that measured nothing: tests fill in what they need with `..`.
    pub fn empty(model: Model, concurrency: usize, workers: usize) -> CellSummary {
        CellSummary {
            model,
            concurrency,
            workers,
            operations: 0,
            successes: 0,
            errors: BTreeMap::new(),
            retried: 0,
            status_codes: BTreeMap::new(),
            error_rate: 0.0,
            bytes: 0,
            wall_seconds: 0.0,
            throughput_per_s: 0.0,
            attempts_per_s: 0.0,
            requests_per_s: None,
            latency_us: LatencySummary::default(),
            latency_out_of_range: 0,
            cpu_seconds: 0.0,
            cores_busy: 0.0,
            peak_rss_bytes: 0,
            speedup: None,
            complete: true,
            notes: Vec::new(),
            start_offset_seconds: 0.0,
            thresholds: Vec::new(),
            timeline: Vec::new(),
            histogram: String::new(),
            open: None,
            connections: None,
            error_messages: BTreeMap::new(),
            requests: Vec::new(),
            think_us: None,
            rounds: None,
            capacity: None,
            machine: MachineCheck::default(),
        }
    }
}

impl CellSummary {
    /// The cell's one label, everywhere: `sequential`, `threads c=16`, `async c=16 w=1`.
    pub fn label(&self) -> String {
        self.model.label(self.concurrency, self.workers)
    }
}

/// A cell's figures over its rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoundsSummary {
    /// Rounds run.
    pub count: usize,
    pub throughput_per_s: Spread,
    pub attempts_per_s: Spread,
    pub error_rate: Spread,
    /// Each round's speedup against the same round's sequential cell; null when no round had
    /// a pair with successes on both sides.
    pub speedup: Option<Spread>,
    pub p50_us: Spread,
    pub p90_us: Spread,
    pub p99_us: Spread,
    pub cores_busy: Spread,
    pub wall_seconds: Spread,
    /// The runner's CPU time per operation, microseconds, round by round (its user + system time
    /// over the measured phase ÷ the round's operations): a CPU kernel's cost per operation,
    /// which should not drift between rounds or cells. Null when no round had operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_op: Option<Spread>,
}

/// One figure over rounds: the median (of two middle values, their mean), the range, and the
/// values round by round (rounds without a value, such as a speedup with no pair, left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
}

/// Checks on the machine a cell ran on, pure functions of the summary (`stats/machine.rs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MachineCheck {
    /// The runner's CPU time per operation, in microseconds (cpu_seconds ÷ operations); null
    /// without operations.
    pub cpu_us_per_op: Option<f64>,
    /// cpu_us_per_op ÷ the sequential cell's: above 1.25 in a CPU-bound scenario, the CPU itself
    /// was slower during this cell. Null without a sequential cell to compare with.
    pub cpu_per_op_vs_sequential: Option<f64>,
    /// The whole machine around the cell, read from `/proc/stat` before and after it (warm-up
    /// included); null where it could not be read, and for merged shards.
    #[serde(default)]
    pub sample: Option<MachineSample>,
    /// CPU seconds of the machine's busy time that were not loadplan's (neither the runner, its
    /// workers nor the built-in server): other processes, or a target running on this machine.
    pub other_seconds: Option<f64>,
    /// other_seconds ÷ the machine's busy seconds.
    pub other_share: Option<f64>,
    /// other_seconds ÷ the sample's wall seconds: cores kept busy by other load on average.
    pub other_cores: Option<f64>,
    /// steal ÷ (wall × cores): the share of the machine the hypervisor gave to other guests.
    pub steal_share: Option<f64>,
    /// Under 100 ms or under 20 operations: too short to classify as io or cpu, and too short
    /// for its figures to mean much.
    pub too_short: bool,
    /// What the checks found, each with a sentence for people.
    pub flags: Vec<MachineFlag>,
}

/// The machine around a cell, as read in the run stage (summed over rounds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MachineSample {
    pub wall_seconds: f64,
    /// All cores' busy time (user, nice, system, irq, softirq).
    pub busy_seconds: f64,
    /// Time stolen by the hypervisor.
    pub steal_seconds: f64,
    /// The runner's CPU over the same time, worker processes included.
    pub runner_cpu_seconds: f64,
    /// The built-in target server's CPU over the same time; null when it did not run.
    pub target_cpu_seconds: Option<f64>,
}

/// One finding of the machine checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MachineFlag {
    pub kind: FlagKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// The CPU per operation exceeded the sequential cell's by more than a quarter.
    SlowerCpu,
    /// Other processes kept the machine busy during the cell.
    OtherLoad,
    /// The hypervisor stole a noticeable share of the CPU.
    Steal,
    /// Under 100 ms or 20 operations.
    TooShort,
}

/// An open-model cell's schedule health and its uncorrected latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenSummary {
    /// Arrivals the schedule planned in the measured phase.
    pub scheduled: u64,
    /// Arrivals that could not start: `max_in_flight` was reached, or the run ended first.
    pub dropped: u64,
    /// scheduled ÷ the planned seconds.
    pub target_rate_per_s: f64,
    /// Operations finished ÷ the planned seconds.
    pub achieved_rate_per_s: f64,
    /// Latency from the actual send, as a tool that ignores coordinated omission reports it.
    pub latency_uncorrected_us: LatencySummary,
    /// How late each send was against its intended start.
    pub send_lag_us: LatencySummary,
    /// True when the generator could not keep the rate: arrivals were dropped, or fewer than 95%
    /// of the scheduled operations were carried out.
    pub rate_not_reached: bool,
}

fn yes() -> bool {
    true
}

/// Latency statistics in microseconds, read from the HdrHistogram (3 significant digits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencySummary {
    /// Values in the histogram; equals `operations` unless some were out of range.
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub stdev: f64,
    /// The other percentiles the plan's thresholds name (`p95`, `p99.99`), keyed as written
    /// in canonical form, µs; read from the same histogram by the same rank rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub percentiles: BTreeMap<String, u64>,
}

/// One threshold checked on one cell (or the default error rule, see `unit`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ThresholdResult {
    /// As written in the plan, e.g. `p99 < 250ms`.
    pub expression: String,
    /// In `unit`; null when it could not be measured (no operations, no sequential cell).
    pub observed: Option<f64>,
    pub passed: bool,
    /// The limit, in `unit`.
    #[serde(default)]
    pub limit: f64,
    /// `us` (microseconds), `fraction` (0 to 1), `per_s`, `ratio`, `fraction_per_h` (a drift:
    /// the fitted change per hour as a fraction of the mean), or `errors` for the default
    /// rule that fails a cell with errors when no `error_rate` threshold covers it (observed: the
    /// count of errors, limit 0; expression: `gate::DEFAULT_ERROR_RULE`).
    #[serde(default)]
    pub unit: String,
    /// `observed` as people read it, e.g. `312ms`, or why there is no value.
    #[serde(default)]
    pub observed_text: String,
    /// For a windowed threshold (`p99 over 1m < 300ms`): the windows that broke it. Absent for
    /// whole-cell thresholds (and in summaries written before windows existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowOutcome>,
}

/// How every window of a windowed threshold fared. Windows slide by one second over the cell's
/// per-second timeline; each window's figure comes from the exact merge of its seconds'
/// histograms and counts (never from averaged percentiles). `observed` of the threshold is the
/// worst window's figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WindowOutcome {
    /// The window's length in seconds.
    pub seconds: u32,
    /// How many windows were checked (a cell shorter than the window is one window).
    pub checked: u32,
    /// The first window that broke the threshold, in seconds since the cell's measured start
    /// (`[from, to)`); absent when every window held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_breach: Option<Span>,
    /// Where it broke: overlapping breaking windows joined into spans, oldest first, each with
    /// its worst window's figure (in the threshold's unit).
    #[serde(default)]
    pub breaches: Vec<Span>,
}

/// A stretch of a cell, in whole seconds since its measured start: `[from_s, to_s)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Span {
    pub from_s: u32,
    pub to_s: u32,
    /// The worst figure of the windows in the span, in the threshold's unit.
    pub worst: f64,
}

/// The comparison with an earlier run (`--baseline`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BaselineReport {
    /// The baseline summary.json as given on the command line.
    pub file: String,
    pub run_id: String,
    pub started_at: Timestamp,
    /// Relative change allowed (0.1 = 10%) in p50; each check carries its own (`tolerance`),
    /// as a plan may set one per figure.
    pub tolerance: f64,
    /// Latency changes below this many microseconds never count.
    pub latency_floor_us: u64,
    /// No check regressed (`outcome` of every check other than `regressed`).
    pub passed: bool,
    /// The runs compared with, newest first: one summary.json, or the last N passing runs of
    /// the plan from a history folder. `file`, `run_id` and `started_at` above are the newest's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<BaselineRun>,
    /// The family-wise false-alarm rate of each cell's checks (Holm's rule): the chance that a
    /// cell that did not change reports any check `regressed`.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    pub checks: Vec<BaselineCheck>,
    /// Cells of this run with no counterpart in the baseline (`scenario · cell`).
    pub missing_in_baseline: Vec<String>,
    /// Cells of the baseline this run did not have.
    pub missing_in_run: Vec<String>,
}

/// One metric of one cell compared with the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BaselineCheck {
    pub scenario: String,
    pub model: Model,
    pub concurrency: usize,
    /// The cell's workers (runtime threads or processes), for its label.
    #[serde(default = "one")]
    pub workers: usize,
    /// `p50`, `p90`, `p99` (microseconds), `throughput_per_s` or `error_rate` (fraction).
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
    /// (current − baseline) ÷ baseline; null when the baseline is 0.
    pub change: Option<f64>,
    /// `regressed` (beyond the tolerance and beyond the noise: fails the run), `improved`
    /// (better beyond both), `unchanged` (shown to lie within the tolerance) or `inconclusive`
    /// (the data cannot tell; `reason` says why).
    #[serde(default)]
    pub outcome: Outcome,
    /// outcome ≠ regressed (kept for consumers of schema 1).
    pub passed: bool,
    /// The relative change this check allowed (0.1 = 10%).
    #[serde(default)]
    pub tolerance: f64,
    /// The baseline's values of the figure: one per round of each baseline run, newest run
    /// first. `baseline` is their median.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_values: Vec<f64>,
    /// This run's values, one per round. `current` is their median.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub current_values: Vec<f64>,
    /// Percentiles: the 95% confidence interval of this run's percentile, from its histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_interval: Option<PercentileInterval>,
    /// The 95% confidence interval of `change` (relative, like `change`); null when nothing
    /// measured the noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_high: Option<f64>,
    /// One-sided p-value of "worse by more than the tolerance"; null when nothing measured the
    /// noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The level Holm's rule held `p_value` to within the cell's family of checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// The smallest worse value of the figure (its unit) these data would have called
    /// `regressed`: what the check could see. Null when nothing measured the noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable: Option<f64>,
    /// `detectable` as a change against `baseline` (0.25 = 25% worse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable_change: Option<f64>,
    /// Why an outcome is `inconclusive` (or why a change was not called a regression), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Written by loadplan before outcomes existed (a Mann–Whitney test of the rounds); read
    /// from such summaries, never written now: `outcome`, `p_value` and the intervals replace
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseCheck>,
}

impl BaselineCheck {
    /// The cell's one label, as everywhere else.
    pub fn label(&self) -> String {
        self.model.label(self.concurrency, self.workers)
    }
}

fn one() -> usize {
    1
}

fn default_alpha() -> f64 {
    0.05
}

/// What a baseline check concluded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Worse beyond the tolerance and beyond the noise: the one outcome that fails the run.
    Regressed,
    /// Better beyond the tolerance and beyond the noise.
    Improved,
    /// Shown to lie within the tolerance.
    Unchanged,
    /// The data cannot tell (or a summary of schema 1 written before outcomes existed).
    #[default]
    Inconclusive,
}

impl Outcome {
    /// The word reports use.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Regressed => "regressed",
            Outcome::Improved => "improved",
            Outcome::Unchanged => "unchanged",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One earlier run a baseline comparison used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BaselineRun {
    /// Its summary.json.
    pub file: String,
    pub run_id: String,
    pub started_at: Timestamp,
}

/// A distribution-free confidence interval of a percentile: the values at two ranks of the
/// histogram, chosen from Binomial(count, q).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PercentileInterval {
    /// Microseconds.
    pub low: f64,
    pub high: f64,
    /// 0.95.
    pub confidence: f64,
    /// Values in the histogram.
    pub count: u64,
    /// The interval reaches the largest value: nothing measured bounds the percentile from
    /// above (a p99 of 100 operations is the maximum).
    pub upper_is_max: bool,
}

/// The noise test of one baseline check: the rounds' values of both runs compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NoiseCheck {
    /// `mann_whitney_u`: an exact one-sided Mann–Whitney U test on the per-round values.
    pub method: String,
    /// The probability that rounds of the same code on the same machine would rank the current
    /// run at least this much worse than the baseline.
    pub p_value: f64,
    /// The p-value at or below which a change is beyond the noise (0.05).
    pub alpha: f64,
    pub baseline_rounds: usize,
    pub current_rounds: usize,
    /// The change exceeded the tolerance, but not the noise: not a regression.
    pub within_noise: bool,
}

/// An instant of the run, written as RFC 3339 in UTC with whole seconds
/// (`2026-11-28T16:00:26Z`), as summary.json has always had it; reading accepts any RFC 3339
/// time with an offset. A type of its own so that every time in the contract has one wire format
/// and one schema (string, date-time).
//
// Not `Copy`: `gate/baseline.rs` clones the baseline's start, which clippy would call needless
// on a `Copy` type. Derive it once that clone is gone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

impl Timestamp {
    /// `t` cut to whole seconds; the Unix epoch for a time jiff cannot hold (beyond the year
    /// 9999), which no system clock reaches.
    pub fn from_system(t: SystemTime) -> Timestamp {
        let whole = jiff::Timestamp::try_from(t)
            .and_then(|ts| jiff::Timestamp::from_second(ts.as_second()))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Timestamp(whole)
    }

    pub fn get(&self) -> jiff::Timestamp {
        self.0
    }
}

impl From<jiff::Timestamp> for Timestamp {
    fn from(t: jiff::Timestamp) -> Timestamp {
        Timestamp(t)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Precision 0: whole seconds, whatever fraction a time read from a file carried.
        write!(f, "{:.0}", self.0)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        text.parse::<jiff::Timestamp>()
            .map(Timestamp)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}")))
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// summary.json's JSON Schema, pretty-printed (for its consumers; `loadplan schema --summary`).
pub fn summary_schema() -> String {
    let mut schema = schemars::schema_for!(Summary);
    schema.insert("title".into(), "loadplan summary.json".into());
    crate::plan::schema::to_text(&schema)
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_summary_schema_is_current() {
        crate::plan::schema::assert_committed("summary.schema.json", &super::summary_schema());
    }

    use std::time::{Duration, SystemTime};

    use super::Timestamp;

    #[test]
    fn timestamps_are_written_as_they_always_were() {
        // 2026-11-28T16:00:26.75Z: the fraction is cut, as humantime's `_seconds` format did.
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_881_626_750);
        let ts = Timestamp::from_system(t);
        assert_eq!(ts.to_string(), "2026-11-28T16:00:26Z");
        assert_eq!(
            serde_json::to_string(&ts).expect("json"),
            "\"2026-11-28T16:00:26Z\""
        );
        // Read: any RFC 3339 time with an offset; written back in UTC, whole seconds.
        for (text, want) in [
            ("\"2026-11-28T16:00:26Z\"", "2026-11-28T16:00:26Z"),
            ("\"2026-11-28T18:00:26.9+02:00\"", "2026-11-28T16:00:26Z"),
        ] {
            let back: Timestamp = serde_json::from_str(text).expect(text);
            assert_eq!(back.to_string(), want);
        }
        let e = serde_json::from_str::<Timestamp>("\"2026-11-28 16:00\"").expect_err("no offset");
        assert!(
            e.to_string()
                .contains("`2026-11-28 16:00` is not an RFC 3339 time"),
            "{e}"
        );
        // A system time jiff cannot hold falls back to the epoch instead of failing.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(
            Timestamp::from_system(far).to_string(),
            "1970-01-01T00:00:00Z"
        );
    }
}
