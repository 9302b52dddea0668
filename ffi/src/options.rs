//! `GOHEAP_*` environment options of libgoheap, parsed in one place.
//!
//! The options are read with `getenv(3)`, which only scans `environ` and never
//! allocates, so parsing is safe from inside the allocator and from a library
//! constructor. The result is computed once and cached in an atomic; nothing
//! here allocates.
//!
//! Options today:
//! * `GOHEAP_VERBOSE` — when true, print one line naming goheap on stderr when
//!   the library is loaded (process start for both the LD_PRELOAD library and a
//!   statically linked program).
//!
//! A value is false when unset, empty, `0`, `false`, `no` or `off`
//! (ASCII case-insensitive), and true otherwise. New options (for example the
//! statistics the core will offer) get a field in [`Options`], a bit in the
//! cache word and a line in [`parse`].

use core::ffi::CStr;
use core::sync::atomic::{AtomicU32, Ordering};

/// The parsed options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `GOHEAP_VERBOSE`: announce goheap on stderr at load.
    pub verbose: bool,
}

/// Cache word: 0 = not parsed yet; otherwise `PARSED | option bits`.
static CACHE: AtomicU32 = AtomicU32::new(0);
const PARSED: u32 = 1 << 31;
const VERBOSE: u32 = 1 << 0;

/// Returns the options, parsing the environment on the first call.
///
/// Thread-safe: concurrent first calls each parse the (same) environment and
/// store the same word.
pub fn get() -> Options {
    let mut word = CACHE.load(Ordering::Acquire);
    if word == 0 {
        word = PARSED | encode(parse());
        CACHE.store(word, Ordering::Release);
    }
    Options {
        verbose: word & VERBOSE != 0,
    }
}

fn encode(o: Options) -> u32 {
    if o.verbose {
        VERBOSE
    } else {
        0
    }
}

/// Reads every option from the environment.
fn parse() -> Options {
    Options {
        verbose: flag(b"GOHEAP_VERBOSE\0"),
    }
}

/// Returns whether the environment variable `name` (NUL-terminated) is set to
/// a true value.
fn flag(name: &[u8]) -> bool {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: `name` is NUL-terminated (asserted above, all callers pass a
    // literal ending in `\0`); getenv returns either
    // null or a pointer to a NUL-terminated string inside the environment
    // block, which stays valid while we read it (nobody calls setenv from a
    // constructor, and the value is only inspected here).
    let value = unsafe { libc::getenv(name.as_ptr().cast()) };
    if value.is_null() {
        return false;
    }
    // SAFETY: non-null result of getenv, a NUL-terminated string (see above).
    let bytes = unsafe { CStr::from_ptr(value) }.to_bytes();
    is_true(bytes)
}

/// The truth value of an option string (see the module documentation).
fn is_true(v: &[u8]) -> bool {
    const FALSE: [&[u8]; 5] = [b"", b"0", b"false", b"no", b"off"];
    !FALSE.iter().any(|f| f.eq_ignore_ascii_case(v))
}
