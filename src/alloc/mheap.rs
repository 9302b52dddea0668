//! The page heap: spans of whole pages, as in Go's mheap.go (Go 1.11's free
//! lists, before the radix-tree page allocator).
//!
//! `MHeap` owns all arena memory that is mapped. Each page is either in an
//! in-use span (handed to an mcentral, or a large object), in a free span, or
//! not yet part of the heap (`cur_base..cur_end`: reserved arena space that
//! `grow` maps in 4 MiB steps).
//!
//! Free spans sit on `free[n]` (exactly `n` pages, n < 128), whose non-empty
//! lists are bits of `nonempty`, or on `free_large` (128 pages or more).
//! Allocation takes the smallest list that fits (one bit scan), or the best
//! fit among the large spans, and splits off what it does not need.
//! Invariants:
//!
//! - Two free spans are never adjacent: `free_span` merges a freed span with
//!   free neighbours, found through the page→span map entries of the pages
//!   just before and just after it.
//! - A free span's first and last pages map to its record; an in-use span's
//!   pages all do (see `arena.rs`).
//! - Every span record comes from `spanalloc`; merged-away records go back
//!   there.
//! - A record is in state Free exactly while it is on a free list, so a
//!   stale map entry never makes a span in transit look like a free
//!   neighbour.
//!
//! Whether a new span needs zeroing is worked out per arena by
//! `arena::alloc_needs_zero` (memory fresh from the OS is not zeroed again).
//! # The memory limit
//!
//! `MEMORY_LIMIT` (Go's `GOMEMLIMIT`; `GOHEAP_MEMLIMIT`, `set_memory_limit`)
//! bounds `mapped_ready`: heap pages mapped and not released plus metadata,
//! the memory goheap manages for malloc and the GC together (what Go's
//! limit counts). The heap keeps under it where it can, synchronously, as
//! Go's `allocSpan` does: growing or reusing released pages first releases
//! free pages to make room, and freeing a span while over the limit
//! releases the excess at once. The scavenger brings the total to 95% of
//! the limit in the background, and the collector's pacer shrinks its goal
//! (`gc::mgcpacer`). The limit is soft: live memory above it stays.
//!
//! All state is under one lock, `HEAP`; mcentrals take it (after their own)
//! to get and return spans. The statistics it keeps are read by `stats()`.

use crate::alloc::arena;
use crate::alloc::fixalloc::{FixAlloc, METADATA_SYS};
use crate::alloc::mspan::{MSpan, MSpanList, SpanClass, SpanState, TinyCounts};
use crate::alloc::sizeclasses::PAGE_SIZE;
use crate::lock::Mutex;
use crate::os;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

const MAX_MHEAP_LIST: usize = 128;
/// The heap maps reserved arena space in steps of this many bytes.
const HEAP_GROW_STEP: usize = 4 << 20;

/// Page-heap figures, in bytes.
#[derive(Clone, Copy, Default, Debug)]
pub struct HeapStats {
    /// Arena memory mapped for the heap.
    pub sys: usize,
    /// Memory in in-use spans.
    pub inuse: usize,
    /// Metadata records handed out by the heap's fixallocs.
    pub span_records: usize,
    /// Arena address space reserved.
    pub reserved: usize,
    /// Free memory handed back to the OS (part of `sys`).
    pub released: usize,
    /// Large objects allocated and freed, ever, and bytes allocated in them.
    pub large_allocs: u64,
    pub large_frees: u64,
    pub large_bytes_total: u64,
    /// Bytes in large objects now.
    pub large_inuse: usize,
}

pub struct MHeap {
    free: [MSpanList; MAX_MHEAP_LIST],
    nonempty: u128,
    free_large: MSpanList,
    spanalloc: FixAlloc<MSpan>,
    tinyalloc: FixAlloc<TinyCounts>,
    /// Where to ask for the first arena (0: wherever the kernel likes).
    hint: usize,
    cur_base: usize,
    cur_end: usize,
    stats: HeapStats,
    /// The scavenger's generation: free spans remember when they were freed.
    gen: u32,
    /// Called with each range of fresh memory once it is mapped (the
    /// collector's dirty-page tracking registers it, `gc::dirtybits`).
    map_hook: Option<fn(usize, usize)>,
}

/// No memory limit (Go's default `math.MaxInt64`).
pub const NO_LIMIT: u64 = i64::MAX as u64;
/// `MEMORY_LIMIT` before `GOHEAP_MEMLIMIT` was read.
const UNREAD: u64 = u64::MAX;
static MEMORY_LIMIT: AtomicU64 = AtomicU64::new(UNREAD);

/// The memory limit in bytes (`NO_LIMIT`: none).
#[inline]
pub fn memory_limit() -> u64 {
    match MEMORY_LIMIT.load(Ordering::Relaxed) {
        UNREAD => {
            let from_env = crate::options::memlimit().unwrap_or(NO_LIMIT);
            let _ = MEMORY_LIMIT.compare_exchange(
                UNREAD,
                from_env,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            MEMORY_LIMIT.load(Ordering::Relaxed)
        }
        limit => limit,
    }
}

/// Sets the memory limit (values from `NO_LIMIT` up: none) and returns the
/// previous one, as Go's `debug.SetMemoryLimit`. Releases what is over the
/// new limit now.
pub fn set_memory_limit(bytes: u64) -> u64 {
    memory_limit();
    let prev = MEMORY_LIMIT.swap(bytes.min(NO_LIMIT), Ordering::Relaxed);
    HEAP.lock().keep_under_limit();
    prev
}

/// Bytes released to keep under the memory limit, ever.
pub static LIMIT_RELEASED: AtomicU64 = AtomicU64::new(0);

/// The current scavenger generation, readable without the heap lock
/// (mcaches trim their lists when it moves).
pub static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The heap (Go's `mheap_`).
pub static HEAP: Mutex<MHeap> = Mutex::new(MHeap::new(0));

impl MHeap {
    const fn new(hint: usize) -> MHeap {
        MHeap {
            free: [const { MSpanList::new() }; MAX_MHEAP_LIST],
            nonempty: 0,
            free_large: MSpanList::new(),
            spanalloc: FixAlloc::new(),
            tinyalloc: FixAlloc::new(),
            hint,
            cur_base: 0,
            cur_end: 0,
            stats: HeapStats {
                sys: 0,
                inuse: 0,
                span_records: 0,
                reserved: 0,
                released: 0,
                large_allocs: 0,
                large_frees: 0,
                large_bytes_total: 0,
                large_inuse: 0,
            },
            gen: 0,
            map_hook: None,
        }
    }

    /// Calls `hook` with every range of heap memory mapped from now on, and
    /// at once with each arena that has memory already (its whole 64 MiB:
    /// mapped or reserved). The hook runs under the heap lock.
    pub fn set_map_hook(&mut self, hook: fn(usize, usize)) {
        self.map_hook = Some(hook);
        arena::for_each_arena(|base| hook(base, arena::HEAP_ARENA_BYTES));
    }

    /// Allocates an in-use span of `npages` pages whose base is aligned to
    /// `align_pages` pages, prepared for objects of `spc`. `None` when the OS
    /// refuses memory.
    pub fn alloc_span(
        &mut self,
        npages: usize,
        align_pages: usize,
        spc: SpanClass,
    ) -> Option<NonNull<MSpan>> {
        let s = if align_pages <= 1 {
            self.alloc_pages(npages)?
        } else {
            self.alloc_aligned_pages(npages, align_pages)?
        };
        // SAFETY: s is a live record the heap just took off its free lists.
        let span = unsafe { &mut *s };
        let dirty = arena::alloc_needs_zero(span.base, npages);
        let released = self.reuse_released(span.base, npages);
        span.needzero = dirty && !(released == npages && os::released_pages_read_zero());
        if released > 0 {
            self.keep_under_limit();
        }
        span.init_class(spc);
        if spc == SpanClass::TINY {
            let counts = self
                .tinyalloc
                .alloc([const { AtomicU8::new(0) }; PAGE_SIZE / 16]);
            let Some(counts) = counts else {
                // Not in use yet: back to the free lists, uncounted.
                span.spanclass = SpanClass::NONE;
                self.free_pages(s);
                return None;
            };
            span.tiny_counts = counts.as_ptr();
        }
        arena::set_spans(span.base, npages, s);
        arena::set_page_in_use(span.base, true);
        span.set_state(SpanState::InUse);
        self.stats.inuse += npages * PAGE_SIZE;
        if spc == SpanClass::LARGE {
            self.stats.large_allocs += 1;
            self.stats.large_bytes_total += (npages * PAGE_SIZE) as u64;
            self.stats.large_inuse += npages * PAGE_SIZE;
        }
        NonNull::new(s)
    }

    /// Takes a free run of `npages` pages off the free lists, growing the
    /// heap if none fits. The record is off every list, in state Dead.
    fn alloc_pages(&mut self, npages: usize) -> Option<*mut MSpan> {
        let s = match self.find_free(npages) {
            Some(s) => s,
            None => {
                self.grow(npages)?;
                self.find_free(npages)?
            }
        };
        self.remove_free(s);
        // SAFETY: s is a live free record.
        if unsafe { (*s).npages } > npages {
            let Some(rest) = self.split(s, npages) else {
                self.insert_free(s);
                return None;
            };
            self.insert_free(rest);
        }
        Some(s)
    }

    /// Like `alloc_pages`, with the base aligned to `align_pages` pages: takes
    /// enough pages to contain an aligned run and frees the head and tail.
    fn alloc_aligned_pages(&mut self, npages: usize, align_pages: usize) -> Option<*mut MSpan> {
        let s = self.alloc_pages(npages.checked_add(align_pages - 1)?)?;
        // SAFETY: s is a live record just taken from the free lists.
        let base = unsafe { (*s).base };
        let head = (base.next_multiple_of(align_pages * PAGE_SIZE) - base) / PAGE_SIZE;
        let s = if head > 0 {
            let body = self.split(s, head)?;
            self.free_pages(s);
            body
        } else {
            s
        };
        // SAFETY: s is live and off every list.
        if unsafe { (*s).npages } > npages {
            let tail = self.split(s, npages)?;
            self.free_pages(tail);
        }
        Some(s)
    }

    /// Splits the first `npages` pages off span `s`: `s` keeps them and a new
    /// record, returned, holds the rest (state Free, on no list).
    fn split(&mut self, s: *mut MSpan, npages: usize) -> Option<*mut MSpan> {
        // SAFETY: s is a live record owned by the caller under the heap lock.
        let span = unsafe { &mut *s };
        let mut rest = MSpan::new(span.base + npages * PAGE_SIZE, span.npages - npages);
        rest.free_gen = span.free_gen;
        let rest = self.spanalloc.alloc(rest)?.as_ptr();
        span.npages = npages;
        Some(rest)
    }

    /// Returns an in-use span to the heap.
    pub fn free_span(&mut self, s: *mut MSpan) {
        // SAFETY: s is an in-use record the caller gives up.
        let span = unsafe { &mut *s };
        self.stats.inuse -= span.npages * PAGE_SIZE;
        if span.spanclass == SpanClass::LARGE {
            self.stats.large_frees += 1;
            self.stats.large_inuse -= span.npages * PAGE_SIZE;
        }
        arena::set_page_in_use(span.base, false);
        span.spanclass = SpanClass::NONE;
        if !span.tiny_counts.is_null() {
            // SAFETY: the counters came from tinyalloc and die with the span.
            unsafe {
                self.tinyalloc
                    .free(NonNull::new_unchecked(span.tiny_counts))
            };
            span.tiny_counts = ptr::null_mut();
        }
        self.free_pages(s);
        self.keep_under_limit();
    }

    /// Clears the released marks of pages about to be used and returns how
    /// many there were.
    fn reuse_released(&mut self, base: usize, npages: usize) -> usize {
        let n = arena::reuse_pages(base, npages);
        self.stats.released -= n * PAGE_SIZE;
        n
    }

    /// Puts span `s` (on no list) on the free lists, merged with free
    /// neighbours.
    fn free_pages(&mut self, s: *mut MSpan) {
        // SAFETY: s is a live record owned by the caller.
        let span = unsafe { &mut *s };
        span.free_gen = self.gen;
        let left = arena::span_ptr_at(span.base.wrapping_sub(PAGE_SIZE));
        if self.is_free_neighbour(left, |l| l.limit() == span.base) {
            self.remove_free(left);
            // SAFETY: left is a live free record, now off its list.
            unsafe {
                span.free_gen = span.free_gen.max((*left).free_gen);
                span.base = (*left).base;
                span.npages += (*left).npages;
                self.release_record(left);
            }
        }
        let right = arena::span_ptr_at(span.limit());
        if self.is_free_neighbour(right, |r| r.base == span.limit()) {
            self.remove_free(right);
            // SAFETY: right is a live free record, now off its list.
            unsafe {
                span.free_gen = span.free_gen.max((*right).free_gen);
                span.npages += (*right).npages;
                self.release_record(right);
            }
        }
        self.insert_free(s);
    }

    fn is_free_neighbour(&self, n: *mut MSpan, adjacent: impl Fn(&MSpan) -> bool) -> bool {
        // SAFETY: map entries point at span records, which stay mapped.
        match unsafe { n.as_ref() } {
            Some(n) => n.state() == SpanState::Free && adjacent(n),
            None => false,
        }
    }

    /// # Safety
    /// `s` is a record on no list that nothing refers to any more.
    unsafe fn release_record(&mut self, s: *mut MSpan) {
        // SAFETY: forwarded contract.
        unsafe {
            (*s).set_state(SpanState::Dead);
            self.spanalloc.free(NonNull::new_unchecked(s));
        }
    }

    fn list_for(&mut self, npages: usize) -> &mut MSpanList {
        if npages < MAX_MHEAP_LIST {
            &mut self.free[npages]
        } else {
            &mut self.free_large
        }
    }

    fn insert_free(&mut self, s: *mut MSpan) {
        // SAFETY: s is a live free record on no list.
        let span = unsafe { &mut *s };
        span.set_state(SpanState::Free);
        arena::set_span(span.base, s);
        arena::set_span(span.limit() - PAGE_SIZE, s);
        let n = span.npages;
        // SAFETY: as above.
        unsafe { self.list_for(n).insert(s) };
        if n < MAX_MHEAP_LIST {
            self.nonempty |= 1 << n;
        }
    }

    fn remove_free(&mut self, s: *mut MSpan) {
        // SAFETY: s is a live record on the free list for its size.
        let n = unsafe { (*s).npages };
        // SAFETY: as above. Off the lists it must no longer look free to
        // neighbours that find it through stale map entries.
        unsafe { (*s).set_state(SpanState::Dead) };
        let list = self.list_for(n);
        // SAFETY: as above.
        unsafe { list.remove(s) };
        if n < MAX_MHEAP_LIST && self.free[n].is_empty() {
            self.nonempty &= !(1 << n);
        }
    }

    /// The smallest free span of at least `npages` pages (best fit).
    fn find_free(&self, npages: usize) -> Option<*mut MSpan> {
        if npages < MAX_MHEAP_LIST {
            let fits = self.nonempty & (!0u128 << npages);
            if fits != 0 {
                return Some(self.free[fits.trailing_zeros() as usize].first());
            }
        }
        let mut best: Option<*mut MSpan> = None;
        for s in self.free_large.iter() {
            // SAFETY: records on the free lists are live.
            let (n, b) = unsafe { ((*s).npages, (*s).base) };
            // SAFETY: best, when set, is a live record from the same list.
            let better = best.is_none_or(|bs| unsafe { (n, b) < ((*bs).npages, (*bs).base) });
            if n >= npages && better {
                best = Some(s);
            }
        }
        best
    }

    /// Adds at least `npages` pages of fresh memory to the free lists. First,
    /// if the memory the heap keeps from the OS would then exceed its goal
    /// (`retained_goal`), it releases free pages to make up the difference,
    /// as Go's heap growth does.
    fn grow(&mut self, npages: usize) -> Option<()> {
        let need = npages.checked_mul(PAGE_SIZE)?;
        let retained = self.stats.sys - self.stats.released;
        let over = retained
            .saturating_add(need)
            .saturating_sub(self.retained_goal())
            .max(self.over_limit(need, 100));
        if over > 0 {
            self.scavenge(over, None);
        }
        if self.cur_end - self.cur_base < need {
            let hint = if self.cur_end == 0 {
                self.hint
            } else {
                self.cur_end
            };
            let (base, size) = arena::reserve(hint, need)?;
            self.stats.reserved += size;
            if base == self.cur_end && self.cur_end != 0 {
                self.cur_end += size;
            } else {
                // Discontiguous: use up what is left of the old space first.
                if self.cur_end > self.cur_base {
                    self.add_fresh(self.cur_base, self.cur_end - self.cur_base)?;
                }
                self.cur_base = base;
                self.cur_end = base + size;
            }
        }
        let ask = need
            .next_multiple_of(HEAP_GROW_STEP)
            .min(self.cur_end - self.cur_base);
        self.add_fresh(self.cur_base, ask)?;
        self.cur_base += ask;
        Some(())
    }

    /// Maps reserved `[base, base+size)` and frees it into the heap.
    fn add_fresh(&mut self, base: usize, size: usize) -> Option<()> {
        // Map first: a request the OS will not back costs no metadata.
        if !os::sys_map(base as *mut u8, size) {
            return None;
        }
        arena::register(base, size)?;
        if let Some(hook) = self.map_hook {
            hook(base, size);
        }
        self.stats.sys += size;
        let s = self.spanalloc.alloc(MSpan::new(base, size / PAGE_SIZE))?;
        self.free_pages(s.as_ptr());
        Some(())
    }

    /// Resizes the large span `s` in place to `npages` pages if the pages
    /// after it allow: shrinking frees the tail, growing takes pages from a
    /// free right neighbour. Returns whether it did.
    pub fn resize_large(&mut self, s: *mut MSpan, npages: usize) -> bool {
        // SAFETY: s is an in-use large span owned by the caller.
        let span = unsafe { &mut *s };
        let old = span.npages;
        if npages < old {
            let Some(tail) = self.split(s, npages) else {
                return false;
            };
            self.free_pages(tail);
        } else if npages > old {
            let extra = npages - old;
            let right = arena::span_ptr_at(span.limit());
            // SAFETY: map entries point at live-or-dead records, still mapped.
            let fits = |r: &MSpan| r.base == span.limit() && r.npages >= extra;
            if !self.is_free_neighbour(right, fits) {
                return false;
            }
            self.remove_free(right);
            // SAFETY: right is live, free and off its list.
            if unsafe { (*right).npages } > extra {
                let Some(rest) = self.split(right, extra) else {
                    self.insert_free(right);
                    return false;
                };
                self.insert_free(rest);
            }
            arena::alloc_needs_zero(span.limit(), extra);
            if self.reuse_released(span.limit(), extra) > 0 {
                self.keep_under_limit();
            }
            arena::set_spans(span.limit(), extra, s);
            // SAFETY: right is off every list and fully absorbed.
            unsafe { self.release_record(right) };
        }
        self.stats.inuse = self.stats.inuse + npages * PAGE_SIZE - old * PAGE_SIZE;
        self.stats.large_inuse = self.stats.large_inuse + npages * PAGE_SIZE - old * PAGE_SIZE;
        if npages > old {
            self.stats.large_bytes_total += ((npages - old) * PAGE_SIZE) as u64;
        }
        span.npages = npages;
        span.elemsize = npages * PAGE_SIZE;
        true
    }

    /// How much memory the heap may keep from the OS: 110% of what is in
    /// use plus one growth step (Go's retained-heap goal).
    fn retained_goal(&self) -> usize {
        self.stats.inuse + self.stats.inuse / 10 + HEAP_GROW_STEP
    }

    /// Memory counted against the limit (Go's `mappedReady`): heap pages
    /// mapped and not released, and metadata.
    pub fn mapped_ready(&self) -> usize {
        self.stats.sys - self.stats.released + METADATA_SYS.load(Ordering::Relaxed)
    }

    /// Bytes by which `mapped_ready() + extra` exceeds `percent`% of the
    /// memory limit (0 without a limit).
    pub fn over_limit(&self, extra: usize, percent: u64) -> usize {
        let limit = memory_limit();
        if limit == NO_LIMIT {
            return 0;
        }
        let allowed = (limit as u128 * percent as u128 / 100) as usize;
        (self.mapped_ready() + extra).saturating_sub(allowed)
    }

    /// Free pages not released yet.
    fn free_ready(&self) -> usize {
        self.stats.sys - self.stats.released - self.stats.inuse
    }

    /// Releases free pages while the heap is over the memory limit (no
    /// scan of the free lists when none is left to release). Returns the
    /// bytes released.
    pub fn keep_under_limit(&mut self) -> usize {
        self.release_over_limit(100, usize::MAX)
    }

    /// Releases free pages, at most `max` bytes, until `mapped_ready` is
    /// within `percent`% of the limit or none is left.
    pub fn release_over_limit(&mut self, percent: u64, max: usize) -> usize {
        let want = self.over_limit(0, percent).min(self.free_ready()).min(max);
        if want < PAGE_SIZE {
            return 0;
        }
        let n = self.scavenge(want, None);
        LIMIT_RELEASED.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Starts a new scavenger generation.
    pub fn advance_gen(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        GENERATION.store(self.gen, Ordering::Relaxed);
        self.gen
    }

    /// Hands back to the OS the memory of free spans freed in generation
    /// `freed_by` or earlier (any free span if `None`), until `max_bytes` are
    /// released. Returns the bytes released.
    pub fn scavenge(&mut self, max_bytes: usize, freed_by: Option<u32>) -> usize {
        let mut released = 0;
        let lists = self.free.iter().chain(core::iter::once(&self.free_large));
        for s in lists.flat_map(|l| l.iter()) {
            if released >= max_bytes {
                break;
            }
            // SAFETY: records on the free lists are live.
            let span = unsafe { &*s };
            if freed_by.is_some_and(|g| span.free_gen.wrapping_sub(g) as i32 > 0) {
                continue;
            }
            let budget = (max_bytes - released).div_ceil(PAGE_SIZE);
            let pages = arena::release_pages(span.base, span.npages, budget, |p, n| {
                os::sys_unused(p as *mut u8, n);
            });
            released += pages * PAGE_SIZE;
        }
        self.stats.released += released;
        released
    }

    pub fn stats(&self) -> HeapStats {
        HeapStats {
            span_records: self.spanalloc.inuse() + self.tinyalloc.inuse(),
            ..self.stats
        }
    }

    /// Number of free spans and their total pages.
    #[cfg(test)]
    pub fn free_summary(&self) -> (usize, usize) {
        let lists = self.free.iter().chain(core::iter::once(&self.free_large));
        lists.flat_map(|l| l.iter()).fold((0, 0), |(n, p), s| {
            // SAFETY: records on the free lists are live.
            (n + 1, p + unsafe { (*s).npages })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::mspan::SpanClass;

    fn alloc(h: &mut MHeap, npages: usize) -> &'static mut MSpan {
        let s = h.alloc_span(npages, 1, SpanClass::LARGE).unwrap();
        // SAFETY: a fresh in-use span record.
        unsafe { &mut *s.as_ptr() }
    }

    /// The tests use private heaps so they do not disturb the global one.
    /// Each starts its arenas at its own far-apart address, so that no two
    /// heaps' spans are ever neighbours (they would coalesce).
    fn private_heap() -> MHeap {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        MHeap::new(0x4000_0000_0000 + i * (1 << 40))
    }

    #[test]
    fn fresh_spans_need_no_zeroing_and_map_every_page() {
        let mut h = private_heap();
        let s = alloc(&mut h, 3);
        assert!(!s.needzero);
        assert_eq!(s.state(), SpanState::InUse);
        for i in 0..3 {
            let found = arena::span_of(s.base + i * PAGE_SIZE + 5).unwrap();
            assert!(ptr::eq(found, s));
        }
        assert!(arena::page_in_use(s.base));
        assert_eq!(h.stats().inuse, 3 * PAGE_SIZE);
    }

    #[test]
    fn freed_neighbours_coalesce_and_reused_pages_need_zeroing() {
        let mut h = private_heap();
        let a = alloc(&mut h, 2);
        let b = alloc(&mut h, 5);
        let c = alloc(&mut h, 1);
        assert_eq!(b.base, a.limit());
        assert_eq!(c.base, b.limit());
        let (free_spans, free_pages) = h.free_summary();
        let (a_base, b_base) = (a.base, b.base);
        h.free_span(a);
        h.free_span(c);
        // c merged with the free rest of the grown region.
        assert_eq!(h.free_summary(), (free_spans + 1, free_pages + 3));
        h.free_span(b);
        assert_eq!(
            h.free_summary(),
            (1, free_pages + 8),
            "all pages in one span"
        );
        assert_eq!(h.stats().inuse, 0);
        let d = alloc(&mut h, 7);
        assert_eq!(d.base, a_base, "first fit takes the lowest free run");
        assert!(d.needzero, "these pages were handed out before");
        assert!(arena::span_of(b_base).is_some());
    }

    #[test]
    fn aligned_spans_are_aligned_and_return_their_slack() {
        let mut h = private_heap();
        let _pad = alloc(&mut h, 1);
        let s = h.alloc_span(4, 8, SpanClass::LARGE).unwrap();
        // SAFETY: a fresh in-use record.
        let s = unsafe { s.as_ref() };
        assert_eq!(s.base % (8 * PAGE_SIZE), 0);
        assert_eq!(s.npages, 4);
        assert_eq!(h.stats().inuse, 5 * PAGE_SIZE);
    }

    /// Aligned allocations split a free run three ways; with records being
    /// recycled, stale map entries must never merge a piece in transit.
    #[test]
    fn aligned_spans_never_overlap_after_churn() {
        let mut h = private_heap();
        let mut live: Vec<(usize, usize)> = Vec::new();
        for round in 0..200usize {
            let npages = 1 + round % 7;
            let s = if round % 3 == 0 {
                alloc(&mut h, npages)
            } else {
                let s = h.alloc_span(npages, 1 << (round % 4), SpanClass::LARGE);
                // SAFETY: a fresh in-use record.
                unsafe { &mut *s.unwrap().as_ptr() }
            };
            for &(b, l) in &live {
                assert!(s.limit() <= b || l <= s.base, "round {round} overlaps");
            }
            live.push((s.base, s.limit()));
            if round % 2 == 1 {
                let (b, _) = live.remove(round % live.len());
                let victim = arena::span_ptr_at(b);
                h.free_span(victim);
            }
        }
    }

    #[test]
    fn large_spans_resize_in_place() {
        let mut h = private_heap();
        let s = alloc(&mut h, 4);
        let base = s.base;
        assert!(h.resize_large(s, 10), "the rest of the heap is free");
        assert_eq!((s.base, s.npages), (base, 10));
        assert!(ptr::eq(arena::span_of(base + 9 * PAGE_SIZE).unwrap(), s));
        assert!(h.resize_large(s, 2));
        assert_eq!(s.npages, 2);
        assert_eq!(h.stats().inuse, 2 * PAGE_SIZE);
        let blocker = alloc(&mut h, 1);
        assert_eq!(blocker.base, s.limit());
        assert!(!h.resize_large(s, 3), "the next page is in use");
    }

    #[test]
    fn huge_spans_reserve_several_arenas() {
        let mut h = private_heap();
        let n = (arena::HEAP_ARENA_BYTES + (8 << 20)) / PAGE_SIZE;
        let s = alloc(&mut h, n);
        assert_eq!(s.npages, n);
        assert!(ptr::eq(arena::span_of(s.limit() - 1).unwrap(), s));
        h.free_span(s);
        assert_eq!(h.stats().inuse, 0);
    }

    #[test]
    fn impossible_requests_fail_cleanly() {
        let mut h = private_heap();
        assert!(h
            .alloc_span(usize::MAX / PAGE_SIZE, 1, SpanClass::LARGE)
            .is_none());
        assert!(h.alloc_span(1 << 40, 1, SpanClass::LARGE).is_none());
    }
}
