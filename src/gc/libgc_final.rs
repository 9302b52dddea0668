//! libgc's finalizers and disappearing links (Go's mfinal.go has the same
//! job for Go's `SetFinalizer`; the semantics here are libgc's, finalize.c).
//!
//! # Data
//! `TABLES`, a runtime `Mutex`, holds, in malloc'd memory that no collection
//! scans (so that the tables themselves keep nothing alive):
//! * `finalizers`: object base → (function, client data, mode), one per
//!   object, for objects still reachable or not yet found unreachable;
//! * `ready`: the queue of finalizers whose objects were found unreachable,
//!   in the order found, waiting for `GC_invoke_finalizers` (or for the
//!   automatic invocation, see below);
//! * `links`: link address → object base (disappearing links).
//!
//! # Roots
//! As in libgc (whose tables live in the GC heap and are pushed as roots):
//! the client data of every registered finalizer, and object and client data
//! of every queued finalizer are roots. An object waiting in `ready` is
//! therefore kept, with all it reaches, until its finalizer has run; an
//! object with a registered finalizer is not kept by the registration.
//!
//! # After marking (world stopped, mark queue drained), in libgc's order
//! 1. every link whose object is unmarked is cleared (`*link = NULL`) and
//!    forgotten; links that live inside an unmarked object are forgotten
//!    (short links disappear before finalization marks anything);
//! 2. for every unmarked finalizable object, what it reaches is marked
//!    (`Normal`: its words, so an object in a cycle with itself or with
//!    another finalizable object stays unfinalized, libgc's topological
//!    order; `IgnoreSelf`: its words except those pointing into itself;
//!    `NoOrder`: nothing), draining after each;
//! 3. every finalizable object still unmarked is ready: it moves to `ready`
//!    and is marked with all it reaches (libgc with `GC_java_finalization`,
//!    its default: the finalizer may use what its object points to);
//! 4. links inside objects that stay unmarked are forgotten again.
//!
//! An object reachable from another finalizable object is thus finalized
//! only in a later cycle, after its referrer's finalizer ran and the
//! referrer died: the referrer's finalizer always sees its referents intact.
//!
//! # When finalizers run
//! Never inside a collection, never with a lock of goheap held: as libgc
//! does (`GC_notify_or_invoke_finalizers`), at the entry of an allocation and
//! after `GC_gcollect`, on the calling thread, unless `GC_finalize_on_demand`
//! is set, in which case the `GC_finalizer_notifier` is called once per
//! collection that queued finalizers, and the program calls
//! `GC_invoke_finalizers` itself. A thread already running finalizers does
//! not start again (no nesting). Each finalizer runs exactly once: it is
//! removed from the queue under the lock before it is called.
//!
//! # Locking
//! The collector takes `TABLES`' lock before it stops the world and releases
//! it after the restart (see `stoptheworld`), so the after-mark and root
//! hooks use the tables without locking and no stopped thread holds them.

use super::raw::{self, Kind, Marker};
use crate::lock::Mutex;
use core::cell::Cell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::{BTreeMap, VecDeque};

/// `GC_finalization_proc`.
pub type FinalizerFn = unsafe extern "C" fn(obj: *mut c_void, client_data: *mut c_void);

/// Which of libgc's registration functions registered the finalizer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `GC_register_finalizer`: topological order.
    Normal,
    /// `GC_register_finalizer_ignore_self`: self-pointers do not count.
    IgnoreSelf,
    /// `GC_register_finalizer_no_order`: no ordering.
    NoOrder,
}

#[derive(Clone, Copy)]
struct Finalizer {
    func: FinalizerFn,
    client_data: usize,
    mode: Mode,
}

struct Tables {
    finalizers: BTreeMap<usize, Finalizer>,
    ready: VecDeque<(usize, Finalizer)>,
    links: BTreeMap<usize, usize>,
}

static TABLES: Mutex<Tables> = Mutex::new(Tables {
    finalizers: BTreeMap::new(),
    ready: VecDeque::new(),
    links: BTreeMap::new(),
});

/// Length of the ready queue (read without the lock for the quick checks).
static READY: AtomicUsize = AtomicUsize::new(0);
/// `gc_no` of the last collection the notifier was called for.
static NOTIFIED_GC: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    static RUNNING_FINALIZERS: Cell<bool> = const { Cell::new(false) };
}

/// libgc's status codes.
pub const GC_SUCCESS: i32 = 0;
pub const GC_DUPLICATE: i32 = 1;

/// Registers (or, with `func == None`, cancels) the finalizer of the object
/// at `obj`; returns the previous function and client data (None, 0 when
/// there was none). Ignored when `obj` is not the start of a GC object, as
/// libgc ignores pointers outside its heap.
pub fn register_finalizer(
    obj: usize,
    func: Option<FinalizerFn>,
    client_data: usize,
    mode: Mode,
) -> (Option<FinalizerFn>, usize) {
    if obj == 0 || raw::base(obj as *const u8) as usize != obj {
        return (None, 0);
    }
    let mut t = TABLES.lock();
    let old = match func {
        Some(func) => t.finalizers.insert(
            obj,
            Finalizer {
                func,
                client_data,
                mode,
            },
        ),
        None => t.finalizers.remove(&obj),
    };
    old.map_or((None, 0), |f| (Some(f.func), f.client_data))
}

/// `GC_general_register_disappearing_link(link, obj)`: GC_SUCCESS, or
/// GC_DUPLICATE when `link` is registered already (the old object stays).
pub fn register_link(link: usize, obj: usize) -> i32 {
    let mut t = TABLES.lock();
    if t.links.contains_key(&link) {
        return GC_DUPLICATE;
    }
    t.links.insert(link, obj);
    GC_SUCCESS
}

/// `GC_unregister_disappearing_link(link)`: was it registered?
pub fn unregister_link(link: usize) -> bool {
    TABLES.lock().links.remove(&link).is_some()
}

/// Are finalizers queued? (no lock; GC_should_invoke_finalizers)
#[inline]
pub fn ready() -> bool {
    READY.load(Ordering::Acquire) != 0
}

/// Runs every queued finalizer on this thread; returns how many ran
/// (`GC_invoke_finalizers`).
pub fn invoke_finalizers() -> usize {
    let mut count = 0;
    loop {
        let next = {
            let mut t = TABLES.lock();
            let next = t.ready.pop_front();
            READY.store(t.ready.len(), Ordering::Release);
            next
        };
        let Some((obj, f)) = next else {
            return count;
        };
        // SAFETY: the program registered `func` for this object; the object
        // was kept alive (a root while queued, on this registered thread's
        // stack now) and is passed as libgc passes it.
        unsafe { (f.func)(obj as *mut c_void, f.client_data as *mut c_void) };
        count += 1;
    }
}

/// libgc's `GC_notify_or_invoke_finalizers`: with finalizers queued, either
/// runs them here (automatic mode) or calls the notifier once per collection
/// (on-demand mode).
pub fn notify_or_invoke(on_demand: bool, notifier: Option<unsafe extern "C" fn()>) {
    if !ready() {
        return;
    }
    if on_demand {
        let gc = raw::gc_no();
        if NOTIFIED_GC.swap(gc, Ordering::AcqRel) != gc {
            if let Some(n) = notifier {
                // SAFETY: a notifier the program installed; libgc calls it
                // the same way, outside any lock.
                unsafe { n() };
            }
        }
        return;
    }
    if RUNNING_FINALIZERS.with(|r| r.replace(true)) {
        return; // nested: the outer invocation drains the queue
    }
    invoke_finalizers();
    RUNNING_FINALIZERS.with(|r| r.set(false));
}

/// The collector takes the tables before the world stops.
pub fn lock() {
    TABLES.lock_for_fork();
}

/// Releases what [`lock`] took.
///
/// # Safety
/// The caller took the lock with [`lock`].
pub unsafe fn unlock() {
    // SAFETY: per the contract.
    unsafe { TABLES.unlock_after_fork() };
}

/// The tables, for the hooks that run while the collector holds the lock.
///
/// # Safety
/// The caller holds the lock (between [`lock`] and [`unlock`]) and no other
/// reference to the tables is live.
unsafe fn locked_tables<'a>() -> &'a mut Tables {
    // SAFETY: per the contract.
    unsafe { &mut *TABLES.data_ptr() }
}

/// Root hook: client data of registered finalizers, object and client data
/// of queued ones. World stopped, lock held by the collector.
pub fn mark_roots(m: &mut Marker) {
    // SAFETY: the collector holds the lock (taken before the stop).
    let t = unsafe { locked_tables() };
    for f in t.finalizers.values() {
        scan_word(m, &f.client_data);
    }
    for (obj, f) in &t.ready {
        scan_word(m, obj);
        scan_word(m, &f.client_data);
    }
}

fn scan_word(m: &mut Marker, w: &usize) {
    let at = w as *const usize as usize;
    // SAFETY: `w` is a live reference to one word of the finalizer table.
    unsafe { m.scan_conservative(at, at + core::mem::size_of::<usize>()) };
}

/// After-mark hook (see the module's steps 1-4). Returns whether it marked
/// anything.
pub fn after_mark(m: &mut Marker) -> bool {
    // SAFETY: the collector holds the lock (taken before the stop).
    let t = unsafe { locked_tables() };
    clear_links_of_dead_objects(t);
    forget_links_in_dead_objects(t);
    if t.finalizers.is_empty() {
        return false;
    }
    let mut marked = false;
    for (&obj, f) in &t.finalizers {
        if !raw::is_marked(obj as *const u8) {
            mark_referents(m, obj, f.mode);
            m.drain();
            marked = true;
        }
    }
    let dead: Vec<usize> = t
        .finalizers
        .keys()
        .copied()
        .filter(|&obj| !raw::is_marked(obj as *const u8))
        .collect();
    for obj in dead {
        let f = t.finalizers.remove(&obj).expect("key just listed");
        m.mark_object(obj as *const u8);
        m.drain();
        t.ready.push_back((obj, f));
    }
    forget_links_in_dead_objects(t);
    READY.store(t.ready.len(), Ordering::Release);
    marked
}

fn clear_links_of_dead_objects(t: &mut Tables) {
    t.links.retain(|&link, &mut obj| {
        if raw::is_marked(obj as *const u8) {
            return true;
        }
        // SAFETY: the program registered `link` as a pointer-sized location
        // it keeps valid while registered (libgc's contract); the world is
        // stopped.
        unsafe { *(link as *mut usize) = 0 };
        false
    });
}

fn forget_links_in_dead_objects(t: &mut Tables) {
    t.links.retain(|&link, _| {
        let holder = raw::base(link as *const u8);
        holder.is_null() || raw::is_marked(holder)
    });
}

/// Marks what the unmarked finalizable object `obj` reaches, per `mode`,
/// without marking `obj` through itself where the mode says so.
fn mark_referents(m: &mut Marker, obj: usize, mode: Mode) {
    if raw::kind(obj as *const u8) == Some(Kind::Atomic) {
        return;
    }
    let end = obj + raw::size(obj as *const u8);
    match mode {
        // SAFETY: `obj..end` is the allocated GC object at `obj` (raw::size
        // of its base), mapped, and not written while the world is stopped.
        Mode::Normal => unsafe { m.scan_conservative(obj, end) },
        Mode::NoOrder => {}
        Mode::IgnoreSelf => {
            let word = core::mem::size_of::<usize>();
            for at in (obj..end).step_by(word) {
                // SAFETY: `at` lies inside the live GC object at `obj`
                // (found by the collector), word-aligned.
                let target = unsafe { *(at as *const usize) };
                let b = raw::base(target as *const u8);
                if !b.is_null() && b as usize != obj {
                    m.mark_object(b);
                }
            }
        }
    }
}
