//! libgc's C API on goheap's collector: the logic behind `ffi/src/gc.rs`
//! (which only exports it with libgc's C signatures).
//!
//! What this layer adds to the GC core (`raw`):
//! * initialisation (`GC_init`, or implicitly at first use): the calling
//!   thread is registered, and the C hooks are installed into the core: roots
//!   (`conservative`: data segments and added ranges; `stoptheworld`: stacks
//!   and registers; `libgc_final`: finalizer client data and queued
//!   objects), the after-mark hook of finalizers and links, and the world
//!   stopper;
//! * threads: every thread that allocates is registered at its first
//!   allocation (libgc aborts with "Collecting from unknown thread" instead,
//!   bdwgc#561); `GC_pthread_create` registers the new thread before its
//!   start routine runs, and the parent waits for that, so the argument is
//!   on a scanned stack at every moment; an exiting thread unregisters;
//! * the allocation fast path: a registered thread allocates from its own
//!   GC cache without entering the world (no atomic read-modify-write, two
//!   initial-exec TLS loads); a stop waits for such a call to end
//!   (`stoptheworld`'s "Calls outside the world"). Refills, large objects
//!   and everything else enter the world as every `raw` call does;
//! * the allocation entry points with libgc's semantics (size 0 gives a
//!   valid object, `realloc` keeps the kind and shrinks in place down to
//!   half, `strdup` gives atomic objects, OOM gives NULL to the caller, who
//!   calls the oom function), and `GC_free` of anything but an object start
//!   aborts with goheap's message.
//!
//! The world stopper takes, in this order, the root table's lock (and
//! snapshots the data segments while the world still runs), the finalizer
//! tables' lock, the lock of the exited threads' results, then
//! (`stoptheworld::stop_world`) the thread registry's and the allocator's
//! locks, and stops the registered threads; the restart releases them in
//! reverse. Code that takes one of these locks never takes
//! an earlier one while holding it, and never calls into `raw` while holding
//! one (a `raw` call waits for a running cycle, and the cycle may be waiting
//! for that lock); hence `register_finalizer` and the link registrations
//! look the object up before they lock the tables.

use super::raw::{self, Marker};
use super::{conservative, libgc_final, stoptheworld};
use crate::lock::{futex_wait, futex_wake};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Once;

extern "C" {
    // In glibc, not declared by the libc crate.
    fn pthread_attr_getdetachstate(attr: *const libc::pthread_attr_t, state: *mut i32) -> i32;
}

pub use libgc_final::{
    invoke_finalizers, notify_or_invoke, ready as finalizers_ready, register_finalizer,
    register_link, unregister_link, FinalizerFn, Mode, GC_DUPLICATE, GC_SUCCESS,
};
pub use raw::{free_bytes, gc_no, heap_size, set_max_heap_size, total_bytes, Kind};

static INIT: Once = Once::new();
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// `GC_init`: installs the hooks once; registers the calling thread.
pub fn init() {
    install_hooks();
    stoptheworld::ensure_registered();
}

/// `GC_enable_incremental`: the C side's cycles mark concurrently from now
/// on if the kernel tracks written pages (`raw::set_incremental`).
///
/// The choice is libgc's: incremental collection is opt-in there too. It
/// shortens the pauses (the mark runs beside the C threads; they stand
/// still only to start and to end it) and costs throughput and memory:
/// each page written during a mark faults once, marked objects on written
/// pages are scanned again, and the heap grows while the mark runs. A
/// program that wants its collections to be fast rather than short keeps
/// the default.
pub fn enable_incremental() {
    raw::set_incremental(true);
}

/// `GC_is_incremental_mode`: whether cycles mark concurrently.
pub fn is_incremental() -> bool {
    raw::is_incremental()
}

/// libgc's `GC_ENABLE_INCREMENTAL` environment variable: any value turns
/// incremental mode on at initialisation.
fn incremental_from_env() -> bool {
    // SAFETY: a NUL-terminated name; getenv only reads the environment.
    !unsafe { libc::getenv(c"GC_ENABLE_INCREMENTAL".as_ptr()) }.is_null()
}

fn install_hooks() {
    INIT.call_once(|| {
        // SAFETY: the hooks keep raw's contract: inside the cycle they only
        // read roots, mark, and stop/start registered threads; they never
        // enter the heap (alloc, free, mutate) nor root new objects.
        unsafe {
            raw::register_roots(scan_roots);
            raw::register_after_mark(libgc_final::after_mark);
            raw::register_world_stopper(stop_world, start_world);
        }
        if incremental_from_env() {
            enable_incremental();
        }
        INITIALIZED.store(true, Ordering::Release);
    });
}

/// Runs `f` after every collection cycle (e.g. to publish `GC_gc_no`).
pub fn after_cycle(f: fn()) {
    raw::after_cycle(f);
}

/// `GC_is_init_called`.
#[inline]
pub fn is_initialized() -> bool {
    INITIALIZED.load(Ordering::Acquire)
}

/// What every entry point does first: initialise and register this thread.
#[inline]
pub fn enter() {
    if !INITIALIZED.load(Ordering::Acquire) || !stoptheworld::is_registered_fast() {
        init();
    }
}

fn scan_roots(m: &mut Marker) {
    // SAFETY: static ranges are the writable PT_LOAD segments of loaded
    // objects (snapshot taken before the stop, no dlclose can run while the
    // world is stopped) and stacks are those of stopped threads (from their
    // published stack pointer to their base) or this thread's own: all
    // mapped and readable, and not written while the world is stopped.
    conservative::for_each_static_range(|lo, hi| unsafe { scan_root(m, lo, hi) });
    // SAFETY: as above.
    stoptheworld::for_each_stack(|lo, hi| unsafe { scan_root(m, lo, hi) });
    libgc_final::mark_roots(m);
    // SAFETY: stop_world took the lock on this thread.
    let exited = unsafe { &*EXITED.data_ptr() };
    for (_, result) in exited {
        let at = result as *const usize as usize;
        // SAFETY: one word of the exited-thread table, held under its lock.
        unsafe { m.scan_conservative(at, at + core::mem::size_of::<usize>()) };
    }
}

/// Scans root memory `[lo, hi)`, counted for the pacer's goal.
///
/// # Safety
/// As `Marker::scan_conservative`.
unsafe fn scan_root(m: &mut Marker, lo: usize, hi: usize) {
    super::mgcpacer::note_roots_scanned(hi - lo);
    // SAFETY: the caller's promise.
    unsafe { m.scan_conservative(lo, hi) }
}

fn stop_world() {
    conservative::lock();
    conservative::snapshot();
    libgc_final::lock();
    EXITED.lock_for_fork();
    stoptheworld::stop_world(
        crate::alloc::malloc::lock_all,
        crate::alloc::malloc::unlock_all,
    );
}

fn start_world() {
    stoptheworld::start_world();
    // SAFETY: stop_world took these locks on this thread, in this order.
    unsafe {
        EXITED.unlock_after_fork();
        libgc_final::unlock();
        conservative::unlock();
    }
}

/// `GC_malloc` & co.: a zeroed (unless atomic) object of at least `size`
/// bytes, or null when the heap is exhausted (the caller applies the oom
/// function).
#[inline]
pub fn malloc(size: usize, kind: Kind) -> *mut u8 {
    let p = malloc_cached(size, kind);
    if !p.is_null() {
        return p;
    }
    enter();
    // SAFETY: raw::alloc accepts any size and kind; it returns null on OOM.
    unsafe { raw::alloc(size.max(1), kind) }
}

/// The fast path of [`malloc`] (see the module comment): an object from
/// the registered calling thread's own cache, else null (then call
/// [`malloc`]).
#[inline(always)]
pub fn malloc_cached(size: usize, kind: Kind) -> *mut u8 {
    // SAFETY: with_own_cache passes this thread's cache and keeps cycles
    // out until the call returns (stoptheworld's calls outside the world).
    stoptheworld::with_own_cache(
        #[inline(always)]
        |c| unsafe { raw::alloc_cached(c, size, kind) },
    )
    .unwrap_or(core::ptr::null_mut())
}

/// `GC_free`: frees a GC object explicitly; null is ignored; anything that is
/// not the start of a GC object aborts with goheap's message.
///
/// # Safety
/// Nothing uses the object afterwards.
pub unsafe fn free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    // SAFETY: raw::free checks that p is an object start and says so.
    if !unsafe { raw::free(p) } {
        crate::os::fatal(
            "GC_free",
            "pointer is not the start of a GC object",
            p as usize,
        );
    }
}

/// `GC_realloc` with libgc's semantics; null on OOM (the old object stays).
///
/// # Safety
/// `p` is null or a GC object start; when the result differs from `p`,
/// nothing uses `p` afterwards (it is freed, as libgc frees it).
pub unsafe fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        return malloc(size, Kind::Conservative);
    }
    if size == 0 {
        // SAFETY: per the contract, realloc(p, 0) ends p's use.
        unsafe { free(p) };
        return core::ptr::null_mut();
    }
    enter();
    let kind = match raw::kind(p) {
        Some(kind) if raw::base(p) == p => kind,
        _ => crate::os::fatal(
            "GC_realloc",
            "pointer is not the start of a GC object",
            p as usize,
        ),
    };
    let old_size = raw::size(p);
    if size <= old_size && size >= old_size / 2 {
        // SAFETY: [size, old_size) lies inside the object; clearing it keeps
        // stale words from being taken for pointers.
        unsafe { core::ptr::write_bytes(p.add(size), 0, old_size - size) };
        return p;
    }
    let q = malloc(size, kind);
    if !q.is_null() {
        // SAFETY: both objects hold at least min(old_size, size) bytes and
        // are distinct; the old one is replaced (contract).
        unsafe {
            core::ptr::copy_nonoverlapping(p, q, old_size.min(size));
            free(p);
        }
    }
    q
}

/// `GC_strndup`: an atomic copy of at most `n` bytes of `s` plus NUL.
///
/// # Safety
/// `s` points at a string readable up to its NUL or `n` bytes.
pub unsafe fn strndup(s: *const u8, n: usize) -> *mut u8 {
    // SAFETY: per the contract.
    let len = unsafe { libc::strnlen(s.cast(), n) };
    let q = malloc(len + 1, Kind::Atomic);
    if !q.is_null() {
        // SAFETY: q holds len + 1 bytes; s holds len readable bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(s, q, len);
            *q.add(len) = 0;
        }
    }
    q
}

/// `GC_base`.
pub fn base(p: *const u8) -> *mut u8 {
    raw::base(p)
}

/// `GC_size`: the usable size of the object containing `p` (0 outside).
pub fn size(p: *const u8) -> usize {
    let b = raw::base(p);
    if b.is_null() {
        0
    } else {
        raw::size(b)
    }
}

/// `GC_gcollect`: a full collection now.
pub fn collect() {
    enter();
    raw::collect();
}

/// Prints `goheap: GC_<name> is not supported` and aborts.
pub fn unsupported(name: &str) -> ! {
    crate::os::write_stderr(&[b"goheap: ", name.as_bytes(), b" is not supported\n"]);
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

static DISABLED: AtomicUsize = AtomicUsize::new(0);

/// `GC_disable`: collections stop until as many `GC_enable` calls.
pub fn disable() {
    if DISABLED.fetch_add(1, Ordering::AcqRel) == 0 {
        raw::disable();
    }
}

/// `GC_enable`: undoes one `GC_disable`.
pub fn enable() {
    let before = DISABLED.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    if before == Ok(1) {
        raw::enable();
    }
}

/// `GC_is_disabled`.
pub fn is_disabled() -> bool {
    DISABLED.load(Ordering::Acquire) != 0
}

// ---------------------------------------------------------------------------
// Threads

/// `GC_register_my_thread`: registers the calling thread with stack top
/// `stack_top`; false if it was registered already (GC_DUPLICATE).
pub fn register_my_thread(stack_top: usize) -> bool {
    install_hooks();
    stoptheworld::register_current(stack_top)
}

/// `GC_unregister_my_thread`.
pub fn unregister_my_thread() {
    stoptheworld::unregister_current();
}

/// `GC_thread_is_registered`.
pub fn thread_is_registered() -> bool {
    stoptheworld::is_registered()
}

/// `GC_get_stack_base`: the calling thread's stack top (0 if unknown).
pub fn stack_top() -> usize {
    stoptheworld::current_stack().1
}

/// `GC_get_suspend_signal` / `GC_set_suspend_signal` (false once threads
/// are registered).
pub use stoptheworld::{set_suspend_signal, suspend_signal};

/// `pthread_create`'s start routine type.
pub type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

/// Handed from `pthread_create` to the new thread on the parent's stack: the
/// parent waits until `taken` is set, so `arg` is always on a scanned stack.
struct Start {
    routine: StartRoutine,
    arg: *mut c_void,
    joinable: bool,
    taken: AtomicU32,
}

/// Results of exited `GC_pthread_create` threads that may still be joined:
/// roots until `GC_pthread_join` or `GC_pthread_detach` (libgc keeps them in
/// its thread table, which it scans).
static EXITED: crate::lock::Mutex<Vec<(libc::pthread_t, usize)>> =
    crate::lock::Mutex::new(Vec::new());

fn keep_result(result: *mut c_void) {
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    EXITED.lock().push((me, result as usize));
}

fn forget_result(thread: libc::pthread_t) {
    // SAFETY: pthread_equal only compares.
    EXITED
        .lock()
        .retain(|&(t, _)| unsafe { libc::pthread_equal(t, thread) } == 0);
}

/// `GC_pthread_join`.
///
/// # Safety
/// As `pthread_join`.
pub unsafe fn pthread_join(thread: libc::pthread_t, ret: *mut *mut c_void) -> i32 {
    // SAFETY: per the contract.
    let rc = unsafe { libc::pthread_join(thread, ret) };
    if rc == 0 {
        forget_result(thread);
    }
    rc
}

/// `GC_pthread_detach`.
pub fn pthread_detach(thread: libc::pthread_t) -> i32 {
    // SAFETY: as pthread_detach; an invalid id is the caller's error, as
    // with libgc.
    let rc = unsafe { libc::pthread_detach(thread) };
    if rc == 0 {
        forget_result(thread);
    }
    rc
}

/// `GC_pthread_exit`: keeps the result for the joiner, then exits.
///
/// # Safety
/// As `pthread_exit` (nothing on this thread's stack is used afterwards).
pub unsafe fn pthread_exit(result: *mut c_void) -> ! {
    if stoptheworld::is_registered_fast() {
        keep_result(result);
    }
    stoptheworld::unregister_current();
    // SAFETY: ends the calling thread, as the program asked.
    unsafe { libc::pthread_exit(result) }
}

/// `GC_pthread_create`: `pthread_create` whose thread is registered before
/// `routine` runs and unregistered when it returns.
///
/// # Safety
/// As `pthread_create`.
pub unsafe fn pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    routine: StartRoutine,
    arg: *mut c_void,
) -> i32 {
    enter();
    let mut detached = libc::PTHREAD_CREATE_JOINABLE;
    if !attr.is_null() {
        // SAFETY: a valid attr (contract).
        unsafe { pthread_attr_getdetachstate(attr, &mut detached) };
    }
    let start = Start {
        routine,
        arg,
        joinable: detached == libc::PTHREAD_CREATE_JOINABLE,
        taken: AtomicU32::new(0),
    };
    // SAFETY: per the contract; `start` outlives the new thread's use of it
    // (we wait for `taken` below).
    let rc = unsafe {
        libc::pthread_create(
            thread,
            attr,
            registered_start,
            &start as *const Start as *mut c_void,
        )
    };
    if rc == 0 {
        while start.taken.load(Ordering::Acquire) == 0 {
            futex_wait(&start.taken, 0);
        }
    }
    core::hint::black_box(&start);
    rc
}

extern "C" fn registered_start(p: *mut c_void) -> *mut c_void {
    stoptheworld::ensure_registered();
    // SAFETY: the parent keeps `Start` alive until `taken` is set below.
    let (routine, arg, joinable) = unsafe {
        let s = &*(p as *const Start);
        let fields = (s.routine, s.arg, s.joinable);
        s.taken.store(1, Ordering::Release);
        futex_wake(&s.taken, 1);
        fields
    };
    let result = routine(arg);
    if joinable {
        keep_result(result);
    }
    stoptheworld::unregister_current();
    result
}

/// `GC_pthread_sigmask`: `pthread_sigmask` that never blocks the suspend
/// signal (a thread blocking it would stall every collection).
///
/// # Safety
/// As `pthread_sigmask`.
pub unsafe fn pthread_sigmask(
    how: i32,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> i32 {
    if set.is_null() || how == libc::SIG_UNBLOCK {
        // SAFETY: per the contract.
        return unsafe { libc::pthread_sigmask(how, set, old) };
    }
    // SAFETY: `set` is a valid sigset (contract); we edit a copy.
    unsafe {
        let mut copy = *set;
        libc::sigdelset(&mut copy, stoptheworld::suspend_signal());
        libc::pthread_sigmask(how, &copy, old)
    }
}

/// Aborts with goheap's message about a bad argument of libgc function `op`.
pub fn bad_argument(op: &str, what: &str, value: usize) -> ! {
    crate::os::fatal(op, what, value)
}
