//! goheap's channels against crossbeam-channel, flume, tokio's mpsc and
//! (with `--go`) Go, in one run: unbuffered ping-pong, buffered
//! SPSC/MPSC/MPMC at capacity 1, 16 and 1024, select over 2 and 8
//! channels, and Go's prime sieve (goheap on goroutines against Go only).
//! Prints a table and one `metric <row>/<impl> <value>` line per cell
//! (ns per message; the sieve: ms).
//!
//! `cargo run --release --example chan_compare -- [messages [row prefix]]
//! [--runs N] [--go]` (default 200000 messages, every row, 3 runs). Each
//! cell is the median of its runs; a row's runs interleave its
//! implementations (run 1 of each, then run 2 of each, ...), so that a
//! burst of load on the shared machine hits them alike. `--go` builds
//! `workloads/goroutines/chan_*.go` with `go build` and runs them as the
//! `go` cell (their shapes match these rows; GOMAXPROCS is Go's default).
//! goheap runs twice: on goroutines (`goheap-g`, its home) and on plain
//! threads (`goheap-t`), as crossbeam and flume do; tokio runs tasks on its
//! own 2-worker runtime (it has no unbuffered or MPMC channel, so its
//! ping-pong uses capacity 1 and it has no MPMC rows).

#[allow(dead_code)] // `on_goroutine` of the shared helpers, not `arg`
mod chan_common;
#[path = "chan_common/sieve.rs"]
mod sieve;

use std::path::PathBuf;
use std::process::Command;
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

/// The command line: positional `messages` and `row prefix`, and flags.
struct Args {
    messages: u64,
    prefix: Option<String>,
    runs: usize,
    go: Option<GoPeers>,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            messages: 200_000,
            prefix: None,
            runs: 3,
            go: None,
        };
        let mut positional = 0;
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--runs" => {
                    args.runs = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .unwrap_or_else(|| usage("--runs takes a positive number"))
                }
                "--go" => args.go = Some(GoPeers::build()),
                _ if positional == 0 => {
                    args.messages = a
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .unwrap_or_else(|| usage("messages must be a positive number"));
                    positional += 1;
                }
                _ if positional == 1 => {
                    args.prefix = Some(a);
                    positional += 1;
                }
                _ => usage("too many arguments"),
            }
        }
        args
    }

    /// Whether the row `name` runs: it starts with the prefix, if any.
    fn wanted(&self, name: &str) -> bool {
        self.prefix.as_ref().is_none_or(|p| name.starts_with(p))
    }
}

fn usage(why: &str) -> ! {
    eprintln!("chan_compare: {why}\nusage: chan_compare [messages [row prefix]] [--runs N] [--go]");
    std::process::exit(2)
}

/// Go's builds of the workloads/goroutines/chan_*.go peers.
struct GoPeers {
    dir: PathBuf,
}

impl GoPeers {
    const PROGRAMS: [&'static str; 4] = [
        "chan_pingpong",
        "chan_buffered",
        "chan_select",
        "chan_sieve",
    ];

    fn build() -> GoPeers {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target/chan_compare_go");
        for prog in Self::PROGRAMS {
            let src = root.join(format!("workloads/goroutines/{prog}.go"));
            let status = Command::new("go")
                .arg("build")
                .arg("-o")
                .arg(dir.join(prog))
                .arg(&src)
                .status()
                .unwrap_or_else(|e| usage(&format!("cannot run `go build`: {e}")));
            if !status.success() {
                usage(&format!("`go build {}` failed", src.display()));
            }
        }
        GoPeers { dir }
    }

    /// Runs one program and returns the value of its `metric <name>` line.
    fn run(&self, prog: &str, args: &[String], metric: &str) -> f64 {
        let out = Command::new(self.dir.join(prog))
            .args(args)
            .output()
            .unwrap_or_else(|e| usage(&format!("cannot run {prog}: {e}")));
        let stderr = String::from_utf8_lossy(&out.stderr);
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(&format!("metric {metric} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| {
                usage(&format!(
                    "{prog} {args:?}: no `metric {metric}` in {stderr:?}"
                ))
            })
    }

    fn ns_per_op(&self, prog: &str, args: &[String]) -> f64 {
        self.run(prog, args, "ns_per_op")
    }
}

/// One cell of a row: an implementation's name and how to measure it once.
type Cell<'a> = (&'static str, Box<dyn Fn() -> f64 + 'a>);

/// Measures a row `runs` times (interleaved) and prints its medians.
fn row(args: &Args, name: &str, unit: &str, cells: Vec<Cell<'_>>) {
    if !args.wanted(name) {
        return;
    }
    let mut samples = vec![Vec::new(); cells.len()];
    for _ in 0..args.runs {
        for (i, (_, measure)) in cells.iter().enumerate() {
            samples[i].push(measure());
        }
    }
    let medians: Vec<f64> = samples.into_iter().map(median).collect();
    let best = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let mut line = format!("{name:<18}");
    for ((imp, _), m) in cells.iter().zip(&medians) {
        println!("metric {name}/{imp} {m:.1}");
        line += &format!(" {imp:>9} {m:>8.1} {unit} ({:.2}x)", m / best);
    }
    println!("{line}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `cells`, and Go's as the last if `go` is there.
fn with_go<'a>(
    go: Option<&'a GoPeers>,
    mut cells: Vec<Cell<'a>>,
    prog: &'static str,
    go_args: Vec<String>,
) -> Vec<Cell<'a>> {
    if let Some(go) = go {
        cells.push(("go", Box::new(move || go.ns_per_op(prog, &go_args))));
    }
    cells
}

/// Go's prime sieve for the first `n` primes on goheap's goroutines, in ms.
fn sieve_ms(n: u64) -> f64 {
    let ((_, sum), ns) = chan_common::on_goroutine(move || sieve::sieve(n));
    assert!(sum > 0);
    ns / 1e6
}

fn main() {
    let args = Args::parse();
    let m = args.messages;
    println!(
        "ns per message (ratio to the row's best), {m} messages per cell, median of {} runs",
        args.runs
    );
    let go = args.go.as_ref();
    let rounds = m / 4;
    row(
        &args,
        "pingpong",
        "ns",
        with_go(
            go,
            vec![
                (
                    "goheap-g",
                    Box::new(move || pingpong::<Goheap<true>>(rounds)),
                ),
                (
                    "goheap-t",
                    Box::new(move || pingpong::<Goheap<false>>(rounds)),
                ),
                ("crossbeam", Box::new(move || pingpong::<Crossbeam>(rounds))),
                ("flume", Box::new(move || pingpong::<Flume>(rounds))),
                ("tokio", Box::new(move || tokio_rows::pingpong(rounds))),
            ],
            "chan_pingpong",
            vec![rounds.to_string()],
        ),
    );
    for (shape, s, r) in [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)] {
        for cap in [1, 16, 1024] {
            let mut cells: Vec<Cell<'_>> = vec![
                (
                    "goheap-g",
                    Box::new(move || buffered::<Goheap<true>>(cap, s, r, m)),
                ),
                (
                    "goheap-t",
                    Box::new(move || buffered::<Goheap<false>>(cap, s, r, m)),
                ),
                (
                    "crossbeam",
                    Box::new(move || buffered::<Crossbeam>(cap, s, r, m)),
                ),
                ("flume", Box::new(move || buffered::<Flume>(cap, s, r, m))),
            ];
            if r == 1 {
                cells.push(("tokio", Box::new(move || tokio_rows::buffered(cap, s, m))));
            }
            let go_args = vec![shape.to_string(), cap.to_string(), m.to_string()];
            row(
                &args,
                &format!("{shape}_cap{cap}"),
                "ns",
                with_go(go, cells, "chan_buffered", go_args),
            );
        }
    }
    for n in [2, 8] {
        row(
            &args,
            &format!("select{n}"),
            "ns",
            with_go(
                go,
                vec![
                    ("goheap-g", Box::new(move || select::<Goheap<true>>(n, m))),
                    ("goheap-t", Box::new(move || select::<Goheap<false>>(n, m))),
                    ("crossbeam", Box::new(move || select::<Crossbeam>(n, m))),
                    ("flume", Box::new(move || select::<Flume>(n, m))),
                    ("tokio", Box::new(move || tokio_rows::select(n, m))),
                ],
                "chan_select",
                vec![n.to_string(), m.to_string()],
            ),
        );
    }
    const PRIMES: u64 = 5000;
    let mut cells: Vec<Cell<'_>> = vec![("goheap-g", Box::new(|| sieve_ms(PRIMES)))];
    if let Some(go) = go {
        cells.push((
            "go",
            Box::new(|| go.run("chan_sieve", &[PRIMES.to_string()], "ms")),
        ));
    }
    row(&args, "sieve5000", "ms", cells);
}
