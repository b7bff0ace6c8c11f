//! The one reader of files loadplan did not write itself: plans, CSV data files, PEM files,
//! saved results (summary.json, shard results, baselines, the histories `trend` reads) and report
//! templates read from a folder.
//!
//! Input: a path and the kind of file it should be. Output: the file's bytes, or a
//! [`FileError`] that says what the file is instead (the caller names the file). One function
//! per kind, each with its own size limit below. Every kind must be a regular file (after
//! symlinks): a named pipe nobody writes to would hold the read (and even the open) forever, and
//! a device such as `/dev/zero` never ends. The size is checked before anything is read, and the
//! read stops one byte past the limit, so a file that grows after the check is refused too.
//! Must not read anything loadplan wrote itself (its own summary.json read back, the built-in
//! server's certificate authority), nor parse what it reads.

use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Plans: a plan is text a person writes; a megabyte is tens of thousands of lines.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;
/// CSV data files: every worker process gets a copy of the rows.
pub const MAX_DATA_BYTES: u64 = 64 << 20;
/// PEM files (CA certificates, client and server certificates and keys): a chain is a few
/// kilobytes.
pub const MAX_PEM_BYTES: u64 = 1 << 20;
/// Saved results: summary.json, shard results files, baselines and histories (the limit the
/// loader of saved results shares, [`crate::units::MAX_SAVED_BYTES`]).
pub const MAX_SAVED_BYTES: u64 = crate::units::MAX_SAVED_BYTES as u64;
/// Report templates read from a folder (`--templates`), each file.
pub const MAX_TEMPLATE_BYTES: u64 = 4 << 20;

/// The kinds of files read, for messages ("plans are read from files").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plan,
    Data,
    Pem,
    Saved,
    Template,
}

impl Kind {
    /// The kind's size limit, in bytes.
    pub fn limit(self) -> u64 {
        match self {
            Kind::Plan => MAX_PLAN_BYTES,
            Kind::Data => MAX_DATA_BYTES,
            Kind::Pem => MAX_PEM_BYTES,
            Kind::Saved => MAX_SAVED_BYTES,
            Kind::Template => MAX_TEMPLATE_BYTES,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Plan => "plans",
            Kind::Data => "data files",
            Kind::Pem => "PEM files",
            Kind::Saved => "saved results",
            Kind::Template => "templates",
        }
    }
}

/// Why a file was not read. Says what the file is, never what it holds; the caller adds the
/// file's name.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{what}, not a regular file: {} are read from files", kind.plural())]
    NotRegular { what: &'static str, kind: Kind },
    #[error("{size} bytes; {} larger than {} bytes are refused", kind.plural(), kind.limit())]
    TooLarge { size: u64, kind: Kind },
    #[error("larger than {} bytes; {} larger than that are refused", kind.limit(), kind.plural())]
    Grew { kind: Kind },
}

/// A plan file, at most [`MAX_PLAN_BYTES`].
pub fn read_plan(path: &Path) -> Result<Vec<u8>, FileError> {
    read(path, Kind::Plan)
}

/// A CSV data file named by a plan, at most [`MAX_DATA_BYTES`].
pub fn read_data(path: &Path) -> Result<Vec<u8>, FileError> {
    read(path, Kind::Data)
}

/// A PEM file (certificates or a private key), at most [`MAX_PEM_BYTES`].
pub fn read_pem(path: &Path) -> Result<Vec<u8>, FileError> {
    read(path, Kind::Pem)
}

/// A saved summary.json, shard results file, baseline or history, at most
/// [`MAX_SAVED_BYTES`].
pub fn read_saved(path: &Path) -> Result<Vec<u8>, FileError> {
    read(path, Kind::Saved)
}

/// A report template from a folder, at most [`MAX_TEMPLATE_BYTES`].
pub fn read_template(path: &Path) -> Result<Vec<u8>, FileError> {
    read(path, Kind::Template)
}

fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, FileError> {
    let meta = std::fs::metadata(path)?;
    regular(meta.file_type(), kind)?;
    if meta.len() > kind.limit() {
        return Err(FileError::TooLarge {
            size: meta.len(),
            kind,
        });
    }
    // Non-blocking, so that a file swapped for a pipe after the check cannot hold the open
    // either; it is checked again once open. Reads of a regular file never block anyway.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    regular(file.metadata()?.file_type(), kind)?;
    let bytes = read_at_most(file, kind.limit())?;
    if bytes.len() as u64 > kind.limit() {
        return Err(FileError::Grew { kind });
    }
    Ok(bytes)
}

/// At most `limit + 1` bytes.
fn read_at_most(file: File, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn regular(t: FileType, kind: Kind) -> Result<(), FileError> {
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
    Err(FileError::NotRegular { what, kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        use rustix::fs::{CWD, FileType, Mode, mknodat};
        mknodat(CWD, path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    }

    /// `read(path, kind)` on another thread: its result, or None if it has not returned
    /// within a few seconds (it would wait for a writer forever).
    fn read_within(path: &Path, kind: Kind) -> Option<Result<Vec<u8>, FileError>> {
        let (tx, rx) = mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read(&path, kind));
        });
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }

    #[test]
    fn only_regular_files_within_their_limit_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("summary.json");
        std::fs::write(&file, b"{}").expect("write");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        for p in [&file, &link] {
            let got = read_within(p, Kind::Saved).expect("returns");
            assert_eq!(got.expect("a regular file is read"), b"{}");
        }
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let fifo_link = dir.path().join("fifo-link.json");
        std::os::unix::fs::symlink(&fifo, &fifo_link).expect("symlink");
        let big = dir.path().join("big.pem");
        File::create(&big)
            .and_then(|f| f.set_len(MAX_PEM_BYTES + 1))
            .expect("sparse file");
        let at_limit = dir.path().join("limit.csv");
        File::create(&at_limit)
            .and_then(|f| f.set_len(MAX_PLAN_BYTES))
            .expect("sparse file");
        assert_eq!(
            read_within(&at_limit, Kind::Plan)
                .expect("returns")
                .expect("a file of exactly the limit is read")
                .len() as u64,
            MAX_PLAN_BYTES
        );
        let cases: [(&Path, Kind, &str); 7] = [
            (&fifo, Kind::Saved, "a named pipe, not a regular file"),
            (&fifo_link, Kind::Saved, "a named pipe, not a regular file"),
            (&fifo, Kind::Data, "data files are read from files"),
            (dir.path(), Kind::Plan, "a directory, not a regular file"),
            (
                Path::new("/dev/null"),
                Kind::Pem,
                "a device, not a regular file",
            ),
            (Path::new("/dev/zero"), Kind::Template, "a device"),
            (
                &big,
                Kind::Pem,
                "1048577 bytes; PEM files larger than 1048576",
            ),
        ];
        for (p, kind, want) in cases {
            let got = read_within(p, kind).unwrap_or_else(|| panic!("{}: hangs", p.display()));
            let e = got.expect_err("refused");
            assert!(
                !matches!(e, FileError::Io(_)),
                "{}: {kind:?}: {e}",
                p.display()
            );
            assert!(e.to_string().contains(want), "{}: {e}", p.display());
        }
    }
}
