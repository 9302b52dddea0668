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

/// Runs `connections` client goroutines, `client(c)` each, and waits for
/// them all: returns every latency they measured, sorted, and the wall
/// time; or the first error one of them hit.
pub fn run_clients<F>(
    connections: usize,
    client: F,
) -> std::io::Result<(Vec<std::time::Duration>, std::time::Duration)>
where
    F: Fn(usize) -> std::io::Result<Vec<std::time::Duration>> + Send + Sync + 'static,
{
    use goheap::sched::{Mutex, WaitGroup};
    use std::sync::Arc;
    let start = std::time::Instant::now();
    let all = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(Mutex::new(None));
    let wg = Arc::new(WaitGroup::new());
    let client = Arc::new(client);
    wg.add(connections as i64);
    for c in 0..connections {
        let (all, failed, wg, client) = (all.clone(), failed.clone(), wg.clone(), client.clone());
        let body = move || {
            match client(c) {
                Ok(l) => all.lock().extend(l),
                Err(e) => *failed.lock() = Some(e),
            }
            wg.done();
        };
        // SAFETY: the goroutine keeps no thread-local reference or
        // thread-bound guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
    }
    wg.wait();
    let elapsed = start.elapsed();
    if let Some(e) = failed.lock().take() {
        return Err(e);
    }
    let mut all = std::mem::take(&mut *all.lock());
    all.sort_unstable();
    Ok((all, elapsed))
}

/// `metric <name> <µs>` of the latency at fraction `p` of sorted `all`.
pub fn print_percentile_us(name: &str, all: &[std::time::Duration], p: f64) {
    let d = all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    eprintln!("metric {name} {:.1}", d.as_secs_f64() * 1e6);
}
