//! Peer of the goroutines suite rows chan-buffered-spsc-* and -mpsc-*
//! (workloads/suites.toml): tokio's bounded mpsc channel between tasks on
//! the multi-threaded runtime. tokio has no multi-consumer channel, so
//! mode mpmc is refused (the manifest lists no tokio variant there).
//! Arguments and output: `goheap_peers::chan`.

use goheap_peers::chan;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let row = Arc::new(chan::buffered_args());
    if row.consumers != 1 {
        goheap_peers::usage_error("chan_buffered_tokio: tokio's mpsc has one consumer: no mpmc");
    }
    let (tx, mut rx) = mpsc::channel::<u64>(row.capacity);
    let start = Instant::now();
    for p in 0..row.producers {
        let (tx, row) = (tx.clone(), row.clone());
        tokio::spawn(async move {
            for v in row.values(p) {
                tx.send(v).await.expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    let consumer = tokio::spawn(async move {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    let sum = consumer.await.expect("consumer");
    row.report(sum, start.elapsed());
}
