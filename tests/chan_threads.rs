//! Channels between plain OS threads: semantics, close, drops, timeouts,
//! and no lost or duplicated value under many senders and receivers.

use goheap::chan::{RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn buffered_values_come_out_in_order() {
    let (tx, rx) = goheap::chan::<u32>(4);
    for i in 0..4 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.len(), 4);
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    let got: Vec<u32> = (0..4).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn unbuffered_send_waits_for_a_receiver() {
    let (tx, rx) = goheap::chan::<String>(0);
    assert!(matches!(
        tx.try_send("x".into()),
        Err(TrySendError::Full(_))
    ));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let t = thread::spawn(move || {
        for i in 0..1000 {
            tx.send(i.to_string()).unwrap();
        }
    });
    for i in 0..1000 {
        assert_eq!(rx.recv().unwrap(), i.to_string());
    }
    t.join().unwrap();
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn try_send_hands_off_to_a_parked_receiver() {
    let (tx, rx) = goheap::chan::<u8>(0);
    let t = thread::spawn(move || rx.recv());
    let mut v = 7;
    loop {
        match tx.try_send(v) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) => v = back,
            Err(e) => panic!("{e}"),
        }
        thread::yield_now();
    }
    assert_eq!(t.join().unwrap(), Ok(7));
}

#[test]
fn receivers_drain_then_see_the_close() {
    let (tx, rx) = goheap::chan::<u32>(8);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn explicit_close_fails_sends_and_hands_the_value_back() {
    let (tx, rx) = goheap::chan::<String>(1);
    let tx2 = tx.clone();
    tx.send("kept".into()).unwrap();
    assert!(tx2.close());
    assert!(!tx.close());
    assert_eq!(tx.send("back".into()).unwrap_err().0, "back");
    assert_eq!(
        tx.try_send("again".into()),
        Err(TrySendError::Disconnected("again".into()))
    );
    assert_eq!(rx.recv().unwrap(), "kept");
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn close_wakes_parked_receivers_and_senders() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.recv())
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    tx.close();
    for r in receivers {
        assert_eq!(r.join().unwrap(), Err(RecvError));
    }

    let (tx, rx) = goheap::chan::<Box<u32>>(0);
    let senders: Vec<_> = (0..3)
        .map(|i| {
            let tx = tx.clone();
            thread::spawn(move || tx.send(Box::new(i)).map_err(|e| *e.0))
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    tx.close();
    let mut back: Vec<u32> = senders
        .into_iter()
        .map(|s| s.join().unwrap().unwrap_err())
        .collect();
    back.sort();
    assert_eq!(back, [0, 1, 2]);
    drop(rx);
}

#[test]
fn sends_fail_once_every_receiver_is_gone() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let t = {
        let tx = tx.clone();
        thread::spawn(move || tx.send(5))
    };
    thread::sleep(Duration::from_millis(20));
    drop(rx);
    assert_eq!(t.join().unwrap().unwrap_err().0, 5);
    assert_eq!(tx.send(6).unwrap_err().0, 6);
}

#[test]
fn timeouts_expire_and_return_the_value() {
    let (tx, rx) = goheap::chan::<u32>(1);
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    tx.send(1).unwrap();
    let start = Instant::now();
    assert_eq!(
        tx.send_timeout(2, Duration::from_millis(30)),
        Err(SendTimeoutError::Timeout(2))
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(rx.recv_timeout(Duration::from_millis(30)), Ok(1));
    // A waiter that timed out left nothing behind: the next value goes to
    // the next receiver, not to a stale record.
    let t = thread::spawn(move || rx.recv_timeout(Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(10));
    tx.send(3).unwrap();
    assert_eq!(t.join().unwrap(), Ok(3));
}

#[test]
fn timed_receive_gets_a_value_sent_in_time() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let t = thread::spawn(move || rx.recv_timeout(Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(10));
    tx.send_timeout(4, Duration::from_secs(10)).unwrap();
    assert_eq!(t.join().unwrap(), Ok(4));
}

#[test]
fn iteration_ends_at_close() {
    let (tx, rx) = goheap::chan::<u32>(3);
    let t = thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    let sum: u32 = (&rx).into_iter().sum();
    t.join().unwrap();
    assert_eq!(sum, 4950);
    assert_eq!(rx.into_iter().count(), 0);
}

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn buffered_values_drop_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    // Freed with values inside.
    let (tx, rx) = goheap::chan::<Counted>(8);
    for _ in 0..5 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx.recv().unwrap());
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    // Last receiver gone: the buffer is dropped then, failed sends hand back.
    let (tx, rx) = goheap::chan::<Counted>(8);
    for _ in 0..3 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 8);
    let back = tx.send(Counted(drops.clone())).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 8);
    drop(back);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 9);
}

#[test]
fn values_crossing_threads_drop_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    for cap in [0, 1, 7] {
        let before = drops.load(Ordering::SeqCst);
        let (tx, rx) = goheap::chan::<Counted>(cap);
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let (tx, drops) = (tx.clone(), drops.clone());
                thread::spawn(move || {
                    let mut made = 0;
                    while made < 500 {
                        made += 1;
                        if tx.send(Counted(drops.clone())).is_err() {
                            break;
                        }
                    }
                    made
                })
            })
            .collect();
        drop(tx);
        // Take some, then leave: the rest fail back to their senders or
        // stay buffered and drop with the channel.
        for _ in 0..700 {
            drop(rx.recv().unwrap());
        }
        drop(rx);
        let made: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
        assert!(made > 700);
        assert_eq!(drops.load(Ordering::SeqCst) - before, made, "cap {cap}");
    }
}

/// Many senders and receivers: every value arrives exactly once.
fn every_value_once(cap: usize, senders: usize, receivers: usize, per_sender: usize) {
    let (tx, rx) = goheap::chan::<usize>(cap);
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..per_sender {
                    tx.send(s * per_sender + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..receivers)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().collect::<Vec<_>>())
        })
        .collect();
    drop(rx);
    for p in producers {
        p.join().unwrap();
    }
    let mut seen = vec![false; senders * per_sender];
    for c in consumers {
        let got = c.join().unwrap();
        // Per sender, values arrive in the order they were sent (FIFO).
        let mut last = vec![None; senders];
        for v in got {
            assert!(!seen[v], "value {v} received twice");
            seen[v] = true;
            let s = v / per_sender;
            assert!(last[s] < Some(v), "sender {s}'s values out of order");
            last[s] = Some(v);
        }
    }
    assert!(seen.iter().all(|&s| s), "a value was lost");
}

#[test]
fn mpmc_unbuffered() {
    every_value_once(0, 4, 4, 5000);
}

#[test]
fn mpmc_capacity_1() {
    every_value_once(1, 4, 4, 5000);
}

#[test]
fn mpmc_capacity_16() {
    every_value_once(16, 3, 5, 5000);
}

#[test]
fn zero_sized_values() {
    let (tx, rx) = goheap::chan::<()>(2);
    let t = thread::spawn(move || (0..1000).map(|_| tx.send(())).all(|r| r.is_ok()));
    assert_eq!(rx.iter().count(), 1000);
    assert!(t.join().unwrap());
}

#[test]
fn handles_are_send_and_sync() {
    fn both<T: Send + Sync + Clone>() {}
    both::<goheap::chan::Sender<String>>();
    both::<goheap::chan::Receiver<String>>();
}
