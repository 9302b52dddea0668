//! Goroutines on the managed heap (issue 12): the rule of `sched/mod.rs`
//! ("GC scopes on goroutines") under attack. Thousands of goroutines mutate
//! one GC'd graph while collections run, the graph checked after each; a
//! scope that switches out stays on its thread; goroutines parked outside a
//! scope never delay a cycle, and one parked inside delays it only until
//! it closes the scope.

mod common;

use goheap::gc::{mutate, raw, Gc, GcCell, Mutation, Root};
use goheap::sched::{Mutex, WaitGroup};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Trace)]
struct Node<'gc> {
    id: u64,
    words: [u64; 4],
    next: Option<Gc<'gc, Node<'gc>>>,
}

fn words_of(id: u64) -> [u64; 4] {
    [id, !id, id.rotate_left(17), id ^ 0x5555_5555_5555_5555]
}

/// One list head per bucket; bucket `b` is changed only under `locks[b]`,
/// which also holds the ids the list must have, head first.
#[derive(Trace)]
struct Graph<'gc> {
    heads: Vec<GcCell<Option<Gc<'gc, Node<'gc>>>>>,
}

type GraphRoot = Root<Rootable!['gc => Graph<'gc>]>;

const BUCKETS: usize = 64;
const MAX_LEN: usize = 48;

fn new_graph() -> GraphRoot {
    mutate(|mu| {
        let heads = (0..BUCKETS).map(|_| GcCell::new(None)).collect();
        Root::new(mu, Gc::new(mu, Graph { heads }))
    })
}

/// The ids on bucket `b`'s list, head first, each node's words checked.
fn list_ids(mu: &Mutation<'_>, graph: &GraphRoot, b: usize) -> Vec<u64> {
    let g = graph.get(mu);
    let mut ids = Vec::new();
    let mut cur = *g.heads[b].borrow();
    while let Some(n) = cur {
        assert_eq!(n.words, words_of(n.id), "node {} corrupted", n.id);
        ids.push(n.id);
        cur = n.next;
    }
    ids
}

/// Pushes a new node on bucket `b` (or pops the head of a long list).
fn change_bucket(mu: &Mutation<'_>, graph: &GraphRoot, b: usize, id: u64, expect: &mut Vec<u64>) {
    let g = graph.get(mu);
    let mut head = g.heads[b].borrow_mut(mu);
    if expect.len() >= MAX_LEN {
        *head = head.expect("a long list has a head").next;
        expect.remove(0);
    } else {
        *head = Some(Gc::new(
            mu,
            Node {
                id,
                words: words_of(id),
                next: *head,
            },
        ));
        expect.insert(0, id);
    }
}

fn check_graph(graph: &GraphRoot, locks: &[Mutex<Vec<u64>>]) {
    for (b, lock) in locks.iter().enumerate() {
        let expect = lock.lock();
        let ids = mutate(|mu| list_ids(mu, graph, b));
        assert_eq!(ids, *expect, "bucket {b} lost or gained nodes");
    }
}

#[test]
fn thousands_of_goroutines_mutate_a_graph_while_cycles_run() {
    const GOROUTINES: usize = 2_000;
    const OPS: usize = 100;
    let graph = new_graph();
    let locks: Arc<Vec<Mutex<Vec<u64>>>> =
        Arc::new((0..BUCKETS).map(|_| Mutex::new(Vec::new())).collect());
    let wg = Arc::new(WaitGroup::new());
    wg.add(GOROUTINES as i64);
    let done = Arc::new(AtomicUsize::new(0));
    for t in 0..GOROUTINES {
        let (graph, locks, wg, done) = (graph.clone(), locks.clone(), wg.clone(), done.clone());
        common::go(move || {
            let mut rng = common::Rng::new(t as u64);
            for op in 0..OPS {
                let b = rng.below(BUCKETS as u64) as usize;
                let switch_inside = rng.chance(1, 8);
                // The lock may park: outside any scope.
                let mut expect = locks[b].lock();
                mutate(|mu| {
                    let before = list_ids(mu, &graph, b);
                    assert_eq!(before, *expect, "bucket {b} changed under its lock");
                    if switch_inside {
                        goheap::yield_now();
                    }
                    change_bucket(mu, &graph, b, (t * OPS + op) as u64, &mut expect);
                });
                drop(expect);
                if op % 4 == 0 {
                    goheap::yield_now();
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    let mut checks = 0;
    let first_cycle = raw::gc_no();
    while done.load(Ordering::Relaxed) < GOROUTINES {
        raw::collect();
        check_graph(&graph, &locks);
        checks += 1;
    }
    wg.wait();
    raw::collect();
    check_graph(&graph, &locks);
    eprintln!(
        "{checks} checks, {} cycles during the run",
        raw::gc_no() - first_cycle
    );
    assert!(
        raw::gc_no() > first_cycle + 1,
        "collections did not run while goroutines mutated the graph"
    );
}

/// The OS thread we run on, from the kernel.
fn this_thread() -> usize {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as usize }
}

#[test]
fn a_scope_that_switches_out_resumes_on_its_own_thread() {
    const GOROUTINES: usize = 64;
    let moved = Arc::new(AtomicUsize::new(0));
    let busy_ran = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..4 {
        let (busy_ran, stop) = (busy_ran.clone(), stop.clone());
        common::go(move || {
            while !stop.load(Ordering::Relaxed) {
                busy_ran.fetch_add(1, Ordering::Relaxed);
                goheap::yield_now();
            }
        });
    }
    let wg = Arc::new(WaitGroup::new());
    wg.add(GOROUTINES as i64);
    for i in 0..GOROUTINES {
        let (moved, wg) = (moved.clone(), wg.clone());
        common::go(move || {
            mutate(|mu| {
                let g = Gc::new(mu, [i as u64; 8]);
                let home = this_thread();
                for _ in 0..10 {
                    goheap::sleep(Duration::from_micros(200));
                    goheap::yield_now();
                    goheap::blocking(|| std::thread::sleep(Duration::from_micros(100)));
                    if this_thread() != home {
                        moved.fetch_add(1, Ordering::Relaxed);
                    }
                }
                assert_eq!(*g, [i as u64; 8]);
            });
            wg.done();
        });
    }
    wg.wait();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(
        moved.load(Ordering::Relaxed),
        0,
        "a goroutine inside a mutate scope resumed on another thread"
    );
    assert!(
        busy_ran.load(Ordering::Relaxed) > 0,
        "other goroutines never ran while scopes were parked"
    );
}

#[derive(Trace)]
struct Cargo {
    serial: u64,
    words: Vec<u64>,
}

type CargoRoot = Root<Rootable!['gc => Cargo]>;

fn cargo(serial: u64) -> CargoRoot {
    mutate(|mu| {
        let words = (0..16).map(|i| serial * 31 + i).collect();
        Root::new(mu, Gc::new(mu, Cargo { serial, words }))
    })
}

fn check_cargo(root: &CargoRoot) {
    mutate(|mu| {
        let c = root.get(mu);
        let want: Vec<u64> = (0..16).map(|i| c.serial * 31 + i).collect();
        assert_eq!(c.words, want, "rooted object {} corrupted", c.serial);
    });
}

#[test]
fn goroutines_parked_outside_scopes_never_delay_a_cycle() {
    const PARKED: usize = 1_000;
    const CYCLES: usize = 20;
    let (release_tx, release_rx) = goheap::chan::<()>(0);
    let wg = Arc::new(WaitGroup::new());
    wg.add(PARKED as i64);
    for i in 0..PARKED {
        let (rx, wg) = (release_rx.clone(), wg.clone());
        common::go(move || {
            let mine = cargo(i as u64);
            // Parked for the whole run, holding only a Root.
            rx.recv().expect("released");
            check_cargo(&mine);
            wg.done();
        });
    }
    let t = Instant::now();
    for c in 0..CYCLES {
        let before = raw::gc_no();
        // Garbage between cycles, made by this (plain) thread.
        mutate(|mu| {
            for j in 0..1_000u64 {
                Gc::new(mu, [c as u64, j]);
            }
        });
        raw::collect();
        assert!(
            raw::gc_no() > before,
            "cycle {c} did not run within collect's patience: a parked goroutine held it up"
        );
    }
    eprintln!(
        "{CYCLES} cycles beside {PARKED} parked goroutines in {:?}",
        t.elapsed()
    );
    for _ in 0..PARKED {
        release_tx.send(()).unwrap();
    }
    wg.wait();
}

#[test]
fn a_goroutine_parked_inside_a_scope_delays_the_cycle_until_it_closes_it() {
    let (wake_tx, wake_rx) = goheap::chan::<()>(0);
    let (inside_tx, inside_rx) = goheap::chan::<()>(0);
    let (done_tx, done_rx) = goheap::chan::<[u64; 4]>(1);
    common::go(move || {
        let seen = mutate(|mu| {
            let g = Gc::new(mu, [7u64; 4]);
            inside_tx.send(()).unwrap();
            wake_rx.recv().unwrap();
            *g
        });
        done_tx.send(seen).unwrap();
    });
    inside_rx.recv().unwrap();
    let before = raw::gc_no();
    // Waits out collect's patience: the scope is open, its handle unseen.
    raw::collect();
    assert_eq!(
        raw::gc_no(),
        before,
        "a cycle ran while a goroutine's scope was open"
    );
    wake_tx.send(()).unwrap();
    assert_eq!(
        done_rx.recv_timeout(Duration::from_secs(10)),
        Ok([7; 4]),
        "the object made in the parked scope changed"
    );
    // The pending request runs when the scope closes, or on the next call.
    raw::collect();
    assert!(raw::gc_no() > before, "no cycle after the scope closed");
}

const CASE: &str = "GOHEAP_TEST_GC_GOROUTINES_CASE";

/// The tests that need a fresh process run this test binary again for
/// `child_helper` alone, naming their case in `CASE`.
#[test]
#[ignore = "the child process of the tests that need a fresh process"]
fn child_helper() {
    match std::env::var(CASE).as_deref() {
        Ok("schedtrace") => keep_the_ps_busy(),
        Ok("finalizer") => report_where_cleanups_run(),
        Ok("mark_on_ps") => collect_with_only_ps_marking(),
        _ => {}
    }
}

/// Cleans up one object with a cleanup that reports the name of its thread.
fn name_of_the_cleanup_thread() -> String {
    let (tx, rx) = goheap::chan::<String>(1);
    mutate(|mu| {
        let g = Gc::new(mu, [1u64; 4]);
        g.add_cleanup(mu, tx, |tx: goheap::chan::Sender<String>| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            tx.send(name).unwrap();
        });
    });
    raw::collect();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the cleanup ran")
}

/// Without the scheduler, cleanups run on the finalizer thread; once it
/// runs, on a goroutine (its thread is an M).
fn report_where_cleanups_run() {
    println!("before {}", name_of_the_cleanup_thread());
    let (tx, rx) = goheap::chan::<()>(0);
    common::go(move || tx.send(()).unwrap());
    rx.recv().unwrap();
    println!("after {}", name_of_the_cleanup_thread());
}

#[test]
fn finalizers_run_on_a_thread_until_the_scheduler_starts_then_on_a_goroutine() {
    let out = common::child_helper_command(&[(CASE, "finalizer")])
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("before goheap-finalizer\n"),
        "cleanup before the scheduler started not on the finalizer thread:\n{stdout}"
    );
    assert!(
        stdout.contains("after goheap-m"),
        "cleanup after the scheduler started not on a goroutine's M:\n{stdout}"
    );
}

#[test]
fn a_cleanup_on_the_finalizer_goroutine_may_park() {
    let (started_tx, started_rx) = goheap::chan::<()>(0);
    common::go(move || started_tx.send(()).unwrap());
    started_rx.recv().unwrap();
    let (tx, rx) = goheap::chan::<u64>(0);
    mutate(|mu| {
        for i in 0..8u64 {
            let g = Gc::new(mu, [i; 2]);
            let tx = tx.clone();
            g.add_cleanup(mu, i, move |i| {
                goheap::sleep(Duration::from_millis(1));
                tx.send(i).unwrap();
            });
        }
    });
    drop(tx);
    raw::collect();
    let mut got: Vec<u64> = (0..8)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("cleanup ran")
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

/// Goroutines that keep the Ps busy for about 350 ms.
fn keep_the_ps_busy() {
    let wg = Arc::new(WaitGroup::new());
    wg.add(8);
    for _ in 0..8 {
        let wg = wg.clone();
        common::go(move || {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(350) {
                goheap::yield_now();
            }
            wg.done();
        });
    }
    wg.wait();
}

/// The fields of one `SCHED` line, checked against Go's layout.
fn parse_sched_line(line: &str) -> Option<Vec<(String, u64)>> {
    let rest = line.strip_prefix("SCHED ")?;
    let (ms, rest) = rest.split_once("ms: ")?;
    let mut fields = vec![("ms".to_string(), ms.parse().ok()?)];
    let (named, local) = rest.split_once(" [")?;
    for kv in named.split(' ') {
        let (k, v) = kv.split_once('=')?;
        fields.push((k.to_string(), v.parse().ok()?));
    }
    let local = local.strip_suffix(']')?;
    let queues: Vec<u64> = local
        .split(' ')
        .map(|q| q.parse().ok())
        .collect::<Option<_>>()?;
    fields.push(("local_queues".to_string(), queues.len() as u64));
    Some(fields)
}

/// With the scheduler started and no dedicated mark thread, concurrent
/// cycles over a rooted graph of 200k nodes still finish: their mark runs on
/// the Ps (between bursts of allocation, the Ps are idle). The graph is
/// checked after each cycle.
fn collect_with_only_ps_marking() {
    let (tx, rx) = goheap::chan::<()>(0);
    common::go(move || tx.send(()).unwrap());
    rx.recv().unwrap();
    let graph = new_graph();
    let mut expect: Vec<Vec<u64>> = vec![Vec::new(); BUCKETS];
    mutate(|mu| {
        let g = graph.get(mu);
        for id in 0..200_000u64 {
            let b = id as usize % BUCKETS;
            let next = *g.heads[b].borrow();
            let node = Gc::new(
                mu,
                Node {
                    id,
                    words: words_of(id),
                    next,
                },
            );
            *g.heads[b].borrow_mut(mu) = Some(node);
            expect[b].insert(0, id);
        }
    });
    let start = raw::gc_no();
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw::gc_no() < start + 3 {
        assert!(
            Instant::now() < deadline,
            "the cycles never finished their marks"
        );
        // Garbage drives the cycles; between bursts nothing allocates.
        mutate(|mu| {
            for i in 0..2000u64 {
                Gc::new(mu, [i; 8]);
            }
        });
        std::thread::sleep(Duration::from_millis(1));
        let seen = raw::gc_no();
        mutate(|mu| {
            if raw::gc_no() != seen {
                for (b, ids) in expect.iter().enumerate() {
                    assert_eq!(&list_ids(mu, &graph, b), ids, "bucket {b}");
                }
            }
        });
    }
    println!("cycles done");
}

/// The graph stress again in a fresh process with no mark thread and
/// GOGC=5 (over a thousand concurrent cycles): every mark is done by the Ps
/// (between and beside the goroutines) and by the goroutines' own assists,
/// with their barriers buffered per thread.
#[test]
fn goroutines_mutate_a_graph_while_only_ps_and_assists_mark() {
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "thousands_of_goroutines_mutate_a_graph_while_cycles_run",
            "--exact",
            "--test-threads=1",
        ])
        .env("GOHEAP_DEBUG", "gcmarkthread=0")
        .env("GOHEAP_GOGC", "5")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {out:?}");
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// The sum of one gctrace figure (`assist`, `background` or `idle` CPU ms)
/// over the lines of a child's stderr.
fn mark_cpu_ms(stderr: &str, which: usize) -> f64 {
    stderr
        .lines()
        .filter(|l| l.starts_with("gc "))
        .filter_map(|l| {
            let cpu = l.split(" ms clock, ").nth(1)?.split(" ms cpu").next()?;
            let mark = cpu.split('+').nth(1)?;
            mark.split('/').nth(which)?.parse::<f64>().ok()
        })
        .sum()
}

#[test]
fn ps_mark_when_there_is_no_mark_thread() {
    let out = common::child_helper_command(&[
        (CASE, "mark_on_ps"),
        ("GOHEAP_DEBUG", "gctrace=1,gcmarkthread=0"),
        ("GOHEAP_MAXPROCS", "2"),
    ])
    .output()
    .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("cycles done"));
    let on_ps = mark_cpu_ms(&stderr, 1) + mark_cpu_ms(&stderr, 2);
    assert!(on_ps > 0.0, "no background or idle mark time in:\n{stderr}");
    assert!(
        stderr.lines().filter(|l| l.starts_with("gc ")).count() >= 3,
        "{stderr}"
    );
}

#[test]
fn schedtrace_prints_go_s_sched_line() {
    let out = common::child_helper_command(&[
        (CASE, "schedtrace"),
        ("GOHEAP_DEBUG", "schedtrace=100"),
        ("GOHEAP_MAXPROCS", "2"),
    ])
    .output()
    .expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(lines.len() >= 2, "too few SCHED lines in:\n{stderr}");
    let names = [
        "ms",
        "gomaxprocs",
        "idleprocs",
        "threads",
        "spinningthreads",
        "needspinning",
        "idlethreads",
        "runqueue",
        "local_queues",
    ];
    let mut last_ms = 0;
    for line in lines {
        let fields = parse_sched_line(line).unwrap_or_else(|| panic!("bad SCHED line {line:?}"));
        let got: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, names, "fields of {line:?}");
        let value = |name: &str| fields.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(value("gomaxprocs"), 2, "{line}");
        assert_eq!(value("local_queues"), 2, "{line}");
        assert!(value("idleprocs") <= 2, "{line}");
        assert!(value("threads") >= 2, "{line}");
        assert!(
            value("ms") >= last_ms + 90,
            "lines closer than the period: {line}"
        );
        last_ms = value("ms");
    }
}
