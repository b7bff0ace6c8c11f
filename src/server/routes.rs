//! One request in, one response out: the synthetic endpoints (`/hello`, `/io`, `/cpu`, `/bytes`,
//! `/status`, `/flaky`, `/capacity`, a queue in front of a fixed pool: [`super::fixed`], and
//! `/sse`, server-sent events on a schedule) answered here, the gRPC service `loadplan.Demo`
//! handed to [`super::grpc`], the WebSocket echo `/ws` to [`super::websocket`], the JSON API (`/login`, `/items`, `/stats`) handed to
//! [`super::api`].
//!
//! Input: a request of any HTTP version, with any body type (hyper's `Incoming` when serving,
//! `Full` in tests). Output: a [`Payload`] response. It must stay cheap: this is the load target,
//! so constant bodies are static, `/bytes` streams slices of one static buffer instead of
//! allocating N bytes, nothing is logged per request, and a bad query string is a 400, never a
//! panic.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Request, Response, StatusCode};

use super::api::Api;
use super::fixed::{self, Admission, Pools};

/// Upper bounds on what one request may ask for, so the server cannot be told to exhaust itself.
const MAX_DELAY: Duration = Duration::from_secs(60);
const MAX_BYTES: usize = 64 << 20;
const MAX_WORK: u64 = 10_000_000_000;
const MAX_EVENTS: u32 = 100_000;

/// What `/bytes` sends, a slice at a time: large bodies cost no memory, only writes.
static FILL: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// A response body: one buffer, `/bytes`' run of `x`s streamed from [`FILL`], or `/sse`'s
/// events, each sent when its timer fires.
#[derive(Debug)]
pub enum Payload {
    Once(Option<Bytes>),
    Fill {
        left: usize,
    },
    /// A gRPC answer: its messages, then its trailers (`grpc-status`).
    Grpc {
        data: Option<Bytes>,
        trailers: Option<hyper::HeaderMap>,
    },
    Events {
        /// Events still to send; the next is numbered `sent`.
        left: u32,
        sent: u32,
        every: Duration,
        next: Pin<Box<tokio::time::Sleep>>,
    },
}

impl Payload {
    pub fn from_static(body: &'static str) -> Payload {
        Payload::Once(Some(Bytes::from_static(body.as_bytes())))
    }

    fn len(&self) -> usize {
        match self {
            Payload::Once(b) => b.as_ref().map_or(0, Bytes::len),
            Payload::Fill { left } => *left,
            Payload::Events { left, .. } => *left as usize,
            Payload::Grpc { data, trailers } => {
                data.as_ref().map_or(0, Bytes::len) + usize::from(trailers.is_some())
            }
        }
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Payload {
        Payload::Once(Some(Bytes::from(s)))
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Payload {
        Payload::Once(Some(b))
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = match self.get_mut() {
            Payload::Grpc { data, trailers } => {
                if let Some(d) = data.take().filter(|d| !d.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                return Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            Payload::Events {
                left,
                sent,
                every,
                next,
            } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                if next.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let deadline = next.deadline() + *every;
                next.as_mut().reset(deadline);
                *left -= 1;
                *sent += 1;
                Some(Bytes::from(format!(
                    "id: {sent}\ndata: {{\"n\":{sent}}}\n\n"
                )))
            }
            Payload::Once(b) => b.take().filter(|b| !b.is_empty()),
            Payload::Fill { left } => {
                let n = (*left).min(FILL.len());
                *left -= n;
                (n > 0).then(|| Bytes::from_static(&FILL[..n]))
            }
        };
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.len() == 0
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            // A stream's length is not known ahead: HTTP/1.1 sends it chunked.
            Payload::Events { .. } | Payload::Grpc { .. } => SizeHint::default(),
            _ => SizeHint::with_exact(self.len() as u64),
        }
    }
}

/// Answers one request. Never fails: every problem is a status code.
pub async fn handle<B>(req: Request<B>, api: &Api, pools: &Pools) -> Response<Payload>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let query = req.uri().query().unwrap_or("");
    match req.uri().path() {
        "/hello" => text(StatusCode::OK, "hello\n"),
        "/io" => match param(query, "delay").map(humantime::parse_duration) {
            None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                text(StatusCode::OK, "ok\n")
            }
            Some(Ok(d)) if d <= MAX_DELAY => {
                tokio::time::sleep(d).await;
                text(StatusCode::OK, "ok\n")
            }
            Some(_) => text(
                StatusCode::BAD_REQUEST,
                "delay must be a duration up to 60s, like 50ms\n",
            ),
        },
        "/cpu" => match param(query, "work").map(str::parse::<u64>) {
            Some(Ok(n)) if n <= MAX_WORK => {
                match tokio::task::spawn_blocking(move || crate::workload::sum_squares(n)).await {
                    Ok(sum) => response(StatusCode::OK, format!("{sum}\n").into()),
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "computation failed\n"),
                }
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "work must be a whole number up to 10000000000\n",
            ),
        },
        "/bytes" => match param(query, "size").map(str::parse::<usize>) {
            Some(Ok(n)) if n <= MAX_BYTES => Response::new(Payload::Fill { left: n }),
            _ => text(
                StatusCode::BAD_REQUEST,
                "size must be a whole number of bytes up to 67108864\n",
            ),
        },
        "/status" => match param(query, "code")
            .and_then(|c| c.parse::<u16>().ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => response(status, format!("{}\n", status.as_u16()).into()),
            None => text(
                StatusCode::BAD_REQUEST,
                "code must be an HTTP status code\n",
            ),
        },
        "/flaky" => match param(query, "fail").map(str::parse::<f64>) {
            Some(Ok(p)) if (0.0..=1.0).contains(&p) => {
                if fastrand::f64() < p {
                    text(StatusCode::SERVICE_UNAVAILABLE, "unlucky\n")
                } else {
                    text(StatusCode::OK, "ok\n")
                }
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "fail must be a probability between 0 and 1\n",
            ),
        },
        "/capacity" => {
            let arrived = std::time::Instant::now();
            let spec = match fixed::spec(
                param(query, "workers"),
                param(query, "service"),
                param(query, "queue"),
            ) {
                Ok(s) => s,
                Err(what) => return text(StatusCode::BAD_REQUEST, what),
            };
            match pools.admit(spec, arrived) {
                Some(Admission::At(done)) => {
                    tokio::time::sleep_until(done.into()).await;
                    text(StatusCode::OK, "ok\n")
                }
                Some(Admission::Full) => text(StatusCode::SERVICE_UNAVAILABLE, "queue full\n"),
                None => text(
                    StatusCode::BAD_REQUEST,
                    "too many distinct capacity pools: reuse the same workers, service and queue\n",
                ),
            }
        }
        "/sse" => match events(query) {
            Some(body) => {
                let mut r = Response::new(body);
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/event-stream"),
                );
                r.headers_mut().insert(
                    hyper::header::CACHE_CONTROL,
                    hyper::header::HeaderValue::from_static("no-cache"),
                );
                r
            }
            None => text(
                StatusCode::BAD_REQUEST,
                "events must be a whole number up to 100000; delay and every durations up to 60s, like 50ms\n",
            ),
        },
        "/ws" => super::websocket::accept(req),
        p if p.starts_with(super::grpc::PREFIX) => super::grpc::handle(req).await,
        _ => api.handle(req).await,
    }
}

/// `/sse?events=N&every=D&delay=D`: N events (default 10), the first after `delay` (default 0),
/// then one `every` (default 50ms); `None` for a query out of bounds.
fn events(query: &str) -> Option<Payload> {
    let duration = |name, default| match param(query, name) {
        None => Some(default),
        Some(v) => humantime::parse_duration(v)
            .ok()
            .filter(|d| *d <= MAX_DELAY),
    };
    let left = match param(query, "events") {
        None => 10,
        Some(v) => v.parse::<u32>().ok().filter(|n| *n <= MAX_EVENTS)?,
    };
    let every = duration("every", Duration::from_millis(50))?;
    let delay = duration("delay", Duration::ZERO)?;
    Some(Payload::Events {
        left,
        sent: 0,
        every,
        next: Box::pin(tokio::time::sleep(delay)),
    })
}

pub fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn response(status: StatusCode, body: Payload) -> Response<Payload> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

/// A response with a constant body and no headers of its own: nothing allocated.
pub fn text(status: StatusCode, body: &'static str) -> Response<Payload> {
    response(status, Payload::from_static(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[test]
    fn query_parameters() {
        assert_eq!(param("delay=50ms", "delay"), Some("50ms"));
        assert_eq!(param("a=1&delay=5s", "delay"), Some("5s"));
        assert_eq!(param("delay", "delay"), None);
        assert_eq!(param("", "delay"), None);
    }

    fn get(uri: &str) -> Request<Full<Bytes>> {
        Request::builder()
            .uri(uri)
            .body(Full::new(Bytes::new()))
            .expect("a valid test request")
    }

    #[tokio::test]
    async fn synthetic_endpoints() {
        let api = Api::new();
        let table: &[(&str, u16, Option<&str>)] = &[
            ("/hello", 200, Some("hello\n")),
            ("/io", 200, Some("ok\n")),
            ("/io?delay=5ms", 200, Some("ok\n")),
            ("/io?delay=61s", 400, None),
            ("/io?delay=soon", 400, None),
            ("/cpu?work=3", 200, Some("5\n")),
            ("/cpu?work=-1", 400, None),
            ("/cpu", 400, None),
            ("/bytes?size=0", 200, Some("")),
            ("/bytes?size=5", 200, Some("xxxxx")),
            ("/bytes?size=67108865", 400, None),
            ("/status?code=503", 503, Some("503\n")),
            ("/status?code=42", 400, None),
            ("/status?code=x", 400, None),
            ("/flaky?fail=0", 200, Some("ok\n")),
            ("/flaky?fail=1", 503, Some("unlucky\n")),
            ("/flaky?fail=1.5", 400, None),
            ("/capacity?workers=2&service=1ms", 200, Some("ok\n")),
            ("/capacity?workers=2&service=1ms&queue=0", 200, Some("ok\n")),
            ("/capacity?workers=0&service=1ms", 400, None),
            ("/capacity?workers=2", 400, None),
            ("/sse?events=0", 200, Some("")),
            (
                "/sse?events=2&every=1ms",
                200,
                Some("id: 1\ndata: {\"n\":1}\n\nid: 2\ndata: {\"n\":2}\n\n"),
            ),
            ("/sse?events=100001", 400, None),
            ("/sse?every=61s", 400, None),
            ("/sse?delay=soon", 400, None),
            ("/nowhere", 404, None),
        ];
        for &(uri, status, body) in table {
            let resp = handle(get(uri), &api, &Pools::new()).await;
            assert_eq!(resp.status().as_u16(), status, "{uri}");
            if let Some(body) = body {
                let got = resp.into_body().collect().await.expect("infallible");
                assert_eq!(got.to_bytes(), body.as_bytes(), "{uri}");
            }
        }
    }

    #[tokio::test]
    async fn large_bodies_stream_with_an_exact_length() {
        let n = FILL.len() * 2 + 7;
        let resp = handle(get(&format!("/bytes?size={n}")), &Api::new(), &Pools::new()).await;
        assert_eq!(resp.body().size_hint().exact(), Some(n as u64));
        let mut body = resp.into_body();
        let mut frames = 0;
        let mut total = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.expect("infallible").into_data().expect("data");
            assert!(data.iter().all(|&b| b == b'x'));
            total += data.len();
            frames += 1;
        }
        assert_eq!((frames, total), (3, n));
        assert!(body.is_end_stream());
    }
}
