//! The runner's own resource use: CPU seconds (user + sys) from `getrusage`, and peak RSS from
//! the kernel's high-water mark of this program's memory (`VmHWM` in `/proc/self/status`).
//!
//! Not `ru_maxrss` for the peak: a process started by `fork` and `exec` (a CI harness, a test
//! runner, a script's `subprocess` with a `preexec_fn`) inherits in `ru_maxrss` the size its
//! parent had when it forked, so a 5 MB run under an 80 MB parent would report 80 MB. `VmHWM`
//! starts afresh at `exec`; `ru_maxrss` is the fallback where `/proc` is missing.
//!
//! Read at a cell's measured start and end in every process that does work, so that cores busy =
//! CPU seconds ÷ wall seconds covers the runner itself and never the target server.

use std::time::Duration;

fn usage() -> Option<libc::rusage> {
    usage_of(libc::RUSAGE_SELF)
}

fn usage_of(who: libc::c_int) -> Option<libc::rusage> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` only writes into the struct we pass, which is large enough.
    let rc = unsafe { libc::getrusage(who, u.as_mut_ptr()) };
    // SAFETY: zero-initialised and, on success, filled in by the kernel.
    (rc == 0).then(|| unsafe { u.assume_init() })
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// User + system CPU time of this process so far, all threads included.
pub fn cpu_time() -> Duration {
    usage().map_or(Duration::ZERO, |u| {
        timeval(u.ru_utime) + timeval(u.ru_stime)
    })
}

/// User + system CPU time of this process's children that have ended and been waited for
/// (worker processes, once their cell has reaped them).
pub fn children_cpu_time() -> Duration {
    usage_of(libc::RUSAGE_CHILDREN).map_or(Duration::ZERO, |u| {
        timeval(u.ru_utime) + timeval(u.ru_stime)
    })
}

/// The highest resident set size this program has had since it started, in bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| high_water_kb(&status))
        // Linux reports kilobytes in both.
        .or_else(|| usage().and_then(|u| u64::try_from(u.ru_maxrss).ok()))
        .map_or(0, |kb| kb * 1024)
}

/// The `VmHWM:` line of a `/proc/PID/status` text, in kilobytes.
fn high_water_kb(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_time();
        let until = std::time::Instant::now() + Duration::from_millis(30);
        while std::time::Instant::now() < until {
            std::hint::black_box(0);
        }
        assert!(cpu_time() > before);
        assert!(peak_rss_bytes() > 1 << 20);
    }

    #[test]
    fn the_high_water_mark_is_read_from_the_status_text() {
        let cases = [
            (
                "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n",
                Some(5120),
            ),
            ("VmHWM:\t0 kB\n", Some(0)),
            ("VmRSS:\t 4000 kB\n", None),
            ("VmHWM:\t 12 MB\n", None),
            ("VmHWM:\t many kB\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(high_water_kb(text), want, "{text:?}");
        }
    }
}
