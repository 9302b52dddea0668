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

use goheap::gc::{mutate, Gc, Mutation, Root};
use goheap::sched::WaitGroup;
use goheap::{Rootable, Trace};
use std::sync::{Arc, Mutex};

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
            eprintln!("gc_binary_trees_parallel: bad depth {a:?}");
            std::process::exit(2)
        }),
        None => 21,
    };
    depth.max(MIN_DEPTH + 2)
}

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
    let max_depth = depth_arg();
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

/// The collector's figures, as the Go peer prints them.
fn print_gc_metrics() {
    let s = goheap::stats();
    let longest = s.pause_ns.iter().max().copied().unwrap_or(0);
    eprintln!("metric gc_count {}", s.num_gc);
    eprintln!("metric max_pause_ms {:.3}", longest as f64 / 1e6);
    eprintln!("metric total_pause_ms {:.3}", s.pause_total_ns as f64 / 1e6);
}
