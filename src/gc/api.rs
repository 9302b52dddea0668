//! The Rust API: `mutate` scopes, `Gc` handles, `Root`s and barrier cells.
//! The soundness argument is in `gc/mod.rs`; the pieces, in brief:
//!
//! - `mutate(|mu| ..)` enters the world for the closure; `Mutation<'gc>`
//!   carries the scope's invariant brand `'gc`, chosen per call
//!   (`for<'gc>`), so nothing branded can leave the closure.
//! - `Gc<'gc, T>`: a pointer, `Copy`, free to copy and drop.
//! - `Root<R>`: a slot in `ROOTS` (a lock on create and drop); `R` is a
//!   `Rootable!['gc => T<'gc>]` projection, so `get` hands the object back
//!   branded with the caller's scope.
//! - `GcCell<T>`: a `RefCell` with an atomic flag (so `Sync` when `T` is),
//!   whose `borrow_mut` passes the write barrier; `GcAtomic`: an atomic
//!   `Option<Gc>` for lock-free sharing, with the barrier on `store`.
//! - The concurrent mark reads cells beside their writers: it takes the
//!   cell's `SCANNING` flag, which readers share and a writer waits for (a
//!   marker holds it only while it traces the value, and never waits for a
//!   mutator); a cell being written is skipped (`GcCell::trace` says why).
//!
//! Example:
//!
//! ```
//! use goheap::gc::{mutate, Gc, GcCell, Root};
//! use goheap::{Rootable, Trace};
//!
//! #[derive(Trace)]
//! struct Node<'gc> {
//!     value: u32,
//!     next: GcCell<Option<Gc<'gc, Node<'gc>>>>,
//! }
//!
//! let head: Root<Rootable!['gc => Node<'gc>]> = mutate(|mu| {
//!     let a = Gc::new(mu, Node { value: 1, next: GcCell::new(None) });
//!     let b = Gc::new(mu, Node { value: 2, next: GcCell::new(Some(a)) });
//!     *a.next.borrow_mut(mu) = Some(b); // a cycle
//!     Root::new(mu, a)
//! });
//! goheap::gc::raw::collect();
//! mutate(|mu| {
//!     let a = head.get(mu);
//!     let b = a.next.borrow().unwrap();
//!     assert_eq!((a.value, b.value), (1, 2));
//! });
//! ```
//!
//! A handle cannot leave its scope:
//!
//! ```compile_fail
//! let g = goheap::gc::mutate(|mu| goheap::gc::Gc::new(mu, 1u32));
//! ```
//!
//! ```compile_fail
//! let mut stash = None;
//! goheap::gc::mutate(|mu| stash = Some(goheap::gc::Gc::new(mu, 1u32)));
//! ```
//!
//! ```compile_fail
//! goheap::gc::mutate(|mu| {
//!     let g = goheap::gc::Gc::new(mu, 1u32);
//!     std::thread::spawn(move || *g);
//! });
//! ```
//!
//! ```compile_fail,E0521
//! use goheap::gc::{mutate, Gc};
//! mutate(|outer| {
//!     let mut keep = None;
//!     // A handle of an inner scope cannot flow out into the outer one.
//!     mutate(|inner| keep = Some(Gc::new(inner, 1u32)));
//!     let _ = keep;
//!     let _ = outer;
//! });
//! ```
//!
//! A traced type cannot have a `Drop` impl (it could follow a `Gc` field
//! into a collected object on the finalizer thread):
//!
//! ```compile_fail,E0119
//! use goheap::gc::Gc;
//! #[derive(goheap::Trace)]
//! struct Bad<'gc> { next: Option<Gc<'gc, Bad<'gc>>> }
//! impl Drop for Bad<'_> { fn drop(&mut self) {} }
//! ```
//!
//! A GC object cannot borrow anything shorter than `'static` (a `Root`
//! could keep it past the borrow):
//!
//! ```compile_fail,E0597
//! let s = String::from("short");
//! let r: &str = &s;
//! goheap::gc::mutate(|mu| { goheap::gc::Gc::new(mu, r); });
//! ```
//!
//! Types that are not `Send` cannot go into the heap (they may be dropped on
//! the finalizer thread):
//!
//! ```compile_fail,E0277
//! let cell: &'static std::cell::Cell<u8> = Box::leak(Box::new(std::cell::Cell::new(1)));
//! goheap::gc::mutate(|mu| { goheap::gc::Gc::new(mu, cell); });
//! ```
//!
//! But scoped threads of the scope may share handles of `Sync` data:
//!
//! ```
//! goheap::gc::mutate(|mu| {
//!     let g = goheap::gc::Gc::new(mu, 7u64);
//!     std::thread::scope(|s| {
//!         s.spawn(|| assert_eq!(*g, 7));
//!     });
//! });
//! ```

use super::mbarrier;
use super::mbitmap::{self, Kind, TypeInfo};
use super::mcache::{self, gc_object_size};
use super::mfinal;
use super::mgc::World;
use super::mgcmark::{self, trace_erased, Marker};
use super::mwbbuf;
use super::trace::Trace;
use crate::alloc::sizeclasses::PAGE_SIZE;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, needs_drop, size_of};
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The invariant brand of a scope.
type Brand<'gc> = PhantomData<fn(&'gc ()) -> &'gc ()>;

/// The context of a `mutate` scope: allocation and barriers need it.
pub struct Mutation<'gc> {
    _brand: Brand<'gc>,
}

/// Runs `f` inside the managed heap's world (see `gc/mod.rs`): handles it
/// makes or loads are valid until it returns. A collection that becomes
/// due meanwhile runs when the last open scope closes.
pub fn mutate<R>(f: impl for<'gc> FnOnce(&Mutation<'gc>) -> R) -> R {
    let _world = World::enter();
    f(&Mutation {
        _brand: PhantomData,
    })
}

/// A handle of a GC object, valid in the scope `'gc`.
pub struct Gc<'gc, T: 'gc> {
    ptr: NonNull<T>,
    _brand: PhantomData<(&'gc T, Brand<'gc>)>,
}

impl<T> Clone for Gc<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<'_, T> {}

// SAFETY: like `&T` shared between the scope's threads (`T: Sync`); the
// object may be dropped on the finalizer thread (`T: Send`).
unsafe impl<T: Sync + Send> Send for Gc<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Sync + Send> Sync for Gc<'_, T> {}

/// The collector's description of `T`.
struct Info<T>(PhantomData<T>);

impl<T: Trace> Info<T> {
    const INFO: &'static TypeInfo = &TypeInfo {
        trace: if T::NEEDS_TRACE {
            Some(trace_erased::<T>)
        } else {
            None
        },
        drop: if needs_drop::<T>() {
            Some(drop_erased::<T>)
        } else {
            None
        },
        size: size_of::<T>(),
    };
}

/// # Safety
/// `p` is a dead object of type `T` that nothing else uses.
unsafe fn drop_erased<T>(p: *mut u8) {
    // SAFETY: forwarded contract.
    unsafe { ptr::drop_in_place(p.cast::<T>()) }
}

impl<'gc, T: Trace + Send + 'gc> Gc<'gc, T> {
    /// Moves `value` into the GC heap.
    ///
    /// Out of memory (the heap limit or the OS) aborts with a goheap
    /// message: no collection can run inside a scope (its handles are not
    /// roots), unlike `raw::alloc`, which collects and retries. Types
    /// aligned above a page abort likewise (spans are only page-aligned).
    pub fn new(_mu: &Mutation<'gc>, value: T) -> Gc<'gc, T> {
        if align_of::<T>() > PAGE_SIZE {
            gc_new_failed(b"alignment above a page is unsupported", align_of::<T>());
        }
        let kind = Kind::Typed(Info::<T>::INFO);
        let p = mcache::alloc(kind, size_of::<T>(), align_of::<T>()).cast::<T>();
        let Some(ptr) = NonNull::new(p) else {
            gc_new_failed(b"out of memory", size_of::<T>())
        };
        allocate_black(
            p as usize,
            const { gc_object_size(size_of::<T>(), align_of::<T>()) },
        );
        // SAFETY: a fresh object of T's size and alignment, ours.
        unsafe { ptr.as_ptr().write(value) };
        Gc {
            ptr,
            _brand: PhantomData,
        }
    }
}

/// Prints `goheap: Gc::new: <what> (<n> bytes)` and aborts.
#[cold]
fn gc_new_failed(what: &[u8], n: usize) -> ! {
    let mut buf = [0u8; 20];
    crate::os::write_stderr(&[
        b"goheap: Gc::new: ",
        what,
        b" (",
        crate::os::decimal(n, &mut buf),
        b" bytes)\n",
    ]);
    // SAFETY: abort never returns and needs no preconditions.
    unsafe { libc::abort() }
}

/// While marking, objects are allocated marked (`mbarrier::ALLOCATE_BLACK`),
/// and allocating goroutines and threads assist the mark in proportion to
/// the bytes they allocate.
#[inline(always)]
pub(crate) fn allocate_black(p: usize, bytes: usize) {
    if mbarrier::ALLOCATE_BLACK.load(Ordering::Relaxed) {
        mbitmap::set_mark_at(p);
        mgcmark::note_black_alloc(bytes);
    }
}

impl<'gc, T: 'gc> Gc<'gc, T> {
    /// The object, for the whole scope.
    pub fn as_scoped_ref(self) -> &'gc T {
        // SAFETY: the object lives at least until the scope ends.
        unsafe { self.ptr.as_ref() }
    }

    /// Whether two handles name the same object.
    pub fn ptr_eq(a: Gc<'gc, T>, b: Gc<'gc, T>) -> bool {
        a.ptr == b.ptr
    }

    pub fn as_ptr(self) -> *const T {
        self.ptr.as_ptr()
    }

    /// Runs `cleanup(arg)` on the finalizer (`gc::mfinal`) once the object has been
    /// collected (Go's `runtime.AddCleanup`). The cleanup never sees the
    /// object; if `arg` keeps it reachable (a `Root`), it never runs.
    pub fn add_cleanup<A: Send + 'static>(
        self,
        _mu: &Mutation<'gc>,
        arg: A,
        cleanup: impl FnOnce(A) + Send + 'static,
    ) {
        let p = self.ptr.as_ptr() as usize;
        let (s, _) = mbitmap::object_of(p).expect("a Gc names an allocated object");
        mfinal::add_cleanup(s, p, Box::new(move || cleanup(arg)));
    }
}

impl<T> Deref for Gc<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: as in `as_scoped_ref`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: fmt::Debug> fmt::Debug for Gc<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

// SAFETY: marks the object; what it holds is traced when it is scanned.
unsafe impl<T: Trace> Trace for Gc<'_, T> {
    #[inline(always)]
    fn trace(&self, m: &mut Marker) {
        m.mark_gc::<T>(self.ptr.as_ptr() as usize)
    }
}

/// A type with a GC lifetime, named for every `'gc` at once: implemented by
/// `Rootable!['gc => T<'gc>]`.
pub trait Rootable<'gc> {
    type Root: 'gc;
}

#[doc(hidden)]
pub struct __DynRootable<T: ?Sized>(PhantomData<T>);

impl<'gc, T: ?Sized + Rootable<'gc>> Rootable<'gc> for __DynRootable<T> {
    type Root = <T as Rootable<'gc>>::Root;
}

/// `Rootable!['gc => Node<'gc>]`: the `Rootable` type of `Node<'gc>` for
/// every `'gc`, for `Root<…>`.
#[macro_export]
macro_rules! Rootable {
    ($gc:lifetime => $t:ty) => {
        $crate::gc::__DynRootable::<dyn for<$gc> $crate::gc::Rootable<$gc, Root = $t>>
    };
}

/// A handle that keeps a GC object alive across scopes and threads.
pub struct Root<R: for<'a> Rootable<'a> + ?Sized + 'static> {
    slot: usize,
    ptr: NonNull<u8>,
    _r: PhantomData<fn() -> Box<R>>,
}

// SAFETY: `get` shares the object with whichever thread holds the root.
unsafe impl<R> Send for Root<R>
where
    R: for<'a> Rootable<'a> + ?Sized + 'static,
    for<'a> <R as Rootable<'a>>::Root: Send + Sync,
{
}
// SAFETY: as above.
unsafe impl<R> Sync for Root<R>
where
    R: for<'a> Rootable<'a> + ?Sized + 'static,
    for<'a> <R as Rootable<'a>>::Root: Send + Sync,
{
}

struct RootTable {
    slots: Vec<usize>,
    free: Vec<usize>,
}

static ROOTS: Mutex<RootTable> = Mutex::new(RootTable {
    slots: Vec::new(),
    free: Vec::new(),
});

fn roots() -> MutexGuard<'static, RootTable> {
    ROOTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn register_root(p: usize) -> usize {
    let mut t = roots();
    match t.free.pop() {
        Some(i) => {
            t.slots[i] = p;
            i
        }
        None => {
            t.slots.push(p);
            t.slots.len() - 1
        }
    }
}

/// Calls `f` with every rooted object (mark phase).
pub(crate) fn for_each_root(mut f: impl FnMut(usize)) {
    for &p in roots().slots.iter().filter(|&&p| p != 0) {
        f(p);
    }
}

/// While marking, the object of a root is shaded when the root is made or
/// read (`mbarrier.rs`).
#[inline(always)]
fn shade_rooted(p: NonNull<u8>) {
    if mbarrier::MARKING.load(Ordering::Relaxed) {
        mwbbuf::shade_object(p.as_ptr());
    }
}

impl<R: for<'a> Rootable<'a> + ?Sized + 'static> Root<R> {
    /// Roots the object of `gc`.
    pub fn new<'gc>(_mu: &Mutation<'gc>, gc: Gc<'gc, <R as Rootable<'gc>>::Root>) -> Root<R>
    where
        <R as Rootable<'gc>>::Root: Trace,
    {
        let p = gc.ptr.cast::<u8>();
        shade_rooted(p);
        Root {
            slot: register_root(p.as_ptr() as usize),
            ptr: p,
            _r: PhantomData,
        }
    }

    /// The rooted object, as a handle of the caller's scope.
    pub fn get<'gc>(&self, _mu: &Mutation<'gc>) -> Gc<'gc, <R as Rootable<'gc>>::Root> {
        // The object is alive (rooted), and everything it reaches is; its
        // type differs from the one it was rooted with only in the brand.
        shade_rooted(self.ptr);
        Gc {
            ptr: self.ptr.cast(),
            _brand: PhantomData,
        }
    }
}

impl<R: for<'a> Rootable<'a> + ?Sized + 'static> Clone for Root<R> {
    fn clone(&self) -> Self {
        Root {
            slot: register_root(self.ptr.as_ptr() as usize),
            ptr: self.ptr,
            _r: PhantomData,
        }
    }
}

impl<R: for<'a> Rootable<'a> + ?Sized + 'static> Drop for Root<R> {
    fn drop(&mut self) {
        let mut t = roots();
        t.slots[self.slot] = 0;
        t.free.push(self.slot);
    }
}

// SAFETY: a root is a root already; nothing to trace through it.
unsafe impl<R: for<'a> Rootable<'a> + ?Sized + 'static> Trace for Root<R> {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut Marker) {}
}

const WRITING: isize = -1;
/// One marker tracing the value (readers may share it, writers wait): the
/// flag counts markers from this bit up, readers below it.
const SCANNING: isize = 1 << 40;

/// A `RefCell` for GC objects: `borrow_mut` passes the write barrier, and
/// the flag is atomic, so the cell is `Sync` when `T` is `Send + Sync`.
pub struct GcCell<T: ?Sized> {
    flag: AtomicIsize,
    value: UnsafeCell<T>,
}

// SAFETY: the flag makes borrows exclusive across threads, like a RwLock
// that panics instead of blocking.
unsafe impl<T: ?Sized + Send> Send for GcCell<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for GcCell<T> {}

impl<T> GcCell<T> {
    pub const fn new(value: T) -> GcCell<T> {
        GcCell {
            flag: AtomicIsize::new(0),
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: ?Sized + Trace> GcCell<T> {
    /// Shared access; panics if the value is mutably borrowed.
    ///
    /// The flag only ever moves from a reader count `n >= 0` to `n + 1`:
    /// while a writer holds `WRITING` nobody else writes it, so the
    /// writer's release (`store(0)`) cannot be undone or overlapped.
    pub fn borrow(&self) -> GcRef<'_, T> {
        let mut f = self.flag.load(Ordering::Relaxed);
        loop {
            if f < 0 {
                panic!("goheap: GcCell already mutably borrowed");
            }
            let Some(next) = f.checked_add(1) else {
                panic!("goheap: GcCell borrowed too many times");
            };
            match self
                .flag
                .compare_exchange_weak(f, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return GcRef { cell: self },
                Err(now) => f = now,
            }
        }
    }

    /// Exclusive access through the write barrier; panics if borrowed.
    pub fn borrow_mut<'b>(&'b self, _mu: &Mutation<'_>) -> GcRefMut<'b, T> {
        while let Err(f) =
            self.flag
                .compare_exchange_weak(0, WRITING, Ordering::Acquire, Ordering::Relaxed)
        {
            match f {
                0 => {}
                f if f > 0 && f & (SCANNING - 1) == 0 => std::thread::yield_now(),
                _ => panic!("goheap: GcCell already borrowed"),
            }
        }
        // The old contents are shaded now, not when the borrow ends, so a
        // forgotten `GcRefMut` cannot skip that half of the barrier.
        // SAFETY: exclusive now.
        mbarrier::before_write(unsafe { &*self.value.get() });
        GcRefMut { cell: self }
    }

    /// Traces the value beside running mutators: shares the cell with its
    /// readers under `SCANNING`; skips it while it is being written.
    fn trace_concurrently(&self, m: &mut Marker) {
        let mut f = self.flag.load(Ordering::Relaxed);
        loop {
            if f < 0 {
                return;
            }
            match self.flag.compare_exchange_weak(
                f,
                f + SCANNING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => f = now,
            }
        }
        // SAFETY: no writer while `SCANNING` is held.
        unsafe { (*self.value.get()).trace(m) };
        self.flag.fetch_sub(SCANNING, Ordering::Release);
    }
}

impl<T: fmt::Debug + Trace> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.borrow().fmt(f)
    }
}

// SAFETY: traces the value, unless a writer holds the cell. A marker
// that holds the world finds a writer only if its `GcRefMut` was
// forgotten: the cell can never be borrowed again, so what it holds is
// unreachable for every mutator. A concurrent marker (or a barrier) that
// meets a writer skips the cell too: the writer shaded the old contents
// when its borrow began (after the cycle's roots were taken, since no scope
// is open then), and can store only pointers it holds, which the mark's
// invariant protects already (`mgc.rs`).
unsafe impl<T: ?Sized + Trace> Trace for GcCell<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, m: &mut Marker) {
        if m.is_concurrent() {
            self.trace_concurrently(m);
        } else if self.flag.load(Ordering::Relaxed) >= 0 {
            // SAFETY: the world is held: no writer, and none can start.
            unsafe { (*self.value.get()).trace(m) }
        }
    }
}

/// A shared borrow of a `GcCell`.
pub struct GcRef<'b, T: ?Sized> {
    cell: &'b GcCell<T>,
}

impl<T: ?Sized> Deref for GcRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: no writer while this borrow lives.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T: ?Sized> Drop for GcRef<'_, T> {
    fn drop(&mut self) {
        self.cell.flag.fetch_sub(1, Ordering::Release);
    }
}

/// An exclusive borrow of a `GcCell`; its drop completes the barrier.
pub struct GcRefMut<'b, T: ?Sized + Trace> {
    cell: &'b GcCell<T>,
}

impl<T: ?Sized + Trace> Deref for GcRefMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this borrow is exclusive.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T: ?Sized + Trace> DerefMut for GcRefMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this borrow is exclusive.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T: ?Sized + Trace> Drop for GcRefMut<'_, T> {
    fn drop(&mut self) {
        mbarrier::after_write(&**self);
        self.cell.flag.store(0, Ordering::Release);
    }
}

/// An atomic `Option<Gc<'gc, T>>`, for sharing between a scope's threads
/// without locks; `store` passes the write barrier.
pub struct GcAtomic<'gc, T: 'gc> {
    ptr: AtomicPtr<T>,
    _gc: PhantomData<Gc<'gc, T>>,
}

fn raw_of<T>(v: Option<Gc<'_, T>>) -> *mut T {
    v.map_or(ptr::null_mut(), |g| g.ptr.as_ptr())
}

impl<'gc, T: Trace + 'gc> GcAtomic<'gc, T> {
    pub fn new(v: Option<Gc<'gc, T>>) -> GcAtomic<'gc, T> {
        GcAtomic {
            ptr: AtomicPtr::new(raw_of(v)),
            _gc: PhantomData,
        }
    }

    pub fn load(&self) -> Option<Gc<'gc, T>> {
        NonNull::new(self.ptr.load(Ordering::Acquire)).map(|ptr| Gc {
            ptr,
            _brand: PhantomData,
        })
    }

    /// Stores `v`, returning the previous value.
    pub fn swap(&self, _mu: &Mutation<'gc>, v: Option<Gc<'gc, T>>) -> Option<Gc<'gc, T>> {
        mbarrier::after_write(&v);
        let old = NonNull::new(self.ptr.swap(raw_of(v), Ordering::AcqRel)).map(|ptr| Gc {
            ptr,
            _brand: PhantomData,
        });
        mbarrier::before_write(&old);
        old
    }

    pub fn store(&self, mu: &Mutation<'gc>, v: Option<Gc<'gc, T>>) {
        self.swap(mu, v);
    }
}

// SAFETY: marks the object it holds.
unsafe impl<T: Trace> Trace for GcAtomic<'_, T> {
    fn trace(&self, m: &mut Marker) {
        self.load().trace(m)
    }
}
