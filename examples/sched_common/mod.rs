//! Helpers shared by the `sched_*` benchmark examples.
#![allow(dead_code)]

/// argv[n] as a positive count, or `def` when absent; exits 2 on bad input.
pub fn count_arg(n: usize, def: usize) -> usize {
    match std::env::args().nth(n) {
        None => def,
        Some(a) => a.parse().ok().filter(|&v| v > 0).unwrap_or_else(|| {
            eprintln!("bad count {a:?}");
            std::process::exit(2)
        }),
    }
}

/// VmRSS of this process in bytes.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
