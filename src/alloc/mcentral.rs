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
//! Lock order: a central's lock, then the heap's. Nothing takes a central
//! lock while holding the heap lock.

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

/// The central free lists of one span class.
pub struct MCentral {
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
            lists: Mutex::new(Lists {
                partial: MSpanList::new(),
                full: MSpanList::new(),
                nmalloc: 0,
                nfree: 0,
            }),
        }
    }

    /// Moves up to `want` free objects of class `spc` (this central's) onto
    /// `out`. Returns how many; 0 only when the OS refuses memory.
    pub fn refill(&self, spc: SpanClass, want: u32, out: &mut ObjList) -> u32 {
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

    /// Takes this central's lock across `fork()` (see `lock.rs`).
    pub fn lock_for_fork(&self) {
        self.lists.lock_for_fork();
    }

    /// # Safety
    /// After `lock_for_fork`, in parent or child.
    pub unsafe fn unlock_after_fork(&self) {
        // SAFETY: forwarded contract.
        unsafe { self.lists.unlock_after_fork() };
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
}
