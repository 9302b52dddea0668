//! goheap gives memory back (issue: scavenger, memory return, statistics):
//! `malloc_trim(0)` and the idle scavenger bring VmRSS back after ~1 GiB was
//! allocated and freed (tests/c/release.c, linked with libgoheap.a), and a
//! process that makes one allocation costs no more than 1 MiB of RSS over the
//! same program on glibc (tests/c/one_alloc.c, under LD_PRELOAD).

mod ffi_support;

use ffi_support::{compile, describe, preload, run_timeout, Link};
use std::process::Command;

fn run_release(mode: &str) {
    let exe = compile("release.c", Link::Static);
    let mut cmd = Command::new(&exe);
    cmd.arg(mode);
    let out = run_timeout(&mut cmd, 120);
    assert!(
        out.status.success() && out.stdout.starts_with(b"ok"),
        "{}",
        describe(&cmd, &out)
    );
}

#[test]
fn malloc_trim_gives_everything_back_at_once() {
    run_release("trim");
}

#[test]
fn idle_memory_goes_back_within_ten_seconds_without_any_call() {
    run_release("idle");
}

fn rss_kib(preloaded: bool) -> i64 {
    let exe = compile("one_alloc.c", Link::Plain);
    (0..5)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            if preloaded {
                preload(&mut cmd);
            }
            let out = run_timeout(&mut cmd, 60);
            assert!(out.status.success(), "{}", describe(&cmd, &out));
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<i64>()
                .unwrap()
        })
        .min()
        .unwrap()
}

#[test]
fn one_allocation_costs_at_most_one_mib_more_than_glibc() {
    let glibc = rss_kib(false);
    let goheap = rss_kib(true);
    assert!(
        goheap <= glibc + 1024,
        "RSS with goheap {goheap} KiB, with glibc {glibc} KiB"
    );
}
