//! Go's concurrent prime sieve: a generator goroutine feeds 2, 3, 4, ...
//! into a chain of filter goroutines, one per prime found, over unbuffered
//! channels, until the Nth prime. Row "chan-sieve"; peer of
//! workloads/goroutines/chan_sieve.go.
//!
//! Usage: chan_sieve [N]   (default 5000)
//! stdout: `N primes, the last P, sum S`. stderr: `metric ms ...`.

mod chan_common;
#[path = "chan_common/sieve.rs"]
mod sieve;

fn main() {
    let n = chan_common::arg(1, Some(5000));
    let ((last, sum), ns) = chan_common::on_goroutine(move || sieve::sieve(n));
    println!("{n} primes, the last {last}, sum {sum}");
    eprintln!("metric ms {:.1}", ns / 1e6);
}
