//! Shared by the `chan_*` benchmark examples: arguments, running the
//! program's main body as a goroutine (as Go's `main` is one), and Go's
//! concurrent prime sieve (`chan_sieve` and `chan_compare` both run it).

use goheap::chan::{Receiver, Sender};
use std::time::Instant;

/// `argv[i]` as a positive number, or `default` when absent.
pub fn arg(i: usize, default: Option<u64>) -> u64 {
    let name = std::env::args().next().unwrap_or_default();
    match std::env::args().nth(i) {
        None => default.unwrap_or_else(|| usage(&name, i)),
        Some(a) => a
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| usage(&name, i)),
    }
}

fn usage(name: &str, i: usize) -> ! {
    eprintln!("{name}: argument {i} must be a positive number");
    std::process::exit(2)
}

/// Runs `body` on a goroutine and returns its result and wall time in ns.
pub fn on_goroutine<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> (R, f64) {
    let (tx, rx) = goheap::chan(1);
    let start = Instant::now();
    let body = move || {
        let _ = tx.send(body());
    };
    // SAFETY: the goroutine keeps no thread-local reference or thread-bound
    // guard across a switch point (goheap::go's contract).
    unsafe { goheap::go(body) };
    let r = rx.recv().expect("the benchmark goroutine died");
    (r, start.elapsed().as_nanos() as f64)
}

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
