//! Peer of the goroutines suite row spawn (workloads/suites.toml): N tokio
//! tasks spawned one after another from a task on the multi-threaded
//! runtime; each adds its number to a shared sum and ends, the last one
//! wakes the spawner (a WaitGroup's job; no `JoinHandle` is kept).
//! Usage: spawn_tokio [N] (default 1000000).
//! stdout: `spawned N goroutines, sum S`. stderr: `metric ns_per_op`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

struct Group {
    sum: AtomicU64,
    remaining: AtomicU64,
    all_done: Notify,
}

#[tokio::main]
async fn main() {
    let n: u64 = goheap_peers::arg(1, Some(1_000_000));
    let group = Arc::new(Group {
        sum: AtomicU64::new(0),
        remaining: AtomicU64::new(n),
        all_done: Notify::new(),
    });
    let spawner = group.clone();
    let start = Instant::now();
    tokio::spawn(async move {
        for i in 0..n {
            let group = spawner.clone();
            tokio::spawn(async move {
                group.sum.fetch_add(i, Ordering::Relaxed);
                if group.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    group.all_done.notify_one();
                }
            });
        }
    });
    group.all_done.notified().await;
    let elapsed = start.elapsed();
    println!(
        "spawned {n} goroutines, sum {}",
        group.sum.load(Ordering::Relaxed)
    );
    goheap_peers::ns_per_op(elapsed, n);
}
