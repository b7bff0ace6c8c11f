//! What ONE unit of work is, whatever model runs it.
//!
//! Input: a scenario's [`Workload`] and, for HTTP, the base URL known at run time. Output: a
//! [`Prepared`] workload shared by a cell's users, from which each user makes its own [`Unit`]
//! (its own connection, its thread-local session). A unit executes one operation and says how it
//! went as an [`Outcome`]; timing and recording belong to the caller. Every model calls this same
//! code, so a comparison of models measures the models and not the client.

mod cpu;
mod http;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plan::http::HttpSettings;
use crate::plan::{Kernel, TargetUrl, Workload};

pub use http::{HttpTarget, ResolveError};

/// Why an operation failed. The categories are part of summary.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No connection: refused, unresolvable host, or the connection broke before a response.
    Connect,
    /// The TLS handshake failed: unknown issuer, expired, name mismatch, no common protocol.
    Tls,
    /// No complete response within the scenario's `timeout`.
    Timeout,
    /// The response had an error status (4xx/5xx) that `expect` does not list.
    Status,
    /// The response broke off or was malformed while its body was read.
    Body,
    /// A non-error status that `expect` does not list (e.g. a 204 or a 302 when 200 is expected).
    Expectation,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Body,
        ErrorKind::Expectation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Body => "body",
            ErrorKind::Expectation => "expectation",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How one operation went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Response body bytes read.
    pub bytes: u64,
    pub error: Option<ErrorKind>,
    /// Why it failed, in words that hold no secret (no header, URL or body of the plan's).
    pub message: Option<String>,
    /// When the request itself was written on an open connection: a connection's setup before
    /// it is never part of a request's latency. `None`: the operation as a whole is timed (a
    /// new connection per request, a kernel).
    pub request_start: Option<Instant>,
    /// Time to the response's first byte (its head), from the request's start.
    pub ttfb: Option<Duration>,
    /// The connection this operation opened, and what each phase of opening it took.
    pub setup: Option<Box<Setup>>,
}

impl Outcome {
    /// A failed operation.
    pub fn failed(error: ErrorKind, message: impl Into<String>) -> Outcome {
        Outcome {
            error: Some(error),
            message: Some(message.into()),
            ..Outcome::default()
        }
    }
}

/// What opening one connection took, phase by phase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Setup {
    /// Name resolution; `None` when the host is an address (or a name resolved without asking).
    pub dns: Option<Duration>,
    /// The TCP handshake.
    pub connect: Duration,
    /// The TLS handshake, for `https://`.
    pub tls: Option<Duration>,
    /// The TLS session was resumed rather than negotiated in full.
    pub resumed: bool,
    /// The protocol the connection speaks: `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
}

/// A scenario's workload with every URL absolute: resolved once per cell by the run stage (the
/// built-in server's address is known only then), used as-is by in-process users and sent as-is
/// to worker processes. Holds substituted values: never shown, only sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Resolved {
    Http {
        requests: Vec<Request>,
        /// Accepted status codes; empty means "any status below 400".
        expect_status: Vec<u16>,
        settings: HttpSettings,
    },
    Cpu(Kernel),
}

/// One request with its absolute URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The URL as written in the plan, variables not substituted: the only form shown.
    pub display: String,
    pub url: url::Url,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Resolved {
    /// Joins relative URLs onto `base` (the built-in server's, or the plan's); `extra_ca` (PEM)
    /// is trusted beside the plan's roots: the built-in server's authority for `builtin+https`.
    pub fn new(
        workload: &Workload,
        base: Option<&url::Url>,
        extra_ca: Option<&str>,
    ) -> Result<Resolved, ResolveError> {
        match workload {
            Workload::Http {
                requests,
                expect_status,
                settings,
            } => Ok(Resolved::Http {
                requests: requests
                    .iter()
                    .map(|t| {
                        let url = match &t.url {
                            TargetUrl::Absolute(u) => u.clone(),
                            TargetUrl::Relative(path) => base
                                .ok_or_else(|| ResolveError {
                                    display: t.display.clone(),
                                    reason: "a relative URL needs `base`".into(),
                                })?
                                .join(path)
                                .map_err(|e| ResolveError {
                                    display: t.display.clone(),
                                    reason: e.to_string(),
                                })?,
                        };
                        Ok(Request {
                            display: t.display.clone(),
                            url,
                            method: t.method.clone(),
                            headers: t.headers.clone(),
                            body: t
                                .body
                                .as_ref()
                                .map(|b| String::from_utf8_lossy(b).into_owned()),
                        })
                    })
                    .collect::<Result<_, _>>()?,
                expect_status: expect_status.clone(),
                settings: {
                    let mut s = settings.clone();
                    s.tls.ca_pem.extend(extra_ca.map(str::to_string));
                    s
                },
            }),
            Workload::Cpu(k) => Ok(Resolved::Cpu(*k)),
        }
    }

    /// Operations in one pass over the workload (the number of targets, or 1 for a kernel).
    pub fn ops_per_pass(&self) -> u64 {
        match self {
            Resolved::Http { requests, .. } => requests.len() as u64,
            Resolved::Cpu(_) => 1,
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Resolved::Cpu(_))
    }

    /// Whether the users of a cell share connections (`connections: N`).
    pub fn shares_connections(&self) -> bool {
        matches!(self, Resolved::Http { settings, .. } if settings.connections.is_some())
    }

    /// What a reviewer must know about how this workload's TLS is trusted, if anything: that
    /// nothing is verified (`tls.insecure`), or that this machine has no trust store.
    pub fn tls_warning(&self) -> Option<String> {
        let Resolved::Http {
            requests, settings, ..
        } = self
        else {
            return None;
        };
        if !requests.iter().any(|r| r.url.scheme() == "https") {
            return None;
        }
        if settings.tls.insecure {
            return Some(
                "tls.insecure: certificates are NOT verified; anything can answer as the server"
                    .into(),
            );
        }
        (settings.tls.ca_pem.is_empty() && http::system_root_count() == 0).then(|| {
            "this machine has no system trust store: only roots given in `tls.ca` are trusted"
                .into()
        })
    }
}

/// A workload ready to run in this process: what every user of a cell shares.
#[derive(Debug, Clone)]
pub enum Prepared {
    Http(std::sync::Arc<HttpTarget>),
    Cpu(Kernel),
}

impl Prepared {
    /// Builds the requests once, for every user of the cell in this process. `connections_on`:
    /// where shared connections' tasks run when the users are on runtimes of their own.
    pub fn new(
        resolved: &Resolved,
        timeout: Duration,
        connections_on: Option<tokio::runtime::Handle>,
    ) -> Result<Prepared, ResolveError> {
        match resolved {
            Resolved::Http {
                requests,
                expect_status,
                settings,
            } => {
                let mut target =
                    HttpTarget::new(requests, expect_status.clone(), settings, timeout)?;
                if let Some(h) = connections_on {
                    target.drive_connections_on(h);
                }
                Ok(Prepared::Http(std::sync::Arc::new(target)))
            }
            Resolved::Cpu(k) => Ok(Prepared::Cpu(*k)),
        }
    }

    /// A fresh unit for one user: it owns its connection for the whole cell.
    pub fn unit(&self) -> Unit {
        match self {
            Prepared::Http(t) => Unit::Http(http::Session::new(t.clone())),
            Prepared::Cpu(k) => Unit::Cpu(*k),
        }
    }
}

/// One user's state.
pub enum Unit {
    Http(http::Session),
    Cpu(Kernel),
}

impl Unit {
    /// Executes operation number `op` (which picks the target in a target list).
    pub async fn execute(&mut self, op: u64) -> Outcome {
        match self {
            Unit::Http(s) => s.execute(op).await,
            Unit::Cpu(k) => {
                std::hint::black_box(cpu::run(k));
                Outcome::default()
            }
        }
    }
}

/// One kernel operation that gives up (`None`) once `stop` says so, for an interrupted run.
pub fn kernel_until(kernel: &Kernel, stop: &dyn Fn() -> bool) -> Option<Outcome> {
    std::hint::black_box(cpu::run_until(kernel, stop)).map(|_| Outcome::default())
}

/// The CPU kernel, for the built-in server's `/cpu` endpoint.
pub fn sum_squares(n: u64) -> u64 {
    cpu::run(&Kernel::SumSquares { n })
}
