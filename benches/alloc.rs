//! Allocator comparison benchmark: goheap vs mimalloc vs the system allocator (glibc malloc).
//!
//! WHAT IS MEASURED
//! Every allocator is called directly through the `core::alloc::GlobalAlloc` trait
//! (`alloc` / `dealloc` / `realloc`) on a `static` instance; none of them is installed as this
//! binary's `#[global_allocator]`, so the harness itself (criterion, Vec, threads, channels)
//! keeps using `System`. All three run in the same process and the same `cargo bench` run.
//! Every workload is one criterion group; the allocator is the benchmark "function" name
//! (`goheap`, `mimalloc`, `system`) and the case is the parameter, e.g. `pairs/goheap/64B`.
//!
//! | group               | one criterion iteration is                                             |
//! |---------------------|------------------------------------------------------------------------|
//! | `pairs`             | one `alloc` + one `dealloc` of one layout (best case: LIFO reuse);     |
//! |                     | sizes: tiny 8 B and 5 B with align 1 (like a short `String`), small    |
//! |                     | 16 B..4 KiB, 32 KiB, large 256 KiB and 4 MiB                           |
//! | `batch`             | 1000 allocations of mixed sizes 8..2048 B (log-uniform, fixed seed)    |
//! |                     | into a preallocated array, then 1000 frees in `fifo` (allocation)      |
//! |                     | order, `lifo` (reverse) order or `shuffled` order                      |
//! | `realloc_growth`    | alloc 16 B, `realloc` doubling up to 1 MiB (16 reallocs), free         |
//! | `cross_thread_free` | one batch of 10,000 objects (`64B` or `mixed` 8..2048 B) allocated     |
//! |                     | on a producer thread and freed on a consumer thread (2 batches in      |
//! |                     | flight, handed over as `usize` in preallocated Vecs, bounded channel)  |
//! | `thread_churn`      | on each of `1thread` / `4threads` threads: 1000 steps of "free a       |
//! |                     | random slot of a 256-object live ring, allocate a mixed-size object    |
//! |                     | into it"; wall time from the first thread's start to the last one's    |
//! |                     | end (`iter_custom`). With 2 cores, 4 threads oversubscribe the CPU.    |
//!
//! Every allocated block gets one byte written per 4 KiB page plus its last byte (volatile
//! writes), and pointers pass through `std::hint::black_box`, so no allocator can skip work
//! by handing out memory that is never touched, and the compiler cannot elide the calls.
//! The harness' own work stays out of the timed region: arrays, size tables, channels and
//! threads are created outside it (threads are spawned per criterion sample, and the
//! timed span starts after a `Barrier`, once each thread's allocator state is warmed up).
//!
//! HOW TO READ IT
//! `cargo bench --bench alloc` prints, per benchmark, `time: [low estimate high]` (time per
//! iteration as defined above; lower is better) and the throughput in elements (allocations)
//! per second. `python3 benches/ratios.py` then turns the saved results into a Markdown
//! table with goheap/mimalloc and goheap/System ratios (< 1.0 means goheap is faster) and
//! their geometric means, marking noisy times with `~`. `-- --quick` gives a fast, rough run;
//! the settings in `config()` (20 samples, 0.5 s warm-up, 2 s measurement per benchmark,
//! 54 benchmarks) make a full run take about 2.5 minutes on 2 cores, plus the build.
//! This machine is shared, so expect run-to-run noise of 10-30% on the nanosecond `pairs`
//! and more on `cross_thread_free` for System (glibc arena-lock contention).
//! Before the real allocator lands, `goheap::GoHeap` forwards to `System`, so its numbers
//! then match the `system` ones.

use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::mpsc::sync_channel;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

static GOHEAP: goheap::GoHeap = goheap::GoHeap;
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
static SYSTEM: System = System;

/// Runs `$f(group, "name", &ALLOCATOR, extra args...)` once per allocator, always in the
/// same order, so every workload gets the three benchmarks side by side in one group.
macro_rules! each_allocator {
    ($f:ident($g:expr $(, $arg:expr)*)) => {{
        $f($g, "goheap", &GOHEAP $(, $arg)*);
        $f($g, "mimalloc", &MIMALLOC $(, $arg)*);
        $f($g, "system", &SYSTEM $(, $arg)*);
    }};
}

const PAGE: usize = 4096;

// ---------------------------------------------------------------------------------------------
// helpers

/// Allocates `layout` from `a`, aborting the bench on failure, and touches the block.
#[inline(always)]
fn alloc_touch<A: GlobalAlloc>(a: &A, layout: Layout) -> *mut u8 {
    // SAFETY: every layout used in this file has a non-zero size (see the tables below).
    let p = unsafe { a.alloc(layout) };
    if p.is_null() {
        handle_alloc_error(layout);
    }
    // SAFETY: `p` is a live block of `layout.size()` bytes just returned by `a`.
    unsafe { touch(p, 0, layout.size()) };
    black_box(p)
}

/// Frees a block obtained from `alloc_touch(a, layout)`.
///
/// # Safety
/// `p` must have been allocated by `a` with exactly `layout` and not freed yet.
#[inline(always)]
unsafe fn free<A: GlobalAlloc>(a: &A, p: *mut u8, layout: Layout) {
    // SAFETY: forwarded from the caller's contract.
    unsafe { a.dealloc(black_box(p), layout) }
}

/// Writes one byte per 4 KiB page of `p[from..to]` and the byte at `to - 1`.
///
/// # Safety
/// `p[from..to]` must be writable memory and `from < to`.
#[inline(always)]
unsafe fn touch(p: *mut u8, from: usize, to: usize) {
    let mut off = from;
    while off < to {
        // SAFETY: `off < to`, within the writable range guaranteed by the caller.
        unsafe { p.add(off).write_volatile(off as u8 | 1) };
        off += PAGE;
    }
    // SAFETY: `to - 1 >= from` is inside the range.
    unsafe { p.add(to - 1).write_volatile(0xA5) };
}

fn xorshift64(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// `n` deterministic layouts with sizes in 8..2048 B, log-uniform (each of the power-of-two
/// bands [8,16), [16,32), ... [1024,2048) equally likely), align 8.
fn mixed_layouts(n: usize, seed: u64) -> Vec<Layout> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = xorshift64(x);
            let lo = 8usize << (x % 8);
            let size = lo + ((x >> 8) as usize % lo);
            Layout::from_size_align(size, 8).unwrap()
        })
        .collect()
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

// ---------------------------------------------------------------------------------------------
// 1. alloc+free pairs

fn pair<A: GlobalAlloc>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    a: &'static A,
    case: &str,
    layout: Layout,
) {
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new(name, case), |b| {
        b.iter(|| {
            let p = alloc_touch(a, layout);
            // SAFETY: `p` was just allocated from `a` with `layout`.
            unsafe { free(a, p, layout) };
        })
    });
}

fn bench_pairs(c: &mut Criterion) {
    let mut g = c.benchmark_group("pairs");
    let cases: &[(&str, usize, usize)] = &[
        ("tiny_8B_align1", 8, 1),
        ("tiny_5B_align1", 5, 1),
        ("16B", 16, 8),
        ("64B", 64, 8),
        ("256B", 256, 8),
        ("1KiB", 1024, 8),
        ("4KiB", 4096, 8),
        ("32KiB", 32 << 10, 8),
        ("256KiB", 256 << 10, 8),
        ("4MiB", 4 << 20, 8),
    ];
    for &(case, size, align) in cases {
        let layout = Layout::from_size_align(size, align).unwrap();
        each_allocator!(pair(&mut g, case, layout));
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. batch of 1000 mixed-size objects

const BATCH: usize = 1000;

fn batch<A: GlobalAlloc>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    a: &'static A,
    case: &str,
    layouts: &[Layout],
    free_order: &[usize],
) {
    g.throughput(Throughput::Elements(layouts.len() as u64));
    // Preallocated outside the timed loop (by the harness' System allocator).
    let mut ptrs: Vec<*mut u8> = vec![std::ptr::null_mut(); layouts.len()];
    g.bench_function(BenchmarkId::new(name, case), |b| {
        b.iter(|| {
            for (slot, &l) in ptrs.iter_mut().zip(layouts) {
                *slot = alloc_touch(a, l);
            }
            black_box(&mut ptrs);
            for &i in free_order {
                // SAFETY: `free_order` is a permutation of 0..len, so every block allocated
                // above is freed exactly once, with the layout it was allocated with.
                unsafe { free(a, ptrs[i], layouts[i]) };
            }
        })
    });
}

fn bench_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    let layouts = mixed_layouts(BATCH, 0x9E37_79B9_7F4A_7C15);
    let fifo: Vec<usize> = (0..BATCH).collect();
    let lifo: Vec<usize> = (0..BATCH).rev().collect();
    let mut shuffled = fifo.clone();
    let mut x = 0xD1B5_4A32_D192_ED03u64;
    for i in (1..BATCH).rev() {
        x = xorshift64(x);
        shuffled.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for (case, order) in [("fifo", &fifo), ("lifo", &lifo), ("shuffled", &shuffled)] {
        each_allocator!(batch(&mut g, case, &layouts, order));
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 3. realloc growth 16 B -> 1 MiB

fn realloc_growth<A: GlobalAlloc>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, a: &'static A) {
    const START: usize = 16;
    const END: usize = 1 << 20;
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new(name, "16B_to_1MiB"), |b| {
        b.iter(|| {
            let mut layout = Layout::from_size_align(START, 8).unwrap();
            let mut p = alloc_touch(a, layout);
            // SAFETY: `p` holds `START` writable bytes.
            unsafe { p.write(0x5A) };
            while layout.size() < END {
                let new_size = layout.size() * 2;
                // SAFETY: `p` is live, allocated by `a` with `layout`; `new_size` is non-zero
                // and does not overflow `isize` when rounded up to align 8.
                p = unsafe { a.realloc(black_box(p), layout, new_size) };
                if p.is_null() {
                    handle_alloc_error(layout);
                }
                // SAFETY: `p` now holds `new_size` writable bytes; touch the grown half.
                unsafe { touch(p, layout.size(), new_size) };
                layout = Layout::from_size_align(new_size, 8).unwrap();
            }
            // SAFETY: byte 0 was initialized before the first realloc and realloc preserves it.
            let first = unsafe { p.read() };
            assert_eq!(first, 0x5A, "realloc lost the block's contents");
            // SAFETY: `p` is live, allocated (via realloc) by `a` with `layout`.
            unsafe { free(a, p, layout) };
        })
    });
}

fn bench_realloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("realloc_growth");
    each_allocator!(realloc_growth(&mut g));
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 4. cross-thread free: producer allocates, consumer frees

const XBATCH: usize = 10_000;

/// Runs `iters` timed batches (after one untimed warm-up batch) through a producer/consumer
/// pair and returns the wall time from the producer's first timed allocation to the
/// consumer's last free.
fn cross_thread_run<A: GlobalAlloc + Sync>(
    a: &'static A,
    layouts: &[Layout],
    iters: u64,
) -> Duration {
    // Two preallocated buffers of `usize` travel producer -> consumer -> producer through
    // bounded channels (array-backed: no allocation per message). Allocated here, outside
    // the timed region, by the harness' System allocator.
    let (full_tx, full_rx) = sync_channel::<Vec<usize>>(2);
    let (empty_tx, empty_rx) = sync_channel::<Vec<usize>>(2);
    for _ in 0..2 {
        empty_tx.send(Vec::with_capacity(layouts.len())).unwrap();
    }
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let barrier = &barrier;
        let producer = s.spawn(move || {
            let mut start = Instant::now();
            for batch in 0..=iters {
                let mut buf = empty_rx.recv().unwrap();
                for &l in layouts {
                    buf.push(alloc_touch(a, l) as usize);
                }
                full_tx.send(buf).unwrap();
                if batch == 0 {
                    // Warm-up batch handed over; start the clock once the consumer freed it.
                    barrier.wait();
                    start = Instant::now();
                }
            }
            start
        });
        let consumer = s.spawn(move || {
            for batch in 0..=iters {
                let mut buf = full_rx.recv().unwrap();
                for (&p, &l) in buf.iter().zip(layouts) {
                    // SAFETY: the producer allocated `p` from `a` with `l` (same index into
                    // `layouts`) and handed it over exactly once; it is freed exactly once.
                    unsafe { free(a, p as *mut u8, l) };
                }
                buf.clear();
                // The producer may already be gone after its last batch; ignore that error.
                let _ = empty_tx.send(buf);
                if batch == 0 {
                    barrier.wait();
                }
            }
            Instant::now()
        });
        let start = producer.join().unwrap();
        let end = consumer.join().unwrap();
        end.duration_since(start)
    })
}

fn cross_thread<A: GlobalAlloc + Sync>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    a: &'static A,
    case: &str,
    layouts: &[Layout],
) {
    g.throughput(Throughput::Elements(layouts.len() as u64));
    g.bench_function(BenchmarkId::new(name, case), |b| {
        b.iter_custom(|iters| cross_thread_run(a, layouts, iters))
    });
}

fn bench_cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_thread_free");
    let small = vec![Layout::from_size_align(64, 8).unwrap(); XBATCH];
    let mixed = mixed_layouts(XBATCH, 0x2545_F491_4F6C_DD1D);
    for (case, layouts) in [("64B", &small), ("mixed", &mixed)] {
        each_allocator!(cross_thread(&mut g, case, layouts));
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 5. several threads churning at once

const RING: usize = 256; // live objects per thread (power of two)
const CHURN_STEPS: u64 = 1000; // free+alloc steps per thread per criterion iteration
const CHURN_TABLE: usize = 4096; // mixed layouts shared by all threads (power of two)

/// One churn thread: fill the ring (untimed), wait for the others, run `steps` steps,
/// then free the ring (untimed). Returns the timed span.
fn churn_thread<A: GlobalAlloc>(
    a: &A,
    table: &[Layout],
    seed: u64,
    steps: u64,
    barrier: &Barrier,
) -> (Instant, Instant) {
    let mut ring = [(std::ptr::null_mut::<u8>(), table[0]); RING];
    for (i, slot) in ring.iter_mut().enumerate() {
        let l = table[(seed as usize + i) % CHURN_TABLE];
        *slot = (alloc_touch(a, l), l);
    }
    let mut x = seed;
    barrier.wait();
    let start = Instant::now();
    for _ in 0..steps {
        x = xorshift64(x);
        let slot = &mut ring[x as usize % RING];
        // SAFETY: every ring slot always holds a live block allocated from `a` with the
        // layout stored beside it; it is replaced right after being freed.
        unsafe { free(a, slot.0, slot.1) };
        let l = table[(x >> 32) as usize % CHURN_TABLE];
        *slot = (alloc_touch(a, l), l);
    }
    let end = Instant::now();
    for &(p, l) in &ring {
        // SAFETY: see above; after this loop the ring is dropped and never used again.
        unsafe { free(a, p, l) };
    }
    (start, end)
}

fn churn<A: GlobalAlloc + Sync>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    a: &'static A,
    threads: usize,
    table: &[Layout],
) {
    let case = if threads == 1 {
        "1thread".to_string()
    } else {
        format!("{threads}threads")
    };
    g.throughput(Throughput::Elements(threads as u64 * CHURN_STEPS));
    g.bench_function(BenchmarkId::new(name, case), |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(threads);
            let steps = iters * CHURN_STEPS;
            thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let barrier = &barrier;
                        let seed = 0x853C_49E6_748F_EA9B ^ ((t as u64 + 1) * 0x9E37_79B9_7F4A_7C15);
                        s.spawn(move || churn_thread(a, table, seed, steps, barrier))
                    })
                    .collect();
                let spans: Vec<(Instant, Instant)> =
                    handles.into_iter().map(|h| h.join().unwrap()).collect();
                let start = spans.iter().map(|s| s.0).min().unwrap();
                let end = spans.iter().map(|s| s.1).max().unwrap();
                end.duration_since(start)
            })
        })
    });
}

fn bench_churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("thread_churn");
    let table = mixed_layouts(CHURN_TABLE, 0xA076_1D64_78BD_642F);
    for threads in [1usize, 4] {
        each_allocator!(churn(&mut g, threads, &table));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_pairs, bench_batch, bench_realloc, bench_cross_thread, bench_churn
}
criterion_main!(benches);
