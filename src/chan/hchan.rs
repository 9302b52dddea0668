//! `Hchan`: the channel itself, untyped (Go's chan.go).
//!
//! Elements are `elem.size`-byte blobs copied with `memcpy`; the typed Rust
//! API and the C ABI both sit on this. `buf` is a ring of `cap` slots;
//! `recvx` is the oldest full slot and `sendx` the next free one, `qcount`
//! how many are full. Everything below the lock (`Queues`, the ring's slots)
//! is touched only with the lock held; `qcount` and `closed` are atomics
//! written under the lock so that non-blocking calls can fail fast without
//! it (as Go's `chansend`/`chanrecv` do).
//!
//! Invariants, with the lock held:
//! - `sendq` non-empty ⇒ the buffer is full (`qcount == cap`, hence
//!   always for `cap == 0`); `recvq` non-empty ⇒ the buffer is empty. So
//!   at most one queue is non-empty, and a value never waits in the buffer
//!   while a receiver waits.
//! - `closed` ⇒ both queues are empty and stay so: `close` fails every
//!   parked waiter, and no operation parks on a closed channel (a send
//!   fails, a receive drains the buffer or fails).
//! - Each queued sudog's element slot is owned by the channel until the
//!   sudog is dequeued: the dequeuer copies into or out of it exactly once,
//!   then wakes the waiter (`waiter::ready`) after unlocking.
//!
//! Hence nothing is lost or duplicated: a value moves exactly once, from the
//! sender's frame to either a buffer slot or a receiver's slot (direct
//! hand-off), and from a buffer slot to a receiver's slot; each move
//! happens under the lock that also removes its source from view. A send
//! that fails (closed, or timed out while claimable) leaves the value in the
//! sender's frame, which hands it back in the error.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::alloc::{self, Layout};
use std::time::Instant;

use super::waiter::{ready, ParkerSlot, Sudog, WaitQ, Woken};
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

/// The state guarded by the channel lock (besides the ring's slots).
pub(crate) struct Queues {
    sendx: usize,
    recvx: usize,
    recvq: WaitQ,
    sendq: WaitQ,
}

impl Queues {
    pub(crate) fn of(&mut self, dir: Dir) -> &mut WaitQ {
        match dir {
            Dir::Send => &mut self.sendq,
            Dir::Recv => &mut self.recvq,
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
    qcount: AtomicUsize,
    closed: AtomicBool,
    cap: usize,
    pub(crate) elem: ElemType,
    buf: *mut u8,
    lock: Mutex<Queues>,
}

// SAFETY: the ring's slots and the queues' sudogs are touched only under
// `lock`; the elements are `Send` (the typed API requires it, C blobs are
// bytes).
unsafe impl Send for Hchan {}
// SAFETY: as above.
unsafe impl Sync for Hchan {}

impl Hchan {
    pub(crate) fn new(elem: ElemType, cap: usize) -> Self {
        let buf = match Self::buf_layout(&elem, cap) {
            // SAFETY: the layout has a non-zero size.
            Some(layout) => unsafe { alloc::alloc(layout) },
            None => elem.align as *mut u8,
        };
        if buf.is_null() {
            alloc::handle_alloc_error(Self::buf_layout(&elem, cap).unwrap());
        }
        Hchan {
            qcount: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            cap,
            elem,
            buf,
            lock: Mutex::new(Queues {
                sendx: 0,
                recvx: 0,
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
            }),
        }
    }

    /// Whether a ring of `cap` such elements can exist.
    pub(crate) fn fits(elem: &ElemType, cap: usize) -> bool {
        elem.size
            .checked_mul(cap)
            .is_some_and(|b| Layout::from_size_align(b, elem.align).is_ok())
    }

    fn buf_layout(elem: &ElemType, cap: usize) -> Option<Layout> {
        assert!(
            Self::fits(elem, cap),
            "goheap::chan: capacity {cap} is too large"
        );
        let bytes = elem.size * cap;
        (bytes > 0).then(|| Layout::from_size_align(bytes, elem.align).unwrap())
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.qcount.load(Ordering::Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub(crate) fn lock(&self) -> Guard<'_> {
        self.lock.lock()
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: i < cap, inside the ring (or size 0).
        unsafe { self.buf.add(i * self.elem.size) }
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

    /// Sends the element at `ep` (moved out on `Done`, left there otherwise).
    ///
    /// # Safety
    /// `ep` holds a valid element, and stays valid for the call.
    pub(crate) unsafe fn send(&self, ep: *mut u8, block: Block) -> Outcome {
        if matches!(block, Block::No) && self.cap > 0 && !self.is_closed() && self.len() == self.cap
        {
            return Outcome::WouldBlock;
        }
        let mut q = self.lock();
        // SAFETY: lock held, `ep` valid.
        match unsafe { self.send_locked(&mut q, ep) } {
            Some(step) => {
                drop(q);
                complete(step)
            }
            None => self.park_one(q, Dir::Send, ep, block),
        }
    }

    /// Receives an element into `ep` (written only on `Done`).
    ///
    /// # Safety
    /// `ep` is valid for writing one element.
    pub(crate) unsafe fn recv(&self, ep: *mut u8, block: Block) -> Outcome {
        if matches!(block, Block::No) && self.cap > 0 && self.len() == 0 {
            if !self.is_closed() {
                return Outcome::WouldBlock;
            }
            if self.len() == 0 {
                return Outcome::Closed;
            }
        }
        let mut q = self.lock();
        // SAFETY: lock held, `ep` valid.
        match unsafe { self.recv_locked(&mut q, ep) } {
            Some(step) => {
                drop(q);
                complete(step)
            }
            None => self.park_one(q, Dir::Recv, ep, block),
        }
    }

    /// A send that does not wait: to a parked receiver (direct hand-off), or
    /// into the buffer; `None` if it would have to wait.
    ///
    /// # Safety
    /// `q` is this channel's guard; `ep` holds a valid element.
    pub(crate) unsafe fn send_locked(&self, q: &mut Queues, ep: *mut u8) -> Option<Step> {
        if self.is_closed() {
            return Some(Step::Closed);
        }
        // SAFETY: lock held.
        if let Some(sg) = unsafe { q.recvq.dequeue() } {
            // SAFETY: a dequeued receiver's slot is ours to fill, once.
            unsafe { self.copy(ep, (*sg).elem) };
            return Some(Step::Done(Some(sg)));
        }
        if self.len() < self.cap {
            // SAFETY: the slot at sendx is free; lock held.
            unsafe { self.copy(ep, self.slot(q.sendx)) };
            q.sendx = self.next(q.sendx);
            self.qcount.store(self.len() + 1, Ordering::Relaxed);
            return Some(Step::Done(None));
        }
        None
    }

    /// A receive that does not wait: from a parked sender (directly if
    /// unbuffered; else the oldest buffered value, the sender's value taking
    /// its slot), from the buffer, or a closed, drained channel.
    ///
    /// # Safety
    /// `q` is this channel's guard; `ep` is valid for writing one element.
    pub(crate) unsafe fn recv_locked(&self, q: &mut Queues, ep: *mut u8) -> Option<Step> {
        // SAFETY: lock held.
        if let Some(sg) = unsafe { q.sendq.dequeue() } {
            // SAFETY: a dequeued sender's value is ours to take, once; a
            // parked sender means a full ring, so the slot at recvx is full.
            unsafe {
                if self.cap == 0 {
                    self.copy((*sg).elem, ep);
                } else {
                    let slot = self.slot(q.recvx);
                    self.copy(slot, ep);
                    self.copy((*sg).elem, slot);
                    q.recvx = self.next(q.recvx);
                    q.sendx = q.recvx;
                }
            }
            return Some(Step::Done(Some(sg)));
        }
        if self.len() > 0 {
            // SAFETY: the slot at recvx is full; lock held.
            unsafe { self.copy(self.slot(q.recvx), ep) };
            q.recvx = self.next(q.recvx);
            self.qcount.store(self.len() - 1, Ordering::Relaxed);
            return Some(Step::Done(None));
        }
        if self.is_closed() {
            return Some(Step::Closed);
        }
        None
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.cap {
            0
        } else {
            i + 1
        }
    }

    /// Parks the caller on one queue until a peer completes the operation,
    /// the channel closes, or the deadline passes.
    fn park_one(&self, mut q: Guard<'_>, dir: Dir, ep: *mut u8, block: Block) -> Outcome {
        let deadline = match block {
            Block::No => return Outcome::WouldBlock,
            Block::Forever => None,
            Block::Until(d) => Some(d),
        };
        let slot = ParkerSlot::new(deadline);
        let sg = Sudog::new(slot.parker(), ep, deadline.is_some());
        // SAFETY: lock held; `sg` outlives its time on the queue: this frame
        // returns only after a waker dequeued it or we removed it.
        unsafe { q.of(dir).enqueue(&sg) };
        if slot.park(move || drop(q), deadline) == Woken::TimedOut {
            // SAFETY: lock held; `sg` was enqueued here.
            unsafe { self.lock().of(dir).remove(&sg) };
            return Outcome::Timeout;
        }
        if sg.success() {
            Outcome::Done
        } else {
            Outcome::Closed
        }
    }

    /// Closes the channel: later sends fail, receivers drain the buffer;
    /// every parked sender and receiver is woken with failure. Returns false
    /// if it was already closed.
    pub(crate) fn close(&self) -> bool {
        let mut q = self.lock();
        if self.is_closed() {
            return false;
        }
        self.closed.store(true, Ordering::Relaxed);
        let mut failed = WaitQ::new();
        // SAFETY: lock held; each dequeued sudog's wake-up is ours, and
        // `failed` is a private list of them.
        unsafe {
            while let Some(sg) = q.recvq.dequeue() {
                failed.enqueue(sg);
            }
            while let Some(sg) = q.sendq.dequeue() {
                failed.enqueue(sg);
            }
        }
        drop(q);
        // SAFETY: each was dequeued above, its waiter still parked.
        while let Some(sg) = unsafe { failed.pop() } {
            unsafe { ready(sg, false) };
        }
        true
    }

    /// Drops every buffered element (the last receiver is gone, after
    /// `close`: no one can add or take any more).
    pub(crate) fn discard_buffered(&self) {
        let q = self.lock();
        let (first, n) = (q.recvx, self.len());
        self.qcount.store(0, Ordering::Relaxed);
        drop(q);
        // SAFETY: the `n` slots from `first` hold elements that no one else
        // can reach any more (qcount is 0, the channel is closed).
        unsafe { self.drop_slots(first, n) };
    }

    /// # Safety
    /// The `n` ring slots from `first` hold elements owned by the caller.
    unsafe fn drop_slots(&self, first: usize, n: usize) {
        if let Some(drop) = self.elem.drop {
            let mut i = first;
            for _ in 0..n {
                // SAFETY: per the contract.
                unsafe { drop(self.slot(i)) };
                i = self.next(i);
            }
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
                unsafe { ready(sg, true) };
            }
            Outcome::Done
        }
        Step::Closed => Outcome::Closed,
    }
}

impl Drop for Hchan {
    fn drop(&mut self) {
        let q = self.lock.lock();
        debug_assert!(q.recvq.is_empty() && q.sendq.is_empty());
        let (first, n) = (q.recvx, self.len());
        drop(q);
        // SAFETY: the channel is unreachable: its buffered elements are ours.
        unsafe { self.drop_slots(first, n) };
        if let Some(layout) = Self::buf_layout(&self.elem, self.cap) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { alloc::dealloc(self.buf, layout) };
        }
    }
}
