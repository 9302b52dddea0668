//! `Mutex`: the runtime's own lock, as in Go's lock_futex.go.
//!
//! A word with three states: 0 unlocked, 1 locked, 2 locked with (possible)
//! sleepers. Locking tries a compare-and-swap 0→1, spins a little (a holder on
//! the other core usually lets go within a few hundred cycles), then marks
//! the word 2 and sleeps in `futex(FUTEX_WAIT)`. Unlocking swaps in 0 and wakes
//! one sleeper if the word was 2. Nothing allocates, so the lock can guard the
//! allocator's own data.
//!
//! `fork()` copies the word but not the threads that hold it: `lock_for_fork`
//! and `unlock_after_fork` let `malloc`'s `pthread_atfork` handlers take every
//! allocator lock before the fork and release them in parent and child.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const SLEEPING: u32 = 2;
const SPIN: u32 = 64;

/// A futex-based mutual-exclusion lock guarding a `T`.
pub struct Mutex<T> {
    key: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `key`.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: the lock owns its data.
unsafe impl<T: Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    pub const fn new(data: T) -> Self {
        Mutex {
            key: AtomicU32::new(UNLOCKED),
            data: UnsafeCell::new(data),
        }
    }

    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.acquire();
        MutexGuard { lock: self }
    }

    #[inline]
    fn acquire(&self) {
        if self
            .key
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.acquire_slow();
        }
    }

    #[cold]
    fn acquire_slow(&self) {
        for _ in 0..SPIN {
            if self.key.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .key
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        while self.key.swap(SLEEPING, Ordering::Acquire) != UNLOCKED {
            futex_wait(&self.key, SLEEPING);
        }
    }

    #[inline]
    fn release(&self) {
        if self.key.swap(UNLOCKED, Ordering::Release) == SLEEPING {
            futex_wake(&self.key, 1);
        }
    }

    /// Takes the lock and keeps it past this call (for `pthread_atfork`).
    pub fn lock_for_fork(&self) {
        self.acquire();
    }

    /// Releases a lock taken by `lock_for_fork`, in the parent (waking any
    /// thread that queued up meanwhile) or the child.
    ///
    /// # Safety
    /// The caller took the lock with `lock_for_fork` before the fork.
    pub unsafe fn unlock_after_fork(&self) {
        self.release();
    }

    /// The guarded data, for a holder that took the lock with
    /// `lock_for_fork` (no guard); dereferencing it needs the lock held.
    pub(crate) fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

/// Sleeps while `*key == val` (or until woken; spurious returns happen).
pub(crate) fn futex_wait(key: &AtomicU32, val: u32) {
    futex_wait_timeout(key, val, None);
}

/// `futex_wait` for at most `timeout` (relative), when there is one.
pub(crate) fn futex_wait_timeout(key: &AtomicU32, val: u32, timeout: Option<core::time::Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT on a live, aligned u32; the timeout, if any, is a
    // live relative timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            key.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
        )
    };
}

/// Wakes up to `n` sleepers on `key`.
pub(crate) fn futex_wake(key: &AtomicU32, n: i32) {
    futex_wake_addr(key.as_ptr(), n);
}

/// `futex_wake` on an address whose owner may already be gone: a private
/// FUTEX_WAKE only compares addresses, so a stale one wakes nobody or a
/// waiter that re-checks its word and sleeps again.
pub(crate) fn futex_wake_addr(key: *mut u32, n: i32) {
    // SAFETY: FUTEX_WAKE never dereferences the address in user space.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            key,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
}

/// Holds the lock; releases it when dropped.
pub struct MutexGuard<'a, T> {
    lock: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutex_serialises_threads() {
        static COUNTER: Mutex<u64> = Mutex::new(0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..100_000 {
                        *COUNTER.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*COUNTER.lock(), 400_000);
    }

    /// A thread that queued up behind a fork-held lock is woken when the
    /// parent releases it.
    #[test]
    fn fork_lock_pair_wakes_waiters() {
        static M: Mutex<u32> = Mutex::new(1);
        M.lock_for_fork();
        let waiter = std::thread::spawn(|| *M.lock() += 1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        // SAFETY: taken just above.
        unsafe { M.unlock_after_fork() };
        waiter.join().unwrap();
        assert_eq!(*M.lock(), 2);
    }
}
