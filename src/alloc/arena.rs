//! Heap arenas: where heap memory comes from, and how any address finds its
//! span; as in Go's malloc.go (`heapArena`, `arenas`, `sysAlloc`).
//!
//! The heap's address space is reserved from the OS in *arenas* of 64 MiB,
//! aligned to 64 MiB, on demand. Arenas need not be contiguous and share the
//! address space with the process's other mappings; goheap asks for the
//! address right after the previous arena first, so the heap usually grows as
//! one run (and spans can coalesce across arena boundaries).
//!
//! Every arena has a `HeapArena` metadata record (allocated with
//! `persistent_alloc`, never freed):
//!
//! - `spans`: the page→span map, one entry per 8 KiB page. Every page of an
//!   in-use span maps to it; a free span's first and last pages map to it.
//! - `page_in_use`: one bit per page, set on the first page of each in-use
//!   span (the scavenger and the collector walk these).
//! - `page_marks`, `gc_bitmap`: room for the managed heap's mark bits and
//!   per-word pointer bitmap; the allocator leaves them empty.
//! - `zeroed_base`: every byte of the arena at or past this offset has never
//!   been handed out, so it is still zero from the OS (Go's `zeroedBase`).
//! - `released`: one bit per page, set while a free page's memory has been
//!   handed back to the OS by the scavenger (Go's scavenged bits). Reusing
//!   such pages clears the bits; while set, the page reads as zero.
//!
//! The arena index `ARENAS` maps `address >> 26` to the arena's record: a flat
//! array with one slot per 64 MiB of the 48-bit address space (2²² slots,
//! 32 MiB of zero-filled virtual memory of which only touched pages cost
//! anything). So `span_of(p)` is two dependent loads, with no object header
//! and no lock: the reason `free` needs no size.
//!
//! Records are published with release stores and read with acquire loads;
//! they are written under the heap lock.

use crate::alloc::fixalloc::persistent_alloc;
use crate::alloc::mspan::MSpan;
use crate::alloc::sizeclasses::{PAGE_SHIFT, PAGE_SIZE};
use crate::os;
use core::mem::{align_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

pub const LOG_HEAP_ARENA_BYTES: usize = 26;
pub const HEAP_ARENA_BYTES: usize = 1 << LOG_HEAP_ARENA_BYTES;
pub const PAGES_PER_ARENA: usize = HEAP_ARENA_BYTES / PAGE_SIZE;
const ADDRESS_BITS: usize = 48;
const ARENA_INDEX_LEN: usize = 1 << (ADDRESS_BITS - LOG_HEAP_ARENA_BYTES);

/// Metadata of one heap arena (see the module comment).
pub struct HeapArena {
    pub spans: [AtomicPtr<MSpan>; PAGES_PER_ARENA],
    pub page_in_use: [AtomicU64; PAGES_PER_ARENA / 64],
    /// Reserved for the managed heap's collector (see the module comment).
    #[allow(dead_code)]
    pub page_marks: [AtomicU64; PAGES_PER_ARENA / 64],
    #[allow(dead_code)]
    pub gc_bitmap: AtomicPtr<u8>,
    pub zeroed_base: usize,
    pub released: [u64; PAGES_PER_ARENA / 64],
}

static ARENAS: [AtomicPtr<HeapArena>; ARENA_INDEX_LEN] =
    [const { AtomicPtr::new(ptr::null_mut()) }; ARENA_INDEX_LEN];

/// The record of the arena holding `p`, or null. Addresses past the 48-bit
/// space alias the slot of their low bits (a mask, not a branch, on the
/// free path): their span lookups find spans that do not cover them, which
/// callers reject as they reject stale entries.
#[inline(always)]
fn arena_of(p: usize) -> *mut HeapArena {
    let i = (p >> LOG_HEAP_ARENA_BYTES) & (ARENA_INDEX_LEN - 1);
    // SAFETY: the mask keeps i below ARENA_INDEX_LEN.
    unsafe { ARENAS.get_unchecked(i) }.load(Ordering::Acquire)
}

#[inline(always)]
fn page_index(p: usize) -> usize {
    (p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)
}

/// The span whose page holds `p`, or `None` if `p` is not in the heap. The
/// caller checks that the span really covers `p` (entries of free pages may
/// be stale).
#[inline(always)]
pub fn span_of(p: usize) -> Option<&'static MSpan> {
    // SAFETY: span records are never unmapped (see `span_ptr_at`).
    unsafe { span_ptr_at(p).as_ref() }
}

/// The span record mapped at page `p` (null if none), as a raw pointer: the
/// one to mutate a span through, under the lock of its owner.
#[inline(always)]
pub fn span_ptr_at(p: usize) -> *mut MSpan {
    let a = arena_of(p);
    if a.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: arena records are never freed; entries point at span records,
    // which are never unmapped either.
    unsafe { (*a).spans[page_index(p)].load(Ordering::Acquire) }
}

/// Maps pages `[base, base + npages·PAGE)` to `s`. The pages are in arenas.
pub fn set_spans(base: usize, npages: usize, s: *mut MSpan) {
    for i in 0..npages {
        set_span(base + i * PAGE_SIZE, s);
    }
}

/// Maps page `p` to `s`. `p` is in an arena.
pub fn set_span(p: usize, s: *mut MSpan) {
    let a = arena_of(p);
    debug_assert!(!a.is_null());
    // SAFETY: the heap only maps pages of registered arenas.
    unsafe { (*a).spans[page_index(p)].store(s, Ordering::Release) };
}

/// Sets or clears the in-use bit of the span starting at `base`.
pub fn set_page_in_use(base: usize, in_use: bool) {
    let a = arena_of(base);
    let i = page_index(base);
    let bit = 1u64 << (i % 64);
    // SAFETY: base is a span start inside a registered arena.
    let word = unsafe { &(*a).page_in_use[i / 64] };
    if in_use {
        word.fetch_or(bit, Ordering::Relaxed);
    } else {
        word.fetch_and(!bit, Ordering::Relaxed);
    }
}

/// Whether a span starting at `base` is in use, per the page bits.
#[cfg(test)]
pub fn page_in_use(base: usize) -> bool {
    let a = arena_of(base);
    let i = page_index(base);
    // SAFETY: base is inside a registered arena.
    unsafe { (*a).page_in_use[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0 }
}

/// Whether pages `[base, base + npages·PAGE)` may hold old data, and records
/// that they are about to be handed out (Go's `allocNeedsZero`). Called under
/// the heap lock.
pub fn alloc_needs_zero(base: usize, npages: usize) -> bool {
    let end = base + npages * PAGE_SIZE;
    let mut p = base;
    let mut needzero = false;
    while p < end {
        let arena_start = p & !(HEAP_ARENA_BYTES - 1);
        let arena_end = arena_start + HEAP_ARENA_BYTES;
        let a = arena_of(p);
        // SAFETY: heap pages lie in registered arenas; the heap lock
        // serialises writers of zeroed_base.
        let zb = unsafe { &mut (*a).zeroed_base };
        let off = p - arena_start;
        let stop = end.min(arena_end) - arena_start;
        if off < *zb {
            needzero = true;
        }
        if stop > *zb {
            *zb = stop;
        }
        p = arena_start + stop;
    }
    needzero
}

/// The `released` word and bit of page `p`. Called under the heap lock.
fn released_bit(p: usize) -> (&'static mut u64, u64) {
    let a = arena_of(p);
    let i = page_index(p);
    // SAFETY: p is a heap page in a registered arena; the heap lock
    // serialises all access to `released`.
    (unsafe { &mut (*a).released[i / 64] }, 1 << (i % 64))
}

/// Marks the pages of `[base, base + npages·PAGE)` released, at most
/// `max_new` of those not released yet, calling `release(start, bytes)` once
/// for each run of them. Returns the number of pages newly released. Called
/// under the heap lock.
pub fn release_pages(
    base: usize,
    npages: usize,
    max_new: usize,
    mut release: impl FnMut(usize, usize),
) -> usize {
    let mut run_start = 0;
    let mut run_len = 0;
    let mut newly = 0;
    for i in 0..npages {
        if newly == max_new {
            break;
        }
        let p = base + i * PAGE_SIZE;
        let (word, bit) = released_bit(p);
        if *word & bit == 0 {
            *word |= bit;
            newly += 1;
            if run_len == 0 {
                run_start = p;
            }
            run_len += 1;
        } else if run_len > 0 {
            release(run_start, run_len * PAGE_SIZE);
            run_len = 0;
        }
    }
    if run_len > 0 {
        release(run_start, run_len * PAGE_SIZE);
    }
    newly
}

/// Clears the released bits of pages about to be handed out; returns how
/// many were set. Called under the heap lock.
pub fn reuse_pages(base: usize, npages: usize) -> usize {
    let mut reused = 0;
    for i in 0..npages {
        let (word, bit) = released_bit(base + i * PAGE_SIZE);
        if *word & bit != 0 {
            *word &= !bit;
            reused += 1;
        }
    }
    reused
}

/// Reserves at least `size` bytes of arena space, preferably at `hint`.
/// Returns the base and the size reserved (a multiple of 64 MiB), or `None`
/// if the OS refuses. Called under the heap lock.
pub fn reserve(hint: usize, size: usize) -> Option<(usize, usize)> {
    let size = size.checked_next_multiple_of(HEAP_ARENA_BYTES)?;
    let base = os::sys_reserve_aligned(hint, size, HEAP_ARENA_BYTES)?.as_ptr() as usize;
    if base + size > ARENA_INDEX_LEN << LOG_HEAP_ARENA_BYTES {
        os::sys_free(base as *mut u8, size);
        return None;
    }
    Some((base, size))
}

/// Gives every arena that `[base, base + size)` touches a `HeapArena`
/// record, if it has none yet. The heap calls it when it maps memory, so a
/// reservation that is never used (a huge request the OS then refuses to
/// back) costs no metadata. `None` if the OS refuses memory for a record.
/// Called under the heap lock.
pub fn register(base: usize, size: usize) -> Option<()> {
    let first = base >> LOG_HEAP_ARENA_BYTES;
    let last = (base + size - 1) >> LOG_HEAP_ARENA_BYTES;
    for slot in &ARENAS[first..=last] {
        if slot.load(Ordering::Acquire).is_null() {
            let rec = persistent_alloc(size_of::<HeapArena>(), align_of::<HeapArena>())?;
            slot.store(rec.as_ptr().cast(), Ordering::Release);
        }
    }
    LOWEST_ARENA.fetch_min(first, Ordering::Relaxed);
    HIGHEST_ARENA.fetch_max(last, Ordering::Relaxed);
    Some(())
}

/// The lowest and highest arena index with a record (`register`).
static LOWEST_ARENA: AtomicUsize = AtomicUsize::new(usize::MAX);
static HIGHEST_ARENA: AtomicUsize = AtomicUsize::new(0);

/// Calls `f` with the base of every arena that has a record: all of its
/// 64 MiB are mapped, readable and writable or reserved. Call under the heap
/// lock (no arena is added meanwhile).
pub fn for_each_arena(mut f: impl FnMut(usize)) {
    let lowest = LOWEST_ARENA.load(Ordering::Relaxed);
    let highest = HIGHEST_ARENA.load(Ordering::Relaxed);
    if lowest > highest {
        return;
    }
    for (i, slot) in ARENAS.iter().enumerate().take(highest + 1).skip(lowest) {
        if !slot.load(Ordering::Acquire).is_null() {
            f(i << LOG_HEAP_ARENA_BYTES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_outside_arenas_have_no_span() {
        let local = 5u64;
        assert!(span_of(&local as *const u64 as usize).is_none());
        assert!(span_of(0).is_none());
        assert!(span_of(usize::MAX).is_none());
    }

    #[test]
    fn reserved_arena_maps_pages_to_spans_and_tracks_zeroed_base() {
        let (base, size) = reserve(0, 1).unwrap();
        register(base, size).unwrap();
        assert_eq!(size, HEAP_ARENA_BYTES);
        assert_eq!(base % HEAP_ARENA_BYTES, 0);
        let mut s = MSpan::new(base + PAGE_SIZE, 3);
        set_spans(s.base, 3, &mut s);
        for i in 0..3 {
            let p = s.base + i * PAGE_SIZE + 100;
            assert!(ptr::eq(span_of(p).unwrap(), &s));
        }
        assert!(span_of(base).is_none());
        assert!(span_of(s.limit()).is_none());
        set_page_in_use(s.base, true);
        assert!(page_in_use(s.base) && !page_in_use(base));
        set_page_in_use(s.base, false);
        assert!(!page_in_use(s.base));
        assert!(!alloc_needs_zero(base + PAGE_SIZE, 2), "never handed out");
        assert!(
            alloc_needs_zero(base, 2),
            "overlaps pages handed out before"
        );
        assert!(!alloc_needs_zero(base + 3 * PAGE_SIZE, 1));
        set_spans(s.base, 3, ptr::null_mut());
    }

    #[test]
    fn released_pages_are_counted_once_in_runs() {
        let (base, size) = reserve(0, 1).unwrap();
        register(base, size).unwrap();
        let mut runs = Vec::new();
        let mut record = |s, n| runs.push((s, n));
        let all = usize::MAX;
        assert_eq!(release_pages(base + PAGE_SIZE, 2, all, &mut record), 2);
        assert_eq!(release_pages(base, 5, all, &mut record), 3);
        assert_eq!(release_pages(base, 9, 2, &mut record), 2, "budget");
        let page = |i: usize| base + i * PAGE_SIZE;
        let want = vec![
            (page(1), 2 * PAGE_SIZE),
            (page(0), PAGE_SIZE),
            (page(3), 2 * PAGE_SIZE),
            (page(5), 2 * PAGE_SIZE),
        ];
        assert_eq!(runs, want);
        assert_eq!(reuse_pages(page(2), 4), 4);
        assert_eq!(reuse_pages(base, 7), 3);
        assert_eq!(reuse_pages(base, 7), 0);
    }
}
