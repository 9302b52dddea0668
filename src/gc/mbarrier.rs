//! Write-barrier entry points (Go's mbarrier.go).
//!
//! Every store of GC pointers into a GC object goes through `GcCell`'s
//! `borrow_mut` or `GcAtomic::swap`/`store`. While `MARKING` is set they
//! *shade* (mark grey, `mwbbuf::shade`):
//! - the old contents: `GcCell::borrow_mut` shades everything the cell
//!   holds when the borrow begins, `GcAtomic::swap` the pointer it
//!   replaced (Yuasa's deletion barrier, the half of Go's hybrid barrier
//!   that keeps the snapshot of the concurrent mark: see `mgc.rs`);
//! - the new contents: `GcRefMut::drop` and `GcAtomic::swap` shade what was
//!   stored (Dijkstra's half). The collector's soundness does not depend on
//!   it (a `GcRefMut` may be forgotten, skipping its drop): a mutator only
//!   ever stores pointers it holds, and those are protected already
//!   (`mgc.rs`). It only shortens the time a stored object stays white.
//!
//! `Root::new` and `Root::get` shade their object too, so that every handle
//! a scope gets from a root is marked.
//!
//! Outside marking a barrier is one relaxed load of `MARKING`. Shading
//! marks directly (mark bits are atomic) and keeps the grey objects in the
//! thread's barrier buffer (`mwbbuf.rs`, Go's per-P wbBuf), which hands
//! them to the shared work list in batches.

use super::mwbbuf;
use super::trace::Trace;
use core::sync::atomic::{AtomicBool, Ordering};

/// Go's `writeBarrier.enabled`.
pub static MARKING: AtomicBool = AtomicBool::new(false);
/// Objects allocated now are allocated marked (Go's `gcBlackenEnabled`).
pub static ALLOCATE_BLACK: AtomicBool = AtomicBool::new(false);

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
    mwbbuf::shade(v);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Held by the unit tests that flip `MARKING` by hand.
    pub(crate) static MARKING_FLIPS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    use crate::gc::mgcmark::is_marked;
    use crate::gc::{mutate, Gc, GcAtomic, GcCell};

    /// While marking, a store through a cell shades the old pointer when
    /// the borrow begins (even if the borrow is forgotten) and the new one
    /// when it ends; `GcAtomic` shades both; outside marking nothing is.
    #[test]
    fn barrier_shades_old_and_new_pointers_only_while_marking() {
        let _one_at_a_time = MARKING_FLIPS.lock().unwrap_or_else(|e| e.into_inner());
        // MARKING changes only while the world is held, never while a scope
        // is open: a scope that finds it clear may flip it for itself (no
        // cycle can start meanwhile); one that finds a cycle marking waits.
        while !mutate(|mu| !MARKING.load(Ordering::Relaxed) && check_barriers(mu)) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn check_barriers(mu: &crate::gc::Mutation<'_>) -> bool {
        let [a, b, c, d, e] = [1u64, 2, 3, 4, 5].map(|v| Gc::new(mu, v));
        let marked = |g: Gc<'_, u64>| is_marked(g.as_ptr().cast());
        let cell = GcCell::new(Some(a));
        let atomic = GcAtomic::new(Some(b));
        *cell.borrow_mut(mu) = Some(c);
        assert!(![a, b, c].into_iter().any(marked));
        MARKING.store(true, Ordering::Relaxed);
        *cell.borrow_mut(mu) = Some(d);
        atomic.store(mu, Some(e));
        let forgotten = GcCell::new(Some(a));
        core::mem::forget(forgotten.borrow_mut(mu));
        MARKING.store(false, Ordering::Relaxed);
        assert!([a, b, c, d, e].into_iter().all(marked));
        true
    }
}
