//! Threads sharing the managed heap: scoped threads of one scope sharing
//! handles and allocating through the scope's `Mutation`, `Root`s moved to
//! other threads, and many threads opening scopes and forcing collections
//! at once (the world protocol under contention).

use goheap::gc::{mutate, raw, Gc, GcAtomic, GcCell, Root};
use goheap::{Rootable, Trace};
use std::sync::Barrier;
use std::thread;

#[derive(Trace)]
struct Item<'gc> {
    id: u64,
    words: Vec<u64>,
    next: GcCell<Option<Gc<'gc, Item<'gc>>>>,
}

fn item<'gc>(mu: &goheap::gc::Mutation<'gc>, id: u64) -> Gc<'gc, Item<'gc>> {
    Gc::new(
        mu,
        Item {
            id,
            words: (0..8).map(|i| id * 100 + i).collect(),
            next: GcCell::new(None),
        },
    )
}

fn check_item(it: &Item<'_>) {
    let want: Vec<u64> = (0..8).map(|i| it.id * 100 + i).collect();
    assert_eq!(it.words, want, "item {} corrupted", it.id);
}

#[test]
fn scoped_threads_share_handles_and_allocate() {
    mutate(|mu| {
        let shared = item(mu, 1);
        let slot: GcAtomic<'_, Item<'_>> = GcAtomic::new(None);
        thread::scope(|s| {
            for t in 0..4u64 {
                let slot = &slot;
                s.spawn(move || {
                    let mut last = None;
                    for i in 0..5_000 {
                        let n = item(mu, t * 1_000_000 + i);
                        *n.next.borrow_mut(mu) = last;
                        last = Some(n);
                    }
                    slot.store(mu, last);
                    check_item(&shared);
                });
            }
        });
        let head = slot.load().expect("some thread stored its list");
        let mut n = 0;
        let mut cur = Some(head);
        while let Some(it) = cur {
            check_item(&it);
            n += 1;
            cur = *it.next.borrow();
        }
        assert_eq!(n, 5_000);
    });
}

type ItemRoot = Root<Rootable!['gc => Item<'gc>]>;

#[test]
fn roots_cross_threads_and_survive_concurrent_collections() {
    let roots: Vec<ItemRoot> = mutate(|mu| {
        (0..8)
            .map(|i| {
                let head = item(mu, i);
                let mut cur = head;
                for j in 1..200 {
                    let n = item(mu, i * 1000 + j);
                    *cur.next.borrow_mut(mu) = Some(n);
                    cur = n;
                }
                Root::new(mu, head)
            })
            .collect()
    });
    let start = Barrier::new(roots.len());
    thread::scope(|s| {
        for r in &roots {
            let r = r.clone();
            let start = &start;
            s.spawn(move || {
                start.wait();
                for round in 0..20 {
                    mutate(|mu| {
                        for k in 0..2_000 {
                            item(mu, 7_000_000 + k); // garbage
                        }
                        let mut cur = Some(r.get(mu));
                        let mut n = 0;
                        while let Some(it) = cur {
                            check_item(&it);
                            n += 1;
                            cur = *it.next.borrow();
                        }
                        assert_eq!(n, 200);
                    });
                    if round % 5 == 0 {
                        raw::collect();
                    }
                }
            });
        }
    });
}

#[test]
fn roots_move_to_spawned_threads() {
    let r: ItemRoot = mutate(|mu| Root::new(mu, item(mu, 42)));
    let handle = thread::spawn(move || {
        raw::collect();
        mutate(|mu| check_item(&r.get(mu)));
        r
    });
    let r = handle.join().unwrap();
    raw::collect();
    mutate(|mu| assert_eq!(r.get(mu).id, 42));
}

#[test]
fn handles_in_boxes_and_vectors_inside_a_scope() {
    mutate(|mu| {
        let boxed: Box<Gc<'_, Item<'_>>> = Box::new(item(mu, 5));
        let v: Vec<Gc<'_, Item<'_>>> = (0..100).map(|i| item(mu, i)).collect();
        // Another thread asks for collections meanwhile: they wait for
        // this scope, so the handles stay valid.
        thread::scope(|s| {
            s.spawn(raw::collect);
        });
        check_item(&boxed);
        for it in &v {
            check_item(it);
        }
    });
}

static GLOBAL_ROOT: std::sync::OnceLock<ItemRoot> = std::sync::OnceLock::new();

#[test]
fn statics_hold_roots() {
    mutate(|mu| {
        let _ = GLOBAL_ROOT.set(Root::new(mu, item(mu, 99)));
    });
    raw::collect();
    raw::collect();
    mutate(|mu| check_item(&GLOBAL_ROOT.get().unwrap().get(mu)));
}
