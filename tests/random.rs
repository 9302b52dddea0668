//! Randomised alloc / alloc_zeroed / realloc / dealloc sequences that call
//! `GoHeap` through the `GlobalAlloc` trait directly, so every layout is exact:
//! sizes 1 B to 4 MiB (log-uniform), alignments 1 B to 64 KiB. Checks, for
//! every pointer returned: non-null, aligned as requested, not overlapping any
//! other live block (address-range bookkeeping), all zero when it came from
//! alloc_zeroed (memory is recycled, so this checks re-zeroing); every block carries a
//! pattern derived from its id that is re-checked before each realloc/free and
//! periodically for all live blocks (catches overlaps and stray writes); realloc
//! must preserve the prefix. A deterministic xorshift PRNG with several seeds
//! (rstest cases) keeps failures reproducible; op counts keep each case to a
//! second or two in debug builds.

mod common;

use common::{check, fill, first_mismatch, is_zero, Rng};
use goheap::GoHeap;
use rstest::rstest;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;

#[global_allocator]
static GLOBAL: GoHeap = GoHeap;

const MAX_SIZE: usize = 4 << 20;

struct Block {
    ptr: *mut u8,
    layout: Layout,
    id: u64,
}

impl Block {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` came from GoHeap for `layout`, is still live, and holds
        // `layout.size()` initialised bytes (filled right after allocation).
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

/// Parameters of one randomised run.
struct Params {
    seed: u64,
    ops: usize,
    slots: usize,
    min_size: usize,
    max_size: usize,
    /// log2 of the largest alignment drawn.
    max_align_log2: u32,
    /// Verify every live block every this many ops.
    full_check_every: usize,
}

/// Live blocks plus an address map used to detect overlapping allocations.
struct Heap {
    slots: Vec<Option<Block>>,
    ranges: BTreeMap<usize, (usize, u64)>, // start -> (end, id)
    seed: u64,
}

impl Heap {
    fn insert_range(&mut self, b: &Block, op: usize) {
        let (start, end) = (b.ptr as usize, b.ptr as usize + b.layout.size());
        if let Some((&s, &(e, id))) = self.ranges.range(..end).next_back() {
            assert!(e <= start, "seed {} op {op}: block {} [{start:#x},{end:#x}) overlaps live block {id} [{s:#x},{e:#x})", self.seed, b.id);
        }
        self.ranges.insert(start, (end, b.id));
    }

    fn remove_range(&mut self, b: &Block) {
        let removed = self.ranges.remove(&(b.ptr as usize));
        assert_eq!(
            removed.map(|r| r.1),
            Some(b.id),
            "seed {}: address map lost block {}",
            self.seed,
            b.id
        );
    }

    fn verify(&self, b: &Block, op: usize, what: &str) {
        assert!(
            check(b.bytes(), b.id),
            "seed {} op {op}: block {} (ptr {:p}, size {}, align {}) corrupted before {what}: first bad byte at offset {:?}",
            self.seed,
            b.id,
            b.ptr,
            b.layout.size(),
            b.layout.align(),
            first_mismatch(b.bytes(), b.id)
        );
    }

    fn verify_all(&self, op: usize) {
        for b in self.slots.iter().flatten() {
            self.verify(b, op, "periodic check");
        }
    }
}

fn assert_aligned(ptr: *mut u8, align: usize, seed: u64, op: usize, what: &str) {
    assert!(!ptr.is_null(), "seed {seed} op {op}: {what} returned null");
    assert_eq!(
        ptr as usize % align,
        0,
        "seed {seed} op {op}: {what} returned {ptr:p}, not aligned to {align}"
    );
}

fn draw_layout(rng: &mut Rng, p: &Params) -> Layout {
    let size = rng.log_uniform(p.min_size, p.max_size);
    // Half the time a "natural" small alignment, otherwise anything up to the maximum.
    let align_log2 = if rng.chance(1, 2) {
        rng.below(5.min(u64::from(p.max_align_log2) + 1)) as u32
    } else {
        rng.below(u64::from(p.max_align_log2) + 1) as u32
    };
    Layout::from_size_align(size, 1 << align_log2).unwrap()
}

fn draw_new_size(rng: &mut Rng, old: usize, p: &Params) -> usize {
    let n = match rng.below(4) {
        // small nudge up or down (in-place realloc territory)
        0 => {
            let d = rng.range(1, 64);
            if rng.chance(1, 2) {
                old.saturating_sub(d)
            } else {
                old + d
            }
        }
        // grow by up to 2x
        1 => old + rng.range(1, old.max(1)),
        // shrink to a fraction
        2 => old / rng.range(1, 8),
        // anything
        _ => rng.log_uniform(p.min_size, p.max_size),
    };
    n.clamp(p.min_size.max(1), p.max_size)
}

fn run(p: Params) {
    let mut rng = Rng::new(p.seed);
    let mut heap = Heap {
        slots: (0..p.slots).map(|_| None).collect(),
        ranges: BTreeMap::new(),
        seed: p.seed,
    };
    let mut next_id = p.seed << 32;
    let (mut allocs, mut reallocs, mut frees, mut zeroed) = (0usize, 0usize, 0usize, 0usize);

    for op in 0..p.ops {
        let k = rng.below(p.slots as u64) as usize;
        match heap.slots[k].take() {
            None => {
                let layout = draw_layout(&mut rng, &p);
                let want_zero = rng.chance(1, 4);
                let ptr = if want_zero {
                    // SAFETY: layout has non-zero size (min_size >= 1).
                    unsafe { GoHeap.alloc_zeroed(layout) }
                } else {
                    // SAFETY: layout has non-zero size.
                    unsafe { GoHeap.alloc(layout) }
                };
                assert_aligned(
                    ptr,
                    layout.align(),
                    p.seed,
                    op,
                    if want_zero { "alloc_zeroed" } else { "alloc" },
                );
                next_id += 1;
                let b = Block {
                    ptr,
                    layout,
                    id: next_id,
                };
                if want_zero {
                    zeroed += 1;
                    // SAFETY: alloc_zeroed returned `size` bytes, all initialised (to zero).
                    let bytes = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
                    assert!(
                        is_zero(bytes),
                        "seed {} op {op}: alloc_zeroed({layout:?}) = {ptr:p} has non-zero bytes",
                        p.seed
                    );
                }
                heap.insert_range(&b, op);
                // For plain alloc the memory is uninitialised: only write it.
                fill(
                    // SAFETY: `ptr` is a fresh allocation of `size` bytes owned by `b`;
                    // we only write through this slice (MaybeUninit semantics are
                    // respected because `fill` never reads `dst`).
                    unsafe { std::slice::from_raw_parts_mut(b.ptr, b.layout.size()) },
                    b.id,
                );
                heap.slots[k] = Some(b);
                allocs += 1;
            }
            Some(mut b) => {
                if rng.chance(1, 2) {
                    heap.verify(&b, op, "dealloc");
                    heap.remove_range(&b);
                    // SAFETY: b.ptr was returned by GoHeap for b.layout and is live.
                    unsafe { GoHeap.dealloc(b.ptr, b.layout) };
                    frees += 1;
                } else {
                    heap.verify(&b, op, "realloc");
                    let old = b.layout.size();
                    let new_size = draw_new_size(&mut rng, old, &p);
                    heap.remove_range(&b);
                    // SAFETY: b.ptr is live with layout b.layout; new_size > 0 and,
                    // rounded up to b.layout.align() (<= 64 KiB), far below isize::MAX.
                    let np = unsafe { GoHeap.realloc(b.ptr, b.layout, new_size) };
                    assert_aligned(np, b.layout.align(), p.seed, op, "realloc");
                    b.ptr = np;
                    let keep = old.min(new_size);
                    // SAFETY: the first `keep` bytes of the new block are initialised
                    // (realloc copies the old contents).
                    let prefix = unsafe { std::slice::from_raw_parts(np, keep) };
                    assert!(
                        check(prefix, b.id),
                        "seed {} op {op}: realloc of block {} from {old} to {new_size} (align {}) lost its prefix: first bad byte {:?}",
                        p.seed,
                        b.id,
                        b.layout.align(),
                        first_mismatch(prefix, b.id)
                    );
                    b.layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
                    heap.insert_range(&b, op);
                    if new_size > old {
                        // SAFETY: bytes old..new_size belong to the block; only written.
                        let tail = unsafe { std::slice::from_raw_parts_mut(np, new_size) };
                        fill(tail, b.id); // same id: the prefix is rewritten with identical bytes
                    }
                    heap.slots[k] = Some(b);
                    reallocs += 1;
                }
            }
        }
        if (op + 1) % p.full_check_every == 0 {
            heap.verify_all(op);
        }
    }
    heap.verify_all(p.ops);
    let remaining: Vec<Block> = heap.slots.iter_mut().filter_map(Option::take).collect();
    for b in remaining {
        heap.verify(&b, p.ops, "final dealloc");
        // SAFETY: b.ptr was returned by GoHeap for b.layout and is live.
        unsafe { GoHeap.dealloc(b.ptr, b.layout) };
    }
    // The run must actually have exercised every operation.
    assert!(allocs > p.ops / 4 && reallocs > p.ops / 10 && frees > p.ops / 10 && zeroed > p.ops / 30, "seed {}: too few ops: {allocs} allocs, {reallocs} reallocs, {frees} frees, {zeroed} zeroed", p.seed);
}

#[rstest]
#[case(1)]
#[case(2)]
#[case(3)]
#[case(0xDEAD_BEEF)]
#[case(0x0123_4567_89AB_CDEF)]
fn random_mixed_sizes_and_alignments(#[case] seed: u64) {
    run(Params {
        seed,
        ops: 10_000,
        slots: 48,
        min_size: 1,
        max_size: MAX_SIZE,
        max_align_log2: 16,
        full_check_every: 500,
    });
}

#[rstest]
#[case(10)]
#[case(11)]
#[case(12)]
fn random_small_and_tiny(#[case] seed: u64) {
    // Sizes 1..=512 B with alignments up to 16: the tiny allocator and small size classes.
    run(Params {
        seed,
        ops: 150_000,
        slots: 2048,
        min_size: 1,
        max_size: 512,
        max_align_log2: 4,
        full_check_every: 10_000,
    });
}

#[rstest]
#[case(20)]
#[case(21)]
fn random_medium_high_alignment(#[case] seed: u64) {
    // Around the 32 KiB small/large boundary, alignments up to 64 KiB.
    run(Params {
        seed,
        ops: 15_000,
        slots: 64,
        min_size: 8 << 10,
        max_size: 128 << 10,
        max_align_log2: 16,
        full_check_every: 1000,
    });
}

#[rstest]
#[case(30, 1)]
#[case(31, 8)]
#[case(32, 64)]
#[case(33, 4096)]
#[case(34, 65536)]
fn realloc_chain_grow_and_shrink(#[case] seed: u64, #[case] align: usize) {
    // One block grown from 1 B to 4 MiB in random steps, then shrunk back, with a
    // few other blocks allocated in between so in-place growth is not always possible.
    let mut rng = Rng::new(seed);
    let id = 1000 + seed;
    let mut layout = Layout::from_size_align(1, align).unwrap();
    // SAFETY: non-zero size.
    let mut ptr = unsafe { GoHeap.alloc(layout) };
    assert_aligned(ptr, align, seed, 0, "alloc");
    // SAFETY: 1 byte owned by us.
    fill(unsafe { std::slice::from_raw_parts_mut(ptr, 1) }, id);
    let mut others = Vec::new();
    let mut step = 0;
    let mut sizes: Vec<usize> = Vec::new();
    let mut s = 1usize;
    while s < MAX_SIZE {
        s = (s + rng.range(1, s.max(2) / 2 + 16)).min(MAX_SIZE);
        sizes.push(s);
    }
    let down: Vec<usize> = sizes.iter().rev().skip(1).copied().chain([1]).collect();
    sizes.extend(down);
    for &new_size in &sizes {
        step += 1;
        let old = layout.size();
        // SAFETY: ptr is live with `layout`; new_size > 0 and small.
        let np = unsafe { GoHeap.realloc(ptr, layout, new_size) };
        assert_aligned(np, align, seed, step, "realloc");
        let keep = old.min(new_size);
        // SAFETY: the first `keep` bytes were copied by realloc.
        let prefix = unsafe { std::slice::from_raw_parts(np, keep) };
        assert!(check(prefix, id), "seed {seed} step {step}: realloc {old} -> {new_size} (align {align}) lost the prefix at {:?}", first_mismatch(prefix, id));
        // SAFETY: the block now has new_size bytes, all ours; `fill` only writes.
        fill(unsafe { std::slice::from_raw_parts_mut(np, new_size) }, id);
        ptr = np;
        layout = Layout::from_size_align(new_size, align).unwrap();
        if rng.chance(1, 3) {
            let l = Layout::from_size_align(rng.log_uniform(1, 64 << 10), 8).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l) };
            assert_aligned(p, 8, seed, step, "alloc (neighbour)");
            let oid = 5_000_000 + step as u64;
            // SAFETY: fresh block of l.size() bytes; only written.
            fill(unsafe { std::slice::from_raw_parts_mut(p, l.size()) }, oid);
            others.push((p, l, oid));
        }
    }
    assert_eq!(layout.size(), 1);
    for (p, l, oid) in others {
        // SAFETY: p is live with l, fully initialised.
        let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
        assert!(
            check(bytes, oid),
            "seed {seed}: neighbour block {oid} corrupted by the realloc chain"
        );
        // SAFETY: p was returned by GoHeap for l.
        unsafe { GoHeap.dealloc(p, l) };
    }
    // SAFETY: ptr is live with layout.
    unsafe { GoHeap.dealloc(ptr, layout) };
}

#[rstest]
#[case(1)]
#[case(8)]
#[case(24)]
#[case(100)]
#[case(4096)]
#[case(32768)]
#[case(40000)]
#[case(3 << 20)]
fn alloc_zeroed_after_reuse_is_zero(#[case] size: usize) {
    // Fill blocks with 0xFF, free them, then alloc_zeroed the same layouts: memory
    // recycled from the freed blocks must come back zeroed.
    let layout = Layout::from_size_align(size, 8.min(size.next_power_of_two())).unwrap();
    let count = (8 << 20) / size.max(64);
    let count = count.clamp(4, 4096);
    for round in 0..3 {
        let ptrs: Vec<*mut u8> = (0..count)
            .map(|i| {
                // SAFETY: non-zero size.
                let p = unsafe { GoHeap.alloc(layout) };
                assert_aligned(p, layout.align(), round, i, "alloc");
                // SAFETY: p is a fresh block of `size` bytes.
                unsafe { std::ptr::write_bytes(p, 0xFF, size) };
                p
            })
            .collect();
        for &p in &ptrs {
            // SAFETY: p was returned by GoHeap for layout.
            unsafe { GoHeap.dealloc(p, layout) };
        }
        let zs: Vec<*mut u8> = (0..count)
            .map(|i| {
                // SAFETY: non-zero size.
                let p = unsafe { GoHeap.alloc_zeroed(layout) };
                assert_aligned(p, layout.align(), round, i, "alloc_zeroed");
                // SAFETY: alloc_zeroed returned `size` initialised bytes.
                let bytes = unsafe { std::slice::from_raw_parts(p, size) };
                assert!(
                    is_zero(bytes),
                    "round {round}: alloc_zeroed({layout:?}) #{i} = {p:p} reused dirty memory"
                );
                // Dirty it for the next round.
                // SAFETY: p is ours, `size` bytes.
                unsafe { std::ptr::write_bytes(p, 0xA5, size) };
                p
            })
            .collect();
        for p in zs {
            // SAFETY: p was returned by GoHeap for layout.
            unsafe { GoHeap.dealloc(p, layout) };
        }
    }
}
