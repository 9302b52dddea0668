//! The world and the collection cycle (Go's mgc.go).
//!
//! # The world protocol
//!
//! `STATE` packs the number of open outermost scopes (`COUNT` bits) with two
//! flags: `PENDING` (a collection was requested) and `RUNNING` (a cycle holds
//! the world: the count is zero and stays so). A thread *enters* the world by
//! incrementing the count while `RUNNING` is clear (Rust: for a `mutate`
//! scope; C: for each `raw` call; a nested entry on the same thread only
//! bumps the thread's `DEPTH`). It *exits* by decrementing; the exit that
//! leaves the count at zero with `PENDING` set turns the state into
//! `RUNNING` (one compare-and-swap decides who) and runs the cycle on that
//! thread, then clears `RUNNING` and wakes the waiters.
//!
//! Entering waits while `RUNNING` is set (a cycle is short and needs nobody).
//! A `mutate` scope also waits while `PENDING` is set, so that threads that
//! keep opening scopes let the collection happen, but at most
//! `PENDING_PATIENCE`: a thread inside a scope may be waiting for this one,
//! and nothing may make a thread wait for its own scope. If the count is
//! zero while it waits, the waiter runs the cycle itself. `collect` waits
//! for the cycle likewise, up to `COLLECT_PATIENCE`. A goroutine waits with
//! its P handed to other goroutines (`set_waiter`).
//!
//! Inside the world a thread may allocate, read and write GC objects, and
//! look up the collector's metadata; outside it, only `Root` handles (whose
//! table has its own lock). A cycle therefore sees no mutator at all.
//!
//! `DEPTH` belongs to the OS thread, so a scope must end on the thread it
//! began on. Goroutines meet that through the scheduler's rule (`sched/mod.rs`,
//! "GC scopes on goroutines"): a goroutine that switches out inside a scope
//! (a park, a yield, a `blocking` call) is wired to its thread until it
//! resumes, and the thread runs nothing else meanwhile. `DEPTH` is read and
//! written only through two functions that are never inlined, so no caller
//! keeps a thread-local address across a switch between two scopes.
//!
//! The thread running a cycle has `DEPTH == IN_CYCLE`: a hook that tries to
//! enter the heap (a scope, `raw::alloc`, `raw::free`) aborts, and so does
//! a cycle that unwinds (a panicking hook or `Trace` impl would leave the
//! world held forever).

use super::mcache;
use super::mfinal;
use super::mgcmark;
use super::mgcmark::Marker;
use super::mgcpacer::{self, CycleTimes};
use super::mgcsweep;
use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const RUNNING: usize = 1 << (usize::BITS - 1);
const PENDING: usize = 1 << (usize::BITS - 2);
const COUNT: usize = PENDING - 1;
const PENDING_PATIENCE: Duration = Duration::from_millis(20);
const COLLECT_PATIENCE: Duration = Duration::from_millis(500);

static STATE: AtomicUsize = AtomicUsize::new(0);
/// The pending cycle was asked for by `collect` (gctrace's "(forced)").
static FORCED: AtomicBool = AtomicBool::new(false);
static WAIT: Mutex<()> = Mutex::new(());
static WOKEN: Condvar = Condvar::new();

/// `DEPTH` of the thread running a cycle: far above any nesting, so that
/// an entry from a hook (which the count would take for nested) is seen.
const IN_CYCLE: usize = usize::MAX / 2;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// This thread's `DEPTH`. Never inlined, like the scheduler's `this_m`: a
/// goroutine may run on another thread after a switch between two scopes,
/// and an inlined access could reuse the thread-local's address computed
/// before the switch (another thread's counter).
#[inline(never)]
fn depth() -> usize {
    DEPTH.get()
}

/// Sets this thread's `DEPTH` (never inlined, as `depth`).
#[inline(never)]
fn set_depth(depth: usize) {
    DEPTH.set(depth)
}

/// Proof of being inside the world; leaving it on drop.
pub struct World {
    _not_send: PhantomData<*const ()>,
}

impl World {
    /// Enters for a `mutate` scope (patient with pending collections).
    pub fn enter() -> World {
        World::enter_with(true)
    }

    /// Enters for a short runtime call (waits only for a running cycle).
    pub fn enter_short() -> World {
        World::enter_with(false)
    }

    #[inline(always)]
    fn enter_with(patient: bool) -> World {
        let depth = depth();
        if patient && depth >= IN_CYCLE {
            refused_in_cycle("mutate");
        }
        set_depth(depth + 1);
        if depth == 0 {
            let s = STATE.load(Ordering::Relaxed);
            let flags = if patient { RUNNING | PENDING } else { RUNNING };
            if s & flags != 0
                || STATE
                    .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
            {
                enter_slow(patient);
            }
        }
        World {
            _not_send: PhantomData,
        }
    }

    /// Whether this thread is inside the world.
    pub fn is_inside() -> bool {
        depth() > 0
    }
}

impl Drop for World {
    #[inline(always)]
    fn drop(&mut self) {
        let depth = depth() - 1;
        set_depth(depth);
        if depth == 0 {
            let prev = STATE.fetch_sub(1, Ordering::Release);
            if prev & (COUNT | PENDING | RUNNING) == PENDING | 1 {
                try_run_cycle();
            }
        }
    }
}

/// Aborts if this thread is running a cycle: a hook that allocates, frees
/// or opens a scope would change the heap under the mark (an object made
/// there is never marked and this very cycle would free it).
#[inline(always)]
pub fn refuse_in_cycle(what: &str) {
    if depth() >= IN_CYCLE {
        refused_in_cycle(what);
    }
}

#[cold]
fn refused_in_cycle(what: &str) -> ! {
    crate::os::write_stderr(&[
        b"goheap: ",
        what.as_bytes(),
        b" inside a collection hook (the cycle holds the world; hooks may only mark)\n",
    ]);
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

/// Aborts the process if a cycle unwinds (a panicking hook or `Trace`
/// impl): the world would stay held and every later entry would hang.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        crate::os::write_stderr(&[
            b"goheap: panic inside a collection (a hook or a Trace impl); the heap cannot recover\n",
        ]);
        // SAFETY: abort never returns and needs no preconditions.
        unsafe { libc::abort() }
    }
}

#[cold]
fn enter_slow(patient: bool) {
    let deadline = Instant::now() + PENDING_PATIENCE;
    loop {
        let s = STATE.load(Ordering::Relaxed);
        if s & RUNNING != 0 {
            wait_a_little(s, None);
            continue;
        }
        if patient && s & PENDING != 0 && Instant::now() < deadline {
            if s & COUNT == 0 {
                try_run_cycle();
            } else {
                wait_a_little(s, Some(deadline));
            }
            continue;
        }
        if STATE
            .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

fn lock_wait() -> MutexGuard<'static, ()> {
    WAIT.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a wait of the world protocol runs: set by the scheduler when it
/// starts (`set_waiter`), so that a goroutine that waits for a cycle hands
/// its P to other goroutines meanwhile (`sched::blocking`): they may be the
/// ones whose scopes must close before the cycle can run. Unset (no
/// scheduler), a wait just blocks the thread.
static WAITER: OnceLock<fn(&mut dyn FnMut())> = OnceLock::new();

/// Sets how the world protocol's waits run (see `WAITER`).
pub fn set_waiter(waiter: fn(&mut dyn FnMut())) {
    let _ = WAITER.set(waiter);
}

/// Sleeps until woken or about a millisecond passed, unless `STATE` moved
/// on from `seen`.
fn wait_a_little(seen: usize, deadline: Option<Instant>) {
    let mut wait = || {
        let g = lock_wait();
        if STATE.load(Ordering::Relaxed) != seen {
            return;
        }
        let mut d = Duration::from_millis(1);
        if let Some(dl) = deadline {
            d = d.min(dl.saturating_duration_since(Instant::now()));
        }
        let _ = WOKEN.wait_timeout(g, d);
    };
    match WAITER.get() {
        Some(waiter) => waiter(&mut wait),
        None => wait(),
    }
}

/// Whether a cycle holds the world (one relaxed load). For libgc's
/// registered C threads, which allocate from their caches without entering
/// the world and must not while a cycle holds it (see `gc::libgc`).
#[inline(always)]
pub fn world_held() -> bool {
    STATE.load(Ordering::Relaxed) & RUNNING != 0
}

/// Asks for a collection; it runs when the world empties.
pub fn request() {
    if STATE.load(Ordering::Relaxed) & PENDING == 0 {
        STATE.fetch_or(PENDING, Ordering::Relaxed);
    }
}

/// Runs a cycle if the world is empty and one is pending. Returns whether
/// this thread ran it.
fn try_run_cycle() -> bool {
    let s = STATE.load(Ordering::Relaxed);
    if s != PENDING
        || STATE
            .compare_exchange(s, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    if mgcpacer::is_disabled() {
        release_world();
        return false;
    }
    let depth = depth();
    set_depth(IN_CYCLE);
    let hooks = hooks().clone();
    let guard = AbortOnUnwind;
    run_cycle(&hooks);
    core::mem::forget(guard);
    set_depth(depth);
    release_world();
    for f in &hooks.after_cycle {
        f();
    }
    mfinal::wake();
    true
}

fn release_world() {
    STATE.fetch_and(!RUNNING, Ordering::Release);
    let _g = lock_wait();
    WOKEN.notify_all();
}

/// A full collection now, waiting for the world to empty (libgc's
/// `GC_gcollect`). Inside the world it only requests one: it runs when this
/// thread's scopes close. It waits at most `COLLECT_PATIENCE` for other
/// threads' scopes (one of them may be waiting for this thread, as a scope
/// waits for its scoped threads); then the request stays pending.
pub fn collect() {
    if mgcpacer::is_disabled() {
        return;
    }
    FORCED.store(true, Ordering::Relaxed);
    let s = STATE.fetch_or(PENDING, Ordering::AcqRel);
    if World::is_inside() {
        return;
    }
    let target = mgcpacer::cycles() + 1 + (s & RUNNING != 0) as u32;
    let deadline = Instant::now() + COLLECT_PATIENCE;
    while mgcpacer::cycles() < target && !mgcpacer::is_disabled() && Instant::now() < deadline {
        if !try_run_cycle() {
            let s = STATE.load(Ordering::Relaxed);
            if s & PENDING == 0 && s & RUNNING == 0 {
                STATE.fetch_or(PENDING, Ordering::Relaxed);
            }
            wait_a_little(s, None);
        }
    }
}

/// Stops and restarts the C threads.
pub type WorldStopper = (fn(), fn());

/// What the libgc side plugs into the cycle (`raw::register_*`).
#[derive(Clone, Default)]
pub struct Hooks {
    pub roots: Vec<fn(&mut Marker)>,
    pub after_mark: Vec<fn(&mut Marker) -> bool>,
    pub world: Option<WorldStopper>,
    pub after_cycle: Vec<fn()>,
}

static HOOKS: Mutex<Hooks> = Mutex::new(Hooks {
    roots: Vec::new(),
    after_mark: Vec::new(),
    world: None,
    after_cycle: Vec::new(),
});

pub fn hooks() -> MutexGuard<'static, Hooks> {
    HOOKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// One stop-the-world cycle (see `mod.rs`). Runs with the world held.
fn run_cycle(hooks: &Hooks) {
    let t0 = Instant::now();
    let forced = FORCED.swap(false, Ordering::Relaxed);
    let heap_before = mgcpacer::heap_live();
    mcache::flush_all();
    if let Some((stop, _)) = hooks.world {
        stop();
    }
    let t1 = Instant::now();
    let mut m = Marker::new();
    mgcmark::mark(&mut m, hooks);
    if let Some((_, start)) = hooks.world {
        start();
    }
    let t2 = Instant::now();
    drop(m);
    let swept = mgcsweep::sweep(mgcpacer::cycles() + 1);
    let t3 = Instant::now();
    mgcpacer::end_cycle(
        CycleTimes {
            start: t0,
            stop: t1 - t0,
            mark: t2 - t1,
            sweep: t3 - t2,
            forced,
        },
        heap_before,
        swept,
    );
}
