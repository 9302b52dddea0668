#!/bin/sh
# install-test-deps.sh — installs what the test suite needs beyond Rust and a C
# compiler: Debian's libgc-dev (libgc's gc.h and libgc.so, which the libgc C API
# tests compile against and compare with) and w3m (a real program linked to
# libgc, run on goheap by tests/libgc.rs) and golang-go (whose `go tool pprof`
# reads goheap's heap profiles back in tests/profile.rs). Idempotent and quiet: does
# nothing when every package is already installed; otherwise runs
# `apt-get update` and installs the missing ones (as root directly, else through
# sudo). Without apt-get it says what to install and exits 1.
#
# Usage: scripts/install-test-deps.sh
set -eu

packages="libgc-dev w3m golang-go"

case ${1:-} in
-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
"") ;;
*) echo "install-test-deps.sh: unknown argument: $1" >&2; exit 2 ;;
esac

missing=
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

. "$(dirname "$0")/apt-install.sh"
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt_install install-test-deps.sh "install$missing with your system's package manager" $missing
