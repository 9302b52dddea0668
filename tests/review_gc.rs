//! Adversarial review of the Rust GC API (branch gccore): safe code that
//! reaches freed memory or breaks the collector's stated invariants. Each
//! `#[ignore = "finding: ..."]` test asserts the behaviour the design
//! promises and fails today; the others are attacks that held.

mod common;

use goheap::gc::{mutate, raw, Gc, Marker, Root};
use goheap::{Rootable, Trace};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the test `name` of this binary alone in a child process with
/// `REVIEW_CHILD=1` (for attacks that crash or wedge the process) and
/// returns its status and stderr.
fn run_child(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--include-ignored", "--nocapture"])
        .env("REVIEW_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `stderr` has a goheap message (a line `goheap...`) saying all
/// of `words`.
fn goheap_says(stderr: &str, words: &[&str]) -> bool {
    stderr
        .lines()
        .any(|l| l.starts_with("goheap") && words.iter().all(|w| l.contains(w)))
}

fn in_child() -> bool {
    std::env::var_os("REVIEW_CHILD").is_some()
}

// ---------------------------------------------------------------------
// Finding: `Trace for HashMap<K, V, S>` / `HashSet<T, S>` accept any
// `S: BuildHasher` and never trace it. `BuildHasher` is a safe trait, so a
// hasher can hold a `Gc` that nothing traces. Now the impls require
// `S: Trace` and trace `self.hasher()` (an untraced hasher no longer
// compiles: review_compile_fail/untraced_hasher_in_derived_type.rs).

#[derive(Trace)]
struct HasherTarget {
    v: [u64; 4],
}

static HASHER_TARGET_COLLECTED: AtomicBool = AtomicBool::new(false);

#[derive(Trace)]
struct SneakyHasher<'gc>(Gc<'gc, HasherTarget>);

impl BuildHasher for SneakyHasher<'_> {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher::new()
    }
}

#[derive(Trace)]
struct HasherHolder<'gc> {
    map: HashMap<u32, u32, SneakyHasher<'gc>>,
}

#[test]
fn a_gc_inside_a_hashmaps_hasher_stays_alive() {
    let _s = serial();
    let holder: Root<Rootable!['gc => HasherHolder<'gc>]> = mutate(|mu| {
        let target = Gc::new(mu, HasherTarget { v: [7; 4] });
        target.add_cleanup(mu, (), |()| {
            HASHER_TARGET_COLLECTED.store(true, Ordering::SeqCst)
        });
        let map = HashMap::with_hasher(SneakyHasher(target));
        Root::new(mu, Gc::new(mu, HasherHolder { map }))
    });
    raw::collect();
    raw::wait_for_finalizers();
    assert!(
        !HASHER_TARGET_COLLECTED.load(Ordering::SeqCst),
        "the object held by a rooted map's hasher was collected: \
         holder.map.hasher().0 now dangles"
    );
    mutate(|mu| assert_eq!(holder.get(mu).map.hasher().0.v, [7; 4]));
}

// ---------------------------------------------------------------------
// Finding: `raw::register_roots` is a safe fn, and its hook runs inside
// the cycle (world held, roots already marked). A hook may call `mutate`
// (the cycle thread's DEPTH is > 0, so the entry counts as nested and does
// not wait) and allocate and root an object there: it is never marked, so
// this very cycle sweeps it while a `Root` names it. Now registering a
// hook is `unsafe` (its contract forbids entering the heap) and a `mutate`
// from inside a cycle aborts with a goheap message instead.

#[derive(Trace)]
struct HookObject {
    v: [u64; 4],
}

static HOOK_ARMED: AtomicBool = AtomicBool::new(false);
static HOOK_OBJECT_COLLECTED: AtomicBool = AtomicBool::new(false);
type HookRoot = Root<Rootable!['gc => HookObject]>;
static HOOK_STASH: Mutex<Option<HookRoot>> = Mutex::new(None);

fn allocating_root_hook(_: &mut Marker) {
    if !HOOK_ARMED.swap(false, Ordering::SeqCst) {
        return;
    }
    mutate(|mu| {
        let g = Gc::new(mu, HookObject { v: [9; 4] });
        g.add_cleanup(mu, (), |()| {
            HOOK_OBJECT_COLLECTED.store(true, Ordering::SeqCst)
        });
        *HOOK_STASH.lock().unwrap() = Some(Root::new(mu, g));
    });
}

#[test]
fn an_object_rooted_from_inside_a_cycle_is_not_freed() {
    if in_child() {
        // SAFETY: none: the hook breaks the contract on purpose; the
        // collector must refuse rather than free a rooted object.
        unsafe { raw::register_roots(allocating_root_hook) };
        HOOK_ARMED.store(true, Ordering::SeqCst);
        raw::collect();
        raw::collect();
        raw::wait_for_finalizers();
        assert!(HOOK_STASH.lock().unwrap().is_some(), "the hook ran");
        assert!(
            !HOOK_OBJECT_COLLECTED.load(Ordering::SeqCst),
            "an object was collected while a Root names it"
        );
        return;
    }
    let (status, stderr) = run_child("an_object_rooted_from_inside_a_cycle_is_not_freed");
    assert!(
        status.success() || goheap_says(&stderr, &["mutate", "collection"]),
        "{status:?}: {stderr}"
    );
}

// ---------------------------------------------------------------------
// Finding: `Marker::scan_conservative` is a safe pub fn that reads every
// word of any range it is given; safe code reaches a `Marker` through
// `raw::register_roots`. Reading unmapped memory kills the process.
// Now `scan_conservative` is `unsafe` (its contract: a readable range;
// calling it without `unsafe` is rejected:
// review_compile_fail/scan_conservative_needs_unsafe.rs), and what a hook
// can do with the marker in safe code, mark any address, must not crash.

static SCAN_ARMED: AtomicBool = AtomicBool::new(false);

fn scanning_root_hook(m: &mut Marker) {
    if SCAN_ARMED.swap(false, Ordering::SeqCst) {
        // Every word address of the zero page (never mapped), as if it
        // were read from there: only the safe methods.
        for p in (64..4096).step_by(8) {
            m.mark_object(p as *const u8);
        }
        m.drain();
    }
}

#[test]
fn safe_code_cannot_make_the_marker_read_arbitrary_memory() {
    if in_child() {
        // SAFETY: the hook only marks, with the Marker's safe methods.
        unsafe { raw::register_roots(scanning_root_hook) };
        SCAN_ARMED.store(true, Ordering::SeqCst);
        raw::collect();
        return;
    }
    let (status, stderr) = run_child("safe_code_cannot_make_the_marker_read_arbitrary_memory");
    assert!(
        status.code().is_some(),
        "the child died of a signal ({status:?}) after a safe call; stderr: {stderr}"
    );
}

// ---------------------------------------------------------------------
// Finding (bad input): a type aligned above a page. Up to gccore 3a23977
// `Gc::new` handed out misaligned objects (`alloc_large` ignored `align`:
// UB, and the compiler folded a plain `% align` check to "aligned");
// since 744a706 `mcache::alloc` refuses them with null, and `Gc::new` turns
// that into std's "memory allocation of N bytes failed" abort: no goheap,
// no Gc::new, no mention of the alignment. Either the object is aligned, or
// the failure must say why.

#[derive(Trace)]
#[repr(align(65536))]
struct OverAligned {
    b: u8,
}

#[test]
fn gc_new_honours_any_alignment() {
    if !in_child() {
        // In a fresh heap: where spans land depends on the heap's history.
        let (status, stderr) = run_child("gc_new_honours_any_alignment");
        assert!(
            status.success() || goheap_says(&stderr, &["Gc::new", "align"]),
            "{status:?}: {stderr}"
        );
        return;
    }
    fn shift<const N: usize>(mu: &goheap::gc::Mutation<'_>) {
        let _ = Gc::new(mu, [0u8; N]);
    }
    mutate(|mu| {
        let mut misaligned = Vec::new();
        // Large objects of 5, 6 and 7 pages in between, so that the spans
        // do not all start at multiples of 64 KiB by luck.
        for i in 0..24u8 {
            match i % 3 {
                0 => shift::<40_000>(mu),
                1 => shift::<48_000>(mu),
                _ => shift::<56_000>(mu),
            }
            let g = Gc::new(mu, OverAligned { b: i });
            assert_eq!(g.b, i);
            // black_box: the compiler assumes a `&OverAligned` is aligned
            // and folds a plain check to "aligned" (the UB at work).
            let addr = std::hint::black_box(g.as_ptr() as usize);
            if addr % 65536 != 0 {
                misaligned.push(addr);
            }
        }
        assert!(
            misaligned.is_empty(),
            "misaligned objects: {misaligned:#x?}"
        );
    });
}

// ---------------------------------------------------------------------
// Finding: a root hook that panics (safe code) unwinds out of `run_cycle`
// with the world held (`RUNNING` set): every later `mutate` waits forever.

static PANIC_ARMED: AtomicBool = AtomicBool::new(false);

fn panicking_root_hook(_: &mut Marker) {
    if PANIC_ARMED.swap(false, Ordering::SeqCst) {
        panic!("review: a root hook panics");
    }
}

#[test]
fn a_panic_inside_the_cycle_does_not_wedge_the_heap() {
    if in_child() {
        // SAFETY: none: the hook panics on purpose (a `Trace` impl, safe
        // code, can do the same); the heap must not wedge silently.
        unsafe { raw::register_roots(panicking_root_hook) };
        PANIC_ARMED.store(true, Ordering::SeqCst);
        let _ = std::panic::catch_unwind(raw::collect);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            mutate(|mu| {
                let _ = Gc::new(mu, 1u8);
            });
            tx.send(()).unwrap();
        });
        let entered = rx.recv_timeout(Duration::from_secs(3)).is_ok();
        std::process::exit(if entered { 0 } else { 3 });
    }
    let (status, stderr) = run_child("a_panic_inside_the_cycle_does_not_wedge_the_heap");
    assert_ne!(status.code(), Some(3), "mutate() hung after the panic");
    assert!(
        status.success() || goheap_says(&stderr, &[]),
        "{status:?}: {stderr}"
    );
}

// ---------------------------------------------------------------------
// Finding (bad input): `Gc::new` beyond the heap limit ends in std's
// `handle_alloc_error` ("memory allocation of N bytes failed"), which does
// not name goheap, and it does not collect and retry first as `raw::alloc`
// does.

#[test]
fn gc_new_out_of_memory_names_goheap() {
    if in_child() {
        raw::set_max_heap_size(256 << 10);
        mutate(|mu| {
            let _ = Gc::new(mu, [1u64; 64 << 10]);
        });
        return;
    }
    let (status, stderr) = run_child("gc_new_out_of_memory_names_goheap");
    assert!(!status.success());
    assert!(goheap_says(&stderr, &["Gc::new"]), "{status:?}: {stderr}");
}

// ---------------------------------------------------------------------
// Attacks that held.

#[derive(Trace)]
struct Zst;

#[test]
fn zero_sized_objects_are_distinct_usable_and_collected() {
    let _s = serial();
    let kept: Root<Rootable!['gc => Zst]> = mutate(|mu| {
        for _ in 0..10_000 {
            let _ = Gc::new(mu, ());
        }
        Root::new(mu, Gc::new(mu, Zst))
    });
    raw::collect();
    mutate(|mu| {
        let z = kept.get(mu);
        let _: &Zst = &z;
        let a = Gc::new(mu, Zst);
        assert!(!Gc::ptr_eq(a, z), "a new object is not the rooted one");
    });
}

#[test]
fn page_aligned_objects_are_aligned() {
    #[derive(Trace)]
    #[repr(align(4096))]
    struct PageAligned {
        b: u8,
    }
    let _s = serial();
    mutate(|mu| {
        for i in 0..32 {
            let g = Gc::new(mu, PageAligned { b: i });
            assert_eq!(g.as_ptr() as usize % 4096, 0);
            assert_eq!(g.b, i);
        }
    });
}

static PANICKING_CLEANUPS: AtomicUsize = AtomicUsize::new(0);
static LATER_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_panicking_cleanup_does_not_stop_the_finalizer_thread() {
    let _s = serial();
    mutate(|mu| {
        let g = Gc::new(mu, 1u64);
        g.add_cleanup(mu, (), |()| {
            PANICKING_CLEANUPS.fetch_add(1, Ordering::SeqCst);
            panic!("review: cleanup panics");
        });
    });
    raw::collect();
    raw::wait_for_finalizers();
    mutate(|mu| {
        let g = Gc::new(mu, String::from("dropped later"));
        g.add_cleanup(mu, (), |()| {
            LATER_CLEANUPS.fetch_add(1, Ordering::SeqCst);
        });
    });
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(PANICKING_CLEANUPS.load(Ordering::SeqCst), 1);
    assert_eq!(LATER_CLEANUPS.load(Ordering::SeqCst), 1);
}

static SELF_ROOT_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn a_cleanup_holding_a_root_to_its_object_never_runs() {
    let _s = serial();
    mutate(|mu| {
        let g = Gc::new(mu, 5u32);
        let r: Root<Rootable!['gc => u32]> = Root::new(mu, g);
        g.add_cleanup(mu, r, |_r| {
            SELF_ROOT_CLEANUPS.fetch_add(1, Ordering::SeqCst);
        });
    });
    raw::collect();
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(SELF_ROOT_CLEANUPS.load(Ordering::SeqCst), 0);
}

static NESTED_CLEANUP_DONE: AtomicBool = AtomicBool::new(false);

#[test]
fn a_cleanup_may_open_a_scope_and_collect() {
    let _s = serial();
    mutate(|mu| {
        Gc::new(mu, 3u16).add_cleanup(mu, (), |()| {
            mutate(|mu| {
                let _ = Gc::new(mu, 4u16);
            });
            raw::collect();
            NESTED_CLEANUP_DONE.store(true, Ordering::SeqCst);
        });
    });
    raw::collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !NESTED_CLEANUP_DONE.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(NESTED_CLEANUP_DONE.load(Ordering::SeqCst));
}

#[test]
fn a_scoped_thread_may_use_handles_while_another_thread_collects() {
    let _s = serial();
    mutate(|mu| {
        let v = Gc::new(mu, vec![1u64; 64]);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Not in a scope of its own: the enclosing scope keeps the
                // world from stopping, so collect only requests (and gives
                // up after its patience).
                raw::collect();
                assert_eq!(v.iter().sum::<u64>(), 64);
            });
        });
        assert_eq!(v.len(), 64);
    });
}

// ---------------------------------------------------------------------
// Finding: `GcCell` is `Sync` with an atomic flag, but a failed `borrow`
// first adds 1 and only then undoes it: while a writer holds -1, the
// failed reader's +1 makes the flag 0 for a moment, and another thread's
// `borrow` (0 -> 1) or `borrow_mut` (CAS 0 -> -1) succeeds next to the
// writer: aliasing `&mut`, a data race from safe code.

static WRITERS: AtomicUsize = AtomicUsize::new(0);
static OVERLAPS: AtomicUsize = AtomicUsize::new(0);

fn quietly<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

#[test]
fn gc_cell_borrows_never_overlap_across_threads() {
    use goheap::gc::GcCell;
    let _s = serial();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    mutate(|mu| {
        let cell = Gc::new(mu, GcCell::new(0u64));
        let deadline = Instant::now() + Duration::from_secs(5);
        std::thread::scope(|s| {
            // Writers hold borrow_mut for a while; readers hammer borrow:
            // a failed reader's +1 opens the window for the next one.
            for _ in 0..2 {
                s.spawn(move || {
                    while Instant::now() < deadline && OVERLAPS.load(Ordering::Relaxed) == 0 {
                        quietly(|| {
                            let mut w = cell.borrow_mut(mu);
                            if WRITERS.fetch_add(1, Ordering::SeqCst) != 0 {
                                OVERLAPS.fetch_add(1, Ordering::SeqCst);
                            }
                            for _ in 0..200 {
                                std::hint::spin_loop();
                            }
                            *w += 1;
                            WRITERS.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
            }
            for _ in 0..3 {
                s.spawn(move || {
                    while Instant::now() < deadline && OVERLAPS.load(Ordering::Relaxed) == 0 {
                        quietly(|| {
                            let r = cell.borrow();
                            if WRITERS.load(Ordering::SeqCst) != 0 {
                                OVERLAPS.fetch_add(1, Ordering::SeqCst);
                            }
                            let _ = *r;
                        });
                    }
                });
            }
        });
    });
    std::panic::set_hook(hook);
    assert_eq!(
        OVERLAPS.load(Ordering::SeqCst),
        0,
        "a GcCell was borrowed next to a live borrow_mut"
    );
}

// ---------------------------------------------------------------------
// Finding (liveness): a cleanup that calls the safe
// `raw::wait_for_finalizers` waits for itself (`running` stays true): the
// finalizer thread hangs, and no later Drop or cleanup ever runs.

static WAITING_CLEANUP_DONE: AtomicBool = AtomicBool::new(false);

#[test]
fn a_cleanup_may_wait_for_finalizers() {
    if in_child() {
        mutate(|mu| {
            Gc::new(mu, 9u8).add_cleanup(mu, (), |()| {
                raw::wait_for_finalizers();
                WAITING_CLEANUP_DONE.store(true, Ordering::SeqCst);
            });
        });
        raw::collect();
        let deadline = Instant::now() + Duration::from_secs(3);
        while !WAITING_CLEANUP_DONE.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::process::exit(if WAITING_CLEANUP_DONE.load(Ordering::SeqCst) {
            0
        } else {
            3
        });
    }
    let (status, stderr) = run_child("a_cleanup_may_wait_for_finalizers");
    assert!(
        status.success(),
        "the finalizer thread hung ({status:?}): {stderr}"
    );
}

#[test]
fn raw_queries_accept_any_address() {
    let _s = serial();
    let stack_word = 0u64;
    let heap = Box::new(0u64);
    let addrs = [
        0usize,
        1,
        4096,
        &stack_word as *const u64 as usize,
        &*heap as *const u64 as usize,
        usize::MAX,
        usize::MAX - 4095,
        1 << 47,
        (1 << 47) - 1,
    ];
    for a in addrs {
        let p = a as *const u8;
        assert!(raw::base(p).is_null(), "{a:#x}");
        assert_eq!(raw::size(p), 0, "{a:#x}");
        assert!(!raw::is_marked(p), "{a:#x}");
    }
    mutate(|mu| {
        let g = Gc::new(mu, [5u64; 3]);
        let inner = (g.as_ptr() as usize + 9) as *const u8;
        assert_eq!(raw::base(inner) as usize, g.as_ptr() as usize);
        assert!(raw::size(g.as_ptr().cast()) >= 24);
    });
}

#[test]
fn cycles_run_on_goroutine_stacks_when_scopes_stay_on_their_thread() {
    // Here, not in review_sched.rs: a scope that migrates there wedges the
    // collector for its whole process (that file's finding).
    let _s = serial();
    let before = raw::gc_no();
    let wg = std::sync::Arc::new(goheap::sched::WaitGroup::new());
    wg.add(8);
    for _ in 0..8 {
        let wg = wg.clone();
        common::go(move || {
            goheap::lock_os_thread();
            for round in 0..40u64 {
                mutate(|mu| {
                    let keep: Vec<_> = (0..2000).map(|i| Gc::new(mu, [round + i; 8])).collect();
                    goheap::yield_now();
                    for (i, g) in keep.iter().enumerate() {
                        assert_eq!(**g, [round + i as u64; 8]);
                    }
                });
            }
            goheap::unlock_os_thread();
            wg.done();
        });
    }
    wg.wait();
    assert!(raw::gc_no() > before, "the pacer's cycles ran");
}

#[test]
fn scoped_threads_may_allocate_and_root_with_the_scopes_mutation() {
    let _s = serial();
    type VecRoot = Root<Rootable!['gc => Vec<u64>]>;
    let roots: Vec<VecRoot> = mutate(|mu| {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u64)
                .map(|t| s.spawn(move || Root::new(mu, Gc::new(mu, vec![t; 100]))))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        })
    });
    raw::collect();
    mutate(|mu| {
        for _ in 0..10_000 {
            let _ = Gc::new(mu, vec![99u64; 100]);
        }
    });
    raw::collect();
    mutate(|mu| {
        for (t, r) in roots.iter().enumerate() {
            assert_eq!(*r.get(mu), vec![t as u64; 100]);
        }
    });
}
