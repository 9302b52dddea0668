//! Pacing and the collector's figures (Go's mgcpacer.go, and the GC half
//! of mstats.go).
//!
//! # What is counted
//!
//! `heap_live` counts the bytes of GC objects allocated: what the last
//! sweep kept, plus every slot handed to a cache since (Go's `heapLive`,
//! also counted at refill). `heap_marked` is what the last sweep kept;
//! `roots` the bytes of root memory the last mark scanned (the libgc side's
//! data/bss and stacks; Rust roots are handles and count nothing), Go's
//! stack + globals scan.
//!
//! # The goal (Go 1.18)
//!
//! ```text
//! gogc goal  = max(marked + (marked + roots) × GOGC/100, 4 MiB × GOGC/100)
//! limit goal = limit − (malloc spans + metadata) − frag − 3% of limit
//! goal       = min(gogc goal, limit goal), at least marked + marked/32
//! ```
//!
//! The memory limit (`alloc::mheap::memory_limit`, `GOHEAP_MEMLIMIT`)
//! counts everything goheap maps: what malloc uses (in-use non-GC spans)
//! and metadata are taken off the limit, and so is `frag`, the bytes of GC
//! spans that held no live object at the last sweep (the goal counts
//! objects, the limit memory); 3% is Go's headroom
//! (`memoryLimitHeapGoalHeadroomPercent`). Free pages do not count: the
//! heap releases them at the limit. `GOHEAP_GOGC=off` leaves only the limit
//! goal (none without a limit).
//!
//! # The trigger
//!
//! A concurrent cycle must start before the goal, early enough that what
//! the program allocates during the mark still fits: the *runway*
//!
//! ```text
//! runway  = cons/mark × (1 − u)/u × (heap scan + roots),   u = 25%
//! trigger = goal − runway, within [marked + 70%, marked + 95%] of (goal − marked)
//! ```
//!
//! where cons/mark is the ratio of the mutators' allocation rate to the
//! collector's scan rate, the highest of the last four cycles (Go 1.21's
//! smoothing), as the concurrent mark measures it (`note_mark_work`).
//! A stop-the-world cycle lets nothing allocate while it marks: cons/mark
//! is 0, there is no runway, and the trigger is the goal.
//!
//! # When a cycle is requested
//!
//! Allocation compares `heap_live` with `CHECK_AT` (the trigger, one load
//! and a compare per cache refill). Past it, `check` works out the goal
//! again (under a limit the malloc side may have moved; it then also comes
//! back every `LIMIT_RECHECK` bytes) and requests a cycle (`mgc::request`)
//! when the trigger is reached, unless the GC CPU limiter (`mgclimit`) is
//! holding the limit-driven cycles back: then only the gogc goal counts.
//!
//! `raw::disable` turns off both, as libgc's `GC_disable` does.
//! `raw::set_max_heap_size` bounds the bytes in GC spans: past it, span
//! allocation fails (the C side then reports out of memory).
//!
//! Each cycle reports to `alloc::mstats::GC` (NumGC, pauses, NextGC, …)
//! and, with `GOHEAP_DEBUG=gctrace=1`, prints Go's gctrace line.

use super::mgc;
use super::mgclimit;
use super::mgcsweep::Swept;
use crate::alloc::fixalloc::METADATA_SYS;
use crate::alloc::mheap::{memory_limit, HEAP, NO_LIMIT};
use crate::alloc::mstats::GC;
use crate::options;
use core::sync::atomic::{AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HEAP_MINIMUM: usize = 4 << 20;
/// Go's `gcGoalUtilization`: the concurrent mark's share of the CPU.
pub(super) const GOAL_UTILIZATION: f64 = 0.25;
/// Go's `memoryLimitHeapGoalHeadroomPercent`.
const LIMIT_HEADROOM_PERCENT: usize = 3;
/// Under a memory limit, the goal is worked out again after this many
/// bytes of GC allocation (the malloc heap may have grown meanwhile).
const LIMIT_RECHECK: usize = 1 << 20;

static HEAP_LIVE: AtomicUsize = AtomicUsize::new(0);
static HEAP_OBJECTS: AtomicUsize = AtomicUsize::new(0);
/// `heap_live` at which allocation calls `check`; 0 before the first.
static CHECK_AT: AtomicUsize = AtomicUsize::new(0);
static SPAN_BYTES: AtomicUsize = AtomicUsize::new(0);
static TOTAL_BYTES: AtomicU64 = AtomicU64::new(0);
static MAX_HEAP: AtomicUsize = AtomicUsize::new(0);
static DISABLED: AtomicIsize = AtomicIsize::new(0);
static CYCLES: AtomicU32 = AtomicU32::new(0);
static MARK_NS: AtomicU64 = AtomicU64::new(0);
static ROOTS_SCANNED: AtomicUsize = AtomicUsize::new(0);
static START: OnceLock<Instant> = OnceLock::new();

/// What the pacer learnt from the last cycles.
struct Pacer {
    heap_marked: usize,
    roots: usize,
    /// Bytes of scannable heap the last mark went through (Go's
    /// `lastHeapScan`; the marked heap for the stop-the-world cycle).
    heap_scan: usize,
    /// GC span bytes without live objects after the last sweep.
    frag: usize,
    /// cons/mark of the last four concurrent cycles.
    cons_mark: [f64; 4],
    /// The concurrent mark's report for the cycle in progress.
    mark_work: Option<MarkWork>,
}

static PACER: Mutex<Pacer> = Mutex::new(Pacer {
    heap_marked: 0,
    roots: 0,
    heap_scan: 0,
    frag: 0,
    cons_mark: [0.0; 4],
    mark_work: None,
});

fn pacer() -> MutexGuard<'static, Pacer> {
    PACER.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a concurrent mark measured, for cons/mark: bytes it scanned (heap
/// and roots), bytes the mutators allocated while it ran, its wall time and
/// the CPU time of its workers and assists.
#[derive(Clone, Copy, Debug)]
pub struct MarkWork {
    pub scanned: usize,
    pub allocated: usize,
    pub wall: Duration,
    pub cpu: Duration,
}

/// The goal and the trigger of the next cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub goal: usize,
    pub trigger: usize,
    /// The goal is the memory limit's (below the gogc goal).
    pub limited: bool,
}

impl Pacer {
    fn gogc_goal(&self) -> usize {
        match gogc() {
            Some(pct) => {
                let pct = pct as usize;
                let growth = (self.heap_marked + self.roots).saturating_mul(pct) / 100;
                (self.heap_marked.saturating_add(growth)).max(heap_minimum())
            }
            None => usize::MAX,
        }
    }

    /// Go's `memoryLimitHeapGoal` over the whole of goheap (see the top).
    fn limit_goal(&self) -> usize {
        let limit = memory_limit();
        if limit == NO_LIMIT {
            return usize::MAX;
        }
        let limit = limit.min(usize::MAX as u64) as usize;
        let inuse = HEAP.lock().stats().inuse;
        let malloc_inuse = inuse.saturating_sub(SPAN_BYTES.load(Ordering::Relaxed));
        let others = malloc_inuse + METADATA_SYS.load(Ordering::Relaxed) + self.frag;
        limit
            .saturating_sub(others)
            .saturating_sub(limit / 100 * LIMIT_HEADROOM_PERCENT)
    }

    fn floor(&self) -> usize {
        self.heap_marked + self.heap_marked / 32
    }

    /// The goal and the trigger, the limit's goal left out when
    /// `with_limit` is false (the CPU limiter is holding it back).
    fn targets(&self, with_limit: bool) -> Targets {
        let gogc_goal = self.gogc_goal();
        let limit_goal = if with_limit {
            self.limit_goal().max(self.floor())
        } else {
            usize::MAX
        };
        let goal = gogc_goal.min(limit_goal);
        Targets {
            goal,
            trigger: self.trigger(goal),
            limited: limit_goal < gogc_goal,
        }
    }

    /// Go 1.18's trigger: the goal less the runway the mark needs.
    fn trigger(&self, goal: usize) -> usize {
        let cons_mark = self.cons_mark.iter().copied().fold(0.0, f64::max);
        if goal == usize::MAX || cons_mark == 0.0 {
            return goal;
        }
        let scan = (self.heap_scan + self.roots) as f64;
        let runway = cons_mark * (1.0 - GOAL_UTILIZATION) / GOAL_UTILIZATION * scan;
        let span = (goal - self.heap_marked) as f64;
        let lo = self.heap_marked + (span * 0.7) as usize;
        let hi = self.heap_marked + (span * 0.95) as usize;
        (goal.saturating_sub(runway as usize)).clamp(lo, hi)
    }

    /// Learns from a finished cycle.
    fn end_cycle(&mut self, swept: &Swept, roots: usize) {
        self.heap_marked = swept.live_bytes;
        self.roots = roots;
        self.frag = swept.span_bytes.saturating_sub(swept.live_bytes);
        self.heap_scan = swept.live_bytes;
        if let Some(w) = self.mark_work.take() {
            self.heap_scan = w.scanned.saturating_sub(roots);
            self.cons_mark.rotate_right(1);
            self.cons_mark[0] = cons_mark(&w);
        }
    }
}

/// Go's `currentConsMark`: the mutators' allocation per mutator CPU
/// second over the collector's scan per GC CPU second.
fn cons_mark(w: &MarkWork) -> f64 {
    let capacity = w.wall.as_secs_f64() * procs() as f64;
    if capacity <= 0.0 || w.scanned == 0 {
        return 0.0;
    }
    let u = (w.cpu.as_secs_f64() / capacity).clamp(0.01, 0.99);
    w.allocated as f64 * u / (w.scanned as f64 * (1.0 - u))
}

/// `GOHEAP_GOGC`, read once.
fn gogc() -> Option<u32> {
    static GOGC: OnceLock<Option<u32>> = OnceLock::new();
    *GOGC.get_or_init(options::gogc)
}

fn start_time() -> Instant {
    *START.get_or_init(Instant::now)
}

fn heap_minimum() -> usize {
    HEAP_MINIMUM * gogc().unwrap_or(100) as usize / 100
}

/// The current goal and trigger (the trigger is what a concurrent cycle
/// starts at; the stop-the-world cycle's equals the goal).
pub fn targets() -> Targets {
    let p = pacer();
    p.targets(!mgclimit::limiting())
}

/// The assist pacing of the mark in progress (Go's `revise` inputs): the
/// heap goal and the scan work expected, fixed when the mark starts.
static ASSIST_GOAL: AtomicUsize = AtomicUsize::new(0);
static SCAN_EXPECTED: AtomicUsize = AtomicUsize::new(0);

/// A concurrent mark starts: fixes its goal and expected scan work (the
/// last mark's scannable heap and roots, Go's `heapScan + stackScan +
/// globalsScan`).
pub fn start_mark_pacing() {
    let p = pacer();
    let goal = p.targets(!mgclimit::limiting()).goal;
    ASSIST_GOAL.store(goal, Ordering::Relaxed);
    SCAN_EXPECTED.store(p.heap_scan + p.roots, Ordering::Relaxed);
}

/// Go's `assistWorkPerByte` (mgcpacer.go's `revise`): the scan work left
/// over the heap left before the goal, so that the mark's last object is
/// scanned as the heap reaches the goal. `scan_done` is the work done so
/// far. Once it exceeds the expected work (the live heap grew), Go's hard
/// goal applies: 10% past the goal, with every allocated byte possibly
/// scannable.
pub fn assist_work_per_byte(scan_done: usize) -> f64 {
    work_per_byte(
        heap_live(),
        ASSIST_GOAL.load(Ordering::Relaxed),
        SCAN_EXPECTED.load(Ordering::Relaxed),
        scan_done,
    )
}

fn work_per_byte(live: usize, mut goal: usize, mut expected: usize, scan_done: usize) -> f64 {
    if scan_done >= expected {
        goal = goal.saturating_add(goal / 10);
        expected = live;
    }
    let work_left = expected.saturating_sub(scan_done).max(1000);
    let heap_left = goal.saturating_sub(live).max(1);
    work_left as f64 / heap_left as f64
}

/// The concurrent mark reports what it measured, before `end_cycle`.
pub fn note_mark_work(w: MarkWork) {
    pacer().mark_work = Some(w);
}

/// The root hooks report the bytes of root memory they scanned.
pub fn note_roots_scanned(bytes: usize) {
    ROOTS_SCANNED.fetch_add(bytes, Ordering::Relaxed);
}

/// Forgets the root bytes scanned so far this cycle (they are about to be
/// scanned again, and counted then).
pub fn forget_roots_scanned() {
    ROOTS_SCANNED.store(0, Ordering::Relaxed);
}

/// `bytes` in `objects` objects were handed to a cache (or allocated large).
pub fn note_alloc(bytes: usize, objects: usize) {
    start_time();
    let live = HEAP_LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    let objs = HEAP_OBJECTS.fetch_add(objects, Ordering::Relaxed) + objects;
    GC.heap_alloc.store(live as u64, Ordering::Relaxed);
    GC.heap_objects.store(objs as u64, Ordering::Relaxed);
    TOTAL_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    if live >= CHECK_AT.load(Ordering::Relaxed) {
        check(live);
    }
}

/// `heap_live` passed `CHECK_AT`: works out the targets again, sets the
/// next check, and requests a cycle if the trigger is reached.
#[cold]
fn check(live: usize) {
    let t = targets();
    let next = if memory_limit() == NO_LIMIT {
        t.trigger
    } else {
        t.trigger.min(live + LIMIT_RECHECK)
    };
    CHECK_AT.store(next.max(1), Ordering::Relaxed);
    if live >= t.trigger && t.goal != usize::MAX && !is_disabled() {
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
    /// A concurrent mark's CPU time in assists, background and idle
    /// marking (gctrace's middle CPU figures); `None` for a mark with the
    /// world held (all of it on the cycle's thread).
    pub mark_cpu: Option<[Duration; 3]>,
    /// Restarting and sweeping (Go's mark termination, here with the sweep).
    pub sweep: Duration,
    /// Time mutators were held out of the heap (the world held): the
    /// recorded pause.
    pub pause: Duration,
    /// Asked for by `collect` (Go's `runtime.GC`).
    pub forced: bool,
}

/// Ends a cycle: new goal, figures, trace line. `heap` is the heap at
/// the start and at the end of the mark (gctrace's first two figures).
pub fn end_cycle(t: CycleTimes, heap: [usize; 2], swept: Swept) {
    let roots = ROOTS_SCANNED.swap(0, Ordering::Relaxed);
    let gc_cpu = {
        let mut p = pacer();
        let mark_cpu = p.mark_work.map_or(t.mark * procs() as u32, |w| w.cpu);
        p.end_cycle(&swept, roots);
        (t.stop + t.sweep) * procs() as u32 + mark_cpu
    };
    let n = CYCLES.load(Ordering::Relaxed) + 1;
    mgclimit::note_gc_cpu(gc_cpu, n);
    // The heap holds the floating objects too: the next trigger counts them.
    let heap_live = swept.live_bytes + swept.floating_bytes;
    HEAP_LIVE.store(heap_live, Ordering::Relaxed);
    HEAP_OBJECTS.store(swept.live_objects, Ordering::Relaxed);
    let goal = targets().goal;
    CHECK_AT.store(0, Ordering::Relaxed);
    let pause = t.pause;
    let since_start = t.start.saturating_duration_since(start_time());
    let elapsed = start_time().elapsed().max(Duration::from_nanos(1));
    let total_pause = GC.pause_total_ns.load(Ordering::Relaxed) + pause.as_nanos() as u64;
    let fraction = total_pause as f64 / elapsed.as_nanos() as f64;
    GC.pauses.lock()[(n as usize + 255) % 256] = pause.as_nanos() as u64;
    GC.pause_total_ns.store(total_pause, Ordering::Relaxed);
    GC.next_gc
        .store(goal.min(u64::MAX as usize) as u64, Ordering::Relaxed);
    GC.last_gc.store(unix_nanos(), Ordering::Relaxed);
    GC.cpu_fraction.store(fraction.to_bits(), Ordering::Relaxed);
    GC.heap_alloc.store(heap_live as u64, Ordering::Relaxed);
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
            mark_cpu: t
                .mark_cpu
                .unwrap_or([Duration::ZERO, t.mark, Duration::ZERO]),
            heap: [heap[0], heap[1], swept.live_bytes],
            goal: goal.min(isize::MAX as usize),
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

/// The CPUs this process may use, read once: std asks the kernel and the
/// cgroup files on every call (five system calls), and the pacer and the
/// CPU limiter ask on every check.
pub(super) fn procs() -> usize {
    static PROCS: OnceLock<usize> = OnceLock::new();
    *PROCS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The fields of one gctrace line.
struct Trace {
    n: u32,
    since_start: Duration,
    percent: u32,
    /// Sweep termination, mark, mark termination (clock times).
    times: [Duration; 3],
    /// The mark's CPU time: assists, background, idle.
    mark_cpu: [Duration; 3],
    /// Heap at start, at end, marked.
    heap: [usize; 3],
    goal: usize,
    procs: usize,
    forced: bool,
}

/// Go's gctrace line. The pauses' CPU times are their clock times (one
/// thread runs them); the mark's are its assist, background and idle CPU
/// time (a mark with the world held: all background).
fn gctrace_line(t: &Trace) -> String {
    let ms = |d: Duration| fmt_ns_as_ms(d.as_nanos() as u64);
    let [a, b, c] = t.times;
    let [assist, background, idle] = t.mark_cpu;
    format!(
        "gc {} @{}s {}%: {}+{}+{} ms clock, {}+{}/{}/{}+{} ms cpu, {}->{}->{} MB, {} MB goal, 0 MB stacks, 0 MB globals, {} P{}\n",
        t.n,
        itoa_div(t.since_start.as_millis() as u64, 3),
        t.percent,
        ms(a),
        ms(b),
        ms(c),
        ms(a),
        ms(assist),
        ms(background),
        ms(idle),
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

    fn pacer_after(marked: usize, roots: usize) -> Pacer {
        Pacer {
            heap_marked: marked,
            roots,
            heap_scan: marked,
            frag: 0,
            cons_mark: [0.0; 4],
            mark_work: None,
        }
    }

    #[test]
    fn goal_counts_roots_as_go_1_18() {
        // GOGC=100 in unit tests (no GOHEAP_GOGC in cargo test's env).
        let p = pacer_after(100 << 20, 20 << 20);
        assert_eq!(p.gogc_goal(), 220 << 20);
        assert_eq!(pacer_after(0, 0).gogc_goal(), HEAP_MINIMUM);
    }

    #[test]
    fn stop_the_world_trigger_is_the_goal() {
        let p = pacer_after(100 << 20, 0);
        assert_eq!(p.trigger(200 << 20), 200 << 20);
    }

    #[test]
    fn concurrent_trigger_leaves_the_runway_the_mark_needs() {
        let mut p = pacer_after(100 << 20, 0);
        // The mutators allocated 10 MiB while 100 MiB were scanned with the
        // collector at 25% of 2 processors: cons/mark = 0.1 × 0.25 / 0.75.
        p.mark_work = Some(MarkWork {
            scanned: 100 << 20,
            allocated: 10 << 20,
            wall: Duration::from_millis(100),
            cpu: Duration::from_millis(50),
        });
        p.end_cycle(
            &Swept {
                live_bytes: 100 << 20,
                live_objects: 1,
                span_bytes: 100 << 20,
                floating_bytes: 0,
            },
            0,
        );
        let cm = p.cons_mark[0];
        assert!((cm - 0.1 / 3.0).abs() < 1e-9, "{cm}");
        // runway = cm × 3 × 100 MiB = 10 MiB: trigger 190 MiB of a 200 MiB goal.
        let t = p.trigger(200 << 20);
        assert!((t as i64 - (190 << 20)).abs() < 1 << 10, "{t}");
        // A huge runway is clamped at 70% of the way, a tiny one at 95%.
        p.cons_mark = [10.0, 0.0, 0.0, 0.0];
        assert_eq!(p.trigger(200 << 20), (100 << 20) + (70 << 20));
        p.cons_mark = [1e-9, 0.0, 0.0, 0.0];
        assert_eq!(p.trigger(200 << 20), (100 << 20) + (95 << 20));
    }

    #[test]
    fn assists_pace_the_scan_left_over_the_heap_left() {
        // 60 MiB to scan of 100 expected, 20 MiB of heap before the goal.
        let r = work_per_byte(180 << 20, 200 << 20, 100 << 20, 40 << 20);
        assert!((r - 3.0).abs() < 1e-9, "{r}");
        // Past the goal: everything left at once (one byte of heap).
        assert_eq!(
            work_per_byte(210 << 20, 200 << 20, 100 << 20, 0),
            (100 << 20) as f64
        );
        // More scanned than expected: the hard goal (10% past the goal),
        // with the whole live heap possibly left to scan.
        let r = work_per_byte(200 << 20, 200 << 20, 100 << 20, 150 << 20);
        assert!((r - 2.5).abs() < 1e-9, "{r}");
    }

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
            mark_cpu: [Duration::ZERO, Duration::from_millis(44), Duration::ZERO],
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
            mark_cpu: [Duration::ZERO; 3],
            heap: [0; 3],
            goal: 4 << 20,
            procs: 2,
            forced: true,
        });
        assert!(line.ends_with(" 2 P (forced)\n"), "{line}");
    }
}
