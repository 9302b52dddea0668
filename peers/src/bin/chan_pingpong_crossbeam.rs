//! Peer of the goroutines suite row(s) chan-pingpong (workloads/suites.toml):
//! crossbeam-channel on OS threads. Arguments and output: `goheap_peers::chan`.

fn main() {
    goheap_peers::chan::pingpong::<goheap_peers::chan::Crossbeam>();
}
