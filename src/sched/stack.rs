//! Goroutine stacks (Go's stack.go, with Rust's constraints).
//!
//! Rust cannot move a stack (nothing tracks pointers into it), so a
//! goroutine's stack is a fixed slot: `GOHEAP_STACK` usable bytes (default
//! 64 KiB, enough for ordinary Rust code including formatting and std I/O;
//! deep recursion needs `GOHEAP_STACK=1m` or `blocking`) plus one guard page
//! below it.
//!
//! All slots come from one reservation of address space (`PROT_NONE`,
//! `MAP_NORESERVE`, up to 1 TiB), never one mapping per stack. Slots are
//! carved in order; the reservation is made readable and writable 64 slots
//! at a time with `mprotect`, and the kernel merges those chunks into one
//! VMA. Pages cost memory only once touched: a goroutine that uses 3 KiB of
//! stack costs one page.
//!
//! Guards, decided once per process:
//! - `MADV_GUARD_INSTALL` (Linux 6.13+): the guard page faults on access and
//!   splits no VMA, so a million stacks stay two VMAs. The 64 guards of a
//!   chunk are installed with one `process_madvise` call where the kernel
//!   takes it, else one `madvise` per stack.
//! - otherwise `mprotect(PROT_NONE)` on the guard page of the first 8192
//!   slots (each splits the VMA: 16k VMAs of the default 65530), and for
//!   slots beyond that a canary word at the bottom of the stack, checked each
//!   time the goroutine switches out (a late, best-effort detection: an
//!   overflow that goes past the guard page before the next switch is
//!   caught only if it reaches unmapped memory, as a plain SIGSEGV).
//!   `GOHEAP_STACK_GUARD=mprotect|canary` forces a fallback (for tests).
//!
//! A guard-page fault is recognised by `on_fault`, a SIGSEGV/SIGBUS handler
//! running on an alternate signal stack (each M installs one), which prints
//! `goheap: goroutine N stack overflow` and aborts; any other fault goes to
//! the handler installed before (std's, or the default action).
//!
//! A stack belongs to a goroutine only from its first run to its exit: a
//! goroutine waiting in a run queue to start holds none, so a burst of
//! spawned goroutines costs their records, not their stacks (skynet keeps
//! tens of thousands queued). Free stacks are pooled in three tiers:
//! - each P's cache (`proc`), at most `STACK_CACHE_MAX`, hot pages kept;
//! - the global pool here, at most `POOL_MAX` stacks, hot pages kept;
//!   sysmon releases those that stayed unused a whole period (`scavenge`);
//! - beyond `POOL_MAX`, stacks are released at once (`madvise`, one call
//!   per run of neighbouring slots) and their slot goes to the `released`
//!   bitmap, from which `alloc` reuses the lowest slot before carving a new
//!   one. So after a burst of goroutines ends, its stack memory goes back
//!   to the OS and its address space is reused by the next burst.
//!
//! Slots are never unmapped: a slot is a stack or reads as zero.

use crate::lock::Mutex;
use crate::os;
use core::num::NonZeroUsize;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 4096;
const CHUNK_SLOTS: usize = 64;
const MPROTECT_GUARD_BUDGET: usize = 8192;
/// Free stacks kept with their pages in the global pool.
pub(crate) const POOL_MAX: usize = 1024;
const CANARY: u64 = 0x676f_6865_6170_5354; // "goheapST"
const MADV_GUARD_INSTALL: i32 = 102;

/// A goroutine stack: usable `[lo, hi)`, guard page just below `lo`, in
/// one word (it sits in every G record and stack cache): `lo`, which is
/// page-aligned, with bit 0 set if the guard is a canary word at `lo`
/// (checked at switch-out); `hi` is `lo + stack_size()`.
#[derive(Clone, Copy)]
pub(crate) struct Stack(NonZeroUsize);

impl Stack {
    fn new(lo: usize, canary: bool) -> Stack {
        Stack(NonZeroUsize::new(lo | canary as usize).expect("a stack above address 0"))
    }

    pub(crate) fn lo(&self) -> usize {
        self.0.get() & !1
    }

    pub(crate) fn hi(&self) -> usize {
        self.lo() + stack_size()
    }

    fn canary(&self) -> bool {
        self.0.get() & 1 != 0
    }

    /// Whether the canary of an unguarded stack was overwritten.
    #[inline]
    pub(crate) fn overflowed(&self) -> bool {
        // SAFETY: lo is the first word of this stack's usable memory.
        self.canary() && unsafe { (self.lo() as *const u64).read_volatile() } != CANARY
    }

    fn write_canary(&self) {
        if self.canary() {
            // SAFETY: lo is writable memory of this stack.
            unsafe { (self.lo() as *mut u64).write_volatile(CANARY) };
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum GuardKind {
    Unknown,
    Madvise,
    Mprotect,
    Canary,
}

struct Slots {
    next: usize,
    mapped: usize,
    /// Slots below this index got their guard with their chunk.
    guarded: usize,
    guard: GuardKind,
    mprotect_guards: usize,
    /// Free stacks whose pages are kept (LIFO), at most `POOL_MAX`.
    pool: Vec<Stack>,
    /// Lowest length of `pool` since sysmon last scavenged it.
    pool_low: usize,
    /// Slots whose pages were released (reused lowest first).
    released: Bitmap,
    /// Slots guarded by a canary word only.
    canaries: Bitmap,
}

/// A growable set of slot numbers.
struct Bitmap {
    words: Vec<u64>,
    len: usize,
    /// No bit is set below this word.
    hint: usize,
}

impl Bitmap {
    const fn new() -> Bitmap {
        Bitmap {
            words: Vec::new(),
            len: 0,
            hint: 0,
        }
    }

    fn insert(&mut self, i: usize) {
        if self.words.len() <= i / 64 {
            self.words.resize(i / 64 + 1, 0);
        }
        let bit = 1 << (i % 64);
        self.len += (self.words[i / 64] & bit == 0) as usize;
        self.words[i / 64] |= bit;
        self.hint = self.hint.min(i / 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Removes and returns the lowest member.
    fn pop_lowest(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let w = (self.hint..self.words.len()).find(|&w| self.words[w] != 0)?;
        let bit = self.words[w].trailing_zeros() as usize;
        self.words[w] &= !(1 << bit);
        self.len -= 1;
        self.hint = w;
        Some(w * 64 + bit)
    }
}

// Read by the signal handler without a lock: written once at reservation.
static BASE: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(0);
static SLOT: AtomicUsize = AtomicUsize::new(0);

static SLOTS: Mutex<Slots> = Mutex::new(Slots {
    next: 0,
    mapped: 0,
    guarded: 0,
    guard: GuardKind::Unknown,
    mprotect_guards: 0,
    pool: Vec::new(),
    pool_low: 0,
    released: Bitmap::new(),
    canaries: Bitmap::new(),
});

/// Usable bytes per stack (`GOHEAP_STACK`, default 64 KiB, at least 16 KiB).
pub(crate) fn stack_size() -> usize {
    static SIZE: AtomicUsize = AtomicUsize::new(0);
    let s = SIZE.load(Ordering::Relaxed);
    if s != 0 {
        return s;
    }
    let s = std::env::var("GOHEAP_STACK")
        .ok()
        .and_then(|v| parse_size(&v))
        .unwrap_or(64 << 10)
        .max(16 << 10)
        .next_multiple_of(PAGE);
    SIZE.store(s, Ordering::Relaxed);
    s
}

/// Parses `65536`, `64k`, `1m` (also `KiB`, `MiB`, `K`, `M`).
pub(crate) fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim().to_ascii_lowercase();
    let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &v[digits.len()..] {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(unit)
}

fn reserve() -> bool {
    if BASE.load(Ordering::Acquire) != 0 {
        return true;
    }
    let slot = stack_size() + PAGE;
    let mut size = 1usize << 40;
    while size >= 1 << 28 {
        if let Some(p) = os::sys_reserve(0, size) {
            SLOT.store(slot, Ordering::Relaxed);
            LIMIT.store(p.as_ptr() as usize + size / slot * slot, Ordering::Relaxed);
            BASE.store(p.as_ptr() as usize, Ordering::Release);
            return true;
        }
        size /= 2;
    }
    false
}

/// How many stacks were ever carved (each stack is reused after that).
pub fn stacks_carved() -> usize {
    SLOTS.lock().next
}

/// Moves up to `n` free stacks into `out`: pooled ones first, else one
/// released slot or a freshly carved one. Returns false if the reservation
/// is exhausted.
pub(crate) fn get(out: &mut Vec<Stack>, n: usize) -> bool {
    let mut s = SLOTS.lock();
    let from = s.pool.len().saturating_sub(n);
    if from < s.pool.len() {
        out.extend(s.pool.drain(from..));
        s.pool_low = s.pool_low.min(s.pool.len());
        return true;
    }
    let stack = match reuse_released(&mut s) {
        Some(st) => st,
        None => match carve(&mut s) {
            Some(st) => st,
            None => return false,
        },
    };
    stack.write_canary();
    out.push(stack);
    true
}

/// Takes free stacks back: into the pool up to `POOL_MAX`; the pages of
/// the others are released, and their slots go to `released`.
pub(crate) fn put(stacks: impl Iterator<Item = Stack>) {
    let mut excess = Vec::new();
    {
        let mut s = SLOTS.lock();
        for st in stacks {
            if s.pool.len() < POOL_MAX {
                s.pool.push(st);
            } else {
                excess.push(st);
            }
        }
    }
    release(excess);
}

/// Releases the pooled stacks that stayed unused since the last call (the
/// pool's low-water mark); sysmon calls it once a period. Returns how many.
pub(crate) fn scavenge() -> usize {
    let idle: Vec<Stack> = {
        let mut s = SLOTS.lock();
        let low = s.pool_low.min(s.pool.len());
        let idle = s.pool.drain(..low).collect();
        s.pool_low = s.pool.len();
        idle
    };
    let n = idle.len();
    release(idle);
    n
}

/// The lowest released slot, or `None`.
fn reuse_released(s: &mut Slots) -> Option<Stack> {
    let index = s.released.pop_lowest()?;
    Some(slot_stack(index, s.canaries.contains(index)))
}

/// The stack of slot `index`.
fn slot_stack(index: usize, canary: bool) -> Stack {
    let guard = BASE.load(Ordering::Relaxed) + index * SLOT.load(Ordering::Relaxed);
    Stack::new(guard + PAGE, canary)
}

fn slot_index(st: &Stack) -> usize {
    (st.lo() - PAGE - BASE.load(Ordering::Relaxed)) / SLOT.load(Ordering::Relaxed)
}

/// Hands the pages of free stacks back to the OS and records their slots
/// as released.
fn release(mut stacks: Vec<Stack>) {
    if stacks.is_empty() {
        return;
    }
    release_pages(&mut stacks);
    let mut s = SLOTS.lock();
    for st in &stacks {
        s.released.insert(slot_index(st));
    }
}

/// A new slot carved from the reservation, or `None` if it is exhausted.
fn carve(s: &mut Slots) -> Option<Stack> {
    if !reserve() {
        return None;
    }
    let (base, slot) = (BASE.load(Ordering::Relaxed), SLOT.load(Ordering::Relaxed));
    let nslots = (LIMIT.load(Ordering::Relaxed) - base) / slot;
    if s.next == nslots {
        return None;
    }
    if s.next == s.mapped {
        let n = CHUNK_SLOTS.min(nslots - s.mapped);
        let at = base + s.mapped * slot;
        // SAFETY: [at, at + n*slot) is inside our reservation and unused.
        let r = unsafe {
            libc::mprotect(
                at as *mut libc::c_void,
                n * slot,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if r != 0 {
            return None;
        }
        if s.guard == GuardKind::Unknown {
            s.guard = forced_guard();
        }
        if s.guard != GuardKind::Mprotect
            && s.guard != GuardKind::Canary
            && guard_chunk(at, n, slot)
        {
            s.guard = GuardKind::Madvise;
            s.guarded = s.mapped + n;
        }
        s.mapped += n;
    }
    let index = s.next;
    s.next += 1;
    let canary = s.next > s.guarded && !install_guard(s, base + index * slot);
    if canary {
        s.canaries.insert(index);
    }
    Some(slot_stack(index, canary))
}

/// Installs the guard pages of `n` slots from `at` in one system call
/// (`process_madvise` on our own pidfd with `MADV_GUARD_INSTALL`); false if
/// the kernel cannot, and each slot then gets its guard on its own.
fn guard_chunk(at: usize, n: usize, slot: usize) -> bool {
    let iov: Vec<libc::iovec> = (0..n)
        .map(|i| libc::iovec {
            iov_base: (at + i * slot) as *mut libc::c_void,
            iov_len: PAGE,
        })
        .collect();
    // SAFETY: pidfd_open and close on our own pid; process_madvise reads
    // `iov` (UIO_MAXIOV allows 1024 entries, we pass at most 64) and only
    // advises pages of our own reservation.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) as i32;
        if pidfd < 0 {
            return false;
        }
        let done = libc::syscall(
            libc::SYS_process_madvise,
            pidfd,
            iov.as_ptr(),
            iov.len(),
            MADV_GUARD_INSTALL,
            0,
        );
        libc::close(pidfd);
        done == (n * PAGE) as i64
    }
}

/// Makes `[page, page + PAGE)` fault on access; false if only a canary is left.
fn install_guard(s: &mut Slots, page: usize) -> bool {
    if s.guard == GuardKind::Unknown {
        s.guard = forced_guard();
    }
    if s.guard == GuardKind::Canary {
        return false;
    }
    if s.guard != GuardKind::Mprotect {
        // SAFETY: advising a page of our own reservation.
        let r = unsafe { libc::madvise(page as *mut libc::c_void, PAGE, MADV_GUARD_INSTALL) };
        if r == 0 {
            s.guard = GuardKind::Madvise;
            return true;
        }
        s.guard = GuardKind::Mprotect;
    }
    if s.mprotect_guards == MPROTECT_GUARD_BUDGET {
        return false;
    }
    // SAFETY: as above.
    let r = unsafe { libc::mprotect(page as *mut libc::c_void, PAGE, libc::PROT_NONE) };
    s.mprotect_guards += (r == 0) as usize;
    r == 0
}

/// `GOHEAP_STACK_GUARD=mprotect|canary` starts with a fallback, to test
/// it on kernels that have `MADV_GUARD_INSTALL`.
fn forced_guard() -> GuardKind {
    match std::env::var("GOHEAP_STACK_GUARD").as_deref() {
        Ok("mprotect") => GuardKind::Mprotect,
        Ok("canary") => GuardKind::Canary,
        _ => GuardKind::Unknown,
    }
}

/// Hands the pages of unused stacks back to the OS (they read as zero
/// again, canary included: `get` writes it again), one `madvise` per run of
/// neighbouring slots: guard pages inside a run keep their guard
/// (`MADV_DONTNEED` leaves guard markers and `PROT_NONE` in place).
fn release_pages(stacks: &mut [Stack]) {
    stacks.sort_unstable_by_key(Stack::lo);
    let mut i = 0;
    while i < stacks.len() {
        let mut j = i + 1;
        while j < stacks.len() && stacks[j].lo() == stacks[j - 1].hi() + PAGE {
            j += 1;
        }
        let (lo, hi) = (stacks[i].lo(), stacks[j - 1].hi());
        // SAFETY: the stacks are not in use (pooled); the range is ours.
        unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
        i = j;
    }
}

/// Takes the slot lock before a fork (see `proc::fork_prepare`).
pub(crate) fn lock_for_fork() {
    SLOTS.lock_for_fork();
}

/// # Safety
/// After `lock_for_fork` in this thread.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: the caller's contract.
    unsafe { SLOTS.unlock_after_fork() };
}

/// Whether `addr` lies in the guard page of some stack slot.
fn is_guard_page(addr: usize) -> bool {
    let base = BASE.load(Ordering::Acquire);
    if base == 0 || addr < base || addr >= LIMIT.load(Ordering::Relaxed) {
        return false;
    }
    (addr - base) % SLOT.load(Ordering::Relaxed) < PAGE
}

static OLD_SEGV: Mutex<Option<libc::sigaction>> = Mutex::new(None);
static OLD_BUS: Mutex<Option<libc::sigaction>> = Mutex::new(None);

/// Installs the overflow handler for SIGSEGV and SIGBUS (once per process).
pub(crate) fn install_fault_handler() {
    for (sig, old) in [(libc::SIGSEGV, &OLD_SEGV), (libc::SIGBUS, &OLD_BUS)] {
        let mut old = old.lock();
        if old.is_some() {
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid starting point; we fill the
        // handler, flags and an empty mask before installing it.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_fault as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut prev: libc::sigaction = core::mem::zeroed();
            if libc::sigaction(sig, &sa, &mut prev) == 0 {
                *old = Some(prev);
            }
        }
    }
}

/// Gives the calling thread an alternate signal stack if it has none, so
/// that the fault handler can run when a goroutine stack is exhausted.
pub(crate) fn ensure_signal_stack() {
    const SIZE: usize = 64 << 10;
    // SAFETY: sigaltstack with a null new stack only reads the current one;
    // the new stack is fresh memory that stays mapped for the thread's life.
    unsafe {
        let mut cur: libc::stack_t = core::mem::zeroed();
        if libc::sigaltstack(core::ptr::null(), &mut cur) != 0
            || cur.ss_flags & libc::SS_DISABLE == 0
        {
            return;
        }
        let Some(mem) = os::sys_alloc(SIZE) else {
            return;
        };
        let st = libc::stack_t {
            ss_sp: mem.as_ptr().cast(),
            ss_flags: 0,
            ss_size: SIZE,
        };
        libc::sigaltstack(&st, core::ptr::null_mut());
    }
}

extern "C" fn on_fault(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if is_guard_page(addr) {
        overflow(super::proc::current_goid());
    }
    let old = if sig == libc::SIGSEGV {
        &OLD_SEGV
    } else {
        &OLD_BUS
    };
    // The lock is never held by a faulting path: it is taken only while
    // installing, before any goroutine runs.
    let prev = *old.lock();
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            // SAFETY: calling the handler that was installed before ours,
            // with the arguments the kernel gave us, as its flags ask.
            unsafe {
                if p.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
                        core::mem::transmute(p.sa_sigaction);
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(i32) = core::mem::transmute(p.sa_sigaction);
                    f(sig);
                }
            }
        }
        _ => {
            // SAFETY: resetting to the default action; returning re-runs the
            // faulting instruction, which then takes the default action.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// Reports a stack overflow of goroutine `id` and aborts.
pub(crate) fn overflow(id: u64) -> ! {
    let mut buf = [0u8; 20];
    let id = os::decimal(id as usize, &mut buf);
    os::write_stderr(&[b"goheap: goroutine ", id, b" stack overflow\n"]);
    // SAFETY: abort needs no preconditions.
    unsafe { libc::abort() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("2x"), None);
    }

    #[test]
    fn a_stack_is_one_word_and_keeps_its_guard_kind() {
        assert_eq!(core::mem::size_of::<Option<Stack>>(), 8);
        let s = Stack::new(0x7000_0000_1000, true);
        assert_eq!(
            (s.lo(), s.hi(), s.canary()),
            (0x7000_0000_1000, 0x7000_0000_1000 + stack_size(), true)
        );
        assert!(!Stack::new(0x7000_0000_1000, false).canary());
    }

    #[test]
    fn the_released_set_gives_back_its_lowest_slot_first() {
        let mut b = Bitmap::new();
        for i in [700, 3, 64, 65, 3] {
            b.insert(i);
        }
        assert!(b.contains(65) && !b.contains(66));
        let order: Vec<_> = core::iter::from_fn(|| b.pop_lowest()).collect();
        assert_eq!(order, [3, 64, 65, 700]);
        b.insert(5);
        assert_eq!(b.pop_lowest(), Some(5));
        assert_eq!(b.pop_lowest(), None);
    }

    #[test]
    fn stacks_are_writable_and_guarded() {
        let mut got = Vec::new();
        assert!(get(&mut got, 1));
        let s = got[0];
        assert_eq!(s.hi() - s.lo(), stack_size());
        // SAFETY: the stack's usable memory is ours.
        unsafe { ((s.hi() - 8) as *mut u64).write(7) };
        assert!(is_guard_page(s.lo() - 1));
        assert!(!is_guard_page(s.lo()));
        assert!(!s.overflowed());
    }
}
