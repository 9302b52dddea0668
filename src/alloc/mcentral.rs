//! `MCentral`: the spans of one span class, shared by all threads; as in Go's
//! mcentral.go.
//!
//! Each central keeps two lists of its in-use spans: `partial` (spans with at
//! least one free object: on their free list or not yet carved) and `full`.
//! A thread's mcache moves objects in batches: `refill` takes up to a batch
//! from partial spans (growing the class by a span from the heap when none is
//! left), and `release` gives a batch back, each object to its own span,
//! found through the page→span map.
//!
//! A span that becomes completely free goes back to the heap, unless it is
//! the class's only partial span: keeping one empty span avoids handing
//! pages back and forth when a program allocates and frees one batch over and
//! over.
//!
//! **Transfer cache** (tcmalloc's). A whole batch that a cache flushes
//! (`release_batch`) first goes, as it is, onto the central's `transfer`
//! stack of up to `TRANSFER_SLOTS` batches, and a refill takes a batch from
//! there before it looks at any span: between a thread that frees what
//! another allocates, objects then move a batch at a time in O(1), touching
//! no span and no page of the heap. Only when the stack is full do objects
//! go back to their spans. The scavenger empties the stacks every tick
//! (`drain_transfers`), so idle batches still return to their spans and
//! their pages to the OS. Objects on the stack count as allocated in the
//! statistics, as objects in thread caches do.
//!
//! Lock order: a central's lock, then the heap's. Nothing takes a central
//! lock while holding the heap lock. The transfer lock is a leaf: nothing
//! else is taken while it is held.

use crate::alloc::arena;
use crate::alloc::mheap::HEAP;
use crate::alloc::mspan::{FreeObject, MSpan, MSpanList, ObjList, SpanClass, NUM_SPAN_CLASSES};
use crate::alloc::sizeclasses::CLASS_TO_NPAGES;
use crate::lock::Mutex;

struct Lists {
    partial: MSpanList,
    full: MSpanList,
    /// Objects handed to mcaches and returned by them, ever.
    nmalloc: u64,
    nfree: u64,
}

/// Batches a transfer stack holds at most per class (about 64 KiB each).
const TRANSFER_SLOTS: usize = 4;

/// A central's stack of whole batches (see the module comment).
struct Transfer {
    batches: [ObjList; TRANSFER_SLOTS],
    len: usize,
}

// SAFETY: the batches are lists of free objects that the transfer lock
// guards; no thread holds pointers into them meanwhile.
unsafe impl Send for Transfer {}

impl Transfer {
    /// Pushes `b`, or gives it back if the stack is full.
    fn push(&mut self, b: ObjList) -> Result<(), ObjList> {
        match self.batches.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
                Ok(())
            }
            None => Err(b),
        }
    }

    fn pop(&mut self) -> Option<ObjList> {
        self.len = self.len.checked_sub(1)?;
        Some(self.batches[self.len].take_all())
    }
}

/// The central free lists of one span class.
pub struct MCentral {
    transfer: Mutex<Transfer>,
    lists: Mutex<Lists>,
}

/// One central per span class (Go's `mheap_.central`).
pub static CENTRAL: [MCentral; NUM_SPAN_CLASSES] = [const { MCentral::new() }; NUM_SPAN_CLASSES];

/// The central of span class `spc`.
#[inline]
pub fn central(spc: SpanClass) -> &'static MCentral {
    &CENTRAL[spc.index()]
}

impl MCentral {
    const fn new() -> MCentral {
        MCentral {
            transfer: Mutex::new(Transfer {
                batches: [const { ObjList::new() }; TRANSFER_SLOTS],
                len: 0,
            }),
            lists: Mutex::new(Lists {
                partial: MSpanList::new(),
                full: MSpanList::new(),
                nmalloc: 0,
                nfree: 0,
            }),
        }
    }

    /// Moves free objects of class `spc` (this central's) onto the empty
    /// list `out`: a whole batch from the transfer stack if there is one,
    /// else up to `want` from the spans. Returns how many; 0 only when the
    /// OS refuses memory.
    pub fn refill(&self, spc: SpanClass, want: u32, out: &mut ObjList) -> u32 {
        debug_assert!(out.head.is_null());
        if let Some(batch) = self.transfer.lock().pop() {
            out.head = batch.head;
            out.len = batch.len;
            return batch.len;
        }
        let mut lists = self.lists.lock();
        let mut got = 0;
        while got < want {
            let mut s = lists.partial.first();
            if s.is_null() {
                let npages = CLASS_TO_NPAGES[spc.sizeclass()] as usize;
                match HEAP.lock().alloc_span(npages, 1, spc) {
                    Some(new) => s = new.as_ptr(),
                    None => break,
                }
                // SAFETY: a fresh in-use span on no list.
                unsafe { lists.partial.insert(s) };
            }
            // SAFETY: spans on this central's lists belong to it.
            let span = unsafe { &mut *s };
            let n = span.take(want - got, out);
            lists.nmalloc += n as u64;
            got += n;
            if span.is_full() {
                // SAFETY: s is on the partial list, and then on none.
                unsafe {
                    lists.partial.remove(s);
                    lists.full.insert(s);
                }
            }
        }
        got
    }

    /// Takes a whole batch a cache flushes (objects as for `release`): onto
    /// the transfer stack, or back to the spans if the stack is full.
    pub fn release_batch(&self, objs: ObjList) {
        let full = self.transfer.lock().push(objs);
        if let Err(objs) = full {
            self.release(objs);
        }
    }

    /// Returns every batch on the transfer stack to the spans.
    fn drain_transfer(&self) {
        loop {
            let batch = self.transfer.lock().pop();
            match batch {
                Some(b) => self.release(b),
                None => return,
            }
        }
    }

    /// Returns every object on `objs` (all of this central's class, each
    /// already validated and free-marked) to its span.
    pub fn release(&self, mut objs: ObjList) {
        let mut lists = self.lists.lock();
        loop {
            let p = objs.pop();
            if p.is_null() {
                break;
            }
            let s = arena::span_ptr_at(p as usize);
            if s.is_null() {
                continue;
            }
            // SAFETY: p's span is in use and belongs to this central, whose
            // lock is held.
            unsafe { self.put(&mut lists, s, p) };
        }
    }

    /// # Safety
    /// `s` is a span of this central, `p` a free object of it, and the
    /// central's lock is held (`lists`).
    unsafe fn put(&self, lists: &mut Lists, s: *mut MSpan, p: *mut FreeObject) {
        // SAFETY: forwarded contract.
        let span = unsafe { &mut *s };
        let was_full = span.is_full();
        // SAFETY: forwarded contract.
        unsafe { span.put(p) };
        lists.nfree += 1;
        if was_full {
            // SAFETY: a full span is on the full list.
            unsafe {
                lists.full.remove(s);
                lists.partial.insert(s);
            }
        }
        let only_partial = lists.partial.first() == s && span.next.is_null();
        if span.alloc_count == 0 && !only_partial {
            // SAFETY: an empty span on the partial list goes to the heap.
            unsafe { lists.partial.remove(s) };
            HEAP.lock().free_span(s);
        }
    }

    /// Takes this central's locks across `fork()` (see `lock.rs`).
    pub fn lock_for_fork(&self) {
        self.lists.lock_for_fork();
        self.transfer.lock_for_fork();
    }

    /// # Safety
    /// After `lock_for_fork`, in parent or child.
    pub unsafe fn unlock_after_fork(&self) {
        // SAFETY: forwarded contract.
        unsafe {
            self.transfer.unlock_after_fork();
            self.lists.unlock_after_fork();
        }
    }

    /// Spans on the partial and full lists.
    #[cfg(test)]
    pub fn span_counts(&self) -> (usize, usize) {
        let lists = self.lists.lock();
        (lists.partial.iter().count(), lists.full.iter().count())
    }

    /// Objects handed out to mcaches and returned by them, ever.
    pub fn counts(&self) -> (u64, u64) {
        let lists = self.lists.lock();
        (lists.nmalloc, lists.nfree)
    }
}

/// Returns the batches of every transfer stack to their spans (the
/// scavenger's tick, and `release()`).
pub fn drain_transfers() {
    for c in CENTRAL.iter() {
        c.drain_transfer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::sizeclasses::{class_nelems, size_to_class};

    /// Uses a class no other unit test touches, so the counts are its own.
    #[test]
    fn refill_carves_spans_and_release_returns_them() {
        let class = size_to_class(20000);
        let spc = SpanClass::noscan(class);
        let c = central(spc);
        let per_span = class_nelems(class) as u32;
        let mut objs = ObjList::new();
        assert_eq!(c.refill(spc, 2 * per_span + 1, &mut objs), 2 * per_span + 1);
        assert_eq!(c.span_counts(), (1, 2));
        let mut addrs = Vec::new();
        let mut p = objs.head;
        while !p.is_null() {
            addrs.push(p as usize);
            // SAFETY: objects on the list are free and linked.
            unsafe {
                assert!(FreeObject::is_marked(p));
                p = (*p).next;
            }
        }
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), (2 * per_span + 1) as usize, "distinct objects");
        c.release(objs);
        assert_eq!(c.span_counts(), (1, 0), "one empty span is kept");
        let mut again = ObjList::new();
        assert_eq!(c.refill(spc, 1, &mut again), 1);
        c.release(again);
    }

    /// Whole batches pass from one list to another through the transfer
    /// stack without touching a span; past its slots they go to the spans,
    /// and a drain empties it. Uses a class of its own, as above.
    #[test]
    fn whole_batches_pass_through_the_transfer_stack() {
        let class = size_to_class(13000);
        let spc = SpanClass::noscan(class);
        let c = central(spc);
        let batches: Vec<ObjList> = (0..TRANSFER_SLOTS + 1)
            .map(|_| {
                let mut b = ObjList::new();
                assert_eq!(c.refill(spc, 3, &mut b), 3);
                b
            })
            .collect();
        let heads: Vec<_> = batches.iter().map(|b| b.head).collect();
        let (m, f) = c.counts();
        for b in batches {
            c.release_batch(b);
        }
        assert_eq!(
            c.counts(),
            (m, f + 3),
            "one batch past the slots went to its spans"
        );
        let mut got = ObjList::new();
        assert_eq!(c.refill(spc, 3, &mut got), 3);
        assert_eq!(
            got.head,
            heads[TRANSFER_SLOTS - 1],
            "the last batch stored, as it was"
        );
        assert_eq!(c.counts(), (m, f + 3), "no span touched");
        c.release_batch(got);
        drain_transfers();
        assert_eq!(c.counts(), (m, m), "drained to the spans");
        assert_eq!(c.transfer.lock().len, 0);
    }
}
