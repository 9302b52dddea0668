#!/bin/sh
# install.sh — builds the goheap C ABI (crate goheap-ffi) in release mode and
# installs libgoheap.so, libgoheap.a, include/goheap.h and the pkg-config
# files goheap.pc / goheap-static.pc into a prefix.
#
# Usage: scripts/install.sh [--prefix DIR] [--libdir DIR] [--includedir DIR]
#                           [--destdir DIR] [--no-build]
#   --prefix      installation prefix (default: $PREFIX or /usr/local)
#   --libdir      library directory (default: PREFIX/lib)
#   --includedir  header directory (default: PREFIX/include)
#   --destdir     staging root prepended to every path (packaging; default $DESTDIR)
#   --no-build    install already built artifacts, do not run cargo
# The artifacts are taken from $CARGO_TARGET_DIR/release (default: target/release
# in the workspace).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
libdir=
includedir=
destdir=${DESTDIR:-}
build=1

while [ $# -gt 0 ]; do
    case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --libdir) libdir=$2; shift 2 ;;
    --libdir=*) libdir=${1#*=}; shift ;;
    --includedir) includedir=$2; shift 2 ;;
    --includedir=*) includedir=${1#*=}; shift ;;
    --destdir) destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
libdir=${libdir:-$prefix/lib}
includedir=${includedir:-$prefix/include}

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p goheap-ffi)
fi
for f in libgoheap.so libgoheap.a; do
    [ -f "$target/release/$f" ] || { echo "install.sh: $target/release/$f not found (build first)" >&2; exit 1; }
done

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/ffi/Cargo.toml" | head -n 1)
native=$(sed -n 's/^Libs.private: *//p' "$root/ffi/goheap.pc.in")

install -d "$destdir$libdir" "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 755 "$target/release/libgoheap.so" "$destdir$libdir/libgoheap.so"
install -m 644 "$target/release/libgoheap.a" "$destdir$libdir/libgoheap.a"
install -m 644 "$root/include/goheap.h" "$destdir$includedir/goheap.h"
for pc in goheap goheap-static; do
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" \
        -e "s|@INCLUDEDIR@|$includedir|g" -e "s|@VERSION@|$version|g" \
        -e "s|@NATIVE_STATIC_LIBS@|$native|g" \
        "$root/ffi/$pc.pc.in" > "$destdir$libdir/pkgconfig/$pc.pc"
    chmod 644 "$destdir$libdir/pkgconfig/$pc.pc"
done

echo "installed goheap $version into $destdir$prefix:"
echo "  $libdir/libgoheap.so  $libdir/libgoheap.a"
echo "  $includedir/goheap.h"
echo "  $libdir/pkgconfig/goheap.pc  $libdir/pkgconfig/goheap-static.pc"
