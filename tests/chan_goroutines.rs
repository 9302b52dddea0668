//! Channels between goroutines, and between goroutines and plain threads:
//! hand-off, no lost or duplicated value, select, close, timeouts, drops.
//! Each test's main thread waits on a channel that goroutines send to (a
//! thread endpoint facing goroutine endpoints).

mod common;

mod chan_common;

use chan_common::Counted;

use goheap::chan::{RecvError, RecvTimeoutError, SendTimeoutError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn pingpong_between_goroutines() {
    let (ping_tx, ping_rx) = goheap::chan::<u64>(0);
    let (pong_tx, pong_rx) = goheap::chan::<u64>(0);
    let (done_tx, done_rx) = goheap::chan::<u64>(0);
    common::go(move || {
        for v in &ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    common::go(move || {
        let mut sum = 0;
        for i in 0..20_000 {
            ping_tx.send(i).unwrap();
            sum += pong_rx.recv().unwrap() - i;
        }
        done_tx.send(sum).unwrap();
    });
    assert_eq!(done_rx.recv(), Ok(20_000));
}

/// Goroutine and thread senders and receivers on one channel.
fn every_value_once_mixed(cap: usize) {
    const PER: usize = 4000;
    const SENDERS: usize = 6; // even: goroutines, odd: threads
    const RECEIVERS: usize = 4;
    let (tx, rx) = goheap::chan::<usize>(cap);
    let (out_tx, out_rx) = goheap::chan::<Vec<usize>>(RECEIVERS);
    let mut threads = Vec::new();
    for s in 0..SENDERS {
        let tx = tx.clone();
        let work = move || {
            for i in 0..PER {
                tx.send(s * PER + i).unwrap();
            }
        };
        if s % 2 == 0 {
            common::go(work);
        } else {
            threads.push(std::thread::spawn(work));
        }
    }
    drop(tx);
    for r in 0..RECEIVERS {
        let (rx, out_tx) = (rx.clone(), out_tx.clone());
        let work = move || out_tx.send(rx.iter().collect()).unwrap();
        if r % 2 == 0 {
            common::go(work);
        } else {
            threads.push(std::thread::spawn(work));
        }
    }
    drop((rx, out_tx));
    let mut seen = vec![0u8; SENDERS * PER];
    for got in &out_rx {
        for v in got {
            seen[v] += 1;
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    let wrong: Vec<_> = (0..seen.len()).filter(|&v| seen[v] != 1).collect();
    assert!(
        wrong.is_empty(),
        "cap {cap}: values lost or doubled: {wrong:?}"
    );
}

#[test]
fn mixed_endpoints_unbuffered() {
    every_value_once_mixed(0);
}

#[test]
fn mixed_endpoints_buffered() {
    every_value_once_mixed(1);
    every_value_once_mixed(64);
}

#[test]
fn goroutines_select_and_lose_nothing() {
    const PER: u64 = 5000;
    let (a_tx, a_rx) = goheap::chan::<u64>(0);
    let (b_tx, b_rx) = goheap::chan::<u64>(3);
    let (sum_tx, sum_rx) = goheap::chan::<u64>(0);
    for s in 0..2 {
        let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
        common::go(move || {
            for i in 0..PER {
                let v = s * PER + i;
                goheap::select! {
                    send(a_tx, v) -> r => r.unwrap(),
                    send(b_tx, v) -> r => r.unwrap(),
                }
            }
        });
    }
    drop((a_tx, b_tx));
    for _ in 0..2 {
        let (a_rx, b_rx, sum_tx) = (a_rx.clone(), b_rx.clone(), sum_tx.clone());
        common::go(move || {
            let (mut sum, mut open) = (0, 2);
            let (mut a_open, mut b_open) = (true, true);
            while open > 0 {
                goheap::select! {
                    recv(a_rx) -> v => match v {
                        Ok(v) => sum += v,
                        Err(RecvError) => { if a_open { a_open = false; open -= 1; } }
                    },
                    recv(b_rx) -> v => match v {
                        Ok(v) => sum += v,
                        Err(RecvError) => { if b_open { b_open = false; open -= 1; } }
                    },
                }
            }
            sum_tx.send(sum).unwrap();
        });
    }
    drop(sum_tx);
    let total: u64 = sum_rx.iter().sum();
    let n = 2 * PER;
    assert_eq!(total, n * (n - 1) / 2);
}

#[test]
fn goroutine_timeouts() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let tx_main = tx.clone();
    let (res_tx, res_rx) = goheap::chan::<(bool, bool, bool)>(0);
    let (back_tx, back_rx) = goheap::chan::<u32>(0);
    common::go(move || {
        let start = Instant::now();
        let recv_timed_out =
            rx.recv_timeout(Duration::from_millis(20)) == Err(RecvTimeoutError::Timeout);
        let send_timed_out = matches!(
            tx.send_timeout(1, Duration::from_millis(20)),
            Err(SendTimeoutError::Timeout(1))
        );
        let select_timed_out = goheap::select! {
            recv(rx) -> _v => false,
            default(Duration::from_millis(20)) => true,
        };
        let waited = start.elapsed() >= Duration::from_millis(60);
        res_tx
            .send((recv_timed_out && send_timed_out, select_timed_out, waited))
            .unwrap();
        // The timed-out waits left nothing behind on the channel.
        back_tx.send(rx.recv().unwrap()).unwrap();
    });
    assert_eq!(res_rx.recv(), Ok((true, true, true)));
    tx_main.send(5).unwrap();
    assert_eq!(back_rx.recv(), Ok(5));
}

#[test]
fn goroutine_timeout_raced_by_a_sender() {
    // Timed receives that a sender may complete just as they expire: each
    // value must arrive exactly once, either received in time or handed
    // back to its sender.
    let (tx, rx) = goheap::chan::<u64>(0);
    let (out_tx, out_rx) = goheap::chan::<(u64, u64)>(2);
    {
        let out_tx = out_tx.clone();
        common::go(move || {
            let (mut got, mut sum) = (0, 0);
            for _ in 0..3000 {
                if let Ok(v) = rx.recv_timeout(Duration::from_micros(20)) {
                    got += 1;
                    sum += v;
                }
            }
            out_tx.send((got, sum)).unwrap();
        });
    }
    common::go(move || {
        let (mut sent, mut sum) = (0, 0);
        for v in 1..=3000u64 {
            if tx.send_timeout(v, Duration::from_micros(20)).is_ok() {
                sent += 1;
                sum += v;
            }
        }
        out_tx.send((sent, sum)).unwrap();
    });
    let a = out_rx.recv().unwrap();
    let b = out_rx.recv().unwrap();
    assert_eq!(a, b, "received and sent counts and sums differ");
}

#[test]
fn close_wakes_parked_goroutines() {
    let (tx, rx) = goheap::chan::<u32>(0);
    let (res_tx, res_rx) = goheap::chan::<bool>(0);
    for _ in 0..8 {
        let (rx, res_tx) = (rx.clone(), res_tx.clone());
        common::go(move || res_tx.send(rx.recv() == Err(RecvError)).unwrap());
    }
    drop(res_tx);
    goheap::sleep(Duration::from_millis(10));
    tx.close();
    assert_eq!(res_rx.iter().filter(|&ok| ok).count(), 8);
}

#[test]
fn values_between_goroutines_drop_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = goheap::chan::<Counted>(4);
    let (done_tx, done_rx) = goheap::chan::<usize>(0);
    {
        let drops = drops.clone();
        common::go(move || {
            let mut made = 0;
            while made < 1000 {
                made += 1;
                if tx.send(Counted(drops.clone())).is_err() {
                    break;
                }
            }
            done_tx.send(made).unwrap();
        });
    }
    for _ in 0..300 {
        drop(rx.recv().unwrap());
    }
    drop(rx);
    let made = done_rx.recv().unwrap();
    // Wait until the channel (and its sender) is gone.
    drop(done_rx);
    let start = Instant::now();
    while drops.load(Ordering::SeqCst) < made && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(drops.load(Ordering::SeqCst), made);
}
