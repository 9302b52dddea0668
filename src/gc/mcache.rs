//! Allocation of GC objects: per-thread caches of GC spans and the central
//! span lists (Go's mcache.go and mcentral.go, for the managed heap).
//!
//! `Central` (one lock) owns every GC span record (`all`) and, per kind, the
//! spans with free slots that no cache holds (`partial`); the sweep rebuilds
//! `partial` from scratch each cycle. A `GcCache` belongs to one thread and
//! holds one current span per C kind and size class, and one per Rust type
//! (a small direct-mapped table keyed by the type's `TypeInfo`). Each slot
//! keeps a 64-bit window of the span's alloc bits, inverted (Go's
//! `allocCache`): allocation is a trailing-zero count, a clear of that bit
//! and a store of the span's `freeindex`.
//!
//! A thread finds its cache through `os::gc_cache_word` (one initial-exec
//! TLS load). Caches are used only inside the world (`mgc.rs`), and the
//! cycle empties every registered cache before it sweeps (`flush_all`, with
//! the world held), so no cache holds a span across a sweep. During a
//! concurrent mark caches keep allocating, black (`api::allocate_black`).
//! The exception is libgc's: a registered C thread owns its cache
//! (`use_thread_cache`), allocates from it outside the world when no refill
//! is needed (`alloc_cached`), and the world stopper empties it once the
//! thread stands still (see `stoptheworld`; the start and the end of every
//! cycle stop the C threads). Taking a span counts its free slots as allocated
//! bytes for the pacer (as Go's `mcache.refill` does); that is when a
//! collection may be requested.

use super::mbitmap::{self, Bits, GcSpan, Kind, TypeInfo};
use super::mgcmark::prefetch;
use super::mgcpacer;
use super::mgcsweep;
use crate::alloc::mheap::HEAP;
use crate::alloc::mspan::SpanClass;
use crate::alloc::sizeclasses::{
    class_for_aligned, class_size, size_to_class, CLASS_TO_NPAGES, MAX_SMALL_SIZE,
    NUM_SIZE_CLASSES, PAGE_SIZE,
};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

/// Kind and object size: a span serves only its own size class.
pub type SpanKey = (Kind, usize);

/// The central lists (see the module comment).
pub struct Central {
    /// Every span record but those in `unswept`, per key (so that the lazy
    /// sweep takes them all at once: `mgcsweep::begin`).
    pub all: HashMap<SpanKey, Vec<*mut GcSpan>>,
    /// Swept spans with free slots that no cache holds.
    pub partial: HashMap<SpanKey, Vec<*mut GcSpan>>,
    /// Spans the lazy sweep has not reached yet (`mgcsweep.rs`), their
    /// number, and the cycle they are swept for.
    pub unswept: HashMap<SpanKey, Vec<*mut GcSpan>>,
    pub unswept_count: usize,
    pub sweep_gen: u32,
    /// Span records in `all` and `unswept`.
    pub spans: usize,
}

// SAFETY: the records are shared, guarded by the lock and the world.
unsafe impl Send for Central {}

static CENTRAL: LazyLock<Mutex<Central>> = LazyLock::new(|| {
    Mutex::new(Central {
        all: HashMap::new(),
        partial: HashMap::new(),
        unswept: HashMap::new(),
        unswept_count: 0,
        sweep_gen: 0,
        spans: 0,
    })
});

pub fn central() -> MutexGuard<'static, Central> {
    CENTRAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy)]
struct Slot {
    span: *mut GcSpan,
    /// Free slots of word `word` of the span (bit i: object word·64 + i).
    free: u64,
    word: u32,
}

const EMPTY: Slot = Slot {
    span: ptr::null_mut(),
    free: 0,
    word: 0,
};

const TYPED_SLOTS: usize = 64;
const C_KINDS: usize = 3;

/// A thread's cache (see the module comment).
pub struct GcCache {
    c: [[Slot; NUM_SIZE_CLASSES]; C_KINDS],
    typed: [(*const TypeInfo, Slot); TYPED_SLOTS],
}

impl GcCache {
    pub(crate) const fn new() -> GcCache {
        GcCache {
            c: [[EMPTY; NUM_SIZE_CLASSES]; C_KINDS],
            typed: [(ptr::null(), EMPTY); TYPED_SLOTS],
        }
    }

    /// Allocates one object of `kind` in size class `class` (not 0),
    /// zeroed if the kind says so.
    #[inline(always)]
    pub fn alloc(&mut self, kind: Kind, class: usize) -> *mut u8 {
        let p = self.alloc_cached(kind, class);
        if !p.is_null() {
            return p;
        }
        self.alloc_refill(kind, class)
    }

    /// Allocates from the slot's current window only: no lock, no refill,
    /// null when the window is empty.
    #[inline(always)]
    fn alloc_cached(&mut self, kind: Kind, class: usize) -> *mut u8 {
        let slot = self.slot(kind, class);
        let free = slot.free;
        if free == 0 {
            return ptr::null_mut();
        }
        // Everything read first, into locals: the stores below would
        // otherwise make the compiler read the slot and the span again.
        let rest = free & (free - 1);
        let first = slot.word as usize * 64;
        // SAFETY: the slot's span is live and this cache's alone.
        let s = unsafe { &*slot.span };
        let (base, size) = (s.base, s.elemsize);
        let idx = first + free.trailing_zeros() as usize;
        slot.free = rest;
        s.freeindex.store(idx as u32 + 1, Ordering::Relaxed);
        // The next object of this slot will be written soon: start
        // bringing its line in (reused memory is rarely cached).
        prefetch(base + (first + rest.trailing_zeros() as usize) * size);
        let p = (base + idx * size) as *mut u8;
        if kind.zeroes() {
            // SAFETY: a fresh object of the span, ours (class sizes are
            // multiples of 16 from 16 bytes up, and so are object starts).
            unsafe { zero(p, size) };
        }
        p
    }

    #[inline(always)]
    fn slot(&mut self, kind: Kind, class: usize) -> &mut Slot {
        match kind {
            Kind::Typed(info) => {
                let i = (info as *const TypeInfo as usize >> 4) % TYPED_SLOTS;
                let e = &mut self.typed[i];
                if !ptr::eq(e.0, info) {
                    if !e.1.span.is_null() {
                        give_back(e.1.span);
                    }
                    *e = (info, EMPTY);
                }
                &mut e.1
            }
            Kind::Conservative => &mut self.c[0][class],
            Kind::Atomic => &mut self.c[1][class],
            Kind::Uncollectable => &mut self.c[2][class],
        }
    }

    #[inline(never)]
    fn alloc_refill(&mut self, kind: Kind, class: usize) -> *mut u8 {
        let slot = self.slot(kind, class);
        if !slot.span.is_null() && advance(slot) {
            return self.alloc(kind, class);
        }
        let Some(span) = take_span(kind, class, slot.span) else {
            *slot = EMPTY;
            return ptr::null_mut();
        };
        // SAFETY: a live record just taken for this cache.
        let fi = unsafe { (*span).freeindex.load(Ordering::Relaxed) };
        *slot = Slot {
            span,
            free: 0,
            word: fi / 64,
        };
        slot.free = window(slot) & (!0u64 << (fi % 64));
        if slot.free == 0 && !advance(slot) {
            unreachable!("a span with free slots has a free slot")
        }
        self.alloc(kind, class)
    }

    /// Forgets every cached span (the next sweep finds their free slots).
    /// Called with the world held.
    pub(crate) fn clear(&mut self) {
        let typed = self.typed.iter().map(|(_, slot)| slot);
        for slot in self.c.iter().flatten().chain(typed) {
            // SAFETY: a cached span is live.
            if let Some(s) = unsafe { slot.span.as_ref() } {
                s.cached.store(false, Ordering::Relaxed);
            }
        }
        *self = GcCache::new();
    }
}

/// The free slots of the slot's current word.
fn window(slot: &Slot) -> u64 {
    // SAFETY: the slot's span is live.
    let s = unsafe { &*slot.span };
    let w = slot.word as usize;
    !s.word(Bits::Alloc, w).load(Ordering::Relaxed) & s.valid_mask(w)
}

/// Moves the slot's window to the next word with a free slot; false when
/// the span has none left.
fn advance(slot: &mut Slot) -> bool {
    // SAFETY: the slot's span is live.
    let nwords = unsafe { (*slot.span).nwords() } as u32;
    while slot.word + 1 < nwords {
        slot.word += 1;
        slot.free = window(slot);
        if slot.free != 0 {
            return true;
        }
    }
    false
}

/// Free slots of `s` at or past its freeindex.
fn free_slots(s: &GcSpan) -> usize {
    let fi = s.freeindex.load(Ordering::Relaxed) as usize;
    (fi..s.nelems as usize)
        .filter(|&i| !s.bit(Bits::Alloc, i))
        .count()
}

/// Returns a cached span to the central lists: to `partial` if it has
/// free slots (a full one stays only in `all`: a span on `partial` always
/// has a free slot).
fn give_back(s: *mut GcSpan) {
    let mut c = central();
    // SAFETY: a live record.
    let span = unsafe { &*s };
    span.cached.store(false, Ordering::Relaxed);
    if free_slots(span) > 0 {
        c.partial.entry(span.key()).or_default().push(s);
    }
}

/// A span of `kind`/`class` with a free slot, for a cache: a swept one
/// from `partial`, else one the lazy sweep frees up, else a new one. The
/// cache gives up `old` (its exhausted span, or null).
fn take_span(kind: Kind, class: usize, old: *mut GcSpan) -> Option<*mut GcSpan> {
    let mut c = central();
    // SAFETY: a span the cache held is live.
    if let Some(old) = unsafe { old.as_ref() } {
        old.cached.store(false, Ordering::Relaxed);
    }
    let bytes = CLASS_TO_NPAGES[class] as usize * PAGE_SIZE;
    let credit = mgcsweep::credit_for(bytes, mgcsweep::TAKE_CREDIT);
    mgcsweep::sweep_credit(&mut c, credit);
    let s = take_span_locked(&mut c, kind, class)?;
    // SAFETY: a live record, now this cache's.
    unsafe { (*s).cached.store(true, Ordering::Relaxed) };
    Some(s)
}

fn take_span_locked(c: &mut Central, kind: Kind, class: usize) -> Option<*mut GcSpan> {
    let key = (kind, class_size(class));
    let found = loop {
        match c.partial.get_mut(&key).and_then(Vec::pop) {
            // SAFETY: records on the lists are live.
            Some(s) if free_slots(unsafe { &*s }) > 0 => break Some(s),
            Some(_) => continue,
            None => break mgcsweep::sweep_for(c, key),
        }
    };
    if let Some(s) = found {
        // SAFETY: a live record with free slots, now this cache's.
        let s_ref = unsafe { &*s };
        let free = free_slots(s_ref);
        mgcpacer::note_alloc(free * s_ref.elemsize, free);
        return Some(s);
    }
    let npages = CLASS_TO_NPAGES[class] as usize;
    mgcsweep::sweep_credit(
        c,
        mgcsweep::credit_for(npages * PAGE_SIZE, mgcsweep::GROW_CREDIT),
    );
    let s = new_span(c, kind, class, npages)?;
    // SAFETY: a fresh record.
    let n = unsafe { (*s).nelems } as usize;
    mgcpacer::note_alloc(n * unsafe { (*s).elemsize }, n);
    Some(s)
}

/// Takes a span from the heap and makes it a GC span of `kind`.
fn new_span(c: &mut Central, kind: Kind, class: usize, npages: usize) -> Option<*mut GcSpan> {
    if !mgcpacer::may_grow(npages * PAGE_SIZE) {
        return None;
    }
    let ms = HEAP.lock().alloc_span(npages, 1, SpanClass::gc(class))?;
    // SAFETY: a fresh in-use GC span, ours.
    let mut rec = unsafe { GcSpan::new(ms.as_ptr(), kind) };
    *rec.sweepgen.get_mut() = mgcpacer::cycles();
    let rec = Box::into_raw(Box::new(rec));
    // SAFETY: just made.
    mbitmap::set_pages(unsafe { &*rec }, rec);
    // SAFETY: just made.
    let key = unsafe { (*rec).key() };
    c.all.entry(key).or_default().push(rec);
    c.spans += 1;
    mgcpacer::note_span(npages * PAGE_SIZE, true);
    Some(rec)
}

/// Allocates one large object (its own span).
fn alloc_large(kind: Kind, size: usize) -> *mut u8 {
    let Some(npages) = size.checked_next_multiple_of(PAGE_SIZE) else {
        return ptr::null_mut();
    };
    let mut c = central();
    let Some(s) = new_span(&mut c, kind, 0, npages / PAGE_SIZE) else {
        return ptr::null_mut();
    };
    // SAFETY: a fresh record.
    let s = unsafe { &*s };
    s.freeindex.store(1, Ordering::Relaxed);
    // Black from the moment it is in `all`, before the lock goes: a full
    // span in no cache and with no mark is what the mark worker frees once
    // the mark is done (`mgcsweep::free_dead_spans`). C objects but
    // uncollectable ones are white (see `raw`; no span is freed early
    // while C takes part).
    let white = matches!(kind, Kind::Conservative | Kind::Atomic);
    if super::mbarrier::ALLOCATE_BLACK.load(Ordering::Relaxed) && !white {
        mbitmap::set_mark_at(s.base);
    }
    mgcpacer::note_alloc(s.elemsize, 1);
    // SAFETY: the mheap span record is live.
    if kind.zeroes() && unsafe { (*s.mspan).needzero } {
        // SAFETY: the span's memory is ours.
        unsafe { ptr::write_bytes(s.base as *mut u8, 0, s.elemsize) };
    }
    s.base as *mut u8
}

/// Whether a C kind (conservative, atomic, uncollectable) was ever
/// allocated: C code writes those objects without barriers, so from then on
/// every cycle tracks written pages or marks with the world held (`mgc.rs`).
static C_KINDS_USED: AtomicBool = AtomicBool::new(false);

pub fn c_kinds_used() -> bool {
    C_KINDS_USED.load(Ordering::Relaxed)
}

#[inline(always)]
fn note_kind(kind: Kind) {
    if !matches!(kind, Kind::Typed(_)) && !C_KINDS_USED.load(Ordering::Relaxed) {
        C_KINDS_USED.store(true, Ordering::Relaxed);
    }
}

/// Allocates `size` bytes aligned to `align` for `kind`; zeroed if the kind
/// says so; null when the heap limit or the OS refuses, or for alignments
/// above a page. Call inside the world.
#[inline(always)]
pub fn alloc(kind: Kind, size: usize, align: usize) -> *mut u8 {
    if align > PAGE_SIZE {
        // Spans are only page-aligned.
        return ptr::null_mut();
    }
    note_kind(kind);
    let Some(class) = class_of(size.max(1), align) else {
        return alloc_large(kind, size.max(1));
    };
    with_cache(|c| c.alloc(kind, class))
}

/// libgc's fast path (`gc::libgc`): `size` bytes of C kind `kind`, 16-byte
/// aligned, from `cache`'s current span only: no lock, no refill, no call
/// into the heap; null when that takes more (the caller then enters the
/// world and calls [`alloc`]). The caller keeps every cycle out meanwhile,
/// as for any use of a cache.
#[inline(always)]
pub fn alloc_cached(cache: &mut GcCache, kind: Kind, size: usize) -> *mut u8 {
    let Some(class) = class_of(size.max(1), 16) else {
        return ptr::null_mut();
    };
    cache.alloc_cached(kind, class)
}

/// Zeroes an object of `size` bytes (a class size); up to 64 bytes with
/// inline 16-byte stores rather than a `memset` call.
///
/// # Safety
/// `size` bytes from `p` are writable; `p` is 16-byte aligned if `size` is
/// a multiple of 16.
#[inline(always)]
unsafe fn zero(p: *mut u8, size: usize) {
    if size > 64 || size % 16 != 0 {
        // SAFETY: per the contract.
        unsafe { ptr::write_bytes(p, 0, size) };
        return;
    }
    let w = p as *mut u128;
    // SAFETY: per the contract, each store is inside the object (size is
    // 16, 32, 48 or 64).
    unsafe {
        w.write(0);
        if size > 16 {
            w.add(1).write(0);
            if size > 32 {
                w.add(2).write(0);
                if size > 48 {
                    w.add(3).write(0);
                }
            }
        }
    }
}

/// The bytes an object of `size` bytes aligned to `align` takes (its
/// class's size, or whole pages if large), as `alloc` gives them; for
/// compile-time use (`const` blocks: it searches the class table).
pub const fn gc_object_size(size: usize, align: usize) -> usize {
    let size = if size == 0 { 1 } else { size };
    if size <= MAX_SMALL_SIZE && align <= PAGE_SIZE {
        let mut c = 1;
        while c < NUM_SIZE_CLASSES {
            let n = class_size(c);
            if n >= size && n % align == 0 {
                return n;
            }
            c += 1;
        }
    }
    size.next_multiple_of(PAGE_SIZE)
}

/// The size class for `size` bytes aligned to `align`, `None` if large.
#[inline(always)]
fn class_of(size: usize, align: usize) -> Option<usize> {
    if size <= MAX_SMALL_SIZE && align <= 16 {
        // Classes from 16 bytes up are multiples of 16 (sizeclasses.rs).
        return Some(size_to_class(size.next_multiple_of(align)));
    }
    class_for_aligned(size, align)
}

/// This thread's cache, registered in `CACHES` on first use.
struct CacheHandle(Box<UnsafeCell<GcCache>>);

/// Every live cache, for `flush_all`.
static CACHES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

impl CacheHandle {
    fn new() -> CacheHandle {
        let h = CacheHandle(Box::new(UnsafeCell::new(GcCache::new())));
        lock_caches().push(h.0.get() as usize);
        h
    }
}

impl Drop for CacheHandle {
    fn drop(&mut self) {
        // `flush_all` clears caches under the `CACHES` lock: once this one
        // is off the list no cycle touches it. (Not by entering the world:
        // the exit could end a cycle the concurrent mark left pending, on a
        // thread that is going away.)
        let me = self.0.get() as usize;
        if crate::os::gc_cache_word::get() == me {
            crate::os::gc_cache_word::set(0);
        }
        lock_caches().retain(|&c| c != me);
    }
}

fn lock_caches() -> MutexGuard<'static, Vec<usize>> {
    CACHES.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static CACHE: CacheHandle = CacheHandle::new();
}

/// For threads whose cache is gone (allocating in a TLS destructor).
static FALLBACK: Mutex<GcCache> = Mutex::new(GcCache::new());

// SAFETY: the fallback cache is used under its lock, inside the world.
unsafe impl Send for GcCache {}

/// Runs `f` on this thread's cache: the one in `os::gc_cache_word` (one
/// initial-exec TLS load, no `__tls_get_addr` even in `libgoheap.so`),
/// else the thread's `CACHE`, which the word then names until its
/// destructor, else (after it) the locked `FALLBACK`.
#[inline(always)]
fn with_cache<R>(f: impl FnOnce(&mut GcCache) -> R) -> R {
    let c = crate::os::gc_cache_word::get() as *mut GcCache;
    if !c.is_null() {
        // SAFETY: the word names a live cache of this thread (`CACHE`'s,
        // cleared by its destructor, or one installed by `use_thread_cache`
        // under its contract); no reentrant use (allocation never allocates
        // GC objects).
        return f(unsafe { &mut *c });
    }
    with_cache_slow(f)
}

#[cold]
fn with_cache_slow<R>(f: impl FnOnce(&mut GcCache) -> R) -> R {
    let mut f = Some(f);
    let r = CACHE.try_with(|h| {
        crate::os::gc_cache_word::set(h.0.get() as usize);
        // SAFETY: this thread's cache; no reentrant use (as above).
        (f.take().unwrap())(unsafe { &mut *h.0.get() })
    });
    match r {
        Ok(r) => r,
        Err(_) => {
            let mut c = FALLBACK.lock().unwrap_or_else(|e| e.into_inner());
            (f.take().unwrap())(&mut c)
        }
    }
}

/// Makes `cache` this thread's cache (libgc's registered threads own theirs,
/// which `flush_all` does not see); null goes back to the thread's own.
///
/// # Safety
/// `cache` stays live and used by this thread alone until it is replaced;
/// whoever installs it empties it in every cycle, after stopping this
/// thread and before the mark.
pub unsafe fn use_thread_cache(cache: *mut GcCache) {
    crate::os::gc_cache_word::set(cache as usize);
}

/// Empties every cache. Called by the cycle, with the world stopped.
pub fn flush_all() {
    for &c in lock_caches().iter() {
        // SAFETY: registered caches are live; their threads are outside the
        // world, so none of them touches its cache.
        unsafe { (*(c as *mut GcCache)).clear() };
    }
    FALLBACK.lock().unwrap_or_else(|e| e.into_inner()).clear();
}
