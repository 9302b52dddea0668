//! The managed heap: Go's garbage collector (mgc.go and friends) on the same
//! page heap as the allocator, with a sound Rust face (`Gc`, `mutate`,
//! `Root`, `#[derive(Trace)]`) and a raw face for libgc's C API (`raw`).
//!
//! # Spans and objects
//!
//! GC objects live in *GC spans*: in-use spans of the one `alloc::mheap`,
//! taken with `MHeap::alloc_span` under span class `SpanClass::gc(class)`
//! (Go's "scan" half of the span class, never used by malloc). So GC spans
//! and malloc spans share arenas, coalescing and the scavenger, and malloc's
//! `free()`/`realloc()` reject a GC object as an invalid pointer: the fast
//! free path accepts only noscan classes, and `lookup` on the slow path
//! refuses every GC class. Objects of a GC span are freed by sweeping only
//! (or by `raw::free`, libgc's `GC_free`).
//!
//! Each GC span has a side record, `mbitmap::GcSpan`, reached from any
//! address through the collector's own page map (`mbitmap::span_of`): no
//! field is added to the allocator's hot `MSpan`. The record holds the
//! span's geometry, its *kind*, and its alloc bits (Go's `allocBits`); the
//! mark bits (Go's `gcmarkBits`) are one bitmap per arena, a bit per word
//! at each object's start, so marking a precise pointer needs no span
//! lookup:
//!
//! | kind | objects | scanned |
//! | --- | --- | --- |
//! | `Typed(info)` | Rust values of one type (`Gc::new`) | precisely, by the type's `Trace` |
//! | `Typed(info)` with `info.trace == None` | Rust values without GC pointers | never (noscan) |
//! | `Conservative` | `GC_malloc` | every aligned word (interior pointers count) |
//! | `Atomic` | `GC_malloc_atomic` | never (noscan) |
//! | `Uncollectable` | `GC_malloc_uncollectable` | conservatively, and a root |
//!
//! Typed spans hold one Rust type each, so Rust objects carry no header and
//! need no pointer bitmap: the span's `TypeInfo` knows how to trace and drop
//! them (what Go 1.22 keeps as a per-span bitmap or a type header). An object
//! is *allocated* when its index is below the span's `freeindex` or its
//! alloc bit is set (Go's rule), and not freed by `raw::free` (`freed` bits).
//!
//! # Allocation
//!
//! Each thread has a cache (`mcache.rs`, Go's mcache): one current span per
//! (kind, size class) and per Rust type, with a 64-bit window of its free
//! slots. Allocation is a bit scan and a store; only a refill takes the GC
//! central lock, which also does the pacer's accounting (bytes handed to the
//! cache count as allocated, as in Go). Large objects (> 32 KiB) get a span
//! of their own.
//!
//! # The world, and the cycle
//!
//! A cycle starts and ends only while no thread is inside the managed
//! heap's *world* (`mgc.rs`); its mark runs between the two with the world
//! open. Rust threads enter the world for the whole of a `mutate` scope, C
//! threads for each `raw` call that needs more than their own cache (a
//! registered C thread's cached allocation stays outside, see
//! `stoptheworld`). The collector holds the world by waiting
//! for the count of open scopes to reach zero and then holding it at zero
//! (`RUNNING`); threads that enter wait. A collection is *requested* by the
//! pacer (or `collect`) and *run* by the thread whose exit brings the count
//! to zero. A thread never waits for its own scope: nested entries do not
//! wait, and a thread that asks for a collection from inside a scope only
//! requests it. New outermost entries wait a little while a collection is
//! pending (so busy threads let it run), but never indefinitely (a thread
//! inside a scope may be waiting for them).
//!
//! A cycle (`mgc.rs` has the protocol and the soundness argument) holds
//! the world twice, briefly, and marks between the two with the world open:
//! 1. *start* (world held): barriers on, allocation black, the `Root`
//!    table greyed into the shared work list; the world is released;
//! 2. *concurrent mark* (`mgcmark.rs`): a background mark worker drains
//!    the grey work while mutators run; their write barriers
//!    (`mbarrier.rs`) shade what they overwrite; when no grey work is left
//!    anywhere the worker asks for the world;
//! 3. *mark termination* (world held): any grey work left is drained,
//!    barriers off, every cache flushed, every span left unswept; the
//!    world is released;
//! 4. *lazy sweep* (`mgcsweep.rs`), world open: a background sweeper, and
//!    caches that need a span of a size first, sweep each span once:
//!    alloc bits become the mark bits; empty spans go back to the mheap;
//!    dead objects that need `Drop` or have cleanups are handed to the
//!    finalizer thread (`mfinal.rs`). The next cycle's start sweeps what
//!    is left before it marks;
//! 5. pacing (`mgcpacer.rs`, at termination): next goal = marked + (marked + roots) ×
//!    GOGC/100, lower under a memory limit; the next trigger from the
//!    measured cons/mark;
//!    statistics and the gctrace line; the after-cycle hooks.
//!
//! While the C side takes part (libgc's hooks are registered, or a C kind
//! was ever allocated: C code writes GC pointers without barriers), both
//! phases that hold the world also stop the C threads: the start greys
//! their roots (stacks, registers, data/bss, uncollectable objects), and
//! the kernel tracks which pages of conservative spans they write while
//! the mark runs (`dirtybits.rs`); termination scans those pages and the C
//! roots again, then runs libgc's after-mark hooks (finalizers,
//! disappearing links). Without that tracking (old kernels), under
//! `GOHEAP_DEBUG=gcstoptheworld=1`, or for a forced collection (`collect`,
//! `GC_gcollect`), the whole cycle runs with the world held: flush caches,
//! stop the C threads, mark from every root (the `Root` table, uncollectable
//! objects, the libgc side's roots), the after-mark hooks, restart, sweep.
//!
//! `sweepgen` is kept per span as in Go (a span is swept in cycle N when its
//! sweepgen is N).

//! # The Rust API and why it is sound
//!
//! * A **root** is a `Root<R>` (a slot in the root table, registered while
//!   the handle exists), an uncollectable C object, or a root the libgc side
//!   reports. Nothing else: Rust stacks are never scanned.
//! * A `Gc<'gc, T>` is a plain pointer (`Copy`, no counter) branded with the
//!   invariant lifetime of the `mutate` scope that made or loaded it
//!   (`mutate` takes a closure `for<'gc> FnOnce(&Mutation<'gc>) -> R`, and `R`
//!   cannot name `'gc`). Safe code can copy it into boxes, vectors or scoped
//!   threads of that scope, but nothing that outlives the scope: not a
//!   static, not a `thread::spawn` closure, not the scope's result.
//! * An object may be collected only by a cycle, and a cycle starts and
//!   ends only while no scope is open. When a scope closes, all its
//!   handles are dead; what survives into the next scope is reachable only
//!   from roots, through the `Trace` of GC objects. So at a cycle's start
//!   every object that will ever be reachable again is reachable from a
//!   root; the barriers keep it so while mutators run during the mark
//!   (`mgc.rs`), and the sweep frees only what the mark did not reach by
//!   its end, which nothing can reach afterwards (`mgcsweep.rs`): no live
//!   handle points at a freed object.
//! * Goroutines hold handles exactly as threads do: a goroutine that switches
//!   out inside a scope stays on its thread until it resumes, and one parked
//!   outside a scope holds only `Root`s (`sched/mod.rs`, "GC scopes on
//!   goroutines").
//! * `Trace` is an `unsafe trait`: only `#[derive(Trace)]` (which traces
//!   every field) and impls written with `unsafe` are trusted; a field
//!   missed by a hand-written impl is that impl's broken promise. Fields of
//!   GC objects can be changed only through `GcCell`/`GcAtomic`, which carry
//!   the barrier; std containers get `Trace` only when they have no interior
//!   mutability.
//! * `Drop`: dead objects of types that need dropping are dropped on the
//!   finalizer thread (so `Gc::new` needs `T: Send`), and their memory is
//!   reused only after that. A drop must not follow the object's `Gc`
//!   pointers (their targets may be gone): `#[derive(Trace)]` forbids a
//!   `Drop` impl on the type (as gc-arena does), and std types never follow
//!   them. While queued, an object is kept but never traced.
//! * Cleanups (`Gc::add_cleanup`, Go 1.24's `AddCleanup`) get a value, not
//!   the object, run once on the finalizer thread, and cannot resurrect.
//! * `Root<R>` is `'static`, `Clone`, `Send`/`Sync` when the rooted data is;
//!   `root.get(mu)` re-brands the object into the caller's scope (the
//!   `Rootable!` projection, like gc-arena's, names the type for any `'gc`).
//!
//! Subsystem layout (Go's names):
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `mbitmap` | mbitmap.go | `GcSpan` records, bits, the page map |
//! | `mcache` | mcache.go, mcentral.go | per-thread caches, central span lists |
//! | `mgc` | mgc.go | the world protocol and the cycle |
//! | `mgcmark` | mgcmark.go, mgcwork.go | roots, `Marker`, grey stacks, the shared work list |
//! | `mgcsweep` | mgcsweep.go | sweeping |
//! | `mgcpacer` | mgcpacer.go, mstats.go | heap goal and trigger, GOGC, the memory limit's goal, gctrace, GC stats |
//! | `mgclimit` | mgclimit.go | the GC CPU limiter (leaky bucket, ≈50% cap) |
//! | `dirtybits` | — (libgc's os_dep.c dirty bits) | written-page tracking for the C side's concurrent mark (userfaultfd, `PAGEMAP_SCAN`) |
//! | `mbarrier` | mbarrier.go | write-barrier entry points |
//! | `mfinal` | mfinal.go, mcleanup.go | the finalizer: a goroutine wired to its thread (a plain thread without the scheduler) running Drop and cleanups |
//! | `trace` | — | `Trace` and its impls for std types |
//! | `api` | — | `mutate`, `Mutation`, `Gc`, `Root`, `GcCell`, `GcAtomic` |
//! | `raw` | — | the unsafe interface of libgc's C API |
//! | `stoptheworld` | — | libgc's C API: registered C threads, stopped by a signal for the cycle |
//! | `conservative` | — | libgc's C API: static roots (data/bss, `GC_add_roots`) |
//! | `libgc_final` | mfinal.go | libgc's C API: finalizers and disappearing links |
//! | `libgc` | — | libgc's C API: the logic behind `ffi/src/gc.rs` |

mod api;
pub mod conservative;
pub(crate) mod dirtybits;
pub mod libgc;
pub mod libgc_final;
pub(crate) mod mbarrier;
pub(crate) mod mbitmap;
pub(crate) mod mcache;
pub(crate) mod mfinal;
pub(crate) mod mgc;
pub(crate) mod mgclimit;
pub(crate) mod mgcmark;
pub(crate) mod mgcpacer;
pub(crate) mod mgcsweep;
pub(crate) mod mwbbuf;
pub mod raw;
pub mod stoptheworld;
mod trace;

pub use api::{mutate, Gc, GcAtomic, GcCell, GcRef, GcRefMut, Mutation, Root, Rootable};
pub use mgcmark::Marker;
pub use trace::Trace;

#[doc(hidden)]
pub use api::__DynRootable;
#[doc(hidden)]
pub use trace::__MustNotImplDrop;
