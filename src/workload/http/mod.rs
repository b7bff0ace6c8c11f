//! The only HTTP client in loadplan: hyper, HTTP/1.1 or HTTP/2, over TCP or TLS (rustls).
//!
//! How connections are used is the scenario's choice, never a pool's whim (a pooled client races
//! new connects against idle ones and opens more connections than there are users, which would
//! blur the comparison of models):
//!
//! - `keep-alive` (default): each user ([`Session`]) keeps one connection per endpoint and
//!   reconnects after a failure;
//! - `connections: N`: the users of a cell share N connections per endpoint (`pool.rs`);
//! - `per-request`: every request opens, uses and closes its own connection.
//!
//! A new connection's phases (DNS, connect, TLS) are timed apart (`connect.rs`); with a kept
//! connection a request's latency starts when it is written, so setup is never folded into a
//! request. One operation is a request (a target, in order or by weight) or a flow's iteration:
//! its steps in order, each request built from the iteration's variables (`request.rs`), checked
//! and captured from (`check.rs`), a pause after it. Each user keeps its own cookie jar. The
//! timeout covers each request's whole exchange: connecting, sending, reading the body.
//!
//! A server may close a kept connection at any moment (an idle timeout, or after every response
//! without saying `Connection: close`), and a request written just then gets no answer. As HTTP
//! allows (RFC 9110 §9.2.2) and Go's and curl's clients do, a request with an idempotent method
//! whose *reused* connection breaks before any byte of its response arrives is sent once more,
//! on a new connection; the exchange says so (`retried`) and its latency counts from the first
//! attempt. Other methods are never sent twice: theirs is a `protocol` error. `retry: false`
//! turns this off. HTTP/1.1 only: an HTTP/2 connection carries many requests at once, so its
//! failure is not one request's to retry.

mod check;
mod connect;
mod grpc;
mod pool;
mod request;
mod stream;
mod tls;
mod trace;
mod warm;
mod websocket;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use rustls::pki_types::ServerName;

use super::{ErrorKind, Exchange, Outcome, Setup};
use crate::bare::time::{self as timer, Sleep};
use crate::plan::http::{ConnectionPolicy, HttpVersion, RetryPolicy};
use crate::plan::requests::{Branch, Condition, DataTable, HttpWorkload, Loop, Mix, RowOrder};
use check::{Captures, Mask, Seen};
pub use connect::Sender;
use connect::{Connector, Endpoint, Meter};
use request::PreparedRequest;
pub use trace::Traced;

pub(super) use tls::system_root_count;

/// Bodies kept for checks and captures are cut here (the rest is still read and counted).
const MAX_KEPT_BODY: usize = 4 << 20;

/// A response's header map is kept for the next request's headers up to this capacity (a
/// typical response fits in 16); a larger one is dropped rather than held by every user.
const MAX_SPARE_HEADERS: usize = 32;

/// A target URL that could not be turned into a request. Shows the URL as written only.
#[derive(Debug, thiserror::Error)]
#[error("target `{display}`: {reason}")]
pub struct ResolveError {
    pub display: String,
    pub reason: String,
}

/// A scenario's requests, built once per process and shared by every user of a cell.
pub struct HttpTarget {
    requests: Vec<PreparedRequest>,
    /// Distinct endpoints; a session holds one connection for each.
    endpoints: Vec<Endpoint>,
    timeout: Duration,
    policy: ConnectionPolicy,
    retry: RetryPolicy,
    connector: Connector,
    /// WebSocket steps' connections: HTTP/1.1 always (an upgrade is HTTP/1.1's), never shared.
    ws_connector: Connector,
    /// `connections: N`: one pool per endpoint.
    pools: Option<Vec<pool::Pool>>,
    pick: Pick,
    data: Option<DataTable>,
    /// Run-time variables per iteration: data columns, then captures.
    slots: usize,
    /// Slots a new iteration keeps: data columns and the setup's variables.
    kept: usize,
    /// A flow's setup steps, once per user.
    setup: Vec<Step>,
    cookies: bool,
    /// What messages mask: the environment's values substituted, and each slot's name.
    substituted: Vec<(String, String)>,
    slot_names: Vec<String>,
    /// The requests' statistics names (for `try`).
    names: Vec<String>,
    /// `before:`'s captures: (slot, value), set in every session.
    preset: Vec<(usize, String)>,
}

/// What an operation sends.
enum Pick {
    InOrder,
    /// Cumulative weights: the first above a uniform draw is the target.
    Weighted(Vec<f64>),
    Flow(Vec<Step>),
}

struct Step {
    request: usize,
    captures: Captures,
    think: Option<(Duration, Duration)>,
    when: Option<Condition>,
    chance: Option<f64>,
    for_each: Option<Loop>,
    branch: Option<Branch>,
}

/// A resolved step, its captures compiled.
fn step(s: &crate::plan::requests::Step) -> Result<Step, ResolveError> {
    Ok(Step {
        request: s.request,
        captures: Captures::new(&s.captures).map_err(|reason| ResolveError {
            display: "capture".into(),
            reason,
        })?,
        think: s.think,
        when: s.when.clone(),
        chance: s.chance,
        for_each: s.for_each.clone(),
        branch: s.branch,
    })
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("requests", &self.requests.len())
            .field("endpoints", &self.endpoints.len())
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// The requests of `w`, for part `part.0` of `part.1` of a cell: with `connections: N`, the
    /// parts (worker processes, shards) split the N between them as they split the users, each
    /// keeping at least one.
    pub fn new(
        w: &HttpWorkload,
        timeout: Duration,
        part: (u64, u64),
    ) -> Result<HttpTarget, ResolveError> {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut requests = Vec::with_capacity(w.requests.len());
        for t in &w.requests {
            let ep = endpoint(t, w)?;
            warm::resolver(&ep.host, ep.port);
            let index = match endpoints.iter().position(|e| e.same(&ep)) {
                Some(i) => i,
                None => {
                    endpoints.push(ep);
                    endpoints.len() - 1
                }
            };
            requests.push(PreparedRequest::new(t, index)?);
        }
        let tls_for = |version| -> Result<_, ResolveError> {
            if !endpoints.iter().any(|e| e.tls.is_some()) {
                return Ok(None);
            }
            let config = tls::config(&w.settings.tls, version).map_err(|reason| ResolveError {
                display: "tls".into(),
                reason,
            })?;
            Ok(Some(Arc::new(config)))
        };
        let tls = tls_for(w.settings.version)?;
        let ws_tls = match w.requests.iter().any(|r| r.websocket.is_some()) {
            true => tls_for(HttpVersion::Http1)?,
            false => None,
        };
        let pick = match &w.mix {
            Mix::InOrder => Pick::InOrder,
            Mix::Weighted(weights) => Pick::Weighted(
                weights
                    .iter()
                    .scan(0.0, |sum, w| {
                        *sum += w;
                        Some(*sum)
                    })
                    .collect(),
            ),
            Mix::Flow(steps) => Pick::Flow(steps.iter().map(step).collect::<Result<_, _>>()?),
        };
        let setup = w.setup.iter().map(step).collect::<Result<_, _>>()?;
        let mut slot_names = vec![String::new(); w.slots];
        let columns = w
            .data
            .iter()
            .flat_map(|d| d.columns.iter().cloned().enumerate());
        let flow_steps = match &w.mix {
            Mix::Flow(steps) => steps.as_slice(),
            _ => &[],
        };
        let bound = w.setup.iter().chain(flow_steps).flat_map(|s| {
            s.captures
                .iter()
                .map(|c| (c.slot, c.name.clone()))
                .chain(s.for_each.iter().map(|l| (l.var, l.var_name.clone())))
        });
        let run_vars = w.run_vars.iter().map(|(n, slot)| (*slot, n.clone()));
        for (slot, name) in columns.chain(run_vars).chain(bound) {
            if let Some(n) = slot_names.get_mut(slot) {
                *n = name;
            }
        }
        Ok(HttpTarget {
            pools: w.settings.connections.map(|n| {
                let (index, of) = (part.0, part.1.max(1));
                let n = n.get() as u64;
                let mine = (n / of + u64::from(index % of < n % of)).max(1);
                let mine = usize::try_from(mine).unwrap_or(usize::MAX);
                endpoints.iter().map(|_| pool::Pool::new(mine)).collect()
            }),
            requests,
            endpoints,
            timeout,
            policy: w.settings.policy,
            retry: w.settings.retry,
            connector: Connector::new(tls, w.settings.version),
            ws_connector: Connector::new(ws_tls, HttpVersion::Http1),
            pick,
            data: w.data.clone(),
            slots: w.slots,
            kept: w.kept,
            setup,
            cookies: w.cookies,
            substituted: w.substituted.0.clone(),
            slot_names,
            names: w.names.clone(),
            preset: w.preset.0.clone(),
        })
    }

    /// Runs connection tasks on `handle`: for users on several runtimes sharing connections.
    pub fn drive_connections_on(&mut self, handle: tokio::runtime::Handle) {
        self.connector.spawn_on(handle);
    }
}

/// loadplan's own connections to one URL (the exporter's pushes), opened by the same connector
/// as targets' (DNS, TCP, TLS with the system's trusted roots and verification, HTTP/1.1), so
/// that loadplan has one HTTP client. Messages name no host and show no credential.
pub struct OwnEndpoint {
    connector: Connector,
    endpoint: Endpoint,
}

/// Why loadplan's own endpoint could not be set up or reached. Names no host, shows no
/// credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL has no port")]
    NoPort,
    #[error("the host is not a valid TLS server name")]
    ServerName,
    #[error("{0}")]
    Tls(String),
    /// A connection failed: the category's words, as a target's would be counted.
    #[error("{0}")]
    Connection(String),
}

impl OwnEndpoint {
    pub fn new(url: &url::Url) -> Result<OwnEndpoint, EndpointError> {
        let host = url.host().ok_or(EndpointError::NoHost)?.to_owned();
        let port = url.port_or_known_default().ok_or(EndpointError::NoPort)?;
        let (tls, config) = match url.scheme() {
            "https" => {
                let name = match &host {
                    url::Host::Domain(d) => d.clone(),
                    url::Host::Ipv4(ip) => ip.to_string(),
                    url::Host::Ipv6(ip) => ip.to_string(),
                };
                let name = ServerName::try_from(name).map_err(|_| EndpointError::ServerName)?;
                let config = tls::config(&Default::default(), HttpVersion::Http1)
                    .map_err(EndpointError::Tls)?;
                (Some(name), Some(Arc::new(config)))
            }
            _ => (None, None),
        };
        Ok(OwnEndpoint {
            connector: Connector::new(config, HttpVersion::Http1),
            endpoint: Endpoint { host, port, tls },
        })
    }

    /// A new connection; its task runs on the current runtime.
    pub async fn open(&self) -> Result<Sender, EndpointError> {
        self.connector
            .open(&self.endpoint)
            .await
            .map(|(sender, _)| sender)
            .map_err(|f| EndpointError::Connection(f.message))
    }
}

/// Where a request's connection goes, from its URL (variables only ever stand in its path).
fn endpoint(
    t: &crate::plan::requests::RequestTemplate,
    w: &HttpWorkload,
) -> Result<Endpoint, ResolveError> {
    let err = |reason: String| ResolveError {
        display: t.display.clone(),
        reason,
    };
    let url = url::Url::parse(&t.url.render(|_| Some("1"))).map_err(|e| err(e.to_string()))?;
    let host = url
        .host()
        .ok_or_else(|| err("the URL has no host".into()))?
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| err("the URL has no port".into()))?;
    let tls = match url.scheme() {
        "https" | "wss" => {
            let name = match &w.settings.tls.server_name {
                Some(n) => n.clone(),
                None => match &host {
                    url::Host::Domain(d) => d.clone(),
                    url::Host::Ipv4(ip) => ip.to_string(),
                    url::Host::Ipv6(ip) => ip.to_string(),
                },
            };
            Some(
                ServerName::try_from(name)
                    .map_err(|_| err("the host is not a valid TLS server name".into()))?,
            )
        }
        _ => None,
    };
    Ok(Endpoint { host, port, tls })
}

/// One user's connections, variables, cookies and random choices.
pub struct Session {
    target: Arc<HttpTarget>,
    /// Keep-alive: this user's own connection to each endpoint.
    own: Vec<Option<Sender>>,
    /// One timer for the whole session, re-armed only when it fires: arming a fresh timer per
    /// request costs a lock on the runtime's timer wheel twice per request.
    timer: Option<Sleep>,
    /// This iteration's variables: data columns, then captures.
    vars: Vec<Option<String>>,
    rng: fastrand::Rng,
    jar: Option<cookie_store::CookieStore>,
    /// Whether the jar ever took a cookie: until it does, no request asks it for any.
    jar_used: bool,
    /// The last response's header map, emptied, for the next request's headers (see
    /// [`PreparedRequest::build`]).
    spare: HeaderMap,
    /// How far the request under way has come, for when its timeout drops it half-way.
    progress: Progress,
    /// The flow's setup steps have all passed for this user.
    set_up: bool,
    /// The status of the last request of this iteration (or of the setup), for `when: {status}`.
    last_status: Option<u16>,
    /// `loadplan try`: every request and response, shown; `None` in a measured run.
    traced: Option<Vec<Traced>>,
    /// The request under way, as `try` shows it.
    tracing: Option<Traced>,
}

/// How far one request has come: kept in the session, not the request's future, because a
/// timeout drops that future and must still say what it had done.
#[derive(Default)]
struct Progress {
    /// The connection it opened (not yet handed to its exchange).
    opened: Option<Setup>,
    /// The connection it was written on, and what that had read before.
    sent_on: Option<(Meter, u64)>,
    /// That connection is HTTP/2: its byte count is shared with other requests.
    h2: bool,
    /// Its response's head had arrived.
    head: bool,
    /// Response body bytes read.
    body: u64,
    /// The last attempt failed on its connection before any byte of the response came back.
    unanswered: bool,
}

impl Progress {
    /// Where a request stood when its time ran out, in words.
    fn phase(&self) -> String {
        match &self.sent_on {
            None => "before a connection was open".into(),
            Some(_) if self.head => match self.body {
                0 => "after the response head, before any byte of the body".into(),
                1 => "after the response head and 1 byte of the body".into(),
                n => format!("after the response head and {n} bytes of the body"),
            },
            Some(_) if self.h2 => "before its response head arrived (HTTP/2)".into(),
            Some((meter, before)) => match meter.read().saturating_sub(*before) {
                0 => "before any byte of the response".into(),
                1 => "after 1 byte of the response head".into(),
                n => format!("after {n} bytes of the response head"),
            },
        }
    }
}

/// How one request went, beside what its own statistics keep.
struct Done {
    exchange: Exchange,
    /// Time before the request was written (a kept connection's setup): not its latency.
    setup: Duration,
}

impl Session {
    pub fn new(target: Arc<HttpTarget>, user: usize, seed: u64) -> Session {
        let own = target.endpoints.iter().map(|_| None).collect();
        let mut vars = vec![None; target.slots];
        for (slot, value) in &target.preset {
            if let Some(v) = vars.get_mut(*slot) {
                *v = Some(value.clone());
            }
        }
        Session {
            own,
            timer: None,
            vars,
            // Each user its own stream of choices, the same for the same seed.
            rng: fastrand::Rng::with_seed(seed ^ (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            jar: target.cookies.then(cookie_store::CookieStore::default),
            jar_used: false,
            spare: HeaderMap::new(),
            progress: Progress::default(),
            set_up: false,
            last_status: None,
            traced: None,
            tracing: None,
            target,
        }
    }

    /// (name, value) of every variable set now: `before:`'s captures, for the scenarios.
    pub fn variables(&self) -> Vec<(String, String)> {
        self.target
            .slot_names
            .iter()
            .zip(&self.vars)
            .filter_map(|(n, v)| v.as_ref().map(|v| (n.clone(), v.clone())))
            .filter(|(n, _)| !n.is_empty())
            .collect()
    }

    /// Records every request and response from now on, for `loadplan try`.
    pub fn trace_on(&mut self) {
        self.traced = Some(Vec::new());
    }

    /// The requests and responses recorded since the last call.
    pub fn take_trace(&mut self) -> Vec<Traced> {
        self.traced.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Operation `op`: a target, or an iteration of the flow.
    pub async fn execute(&mut self, op: u64, report: &mut (dyn FnMut(Exchange) + Send)) -> Outcome {
        let target = Arc::clone(&self.target);
        if let Some(data) = &target.data {
            if !self.take_row(data, op) {
                return Outcome {
                    exhausted: true,
                    ..Outcome::default()
                };
            }
        }
        let n = target.requests.len().max(1);
        let index = match &target.pick {
            Pick::InOrder => (op % n as u64) as usize,
            Pick::Weighted(cumulative) => {
                let x = self.rng.f64() * cumulative.last().copied().unwrap_or(1.0);
                cumulative.partition_point(|c| *c <= x).min(n - 1)
            }
            Pick::Flow(steps) => return self.iteration(&target, steps, report).await,
        };
        let done = self.request_or_socket(&target, index, None, report).await;
        let e = &done.exchange;
        let outcome = Outcome {
            status: e.status,
            bytes: e.bytes,
            error: e.error,
            message: e.message.clone(),
            excluded: done.setup,
            ..Outcome::default()
        };
        report(done.exchange);
        outcome
    }

    /// One iteration of a flow: the setup first if this user has not passed it yet, then its
    /// steps in order until one fails. The setup's time is not the iteration's (it is
    /// `excluded`); a failed setup fails the iteration with its reason, and the user's next
    /// iteration runs the setup again.
    async fn iteration(
        &mut self,
        target: &HttpTarget,
        steps: &[Step],
        report: &mut (dyn FnMut(Exchange) + Send),
    ) -> Outcome {
        for v in self.vars.iter_mut().skip(target.kept) {
            *v = None;
        }
        self.last_status = None;
        let mut out = Outcome::default();
        if !self.set_up && !target.setup.is_empty() {
            let began = Instant::now();
            let columns = target.data.as_ref().map_or(0, |d| d.columns.len());
            for v in self.vars.iter_mut().take(target.kept).skip(columns) {
                *v = None;
            }
            let mut setup = Outcome::default();
            let passed = self.steps(target, &target.setup, report, &mut setup).await;
            out.bytes += setup.bytes;
            out.excluded += began.elapsed();
            if !passed {
                out.status = setup.status;
                out.error = setup.error;
                out.message = Some(format!(
                    "setup: {}",
                    setup.message.unwrap_or_else(|| "failed".into())
                ));
                return out;
            }
            self.set_up = true;
        }
        self.steps(target, steps, report, &mut out).await;
        out
    }

    /// `steps` in order, each when its switch chose it, its condition holds and its chance
    /// falls, once or once per element of its loop; false at the first failure (its kind and
    /// message in `out`).
    async fn steps(
        &mut self,
        target: &HttpTarget,
        steps: &[Step],
        report: &mut (dyn FnMut(Exchange) + Send),
        out: &mut Outcome,
    ) -> bool {
        // A switch's draw, made at its first step, chooses one of its steps.
        let mut draw = 0.0;
        for step in steps {
            if let Some(b) = &step.branch {
                if b.opens {
                    draw = self.rng.f64();
                }
                if !(b.from..b.to).contains(&draw) {
                    continue;
                }
            }
            if step.when.as_ref().is_some_and(|c| !self.holds(c)) {
                continue;
            }
            if step.chance.is_some_and(|p| self.rng.f64() >= p) {
                continue;
            }
            match &step.for_each {
                None => {
                    if !self.step(target, step, report, out).await {
                        return false;
                    }
                }
                Some(each) => {
                    let items = match self.elements(each) {
                        Ok(items) => items,
                        Err(message) => {
                            out.error = Some(ErrorKind::Expectation);
                            out.message = Some(message);
                            return false;
                        }
                    };
                    for item in items {
                        if let Some(v) = self.vars.get_mut(each.var) {
                            *v = Some(item);
                        }
                        if !self.step(target, step, report, out).await {
                            return false;
                        }
                    }
                }
            }
            if let Some((min, max)) = step.think {
                let pause = min + (max.saturating_sub(min)).mul_f64(self.rng.f64());
                // What was paused, not what was asked: a timer wakes late, never early.
                let paused = Instant::now();
                timer::sleep(pause).await;
                out.think += paused.elapsed();
                out.excluded += paused.elapsed();
            }
        }
        true
    }

    /// One request of a step; false when it failed.
    async fn step(
        &mut self,
        target: &HttpTarget,
        step: &Step,
        report: &mut (dyn FnMut(Exchange) + Send),
        out: &mut Outcome,
    ) -> bool {
        let done = self
            .request_or_socket(target, step.request, Some(&step.captures), report)
            .await;
        let e = &done.exchange;
        out.status = e.status;
        out.bytes += e.bytes;
        out.excluded += done.setup;
        self.last_status = e.status;
        let failed = e.error.map(|k| (k, e.message.clone()));
        report(done.exchange);
        match failed {
            Some((kind, message)) => {
                out.error = Some(kind);
                out.message = message;
                false
            }
            None => true,
        }
    }

    /// Whether a step's condition holds now.
    fn holds(&self, c: &Condition) -> bool {
        let var = |slot: &usize| self.vars.get(*slot).and_then(|v| v.as_deref());
        match c {
            Condition::Status(codes) => self.last_status.is_some_and(|s| codes.contains(&s)),
            Condition::Set(slot) => var(slot).is_some_and(|v| !v.is_empty()),
            Condition::Equals(slot, want) => var(slot) == Some(want.as_str()),
            Condition::NotEquals(slot, want) => var(slot) != Some(want.as_str()),
        }
    }

    /// The elements a loop runs over: the first `limit` of the JSON array in its variable, each
    /// a string as is, else its JSON. The message names the variable, never its value.
    fn elements(&self, each: &Loop) -> Result<Vec<String>, String> {
        let Some(text) = self.vars.get(each.list).and_then(|v| v.as_deref()) else {
            return Err(format!(
                "for_each: `{}` is not set (the step that captures it did not run)",
                each.list_name
            ));
        };
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(items)) => Ok(items
                .into_iter()
                .take(each.limit)
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect()),
            _ => Err(format!(
                "for_each: `{}` is not a JSON array (capture it with `pick: all`)",
                each.list_name
            )),
        }
    }

    /// Fills the data columns for operation `op`; false when its rows are used up (`unique`).
    fn take_row(&mut self, data: &DataTable, op: u64) -> bool {
        let rows = data.rows.len().max(1) as u64;
        let row = match data.order {
            RowOrder::Sequential => op % rows,
            RowOrder::Random => self.rng.u64(..rows),
            RowOrder::Unique if op < rows => op,
            RowOrder::Unique => return false,
        };
        if let Some(r) = usize::try_from(row).ok().and_then(|i| data.rows.get(i)) {
            for (slot, value) in self.vars.iter_mut().zip(r) {
                *slot = Some(value.clone());
            }
        }
        true
    }

    /// Request `index`, or the WebSocket step it upgrades to (each of whose messages but the last
    /// goes to `report` as it completes).
    async fn request_or_socket(
        &mut self,
        target: &HttpTarget,
        index: usize,
        captures: Option<&Captures>,
        report: &mut (dyn FnMut(Exchange) + Send),
    ) -> Done {
        let Some(call) = target
            .requests
            .get(index)
            .and_then(|r| r.websocket.as_ref())
        else {
            return self.request(target, index, captures).await;
        };
        let req = &target.requests[index];
        let done = self.websocket(target, req, call, captures, report).await;
        if let Some(list) = self.traced.as_mut() {
            list.push(Traced {
                name: target.names.get(req.stats).cloned().unwrap_or_default(),
                method: "WS".into(),
                status: done.exchange.error.is_none().then_some(101),
                error: done.exchange.error.and(done.exchange.message.clone()),
                ..Traced::default()
            });
        }
        done
    }

    /// Request `index`, within the timeout; its captures fill the iteration's variables.
    async fn request(
        &mut self,
        target: &HttpTarget,
        index: usize,
        captures: Option<&Captures>,
    ) -> Done {
        let Some(req) = target.requests.get(index) else {
            return failed_done(0, ErrorKind::Connect, "no request to send", Duration::ZERO);
        };
        let began = Instant::now();
        let deadline = began + target.timeout;
        self.progress = Progress::default();
        // Created here, not in `new`: a timer needs the runtime (or the `bare` executor), which
        // a session may outlive.
        let mut timer = self
            .timer
            .take()
            .filter(Sleep::fits)
            .unwrap_or_else(|| timer::sleep_until(deadline));
        let done = {
            let mut work = std::pin::pin!(self.exchange(target, req, captures, began));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(done) = work.as_mut().poll(cx) {
                    return Poll::Ready(Some(done));
                }
                // The timer is armed for this request or an earlier one, never a later one: when
                // it fires early, re-arm it for this request's own deadline.
                while Pin::new(&mut timer).poll(cx).is_ready() {
                    if Instant::now() >= deadline {
                        return Poll::Ready(None);
                    }
                    timer.reset(deadline);
                }
                Poll::Pending
            })
            .await
        };
        self.timer = Some(timer);
        let done = done.unwrap_or_else(|| {
            // The connection may still carry a late response: never reuse it.
            self.own[req.endpoint] = None;
            let mut done = failed_done(
                req.stats,
                ErrorKind::Timeout,
                &format!(
                    "no complete response within the timeout of {}, {}",
                    humantime::format_duration(target.timeout),
                    self.progress.phase()
                ),
                began.elapsed(),
            );
            // A connection it opened was opened, even if nothing came of it.
            done.exchange.setup = self.progress.opened.take().map(Box::new);
            done
        });
        if let Some(list) = self.traced.as_mut() {
            let mut t = self.tracing.take().unwrap_or_else(|| Traced {
                name: target.names.get(req.stats).cloned().unwrap_or_default(),
                method: req.method.to_string(),
                ..Traced::default()
            });
            t.error = done.exchange.error.and(done.exchange.message.clone());
            list.push(t);
        }
        done
    }

    /// One request on the connection its policy gives, checked, its captures taken; `began` is
    /// when the request was asked for.
    async fn exchange(
        &mut self,
        target: &HttpTarget,
        req: &PreparedRequest,
        captures: Option<&Captures>,
        began: std::time::Instant,
    ) -> Done {
        let endpoint = &target.endpoints[req.endpoint];
        let (mut sender, setup, lease) = match (&target.pools, target.policy) {
            (_, ConnectionPolicy::PerRequest) | (None, ConnectionPolicy::KeepAlive) => {
                let kept = match target.policy {
                    ConnectionPolicy::KeepAlive => {
                        self.own[req.endpoint].take().filter(|s| !s.is_closed())
                    }
                    ConnectionPolicy::PerRequest => None,
                };
                match kept {
                    Some(s) => (s, None, None),
                    None => match target.connector.open(endpoint).await {
                        Ok((s, setup)) => {
                            self.progress.opened = Some(setup.clone());
                            (s, Some(setup), None)
                        }
                        Err(f) => {
                            return failed_done(req.stats, f.kind, &f.message, began.elapsed());
                        }
                    },
                }
            }
            (Some(pools), ConnectionPolicy::KeepAlive) => {
                let pool = &pools[req.endpoint];
                let mut lease = pool.take().await;
                match lease.sender.take() {
                    Some(s) => (s, None, Some(lease)),
                    None => match target.connector.open(endpoint).await {
                        Ok((s, setup)) => {
                            self.progress.opened = Some(setup.clone());
                            (s, Some(setup), Some(lease))
                        }
                        Err(f) => {
                            pool.give_back(lease, None);
                            return failed_done(req.stats, f.kind, &f.message, began.elapsed());
                        }
                    },
                }
            }
        };
        let mut setup = setup;
        if setup.is_none() && sender.ready().await.is_err() {
            // A kept connection the server closed meanwhile: open a fresh one.
            match target.connector.open(endpoint).await {
                Ok((s, done)) => {
                    self.progress.opened = Some(done.clone());
                    setup = Some(done);
                    sender = s;
                }
                Err(f) => {
                    if let (Some(pools), Some(lease)) = (&target.pools, lease) {
                        pools[req.endpoint].give_back(lease, None);
                    }
                    return failed_done(req.stats, f.kind, &f.message, began.elapsed());
                }
            }
        }
        let per_request = target.policy == ConnectionPolicy::PerRequest;
        let start = std::time::Instant::now();
        let mut exchange = self.send(req, &mut sender, captures, start).await;
        // HTTP/1.1 only: an HTTP/2 connection is shared by many requests (and, with
        // `connections: N`, counted by its pool), and its byte count is not this request's.
        let retry = setup.is_none()
            && !sender.is_h2()
            && self.progress.unanswered
            && target.retry == RetryPolicy::Reused
            && idempotent(&req.method);
        if retry {
            // The server closed the kept connection as the request went out (RFC 9110 §9.2.2):
            // once more on a new one. Its setup is this exchange's; its time is the request's.
            match target.connector.open(endpoint).await {
                Ok((s, done)) => {
                    self.progress.opened = Some(done.clone());
                    setup = Some(done);
                    sender = s;
                    exchange = self.send(req, &mut sender, captures, start).await;
                }
                Err(f) => {
                    exchange.error = Some(f.kind);
                    exchange.message = Some(f.message);
                }
            }
            exchange.retried = true;
        }
        let end = std::time::Instant::now();
        // Per request, the whole exchange is the operation; kept, the setup is not the request's.
        let (from, excluded) = if per_request {
            (began, Duration::ZERO)
        } else {
            (start, start - began)
        };
        exchange.latency = end - from;
        self.progress.opened = None;
        exchange.setup = setup.map(Box::new);
        let keep = !sender.is_closed()
            && !matches!(
                exchange.error,
                Some(ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Protocol)
            )
            && !per_request;
        match (&target.pools, lease) {
            (Some(pools), Some(lease)) => {
                pools[req.endpoint].give_back(lease, keep.then_some(sender))
            }
            _ if keep => self.own[req.endpoint] = Some(sender),
            _ => {}
        }
        Done {
            exchange,
            setup: excluded,
        }
    }

    /// Sends one request on an open connection and reads the response to its last byte; its time
    /// to first byte counts from `start`.
    async fn send(
        &mut self,
        req: &PreparedRequest,
        sender: &mut Sender,
        captures: Option<&Captures>,
        start: std::time::Instant,
    ) -> Exchange {
        let failed = |kind, message: String| Exchange {
            stats: req.stats,
            error: Some(kind),
            message: Some(message),
            ..Exchange::default()
        };
        self.progress.unanswered = false;
        self.progress.head = false;
        self.progress.body = 0;
        if let Err(f) = sender.ready().await {
            return failed(f.kind, f.message);
        }
        let cookie = self.jar.as_ref().filter(|_| self.jar_used).and_then(|jar| {
            let pairs: Vec<String> = jar
                .get_request_values(&req.cookie_url)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            (!pairs.is_empty())
                .then(|| HeaderValue::from_str(&pairs.join("; ")).ok())
                .flatten()
        });
        let h2 = sender.is_h2();
        let spare = std::mem::take(&mut self.spare);
        let request = match req.build(h2, &self.vars, cookie, spare) {
            Ok(r) => r,
            Err(e) => return failed(ErrorKind::Expectation, e.0),
        };
        if self.traced.is_some() {
            self.tracing = Some(self.trace_request(req, &request, h2));
        }
        let meter = sender.meter();
        self.progress.sent_on = Some((meter.clone(), meter.read()));
        self.progress.h2 = h2;
        let response = match sender.send(request).await {
            Ok(r) => r,
            Err(f) => {
                self.progress.unanswered = f.unanswered;
                return failed(f.kind, f.message);
            }
        };
        self.progress.head = true;
        let ttfb = start.elapsed();
        let status = response.status().as_u16();
        let (parts, mut body) = response.into_parts();
        if let Some(jar) = self.jar.as_mut() {
            for v in parts.headers.get_all(hyper::header::SET_COOKIE) {
                if let Ok(text) = v.to_str() {
                    // A cookie the jar refuses (wrong domain, malformed) is simply not kept.
                    self.jar_used |= jar.parse(text, &req.cookie_url).is_ok();
                }
            }
        }
        let keep_body = req.checks.reads_body()
            || captures.is_some_and(Captures::reads_body)
            || self.traced.is_some();
        let mut kept = BytesMut::new();
        let mut bytes = 0u64;
        let mut broken = None;
        let mut trailers = None;
        let kind = match req.grpc {
            Some(_) => Some(stream::Events::Grpc(stream::GrpcScanner::default())),
            None => stream::Events::of(&parts.headers),
        };
        let mut events = kind.map(|e| (e, stream::Timing::new(start)));
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Some(d) = f.data_ref() {
                        if let Some((scan, timing)) = events.as_mut() {
                            let n = scan.feed(d);
                            if n > 0 {
                                timing.events(n, std::time::Instant::now());
                            }
                        }
                        bytes += d.len() as u64;
                        self.progress.body = bytes;
                        if keep_body && kept.len() < MAX_KEPT_BODY {
                            let room = MAX_KEPT_BODY - kept.len();
                            kept.extend_from_slice(&d[..d.len().min(room)]);
                        }
                    } else if let Some(t) = f.trailers_ref() {
                        trailers = Some(t.clone());
                    }
                }
                Err(e) => {
                    let noun = if bytes == 1 { "byte" } else { "bytes" };
                    broken = Some(format!("body: {e}, after {bytes} {noun} of the body"));
                    break;
                }
            }
        }
        let mut body: Bytes = kept.freeze();
        let mut called = None;
        if let (Some(g), None) = (&req.grpc, &broken) {
            // A call's status decides before any check: a failed call has no message to check.
            called = match grpc::status(&parts.headers, trailers.as_ref()) {
                _ if status != 200 => None,
                None => Some((
                    ErrorKind::Protocol,
                    "the gRPC response has no grpc-status".to_string(),
                )),
                Some((code, m)) if code != g.expect => {
                    Some((ErrorKind::GrpcStatus, grpc::describe(code, &m)))
                }
                Some(_) if keep_body => match g.json(&body) {
                    Ok(json) => {
                        body = Bytes::from(json);
                        None
                    }
                    Err(m) => Some((ErrorKind::Body, m)),
                },
                Some(_) => None,
            };
        }
        let seen = Seen::new(status, &parts.headers, &body);
        let (error, message) = match (broken, called) {
            (Some(m), _) => (Some(ErrorKind::Body), Some(m)),
            (None, Some((kind, m))) => (Some(kind), Some(m)),
            (None, None) => match req.checks.verify(
                &seen,
                &Mask {
                    env: &self.target.substituted,
                    names: &self.target.slot_names,
                    vars: &self.vars,
                },
            ) {
                Some((kind, m)) => (Some(kind), Some(m)),
                None => match captures.map(|c| c.apply(&seen, &mut self.vars, &mut self.rng)) {
                    Some(Err(m)) => (Some(ErrorKind::Expectation), Some(m)),
                    _ => (None, None),
                },
            },
        };
        if let Some(t) = self.tracing.as_mut() {
            let mask = Mask {
                env: &self.target.substituted,
                names: &self.target.slot_names,
                vars: &self.vars,
            };
            // Masked with this response's captures too: a token shows as `${token}`.
            t.status = Some(status);
            t.response_headers = trace::headers(&parts.headers, &mask);
            t.response_body = trace::body(&body, &mask);
            t.request_headers = t
                .request_headers
                .iter()
                .map(|(k, v)| (k.clone(), mask.show(v, 200)))
                .collect();
            t.request_body = mask.show(&t.request_body, trace::BODY_SHOWN);
        }
        if parts.headers.capacity() <= MAX_SPARE_HEADERS {
            // Emptied now: its values hold on to hyper's read buffer until they are dropped.
            let mut spare = parts.headers;
            spare.clear();
            self.spare = spare;
        }
        Exchange {
            stats: req.stats,
            latency: Duration::ZERO,
            status: Some(status),
            bytes,
            error,
            message,
            ttfb: Some(ttfb),
            setup: None,
            retried: false,
            stream: events.map(|(_, timing)| Box::new(timing.finish())),
        }
    }
}

impl Session {
    /// The request as `try` shows it, masked with the iteration's variables so far.
    fn trace_request(
        &self,
        req: &PreparedRequest,
        request: &hyper::Request<http_body_util::Full<Bytes>>,
        h2: bool,
    ) -> Traced {
        let mask = Mask {
            env: &self.target.substituted,
            names: &self.target.slot_names,
            vars: &self.vars,
        };
        let endpoint = &self.target.endpoints[req.endpoint];
        let uri = request.uri().to_string();
        let url = if h2 || !uri.starts_with('/') {
            uri
        } else {
            let scheme = if endpoint.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let host = match &endpoint.host {
                url::Host::Ipv6(ip) => format!("[{ip}]"),
                other => other.to_string(),
            };
            format!("{scheme}://{host}:{}{uri}", endpoint.port)
        };
        Traced {
            name: self
                .target
                .names
                .get(req.stats)
                .cloned()
                .unwrap_or_default(),
            method: request.method().to_string(),
            url: mask.show(&url, 2 * trace::BODY_SHOWN),
            request_headers: trace::headers(request.headers(), &mask),
            request_body: trace::body(&req.body_bytes(&self.vars), &mask),
            ..Traced::default()
        }
    }
}

/// Whether a request with this method may be sent twice with the effect of once (RFC 9110
/// §9.2.2): GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
fn idempotent(method: &hyper::Method) -> bool {
    use hyper::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(method)
}

fn failed_done(stats: usize, kind: ErrorKind, message: &str, latency: Duration) -> Done {
    Done {
        exchange: Exchange {
            stats,
            latency,
            error: Some(kind),
            message: Some(message.to_string()),
            ..Exchange::default()
        },
        setup: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::http::HttpSettings;
    use crate::plan::requests::{Check, RequestTemplate};
    use crate::plan::text::Text;

    fn workload(mix: Mix, n: usize) -> HttpWorkload {
        let request = |i: usize| RequestTemplate {
            stats: i,
            display: format!("/x{i}"),
            url: Text::literal(format!("http://127.0.0.1:8080/x{i}?a=1")),
            relative: false,
            method: "GET".into(),
            headers: vec![("authorization".into(), Text::literal("Bearer s"))],
            body: None,
            check: Check::default(),
            grpc: None,
            websocket: None,
        };
        HttpWorkload {
            requests: (0..n).map(request).collect(),
            names: (0..n).map(|i| format!("GET /x{i}")).collect(),
            mix,
            settings: HttpSettings::default(),
            data: None,
            slots: 0,
            cookies: true,
            seed: None,
            setup: Vec::new(),
            kept: 0,
            substituted: Default::default(),
            run_vars: Vec::new(),
            preset: Default::default(),
        }
    }

    #[test]
    fn parts_of_a_cell_split_its_connections() {
        let sizes = |n: usize, of: u64| -> Vec<usize> {
            let mut w = workload(Mix::InOrder, 1);
            w.settings.connections = std::num::NonZeroUsize::new(n);
            (0..of)
                .map(|k| {
                    let t = HttpTarget::new(&w, Duration::from_secs(1), (k, of)).expect("target");
                    t.pools.as_ref().expect("pools")[0].size()
                })
                .collect()
        };
        assert_eq!(sizes(4, 1), [4]);
        assert_eq!(sizes(3, 2), [2, 1]);
        assert_eq!(sizes(8, 4), [2, 2, 2, 2]);
        // Fewer connections than parts: each part still needs one.
        assert_eq!(sizes(1, 2), [1, 1]);
    }

    #[test]
    fn only_idempotent_methods_are_sent_twice() {
        let cases = [
            ("GET", true),
            ("HEAD", true),
            ("OPTIONS", true),
            ("TRACE", true),
            ("PUT", true),
            ("DELETE", true),
            ("POST", false),
            ("PATCH", false),
            ("CONNECT", false),
            ("PURGE", false),
        ];
        for (method, want) in cases {
            let m = hyper::Method::from_bytes(method.as_bytes()).expect("method");
            assert_eq!(idempotent(&m), want, "{method}");
        }
    }

    #[test]
    fn a_timeout_says_how_far_the_request_had_come() {
        let cases = [
            (Progress::default(), "before a connection was open"),
            (
                Progress {
                    sent_on: Some((connect::Meter::detached(40), 13)),
                    ..Progress::default()
                },
                "after 27 bytes of the response head",
            ),
            (
                Progress {
                    sent_on: Some((connect::Meter::detached(13), 13)),
                    ..Progress::default()
                },
                "before any byte of the response",
            ),
            (
                Progress {
                    sent_on: Some((connect::Meter::detached(100), 0)),
                    h2: true,
                    ..Progress::default()
                },
                "before its response head arrived (HTTP/2)",
            ),
            (
                Progress {
                    sent_on: Some((connect::Meter::detached(100), 0)),
                    head: true,
                    body: 1,
                    ..Progress::default()
                },
                "after the response head and 1 byte of the body",
            ),
        ];
        for (progress, want) in cases {
            assert_eq!(progress.phase(), want);
        }
    }

    #[test]
    fn one_endpoint_for_one_origin() {
        let t = HttpTarget::new(&workload(Mix::InOrder, 3), Duration::from_secs(1), (0, 1))
            .expect("target");
        assert_eq!(t.endpoints.len(), 1);
        assert!(t.endpoints[0].tls.is_none());
        assert_eq!(t.requests.len(), 3);
    }

    #[test]
    fn a_weighted_mix_lands_in_its_proportions() {
        let t = Arc::new(
            HttpTarget::new(
                &workload(Mix::Weighted(vec![9.0, 1.0]), 2),
                Duration::from_secs(1),
                (0, 1),
            )
            .expect("target"),
        );
        let Pick::Weighted(cumulative) = &t.pick else {
            panic!("weighted")
        };
        let mut s = Session::new(Arc::clone(&t), 0, 42);
        let mut first = 0;
        for _ in 0..10_000 {
            let x = s.rng.f64() * cumulative[1];
            if cumulative.partition_point(|c| *c <= x) == 0 {
                first += 1;
            }
        }
        assert!((8_900..=9_100).contains(&first), "{first}");
    }
}
