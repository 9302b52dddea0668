//! Throughput of one buffered channel between goroutines. spsc: 1 producer,
//! 1 consumer; mpsc: 4 producers, 1 consumer; mpmc: 4 producers, 4
//! consumers. Producer p of P sends p, p+P, p+2P, ... below N, then the
//! channel closes (the last sender drops); consumers sum what they receive.
//! Rows "chan-buffered-<mode>-<capacity>"; peer of
//! workloads/goroutines/chan_buffered.go.
//!
//! Usage: chan_buffered MODE CAPACITY [N]   (spsc|mpsc|mpmc; N default 2000000)
//! stdout: `MODE capacity C: P producers, Q consumers, N messages, sum S`.
//! stderr: `metric ns_per_op ...`.

mod chan_common;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let (producers, consumers) = match mode.as_str() {
        "spsc" => (1, 1),
        "mpsc" => (4, 1),
        "mpmc" => (4, 4),
        _ => {
            eprintln!("usage: chan_buffered spsc|mpsc|mpmc CAPACITY [N]");
            std::process::exit(2)
        }
    };
    let cap = chan_common::arg(2, None) as usize;
    let n = chan_common::arg(3, Some(2_000_000));
    let (sum, ns) = chan_common::on_goroutine(move || {
        let (tx, rx) = goheap::chan::<u64>(cap);
        for p in 0..producers {
            let tx = tx.clone();
            let body = move || {
                for v in (p..n).step_by(producers as usize) {
                    tx.send(v).unwrap();
                }
            };
            // SAFETY: the goroutine keeps no thread-local reference or thread-bound
            // guard across a switch point (goheap::go's contract).
            unsafe { goheap::go(body) };
        }
        drop(tx);
        let (sum_tx, sum_rx) = goheap::chan::<u64>(consumers);
        for _ in 0..consumers {
            let (rx, sum_tx) = (rx.clone(), sum_tx.clone());
            let body = move || sum_tx.send(rx.iter().sum()).unwrap();
            // SAFETY: the goroutine keeps no thread-local reference or thread-bound
            // guard across a switch point (goheap::go's contract).
            unsafe { goheap::go(body) };
        }
        drop((rx, sum_tx));
        sum_rx.iter().sum::<u64>()
    });
    println!("{mode} capacity {cap}: {producers} producers, {consumers} consumers, {n} messages, sum {sum}");
    eprintln!("metric ns_per_op {:.1}", ns / n as f64);
}
