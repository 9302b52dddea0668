//! `GoHeap`: goheap as Rust's global allocator.
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: goheap::GoHeap = goheap::GoHeap;
//! ```
//!
//! Every method forwards to `malloc.rs`. Layouts under 16 bytes with
//! alignment under 8 use the tiny allocator; out of memory returns null, so
//! Rust calls `handle_alloc_error`; a `dealloc` of a pointer goheap did not
//! hand out aborts with a message naming goheap, `dealloc` and the address.

use crate::alloc::malloc;
use core::alloc::{GlobalAlloc, Layout};

/// The goheap allocator (a unit struct: all state is global).
#[derive(Clone, Copy, Default, Debug)]
pub struct GoHeap;

// SAFETY: malloc.rs returns null or a block of at least `size` bytes aligned
// to `align` that no one else uses until it is freed; realloc keeps the
// prefix; alloc_zeroed zeroes.
unsafe impl GlobalAlloc for GoHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        malloc::alloc_maybe_tiny(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block from this allocator.
        unsafe { malloc::free(ptr, "dealloc") }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        malloc::alloc_zeroed_maybe_tiny(layout.size(), layout.align())
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a live block of this allocator with its
        // layout's alignment.
        unsafe { malloc::realloc_sized(ptr, layout.size(), new_size, layout.align(), "realloc") }
    }
}
