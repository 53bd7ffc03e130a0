#!/usr/bin/env bash
# The main job: installs what it needs (Debian 12), builds the library, runs
# the demo program (parity with BitNet-rs, quantization error and throughput
# per format and CPU target), then the Rust cross-validation (rust_crossval:
# parity through the linked and the dlopen'ed library, on every target).
# Usage: tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup_debian.sh

BUILD=${BITNET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --target bitnet_quant_demo
"$BUILD"/tools/bitnet_quant_demo ffi_tests/golden
BITNET_BUILD_DIR="$BUILD" BITNET_RUST_STEPS=crossval tools/test_rust.sh
