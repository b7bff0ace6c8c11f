//! `connections: N`: the users of a cell (in one process) share N connections to an endpoint.
//!
//! On HTTP/1.1 a connection carries one request at a time, so a user waits for a free one. On
//! HTTP/2 a connection multiplexes: once N connections are open, users take turns sending on
//! them, as many streams at once as the server allows. The protocol is known only once the
//! first connection has negotiated it, so the pool starts the HTTP/1.1 way (N permits, each
//! for one connection) and shares a connection as soon as it turns out to speak HTTP/2.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use super::connect::Sender;

pub struct Pool {
    size: usize,
    /// One permit per connection that may exist: an HTTP/1.1 connection holds one while it
    /// carries a request, an HTTP/2 one for as long as it lives.
    permits: Semaphore,
    /// Wakes users waiting for a permit when a connection joins the shared ones instead.
    shared_changed: Notify,
    /// Open HTTP/1.1 connections waiting for a request.
    idle: Mutex<Vec<Sender>>,
    /// Open HTTP/2 connections, shared by everyone.
    shared: Mutex<Vec<Sender>>,
    next: AtomicUsize,
}

/// A connection taken from the pool: hand it back with [`Pool::give_back`].
pub struct Lease<'a> {
    /// An open connection, or `None`: open one (the permit allows it).
    pub sender: Option<Sender>,
    permit: Option<SemaphorePermit<'a>>,
}

impl Pool {
    pub fn new(size: usize) -> Pool {
        let size = size.max(1);
        Pool {
            size,
            permits: Semaphore::new(size),
            shared_changed: Notify::new(),
            idle: Mutex::new(Vec::new()),
            shared: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// The most connections this pool opens.
    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.size
    }

    /// A connection to send on: a turn on a shared HTTP/2 connection, an idle HTTP/1.1 one, or
    /// the right to open one. Waits while all connections are busy.
    pub async fn take(&self) -> Lease<'_> {
        loop {
            let changed = self.shared_changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if let Some(s) = self.shared_turn() {
                return Lease {
                    sender: Some(s),
                    permit: None,
                };
            }
            let permit = tokio::select! {
                p = self.permits.acquire() => p,
                () = changed => continue,
            };
            let Ok(permit) = permit else {
                // Never closed; should it be, open a connection outside the pool's count.
                return Lease {
                    sender: None,
                    permit: None,
                };
            };
            let sender = lock(&self.idle).pop();
            return Lease {
                sender,
                permit: Some(permit),
            };
        }
    }

    /// Returns a lease. A connection that multiplexes joins the shared ones (its permit stays
    /// taken for good, so no more than `size` connections are ever open); an HTTP/1.1 one goes
    /// back to the idle list; a closed one is dropped and its permit freed.
    pub fn give_back(&self, lease: Lease<'_>, sender: Option<Sender>) {
        let Lease { permit, .. } = lease;
        let Some(sender) = sender.filter(|s| !s.is_closed()) else {
            drop(permit);
            return;
        };
        match (sender.share(), permit) {
            // A turn on a shared connection: nothing to hand back.
            (Some(_), None) => {}
            (Some(_), Some(permit)) => {
                permit.forget();
                lock(&self.shared).push(sender);
                self.shared_changed.notify_waiters();
            }
            (None, permit) => {
                lock(&self.idle).push(sender);
                drop(permit);
            }
        }
    }

    /// A turn on a shared HTTP/2 connection, once all `size` connections are open (until then,
    /// users open more). Connections that closed are dropped, their permits freed, so that
    /// users open new ones in their place.
    fn shared_turn(&self) -> Option<Sender> {
        let mut shared = lock(&self.shared);
        let before = shared.len();
        shared.retain(|s| !s.is_closed());
        self.permits.add_permits(before - shared.len());
        if shared.len() < self.size {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % shared.len();
        shared[i].share()
    }
}

/// A lock that a panicking holder cannot poison for the others.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
