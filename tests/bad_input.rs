//! Misuse of the allocator must be caught, and impossible requests refused:
//! dealloc of a pointer goheap never handed out (a stack address, a
//! `libc::malloc` pointer), of an interior pointer (ptr+16 of a 64-byte block),
//! and a double free (64-byte block, and a 1 MiB large-object block) must abort
//! the process with `goheap: dealloc(): invalid pointer 0x...` or
//! `goheap: dealloc(): double free 0x...` on stderr. Each case runs in a child
//! process (this test binary re-executed to run only the ignored helper
//! `child_helper` with GOHEAP_BAD_INPUT_CASE naming the case); the parent checks
//! that the child died by SIGABRT and that stderr names goheap, dealloc, the kind
//! of error and the exact address. Also: allocations too large to satisfy
//! (isize::MAX/2 bytes, 1 TiB, 128 TiB) return null from alloc/alloc_zeroed/
//! realloc without crashing or panicking, and the heap keeps working after.

mod common;

use goheap::GoHeap;
use std::alloc::{GlobalAlloc, Layout};
use std::io::Read;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: GoHeap = GoHeap;

const CASE_ENV: &str = "GOHEAP_BAD_INPUT_CASE";
const ADDR_TAG: &str = "GOHEAP_BAD_ADDR=";
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// Announce the address about to be misused (stdout, flushed before the crash).
fn announce(p: *const u8) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ADDR_TAG}{:#x}", p as usize).unwrap();
    out.flush().unwrap();
}

/// Not a test on its own: the other tests re-execute this binary to run it, in a
/// child process, with GOHEAP_BAD_INPUT_CASE set; without that variable it does
/// nothing. Each case must abort the process inside the faulty dealloc; if the
/// dealloc returns, the child exits with status 3 (which the parent reports).
#[test]
#[ignore = "helper run in a child process by the bad_input tests"]
fn child_helper() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    let l64 = Layout::from_size_align(64, 8).unwrap();
    match case.as_str() {
        "stack" => {
            let mut buf = [0u64; 16];
            let p = std::hint::black_box(buf.as_mut_ptr().cast::<u8>());
            announce(p);
            // SAFETY: deliberately violates dealloc's contract (p is a stack
            // address); the allocator is expected to detect this and abort.
            unsafe { GoHeap.dealloc(p, l64) };
            std::hint::black_box(&buf);
        }
        "libc_malloc" => {
            // SAFETY: plain malloc of 64 bytes.
            let p = unsafe { libc::malloc(64) }.cast::<u8>();
            assert!(!p.is_null());
            announce(p);
            // SAFETY: deliberately violates dealloc's contract (p belongs to libc's
            // malloc, not goheap); the allocator is expected to abort.
            unsafe { GoHeap.dealloc(p, l64) };
        }
        "interior" => {
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l64) };
            assert!(!p.is_null());
            // SAFETY: p is a live 64-byte block; p+16 stays inside it.
            let q = unsafe { p.add(16) };
            announce(q);
            // SAFETY: deliberately violates dealloc's contract (interior pointer);
            // the allocator is expected to abort.
            unsafe { GoHeap.dealloc(q, l64) };
        }
        "double_free" => {
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l64) };
            assert!(!p.is_null());
            announce(p);
            // SAFETY: first dealloc is valid; the second deliberately violates the
            // contract (double free) and is expected to abort.
            unsafe {
                GoHeap.dealloc(p, l64);
                GoHeap.dealloc(p, l64);
            }
        }
        "double_free_large" => {
            let l = Layout::from_size_align(1 << 20, 8).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l) };
            assert!(!p.is_null());
            announce(p);
            // SAFETY: as above, the second dealloc is the deliberate double free.
            unsafe {
                GoHeap.dealloc(p, l);
                GoHeap.dealloc(p, l);
            }
        }
        "double_free_first_call_on_thread" => {
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l64) };
            assert!(!p.is_null());
            // SAFETY: a valid dealloc; the thread below frees p again.
            unsafe { GoHeap.dealloc(p, l64) };
            announce(p);
            double_free_on_a_raw_thread(p);
        }
        "beyond_48_bits" => {
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l64) };
            assert!(!p.is_null());
            // Same low bits as a live object: must not be taken for it.
            let q = (p as usize | 1 << 48) as *mut u8;
            announce(q);
            // SAFETY: deliberately violates dealloc's contract (q is no
            // object); the allocator is expected to abort.
            unsafe { GoHeap.dealloc(q, l64) };
        }
        other => panic!("unknown {CASE_ENV} {other:?}"),
    }
    // Reaching this point means the faulty dealloc returned.
    std::process::exit(3);
}

/// Frees `p` (a freed 64-byte block) on a new thread made with
/// `pthread_create` directly, so that the free is the thread's first call
/// into the allocator: it has no cache yet and takes the path that makes one.
fn double_free_on_a_raw_thread(p: *mut u8) {
    extern "C" fn free_it(p: *mut libc::c_void) -> *mut libc::c_void {
        let l64 = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: deliberately violates dealloc's contract (p was freed
        // already); the allocator is expected to abort.
        unsafe { GoHeap.dealloc(p.cast(), l64) };
        p
    }
    let mut t: libc::pthread_t = 0;
    // SAFETY: free_it matches the start routine ABI; t is joined below.
    unsafe {
        assert_eq!(
            libc::pthread_create(&mut t, std::ptr::null(), free_it, p.cast()),
            0
        );
        libc::pthread_join(t, std::ptr::null_mut());
    }
}

struct ChildRun {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

fn run_case(case: &str) -> ChildRun {
    let mut cmd = common::child_helper_command(&[(CASE_ENV, case), ("RUST_BACKTRACE", "0")]);
    // SAFETY: the closure runs between fork and exec and only calls setrlimit,
    // which is async-signal-safe; it keeps the expected abort from dumping core.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run child");
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    // A child that hangs (e.g. a deadlock on the abort path) fails the test
    // instead of hanging it.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let status = child.wait().expect("reap child");
            panic!(
                "case {case}: child still running after {} s (killed, {status:?}); stdout: {}; stderr: {}",
                CHILD_TIMEOUT.as_secs(),
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    ChildRun {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Every `0x...` number in `line`.
fn hex_numbers(line: &str) -> Vec<usize> {
    line.match_indices("0x")
        .filter_map(|(i, _)| {
            let digits: String = line[i + 2..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            usize::from_str_radix(&digits, 16).ok()
        })
        .collect()
}

/// Run `case` in a child and check it was aborted with a goheap dealloc message
/// of one of the `kinds` naming the announced address.
fn assert_aborts(case: &str, kinds: &[&str]) {
    let run = run_case(case);
    let context = format!(
        "case {case}: status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status, run.stdout, run.stderr
    );
    let addr = run
        .stdout
        .lines()
        .find_map(|l| l.split_once(ADDR_TAG).map(|(_, h)| h))
        .and_then(|h| usize::from_str_radix(h.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("child never reached the faulty dealloc; {context}"));
    assert_ne!(
        run.status.code(),
        Some(3),
        "the faulty dealloc returned instead of aborting; {context}"
    );
    assert_eq!(
        run.status.signal(),
        Some(libc::SIGABRT),
        "child was not killed by SIGABRT; {context}"
    );
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("goheap") && l.contains("dealloc"))
        .unwrap_or_else(|| panic!("no `goheap ... dealloc` line on stderr; {context}"));
    assert!(
        kinds.iter().any(|k| line.contains(k)),
        "message {line:?} names none of {kinds:?}; {context}"
    );
    assert!(
        hex_numbers(line).contains(&addr),
        "message {line:?} does not give the address {addr:#x} in hex; {context}"
    );
}

#[test]
fn dealloc_of_stack_address_aborts() {
    assert_aborts("stack", &["invalid pointer"]);
}

#[test]
fn dealloc_of_libc_malloc_pointer_aborts() {
    assert_aborts("libc_malloc", &["invalid pointer"]);
}

#[test]
fn dealloc_of_interior_pointer_aborts() {
    assert_aborts("interior", &["invalid pointer"]);
}

#[test]
fn double_free_of_small_block_aborts() {
    assert_aborts("double_free", &["double free"]);
}

#[test]
fn double_free_as_a_threads_first_call_aborts() {
    assert_aborts("double_free_first_call_on_thread", &["double free"]);
}

#[test]
fn dealloc_beyond_the_48_bit_address_space_aborts() {
    assert_aborts("beyond_48_bits", &["invalid pointer"]);
}

#[test]
fn double_free_of_large_block_aborts() {
    // Once a large object's span is freed, the pointer may be reported either way.
    assert_aborts("double_free_large", &["double free", "invalid pointer"]);
}

#[test]
fn impossible_allocations_return_null() {
    let huge = [isize::MAX as usize / 2, 1 << 40, (1 << 40) + 1, 1 << 47];
    for &size in &huge {
        for align in [1, 8, 4096, 1 << 16] {
            let l = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { GoHeap.alloc(l) };
            if !p.is_null() {
                // SAFETY: p was returned by GoHeap for l.
                unsafe { GoHeap.dealloc(p, l) };
                panic!("alloc({size} bytes, align {align}) returned {p:p}, expected null");
            }
            // SAFETY: non-zero size.
            let z = unsafe { GoHeap.alloc_zeroed(l) };
            if !z.is_null() {
                // SAFETY: z was returned by GoHeap for l.
                unsafe { GoHeap.dealloc(z, l) };
                panic!("alloc_zeroed({size} bytes, align {align}) returned {z:p}, expected null");
            }
        }
    }

    // A failed realloc returns null and leaves the original block intact and usable.
    let l = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero size.
    let p = unsafe { GoHeap.alloc(l) };
    assert!(!p.is_null());
    // SAFETY: p is a live block of 100 bytes.
    unsafe { std::ptr::write_bytes(p, 0x5A, 100) };
    for &size in &huge {
        // SAFETY: p is live with layout l; size rounded up to 8 does not exceed isize::MAX.
        let q = unsafe { GoHeap.realloc(p, l, size) };
        assert!(
            q.is_null(),
            "realloc to {size} bytes returned {q:p}, expected null"
        );
    }
    // SAFETY: p is still live (failed realloc keeps it) and holds 100 bytes.
    let bytes = unsafe { std::slice::from_raw_parts(p, 100) };
    assert!(
        bytes.iter().all(|&b| b == 0x5A),
        "failed realloc damaged the original block"
    );
    // SAFETY: p is live with layout l.
    unsafe { GoHeap.dealloc(p, l) };

    // Through std: a fallible reservation reports the failure, and the heap still works.
    let mut v: Vec<u8> = Vec::new();
    assert!(
        v.try_reserve(1 << 40).is_err(),
        "try_reserve(1 TiB) succeeded"
    );
    v.extend(0..=255u8);
    let ok: Vec<Box<[u8]>> = (1..2000)
        .map(|n| vec![n as u8; n].into_boxed_slice())
        .collect();
    assert!(ok
        .iter()
        .enumerate()
        .all(|(i, b)| b.len() == i + 1 && b.iter().all(|&x| x == (i + 1) as u8)));
    assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 255 * 256 / 2);
}

#[test]
fn valid_counterparts_do_not_abort() {
    // The same layouts the abort cases use, used correctly, must work (so the
    // abort cases fail only because of the misuse).
    let l64 = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..1000 {
        // SAFETY: non-zero size.
        let p = unsafe { GoHeap.alloc(l64) };
        assert!(!p.is_null() && p as usize % 8 == 0);
        // SAFETY: p is a live 64-byte block.
        unsafe {
            std::ptr::write_bytes(p, 0xEE, 64);
            GoHeap.dealloc(p, l64);
        }
    }
    let l = Layout::from_size_align(1 << 20, 8).unwrap();
    // SAFETY: non-zero size; then freed once with the same layout.
    unsafe {
        let p = GoHeap.alloc(l);
        assert!(!p.is_null());
        GoHeap.dealloc(p, l);
    }
}

/// A huge aligned request the OS will not back returns null and leaves no
/// metadata behind (found in review: 32 TiB of arena records were kept), and
/// a size near `usize::MAX` is refused rather than wrapped.
#[test]
fn refused_huge_requests_return_null_and_cost_no_metadata() {
    let before = goheap::stats().metadata_sys;
    assert!(goheap::malloc::alloc(1, 1 << 45).is_null());
    assert!(goheap::malloc::alloc(usize::MAX - 20_000, 8).is_null());
    assert!(goheap::malloc::alloc_zeroed(usize::MAX - 20_000, 8).is_null());
    let after = goheap::stats().metadata_sys;
    assert!(
        after < before + (64 << 20),
        "metadata grew from {before} to {after}"
    );
}

/// Zero-size requests on the tiny path get unique objects of their own (found
/// in review: they pointed into shared, even neighbouring, tiny blocks).
#[test]
fn zero_size_tiny_requests_are_unique_objects() {
    let ptrs: Vec<*mut u8> = (0..300)
        .map(|_| goheap::malloc::alloc_maybe_tiny(0, 1))
        .collect();
    let mut sorted: Vec<usize> = ptrs.iter().map(|&p| p as usize).collect();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 300, "unique");
    for p in ptrs {
        // SAFETY: each p came from goheap and is freed once.
        unsafe {
            assert!(goheap::malloc::usable_size(p, "test") >= 16);
            goheap::malloc::free(p, "test");
        }
    }
}
