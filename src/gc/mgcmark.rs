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
//! the barrier buffer, then the libgc side's root hooks; after the drain,
//! the after-mark hooks run until none of them marks anything new.

use super::api;
use super::mbarrier;
use super::mbitmap::{self, Bits, GcSpan, Kind, Scan};
use super::mcache::central;
use super::mgc::Hooks;

/// The marking state handed to `Trace` impls and to the libgc side's hooks.
pub struct Marker {
    stack: Vec<(usize, Scan)>,
    marked_bytes: usize,
    /// For the write barrier: GC pointers are collected here, not marked.
    recorded: Option<Vec<usize>>,
}

impl Marker {
    pub(crate) fn new() -> Marker {
        Marker {
            stack: Vec::with_capacity(1024),
            marked_bytes: 0,
            recorded: None,
        }
    }

    /// A marker that only records the GC pointers traced into it.
    pub(crate) fn recording() -> Marker {
        Marker {
            stack: Vec::new(),
            marked_bytes: 0,
            recorded: Some(Vec::new()),
        }
    }

    pub(crate) fn take_recorded(&mut self) -> Vec<usize> {
        self.recorded.take().unwrap_or_default()
    }

    /// Greys the object of a `Gc` handle (`Trace` for `Gc`).
    /// `p` is the start of an allocated object (a `Gc` of a reachable
    /// object never names anything else), so no allocation check.
    #[inline(always)]
    pub(crate) fn mark_gc(&mut self, p: usize) {
        match &mut self.recorded {
            None => {
                if let Some(s) = mbitmap::span_of(p) {
                    self.grey(s, s.index_of(p));
                }
            }
            Some(r) => r.push(p),
        }
    }

    pub(crate) fn marked_bytes(&self) -> usize {
        self.marked_bytes
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
    pub fn scan_conservative(&mut self, lo: usize, hi: usize) {
        let mut p = lo.next_multiple_of(8);
        while p + 8 <= hi {
            // SAFETY: the caller hands a readable range.
            let w = unsafe { (p as *const usize).read() };
            self.mark_object(w as *const u8);
            p += 8;
        }
    }

    /// Marks transitively: scans grey objects until none is left.
    pub fn drain(&mut self) {
        while let Some((p, scan)) = self.stack.pop() {
            match scan {
                // SAFETY: p is an allocated object of the span's type, not
                // being dropped (queued objects are not pushed).
                Scan::Typed(trace) => unsafe { trace(p as *const u8, self) },
                Scan::Words(n) => self.scan_conservative(p, p + n),
            }
        }
    }

    #[inline(always)]
    fn grey(&mut self, s: &GcSpan, idx: usize) {
        if s.set_mark(idx) {
            self.marked_bytes += s.elemsize;
            if let Some(scan) = s.scan {
                if !(s.needs_drop && s.bit(Bits::Queued, idx)) {
                    self.stack.push((s.object(idx), scan));
                }
            }
        }
    }
}

/// The mark phase of a cycle.
pub fn mark(m: &mut Marker, hooks: &Hooks) {
    api::for_each_root(|p| m.mark_object(p as *const u8));
    mark_uncollectable(m);
    mbarrier::drain_into(m);
    for root in &hooks.roots {
        root(m);
    }
    m.drain();
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

fn mark_uncollectable(m: &mut Marker) {
    let c = central();
    for &s in &c.all {
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
    mbitmap::object_of(p as usize).is_some_and(|(s, idx)| s.bit(Bits::Mark, idx))
}
