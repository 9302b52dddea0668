//! The memory limit for C: `goheap_set_memory_limit`, Go's
//! `debug.SetMemoryLimit` (see the core's `alloc::mheap` for what the limit
//! counts and how goheap keeps under it).

/// Sets the memory limit to `limit` bytes and returns the previous one; a
/// negative `limit` only returns the current one. `INT64_MAX` is no limit.
#[no_mangle]
pub extern "C" fn goheap_set_memory_limit(limit: i64) -> i64 {
    let prev = match u64::try_from(limit) {
        Ok(bytes) => goheap::set_memory_limit(bytes),
        Err(_) => goheap::memory_limit(),
    };
    prev.min(i64::MAX as u64) as i64
}
