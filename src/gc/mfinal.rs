//! The finalizer thread (Go's mfinal.go and mcleanup.go): `Drop` of
//! collected Rust objects and cleanups (Go 1.24's `AddCleanup`).
//!
//! The sweep hands jobs over in one batch (`queue`); one thread, started on
//! the first batch, runs them in order, never inside an allocation or a
//! cycle. A drop job runs the type's drop in place and then sets the
//! object's `dropped` bit; the next sweep frees the memory (`mgcsweep.rs`).
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
use std::sync::{Condvar, Mutex, MutexGuard, Once};

/// Work for the finalizer thread.
pub enum Job {
    Drop {
        span: *const GcSpan,
        idx: usize,
        drop: unsafe fn(*mut u8),
    },
    Cleanup(Box<dyn FnOnce() + Send>),
}

// SAFETY: a drop job names an object that only the finalizer thread uses
// from now on (its type is `Send`, see `Gc::new`); its span stays live
// while the object is kept.
unsafe impl Send for Job {}

struct Queue {
    jobs: VecDeque<Job>,
    running: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    jobs: VecDeque::new(),
    running: false,
});
static READY: Condvar = Condvar::new();
static IDLE: Condvar = Condvar::new();
static START: Once = Once::new();

thread_local! {
    /// Set on the finalizer thread (`wait_idle` must not wait for itself).
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

/// Hands `jobs` to the finalizer thread (they run after `wake`).
pub fn queue(jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    START.call_once(|| {
        std::thread::Builder::new()
            .name("goheap-finalizer".into())
            .spawn(run)
            .expect("goheap: cannot start the finalizer thread");
    });
    lock_queue().jobs.extend(jobs);
}

/// Lets the finalizer thread run what was queued (after the cycle).
pub fn wake() {
    READY.notify_one();
}

fn run() {
    ON_FINALIZER.set(true);
    let mut q = lock_queue();
    loop {
        while let Some(job) = q.jobs.pop_front() {
            q.running = true;
            drop(q);
            run_job(job);
            q = lock_queue();
            q.running = false;
        }
        IDLE.notify_all();
        q = READY.wait(q).unwrap_or_else(|e| e.into_inner());
    }
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

/// Blocks until the finalizer thread has run everything queued so far.
/// On the finalizer thread itself (a cleanup or `Drop` that waits) it
/// returns at once: the jobs queued behind the caller cannot run before
/// it returns, so waiting would never end.
pub fn wait_idle() {
    if ON_FINALIZER.get() {
        return;
    }
    let mut q = lock_queue();
    while !q.jobs.is_empty() || q.running {
        READY.notify_one();
        q = IDLE
            .wait_timeout(q, std::time::Duration::from_millis(10))
            .unwrap_or_else(|e| e.into_inner())
            .0;
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
