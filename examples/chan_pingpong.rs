//! Unbuffered channel round trips between two goroutines (ping, then pong):
//! each hand-off goes to a parked goroutine that then runs next on the same
//! P. Row "chan-pingpong" of the goroutines suite; peer of
//! workloads/goroutines/chan_pingpong.go.
//!
//! Usage: chan_pingpong [N]   (default 1000000)
//! stdout: `N round trips, sum S`. stderr: `metric ns_per_op ...`.

mod chan_common;

fn main() {
    let n = chan_common::arg(1, Some(1_000_000));
    let (sum, ns) = chan_common::on_goroutine(move || {
        let (ping_tx, ping_rx) = goheap::chan::<u64>(0);
        let (pong_tx, pong_rx) = goheap::chan::<u64>(0);
        let body = move || {
            for v in &ping_rx {
                pong_tx.send(v + 1).unwrap();
            }
        };
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
        let mut sum = 0;
        for i in 0..n {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().unwrap();
        }
        sum
    });
    println!("{n} round trips, sum {sum}");
    eprintln!("metric ns_per_op {:.1}", ns / n as f64);
}
