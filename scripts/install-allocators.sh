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

. "$(dirname "$0")/apt-install.sh"
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt_install install-allocators.sh "install jemalloc, mimalloc and tcmalloc with your system's package manager, or point goheap bench at them with GOHEAP_BENCH_JEMALLOC, GOHEAP_BENCH_MIMALLOC, GOHEAP_BENCH_TCMALLOC." $packages
