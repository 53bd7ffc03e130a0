#!/usr/bin/env bash
# Installs a build into a fresh prefix with `cmake --install`, then builds
# and runs consumer.c against the installed files only, twice: with
# `cc $(pkg-config --cflags --libs bitnet_quant)` and as a CMake project
# with find_package(BitnetQuant). C_FLAGS (e.g. sanitizer flags of the
# build under test) are used for both. A cross build passes its toolchain
# file and emulator: the consumers are then cross-compiled the same way and
# run under the emulator.
# usage: run_consumers.sh BUILD_DIR WORK_DIR C_COMPILER CMAKE GENERATOR C_FLAGS [TOOLCHAIN_FILE [EMULATOR...]]
set -euo pipefail
build=$1 work=$2 cc=$3 cmake=$4 generator=$5 cflags=${6:-} toolchain=${7:-}
emulator=("${@:8}")
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log"

echo "== pkg-config consumer"
pc=$(find "$prefix" -name bitnet_quant.pc)
[ -n "$pc" ] || { echo "no bitnet_quant.pc installed under $prefix"; exit 1; }
# Only the installed .pc: no .pc of this machine can leak into the flags.
export PKG_CONFIG_LIBDIR=$(dirname "$pc")
unset PKG_CONFIG_PATH
pkg-config --validate bitnet_quant
libdir=$(pkg-config --variable=libdir bitnet_quant)
# shellcheck disable=SC2046,SC2086  # pkg-config output and flags are word lists
"$cc" $cflags -o "$work/consumer_pkgconfig" "$here/consumer.c" \
  $(pkg-config --cflags --libs bitnet_quant) -Wl,-rpath,"$libdir"
"${emulator[@]}" "$work/consumer_pkgconfig"

# A build with BITNET_BUILD_STATIC installs libbitnet_quant.a: its consumers
# must run without libbitnet_quant.so.
static=false
[ ! -e "$libdir/libbitnet_quant.a" ] || static=true
not_dynamic() {
  if readelf -d "$1" | grep NEEDED | grep libbitnet_quant; then
    echo "$1 is linked with libbitnet_quant.a but needs libbitnet_quant.so"
    exit 1
  fi
}
if $static; then
  echo "== pkg-config --static consumer"
  # shellcheck disable=SC2046,SC2086
  "$cc" $cflags -o "$work/consumer_pkgconfig_static" "$here/consumer.c" \
    $(pkg-config --cflags bitnet_quant) "$libdir/libbitnet_quant.a" \
    $(pkg-config --static --libs bitnet_quant | sed "s/-lbitnet_quant\b//")
  not_dynamic "$work/consumer_pkgconfig_static"
  "${emulator[@]}" "$work/consumer_pkgconfig_static"
fi

echo "== find_package consumer"
cross=()
# The toolchain file searches packages only below CMAKE_FIND_ROOT_PATH:
# the prefix is one more root.
[ -z "$toolchain" ] || cross=(-DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_FIND_ROOT_PATH="$prefix")
"$cmake" -S "$here" -B "$work/cmake-build" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_PREFIX_PATH="$prefix" "${cross[@]}" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$work/configure.log"
"$cmake" --build "$work/cmake-build" > "$work/build.log"
"${emulator[@]}" "$work/cmake-build/consumer"
if $static; then
  [ -e "$work/cmake-build/consumer_static" ] || { echo "no BitnetQuant::bitnet_quant_static target"; exit 1; }
  not_dynamic "$work/cmake-build/consumer_static"
  "${emulator[@]}" "$work/cmake-build/consumer_static"
fi
