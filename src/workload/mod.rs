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

use crate::plan::{Kernel, Workload};

pub use http::{HttpTarget, ResolveError};

/// Why an operation failed. The categories are part of summary.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No connection: refused, unresolvable host, or the connection broke before a response.
    Connect,
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
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Body,
        ErrorKind::Expectation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Response body bytes read.
    pub bytes: u64,
    pub error: Option<ErrorKind>,
}

/// A workload ready to run: what every user of a cell shares.
#[derive(Debug, Clone)]
pub enum Prepared {
    Http(std::sync::Arc<HttpTarget>),
    Cpu(Kernel),
}

impl Prepared {
    /// Resolves relative URLs against `base` (the built-in server's or the plan's).
    pub fn new(
        workload: &Workload,
        base: Option<&url::Url>,
        timeout: Duration,
    ) -> Result<Prepared, ResolveError> {
        match workload {
            Workload::Http {
                requests,
                expect_status,
            } => Ok(Prepared::Http(std::sync::Arc::new(HttpTarget::new(
                requests,
                base,
                expect_status.clone(),
                timeout,
            )?))),
            Workload::Cpu(k) => Ok(Prepared::Cpu(*k)),
        }
    }

    /// A fresh unit for one user: it owns its connection for the whole cell.
    pub fn unit(&self) -> Unit {
        match self {
            Prepared::Http(t) => Unit::Http(http::Session::new(t.clone())),
            Prepared::Cpu(k) => Unit::Cpu(*k),
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Prepared::Cpu(_))
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
