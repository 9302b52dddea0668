//! Helpers shared by the `gc_*` benchmark examples.

/// The collector's cycle count and pauses as `metric` lines on stderr, as
/// the Go peers print them (`pause_ns` keeps the last 256 pauses: the
/// longest is the longest of those).
pub fn print_gc_metrics() {
    let s = goheap::stats();
    let longest = s.pause_ns.iter().max().copied().unwrap_or(0);
    eprintln!("metric gc_count {}", s.num_gc);
    eprintln!("metric max_pause_ms {:.3}", longest as f64 / 1e6);
    eprintln!("metric total_pause_ms {:.3}", s.pause_total_ns as f64 / 1e6);
}
