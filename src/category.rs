//! Error categories: why an operation failed, by the phase it failed in (`dns`, `connect`,
//! `tls`, `protocol`, `timeout`, `status`, `grpc_status`, `websocket_close`, `body`,
//! `expectation`).
//!
//! The vocabulary every stage shares: the workload decides an error's category, the plan names
//! one in `error_rate{category=…}`, stats count by it, reports and exports list it. A leaf: it
//! imports nothing of the crate. Must not hold anything but the categories and their names.

use serde::{Deserialize, Serialize};

/// Why an operation failed, by the phase it failed in. The categories are part of summary.json.
///
/// The discriminants are persisted (a recorder's counts cross process boundaries and are saved
/// in shard results by index): a new category goes at the end, whatever its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No TCP connection was made: refused, unreachable, or no route.
    Connect,
    /// The TLS handshake failed: unknown issuer, expired, name mismatch, no common protocol, an
    /// alert from the server.
    Tls,
    /// No complete response within the scenario's `timeout`.
    Timeout,
    /// The response had an error status (4xx/5xx) that `expect` does not list.
    Status,
    /// The response broke off or was malformed while its body was read.
    Body,
    /// A non-error status that `expect` does not list (e.g. a 204 or a 302 when 200 is expected).
    Expectation,
    /// The host's name did not resolve.
    Dns,
    /// A connection existed but the exchange on it broke: the response was malformed, too large,
    /// cut off or reset after the request was written (the message says after how much).
    Protocol,
    /// A gRPC call ended with a status other than the one `expect: { code }` names (default
    /// `OK`); the message is the status name and the server's message.
    GrpcStatus,
    /// A WebSocket step's connection was closed before its messages were answered (a close
    /// frame from the server, whatever its code); the message names the close code and reason.
    WebsocketClose,
}

impl ErrorKind {
    /// Every category, in index order (see [`ErrorKind::index`]).
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Body,
        ErrorKind::Expectation,
        ErrorKind::Dns,
        ErrorKind::Protocol,
        ErrorKind::GrpcStatus,
        ErrorKind::WebsocketClose,
    ];

    /// Every category in the order an exchange meets them, for people to read.
    pub const BY_PHASE: [ErrorKind; 10] = [
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Protocol,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::GrpcStatus,
        ErrorKind::WebsocketClose,
        ErrorKind::Body,
        ErrorKind::Expectation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Body => "body",
            ErrorKind::Expectation => "expectation",
            ErrorKind::GrpcStatus => "grpc_status",
            ErrorKind::WebsocketClose => "websocket_close",
        }
    }

    /// The category named `name` (`protocol`), if there is one.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The category names in phase order, for messages: `dns, connect, …, expectation`.
    pub fn names() -> String {
        ErrorKind::BY_PHASE.map(ErrorKind::as_str).join(", ")
    }

    /// Its index among the persisted counts; stable across versions.
    pub fn index(self) -> usize {
        self as usize
    }
}
