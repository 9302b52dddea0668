//! Dirty-page tracking for the C side's concurrent mark: Boehm's "virtual
//! dirty bits" (Boehm, Demers and Shenker's mostly-parallel collector), kept
//! by the kernel through userfaultfd's asynchronous write protection.
//!
//! # Why
//! C code stores GC pointers with plain writes: no barrier sees them. A mark
//! that runs beside C threads can miss an object whose only pointer moves
//! into an object already scanned. libgc's two answers are to stop the world
//! for the whole mark, or to learn which pages were written while it marked
//! and scan them again with the world stopped. goheap takes the second: the
//! pause then costs what was written during the end of the mark, not the
//! size of the heap.
//!
//! # The kernel's part (Linux 6.7 and later)
//! Every heap arena is registered with one userfaultfd in write-protect mode
//! with `UFFD_FEATURE_WP_ASYNC`: arenas that exist when tracking starts at
//! once, later ones as the heap maps them (`MHeap::set_map_hook`; mapping
//! with `MAP_FIXED` drops a registration, so each fresh range is registered
//! again). Registration alone changes nothing for a page. `PAGEMAP_SCAN` on
//! `/proc/self/pagemap` over a range reports its *written* pages (not
//! write-protected: written since their last protection, or never protected,
//! holes included) and, with `PM_SCAN_WP_MATCHING`, protects them again, page
//! by page under the page-table lock and before the call returns (the TLB
//! flush included). A later write to a protected page takes a minor fault in
//! which the kernel lifts the protection and lets the write proceed: no
//! signal, no handler thread (about 1.2 µs on this machine's kernel). Writes
//! the kernel makes for the program (`read(2)` into a GC object) count too.
//! A range that is *not* registered reports nothing at all, so a failed
//! registration turns tracking off for good (`healthy`).
//!
//! Only the pages of spans scanned conservatively (libgc's `GC_malloc` and
//! uncollectable kinds) are scanned and protected: Rust objects have write
//! barriers, atomic objects hold no pointers, and malloc's pages must not
//! fault.
//!
//! # The invariant, and why the mark misses nothing
//! For each page P of a conservative span, with R_P the last time P was
//! protected:
//!
//! (D) if P was not written since R_P, every pointer in the part on P of a
//!     marked object was seen by a scan made after R_P (its target greyed).
//!
//! A *round* ([`round`]) reports-and-protects every written page (time R_P),
//! then scans the part on each reported page of every object marked at that
//! moment: (D) holds for the reported pages afterwards. An object marked
//! after the round looked is grey, and is scanned whole after it was marked,
//! after R_P. Pages not reported keep (D): their contents did not change.
//! C objects allocated during the mark are white (`raw`): once marked, they
//! are grey like any other. An object allocated black (uncollectable ones)
//! after R_P was zeroed when allocated (a write: P is written) or lies in
//! memory still zero from the OS; the program stores into it only after
//! the allocation set its mark bit, so any pointer in it was stored after
//! R_P, on a written page. A page never
//! protected counts as written. So (D) holds from the first round on, with
//! no reset at the cycle's start at all: before that round, every page of a
//! conservative span that was not protected counts as written.
//!
//! The concurrent mark of a cycle in which C takes part (`mgc.rs`) runs
//! rounds beside the C threads (the first one at once, then after each
//! drain, until a round finds little written); mark termination stops the C
//! threads, runs a last round without protecting anything, scans every root
//! again (stacks, registers, data segments, libgc's tables) and drains. Then
//! every object reachable from a root is marked: the first object of a path
//! is pointed to by a root just scanned; each marked object's pointers were
//! seen, by (D) on pages not written since their last protection and by the
//! last round on the others, or it is still grey and the drain scans it.
//!
//! Concurrent scans read objects that C threads may be writing: every word
//! is read with a relaxed atomic load (`Marker::scan_conservative`).
//! Memory the kernel pins for devices (`io_uring` fixed buffers, `O_DIRECT`)
//! is written without faults: a program that lets such a transfer store the
//! only pointer to a GC object must not turn incremental mode on (it is
//! off by default, `libgc::enable_incremental`), as with libgc's.

use super::mbitmap::{self, Kind};
use super::mcache::central;
use super::mgcmark::Marker;
use crate::alloc::mheap::HEAP;
use crate::alloc::sizeclasses::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::OnceLock;

/// The userfaultfd and `/proc/self/pagemap` (open for the process's life).
static UFFD: AtomicI32 = AtomicI32::new(-1);
static PAGEMAP: AtomicI32 = AtomicI32::new(-1);
/// Set when a registration failed: pages of that range would look clean.
static BROKEN: AtomicBool = AtomicBool::new(false);
static STARTED: OnceLock<bool> = OnceLock::new();

// From <linux/userfaultfd.h> and <linux/fs.h> (not in the libc crate).
const UFFD_USER_MODE_ONLY: i32 = 1;
const UFFD_API: u64 = 0xAA;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
/// `_IOWR(0xAA, 0x3F, struct uffdio_api)`.
const UFFDIO_API: u64 = 0xC018_AA3F;
/// `_IOWR(0xAA, 0x00, struct uffdio_register)`.
const UFFDIO_REGISTER: u64 = 0xC020_AA00;
/// `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: u64 = 0xC060_6610;
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
const PAGE_IS_WRITTEN: u64 = 1 << 1;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

/// Whether written pages can be tracked: starts tracking on first call
/// (opens the userfaultfd, registers every arena, hooks the heap's growth).
/// False on kernels without asynchronous write protection or
/// `PAGEMAP_SCAN`, where userfaultfd is forbidden, or once a registration
/// failed.
pub fn healthy() -> bool {
    *STARTED.get_or_init(start) && !BROKEN.load(Ordering::Relaxed)
}

fn start() -> bool {
    let Some(uffd) = open_uffd() else {
        return false;
    };
    // SAFETY: a NUL-terminated path; the fd is checked below.
    let pagemap = unsafe {
        libc::open(
            c"/proc/self/pagemap".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if pagemap < 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(uffd) };
        return false;
    }
    UFFD.store(uffd, Ordering::Relaxed);
    PAGEMAP.store(pagemap, Ordering::Relaxed);
    // An empty scan tells whether the kernel has PAGEMAP_SCAN.
    let mut v = [PageRegion::default(); 1];
    if scan_once(0, 0, false, &mut v).is_none() {
        return false;
    }
    HEAP.lock().set_map_hook(register);
    !BROKEN.load(Ordering::Relaxed)
}

/// A userfaultfd with asynchronous write protection, or None.
fn open_uffd() -> Option<i32> {
    let flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: the userfaultfd system call takes flags only. User-mode-only
    // first (allowed without privilege since Linux 5.11); asynchronous
    // protection never reaches the fd's reader, whoever faults.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY) };
    let fd = if fd < 0 {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_userfaultfd, flags) }
    } else {
        fd
    };
    if fd < 0 {
        return None;
    }
    let fd = fd as i32;
    let mut api = UffdioApi {
        api: UFFD_API,
        features: UFFD_FEATURE_WP_ASYNC,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_API reads and writes a `struct uffdio_api`.
    if unsafe { libc::ioctl(fd, UFFDIO_API as _, &mut api) } != 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
        return None;
    }
    Some(fd)
}

/// Turns tracking off for good (a scan was refused: the kernel cannot be
/// relied on any more).
pub fn give_up() {
    BROKEN.store(true, Ordering::Relaxed);
}

/// The heap's map hook: registers `[base, base + len)` (mapped or reserved
/// anonymous memory of an arena) for write protection.
fn register(base: usize, len: usize) {
    let mut reg = UffdioRegister {
        start: base as u64,
        len: len as u64,
        mode: UFFDIO_REGISTER_MODE_WP,
        ioctls: 0,
    };
    // SAFETY: UFFDIO_REGISTER reads and writes a `struct uffdio_register`;
    // it changes how the kernel handles faults in the range, nothing else.
    let r = unsafe { libc::ioctl(UFFD.load(Ordering::Relaxed), UFFDIO_REGISTER as _, &mut reg) };
    if r != 0 {
        BROKEN.store(true, Ordering::Relaxed);
    }
}

/// One `PAGEMAP_SCAN` of `[lo, hi)` for written pages (protecting them again
/// if `protect`): the regions found, and where the walk stopped (the
/// buffer may fill first). None if the kernel refused.
fn scan_once(lo: usize, hi: usize, protect: bool, v: &mut [PageRegion]) -> Option<(usize, usize)> {
    let mut arg = PmScanArg {
        size: core::mem::size_of::<PmScanArg>() as u64,
        flags: if protect { PM_SCAN_WP_MATCHING } else { 0 },
        start: lo as u64,
        end: hi as u64,
        walk_end: 0,
        vec: v.as_mut_ptr() as u64,
        vec_len: v.len() as u64,
        max_pages: 0,
        category_inverted: 0,
        category_mask: PAGE_IS_WRITTEN,
        category_anyof_mask: 0,
        return_mask: PAGE_IS_WRITTEN,
    };
    // SAFETY: PAGEMAP_SCAN reads the argument and writes at most `vec_len`
    // regions into `v`; with WP_MATCHING it only protects pages of the
    // registered range against writes, which the kernel then tracks.
    let n = unsafe { libc::ioctl(PAGEMAP.load(Ordering::Relaxed), PAGEMAP_SCAN as _, &mut arg) };
    (n >= 0).then_some((n as usize, arg.walk_end as usize))
}

/// Calls `f` with each run of written pages in `[lo, hi)`, protecting them
/// again first if `protect`. False if the kernel refused a scan.
fn for_each_written(lo: usize, hi: usize, protect: bool, mut f: impl FnMut(usize, usize)) -> bool {
    let mut v = [PageRegion::default(); 256];
    let mut at = lo;
    while at < hi {
        let Some((n, walk_end)) = scan_once(at, hi, protect, &mut v) else {
            return false;
        };
        for r in &v[..n] {
            f(r.start as usize, r.end as usize);
        }
        if walk_end <= at {
            return false;
        }
        at = walk_end;
    }
    true
}

/// Runs of conservative spans closer than this are scanned as one range
/// (the pages between, free or of other spans, are protected too and cost
/// a fault when next written): a `PAGEMAP_SCAN` call costs microseconds,
/// and the spans of a fragmented heap make tens of thousands of runs.
const RUN_GAP: usize = 1 << 20;

/// The address ranges of the spans scanned conservatively, sorted and
/// merged (across gaps up to `RUN_GAP`), and their bytes.
fn conservative_runs() -> (Vec<(usize, usize)>, usize) {
    let c = central();
    let mut runs: Vec<(usize, usize)> = c
        .all
        .iter()
        .chain(c.unswept.iter())
        .filter(|((kind, _), _)| scans_words(*kind))
        .flat_map(|(_, spans)| spans.iter())
        // SAFETY: records in the central lists are live.
        .map(|&s| unsafe { ((*s).base, (*s).limit) })
        .collect();
    drop(c);
    runs.sort_unstable();
    let bytes = runs.iter().map(|(lo, hi)| hi - lo).sum();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in runs {
        match merged.last_mut() {
            Some(last) if lo - last.1 <= RUN_GAP => last.1 = hi,
            _ => merged.push((lo, hi)),
        }
    }
    (merged, bytes)
}

fn scans_words(kind: Kind) -> bool {
    matches!(kind, Kind::Conservative | Kind::Uncollectable)
}

/// What a round found.
#[derive(Clone, Copy, Default, Debug)]
pub struct Found {
    /// Bytes of written pages (some maybe between conservative spans).
    pub written: usize,
    /// Bytes of conservative spans.
    pub tracked: usize,
}

/// One round (see the module comment): every written page of a
/// conservative span is reported (and protected again if `protect`), and
/// the part on it of each marked object is scanned with `m`. None if the
/// kernel refused a scan: the mark cannot rely on the pages then.
pub fn round(m: &mut Marker, protect: bool) -> Option<Found> {
    let (runs, tracked) = conservative_runs();
    let mut found = Found {
        written: 0,
        tracked,
    };
    for (lo, hi) in runs {
        let ok = for_each_written(lo, hi, protect, |a, b| {
            found.written += b - a;
            rescan(m, a, b);
        });
        if !ok {
            return None;
        }
    }
    Some(found)
}

/// Scans the part inside `[lo, hi)` of every marked object of the
/// conservative spans there.
fn rescan(m: &mut Marker, lo: usize, hi: usize) {
    let mut p = lo;
    while p < hi {
        let Some(s) = mbitmap::span_of(p) else {
            p = (p & !(PAGE_SIZE - 1)) + PAGE_SIZE;
            continue;
        };
        let end = s.limit.min(hi);
        if scans_words(s.kind) {
            s.for_each_marked(p, end, |idx| {
                let obj = s.object(idx);
                if s.is_allocated(idx) {
                    // SAFETY: part of an allocated object of a live span,
                    // mapped; read with atomic loads (C may be writing).
                    unsafe { m.scan_conservative(obj.max(lo), (obj + s.elemsize).min(end)) };
                }
            });
        }
        p = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maps `pages` pages of anonymous memory registered for tracking.
    fn tracked_mapping(pages: usize) -> *mut u8 {
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                pages * 4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        register(p as usize, pages * 4096);
        p.cast()
    }

    fn written_pages(lo: *mut u8, pages: usize, protect: bool) -> Vec<usize> {
        let mut v = Vec::new();
        let base = lo as usize;
        assert!(for_each_written(
            base,
            base + pages * 4096,
            protect,
            |a, b| { v.extend((a..b).step_by(4096).map(|q| (q - base) / 4096)) }
        ));
        v
    }

    #[test]
    fn writes_of_this_thread_another_thread_and_the_kernel_are_reported_once() {
        if !healthy() {
            eprintln!("no userfaultfd write protection here: nothing to test");
            return;
        }
        let m = tracked_mapping(64);
        // Never protected: every page counts as written, holes included.
        assert_eq!(written_pages(m, 64, true), (0..64).collect::<Vec<_>>());
        assert!(written_pages(m, 64, true).is_empty());
        let addr = m as usize;
        // SAFETY: inside the mapping.
        unsafe { m.add(3 * 4096 + 8).write(1) };
        std::thread::spawn(move || {
            // SAFETY: inside the mapping.
            unsafe { (addr as *mut u8).add(40 * 4096).write(2) }
        })
        .join()
        .unwrap();
        let mut fds = [0i32; 2];
        // SAFETY: plain pipe I/O into the mapping's page 17.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            assert_eq!(libc::write(fds[1], b"hello".as_ptr().cast(), 5), 5);
            assert_eq!(libc::read(fds[0], m.add(17 * 4096 + 100).cast(), 5), 5);
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        // SAFETY: inside the mapping; a read does not count as a write.
        let _ = unsafe { m.add(50 * 4096).read_volatile() };
        assert_eq!(written_pages(m, 64, false), vec![3, 17, 40]);
        assert_eq!(written_pages(m, 64, true), vec![3, 17, 40]);
        assert!(written_pages(m, 64, true).is_empty());
    }
}
