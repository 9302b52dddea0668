//! Go's concurrent prime sieve: a generator goroutine feeds 2, 3, 4, ...
//! into a chain of filter goroutines, one per prime found, over unbuffered
//! channels, until the Nth prime. Row "chan-sieve"; peer of
//! workloads/goroutines/chan_sieve.go.
//!
//! Usage: chan_sieve [N]   (default 5000)
//! stdout: `N primes, the last P, sum S`. stderr: `metric ms ...`.

mod chan_common;

use goheap::chan::{Receiver, Sender};

fn generate(out: Sender<u64>) {
    for i in 2.. {
        if out.send(i).is_err() {
            return;
        }
    }
}

fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

fn main() {
    let n = chan_common::arg(1, Some(5000));
    let ((last, sum), ns) = chan_common::on_goroutine(move || {
        let (tx, mut ch) = goheap::chan::<u64>(0);
        let body = move || generate(tx);
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
        let (mut prime, mut sum) = (0, 0);
        for _ in 0..n {
            prime = ch.recv().unwrap();
            sum += prime;
            let (next_tx, next_rx) = goheap::chan::<u64>(0);
            let input = std::mem::replace(&mut ch, next_rx);
            let body = move || filter(input, next_tx, prime);
            // SAFETY: the goroutine keeps no thread-local reference or thread-bound
            // guard across a switch point (goheap::go's contract).
            unsafe { goheap::go(body) };
        }
        (prime, sum)
    });
    println!("{n} primes, the last {last}, sum {sum}");
    eprintln!("metric ms {:.1}", ns / 1e6);
}
