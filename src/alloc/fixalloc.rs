//! Metadata allocators that never touch the heap they describe, as in Go's
//! mfixalloc.go and malloc.go's persistentalloc.
//!
//! `persistent_alloc` hands out small blocks of zeroed memory that are never
//! freed (arena metadata, per-span side tables, fixalloc chunks). It bumps a
//! pointer through 256 KiB chunks mapped from the OS; requests of 64 KiB or
//! more get their own mapping. One lock guards the current chunk.
//!
//! `FixAlloc<T>` is a free-list allocator for fixed-size records (`MSpan`,
//! `MCache`): freed records go on a list threaded through their first word
//! and are handed out again first; otherwise records are carved from 16 KiB
//! chunks of persistent memory. It is not synchronised: its owner keeps it
//! under a lock (the heap lock, for all of goheap's fixallocs). Memory never
//! returns to the OS, so a pointer to a record stays dereferenceable forever —
//! which is what lets lock-free span lookups read a record that was freed.
//!
//! Both count their bytes in `METADATA_SYS`, the statistics' metadata figure.

use crate::lock::Mutex;
use crate::os;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

const PERSISTENT_CHUNK: usize = 256 << 10;
const PERSISTENT_DIRECT: usize = 64 << 10;
const FIX_CHUNK: usize = 16 << 10;

/// Bytes of memory mapped for metadata.
pub static METADATA_SYS: AtomicUsize = AtomicUsize::new(0);

struct Persistent {
    base: usize,
    off: usize,
}

static PERSISTENT: Mutex<Persistent> = Mutex::new(Persistent { base: 0, off: 0 });

/// Returns `size` bytes of zeroed memory aligned to `align` (a power of two
/// up to the OS page size) that is never freed, or `None` if the OS refuses.
pub fn persistent_alloc(size: usize, align: usize) -> Option<NonNull<u8>> {
    if size >= PERSISTENT_DIRECT {
        let p = os::sys_alloc(size)?;
        METADATA_SYS.fetch_add(size, Ordering::Relaxed);
        return Some(p);
    }
    let mut st = PERSISTENT.lock();
    let mut off = st.off.next_multiple_of(align);
    if st.base == 0 || off + size > PERSISTENT_CHUNK {
        st.base = os::sys_alloc(PERSISTENT_CHUNK)?.as_ptr() as usize;
        METADATA_SYS.fetch_add(PERSISTENT_CHUNK, Ordering::Relaxed);
        off = 0;
    }
    st.off = off + size;
    NonNull::new((st.base + off) as *mut u8)
}

/// Lock the persistent allocator across `fork()` (see `lock.rs`).
pub fn lock_for_fork() {
    PERSISTENT.lock_for_fork();
}

/// # Safety
/// After `lock_for_fork`, in parent or child.
pub unsafe fn unlock_after_fork() {
    // SAFETY: forwarded contract.
    unsafe { PERSISTENT.unlock_after_fork() };
}

struct FreeRecord {
    next: *mut FreeRecord,
}

/// A free-list allocator of `T` records (see the module comment).
pub struct FixAlloc<T> {
    free: *mut FreeRecord,
    chunk: usize,
    nchunk: usize,
    inuse: usize,
    _t: PhantomData<T>,
}

// SAFETY: a FixAlloc only holds pointers into memory it owns; its owner
// serialises access with a lock.
unsafe impl<T> Send for FixAlloc<T> {}

impl<T> FixAlloc<T> {
    const SIZE: usize = {
        assert!(size_of::<T>() >= size_of::<FreeRecord>());
        assert!(align_of::<T>() <= 64);
        size_of::<T>().next_multiple_of(align_of::<T>())
    };

    pub const fn new() -> Self {
        FixAlloc {
            free: ptr::null_mut(),
            chunk: 0,
            nchunk: 0,
            inuse: 0,
            _t: PhantomData,
        }
    }

    /// Stores `value` in a record and returns it; `None` if out of memory.
    pub fn alloc(&mut self, value: T) -> Option<NonNull<T>> {
        let p = if !self.free.is_null() {
            let r = self.free;
            // SAFETY: records on the free list are ours and hold a FreeRecord.
            self.free = unsafe { (*r).next };
            r.cast::<T>()
        } else {
            if self.nchunk < Self::SIZE {
                let chunk = persistent_alloc(FIX_CHUNK, align_of::<T>().max(16))?;
                self.chunk = chunk.as_ptr() as usize;
                self.nchunk = FIX_CHUNK;
            }
            let p = self.chunk as *mut T;
            self.chunk += Self::SIZE;
            self.nchunk -= Self::SIZE;
            p
        };
        self.inuse += Self::SIZE;
        // SAFETY: p is a record-sized, record-aligned block nobody else uses.
        unsafe { p.write(value) };
        NonNull::new(p)
    }

    /// Returns `p` to the free list. Its memory stays mapped.
    ///
    /// # Safety
    /// `p` came from this allocator's `alloc` and is not used afterwards
    /// (other than by racy readers that validate what they read).
    pub unsafe fn free(&mut self, p: NonNull<T>) {
        let r = p.as_ptr().cast::<FreeRecord>();
        // SAFETY: p is a record of ours, at least FreeRecord-sized.
        unsafe { (*r).next = self.free };
        self.free = r;
        self.inuse -= Self::SIZE;
    }

    /// Bytes in records handed out and not freed.
    pub fn inuse(&self) -> usize {
        self.inuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    struct Rec {
        a: usize,
        b: [u64; 5],
    }

    #[test]
    fn fixalloc_reuses_freed_records_first() {
        let mut f: FixAlloc<Rec> = FixAlloc::new();
        let a = f.alloc(Rec { a: 1, b: [1; 5] }).unwrap();
        let b = f.alloc(Rec { a: 2, b: [2; 5] }).unwrap();
        assert_ne!(a, b);
        assert_eq!(f.inuse(), 2 * size_of::<Rec>());
        // SAFETY: a came from f and is not used again.
        unsafe { f.free(a) };
        let c = f.alloc(Rec { a: 3, b: [3; 5] }).unwrap();
        assert_eq!(c, a, "the freed record is handed out again");
        // SAFETY: c and b are live records of f.
        unsafe {
            assert_eq!(c.as_ref().a, 3);
            assert_eq!(b.as_ref().b, [2; 5]);
        }
    }

    #[test]
    fn fixalloc_records_do_not_overlap_across_chunks() {
        let mut f: FixAlloc<Rec> = FixAlloc::new();
        let n = 3 * FIX_CHUNK / size_of::<Rec>();
        let mut addrs: Vec<usize> = (0..n)
            .map(|i| f.alloc(Rec { a: i, b: [0; 5] }).unwrap().as_ptr() as usize)
            .collect();
        addrs.sort();
        for w in addrs.windows(2) {
            assert!(w[1] - w[0] >= size_of::<Rec>());
        }
    }

    #[test]
    fn persistent_alloc_is_zeroed_aligned_and_disjoint() {
        let a = persistent_alloc(100, 64).unwrap().as_ptr() as usize;
        let b = persistent_alloc(100, 64).unwrap().as_ptr() as usize;
        let big = persistent_alloc(PERSISTENT_DIRECT, 8).unwrap().as_ptr();
        assert_eq!(a % 64, 0);
        assert_eq!(b % 64, 0);
        assert!(a + 100 <= b || b + 100 <= a);
        // SAFETY: big spans PERSISTENT_DIRECT fresh bytes.
        let s = unsafe { core::slice::from_raw_parts(big, PERSISTENT_DIRECT) };
        assert!(s.iter().all(|&x| x == 0));
    }
}
