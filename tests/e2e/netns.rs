//! Connection phases over a path with a known round trip. Two network namespaces of the test's
//! own, joined by a veth pair; every packet into or out of the server's side is held `HOLD` in
//! user space (a netfilter queue read by this binary: this kernel has no netem), so the round
//! trip is `2 × HOLD`; a real nginx answers in the server namespace, loadplan runs in the client
//! one. With keep-alive no request may carry its connection's TCP handshake: the longest request
//! stays under 1.5 round trips while the connect phase reads one. A new connection per request
//! costs two.
//!
//! Needs root, `ip` (iproute2), `iptables` with the NFQUEUE target, and nginx: without one it
//! fails saying which, it never skips. Everything it creates is named after the test process
//! (namespaces, links) or lives inside those namespaces (addresses, iptables rules, the queue),
//! and is removed when the test ends, passed or failed.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::util::{self, NginxServer, u};

/// Added to every packet's way across, in each direction: the round trip is twice this. Large
/// beside the milliseconds a busy machine's scheduler can add, since the checks are in round
/// trips (a 1.5-round-trip bound leaves 50 ms for them).
const HOLD: Duration = Duration::from_millis(50);
/// A private /30 of the test's own; it exists only inside its two namespaces.
const CLIENT_CIDR: &str = "10.213.0.1/30";
const SERVER_CIDR: &str = "10.213.0.2/30";
const SERVER_IP: &str = "10.213.0.2";
/// Netfilter queues are per namespace: this number is the server namespace's alone.
const QUEUE: u16 = 0;

/// Runs a setup command line (words split at spaces); the test needs it to succeed.
fn must(line: &str) -> String {
    let (program, args) = split(line);
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{line}` did not start: {e}"));
    assert!(
        out.status.success(),
        "`{line}`: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a clean-up command line, saying (not failing) when it does not succeed.
fn tidy(line: &str) {
    let (program, args) = split(line);
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "clean-up `{line}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("clean-up `{line}`: {e}"),
    }
}

fn split(line: &str) -> (&str, Vec<&str>) {
    let mut words = line.split_whitespace();
    (words.next().expect("a program"), words.collect())
}

/// Fails, naming what to install, unless this can run here.
fn check_prerequisites() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the netns test makes network namespaces and needs root (CI runs as root)"
    );
    for (tool, package) in [("ip", "iproute2"), ("iptables", "iptables")] {
        let found = Command::new(tool)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is missing: .ci/run installs it (apt-get install {package})"
        );
    }
    util::nginx_binary();
}

/// Moves the calling thread into the namespace `ns` refers to.
fn setns(ns: &impl std::os::fd::AsFd) -> io::Result<()> {
    use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).map_err(Into::into)
}

/// A network namespace of the test's own (`ip netns add`). When dropped, whatever still runs in
/// it is killed by pid and the namespace deleted, taking its links, addresses and rules along.
pub(super) struct Netns {
    name: String,
    file: File,
}

impl Netns {
    pub(super) fn add(name: String) -> Netns {
        must(&format!("ip netns add {name}"));
        match File::open(format!("/run/netns/{name}")) {
            Ok(file) => Netns { name, file },
            Err(e) => {
                tidy(&format!("ip netns del {name}"));
                panic!("open /run/netns/{name}: {e}");
            }
        }
    }

    /// Runs `f` on a thread of its own inside this namespace (the test's threads stay out).
    pub(super) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(&self.file).expect("enter the namespace");
                f()
            })
            .join()
            .expect("a thread in the namespace")
        })
    }

    /// Makes `cmd` start inside this namespace. The namespace must outlive the spawn.
    pub(super) fn enter(&self, cmd: &mut Command) {
        let fd = self.file.as_raw_fd();
        // SAFETY: between fork and exec the child only calls setns(2), which allocates nothing;
        // `fd` is still open there (the parent holds it until after the spawn).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// `ip netns exec NAME LINE`, which must succeed.
    pub(super) fn exec(&self, line: &str) -> String {
        must(&format!("ip netns exec {} {line}", self.name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only processes this test started live here (nginx and its worker): kill any left.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .filter(|&pid| u32::try_from(pid).ok() != Some(std::process::id()))
            {
                // A process in our own namespace, by its pid.
                let _ = util::kill(pid, libc::SIGKILL);
            }
        }
        tidy(&format!("ip netns del {}", self.name));
    }
}

/// The two namespaces and the veth pair between them, addressed and up, with TCP autocorking
/// off on the server side (else nginx's body waits for the ACK of its headers: one more delay).
struct Testbed {
    // Dropped in this order: the server side (its rules and the link with it), then the client.
    server: Netns,
    client: Netns,
    server_link: String,
}

impl Testbed {
    fn new() -> Testbed {
        let pid = std::process::id();
        let server = Netns::add(format!("loadplan-server-{pid}"));
        let client = Netns::add(format!("loadplan-client-{pid}"));
        let (client_link, server_link) = (format!("lpc{pid}"), format!("lps{pid}"));
        must(&format!(
            "ip link add {client_link} netns {} type veth peer name {server_link} netns {}",
            client.name, server.name
        ));
        for (ns, link, cidr) in [
            (&client, &client_link, CLIENT_CIDR),
            (&server, &server_link, SERVER_CIDR),
        ] {
            let ip = format!("ip -n {}", ns.name);
            must(&format!("{ip} addr add {cidr} dev {link}"));
            must(&format!("{ip} link set {link} up"));
            must(&format!("{ip} link set lo up"));
        }
        server
            .run(|| std::fs::write("/proc/sys/net/ipv4/tcp_autocorking", "0"))
            .expect("turn tcp_autocorking off in the server namespace");
        let corking = server.exec("cat /proc/sys/net/ipv4/tcp_autocorking");
        assert_eq!(
            corking.trim(),
            "0",
            "tcp_autocorking in the server namespace"
        );
        Testbed {
            server,
            client,
            server_link,
        }
    }

    /// Sends every packet into or out of the server namespace's link through the queue. Only
    /// once a reader is bound: a queue without one drops what it gets.
    fn queue_everything(&self, _reader: &Delayer) {
        for (chain, way) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            self.server.exec(&format!(
                "iptables -w 5 -A {chain} {way} {} -j NFQUEUE --queue-num {QUEUE}",
                self.server_link
            ));
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Deleting the namespaces removes these too; said explicitly so that nothing outlives
        // the test even if a namespace were held open.
        let ns = &self.server.name;
        tidy(&format!("ip netns exec {ns} iptables -w 5 -F"));
        tidy(&format!("ip -n {ns} link del {}", self.server_link));
    }
}

/// How late the delayer let packets go, past their `HOLD`.
struct Lateness {
    packets: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Lateness {
    fn of(mut late: Vec<Duration>) -> Lateness {
        late.sort_unstable();
        let at = |q: f64| {
            let rank = (late.len() as f64 * q).ceil() as usize;
            late.get(rank.saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Lateness {
            packets: late.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: late.last().copied().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Lateness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} packets held, released late by p50 {:?}, p99 {:?}, max {:?}",
            self.packets, self.p50, self.p99, self.max
        )
    }
}

/// A thread in the server namespace that reads the queue and accepts each packet `hold` after
/// it arrived, in arrival order. Stopped (and joined) when dropped.
struct Delayer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<Vec<Duration>>>>,
}

impl Delayer {
    fn start(ns: &Netns, hold: Duration) -> Delayer {
        let file = ns.file.try_clone().expect("the namespace file");
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, bound) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("delayer".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    let queue = setns(&file).and_then(|()| {
                        punctual();
                        NfQueue::bind(QUEUE)
                    });
                    let _ = ready.send(queue.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                    queue?.hold_and_accept(hold, &stop)
                }
            })
            .expect("start the delayer thread");
        let delayer = Delayer {
            stop,
            thread: Some(thread),
        };
        match bound.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => delayer,
            Ok(Err(e)) => panic!(
                "cannot read netfilter queue {QUEUE} in the server namespace ({e}): the kernel \
                 needs nfnetlink_queue built in or loaded"
            ),
            Err(e) => panic!("the delayer did not bind its queue: {e}"),
        }
    }

    /// Stops the thread; how late it released each packet.
    fn finish(mut self) -> Lateness {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("not finished yet");
        let late = thread
            .join()
            .expect("the delayer thread")
            .unwrap_or_else(|e| panic!("the delayer failed: {e}"));
        Lateness::of(late)
    }
}

impl Drop for Delayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes `cmd` run at nice -10: ahead of builds and other tests busy on both cores, whose
/// scheduling delays would otherwise add milliseconds to the phases measured here.
fn ahead_of_builds(cmd: &mut Command) {
    // SAFETY: setpriority(2) on the child itself, between fork and exec; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setpriority(libc::PRIO_PROCESS, 0, -10) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes the calling thread wake on time: timer slack of 1 ns and, where allowed, a real-time
/// priority, so that builds busy on both cores do not stretch the hold (it sleeps nearly always).
fn punctual() {
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    // SAFETY: sched_setscheduler (which rustix lacks) changes only the calling thread's
    // scheduling policy, and reads `param` only during the call.
    unsafe {
        let param = libc::sched_param { sched_priority: 10 };
        if libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) != 0 {
            eprintln!(
                "delayer: no real-time priority ({}); timing may suffer on a busy machine",
                io::Error::last_os_error()
            );
        }
    }
}

/// A netfilter queue read over netlink by hand (a few messages of `nfnetlink_queue`): bind it,
/// copy only each packet's metadata, accept packets by id. The `nfq` crate hides its socket, so
/// it cannot wait for "the next packet or the next release, whichever comes first".
struct NfQueue {
    fd: OwnedFd,
    queue: u16,
    buf: Vec<u8>,
}

/// One netlink attribute: length, type, payload, padded to four bytes.
fn attr(kind: libc::c_int, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut a = Vec::with_capacity(len.next_multiple_of(4));
    a.extend((len as u16).to_ne_bytes());
    a.extend((kind as u16).to_ne_bytes());
    a.extend(payload);
    a.resize(len.next_multiple_of(4), 0);
    a
}

/// Wait at most this long between looks at the stop flag.
const IDLE: Duration = Duration::from_millis(20);

impl NfQueue {
    fn bind(queue: u16) -> io::Result<NfQueue> {
        // SAFETY: plain socket(2); the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and belongs to no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_nl is valid: the kernel picks our port id.
        let mut local: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        local.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `local` is a sockaddr_nl of the size given.
        let bound = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const local).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut q = NfQueue {
            fd,
            queue,
            buf: vec![0; 65536],
        };
        // Bind the queue (command, padding, protocol family: any), then ask for metadata only
        // (copy range 0, big-endian, then the copy mode).
        let command = [libc::NFQNL_CFG_CMD_BIND as u8, 0, 0, 0];
        q.configure(&attr(libc::NFQA_CFG_CMD, &command))?;
        let params = [0, 0, 0, 0, libc::NFQNL_COPY_META as u8];
        q.configure(&attr(libc::NFQA_CFG_PARAMS, &params))?;
        Ok(q)
    }

    /// A netlink message to the queue subsystem: header, nfgenmsg (family, version, the queue
    /// number big-endian), then the attributes.
    fn message(&self, kind: libc::c_int, flags: libc::c_int, attrs: &[u8]) -> Vec<u8> {
        let len = 16 + 4 + attrs.len();
        let mut m = Vec::with_capacity(len);
        m.extend((len as u32).to_ne_bytes());
        m.extend((((libc::NFNL_SUBSYS_QUEUE << 8) | kind) as u16).to_ne_bytes());
        m.extend((flags as u16).to_ne_bytes());
        m.extend([0; 8]); // sequence number, and port id 0: the kernel
        m.extend([libc::AF_UNSPEC as u8, libc::NFNETLINK_V0 as u8]);
        m.extend(self.queue.to_be_bytes());
        m.extend(attrs);
        m
    }

    fn send(&self, m: &[u8]) -> io::Result<()> {
        // SAFETY: `m` is a live buffer of the length given.
        let sent = unsafe { libc::send(self.fd.as_raw_fd(), m.as_ptr().cast(), m.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends a configuration message and waits for the kernel's acknowledgement.
    fn configure(&mut self, attrs: &[u8]) -> io::Result<()> {
        let flags = libc::NLM_F_REQUEST | libc::NLM_F_ACK;
        self.send(&self.message(libc::NFQNL_MSG_CONFIG, flags, attrs))?;
        if !self.readable(Duration::from_secs(2))? {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer to a queue configuration",
            ));
        }
        // An acknowledgement is an error message with error 0, which `receive` passes over.
        let packets = self.receive()?;
        assert!(packets.is_empty(), "packets before the rules exist");
        Ok(())
    }

    /// Waits up to `wait` for something to read.
    fn readable(&self, wait: Duration) -> io::Result<bool> {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let n = unsafe { libc::ppoll(&mut poll, 1, &timeout, std::ptr::null()) };
        match n {
            0 => Ok(false),
            n if n > 0 => Ok(true),
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => Ok(false),
                e => Err(e),
            },
        }
    }

    /// Reads every message waiting, without blocking: the ids of the packets queued, in order.
    /// An error message from the kernel (other than an acknowledgement) is an error.
    fn receive(&mut self) -> io::Result<Vec<[u8; 4]>> {
        let packet = (libc::NFNL_SUBSYS_QUEUE << 8) | libc::NFQNL_MSG_PACKET;
        let mut ids = Vec::new();
        loop {
            // SAFETY: `buf` is a live buffer of the length given.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    return Ok(ids);
                }
                return Err(e);
            };
            let mut rest = &self.buf[..n];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                let kind = libc::c_int::from(u16::from_ne_bytes([rest[4], rest[5]]));
                if len < 16 || len > rest.len() {
                    return Err(io::Error::other(format!(
                        "a netlink message of {len} bytes"
                    )));
                }
                let body = &rest[16..len];
                if kind == libc::NLMSG_ERROR && body.len() >= 4 {
                    let errno = i32::from_ne_bytes(body[0..4].try_into().expect("4 bytes"));
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                } else if kind == packet {
                    ids.push(packet_id(body)?);
                }
                rest = &rest[len.next_multiple_of(4).min(rest.len())..];
            }
        }
    }

    fn accept(&self, id: [u8; 4]) -> io::Result<()> {
        let mut verdict = (libc::NF_ACCEPT as u32).to_be_bytes().to_vec();
        verdict.extend(id);
        let attrs = attr(libc::NFQA_VERDICT_HDR, &verdict);
        self.send(&self.message(libc::NFQNL_MSG_VERDICT, libc::NLM_F_REQUEST, &attrs))
    }

    /// Until `stop`: accepts each packet `hold` after it was read, oldest first; returns how
    /// late past that each one went. Whatever is still held at the stop is dropped with the
    /// socket (nothing is sent by then).
    fn hold_and_accept(mut self, hold: Duration, stop: &AtomicBool) -> io::Result<Vec<Duration>> {
        let mut held: VecDeque<([u8; 4], Instant)> = VecDeque::new();
        let mut late = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            while let Some(&(id, due)) = held.front() {
                let now = Instant::now();
                if due > now {
                    break;
                }
                self.accept(id)?;
                late.push(now - due);
                held.pop_front();
            }
            let wait = held.front().map_or(IDLE, |&(_, due)| {
                due.saturating_duration_since(Instant::now())
            });
            if self.readable(wait.min(IDLE))? {
                let arrived = Instant::now();
                held.extend(self.receive()?.into_iter().map(|id| (id, arrived + hold)));
            }
        }
        Ok(late)
    }
}

/// The packet id from a queued packet's `NFQA_PACKET_HDR` (big-endian id, protocol, hook),
/// past the 4-byte nfgenmsg.
fn packet_id(body: &[u8]) -> io::Result<[u8; 4]> {
    let mut attrs = body.get(4..).unwrap_or_default();
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = libc::c_int::from(u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff);
        if len < 4 || len > attrs.len() {
            break;
        }
        if kind == libc::NFQA_PACKET_HDR && len >= 8 {
            return Ok(attrs[4..8].try_into().expect("4 bytes"));
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Err(io::Error::other("a queued packet without its header"))
}

/// TCP connect times from the client namespace to `addr`, one after another, sorted. The
/// thread runs at nice -10 like loadplan, for the same reason.
fn connect_times(client: &Netns, addr: SocketAddr, n: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = client.run(|| {
        // SAFETY: gettid and setpriority on the calling thread only.
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, -10);
        }
        (0..n)
            .map(|_| {
                let began = Instant::now();
                let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("connect to {addr} through the delay: {e}"));
                let took = began.elapsed();
                drop(stream);
                took
            })
            .collect()
    });
    times.sort_unstable();
    times
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

#[test]
fn connect_phase_reads_one_round_trip_and_keep_alive_requests_carry_none() {
    check_prerequisites();
    let began = Instant::now();
    let bed = Testbed::new();
    let delayer = Delayer::start(&bed.server, HOLD);
    bed.queue_everything(&delayer);

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let addr: SocketAddr = format!("{SERVER_IP}:80").parse().expect("an address");
    let reachable = || {
        bed.client
            .run(|| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
    };
    let nginx = NginxServer::start(
        d,
        &format!("    listen {SERVER_IP}:80;"),
        |cmd| {
            bed.server.enter(cmd);
            ahead_of_builds(cmd);
        },
        reachable,
    );

    // The round trip this path really has, before loadplan measures it: the fastest of a few
    // connects (a busy machine only ever adds to a round trip).
    let connects = connect_times(&bed.client, addr, 7);
    let rtt = connects[0];
    let nominal = 2 * HOLD;
    if Command::new("ping").arg("-V").output().is_ok() {
        let ping = bed
            .client
            .exec(&format!("ping -n -q -c 3 -i 0.2 {SERVER_IP}"));
        eprintln!("ping (a diagnostic only): {}", ping.trim());
    }
    assert!(
        rtt >= nominal && rtt < nominal + Duration::from_millis(4),
        "TCP connect through the delay took {connects:?}, not about {nominal:?}: the delayer is off"
    );

    let plan = util::write_plan(
        d,
        "netns.yaml",
        &format!(
            "version: 1\nname: netns-phases\nbase: http://{SERVER_IP}\ndefaults: {{ timeout: 5s }}\n\
             scenarios:\n  - name: keep-alive\n    targets: [/]\n    repeat: 40\n    models: [async, threads]\n    concurrency: 4\n\
             \x20 - name: per-request\n    targets: [/]\n    connection: per-request\n    repeat: 20\n    models: [async]\n    concurrency: 4\n"
        ),
    );
    let out = d.join("out");
    let o = util::loadplan_with(
        d,
        &["run", util::path_str(&plan), "--out", util::path_str(&out)],
        Duration::from_secs(20),
        |cmd| {
            bed.client.enter(cmd);
            ahead_of_builds(cmd);
        },
    );
    let requests = nginx.protocols().len();
    drop(nginx);
    let lateness = delayer.finish();
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "netns-phases");

    // What the run said, for the log and for every failure below.
    let rtt_us = rtt.as_micros() as f64;
    let nominal_us = nominal.as_micros() as f64;
    let mut said = format!(
        "round trip: TCP connect {rtt:?} at best (all {connects:?}), nominal {nominal:?}; delayer: {lateness}; nginx saw {requests} requests\n"
    );
    for (scenario, model) in [
        ("keep-alive", "async"),
        ("keep-alive", "threads"),
        ("per-request", "async"),
    ] {
        let c = util::cell(&s, scenario, model);
        let (conns, lat) = (&c["connections"], &c["latency_us"]);
        said += &format!(
            "{scenario}/{model}: {} operations, {} connections, connect min {} p50 {} max {}, request p50 {} max {}, errors {}\n",
            c["operations"],
            conns["opened"],
            ms(u(&conns["connect_us"]["min"])),
            ms(u(&conns["connect_us"]["p50"])),
            ms(u(&conns["connect_us"]["max"])),
            ms(u(&lat["p50"])),
            ms(u(&lat["max"])),
            c["errors"],
        );
    }
    eprintln!("{said}");

    let error_free = |c: &serde_json::Value| {
        let errors = c["errors"].as_object().expect("errors");
        errors.values().all(|n| u(n) == 0)
    };
    let connect_reads_one_round_trip = |c: &serde_json::Value, base: f64| {
        let connect = &c["connections"]["connect_us"];
        (0.8 * base..=1.3 * base).contains(&(u(&connect["p50"]) as f64))
            && u(&connect["min"]) as f64 >= 0.9 * base
    };
    for model in ["async", "threads"] {
        let c = util::cell(&s, "keep-alive", model);
        let (conns, lat) = (&c["connections"], &c["latency_us"]);
        assert!(error_free(c), "{model}: errors\n{said}");
        assert_eq!(u(&c["operations"]), 40, "{said}");
        assert_eq!(u(&conns["opened"]), u(&c["concurrency"]), "{said}");
        let count = u(&conns["connect_us"]["count"]);
        assert_eq!(count, u(&conns["opened"]), "{said}");
        // Every request crossed the path (HdrHistogram may read up to 64 µs low here).
        assert!(
            u(&lat["min"]) as f64 >= 0.99 * nominal_us,
            "{model}: a request faster than a round trip: is the path delayed?\n{said}"
        );
        for base in [rtt_us, nominal_us] {
            assert!(
                connect_reads_one_round_trip(c, base),
                "{model}: the connect phase is not one round trip ({base} µs)\n{said}"
            );
            assert!(
                (u(&lat["max"]) as f64) < 1.5 * base,
                "{model}: a keep-alive request took 1.5 round trips ({base} µs): setup folded in?\n{said}"
            );
        }
    }

    // The contrast: a connection per request pays its handshake inside every operation.
    let c = util::cell(&s, "per-request", "async");
    assert!(error_free(c), "per-request: errors\n{said}");
    let opened = u(&c["connections"]["opened"]);
    assert_eq!(opened, u(&c["operations"]), "{said}");
    assert!(
        connect_reads_one_round_trip(c, rtt_us) && connect_reads_one_round_trip(c, nominal_us),
        "per-request: the connect phase is not one round trip\n{said}"
    );
    let p50 = u(&c["latency_us"]["p50"]) as f64;
    assert!(
        p50 >= 2.0 * nominal_us && p50 >= 1.9 * rtt_us,
        "per-request p50 is not connect + request (two round trips)\n{said}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "took {:?}",
        began.elapsed()
    );
}
