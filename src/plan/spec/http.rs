//! How requests travel: `tls`, `http` (the protocol), `connections` and `connection` (the
//! policy), under `defaults` or a scenario. Files named here are read in `resolve.rs`.

use std::fmt;
use std::num::NonZeroUsize;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// `tls: { ca, insecure, client_cert, client_key, server_name }`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// Extra trusted root certificates (PEM file, relative to the plan), beside the system's.
    #[serde(default)]
    pub ca: Option<String>,
    /// Skip certificate verification: anything answers as the server (a loud warning).
    #[serde(default)]
    pub insecure: Option<bool>,
    /// Client certificate chain for mutual TLS (PEM file, relative to the plan).
    #[serde(default)]
    pub client_cert: Option<String>,
    /// The client certificate's private key (PEM file, relative to the plan).
    #[serde(default)]
    pub client_key: Option<String>,
    /// The name sent (SNI) and verified, when the URL holds an address or another name.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// `http: auto` (ALPN picks h2 when the server offers it), `"1.1"`, or `"2"` (h2 through ALPN
/// over TLS; h2c with prior knowledge over `http://`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersionSpec {
    Auto,
    Http1,
    Http2,
}

impl<'de> Deserialize<'de> for HttpVersionSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const WANT: &str = "`auto`, \"1.1\" or \"2\"";
        impl Visitor<'_> for V {
            type Value = HttpVersionSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(WANT)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                match s {
                    "auto" => Ok(HttpVersionSpec::Auto),
                    "1.1" => Ok(HttpVersionSpec::Http1),
                    "2" => Ok(HttpVersionSpec::Http2),
                    other => Err(E::custom(format!("http `{other}`: write {WANT}"))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v == 1.1 {
                    Ok(HttpVersionSpec::Http1)
                } else {
                    Err(E::custom(format!("http `{v}`: write {WANT}")))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `connection: keep-alive` (each user keeps its connection) or `per-request` (a new connection,
/// and handshake, for every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionSpec {
    KeepAlive,
    PerRequest,
}

/// The five keys, as a scenario or `defaults` wrote them.
#[derive(Debug, Clone, Default)]
pub struct HttpKeys {
    pub tls: Option<TlsSpec>,
    pub http: Option<HttpVersionSpec>,
    pub connections: Option<NonZeroUsize>,
    pub connection: Option<ConnectionSpec>,
    pub retry: Option<bool>,
}

impl HttpKeys {
    pub fn is_empty(&self) -> bool {
        self.tls.is_none()
            && self.http.is_none()
            && self.connections.is_none()
            && self.connection.is_none()
            && self.retry.is_none()
    }
}
