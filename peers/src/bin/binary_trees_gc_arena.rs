//! Peer of the gc suite row binary-trees (workloads/suites.toml): gc-arena,
//! whose branded `Gc` pointers live only inside `mutate` and whose
//! incremental collector runs between `mutate` calls. Each tree is built and
//! counted in one `mutate`; the long-lived tree is the arena's root; after
//! each `mutate` the arena pays its allocation debt (`collect_debt`).
//! stderr: `metric gc_count` (cycles completed) and `metric max_pause_ms`
//! (longest `collect_debt` call: the program does nothing else meanwhile).

use gc_arena::arena::CollectionPhase;
use gc_arena::{Arena, Collect, Gc, Mutation, Rootable};
use goheap_peers::binary_trees::{self, TreeHeap};
use std::time::{Duration, Instant};

#[derive(Collect)]
#[collect(no_drop)]
struct Node<'gc> {
    children: Option<(Gc<'gc, Node<'gc>>, Gc<'gc, Node<'gc>>)>,
}

fn bottom_up<'gc>(mc: &Mutation<'gc>, depth: u32) -> Gc<'gc, Node<'gc>> {
    let children = (depth > 0).then(|| (bottom_up(mc, depth - 1), bottom_up(mc, depth - 1)));
    Gc::new(mc, Node { children })
}

fn check(node: &Node) -> u32 {
    node.children
        .as_ref()
        .map_or(1, |(l, r)| 1 + check(l) + check(r))
}

type Root = Rootable![Option<Gc<'_, Node<'_>>>];

struct ArenaHeap {
    arena: Arena<Root>,
    cycles: usize,
    longest_pause: Duration,
}

impl ArenaHeap {
    fn new() -> Self {
        ArenaHeap {
            arena: Arena::new(|_| None),
            cycles: 0,
            longest_pause: Duration::ZERO,
        }
    }

    /// Runs the collector for the debt the last `mutate` ran up, timing it
    /// and counting the cycles that end in it.
    fn pay_debt(&mut self) {
        let was_sleeping = self.arena.collection_phase() == CollectionPhase::Sleeping;
        let start = Instant::now();
        self.arena.collect_debt();
        self.longest_pause = self.longest_pause.max(start.elapsed());
        if !was_sleeping && self.arena.collection_phase() == CollectionPhase::Sleeping {
            self.cycles += 1;
        }
    }
}

impl TreeHeap for ArenaHeap {
    fn check_tree(&mut self, depth: u32) -> u32 {
        let count = self.arena.mutate(|mc, _| check(&bottom_up(mc, depth)));
        self.pay_debt();
        count
    }

    fn keep_tree(&mut self, depth: u32) {
        self.arena
            .mutate_root(|mc, root| *root = Some(bottom_up(mc, depth)));
        self.pay_debt();
    }

    fn check_kept(&mut self) -> u32 {
        self.arena
            .mutate(|_, root| root.map_or(0, |tree| check(&tree)))
    }
}

fn main() {
    let mut heap = ArenaHeap::new();
    binary_trees::run(&mut heap, binary_trees::max_depth_arg());
    goheap_peers::metric("gc_count", heap.cycles);
    goheap_peers::metric(
        "max_pause_ms",
        format!("{:.3}", heap.longest_pause.as_secs_f64() * 1e3),
    );
}
