//! The background scavenger: hands idle free pages back to the OS, as Go's
//! mgcscavenge.go does.
//!
//! A thread, started the first time the heap has pages to give back (and
//! again in a forked child), wakes once per `TICK`. Each wake starts a new
//! heap *generation*; free spans remember the generation in which they were
//! freed, and the scavenger releases (`madvise`) those that have stayed free
//! for `IDLE_GENS` full generations: memory a program freed and did not want
//! back within a few seconds. It works in chunks of `CHUNK` bytes, taking the
//! heap lock for each, so allocating threads wait at most one chunk.
//!
//! Pacing: after a wake that spent `t` releasing, it sleeps `99·t` (at least
//! one tick), so it costs about 1% of a core however much there is to give
//! back. When nothing is idle a wake costs a scan of the free lists.
//!
//! The heap itself also releases pages synchronously when it grows while the
//! memory it keeps exceeds its goal (`mheap::grow`), and `release()` gives
//! back everything free at once.
//!
//! Under a memory limit (`mheap::memory_limit`, Go's `GOMEMLIMIT`) each wake
//! also releases free pages, idle or not, until what goheap keeps is at 95%
//! of the limit (Go's memory-limit scavenging goal), on top of what the heap
//! releases synchronously at the limit itself.
//!
//! Each wake also empties the caches of exited threads that wait for reuse
//! (`mcache::drain_parked`): they are idle by definition; and the centrals'
//! transfer stacks (`mcentral::drain_transfers`), whose batches then go back
//! to their spans.
//!
//! With `GOHEAP_DEBUG=scavtrace=1` every wake that released memory prints
//! one line on stderr.

use crate::alloc::mcache;
use crate::alloc::mcentral;
use crate::alloc::mheap::HEAP;
use crate::options;
use crate::os;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

const TICK_NS: u64 = 1_000_000_000;
const IDLE_GENS: u32 = 2;
const CHUNK: usize = 4 << 20;
/// Under a memory limit, the scavenger keeps what goheap keeps at this
/// percentage of it (Go's `memoryLimitGoal`, 100 − `reduceExtraPercent`).
const LIMIT_GOAL_PERCENT: u64 = 95;
/// Never sleep longer than this between wakes, whatever the pacing says.
const MAX_SLEEP_NS: u64 = 4 * TICK_NS;

static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the scavenger thread if it is not running. Call with no allocator
/// lock held and no mcache borrowed: creating a thread may allocate.
pub fn ensure_started() {
    if STARTED.load(Ordering::Relaxed) || STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    if !spawn() {
        STARTED.store(false, Ordering::Release);
    }
}

/// In a forked child: the thread did not survive the fork.
pub fn forget_after_fork() {
    STARTED.store(false, Ordering::Relaxed);
}

fn spawn() -> bool {
    // SAFETY: plain pthread calls on locals; the thread runs `run` forever,
    // detached, and touches only the allocator's global state.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_attr_init(&mut attr) != 0 {
            return false;
        }
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        libc::pthread_attr_setstacksize(&mut attr, 64 << 10);
        let mut t: libc::pthread_t = 0;
        let ok = libc::pthread_create(&mut t, &attr, run, ptr::null_mut()) == 0;
        libc::pthread_attr_destroy(&mut attr);
        ok
    }
}

extern "C" fn run(_: *mut libc::c_void) -> *mut libc::c_void {
    let mut sleep_ns = TICK_NS;
    loop {
        sleep(sleep_ns);
        let gen = HEAP.lock().advance_gen();
        mcache::drain_parked();
        mcentral::drain_transfers();
        let start = now_ns();
        let released = release_idle(gen.wrapping_sub(IDLE_GENS)) + release_over_limit();
        let spent = now_ns().saturating_sub(start);
        sleep_ns = (spent * 99).clamp(TICK_NS, MAX_SLEEP_NS);
        if released > 0 && options::scavtrace() {
            trace(released, spent);
        }
    }
}

/// Releases free spans freed in generation `freed_by` or before, a chunk at
/// a time. Returns the bytes released.
fn release_idle(freed_by: u32) -> usize {
    let mut total = 0;
    loop {
        let n = HEAP.lock().scavenge(CHUNK, Some(freed_by));
        total += n;
        if n < CHUNK {
            return total;
        }
    }
}

/// Releases free pages, a chunk at a time, until goheap keeps
/// `LIMIT_GOAL_PERCENT` of the memory limit. Returns the bytes released.
fn release_over_limit() -> usize {
    let mut total = 0;
    loop {
        let n = HEAP.lock().release_over_limit(LIMIT_GOAL_PERCENT, CHUNK);
        total += n;
        if n == 0 {
            return total;
        }
    }
}

/// Hands every free page back to the OS now. Returns the bytes released.
pub fn release_all() -> usize {
    mcentral::drain_transfers();
    let mut total = 0;
    loop {
        let n = HEAP.lock().scavenge(CHUNK, None);
        total += n;
        if n < CHUNK {
            return total;
        }
    }
}

fn trace(released: usize, spent_ns: u64) {
    let h = HEAP.lock().stats();
    let kib = |v: usize| v >> 10;
    let (mut a, mut b, mut c, mut d) = ([0u8; 20], [0u8; 20], [0u8; 20], [0u8; 20]);
    os::write_stderr(&[
        b"goheap: scav: released ",
        os::decimal(kib(released), &mut a),
        b" KiB in ",
        os::decimal((spent_ns / 1000) as usize, &mut b),
        b" us; retained ",
        os::decimal(kib(h.sys - h.released), &mut c),
        b" KiB, in use ",
        os::decimal(kib(h.inuse), &mut d),
        b" KiB\n",
    ]);
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn sleep(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: nanosleep reads the timespec we pass; an early wake is harmless.
    unsafe { libc::nanosleep(&ts, ptr::null_mut()) };
}
