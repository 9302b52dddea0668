//! The lazy sweep against allocating threads: after a concurrent cycle the
//! spans are swept by the background sweeper, by caches that need a span
//! of their size, and by the next cycle's start, while mutators run. Every
//! object that needs `Drop` is dropped exactly once and only once nothing
//! reaches it, reachable objects stay intact whichever of the three swept
//! their span, and the pages of dead spans go back to the heap.

mod common;

use goheap::gc::{mutate, raw, Gc, GcCell, Root};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 3;
const PER_THREAD: usize = 400_000;

/// One flag per object ever made: set by its drop, which must find it clear.
static DROPPED: [AtomicBool; THREADS * PER_THREAD] =
    [const { AtomicBool::new(false) }; THREADS * PER_THREAD];
static DROPS: AtomicUsize = AtomicUsize::new(0);

/// An object whose drop checks its contents and that it runs only once.
struct Counted {
    id: usize,
    check: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        assert_eq!(self.check, !self.id, "a dropped object was corrupted");
        let twice = DROPPED[self.id].swap(true, Ordering::Relaxed);
        assert!(!twice, "object {} dropped twice", self.id);
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: holds no GC pointer.
unsafe impl Trace for Counted {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut goheap::gc::Marker) {}
}

#[derive(Trace)]
struct Keep<'gc> {
    items: GcCell<Vec<Gc<'gc, Counted>>>,
}

type RootedKeep = Root<Rootable!['gc => Keep<'gc>]>;

/// Allocates `PER_THREAD` counted objects in small scopes, keeping every
/// 16th in a rooted list for a while (so that spans hold live and dead
/// objects together) and checking the kept ones after every cycle.
fn churn(t: usize) {
    let keep: RootedKeep = mutate(|mu| {
        Root::new(
            mu,
            Gc::new(
                mu,
                Keep {
                    items: GcCell::new(Vec::new()),
                },
            ),
        )
    });
    let mut seen_gc = raw::gc_no();
    for chunk in 0..PER_THREAD / 1000 {
        mutate(|mu| {
            let k = keep.get(mu);
            for i in 0..1000 {
                let id = t * PER_THREAD + chunk * 1000 + i;
                let c = Gc::new(mu, Counted { id, check: !id });
                if i % 16 == 0 {
                    k.items.borrow_mut(mu).push(c);
                }
            }
            if chunk % 50 == 49 {
                k.items.borrow_mut(mu).clear();
            }
        });
        if raw::gc_no() != seen_gc {
            seen_gc = raw::gc_no();
            mutate(|mu| {
                for c in keep.get(mu).items.borrow().iter() {
                    assert_eq!(c.check, !c.id, "a kept object was freed and reused");
                    assert!(
                        !DROPPED[c.id].load(Ordering::Relaxed),
                        "a kept object was dropped"
                    );
                }
            });
        }
    }
}

#[test]
fn every_dead_object_is_dropped_once_while_the_sweep_races_allocation() {
    let start = raw::gc_no();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS).map(|t| s.spawn(move || churn(t))).collect();
        // Now and then a stop-the-world cycle, which has to finish the
        // lazy sweep of a concurrent one first.
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(150));
                raw::collect();
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(
        raw::gc_no() - start >= 4,
        "allocation should have driven several cycles"
    );
    // Everything is garbage now: a few cycles and the finalizer runner
    // drop all of it (each object takes two cycles: queued, then freed).
    let total = THREADS * PER_THREAD;
    let deadline = Instant::now() + Duration::from_secs(60);
    while DROPS.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        raw::collect();
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        DROPS.load(Ordering::Relaxed),
        total,
        "objects never dropped"
    );
}

#[derive(Trace)]
struct Junk {
    _words: [u64; 14],
}

/// Concurrent cycles leave their sweep to the background: garbage made in
/// many short scopes must still go back, so that the heap stays near the
/// pacer's goal instead of growing with everything ever allocated.
#[test]
fn dead_spans_go_back_to_the_heap_after_concurrent_cycles() {
    let start = raw::gc_no();
    let mut largest = 0;
    // 1 GiB of 128-byte garbage, in 64 KiB scopes.
    for _ in 0..(1 << 30) / (1 << 16) {
        mutate(|mu| {
            for _ in 0..(1 << 16) / 128 {
                Gc::new(mu, Junk { _words: [3; 14] });
            }
        });
        largest = largest.max(raw::heap_size());
    }
    assert!(raw::gc_no() - start >= 10, "no cycles ran");
    assert!(
        largest < 256 << 20,
        "the heap grew to {} MiB for a live set near zero",
        largest >> 20
    );
}

#[derive(Trace)]
struct Item<'gc> {
    id: u64,
    payload: [u64; 2],
    next: Option<Gc<'gc, Item<'gc>>>,
}

#[derive(Trace)]
struct Table<'gc> {
    slots: Vec<GcCell<Option<Gc<'gc, Item<'gc>>>>>,
}

type RootedTable = Root<Rootable!['gc => Table<'gc>]>;

const SLOTS: usize = 40_000;
const CHAIN: u64 = 3;

fn payload(id: u64) -> [u64; 2] {
    [id.wrapping_mul(0x9e37_79b9_7f4a_7c15), !id]
}

/// Checks the chain from a slot: ids count down to the chain's end.
fn check_chain<'gc>(mut item: Option<Gc<'gc, Item<'gc>>>) {
    let mut expect = None;
    while let Some(i) = item {
        assert_eq!(i.payload, payload(i.id), "item {} freed and reused", i.id);
        if let Some(e) = expect {
            assert_eq!(i.id, e, "a chain names the wrong item");
        }
        expect = Some(i.id.wrapping_sub(1));
        item = i.next;
    }
}

/// Keeps replacing the chains of its own table (so spans hold live and dead
/// items side by side) and checks the whole table after each cycle.
fn replace_chains(t: u64, until: Instant) -> usize {
    let table: RootedTable = mutate(|mu| {
        let slots = (0..SLOTS).map(|_| GcCell::new(None)).collect();
        Root::new(mu, Gc::new(mu, Table { slots }))
    });
    let mut next_id = t << 40;
    let mut rng = t.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    let (mut seen_gc, mut walks) = (raw::gc_no(), 0);
    while Instant::now() < until {
        mutate(|mu| {
            let slots = &table.get(mu).slots;
            for _ in 0..2000 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let slot = &slots[(rng % SLOTS as u64) as usize];
                check_chain(*slot.borrow());
                let mut chain = None;
                for _ in 0..CHAIN {
                    next_id += 1;
                    let id = next_id;
                    chain = Some(Gc::new(
                        mu,
                        Item {
                            id,
                            payload: payload(id),
                            next: chain,
                        },
                    ));
                }
                *slot.borrow_mut(mu) = chain;
            }
        });
        if raw::gc_no() != seen_gc {
            seen_gc = raw::gc_no();
            walks += 1;
            mutate(|mu| {
                table
                    .get(mu)
                    .slots
                    .iter()
                    .for_each(|s| check_chain(*s.borrow()))
            });
        }
    }
    walks
}

/// Child (`GOHEAP_GOGC=5`): cycles follow each other closely, so that a
/// cycle often starts before the background sweeper is done with the last
/// one: the start must finish the sweep, or the stale mark bits of unswept
/// spans hide live items from the new mark.
#[test]
#[ignore = "child helper of cycles_that_start_before_the_sweep_ends_keep_live_objects"]
fn child_helper() {
    let until = Instant::now() + Duration::from_secs(3);
    let walks: usize = thread::scope(|s| {
        let h: Vec<_> = (1..=2)
            .map(|t| s.spawn(move || replace_chains(t, until)))
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!("walks {walks}");
}

#[test]
fn cycles_that_start_before_the_sweep_ends_keep_live_objects() {
    let out = common::run_child_helper(&[("GOHEAP_GOGC", "5")]);
    let walks = common::figure(&String::from_utf8_lossy(&out.stdout), "walks");
    assert!(walks >= 10, "only {walks} cycles checked");
}
