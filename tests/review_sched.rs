//! Adversarial review of goroutines (branch sched) and of goroutines using
//! the GC API (gccore): state tied to an OS thread must not follow a
//! goroutine that resumes on another thread. Both findings of the review
//! are fixed: `goheap::go` is `unsafe` (its contract covers thread-locals),
//! and a goroutine stays on its thread while inside a `mutate` scope.

mod common;

use goheap::gc::{mutate, raw, Gc};
use goheap::sched::WaitGroup;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    static HOME: Cell<usize> = const { Cell::new(0) };
}

/// The OS thread we run on, from the kernel: a thread-local's address
/// cannot tell, since LLVM takes it to be constant within a function (and
/// a function without side effects may be merged across a switch).
fn this_thread() -> usize {
    // SAFETY: gettid has no preconditions (only the probe is unsafe; the
    // attacks below are safe code).
    unsafe { libc::gettid() as usize }
}

/// Runs `n` goroutines of `body` (each gets whether it should keep
/// looking) next to busy goroutines that make Ms steal, and waits for all.
fn run_with_stealing(n: usize, body: fn(&dyn Fn() -> bool)) {
    let wg = Arc::new(WaitGroup::new());
    let stop = Arc::new(AtomicUsize::new(0));
    wg.add(n as i64);
    for _ in 0..n {
        let wg = wg.clone();
        common::go(move || {
            let deadline = Instant::now() + Duration::from_secs(2);
            body(&|| Instant::now() < deadline);
            wg.done();
        });
    }
    for _ in 0..4 {
        let stop = stop.clone();
        common::go(move || {
            while stop.load(Ordering::Relaxed) == 0 {
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(300) {}
                goheap::yield_now();
            }
        });
    }
    wg.wait();
    stop.store(1, Ordering::Relaxed);
}

/// Parks on a timer, yields, and blocks its thread (handing its P away):
/// each gives the scheduler a chance to resume it elsewhere.
fn switch_a_lot() {
    goheap::sleep(Duration::from_micros(100));
    goheap::yield_now();
    goheap::blocking(|| std::thread::sleep(Duration::from_micros(300)));
}

static USED_ELSEWHERE: AtomicUsize = AtomicUsize::new(0);

fn hold_a_thread_local_across_switches(keep_looking: &dyn Fn() -> bool) {
    HOME.with(|home| {
        let owner = this_thread();
        while keep_looking() {
            switch_a_lot();
            if this_thread() != owner {
                // `home` is thread `owner`'s `Cell` (not `Sync`), now
                // written from another thread while `owner` runs other
                // goroutines that use it: a data race in safe code.
                home.set(home.get() + 1);
                USED_ELSEWHERE.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    });
}

/// `goheap::go` is `unsafe` because of exactly this pattern (its contract:
/// no thread-local reference across a switch unless the goroutine is
/// locked to its thread; `review_compile_fail/go_is_unsafe.rs` pins that
/// safe code cannot spawn). With `lock_os_thread` the pattern is correct:
/// the goroutine never leaves its thread.
#[test]
fn a_locked_goroutine_keeps_its_thread_local() {
    run_with_stealing(32, |keep_looking| {
        goheap::lock_os_thread();
        hold_a_thread_local_across_switches(keep_looking);
        goheap::unlock_os_thread();
    });
    assert_eq!(
        USED_ELSEWHERE.load(Ordering::SeqCst),
        0,
        "a goroutine locked to its thread used another thread's thread-local \
         through a reference taken before a switch"
    );
}

static MIGRATED_SCOPES: AtomicUsize = AtomicUsize::new(0);

/// Held by the tests that keep scopes open for long: a scope open in one
/// test delays a collection that another one waits for (by design: a
/// goroutine parked inside a scope holds the world like a thread).
static LONG_SCOPES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn park_inside_a_scope(keep_looking: &dyn Fn() -> bool) {
    mutate(|mu| {
        let g = Gc::new(mu, [3u64; 4]);
        let entered_on = this_thread();
        while keep_looking() {
            switch_a_lot();
            if this_thread() != entered_on {
                MIGRATED_SCOPES.fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
        assert_eq!(*g, [3; 4]);
    });
}

#[test]
fn collection_still_runs_after_scopes_moved_between_threads() {
    let _alone = LONG_SCOPES.lock().unwrap_or_else(|e| e.into_inner());
    run_with_stealing(32, park_inside_a_scope);
    eprintln!(
        "{} of 32 scopes resumed on another thread",
        MIGRATED_SCOPES.load(Ordering::SeqCst)
    );
    let before = raw::gc_no();
    raw::collect();
    assert!(
        raw::gc_no() > before,
        "no cycle ran: the world still counts a scope that closed on another thread"
    );
    let t = Instant::now();
    mutate(|_| {});
    assert!(
        t.elapsed() < Duration::from_millis(15),
        "every new scope now waits out the pending collection ({:?})",
        t.elapsed()
    );
}

#[test]
fn a_goroutine_mutex_guard_may_be_released_on_another_thread() {
    let m = Arc::new(goheap::sched::Mutex::new(0u64));
    let wg = Arc::new(WaitGroup::new());
    wg.add(16);
    for _ in 0..16 {
        let (m, wg) = (m.clone(), wg.clone());
        common::go(move || {
            for _ in 0..50 {
                let mut g = m.lock();
                let v = *g;
                goheap::sleep(Duration::from_micros(50));
                *g = v + 1;
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(*m.lock(), 800);
}

static DUPLICATES: AtomicUsize = AtomicUsize::new(0);
static ALLOC_MIGRATIONS: AtomicUsize = AtomicUsize::new(0);

fn allocate_across_switches(keep_looking: &dyn Fn() -> bool) {
    mutate(|mu| {
        let mut mine = Vec::new();
        let mut n = 0u64;
        let start = this_thread();
        while keep_looking() && n < 400 {
            for _ in 0..16 {
                mine.push(Gc::new(mu, [n; 2]));
                n += 1;
            }
            switch_a_lot();
        }
        if this_thread() != start {
            ALLOC_MIGRATIONS.fetch_add(1, Ordering::SeqCst);
        }
        let bad = mine
            .iter()
            .enumerate()
            .filter(|(i, g)| ***g != [*i as u64; 2])
            .count();
        DUPLICATES.fetch_add(bad, Ordering::SeqCst);
    });
}

#[test]
fn objects_allocated_across_switches_stay_distinct() {
    let _alone = LONG_SCOPES.lock().unwrap_or_else(|e| e.into_inner());
    run_with_stealing(16, allocate_across_switches);
    eprintln!(
        "{} scopes ended on another thread",
        ALLOC_MIGRATIONS.load(Ordering::SeqCst)
    );
    assert_eq!(DUPLICATES.load(Ordering::SeqCst), 0, "objects overwritten");
}

#[test]
fn runtime_calls_inside_blocking_behave_as_on_a_plain_thread() {
    let (done_tx, done_rx) = goheap::chan::<u32>(0);
    common::go(move || {
        let got = goheap::blocking(|| {
            goheap::yield_now();
            goheap::sleep(Duration::from_millis(1));
            let inner = goheap::blocking(|| 5u32);
            let (tx, rx) = goheap::chan::<u32>(0);
            common::go(move || tx.send(inner + 1).unwrap());
            rx.recv().unwrap()
        });
        goheap::yield_now();
        done_tx.send(got).unwrap();
    });
    assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok(6));
}
