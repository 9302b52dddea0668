//! goheap's channels against crossbeam-channel, flume and tokio's mpsc, in
//! one run: unbuffered ping-pong, buffered SPSC/MPSC/MPMC at capacity 1, 16
//! and 1024, and select over 2 and 8 channels. Prints a table and one
//! `metric <row>/<impl> <ns per message>` line per cell.
//!
//! `cargo run --release --example chan_compare [messages [row prefix]]`
//! (default 200000 messages, every row).
//! goheap runs twice: on goroutines (`goheap-g`, its home) and on plain
//! threads (`goheap-t`), as crossbeam and flume do; tokio runs tasks on its
//! own 2-worker runtime (it has no unbuffered or MPMC channel, so its
//! ping-pong uses capacity 1 and it has no MPMC rows).

use std::time::Instant;

trait Flavour {
    /// Whether the workers are goroutines (else threads).
    const GOROUTINES: bool = false;
    type Tx: Clone + Send + 'static;
    type Rx: Clone + Send + 'static;
    fn make(cap: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    fn recv(rx: &Self::Rx) -> u64;
    fn select2(rx: &[Self::Rx]) -> u64;
    fn select8(rx: &[Self::Rx]) -> u64;
}

/// `select2`/`select8` for a crate whose `select!` has crossbeam's syntax
/// (goheap's and crossbeam's): the same source, each crate's macro.
macro_rules! crossbeam_style_selects {
    ($krate:ident) => {
        fn select2(r: &[Self::Rx]) -> u64 {
            $krate::select! {
                recv(r[0]) -> v => v.unwrap(),
                recv(r[1]) -> v => v.unwrap(),
            }
        }
        fn select8(r: &[Self::Rx]) -> u64 {
            $krate::select! {
                recv(r[0]) -> v => v.unwrap(),
                recv(r[1]) -> v => v.unwrap(),
                recv(r[2]) -> v => v.unwrap(),
                recv(r[3]) -> v => v.unwrap(),
                recv(r[4]) -> v => v.unwrap(),
                recv(r[5]) -> v => v.unwrap(),
                recv(r[6]) -> v => v.unwrap(),
                recv(r[7]) -> v => v.unwrap(),
            }
        }
    };
}

/// goheap's channels, on goroutines (`true`) or threads.
struct Goheap<const GOROUTINES: bool>;
impl<const G: bool> Flavour for Goheap<G> {
    const GOROUTINES: bool = G;
    type Tx = goheap::chan::Sender<u64>;
    type Rx = goheap::chan::Receiver<u64>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        goheap::chan(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
    crossbeam_style_selects!(goheap);
}

struct Crossbeam;
impl Flavour for Crossbeam {
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
    crossbeam_style_selects!(crossbeam_channel);
}

struct Flume;
impl Flavour for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).unwrap();
    }
    fn recv(rx: &Self::Rx) -> u64 {
        rx.recv().unwrap()
    }
    fn select2(r: &[Self::Rx]) -> u64 {
        Self::select8(r)
    }
    fn select8(r: &[Self::Rx]) -> u64 {
        r.iter()
            .fold(flume::Selector::new(), |s, rx| s.recv(rx, |v| v.unwrap()))
            .wait()
    }
}

/// Starts a worker (goroutine or thread); the result joins it.
fn spawn<F: Flavour>(f: impl FnOnce() + Send + 'static) -> Box<dyn FnOnce()> {
    if F::GOROUTINES {
        let (done_tx, done_rx) = goheap::chan::<()>(1);
        let body = move || {
            f();
            let _ = done_tx.send(());
        };
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
        Box::new(move || done_rx.recv().unwrap())
    } else {
        let t = std::thread::spawn(f);
        Box::new(move || t.join().unwrap())
    }
}

/// Runs a benchmark's driving loop on a worker of the flavour's kind.
fn drive<F: Flavour>(f: impl FnOnce() + Send + 'static) {
    spawn::<F>(f)();
}

/// Runs `f` and returns nanoseconds per message.
fn time(messages: u64, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / messages as f64
}

fn pingpong<F: Flavour>(rounds: u64) -> f64 {
    let (ping_tx, ping_rx) = F::make(0);
    let (pong_tx, pong_rx) = F::make(0);
    let echo = spawn::<F>(move || {
        for _ in 0..rounds {
            F::send(&pong_tx, F::recv(&ping_rx));
        }
    });
    let ns = time(rounds, || {
        drive::<F>(move || {
            for i in 0..rounds {
                F::send(&ping_tx, i);
                assert_eq!(F::recv(&pong_rx), i);
            }
        })
    });
    echo();
    ns
}

/// `senders` threads send `messages` in all to `receivers` threads.
fn buffered<F: Flavour>(cap: usize, senders: u64, receivers: u64, messages: u64) -> f64 {
    let (tx, rx) = F::make(cap);
    time(messages, || {
        let threads: Vec<_> = (0..senders)
            .map(|_| {
                let tx = tx.clone();
                spawn::<F>(move || {
                    for i in 0..messages / senders {
                        F::send(&tx, i);
                    }
                })
            })
            .chain((0..receivers).map(|_| {
                let rx = rx.clone();
                spawn::<F>(move || {
                    for _ in 0..messages / receivers {
                        F::recv(&rx);
                    }
                })
            }))
            .collect();
        for join in threads {
            join();
        }
    })
}

/// One sender per channel, one receiver selecting over all of them.
fn select<F: Flavour>(n: usize, messages: u64) -> f64 {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| F::make(16)).unzip();
    time(messages, || {
        let senders: Vec<_> = txs
            .into_iter()
            .map(|tx| {
                // The sender stays open until the receiver is done.
                let (stop_tx, stop_rx) = goheap::chan::<()>(0);
                let join = spawn::<F>(move || {
                    for i in 0..messages / n as u64 {
                        F::send(&tx, i);
                    }
                    let _ = stop_rx.recv();
                });
                (stop_tx, join)
            })
            .collect();
        drive::<F>(move || {
            for _ in 0..messages / n as u64 * n as u64 {
                if n == 2 {
                    F::select2(&rxs);
                } else {
                    F::select8(&rxs);
                }
            }
        });
        for (stop, join) in senders {
            drop(stop);
            join();
        }
    })
}

mod tokio_rows {
    use super::time;
    use tokio::sync::mpsc;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    pub fn pingpong(rounds: u64) -> f64 {
        runtime().block_on(async {
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
            tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            });
            let start = std::time::Instant::now();
            for i in 0..rounds {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Some(i));
            }
            start.elapsed().as_nanos() as f64 / rounds as f64
        })
    }

    pub fn buffered(cap: usize, senders: u64, messages: u64) -> f64 {
        let rt = runtime();
        time(messages, || {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::channel::<u64>(cap);
                for _ in 0..senders {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in 0..messages / senders {
                            tx.send(i).await.unwrap();
                        }
                    });
                }
                drop(tx);
                tokio::spawn(async move { while rx.recv().await.is_some() {} })
                    .await
                    .unwrap();
            })
        })
    }

    pub fn select(n: usize, messages: u64) -> f64 {
        let rt = runtime();
        time(messages, || {
            rt.block_on(async {
                let mut rxs = Vec::new();
                for _ in 0..n {
                    let (tx, rx) = mpsc::channel::<u64>(16);
                    rxs.push(rx);
                    tokio::spawn(async move {
                        for i in 0..messages / n as u64 {
                            tx.send(i).await.unwrap();
                        }
                    });
                }
                let total = messages / n as u64 * n as u64;
                tokio::spawn(async move {
                    let mut got = 0;
                    while got < total {
                        if n == 2 {
                            let [a, b] = &mut rxs[..] else { unreachable!() };
                            tokio::select! {
                                Some(_) = a.recv() => {},
                                Some(_) = b.recv() => {},
                            }
                        } else {
                            let [a, b, c, d, e, f, g, h] = &mut rxs[..] else {
                                unreachable!()
                            };
                            tokio::select! {
                                Some(_) = a.recv() => {},
                                Some(_) = b.recv() => {},
                                Some(_) = c.recv() => {},
                                Some(_) = d.recv() => {},
                                Some(_) = e.recv() => {},
                                Some(_) = f.recv() => {},
                                Some(_) = g.recv() => {},
                                Some(_) = h.recv() => {},
                            }
                        }
                        got += 1;
                    }
                })
                .await
                .unwrap();
            })
        })
    }
}

struct Row {
    name: String,
    cells: Vec<(&'static str, f64)>,
}

impl Row {
    fn print(&self) {
        let best = self.cells.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
        let mut line = format!("{:<18}", self.name);
        for (imp, ns) in &self.cells {
            println!("metric {}/{} {:.1}", self.name, imp, ns);
            line += &format!(" {imp:>9} {ns:>8.1} ns ({:.2}x)", ns / best);
        }
        println!("{line}");
    }
}

/// Rows run: those whose name starts with the second argument, if any.
fn wanted(name: &str) -> bool {
    std::env::args().nth(2).is_none_or(|p| name.starts_with(&p))
}

fn row(name: String, cells: impl FnOnce() -> Vec<(&'static str, f64)>) {
    if wanted(&name) {
        Row {
            cells: cells(),
            name,
        }
        .print();
    }
}

fn main() {
    let m: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!("ns per message (ratio to the row's best), {m} messages per cell");
    row("pingpong".into(), || {
        vec![
            ("goheap-g", pingpong::<Goheap<true>>(m / 4)),
            ("goheap-t", pingpong::<Goheap<false>>(m / 4)),
            ("crossbeam", pingpong::<Crossbeam>(m / 4)),
            ("flume", pingpong::<Flume>(m / 4)),
            ("tokio", tokio_rows::pingpong(m / 4)),
        ]
    });
    for (shape, s, r) in [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)] {
        for cap in [1, 16, 1024] {
            row(format!("{shape}_cap{cap}"), || {
                let mut cells = vec![
                    ("goheap-g", buffered::<Goheap<true>>(cap, s, r, m)),
                    ("goheap-t", buffered::<Goheap<false>>(cap, s, r, m)),
                    ("crossbeam", buffered::<Crossbeam>(cap, s, r, m)),
                    ("flume", buffered::<Flume>(cap, s, r, m)),
                ];
                if r == 1 {
                    cells.push(("tokio", tokio_rows::buffered(cap, s, m)));
                }
                cells
            });
        }
    }
    for n in [2, 8] {
        row(format!("select{n}"), || {
            vec![
                ("goheap-g", select::<Goheap<true>>(n, m)),
                ("goheap-t", select::<Goheap<false>>(n, m)),
                ("crossbeam", select::<Crossbeam>(n, m)),
                ("flume", select::<Flume>(n, m)),
                ("tokio", tokio_rows::select(n, m)),
            ]
        });
    }
}
