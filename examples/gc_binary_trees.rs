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

mod gc_common;

use gc_common::{bottom_up, check, depth_arg, print_gc_metrics, MIN_DEPTH};
use goheap::gc::{mutate, Root};
use goheap::Rootable;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn main() {
    let max_depth = depth_arg("gc_binary_trees");
    let stretch = max_depth + 1;
    let c = mutate(|mu| check(&bottom_up(mu, stretch)));
    println!("stretch tree of depth {stretch}\t check: {c}");
    let long_lived: Root<Rootable!['gc => gc_common::Tree<'gc>]> =
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
    print_gc_metrics();
}
