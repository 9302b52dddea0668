//! `MCache`: each thread's private cache of free objects; and the tiny
//! allocator. As in Go's mcache.go and the tiny path of malloc.go.
//!
//! A thread allocates and frees small objects through its own mcache with no
//! lock and no atomic read-modify-write: each span class has a list of free
//! objects (`ObjList`), and `alloc` pops, `free` pushes. An object freed on
//! another thread than the one that allocated it simply joins the freeing
//! thread's list: objects are interchangeable within a class. Lists move in
//! batches: an empty list is refilled with `BATCH[class]` objects from the
//! class's mcentral; a list longer than `2 × BATCH` gives `BATCH` back, as a
//! whole, to the central's transfer stack (`mcentral.rs`), where the next
//! refill of any thread finds it. So a thread caches a bounded amount, and
//! a producer→consumer pair cycles batches through the central instead of
//! growing the heap. A class's first refill takes 4 KiB of objects (at
//! least one), and refills double up to the batch (`FIRST_REFILL`).
//!
//! The fast paths (`try_alloc`, `push_free`) are a list pop and a list push,
//! called by `malloc.rs` with the cache pointer it read from the thread word
//! (one initial-exec TLS load); refills and flushes are out of line.
//!
//! The cache lives in a thread-local pointer. It is created on the thread's
//! first allocation (records come from `CACHEALLOC`, a fixalloc). At thread
//! exit a `pthread` key destructor parks it, contents and all, in a small
//! pool (`PARKED`) that the next new threads take their caches from; the
//! scavenger empties parked caches every tick, and a cache that finds the
//! pool full is flushed and freed. After that the
//! thread is marked dead and whatever it still allocates or frees (other
//! destructors run later) goes through `ORPHAN`, one shared cache under a
//! lock, as does a thread whose cache could not be created.
//!
//! A cache also keeps the last few large spans (up to 1 MiB) its thread
//! freed, for the thread's next large allocation of the same size: a
//! program that allocates and frees a big buffer in a loop then skips the
//! heap lock. Such a span stays in use for the heap, with its object marked
//! not handed out, so a second free of it is caught.
//!
//! Caches also shrink while their thread runs: once per scavenger tick
//! (`mheap::GENERATION`), the next refill or flush gives half of every list back.
//! A thread that stops allocating altogether keeps its bounded lists until
//! it exits or calls `release()`.
//!
//! **Sampling** (heap profiles, `crate::profile`; only while profiling is
//! on: with it off, none of this happens). The fast paths do not count
//! bytes; the cache pays for objects in advance instead. `next_sample` is
//! the bytes left to the sampling point beyond what the lists of sampled
//! classes hold, and every object on such a list is paid for: a refill
//! (`refill_paid`) moves onto the list only as many objects as lie wholly
//! before the point and subtracts their bytes. The list limit of sampled
//! classes is 0, so each free goes to `flush`, which moves the object to
//! `unpaid`, a second list per class that the fast path never reads;
//! refills take from there first. When a refill finds less than one object
//! of room, it first takes back (`refund`) what every list holds unspent;
//! then `next_sample` is exactly the bytes the thread may still allocate
//! before the point, and if one object does not fit, it crosses the point:
//! the refill hands out that one object and leaves `next_sample` negative,
//! and the allocator samples it (`take_sample`, which draws the next
//! distance). Samples are so taken exactly where counting every allocation
//! would take them. Trims and releases refund first.
//!
//! Tiny requests are counted one by one, as Go's mallocgc counts them: while
//! profiling is on, `tiny_limit` is 0, so every tiny request misses the fast
//! path and `alloc_tiny_slow` subtracts its size from `next_sample` (as a
//! large allocation does). The request that crosses the point is not packed
//! into a block: the allocator gives it a span of its own, as it does every
//! sampled object, so its own free ends its record. Counting at the request
//! (rather than per 16-byte block) is what charges a program that allocates
//! and frees tiny objects in a loop: its current block starts over at offset
//! 0 every time (below) and never asks for a new one.
//!
//! **Tiny allocator.** Requests under 16 bytes with alignment under 8 (the
//! bytes of short strings) are packed into 16-byte blocks of the `TINY` span
//! class: the cache keeps a current block and an offset into it. Go never
//! frees these; goheap does, with a counter per block in the span's
//! `tiny_counts`. When a block becomes current its counter is *precharged*
//! to `TINY_PRECHARGE`; each free of a piece decrements it atomically (pieces
//! can be freed on any thread); when the cache moves on to a new block it
//! subtracts the pieces it never handed out. Whoever brings the counter to
//! zero frees the block. The alloc path touches no counter, and neither does
//! a free of a piece of the cache's own current block: the cache counts
//! those itself (`tiny_local_frees`), and when all its pieces are back it
//! reuses the block from offset 0. The fast path needs one compare, against
//! `tiny_limit`: `TINY_SIZE` while there is a current block and profiling is
//! off, 0 otherwise.

use crate::alloc::arena;
use crate::alloc::fixalloc::FixAlloc;
use crate::alloc::mcentral::central;
use crate::alloc::mheap::{GENERATION, HEAP};
use crate::alloc::mspan::{has_free_mark, FreeObject, MSpan, ObjList, SpanClass, NUM_SPAN_CLASSES};
use crate::alloc::sizeclasses::{class_size, PAGE_SIZE, TINY_SIZE};
use crate::lock::Mutex;
use crate::os;
use crate::profile::sampler;
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

/// Objects moved per refill or flush: about 64 KiB, 4 to 64 objects.
const BATCH: [u32; NUM_SPAN_CLASSES] = batch_table();

const fn batch_table() -> [u32; NUM_SPAN_CLASSES] {
    let mut t = [0u32; NUM_SPAN_CLASSES];
    let mut i = 0;
    while i < NUM_SPAN_CLASSES {
        let size = class_size(SpanClass(i as u8).sizeclass());
        // Large objects (size 0) have no batch.
        t[i] = match (64usize << 10).checked_div(size) {
            None => 0,
            Some(n) => {
                (if n < 4 {
                    4
                } else if n > 64 {
                    64
                } else {
                    n
                }) as u32
            }
        };
        i += 1;
    }
    t
}

/// The first refill of a class in a fresh (or trimmed) cache: the objects
/// of 4 KiB (`FIRST_REFILL_BYTES`), at least one, at most a batch. A
/// thread that uses a class a few times then holds a few objects, not 64
/// KiB (a program touching many classes on many threads kept 2× the pages
/// mimalloc did); later refills double up to `BATCH` (tcmalloc's slow
/// start), so a class in steady use moves whole batches after four.
const FIRST_REFILL: [u8; NUM_SPAN_CLASSES] = first_refill_table();
const FIRST_REFILL_BYTES: usize = 4096;

const fn first_refill_table() -> [u8; NUM_SPAN_CLASSES] {
    let mut t = [0u8; NUM_SPAN_CLASSES];
    let mut i = 0;
    while i < NUM_SPAN_CLASSES {
        let size = class_size(SpanClass(i as u8).sizeclass());
        t[i] = match FIRST_REFILL_BYTES.checked_div(size) {
            None => 0,
            Some(n) if n < 1 => 1,
            Some(n) if n > BATCH[i] as usize => BATCH[i] as u8,
            Some(n) => n as u8,
        };
        i += 1;
    }
    t
}

/// Empty lists, each with its class's limit of twice a batch.
const fn cache_lists() -> [ObjList; NUM_SPAN_CLASSES] {
    let mut lists = [const { ObjList::new() }; NUM_SPAN_CLASSES];
    let mut i = 0;
    while i < NUM_SPAN_CLASSES {
        lists[i].limit = 2 * BATCH[i];
        i += 1;
    }
    lists
}

/// Large spans a cache keeps, and the largest it keeps (in pages).
const LARGE_CACHE_SLOTS: usize = 4;
/// What `alloc_tiny` gives.
pub enum Tiny {
    /// A piece of a tiny block (null when out of memory).
    Piece(*mut u8),
    /// The heap profile samples the request: it needs an object of its own.
    Sampled,
}

const LARGE_CACHE_MAX_PAGES: usize = (1 << 20) / PAGE_SIZE;

/// Counter value of a block that is some cache's current tiny block.
const TINY_PRECHARGE: u8 = 128;

/// A thread's cache (see the module comment). `lists` comes first, so that
/// the fast paths address a list as cache + 16 · class.
#[repr(C)]
pub struct MCache {
    lists: [ObjList; NUM_SPAN_CLASSES],
    tiny: usize,
    tiny_offset: usize,
    /// Room of the fast path in the current block (see "Tiny allocator").
    tiny_limit: usize,
    tiny_allocs: u8,
    tiny_local_frees: u8,
    tiny_count: *const AtomicU8,
    trim_epoch: u32,
    /// Objects the next refill of each class takes (see `FIRST_REFILL`).
    next_refill: [u8; NUM_SPAN_CLASSES],
    /// Large spans this thread freed, kept for its next large allocation of
    /// the same size (see `alloc_large`).
    large: [*mut MSpan; LARGE_CACHE_SLOTS],
    /// Heap-profile sampling (see "Sampling" above): the mean bytes between
    /// samples, 0 when off; whether it was read for this cache yet; the
    /// bytes left to the next sampling point beyond what the lists hold
    /// (Go's `mcache.nextSample`); and the objects of each class that are
    /// not paid for yet.
    sample_rate: usize,
    sampling_armed: bool,
    next_sample: isize,
    unpaid: [ObjList; NUM_SPAN_CLASSES],
}

// SAFETY: an mcache only holds pointers to free heap objects; whoever holds
// it (its thread, or the ORPHAN lock) has it exclusively.
unsafe impl Send for MCache {}

impl MCache {
    const fn new() -> MCache {
        MCache {
            lists: cache_lists(),
            tiny: 0,
            tiny_offset: 0,
            tiny_limit: 0,
            tiny_allocs: 0,
            tiny_local_frees: 0,
            tiny_count: ptr::null(),
            trim_epoch: 0,
            next_refill: FIRST_REFILL,
            large: [ptr::null_mut(); LARGE_CACHE_SLOTS],
            sample_rate: 0,
            sampling_armed: false,
            next_sample: isize::MAX,
            unpaid: [const { ObjList::new() }; NUM_SPAN_CLASSES],
        }
    }

    /// Allocates an object of class `spc`; null when out of memory.
    #[inline(always)]
    pub fn alloc(&mut self, spc: SpanClass) -> *mut u8 {
        let p = self.try_alloc(spc);
        if p.is_null() {
            return self.refill(spc);
        }
        p
    }

    /// Pops an object of class `spc` off this cache's list: the allocation
    /// fast path. Null when the list is empty (then `alloc` refills it).
    #[inline(always)]
    pub fn try_alloc(&mut self, spc: SpanClass) -> *mut u8 {
        // SAFETY: span class indexes are below NUM_SPAN_CLASSES.
        let list = unsafe { self.lists.get_unchecked_mut(spc.index()) };
        let p = list.pop();
        if !p.is_null() && has_free_mark(spc) {
            // SAFETY: p is a free object of at least 16 bytes.
            unsafe { FreeObject::clear_mark(p) };
        }
        p.cast()
    }

    #[inline(never)]
    fn refill(&mut self, spc: SpanClass) -> *mut u8 {
        self.trim_if_new_epoch();
        let i = spc.index();
        let want = self.next_refill[i];
        self.next_refill[i] = want.saturating_mul(2).min(BATCH[i] as u8);
        if self.samples(spc) {
            return self.refill_paid(spc, want);
        }
        if central(spc).refill(spc, u32::from(want), &mut self.lists[i]) == 0 {
            return ptr::null_mut();
        }
        self.alloc(spc)
    }

    /// Frees object `p` of class `spc`, which the caller has validated.
    ///
    /// Returns whether the cache gave a batch back to the central (then the
    /// heap may have pages to release: see `scavenger`).
    ///
    /// # Safety
    /// `p` is an in-use object of class `spc` that nothing uses any more.
    #[inline(always)]
    pub unsafe fn free(&mut self, spc: SpanClass, p: *mut u8) -> bool {
        // SAFETY: forwarded contract.
        let over = unsafe { self.push_free(spc, p) };
        if over {
            self.flush(spc);
        }
        over
    }

    /// Marks `p` free and pushes it on its list: the free fast path.
    /// Returns whether the list is now past its limit; then the caller
    /// calls `flush(spc)`.
    ///
    /// # Safety
    /// As `free`.
    #[inline(always)]
    pub unsafe fn push_free(&mut self, spc: SpanClass, p: *mut u8) -> bool {
        let p = p.cast::<FreeObject>();
        // SAFETY: span class indexes are below NUM_SPAN_CLASSES.
        let list = unsafe { self.lists.get_unchecked_mut(spc.index()) };
        // SAFETY: p is a free object now, at least 16 bytes if marked.
        unsafe {
            if has_free_mark(spc) {
                FreeObject::set_mark(p);
            }
            list.push(p);
        }
        list.len > list.limit
    }

    /// Gives a batch of the list of `spc` back to its central (while
    /// sampling: moves the object just freed off the list, see `samples`).
    #[inline]
    pub fn flush(&mut self, spc: SpanClass) {
        let i = spc.index();
        if !self.samples(spc) {
            return self.flush_batch(spc);
        }
        let p = self.lists[i].pop();
        // SAFETY: p is the free object just pushed.
        unsafe { self.unpaid[i].push(p) };
        if self.unpaid[i].len > 2 * BATCH[i] {
            self.flush_unpaid(spc);
        }
    }

    #[inline(never)]
    fn flush_batch(&mut self, spc: SpanClass) {
        let i = spc.index();
        central(spc).release_batch(self.lists[i].split_off_front(BATCH[i]));
        self.trim_if_new_epoch();
    }

    /// `flush` while sampling: a batch of `unpaid` goes back.
    #[cold]
    #[inline(never)]
    fn flush_unpaid(&mut self, spc: SpanClass) {
        let i = spc.index();
        central(spc).release_batch(self.unpaid[i].split_off_front(BATCH[i]));
        self.trim_if_new_epoch();
    }

    /// Reads the heap-profile rate for this cache, once, before it holds
    /// any object (`with_new`).
    fn arm_sampling(&mut self) {
        if !self.sampling_armed {
            self.sampling_armed = true;
            self.start_sampling(crate::profile::rate());
        }
    }

    /// Samples one allocation per `rate` bytes on average from now on
    /// (0: never): every sampled class's list is emptied into `unpaid` and
    /// gets limit 0, so that each free leaves its object there (`flush`).
    fn start_sampling(&mut self, rate: usize) {
        self.sample_rate = rate;
        if rate == 0 {
            return;
        }
        self.next_sample = sampler::draw(rate);
        for i in 0..NUM_SPAN_CLASSES {
            if self.samples(SpanClass(i as u8)) {
                let objs = self.lists[i].take_all();
                self.unpaid[i].push_list(objs);
                self.lists[i].limit = 0;
            }
        }
    }

    /// Whether allocations of `spc` are counted for the heap profile: all
    /// small classes but tiny blocks, while profiling is on.
    #[inline(always)]
    fn samples(&self, spc: SpanClass) -> bool {
        self.sample_rate != 0 && spc != SpanClass::TINY && BATCH[spc.index()] != 0
    }

    /// Refills the list of `spc` while sampling: up to `want` objects, as
    /// many as lie wholly before the sampling point, paid for now; or, if
    /// not even one does once every list's unspent payment is back, the one
    /// object that crosses the point (then `next_sample` is negative until
    /// `take_sample`). So the fast path pops without counting, and the
    /// sampled allocation comes here.
    fn refill_paid(&mut self, spc: SpanClass, want: u8) -> *mut u8 {
        let i = spc.index();
        let size = class_size(spc.sizeclass()) as isize;
        if self.next_sample < size {
            self.refund();
        }
        if self.unpaid[i].len == 0
            && central(spc).refill(spc, u32::from(want), &mut self.unpaid[i]) == 0
        {
            return ptr::null_mut();
        }
        let n = (self.next_sample / size).clamp(1, isize::from(want));
        let paid = self.unpaid[i].split_off_front((n as u32).min(self.unpaid[i].len));
        self.next_sample -= paid.len as isize * size;
        self.lists[i].head = paid.head;
        self.lists[i].len = paid.len;
        self.try_alloc(spc)
    }

    /// Takes back what the lists of sampled classes hold: objects paid for
    /// but not handed out go back to `unpaid`, their bytes to `next_sample`.
    /// Then `next_sample` is exactly the bytes the thread may still allocate
    /// before its sampling point.
    fn refund(&mut self) {
        for i in 0..NUM_SPAN_CLASSES {
            let spc = SpanClass(i as u8);
            if self.lists[i].len != 0 && self.samples(spc) {
                let objs = self.lists[i].take_all();
                self.next_sample += objs.len as isize * class_size(spc.sizeclass()) as isize;
                self.unpaid[i].push_list(objs);
            }
        }
    }

    /// An allocation of `size` bytes counted on its own (a large object, a
    /// tiny request while profiling): whether the sampling point lies in it
    /// (then it is sampled).
    pub fn sample_bytes(&mut self, size: usize) -> bool {
        if self.sample_rate == 0 {
            return false;
        }
        let size = size.min(isize::MAX as usize) as isize;
        if self.next_sample < size {
            self.refund();
        }
        self.next_sample = self.next_sample.saturating_sub(size);
        self.take_sample()
    }

    /// After an allocation: whether it crossed the sampling point, that is
    /// whether it is sampled; if so the next point is drawn.
    #[inline(always)]
    pub fn take_sample(&mut self) -> bool {
        if self.next_sample >= 0 {
            return false;
        }
        self.next_sample = sampler::draw(self.sample_rate);
        true
    }

    /// Once per scavenger tick (`mheap::GENERATION`), on its own slow path, the
    /// cache gives half of every list back: objects a thread stopped using
    /// drain away instead of pinning their spans.
    fn trim_if_new_epoch(&mut self) {
        let epoch = GENERATION.load(Ordering::Relaxed);
        if epoch == self.trim_epoch {
            return;
        }
        self.trim_epoch = epoch;
        self.next_refill = FIRST_REFILL;
        self.release_large();
        self.refund();
        for i in 0..NUM_SPAN_CLASSES {
            for list in [&mut self.lists[i], &mut self.unpaid[i]] {
                let half = list.len / 2;
                if half > 0 {
                    central(SpanClass(i as u8)).release(list.split_off_front(half));
                }
            }
        }
    }

    /// Allocates `size` (< 16) bytes aligned to `align` (< 8) inside a
    /// shared 16-byte block. Returns the piece (null when out of memory),
    /// or `Tiny::Sampled` when the heap profile samples this request: then
    /// the caller gives it an object of its own.
    #[inline(always)]
    pub fn alloc_tiny(&mut self, size: usize, align: usize) -> Tiny {
        let off = (self.tiny_offset + align - 1) & !(align - 1);
        if off + size <= self.tiny_limit {
            return Tiny::Piece(self.take_tiny_piece(off, size));
        }
        self.alloc_tiny_slow(size, align)
    }

    #[inline(always)]
    fn take_tiny_piece(&mut self, off: usize, size: usize) -> *mut u8 {
        self.tiny_offset = off + size;
        self.tiny_allocs += 1;
        (self.tiny + off) as *mut u8
    }

    /// `alloc_tiny` when the fast path has no room: the current block is
    /// full or missing, or profiling counts this request.
    #[inline(never)]
    fn alloc_tiny_slow(&mut self, size: usize, align: usize) -> Tiny {
        if self.sample_rate == 0 {
            let p = self.alloc_tiny_block(size);
            self.tiny_limit = if p.is_null() { 0 } else { TINY_SIZE };
            return Tiny::Piece(p);
        }
        if self.sample_bytes(size) {
            return Tiny::Sampled;
        }
        let off = (self.tiny_offset + align - 1) & !(align - 1);
        if self.tiny != 0 && off + size <= TINY_SIZE {
            return Tiny::Piece(self.take_tiny_piece(off, size));
        }
        Tiny::Piece(self.alloc_tiny_block(size))
    }

    /// Resizes the tiny piece at `p` (`old_size` bytes) to `new_size` bytes
    /// where it is, if it is the last piece handed out from the current block
    /// and the block has room (a short string growing). Returns whether it
    /// did.
    /// While profiling, never: a grown piece would escape the count.
    pub fn resize_tiny_in_place(&mut self, p: usize, old_size: usize, new_size: usize) -> bool {
        // A piece of the block just below ends where an emptied current block
        // starts: it must be in the current block itself.
        let in_block = self.tiny_limit != 0 && p & !(TINY_SIZE - 1) == self.tiny;
        let is_last = in_block && p + old_size == self.tiny + self.tiny_offset;
        if is_last && p - self.tiny + new_size <= TINY_SIZE {
            self.tiny_offset = p - self.tiny + new_size;
            return true;
        }
        false
    }

    #[inline(never)]
    fn alloc_tiny_block(&mut self, size: usize) -> *mut u8 {
        let block = self.alloc(SpanClass::TINY);
        if block.is_null() {
            return block;
        }
        let count = tiny_count(block as usize);
        count.store(TINY_PRECHARGE, Ordering::Relaxed);
        self.retire_tiny();
        self.tiny = block as usize;
        self.tiny_offset = size;
        self.tiny_allocs = 1;
        self.tiny_local_frees = 0;
        self.tiny_count = count;
        block
    }

    /// Gives up the current tiny block: takes back the precharge of pieces
    /// never handed out, freeing the block if all others are freed already.
    fn retire_tiny(&mut self) {
        if self.tiny == 0 {
            return;
        }
        let unused = TINY_PRECHARGE - self.tiny_allocs + self.tiny_local_frees;
        // SAFETY: tiny_count points into the live tiny span of `tiny`.
        let prev = unsafe { (*self.tiny_count).fetch_sub(unused, Ordering::AcqRel) };
        if prev == unused {
            // SAFETY: no piece of the block is in use.
            unsafe { self.free(SpanClass::TINY, self.tiny as *mut u8) };
        }
        self.tiny = 0;
        self.tiny_limit = 0;
    }

    /// Frees a piece of `block` if that is this cache's current tiny block;
    /// returns whether it was.
    #[inline(always)]
    pub fn free_tiny_if_current(&mut self, block: usize) -> bool {
        if block != self.tiny {
            return false;
        }
        self.free_tiny_local();
        true
    }

    /// Frees the tiny piece at `p` in block `block`. Returns false if the
    /// block's counter shows more frees than pieces (a double free).
    ///
    /// # Safety
    /// `block` is a tiny block handed out by a cache and `p` a piece of it.
    pub unsafe fn free_tiny(&mut self, block: usize) -> bool {
        if self.free_tiny_if_current(block) {
            return true;
        }
        let prev = tiny_count(block).fetch_sub(1, Ordering::AcqRel);
        if prev == 1 {
            // SAFETY: the last piece is gone, so the block is free.
            unsafe { self.free(SpanClass::TINY, block as *mut u8) };
        }
        prev != 0
    }

    /// Frees a piece of this cache's current block: counted locally, with
    /// no atomic. Once every piece handed out is back (none can then be
    /// outstanding on another thread), the block starts over empty.
    fn free_tiny_local(&mut self) {
        self.tiny_local_frees += 1;
        if self.tiny_local_frees == self.tiny_allocs {
            self.tiny_offset = 0;
            self.tiny_allocs = 0;
            self.tiny_local_frees = 0;
        }
    }

    /// Takes a cached large span of exactly `npages` pages, if there is one.
    /// Its memory is not zeroed.
    pub fn alloc_large(&mut self, npages: usize) -> Option<&'static MSpan> {
        for slot in self.large.iter_mut() {
            // SAFETY: cached spans are in-use large spans owned by this cache.
            if let Some(span) = unsafe { slot.as_ref() } {
                if span.npages == npages {
                    *slot = ptr::null_mut();
                    span.set_large_handed_out(true);
                    return Some(span);
                }
            }
        }
        None
    }

    /// Keeps the freed large span `s` for reuse if it is small enough,
    /// handing back to the heap whatever it displaces. Returns whether the
    /// heap got a span back.
    pub fn free_large(&mut self, s: *mut MSpan) -> bool {
        // SAFETY: s is the in-use large span of an object being freed.
        let span = unsafe { &*s };
        if span.npages > LARGE_CACHE_MAX_PAGES {
            HEAP.lock().free_span(s);
            return true;
        }
        span.set_large_handed_out(false);
        let victim = self.large[LARGE_CACHE_SLOTS - 1];
        self.large.copy_within(..LARGE_CACHE_SLOTS - 1, 1);
        self.large[0] = s;
        if victim.is_null() {
            return false;
        }
        HEAP.lock().free_span(victim);
        true
    }

    /// Gives every cached large span back to the heap.
    fn release_large(&mut self) {
        for slot in self.large.iter_mut() {
            if !slot.is_null() {
                HEAP.lock().free_span(*slot);
                *slot = ptr::null_mut();
            }
        }
    }

    /// Hands everything back to the centrals (thread exit, `release()`).
    pub fn release_all(&mut self) {
        self.release_large();
        self.retire_tiny();
        self.refund();
        for i in 0..NUM_SPAN_CLASSES {
            for list in [&mut self.lists[i], &mut self.unpaid[i]] {
                let objs = list.take_all();
                if objs.len > 0 {
                    central(SpanClass(i as u8)).release(objs);
                }
            }
        }
    }

    /// Objects cached per span class.
    #[cfg(test)]
    pub fn cached(&self, spc: SpanClass) -> u32 {
        self.lists[spc.index()].len
    }
}

/// The counter of the tiny block at `block`.
fn tiny_count(block: usize) -> &'static AtomicU8 {
    let span = arena::span_of(block);
    // SAFETY: tiny blocks live in tiny spans, which own a counter table with
    // one entry per 16-byte block.
    unsafe {
        let span = span.unwrap_unchecked();
        &(*span.tiny_counts)[(block - span.base) / TINY_SIZE]
    }
}

const DEAD: usize = 1;

static CACHEALLOC: Mutex<FixAlloc<MCache>> = Mutex::new(FixAlloc::new());
static ORPHAN: Mutex<MCache> = Mutex::new(MCache::new());
static KEY: Mutex<Option<libc::pthread_key_t>> = Mutex::new(None);

/// This thread's cache, or `None` if it has none (yet, or any more).
#[inline(always)]
pub fn current() -> Option<ptr::NonNull<MCache>> {
    let c = os::thread_word::get();
    // The thread word holds a cache pointer, 0 (none yet) or DEAD.
    if c > DEAD {
        // SAFETY: c > 1, so not null.
        Some(unsafe { ptr::NonNull::new_unchecked(c as *mut MCache) })
    } else {
        None
    }
}

/// Runs `f` on a new cache for this thread, or on the shared orphan cache if
/// the thread has exited or no cache can be had.
pub fn with_new<R>(f: impl FnOnce(&mut MCache) -> R) -> R {
    let c = create_for_thread();
    if c.is_null() {
        let mut orphan = ORPHAN.lock();
        orphan.arm_sampling();
        f(&mut orphan)
    } else {
        // SAFETY: a fresh cache, owned by this thread.
        let c = unsafe { &mut *c };
        c.arm_sampling();
        f(c)
    }
}

fn create_for_thread() -> *mut MCache {
    if os::thread_word::get() == DEAD {
        return ptr::null_mut();
    }
    let Some(key) = thread_key() else {
        return ptr::null_mut();
    };
    let parked = PARKED.lock().pop();
    let c = match parked {
        Some(c) => c,
        None => match CACHEALLOC.lock().alloc(MCache::new()) {
            Some(c) => c.as_ptr(),
            None => return ptr::null_mut(),
        },
    };
    os::thread_word::set(c as usize);
    // SAFETY: a valid key; setspecific may allocate (through this cache).
    unsafe { libc::pthread_setspecific(key, c.cast()) };
    c
}

fn thread_key() -> Option<libc::pthread_key_t> {
    let mut key = KEY.lock();
    if key.is_none() {
        let mut k: libc::pthread_key_t = 0;
        // SAFETY: creating a key with a destructor that matches the ABI.
        if unsafe { libc::pthread_key_create(&mut k, Some(thread_exit)) } != 0 {
            return None;
        }
        *key = Some(k);
    }
    *key
}

/// The key destructor: park the exiting thread's cache, contents and all,
/// for the next new thread; if the pool is full, flush the cache and free it.
unsafe extern "C" fn thread_exit(arg: *mut libc::c_void) {
    let c = arg.cast::<MCache>();
    os::thread_word::set(DEAD);
    if PARKED.lock().push(c) {
        return;
    }
    // SAFETY: arg is this thread's cache, which nothing uses any more.
    unsafe {
        (*c).release_all();
        CACHEALLOC.lock().free(ptr::NonNull::new_unchecked(c));
    }
}

/// Caches of exited threads, kept with their contents for the next new
/// threads: a program that keeps starting short-lived threads then skips
/// refilling a cache and flushing it again each time. The pool is small and
/// the scavenger empties its caches every tick, so nothing grows and idle
/// memory still goes back.
struct Parked {
    caches: [*mut MCache; PARKED_MAX],
    len: usize,
}

const PARKED_MAX: usize = 8;

// SAFETY: parked caches belong to no thread; the PARKED lock guards them.
unsafe impl Send for Parked {}

impl Parked {
    fn push(&mut self, c: *mut MCache) -> bool {
        if self.len == PARKED_MAX {
            return false;
        }
        self.caches[self.len] = c;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<*mut MCache> {
        self.len = self.len.checked_sub(1)?;
        Some(self.caches[self.len])
    }
}

static PARKED: Mutex<Parked> = Mutex::new(Parked {
    caches: [ptr::null_mut(); PARKED_MAX],
    len: 0,
});

/// Gives everything parked caches hold back to the centrals (the
/// scavenger's tick); the emptied caches stay parked for reuse.
pub fn drain_parked() {
    let parked = PARKED.lock();
    for &c in &parked.caches[..parked.len] {
        // SAFETY: a parked cache belongs to no thread; the lock is held.
        unsafe { (*c).release_all() };
    }
}

/// Takes the caches' locks across `fork()` (see `lock.rs`).
pub fn lock_for_fork() {
    PARKED.lock_for_fork();
    KEY.lock_for_fork();
    ORPHAN.lock_for_fork();
    CACHEALLOC.lock_for_fork();
}

/// # Safety
/// After `lock_for_fork`, in parent or child.
pub unsafe fn unlock_after_fork() {
    // SAFETY: forwarded contract.
    unsafe {
        CACHEALLOC.unlock_after_fork();
        ORPHAN.unlock_after_fork();
        KEY.unlock_after_fork();
        PARKED.unlock_after_fork();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::sizeclasses::size_to_class;

    #[test]
    fn batches_are_bounded() {
        for (i, &b) in BATCH.iter().enumerate() {
            if SpanClass(i as u8).sizeclass() != 0 {
                assert!((4..=64).contains(&b), "class {i}: {b}");
            }
        }
    }

    /// A class of objects larger than a page starts with one object per
    /// refill and doubles up to its batch.
    #[test]
    fn refills_of_classes_above_a_page_start_small_and_double() {
        let spc = SpanClass::noscan(size_to_class(24000));
        let batch = BATCH[spc.index()];
        assert_eq!(first_refills(spc, 4), [1, 2, 4.min(batch), 8.min(batch)]);
    }

    /// The address of a tiny piece from `c` (which does not sample).
    fn tiny_piece(c: &mut MCache, size: usize, align: usize) -> usize {
        match c.alloc_tiny(size, align) {
            Tiny::Piece(p) => p as usize,
            Tiny::Sampled => panic!("a cache that does not sample sampled"),
        }
    }

    /// The sizes of the first `n` refills of `spc` in a fresh cache.
    fn first_refills(spc: SpanClass, n: usize) -> Vec<u32> {
        let mut c = MCache::new();
        let mut objs = Vec::new();
        let mut refills = Vec::new();
        while refills.len() < n {
            let empty = c.cached(spc) == 0;
            objs.push(c.alloc(spc));
            if empty {
                refills.push(c.cached(spc) + 1);
            }
        }
        for o in objs {
            // SAFETY: each is an in-use object of spc.
            unsafe { c.free(spc, o) };
        }
        c.release_all();
        refills
    }

    /// Small classes start with 4 KiB of objects and double up to a batch.
    #[test]
    fn refills_of_small_classes_start_at_4_kib_and_double() {
        let spc = SpanClass::noscan(size_to_class(512));
        assert_eq!(BATCH[spc.index()], 64);
        assert_eq!(first_refills(spc, 5), [8, 16, 32, 64, 64]);
    }

    #[test]
    fn alloc_free_cycle_stays_in_the_cache_and_flushes_past_the_limit() {
        let spc = SpanClass::noscan(size_to_class(5000));
        let batch = BATCH[spc.index()];
        let mut c = MCache::new();
        let p = c.alloc(spc);
        assert!(!p.is_null());
        assert_eq!(c.cached(spc), u32::from(FIRST_REFILL[spc.index()]) - 1);
        // SAFETY: p is an in-use object of spc.
        unsafe { c.free(spc, p) };
        assert_eq!(c.alloc(spc), p, "LIFO: the freed object comes back first");
        let objs: Vec<_> = (0..3 * batch).map(|_| c.alloc(spc)).collect();
        for &o in &objs {
            // SAFETY: each is an in-use object of spc.
            unsafe { c.free(spc, o) };
            assert!(c.cached(spc) <= 2 * batch);
        }
        // SAFETY: p is still in use.
        unsafe { c.free(spc, p) };
        c.release_all();
        assert_eq!(c.cached(spc), 0);
    }

    #[test]
    fn a_current_tiny_block_whose_pieces_all_came_back_starts_over() {
        let mut c = MCache::new();
        let a = tiny_piece(&mut c, 7, 1);
        let b = tiny_piece(&mut c, 7, 1);
        assert_eq!(b, a + 7);
        // SAFETY: both pieces are in the cache's current block.
        unsafe {
            assert!(c.free_tiny(a & !15));
            assert_eq!(tiny_piece(&mut c, 2, 1), a + 14, "still in use: no reuse");
            assert!(c.free_tiny(a & !15));
            assert!(c.free_tiny(a & !15));
        }
        assert_eq!(tiny_piece(&mut c, 7, 1), a, "all back: from offset 0");
        c.release_all();
    }

    #[test]
    fn the_last_tiny_piece_grows_in_place() {
        let mut c = MCache::new();
        let a = tiny_piece(&mut c, 2, 1);
        assert!(c.resize_tiny_in_place(a, 2, 8));
        let b = tiny_piece(&mut c, 2, 1);
        assert_eq!(b, a + 8);
        assert!(!c.resize_tiny_in_place(a, 8, 9), "not the last piece");
        assert!(c.resize_tiny_in_place(b, 2, 8));
        assert!(!c.resize_tiny_in_place(b, 8, 9), "no room");
        // SAFETY: both pieces are in the current block.
        unsafe {
            assert!(c.free_tiny(a & !15));
            assert!(c.free_tiny(a & !15));
        }
        c.release_all();
    }

    #[test]
    fn freed_large_spans_are_reused_by_size_and_rejected_while_cached() {
        let mut c = MCache::new();
        let span = |n| {
            HEAP.lock()
                .alloc_span(n, 1, SpanClass::LARGE)
                .unwrap()
                .as_ptr()
        };
        // SAFETY: a live span record (records are never unmapped).
        let index_of_base = |s: *mut MSpan| unsafe { (*s).object_index((*s).base) };
        let a = span(4);
        let big = span(LARGE_CACHE_MAX_PAGES + 1);
        assert_eq!(index_of_base(a), Some(0));
        assert!(!c.free_large(a), "kept, nothing displaced");
        assert_eq!(index_of_base(a), None, "a second free is caught");
        assert!(c.free_large(big), "too big to keep: back to the heap");
        assert!(c.alloc_large(5).is_none());
        let again = c.alloc_large(4).unwrap();
        assert!(ptr::eq(again, a));
        assert_eq!(index_of_base(a), Some(0));
        let spans: Vec<_> = (0..LARGE_CACHE_SLOTS + 1).map(|_| span(2)).collect();
        let displaced: Vec<bool> = spans.iter().map(|&s| c.free_large(s)).collect();
        assert_eq!(
            displaced.iter().filter(|&&d| d).count(),
            1,
            "one slot too few"
        );
        c.release_all();
        assert!(c.alloc_large(2).is_none(), "released to the heap");
        c.free_large(a);
        c.release_all();
    }

    /// While sampling, the sampling points form a Poisson process over the
    /// bytes allocated: an allocation of `s` bytes is sampled with
    /// probability `1 - exp(-s/rate)`, whatever its class and however the
    /// thread mixes allocations and frees of several classes (lists paid
    /// for in advance must not shift samples from one class to another).
    #[test]
    fn sampling_takes_each_class_its_share_of_one_sample_per_rate_bytes() {
        let rate = 16 << 10;
        let mut c = MCache::new();
        c.start_sampling(rate);
        let sizes = [16, 512, 4096];
        let spcs = sizes.map(|s| SpanClass::noscan(size_to_class(s)));
        let (mut allocs, mut samples) = ([0u64; 3], [0u64; 3]);
        let mut live: [Vec<*mut u8>; 3] = Default::default();
        let mut rng = 1u64;
        for i in 0..70_000u32 {
            let picks = (0..30)
                .map(|_| 0)
                .chain([1])
                .chain((i % 8 == 0).then_some(2));
            for k in picks {
                let p = c.alloc(spcs[k]);
                assert!(!p.is_null());
                allocs[k] += 1;
                samples[k] += u64::from(c.take_sample());
                live[k].push(p);
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if live[k].len() > 40 || rng >> 62 == 0 {
                    let at = (rng >> 33) as usize % live[k].len();
                    let q = live[k].swap_remove(at);
                    // SAFETY: q is an in-use object of spcs[k].
                    unsafe { c.free(spcs[k], q) };
                }
            }
        }
        for k in 0..3 {
            let p = 1.0 - (-(sizes[k] as f64) / rate as f64).exp();
            let want = allocs[k] as f64 * p;
            let got = samples[k] as f64;
            assert!(
                (got / want - 1.0).abs() < 0.1,
                "{} B: {got} samples, want {want:.0}",
                sizes[k]
            );
            for q in live[k].drain(..) {
                // SAFETY: q is an in-use object of spcs[k].
                unsafe { c.free(spcs[k], q) };
            }
        }
        c.release_all();
        assert!((0..NUM_SPAN_CLASSES).all(|i| c.lists[i].len == 0 && c.unpaid[i].len == 0));
    }

    /// At Go's default rate a thread samples about one allocation per 512
    /// KiB it allocates.
    #[test]
    fn the_default_rate_samples_about_once_per_512_kib() {
        let spc = SpanClass::noscan(size_to_class(1024));
        let mut c = MCache::new();
        c.start_sampling(crate::profile::sampler::DEFAULT_RATE);
        let (n, mut samples) = (600_000u64, 0u64);
        for _ in 0..n {
            let p = c.alloc(spc);
            samples += u64::from(c.take_sample());
            // SAFETY: p is an in-use object of spc.
            unsafe { c.free(spc, p) };
        }
        let per_sample = (n * 1024) as f64 / samples as f64;
        assert!(
            (per_sample / (512.0 * 1024.0) - 1.0).abs() < 0.1,
            "{per_sample} B per sample"
        );
        c.release_all();
    }

    /// While sampling, every free leaves its object off the list the fast
    /// path pops, so that no allocation escapes the count; a double free is
    /// still caught by the object's mark.
    #[test]
    fn while_sampling_freed_objects_wait_unpaid() {
        let spc = SpanClass::noscan(size_to_class(64));
        let mut c = MCache::new();
        c.start_sampling(1 << 30);
        let p = c.alloc(spc);
        let paid = c.cached(spc);
        assert!(paid > 0, "a refill pays for several objects");
        // SAFETY: p is an in-use object of spc.
        unsafe { c.free(spc, p) };
        assert_eq!(c.cached(spc), paid, "not back on the fast path's list");
        assert_eq!(c.unpaid[spc.index()].len, 1);
        // SAFETY: p is free, so its mark may be read.
        assert!(unsafe { FreeObject::is_marked(p.cast()) });
        c.release_all();
    }

    /// An exited thread's cache waits in the pool with its contents, the
    /// pool never grows past its bound, and a drain empties what it holds.
    #[test]
    fn exited_threads_park_their_caches_and_the_scavenger_drains_them() {
        let spc = SpanClass::noscan(size_to_class(3000));
        for _ in 0..2 * PARKED_MAX {
            std::thread::spawn(move || {
                let c = create_for_thread();
                assert!(!c.is_null());
                // SAFETY: this thread's own cache; p is an object of spc.
                unsafe {
                    let p = (*c).alloc(spc);
                    (*c).free(spc, p);
                }
            })
            .join()
            .unwrap();
        }
        let parked = PARKED.lock().len;
        assert!((1..=PARKED_MAX).contains(&parked), "{parked} parked");
        drain_parked();
        let pool = PARKED.lock();
        for &c in &pool.caches[..pool.len] {
            // SAFETY: parked caches belong to no thread; the lock is held.
            let cached: u32 = unsafe { (*c).lists.iter().map(|l| l.len).sum() };
            assert_eq!(cached, 0, "a drained cache holds nothing");
        }
    }

    /// A piece that ends exactly where an emptied current block starts is
    /// not the current block's last piece (found in review: it grew across
    /// the block boundary).
    #[test]
    fn a_piece_of_another_block_never_grows_into_the_current_one() {
        let mut c = MCache::new();
        let a = tiny_piece(&mut c, 8, 1);
        let block = a & !15;
        // SAFETY: a is a piece of the current block.
        unsafe { assert!(c.free_tiny(block)) };
        assert_eq!(c.tiny_offset, 0, "emptied");
        assert!(!c.resize_tiny_in_place(block - 8, 8, 16));
        assert_eq!(c.tiny_offset, 0);
        c.release_all();
    }

    #[test]
    fn tiny_pieces_share_a_block_and_the_block_is_reused_once_all_are_freed() {
        let mut c = MCache::new();
        let a = tiny_piece(&mut c, 5, 1);
        let b = tiny_piece(&mut c, 4, 4);
        let d = tiny_piece(&mut c, 3, 2);
        assert_eq!(b, a + 8, "aligned up to 4 inside the block");
        assert_eq!(a / 16, d / 16, "same block");
        let e = tiny_piece(&mut c, 3, 1);
        assert_ne!(a / 16, e / 16, "a new block once the first is full");
        let block = a & !15;
        // SAFETY: block is the tiny block holding the three pieces.
        unsafe {
            assert!(c.free_tiny(block));
            assert!(c.free_tiny(block));
            let cached = c.cached(SpanClass::TINY);
            assert!(c.free_tiny(block), "last piece");
            assert_eq!(c.cached(SpanClass::TINY), cached + 1, "block freed");
            assert!(!c.free_tiny(block), "one free too many is caught");
        }
        c.release_all();
    }
}
