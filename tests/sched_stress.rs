//! Stress: many goroutines mixing every scheduler path at once (spawn,
//! yield, sleep, Mutex, WaitGroup chains, blocking, plain threads spawning
//! and waiting), with totals checked at the end.

mod common;

use goheap::sched::{Mutex, WaitGroup};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// xorshift, seeded per goroutine.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn mixed_workload_keeps_every_count() {
    const WORKERS: usize = 4_000;
    const STEPS: usize = 60;
    let counter = Arc::new(Mutex::new(0u64));
    let spawned = Arc::new(AtomicUsize::new(0));
    let children_done = Arc::new(AtomicUsize::new(0));
    let wg = Arc::new(WaitGroup::new());
    wg.add(WORKERS as i64);
    for w in 0..WORKERS {
        let (counter, spawned, children_done, wg) = (
            counter.clone(),
            spawned.clone(),
            children_done.clone(),
            wg.clone(),
        );
        common::go(move || {
            let mut rng = w as u64 * 0x9e37_79b9_7f4a_7c15 + 1;
            let kids = Arc::new(WaitGroup::new());
            for _ in 0..STEPS {
                match next(&mut rng) % 6 {
                    0 => goheap::yield_now(),
                    1 => goheap::sleep(Duration::from_micros(next(&mut rng) % 200)),
                    2 => {
                        kids.add(1);
                        spawned.fetch_add(1, Ordering::Relaxed);
                        let (kids, children_done) = (kids.clone(), children_done.clone());
                        common::go(move || {
                            goheap::yield_now();
                            children_done.fetch_add(1, Ordering::Relaxed);
                            kids.done();
                        });
                    }
                    3 if next(&mut rng) % 20 == 0 => {
                        goheap::blocking(|| std::thread::sleep(Duration::from_micros(100)))
                    }
                    _ => *counter.lock() += 1,
                }
            }
            kids.wait();
            wg.done();
        });
    }
    wg.wait();
    // Recompute what each worker did with the same random sequence.
    let (mut increments, mut kids) = (0u64, 0usize);
    for w in 0..WORKERS {
        let mut rng = w as u64 * 0x9e37_79b9_7f4a_7c15 + 1;
        for _ in 0..STEPS {
            match next(&mut rng) % 6 {
                0 => {}
                1 => {
                    next(&mut rng);
                }
                2 => kids += 1,
                3 if next(&mut rng) % 20 == 0 => {}
                _ => increments += 1,
            }
        }
    }
    assert_eq!(*counter.lock(), increments);
    assert_eq!(spawned.load(Ordering::Relaxed), kids);
    assert_eq!(children_done.load(Ordering::Relaxed), kids);
}

/// A relay of goroutines, each waiting for the previous one's signal:
/// thousands of park/wake hand-offs in a strict order.
#[test]
fn a_relay_of_parked_goroutines_hands_over_in_order() {
    const N: usize = 5_000;
    let signals: Arc<Vec<WaitGroup>> = Arc::new((0..=N).map(|_| WaitGroup::new()).collect());
    for s in signals.iter() {
        s.add(1);
    }
    let order = Arc::new(Mutex::new(Vec::with_capacity(N)));
    // Spawned last-first so that most of them park before their turn.
    for i in (0..N).rev() {
        let (signals, order) = (signals.clone(), order.clone());
        common::go(move || {
            signals[i].wait();
            order.lock().push(i);
            signals[i + 1].done();
        });
    }
    signals[0].done();
    signals[N].wait();
    assert_eq!(*order.lock(), (0..N).collect::<Vec<_>>());
}

/// Plain threads and goroutines spawn and wait on each other at once.
#[test]
fn threads_and_goroutines_spawn_and_wait_together() {
    const THREADS: usize = 4;
    const PER: usize = 5_000;
    let sum = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let sum = sum.clone();
            std::thread::spawn(move || {
                let wg = Arc::new(WaitGroup::new());
                wg.add(PER as i64);
                for i in 0..PER {
                    let (sum, wg) = (sum.clone(), wg.clone());
                    common::go(move || {
                        if i % 7 == 0 {
                            goheap::yield_now();
                        }
                        sum.fetch_add((t * PER + i) as u64, Ordering::Relaxed);
                        wg.done();
                    });
                }
                wg.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = (THREADS * PER) as u64;
    assert_eq!(sum.load(Ordering::Relaxed), n * (n - 1) / 2);
}

/// Stealing under load: one goroutine spawns everything onto its own P;
/// the work spreads to every P (seen as more than one thread running it).
#[test]
fn work_spreads_to_other_threads_by_stealing() {
    if goheap::sched::gomaxprocs() < 2 {
        return;
    }
    const N: usize = 20_000;
    let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let wg = Arc::new(WaitGroup::new());
    wg.add(N as i64);
    let (t2, w2) = (threads.clone(), wg.clone());
    common::go(move || {
        for _ in 0..N {
            let (threads, wg) = (t2.clone(), w2.clone());
            common::go(move || {
                let spin = std::time::Instant::now();
                while spin.elapsed() < Duration::from_micros(20) {}
                // SAFETY: gettid has no preconditions.
                threads.lock().insert(unsafe { libc::gettid() });
                wg.done();
            });
        }
    });
    wg.wait();
    assert!(
        threads.lock().len() >= 2,
        "all goroutines ran on one thread"
    );
}
