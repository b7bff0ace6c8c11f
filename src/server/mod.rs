//! The built-in target server: I/O-bound, CPU-bound and failing endpoints and a small stateful
//! JSON API, over HTTP/1.1 and HTTP/2, in clear or over TLS, for demos, tests and benchmarks.
//!
//! Input: [`ServeOptions`] (or, for [`serve`], a bound listener and a shutdown signal). Output:
//! responses until SIGTERM or SIGINT, then a graceful drain. It must survive being load-tested:
//! accept errors are retried, never unwrapped; a failed or slow TLS handshake ends that connection
//! only; a bad query string is a 400, not a panic. It must stay cheap per request (no logging, no
//! allocation beyond hyper's for the synthetic endpoints): it is the thing being measured.
//!
//! | endpoint | answers |
//! |---|---|
//! | `/hello` | `hello`, a tiny body |
//! | `/io?delay=50ms` | waits, then answers (I/O-bound) |
//! | `/cpu?work=N` | computes `sum_squares(N)` (CPU-bound) |
//! | `/bytes?size=N` | N bytes |
//! | `/status?code=503` | that status |
//! | `/flaky?fail=0.1` | 503 with that probability, else 200 |
//! | `/login`, `/items`, `/items/{id}`, `/stats` | the JSON API: see [`api`] |
//! | `/ws?close=1011&after=3` | a WebSocket echo (closing with that code after N echoes): see [`websocket`] |
//!
//! **Protocols.** In clear, each connection speaks HTTP/1.1 or, when it opens with the HTTP/2
//! preface, HTTP/2 (h2c with prior knowledge). With `--tls`, the protocol is the one ALPN chose
//! (`h2` or `http/1.1`; without ALPN, either, by the same preface detection).
//!
//! **What the server prints on stdout** (nothing else ever goes there; errors go to stderr):
//!
//! 1. `listening on http://ADDR` or, with TLS, `listening on https://ADDR`, where ADDR is the
//!    bound address (`127.0.0.1:PORT`, `[::1]:PORT`). The port is bound when this is printed.
//! 2. Only with `--tls` and no `--tls-cert`: `ca-certificate PATH`, PATH being everything after
//!    the first space up to the end of the line (UTF-8, no newline in it): a PEM file holding
//!    the generated CA's certificate, the one certificate a client needs to trust to verify the
//!    server as `127.0.0.1`, `::1` or `localhost`. The file is 0600 in a fresh 0700 folder
//!    `$TMPDIR/loadplan-serve-PID-RANDOM/`; it exists before line 1 is printed and is removed,
//!    with its folder, as soon as SIGTERM or SIGINT arrives. A server killed with SIGKILL cannot
//!    remove it: whoever killed it may remove that folder. The CA's private key is never
//!    written anywhere (see [`tls`]).
//!
//! Both lines are written and flushed together.

mod api;
mod fixed;
mod grpc;
mod routes;
mod tls;
mod websocket;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub use tls::{Identity, TlsError};

/// How long in-flight requests get to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);
/// How long a client may take to send its request headers, or to finish a TLS handshake.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `loadplan serve` was asked for, mirroring its flags.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Serve HTTPS; with neither `tls_cert` nor `tls_key`, from a generated identity.
    pub tls: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by the CA in this PEM file (needs `tls`).
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--tls-cert and --tls-key go together, and with --client-ca need --tls")]
    Flags,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write the address to stdout: {0}")]
    Stdout(std::io::Error),
}

impl ServeOptions {
    /// The TLS identity to serve, if TLS is on.
    fn identity(&self) -> Result<Option<Identity>, ServeError> {
        match (self.tls, &self.tls_cert, &self.tls_key) {
            (true, None, None) => Ok(Some(Identity::Generated)),
            (true, Some(cert), Some(key)) => Ok(Some(Identity::Files {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (false, None, None) if self.client_ca.is_none() => Ok(None),
            _ => Err(ServeError::Flags),
        }
    }
}

/// Where the server's words go: `cmd/serve.rs` prints them (the server itself prints nothing).
#[derive(Clone, Copy)]
pub struct Voice {
    /// The stdout lines described in the module docs, flushed before serving starts.
    pub announce: fn(&str) -> std::io::Result<()>,
    /// A problem met while serving (an accept that failed), one line for stderr.
    pub log: fn(&str),
}

/// Binds, announces the stdout lines described in the module docs through `voice`, and serves
/// until SIGINT or SIGTERM. Every certificate problem is reported before anything is announced.
pub fn run_standalone(options: ServeOptions, voice: Voice) -> Result<(), ServeError> {
    let tls = match options.identity()? {
        Some(identity) => Some(tls::setup(&identity, options.client_ca.as_deref())?),
        None => None,
    };
    let ca_file = match tls.as_ref().and_then(|t| t.ca_pem.as_deref()) {
        Some(pem) => Some(tls::CaFile::write(pem)?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async {
        let listener =
            TcpListener::bind(options.addr)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: options.addr,
                    source,
                })?;
        let local = listener.local_addr().map_err(ServeError::Stdout)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut lines = format!("listening on {scheme}://{local}\n");
        if let Some(path) = ca_file.as_ref().and_then(|f| f.path().to_str()) {
            lines.push_str(&format!("ca-certificate {path}\n"));
        }
        (voice.announce)(&lines).map_err(ServeError::Stdout)?;
        let acceptor = tls.map(|t| TlsAcceptor::from(t.config));
        let shutdown = async move {
            stop_signal().await;
            // New connections are over: nobody needs the CA any more.
            drop(ca_file);
        };
        serve(listener, acceptor, shutdown, voice.log).await;
        Ok(())
    })
}

/// Serves on `listener`, over TLS when `tls` is given, until `shutdown` completes, then drains
/// open connections; `log` hears of accepts that failed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
    log: fn(&str),
) {
    let server = Arc::new(Server::new(tls));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset while queued: keep serving.
                    log(&format!("loadplan serve: accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(Arc::clone(&server).connection(stream, graceful.watcher()));
    }
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// What every connection shares: the protocol builders, the TLS acceptor and the API's state.
struct Server {
    /// HTTP/1.1, or HTTP/2 when the connection opens with its preface.
    either: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    api: Arc<api::Api>,
    /// `/capacity`'s worker pools.
    pools: Arc<fixed::Pools>,
}

impl Server {
    fn new(tls: Option<TlsAcceptor>) -> Server {
        let mut either = auto::Builder::new(TokioExecutor::new());
        either
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        either.http2().timer(TokioTimer::new());
        Server {
            http1: either.clone().http1_only(),
            http2: either.clone().http2_only(),
            either,
            tls,
            api: Arc::new(api::Api::new()),
            pools: Arc::new(fixed::Pools::new()),
        }
    }

    /// Serves one accepted connection to its end. A client that disappears mid-request, or
    /// fails its handshake, is the client's problem, not the server's.
    async fn connection(self: Arc<Server>, stream: TcpStream, watcher: Watcher) {
        let api = Arc::clone(&self.api);
        let pools = Arc::clone(&self.pools);
        let service = service_fn(move |req| {
            let api = Arc::clone(&api);
            let pools = Arc::clone(&pools);
            async move { Ok::<_, Infallible>(routes::handle(req, &api, &pools).await) }
        });
        let Some(acceptor) = &self.tls else {
            let conn = self
                .either
                .serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(conn).await;
            return;
        };
        let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
        else {
            return;
        };
        let builder = match stream.get_ref().1.alpn_protocol() {
            Some(b"h2") => &self.http2,
            Some(b"http/1.1") => &self.http1,
            _ => &self.either,
        };
        let _ = watcher
            .watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service))
            .await;
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_resolve_to_one_identity() {
        let cert = || Some(PathBuf::from("c.pem"));
        let key = || Some(PathBuf::from("k.pem"));
        let files = Identity::Files {
            cert: PathBuf::from("c.pem"),
            key: PathBuf::from("k.pem"),
        };
        let table = [
            (false, None, None, None, Some(None)),
            (true, None, None, None, Some(Some(Identity::Generated))),
            (true, None, None, cert(), Some(Some(Identity::Generated))),
            (true, cert(), key(), None, Some(Some(files))),
            (true, cert(), None, None, None),
            (true, None, key(), None, None),
            (false, cert(), key(), None, None),
            (false, None, None, cert(), None),
        ];
        for (tls, tls_cert, tls_key, client_ca, want) in table {
            let options = ServeOptions {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                tls,
                tls_cert,
                tls_key,
                client_ca,
            };
            assert_eq!(options.identity().ok(), want, "{options:?}");
        }
    }
}
