#!/usr/bin/env bash
# Runs every test of bitnet-quant: installs what it needs (Debian 12),
# builds, runs ctest. Usage: tools/test.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup_debian.sh

BUILD=${BITNET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$BUILD" --output-on-failure 2>&1 | tee "$log"
BITNET_BUILD_DIR="$BUILD" tools/test_rust.sh 2>&1 | tee -a "$log"

# One closing line for everything above (pipefail has stopped us on failure).
# ctest counts a skipped test (a GPU test on a machine without one) as passed.
ctest_total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
ctest_skipped=$(grep -c '(Skipped)$' "$log" || true)
cargo_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | paste -sd+ | bc)
echo "all tests: $((ctest_total - ctest_skipped + cargo_passed)) passed, 0 failed, $ctest_skipped skipped"
