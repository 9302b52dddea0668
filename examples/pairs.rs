//! Alloc+free pairs in a tight loop, goheap against mimalloc and System in
//! the same process: `cargo run --release --example pairs -- SIZE ALIGN`
//! (`N=…` iterations, default 10 M). Each pair writes the first and the last
//! byte of the block, as the criterion benchmark does; this loop carries none
//! of criterion's per-iteration overhead.
use std::alloc::{GlobalAlloc, Layout};
/// Nanoseconds per alloc+free pair of `l` from `a`, over `n` pairs.
fn run<A: GlobalAlloc>(a: &A, l: Layout, n: usize) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..n {
        // SAFETY: `l` has a non-zero size; the block is written within its
        // bounds and freed with the layout it was allocated with.
        unsafe {
            let p = a.alloc(l);
            std::ptr::write_volatile(p, 1);
            std::ptr::write_volatile(p.add(l.size() - 1), 0xa5);
            a.dealloc(std::hint::black_box(p), l);
        }
    }
    t.elapsed().as_nanos() as f64 / n as f64
}
fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(16);
    let align: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(8);
    let n: usize = std::env::var("N")
        .map(|s| s.parse().unwrap())
        .unwrap_or(10_000_000);
    let l = Layout::from_size_align(size, align).unwrap();
    for _ in 0..3 {
        let g = run(&goheap::GoHeap, l, n);
        let m = run(&mimalloc::MiMalloc, l, n);
        let s = run(&std::alloc::System, l, n);
        println!(
            "{size}: goheap {g:.2} mimalloc {m:.2} system {s:.2} ns/pair  ratio {:.2}",
            g / m
        );
    }
}
