//! The only HTTP client in loadplan: HTTP/1.1 over one raw connection per user and endpoint.
//!
//! No pool: a pooled client races new connects against idle ones and opens more connections than
//! there are users, which would blur the comparison of models. Each request is validated and
//! serialized to bytes once per cell (`h1.rs` speaks the wire); a [`Session`] keeps one keep-alive
//! connection per endpoint, reconnects after a failure, and applies the timeout to the whole
//! exchange (connect, request, and reading the body to its last byte).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::Method;
use hyper::Uri;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::{Instant, Sleep};

use super::h1::{self, Failure};
use super::{ErrorKind, Outcome};
use crate::plan::{RequestTemplate, TargetUrl};

/// A target URL that could not be turned into a request. Shows the URL as written only.
#[derive(Debug, thiserror::Error)]
#[error("target `{display}`: {reason}")]
pub struct ResolveError {
    pub display: String,
    pub reason: String,
}

/// The requests of one scenario, built once and shared by every user of a cell.
#[derive(Debug)]
pub struct HttpTarget {
    requests: Vec<PreparedRequest>,
    /// Distinct `host:port` pairs; a session holds one connection for each.
    endpoints: Vec<String>,
    expect: Vec<u16>,
    timeout: Duration,
}

#[derive(Debug)]
struct PreparedRequest {
    /// The whole request as sent: origin-form target (the Host header carries the authority),
    /// headers, body. Built once, written as is by every operation.
    wire: Vec<u8>,
    /// A HEAD request's response has no body whatever its headers say.
    head: bool,
    endpoint: usize,
}

impl HttpTarget {
    pub fn new(
        templates: &[RequestTemplate],
        base: Option<&url::Url>,
        expect: Vec<u16>,
        timeout: Duration,
    ) -> Result<HttpTarget, ResolveError> {
        let mut endpoints: Vec<String> = Vec::new();
        let mut requests = Vec::with_capacity(templates.len());
        for t in templates {
            let err = |reason: String| ResolveError {
                display: t.display.clone(),
                reason,
            };
            let url = match &t.url {
                TargetUrl::Absolute(u) => u.clone(),
                TargetUrl::Relative(path) => base
                    .ok_or_else(|| err("a relative URL needs `base`".into()))?
                    .join(path)
                    .map_err(|e| err(e.to_string()))?,
            };
            let host = url
                .host_str()
                .ok_or_else(|| err("the URL has no host".into()))?;
            let port = url
                .port_or_known_default()
                .ok_or_else(|| err("the URL has no port".into()))?;
            let authority = format!("{host}:{port}");
            let endpoint = match endpoints.iter().position(|e| *e == authority) {
                Some(i) => i,
                None => {
                    endpoints.push(authority);
                    endpoints.len() - 1
                }
            };
            let path_query = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let uri: Uri = path_query
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| err(e.to_string()))?;
            let host_header = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
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
            let method = Method::from_bytes(t.method.as_bytes()).map_err(|e| err(e.to_string()))?;
            let body = t.body.as_deref().unwrap_or_default();
            requests.push(PreparedRequest {
                wire: h1::request_bytes(
                    method.as_str(),
                    &uri.to_string(),
                    headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
                    body,
                ),
                head: method == Method::HEAD,
                endpoint,
            });
        }
        Ok(HttpTarget {
            requests,
            endpoints,
            expect,
            timeout,
        })
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
    conns: Vec<Option<h1::Connection>>,
    /// One timer for the whole session, re-armed only when it fires: arming a timer per request
    /// costs a lock on the runtime's timer wheel twice per request.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Session {
    pub fn new(target: Arc<HttpTarget>) -> Session {
        let conns = target.endpoints.iter().map(|_| None).collect();
        Session {
            target,
            conns,
            timer: None,
        }
    }

    pub async fn execute(&mut self, op: u64) -> Outcome {
        let Session {
            target,
            conns,
            timer,
        } = self;
        let req = &target.requests[(op % target.requests.len() as u64) as usize];
        let deadline = Instant::now() + target.timeout;
        // Created here, not in `new`: a timer needs the runtime, which a session may outlive.
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        let mut work = std::pin::pin!(exchange(target, conns, req));
        let done = std::future::poll_fn(|cx| {
            if let Poll::Ready(outcome) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(outcome));
            }
            // The timer is armed for this request or an earlier one, never for a later one: when
            // it fires early, re-arm it for this request's own deadline.
            while timer.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    return Poll::Ready(None);
                }
                timer.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await;
        // On timeout the unfinished exchange (and with it the connection, which may still carry a
        // late response) is dropped: the next operation connects afresh.
        done.unwrap_or(Outcome {
            error: Some(ErrorKind::Timeout),
            ..Outcome::default()
        })
    }
}

/// One request on the user's connection to its endpoint. The connection is taken out for the
/// exchange and put back only when it can carry the next request.
async fn exchange(
    target: &HttpTarget,
    conns: &mut [Option<h1::Connection>],
    req: &PreparedRequest,
) -> Outcome {
    let fail = |error| Outcome {
        error: Some(error),
        ..Outcome::default()
    };
    let mut reused = conns[req.endpoint].take();
    loop {
        let fresh = reused.is_none();
        let mut conn = match reused.take() {
            Some(c) => c,
            None => match h1::Connection::open(&target.endpoints[req.endpoint]).await {
                Ok(c) => c,
                Err(_) => return fail(ErrorKind::Connect),
            },
        };
        match conn.exchange(&req.wire, req.head).await {
            Ok(r) => {
                if r.reusable {
                    conns[req.endpoint] = Some(conn);
                }
                return Outcome {
                    status: Some(r.status),
                    bytes: r.body_bytes,
                    error: target.classify(r.status),
                };
            }
            // A kept-alive connection the server closed meanwhile: once more on a fresh one.
            Err(Failure::NoResponse) if !fresh => {}
            Err(Failure::NoResponse | Failure::Head) => return fail(ErrorKind::Connect),
            Err(Failure::Body { status, bytes }) => {
                return Outcome {
                    status: Some(status),
                    bytes,
                    error: Some(ErrorKind::Body),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn target(expect: Vec<u16>) -> HttpTarget {
        let t = RequestTemplate {
            display: "/x?a=1".into(),
            url: TargetUrl::Relative("/x?a=1".into()),
            method: "POST".into(),
            headers: vec![("authorization".into(), "Bearer s".into())],
            body: Some(Bytes::from_static(b"{}")),
        };
        let base = url::Url::parse("http://127.0.0.1:8080/").expect("url");
        HttpTarget::new(&[t], Some(&base), expect, Duration::from_secs(1)).expect("target")
    }

    #[test]
    fn requests_are_origin_form_with_host() {
        let t = target(vec![]);
        let r = &t.requests[0];
        let wire = String::from_utf8_lossy(&r.wire);
        assert!(wire.starts_with("POST /x?a=1 HTTP/1.1\r\n"), "{wire}");
        assert!(wire.contains("\r\nhost: 127.0.0.1:8080\r\n"), "{wire}");
        assert!(wire.contains("\r\nauthorization: Bearer s\r\n"), "{wire}");
        assert!(wire.ends_with("\r\ncontent-length: 2\r\n\r\n{}"), "{wire}");
        assert!(!r.head);
        assert_eq!(t.endpoints, vec!["127.0.0.1:8080".to_string()]);
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
