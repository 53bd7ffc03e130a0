#!/usr/bin/env bash
# Runs every test of bitnet-quant: installs what it needs (Debian 12),
# builds, runs ctest. Usage: tools/test.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup_debian.sh

BUILD=${BITNET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD"
ctest --test-dir "$BUILD" --output-on-failure
