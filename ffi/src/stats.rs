//! Statistics and memory release for C: `goheap_stats`, `goheap_release`,
//! `goheap_print_stats`, and glibc's `malloc_trim`, `malloc_stats` and
//! `mallinfo2` answered from goheap's own figures (see the core's
//! `mstats.rs` for what each figure means).

use goheap::{SizeClassStats, Stats};

const NUM_SIZE_CLASSES: usize = 68;

/// `struct goheap_size_class` in include/goheap.h.
#[repr(C)]
pub struct SizeClass {
    size: u64,
    mallocs: u64,
    frees: u64,
}

/// `struct goheap_stats` in include/goheap.h.
#[repr(C)]
pub struct CStats {
    heap_alloc: u64,
    total_alloc: u64,
    mallocs: u64,
    frees: u64,
    heap_sys: u64,
    heap_inuse: u64,
    heap_idle: u64,
    heap_released: u64,
    metadata_sys: u64,
    arenas: u64,
    by_size: [SizeClass; NUM_SIZE_CLASSES],
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
pub struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

fn size_class(c: &SizeClassStats) -> SizeClass {
    SizeClass {
        size: c.size as u64,
        mallocs: c.mallocs,
        frees: c.frees,
    }
}

fn c_stats(s: &Stats) -> CStats {
    CStats {
        heap_alloc: s.heap_alloc,
        total_alloc: s.total_alloc,
        mallocs: s.mallocs,
        frees: s.frees,
        heap_sys: s.heap_sys,
        heap_inuse: s.heap_inuse,
        heap_idle: s.heap_idle,
        heap_released: s.heap_released,
        metadata_sys: s.metadata_sys,
        arenas: s.arenas,
        by_size: core::array::from_fn(|i| size_class(&s.by_size[i])),
    }
}

/// Fills `*out` with the current statistics.
///
/// # Safety
/// `out` is null or points to a writable `struct goheap_stats`.
#[no_mangle]
pub unsafe extern "C" fn goheap_stats(out: *mut CStats) {
    if !out.is_null() {
        // SAFETY: the caller passes a writable struct goheap_stats.
        unsafe { out.write(c_stats(&goheap::stats())) };
    }
}

/// Hands back to the OS everything goheap can; returns the bytes released.
#[no_mangle]
pub extern "C" fn goheap_release() -> usize {
    goheap::release()
}

/// Prints the statistics to stderr.
#[no_mangle]
pub extern "C" fn goheap_print_stats() {
    goheap::print_stats();
}

/// glibc's `malloc_trim`: releases all free memory (whatever `pad`); 1 if
/// any memory was released, else 0.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> libc::c_int {
    (goheap::release() > 0) as libc::c_int
}

/// glibc's `malloc_stats`: goheap's statistics on stderr.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    goheap::print_stats();
}

/// glibc's `mallinfo2`, from goheap's figures: `arena` is the heap's mapped
/// memory, `uordblks` the bytes allocated, `fordblks` the rest, `keepcost`
/// what `malloc_trim` could still release, `hblks` the large objects live.
#[no_mangle]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    let s = goheap::stats();
    let large = &s.by_size[0];
    Mallinfo2 {
        arena: s.heap_sys as usize,
        ordblks: 0,
        smblks: 0,
        hblks: (large.mallocs - large.frees) as usize,
        hblkhd: 0,
        usmblks: 0,
        fsmblks: 0,
        uordblks: s.heap_alloc as usize,
        fordblks: (s.heap_sys.saturating_sub(s.heap_alloc)) as usize,
        keepcost: (s.heap_idle - s.heap_released) as usize,
    }
}
