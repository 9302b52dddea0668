//! The OS layer: address space and memory straight from the kernel, and the
//! few other services the allocator needs from it (writing a message, aborting).
//!
//! It mirrors Go's mem_linux.go. Memory moves through four states:
//!
//! - *None*: not mapped at all.
//! - *Reserved*: `sys_reserve` maps address space `PROT_NONE` with
//!   `MAP_NORESERVE`; touching it faults, it costs no memory and no commit
//!   charge. Heap arenas start here.
//! - *Ready*: `sys_map` turns reserved space into readable, writable,
//!   zero-filled anonymous memory. Pages cost RSS only once touched.
//! - *Released*: `sys_unused` hands the pages of Ready memory back with
//!   `madvise`; the range stays mapped and reads as zero again on the next
//!   touch (`MADV_DONTNEED`). `sys_used` is its counterpart (a no-op on Linux).
//!
//! `sys_alloc` maps Ready memory in one step, for metadata that lives outside
//! the arenas (`fixalloc`/`persistentalloc`), and `sys_free` unmaps.
//!
//! Nothing here allocates, and nothing here panics: every failure is returned
//! as `None`, and the only way out of the process is `fatal`, which writes its
//! message with `write(2)` and calls `abort`.

use crate::options;
use core::ptr::NonNull;

/// Reserves `size` bytes of address space near `hint` (0: anywhere), with no
/// access. The kernel may ignore the hint.
pub fn sys_reserve(hint: usize, size: usize) -> Option<NonNull<u8>> {
    mmap(
        hint,
        size,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
    )
}

/// Reserves `size` bytes aligned to `align` (a power of two, a multiple of the
/// OS page size). Tries exactly at `hint` first, so that successive
/// reservations can grow one contiguous heap.
pub fn sys_reserve_aligned(hint: usize, size: usize, align: usize) -> Option<NonNull<u8>> {
    if hint != 0 && hint % align == 0 {
        if let Some(p) = sys_reserve(hint, size) {
            if p.as_ptr() as usize == hint {
                return Some(p);
            }
            sys_free(p.as_ptr(), size);
        }
    }
    let padded = size.checked_add(align)?;
    let raw = sys_reserve(0, padded)?.as_ptr() as usize;
    let base = (raw + align - 1) & !(align - 1);
    if base > raw {
        sys_free(raw as *mut u8, base - raw);
    }
    let tail = raw + padded - (base + size);
    if tail > 0 {
        sys_free((base + size) as *mut u8, tail);
    }
    NonNull::new(base as *mut u8)
}

/// Makes reserved memory `[v, v+size)` readable and writable (and zero).
pub fn sys_map(v: *mut u8, size: usize) -> bool {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
    mmap(v as usize, size, libc::PROT_READ | libc::PROT_WRITE, flags)
        .is_some_and(|p| p.as_ptr() == v)
}

/// Maps `size` bytes of fresh zeroed memory anywhere.
pub fn sys_alloc(size: usize) -> Option<NonNull<u8>> {
    mmap(
        0,
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    )
}

/// Whether memory released by `sys_unused` reads as zero afterwards: true
/// for `MADV_DONTNEED` (the default), not for `MADV_FREE`.
pub fn released_pages_read_zero() -> bool {
    !options::madv_free()
}

/// Tells the kernel the pages of `[v, v+size)` are not needed: their memory
/// goes back to the OS at once and they read as zero on the next touch
/// (`MADV_DONTNEED`), or, with `GOHEAP_MADVISE=free`, whenever the kernel
/// needs memory (`MADV_FREE`).
pub fn sys_unused(v: *mut u8, size: usize) {
    let advice = if options::madv_free() {
        libc::MADV_FREE
    } else {
        libc::MADV_DONTNEED
    };
    // SAFETY: madvise on a range we own only drops page contents; a failure
    // (which cannot happen for a valid mapping) leaves the pages in place.
    unsafe { libc::madvise(v.cast(), size, advice) };
}

/// Unmaps `[v, v+size)`.
pub fn sys_free(v: *mut u8, size: usize) {
    // SAFETY: callers pass ranges they mapped and no longer reference.
    unsafe { libc::munmap(v.cast(), size) };
}

fn mmap(hint: usize, size: usize, prot: i32, flags: i32) -> Option<NonNull<u8>> {
    // SAFETY: an anonymous mapping touches no existing memory unless
    // MAP_FIXED is given, and then only ranges the caller reserved.
    let p = unsafe { libc::mmap(hint as *mut libc::c_void, size, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        None
    } else {
        NonNull::new(p.cast())
    }
}

/// Defines `pub mod $module { get, set }`: one machine word per thread,
/// zero in a new thread, reached on x86-64 Linux with the *initial-exec*
/// TLS model: one `mov` from `%fs`, even inside `libgoheap.so`, where
/// Rust's `thread_local!` would call `__tls_get_addr` (the general-dynamic
/// model is all stable Rust offers a shared library). That is what
/// LD_PRELOAD'ed allocators do; the library can still be dlopen'ed, from the
/// static TLS surplus glibc keeps for this. Elsewhere it is a plain
/// `thread_local!`.
macro_rules! thread_word {
    ($(#[$doc:meta])* $module:ident, $symbol:literal) => {
        $(#[$doc])*
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        pub mod $module {
            core::arch::global_asm!(
                concat!(".section .tbss.", $symbol, ",\"awT\",@nobits"),
                ".p2align 3",
                concat!(".globl ", $symbol),
                concat!(".hidden ", $symbol),
                concat!(".type ", $symbol, ",@object"),
                concat!(".size ", $symbol, ",8"),
                concat!($symbol, ":"),
                ".zero 8",
                ".text",
            );

            #[inline(always)]
            pub fn get() -> usize {
                let v: usize;
                // SAFETY: reads this thread's copy of the TLS word defined above.
                unsafe {
                    core::arch::asm!(
                        concat!("mov {v}, qword ptr [rip + ", $symbol, "@GOTTPOFF]"),
                        "mov {v}, qword ptr fs:[{v}]",
                        v = out(reg) v,
                        options(nostack, readonly, preserves_flags, pure),
                    )
                };
                v
            }

            #[inline(always)]
            pub fn set(v: usize) {
                // SAFETY: writes this thread's copy of the TLS word defined above.
                unsafe {
                    core::arch::asm!(
                        concat!("mov {t}, qword ptr [rip + ", $symbol, "@GOTTPOFF]"),
                        "mov qword ptr fs:[{t}], {v}",
                        t = out(reg) _,
                        v = in(reg) v,
                        options(nostack, preserves_flags),
                    )
                };
            }
        }

        $(#[$doc])*
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        pub mod $module {
            use core::cell::Cell;

            thread_local! {
                static WORD: Cell<usize> = const { Cell::new(0) };
            }

            #[inline(always)]
            pub fn get() -> usize {
                WORD.with(Cell::get)
            }

            #[inline(always)]
            pub fn set(v: usize) {
                WORD.with(|w| w.set(v));
            }
        }
    };
}

thread_word!(
    /// The allocator's word: the thread's mcache pointer, read on every
    /// allocation and free.
    thread_word,
    "goheap_thread_word"
);

thread_word!(
    /// The managed heap's word: the thread's GC cache (`gc::mcache`).
    gc_cache_word,
    "goheap_gc_cache_word"
);

thread_word!(
    /// libgc's C side: the calling thread's registration record
    /// (`gc::stoptheworld`), null while it is not registered.
    c_thread_word,
    "goheap_c_thread_word"
);

/// Writes `parts` to standard error without allocating.
/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> core::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    core::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn write_stderr(parts: &[&[u8]]) {
    for part in parts {
        let mut rest = *part;
        while !rest.is_empty() {
            // SAFETY: writing from a valid slice to fd 2.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                break;
            }
            rest = rest.get(n as usize..).unwrap_or(&[]);
        }
    }
}

/// Formats `v` as `0x…` into `buf` and returns the used tail of it.
pub fn hex(v: usize, buf: &mut [u8; 18]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[v & 15];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    buf[i - 1] = b'x';
    buf[i - 2] = b'0';
    &buf[i - 2..]
}

/// Formats `v` in decimal into `buf` and returns the used tail of it.
pub fn decimal(v: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Prints `goheap: <op>(): <what> 0x<addr>` and aborts the process, like Go's
/// `throw`: the allocator's state can no longer be trusted.
pub fn fatal(op: &str, what: &str, addr: usize) -> ! {
    let mut buf = [0u8; 18];
    let addr = hex(addr, &mut buf);
    write_stderr(&[
        b"goheap: ",
        op.as_bytes(),
        b"(): ",
        what.as_bytes(),
        b" ",
        addr,
        b"\n",
    ]);
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal_format_without_allocating() {
        let mut b = [0u8; 18];
        assert_eq!(hex(0, &mut b), b"0x0");
        assert_eq!(hex(0xdead_beef, &mut b), b"0xdeadbeef");
        assert_eq!(hex(usize::MAX, &mut b), b"0xffffffffffffffff");
        let mut d = [0u8; 20];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(usize::MAX, &mut d), b"18446744073709551615");
    }

    #[test]
    fn thread_word_is_per_thread() {
        thread_word::set(41);
        std::thread::spawn(|| {
            assert_eq!(thread_word::get(), 0, "a new thread starts at zero");
            thread_word::set(7);
            assert_eq!(thread_word::get(), 7);
        })
        .join()
        .unwrap();
        assert_eq!(thread_word::get(), 41);
        thread_word::set(0);
    }

    #[test]
    fn reserve_aligned_is_aligned_and_mappable() {
        let align = 64 << 20;
        let p = sys_reserve_aligned(0, align, align).unwrap().as_ptr();
        assert_eq!(p as usize % align, 0);
        assert!(sys_map(p, 1 << 20));
        // SAFETY: the first MiB was just mapped read/write.
        unsafe {
            assert_eq!(*p, 0);
            *p = 7;
            sys_unused(p, 1 << 20);
            assert_eq!(*p, 0, "MADV_DONTNEED pages read as zero");
        }
        sys_free(p, align);
    }
}
