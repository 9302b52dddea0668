//! N goroutines parked at once, each blocked on one shared gate (a
//! `WaitGroup` at 1), then released together. Reports the resident memory
//! each parked goroutine costs. Peer of workloads/goroutines/parked.go.
//!
//! Usage: sched_parked [N]  (default 1000000)
//! stdout: `parked N goroutines, released N`; stderr: `metric
//! rss_per_goroutine_bytes ...`, `metric ms ...`.

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
    let before = common::resident_bytes();
    let start = Instant::now();
    let gate = Arc::new(WaitGroup::new());
    gate.add(1);
    let started = Arc::new(WaitGroup::new());
    let finished = Arc::new(WaitGroup::new());
    let released = Arc::new(AtomicU64::new(0));
    for _ in 0..n {
        started.add(1);
        finished.add(1);
        let (gate, started, finished, released) = (
            gate.clone(),
            started.clone(),
            finished.clone(),
            released.clone(),
        );
        let body = move || {
            started.done();
            gate.wait();
            released.fetch_add(1, Ordering::Relaxed);
            finished.done();
        };
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
    }
    started.wait();
    goheap::sleep(std::time::Duration::from_millis(10)); // the last ones reach the gate
    let per = (common::resident_bytes().saturating_sub(before)) as f64 / n as f64;
    gate.done();
    finished.wait();
    let elapsed = start.elapsed();
    println!(
        "parked {n} goroutines, released {}",
        released.load(Ordering::Relaxed)
    );
    eprintln!("metric rss_per_goroutine_bytes {per:.0}");
    eprintln!("metric ms {:.1}", elapsed.as_secs_f64() * 1e3);
}
