//! `processes`: W worker processes (this binary re-executed, `worker.rs`), each with its own memory
//! and its own single-threaded runtime, the cell's users split among them: parallel on separate
//! cores, like multiprocessing. The parent only coordinates: it gives each worker its part of the
//! share ([`Share::split`], the same split as shards), starts them all at the same moment, keeps
//! the last measurement each streams back, and reaps them. Their parts add up exactly
//! ([`Measured::merge`], as shards do).
//!
//! A worker that dies keeps what it streamed last; the cell is then marked incomplete. When the
//! cell is followed live, the workers' `Live` frames go into one tap of the cell (`run/live.rs`).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::worker::{Frame, read_frame};
use crate::run::shape::Start;
use crate::run::share::{CellWork, Share};
use crate::run::{self, RunError, live};
use crate::stats::{Measured, Recorder, rusage};

/// How long workers get to send their last frame and exit once their stdin is closed.
const GRACE: Duration = Duration::from_secs(5);

/// One worker as the parent sees it.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    /// What it measured, as of its last frame.
    last: Option<Recorder>,
    finished: bool,
    /// Its stream of frames ended (a final frame, or the process died).
    ended: bool,
    cpu: Duration,
    peak_rss_bytes: u64,
    /// Its final frame said the data file's unique rows ran out.
    ran_out: bool,
}

/// A frame from worker `k`, or `None` when its stream ended.
type Message = (usize, Option<Frame>);

pub fn run(
    work: &CellWork,
    workers: usize,
    progress: Arc<AtomicU64>,
) -> Result<Measured, RunError> {
    let w = workers.min(work.share.user_count()).max(1);
    let parts: Vec<Share> = (0..w).map(|k| work.share.split(k, w)).collect();
    let rt = run::runtime(1)?;
    Ok(rt.block_on(coordinate(work, parts, &progress)))
}

async fn coordinate(work: &CellWork, parts: Vec<Share>, progress: &AtomicU64) -> Measured {
    let w = parts.len();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let mut notes = Vec::new();
    let mut workers: Vec<Worker> = Vec::with_capacity(w);
    for (k, share) in parts.into_iter().enumerate() {
        let part = CellWork {
            share,
            live: live::armed(),
            ..work.clone()
        };
        match spawn(&part, k, tx.clone()).await {
            Ok(worker) => workers.push(worker),
            Err(e) => {
                notes.push(format!("could not start worker {} of {w}: {e}", k + 1));
                run::request_stop();
                break;
            }
        }
    }
    drop(tx);
    // Every worker warm and connected (or gone), then all start together.
    let mut ready = 0;
    while ready + workers.iter().filter(|x| x.ended).count() < workers.len() {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some((_, Some(Frame::Ready))) => ready += 1,
                Some((k, None)) => workers[k].ended = true,
                Some(_) => {}
                None => break,
            },
            () = run::stop_requested() => break,
        }
    }
    // A group member's workers start with the group (`run/group.rs`).
    if let Some(m) = &work.member {
        m.ready();
        m.start().await;
    }
    let start = Start::now();
    for wk in &mut workers {
        if let Some(stdin) = wk.stdin.as_mut() {
            let msg: &[u8] = if run::stopping() { b"stop\n" } else { b"go\n" };
            let _ = stdin.write_all(msg).await;
            let _ = stdin.flush().await;
        }
    }
    collect(&mut workers, &mut rx, progress).await;
    let wall = start.at.elapsed();
    // The parent's own share (its CPU, any worker that could not start), then one per worker.
    let mut parts = vec![Measured {
        wall,
        cpu: rusage::cpu_time().saturating_sub(start.cpu),
        peak_rss_bytes: rusage::peak_rss_bytes(),
        complete: notes.is_empty(),
        notes,
        ..Measured::default()
    }];
    for (k, wk) in workers.iter_mut().enumerate() {
        parts.push(reap(wk, k, w, wall).await);
    }
    let mut out = Measured::merge(parts);
    super::ran_out(work, workers.iter().any(|x| x.ran_out), &mut out);
    out
}

/// Keeps each worker's latest measurement until every stream has ended; a stop request closes
/// their stdins, which tells them to finish now.
async fn collect(
    workers: &mut [Worker],
    rx: &mut mpsc::UnboundedReceiver<Message>,
    progress: &AtomicU64,
) {
    let mut closed_stdins = false;
    let tap = live::tap();
    while workers.iter().any(|x| !x.ended) {
        let stop = async {
            if closed_stdins {
                std::future::pending::<()>().await;
            }
            run::stop_requested().await;
        };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some((k, Some(Frame::Snapshot(r)))) => {
                    if let Ok(r) = Recorder::try_from(r) {
                        workers[k].last = Some(r);
                    }
                    let done: u64 = workers
                        .iter()
                        .filter_map(|x| x.last.as_ref())
                        .map(|r| r.operations)
                        .sum();
                    progress.store(done, Ordering::Relaxed);
                }
                Some((k, Some(Frame::Final { recorder, cpu, peak_rss_bytes, ran_out }))) => {
                    let wk = &mut workers[k];
                    if let Ok(r) = Recorder::try_from(recorder) {
                        wk.last = Some(r);
                        wk.finished = true;
                    }
                    wk.cpu = cpu;
                    wk.peak_rss_bytes = peak_rss_bytes;
                    wk.ran_out = ran_out;
                    // The measured phase of this worker is over at its final frame, not when
                    // its process gets round to exiting.
                    wk.ended = true;
                }
                Some((k, None)) => workers[k].ended = true,
                Some((_, Some(Frame::Live(delta)))) => {
                    if let (Some(tap), Ok(r)) = (&tap, Recorder::try_from(delta)) {
                        live::lock(tap).merge(&r);
                    }
                }
                Some((_, Some(Frame::Ready))) => {}
                None => break,
            },
            () = stop => {
                for wk in workers.iter_mut() {
                    wk.stdin = None;
                }
                closed_stdins = true;
            }
        }
    }
}

/// Waits for worker `k` to exit (killing it after a grace period) and returns its part.
async fn reap(wk: &mut Worker, k: usize, w: usize, wall: Duration) -> Measured {
    wk.stdin = None;
    let status = match tokio::time::timeout(GRACE, wk.child.wait()).await {
        Ok(Ok(s)) => Some(s),
        _ => {
            let _ = wk.child.kill().await;
            wk.child.wait().await.ok()
        }
    };
    let mut notes = Vec::new();
    if !wk.finished {
        let how = match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                _ => "ended".to_string(),
            },
            None => "could not be reaped".to_string(),
        };
        let kept = wk.last.as_ref().map_or(0, |r| r.operations);
        notes.push(format!(
            "worker {} of {w} {how} before finishing; kept the {kept} operations it had reported",
            k + 1
        ));
    }
    Measured {
        recorder: wk.last.take().unwrap_or_default(),
        wall,
        cpu: wk.cpu,
        peak_rss_bytes: wk.peak_rss_bytes,
        complete: wk.finished,
        notes,
    }
}

/// Starts worker `k` with its part, and a task forwarding its frames to `tx`.
async fn spawn(
    part: &CellWork,
    k: usize,
    tx: mpsc::UnboundedSender<Message>,
) -> std::io::Result<Worker> {
    let mut cmd = Command::new(run::self_exe());
    cmd.arg("__worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: `die_with_parent` only calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(run::die_with_parent);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("worker has no stdin"))?;
    let mut line = serde_json::to_vec(part)?;
    line.push(b'\n');
    stdin.write_all(&line).await?;
    stdin.flush().await?;
    if let Some(mut stdout) = child.stdout.take() {
        tokio::spawn(async move {
            loop {
                match read_frame(&mut stdout).await {
                    Ok(Some(f)) => {
                        if tx.send((k, Some(f))).is_err() {
                            return;
                        }
                    }
                    _ => {
                        let _ = tx.send((k, None));
                        return;
                    }
                }
            }
        });
    }
    Ok(Worker {
        child,
        stdin: Some(stdin),
        last: None,
        finished: false,
        ended: false,
        cpu: Duration::ZERO,
        peak_rss_bytes: 0,
        ran_out: false,
    })
}
