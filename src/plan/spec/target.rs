//! Where requests go and what comes back: `base`, target URLs and request objects, methods and
//! `expect`.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Headers, StatusList, Template, checked_str};

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
