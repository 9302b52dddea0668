//! The finalizer (Go's mfinal.go and mcleanup.go): `Drop` of collected
//! Rust objects and cleanups (Go 1.24's `AddCleanup`).
//!
//! The sweep hands jobs over in one batch (`queue`); after the cycle,
//! `wake` starts the *runner* if there is none, or wakes it. The runner
//! runs the jobs in order, never inside an allocation or a cycle. A drop
//! job runs the type's drop in place and then sets the object's `dropped`
//! bit; the next sweep frees the memory (`mgcsweep.rs`).
//!
//! # The runner: a goroutine, or a thread without the scheduler
//!
//! When the scheduler runs, it lends the finalizer a `Host` (`set_host`):
//! the runner is then a dedicated goroutine (Go's `fing`) that parks on a
//! semaphore while the queue is empty. It is wired to its thread
//! (`lock_os_thread`): jobs are user `Drop`s and cleanups written as plain
//! code of a `Send` type, which may hold a thread-local or a std lock
//! guard across a blocking call; on a goroutine that could move between
//! threads, that would break `goheap::go`'s contract behind safe code's
//! back. Wired, the goroutine parks like any other (its P goes to other
//! goroutines; channel operations and sleeps park, not spin) and counts
//! against `GOHEAP_MAXPROCS` only while it runs jobs. A program that never
//! starts the scheduler gets a plain thread instead (starting a scheduler,
//! sysmon and Ms only for finalizers would cost more than the thread); if
//! the scheduler starts later, that thread hands over to a goroutine at
//! its next wake and exits. Either runner marks its thread (`ON_FINALIZER`:
//! a wired goroutine's thread runs nothing else).
//!
//! Cleanups live in `CLEANUPS`, keyed by object address, with a flag on the
//! span; the sweep takes those of dead objects. A cleanup is a `'static`
//! closure given at registration: it holds a value, never the object (a
//! `Gc` is not `'static`), so it cannot resurrect it; it runs exactly once,
//! and never if the object stays reachable (including through a `Root`
//! the cleanup itself holds: then the object leaks, as in Go).

use super::mbitmap::{Bits, GcSpan};
use core::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// Work for the finalizer.
pub enum Job {
    Drop {
        span: *const GcSpan,
        idx: usize,
        drop: unsafe fn(*mut u8),
    },
    Cleanup(Box<dyn FnOnce() + Send>),
}

// SAFETY: a drop job names an object that only the finalizer uses
// from now on (its type is `Send`, see `Gc::new`); its span stays live
// while the object is kept.
unsafe impl Send for Job {}

#[derive(Clone, Copy, PartialEq)]
enum Runner {
    None,
    Thread,
    Goroutine,
}

struct Queue {
    jobs: VecDeque<Job>,
    running: bool,
    runner: Runner,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    jobs: VecDeque::new(),
    running: false,
    runner: Runner::None,
});
/// Wakes the runner thread.
static READY: Condvar = Condvar::new();
static IDLE: Condvar = Condvar::new();

/// What the scheduler lends the finalizer once it runs (see the module
/// comment).
pub struct Host {
    /// Starts `f` on a new goroutine wired to its thread.
    pub spawn: fn(fn()),
    /// Parks the calling goroutine until `unpark` (a counting semaphore:
    /// an `unpark` before the `park` is not lost).
    pub park: fn(),
    pub unpark: fn(),
    /// Runs a wait with the caller's P handed to other goroutines.
    pub blocking: fn(&mut dyn FnMut()),
}

static HOST: OnceLock<Host> = OnceLock::new();

/// Called by the scheduler when it starts.
pub fn set_host(host: Host) {
    let _ = HOST.set(host);
}

thread_local! {
    /// Set on the runner's thread (`wait_idle` must not wait for itself).
    static ON_FINALIZER: Cell<bool> = const { Cell::new(false) };
}

type Cleanups = BTreeMap<usize, Vec<Box<dyn FnOnce() + Send>>>;
static CLEANUPS: Mutex<Cleanups> = Mutex::new(BTreeMap::new());

fn lock_queue() -> MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_cleanups() -> MutexGuard<'static, Cleanups> {
    CLEANUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hands `jobs` to the finalizer (they run after `wake`). Called inside
/// the cycle: it only queues.
pub fn queue(jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    lock_queue().jobs.extend(jobs);
}

/// Lets the runner run what was queued (after the cycle, outside the
/// world), starting it first if there is none.
pub fn wake() {
    let q = lock_queue();
    if !q.jobs.is_empty() {
        kick(q);
    }
}

/// Makes sure the runner will look at the queue: wakes it, or starts one
/// (after releasing the lock: spawning may switch goroutines).
fn kick(mut q: MutexGuard<'static, Queue>) {
    match q.runner {
        Runner::Thread => {
            drop(q);
            READY.notify_one();
        }
        Runner::Goroutine => {
            drop(q);
            (host().unpark)();
        }
        Runner::None => {
            let host = HOST.get();
            q.runner = if host.is_some() {
                Runner::Goroutine
            } else {
                Runner::Thread
            };
            drop(q);
            match host {
                Some(h) => (h.spawn)(run_on_goroutine),
                None => {
                    std::thread::Builder::new()
                        .name("goheap-finalizer".into())
                        .spawn(run_on_thread)
                        .expect("goheap: cannot start the finalizer thread");
                }
            }
        }
    }
}

fn host() -> &'static Host {
    HOST.get()
        .unwrap_or_else(|| crate::os::fatal("finalizer", "goroutine runner without a host", 0))
}

/// The goroutine runner (wired to its thread by `Host::spawn`).
fn run_on_goroutine() {
    ON_FINALIZER.set(true);
    loop {
        drop(run_queued(lock_queue()));
        (host().park)();
    }
}

/// The thread runner, until the scheduler starts: the first wake after
/// that hands the queue to a goroutine.
fn run_on_thread() {
    ON_FINALIZER.set(true);
    let mut q = lock_queue();
    while HOST.get().is_none() {
        q = run_queued(q);
        q = READY.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    q.runner = Runner::Goroutine;
    drop(q);
    (host().spawn)(run_on_goroutine);
}

/// Runs the queue empty; returns with the lock held.
fn run_queued(mut q: MutexGuard<'static, Queue>) -> MutexGuard<'static, Queue> {
    while let Some(job) = q.jobs.pop_front() {
        q.running = true;
        drop(q);
        run_job(job);
        q = lock_queue();
        q.running = false;
    }
    IDLE.notify_all();
    q
}

fn run_job(job: Job) {
    match job {
        Job::Drop { span, idx, drop } => {
            // SAFETY: the span is live while the object is kept (queued).
            let s = unsafe { &*span };
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: the object is dead, queued once, and ours alone.
                unsafe { drop(s.object(idx) as *mut u8) }
            }));
            s.set_bit(Bits::Dropped, idx);
        }
        Job::Cleanup(f) => {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        }
    }
}

/// Blocks until the finalizer has run everything queued so far (a
/// goroutine waits with its P handed off). On the runner itself (a cleanup
/// or `Drop` that waits) it returns at once: the jobs queued behind the
/// caller cannot run before it returns, so waiting would never end.
pub fn wait_idle() {
    if ON_FINALIZER.get() {
        return;
    }
    let mut wait = || {
        let mut q = lock_queue();
        while !q.jobs.is_empty() || q.running {
            if !q.jobs.is_empty() {
                kick(q);
                q = lock_queue();
            }
            q = IDLE
                .wait_timeout(q, std::time::Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    };
    match HOST.get() {
        Some(h) => (h.blocking)(&mut wait),
        None => wait(),
    }
}

/// Registers `f` to run once the object at `p` (in span `s`) is collected.
pub fn add_cleanup(s: &GcSpan, p: usize, f: Box<dyn FnOnce() + Send>) {
    lock_cleanups().entry(p).or_default().push(f);
    s.has_cleanups
        .store(true, core::sync::atomic::Ordering::Relaxed);
}

/// Moves the cleanups of the dead objects `dead` of word `w` of `s` to
/// `jobs` (sweep).
pub fn take_cleanups(s: &GcSpan, w: usize, dead: u64, jobs: &mut Vec<Job>) {
    let mut all = lock_cleanups();
    let lo = s.object(w * 64);
    let hi = s.object((w * 64 + 64).min(s.nelems as usize));
    let hit: Vec<usize> = all
        .range(lo..hi)
        .map(|(&p, _)| p)
        .filter(|&p| dead & (1 << (s.index_of(p) - w * 64)) != 0)
        .collect();
    for p in hit {
        let fs = all.remove(&p).unwrap_or_default();
        jobs.extend(fs.into_iter().map(Job::Cleanup));
    }
    if all.range(s.base..s.limit).next().is_none() {
        s.has_cleanups
            .store(false, core::sync::atomic::Ordering::Relaxed);
    }
}
