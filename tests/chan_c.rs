//! The C ABI of channels (`goheap_chan_*`): tests/c/chan/chan.c, linked
//! statically against libgoheap.a, must pass all its checks.

mod ffi_support;

use ffi_support::{compile, describe, run_timeout, Link};
use std::process::Command;

#[test]
fn c_threads_use_channels_and_select() {
    let exe = compile("chan/chan.c", Link::Static);
    let mut cmd = Command::new(&exe);
    let out = run_timeout(&mut cmd, 300);
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(", 0 failures"),
        "{}",
        describe(&cmd, &out)
    );
}
