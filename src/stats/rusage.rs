//! The runner's own resource use, from `getrusage`: CPU seconds (user + sys) and peak RSS.
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

/// The highest resident set size this process has had, in bytes.
pub fn peak_rss_bytes() -> u64 {
    // Linux reports kilobytes.
    usage().map_or(0, |u| u64::try_from(u.ru_maxrss).unwrap_or(0) * 1024)
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
}
