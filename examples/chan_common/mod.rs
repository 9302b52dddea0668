//! Shared by the `chan_*` benchmark examples: arguments, and running the
//! program's main body as a goroutine (as Go's `main` is one).

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
