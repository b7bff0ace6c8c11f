//! A scenario's HTTP settings: TLS (its files read and checked at load), the protocol, how many
//! connections the users share, and whether a connection outlives a request.
//!
//! Input: the `tls`, `http`, `connections`, `connection` and `retry` keys of `defaults` and of the
//! scenario (a scenario's own value wins, key by key, `tls` field by field). Output:
//! [`HttpSettings`], plain data that travels as-is to worker processes. Key material is held as
//! PEM text only to be handed to the TLS library: no `Debug`, error or output ever shows it.

use std::fmt;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use super::locate::Path;
use super::resolve::{Context, ResolveError};
use super::spec::{ConnectionSpec, HttpKeys, HttpVersionSpec, TlsSpec};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    pub tls: TlsSettings,
    pub version: HttpVersion,
    /// The users of a cell share this many connections; `None`: one connection per user.
    pub connections: Option<NonZeroUsize>,
    pub policy: ConnectionPolicy,
    /// Whether an idempotent request whose reused connection broke before any byte of its
    /// response is sent once more on a new connection.
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpVersion {
    /// ALPN picks h2 when the server offers it, else HTTP/1.1; plain `http://` is HTTP/1.1.
    #[default]
    Auto,
    Http1,
    /// h2 through ALPN over TLS; h2c with prior knowledge over `http://`.
    Http2,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionPolicy {
    /// A user keeps its connection (or the cell's shared ones) for every request.
    #[default]
    KeepAlive,
    /// A new connection, and handshake, for every request.
    PerRequest,
}

/// `retry: true` (default) or `false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryPolicy {
    /// Once, on a new connection, for an idempotent request whose reused connection broke
    /// before any byte of its response came back (RFC 9110 §9.2.2).
    #[default]
    Reused,
    /// Never: every such failure is a `protocol` error.
    Never,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsSettings {
    /// Extra trusted roots (PEM text), beside the system's: the plan's `tls.ca`, and the
    /// built-in server's certificate authority for `base: builtin+https`.
    pub ca_pem: Vec<String>,
    /// Accept any certificate: a loud warning wherever the run is shown.
    pub insecure: bool,
    /// Mutual TLS: the client certificate chain and its key.
    pub client: Option<ClientIdentity>,
    /// Sent as SNI and verified, instead of the URL's host.
    pub server_name: Option<String>,
}

impl fmt::Debug for TlsSettings {
    // Never key material, not even a plan hash's worth of it.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_certificates", &self.ca_pem.len())
            .field("insecure", &self.insecure)
            .field("client_certificate", &self.client.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Where each key was written: the scenario's own, or `defaults`.
struct Layered<'a> {
    own: &'a HttpKeys,
    defaults: &'a HttpKeys,
    at: &'a Path,
}

impl Layered<'_> {
    fn tls_field<T>(&self, key: &str, get: impl Fn(&TlsSpec) -> Option<T>) -> Option<(T, Path)> {
        let own = self.own.tls.as_ref().and_then(&get);
        match own {
            Some(v) => Some((v, self.at.key("tls").key(key))),
            None => self
                .defaults
                .tls
                .as_ref()
                .and_then(get)
                .map(|v| (v, Path::root().key("defaults").key("tls").key(key))),
        }
    }
}

/// The settings of the scenario at `at`, from its own keys over `defaults`.
pub(super) fn resolve(
    ctx: &Context,
    own: &HttpKeys,
    defaults: &HttpKeys,
    at: &Path,
) -> Result<HttpSettings, ResolveError> {
    let keys = Layered { own, defaults, at };
    Ok(HttpSettings {
        tls: tls(ctx, &keys)?,
        version: match own.http.or(defaults.http) {
            None | Some(HttpVersionSpec::Auto) => HttpVersion::Auto,
            Some(HttpVersionSpec::Http1) => HttpVersion::Http1,
            Some(HttpVersionSpec::Http2) => HttpVersion::Http2,
        },
        connections: own.connections.or(defaults.connections),
        policy: match own.connection.or(defaults.connection) {
            None | Some(ConnectionSpec::KeepAlive) => ConnectionPolicy::KeepAlive,
            Some(ConnectionSpec::PerRequest) => ConnectionPolicy::PerRequest,
        },
        retry: match own.retry.or(defaults.retry) {
            None | Some(true) => RetryPolicy::Reused,
            Some(false) => RetryPolicy::Never,
        },
    })
}

/// The TLS settings, every file read and checked: a CA file must hold certificates, a client
/// certificate needs its key and the key must belong to it.
fn tls(ctx: &Context, keys: &Layered) -> Result<TlsSettings, ResolveError> {
    let mut tls = TlsSettings::default();
    if let Some((file, at)) = keys.tls_field("ca", |t| t.ca.clone()) {
        if let Some(pem) = read_pem(ctx, &file, "CA", &at)? {
            crate::pem::certificates(pem.as_bytes())
                .map_err(|e| ResolveError::at(at, format!("the CA file {file} {e}")))?;
            tls.ca_pem.push(pem);
        }
    }
    tls.insecure = keys
        .tls_field("insecure", |t| t.insecure)
        .is_some_and(|v| v.0);
    let cert = keys.tls_field("client_cert", |t| t.client_cert.clone());
    let key = keys.tls_field("client_key", |t| t.client_key.clone());
    match (cert, key) {
        (None, None) => {}
        (Some((_, at)), None) => {
            return Err(ResolveError::at(at, "`client_cert` needs `client_key`"));
        }
        (None, Some((_, at))) => {
            return Err(ResolveError::at(at, "`client_key` needs `client_cert`"));
        }
        (Some((cert_file, cert_at)), Some((key_file, key_at))) => {
            let cert_pem = read_pem(ctx, &cert_file, "client certificate", &cert_at)?;
            let key_pem = read_pem(ctx, &key_file, "client key", &key_at)?;
            if let (Some(cert_pem), Some(key_pem)) = (cert_pem, key_pem) {
                crate::pem::certificates(cert_pem.as_bytes()).map_err(|e| {
                    ResolveError::at(
                        cert_at.clone(),
                        format!("the client certificate {cert_file} {e}"),
                    )
                })?;
                crate::pem::identity(cert_pem.as_bytes(), key_pem.as_bytes()).map_err(
                    |e| match e {
                        crate::pem::PemError::Certificate(_) => ResolveError::at(
                            cert_at,
                            format!("the client certificate {cert_file} {e}"),
                        ),
                        _ => ResolveError::at(key_at, format!("the client key {key_file}: {e}")),
                    },
                )?;
                tls.client = Some(ClientIdentity { cert_pem, key_pem });
            }
        }
    }
    if let Some((name, at)) = keys.tls_field("server_name", |t| t.server_name.clone()) {
        if !crate::pem::is_server_name(&name) {
            return Err(ResolveError::at(
                at,
                format!("`{name}` is not a valid server name"),
            ));
        }
        tls.server_name = Some(name);
    }
    Ok(tls)
}

/// A PEM file named in the plan, relative to the plan's folder; `None` for a plan re-read from
/// saved results, which sends nothing and reads no files.
fn read_pem(
    ctx: &Context,
    file: &str,
    what: &str,
    at: &Path,
) -> Result<Option<String>, ResolveError> {
    if !ctx.read_files {
        return Ok(None);
    }
    let path = ctx
        .file
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""))
        .join(file);
    let err = |why: String| {
        ResolveError::at(
            at.clone(),
            format!("cannot read the {what} file {file}: {why}"),
        )
    };
    let bytes = crate::files::read_pem(&path).map_err(|e| err(e.to_string()))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| err("not a text (PEM) file".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Workload;

    /// `retry` is on unless a scenario, or `defaults` under it, says otherwise.
    #[test]
    fn retry_comes_from_the_scenario_then_defaults_then_on() {
        let cases = [
            ("", "", RetryPolicy::Reused),
            ("retry: false, ", "", RetryPolicy::Never),
            ("retry: false, ", "    retry: true\n", RetryPolicy::Reused),
            ("", "    retry: false\n", RetryPolicy::Never),
        ];
        for (defaults, own, want) in cases {
            let text = format!(
                "version: 1\nname: t\ndefaults: {{ {defaults}timeout: 1s }}\nscenarios:\n  - name: a\n    targets: [\"http://127.0.0.1:1/\"]\n{own}    repeat: 1\n"
            );
            let plan = crate::plan::parse(std::path::Path::new("t.yaml"), &text).expect("plan");
            let Workload::Http(h) = &plan.scenarios[0].workload else {
                panic!("an HTTP workload")
            };
            assert_eq!(h.settings.retry, want, "{defaults}{own}");
        }
        let cpu = "version: 1\nname: t\nscenarios:\n  - name: a\n    cpu: { kernel: sum_squares, n: 10 }\n    retry: false\n    repeat: 1\n";
        let e = crate::plan::parse(std::path::Path::new("t.yaml"), cpu).expect_err("refused");
        assert!(e.to_string().contains("`retry`"), "{e}");
    }
}
