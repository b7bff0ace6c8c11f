//! Waiting for an instant to within tens of microseconds, on a thread of its own: the open model's
//! pacer.
//!
//! Input: due instants, in order. Output: this thread blocks until each (or until a stop is
//! requested). It must not run on a runtime thread (it blocks), and must not burn a core: it
//! sleeps until a margin before the due time and spins only the rest.
//!
//! Why: tokio's timer wheel has a millisecond of resolution, and a sleeping OS thread wakes 90–150
//! µs late on this kind of VM even with a timer slack of 1 µs (see NOTES.md): an arrival sent that
//! late is charged to the target as latency. So the pacer sleeps (`std::thread::sleep`, timer
//! slack 1 µs) until `margin` before the due time and spins the rest. The margin follows the
//! lateness of the recent wake-ups (about their 90th percentile, plus a cushion), so a quiet
//! machine spins little; and a budget caps the time spent spinning to a few percent of the wall
//! time, so a very high rate degrades to plain sleeping (lag reported as ever) rather than taking
//! a core from the users.

use std::time::{Duration, Instant};

/// The margin before any wake-up was measured.
const FIRST_MARGIN: Duration = Duration::from_micros(200);
/// Bounds of the margin: spinning less than this gains nothing; more than this only chases
/// pre-emption by other processes, which no margin can cover.
const MIN_MARGIN: Duration = Duration::from_micros(40);
const MAX_MARGIN: Duration = Duration::from_micros(200);
/// Added to the measured lateness of wake-ups.
const CUSHION: Duration = Duration::from_micros(25);
/// Wake-ups remembered to estimate their lateness.
const RECENT: usize = 32;
/// Spinning may take at most this share of the wall time (and start with this much credit).
const SPIN_SHARE: f64 = 0.015;
const SPIN_CREDIT_CAP: Duration = Duration::from_millis(15);
/// The longest single sleep: a stop request is noticed within this.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

/// Waits for due instants on the current thread.
pub struct Pacer {
    /// Lateness of the most recent wake-ups, in microseconds (a ring).
    recent: [u32; RECENT],
    seen: usize,
    margin: Duration,
    /// Spin time still allowed, refilled at [`SPIN_SHARE`] of the time that passes.
    credit: Duration,
    refilled_at: Instant,
}

impl Pacer {
    /// A pacer for this thread; asks the kernel for a timer slack of 1 µs on it (the default 50
    /// µs would be added to every wake-up).
    pub fn new() -> Pacer {
        // Best effort: without it, wake-ups are only later.
        let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
        Pacer {
            recent: [0; RECENT],
            seen: 0,
            margin: FIRST_MARGIN,
            credit: SPIN_CREDIT_CAP,
            refilled_at: Instant::now(),
        }
    }

    /// Blocks until `due`; returns false, early, when `stop()` becomes true.
    pub fn wait_until(&mut self, due: Instant, stop: &dyn Fn() -> bool) -> bool {
        self.refill(Instant::now());
        let spin = self.credit >= self.margin;
        let wake_at = if spin {
            due.checked_sub(self.margin).unwrap_or(due)
        } else {
            due
        };
        loop {
            if stop() {
                return false;
            }
            let now = Instant::now();
            if now >= wake_at {
                break;
            }
            let left = wake_at - now;
            std::thread::sleep(left.min(SLEEP_SLICE));
            if left <= SLEEP_SLICE {
                // The last slice: how late it woke says how much margin the next one needs.
                self.learn(Instant::now().saturating_duration_since(wake_at));
                break;
            }
        }
        let spun_from = Instant::now();
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        self.credit = self.credit.saturating_sub(spun_from.elapsed());
        true
    }

    fn refill(&mut self, now: Instant) {
        let passed = now.saturating_duration_since(self.refilled_at);
        self.refilled_at = now;
        self.credit = (self.credit + passed.mul_f64(SPIN_SHARE)).min(SPIN_CREDIT_CAP);
    }

    /// Remembers one wake-up's lateness and sets the margin from the recent ones.
    fn learn(&mut self, late: Duration) {
        let us = u32::try_from(late.as_micros()).unwrap_or(u32::MAX);
        self.recent[self.seen % RECENT] = us;
        self.seen += 1;
        self.margin = margin_for(&self.recent[..self.seen.min(RECENT)]);
    }
}

/// The margin for wake-ups as late as `recent` (µs): about their 90th percentile plus a cushion,
/// within bounds.
fn margin_for(recent: &[u32]) -> Duration {
    if recent.is_empty() {
        return FIRST_MARGIN;
    }
    let mut sorted = recent.to_vec();
    sorted.sort_unstable();
    let p90 = sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)];
    (Duration::from_micros(u64::from(p90)) + CUSHION).clamp(MIN_MARGIN, MAX_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_follows_recent_lateness_within_bounds() {
        let cases: &[(&[u32], u64)] = &[
            (&[], 200),
            (&[0, 0, 0], 40),
            (&[100; 10], 125),
            // One pre-empted wake-up in thirty-two does not move the 90th percentile.
            (&[[90; 31].as_slice(), &[20_000]].concat(), 115),
            (&[5_000; 10], 200),
        ];
        for (recent, want) in cases {
            assert_eq!(
                margin_for(recent),
                Duration::from_micros(*want),
                "{recent:?}"
            );
        }
    }

    /// A generous bound only: the wait never ends before its instant, and on a loaded machine a
    /// wake-up can still be late by a scheduling slice.
    #[test]
    fn waits_end_at_their_instant_not_before() {
        let mut p = Pacer::new();
        let start = Instant::now();
        for i in 1..=20u32 {
            let due = start + Duration::from_millis(2) * i;
            assert!(p.wait_until(due, &|| false));
            let now = Instant::now();
            assert!(now >= due);
            assert!(now - due < Duration::from_millis(50), "{:?}", now - due);
        }
    }

    #[test]
    fn a_stop_ends_a_long_wait() {
        let mut p = Pacer::new();
        let began = Instant::now();
        let stop = || began.elapsed() > Duration::from_millis(30);
        assert!(!p.wait_until(began + Duration::from_secs(60), &stop));
        assert!(began.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn spinning_is_limited_by_its_budget() {
        let mut p = Pacer::new();
        p.credit = Duration::ZERO;
        p.refilled_at = Instant::now();
        // No credit: the pacer sleeps to the instant itself rather than spinning.
        let due = Instant::now() + Duration::from_millis(1);
        assert!(p.wait_until(due, &|| false));
        assert!(p.credit < p.margin);
    }
}
