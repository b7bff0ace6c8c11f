//! `/ws`: a WebSocket echo, so that plans with `websocket:` steps run offline against
//! `base: builtin`. Each text or binary message comes back as it came; `?close=CODE&after=N`
//! closes the connection with that code after N echoes (a demo of `websocket_close` errors).
//!
//! Input: an HTTP/1.1 upgrade request (hyper's `Incoming` body carries the upgrade). Output: the
//! `101 Switching Protocols` answer, and a task that speaks WebSocket (tokio-tungstenite over
//! the connection hyper hands over) until the client closes. A request that is not a WebSocket
//! upgrade is a 400, never a panic; a connection that breaks ends its task only.

use futures_util::{SinkExt, StreamExt};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use super::routes::{Payload, param, response, text};

/// The largest message echoed: a load target must not be told to hold much per connection.
const MAX_MESSAGE: usize = 1 << 20;

/// When to close instead of echoing: after `after` echoes, with `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CloseAfter {
    code: u16,
    after: u64,
}

/// Answers an upgrade to `/ws` and echoes on the upgraded connection.
pub fn accept<B>(mut req: Request<B>) -> Response<Payload> {
    let query = req.uri().query().unwrap_or("");
    let close = match close_after(param(query, "close"), param(query, "after")) {
        Ok(c) => c,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    let asks = |name, value: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(value))
    };
    let version = req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    let (true, true, true, Some(key)) = (
        asks(header::UPGRADE, "websocket"),
        asks(header::CONNECTION, "upgrade"),
        version,
        key,
    ) else {
        return text(
            StatusCode::BAD_REQUEST,
            "/ws speaks WebSocket: send an HTTP/1.1 upgrade (Upgrade: websocket, Sec-WebSocket-Version: 13)\n",
        );
    };
    let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) else {
        return text(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key\n");
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let config = WebSocketConfig::default()
                .max_message_size(Some(MAX_MESSAGE))
                .max_frame_size(Some(MAX_MESSAGE));
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            echo(socket, close).await;
        }
    });
    let mut r = response(StatusCode::SWITCHING_PROTOCOLS, Payload::Once(None));
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    r
}

/// Echoes every text and binary message until the client closes (the library answers its close
/// and pings), or closes first as `close` asks.
async fn echo<S>(mut socket: WebSocketStream<S>, close: Option<CloseAfter>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut echoed = 0u64;
    while let Some(Ok(message)) = socket.next().await {
        if !matches!(message, Message::Text(_) | Message::Binary(_)) {
            continue;
        }
        if let Some(c) = close.filter(|c| echoed >= c.after) {
            let frame = CloseFrame {
                code: CloseCode::from(c.code),
                reason: "asked to close".into(),
            };
            let _ = socket.close(Some(frame)).await;
            return;
        }
        if socket.send(message).await.is_err() {
            return;
        }
        echoed += 1;
    }
}

/// `?close=CODE&after=N`: a close code a server may send (1000–1014 but the reserved 1004–1006,
/// or 3000–4999) after N echoes (default 0).
fn close_after(
    code: Option<&str>,
    after: Option<&str>,
) -> Result<Option<CloseAfter>, &'static str> {
    const WHY: &str = "close must be a close code (1000-1003, 1007-1014, 3000-4999) and after a whole number of messages\n";
    let Some(code) = code else {
        return match after {
            None => Ok(None),
            Some(_) => Err(WHY),
        };
    };
    let code: u16 = code.parse().map_err(|_| WHY)?;
    let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
    let after = match after {
        None => 0,
        Some(a) => a.parse().map_err(|_| WHY)?,
    };
    sendable
        .then_some(Some(CloseAfter { code, after }))
        .ok_or(WHY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_a_server_may_send_are_taken() {
        let ok = |code, after| Ok(Some(CloseAfter { code, after }));
        let cases = [
            (None, None, Ok(None)),
            (Some("1011"), Some("3"), ok(1011, 3)),
            (Some("1000"), None, ok(1000, 0)),
            (Some("4000"), Some("0"), ok(4000, 0)),
            (Some("1005"), None, Err(())),
            (Some("999"), None, Err(())),
            (Some("x"), None, Err(())),
            (Some("1011"), Some("-1"), Err(())),
            (None, Some("3"), Err(())),
        ];
        for (code, after, want) in cases {
            assert_eq!(
                close_after(code, after).map_err(|_| ()),
                want,
                "{code:?} {after:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_request_that_is_not_an_upgrade_is_refused() {
        let req = Request::builder()
            .uri("/ws")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        assert_eq!(accept(req).status(), StatusCode::BAD_REQUEST);
    }
}
