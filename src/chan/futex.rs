//! The futex a plain OS thread sleeps on while it waits on a channel.
//!
//! One `u32` word per waiting operation, living in that operation's stack
//! frame: `WAITING` (0) while the thread may still be spinning, `SLEEPING`
//! (2) once it has announced it is about to call `FUTEX_WAIT`, `WOKEN` (1)
//! once a waker has handed it its result. The waker swaps in `WOKEN` and
//! makes the system call only if it saw `SLEEPING`, so a waiter that is woken
//! while still spinning costs the waker no system call.
//!
//! The word may be freed as soon as the waiter sees `WOKEN`, possibly before
//! the waker's `FUTEX_WAKE` runs. That is harmless: a private futex wake
//! uses the address only as a key and never dereferences it; at worst it
//! wakes some other waiter on a reused address, and every futex waiter in
//! this crate re-checks its word and sleeps again.

use crate::lock::{futex_wait_timeout, futex_wake};
use core::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

const WAITING: u32 = 0;
const WOKEN: u32 = 1;
const SLEEPING: u32 = 2;
/// Spins before sleeping: a hand-off between two running threads usually
/// lands within a few hundred cycles, far less than two system calls.
const SPIN: u32 = 128;

/// A one-shot wake-up flag for one waiting thread.
pub(crate) struct ThreadWake {
    word: AtomicU32,
}

impl ThreadWake {
    pub(crate) const fn new() -> Self {
        ThreadWake {
            word: AtomicU32::new(WAITING),
        }
    }

    /// Wakes the waiter. Called at most once per `ThreadWake`.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.word.swap(WOKEN, Ordering::Release) == SLEEPING {
            futex_wake(&self.word, 1);
        }
    }

    /// Waits until `wake` has been called, or until `deadline`; returns
    /// whether it was woken.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        for _ in 0..SPIN {
            if self.word.load(Ordering::Acquire) == WOKEN {
                return true;
            }
            core::hint::spin_loop();
        }
        loop {
            match self.word.compare_exchange(
                WAITING,
                SLEEPING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) | Err(SLEEPING) => {}
                Err(_) => return true,
            }
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return self.word.load(Ordering::Acquire) == WOKEN,
                },
            };
            futex_wait_timeout(&self.word, SLEEPING, timeout);
        }
    }
}
