//! Opening one connection, each phase timed: name resolution, the TCP handshake, the TLS
//! handshake (with ALPN), then hyper's HTTP/1.1 or HTTP/2 handshake over it.
//!
//! Input: an [`Endpoint`] and the scenario's protocol and TLS settings. Output: a [`Sender`] that
//! carries requests, and the [`Setup`] it cost; or a failure with its category and a message
//! that names no host (a host may come from a secret variable) and no key.
//!
//! Names are resolved by the system's resolver, except those RFC 6761 sets apart: `localhost`
//! (and `*.localhost`) is the loopback interface, and `*.invalid` never resolves; both are
//! answered here without asking anyone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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

/// Why a connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// A connection's sending half: one request at a time on HTTP/1.1, many at once on HTTP/2.
pub enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

pub const HTTP1: &str = "HTTP/1.1";
pub const HTTP2: &str = "HTTP/2";

impl Sender {
    pub fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Another handle on the same connection, when it multiplexes (HTTP/2).
    pub fn share(&self) -> Option<Sender> {
        match self {
            Sender::H1(_) => None,
            Sender::H2(s) => Some(Sender::H2(s.clone())),
        }
    }

    /// Waits until the connection can take a request.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    /// Sends a request; a request that was never written comes back in the error.
    pub async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, TrySendError<Request<Full<Bytes>>>> {
        match self {
            Sender::H1(s) => s.try_send_request(req).await,
            Sender::H2(s) => s.try_send_request(req).await,
        }
    }
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

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match &self.spawner {
            Some(h) => drop(h.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    /// Opens a connection to `ep`, timing each phase. With a connection runtime, the socket is
    /// opened there too: a socket belongs to the runtime that opened it, and a connection shared
    /// by users on runtimes of their own must not die with the first of them to finish.
    pub async fn open(&self, ep: &Endpoint) -> Result<(Sender, Setup), Failure> {
        match &self.spawner {
            // Boxed: a TLS handshake's state is large, and it would otherwise sit in every
            // user's future (and on a `threads` user's small stack) for a once-per-connection step.
            None => Box::pin(self.open_here(ep)).await,
            Some(h) => {
                let (this, ep) = (self.clone(), ep.clone());
                h.spawn(async move { this.open_here(&ep).await })
                    .await
                    .unwrap_or_else(|e| {
                        Err(Failure::new(ErrorKind::Connect, format!("connect: {e}")))
                    })
            }
        }
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
                let stream = tls
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| Failure::new(ErrorKind::Tls, tls_message(&e)))?;
                setup.tls = Some(began.elapsed());
                let (_, session) = stream.get_ref();
                setup.resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                let h2 = match session.alpn_protocol() {
                    Some(p) => p == b"h2",
                    None => self.version == HttpVersion::Http2,
                };
                self.handshake(stream, h2).await?
            }
            (Some(_), None) => {
                return Err(Failure::new(
                    ErrorKind::Tls,
                    "tls: no TLS configuration for an https:// target",
                ));
            }
            (None, _) => {
                self.handshake(tcp, self.version == HttpVersion::Http2)
                    .await?
            }
        };
        setup.protocol = protocol;
        Ok((sender, setup))
    }

    async fn handshake<S>(&self, io: S, h2: bool) -> Result<(Sender, &'static str), Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        let failed = |e: hyper::Error| Failure::new(ErrorKind::Connect, format!("handshake: {e}"));
        if h2 {
            let (sender, conn) = http2::handshake(Boxed, io).await.map_err(failed)?;
            // Errors surface through the sender; the task only drives the connection.
            self.spawn(async move {
                let _ = conn.await;
            });
            Ok((Sender::H2(sender), HTTP2))
        } else {
            let (sender, conn) = http1::handshake(io).await.map_err(failed)?;
            self.spawn(async move {
                let _ = conn.await;
            });
            Ok((Sender::H1(sender), HTTP1))
        }
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
        drop(tokio::spawn(Box::pin(fut)));
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
            ErrorKind::Connect,
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
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
        .await
        .map_err(|e| Failure::new(ErrorKind::Connect, format!("dns: {}", io_message(&e))))?
        .collect();
    if addrs.is_empty() {
        return Err(Failure::new(
            ErrorKind::Connect,
            "dns: no address for the name",
        ));
    }
    Ok((addrs, true))
}

/// Connects to the first address that answers, in order.
async fn connect_any(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
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
            ("nothing.invalid", Err(ErrorKind::Connect)),
            ("INVALID.", Err(ErrorKind::Connect)),
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
