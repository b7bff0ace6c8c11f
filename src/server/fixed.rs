//! `/capacity?workers=K&service=S[&queue=Q]`: an endpoint whose capacity is known, K/S requests
//! per second, so that a capacity search has an answer to be checked against.
//!
//! Input: the arrival time of each request and the pool's three parameters. Output: when the
//! request is to be answered (or that the queue is full: 503). It must not let the host's
//! scheduling change the capacity: the K workers are *lanes of virtual time*. An arrival at `a`
//! takes the lane that frees first (at `f`), starts at `max(a, f)`, finishes S later, and the lane
//! is busy until then; the response is sent at that finish time. This is a first-come,
//! first-served queue with K servers and deterministic service S (G/D/K): it serves exactly K/S
//! per second whatever the timer's lateness (a late wake-up delays one response, never the lane's
//! next job). A job whose wait would exceed Q × S / K (Q jobs queued ahead of it) is refused with
//! a 503 and takes no lane. `docs/capacity.md` works out the latency this gives under load.
//!
//! Pools are kept per (K, S, Q), created on first use, at most [`MAX_POOLS`] of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Bounds on what one request may ask for, so the server cannot be told to exhaust itself.
pub const MAX_WORKERS: usize = 4096;
pub const MAX_SERVICE: Duration = Duration::from_secs(10);
pub const MAX_QUEUE: usize = 1_000_000;
/// Queue places when the request does not say.
pub const DEFAULT_QUEUE: usize = 10_000;
/// Distinct pools kept at once; a request for another is a 400.
pub const MAX_POOLS: usize = 64;

/// What `/capacity` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    pub workers: usize,
    pub service: Duration,
    pub queue: usize,
}

/// One pool's lanes: when each worker is next free.
#[derive(Debug)]
struct Pool {
    spec: PoolSpec,
    free_at: Mutex<Vec<Instant>>,
}

/// The outcome of one arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer at this instant (its service ends then).
    At(Instant),
    /// The queue is full: answer 503 now.
    Full,
}

impl Pool {
    fn new(spec: PoolSpec, now: Instant) -> Pool {
        Pool {
            spec,
            free_at: Mutex::new(vec![now; spec.workers]),
        }
    }

    /// Takes the lane that frees first for an arrival at `now`.
    fn admit(&self, now: Instant) -> Admission {
        let mut lanes = self.free_at.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((i, free)) = lanes.iter().copied().enumerate().min_by_key(|(_, t)| *t) else {
            return Admission::Full;
        };
        let start = free.max(now);
        // Jobs queued ahead ≈ the wait × K / S; refuse beyond Q of them.
        let wait = start.saturating_duration_since(now);
        let max_wait = self
            .spec
            .service
            .mul_f64(self.spec.queue as f64 / self.spec.workers as f64);
        if wait > max_wait {
            return Admission::Full;
        }
        let done = start + self.spec.service;
        lanes[i] = done;
        Admission::At(done)
    }
}

/// Every pool the server has made, keyed by what was asked.
#[derive(Debug, Default)]
pub struct Pools {
    pools: Mutex<HashMap<PoolSpec, Arc<Pool>>>,
}

impl Pools {
    pub fn new() -> Pools {
        Pools::default()
    }

    /// Admits an arrival at `now` to the pool of `spec`; `None` when there are already
    /// [`MAX_POOLS`] other pools.
    pub fn admit(&self, spec: PoolSpec, now: Instant) -> Option<Admission> {
        let pool = {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            if !pools.contains_key(&spec) && pools.len() >= MAX_POOLS {
                return None;
            }
            Arc::clone(
                pools
                    .entry(spec)
                    .or_insert_with(|| Arc::new(Pool::new(spec, now))),
            )
        };
        Some(pool.admit(now))
    }
}

/// Reads `workers`, `service` and `queue` from a query string's values; `Err` says what is wrong.
pub fn spec(
    workers: Option<&str>,
    service: Option<&str>,
    queue: Option<&str>,
) -> Result<PoolSpec, &'static str> {
    const WHAT: &str = "capacity needs workers (1 to 4096), service (a duration from 1ms to 10s, like 10ms) and optionally queue (0 to 1000000)\n";
    let workers = match workers.map(str::parse::<usize>) {
        Some(Ok(k)) if (1..=MAX_WORKERS).contains(&k) => k,
        _ => return Err(WHAT),
    };
    let service = match service.map(humantime::parse_duration) {
        Some(Ok(s)) if s >= Duration::from_millis(1) && s <= MAX_SERVICE => s,
        _ => return Err(WHAT),
    };
    let queue = match queue.map(str::parse::<usize>) {
        None => DEFAULT_QUEUE,
        Some(Ok(q)) if q <= MAX_QUEUE => q,
        Some(_) => return Err(WHAT),
    };
    Ok(PoolSpec {
        workers,
        service,
        queue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(workers: usize, service_ms: u64, queue: usize, t0: Instant) -> Pool {
        Pool::new(
            PoolSpec {
                workers,
                service: Duration::from_millis(service_ms),
                queue,
            },
            t0,
        )
    }

    fn at(a: Admission, t0: Instant) -> Option<u64> {
        match a {
            Admission::At(t) => Some(t.duration_since(t0).as_millis() as u64),
            Admission::Full => None,
        }
    }

    #[test]
    fn lanes_serve_k_over_s_first_come_first_served() {
        let t0 = Instant::now();
        // K = 2, S = 10 ms: six arrivals at once finish at 10, 10, 20, 20, 30, 30 ms.
        let p = pool(2, 10, 100, t0);
        let done: Vec<_> = (0..6).map(|_| at(p.admit(t0), t0)).collect();
        assert_eq!(
            done,
            vec![Some(10), Some(10), Some(20), Some(20), Some(30), Some(30)]
        );
        // An arrival after the lanes are free waits for nothing.
        let later = t0 + Duration::from_millis(100);
        assert_eq!(at(p.admit(later), t0), Some(110));
    }

    #[test]
    fn below_capacity_nothing_waits_and_above_it_the_wait_grows() {
        let t0 = Instant::now();
        // K = 4, S = 10 ms (400/s). At 200/s (every 5 ms) every job takes exactly S.
        let p = pool(4, 10, 10_000, t0);
        for n in 0..200u64 {
            let a = t0 + Duration::from_millis(5 * n);
            assert_eq!(at(p.admit(a), t0), Some(5 * n + 10), "arrival {n}");
        }
        // At 800/s (every 1.25 ms) the n-th arrival waits n × (1/400 − 1/800) s, to within S.
        let t1 = t0 + Duration::from_secs(10);
        let p = pool(4, 10, 10_000, t1);
        let mut last = 0;
        for n in 0..800u64 {
            let a = t1 + Duration::from_micros(1250 * n);
            let done = at(p.admit(a), t1).unwrap_or(0);
            last = done - (1250 * n) / 1000;
        }
        let expected = 10 + 799 * 1250 / 1000;
        assert!(last.abs_diff(expected) <= 10, "{last} vs {expected}");
    }

    #[test]
    fn a_full_queue_refuses() {
        let t0 = Instant::now();
        // K = 1, S = 10 ms, Q = 2: one in service, two waiting, the fourth is refused.
        let p = pool(1, 10, 2, t0);
        let done: Vec<_> = (0..4).map(|_| at(p.admit(t0), t0)).collect();
        assert_eq!(done, vec![Some(10), Some(20), Some(30), None]);
    }

    #[test]
    fn the_query_is_checked() {
        let ok = |w, s, q| spec(w, s, q).is_ok();
        let table = [
            (Some("4"), Some("10ms"), None, true),
            (Some("4"), Some("10ms"), Some("0"), true),
            (Some("0"), Some("10ms"), None, false),
            (Some("5000"), Some("10ms"), None, false),
            (Some("4"), Some("0ms"), None, false),
            (Some("4"), Some("11s"), None, false),
            (Some("4"), None, None, false),
            (None, Some("10ms"), None, false),
            (Some("4"), Some("10ms"), Some("-1"), false),
        ];
        for (w, s, q, want) in table {
            assert_eq!(ok(w, s, q), want, "{w:?} {s:?} {q:?}");
        }
    }

    #[test]
    fn pools_are_bounded() {
        let t0 = Instant::now();
        let pools = Pools::new();
        for k in 1..=MAX_POOLS {
            let s = spec(Some(&k.to_string()), Some("1ms"), None).expect("a valid spec");
            assert!(pools.admit(s, t0).is_some());
        }
        let again = spec(Some("1"), Some("1ms"), None).expect("a valid spec");
        assert!(pools.admit(again, t0).is_some(), "a known pool");
        let new = spec(Some("1"), Some("2ms"), None).expect("a valid spec");
        assert!(pools.admit(new, t0).is_none(), "one pool too many");
    }
}
