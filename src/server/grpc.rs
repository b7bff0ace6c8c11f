//! The built-in server's gRPC service, `loadplan.Demo` (`plans/protos/demo.proto`), so gRPC
//! demos run offline: `Echo` answers one message, `Count` streams `count` of them. Messages are
//! prost derives here, no reflection: the server knows its one service.
//!
//! Input: a request to `/loadplan.Demo/<Method>` (HTTP/2, as gRPC clients send it). Output: a
//! gRPC response: `200`, `content-type: application/grpc`, the messages, then trailers with
//! `grpc-status`. A bad request is a gRPC status (`INVALID_ARGUMENT`, `UNIMPLEMENTED`), never a
//! panic; a request body is read up to a bound.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use prost::Message;

use super::routes::Payload;

/// The service's path prefix.
pub const PREFIX: &str = "/loadplan.Demo/";

/// The largest request message read, and the most messages `Count` streams.
const MAX_REQUEST: usize = 64 * 1024;
const MAX_COUNT: u32 = 10_000;

/// `message Say { string text = 1; uint32 count = 2; }`
#[derive(Clone, PartialEq, Message)]
struct Say {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(uint32, tag = "2")]
    count: u32,
}

/// `message Said { string text = 1; uint32 n = 2; }`
#[derive(Clone, PartialEq, Message)]
struct Said {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(uint32, tag = "2")]
    n: u32,
}

/// Answers one call to `loadplan.Demo`.
pub async fn handle<B>(req: Request<B>) -> Response<Payload>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let method = req.uri().path().trim_start_matches(PREFIX).to_string();
    let body = match Limited::new(req.into_body(), MAX_REQUEST + 5)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return status(3, "the request message is too large or broke off"),
    };
    let say = match one_message(&body) {
        Some(m) => match Say::decode(m) {
            Ok(s) => s,
            Err(_) => return status(3, "the request is not a loadplan.Demo.Say"),
        },
        None => return status(3, "the request is not one uncompressed gRPC message"),
    };
    let said = |text: &str, n: u32| {
        Said {
            text: text.to_string(),
            n,
        }
        .encode_to_vec()
    };
    let mut out = Vec::new();
    match method.as_str() {
        "Echo" => {
            let n = u32::try_from(say.text.chars().count()).unwrap_or(u32::MAX);
            frame(&mut out, &said(&say.text, n));
        }
        "Count" if say.count <= MAX_COUNT => {
            for i in 1..=say.count {
                frame(&mut out, &said(&say.text, i));
            }
        }
        "Count" => return status(3, "count is at most 10000"),
        _ => return status(12, "loadplan.Demo has Echo and Count"),
    }
    respond(Some(Bytes::from(out)), 0, "")
}

/// The message of a body holding exactly one uncompressed message.
fn one_message(body: &[u8]) -> Option<&[u8]> {
    let (&[flag, a, b, c, d], rest) = body.split_first_chunk::<5>()?;
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).ok()?;
    (flag == 0 && rest.len() == len).then_some(rest)
}

fn frame(out: &mut Vec<u8>, message: &[u8]) {
    out.push(0);
    out.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(message);
}

/// A call that ends with `code` and no message.
fn status(code: u32, message: &'static str) -> Response<Payload> {
    respond(None, code, message)
}

fn respond(data: Option<Bytes>, code: u32, message: &'static str) -> Response<Payload> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(code));
    if !message.is_empty() {
        trailers.insert("grpc-message", HeaderValue::from_static(message));
    }
    let mut r = Response::new(Payload::Grpc {
        data,
        trailers: Some(trailers),
    });
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn call(method: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        Request::builder()
            .method("POST")
            .uri(format!("{PREFIX}{method}"))
            .body(Full::new(Bytes::from(body)))
            .expect("a valid test request")
    }

    fn say(text: &str, count: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let m = Say {
            text: text.into(),
            count,
        };
        frame(&mut out, &m.encode_to_vec());
        out
    }

    /// (messages, grpc-status) of a response.
    async fn read(r: Response<Payload>) -> (Vec<Said>, String) {
        let collected = r.into_body().collect().await.expect("infallible");
        let code = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        let bytes = collected.to_bytes();
        let mut rest = &bytes[..];
        let mut messages = Vec::new();
        while let Some((&[_, a, b, c, d], after)) = rest.split_first_chunk::<5>() {
            let len = u32::from_be_bytes([a, b, c, d]) as usize;
            messages.push(Said::decode(&after[..len]).expect("a Said"));
            rest = &after[len..];
        }
        (messages, code)
    }

    #[tokio::test]
    async fn echo_count_and_refusals() {
        let (m, code) = read(handle(call("Echo", say("héllo", 0))).await).await;
        assert_eq!(
            (m.len(), m[0].text.as_str(), m[0].n, code.as_str()),
            (1, "héllo", 5, "0")
        );
        let (m, code) = read(handle(call("Count", say("x", 3))).await).await;
        assert_eq!(m.iter().map(|s| s.n).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(code, "0");
        let table: &[(&str, Vec<u8>, &str)] = &[
            ("Count", say("x", MAX_COUNT + 1), "3"),
            ("Shout", say("x", 0), "12"),
            ("Echo", vec![0, 0, 0, 0, 9, 1], "3"),
            ("Echo", vec![1, 0, 0, 0, 0], "3"),
            ("Echo", vec![0, 0, 0, 0, 2, 0xff, 0xff], "3"),
            ("Echo", vec![0; MAX_REQUEST + 10], "3"),
        ];
        for (method, body, want) in table {
            let (m, code) = read(handle(call(method, body.clone())).await).await;
            assert_eq!((m.len(), code.as_str()), (0, *want), "{method} {body:?}");
        }
    }
}
