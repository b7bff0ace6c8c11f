//! A worker process of the `processes` model: the same binary, re-executed as `loadplan __worker`.
//!
//! Protocol: the parent writes one JSON [`WorkerConfig`] line on stdin. The worker warms up, sends
//! a `Ready` frame, waits for a `go` line, runs its share of the cell on its own single-threaded
//! runtime, sends a cumulative `Snapshot` frame twice a second, and a `Final` frame at the end.
//! Frames go to stdout as a 4-byte little-endian length and a JSON body; logs go to stderr only.
//! A closed stdin means "stop now": the worker finishes with a `Final` frame of what it measured.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(tokio::task::LocalSet::new().run_until(work()));
    // stdin is read by a blocking thread that may still sit in read(): do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn work() -> anyhow::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let line = stdin
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no configuration on stdin"))?;
    let config: WorkerConfig = serde_json::from_str(&line)?;
    let prepared = config
        .workload
        .prepare(Duration::from_micros(config.timeout_us))?;
    let ops_per_pass = match &config.workload {
        WireWorkload::Http { requests, .. } => requests.len() as u64,
        WireWorkload::Cpu(_) => 1,
    };
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let shared = Rc::new(Shared::new(
        config.load,
        config.warmup,
        ops_per_pass,
        config.concurrency + 1,
        go_rx,
        Arc::new(AtomicU64::new(0)),
        prepared.is_cpu(),
    ));
    let recorders: Vec<Rc<RefCell<Recorder>>> = (0..config.concurrency)
        .map(|_| Rc::new(RefCell::new(Recorder::default())))
        .collect();
    let users: Vec<_> = recorders
        .iter()
        .map(|rec| {
            let (shared, mut sink, unit) = (Rc::clone(&shared), Rc::clone(rec), prepared.unit());
            tokio::task::spawn_local(async move { user::user(&shared, unit, &mut sink).await })
        })
        .collect();
    shared.wait_warm().await;
    send(&Frame::Ready)?;
    match stdin.next_line().await? {
        Some(l) if l == "go" => {}
        _ => super::request_stop(),
    }
    let start = *shared.start.get_or_init(Start::now);
    let _ = go_tx.send(true);
    // From now on, a closed stdin (or any line) means: stop.
    tokio::task::spawn_local(async move {
        let _ = stdin.next_line().await;
        super::request_stop();
    });
    let snapshots = {
        let recorders = recorders.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if send(&Frame::Snapshot(RecorderWire::from(&merged(&recorders)))).is_err() {
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
    let cpu = rusage::cpu_time().saturating_sub(start.cpu);
    send(&Frame::Final {
        recorder: RecorderWire::from(&merged(&recorders)),
        cpu_us: u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX),
        peak_rss_bytes: rusage::peak_rss_bytes(),
    })?;
    Ok(())
}

fn merged(recorders: &[Rc<RefCell<Recorder>>]) -> Recorder {
    let mut all = Recorder::default();
    for r in recorders {
        all.merge(&r.borrow());
    }
    all
}

fn send(frame: &Frame) -> std::io::Result<()> {
    write_frame(&mut std::io::stdout().lock(), frame)
}
