//! Write-barrier entry points (Go's mbarrier.go, mwbbuf.go).
//!
//! Every store of GC pointers into a GC object goes through `GcCell`'s
//! `borrow_mut` or `GcAtomic::store`, which call `before_write` with the
//! old contents and `after_write` with the new: Go's hybrid barrier (shade
//! the overwritten pointer, Yuasa; shade the new one, Dijkstra), applied to
//! every GC pointer the cell holds. Outside marking it is one relaxed load
//! of `MARKING`. While marking, the pointers go to `WBUF` (Go's per-P
//! write-barrier buffer, one here), which the mark drains.
//!
//! The stop-the-world cycle never lets a mutator run while `MARKING` is
//! set, so today the buffer stays empty in practice; the concurrent mark
//! of the next issue sets `MARKING` and `ALLOCATE_BLACK` around its mark
//! phase and needs no change in the API.

use super::mgcmark::Marker;
use super::trace::Trace;
use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Go's `writeBarrier.enabled`.
pub static MARKING: AtomicBool = AtomicBool::new(false);
/// Objects allocated now are allocated marked (Go's `gcBlackenEnabled`).
pub static ALLOCATE_BLACK: AtomicBool = AtomicBool::new(false);

static WBUF: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Before GC pointers in `old` are overwritten.
#[inline(always)]
pub fn before_write<T: Trace + ?Sized>(old: &T) {
    if T::NEEDS_TRACE && MARKING.load(Ordering::Relaxed) {
        shade(old);
    }
}

/// After GC pointers in `new` were stored.
#[inline(always)]
pub fn after_write<T: Trace + ?Sized>(new: &T) {
    if T::NEEDS_TRACE && MARKING.load(Ordering::Relaxed) {
        shade(new);
    }
}

#[cold]
fn shade<T: Trace + ?Sized>(v: &T) {
    let mut m = Marker::recording();
    v.trace(&mut m);
    WBUF.lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(m.take_recorded());
}

/// Greys what the barrier recorded (mark phase).
pub fn drain_into(m: &mut Marker) {
    let buf = core::mem::take(&mut *WBUF.lock().unwrap_or_else(|e| e.into_inner()));
    for p in buf {
        m.mark_object(p as *const u8);
    }
}
