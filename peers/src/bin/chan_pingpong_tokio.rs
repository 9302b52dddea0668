//! Peer of the goroutines suite row chan-pingpong (workloads/suites.toml):
//! two tokio tasks on the multi-threaded runtime. tokio has no rendezvous
//! channel: its closest, an mpsc channel of capacity 1, stands in.
//! Arguments and output: `goheap_peers::chan`.

use goheap_peers::chan;
use std::time::Instant;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let n = chan::pingpong_args();
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v + 1).await.expect("the pinger is alive");
        }
    });
    let pinger = tokio::spawn(async move {
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..n {
            ping_tx.send(i).await.expect("the echoing task is alive");
            sum += pong_rx.recv().await.expect("the echoing task is alive");
        }
        (sum, start.elapsed())
    });
    let (sum, elapsed) = pinger.await.expect("pinger");
    echo.await.expect("echoing task");
    chan::report_pingpong(n, sum, elapsed);
}
