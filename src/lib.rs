//! goheap: the Go runtime's memory allocator, rebuilt in Rust.
//!
//! The layers, bottom to top, each in the module named after Go's file:
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `os` | mem_linux.go | reserve / map / release memory (mmap, madvise) |
//! | `lock` | lock_futex.go | the runtime's futex mutex |
//! | `sizeclasses` | sizeclasses.go | 67 size classes, O(1) lookups |
//! | `fixalloc` | mfixalloc.go, malloc.go | metadata: fixalloc, persistentalloc |
//! | `arena` | malloc.go (heapArena) | 64 MiB arenas, address → span index |
//! | `mspan` | mheap.go (mspan) | spans, span classes, object lists |
//! | `mheap` | mheap.go | page heap: free spans, coalescing, growth |
//! | `mcentral` | mcentral.go | per-span-class shared span lists |
//! | `mcache` | mcache.go | per-thread caches, tiny allocator |
//! | `malloc` | malloc.go | entry points: alloc, free, realloc |
//! | `global` | — | `GoHeap`, the `#[global_allocator]` |
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

mod arena;
mod fixalloc;
mod global;
mod lock;
pub mod malloc;
mod mcache;
mod mcentral;
mod mheap;
mod mspan;
mod mstats;
mod options;
mod os;
mod scavenger;
mod sizeclasses;

pub use global::GoHeap;
pub use malloc::{print_stats, release, stats};
pub use mstats::{SizeClassStats, Stats};
