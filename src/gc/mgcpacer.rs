//! Pacing and the collector's figures (Go's mgcpacer.go, and the GC half
//! of mstats.go).
//!
//! `heap_live` counts the bytes of GC objects allocated: what the last
//! sweep kept, plus every slot handed to a cache since (Go's `heapLive`,
//! also counted at refill). When it reaches the goal, allocation requests
//! a cycle (`mgc::request`). After each cycle, as Go's pacer computes it
//! without stacks and globals (Rust roots are handles, not scanned memory):
//!
//! ```text
//! goal = max(marked + marked × GOGC/100, 4 MiB × GOGC/100)
//! ```
//!
//! `GOHEAP_GOGC=off` never requests a cycle (explicit `collect` still runs
//! one); `raw::disable` turns off both, as libgc's `GC_disable` does.
//! `raw::set_max_heap_size` bounds the bytes in GC spans: past it, span
//! allocation fails (the C side then reports out of memory).
//!
//! Each cycle reports to `alloc::mstats::GC` (NumGC, pauses, NextGC, …)
//! and, with `GOHEAP_DEBUG=gctrace=1`, prints Go's gctrace line.

use super::mgc;
use super::mgcsweep::Swept;
use crate::alloc::mstats::GC;
use crate::options;
use core::sync::atomic::{AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HEAP_MINIMUM: usize = 4 << 20;

static HEAP_LIVE: AtomicUsize = AtomicUsize::new(0);
static HEAP_OBJECTS: AtomicUsize = AtomicUsize::new(0);
static GOAL: AtomicUsize = AtomicUsize::new(0);
static SPAN_BYTES: AtomicUsize = AtomicUsize::new(0);
static TOTAL_BYTES: AtomicU64 = AtomicU64::new(0);
static MAX_HEAP: AtomicUsize = AtomicUsize::new(0);
static DISABLED: AtomicIsize = AtomicIsize::new(0);
static CYCLES: AtomicU32 = AtomicU32::new(0);
static MARK_NS: AtomicU64 = AtomicU64::new(0);
static START: OnceLock<Instant> = OnceLock::new();

/// `GOHEAP_GOGC`, read once.
fn gogc() -> Option<u32> {
    static GOGC: OnceLock<Option<u32>> = OnceLock::new();
    *GOGC.get_or_init(options::gogc)
}

fn start_time() -> Instant {
    *START.get_or_init(Instant::now)
}

fn goal() -> usize {
    match GOAL.load(Ordering::Relaxed) {
        0 => {
            let g = heap_minimum();
            GOAL.store(g, Ordering::Relaxed);
            g
        }
        g => g,
    }
}

fn heap_minimum() -> usize {
    HEAP_MINIMUM * gogc().unwrap_or(100) as usize / 100
}

/// `bytes` in `objects` objects were handed to a cache (or allocated large).
pub fn note_alloc(bytes: usize, objects: usize) {
    start_time();
    let live = HEAP_LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    let objs = HEAP_OBJECTS.fetch_add(objects, Ordering::Relaxed) + objects;
    GC.heap_alloc.store(live as u64, Ordering::Relaxed);
    GC.heap_objects.store(objs as u64, Ordering::Relaxed);
    TOTAL_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    if live >= goal() && gogc().is_some() && !is_disabled() {
        mgc::request();
    }
}

/// A GC span of `bytes` was added (or returned to the heap).
pub fn note_span(bytes: usize, added: bool) {
    if added {
        SPAN_BYTES.fetch_add(bytes, Ordering::Relaxed);
    } else {
        SPAN_BYTES.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Whether the GC heap may grow by `bytes` under `set_max_heap_size`.
pub fn may_grow(bytes: usize) -> bool {
    let max = MAX_HEAP.load(Ordering::Relaxed);
    max == 0 || SPAN_BYTES.load(Ordering::Relaxed) + bytes <= max
}

pub fn set_max_heap(bytes: usize) {
    MAX_HEAP.store(bytes, Ordering::Relaxed);
}

pub fn disable() {
    DISABLED.fetch_add(1, Ordering::Relaxed);
}

pub fn enable() {
    DISABLED.fetch_sub(1, Ordering::Relaxed);
}

pub fn is_disabled() -> bool {
    DISABLED.load(Ordering::Relaxed) > 0
}

pub fn heap_live() -> usize {
    HEAP_LIVE.load(Ordering::Relaxed)
}

pub fn span_bytes() -> usize {
    SPAN_BYTES.load(Ordering::Relaxed)
}

pub fn total_bytes() -> u64 {
    TOTAL_BYTES.load(Ordering::Relaxed)
}

/// Completed cycles.
pub fn cycles() -> u32 {
    CYCLES.load(Ordering::Acquire)
}

/// Phase times of a cycle.
pub struct CycleTimes {
    pub start: Instant,
    /// Flushing caches and stopping C threads (Go's sweep termination).
    pub stop: Duration,
    pub mark: Duration,
    /// Restarting and sweeping (Go's mark termination, here with the sweep).
    pub sweep: Duration,
    /// Time mutators were held out of the heap (the world held): the
    /// recorded pause.
    pub pause: Duration,
    /// Asked for by `collect` (Go's `runtime.GC`).
    pub forced: bool,
}

/// Ends a cycle: new goal, figures, trace line.
pub fn end_cycle(t: CycleTimes, heap_before: usize, swept: Swept) {
    let pct = gogc().unwrap_or(100) as usize;
    let goal = (swept.live_bytes + swept.live_bytes * pct / 100).max(heap_minimum());
    GOAL.store(goal, Ordering::Relaxed);
    HEAP_LIVE.store(swept.live_bytes, Ordering::Relaxed);
    HEAP_OBJECTS.store(swept.live_objects, Ordering::Relaxed);
    let pause = t.pause;
    let n = CYCLES.load(Ordering::Relaxed) + 1;
    let since_start = t.start.saturating_duration_since(start_time());
    let elapsed = start_time().elapsed().max(Duration::from_nanos(1));
    let total_pause = GC.pause_total_ns.load(Ordering::Relaxed) + pause.as_nanos() as u64;
    let fraction = total_pause as f64 / elapsed.as_nanos() as f64;
    GC.pauses.lock()[(n as usize + 255) % 256] = pause.as_nanos() as u64;
    GC.pause_total_ns.store(total_pause, Ordering::Relaxed);
    GC.next_gc.store(goal as u64, Ordering::Relaxed);
    GC.last_gc.store(unix_nanos(), Ordering::Relaxed);
    GC.cpu_fraction.store(fraction.to_bits(), Ordering::Relaxed);
    GC.heap_alloc
        .store(swept.live_bytes as u64, Ordering::Relaxed);
    GC.heap_objects
        .store(swept.live_objects as u64, Ordering::Relaxed);
    GC.num_gc.store(n as u64, Ordering::Relaxed);
    MARK_NS.fetch_add(t.mark.as_nanos() as u64, Ordering::Relaxed);
    CYCLES.store(n, Ordering::Release);
    if options::gctrace() {
        let line = gctrace_line(&Trace {
            n,
            since_start,
            percent: (fraction * 100.0) as u32,
            times: [t.stop, t.mark, t.sweep],
            heap: [heap_before, heap_before, swept.live_bytes],
            goal,
            procs: procs(),
            forced: t.forced,
        });
        crate::os::write_stderr(&[line.as_bytes()]);
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn procs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The fields of one gctrace line.
struct Trace {
    n: u32,
    since_start: Duration,
    percent: u32,
    /// Sweep termination, mark, mark termination (all stop-the-world here).
    times: [Duration; 3],
    /// Heap at start, at end, marked.
    heap: [usize; 3],
    goal: usize,
    procs: usize,
    forced: bool,
}

/// Go's gctrace line. The cycle runs on one thread with the world
/// stopped: its CPU times are its clock times, the mark's all "background"
/// (no assists, no idle marking).
fn gctrace_line(t: &Trace) -> String {
    let ms = |d: Duration| fmt_ns_as_ms(d.as_nanos() as u64);
    let [a, b, c] = t.times;
    format!(
        "gc {} @{}s {}%: {}+{}+{} ms clock, {}+0/{}/0+{} ms cpu, {}->{}->{} MB, {} MB goal, 0 MB stacks, 0 MB globals, {} P{}\n",
        t.n,
        itoa_div(t.since_start.as_millis() as u64, 3),
        t.percent,
        ms(a),
        ms(b),
        ms(c),
        ms(a),
        ms(b),
        ms(c),
        t.heap[0] >> 20,
        t.heap[1] >> 20,
        t.heap[2] >> 20,
        t.goal >> 20,
        t.procs,
        if t.forced { " (forced)" } else { "" },
    )
}

/// Go's `fmtNSAsMS`: whole milliseconds from 10 ms, else two significant
/// digits with at most three decimals.
fn fmt_ns_as_ms(ns: u64) -> String {
    if ns >= 10_000_000 {
        return itoa_div(ns / 1_000_000, 0);
    }
    let mut x = ns / 1000;
    if x == 0 {
        return "0".into();
    }
    let mut dec = 3;
    while x >= 100 {
        x /= 10;
        dec -= 1;
    }
    itoa_div(x, dec)
}

/// Go's `itoaDiv`: `val / 10^dec` with `dec` decimals.
fn itoa_div(val: u64, dec: u32) -> String {
    if dec == 0 {
        return val.to_string();
    }
    let p = 10u64.pow(dec);
    format!("{}.{:0width$}", val / p, val % p, width = dec as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_go() {
        assert_eq!(fmt_ns_as_ms(30_000), "0.030");
        assert_eq!(fmt_ns_as_ms(44_000_000), "44");
        assert_eq!(fmt_ns_as_ms(1_400_000), "1.4");
        assert_eq!(fmt_ns_as_ms(820_000), "0.82");
        assert_eq!(fmt_ns_as_ms(500), "0");
        assert_eq!(itoa_div(1824, 3), "1.824");
    }

    #[test]
    fn trace_line_has_gos_shape() {
        let line = gctrace_line(&Trace {
            n: 18,
            since_start: Duration::from_millis(1824),
            percent: 13,
            times: [
                Duration::from_micros(30),
                Duration::from_millis(44),
                Duration::from_micros(15),
            ],
            heap: [173 << 20, 203 << 20, 101 << 20],
            goal: 203 << 20,
            procs: 4,
            forced: false,
        });
        assert_eq!(
            line,
            "gc 18 @1.824s 13%: 0.030+44+0.015 ms clock, 0.030+0/44/0+0.015 ms cpu, \
             173->203->101 MB, 203 MB goal, 0 MB stacks, 0 MB globals, 4 P\n"
        );
    }

    #[test]
    fn forced_cycles_say_so_like_go() {
        let line = gctrace_line(&Trace {
            n: 1,
            since_start: Duration::ZERO,
            percent: 0,
            times: [Duration::ZERO; 3],
            heap: [0; 3],
            goal: 4 << 20,
            procs: 2,
            forced: true,
        });
        assert!(line.ends_with(" 2 P (forced)\n"), "{line}");
    }
}
