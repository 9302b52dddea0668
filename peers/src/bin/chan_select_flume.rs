//! Peer of the goroutines suite row(s) chan-select (workloads/suites.toml):
//! flume on OS threads. Arguments and output: `goheap_peers::chan`.

fn main() {
    goheap_peers::chan::select::<goheap_peers::chan::Flume>();
}
