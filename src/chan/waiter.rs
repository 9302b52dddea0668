//! Waiters: Go's `sudog` and `waitq`, and the `Parker` a waiter sleeps on.
//!
//! A `Sudog` records one blocked channel operation: which parker to wake,
//! where the element goes (a receiver's empty slot) or comes from (a
//! sender's value), and whether the operation succeeded. It lives in the
//! stack frame of the blocked operation, which cannot return before the
//! sudog has left every queue, so a sudog needs no allocation and no pool.
//! (Go pools sudogs because its stacks move and its heap is collected; a
//! Rust frame, goroutine stacks included, stays put while it waits.)
//!
//! A `WaitQ` is an intrusive doubly linked FIFO of sudogs. Every field of a
//! queued sudog (links, `queued`) is guarded by the lock of the channel whose
//! queue holds it; a sudog sits on exactly one channel's queue.
//!
//! A `Parker` is one blocked call (`send`, `recv` or a whole `select`). Its
//! `done` word is Go's `selectDone`: whoever moves it 0 → 1 owns the wake-up,
//! so a parker whose sudogs sit on several queues fires at most once. Only
//! *claimable* sudogs (select cases, and operations with a deadline, whose
//! timeout also competes for the wake-up) go through the claim; a plain
//! blocking `send`/`recv` has a single sudog, and the one waker that dequeues
//! it owns it. The waker writes `outcome` and `fired`, then wakes the parker;
//! the wake is a release, the waiter's wait an acquire, so the waiter reads
//! both after waking. After the wake the waker touches neither again.
//!
//! A parker is one of two kinds, fixed when the call starts: a goroutine
//! (`sched::current_g()`), parked with `gopark` — whose commit step, run on
//! the scheduler's stack once the goroutine is WAITING, releases the channel
//! locks — and woken with `goready(g, true)`, straight into the waker's
//! `runnext`; or a plain thread, asleep on a futex word (`futex`). A
//! goroutine's deadline is a scheduler timer whose callback competes for
//! the claim; since that callback may run after the call returned, such a
//! parker lives on the heap (`ParkerSlot::Shared`), the only allocation of
//! the blocking paths.

use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::futex::ThreadWake;
use crate::lock::Mutex;
use crate::sched::{self, GRef, TimerHandle};

/// One blocked call; see the module comment. Lives in the caller's frame
/// (`ParkerSlot::Inline`), or, for a goroutine waiting with a deadline, on
/// the heap (`ParkerSlot::Shared`), because the timer that may fire after
/// the call returned still holds it.
pub(crate) struct Parker {
    done: AtomicU32,
    fired: AtomicPtr<Sudog>,
    who: Who,
    /// For a goroutine's deadline: the timer, and whether its callback or
    /// the park's commit step came second (`DeadlineSync`).
    timer: Mutex<Option<TimerHandle>>,
    deadline_sync: AtomicU8,
}

enum Who {
    Thread(ThreadWake),
    Goroutine(GRef),
}

/// `Parker::deadline_sync`: the park's commit step and the timer callback
/// each swap in their mark; the second to arrive resumes the goroutine —
/// the callback with `goready`, the commit by cancelling the park.
const NONE_YET: u8 = 0;
const COMMITTED: u8 = 1;
const TIMER_FIRED: u8 = 2;

/// What a waker did with a dequeued sudog (`ready`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wake {
    /// Its operation completed: the value moved into or out of its slot.
    Done,
    /// The channel closed (unbuffered: the operation failed).
    Closed,
    /// Nothing moved; the waiter tries its operation again. A buffered
    /// channel's waker sends this when the ring op it tried on the waiter's
    /// behalf found the ring empty (full) again, and on close, so that
    /// receivers drain what is buffered before they see the close.
    Retry,
}

/// How a park ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A waker completed the sudog `Parker::fired` names.
    Fired,
    /// The deadline won the claim: no waker touched any sudog of this call,
    /// and none will; the caller must take its sudogs off their queues.
    TimedOut,
}

/// Where a call's parker lives; see `Parker`.
pub(crate) enum ParkerSlot {
    Inline(Parker),
    Shared(Arc<Parker>),
}

impl ParkerSlot {
    /// A parker for the calling goroutine or thread.
    pub(crate) fn new(deadline: Option<Instant>) -> Self {
        let g = sched::current_g();
        let p = Parker {
            done: AtomicU32::new(0),
            fired: AtomicPtr::new(ptr::null_mut()),
            who: match g {
                Some(g) => Who::Goroutine(g),
                None => Who::Thread(ThreadWake::new()),
            },
            timer: Mutex::new(None),
            deadline_sync: AtomicU8::new(NONE_YET),
        };
        if g.is_some() && deadline.is_some() {
            ParkerSlot::Shared(Arc::new(p))
        } else {
            ParkerSlot::Inline(p)
        }
    }

    pub(crate) fn parker(&self) -> &Parker {
        match self {
            ParkerSlot::Inline(p) => p,
            ParkerSlot::Shared(p) => p,
        }
    }

    /// Releases the channel lock(s) with `unlock` and waits until a waker
    /// completes one of this call's sudogs or until `deadline`. `unlock`
    /// must own the guards it drops: on a goroutine it runs on the
    /// scheduler's stack while this frame may already be resumed elsewhere.
    pub(crate) fn park(&self, unlock: impl FnOnce(), deadline: Option<Instant>) -> Woken {
        let p = self.parker();
        match (&p.who, self) {
            (Who::Thread(wake), _) => {
                unlock();
                if wake.wait(deadline) {
                    return Woken::Fired;
                }
                if p.claim() {
                    return Woken::TimedOut;
                }
                // A waker owns the wake-up and is about to deliver it.
                wake.wait(None);
                Woken::Fired
            }
            (Who::Goroutine(_), ParkerSlot::Inline(_)) => {
                let mut unlock = Some(unlock);
                sched::gopark(&mut || {
                    // Move the guards onto this (g0) stack, then release
                    // them: after that nothing here touches the goroutine.
                    if let Some(unlock) = unlock.take() {
                        unlock();
                    }
                    true
                });
                Woken::Fired
            }
            (Who::Goroutine(g), ParkerSlot::Shared(shared)) => {
                let (g, deadline) = (*g, deadline.unwrap_or_else(Instant::now));
                let mut unlock = Some(unlock);
                sched::gopark(&mut || {
                    let shared = shared.clone();
                    let timer_side = shared.clone();
                    let left = deadline.saturating_duration_since(Instant::now());
                    let timer = sched::after(
                        left,
                        Box::new(move || {
                            let p = &*timer_side;
                            if p.claim() && p.timer_arrives_second() {
                                sched::goready(g, false);
                            }
                        }),
                    );
                    *shared.timer.lock() = Some(timer);
                    if let Some(unlock) = unlock.take() {
                        unlock();
                    }
                    // Only `shared` (our own reference) from here on.
                    !shared.commit_arrives_second()
                });
                if let Some(timer) = p.timer.lock().take() {
                    timer.cancel();
                }
                if p.fired().is_null() {
                    Woken::TimedOut
                } else {
                    Woken::Fired
                }
            }
        }
    }
}

impl Parker {
    /// Takes the one wake-up of this parker; false if someone else has it.
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        self.done
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The timer callback, having won the claim, marks its arrival: true if
    /// the park's commit step is done, so the callback must `goready`.
    fn timer_arrives_second(&self) -> bool {
        self.deadline_sync.swap(TIMER_FIRED, Ordering::AcqRel) == COMMITTED
    }

    /// The commit step, after releasing the locks, marks its arrival: true
    /// if the timer already won the claim and left the resumption to it,
    /// so the park must be cancelled.
    fn commit_arrives_second(&self) -> bool {
        self.deadline_sync.swap(COMMITTED, Ordering::AcqRel) == TIMER_FIRED
    }

    /// The sudog whose operation completed (null if the wait timed out).
    pub(crate) fn fired(&self) -> *const Sudog {
        self.fired.load(Ordering::Relaxed)
    }

    /// Wakes the waiter; the woken goroutine runs next on this P.
    fn wake(&self) {
        match &self.who {
            Who::Thread(wake) => wake.wake(),
            Who::Goroutine(g) => sched::goready(*g, true),
        }
    }
}

/// One blocked channel operation; see the module comment.
pub(crate) struct Sudog {
    parker: *const Parker,
    /// The receiver's slot, or the sender's value (`elemsize` bytes).
    pub(crate) elem: *mut u8,
    claimable: bool,
    outcome: Cell<Wake>,
    queued: Cell<bool>,
    prev: Cell<*const Sudog>,
    next: Cell<*const Sudog>,
}

impl Sudog {
    pub(crate) fn new(parker: &Parker, elem: *mut u8, claimable: bool) -> Self {
        Sudog {
            parker,
            elem,
            claimable,
            outcome: Cell::new(Wake::Retry),
            queued: Cell::new(false),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
        }
    }

    /// What its waker did. Read by the waiter after it was woken.
    pub(crate) fn outcome(&self) -> Wake {
        self.outcome.get()
    }
}

/// Completes a dequeued sudog: records the outcome and wakes its parker.
/// Call it after releasing the channel lock; the sudog may vanish as soon
/// as this returns.
///
/// # Safety
/// `sg` was dequeued (so this caller owns its wake-up) and its waiter is
/// still parked.
pub(crate) unsafe fn ready(sg: *const Sudog, outcome: Wake) {
    // SAFETY: the waiter stays parked, its frame alive, until `wake`.
    let s = unsafe { &*sg };
    s.outcome.set(outcome);
    // SAFETY: the parker lives in the same parked frame as the sudog.
    let p = unsafe { &*s.parker };
    p.fired.store(sg.cast_mut(), Ordering::Relaxed);
    p.wake();
}

/// A FIFO of waiting sudogs, guarded by its channel's lock.
pub(crate) struct WaitQ {
    first: *const Sudog,
    last: *const Sudog,
    len: usize,
}

impl WaitQ {
    pub(crate) const fn new() -> Self {
        WaitQ {
            first: ptr::null(),
            last: ptr::null(),
            len: 0,
        }
    }

    /// How many sudogs are queued (stale ones included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `sg`.
    ///
    /// # Safety
    /// The channel lock is held; `sg` is on no queue and stays alive until
    /// it has been dequeued or removed.
    pub(crate) unsafe fn enqueue(&mut self, sg: *const Sudog) {
        // SAFETY: per the contract, `sg` and every queued sudog are alive.
        let s = unsafe { &*sg };
        s.next.set(ptr::null());
        s.prev.set(self.last);
        s.queued.set(true);
        self.len += 1;
        if self.last.is_null() {
            self.first = sg;
        } else {
            // SAFETY: as above.
            unsafe { &*self.last }.next.set(sg);
        }
        self.last = sg;
    }

    /// Takes the first waiter whose wake-up this caller can own: a
    /// claimable sudog whose parker is already claimed (another case of
    /// its select fired, or it timed out) is dropped from the queue.
    ///
    /// # Safety
    /// The channel lock is held.
    #[inline]
    pub(crate) unsafe fn dequeue(&mut self) -> Option<*const Sudog> {
        while !self.first.is_null() {
            let sg = self.first;
            // SAFETY: queued sudogs are alive (`enqueue`'s contract).
            unsafe { self.unlink(sg) };
            // SAFETY: as above; its parker lives in the same frame.
            let s = unsafe { &*sg };
            if !s.claimable || unsafe { &*s.parker }.claim() {
                return Some(sg);
            }
        }
        None
    }

    /// Takes the first sudog without claiming it (for a private list of
    /// sudogs already dequeued).
    ///
    /// # Safety
    /// The caller owns this list and every sudog on it is alive.
    pub(crate) unsafe fn pop(&mut self) -> Option<*const Sudog> {
        let sg = self.first;
        if sg.is_null() {
            return None;
        }
        // SAFETY: per the contract.
        unsafe { self.unlink(sg) };
        Some(sg)
    }

    /// Removes `sg` if it is still queued here (a select that fired
    /// elsewhere, or a timed-out waiter, clearing its other sudogs).
    ///
    /// # Safety
    /// The channel lock is held; `sg` was enqueued on this queue.
    pub(crate) unsafe fn remove(&mut self, sg: *const Sudog) {
        // SAFETY: per the contract.
        if unsafe { &*sg }.queued.get() {
            unsafe { self.unlink(sg) };
        }
    }

    /// # Safety
    /// The channel lock is held; `sg` is on this queue.
    unsafe fn unlink(&mut self, sg: *const Sudog) {
        // SAFETY: queued sudogs and their neighbours are alive.
        let s = unsafe { &*sg };
        let (prev, next) = (s.prev.get(), s.next.get());
        if prev.is_null() {
            self.first = next;
        } else {
            unsafe { &*prev }.next.set(next);
        }
        if next.is_null() {
            self.last = prev;
        } else {
            unsafe { &*next }.prev.set(prev);
        }
        s.queued.set(false);
        self.len -= 1;
        s.prev.set(ptr::null());
        s.next.set(ptr::null());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goroutine_parker() -> Parker {
        Parker {
            done: AtomicU32::new(0),
            fired: AtomicPtr::new(ptr::null_mut()),
            who: Who::Thread(ThreadWake::new()),
            timer: Mutex::new(None),
            deadline_sync: AtomicU8::new(NONE_YET),
        }
    }

    /// One atomic step of one party of a goroutine's timed park.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Step {
        /// Commit: releases the channel locks (wakers may find the sudog).
        Unlock,
        /// Commit: marks its arrival; cancels the park if second.
        CommitMark,
        /// Timer callback: tries to claim.
        TimerClaim,
        /// Timer callback, if it claimed: marks its arrival; goready if second.
        TimerMark,
        /// A channel waker (after Unlock): tries to claim; goready if won.
        WakerClaim,
    }

    /// Every interleaving of the three parties' steps (each party in program
    /// order, the waker only after the unlock) resumes the goroutine exactly
    /// once, and a timeout is reported exactly when no waker completed it.
    #[test]
    fn timed_park_resumes_exactly_once_in_every_interleaving() {
        let parties: [&[Step]; 3] = [
            &[Step::Unlock, Step::CommitMark],
            &[Step::TimerClaim, Step::TimerMark],
            &[Step::WakerClaim],
        ];
        let mut orders = Vec::new();
        interleave(&parties, &mut [0; 3], &mut Vec::new(), &mut orders);
        // 5! / (2! 2! 1!) = 30 orders, of which 2 in 3 have the unlock first.
        assert_eq!(orders.len(), 20);
        for order in orders {
            let p = goroutine_parker();
            let (mut resumed, mut unlocked, mut timer_won, mut waker_won) =
                (0, false, false, false);
            for step in &order {
                match step {
                    Step::Unlock => unlocked = true,
                    Step::CommitMark => resumed += usize::from(p.commit_arrives_second()),
                    Step::TimerClaim => timer_won = p.claim(),
                    Step::TimerMark if timer_won => {
                        resumed += usize::from(p.timer_arrives_second())
                    }
                    Step::TimerMark => {}
                    Step::WakerClaim => {
                        assert!(unlocked);
                        waker_won = p.claim();
                        resumed += usize::from(waker_won);
                    }
                }
            }
            assert_eq!(resumed, 1, "{order:?}");
            assert_ne!(timer_won, waker_won, "{order:?}");
        }
    }

    fn interleave(
        parties: &[&[Step]; 3],
        at: &mut [usize; 3],
        order: &mut Vec<Step>,
        out: &mut Vec<Vec<Step>>,
    ) {
        if (0..3).all(|i| at[i] == parties[i].len()) {
            out.push(order.clone());
            return;
        }
        for i in 0..3 {
            let Some(&step) = parties[i].get(at[i]) else {
                continue;
            };
            if step == Step::WakerClaim && !order.contains(&Step::Unlock) {
                continue;
            }
            at[i] += 1;
            order.push(step);
            interleave(parties, at, order, out);
            order.pop();
            at[i] -= 1;
        }
    }
}
