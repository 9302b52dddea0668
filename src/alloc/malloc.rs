//! The allocator's entry points: size → span class, small vs large, tiny;
//! and validation of what is freed. As in Go's malloc.go (`mallocgc`).
//!
//! - **Small** objects (≤ 32 KiB) come from the thread's mcache. Requests
//!   with alignment at most 16 take the fast path: round the size up to the
//!   alignment, one table lookup, one list pop. Larger
//!   alignments (up to a page) pick the first class whose size is a multiple
//!   of the alignment: objects of such a class are aligned to it.
//! - **Large** objects get a span of their own: one of the last few the
//!   thread freed, if one has the same size (`mcache.rs`), or else straight
//!   from the heap, aligned to the request's alignment when that exceeds a
//!   page. `alloc_zeroed` zeroes heap spans only when they may hold old data
//!   (never used, or released to the OS, means zero).
//! - **Tiny** requests (Rust layouts under 16 bytes with alignment under 8)
//!   share 16-byte blocks (`mcache.rs`). The C ABI never asks for them.
//!
//! `free` finds the span of a pointer through the arena index, and aborts
//! with `goheap: <op>(): invalid pointer 0x…` unless the pointer is the
//! start of an object the span handed out, or `… double free 0x…` if the
//! object carries the free mark. So freeing never needs the size.
//!
//! The first allocation of a thread creates its mcache; the first of the
//! process also installs `pthread_atfork` handlers that hold every allocator
//! lock across `fork()`, so that the child finds the allocator consistent.

use crate::alloc::arena;
use crate::alloc::fixalloc;
use crate::alloc::mcache::{self, MCache, Tiny};
use crate::alloc::mcentral::CENTRAL;
use crate::alloc::mheap::HEAP;
use crate::alloc::mspan::{has_free_mark, FreeObject, MSpan, SpanClass, SpanState};
use crate::alloc::mstats::{self, Stats};
use crate::alloc::scavenger;
use crate::alloc::sizeclasses::{
    class_for_aligned, class_size, size_to_class, smallest_class_holding, MAX_SMALL_SIZE,
    PAGE_SIZE, SMALL_SIZE_MAX, TINY_SIZE,
};
use crate::options;
use crate::os;
use crate::profile;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` on this thread's mcache, creating it on first use.
#[inline(always)]
fn with_cache<R>(f: impl FnOnce(&mut MCache) -> R + Copy) -> R {
    match mcache::current() {
        // SAFETY: this thread's own live cache; allocator code never calls
        // `with_cache` inside `f`, so this is the only reference to it.
        Some(mut c) => f(unsafe { c.as_mut() }),
        None => with_new_cache(f),
    }
}

#[cold]
#[inline(never)]
fn with_new_cache<R>(f: impl FnOnce(&mut MCache) -> R) -> R {
    init_process();
    mcache::with_new(f)
}

/// Whether a Rust layout goes to the tiny allocator (feature `tiny`): 1 to
/// 15 bytes (size 0 gets a unique 16-byte object instead).
#[inline(always)]
pub fn is_tiny(size: usize, align: usize) -> bool {
    cfg!(feature = "tiny") && size.wrapping_sub(1) < TINY_SIZE - 1 && align < 8
}

/// Allocates an object of small class `spc` for a request of `size`
/// bytes: a pop off this thread's cache list, with no call. A thread's first
/// allocation and empty lists go to `alloc_small_slow`.
#[inline(always)]
fn alloc_small(spc: SpanClass) -> *mut u8 {
    let p = try_alloc_small(spc);
    if !p.is_null() {
        return p;
    }
    alloc_small_slow(spc)
}

/// `alloc_small` without its slow path: null when this thread has no cache
/// or its list is empty. The heap profile costs it nothing: its sampled
/// allocations come to the slow path (`mcache.rs`).
#[inline(always)]
fn try_alloc_small(spc: SpanClass) -> *mut u8 {
    match mcache::current() {
        // SAFETY: this thread's own live cache; nothing else refers to it
        // while the allocator runs on this thread.
        Some(mut c) => unsafe { c.as_mut() }.try_alloc(spc),
        None => ptr::null_mut(),
    }
}

#[cold]
#[inline(never)]
fn alloc_small_slow(spc: SpanClass) -> *mut u8 {
    let (p, sampled) = with_cache(|c| {
        let p = c.alloc(spc);
        (p, c.take_sample())
    });
    if sampled {
        return profile_sample_small(p, class_size(spc.sizeclass()));
    }
    p
}

/// Allocates `size` bytes aligned to `align` (a power of two); null when out
/// of memory. Size 0 gives a unique smallest object.
#[inline(always)]
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    if size <= SMALL_SIZE_MAX && align <= 16 {
        // A multiple of 16 stays within SMALL_SIZE_MAX when rounded up.
        let rounded = (size + align - 1) & !(align - 1);
        // SAFETY: rounded ≤ SMALL_SIZE_MAX, so the index is at most
        // SMALL_SIZE_MAX / 8.
        let spc = unsafe { *SPAN_CLASS_8.get_unchecked(rounded.div_ceil(8)) };
        return alloc_small(spc);
    }
    alloc_slow(size, align)
}

/// Largest size `alloc_c_small` takes.
pub const C_SMALL_MAX: usize = SMALL_SIZE_MAX;

/// C's small `malloc`: `size` (at most `C_SMALL_MAX`) bytes aligned to 16
/// (every C block is, as glibc's are), through one table load and a pop.
/// Null when out of memory.
#[inline(always)]
pub fn alloc_c_small(size: usize) -> *mut u8 {
    alloc_small(c_span_class(size))
}

/// `alloc_c_small` without its slow path (no call, so the caller needs no
/// stack frame): null when this thread has no cache or the list is empty;
/// then the caller calls `alloc_c_small`.
#[inline(always)]
pub fn try_alloc_c_small(size: usize) -> *mut u8 {
    try_alloc_small(c_span_class(size))
}

#[inline(always)]
fn c_span_class(size: usize) -> SpanClass {
    debug_assert!(size <= C_SMALL_MAX);
    // SAFETY: size ≤ C_SMALL_MAX, so the index is at most C_SMALL_MAX / 16.
    unsafe { *SPAN_CLASS_16.get_unchecked((size + 15) >> 4) }
}

/// The span class of each size up to `SMALL_SIZE_MAX` rounded up to a
/// multiple of 8 (Rust) or 16 (C), indexed by the rounded size / 8 or 16.
static SPAN_CLASS_8: [SpanClass; SMALL_SIZE_MAX / 8 + 1] = span_class_table::<8, 129>();
static SPAN_CLASS_16: [SpanClass; C_SMALL_MAX / 16 + 1] = span_class_table::<16, 65>();

const fn span_class_table<const STEP: usize, const N: usize>() -> [SpanClass; N] {
    let mut t = [SpanClass::NONE; N];
    let mut i = 0;
    while i < N {
        t[i] = SpanClass::noscan(smallest_class_holding(i * STEP) as usize);
        i += 1;
    }
    t
}

/// `alloc`, with tiny requests packed into shared blocks (Rust layouts).
#[inline(always)]
pub fn alloc_maybe_tiny(size: usize, align: usize) -> *mut u8 {
    if is_tiny(size, align) {
        return alloc_tiny(size, align);
    }
    alloc(size, align)
}

#[inline(always)]
fn alloc_tiny(size: usize, align: usize) -> *mut u8 {
    match with_cache(|c| c.alloc_tiny(size, align)) {
        Tiny::Piece(p) => p,
        Tiny::Sampled => sampled_object(size),
    }
}

#[inline(never)]
fn alloc_slow(size: usize, align: usize) -> *mut u8 {
    if size <= MAX_SMALL_SIZE && align <= 16 {
        // A multiple of 16 stays within MAX_SMALL_SIZE when rounded up.
        let rounded = (size + align - 1) & !(align - 1);
        return alloc_small(SpanClass::noscan(size_to_class(rounded)));
    }
    match class_for_aligned(size, align) {
        Some(class) => alloc_small(SpanClass::noscan(class)),
        None => alloc_large(size, align, false),
    }
}

fn alloc_large(size: usize, align: usize, zero: bool) -> *mut u8 {
    let p = alloc_large_span(size, align, zero);
    // Heap-profile hook (crate::profile).
    if with_cache(|c| c.sample_bytes(size)) && !p.is_null() {
        profile::record_alloc(p, size);
    }
    p
}

/// Heap-profile hook (crate::profile): small object `p` of `size` bytes
/// (its class's) is sampled: it moves to a span of its own (as tcmalloc's
/// sampled objects do), so that only `free_large` looks for records.
#[cold]
#[inline(never)]
fn profile_sample_small(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        return p;
    }
    let own = sampled_object(size);
    if own.is_null() {
        return p;
    }
    // SAFETY: p was allocated just now and never handed out.
    unsafe { free(p, "malloc") };
    own
}

/// Heap-profile hook (crate::profile): a sampled object of `size` bytes on
/// a span of its own, recorded; null when out of memory. Tiny requests that
/// are sampled get one instead of a piece of a block.
#[cold]
#[inline(never)]
fn sampled_object(size: usize) -> *mut u8 {
    let own = alloc_large_span(size, 16, false);
    if !own.is_null() {
        profile::record_alloc(own, size);
    }
    own
}

fn alloc_large_span(size: usize, align: usize, zero: bool) -> *mut u8 {
    let Some(npages) = size
        .checked_next_multiple_of(PAGE_SIZE)
        .map(|b| b / PAGE_SIZE)
    else {
        return ptr::null_mut();
    };
    let npages = npages.max(1);
    let align_pages = align.div_ceil(PAGE_SIZE);
    if align_pages <= 1 {
        if let Some(s) = with_cache(|c| c.alloc_large(npages)) {
            if zero {
                // SAFETY: the span's pages are mapped and ours.
                unsafe { ptr::write_bytes(s.base as *mut u8, 0, size) };
            }
            return s.base as *mut u8;
        }
    }
    let Some(s) = HEAP
        .lock()
        .alloc_span(npages, align_pages, SpanClass::LARGE)
    else {
        return ptr::null_mut();
    };
    // SAFETY: a fresh in-use span, ours alone.
    let s = unsafe { s.as_ref() };
    if zero && s.needzero {
        // SAFETY: the span's pages are mapped and ours.
        unsafe { ptr::write_bytes(s.base as *mut u8, 0, size) };
    }
    s.base as *mut u8
}

/// Allocates `size` zeroed bytes aligned to `align`; null when out of memory.
pub fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    if size > MAX_SMALL_SIZE || align > PAGE_SIZE {
        return alloc_large(size, align, true);
    }
    zero_small(alloc(size, align), size)
}

/// `alloc_zeroed` with tiny requests packed into shared blocks.
pub fn alloc_zeroed_maybe_tiny(size: usize, align: usize) -> *mut u8 {
    if is_tiny(size, align) {
        return zero_small(alloc_maybe_tiny(size, align), size);
    }
    alloc_zeroed(size, align)
}

fn zero_small(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        // SAFETY: p holds at least size bytes we just allocated.
        unsafe { ptr::write_bytes(p, 0, size) };
    }
    p
}

/// What `free` found at a pointer.
enum Object {
    Small(SpanClass),
    Tiny { block: usize },
    Large,
}

/// Finds and checks the object at `p`, aborting on a pointer goheap did not
/// hand out.
#[inline(always)]
fn lookup(p: *mut u8, op: &'static str) -> (Object, &'static MSpan) {
    let addr = p as usize;
    let Some(span) = arena::span_of(addr) else {
        invalid(op, addr)
    };
    if span.state() != SpanState::InUse {
        invalid(op, addr);
    }
    let spc = span.spanclass;
    if spc.is_gc() {
        // The managed heap's objects are freed only by its collector.
        invalid(op, addr);
    }
    if spc == SpanClass::TINY {
        let block = tiny_block(span, addr, op);
        return (Object::Tiny { block }, span);
    }
    if span.object_index(addr).is_none() {
        invalid(op, addr);
    }
    if spc == SpanClass::LARGE {
        (Object::Large, span)
    } else if spc.is_small_noscan() {
        (Object::Small(spc), span)
    } else {
        // The managed heap's spans: not malloc's to free.
        invalid(op, addr)
    }
}

/// The tiny block holding `addr` (blocks are 16-byte aligned).
#[inline(always)]
fn tiny_block(span: &MSpan, addr: usize, op: &'static str) -> usize {
    let block = addr & !(TINY_SIZE - 1);
    if span.object_index(block).is_none() {
        invalid(op, addr);
    }
    block
}

#[cold]
fn invalid(op: &'static str, addr: usize) -> ! {
    os::fatal(op, "invalid pointer", addr)
}

#[cold]
fn double_free(op: &'static str, addr: usize) -> ! {
    os::fatal(op, "double free", addr)
}

/// Frees `p` (null: nothing). `op` names the caller in error messages.
///
/// The fast path, with no call: the page map gives the span (the arena
/// record and its page entry, two loads), the span's first cache line says
/// that `p` starts an object handed out from it (`small_free_class`), the
/// object's second word that it is not free already, and the object goes
/// on this thread's cache list. Everything else (null, tiny pieces, large
/// objects, a thread without a cache, bad pointers) goes to `free_other`.
///
/// # Safety
/// If `p` is an object goheap handed out, nothing uses it afterwards.
#[inline(always)]
pub unsafe fn free(p: *mut u8, op: &'static str) {
    let span = arena::span_ptr_at(p as usize);
    // SAFETY: map entries point at span records, which are never unmapped.
    if let Some(spc) = small_free_class(unsafe { span.as_ref() }, p) {
        if let Some(mut c) = mcache::current() {
            // SAFETY: this thread's own live cache; p is a live object of
            // spc that the caller gives up.
            if unsafe { c.as_mut().push_free(spc, p) } {
                flush_after_free(c, spc);
            }
            return;
        }
    }
    free_other(p, span, op);
}

/// The class of `p` if `span` is a small span (not tiny, not large, not
/// the collector's) and `p` starts an object it handed out that is not
/// free: then `p` may go on a cache list.
#[inline(always)]
fn small_free_class(span: Option<&MSpan>, p: *mut u8) -> Option<SpanClass> {
    let span = span?;
    let spc = span.spanclass;
    // Odd classes are noscan: small ones, or LARGE, whose span never
    // carves (`is_carved_object` is false). Spans not in use have class
    // NONE: no need to check their state.
    let ok = spc.0 & 1 == 1
        && span.is_carved_object(p as usize)
        // SAFETY: p starts a carved object of spc, of 16 bytes or more
        // when it carries marks.
        && !(has_free_mark(spc) && unsafe { FreeObject::is_marked(p.cast()) });
    ok.then_some(spc)
}

#[cold]
#[inline(never)]
fn flush_after_free(mut c: ptr::NonNull<MCache>, spc: SpanClass) {
    // SAFETY: this thread's own live cache (see `free`).
    unsafe { c.as_mut() }.flush(spc);
    scavenger::ensure_started();
}

/// `free` off its fast path; `span` is what the page map holds at `p`.
#[inline(never)]
fn free_other(p: *mut u8, span: *mut MSpan, op: &'static str) {
    if p.is_null() {
        return;
    }
    // SAFETY: map entries point at span records, which are never unmapped.
    let span_ref = unsafe { span.as_ref() };
    if let Some(spc) = small_free_class(span_ref, p) {
        // A thread without a cache yet (or any more).
        // SAFETY: p is an in-use object of spc that the caller gives up.
        if with_cache(|c| unsafe { c.free(spc, p) }) {
            scavenger::ensure_started();
        }
        return;
    }
    match span_ref {
        Some(s) if s.spanclass == SpanClass::TINY => free_tiny(s, p as usize, op),
        _ => free_slow(p, op),
    }
}

/// Large objects and bad pointers.
#[inline(never)]
fn free_slow(p: *mut u8, op: &'static str) {
    match lookup(p, op).0 {
        Object::Small(_) => double_free(op, p as usize),
        Object::Tiny { .. } => invalid(op, p as usize),
        Object::Large => free_large(arena::span_ptr_at(p as usize)),
    }
}

/// Frees the tiny piece at `addr` of tiny span `span`.
#[inline(always)]
fn free_tiny(span: &MSpan, addr: usize, op: &'static str) {
    // A piece of this thread's current block needs no checks: the block is
    // live and this thread owns its count.
    if with_cache(|c| c.free_tiny_if_current(addr & !(TINY_SIZE - 1))) {
        return;
    }
    let block = tiny_block(span, addr, op);
    // SAFETY: block is a carved 16-byte tiny block.
    if unsafe { FreeObject::is_marked(block as *mut FreeObject) } {
        double_free(op, addr);
    }
    // SAFETY: block is a tiny block holding the piece at addr.
    if !with_cache(|c| unsafe { c.free_tiny(block) }) {
        double_free(op, addr);
    }
}

#[inline(never)]
fn free_large(span: *mut MSpan) {
    // Heap-profile hook (crate::profile): sampled objects have spans of
    // their own, so only here is a free looked up.
    if profile::enabled() {
        // SAFETY: the live in-use span of the object being freed.
        profile::record_free(unsafe { (*span).base } as *mut u8);
    }
    if with_cache(|c| c.free_large(span)) {
        scavenger::ensure_started();
    }
}

/// Bytes usable at `p`. For a tiny piece (Rust layouts only) this is the
/// rest of its 16-byte block, which later pieces may share: only
/// `realloc`, which copies at most the new size, relies on it there.
///
/// # Safety
/// `p` is a live object goheap handed out (anything else aborts).
pub unsafe fn usable_size(p: *mut u8, op: &'static str) -> usize {
    match lookup(p, op) {
        (Object::Tiny { block }, _) => block + TINY_SIZE - p as usize,
        (_, span) => span.elemsize,
    }
}

/// Resizes `p` to `new_size` bytes aligned to `align`, in place when the new
/// size keeps its size class or a large object can grow or shrink where it
/// is; otherwise moves it. Null when out of memory (then `p` is untouched).
///
/// # Safety
/// `p` is a live object goheap handed out, aligned to `align`; the caller
/// uses the result instead of `p`.
pub unsafe fn realloc(p: *mut u8, new_size: usize, align: usize, op: &'static str) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { resize(p, None, new_size, align, op) }
}

/// `realloc` for Rust, which knows the old size: a tiny piece that is the
/// last one of its thread's current block grows or shrinks in place, and a
/// moved object copies exactly its old bytes.
///
/// # Safety
/// As `realloc`; `old_size` is the size `p` was allocated or last resized
/// with.
pub unsafe fn realloc_sized(
    p: *mut u8,
    old_size: usize,
    new_size: usize,
    align: usize,
    op: &'static str,
) -> *mut u8 {
    if is_tiny(old_size, align)
        && with_cache(|c| c.resize_tiny_in_place(p as usize, old_size, new_size))
    {
        return p;
    }
    // SAFETY: forwarded contract.
    unsafe { resize(p, Some(old_size), new_size, align, op) }
}

/// Resizes in place or moves; copies `old_size` bytes, or all that is
/// usable at `p` when the old size is not known.
///
/// # Safety
/// As `realloc_sized`.
unsafe fn resize(
    p: *mut u8,
    old_size: Option<usize>,
    new_size: usize,
    align: usize,
    op: &'static str,
) -> *mut u8 {
    let (obj, span) = lookup(p, op);
    let usable = match obj {
        Object::Tiny { block } => block + TINY_SIZE - p as usize,
        Object::Small(spc) => {
            if new_size <= MAX_SMALL_SIZE
                && size_to_class(new_size.next_multiple_of(align)) == spc.sizeclass()
            {
                return p;
            }
            span.elemsize
        }
        Object::Large => {
            if resize_large_in_place(arena::span_ptr_at(p as usize), new_size, align) {
                return p;
            }
            span.elemsize
        }
    };
    let q = alloc_maybe_tiny(new_size, align);
    if !q.is_null() {
        let len = old_size.unwrap_or(usable).min(new_size);
        // SAFETY: p holds `len` readable bytes and q `len` writable ones. A
        // tiny piece of unknown size is copied with the rest of its block,
        // which may hold q itself: `copy` allows overlap.
        unsafe {
            ptr::copy(p, q, len);
            free(p, op);
        }
    }
    q
}

fn resize_large_in_place(span: *mut MSpan, new_size: usize, align: usize) -> bool {
    if new_size <= MAX_SMALL_SIZE {
        return false;
    }
    let Some(npages) = new_size.checked_next_multiple_of(PAGE_SIZE) else {
        return false;
    };
    let npages = npages / PAGE_SIZE;
    // SAFETY: span is the live in-use large span of the object being resized.
    if npages == unsafe { (*span).npages } {
        return true;
    }
    let _ = align; // the base stays where it is, so its alignment holds
    HEAP.lock().resize_large(span, npages)
}

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Once per process: installs the fork handlers. Marked done first, so an
/// allocation made by `pthread_atfork` itself goes straight through.
fn init_process() {
    if !INITIALIZED.swap(true, Ordering::AcqRel) {
        // SAFETY: registering handlers that only take and release locks.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
        if options::stats_at_exit() {
            // SAFETY: registering a handler that only reads and prints.
            unsafe { libc::atexit(print_stats_at_exit) };
        }
    }
}

/// Takes every allocator lock, in lock order (for `fork()`, and for the
/// collector before it stops the C threads: see `gc::stoptheworld`).
pub(crate) fn lock_all() {
    // SAFETY: only takes locks.
    unsafe { fork_prepare() }
}

/// Releases what [`lock_all`] took (on the same thread).
pub(crate) fn unlock_all() {
    // SAFETY: lock_all took them on this thread.
    unsafe { fork_parent() }
}

/// Takes every allocator lock, in lock order, before `fork()`.
unsafe extern "C" fn fork_prepare() {
    mcache::lock_for_fork();
    for c in CENTRAL.iter() {
        c.lock_for_fork();
    }
    HEAP.lock_for_fork();
    fixalloc::lock_for_fork();
}

/// Releases what `fork_prepare` took.
unsafe extern "C" fn fork_parent() {
    // SAFETY: fork_prepare took these locks on this thread.
    unsafe {
        fixalloc::unlock_after_fork();
        HEAP.unlock_after_fork();
        for c in CENTRAL.iter() {
            c.unlock_after_fork();
        }
        mcache::unlock_after_fork();
    }
}

unsafe extern "C" fn fork_child() {
    // SAFETY: the child is a copy of the thread that ran fork_prepare; the
    // other threads' caches are simply never used again.
    unsafe { fork_parent() };
    scavenger::forget_after_fork();
}

/// Hands back to the OS everything goheap can: this thread's cached
/// objects go back to their spans, and every free page is released (Go's
/// `debug.FreeOSMemory`, C's `malloc_trim(0)`). Returns the bytes released.
pub fn release() -> usize {
    with_cache(|c| c.release_all());
    scavenger::release_all()
}

/// The current statistics (see `mstats.rs`).
pub fn stats() -> Stats {
    mstats::read()
}

/// Prints the statistics to stderr (C's `malloc_stats`).
pub fn print_stats() {
    mstats::print(&mstats::read());
}

extern "C" fn print_stats_at_exit() {
    print_stats();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::mspan::ObjList;

    fn span(npages: usize, spc: SpanClass) -> &'static mut MSpan {
        let s = HEAP.lock().alloc_span(npages, 1, spc).unwrap();
        // SAFETY: a fresh in-use span, this test's alone.
        unsafe { &mut *s.as_ptr() }
    }

    /// Only carved, unmarked objects of small noscan spans may take the
    /// free fast path: not the managed heap's spans, not large or tiny
    /// ones, not free objects, not interior or uncarved addresses.
    #[test]
    fn only_live_objects_of_small_spans_take_the_free_fast_path() {
        let class = size_to_class(96);
        for (spc, fast) in [
            (SpanClass::noscan(class), true),
            (SpanClass(SpanClass::noscan(class).0 - 1), false),
            (SpanClass::TINY, false),
        ] {
            let s = span(1, spc);
            let mut objs = ObjList::new();
            s.take(2, &mut objs);
            let p = objs.pop();
            // SAFETY: p is a carved object of at least 16 bytes.
            unsafe { FreeObject::clear_mark(p) };
            let p = p.cast::<u8>();
            let want = fast.then_some(spc);
            assert_eq!(small_free_class(Some(s), p), want, "{spc:?}");
            let elem = s.elemsize;
            // SAFETY: addresses inside the span, only compared.
            let (interior, uncarved) = unsafe { (p.add(8), p.add(2 * elem)) };
            assert_eq!(small_free_class(Some(s), interior), None);
            assert_eq!(small_free_class(Some(s), uncarved), None);
            let marked = objs.pop();
            assert_eq!(
                small_free_class(Some(s), marked.cast()),
                None,
                "free already"
            );
        }
        let large = span(2, SpanClass::LARGE);
        assert_eq!(small_free_class(Some(large), large.base as *mut u8), None);
        assert_eq!(small_free_class(None, ptr::null_mut()), None);
    }

    /// The fast paths' class tables give what `size_to_class` gives for
    /// every small size rounded up to 8 (Rust) or 16 (C).
    #[test]
    fn the_class_tables_match_size_to_class() {
        for size in 0..=C_SMALL_MAX {
            let want = SpanClass::noscan(size_to_class(size.next_multiple_of(16)));
            assert_eq!(SPAN_CLASS_16[(size + 15) >> 4], want, "size {size}");
            let want = SpanClass::noscan(size_to_class(size.next_multiple_of(8)));
            assert_eq!(SPAN_CLASS_8[size.div_ceil(8)], want, "size {size}");
        }
    }
}
