//! Memory and time for many short strings: what the tiny allocator buys.
//!
//! `cargo run --release --example short_strings [copy|format]` and again
//! with `--no-default-features` (no tiny allocator); compare the lines.
use std::time::Instant;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

const N: usize = 2_000_000;

/// Builds N strings with `make`, keeps them, and reports the RSS they added
/// (beyond the Vec of String headers, allocated first) and the time per string.
fn measure(what: &str, make: impl Fn(usize) -> String) {
    let mut keep: Vec<String> = Vec::with_capacity(N);
    keep.resize(N, String::new());
    let before = rss_kib();
    let t = Instant::now();
    for (i, s) in keep.iter_mut().enumerate() {
        *s = make(i);
    }
    let elapsed = t.elapsed();
    let grown = rss_kib().saturating_sub(before);
    println!(
        "tiny allocator {}: {N} {what}: +{} KiB RSS ({:.1} bytes/string), {:.1} ns/string",
        if cfg!(feature = "tiny") { "on " } else { "off" },
        grown,
        grown as f64 * 1024.0 / N as f64,
        elapsed.as_nanos() as f64 / N as f64
    );
}

fn main() {
    let names: Vec<String> = (0..1000).map(|i| format!("id{i}")).collect();
    match std::env::args().nth(1).as_deref() {
        Some("format") => measure("format!-built 2-6 byte strings", |i| {
            format!("k{}", i % 100_000)
        }),
        _ => measure("copies of 3-5 byte strings", |i| {
            names[i % 1000].to_string()
        }),
    }
}
