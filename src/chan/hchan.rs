//! `Hchan`: the channel itself, untyped (Go's chan.go).
//!
//! Elements are `elem.size`-byte blobs copied with `memcpy`; the typed Rust
//! API and the C ABI both sit on this. Two kinds of channel share the type:
//!
//! **Unbuffered** (`cap == 0`, no ring): everything happens under the lock,
//! as in Go. A send that finds a parked receiver copies its value straight
//! into the receiver's slot (and a receive likewise takes a parked
//! sender's value); otherwise the caller parks on `sendq`/`recvq`.
//! Invariants, lock held: at most one queue is non-empty; `closed` ⇒ both
//! are empty and stay so (close fails every parked waiter; nobody parks on
//! a closed channel).
//!
//! **Buffered** (`cap > 0`): the buffer is a lock-free ring (`ring::Ring`),
//! so a send into room and a receive of a buffered value touch no lock.
//! The lock guards only the wait queues, for callers that must park, and
//! the protocol between them and the lock-free side is a Dekker handshake:
//! - A parker, holding the lock, enqueues its sudog (which publishes the
//!   queue's length in `waiting`), issues a `SeqCst` fence and tries its
//!   ring operation once more; only if that fails too does it park.
//! - Every successful ring operation (whose claim is a `SeqCst`
//!   compare-and-swap) is followed by a `SeqCst` load of the opposite
//!   direction's `waiting` count (a push looks for
//!   receivers, a pop for senders); if it is non-zero, `serve` takes the
//!   lock, dequeues one waiter and does its ring operation for it (hand-off:
//!   the popped value lands in the parked receiver's slot; a parked sender's
//!   value goes into the ring), then wakes it (`Wake::Done`), the woken
//!   goroutine in the waker's `runnext`. If that ring operation fails (a
//!   lock-free peer got there first), the waiter is woken with
//!   `Wake::Retry` and tries again from the start.
//!
//! By C++20's rules for `SeqCst` fences (a `SeqCst` load that follows the
//! parker's fence in the total order sees the count it stored before the
//! fence; a load sequenced after that fence sees every `SeqCst` write that
//! precedes the fence), either the parker's re-try sees the ring operation,
//! or that operation's look sees the parker's count: a waiter never sleeps
//! through a value (or a free slot) that arrived after it enqueued. Each
//! ring operation serves at most one waiter, and each successful serve is
//! itself a ring operation that looks at the other side in turn.
//!
//! `close` marks the ring closed (pushes fail from then on, atomically
//! with respect to them) and wakes every waiter with `Wake::Retry`, so
//! receivers drain what is buffered before they see `Closed`.
//!
//! Hence nothing is lost or duplicated: a value moves exactly once from
//! the sender's frame to a ring slot or (unbuffered) a receiver's slot, and
//! from a ring slot to a receiver's slot; a ring slot belongs to exactly
//! one claimer between its stamps, and a queued sudog's slot to whoever
//! dequeued it (under the lock). A send that fails (closed, or timed out
//! while claimable) leaves the value in the sender's frame, which hands it
//! back in the error. A waiter may be overtaken by a lock-free peer that
//! arrives while it is being woken (as in crossbeam-channel, unlike Go's
//! all-locked channel, which is strictly FIFO among parked senders).

use core::ptr;
use core::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::alloc::Layout;
use std::time::Instant;

use super::ring::{Pop, Push, Ring};
use super::waiter::{ready, ParkerSlot, Sudog, WaitQ, Wake, Woken};
use crate::lock::{Mutex, MutexGuard};

/// How long an operation may wait.
#[derive(Clone, Copy)]
pub(crate) enum Block {
    No,
    Forever,
    Until(Instant),
}

/// How an operation ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Done,
    Closed,
    WouldBlock,
    Timeout,
}

/// Which of a channel's queues an operation waits on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Send,
    Recv,
}

/// The element's size and alignment, and how to drop one in place.
pub(crate) struct ElemType {
    pub(crate) size: usize,
    align: usize,
    drop: Option<unsafe fn(*mut u8)>,
}

impl ElemType {
    pub(crate) fn of<T>() -> Self {
        ElemType {
            size: core::mem::size_of::<T>(),
            align: core::mem::align_of::<T>(),
            drop: if core::mem::needs_drop::<T>() {
                Some(drop_erased::<T>)
            } else {
                None
            },
        }
    }

    pub(crate) fn layout(&self) -> Layout {
        Layout::from_size_align(self.size, self.align).expect("goheap::chan: element layout")
    }

    /// Blobs of `size` bytes (C elements): copied bytewise, nothing to drop.
    pub(crate) fn bytes(size: usize) -> Self {
        ElemType {
            size,
            align: 1,
            drop: None,
        }
    }
}

/// # Safety
/// `p` points to a valid `T` that is not used again.
unsafe fn drop_erased<T>(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { ptr::drop_in_place(p.cast::<T>()) }
}

/// The state guarded by the channel lock.
pub(crate) struct Queues {
    recvq: WaitQ,
    sendq: WaitQ,
}

impl Queues {
    fn of(&mut self, dir: Dir) -> &mut WaitQ {
        match dir {
            Dir::Send => &mut self.sendq,
            Dir::Recv => &mut self.recvq,
        }
    }
}

impl Dir {
    /// The direction of the operations that complete this one's waiters.
    fn peer(self) -> Dir {
        match self {
            Dir::Send => Dir::Recv,
            Dir::Recv => Dir::Send,
        }
    }
}

/// What a step under the lock decided.
pub(crate) enum Step {
    /// The operation completed; wake this waiter (if any) after unlocking.
    Done(Option<*const Sudog>),
    Closed,
}

pub(crate) type Guard<'a> = MutexGuard<'a, Queues>;

/// A channel; see the module comment.
pub(crate) struct Hchan {
    closed: AtomicBool,
    pub(crate) elem: ElemType,
    /// The buffer of a buffered channel.
    ring: Option<Ring>,
    /// The length of `sendq` and of `recvq` (indexed by `Dir`), written
    /// under the lock, read without it.
    waiting: [AtomicUsize; 2],
    lock: Mutex<Queues>,
}

// SAFETY: the queues' sudogs are touched only under `lock`, the ring's
// slots by the ring's protocol; the elements are `Send` (the typed API
// requires it, C blobs are bytes).
unsafe impl Send for Hchan {}
// SAFETY: as above.
unsafe impl Sync for Hchan {}

impl Hchan {
    pub(crate) fn new(elem: ElemType, cap: usize) -> Self {
        assert!(
            Self::fits(&elem, cap),
            "goheap::chan: capacity {cap} is too large"
        );
        Hchan {
            closed: AtomicBool::new(false),
            ring: (cap > 0).then(|| Ring::new(elem.layout(), cap)),
            elem,
            waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
            lock: Mutex::new(Queues {
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
            }),
        }
    }

    /// Whether a ring of `cap` such elements can exist.
    pub(crate) fn fits(elem: &ElemType, cap: usize) -> bool {
        cap == 0 || Ring::layout_for(elem.layout(), cap).is_some()
    }

    pub(crate) fn cap(&self) -> usize {
        self.ring.as_ref().map_or(0, Ring::cap)
    }

    pub(crate) fn len(&self) -> usize {
        self.ring.as_ref().map_or(0, Ring::len)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn is_buffered(&self) -> bool {
        self.ring.is_some()
    }

    pub(crate) fn lock(&self) -> Guard<'_> {
        self.lock.lock()
    }

    /// # Safety
    /// Both point to `elem.size` valid bytes that do not overlap.
    #[inline]
    unsafe fn copy(&self, src: *const u8, dst: *mut u8) {
        // Word-sized elements (the common case) move in one load and store
        // instead of a call to memcpy.
        // SAFETY: per the contract; unaligned accesses need no alignment.
        unsafe {
            match self.elem.size {
                8 => dst
                    .cast::<u64>()
                    .write_unaligned(src.cast::<u64>().read_unaligned()),
                16 => dst
                    .cast::<u128>()
                    .write_unaligned(src.cast::<u128>().read_unaligned()),
                n => ptr::copy_nonoverlapping(src, dst, n),
            }
        }
    }

    /// Queues `sg` on `dir`'s queue and publishes the queue's length.
    ///
    /// # Safety
    /// `q` is this channel's guard; `sg` is on no queue and stays alive
    /// until it has been dequeued or removed.
    pub(crate) unsafe fn enqueue(&self, q: &mut Queues, dir: Dir, sg: *const Sudog) {
        // SAFETY: per the contract.
        unsafe { q.of(dir).enqueue(sg) };
        self.publish(q, dir);
    }

    /// Takes the first waiter of `dir` whose wake-up the caller can own.
    ///
    /// # Safety
    /// `q` is this channel's guard.
    unsafe fn dequeue(&self, q: &mut Queues, dir: Dir) -> Option<*const Sudog> {
        // SAFETY: per the contract.
        let sg = unsafe { q.of(dir).dequeue() };
        self.publish(q, dir);
        sg
    }

    /// Takes `sg` off `dir`'s queue if it is still there.
    ///
    /// # Safety
    /// `q` is this channel's guard; `sg` was enqueued on that queue.
    pub(crate) unsafe fn remove(&self, q: &mut Queues, dir: Dir, sg: *const Sudog) {
        // SAFETY: per the contract.
        unsafe { q.of(dir).remove(sg) };
        self.publish(q, dir);
    }

    fn publish(&self, q: &mut Queues, dir: Dir) {
        self.waiting[dir as usize].store(q.of(dir).len(), Ordering::Relaxed);
    }

    /// Sends the element at `ep` (moved out on `Done`, left there otherwise).
    ///
    /// # Safety
    /// `ep` holds a valid element, and stays valid for the call.
    pub(crate) unsafe fn send(&self, ep: *mut u8, block: Block) -> Outcome {
        // SAFETY: per the contract.
        unsafe { self.op(Dir::Send, ep, block) }
    }

    /// Receives an element into `ep` (written only on `Done`).
    ///
    /// # Safety
    /// `ep` is valid for writing one element.
    pub(crate) unsafe fn recv(&self, ep: *mut u8, block: Block) -> Outcome {
        // SAFETY: per the contract.
        unsafe { self.op(Dir::Recv, ep, block) }
    }

    /// # Safety
    /// `ep` holds a valid element (send) or room for one (receive).
    unsafe fn op(&self, dir: Dir, ep: *mut u8, block: Block) -> Outcome {
        loop {
            let q = if self.ring.is_some() {
                // SAFETY: per the contract.
                if let Some(o) = unsafe { self.try_buffered(dir, ep) } {
                    if o == Outcome::Done {
                        self.after(dir);
                    }
                    return o;
                }
                if matches!(block, Block::No) {
                    return Outcome::WouldBlock;
                }
                self.lock()
            } else {
                let mut q = self.lock();
                // SAFETY: lock held, per the contract.
                if let Some(step) = unsafe { self.poll_locked(&mut q, dir, ep) } {
                    drop(q);
                    return complete(step);
                }
                q
            };
            // SAFETY: per the contract.
            if let Some(o) = unsafe { self.park(q, dir, ep, block) } {
                return o;
            }
        }
    }

    /// One lock-free attempt at a buffered channel's operation: `Some` if
    /// it completed or found the channel closed (and drained), `None` if it
    /// would have to wait. The caller calls `after` on `Done`, once it
    /// holds no lock of this channel.
    ///
    /// # Safety
    /// The channel is buffered; `ep` holds a valid element (send) or room
    /// for one (receive).
    #[inline]
    pub(crate) unsafe fn try_buffered(&self, dir: Dir, ep: *mut u8) -> Option<Outcome> {
        let ring = self.ring.as_ref()?;
        match dir {
            // SAFETY: the claimed slot has room for one element; `ep` holds one.
            Dir::Send => match ring.push(|slot| unsafe { self.copy(ep, slot) }) {
                Push::Done => Some(Outcome::Done),
                Push::Full => None,
                Push::Closed => Some(Outcome::Closed),
            },
            // SAFETY: the claimed slot holds an element; it moves to `ep`.
            Dir::Recv => match ring.pop(|slot| unsafe { self.copy(slot, ep) }) {
                Pop::Done => Some(Outcome::Done),
                Pop::Empty => None,
                Pop::Closed => Some(Outcome::Closed),
            },
        }
    }

    /// After a ring operation in direction `dir`: serves a waiter of the
    /// other direction if there is one (see the module comment).
    #[inline]
    pub(crate) fn after(&self, dir: Dir) {
        // No fence needed here: the ring op's `SeqCst` compare-and-swap
        // and this `SeqCst` load are ordered in the single total order, and
        // the parker's fence sits between its count store and its retry.
        if self.waiting[dir.peer() as usize].load(Ordering::SeqCst) != 0 {
            self.serve(dir.peer());
        }
    }

    /// Dequeues one waiter of `dir` and does its ring operation for it;
    /// then, if that succeeded, looks at the other side in turn.
    #[cold]
    fn serve(&self, mut dir: Dir) {
        loop {
            let mut q = self.lock();
            // SAFETY: lock held.
            let Some(sg) = (unsafe { self.dequeue(&mut q, dir) }) else {
                return;
            };
            // SAFETY: the dequeued sudog's slot is ours to fill or empty.
            let done = unsafe { self.try_buffered(dir, (*sg).elem) } == Some(Outcome::Done);
            drop(q);
            let outcome = if done { Wake::Done } else { Wake::Retry };
            // SAFETY: dequeued under the lock just released.
            unsafe { ready(sg, outcome) };
            if !done {
                return;
            }
            dir = dir.peer();
            if self.waiting[dir as usize].load(Ordering::SeqCst) == 0 {
                return;
            }
        }
    }

    /// An unbuffered channel's operation that does not wait: hand-off with
    /// a parked peer, or a closed channel; `None` if it would have to wait.
    ///
    /// # Safety
    /// `q` is this channel's guard; `ep` holds a valid element (send) or
    /// room for one (receive).
    pub(crate) unsafe fn poll_locked(&self, q: &mut Queues, dir: Dir, ep: *mut u8) -> Option<Step> {
        if dir == Dir::Send && self.is_closed() {
            return Some(Step::Closed);
        }
        // SAFETY: lock held.
        if let Some(sg) = unsafe { self.dequeue(q, dir.peer()) } {
            // SAFETY: a dequeued peer's slot is ours to fill or empty, once.
            unsafe {
                match dir {
                    Dir::Send => self.copy(ep, (*sg).elem),
                    Dir::Recv => self.copy((*sg).elem, ep),
                }
            }
            return Some(Step::Done(Some(sg)));
        }
        self.is_closed().then_some(Step::Closed)
    }

    /// Whether a buffered channel's operation would have to wait, by a
    /// fence-free look (a hint: see `Ring::looks_blocked`).
    pub(crate) fn looks_blocked_buffered(&self, dir: Dir) -> bool {
        self.ring
            .as_ref()
            .is_some_and(|r| r.looks_blocked(dir == Dir::Send))
    }

    /// Whether an unbuffered channel's operation might complete now (a
    /// parked peer, or closed), by a lock-free look.
    pub(crate) fn maybe_ready_unbuffered(&self, dir: Dir) -> bool {
        self.is_closed() || self.waiting[dir.peer() as usize].load(Ordering::Relaxed) != 0
    }

    /// Parks the caller on `dir`'s queue until a peer completes the
    /// operation, the channel closes, or the deadline passes. A buffered
    /// channel's operation is tried once more after enqueueing (the Dekker
    /// handshake of the module comment). `None`: woken to retry.
    ///
    /// # Safety
    /// As `op`'s; `q` is this channel's guard.
    unsafe fn park(
        &self,
        mut q: Guard<'_>,
        dir: Dir,
        ep: *mut u8,
        block: Block,
    ) -> Option<Outcome> {
        let deadline = match block {
            Block::No => return Some(Outcome::WouldBlock),
            Block::Forever => None,
            Block::Until(d) => Some(d),
        };
        let slot = ParkerSlot::new(deadline);
        let sg = Sudog::new(slot.parker(), ep, deadline.is_some());
        // SAFETY: lock held; `sg` outlives its time on the queue: this frame
        // returns only after a waker dequeued it or we removed it.
        unsafe { self.enqueue(&mut q, dir, &sg) };
        if self.ring.is_some() {
            fence(Ordering::SeqCst);
            // SAFETY: per the contract.
            if let Some(o) = unsafe { self.try_buffered(dir, ep) } {
                // SAFETY: lock held; nobody could dequeue `sg` meanwhile.
                unsafe { self.remove(&mut q, dir, &sg) };
                drop(q);
                if o == Outcome::Done {
                    self.after(dir);
                }
                return Some(o);
            }
        }
        if slot.park(move || drop(q), deadline) == Woken::TimedOut {
            // SAFETY: lock held; `sg` was enqueued here.
            unsafe { self.remove(&mut self.lock(), dir, &sg) };
            return Some(Outcome::Timeout);
        }
        match sg.outcome() {
            Wake::Done => Some(Outcome::Done),
            Wake::Closed => Some(Outcome::Closed),
            Wake::Retry => None,
        }
    }

    /// Closes the channel: later sends fail, receivers drain the buffer;
    /// every parked waiter is woken (unbuffered: with failure; buffered: to
    /// retry, which then drains or fails). Returns false if it was already
    /// closed.
    pub(crate) fn close(&self) -> bool {
        let mut q = self.lock();
        if self.is_closed() {
            return false;
        }
        self.closed.store(true, Ordering::Relaxed);
        let outcome = match &self.ring {
            Some(ring) => {
                ring.close();
                Wake::Retry
            }
            None => Wake::Closed,
        };
        let mut woken = WaitQ::new();
        // SAFETY: lock held; each dequeued sudog's wake-up is ours, and
        // `woken` is a private list of them.
        unsafe {
            while let Some(sg) = self.dequeue(&mut q, Dir::Recv) {
                woken.enqueue(sg);
            }
            while let Some(sg) = self.dequeue(&mut q, Dir::Send) {
                woken.enqueue(sg);
            }
        }
        drop(q);
        // SAFETY: each was dequeued above, its waiter still parked.
        while let Some(sg) = unsafe { woken.pop() } {
            unsafe { ready(sg, outcome) };
        }
        true
    }

    /// Drops every buffered element (the channel is closed and its last
    /// receiver is gone: no one adds or takes any more).
    pub(crate) fn discard_buffered(&self) {
        if let Some(ring) = &self.ring {
            let drop = self.elem.drop;
            // SAFETY: each popped slot holds an element that is ours now.
            while ring.pop(|slot| drop.map_or((), |d| unsafe { d(slot) })) == Pop::Done {}
        }
    }
}

/// Wakes the peer a step completed (call it after unlocking), and reports
/// the outcome.
pub(crate) fn complete(step: Step) -> Outcome {
    match step {
        Step::Done(peer) => {
            if let Some(sg) = peer {
                // SAFETY: dequeued under the lock just released.
                unsafe { ready(sg, Wake::Done) };
            }
            Outcome::Done
        }
        Step::Closed => Outcome::Closed,
    }
}

impl Drop for Hchan {
    fn drop(&mut self) {
        debug_assert!(self.waiting.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        // The channel is unreachable: its buffered elements are ours.
        self.discard_buffered();
    }
}
