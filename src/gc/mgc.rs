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
//! table has its own lock). The parts of a cycle that hold the world see no
//! mutator at all; its concurrent mark runs beside them (below).
//!
//! # The concurrent cycle
//!
//! `PHASE` is `OFF`, `MARK` or `MARK_DONE`. A cycle holds the world twice:
//!
//! * **Start** (`start_concurrent`, world held, so no scope is open):
//!   `MARKING` (the barriers) and `ALLOCATE_BLACK` go on, the `Root` table
//!   is greyed into `mgcmark`'s shared work list (one snapshot: its lock is
//!   held), `PHASE = MARK`, the mark worker is woken, the world released.
//! * **Concurrent mark**: grey work is drained by
//!   - the worker thread (`mark_worker`, Go's gcBgMarkWorker), flat out
//!     while a CPU is idle, within the mark's CPU budget (Go's 25% goal)
//!     when the mutators want every CPU (`mark_at_utilisation`);
//!   - under the scheduler, the Ps (`mark_on_p`, from the scheduling loop
//!     on g0): a slice before the next goroutine while the mark is within
//!     the same budget (Go's fractional worker), and slices whenever a P
//!     has nothing to run (Go's idle workers; an idle P is woken when the
//!     mark starts, and, without the worker thread, when grey work arrives);
//!   - mutators' assists, in proportion to what they allocate (`mgcmark`).
//!
//!   Mutators run, and their barriers shade. When `mgcmark::GREY` is zero
//!   (no grey object anywhere) whoever finds it sets `MARK_DONE` and
//!   `PENDING`.
//! * **Mark termination** (`finish_concurrent`, world held): drains what
//!   grey work is left (a barrier may have shaded after the worker looked),
//!   barriers off, caches flushed, every span left to the lazy sweep
//!   (`mgcsweep.rs`: it runs with the world open, and the next start
//!   finishes it before marking), statistics from the mark's counts.
//!
//! Every cycle ends at a mutator's scope boundary (the exit that empties
//! the world, or an entry that finds it empty), as with the stop-the-world
//! collector: the worker never ends one, so a program that stops entering
//! scopes sees no cycle end behind its back.
//!
//! ## Why the concurrent mark frees no object a handle can reach
//!
//! Rust stacks are never scanned, so this differs from Go: instead of
//! scanning stacks, the start waits for *no scope at all to be open*; then
//! no handle exists, and every object that can ever be reached again is
//! reachable from a root of the snapshot. Call an object *protected* when
//! it is marked, or reachable from a grey object (or, before the worker
//! took it, a root of the snapshot) through unmarked objects. Invariants,
//! from the start until mark termination:
//!
//! * (H) every handle held by any scope names a protected object;
//! * (W) every unmarked object that a scanned (black) object or a root made
//!   since the start points to is protected.
//!
//! Both hold at the start (no handles, no black objects). Each mutator
//! step keeps them (scopes opened after the start see `MARKING`: the world
//! was released after it was set):
//! - *allocation* is black (marked before the handle exists); its fields
//!   come from handles, protected by (H);
//! - *`Root::get`* and *`Root::new`* shade the object: marked;
//! - *loading* a field of a protected object `a` gives a protected object:
//!   if `a` is unmarked or grey the path goes on through the field; if `a`
//!   is black, (W);
//! - *storing* through `GcCell::borrow_mut` shades everything the cell held
//!   when the borrow began (Yuasa's deletion barrier), so no path that ran
//!   through the overwritten edges is lost: the target of each is grey.
//!   What is stored comes from handles: protected, so (W) holds for the new
//!   edges. `GcAtomic::swap` shades the pointer it replaced likewise;
//! - *dropping* handles or roots removes no heap edge.
//!
//! A concurrent marker reading a cell takes its scan flag; a cell being
//! written it skips, treating it as scanned: its old contents were shaded
//! when the borrow began (after the start, since no scope was open then,
//! or never: a `GcRefMut` forgotten before the start leaves a cell nobody
//! can borrow again) and its new contents are protected, so (W) holds.
//! The Dijkstra half (shading stored pointers, `GcRefMut::drop`) is not
//! needed for this argument, so a forgotten borrow weakens nothing.
//!
//! Grey objects are counted (`mgcmark::GREY`) from before their mark bit is
//! set until they are scanned, so `GREY == 0` means no grey object; then,
//! by (H) and (W), every protected object is marked. Mark termination holds
//! the world and drains to `GREY == 0` once more (a barrier that shaded
//! after the worker's check left grey work; no mutator runs now). Every
//! object reachable from a root then is marked: walk the path from the root
//! (marked, by the snapshot or by `Root::new`): each next object is pointed
//! to by a black one, so by (W) it is protected, hence marked. No handle
//! exists (the world is held), so the sweep frees nothing reachable; and
//! no unmarked object can become reachable later (handles come from roots
//! and from marked objects), so sweeping after the world is released,
//! lazily, frees nothing reachable either.
//!
//! The C side (libgc's API) writes GC pointers with plain stores and keeps
//! them in registers and stacks that only a stopped thread lets us read.
//! While it takes part, the start also stops the C threads and greys their
//! stacks, registers and data segments and the uncollectable objects; the
//! mark runs beside them, and the kernel tracks the pages they write
//! (`dirtybits.rs`, Boehm's mostly-parallel collector): the first worker
//! runs rounds that scan the marked objects on written pages again
//! (`mark_c_side`; no other marker ends the mark before them), and mark
//! termination stops the C threads, scans the pages written since the last
//! round and every C root again, drains, and runs libgc's after-mark hooks
//! (finalizers, disappearing links). C objects are allocated white during
//! the mark (`raw`). Where the kernel cannot track pages (before Linux 6.7,
//! userfaultfd forbidden), without a mark thread, or for a forced
//! collection, the cycle marks with the world held, as before. If the C
//! side joins during a concurrent mark, or tracking breaks, mark
//! termination clears the marks and marks again with the world held.
//!
//! ## Pauses
//!
//! The recorded pause of a cycle (`stats().pause_ns`, gctrace's first and
//! third clock figures) is the time the world is held for it: from the
//! moment the cycle owns the world to its release, at start and at
//! termination (a stop-the-world cycle: the whole cycle). A thread entering
//! a scope meanwhile waits at most that long. Not counted: while `PENDING`
//! is set and scopes are still open, new outermost scopes wait up to
//! `PENDING_PATIENCE` for the world to empty (a thread already inside a
//! scope is never held).
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

use super::dirtybits;
use super::mbarrier;
use super::mcache;
use super::mfinal;
use super::mgcmark;
use super::mgcmark::Marker;
use super::mgcpacer::{self, CycleTimes};
use super::mgcsweep;
use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
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
            // Before the count drops: no buffer holds grey work while a
            // cycle holds the world (`mwbbuf.rs`), and each goroutine pays
            // for its own allocation (`mgcmark::settle_allocs`).
            super::mwbbuf::flush();
            mgcmark::settle_allocs();
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

/// Aborts the process if a cycle, a barrier or an assist unwinds (a
/// panicking hook or `Trace` impl): the world would stay held, or grey work
/// counted forever, and every later cycle would hang.
pub(crate) struct AbortOnUnwind;

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

/// Wakes an idle P's M, so that it marks (set by the scheduler when it
/// starts: Go's idle mark workers; see `mark_on_p`).
static IDLE_WAKER: OnceLock<fn()> = OnceLock::new();

/// Sets how a mark start gets idle Ps marking (see `IDLE_WAKER`).
pub fn set_idle_waker(wake: fn()) {
    let _ = IDLE_WAKER.set(wake);
}

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

/// Asks for a collection; it starts when the world empties. Nothing to do
/// while a concurrent cycle is under way (its end asks for the world).
/// While the last cycle's lazy sweep is still under way, the request waits
/// for it (`sweep_done`), as Go's `gcStart` sweeps what is left before it
/// stops the world: else the next start would sweep the rest with the
/// world held (13 ms of pause in parallel binary-trees, whose heap is past
/// the next trigger as soon as a mark ends).
pub fn request() {
    if PHASE.load(Ordering::Relaxed) != OFF {
        return;
    }
    if mgcsweep::lagging() {
        SWEEP_FIRST.store(true, Ordering::SeqCst);
        // The sweep may have ended before the flag was seen (both sides
        // write their flag, then read the other's, all SeqCst).
        if mgcsweep::lagging() || !SWEEP_FIRST.swap(false, Ordering::SeqCst) {
            return;
        }
    }
    if STATE.load(Ordering::Relaxed) & PENDING == 0 {
        STATE.fetch_or(PENDING, Ordering::Relaxed);
    }
}

/// A cycle was requested while the sweep lagged (see `request`).
static SWEEP_FIRST: AtomicBool = AtomicBool::new(false);

/// The lazy sweep ended (under the central lock): a request that waited
/// for it goes through now.
pub(crate) fn sweep_done() {
    if SWEEP_FIRST.swap(false, Ordering::SeqCst) {
        request();
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
    // A concurrent cycle under way ends even while collection is disabled
    // (its barriers and black allocation must not stay on).
    if mgcpacer::is_disabled() && PHASE.load(Ordering::Acquire) == OFF {
        release_world();
        return false;
    }
    let depth = depth();
    set_depth(IN_CYCLE);
    let hooks = hooks().clone();
    let guard = AbortOnUnwind;
    let ended = run_cycle(&hooks);
    core::mem::forget(guard);
    set_depth(depth);
    release_world();
    wake_collector_threads();
    if !ended {
        return true;
    }
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

/// Runs what the world is held for: the start of a concurrent cycle, its
/// end, or a whole stop-the-world cycle. Returns whether a cycle ended.
fn run_cycle(hooks: &Hooks) -> bool {
    let held = Instant::now();
    // This cycle answers any request that waited for the sweep (its start
    // finishes the sweep, and a request made then must not end the mark).
    SWEEP_FIRST.store(false, Ordering::Relaxed);
    match PHASE.load(Ordering::Acquire) {
        OFF if concurrent_allowed(hooks) && !FORCED.load(Ordering::Relaxed) => {
            start_concurrent(hooks, held);
            false
        }
        OFF => {
            run_stw_cycle(hooks, held);
            true
        }
        _ => {
            finish_concurrent(hooks, held);
            true
        }
    }
}

/// Whether this cycle may mark beside the mutators: something marks, and
/// if the C side takes part, written pages are tracked (see the module
/// comment).
fn concurrent_allowed(hooks: &Hooks) -> bool {
    !crate::options::gcstoptheworld()
        && markers_available()
        && (!c_side(hooks) || c_side_concurrent())
}

/// Whether the C side takes part: libgc's hooks are installed, or objects
/// of the C kinds exist (written without barriers).
fn c_side(hooks: &Hooks) -> bool {
    !hooks.roots.is_empty()
        || !hooks.after_mark.is_empty()
        || hooks.world.is_some()
        || mcache::c_kinds_used()
}

/// Whether a cycle with the C side can mark beside the C threads: the
/// program asked for it (libgc's incremental mode, `set_c_concurrent`),
/// the mark thread runs the rounds (`mark_c_side`) and the kernel tracks
/// the written pages (`dirtybits`).
fn c_side_concurrent() -> bool {
    C_CONCURRENT.load(Ordering::Relaxed)
        && crate::options::gc_mark_thread()
        && worker_started()
        && dirtybits::healthy()
}

/// The C side's cycles may mark concurrently (see `c_side_concurrent`).
static C_CONCURRENT: AtomicBool = AtomicBool::new(false);

/// Lets (or stops letting) the C side's cycles mark concurrently; tracking
/// written pages starts now, if the kernel can.
pub fn set_c_concurrent(on: bool) {
    C_CONCURRENT.store(on && dirtybits::healthy(), Ordering::Relaxed);
}

/// Whether the C side's cycles mark concurrently.
pub fn c_concurrent() -> bool {
    C_CONCURRENT.load(Ordering::Relaxed) && dirtybits::healthy()
}

/// Whether something will mark beside the mutators: the dedicated mark
/// thread, or without it (`GOHEAP_DEBUG=gcmarkthread=0`) the scheduler's Ps.
fn markers_available() -> bool {
    if crate::options::gc_mark_thread() {
        worker_started()
    } else {
        IDLE_WAKER.get().is_some()
    }
}

/// One stop-the-world cycle (see `mod.rs`). Runs with the world held.
fn run_stw_cycle(hooks: &Hooks, t0: Instant) {
    let forced = FORCED.swap(false, Ordering::Relaxed);
    finish_sweep();
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
            mark_cpu: None,
            sweep: t3 - t2,
            pause: t3 - t0,
            forced,
        },
        [heap_before, heap_before],
        swept,
    );
}

/// The phase of the concurrent cycle (`PHASE`).
const OFF: u8 = 0;
/// The roots are grey; the mark worker and the barriers blacken.
const MARK: u8 = 1;
/// No grey work was left: the world is requested for mark termination.
const MARK_DONE: u8 = 2;

static PHASE: AtomicU8 = AtomicU8::new(OFF);

/// What the start of a concurrent cycle leaves for its end.
struct Started {
    at: Instant,
    stop: Duration,
    heap_before: usize,
    mark_done: Option<Instant>,
    /// The C side took part from the start (its roots are grey, its
    /// written pages tracked).
    c_side: bool,
}

/// This cycle's mark has the C side (`Started::c_side`), for the workers.
static C_MARK: AtomicBool = AtomicBool::new(false);
/// The first worker is done with the C side's rounds: until then nobody
/// else ends the mark (`mark_done`).
static C_ROUNDS_DONE: AtomicBool = AtomicBool::new(true);

static STARTED: Mutex<Option<Started>> = Mutex::new(None);

fn started() -> MutexGuard<'static, Option<Started>> {
    STARTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start of a concurrent cycle (world held; Go's sweep termination and
/// mark setup): barriers on, allocation black, the roots grey; then the
/// world is released and the worker marks. With the C side, its threads
/// stand still meanwhile, and their stacks, registers and data segments are
/// roots too.
fn start_concurrent(hooks: &Hooks, t0: Instant) {
    finish_sweep();
    let heap_before = mgcpacer::heap_live();
    let c_side = c_side(hooks);
    let world = hooks.world.filter(|_| c_side);
    if let Some((stop, _)) = world {
        stop();
    }
    mbarrier::MARKING.store(true, Ordering::SeqCst);
    mbarrier::ALLOCATE_BLACK.store(true, Ordering::SeqCst);
    mgcmark::grey_roots(c_side.then_some(hooks));
    C_MARK.store(c_side, Ordering::Relaxed);
    C_ROUNDS_DONE.store(!c_side, Ordering::Relaxed);
    if let Some((_, start)) = world {
        start();
    }
    mgcmark::reset_bg_credit();
    mgcpacer::start_mark_pacing();
    start_mark_budget();
    *started() = Some(Started {
        at: t0,
        stop: t0.elapsed(),
        heap_before,
        mark_done: None,
        c_side,
    });
    PHASE.store(MARK, Ordering::Release);
}

/// Wakes the collector's threads for what the cycle just left them: the
/// mark worker (and an idle P, under the scheduler) for a mark, the
/// sweeper for a sweep. Only once the world is
/// released: the woken thread may preempt the waker on its CPU, and the
/// world would stay held meanwhile (milliseconds, on a busy machine).
fn wake_collector_threads() {
    if PHASE.load(Ordering::Acquire) == MARK {
        if crate::options::gc_mark_thread() {
            let _g = lock_worker();
            WORKER_WAKE.notify_all();
        }
        if let Some(wake) = IDLE_WAKER.get() {
            wake();
        }
    }
    mgcsweep::wake_sweeper();
}

/// Before a cycle marks (world held): the spans the last concurrent
/// cycle's lazy sweep has not reached are swept now (their mark bits would
/// hide objects from the new mark), and the mark counts start at zero.
fn finish_sweep() {
    mgcsweep::finish();
    mgcmark::take_marked();
}

/// End of a concurrent cycle (world held; Go's mark termination):
/// finishes any grey work left, barriers off, caches emptied, and the
/// lazy sweep begun (`mgcsweep.rs`): the world is released before any
/// span is swept. With the C side, its threads stand still meanwhile: the
/// pages written since the last round and every root are scanned again
/// (`dirtybits.rs`), and libgc's after-mark hooks run. If the C side
/// joined meanwhile, or its written pages could not be read, it marks
/// again and sweeps everything with the world held, as a stop-the-world
/// cycle.
fn finish_concurrent(hooks: &Hooks, t0: Instant) {
    let forced = FORCED.swap(false, Ordering::Relaxed);
    let st = started().take().expect("a concurrent cycle was started");
    // A forced collection ends the mark early: no new round may start
    // (`mark_c_side`), and the roots the first round would hand out go to
    // the drain below.
    PHASE.store(MARK_DONE, Ordering::SeqCst);
    mgcmark::release_held_roots();
    let world = hooks.world.filter(|_| c_side(hooks));
    if let Some((stop, _)) = world {
        stop();
    }
    let mut m = Marker::new();
    let rescanned = st.c_side && rescan_c_side(&mut m, hooks);
    m.drain();
    mgcmark::drain_shared(&mut m);
    PHASE.store(OFF, Ordering::Release);
    C_MARK.store(false, Ordering::Relaxed);
    let c_joined = c_side(hooks) && !rescanned;
    if c_joined {
        // Objects written without barriers or tracking: mark again from
        // scratch with the world held.
        mgcsweep::clear_all_marks();
        mgcmark::mark(&mut m, hooks);
    } else if st.c_side {
        mgcmark::after_mark(&mut m, hooks);
    }
    drop(m);
    if let Some((_, start)) = world {
        start();
    }
    mbarrier::MARKING.store(false, Ordering::SeqCst);
    mbarrier::ALLOCATE_BLACK.store(false, Ordering::SeqCst);
    let allocated = mgcpacer::heap_live().saturating_sub(st.heap_before);
    mcache::flush_all();
    let gen = mgcpacer::cycles() + 1;
    let swept = if c_joined {
        mgcsweep::sweep(gen)
    } else {
        let (live_bytes, live_objects) = mgcmark::take_marked();
        mgcsweep::begin(gen);
        mgcsweep::Swept {
            live_bytes,
            live_objects,
            span_bytes: mgcpacer::span_bytes(),
            floating_bytes: allocated,
        }
    };
    let t2 = Instant::now();
    let mark_end = st.mark_done.unwrap_or(t0);
    let mark_wall = mark_end.saturating_duration_since(st.at + st.stop);
    // The pacer's cons/mark: what the mark reached, what mutators allocated
    // meanwhile, and the worker's time (taken as the mark's wall time: it
    // marks all along unless contended; assists are not counted).
    mgcpacer::note_mark_work(mgcpacer::MarkWork {
        scanned: swept.live_bytes,
        allocated,
        wall: mark_wall,
        cpu: mark_wall,
    });
    mgcpacer::end_cycle(
        CycleTimes {
            start: st.at,
            stop: st.stop,
            mark: mark_wall,
            mark_cpu: Some(
                MARK_CPU_NS
                    .each_ref()
                    .map(|ns| Duration::from_nanos(ns.load(Ordering::Relaxed))),
            ),
            sweep: t2 - t0,
            pause: st.stop + (t2 - t0),
            forced,
        },
        [st.heap_before, st.heap_before + allocated],
        swept,
    );
    if !c_joined {
        mgcsweep::pace(mgcpacer::targets().trigger, mgcpacer::heap_live());
    }
}

/// Mark termination's part for the C side (its threads stopped): the last
/// round over the pages written since the previous one, and every root
/// scanned again. False if the written pages cannot be read (tracking
/// broke during the mark): the caller marks again from scratch.
fn rescan_c_side(m: &mut Marker, hooks: &Hooks) -> bool {
    if !dirtybits::healthy() || dirtybits::round(m, false).is_none() {
        return false;
    }
    // The roots' bytes feed the pacer's goal: count this scan, not the
    // start's as well.
    mgcpacer::forget_roots_scanned();
    mgcmark::mark_c_roots(m, hooks);
    true
}

/// Most rounds the first worker runs beside the C threads (the first one
/// only protects what was written since the last cycle).
const MAX_ROUNDS: usize = 3;

/// The C side's rounds (`dirtybits.rs`), run by the first worker: one at
/// once (it protects the pages written since the last cycle while few
/// objects are marked), then one after each drain until a round finds
/// less than 1/32 of the tracked pages written (or `MAX_ROUNDS`), so that
/// mark termination rescans little. The mark may end only after them.
fn mark_c_side(m: &mut Marker) {
    for done in 1..=MAX_ROUNDS {
        let t = Instant::now();
        mgcmark::add_grey(1);
        // A forced collection may end the mark first: it sets MARK_DONE,
        // then waits for `GREY` to drop to zero (all SeqCst), so a round
        // either runs before that wait ends or sees MARK_DONE.
        if PHASE.load(Ordering::SeqCst) != MARK {
            mgcmark::finish_grey(1);
            break;
        }
        let found = dirtybits::round(m, true);
        mgcmark::publish(m);
        mgcmark::finish_grey(1);
        if done == 1 {
            mgcmark::release_held_roots();
        }
        note_mark_cpu(BACKGROUND, t.elapsed());
        mark_at_utilisation(m);
        let Some(found) = found else {
            dirtybits::give_up();
            break;
        };
        if done > 1 && found.written <= found.tracked / 32 {
            break;
        }
    }
    C_ROUNDS_DONE.store(true, Ordering::SeqCst);
}

static WORKER: Mutex<()> = Mutex::new(());
static WORKER_WAKE: Condvar = Condvar::new();
static WORKER_OK: OnceLock<bool> = OnceLock::new();

fn lock_worker() -> MutexGuard<'static, ()> {
    WORKER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the background mark workers run (started on first use).
fn worker_started() -> bool {
    *WORKER_OK.get_or_init(|| {
        (0..mark_workers()).all(|i| {
            std::thread::Builder::new()
                .name(format!("goheap-gc-mark{i}"))
                .spawn(move || mark_worker(i == 0))
                .is_ok()
        })
    })
}

/// How many worker threads mark: Go's dedicated workers, 25% of the CPUs
/// rounded (`mgcpacer::GOAL_UTILIZATION`), but at least one (on 2 CPUs,
/// where Go runs a fractional worker instead, one: its CPU budget keeps it
/// to its share when the mutators want the CPUs); or
/// `GOHEAP_DEBUG=gcmarkthread=N` (0 never gets here: `markers_available`).
fn mark_workers() -> usize {
    crate::options::gc_mark_threads().unwrap_or_else(|| {
        ((mgcpacer::GOAL_UTILIZATION * mgcpacer::procs() as f64).round() as usize).max(1)
    })
}

/// A background mark worker (Go's gcBgMarkWorker): drains the grey work of
/// each concurrent cycle until none is left anywhere, then asks for the
/// world to terminate the mark; the `first` one then frees the spans that
/// hold only dead objects meanwhile (`mgcsweep`). No worker terminates
/// the mark itself: cycles end on a mutator's scope boundary, as they
/// always have (the next exit that empties the world, or the next entry).
fn mark_worker(first: bool) {
    let _guard = AbortOnUnwind;
    let mut m = Marker::concurrent(1024);
    loop {
        {
            let mut g = lock_worker();
            while PHASE.load(Ordering::Acquire) != MARK {
                g = WORKER_WAKE.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        }
        let c_mark = C_MARK.load(Ordering::Relaxed);
        if first && c_mark {
            mark_c_side(&mut m);
        } else {
            mark_at_utilisation(&mut m);
        }
        if !C_ROUNDS_DONE.load(Ordering::SeqCst) {
            // The first worker's rounds may find more.
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        mark_done();
        // Until mark termination (a scope boundary, maybe much later),
        // the pages of wholly dead spans can serve allocation already; not
        // with the C side, whose termination may still mark in them.
        if first && !c_mark && still_mark_done_after(TERMINATION_PATIENCE) {
            mgcsweep::free_dead_spans(|| PHASE.load(Ordering::Acquire) == MARK_DONE);
        }
    }
}

/// Objects the worker scans between two looks at its utilisation.
const WORKER_SLICE: usize = 4096;
/// Objects a P scans per slice (Go's fractional and idle workers): short,
/// since goroutines wait meanwhile.
const P_SLICE: usize = 1024;

/// The mark's CPU budget (Go's 25% goal, `mgcpacer::GOAL_UTILIZATION` of
/// the CPUs): nanoseconds of budgeted mark work this cycle, done on Ps
/// (`mark_on_p`) or by the worker thread while the CPUs are contended, and
/// when the mark started. Marking on a CPU nothing else wants (Go's idle
/// workers) is not counted.
static BUDGETED_NS: AtomicU64 = AtomicU64::new(0);
static MARK_START_NS: AtomicU64 = AtomicU64::new(0);
static CLOCK_ZERO: OnceLock<Instant> = OnceLock::new();

/// The mark's CPU time by kind, for gctrace (Go's assist, background and
/// idle figures): indices `ASSIST`, `BACKGROUND`, `IDLE`.
static MARK_CPU_NS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
pub(crate) const ASSIST: usize = 0;
const BACKGROUND: usize = 1;
const IDLE: usize = 2;

/// Marking CPU time of one kind.
pub(crate) fn note_mark_cpu(kind: usize, d: Duration) {
    MARK_CPU_NS[kind].fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

/// Nanoseconds since the first mark's start (the budget's clock).
fn mark_clock() -> u64 {
    CLOCK_ZERO.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A mark starts: its budget starts at zero.
fn start_mark_budget() {
    BUDGETED_NS.store(0, Ordering::Relaxed);
    for ns in &MARK_CPU_NS {
        ns.store(0, Ordering::Relaxed);
    }
    MARK_START_NS.store(mark_clock(), Ordering::Relaxed);
}

/// Whether the mark has used less than its share of the CPUs so far.
fn within_budget() -> bool {
    let elapsed = mark_clock().saturating_sub(MARK_START_NS.load(Ordering::Relaxed));
    let share = mgcpacer::GOAL_UTILIZATION * mgcpacer::procs() as f64;
    (BUDGETED_NS.load(Ordering::Relaxed) as f64) < elapsed as f64 * share
}

fn charge_budget(d: Duration) {
    BUDGETED_NS.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

/// Grey work arrived in an empty `WORK` (Go's `enlistWorker`): without a
/// mark thread, an idle P is woken to mark it.
pub(crate) fn enlist_worker() {
    if PHASE.load(Ordering::Relaxed) == MARK && !crate::options::gc_mark_thread() {
        if let Some(wake) = IDLE_WAKER.get() {
            wake();
        }
    }
}

/// Mark work on a P, from the scheduler's loop on g0 (Go's
/// `findRunnableGCWorker`): with `idle` false, before the P picks its next
/// goroutine, a slice while the mark is within its CPU budget (Go's
/// fractional worker); with `idle` true, when the P has nothing to run (Go's
/// idle worker: not counted). Returns whether it scanned anything; the
/// scheduler looks at its run queues again after each slice.
pub fn mark_on_p(idle: bool) -> bool {
    if PHASE.load(Ordering::Relaxed) != MARK || !mgcmark::work_available() {
        return false;
    }
    if !idle && !within_budget() {
        return false;
    }
    let guard = AbortOnUnwind;
    let t = Instant::now();
    let work = mgcmark::scan_some(&mut Marker::concurrent(P_SLICE), P_SLICE);
    if idle {
        note_mark_cpu(IDLE, t.elapsed());
    } else {
        charge_budget(t.elapsed());
        note_mark_cpu(BACKGROUND, t.elapsed());
    }
    mgcmark::credit_bg_work(work.bytes);
    if !mgcmark::grey_left() {
        mark_done();
    }
    core::mem::forget(guard);
    work.objects != 0
}

/// The worker's mark: scans grey work in slices until none is left
/// anywhere. While a CPU is idle (its thread got the whole wall time of a
/// slice: nothing else wanted the CPU) it marks flat out (Go's idle mark
/// workers); when it did not (the mutators want every CPU), its slices
/// count against the mark's CPU budget, shared with the Ps' slices, and it
/// waits while the budget is spent. Assists and barriers go on meanwhile.
fn mark_at_utilisation(m: &mut Marker) {
    while mgcmark::grey_left() {
        let (t, cpu) = (Instant::now(), crate::os::thread_cpu_time());
        let work = mgcmark::scan_some(m, WORKER_SLICE);
        if work.objects == 0 {
            // A barrier, an assist or a P holds the grey work left.
            std::thread::sleep(Duration::from_micros(20));
            continue;
        }
        mgcmark::credit_bg_work(work.bytes);
        let (wall, ran) = (t.elapsed(), crate::os::thread_cpu_time() - cpu);
        if ran.as_secs_f64() >= wall.as_secs_f64() * CONTENDED {
            note_mark_cpu(IDLE, ran);
        } else {
            note_mark_cpu(BACKGROUND, ran);
            charge_budget(ran);
            while !within_budget() && PHASE.load(Ordering::Relaxed) == MARK {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// A slice in which the worker ran less than this share of the wall time
/// was contended (see `mark_at_utilisation`).
const CONTENDED: f64 = 0.9;

/// How long the worker waits for mark termination before it frees dead
/// spans itself: most cycles end sooner, and then the scan is not worth it.
const TERMINATION_PATIENCE: Duration = Duration::from_millis(5);

/// Whether the mark is still done, unterminated, after `patience`.
fn still_mark_done_after(patience: Duration) -> bool {
    let until = Instant::now() + patience;
    while PHASE.load(Ordering::Acquire) == MARK_DONE {
        if Instant::now() >= until {
            return true;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    false
}

/// No grey work is left (the worker's or an assist's finding): asks for
/// the world to terminate the mark, once per cycle.
pub(crate) fn mark_done() {
    if !C_ROUNDS_DONE.load(Ordering::SeqCst) {
        return;
    }
    let done = Instant::now();
    if PHASE
        .compare_exchange(MARK, MARK_DONE, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        if let Some(st) = started().as_mut() {
            st.mark_done = Some(done);
        }
        STATE.fetch_or(PENDING, Ordering::Relaxed);
    }
}
