//! Opening one connection, each phase timed: name resolution, the TCP handshake, the TLS
//! handshake (with ALPN), then hyper's HTTP/1.1 or HTTP/2 handshake over it.
//!
//! Input: an [`Endpoint`] and the scenario's protocol and TLS settings. Output: a [`Sender`] that
//! carries requests, and the [`Setup`] it cost; or a failure with its category and a message
//! that names no host (a host may come from a secret variable) and no key. Failures are named by
//! phase: `dns` (the name did not resolve), `connect` (no TCP connection), `tls` (the handshake,
//! or the TLS layer ending a connection later: a refused client certificate surfaces only after
//! the handshake), and `protocol` for everything that breaks once a connection exists, with how
//! far the response had come (`protocol: reset after 27 bytes of the response head`). Each
//! connection counts the bytes it reads, so that a failure can say so and a caller can tell a
//! request nothing came back for (which an idempotent request may safely be sent again for).
//!
//! On a `threads` user's thread (`bare::active()`), the socket is `bare`'s and the connection's
//! tasks run on that thread's executor; elsewhere they are tokio's.
//!
//! Names are resolved by the system's resolver, except those RFC 6761 sets apart: `localhost`
//! (and `*.localhost`) is the loopback interface, and `*.invalid` never resolves; both are
//! answered here without asking anyone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Instant;

use crate::bare::net::Stream;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::tls::Asked;
use crate::bare;
use crate::plan::http::HttpVersion;
use crate::workload::{ErrorKind, Setup};

/// Where a connection goes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: url::Host<String>,
    pub port: u16,
    /// `https://`: the name sent as SNI and verified (the plan's `server_name`, else the host).
    pub tls: Option<ServerName<'static>>,
}

impl Endpoint {
    /// Whether two URLs' endpoints are one connection's.
    pub fn same(&self, other: &Endpoint) -> bool {
        self.host == other.host && self.port == other.port && self.tls == other.tls
    }
}

/// Why a connection could not be opened, or a request on it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    /// A request failed on an open connection before any byte of its response came back.
    pub unanswered: bool,
}

impl Failure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            unanswered: false,
        }
    }
}

/// A connection's sending half: one request at a time on HTTP/1.1, many at once on HTTP/2; and
/// what ended the connection, once its task has seen it.
pub struct Sender {
    half: Half,
    ended: Arc<Ended>,
}

enum Half {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// Why a connection's task ended, for the requests that were waiting on it: hyper tells those
/// only that they were cancelled ("connection closed"), and a server that refuses the client's
/// certificate says why only in an alert the connection task reads.
struct Ended {
    /// The connection runs over TLS: an `InvalidData` I/O error on it is the TLS layer's.
    tls: bool,
    /// What its TLS handshake asked for: a client certificate, sent or not.
    asked: Asked,
    /// A response came back on it: the server took it, with its certificate or without (kept
    /// only where a certificate was asked for).
    answered: AtomicBool,
    fault: OnceLock<Failure>,
    /// Bytes read from the connection so far (TLS records' payload, or TCP bytes).
    read: AtomicU64,
}

/// How many bytes a connection has read so far: a handle that outlives the request that took it.
#[derive(Clone)]
pub struct Meter(Arc<Ended>);

impl Meter {
    pub fn read(&self) -> u64 {
        self.0.read.load(Ordering::Relaxed)
    }

    /// A meter of no connection that reads `bytes`, for tests.
    #[cfg(test)]
    pub fn detached(bytes: u64) -> Meter {
        Meter(Arc::new(Ended {
            tls: false,
            asked: Asked::Nothing,
            answered: AtomicBool::new(false),
            fault: OnceLock::new(),
            read: AtomicU64::new(bytes),
        }))
    }
}

pub const HTTP1: &str = "HTTP/1.1";
pub const HTTP2: &str = "HTTP/2";

impl Sender {
    pub fn is_closed(&self) -> bool {
        match &self.half {
            Half::H1(s) => s.is_closed(),
            Half::H2(s) => s.is_closed(),
        }
    }

    pub fn meter(&self) -> Meter {
        Meter(Arc::clone(&self.ended))
    }

    pub fn is_h2(&self) -> bool {
        matches!(self.half, Half::H2(_))
    }

    /// Another handle on the same connection, when it multiplexes (HTTP/2).
    pub fn share(&self) -> Option<Sender> {
        match &self.half {
            Half::H1(_) => None,
            Half::H2(s) => Some(Sender {
                half: Half::H2(s.clone()),
                ended: Arc::clone(&self.ended),
            }),
        }
    }

    /// Waits until the connection can take a request.
    pub async fn ready(&mut self) -> Result<(), Failure> {
        let ready = match &mut self.half {
            Half::H1(s) => s.ready().await,
            Half::H2(s) => s.ready().await,
        };
        ready.map_err(|e| self.failure("connection", &e))
    }

    /// Sends a request and waits for its response's head.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Failure> {
        let before = self.ended.read.load(Ordering::Relaxed);
        let sent = match &mut self.half {
            Half::H1(s) => s.try_send_request(req).await,
            Half::H2(s) => s.try_send_request(req).await,
        };
        if sent.is_ok() && self.ended.asked != Asked::Nothing {
            self.ended.answered.store(true, Ordering::Relaxed);
        }
        sent.map_err(|mut e| {
            let written = e.take_message().is_none();
            let mut f = self.failure("request", e.error());
            if f.kind == ErrorKind::Protocol {
                // On HTTP/2 other streams' bytes share the count: only HTTP/1.1's is this
                // response's alone.
                let got = self
                    .ended
                    .read
                    .load(Ordering::Relaxed)
                    .saturating_sub(before);
                let bytes = (!self.is_h2()).then_some(got);
                f.message = phase_message(e.error(), written, bytes);
                f.unanswered = got == 0;
            }
            f
        })
    }

    /// Why a request failed on this connection: `tls` when TLS is among hyper's causes, or ended
    /// the connection the request was waiting on; else `protocol`, in the words of hyper and of
    /// the deepest cause (`request: connection error: Connection reset by peer`).
    fn failure(&self, what: &str, e: &hyper::Error) -> Failure {
        let found = classify(what, e, self.ended.tls);
        if found.kind != ErrorKind::Protocol {
            return found;
        }
        match self.ended.fault.get() {
            Some(ended) if ended.kind == ErrorKind::Tls => ended.clone(),
            // The alert itself was lost (the server's reset can overtake it), but the handshake
            // said enough, unless the server has answered on this connection since (a server
            // that asks for a certificate may take a connection without one).
            _ if self.ended.answered.load(Ordering::Relaxed) => found,
            _ => match self.ended.asked {
                Asked::Nothing => found,
                Asked::NoCertificate => Failure::new(
                    ErrorKind::Tls,
                    "tls: the server asked for a client certificate, the plan gives none (tls.client_cert), and it closed the connection",
                ),
                Asked::CertificateSent => Failure::new(
                    ErrorKind::Tls,
                    "tls: the server asked for a client certificate, was sent tls.client_cert, and closed the connection before answering (it refused the certificate?)",
                ),
            },
        }
    }
}

/// `e`, an error on an open connection, as a failure: `tls` when a cause is rustls' (or, on a TLS
/// connection, an I/O error of kind `InvalidData`, which only the TLS layer raises), else
/// `protocol`: the connection existed, so it is never `connect`.
fn classify(what: &str, e: &hyper::Error, tls: bool) -> Failure {
    let mut deepest = None;
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(t) = cause.downcast_ref::<rustls::Error>() {
            return Failure::new(ErrorKind::Tls, format!("tls: {t}"));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            let inner = io.get_ref();
            if let Some(t) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Failure::new(ErrorKind::Tls, format!("tls: {t}"));
            }
            if tls && io.kind() == std::io::ErrorKind::InvalidData {
                let words = inner.map_or_else(|| io.to_string(), ToString::to_string);
                return Failure::new(ErrorKind::Tls, format!("tls: {words}"));
            }
        }
        deepest = Some(cause);
        next = cause.source();
    }
    let message = match deepest {
        Some(c) => match c.downcast_ref::<std::io::Error>() {
            Some(io) => format!("protocol: {what}: {e}: {}", io_message(io)),
            None => format!("protocol: {what}: {e}: {c}"),
        },
        None => format!("protocol: {what}: {e}"),
    };
    Failure::new(ErrorKind::Protocol, message)
}

/// What broke a request on an open HTTP connection, and how far its response had come:
/// `protocol: reset after 27 bytes of the response head`, `protocol: closed before any byte of
/// the response`. `bytes`: what the connection read since the request was sent (`None` on
/// HTTP/2, where other streams share the count).
fn phase_message(e: &hyper::Error, written: bool, bytes: Option<u64>) -> String {
    let io = io_cause(e);
    let what = if e.is_parse_too_large() {
        "the response head is too large".to_string()
    } else if e.is_parse() {
        format!("malformed response head ({e})")
    } else if e.is_incomplete_message() {
        "closed".to_string()
    } else if let Some(io) = io {
        match io.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => "reset".to_string(),
            _ => format!("connection error ({})", io_message(io)),
        }
    } else if e.is_canceled() || e.is_closed() {
        "closed".to_string()
    } else {
        e.to_string()
    };
    let phase = match bytes {
        _ if !written => "before the request was sent".to_string(),
        Some(0) => "before any byte of the response".to_string(),
        Some(1) => "after 1 byte of the response head".to_string(),
        Some(n) => format!("after {n} bytes of the response head"),
        None => "before the response head was complete (HTTP/2)".to_string(),
    };
    format!("protocol: {what} {phase}")
}

/// The I/O error among `e`'s causes, if any.
fn io_cause(e: &hyper::Error) -> Option<&std::io::Error> {
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        next = cause.source();
    }
    None
}

/// Opens connections for one scenario.
#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsConnector>,
    version: HttpVersion,
    /// Where connection tasks run: the current runtime, or a cell's connection runtime when
    /// users on several runtimes share connections.
    spawner: Option<tokio::runtime::Handle>,
}

impl Connector {
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>, version: HttpVersion) -> Connector {
        Connector {
            tls: tls.map(TlsConnector::from),
            version,
            spawner: None,
        }
    }

    /// Runs connection tasks on `handle` from now on.
    pub fn spawn_on(&mut self, handle: tokio::runtime::Handle) {
        self.spawner = Some(handle);
    }

    /// On the cell's connection runtime, else on this thread's `bare` executor (the `threads`
    /// host), else on the current runtime.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match &self.spawner {
            Some(h) => drop(h.spawn(task)),
            None => spawn_here(task),
        }
    }

    /// Opens a connection to `ep`, timing each phase. With a connection runtime, the socket is
    /// opened there too: a socket belongs to the runtime that opened it, and a connection shared
    /// by users on runtimes of their own must not die with the first of them to finish.
    pub async fn open(&self, ep: &Endpoint) -> Result<(Sender, Setup), Failure> {
        match &self.spawner {
            // Boxed: a TLS handshake's state is large, and it would otherwise sit in every
            // user's future (and on a `threads` user's small stack) for a once-per-connection step.
            // Behind `dyn`, and the spawn in a function of its own, for the same reason as
            // `handshake_boxed`: neither's frame lands in this one's.
            None => {
                let here: Pin<Box<dyn Future<Output = _> + Send + '_>> =
                    Box::pin(self.open_here(ep));
                here.await
            }
            Some(h) => self
                .open_on(h, ep)
                .await
                .unwrap_or_else(|e| Err(Failure::new(ErrorKind::Connect, format!("connect: {e}")))),
        }
    }

    #[inline(never)]
    fn open_on(
        &self,
        on: &tokio::runtime::Handle,
        ep: &Endpoint,
    ) -> tokio::task::JoinHandle<Result<(Sender, Setup), Failure>> {
        let (this, ep) = (self.clone(), ep.clone());
        on.spawn(async move { this.open_here(&ep).await })
    }

    async fn open_here(&self, ep: &Endpoint) -> Result<(Sender, Setup), Failure> {
        let mut setup = Setup::default();
        let began = Instant::now();
        let (addrs, asked) = resolve(&ep.host, ep.port).await?;
        if asked {
            setup.dns = Some(began.elapsed());
        }
        let began = Instant::now();
        let tcp = connect_any(&addrs).await?;
        setup.connect = began.elapsed();
        // Requests are small and latency is what is measured: never wait to fill a segment.
        let _ = tcp.set_nodelay(true);
        let (sender, protocol) = match (&ep.tls, &self.tls) {
            (Some(name), Some(tls)) => {
                let began = Instant::now();
                // Polled by hand to learn, after each poll, whether the server asked for a
                // client certificate the plan does not have (rustls asks the resolver during
                // the poll, on this thread).
                let mut asked = Asked::Nothing;
                let mut connecting = Box::pin(tls.connect(name.clone(), tcp));
                let stream = std::future::poll_fn(|cx| {
                    super::tls::asked();
                    let polled = connecting.as_mut().poll(cx);
                    match super::tls::asked() {
                        Asked::Nothing => {}
                        now => asked = now,
                    }
                    polled
                })
                .await
                .map_err(|e| Failure::new(ErrorKind::Tls, tls_message(&e)))?;
                setup.tls = Some(began.elapsed());
                let (_, session) = stream.get_ref();
                setup.resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                let h2 = match session.alpn_protocol() {
                    Some(p) => p == b"h2",
                    None => self.version == HttpVersion::Http2,
                };
                self.handshake_boxed(Alerted(stream), h2, Some(asked))
                    .await?
            }
            (Some(_), None) => {
                return Err(Failure::new(
                    ErrorKind::Tls,
                    "tls: no TLS configuration for an https:// target",
                ));
            }
            (None, _) => {
                self.handshake_boxed(tcp, self.version == HttpVersion::Http2, None)
                    .await?
            }
        };
        setup.protocol = protocol;
        Ok((sender, setup))
    }

    /// [`Self::handshake`] boxed behind `dyn`, so that its poll (hyper's and h2's handshakes,
    /// kilobytes of locals) is a frame of its own, not inlined into `open_here`'s: a `threads`
    /// user's stack keeps every page a frame ever reached (the release build probes each page
    /// of a large frame), and `open_here`'s poll was a 39 KB frame.
    fn handshake_boxed<S>(
        &self,
        io: S,
        h2: bool,
        tls: Option<Asked>,
    ) -> Pin<Box<dyn Future<Output = Shaken> + Send + '_>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Box::pin(self.handshake(io, h2, tls))
    }

    async fn handshake<S>(
        &self,
        io: S,
        h2: bool,
        tls: Option<Asked>,
    ) -> Result<(Sender, &'static str), Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // The connection exists: a failed HTTP handshake (HTTP/2's preface) is the protocol's.
        let failed = |e: hyper::Error| {
            Failure::new(ErrorKind::Protocol, format!("protocol: handshake: {e}"))
        };
        let ended = Arc::new(Ended {
            tls: tls.is_some(),
            asked: tls.unwrap_or(Asked::Nothing),
            answered: AtomicBool::new(false),
            fault: OnceLock::new(),
            read: AtomicU64::new(0),
        });
        let io = TokioIo::new(Counted {
            io,
            ended: Arc::clone(&ended),
        });
        // Each protocol's handshake on a frame of its own (see `handshake_boxed`): an HTTP/1.1
        // user never touches the pages of HTTP/2's.
        let shake: Pin<Box<dyn Future<Output = Shaken> + Send + '_>> = if h2 {
            Box::pin(async move {
                let (sender, conn) = http2::handshake(Boxed, io).await.map_err(failed)?;
                self.spawn(drive(conn, Arc::clone(&ended)));
                let half = Half::H2(sender);
                Ok((Sender { half, ended }, HTTP2))
            })
        } else {
            Box::pin(async move {
                let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
                // With upgrades: a WebSocket step takes its connection over after a `101`.
                self.spawn(drive(conn.with_upgrades(), Arc::clone(&ended)));
                let half = Half::H1(sender);
                Ok((Sender { half, ended }, HTTP1))
            })
        };
        shake.await
    }
}

/// A connection's HTTP handshake done: its sender and protocol, or why not.
type Shaken = Result<(Sender, &'static str), Failure>;

/// A TLS stream whose failed writes say what the server said. A server that refuses the
/// client's certificate sends its alert and closes right after the handshake: the next write then
/// fails as a broken pipe or a reset while the alert, the reason, still waits unread in the
/// socket. On such a failure the stream reads what is there, without waiting, and a TLS error it
/// holds replaces the write's error.
struct Alerted(tokio_rustls::client::TlsStream<Stream>);

impl Alerted {
    fn explain<T>(&mut self, out: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        let Poll::Ready(Err(e)) = &out else {
            return out;
        };
        if !matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ) {
            return out;
        }
        let (tcp, session) = self.0.get_mut();
        let mut unread = vec![0u8; 16 << 10];
        // Non-blocking: it returns at once with what the peer sent before it closed.
        // (bytes received, bytes the datagram had: the same for a stream)
        let Ok((n, _)) =
            rustix::net::recv(&*tcp, &mut unread[..], rustix::net::RecvFlags::DONTWAIT)
        else {
            return out;
        };
        let mut held = &unread[..n];
        while !held.is_empty() && session.read_tls(&mut held).is_ok_and(|read| read > 0) {
            if let Err(tls) = session.process_new_packets() {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    tls,
                )));
            }
        }
        out
    }
}

impl AsyncRead for Alerted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Alerted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let out = Pin::new(&mut self.0).poll_write(cx, buf);
        self.explain(out)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let out = Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        self.explain(out)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let out = Pin::new(&mut self.0).poll_flush(cx);
        self.explain(out)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A connection's byte stream, counting what is read from it into its [`Ended`].
struct Counted<S> {
    io: S,
    ended: Arc<Ended>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let out = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before) as u64;
        if read > 0 {
            self.ended.read.fetch_add(read, Ordering::Relaxed);
        }
        out
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Drives a connection to its end and keeps why it ended, before the connection is dropped (which
/// cancels the requests still waiting on it), so that they can be told.
async fn drive<C>(conn: C, ended: Arc<Ended>)
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = std::pin::pin!(conn);
    if let Err(e) = conn.as_mut().await {
        let _ = ended.fault.set(classify("connection", &e, ended.tls));
    }
}

/// Runs hyper's HTTP/2 tasks (the connection, and one per request that waits for its response)
/// on the current runtime, each boxed first. hyper's future for them is one enum whose size is
/// its largest variant's, the connection's (kilobytes); a task per request that held it inline
/// would copy all of it into the task and again when it finishes. Boxed, that is one copy.
#[derive(Clone, Copy)]
struct Boxed;

impl<F> hyper::rt::Executor<F> for Boxed
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        spawn_here(fut);
    }
}

/// Runs `task` on this thread's `bare` executor when there is one, else on the current runtime.
/// Boxed either way (see [`Boxed`]).
fn spawn_here(task: impl Future<Output = ()> + Send + 'static) {
    if bare::active() {
        // Cannot be handed back: this thread's executor is there.
        let _ = bare::spawn(Box::pin(task));
    } else {
        drop(tokio::spawn(Box::pin(task)));
    }
}

/// The addresses of `host`, and whether a resolver was asked (the DNS phase).
async fn resolve(host: &url::Host<String>, port: u16) -> Result<(Vec<SocketAddr>, bool), Failure> {
    let name = match host {
        url::Host::Ipv4(ip) => return Ok((vec![SocketAddr::new(IpAddr::V4(*ip), port)], false)),
        url::Host::Ipv6(ip) => return Ok((vec![SocketAddr::new(IpAddr::V6(*ip), port)], false)),
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
    };
    if name == "invalid" || name.ends_with(".invalid") {
        return Err(Failure::new(
            ErrorKind::Dns,
            "dns: the name does not resolve (.invalid names never do: RFC 6761)",
        ));
    }
    if name == "localhost" || name.ends_with(".localhost") {
        let loopback = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        return Ok((
            loopback
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect(),
            false,
        ));
    }
    let addrs: Vec<SocketAddr> = bare::net::lookup(name.as_str(), port)
        .await
        .map_err(|e| Failure::new(ErrorKind::Dns, format!("dns: {}", io_message(&e))))?;
    if addrs.is_empty() {
        return Err(Failure::new(ErrorKind::Dns, "dns: no address for the name"));
    }
    Ok((addrs, true))
}

/// Connects to the first address that answers, in order.
async fn connect_any(addrs: &[SocketAddr]) -> Result<Stream, Failure> {
    let mut last = None;
    for a in addrs {
        match Stream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(Failure::new(
        ErrorKind::Connect,
        format!(
            "connect: {}",
            last.map_or_else(|| "no address".to_string(), |e| io_message(&e))
        ),
    ))
}

/// An I/O error in words, without the address or name it concerned.
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    // The OS's words ("Connection refused (os error 111)") hold no address; a resolver's
    // message may repeat the name, so only its kind is kept.
    if e.kind() == std::io::ErrorKind::Other || text.contains("lookup") {
        return match e.kind() {
            std::io::ErrorKind::Other => "the name does not resolve".into(),
            kind => kind.to_string(),
        };
    }
    text
}

/// A TLS failure in rustls' words (`invalid peer certificate: UnknownIssuer`), which name no
/// key and no host.
fn tls_message(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => format!("tls: {tls}"),
        None => format!("tls: {}", io_message(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_names_are_answered_without_asking() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let cases: [(&str, Result<bool, ErrorKind>); 4] = [
            ("nothing.invalid", Err(ErrorKind::Dns)),
            ("INVALID.", Err(ErrorKind::Dns)),
            ("localhost", Ok(false)),
            ("api.localhost", Ok(false)),
        ];
        for (name, want) in cases {
            let host = url::Host::Domain(name.to_string());
            let got = rt
                .block_on(resolve(&host, 80))
                .map(|(addrs, asked)| {
                    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{name}");
                    asked
                })
                .map_err(|f| f.kind);
            assert_eq!(got, want, "{name}");
        }
        let ip = url::Host::Ipv6(Ipv6Addr::LOCALHOST);
        assert_eq!(
            rt.block_on(resolve(&ip, 443))
                .map(|(a, asked)| (a.len(), asked)),
            Ok((1, false))
        );
    }
}
