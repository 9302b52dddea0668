//! Goroutine-aware `Mutex`, `WaitGroup` and `Once` (Go's sync package): a
//! goroutine that must wait parks (its thread runs other goroutines); a
//! plain thread sleeps on a futex.
//!
//! `Mutex` is a three-state word (0 free, 1 held, 2 held with possible
//! waiters) over a `Sema`: a locker that finds it held swaps in 2 and waits
//! on the semaphore; an unlock that swaps out 2 releases one unit. A waker's
//! unit is never lost (the semaphore counts), and a spurious unit only costs
//! the next contender one more look at the word.

use super::sema::{park, wake, Sema, WaitQueue, Waiter};
use crate::lock;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

const SPIN: u32 = 32;

/// A mutual-exclusion lock whose waiters are parked goroutines.
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    sema: Sema,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises access to `data`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: the lock owns its data.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    pub const fn new(data: T) -> Mutex<T> {
        Mutex {
            state: AtomicU32::new(0),
            sema: Sema::new(),
            data: UnsafeCell::new(data),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, parking the goroutine (or the thread) while it is held.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard {
            m: self,
            _marker: core::marker::PhantomData,
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard {
                m: self,
                _marker: core::marker::PhantomData,
            })
    }

    #[cold]
    fn lock_slow(&self) {
        for _ in 0..SPIN {
            if self.state.load(Ordering::Relaxed) == 0
                && self
                    .state
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        while self.state.swap(2, Ordering::Acquire) != 0 {
            self.sema.acquire();
        }
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// Holds a `Mutex`; unlocks when dropped. It may move to another thread
/// with its goroutine (it names no thread); sharing it shares `&T`, so it
/// is `Sync` only for `T: Sync` (the marker).
pub struct MutexGuard<'a, T: ?Sized> {
    m: &'a Mutex<T>,
    _marker: core::marker::PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.m.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.m.state.swap(0, Ordering::Release) == 2 {
            self.m.sema.release();
        }
    }
}

/// Waits for a collection of goroutines to finish (Go's sync.WaitGroup).
pub struct WaitGroup {
    count: AtomicI64,
    waiters: lock::Mutex<WaitQueue<()>>,
}

impl Default for WaitGroup {
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl WaitGroup {
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: AtomicI64::new(0),
            waiters: lock::Mutex::new(WaitQueue::new(())),
        }
    }

    /// Adds `n` (may be negative) to the counter; at zero, wakes every waiter.
    /// Panics if the counter goes negative.
    pub fn add(&self, n: i64) {
        let v = self.count.fetch_add(n, Ordering::AcqRel) + n;
        assert!(v >= 0, "goheap: WaitGroup::add: negative counter");
        if v == 0 {
            let all = self.waiters.lock().take_all();
            for w in all {
                // SAFETY: unlinked under the lock; each waiter is parked.
                unsafe { wake(w) };
            }
        }
    }

    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero.
    pub fn wait(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut q = self.waiters.lock();
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let w = Waiter::new();
        q.push(&w);
        park(&w, q);
    }
}

/// Runs a closure once (Go's sync.Once); other callers wait for it.
pub struct Once {
    done: AtomicBool,
    m: Mutex<()>,
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl Once {
    pub const fn new() -> Once {
        Once {
            done: AtomicBool::new(false),
            m: Mutex::new(()),
        }
    }

    /// Runs `f` if no call has run yet; returns after the first call finished.
    pub fn call_once(&self, f: impl FnOnce()) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let _g = self.m.lock();
        if !self.done.load(Ordering::Acquire) {
            f();
            self.done.store(true, Ordering::Release);
        }
    }

    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}
