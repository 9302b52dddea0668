//! The benchmarks game's binary-trees on goheap's garbage-collected heap
//! (`Gc`, `mutate`, `Root`), sequential like the Go peer
//! (workloads/gc/binary_trees.go).
//!
//! Usage: gc_binary_trees [DEPTH]   (default 21)
//! stdout: the benchmarks game's output. stderr: `metric gc_count N` and
//! `metric max_pause_ms X` (the longest of the last 256 pauses).
//!
//! Each tree is built and checked inside one `mutate` scope; the long-lived
//! tree is a `Root`. Collections run between scopes.

#[path = "gc_common/mod.rs"]
mod common;

use goheap::gc::{mutate, Gc, Mutation, Root};
use goheap::{Rootable, Trace};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const MIN_DEPTH: u32 = 4;

#[derive(Trace)]
struct Tree<'gc> {
    left: Option<Gc<'gc, Tree<'gc>>>,
    right: Option<Gc<'gc, Tree<'gc>>>,
}

fn bottom_up<'gc>(mu: &Mutation<'gc>, depth: u32) -> Gc<'gc, Tree<'gc>> {
    let tree = if depth == 0 {
        Tree {
            left: None,
            right: None,
        }
    } else {
        Tree {
            left: Some(bottom_up(mu, depth - 1)),
            right: Some(bottom_up(mu, depth - 1)),
        }
    };
    Gc::new(mu, tree)
}

fn check(t: &Tree<'_>) -> u32 {
    match (t.left, t.right) {
        (Some(l), Some(r)) => 1 + check(&l) + check(&r),
        _ => 1,
    }
}

fn depth_arg() -> u32 {
    let depth = match std::env::args().nth(1) {
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("gc_binary_trees: bad depth {a:?}");
            std::process::exit(2)
        }),
        None => 21,
    };
    depth.max(MIN_DEPTH + 2)
}

fn main() {
    let max_depth = depth_arg();
    let stretch = max_depth + 1;
    let c = mutate(|mu| check(&bottom_up(mu, stretch)));
    println!("stretch tree of depth {stretch}\t check: {c}");
    let long_lived: Root<Rootable!['gc => Tree<'gc>]> =
        mutate(|mu| Root::new(mu, bottom_up(mu, max_depth)));
    for depth in (MIN_DEPTH..=max_depth).step_by(2) {
        let iterations = 1u32 << (max_depth - depth + MIN_DEPTH);
        let mut sum = 0;
        for _ in 0..iterations {
            sum += mutate(|mu| check(&bottom_up(mu, depth)));
        }
        println!("{iterations}\t trees of depth {depth}\t check: {sum}");
    }
    let c = mutate(|mu| check(&long_lived.get(mu)));
    println!("long lived tree of depth {max_depth}\t check: {c}");
    common::print_gc_metrics();
}
