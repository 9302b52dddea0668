//! Go's concurrent prime sieve, shared by `chan_sieve` and `chan_compare`
//! (`#[path]`-included, so the examples that do not run it do not carry it).

use goheap::chan::{Receiver, Sender};

/// Go's concurrent prime sieve, on the calling goroutine: a generator
/// goroutine feeds 2, 3, 4, ... into a chain of filter goroutines, one per
/// prime found, over unbuffered channels, until the `n`th prime. Returns
/// that prime and the sum of the first `n`. The chain unwinds once the
/// caller's receiver drops: each send then fails and its goroutine ends.
pub fn sieve(n: u64) -> (u64, u64) {
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
        // SAFETY: as above.
        unsafe { goheap::go(body) };
    }
    (prime, sum)
}

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
