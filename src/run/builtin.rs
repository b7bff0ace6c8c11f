//! The built-in target server as a separate child process (`loadplan serve --addr 127.0.0.1:0`,
//! with `--tls` for `base: builtin+https`), so that its CPU is never counted as the runner's. It
//! picks an ephemeral port and says which on its first stdout line; over TLS its second line
//! names a file holding the certificate authority it made at start, which this run (and only this
//! run) then trusts. We wait until it answers, and stop it (SIGTERM, then SIGKILL) at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

pub struct BuiltinServer {
    child: Option<Child>,
    pub url: url::Url,
    /// Over TLS: the certificate authority (PEM) of the server's certificate.
    pub ca_pem: Option<String>,
}

/// What a plan's requests resolve against: the built-in server's URL when it runs, the plan's
/// `base:` URL otherwise; none for a plan without a base (its targets are absolute).
pub fn base_url(base: &crate::plan::Base, server: Option<&BuiltinServer>) -> Option<url::Url> {
    match (base, server) {
        (_, Some(s)) => Some(s.url.clone()),
        (crate::plan::Base::Url { url, .. }, None) => Some(url.clone()),
        _ => None,
    }
}

/// Why the built-in server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("cannot start the server process: {0}")]
    Spawn(std::io::Error),
    #[error("the server has no stdout")]
    NoStdout,
    #[error("the server did not report its address within 10 s")]
    Silent,
    #[error("unexpected first line from the server: {0:?}")]
    FirstLine(String),
    #[error("bad server address {addr}: {source}")]
    Address {
        addr: String,
        source: url::ParseError,
    },
    #[error("the server did not say where its certificate authority is")]
    NoAuthority,
    #[error("cannot read the server's certificate authority: {0}")]
    Authority(std::io::Error),
    #[error("the server did not answer /hello within 10 s")]
    NotAnswering,
}

impl BuiltinServer {
    pub fn start(tls: bool) -> Result<BuiltinServer, BuiltinError> {
        let mut cmd = Command::new(super::self_exe());
        cmd.args(["serve", "--addr", "127.0.0.1:0"])
            .args(tls.then_some("--tls"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group: a Ctrl-C in the terminal stops the runner, which then stops
            // the server, instead of the server vanishing under requests still in flight.
            .process_group(0);
        // SAFETY: `die_with_parent` only calls prctl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(super::die_with_parent);
        }
        let mut child = cmd.spawn().map_err(BuiltinError::Spawn)?;
        let mut server = BuiltinServer {
            url: url::Url::parse("http://127.0.0.1/").map_err(|source| BuiltinError::Address {
                addr: "http://127.0.0.1/".into(),
                source,
            })?,
            child: None,
            ca_pem: None,
        };
        let stdout = child.stdout.take();
        server.child = Some(child);
        let stdout = stdout.ok_or(BuiltinError::NoStdout)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = if tls { 2 } else { 1 };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut text = String::new();
            for _ in 0..lines {
                if reader.read_line(&mut text).unwrap_or(0) == 0 {
                    break;
                }
            }
            let _ = tx.send(text);
        });
        let text = rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| BuiltinError::Silent)?;
        let mut text = text.lines();
        let line = text.next().unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| BuiltinError::FirstLine(line.to_string()))?;
        server.url = url::Url::parse(addr).map_err(|source| BuiltinError::Address {
            addr: addr.to_string(),
            source,
        })?;
        if tls {
            let path = text
                .next()
                .and_then(|l| l.strip_prefix("ca-certificate "))
                .ok_or(BuiltinError::NoAuthority)?;
            server.ca_pem = Some(std::fs::read_to_string(path).map_err(BuiltinError::Authority)?);
        }
        server.wait_until_answering(tls)?;
        Ok(server)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits for `/hello` to answer; over TLS, for the port to accept (it is bound before the
    /// server says where it is, so this is quick).
    fn wait_until_answering(&self, tls: bool) -> Result<(), BuiltinError> {
        let host = self.url.host_str().unwrap_or("127.0.0.1");
        let port = self.url.port().unwrap_or(80);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let up = if tls {
                TcpStream::connect((host, port)).map(drop)
            } else {
                hello(host, port)
            };
            if up.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BuiltinError::NotAnswering);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server gracefully and reaps it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Our own child, not reaped yet, so its pid is still its own.
        if let Some(pid) = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for BuiltinServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn hello(host: &str, port: u16) -> std::io::Result<()> {
    let mut s = TcpStream::connect((host, port))?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(
        format!("GET /hello HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf)?;
    if buf.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected answer"))
    }
}
