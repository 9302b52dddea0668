//! The benchmarks game's binary-trees on goheap's garbage-collected heap,
//! one goroutine per depth like the Go peer
//! (workloads/gc/binary_trees_parallel.go).
//!
//! Usage: gc_binary_trees_parallel [DEPTH]   (default 21)
//! stdout: the benchmarks game's output. stderr: `metric gc_count N`,
//! `metric max_pause_ms X` (the longest of the last 256 pauses) and
//! `metric total_pause_ms X`.
//!
//! Each tree is built and checked inside one `mutate` scope (no scope
//! parks, so each stays on its goroutine's thread); the long-lived tree is
//! a `Root`. Collections run whenever no goroutine is inside a scope.

mod gc_common;

use gc_common::{bottom_up, check, depth_arg, print_gc_metrics, Tree, MIN_DEPTH};
use goheap::gc::{mutate, Root};
use goheap::sched::WaitGroup;
use goheap::Rootable;
use std::sync::{Arc, Mutex};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

/// The line of one depth: its trees built and checked one scope each.
fn trees_of_depth(max_depth: u32, depth: u32) -> String {
    let iterations = 1u32 << (max_depth - depth + MIN_DEPTH);
    let mut sum = 0;
    for _ in 0..iterations {
        sum += mutate(|mu| check(&bottom_up(mu, depth)));
    }
    format!("{iterations}\t trees of depth {depth}\t check: {sum}")
}

fn main() {
    let max_depth = depth_arg("gc_binary_trees_parallel");
    let stretch = max_depth + 1;
    let c = mutate(|mu| check(&bottom_up(mu, stretch)));
    println!("stretch tree of depth {stretch}\t check: {c}");
    let long_lived: Root<Rootable!['gc => Tree<'gc>]> =
        mutate(|mu| Root::new(mu, bottom_up(mu, max_depth)));
    let depths: Vec<u32> = (MIN_DEPTH..=max_depth).step_by(2).collect();
    let lines = Arc::new(Mutex::new(vec![String::new(); depths.len()]));
    let wg = Arc::new(WaitGroup::new());
    wg.add(depths.len() as i64);
    for (i, &depth) in depths.iter().enumerate() {
        let (lines, wg) = (lines.clone(), wg.clone());
        let body = move || {
            let line = trees_of_depth(max_depth, depth);
            lines.lock().unwrap()[i] = line;
            wg.done();
        };
        // SAFETY: goheap::go's contract: the goroutine holds no
        // thread-local reference or thread-bound guard across a switch
        // point (the std lock is taken and released with no switch
        // between).
        unsafe { goheap::go(body) };
    }
    wg.wait();
    for line in lines.lock().unwrap().iter() {
        println!("{line}");
    }
    let c = mutate(|mu| check(&long_lived.get(mu)));
    println!("long lived tree of depth {max_depth}\t check: {c}");
    print_gc_metrics();
}
