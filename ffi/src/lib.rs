//! goheap-ffi: the C ABI of goheap, built as `libgoheap.so` (for `LD_PRELOAD`
//! or dynamic linking) and `libgoheap.a` (for static linking).
//!
//! It exports the C/POSIX/glibc malloc family with glibc-compatible semantics,
//! the glibc-internal aliases (`__libc_malloc`, ...) that programs and
//! libraries reach directly, and every function a second time under a
//! `goheap_` prefix (declared in `include/goheap.h`). Everything forwards to
//! the allocator core, `goheap::malloc`.
//!
//! Design notes:
//! * Every request is rounded up to a multiple of 16 and allocated with at
//!   least 16-byte alignment, so each result is aligned for `max_align_t`,
//!   as glibc's are.
//! * errno: out of memory gives NULL with `ENOMEM`; the `posix_memalign`
//!   family returns its error code and leaves errno alone.
//! * C++ `operator new`/`delete` are deliberately NOT exported: libstdc++'s
//!   operators call `malloc`/`aligned_alloc`/`free`, which resolve to ours, and
//!   libstdc++ already implements what C++ requires on failure (loop calling
//!   the `new_handler`, then throw `std::bad_alloc`, or return null for the
//!   nothrow forms). Rust cannot throw a C++ exception, so exporting them here
//!   could only get that contract wrong.
//! * Nothing in this crate allocates through Rust `std` (no `format!`, no
//!   `String`); whatever std itself allocates inside the library goes through
//!   the default `System` allocator to the `malloc` exported here (see the note
//!   on `#[global_allocator]` below for why it is not set).
//! * A constructor (`.init_array`) reads the `GOHEAP_*` options (module
//!   `options`) and prints the `GOHEAP_VERBOSE` banner.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod chan;
mod gc;
mod memlimit;
mod options;
mod profile;
mod sched;
mod stats;

use core::ffi::{c_char, c_int, c_void};
use goheap::malloc as heap;

// No `#[global_allocator]` here, on purpose. With one, rustc emits the
// allocator shim (`__rust_alloc`, `__rust_dealloc`, ...) into the same object
// file as `malloc`, so a Rust program that links libgoheap.a (and has its own
// shim) fails with duplicate symbols. Without one, the little that Rust std
// allocates inside libgoheap goes through the default `System` allocator,
// i.e. `malloc`, which resolves to the `malloc` exported here in every way
// the library is used (LD_PRELOAD, dynamic or static linking): it still ends
// up in goheap, one call later.

/// Minimum alignment of every result (`alignof(max_align_t)` on x86-64 and
/// aarch64 Linux).
const MIN_ALIGN: usize = 16;

/// Largest request passed to the core. Anything above cannot be satisfied (a
/// Rust object may not exceed `isize::MAX` bytes) and fails with `ENOMEM`;
/// keeping a margin below `isize::MAX` also makes rounding up to 16 (or to an
/// alignment, see [`alloc_aligned`]) overflow-free.
const MAX_REQUEST: usize = (isize::MAX as usize) - (1 << 20);

/// Alignments above this cannot be satisfied on a 64-bit address space anyway.
const MAX_ALIGN: usize = 1 << 40;

// ---------------------------------------------------------------------------
// errno
// ---------------------------------------------------------------------------

#[inline]
fn errno() -> c_int {
    // SAFETY: __errno_location always returns a valid pointer to the calling
    // thread's errno.
    unsafe { *libc::__errno_location() }
}

#[inline]
fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

/// Sets errno to ENOMEM and returns NULL (the out-of-memory result).
#[cold]
#[inline(never)]
fn enomem() -> *mut c_void {
    set_errno(libc::ENOMEM);
    core::ptr::null_mut()
}

/// Sets errno to EINVAL and returns NULL.
#[cold]
#[inline(never)]
fn einval() -> *mut c_void {
    set_errno(libc::EINVAL);
    core::ptr::null_mut()
}

/// `size` rounded up to a multiple of 16; `size` must be `<= MAX_REQUEST`.
#[inline(always)]
const fn round16(size: usize) -> usize {
    (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions and does not allocate.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

// ---------------------------------------------------------------------------
// Implementations, shared by the standard names, the __libc_ names and the
// goheap_ names. `op` is the C name being called, used in goheap's messages
// about invalid pointers.
// ---------------------------------------------------------------------------

/// Small sizes take one compare to the core's fast path, a list pop with no
/// call; an empty list goes to `malloc_small_slow`, other sizes to
/// `malloc_large`.
#[inline(always)]
fn malloc_impl(size: usize) -> *mut c_void {
    if size > heap::C_SMALL_MAX {
        return malloc_large(size);
    }
    let p = heap::try_alloc_c_small(size);
    if p.is_null() {
        return malloc_small_slow(size);
    }
    p.cast()
}

#[inline(never)]
fn malloc_small_slow(size: usize) -> *mut c_void {
    let p = heap::alloc_c_small(size);
    if p.is_null() {
        return enomem();
    }
    p.cast()
}

#[inline(never)]
fn malloc_large(size: usize) -> *mut c_void {
    if size > MAX_REQUEST {
        return enomem();
    }
    let p = heap::alloc(round16(size), MIN_ALIGN);
    if p.is_null() {
        return enomem();
    }
    p.cast()
}

/// # Safety
/// `p` is null or a live block from this allocator (otherwise goheap aborts).
#[inline(always)]
unsafe fn free_impl(p: *mut c_void, op: &'static str) {
    // SAFETY: forwarded contract; the core handles null and diagnoses
    // invalid pointers.
    unsafe { heap::free(p.cast(), op) }
}

#[inline]
fn calloc_impl(n: usize, size: usize) -> *mut c_void {
    let total = match n.checked_mul(size) {
        Some(t) if t <= MAX_REQUEST => t,
        _ => return enomem(),
    };
    let p = heap::alloc_zeroed(round16(total), MIN_ALIGN);
    if p.is_null() {
        return enomem();
    }
    p.cast()
}

/// glibc `realloc`: NULL `p` allocates; size 0 frees `p` and returns NULL
/// (errno untouched); failure returns NULL with ENOMEM, `p` untouched.
///
/// # Safety
/// `p` is null or a live block from this allocator (otherwise goheap aborts).
#[inline]
unsafe fn realloc_impl(p: *mut c_void, size: usize, op: &'static str) -> *mut c_void {
    if p.is_null() {
        return malloc_impl(size);
    }
    if size == 0 {
        // SAFETY: p is a live block (caller contract).
        unsafe { heap::free(p.cast(), op) };
        return core::ptr::null_mut();
    }
    if size > MAX_REQUEST {
        return enomem();
    }
    // SAFETY: p is non-null and, by the caller's contract, a live block; the
    // core aborts with a message naming `op` otherwise.
    let q = unsafe { heap::realloc(p.cast(), round16(size), MIN_ALIGN, op) };
    if q.is_null() {
        return enomem();
    }
    q.cast()
}

/// # Safety
/// As [`realloc_impl`].
#[inline]
unsafe fn reallocarray_impl(
    p: *mut c_void,
    n: usize,
    size: usize,
    op: &'static str,
) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: forwarded contract.
        Some(total) => unsafe { realloc_impl(p, total, op) },
        None => enomem(),
    }
}

/// Allocates `size` bytes aligned to `align`, which must be a power of two.
/// NULL with ENOMEM on failure.
#[inline]
fn alloc_aligned(align: usize, size: usize) -> *mut c_void {
    debug_assert!(align.is_power_of_two());
    if align <= MIN_ALIGN {
        return malloc_impl(size);
    }
    if size > MAX_REQUEST || align > MAX_ALIGN {
        return enomem();
    }
    let p = heap::alloc(round16(size), align);
    if p.is_null() {
        return enomem();
    }
    p.cast()
}

/// glibc 2.36 `memalign`: alignments up to 16 behave as `malloc`; an
/// alignment above `SIZE_MAX/2 + 1` fails with EINVAL; any other alignment
/// that is not a power of two is rounded up to the next one.
#[inline]
fn memalign_impl(align: usize, size: usize) -> *mut c_void {
    if align <= MIN_ALIGN {
        return malloc_impl(size);
    }
    if align > (usize::MAX / 2) + 1 {
        return einval();
    }
    alloc_aligned(align.next_power_of_two(), size)
}

/// C11 `aligned_alloc`, as glibc ≥ 2.38 does it: the alignment must be a
/// power of two (EINVAL otherwise); the size need not be a multiple of it.
#[inline]
fn aligned_alloc_impl(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        return einval();
    }
    alloc_aligned(align, size)
}

/// POSIX `posix_memalign`: returns 0, EINVAL (alignment not a power of two
/// multiple of `sizeof(void *)`) or ENOMEM; never modifies errno, and leaves
/// `*memptr` untouched on failure.
///
/// # Safety
/// `memptr` must be valid for a pointer-sized write.
#[inline]
unsafe fn posix_memalign_impl(
    memptr: *mut *mut c_void,
    align: usize,
    size: usize,
    _op: &'static str,
) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let saved = errno();
    let p = alloc_aligned(align, size);
    if p.is_null() {
        set_errno(saved);
        return libc::ENOMEM;
    }
    // SAFETY: caller contract.
    unsafe { *memptr = p };
    0
}

#[inline]
fn valloc_impl(size: usize) -> *mut c_void {
    alloc_aligned(page_size(), size)
}

/// `pvalloc`: page-aligned, size rounded up to a whole number of pages.
#[inline]
fn pvalloc_impl(size: usize) -> *mut c_void {
    let page = page_size();
    match size.checked_add(page - 1) {
        Some(s) => alloc_aligned(page, s & !(page - 1)),
        None => enomem(),
    }
}

/// # Safety
/// `p` is null or a live block from this allocator (otherwise goheap aborts).
#[inline]
unsafe fn usable_size_impl(p: *mut c_void, op: &'static str) -> usize {
    if p.is_null() {
        return 0;
    }
    // SAFETY: p is non-null and a live block by the caller's contract; the
    // core aborts with a message otherwise.
    unsafe { heap::usable_size(p.cast(), op) }
}

// ---------------------------------------------------------------------------
// Exported functions.
//
// SAFETY (for every `unsafe extern "C" fn` below): these are C entry points
// whose contracts are those of the C functions they implement, documented in
// include/goheap.h: pointers passed in must be NULL or blocks returned by this
// allocator and not yet freed, and out-pointers must be writable.
// ---------------------------------------------------------------------------

/// Defines a C entry point under each of several names, each forwarding to
/// one implementation. `op` in an implementation's arguments receives the
/// name the program called (for goheap's messages about bad pointers).
macro_rules! c_entry {
    (@each $attrs:tt [$name:ident $(, $more:ident)*] $($rest:tt)*) => {
        c_entry!(@one $attrs $name $($rest)*);
        c_entry!(@each $attrs [$($more),*] $($rest)*);
    };
    (@each $attrs:tt [] $($rest:tt)*) => {};
    (@one [$(#[$m:meta])*] $name:ident fn($($arg:ident: $ty:ty),*) -> $ret:ty = $imp:ident) => {
        $(#[$m])*
        #[no_mangle]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            $imp($($arg),*)
        }
    };
    (@one [$(#[$m:meta])*] $name:ident unsafe fn($($arg:ident: $ty:ty),*) -> $ret:ty = $imp:ident) => {
        $(#[$m])*
        ///
        /// # Safety
        /// The contract of the C function (include/goheap.h).
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: same contract as this C entry point.
            unsafe { $imp($($arg,)* stringify!($name)) }
        }
    };
    ($(#[$m:meta])* [$($name:ident),+] $($rest:tt)*) => {
        c_entry!(@each [$(#[$m])*] [$($name),+] $($rest)*);
    };
}

c_entry! {
    /// `malloc(3)`: `size` bytes, 16-byte aligned; NULL + ENOMEM on failure.
    [malloc, __libc_malloc, goheap_malloc] fn(size: usize) -> *mut c_void = malloc_impl
}
c_entry! {
    /// `calloc(3)`: zeroed `n * size` bytes; NULL + ENOMEM on overflow or failure.
    [calloc, __libc_calloc, goheap_calloc] fn(n: usize, size: usize) -> *mut c_void = calloc_impl
}
c_entry! {
    /// `memalign(3)` with glibc 2.36 semantics (see `memalign_impl`).
    [memalign, __libc_memalign, goheap_memalign] fn(align: usize, size: usize) -> *mut c_void = memalign_impl
}
c_entry! {
    /// C11 `aligned_alloc`: power-of-two alignment, else NULL + EINVAL.
    [aligned_alloc, goheap_aligned_alloc] fn(align: usize, size: usize) -> *mut c_void = aligned_alloc_impl
}
c_entry! {
    /// `valloc(3)`: page-aligned allocation.
    [valloc, __libc_valloc, goheap_valloc] fn(size: usize) -> *mut c_void = valloc_impl
}
c_entry! {
    /// `pvalloc(3)`: page-aligned, size rounded up to whole pages.
    [pvalloc, __libc_pvalloc, goheap_pvalloc] fn(size: usize) -> *mut c_void = pvalloc_impl
}
c_entry! {
    /// `free(3)`: NULL is a no-op; an invalid pointer or a double free aborts
    /// with a message on stderr.
    [free, __libc_free, cfree, goheap_free] unsafe fn(p: *mut c_void) -> () = free_impl
}
c_entry! {
    /// `realloc(3)` with glibc semantics: NULL allocates, size 0 frees and
    /// returns NULL, failure returns NULL + ENOMEM and leaves `p` untouched.
    [realloc, __libc_realloc, goheap_realloc] unsafe fn(p: *mut c_void, size: usize) -> *mut c_void = realloc_impl
}
c_entry! {
    /// `reallocarray(3)`: `realloc(p, n * size)`; overflow gives NULL + ENOMEM.
    [reallocarray, goheap_reallocarray] unsafe fn(p: *mut c_void, n: usize, size: usize) -> *mut c_void = reallocarray_impl
}
c_entry! {
    /// `malloc_usable_size(3)`: bytes usable at `p` (0 for NULL).
    [malloc_usable_size, goheap_malloc_usable_size] unsafe fn(p: *mut c_void) -> usize = usable_size_impl
}
c_entry! {
    /// `posix_memalign(3)`: returns 0, EINVAL or ENOMEM; errno is not modified.
    /// `memptr` must be valid for writing a pointer.
    [posix_memalign, goheap_posix_memalign] unsafe fn(memptr: *mut *mut c_void, align: usize, size: usize) -> c_int = posix_memalign_impl
}

// ---------------------------------------------------------------------------
// Load-time constructor: options and the GOHEAP_VERBOSE banner.
//
// It lives in the crate root, next to `malloc`, so that it lands in the same
// object file of libgoheap.a: a static link that pulls in `malloc` therefore
// also pulls in this `.init_array` entry.
// ---------------------------------------------------------------------------

#[used]
#[link_section = ".init_array"]
static GOHEAP_CONSTRUCTOR: extern "C" fn() = goheap_constructor;

extern "C" fn goheap_constructor() {
    if options::get().verbose {
        banner();
    }
}

/// Writes `goheap: libgoheap <version> loaded (pid N, <object>)` to stderr
/// without allocating.
fn banner() {
    let mut buf = Buf::new();
    buf.push(b"goheap: libgoheap ");
    buf.push(env!("CARGO_PKG_VERSION").as_bytes());
    buf.push(b" loaded (pid ");
    // SAFETY: getpid has no preconditions.
    buf.push_u64(unsafe { libc::getpid() } as u64);
    // SAFETY: Dl_info is plain data for which all-zero is a valid value.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables and writes `info`; the
    // address is a function of this object. dli_fname, when non-null, is a
    // NUL-terminated string owned by the loader.
    let found = unsafe { libc::dladdr(banner as *const c_void, &mut info) } != 0;
    if found && !info.dli_fname.is_null() {
        // SAFETY: see above.
        let name = unsafe { core::ffi::CStr::from_ptr(info.dli_fname as *const c_char) };
        if !name.to_bytes().is_empty() {
            buf.push(b", ");
            buf.push(name.to_bytes());
        }
    }
    buf.push(b")\n");
    buf.write_stderr();
}

/// A fixed-size line buffer (truncates silently).
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Self {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn write_stderr(&self) {
        // SAFETY: the buffer is valid for `len` bytes; a short or failed
        // write of a diagnostic line is acceptable.
        unsafe { libc::write(2, self.bytes.as_ptr().cast(), self.len) };
    }
}
