//! The only HTTP client in loadplan: HTTP/1.1 over one raw hyper connection per user.
//!
//! No pool: a pooled client races new connects against idle ones and opens more connections than
//! there are users, which would blur the comparison of models. Each [`Session`] keeps one
//! keep-alive connection per endpoint, reconnects after a failure, and applies the timeout to the
//! whole exchange (connect, request, and reading the body to its last byte).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::Request as Planned;
use super::{ErrorKind, Outcome};

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
    method: Method,
    /// Origin form (path and query): the Host header carries the authority.
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    endpoint: usize,
}

impl HttpTarget {
    pub fn new(
        templates: &[Planned],
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
            let url = &t.url;
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
            requests.push(PreparedRequest {
                method: Method::from_bytes(t.method.as_bytes()).map_err(|e| err(e.to_string()))?,
                uri,
                headers,
                body: t.body.clone().map(Bytes::from).unwrap_or_default(),
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
    conns: Vec<Option<SendRequest<Full<Bytes>>>>,
    /// One timer for the whole session, re-armed only when it fires: arming a fresh timer per
    /// request costs a lock on the runtime's timer wheel twice per request.
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
        let target = Arc::clone(&self.target);
        let req = &target.requests[(op % target.requests.len() as u64) as usize];
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
            self.conns[req.endpoint] = None;
            Outcome {
                error: Some(ErrorKind::Timeout),
                ..Outcome::default()
            }
        })
    }

    async fn exchange(&mut self, target: &HttpTarget, req: &PreparedRequest) -> Outcome {
        let fail = |error| Outcome {
            error: Some(error),
            ..Outcome::default()
        };
        let mut request = build(req);
        let mut reused = self.conns[req.endpoint].take();
        let response = loop {
            let fresh = reused.is_none();
            let mut sender = match reused.take() {
                Some(s) => s,
                None => match connect(&target.endpoints[req.endpoint]).await {
                    Ok(s) => s,
                    Err(()) => return fail(ErrorKind::Connect),
                },
            };
            if sender.ready().await.is_err() {
                if fresh {
                    return fail(ErrorKind::Connect);
                }
                continue; // a kept-alive connection the server closed meanwhile
            }
            match sender.try_send_request(request).await {
                Ok(r) => break (r, sender),
                Err(mut e) => match e.take_message() {
                    // Not sent on a stale connection: send it once more on a fresh one.
                    Some(r) if !fresh => request = r,
                    _ => return fail(ErrorKind::Connect),
                },
            }
        };
        let (response, sender) = response;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => bytes += f.data_ref().map_or(0, |d| d.len() as u64),
                Err(_) => {
                    return Outcome {
                        status: Some(status),
                        bytes,
                        error: Some(ErrorKind::Body),
                    };
                }
            }
        }
        if !sender.is_closed() {
            self.conns[req.endpoint] = Some(sender);
        }
        Outcome {
            status: Some(status),
            bytes,
            error: target.classify(status),
        }
    }
}

fn build(req: &PreparedRequest) -> Request<Full<Bytes>> {
    let mut r = Request::new(Full::new(req.body.clone()));
    *r.method_mut() = req.method.clone();
    *r.uri_mut() = req.uri.clone();
    *r.headers_mut() = req.headers.clone();
    r
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, ()> {
    let stream = TcpStream::connect(authority).await.map_err(|_| ())?;
    stream.set_nodelay(true).map_err(|_| ())?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| ())?;
    tokio::spawn(async move {
        // Errors surface through the sender; the task only drives the connection.
        let _ = conn.await;
    });
    Ok(sender)
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
        HttpTarget::new(&[t], expect, Duration::from_secs(1)).expect("target")
    }

    #[test]
    fn requests_are_origin_form_with_host() {
        let t = target(vec![]);
        let r = &t.requests[0];
        assert_eq!(r.uri.to_string(), "/x?a=1");
        assert_eq!(r.headers["host"], "127.0.0.1:8080");
        assert_eq!(r.headers["authorization"], "Bearer s");
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
