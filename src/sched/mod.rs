//! Goroutines: Go's G-M-P scheduler (runtime/proc.go) for Rust closures.
//!
//! # The three records (`runtime2`)
//!
//! - **G**, a goroutine: its saved stack pointer, its stack, its status, its
//!   id and, until it first runs, its closure. G records are pooled and never
//!   freed (Go's `allgs`): a `GRef` held by a channel or a timer can never
//!   dangle into freed memory. A G gets its stack when it first runs and
//!   gives it back when it ends (to its P's `stackcache`, 32 at most, then a
//!   global pool of 1024; beyond that the pages go back to the OS at once),
//!   so queued goroutines that have not started cost no stack. A dead G goes
//!   to its P's free list (`gfree`, 64 at most, the excess in halves to the
//!   global list).
//! - **M**, an OS thread. Its own native stack is its **g0**: the scheduler
//!   loop (`schedule`), the commit closures of `gopark`, timer callbacks and
//!   `blocking` closures run there, never on a goroutine's stack. Ms live
//!   forever; idle Ms sleep on a futex word of their own (`stopm`) and are
//!   woken with a P in hand (`startm`).
//! - **P**, a processor: the right to run Go code. `GOHEAP_MAXPROCS` of them
//!   (default: the CPUs this process may use). A P owns a local run queue
//!   (Go's 256-slot ring, lock-free for one producer and many stealers, plus
//!   `runnext`), a timer heap, a free-G list. Only the M holding a P touches
//!   its non-atomic parts.
//!
//! # Goroutine states and who may change them
//!
//! ```text
//!   (new/free) --go()--> RUNNABLE --execute (dequeuer only)--> RUNNING
//!   RUNNING --yield/hand-off (its own M, on g0)--> RUNNABLE
//!   RUNNING --park_m (its own M, on g0, before commit)--> WAITING
//!   WAITING --goready (CAS, exactly one winner)--> RUNNABLE
//!   WAITING --commit returned false (its own M)--> RUNNING
//!   RUNNING --exit (its own M, on g0)--> DEAD (back to gfree)
//! ```
//!
//! **A goroutine never runs twice at once**: a G enters a run queue only
//! through a transition to RUNNABLE made by a single party (the CAS winner
//! of `goready`, or its own M), every queue hands an entry to exactly one
//! consumer (the ring's head moves by CAS, `runnext` is taken by swap, the
//! global queue is under `sched.lock`), and only that consumer makes it
//! RUNNING. Its stack is in use only while RUNNING, and a G leaves RUNNING
//! only from g0, after its stack pointer was saved: once WAITING is
//! published, any M may resume it.
//!
//! # Parking and why a wakeup cannot be lost (`gopark`, `goready`)
//!
//! A goroutine that must wait registers itself where a waker will find it
//! (a channel's queue, a semaphore, a timer) while holding that object's
//! lock, and calls `gopark(commit)`. `gopark` switches to g0; there `park_m`
//! stores WAITING and only then runs `commit`, which releases the lock. A
//! waker takes the lock, unlinks the G and calls `goready`, whose CAS
//! WAITING→RUNNABLE therefore always finds WAITING: it cannot run before the
//! lock was released, and the lock is released only after WAITING is set.
//! If `commit` returns false, nothing published the G and it continues.
//! `commit` must not touch its captured state after the action that
//! publishes the G (the G may already run elsewhere and reuse its stack).
//!
//! Idle Ms (`findrunnable`, `wakep`) follow Go's "spinning" protocol: a
//! producer puts work in a queue *then* checks for spinning Ms (SeqCst);
//! an M going idle drops its P, decrements `nmspinning` *then* rechecks
//! every queue. One of the two always sees the other. At most
//! `GOHEAP_MAXPROCS - busy Ps` Ms spin at once (Go's `2*nmspinning < procs -
//! npidle`), and one idle M blocks in `epoll_wait` with the next timer as
//! its timeout; adding an earlier timer interrupts it (`netpoll_break`).
//!
//! # P ownership and sysmon's retake (`sysmon`)
//!
//! Goroutines are not preempted (a Rust function cannot be switched out at
//! an arbitrary instruction: it may hold a std lock or a TLS address).
//! Instead, a P's status word is `owner M id << 8 | state`. While a
//! goroutine runs its own code the state is `USER`; every entry into the
//! runtime from a goroutine (`go`, `yield_now`, `gopark`, `goready`, exit)
//! takes the P back with one CAS `USER→RT`. Sysmon (every 20 µs..10 ms)
//! first asks a goroutine that has run 10 ms to stop at its next safe point
//! (`go`: it then waits in the global queue, Go's preemption request);
//! after 20 ms, with work waiting (a hog, or a goroutine stuck in a
//! blocking system call), it CASes `USER→IDLE` and hands the P to another
//! M (`handoffp`). The hog keeps its thread; its next runtime entry fails
//! the CAS (the owner id makes ABA impossible) and takes an idle P if there
//! is one, else runs on without a P: it queues work globally, and its next
//! switch lets its M go idle. A runtime entry never switches the goroutine
//! out by itself (its caller may hold a lock, e.g. a channel's, to be
//! released by a commit); only `go` and `yield_now` are safe points, and a
//! spawner also stops there when its run queue is full. `blocking(f)` gives
//! the P away at once and runs `f` on the M's g0 stack (Go's
//! `entersyscallblock`).
//! The OS keeps preempting threads, so a spinning goroutine slows its
//! neighbours at worst by the share of a core it takes.
//!
//! # Stacks and guards (`stack`)
//!
//! Stacks are slots carved from one large `PROT_NONE` reservation, made
//! readable in chunks (neighbouring chunks merge into one VMA), committed by
//! the kernel page by page as they are touched. The lowest page of each slot
//! is a guard: `MADV_GUARD_INSTALL` where the kernel has it (no VMA),
//! otherwise `mprotect` for the first slots within a VMA budget and beyond it
//! a canary word checked each time the goroutine switches out. A fault in a
//! guard page is recognised by a SIGSEGV handler on an alternate signal
//! stack, which prints `goheap: goroutine N stack overflow` and aborts.
//! Free stacks are pooled apart from G records (per P, then globally, both
//! bounded); stacks beyond the bounds, and those that stayed unused in the
//! global pool for a whole sysmon period, give their pages back with
//! `madvise`, and their slots are reused lowest first.
//!
//! # Threads
//!
//! Ms are never destroyed; an idle M waits in `stopm` for the next hand-off.
//! At most `GOHEAP_MAXTHREADS` (default 10000, Go's `maxmcount`) are made:
//! past it the process ends with `goheap: newm: program exceeds the
//! N-thread limit`, as Go's does.
//!
//! # Thread-locals across a switch
//!
//! The runtime reads exactly one thread-local, the current M, through
//! `this_m()`, a function LLVM cannot inline or cache (it reads memory the
//! switch may change), and never keeps the pointer across a switch: each
//! runtime function that switches reads `this_m()` again afterwards. A
//! goroutine may resume on another thread. User code must not hold a
//! `thread_local!` borrow or a std lock guard across a switch point; code
//! that needs a thread's identity across one uses `lock_os_thread` (Go's
//! `LockOSThread`): the goroutine then runs only on its M, and the M runs
//! nothing else (`stoplockedm` / `startlockedm`).
//!
//! # GC scopes on goroutines
//!
//! The collector (`gc/mgc.rs`) runs a cycle only while no thread is inside
//! a `mutate` scope, counts scopes per OS thread, and never scans a stack:
//! the `Gc` handles of an open scope may be anywhere (stack, registers, a
//! `Vec`), so a goroutine parked inside a scope cannot give them up, and
//! its scope must end on the thread whose count it raised. The rule:
//!
//! - **A goroutine never migrates inside a scope.** Each of its switch
//!   points (`gopark`, `yield_now`, the safe point in `go`, `blocking`)
//!   checks `World::is_inside`; inside, the goroutine is wired to its M for
//!   that switch exactly as `lock_os_thread` wires it: it parks (WAITING,
//!   its wakeup protocol unchanged), its M hands the P to another M and
//!   sleeps (`stoplockedm`), and whoever dequeues it hands a P back to that
//!   M (`startlockedm`). The M runs no other goroutine meanwhile, so no
//!   other goroutine sees the scope's depth on that thread, and the thread
//!   leaves the world where it entered it. The wiring ends when it resumes.
//!   (A goroutine that called `lock_os_thread` itself is already wired.)
//! - **A goroutine parked outside a scope holds only `Root`s** (a `Gc`
//!   cannot outlive its scope), so it never delays a cycle: it has nothing
//!   to give up.
//!
//! A goroutine blocked inside a scope thus delays collection until it
//! resumes and closes the scope, exactly as a thread blocked inside one
//! does, and holds an OS thread while it waits, as a blocking system call
//! does: keep scopes short and hold `Root`s across waits. Allocation in a
//! scope never switches; entering one may wait for a running cycle with the
//! P held (a cycle is short and needs no goroutine).
//! A finer rule (scanning parked goroutines' stacks) would need every
//! handle to be found by scanning, which the `Gc` API does not promise.
//!
//! The GC's own work runs on Ps too: `schedule` gives the concurrent mark
//! a slice before picking the next goroutine while the mark is owed CPU
//! (its 25% budget), and `findrunnable` marks instead of idling a P
//! (`gc::mgc::mark_on_p`); both on g0, outside any scope. A goroutine's
//! mark assists are charged to its own G (`G::gcassist`), and a goroutine
//! changes thread only between scopes, where the thread's uncharged
//! allocation is settled.
//!
//! # Modules
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `runtime2` | runtime2.go | G, M, P and the global `Sched` records |
//! | `asm` | asm_amd64.s (gogo, mcall) | the context switch |
//! | `stack` | stack.go, signal_unix.go | stack slots, guards, overflow handler |
//! | `proc` | proc.go | go, schedule, findrunnable, run queues, steal, park |
//! | `time` | time.go | per-P timer heaps, `sleep`, `after` |
//! | `sysmon` | proc.go (sysmon) | retake, timers, stack scavenging |
//! | `netpoll` | netpoll.go, netpoll_epoll.go | epoll, poll descriptors |
//! | `sema` | sema.go | wait queues for goroutines and plain threads |
//! | `sync` | sync/ | goroutine-aware `Mutex`, `WaitGroup`, `Once` |
//! | `net` | net/ | `TcpListener`, `TcpStream`, `UdpSocket` |

pub(crate) mod asm;
pub mod net;
pub(crate) mod netpoll;
pub(crate) mod netpoll_epoll;
pub(crate) mod proc;
pub(crate) mod runtime2;
pub(crate) mod sema;
pub(crate) mod stack;
pub mod sync;
pub(crate) mod sysmon;
pub(crate) mod time;

pub use proc::{
    blocking, go, gomaxprocs, goroutines_started, lock_os_thread, unlock_os_thread, yield_now,
};
pub use stack::stacks_carved;
pub use sync::{Mutex, MutexGuard, Once, WaitGroup};
pub use time::sleep;
// The parking interface for channels (crate::chan).
#[allow(unused_imports)]
pub(crate) use proc::{current_g, gopark, goready, GRef};
#[allow(unused_imports)]
pub(crate) use time::{after, TimerHandle};
