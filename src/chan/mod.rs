//! Channels and `select`, as Go's chan.go and select.go, for goroutines,
//! plain threads and C alike.
//!
//! # Layout
//!
//! | module | Go | what it is |
//! | --- | --- | --- |
//! | `futex` | lock_futex.go (notes) | the futex word a plain thread sleeps on |
//! | `waiter` | runtime2.go (`sudog`, `waitq`) | waiter records, wait queues, the parker and its one-shot claim |
//! | `ring` | — | a buffered channel's lock-free ring (Vyukov's bounded queue with sequence stamps) |
//! | `hchan` | chan.go | the untyped channel: ring or rendezvous, lock, wait queues, send/recv/close |
//! | `select` | select.go | `selectgo`: lock-free poll, lock order, random poll order, park on all cases |
//! | `raw` | — | untyped channels of byte blobs, for the C ABI |
//! | (this file) | — | the typed Rust API: `chan`, `Sender`, `Receiver`, errors, `select!` |
//!
//! # The channel (`hchan::Hchan`)
//!
//! Elements are untyped blobs of a fixed size; the typed API moves a `T`
//! into the sender's stack slot, the channel copies its bytes once to the
//! destination, and the typed API reads it out as a `T` there, so each value
//! is owned by exactly one place at every moment. One lock (the crate's
//! futex mutex) guards two FIFO wait queues of waiter records (`sudog`s):
//! `recvq`, receivers waiting for a value, and `sendq`, senders waiting
//! with one.
//!
//! An **unbuffered** channel does everything under that lock, as Go does.
//! A **buffered** channel keeps its `cap` values in a lock-free ring
//! (`ring`): a send into room and a receive of a buffered value take no
//! lock, which is what lets producers and consumers on both cores run at
//! once (crossbeam's array channel does the same). The lock is only for
//! parking: a caller that finds the ring full (empty) enqueues its sudog,
//! fences, and tries once more before it sleeps; every ring operation
//! fences and, if the other side has waiters, serves one (hchan.rs proves
//! that no waiter sleeps through a value or a free slot).
//!
//! **Direct hand-off.** A send that finds a parked receiver copies the value
//! straight into the receiver's slot and wakes it; a receive that finds a
//! parked sender takes its value (buffered: the receive that freed a slot
//! moves the parked sender's value into the ring for it). The woken
//! goroutine is made runnable in the waker's `runnext` (Go's
//! `goready(gp, …)` from `send`), so it runs next on the same P instead of
//! waking another OS thread.
//!
//! **Close.** `close` marks the channel closed (a buffered one's ring
//! too, atomically with respect to lock-free pushes) and wakes every parked
//! waiter: receivers return `Err(RecvError)` once the buffer is
//! drained, senders get their value back in `SendError`. The channel closes
//! when its last `Sender` drops, or explicitly (Go's `close`, `tx.close()`).
//! When the last `Receiver` drops, the channel closes too (sends then fail,
//! handing the value back, as crossbeam's do) and the buffered values are
//! dropped, each once; the buffer of a channel freed while still holding
//! values is dropped with it.
//!
//! **Waiters** (`waiter`). A sudog lives in the frame of the blocked call
//! (no allocation; that frame cannot return before the sudog is off every
//! queue). It points at a `Parker`, which is either a goroutine (parked with
//! the scheduler's `gopark`, whose commit step releases the channel locks
//! only after the goroutine is marked waiting, and woken with `goready`) or
//! a plain thread (a futex word in the same frame, `futex::ThreadWake`).
//!
//! **Select** (`select`). Polls the cases in random order, lock-free where
//! it can; otherwise locks every channel of the select in address order
//! and parks on all of them at once with one sudog per case sharing one
//! parker. A parker's
//! `done` word is claimed by compare-and-swap by whoever completes one of
//! its cases (or its timeout), so a select fires at most once; stale
//! sudogs are skipped by later wakers and removed by the select itself
//! when it wakes. The same claim makes deadlines (`send_timeout`,
//! `recv_timeout`, `default(timeout)`) race-free.
//!
//! **Why nothing is lost or duplicated.** Every move of a value happens
//! from a place that the same step makes unreachable: under the channel
//! lock for a dequeued sudog's slot, by the ring's claim of a slot (a
//! compare-and-swap of its head or tail) for a buffered value. A waiter is
//! woken only by the party that dequeued (and, if claimable, claimed) its
//! sudog, after the move (or with `Retry`, having moved nothing). A failed
//! or timed-out send never had its value moved, and returns it.

mod futex;
mod hchan;
pub mod raw;
mod ring;
mod select;
mod waiter;

use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hchan::{Block, ElemType, Hchan, Outcome};

/// Makes a channel of `T` with room for `cap` buffered values; `cap == 0`
/// makes an unbuffered (rendezvous) channel, as Go's `make(chan T, cap)`.
///
/// ```
/// let (tx, rx) = goheap::chan::<u32>(1);
/// tx.send(7).unwrap();
/// assert_eq!(rx.recv(), Ok(7));
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        hchan: Hchan::new(ElemType::of::<T>(), cap),
        _elem: core::marker::PhantomData,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    senders: AtomicUsize,
    receivers: AtomicUsize,
    hchan: Hchan,
    _elem: core::marker::PhantomData<T>,
}

/// The sending side of a channel. Clone it for more senders; the channel
/// closes when the last one drops.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side of a channel. Clone it for more receivers.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

// SAFETY: the channel moves `T`s between threads (so `T: Send`), never
// shares one; all shared state is behind the channel lock or atomics.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above; `&Sender` only sends.
unsafe impl<T: Send> Sync for Sender<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: as above; `&Receiver` only receives.
unsafe impl<T: Send> Sync for Receiver<T> {}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full (for an unbuffered
    /// channel: until a receiver takes it). Fails, handing `value` back, if
    /// the channel is closed or every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_with(value, Block::Forever)
            .map_err(|(v, _)| SendError(v))
    }

    /// Sends `value` only if that needs no waiting.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.send_with(value, Block::No).map_err(|(v, o)| match o {
            Outcome::Closed => TrySendError::Disconnected(v),
            _ => TrySendError::Full(v),
        })
    }

    /// Sends `value`, waiting at most `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, deadline_after(timeout))
    }

    /// Sends `value`, waiting at most until `deadline`.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_with(value, Block::Until(deadline))
            .map_err(|(v, o)| match o {
                Outcome::Closed => SendTimeoutError::Disconnected(v),
                _ => SendTimeoutError::Timeout(v),
            })
    }

    fn send_with(&self, value: T, block: Block) -> Result<(), (T, Outcome)> {
        let mut slot = MaybeUninit::new(value);
        // SAFETY: `slot` holds a valid `T`; on `Done` the channel moved it
        // out, otherwise it is still ours.
        match unsafe { self.shared.hchan.send(slot.as_mut_ptr().cast(), block) } {
            Outcome::Done => Ok(()),
            // SAFETY: not moved out, see above.
            o => Err((unsafe { slot.assume_init() }, o)),
        }
    }

    /// Closes the channel, as Go's `close(ch)`: receivers drain the buffer,
    /// then see it closed; sends fail. Returns false if it was closed.
    pub fn close(&self) -> bool {
        self.shared.hchan.close()
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting while the channel is empty; fails once the
    /// channel is closed and drained.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_with(Block::Forever).map_err(|_| RecvError)
    }

    /// Receives a value only if that needs no waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.recv_with(Block::No).map_err(|o| match o {
            Outcome::Closed => TryRecvError::Disconnected,
            _ => TryRecvError::Empty,
        })
    }

    /// Receives a value, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(deadline_after(timeout))
    }

    /// Receives a value, waiting at most until `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_with(Block::Until(deadline)).map_err(|o| match o {
            Outcome::Closed => RecvTimeoutError::Disconnected,
            _ => RecvTimeoutError::Timeout,
        })
    }

    fn recv_with(&self, block: Block) -> Result<T, Outcome> {
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: `slot` is valid for one `T`; on `Done` the channel wrote one.
        match unsafe { self.shared.hchan.recv(slot.as_mut_ptr().cast(), block) } {
            // SAFETY: written, see above.
            Outcome::Done => Ok(unsafe { slot.assume_init() }),
            o => Err(o),
        }
    }

    /// An iterator that receives until the channel is closed and drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values available now, without waiting.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

macro_rules! channel_queries {
    ($side:ident) => {
        impl<T> $side<T> {
            /// How many values are buffered now.
            pub fn len(&self) -> usize {
                self.shared.hchan.len()
            }

            /// Whether no value is buffered now.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The buffer's capacity (0: unbuffered).
            pub fn capacity(&self) -> usize {
                self.shared.hchan.cap()
            }

            /// Whether the channel is closed.
            pub fn is_closed(&self) -> bool {
                self.shared.hchan.is_closed()
            }

            /// Whether both handles belong to the same channel.
            pub fn same_channel(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.shared, &other.shared)
            }
        }

        impl<T> fmt::Debug for $side<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($side))
                    .field("len", &self.len())
                    .field("capacity", &self.capacity())
                    .field("closed", &self.is_closed())
                    .finish()
            }
        }
    };
}
channel_queries!(Sender);
channel_queries!(Receiver);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.hchan.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.hchan.close();
            self.shared.hchan.discard_buffered();
        }
    }
}

pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Receives until the channel is closed and drained (`rx.iter()`, `for v in &rx`).
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Receives what is available without waiting (`rx.try_iter()`).
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Receives until the channel is closed and drained (`for v in rx`).
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

/// A send failed: the channel is closed (or has no receiver). The value
/// comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// A receive failed: the channel is closed and drained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

/// Why `try_send` failed; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    Full(T),
    Disconnected(T),
}

/// Why `try_recv` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    Empty,
    Disconnected,
}

/// Why `send_timeout` failed; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    Timeout(T),
    Disconnected(T),
}

/// Why `recv_timeout` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    Timeout,
    Disconnected,
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }
}

macro_rules! error_text {
    ($ty:ty, $self:ident => $text:expr) => {
        impl<T> fmt::Debug for $ty {
            fn fmt(&$self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(..)", $text)
            }
        }
        impl<T> fmt::Display for $ty {
            fn fmt(&$self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($text)
            }
        }
        impl<T> std::error::Error for $ty {}
    };
}

error_text!(SendError<T>, self => "goheap::chan: sending on a closed channel");
error_text!(TrySendError<T>, self => match self {
    TrySendError::Full(_) => "goheap::chan: sending on a full channel",
    TrySendError::Disconnected(_) => "goheap::chan: sending on a closed channel",
});
error_text!(SendTimeoutError<T>, self => match self {
    SendTimeoutError::Timeout(_) => "goheap::chan: timed out sending",
    SendTimeoutError::Disconnected(_) => "goheap::chan: sending on a closed channel",
});

macro_rules! plain_error_text {
    ($ty:ty, $self:ident => $text:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&$self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($text)
            }
        }
        impl std::error::Error for $ty {}
    };
}

plain_error_text!(RecvError, self => "goheap::chan: receiving on a closed, empty channel");
plain_error_text!(TryRecvError, self => match self {
    TryRecvError::Empty => "goheap::chan: receiving on an empty channel",
    TryRecvError::Disconnected => "goheap::chan: receiving on a closed, empty channel",
});
plain_error_text!(RecvTimeoutError, self => match self {
    RecvTimeoutError::Timeout => "goheap::chan: timed out receiving",
    RecvTimeoutError::Disconnected => "goheap::chan: receiving on a closed, empty channel",
});

pub use select::Selected;

/// What `select!` expands to; not a stable API.
#[doc(hidden)]
pub mod __select {
    use super::hchan::Dir;
    use super::select::{select, SelCase};
    pub use super::select::{Selected, Wait};
    use super::{Receiver, RecvError, SendError, Sender};
    use core::mem::MaybeUninit;

    /// Where a case stands. Only `run` moves `Ready` to `Chosen`, so a
    /// case's outcome is read only after the select completed it, and
    /// `result` moves `Chosen` to `Done`, so at most once.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum State {
        Ready,
        Chosen { ok: bool },
        Done,
    }

    /// A receive case: the receiver and the slot its value lands in (set
    /// exactly when the state is `Chosen { ok: true }`).
    pub struct RecvCase<'a, T> {
        rx: &'a Receiver<T>,
        slot: MaybeUninit<T>,
        state: State,
    }

    /// A send case: the sender and the value (set while the state is
    /// `Ready` or `Chosen { ok: false }`: the send did not take it).
    pub struct SendCase<'a, T> {
        tx: &'a Sender<T>,
        slot: MaybeUninit<T>,
        state: State,
    }

    /// `&Receiver`, `Receiver`, `&&Receiver`, … in `recv(..)`.
    pub trait AsReceiver {
        type Elem;
        fn as_receiver(&self) -> &Receiver<Self::Elem>;
    }
    impl<T> AsReceiver for Receiver<T> {
        type Elem = T;
        fn as_receiver(&self) -> &Receiver<T> {
            self
        }
    }
    impl<R: AsReceiver + ?Sized> AsReceiver for &R {
        type Elem = R::Elem;
        fn as_receiver(&self) -> &Receiver<R::Elem> {
            (**self).as_receiver()
        }
    }

    /// `&Sender`, `Sender`, `&&Sender`, … in `send(..)`.
    pub trait AsSender {
        type Elem;
        fn as_sender(&self) -> &Sender<Self::Elem>;
    }
    impl<T> AsSender for Sender<T> {
        type Elem = T;
        fn as_sender(&self) -> &Sender<T> {
            self
        }
    }
    impl<S: AsSender + ?Sized> AsSender for &S {
        type Elem = S::Elem;
        fn as_sender(&self) -> &Sender<S::Elem> {
            (**self).as_sender()
        }
    }

    /// The untyped case of a typed one that has not run yet: it borrows
    /// the case (its slot and state) until `run` returns.
    fn raw_case<'s>(
        c: &'s super::hchan::Hchan,
        dir: Dir,
        slot: *mut u8,
        state: &'s mut State,
    ) -> RawCase<'s> {
        if *state != State::Ready {
            panic!("goheap::chan: a select case runs once");
        }
        RawCase {
            case: SelCase { c, dir, elem: slot },
            state,
        }
    }

    /// Takes the outcome that `run` recorded (once).
    fn take_outcome(state: &mut State) -> bool {
        let State::Chosen { ok } = *state else {
            panic!("goheap::chan: the result of a select case the select did not choose");
        };
        *state = State::Done;
        ok
    }

    impl<'a, T> RecvCase<'a, T> {
        pub fn new<R: AsReceiver<Elem = T> + ?Sized>(rx: &'a R) -> Self {
            RecvCase {
                rx: rx.as_receiver(),
                slot: MaybeUninit::uninit(),
                state: State::Ready,
            }
        }

        pub fn raw(&mut self) -> RawCase<'_> {
            raw_case(
                &self.rx.shared.hchan,
                Dir::Recv,
                self.slot.as_mut_ptr().cast(),
                &mut self.state,
            )
        }

        /// The outcome of this case; panics unless the select chose it
        /// and this is the first call.
        pub fn result(&mut self) -> Result<T, RecvError> {
            if take_outcome(&mut self.state) {
                // SAFETY: the select completed this receive: a value was
                // written into the slot, and the state says it is read
                // out here, once.
                Ok(unsafe { self.slot.assume_init_read() })
            } else {
                Err(RecvError)
            }
        }
    }

    impl<T> Drop for RecvCase<'_, T> {
        fn drop(&mut self) {
            if self.state == (State::Chosen { ok: true }) {
                // SAFETY: received and never taken: the value is here.
                unsafe { self.slot.assume_init_drop() }
            }
        }
    }

    impl<'a, T> SendCase<'a, T> {
        pub fn new<S: AsSender<Elem = T> + ?Sized>(tx: &'a S, value: T) -> Self {
            SendCase {
                tx: tx.as_sender(),
                slot: MaybeUninit::new(value),
                state: State::Ready,
            }
        }

        pub fn raw(&mut self) -> RawCase<'_> {
            raw_case(
                &self.tx.shared.hchan,
                Dir::Send,
                self.slot.as_mut_ptr().cast(),
                &mut self.state,
            )
        }

        /// The outcome of this case; panics unless the select chose it
        /// and this is the first call.
        pub fn result(&mut self) -> Result<(), SendError<T>> {
            if take_outcome(&mut self.state) {
                Ok(())
            } else {
                // SAFETY: the send failed, so the value was not moved, and
                // the state (now `Done`) says it is handed out once.
                Err(SendError(unsafe { self.slot.assume_init_read() }))
            }
        }
    }

    impl<T> Drop for SendCase<'_, T> {
        fn drop(&mut self) {
            if matches!(self.state, State::Ready | State::Chosen { ok: false }) {
                // SAFETY: not sent and not handed back: the value is here.
                unsafe { self.slot.assume_init_drop() }
            }
        }
    }

    /// One case, untyped, borrowing its typed case while the select runs.
    pub struct RawCase<'s> {
        case: SelCase<'s>,
        state: &'s mut State,
    }

    /// Runs the select over `cases` and records the outcome in the chosen
    /// case, whose `result` then reads it.
    pub fn run<const N: usize>(cases: [RawCase<'_>; N], wait: Wait) -> Selected {
        let mut states: [Option<&mut State>; N] = [const { None }; N];
        let mut next = 0;
        let cases = cases.map(|c| {
            states[next] = Some(c.state);
            next += 1;
            c.case
        });
        let selected = select::<N>(&cases, wait.block());
        if let Selected::Case(i, ok) = selected {
            if let Some(state) = states[i].take() {
                *state = State::Chosen { ok };
            }
        }
        selected
    }
}

/// Waits on several channel operations and runs the branch of the one
/// that completes, with crossbeam-channel's syntax and Go's semantics
/// (a uniformly random choice among ready cases):
///
/// ```
/// use std::time::Duration;
/// let (tx1, rx1) = goheap::chan::<i32>(1);
/// let (tx2, rx2) = goheap::chan::<&str>(1);
/// tx2.send("two").unwrap();
/// goheap::select! {
///     recv(rx1) -> v => panic!("{v:?}"),
///     recv(rx2) -> v => assert_eq!(v, Ok("two")),
///     default(Duration::from_secs(1)) => panic!("timed out"),
/// }
/// goheap::select! {
///     send(tx1, 5) -> r => assert!(r.is_ok()),
///     default => panic!("tx1 had room"),
/// }
/// ```
///
/// A `recv` branch gets `Result<T, RecvError>` (an error: closed and
/// drained), a `send` branch `Result<(), SendError<T>>` (an error: closed;
/// the value comes back). `default` runs if no case is ready now,
/// `default(timeout)` if none became ready within `timeout`. Up to 32 cases.
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            @idx (0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
            @cases () @default () @rest $($tokens)*
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // a comma left after a block body
    (@idx $is:tt @cases $c:tt @default $d:tt @rest , $($rest:tt)*) => {
        $crate::__select_parse!(@idx $is @cases $c @default $d @rest $($rest)*)
    };
    // recv(rx) -> res => body
    (@idx ($i:tt $($is:tt)*) @cases ($($c:tt)*) @default $d:tt
     @rest recv($r:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx ($($is)*) @cases ($($c)* [$i recv ($r) ($res) $body]) @default $d @rest $($rest)*)
    };
    (@idx ($i:tt $($is:tt)*) @cases ($($c:tt)*) @default $d:tt
     @rest recv($r:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@idx ($($is)*) @cases ($($c)* [$i recv ($r) ($res) { $body }]) @default $d @rest $($($rest)*)?)
    };
    // send(tx, value) -> res => body
    (@idx ($i:tt $($is:tt)*) @cases ($($c:tt)*) @default $d:tt
     @rest send($s:expr, $v:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx ($($is)*) @cases ($($c)* [$i send ($s, $v) ($res) $body]) @default $d @rest $($rest)*)
    };
    (@idx ($i:tt $($is:tt)*) @cases ($($c:tt)*) @default $d:tt
     @rest send($s:expr, $v:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@idx ($($is)*) @cases ($($c)* [$i send ($s, $v) ($res) { $body }]) @default $d @rest $($($rest)*)?)
    };
    // default => body, default(timeout) => body
    (@idx $is:tt @cases $c:tt @default ()
     @rest default $(($t:expr))? => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx $is @cases $c @default ([$($t)?] $body) @rest $($rest)*)
    };
    (@idx $is:tt @cases $c:tt @default ()
     @rest default $(($t:expr))? => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@idx $is @cases $c @default ([$($t)?] { $body }) @rest $($($rest)*)?)
    };
    // done: build the cases, run the select, run the chosen branch
    (@idx $is:tt @cases ($([$i:tt $kind:ident ($($args:tt)*) ($res:pat) $body:block])*) @default $d:tt @rest) => {{
        // A match keeps the scrutinee's temporaries (`&&rx`) alive to its
        // end; the `let` drops them (and unchosen send values) before the
        // caller's locals, even when the select is a block's tail.
        #[allow(clippy::let_and_return)]
        let __selected = match ($($crate::__select_case!($kind $($args)*),)*) {
            mut __cases => match $crate::chan::__select::run([$(__cases.$i.raw()),*], $crate::__select_wait!($d)) {
                $crate::chan::__select::Selected::Case(__index, _) => {
                    $(if __index == $i {
                        let $res = __cases.$i.result();
                        $body
                    } else)* {
                        unreachable!()
                    }
                }
                _ => $crate::__select_default!($d),
            }
        };
        __selected
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_case {
    (recv $r:expr) => {
        $crate::chan::__select::RecvCase::new(&$r)
    };
    (send $s:expr, $v:expr) => {
        $crate::chan::__select::SendCase::new(&$s, $v)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_wait {
    (()) => {
        $crate::chan::__select::Wait::Forever
    };
    (([] $body:block)) => {
        $crate::chan::__select::Wait::No
    };
    (([$t:expr] $body:block)) => {
        $crate::chan::__select::Wait::For($t)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    (()) => {
        unreachable!()
    };
    (([$($t:expr)?] $body:block)) => {
        $body
    };
}
