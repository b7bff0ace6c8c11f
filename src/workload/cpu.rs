//! CPU kernels: pure computation, no I/O and no allocation per operation.
//!
//! Each kernel returns a checksum so the optimiser cannot drop the work; `black_box` on the loop
//! variable keeps LLVM from replacing `sum_squares` with its closed form.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::plan::Kernel;

/// The block `sha256` hashes repeatedly: static, so an operation allocates nothing.
static BLOCK: [u8; 64 * 1024] = [0x5a; 64 * 1024];

pub fn run(kernel: &Kernel) -> u64 {
    match *kernel {
        Kernel::SumSquares { n } => {
            let mut acc = 0u64;
            for i in 0..n {
                let i = black_box(i);
                acc = acc.wrapping_add(i.wrapping_mul(i));
            }
            acc
        }
        Kernel::Sha256 { bytes } => {
            let mut h = Sha256::new();
            let mut left = bytes;
            while left > 0 {
                let take = left.min(BLOCK.len() as u64) as usize;
                h.update(&BLOCK[..take]);
                left -= take as u64;
            }
            let d = h.finalize();
            u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        }
        Kernel::Spin { micros } => {
            let until = Instant::now() + Duration::from_micros(micros);
            let mut spins = 0u64;
            while Instant::now() < until {
                spins = black_box(spins + 1);
            }
            spins
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
}
