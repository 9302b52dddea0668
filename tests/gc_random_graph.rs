//! A randomised graph under mutation: nodes hang off a rooted table, edges
//! are added and removed at random, table slots are cleared, and after each
//! collection every node still reachable is checked against a shadow model
//! (its payload and its edges). A node the collector wrongly freed would be
//! reused by later allocations and fail the check.

use goheap::gc::{mutate, raw, Gc, GcCell, Mutation, Root};
use goheap::{Rootable, Trace};
use std::collections::HashMap;

#[derive(Trace)]
struct Node<'gc> {
    id: u64,
    payload: [u64; 3],
    edges: GcCell<Vec<Gc<'gc, Node<'gc>>>>,
}

#[derive(Trace)]
struct Table<'gc> {
    slots: GcCell<Vec<Option<Gc<'gc, Node<'gc>>>>>,
}

fn payload(id: u64) -> [u64; 3] {
    [id, id.wrapping_mul(0x9e37_79b9_7f4a_7c15), !id]
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const SLOTS: usize = 64;

/// The shadow model: edges of every node by id.
type Model = HashMap<u64, Vec<u64>>;

fn new_node<'gc>(mu: &Mutation<'gc>, id: u64) -> Gc<'gc, Node<'gc>> {
    Gc::new(
        mu,
        Node {
            id,
            payload: payload(id),
            edges: GcCell::new(Vec::new()),
        },
    )
}

/// Checks every node reachable from the table against the model.
fn check_all(t: &Table<'_>, model: &Model) -> usize {
    let mut seen = HashMap::new();
    let mut stack: Vec<Gc<'_, Node<'_>>> = t.slots.borrow().iter().flatten().copied().collect();
    while let Some(n) = stack.pop() {
        if seen.insert(n.id, ()).is_some() {
            continue;
        }
        assert_eq!(n.payload, payload(n.id), "node {} corrupted", n.id);
        let edges: Vec<u64> = n.edges.borrow().iter().map(|e| e.id).collect();
        assert_eq!(&edges, &model[&n.id], "edges of node {}", n.id);
        stack.extend(n.edges.borrow().iter().copied());
    }
    seen.len()
}

#[test]
fn random_mutation_keeps_every_reachable_node_intact() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut model = Model::new();
    let mut next_id = 0u64;
    let root: Root<Rootable!['gc => Table<'gc>]> = mutate(|mu| {
        let t = Gc::new(
            mu,
            Table {
                slots: GcCell::new(vec![None; SLOTS]),
            },
        );
        Root::new(mu, t)
    });
    let cycles_before = raw::gc_no();
    for round in 0..60 {
        mutate(|mu| {
            let t = root.get(mu);
            for _ in 0..500 {
                let slot = rng.below(SLOTS as u64) as usize;
                match rng.below(10) {
                    0..=3 => {
                        let n = new_node(mu, next_id);
                        model.insert(next_id, Vec::new());
                        next_id += 1;
                        t.slots.borrow_mut(mu)[slot] = Some(n);
                    }
                    4..=6 => {
                        let other = rng.below(SLOTS as u64) as usize;
                        let (a, b) = {
                            let s = t.slots.borrow();
                            (s[slot], s[other])
                        };
                        if let (Some(a), Some(b)) = (a, b) {
                            a.edges.borrow_mut(mu).push(b);
                            model.get_mut(&a.id).unwrap().push(b.id);
                        }
                    }
                    7 => {
                        if let Some(a) = t.slots.borrow()[slot] {
                            if !a.edges.borrow().is_empty() {
                                let i = rng.below(a.edges.borrow().len() as u64) as usize;
                                a.edges.borrow_mut(mu).remove(i);
                                model.get_mut(&a.id).unwrap().remove(i);
                            }
                        }
                    }
                    _ => t.slots.borrow_mut(mu)[slot] = None,
                }
                // Garbage that reuses freed slots.
                new_node(mu, u64::MAX);
            }
        });
        if round % 3 == 0 {
            raw::collect();
        }
        mutate(|mu| {
            let reachable = check_all(&root.get(mu), &model);
            assert!(reachable > 0 || round == 0);
        });
    }
    assert!(raw::gc_no() >= cycles_before + 20);
}
