//! Sweeping (Go's mgcsweep.go), done for every span at mark termination,
//! with the world held (not yet lazily or in the background as Go's);
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

use super::mbitmap::{self, Bits, GcSpan, Kind};
use super::mcache::{central, Central};
use super::mfinal::{self, Job};
use crate::alloc::mheap::HEAP;
use core::sync::atomic::Ordering;

/// What a sweep left.
#[derive(Clone, Copy, Default, Debug)]
pub struct Swept {
    pub live_bytes: usize,
    pub live_objects: usize,
    pub span_bytes: usize,
}

/// Sweeps every GC span for cycle `gen`. Runs with the world held.
pub fn sweep(gen: u32) -> Swept {
    let mut c = central();
    let c: &mut Central = &mut c;
    c.partial.clear();
    let mut jobs = Vec::new();
    let mut out = Swept::default();
    let mut kept = Vec::with_capacity(c.all.len());
    for &s in &c.all {
        // SAFETY: records in `all` are live, and no cache holds one now.
        let span = unsafe { &mut *s };
        let live = sweep_span(span, gen, &mut jobs);
        if live == 0 {
            free_span(s);
            continue;
        }
        out.live_objects += live;
        out.live_bytes += live * span.elemsize;
        out.span_bytes += span.limit - span.base;
        if live < span.nelems as usize {
            c.partial
                .entry((span.kind, span.elemsize))
                .or_default()
                .push(s);
        }
        kept.push(s);
    }
    c.all = kept;
    mfinal::queue(jobs);
    out
}

/// Clears the mark bits of every span (a mark that must start over).
pub fn clear_all_marks() {
    for &s in &central().all {
        // SAFETY: records in `all` are live.
        unsafe { (*s).clear_marks() };
    }
}

/// Sweeps one span; returns the objects it keeps.
fn sweep_span(s: &mut GcSpan, gen: u32, jobs: &mut Vec<Job>) -> usize {
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
    s.sweepgen = gen;
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
    // SAFETY: a live record the sweep retires; nothing refers to it after
    // its pages are unmapped (the world is held).
    let rec = unsafe { Box::from_raw(s) };
    mbitmap::set_pages(&rec, core::ptr::null_mut());
    super::mgcpacer::note_span(rec.limit - rec.base, false);
    HEAP.lock().free_span(rec.mspan);
}
