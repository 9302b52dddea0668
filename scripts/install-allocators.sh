#!/bin/sh
# install-allocators.sh — installs the allocators `goheap bench` compares
# goheap with: Debian's libjemalloc2, libmimalloc2.0 and libtcmalloc-minimal4
# (they provide /usr/lib/<arch>-linux-gnu/libjemalloc.so.2, libmimalloc.so.2
# and libtcmalloc_minimal.so.4, where the bench finds them). glibc's malloc
# needs nothing. Runs `apt-get update` first; as root it calls apt-get
# directly, otherwise through sudo when sudo is available.
#
# Usage: scripts/install-allocators.sh
set -eu

packages="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4"

case ${1:-} in
-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
"") ;;
*) echo "install-allocators.sh: unknown argument: $1" >&2; exit 2 ;;
esac

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-allocators.sh: apt-get not found; install jemalloc, mimalloc and" >&2
    echo "tcmalloc with your system's package manager, or point goheap bench at them" >&2
    echo "with GOHEAP_BENCH_JEMALLOC, GOHEAP_BENCH_MIMALLOC, GOHEAP_BENCH_TCMALLOC." >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=
elif command -v sudo >/dev/null 2>&1; then
    as_root=sudo
else
    echo "install-allocators.sh: not root and sudo is not available" >&2
    exit 1
fi

$as_root apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
echo "installed: $packages"
