//! Peer of the goroutines suite row skynet (workloads/suites.toml): the
//! skynet tree (fan-out 10) as tokio tasks on the multi-threaded runtime,
//! each inner task awaiting its children's `JoinHandle`s.
//! Usage: skynet_tokio [LEAVES] (default 1000000, a power of 10).
//! stdout: `skynet LEAVES: SUM`. stderr: `metric ms`.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

const FAN_OUT: u64 = 10;

fn skynet(num: u64, size: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let step = size / FAN_OUT;
        let children: Vec<_> = (0..FAN_OUT)
            .map(|i| tokio::spawn(skynet(num + i * step, step)))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await.expect("skynet task");
        }
        sum
    })
}

fn is_power_of_fan_out(mut n: u64) -> bool {
    while n > 1 && n.is_multiple_of(FAN_OUT) {
        n /= FAN_OUT;
    }
    n == 1
}

#[tokio::main]
async fn main() {
    let leaves: u64 = goheap_peers::arg(1, Some(1_000_000));
    if !is_power_of_fan_out(leaves) {
        goheap_peers::usage_error("skynet_tokio: LEAVES must be a power of 10");
    }
    let start = Instant::now();
    let sum = tokio::spawn(skynet(0, leaves)).await.expect("skynet root");
    let elapsed = start.elapsed();
    println!("skynet {leaves}: {sum}");
    goheap_peers::elapsed_ms(elapsed);
}
