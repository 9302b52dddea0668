//! The allocator: Go's memory allocator (runtime/malloc.go and friends),
//! serving Rust's `GlobalAlloc` and, through `goheap-ffi`, C's malloc.
//!
//! The layers, bottom to top, each in the module named after Go's file
//! (the modules below `alloc` sit on `crate::os` and `crate::lock`):
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `sizeclasses` | sizeclasses.go | 67 size classes, O(1) lookups |
//! | `fixalloc` | mfixalloc.go, malloc.go | metadata: fixalloc, persistentalloc |
//! | `arena` | malloc.go (heapArena) | 64 MiB arenas, address → span index |
//! | `mspan` | mheap.go (mspan) | spans, span classes, object lists |
//! | `mheap` | mheap.go | page heap: free spans, coalescing, growth |
//! | `mcentral` | mcentral.go | per-span-class shared span lists |
//! | `mcache` | mcache.go | per-thread caches, tiny allocator |
//! | `malloc` | malloc.go | entry points: alloc, free, realloc |
//! | `scavenger` | mgcscavenge.go | background return of idle pages to the OS |
//! | `mstats` | mstats.go | `MemStats`-like figures |
//! | `global` | — | `GoHeap`, the `#[global_allocator]` |
//!
//! Dependencies point down the table: a layer calls only the layers above
//! it in this list (and `os`, `lock`). The managed heap (`crate::gc`) draws
//! its spans from the same `mheap`.

pub(crate) mod arena;
pub(crate) mod fixalloc;
pub(crate) mod global;
pub mod malloc;
pub(crate) mod mcache;
pub(crate) mod mcentral;
pub(crate) mod mheap;
pub(crate) mod mspan;
pub(crate) mod mstats;
pub(crate) mod scavenger;
pub(crate) mod sizeclasses;
