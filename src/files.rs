//! Reading files loadplan did not write itself (plans, saved results, baselines), bounded: a
//! pipe or `/dev/zero` has no size to check first, so at most `limit + 1` bytes are read and the
//! caller refuses what went past the limit.

use std::io::Read;
use std::path::Path;

/// The file's bytes, at most `limit + 1` of them.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A saved summary.json or shard results file, at most one byte past what the loader accepts.
pub fn read_saved(path: &Path) -> std::io::Result<Vec<u8>> {
    read_bounded(path, crate::stats::saved::MAX_SAVED_BYTES as u64)
}
