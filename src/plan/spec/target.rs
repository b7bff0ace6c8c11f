//! Where requests go and what comes back: `base`, target URLs and request objects, methods and
//! `expect`.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Captures, Dur, Headers, StatusList, Template, checked_str};

/// `base: builtin` (start the built-in target server) or an absolute `http://` URL. A URL with
/// `${NAME}` references is checked once they are substituted, in `resolve.rs`.
#[derive(Debug, Clone)]
pub enum BaseSpec {
    /// `builtin`: the built-in server over plain HTTP (HTTP/1.1, and h2c).
    Builtin,
    /// `builtin+https`: the built-in server over TLS, with a certificate made at start that the
    /// run, and only the run, trusts.
    BuiltinTls,
    Url(Template),
}

impl<'de> Deserialize<'de> for BaseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "`builtin`, `builtin+https` or an http(s):// URL", |s| {
            match s {
                "builtin" => return Ok(BaseSpec::Builtin),
                "builtin+https" => return Ok(BaseSpec::BuiltinTls),
                _ => {}
            }
            let t = Template::parse(s)?;
            if !t.has_vars {
                absolute_http_url(&t.raw, &t.raw)?;
            }
            Ok(BaseSpec::Url(t))
        })
    }
}

/// Parses an absolute URL and accepts `http` and `https`. Messages show the raw template only
/// (`value` may hold a substituted secret).
pub fn absolute_http_url(value: &str, raw: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(value).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "`{raw}`: unsupported scheme `{}`, expected `http` or `https`",
            u.scheme()
        ));
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

/// A target: a URL string, or a request object.
#[derive(Debug)]
pub struct TargetSpec {
    /// Written as a request object (`{url, …}`) rather than a URL string.
    pub object: bool,
    /// The name its statistics go by; default: method and URL as written.
    pub name: Option<String>,
    /// With weights, each operation picks a target at random in these proportions.
    pub weight: Option<f64>,
    pub url: Template,
    pub method: String,
    pub headers: Headers,
    pub body: Option<Template>,
    /// `json:` was used for the body: sent with `content-type: application/json`.
    pub json: bool,
    /// A gRPC call (`url` is then the method's path, `/package.Service/Method`).
    pub grpc: Option<GrpcSpec>,
    /// A WebSocket step (`url` is then its `ws://`, `wss://` or relative URL).
    pub websocket: Option<WebSocketSpec>,
}

/// `websocket: { url: /chat, send: { json: {…} } | "text", messages: 20, every: 50ms, expect:
/// {…}, capture: {…} }`: an HTTP/1.1 upgrade, then `messages` text messages `every` apart, each
/// answered by one reply that is checked and captured from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSocketSpec {
    /// `ws://host/path`, `wss://host/path`, or a path joined onto `base` (`http` becomes `ws`,
    /// `https` becomes `wss`); the path and query may hold `${NAME}`.
    pub url: WebSocketUrl,
    /// The message sent each time: a text, or `{json: …}` (JSON written as YAML); both may hold
    /// `${NAME}`, read when the message is sent (a capture of the previous reply included).
    pub send: WebSocketSend,
    /// How many messages to send on the connection, each waiting for its reply; default 1.
    #[serde(default)]
    pub messages: Option<MessageCount>,
    /// The time from one message's send to the next's (a later reply delays the next message);
    /// default 0: each as soon as the previous reply came.
    #[serde(default)]
    pub every: Option<Dur>,
    /// What each reply must be: `json` paths, `body_contains` (a reply has no status or headers).
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
    /// Variables taken from each reply (`json`, `regex`), for the next message and, in a flow,
    /// the later steps.
    #[serde(default)]
    pub capture: Option<Captures>,
}

/// A WebSocket URL as written: `ws://`, `wss://` or a path.
#[derive(Debug, Clone)]
pub struct WebSocketUrl(pub Template);

impl<'de> Deserialize<'de> for WebSocketUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a ws:// or wss:// URL, or a path", |s| {
            let t = Template::parse(s)?;
            if !t.has_vars {
                check_websocket_url(&t.raw, &t.raw)?;
            }
            Ok(WebSocketUrl(t))
        })
    }
}

/// Checks a WebSocket URL: a valid path, or an absolute `ws`/`wss` URL with a host. Messages
/// show the raw template only.
pub fn check_websocket_url(value: &str, raw: &str) -> Result<(), String> {
    if value.starts_with('/') {
        return check_target_url(value, raw);
    }
    let u = url::Url::parse(value).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    if !matches!(u.scheme(), "ws" | "wss") {
        return Err(format!(
            "`{raw}`: unsupported scheme `{}` for a WebSocket, expected `ws` or `wss` (or a path joined onto `base`)",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    Ok(())
}

/// The message a WebSocket step sends: a text or `{json: …}`.
#[derive(Debug, Clone)]
pub struct WebSocketSend {
    pub text: Template,
    /// Written as `{json: …}`.
    pub json: bool,
}

/// `send: {json: …}` or `send: {text: …}` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSend {
    /// The message as JSON, written as YAML; strings may hold `${NAME}`.
    #[serde(default)]
    json: Option<JsonBody>,
    /// The message as text.
    #[serde(default)]
    text: Option<Template>,
}

impl<'de> Deserialize<'de> for WebSocketSend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WebSocketSend;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, or {json: …}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<WebSocketSend, E> {
                Ok(WebSocketSend {
                    text: Template::parse(s).map_err(E::custom)?,
                    json: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WebSocketSend, A::Error> {
                let r = RawSend::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (r.json, r.text) {
                    (Some(j), None) => Ok(WebSocketSend {
                        text: j.0,
                        json: true,
                    }),
                    (None, Some(t)) => Ok(WebSocketSend {
                        text: t,
                        json: false,
                    }),
                    _ => Err(de::Error::custom(
                        "send: write a text, `{json: …}` or `{text: …}` (one of them)",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How many messages a WebSocket step sends: 1 to 1,000,000.
#[derive(Debug, Clone, Copy)]
pub struct MessageCount(pub u32);

impl<'de> Deserialize<'de> for MessageCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `i64::deserialize` then a check: an error raised inside it keeps the
        // value's line and column.
        struct V;
        impl Visitor<'_> for V {
            type Value = MessageCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of messages, 1 to 1000000")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MessageCount, E> {
                match u32::try_from(v) {
                    Ok(n) if (1..=1_000_000).contains(&n) => Ok(MessageCount(n)),
                    _ => Err(E::custom(format!(
                        "messages {v}: send at least 1 message and at most 1000000"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MessageCount, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

/// `grpc: { proto: protos/shop.proto, method: shop.Cart/AddItem, message: {…}, metadata: {…} }`:
/// a unary or server-streaming call over HTTP/2 to `base`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpcSpec {
    /// The `.proto` file, relative to the plan; compiled when the plan is loaded (its imports
    /// are looked up beside it).
    pub proto: String,
    /// `package.Service/Method`; its statistics go by this name unless the step has a `name`.
    pub method: String,
    /// The request message in the protobuf JSON mapping, written as YAML; default: empty.
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    /// Request metadata, sent as HTTP/2 headers; values may hold `${NAME}`.
    #[serde(default)]
    pub metadata: Option<Headers>,
}

/// A request object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    /// The URL: a path to join onto `base`, or absolute; not with `grpc`.
    #[serde(default)]
    url: Option<Template>,
    /// A gRPC call instead of a URL.
    #[serde(default)]
    grpc: Option<GrpcSpec>,
    /// A WebSocket step instead of a URL: its URL, messages, checks and captures inside.
    #[serde(default)]
    websocket: Option<WebSocketSpec>,
    /// The name its statistics go by (targets); default: method and URL as written.
    #[serde(default)]
    name: Option<String>,
    /// Relative weight in a mix of targets: each operation picks one at random.
    #[serde(default)]
    weight: Option<Weight>,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    headers: Option<Headers>,
    /// The body as text.
    #[serde(default)]
    body: Option<Template>,
    /// The body as JSON, written as YAML; strings may hold `${NAME}`.
    #[serde(default)]
    json: Option<JsonBody>,
}

/// A target's weight: a positive number.
#[derive(Debug, Clone, Copy)]
pub struct Weight(f64);

impl Weight {
    /// The number as written.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked inside the visitor, so that the error points at the number, not its mapping.
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a positive number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                if v.is_finite() && v > 0.0 && v <= 1e9 {
                    Ok(Weight(v))
                } else {
                    Err(E::custom(format!("weight {v} must be a positive number")))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Weight, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_f64(V)
    }
}

/// A JSON body written as YAML, kept as JSON text with its `${NAME}` references.
#[derive(Debug, Clone)]
pub struct JsonBody(Template);

impl<'de> Deserialize<'de> for JsonBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = serde_json::to_string(&value).map_err(de::Error::custom)?;
        Template::parse(&text)
            .map(JsonBody)
            .map_err(de::Error::custom)
    }
}

impl RequestSpec {
    fn into_target(self) -> Result<TargetSpec, String> {
        if self.body.is_some() && self.json.is_some() {
            return Err("set either `body` or `json`, not both".into());
        }
        if let Some(n) = &self.name {
            super::check_name(n, "request name")?;
        }
        let json = self.json.is_some();
        if let Some(w) = &self.websocket {
            if self.url.is_some() || self.grpc.is_some() {
                return Err(
                    "set one of `url`, `grpc` or `websocket`: a WebSocket step's URL goes in `websocket.url`"
                        .into(),
                );
            }
            if self.method.is_some() || self.body.is_some() || json {
                return Err(
                    "a WebSocket step has no `method`, `body` or `json`: its message goes in `websocket.send`"
                        .into(),
                );
            }
            return Ok(TargetSpec {
                object: true,
                name: self.name,
                weight: self.weight.map(|w| w.0),
                url: w.url.0.clone(),
                method: "GET".into(),
                headers: self.headers.unwrap_or_default(),
                body: None,
                json: false,
                grpc: None,
                websocket: self.websocket,
            });
        }
        let (url, method) = match (self.url, &self.grpc) {
            (Some(url), None) => (url, self.method.map_or_else(|| "GET".into(), |m| m.0)),
            (None, Some(g)) => {
                if self.method.is_some() || self.body.is_some() || json {
                    return Err(
                        "a gRPC call has no `method`, `body` or `json`: the message goes in `grpc.message`"
                            .into(),
                    );
                }
                // The method's path; checked as a gRPC method where the plan is resolved.
                let path = format!("/{}", g.method.replace(['$', '{', '}'], "_"));
                (Template::parse(&path)?, "POST".into())
            }
            (Some(_), Some(_)) => {
                return Err(
                    "set either `url` or `grpc`, not both: a gRPC call goes to `base`".into(),
                );
            }
            (None, None) => {
                return Err("a request needs `url` (or `grpc`, or `websocket`)".into());
            }
        };
        Ok(TargetSpec {
            object: true,
            name: self.name,
            weight: self.weight.map(|w| w.0),
            url,
            method,
            headers: self.headers.unwrap_or_default(),
            body: self.body.or(self.json.map(|j| j.0)),
            json,
            grpc: self.grpc,
            websocket: None,
        })
    }
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
                    name: None,
                    weight: None,
                    url,
                    method: "GET".into(),
                    headers: Headers::default(),
                    body: None,
                    json: false,
                    grpc: None,
                    websocket: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TargetSpec, A::Error> {
                let r = RequestSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if let Some(url) = r.url.as_ref().filter(|u| !u.has_vars) {
                    check_target_url(&url.raw, &url.raw).map_err(de::Error::custom)?;
                }
                r.into_target().map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// What a response must be: `expect: { status: [200, 204], json: { "$.token": exists },
/// body_contains: "ok", headers: { content-type: application/json } }`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The accepted status code(s); default: any status below 400.
    #[serde(default)]
    pub status: Option<StatusList>,
    /// JSON paths (RFC 9535) into the body, each `exists` or the value it must equal.
    #[serde(default)]
    pub json: Option<JsonChecks>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<Template>,
    /// Headers the response must have, with the value each must start with.
    #[serde(default)]
    pub headers: Option<Headers>,
    /// gRPC calls: the status the call must end with (`OK`, `NOT_FOUND`, … or its number);
    /// default `OK`. Any other status is a `grpc_status` error.
    #[serde(default)]
    pub code: Option<GrpcCode>,
}

/// A gRPC status code, by name or number.
#[derive(Debug, Clone, Copy)]
pub struct GrpcCode(pub u32);

impl<'de> Deserialize<'de> for GrpcCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        crate::plan::grpc::code(&text).map(GrpcCode).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown gRPC status `{text}`, expected one of {}",
                crate::plan::grpc::CODES.join(", ")
            ))
        })
    }
}

/// `json: { "$.token": exists, "$.items[0].id": 1 }`, in the order written.
#[derive(Debug, Clone, Default)]
pub struct JsonChecks(pub Vec<(String, JsonExpect)>);

/// What a JSON path must find.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub enum JsonExpect {
    /// `exists`: at least one node.
    Exists,
    /// A value the first node must equal (a number, a string, a boolean or null).
    Equals(serde_json::Value),
}

impl<'de> Deserialize<'de> for JsonChecks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let path = |p: &str, _: &[(String, JsonExpect)]| {
            serde_json_path::JsonPath::parse(p)
                .map(|_| ())
                .map_err(|e| format!("`{p}` is not a JSON path (RFC 9535): {e}"))
        };
        let expect = |p: &str, v: serde_json::Value| match v {
            serde_json::Value::String(s) if s == "exists" => Ok(JsonExpect::Exists),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(format!(
                "`{p}`: expect `exists` or a single value, not a list or a map"
            )),
            other => Ok(JsonExpect::Equals(other)),
        };
        super::ordered_map(
            d,
            "a map of JSON paths to `exists` or a value",
            path,
            expect,
        )
        .map(JsonChecks)
    }
}
