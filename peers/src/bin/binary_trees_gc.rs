//! Peer of the gc suite row binary-trees (workloads/suites.toml): the `gc`
//! crate (rust-gc: a thread-local mark-and-sweep heap whose `Gc` handles
//! count roots), collecting when its allocation threshold is crossed.
//! stderr: `metric gc_count` (collections performed, from its stats).

// gc_derive 0.5 expands to impls inside a const block, which rustc now warns of.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, Trace};
use goheap_peers::binary_trees;

#[derive(Trace, Finalize)]
struct Node {
    children: Option<(Gc<Node>, Gc<Node>)>,
}

goheap_peers::impl_tree!(Node, Gc);

fn main() {
    binary_trees::run_owned::<Node>(binary_trees::max_depth_arg());
    goheap_peers::metric("gc_count", gc::stats().collections_performed);
}
