//! The C ABI of goroutines (`goheap_go` and friends, declared in
//! `include/goheap.h`). Thin wrappers over `goheap::sched`: a C function
//! pointer plus its argument become the goroutine's closure. The C caller
//! promises that `arg` may be used from another thread.

use core::ffi::{c_int, c_void};
use goheap::sched::{self, WaitGroup};
use std::time::Duration;

type CFn = extern "C" fn(*mut c_void);

/// A C argument handed to another thread (the caller's promise).
struct SendArg(*mut c_void);
// SAFETY: C callers of goheap_go/goheap_blocking promise `arg` may cross threads.
unsafe impl Send for SendArg {}

/// `int goheap_go(void (*fn)(void *), void *arg)`: runs `fn(arg)` in a new
/// goroutine. 0, or -1 if `fn` is NULL.
#[no_mangle]
pub extern "C" fn goheap_go(f: Option<CFn>, arg: *mut c_void) -> c_int {
    let Some(f) = f else { return -1 };
    let arg = SendArg(arg);
    let body = move || {
        let arg = arg;
        f(arg.0)
    };
    // SAFETY: C code has no `thread_local!` borrows; a C caller that keeps
    // thread-specific data across a switch point breaks goheap_go's
    // documented contract (goheap.h), as with Rust's `go`.
    unsafe { sched::go(body) };
    0
}

/// `void goheap_yield(void)`: lets other goroutines run.
#[no_mangle]
pub extern "C" fn goheap_yield() {
    sched::yield_now();
}

/// `void goheap_sleep_ns(uint64_t ns)`: parks the goroutine (or the thread).
#[no_mangle]
pub extern "C" fn goheap_sleep_ns(ns: u64) {
    sched::sleep(Duration::from_nanos(ns));
}

/// `void goheap_blocking(void (*fn)(void *), void *arg)`: runs `fn(arg)`,
/// which may block its thread, after handing this goroutine's P to another
/// thread.
#[no_mangle]
pub extern "C" fn goheap_blocking(f: Option<CFn>, arg: *mut c_void) {
    if let Some(f) = f {
        sched::blocking(|| f(arg));
    }
}

/// `int goheap_gomaxprocs(void)`: how many goroutines run at once.
#[no_mangle]
pub extern "C" fn goheap_gomaxprocs() -> c_int {
    sched::gomaxprocs() as c_int
}

/// `void goheap_lock_os_thread(void)` / `goheap_unlock_os_thread`.
#[no_mangle]
pub extern "C" fn goheap_lock_os_thread() {
    sched::lock_os_thread();
}

#[no_mangle]
pub extern "C" fn goheap_unlock_os_thread() {
    sched::unlock_os_thread();
}

/// `goheap_waitgroup *goheap_waitgroup_new(void)`.
#[no_mangle]
pub extern "C" fn goheap_waitgroup_new() -> *mut WaitGroup {
    Box::into_raw(Box::new(WaitGroup::new()))
}

/// `void goheap_waitgroup_add(goheap_waitgroup *wg, int64_t n)`.
///
/// # Safety
/// `wg` comes from `goheap_waitgroup_new` and was not freed.
#[no_mangle]
pub unsafe extern "C" fn goheap_waitgroup_add(wg: *const WaitGroup, n: i64) {
    // SAFETY: the caller's contract.
    if let Some(wg) = unsafe { wg.as_ref() } {
        wg.add(n);
    }
}

/// `void goheap_waitgroup_done(goheap_waitgroup *wg)`.
///
/// # Safety
/// As `goheap_waitgroup_add`.
#[no_mangle]
pub unsafe extern "C" fn goheap_waitgroup_done(wg: *const WaitGroup) {
    // SAFETY: the caller's contract.
    unsafe { goheap_waitgroup_add(wg, -1) };
}

/// `void goheap_waitgroup_wait(goheap_waitgroup *wg)`.
///
/// # Safety
/// As `goheap_waitgroup_add`.
#[no_mangle]
pub unsafe extern "C" fn goheap_waitgroup_wait(wg: *const WaitGroup) {
    // SAFETY: the caller's contract.
    if let Some(wg) = unsafe { wg.as_ref() } {
        wg.wait();
    }
}

/// `void goheap_waitgroup_free(goheap_waitgroup *wg)`.
///
/// # Safety
/// `wg` comes from `goheap_waitgroup_new`; no one uses it afterwards.
#[no_mangle]
pub unsafe extern "C" fn goheap_waitgroup_free(wg: *mut WaitGroup) {
    if !wg.is_null() {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(wg) });
    }
}
