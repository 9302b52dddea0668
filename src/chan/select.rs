//! `select`: wait on several channel operations at once (Go's select.go).
//!
//! `selectgo` runs Go's passes over the cases, with a lock-free first look:
//! 0. Poll the cases in a random order (`pollorder`, a Fisher–Yates shuffle
//!    a per-thread xorshift generator), without taking every lock: a
//!    buffered case tries its lock-free ring operation; an unbuffered case
//!    whose channel shows a parked peer (or is closed) locks that channel
//!    alone and tries there. The first case that completes wins. The random
//!    order makes the choice among ready cases uniform, Go's fairness; it
//!    is drawn lazily (one Fisher–Yates step per case tried), so a select
//!    whose first case is ready pays for one random number.
//! 1. Otherwise lock every channel involved, in address order (a channel
//!    named by several cases is locked once). Any two selects lock their
//!    common channels in the same order, so they cannot deadlock each
//!    other; a plain send or receive holds one lock only. Poll the
//!    unbuffered cases again under the locks (buffered ones need none).
//! 2. If none can complete (and there is no `default`), enqueue one
//!    claimable sudog per case, all on one `Parker`; then, the Dekker
//!    handshake of hchan.rs, fence and try every buffered case once more
//!    (in poll order). If one completes, take the sudogs off again (no one
//!    can have dequeued them: that needs a lock this select holds) and
//!    return it; else park, releasing the locks only now.
//! 3. When woken, lock all channels again and remove the sudogs that did
//!    not fire. A waker dequeuing one of this select's sudogs must first
//!    win the parker's claim (`WaitQ::dequeue`); losers merely drop the
//!    stale sudog. So at most one case fires, and it fired completely (its
//!    value moved under its channel's lock) before the parker was woken.
//!    A buffered channel's waker may instead report `Wake::Retry` (its
//!    ring operation for us failed, or the channel closed): the select then
//!    starts over from pass 0. A deadline competes for the same claim: if
//!    the timeout wins, no case fired and no value moved; if a waker wins,
//!    the select waits for its wake-up and reports that case.
//!
//! Nothing stays behind: the select returns only after pass 3 (or the
//! timeout path) has taken every one of its sudogs off every queue, so no
//! queue points into a finished frame.

use core::cell::Cell;
use core::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::hchan::{complete, Block, Dir, Guard, Hchan, Outcome, Queues, Step};
use super::waiter::{ParkerSlot, Sudog, Wake, Woken};

/// One case as the untyped core sees it.
pub(crate) struct SelCase<'a> {
    pub(crate) c: &'a Hchan,
    pub(crate) dir: Dir,
    /// The receiver's slot, or the value to send.
    pub(crate) elem: *mut u8,
}

/// What a select did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Selected {
    /// This case completed (`true`), or found its channel closed (`false`).
    Case(usize, bool),
    /// No case was ready and the select had a plain `default`.
    Default,
    /// No case became ready before the deadline.
    Timeout,
}

/// How long a select (or a raw operation) may wait.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// Until a case is ready.
    Forever,
    /// Not at all (`default`).
    No,
    /// At most this long (`default(timeout)`).
    For(Duration),
}

impl Wait {
    pub(crate) fn block(self) -> Block {
        match self {
            Wait::Forever => Block::Forever,
            Wait::No => Block::No,
            Wait::For(d) => Block::Until(super::deadline_after(d)),
        }
    }
}

/// Runs a select over `cases` (at most `N`, the size of the scratch arrays).
pub(crate) fn select<'c, const N: usize>(cases: &[SelCase<'c>], block: Block) -> Selected {
    assert!(cases.len() <= N && N <= u16::MAX as usize);
    let n = cases.len();
    let mut pollorder = [0u16; N];
    for (i, p) in pollorder[..n].iter_mut().enumerate() {
        *p = i as u16;
    }
    let mut lockorder = [0u16; N];
    let mut sorted = false;
    loop {
        let may_skip = !matches!(block, Block::No);
        if let Some(done) = poll_unlocked(cases, &mut pollorder[..n], may_skip) {
            return done;
        }
        let pollorder = &pollorder[..n];
        if matches!(block, Block::No) && cases.iter().all(|case| case.c.is_buffered()) {
            return Selected::Default;
        }
        if !sorted {
            sort_by_channel(cases, &mut lockorder[..n]);
            sorted = true;
        }
        let mut locks = Locks::<N> {
            guards: [const { None }; N],
            holder: [0; N],
            lockorder: &lockorder[..n],
        };
        locks.lock_all(cases);
        for &i in pollorder {
            let i = usize::from(i);
            if let Some(step) = poll_unbuffered_locked(&cases[i], locks.queues(i)) {
                locks.unlock_all();
                return Selected::Case(i, complete(step) == Outcome::Done);
            }
        }
        let deadline = match block {
            Block::No => {
                locks.unlock_all();
                return Selected::Default;
            }
            Block::Forever => None,
            Block::Until(d) => Some(d),
        };
        if let Some(done) = park_all::<N>(cases, locks, pollorder, deadline) {
            return done;
        }
    }
}

/// Pass 0; see the module comment. Shuffles `pollorder` (a permutation)
/// lazily, as it goes: a forward Fisher–Yates step before each case, so a
/// select whose first case in the random order is ready draws one random
/// number, and a select that finds none ready leaves `pollorder` a fresh
/// uniformly random permutation for the passes that follow.
///
/// A select that will park if nothing is ready (`may_skip`) skips buffered
/// cases that look blocked by a fence-free hint: pass 2 tries every
/// buffered case for real after registering, so a stale hint costs
/// nothing but the trip. A select with `default` tries them all for real.
fn poll_unlocked(cases: &[SelCase<'_>], pollorder: &mut [u16], may_skip: bool) -> Option<Selected> {
    let n = pollorder.len();
    for k in 0..n {
        pollorder.swap(k, k + below((n - k) as u32) as usize);
        let i = usize::from(pollorder[k]);
        let case = &cases[i];
        let done = if case.c.is_buffered() {
            if may_skip && case.c.looks_blocked_buffered(case.dir) {
                None
            } else {
                try_buffered(case)
            }
        } else if case.c.maybe_ready_unbuffered(case.dir) {
            let mut q = case.c.lock();
            let step = poll_unbuffered_locked(case, &mut q);
            drop(q);
            step.map(complete)
        } else {
            None
        };
        if let Some(o) = done {
            return Some(Selected::Case(i, o == Outcome::Done));
        }
    }
    None
}

/// A buffered case's lock-free attempt, and on success the wake-up of the
/// other side. Call it without holding the case's channel lock.
fn try_buffered(case: &SelCase<'_>) -> Option<Outcome> {
    let o = try_buffered_locked(case)?;
    if o == Outcome::Done {
        case.c.after(case.dir);
    }
    Some(o)
}

/// A buffered case's lock-free attempt alone (the caller may hold locks;
/// on `Done` it calls `after` once it holds none).
fn try_buffered_locked(case: &SelCase<'_>) -> Option<Outcome> {
    // SAFETY: `elem` is valid (the typed case or the C caller owns it for
    // the whole select); `try_buffered` is `None` on unbuffered channels.
    unsafe { case.c.try_buffered(case.dir, case.elem) }
}

/// Pass 1 for one case: complete it now if it is an unbuffered case that
/// can.
fn poll_unbuffered_locked(case: &SelCase<'_>, q: &mut Queues) -> Option<Step> {
    if case.c.is_buffered() {
        return None;
    }
    // SAFETY: `q` is the case's channel's guard; `elem` is valid, as above.
    unsafe { case.c.poll_locked(q, case.dir, case.elem) }
}

/// Passes 2 and 3; `None`: woken to retry.
fn park_all<'c, const N: usize>(
    cases: &[SelCase<'c>],
    mut locks: Locks<'c, '_, N>,
    pollorder: &[u16],
    deadline: Option<Instant>,
) -> Option<Selected> {
    let slot = ParkerSlot::new(deadline);
    let sudogs: [Sudog; N] = core::array::from_fn(|i| {
        let elem = cases.get(i).map_or(core::ptr::null_mut(), |c| c.elem);
        Sudog::new(slot.parker(), elem, true)
    });
    for &i in locks.lockorder {
        let i = usize::from(i);
        let case = &cases[i];
        // SAFETY: lock held; `sudogs` outlive their queueing: this frame
        // returns only after pass 3 or the timeout path removed them all.
        unsafe { case.c.enqueue(locks.queues(i), case.dir, &sudogs[i]) };
    }
    fence(Ordering::SeqCst);
    for &i in pollorder {
        let i = usize::from(i);
        let case = &cases[i];
        if let Some(o) = try_buffered_locked(case).filter(|_| case.c.is_buffered()) {
            locks.remove_locked(cases, &sudogs, core::ptr::null());
            locks.unlock_all();
            if o == Outcome::Done {
                case.c.after(case.dir);
            }
            return Some(Selected::Case(i, o == Outcome::Done));
        }
    }
    let guards = locks.take_guards();
    if slot.park(move || drop(guards), deadline) == Woken::TimedOut {
        locks.remove_all(cases, &sudogs, core::ptr::null());
        return Some(Selected::Timeout);
    }
    let fired = slot.parker().fired();
    locks.remove_all(cases, &sudogs, fired);
    let i = sudogs
        .iter()
        .position(|s| core::ptr::eq(s, fired))
        .expect("goheap::select: woken by a sudog it does not own");
    match sudogs[i].outcome() {
        Wake::Done => Some(Selected::Case(i, true)),
        Wake::Closed => Some(Selected::Case(i, false)),
        Wake::Retry => None,
    }
}

/// The channel locks of one select, taken in address order.
struct Locks<'c, 'o, const N: usize> {
    /// The guard of each channel, at the index of its first case in
    /// `lockorder`.
    guards: [Option<Guard<'c>>; N],
    /// For each case, the index in `guards` of its channel's guard.
    holder: [u16; N],
    lockorder: &'o [u16],
}

impl<'c, const N: usize> Locks<'c, '_, N> {
    fn lock_all(&mut self, cases: &[SelCase<'c>]) {
        let mut prev: Option<&Hchan> = None;
        let mut h = 0;
        for &i in self.lockorder {
            let c = cases[usize::from(i)].c;
            if !prev.is_some_and(|p| core::ptr::eq(p, c)) {
                h = i;
                self.guards[usize::from(h)] = Some(c.lock());
                prev = Some(c);
            }
            self.holder[usize::from(i)] = h;
        }
    }

    fn unlock_all(&mut self) {
        drop(self.take_guards());
    }

    /// Moves the guards out (to be dropped elsewhere: see `park`).
    fn take_guards(&mut self) -> [Option<Guard<'c>>; N] {
        core::mem::replace(&mut self.guards, [const { None }; N])
    }

    fn queues(&mut self, case: usize) -> &mut Queues {
        self.guards[usize::from(self.holder[case])]
            .as_mut()
            .expect("goheap::select: channel not locked")
    }

    /// Pass 3: takes every sudog but `fired` off its queue.
    fn remove_all(&mut self, cases: &[SelCase<'c>], sudogs: &[Sudog], fired: *const Sudog) {
        self.lock_all(cases);
        self.remove_locked(cases, sudogs, fired);
        self.unlock_all();
    }

    /// `remove_all` with the locks already held.
    fn remove_locked(&mut self, cases: &[SelCase<'c>], sudogs: &[Sudog], fired: *const Sudog) {
        for (i, case) in cases.iter().enumerate() {
            if !core::ptr::eq(&sudogs[i], fired) {
                // SAFETY: lock held; the sudog was enqueued on this queue.
                unsafe { case.c.remove(self.queues(i), case.dir, &sudogs[i]) };
            }
        }
    }
}

/// Case indices sorted by channel address (insertion sort: selects are small).
fn sort_by_channel(cases: &[SelCase<'_>], order: &mut [u16]) {
    let addr = |i: u16| cases[usize::from(i)].c as *const Hchan as usize;
    for i in 0..order.len() {
        let x = i as u16;
        let mut j = i;
        while j > 0 && addr(order[j - 1]) > addr(x) {
            order[j] = order[j - 1];
            j -= 1;
        }
        order[j] = x;
    }
}

/// A random number in `0..n` (Lemire's multiply-shift, as Go's cheaprandn).
#[inline]
fn below(n: u32) -> u32 {
    if n <= 1 {
        return 0;
    }
    ((u64::from(cheaprand()) * u64::from(n)) >> 32) as u32
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A per-thread xorshift64* generator, seeded on first use from a global
/// splitmix64 sequence (distinct threads, distinct streams). Read within a
/// single call, never across a goroutine switch.
fn cheaprand() -> u32 {
    static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            let mut z = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x = (z ^ (z >> 31)) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    })
}
