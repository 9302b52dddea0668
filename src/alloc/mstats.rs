//! Statistics, like Go's `runtime.MemStats` (mstats.go): what the heap holds,
//! what it took from the OS, what it gave back, and counts per size class.
//!
//! Small-object counts are kept by the mcentrals, which see objects in
//! batches: an object counts as allocated from the moment a thread's mcache
//! takes it from its span until the mcache gives it back. So `heap_alloc`
//! includes the free objects sitting in threads' caches, and `mallocs` /
//! `frees` move in batches. Nothing on the allocation fast path counts.
//!
//! `print` writes the figures to stderr without allocating, for
//! `malloc_stats()`, `GOHEAP_STATS=1` and `goheap run --stats`.

use crate::alloc::arena::HEAP_ARENA_BYTES;
use crate::alloc::fixalloc::METADATA_SYS;
use crate::alloc::mcentral::central;
use crate::alloc::mheap::{memory_limit, HEAP, LIMIT_RELEASED};
use crate::alloc::mspan::SpanClass;
use crate::alloc::sizeclasses::{class_size, NUM_SIZE_CLASSES};
use crate::lock::Mutex;
use crate::os;
use core::sync::atomic::{AtomicU64, Ordering};

/// Allocation counts of one size class.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SizeClassStats {
    /// Object size of the class, in bytes.
    pub size: u32,
    pub mallocs: u64,
    pub frees: u64,
}

/// A snapshot of goheap's figures (names after Go's `MemStats`), in bytes
/// unless said otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Bytes of allocated objects (including free objects cached by threads).
    pub heap_alloc: u64,
    /// Bytes allocated, ever.
    pub total_alloc: u64,
    /// Objects allocated and freed, ever.
    pub mallocs: u64,
    pub frees: u64,
    /// Arena memory mapped from the OS.
    pub heap_sys: u64,
    /// Bytes in spans in use.
    pub heap_inuse: u64,
    /// Bytes in free spans (`heap_sys - heap_inuse`).
    pub heap_idle: u64,
    /// Bytes of free spans handed back to the OS (part of `heap_idle`).
    pub heap_released: u64,
    /// Memory mapped for metadata (fixalloc, persistentalloc, arena records).
    pub metadata_sys: u64,
    /// Heap arenas reserved (64 MiB of address space each).
    pub arenas: u64,
    /// Counts per size class; index 0 is large objects (size 0).
    pub by_size: [SizeClassStats; NUM_SIZE_CLASSES],
    /// Objects allocated and not freed: malloc's and the managed heap's.
    pub heap_objects: u64,
    /// The managed heap (`crate::gc`), as Go's `MemStats` GC fields:
    /// bytes of GC objects allocated (live at the last cycle plus those
    /// handed out since), completed cycles, total and last 256 pauses
    /// (`pause_ns[(num_gc + 255) % 256]` is the latest), the heap goal of
    /// the next cycle, the end of the last one (ns since the Unix epoch),
    /// and the fraction of CPU time the collector used since it started.
    pub gc_heap_alloc: u64,
    pub num_gc: u32,
    pub pause_total_ns: u64,
    pub pause_ns: [u64; 256],
    pub next_gc: u64,
    pub last_gc: u64,
    pub gc_cpu_fraction: f64,
    /// The memory limit (`GOHEAP_MEMLIMIT`, `set_memory_limit`; `i64::MAX`:
    /// none), what counts against it (heap memory mapped and not released,
    /// plus metadata: Go's mapped-ready total), and the bytes released to
    /// keep under it, ever.
    pub memory_limit: u64,
    pub mapped_ready: u64,
    pub limit_released: u64,
    /// The last cycle during which the GC CPU limiter was holding the
    /// collector back (Go's `/gc/limiter/last-enabled`; 0: never).
    pub gc_limiter_last_enabled: u32,
}

/// The managed heap's figures, written by `crate::gc` (which sits above
/// the allocator and reports here), read by `read`.
pub struct GcFigures {
    pub heap_alloc: AtomicU64,
    pub heap_objects: AtomicU64,
    pub num_gc: AtomicU64,
    pub pause_total_ns: AtomicU64,
    pub next_gc: AtomicU64,
    pub last_gc: AtomicU64,
    /// `f64::to_bits` of the CPU fraction.
    pub cpu_fraction: AtomicU64,
    pub pauses: Mutex<[u64; 256]>,
    pub limiter_last_enabled: AtomicU64,
}

pub static GC: GcFigures = GcFigures {
    heap_alloc: AtomicU64::new(0),
    heap_objects: AtomicU64::new(0),
    num_gc: AtomicU64::new(0),
    pause_total_ns: AtomicU64::new(0),
    next_gc: AtomicU64::new(0),
    last_gc: AtomicU64::new(0),
    cpu_fraction: AtomicU64::new(0),
    pauses: Mutex::new([0; 256]),
    limiter_last_enabled: AtomicU64::new(0),
};

/// Reads the current figures. Takes each central's lock and the heap's in
/// turn (never two at once), so it is a consistent picture of each part,
/// not of the whole.
pub fn read() -> Stats {
    let mut by_size = [SizeClassStats::default(); NUM_SIZE_CLASSES];
    let (mut heap_alloc, mut total_alloc) = (0u64, 0u64);
    for (class, entry) in by_size.iter_mut().enumerate().skip(1) {
        let size = class_size(class) as u64;
        let (m, f) = central(SpanClass::noscan(class)).counts();
        let (m, f) = if class == crate::alloc::sizeclasses::TINY_SIZE_CLASS {
            let (tm, tf) = central(SpanClass::TINY).counts();
            (m + tm, f + tf)
        } else {
            (m, f)
        };
        *entry = SizeClassStats {
            size: size as u32,
            mallocs: m,
            frees: f,
        };
        heap_alloc += (m - f) * size;
        total_alloc += m * size;
    }
    let (h, mapped_ready) = {
        let heap = HEAP.lock();
        (heap.stats(), heap.mapped_ready())
    };
    by_size[0] = SizeClassStats {
        size: 0,
        mallocs: h.large_allocs,
        frees: h.large_frees,
    };
    let (mallocs, frees) = by_size
        .iter()
        .fold((0, 0), |(m, f), c| (m + c.mallocs, f + c.frees));
    Stats {
        heap_alloc: heap_alloc + h.large_inuse as u64,
        total_alloc: total_alloc + h.large_bytes_total,
        mallocs,
        frees,
        heap_sys: h.sys as u64,
        heap_inuse: h.inuse as u64,
        heap_idle: (h.sys - h.inuse) as u64,
        heap_released: h.released as u64,
        metadata_sys: (METADATA_SYS.load(Ordering::Relaxed) + h.span_records) as u64,
        arenas: (h.reserved / HEAP_ARENA_BYTES) as u64,
        by_size,
        heap_objects: mallocs - frees + GC.heap_objects.load(Ordering::Relaxed),
        gc_heap_alloc: GC.heap_alloc.load(Ordering::Relaxed),
        num_gc: GC.num_gc.load(Ordering::Relaxed) as u32,
        pause_total_ns: GC.pause_total_ns.load(Ordering::Relaxed),
        pause_ns: *GC.pauses.lock(),
        next_gc: GC.next_gc.load(Ordering::Relaxed),
        last_gc: GC.last_gc.load(Ordering::Relaxed),
        gc_cpu_fraction: f64::from_bits(GC.cpu_fraction.load(Ordering::Relaxed)),
        memory_limit: memory_limit(),
        mapped_ready: mapped_ready as u64,
        limit_released: LIMIT_RELEASED.load(Ordering::Relaxed),
        gc_limiter_last_enabled: GC.limiter_last_enabled.load(Ordering::Relaxed) as u32,
    }
}

/// Writes `s` to stderr, one `goheap: name value` line per figure, then the
/// size classes that were used.
pub fn print(s: &Stats) {
    let figures: [(&str, u64); 21] = [
        ("heap_alloc", s.heap_alloc),
        ("total_alloc", s.total_alloc),
        ("mallocs", s.mallocs),
        ("frees", s.frees),
        ("heap_sys", s.heap_sys),
        ("heap_inuse", s.heap_inuse),
        ("heap_idle", s.heap_idle),
        ("heap_released", s.heap_released),
        ("metadata_sys", s.metadata_sys),
        ("arenas", s.arenas),
        ("heap_objects", s.heap_objects),
        ("gc_heap_alloc", s.gc_heap_alloc),
        ("num_gc", s.num_gc as u64),
        ("pause_total_ns", s.pause_total_ns),
        ("next_gc", s.next_gc),
        ("last_gc", s.last_gc),
        ("gc_cpu_fraction_ppm", (s.gc_cpu_fraction * 1e6) as u64),
        ("memory_limit", s.memory_limit),
        ("mapped_ready", s.mapped_ready),
        ("limit_released", s.limit_released),
        ("gc_limiter_last_enabled", s.gc_limiter_last_enabled as u64),
    ];
    for (name, v) in figures {
        let mut buf = [0u8; 20];
        os::write_stderr(&[
            b"goheap: ",
            name.as_bytes(),
            b" ",
            os::decimal(v as usize, &mut buf),
            b"\n",
        ]);
    }
    print_pauses(s);
    for c in s.by_size.iter().filter(|c| c.mallocs > 0) {
        let (mut a, mut b, mut d) = ([0u8; 20], [0u8; 20], [0u8; 20]);
        os::write_stderr(&[
            b"goheap: size ",
            os::decimal(c.size as usize, &mut a),
            b" mallocs ",
            os::decimal(c.mallocs as usize, &mut b),
            b" frees ",
            os::decimal(c.frees as usize, &mut d),
            b"\n",
        ]);
    }
}

/// The recorded pauses, newest first, on one line (none before a cycle).
fn print_pauses(s: &Stats) {
    let n = (s.num_gc as usize).min(s.pause_ns.len());
    if n == 0 {
        return;
    }
    os::write_stderr(&[b"goheap: pause_ns"]);
    for i in 0..n {
        let at = (s.num_gc as usize + 255 - i) % 256;
        let mut buf = [0u8; 20];
        os::write_stderr(&[b" ", os::decimal(s.pause_ns[at] as usize, &mut buf)]);
    }
    os::write_stderr(&[b"\n"]);
}
