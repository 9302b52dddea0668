//! The cost of `goheap::sync::Pool`'s fast path: a goroutine (its P's
//! private value) and a plain thread (its slot's shared list) each take a
//! value and give it back N times.
//!
//! Usage: sync_pool [N]   (default 10000000)
//! stdout: `N get/put pairs on a goroutine and on a thread`; stderr:
//! `metric goroutine_ns_per_op X` and `metric thread_ns_per_op X`.

use goheap::sync::Pool;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn pairs(pool: &Pool<Vec<u8>>, n: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        let v = pool.get();
        pool.put(std::hint::black_box(v));
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("sync_pool: N must be a number"))
        .unwrap_or(10_000_000);
    let pool = Arc::new(Pool::new(|| Vec::with_capacity(64)));
    let (tx, rx) = goheap::chan::<f64>(0);
    let on_goroutine = {
        let pool = pool.clone();
        move || tx.send(pairs(&pool, n)).unwrap()
    };
    // SAFETY: the goroutine holds no thread-local reference or
    // thread-bound guard across a switch point.
    unsafe { goheap::go(on_goroutine) };
    let goroutine_ns = rx.recv().unwrap();
    let thread_ns = pairs(&pool, n);
    println!("{n} get/put pairs on a goroutine and on a thread");
    eprintln!("metric goroutine_ns_per_op {goroutine_ns:.1}");
    eprintln!("metric thread_ns_per_op {thread_ns:.1}");
}
