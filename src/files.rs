//! Reading files loadplan did not write itself (plans, saved results, baselines), bounded: a
//! pipe or `/dev/zero` has no size to check first, so at most `limit + 1` bytes are read and the
//! caller refuses what went past the limit. Saved results must be regular files: a named pipe
//! nobody writes to would hold the read (and even the open) forever.

use std::fs::{File, FileType, OpenOptions};
use std::io::{Error, ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The file's bytes, at most `limit + 1` of them.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_from(File::open(path)?, limit)
}

fn read_from(file: File, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A saved summary.json or shard results file, at most one byte past what the loader accepts.
/// Anything but a regular file (after symlinks) is refused unopened, since opening a named pipe
/// for reading waits for a writer.
pub fn read_saved(path: &Path) -> std::io::Result<Vec<u8>> {
    regular(std::fs::metadata(path)?.file_type())?;
    // Non-blocking, so that a file swapped for a pipe after the check cannot hold the open
    // either; it is checked again once open. Reads of a regular file never block anyway.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    regular(file.metadata()?.file_type())?;
    read_from(file, crate::units::MAX_SAVED_BYTES as u64)
}

fn regular(t: FileType) -> std::io::Result<()> {
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(Error::new(
        ErrorKind::InvalidInput,
        format!("{what}, not a regular file: saved results are read from files"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::mpsc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", Error::last_os_error());
    }

    /// `read_saved(path)` on another thread: its result, or None if it has not returned
    /// within a few seconds (it would wait for a writer forever).
    fn read_saved_within(path: &Path) -> Option<std::io::Result<Vec<u8>>> {
        let (tx, rx) = mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read_saved(&path));
        });
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }

    #[test]
    fn only_regular_files_are_read_as_saved_results() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("summary.json");
        std::fs::write(&file, b"{}").expect("write");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        for p in [&file, &link] {
            let got = read_saved_within(p).expect("returns");
            assert_eq!(got.expect("a regular file is read"), b"{}");
        }
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let fifo_link = dir.path().join("fifo-link.json");
        std::os::unix::fs::symlink(&fifo, &fifo_link).expect("symlink");
        for (p, want) in [
            (fifo.as_path(), "a named pipe, not a regular file"),
            (fifo_link.as_path(), "a named pipe, not a regular file"),
            (dir.path(), "a directory, not a regular file"),
            (Path::new("/dev/null"), "a device, not a regular file"),
        ] {
            let got = read_saved_within(p).unwrap_or_else(|| panic!("{}: hangs", p.display()));
            let e = got.expect_err("refused");
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}: {e}", p.display());
            assert!(e.to_string().contains(want), "{}: {e}", p.display());
        }
    }
}
