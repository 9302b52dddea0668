//! Channels for C: `goheap_chan_make`, `_send`, `_recv`, `_close`,
//! `_select` and `_free` (include/goheap.h), over `goheap::chan::raw`.
//! Elements are blobs of the size given at make, copied in and out of the
//! caller's buffers. A NULL channel is an error (`GOHEAP_CHAN_INVALID`)
//! for send, recv and close; in a select, a case on a NULL channel is never
//! ready (as a nil channel in Go's select).

use core::ffi::{c_int, c_void};
use core::time::Duration;
use goheap::chan::raw::{self, RawCase, RawChan, Selected, Status, Wait, MAX_SELECT_CASES};

const OK: c_int = 0;
const CLOSED: c_int = -1;
const NOT_READY: c_int = -2;
const INVALID: c_int = -3;

/// `struct goheap_chan_case` in include/goheap.h.
#[repr(C)]
pub struct CCase {
    chan: *const RawChan,
    /// `GOHEAP_CHAN_SEND` (1) or `GOHEAP_CHAN_RECV` (0).
    dir: c_int,
    elem: *mut c_void,
}

fn code(s: Status) -> c_int {
    match s {
        Status::Ok => OK,
        Status::Closed => CLOSED,
        Status::NotReady => NOT_READY,
    }
}

/// `timeout_ns`: < 0 waits for ever, 0 not at all, > 0 at most that long.
fn wait(timeout_ns: i64) -> Wait {
    match timeout_ns {
        t if t < 0 => Wait::Forever,
        0 => Wait::No,
        t => Wait::For(Duration::from_nanos(t as u64)),
    }
}

/// Makes a channel of `elem_size`-byte elements with room for `cap`;
/// NULL if that cannot exist.
#[no_mangle]
pub extern "C" fn goheap_chan_make(elem_size: usize, cap: usize) -> *mut RawChan {
    RawChan::new(elem_size, cap).map_or(core::ptr::null_mut(), |c| Box::into_raw(Box::new(c)))
}

/// Frees a channel no thread uses any more.
///
/// # Safety
/// `c` is NULL or came from `goheap_chan_make` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn goheap_chan_free(c: *mut RawChan) {
    if !c.is_null() {
        // SAFETY: per the contract, we own the last reference.
        drop(unsafe { Box::from_raw(c) });
    }
}

/// Sends the element at `elem`, waiting up to `timeout_ns`.
///
/// # Safety
/// `c` is NULL or a live channel; `elem` points to its element size of
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn goheap_chan_send(
    c: *const RawChan,
    elem: *const c_void,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: per the contract.
    match unsafe { c.as_ref() } {
        // SAFETY: `elem` holds an element of `c`, per the contract.
        Some(c) => code(unsafe { c.send(elem.cast(), wait(timeout_ns)) }),
        None => INVALID,
    }
}

/// Receives an element into `elem`, waiting up to `timeout_ns`.
///
/// # Safety
/// `c` is NULL or a live channel; `elem` points to its element size of
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn goheap_chan_recv(
    c: *const RawChan,
    elem: *mut c_void,
    timeout_ns: i64,
) -> c_int {
    // SAFETY: per the contract.
    match unsafe { c.as_ref() } {
        // SAFETY: `elem` has room for an element of `c`, per the contract.
        Some(c) => code(unsafe { c.recv(elem.cast(), wait(timeout_ns)) }),
        None => INVALID,
    }
}

/// Closes the channel: 0, or `GOHEAP_CHAN_CLOSED` if it was closed already.
///
/// # Safety
/// `c` is NULL or a live channel.
#[no_mangle]
pub unsafe extern "C" fn goheap_chan_close(c: *const RawChan) -> c_int {
    // SAFETY: per the contract.
    match unsafe { c.as_ref() } {
        Some(c) if c.close() => OK,
        Some(_) => CLOSED,
        None => INVALID,
    }
}

/// Waits on `n` cases; returns the index of the case that completed (and
/// sets `*ok` to 1, or to 0 if its channel was closed), or
/// `GOHEAP_CHAN_NOT_READY` if none was ready within `timeout_ns`, or
/// `GOHEAP_CHAN_INVALID` (more than 64 cases, bad direction).
///
/// # Safety
/// `cases` points to `n` cases whose channels are NULL or live and whose
/// `elem`s point to their channel's element size of bytes; `ok` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn goheap_chan_select(
    cases: *const CCase,
    n: usize,
    timeout_ns: i64,
    ok: *mut c_int,
) -> c_int {
    if n > MAX_SELECT_CASES || (n > 0 && cases.is_null()) {
        return INVALID;
    }
    // SAFETY: per the contract.
    let cases = if n == 0 {
        &[][..]
    } else {
        // SAFETY: `cases` points to `n` cases, per the contract.
        unsafe { core::slice::from_raw_parts(cases, n) }
    };
    if cases.iter().any(|c| c.dir != 0 && c.dir != 1) {
        return INVALID;
    }
    // SAFETY: per the contract (a NULL channel gives a never-ready case).
    let cases = cases.iter().map(|c| {
        // SAFETY: each channel is NULL or live, per the contract.
        unsafe { c.chan.as_ref() }.map(|chan| RawCase {
            chan,
            send: c.dir == 1,
            elem: c.elem.cast(),
        })
    });
    // SAFETY: each `elem` fits its channel's element, per the contract.
    match unsafe { raw::select(cases, wait(timeout_ns)) } {
        Some(Selected::Case(i, done)) => {
            if !ok.is_null() {
                // SAFETY: per the contract.
                unsafe { *ok = c_int::from(done) };
            }
            i as c_int
        }
        Some(_) => NOT_READY,
        None => INVALID,
    }
}
