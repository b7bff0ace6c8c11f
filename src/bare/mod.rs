//! `bare`: futures driven on the calling thread, without a runtime. The `threads` host runs each
//! user thread's future here ([`block_on`]), so that a user is what the model says it is: one OS
//! thread that blocks in one `poll(2)` on its own sockets, with no runtime, no epoll instance and
//! no I/O driver of its own.
//!
//! What it holds, per thread (a thread-local "reactor", present only inside [`block_on`]):
//! the tasks spawned on it ([`spawn`]: hyper's connection tasks, HTTP/2's per-stream tasks), the
//! sockets that asked for readiness (`net.rs`: a read or write that would block registers its
//! socket and direction), and the deadlines of pending timers (`time.rs`). When nothing can make
//! progress, the thread waits in one `poll(2)` over those sockets and an eventfd, with the
//! earliest deadline as its timeout. A waker called from another thread (a stop request, the
//! start gate, the open model's arrivals: tokio's `sync` types, which need no runtime) sets the
//! task's flag and writes the eventfd only when the thread is, or is about to be, in `poll(2)`;
//! a wake on the thread itself costs no system call.
//!
//! Shared code picks its timer and socket through `time.rs` and `net.rs`, which ask [`active`]
//! whether they run here or on a tokio runtime; everything else (tokio's `sync`, `select!`,
//! `yield_now`, tokio-rustls, hyper-util's `TokioIo`) works on both unchanged.
//!
//! Input: a future. Output: its output. It must not: block anywhere but in its `poll(2)`
//! (a future that blocks the thread blocks the user), be used for work shared across threads
//! (a socket registered here is polled only by this thread), or use `unsafe` (rustix's safe
//! wrappers make the system calls).

pub mod net;
pub mod time;

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};

/// A task spawned on a thread's executor.
pub type Task = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    static REACTOR: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// Timer ids are unique in the process, so that a timer kept across two `block_on`s of one
/// thread never stands for another.
static NEXT_TIMER: AtomicU64 = AtomicU64::new(1);

/// How many times a thread went into `poll(2)`, in this process: a witness for tests that a
/// thread waited here (and not in a runtime).
static WAITS: AtomicU64 = AtomicU64::new(0);

/// How a sleeping thread is woken from elsewhere.
struct Signal {
    /// A task was woken since the executor last looked.
    notified: AtomicBool,
    /// The executor is in (or about to enter) `poll(2)`: a waker must write the eventfd.
    sleeping: AtomicBool,
    eventfd: OwnedFd,
}

impl Signal {
    fn notify(&self) {
        self.notified.store(true, SeqCst);
        // Sequentially consistent with the executor's `sleeping = true; read notified`: either it
        // sees `notified`, or this sees `sleeping` and interrupts its poll.
        if self.sleeping.load(SeqCst) {
            // A full counter (never with one write per wait) would still leave it readable.
            let _ = rustix::io::write(&self.eventfd, &1u64.to_ne_bytes());
        }
    }
}

/// One task's waker: a flag the executor polls the task on, and the thread's signal.
struct Flag {
    woken: AtomicBool,
    signal: Arc<Signal>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, SeqCst) {
            self.signal.notify();
        }
    }
}

/// A socket waiting to become readable or writable.
struct Interest {
    /// The socket itself, held so that its descriptor stays open (and is never another's) while
    /// registered; compared by address.
    socket: Arc<net::Io>,
    write: bool,
    waker: Waker,
}

struct Timer {
    id: u64,
    at: Instant,
    waker: Waker,
}

/// What a thread's executor knows between polls.
struct Reactor {
    signal: Arc<Signal>,
    interests: RefCell<Vec<Interest>>,
    timers: RefCell<Vec<Timer>>,
    spawned: RefCell<Vec<Task>>,
}

/// The reactor of this thread, when it runs under [`block_on`].
fn current() -> Option<Rc<Reactor>> {
    REACTOR.with(|r| r.borrow().clone())
}

/// Whether this thread runs under [`block_on`]: shared code then uses `bare`'s sockets and
/// timers instead of tokio's.
pub fn active() -> bool {
    REACTOR.with(|r| r.borrow().is_some())
}

/// How many times threads of this process waited in `bare`'s `poll(2)` so far.
pub fn waits() -> u64 {
    WAITS.load(SeqCst)
}

/// Runs `task` on this thread's executor beside the future of [`block_on`], until it ends or the
/// `block_on` returns (which drops it). Outside `block_on`, the task is handed back.
pub fn spawn(task: Task) -> Result<(), Task> {
    match current() {
        Some(r) => {
            r.spawned.borrow_mut().push(task);
            Ok(())
        }
        None => Err(task),
    }
}

/// Puts this thread's reactor in place, and the one it replaced back when dropped.
struct Enter {
    previous: Option<Rc<Reactor>>,
}

impl Enter {
    fn new(reactor: Rc<Reactor>) -> Enter {
        let previous = REACTOR.with(|r| r.borrow_mut().replace(reactor));
        Enter { previous }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        REACTOR.with(|r| *r.borrow_mut() = previous);
    }
}

/// A spawned task and its waker.
struct Running {
    future: Task,
    flag: Arc<Flag>,
    waker: Waker,
}

impl Running {
    fn new(future: Task, signal: &Arc<Signal>) -> Running {
        let flag = Arc::new(Flag {
            woken: AtomicBool::new(true),
            signal: Arc::clone(signal),
        });
        let waker = Waker::from(Arc::clone(&flag));
        Running {
            future,
            flag,
            waker,
        }
    }
}

/// Runs `fut` to its end on this thread, with the tasks it spawns, waiting in `poll(2)` whenever
/// none can go on. The future is boxed: it stays off the thread's (small) stack. Fails only when
/// the eventfd cannot be made or `poll(2)` fails.
pub fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    let eventfd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
    let signal = Arc::new(Signal {
        notified: AtomicBool::new(false),
        sleeping: AtomicBool::new(false),
        eventfd,
    });
    let reactor = Rc::new(Reactor {
        signal: Arc::clone(&signal),
        interests: RefCell::new(Vec::new()),
        timers: RefCell::new(Vec::new()),
        spawned: RefCell::new(Vec::new()),
    });
    let _enter = Enter::new(Rc::clone(&reactor));
    let mut root = Box::pin(fut);
    let root_flag = Arc::new(Flag {
        woken: AtomicBool::new(true),
        signal: Arc::clone(&signal),
    });
    let root_waker = Waker::from(Arc::clone(&root_flag));
    let mut tasks: Vec<Running> = Vec::new();
    let out = loop {
        signal.notified.store(false, SeqCst);
        if root_flag.woken.swap(false, SeqCst)
            && let Poll::Ready(out) = root.as_mut().poll(&mut Context::from_waker(&root_waker))
        {
            break Ok(out);
        }
        let new: Vec<Task> = std::mem::take(&mut *reactor.spawned.borrow_mut());
        tasks.extend(new.into_iter().map(|t| Running::new(t, &signal)));
        let mut i = 0;
        while i < tasks.len() {
            let t = &mut tasks[i];
            if t.flag.woken.swap(false, SeqCst)
                && t.future
                    .as_mut()
                    .poll(&mut Context::from_waker(&t.waker))
                    .is_ready()
            {
                drop(tasks.swap_remove(i));
                continue;
            }
            i += 1;
        }
        if !reactor.spawned.borrow().is_empty() || signal.notified.load(SeqCst) {
            continue;
        }
        if let Err(e) = reactor.wait() {
            break Err(e);
        }
    };
    // Dropped while the reactor is still this thread's: sockets and timers deregister.
    drop(tasks);
    drop(root);
    reactor.spawned.borrow_mut().clear();
    out
}

impl Reactor {
    /// Waits until a registered socket is ready, a timer is due or another thread wakes a task,
    /// and wakes what is due.
    fn wait(&self) -> io::Result<()> {
        let now = Instant::now();
        if self.fire(now) {
            return Ok(());
        }
        let next = self.timers.borrow().iter().map(|t| t.at).min();
        self.signal.sleeping.store(true, SeqCst);
        if self.signal.notified.load(SeqCst) {
            self.signal.sleeping.store(false, SeqCst);
            return Ok(());
        }
        let polled = {
            let interests = self.interests.borrow();
            let mut fds = Vec::with_capacity(interests.len() + 1);
            fds.push(PollFd::new(&self.signal.eventfd, PollFlags::IN));
            for i in interests.iter() {
                let flags = if i.write {
                    PollFlags::OUT
                } else {
                    PollFlags::IN
                };
                fds.push(PollFd::from_borrowed_fd(i.socket.tcp.as_fd(), flags));
            }
            // Rounded up to the microsecond: a timer never fires early (`time.rs` checks anyway).
            let timeout = next.map(|at| {
                let left = at.saturating_duration_since(now);
                let micros = left.as_nanos().div_ceil(1_000);
                Timespec {
                    tv_sec: i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX),
                    tv_nsec: i64::try_from(micros % 1_000_000).unwrap_or(0) * 1_000,
                }
            });
            WAITS.fetch_add(1, SeqCst);
            let polled = rustix::event::poll(&mut fds, timeout.as_ref());
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            polled.map(|_| ready)
        };
        self.signal.sleeping.store(false, SeqCst);
        let ready = match polled {
            Ok(ready) => ready,
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if ready.first().copied().unwrap_or(false) {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(&self.signal.eventfd, &mut count);
        }
        let mut woken = Vec::new();
        let mut index = 0;
        self.interests.borrow_mut().retain(|i| {
            index += 1;
            let ready = ready.get(index).copied().unwrap_or(false);
            if ready {
                if !i.write {
                    i.socket.readable.store(true, Relaxed);
                }
                woken.push(i.waker.clone());
            }
            !ready
        });
        woken.into_iter().for_each(Waker::wake);
        self.fire(Instant::now());
        Ok(())
    }

    /// Wakes the timers due at `now` and forgets them; whether any was.
    fn fire(&self, now: Instant) -> bool {
        let mut due = Vec::new();
        self.timers.borrow_mut().retain(|t| {
            if t.at <= now {
                due.push(t.waker.clone());
                false
            } else {
                true
            }
        });
        let any = !due.is_empty();
        due.into_iter().for_each(Waker::wake);
        any
    }
}

/// Registers `socket` to wake `waker` when it is ready for reading (or writing), replacing what
/// the same socket registered for that direction. False outside [`block_on`].
fn register(socket: &Arc<net::Io>, write: bool, waker: &Waker) -> bool {
    let Some(r) = current() else {
        return false;
    };
    let mut interests = r.interests.borrow_mut();
    match interests
        .iter_mut()
        .find(|i| i.write == write && Arc::ptr_eq(&i.socket, socket))
    {
        Some(i) => {
            if !i.waker.will_wake(waker) {
                i.waker = waker.clone();
            }
        }
        None => interests.push(Interest {
            socket: Arc::clone(socket),
            write,
            waker: waker.clone(),
        }),
    }
    true
}

/// Whether `socket` is still registered for reading (or writing): its readiness has not come.
fn waiting(socket: &Arc<net::Io>, write: bool) -> bool {
    current().is_some_and(|r| {
        r.interests
            .borrow()
            .iter()
            .any(|i| i.write == write && Arc::ptr_eq(&i.socket, socket))
    })
}

/// Forgets what `socket` registered (it is being closed).
fn deregister(socket: &Arc<net::Io>) {
    if let Some(r) = current() {
        r.interests
            .borrow_mut()
            .retain(|i| !Arc::ptr_eq(&i.socket, socket));
    }
}

/// A new timer id.
fn timer_id() -> u64 {
    NEXT_TIMER.fetch_add(1, SeqCst)
}

/// Sets timer `id` to wake `waker` at `at`. False outside [`block_on`].
fn set_timer(id: u64, at: Instant, waker: &Waker) -> bool {
    let Some(r) = current() else {
        return false;
    };
    let mut timers = r.timers.borrow_mut();
    match timers.iter_mut().find(|t| t.id == id) {
        Some(t) => {
            t.at = at;
            if !t.waker.will_wake(waker) {
                t.waker = waker.clone();
            }
        }
        None => timers.push(Timer {
            id,
            at,
            waker: waker.clone(),
        }),
    }
    true
}

/// Forgets timer `id`.
fn clear_timer(id: u64) {
    if let Some(r) = current() {
        r.timers.borrow_mut().retain(|t| t.id != id);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::*;

    #[test]
    fn a_timer_fires_at_its_deadline_not_before() {
        let began = Instant::now();
        let out = block_on(async {
            time::sleep(Duration::from_millis(30)).await;
            7
        });
        let took = began.elapsed();
        assert_eq!(out.ok(), Some(7));
        assert!(took >= Duration::from_millis(30), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn a_timeout_ends_a_future_that_does_not() {
        let out = block_on(time::timeout(
            Duration::from_millis(20),
            std::future::pending::<()>(),
        ));
        assert_eq!(out.ok(), Some(Err(time::Elapsed)));
    }

    #[test]
    fn a_wake_from_another_thread_interrupts_the_wait() {
        let notify = Arc::new(tokio::sync::Notify::new());
        let other = Arc::clone(&notify);
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.notify_one();
        });
        let began = Instant::now();
        let woke = block_on(async {
            tokio::select! {
                () = notify.notified() => true,
                () = time::sleep(Duration::from_secs(30)) => false,
            }
        });
        assert_eq!(woke.ok(), Some(true));
        assert!(began.elapsed() < Duration::from_secs(10));
        assert!(waker.join().is_ok());
    }

    #[test]
    fn a_spawned_task_runs_beside_the_future() {
        let got = block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = spawn(Box::pin(async move {
                tokio::task::yield_now().await;
                let _ = tx.send(42);
            }));
            assert!(spawned.is_ok());
            rx.await.ok()
        });
        assert_eq!(got.ok(), Some(Some(42)));
        // Outside `block_on` a task is handed back.
        assert!(spawn(Box::pin(async {})).is_err());
        assert!(!active());
    }

    #[test]
    fn a_socket_read_waits_in_poll_for_the_data() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(b"hello").expect("write");
        });
        let before = waits();
        let got = block_on(async {
            let mut s = net::Stream::connect(&addr).await?;
            assert!(matches!(s, net::Stream::Bare(_)));
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await?;
            Ok::<_, io::Error>(buf)
        });
        assert_eq!(got.ok().and_then(Result::ok), Some(*b"hello"));
        assert!(waits() > before, "the read never waited in poll(2)");
        assert!(server.join().is_ok());
    }

    #[test]
    fn a_refused_connection_fails_without_hanging() {
        // A port just freed: nothing listens there.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let out = block_on(net::Stream::connect(&addr));
        let failed = out.ok().map(|r| r.err().map(|e| e.kind()));
        assert_eq!(failed, Some(Some(io::ErrorKind::ConnectionRefused)));
    }
}
