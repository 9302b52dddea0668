//! Timers (Go's time.go): one heap per P, ordered by deadline.
//!
//! A timer is an entry `(when, seq, state, f)` in the heap of the P that
//! created it (P 0's for plain threads), under that heap's own lock, so that
//! any M may run the due timers of any P (`run_timers`, also from stealing
//! Ms: an idle P's timers still fire). `earliest` mirrors the heap's
//! minimum for lock-free checks (0: empty). Callbacks run on g0 with a P
//! held and must only wake goroutines (`goready`) or do similarly short,
//! non-blocking work.
//!
//! Cancellation is lazy, as Go's `deleted` timers: `TimerHandle::cancel`
//! flips the shared state PENDING→CANCELLED, and the heap drops the entry
//! when it reaches the top. Whoever flips the state first (fire or cancel)
//! wins, so a callback runs at most once and never after a successful
//! cancel. A cancelled entry keeps its closure until then, so each heap
//! counts its cancelled entries and, when they pass a quarter of the heap,
//! drops them all at the next `add` (Go's `cleantimers` rule): a program
//! that cancels most of its timers, as every network read with a deadline
//! does, keeps the heap within 4/3 of its pending timers.
//!
//! After adding a timer earlier than what the M blocked in `epoll_wait`
//! waits for, `wake_netpoller` interrupts it (or wakes an M if none polls).

use crate::lock::Mutex;
use core::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

struct Entry {
    when: u64,
    seq: u64,
    state: Arc<AtomicU8>,
    f: Box<dyn FnOnce() + Send>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.when, self.seq) == (o.when, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        (self.when, self.seq).cmp(&(o.when, o.seq))
    }
}

/// One P's timer heap.
pub(crate) struct Timers {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    earliest: AtomicU64,
    /// Cancelled entries still in the heap (a hint for `add`: a cancel
    /// racing a clean-up may leave it off by one).
    cancelled: AtomicUsize,
}

/// Heaps smaller than this are never cleaned of cancelled entries.
const CLEAN_MIN: usize = 64;

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: Mutex::new(BinaryHeap::new()),
            earliest: AtomicU64::new(0),
            cancelled: AtomicUsize::new(0),
        }
    }

    /// Deadline of the earliest timer (nanotime), 0 if none.
    pub(crate) fn earliest(&self) -> u64 {
        self.earliest.load(Ordering::Acquire)
    }

    fn add(&'static self, when: u64, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
        let state = Arc::new(AtomicU8::new(PENDING));
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut h = self.heap.lock();
        if h.len() >= CLEAN_MIN && self.cancelled.load(Ordering::Relaxed) > h.len() / 4 {
            self.cancelled.store(0, Ordering::Relaxed);
            h.retain(|e| e.0.state.load(Ordering::Acquire) == PENDING);
        }
        h.push(Reverse(Entry {
            when,
            seq,
            state: state.clone(),
            f,
        }));
        self.earliest
            .store(h.peek().map_or(0, |e| e.0.when), Ordering::Release);
        TimerHandle {
            state,
            timers: self,
        }
    }

    /// Entries in the heap, cancelled ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.lock().len()
    }

    /// Runs every timer due at `now`; returns how many fired.
    pub(crate) fn run(&self, now: u64) -> usize {
        let mut fired = 0;
        loop {
            let e = self.earliest();
            if e == 0 || e > now {
                return fired;
            }
            let entry = {
                let mut h = self.heap.lock();
                let due = h.peek().is_some_and(|e| e.0.when <= now);
                let entry = if due { h.pop().map(|e| e.0) } else { None };
                self.earliest
                    .store(h.peek().map_or(0, |e| e.0.when), Ordering::Release);
                entry
            };
            let Some(entry) = entry else { return fired };
            match entry
                .state
                .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    super::proc::on_g0("timer callback", entry.f);
                    fired += 1;
                }
                Err(CANCELLED) => self.forget_cancelled(),
                Err(_) => {}
            }
        }
    }
}

/// Names a timer made by `after`.
pub(crate) struct TimerHandle {
    state: Arc<AtomicU8>,
    /// The heap the timer is in (P records live forever).
    timers: &'static Timers,
}

impl TimerHandle {
    /// Stops the timer; true if it had not fired (its callback will never run).
    pub(crate) fn cancel(&self) -> bool {
        let won = self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if won {
            self.timers.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        won
    }
}

impl Timers {
    /// A cancelled entry left the heap.
    fn forget_cancelled(&self) {
        let _ = self
            .cancelled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Monotonic nanoseconds (never 0).
pub(crate) fn nanotime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64 + 1
}

/// Runs `f` on the scheduler after `d` (Go's time.AfterFunc, with `f` run
/// on g0). `f` must not block.
pub(crate) fn after(d: Duration, f: Box<dyn FnOnce() + Send>) -> TimerHandle {
    let when = nanotime().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    let h = super::proc::with_timers(|t| t.add(when, f));
    super::proc::wake_netpoller(when);
    h
}

/// Puts the current goroutine to sleep for `d` (the thread, off the
/// scheduler).
pub fn sleep(d: Duration) {
    let Some(g) = super::proc::current_g() else {
        std::thread::sleep(d);
        return;
    };
    super::proc::gopark(&mut || {
        after(d, Box::new(move || super::proc::goready(g, false)));
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timers cancelled long before they are due (a read deadline, renewed
    /// at every read) are dropped once they are a quarter of the heap; the
    /// pending ones all stay.
    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let t: &'static Timers = Box::leak(Box::new(Timers::new()));
        let far = nanotime() + 3_600_000_000_000;
        let pending: Vec<_> = (0..100).map(|_| t.add(far, Box::new(|| {}))).collect();
        for _ in 0..10_000 {
            assert!(t.add(far, Box::new(|| {})).cancel());
        }
        let len = t.len();
        assert!(
            (100..=140).contains(&len),
            "{len} entries for 100 pending timers"
        );
        assert!(
            pending.iter().all(TimerHandle::cancel),
            "every pending timer stayed"
        );
    }
}
