//! Channel benchmarks: the argument parsing and output lines that every
//! variant of a row shares (Go's `workloads/goroutines/chan_*.go` print the
//! same), and the drivers for OS-thread channels, generic over the crate.
//!
//! - ping-pong `N`: N round trips over two rendezvous channels (capacity 0);
//!   the echoing side returns v + 1.
//! - buffered `MODE CAPACITY N`: spsc 1 producer/1 consumer, mpsc 4/1, mpmc
//!   4/4; producer p of P sends p, p+P, ... below N; consumers sum.
//! - select `K N`: K producers, each on its own channel of capacity 16,
//!   producer k sending k, k+K, ... below N; one receiver selects over the
//!   K channels until it has N values.

use std::thread;
use std::time::{Duration, Instant};

/// Capacity of each channel of the select benchmark.
pub const SELECT_CAPACITY: usize = 16;

/// The round-trip count of ping-pong (argv[1], default 1000000).
pub fn pingpong_args() -> u64 {
    crate::arg(1, Some(1_000_000))
}

pub fn report_pingpong(n: u64, sum: u64, elapsed: Duration) {
    println!("{n} round trips, sum {sum}");
    crate::ns_per_op(elapsed, n);
}

/// The shape of one buffered row.
pub struct Buffered {
    pub mode: String,
    pub producers: u64,
    pub consumers: u64,
    pub capacity: usize,
    pub n: u64,
}

/// MODE CAPACITY [N] from argv (N default 2000000).
pub fn buffered_args() -> Buffered {
    let mode: String = crate::arg(1, None);
    let (producers, consumers) = match mode.as_str() {
        "spsc" => (1, 1),
        "mpsc" => (4, 1),
        "mpmc" => (4, 4),
        _ => crate::usage_error(&format!("unknown mode {mode:?}: spsc, mpsc or mpmc")),
    };
    let capacity = crate::arg(2, None);
    if capacity == 0 {
        crate::usage_error("CAPACITY must be at least 1");
    }
    Buffered {
        mode,
        producers,
        consumers,
        capacity,
        n: crate::arg(3, Some(2_000_000)),
    }
}

impl Buffered {
    /// The values producer `p` sends.
    pub fn values(&self, p: u64) -> impl Iterator<Item = u64> {
        (p..self.n).step_by(self.producers as usize)
    }

    pub fn report(&self, sum: u64, elapsed: Duration) {
        println!(
            "{} capacity {}: {} producers, {} consumers, {} messages, sum {sum}",
            self.mode, self.capacity, self.producers, self.consumers, self.n
        );
        crate::ns_per_op(elapsed, self.n);
    }
}

/// K (2 or 8) and N (default 2000000) of the select benchmark.
pub fn select_args() -> (u64, u64) {
    let k = crate::arg(1, None);
    if k != 2 && k != 8 {
        crate::usage_error("K must be 2 or 8");
    }
    (k, crate::arg(2, Some(2_000_000)))
}

/// The values producer `k` of `channels` sends.
pub fn select_values(k: u64, channels: u64, n: u64) -> impl Iterator<Item = u64> {
    (k..n).step_by(channels as usize)
}

pub fn report_select(k: u64, n: u64, sum: u64, elapsed: Duration) {
    println!("select over {k} channels: {n} messages, sum {sum}");
    crate::ns_per_op(elapsed, n);
}

/// A blocking MPMC channel crate, as the drivers below use it.
pub trait Channel {
    type Sender: Clone + Send + 'static;
    type Receiver: Clone + Send + 'static;
    /// A channel of `capacity` (0: rendezvous).
    fn bounded(capacity: usize) -> (Self::Sender, Self::Receiver);
    fn send(tx: &Self::Sender, value: u64);
    /// The next value, or None once every sender is gone and the buffer empty.
    fn recv(rx: &Self::Receiver) -> Option<u64>;
    /// Receives `n` values by selecting over `receivers`; returns their sum.
    fn select_sum(receivers: &[Self::Receiver], n: u64) -> u64;
}

/// Ping-pong between the main thread and an echoing thread.
pub fn pingpong<C: Channel>() {
    let n = pingpong_args();
    let (ping_tx, ping_rx) = C::bounded(0);
    let (pong_tx, pong_rx) = C::bounded(0);
    let echo = thread::spawn(move || {
        while let Some(v) = C::recv(&ping_rx) {
            C::send(&pong_tx, v + 1);
        }
    });
    let start = Instant::now();
    let mut sum = 0;
    for i in 0..n {
        C::send(&ping_tx, i);
        sum += C::recv(&pong_rx).expect("the echoing thread is alive");
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.join().expect("echoing thread");
    report_pingpong(n, sum, elapsed);
}

/// One buffered row on OS threads: one thread per producer and consumer.
pub fn buffered<C: Channel>() {
    let row = std::sync::Arc::new(buffered_args());
    let (tx, rx) = C::bounded(row.capacity);
    let start = Instant::now();
    let producers: Vec<_> = (0..row.producers)
        .map(|p| {
            let (tx, row) = (tx.clone(), row.clone());
            thread::spawn(move || row.values(p).for_each(|v| C::send(&tx, v)))
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..row.consumers)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || std::iter::from_fn(|| C::recv(&rx)).sum::<u64>())
        })
        .collect();
    producers
        .into_iter()
        .for_each(|p| p.join().expect("producer"));
    let sum = consumers
        .into_iter()
        .map(|c| c.join().expect("consumer"))
        .sum();
    row.report(sum, start.elapsed());
}

/// One select row on OS threads: a thread per producer, the receiver on main.
pub fn select<C: Channel>() {
    let (k, n) = select_args();
    let start = Instant::now();
    let (receivers, producers): (Vec<_>, Vec<_>) = (0..k)
        .map(|i| {
            let (tx, rx) = C::bounded(SELECT_CAPACITY);
            let producer =
                thread::spawn(move || select_values(i, k, n).for_each(|v| C::send(&tx, v)));
            (rx, producer)
        })
        .unzip();
    let sum = C::select_sum(&receivers, n);
    let elapsed = start.elapsed();
    producers
        .into_iter()
        .for_each(|p| p.join().expect("producer"));
    report_select(k, n, sum, elapsed);
}

/// crossbeam-channel.
pub struct Crossbeam;

impl Channel for Crossbeam {
    type Sender = crossbeam_channel::Sender<u64>;
    type Receiver = crossbeam_channel::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Sender, Self::Receiver) {
        crossbeam_channel::bounded(capacity)
    }

    fn send(tx: &Self::Sender, value: u64) {
        tx.send(value).expect("a receiver is alive");
    }

    fn recv(rx: &Self::Receiver) -> Option<u64> {
        rx.recv().ok()
    }

    fn select_sum(receivers: &[Self::Receiver], n: u64) -> u64 {
        let mut select = crossbeam_channel::Select::new();
        for rx in receivers {
            select.recv(rx);
        }
        let (mut got, mut sum) = (0, 0);
        while got < n {
            let op = select.select();
            let index = op.index();
            match op.recv(&receivers[index]) {
                Ok(v) => {
                    sum += v;
                    got += 1;
                }
                Err(_) => select.remove(index),
            }
        }
        sum
    }
}

/// flume.
pub struct Flume;

impl Channel for Flume {
    type Sender = flume::Sender<u64>;
    type Receiver = flume::Receiver<u64>;

    fn bounded(capacity: usize) -> (Self::Sender, Self::Receiver) {
        flume::bounded(capacity)
    }

    fn send(tx: &Self::Sender, value: u64) {
        tx.send(value).expect("a receiver is alive");
    }

    fn recv(rx: &Self::Receiver) -> Option<u64> {
        rx.recv().ok()
    }

    /// flume's `Selector` is a one-shot builder: one is built per message,
    /// over the channels still open.
    fn select_sum(receivers: &[Self::Receiver], n: u64) -> u64 {
        let mut open = vec![true; receivers.len()];
        let (mut got, mut sum) = (0, 0);
        while got < n {
            let mut selector = flume::Selector::new();
            for (index, rx) in receivers.iter().enumerate().filter(|(i, _)| open[*i]) {
                selector = selector.recv(rx, move |r| (index, r));
            }
            match selector.wait() {
                (_, Ok(v)) => {
                    sum += v;
                    got += 1;
                }
                (index, Err(_)) => open[index] = false,
            }
        }
        sum
    }
}
