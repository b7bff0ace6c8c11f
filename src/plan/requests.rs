//! A scenario's HTTP workload, resolved: its requests (the targets, or a flow's setup and steps)
//! with what each response must be, the mix (in order, weighted, or a flow), captures, think
//! times, conditions, chances and loops, and the run-time variables bound to slots: the data
//! file's columns first, then the setup's captures (kept across a user's iterations), then the
//! flow's captures in order. A `${name}` is a capture of an earlier step, else a data column, else
//! an environment variable (substituted now); anything else is an error at its line and column.
//!
//! Input: the scenario's mirror and the plan's context. Output: [`HttpWorkload`], plain data that
//! travels as-is (once its URLs are absolute) to worker processes. Never shows a value: data rows,
//! substituted variables and captures are secrets as far as any output is concerned.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::grpc::{GrpcCall, Key};
use super::http::{HttpSettings, HttpVersion};
use super::locate::Path;
use super::resolve::{Context, ResolveError};
pub use super::spec::PickMany;
use super::spec::{
    self, CaptureSpec, DataOrder, DataSpec, ExpectSpec, GrpcSpec, Headers, JsonExpect, StepSpec,
    TargetSpec, Template, ThinkSpec, WebSocketSpec, WhenSpec,
};
use super::text::Text;
use super::unset::{self, MissingColumns, Unset};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpWorkload {
    /// The targets, or the flow's steps' requests in order.
    pub requests: Vec<RequestTemplate>,
    /// Distinct request names: statistics are kept per name.
    pub names: Vec<String>,
    pub mix: Mix,
    pub settings: HttpSettings,
    pub data: Option<DataTable>,
    /// How many run-time variables an iteration has (data columns, then captures).
    pub slots: usize,
    pub cookies: bool,
    /// The seed of random choices; `None`: a new one each run.
    pub seed: Option<u64>,
    /// A flow's `setup:` steps: once per user, before its first iteration.
    #[serde(default)]
    pub setup: Vec<Step>,
    /// Slots kept across a user's iterations: the data columns and the setup's variables.
    #[serde(default)]
    pub kept: usize,
    /// The environment's values this scenario substituted, so that a failed check's message can
    /// show `${NAME}` in their place.
    #[serde(default)]
    pub substituted: Substituted,
    /// The plan's `before:` captures this workload can read: (name, slot), after the data
    /// columns.
    #[serde(default)]
    pub run_vars: Vec<(String, usize)>,
    /// Their values, set by the run stage once `before:` has run.
    #[serde(default)]
    pub preset: Preset,
}

/// (slot, value) of each `before:` capture. Its `Debug` shows the slots only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preset(pub Vec<(usize, String)>);

impl fmt::Debug for Preset {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl HttpWorkload {
    /// The names its flow captures, in order (what `before:` hands every scenario).
    pub fn capture_names(&self) -> Vec<String> {
        match &self.mix {
            Mix::Flow(steps) => steps
                .iter()
                .flat_map(|s| s.captures.iter().map(|c| c.name.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sets the `before:` captures from `values` (name, value); names it does not read are
    /// left out.
    pub fn preset_from(&mut self, values: &[(String, String)]) {
        self.preset = Preset(
            self.run_vars
                .iter()
                .filter_map(|(name, slot)| {
                    values
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| (*slot, v.clone()))
                })
                .collect(),
        );
    }
}

/// (name, value) of each environment variable a scenario substituted. Its `Debug` shows the
/// names only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Substituted(pub Vec<(String, String)>);

impl fmt::Debug for Substituted {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

/// An environment lookup that remembers what it substituted.
struct Recording<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    used: std::cell::RefCell<Vec<(String, String)>>,
}

impl<'a> Recording<'a> {
    fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Recording {
            env,
            used: Default::default(),
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let v = (self.env)(name);
        if let Some(v) = &v {
            let mut used = self.used.borrow_mut();
            if !used.iter().any(|(n, _)| n == name) {
                used.push((name.to_string(), v.clone()));
            }
        }
        v
    }

    fn into_used(self) -> Substituted {
        Substituted(self.used.into_inner())
    }
}

impl HttpWorkload {
    /// Whether operations make random choices: a weighted mix, random data rows, think ranges.
    pub fn random_choices(&self) -> bool {
        let random_step = |s: &Step| {
            s.think.is_some_and(|(a, b)| a != b)
                || s.chance.is_some()
                || s.branch.is_some()
                || s.captures
                    .iter()
                    .any(|c| matches!(c.from, CaptureFrom::JsonMany(_, PickMany::Random)))
        };
        let think_range = match &self.mix {
            Mix::Flow(steps) => steps.iter().chain(&self.setup).any(random_step),
            _ => false,
        };
        matches!(self.mix, Mix::Weighted(_))
            || think_range
            || self
                .data
                .as_ref()
                .is_some_and(|d| d.order == RowOrder::Random)
    }
}

/// What one operation sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Mix {
    /// One target per operation, in the order listed.
    InOrder,
    /// One target per operation, picked at random in these proportions.
    Weighted(Vec<f64>),
    /// Every step, in order, per operation (an iteration).
    Flow(Vec<Step>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Its request, in [`HttpWorkload::requests`].
    pub request: usize,
    pub captures: Vec<Capture>,
    /// A pause after the step: uniform between the two (equal for a fixed pause).
    pub think: Option<(Duration, Duration)>,
    /// It runs only when this holds.
    #[serde(default)]
    pub when: Option<Condition>,
    /// It runs in this share of iterations (0 to 1), drawn at random.
    #[serde(default)]
    pub chance: Option<f64>,
    /// Its request is sent once per element of a JSON array.
    #[serde(default)]
    pub for_each: Option<Loop>,
    /// It is one of a run of consecutive weighted steps, of which one runs per iteration.
    #[serde(default)]
    pub branch: Option<Branch>,
}

/// A weighted step's place in its switch: the run of consecutive weighted steps it belongs to
/// draws one uniform number in [0, 1) per iteration, at its first step (`opens`), and the step
/// runs when the draw falls in `[from, to)`, its weight's share of the run's total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub opens: bool,
    pub from: f64,
    pub to: f64,
}

/// Each weighted step's place in its switch (a run of consecutive weighted steps), `None` for
/// the others; `Err(i)` when step `i` is weighted and alone, a switch of one.
fn branches(weights: &[Option<f64>]) -> Result<Vec<Option<Branch>>, usize> {
    let mut out = vec![None; weights.len()];
    let mut i = 0;
    while i < weights.len() {
        let run = weights[i..].iter().take_while(|w| w.is_some()).count();
        if run == 1 {
            return Err(i);
        }
        let total: f64 = weights[i..i + run].iter().flatten().sum();
        let mut from = 0.0;
        for (k, w) in weights[i..i + run].iter().flatten().enumerate() {
            // The last share ends at 1 exactly, whatever the sum's rounding.
            let to = if k + 1 == run { 1.0 } else { from + w / total };
            out[i + k] = Some(Branch {
                opens: k == 0,
                from,
                to,
            });
            from = to;
        }
        i += run.max(1);
    }
    Ok(out)
}

/// When a step runs (the resolved `when:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// The previous request (of this iteration, or of the setup) had one of these statuses.
    Status(Vec<u16>),
    /// The slot is set and not empty.
    Set(usize),
    Equals(usize, String),
    NotEquals(usize, String),
}

/// A step's `for_each`: the slot holding the JSON array, the slot each element goes to, and how
/// many elements at most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loop {
    pub list: usize,
    pub var: usize,
    pub limit: usize,
    /// The names as written, for messages.
    pub list_name: String,
    pub var_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    pub slot: usize,
    /// The variable's name, for messages.
    pub name: String,
    pub from: CaptureFrom,
}

/// Where a captured value comes from: the resolved counterpart of the YAML's `capture:` entry,
/// so that the workload never sees the YAML mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaptureFrom {
    /// The first node a JSON path (RFC 9535) finds in the body (a string as is, else its JSON).
    Json(String),
    /// One node at random, or every node as a JSON array.
    JsonMany(String, PickMany),
    /// A response header's value.
    Header(String),
    /// A regular expression's first group (or whole match) in the body.
    Regex(String),
}

impl From<CaptureSpec> for CaptureFrom {
    fn from(c: CaptureSpec) -> CaptureFrom {
        match c {
            CaptureSpec::Json(p) => CaptureFrom::Json(p),
            CaptureSpec::JsonMany(p, pick) => CaptureFrom::JsonMany(p, pick),
            CaptureSpec::Header(h) => CaptureFrom::Header(h),
            CaptureSpec::Regex(r) => CaptureFrom::Regex(r),
        }
    }
}

/// What a JSON path must find (the resolved `expect: { json: … }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expect {
    /// At least one node.
    Exists,
    /// A value the first node must equal.
    Equals(serde_json::Value),
    /// A text with run-time variables (`"${user}"`) the first node must read as: a string node
    /// as is, another as its JSON.
    EqualsText(Text),
}

impl From<JsonExpect> for Expect {
    fn from(e: JsonExpect) -> Expect {
        match e {
            JsonExpect::Exists => Expect::Exists,
            JsonExpect::Equals(v) => Expect::Equals(v),
        }
    }
}

/// How iterations take the data file's rows (the resolved `data: { order: … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowOrder {
    /// Row after row, starting again at the top.
    Sequential,
    /// A row at random for every iteration.
    Random,
    /// Each row once at most, across users, worker processes and shards.
    Unique,
}

impl From<DataOrder> for RowOrder {
    fn from(o: DataOrder) -> RowOrder {
        match o {
            DataOrder::Sequential => RowOrder::Sequential,
            DataOrder::Random => RowOrder::Random,
            DataOrder::Unique => RowOrder::Unique,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTemplate {
    /// Its statistics' name, an index into [`HttpWorkload::names`].
    pub stats: usize,
    /// The URL as written, variables not substituted: the only form shown in outputs.
    pub display: String,
    /// The URL: a path to join onto the base (`relative`), or absolute.
    pub url: Text,
    pub relative: bool,
    pub method: String,
    /// Name and value, a later one replacing an earlier header of the same name.
    pub headers: Vec<(String, Text)>,
    pub body: Option<Text>,
    pub check: Check,
    /// A gRPC call: its body is the call's framed message, its response read as gRPC.
    #[serde(default)]
    pub grpc: Option<super::grpc::GrpcCall>,
    /// A WebSocket step: the request is its HTTP/1.1 upgrade, `check` applies to each reply.
    #[serde(default)]
    pub websocket: Option<WebSocketCall>,
}

/// A WebSocket step resolved: what each message says, how many are sent, how far apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSocketCall {
    /// The message, rendered from the iteration's variables each time it is sent.
    pub send: Text,
    pub messages: u32,
    /// From one message's send to the next's.
    pub every: Duration,
}

/// What a response must be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Accepted status codes; empty: any status below 400.
    pub status: Vec<u16>,
    /// JSON paths into the body and what each must find.
    pub json: Vec<(String, Expect)>,
    pub body_contains: Option<Text>,
    /// Headers the response must have, each value starting with the given text.
    pub headers: Vec<(String, Text)>,
    /// The gRPC status a call must end with (`None`: OK).
    #[serde(default)]
    pub grpc_code: Option<u32>,
}

impl Check {
    /// Whether checking needs the response body kept.
    pub fn reads_body(&self) -> bool {
        !self.json.is_empty() || self.body_contains.is_some()
    }
}

/// A CSV data file: its columns are the first slots.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTable {
    /// The file as the plan names it.
    pub file: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub order: RowOrder,
}

impl fmt::Debug for DataTable {
    // Rows are secrets as far as any output is concerned: only their shape is shown.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("DataTable")
            .field("file", &self.file)
            .field("columns", &self.columns)
            .field("rows", &self.rows.len())
            .field("order", &self.order)
            .finish()
    }
}

/// Where a `${name}` can come from at a point of the flow.
struct Scope<'a> {
    data: Option<&'a DataTable>,
    /// Captures of the steps before this one: (name, slot).
    captured: &'a [(String, usize)],
    /// Captures of this step and later ones, for a precise message.
    later: &'a [(String, String)],
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Scope<'_> {
    fn slot(&self, name: &str) -> Option<usize> {
        self.captured
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .or_else(|| {
                self.data
                    .and_then(|d| d.columns.iter().position(|c| c == name))
            })
    }

    /// `t` with its run-time variables as slots and the environment's substituted.
    fn text(&self, t: &Template, at: &Path) -> Result<Text, ResolveError> {
        t.to_text(&|n| self.slot(n), self.env)
            .map_err(|missing| self.unknown(missing, at))
    }

    /// The error for names no source provides: a capture of a later step is its own mistake;
    /// anything else is a column the data file lacks or an unset environment variable, with what
    /// else was looked at and a near name.
    fn unknown(&self, names: Vec<String>, at: &Path) -> ResolveError {
        if let Some((n, step)) = names
            .iter()
            .find_map(|n| self.later.iter().find(|(c, _)| c == n))
        {
            return ResolveError::at(
                at.clone(),
                format!(
                    "`${{{n}}}` is captured by step `{step}`, which runs later: a step can use captures of the steps before it"
                ),
            );
        }
        let flow = !self.captured.is_empty() || !self.later.is_empty();
        // With a data file, a name is taken for one of its columns unless it reads as an
        // environment variable.
        let columns = self.data.and_then(|d| {
            let lacks: Vec<String> = names
                .iter()
                .filter(|n| !unset::reads_as_environment(n, &d.columns))
                .cloned()
                .collect();
            (!lacks.is_empty()).then(|| MissingColumns {
                file: d.file.clone(),
                has: d.columns.clone(),
                names: lacks,
                flow,
            })
        });
        let note = match (self.data, flow) {
            (Some(d), _) => format!(
                ", nor a column of {} ({}){}",
                d.file,
                d.columns.join(", "),
                if flow {
                    " or a capture of an earlier step"
                } else {
                    ""
                }
            ),
            (None, true) => ", nor a capture of an earlier step".to_string(),
            (None, false) => String::new(),
        };
        let known = self.captured.iter().map(|(c, _)| c.as_str()).chain(
            self.data
                .iter()
                .flat_map(|d| d.columns.iter().map(String::as_str)),
        );
        let hint = names
            .iter()
            .find_map(|n| super::wording::suggest(n, known.clone()).map(|near| (n, near)))
            .map(|(name, near)| format!(": did you mean `${{{near}}}` for `${{{name}}}`?"))
            .unwrap_or_default();
        let unset = Unset {
            names,
            note,
            hint,
            columns,
        };
        ResolveError::unset(at.clone(), unset)
    }
}

/// Everything of a scenario the HTTP workload is made of.
pub(super) struct Parts<'a> {
    pub at: &'a Path,
    pub expect: Option<&'a ExpectSpec>,
    pub expect_at: Path,
    pub scenario_headers: Option<&'a Headers>,
    pub defaults_headers: Option<&'a Headers>,
    pub data: Option<&'a DataSpec>,
    pub has_base: bool,
    pub settings: HttpSettings,
    pub cookies: bool,
    pub seed: Option<u64>,
    /// The names `before:` captures, readable here.
    pub run_vars: &'a [String],
}

/// The `before:` captures at their slots, after `columns` data columns.
fn run_slots(names: &[String], columns: usize) -> Vec<(String, usize)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), columns + i))
        .collect()
}

/// A scenario of `targets`.
pub(super) fn targets(
    ctx: &Context,
    targets: Vec<TargetSpec>,
    parts: Parts,
) -> Result<HttpWorkload, ResolveError> {
    let data = read_data(ctx, parts.data, parts.at)?;
    let recording = Recording::new(ctx.env);
    let env = |n: &str| recording.lookup(n);
    let columns = data.as_ref().map_or(0, |d| d.columns.len());
    let run_vars = run_slots(parts.run_vars, columns);
    let scope = Scope {
        data: data.as_ref(),
        captured: &run_vars,
        later: &[],
        env: &env,
    };
    let weights: Vec<f64> = targets.iter().filter_map(|t| t.weight).collect();
    for (i, t) in targets.iter().enumerate() {
        if t.websocket.as_ref().is_some_and(|w| w.capture.is_some()) {
            return Err(ResolveError::at(
                parts
                    .at
                    .key("targets")
                    .index(i)
                    .key("websocket")
                    .key("capture"),
                "captures are for flow steps: write the WebSocket step under `flow:` to capture from its replies"
                    .to_string(),
            ));
        }
    }
    let mut parts = parts;
    let any_grpc = targets.iter().any(|t| t.grpc.is_some());
    grpc_needs_h2(&mut parts.settings, any_grpc, parts.at)?;
    let mut names = Vec::new();
    let mut requests = Vec::with_capacity(targets.len());
    for (i, t) in targets.into_iter().enumerate() {
        let at = parts.at.key("targets").index(i);
        let check = check(&scope, parts.expect, &parts.expect_at)?;
        requests.push(request(ctx, &scope, &parts, t, &at, check, &mut names)?);
    }
    Ok(HttpWorkload {
        requests,
        names,
        mix: if weights.is_empty() {
            Mix::InOrder
        } else {
            Mix::Weighted(weights)
        },
        slots: columns + run_vars.len(),
        kept: columns + run_vars.len(),
        data,
        settings: parts.settings,
        cookies: parts.cookies,
        seed: parts.seed,
        setup: Vec::new(),
        substituted: recording.into_used(),
        run_vars,
        preset: Preset::default(),
    })
}

/// A scenario of `flow` steps, with its `setup` steps (none: empty).
pub(super) fn flow(
    ctx: &Context,
    setup: Vec<StepSpec>,
    (key, steps): (&str, Vec<StepSpec>),
    parts: Parts,
) -> Result<HttpWorkload, ResolveError> {
    let (mut setup, mut steps) = (setup, steps);
    websocket_checks_inside(&mut setup, &parts.at.key("setup"))?;
    websocket_checks_inside(&mut steps, &parts.at.key(key))?;
    let mut parts = parts;
    let any_grpc = setup
        .iter()
        .chain(&steps)
        .any(|s| s.request.0.grpc.is_some());
    grpc_needs_h2(&mut parts.settings, any_grpc, parts.at)?;
    let data = read_data(ctx, parts.data, parts.at)?;
    let columns = data.as_ref().map_or(0, |d| d.columns.len());
    // Every variable a step binds (its loop variable, then its captures), in flow order, with
    // the step that binds it.
    let all: Vec<(String, String)> = setup
        .iter()
        .chain(&steps)
        .flat_map(|s| {
            let step = step_name(s);
            s.for_each
                .iter()
                .map(|f| f.var.clone())
                .chain(
                    s.capture
                        .iter()
                        .flat_map(|c| c.0.iter())
                        .map(|(n, _)| n.clone()),
                )
                .map(move |n| (n, step.clone()))
        })
        .collect();
    let recording = Recording::new(ctx.env);
    let env = |n: &str| recording.lookup(n);
    let mut b = Builder {
        ctx,
        env: &env,
        parts: &parts,
        data: data.as_ref(),
        all: &all,
        captured: run_slots(parts.run_vars, columns),
        bound: 0,
        next_slot: columns + parts.run_vars.len(),
        names: Vec::new(),
        requests: Vec::with_capacity(setup.len() + steps.len()),
    };
    let setup = b.steps(setup, "setup")?;
    let kept = b.next_slot;
    let out = b.steps(steps, key)?;
    let (slots, requests, names) = (b.next_slot, b.requests, b.names);
    Ok(HttpWorkload {
        slots,
        requests,
        names,
        mix: Mix::Flow(out),
        data,
        settings: parts.settings,
        cookies: parts.cookies,
        seed: parts.seed,
        setup,
        kept,
        substituted: recording.into_used(),
        run_vars: run_slots(parts.run_vars, columns),
        preset: Preset::default(),
    })
}

/// What resolving a flow's steps has bound so far.
struct Builder<'a> {
    ctx: &'a Context<'a>,
    env: &'a dyn Fn(&str) -> Option<String>,
    parts: &'a Parts<'a>,
    data: Option<&'a DataTable>,
    /// Every variable the flow binds, in order, with its step.
    all: &'a [(String, String)],
    /// Variables in scope after the steps resolved so far: (name, slot).
    captured: Vec<(String, usize)>,
    /// Variables bound so far (an index into `all`), and the next free slot: a loop's
    /// variable leaves the scope after its step but keeps its slot.
    bound: usize,
    next_slot: usize,
    names: Vec<String>,
    requests: Vec<RequestTemplate>,
}

impl Builder<'_> {
    /// The steps under `key` (`setup` or `flow`), in order.
    fn steps(&mut self, specs: Vec<StepSpec>, key: &str) -> Result<Vec<Step>, ResolveError> {
        let weights: Vec<Option<f64>> = specs.iter().map(|s| s.weight.map(|w| w.get())).collect();
        let branches = branches(&weights).map_err(|k| {
            ResolveError::at(
                self.parts.at.key(key).index(k).key("weight"),
                "a weighted step chooses among the weighted steps next to it, and this one has none: weight two or more consecutive steps (one of them runs per iteration), or use `chance:`",
            )
        })?;
        let mut out = Vec::with_capacity(specs.len());
        for ((k, s), branch) in specs.into_iter().enumerate().zip(branches) {
            let at = self.parts.at.key(key).index(k);
            out.push(Step {
                branch,
                ..self.step(s, &at)?
            });
        }
        Ok(out)
    }

    fn bind(&mut self, name: &str) -> usize {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.bound += 1;
        self.captured.push((name.to_string(), slot));
        slot
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            data: self.data,
            captured: &self.captured,
            later: self.all.get(self.bound..).unwrap_or_default(),
            env: self.env,
        }
    }

    /// A variable a condition or loop reads: it must be bound before this step.
    fn known(&self, name: &str, at: &Path) -> Result<usize, ResolveError> {
        let scope = self.scope();
        scope.slot(name).ok_or_else(|| {
            let later = scope.later.iter().find(|(n, _)| n == name);
            let known: Vec<&str> = scope
                .captured
                .iter()
                .map(|(n, _)| n.as_str())
                .chain(self.data.iter().flat_map(|d| d.columns.iter().map(String::as_str)))
                .collect();
            let why = match later {
                Some((_, step)) => format!(
                    "`{name}` is bound by step `{step}`, which runs later: a step can read variables of the steps before it"
                ),
                None => {
                    let hint = super::wording::suggest(name, known.iter().copied())
                        .map(|near| format!(": did you mean `{near}`?"))
                        .unwrap_or_default();
                    format!(
                        "`{name}` is not a capture of an earlier step, a setup capture or a data column{hint}"
                    )
                }
            };
            ResolveError::at(at.clone(), why)
        })
    }

    fn step(&mut self, s: StepSpec, at: &Path) -> Result<Step, ResolveError> {
        let when = match &s.when {
            None => None,
            Some(WhenSpec::Status(codes)) => Some(Condition::Status(codes.clone())),
            Some(w) => {
                let var = w.var().unwrap_or_default();
                let slot = self.known(var, &at.key("when").key("var"))?;
                Some(match w {
                    WhenSpec::Equals(_, v) => Condition::Equals(slot, v.clone()),
                    WhenSpec::NotEquals(_, v) => Condition::NotEquals(slot, v.clone()),
                    _ => Condition::Set(slot),
                })
            }
        };
        let for_each = match &s.for_each {
            None => None,
            Some(f) => {
                let var_at = at.key("for_each").key("as");
                if !spec::is_variable_name(&f.var) {
                    return Err(ResolveError::at(
                        var_at,
                        format!(
                            "for_each: `{}` is not a variable name: letters, digits and _",
                            f.var
                        ),
                    ));
                }
                let list = self.known(&f.list, &at.key("for_each").key("in"))?;
                if self.scope().slot(&f.var).is_some() {
                    return Err(ResolveError::at(
                        var_at,
                        format!(
                            "for_each: `{}` is already a variable (a capture or a data column): name the element otherwise",
                            f.var
                        ),
                    ));
                }
                let var = self.bind(&f.var);
                Some(Loop {
                    list,
                    var,
                    limit: f.limit.map_or(spec::DEFAULT_FOR_EACH_LIMIT, |l| l.0),
                    list_name: f.list.clone(),
                    var_name: f.var.clone(),
                })
            }
        };
        let mut names = std::mem::take(&mut self.names);
        let scope = self.scope();
        let (expect, expect_at) = match &s.expect {
            Some(e) => (Some(e), at.key("expect")),
            None => (self.parts.expect, self.parts.expect_at.clone()),
        };
        let check = check(&scope, expect, &expect_at)?;
        let mut target = s.request.0;
        target.name = Some(s.name.clone().unwrap_or_else(|| default_name(&target)));
        let request_at = at.key("request");
        let index = self.requests.len();
        let made = request(
            self.ctx,
            &scope,
            self.parts,
            target,
            &request_at,
            check,
            &mut names,
        );
        self.names = names;
        self.requests.push(made?);
        if let Some(each) = &for_each {
            // The element is the step's own: later steps may loop under the same name.
            self.captured.retain(|(_, slot)| *slot != each.var);
        }
        let mut captures = Vec::new();
        for (name, from) in s.capture.map(|c| c.0).unwrap_or_default() {
            let slot = self.bind(&name);
            captures.push(Capture {
                slot,
                name,
                from: from.into(),
            });
        }
        Ok(Step {
            request: index,
            captures,
            think: s.think.map(|t| match t {
                ThinkSpec::Fixed(d) => (d.0, d.0),
                ThinkSpec::Between(a, b) => (a.0, b.0),
            }),
            when,
            chance: s.chance.map(|c| c.0),
            for_each,
            branch: None,
        })
    }
}

/// A WebSocket step's checks and captures are written inside `websocket:` (they apply to each
/// reply); its captures become the step's, like any step's.
fn websocket_checks_inside(steps: &mut [StepSpec], at: &Path) -> Result<(), ResolveError> {
    for (k, s) in steps.iter_mut().enumerate() {
        let Some(w) = s.request.0.websocket.as_mut() else {
            continue;
        };
        for (key, set) in [
            ("expect", s.expect.is_some()),
            ("capture", s.capture.is_some()),
        ] {
            if set {
                return Err(ResolveError::at(
                    at.index(k).key(key),
                    format!(
                        "a WebSocket step's `{key}` goes inside `websocket:` (`websocket.{key}`): it applies to each reply"
                    ),
                ));
            }
        }
        if let Some(c) = &w.capture {
            if let Some((name, _)) =
                c.0.iter()
                    .find(|(_, f)| matches!(f, CaptureSpec::Header(_)))
            {
                return Err(ResolveError::at(
                    at.index(k)
                        .key("request")
                        .key("websocket")
                        .key("capture")
                        .key(name),
                    format!(
                        "capture `{name}`: a WebSocket reply has no headers: capture with `json` or `regex`"
                    ),
                ));
            }
        }
        s.capture = w.capture.take();
    }
    Ok(())
}

fn step_name(s: &StepSpec) -> String {
    s.name.clone().unwrap_or_else(|| default_name(&s.request.0))
}

/// A request's default name: its method and URL as written (`GET /items`); a gRPC call's, its
/// method (`shop.Cart/AddItem`).
fn default_name(t: &TargetSpec) -> String {
    match (&t.grpc, &t.websocket) {
        (Some(g), _) => g.method.clone(),
        (None, Some(_)) => format!("WS {}", t.url.raw),
        (None, None) => format!("{} {}", t.method, t.url.raw),
    }
}

/// One request, its URL checked against the base, its headers layered (defaults, scenario,
/// its own), its name registered.
#[allow(clippy::too_many_arguments)]
fn request(
    ctx: &Context,
    scope: &Scope,
    parts: &Parts,
    t: TargetSpec,
    at: &Path,
    check: Check,
    names: &mut Vec<String>,
) -> Result<RequestTemplate, ResolveError> {
    let mut t = t;
    // Named before the call is taken out: a call's default name is its method.
    if t.name.is_none() {
        t.name = Some(default_name(&t));
    }
    let grpc = match t.grpc.take() {
        Some(g) => Some(grpc_call(ctx, &g, &at.key("grpc"), &mut t)?),
        None => None,
    };
    let ws_at = at.key("websocket");
    let (websocket, check) = match t.websocket.take() {
        Some(w) => (
            Some(websocket_call(scope, &w, &ws_at)?),
            websocket_check(scope, w.expect.as_ref(), &ws_at.key("expect"))?,
        ),
        None => (None, check),
    };
    let (url_at, body_at) = if websocket.is_some() {
        (ws_at.key("url"), ws_at.key("send"))
    } else if grpc.is_some() {
        (at.key("grpc").key("method"), at.key("grpc").key("message"))
    } else if t.object {
        (at.key("url"), at.key(if t.json { "json" } else { "body" }))
    } else {
        (at.clone(), at.clone())
    };
    let url = scope.text(&t.url, &url_at)?;
    // With slots, check the URL with a placeholder in each: its shape must hold whatever the
    // values are, and only the path and query may vary (the connection is chosen at load).
    let sample = url.render(|_| Some("1"));
    let relative = sample.starts_with('/');
    if relative && !parts.has_base {
        return Err(ResolveError::at(
            url_at,
            format!(
                "relative URL `{}` needs `base` (builtin, builtin+https or http(s)://host:port) at the top of the plan",
                t.url.raw
            ),
        ));
    }
    let checked = match websocket {
        Some(_) => spec::check_websocket_url(&sample, &t.url.raw),
        None => spec::check_target_url(&sample, &t.url.raw),
    };
    checked.map_err(|e| ResolveError::at(url_at.clone(), e))?;
    if !relative {
        if let (Some(first), Ok(u)) = (url.first_slot_at(), url::Url::parse(&sample)) {
            let origin_len = u.origin().ascii_serialization().len();
            if first < origin_len {
                return Err(ResolveError::at(
                    url_at,
                    format!(
                        "`{}`: variables may stand in the path and query, not in the scheme, host or port",
                        t.url.raw
                    ),
                ));
            }
        }
    }
    let none = Headers::default();
    let mut headers: Vec<(String, Text)> = Vec::new();
    let layers = [
        (
            parts.defaults_headers.unwrap_or(&none),
            Path::root().key("defaults").key("headers"),
        ),
        (
            parts.scenario_headers.unwrap_or(&none),
            parts.at.key("headers"),
        ),
        (&t.headers, at.key("headers")),
    ];
    for (layer, layer_at) in layers {
        for (k, v) in &layer.0 {
            let h_at = layer_at.key(k);
            let value = scope.text(v, &h_at)?;
            if let Some(s) = value.as_static() {
                if hyper::header::HeaderValue::from_str(&s).is_err() {
                    return Err(ResolveError::at(
                        h_at,
                        format!("the value of header `{k}` is not a valid HTTP header value"),
                    ));
                }
            }
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            headers.push((k.clone(), value));
        }
    }
    if grpc.is_some() {
        headers.push(("content-type".into(), Text::literal("application/grpc")));
        headers.push(("te".into(), Text::literal("trailers")));
    }
    if t.json
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), Text::literal("application/json")));
    }
    let body = match &t.body {
        Some(b) => {
            let text = scope.text(b, &body_at)?;
            Some(if t.json { text.into_json() } else { text })
        }
        None => None,
    };
    let name = t.name.clone().unwrap_or_else(|| default_name(&t));
    let stats = match names.iter().position(|n| *n == name) {
        Some(i) => i,
        None => {
            names.push(name);
            names.len() - 1
        }
    };
    Ok(RequestTemplate {
        stats,
        display: t.url.raw,
        url,
        relative,
        method: t.method,
        headers,
        body,
        check,
        grpc,
        websocket,
    })
}

/// A WebSocket step's message, count and pace.
fn websocket_call(
    scope: &Scope,
    w: &WebSocketSpec,
    at: &Path,
) -> Result<WebSocketCall, ResolveError> {
    let text = scope.text(&w.send.text, &at.key("send"))?;
    Ok(WebSocketCall {
        send: if w.send.json { text.into_json() } else { text },
        messages: w.messages.map_or(1, |m| m.0),
        every: w.every.map_or(Duration::ZERO, |d| d.0),
    })
}

/// What each reply of a WebSocket step must be: its body's `json` paths and `body_contains`; a
/// reply has no status, headers or gRPC code.
fn websocket_check(
    scope: &Scope,
    expect: Option<&ExpectSpec>,
    at: &Path,
) -> Result<Check, ResolveError> {
    if let Some(e) = expect {
        let unfit = [
            ("status", e.status.is_some()),
            ("headers", e.headers.is_some()),
            ("code", e.code.is_some()),
        ];
        if let Some((key, _)) = unfit.iter().find(|(_, set)| *set) {
            return Err(ResolveError::at(
                at.key(key),
                format!(
                    "a WebSocket reply has no `{key}`: check its text with `json` or `body_contains`"
                ),
            ));
        }
    }
    check(scope, expect, at)
}

/// A step's gRPC call compiled and encoded; its metadata become the request's own headers.
fn grpc_call(
    ctx: &Context,
    g: &GrpcSpec,
    at: &Path,
    t: &mut TargetSpec,
) -> Result<GrpcCall, ResolveError> {
    for (k, v) in g.metadata.iter().flat_map(|m| m.0.iter()) {
        t.headers.0.push((k.clone(), v.clone()));
    }
    if !ctx.read_files {
        return Ok(GrpcCall {
            method: g.method.clone(),
            descriptors: Vec::new(),
            output: String::new(),
            server_streaming: false,
            frame: Vec::new(),
        });
    }
    let dir = ctx
        .file
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""));
    super::grpc::resolve(dir, &g.proto, &g.method, g.message.as_ref()).map_err(|(key, why)| {
        let message = match key {
            Key::Message => format!("gRPC message for `{}` {why}", g.method),
            Key::Proto | Key::Method => why,
        };
        ResolveError::at(at.key(key.as_str()), message)
    })
}

/// What a response must be, its texts bound to the scope.
fn check(scope: &Scope, expect: Option<&ExpectSpec>, at: &Path) -> Result<Check, ResolveError> {
    let Some(e) = expect else {
        return Ok(Check::default());
    };
    let mut headers = Vec::new();
    for (k, v) in e.headers.iter().flat_map(|h| h.0.iter()) {
        headers.push((k.clone(), scope.text(v, &at.key("headers").key(k))?));
    }
    Ok(Check {
        status: e.status.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        json: e
            .json
            .iter()
            .flat_map(|j| j.0.iter())
            .map(|(p, x)| match x {
                // `"${user}"`: the variable's value, at run time.
                JsonExpect::Equals(serde_json::Value::String(t)) if t.contains("${") => {
                    let value_at = at.key("json").key(p);
                    let template = Template::parse(t)
                        .map_err(|why| ResolveError::at(value_at.clone(), why))?;
                    Ok((
                        p.clone(),
                        Expect::EqualsText(scope.text(&template, &value_at)?),
                    ))
                }
                other => Ok((p.clone(), other.clone().into())),
            })
            .collect::<Result<_, ResolveError>>()?,
        body_contains: match &e.body_contains {
            Some(t) => Some(scope.text(t, &at.key("body_contains"))?),
            None => None,
        },
        headers,
        grpc_code: e.code.map(|c| c.0),
    })
}

/// A scenario with gRPC calls speaks HTTP/2 (h2c on `http://`): `http: "1.1"` cannot carry them.
fn grpc_needs_h2(settings: &mut HttpSettings, any: bool, at: &Path) -> Result<(), ResolveError> {
    if !any {
        return Ok(());
    }
    match settings.version {
        HttpVersion::Http1 => Err(ResolveError::at(
            at.key("http"),
            "gRPC calls need HTTP/2: drop `http: \"1.1\"` or use `http: \"2\"`".to_string(),
        )),
        HttpVersion::Auto | HttpVersion::Http2 => {
            settings.version = HttpVersion::Http2;
            Ok(())
        }
    }
}

/// The data file, read and checked: a header row of unique names, at least one row, every row
/// as wide as the header. `None` for a plan re-read from saved results, which reads no files.
fn read_data(
    ctx: &Context,
    spec: Option<&DataSpec>,
    at: &Path,
) -> Result<Option<DataTable>, ResolveError> {
    let Some(spec) = spec else { return Ok(None) };
    let file_at = at.key("data").key("file");
    let err =
        |why: String| ResolveError::at(file_at.clone(), format!("data file {}: {why}", spec.file));
    let order = RowOrder::from(spec.order.unwrap_or(DataOrder::Sequential));
    if !ctx.read_files {
        return Ok(Some(DataTable {
            file: spec.file.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
            order,
        }));
    }
    let path = ctx
        .file
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""))
        .join(&spec.file);
    let bytes = crate::files::read_data(&path).map_err(|e| err(e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| err(csv_message(&e)))?
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    for (i, c) in columns.iter().enumerate() {
        let valid = c
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid {
            return Err(err(format!(
                "line 1: column {} `{c}` is not a variable name (letters, digits and _)",
                i + 1
            )));
        }
        if columns[..i].contains(c) {
            return Err(err(format!("line 1: column `{c}` is named twice")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        // A record's error names its line, never its content.
        let record = record.map_err(|e| err(csv_message(&e)))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(err("has a header row but no data row".into()));
    }
    Ok(Some(DataTable {
        file: spec.file.clone(),
        columns,
        rows,
        order,
    }))
}

/// A CSV error with its line, in words that quote nothing of the file.
fn csv_message(e: &csv::Error) -> String {
    let line = e.position().map(|p| format!("line {}: ", p.line()));
    let what = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "not valid CSV".into(),
    };
    format!("{}{what}", line.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::path::Path as FsPath;

    use super::*;
    use crate::plan::{Workload, parse_with};

    fn plan_in(dir: &FsPath, scenario: &str) -> Result<HttpWorkload, crate::plan::PlanError> {
        let text = format!("version: 1\nname: t\nbase: builtin\nscenarios:\n{scenario}");
        let file = dir.join("plan.yaml");
        std::fs::write(&file, &text).expect("write");
        let env = |n: &str| (n == "SECRET").then(|| "s3cret".to_string());
        let plan = parse_with(&file, &text, &env)?;
        match &plan.scenarios[0].workload {
            Workload::Http(h) => Ok(HttpWorkload::clone(h)),
            Workload::Cpu(_) => panic!("an HTTP scenario"),
        }
    }

    const FLOW: &str = r#"  - name: f
    data: { file: users.csv }
    flow:
      - name: login
        request: { url: /login, method: POST, json: { user: "${user}", password: "${password}" } }
        expect: { status: 200, json: { "$.token": exists } }
        capture: { token: { json: "$.token" } }
        think: { min: 10ms, max: 20ms }
      - name: items
        request: { url: "/items/${id}", headers: { authorization: "Bearer ${token}", x-key: "${SECRET}" } }
    repeat: 1
"#;

    /// The cases not refused as they should be: each plan must fail at its line and column
    /// with a message holding the words, and never show the data file's password (`pw1`).
    fn misplaced<const N: usize>(
        dir: &FsPath,
        cases: [(String, usize, usize, &str); N],
    ) -> Vec<String> {
        let mut wrong = Vec::new();
        for (i, (scenario, line, column, message)) in cases.into_iter().enumerate() {
            match plan_in(dir, &scenario) {
                Ok(_) => wrong.push(format!("case {i}: accepted")),
                Err(e) if !e.message.contains(message) || (e.line, e.column) != (line, column) => {
                    wrong.push(format!("case {i}: want {line}:{column} {message}, got {e}"))
                }
                Err(e) if e.to_string().contains("pw1") => {
                    wrong.push(format!("case {i}: shows a data value: {e}"))
                }
                Err(_) => {}
            }
        }
        wrong
    }

    /// [`misplaced`] for edits of one scenario: (from, to, line, column, words).
    fn misplaced_edits<const N: usize>(
        dir: &FsPath,
        scenario: &str,
        edits: [(&str, &str, usize, usize, &str); N],
    ) -> Vec<String> {
        let cases = edits.map(|(from, to, line, column, message)| {
            (scenario.replace(from, to), line, column, message)
        });
        misplaced(dir, cases)
    }

    #[test]
    fn variables_bind_to_slots_in_flow_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("users.csv"),
            "user,password,id\nann,pw1,1\nbob,pw2,2\n",
        )
        .expect("csv");
        let w = plan_in(dir.path(), FLOW).expect("valid");
        assert_eq!(w.names, ["login", "items"]);
        assert_eq!(w.slots, 4, "three columns and one capture");
        let Mix::Flow(steps) = &w.mix else {
            panic!("a flow")
        };
        assert_eq!(steps[0].captures[0].slot, 3);
        assert_eq!(
            steps[0].think,
            Some((Duration::from_millis(10), Duration::from_millis(20)))
        );
        let values = ["ann", "pw1", "7", "tok"].map(String::from);
        let get = |n: usize| values.get(n).map(String::as_str);
        let login = &w.requests[0];
        assert_eq!(
            login.body.as_ref().map(|b| b.render(get)).as_deref(),
            Some(r#"{"password":"pw1","user":"ann"}"#)
        );
        assert!(login.headers.iter().any(|(k, _)| k == "content-type"));
        let items = &w.requests[1];
        assert_eq!(items.url.render(get), "/items/7");
        let auth = items
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .expect("auth");
        assert_eq!(auth.1.render(get), "Bearer tok");
        let key = items
            .headers
            .iter()
            .find(|(k, _)| k == "x-key")
            .expect("key");
        assert_eq!(
            key.1.as_static().as_deref(),
            Some("s3cret"),
            "environment substituted at load"
        );
        assert!(!format!("{w:?}").contains("s3cret"));
        assert!(!format!("{w:?}").contains("pw1"));
    }

    #[test]
    fn bad_flows_are_refused_where_they_are_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("users.csv"),
            "user,password,id\nann,pw1,1\n",
        )
        .expect("csv");
        std::fs::write(dir.path().join("empty.csv"), "user\n").expect("csv");
        let cases: [(String, usize, usize, &str); 6] = [
            // `UNDEFINED` is in no column, no capture and no environment variable: the error
            // points at its use.
            (
                FLOW.replace("/items/${id}", "/items/${UNDEFINED}"),
                14,
                33,
                "`UNDEFINED`",
            ),
            (
                FLOW.replace("users.csv", "missing.csv"),
                6,
                19,
                "data file missing.csv",
            ),
            (FLOW.replace("users.csv", "empty.csv"), 6, 19, "no data row"),
            (
                FLOW.replace("$.token\": exists", "$..[?bad\": exists"),
                10,
                38,
                "is not a JSON path",
            ),
            (
                FLOW.replace("Bearer ${token}", "Bearer ${later}")
                    .replace("think: { min: 10ms, max: 20ms }", "think: 5ms"),
                14,
                75,
                "no column `later`",
            ),
            (
                FLOW.replace(
                    "capture: { token: { json: \"$.token\" } }",
                    "capture: { token: { regex: \"(\" } }",
                ),
                11,
                18,
                "not a regular expression: unclosed group",
            ),
        ];
        let wrong = misplaced(dir.path(), cases);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_column_the_data_file_lacks_is_named_as_such_where_it_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("users.csv"), "user,id\nann,1\n").expect("csv");
        let e = plan_in(dir.path(), FLOW).expect_err("no password column");
        assert_eq!(
            e.message,
            "data file `users.csv` has no column `password` (its columns: `user`, `id`), nor is it a capture of an earlier step or an environment variable"
        );
        // Line 9 is the login request; column 83 its `${password}`.
        assert_eq!((e.line, e.column), (9, 83), "{e}");
        // Two missing columns, and an unset environment variable beside them: each in its words.
        std::fs::write(dir.path().join("users.csv"), "user\nann\n").expect("csv");
        let scenario = FLOW.replace("${SECRET}", "${UNSET_KEY}");
        let e = plan_in(dir.path(), &scenario).expect_err("no password, id or UNSET_KEY");
        assert_eq!(
            e.message,
            "data file `users.csv` has no columns `password`, `id` (its columns: `user`), nor are they captures of earlier steps or environment variables; environment variable `UNSET_KEY` is not set\n  line 9: `${password}`\n  line 14: `${id}`\n  line 14: `${UNSET_KEY}`, nor a column of users.csv (user) or a capture of an earlier step"
        );
        assert_eq!((e.line, e.column), (9, 83), "{e}");
    }

    const LOGIC: &str = r#"  - name: f
    setup:
      - name: login
        request: { url: /login, method: POST }
        capture: { token: { json: "$.token" } }
    flow:
      - name: list
        request: { url: /items, headers: { authorization: "Bearer ${token}" } }
        capture: { ids: { json: "$.items[*].id", pick: all }, more: { json: "$.more" } }
      - name: item
        for_each: { in: ids, as: id, limit: 5 }
        request: "/items/${id}"
      - name: more
        when: { var: more, equals: "yes" }
        chance: 20%
        request: /more
    repeat: 1
"#;

    #[test]
    fn setup_captures_are_kept_and_flow_logic_binds_its_slots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = plan_in(dir.path(), LOGIC).expect("valid");
        assert_eq!(w.names, ["login", "list", "item", "more"]);
        assert_eq!((w.kept, w.slots), (1, 4), "token kept; ids, more, id not");
        assert_eq!(w.setup.len(), 1);
        assert_eq!(w.setup[0].request, 0);
        let Mix::Flow(steps) = &w.mix else {
            panic!("a flow")
        };
        assert_eq!(steps[0].request, 1);
        assert_eq!(
            steps[0].captures[0].from,
            CaptureFrom::JsonMany("$.items[*].id".into(), PickMany::All)
        );
        let each = steps[1].for_each.as_ref().expect("a loop");
        assert_eq!((each.list, each.var, each.limit), (1, 3, 5));
        assert_eq!(steps[2].when, Some(Condition::Equals(2, "yes".into())));
        assert_eq!(steps[2].chance, Some(0.2));
        assert!(w.random_choices());
    }

    #[test]
    fn bad_flow_logic_is_refused_where_it_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let edits = [
            ("in: ids", "in: idz", 15, 25, "did you mean `ids`?"),
            ("var: more", "var: mor", 18, 22, "`mor` is not a capture"),
            (
                "as: id,",
                "as: more,",
                15,
                34,
                "`more` is already a variable",
            ),
            ("chance: 20%", "chance: 120%", 19, 17, "from 0% to 100%"),
            ("chance: 20%", "chance: 20", 19, 17, "such as 20%"),
            ("limit: 5", "limit: 0", 15, 45, "from 1 to 10000"),
            (
                "Bearer ${token}",
                "Bearer ${id}",
                12,
                59,
                "`${id}` is captured by step `item`, which runs later",
            ),
        ];
        let wrong = misplaced_edits(dir.path(), LOGIC, edits);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn consecutive_weighted_steps_split_the_draw_in_proportion_to_their_weights() {
        let b = |opens, from, to| Some(Branch { opens, from, to });
        type Switches = Result<Vec<Option<Branch>>, usize>;
        let cases: [(&[Option<f64>], Switches); 6] = [
            (&[None, None], Ok(vec![None, None])),
            (
                &[Some(3.0), Some(1.0)],
                Ok(vec![b(true, 0.0, 0.75), b(false, 0.75, 1.0)]),
            ),
            (
                &[None, Some(1.0), Some(1.0), Some(2.0), None],
                Ok(vec![
                    None,
                    b(true, 0.0, 0.25),
                    b(false, 0.25, 0.5),
                    b(false, 0.5, 1.0),
                    None,
                ]),
            ),
            // Two switches apart: each draws its own.
            (
                &[Some(1.0), Some(1.0), None, Some(1.0), Some(4.0)],
                Ok(vec![
                    b(true, 0.0, 0.5),
                    b(false, 0.5, 1.0),
                    None,
                    b(true, 0.0, 0.2),
                    b(false, 0.2, 1.0),
                ]),
            ),
            (&[None, Some(2.0), None], Err(1)),
            (&[Some(1.0), Some(1.0), None, Some(1.0)], Err(3)),
        ];
        for (weights, want) in cases {
            assert_eq!(branches(weights), want, "{weights:?}");
        }
        // Drawn as a user draws them (one uniform number per switch), each step runs in its
        // weight's share of iterations, and exactly one step of the switch runs each time.
        let switch = branches(&[Some(1.0), Some(3.0), Some(6.0)]).expect("a switch");
        let mut rng = fastrand::Rng::with_seed(7);
        let mut ran = [0u32; 3];
        for _ in 0..100_000 {
            let draw = rng.f64();
            let chosen: Vec<usize> = (0..3)
                .filter(|&i| switch[i].is_some_and(|b| (b.from..b.to).contains(&draw)))
                .collect();
            assert_eq!(chosen.len(), 1, "{draw}");
            ran[chosen[0]] += 1;
        }
        for (n, share) in ran.iter().zip([0.1, 0.3, 0.6]) {
            let got = f64::from(*n) / 100_000.0;
            assert!((got - share).abs() < 0.01, "{ran:?}");
        }
    }

    const WEIGHTED: &str = r#"  - name: w
    flow:
      - name: list
        request: /items
      - name: cart
        weight: 3
        request: /cart
      - name: search
        weight: 1
        request: /search
    repeat: 1
"#;

    #[test]
    fn weighted_steps_resolve_to_one_switch_and_bad_weights_are_refused_where_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = plan_in(dir.path(), WEIGHTED).expect("valid");
        let Mix::Flow(steps) = &w.mix else {
            panic!("a flow")
        };
        let got: Vec<Option<Branch>> = steps.iter().map(|s| s.branch).collect();
        assert_eq!(
            got,
            branches(&[None, Some(3.0), Some(1.0)]).expect("switch")
        );
        assert!(w.random_choices());
        let edits = [
            (
                "        weight: 1\n",
                "",
                10,
                17,
                "has none: weight two or more consecutive steps",
            ),
            ("weight: 3", "weight: 0", 10, 17, "positive"),
            ("weight: 3", "weight: heavy", 10, 17, "a positive number"),
        ];
        let wrong = misplaced_edits(dir.path(), WEIGHTED, edits);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
