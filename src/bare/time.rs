//! Timers for code that runs both on tokio and under `bare`'s [`block_on`](super::block_on):
//! [`sleep_until`], [`sleep`], [`timeout_at`] and [`timeout`] make tokio's timer on a runtime and
//! a deadline in the thread's `poll(2)` timeout under `bare` (the choice made when the timer is
//! made, by [`active`](super::active)).
//!
//! Input: deadlines as `std::time::Instant`. Output: futures that end at them, never before.
//! Must not: be polled on the other kind of executor than the one it was made on (a session
//! that keeps a timer across requests checks [`Sleep::fits`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A timer on tokio's clock or on this thread's `bare` executor.
pub enum Sleep {
    /// Boxed: tokio's timer is not `Unpin`, and a session keeps one across requests.
    Tokio(Pin<Box<tokio::time::Sleep>>),
    Bare(Deadline),
}

/// A `bare` timer: its deadline, and its registration while it waits.
pub struct Deadline {
    at: Instant,
    id: u64,
    registered: bool,
}

/// A timer that ends at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    if super::active() {
        Sleep::Bare(Deadline {
            at: deadline,
            id: super::timer_id(),
            registered: false,
        })
    } else {
        Sleep::Tokio(Box::pin(tokio::time::sleep_until(deadline.into())))
    }
}

/// A timer that ends `pause` from now.
pub fn sleep(pause: Duration) -> Sleep {
    sleep_until(after(pause))
}

/// `span` from now; a year from now for a span beyond what `Instant` holds.
fn after(span: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(span)
        .unwrap_or(now + Duration::from_secs(86_400 * 365))
}

impl Sleep {
    /// Sets the timer to end at `deadline` instead.
    pub fn reset(&mut self, deadline: Instant) {
        match self {
            Sleep::Tokio(s) => s.as_mut().reset(deadline.into()),
            Sleep::Bare(d) => d.at = deadline,
        }
    }

    /// Whether this timer was made for the kind of executor this thread runs now.
    pub fn fits(&self) -> bool {
        matches!(self, Sleep::Bare(_)) == super::active()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Sleep::Tokio(s) => s.as_mut().poll(cx),
            Sleep::Bare(d) => {
                if Instant::now() >= d.at {
                    if d.registered {
                        super::clear_timer(d.id);
                        d.registered = false;
                    }
                    return Poll::Ready(());
                }
                d.registered = super::set_timer(d.id, d.at, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if self.registered {
            super::clear_timer(self.id);
        }
    }
}

/// A future that did not end before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// `fut`'s output, or [`Elapsed`] when `deadline` comes first.
pub async fn timeout_at<F: Future>(deadline: Instant, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = sleep_until(deadline);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// `fut`'s output, or [`Elapsed`] when it takes longer than `limit`.
pub async fn timeout<F: Future>(limit: Duration, fut: F) -> Result<F::Output, Elapsed> {
    timeout_at(after(limit), fut).await
}
