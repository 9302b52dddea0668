//! Peer of the gc suite row binary-trees-parallel (workloads/suites.toml):
//! rayon's pool over the depths and the trees of each depth, every node a
//! `Box` (malloc/free).

use goheap_peers::binary_trees::{self, BoxNode, Tree};

fn main() {
    binary_trees::run_parallel(
        binary_trees::max_depth_arg(),
        |depth| BoxNode::bottom_up(depth).check(),
        |depth| {
            let tree = BoxNode::bottom_up(depth);
            move || tree.check()
        },
    );
}
