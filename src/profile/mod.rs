//! Heap profiles: sampled allocation profiling, as Go's `MemProfileRate`
//! (runtime/mprof.go) and tcmalloc's sampler, written in pprof's format.
//!
//! **Sampling.** On average one allocation per `rate` bytes allocated
//! (512 KiB by default) is sampled, the sampling points forming a Poisson
//! process over the stream of allocated bytes: each thread's mcache holds
//! `next_sample`, the bytes left until its next sampling point, drawn from
//! an exponential distribution of mean `rate`. An allocation of `s` bytes
//! is so sampled with probability `1 - exp(-s/rate)`, and the writer
//! scales each record back by the inverse (Go's `scaleHeapSample`).
//!
//! The count costs the small-object fast paths nothing, with profiling on
//! or off: while sampling, a cache *pays* for the objects of its lists in
//! advance, at refill, no more than lie wholly before the sampling point,
//! so the allocation that crosses it finds its list empty and takes the
//! slow path, where it is sampled; and each free puts its object aside,
//! unpaid, instead of on the list the fast path pops (`alloc::mcache`,
//! "Sampling"). With profiling off the lists work as without profiles.
//! Large allocations count on their own (slow) path. Tiny allocations
//! (Rust layouts under 16 bytes) are not sampled.
//!
//! **Records** (`mprof`). A sampled allocation's stack is walked with the
//! unwinder (`stack`, `_Unwind_Backtrace` into a fixed array on the
//! stack) and counted in a *bucket*, one per distinct (stack, size), as
//! Go's `bucket`s: allocations and frees. Buckets live in persistent
//! memory and are never freed. The sampled object itself gets a *live
//! record* (address → bucket) in a hash table. To find it again without
//! a check on the small-object free path, a sampled small object is moved
//! to a span of its own (tcmalloc does the same): its free then takes the
//! large-object path, which alone looks records up (when profiling is
//! on). That costs a page per live sampled small object, 1.6 % of the heap
//! at the default rate. Everything is under one lock (`RECORDS`), taken
//! once per sample and per large free, never while walking a stack or
//! calling anything that could allocate.
//!
//! **Writing** (`pprof`). `write` snapshots the buckets under the lock,
//! then encodes a pprof `Profile` message (`proto`) with Go's heap sample
//! types (alloc_objects/count, alloc_space/bytes, inuse_objects/count,
//! inuse_space/bytes), the executable mappings of `/proc/self/maps` with
//! their GNU build IDs (`maps`), so that pprof can symbolise from the
//! binaries, function names from `dladdr` where the dynamic symbol table
//! has them, and `drop_frames` naming the allocators' entry points; then
//! gzips it with stored deflate blocks (`gzip`). All buffers are mapped
//! from the OS (`buf`): writing never calls malloc, so it can run at exit
//! and while other threads allocate.
//!
//! Turned on by `GOHEAP_PROFILE=path` (`%p` in the path becomes the process
//! id), written at exit and on [`write`]; `GOHEAP_PROFILE_RATE=bytes` sets
//! the mean sampling distance (1: every allocation).

mod buf;
mod fmath;
mod gzip;
mod maps;
mod mprof;
mod pprof;
mod proto;
pub(crate) mod sampler;
mod stack;

pub use pprof::{write, write_to};
pub use sampler::{enabled, rate};

/// Reads `GOHEAP_PROFILE`; when it is set, makes sure the profile is
/// written at exit even if nothing gets sampled (otherwise the first
/// sample arranges that). The C library calls it when it is loaded.
pub fn init() {
    if enabled() {
        pprof::write_at_exit();
    }
}

/// The bytes of a sampled allocation `p` of `size` bytes are recorded:
/// called by the allocator for a sampled allocation, outside any
/// allocator lock or cache borrow (it walks the stack and may call libc).
#[cold]
#[inline(never)]
pub(crate) fn record_alloc(p: *mut u8, size: usize) {
    if p.is_null() {
        return;
    }
    pprof::write_at_exit();
    let mut frames = [0usize; stack::MAX_FRAMES];
    let n = stack::capture(&mut frames);
    mprof::record_alloc(p as usize, size, &frames[..n]);
}

/// The allocator frees large object `p` (sampled objects are large).
#[cold]
#[inline(never)]
pub(crate) fn record_free(p: *mut u8) {
    mprof::record_free(p as usize);
}
