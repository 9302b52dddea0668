//! Sweeping (Go's mgcsweep.go): lazily and in the background after a
//! concurrent cycle, all at once at the end of a stop-the-world one.
//! `sweepgen` records the cycle that swept a span.
//!
//! Per span, word by word: the objects that were allocated (alloc bit, or
//! below `freeindex`, and not `raw::free`d) and are not marked are dead.
//! - Uncollectable spans keep every allocated object (freed only by
//!   `raw::free`).
//! - A dead object whose type needs `Drop` goes through three sweeps'
//!   worth of states: not queued → *queued* (handed to the finalizer
//!   thread, kept) → *dropped* (the finalizer thread ran its drop) → free.
//!   So its memory is reused only after its drop has run, exactly once.
//! - Dead objects with cleanups hand them to the finalizer thread.
//!
//! The new alloc bits are the kept objects; mark and freed bits are
//! cleared; `freeindex` goes back to 0. A span with no object left returns
//! to the mheap (its page-map entries cleared first); one with free slots
//! goes on its kind's partial list.
//!
//! # The lazy sweep
//!
//! Mark termination of a concurrent cycle (world held) sweeps nothing: it
//! moves every span from `Central::all` to `Central::unswept` (per kind
//! and object size, as Go's unswept mcentral lists) and empties `partial`
//! (`begin`). The world is released at once. Then, each span is swept
//! exactly once, under the central lock, by whoever comes first:
//! - a cache that needs a span of that kind and size and finds no swept
//!   one with free slots sweeps unswept ones of its own size first
//!   (`sweep_for`, Go's `mcentral.cacheSpan`), before it grows the heap;
//! - the background sweeper (`goheap-gc-sweep`, Go's `bgsweep`) sweeps the
//!   rest, one span per lock hold, and then wakes the finalizer runner for
//!   what the sweep queued;
//! - the start of the next cycle (world held) sweeps whatever is left
//!   (`finish`, Go's `finishsweep_m`). Little is: a cycle requested while
//!   spans are unswept waits until the sweep ends (`mgc::request`, as Go's
//!   `gcStart` sweeps the rest before it stops the world), and the
//!   proportional sweep is paced to end before the next trigger
//!   (`pace`, Go's `sweepPagesPerByte`).
//!
//! A swept span goes back to `all`, so `all` is complete again once
//! `unswept` is empty. While spans are unswept, each span a cache takes
//! pays for sweeping a few of any size, and more before it grows the heap
//! (`sweep_credit`, Go's proportional sweep): the sweep ends long before
//! the next cycle's start, and dead spans give their pages back first.
//!
//! Why this is sound:
//! - The mark bits of an unswept span are those of the last mark: its
//!   unmarked objects were unreachable then, with no handle anywhere (the
//!   world was held), and nothing reaches them later: handles come from
//!   roots and from reachable objects, and a `Root` of an unmarked object
//!   cannot exist. So no mutator reads or writes a dead object while the
//!   sweep frees it, wherever the sweep runs.
//! - A mutator never allocates from an unswept span: caches take spans
//!   only from `partial` (swept) or after sweeping them, and mark
//!   termination emptied every cache.
//! - The next mark starts only after `finish`: stale mark bits would make
//!   the new mark skip the objects they cover. Barriers and allocate-black
//!   are off during the lazy sweep, so no mark bit is set meanwhile.
//! - The sweep writes a span's bitmap words (atomics) and its `freeindex`;
//!   the finalizer runner meanwhile only sets `Dropped` bits, which
//!   `hold_for_drop` reads and clears without losing one it did not see.
//! - C callers that look up arbitrary addresses (`GC_base`, `GC_size`) are
//!   answered from the page map: a span freed by the background sweep is
//!   unmapped from it before its record goes. The C side makes every cycle
//!   stop the world, and that sweep is whole, as before; only a lookup of
//!   an address in a dead Rust span while it is being freed (no program
//!   holds one) is not covered.
//!
//! # Dead spans before termination
//!
//! A cycle terminates only at a scope boundary, which may come long after
//! its mark is done. Meanwhile the mark worker frees whole spans whose
//! objects are all dead (`free_dead_spans`): once no grey object is left
//! (`MARK_DONE`, barriers and allocate-black still on), every object a
//! handle, a root or a marked object can reach is marked (`mgc.rs`: (H)
//! and (W) with nothing grey), and mutators keep it so: handles come from
//! roots (shaded), from marked objects and from allocation (black). So an
//! unmarked object stays unreachable. A span is freed only if none of its
//! objects is marked, it is full (so on no `partial` list: a span there
//! always has a free slot) and no cache holds it (`GcSpan::cached`, set
//! and cleared under the central lock, cleared by `flush_all` with the
//! world held), and its type needs no `Drop` and has no cleanups (those
//! objects go through the finalizer queue at the sweep). A span joins
//! `all` either as a cache's (flagged before the central lock is released)
//! or as a large object's, marked then if allocation is black: no span
//! being handed out looks dead. The next cycle's mark cannot begin while
//! the worker holds the central lock, which it takes before it checks that
//! the mark is still done.
//!
//! The live heap for the pacer comes from the mark (`mgcmark::take_marked`),
//! not from the sweep.

use super::mbitmap::{self, Bits, GcSpan, Kind};
use super::mcache::{central, Central, SpanKey};
use super::mfinal::{self, Job};
use crate::alloc::mheap::HEAP;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// What a cycle left: the live heap (marked), and for a concurrent cycle
/// the bytes allocated black during its mark (`floating_bytes`: in the
/// heap until the next cycle, but not counted as live for its goal; see
/// `mgcmark`'s "Marked bytes").
#[derive(Clone, Copy, Default, Debug)]
pub struct Swept {
    pub live_bytes: usize,
    pub live_objects: usize,
    pub span_bytes: usize,
    pub floating_bytes: usize,
}

/// Sweeps every GC span for cycle `gen` (a stop-the-world cycle's end;
/// the world is held, and `finish` ran at the cycle's start).
pub fn sweep(gen: u32) -> Swept {
    let mut c = central();
    c.partial.clear();
    let mut jobs = Vec::new();
    let mut out = Swept::default();
    for s in core::mem::take(&mut c.all).into_values().flatten() {
        sweep_into(&mut c, s, gen, &mut jobs, &mut out);
    }
    drop(c);
    mfinal::queue(jobs);
    out
}

/// Mark termination of a concurrent cycle `gen` (world held): every span
/// becomes unswept (module comment); `wake_sweeper` once the world is
/// released.
pub fn begin(gen: u32) {
    let mut c = central();
    c.partial.clear();
    c.sweep_gen = gen;
    debug_assert!(c.unswept_count == 0, "finish ran at the cycle's start");
    c.unswept = core::mem::take(&mut c.all);
    c.unswept_count = c.spans;
    LAGGING.store(c.spans != 0, Ordering::SeqCst);
}

/// Some span is unswept (`unswept_count != 0`, read without the lock).
static LAGGING: AtomicBool = AtomicBool::new(false);

/// Whether the lazy sweep of the last cycle is still under way.
pub fn lagging() -> bool {
    LAGGING.load(Ordering::SeqCst)
}

/// One span left `unswept` (under the central lock); the last one lets a
/// cycle request that waited for the sweep go through (`mgc::request`).
fn took_unswept(c: &mut Central) {
    c.unswept_count -= 1;
    if c.unswept_count == 0 {
        LAGGING.store(false, Ordering::SeqCst);
        super::mgc::sweep_done();
    }
}

/// Sweeps unswept spans of `key` until one has a free slot, and returns
/// it (a cache's refill, under the central lock).
pub fn sweep_for(c: &mut Central, key: SpanKey) -> Option<*mut GcSpan> {
    let mut jobs = Vec::new();
    let mut found = None;
    while let Some(s) = c.unswept.get_mut(&key).and_then(Vec::pop) {
        took_unswept(c);
        let gen = c.sweep_gen;
        if sweep_into(c, s, gen, &mut jobs, &mut Swept::default()) {
            // It went on `partial`: take it back for the cache.
            found = c.partial.get_mut(&key).and_then(Vec::pop);
            break;
        }
    }
    mfinal::queue(jobs);
    found
}

/// Proportional sweep (Go's `deductSweepCredit`): each span a cache takes
/// pays for sweeping `n` unswept spans of any size (`credit_for`), if any
/// are left, so that the sweep is done before the next cycle starts (whose
/// start would otherwise sweep the rest with the world held). A cache
/// about to grow the heap pays at least `GROW_CREDIT`, so that dead spans
/// give their pages back first.
pub fn sweep_credit(c: &mut Central, n: usize) {
    if c.unswept_count == 0 {
        return;
    }
    let mut jobs = Vec::new();
    for _ in 0..n {
        if !sweep_any(c, &mut jobs) {
            break;
        }
    }
    mfinal::queue(jobs);
}

/// Go's `sweepPagesPerByte`, in spans: the spans left to sweep over the
/// bytes the heap may grow before the next trigger, set when a lazy sweep
/// begins (an `f64`'s bits).
static SWEEP_PER_BYTE: AtomicU64 = AtomicU64::new(0);

/// A lazy sweep began (after mark termination): paces it so that it ends
/// before the heap, now `heap_live`, reaches `trigger` (at least 1 MiB of
/// room assumed).
pub fn pace(trigger: usize, heap_live: usize) {
    let spans = central().unswept_count as f64;
    let room = trigger.saturating_sub(heap_live).max(1 << 20) as f64;
    SWEEP_PER_BYTE.store((spans / room).to_bits(), Ordering::Relaxed);
}

/// Spans to sweep for a span of `bytes` a cache takes: the pace's share,
/// at least `floor`.
pub fn credit_for(bytes: usize, floor: usize) -> usize {
    let per_byte = f64::from_bits(SWEEP_PER_BYTE.load(Ordering::Relaxed));
    ((per_byte * bytes as f64).ceil() as usize).max(floor)
}

/// Spans swept at least for each span a cache takes while the sweep lags.
pub const TAKE_CREDIT: usize = 2;
/// Spans swept at least before each new span while the sweep lags.
pub const GROW_CREDIT: usize = 8;

/// Sweeps every span still unswept (the start of a cycle, world held).
pub fn finish() {
    let mut c = central();
    let mut jobs = Vec::new();
    while sweep_any(&mut c, &mut jobs) {}
    drop(c);
    mfinal::queue(jobs);
}

/// Sweeps one unswept span, any; false if none is left.
fn sweep_any(c: &mut Central, jobs: &mut Vec<Job>) -> bool {
    let Some(s) = c.unswept.values_mut().find_map(Vec::pop) else {
        return false;
    };
    took_unswept(c);
    let gen = c.sweep_gen;
    sweep_into(c, s, gen, jobs, &mut Swept::default());
    true
}

/// Sweeps span `s` for cycle `gen` and files it: freed if empty, else back
/// on `all` (and on `partial` if it has free slots). Returns whether it
/// went on `partial`.
fn sweep_into(
    c: &mut Central,
    s: *mut GcSpan,
    gen: u32,
    jobs: &mut Vec<Job>,
    out: &mut Swept,
) -> bool {
    // SAFETY: a live record, taken off `all` or `unswept` by the caller,
    // which holds the central lock; no cache holds it.
    let span = unsafe { &*s };
    // In no cache now (a cache of an exited thread may have left the flag).
    span.cached.store(false, Ordering::Relaxed);
    let live = sweep_span(span, gen, jobs);
    if live == 0 {
        c.spans -= 1;
        free_span(s);
        return false;
    }
    out.live_objects += live;
    out.live_bytes += live * span.elemsize;
    out.span_bytes += span.limit - span.base;
    c.all.entry(span.key()).or_default().push(s);
    let partial = live < span.nelems as usize;
    if partial {
        c.partial.entry(span.key()).or_default().push(s);
    }
    partial
}

/// Frees, during a concurrent mark that found no grey object left
/// (`MARK_DONE`, barriers still on), the spans whose objects are all dead,
/// without waiting for mark termination and its sweep: a program can keep
/// a scope open for long after the mark is done (binary-trees builds its
/// long-lived tree while the stretch tree's 128 MB wait), and the dead
/// spans' pages serve it meanwhile. `still_done` says whether the mark is
/// still done; it is asked under the central lock before each batch (the
/// next mark cannot begin while the lock is held: its start sweeps under
/// it first). See the module comment for why this is sound.
pub fn free_dead_spans(still_done: impl Fn() -> bool) {
    let keys: Vec<SpanKey> = central().all.keys().copied().collect();
    for key in keys {
        let mut from = 0;
        loop {
            let mut c = central();
            if !still_done() {
                return;
            }
            let Some(spans) = c.all.get_mut(&key) else {
                break;
            };
            let end = spans.len().min(from + FREE_BATCH);
            let mut dead = Vec::new();
            let mut kept = from;
            for i in from..end {
                let s = spans[i];
                // SAFETY: records in `all` are live.
                if is_dead(unsafe { &*s }) {
                    dead.push(s);
                } else {
                    spans[kept] = s;
                    kept += 1;
                }
            }
            spans.drain(kept..end);
            let left = spans.len();
            c.spans -= dead.len();
            // Off every list now: freed without the lock, which mark
            // termination may be waiting for.
            drop(c);
            dead.into_iter().for_each(free_span);
            if kept >= left {
                break;
            }
            from = kept;
        }
    }
}

/// Spans looked at per hold of the central lock by `free_dead_spans`.
const FREE_BATCH: usize = 64;

/// Whether span `s` holds only dead objects that need no finalizer work
/// and is in no cache nor on `partial` (full spans never are), while the
/// mark is done: then nothing can reach any of its objects again.
fn is_dead(s: &GcSpan) -> bool {
    matches!(s.kind, Kind::Typed(_))
        && !s.needs_drop
        && !s.has_cleanups.load(Ordering::Relaxed)
        && !s.cached.load(Ordering::Relaxed)
        && !s.has_marks()
        && s.is_full()
}

static SWEEPER_WAKE: Condvar = Condvar::new();
static SWEEPER_LOCK: Mutex<()> = Mutex::new(());
static SWEEPER: OnceLock<bool> = OnceLock::new();

/// Wakes the background sweeper if spans are unswept, starting it on
/// first use. Without it (no thread could be made) allocation and the next
/// cycle's start sweep. It does not take `SWEEPER_LOCK` (the sweeper may
/// hold it, preempted): a wake-up lost to the race between the sweeper's
/// check and its wait costs at most `SWEEPER_NAP`.
pub fn wake_sweeper() {
    if central().unswept_count == 0 {
        return;
    }
    SWEEPER.get_or_init(|| {
        std::thread::Builder::new()
            .name("goheap-gc-sweep".into())
            .spawn(background_sweeper)
            .is_ok()
    });
    SWEEPER_WAKE.notify_one();
}

/// The longest the sweeper sleeps without looking for work.
const SWEEPER_NAP: Duration = Duration::from_millis(10);

/// The background sweeper (Go's `bgsweep`): sweeps one span per hold of
/// the central lock until none is unswept, then lets the finalizer runner
/// run what the sweep queued, and sleeps until the next `begin`.
fn background_sweeper() {
    loop {
        {
            let mut g = SWEEPER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            while central().unswept_count == 0 {
                g = SWEEPER_WAKE
                    .wait_timeout(g, SWEEPER_NAP)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let mut jobs = Vec::new();
        while sweep_any(&mut central(), &mut jobs) {
            mfinal::queue(core::mem::take(&mut jobs));
        }
        mfinal::wake();
    }
}

/// Clears the mark bits of every span (a mark that must start over).
pub fn clear_all_marks() {
    for &s in central().all.values().flatten() {
        // SAFETY: records in `all` are live.
        unsafe { (*s).clear_marks() };
    }
}

/// Sweeps one span; returns the objects it keeps.
fn sweep_span(s: &GcSpan, gen: u32, jobs: &mut Vec<Job>) -> usize {
    let fi = s.freeindex.load(Ordering::Relaxed) as usize;
    let c_kind = !matches!(s.kind, Kind::Typed(_));
    let mut live = 0;
    for w in 0..s.nwords() {
        let carved = carved_mask(fi, w) & s.valid_mask(w);
        let mut alloc = s.word(Bits::Alloc, w).load(Ordering::Relaxed) | carved;
        if c_kind {
            alloc &= !s.word(Bits::Freed, w).swap(0, Ordering::Relaxed);
        }
        let mut keep = if s.kind == Kind::Uncollectable {
            alloc
        } else {
            alloc & s.gather_marks(w)
        };
        let dead = alloc & !keep;
        if dead != 0 && s.has_cleanups.load(Ordering::Relaxed) {
            mfinal::take_cleanups(s, w, dead, jobs);
        }
        if dead != 0 && s.needs_drop {
            keep |= hold_for_drop(s, w, dead, jobs);
        }
        s.word(Bits::Alloc, w).store(keep, Ordering::Relaxed);
        live += keep.count_ones() as usize;
    }
    s.clear_marks();
    s.freeindex.store(0, Ordering::Relaxed);
    s.sweepgen.store(gen, Ordering::Relaxed);
    live
}

/// Bits of word `w` below `freeindex`.
fn carved_mask(fi: usize, w: usize) -> u64 {
    let below = fi.saturating_sub(w * 64);
    if below >= 64 {
        !0
    } else {
        (1u64 << below) - 1
    }
}

/// Moves dead objects that need `Drop` along their states (module comment);
/// returns those still kept.
fn hold_for_drop(s: &GcSpan, w: usize, dead: u64, jobs: &mut Vec<Job>) -> u64 {
    let dropped = s.word(Bits::Dropped, w).load(Ordering::Acquire) & dead;
    let queued = s.word(Bits::Queued, w).load(Ordering::Relaxed) & dead;
    let fresh = dead & !queued;
    let Kind::Typed(info) = s.kind else {
        unreachable!("only typed spans need drop")
    };
    let drop = info.drop.expect("a span that needs drop has a drop");
    let mut bits = fresh;
    while bits != 0 {
        let idx = w * 64 + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        jobs.push(Job::Drop {
            span: s as *const GcSpan,
            idx,
            drop,
        });
    }
    s.word(Bits::Queued, w)
        .store((queued & !dropped) | fresh, Ordering::Relaxed);
    s.word(Bits::Dropped, w)
        .fetch_and(!dropped, Ordering::Relaxed);
    dead & !dropped
}

fn free_span(s: *mut GcSpan) {
    // SAFETY: a live record the sweep retires: no cache holds it and no
    // handle names an object in it (module comment), and lookups by
    // address stop finding it once its pages are unmapped.
    let rec = unsafe { Box::from_raw(s) };
    mbitmap::set_pages(&rec, core::ptr::null_mut());
    super::mgcpacer::note_span(rec.limit - rec.base, false);
    HEAP.lock().free_span(rec.mspan);
}
