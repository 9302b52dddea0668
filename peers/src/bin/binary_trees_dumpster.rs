//! Peer of the gc suite row binary-trees (workloads/suites.toml): dumpster's
//! thread-local `Gc` (reference counts plus a cycle collector that runs
//! when its collect condition says so). stderr: `metric gc_count` (the times
//! the default condition started a collection).

use dumpster::unsync::{default_collect_condition, set_collect_condition, CollectInfo, Gc};
use dumpster::Trace;
use goheap_peers::binary_trees;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Trace)]
struct Node {
    children: Option<(Gc<Node>, Gc<Node>)>,
}

goheap_peers::impl_tree!(Node, Gc);

static COLLECTIONS: AtomicUsize = AtomicUsize::new(0);

/// dumpster's own condition, counting the collections it starts.
fn counting_condition(info: &CollectInfo) -> bool {
    let collect = default_collect_condition(info);
    if collect {
        COLLECTIONS.fetch_add(1, Ordering::Relaxed);
    }
    collect
}

fn main() {
    set_collect_condition(counting_condition);
    binary_trees::run_owned::<Node>(binary_trees::max_depth_arg());
    goheap_peers::metric("gc_count", COLLECTIONS.load(Ordering::Relaxed));
}
