//! `processes`: W worker processes (this binary re-executed), each with its own memory and its own
//! single-threaded runtime, sharing the cell's concurrency: parallel on separate cores, like
//! multiprocessing. The parent only coordinates: it splits the work, starts every worker at the
//! same moment, merges the histograms they stream back, and reaps them.
//!
//! A worker that dies keeps what it streamed last; the cell is then marked incomplete.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::user::{CellLoad, Start};
use super::worker::{Frame, PacedShare, WireRequest, WireWorkload, WorkerConfig, read_frame};
use super::{CellInput, ModelOutput, RunError};
use crate::plan::{TargetUrl, Workload};
use crate::stats::{Part, Recorder, merge_parts, rusage, split};

/// How long workers get to send their last frame and exit once their stdin is closed.
const GRACE: Duration = Duration::from_secs(5);

fn wire_workload(input: &CellInput) -> Result<WireWorkload, RunError> {
    Ok(match &input.scenario.workload {
        Workload::Cpu(k) => WireWorkload::Cpu(*k),
        Workload::Http {
            requests,
            expect_status,
        } => WireWorkload::Http {
            requests: requests
                .iter()
                .map(|r| {
                    let url = match &r.url {
                        TargetUrl::Absolute(u) => u.clone(),
                        TargetUrl::Relative(p) => input
                            .base
                            .and_then(|b| b.join(p).ok())
                            .ok_or_else(|| crate::workload::ResolveError {
                                display: r.display.clone(),
                                reason: "a relative URL needs `base`".into(),
                            })?,
                    };
                    Ok(WireRequest {
                        display: r.display.clone(),
                        url: url.to_string(),
                        method: r.method.clone(),
                        headers: r.headers.clone(),
                        body: r
                            .body
                            .as_ref()
                            .map(|b| String::from_utf8_lossy(b).into_owned()),
                    })
                })
                .collect::<Result<_, RunError>>()?,
            expect_status: expect_status.clone(),
        },
    })
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    last: Option<Recorder>,
    finished: bool,
    cpu: Duration,
    peak_rss_bytes: u64,
}

pub fn run(input: &CellInput) -> Result<ModelOutput, RunError> {
    let c = input.cell.concurrency.get();
    let w = input.cell.workers.get().min(c);
    let users: Vec<usize> = (0..w).map(|k| c / w + usize::from(k < c % w)).collect();
    let loads: Vec<CellLoad> = match input.load {
        CellLoad::Repeat { first, count } => {
            let mut next = first;
            split(count, &users)
                .into_iter()
                .map(|n| {
                    let l = CellLoad::Repeat {
                        first: next,
                        count: n,
                    };
                    next += n;
                    l
                })
                .collect()
        }
        d @ CellLoad::Duration { .. } => vec![d; w],
    };
    let warmups = split(input.scenario.warmup, &users);
    let workload = wire_workload(input)?;
    let rt = super::runtime(1)?;
    let mut notes = Vec::new();
    let merged = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Option<Frame>)>();
        let mut workers: Vec<Worker> = Vec::with_capacity(w);
        for k in 0..w {
            let config = WorkerConfig {
                workload: workload.clone(),
                concurrency: users[k],
                load: loads[k],
                warmup: warmups[k],
                timeout_us: crate::units::micros_of(input.scenario.timeout),
                warm_time_us: u64::try_from(input.scenario.warmup_time.as_micros())
                    .unwrap_or(u64::MAX),
                paced: paced_share(input, k, w, users[k]),
            };
            match spawn(&config).await {
                Ok((mut child, stdin)) => {
                    if let Some(stdout) = child.stdout.take() {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            let mut stdout = stdout;
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
                    workers.push(Worker {
                        child,
                        stdin: Some(stdin),
                        last: None,
                        finished: false,
                        cpu: Duration::ZERO,
                        peak_rss_bytes: 0,
                    });
                }
                Err(e) => {
                    notes.push(format!("could not start worker {} of {w}: {e}", k + 1));
                    super::request_stop();
                    break;
                }
            }
        }
        drop(tx);
        // Phase 1: every worker warm and connected.
        let mut ready = 0;
        let mut ended = vec![false; workers.len()];
        while ready + ended.iter().filter(|e| **e).count() < workers.len() {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some((_, Some(Frame::Ready))) => ready += 1,
                    Some((k, None)) => ended[k] = true,
                    Some(_) => {}
                    None => break,
                },
                () = super::stop_requested() => break,
            }
        }
        // Phase 2: start them together and collect until every stream ends.
        let start = Start::now();
        for wk in &mut workers {
            if let Some(stdin) = wk.stdin.as_mut() {
                let msg: &[u8] = if super::stopping() { b"stop\n" } else { b"go\n" };
                let _ = stdin.write_all(msg).await;
                let _ = stdin.flush().await;
            }
        }
        let mut closed_stdins = false;
        let mut open = ended.iter().filter(|e| !**e).count();
        while open > 0 {
            let stop = async {
                if closed_stdins {
                    std::future::pending::<()>().await;
                }
                super::stop_requested().await;
            };
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some((k, Some(Frame::Snapshot(r)))) => {
                        if let Ok(r) = Recorder::try_from(r) {
                            workers[k].last = Some(r);
                        }
                        let done: u64 = workers.iter().filter_map(|w| w.last.as_ref()).map(|r| r.operations).sum();
                        input.progress.store(done, std::sync::atomic::Ordering::Relaxed);
                    }
                    Some((k, Some(Frame::Final { recorder, cpu_us, peak_rss_bytes }))) => {
                        if let Ok(r) = Recorder::try_from(recorder) {
                            workers[k].last = Some(r);
                            workers[k].finished = true;
                        }
                        workers[k].cpu = Duration::from_micros(cpu_us);
                        workers[k].peak_rss_bytes = peak_rss_bytes;
                        // The measured phase of this worker is over at its final frame, not
                        // when its process gets round to exiting.
                        if !ended[k] {
                            ended[k] = true;
                            open -= 1;
                        }
                    }
                    Some((k, None)) => {
                        if !ended[k] {
                            ended[k] = true;
                            open -= 1;
                        }
                    }
                    Some((_, Some(Frame::Ready))) => {}
                    None => break,
                },
                () = stop => {
                    // A closed stdin tells each worker to stop and send what it has.
                    for wk in &mut workers {
                        wk.stdin = None;
                    }
                    closed_stdins = true;
                }
            }
        }
        let wall = start.at.elapsed();
        // The parent's own share (its CPU, any worker that could not start), then one share per
        // worker: merged exactly as shards of a distributed run are (`stats::merge_parts`).
        let mut parts = vec![Part {
            wall,
            cpu: rusage::cpu_time().saturating_sub(start.cpu),
            peak_rss_bytes: rusage::peak_rss_bytes(),
            complete: notes.is_empty(),
            notes: std::mem::take(&mut notes),
            ..Part::default()
        }];
        for (k, wk) in workers.iter_mut().enumerate() {
            wk.stdin = None;
            let status = match tokio::time::timeout(GRACE, wk.child.wait()).await {
                Ok(Ok(s)) => Some(s),
                _ => {
                    let _ = wk.child.kill().await;
                    wk.child.wait().await.ok()
                }
            };
            let mut lost = Vec::new();
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
                lost.push(format!(
                    "worker {} of {w} {how} before finishing; kept the {kept} operations it had reported",
                    k + 1
                ));
            }
            parts.push(Part {
                recorder: wk.last.take().unwrap_or_default(),
                wall,
                cpu: wk.cpu,
                peak_rss_bytes: wk.peak_rss_bytes,
                complete: wk.finished,
                notes: lost,
            });
        }
        merge_parts(parts)
    });
    Ok(ModelOutput {
        recorder: merged.recorder,
        wall: merged.wall,
        cpu: merged.cpu,
        peak_rss_bytes: merged.peak_rss_bytes,
        notes: merged.notes,
        complete: merged.complete,
    })
}

/// Worker `k` of `w`'s share of a paced cell: every w-th arrival (within this process's stride)
/// with its share of the in-flight cap, or every w-th staged user.
fn paced_share(input: &CellInput, k: usize, w: usize, users: usize) -> Option<PacedShare> {
    let load =
        super::paced::PacedLoad::from_load(&input.scenario.load, (input.stride.of as usize) * w)?;
    let stride = super::paced::Stride {
        index: input.stride.index + input.stride.of * k as u64,
        of: input.stride.of * w as u64,
    };
    let users = match &load {
        super::paced::PacedLoad::Open { .. } => (0..users).collect(),
        super::paced::PacedLoad::Users { stages } => {
            let most = stages.iter().map(|s| s.1).max().unwrap_or(0);
            (0..most).filter(|i| i % w == k).collect()
        }
    };
    Some(PacedShare {
        load,
        stride,
        users,
        warmup_us: crate::units::micros_of(input.scenario.warmup_time),
    })
}

async fn spawn(config: &WorkerConfig) -> std::io::Result<(Child, ChildStdin)> {
    let mut cmd = Command::new(super::self_exe());
    cmd.arg("__worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: `die_with_parent` only calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(super::die_with_parent);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("worker has no stdin"))?;
    let mut line = serde_json::to_vec(config)?;
    line.push(b'\n');
    stdin.write_all(&line).await?;
    stdin.flush().await?;
    Ok((child, stdin))
}

#[cfg(test)]
mod tests {
    use crate::stats::split;

    #[test]
    fn splits_add_up_exactly() {
        let cases: &[(u64, &[usize], &[u64])] = &[
            (160, &[8, 8], &[80, 80]),
            (10, &[2, 1], &[7, 3]),
            (3, &[1, 1, 1, 1], &[1, 1, 1, 0]),
            (0, &[1, 1], &[0, 0]),
        ];
        for (total, weights, want) in cases {
            let got = split(*total, weights);
            assert_eq!(got, *want, "{total} over {weights:?}");
            assert_eq!(got.iter().sum::<u64>(), *total);
        }
    }
}
