//! `select`: wait on several channel operations at once (Go's select.go).
//!
//! `selectgo` runs Go's three passes over the cases:
//! 1. Lock every channel involved, in address order (a channel named by
//!    several cases is locked once). Any two selects lock their common
//!    channels in the same order, so they cannot deadlock each other; a
//!    plain send or receive holds one lock only.
//!    Then poll the cases in a random order (`pollorder`, a Fisher–Yates
//!    shuffle from a per-thread xorshift generator): the first case that
//!    can complete without waiting does so, under the locks. The random
//!    order makes the choice among ready cases uniform, Go's fairness.
//!    (Pass 0 shortcuts this when all channels are buffered.)
//! 2. If none can (and there is no `default`), enqueue one claimable sudog
//!    per case, all on one `Parker`, then park, releasing the locks only
//!    once every sudog is queued.
//! 3. When woken, lock all channels again and remove the sudogs that did
//!    not fire. A waker dequeuing one of this select's sudogs must first
//!    win the parker's claim (`WaitQ::dequeue`); losers merely drop the
//!    stale sudog. So exactly one case fires, and it fired completely (its
//!    value moved under its channel's lock) before the parker was woken.
//!    A deadline competes for the same claim: if the timeout wins, no case
//!    fired and no value moved; if a waker wins, the select waits for its
//!    wake-up and reports that case.
//!
//! Nothing stays behind: the select returns only after pass 3 (or the
//! timeout path) has taken every one of its sudogs off every queue, so no
//! queue points into a finished frame.

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::hchan::{complete, Block, Dir, Guard, Hchan, Outcome, Queues, Step};
use super::waiter::{ParkerSlot, Sudog, Woken};

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
    let mut pollorder = [0u16; N];
    let mut lockorder = [0u16; N];
    shuffle(&mut pollorder[..cases.len()]);
    if let Some(done) = poll_buffered(cases, &pollorder[..cases.len()]) {
        return done;
    }
    sort_by_channel(cases, &mut lockorder[..cases.len()]);
    let mut locks = Locks::<N> {
        guards: [const { None }; N],
        holder: [0; N],
        lockorder: &lockorder[..cases.len()],
    };
    locks.lock_all(cases);
    for &i in &pollorder[..cases.len()] {
        let i = usize::from(i);
        if let Some(step) = poll(&cases[i], locks.queues(i)) {
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
    park_all::<N>(cases, locks, deadline)
}

/// Pass 0, a shortcut before pass 1 when every case is on a buffered
/// channel: in poll order, a case whose lock-free counters say it is ready
/// (a value to take, room to put one, or closed: on a buffered channel
/// these are exact but for races) is tried under its own lock only. Taking
/// the first ready case in random order chooses as uniformly as pass 1
/// does, and the case completes under its channel's lock, so it linearises
/// there. An unbuffered channel has no such counter (its readiness is a
/// parked peer), and checking only some cases here would starve it.
fn poll_buffered(cases: &[SelCase<'_>], pollorder: &[u16]) -> Option<Selected> {
    if cases.iter().any(|case| case.c.cap() == 0) {
        return None;
    }
    for &i in pollorder {
        let case = &cases[usize::from(i)];
        let c = case.c;
        let hinted = c.is_closed()
            || match case.dir {
                Dir::Recv => c.len() > 0,
                Dir::Send => c.len() < c.cap(),
            };
        if hinted {
            let mut q = c.lock();
            if let Some(step) = poll(case, &mut q) {
                drop(q);
                return Some(Selected::Case(
                    usize::from(i),
                    complete(step) == Outcome::Done,
                ));
            }
        }
    }
    None
}

/// Pass 1 for one case: complete it now if it can.
fn poll(case: &SelCase<'_>, q: &mut Queues) -> Option<Step> {
    // SAFETY: `q` is the case's channel's guard; `elem` is valid (the typed
    // case or the C caller owns it for the whole select).
    unsafe {
        match case.dir {
            Dir::Send => case.c.send_locked(q, case.elem),
            Dir::Recv => case.c.recv_locked(q, case.elem),
        }
    }
}

/// Passes 2 and 3.
fn park_all<'c, const N: usize>(
    cases: &[SelCase<'c>],
    mut locks: Locks<'c, '_, N>,
    deadline: Option<Instant>,
) -> Selected {
    let slot = ParkerSlot::new(deadline);
    let sudogs: [Sudog; N] = core::array::from_fn(|i| {
        let elem = cases.get(i).map_or(core::ptr::null_mut(), |c| c.elem);
        Sudog::new(slot.parker(), elem, true)
    });
    for &i in locks.lockorder {
        let i = usize::from(i);
        // SAFETY: lock held; `sudogs` outlive their queueing: this frame
        // returns only after pass 3 or the timeout path removed them all.
        unsafe { locks.queues(i).of(cases[i].dir).enqueue(&sudogs[i]) };
    }
    let guards = locks.take_guards();
    if slot.park(move || drop(guards), deadline) == Woken::TimedOut {
        locks.remove_all(cases, &sudogs, core::ptr::null());
        return Selected::Timeout;
    }
    let fired = slot.parker().fired();
    locks.remove_all(cases, &sudogs, fired);
    let i = sudogs
        .iter()
        .position(|s| core::ptr::eq(s, fired))
        .expect("goheap::select: woken by a sudog it does not own");
    Selected::Case(i, sudogs[i].success())
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
        for (i, case) in cases.iter().enumerate() {
            if !core::ptr::eq(&sudogs[i], fired) {
                // SAFETY: lock held; the sudog was enqueued on this queue.
                unsafe { self.queues(i).of(case.dir).remove(&sudogs[i]) };
            }
        }
        self.unlock_all();
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

/// Fills `order` with a uniformly random permutation of `0..order.len()`.
fn shuffle(order: &mut [u16]) {
    for i in 0..order.len() {
        let j = below(i as u32 + 1) as usize;
        order[i] = order[j];
        order[j] = i as u16;
    }
}

/// A random number in `0..n` (Lemire's multiply-shift, as Go's cheaprandn).
#[inline(never)]
fn below(n: u32) -> u32 {
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
