//! Pushing to one endpoint: a bounded queue of encoded intervals and the task that sends them,
//! oldest first, retrying with backoff, on the exporter's own thread (never the run's).
//!
//! Faults never reach the run. A failed attempt (refused, timed out, a 5xx or 429) is retried
//! after a backoff that doubles from [`BACKOFF_FIRST`] to [`BACKOFF_MAX`]; meanwhile intervals
//! queue up, and past [`MAX_PENDING`] the oldest waiting one is dropped and counted. A 4xx other
//! than 429 means the endpoint will never take that body: its intervals are dropped at once. At
//! the end, what is queued gets one more try within [`DRAIN`]: while the endpoint accepts, the
//! queue is sent; at the first failure the rest is dropped, so a dead endpoint costs the end of
//! the run one failed attempt. `intervals = sent + dropped` always holds.
//!
//! Requests go through loadplan's one HTTP client (`workload::OwnEndpoint`: hyper, rustls) on a
//! connection kept between pushes. Messages name no credential (the URL is never in them).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HOST, USER_AGENT};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::target::Target;
use super::wire;
use crate::run::live::lock;
use crate::stats::ExportSummary;
use crate::workload::{OwnEndpoint, Sender};

/// Intervals kept while the endpoint does not take them (5 minutes at one a second).
pub const MAX_PENDING: usize = 300;
/// Intervals sent in one request at most (when catching up).
const MAX_PER_REQUEST: usize = 60;
pub const BACKOFF_FIRST: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// One attempt's limit: connecting, sending, reading the answer.
const ATTEMPT: Duration = Duration::from_secs(5);
/// How long the end of the run waits for the queue to go out.
pub const DRAIN: Duration = Duration::from_secs(3);
/// Bytes of an answer read (and thrown away) to keep the connection for the next push.
const MAX_ANSWER: usize = 64 << 10;

const REMOTE_WRITE_VERSION: &str = "0.1.0";

/// One endpoint's queue, shared by the collector (which adds) and the sender (which takes).
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<State>,
    added: Notify,
}

#[derive(Debug, Default)]
struct State {
    pending: VecDeque<Bytes>,
    /// The first this many pending intervals are being sent: never dropped for room.
    in_flight: usize,
    intervals: u64,
    sent: u64,
    retried: u64,
    dropped: u64,
    last_error: Option<String>,
}

impl Queue {
    /// Adds an interval; the oldest waiting one goes if there are too many.
    pub fn add(&self, interval: Bytes) {
        let mut s = lock(&self.state);
        s.intervals += 1;
        s.pending.push_back(interval);
        while s.pending.len() > MAX_PENDING + s.in_flight {
            let oldest = s.in_flight;
            s.pending.remove(oldest);
            s.dropped += 1;
        }
        drop(s);
        self.added.notify_one();
    }

    pub fn summary(&self, target: &Target) -> ExportSummary {
        let s = lock(&self.state);
        ExportSummary {
            kind: target.kind.as_str().to_string(),
            url: target.display.clone(),
            intervals: s.intervals,
            sent: s.sent,
            retried: s.retried,
            // Whatever is still queued when the summary is made is lost.
            dropped: s.dropped + s.pending.len() as u64,
            last_error: s.last_error.clone(),
        }
    }

    /// The next request's intervals (marked in flight), or `None` when nothing waits.
    fn next_body(&self) -> Option<(usize, Result<Bytes, String>)> {
        let mut s = lock(&self.state);
        if s.pending.is_empty() {
            return None;
        }
        let n = s.pending.len().min(MAX_PER_REQUEST);
        s.in_flight = n;
        Some((n, wire::body(s.pending.iter().take(n))))
    }

    /// The intervals in flight went through (`Ok`) or never will (`Err(false)`), or may later
    /// (`Err(true)`): counted so.
    fn settle(&self, n: usize, outcome: &Result<(), Failure>) {
        let mut s = lock(&self.state);
        s.in_flight = 0;
        match outcome {
            Ok(()) => {
                let n = n.min(s.pending.len());
                s.pending.drain(..n);
                s.sent += n as u64;
            }
            Err(f) => {
                s.last_error = Some(f.message.clone());
                if f.retry {
                    s.retried += 1;
                } else {
                    let n = n.min(s.pending.len());
                    s.pending.drain(..n);
                    s.dropped += n as u64;
                }
            }
        }
    }

    /// Drops everything still queued (the end came, the endpoint failed).
    fn give_up(&self) {
        let mut s = lock(&self.state);
        s.dropped += s.pending.len() as u64;
        s.pending.clear();
    }
}

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug)]
struct Failure {
    retry: bool,
    message: String,
}

impl Failure {
    fn retry(message: impl Into<String>) -> Failure {
        Failure {
            retry: true,
            message: message.into(),
        }
    }
}

/// Sends `queue` to `target` until `closing` turns true, then drains it within [`DRAIN`].
pub async fn run(target: Target, queue: Arc<Queue>, mut closing: watch::Receiver<bool>) {
    let endpoint = match OwnEndpoint::new(&target.url) {
        Ok(e) => e,
        Err(message) => {
            // Nothing can be sent: every interval will be counted dropped.
            lock(&queue.state).last_error = Some(message.to_string());
            let _ = closing.wait_for(|c| *c).await;
            queue.give_up();
            return;
        }
    };
    let mut conn: Option<Sender> = None;
    let mut backoff = BACKOFF_FIRST;
    let mut drain_until: Option<Instant> = None;
    loop {
        if drain_until.is_none() && *closing.borrow() {
            drain_until = Some(Instant::now() + DRAIN);
        }
        let Some((n, body)) = queue.next_body() else {
            if drain_until.is_some() {
                return;
            }
            tokio::select! {
                () = queue.added.notified() => {}
                _ = closing.wait_for(|c| *c) => {}
            }
            continue;
        };
        let limit = match drain_until {
            Some(end) => end.saturating_duration_since(Instant::now()).min(ATTEMPT),
            None => ATTEMPT,
        };
        let outcome = match body {
            Ok(body) => {
                match tokio::time::timeout(limit, post(&endpoint, &mut conn, &target, body)).await {
                    Ok(o) => o,
                    Err(_) => Err(Failure::retry(format!(
                        "no answer within {}",
                        humantime::format_duration(limit)
                    ))),
                }
            }
            Err(message) => Err(Failure {
                retry: false,
                message,
            }),
        };
        if outcome.is_err() {
            // A connection that failed once is not trusted with the next attempt.
            conn = None;
        }
        let retry = outcome.as_ref().is_err_and(|f| f.retry);
        queue.settle(n, &outcome);
        if drain_until.is_some() && outcome.is_err() {
            queue.give_up();
            return;
        }
        if !retry {
            backoff = BACKOFF_FIRST;
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            // The end of the run cuts a backoff short: the drain tries once more at once.
            _ = closing.wait_for(|c| *c), if drain_until.is_none() => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One POST of `body` on the kept connection (opened first if there is none).
async fn post(
    endpoint: &OwnEndpoint,
    conn: &mut Option<Sender>,
    target: &Target,
    body: Bytes,
) -> Result<(), Failure> {
    let sender = match conn {
        Some(s) if !s.is_closed() => s,
        _ => conn.insert(
            endpoint
                .open()
                .await
                .map_err(|e| Failure::retry(e.to_string()))?,
        ),
    };
    sender
        .ready()
        .await
        .map_err(|e| Failure::retry(e.message))?;
    let mut request = hyper::Request::post(target.path_and_query())
        .header(HOST, target.host_header())
        .header(CONTENT_ENCODING, "snappy")
        .header(CONTENT_TYPE, "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", REMOTE_WRITE_VERSION)
        .header(USER_AGENT, concat!("loadplan/", env!("CARGO_PKG_VERSION")));
    if let Some(auth) = &target.authorization {
        request = request.header(AUTHORIZATION, auth.clone());
    }
    let request = request.body(Full::new(body)).map_err(|e| Failure {
        retry: false,
        message: format!("request: {e}"),
    })?;
    let response = sender
        .send(request)
        .await
        .map_err(|e| Failure::retry(e.message))?;
    let status = response.status();
    // Read a little of the answer so the connection can carry the next push; a long one (an
    // error page) costs the connection instead.
    let mut body = response.into_body();
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => read += f.data_ref().map_or(0, Bytes::len),
            Err(_) => {
                *conn = None;
                break;
            }
        }
        if read > MAX_ANSWER {
            *conn = None;
            break;
        }
    }
    let code = status.as_u16();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure {
            // Remote write: a 5xx or 429 may go through later; another 4xx never will.
            retry: status.is_server_error() || code == 429,
            message: format!("status {code}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_keeps_the_newest_and_counts_what_it_drops() {
        let q = Queue::default();
        for i in 0..MAX_PENDING + 5 {
            q.add(Bytes::from(i.to_string()));
        }
        let (n, _) = q.next_body().expect("pending");
        assert_eq!(n, MAX_PER_REQUEST);
        // Two more while a request is out: the intervals in flight are never the ones dropped.
        q.add(Bytes::from("a"));
        q.add(Bytes::from("b"));
        q.settle(n, &Ok(()));
        let target = super::super::target::Target::parse(
            &super::super::target::ExportArg::new("prometheus=http://127.0.0.1:1/w"),
            |_| None,
        )
        .expect("target");
        let s = q.summary(&target);
        assert_eq!(s.intervals, (MAX_PENDING + 7) as u64);
        assert_eq!(s.sent, MAX_PER_REQUEST as u64);
        assert_eq!(
            s.dropped,
            s.intervals - s.sent,
            "what is left counts as lost"
        );
        let state = lock(&q.state);
        assert_eq!(state.dropped, 5);
        assert_eq!(state.pending.front().map(|b| b.as_ref()), Some(&b"65"[..]));
        assert_eq!(state.pending.back().map(|b| b.as_ref()), Some(&b"b"[..]));
    }

    #[test]
    fn failures_count_as_retried_or_dropped() {
        let q = Queue::default();
        q.add(Bytes::from("x"));
        let (n, _) = q.next_body().expect("one");
        q.settle(n, &Err(Failure::retry("status 500")));
        let (n, _) = q.next_body().expect("still there");
        q.settle(
            n,
            &Err(Failure {
                retry: false,
                message: "status 400".into(),
            }),
        );
        assert!(q.next_body().is_none());
        let s = lock(&q.state);
        assert_eq!((s.retried, s.dropped, s.sent), (1, 1, 0));
        assert_eq!(s.last_error.as_deref(), Some("status 400"));
    }
}
