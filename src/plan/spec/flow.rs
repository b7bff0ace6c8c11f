//! Flows as written: `flow:` steps (a request, what its response must be, what to capture from
//! it, a pause after it), and `data:` (a CSV file whose columns become variables).

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
    /// A response header's value.
    Header(String),
    /// A regular expression's first group (or whole match) in the body.
    Regex(String),
}

/// A capture as written: exactly one of its keys.
#[derive(Debug, serde::Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    /// The first node a JSON path (RFC 9535) finds in the body.
    #[serde(default)]
    json: Option<String>,
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
        match (r.json, r.header, r.regex) {
            (Some(p), None, None) => Ok(CaptureSpec::Json(p)),
            (None, Some(h), None) => Ok(CaptureSpec::Header(h)),
            (None, None, Some(r)) => Ok(CaptureSpec::Regex(r)),
            _ => Err("a capture takes one of `json`, `header` or `regex`".into()),
        }
    }
}

impl From<CaptureSpec> for RawCapture {
    fn from(c: CaptureSpec) -> RawCapture {
        let (json, header, regex) = match c {
            CaptureSpec::Json(p) => (Some(p), None, None),
            CaptureSpec::Header(h) => (None, Some(h), None),
            CaptureSpec::Regex(r) => (None, None, Some(r)),
        };
        RawCapture {
            json,
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
                CaptureSpec::Json(p) => serde_json_path::JsonPath::parse(p)
                    .map(|_| ())
                    .map_err(|e| format!("`{p}` is not a JSON path (RFC 9535): {e}")),
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
