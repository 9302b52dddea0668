//! `select!`: readiness, default and timeouts, fairness, close, drops, and
//! no lost or duplicated value when selects race plain operations.

use goheap::chan::{Receiver, RecvError, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn picks_the_ready_case() {
    let (tx1, rx1) = goheap::chan::<u32>(1);
    let (_tx2, rx2) = goheap::chan::<u32>(1);
    tx1.send(1).unwrap();
    let got = goheap::select! {
        recv(rx1) -> v => v.unwrap() + 10,
        recv(&rx2) -> v => v.unwrap() + 20,
    };
    assert_eq!(got, 11);
}

#[test]
fn default_runs_when_nothing_is_ready() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let hit = goheap::select! {
        recv(rx) -> _v => false,
        send(tx, 3) -> _r => false,
        default => true,
    };
    assert!(hit);
}

#[test]
fn default_timeout_expires() {
    let (_tx, rx) = goheap::chan::<u32>(0);
    let start = Instant::now();
    let timed_out = goheap::select! {
        recv(rx) -> _v => false,
        default(Duration::from_millis(30)) => true,
    };
    assert!(timed_out);
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn parked_select_is_woken_by_any_case() {
    for which in 0..3 {
        let (tx0, rx0) = goheap::chan::<u32>(0);
        let (tx1, rx1) = goheap::chan::<u32>(0);
        let (tx2, rx2) = goheap::chan::<u32>(1);
        tx2.send(1).unwrap(); // full: the send case must wait
        let t = thread::spawn(move || {
            goheap::select! {
                recv(rx0) -> v => (0, v.unwrap()),
                recv(rx1) -> v => (1, v.unwrap()),
                send(tx2, 99) -> r => { r.unwrap(); (2, 0) },
            }
        });
        thread::sleep(Duration::from_millis(5));
        match which {
            0 => tx0.send(7).unwrap(),
            1 => tx1.send(8).unwrap(),
            _ => assert_eq!(rx2.recv(), Ok(1)),
        }
        let (case, v) = t.join().unwrap();
        if which == 2 {
            assert_eq!((case, rx2.recv().unwrap()), (2, 99));
        } else {
            assert_eq!((case, v), (which, 7 + which as u32));
            assert_eq!(rx2.try_recv(), Ok(1));
        }
    }
}

#[test]
fn parked_select_send_is_taken_by_a_receiver() {
    let (tx0, rx0) = goheap::chan::<String>(0);
    let (tx1, rx1) = goheap::chan::<String>(0);
    let t = thread::spawn(move || {
        goheap::select! {
            send(tx0, "zero".to_string()) -> r => { r.unwrap(); 0 },
            send(tx1, "one".to_string()) -> r => { r.unwrap(); 1 },
        }
    });
    thread::sleep(Duration::from_millis(10));
    assert_eq!(rx1.recv().unwrap(), "one");
    assert_eq!(t.join().unwrap(), 1);
    // The other case's sudog is gone and its value dropped: rx0 gets nothing.
    assert_eq!(
        rx0.recv_timeout(Duration::from_millis(10)),
        Err(goheap::chan::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn select_sees_closed_channels() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let t = thread::spawn(move || {
        goheap::select! {
            recv(rx) -> v => v,
        }
    });
    thread::sleep(Duration::from_millis(10));
    drop(tx);
    assert_eq!(t.join().unwrap(), Err(RecvError));

    let (tx, rx) = goheap::chan::<String>(0);
    tx.close();
    let back = goheap::select! {
        send(tx, "mine".to_string()) -> r => r.unwrap_err().0,
    };
    assert_eq!(back, "mine");
    drop(rx);
}

#[test]
fn fair_among_ready_cases() {
    // Four always-ready channels: over 4000 selects each case must win
    // close to 1000 times; below 700 has probability under 1e-20.
    let chans: Vec<(Sender<u8>, Receiver<u8>)> = (0..4).map(|_| goheap::chan(1)).collect();
    let mut wins = [0u32; 4];
    for _ in 0..4000 {
        for (tx, _) in &chans {
            let _ = tx.try_send(0);
        }
        let i = goheap::select! {
            recv(chans[0].1) -> _v => 0,
            recv(chans[1].1) -> _v => 1,
            recv(chans[2].1) -> _v => 2,
            recv(chans[3].1) -> _v => 3,
        };
        wins[i] += 1;
    }
    assert!(wins.iter().all(|&w| w > 700), "{wins:?}");
}

#[test]
fn fair_between_unbuffered_and_buffered_cases() {
    // A parked sender keeps the unbuffered case ready; the buffered case is
    // refilled before every select. Closed channels count as ready too.
    let (a_tx, a_rx) = goheap::chan::<u8>(0);
    let (b_tx, b_rx) = goheap::chan::<u8>(1);
    let feeders: Vec<_> = (0..4)
        .map(|_| {
            let a_tx = a_tx.clone();
            thread::spawn(move || while a_tx.send(0).is_ok() {})
        })
        .collect();
    drop(a_tx);
    let mut wins = [0u32; 2];
    for _ in 0..2000 {
        let _ = b_tx.try_send(1);
        // Give a feeder time to park again, so both cases are ready.
        thread::sleep(Duration::from_micros(100));
        goheap::select! {
            recv(a_rx) -> _v => wins[0] += 1,
            recv(b_rx) -> _v => wins[1] += 1,
        }
    }
    drop(a_rx);
    for f in feeders {
        f.join().unwrap();
    }
    assert!(wins.iter().all(|&w| w > 400), "{wins:?}");
    // Both closed: each closed case must still come up.
    let (a_tx, a_rx) = goheap::chan::<u8>(0);
    let (b_tx, b_rx) = goheap::chan::<u8>(4);
    drop((a_tx, b_tx));
    let mut closed_wins = [0u32; 2];
    for _ in 0..1000 {
        goheap::select! {
            recv(a_rx) -> v => { assert!(v.is_err()); closed_wins[0] += 1 },
            recv(b_rx) -> v => { assert!(v.is_err()); closed_wins[1] += 1 },
        }
    }
    assert!(closed_wins.iter().all(|&w| w > 300), "{closed_wins:?}");
}

#[test]
fn same_channel_in_several_cases() {
    let (tx, rx) = goheap::chan::<u32>(1);
    let t = thread::spawn(move || {
        goheap::select! {
            recv(rx) -> v => v.unwrap(),
            recv(rx) -> v => v.unwrap() + 100,
        }
    });
    thread::sleep(Duration::from_millis(5));
    tx.send(1).unwrap();
    let got = t.join().unwrap();
    assert!(got == 1 || got == 101);
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unchosen_send_values_drop_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx0, rx0) = goheap::chan::<Counted>(1);
    let (tx1, _rx1) = goheap::chan::<Counted>(0);
    goheap::select! {
        send(tx0, Counted(drops.clone())) -> r => assert!(r.is_ok()),
        send(tx1, Counted(drops.clone())) -> _r => panic!("no receiver"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(rx0.recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    goheap::select! {
        send(tx1, Counted(drops.clone())) -> _r => panic!("no receiver"),
        default(Duration::from_millis(5)) => {}
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// Threads selecting over several channels against plain senders and
/// receivers, with timeouts in the mix: every value arrives exactly once.
#[test]
fn selects_lose_and_duplicate_nothing() {
    const PER: usize = 3000;
    let (a_tx, a_rx) = goheap::chan::<usize>(0);
    let (b_tx, b_rx) = goheap::chan::<usize>(2);
    let (out_tx, out_rx) = goheap::chan::<usize>(1);
    let mut threads = Vec::new();
    for s in 0..2 {
        let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
        threads.push(thread::spawn(move || {
            for i in 0..PER {
                let v = (2 * s) * PER + i;
                goheap::select! {
                    send(a_tx, v) -> r => r.unwrap(),
                    send(b_tx, v + PER) -> r => r.unwrap(),
                }
            }
        }));
    }
    drop((a_tx, b_tx));
    for _ in 0..3 {
        let (a_rx, b_rx, out_tx) = (a_rx.clone(), b_rx.clone(), out_tx.clone());
        threads.push(thread::spawn(move || {
            let (mut a_open, mut b_open) = (true, true);
            while a_open || b_open {
                goheap::select! {
                    recv(a_rx) -> v => match v {
                        Ok(v) => out_tx.send(v).unwrap(),
                        Err(_) => a_open = false,
                    },
                    recv(b_rx) -> v => match v {
                        Ok(v) => out_tx.send(v).unwrap(),
                        Err(_) => b_open = false,
                    },
                    default(Duration::from_micros(50)) => {}
                }
                if !a_open && b_open {
                    for v in &b_rx {
                        out_tx.send(v).unwrap();
                    }
                    b_open = false;
                }
                if a_open && !b_open {
                    for v in &a_rx {
                        out_tx.send(v).unwrap();
                    }
                    a_open = false;
                }
            }
        }));
    }
    drop((a_rx, b_rx, out_tx));
    let mut seen = vec![0u8; 4 * PER];
    for v in &out_rx {
        seen[v] += 1;
    }
    for t in threads {
        t.join().unwrap();
    }
    // Each sent value is either v (on a) or v + PER (on b), exactly once.
    for s in 0..2 {
        for i in 0..PER {
            let v = 2 * s * PER + i;
            assert_eq!(seen[v] + seen[v + PER], 1, "value {v}");
        }
    }
}
