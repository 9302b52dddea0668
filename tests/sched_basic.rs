//! Scheduler invariants: every goroutine runs exactly once, none runs twice
//! at once, goroutine-aware primitives work from goroutines and threads.

mod common;

use goheap::sched::{Mutex, Once, WaitGroup};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn every_goroutine_runs_exactly_once() {
    const N: usize = 20_000;
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    for i in 0..N {
        let (runs, wg) = (runs.clone(), wg.clone());
        common::go(move || {
            runs[i].fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
}

#[test]
fn goroutines_spawn_goroutines_that_yield() {
    const PARENTS: usize = 100;
    const CHILDREN: usize = 100;
    const YIELDS: usize = 10;
    let sum = Arc::new(AtomicUsize::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add((PARENTS * CHILDREN) as i64);
    for _ in 0..PARENTS {
        let (sum, wg) = (sum.clone(), wg.clone());
        common::go(move || {
            for _ in 0..CHILDREN {
                let (sum, wg) = (sum.clone(), wg.clone());
                common::go(move || {
                    for _ in 0..YIELDS {
                        sum.fetch_add(1, Ordering::Relaxed);
                        goheap::yield_now();
                    }
                    wg.done();
                });
            }
        });
    }
    wg.wait();
    assert_eq!(sum.load(Ordering::Relaxed), PARENTS * CHILDREN * YIELDS);
}

/// Each goroutine marks itself running in a shared slot and checks it was
/// not already: a goroutine resumed on two Ms at once would trip it.
#[test]
fn no_goroutine_runs_twice_at_once() {
    const N: usize = 64;
    const ROUNDS: usize = 2_000;
    let running: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    for i in 0..N {
        let (running, wg) = (running.clone(), wg.clone());
        common::go(move || {
            for _ in 0..ROUNDS {
                assert_eq!(
                    running[i].swap(1, Ordering::SeqCst),
                    0,
                    "goroutine {i} runs twice"
                );
                std::hint::black_box(0u64);
                running[i].store(0, Ordering::SeqCst);
                goheap::yield_now();
            }
            wg.done();
        });
    }
    wg.wait();
}

#[test]
fn mutex_serialises_goroutines_and_threads() {
    const G: usize = 200;
    const PER: usize = 500;
    let m = Arc::new(Mutex::new(0usize));
    let wg = Arc::new(WaitGroup::new());
    wg.add(G as i64);
    for _ in 0..G {
        let (m, wg) = (m.clone(), wg.clone());
        common::go(move || {
            for i in 0..PER {
                let mut v = m.lock();
                let seen = *v;
                if i % 50 == 0 {
                    goheap::yield_now(); // park others on the lock meanwhile
                }
                *v = seen + 1;
            }
            wg.done();
        });
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..PER {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wg.wait();
    assert_eq!(*m.lock(), G * PER + 2 * PER);
}

#[test]
fn once_runs_once_for_all_goroutines() {
    let once = Arc::new(Once::new());
    let count = Arc::new(AtomicUsize::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(100);
    for _ in 0..100 {
        let (once, count, wg) = (once.clone(), count.clone(), wg.clone());
        common::go(move || {
            once.call_once(|| {
                goheap::sleep(Duration::from_millis(5));
                count.fetch_add(1, Ordering::SeqCst);
            });
            assert_eq!(count.load(Ordering::SeqCst), 1);
            wg.done();
        });
    }
    wg.wait();
    assert!(once.is_completed());
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn sleeps_wake_in_deadline_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let wg = Arc::new(WaitGroup::new());
    let delays = [50u64, 10, 40, 20, 30, 0];
    wg.add(delays.len() as i64);
    let start = Instant::now();
    for &d in &delays {
        let (order, wg) = (order.clone(), wg.clone());
        common::go(move || {
            goheap::sleep(Duration::from_millis(d * 2));
            order.lock().push(d);
            wg.done();
        });
    }
    wg.wait();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(*order.lock(), vec![0, 10, 20, 30, 40, 50]);
}

#[test]
fn many_sleepers_all_wake_after_their_time() {
    const N: usize = 2_000;
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    let late = Arc::new(AtomicUsize::new(0));
    for i in 0..N {
        let (wg, late) = (wg.clone(), late.clone());
        common::go(move || {
            let d = Duration::from_micros((i % 50) as u64 * 100);
            let t = Instant::now();
            goheap::sleep(d);
            if t.elapsed() < d {
                late.fetch_add(1, Ordering::Relaxed);
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(late.load(Ordering::Relaxed), 0, "a sleep returned early");
}
