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
//! - a write barrier's buffer (`mwbbuf.rs`) holds one unit of `GREY`,
//!   taken *before* its first mark bit is set and given back only after
//!   what it greyed is in `WORK` (counted); so does a round of the C
//!   side's rescan (`dirtybits.rs`);
//! - the C side's roots, greyed at the start, wait in `HELD` (counted)
//!   until the first round, or termination, hands them to `WORK`.
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
use core::cell::Cell;
use core::mem::needs_drop;
use core::sync::atomic::{AtomicIsize, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

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

    /// A marker that runs beside mutators, with no stack yet (a barrier
    /// buffer's).
    pub(crate) const fn concurrent_empty() -> Marker {
        Marker {
            stack: Vec::new(),
            concurrent: true,
            marked_bytes: 0,
            marked_objects: 0,
        }
    }

    /// The grey objects on this marker's private stack.
    pub(crate) fn grey_count(&self) -> usize {
        self.stack.len()
    }

    /// A marker that runs beside mutators.
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
    /// Each word is read with a relaxed atomic load: C threads may write
    /// the objects of a concurrent mark meanwhile (`dirtybits.rs` says why
    /// that loses nothing).
    ///
    /// # Safety
    /// Every aligned word of `[lo, hi)` is mapped and readable for the call
    /// (libgc's roots: stacks of stopped threads, data segments; GC objects
    /// of the C kinds).
    pub unsafe fn scan_conservative(&mut self, lo: usize, hi: usize) {
        let mut p = lo.next_multiple_of(8);
        while p + 8 <= hi {
            // SAFETY: the caller hands a readable range; p is 8-aligned,
            // and a racing plain store is what an atomic load tolerates.
            let w = unsafe { AtomicUsize::from_ptr(p as *mut usize).load(Ordering::Relaxed) };
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
        self.settle();
    }

    /// Scans up to `budget` grey objects (what is left stays on the stack);
    /// returns how many it scanned. What it marked stays in the marker's
    /// counts until the caller settles them. A concurrent marker hands half its
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
                return done;
            }
            while len < PREFETCH {
                let Some(e) = self.stack.pop() else { break };
                prefetch(e.0);
                ring[(head + len) % PREFETCH] = e;
                len += 1;
            }
            if len == 0 {
                return done;
            }
            let (p, scan) = ring[head];
            head = (head + 1) % PREFETCH;
            len -= 1;
            match scan {
                // SAFETY: p is an allocated object of the span's type, not
                // being dropped (queued objects are not pushed).
                Scan::Typed(trace) => unsafe { trace(p as *const u8, self) },
                // SAFETY: a conservative object of n bytes, allocated: its
                // span stays mapped while the cycle runs.
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
            append_work(&mut half);
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
    mark_c_roots(m, hooks);
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

/// The libgc side's roots (stacks, registers, data segments, its tables),
/// with its threads stopped.
pub fn mark_c_roots(m: &mut Marker, hooks: &Hooks) {
    for root in &hooks.roots {
        root(m);
    }
}

/// Greys the `Root` table into `WORK` (the concurrent mark's roots; the
/// world is held, so the table is one snapshot); with the C side's
/// `hooks` (its threads stopped), its roots and the uncollectable objects
/// too.
///
/// The C side's grey objects are held back, counted in `GREY`, until
/// [`release_held_roots`]: its first round (`dirtybits.rs`) is cheap only
/// while almost nothing is marked.
pub fn grey_roots(c_side: Option<&Hooks>) {
    let mut m = Marker::concurrent(1024);
    api::for_each_root(|p| m.mark_object(p as *const u8));
    let Some(hooks) = c_side else {
        publish(&mut m);
        return;
    };
    mark_uncollectable(&mut m);
    mark_c_roots(&mut m, hooks);
    m.settle();
    GREY.fetch_add(m.stack.len(), Ordering::SeqCst);
    *held() = core::mem::take(&mut m.stack);
}

/// Grey roots held back by `grey_roots` (counted in `GREY`).
static HELD: Mutex<Vec<(usize, Scan)>> = Mutex::new(Vec::new());

fn held() -> MutexGuard<'static, Vec<(usize, Scan)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hands the roots held back by `grey_roots` to `WORK` (still counted).
pub fn release_held_roots() {
    let mut roots = core::mem::take(&mut *held());
    if !roots.is_empty() && append_work(&mut roots) {
        super::mgc::enlist_worker();
    }
}

/// Moves `batch` (counted in `GREY`) into `WORK`; returns whether `WORK`
/// was empty.
fn append_work(batch: &mut Vec<(usize, Scan)>) -> bool {
    let mut w = work();
    let was_empty = w.is_empty();
    w.append(batch);
    WORK_LEN.store(w.len(), Ordering::Relaxed);
    was_empty
}

/// Greys beside running mutators without a barrier buffer (`mwbbuf`'s
/// fallback): counted in `GREY` from before the first mark bit it sets.
#[cold]
pub(super) fn shade_unbuffered(mut mark: impl FnMut(&mut Marker)) {
    add_grey(1);
    let mut m = Marker::concurrent(0);
    mark(&mut m);
    publish(&mut m);
    finish_grey(1);
}

/// `n` units of grey work begin (before the mark bits they cover are set).
pub(super) fn add_grey(n: usize) {
    GREY.fetch_add(n, Ordering::SeqCst);
}

/// `n` units of grey work are finished or handed on (counted again).
pub(super) fn finish_grey(n: usize) {
    GREY.fetch_sub(n, Ordering::SeqCst);
}

/// Hands a marker's grey objects to `WORK`, counted.
pub(super) fn publish(m: &mut Marker) {
    m.settle();
    if !m.stack.is_empty() {
        GREY.fetch_add(m.stack.len(), Ordering::SeqCst);
        if append_work(&mut m.stack) {
            super::mgc::enlist_worker();
        }
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

/// Takes the bytes and objects marked since the last call (see "Marked
/// bytes"): called at the start and the end of each cycle.
pub fn take_marked() -> (usize, usize) {
    (
        MARKED_BYTES.swap(0, Ordering::Relaxed),
        MARKED_OBJECTS.swap(0, Ordering::Relaxed),
    )
}

/// Bytes a thread allocates black between two looks at its assist
/// credit (the allocation fast path only adds to a thread-local count).
const ASSIST_CHUNK: usize = 32 << 10;
/// Go's `gcOverAssistWork`: an assist does at least this much scan work
/// (bytes), so that a thread in debt pays ahead rather than a little at
/// every chunk. Go's is 64 KiB; a quarter of it took gc_latency's request
/// p99 from 27 to 16 us (an assist is a request's longest stall) with the
/// same p99.9, binary-trees' time and RSS; 8 KiB gained nothing more.
const OVER_ASSIST: usize = 16 << 10;

thread_local! {
    /// Bytes this thread allocated black and has not yet charged.
    static BLACK_BYTES: Cell<usize> = const { Cell::new(0) };
    /// The assist credit of a thread that is not running a goroutine.
    static THREAD_CREDIT: AssistCredit = const { AssistCredit::new() };
}

/// Scan work the mark worker did beyond what assists took (Go's
/// `bgScanCredit`, bytes): an assist takes from it before it scans.
static BG_CREDIT: AtomicIsize = AtomicIsize::new(0);

/// A mutator's assist balance (Go's `gcAssistBytes`): bytes it may still
/// allocate during this mark before it must scan; negative, a debt. It
/// belongs to the running goroutine (the scheduler keeps one in each G and
/// hands it over through `set_credit_of_current`), or to the thread. One
/// 32-bit word, so that a G record stays one cache line: the low 24 bits
/// are the balance in units of `CREDIT_UNIT` bytes (± 512 MiB, clamped),
/// the high 8 the cycle it was earned in, so that a balance from an
/// earlier mark reads as 0 (Go zeroes every G's balance when a mark
/// starts).
pub struct AssistCredit(AtomicU32);

const CREDIT_UNIT: isize = 64;
const BALANCE_BITS: u32 = 24;

impl AssistCredit {
    pub const fn new() -> AssistCredit {
        AssistCredit(AtomicU32::new(0))
    }

    fn get(&self, epoch: u32) -> isize {
        let v = self.0.load(Ordering::Relaxed);
        if v >> BALANCE_BITS != epoch & 0xff {
            return 0;
        }
        // Sign-extend the low 24 bits.
        (((v << (32 - BALANCE_BITS)) as i32 >> (32 - BALANCE_BITS)) as isize) * CREDIT_UNIT
    }

    fn set(&self, epoch: u32, balance: isize) {
        let limit = (1isize << (BALANCE_BITS - 1)) - 1;
        let units = (balance / CREDIT_UNIT).clamp(-limit, limit) as u32 & ((1 << BALANCE_BITS) - 1);
        self.0
            .store((epoch & 0xff) << BALANCE_BITS | units, Ordering::Relaxed);
    }

    /// Forgets the balance (a goroutine ended; its record is reused).
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl Default for AssistCredit {
    fn default() -> Self {
        Self::new()
    }
}

/// The running goroutine's credit, set by the scheduler when it starts.
static CREDIT_OF_CURRENT: OnceLock<fn() -> Option<&'static AssistCredit>> = OnceLock::new();

/// Makes assists charge the running goroutine (see `AssistCredit`).
pub fn set_credit_of_current(f: fn() -> Option<&'static AssistCredit>) {
    let _ = CREDIT_OF_CURRENT.set(f);
}

/// Runs `f` on the credit of the running goroutine, else of the thread.
fn with_credit<R>(f: impl FnOnce(&AssistCredit) -> R) -> Option<R> {
    match CREDIT_OF_CURRENT.get().and_then(|of| of()) {
        Some(c) => Some(f(c)),
        None => THREAD_CREDIT.try_with(f).ok(),
    }
}

/// Counts `bytes` allocated black; every `ASSIST_CHUNK` of them the
/// allocating goroutine (or thread) is charged (Go's gcAssistAlloc).
#[inline(always)]
pub fn note_black_alloc(bytes: usize) {
    let n = BLACK_BYTES.get() + bytes;
    BLACK_BYTES.set(n);
    if n >= ASSIST_CHUNK {
        charge();
    }
}

/// Counts `bytes` allocated black, to be charged when the thread leaves
/// the world (`settle_allocs`).
#[inline(always)]
pub fn defer_black_alloc(bytes: usize) {
    BLACK_BYTES.set(BLACK_BYTES.get() + bytes);
}

/// Charges what this thread allocated black and has not charged yet: at
/// the end of its outermost scope, so that each goroutine pays for its own
/// allocation (a goroutine changes thread only between scopes).
#[inline(always)]
pub fn settle_allocs() {
    if BLACK_BYTES.get() != 0 {
        charge();
    }
}

/// Takes the uncharged bytes off the running goroutine's (or thread's)
/// credit, and assists if that leaves a debt. Flushes the barrier buffer
/// too: a thread that allocates in one long scope hands its shades on.
#[cold]
fn charge() {
    let bytes = BLACK_BYTES.replace(0) as isize;
    super::mwbbuf::flush();
    if !super::mbarrier::ALLOCATE_BLACK.load(Ordering::Relaxed) {
        return;
    }
    let epoch = super::mgcpacer::cycles();
    with_credit(|c| {
        let balance = c.get(epoch) - bytes;
        c.set(
            epoch,
            if balance < 0 {
                assist(balance)
            } else {
                balance
            },
        );
    });
}

/// A mark assist (Go's gcAssistAlloc1) for a debt of `-balance` bytes:
/// scan work in proportion (`mgcpacer::assist_work_per_byte`, at least
/// `OVER_ASSIST`), first taken from the worker's credit, then scanned from
/// `WORK`. Returns the balance after: what was paid converts back to bytes
/// at the same rate. With no grey work left the debt is forgiven (the mark
/// is done); with none in `WORK` but some held elsewhere it stays, and the
/// next charge tries again (Go parks the goroutine until the worker
/// credits it).
fn assist(balance: isize) -> isize {
    if !grey_left() {
        return 0;
    }
    let per_byte = super::mgcpacer::assist_work_per_byte(MARKED_BYTES.load(Ordering::Relaxed));
    let want = ((-balance) as f64 * per_byte).max(OVER_ASSIST as f64) as isize;
    let stolen = steal_bg_credit(want);
    let mut work = stolen;
    if stolen < want {
        let guard = AbortOnUnwind;
        let t = std::time::Instant::now();
        let budget = (want - stolen) as usize / average_object_size();
        work += scan_some(&mut Marker::concurrent(0), budget.max(1)).bytes as isize;
        super::mgc::note_mark_cpu(super::mgc::ASSIST, t.elapsed());
        core::mem::forget(guard);
        if !grey_left() {
            super::mgc::mark_done();
        }
    }
    balance + (work as f64 / per_byte) as isize
}

/// Takes up to `want` bytes of the worker's scan credit.
fn steal_bg_credit(want: isize) -> isize {
    let mut have = BG_CREDIT.load(Ordering::Relaxed);
    loop {
        let take = have.min(want);
        if take <= 0 {
            return 0;
        }
        match BG_CREDIT.compare_exchange_weak(
            have,
            have - take,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return take,
            Err(now) => have = now,
        }
    }
}

/// The worker's scan work, for assists to take (Go's gcFlushBgCredit).
pub fn credit_bg_work(bytes: usize) {
    BG_CREDIT.fetch_add(bytes as isize, Ordering::Relaxed);
}

/// A mark starts: the worker's credit from the last one is gone.
pub fn reset_bg_credit() {
    BG_CREDIT.store(0, Ordering::Relaxed);
}

/// The mean size of the objects marked so far in this cycle (to turn an
/// assist's scan work in bytes into a budget in objects).
fn average_object_size() -> usize {
    let objects = MARKED_OBJECTS.load(Ordering::Relaxed);
    (MARKED_BYTES.load(Ordering::Relaxed) / objects.max(1)).clamp(16, 4096)
}

/// What `scan_some` did: objects scanned and the bytes it marked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work {
    pub objects: usize,
    pub bytes: usize,
}

/// Scans about `budget` grey objects from `WORK` with `m` (whatever they
/// grey beyond the budget goes back to `WORK`); scans fewer when `WORK`
/// ran dry.
pub fn scan_some(m: &mut Marker, budget: usize) -> Work {
    let mut done = Work::default();
    while done.objects < budget {
        let batch = take_work(budget - done.objects);
        if batch.is_empty() {
            break;
        }
        let n = batch.len();
        m.stack.extend(batch);
        done.objects += m.drain_some(budget - done.objects);
        done.bytes += m.marked_bytes;
        publish(m);
        GREY.fetch_sub(n, Ordering::SeqCst);
    }
    done
}

/// Whether `WORK` holds grey objects (a hint, read without its lock).
pub fn work_available() -> bool {
    WORK_LEN.load(Ordering::Relaxed) != 0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assist_credit_keeps_its_balance_for_its_own_cycle_only() {
        let c = AssistCredit::new();
        assert_eq!(c.get(7), 0);
        c.set(7, -32 << 10);
        assert_eq!(c.get(7), -32 << 10);
        assert_eq!(c.get(8), 0, "a debt from an earlier mark is forgiven");
        c.set(300, 5 << 20);
        assert_eq!(c.get(300), 5 << 20);
        c.set(1, isize::MIN / 2);
        assert_eq!(c.get(1), -((1 << 23) - 1) * CREDIT_UNIT, "clamped");
        c.reset();
        assert_eq!(c.get(0), 0);
    }
}
