//! Explicit frees of GC objects: malloc's `free()` and `realloc()` of a GC
//! object abort with goheap's invalid-pointer message (each in a child
//! process: this binary re-executed to run the ignored helper).

mod common;

use std::os::unix::process::ExitStatusExt;

const CASE_ENV: &str = "GOHEAP_GC_BAD_FREE_CASE";

#[test]
#[ignore = "helper run in a child process by the other tests"]
fn child_helper() {
    use std::io::Write;
    let announce = |p: usize| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "addr {p:#x}").unwrap();
        out.flush().unwrap();
    };
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    // SAFETY: deliberately hands a GC object to malloc's free and realloc;
    // goheap must abort.
    unsafe {
        let p = goheap::gc::raw::alloc(48, goheap::gc::raw::Kind::Conservative);
        announce(p as usize);
        match case.as_str() {
            "free" => goheap::malloc::free(p, "free"),
            "realloc" => {
                goheap::malloc::realloc(p, 100, 16, "realloc");
            }
            "rust_object" => {
                let q = goheap::gc::mutate(|mu| goheap::gc::Gc::new(mu, [7u64; 4]).as_ptr());
                announce(q as usize);
                goheap::malloc::free(q as *mut u8, "free");
            }
            _ => unreachable!(),
        }
    }
    std::process::exit(3);
}

fn run(case: &str) -> (String, String, Option<i32>) {
    let out = common::child_helper_command(&[(CASE_ENV, case)])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.signal(),
    )
}

fn expect_invalid(case: &str, op: &str) {
    let (stdout, stderr, signal) = run(case);
    let addr = stdout
        .lines()
        .filter_map(|l| l.split("addr ").nth(1))
        .next_back()
        .expect("the child announces the address");
    assert_eq!(signal, Some(libc::SIGABRT), "stderr: {stderr}");
    let want = format!("goheap: {op}(): invalid pointer {addr}");
    assert!(stderr.contains(&want), "want {want:?} in {stderr:?}");
}

#[test]
fn malloc_free_of_a_gc_object_aborts() {
    expect_invalid("free", "free");
}

#[test]
fn malloc_realloc_of_a_gc_object_aborts() {
    expect_invalid("realloc", "realloc");
}

#[test]
fn malloc_free_of_a_rust_gc_object_aborts() {
    expect_invalid("rust_object", "free");
}
