//! A worker process of the `processes` host: the same binary, re-executed as `loadplan __worker`.
//!
//! Protocol: the parent writes its [`CellWork`] as one JSON line on stdin. The worker warms up,
//! sends a `Ready` frame, waits for a `go` line, runs its share of the cell on its own
//! single-threaded runtime, sends a cumulative `Snapshot` frame twice a second, and a `Final`
//! frame at the end. When the cell is followed live (`CellWork::live`), each snapshot is
//! followed by a `Live` frame: what was recorded since the last one (`run/live.rs`), the last
//! sent just before `Final`. Frames go to stdout as a 4-byte little-endian length and a JSON body; logs go
//! to stderr only. A closed stdin means "stop now": the worker finishes with a `Final` frame of
//! what it measured.
//!
//! After the configuration, stdin is watched by a plain OS thread rather than a task: a CPU kernel
//! holds the runtime's only thread for as long as it computes, and a stop must reach it (through
//! the stop flag it checks) during warm-up as well as during the measured phase.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{oneshot, watch};

use super::{prepared, run_as_tasks, shared};
use crate::run::live::{Armed, Taps};
use crate::run::share::CellWork;
use crate::run::user::Gate;
use crate::run::{self, sink};
use crate::stats::{RecorderWire, rusage};

/// How often a worker streams what it has measured so far.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(500);
/// Frames above this size are refused as corrupt.
pub const MAX_FRAME_BYTES: u32 = 256 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Frame {
    Ready,
    Snapshot(RecorderWire),
    /// What was recorded since the last `Live` frame (only when the cell is followed live).
    Live(RecorderWire),
    Final {
        recorder: RecorderWire,
        /// This process's CPU time since the measured start.
        cpu: Duration,
        peak_rss_bytes: u64,
        /// The data file's unique rows ran out in this worker's share.
        ran_out: bool,
    },
}

pub fn write_frame(out: &mut impl Write, frame: &Frame) -> std::io::Result<()> {
    let body = serde_json::to_vec(frame)?;
    let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// The next frame, or `None` at a clean end of stream.
pub async fn read_frame(input: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Frame>> {
    let len = match input.read_u32_le().await {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if len > MAX_FRAME_BYTES {
        return Err(std::io::Error::other(format!(
            "frame of {len} bytes refused"
        )));
    }
    let mut body = vec![0; len as usize];
    input.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Why a worker process stopped before reporting its results.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no configuration on stdin")]
    NoConfiguration,
    #[error("the configuration on stdin is not a cell's work: {0}")]
    Configuration(#[from] serde_json::Error),
    #[error("cannot talk to the parent: {0}")]
    Pipe(#[from] std::io::Error),
    #[error(transparent)]
    Run(#[from] run::RunError),
}

/// The body of `loadplan __worker`.
pub fn main() -> Result<(), WorkerError> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(WorkerError::NoConfiguration);
    }
    let work: CellWork = serde_json::from_str(&line)?;
    let go = watch_stdin();
    let rt = run::runtime(1)?;
    let result = rt.block_on(work_share(&work, go));
    // The stdin thread may still sit in read(): the process exit ends it.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Reads the control lines on a thread of its own: `go` sends `true` once; anything else, or the
/// end of stdin, requests a stop at once (and, before `go`, sends nothing).
fn watch_stdin() -> oneshot::Receiver<bool> {
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("loadplan-worker-stdin".into())
        .spawn(move || {
            let mut lines = std::io::stdin().lock().lines();
            match lines.next() {
                Some(Ok(l)) if l == "go" => {
                    let _ = tx.send(true);
                }
                _ => {
                    run::request_stop();
                    return;
                }
            }
            // From now on, a closed stdin (or any line) means: stop.
            let _ = lines.next();
            run::request_stop();
        });
    if spawned.is_err() {
        // Without a watcher no stop could arrive: refuse to start rather than run unstoppable.
        run::request_stop();
    }
    rx
}

/// Runs this worker's share: the users as tasks of this one thread (so one recorder serves them
/// all, as DESIGN.md has it), this function as the coordinator that reports to the parent.
async fn work_share(work: &CellWork, go: oneshot::Receiver<bool>) -> Result<(), WorkerError> {
    let prepared = prepared(work, None)?;
    let (go_tx, go_rx) = watch::channel(false);
    let users = work.share.user_count();
    let shared = Arc::new(shared(
        work,
        Gate::new(users + 1, go_rx),
        Arc::new(AtomicU64::new(0)),
    ));
    let _ = sink::take();
    // Armed before any user records, so that every recorder of this thread has its tap.
    let taps = work.live.then(|| Arc::new(Taps::default()));
    let _armed = Armed::new(taps.clone());
    let running = {
        let (shared, prepared, users) = (Arc::clone(&shared), prepared.clone(), work.share.users());
        tokio::spawn(async move { run_as_tasks(&shared, &prepared, users).await })
    };
    shared.gate.arrive().await;
    send(&Frame::Ready)?;
    wait_for_go(go).await;
    // Sent even when stopping: the users wait for it, then see the stop flag and end at once.
    let _ = go_tx.send(true);
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    tick.tick().await;
    let mut running = std::pin::pin!(running);
    loop {
        tokio::select! {
            _ = &mut running => break,
            _ = tick.tick() => {
                let sent = send(&Frame::Snapshot(RecorderWire::from(&sink::snapshot())))
                    .and_then(|()| send_live(taps.as_deref()));
                if sent.is_err() {
                    // The parent is gone; nobody will read the results.
                    run::request_stop();
                }
            }
        }
    }
    send_live(taps.as_deref())?;
    let cpu = shared
        .shape
        .started()
        .map_or(Duration::ZERO, |s| rusage::cpu_time().saturating_sub(s.cpu));
    send(&Frame::Final {
        recorder: RecorderWire::from(&sink::take()),
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        ran_out: shared.ran_out.load(Ordering::Relaxed),
    })?;
    Ok(())
}

/// Waits for the parent's `go`; anything else (a stop, a closed stdin) stops this worker, which
/// then still goes through its loops once so that they end cleanly and report.
async fn wait_for_go(go: oneshot::Receiver<bool>) {
    let started = tokio::select! {
        go = go => go.unwrap_or(false),
        () = run::stop_requested() => false,
    };
    if !started {
        run::request_stop();
    }
}

/// What the taps recorded since the last harvest, as a `Live` frame (nothing when unfollowed).
fn send_live(taps: Option<&Taps>) -> std::io::Result<()> {
    match taps {
        Some(t) => send(&Frame::Live(RecorderWire::from(&t.harvest()))),
        None => Ok(()),
    }
}

fn send(frame: &Frame) -> std::io::Result<()> {
    write_frame(&mut std::io::stdout().lock(), frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use crate::workload::Outcome;

    #[test]
    fn frames_round_trip() {
        let mut rec = Recorder::default();
        rec.record(
            Duration::from_millis(3),
            Duration::from_micros(250),
            &Outcome::default(),
        );
        let frames = [
            Frame::Ready,
            Frame::Snapshot(RecorderWire::from(&rec)),
            Frame::Final {
                recorder: RecorderWire::from(&rec),
                cpu: Duration::from_micros(1234),
                peak_rss_bytes: 42,
                ran_out: true,
            },
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            write_frame(&mut bytes, f).expect("write");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let read = rt.block_on(async {
            let mut input = bytes.as_slice();
            let mut out = Vec::new();
            while let Some(f) = read_frame(&mut input).await.expect("frame") {
                out.push(f);
            }
            out
        });
        assert_eq!(read.len(), 3);
        assert!(matches!(read[0], Frame::Ready));
        match &read[2] {
            Frame::Final {
                recorder,
                cpu,
                peak_rss_bytes,
                ran_out,
            } => {
                let r = Recorder::try_from(recorder.clone()).expect("recorder");
                assert_eq!(r.operations, 1);
                assert_eq!(*cpu, Duration::from_micros(1234));
                assert_eq!(*peak_rss_bytes, 42);
                assert!(*ran_out);
            }
            other => panic!("want a final frame, got {other:?}"),
        }
    }

    #[test]
    fn oversized_and_truncated_frames_are_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let huge = (MAX_FRAME_BYTES + 1).to_le_bytes();
        let truncated = [10u8, 0, 0, 0, b'{'];
        for bytes in [&huge[..], &truncated[..]] {
            let mut input = bytes;
            assert!(rt.block_on(read_frame(&mut input)).is_err());
        }
        let mut empty: &[u8] = &[];
        assert!(matches!(rt.block_on(read_frame(&mut empty)), Ok(None)));
    }
}
