//! The scheduler proper (Go's proc.go): spawning, the scheduling loop,
//! run queues, work stealing, parking, idle Ms and P hand-off. The design
//! and its invariants are in `sched/mod.rs`; the functions keep Go's names.

use super::asm;
use super::netpoll;
use super::netpoll_epoll::Epoll;
use super::runtime2::*;
use super::stack;
use super::time::{nanotime, Timers};
use crate::lock::Mutex;
use crate::lock::{futex_wait, futex_wake};
use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::atomic::AtomicBool;

/// Names one goroutine record (records are never freed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct GRef(pub(crate) *mut G);
// SAFETY: a GRef is an address of a record that lives forever; all access
// goes through the record's atomics and the scheduler's protocols.
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

/// Free goroutine records a P keeps (Go's gFree, 64); the excess goes to
/// the global list in halves.
const GFREE_LOCAL_MAX: usize = 64;
/// Free stacks a P keeps with their pages (Go's stackcache); the excess
/// goes to `stack`'s global pool in halves.
const STACK_CACHE_MAX: usize = 32;
/// Every 61st schedule takes from the global queue first (fairness).
const GLOBAL_QUEUE_TICK: u32 = 61;

static SCHED: AtomicPtr<Sched> = AtomicPtr::new(ptr::null_mut());
static POLLER: AtomicPtr<Epoll> = AtomicPtr::new(ptr::null_mut());
static START: Mutex<()> = Mutex::new(());
/// Where the finalizer goroutine (`gc::mfinal`) parks while it has no work.
static FINALIZER_SEMA: super::sema::Sema = super::sema::Sema::new();

thread_local! {
    /// The M of this thread (null on plain threads). Read only through
    /// `this_m`, never cached across a switch.
    static CURRENT_M: Cell<*mut M> = const { Cell::new(ptr::null_mut()) };
}

/// This thread's M. Not inlined: after a switch the goroutine may run on
/// another thread, and every caller reads it again rather than keep it.
#[inline(never)]
fn this_m() -> *mut M {
    CURRENT_M.with(Cell::get)
}

/// The scheduler, started on first use.
#[inline]
fn sched() -> &'static Sched {
    let s = SCHED.load(Acquire);
    if s.is_null() {
        return start();
    }
    // SAFETY: published once, never freed.
    unsafe { &*s }
}

pub(crate) fn poller() -> &'static Epoll {
    sched();
    // SAFETY: set before SCHED is published, never freed.
    unsafe { &*POLLER.load(Acquire) }
}

#[cold]
fn start() -> &'static Sched {
    let _g = START.lock();
    let s = SCHED.load(Acquire);
    if !s.is_null() {
        // SAFETY: published once, never freed.
        return unsafe { &*s };
    }
    let procs = maxprocs();
    let allp: Box<[P]> = (0..procs).map(|_| P::new()).collect();
    let s: &'static Sched = Box::leak(Box::new(Sched {
        lock: Mutex::new(SchedLocked {
            runq_head: ptr::null_mut(),
            runq_tail: ptr::null_mut(),
            pidle: ptr::null_mut(),
            midle: ptr::null_mut(),
            nmidle: 0,
            mcount: 0,
            gfree: ptr::null_mut(),
        }),
        runqsize: AtomicU32::new(0),
        npidle: AtomicU32::new(0),
        nmspinning: AtomicU32::new(0),
        allp,
        goidgen: AtomicU64::new(0),
        mnext: AtomicU32::new(1),
        poll_until: AtomicU64::new(0),
        lastpoll: AtomicU64::new(nanotime()),
        sysmon_wait: AtomicU32::new(0),
        ngo: AtomicUsize::new(0),
    }));
    {
        let mut l = s.lock.lock();
        for p in s.allp.iter().rev() {
            pidleput(s, &mut l, p);
        }
    }
    let ep = Epoll::new()
        .unwrap_or_else(|| crate::os::fatal("go", "cannot create the epoll instance", 0));
    POLLER.store(Box::leak(Box::new(ep)), Release);
    stack::install_fault_handler();
    register_fork_handler();
    SCHED.store(s as *const Sched as *mut Sched, Release);
    crate::gc::mgc::set_waiter(|wait| blocking(wait));
    crate::gc::mgc::set_idle_waker(|| wakep(sched()));
    // SAFETY: G records live forever (see `GRef`).
    crate::gc::mgcmark::set_credit_of_current(|| current_g().map(|g| unsafe { &(*g.0).gcassist }));
    crate::gc::mfinal::set_host(crate::gc::mfinal::Host {
        spawn: |f| {
            newproc(Box::new(move || {
                lock_os_thread();
                f()
            }))
        },
        park: || FINALIZER_SEMA.acquire(),
        unpark: || FINALIZER_SEMA.release(),
        blocking: |wait| blocking(wait),
    });
    super::sysmon::start(s);
    s
}

/// `GOHEAP_MAXPROCS`, default: the CPUs this process may run on.
pub(crate) fn maxprocs() -> usize {
    std::env::var("GOHEAP_MAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(256)
}

fn register_fork_handler() {
    static ONCE: AtomicBool = AtomicBool::new(false);
    if !ONCE.swap(true, Relaxed) {
        // SAFETY: registering plain extern "C" functions.
        unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
    }
}

extern "C" fn fork_prepare() {
    START.lock_for_fork();
    stack::lock_for_fork();
    netpoll::lock_for_fork();
}

extern "C" fn fork_parent() {
    // SAFETY: fork_prepare took the locks in this thread.
    unsafe {
        netpoll::unlock_after_fork();
        stack::unlock_after_fork();
        START.unlock_after_fork();
    }
}

/// In the child of a fork only the forking thread exists: the parent's
/// scheduler (its Ms, queues, poller) is forgotten and the next use starts a
/// new one. The thread itself becomes a plain thread.
extern "C" fn fork_child() {
    let old = POLLER.swap(ptr::null_mut(), Relaxed);
    if !old.is_null() {
        // SAFETY: the parent's poller record is valid; only its descriptors go.
        unsafe { (*old).close_all() };
    }
    SCHED.store(ptr::null_mut(), Relaxed);
    CURRENT_M.with(|c| c.set(ptr::null_mut()));
    // SAFETY: fork_prepare took the locks in the forking thread, which is
    // this thread in the child.
    unsafe {
        netpoll::unlock_after_fork();
        stack::unlock_after_fork();
        START.unlock_after_fork();
    }
}

#[inline]
fn owned(m: &M, state: u32) -> u32 {
    m.id << 8 | state
}

/// Where the caller runs.
enum Ctx {
    /// A plain thread, or an M's g0 without a P (a `blocking` closure).
    Plain,
    /// On an M's g0, holding a P (timer callbacks, commits).
    G0(&'static P),
    /// A goroutine, which took its P back (`enter`); call `leave` after.
    User(&'static M, &'static P),
    /// A goroutine whose P sysmon took and no P is idle: it queues work
    /// globally, and its next switch lets its M go idle.
    NoP(&'static M),
}

fn ctx() -> Ctx {
    let m = this_m();
    if m.is_null() {
        return Ctx::Plain;
    }
    // SAFETY: Ms live forever; this thread is this M.
    let m = unsafe { &*m };
    if m.curg.get().is_null() {
        let p = m.p.get();
        if p.is_null() {
            return Ctx::Plain;
        }
        // SAFETY: Ps live as long as the scheduler.
        return Ctx::G0(unsafe { &*p });
    }
    match enter(m) {
        Some(p) => Ctx::User(m, p),
        None => Ctx::NoP(m),
    }
}

/// A goroutine enters the runtime: takes its P from user mode (CAS
/// USER→RT). If sysmon took the P away, takes an idle P if there is one
/// (Go's exitsyscall fast path). Never switches: the caller may hold a lock.
fn enter(m: &'static M) -> Option<&'static P> {
    let p = m.p.get();
    if !p.is_null() {
        // SAFETY: Ps live as long as the scheduler.
        let p = unsafe { &*p };
        if p.status
            .compare_exchange(owned(m, P_USER), owned(m, P_RT), Acquire, Relaxed)
            .is_ok()
        {
            return Some(p);
        }
        m.p.set(ptr::null_mut());
    }
    let s = sched();
    let p = pidleget(s, &mut s.lock.lock())?;
    acquirep(m, p);
    Some(p)
}

/// The goroutine goes back to its own code; sysmon may retake the P.
#[inline]
fn leave(m: &M, p: &P) {
    p.status.store(owned(m, P_USER), Release);
}

/// Switches the running goroutine out at one of its switch points (a
/// park, a yield, a safe point, a `blocking` call). Inside a GC scope it is
/// wired to this M for the switch, so that it resumes on this thread, which
/// runs nothing else meanwhile ("GC scopes on goroutines" in mod.rs).
fn switch_out(m: &M, action: Action) {
    let g = m.curg.get();
    let wire = m.lockedg.get().is_null() && crate::gc::mgc::World::is_inside();
    if wire {
        wire_to_thread(m, g);
    }
    mcall(m, g, action);
    if wire {
        // SAFETY: wired, the goroutine resumed on this thread's M.
        unwire_from_thread(unsafe { &*this_m() });
    }
}

/// Switches from the running goroutine `g` to its M's g0, which carries
/// out `action`. Returns when `g` is resumed, perhaps on another M.
fn mcall(m: &M, g: *mut G, action: Action) {
    // SAFETY: g is this M's running goroutine; its stack is its own.
    unsafe {
        if let Some(st) = &*(*g).stack.get() {
            if st.overflowed() {
                stack::overflow((*g).id.load(Relaxed));
            }
        }
        m.action.set(action);
        asm::switch((*g).sp.get(), *m.g0_sp.get());
    }
}

// ---- public API -------------------------------------------------------

/// Starts a goroutine running `f` (Go's `go` statement). From a plain
/// thread this starts the scheduler on first use.
///
/// # Safety
///
/// A goroutine may resume on another OS thread after any switch point
/// (a channel operation, a lock, `yield_now`, `sleep`, net I/O, spawning).
/// `f` must not hold, across a switch point, a reference into a
/// `thread_local!` (LLVM may also cache a thread-local's address inside a
/// function, so do not touch one before and after a switch in the same
/// function) or a value that must stay on its thread (a `!Send` guard such
/// as std's `MutexGuard`), unless the goroutine called
/// [`lock_os_thread`] first. Breaking this lets two threads reach one
/// thread's data at once: a data race. The compiler cannot check it, as
/// with `may`'s `go!`; code that keeps no thread-local state across
/// goheap's blocking calls meets it by construction.
pub unsafe fn go<F: FnOnce() + Send + 'static>(f: F) {
    newproc(Box::new(f));
}

fn newproc(f: Box<dyn FnOnce() + Send>) {
    let s = sched();
    let id = s.goidgen.fetch_add(1, Relaxed) + 1;
    s.ngo.fetch_add(1, Relaxed);
    let c = ctx();
    match c {
        Ctx::User(m, p) => {
            let g = gfget(s, p);
            init_g(g, id, f);
            runqput(s, p, g, true);
            wakep(s);
            // A safe point: stop if sysmon asked, or if the run queue is
            // full (spawning faster than the Ps run goroutines only makes
            // fresh stacks; the spawner continues after them). Spawners
            // that block soon after (skynet's) never reach a full ring.
            if p.preempt.load(Relaxed) || runq_len(p) >= RUNQ_SIZE as u32 {
                return switch_out(m, Action::Preempted);
            }
            leave(m, p);
        }
        Ctx::G0(p) => {
            let g = gfget(s, p);
            init_g(g, id, f);
            runqput(s, p, g, true);
            wakep(s);
        }
        Ctx::Plain | Ctx::NoP(_) => {
            let g = gfget_global(s);
            init_g(g, id, f);
            globrunqput(s, &mut s.lock.lock(), g);
            wakep(s);
            if let Ctx::NoP(m) = c {
                // A safe point: the goroutine lost its P; it waits for one.
                switch_out(m, Action::Preempted);
            }
        }
    }
}

fn init_g(g: *mut G, id: u64, f: Box<dyn FnOnce() + Send>) {
    // SAFETY: g is free (from a free list or new): we own it.
    unsafe {
        (*g).id.store(id, Relaxed);
        *(*g).entry.get() = Some(f);
        (*g).status.store(G_RUNNABLE, Relaxed);
    }
}

/// Lets other goroutines run; the caller continues later (Go's Gosched).
/// On a plain thread, yields the thread.
pub fn yield_now() {
    match ctx() {
        Ctx::User(m, _) | Ctx::NoP(m) => switch_out(m, Action::Yield),
        Ctx::G0(..) | Ctx::Plain => std::thread::yield_now(),
    }
}

/// The running goroutine's P, held in runtime mode (Go's procPin): sysmon
/// cannot retake it and no other goroutine runs on it until the pin drops,
/// so per-P data indexed by `id` is the holder's alone. The holder must not
/// switch, park or run user code meanwhile.
pub(crate) struct ProcPin {
    m: &'static M,
    p: &'static P,
    pub(crate) id: usize,
}

/// Pins the running goroutine's P; `None` on a plain thread, on g0, or for
/// a goroutine that lost its P.
pub(crate) fn procpin() -> Option<ProcPin> {
    let m = this_m();
    if m.is_null() {
        return None;
    }
    // SAFETY: Ms live forever; this thread is this M.
    let m = unsafe { &*m };
    if m.curg.get().is_null() {
        return None;
    }
    let p = enter(m)?;
    let s = sched();
    // SAFETY: p is one of s.allp (Ps live as long as the scheduler).
    let id = unsafe { (p as *const P).offset_from(s.allp.as_ptr()) } as usize;
    Some(ProcPin { m, p, id })
}

impl Drop for ProcPin {
    fn drop(&mut self) {
        leave(self.m, self.p);
    }
}

/// The running goroutine, `None` on a plain thread (or on g0).
pub(crate) fn current_g() -> Option<GRef> {
    let m = this_m();
    if m.is_null() {
        return None;
    }
    // SAFETY: Ms live forever; only this thread reads curg.
    let g = unsafe { (*m).curg.get() };
    (!g.is_null()).then_some(GRef(g))
}

/// The id of the running goroutine (0 if none); safe in a signal handler.
pub(crate) fn current_goid() -> u64 {
    // SAFETY: as in current_g; ids are atomics.
    current_g().map_or(0, |g| unsafe { (*g.0).id.load(Relaxed) })
}

/// Parks the current goroutine; `commit` runs on g0 once the goroutine is
/// WAITING (see the parking protocol in `sched/mod.rs`). If `commit`
/// returns false the goroutine continues at once.
pub(crate) fn gopark(commit: &mut dyn FnMut() -> bool) {
    let (Ctx::User(m, _) | Ctx::NoP(m)) = ctx() else {
        crate::os::fatal("gopark", "called off a goroutine", 0)
    };
    // SAFETY: erasing the borrow's lifetime: g0 calls `commit` before the
    // goroutine resumes, while this frame (which owns `commit`) is alive.
    let commit: *mut (dyn FnMut() -> bool + 'static) = unsafe { core::mem::transmute(commit) };
    switch_out(m, Action::Park(commit));
}

/// Makes the WAITING goroutine `g` runnable; `next` runs it next on this P.
pub(crate) fn goready(g: GRef, next: bool) {
    // SAFETY: records live forever.
    let st = unsafe { &(*g.0).status };
    if st
        .compare_exchange(G_WAITING, G_RUNNABLE, AcqRel, Relaxed)
        .is_err()
    {
        crate::os::fatal("goready", "goroutine is not waiting", g.0 as usize);
    }
    let s = sched();
    match ctx() {
        Ctx::User(m, p) => {
            runqput(s, p, g.0, next);
            wakep(s);
            leave(m, p);
        }
        Ctx::G0(p) => {
            runqput(s, p, g.0, next);
            wakep(s);
        }
        Ctx::Plain | Ctx::NoP(_) => {
            globrunqput(s, &mut s.lock.lock(), g.0);
            wakep(s);
        }
    }
}

/// Runs `f`, which may block its thread for long (a file read, a C call),
/// without holding up other goroutines: the P goes to another M at once
/// and `f` runs on this M's own thread stack (Go's entersyscallblock). On a
/// plain thread, just runs `f`.
pub fn blocking<R, F: FnOnce() -> R>(f: F) -> R {
    let (Ctx::User(m, _) | Ctx::NoP(m)) = ctx() else {
        return f();
    };
    let mut f = Some(f);
    let mut r = None;
    // A panic in `f` is carried back and resumed on the goroutine's stack:
    // it must not unwind through the scheduler on g0.
    let mut call = || {
        r = f
            .take()
            .map(|f| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
    };
    let call: &mut dyn FnMut() = &mut call;
    // SAFETY: erasing the borrow's lifetime: g0 runs `call` before this
    // goroutine resumes, while this frame is alive.
    let call: *mut (dyn FnMut() + 'static) = unsafe { core::mem::transmute(call) };
    switch_out(m, Action::Blocking(call));
    // The goroutine resumed in user mode; `r` was set on g0 before.
    match r {
        Some(Ok(v)) => v,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => crate::os::fatal("blocking", "closure did not run", 0),
    }
}

/// Runs runtime-side code on g0 (a commit, a timer callback): a panic
/// there cannot unwind through the scheduler, so it ends the process.
pub(crate) fn on_g0<R>(what: &str, f: impl FnOnce() -> R) -> R {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| crate::os::fatal(what, "panicked on the scheduler stack", 0))
}

/// Wires the calling goroutine to its current OS thread until
/// `unlock_os_thread` (Go's LockOSThread): it then always resumes on this
/// thread, so `thread_local!` values and thread identity stay valid across
/// yields, sleeps and parks; the thread runs no other goroutine meanwhile.
/// On a plain thread, does nothing (a thread never migrates).
pub fn lock_os_thread() {
    if current_g().is_none() {
        return;
    }
    // SAFETY: on a goroutine: this thread's M runs it.
    let m = unsafe { &*this_m() };
    wire_to_thread(m, m.curg.get());
}

/// `g`, running on `m`, runs only on `m` from now on, and `m` only `g`.
fn wire_to_thread(m: &M, g: *mut G) {
    m.lockedg.set(g);
    // SAFETY: the running goroutine owns its record.
    unsafe { (*g).lockedm.store(m as *const M as *mut M, Relaxed) };
}

/// Undoes `wire_to_thread` for `m`'s running goroutine.
fn unwire_from_thread(m: &M) {
    let g = m.curg.get();
    m.lockedg.set(ptr::null_mut());
    // SAFETY: the running goroutine owns its record.
    unsafe { (*g).lockedm.store(ptr::null_mut(), Relaxed) };
}

/// Undoes `lock_os_thread`: the goroutine may migrate again.
pub fn unlock_os_thread() {
    if current_g().is_none() {
        return;
    }
    // SAFETY: as in lock_os_thread.
    unwire_from_thread(unsafe { &*this_m() });
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Calls `f` with the timer heap of the caller's P (P 0's off the scheduler).
pub(crate) fn with_timers<R>(f: impl FnOnce(&'static Timers) -> R) -> R {
    let s = sched();
    match ctx() {
        Ctx::User(m, p) => {
            let r = f(&p.timers);
            leave(m, p);
            r
        }
        Ctx::G0(p) => f(&p.timers),
        Ctx::Plain | Ctx::NoP(_) => f(&s.allp[0].timers),
    }
}

/// A timer due at `when` was added: make sure some M will run it in time
/// (Go's wakeNetPoller).
pub(crate) fn wake_netpoller(when: u64) {
    let s = sched();
    if s.lastpoll.load(SeqCst) == 0 {
        let until = s.poll_until.load(SeqCst);
        if until == 0 || when < until {
            poller().wake();
        }
    } else {
        wakep(s);
    }
}

/// The number of Ps: how many goroutines run at once (`GOHEAP_MAXPROCS`).
pub fn gomaxprocs() -> usize {
    sched().allp.len()
}

/// Goroutines started since the scheduler started.
pub fn goroutines_started() -> usize {
    sched().ngo.load(Relaxed)
}

// ---- goroutine entry and exit ----------------------------------------

extern "C" fn goroutine_main(g: usize) -> ! {
    let g = g as *mut G;
    // SAFETY: this goroutine owns its record while running.
    let f = unsafe { (*(*g).entry.get()).take() };
    if let Some(f) = f {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            report_panic(g, &*e);
        }
    }
    let (Ctx::User(m, _) | Ctx::NoP(m)) = ctx() else {
        crate::os::fatal("goexit", "goroutine without an M", g as usize)
    };
    mcall(m, g, Action::Exit);
    crate::os::fatal("goexit", "dead goroutine resumed", g as usize)
}

fn report_panic(g: *mut G, e: &(dyn std::any::Any + Send)) -> ! {
    let msg = e
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| e.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let mut buf = [0u8; 20];
    // SAFETY: the record lives forever.
    let id = crate::os::decimal(unsafe { (*g).id.load(Relaxed) } as usize, &mut buf);
    crate::os::write_stderr(&[
        b"goheap: goroutine ",
        id,
        b" panicked: ",
        msg.as_bytes(),
        b"\n",
    ]);
    // SAFETY: abort needs no preconditions.
    unsafe { libc::abort() }
}

// ---- M lifecycle ------------------------------------------------------

/// The most Ms (OS threads) the scheduler makes: `GOHEAP_MAXTHREADS`,
/// default 10000 (Go's `maxmcount`, `debug.SetMaxThreads`). Ms are reused
/// (idle ones wait in `stopm`), so only goroutines that keep that many
/// threads blocked at once (`blocking`, or system calls sysmon hands off)
/// reach it; the process then ends, as Go's does.
fn maxmcount() -> u32 {
    static MAX: AtomicU32 = AtomicU32::new(0);
    let n = MAX.load(Relaxed);
    if n != 0 {
        return n;
    }
    let n = std::env::var("GOHEAP_MAXTHREADS")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10_000);
    MAX.store(n, Relaxed);
    n
}

/// Counts a new M; ends the process past `maxmcount` (Go's checkmcount).
fn checkmcount(l: &mut SchedLocked) {
    l.mcount += 1;
    let max = maxmcount();
    if l.mcount > max {
        let mut buf = [0u8; 20];
        let max = crate::os::decimal(max as usize, &mut buf);
        crate::os::write_stderr(&[
            b"goheap: newm: program exceeds the ",
            max,
            b"-thread limit (GOHEAP_MAXTHREADS): too many goroutines blocked in threads\n",
        ]);
        // SAFETY: abort needs no preconditions.
        unsafe { libc::abort() }
    }
}

fn newm(s: &'static Sched, p: &'static P, spinning: bool) {
    checkmcount(&mut s.lock.lock());
    let id = s.mnext.fetch_add(1, Relaxed);
    let m: &'static M = Box::leak(Box::new(M {
        id,
        g0_sp: core::cell::UnsafeCell::new(0),
        curg: Cell::new(ptr::null_mut()),
        p: Cell::new(ptr::null_mut()),
        nextp: AtomicPtr::new(p as *const P as *mut P),
        spinning: AtomicBool::new(spinning),
        park: AtomicU32::new(0),
        action: Cell::new(Action::None),
        schedlink: Cell::new(ptr::null_mut()),
        lockedg: Cell::new(ptr::null_mut()),
        tid: AtomicU32::new(0),
    }));
    let mp = m as *const M as usize;
    let r = std::thread::Builder::new()
        .name(format!("goheap-m{id}"))
        .stack_size(2 << 20)
        .spawn(move || mstart(mp as *mut M));
    if r.is_err() {
        crate::os::fatal("newm", "cannot create a thread", 0);
    }
}

fn mstart(m: *mut M) -> ! {
    CURRENT_M.with(|c| c.set(m));
    stack::ensure_signal_stack();
    // SAFETY: Ms live forever.
    let m = unsafe { &*m };
    m.tid.store(gettid(), Relaxed);
    take_nextp(m);
    let s = sched();
    loop {
        schedule(s, m);
    }
}

fn take_nextp(m: &M) {
    let p = m.nextp.swap(ptr::null_mut(), Acquire);
    // SAFETY: the P was handed to this M by startm/newm.
    acquirep(m, unsafe { &*p });
}

fn acquirep(m: &M, p: &P) {
    m.p.set(p as *const P as *mut P);
    p.status.store(owned(m, P_RT), Release);
}

fn releasep(m: &M) -> &'static P {
    // SAFETY: called with a P held.
    let p = unsafe { &*m.p.get() };
    m.p.set(ptr::null_mut());
    p.status.store(P_IDLE, Release);
    p
}

/// Parks this M until `startm` hands it a P.
fn stopm(s: &Sched, m: &'static M) {
    {
        let mut l = s.lock.lock();
        m.schedlink.set(l.midle);
        l.midle = m as *const M as *mut M;
        l.nmidle += 1;
    }
    while m.park.load(Acquire) == 0 {
        futex_wait(&m.park, 0);
    }
    m.park.store(0, Relaxed);
    take_nextp(m);
}

/// Runs `p` on an idle M (or a new one).
fn startm(s: &'static Sched, p: &'static P, spinning: bool) {
    let m = {
        let mut l = s.lock.lock();
        let m = l.midle;
        if !m.is_null() {
            // SAFETY: Ms live forever; the idle list is under the lock.
            l.midle = unsafe { (*m).schedlink.get() };
            l.nmidle -= 1;
        }
        m
    };
    if m.is_null() {
        return newm(s, p, spinning);
    }
    // SAFETY: the M is idle in stopm, waiting for exactly this hand-over.
    let m = unsafe { &*m };
    m.spinning.store(spinning, Relaxed);
    m.nextp.store(p as *const P as *mut P, Release);
    m.park.store(1, Release);
    futex_wake(&m.park, 1);
}

/// Starts a spinning M if there is an idle P and no M spins (Go's wakep).
pub(crate) fn wakep(s: &'static Sched) {
    if s.npidle.load(SeqCst) == 0 || s.nmspinning.load(SeqCst) != 0 {
        return;
    }
    if s.nmspinning
        .compare_exchange(0, 1, SeqCst, Relaxed)
        .is_err()
    {
        return;
    }
    let p = pidleget(s, &mut s.lock.lock());
    match p {
        Some(p) => startm(s, p, true),
        None => {
            s.nmspinning.fetch_sub(1, SeqCst);
        }
    }
}

/// Gives `p` (taken from its M) to an M if there is work for it, else idles
/// it (Go's handoffp).
pub(crate) fn handoffp(s: &'static Sched, p: &'static P) {
    if !runq_empty(p) || s.runqsize.load(SeqCst) != 0 {
        return startm(s, p, false);
    }
    if s.nmspinning.load(SeqCst) + s.npidle.load(SeqCst) == 0
        && s.nmspinning.compare_exchange(0, 1, SeqCst, Relaxed).is_ok()
    {
        return startm(s, p, true);
    }
    let mut l = s.lock.lock();
    if s.runqsize.load(SeqCst) != 0 {
        drop(l);
        return startm(s, p, false);
    }
    if s.npidle.load(SeqCst) as usize == s.allp.len() - 1 && s.lastpoll.load(SeqCst) != 0 {
        drop(l);
        return startm(s, p, false);
    }
    let when = p.timers.earliest();
    pidleput(s, &mut l, p);
    drop(l);
    if when != 0 {
        wake_netpoller(when);
    }
}

// ---- the scheduling loop ---------------------------------------------

fn schedule(s: &'static Sched, m: &'static M) {
    if m.p.get().is_null() {
        stopm(s, m);
    }
    // The GC's fractional mark work takes the P first while it is owed CPU.
    crate::gc::mgc::mark_on_p(false);
    let g = findrunnable(s, m);
    if m.spinning.load(Relaxed) {
        resetspinning(s, m);
    }
    // SAFETY: records live forever; lockedm is stable while g is queued.
    let locked = unsafe { (*g).lockedm.load(Relaxed) };
    if !locked.is_null() && !ptr::eq(locked, m) {
        // SAFETY: an M wired to a goroutine lives and waits for it.
        return startlockedm(m, unsafe { &*locked });
    }
    execute(s, m, g);
}

/// g is wired to `locked`: give it this M's P and let `locked` run it
/// (Go's startlockedm); this M goes idle.
fn startlockedm(m: &M, locked: &M) {
    let p = releasep(m);
    locked.nextp.store(p as *const P as *mut P, Release);
    locked.park.store(1, Release);
    futex_wake(&locked.park, 1);
}

/// This M's goroutine is wired to it and stopped: hand the P off and sleep
/// until `startlockedm` brings a P to run it again (Go's stoplockedm).
fn stoplockedm(s: &'static Sched, m: &'static M) {
    if !m.p.get().is_null() {
        handoffp(s, releasep(m));
    }
    while m.park.load(Acquire) == 0 {
        futex_wait(&m.park, 0);
    }
    m.park.store(0, Relaxed);
    take_nextp(m);
}

fn resetspinning(s: &'static Sched, m: &M) {
    m.spinning.store(false, Relaxed);
    s.nmspinning.fetch_sub(1, SeqCst);
    wakep(s);
}

fn become_spinning(s: &Sched, m: &M) {
    m.spinning.store(true, Relaxed);
    s.nmspinning.fetch_add(1, SeqCst);
}

/// Runs `g` on this M until it switches out, then carries out its action.
fn execute(s: &'static Sched, m: &'static M, g: *mut G) {
    let mut g = g;
    loop {
        // SAFETY: m holds a P (findrunnable, or re-acquired below).
        let p = unsafe { &*m.p.get() };
        p.schedtick
            .store(p.schedtick.load(Relaxed).wrapping_add(1), Relaxed);
        p.preempt.store(false, Relaxed);
        // SAFETY: we dequeued g (or it is ours again): we own it now.
        unsafe {
            (*g).status.store(G_RUNNING, Relaxed);
            if (*(*g).stack.get()).is_none() {
                let st = stackalloc(p);
                *(*g).stack.get() = Some(st);
                *(*g).sp.get() = asm::init_stack(st.hi(), goroutine_main, g as usize);
            }
            m.curg.set(g);
            leave(m, p);
            asm::switch(m.g0_sp.get(), *(*g).sp.get());
        }
        m.curg.set(ptr::null_mut());
        // The P may be gone (sysmon took it while g ran): then g's next
        // stop queues it globally and this M goes idle in `schedule`.
        let p = m.p.get();
        // SAFETY: Ps live as long as the scheduler.
        let p = (!p.is_null()).then(|| unsafe { &*p });
        let again = match m.action.replace(Action::None) {
            Action::Yield => {
                make_runnable(s, p, g);
                false
            }
            Action::Preempted => {
                make_runnable(s, None, g);
                false
            }
            Action::Park(commit) => park_m(s, p, g, commit),
            Action::Exit => {
                // A goroutine that exits wired to its thread unwires it.
                // SAFETY: g is dead and ours.
                unsafe { (*g).lockedm.store(ptr::null_mut(), Relaxed) };
                m.lockedg.set(ptr::null_mut());
                gfput(s, p, g);
                false
            }
            Action::Blocking(f) => blocking_m(s, m, g, f),
            Action::None => crate::os::fatal(
                "schedule",
                "goroutine switched out without an action",
                g as usize,
            ),
        };
        if !again {
            let locked = m.lockedg.get();
            if locked.is_null() {
                return;
            }
            stoplockedm(s, m);
            g = locked;
        }
    }
}

/// g (switched out, ours) goes back to a run queue: p's, or the global one.
fn make_runnable(s: &'static Sched, p: Option<&P>, g: *mut G) {
    // SAFETY: g switched out; we own it until it is queued.
    unsafe { (*g).status.store(G_RUNNABLE, Relaxed) };
    match p {
        Some(p) => runqput(s, p, g, false),
        None => {
            globrunqput(s, &mut s.lock.lock(), g);
            wakep(s);
        }
    }
}

fn current_p(m: &M) -> &'static P {
    // SAFETY: called on g0 with a P held.
    unsafe { &*m.p.get() }
}

/// WAITING, then the commit; true if the park was cancelled and g runs
/// again on this M.
fn park_m(
    s: &'static Sched,
    p: Option<&P>,
    g: *mut G,
    commit: *mut (dyn FnMut() -> bool + 'static),
) -> bool {
    // SAFETY: g is switched out and ours until WAITING is published; the
    // commit closure lives in g's frame, which stays put while g is parked.
    unsafe {
        (*g).status.store(G_WAITING, Release);
        if on_g0("gopark commit", || (*commit)()) {
            return false;
        }
        (*g).status.store(G_RUNNING, Relaxed);
    }
    if p.is_none() {
        make_runnable(s, None, g);
        return false;
    }
    true
}

/// Hands the P off, runs `f` here, then resumes g if a P is free, else
/// queues it and lets this M go idle. True: run g again.
fn blocking_m(
    s: &'static Sched,
    m: &'static M,
    g: *mut G,
    f: *mut (dyn FnMut() + 'static),
) -> bool {
    if !m.p.get().is_null() {
        let p = releasep(m);
        handoffp(s, p);
    }
    // SAFETY: `f` lives in g's frame, which waits for this call to finish.
    unsafe { (*f)() };
    let idle = pidleget(s, &mut s.lock.lock());
    if let Some(p) = idle {
        acquirep(m, p);
        return true;
    }
    // SAFETY: g is switched out and ours.
    unsafe { (*g).status.store(G_RUNNABLE, Relaxed) };
    globrunqput(s, &mut s.lock.lock(), g);
    wakep(s);
    false
}

/// Finds a goroutine to run, blocking the M if there is none. Returns with
/// a P held (Go's findRunnable).
fn findrunnable(s: &'static Sched, m: &'static M) -> *mut G {
    'top: loop {
        let p = current_p(m);
        if p.timers.earliest() != 0 {
            p.timers.run(nanotime());
        }
        if p.schedtick.load(Relaxed) % GLOBAL_QUEUE_TICK == 0 && s.runqsize.load(Relaxed) > 0 {
            if let Some(g) = globrunqget(s, &mut s.lock.lock(), p, 1) {
                return g;
            }
        }
        if let Some(g) = runqget(p) {
            return g;
        }
        if s.runqsize.load(Relaxed) > 0 {
            if let Some(g) = globrunqget(s, &mut s.lock.lock(), p, 0) {
                return g;
            }
        }
        if s.lastpoll.load(Relaxed) != 0 {
            if let Some(g) = poll_ready(s, p, 0) {
                return g;
            }
        }
        let procs = s.allp.len() as u32;
        if m.spinning.load(Relaxed) || 2 * s.nmspinning.load(SeqCst) < procs - s.npidle.load(SeqCst)
        {
            if !m.spinning.load(Relaxed) {
                become_spinning(s, m);
            }
            if let Some(g) = steal_work(s, p) {
                return g;
            }
        }
        // Nothing to run: mark for the GC if it has work (Go's idle mark
        // worker), looking at the queues again after each slice.
        if crate::gc::mgc::mark_on_p(true) {
            if m.spinning.load(Relaxed) {
                m.spinning.store(false, Relaxed);
                s.nmspinning.fetch_sub(1, SeqCst);
            }
            continue 'top;
        }
        // Nothing: give the P back and sleep.
        {
            let mut l = s.lock.lock();
            if s.runqsize.load(Relaxed) != 0 {
                if let Some(g) = globrunqget(s, &mut l, p, 0) {
                    return g;
                }
            }
            let p = releasep(m);
            pidleput(s, &mut l, p);
        }
        let was_spinning = m.spinning.load(Relaxed);
        if was_spinning {
            m.spinning.store(false, Relaxed);
            s.nmspinning.fetch_sub(1, SeqCst);
            // Recheck every queue after dropping `spinning` (see mod.rs).
            {
                let mut l = s.lock.lock();
                if s.runqsize.load(SeqCst) != 0 {
                    if let Some(p) = pidleget(s, &mut l) {
                        let g = globrunqget(s, &mut l, p, 0);
                        drop(l);
                        acquirep(m, p);
                        become_spinning(s, m);
                        match g {
                            Some(g) => return g,
                            None => continue 'top,
                        }
                    }
                }
            }
            if s.allp.iter().any(|q| !runq_empty(q)) {
                let p = pidleget(s, &mut s.lock.lock());
                if let Some(p) = p {
                    acquirep(m, p);
                    become_spinning(s, m);
                    continue 'top;
                }
            }
        }
        let poll_until = s
            .allp
            .iter()
            .map(|q| q.timers.earliest())
            .filter(|&w| w != 0)
            .min()
            .unwrap_or(0);
        if s.lastpoll.swap(0, SeqCst) != 0 {
            s.poll_until.store(poll_until, SeqCst);
            let delay = if poll_until == 0 {
                -1
            } else {
                poll_until.saturating_sub(nanotime()) as i64
            };
            let list = netpoll::netpoll(poller(), delay);
            s.poll_until.store(0, SeqCst);
            s.lastpoll.store(nanotime(), SeqCst);
            let idle = pidleget(s, &mut s.lock.lock());
            match idle {
                None => inject(s, list),
                Some(p) => {
                    acquirep(m, p);
                    let mut list = list.into_iter();
                    if let Some(g) = list.next() {
                        ready_status(g);
                        inject(s, list.collect());
                        return g;
                    }
                    if was_spinning {
                        become_spinning(s, m);
                    }
                    continue 'top;
                }
            }
        } else if poll_until != 0 {
            let until = s.poll_until.load(SeqCst);
            if until == 0 || until > poll_until {
                poller().wake();
            }
        }
        stopm(s, m);
    }
}

/// Non-blocking poll: returns one ready goroutine, queues the others.
fn poll_ready(s: &'static Sched, p: &P, delay: i64) -> Option<*mut G> {
    if s.lastpoll.swap(0, SeqCst) == 0 {
        return None;
    }
    let list = netpoll::netpoll(poller(), delay);
    s.lastpoll.store(nanotime(), SeqCst);
    let mut list = list.into_iter();
    let g = list.next()?;
    ready_status(g);
    for g in list {
        ready_status(g);
        runqput(s, p, g, false);
    }
    Some(g)
}

fn ready_status(g: *mut G) {
    // SAFETY: records live forever.
    let st = unsafe { &(*g).status };
    if st
        .compare_exchange(G_WAITING, G_RUNNABLE, AcqRel, Relaxed)
        .is_err()
    {
        crate::os::fatal("netpoll", "ready goroutine is not waiting", g as usize);
    }
}

/// Makes goroutines from the poller runnable from a thread without a P.
pub(crate) fn inject(s: &'static Sched, list: Vec<*mut G>) {
    if list.is_empty() {
        return;
    }
    {
        let mut l = s.lock.lock();
        for &g in &list {
            ready_status(g);
            globrunqput(s, &mut l, g);
        }
    }
    for _ in 0..list.len() {
        if s.npidle.load(SeqCst) == 0 {
            break;
        }
        wakep(s);
    }
}

/// Polls the network from sysmon when no M did for a while.
pub(crate) fn sysmon_netpoll(s: &'static Sched) {
    if s.lastpoll.load(SeqCst) == 0 || nanotime() - s.lastpoll.load(SeqCst) < 10_000_000 {
        return;
    }
    if s.lastpoll.swap(0, SeqCst) == 0 {
        return;
    }
    let list = netpoll::netpoll(poller(), 0);
    s.lastpoll.store(nanotime(), SeqCst);
    inject(s, list);
}

/// Steals half of another P's run queue, or runs its due timers (Go's
/// stealWork): four passes over the Ps in a random order.
fn steal_work(s: &'static Sched, p: &'static P) -> Option<*mut G> {
    let n = s.allp.len();
    let now = nanotime();
    for pass in 0..4 {
        let start = fastrand() as usize % n;
        let step = coprime_step(n, fastrand() as usize);
        for i in 0..n {
            let v = &s.allp[(start + i * step) % n];
            if ptr::eq(v, p) {
                continue;
            }
            if pass == 3
                && v.timers.earliest() != 0
                && v.timers.earliest() <= now
                && v.timers.run(now) > 0
            {
                if let Some(g) = runqget(p) {
                    return Some(g);
                }
            }
            if let Some(g) = runqsteal(p, v, pass == 3) {
                return Some(g);
            }
        }
    }
    None
}

fn coprime_step(n: usize, r: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    (1..=n)
        .cycle()
        .skip(r % n)
        .find(|&k| gcd(k, n) == 1)
        .unwrap_or(1)
}

fn fastrand() -> u32 {
    thread_local!(static STATE: Cell<u32> = const { Cell::new(0) });
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = (nanotime() as u32) | 1;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.set(x);
        x
    })
}

// ---- run queues ------------------------------------------------------

/// Puts g on p's local queue (`next`: in runnext, kicking the old runnext
/// to the tail); a full ring moves half of itself to the global queue.
fn runqput(s: &Sched, p: &P, g: *mut G, next: bool) {
    let mut g = g;
    if next {
        let old = p.runnext.swap(g, AcqRel);
        if old.is_null() {
            return;
        }
        g = old;
    }
    loop {
        let h = p.runq_head.load(Acquire);
        let t = p.runq_tail.load(Relaxed);
        if t.wrapping_sub(h) < RUNQ_SIZE as u32 {
            p.runq[t as usize % RUNQ_SIZE].store(g, Relaxed);
            p.runq_tail.store(t.wrapping_add(1), Release);
            return;
        }
        if runqputslow(s, p, g, h, t) {
            return;
        }
    }
}

fn runqputslow(s: &Sched, p: &P, g: *mut G, h: u32, t: u32) -> bool {
    let n = t.wrapping_sub(h) / 2;
    let batch: Vec<*mut G> = (0..n)
        .map(|i| p.runq[h.wrapping_add(i) as usize % RUNQ_SIZE].load(Relaxed))
        .collect();
    if p.runq_head
        .compare_exchange(h, h.wrapping_add(n), AcqRel, Relaxed)
        .is_err()
    {
        return false;
    }
    let mut l = s.lock.lock();
    for g in batch.into_iter().chain([g]) {
        globrunqput(s, &mut l, g);
    }
    true
}

/// Takes from p's local queue: runnext first, then the head (owner only).
fn runqget(p: &P) -> Option<*mut G> {
    let next = p.runnext.load(Relaxed);
    if !next.is_null()
        && p.runnext
            .compare_exchange(next, ptr::null_mut(), AcqRel, Relaxed)
            .is_ok()
    {
        return Some(next);
    }
    loop {
        let h = p.runq_head.load(Acquire);
        let t = p.runq_tail.load(Relaxed);
        if t == h {
            return None;
        }
        let g = p.runq[h as usize % RUNQ_SIZE].load(Relaxed);
        if p.runq_head
            .compare_exchange(h, h.wrapping_add(1), AcqRel, Relaxed)
            .is_ok()
        {
            return Some(g);
        }
    }
}

/// Entries in p's ring (a hint when read by others).
pub(crate) fn runq_len(p: &P) -> u32 {
    p.runq_tail
        .load(Relaxed)
        .wrapping_sub(p.runq_head.load(Relaxed))
}

pub(crate) fn runq_empty(p: &P) -> bool {
    loop {
        let h = p.runq_head.load(SeqCst);
        let t = p.runq_tail.load(SeqCst);
        let next = p.runnext.load(SeqCst);
        if t == p.runq_tail.load(SeqCst) {
            return h == t && next.is_null();
        }
    }
}

/// Steals half of `victim`'s queue (or its runnext) into `p`; returns one.
fn runqsteal(p: &P, victim: &P, steal_runnext: bool) -> Option<*mut G> {
    let mut batch = [ptr::null_mut::<G>(); RUNQ_SIZE / 2];
    let n = runqgrab(victim, &mut batch, steal_runnext);
    if n == 0 {
        return None;
    }
    let t = p.runq_tail.load(Relaxed);
    for (i, &g) in batch[1..n].iter().enumerate() {
        p.runq[t.wrapping_add(i as u32) as usize % RUNQ_SIZE].store(g, Relaxed);
    }
    p.runq_tail.store(t.wrapping_add(n as u32 - 1), Release);
    Some(batch[0])
}

fn runqgrab(v: &P, batch: &mut [*mut G; RUNQ_SIZE / 2], steal_runnext: bool) -> usize {
    loop {
        let h = v.runq_head.load(Acquire);
        let t = v.runq_tail.load(Acquire);
        let n = t.wrapping_sub(h);
        let n = n - n / 2;
        if n == 0 {
            if steal_runnext {
                let next = v.runnext.load(Acquire);
                if !next.is_null()
                    && v.runnext
                        .compare_exchange(next, ptr::null_mut(), AcqRel, Relaxed)
                        .is_ok()
                {
                    batch[0] = next;
                    return 1;
                }
            }
            return 0;
        }
        if n as usize > RUNQ_SIZE / 2 {
            continue;
        }
        for i in 0..n {
            batch[i as usize] = v.runq[h.wrapping_add(i) as usize % RUNQ_SIZE].load(Relaxed);
        }
        if v.runq_head
            .compare_exchange(h, h.wrapping_add(n), AcqRel, Relaxed)
            .is_ok()
        {
            return n as usize;
        }
    }
}

fn globrunqput(s: &Sched, l: &mut SchedLocked, g: *mut G) {
    // SAFETY: g is ours (RUNNABLE, in no queue); the list is under the lock.
    unsafe { (*g).schedlink.set(ptr::null_mut()) };
    if l.runq_tail.is_null() {
        l.runq_head = g;
    } else {
        // SAFETY: as above.
        unsafe { (*l.runq_tail).schedlink.set(g) };
    }
    l.runq_tail = g;
    s.runqsize.fetch_add(1, SeqCst);
}

fn globrunqpop(s: &Sched, l: &mut SchedLocked) -> Option<*mut G> {
    let g = l.runq_head;
    if g.is_null() {
        return None;
    }
    // SAFETY: the list is under the lock.
    l.runq_head = unsafe { (*g).schedlink.get() };
    if l.runq_head.is_null() {
        l.runq_tail = ptr::null_mut();
    }
    s.runqsize.fetch_sub(1, SeqCst);
    Some(g)
}

/// Takes a fair share of the global queue into p's local queue; returns one.
fn globrunqget(s: &Sched, l: &mut SchedLocked, p: &P, max: u32) -> Option<*mut G> {
    let size = s.runqsize.load(Relaxed);
    // Never more than the ring's free room: a full ring would spill into
    // the global queue, whose lock we hold.
    let mut n = (size / s.allp.len() as u32 + 1)
        .min(size)
        .min(RUNQ_SIZE as u32 / 2)
        .min(RUNQ_SIZE as u32 - runq_len(p));
    if max > 0 {
        n = n.min(max);
    }
    let g = globrunqpop(s, l)?;
    for _ in 1..n {
        match globrunqpop(s, l) {
            Some(g2) => runqput(s, p, g2, false),
            None => break,
        }
    }
    Some(g)
}

fn pidleput(s: &Sched, l: &mut SchedLocked, p: &P) {
    p.link.set(l.pidle);
    l.pidle = p as *const P as *mut P;
    s.npidle.fetch_add(1, SeqCst);
}

fn pidleget(s: &Sched, l: &mut SchedLocked) -> Option<&'static P> {
    let p = l.pidle;
    if p.is_null() {
        return None;
    }
    // SAFETY: Ps live as long as the scheduler; the list is under the lock.
    let p = unsafe { &*p };
    l.pidle = p.link.get();
    s.npidle.fetch_sub(1, SeqCst);
    if s.sysmon_wait.load(SeqCst) == 1 && s.sysmon_wait.swap(0, SeqCst) == 1 {
        futex_wake(&s.sysmon_wait, 1);
    }
    Some(p)
}

// ---- free goroutine records and stacks -------------------------------

/// The goroutine `g` ended: its stack goes to the P's stack cache, its
/// record to the P's free list (records are never freed, see `GRef`).
fn gfput(s: &Sched, p: Option<&P>, g: *mut G) {
    // SAFETY: g is dead and ours; the P's lists are the owner's.
    unsafe {
        (*g).status.store(G_DEAD, Relaxed);
        (*g).gcassist.reset();
        let st = (*(*g).stack.get()).take();
        let Some(p) = p else {
            stack::put(st.into_iter());
            let mut l = s.lock.lock();
            gfree_push(&mut l, g);
            return;
        };
        if let Some(st) = st {
            stackfree(p, st);
        }
        let local = &mut *p.gfree.get();
        local.push(g);
        if local.len() > GFREE_LOCAL_MAX {
            let mut l = s.lock.lock();
            for g in local.drain(GFREE_LOCAL_MAX / 2..) {
                gfree_push(&mut l, g);
            }
        }
    }
}

fn gfree_push(l: &mut SchedLocked, g: *mut G) {
    // SAFETY: g is free and ours; the list is under the lock.
    unsafe { (*g).schedlink.set(l.gfree) };
    l.gfree = g;
}

fn gfree_pop(l: &mut SchedLocked) -> Option<*mut G> {
    let g = l.gfree;
    if g.is_null() {
        return None;
    }
    // SAFETY: the list is under the lock.
    l.gfree = unsafe { (*g).schedlink.get() };
    Some(g)
}

fn gfget_global(s: &Sched) -> *mut G {
    gfree_pop(&mut s.lock.lock()).unwrap_or_else(G::alloc)
}

fn gfget(s: &Sched, p: &P) -> *mut G {
    // SAFETY: the P's list is the owner's.
    let local = unsafe { &mut *p.gfree.get() };
    if local.is_empty() {
        let mut l = s.lock.lock();
        while local.len() < GFREE_LOCAL_MAX / 2 {
            let Some(g) = gfree_pop(&mut l) else { break };
            local.push(g);
        }
    }
    local.pop().unwrap_or_else(G::alloc)
}

/// A stack for a goroutine about to start on `p`: from the P's cache,
/// refilled from `stack`'s pool (Go's stackcacherefill).
fn stackalloc(p: &P) -> stack::Stack {
    // SAFETY: the P's cache is the owner's.
    let cache = unsafe { &mut *p.stackcache.get() };
    if cache.is_empty() && !stack::get(cache, STACK_CACHE_MAX / 2) {
        crate::os::fatal("go", "out of stack address space", 0);
    }
    cache
        .pop()
        .unwrap_or_else(|| crate::os::fatal("go", "empty stack cache", 0))
}

/// Takes back the stack of a goroutine that ended on `p`; a full cache
/// gives half of itself to the pool (Go's stackcacherelease).
fn stackfree(p: &P, st: stack::Stack) {
    // SAFETY: the P's cache is the owner's.
    let cache = unsafe { &mut *p.stackcache.get() };
    cache.push(st);
    if cache.len() > STACK_CACHE_MAX {
        stack::put(cache.drain(STACK_CACHE_MAX / 2..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The record every goroutine keeps for the life of the process (and
    /// that a parked one costs besides its stack page) stays one cache line.
    #[test]
    fn a_goroutine_record_is_64_bytes() {
        assert_eq!(core::mem::size_of::<G>(), 64);
    }

    /// The lock-free ring under attack: an owner puts (through runnext too)
    /// and takes while two thieves steal halves and runnexts; every entry
    /// must be taken exactly once. The ring is kept below full so nothing
    /// spills into the real global queue.
    #[test]
    fn the_run_queue_hands_each_entry_to_exactly_one_taker() {
        const N: usize = 200_000;
        let s = sched();
        let owner = Arc::new(P::new());
        let gs: Arc<Vec<usize>> = Arc::new((0..N).map(|_| G::alloc() as usize).collect());
        let index: Arc<std::collections::HashMap<usize, usize>> =
            Arc::new(gs.iter().enumerate().map(|(i, &g)| (g, i)).collect());
        let taken: Arc<Vec<AtomicU32>> = Arc::new((0..N).map(|_| AtomicU32::new(0)).collect());
        let done = Arc::new(AtomicBool::new(false));
        let take =
            |taken: &[AtomicU32], index: &std::collections::HashMap<usize, usize>, g: *mut G| {
                taken[index[&(g as usize)]].fetch_add(1, SeqCst);
            };
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (owner, taken, index, done) =
                    (owner.clone(), taken.clone(), index.clone(), done.clone());
                std::thread::spawn(move || {
                    let mine = P::new();
                    while !done.load(SeqCst) {
                        if let Some(g) = runqsteal(&mine, &owner, true) {
                            take(&taken, &index, g);
                            while let Some(g) = runqget(&mine) {
                                take(&taken, &index, g);
                            }
                        }
                    }
                })
            })
            .collect();
        for (i, &g) in gs.iter().enumerate() {
            while runq_len(&owner) > 200 {
                if let Some(g) = runqget(&owner) {
                    take(&taken, &index, g);
                }
            }
            runqput(s, &owner, g as *mut G, i % 3 == 0);
            if i % 5 == 0 {
                if let Some(g) = runqget(&owner) {
                    take(&taken, &index, g);
                }
            }
        }
        while let Some(g) = runqget(&owner) {
            take(&taken, &index, g);
        }
        done.store(true, SeqCst);
        for t in thieves {
            t.join().unwrap();
        }
        let wrong: Vec<_> = taken
            .iter()
            .enumerate()
            .filter(|(_, c)| c.load(SeqCst) != 1)
            .collect();
        assert!(
            wrong.is_empty(),
            "{} entries taken other than once, e.g. {:?}",
            wrong.len(),
            wrong.first()
        );
    }

    /// After every switch the runtime's view of "this thread" is re-read:
    /// the M found through the thread-local is the thread actually running,
    /// and the goroutine is the same one, though it may have moved.
    #[test]
    fn the_runtime_rereads_its_thread_after_every_switch() {
        const GS: usize = 16;
        const SWITCHES: usize = 2_000;
        let moved = Arc::new(AtomicUsize::new(0));
        let wg = Arc::new(super::super::WaitGroup::new());
        wg.add(GS as i64);
        for _ in 0..GS {
            let (moved, wg) = (moved.clone(), wg.clone());
            let body = move || {
                let me = current_g().expect("a goroutine");
                let mut tid = gettid();
                for i in 0..SWITCHES {
                    if i % 3 == 0 {
                        super::super::sleep(std::time::Duration::from_micros(10));
                    } else {
                        yield_now();
                    }
                    assert_eq!(current_g(), Some(me));
                    // SAFETY: on a goroutine, this_m is this thread's M.
                    let m = unsafe { &*this_m() };
                    assert_eq!(m.tid.load(Relaxed), gettid(), "stale M after a switch");
                    assert_eq!(m.curg.get(), me.0);
                    if gettid() != tid {
                        moved.fetch_add(1, Relaxed);
                        tid = gettid();
                    }
                }
                wg.done();
            };
            // SAFETY: the goroutine reads its thread only through gettid.
            unsafe { go(body) };
        }
        wg.wait();
        if maxprocs() > 1 {
            assert!(
                moved.load(Relaxed) > 0,
                "no goroutine ever changed threads: the check proved nothing"
            );
        }
    }
}
