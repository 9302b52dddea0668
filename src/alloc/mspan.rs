//! `MSpan`: a run of pages, and the objects carved from it; as in Go's mheap.go
//! (`mspan`, `spanClass`, `mSpanList`).
//!
//! A span is a contiguous run of `npages` pages starting at `base`. It is in
//! one of three states:
//!
//! - `Free`: on one of the heap's free lists. Only its first and last pages
//!   are guaranteed to map to it in the arena's page→span map (that is what
//!   coalescing needs).
//! - `InUse`: handed out by the heap. Every page maps to it, so any address
//!   inside finds its span in O(1). Its `spanclass` says what it holds: a
//!   large object (size class 0), objects of one size class, or tiny blocks.
//! - `Dead`: on no list: back in the heap's fixalloc, or being split or
//!   merged by the heap.
//!
//! An in-use small span divides its pages into `nelems` objects of
//! `elemsize` bytes. Objects are handed out in two ways: first from the
//! span's `freelist` (objects freed back to it), then by *carving* never-used
//! objects from `freeindex` upward. `alloc_count` counts objects not on the
//! span (in use, or sitting in some thread's mcache); when it drops to zero
//! the span can go back to the heap.
//!
//! Free objects are linked through their first word (`FreeObject::next`).
//! Objects of 16 bytes or more also carry a *free mark* in their second word
//! (the address xor a constant) while they are free; `free` checks the mark
//! to catch double frees cheaply, and handing an object out clears it.
//!
//! The free fast path checks a pointer against the span's first cache line
//! alone: `carved` (bytes carved so far, `freeindex · elemsize`, 0 for
//! large spans) bounds it, and `divmagic` tests with one multiply that its
//! offset is a multiple of `elemsize` (`is_carved_object`); `object_index`
//! gives the same answer the long way, with the index.
//!
//! Spans of the tiny span class also own a table of per-block counters
//! (`tiny_counts`): see `mcache.rs`.
//!
//! Fields other than `state` and `freeindex` are written only under the lock
//! of the span's owner (the heap while free, its mcentral while in use) and
//! read by lock-free lookups only for spans that hold a live object, which a
//! happens-before edge through the program orders after those writes.

use crate::alloc::sizeclasses::{
    class_nelems, class_size, CLASS_TO_DIVMUL, NUM_SIZE_CLASSES, PAGE_SIZE, TINY_SIZE_CLASS,
};
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// A size class and whether its objects are free of pointers ("noscan"), as
/// Go packs them: `class << 1 | noscan`. Explicitly freed memory (Rust's and
/// C's) is always noscan; the scan half is for the managed heap. One more
/// class after Go's, `TINY`, holds the tiny allocator's 16-byte blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SpanClass(pub u8);

pub const NUM_SPAN_CLASSES: usize = NUM_SIZE_CLASSES * 2 + 1;

impl SpanClass {
    /// Large objects (size class 0).
    pub const LARGE: SpanClass = SpanClass::noscan(0);
    /// The class of spans not in use (size class 0 with pointers, which
    /// explicit allocation never uses): no free fast path accepts it, so
    /// `free` need not check the span's state before trusting its class.
    pub const NONE: SpanClass = SpanClass(0);
    /// Tiny blocks (16 bytes, with per-block counters).
    pub const TINY: SpanClass = SpanClass((NUM_SPAN_CLASSES - 1) as u8);

    pub const fn noscan(sizeclass: usize) -> SpanClass {
        SpanClass((sizeclass << 1 | 1) as u8)
    }

    /// The class of the managed heap's spans of `sizeclass` (`crate::gc`),
    /// whatever their objects hold: no explicit-free path accepts it.
    pub const fn gc(sizeclass: usize) -> SpanClass {
        SpanClass((sizeclass << 1) as u8)
    }

    /// Whether an *in-use* span of this class belongs to the managed heap.
    #[inline(always)]
    pub fn is_gc(self) -> bool {
        self.0 & 1 == 0 && self != SpanClass::TINY
    }

    /// Whether this is a size class of explicitly freed small objects (not
    /// large, not tiny): the free fast path.
    #[inline(always)]
    pub fn is_small_noscan(self) -> bool {
        self.0.wrapping_sub(SpanClass::noscan(1).0) < SpanClass::TINY.0 - SpanClass::noscan(1).0
            && self.0 & 1 == 1
    }

    #[inline(always)]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    #[inline(always)]
    pub const fn sizeclass(self) -> usize {
        if self.0 == SpanClass::TINY.0 {
            TINY_SIZE_CLASS
        } else {
            (self.0 >> 1) as usize
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum SpanState {
    Dead = 0,
    Free = 1,
    InUse = 2,
}

/// The header a free object carries.
#[repr(C)]
pub struct FreeObject {
    pub next: *mut FreeObject,
    mark: usize,
}

const FREE_MARK_KEY: usize = 0x9e37_79b9_7f4a_7c15;

impl FreeObject {
    /// Marks `p` free (objects of 16 bytes or more).
    ///
    /// # Safety
    /// `p` points to a free object of at least 16 bytes.
    #[inline(always)]
    pub unsafe fn set_mark(p: *mut FreeObject) {
        // SAFETY: forwarded contract.
        unsafe { (*p).mark = p as usize ^ FREE_MARK_KEY };
    }

    /// Clears the free mark of an object being handed out.
    ///
    /// # Safety
    /// `p` points to an object of at least 16 bytes.
    #[inline(always)]
    pub unsafe fn clear_mark(p: *mut FreeObject) {
        // SAFETY: forwarded contract.
        unsafe { (*p).mark = 0 };
    }

    /// Whether `p` carries the free mark: freeing it again is a double free.
    ///
    /// It first compares one byte of the mark, and the whole word only if
    /// that byte matches (1 in 256 live objects). A one-byte load can always
    /// be forwarded from a store still in flight, while a word load that
    /// overlaps a narrower store the program just made (a program writing
    /// the last byte of a 16-byte object, then freeing it) would wait for
    /// that store to reach the cache.
    ///
    /// # Safety
    /// `p` points to an object of at least 16 bytes.
    #[inline(always)]
    pub unsafe fn is_marked(p: *mut FreeObject) -> bool {
        let mark = p as usize ^ FREE_MARK_KEY;
        // SAFETY: forwarded contract: bytes 8..16 of the object are ours to
        // read; the first byte of `mark` in memory is its first native byte.
        unsafe {
            let first = *core::ptr::addr_of!((*p).mark).cast::<u8>();
            first == mark.to_ne_bytes()[0] && (*p).mark == mark
        }
    }
}

/// Whether objects of `spc` are big enough to carry a free mark: every
/// class but large objects and 8-byte objects (span classes 0 to 3).
#[inline(always)]
pub fn has_free_mark(spc: SpanClass) -> bool {
    spc.0 > SpanClass::noscan(1).0
}

/// A singly linked list of free objects with its length: the unit in which
/// objects move between an mcache and an mcentral. An mcache's lists also
/// carry the length past which the cache gives a batch back (`limit`), in
/// the same cache line as the head.
pub struct ObjList {
    pub head: *mut FreeObject,
    pub len: u32,
    pub limit: u32,
}

impl ObjList {
    pub const fn new() -> ObjList {
        ObjList::with_limit(0)
    }

    pub const fn with_limit(limit: u32) -> ObjList {
        ObjList {
            head: ptr::null_mut(),
            len: 0,
            limit,
        }
    }

    /// Detaches all objects as a list of their own.
    pub fn take_all(&mut self) -> ObjList {
        let all = ObjList {
            head: self.head,
            len: self.len,
            limit: 0,
        };
        self.head = ptr::null_mut();
        self.len = 0;
        all
    }

    /// Pushes `p`.
    ///
    /// # Safety
    /// `p` is a free object no list holds.
    #[inline(always)]
    pub unsafe fn push(&mut self, p: *mut FreeObject) {
        // SAFETY: p is a free object, so its first word is ours.
        unsafe { (*p).next = self.head };
        self.head = p;
        self.len += 1;
    }

    /// Pops an object, or null when empty. Prefetches the next one, whose
    /// first word the next pop reads (as tcmalloc does): a list threads
    /// through objects all over the heap, so that read would often miss.
    #[inline(always)]
    pub fn pop(&mut self) -> *mut FreeObject {
        let p = self.head;
        if !p.is_null() {
            // SAFETY: objects on the list are free and linked through `next`.
            self.head = unsafe { (*p).next };
            self.len -= 1;
            prefetch(self.head);
        }
        p
    }

    /// Puts all of `objs` in front of this list's objects (walks `objs`).
    pub fn push_list(&mut self, objs: ObjList) {
        if objs.head.is_null() {
            return;
        }
        let mut last = objs.head;
        // SAFETY: objects on a list are free and linked through `next`, and
        // `objs` holds `objs.len` of them.
        unsafe {
            while !(*last).next.is_null() {
                last = (*last).next;
            }
            (*last).next = self.head;
        }
        self.head = objs.head;
        self.len += objs.len;
    }

    /// Detaches the first `n` objects (n ≤ len) as a list of their own.
    pub fn split_off_front(&mut self, n: u32) -> ObjList {
        let front = ObjList {
            head: self.head,
            len: n,
            limit: 0,
        };
        let mut last = self.head;
        for _ in 1..n {
            // SAFETY: n ≤ len, so the first n nodes exist.
            last = unsafe { (*last).next };
        }
        if n > 0 {
            // SAFETY: last is the n-th node.
            unsafe {
                self.head = (*last).next;
                (*last).next = ptr::null_mut();
            }
        }
        self.len -= n;
        front
    }
}

/// Asks the CPU to bring `p`'s cache line in; does nothing on null or on
/// other architectures.
#[inline(always)]
fn prefetch(p: *mut FreeObject) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, even on null.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Per-block counters of a tiny span (one page of 16-byte blocks).
pub type TinyCounts = [AtomicU8; PAGE_SIZE / 16];

/// A run of pages (see the module comment). The fields `free` reads come
/// first, so that they share one cache line.
#[repr(C)]
pub struct MSpan {
    pub base: usize,
    /// `u64::MAX / elemsize + 1` for small classes: `off` (< 2³²) is a
    /// multiple of `elemsize` exactly when `off · divmagic mod 2⁶⁴ <
    /// divmagic` (Lemire's divisibility test; see `is_carved_object`).
    divmagic: u64,
    /// Bytes carved so far, `freeindex · elemsize`, for small classes (0
    /// for others): every object starting below has been handed out once.
    carved: AtomicU32,
    state: AtomicU8,
    pub spanclass: SpanClass,
    /// Whether the memory may hold old data (see `arena::HeapArena::zeroed_base`).
    pub needzero: bool,
    pub divmul: u32,
    freeindex: AtomicU32,
    pub elemsize: usize,
    pub nelems: u32,
    pub alloc_count: u32,
    pub npages: usize,
    /// For a free span: the scavenger generation in which it was last freed.
    pub free_gen: u32,
    pub next: *mut MSpan,
    pub prev: *mut MSpan,
    pub freelist: *mut FreeObject,
    pub tiny_counts: *mut TinyCounts,
}

impl MSpan {
    pub fn new(base: usize, npages: usize) -> MSpan {
        MSpan {
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            base,
            npages,
            state: AtomicU8::new(SpanState::Dead as u8),
            spanclass: SpanClass::NONE,
            needzero: false,
            elemsize: 0,
            divmul: 0,
            divmagic: 0,
            carved: AtomicU32::new(0),
            nelems: 0,
            freeindex: AtomicU32::new(0),
            alloc_count: 0,
            free_gen: 0,
            freelist: ptr::null_mut(),
            tiny_counts: ptr::null_mut(),
        }
    }

    #[inline(always)]
    pub fn limit(&self) -> usize {
        self.base + self.npages * PAGE_SIZE
    }

    #[inline(always)]
    pub fn state(&self) -> SpanState {
        match self.state.load(Ordering::Acquire) {
            1 => SpanState::Free,
            2 => SpanState::InUse,
            _ => SpanState::Dead,
        }
    }

    pub fn set_state(&self, s: SpanState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Prepares an in-use span to hold objects of `spc`.
    pub fn init_class(&mut self, spc: SpanClass) {
        self.spanclass = spc;
        self.freelist = ptr::null_mut();
        self.alloc_count = 0;
        self.freeindex.store(0, Ordering::Relaxed);
        self.carved.store(0, Ordering::Relaxed);
        self.divmagic = 0;
        let class = spc.sizeclass();
        if class == 0 {
            // One object, carved at once; divmul 0 makes every offset index 0.
            self.elemsize = self.npages * PAGE_SIZE;
            self.nelems = 1;
            self.divmul = 0;
            self.alloc_count = 1;
            self.freeindex.store(1, Ordering::Relaxed);
        } else {
            self.elemsize = class_size(class);
            self.nelems = class_nelems(class) as u32;
            self.divmul = CLASS_TO_DIVMUL[class];
            self.divmagic = u64::MAX / self.elemsize as u64 + 1;
        }
    }

    /// Whether `p` is the start of an object of this small span that was
    /// handed out at least once: the free fast path's check, a compare and
    /// a multiply. (`off < carved` also proves `p` lies inside the span,
    /// whatever a stale map entry pointed at, and keeps `off` below 2³², as
    /// the divisibility test needs.) Always false for large spans.
    #[inline(always)]
    pub fn is_carved_object(&self, p: usize) -> bool {
        let off = p.wrapping_sub(self.base) as u64;
        off < u64::from(self.carved.load(Ordering::Relaxed))
            && off.wrapping_mul(self.divmagic) < self.divmagic
    }

    /// The index of the object starting exactly at `p`, or `None` if `p` is
    /// not the start of an object that was ever handed out from this span.
    /// (`idx · elemsize == off` with `idx < freeindex ≤ nelems` also proves
    /// that `p` lies inside the span, whatever a stale map entry pointed at.)
    #[inline(always)]
    pub fn object_index(&self, p: usize) -> Option<usize> {
        let off = p.wrapping_sub(self.base);
        let idx = ((off as u64).wrapping_mul(self.divmul as u64) >> 32) as usize;
        let carved = self.freeindex.load(Ordering::Relaxed) as usize;
        (idx.wrapping_mul(self.elemsize) == off && idx < carved).then_some(idx)
    }

    /// Marks a large span's object as handed out (`true`) or as sitting in
    /// a thread's large-span cache (`false`): then `object_index` rejects
    /// it, so freeing it again is caught as an invalid pointer.
    pub fn set_large_handed_out(&self, handed_out: bool) {
        self.freeindex.store(handed_out as u32, Ordering::Relaxed);
    }

    pub fn is_full(&self) -> bool {
        self.alloc_count == self.nelems
    }

    /// Moves up to `want` free objects onto `out`: first from the span's
    /// free list, then carved fresh. Returns how many it moved.
    pub fn take(&mut self, want: u32, out: &mut ObjList) -> u32 {
        let mark = has_free_mark(self.spanclass);
        let mut n = 0;
        while n < want && !self.freelist.is_null() {
            let p = self.freelist;
            // SAFETY: objects on the span's free list are free and linked.
            unsafe {
                self.freelist = (*p).next;
                out.push(p);
            }
            n += 1;
        }
        let mut idx = self.freeindex.load(Ordering::Relaxed);
        while n < want && idx < self.nelems {
            let p = (self.base + idx as usize * self.elemsize) as *mut FreeObject;
            // SAFETY: a never-carved object inside this in-use span.
            unsafe {
                if mark {
                    FreeObject::set_mark(p);
                }
                out.push(p);
            }
            idx += 1;
            n += 1;
        }
        self.freeindex.store(idx, Ordering::Relaxed);
        // Small spans are at most 10 pages: the byte count fits.
        self.carved
            .store((idx as usize * self.elemsize) as u32, Ordering::Relaxed);
        self.alloc_count += n;
        n
    }

    /// Returns one object to the span.
    ///
    /// # Safety
    /// `p` is a free object of this span, on no list.
    pub unsafe fn put(&mut self, p: *mut FreeObject) {
        // SAFETY: forwarded contract.
        unsafe { (*p).next = self.freelist };
        self.freelist = p;
        self.alloc_count -= 1;
    }
}

/// An intrusive doubly linked list of spans (Go's `mSpanList`).
pub struct MSpanList {
    first: *mut MSpan,
}

// SAFETY: the list only links span records; its owner's lock guards it.
unsafe impl Send for MSpanList {}

impl MSpanList {
    pub const fn new() -> MSpanList {
        MSpanList {
            first: ptr::null_mut(),
        }
    }

    pub fn first(&self) -> *mut MSpan {
        self.first
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_null()
    }

    /// # Safety
    /// `s` is a live span record on no list.
    pub unsafe fn insert(&mut self, s: *mut MSpan) {
        // SAFETY: s and the list's first record are live span records.
        unsafe {
            (*s).prev = ptr::null_mut();
            (*s).next = self.first;
            if !self.first.is_null() {
                (*self.first).prev = s;
            }
        }
        self.first = s;
    }

    /// # Safety
    /// `s` is on this list.
    pub unsafe fn remove(&mut self, s: *mut MSpan) {
        // SAFETY: s and its neighbours are live records on this list.
        unsafe {
            if (*s).prev.is_null() {
                self.first = (*s).next;
            } else {
                (*(*s).prev).next = (*s).next;
            }
            if !(*s).next.is_null() {
                (*(*s).next).prev = (*s).prev;
            }
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
        }
    }

    /// Iterates over the records on the list.
    pub fn iter(&self) -> impl Iterator<Item = *mut MSpan> + '_ {
        let mut cur = self.first;
        core::iter::from_fn(move || {
            let s = cur;
            if s.is_null() {
                return None;
            }
            // SAFETY: records on the list are live and linked.
            cur = unsafe { (*s).next };
            Some(s)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_noscan_classes_are_exactly_the_fast_free_path() {
        for i in 0..=255u8 {
            let spc = SpanClass(i);
            let want = i & 1 == 1 && (3..NUM_SPAN_CLASSES as u8 - 1).contains(&i);
            assert_eq!(spc.is_small_noscan(), want, "span class {i}");
        }
        assert!(!has_free_mark(SpanClass::noscan(1)) && !has_free_mark(SpanClass::LARGE));
        assert!(has_free_mark(SpanClass::noscan(2)) && has_free_mark(SpanClass::TINY));
    }

    #[test]
    fn span_classes_pack_like_go() {
        assert_eq!(SpanClass::noscan(5).index(), 11);
        assert_eq!(SpanClass::noscan(5).sizeclass(), 5);
        assert_eq!(SpanClass::LARGE.sizeclass(), 0);
        assert_eq!(SpanClass::TINY.sizeclass(), TINY_SIZE_CLASS);
        assert!(SpanClass::TINY.index() < NUM_SPAN_CLASSES);
        assert_ne!(SpanClass::TINY, SpanClass::noscan(TINY_SIZE_CLASS));
    }

    /// A span over a heap buffer: carving, the free list and the object
    /// index all agree.
    #[test]
    fn take_put_and_object_index() {
        let page = vec![0u64; PAGE_SIZE / 8 * 2];
        let base = (page.as_ptr() as usize).next_multiple_of(4096);
        let mut s = MSpan::new(base, 1);
        s.init_class(SpanClass::noscan(5)); // 48-byte objects
        assert_eq!(s.nelems, 170);
        assert_eq!(s.object_index(base), None, "nothing carved yet");
        let mut l = ObjList::new();
        assert_eq!(s.take(10, &mut l), 10);
        assert_eq!((l.len, s.alloc_count), (10, 10));
        assert_eq!(s.object_index(base + 9 * 48), Some(9));
        assert_eq!(s.object_index(base + 10 * 48), None, "not carved");
        assert_eq!(s.object_index(base + 48 + 8), None, "interior");
        let p = l.pop();
        // SAFETY: p is a carved, free 48-byte object.
        unsafe {
            assert!(FreeObject::is_marked(p));
            FreeObject::clear_mark(p);
            assert!(!FreeObject::is_marked(p));
            FreeObject::set_mark(p);
            s.put(p);
        }
        assert_eq!(s.alloc_count, 9);
        let mut again = ObjList::new();
        assert_eq!(s.take(1, &mut again), 1);
        assert_eq!(again.head, p, "the free list is used before carving");
        let front = l.split_off_front(4);
        assert_eq!((front.len, l.len), (4, 5));
        s.take(1000, &mut again);
        assert!(s.is_full());
    }

    /// The free fast path's check agrees with `object_index` at every
    /// offset in and around a span of every class, as carving proceeds.
    #[test]
    fn carved_object_check_agrees_with_object_index() {
        for class in 1..NUM_SIZE_CLASSES {
            let npages = crate::alloc::sizeclasses::CLASS_TO_NPAGES[class] as usize;
            let buf = vec![0u64; (npages + 2) * PAGE_SIZE / 8];
            let base = (buf.as_ptr() as usize).next_multiple_of(PAGE_SIZE);
            let mut s = MSpan::new(base, npages);
            s.init_class(SpanClass::noscan(class));
            let mut out = ObjList::new();
            for want in [0, 1, s.nelems / 2, s.nelems] {
                s.take(want, &mut out);
                for p in (base - 64..s.limit() + 64).step_by(8) {
                    let by_index = s.object_index(p).is_some();
                    assert_eq!(
                        s.is_carved_object(p),
                        by_index,
                        "class {class} at +{}",
                        p - base
                    );
                }
            }
            assert!(s.is_full());
        }
    }

    #[test]
    fn large_spans_never_pass_the_carved_object_check() {
        let page = vec![0u64; PAGE_SIZE / 8 * 2];
        let base = (page.as_ptr() as usize).next_multiple_of(PAGE_SIZE);
        let mut s = MSpan::new(base, 1);
        s.init_class(SpanClass::LARGE);
        assert_eq!(s.object_index(base), Some(0));
        assert!(!s.is_carved_object(base));
    }

    #[test]
    fn span_list_insert_remove() {
        let mut a = MSpan::new(0, 1);
        let mut b = MSpan::new(8192, 1);
        let mut l = MSpanList::new();
        // SAFETY: a and b outlive the list and are on no other list.
        unsafe {
            l.insert(&mut a);
            l.insert(&mut b);
            assert_eq!(l.iter().count(), 2);
            l.remove(&mut b);
            assert_eq!(l.first(), &mut a as *mut MSpan);
            l.remove(&mut a);
        }
        assert!(l.is_empty());
    }
}
