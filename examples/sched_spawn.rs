//! Goroutine spawn + exit: the main thread starts N goroutines one after
//! another; each adds its number to a shared sum and exits; a WaitGroup
//! waits for all. Peer of workloads/goroutines/spawn.go.
//!
//! Usage: sched_spawn [N]  (default 1000000)
//! stdout: `spawned N goroutines, sum S`; stderr: `metric ns_per_op ...`.

#[path = "sched_common/mod.rs"]
mod common;

use goheap::sched::WaitGroup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn main() {
    let n = common::count_arg(1, 1_000_000);
    let sum = Arc::new(AtomicU64::new(0));
    let wg = Arc::new(WaitGroup::new());
    let start = Instant::now();
    // Spawned from a goroutine, as Go's main goroutine does.
    let (s, w) = (sum.clone(), wg.clone());
    wg.add(1);
    let body = move || {
        for i in 0..n as u64 {
            w.add(1);
            let (s, w) = (s.clone(), w.clone());
            let body = move || {
                s.fetch_add(i, Ordering::Relaxed);
                w.done();
            };
            // SAFETY: the goroutine keeps no thread-local reference or thread-bound
            // guard across a switch point (goheap::go's contract).
            unsafe { goheap::go(body) };
        }
        w.done();
    };
    // SAFETY: the goroutine keeps no thread-local reference or thread-bound
    // guard across a switch point (goheap::go's contract).
    unsafe { goheap::go(body) };
    wg.wait();
    let elapsed = start.elapsed();
    println!(
        "spawned {n} goroutines, sum {}",
        sum.load(Ordering::Relaxed)
    );
    eprintln!("metric stacks {}", goheap::sched::stacks_carved());
    eprintln!(
        "metric ns_per_op {:.1}",
        elapsed.as_nanos() as f64 / n as f64
    );
}
