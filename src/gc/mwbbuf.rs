//! Per-thread write-barrier buffers (Go's mwbbuf.go).
//!
//! A shading barrier (`mbarrier.rs`) marks what it shades at once (mark
//! bits are atomic) but does not hand the grey objects to the shared work
//! list one by one: each thread keeps them in its own buffer, a `Marker`
//! whose stack holds up to `WBUF_LEN` grey objects, and hands the whole
//! buffer to `mgcmark`'s `WORK` in one locked append when it is full
//! (Go's `wbBufFlush`). A shade whose objects were all marked already, the
//! common case late in a mark, touches no shared memory at all.
//!
//! # Counting the buffered grey objects
//!
//! The termination test (`mgcmark::GREY`, "grey work not yet finished")
//! must see the buffered objects, or the mark could be taken for done
//! while a buffer holds a grey object whose children are white (mark
//! termination drains everything again with the world held, but the mark
//! worker frees dead spans before that: `mgcsweep::free_dead_spans`). So
//! a buffer *holds one unit* of `GREY` from before the first mark bit its
//! thread's barriers set, and gives it back only when it flushes: a flush
//! adds the buffer's length to `GREY` (its objects are now in `WORK`,
//! counted as every published object), then takes the unit off. A shade
//! that leaves the buffer empty (it greyed nothing that scans: the objects
//! were marked already, or hold no pointers) gives the unit back at once,
//! so that a thread in a long scope holds up the end of the mark only
//! while its buffer really holds grey objects.
//!
//! # When a buffer flushes
//!
//! - when it is full (or, for its unit alone, empty: see above);
//! - when its thread leaves the world (the outermost scope ends, `mgc.rs`
//!   calls `settle`): barriers run only inside the world (every store path
//!   takes a `&Mutation`), so while a cycle holds the world every buffer
//!   is empty and holds no unit. A goroutine inside a scope never changes
//!   thread (the scheduler's scope rule), so one goroutine's shades never
//!   sit in a buffer another goroutine's thread will flush;
//! - when its thread pays a mark assist (`mgcmark::charge`), so that a
//!   thread that allocates in one long scope flushes regularly.
//!
//! Go flushes every P's buffer at mark termination through `forEachP`; here
//! the flush at the scope boundary plays that part: the mark is done only
//! once every thread that shaded has flushed, and the cycle could not end
//! sooner anyway (it ends only when no scope is open).

use super::mgc::AbortOnUnwind;
use super::mgcmark::{self, Marker};
use super::trace::Trace;
use core::cell::{Cell, RefCell};

/// Grey objects a buffer holds before it flushes (Go's is 512 pointers).
const WBUF_LEN: usize = 256;

/// One thread's barrier buffer.
struct WbBuf {
    marker: Marker,
    /// This buffer holds a unit of `GREY` (see the module comment).
    holds_grey: bool,
}

thread_local! {
    static WBUF: RefCell<WbBuf> = const {
        RefCell::new(WbBuf {
            marker: Marker::concurrent_empty(),
            holds_grey: false,
        })
    };
    /// The buffer holds a unit (a cheap test for the scope exit).
    static HOLDS_GREY: Cell<bool> = const { Cell::new(false) };
}

impl WbBuf {
    fn take_grey_unit(&mut self) {
        if !self.holds_grey {
            mgcmark::add_grey(1);
            self.holds_grey = true;
            HOLDS_GREY.set(true);
        }
    }

    fn flush(&mut self) {
        mgcmark::publish(&mut self.marker);
        if self.holds_grey {
            self.holds_grey = false;
            HOLDS_GREY.set(false);
            mgcmark::finish_grey(1);
        }
    }
}

/// Shades what `v` points to into this thread's buffer (the barrier's slow
/// path: `mbarrier::MARKING` is set).
pub fn shade<T: Trace + ?Sized>(v: &T) {
    shade_with(|m| v.trace(m));
}

/// Shades the object containing `p` (a root's object) likewise.
pub fn shade_object(p: *const u8) {
    shade_with(|m| m.mark_object(p));
}

fn shade_with(mut mark: impl FnMut(&mut Marker)) {
    let guard = AbortOnUnwind;
    let buffered = WBUF
        .try_with(|b| {
            // Busy only if a `Trace` impl ran a barrier: shade unbuffered.
            let Ok(mut b) = b.try_borrow_mut() else {
                return false;
            };
            b.take_grey_unit();
            mark(&mut b.marker);
            let n = b.marker.grey_count();
            if n == 0 || n >= WBUF_LEN {
                b.flush();
            }
            true
        })
        .unwrap_or(false);
    if !buffered {
        mgcmark::shade_unbuffered(mark);
    }
    core::mem::forget(guard);
}

/// Hands this thread's buffer to `WORK` if it holds anything (the thread
/// leaves the world, or pays an assist).
#[inline(always)]
pub fn flush() {
    if HOLDS_GREY.get() {
        flush_slow();
    }
}

#[cold]
fn flush_slow() {
    let guard = AbortOnUnwind;
    let _ = WBUF.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.flush();
        }
    });
    core::mem::forget(guard);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::mbarrier::{tests::MARKING_FLIPS, MARKING};
    use crate::gc::mgcmark::{grey_left, is_marked, scan_some};
    use crate::gc::{mutate, Gc, GcCell};
    use core::sync::atomic::Ordering;

    /// A shade that greys an object holding pointers keeps it in the
    /// buffer, counted as grey work, until the buffer flushes; one that
    /// greys nothing that scans gives its unit back at once.
    #[test]
    fn buffered_shades_count_as_grey_until_flushed() {
        let _one_at_a_time = MARKING_FLIPS.lock().unwrap_or_else(|e| e.into_inner());
        // MARKING flips only while no cycle marks (and none can start
        // while the scope is open).
        while !mutate(|mu| !MARKING.load(Ordering::Relaxed) && check_buffer(mu)) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!HOLDS_GREY.get());
    }

    fn check_buffer(mu: &crate::gc::Mutation<'_>) -> bool {
        let leaf = Gc::new(mu, 7u64);
        let holder = Gc::new(mu, Some(leaf));
        let leaf_cell = GcCell::new(Some(Gc::new(mu, 8u64)));
        let holder_cell = GcCell::new(Some(holder));
        MARKING.store(true, Ordering::Relaxed);
        *leaf_cell.borrow_mut(mu) = None;
        let after_leaf = HOLDS_GREY.get();
        *holder_cell.borrow_mut(mu) = None;
        let after_holder = (
            HOLDS_GREY.get(),
            grey_left(),
            is_marked(holder.as_ptr().cast()),
        );
        flush();
        let flushed = HOLDS_GREY.get();
        // Scan what the flush handed to WORK, as the mark worker would.
        scan_some(&mut Marker::concurrent(16), usize::MAX);
        let leaf_marked = is_marked(leaf.as_ptr().cast());
        MARKING.store(false, Ordering::Relaxed);
        assert!(
            !after_leaf,
            "a leaf greys nothing that scans: the unit goes back"
        );
        assert_eq!(after_holder, (true, true, true), "held, counted, marked");
        assert!(
            !flushed && leaf_marked,
            "flushed {flushed}, leaf marked {leaf_marked}"
        );
        true
    }
}
