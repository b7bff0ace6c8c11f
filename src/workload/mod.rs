//! What ONE unit of work is, whatever model runs it.
//!
//! Input: a scenario's [`Workload`] and, for HTTP, the base URL known at run time. Output: a
//! [`Prepared`] workload shared by a cell's users, from which each user makes its own [`Unit`]
//! (its own connection, its thread-local session). A unit executes one operation and says how it
//! went as an [`Outcome`]; timing and recording belong to the caller. Every model calls this same
//! code, so a comparison of models measures the models and not the client.

mod cpu;
mod http;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::requests::{HttpWorkload, Mix};
use crate::plan::text::Text;
use crate::plan::{Kernel, Workload};

pub use crate::category::ErrorKind;
pub use http::{HttpTarget, OwnEndpoint, ResolveError, Sender, Traced};

/// How one operation went (a request, or a flow's iteration).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The HTTP status of its (last) response.
    pub status: Option<u16>,
    /// Response body bytes read.
    pub bytes: u64,
    pub error: Option<ErrorKind>,
    /// Why it failed, in words that hold no secret (no header, URL, body or variable value).
    pub message: Option<String>,
    /// Time inside the operation that is not its latency: a kept connection's setup (never
    /// part of a request's latency) and think time between a flow's steps.
    pub excluded: Duration,
    /// Think time, part of `excluded`, reported apart.
    pub think: Duration,
    /// The user can do no more (the data file's unique rows are used up): nothing was sent.
    pub exhausted: bool,
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

/// One HTTP request and its response, as its own statistics see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exchange {
    /// The request's statistics index (its name's).
    pub stats: usize,
    /// From when it was written on an open connection (or, with a connection per request, from
    /// the start of connecting) to the last byte of the response.
    pub latency: Duration,
    pub status: Option<u16>,
    pub bytes: u64,
    pub error: Option<ErrorKind>,
    pub message: Option<String>,
    /// Time to the response's first byte (its head), from the request's start.
    pub ttfb: Option<Duration>,
    /// The connection this request opened, and what each phase of opening it took.
    pub setup: Option<Box<Setup>>,
    /// Its reused connection broke before any byte of the response came back, and it was sent
    /// once more on a new connection (idempotent methods only); `latency` counts from the first
    /// attempt.
    pub retried: bool,
    /// A streamed response (`text/event-stream`, or chunked) timed event by event.
    pub stream: Option<Box<Stream>>,
}

/// A streamed response's events as they arrived (`http/stream.rs` says what an event is).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    /// From the request's start to the end of its first event; `None` when none came.
    pub first_event: Option<Duration>,
    /// Between the ends of consecutive events (0 for events that arrived together); the first
    /// 100,000 of a response.
    pub gaps: Vec<Duration>,
    /// Events in the response.
    pub events: u64,
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
    /// A WebSocket step's upgrade: from writing its HTTP/1.1 upgrade request to the `101`
    /// response's head (the connection then speaks the WebSocket protocol).
    pub upgrade: Option<Duration>,
}

/// A scenario's workload with every URL absolute: resolved once per cell by the run stage (the
/// built-in server's address is known only then), used as-is by in-process users and sent as-is
/// to worker processes. Holds substituted values: never shown, only sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Resolved {
    Http(Box<HttpWorkload>),
    Cpu(Kernel),
}

impl Resolved {
    /// Joins relative URLs onto `base` (the built-in server's, or the plan's); `extra_ca` (PEM)
    /// is trusted beside the plan's roots: the built-in server's authority for `builtin+https`.
    pub fn new(
        workload: &Workload,
        base: Option<&url::Url>,
        extra_ca: Option<&str>,
    ) -> Result<Resolved, ResolveError> {
        let h = match workload {
            Workload::Cpu(k) => return Ok(Resolved::Cpu(*k)),
            Workload::Http(h) => h,
        };
        let mut h = HttpWorkload::clone(h);
        for r in &mut h.requests {
            if r.relative {
                let base = base.ok_or_else(|| ResolveError {
                    display: r.display.clone(),
                    reason: "a relative URL needs `base`".into(),
                })?;
                // A path starting with `/` replaces the base's path: what joining would do, and
                // the only way to keep variables (which joining would percent-encode) as slots.
                let mut url = Text::literal(base.origin().ascii_serialization());
                url.append(&r.url);
                r.url = url;
                r.relative = false;
            }
        }
        h.settings.tls.ca_pem.extend(extra_ca.map(str::to_string));
        Ok(Resolved::Http(Box::new(h)))
    }

    /// Operations in one pass over the workload (the number of targets, or 1 for a kernel or
    /// a flow's iteration).
    pub fn ops_per_pass(&self) -> u64 {
        match self {
            Resolved::Http(h) => match h.mix {
                Mix::Flow(_) => 1,
                Mix::InOrder | Mix::Weighted(_) => h.requests.len() as u64,
            },
            Resolved::Cpu(_) => 1,
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Resolved::Cpu(_))
    }

    /// Whether requests keep statistics of their own: a flow's steps, several request names, or
    /// a WebSocket step (its messages' round trips are its statistics).
    pub fn per_request_stats(&self) -> bool {
        match self {
            Resolved::Http(h) => {
                matches!(h.mix, Mix::Flow(_))
                    || h.names.len() > 1
                    || h.requests.iter().any(|r| r.websocket.is_some())
            }
            Resolved::Cpu(_) => false,
        }
    }

    /// Whether the users of a cell share connections (`connections: N`).
    pub fn shares_connections(&self) -> bool {
        matches!(self, Resolved::Http(h) if h.settings.connections.is_some())
    }

    /// What a reviewer must know about how this workload's TLS is trusted, if anything: that
    /// nothing is verified (`tls.insecure`), or that this machine has no trust store.
    pub fn tls_warning(&self) -> Option<String> {
        let Resolved::Http(h) = self else {
            return None;
        };
        let https = h.requests.iter().any(|r| {
            let url = r.url.render(|_| Some(""));
            url.starts_with("https:") || url.starts_with("wss:")
        });
        if !https {
            return None;
        }
        if h.settings.tls.insecure {
            return Some(
                "tls.insecure: certificates are NOT verified; anything can answer as the server"
                    .into(),
            );
        }
        (h.settings.tls.ca_pem.is_empty() && http::system_root_count() == 0).then(|| {
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
    /// Builds the requests once, for every user of the cell in this process, which runs part
    /// `part.0` of `part.1` of the cell (worker processes, shards). `connections_on`: where
    /// shared connections' tasks run when the users are on runtimes of their own.
    pub fn new(
        resolved: &Resolved,
        timeout: Duration,
        part: (u64, u64),
        connections_on: Option<tokio::runtime::Handle>,
    ) -> Result<Prepared, ResolveError> {
        match resolved {
            Resolved::Http(h) => {
                let mut target = HttpTarget::new(h, timeout, part)?;
                if let Some(h) = connections_on {
                    target.drive_connections_on(h);
                }
                Ok(Prepared::Http(std::sync::Arc::new(target)))
            }
            Resolved::Cpu(k) => Ok(Prepared::Cpu(*k)),
        }
    }

    /// A fresh unit for user `user`: it owns its connection, cookie jar and random choices for
    /// the whole cell. `seed` seeds those choices (the same seed, the same choices).
    pub fn unit(&self, user: usize, seed: u64) -> Unit {
        match self {
            Prepared::Http(t) => Unit::Http(Box::new(http::Session::new(t.clone(), user, seed))),
            Prepared::Cpu(k) => Unit::Cpu(*k),
        }
    }
}

/// One user's state.
pub enum Unit {
    Http(Box<http::Session>),
    Cpu(Kernel),
}

impl Unit {
    /// Executes operation number `op` (which picks the target of a list, and the data row);
    /// every HTTP request it sends is handed to `exchange` for its own statistics.
    pub async fn execute(
        &mut self,
        op: u64,
        exchange: &mut (dyn FnMut(Exchange) + Send),
    ) -> Outcome {
        match self {
            Unit::Http(s) => s.execute(op, exchange).await,
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
