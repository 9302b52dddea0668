//! Peer of the gc suite row binary-trees (workloads/suites.toml): the `gc`
//! crate (rust-gc: a thread-local mark-and-sweep heap whose `Gc` handles
//! count roots), collecting when its allocation threshold is crossed.
//! stderr: `metric gc_count` (collections performed, from its stats).

// gc_derive 0.5 expands to impls inside a const block, which rustc now warns of.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, Trace};
use goheap_peers::binary_trees::{self, Tree};

#[derive(Trace, Finalize)]
struct Node {
    children: Option<(Gc<Node>, Gc<Node>)>,
}

impl Tree for Node {
    type Ptr = Gc<Node>;

    fn bottom_up(depth: u32) -> Gc<Node> {
        let children =
            (depth > 0).then(|| (Self::bottom_up(depth - 1), Self::bottom_up(depth - 1)));
        Gc::new(Node { children })
    }

    fn check(&self) -> u32 {
        self.children
            .as_ref()
            .map_or(1, |(l, r)| 1 + l.check() + r.check())
    }
}

fn main() {
    binary_trees::run_owned::<Node>(binary_trees::max_depth_arg());
    goheap_peers::metric("gc_count", gc::stats().collections_performed);
}
