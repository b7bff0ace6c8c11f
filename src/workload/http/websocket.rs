//! A WebSocket step: a connection of its own, opened by the scenario's connector (DNS, TCP, TLS
//! timed as for any connection) and always HTTP/1.1; its upgrade request written through hyper
//! and timed as the `upgrade` phase; the connection hyper hands over after the `101` spoken as
//! WebSocket by tokio-tungstenite (`from_raw_socket`: no second HTTP client, no second TLS
//! stack); then `messages` text messages `every` apart, each waiting for its reply, which is
//! checked and captured from like a response body.
//!
//! Input: a prepared request whose [`WebSocketCall`] says what to send. Output: one
//! [`Exchange`] per message sent (its latency the round trip to its reply, under the step's
//! name), each handed to the caller as it completes; the last is returned. Errors: a refused
//! upgrade is a `status` error (`protocol` when the `101` is not a WebSocket's), a close frame
//! before the last reply is `websocket_close` with its code, a reply later than the timeout is
//! `timeout`, a connection that breaks is `protocol`. Must not: time the whole step as one
//! request (each message is its own round trip); show the text of a message sent or received
//! in an error (a close frame's reason is the server's own words, and shown).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::HeaderMap;
use hyper::header::{self, HeaderValue};
use hyper_util::rt::TokioIo;
use std::time::Instant;
use tokio_tungstenite::WebSocketStream;

use crate::bare::time;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::check::{Captures, Mask, Seen};
use super::request::PreparedRequest;
use super::{Done, HttpTarget, Session, failed_done};
use crate::plan::requests::WebSocketCall;
use crate::workload::{ErrorKind, Exchange, Setup};

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// What came back for a message.
enum Reply {
    Data(Bytes),
    /// A close frame (its code and reason), or none.
    Closed(Option<CloseFrame>),
    Broken(String),
}

impl Session {
    /// One WebSocket step: every message's exchange but the last goes to `report` as it
    /// completes; the last is returned (or the failure to connect, as the step's one exchange).
    pub(super) async fn websocket(
        &mut self,
        target: &HttpTarget,
        req: &PreparedRequest,
        call: &WebSocketCall,
        captures: Option<&Captures>,
        report: &mut (dyn FnMut(Exchange) + Send),
    ) -> Done {
        let began = Instant::now();
        let opened = time::timeout(target.timeout, self.upgrade(target, req)).await;
        let (mut socket, setup) = match opened {
            Ok(Ok(done)) => done,
            Ok(Err((kind, message))) => {
                return failed_done(req.stats, kind, &message, began.elapsed());
            }
            Err(_) => {
                let message = format!(
                    "no WebSocket upgrade within the timeout of {}",
                    humantime::format_duration(target.timeout)
                );
                return failed_done(req.stats, ErrorKind::Timeout, &message, began.elapsed());
            }
        };
        let mut setup = Some(Box::new(setup));
        let start = Instant::now();
        let mut last: Option<Exchange> = None;
        let mut replies = 0;
        for i in 0..call.messages {
            // A late reply delays the next message; it never makes two go out at once.
            time::sleep_until(start + call.every.saturating_mul(i)).await;
            let mut e = self
                .round_trip(target, req, call, captures, &mut socket, (replies, i))
                .await;
            e.setup = setup.take();
            let failed = e.error.is_some();
            replies += u32::from(!failed);
            if let Some(done) = last.replace(e) {
                report(done);
            }
            if failed {
                break;
            }
        }
        // A polite close (1000, normal closure), bounded: its time is the step's, not a message's.
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = time::timeout(target.timeout, socket.close(Some(normal))).await;
        Done {
            exchange: last.unwrap_or_default(),
            setup: Duration::ZERO,
        }
    }

    /// A new HTTP/1.1 connection, its upgrade request sent and answered with `101`, handed over.
    async fn upgrade(
        &mut self,
        target: &HttpTarget,
        req: &PreparedRequest,
    ) -> Result<(Socket, Setup), (ErrorKind, String)> {
        let endpoint = &target.endpoints[req.endpoint];
        let (mut sender, mut setup) = target
            .ws_connector
            .open(endpoint)
            .await
            .map_err(|f| (f.kind, f.message))?;
        sender.ready().await.map_err(|f| (f.kind, f.message))?;
        let mut request = req
            .build(false, &self.vars, None, HeaderMap::new())
            .map_err(|e| (ErrorKind::Expectation, e.0))?;
        let key = generate_key();
        let headers = request.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        let key_value = HeaderValue::from_str(&key)
            .map_err(|_| (ErrorKind::Protocol, "websocket: a bad key".to_string()))?;
        headers.insert(header::SEC_WEBSOCKET_KEY, key_value);
        let began = Instant::now();
        let mut response = sender
            .send(request)
            .await
            .map_err(|f| (f.kind, f.message))?;
        let status = response.status().as_u16();
        if status != 101 {
            let kind = if status >= 400 {
                ErrorKind::Status
            } else {
                ErrorKind::Protocol
            };
            return Err((
                kind,
                format!("websocket: the upgrade was answered with status {status}, not 101"),
            ));
        }
        let accept = response
            .headers()
            .get(header::SEC_WEBSOCKET_ACCEPT)
            .map(HeaderValue::as_bytes);
        if accept != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
            return Err((
                ErrorKind::Protocol,
                "websocket: the 101 response's Sec-WebSocket-Accept does not answer the key"
                    .to_string(),
            ));
        }
        let upgraded = hyper::upgrade::on(&mut response)
            .await
            .map_err(|e| (ErrorKind::Protocol, format!("websocket: upgrade: {e}")))?;
        setup.upgrade = Some(began.elapsed());
        let socket =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        Ok((socket, setup))
    }

    /// Message `i` sent and its reply read, checked and captured from; `replies` came before it.
    async fn round_trip(
        &mut self,
        target: &HttpTarget,
        req: &PreparedRequest,
        call: &WebSocketCall,
        captures: Option<&Captures>,
        socket: &mut Socket,
        (replies, i): (u32, u32),
    ) -> Exchange {
        let text = call
            .send
            .render(|n| self.vars.get(n).and_then(|v| v.as_deref()));
        let sent = Instant::now();
        let written = socket.send(Message::text(text)).await;
        let deadline = sent + target.timeout;
        let reply = match written {
            Ok(()) => time::timeout_at(deadline, next_reply(socket)).await,
            // A close frame may wait unread behind the failed write: it says why.
            Err(e) => match time::timeout_at(deadline, next_reply(socket)).await {
                Ok(Reply::Closed(frame)) => Ok(Reply::Closed(frame)),
                _ => Ok(Reply::Broken(format!("could not send: {}", ws_error(&e)))),
            },
        };
        let mut e = Exchange {
            stats: req.stats,
            latency: sent.elapsed(),
            ..Exchange::default()
        };
        let of = call.messages;
        let failed = match reply {
            Err(_) => Some((
                ErrorKind::Timeout,
                format!(
                    "websocket: no reply to message {} of {of} within the timeout of {}",
                    i + 1,
                    humantime::format_duration(target.timeout)
                ),
            )),
            Ok(Reply::Closed(frame)) => Some((
                ErrorKind::WebsocketClose,
                closed(frame.as_ref(), replies, of),
            )),
            Ok(Reply::Broken(why)) => Some((
                ErrorKind::Protocol,
                format!("websocket: {why} after {replies} of {of} replies"),
            )),
            Ok(Reply::Data(body)) => {
                e.bytes = body.len() as u64;
                self.check_reply(req, captures, &body)
            }
        };
        if let Some((kind, message)) = failed {
            e.error = Some(kind);
            e.message = Some(message);
        }
        e
    }

    /// A reply checked (`expect`) and captured from, as a response body would be.
    fn check_reply(
        &mut self,
        req: &PreparedRequest,
        captures: Option<&Captures>,
        body: &[u8],
    ) -> Option<(ErrorKind, String)> {
        let headers = HeaderMap::new();
        let seen = Seen::new(101, &headers, body);
        let mask = Mask {
            env: &self.target.substituted,
            names: &self.target.slot_names,
            vars: &self.vars,
        };
        if let Some(failed) = req.checks.verify(&seen, &mask) {
            return Some(failed);
        }
        match captures.map(|c| c.apply(&seen, &mut self.vars, &mut self.rng)) {
            Some(Err(m)) => Some((ErrorKind::Expectation, m)),
            _ => None,
        }
    }
}

/// The next text or binary message; pings are answered by the library as it reads.
async fn next_reply(socket: &mut Socket) -> Reply {
    loop {
        return match socket.next().await {
            Some(Ok(Message::Text(t))) => Reply::Data(Bytes::from(t)),
            Some(Ok(Message::Binary(b))) => Reply::Data(b),
            Some(Ok(Message::Close(frame))) => Reply::Closed(frame),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Err(e)) => Reply::Broken(ws_error(&e)),
            None => Reply::Broken("the connection ended".to_string()),
        };
    }
}

/// A library error in words that show no message text.
fn ws_error(e: &WsError) -> String {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => "the connection was closed".into(),
        WsError::Io(io) => format!("connection: {io}"),
        WsError::Protocol(p) => format!("protocol: {p}"),
        WsError::Capacity(c) => format!("capacity: {c}"),
        WsError::Utf8(_) => "a text message that is not UTF-8".into(),
        other => other.to_string(),
    }
}

/// Why a close ended the step: its code, the code's meaning, the server's reason.
fn closed(frame: Option<&CloseFrame>, replies: u32, of: u32) -> String {
    let Some(f) = frame else {
        return format!(
            "websocket: the server closed without a code (1005) after {replies} of {of} replies"
        );
    };
    let code = u16::from(f.code);
    let reason = f.reason.as_str().trim();
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", reason.chars().take(120).collect::<String>())
    };
    format!(
        "websocket: the server closed with {code} ({}) after {replies} of {of} replies{reason}",
        close_meaning(code)
    )
}

/// What a close code means (RFC 6455 §7.4.1 and the IANA registry).
fn close_meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status",
        1006 => "abnormal closure",
        1007 => "invalid payload",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "extension required",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered",
        4000..=4999 => "application",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_says_its_code_meaning_and_reason() {
        let frame = |code: u16, reason: &str| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let cases = [
            (
                Some(frame(1011, "overloaded")),
                "websocket: the server closed with 1011 (internal error) after 3 of 20 replies: overloaded",
            ),
            (
                Some(frame(1000, "")),
                "websocket: the server closed with 1000 (normal closure) after 3 of 20 replies",
            ),
            (
                Some(frame(4001, "bye")),
                "websocket: the server closed with 4001 (application) after 3 of 20 replies: bye",
            ),
            (
                None,
                "websocket: the server closed without a code (1005) after 3 of 20 replies",
            ),
        ];
        for (f, want) in cases {
            assert_eq!(closed(f.as_ref(), 3, 20), want);
        }
    }
}
