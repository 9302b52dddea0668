//! goheap as the global allocator under std's collections: Vec growth and
//! shrink_to_fit, String building and masses of short strings (the tiny
//! allocator), HashMap/BTreeMap with millions of inserts and removes, VecDeque,
//! boxed byte slices of sizes on both sides of every Go size class, the 32 KiB
//! small/large boundary and multi-MiB sizes, over-aligned boxes, Rc/Arc graphs
//! and sorting big Vecs. Every test checks the contents it reads back (and the
//! alignment of what it gets), not merely that nothing crashed.

mod common;

use common::{boundary_sizes, check, fill, first_mismatch, is_zero, pattern_box, Rng, MIB};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn value(i: u64) -> u64 {
    common::splitmix64(i)
}

#[test]
fn vec_growth_and_shrink_to_fit() {
    // Doubling growth from empty: every capacity step is a realloc.
    let mut v: Vec<u64> = Vec::new();
    let mut caps = Vec::new();
    for i in 0..1_000_000u64 {
        v.push(value(i));
        if caps.last() != Some(&v.capacity()) {
            caps.push(v.capacity());
        }
    }
    assert!(caps.len() > 15, "expected many growth steps, saw {caps:?}");
    assert!(
        v.iter().enumerate().all(|(i, &x)| x == value(i as u64)),
        "Vec<u64> lost data while growing"
    );

    // Shrink in steps through the large, the 32 KiB boundary, small and tiny sizes.
    for &len in &[300_000usize, 70_000, 4097, 4096, 1000, 100, 3, 1] {
        let old_cap = v.capacity();
        v.truncate(len);
        v.shrink_to_fit();
        assert!(
            v.capacity() >= len && v.capacity() < old_cap,
            "shrink_to_fit to {len}: capacity {} (was {old_cap})",
            v.capacity()
        );
        assert!(
            v.iter().enumerate().all(|(i, &x)| x == value(i as u64)),
            "content lost after shrink_to_fit({len})"
        );
        assert_eq!(v.as_ptr() as usize % std::mem::align_of::<u64>(), 0);
    }

    // Byte vector grown one push at a time to 1 MiB: passes through every size class by realloc.
    let mut b: Vec<u8> = Vec::new();
    for i in 0..MIB {
        b.push((i % 251) as u8);
    }
    assert!(
        b.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8),
        "Vec<u8> lost data while growing"
    );
    b.truncate(13);
    b.shrink_to_fit();
    assert_eq!(b, (0u8..13).collect::<Vec<_>>());

    // reserve_exact / resize cycles up and down with a pattern check at each size.
    let mut w: Vec<u8> = Vec::new();
    let mut rng = Rng::new(7);
    for round in 0..200u64 {
        let n = rng.log_uniform(1, 2 * MIB);
        w.clear();
        w.reserve_exact(n);
        assert!(w.capacity() >= n);
        w.resize(n, 0);
        fill(&mut w, round);
        w.shrink_to_fit();
        assert!(
            check(&w, round),
            "round {round}: pattern lost in Vec of {n} bytes (first bad byte {:?})",
            first_mismatch(&w, round)
        );
    }

    // Element types of different alignment.
    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(align(64))]
    struct Line([u64; 8]);
    let lines: Vec<Line> = (0..10_000u64).map(|i| Line([i; 8])).collect();
    assert_eq!(lines.as_ptr() as usize % 64, 0, "Vec<align(64)> misaligned");
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| *l == Line([i as u64; 8])));
    let wide: Vec<u128> = (0..100_000u128).map(|i| i * i).collect();
    assert_eq!(wide.as_ptr() as usize % std::mem::align_of::<u128>(), 0);
    assert!(wide
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i as u128) * (i as u128)));

    // Nested vectors: many independent small growths interleaved.
    let mut nested: Vec<Vec<u32>> = (0..2000).map(|_| Vec::new()).collect();
    for i in 0..200_000u32 {
        nested[(value(u64::from(i)) % 2000) as usize].push(i);
    }
    let mut seen = 0usize;
    for (slot, inner) in nested.iter().enumerate() {
        assert!(inner.windows(2).all(|w| w[0] < w[1]));
        assert!(inner
            .iter()
            .all(|&i| (value(u64::from(i)) % 2000) as usize == slot));
        seen += inner.len();
    }
    assert_eq!(seen, 200_000);
}

#[test]
fn string_building_and_many_short_strings() {
    // One big String built from many small appends, parsed back.
    let mut s = String::new();
    for i in 0..200_000u32 {
        write!(s, "{i},").unwrap();
    }
    let parsed: Vec<u32> = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(parsed.len(), 200_000);
    assert!(
        parsed.iter().enumerate().all(|(i, &x)| x as usize == i),
        "big String corrupted"
    );

    // Half a million short strings (0..=15 bytes: the tiny allocator's territory).
    fn short(rng: &mut Rng) -> String {
        let len = rng.range(0, 15);
        (0..len)
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect()
    }
    const N: usize = 500_000;
    let mut rng = Rng::new(11);
    let mut strings: Vec<String> = (0..N).map(|_| short(&mut rng)).collect();
    let mut again = Rng::new(11);
    for (i, st) in strings.iter().enumerate() {
        assert_eq!(*st, short(&mut again), "short string {i} corrupted");
    }

    // Free every other one (holes inside tiny blocks) and refill the holes.
    let mut rng2 = Rng::new(12);
    for (i, st) in strings.iter_mut().enumerate() {
        if i % 2 == 0 {
            *st = short(&mut rng2);
        }
    }
    let (mut a, mut b) = (Rng::new(11), Rng::new(12));
    for (i, st) in strings.iter().enumerate() {
        let odd = short(&mut a);
        if i % 2 == 0 {
            assert_eq!(*st, short(&mut b), "replaced short string {i} corrupted");
        } else {
            assert_eq!(*st, odd, "kept short string {i} corrupted by a neighbour");
        }
    }
    drop(strings);

    // Tiny boxed scalars of sizes 1..=15 and alignments 1..=4, interleaved.
    let bytes: Vec<Box<u8>> = (0..100_000u32).map(|i| Box::new(i as u8)).collect();
    let halves: Vec<Box<u16>> = (0..100_000u32).map(|i| Box::new(i as u16)).collect();
    let words: Vec<Box<u32>> = (0..100_000u32)
        .map(|i| Box::new(i.wrapping_mul(2_654_435_761)))
        .collect();
    let triples: Vec<Box<[u8; 3]>> = (0..100_000u32)
        .map(|i| Box::new([i as u8, (i >> 8) as u8, (i >> 16) as u8]))
        .collect();
    let fifteens: Vec<Box<[u8; 15]>> = (0..50_000u32).map(|i| Box::new([i as u8; 15])).collect();
    for i in 0..100_000u32 {
        let k = i as usize;
        assert_eq!(*bytes[k], i as u8);
        assert_eq!(*halves[k], i as u16);
        assert_eq!(&*halves[k] as *const u16 as usize % 2, 0);
        assert_eq!(*words[k], i.wrapping_mul(2_654_435_761));
        assert_eq!(&*words[k] as *const u32 as usize % 4, 0);
        assert_eq!(*triples[k], [i as u8, (i >> 8) as u8, (i >> 16) as u8]);
        if k < 50_000 {
            assert_eq!(*fifteens[k], [i as u8; 15]);
        }
    }

    // format!/to_string/concat churn.
    let mut total = 0usize;
    for i in 0..100_000u64 {
        let t = format!("{}-{}", i, i * 3);
        let u = t.clone() + "!" + &i.to_string();
        assert_eq!(u, format!("{i}-{}!{i}", i * 3));
        total += u.len();
    }
    assert!(total > 1_000_000);
}

#[test]
fn hashmap_millions_of_inserts_and_removes() {
    const N: u64 = 1_000_000;
    let mut m: HashMap<u64, u64> = HashMap::new();
    for i in 0..N {
        assert!(m.insert(value(i), i).is_none(), "duplicate key {i}");
    }
    assert_eq!(m.len(), N as usize);
    for i in (0..N).step_by(2) {
        assert_eq!(m.remove(&value(i)), Some(i), "remove {i}");
    }
    assert_eq!(m.len(), (N / 2) as usize);
    for i in 0..N {
        let got = m.get(&value(i)).copied();
        assert_eq!(got, if i % 2 == 1 { Some(i) } else { None }, "lookup {i}");
    }
    m.shrink_to_fit();
    for i in (1..N).step_by(2) {
        assert_eq!(m.get(&value(i)), Some(&i), "after shrink_to_fit, key {i}");
    }
    for i in (0..N).step_by(2) {
        m.insert(value(i), !i);
    }
    assert_eq!(m.len(), N as usize);
    assert!(m.iter().all(|(&k, &v)| if v & (1 << 63) != 0 {
        k == value(!v) && !v % 2 == 0
    } else {
        k == value(v) && v % 2 == 1
    }));
    drop(m);

    // Owned keys and values: every entry is several allocations.
    let mut owned: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..150_000u32 {
        owned.insert(format!("key-{i}"), (0..i % 17).collect());
    }
    for i in (0..150_000u32).filter(|i| i % 3 == 0) {
        assert_eq!(
            owned.remove(&format!("key-{i}")).map(|v| v.len()),
            Some((i % 17) as usize)
        );
    }
    for i in 0..150_000u32 {
        match owned.get(&format!("key-{i}")) {
            Some(v) => assert!(
                i % 3 != 0
                    && v.len() == (i % 17) as usize
                    && v.iter().enumerate().all(|(j, &x)| x as usize == j)
            ),
            None => assert_eq!(i % 3, 0, "key-{i} vanished"),
        }
    }
    // Byte-string keys of 8..=47 bytes: the id followed by that id's pattern.
    let key = |i: u64| -> Box<[u8]> {
        let mut k = i.to_le_bytes().to_vec();
        k.extend_from_slice(&pattern_box(i, (i % 40) as usize));
        k.into_boxed_slice()
    };
    let set: HashSet<Box<[u8]>> = (0..50_000u64).map(key).collect();
    assert_eq!(set.len(), 50_000);
    assert!((0..50_000u64).all(|i| set.contains(&key(i))));
    assert!(set
        .iter()
        .all(|k| check(&k[8..], u64::from_le_bytes(k[..8].try_into().unwrap()))));
}

#[test]
fn btreemap_inserts_removes_and_ranges() {
    const N: u64 = 600_000;
    let mut m: BTreeMap<u64, u64> = BTreeMap::new();
    for i in 0..N {
        m.insert(value(i), i);
    }
    assert_eq!(m.len(), N as usize);
    for i in (0..N).filter(|i| i % 3 != 0) {
        assert_eq!(m.remove(&value(i)), Some(i));
    }
    assert_eq!(m.len(), N.div_ceil(3) as usize);
    let mut prev = None;
    for (&k, &v) in &m {
        assert!(prev < Some(k), "BTreeMap iteration not sorted");
        assert_eq!(k, value(v));
        assert_eq!(v % 3, 0);
        prev = Some(k);
    }
    let mid = u64::MAX / 2;
    let expected = (0..N).filter(|i| i % 3 == 0 && value(*i) >= mid).count();
    assert_eq!(m.range(mid..).count(), expected);
    for i in (0..N).filter(|i| i % 3 != 0) {
        m.insert(value(i), i);
    }
    assert_eq!(m.len(), N as usize);
    assert!((0..N).all(|i| m.get(&value(i)) == Some(&i)));

    // Owned keys and boxed values.
    let mut owned: BTreeMap<String, Box<[u8]>> = BTreeMap::new();
    for i in 0..60_000u64 {
        owned.insert(
            format!("{:016x}", value(i)),
            pattern_box(i, (i % 300) as usize + 1),
        );
    }
    owned.retain(|k, _| u64::from_str_radix(k, 16).unwrap() % 2 == 0);
    for i in 0..60_000u64 {
        let k = format!("{:016x}", value(i));
        match owned.get(&k) {
            Some(b) => {
                assert!(value(i) % 2 == 0);
                assert!(
                    b.len() == (i % 300) as usize + 1 && check(b, i),
                    "value of {k} corrupted"
                );
            }
            None => assert!(value(i) % 2 == 1, "{k} vanished"),
        }
    }
}

#[test]
fn vecdeque_fifo_and_rotation() {
    let mut q: VecDeque<u64> = VecDeque::new();
    let (mut next_in, mut next_out) = (0u64, 0u64);
    let mut rng = Rng::new(3);
    for _ in 0..300 {
        // Grow by a random amount, then drain a random amount: the ring wraps and reallocates.
        for _ in 0..rng.range(0, 10_000) {
            q.push_back(value(next_in));
            next_in += 1;
        }
        for _ in 0..rng.range(0, q.len()) {
            assert_eq!(q.pop_front(), Some(value(next_out)), "FIFO order broken");
            next_out += 1;
        }
        if rng.chance(1, 10) {
            q.shrink_to_fit();
        }
    }
    assert_eq!(q.len() as u64, next_in - next_out);
    assert!(q.iter().zip(next_out..).all(|(&x, i)| x == value(i)));
    q.rotate_left(q.len() / 3);
    q.make_contiguous().sort_unstable();
    assert!(q.as_slices().1.is_empty());
    let mut expect: Vec<u64> = (next_out..next_in).map(value).collect();
    expect.sort_unstable();
    assert!(q.iter().eq(expect.iter()));

    // Deque of owned buffers, pushed and popped at both ends.
    let mut d: VecDeque<(u64, Box<[u8]>)> = VecDeque::new();
    for i in 0..20_000u64 {
        let b = pattern_box(i, rng.log_uniform(1, 4096));
        if i % 2 == 0 {
            d.push_back((i, b))
        } else {
            d.push_front((i, b))
        }
        if i % 7 == 0 {
            let (id, b) = d.pop_back().unwrap();
            assert!(check(&b, id), "buffer {id} corrupted in deque");
        }
    }
    while let Some((id, b)) = d.pop_front() {
        assert!(check(&b, id), "buffer {id} corrupted in deque");
    }
}

#[test]
fn boxed_slices_across_size_class_boundaries() {
    let sizes = boundary_sizes();
    let mut rng = Rng::new(5);
    for pass in 0..3u64 {
        // All sizes live at once: any overlap between two blocks breaks a pattern.
        let mut live: Vec<(u64, Box<[u8]>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let id = pass * 1_000_000 + i as u64;
                (id, pattern_box(id, n))
            })
            .collect();
        for ((id, b), &n) in live.iter().zip(&sizes) {
            assert_eq!(b.len(), n);
            assert!(
                check(b, *id),
                "pass {pass}: block of {n} bytes corrupted at {:?}",
                first_mismatch(b, *id)
            );
        }
        // Free in random order, checking every survivor after each batch.
        while !live.is_empty() {
            for _ in 0..live.len().min(16) {
                let k = rng.below(live.len() as u64) as usize;
                let (id, b) = live.swap_remove(k);
                assert!(
                    check(&b, id),
                    "pass {pass}: block of {} bytes corrupted before free",
                    b.len()
                );
            }
            for (id, b) in &live {
                assert!(
                    check(b, *id),
                    "pass {pass}: block of {} bytes corrupted by another block's free",
                    b.len()
                );
            }
        }
        // Zeroed allocations (alloc_zeroed) of the same sizes must read as zero,
        // even though they reuse memory that held patterns a moment ago.
        let zeroed: Vec<Box<[u8]>> = sizes
            .iter()
            .map(|&n| vec![0u8; n].into_boxed_slice())
            .collect();
        for (b, &n) in zeroed.iter().zip(&sizes) {
            assert_eq!(b.len(), n);
            assert!(is_zero(b), "pass {pass}: vec![0u8; {n}] is not zero");
        }
    }
}

#[test]
fn over_aligned_boxes() {
    macro_rules! aligned {
        ($name:ident, $align:literal, $size:literal) => {{
            #[repr(align($align))]
            struct $name([u8; $size]);
            let boxes: Vec<Box<$name>> = (0..64u64)
                .map(|i| {
                    let mut b = Box::new($name([0; $size]));
                    fill(&mut b.0, i);
                    b
                })
                .collect();
            for (i, b) in boxes.iter().enumerate() {
                let addr = &**b as *const $name as usize;
                assert_eq!(
                    addr % $align,
                    0,
                    "Box<align({})> at {addr:#x} misaligned",
                    $align
                );
                assert!(
                    check(&b.0, i as u64),
                    "Box<align({})> #{i} corrupted",
                    $align
                );
            }
        }};
    }
    aligned!(A16, 16, 1);
    aligned!(A32, 32, 8);
    aligned!(A64, 64, 24);
    aligned!(A128, 128, 200);
    aligned!(A512, 512, 1000);
    aligned!(A4096, 4096, 4096);
    aligned!(A8192, 8192, 100);
    aligned!(A65536, 65536, 65536);
}

#[test]
fn rc_tree_with_weak_parents() {
    struct Node {
        val: u64,
        parent: RefCell<Weak<Node>>,
        children: RefCell<Vec<Rc<Node>>>,
        drops: Rc<Cell<usize>>,
    }
    impl Drop for Node {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
        }
    }
    const N: usize = 100_000;
    let drops = Rc::new(Cell::new(0));
    let mut rng = Rng::new(9);
    let mk = |val: u64| {
        Rc::new(Node {
            val,
            parent: RefCell::new(Weak::new()),
            children: RefCell::new(Vec::new()),
            drops: drops.clone(),
        })
    };
    let mut all: Vec<Rc<Node>> = vec![mk(0)];
    for i in 1..N {
        let parent = all[rng.below(i as u64) as usize].clone();
        let child = mk(value(i as u64));
        *child.parent.borrow_mut() = Rc::downgrade(&parent);
        parent.children.borrow_mut().push(child.clone());
        all.push(child);
    }
    let leaf = Rc::downgrade(all.last().unwrap());
    let root = all[0].clone();
    // Parent links and strong counts (one in `all`, one in the parent's children).
    for (i, n) in all.iter().enumerate().skip(1) {
        let p = n.parent.borrow().upgrade().expect("parent alive");
        assert!(
            p.children.borrow().iter().any(|c| Rc::ptr_eq(c, n)),
            "node {i} missing from its parent"
        );
        assert_eq!(Rc::strong_count(n), 2);
    }
    drop(all);
    // Iterative traversal from the root sees every node exactly once.
    let (mut count, mut sum) = (0usize, 0u64);
    let mut stack = vec![root.clone()];
    while let Some(n) = stack.pop() {
        count += 1;
        sum = sum.wrapping_add(n.val);
        stack.extend(n.children.borrow().iter().cloned());
    }
    assert_eq!(count, N);
    assert_eq!(
        sum,
        (1..N as u64)
            .map(value)
            .fold(0u64, |a, b| a.wrapping_add(b))
    );
    assert!(leaf.upgrade().is_some());
    assert_eq!(drops.get(), 0);
    drop(root);
    // Dropping the root frees the whole tree (iteratively deep trees are fine: random
    // parent choice keeps depth logarithmic-ish).
    assert!(leaf.upgrade().is_none(), "leaf outlived the tree");
    assert_eq!(drops.get(), N, "not every node was dropped");
}

#[test]
fn arc_dag_shared_across_threads() {
    struct Node {
        val: u64,
        edges: Vec<Arc<Node>>,
        drops: Arc<AtomicUsize>,
    }
    impl Drop for Node {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
    }
    const N: usize = 50_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(10);
    let mut nodes: Vec<Arc<Node>> = Vec::with_capacity(N);
    for i in 0..N {
        let edges = (0..rng.range(0, 3.min(i)))
            .map(|_| nodes[rng.below(i as u64) as usize].clone())
            .collect();
        nodes.push(Arc::new(Node {
            val: value(i as u64),
            edges,
            drops: drops.clone(),
        }));
    }
    let expected_edge_sum: u64 = nodes
        .iter()
        .flat_map(|n| n.edges.iter().map(|e| e.val))
        .fold(0, u64::wrapping_add);
    let shared = Arc::new(nodes);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                // Each thread clones and drops Arcs (refcount traffic) and allocates its own Vecs.
                let mut local: Vec<Arc<Node>> = shared.iter().skip(t).step_by(4).cloned().collect();
                let mut sum = 0u64;
                for n in shared.iter() {
                    let copies: Vec<Arc<Node>> = n.edges.to_vec();
                    sum = copies.iter().map(|e| e.val).fold(sum, u64::wrapping_add);
                }
                local.retain(|n| n.val % 2 == 0);
                (sum, local.len())
            })
        })
        .collect();
    for h in handles {
        let (sum, _) = h.join().unwrap();
        assert_eq!(sum, expected_edge_sum);
    }
    assert_eq!(Arc::strong_count(&shared), 1);
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(shared);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        N,
        "not every Arc node was dropped"
    );
}

#[test]
fn sorting_big_vecs() {
    let mut rng = Rng::new(77);
    let orig: Vec<u64> = (0..1_000_000).map(|_| rng.next_u64()).collect();
    let checksum = |v: &[u64]| {
        v.iter().fold((0u64, 0u64), |(s, x), &e| {
            (s.wrapping_add(e), x ^ e.rotate_left((e % 64) as u32))
        })
    };
    let mut stable = orig.clone(); // stable sort allocates a scratch buffer
    stable.sort();
    let mut unstable = orig.clone();
    unstable.sort_unstable();
    assert!(
        stable.windows(2).all(|w| w[0] <= w[1]),
        "sort() output not sorted"
    );
    assert_eq!(stable, unstable);
    assert_eq!(
        checksum(&stable),
        checksum(&orig),
        "sorting changed the multiset"
    );

    // Sorting owned strings moves pointers around; sort_by_cached_key allocates keys.
    let mut strings: Vec<String> = (0..200_000u64).map(|i| format!("{:x}", value(i))).collect();
    let mut by_key = strings.clone();
    strings.sort();
    assert!(strings.windows(2).all(|w| w[0] <= w[1]));
    by_key.sort_by_cached_key(|s| s.clone());
    assert_eq!(strings, by_key);
    let set: HashSet<&str> = strings.iter().map(String::as_str).collect();
    assert!((0..200_000u64).all(|i| set.contains(format!("{:x}", value(i)).as_str())));

    // Records with boxed payloads sorted by key: payloads must follow their keys.
    let mut recs: Vec<(u64, Box<[u8]>)> = (0..50_000u64)
        .map(|i| (value(i), pattern_box(i, (i % 100) as usize + 1)))
        .collect();
    recs.sort_by_key(|r| r.0);
    let index: HashMap<u64, u64> = (0..50_000u64).map(|i| (value(i), i)).collect();
    for (k, b) in &recs {
        let id = index[k];
        assert!(
            b.len() == (id % 100) as usize + 1 && check(b, id),
            "payload of record {id} corrupted"
        );
    }
}
