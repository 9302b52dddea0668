//! Linearisability of the channel operations: many small random concurrent
//! histories (three threads, three operations each, on channels of capacity
//! 0, 1 and 2), each checked against the sequential specification of a
//! channel by an exhaustive search over the orders that respect real time
//! (Wing & Gong's algorithm, memoised).
//!
//! The specification: a FIFO queue of at most `cap` values and a closed
//! flag. `send(v)` appends (allowed if not closed and not full), or fails
//! with the value (allowed if closed). `recv` pops the front, or fails
//! (allowed if closed and empty). `try_*` report `Full`/`Empty` only if
//! that holds at their linearisation point. On an unbuffered channel a
//! send and the receive that got its value take effect together, at one
//! point inside both intervals. A timed-out operation (or, unbuffered, a
//! `try_*` that found no partner) changes nothing.

use goheap::chan::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    TrySend(u32),
    Send(u32),
    TryRecv,
    Recv,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Res {
    Sent,
    Full,
    SendClosed,
    Got(u32),
    Empty,
    RecvClosed,
    TimedOut,
    Closed(bool),
}

#[derive(Clone, Copy, Debug)]
struct Event {
    op: Op,
    res: Res,
    invoked: u64,
    returned: u64,
}

const THREADS: usize = 3;
const OPS: usize = 3;
const WAIT: Duration = Duration::from_millis(2);

/// Runs one random history on a fresh channel of `cap`.
fn history(cap: usize, seed: u64) -> Vec<Event> {
    let (tx, rx) = goheap::chan::<u32>(cap);
    let clock = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (tx, rx, clock, barrier) = (tx.clone(), rx.clone(), clock.clone(), barrier.clone());
            thread::spawn(move || {
                let mut rng =
                    seed.wrapping_mul(6364136223846793005) ^ ((t as u64 + 1) * 0x9E37_79B9);
                let mut next = || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                barrier.wait();
                (0..OPS)
                    .map(|i| {
                        let v = (t * OPS + i) as u32;
                        let op = match next() % 11 {
                            0..=2 => Op::Send(v),
                            3..=4 => Op::TrySend(v),
                            5..=7 => Op::Recv,
                            8..=9 => Op::TryRecv,
                            _ => Op::Close,
                        };
                        for _ in 0..next() % 200 {
                            std::hint::spin_loop();
                        }
                        let invoked = clock.fetch_add(1, Ordering::SeqCst);
                        let res = run(op, &tx, &rx);
                        let returned = clock.fetch_add(1, Ordering::SeqCst);
                        Event {
                            op,
                            res,
                            invoked,
                            returned,
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    drop((tx, rx));
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn run(op: Op, tx: &goheap::chan::Sender<u32>, rx: &goheap::chan::Receiver<u32>) -> Res {
    match op {
        Op::TrySend(v) => match tx.try_send(v) {
            Ok(()) => Res::Sent,
            Err(TrySendError::Full(_)) => Res::Full,
            Err(TrySendError::Disconnected(_)) => Res::SendClosed,
        },
        Op::Send(v) => match tx.send_timeout(v, WAIT) {
            Ok(()) => Res::Sent,
            Err(SendTimeoutError::Timeout(_)) => Res::TimedOut,
            Err(SendTimeoutError::Disconnected(_)) => Res::SendClosed,
        },
        Op::TryRecv => match rx.try_recv() {
            Ok(v) => Res::Got(v),
            Err(TryRecvError::Empty) => Res::Empty,
            Err(TryRecvError::Disconnected) => Res::RecvClosed,
        },
        Op::Recv => match rx.recv_timeout(WAIT) {
            Ok(v) => Res::Got(v),
            Err(RecvTimeoutError::Timeout) => Res::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Res::RecvClosed,
        },
        Op::Close => Res::Closed(tx.close()),
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    queue: VecDeque<u32>,
    closed: bool,
}

/// The effect of `e` alone on `s`, if its result is legal there.
fn step(cap: usize, s: &State, e: &Event) -> Option<State> {
    let mut n = s.clone();
    let legal = match (e.op, e.res) {
        (_, Res::TimedOut) => true,
        (Op::Send(v) | Op::TrySend(v), Res::Sent) if cap > 0 => {
            n.queue.push_back(v);
            !s.closed && s.queue.len() < cap
        }
        (Op::TrySend(_), Res::Full) => !s.closed && (cap == 0 || s.queue.len() == cap),
        (_, Res::SendClosed) => s.closed,
        (Op::Recv | Op::TryRecv, Res::Got(v)) if cap > 0 => n.queue.pop_front() == Some(v),
        (Op::TryRecv, Res::Empty) => s.queue.is_empty() && (cap == 0 || !s.closed),
        (_, Res::RecvClosed) => s.closed && s.queue.is_empty(),
        (Op::Close, Res::Closed(first)) => {
            n.closed = true;
            first != s.closed
        }
        _ => false,
    };
    legal.then_some(n)
}

/// Whether an unbuffered send `s` and receive `r` can take effect together.
fn pairs(st: &State, s: &Event, r: &Event) -> bool {
    matches!((s.op, s.res, r.res), (Op::Send(v) | Op::TrySend(v), Res::Sent, Res::Got(w)) if v == w)
        && !st.closed
}

fn linearizable(cap: usize, h: &[Event]) -> bool {
    fn search(
        cap: usize,
        h: &[Event],
        done: u32,
        s: &State,
        seen: &mut HashSet<(u32, State)>,
    ) -> bool {
        if done.count_ones() as usize == h.len() {
            return true;
        }
        if !seen.insert((done, s.clone())) {
            return false;
        }
        let pending = |i: usize| done & (1 << i) == 0;
        let first_return = (0..h.len())
            .filter(|&i| pending(i))
            .map(|i| h[i].returned)
            .min()
            .unwrap();
        let minimal: Vec<usize> = (0..h.len())
            .filter(|&i| pending(i) && h[i].invoked < first_return)
            .collect();
        for &i in &minimal {
            if let Some(n) = step(cap, s, &h[i]) {
                if search(cap, h, done | 1 << i, &n, seen) {
                    return true;
                }
            }
            if cap == 0 {
                for &j in &minimal {
                    if pairs(s, &h[i], &h[j]) && search(cap, h, done | 1 << i | 1 << j, s, seen) {
                        return true;
                    }
                }
            }
        }
        false
    }
    let start = State {
        queue: VecDeque::new(),
        closed: false,
    };
    search(cap, h, 0, &start, &mut HashSet::new())
}

fn check_many(cap: usize, histories: u64) {
    for seed in 1..=histories {
        let h = history(cap, seed);
        assert!(
            linearizable(cap, &h),
            "cap {cap}, seed {seed}: not linearisable:\n{h:#?}"
        );
    }
}

#[test]
fn unbuffered_operations_are_linearizable() {
    check_many(0, 1500);
}

#[test]
fn capacity_1_operations_are_linearizable() {
    check_many(1, 1500);
}

#[test]
fn capacity_2_operations_are_linearizable() {
    check_many(2, 1500);
}

/// The checker itself rejects what no channel may do.
#[test]
fn checker_rejects_impossible_histories() {
    let ev = |op, res, invoked, returned| Event {
        op,
        res,
        invoked,
        returned,
    };
    // A value received before it was sent.
    let h = [
        ev(Op::Recv, Res::Got(1), 0, 1),
        ev(Op::Send(1), Res::Sent, 2, 3),
    ];
    assert!(!linearizable(1, &h));
    // FIFO violated.
    let h = [
        ev(Op::Send(1), Res::Sent, 0, 1),
        ev(Op::Send(2), Res::Sent, 2, 3),
        ev(Op::Recv, Res::Got(2), 4, 5),
    ];
    assert!(!linearizable(2, &h));
    // Empty although a value was buffered.
    let h = [
        ev(Op::Send(1), Res::Sent, 0, 1),
        ev(Op::TryRecv, Res::Empty, 2, 3),
    ];
    assert!(!linearizable(1, &h));
    // A rendezvous send with no receiver.
    let h = [ev(Op::Send(1), Res::Sent, 0, 1)];
    assert!(!linearizable(0, &h));
    // And accepts an overlapping rendezvous.
    let h = [
        ev(Op::Send(1), Res::Sent, 0, 3),
        ev(Op::Recv, Res::Got(1), 1, 2),
    ];
    assert!(linearizable(0, &h));
}
