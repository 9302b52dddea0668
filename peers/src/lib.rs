//! Shared pieces of goheap's comparison peers (see `workloads/suites.toml`).
//!
//! Every peer program takes its size on the command line, prints output that
//! is identical across the variants of its benchmark row on stdout, and prints
//! what it measures itself as `metric NAME VALUE` lines on stderr. The
//! functions here hold what the Rust peers of a row have in common: argument
//! parsing, the metric lines, the checkable output lines, and the drivers that
//! differ only in the crate underneath (binary-trees over a heap, channel
//! benchmarks over crossbeam-channel or flume).

pub mod binary_trees;
pub mod chan;

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Argument `index` of argv parsed as `T`, or `default` when absent; exits
/// with status 2 and a message naming the program when it does not parse or
/// when a required argument (`default` None) is missing.
pub fn arg<T: FromStr>(index: usize, default: Option<T>) -> T {
    let program = program_name();
    match std::env::args().nth(index) {
        Some(text) => text
            .parse()
            .unwrap_or_else(|_| usage_error(&format!("{program}: bad argument {index}: {text:?}"))),
        None => default
            .unwrap_or_else(|| usage_error(&format!("{program}: argument {index} is required"))),
    }
}

/// Prints `message` on stderr and exits with status 2 (bad usage).
pub fn usage_error(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|path| path.rsplit('/').next().map(str::to_owned))
        .unwrap_or_default()
}

/// Prints a `metric NAME VALUE` line for the harness on stderr.
pub fn metric(name: &str, value: impl Display) {
    eprintln!("metric {name} {value}");
}

/// Prints `metric ns_per_op` for `ops` operations that took `elapsed`.
pub fn ns_per_op(elapsed: Duration, ops: u64) {
    metric(
        "ns_per_op",
        format!("{:.1}", elapsed.as_nanos() as f64 / ops as f64),
    );
}

/// Prints `metric ms` for a run that took `elapsed`.
pub fn elapsed_ms(elapsed: Duration) {
    metric("ms", format!("{:.1}", elapsed.as_secs_f64() * 1e3));
}
