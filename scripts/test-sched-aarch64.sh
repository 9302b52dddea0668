#!/bin/sh
# test-sched-aarch64.sh — builds the scheduler's tests for aarch64 Linux and
# runs them under qemu-user, so that the aarch64 context switch (global_asm in
# src/sched/asm.rs) is assembled, linked and run on an x86-64 machine.
# Installs what is missing: the rustup target, Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user. Builds into target/aarch64-test
# (or CARGO_TARGET_DIR).
#
# qemu-user without binfmt_misc cannot start an aarch64 child from the test
# binary, so tests/sched_procs.rs's child cases run here one by one, each
# as its own process. qemu-user accepts MADV_GUARD_INSTALL without installing
# a guard, so the overflow case uses mprotect guards; fork is left out (qemu
# 7.2 asserts in a forked child of a multithreaded guest).
#
# Usage: scripts/test-sched-aarch64.sh
set -eu

case ${1:-} in
-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
"") ;;
*) echo "test-sched-aarch64.sh: unknown argument: $1" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
    . scripts/apt-install.sh
    apt_install test-sched-aarch64.sh "install gcc-aarch64-linux-gnu and qemu-user" \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/aarch64-test}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
tests="--test sched_basic --test sched_stress --test chan_goroutines"
# shellcheck disable=SC2086 # word splitting of the test list is intended
cargo test --release --target "$target" -p goheap $tests
cargo test --release --target "$target" -p goheap --lib sched::

cargo test --release --target "$target" -p goheap --test sched_procs --no-run
procs=$(ls -t "$CARGO_TARGET_DIR/$target/release/deps/"sched_procs-* | grep -v '\.d$' | head -n 1)
child() {
    case=$1
    shift
    out=$(env "$@" SCHED_CHILD="$case" qemu-aarch64 -L /usr/aarch64-linux-gnu "$procs" \
        --exact child --nocapture --test-threads=1 2>&1) || true
    echo "$out"
}
failed=0
for case in stacks blocking locked hogs burst thread_reuse; do
    if child "$case" GOHEAP_MAXPROCS=2 | grep -q "child done"; then
        echo "child $case: ok"
    else
        echo "child $case: FAILED"
        failed=1
    fi
done
expect() {
    case=$1 message=$2
    shift 2
    if child "$case" "$@" | grep -q "$message"; then
        echo "child $case: ok ($message)"
    else
        echo "child $case: FAILED (no \"$message\")"
        failed=1
    fi
}
expect overflow "goheap: goroutine 1 stack overflow" GOHEAP_STACK_GUARD=mprotect
expect panic "goheap: goroutine 1 panicked: boom in a goroutine"
expect thread_limit "goheap: newm: program exceeds the 6-thread limit" \
    GOHEAP_MAXPROCS=2 GOHEAP_MAXTHREADS=6
exit $failed
