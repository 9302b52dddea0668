//! The hooks libgc's C side plugs into the cycle: reported roots are
//! scanned conservatively, the world stopper brackets the mark, after-mark
//! hooks see the mark bits and may mark more (then run again), after-cycle
//! hooks run once per cycle. One test: the hooks are process-wide.

use goheap::gc::raw::{self, Kind, Marker};
use std::sync::atomic::{AtomicUsize, Ordering};

static ROOT_WORDS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static WATCHED: AtomicUsize = AtomicUsize::new(0);
static WATCHED_WAS_MARKED: AtomicUsize = AtomicUsize::new(0);
static AFTER_MARK_CALLS: AtomicUsize = AtomicUsize::new(0);
static STOPS: AtomicUsize = AtomicUsize::new(0);
static STARTS: AtomicUsize = AtomicUsize::new(0);
static CYCLES_SEEN: AtomicUsize = AtomicUsize::new(0);

fn roots(m: &mut Marker) {
    let lo = ROOT_WORDS.as_ptr() as usize;
    // SAFETY: a static array of words, readable; atomics, so a racing
    // store would not be a data race either.
    unsafe { m.scan_conservative(lo, lo + std::mem::size_of_val(&ROOT_WORDS)) };
}

/// Like a libgc finalizer: an unreachable watched object is seen unmarked,
/// then kept for one more cycle (marked, with what it points to).
fn after_mark(m: &mut Marker) -> bool {
    AFTER_MARK_CALLS.fetch_add(1, Ordering::SeqCst);
    let w = WATCHED.load(Ordering::SeqCst);
    if w == 0 || raw::is_marked(w as *const u8) {
        return false;
    }
    WATCHED_WAS_MARKED.store(2, Ordering::SeqCst);
    m.mark_object(w as *const u8);
    m.drain();
    WATCHED.store(0, Ordering::SeqCst);
    true
}

fn stop() {
    assert_eq!(STOPS.load(Ordering::SeqCst), STARTS.load(Ordering::SeqCst));
    STOPS.fetch_add(1, Ordering::SeqCst);
}

fn start() {
    STARTS.fetch_add(1, Ordering::SeqCst);
}

fn after_cycle() {
    CYCLES_SEEN.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn hooks_take_part_in_every_cycle() {
    // SAFETY: the hooks only mark, query and count.
    unsafe {
        raw::register_roots(roots);
        raw::register_after_mark(after_mark);
        raw::register_world_stopper(stop, start);
    }
    raw::after_cycle(after_cycle);
    // SAFETY: the objects are used as the collector allows: through roots.
    unsafe {
        let rooted = raw::alloc(100, Kind::Conservative);
        let child = raw::alloc(24, Kind::Atomic);
        rooted.cast::<usize>().add(3).write(child as usize);
        ROOT_WORDS[1].store(rooted as usize + 40, Ordering::SeqCst); // interior
        let watched = raw::alloc(32, Kind::Conservative);
        let watched_child = raw::alloc(32, Kind::Atomic);
        watched.cast::<usize>().write(watched_child as usize);
        WATCHED.store(watched as usize, Ordering::SeqCst);
        let watched = watched as usize ^ 1;
        let watched_child = watched_child as usize ^ 1;

        let cycles = raw::gc_no();
        raw::collect();
        assert_eq!(raw::gc_no(), cycles + 1);
        assert_eq!(CYCLES_SEEN.load(Ordering::SeqCst), 1);
        assert_eq!(
            (STOPS.load(Ordering::SeqCst), STARTS.load(Ordering::SeqCst)),
            (1, 1)
        );
        assert_eq!(raw::base(rooted), rooted, "reported root");
        assert_eq!(raw::base(child), child, "reached from it");
        assert_eq!(WATCHED_WAS_MARKED.load(Ordering::SeqCst), 2);
        assert!(
            AFTER_MARK_CALLS.load(Ordering::SeqCst) >= 2,
            "ran again after marking more"
        );
        let (w, wc) = ((watched ^ 1) as *const u8, (watched_child ^ 1) as *const u8);
        assert!(!raw::base(w).is_null(), "kept by the after-mark hook");
        assert!(!raw::base(wc).is_null(), "with what it points to");

        raw::collect();
        assert!(raw::base(w).is_null(), "collected once no longer kept");
        ROOT_WORDS[1].store(0, Ordering::SeqCst);
        raw::collect();
        assert!(raw::base(rooted).is_null());
        assert_eq!(CYCLES_SEEN.load(Ordering::SeqCst), 3);
        assert!(raw::heap_size() >= raw::free_bytes());
        assert!(raw::total_bytes() >= 100 + 24 + 32 + 32);
    }
}
