//! The scheduler's records: G, M, P and the global `Sched` (Go's
//! runtime2.go). Who may touch which field is written next to it; the
//! protocols are in `sched/mod.rs`.

use super::stack::Stack;
use super::time::Timers;
use crate::gc::mgcmark::AssistCredit;
use crate::lock::Mutex;
use core::cell::{Cell, UnsafeCell};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::atomic::AtomicBool;

// G statuses.
pub(crate) const G_IDLE: u32 = 0;
pub(crate) const G_RUNNABLE: u32 = 1;
pub(crate) const G_RUNNING: u32 = 2;
pub(crate) const G_WAITING: u32 = 3;
pub(crate) const G_DEAD: u32 = 4;

/// A goroutine.
pub(crate) struct G {
    /// Saved stack pointer while not RUNNING. Written by the G's own M on
    /// switch-out, read by the M that resumes it (ordered by the run queue).
    pub sp: UnsafeCell<usize>,
    pub status: AtomicU32,
    /// Its mark-assist balance (Go's `gcAssistBytes`), used by the G
    /// itself while running (`gc::mgcmark`); reset when it ends.
    pub gcassist: AssistCredit,
    /// Set by whoever makes the G (go), read by anyone for messages.
    pub id: AtomicU64,
    /// The stack, from the G's first run to its exit (a queued goroutine
    /// that has not started has none). Owned by the M running the G.
    pub stack: UnsafeCell<Option<Stack>>,
    /// The closure, until the G starts. Owner as `stack`.
    pub entry: UnsafeCell<Option<Box<dyn FnOnce() + Send>>>,
    /// Link in the global run queue or the global free list (under
    /// `sched.lock`).
    pub schedlink: Cell<*mut G>,
    /// The M this G is wired to (`lock_os_thread`), or null. Written only by
    /// the G itself while running.
    pub lockedm: AtomicPtr<M>,
}

// SAFETY: every field is either atomic or handed between threads through a
// run queue / lock that orders the accesses (see each field).
unsafe impl Sync for G {}
// SAFETY: as above.
unsafe impl Send for G {}

impl G {
    pub(crate) fn alloc() -> *mut G {
        Box::into_raw(Box::new(G {
            sp: UnsafeCell::new(0),
            status: AtomicU32::new(G_IDLE),
            gcassist: AssistCredit::new(),
            id: AtomicU64::new(0),
            stack: UnsafeCell::new(None),
            entry: UnsafeCell::new(None),
            schedlink: Cell::new(ptr::null_mut()),
            lockedm: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// What a goroutine asks its M's g0 to do after switching to it.
#[derive(Clone, Copy)]
pub(crate) enum Action {
    None,
    /// Back to the run queue (yield_now).
    Yield,
    /// Back to the global run queue (sysmon asked the P's goroutine to stop).
    Preempted,
    /// WAITING, then run the commit closure (gopark).
    Park(*mut (dyn FnMut() -> bool + 'static)),
    /// The goroutine ended.
    Exit,
    /// Give the P away, run the closure here on g0, then resume (blocking).
    Blocking(*mut (dyn FnMut() + 'static)),
}

/// An OS thread.
pub(crate) struct M {
    pub id: u32,
    /// g0's saved stack pointer while a goroutine runs on this M.
    pub g0_sp: UnsafeCell<usize>,
    /// The running goroutine, null on g0. Only this M's thread uses it.
    pub curg: Cell<*mut G>,
    /// The P this M holds, null if none. Only this M's thread uses it.
    pub p: Cell<*mut P>,
    /// A P handed over by `startm`, taken by the M when it wakes.
    pub nextp: AtomicPtr<P>,
    pub spinning: AtomicBool,
    /// Futex word the M sleeps on when idle (Go's `m.park` note).
    pub park: AtomicU32,
    pub action: Cell<Action>,
    /// Link in the idle M list (under `sched.lock`).
    pub schedlink: Cell<*mut M>,
    /// The goroutine wired to this M (`lock_os_thread`), or null: the M
    /// then runs only it, and sleeps while it waits.
    pub lockedg: Cell<*mut G>,
    /// The OS thread id (for checks).
    pub tid: AtomicU32,
}

// SAFETY: the Cell fields are used only by the M's own thread; the rest
// are atomics or under `sched.lock`.
unsafe impl Sync for M {}
// SAFETY: as above.
unsafe impl Send for M {}

// P states (low byte of `P::status`; the owner M's id is in the high bits).
pub(crate) const P_IDLE: u32 = 0;
/// Owned; the M is inside the runtime (g0 or a runtime call).
pub(crate) const P_RT: u32 = 1;
/// Owned; a goroutine runs user code: sysmon may take the P away.
pub(crate) const P_USER: u32 = 2;

pub(crate) const RUNQ_SIZE: usize = 256;

/// A processor.
pub(crate) struct P {
    pub status: AtomicU32,
    /// Local run queue: slots `[head, tail)` mod 256. The owner writes
    /// `tail`; anyone advances `head` by CAS (Go's runq).
    pub runq_head: AtomicU32,
    pub runq_tail: AtomicU32,
    pub runq: [AtomicPtr<G>; RUNQ_SIZE],
    pub runnext: AtomicPtr<G>,
    /// Incremented by the owner on every goroutine started; sysmon reads it.
    pub schedtick: AtomicU32,
    /// Set by sysmon when the running goroutine has run 10 ms; the next
    /// safe point (`go`) yields to the global queue (Go's preempt flag).
    pub preempt: AtomicBool,
    /// Sysmon's view: last schedtick seen and when (nanotime).
    pub sysmon_tick: AtomicU32,
    pub sysmon_when: AtomicU64,
    /// Dead Gs, without stacks (owner only).
    pub gfree: UnsafeCell<Vec<*mut G>>,
    /// Free stacks with their pages (owner only; Go's mcache.stackcache).
    pub stackcache: UnsafeCell<Vec<Stack>>,
    pub timers: Timers,
    /// Link in the idle P list (under `sched.lock`).
    pub link: Cell<*mut P>,
}

// SAFETY: non-atomic fields are touched only by the owning M (status word)
// or under `sched.lock` (`link`).
unsafe impl Sync for P {}
// SAFETY: as above.
unsafe impl Send for P {}

impl P {
    pub(crate) fn new() -> P {
        P {
            status: AtomicU32::new(P_IDLE),
            runq_head: AtomicU32::new(0),
            runq_tail: AtomicU32::new(0),
            runq: [const { AtomicPtr::new(ptr::null_mut()) }; RUNQ_SIZE],
            runnext: AtomicPtr::new(ptr::null_mut()),
            schedtick: AtomicU32::new(0),
            preempt: AtomicBool::new(false),
            sysmon_tick: AtomicU32::new(0),
            sysmon_when: AtomicU64::new(0),
            gfree: UnsafeCell::new(Vec::new()),
            stackcache: UnsafeCell::new(Vec::new()),
            timers: Timers::new(),
            link: Cell::new(ptr::null_mut()),
        }
    }
}

/// State under `Sched::lock`.
pub(crate) struct SchedLocked {
    pub runq_head: *mut G,
    pub runq_tail: *mut G,
    pub pidle: *mut P,
    pub midle: *mut M,
    pub nmidle: u32,
    pub mcount: u32,
    /// Global free Gs (without stacks), LIFO, linked through `schedlink`.
    pub gfree: *mut G,
}

// SAFETY: the raw pointers name records that live forever.
unsafe impl Send for SchedLocked {}

/// The global scheduler.
pub(crate) struct Sched {
    pub lock: Mutex<SchedLocked>,
    /// Length of the global run queue (read without the lock as a hint).
    pub runqsize: AtomicU32,
    pub npidle: AtomicU32,
    pub nmspinning: AtomicU32,
    pub allp: Box<[P]>,
    pub goidgen: AtomicU64,
    pub mnext: AtomicU32,
    /// Nanotime until which the M blocked in netpoll sleeps; 0: none.
    pub poll_until: AtomicU64,
    /// Nonzero (the time of the last poll) while no M is blocked in netpoll.
    pub lastpoll: AtomicU64,
    /// 1 while sysmon sleeps because every P is idle (futex word).
    pub sysmon_wait: AtomicU32,
    /// Goroutines created (for tests and stats).
    pub ngo: AtomicUsize,
}

// SAFETY: shared by design; see the fields.
unsafe impl Sync for Sched {}
