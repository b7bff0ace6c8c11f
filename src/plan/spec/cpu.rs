//! CPU kernels and their sizes.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::Dur;

/// A CPU kernel and its size. Checked in `try_from` so that errors keep their location.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawCpu")]
pub enum CpuSpec {
    /// Σ i² for i in 0..n, with wrapping arithmetic.
    SumSquares { n: u64 },
    /// SHA-256 of `bytes` bytes.
    Sha256 { bytes: u64 },
    /// Busy-waits for `duration`.
    Spin { duration: Duration },
}

/// A CPU kernel and its size.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCpu {
    kernel: KernelName,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    bytes: Option<u64>,
    #[serde(default)]
    duration: Option<Dur>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum KernelName {
    SumSquares,
    Sha256,
    Spin,
}

/// Bounds that keep one operation under about a minute on any machine.
const MAX_SUM_SQUARES_N: u64 = 100_000_000_000;
const MAX_SHA256_BYTES: u64 = 4 << 30;

impl TryFrom<RawCpu> for CpuSpec {
    type Error = String;

    fn try_from(r: RawCpu) -> Result<Self, String> {
        let (needs, n, bytes, duration) = match r.kernel {
            KernelName::SumSquares => ("n", r.n, None, None),
            KernelName::Sha256 => ("bytes", None, r.bytes, None),
            KernelName::Spin => ("duration", None, None, r.duration),
        };
        let extra = [
            ("n", r.n.is_some() && n.is_none()),
            ("bytes", r.bytes.is_some() && bytes.is_none()),
            ("duration", r.duration.is_some() && duration.is_none()),
        ];
        if let Some((key, _)) = extra.iter().find(|(_, bad)| *bad) {
            return Err(format!(
                "kernel `{}` takes `{needs}`, not `{key}`",
                kernel_str(r.kernel)
            ));
        }
        match r.kernel {
            KernelName::SumSquares => match n {
                Some(n) if (1..=MAX_SUM_SQUARES_N).contains(&n) => Ok(CpuSpec::SumSquares { n }),
                Some(n) => Err(format!(
                    "sum_squares `n` must be between 1 and {MAX_SUM_SQUARES_N}, got {n}"
                )),
                None => Err("kernel `sum_squares` needs `n`".into()),
            },
            KernelName::Sha256 => match bytes {
                Some(b) if (1..=MAX_SHA256_BYTES).contains(&b) => Ok(CpuSpec::Sha256 { bytes: b }),
                Some(b) => Err(format!(
                    "sha256 `bytes` must be between 1 and {MAX_SHA256_BYTES}, got {b}"
                )),
                None => Err("kernel `sha256` needs `bytes`".into()),
            },
            KernelName::Spin => match duration {
                Some(d) if !d.0.is_zero() && d.0 <= Duration::from_secs(60) => {
                    Ok(CpuSpec::Spin { duration: d.0 })
                }
                Some(_) => Err("spin `duration` must be above zero and at most 60s".into()),
                None => Err("kernel `spin` needs `duration`".into()),
            },
        }
    }
}

fn kernel_str(k: KernelName) -> &'static str {
    match k {
        KernelName::SumSquares => "sum_squares",
        KernelName::Sha256 => "sha256",
        KernelName::Spin => "spin",
    }
}
