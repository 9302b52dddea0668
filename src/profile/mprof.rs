//! The profile's records, as Go's mprof.go: one *bucket* per distinct
//! (stack, size) counting the sampled allocations and frees, and one *live
//! record* per sampled object still allocated, which leads its free back
//! to its bucket.
//!
//! Both tables are chained hash tables with fixed heads in `RECORDS`
//! (static, so untouched pages cost nothing while profiling is off); their
//! entries come from `persistent_alloc`. Buckets are never freed; live
//! records go on a free list and are reused. A sampled object has a span
//! of its own, so only the allocator's large-object free looks here.
//! `RECORDS`' lock is held across `fork()` (handlers registered
//! with the first sample) and never while calling anything that allocates.

use super::stack::MAX_FRAMES;
use crate::alloc::fixalloc;
use crate::lock::Mutex;
use core::mem::{align_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

const BUCKET_HEADS: usize = 1 << 12;
const LIVE_HEADS: usize = 1 << 14;

/// The samples of one (stack, size).
pub struct Bucket {
    next: *mut Bucket,
    hash: u64,
    pub size: usize,
    pub allocs: u64,
    pub frees: u64,
    pub depth: usize,
    pub stack: [usize; MAX_FRAMES],
}

/// A sampled object that is still allocated.
struct Live {
    next: *mut Live,
    addr: usize,
    bucket: *mut Bucket,
}

struct Records {
    buckets: [*mut Bucket; BUCKET_HEADS],
    live: [*mut Live; LIVE_HEADS],
    free_live: *mut Live,
    /// How many buckets there are.
    count: usize,
}

// SAFETY: the records only point into persistent memory; the lock
// serialises all access.
unsafe impl Send for Records {}

static RECORDS: Mutex<Records> = Mutex::new(Records {
    buckets: [ptr::null_mut(); BUCKET_HEADS],
    live: [ptr::null_mut(); LIVE_HEADS],
    free_live: ptr::null_mut(),
    count: 0,
});

static FORK_HANDLERS: AtomicBool = AtomicBool::new(false);

fn stack_hash(stack: &[usize], size: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ size as u64;
    for &pc in stack {
        h = (h ^ pc as u64).wrapping_mul(0x0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

fn live_index(addr: usize) -> usize {
    ((addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 50) as usize % LIVE_HEADS
}

/// Records a sampled allocation of `size` bytes at `addr` made from `stack`.
pub fn record_alloc(addr: usize, size: usize, stack: &[usize]) {
    register_fork_handlers();
    let mut r = RECORDS.lock();
    let Some(bucket) = r.bucket(stack, size) else {
        return;
    };
    // SAFETY: buckets are live persistent records, mutated under the lock.
    unsafe { (*bucket).allocs += 1 };
    r.add_live(addr, bucket);
}

/// The sampled object at `addr` is freed (nothing when it was not sampled).
pub fn record_free(addr: usize) {
    let mut r = RECORDS.lock();
    if let Some(bucket) = r.remove_live(addr) {
        // SAFETY: as in `record_alloc`.
        unsafe { (*bucket).frees += 1 };
    }
}

/// Calls `f` with every bucket, under the lock (`f` must not allocate).
pub fn for_each_bucket(mut f: impl FnMut(&Bucket)) {
    let r = RECORDS.lock();
    for &head in &r.buckets {
        let mut b = head;
        while !b.is_null() {
            // SAFETY: a live persistent bucket; the lock keeps it still.
            let bucket = unsafe { &*b };
            f(bucket);
            b = bucket.next;
        }
    }
}

impl Records {
    /// The bucket of (stack, size), created if new; `None` if no memory.
    fn bucket(&mut self, stack: &[usize], size: usize) -> Option<*mut Bucket> {
        let hash = stack_hash(stack, size);
        let head = &mut self.buckets[(hash as usize) % BUCKET_HEADS];
        let mut b = *head;
        while !b.is_null() {
            // SAFETY: a live persistent bucket, under the lock.
            let bucket = unsafe { &*b };
            if bucket.hash == hash && bucket.size == size && &bucket.stack[..bucket.depth] == stack
            {
                return Some(b);
            }
            b = bucket.next;
        }
        let mem = fixalloc::persistent_alloc(size_of::<Bucket>(), align_of::<Bucket>())?;
        let b = mem.as_ptr().cast::<Bucket>();
        let mut frames = [0; MAX_FRAMES];
        frames[..stack.len()].copy_from_slice(stack);
        // SAFETY: fresh memory of a Bucket's size and alignment.
        unsafe {
            b.write(Bucket {
                next: *head,
                hash,
                size,
                allocs: 0,
                frees: 0,
                depth: stack.len(),
                stack: frames,
            })
        };
        *head = b;
        self.count += 1;
        Some(b)
    }

    /// Adds the live record of `addr` (none if there is no memory for it).
    fn add_live(&mut self, addr: usize, bucket: *mut Bucket) {
        let l = if self.free_live.is_null() {
            match fixalloc::persistent_alloc(size_of::<Live>(), align_of::<Live>()) {
                Some(mem) => mem.as_ptr().cast::<Live>(),
                None => return,
            }
        } else {
            let l = self.free_live;
            // SAFETY: a record on the free list.
            self.free_live = unsafe { (*l).next };
            l
        };
        let head = &mut self.live[live_index(addr)];
        // SAFETY: l is a free record of Live's size and alignment.
        unsafe {
            l.write(Live {
                next: *head,
                addr,
                bucket,
            })
        };
        *head = l;
    }

    fn remove_live(&mut self, addr: usize) -> Option<*mut Bucket> {
        let mut link: *mut *mut Live = &mut self.live[live_index(addr)];
        // SAFETY: the chain's records are live, under the lock.
        unsafe {
            while !(*link).is_null() {
                let l = *link;
                if (*l).addr == addr {
                    *link = (*l).next;
                    (*l).next = self.free_live;
                    self.free_live = l;
                    return Some((*l).bucket);
                }
                link = &mut (*l).next;
            }
        }
        None
    }
}

fn register_fork_handlers() {
    if !FORK_HANDLERS.swap(true, Ordering::AcqRel) {
        // SAFETY: handlers that only take and release the records' lock.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_parent)) };
    }
}

unsafe extern "C" fn fork_prepare() {
    RECORDS.lock_for_fork();
}

unsafe extern "C" fn fork_parent() {
    // SAFETY: fork_prepare took the lock on this thread.
    unsafe { RECORDS.unlock_after_fork() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_stacks_and_sizes_apart() {
        assert_ne!(stack_hash(&[1, 2], 16), stack_hash(&[2, 1], 16));
        assert_ne!(stack_hash(&[1, 2], 16), stack_hash(&[1, 2], 32));
        assert!(live_index(usize::MAX) < LIVE_HEADS);
    }
}
