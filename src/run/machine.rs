//! The machine around a cell: how busy all its cores were, how much time the hypervisor stole, and
//! how much of that was loadplan's own (the runner, its reaped workers, the built-in server).
//!
//! Input: `/proc/stat`, `/proc/<pid>/stat` of the built-in server, and `getrusage` of this process
//! and its reaped children, sampled once before and once after each cell (a few file reads:
//! cheap). Output: a [`MachineUse`] per cell, which `stats::machine` turns into checks. Judges
//! nothing; where a file cannot be read (not Linux, no /proc), the figures are absent, never zero.

use std::time::{Duration, Instant};

use crate::stats::{MachineUse, rusage};

/// One reading of the machine.
pub struct Sample {
    at: Instant,
    /// All cores' busy and stolen time since boot; `None` without a readable `/proc/stat`.
    cores: Option<(Duration, Duration)>,
    /// This process and its reaped children (worker processes once a cell has reaped them).
    runner: Duration,
    target: Option<Duration>,
}

/// Reads the machine now; `target` is the built-in server's pid, when it runs.
pub fn sample(target: Option<u32>) -> Sample {
    Sample {
        at: Instant::now(),
        cores: std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| cpu_line(&t))
            .map(|(busy, steal)| (ticks(busy), ticks(steal))),
        runner: rusage::cpu_time() + rusage::children_cpu_time(),
        target: target.and_then(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| process_ticks(&t))
                .map(ticks)
        }),
    }
}

impl Sample {
    /// What happened between this sample and `later`.
    pub fn until(&self, later: &Sample) -> Option<MachineUse> {
        let ((busy0, steal0), (busy1, steal1)) = (self.cores?, later.cores?);
        Some(MachineUse {
            wall: later.at.saturating_duration_since(self.at),
            busy: busy1.saturating_sub(busy0),
            steal: steal1.saturating_sub(steal0),
            runner_cpu: later.runner.saturating_sub(self.runner),
            target_cpu: match (self.target, later.target) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                _ => None,
            },
        })
    }
}

/// Clock ticks as time (`USER_HZ`, almost always 100 per second).
fn ticks(n: u64) -> Duration {
    let hz = Some(rustix::param::clock_ticks_per_second())
        .filter(|h| *h > 0)
        .unwrap_or(100);
    Duration::from_secs(n / hz) + Duration::from_nanos((n % hz) * 1_000_000_000 / hz)
}

/// `/proc/stat`'s first line (`cpu  user nice system idle iowait irq softirq steal …`, in ticks,
/// all cores together): busy = user + nice + system + irq + softirq (guest time is inside user),
/// and steal.
fn cpu_line(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    if v.len() < 4 {
        return None;
    }
    Some((at(0) + at(1) + at(2) + at(5) + at(6), at(7)))
}

/// `/proc/<pid>/stat`: utime + stime, fields 14 and 15, counted after the command name (which is
/// in parentheses and may hold spaces).
fn process_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        let stat = "cpu  100 5 50 1000 7 3 2 11 0 0\ncpu0 50 2 25 500 3 1 1 5 0 0\nintr 1 2\n";
        assert_eq!(cpu_line(stat), Some((160, 11)));
        assert_eq!(cpu_line("intr 1 2\n"), None);
        assert_eq!(cpu_line("cpu  1 2\n"), None);
        let pid = "4242 (loadplan (serve)) S 1 4242 4242 0 -1 4194560 900 0 0 0 37 13 0 0 20 0 9";
        assert_eq!(process_ticks(pid), Some(50));
        assert_eq!(process_ticks("garbage"), None);
    }

    #[test]
    fn a_sample_pair_measures_this_process() {
        let before = sample(Some(std::process::id()));
        let until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < until {
            std::hint::black_box(0);
        }
        let after = sample(Some(std::process::id()));
        if let Some(m) = before.until(&after) {
            assert!(m.wall >= Duration::from_millis(30));
            assert!(m.runner_cpu > Duration::ZERO);
            assert!(m.target_cpu.is_some());
        }
    }
}
