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
//! A new connection's phases (DNS, connect, TLS) are timed apart (`connect.rs`) and reported in
//! the [`Outcome`]; with a kept connection a request's latency starts when it is written, so setup
//! is never folded into a request. The timeout covers the whole exchange: connecting, sending,
//! and reading the body to its last byte.

mod connect;
mod pool;
mod tls;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use rustls::pki_types::ServerName;
use tokio::time::{Instant, Sleep};

use super::Request as Planned;
use super::{ErrorKind, Outcome};
use crate::plan::http::{ConnectionPolicy, HttpSettings};
use connect::{Connector, Endpoint, Sender};

pub(super) use tls::system_root_count;

/// A target URL that could not be turned into a request. Shows the URL as written only.
#[derive(Debug, thiserror::Error)]
#[error("target `{display}`: {reason}")]
pub struct ResolveError {
    pub display: String,
    pub reason: String,
}

/// The requests of one scenario, built once and shared by every user of a cell.
pub struct HttpTarget {
    requests: Vec<PreparedRequest>,
    /// Distinct endpoints; a session holds one connection for each.
    endpoints: Vec<Endpoint>,
    expect: Vec<u16>,
    timeout: Duration,
    policy: ConnectionPolicy,
    connector: Connector,
    /// `connections: N`: one pool per endpoint.
    pools: Option<Vec<pool::Pool>>,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("requests", &self.requests.len())
            .field("endpoints", &self.endpoints.len())
            .finish_non_exhaustive()
    }
}

struct PreparedRequest {
    method: Method,
    /// Origin form (path and query), for HTTP/1.1: the Host header carries the authority.
    path: Uri,
    /// Absolute form, for HTTP/2: `:scheme` and `:authority` come from it.
    absolute: Uri,
    headers: HeaderMap,
    body: Bytes,
    endpoint: usize,
}

impl HttpTarget {
    pub fn new(
        templates: &[Planned],
        expect: Vec<u16>,
        settings: &HttpSettings,
        timeout: Duration,
    ) -> Result<HttpTarget, ResolveError> {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut requests = Vec::with_capacity(templates.len());
        for t in templates {
            let err = |reason: String| ResolveError {
                display: t.display.clone(),
                reason,
            };
            let url = &t.url;
            let host = url
                .host()
                .ok_or_else(|| err("the URL has no host".into()))?
                .to_owned();
            let port = url
                .port_or_known_default()
                .ok_or_else(|| err("the URL has no port".into()))?;
            let tls = match url.scheme() {
                "https" => {
                    let name = match &settings.tls.server_name {
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
            let ep = Endpoint { host, port, tls };
            let endpoint = match endpoints.iter().position(|e| e.same(&ep)) {
                Some(i) => i,
                None => {
                    endpoints.push(ep);
                    endpoints.len() - 1
                }
            };
            let path_query = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let path: Uri = path_query
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| err(e.to_string()))?;
            let absolute: Uri = url
                .as_str()
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| err(e.to_string()))?;
            let host_header = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => return Err(err("the URL has no host".into())),
            };
            let mut headers = HeaderMap::new();
            headers.insert(
                hyper::header::HOST,
                HeaderValue::from_str(&host_header).map_err(|e| err(e.to_string()))?,
            );
            headers.insert(
                hyper::header::USER_AGENT,
                HeaderValue::from_static(concat!("loadplan/", env!("CARGO_PKG_VERSION"))),
            );
            for (k, v) in &t.headers {
                // Header values may hold secrets: errors name the header, never the value.
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| err(format!("invalid header name `{k}`")))?;
                let value = HeaderValue::from_str(v)
                    .map_err(|_| err(format!("invalid value for header `{k}`")))?;
                headers.insert(name, value);
            }
            requests.push(PreparedRequest {
                method: Method::from_bytes(t.method.as_bytes()).map_err(|e| err(e.to_string()))?,
                path,
                absolute,
                headers,
                body: t.body.clone().map(Bytes::from).unwrap_or_default(),
                endpoint,
            });
        }
        let tls = if endpoints.iter().any(|e| e.tls.is_some()) {
            let config =
                tls::config(&settings.tls, settings.version).map_err(|reason| ResolveError {
                    display: "tls".into(),
                    reason,
                })?;
            Some(Arc::new(config))
        } else {
            None
        };
        Ok(HttpTarget {
            pools: settings
                .connections
                .map(|n| endpoints.iter().map(|_| pool::Pool::new(n.get())).collect()),
            requests,
            endpoints,
            expect,
            timeout,
            policy: settings.policy,
            connector: Connector::new(tls, settings.version),
        })
    }

    /// Runs connection tasks on `handle`: for users on several runtimes sharing connections.
    pub fn drive_connections_on(&mut self, handle: tokio::runtime::Handle) {
        self.connector.spawn_on(handle);
    }

    fn classify(&self, status: u16) -> Option<ErrorKind> {
        if self.expect.is_empty() {
            return (status >= 400).then_some(ErrorKind::Status);
        }
        if self.expect.contains(&status) {
            None
        } else if status >= 400 {
            Some(ErrorKind::Status)
        } else {
            Some(ErrorKind::Expectation)
        }
    }
}

/// One user's connections.
pub struct Session {
    target: Arc<HttpTarget>,
    /// Keep-alive: this user's own connection to each endpoint.
    own: Vec<Option<Sender>>,
    /// One timer for the whole session, re-armed only when it fires: arming a fresh timer per
    /// request costs a lock on the runtime's timer wheel twice per request.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Session {
    pub fn new(target: Arc<HttpTarget>) -> Session {
        let own = target.endpoints.iter().map(|_| None).collect();
        Session {
            target,
            own,
            timer: None,
        }
    }

    pub async fn execute(&mut self, op: u64) -> Outcome {
        let target = Arc::clone(&self.target);
        let index = (op % target.requests.len().max(1) as u64) as usize;
        let Some(req) = target.requests.get(index) else {
            return Outcome::failed(ErrorKind::Connect, "no request to send");
        };
        let deadline = Instant::now() + target.timeout;
        // Created here, not in `new`: a timer needs the runtime, which a session may outlive.
        let mut timer = self
            .timer
            .take()
            .unwrap_or_else(|| Box::pin(tokio::time::sleep_until(deadline)));
        let done = {
            let mut work = std::pin::pin!(self.exchange(&target, req));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(outcome) = work.as_mut().poll(cx) {
                    return Poll::Ready(Some(outcome));
                }
                // The timer is armed for this request or an earlier one, never a later one: when
                // it fires early, re-arm it for this request's own deadline.
                while timer.as_mut().poll(cx).is_ready() {
                    if Instant::now() >= deadline {
                        return Poll::Ready(None);
                    }
                    timer.as_mut().reset(deadline);
                }
                Poll::Pending
            })
            .await
        };
        self.timer = Some(timer);
        done.unwrap_or_else(|| {
            // The connection may still carry a late response: never reuse it.
            self.own[req.endpoint] = None;
            Outcome::failed(
                ErrorKind::Timeout,
                format!(
                    "no complete response within the timeout of {}",
                    humantime::format_duration(target.timeout)
                ),
            )
        })
    }

    async fn exchange(&mut self, target: &HttpTarget, req: &PreparedRequest) -> Outcome {
        let endpoint = &target.endpoints[req.endpoint];
        match (&target.pools, target.policy) {
            (_, ConnectionPolicy::PerRequest) => {
                // The whole exchange is the operation, setup included; its phases beside it.
                let mut outcome = match target.connector.open(endpoint).await {
                    Ok((mut sender, setup)) => {
                        let mut o = send(target, req, &mut sender).await;
                        o.setup = Some(Box::new(setup));
                        o
                    }
                    Err(f) => Outcome::failed(f.kind, f.message),
                };
                outcome.request_start = None;
                outcome
            }
            (Some(pools), ConnectionPolicy::KeepAlive) => {
                let pool = &pools[req.endpoint];
                let mut lease = pool.take().await;
                let (mut sender, setup) = match lease.sender.take() {
                    Some(s) => (s, None),
                    None => match target.connector.open(endpoint).await {
                        Ok((s, setup)) => (s, Some(setup)),
                        Err(f) => {
                            pool.give_back(lease, None);
                            return Outcome::failed(f.kind, f.message);
                        }
                    },
                };
                let mut outcome = send(target, req, &mut sender).await;
                outcome.setup = setup.map(Box::new);
                let keep = outcome.error != Some(ErrorKind::Connect);
                pool.give_back(lease, keep.then_some(sender));
                outcome
            }
            (None, ConnectionPolicy::KeepAlive) => self.own_connection(target, req).await,
        }
    }

    /// Keep-alive on this user's own connection: a connection the server closed meanwhile is
    /// replaced once, for a request that was not sent on it.
    async fn own_connection(&mut self, target: &HttpTarget, req: &PreparedRequest) -> Outcome {
        let mut setup = None;
        let mut sender = match self.own[req.endpoint].take().filter(|s| !s.is_closed()) {
            Some(s) => s,
            None => match target.connector.open(&target.endpoints[req.endpoint]).await {
                Ok((s, done)) => {
                    setup = Some(done);
                    s
                }
                Err(f) => return Outcome::failed(f.kind, f.message),
            },
        };
        if setup.is_none() && sender.ready().await.is_err() {
            // A kept connection the server closed meanwhile: open a fresh one.
            match target.connector.open(&target.endpoints[req.endpoint]).await {
                Ok((s, done)) => {
                    setup = Some(done);
                    sender = s;
                }
                Err(f) => return Outcome::failed(f.kind, f.message),
            }
        }
        let mut outcome = send(target, req, &mut sender).await;
        outcome.setup = setup.map(Box::new);
        if !sender.is_closed() && outcome.error != Some(ErrorKind::Connect) {
            self.own[req.endpoint] = Some(sender);
        }
        outcome
    }
}

/// Sends one request on an open connection and reads the response to its last byte.
async fn send(target: &HttpTarget, req: &PreparedRequest, sender: &mut Sender) -> Outcome {
    if let Err(e) = sender.ready().await {
        return Outcome::failed(ErrorKind::Connect, format!("connection: {e}"));
    }
    let start = std::time::Instant::now();
    let response = match sender.send(build(req, sender)).await {
        Ok(r) => r,
        Err(e) => {
            let mut o = Outcome::failed(ErrorKind::Connect, format!("request: {}", e.error()));
            o.request_start = Some(start);
            return o;
        }
    };
    let ttfb = start.elapsed();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    let mut broken = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => bytes += f.data_ref().map_or(0, |d| d.len() as u64),
            Err(e) => {
                broken = Some(format!("body: {e}"));
                break;
            }
        }
    }
    let (error, message) = match broken {
        Some(m) => (Some(ErrorKind::Body), Some(m)),
        None => match target.classify(status) {
            Some(kind) => (Some(kind), Some(format!("status {status}"))),
            None => (None, None),
        },
    };
    Outcome {
        status: Some(status),
        bytes,
        error,
        message,
        request_start: Some(start),
        ttfb: Some(ttfb),
        setup: None,
    }
}

/// The request for the connection's protocol: origin form and Host on HTTP/1.1, absolute form
/// (which hyper turns into `:scheme` and `:authority`) on HTTP/2.
fn build(req: &PreparedRequest, sender: &Sender) -> Request<Full<Bytes>> {
    let mut r = Request::new(Full::new(req.body.clone()));
    *r.method_mut() = req.method.clone();
    *r.headers_mut() = req.headers.clone();
    match sender {
        Sender::H1(_) => *r.uri_mut() = req.path.clone(),
        Sender::H2(_) => {
            *r.uri_mut() = req.absolute.clone();
            *r.version_mut() = hyper::Version::HTTP_2;
            r.headers_mut().remove(hyper::header::HOST);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(expect: Vec<u16>) -> HttpTarget {
        let t = Planned {
            display: "/x?a=1".into(),
            url: url::Url::parse("http://127.0.0.1:8080/x?a=1").expect("url"),
            method: "POST".into(),
            headers: vec![("authorization".into(), "Bearer s".into())],
            body: Some("{}".into()),
        };
        HttpTarget::new(
            &[t],
            expect,
            &HttpSettings::default(),
            Duration::from_secs(1),
        )
        .expect("target")
    }

    #[test]
    fn requests_carry_both_forms_and_the_host() {
        let t = target(vec![]);
        let r = &t.requests[0];
        assert_eq!(r.path.to_string(), "/x?a=1");
        assert_eq!(r.absolute.to_string(), "http://127.0.0.1:8080/x?a=1");
        assert_eq!(r.headers["host"], "127.0.0.1:8080");
        assert_eq!(r.headers["authorization"], "Bearer s");
        assert_eq!(t.endpoints.len(), 1);
        assert!(t.endpoints[0].tls.is_none());
    }

    #[test]
    fn statuses_are_classified() {
        let any = target(vec![]);
        let exact = target(vec![200, 204]);
        let cases = [
            (&any, 200, None),
            (&any, 302, None),
            (&any, 404, Some(ErrorKind::Status)),
            (&exact, 204, None),
            (&exact, 302, Some(ErrorKind::Expectation)),
            (&exact, 503, Some(ErrorKind::Status)),
        ];
        for (t, status, want) in cases {
            assert_eq!(t.classify(status), want, "{status}");
        }
    }
}
