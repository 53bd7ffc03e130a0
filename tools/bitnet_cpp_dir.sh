#!/usr/bin/env bash
# Lays out a directory that BitNet-rs's bitnet-kernels build.rs accepts as
# BITNET_CPP_DIR, backed by libbitnet_quant (specs: bitnet-rs-formats.md §9.3):
#   OUT/include/ggml-bitnet.h      the sentinel its build.rs tests for (it
#                                  includes bitnet_quant.h; nothing reads it)
#   OUT/include/bitnet_quant.h
#   OUT/build/lib/libbitnet.so     -> libbitnet_quant (link line dylib=bitnet)
#   OUT/build/lib/libbitnet_quant.so.<major>   the soname, for the loader
# BitNet-rs adds no rpath, so its binaries need LD_LIBRARY_PATH=OUT/build/lib.
#
# usage: tools/bitnet_cpp_dir.sh LIBRARY_DIR OUT_DIR
#   LIBRARY_DIR: an install prefix (lib/libbitnet_quant.so*) or a build dir.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 LIBRARY_DIR OUT_DIR" >&2
  exit 2
fi
src=$1
out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)

lib=""
for dir in "$src" "$src/lib" "$src/lib64" "$src"/lib/*-linux-gnu; do
  if [ -e "$dir/libbitnet_quant.so" ]; then
    lib=$(readlink -f "$dir/libbitnet_quant.so")
    break
  fi
done
if [ -z "$lib" ]; then
  echo "$0: no libbitnet_quant.so under $src" >&2
  exit 1
fi
header="$src/include/bitnet_quant.h"
[ -e "$header" ] || header="$repo/include/bitnet_quant.h"
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')

mkdir -p "$out/include" "$out/build/lib"
cp "$header" "$out/include/bitnet_quant.h"
cat > "$out/include/ggml-bitnet.h" <<'HEADER'
/* BitNet-rs's build.rs enables its FFI bridge when this file exists; the
 * bitnet_cpp_* functions it links are declared in bitnet_quant.h. */
#include "bitnet_quant.h"
HEADER
ln -sfn "$lib" "$out/build/lib/libbitnet.so"
ln -sfn "$lib" "$out/build/lib/$soname"

out_abs=$(cd "$out" && pwd)
cat <<MSG
BITNET_CPP_DIR layout ready in $out_abs. In a BitNet-rs checkout:
  export BITNET_CPP_DIR=$out_abs
  export LD_LIBRARY_PATH=$out_abs/build/lib
  cargo test -p bitnet-kernels --features ffi
MSG
