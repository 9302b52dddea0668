//! gc_latency on goheap's `Gc`: request latency beside a large, mutating
//! live heap. The algorithm, the arguments and the output are those of
//! `workloads/gc/gc_latency.go` (read it first); the C port is
//! `workloads/gc/gc_latency.c`. Row "gc-latency" of `goheap bench --suite gc`.
//!
//! Usage: gc_latency [LIVE_MIB [MUTATORS]]   (defaults 256, 1)
//!
//! Here each mutator operation and each request is one `mutate` scope: the
//! stop-the-world collector runs between scopes, so a request that arrives
//! during a cycle waits for it, and that wait is in its latency (as a Go
//! request's includes its assists and pauses). Child pointers are
//! `GcAtomic`, the Rust API's store with the write barrier.

#[path = "gc_common/mod.rs"]
mod common;

use common::SplitMix64;

use goheap::gc::{mutate, Gc, GcAtomic, GcCell, Mutation, Root};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const TREE_DEPTH: u32 = 16;
const NODES_PER_TREE: usize = (1 << (TREE_DEPTH + 1)) - 1;
const MAX_SUBTREE: u64 = 7;
const REQUEST_DEPTH: u32 = 5;
/// Latency buckets of 1 µs; longer ones count in the last.
const HISTOGRAM_US: usize = 1 << 17;
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// 64 bytes, as Go's node: two pointers, a value, 5 words of padding.
#[derive(Trace)]
struct Node<'gc> {
    left: GcAtomic<'gc, Node<'gc>>,
    right: GcAtomic<'gc, Node<'gc>>,
    value: u64,
    _pad: [u64; 5],
}

#[derive(Trace)]
struct Forest<'gc> {
    trees: GcCell<Vec<Gc<'gc, Node<'gc>>>>,
}

type ForestRoot = Root<Rootable!['gc => Forest<'gc>]>;

fn build<'gc>(mu: &Mutation<'gc>, depth: u32, g: &mut SplitMix64) -> Gc<'gc, Node<'gc>> {
    let value = g.next();
    let (left, right) = if depth > 0 {
        let l = build(mu, depth - 1, g);
        (Some(l), Some(build(mu, depth - 1, g)))
    } else {
        (None, None)
    };
    Gc::new(
        mu,
        Node {
            left: GcAtomic::new(left),
            right: GcAtomic::new(right),
            value,
            _pad: [0; 5],
        },
    )
}

fn sum(n: Option<Gc<'_, Node<'_>>>) -> u64 {
    n.map_or(0, |n| {
        n.value
            .wrapping_add(sum(n.left.load()))
            .wrapping_add(sum(n.right.load()))
    })
}

fn mutate_forest(forest: &ForestRoot, mutator: usize, mutators: usize, ops: usize) {
    let trees = mutate(|mu| forest.get(mu).trees.borrow().len());
    let owned: Vec<usize> = (mutator..trees).step_by(mutators).collect();
    if owned.is_empty() {
        return;
    }
    let mut g = SplitMix64(1000 + mutator as u64);
    for _ in 0..ops {
        mutate(|mu| {
            let f = forest.get(mu);
            let mut parent = f.trees.borrow()[owned[(g.next() % owned.len() as u64) as usize]];
            let k = (g.next() % (MAX_SUBTREE + 1)) as u32;
            for _ in 0..TREE_DEPTH - k - 1 {
                let child = if g.next() & 1 == 1 {
                    &parent.right
                } else {
                    &parent.left
                };
                parent = child.load().expect("a complete tree");
            }
            let side = if g.next() & 1 == 1 {
                &parent.right
            } else {
                &parent.left
            };
            side.store(mu, Some(build(mu, k, &mut g)));
        });
    }
}

/// Serves requests until `done` is set; returns their latency histogram
/// and the longest.
fn serve(done: &AtomicBool) -> (Vec<u64>, Duration) {
    let mut hist = vec![0u64; HISTOGRAM_US];
    let mut longest = Duration::ZERO;
    let mut g = SplitMix64(7);
    let mut sink = 0u64;
    while !done.load(Ordering::Relaxed) {
        let start = Instant::now();
        sink = sink.wrapping_add(mutate(|mu| sum(Some(build(mu, REQUEST_DEPTH, &mut g)))));
        let took = start.elapsed();
        hist[(took.as_micros() as usize).min(HISTOGRAM_US - 1)] += 1;
        longest = longest.max(took);
    }
    if sink == 1 {
        eprintln!("gc_latency: unlikely request sum");
    }
    (hist, longest)
}

fn percentile_us(hist: &[u64], total: u64, p: f64) -> usize {
    let rank = (p * total as f64) as u64;
    let mut seen = 0;
    for (us, n) in hist.iter().enumerate() {
        seen += n;
        if seen > rank {
            return us;
        }
    }
    hist.len() - 1
}

fn int_arg(i: usize, default: usize) -> usize {
    match std::env::args().nth(i) {
        None => default,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("gc_latency: bad argument {a:?}");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let (live_mib, mutators) = (int_arg(1, 256), int_arg(2, 1));
    if live_mib < 1 || mutators < 1 {
        eprintln!("gc_latency: LIVE_MIB and MUTATORS must be positive");
        std::process::exit(2);
    }
    let trees = (live_mib / 8).max(1);
    let forest: ForestRoot = mutate(|mu| {
        let trees = GcCell::new(Vec::with_capacity(trees));
        Root::new(mu, Gc::new(mu, Forest { trees }))
    });
    for t in 0..trees {
        // One scope per tree: the collector may run between them.
        mutate(|mu| {
            let tree = build(mu, TREE_DEPTH, &mut SplitMix64(t as u64));
            forest.get(mu).trees.borrow_mut(mu).push(tree);
        });
    }
    let nodes = trees * NODES_PER_TREE;
    let ops = nodes / 8 / mutators;

    std::thread::spawn(|| {
        std::thread::sleep(TIME_LIMIT);
        eprintln!("gc_latency: still running after {TIME_LIMIT:?}");
        std::process::exit(1);
    });
    let done = AtomicBool::new(false);
    let (hist, longest) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..mutators)
            .map(|m| {
                let forest = &forest;
                s.spawn(move || mutate_forest(forest, m, mutators, ops))
            })
            .collect();
        let server = s.spawn(|| serve(&done));
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        server.join().unwrap()
    });

    let checksum = mutate(|mu| {
        let f = forest.get(mu);
        let trees = f.trees.borrow();
        trees
            .iter()
            .fold(0u64, |acc, &t| acc.wrapping_add(sum(Some(t))))
    });
    println!(
        "forest of {trees} trees of depth {TREE_DEPTH}: {nodes} nodes, {mutators} mutators, {ops} operations each"
    );
    println!("checksum {checksum}");

    let requests: u64 = hist.iter().sum();
    eprintln!("metric requests {requests}");
    for (name, p) in [("p50_us", 0.50), ("p99_us", 0.99), ("p999_us", 0.999)] {
        eprintln!("metric {name} {}", percentile_us(&hist, requests, p));
    }
    eprintln!("metric max_us {}", longest.as_micros());
    common::print_gc_metrics();
}
