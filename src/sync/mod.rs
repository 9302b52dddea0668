//! Go's `sync` package for goroutines and threads: `Pool` (here), and the
//! goroutine-aware `Mutex`, `WaitGroup` and `Once` of `sched::sync`.
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `pool` | sync/pool.go | `Pool<T>`: per-P caches with a victim cache, emptied by the collector |

mod pool;

pub use crate::sched::sync::{Mutex, MutexGuard, Once, WaitGroup};
pub use pool::Pool;
