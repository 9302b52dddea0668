//! `goheap::sync::Pool` (Go's sync.Pool): values come back while the pool
//! is used, survive one collection (the victim cache) and are gone after
//! two, dropped; pools never mix their values; concurrent gets and puts
//! from goroutines and threads never hand one value to two holders.

mod common;

use goheap::gc::raw;
use goheap::sched::WaitGroup;
use goheap::sync::Pool;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The tests count cycles: they run one at a time, and only they collect.
static ALONE: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Collects once and checks that exactly one cycle ran.
fn one_cycle() {
    let before = raw::gc_no();
    raw::collect();
    assert_eq!(raw::gc_no(), before + 1, "collect ran no cycle (or more)");
}

/// A value that counts its drops.
struct Counted {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted_pool(drops: &Arc<AtomicUsize>) -> Pool<Counted> {
    let drops = drops.clone();
    Pool::new(move || Counted {
        id: usize::MAX,
        drops: drops.clone(),
    })
}

fn drain(pool: &Pool<Counted>) -> Vec<usize> {
    std::iter::from_fn(|| pool.try_get())
        .map(|c| {
            let id = c.id;
            std::mem::forget(c);
            id
        })
        .collect()
}

#[test]
fn values_survive_one_cycle_and_are_dropped_after_two() {
    let _alone = alone();
    let drops = Arc::new(AtomicUsize::new(0));
    let pool = counted_pool(&drops);
    for id in 0..100 {
        pool.put(Counted {
            id,
            drops: drops.clone(),
        });
    }
    one_cycle();
    let mut back = drain(&pool);
    back.sort_unstable();
    assert_eq!(
        back,
        (0..100).collect::<Vec<_>>(),
        "the victim cache lost values"
    );
    for id in 0..100 {
        pool.put(Counted {
            id,
            drops: drops.clone(),
        });
    }
    one_cycle();
    one_cycle();
    raw::wait_for_finalizers();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        100,
        "values of an idle pool were not dropped after two cycles"
    );
    assert!(
        pool.try_get().is_none(),
        "a value came back after two cycles"
    );
    assert_eq!(pool.get().id, usize::MAX, "get did not call new");
}

#[test]
fn a_goroutine_never_gets_a_value_put_two_cycles_ago() {
    let _alone = alone();
    let drops = Arc::new(AtomicUsize::new(0));
    let pool = Arc::new(counted_pool(&drops));
    let (put_tx, put_rx) = goheap::chan::<()>(0);
    let (step_tx, step_rx) = goheap::chan::<()>(0);
    let (seen_tx, seen_rx) = goheap::chan::<Vec<usize>>(0);
    {
        let (pool, drops) = (pool.clone(), drops.clone());
        common::go(move || {
            // One value lands in this P's private slot, the rest in its
            // shared list.
            for id in 0..10 {
                pool.put(Counted {
                    id,
                    drops: drops.clone(),
                });
            }
            put_tx.send(()).unwrap();
            step_rx.recv().unwrap();
            seen_tx.send(drain(&pool)).unwrap();
        });
    }
    put_rx.recv().unwrap();
    one_cycle();
    one_cycle();
    step_tx.send(()).unwrap();
    assert_eq!(seen_rx.recv().unwrap(), Vec::<usize>::new());
}

#[test]
fn pools_never_mix_their_values() {
    let _alone = alone();
    let a: Arc<Pool<Vec<u64>>> = Arc::new(Pool::new(|| vec![0xA; 4]));
    let b: Arc<Pool<Vec<u64>>> = Arc::new(Pool::new(|| vec![0xB; 4]));
    let c: Arc<Pool<String>> = Arc::new(Pool::new(|| "c".repeat(32)));
    let wg = Arc::new(WaitGroup::new());
    wg.add(64);
    for i in 0..64u64 {
        let (a, b, c, wg) = (a.clone(), b.clone(), c.clone(), wg.clone());
        common::go(move || {
            for j in 0..500u64 {
                let va = a.get();
                let vb = b.get();
                let vc = c.get();
                assert!(va.iter().all(|&x| x == 0xA), "pool a gave {va:?}");
                assert!(vb.iter().all(|&x| x == 0xB), "pool b gave {vb:?}");
                assert_eq!(vc, "c".repeat(32), "pool c gave {vc:?}");
                if (i + j) % 3 == 0 {
                    goheap::yield_now();
                }
                a.put(va);
                b.put(vb);
                c.put(vc);
            }
            wg.done();
        });
    }
    for _ in 0..5 {
        one_cycle();
    }
    wg.wait();
}

#[test]
fn concurrent_gets_and_puts_hand_each_value_to_one_holder() {
    let _alone = alone();
    const TOKENS: usize = 4_096;
    const GOROUTINES: usize = 256;
    const THREADS: usize = 4;
    let held: Arc<Vec<AtomicBool>> =
        Arc::new((0..TOKENS).map(|_| AtomicBool::new(false)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let pool: Arc<Pool<usize>> = {
        let next = next.clone();
        Arc::new(Pool::new(move || {
            next.fetch_add(1, Ordering::SeqCst) % TOKENS
        }))
    };
    let work = |pool: &Pool<usize>, held: &[AtomicBool], seed: u64| {
        let mut rng = common::Rng::new(seed);
        let mut mine = Vec::new();
        for _ in 0..2_000 {
            if mine.is_empty() || (mine.len() < 8 && rng.chance(1, 2)) {
                let t = pool.get();
                assert!(
                    !held[t].swap(true, Ordering::SeqCst),
                    "token {t} handed to two holders"
                );
                mine.push(t);
            } else {
                let t = mine.swap_remove(rng.below(mine.len() as u64) as usize);
                held[t].store(false, Ordering::SeqCst);
                pool.put(t);
            }
        }
        for t in mine {
            held[t].store(false, Ordering::SeqCst);
            pool.put(t);
        }
    };
    let wg = Arc::new(WaitGroup::new());
    wg.add(GOROUTINES as i64);
    for g in 0..GOROUTINES {
        let (pool, held, wg) = (pool.clone(), held.clone(), wg.clone());
        common::go(move || {
            work(&pool, &held, g as u64);
            wg.done();
        });
    }
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, held) = (pool.clone(), held.clone());
            std::thread::spawn(move || work(&pool, &held, 1_000_000 + t as u64))
        })
        .collect();
    let cycles = std::thread::spawn(|| {
        for _ in 0..10 {
            raw::collect();
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
    });
    wg.wait();
    for t in threads {
        t.join().unwrap();
    }
    cycles.join().unwrap();
    assert!(
        next.load(Ordering::SeqCst) < TOKENS,
        "tokens were recycled by new (the check would be void)"
    );
}
