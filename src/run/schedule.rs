//! Pacing, kept apart from the loops: when each arrival of an open model is due, and how many
//! users a staged closed model has at a moment.
//!
//! Input: the plan's start rate and stages (linear ramps). Output: pure functions of time. No
//! clocks are read here, so the schedule is exact and testable.
//!
//! The expected number of arrivals by time t is N(t) = ∫ rate. Arrival n (0-based) is due at the
//! t where N(t) = n: the first at 0, then one every 1/rate seconds at a constant rate.

use std::time::Duration;

/// One linear ramp of the rate.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    /// Seconds since the start.
    start: f64,
    len: f64,
    /// Arrivals per second at the ramp's start and end.
    from: f64,
    to: f64,
    /// Arrivals expected before the ramp.
    before: f64,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    ramps: Vec<Ramp>,
    total: u64,
    end: Duration,
}

impl Schedule {
    /// `stages` are (length, rate at the end), each ramping from the previous rate.
    pub fn new(start_rate: f64, stages: &[(Duration, f64)]) -> Schedule {
        let mut ramps = Vec::with_capacity(stages.len());
        let (mut t, mut n, mut from) = (0.0, 0.0, start_rate.max(0.0));
        for (len, to) in stages {
            let len = len.as_secs_f64();
            let to = to.max(0.0);
            ramps.push(Ramp {
                start: t,
                len,
                from,
                to,
                before: n,
            });
            n += (from + to) / 2.0 * len;
            t += len;
            from = to;
        }
        // Arrival n is scheduled when N(t) = n < N(end): ceil(N(end)) arrivals in all. A tiny
        // epsilon keeps float noise from adding an arrival exactly at the end.
        let total = (n - 1e-9).ceil().max(0.0) as u64;
        Schedule {
            ramps,
            total,
            end: Duration::from_secs_f64(t),
        }
    }

    /// Arrivals in the whole schedule.
    pub fn arrivals(&self) -> u64 {
        self.total
    }

    /// How long the schedule lasts.
    pub fn end(&self) -> Duration {
        self.end
    }

    /// When arrival `n` is due, since the start; `None` past the schedule.
    pub fn due(&self, n: u64) -> Option<Duration> {
        if n >= self.total {
            return None;
        }
        let n = n as f64;
        let r = self
            .ramps
            .iter()
            .rev()
            .find(|r| r.before <= n && (r.from > 0.0 || r.to > 0.0))?;
        let left = n - r.before;
        // Within a ramp N(τ) = from·τ + (to − from)/(2·len)·τ²; solve for τ.
        let a = if r.len > 0.0 {
            (r.to - r.from) / (2.0 * r.len)
        } else {
            0.0
        };
        let tau = if a.abs() < 1e-12 {
            if r.from > 0.0 { left / r.from } else { 0.0 }
        } else {
            let disc = (r.from * r.from + 4.0 * a * left).max(0.0);
            (-r.from + disc.sqrt()) / (2.0 * a)
        };
        Some(Duration::from_secs_f64(
            (r.start + tau.clamp(0.0, r.len)).max(0.0),
        ))
    }
}

/// A closed model's users over time: (stage length, users at its end), ramping linearly from the
/// previous stage's users (0 before the first).
#[derive(Debug, Clone)]
pub struct UserStages {
    stages: Vec<(f64, f64, usize, usize)>,
    end: Duration,
}

impl UserStages {
    pub fn new(stages: &[(Duration, usize)]) -> UserStages {
        let mut out = Vec::new();
        let (mut t, mut from) = (0.0, 0usize);
        for (len, to) in stages {
            out.push((t, len.as_secs_f64(), from, *to));
            t += len.as_secs_f64();
            from = *to;
        }
        UserStages {
            stages: out,
            end: Duration::from_secs_f64(t),
        }
    }

    pub fn end(&self) -> Duration {
        self.end
    }

    /// Users that should be active at `t` since the start.
    pub fn users_at(&self, t: Duration) -> usize {
        let t = t.as_secs_f64();
        self.stages
            .iter()
            .find(|(start, len, _, _)| t < start + len)
            .map_or(0, |&(start, len, from, to)| {
                if len <= 0.0 {
                    return to;
                }
                let x = from as f64 + (to as f64 - from as f64) * (t - start) / len;
                x.round().max(0.0) as usize
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_constant_rate_is_evenly_spaced() {
        let s = Schedule::new(100.0, &[(secs(2.0), 100.0)]);
        assert_eq!(s.arrivals(), 200);
        assert_eq!(s.due(0), Some(Duration::ZERO));
        let d = s.due(150).expect("due");
        assert!((d.as_secs_f64() - 1.5).abs() < 1e-9, "{d:?}");
        assert_eq!(s.due(200), None);
        assert_eq!(s.end(), secs(2.0));
    }

    #[test]
    fn ramps_and_steps_follow_the_stages() {
        // 0 → 100/s over 2 s (100 arrivals), then a step to 300/s held for 1 s (300 arrivals).
        let s = Schedule::new(
            0.0,
            &[(secs(2.0), 100.0), (secs(0.0), 300.0), (secs(1.0), 300.0)],
        );
        assert_eq!(s.arrivals(), 400);
        // Half of the ramp's arrivals come in its last 0.59 s (N(t) = 25·t²).
        let d = s.due(50).expect("due").as_secs_f64();
        assert!((d - 2f64.sqrt()).abs() < 1e-6, "{d}");
        let d = s.due(250).expect("due").as_secs_f64();
        assert!((d - 2.5).abs() < 1e-6, "{d}");
        // Due times never go backwards.
        let mut last = Duration::ZERO;
        for n in 0..s.arrivals() {
            let d = s.due(n).expect("due");
            assert!(d >= last, "arrival {n}");
            last = d;
        }
    }

    #[test]
    fn user_stages_ramp_and_hold() {
        let u = UserStages::new(&[(secs(2.0), 10), (secs(1.0), 10), (secs(1.0), 0)]);
        assert_eq!(u.users_at(secs(0.0)), 0);
        assert_eq!(u.users_at(secs(1.0)), 5);
        assert_eq!(u.users_at(secs(2.5)), 10);
        assert_eq!(u.users_at(secs(3.5)), 5);
        assert_eq!(u.users_at(secs(4.5)), 0);
        assert_eq!(u.end(), secs(4.0));
    }
}
