//! Whole-process behaviour of the scheduler, each case in a child process
//! (this test binary run again with `SCHED_CHILD=<case>`): stack overflow
//! and panic messages, fork with a running scheduler, fairness against
//! goroutines that never yield, blocking hand-off, thread wiring, stack
//! reuse, memory given back after a burst, the thread limit. A child that hangs fails the test after `LIMIT`.

mod common;

use goheap::sched::WaitGroup;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Runs this binary's test `case` as a child with `env`; kills it after LIMIT.
fn run_child(case: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("SCHED_CHILD", case)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("child {case} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_child_ok(case: &str, env: &[(&str, &str)]) {
    let o = run_child(case, env);
    assert!(
        o.status.success(),
        "child {case}: {:?}\n{}",
        o.status,
        stderr(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("child done"),
        "child {case} did not finish"
    );
}

/// The child side: runs the case named by SCHED_CHILD.
#[test]
fn child() {
    let Ok(case) = std::env::var("SCHED_CHILD") else {
        return;
    };
    match case.as_str() {
        "overflow" => overflow(),
        "overflow_then_switch" => overflow_then_switch(),
        "panic" => wait_for(|| panic!("boom in a goroutine")),
        "blocking_panic" => wait_for(|| goheap::blocking(|| panic!("boom in blocking"))),
        "fork" => fork_child(),
        "hogs" => hogs(),
        "blocking" => blocking_hand_off(),
        "locked" => locked_thread(),
        "stacks" => stack_reuse(),
        "idle_sysmon" => idle_sysmon(),
        "burst" => burst(),
        "thread_reuse" => thread_reuse(),
        "thread_limit" => thread_limit(),
        _ => panic!("unknown case {case}"),
    }
    println!("child done");
}

fn wait_for(f: impl FnOnce() + Send + 'static) {
    let wg = Arc::new(WaitGroup::new());
    wg.add(1);
    let w = wg.clone();
    common::go(move || {
        f();
        w.done();
    });
    wg.wait();
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let frame = [n; 32];
    std::hint::black_box(&frame);
    if n == u64::MAX {
        return 0;
    }
    recurse(n + 1) + frame[7]
}

fn overflow() {
    wait_for(|| {
        std::hint::black_box(recurse(0));
    });
}

/// GOHEAP_STACK of the canary case.
const CANARY_CASE_STACK: usize = 32 << 10;

/// Uses a little more than the whole stack (into the guard page, which is
/// plain memory under the canary fallback), then switches.
fn overflow_then_switch() {
    #[inline(never)]
    fn descend(top: usize) {
        let frame = [7u8; 256];
        std::hint::black_box(&frame);
        let here = frame.as_ptr() as usize;
        if top - here < CANARY_CASE_STACK + 512 {
            descend(top);
        } else {
            goheap::yield_now();
        }
        std::hint::black_box(&frame);
    }
    wait_for(|| {
        let top = 0u8;
        descend(std::hint::black_box(&top) as *const u8 as usize)
    });
}

fn assert_overflow_message(case: &str, env: &[(&str, &str)]) {
    let o = run_child(case, env);
    let err = stderr(&o);
    assert!(!o.status.success(), "{case} {env:?} succeeded");
    assert!(
        err.contains("goheap: goroutine ") && err.contains(" stack overflow"),
        "{case} {env:?}: {err}"
    );
}

#[test]
fn stack_overflow_ends_with_the_goroutine_message() {
    assert_overflow_message("overflow", &[]);
    assert_overflow_message("overflow", &[("GOHEAP_STACK_GUARD", "mprotect")]);
    assert_overflow_message(
        "overflow_then_switch",
        &[("GOHEAP_STACK_GUARD", "canary"), ("GOHEAP_STACK", "32768")],
    );
}

#[test]
fn a_panic_in_blocking_reaches_its_goroutine() {
    let o = run_child("blocking_panic", &[]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("goheap: goroutine ") && err.contains("panicked: boom in blocking"),
        "stderr: {err}"
    );
}

#[test]
fn a_panic_is_reported_with_the_goroutine_id() {
    let o = run_child("panic", &[]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("goheap: goroutine ") && err.contains("panicked: boom in a goroutine"),
        "stderr: {err}"
    );
}

fn run_goroutines(n: usize) -> usize {
    let wg = Arc::new(WaitGroup::new());
    let count = Arc::new(AtomicUsize::new(0));
    wg.add(n as i64);
    for _ in 0..n {
        let (wg, count) = (wg.clone(), count.clone());
        common::go(move || {
            goheap::yield_now();
            count.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    count.load(Ordering::Relaxed)
}

/// Forks while goroutines run; the child starts its own scheduler.
fn fork_child() {
    let busy = Arc::new(AtomicBool::new(true));
    for _ in 0..4 {
        let busy = busy.clone();
        common::go(move || {
            while busy.load(Ordering::Relaxed) {
                goheap::yield_now();
            }
        });
    }
    assert_eq!(run_goroutines(1000), 1000);
    // SAFETY: fork in a test process; the child only runs goheap code and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = run_goroutines(1000) == 1000 && udp_round_trip_in_a_goroutine();
        // SAFETY: leaving the child without running the parent's test harness.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "fork child failed: {status}"
    );
    busy.store(false, Ordering::Relaxed);
    assert_eq!(run_goroutines(1000), 1000);
}

/// A goroutine receives a datagram through the poller (the child's own).
fn udp_round_trip_in_a_goroutine() -> bool {
    let sock = goheap::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    wait_for(move || {
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        common::go(move || {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(b"ping", addr).unwrap();
        });
        let mut buf = [0u8; 8];
        if let Ok((4, _)) = sock.recv_from(&mut buf) {
            g.store(1, Ordering::SeqCst);
        }
    });
    got.load(Ordering::SeqCst) == 1
}

#[test]
fn fork_with_a_running_scheduler() {
    assert_child_ok("fork", &[]);
}

/// As many goroutines as Ps spin without a scheduling point until another
/// goroutine flips a flag: that one runs only because sysmon hands a hog's
/// P to another thread.
fn hogs() {
    let stop = Arc::new(AtomicBool::new(false));
    let wg = Arc::new(WaitGroup::new());
    let procs = goheap::sched::gomaxprocs();
    wg.add(procs as i64);
    for _ in 0..procs {
        let (stop, wg) = (stop.clone(), wg.clone());
        common::go(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
            wg.done();
        });
    }
    std::thread::sleep(Duration::from_millis(50)); // the hogs hold every P
    let s = stop.clone();
    common::go(move || s.store(true, Ordering::Relaxed));
    wg.wait();
}

#[test]
fn spinning_goroutines_do_not_starve_others() {
    assert_child_ok("hogs", &[]);
    assert_child_ok("hogs", &[("GOHEAP_MAXPROCS", "1")]);
}

/// Every P's goroutine sits in `blocking` until another goroutine runs.
fn blocking_hand_off() {
    let procs = goheap::sched::gomaxprocs();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let wg = Arc::new(WaitGroup::new());
    wg.add(procs as i64);
    for _ in 0..procs {
        let (rx, wg) = (rx.clone(), wg.clone());
        common::go(move || {
            goheap::blocking(|| {
                rx.lock()
                    .unwrap()
                    .recv_timeout(LIMIT)
                    .expect("the other goroutine never ran")
            });
            wg.done();
        });
    }
    std::thread::sleep(Duration::from_millis(20));
    common::go(move || {
        for _ in 0..procs {
            tx.send(()).unwrap();
        }
    });
    wg.wait();
}

#[test]
fn blocking_hands_the_p_off() {
    assert_child_ok("blocking", &[]);
    assert_child_ok("blocking", &[("GOHEAP_MAXPROCS", "1")]);
}

thread_local!(static TAG: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });

/// A wired goroutine keeps its thread (and its thread-locals) across every
/// kind of switch while others run around it.
fn locked_thread() {
    let wg = Arc::new(WaitGroup::new());
    let m = Arc::new(goheap::sched::Mutex::new(0));
    wg.add(8);
    for k in 1..=8usize {
        let (wg, m) = (wg.clone(), m.clone());
        common::go(move || {
            goheap::lock_os_thread();
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() };
            TAG.with(|t| t.set(k));
            for i in 0..200 {
                match i % 3 {
                    0 => goheap::yield_now(),
                    1 => goheap::sleep(Duration::from_micros(50)),
                    _ => *m.lock() += 1,
                }
                // SAFETY: as above.
                assert_eq!(unsafe { libc::gettid() }, tid, "wired goroutine moved");
                assert_eq!(TAG.with(|t| t.get()), k);
            }
            goheap::unlock_os_thread();
            wg.done();
        });
    }
    assert_eq!(run_goroutines(2000), 2000);
    wg.wait();
}

#[test]
fn lock_os_thread_keeps_the_thread() {
    assert_child_ok("locked", &[]);
    assert_child_ok("locked", &[("GOHEAP_MAXPROCS", "1")]);
}

/// Waves of goroutines that end before the next wave: stacks come back.
fn stack_reuse() {
    for _ in 0..50 {
        assert_eq!(run_goroutines(1000), 1000);
    }
    let carved = goheap::sched::stacks_carved();
    assert!(
        carved < 5000,
        "50000 goroutines in waves of 1000 carved {carved} stacks"
    );
    assert!(goheap::sched::goroutines_started() >= 50_000);
}

#[test]
fn stacks_are_reused() {
    assert_child_ok("stacks", &[]);
}

/// Context switches of the thread named `name` in this process.
fn thread_switches(name: &str) -> Option<u64> {
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = t.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let line = status
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
        return line.split_whitespace().nth(1)?.parse().ok();
    }
    None
}

/// An idle scheduler's sysmon sleeps; the next goroutines wake it (the
/// hogs case needs it awake to hand a P over).
fn idle_sysmon() {
    assert_eq!(run_goroutines(100), 100);
    std::thread::sleep(Duration::from_millis(3500));
    let before = thread_switches("goheap-sysmon").expect("a sysmon thread");
    std::thread::sleep(Duration::from_millis(300));
    let after = thread_switches("goheap-sysmon").unwrap();
    assert!(
        after - before <= 2,
        "idle sysmon woke {} times in 300 ms",
        after - before
    );
    hogs();
}

#[test]
fn sysmon_sleeps_while_all_is_idle() {
    assert_child_ok("idle_sysmon", &[]);
}

/// A burst of goroutines, all parked at once (each holds a stack page),
/// then all ended: the stacks beyond the pools' bounds go back to the OS;
/// what stays is the records (never freed) and the bounded pools.
fn burst() {
    const N: usize = 50_000;
    const KEPT_PER_GOROUTINE: usize = 256;
    assert_eq!(run_goroutines(100), 100);
    let before = common::rss_bytes();
    let gate = Arc::new(WaitGroup::new());
    gate.add(1);
    let (started, finished) = (Arc::new(WaitGroup::new()), Arc::new(WaitGroup::new()));
    started.add(N as i64);
    finished.add(N as i64);
    for _ in 0..N {
        let (gate, started, finished) = (gate.clone(), started.clone(), finished.clone());
        common::go(move || {
            started.done();
            gate.wait();
            finished.done();
        });
    }
    started.wait();
    let peak = common::rss_bytes();
    gate.done();
    finished.wait();
    let after = common::rss_bytes();
    println!("burst of {N}: before {before} peak {peak} after {after}");
    assert!(
        peak - before >= N * 4096 * 9 / 10,
        "{N} parked goroutines grew RSS by only {} bytes: the burst was not measured",
        peak - before
    );
    assert!(
        after.saturating_sub(before) <= N * KEPT_PER_GOROUTINE + 16 * common::MIB,
        "after the burst RSS stays {} bytes above where it started (peak {})",
        after - before,
        peak - before
    );
}

#[test]
fn a_burst_gives_its_stacks_back() {
    assert_child_ok("burst", &[]);
}

/// OS threads of the scheduler's Ms in this process.
fn m_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.starts_with("goheap-m"))
        })
        .count()
}

/// `WAVE` goroutines in `blocking` at once, in `waves` waves.
fn blocking_waves(waves: usize, wave: usize, hold: Duration) {
    for _ in 0..waves {
        let wg = Arc::new(WaitGroup::new());
        wg.add(wave as i64);
        for _ in 0..wave {
            let wg = wg.clone();
            common::go(move || {
                goheap::blocking(|| std::thread::sleep(hold));
                wg.done();
            });
        }
        wg.wait();
    }
}

/// Threads that a wave of `blocking` calls needed are idle afterwards and
/// serve the next waves: the count of Ms stays that of one wave.
fn thread_reuse() {
    const WAVES: usize = 20;
    const WAVE: usize = 4;
    blocking_waves(WAVES, WAVE, Duration::from_millis(5));
    let ms = m_threads();
    let procs = goheap::sched::gomaxprocs();
    println!("{WAVES} waves of {WAVE} blocking goroutines: {ms} threads");
    assert!(
        ms <= procs + 2 * WAVE,
        "{WAVES} waves of {WAVE} blocking goroutines left {ms} threads (procs {procs})"
    );
}

#[test]
fn idle_threads_are_reused() {
    assert_child_ok("thread_reuse", &[("GOHEAP_MAXPROCS", "2")]);
}

/// More goroutines blocked in threads at once than the thread limit.
fn thread_limit() {
    blocking_waves(1, 20, Duration::from_secs(2));
}

#[test]
fn too_many_blocked_threads_end_the_process_with_a_message() {
    let o = run_child(
        "thread_limit",
        &[("GOHEAP_MAXPROCS", "2"), ("GOHEAP_MAXTHREADS", "6")],
    );
    let err = stderr(&o);
    assert!(
        !o.status.success(),
        "20 blocked goroutines under a 6-thread limit succeeded"
    );
    assert!(
        err.contains("goheap: newm: program exceeds the 6-thread limit"),
        "{err}"
    );
}
