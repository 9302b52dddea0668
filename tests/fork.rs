//! fork() while other threads are busy allocating through goheap: the child
//! (whose copy of the heap was taken at an arbitrary moment, possibly with a
//! lock held by a thread that does not exist in the child) must be able to
//! allocate and free Vecs, Strings, Boxes of every size class and multi-MiB
//! blocks, start a thread, and fork a grandchild. The child reports a pattern
//! mismatch through a non-zero exit code; the parent polls waitpid(WNOHANG) with
//! a 20 s timeout so a deadlocked child fails the test instead of hanging it.

mod common;

use common::{boundary_sizes, check, init_patterns, pattern_box, Rng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const CHILD_TIMEOUT: Duration = Duration::from_secs(20);

/// Exit codes of the child.
const OK: i32 = 0;
const BAD_VEC: i32 = 10;
const BAD_STRING: i32 = 11;
const BAD_BOX: i32 = 12;
const BAD_MAP: i32 = 13;
const BAD_THREAD: i32 = 14;
const BAD_GRANDCHILD: i32 = 15;
const PANICKED: i32 = 16;

/// Write a message to fd 2 without allocating.
fn raw_stderr(msg: &str) {
    // SAFETY: writing a valid buffer of msg.len() bytes to fd 2; a short or
    // failed write only loses the diagnostic.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// Allocation work done in the child; returns an exit code.
fn child_work(iteration: u64) -> i32 {
    let mut rng = Rng::new(iteration);
    // Vec growth.
    let v: Vec<u64> = (0..100_000u64).map(|i| i * 3).collect();
    if !v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3) {
        return BAD_VEC;
    }
    drop(v);
    // Strings, many of them short (tiny allocator).
    let strings: Vec<String> = (0..5000).map(|i| format!("s{}", i % 1000)).collect();
    if !strings
        .iter()
        .enumerate()
        .all(|(i, s)| *s == format!("s{}", i % 1000))
    {
        return BAD_STRING;
    }
    let mut big = String::new();
    for i in 0..20_000 {
        big.push_str(if i % 2 == 0 { "ab" } else { "c" });
    }
    if big.len() != 30_000 || !big.starts_with("abcab") {
        return BAD_STRING;
    }
    drop(strings);
    // Boxes of every size class boundary and multi-MiB blocks, all live together.
    let boxes: Vec<(u64, Box<[u8]>)> = boundary_sizes()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (i as u64, pattern_box(i as u64 + iteration * 1000, n)))
        .collect();
    for (i, b) in &boxes {
        if !check(b, *i + iteration * 1000) {
            return BAD_BOX;
        }
    }
    drop(boxes);
    let tiny: Vec<Box<u16>> = (0..10_000u16).map(Box::new).collect();
    if !tiny.iter().enumerate().all(|(i, b)| **b == i as u16) {
        return BAD_BOX;
    }
    let mut m: HashMap<u64, Vec<u8>> = HashMap::new();
    for i in 0..5000u64 {
        m.insert(i, vec![i as u8; rng.range(1, 100)]);
    }
    if m.len() != 5000 || !m.iter().all(|(k, v)| v.iter().all(|&b| b == *k as u8)) {
        return BAD_MAP;
    }
    code_of_thread_in_child(iteration)
}

/// A thread started in the child allocates too (new per-thread cache in the child).
fn code_of_thread_in_child(iteration: u64) -> i32 {
    let h = thread::Builder::new().spawn(move || {
        let bs: Vec<Box<[u8]>> = (0..200u64)
            .map(|i| pattern_box(i ^ iteration, (i as usize * 97) % 40_000 + 1))
            .collect();
        bs.iter()
            .enumerate()
            .all(|(i, b)| check(b, i as u64 ^ iteration))
    });
    match h.map(|h| h.join()) {
        Ok(Ok(true)) => OK,
        _ => BAD_THREAD,
    }
}

/// Outcome of waiting for a child process.
#[derive(Debug, PartialEq)]
enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

fn wait_with_timeout(pid: libc::pid_t, timeout: Duration) -> Exit {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: pid is our child; status is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(
            r >= 0,
            "waitpid({pid}) failed: {}",
            std::io::Error::last_os_error()
        );
        if r == pid {
            if libc::WIFEXITED(status) {
                return Exit::Code(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Exit::Signal(libc::WTERMSIG(status));
            }
        }
        if start.elapsed() > timeout {
            // SAFETY: pid is our child, not yet reaped; kill + blocking waitpid reaps it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Exit::TimedOut;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// In the child: run `work`, then `_exit` with its code, never returning or unwinding
/// into the test harness copy.
fn child_main(work: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(PANICKED);
    if code != OK {
        raw_stderr("fork test child: allocation check failed\n");
    }
    // SAFETY: _exit terminates the process immediately; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// Fork; in the child run `work` and `_exit`; in the parent wait and return the outcome.
fn fork_and_wait(work: impl FnOnce() -> i32) -> Exit {
    // SAFETY: fork has no memory-safety preconditions; the child only runs
    // `work` (allocation through goheap, which is what is under test) and then
    // _exits without returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        child_main(work);
    }
    wait_with_timeout(pid, CHILD_TIMEOUT)
}

/// Start `n` threads that allocate and free in a loop (small, tiny and large
/// objects, with pattern checks) until `stop` is set; returns their handles and
/// a counter of completed iterations.
fn busy_threads(
    n: u64,
    stop: &Arc<AtomicBool>,
) -> (Vec<thread::JoinHandle<u64>>, Arc<AtomicUsize>) {
    let iterations = Arc::new(AtomicUsize::new(0));
    let handles = (0..n)
        .map(|t| {
            let stop = stop.clone();
            let iterations = iterations.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(1000 + t);
                let mut live: Vec<(u64, Box<[u8]>)> = Vec::new();
                let mut id = t << 40;
                let mut checked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    id += 1;
                    let len = if rng.chance(1, 50) {
                        rng.log_uniform(32 << 10, 2 << 20)
                    } else {
                        rng.log_uniform(1, 32 << 10)
                    };
                    live.push((id, pattern_box(id, len)));
                    let s = format!("{id}");
                    assert_eq!(s.parse::<u64>().unwrap(), id);
                    if live.len() > 64 {
                        let (oid, b) = live.swap_remove(rng.below(live.len() as u64) as usize);
                        assert!(check(&b, oid), "busy thread {t}: object {oid} corrupted");
                        checked += 1;
                    }
                    iterations.fetch_add(1, Ordering::Relaxed);
                }
                for (oid, b) in &live {
                    assert!(
                        check(b, *oid),
                        "busy thread {t}: object {oid} corrupted at the end"
                    );
                }
                checked
            })
        })
        .collect();
    (handles, iterations)
}

fn wait_for_iterations(counter: &AtomicUsize, at_least: usize, when: &str) {
    let start = Instant::now();
    while counter.load(Ordering::Relaxed) < at_least {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "busy threads made no progress in 30 s {when}: {} iterations, waiting for {at_least} \
             (a thread stuck in the allocator: a lock left held, or a deadlock)",
            counter.load(Ordering::Relaxed)
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Aborts the whole test process (after a message on stderr) if not dropped
/// within `limit`: a deadlock inside the allocator in the parent would
/// otherwise hang `cargo test` forever. Nothing is allocated after it starts.
struct Watchdog {
    done: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(test: &str, limit: Duration) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let msg = format!(
            "\nfork test {test}: still running after {} s, the parent is deadlocked \
             (allocator lock held after fork?); aborting\n",
            limit.as_secs()
        );
        let flag = done.clone();
        let thread = thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::Acquire) {
                if start.elapsed() > limit {
                    raw_stderr(&msg);
                    // SAFETY: abort has no preconditions; it ends the process.
                    unsafe { libc::abort() };
                }
                thread::park_timeout(Duration::from_millis(100));
            }
        });
        Watchdog {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[test]
fn fork_while_threads_allocate() {
    init_patterns();
    let _watchdog = Watchdog::start("fork_while_threads_allocate", Duration::from_secs(120));
    let stop = Arc::new(AtomicBool::new(false));
    let (handles, iterations) = busy_threads(3, &stop);
    wait_for_iterations(&iterations, 100, "before the first fork");
    let mut outcomes = Vec::new();
    for i in 0..40u64 {
        let before = iterations.load(Ordering::Relaxed);
        let exit = fork_and_wait(|| {
            let code = child_work(i);
            if code != OK || i % 8 != 0 {
                return code;
            }
            // Now and then the child forks a grandchild, which allocates as well.
            match fork_and_wait(|| child_work(i + 10_000)) {
                Exit::Code(OK) => OK,
                _ => BAD_GRANDCHILD,
            }
        });
        let failed = exit != Exit::Code(OK);
        outcomes.push((i, exit));
        if failed {
            break; // one failure is enough (and a hung child already cost 20 s)
        }
        // Keep the threads allocating between forks, so forks land at varied points.
        wait_for_iterations(&iterations, before + 20, &format!("after fork #{i}"));
    }
    stop.store(true, Ordering::Relaxed);
    let checked: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("busy thread panicked"))
        .sum();
    let failures: Vec<_> = outcomes
        .iter()
        .filter(|(_, e)| *e != Exit::Code(OK))
        .collect();
    assert!(failures.is_empty(), "children that failed (iteration, outcome): {failures:?} (codes: 10 vec, 11 string, 12 box, 13 map, 14 thread, 15 grandchild, 16 panic; TimedOut = hung > 20 s, likely a heap lock held across fork)");
    assert!(checked > 0, "busy threads never checked an object");
}

#[test]
fn fork_from_a_non_main_thread() {
    init_patterns();
    let _watchdog = Watchdog::start("fork_from_a_non_main_thread", Duration::from_secs(120));
    let stop = Arc::new(AtomicBool::new(false));
    let (handles, iterations) = busy_threads(2, &stop);
    wait_for_iterations(&iterations, 100, "before the first fork");
    // fork() from a freshly spawned thread that has allocated (its own cache is warm).
    let outcomes: Vec<Exit> = thread::spawn(|| {
        let warm: Vec<Box<[u8]>> = (0..100u64)
            .map(|i| pattern_box(i, i as usize * 300 + 1))
            .collect();
        let mut out = Vec::new();
        for i in 0..10u64 {
            out.push(fork_and_wait(move || child_work(500 + i)));
            if out.last() != Some(&Exit::Code(OK)) {
                break;
            }
        }
        assert!(warm.iter().enumerate().all(|(i, b)| check(b, i as u64)));
        out
    })
    .join()
    .expect("forking thread panicked");
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("busy thread panicked");
    }
    assert!(
        outcomes.iter().all(|e| *e == Exit::Code(OK)),
        "child outcomes: {outcomes:?}"
    );
}
