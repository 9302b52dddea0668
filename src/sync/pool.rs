//! `Pool<T>`: Go's `sync.Pool` (sync/pool.go) — a cache of spare values
//! that the garbage collector empties, so that a busy program reuses them
//! and an idle one gives their memory back.
//!
//! # Data structures
//!
//! A pool has one `Local` per P (cache-line aligned, as Go's `poolLocal`):
//!
//! - `private`: one value and the *generation* it was put in. Only the
//!   goroutine that holds the P pinned touches it (`sched::proc::procpin`:
//!   the P is in runtime mode, so sysmon cannot hand it to another M and no
//!   other goroutine runs on it). This is the fast path of `get` and `put`:
//!   no lock, no atomic beyond the pin's own compare-and-swap, which only
//!   sysmon could contend. Nothing runs user code while pinned (no `Drop`,
//!   no `new`): values are moved in and out, and dropped after the unpin.
//! - `shared`: a runtime futex lock over two lists, `primary` and `victim`,
//!   and the generation they belong to. The owner pushes here when
//!   `private` is taken; other Ps steal the oldest values of its primary;
//!   plain threads (no P) and goroutines that lost their P use the list of
//!   a slot chosen by their thread.
//!
//! # Generations: the victim cache
//!
//! The generation is the collector's cycle count (`gc::raw::gc_no`). A
//! value put in generation `g` is *primary* while the count is `g`,
//! *victim* at `g + 1`, and gone from `g + 2` on (Go's victim cache: a
//! value survives one collection, so a steady load does not refill the
//! pool after each one, and is dropped at the second). Every access ages
//! what it touches by that rule before using it, so `get` never returns a
//! value from two cycles ago, whoever ran the cycles. After each cycle the
//! hook `pool_cleanup` (`gc::raw::after_cycle`, Go's poolCleanup) ages the
//! shared lists of every live pool, so an idle pool frees its values too;
//! a private value waits for its P's next access of that pool (at most one
//! value per P and pool). The values it drops are handed to the finalizer
//! (`gc::mfinal`) as one job per pool: no user `Drop` runs inside the hook
//! or under a pool's lock.
//!
//! `get`: own private, own primary (newest first), other Ps' primaries
//! (oldest first), own victim, other victims, then `new`. `put`: own
//! private if free, else own primary.

use crate::gc::{mfinal, raw};
use crate::lock::Mutex;
use crate::sched::proc::{maxprocs, procpin};
use core::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex as StdMutex, Once, Weak};

/// A cache of values of type `T` that the collector empties (Go's
/// `sync.Pool`): a value `put` may come back from a later `get` on any
/// goroutine or thread, or be dropped at any time, at the latest by the
/// second collection after the `put`.
pub struct Pool<T: Send + 'static> {
    inner: Arc<Inner<T>>,
    new: Box<dyn Fn() -> T + Send + Sync>,
}

struct Inner<T> {
    locals: Box<[Local<T>]>,
}

#[repr(align(128))]
struct Local<T> {
    private: UnsafeCell<Option<(u32, T)>>,
    shared: Mutex<Shared<T>>,
}

struct Shared<T> {
    generation: u32,
    primary: VecDeque<T>,
    victim: VecDeque<T>,
}

// SAFETY: `private` of slot `i` is touched only by the holder of P `i`'s
// pin (one at a time, see the module comment); `shared` is under its lock.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above; the values are `Send`.
unsafe impl<T: Send> Send for Inner<T> {}

/// The shared lists of one pool aged by `pool_cleanup`.
trait Ages: Send + Sync {
    /// Ages every shared list to generation `now`; returns a job that drops
    /// what aged out (and the pool's last reference, if the pool is gone).
    fn age_all(self: Arc<Self>, now: u32) -> Option<mfinal::Job>;
}

static POOLS: StdMutex<Vec<Weak<dyn Ages>>> = StdMutex::new(Vec::new());
static HOOK: Once = Once::new();

fn generation() -> u32 {
    raw::gc_no() as u32
}

/// Ages a value of generation `g` to `now`: kept (as primary or victim)
/// for one cycle after its own.
fn still_fresh(g: u32, now: u32) -> bool {
    now.wrapping_sub(g) <= 1
}

impl<T> Shared<T> {
    /// Brings the lists to generation `now`; returns what aged out.
    fn age(&mut self, now: u32) -> VecDeque<T> {
        match now.wrapping_sub(self.generation) {
            0 => VecDeque::new(),
            1 => {
                self.generation = now;
                let primary = core::mem::take(&mut self.primary);
                core::mem::replace(&mut self.victim, primary)
            }
            _ => {
                self.generation = now;
                let mut gone = core::mem::take(&mut self.victim);
                gone.append(&mut self.primary);
                gone
            }
        }
    }
}

impl<T: Send + 'static> Ages for Inner<T> {
    fn age_all(self: Arc<Self>, now: u32) -> Option<mfinal::Job> {
        let gone: Vec<VecDeque<T>> = self
            .locals
            .iter()
            .map(|l| l.shared.lock().age(now))
            .filter(|g| !g.is_empty())
            .collect();
        if gone.is_empty() && Arc::strong_count(&self) > 1 {
            return None;
        }
        Some(mfinal::Job::Cleanup(Box::new(move || {
            drop(gone);
            drop(self);
        })))
    }
}

/// After each cycle (Go's poolCleanup): ages every live pool's shared lists
/// and hands what aged out to the finalizer.
fn pool_cleanup() {
    let now = generation();
    let live: Vec<Arc<dyn Ages>> = {
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|w| w.strong_count() > 0);
        pools.iter().filter_map(Weak::upgrade).collect()
    };
    let jobs: Vec<mfinal::Job> = live.into_iter().filter_map(|p| p.age_all(now)).collect();
    mfinal::queue(jobs);
}

impl<T: Send + 'static> Pool<T> {
    /// An empty pool; `get` calls `new` when it finds nothing (Go's `New`).
    pub fn new(new: impl Fn() -> T + Send + Sync + 'static) -> Pool<T> {
        HOOK.call_once(|| raw::after_cycle(pool_cleanup));
        let now = generation();
        let locals = (0..maxprocs())
            .map(|_| Local {
                private: UnsafeCell::new(None),
                shared: Mutex::new(Shared {
                    generation: now,
                    primary: VecDeque::new(),
                    victim: VecDeque::new(),
                }),
            })
            .collect();
        let inner = Arc::new(Inner { locals });
        let weak: Weak<dyn Ages> = Arc::downgrade(&inner) as Weak<Inner<T>>;
        POOLS.lock().unwrap_or_else(|e| e.into_inner()).push(weak);
        Pool {
            inner,
            new: Box::new(new),
        }
    }

    /// A value from the pool, or a new one.
    pub fn get(&self) -> T {
        self.try_get().unwrap_or_else(|| (self.new)())
    }

    /// A value from the pool, if it holds one.
    pub fn try_get(&self) -> Option<T> {
        let now = generation();
        let (home, stale) = match self.take_private(now) {
            Ok(v) => return Some(v),
            Err(home) => home,
        };
        drop(stale);
        self.get_shared(home, now)
    }

    /// Gives `v` to the pool.
    pub fn put(&self, v: T) {
        let now = generation();
        let (home, v) = match self.put_private(now, v) {
            Ok(stale) => {
                drop(stale);
                return;
            }
            Err(back) => back,
        };
        let gone = {
            let mut sh = self.inner.locals[home].shared.lock();
            let gone = sh.age(now);
            sh.primary.push_back(v);
            gone
        };
        drop(gone);
    }

    /// The fast path of `get`: this P's private value if fresh. Else the
    /// slot to search from, and a stale private value to drop.
    fn take_private(&self, now: u32) -> Result<T, (usize, Option<T>)> {
        let n = self.inner.locals.len();
        let Some(pin) = procpin().filter(|pin| pin.id < n) else {
            return Err((thread_slot(n), None));
        };
        // SAFETY: pinned: P `pin.id`'s private value is ours alone.
        let private = unsafe { &mut *self.inner.locals[pin.id].private.get() };
        match private.take() {
            Some((g, v)) if still_fresh(g, now) => Ok(v),
            stale => Err((pin.id, stale.map(|(_, v)| v))),
        }
    }

    /// The fast path of `put`: into this P's private slot if it is free or
    /// stale (returned, to drop). Else the slot to push to, and `v` back.
    fn put_private(&self, now: u32, v: T) -> Result<Option<T>, (usize, T)> {
        let n = self.inner.locals.len();
        let Some(pin) = procpin().filter(|pin| pin.id < n) else {
            return Err((thread_slot(n), v));
        };
        // SAFETY: pinned: P `pin.id`'s private value is ours alone.
        let private = unsafe { &mut *self.inner.locals[pin.id].private.get() };
        match private {
            Some((g, _)) if still_fresh(*g, now) => Err((pin.id, v)),
            _ => Ok(private.replace((now, v)).map(|(_, v)| v)),
        }
    }

    /// The slow path of `get`: the shared lists, own slot first. What aged
    /// out of a list is dropped after its lock is released.
    fn get_shared(&self, home: usize, now: u32) -> Option<T> {
        let locals = &self.inner.locals;
        let order = || (0..locals.len()).map(|i| (home + i) % locals.len());
        for (k, i) in order().enumerate() {
            let (found, gone) = {
                let mut sh = locals[i].shared.lock();
                let gone = sh.age(now);
                let found = if k == 0 {
                    sh.primary.pop_back()
                } else {
                    sh.primary.pop_front()
                };
                (found, gone)
            };
            drop(gone);
            if found.is_some() {
                return found;
            }
        }
        order().find_map(|i| locals[i].shared.lock().victim.pop_back())
    }
}

/// The slot of a caller without a P: spread by its thread.
fn thread_slot(n: usize) -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| (m as *const u8 as usize >> 6) % n)
}
