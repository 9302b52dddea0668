//! Peer of the gc suite row binary-trees (workloads/suites.toml): the
//! malloc/free baseline, every node a `Box` freed when its tree is dropped.

use goheap_peers::binary_trees::{self, BoxNode};

fn main() {
    binary_trees::run_owned::<BoxNode>(binary_trees::max_depth_arg());
}
