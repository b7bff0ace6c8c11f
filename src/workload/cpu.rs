//! CPU kernels: pure computation, no I/O and no allocation per operation.
//!
//! Each kernel returns a checksum so the optimiser cannot drop the work; `black_box` on the loop
//! variable keeps LLVM from replacing `sum_squares` with its closed form.
//!
//! A kernel may be asked for up to about a minute of work, so it checks a stop predicate every
//! few milliseconds of it ([`run_until`]): an interrupted run stops within a second even while
//! every user sits in a long computation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::plan::Kernel;

/// The block `sha256` hashes repeatedly: static, so an operation allocates nothing.
static BLOCK: [u8; 64 * 1024] = [0x5a; 64 * 1024];

/// `sum_squares` iterations between two looks at the stop predicate: about a millisecond.
const SUM_SQUARES_CHUNK: u64 = 1 << 20;
/// `spin` rounds between two looks at the stop predicate.
const SPIN_CHUNK: u64 = 1 << 10;

/// Computes `kernel` to the end.
pub fn run(kernel: &Kernel) -> u64 {
    run_until(kernel, &|| false).unwrap_or_default()
}

/// Computes `kernel`, giving up (`None`) as soon as `stop` returns true.
pub fn run_until(kernel: &Kernel, stop: &dyn Fn() -> bool) -> Option<u64> {
    match *kernel {
        Kernel::SumSquares { n } => {
            let mut acc = 0u64;
            let mut from = 0u64;
            while from < n {
                let to = from.saturating_add(SUM_SQUARES_CHUNK).min(n);
                for i in from..to {
                    let i = black_box(i);
                    acc = acc.wrapping_add(i.wrapping_mul(i));
                }
                from = to;
                if from < n && stop() {
                    return None;
                }
            }
            Some(acc)
        }
        Kernel::Sha256 { bytes } => {
            let mut h = Sha256::new();
            let mut left = bytes;
            while left > 0 {
                let take = left.min(BLOCK.len() as u64) as usize;
                h.update(&BLOCK[..take]);
                left -= take as u64;
                if left > 0 && stop() {
                    return None;
                }
            }
            let d = h.finalize();
            Some(u64::from_le_bytes([
                d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            ]))
        }
        Kernel::Spin { micros } => {
            let until = Instant::now() + Duration::from_micros(micros);
            let mut spins = 0u64;
            while Instant::now() < until {
                spins = black_box(spins + 1);
                if spins % SPIN_CHUNK == 0 && stop() {
                    return None;
                }
            }
            Some(spins)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_known_values() {
        // Σ i² for i < 4 = 0 + 1 + 4 + 9.
        assert_eq!(run(&Kernel::SumSquares { n: 4 }), 14);
        assert_eq!(run(&Kernel::SumSquares { n: 1 }), 0);
        // Hashing the same input twice gives the same checksum; different sizes differ.
        let a = run(&Kernel::Sha256 { bytes: 100_000 });
        assert_eq!(a, run(&Kernel::Sha256 { bytes: 100_000 }));
        assert_ne!(a, run(&Kernel::Sha256 { bytes: 100_001 }));
        let t = Instant::now();
        run(&Kernel::Spin { micros: 2_000 });
        assert!(t.elapsed() >= Duration::from_micros(2_000));
    }

    #[test]
    fn kernels_stop_when_asked() {
        let never = || false;
        assert_eq!(run_until(&Kernel::SumSquares { n: 4 }, &never), Some(14));
        // Asked to stop at the first look, a long kernel gives up instead of finishing.
        let at_once = || true;
        let long = [
            Kernel::SumSquares { n: 100_000_000_000 },
            Kernel::Sha256 { bytes: 4 << 30 },
            Kernel::Spin { micros: 60_000_000 },
        ];
        for k in long {
            let t = Instant::now();
            assert_eq!(run_until(&k, &at_once), None, "{k}");
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{k} took {:?}",
                t.elapsed()
            );
        }
    }
}
