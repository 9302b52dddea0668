//! Wait queues for goroutines and plain threads (Go's sema.go).
//!
//! A `Waiter` lives on the stack of whoever waits: a goroutine (it parks
//! with `gopark`) or a plain thread (it sleeps on the waiter's futex word).
//! The waiter is put in some queue under that queue's lock, then `park`
//! releases the lock: for a goroutine inside the park's commit (after it is
//! WAITING), for a thread before sleeping on the word. A waker takes the
//! lock, unlinks the waiter, releases the lock and calls `wake`: so a waiter
//! is woken only once, by the one who unlinked it, and never before it was
//! queued. `wake` touches the waiter's memory only before the write that
//! lets the waiter go.
//!
//! `Sema` is a counting semaphore built on that: Go's semacquire/semrelease.

use super::proc::{self, GRef};
use crate::lock::{Mutex, MutexGuard};
use core::sync::atomic::{AtomicU32, Ordering};
use std::collections::VecDeque;

pub(crate) struct Waiter {
    g: Option<GRef>,
    woken: AtomicU32,
}

impl Waiter {
    /// A waiter for the calling goroutine or thread.
    pub(crate) fn new() -> Waiter {
        Waiter {
            g: proc::current_g(),
            woken: AtomicU32::new(0),
        }
    }
}

/// Releases `guard` and waits until `wake(w)`; `w` is queued under `guard`.
pub(crate) fn park<T>(w: &Waiter, guard: MutexGuard<'_, T>) {
    if w.g.is_some() {
        let mut guard = Some(guard);
        proc::gopark(&mut || {
            drop(guard.take());
            true
        });
        return;
    }
    drop(guard);
    while w.woken.load(Ordering::Acquire) == 0 {
        crate::lock::futex_wait(&w.woken, 0);
    }
}

/// Wakes a waiter that the caller unlinked from its queue.
///
/// # Safety
/// `w` points to a parked waiter that only the caller unlinked.
pub(crate) unsafe fn wake(w: *const Waiter) {
    // SAFETY: the waiter stays put until woken (caller's contract).
    match unsafe { (*w).g } {
        Some(g) => proc::goready(g, false),
        None => {
            // SAFETY: as above; after the store the waiter may return, and
            // the futex wake then only names an address (spurious at worst).
            let word = unsafe { (*w).woken.as_ptr() };
            unsafe { (*w).woken.store(1, Ordering::Release) };
            crate::lock::futex_wake_addr(word, 1);
        }
    }
}

/// A queue of waiters under a lock.
pub(crate) struct WaitQueue<T> {
    pub(crate) data: T,
    waiters: VecDeque<*const Waiter>,
}

// SAFETY: the waiter pointers are only followed under the protocol above.
unsafe impl<T: Send> Send for WaitQueue<T> {}

impl<T> WaitQueue<T> {
    pub(crate) const fn new(data: T) -> WaitQueue<T> {
        WaitQueue {
            data,
            waiters: VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, w: &Waiter) {
        self.waiters.push_back(w);
    }

    pub(crate) fn pop(&mut self) -> Option<*const Waiter> {
        self.waiters.pop_front()
    }

    pub(crate) fn take_all(&mut self) -> VecDeque<*const Waiter> {
        core::mem::take(&mut self.waiters)
    }
}

/// A counting semaphore whose waiters are goroutines or threads.
pub(crate) struct Sema {
    q: Mutex<WaitQueue<u32>>,
}

impl Sema {
    pub(crate) const fn new() -> Sema {
        Sema {
            q: Mutex::new(WaitQueue::new(0)),
        }
    }

    /// Takes one unit, waiting for one if there is none.
    pub(crate) fn acquire(&self) {
        let mut q = self.q.lock();
        if q.data > 0 {
            q.data -= 1;
            return;
        }
        let w = Waiter::new();
        q.push(&w);
        park(&w, q);
    }

    /// Gives one unit: to the first waiter, or to the count.
    pub(crate) fn release(&self) {
        let mut q = self.q.lock();
        match q.pop() {
            Some(w) => {
                drop(q);
                // SAFETY: we unlinked w under the lock; it is parked.
                unsafe { wake(w) };
            }
            None => q.data += 1,
        }
    }
}
