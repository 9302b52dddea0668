//! Buffered channels on their lock-free ring (src/chan/ring.rs) and the
//! handshake with parked waiters (src/chan/hchan.rs): no lost or duplicated
//! value under many senders and receivers mixing blocking, `try_` and timed
//! operations on threads and goroutines at capacity 1 and 1024; drops
//! counted once when the last receiver leaves mid-stream; receivers parked
//! at close drain what is buffered; a select parked on buffered channels is
//! woken by a close; and each of eight always-ready cases is chosen within
//! a bound.

mod chan_common;
mod common;

use chan_common::Counted;
use goheap::chan::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Sends `v`, in one of three ways chosen by `how`: blocking, spinning on
/// `try_send`, or looping on a short `send_timeout`.
fn send_somehow(tx: &Sender<usize>, v: usize, how: usize) {
    match how % 3 {
        0 => tx.send(v).unwrap(),
        1 => {
            let mut v = v;
            loop {
                match tx.try_send(v) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) => {
                        v = back;
                        goheap::yield_now();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        _ => {
            let mut v = v;
            while let Err(e) = tx.send_timeout(v, Duration::from_micros(50)) {
                v = e.into_inner();
            }
        }
    }
}

/// Receives one value in one of three ways; `None` once closed and drained.
fn recv_somehow(rx: &Receiver<usize>, how: usize) -> Option<usize> {
    match how % 3 {
        0 => rx.recv().ok(),
        1 => loop {
            match rx.try_recv() {
                Ok(v) => return Some(v),
                Err(goheap::chan::TryRecvError::Empty) => goheap::yield_now(),
                Err(goheap::chan::TryRecvError::Disconnected) => return None,
            }
        },
        _ => loop {
            match rx.recv_timeout(Duration::from_micros(50)) {
                Ok(v) => return Some(v),
                Err(goheap::chan::RecvTimeoutError::Timeout) => {}
                Err(goheap::chan::RecvTimeoutError::Disconnected) => return None,
            }
        },
    }
}

/// Runs `f` on a thread (`on_goroutine` false) or a goroutine; the result
/// joins it and returns its value.
fn start<R: Send + 'static>(
    on_goroutine: bool,
    f: impl FnOnce() -> R + Send + 'static,
) -> Box<dyn FnOnce() -> R> {
    if on_goroutine {
        let (done_tx, done_rx) = goheap::chan::<R>(1);
        common::go(move || {
            let _ = done_tx.send(f());
        });
        Box::new(move || done_rx.recv().unwrap())
    } else {
        let t = thread::spawn(f);
        Box::new(move || t.join().unwrap())
    }
}

/// Six senders and six receivers (half of each on goroutines), each mixing
/// the three kinds of operation: every value arrives exactly once, and
/// each receiver sees each sender's values in order.
fn every_value_once(cap: usize) {
    const SENDERS: usize = 6;
    const PER_SENDER: usize = 4000;
    let (tx, rx) = goheap::chan::<usize>(cap);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            start(s % 2 == 1, move || {
                for i in 0..PER_SENDER {
                    send_somehow(&tx, s * PER_SENDER + i, s + i);
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..6)
        .map(|r| {
            let rx = rx.clone();
            start(r % 2 == 0, move || {
                let mut got = Vec::new();
                while let Some(v) = recv_somehow(&rx, r + got.len()) {
                    got.push(v);
                }
                got
            })
        })
        .collect();
    drop(rx);
    for s in senders {
        s();
    }
    let mut seen = vec![false; SENDERS * PER_SENDER];
    for r in receivers {
        let mut last = [None; SENDERS];
        for v in r() {
            assert!(!seen[v], "cap {cap}: value {v} received twice");
            seen[v] = true;
            let s = v / PER_SENDER;
            assert!(last[s] < Some(v), "cap {cap}: sender {s} out of order");
            last[s] = Some(v);
        }
    }
    let lost = seen.iter().filter(|&&s| !s).count();
    assert_eq!(lost, 0, "cap {cap}: {lost} values lost");
}

#[test]
fn capacity_1_loses_and_duplicates_nothing() {
    every_value_once(1);
}

#[test]
fn capacity_1024_loses_and_duplicates_nothing() {
    every_value_once(1024);
}

/// Senders race the last receiver's drop: every value made is dropped
/// exactly once (received, buffered when the receiver left, or handed
/// back by a failed send).
#[test]
fn values_dropped_once_when_the_receiver_leaves_mid_stream() {
    for cap in [1, 1024] {
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = goheap::chan::<Counted>(cap);
        let senders: Vec<_> = (0..4)
            .map(|s| {
                let (tx, drops, made) = (tx.clone(), drops.clone(), made.clone());
                start(s % 2 == 0, move || loop {
                    made.fetch_add(1, Ordering::SeqCst);
                    if tx.send(Counted(drops.clone())).is_err() {
                        break;
                    }
                })
            })
            .collect();
        drop(tx);
        for _ in 0..3000 {
            drop(rx.recv().unwrap());
        }
        drop(rx);
        for s in senders {
            s();
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            made.load(Ordering::SeqCst),
            "cap {cap}"
        );
    }
}

/// Receivers parked on an empty ring when the values and then the close
/// arrive: they take every value once, then all see the close.
#[test]
fn parked_receivers_drain_before_they_see_the_close() {
    for round in 0..50 {
        let (tx, rx) = goheap::chan::<usize>(1024);
        let receivers: Vec<_> = (0..4)
            .map(|r| {
                let rx = rx.clone();
                start((r + round) % 2 == 0, move || rx.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(rx);
        thread::sleep(Duration::from_micros(200));
        for v in 0..100 {
            tx.send(v).unwrap();
        }
        drop(tx);
        let mut all: Vec<usize> = receivers.into_iter().flat_map(|r| r()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>(), "round {round}");
    }
}

/// A select parked on empty buffered receives and a send into a full ring
/// wakes when one of them closes, and reports that case: a receive with
/// `Err`, the send with its value handed back.
#[test]
fn close_wakes_a_select_parked_on_buffered_channels() {
    for round in 0..40 {
        let (a_tx, a_rx) = goheap::chan::<u32>(1024);
        let (b_tx, b_rx) = goheap::chan::<u32>(1);
        let (full_tx, full_rx) = goheap::chan::<u32>(1);
        full_tx.send(0).unwrap();
        // The closer drops one end and hands the others back, so that they
        // stay open until the select has returned.
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_micros(300));
            let mut ends = (Some(a_tx), Some(b_tx), Some(full_rx));
            match round % 3 {
                0 => drop(ends.0.take()),
                1 => drop(ends.1.take()),
                _ => drop(ends.2.take()),
            }
            ends
        });
        let on_goroutine = round % 2 == 0;
        let picked = start(on_goroutine, move || {
            goheap::select! {
                recv(a_rx) -> v => { assert!(v.is_err()); 0 },
                recv(b_rx) -> v => { assert!(v.is_err()); 1 },
                send(full_tx, 7) -> r => { assert_eq!(r.unwrap_err().into_inner(), 7); 2 },
            }
        })();
        assert_eq!(picked, round % 3, "round {round}");
        closer.join().unwrap();
    }
}

/// Eight channels that always hold a value: over 8000 selects, no case
/// waits more than 250 selects between two wins (each gap that long has
/// probability (7/8)^250 < 1e-14).
#[test]
fn each_ready_case_is_chosen_within_a_bound() {
    let chans: Vec<(Sender<u8>, Receiver<u8>)> = (0..8).map(|_| goheap::chan(1024)).collect();
    for (tx, _) in &chans {
        for _ in 0..1024 {
            tx.send(0).unwrap();
        }
    }
    let r: Vec<&Receiver<u8>> = chans.iter().map(|c| &c.1).collect();
    let mut last_win = [0usize; 8];
    for n in 1..=8000 {
        let i = goheap::select! {
            recv(r[0]) -> _v => 0,
            recv(r[1]) -> _v => 1,
            recv(r[2]) -> _v => 2,
            recv(r[3]) -> _v => 3,
            recv(r[4]) -> _v => 4,
            recv(r[5]) -> _v => 5,
            recv(r[6]) -> _v => 6,
            recv(r[7]) -> _v => 7,
        };
        chans[i].0.send(0).unwrap();
        assert!(
            n - last_win[i] <= 250,
            "case {i} waited {}",
            n - last_win[i]
        );
        last_win[i] = n;
    }
    for (i, &w) in last_win.iter().enumerate() {
        assert!(8000 - w <= 250, "case {i} not chosen since select {w}");
    }
}
