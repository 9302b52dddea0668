//! The benchmarks game's binary-trees, with the heap left to the caller: a
//! stretch tree of depth max+1, a long-lived tree of depth max, then for
//! depth 4, 6, ... max, 2^(max - depth + 4) trees built, counted and let go.
//! The output is the benchmarks game's, the same as the Go and C programs'.

use rayon::prelude::*;
use std::ops::Deref;

const MIN_DEPTH: u32 = 4;

/// The maximum depth from argv[1] (default 21), at least MIN_DEPTH + 2.
pub fn max_depth_arg() -> u32 {
    crate::arg(1, Some(21)).max(MIN_DEPTH + 2)
}

/// What a heap must offer the sequential driver.
pub trait TreeHeap {
    /// Builds a complete tree of `depth`, returns its node count, lets it go.
    fn check_tree(&mut self, depth: u32) -> u32;
    /// Builds the long-lived tree and keeps it until `check_kept`.
    fn keep_tree(&mut self, depth: u32);
    /// The long-lived tree's node count.
    fn check_kept(&mut self) -> u32;
}

/// A node type whose trees live behind some heap's owning pointer (`Box`,
/// a GC crate's `Gc`); `run_owned` keeps the long-lived tree in a local.
pub trait Tree {
    type Ptr: Deref<Target = Self>;
    fn bottom_up(depth: u32) -> Self::Ptr;
    /// The node count of the tree under `self`.
    fn check(&self) -> u32;
}

/// Runs binary-trees on one thread with trees of `T`.
pub fn run_owned<T: Tree>(max_depth: u32) {
    run(&mut Owned::<T>(None), max_depth);
}

struct Owned<T: Tree>(Option<T::Ptr>);

impl<T: Tree> TreeHeap for Owned<T> {
    fn check_tree(&mut self, depth: u32) -> u32 {
        T::bottom_up(depth).check()
    }

    fn keep_tree(&mut self, depth: u32) {
        self.0 = Some(T::bottom_up(depth));
    }

    fn check_kept(&mut self) -> u32 {
        self.0.as_deref().map_or(0, T::check)
    }
}

/// Runs binary-trees on one thread.
pub fn run(heap: &mut impl TreeHeap, max_depth: u32) {
    print_stretch(max_depth, heap.check_tree(max_depth + 1));
    heap.keep_tree(max_depth);
    for depth in depths(max_depth) {
        let n = iterations(depth, max_depth);
        let check = (0..n).map(|_| heap.check_tree(depth)).sum();
        print_trees(n, depth, check);
    }
    print_long_lived(max_depth, heap.check_kept());
}

/// Runs binary-trees on rayon's pool: the depths in parallel and, inside a
/// depth, the trees. `keep(depth)` builds the long-lived tree and returns
/// what counts it at the end.
pub fn run_parallel<K: FnOnce() -> u32>(
    max_depth: u32,
    check_tree: impl Fn(u32) -> u32 + Sync,
    keep: impl FnOnce(u32) -> K,
) {
    print_stretch(max_depth, check_tree(max_depth + 1));
    let check_kept = keep(max_depth);
    let rows: Vec<(u32, u32, u32)> = depths(max_depth)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|depth| {
            let n = iterations(depth, max_depth);
            let check = (0..n).into_par_iter().map(|_| check_tree(depth)).sum();
            (n, depth, check)
        })
        .collect();
    for (n, depth, check) in rows {
        print_trees(n, depth, check);
    }
    print_long_lived(max_depth, check_kept());
}

fn depths(max_depth: u32) -> impl Iterator<Item = u32> {
    (MIN_DEPTH..=max_depth).step_by(2)
}

fn iterations(depth: u32, max_depth: u32) -> u32 {
    1 << (max_depth - depth + MIN_DEPTH)
}

fn print_stretch(max_depth: u32, check: u32) {
    println!("stretch tree of depth {}\t check: {check}", max_depth + 1);
}

fn print_trees(iterations: u32, depth: u32, check: u32) {
    println!("{iterations}\t trees of depth {depth}\t check: {check}");
}

fn print_long_lived(max_depth: u32, check: u32) {
    println!("long lived tree of depth {max_depth}\t check: {check}");
}

/// Implements `Tree` for a node struct `$node { children: Option<($ptr<$node>,
/// $ptr<$node>)> }` whose pointer `$ptr` has `$ptr::new(node)` (`Box`, the
/// `Gc` of the gc and dumpster crates).
#[macro_export]
macro_rules! impl_tree {
    ($node:ident, $ptr:ident) => {
        impl $crate::binary_trees::Tree for $node {
            type Ptr = $ptr<$node>;

            fn bottom_up(depth: u32) -> $ptr<$node> {
                let children =
                    (depth > 0).then(|| (Self::bottom_up(depth - 1), Self::bottom_up(depth - 1)));
                $ptr::new($node { children })
            }

            fn check(&self) -> u32 {
                self.children
                    .as_ref()
                    .map_or(1, |(l, r)| 1 + l.check() + r.check())
            }
        }
    };
}

/// The malloc/free baseline: every node a `Box`, freed when its tree drops.
pub struct BoxNode {
    children: Option<(Box<BoxNode>, Box<BoxNode>)>,
}

impl_tree!(BoxNode, Box);
