//! `Ring`: the lock-free bounded buffer of a buffered channel (Dmitry
//! Vyukov's bounded MPMC queue, with a closed mark, as crossbeam's array
//! channel also uses).
//!
//! # Layout
//!
//! `cap` slots, each a sequence *stamp* (an `AtomicUsize`) followed by room
//! for one element blob. `head` and `tail` are positions: the low bits
//! (`pos & (mark - 1)`) are a slot index below `cap`, the bits above `lap`
//! count laps round the ring; `mark` (a power of two above `cap`) is a bit
//! of `tail` only, set once by `close`. A lap is `2 * mark`.
//!
//! # The stamp protocol
//!
//! A slot at index `i` whose stamp equals the position `tail` about to use
//! it (`lap + i`) is free for that push; a stamp of `position + 1` says it
//! is full, written in that lap; a stamp of `position + lap` says it was
//! emptied and is free for the next lap. So:
//! - **push** at position `t`: if the slot's stamp is `t`, claim the
//!   position by a compare-and-swap of `tail` from `t` to the next position,
//!   write the element, then store stamp `t + 1` (release). If the stamp is
//!   `t + 1 - lap` (still full from the previous lap) and `head` is a whole
//!   lap behind `t`, the ring is full.
//! - **pop** at position `h`: if the stamp is `h + 1`, claim it by a CAS of
//!   `head` to the next position, read the element, then store stamp
//!   `h + lap` (release). If the stamp is `h` (nothing written there this
//!   lap) and `tail` (without the mark) equals `h`, the ring is empty, and
//!   closed if `tail` carries the mark.
//!
//! A claimed slot belongs to its claimer alone until it stores the next
//! stamp, so each element is written once and read once: nothing is lost
//! or duplicated. A pop that sees a position claimed but not yet written
//! (stamp `h`, `tail` past `h`) waits for that push to finish, and a push
//! that sees the previous lap's pop still reading waits likewise; neither
//! reports full or empty spuriously, so `Full` and `Empty` are true at the
//! moment the CAS-free check read `head`/`tail` (the operations linearise).
//!
//! **Close** sets the mark in `tail` with one atomic `fetch_or`: a push
//! whose CAS comes later fails (it compares the whole word), one whose CAS
//! came first completes and its element is drained like any other.
//!
//! The compare-and-swaps on `head` and `tail` are `SeqCst`, and so is the
//! fence before an empty or full check reads the other end: the channel's
//! parking protocol (hchan.rs) pairs them with its own fences.

use core::ptr;
use std::alloc::{self, Layout};

#[cfg(not(loom))]
use core::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicUsize, Ordering};

/// What a push did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Push {
    Done,
    Full,
    Closed,
}

/// What a pop did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Pop {
    Done,
    Empty,
    /// Closed and empty.
    Closed,
}

/// Keeps `head` and `tail` on their own cache lines.
#[repr(align(128))]
struct Padded<T>(T);

/// The ring; see the module comment.
pub(crate) struct Ring {
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    slots: *mut u8,
    layout: Layout,
    stride: usize,
    elem_offset: usize,
    cap: usize,
    mark: usize,
    lap: usize,
}

// SAFETY: a slot's element is touched only by the one thread that claimed
// the slot (see the module comment); the elements are `Send` (the typed
// API requires it).
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring of `cap >= 1` slots for elements of `elem` layout; `None` if
    /// it would not fit in memory.
    pub(crate) fn layout_for(elem: Layout, cap: usize) -> Option<(Layout, usize, usize)> {
        let (slot, elem_offset) = Layout::new::<AtomicUsize>().extend(elem).ok()?;
        let slot = slot.pad_to_align();
        let bytes = slot.size().checked_mul(cap)?;
        let all = Layout::from_size_align(bytes, slot.align()).ok()?;
        Some((all, slot.size(), elem_offset))
    }

    /// # Panics
    /// If `layout_for(elem, cap)` is `None` or `cap` is 0.
    pub(crate) fn new(elem: Layout, cap: usize) -> Ring {
        assert!(cap > 0);
        let (layout, stride, elem_offset) =
            Self::layout_for(elem, cap).expect("goheap::chan: capacity too large");
        // SAFETY: the layout has a non-zero size (a stamp per slot).
        let slots = unsafe { alloc::alloc(layout) };
        if slots.is_null() {
            alloc::handle_alloc_error(layout);
        }
        let mark = (cap + 1).next_power_of_two();
        let ring = Ring {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            slots,
            layout,
            stride,
            elem_offset,
            cap,
            mark,
            lap: mark * 2,
        };
        for i in 0..cap {
            // SAFETY: slot `i` is inside the fresh allocation, aligned for
            // its stamp.
            unsafe { ptr::write(ring.stamp_ptr(i).cast_mut(), AtomicUsize::new(i)) };
        }
        ring
    }

    fn stamp_ptr(&self, i: usize) -> *const AtomicUsize {
        // SAFETY: i < cap: inside the allocation.
        unsafe { self.slots.add(i * self.stride).cast() }
    }

    fn stamp(&self, i: usize) -> &AtomicUsize {
        // SAFETY: initialised in `new`, lives as long as the ring.
        unsafe { &*self.stamp_ptr(i) }
    }

    fn elem(&self, i: usize) -> *mut u8 {
        // SAFETY: i < cap: inside the allocation.
        unsafe { self.slots.add(i * self.stride + self.elem_offset) }
    }

    /// The position after `pos` (same lap, or the start of the next).
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.mark - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            (pos & !(self.lap - 1)).wrapping_add(self.lap)
        }
    }

    /// Pushes an element, written into its slot by `write`.
    #[inline]
    pub(crate) fn push(&self, write: impl FnOnce(*mut u8)) -> Push {
        let mut spins = 0u32;
        let mut tail = self.tail.0.load(Ordering::Relaxed);
        loop {
            if tail & self.mark != 0 {
                return Push::Closed;
            }
            let index = tail & (self.mark - 1);
            let stamp = self.stamp(index).load(Ordering::Acquire);
            if stamp == tail {
                match self.tail.0.compare_exchange_weak(
                    tail,
                    self.next(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        write(self.elem(index));
                        self.stamp(index).store(tail + 1, Ordering::Release);
                        return Push::Done;
                    }
                    Err(t) => tail = t,
                }
            } else if stamp.wrapping_add(self.lap) == tail + 1 {
                fence(Ordering::SeqCst);
                let head = self.head.0.load(Ordering::Relaxed);
                if head.wrapping_add(self.lap) == tail {
                    return Push::Full;
                }
                backoff(&mut spins);
                tail = self.tail.0.load(Ordering::Relaxed);
            } else {
                backoff(&mut spins);
                tail = self.tail.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest element, handing its slot to `read`, which moves
    /// the element out.
    #[inline]
    pub(crate) fn pop(&self, read: impl FnOnce(*mut u8)) -> Pop {
        let mut spins = 0u32;
        let mut head = self.head.0.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark - 1);
            let stamp = self.stamp(index).load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.head.0.compare_exchange_weak(
                    head,
                    self.next(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        read(self.elem(index));
                        self.stamp(index)
                            .store(head.wrapping_add(self.lap), Ordering::Release);
                        return Pop::Done;
                    }
                    Err(h) => head = h,
                }
            } else if stamp == head {
                fence(Ordering::SeqCst);
                let tail = self.tail.0.load(Ordering::Relaxed);
                if tail & !self.mark == head {
                    return if tail & self.mark != 0 {
                        Pop::Closed
                    } else {
                        Pop::Empty
                    };
                }
                backoff(&mut spins);
                head = self.head.0.load(Ordering::Relaxed);
            } else {
                backoff(&mut spins);
                head = self.head.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Marks the ring closed: later pushes fail. False if it was already.
    pub(crate) fn close(&self) -> bool {
        self.tail.0.fetch_or(self.mark, Ordering::SeqCst) & self.mark == 0
    }

    /// Whether a push (`Dir::Send`) or a pop would find the ring full
    /// (empty) and open, by two relaxed loads and no fence: a hint, which
    /// may be stale by the time the caller acts on it.
    pub(crate) fn looks_blocked(&self, push: bool) -> bool {
        let tail = self.tail.0.load(Ordering::Relaxed);
        let head = self.head.0.load(Ordering::Relaxed);
        tail & self.mark == 0
            && if push {
                head.wrapping_add(self.lap) == tail
            } else {
                head == tail
            }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// How many elements it holds, by a consistent snapshot of both ends.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(Ordering::SeqCst);
            let head = self.head.0.load(Ordering::SeqCst);
            if self.tail.0.load(Ordering::SeqCst) == tail {
                let (t, h) = (tail & !self.mark, head);
                let (ti, hi) = (t & (self.mark - 1), h & (self.mark - 1));
                return if hi < ti {
                    ti - hi
                } else if hi > ti {
                    self.cap - hi + ti
                } else if t == h {
                    0
                } else {
                    self.cap
                };
            }
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // The owner drained the elements (`Hchan::drop`); the stamps need
        // no drop.
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.slots, self.layout) };
    }
}

/// Waits a little for another thread to finish its step on a slot: spins
/// first, then yields the OS thread (that thread may have been preempted
/// between its claim and its stamp store).
fn backoff(spins: &mut u32) {
    if *spins < 6 {
        for _ in 0..1u32 << *spins {
            core::hint::spin_loop();
        }
        *spins += 1;
    } else {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        std::thread::yield_now();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! `RUSTFLAGS="--cfg loom" cargo test --release --lib chan::ring`:
    //! every interleaving of a few pushes, pops and a close on rings of
    //! capacity 1 and 2 keeps each value exactly once and in order.
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    fn push(r: &Ring, v: u64) -> Push {
        // SAFETY: the slot holds room for a u64.
        r.push(|p| unsafe { p.cast::<u64>().write(v) })
    }

    fn pop(r: &Ring) -> Option<u64> {
        let mut out = None;
        // SAFETY: the slot holds a u64 written by `push`.
        let res = r.pop(|p| out = Some(unsafe { p.cast::<u64>().read() }));
        assert_eq!(res == Pop::Done, out.is_some());
        out
    }

    fn drain(r: &Ring) -> Vec<u64> {
        core::iter::from_fn(|| pop(r)).collect()
    }

    /// Two pushers and one popper: every pushed value is popped or still
    /// there, once; each pusher's values come out in its order.
    fn two_pushers_one_popper(cap: usize) {
        loom::model(move || {
            let r = Arc::new(Ring::new(Layout::new::<u64>(), cap));
            let pushers: Vec<_> = [[1u64, 2], [11, 12]]
                .into_iter()
                .map(|vs| {
                    let r = r.clone();
                    thread::spawn(move || {
                        vs.into_iter()
                            .filter(|&v| push(&r, v) == Push::Done)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut got: Vec<u64> = (0..2).filter_map(|_| pop(&r)).collect();
            let mut sent = Vec::new();
            for p in pushers {
                sent.extend(p.join().unwrap());
            }
            got.extend(drain(&r));
            for first in [1, 11] {
                let mine: Vec<_> = got.iter().filter(|&&v| v / 10 == first / 10).collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            }
            got.sort();
            sent.sort();
            assert_eq!(got, sent);
        });
    }

    #[test]
    fn capacity_1_keeps_every_value_once() {
        two_pushers_one_popper(1);
    }

    #[test]
    fn capacity_2_keeps_every_value_once() {
        two_pushers_one_popper(2);
    }

    /// A push racing a close either lands (and is popped) or fails; a pop
    /// reports closed only when the value is not there.
    #[test]
    fn close_races_push() {
        loom::model(|| {
            let r = Arc::new(Ring::new(Layout::new::<u64>(), 1));
            let r2 = r.clone();
            let pusher = thread::spawn(move || push(&r2, 7));
            r.close();
            let popped = pop(&r);
            let pushed = pusher.join().unwrap();
            let rest = pop(&r);
            assert_eq!(pushed == Push::Done, popped.or(rest) == Some(7));
            assert_eq!(pop(&r), None);
        });
    }
}
