//! The concurrent mark against adversarial mutators: several threads race
//! stores, deletions, allocation and root changes with the collector's
//! mark worker, keeping handles only in scope-local `Vec`s while the heap
//! forgets them, holding scopes open for long stretches, dropping and making
//! roots while marking runs; a checker walks everything reachable after each
//! cycle. Every edge records the id of the node it points to, so an object
//! freed and reused (or dropped) behind a live edge is caught by id.

use goheap::gc::{mutate, raw, Gc, GcAtomic, GcCell, Mutation, Root};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

#[derive(Trace)]
struct Node<'gc> {
    id: u64,
    payload: Vec<u64>,
    edges: GcCell<Vec<(u64, Gc<'gc, Node<'gc>>)>>,
    atom: GcAtomic<'gc, Node<'gc>>,
    atom_id: AtomicU64,
}

/// Garbage that drives the pacer.
#[derive(Trace)]
struct Junk {
    _words: [u64; 30],
}

type RootedNode = Root<Rootable!['gc => Node<'gc>]>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn payload(id: u64) -> Vec<u64> {
    (0..4)
        .map(|i| id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i)
        .collect()
}

fn node<'gc>(mu: &Mutation<'gc>) -> Gc<'gc, Node<'gc>> {
    node_with(mu, Vec::new())
}

fn node_with<'gc>(mu: &Mutation<'gc>, edges: Vec<(u64, Gc<'gc, Node<'gc>>)>) -> Gc<'gc, Node<'gc>> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Gc::new(
        mu,
        Node {
            id,
            payload: payload(id),
            edges: GcCell::new(edges),
            atom: GcAtomic::new(None),
            atom_id: AtomicU64::new(0),
        },
    )
}

/// Panics unless `n` is the intact node `id`.
fn check(n: Gc<'_, Node<'_>>, id: u64) {
    assert_eq!(n.id, id, "an edge names a reused object");
    assert_eq!(n.payload, payload(id), "node {id} corrupted");
}

/// Walks everything reachable from `roots`, checking every edge.
fn walk(mu: &Mutation<'_>, roots: &[(u64, RootedNode)]) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<_> = roots.iter().map(|(id, r)| (*id, r.get(mu))).collect();
    while let Some((id, n)) = stack.pop() {
        check(n, id);
        if !seen.insert(n.as_ptr() as usize) {
            continue;
        }
        stack.extend(n.edges.borrow().iter().copied());
        if let Some(a) = n.atom.load() {
            stack.push((n.atom_id.load(Ordering::Relaxed), a));
        }
    }
    seen.len()
}

/// A tiny deterministic generator per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One scope of random mutation of the graph of `roots` (each thread has
/// its own graph). Handles live in
/// `held` (a plain `Vec`) only; the heap loses them and gets them back.
fn scope_of_work(rng: &mut Rng, roots: &mut Vec<(u64, RootedNode)>, ops: usize) {
    mutate(|mu| {
        let mut held: Vec<(u64, Gc<'_, Node<'_>>)> =
            roots.iter().map(|(id, r)| (*id, r.get(mu))).collect();
        for _ in 0..ops {
            for _ in 0..4 {
                Gc::new(mu, Junk { _words: [7; 30] });
            }
            if held.is_empty() {
                let n = node(mu);
                held.push((n.id, n));
                continue;
            }
            let (pid, parent) = held[rng.below(held.len())];
            check(parent, pid);
            match rng.below(11) {
                // Allocate and link into a reachable node.
                0 | 1 => {
                    let n = node(mu);
                    parent.edges.borrow_mut(mu).push((n.id, n));
                    held.push((n.id, n));
                }
                // Take an edge out of the heap: only `held` keeps it
                // (Yuasa's half must keep its target alive).
                2 | 3 => {
                    let mut e = parent.edges.borrow_mut(mu);
                    if !e.is_empty() {
                        let i = rng.below(e.len());
                        held.push(e.swap_remove(i));
                    }
                }
                // Store a held handle into another node (maybe one
                // allocated black, maybe one scanned already).
                4 | 5 => {
                    let (cid, child) = held[rng.below(held.len())];
                    parent.edges.borrow_mut(mu).push((cid, child));
                }
                // Through the atomic slot.
                6 => {
                    let (cid, child) = held[rng.below(held.len())];
                    if let Some(old) = parent.atom.swap(mu, Some(child)) {
                        held.push((parent.atom_id.load(Ordering::Relaxed), old));
                    }
                    parent.atom_id.store(cid, Ordering::Relaxed);
                }
                // Root a node mid-scope, or drop a root (mid-mark).
                7 => {
                    if roots.len() > 2 && rng.below(2) == 0 {
                        let i = rng.below(roots.len());
                        roots.swap_remove(i);
                    } else {
                        let (cid, child) = held[rng.below(held.len())];
                        roots.push((cid, Root::new(mu, child)));
                    }
                }
                // Take an edge out and put it only into a new node's
                // initial fields (no barrier: the new node is black, so
                // only the deletion's shade keeps the target).
                8 => {
                    let taken = {
                        let mut e = parent.edges.borrow_mut(mu);
                        let n = e.len().min(2);
                        e.drain(..n).collect::<Vec<_>>()
                    };
                    let n = node_with(mu, taken);
                    parent.edges.borrow_mut(mu).push((n.id, n));
                }
                // Forget some handles.
                _ => {
                    if held.len() > 64 {
                        let keep = held.len() / 2;
                        held.drain(..held.len() - keep);
                    }
                }
            }
        }
        for &(id, n) in &held {
            check(n, id);
        }
    });
}

#[test]
fn racing_mutators_never_see_a_freed_object() {
    let running = AtomicU64::new(3);
    let walks = AtomicU64::new(0);
    thread::scope(|s| {
        for t in 0..3u64 {
            let (running, walks) = (&running, &walks);
            s.spawn(move || {
                let mut roots = mutate(|mu| {
                    let n = node(mu);
                    vec![(n.id, Root::new(mu, n))]
                });
                let mut rng = Rng(0x1234_5678 + t * 7919);
                let mut seen_gc = raw::gc_no();
                for round in 0..300 {
                    // Long scopes now and then: the world empties rarely.
                    let ops = if round % 16 == t as usize {
                        20_000
                    } else {
                        500
                    };
                    scope_of_work(&mut rng, &mut roots, ops);
                    if roots.len() > 64 {
                        roots.drain(..32);
                    }
                    // After each cycle, everything this thread can reach.
                    if raw::gc_no() != seen_gc {
                        seen_gc = raw::gc_no();
                        mutate(|mu| walk(mu, &roots));
                        walks.fetch_add(1, Ordering::Relaxed);
                    }
                }
                raw::collect();
                assert!(mutate(|mu| walk(mu, &roots)) >= 1);
                running.fetch_sub(1, Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            // Now and then a forced (stop-the-world) cycle, which also ends
            // a concurrent one under way.
            while running.load(Ordering::Relaxed) > 0 {
                thread::sleep(std::time::Duration::from_millis(100));
                raw::collect();
            }
        });
    });
    let (walks, cycles) = (walks.load(Ordering::Relaxed), raw::gc_no());
    assert!(
        walks >= 6,
        "the mutators should have driven several cycles: {walks} walks, {cycles} cycles"
    );
}

#[derive(Trace)]
struct Holder<'gc> {
    cell: GcCell<Option<Gc<'gc, Holder<'gc>>>>,
    atom: GcAtomic<'gc, Holder<'gc>>,
    tag: u64,
}

fn holder<'gc>(mu: &Mutation<'gc>, tag: u64) -> Gc<'gc, Holder<'gc>> {
    Gc::new(
        mu,
        Holder {
            cell: GcCell::new(None),
            atom: GcAtomic::new(None),
            tag,
        },
    )
}

/// Each store path against a cycle running beside it: the only heap edge
/// to an object is removed (through `GcCell::borrow_mut`, a forgotten
/// borrow, `GcAtomic::swap`, a dropped `Root`) while a handle in a `Vec`
/// keeps it, then it is stored back; after the scope the object must be
/// intact however the cycles fell.
#[test]
fn every_store_path_keeps_what_it_moves() {
    let keep: Root<Rootable!['gc => Holder<'gc>]> = mutate(|mu| Root::new(mu, holder(mu, 0)));
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            // Garbage on another thread keeps cycles coming.
            while !done.load(Ordering::Relaxed) {
                mutate(|mu| {
                    for _ in 0..2_000 {
                        Gc::new(mu, Junk { _words: [1; 30] });
                    }
                });
            }
        });
        for round in 0..3_000u64 {
            mutate(|mu| {
                let top = keep.get(mu);
                let mut held = Vec::new();
                // GcCell: install, then move out via borrow_mut.
                let a = holder(mu, round * 10 + 1);
                *top.cell.borrow_mut(mu) = Some(a);
                held.push(top.cell.borrow_mut(mu).take().unwrap());
                // A forgotten borrow still shaded what it held.
                let b = holder(mu, round * 10 + 2);
                *a.cell.borrow_mut(mu) = Some(b);
                let mut g = a.cell.borrow_mut(mu);
                held.push(g.take().unwrap());
                std::mem::forget(g);
                // GcAtomic.
                let c = holder(mu, round * 10 + 3);
                top.atom.store(mu, Some(c));
                held.push(top.atom.swap(mu, None).unwrap());
                // Root made and dropped.
                let d = holder(mu, round * 10 + 4);
                let r: Root<Rootable!['gc => Holder<'gc>]> = Root::new(mu, d);
                held.push(r.get(mu));
                drop(r);
                for _ in 0..200 {
                    Gc::new(mu, Junk { _words: [2; 30] });
                }
                // Back into the heap, then checked.
                let tags: Vec<u64> = held.iter().map(|h| h.tag).collect();
                assert_eq!(tags, [1, 2, 3, 4].map(|i| round * 10 + i));
                top.atom.store(mu, held.pop());
                *top.cell.borrow_mut(mu) = held.pop();
            });
            mutate(|mu| {
                let top = keep.get(mu);
                assert_eq!(top.atom.load().unwrap().tag, round * 10 + 4);
                assert_eq!(top.cell.borrow().unwrap().tag, round * 10 + 3);
            });
        }
        done.store(true, Ordering::Relaxed);
    });
}

/// The racing mutators again in a fresh process with three mark worker
/// threads (`GOHEAP_DEBUG=gcmarkthread=3`), as a machine with 12 CPUs
/// would run: the workers share the grey work with each other as with
/// assists.
#[test]
fn racing_mutators_with_three_mark_workers() {
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "racing_mutators_never_see_a_freed_object",
            "--exact",
            "--test-threads=1",
        ])
        .env("GOHEAP_DEBUG", "gcmarkthread=3")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {out:?}");
    assert!(stdout.contains("1 passed"), "{stdout}");
}
