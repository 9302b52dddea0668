//! libgc's C API (Boehm GC's `gc.h`, Debian's libgc 8.2), exported with
//! libgc's exact signatures so that a program compiled against libgc's own
//! header runs on goheap's collector unchanged: linked with libgoheap.a or
//! libgoheap.so instead of -lgc, or with libgoheap.so preloaded over a -lgc
//! binary. The logic lives in `goheap::gc::libgc`; this module only exports.
//!
//! Every other function and variable that Debian's libgc.so.1 exports is
//! exported too (`gc_unsupported.rs`, generated): a function aborts with
//! `goheap: GC_<name> is not supported`, a variable is a zeroed static of
//! libgc's size, so that a preloaded goheap never leaves a program running
//! partly on libgc.
//!
//! libgc's variables that goheap reads (`GC_finalize_on_demand`,
//! `GC_finalizer_notifier`, `GC_oom_fn`, `GC_dont_gc`) or writes
//! (`GC_gc_no`) are defined here with libgc's initial values. A non-PIE
//! program that names one gets its own copy (a copy relocation) which the
//! dynamic linker, not this library, then owns; [`var`] therefore finds the
//! live copy with `dlsym(RTLD_DEFAULT)` (the program's, else ours) once.

#![allow(non_upper_case_globals, non_snake_case)]

#[path = "gc_unsupported.rs"]
mod unsupported;

use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use goheap::gc::libgc::{self, FinalizerFn, Kind, Mode};

type GcWord = usize;
type OomFn = unsafe extern "C" fn(usize) -> *mut c_void;
type WarnProc = unsafe extern "C" fn(*mut c_char, GcWord);
type Notifier = unsafe extern "C" fn();
type StackBaseFn = unsafe extern "C" fn(*mut GcStackBase, *mut c_void) -> *mut c_void;
type ClientFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

/// `struct GC_stack_base` on x86-64 and aarch64 Linux.
#[repr(C)]
pub struct GcStackBase {
    mem_base: *mut c_void,
}

const GC_SUCCESS: c_int = 0;
const GC_DUPLICATE: c_int = 1;
const GC_UNIMPLEMENTED: c_int = 3;
/// GC_VERSION_MAJOR << 16 | MINOR << 8 | MICRO of the API implemented (8.2.2).
const GC_VERSION_VAL: u32 = (8 << 16) | (2 << 8) | 2;

// ---------------------------------------------------------------------------
// Variables goheap uses (libgc's initial values)

#[no_mangle]
pub static mut GC_finalize_on_demand: c_int = 0;
#[no_mangle]
pub static mut GC_java_finalization: c_int = 1;
#[no_mangle]
pub static mut GC_all_interior_pointers: c_int = 1;
#[no_mangle]
pub static mut GC_dont_gc: c_int = 0;
#[no_mangle]
pub static mut GC_gc_no: GcWord = 0;
#[no_mangle]
pub static mut GC_finalizer_notifier: Option<Notifier> = None;
#[no_mangle]
pub static mut GC_oom_fn: Option<OomFn> = Some(default_oom_fn);
#[no_mangle]
pub static mut GC_free_space_divisor: GcWord = 3;
#[no_mangle]
pub static mut GC_full_freq: c_int = 19;
#[no_mangle]
pub static mut GC_time_limit: GcWord = 50;
#[no_mangle]
pub static GC_debug_header_size: usize = 0;

/// The live copy of libgc variable `name` (see the module comment).
fn var<T>(cache: &AtomicPtr<T>, name: &CStr, own: *mut T) -> *mut T {
    let p = cache.load(Ordering::Acquire);
    if !p.is_null() {
        return p;
    }
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // program first, as symbol binding does.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as *mut T;
    let p = if found.is_null() { own } else { found };
    cache.store(p, Ordering::Release);
    p
}

macro_rules! live {
    ($name:ident: $ty:ty) => {{
        static CACHE: AtomicPtr<$ty> = AtomicPtr::new(ptr::null_mut());
        var(
            &CACHE,
            const {
                match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                    Ok(name) => name,
                    Err(_) => panic!("libgc variable name"),
                }
            },
            &raw mut $name,
        )
    }};
}

fn finalize_on_demand() -> bool {
    // SAFETY: the live copy of an int variable; the program writes it only
    // between its own calls (libgc's contract for these variables).
    unsafe { *live!(GC_finalize_on_demand: c_int) != 0 }
}

fn notifier() -> Option<Notifier> {
    // SAFETY: as above.
    unsafe { *live!(GC_finalizer_notifier: Option<Notifier>) }
}

fn oom_fn() -> Option<OomFn> {
    // SAFETY: as above.
    unsafe { *live!(GC_oom_fn: Option<OomFn>) }
}

fn publish_gc_no() {
    // SAFETY: as above; goheap is the only writer.
    unsafe { *live!(GC_gc_no: GcWord) = libgc::gc_no() };
}

unsafe extern "C" fn default_oom_fn(_bytes: usize) -> *mut c_void {
    ptr::null_mut()
}

extern "C" {
    fn dprintf(fd: c_int, format: *const c_char, ...) -> c_int;
}

unsafe extern "C" fn default_warn_proc(msg: *mut c_char, arg: GcWord) {
    // SAFETY: libgc's warn procs receive a printf format with one word
    // argument; stderr is fd 2.
    unsafe { dprintf(2, msg, arg) };
}

static WARN_PROC: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

// ---------------------------------------------------------------------------
// Initialisation and allocation

/// `void GC_init(void)`.
#[no_mangle]
pub extern "C" fn GC_init() {
    let first = !libgc::is_initialized();
    libgc::init();
    if first {
        libgc::after_cycle(publish_gc_no);
        // SAFETY: the live copy of an int variable.
        if unsafe { *live!(GC_dont_gc: c_int) } != 0 {
            libgc::disable();
        }
    }
}

/// `int GC_is_init_called(void)`.
#[no_mangle]
pub extern "C" fn GC_is_init_called() -> c_int {
    libgc::is_initialized() as c_int
}

/// libgc's allocation: inline, the registered thread's own cache when no
/// finalizer waits; else [`allocate_slow`].
#[inline(always)]
fn allocate(size: usize, kind: Kind) -> *mut c_void {
    if !libgc::finalizers_ready() {
        let p = libgc::malloc_cached(size, kind);
        if !p.is_null() {
            return p.cast();
        }
    }
    allocate_slow(size, kind)
}

#[inline(never)]
fn allocate_slow(size: usize, kind: Kind) -> *mut c_void {
    if !libgc::is_initialized() {
        GC_init();
    }
    if libgc::finalizers_ready() {
        libgc::notify_or_invoke(finalize_on_demand(), notifier());
    }
    let p = libgc::malloc(size, kind);
    if p.is_null() {
        return out_of_memory(size);
    }
    p.cast()
}

fn out_of_memory(size: usize) -> *mut c_void {
    match oom_fn() {
        // SAFETY: the program's oom function, called as libgc calls it.
        Some(f) => unsafe { f(size) },
        None => ptr::null_mut(),
    }
}

/// Defines `void *<name>(size_t)` entry points allocating objects of a kind.
macro_rules! alloc_entries {
    ($($(#[$doc:meta])* $name:ident => $kind:ident,)*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub extern "C" fn $name(size: usize) -> *mut c_void {
            allocate(size, Kind::$kind)
        }
    )*};
}

alloc_entries! {
    /// `GC_malloc`: scanned conservatively, zeroed.
    GC_malloc => Conservative,
    /// `GC_malloc_atomic`: never scanned, not zeroed.
    GC_malloc_atomic => Atomic,
    /// `GC_malloc_uncollectable`: a root until `GC_free`.
    GC_malloc_uncollectable => Uncollectable,
    /// `GC_malloc_atomic_uncollectable`: uncollectable; goheap also scans it
    /// (libgc does not: only more retention, never less).
    GC_malloc_atomic_uncollectable => Uncollectable,
    /// `GC_malloc_ignore_off_page`: as `GC_malloc` (goheap recognises every
    /// interior pointer anyway).
    GC_malloc_ignore_off_page => Conservative,
    /// `GC_malloc_atomic_ignore_off_page`: as `GC_malloc_atomic`.
    GC_malloc_atomic_ignore_off_page => Atomic,
}

/// `void *GC_realloc(void *, size_t)`.
#[no_mangle]
pub extern "C" fn GC_realloc(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: libgc's contract for GC_realloc.
    let q = unsafe { libgc::realloc(p.cast(), size) };
    if q.is_null() && size != 0 {
        return out_of_memory(size);
    }
    q.cast()
}

/// `void GC_free(void *)`.
#[no_mangle]
pub extern "C" fn GC_free(p: *mut c_void) {
    // SAFETY: libgc's contract: the program no longer uses the object.
    unsafe { libgc::free(p.cast()) };
}

/// `char *GC_strdup(const char *)`.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn GC_strdup(s: *const c_char) -> *mut c_char {
    // SAFETY: per the contract.
    unsafe { GC_strndup(s, usize::MAX) }
}

/// `char *GC_strndup(const char *, size_t)`.
///
/// # Safety
/// `s` is NULL or a string readable up to its NUL or `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn GC_strndup(s: *const c_char, n: usize) -> *mut c_char {
    if s.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: per the contract.
    let q = unsafe { libgc::strndup(s.cast(), n) };
    if q.is_null() {
        return out_of_memory(n).cast();
    }
    q.cast()
}

/// `void *GC_base(void *)`.
#[no_mangle]
pub extern "C" fn GC_base(p: *mut c_void) -> *mut c_void {
    libgc::base(p.cast()).cast()
}

/// `size_t GC_size(const void *)`.
#[no_mangle]
pub extern "C" fn GC_size(p: *const c_void) -> usize {
    libgc::size(p.cast())
}

/// `void GC_noop1(GC_word)`: keeps a value visibly in use.
#[no_mangle]
pub extern "C" fn GC_noop1(x: GcWord) {
    core::hint::black_box(x);
}

/// `unsigned GC_get_version(void)`.
#[no_mangle]
pub extern "C" fn GC_get_version() -> u32 {
    GC_VERSION_VAL
}

// ---------------------------------------------------------------------------
// Collection and statistics

/// `void GC_enable_incremental(void)`: from now on the program's cycles
/// mark beside its threads, which the kernel's written-page tracking makes
/// safe (`goheap::gc::libgc::enable_incremental`); a no-op where the kernel
/// cannot track pages, as in libgc. Also at `GC_init` when the environment
/// has `GC_ENABLE_INCREMENTAL`, as libgc reads it.
#[no_mangle]
pub extern "C" fn GC_enable_incremental() {
    GC_init();
    libgc::enable_incremental();
}

/// `int GC_is_incremental_mode(void)`.
#[no_mangle]
pub extern "C" fn GC_is_incremental_mode() -> i32 {
    libgc::is_incremental() as i32
}

/// `void GC_gcollect(void)`.
#[no_mangle]
pub extern "C" fn GC_gcollect() {
    GC_init();
    libgc::notify_or_invoke(finalize_on_demand(), notifier());
    libgc::collect();
    publish_gc_no();
    libgc::notify_or_invoke(finalize_on_demand(), notifier());
}

/// `void GC_gcollect_and_unmap(void)`: a collection, then free pages go back
/// to the OS.
#[no_mangle]
pub extern "C" fn GC_gcollect_and_unmap() {
    GC_gcollect();
    goheap::release();
}

/// `int GC_try_to_collect(GC_stop_func)`: goheap's collection cannot be
/// abandoned half-way; it runs to the end and reports success.
#[no_mangle]
pub extern "C" fn GC_try_to_collect(_stop: Option<unsafe extern "C" fn() -> c_int>) -> c_int {
    GC_gcollect();
    1
}

/// `void GC_enable(void)`.
#[no_mangle]
pub extern "C" fn GC_enable() {
    libgc::enable();
}

/// `void GC_disable(void)`.
#[no_mangle]
pub extern "C" fn GC_disable() {
    libgc::disable();
}

/// `int GC_is_disabled(void)`.
#[no_mangle]
pub extern "C" fn GC_is_disabled() -> c_int {
    libgc::is_disabled() as c_int
}

/// `size_t GC_get_heap_size(void)`.
#[no_mangle]
pub extern "C" fn GC_get_heap_size() -> usize {
    libgc::heap_size()
}

/// `size_t GC_get_free_bytes(void)`.
#[no_mangle]
pub extern "C" fn GC_get_free_bytes() -> usize {
    libgc::free_bytes()
}

/// `size_t GC_get_total_bytes(void)`.
#[no_mangle]
pub extern "C" fn GC_get_total_bytes() -> usize {
    libgc::total_bytes()
}

/// `GC_word GC_get_gc_no(void)`.
#[no_mangle]
pub extern "C" fn GC_get_gc_no() -> GcWord {
    libgc::gc_no()
}

/// `void GC_set_max_heap_size(GC_word)`.
#[no_mangle]
pub extern "C" fn GC_set_max_heap_size(n: GcWord) {
    libgc::set_max_heap_size(n);
}

/// `void GC_set_oom_fn(GC_oom_func)`.
#[no_mangle]
pub extern "C" fn GC_set_oom_fn(f: Option<OomFn>) {
    // SAFETY: the live copy of the variable; libgc does the same plain store.
    unsafe { *live!(GC_oom_fn: Option<OomFn>) = f };
}

/// `GC_oom_func GC_get_oom_fn(void)`.
#[no_mangle]
pub extern "C" fn GC_get_oom_fn() -> Option<OomFn> {
    oom_fn()
}

/// `void GC_set_warn_proc(GC_warn_proc)`.
#[no_mangle]
pub extern "C" fn GC_set_warn_proc(p: Option<WarnProc>) {
    WARN_PROC.store(
        p.map_or(ptr::null_mut(), |f| f as *mut c_void),
        Ordering::Release,
    );
}

/// `GC_warn_proc GC_get_warn_proc(void)`.
#[no_mangle]
pub extern "C" fn GC_get_warn_proc() -> Option<WarnProc> {
    let p = WARN_PROC.load(Ordering::Acquire);
    if p.is_null() {
        Some(default_warn_proc)
    } else {
        // SAFETY: stored from a WarnProc by GC_set_warn_proc.
        Some(unsafe { core::mem::transmute::<*mut c_void, WarnProc>(p) })
    }
}

/// `void GC_ignore_warn_proc(char *, GC_word)`: a warn proc that says nothing.
#[no_mangle]
pub extern "C" fn GC_ignore_warn_proc(_msg: *mut c_char, _arg: GcWord) {}

/// `void GC_set_all_interior_pointers(int)`: goheap always recognises
/// interior pointers; the value is kept for the getter.
#[no_mangle]
pub extern "C" fn GC_set_all_interior_pointers(v: c_int) {
    // SAFETY: the live copy of an int variable.
    unsafe { *live!(GC_all_interior_pointers: c_int) = v };
}

/// `int GC_get_all_interior_pointers(void)`.
#[no_mangle]
pub extern "C" fn GC_get_all_interior_pointers() -> c_int {
    // SAFETY: as above.
    unsafe { *live!(GC_all_interior_pointers: c_int) }
}

// ---------------------------------------------------------------------------
// Roots

/// `void GC_add_roots(void *low, void *high_plus_1)`.
#[no_mangle]
pub extern "C" fn GC_add_roots(lo: *mut c_void, hi: *mut c_void) {
    goheap::gc::conservative::add_roots(lo as usize, hi as usize);
}

/// `void GC_remove_roots(void *low, void *high_plus_1)`.
#[no_mangle]
pub extern "C" fn GC_remove_roots(lo: *mut c_void, hi: *mut c_void) {
    goheap::gc::conservative::remove_roots(lo as usize, hi as usize);
}

/// `void GC_clear_roots(void)`.
#[no_mangle]
pub extern "C" fn GC_clear_roots() {
    goheap::gc::conservative::clear_roots();
}

/// `void GC_exclude_static_roots(void *low, void *high_plus_1)`.
#[no_mangle]
pub extern "C" fn GC_exclude_static_roots(lo: *mut c_void, hi: *mut c_void) {
    goheap::gc::conservative::exclude_static_roots(lo as usize, hi as usize);
}

// ---------------------------------------------------------------------------
// Finalization and disappearing links

fn register_finalizer(
    obj: *mut c_void,
    f: Option<FinalizerFn>,
    cd: *mut c_void,
    ofn: *mut Option<FinalizerFn>,
    ocd: *mut *mut c_void,
    mode: Mode,
) {
    GC_init();
    let (old_fn, old_cd) = libgc::register_finalizer(obj as usize, f, cd as usize, mode);
    // SAFETY: libgc's contract: out-parameters are NULL or writable.
    unsafe {
        if !ofn.is_null() {
            *ofn = old_fn;
        }
        if !ocd.is_null() {
            *ocd = old_cd as *mut c_void;
        }
    }
}

/// `void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd,
/// GC_finalization_proc *ofn, void **ocd)`: topological order.
#[no_mangle]
pub extern "C" fn GC_register_finalizer(
    obj: *mut c_void,
    f: Option<FinalizerFn>,
    cd: *mut c_void,
    ofn: *mut Option<FinalizerFn>,
    ocd: *mut *mut c_void,
) {
    register_finalizer(obj, f, cd, ofn, ocd, Mode::Normal);
}

/// `GC_register_finalizer_ignore_self`: pointers from the object to itself
/// do not delay its finalization.
#[no_mangle]
pub extern "C" fn GC_register_finalizer_ignore_self(
    obj: *mut c_void,
    f: Option<FinalizerFn>,
    cd: *mut c_void,
    ofn: *mut Option<FinalizerFn>,
    ocd: *mut *mut c_void,
) {
    register_finalizer(obj, f, cd, ofn, ocd, Mode::IgnoreSelf);
}

/// `GC_register_finalizer_no_order`: no ordering among finalizable objects.
#[no_mangle]
pub extern "C" fn GC_register_finalizer_no_order(
    obj: *mut c_void,
    f: Option<FinalizerFn>,
    cd: *mut c_void,
    ofn: *mut Option<FinalizerFn>,
    ocd: *mut *mut c_void,
) {
    register_finalizer(obj, f, cd, ofn, ocd, Mode::NoOrder);
}

/// `int GC_invoke_finalizers(void)`: runs the queued finalizers here.
#[no_mangle]
pub extern "C" fn GC_invoke_finalizers() -> c_int {
    libgc::invoke_finalizers() as c_int
}

/// `int GC_should_invoke_finalizers(void)`.
#[no_mangle]
pub extern "C" fn GC_should_invoke_finalizers() -> c_int {
    libgc::finalizers_ready() as c_int
}

/// `void GC_set_finalize_on_demand(int)`.
#[no_mangle]
pub extern "C" fn GC_set_finalize_on_demand(v: c_int) {
    // SAFETY: the live copy of an int variable.
    unsafe { *live!(GC_finalize_on_demand: c_int) = v };
}

/// `int GC_get_finalize_on_demand(void)`.
#[no_mangle]
pub extern "C" fn GC_get_finalize_on_demand() -> c_int {
    finalize_on_demand() as c_int
}

/// `void GC_set_finalizer_notifier(GC_finalizer_notifier_proc)`.
#[no_mangle]
pub extern "C" fn GC_set_finalizer_notifier(f: Option<Notifier>) {
    // SAFETY: the live copy of the variable.
    unsafe { *live!(GC_finalizer_notifier: Option<Notifier>) = f };
}

/// `GC_finalizer_notifier_proc GC_get_finalizer_notifier(void)`.
#[no_mangle]
pub extern "C" fn GC_get_finalizer_notifier() -> Option<Notifier> {
    notifier()
}

/// `void GC_set_java_finalization(int)`: goheap always keeps what a queued
/// object reaches (libgc's default); the value is kept for the getter.
#[no_mangle]
pub extern "C" fn GC_set_java_finalization(v: c_int) {
    // SAFETY: the live copy of an int variable.
    unsafe { *live!(GC_java_finalization: c_int) = v };
}

/// `int GC_get_java_finalization(void)`.
#[no_mangle]
pub extern "C" fn GC_get_java_finalization() -> c_int {
    // SAFETY: as above.
    unsafe { *live!(GC_java_finalization: c_int) }
}

fn check_link(op: &str, link: *mut *mut c_void) {
    if link.is_null() || (link as usize) % core::mem::align_of::<usize>() != 0 {
        goheap::gc::libgc::bad_argument(
            op,
            "link is not an aligned pointer location",
            link as usize,
        );
    }
}

/// `int GC_general_register_disappearing_link(void **link, const void *obj)`:
/// `*link` is cleared when `obj` becomes unreachable.
#[no_mangle]
pub extern "C" fn GC_general_register_disappearing_link(
    link: *mut *mut c_void,
    obj: *const c_void,
) -> c_int {
    GC_init();
    check_link("GC_general_register_disappearing_link", link);
    libgc::register_link(link as usize, obj as usize)
}

/// `int GC_register_disappearing_link(void **link)`: the link lives inside
/// a GC object and is cleared when that object becomes unreachable.
#[no_mangle]
pub extern "C" fn GC_register_disappearing_link(link: *mut *mut c_void) -> c_int {
    GC_init();
    check_link("GC_register_disappearing_link", link);
    let base = libgc::base(link.cast());
    if base.is_null() {
        goheap::gc::libgc::bad_argument(
            "GC_register_disappearing_link",
            "link is not inside a GC object",
            link as usize,
        );
    }
    libgc::register_link(link as usize, base as usize)
}

/// `int GC_unregister_disappearing_link(void **link)`: 1 if it was registered.
#[no_mangle]
pub extern "C" fn GC_unregister_disappearing_link(link: *mut *mut c_void) -> c_int {
    libgc::unregister_link(link as usize) as c_int
}

// ---------------------------------------------------------------------------
// Threads

/// `void GC_allow_register_threads(void)`.
#[no_mangle]
pub extern "C" fn GC_allow_register_threads() {
    GC_init();
}

/// `int GC_register_my_thread(const struct GC_stack_base *)`.
///
/// # Safety
/// `sb` is NULL or points at a filled `GC_stack_base`.
#[no_mangle]
pub unsafe extern "C" fn GC_register_my_thread(sb: *const GcStackBase) -> c_int {
    let top = if sb.is_null() {
        0
    } else {
        // SAFETY: per the contract, a non-null `sb` points at a filled
        // GC_stack_base.
        unsafe { (*sb).mem_base as usize }
    };
    if libgc::register_my_thread(top) {
        GC_SUCCESS
    } else {
        GC_DUPLICATE
    }
}

/// `int GC_unregister_my_thread(void)`.
#[no_mangle]
pub extern "C" fn GC_unregister_my_thread() -> c_int {
    libgc::unregister_my_thread();
    GC_SUCCESS
}

/// `int GC_thread_is_registered(void)`.
#[no_mangle]
pub extern "C" fn GC_thread_is_registered() -> c_int {
    libgc::thread_is_registered() as c_int
}

/// `int GC_get_stack_base(struct GC_stack_base *)`.
///
/// # Safety
/// `sb` points at writable memory for a `GC_stack_base`.
#[no_mangle]
pub unsafe extern "C" fn GC_get_stack_base(sb: *mut GcStackBase) -> c_int {
    let top = libgc::stack_top();
    if top == 0 {
        return GC_UNIMPLEMENTED;
    }
    // SAFETY: per the contract.
    unsafe { (*sb).mem_base = top as *mut c_void };
    GC_SUCCESS
}

/// `void *GC_call_with_stack_base(GC_stack_base_func, void *)`.
///
/// # Safety
/// `f` is a valid function of that type.
#[no_mangle]
pub unsafe extern "C" fn GC_call_with_stack_base(f: StackBaseFn, arg: *mut c_void) -> *mut c_void {
    let mut sb = GcStackBase {
        mem_base: libgc::stack_top() as *mut c_void,
    };
    // SAFETY: per the contract.
    unsafe { f(&mut sb, arg) }
}

/// `void *GC_do_blocking(GC_fn_type, void *)`: goheap stops a blocked thread
/// like any other (signals interrupt system calls), so it just calls `f`.
///
/// # Safety
/// `f` is a valid function of that type.
#[no_mangle]
pub unsafe extern "C" fn GC_do_blocking(f: ClientFn, cd: *mut c_void) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { f(cd) }
}

/// `void *GC_call_with_gc_active(GC_fn_type, void *)`: the inverse of
/// `GC_do_blocking`, equally a plain call.
///
/// # Safety
/// `f` is a valid function of that type.
#[no_mangle]
pub unsafe extern "C" fn GC_call_with_gc_active(f: ClientFn, cd: *mut c_void) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { f(cd) }
}

/// `int GC_pthread_create(...)`: the thread is registered before `start`.
///
/// # Safety
/// As `pthread_create`.
#[no_mangle]
pub unsafe extern "C" fn GC_pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start: extern "C" fn(*mut c_void) -> *mut c_void,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: per the contract.
    unsafe { libgc::pthread_create(thread, attr, start, arg) }
}

/// `int GC_pthread_join(pthread_t, void **)`.
///
/// # Safety
/// As `pthread_join`.
#[no_mangle]
pub unsafe extern "C" fn GC_pthread_join(thread: libc::pthread_t, ret: *mut *mut c_void) -> c_int {
    // SAFETY: per the contract.
    unsafe { libgc::pthread_join(thread, ret) }
}

/// `int GC_pthread_detach(pthread_t)`.
#[no_mangle]
pub extern "C" fn GC_pthread_detach(thread: libc::pthread_t) -> c_int {
    libgc::pthread_detach(thread)
}

/// `int GC_pthread_cancel(pthread_t)`.
#[no_mangle]
pub extern "C" fn GC_pthread_cancel(thread: libc::pthread_t) -> c_int {
    // SAFETY: as pthread_cancel.
    unsafe { libc::pthread_cancel(thread) }
}

/// `void GC_pthread_exit(void *)`: keeps the result for the joiner,
/// unregisters, then exits the thread.
#[no_mangle]
pub extern "C" fn GC_pthread_exit(ret: *mut c_void) -> ! {
    // SAFETY: the program asked to end this thread.
    unsafe { libgc::pthread_exit(ret) }
}

/// `int GC_pthread_sigmask(int, const sigset_t *, sigset_t *)`.
///
/// # Safety
/// As `pthread_sigmask`.
#[no_mangle]
pub unsafe extern "C" fn GC_pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: per the contract.
    unsafe { libgc::pthread_sigmask(how, set, old) }
}

/// `void *GC_dlopen(const char *, int)`.
///
/// # Safety
/// As `dlopen`.
#[no_mangle]
pub unsafe extern "C" fn GC_dlopen(path: *const c_char, flags: c_int) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { libc::dlopen(path, flags) }
}

/// `int GC_get_suspend_signal(void)`.
#[no_mangle]
pub extern "C" fn GC_get_suspend_signal() -> c_int {
    libgc::suspend_signal()
}

/// `void GC_set_suspend_signal(int)`: before the first thread registers.
#[no_mangle]
pub extern "C" fn GC_set_suspend_signal(sig: c_int) {
    if !libgc::set_suspend_signal(sig) {
        goheap::gc::libgc::bad_argument(
            "GC_set_suspend_signal",
            "called after threads registered; signal",
            sig as usize,
        );
    }
}

// ---------------------------------------------------------------------------
// GC_DEBUG variants: goheap adds no debug headers; each is its plain twin.

macro_rules! debug_alloc {
    ($($debug:ident => $plain:ident),* $(,)?) => {$(
        /// The `GC_DEBUG` form (`size, file, line`) of the function it names.
        #[no_mangle]
        pub extern "C" fn $debug(size: usize, _file: *const c_char, _line: c_int) -> *mut c_void {
            $plain(size)
        }
    )*};
}

debug_alloc! {
    GC_debug_malloc => GC_malloc,
    GC_debug_malloc_atomic => GC_malloc_atomic,
    GC_debug_malloc_uncollectable => GC_malloc_uncollectable,
    GC_debug_malloc_atomic_uncollectable => GC_malloc_atomic_uncollectable,
    GC_debug_malloc_ignore_off_page => GC_malloc_ignore_off_page,
    GC_debug_malloc_atomic_ignore_off_page => GC_malloc_atomic_ignore_off_page,
}

/// `GC_debug_malloc_replacement(size_t)`.
#[no_mangle]
pub extern "C" fn GC_debug_malloc_replacement(size: usize) -> *mut c_void {
    GC_malloc(size)
}

/// `GC_debug_realloc(void *, size_t, const char *, int)`.
#[no_mangle]
pub extern "C" fn GC_debug_realloc(
    p: *mut c_void,
    size: usize,
    _f: *const c_char,
    _l: c_int,
) -> *mut c_void {
    GC_realloc(p, size)
}

/// `GC_debug_realloc_replacement(void *, size_t)`.
#[no_mangle]
pub extern "C" fn GC_debug_realloc_replacement(p: *mut c_void, size: usize) -> *mut c_void {
    GC_realloc(p, size)
}

/// `GC_debug_free(void *)`.
#[no_mangle]
pub extern "C" fn GC_debug_free(p: *mut c_void) {
    GC_free(p);
}

/// `GC_debug_strdup(const char *, const char *, int)`.
///
/// # Safety
/// As `GC_strdup`.
#[no_mangle]
pub unsafe extern "C" fn GC_debug_strdup(
    s: *const c_char,
    _f: *const c_char,
    _l: c_int,
) -> *mut c_char {
    // SAFETY: per the contract.
    unsafe { GC_strdup(s) }
}

/// `GC_debug_strndup(const char *, size_t, const char *, int)`.
///
/// # Safety
/// As `GC_strndup`.
#[no_mangle]
pub unsafe extern "C" fn GC_debug_strndup(
    s: *const c_char,
    n: usize,
    _f: *const c_char,
    _l: c_int,
) -> *mut c_char {
    // SAFETY: per the contract.
    unsafe { GC_strndup(s, n) }
}

macro_rules! debug_finalizer {
    ($($debug:ident => $plain:ident),* $(,)?) => {$(
        /// The `GC_DEBUG` form of the function it names.
        #[no_mangle]
        pub extern "C" fn $debug(
            obj: *mut c_void,
            f: Option<FinalizerFn>,
            cd: *mut c_void,
            ofn: *mut Option<FinalizerFn>,
            ocd: *mut *mut c_void,
        ) {
            $plain(obj, f, cd, ofn, ocd)
        }
    )*};
}

debug_finalizer! {
    GC_debug_register_finalizer => GC_register_finalizer,
    GC_debug_register_finalizer_no_order => GC_register_finalizer_no_order,
    GC_debug_register_finalizer_ignore_self => GC_register_finalizer_ignore_self,
}
