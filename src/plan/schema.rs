//! The plan format's JSON Schema, generated from the YAML mirror's types (for editors, through
//! the `yaml-language-server` modeline of the example plans); summary.json's is
//! `stats::summary_schema`. Input: the types of `spec/`; output: text. Must not read or write.
//!
//! The plan's values are parsed by hand-written `Deserialize` impls (durations, `${NAME}`
//! templates, "a number or a list"), so their schemas are written here beside each other; every
//! struct derives its own. The committed copies in `schemas/` must equal what this generates: a
//! test fails when they are stale (`LOADPLAN_BLESS=1 cargo test schema` rewrites them).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::Threshold;
use super::spec::{
    BaseSpec, CaptureSpec, Captures, ConcurrencySpec, CpuSpec, Dur, GrpcCode, Headers,
    HttpVersionSpec, JsonBody, JsonChecks, Method, Percent, PlanName, PlanSpec, Rate, RawCpu,
    RawScenario, RequestSpec, ScenarioSpec, Scenarios, Seed, StatusList, TargetSpec, Template,
    ThinkSpec, ThroughputPercent, ToleranceMap, ToleranceSpec, Version, WarmupSpec, Weight,
};
use super::spec::{MessageCount, RawSend, WebSocketSend, WebSocketUrl};

/// The plan format's schema, pretty-printed.
pub fn plan() -> String {
    let mut schema = schemars::schema_for!(PlanSpec);
    schema.insert("title".into(), "loadplan plan, version 1".into());
    // Top-level `x-…` keys are read and ignored: a place for YAML anchors.
    schema.insert(
        "patternProperties".into(),
        serde_json::json!({ "^x-": { "description": "Ignored: a place for YAML anchors (`x-flow: &flow`)." } }),
    );
    to_text(&schema)
}

/// A schema as the committed files hold it.
pub fn to_text(schema: &Schema) -> String {
    serde_json::to_string_pretty(schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

macro_rules! schema {
    ($ty:ty, $name:literal, $gen:ident => $body:expr) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema($gen: &mut SchemaGenerator) -> Schema {
                $body
            }
        }
    };
}

schema!(Version, "Version", _g => json_schema!({
    "description": "The plan format version; only 1 exists.",
    "const": 1
}));
schema!(PlanName, "PlanName", _g => json_schema!({
    "description": "The plan's name; it names the report folder.",
    "type": "string", "minLength": 1, "maxLength": 100
}));
schema!(BaseSpec, "Base", _g => json_schema!({
    "description": "`builtin` starts the built-in target server (`builtin+https`: over TLS, with a certificate only this run trusts); otherwise an http:// or https:// origin that relative target URLs resolve against.",
    "type": "string",
    "examples": ["builtin", "builtin+https", "http://127.0.0.1:8080", "https://api.example.com"]
}));
schema!(Scenarios, "Scenarios", g => json_schema!({
    "type": "array", "minItems": 1,
    "items": g.subschema_for::<RawScenario>()
}));
schema!(ScenarioSpec, "ScenarioRef", g => g.subschema_for::<RawScenario>());
schema!(ConcurrencySpec, "Concurrency", _g => json_schema!({
    "description": "Users at once; a list is a sweep, one cell per value.",
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": super::spec::MAX_CONCURRENCY},
        {"type": "array", "minItems": 1, "uniqueItems": true,
         "items": {"type": "integer", "minimum": 1, "maximum": super::spec::MAX_CONCURRENCY}}
    ]
}));
schema!(Dur, "Duration", _g => json_schema!({
    "description": "A duration with its unit.",
    "type": "string",
    "examples": ["250ms", "5s", "2m"]
}));
schema!(Percent, "Percent", _g => json_schema!({
    "description": "A percentage with its sign, from 0% to 1000%, such as 10%.",
    "type": "string",
    "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*%\\s*$",
    "examples": ["10%"]
}));
schema!(ThroughputPercent, "ThroughputPercent", _g => json_schema!({
    "description": "A percentage with its sign, under 100%, such as 10%.",
    "type": "string",
    "pattern": "^\\s*[0-9]{1,2}(\\.[0-9]+)?\\s*%\\s*$",
    "examples": ["10%"]
}));
schema!(ToleranceSpec, "Tolerance", g => json_schema!({
    "description": "How much worse than the baseline a figure may get: one percentage for every figure (under 100%, as it applies to throughput too), or one per figure.",
    "anyOf": [g.subschema_for::<ThroughputPercent>(), g.subschema_for::<ToleranceMap>()]
}));
schema!(Rate, "Rate", _g => json_schema!({
    "description": "Arrivals per second: 500/s, 30/m, or a plain number per second.",
    "type": ["string", "number"],
    "examples": ["500/s", "30/m"]
}));
schema!(WarmupSpec, "Warmup", _g => json_schema!({
    "description": "Operations (a number) or time (a duration) run before measuring, left out of the statistics.",
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "examples": ["5s"]}]
}));
schema!(Template, "Template", _g => json_schema!({
    "description": "Text that may reference environment variables as ${NAME}; $${ writes a literal ${.",
    "type": "string"
}));
schema!(Headers, "Headers", g => json_schema!({
    "description": "Header names and values.",
    "type": "object",
    "additionalProperties": g.subschema_for::<Template>()
}));
schema!(Method, "Method", _g => json_schema!({
    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
}));
schema!(TargetSpec, "Target", g => json_schema!({
    "description": "A URL (a path resolves against `base`), or a request object.",
    "anyOf": [
        {"type": "string", "examples": ["/io?delay=50ms", "http://127.0.0.1:8080/api"]},
        g.subschema_for::<RequestSpec>()
    ]
}));
schema!(GrpcCode, "GrpcCode", _g => {
    let codes = crate::plan::grpc::CODES;
    let names: Vec<serde_json::Value> = codes
        .iter()
        .map(|c| serde_json::Value::from(*c))
        .chain((0..codes.len()).map(serde_json::Value::from))
        .collect();
    json_schema!({
        "description": "A gRPC status code, by name or number.",
        "enum": names
    })
});
schema!(StatusList, "StatusList", _g => json_schema!({
    "description": "The accepted status code, or a list of them.",
    "anyOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 100, "maximum": 599}}
    ]
}));
schema!(HttpVersionSpec, "HttpVersion", _g => json_schema!({
    "description": "The HTTP protocol: auto (ALPN picks h2 when offered, else HTTP/1.1), \"1.1\", or \"2\" (h2 through ALPN over TLS, h2c with prior knowledge over http://).",
    "enum": ["auto", "1.1", "2", 2, 1.1]
}));
schema!(Weight, "Weight", _g => json_schema!({
    "description": "A relative weight, a positive number: a target's share of a mix (each operation picks a target at random in these proportions), or a flow step's share of its switch (consecutive weighted steps: one of them runs per iteration).",
    "type": "number", "exclusiveMinimum": 0
}));
schema!(JsonBody, "JsonBody", _g => json_schema!({
    "description": "The request body as JSON, written as YAML (sent with content-type application/json); strings may hold ${NAME}."
}));
schema!(WebSocketUrl, "WebSocketUrl", _g => json_schema!({
    "description": "ws://host/path, wss://host/path, or a path joined onto base (http becomes ws, https wss); the path and query may hold ${NAME}.",
    "type": "string",
    "examples": ["/ws", "wss://chat.example.com/room"]
}));
schema!(WebSocketSend, "WebSocketSend", g => json_schema!({
    "description": "The message each send carries: a text, or {json: …} (JSON written as YAML); both may hold ${NAME}.",
    "anyOf": [
        g.subschema_for::<Template>(),
        g.subschema_for::<RawSend>()
    ]
}));
schema!(MessageCount, "MessageCount", _g => json_schema!({
    "description": "How many messages the WebSocket step sends on its connection, each waiting for its reply.",
    "type": "integer", "minimum": 1, "maximum": 1000000
}));
schema!(JsonChecks, "JsonChecks", _g => json_schema!({
    "description": "JSON paths (RFC 9535) into the response body, each `exists` or the value its first node must equal.",
    "type": "object",
    "additionalProperties": {"anyOf": [{"const": "exists"}, {"type": ["string", "number", "boolean", "null"]}]},
    "examples": [{"$.token": "exists", "$.items[0].id": 1}]
}));
schema!(Captures, "Captures", g => json_schema!({
    "description": "Variables taken from the response, for the later steps of the same iteration: a JSON path, a header, or a regular expression (its first group).",
    "type": "object",
    "additionalProperties": g.subschema_for::<CaptureSpec>(),
    "examples": [{"token": {"json": "$.token"}}, {"next": {"header": "location"}}, {"id": {"regex": "id=(\\d+)"}}]
}));
schema!(ThinkSpec, "Think", g => json_schema!({
    "description": "A pause after the step: a duration, or a uniform range {min, max}.",
    "anyOf": [g.subschema_for::<Dur>(), {"type": "object", "properties": {"min": g.subschema_for::<Dur>(), "max": g.subschema_for::<Dur>()}, "required": ["min", "max"], "additionalProperties": false}]
}));
schema!(Seed, "Seed", _g => json_schema!({
    "description": "The seed of random choices (weighted targets, random rows, think ranges).",
    "type": "integer", "minimum": 0
}));
schema!(CpuSpec, "CpuRef", g => g.subschema_for::<RawCpu>());
schema!(Threshold, "Threshold", _g => json_schema!({
    "description": "metric[{qualifiers}] op value: metrics p50 p90 p99 p999 (or any percentile: p95, p99.99, p(97.5)) min mean max (a duration), error_rate (a percentage), throughput (per second), capacity (per second: a `capacity:` search's result), speedup(model) (a ratio against sequential); qualifiers, comma-separated: a model (or model=…), phase=dns|connect|tls|ttfb|first_event|event_gap|upgrade (a latency of that phase; first_event and event_gap of streamed responses, upgrade of WebSocket steps). After the metric, `over 1m` checks every window of that length (whole seconds) during the cell; drift(p99) < 10%/h bounds a latency's slope over the run.",
    "type": "string",
    "examples": ["p99 < 250ms", "error_rate < 1%", "throughput > 100/s", "speedup(async) > 5", "p99{threads} < 80ms", "p99{phase=tls} < 20ms", "p99 over 1m < 300ms", "drift(p99) < 10%/h"]
}));

/// Fails (or, with `LOADPLAN_BLESS` set, rewrites the file) when `schemas/<file>` is not `text`:
/// CI fails when a committed schema is stale.
#[cfg(test)]
pub(crate) fn assert_committed(file: &str, text: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let path = root.join(file);
    let text = format!("{text}\n");
    if std::env::var_os("LOADPLAN_BLESS").is_some() {
        std::fs::create_dir_all(&root).expect("schemas/");
        std::fs::write(&path, &text).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: run `LOADPLAN_BLESS=1 cargo test schema` and commit it",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_plan_schema_is_current() {
        super::assert_committed("plan.schema.json", &super::plan());
    }
}
