//! A worker process of the `processes` model: the same binary, re-executed as `loadplan __worker`.
//!
//! Protocol: the parent writes one JSON [`WorkerConfig`] line on stdin. The worker warms up, sends
//! a `Ready` frame, waits for a `go` line, runs its share of the cell on its own single-threaded
//! runtime, sends a cumulative `Snapshot` frame twice a second, and a `Final` frame at the end.
//! Frames go to stdout as a 4-byte little-endian length and a JSON body; logs go to stderr only.
//! A closed stdin means "stop now": the worker finishes with a `Final` frame of what it measured.
//!
//! After the configuration, stdin is watched by a plain OS thread rather than a task: a CPU kernel
//! holds the runtime's only thread for as long as it computes, and a stop must reach it (through
//! the stop flag it checks) during warm-up as well as during the measured phase.

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;

use super::user::{self, CellLoad, Shared, Start};
use crate::plan::{Kernel, RequestTemplate, TargetUrl};
use crate::stats::{Recorder, RecorderWire, rusage};
use crate::workload::Prepared;

/// How often a worker streams what it has measured so far.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(500);
/// Frames above this size are refused as corrupt.
pub const MAX_FRAME_BYTES: u32 = 256 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub workload: WireWorkload,
    pub concurrency: usize,
    pub load: CellLoad,
    pub warmup: u64,
    pub timeout_us: u64,
    /// `warmup: 5s`: warm-up by time, beside the `warmup` count.
    #[serde(default)]
    pub warm_time_us: u64,
    /// A paced load (open model or staged users) replaces `load`, `concurrency` and `warmup`.
    #[serde(default)]
    pub paced: Option<PacedShare>,
}

/// This worker's share of a paced cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PacedShare {
    pub load: super::paced::PacedLoad,
    pub stride: super::paced::Stride,
    /// The indices of this worker's users (for staged users), or as many users as it runs.
    pub users: Vec<usize>,
    pub warmup_us: u64,
}

/// The workload with every URL already absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireWorkload {
    Http {
        requests: Vec<WireRequest>,
        expect_status: Vec<u16>,
    },
    Cpu(Kernel),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireRequest {
    pub display: String,
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Frame {
    Ready,
    Snapshot(RecorderWire),
    Final {
        recorder: RecorderWire,
        cpu_us: u64,
        peak_rss_bytes: u64,
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

impl WireWorkload {
    fn prepare(&self, timeout: Duration) -> anyhow::Result<Prepared> {
        let workload = match self {
            WireWorkload::Cpu(k) => crate::plan::Workload::Cpu(*k),
            WireWorkload::Http {
                requests,
                expect_status,
            } => crate::plan::Workload::Http {
                requests: requests
                    .iter()
                    .map(|r| {
                        Ok(RequestTemplate {
                            display: r.display.clone(),
                            url: TargetUrl::Absolute(url::Url::parse(&r.url)?),
                            method: r.method.clone(),
                            headers: r.headers.clone(),
                            body: r.body.clone().map(bytes::Bytes::from),
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
                expect_status: expect_status.clone(),
            },
        };
        Ok(Prepared::new(&workload, None, timeout)?)
    }
}

/// The body of `loadplan __worker`.
pub fn main() -> anyhow::Result<()> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!("no configuration on stdin");
    }
    let config: WorkerConfig = serde_json::from_str(&line)?;
    let go = watch_stdin();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(tokio::task::LocalSet::new().run_until(work(config, go)));
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
                    super::request_stop();
                    return;
                }
            }
            // From now on, a closed stdin (or any line) means: stop.
            let _ = lines.next();
            super::request_stop();
        });
    if spawned.is_err() {
        // Without a watcher no stop could arrive: refuse to start rather than run unstoppable.
        super::request_stop();
    }
    rx
}

async fn work(config: WorkerConfig, go: oneshot::Receiver<bool>) -> anyhow::Result<()> {
    if let Some(paced) = config.paced.clone() {
        return work_paced(&config, paced, go).await;
    }
    let prepared = config
        .workload
        .prepare(Duration::from_micros(config.timeout_us))?;
    let ops_per_pass = match &config.workload {
        WireWorkload::Http { requests, .. } => requests.len() as u64,
        WireWorkload::Cpu(_) => 1,
    };
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let shared = Rc::new(
        Shared::new(
            config.load,
            config.warmup,
            ops_per_pass,
            config.concurrency + 1,
            go_rx,
            Arc::new(AtomicU64::new(0)),
            prepared.is_cpu(),
        )
        .with_warm_time(Duration::from_micros(config.warm_time_us)),
    );
    // One recorder for the whole worker, as DESIGN.md has it: the users are tasks of this one
    // thread, so they take turns with it without a lock, and memory does not grow with users.
    let recorder = Rc::new(RefCell::new(Recorder::default()));
    let users: Vec<_> = (0..config.concurrency)
        .map(|_| {
            let (shared, mut sink, unit) =
                (Rc::clone(&shared), Rc::clone(&recorder), prepared.unit());
            tokio::task::spawn_local(async move { user::user(&shared, unit, &mut sink).await })
        })
        .collect();
    shared.wait_warm().await;
    send(&Frame::Ready)?;
    wait_for_go(go).await;
    let start = *shared.start.get_or_init(Start::now);
    // Sent even when stopping: the users wait for it, then see the stop flag and end at once.
    let _ = go_tx.send(true);
    let snapshots = {
        let recorder = Rc::clone(&recorder);
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if send(&Frame::Snapshot(RecorderWire::from(&*recorder.borrow()))).is_err() {
                    // The parent is gone; nobody will read the results.
                    super::request_stop();
                    return;
                }
            }
        })
    };
    for u in users {
        let _ = u.await;
    }
    snapshots.abort();
    let all = recorder.borrow();
    send_final(&all, start)
}

/// Waits for the parent's `go`; anything else (a stop, a closed stdin) stops this worker, which
/// then still goes through its loops once so that they end cleanly and report.
async fn wait_for_go(go: oneshot::Receiver<bool>) {
    let started = tokio::select! {
        go = go => go.unwrap_or(false),
        () = super::stop_requested() => false,
    };
    if !started {
        super::request_stop();
    }
}

/// A paced share: no warm-up handshake of its own (the warm-up is part of the schedule) and one
/// final frame, since the users' recorders live inside the paced loops.
async fn work_paced(
    config: &WorkerConfig,
    paced: PacedShare,
    go: oneshot::Receiver<bool>,
) -> anyhow::Result<()> {
    let timeout = Duration::from_micros(config.timeout_us);
    let prepared = config.workload.prepare(timeout)?;
    send(&Frame::Ready)?;
    wait_for_go(go).await;
    let start = Start::now();
    let recorder = super::paced::run_share(
        &paced.load,
        &prepared,
        paced.users,
        paced.stride,
        super::paced::Timing {
            start: start.at,
            warmup: Duration::from_micros(paced.warmup_us),
            timeout,
        },
        Arc::new(AtomicU64::new(0)),
    )
    .await;
    send_final(&recorder, start)
}

/// The last frame: everything measured, and this process's CPU since the measured start.
fn send_final(recorder: &Recorder, start: Start) -> anyhow::Result<()> {
    let cpu = rusage::cpu_time().saturating_sub(start.cpu);
    send(&Frame::Final {
        recorder: RecorderWire::from(recorder),
        cpu_us: crate::units::micros_of(cpu),
        peak_rss_bytes: rusage::peak_rss_bytes(),
    })?;
    Ok(())
}

fn send(frame: &Frame) -> std::io::Result<()> {
    write_frame(&mut std::io::stdout().lock(), frame)
}
