#!/bin/sh
# install-peers.sh — installs what the gc and goroutines suites of `goheap
# bench` (workloads/suites.toml) compare goheap with, when it is missing:
# Debian's golang-go (the Go toolchain that builds workloads/**/*.go) and
# libgc-dev (Boehm GC: gc.h and libgc for workloads/gc/*.c). The Rust peers
# (peers/, cargo) need nothing from apt. Installs only what is missing and
# prints nothing when all is there; waits for another apt-get's lock. As
# root it calls apt-get directly, otherwise through sudo when available.
#
# Usage: scripts/install-peers.sh
set -eu

case ${1:-} in
-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
"") ;;
*) echo "install-peers.sh: unknown argument: $1" >&2; exit 2 ;;
esac

missing=
command -v go >/dev/null 2>&1 || missing="$missing golang-go"
[ -f /usr/include/gc.h ] || missing="$missing libgc-dev"
[ -n "$missing" ] || exit 0

. "$(dirname "$0")/apt-install.sh"
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt_install install-peers.sh "install$missing (Go and Boehm GC) with your system's package manager; goheap bench skips what is missing." $missing
