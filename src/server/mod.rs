//! The built-in target server: a small HTTP/1.1 service with I/O-bound, CPU-bound and failing
//! endpoints, for demos, tests and benchmarks.
//!
//! Input: a bound listener and a shutdown signal. Output: responses until shutdown, then a graceful
//! drain. It must survive being load-tested: accept errors are retried, never unwrapped, and a bad
//! query string is a 400, not a panic.
//!
//! | endpoint | answers |
//! |---|---|
//! | `/hello` | `hello`, a tiny body |
//! | `/io?delay=50ms` | waits, then answers (I/O-bound) |
//! | `/cpu?work=N` | computes `sum_squares(N)` (CPU-bound) |
//! | `/bytes?size=N` | N bytes |
//! | `/status?code=503` | that status |
//! | `/flaky?fail=0.1` | 503 with that probability, else 200 |

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// Upper bounds on what one request may ask for, so the server cannot be told to exhaust itself.
const MAX_DELAY: Duration = Duration::from_secs(60);
const MAX_BYTES: usize = 64 << 20;
const MAX_WORK: u64 = 10_000_000_000;

/// How long in-flight requests get to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset while queued: keep serving.
                    eprintln!("loadplan serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service_fn(handle));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that disappears mid-request is the client's problem, not the server's.
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// Binds `addr`, prints `listening on http://ADDR` as the first line on stdout (the runner reads it
/// to learn the ephemeral port), and serves until SIGINT or SIGTERM.
pub fn run_standalone(addr: SocketAddr) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{local}")?;
            out.flush()?;
        }
        serve(listener, stop_signal()).await;
        Ok(())
    })
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

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = req.uri().query().unwrap_or("");
    let response = match req.uri().path() {
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
            Some(_) => bad_request("delay must be a duration up to 60s, like 50ms"),
        },
        "/cpu" => match param(query, "work").map(str::parse::<u64>) {
            Some(Ok(n)) if n <= MAX_WORK => {
                match tokio::task::spawn_blocking(move || crate::workload::sum_squares(n)).await {
                    Ok(sum) => text(StatusCode::OK, &format!("{sum}\n")),
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "computation failed\n"),
                }
            }
            _ => bad_request("work must be a whole number up to 10000000000"),
        },
        "/bytes" => match param(query, "size").map(str::parse::<usize>) {
            Some(Ok(n)) if n <= MAX_BYTES => Response::new(Full::new(Bytes::from(vec![b'x'; n]))),
            _ => bad_request("size must be a whole number of bytes up to 67108864"),
        },
        "/status" => match param(query, "code").map(str::parse::<u16>) {
            Some(Ok(code)) => match StatusCode::from_u16(code) {
                Ok(s) => text(s, &format!("{code}\n")),
                Err(_) => bad_request("code must be an HTTP status code"),
            },
            _ => bad_request("code must be an HTTP status code"),
        },
        "/flaky" => match param(query, "fail").map(str::parse::<f64>) {
            Some(Ok(p)) if (0.0..=1.0).contains(&p) => {
                if fastrand::f64() < p {
                    text(StatusCode::SERVICE_UNAVAILABLE, "unlucky\n")
                } else {
                    text(StatusCode::OK, "ok\n")
                }
            }
            _ => bad_request("fail must be a probability between 0 and 1"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *r.status_mut() = status;
    r
}

fn bad_request(why: &str) -> Response<Full<Bytes>> {
    text(StatusCode::BAD_REQUEST, &format!("{why}\n"))
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn query_parameters() {
        assert_eq!(param("delay=50ms", "delay"), Some("50ms"));
        assert_eq!(param("a=1&delay=5s", "delay"), Some("5s"));
        assert_eq!(param("delay", "delay"), None);
        assert_eq!(param("", "delay"), None);
    }
}
