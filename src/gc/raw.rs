//! The raw interface of the managed heap, for libgc's C API (`ffi/src/gc.rs`
//! and the `libgc*` modules): untyped objects of libgc's kinds, the
//! cycle's hooks, and the heap's figures.
//!
//! Every call enters the world for its duration (`mgc.rs`), so it never
//! overlaps a cycle; a call that brings the world to empty with a
//! collection pending runs it (as libgc collects inside `GC_malloc`).
//! Hooks run inside the cycle, with the world held: registering one is
//! `unsafe` (see each `register_*`'s contract). Entering the heap from a
//! hook (`alloc`, `free`, a `mutate` scope) aborts with a goheap message:
//! what it made would never be marked and this cycle would free it. The
//! after-cycle hooks run after the world is released and may do anything.

use super::mbarrier;
use super::mbitmap::{self, Kind as SpanKind};
use super::mcache;
pub use super::mcache::{use_thread_cache, GcCache};
pub use super::mgc::world_held;
use super::mgc::{self, World};
use super::mgcmark;
pub use super::mgcmark::Marker;
use super::mgcpacer;

/// libgc's object kinds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `GC_malloc`: zeroed, scanned conservatively.
    Conservative,
    /// `GC_malloc_atomic`: not zeroed, never scanned.
    Atomic,
    /// `GC_malloc_uncollectable`: zeroed, a root, scanned conservatively,
    /// freed only by `free`.
    Uncollectable,
}

fn span_kind(k: Kind) -> SpanKind {
    match k {
        Kind::Conservative => SpanKind::Conservative,
        Kind::Atomic => SpanKind::Atomic,
        Kind::Uncollectable => SpanKind::Uncollectable,
    }
}

/// Allocates `size` bytes of `kind`, 16-byte aligned (zeroed unless
/// atomic); null when the heap limit or the OS refuses, after one
/// collection to make room.
///
/// # Safety
/// The memory is managed: it may be reused once unreachable from the roots
/// the collector knows (see `register_roots`).
pub unsafe fn alloc(size: usize, kind: Kind) -> *mut u8 {
    let p = alloc_once(size, kind);
    if !p.is_null() {
        return p;
    }
    collect();
    alloc_once(size, kind)
}

fn alloc_once(size: usize, kind: Kind) -> *mut u8 {
    mgc::refuse_in_cycle("raw::alloc");
    let _w = World::enter_short();
    let p = mcache::alloc(span_kind(kind), size, 16);
    if !p.is_null() {
        allocated_in_mark(p, size, kind, mgcmark::note_black_alloc);
    }
    p
}

/// While a mark runs, C objects are allocated *white* (unmarked), except
/// uncollectable ones (roots: a marked object is what the C side's rounds
/// scan again when it is written). The C side's mark ends by scanning its
/// threads' stacks and the pages written meanwhile (`dirtybits.rs`), which
/// finds the new objects that are reachable; the others are freed by this
/// very cycle, and rounds need not scan what the program keeps allocating.
/// (Rust objects are black: Rust stacks are not scanned.) Either way the
/// bytes are charged to the allocating thread's assist by `charge`.
#[inline(always)]
fn allocated_in_mark(p: *mut u8, size: usize, kind: Kind, charge: fn(usize)) {
    if mbarrier::ALLOCATE_BLACK.load(core::sync::atomic::Ordering::Relaxed) {
        if kind == Kind::Uncollectable {
            mbitmap::set_mark_at(p as usize);
        }
        charge(size);
    }
}

/// The fast path of [`alloc`] for a thread that keeps cycles out without
/// entering the world (libgc's registered C threads, see `stoptheworld`):
/// from `cache`'s current span only, with no lock and no refill; null when
/// it takes more (then call [`alloc`]).
///
/// # Safety
/// As for [`alloc`]; `cache` is the calling thread's (`use_thread_cache`),
/// and no cycle holds the world from before this call until it returns.
#[inline(always)]
pub unsafe fn alloc_cached(cache: &mut GcCache, size: usize, kind: Kind) -> *mut u8 {
    let p = mcache::alloc_cached(cache, span_kind(kind), size);
    if !p.is_null() {
        // Outside the world, and a stop waits for this call: no assist
        // here, the bytes are charged when the thread next leaves the world.
        allocated_in_mark(p, size, kind, mgcmark::defer_black_alloc);
    }
    p
}

/// `GC_free`: frees the object starting at `p` now (its memory is reused
/// after the next cycle). False if `p` is not the start of an allocated
/// object of a C kind.
///
/// # Safety
/// Nothing uses the object afterwards.
pub unsafe fn free(p: *mut u8) -> bool {
    mgc::refuse_in_cycle("raw::free");
    let _w = World::enter_short();
    let Some((s, idx)) = mbitmap::object_of(p as usize) else {
        return false;
    };
    if s.object(idx) != p as usize || matches!(s.kind, SpanKind::Typed(_)) {
        return false;
    }
    s.set_bit(mbitmap::Bits::Freed, idx);
    true
}

/// The start of the allocated GC object containing `p`, else null.
pub fn base(p: *const u8) -> *mut u8 {
    let _w = World::enter_short();
    mbitmap::object_of(p as usize)
        .map_or(core::ptr::null_mut(), |(s, idx)| s.object(idx) as *mut u8)
}

/// Usable size of the object at base `p` (0 if `p` is none).
pub fn size(p: *const u8) -> usize {
    let _w = World::enter_short();
    mbitmap::object_of(p as usize).map_or(0, |(s, _)| s.elemsize)
}

/// A full collection now (`GC_gcollect`); see `mgc::collect`.
pub fn collect() {
    mgc::collect();
}

/// `f` reports roots in every cycle's root phase (C threads stopped).
///
/// # Safety
/// `f` runs inside every later cycle, with the world held. It may only
/// mark (`Marker`'s methods, within their own contracts) and query
/// (`base`, `size`, `is_marked`); it must not enter the heap (`alloc`,
/// `free`, `mutate`: they abort), touch GC objects other than by reading
/// them, block on a thread that waits for the world, or panic (a panic
/// inside a cycle aborts).
pub unsafe fn register_roots(f: fn(&mut Marker)) {
    mgc::hooks().roots.push(f);
}

/// `f` runs after marking drains; it returns true if it marked more, and
/// then all after-mark hooks run again.
///
/// # Safety
/// As for `register_roots`; `f` must also return true whenever it marked
/// something, or what that reaches is freed while marked.
pub unsafe fn register_after_mark(f: fn(&mut Marker) -> bool) {
    mgc::hooks().after_mark.push(f);
}

/// Suspends and resumes the C threads around each cycle's mark.
///
/// # Safety
/// As for `register_roots` (`stop` and `start` run inside the cycle);
/// `stop` must return only once every thread that could touch the heap
/// outside the world is suspended, and `start` must resume them.
pub unsafe fn register_world_stopper(stop: fn(), start: fn()) {
    mgc::hooks().world = Some((stop, start));
}

/// `f` runs after each cycle, outside the world.
pub fn after_cycle(f: fn()) {
    mgc::hooks().after_cycle.push(f);
}

/// Whether the object at `p` is marked (valid in after-mark hooks).
pub fn is_marked(p: *const u8) -> bool {
    mgcmark::is_marked(p)
}

/// Whether cycles in which the C side takes part mark beside its threads
/// (`libgc::enable_incremental`): asked for, and the kernel tracks written
/// pages (tracking starts at the first call that asks).
pub fn set_incremental(on: bool) {
    mgc::set_c_concurrent(on);
}

/// Whether the C side's cycles mark concurrently (see `set_incremental`).
pub fn is_incremental() -> bool {
    mgc::c_concurrent()
}

/// Bounds the bytes of GC spans (0: no bound).
pub fn set_max_heap_size(bytes: usize) {
    mgcpacer::set_max_heap(bytes);
}

/// Ends one `disable` (they nest, as libgc's do).
pub fn enable() {
    mgcpacer::enable();
}

/// No collection runs until the matching `enable`.
pub fn disable() {
    mgcpacer::disable();
}

/// Bytes of GC spans (`GC_get_heap_size`).
pub fn heap_size() -> usize {
    mgcpacer::span_bytes()
}

/// Bytes of GC spans not allocated (`GC_get_free_bytes`).
pub fn free_bytes() -> usize {
    mgcpacer::span_bytes().saturating_sub(mgcpacer::heap_live())
}

/// Bytes allocated since the start (`GC_get_total_bytes`).
pub fn total_bytes() -> usize {
    mgcpacer::total_bytes() as usize
}

/// Completed cycles (`GC_get_gc_no`).
pub fn gc_no() -> usize {
    mgcpacer::cycles() as usize
}

/// Blocks until the finalizer thread has run every `Drop` and cleanup of
/// the cycles so far (tests, `GC_invoke_finalizers`-like waits). Called
/// from a cleanup or `Drop` (on the finalizer thread) it returns at once:
/// the rest of the queue runs after the caller.
pub fn wait_for_finalizers() {
    super::mfinal::wait_idle();
}

/// The kind of the allocated C object containing `p` (None: none, or a
/// Rust object). For `GC_realloc` (which keeps the kind) and libgc's
/// finalization marks (which never scan atomic objects).
pub fn kind(p: *const u8) -> Option<Kind> {
    let _w = World::enter_short();
    mbitmap::object_of(p as usize).and_then(|(s, _)| match s.kind {
        SpanKind::Conservative => Some(Kind::Conservative),
        SpanKind::Atomic => Some(Kind::Atomic),
        SpanKind::Uncollectable => Some(Kind::Uncollectable),
        SpanKind::Typed(_) => None,
    })
}
