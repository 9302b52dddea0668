//! Stopping the registered C threads for a collection (libgc's C API).
//!
//! The C face of the collector finds roots conservatively, as libgc does: the
//! stacks and registers of every *registered* thread (`GC_register_my_thread`,
//! `GC_pthread_create`, the main thread at `GC_init`, any thread at its first
//! `GC_malloc`). To read a stack safely its thread must stand still, so the
//! collector stops the world around a stop-the-world cycle's mark, or
//! around each of a concurrent cycle's start and termination (libgc's
//! incremental mode, `dirtybits.rs`). This module keeps the thread
//! registry and implements the stop and the restart.
//!
//! # Data
//! * `REGISTRY`: a runtime `Mutex` over an intrusive list of `Thread` records
//!   (`tid`, stack top = highest address, the stack pointer published while
//!   stopped, the thread's GC cache and its call flags). Records are
//!   malloc'd, never GC'd; each thread reaches its own through
//!   `os::c_thread_word` (null while unregistered).
//! * `WORLD`: a futex word, even while the world runs, odd while it is
//!   stopped; every stop and every start adds one.
//! * `PENDING`: a futex word counting the stopped threads whose
//!   acknowledgement the collector still waits for (first of the stop, then of
//!   the restart).
//! * A pthread key whose destructor unregisters an exiting thread, so a record
//!   never outlives its thread (its stack would be gone, its tid reused).
//!
//! # Protocol
//! The collector (the thread that calls [`stop_world`]):
//! 1. takes `REGISTRY`'s lock and keeps it until [`start_world`]: nobody
//!    registers or unregisters meanwhile, so the list is stable and a thread
//!    that is not on it is not running GC'd C code (registration happens
//!    before a thread's first GC pointer);
//! 2. takes every allocator lock, in the allocator's lock order (what
//!    `fork()` takes, `crate::alloc::malloc::lock_all`);
//! 3. spills its own registers (`getcontext` into `SELF_CONTEXT`), records
//!    its own stack pointer, sets `PENDING` to the number of other threads,
//!    makes `WORLD` odd and sends each registered thread the suspend signal
//!    with `tgkill` (a thread that has exited without unregistering, which
//!    the key destructor makes impossible short of `SIGKILL`-like deaths, gets
//!    `ESRCH` and is skipped);
//! 4. waits on `PENDING` until it is 0: every thread is now parked in the
//!    handler below (or after its call, next section), and empties every
//!    registered thread's GC cache;
//! 5. releases the allocator locks (see "Locks" below).
//!
//! A stopped thread (the signal handler, async-signal-safe: atomics, `gettid`,
//! `futex`, nothing else):
//! 1. finds its record through its TLS word (the list cannot change: the
//!    collector holds the lock); inside a call outside the world it only
//!    leaves a note and returns (next section);
//! 2. publishes as its stack pointer the address of a local of the handler:
//!    the kernel put the interrupted context (every register) on this same
//!    stack, above the handler's frame (the handler does not run on an
//!    alternate stack: no `SA_ONSTACK`), so scanning from there to the stack
//!    top covers registers and stack; it also publishes the address of that
//!    saved context, the only thing scanned when the thread was running on a
//!    stack not its own (a coroutine's, a signal stack);
//! 3. decrements `PENDING` (waking the collector at 0) and sleeps on `WORLD`
//!    while it holds the odd value it read at entry;
//! 4. once `WORLD` moved on, decrements `PENDING` again and returns.
//!
//! [`start_world`] sets `PENDING` to the number of stopped threads, makes
//! `WORLD` even, wakes every sleeper, waits until `PENDING` is 0 (so that no
//! thread is still inside the handler when the next stop begins; it would
//! otherwise sleep through it on the old value) and releases `REGISTRY`.
//!
//! # Calls outside the world
//! Entering the GC core's world (`mgc.rs`) costs two atomic
//! read-modify-writes on one shared word, more than the rest of a small
//! allocation. A registered thread need not pay them for what its own cache
//! serves: it is stopped by signal anyway. Such a call
//! ([`with_own_cache`]):
//! 1. sets its record's `in_call` (a plain store; only the thread's own
//!    signal handler reads it, so program order is all it needs);
//! 2. gives up (and takes the world's way) if a cycle holds the world
//!    (`raw::world_held`, one relaxed load);
//! 3. allocates from the record's `cache` only: no lock, no refill, no
//!    blocking;
//! 4. clears `in_call`, then parks if `deferred` is set.
//!
//! The suspend handler that finds `in_call` set does not park: it sets
//! `deferred` and returns; the call ends within a few instructions and
//! parks itself (`park_after_call`, which spills its registers with
//! `getcontext` first), acknowledging the stop then. So every thread the
//! stop reaches stands still *outside* such a call before the stop returns,
//! and the stop empties every registered thread's cache (`empty_caches`)
//! before the mark: no cache is in use or holds a span across a cycle. A
//! call that read a stale "not held" in step 2 is one the stop waits out; a
//! call after the restart sees "held" (the restart's `WORLD` store, which
//! it acquired, comes after the cycle took the world) until the cycle lets
//! the world go, sweep included. Registration publishes the record (and
//! makes its cache the thread's, `raw::use_thread_cache`) under the
//! registry's lock, so a stop never signals a thread that cannot find its
//! record.
//!
//! # Locks: why a stopped thread never holds one the collector needs
//! The GC core runs a cycle only when no thread is inside its *world*
//! (`mgc.rs`; every `raw` call but the fast path above is inside it), and
//! only then calls the stopper: a stopped C thread is never inside a GC
//! allocation or the GC's caches (a fast-path call is waited out, and takes
//! no lock). It may be anywhere else: inside `malloc` (goheap's own, when
//! preloaded or linked) with an mcentral or the mheap lock held, waiting to
//! enter the world, or in libgc's API holding one of the libgc tables' locks.
//! The collector must not then block on such a lock, and it does not,
//! because it takes every one of them itself *before* it signals (step 2,
//! and `libgc` takes its tables' locks before calling `stop_world`): a
//! thread that held one had to release it first, and a thread that then
//! wants one sleeps on it and is stopped in that sleep, holding nothing.
//! After step 4 the collector releases the allocator locks and allocates
//! freely (its own work buffers, the finalizer queue); the tables' locks it
//! keeps until the restart, so its hooks read the tables without locking.
//! What a stopped thread may hold and the collector therefore never takes
//! while the world is stopped: libc's stdio and loader locks
//! (`dl_iterate_phdr` runs before the stop, see `conservative`) and the
//! std locks of the GC core's hooks table (taken by the cycle before it
//! calls the stopper, never by a C thread while it runs C code).
//!
//! # Signals
//! The suspend signal is `SIGRTMIN + 6` (glibc reserves the two below its
//! `SIGRTMIN` for cancellation and setxid; `+6` keeps clear of the first few
//! that programs pick for their own timers), changeable before `GC_init` with
//! `GC_set_suspend_signal`. libgc's SIGPWR / SIGXCPU are avoided on purpose
//! (debuggers stop on them, bdwgc#552). `SA_RESTART` makes the system calls
//! that a stopped thread was blocked in resume transparently; the handler
//! blocks every other asynchronous signal while it runs. Restart needs no
//! second signal: a futex wake.
//!
//! A thread that blocks the suspend signal (`sigprocmask` of everything)
//! stalls the collector until it unblocks it, as with libgc;
//! `GC_pthread_sigmask` removes the suspend signal from what it blocks.

use super::raw::{self, GcCache};
use crate::lock::{futex_wait, futex_wait_timeout, futex_wake, Mutex};
use crate::os::c_thread_word;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

/// One registered thread.
struct Thread {
    tid: libc::pid_t,
    /// Survives `fork()` (the tid does not): finds the forking thread's record.
    pthread: libc::pthread_t,
    /// Lowest address of the stack (0: unknown).
    stack_lo: usize,
    /// Highest address of the stack (exclusive).
    stack_top: usize,
    /// Stack pointer published by the suspend handler (valid while stopped).
    sp: AtomicUsize,
    /// The interrupted context (`ucontext_t`) the kernel saved, published
    /// with `sp`.
    context: AtomicUsize,
    /// Did the current stop reach this thread?
    stopped: bool,
    /// The thread's GC cache (`raw::use_thread_cache`), emptied by every
    /// stop once the thread stands still.
    cache: UnsafeCell<GcCache>,
    /// Set by the thread while it allocates from `cache` outside the world.
    in_call: AtomicBool,
    /// Set by the suspend handler that found `in_call`: the thread parks
    /// when its call ends.
    deferred: AtomicBool,
    next: *mut Thread,
}

struct Registry {
    head: *mut Thread,
    /// Number of threads signalled by the current stop.
    stopped: u32,
    /// The collector's own stack range while the world is stopped (0,0 if
    /// the collector is not registered).
    self_stack: (usize, usize),
}

impl Thread {
    /// Is `sp` on this thread's own stack? (Not when it runs on a stack of
    /// its own making, a coroutine's or a signal stack.)
    fn on_own_stack(&self, sp: usize) -> bool {
        sp >= self.stack_lo && sp < self.stack_top
    }
}

// SAFETY: the raw pointers are records owned by the registry, only touched
// under its lock (or by their own thread inside the suspend handler, while
// the collector holds the lock and does not mutate the list).
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    head: ptr::null_mut(),
    stopped: 0,
    self_stack: (0, 0),
});

static WORLD: AtomicU32 = AtomicU32::new(0);
static PENDING: AtomicU32 = AtomicU32::new(0);
/// 0: not yet chosen; else the signal number.
static SUSPEND_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The pthread key whose destructor unregisters exiting threads (+1; 0 = none).
static EXIT_KEY: AtomicU32 = AtomicU32::new(0);

/// The collector's registers, spilled by `getcontext` during a stop (a root
/// range while the world is stopped).
struct SelfContext(core::cell::UnsafeCell<core::mem::MaybeUninit<libc::ucontext_t>>);
// SAFETY: written only by the collector while it holds REGISTRY's lock.
unsafe impl Sync for SelfContext {}
static SELF_CONTEXT: SelfContext =
    SelfContext(core::cell::UnsafeCell::new(core::mem::MaybeUninit::uninit()));

fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// The suspend signal (chosen at first use).
pub fn suspend_signal() -> i32 {
    let s = SUSPEND_SIGNAL.load(Ordering::Acquire);
    if s != 0 {
        return s;
    }
    let default = libc::SIGRTMIN() + 6;
    match SUSPEND_SIGNAL.compare_exchange(0, default, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => default,
        Err(s) => s,
    }
}

/// `GC_set_suspend_signal`: only before the first registration; false after.
pub fn set_suspend_signal(sig: i32) -> bool {
    let _r = REGISTRY.lock();
    if EXIT_KEY.load(Ordering::Acquire) != 0 {
        return false;
    }
    SUSPEND_SIGNAL.store(sig, Ordering::Release);
    true
}

/// Installs the suspend handler, the exit key and the fork handlers, once.
/// Called with REGISTRY locked.
fn install_once() {
    if EXIT_KEY.load(Ordering::Acquire) != 0 {
        return;
    }
    // SAFETY: plain sigaction / pthread_key_create / pthread_atfork calls with
    // valid arguments; the handler is async-signal-safe (see the protocol).
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = suspend_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut sa.sa_mask);
        for sync in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut sa.sa_mask, sync);
        }
        if libc::sigaction(suspend_signal(), &sa, ptr::null_mut()) != 0 {
            crate::os::fatal("GC_init", "cannot install the suspend signal handler", 0);
        }
        let mut key: libc::pthread_key_t = 0;
        if libc::pthread_key_create(&mut key, Some(unregister_at_exit)) != 0 {
            crate::os::fatal("GC_init", "cannot create the thread-exit key", 0);
        }
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
        EXIT_KEY.store(key + 1, Ordering::Release);
    }
}

/// Stack bounds of the calling thread: (lowest, top).
pub fn current_stack() -> (usize, usize) {
    // SAFETY: pthread_getattr_np fills an attr we destroy afterwards.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = ptr::null_mut();
        let mut size: usize = 0;
        libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (addr as usize, addr as usize + size)
    }
}

/// The calling thread's record, null if it is not registered (one
/// initial-exec TLS load; set and cleared under the registry's lock).
#[inline(always)]
fn current() -> *const Thread {
    c_thread_word::get() as *const Thread
}

/// The answer of [`is_registered`] without the lock, for the allocation
/// path.
#[inline]
pub fn is_registered_fast() -> bool {
    !current().is_null()
}

/// Runs `f` on the calling thread's own GC cache outside the world (see
/// "Calls outside the world"): a stop that signals the thread meanwhile
/// parks it once `f` returns. `None`, without running `f`, if the thread
/// is not registered or a cycle holds the world.
///
/// `f` must not block, take a lock, or enter the world.
#[inline(always)]
pub fn with_own_cache<R>(f: impl FnOnce(&mut GcCache) -> R) -> Option<R> {
    let t = current();
    if t.is_null() {
        return None;
    }
    // SAFETY: our own live record (it is freed only by unregister_current
    // on this thread).
    let t = unsafe { &*t };
    t.in_call.store(true, Ordering::Relaxed);
    // Only this thread's signal handler reads `in_call`: program order,
    // which a compiler fence keeps, is all it needs.
    compiler_fence(Ordering::SeqCst);
    let r = if raw::world_held() {
        None
    } else {
        // SAFETY: our cache, used by this thread alone, and by a stop only
        // while this thread is parked outside a call.
        Some(f(unsafe { &mut *t.cache.get() }))
    };
    compiler_fence(Ordering::SeqCst);
    t.in_call.store(false, Ordering::Relaxed);
    compiler_fence(Ordering::SeqCst);
    if t.deferred.load(Ordering::Relaxed) {
        park_after_call(t);
    }
    r
}

/// Registers the calling thread unless it is registered already.
pub fn ensure_registered() {
    if !is_registered_fast() {
        register_current(0);
    }
}

fn set_exit_key(registered: bool) {
    let key = EXIT_KEY.load(Ordering::Acquire);
    if key != 0 {
        // SAFETY: a live key; any non-null value makes its destructor run
        // at thread exit.
        unsafe { libc::pthread_setspecific(key - 1, registered as usize as *const libc::c_void) };
    }
}

/// Is the calling thread registered?
pub fn is_registered() -> bool {
    let tid = gettid();
    let r = REGISTRY.lock();
    find(&r, tid).is_some()
}

fn find(r: &Registry, tid: libc::pid_t) -> Option<*mut Thread> {
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: records on the list are live while the lock is held.
        if unsafe { (*t).tid } == tid {
            return Some(t);
        }
        // SAFETY: as above.
        t = unsafe { (*t).next };
    }
    None
}

/// Registers the calling thread with stack top `stack_top` (0: ask pthread).
/// Returns false if it was registered already.
pub fn register_current(stack_top: usize) -> bool {
    let (lo, pthread_top) = current_stack();
    let top = if stack_top != 0 {
        stack_top
    } else {
        pthread_top
    };
    let lo = if lo < top && top <= pthread_top {
        lo
    } else {
        0
    };
    let tid = gettid();
    let rec = Box::into_raw(Box::new(Thread {
        tid,
        // SAFETY: pthread_self has no preconditions.
        pthread: unsafe { libc::pthread_self() },
        stack_lo: lo,
        stack_top: top,
        sp: AtomicUsize::new(0),
        context: AtomicUsize::new(0),
        stopped: false,
        cache: UnsafeCell::new(GcCache::new()),
        in_call: AtomicBool::new(false),
        deferred: AtomicBool::new(false),
        next: ptr::null_mut(),
    }));
    let mut r = REGISTRY.lock();
    install_once();
    if find(&r, tid).is_some() {
        drop(r);
        // SAFETY: never linked; from Box::into_raw above.
        drop(unsafe { Box::from_raw(rec) });
        return false;
    }
    // SAFETY: our fresh record, linked under the lock.
    unsafe { (*rec).next = r.head };
    r.head = rec;
    // Published under the lock: a stop that signals this thread finds it.
    c_thread_word::set(rec as usize);
    // SAFETY: the record lives until unregister_current (on this thread)
    // uninstalls the cache; every stop empties it (stop_world).
    unsafe { raw::use_thread_cache((*rec).cache.get()) };
    drop(r);
    set_exit_key(true);
    true
}

/// Unregisters the calling thread; false if it was not registered.
pub fn unregister_current() -> bool {
    set_exit_key(false);
    let tid = gettid();
    let mut r = REGISTRY.lock();
    let mut link: *mut *mut Thread = &mut r.head;
    // SAFETY: walking and unlinking records under the lock; the removed
    // record came from Box::into_raw in register_current.
    unsafe {
        while !(*link).is_null() {
            if (**link).tid == tid {
                let rec = *link;
                raw::use_thread_cache(ptr::null_mut());
                c_thread_word::set(0);
                *link = (*rec).next;
                drop(Box::from_raw(rec));
                return true;
            }
            link = &mut (**link).next;
        }
    }
    false
}

unsafe extern "C" fn unregister_at_exit(_: *mut libc::c_void) {
    unregister_current();
}

/// Stops every registered thread but the caller (see the protocol above).
/// `lock_all` / `unlock_all` take and release the locks the collector will
/// need (the allocator's, in order). Must be paired with [`start_world`] on
/// the same thread.
pub fn stop_world(lock_all: fn(), unlock_all: fn()) {
    REGISTRY.lock_for_fork();
    // SAFETY: we hold the lock (taken just above, kept until start_world).
    let r = unsafe { &mut *REGISTRY.data_ptr() };
    lock_all();
    let me = gettid();
    // SAFETY: SELF_CONTEXT is ours while we hold the lock; getcontext writes
    // the registers into it.
    unsafe { libc::getcontext((*SELF_CONTEXT.0.get()).as_mut_ptr()) };
    let sp_now = approximate_sp();
    r.self_stack = match find(r, me) {
        // SAFETY: live record under the lock.
        Some(t) if unsafe { (*t).on_own_stack(sp_now) } => (sp_now, unsafe { (*t).stack_top }),
        _ => (0, 0),
    };
    let others = count_others(r, me);
    PENDING.store(others, Ordering::Release);
    WORLD.fetch_add(1, Ordering::AcqRel);
    let sig = suspend_signal();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut stopped = 0;
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: live record under the lock.
        let rec = unsafe { &mut *t };
        rec.stopped = false;
        if rec.tid != me {
            rec.sp.store(0, Ordering::Relaxed);
            // SAFETY: tgkill only sends a signal.
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, rec.tid, sig) } == 0 {
                rec.stopped = true;
                stopped += 1;
            } else {
                PENDING.fetch_sub(1, Ordering::AcqRel);
            }
        }
        t = rec.next;
    }
    r.stopped = stopped;
    wait_until_zero(&PENDING);
    empty_caches(r);
    unlock_all();
}

/// Empties every registered thread's GC cache: all of them stand still,
/// outside any call (the caller's own included: it is stopping the world).
fn empty_caches(r: &Registry) {
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: live record under the lock; its thread is parked outside
        // a call, or is the caller.
        unsafe {
            (*(*t).cache.get()).clear();
            t = (*t).next;
        }
    }
}

fn count_others(r: &Registry, me: libc::pid_t) -> u32 {
    let mut n = 0;
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: live record under the lock.
        let rec = unsafe { &*t };
        n += u32::from(rec.tid != me);
        t = rec.next;
    }
    n
}

/// Restarts the threads [`stop_world`] stopped and releases the registry.
pub fn start_world() {
    // SAFETY: stop_world took the lock on this thread and kept it.
    let r = unsafe { &mut *REGISTRY.data_ptr() };
    PENDING.store(r.stopped, Ordering::Release);
    WORLD.fetch_add(1, Ordering::AcqRel);
    futex_wake(&WORLD, i32::MAX);
    wait_until_zero(&PENDING);
    r.stopped = 0;
    r.self_stack = (0, 0);
    // SAFETY: taken by stop_world on this thread.
    unsafe { REGISTRY.unlock_after_fork() };
}

/// Calls `f(lo, hi)` for every stack (and register spill) range of the
/// stopped world: each stopped thread from its published stack pointer to its
/// stack top, the collector's own stack if it is registered, and the
/// collector's spilled registers. A thread stopped while running on a stack
/// that is not its own (a coroutine's, a signal stack) has only its
/// registers scanned: as with libgc, such stacks are roots only if the
/// program adds them (`GC_add_roots`). Only between stop_world and
/// start_world, on the collector's thread.
pub fn for_each_stack(mut f: impl FnMut(usize, usize)) {
    // SAFETY: the collector holds REGISTRY's lock (between stop and start).
    let r = unsafe { &*REGISTRY.data_ptr() };
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: live record under the lock.
        let rec = unsafe { &*t };
        let sp = rec.sp.load(Ordering::Acquire);
        if rec.stopped && sp != 0 {
            if rec.on_own_stack(sp) {
                f(sp, rec.stack_top);
            } else {
                let ctx = rec.context.load(Ordering::Acquire);
                f(ctx, ctx + core::mem::size_of::<libc::ucontext_t>());
            }
        }
        t = rec.next;
    }
    if r.self_stack.0 != 0 {
        f(r.self_stack.0, r.self_stack.1);
    }
    let ctx = SELF_CONTEXT.0.get() as usize;
    f(ctx, ctx + core::mem::size_of::<libc::ucontext_t>());
}

/// Number of registered threads.
pub fn registered_count() -> usize {
    let r = REGISTRY.lock();
    let mut n = 0;
    let mut t = r.head;
    while !t.is_null() {
        n += 1;
        // SAFETY: live record under the lock.
        t = unsafe { (*t).next };
    }
    n
}

#[inline(never)]
fn approximate_sp() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

/// How long the collector waits for stopped threads before it says so.
const STALL_WARNING: core::time::Duration = core::time::Duration::from_secs(5);

/// Waits until `word` is 0. A thread that never answers (it blocks the
/// suspend signal) would stall the collector silently, so after
/// `STALL_WARNING` it says once how many threads it still waits for, and
/// keeps waiting.
fn wait_until_zero(word: &AtomicU32) {
    let mut waited = core::time::Duration::ZERO;
    let step = core::time::Duration::from_millis(100);
    let mut warned = false;
    loop {
        let v = word.load(Ordering::Acquire);
        if v == 0 {
            return;
        }
        futex_wait_timeout(word, v, Some(step));
        waited += step;
        if waited >= STALL_WARNING && !warned {
            warned = true;
            let mut buf = [0u8; 20];
            crate::os::write_stderr(&[
                b"goheap: stopping the world: ",
                crate::os::decimal(word.load(Ordering::Acquire) as usize, &mut buf),
                b" registered thread(s) have not answered the suspend signal for 5 s \
                  (blocked by sigprocmask? use GC_pthread_sigmask); still waiting\n",
            ]);
        }
    }
}

/// The suspend signal's handler: park until the world restarts, or, inside
/// a call outside the world, leave a note to park when it ends.
extern "C" fn suspend_handler(_sig: i32, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: __errno_location is async-signal-safe and returns this thread's errno.
    let saved_errno = unsafe { *libc::__errno_location() };
    let epoch = WORLD.load(Ordering::Acquire);
    let t = current();
    if epoch % 2 == 1 && !t.is_null() {
        // SAFETY: our own live record: the collector holds REGISTRY's lock,
        // so nobody unregisters meanwhile.
        let t = unsafe { &*t };
        if t.in_call.load(Ordering::Relaxed) {
            t.deferred.store(true, Ordering::Relaxed);
        } else {
            let local = 0usize;
            let sp = core::hint::black_box(&local) as *const usize as usize;
            park(t, sp, ctx as usize, epoch);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Publishes where this stopped thread's stack and registers are, then
/// sleeps until the world moves on from `epoch` (async-signal-safe).
fn park(t: &Thread, sp: usize, ctx: usize, epoch: u32) {
    t.context.store(ctx, Ordering::Relaxed);
    t.sp.store(sp, Ordering::Release);
    ack();
    while WORLD.load(Ordering::Acquire) == epoch {
        futex_wait(&WORLD, epoch);
    }
    ack();
}

/// The stop that came during a call: spill the registers onto this stack
/// (callee-saved ones may hold the caller's pointers) and park from here.
#[cold]
#[inline(never)]
fn park_after_call(t: &Thread) {
    t.deferred.store(false, Ordering::Relaxed);
    let mut ctx = core::mem::MaybeUninit::<libc::ucontext_t>::uninit();
    // SAFETY: getcontext fills the buffer we own.
    unsafe { libc::getcontext(ctx.as_mut_ptr()) };
    let at = ctx.as_ptr() as usize;
    // The stop waits for this thread's acknowledgement: WORLD is still odd.
    park(t, at, at, WORLD.load(Ordering::Acquire));
    core::hint::black_box(&ctx);
}

fn ack() {
    if PENDING.fetch_sub(1, Ordering::AcqRel) == 1 {
        futex_wake(&PENDING, 1);
    }
}

unsafe extern "C" fn fork_prepare() {
    REGISTRY.lock_for_fork();
}

unsafe extern "C" fn fork_parent() {
    // SAFETY: fork_prepare took it on this thread.
    unsafe { REGISTRY.unlock_after_fork() };
}

/// In the child only the forking thread survives: drop every other record
/// and give ours (found by `pthread_self`, which fork keeps) the child's tid.
unsafe extern "C" fn fork_child() {
    // SAFETY: fork_prepare took the lock; the child has one thread.
    let r = unsafe { &mut *REGISTRY.data_ptr() };
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let mut kept: *mut Thread = ptr::null_mut();
    let mut t = r.head;
    while !t.is_null() {
        // SAFETY: records owned by the list; other threads no longer exist.
        unsafe {
            let next = (*t).next;
            if libc::pthread_equal((*t).pthread, me) != 0 {
                (*t).tid = gettid();
                (*t).next = ptr::null_mut();
                kept = t;
            } else {
                drop(Box::from_raw(t));
            }
            t = next;
        }
    }
    r.head = kept;
    // SAFETY: taken by fork_prepare.
    unsafe { REGISTRY.unlock_after_fork() };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn nothing() {}

    /// Registered threads spinning on a counter stop (their counters freeze
    /// while the world is stopped), publish a stack pointer inside their own
    /// stack, and run again after the restart.
    #[test]
    fn stop_freezes_registered_threads_and_start_resumes_them() {
        let done = Arc::new(AtomicBool::new(false));
        let counters: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::default()).collect();
        let handles: Vec<_> = counters
            .iter()
            .map(|c| {
                let c = c.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    assert!(register_current(0));
                    c.fetch_add(1, Ordering::SeqCst);
                    while !done.load(Ordering::Relaxed) {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    assert!(unregister_current());
                })
            })
            .collect();
        for c in &counters {
            while c.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        }
        for _ in 0..20 {
            stop_world(nothing, nothing);
            let before: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
            let mut stacks = 0;
            for_each_stack(|lo, hi| {
                assert!(lo < hi);
                stacks += 1;
            });
            assert!(stacks > 3, "three stacks and the register spill");
            std::thread::sleep(std::time::Duration::from_millis(2));
            let after: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
            start_world();
            assert_eq!(before, after, "a stopped thread ran");
        }
        done.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
    }

    /// A stop that lands inside a call outside the world waits for the call
    /// to end: while the world is stopped no thread is inside one, and the
    /// calls make no progress; afterwards they go on.
    #[test]
    fn a_stop_waits_for_calls_outside_the_world_to_end() {
        static INSIDE: AtomicUsize = AtomicUsize::new(0);
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let done = Arc::new(AtomicBool::new(false));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let done = done.clone();
                std::thread::spawn(move || {
                    assert!(register_current(0));
                    while !done.load(Ordering::Relaxed) {
                        let ran = with_own_cache(|_| {
                            INSIDE.fetch_add(1, Ordering::SeqCst);
                            for _ in 0..2000 {
                                core::hint::spin_loop();
                            }
                            INSIDE.fetch_sub(1, Ordering::SeqCst);
                        });
                        assert!(ran.is_some(), "no cycle holds the world here");
                        CALLS.fetch_add(1, Ordering::SeqCst);
                    }
                    assert!(unregister_current());
                })
            })
            .collect();
        while CALLS.load(Ordering::SeqCst) < 100 {
            std::thread::yield_now();
        }
        for _ in 0..200 {
            stop_world(nothing, nothing);
            assert_eq!(INSIDE.load(Ordering::SeqCst), 0, "stopped inside a call");
            let calls = CALLS.load(Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_micros(200));
            assert_eq!(
                CALLS.load(Ordering::SeqCst),
                calls,
                "a call ran while stopped"
            );
            start_world();
        }
        let calls = CALLS.load(Ordering::SeqCst);
        while CALLS.load(Ordering::SeqCst) < calls + 100 {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
        for h in callers {
            h.join().unwrap();
        }
    }

    /// Threads blocked in system calls are stopped and their calls resume
    /// (SA_RESTART), and the exit key unregisters threads that forget to.
    /// A registered thread that blocks the suspend signal stalls the stop
    /// (with a message after 5 s) until it unblocks it; then it stops.
    #[test]
    fn a_thread_blocking_the_signal_delays_the_stop_until_it_unblocks() {
        let (tx, rx) = std::sync::mpsc::channel();
        let blocker = std::thread::spawn(move || {
            assert!(register_current(0));
            // SAFETY: plain signal mask calls on this thread.
            unsafe {
                let mut set: libc::sigset_t = core::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, suspend_signal());
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut());
                tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(300));
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
            }
            assert!(unregister_current());
        });
        rx.recv().unwrap();
        let t0 = std::time::Instant::now();
        stop_world(nothing, nothing);
        let waited = t0.elapsed();
        start_world();
        blocker.join().unwrap();
        assert!(
            waited >= std::time::Duration::from_millis(200),
            "stopped a thread that blocked the signal after {waited:?}"
        );
    }

    #[test]
    fn blocked_threads_stop_and_exiting_threads_unregister() {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two fds.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let reader = std::thread::spawn(move || {
            assert!(register_current(0));
            let mut b = [0u8; 1];
            // SAFETY: read into a live buffer.
            let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
            assert_eq!(n, 1, "read was interrupted");
            // no unregister: the exit key does it
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        stop_world(nothing, nothing);
        start_world();
        // SAFETY: write from a live buffer.
        assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
        reader.join().unwrap();
        let tid_gone = std::thread::spawn(|| {
            assert!(register_current(0));
            assert!(!register_current(0), "second registration is a duplicate");
            gettid()
        })
        .join()
        .unwrap();
        let r = REGISTRY.lock();
        assert!(find(&r, tid_gone).is_none(), "exit did not unregister");
    }
}
