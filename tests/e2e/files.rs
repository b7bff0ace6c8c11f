//! Files loadplan did not write are read through one bounded reader: a named pipe, `/dev/zero`
//! and a 1 GB sparse file given as a CSV data file, a TLS certificate authority, a plan and a
//! baseline are each refused (exit 2, naming the file) instead of hanging the run or filling
//! memory. Each run is killed after 20 s, so a hang fails the test rather than hanging it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::util::{loadplan_in, path_str as s, write_plan};

/// Kills a run that hangs: generous, so that only a hang trips it.
const LIMIT: Duration = Duration::from_secs(20);

/// The three files that are not what they claim: (what, path, what the message says).
fn hostile(dir: &Path) -> Vec<(&'static str, PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, &fifo, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
    let sparse = dir.join("sparse");
    File::create(&sparse)
        .and_then(|f| f.set_len(1 << 30))
        .expect("a 1 GB sparse file");
    vec![
        ("a named pipe", fifo, "a named pipe, not a regular file"),
        (
            "/dev/zero",
            PathBuf::from("/dev/zero"),
            "a device, not a regular file",
        ),
        ("a 1 GB sparse file", sparse, "1073741824 bytes"),
    ]
}

#[test]
fn pipes_devices_and_huge_files_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = hostile(dir.path());
    let good = write_plan(
        dir.path(),
        "good.yaml",
        "version: 1\nname: files\nbase: builtin\nscenarios:\n  - name: s\n    targets: [/hello]\n    repeat: 2\n    models: [sequential]\n",
    );
    for (what, file, want) in &files {
        let f = s(file);
        let data = write_plan(
            dir.path(),
            "data.yaml",
            &format!(
                "version: 1\nname: data\nbase: builtin\nscenarios:\n  - name: s\n    data: {{ file: \"{f}\" }}\n    flow:\n      - {{ name: a, request: {{ url: \"/hello?u=${{user}}\" }} }}\n    repeat: 2\n    models: [sequential]\n"
            ),
        );
        let ca = write_plan(
            dir.path(),
            "ca.yaml",
            &format!(
                "version: 1\nname: ca\nscenarios:\n  - name: s\n    targets: [\"https://127.0.0.1:9/\"]\n    tls: {{ ca: \"{f}\" }}\n    repeat: 2\n    models: [sequential]\n"
            ),
        );
        let out = dir.path().join("out");
        let runs: [(&str, Vec<&str>); 4] = [
            ("CSV data file", vec!["validate", s(&data)]),
            ("TLS CA", vec!["validate", s(&ca)]),
            ("plan", vec!["validate", f]),
            (
                "baseline",
                vec!["run", s(&good), "--baseline", f, "--out", s(&out)],
            ),
        ];
        for (role, args) in runs {
            let r = loadplan_in(dir.path(), &args, &[], LIMIT);
            assert_eq!(r.code, 2, "{what} as {role}: {r:?}");
            assert!(
                r.stderr.contains(f) && r.stderr.contains(want),
                "{what} as {role}: the message names the file and what it is: {}",
                r.stderr
            );
            assert!(!out.exists(), "{what} as {role}: nothing ran");
        }
    }
}
