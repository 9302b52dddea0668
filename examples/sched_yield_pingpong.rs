//! The cost of a goroutine switch: two goroutines call `yield_now` N times
//! each; run with GOHEAP_MAXPROCS=1 so that every yield switches to the
//! other. Peer of workloads/goroutines/yield_pingpong.go.
//!
//! Usage: sched_yield_pingpong [N]  (default 5000000)
//! stdout: `2 goroutines yielded N times each`; stderr: `metric ns_per_op ...`.

#[path = "sched_common/mod.rs"]
mod common;

use goheap::sched::WaitGroup;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn main() {
    let n = common::count_arg(1, 5_000_000);
    let wg = Arc::new(WaitGroup::new());
    wg.add(2);
    let start = Instant::now();
    for _ in 0..2 {
        let wg = wg.clone();
        let body = move || {
            for _ in 0..n {
                goheap::yield_now();
            }
            wg.done();
        };
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
    }
    wg.wait();
    let elapsed = start.elapsed();
    println!("2 goroutines yielded {n} times each");
    eprintln!(
        "metric ns_per_op {:.1}",
        elapsed.as_nanos() as f64 / (2 * n) as f64
    );
}
