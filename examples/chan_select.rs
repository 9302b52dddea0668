//! One goroutine receives N messages with `select!` over K channels (K = 2
//! or 8) of capacity 16, each fed by its own producer goroutine; producer k
//! sends k, k+K, k+2K, ... below N, then closes its channel (by dropping
//! its sender). A closed channel's case is replaced by one on a channel
//! that never gets a value (Go sets it to nil). Rows "chan-select-<K>";
//! peer of workloads/goroutines/chan_select.go.
//!
//! Usage: chan_select K [N]   (K 2 or 8; N default 2000000)
//! stdout: `select over K channels: N messages, sum S`.
//! stderr: `metric ns_per_op ...`.

mod chan_common;

use goheap::chan::Receiver;

const CAPACITY: usize = 16;

/// Receives from whichever of `rx` is ready: `Some(v)`, or `None` after
/// retiring a closed channel.
fn receive(rx: &mut [Receiver<u64>], never: &Receiver<u64>) -> Option<u64> {
    let (i, v) = if rx.len() == 2 {
        goheap::select! {
            recv(rx[0]) -> v => (0, v),
            recv(rx[1]) -> v => (1, v),
        }
    } else {
        goheap::select! {
            recv(rx[0]) -> v => (0, v),
            recv(rx[1]) -> v => (1, v),
            recv(rx[2]) -> v => (2, v),
            recv(rx[3]) -> v => (3, v),
            recv(rx[4]) -> v => (4, v),
            recv(rx[5]) -> v => (5, v),
            recv(rx[6]) -> v => (6, v),
            recv(rx[7]) -> v => (7, v),
        }
    };
    if v.is_err() {
        rx[i] = never.clone();
    }
    v.ok()
}

fn main() {
    let k = chan_common::arg(1, None);
    if k != 2 && k != 8 {
        eprintln!("usage: chan_select 2|8 [N]");
        std::process::exit(2);
    }
    let n = chan_common::arg(2, Some(2_000_000));
    let (sum, ns) = chan_common::on_goroutine(move || {
        let mut rx: Vec<Receiver<u64>> = (0..k)
            .map(|first| {
                let (tx, rx) = goheap::chan::<u64>(CAPACITY);
                let body = move || {
                    for v in (first..n).step_by(k as usize) {
                        tx.send(v).unwrap();
                    }
                };
                // SAFETY: the goroutine keeps no thread-local reference or thread-bound
                // guard across a switch point (goheap::go's contract).
                unsafe { goheap::go(body) };
                rx
            })
            .collect();
        let (_keep_open, never) = goheap::chan::<u64>(0);
        let (mut sum, mut got) = (0, 0);
        while got < n {
            if let Some(v) = receive(&mut rx, &never) {
                sum += v;
                got += 1;
            }
        }
        sum
    });
    println!("select over {k} channels: {n} messages, sum {sum}");
    eprintln!("metric ns_per_op {:.1}", ns / n as f64);
}
