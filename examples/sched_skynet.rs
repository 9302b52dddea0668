//! skynet: a tree of goroutines with fan-out 10; each leaf reports its
//! number, each inner goroutine sums its children's. Peer of
//! workloads/goroutines/skynet.go. Children report to their parent through
//! a shared sum and a `WaitGroup` (goheap's channels live in `chan`).
//!
//! Usage: sched_skynet [LEAVES]  (default 1000000, a power of 10)
//! stdout: `skynet LEAVES: SUM`; stderr: `metric ms ...`.

#[path = "sched_common/mod.rs"]
mod common;

use goheap::sched::WaitGroup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const FAN_OUT: u64 = 10;

/// What a child reports into: its parent's sum and count of children left.
struct Report {
    sum: AtomicU64,
    wg: WaitGroup,
}

fn skynet(out: Arc<Report>, num: u64, size: u64) {
    if size > 1 {
        let mine = Arc::new(Report {
            sum: AtomicU64::new(0),
            wg: WaitGroup::new(),
        });
        mine.wg.add(FAN_OUT as i64);
        for i in 0..FAN_OUT {
            let mine = mine.clone();
            let body = move || skynet(mine, num + i * (size / FAN_OUT), size / FAN_OUT);
            // SAFETY: the goroutine keeps no thread-local reference or thread-bound
            // guard across a switch point (goheap::go's contract).
            unsafe { goheap::go(body) };
        }
        mine.wg.wait();
        out.sum
            .fetch_add(mine.sum.load(Ordering::Relaxed), Ordering::Relaxed);
    } else {
        out.sum.fetch_add(num, Ordering::Relaxed);
    }
    out.wg.done();
}

fn main() {
    let leaves = common::count_arg(1, 1_000_000) as u64;
    let start = Instant::now();
    let root = Arc::new(Report {
        sum: AtomicU64::new(0),
        wg: WaitGroup::new(),
    });
    root.wg.add(1);
    let r = root.clone();
    let body = move || skynet(r, 0, leaves);
    // SAFETY: the goroutine keeps no thread-local reference or thread-bound
    // guard across a switch point (goheap::go's contract).
    unsafe { goheap::go(body) };
    root.wg.wait();
    let elapsed = start.elapsed();
    println!("skynet {leaves}: {}", root.sum.load(Ordering::Relaxed));
    eprintln!("metric ms {:.1}", elapsed.as_secs_f64() * 1e3);
}
