//! Adversarial review of channels and `select!` (branch chan): every value
//! is owned by exactly one place, dropped exactly once, handed back when a
//! send fails; and the macro's public helpers cannot be misused from safe
//! code. `#[ignore = "finding: ..."]` tests fail today.

mod common;

use goheap::chan;
use goheap::select;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A value whose drops are counted in its own counter.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn leak_counter() -> &'static AtomicUsize {
    Box::leak(Box::new(AtomicUsize::new(0)))
}

/// Now a case's outcome is recorded by `run` in the case it chose, and
/// `result` reads it once: asking again (or for a case never chosen)
/// panics instead of handing the value out twice.
#[test]
fn the_select_helpers_cannot_duplicate_a_value() {
    use goheap::chan::__select::{run, Selected, SendCase, Wait};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let drops = leak_counter();
    let (tx, rx) = chan::<Counted<'static>>(0);
    drop(rx);
    let mut case = SendCase::new(&tx, Counted(drops));
    let before = catch_unwind(AssertUnwindSafe(|| case.result()));
    assert_eq!(run([case.raw()], Wait::No), Selected::Case(0, false));
    let first = case.result();
    let second = catch_unwind(AssertUnwindSafe(|| case.result()));
    assert!(first.is_err(), "the closed channel hands the value back");
    assert!(before.is_err() && second.is_err(), "no second value");
    drop((first, case));
    assert_eq!(drops.load(Ordering::SeqCst), 1, "one value, dropped twice");
}

#[test]
fn buffered_values_are_dropped_once_with_the_channel() {
    let drops = leak_counter();
    let (tx, rx) = chan::<Counted<'static>>(8);
    for _ in 0..5 {
        tx.send(Counted(drops)).unwrap();
    }
    let got = rx.recv().unwrap();
    drop(got);
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    let back = tx.send(Counted(drops)).unwrap_err().0;
    assert_eq!(
        drops.load(Ordering::SeqCst),
        5,
        "a failed send returns the value"
    );
    drop(back);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn zero_sized_values_with_drop_are_counted_once() {
    static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Z;
    impl Drop for Z {
        fn drop(&mut self) {
            ZST_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (tx, rx) = chan::<Z>(4);
    for _ in 0..4 {
        tx.send(Z).unwrap();
    }
    assert!(tx.try_send(Z).is_err());
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 1, "the refused value");
    drop(rx.recv().unwrap());
    drop(rx);
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 5);
    drop(tx);
}

#[test]
fn a_select_send_that_times_out_drops_its_value_once() {
    let drops = leak_counter();
    let (tx, rx) = chan::<Counted<'static>>(0);
    select! {
        send(tx, Counted(drops)) -> r => panic!("no receiver, yet {:?}", r.is_ok()),
        default(Duration::from_millis(20)) => {}
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(rx);
    select! {
        send(tx, Counted(drops)) -> r => {
            let back = r.unwrap_err().0;
            assert_eq!(drops.load(Ordering::SeqCst), 1, "handed back, not dropped");
            drop(back);
        }
        default(Duration::from_secs(5)) => panic!("a closed channel is ready"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn select_with_one_channel_twice_fires_once() {
    let (tx, rx) = chan::<u32>(1);
    tx.send(1).unwrap();
    let mut fired = 0;
    select! {
        recv(rx) -> v => { assert_eq!(v, Ok(1)); fired += 1; }
        recv(rx) -> v => { assert_eq!(v, Ok(1)); fired += 1; }
    }
    assert_eq!(fired, 1);
    // Parked on the same channel twice, woken by another thread.
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(2).unwrap();
        tx
    });
    select! {
        recv(rx) -> v => assert_eq!(v, Ok(2)),
        recv(rx) -> v => assert_eq!(v, Ok(2)),
        default(Duration::from_secs(10)) => panic!("lost wakeup"),
    }
    let tx = t.join().unwrap();
    assert!(rx.try_recv().is_err(), "the value was received once");
    drop(tx);
}

#[test]
fn a_select_does_not_match_its_own_send_with_its_own_receive() {
    let (tx, rx) = chan::<u32>(0);
    let timed_out;
    select! {
        send(tx, 1) -> r => panic!("sent to itself: {:?}", r.is_ok()),
        recv(rx) -> v => panic!("received from itself: {v:?}"),
        default(Duration::from_millis(30)) => timed_out = true,
    }
    assert!(timed_out);
}

#[test]
fn values_in_flight_are_dropped_once_under_contention() {
    let drops = leak_counter();
    let (tx, rx) = chan::<Counted<'static>>(2);
    let sent = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let tx = tx.clone();
            let sent = &sent;
            s.spawn(move || {
                for _ in 0..500 {
                    if tx
                        .send_timeout(Counted(drops), Duration::from_micros(50))
                        .is_ok()
                    {
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        let rx = &rx;
        s.spawn(move || {
            for _ in 0..700 {
                let _ = rx.recv_timeout(Duration::from_micros(50));
            }
        });
    });
    drop(rx);
    drop(tx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2000,
        "every value dropped exactly once"
    );
    assert!(sent.load(Ordering::SeqCst) <= 2000);
}

#[test]
fn goroutine_selects_with_deadlines_drop_every_value_once() {
    let drops = leak_counter();
    let (tx_a, rx_a) = chan::<Counted<'static>>(1);
    let (tx_b, rx_b) = chan::<Counted<'static>>(0);
    let wg = std::sync::Arc::new(goheap::sched::WaitGroup::new());
    wg.add(8);
    for g in 0..8 {
        let (tx_a, tx_b, rx_a, rx_b) = (tx_a.clone(), tx_b.clone(), rx_a.clone(), rx_b.clone());
        let wg = wg.clone();
        common::go(move || {
            for i in 0..300 {
                if (g + i) % 2 == 0 {
                    select! {
                        send(tx_a, Counted(drops)) -> _r => {}
                        send(tx_b, Counted(drops)) -> _r => {}
                        default(Duration::from_micros(30)) => {}
                    }
                } else {
                    select! {
                        recv(rx_a) -> _v => {}
                        recv(rx_b) -> _v => {}
                        default(Duration::from_micros(30)) => {}
                    }
                }
            }
            // Before done(): the main thread counts after wait().
            drop((tx_a, tx_b, rx_a, rx_b));
            wg.done();
        });
    }
    wg.wait();
    drop((rx_a, rx_b, tx_a, tx_b));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        8 * 150 * 2,
        "each select's two values were dropped once (sent and received, refused, or buffered)"
    );
}
