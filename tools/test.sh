#!/usr/bin/env bash
# Runs every test of bitnet-quant, installing what it needs (Debian 12):
# the hardening checks (sanitizers, fuzzing, ABI, static analysis), then the
# release build's ctest suite, the Rust crate's tests and the ARM suite
# under qemu (tools/test_arm.sh), ending with one summary line.
# Usage: tools/test.sh   (from anywhere; about 35 minutes on 2 cores;
# BITNET_SKIP_HARDENING=1 leaves out the hardening checks, BITNET_SKIP_ARM=1
# the ARM suite)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup_debian.sh
[ "${BITNET_SKIP_HARDENING:-0}" = 1 ] || tools/test_hardening.sh

BUILD=${BITNET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$BUILD" --output-on-failure 2>&1 | tee "$log"
BITNET_BUILD_DIR="$BUILD" tools/test_rust.sh 2>&1 | tee -a "$log"
[ "${BITNET_SKIP_ARM:-0}" = 1 ] || tools/test_arm.sh 2>&1 | tee -a "$log"

# One closing line for everything above (pipefail has stopped us on failure).
# ctest counts a skipped test (a GPU test on a machine without one) as passed.
# Each ctest run counts: the native one and one per emulated ARM CPU model.
ctest_total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | paste -sd+ | bc)
ctest_skipped=$(grep -c '(Skipped)$' "$log" || true)
cargo_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | paste -sd+ | bc)
echo "all tests: $((ctest_total - ctest_skipped + cargo_passed)) passed, 0 failed, $ctest_skipped skipped"
