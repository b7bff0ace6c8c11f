//! Flows as written: `flow:` and `setup:` steps (a request, what its response must be, what to
//! capture from it, a pause after it; when it runs: `when`, `chance`, `weight`; how often:
//! `for_each`), and `data:` (a CSV file whose columns become variables). Each value is checked as
//! it is read; what needs the whole flow (a variable's scope, a switch of weighted steps) is
//! checked in `requests.rs`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Dur, ExpectSpec, RequestSpec, TargetSpec};

/// One step of a flow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The name its statistics go by; default: method and URL as written.
    #[serde(default)]
    pub name: Option<String>,
    /// The request: `{url, method, headers, body | json}`.
    pub request: StepRequest,
    /// What the response must be; a failed expectation ends the iteration.
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
    /// Variables taken from the response for the later steps of the same iteration; one that
    /// finds nothing ends the iteration.
    #[serde(default)]
    pub capture: Option<Captures>,
    /// A pause after the step: `100ms`, or `{min: 50ms, max: 200ms}` (uniform).
    #[serde(default)]
    pub think: Option<ThinkSpec>,
    /// The step runs only when this holds (else it is skipped, sending nothing):
    /// `{status: 200}` the previous request's status; `{var: NAME}` set and not empty;
    /// `{var: NAME, equals: TEXT}` or `{var: NAME, not_equals: TEXT}`.
    #[serde(default)]
    pub when: Option<WhenSpec>,
    /// The share of iterations in which the step runs, drawn at random: `20%`.
    #[serde(default)]
    pub chance: Option<Chance>,
    /// The request once per element of a captured JSON array (a capture with `pick: all`):
    /// `{in: ids, as: id, limit: 50}`.
    #[serde(default)]
    pub for_each: Option<ForEachSpec>,
    /// A positive number: consecutive steps with a `weight` are one random switch, exactly one
    /// of them runs per iteration, chosen in proportion to its weight.
    #[serde(default)]
    pub weight: Option<super::Weight>,
}

/// `chance: 20%`: a percentage from 0% to 100%.
#[derive(Debug, Clone, Copy)]
pub struct Chance(pub f64);

impl Chance {
    pub fn parse(s: &str) -> Result<Chance, String> {
        let t = s.trim();
        let why = || format!("chance `{s}`: write a percentage from 0% to 100%, such as 20%");
        let num = t.strip_suffix('%').ok_or_else(why)?;
        match num.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(Chance(v / 100.0)),
            _ => Err(why()),
        }
    }
}

impl<'de> Deserialize<'de> for Chance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Chance;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a percentage such as 20%")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Chance, E> {
                Chance::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Chance, E> {
                Err(E::custom(format!(
                    "chance `{v}`: write a percentage with its sign, such as {v}%"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Chance, E> {
                Err(E::custom(format!(
                    "chance `{v}`: write a percentage with its sign, such as 20%"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Chance {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Chance".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The share of iterations in which the step runs, drawn at random: a percentage from 0% to 100%.",
            "type": "string",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$",
            "examples": ["20%"]
        })
    }
}

/// A step's condition as written: exactly one of `status` or `var`; `equals` or `not_equals`
/// only beside `var`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawWhen")]
pub enum WhenSpec {
    /// The previous request of the iteration (or of the setup) had one of these statuses.
    Status(Vec<u16>),
    /// The variable is set and not empty.
    Set(String),
    Equals(String, String),
    NotEquals(String, String),
}

impl WhenSpec {
    /// The variable it reads, if any.
    pub fn var(&self) -> Option<&str> {
        match self {
            WhenSpec::Status(_) => None,
            WhenSpec::Set(v) | WhenSpec::Equals(v, _) | WhenSpec::NotEquals(v, _) => Some(v),
        }
    }
}

/// `when:` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    /// The previous request's status must be one of these.
    #[serde(default)]
    status: Option<super::StatusList>,
    /// A variable (a capture of an earlier step or of `setup`, a data column, a `for_each`
    /// variable) that must be set and not empty, or compared with `equals` / `not_equals`.
    #[serde(default)]
    var: Option<String>,
    /// The variable's text must be this.
    #[serde(default)]
    equals: Option<Scalar>,
    /// The variable's text must not be this.
    #[serde(default)]
    not_equals: Option<Scalar>,
}

impl TryFrom<RawWhen> for WhenSpec {
    type Error = String;

    fn try_from(r: RawWhen) -> Result<Self, String> {
        if let Some(v) = &r.var {
            if !super::is_variable_name(v) {
                return Err(format!(
                    "when: `{v}` is not a variable name: letters, digits and _ (write `var: token`, not `var: ${{token}}`)"
                ));
            }
        }
        match (r.status, r.var, r.equals, r.not_equals) {
            (Some(s), None, None, None) => Ok(WhenSpec::Status(s.0)),
            (None, Some(v), None, None) => Ok(WhenSpec::Set(v)),
            (None, Some(v), Some(e), None) => Ok(WhenSpec::Equals(v, e.0)),
            (None, Some(v), None, Some(e)) => Ok(WhenSpec::NotEquals(v, e.0)),
            (None, Some(_), Some(_), Some(_)) => {
                Err("when: set `equals` or `not_equals`, not both".into())
            }
            (Some(_), Some(_), _, _) => Err("when: set `status` or `var`, not both".into()),
            (Some(_), None, _, _) => {
                Err("when: `equals` and `not_equals` compare a `var`, not a `status`".into())
            }
            (None, None, _, _) => Err("when: set `status: CODE` or `var: NAME`".into()),
        }
    }
}

impl JsonSchema for WhenSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "When".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<RawWhen>()
    }
}

/// A text, a number or a boolean, compared as the text it reads as (`3`, `true`).
#[derive(Debug, Clone)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar, E> {
                Ok(Scalar(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "boolean"]})
    }
}

/// Elements a `for_each` takes when its `limit` is not given.
pub const DEFAULT_FOR_EACH_LIMIT: usize = 100;
/// The largest `limit` a `for_each` may have.
pub const MAX_FOR_EACH_LIMIT: usize = 10_000;

/// `for_each: {in: ids, as: id, limit: 50}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEachSpec {
    /// A variable holding a JSON array: a capture with `pick: all` of an earlier step.
    #[serde(rename = "in")]
    pub list: String,
    /// The variable each element is bound to in this step (a string as is, else its JSON).
    #[serde(rename = "as")]
    pub var: String,
    /// At most this many elements, the first ones (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<ForEachLimit>,
}

/// A `for_each` limit: 1 to 10,000.
#[derive(Debug, Clone, Copy)]
pub struct ForEachLimit(pub usize);

impl<'de> Deserialize<'de> for ForEachLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ForEachLimit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number from 1 to 10000")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ForEachLimit, E> {
                match usize::try_from(v) {
                    Ok(n) if (1..=MAX_FOR_EACH_LIMIT).contains(&n) => Ok(ForEachLimit(n)),
                    _ => Err(E::custom(format!(
                        "for_each limit {v}: write a whole number from 1 to {MAX_FOR_EACH_LIMIT}"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ForEachLimit, E> {
                Err(E::custom(format!(
                    "for_each limit {v}: write a whole number from 1 to {MAX_FOR_EACH_LIMIT}"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ForEachLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ForEachLimit".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": MAX_FOR_EACH_LIMIT})
    }
}

/// A step's request: a request object without `name` or `weight` (the step has the name).
#[derive(Debug)]
pub struct StepRequest(pub TargetSpec);

impl<'de> Deserialize<'de> for StepRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = TargetSpec::deserialize(d)?;
        if t.weight.is_some() || t.name.is_some() {
            return Err(de::Error::custom(
                "a step's request has no `name` or `weight`: name the step instead",
            ));
        }
        Ok(StepRequest(t))
    }
}

impl JsonSchema for StepRequest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StepRequest".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<RequestSpec>()
    }
}

/// `capture: { token: { json: "$.token" }, next: { header: location }, id: { regex: 'id=(\d+)' } }`,
/// in the order written.
#[derive(Debug, Default)]
pub struct Captures(pub Vec<(String, CaptureSpec)>);

/// Where a captured value comes from: `{json: PATH}`, `{header: NAME}` or `{regex: PATTERN}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(try_from = "RawCapture", into = "RawCapture")]
pub enum CaptureSpec {
    /// The first node a JSON path (RFC 9535) finds in the body (a string as is, else its JSON).
    Json(String),
    /// `{json: PATH, pick: random | all}`: one of the nodes at random, or all of them as a JSON
    /// array (for `for_each`).
    JsonMany(String, PickMany),
    /// A response header's value.
    Header(String),
    /// A regular expression's first group (or whole match) in the body.
    Regex(String),
}

/// Which of a JSON path's nodes a capture takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PickSpec {
    /// The first node (the default).
    First,
    /// One node at random.
    Random,
    /// Every node, as a JSON array.
    All,
}

/// `pick: random | all`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum PickMany {
    Random,
    All,
}

/// A capture as written: exactly one of `json`, `header` and `regex`; `pick` beside `json`.
#[derive(Debug, serde::Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    /// The first node a JSON path (RFC 9535) finds in the body.
    #[serde(default)]
    json: Option<String>,
    /// Which of the JSON path's nodes: `first` (default), `random`, or `all` (a JSON array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pick: Option<PickSpec>,
    /// A response header's value.
    #[serde(default)]
    header: Option<String>,
    /// A regular expression's first group (or whole match) in the body.
    #[serde(default)]
    regex: Option<String>,
}

impl TryFrom<RawCapture> for CaptureSpec {
    type Error = String;

    fn try_from(r: RawCapture) -> Result<Self, String> {
        match (r.json, r.header, r.regex, r.pick) {
            (Some(p), None, None, None | Some(PickSpec::First)) => Ok(CaptureSpec::Json(p)),
            (Some(p), None, None, Some(PickSpec::Random)) => {
                Ok(CaptureSpec::JsonMany(p, PickMany::Random))
            }
            (Some(p), None, None, Some(PickSpec::All)) => {
                Ok(CaptureSpec::JsonMany(p, PickMany::All))
            }
            (_, _, _, Some(_)) => Err("a capture's `pick` goes with `json`".into()),
            (None, Some(h), None, None) => Ok(CaptureSpec::Header(h)),
            (None, None, Some(r), None) => Ok(CaptureSpec::Regex(r)),
            _ => Err("a capture takes one of `json`, `header` or `regex`".into()),
        }
    }
}

impl From<CaptureSpec> for RawCapture {
    fn from(c: CaptureSpec) -> RawCapture {
        let (json, header, regex) = match &c {
            CaptureSpec::Json(p) | CaptureSpec::JsonMany(p, _) => (Some(p.clone()), None, None),
            CaptureSpec::Header(h) => (None, Some(h.clone()), None),
            CaptureSpec::Regex(r) => (None, None, Some(r.clone())),
        };
        let pick = match c {
            CaptureSpec::JsonMany(_, PickMany::Random) => Some(PickSpec::Random),
            CaptureSpec::JsonMany(_, PickMany::All) => Some(PickSpec::All),
            _ => None,
        };
        RawCapture {
            json,
            pick,
            header,
            regex,
        }
    }
}

impl JsonSchema for CaptureSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capture".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<RawCapture>()
    }
}

impl<'de> Deserialize<'de> for Captures {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = |name: &str, before: &[(String, CaptureSpec)]| {
            if !super::is_variable_name(name) {
                return Err(format!(
                    "`{name}` is not a variable name: letters, digits and _"
                ));
            }
            if before.iter().any(|(n, _)| n == name) {
                return Err(format!("`{name}` is captured twice"));
            }
            Ok(())
        };
        let spec = |_: &str, spec: CaptureSpec| {
            match &spec {
                CaptureSpec::Json(p) | CaptureSpec::JsonMany(p, _) => {
                    serde_json_path::JsonPath::parse(p)
                        .map(|_| ())
                        .map_err(|e| format!("`{p}` is not a JSON path (RFC 9535): {e}"))
                }
                CaptureSpec::Regex(r) => regex::Regex::new(r).map(|_| ()).map_err(|e| {
                    // The library draws a caret over the pattern; its last line says why.
                    let why = e.to_string();
                    let why = why
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("error: ");
                    format!("`{r}` is not a regular expression: {why}")
                }),
                CaptureSpec::Header(h) => hyper::header::HeaderName::from_bytes(h.as_bytes())
                    .map(|_| ())
                    .map_err(|_| format!("`{h}` is not a header name")),
            }?;
            Ok(spec)
        };
        let expecting = "a map of variable names to {json | header | regex}";
        super::ordered_map(d, expecting, name, spec).map(Captures)
    }
}

/// A pause after a step.
#[derive(Debug, Clone, Copy)]
pub enum ThinkSpec {
    Fixed(Dur),
    /// Uniform between the two.
    Between(Dur, Dur),
}

impl<'de> Deserialize<'de> for ThinkSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            min: Dur,
            max: Dur,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Fixed(Dur),
            Range(Range),
        }
        match Either::deserialize(d)? {
            Either::Fixed(d) => Ok(ThinkSpec::Fixed(d)),
            Either::Range(r) if r.min.0 <= r.max.0 => Ok(ThinkSpec::Between(r.min, r.max)),
            Either::Range(_) => Err(de::Error::custom("think: `min` is above `max`")),
        }
    }
}

/// `data: { file: users.csv, order: sequential | random | unique }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A CSV file with a header row, relative to the plan.
    pub file: String,
    #[serde(default)]
    pub order: Option<DataOrder>,
}

/// How iterations take rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataOrder {
    /// Row after row, starting again at the top (the default).
    Sequential,
    /// A row at random for every iteration.
    Random,
    /// Each row once at most, across users, worker processes and shards; when they are used
    /// up, the users stop.
    Unique,
}

/// `seed: 42`: the seed of the random choices (weighted mixes, random rows, think ranges).
#[derive(Debug, Clone, Copy)]
pub struct Seed(pub u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Seed)
    }
}
