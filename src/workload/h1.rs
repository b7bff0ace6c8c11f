//! HTTP/1.1 on the wire for the load client (`http.rs`): a request serialized once into bytes,
//! and one response at a time read from a keep-alive connection.
//!
//! Input: ready request bytes and a connection. Output: the status, the body's length and whether
//! the connection may carry the next request, or at which stage the exchange broke. Nothing is
//! allocated per request: the read buffer lives as long as the connection, the response head is
//! parsed in place (httparse, the parser hyper uses) and the body is counted, never kept. A load
//! generator that spends more CPU per request than the server measures itself; a general client
//! (a connection task, a channel per request, header maps) costs several times this.
//!
//! It must not decide what an outcome means (`http.rs` classifies) and holds no timeout: the caller
//! bounds the whole exchange.

use std::mem::MaybeUninit;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The read buffer's first size: one `read` takes a small response whole.
const READ_BUF: usize = 16 * 1024;
/// A response head that does not fit in this many bytes is refused as malformed.
const MAX_HEAD_BYTES: usize = 256 * 1024;
/// Response headers beyond this count are refused as malformed (hyper's limit too).
const MAX_HEADERS: usize = 100;
const MAX_TRAILERS: usize = 32;

/// Serializes a request once: request line, headers in order, a `content-length` where the
/// method carries a body (unless the plan set one itself), the blank line and the body.
pub fn request_bytes<'a>(
    method: &str,
    path_query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut framed = false;
    for (name, value) in headers {
        framed |= name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // Like hyper: methods that normally carry a body say its length even when it is empty.
    let bodiless = matches!(
        method,
        "GET" | "HEAD" | "DELETE" | "OPTIONS" | "TRACE" | "CONNECT"
    );
    if !framed && (!body.is_empty() || !bodiless) {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body_bytes: u64,
    /// The server keeps the connection open and nothing unexpected followed the response.
    pub reusable: bool,
}

/// Where an exchange broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not a byte of a response: the write failed, or the peer closed or reset first. On a
    /// kept-alive connection this is the server having closed it while it was idle.
    NoResponse,
    /// The response head broke off or was malformed.
    Head,
    /// The head arrived; the body broke off or was malformed.
    Body { status: u16, bytes: u64 },
}

/// How the body of a response ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// One keep-alive connection and its read buffer. Unread bytes are `buf[start..end]`.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Connection {
    pub async fn open(authority: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(authority).await?;
        // Requests are single small writes: never let Nagle hold one back.
        stream.set_nodelay(true)?;
        Ok(Connection::new(stream))
    }

    fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
        }
    }

    /// Sends `request` and reads the whole response; `head` says it was a HEAD request (whose
    /// response has no body whatever its headers say).
    pub async fn exchange(&mut self, request: &[u8], head: bool) -> Result<Response, Failure> {
        self.start = 0;
        self.end = 0;
        if self.stream.write_all(request).await.is_err() {
            return Err(Failure::NoResponse);
        }
        let mut first = true;
        let (status, framing, keep_alive) = loop {
            let (status, framing, keep_alive) = self.read_head(first).await?;
            first = false;
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            break (status, framing, keep_alive);
        };
        let framing = if head || status == 101 || status == 204 || status == 304 {
            Framing::Empty
        } else {
            framing
        };
        let body = match framing {
            Framing::Empty => Ok(0),
            Framing::Length(n) => self.skip(n).await.map(|()| n),
            Framing::Chunked => self.chunked().await,
            Framing::Close => self.until_close().await,
        };
        match body {
            Ok(bytes) => Ok(Response {
                status,
                body_bytes: bytes,
                // Bytes after the response were never asked for: the stream is out of step.
                reusable: keep_alive
                    && status != 101
                    && framing != Framing::Close
                    && self.start == self.end,
            }),
            Err(bytes) => Err(Failure::Body { status, bytes }),
        }
    }

    /// Reads and parses one response head: (status, framing, keep-alive).
    async fn read_head(&mut self, first: bool) -> Result<(u16, Framing, bool), Failure> {
        loop {
            if self.start < self.end {
                let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut []);
                let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                    &mut resp,
                    &self.buf[self.start..self.end],
                    &mut slots,
                );
                match parsed {
                    Ok(httparse::Status::Complete(n)) => {
                        let status = resp.code.ok_or(Failure::Head)?;
                        let (framing, keep_alive) =
                            framing(resp.version.unwrap_or(1), resp.headers)?;
                        self.start += n;
                        return Ok((status, framing, keep_alive));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(Failure::Head),
                }
            }
            let nothing_yet = first && self.start == self.end && self.start == 0;
            match self.fill(MAX_HEAD_BYTES).await {
                Ok(n) if n > 0 => {}
                _ if nothing_yet => return Err(Failure::NoResponse),
                _ => return Err(Failure::Head),
            }
        }
    }

    /// Reads more bytes after the unread ones, making room first; `Ok(0)` at the end of stream.
    /// Unread bytes may grow up to `limit`.
    async fn fill(&mut self, limit: usize) -> std::io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < limit {
                let grown = (self.buf.len() * 2).min(limit);
                self.buf.resize(grown, 0);
            } else {
                return Err(std::io::Error::other("response head too large"));
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Consumes `n` body bytes without keeping them; `Err(bytes read)` if the stream ends first.
    async fn skip(&mut self, n: u64) -> Result<(), u64> {
        let mut left = n;
        loop {
            let take = (self.end - self.start).min(usize::try_from(left).unwrap_or(usize::MAX));
            self.start += take;
            left -= take as u64;
            if left == 0 {
                return Ok(());
            }
            // Everything buffered was body: read into the whole buffer again.
            self.start = 0;
            self.end = 0;
            match self.fill(self.buf.len()).await {
                Ok(k) if k > 0 => {}
                _ => return Err(n - left),
            }
        }
    }

    /// Ensures `want` unread bytes (or fewer at the end of stream); false if they never came.
    async fn want(&mut self, want: usize) -> bool {
        while self.end - self.start < want {
            match self.fill(MAX_HEAD_BYTES).await {
                Ok(k) if k > 0 => {}
                _ => return false,
            }
        }
        true
    }

    /// A chunked body: counts the data bytes; `Err(bytes so far)` if it breaks off or is malformed.
    async fn chunked(&mut self) -> Result<u64, u64> {
        let mut bytes = 0u64;
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        self.start += n;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        let have = self.end - self.start;
                        if !self.want(have + 1).await {
                            return Err(bytes);
                        }
                    }
                    Err(_) => return Err(bytes),
                }
            };
            if size == 0 {
                return self.trailers().await.map(|()| bytes).map_err(|()| bytes);
            }
            if let Err(read) = self.skip(size).await {
                return Err(bytes + read);
            }
            bytes += size;
            if !self.want(2).await || &self.buf[self.start..self.start + 2] != b"\r\n" {
                return Err(bytes);
            }
            self.start += 2;
        }
    }

    /// The trailer section after the last chunk, up to its blank line.
    async fn trailers(&mut self) -> Result<(), ()> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILERS];
            match httparse::parse_headers(&self.buf[self.start..self.end], &mut slots) {
                Ok(httparse::Status::Complete((n, _))) => {
                    self.start += n;
                    return Ok(());
                }
                Ok(httparse::Status::Partial) => {
                    let have = self.end - self.start;
                    if !self.want(have + 1).await {
                        return Err(());
                    }
                }
                Err(_) => return Err(()),
            }
        }
    }

    /// A body that ends when the server closes the connection.
    async fn until_close(&mut self) -> Result<u64, u64> {
        let mut bytes = (self.end - self.start) as u64;
        loop {
            self.start = 0;
            self.end = 0;
            match self.fill(self.buf.len()).await {
                Ok(0) => return Ok(bytes),
                Ok(k) => bytes += k as u64,
                Err(_) => return Err(bytes),
            }
        }
    }
}

/// The body framing and keep-alive of a response head (before the status-based exceptions).
fn framing(version: u8, headers: &[httparse::Header<'_>]) -> Result<(Framing, bool), Failure> {
    let mut length: Option<u64> = None;
    let mut chunked = None;
    // HTTP/1.1 keeps the connection by default; HTTP/1.0 only when asked.
    let mut keep_alive = version >= 1;
    for h in headers {
        // Every response passes here: compare lengths before letters.
        let name = h.name.as_bytes();
        if is(name, b"content-length") {
            // A list ("12, 12") is allowed if every member agrees; anything else is an attack.
            for part in h.value.split(|b| *b == b',') {
                let n = decimal(part.trim_ascii()).ok_or(Failure::Head)?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::Head);
                }
                length = Some(n);
            }
        } else if is(name, b"transfer-encoding") {
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if is(name, b"connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        }
    }
    // Transfer-Encoding wins over Content-Length; a non-chunked coding runs to the close.
    let framing = match (chunked, length) {
        (Some(true), _) => Framing::Chunked,
        (Some(false), _) => Framing::Close,
        (None, Some(0)) => Framing::Empty,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::Close,
    };
    Ok((framing, keep_alive))
}

/// A header name equal to `lower` (lowercase), ignoring ASCII case.
fn is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// A non-empty run of ASCII digits as a number, `None` on anything else or on overflow.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn header_helpers_are_strict() {
        assert!(is(b"Content-Length", b"content-length"));
        assert!(!is(b"Content-Lengthy", b"content-length"));
        assert_eq!(decimal(b"12"), Some(12));
        for bad in [&b""[..], b"+1", b"1a", b" 1", b"99999999999999999999"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn requests_are_serialized_once_with_their_length() {
        let get = request_bytes("GET", "/a?b=1", [("host", &b"h:1"[..])], b"");
        assert_eq!(get, b"GET /a?b=1 HTTP/1.1\r\nhost: h:1\r\n\r\n");
        let post = request_bytes("POST", "/", [("host", &b"h"[..])], b"{}");
        assert_eq!(
            post,
            b"POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\n{}".to_vec()
        );
        let empty_post = request_bytes("POST", "/", [], b"");
        assert!(empty_post.ends_with(b"content-length: 0\r\n\r\n"));
        let own = request_bytes("PUT", "/", [("Content-Length", &b"0"[..])], b"");
        assert_eq!(own, b"PUT / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    }

    /// Serves `replies` on a fresh connection, one per request read, each possibly in pieces;
    /// then closes. Returns the client side.
    async fn serve(replies: Vec<Vec<&'static [u8]>>) -> Connection {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            s.set_nodelay(true).ok();
            for pieces in replies {
                let mut req = [0u8; 1024];
                if s.read(&mut req).await.unwrap_or(0) == 0 {
                    return;
                }
                for p in pieces {
                    if s.write_all(p).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        });
        Connection::open(&addr).await.expect("connect")
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";

    /// What the server sends (in pieces) and what the exchange should make of it.
    type Case = (Vec<&'static [u8]>, Result<Response, Failure>);

    #[tokio::test]
    async fn responses_are_framed_like_rfc_9112() {
        let ok = |status, body_bytes, reusable| {
            Ok(Response {
                status,
                body_bytes,
                reusable,
            })
        };
        let cases: Vec<Case> = vec![
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n"],
                ok(200, 12, true),
            ),
            (
                vec![
                    b"HTTP/1.1 200 OK\r\nconte",
                    b"nt-length: 5\r\n\r\nab",
                    b"cde",
                ],
                ok(200, 5, true),
            ),
            (
                vec![
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                    b"lo\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n",
                ],
                ok(200, 11, true),
            ),
            (
                vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"],
                ok(204, 0, true),
            ),
            (
                vec![b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
                ok(503, 1, false),
            ),
            (
                vec![b"HTTP/1.0 200 OK\r\n\r\nuntil the end"],
                ok(200, 13, false),
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
                Err(Failure::Body {
                    status: 200,
                    bytes: 5,
                }),
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
                Err(Failure::Body {
                    status: 200,
                    bytes: 0,
                }),
            ),
            (
                vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"],
                Err(Failure::Head),
            ),
            (vec![b"garbage\r\n\r\n"], Err(Failure::Head)),
            (vec![b"HTTP/1.1 200 OK\r\nContent-Le"], Err(Failure::Head)),
            (vec![], Err(Failure::NoResponse)),
        ];
        for (i, (pieces, want)) in cases.into_iter().enumerate() {
            let mut c = serve(vec![pieces]).await;
            assert_eq!(c.exchange(GET, false).await, want, "case {i}");
        }
    }

    #[tokio::test]
    async fn a_connection_carries_many_exchanges_and_head_has_no_body() {
        let r: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let h: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
        let mut c = serve(vec![vec![r], vec![h], vec![r]]).await;
        assert_eq!(c.exchange(GET, false).await.map(|r| r.body_bytes), Ok(3));
        assert_eq!(c.exchange(GET, true).await.map(|r| r.body_bytes), Ok(0));
        assert_eq!(c.exchange(GET, false).await.map(|r| r.body_bytes), Ok(3));
        // The server closed after three: the next exchange gets nothing back.
        assert_eq!(c.exchange(GET, false).await, Err(Failure::NoResponse));
    }

    #[tokio::test]
    async fn a_large_body_streams_through_a_small_buffer() {
        static BODY: [u8; 100_000] = [b'x'; 100_000];
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await;
            let _ = s.write_all(&BODY).await;
        });
        let mut c = Connection::open(&addr).await.expect("connect");
        let r = c.exchange(GET, false).await.expect("response");
        assert_eq!((r.status, r.body_bytes, r.reusable), (200, 100_000, true));
    }
}
