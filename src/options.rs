//! `GOHEAP_*` environment options, read once without allocating (as Go reads
//! `GODEBUG`).
//!
//! - `GOHEAP_DEBUG=scavtrace=1`: the scavenger prints a line to stderr each
//!   time it hands memory back (like Go's `GODEBUG=scavtrace=1`).
//! - `GOHEAP_MADVISE=free`: release pages with `MADV_FREE` (the kernel takes
//!   them back lazily, under memory pressure) instead of `MADV_DONTNEED`.
//! - `GOHEAP_STATS=1`: statistics on stderr at exit (set by `goheap run
//!   --stats`).
//!
//! - `GOHEAP_DEBUG=gctrace=1`: the collector prints one line per cycle to
//!   stderr, in the format of Go's `GODEBUG=gctrace=1`.
//! - `GOHEAP_DEBUG=schedtrace=X`: sysmon prints Go's `SCHED` line (the
//!   scheduler's Ps, Ms and run queues) to stderr every X milliseconds.
//! - `GOHEAP_DEBUG=gcstoptheworld=1`: every cycle marks with the world
//!   held, as before the concurrent mark (Go's `gcstoptheworld=1`).
//! - `GOHEAP_DEBUG=gcmarkthread=N`: N mark worker threads instead of 25%
//!   of the CPUs (at least one). 0: none, the concurrent mark runs on the
//!   scheduler's Ps (Go's fractional and idle workers) and in assists only;
//!   without the scheduler, cycles then stop the world.
//! - `GOHEAP_GOGC=N` (default 100) or `off`: the managed heap's growth
//!   between collections, as Go's `GOGC`.
//!
//! - `GOHEAP_MEMLIMIT=N[B|KiB|MiB|GiB|TiB]` or `off`: a soft limit on all
//!   the memory goheap manages (malloc heap, GC heap, metadata), as Go's
//!   `GOMEMLIMIT` (`alloc::scavenger` keeps it).
//!
//! `GOHEAP_DEBUG` is a comma-separated list of `name=value` pairs, like
//! `GODEBUG`. Unknown names are ignored.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU8, Ordering};

const UNREAD: u8 = 0;
const READ: u8 = 1;
const SCAVTRACE: u8 = 2;
const MADV_FREE: u8 = 4;
const STATS: u8 = 8;
const GCTRACE: u8 = 16;
const GCSTOPTHEWORLD: u8 = 32;
const NO_GCMARKTHREAD: u8 = 64;

static FLAGS: AtomicU8 = AtomicU8::new(UNREAD);

fn flags() -> u8 {
    let f = FLAGS.load(Ordering::Relaxed);
    if f != UNREAD {
        return f;
    }
    let mut f = READ;
    if debug_value(b"scavtrace").is_some_and(is_on) {
        f |= SCAVTRACE;
    }
    if env(c"GOHEAP_MADVISE").is_some_and(|v| v == b"free") {
        f |= MADV_FREE;
    }
    if env(c"GOHEAP_STATS").is_some_and(is_on) {
        f |= STATS;
    }
    if debug_value(b"gctrace").is_some_and(is_on) {
        f |= GCTRACE;
    }
    if debug_value(b"gcstoptheworld").is_some_and(is_on) {
        f |= GCSTOPTHEWORLD;
    }
    if debug_value(b"gcmarkthread").is_some_and(|v| !is_on(v)) {
        f |= NO_GCMARKTHREAD;
    }
    FLAGS.store(f, Ordering::Relaxed);
    f
}

/// `GOHEAP_DEBUG=scavtrace=1`.
pub fn scavtrace() -> bool {
    flags() & SCAVTRACE != 0
}

/// `GOHEAP_MADVISE=free`.
pub fn madv_free() -> bool {
    flags() & MADV_FREE != 0
}

/// `GOHEAP_STATS=1`.
pub fn stats_at_exit() -> bool {
    flags() & STATS != 0
}

/// `GOHEAP_DEBUG=gctrace=1`.
pub fn gctrace() -> bool {
    flags() & GCTRACE != 0
}

/// `GOHEAP_DEBUG=schedtrace=X`: the period in milliseconds (0: off).
pub fn schedtrace_ms() -> u64 {
    debug_value(b"schedtrace")
        .and_then(|v| core::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Not `GOHEAP_DEBUG=gcmarkthread=0`.
pub fn gc_mark_thread() -> bool {
    flags() & NO_GCMARKTHREAD == 0
}

/// `GOHEAP_DEBUG=gcmarkthread=N`, if set to a number.
pub fn gc_mark_threads() -> Option<usize> {
    core::str::from_utf8(debug_value(b"gcmarkthread")?)
        .ok()?
        .parse()
        .ok()
}

/// `GOHEAP_DEBUG=gcstoptheworld=1`.
pub fn gcstoptheworld() -> bool {
    flags() & GCSTOPTHEWORLD != 0
}

/// `GOHEAP_GOGC`: `Some(percent)` (default 100), `None` for `off`.
pub fn gogc() -> Option<u32> {
    parse_gogc(env(c"GOHEAP_GOGC"))
}

fn parse_gogc(v: Option<&[u8]>) -> Option<u32> {
    match v {
        None | Some(b"") => Some(100),
        Some(b"off") => None,
        Some(v) => core::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map_or(Some(100), |n| u32::try_from(n).ok()),
    }
}

/// `GOHEAP_MEMLIMIT`: `Some(bytes)`, `None` when unset or `off`; an
/// invalid value is reported on stderr and ignored.
pub fn memlimit() -> Option<u64> {
    let v = env(c"GOHEAP_MEMLIMIT")?;
    let parsed = parse_memlimit(v);
    if parsed.is_err() {
        crate::os::write_stderr(&[
            b"goheap: GOHEAP_MEMLIMIT=",
            v,
            b" is not a size (N with an optional B, KiB, MiB, GiB or TiB suffix, or off): ignored\n",
        ]);
    }
    parsed.ok().flatten()
}

/// Go's `GOMEMLIMIT` syntax (runtime.parseByteCount): decimal digits and an
/// optional unit; `off` is no limit.
fn parse_memlimit(v: &[u8]) -> Result<Option<u64>, ()> {
    if v == b"off" {
        return Ok(None);
    }
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    let shift = match &v[digits..] {
        b"" | b"B" => 0,
        b"KiB" => 10,
        b"MiB" => 20,
        b"GiB" => 30,
        b"TiB" => 40,
        _ => return Err(()),
    };
    let n: u64 = core::str::from_utf8(&v[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(())?;
    let bytes = n.checked_mul(1 << shift).ok_or(())?;
    i64::try_from(bytes).map(|b| Some(b as u64)).map_err(|_| ())
}

fn is_on(v: &[u8]) -> bool {
    !matches!(v, b"" | b"0" | b"false" | b"no" | b"off")
}

pub(crate) fn env(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv does not allocate; the result points into the
    // environment, which we only read, and is null or NUL-terminated.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        None
    } else {
        // SAFETY: as above.
        Some(unsafe { CStr::from_ptr(v) }.to_bytes())
    }
}

/// The value of `name` in `GOHEAP_DEBUG`.
fn debug_value(name: &[u8]) -> Option<&'static [u8]> {
    debug_lookup(env(c"GOHEAP_DEBUG")?, name)
}

fn debug_lookup<'a>(list: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    list.split(|&b| b == b',').find_map(|item| {
        let eq = item.iter().position(|&b| b == b'=')?;
        (&item[..eq] == name).then(|| &item[eq + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_lists_parse_like_godebug() {
        assert_eq!(debug_lookup(b"scavtrace=1", b"scavtrace"), Some(&b"1"[..]));
        assert_eq!(
            debug_lookup(b"x=2,scavtrace=0", b"scavtrace"),
            Some(&b"0"[..])
        );
        assert_eq!(debug_lookup(b"x=2,scav", b"scavtrace"), None);
        assert!(is_on(b"1") && !is_on(b"0") && !is_on(b""));
    }

    #[test]
    fn gogc_parses_like_go() {
        assert_eq!(parse_gogc(None), Some(100));
        assert_eq!(parse_gogc(Some(b"50")), Some(50));
        assert_eq!(parse_gogc(Some(b"off")), None);
        assert_eq!(parse_gogc(Some(b"-1")), None, "negative is off, as in Go");
        assert_eq!(parse_gogc(Some(b"junk")), Some(100));
    }

    #[test]
    fn memlimit_parses_like_gomemlimit() {
        assert_eq!(parse_memlimit(b"1048576"), Ok(Some(1 << 20)));
        assert_eq!(parse_memlimit(b"512B"), Ok(Some(512)));
        assert_eq!(parse_memlimit(b"64MiB"), Ok(Some(64 << 20)));
        assert_eq!(parse_memlimit(b"3GiB"), Ok(Some(3 << 30)));
        assert_eq!(parse_memlimit(b"2TiB"), Ok(Some(2 << 40)));
        assert_eq!(parse_memlimit(b"off"), Ok(None));
        for bad in [&b""[..], b"64M", b"MiB", b"-1", b"1.5GiB", b"9999999TiB"] {
            assert_eq!(parse_memlimit(bad), Err(()), "{:?}", bad);
        }
    }
}
