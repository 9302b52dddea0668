//! Marking (Go's mgcmark.go, with mgcwork.go's work queue as one stack).
//!
//! A `Marker` holds the grey objects: marked, not yet scanned. Marking an
//! object sets its mark bit with an atomic or (only the setter pushes it,
//! so each object is scanned once even when several markers share the
//! bits, as the concurrent mark will) and pushes it if its kind scans.
//! `drain` pops and scans until the stack is empty: a typed object through
//! its type's `Trace`, a conservative one word by word. Objects queued for
//! `Drop` on the finalizer thread are kept but never scanned: their drop
//! may be running.
//!
//! Roots (`mark`): the `Root` table, every allocated uncollectable object,
//! then the libgc side's root hooks; after the drain, the after-mark hooks
//! run until none of them marks anything new.
//!
//! # Shared work (concurrent mark, Go's mgcwork.go)
//!
//! While the concurrent mark runs (`mgc.rs`), grey objects live in the
//! markers' private stacks and in `WORK`, one shared list (Go's
//! `work.full`, as one locked vector). `GREY` counts *grey work not yet
//! finished*, and is the termination test:
//! - a marker that takes a batch from `WORK` keeps the batch's count in
//!   `GREY` until its private stack is empty again; everything it greys
//!   meanwhile is covered by that count (it goes back to `WORK` only with
//!   its own count added first);
//! - a write barrier adds one to `GREY` *before* it sets any mark bit and
//!   takes it off only after what it greyed is in `WORK` (counted).
//!
//! So while an object is grey, `GREY > 0`; `GREY == 0` (with `WORK` empty)
//! means no grey object exists anywhere. `mgc.rs` argues why no mutator can
//! make a new grey object after that.
//!
//! # Marked bytes
//!
//! Each marker counts the objects whose mark bit it set and their bytes,
//! and adds them to `MARKED_*` when it drains, publishes or goes away. At
//! mark termination `take_marked` gives the live heap to the pacer (Go's
//! `heapMarked`), before any span is swept: the sweep is lazy
//! (`mgcsweep.rs`). Unlike Go's, the count leaves out objects allocated
//! black during the mark: in programs that allocate fast they are mostly
//! garbage that the next cycle frees, and counting them, as Go does, set
//! binary-trees' heap goal at 191 MB instead of 127 MB (peak RSS 250 MB
//! against 213 MB). The next cycle marks those that stayed live.
//!
//! A concurrent marker must not read a `GcCell` that a mutator is writing:
//! `GcCell::trace` asks `Marker::is_concurrent` and then takes the cell's
//! scan flag (see `api.rs`), skipping cells that are being written.

use super::api;
use super::mbitmap::{self, Bits, GcSpan, Kind, Scan};
use super::mcache::{central, gc_object_size};
use super::mgc::{AbortOnUnwind, Hooks};
use super::trace::Trace;
use core::mem::needs_drop;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Grey objects not in any marker's private stack (see the module comment).
static WORK: Mutex<Vec<(usize, Scan)>> = Mutex::new(Vec::new());
/// Grey work not yet finished (see the module comment).
static GREY: AtomicUsize = AtomicUsize::new(0);
/// Bytes and objects marked in this cycle (see "Marked bytes").
static MARKED_BYTES: AtomicUsize = AtomicUsize::new(0);
static MARKED_OBJECTS: AtomicUsize = AtomicUsize::new(0);
/// `WORK`'s length as of its last change (a hint, read without the lock).
static WORK_LEN: AtomicUsize = AtomicUsize::new(0);

fn work() -> MutexGuard<'static, Vec<(usize, Scan)>> {
    WORK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The marking state handed to `Trace` impls and to the libgc side's hooks.
pub struct Marker {
    stack: Vec<(usize, Scan)>,
    /// Mutators may run meanwhile (the concurrent mark, or a barrier).
    concurrent: bool,
    /// Marked by this marker and not yet added to `MARKED_*`.
    marked_bytes: usize,
    marked_objects: usize,
}

impl Drop for Marker {
    fn drop(&mut self) {
        self.settle();
    }
}

impl Marker {
    /// A marker for a cycle that holds the world.
    pub(crate) fn new() -> Marker {
        Marker {
            stack: Vec::with_capacity(1024),
            concurrent: false,
            marked_bytes: 0,
            marked_objects: 0,
        }
    }

    /// A marker that runs beside mutators (`capacity` 0 for barriers).
    pub(crate) fn concurrent(capacity: usize) -> Marker {
        Marker {
            stack: Vec::with_capacity(capacity),
            concurrent: true,
            marked_bytes: 0,
            marked_objects: 0,
        }
    }

    /// Adds what this marker marked to `MARKED_*`.
    fn settle(&mut self) {
        if self.marked_objects != 0 {
            MARKED_BYTES.fetch_add(self.marked_bytes, Ordering::Relaxed);
            MARKED_OBJECTS.fetch_add(self.marked_objects, Ordering::Relaxed);
            self.marked_bytes = 0;
            self.marked_objects = 0;
        }
    }

    #[inline(always)]
    fn count(&mut self, bytes: usize) {
        self.marked_bytes += bytes;
        self.marked_objects += 1;
    }

    /// Whether mutators may run while this marker traces.
    pub(crate) fn is_concurrent(&self) -> bool {
        self.concurrent
    }

    /// Greys the object of a `Gc<T>`. `p` is the start of an allocated
    /// object of type `T` (a `Gc` in a reachable object never names anything
    /// else): no span lookup, the scan function is known statically.
    #[inline(always)]
    pub(crate) fn mark_gc<T: Trace>(&mut self, p: usize) {
        if !mbitmap::set_mark_at(p) {
            return;
        }
        self.count(const { gc_object_size(size_of::<T>(), align_of::<T>()) });
        if T::NEEDS_TRACE {
            if needs_drop::<T>() && is_queued(p) {
                return;
            }
            self.stack.push((p, Scan::Typed(trace_erased::<T>)));
        }
    }

    /// Greys the allocated GC object containing `p` (any address inside it;
    /// anything else is ignored).
    #[inline]
    pub fn mark_object(&mut self, p: *const u8) {
        if let Some((s, idx)) = mbitmap::object_of(p as usize) {
            self.grey(s, idx);
        }
    }

    /// Marks every GC object that an aligned word of `[lo, hi)` points into.
    ///
    /// # Safety
    /// Every aligned word of `[lo, hi)` is readable for the call, and no
    /// other thread writes it meanwhile (libgc's roots: stacks of stopped
    /// threads, data segments, uncollectable objects).
    pub unsafe fn scan_conservative(&mut self, lo: usize, hi: usize) {
        let mut p = lo.next_multiple_of(8);
        while p + 8 <= hi {
            // SAFETY: the caller hands a readable range.
            let w = unsafe { (p as *const usize).read() };
            self.mark_object(w as *const u8);
            p += 8;
        }
    }

    /// Marks transitively: scans grey objects until none is left. Objects
    /// pass through a small FIFO whose entries are prefetched when they
    /// enter it, so an object's memory is in cache by the time it is
    /// scanned (the grey stack alone would scan each right after the push).
    pub fn drain(&mut self) {
        self.drain_some(usize::MAX);
    }

    /// Scans up to `budget` grey objects (what is left stays on the stack);
    /// returns how many it scanned. A concurrent marker hands half its
    /// stack to `WORK` now and then when `WORK` runs dry, so that other
    /// markers (assists) find work (Go's gcWork balance).
    fn drain_some(&mut self, budget: usize) -> usize {
        let mut ring = [(0usize, Scan::Words(0)); PREFETCH];
        let (mut head, mut len) = (0usize, 0usize);
        let mut done = 0;
        loop {
            if done == budget {
                self.stack
                    .extend((0..len).map(|i| ring[(head + i) % PREFETCH]));
                self.settle();
                return done;
            }
            while len < PREFETCH {
                let Some(e) = self.stack.pop() else { break };
                prefetch(e.0);
                ring[(head + len) % PREFETCH] = e;
                len += 1;
            }
            if len == 0 {
                self.settle();
                return done;
            }
            let (p, scan) = ring[head];
            head = (head + 1) % PREFETCH;
            len -= 1;
            match scan {
                // SAFETY: p is an allocated object of the span's type, not
                // being dropped (queued objects are not pushed).
                Scan::Typed(trace) => unsafe { trace(p as *const u8, self) },
                // SAFETY: a conservative object of n bytes, allocated and
                // not written while the world is held (conservative objects
                // exist only in stop-the-world cycles).
                Scan::Words(n) => unsafe { self.scan_conservative(p, p + n) },
            }
            done += 1;
            if self.concurrent && done % 256 == 0 {
                self.share();
            }
        }
    }

    /// Hands half the private stack to `WORK` if `WORK` is empty.
    #[cold]
    fn share(&mut self) {
        if self.stack.len() >= 64 && WORK_LEN.load(Ordering::Relaxed) == 0 {
            let mut half = self.stack.split_off(self.stack.len() / 2);
            GREY.fetch_add(half.len(), Ordering::SeqCst);
            let mut w = work();
            w.append(&mut half);
            WORK_LEN.store(w.len(), Ordering::Relaxed);
        }
    }

    #[inline(always)]
    fn grey(&mut self, s: &GcSpan, idx: usize) {
        let p = s.object(idx);
        if mbitmap::set_mark_at(p) {
            self.count(s.elemsize);
            if let Some(scan) = s.scan {
                if !(s.needs_drop && s.bit(Bits::Queued, idx)) {
                    self.stack.push((p, scan));
                }
            }
        }
    }
}

/// The mark phase of a stop-the-world cycle.
pub fn mark(m: &mut Marker, hooks: &Hooks) {
    api::for_each_root(|p| m.mark_object(p as *const u8));
    mark_uncollectable(m);
    for root in &hooks.roots {
        root(m);
    }
    m.drain();
    after_mark(m, hooks);
}

/// Runs the after-mark hooks until none of them marks anything new.
pub fn after_mark(m: &mut Marker, hooks: &Hooks) {
    loop {
        let mut more = false;
        for f in &hooks.after_mark {
            more |= f(m);
        }
        m.drain();
        if !more {
            break;
        }
    }
}

/// Greys the `Root` table into `WORK` (the concurrent mark's roots; the
/// world is held, so the table is one snapshot).
pub fn grey_roots() {
    let mut m = Marker::concurrent(1024);
    api::for_each_root(|p| m.mark_object(p as *const u8));
    publish(&mut m);
}

/// Greys what `v` points to, beside running mutators: the write barrier's
/// shade. Counted in `GREY` from before the first mark bit it sets.
pub fn shade<T: Trace + ?Sized>(v: &T) {
    GREY.fetch_add(1, Ordering::SeqCst);
    let guard = AbortOnUnwind;
    let mut m = Marker::concurrent(0);
    v.trace(&mut m);
    publish(&mut m);
    core::mem::forget(guard);
    GREY.fetch_sub(1, Ordering::SeqCst);
}

/// Greys the object containing `p` beside running mutators (`shade` for
/// an untyped pointer: a root's object).
#[cold]
pub fn shade_object(p: *const u8) {
    GREY.fetch_add(1, Ordering::SeqCst);
    let mut m = Marker::concurrent(0);
    m.mark_object(p);
    publish(&mut m);
    GREY.fetch_sub(1, Ordering::SeqCst);
}

/// Hands a marker's grey objects to `WORK`, counted.
fn publish(m: &mut Marker) {
    m.settle();
    if !m.stack.is_empty() {
        GREY.fetch_add(m.stack.len(), Ordering::SeqCst);
        let mut w = work();
        w.append(&mut m.stack);
        WORK_LEN.store(w.len(), Ordering::Relaxed);
    }
}

/// Takes up to `n` grey objects from `WORK` (their count stays in `GREY`
/// until the taker is done with them).
fn take_work(n: usize) -> Vec<(usize, Scan)> {
    let mut w = work();
    let keep = w.len().saturating_sub(n);
    let batch = w.split_off(keep);
    WORK_LEN.store(w.len(), Ordering::Relaxed);
    batch
}

/// Objects a thread allocated black since its last assist.
const ASSIST_EVERY: u32 = 256;

thread_local! {
    static BLACK_ALLOCS: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// Counts an object allocated black; every `ASSIST_EVERY` of them the
/// allocating thread pays a mark assist (Go's gcAssistAlloc).
#[inline(always)]
pub fn note_black_alloc() {
    let n = BLACK_ALLOCS.get() + 1;
    if n < ASSIST_EVERY {
        BLACK_ALLOCS.set(n);
    } else {
        BLACK_ALLOCS.set(0);
        assist(ASSIST_EVERY as usize * assist_ratio());
    }
}

/// Takes the bytes and objects marked since the last call (see "Marked
/// bytes"): called at the start and the end of each cycle.
pub fn take_marked() -> (usize, usize) {
    (
        MARKED_BYTES.swap(0, Ordering::Relaxed),
        MARKED_OBJECTS.swap(0, Ordering::Relaxed),
    )
}

/// Objects to scan per object allocated while marking. Go derives its
/// assist ratio from the scan work expected and the heap left before the
/// goal (with GOGC = 100 about one object scanned per object allocated);
/// goheap uses a fixed `8 × 100 / GOGC`: a cycle ends only at a scope
/// boundary, so everything a scope allocates after the mark is done stays
/// (black) until that sweep, and a mark that finishes early keeps that
/// floating garbage small. On binary-trees (depth 21) ratio 8 against 2
/// took the longest pause from 158 to 51 ms and CPU time from 17.1 to
/// 14.6 s (the worker competes less), with the same peak RSS.
fn assist_ratio() -> usize {
    crate::options::gogc().map_or(1, |g| (800 / g.max(1) as usize).max(1))
}

/// A mark assist: scans about `budget` grey objects from `WORK`.
#[cold]
fn assist(budget: usize) {
    if GREY.load(Ordering::Relaxed) == 0 {
        return;
    }
    let guard = AbortOnUnwind;
    scan_some(&mut Marker::concurrent(0), budget);
    core::mem::forget(guard);
    if !grey_left() {
        super::mgc::mark_done();
    }
}

/// Scans about `budget` grey objects from `WORK` with `m` (whatever they
/// grey beyond the budget goes back to `WORK`); returns how many it
/// scanned: fewer when `WORK` ran dry.
pub fn scan_some(m: &mut Marker, budget: usize) -> usize {
    let mut done = 0;
    while done < budget {
        let batch = take_work(budget - done);
        if batch.is_empty() {
            break;
        }
        let n = batch.len();
        m.stack.extend(batch);
        done += m.drain_some(budget - done);
        publish(m);
        GREY.fetch_sub(n, Ordering::SeqCst);
    }
    done
}

/// Whether any grey work is left anywhere (see the module comment).
pub fn grey_left() -> bool {
    GREY.load(Ordering::SeqCst) != 0
}

/// Drains `WORK` with `m` until no grey work is left anywhere (mark
/// termination, with the world held).
pub fn drain_shared(m: &mut Marker) {
    loop {
        let batch = take_work(usize::MAX);
        if batch.is_empty() {
            if !grey_left() {
                return;
            }
            // A barrier or another marker holds grey work: it will either
            // finish it or hand it over.
            std::thread::sleep(std::time::Duration::from_micros(20));
            continue;
        }
        let n = batch.len();
        m.stack.extend(batch);
        m.drain();
        GREY.fetch_sub(n, Ordering::SeqCst);
    }
}

fn mark_uncollectable(m: &mut Marker) {
    let c = central();
    for &s in c.all.values().flatten() {
        // SAFETY: records in `all` are live.
        let s = unsafe { &*s };
        if s.kind == Kind::Uncollectable {
            for idx in s.allocated() {
                m.grey(s, idx);
            }
        }
    }
}

/// Whether the object at `p` is marked in the current cycle.
pub fn is_marked(p: *const u8) -> bool {
    mbitmap::object_of(p as usize).is_some_and(|(s, idx)| mbitmap::is_marked_at(s.object(idx)))
}

const PREFETCH: usize = 8;

/// Asks the CPU to bring `p`'s cache line in.
#[inline(always)]
pub(crate) fn prefetch(p: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint and never faults.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Whether the typed object at `p` waits for its drop (never traced then).
#[cold]
fn is_queued(p: usize) -> bool {
    mbitmap::span_of(p).is_some_and(|s| s.bit(Bits::Queued, s.index_of(p)))
}

/// # Safety
/// `p` is a live object of type `T`.
pub(crate) unsafe fn trace_erased<T: Trace>(p: *const u8, m: &mut Marker) {
    // SAFETY: forwarded contract.
    unsafe { (*p.cast::<T>()).trace(m) }
}
