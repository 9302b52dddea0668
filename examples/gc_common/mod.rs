//! What the binary-trees examples share (gc_binary_trees, sequential, and
//! gc_binary_trees_parallel, one goroutine per depth): the tree on goheap's
//! `Gc`, the depth argument and the collector's metric lines.
#![allow(dead_code)]

use goheap::gc::{Gc, Mutation};
use goheap::Trace;

pub const MIN_DEPTH: u32 = 4;

#[derive(Trace)]
pub struct Tree<'gc> {
    left: Option<Gc<'gc, Tree<'gc>>>,
    right: Option<Gc<'gc, Tree<'gc>>>,
}

pub fn bottom_up<'gc>(mu: &Mutation<'gc>, depth: u32) -> Gc<'gc, Tree<'gc>> {
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

pub fn check(t: &Tree<'_>) -> u32 {
    match (t.left, t.right) {
        (Some(l), Some(r)) => 1 + check(&l) + check(&r),
        _ => 1,
    }
}

/// The maximum depth from argv[1] (default 21), at least MIN_DEPTH + 2;
/// `program` names the example in the error of a bad argument.
pub fn depth_arg(program: &str) -> u32 {
    let depth = match std::env::args().nth(1) {
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("{program}: bad depth {a:?}");
            std::process::exit(2)
        }),
        None => 21,
    };
    depth.max(MIN_DEPTH + 2)
}

/// The collector's figures, as the Go peers print them (`pause_ns` keeps
/// the last 256 pauses, the longest of which is `max_pause_ms`).
pub fn print_gc_metrics() {
    let s = goheap::stats();
    let longest = s.pause_ns.iter().max().copied().unwrap_or(0);
    eprintln!("metric gc_count {}", s.num_gc);
    eprintln!("metric max_pause_ms {:.3}", longest as f64 / 1e6);
    eprintln!("metric total_pause_ms {:.3}", s.pause_total_ns as f64 / 1e6);
}

/// The generator every port of gc_latency and gc_server uses (splitmix64).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
