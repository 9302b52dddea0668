//! GC span records and their bitmaps (Go's mbitmap.go, `mspan`'s GC half).
//!
//! `GcSpan` is the collector's side record of one GC span of the mheap. It
//! copies the span's geometry (base, object size, count, the divide magic)
//! and adds the kind and the bitmaps, one bit per object each:
//!
//! - `alloc`: allocated at the last sweep (Go's `allocBits`). An object is
//!   *allocated* iff its index is below `freeindex` or its alloc bit is set,
//!   and its `freed` bit is clear.
//! - mark bits (Go's `gcmarkBits`) are not per span: each arena has one
//!   bitmap with a bit per 8-byte word (`MARKS`), set at an object's first
//!   word. A precise `Gc` pointer is always an object start, so marking it
//!   needs no span lookup at all (`set_mark_at`); the sweep gathers a
//!   span's bits into per-object words and clears them. Set by atomic or.
//! - `freed`: given back by `raw::free` since the last sweep (C kinds).
//! - `queued`, `dropped`: for Rust types that need `Drop`: the object was
//!   handed to the finalizer thread, and its drop has run (see
//!   `mgcsweep.rs`). A queued object is never traced.
//!
//! The page map (`span_of`) maps each page of a GC span to its record:
//! a flat index of 64 MiB arenas, each with a lazily allocated table of one
//! pointer per page. Entries are set when a span is created and cleared
//! before it goes back to the heap; both happen inside the world (see
//! `mgc.rs`), and records are freed only by the cycle, so a reader inside
//! the world never sees a dangling record.

use super::mgcmark::Marker;
use crate::alloc::arena::{LOG_HEAP_ARENA_BYTES, PAGES_PER_ARENA};
use crate::alloc::mspan::MSpan;
use crate::alloc::sizeclasses::{PAGE_SHIFT, PAGE_SIZE};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// What the collector knows of a Rust type: how to trace and drop a value.
pub struct TypeInfo {
    /// Marks the GC pointers of the value at the address (`None`: it has
    /// none, its spans are noscan).
    pub trace: Option<unsafe fn(*const u8, &mut Marker)>,
    /// Drops the value in place (`None`: no drop glue).
    pub drop: Option<unsafe fn(*mut u8)>,
    pub size: usize,
}

/// The kind of objects a span holds (see the table in `mod.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Typed(&'static TypeInfo),
    Conservative,
    Atomic,
    Uncollectable,
}

impl PartialEq for TypeInfo {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(self, other)
    }
}
impl Eq for TypeInfo {}
impl core::hash::Hash for TypeInfo {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        (self as *const TypeInfo as usize).hash(h)
    }
}
impl core::fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TypeInfo({:p}, {} bytes)", self, self.size)
    }
}

impl Kind {
    /// Whether new objects must be zeroed (they may hold pointers).
    pub fn zeroes(self) -> bool {
        matches!(self, Kind::Conservative | Kind::Uncollectable)
    }

    fn needs_drop(self) -> bool {
        matches!(self, Kind::Typed(TypeInfo { drop: Some(_), .. }))
    }
}

/// Bitmaps of a span, in this order, `nwords` words each.
#[derive(Clone, Copy)]
pub enum Bits {
    Alloc = 0,
    Freed = 1,
    Queued = 2,
    Dropped = 3,
}

/// How the marker scans an object of a span.
#[derive(Clone, Copy)]
pub enum Scan {
    /// Through its type's `Trace`.
    Typed(unsafe fn(*const u8, &mut Marker)),
    /// Every word of its `elemsize` bytes.
    Words(usize),
}

/// A GC span's record (see the module comment). The fields marking reads
/// come first.
#[repr(C)]
pub struct GcSpan {
    pub base: usize,
    pub divmul: u32,
    pub nelems: u32,
    /// `None` for noscan kinds.
    pub scan: Option<Scan>,
    pub elemsize: usize,
    pub needs_drop: bool,
    pub limit: usize,
    pub mspan: *mut MSpan,
    pub kind: Kind,
    /// Objects below it were handed out since the last sweep (or are
    /// allocated); written by the cache that owns the span.
    pub freeindex: AtomicU32,
    /// The cycle whose sweep last swept this span (Go's `sweepgen`).
    pub sweepgen: AtomicU32,
    /// Whether some object has a cleanup (`mfinal.rs`).
    pub has_cleanups: AtomicBool,
    /// Whether a cache holds the span (set and cleared under the central
    /// lock, or with the world held; see `mgcsweep::free_dead_spans`).
    pub cached: AtomicBool,
    nwords: usize,
    bits: Box<[AtomicU64]>,
}

// SAFETY: records are shared between threads; their mutable parts are atomics
// or written only inside the world by the owner of the span (see `mgc.rs`).
unsafe impl Send for GcSpan {}
// SAFETY: as above.
unsafe impl Sync for GcSpan {}

impl GcSpan {
    /// A record for the in-use mheap span `s` holding objects of `kind`.
    ///
    /// # Safety
    /// `s` is an in-use span of a GC class, owned by the caller.
    pub unsafe fn new(s: *mut MSpan, kind: Kind) -> GcSpan {
        // SAFETY: forwarded contract.
        let m = unsafe { &*s };
        let nelems = m.nelems;
        let nwords = (nelems as usize).div_ceil(64);
        let nbitmaps = match kind {
            k if k.needs_drop() => 4,
            Kind::Typed(_) => 1,
            _ => 2,
        };
        let bits: Box<[AtomicU64]> = (0..nwords * nbitmaps).map(|_| AtomicU64::new(0)).collect();
        let scan = match kind {
            Kind::Typed(info) => info.trace.map(Scan::Typed),
            Kind::Conservative | Kind::Uncollectable => Some(Scan::Words(m.elemsize)),
            Kind::Atomic => None,
        };
        GcSpan {
            mspan: s,
            base: m.base,
            limit: m.base + m.npages * PAGE_SIZE,
            elemsize: m.elemsize,
            divmul: m.divmul,
            nelems,
            scan,
            needs_drop: kind.needs_drop(),
            kind,
            freeindex: AtomicU32::new(0),
            sweepgen: AtomicU32::new(0),
            has_cleanups: AtomicBool::new(false),
            cached: AtomicBool::new(false),
            nwords,
            bits,
        }
    }

    /// The central lists' key of this span: its kind and object size.
    pub fn key(&self) -> (Kind, usize) {
        (self.kind, self.elemsize)
    }

    pub fn nwords(&self) -> usize {
        self.nwords
    }

    /// The mark bits of objects `w·64 ..` as one word, gathered from the
    /// arena's bitmap (sweep).
    pub fn gather_marks(&self, w: usize) -> u64 {
        let first = self.object(w * 64);
        let last = self.object((w * 64 + 64).min(self.nelems as usize) - 1);
        let mut out = 0u64;
        let mut at = first & !511;
        while at <= last {
            let mut bits = mark_word(at).load(Ordering::Relaxed);
            while bits != 0 {
                let p = at + bits.trailing_zeros() as usize * 8;
                bits &= bits - 1;
                if (first..=last).contains(&p) {
                    out |= 1 << (self.index_of(p) - w * 64);
                }
            }
            at += 512;
        }
        out
    }

    /// Calls `f` with the index of every marked object of the span that
    /// overlaps `[lo, hi)` (inside the span), by the mark bitmap's words:
    /// a range with no mark costs a load per 512 bytes.
    pub fn for_each_marked(&self, lo: usize, hi: usize, mut f: impl FnMut(usize)) {
        let first = self.index_of(lo);
        if first >= self.nelems as usize {
            return;
        }
        // The object holding `lo` may start before it.
        let start = self.object(first);
        if start < lo && is_marked_at(start) {
            f(first);
        }
        let end = hi.min(self.object(self.nelems as usize - 1) + 1);
        let mut at = lo & !511;
        while at < end {
            let mut bits = mark_word(at).load(Ordering::Relaxed);
            while bits != 0 {
                let p = at + bits.trailing_zeros() as usize * 8;
                bits &= bits - 1;
                if p >= lo && p < end {
                    f(self.index_of(p));
                }
            }
            at += 512;
        }
    }

    /// Whether some object of the span is marked.
    pub fn has_marks(&self) -> bool {
        (0..self.nwords).any(|w| self.gather_marks(w) != 0)
    }

    /// Whether every object of the span is allocated (none is free to hand
    /// out: the cache that filled it has moved on, or it is a large object).
    pub fn is_full(&self) -> bool {
        let fi = self.freeindex.load(Ordering::Relaxed) as usize;
        (0..self.nwords).all(|w| {
            let below = fi.saturating_sub(w * 64);
            let carved = if below >= 64 { !0 } else { (1u64 << below) - 1 };
            let valid = self.valid_mask(w);
            (self.word(Bits::Alloc, w).load(Ordering::Relaxed) | carved) & valid == valid
        })
    }

    /// Clears the arena's mark bits over the span (sweep).
    pub fn clear_marks(&self) {
        let last = self.object(self.nelems as usize - 1);
        for at in (self.base..=last).step_by(512) {
            mark_word(at).store(0, Ordering::Relaxed);
        }
    }

    /// Word `w` of bitmap `b`.
    #[inline(always)]
    pub fn word(&self, b: Bits, w: usize) -> &AtomicU64 {
        &self.bits[b as usize * self.nwords + w]
    }

    #[inline(always)]
    pub fn bit(&self, b: Bits, idx: usize) -> bool {
        self.word(b, idx / 64).load(Ordering::Relaxed) & (1 << (idx % 64)) != 0
    }

    /// Sets bit `idx` of `b`; returns whether it was clear.
    #[inline(always)]
    pub fn set_bit(&self, b: Bits, idx: usize) -> bool {
        let bit = 1u64 << (idx % 64);
        let w = self.word(b, idx / 64);
        w.load(Ordering::Relaxed) & bit == 0 && w.fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    /// Mask of the valid object bits of word `w`.
    #[inline(always)]
    pub fn valid_mask(&self, w: usize) -> u64 {
        let left = self.nelems as usize - w * 64;
        if left >= 64 {
            !0
        } else {
            (1u64 << left) - 1
        }
    }

    /// The index of the object holding `p` (inside the span).
    #[inline(always)]
    pub fn index_of(&self, p: usize) -> usize {
        (((p - self.base) as u64 * self.divmul as u64) >> 32) as usize
    }

    #[inline(always)]
    pub fn object(&self, idx: usize) -> usize {
        self.base + idx * self.elemsize
    }

    /// Whether object `idx` is allocated (see the module comment).
    #[inline(always)]
    pub fn is_allocated(&self, idx: usize) -> bool {
        let carved = idx < self.freeindex.load(Ordering::Relaxed) as usize;
        let freed = !matches!(self.kind, Kind::Typed(_)) && self.bit(Bits::Freed, idx);
        (carved || self.bit(Bits::Alloc, idx)) && !freed
    }

    /// Allocated objects, in index order.
    pub fn allocated(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nelems as usize).filter(|&i| self.is_allocated(i))
    }
}

const ARENA_INDEX_LEN: usize = 1 << (48 - LOG_HEAP_ARENA_BYTES);

type PageTable = [AtomicPtr<GcSpan>; PAGES_PER_ARENA];

/// Arena index → table of the GC span record of each page.
static PAGES: [AtomicPtr<PageTable>; ARENA_INDEX_LEN] =
    [const { AtomicPtr::new(ptr::null_mut()) }; ARENA_INDEX_LEN];

/// Arena index → the arena's mark bitmap (one bit per 8-byte word).
static MARKS: [AtomicPtr<AtomicU64>; ARENA_INDEX_LEN] =
    [const { AtomicPtr::new(ptr::null_mut()) }; ARENA_INDEX_LEN];

const MARK_WORDS: usize = (1 << LOG_HEAP_ARENA_BYTES) / 512;

/// The mark word covering address `p` of a GC span.
#[inline(always)]
fn mark_word(p: usize) -> &'static AtomicU64 {
    // SAFETY: every arena holding a GC span has a bitmap (`set_pages`),
    // never freed; the index is inside it.
    unsafe {
        let bm = MARKS
            .get_unchecked(p >> LOG_HEAP_ARENA_BYTES)
            .load(Ordering::Relaxed);
        &*bm.add((p >> 9) & (MARK_WORDS - 1))
    }
}

/// Marks the object starting at `p` (in a GC span); returns whether it was
/// unmarked.
#[inline(always)]
pub fn set_mark_at(p: usize) -> bool {
    let w = mark_word(p);
    let bit = 1u64 << ((p >> 3) & 63);
    w.load(Ordering::Relaxed) & bit == 0 && w.fetch_or(bit, Ordering::Relaxed) & bit == 0
}

/// Whether the object starting at `p` (in a GC span) is marked.
pub fn is_marked_at(p: usize) -> bool {
    mark_word(p).load(Ordering::Relaxed) & (1 << ((p >> 3) & 63)) != 0
}

/// Lowest and highest addresses ever in a GC span: a cheap filter for
/// conservative scanning.
pub static HEAP_LO: AtomicU64 = AtomicU64::new(u64::MAX);
pub static HEAP_HI: AtomicU64 = AtomicU64::new(0);

#[inline(always)]
fn slot(p: usize) -> Option<&'static AtomicPtr<GcSpan>> {
    let table = PAGES
        .get(p >> LOG_HEAP_ARENA_BYTES)?
        .load(Ordering::Acquire);
    // SAFETY: tables are never freed.
    let table = unsafe { table.as_ref()? };
    Some(&table[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)])
}

/// The GC span holding `p`, if any. Call inside the world.
#[inline(always)]
pub fn span_of(p: usize) -> Option<&'static GcSpan> {
    let lo = HEAP_LO.load(Ordering::Relaxed) as usize;
    let hi = HEAP_HI.load(Ordering::Relaxed) as usize;
    if p.wrapping_sub(lo) >= hi.wrapping_sub(lo) {
        return None;
    }
    // SAFETY: records in the map are live (module comment).
    unsafe { slot(p)?.load(Ordering::Acquire).as_ref() }
}

/// The span and index of the allocated object containing `p` (interior
/// pointers count).
#[inline(always)]
pub fn object_of(p: usize) -> Option<(&'static GcSpan, usize)> {
    let s = span_of(p)?;
    let idx = s.index_of(p);
    (idx < s.nelems as usize && s.is_allocated(idx)).then_some((s, idx))
}

/// Maps every page of `s` to it (null: unmaps).
pub fn set_pages(s: &GcSpan, rec: *mut GcSpan) {
    let first = s.base >> LOG_HEAP_ARENA_BYTES;
    let last = (s.limit - 1) >> LOG_HEAP_ARENA_BYTES;
    for marks in &MARKS[first..=last] {
        if marks.load(Ordering::Acquire).is_null() {
            let bm: Box<[AtomicU64]> = (0..MARK_WORDS).map(|_| AtomicU64::new(0)).collect();
            let new = Box::into_raw(bm).cast::<AtomicU64>();
            if marks
                .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // SAFETY: ours, never published.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(new, MARK_WORDS)) });
            }
        }
    }
    for entry in &PAGES[first..=last] {
        if entry.load(Ordering::Acquire).is_null() {
            let table: Box<PageTable> = (0..PAGES_PER_ARENA)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect::<Box<[_]>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!("sized table"));
            let new = Box::into_raw(table);
            if entry
                .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // SAFETY: ours, never published.
                drop(unsafe { Box::from_raw(new) });
            }
        }
    }
    for p in (s.base..s.limit).step_by(PAGE_SIZE) {
        if let Some(e) = slot(p) {
            e.store(rec, Ordering::Release);
        }
    }
    if !rec.is_null() {
        HEAP_LO.fetch_min(s.base as u64, Ordering::Relaxed);
        HEAP_HI.fetch_max(s.limit as u64, Ordering::Relaxed);
    }
}
