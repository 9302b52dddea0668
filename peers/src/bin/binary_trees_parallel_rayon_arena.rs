//! Peer of the gc suite row binary-trees-parallel (workloads/suites.toml):
//! rayon's pool over the depths and the trees of each depth, every tree in
//! its own typed-arena `Arena` (bump allocation, the whole tree freed at
//! once when its arena drops).

use goheap_peers::binary_trees;
use typed_arena::Arena;

struct Node<'a> {
    children: Option<(&'a Node<'a>, &'a Node<'a>)>,
}

fn bottom_up<'a>(arena: &'a Arena<Node<'a>>, depth: u32) -> &'a Node<'a> {
    let children = (depth > 0).then(|| (bottom_up(arena, depth - 1), bottom_up(arena, depth - 1)));
    arena.alloc(Node { children })
}

fn check(node: &Node) -> u32 {
    node.children.map_or(1, |(l, r)| 1 + check(l) + check(r))
}

/// Builds and counts a tree in an arena sized for it.
fn check_in_own_arena(depth: u32) -> u32 {
    let arena = Arena::with_capacity((1 << (depth + 1)) - 1);
    check(bottom_up(&arena, depth))
}

fn main() {
    let max_depth = binary_trees::max_depth_arg();
    let long_lived = Arena::with_capacity((1 << (max_depth + 1)) - 1);
    binary_trees::run_parallel(max_depth, check_in_own_arena, |depth| {
        let tree = bottom_up(&long_lived, depth);
        move || check(tree)
    });
}
