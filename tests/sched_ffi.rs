//! Goroutines through the C ABI (`goheap_go` & co. in include/goheap.h):
//! tests/c/sched.c linked with libgoheap.a and with libgoheap.so.

mod ffi_support;

use ffi_support::{cc, compile, describe, libs, root, run_timeout, temp_dir, Link};
use std::process::Command;

fn check(mut cmd: Command) {
    let out = run_timeout(&mut cmd, 300);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("goroutines from C: sum 50005000"),
        "{}",
        describe(&cmd, &out)
    );
}

#[test]
fn goroutines_from_c_static() {
    check(Command::new(compile("sched.c", Link::Static)));
}

#[test]
fn goroutines_from_c_shared() {
    let so = &libs().so;
    let dir = so.parent().unwrap();
    let exe = temp_dir("sched_ffi").join("sched-shared");
    let mut cmd = Command::new(cc());
    cmd.args(["-std=gnu11", "-O1", "-Wall", "-Wextra", "-pthread", "-I"])
        .arg(root().join("include"))
        .arg(root().join("tests/c/sched.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", dir.display()))
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .arg("-lgoheap");
    let out = run_timeout(&mut cmd, 300);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    check(Command::new(exe));
}
