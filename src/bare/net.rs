//! TCP for code that runs both on tokio and under `bare`'s [`block_on`](super::block_on):
//! [`Stream::connect`] opens tokio's `TcpStream` on a runtime and a [`TcpStream`] of this thread
//! under `bare`; [`lookup`] resolves a name on either. Both kinds are tokio's `AsyncRead` and
//! `AsyncWrite`, so tokio-rustls, hyper-util's `TokioIo` and tokio-tungstenite take them as they
//! are.
//!
//! A `bare` socket is non-blocking: a read or write that would block registers the socket with
//! the thread's executor and returns `Pending`, and the thread's `poll(2)` wakes it. It saves
//! the system calls that would only say "not yet": after it wrote (a request is out, its
//! response cannot be there yet) or after a read that did not fill the buffer (the socket is
//! drained), the next read waits for `poll(2)` at once instead of failing a `recv` first. (A
//! blocking read would do the same with fewer calls, but hyper's HTTP/1.1 dispatcher reads an
//! idle keep-alive connection to notice a close: a blocking read there would hang the user
//! between requests.)
//!
//! Input: addresses and names. Output: connected streams. Must not: ask the system resolver
//! on a runtime's thread (tokio's `lookup_host` moves it to a blocking thread; under `bare` the
//! user's own thread is the one that may block).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::{Context, Poll};

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The addresses of `name`, from the system resolver.
pub async fn lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if super::active() {
        Ok((name, port).to_socket_addrs()?.collect())
    } else {
        Ok(tokio::net::lookup_host((name, port)).await?.collect())
    }
}

/// A TCP connection on tokio or on this thread's `bare` executor.
pub enum Stream {
    Tokio(tokio::net::TcpStream),
    Bare(TcpStream),
}

impl Stream {
    /// Connects to `addr`, on the kind of executor this thread runs.
    pub async fn connect(addr: &SocketAddr) -> io::Result<Stream> {
        if super::active() {
            TcpStream::connect(addr).await.map(Stream::Bare)
        } else {
            tokio::net::TcpStream::connect(addr)
                .await
                .map(Stream::Tokio)
        }
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tokio(s) => s.set_nodelay(on),
            Stream::Bare(s) => s.io.tcp.set_nodelay(on),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tokio(s) => s.as_fd(),
            Stream::Bare(s) => s.io.tcp.as_fd(),
        }
    }
}

/// A non-blocking TCP socket whose readiness this thread's `poll(2)` waits for.
pub struct TcpStream {
    /// Shared with the executor's registration while it waits (`bare::register`).
    io: Arc<Io>,
    /// The next read waits for readiness first: the last call wrote, or drained the socket.
    wait_read: bool,
}

/// A socket and what `poll(2)` last said of it.
pub(super) struct Io {
    pub(super) tcp: std::net::TcpStream,
    /// `poll(2)` reported it readable since the last read: read without waiting again.
    pub(super) readable: AtomicBool,
}

impl TcpStream {
    /// Connects without blocking the thread: the connection's progress is a readiness to
    /// write, like any other wait, so a request's deadline and a stop request still interrupt it.
    pub async fn connect(addr: &SocketAddr) -> io::Result<TcpStream> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let fd = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        // Made first: dropped (a deadline, a stop) while it waits, it deregisters.
        let stream = TcpStream {
            io: Arc::new(Io {
                tcp: std::net::TcpStream::from(fd),
                readable: AtomicBool::new(false),
            }),
            wait_read: false,
        };
        match rustix::net::connect(&stream.io.tcp, addr) {
            Ok(()) => {}
            Err(rustix::io::Errno::INPROGRESS) => {
                let mut asked = false;
                std::future::poll_fn(|cx| {
                    // Its registration is gone once it fired: the socket is writable.
                    if asked && !super::waiting(&stream.io, true) {
                        return Poll::Ready(());
                    }
                    asked = super::register(&stream.io, true, cx.waker());
                    if asked {
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
                // Writable: the connection is made, or failed with its error.
                rustix::net::sockopt::socket_error(&stream.io.tcp)??;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(stream)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        super::deregister(&self.io);
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Read at once when `poll(2)` said so; else, when it has not said so yet (still
        // registered) or the last call makes data unlikely (`wait_read`), wait for it to.
        if !this.io.readable.swap(false, Relaxed)
            && (this.wait_read || super::waiting(&this.io, false))
            && super::register(&this.io, false, cx.waker())
        {
            this.wait_read = false;
            return Poll::Pending;
        }
        this.wait_read = false;
        let room = buf.initialize_unfilled();
        let asked = room.len();
        match (&this.io.tcp).read(room) {
            Ok(n) => {
                buf.advance(n);
                // Short of what was asked: the socket is drained.
                this.wait_read = n > 0 && n < asked;
                Poll::Ready(Ok(()))
            }
            Err(e) => this.unfinished(false, cx, e),
        }
    }
}

impl TcpStream {
    /// A read (`write` false) or write that did not go through: `WouldBlock` waits for `poll(2)`
    /// to report the socket ready that way, `Interrupted` is tried again at the next poll, any
    /// other error is the call's.
    fn unfinished<T>(&self, write: bool, cx: &Context<'_>, e: io::Error) -> Poll<io::Result<T>> {
        match e.kind() {
            io::ErrorKind::WouldBlock => {
                super::register(&self.io, write, cx.waker());
                Poll::Pending
            }
            io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            _ => Poll::Ready(Err(e)),
        }
    }

    /// A write's outcome: after data went out, the next read waits for the answer first.
    fn wrote(&mut self, cx: &Context<'_>, out: io::Result<usize>) -> Poll<io::Result<usize>> {
        match out {
            Ok(n) => {
                self.wait_read = n > 0;
                Poll::Ready(Ok(n))
            }
            Err(e) => self.unfinished(true, cx, e),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let out = (&this.io.tcp).write(buf);
        this.wrote(cx, out)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let out = (&this.io.tcp).write_vectored(bufs);
        this.wrote(cx, out)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(match self.io.tcp.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            out => out,
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Bare(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Bare(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Bare(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tokio(s) => s.is_write_vectored(),
            Stream::Bare(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_flush(cx),
            Stream::Bare(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tokio(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Bare(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
