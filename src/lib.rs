//! goheap: the Go runtime's memory allocator, rebuilt in Rust.
//!
//! The source tree follows the runtime's subsystems, each folder opening
//! with its design in `mod.rs`:
//!
//! | module | what it is |
//! | --- | --- |
//! | `os` | reserve / map / release memory (mmap, madvise); Go's mem_linux.go |
//! | `lock` | the runtime's futex mutex; Go's lock_futex.go |
//! | `options` | `GOHEAP_*` environment settings |
//! | `alloc` | the allocator: arenas, mheap, mcentral, mcache, tiny allocator, scavenger |
//! | `sched` | goroutines: G-M-P scheduler, stacks, sysmon, timers, netpoller |
//! | `gc` | the managed heap: Go's collector, the Rust `Gc` API, libgc's raw interface |
//! | `profile` | sampled heap profiles in pprof's format (`GOHEAP_PROFILE`) |
//! | `sync` | Go's sync package: `Pool` (emptied by the collector), `Mutex`, `WaitGroup`, `Once` |
//! | `chan` | channels and `select!` (Go's chan.go, select.go), for goroutines, threads and C |
//!
//! Use it as Rust's allocator:
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: goheap::GoHeap = goheap::GoHeap;
//!
//! fn main() {
//!     let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
//!     assert_eq!(v[999], "999");
//! }
//! ```
//!
//! The library never exports `malloc`; the C ABI lives in the `goheap-ffi`
//! crate (`ffi/`).

mod alloc;
pub mod chan;
pub mod gc;
mod lock;
mod options;
mod os;
pub mod profile;
pub mod sched;
pub mod sync;

pub use alloc::global::GoHeap;
pub use alloc::malloc;
pub use alloc::malloc::{print_stats, release, stats};
pub use alloc::mheap::{memory_limit, set_memory_limit, NO_LIMIT as NO_MEMORY_LIMIT};
pub use alloc::mstats::{SizeClassStats, Stats};
pub use chan::chan;
pub use gc::Trace;
pub use goheap_derive::Trace;
pub use sched::{blocking, go, lock_os_thread, net, sleep, unlock_os_thread, yield_now};
