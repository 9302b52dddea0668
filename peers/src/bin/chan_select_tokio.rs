//! Peer of the goroutines suite rows chan-select-2 and chan-select-8
//! (workloads/suites.toml): a tokio task receiving with `tokio::select!`
//! over K bounded mpsc channels, each fed by its own producer task, on the
//! multi-threaded runtime. Arguments and output: `goheap_peers::chan`.

use goheap_peers::chan;
use std::time::Instant;
use tokio::sync::mpsc::{self, Receiver};

/// Receives `n` values with one `tokio::select!` over the named receivers
/// (random branch order, as Go's select); a closed, drained channel makes its
/// branch's pattern fail, which disables it for that select only.
macro_rules! select_sum {
    ($n:expr; $($rx:ident),+) => {{
        let (mut got, mut sum) = (0u64, 0u64);
        while got < $n {
            let value = tokio::select! {
                $(Some(v) = $rx.recv() => v,)+
            };
            sum += value;
            got += 1;
        }
        sum
    }};
}

async fn receive2(mut rxs: Vec<Receiver<u64>>, n: u64) -> u64 {
    let (mut b, mut a) = (rxs.pop().unwrap(), rxs.pop().unwrap());
    select_sum!(n; a, b)
}

async fn receive8(rxs: Vec<Receiver<u64>>, n: u64) -> u64 {
    let [mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7]: [Receiver<u64>; 8] =
        rxs.try_into().expect("8 receivers");
    select_sum!(n; c0, c1, c2, c3, c4, c5, c6, c7)
}

#[tokio::main]
async fn main() {
    let (k, n) = chan::select_args();
    let start = Instant::now();
    let receivers: Vec<_> = (0..k)
        .map(|i| {
            let (tx, rx) = mpsc::channel(chan::SELECT_CAPACITY);
            tokio::spawn(async move {
                for v in chan::select_values(i, k, n) {
                    tx.send(v).await.expect("the receiver is alive");
                }
            });
            rx
        })
        .collect();
    let receiver = tokio::spawn(async move {
        if k == 2 {
            receive2(receivers, n).await
        } else {
            receive8(receivers, n).await
        }
    });
    let sum = receiver.await.expect("receiver");
    chan::report_select(k, n, sum, start.elapsed());
}
