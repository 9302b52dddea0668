//! Roots of libgc's C API, found as libgc finds them.
//!
//! A C program's GC pointers may sit anywhere the program can reach without
//! the collector's help; libgc's answer, kept here, is to scan conservatively
//! (every aligned word that points into an allocated GC object keeps it,
//! interior pointers included):
//! * the data and bss of every loaded object: the writable `PT_LOAD`
//!   segments reported by `dl_iterate_phdr` (main program and shared
//!   libraries alike), minus the ranges given to `GC_exclude_static_roots`
//!   and minus goheap's own object when goheap is a shared library of its
//!   own (its statics point at its metadata and would otherwise be scanned
//!   for nothing; linked statically, goheap's statics hold no GC pointers:
//!   the finalizer and link tables live in malloc'd memory precisely so that
//!   they do not keep their objects alive);
//! * the ranges given to `GC_add_roots` (until `GC_remove_roots` /
//!   `GC_clear_roots`);
//! * the stacks and registers of the registered threads (`stoptheworld`);
//! * uncollectable objects (the GC core marks them as roots itself).
//!
//! Not scanned, as in libgc: the malloc heap, thread-local storage, and
//! objects from `GC_malloc_atomic`.
//!
//! # Data and invariants
//! `ROOTS` (a runtime `Mutex`) holds the added and excluded ranges and the
//! snapshot of the data segments. The snapshot is taken by [`snapshot`]
//! *before* the world stops, because `dl_iterate_phdr` takes the dynamic
//! loader's lock, which a stopped thread may hold (inside `dlopen`). A
//! library loaded between the snapshot and the stop is scanned from the next
//! cycle on; its constructors would have to store the only pointer to a GC
//! object in its bss within that window for this to matter. The lock is
//! taken by the collector before it stops the world (see `libgc`) and
//! released after the restart, so no stopped thread holds it.

use crate::lock::Mutex;
use core::ffi::c_void;

/// Half-open address range `[lo, hi)`.
pub type Range = (usize, usize);

struct Roots {
    added: Vec<Range>,
    excluded: Vec<Range>,
    segments: Vec<Range>,
}

static ROOTS: Mutex<Roots> = Mutex::new(Roots {
    added: Vec::new(),
    excluded: Vec::new(),
    segments: Vec::new(),
});

/// `GC_add_roots(lo, hi)`: scan `[lo, hi)` in every cycle.
pub fn add_roots(lo: usize, hi: usize) {
    if lo < hi {
        ROOTS.lock().added.push((lo, hi));
    }
}

/// `GC_remove_roots(lo, hi)`: forget added ranges inside `[lo, hi)`.
pub fn remove_roots(lo: usize, hi: usize) {
    ROOTS.lock().added.retain(|&(a, b)| !(a >= lo && b <= hi));
}

/// `GC_clear_roots()`: forget every added range.
pub fn clear_roots() {
    ROOTS.lock().added.clear();
}

/// `GC_exclude_static_roots(lo, hi)`: never scan `[lo, hi)` of the data
/// segments.
pub fn exclude_static_roots(lo: usize, hi: usize) {
    if lo < hi {
        ROOTS.lock().excluded.push((lo, hi));
    }
}

/// Takes the root table's lock and keeps it (the collector, before the stop).
pub fn lock() {
    ROOTS.lock_for_fork();
}

/// Releases what [`lock`] took.
///
/// # Safety
/// The caller took the lock with [`lock`].
pub unsafe fn unlock() {
    // SAFETY: per the contract.
    unsafe { ROOTS.unlock_after_fork() };
}

/// Re-reads the loaded objects' writable segments. Call with the lock held
/// (after [`lock`]) and the world running.
pub fn snapshot() {
    // SAFETY: the caller holds the lock (contract of this function).
    let roots = unsafe { &mut *ROOTS.data_ptr() };
    roots.segments.clear();
    // SAFETY: the callback only reads the phdr data it is given and pushes
    // into the Vec passed through `data`.
    unsafe {
        libc::dl_iterate_phdr(
            Some(collect_segments),
            (&mut roots.segments as *mut Vec<Range>).cast(),
        )
    };
}

/// An address inside goheap's own data (which object holds goheap).
static OWN_DATA_MARKER: u8 = 0;

unsafe extern "C" fn collect_segments(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> i32 {
    // SAFETY: dl_iterate_phdr passes a valid info, and `data` is the Vec
    // given by `snapshot`.
    let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<Range>)) };
    // SAFETY: dlpi_phdr points at dlpi_phnum headers.
    let phdrs = unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr as usize;
    let loads = phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD);
    let own = &OWN_DATA_MARKER as *const u8 as usize;
    // SAFETY: dlpi_name is a C string (empty for the main program).
    let is_main = info.dlpi_name.is_null() || unsafe { *info.dlpi_name } == 0;
    let holds_goheap = loads.clone().any(|p| {
        let lo = base + p.p_vaddr as usize;
        (lo..lo + p.p_memsz as usize).contains(&own)
    });
    if holds_goheap && !is_main {
        return 0;
    }
    for p in loads.filter(|p| p.p_flags & libc::PF_W != 0) {
        let lo = base + p.p_vaddr as usize;
        out.push((lo, lo + p.p_memsz as usize));
    }
    0
}

/// Calls `f` for every static root range (data segments minus exclusions,
/// then added ranges). Call with the lock held (between [`lock`] and
/// [`unlock`]).
pub fn for_each_static_range(mut f: impl FnMut(usize, usize)) {
    // SAFETY: the caller holds the lock (contract of this function).
    let roots = unsafe { &*ROOTS.data_ptr() };
    for &seg in &roots.segments {
        subtract(seg, &roots.excluded, &mut f);
    }
    for &(lo, hi) in &roots.added {
        f(lo, hi);
    }
}

/// Calls `f` for the parts of `range` outside every range of `holes`.
fn subtract(range: Range, holes: &[Range], f: &mut impl FnMut(usize, usize)) {
    let (mut lo, hi) = range;
    while lo < hi {
        // The hole that starts first among those overlapping [lo, hi).
        let next = holes
            .iter()
            .filter(|&&(a, b)| a < hi && b > lo)
            .min_by_key(|&&(a, _)| a);
        match next {
            None => {
                f(lo, hi);
                return;
            }
            Some(&(a, b)) => {
                if a > lo {
                    f(lo, a);
                }
                lo = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static mut IN_BSS: usize = 0;
    static mut IN_DATA: usize = 0x1234;

    fn ranges() -> Vec<Range> {
        lock();
        snapshot();
        let mut v = Vec::new();
        for_each_static_range(|lo, hi| v.push((lo, hi)));
        // SAFETY: taken by lock() above.
        unsafe { unlock() };
        v
    }

    fn covered(v: &[Range], addr: usize) -> bool {
        v.iter().any(|&(lo, hi)| (lo..hi).contains(&addr))
    }

    #[test]
    fn data_and_bss_are_roots_and_exclusions_and_added_ranges_apply() {
        let bss = &raw const IN_BSS as usize;
        let data = &raw const IN_DATA as usize;
        let v = ranges();
        assert!(covered(&v, bss) && covered(&v, data));
        let stack_local = 0usize;
        let on_stack = &stack_local as *const usize as usize;
        assert!(!covered(&v, on_stack), "stacks come from stoptheworld");

        exclude_static_roots(bss, bss + 8);
        let v = ranges();
        assert!(!covered(&v, bss) && covered(&v, data));
        assert!(covered(&v, bss + 8) || covered(&v, bss - 8));

        add_roots(on_stack, on_stack + 8);
        assert!(covered(&ranges(), on_stack));
        remove_roots(on_stack, on_stack + 8);
        assert!(!covered(&ranges(), on_stack));
        ROOTS.lock().excluded.clear();
    }

    #[test]
    fn subtract_cuts_holes() {
        let mut v = Vec::new();
        subtract((0, 100), &[(10, 20), (5, 12), (90, 200)], &mut |a, b| {
            v.push((a, b))
        });
        assert_eq!(v, vec![(0, 5), (20, 90)]);
    }
}
