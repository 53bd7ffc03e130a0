#!/usr/bin/env bash
# Runs every test of bitnet-quant, installing what it needs (Debian 12):
# the hardening checks (sanitizers, fuzzing, ABI, static analysis), then the
# ctest suite of a GCC and of a clang release build, the mutation test, the
# Rust crates' tests, the Python package's tests and the ARM suite under
# qemu (tools/test_arm.sh),
# ending with each stage's time and one summary line.
# Usage: tools/test.sh   (from anywhere; 59 minutes from a fresh clone on a
# 2-core Intel Xeon VM on 2026-12-07: the hardening 29, the rest 30, the ARM
# suite included; the closing lines give each stage's time;
# BITNET_SKIP_HARDENING=1 leaves out the hardening checks, BITNET_SKIP_ARM=1
# the ARM suite)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's start, for the closing line's durations: CI's time limit is
# the budget this script must stay well inside.
stage_names=() stage_starts=()
stage() { stage_names+=("$1"); stage_starts+=("$SECONDS"); }
stage_times() {
  local i line="stage times:" sep=" "
  for i in "${!stage_names[@]}"; do
    line+="$sep${stage_names[i]} $((${stage_starts[i + 1]:-$SECONDS} - stage_starts[i])) s"
    sep=", "
  done
  echo "$line"
}

stage setup
tools/setup_debian.sh clang
stage hardening
[ "${BITNET_SKIP_HARDENING:-0}" = 1 ] || tools/test_hardening.sh

stage gcc
BUILD=${BITNET_BUILD_DIR:-build}
# With libbitnet_quant.a: the consumers test links it too, and tools/test_rust.sh
# its `static` feature.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITNET_BUILD_STATIC=ON
cmake --build "$BUILD"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$BUILD" --output-on-failure -j "${BITNET_JOBS:-2}" 2>&1 | tee "$log"

# The C suite again on a clang build: compilers differ in what they fold and
# inline (std::fmax of a signalling NaN, a multiply by +-1), and every target
# must give the reference's bits under both. The CUDA host code is built above.
stage clang
CLANG_BUILD=${BITNET_CLANG_BUILD_DIR:-build-clang}
cmake -S . -B "$CLANG_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DBITNET_WITH_CUDA=OFF -DBITNET_BUILD_BENCH=OFF \
  -DBITNET_BUILD_TOOLS=OFF -DBITNET_BUILD_CLI=OFF
cmake --build "$CLANG_BUILD"
ctest --test-dir "$CLANG_BUILD" --output-on-failure -j "${BITNET_JOBS:-2}" 2>&1 | tee -a "$log"

# Each deliberate bug of tools/mutants.txt must fail the C suite.
stage mutation
tools/mutation_test.sh 2>&1 | tee -a "$log"

stage rust
BITNET_BUILD_DIR="$BUILD" tools/test_rust.sh 2>&1 | tee -a "$log"
stage python
BITNET_BUILD_DIR="$BUILD" tools/test_python.sh 2>&1 | tee -a "$log"
stage arm
[ "${BITNET_SKIP_ARM:-0}" = 1 ] || tools/test_arm.sh 2>&1 | tee -a "$log"

# One closing line for everything above (pipefail has stopped us on failure).
# ctest counts a skipped test (a GPU test on a machine without one) as passed.
# Each ctest run counts: the GCC and clang ones and one per emulated ARM CPU
# model.
ctest_total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log" | paste -sd+ | bc)
ctest_skipped=$(grep -c '(Skipped)$' "$log" || true)
cargo_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | paste -sd+ | bc)
pytest_passed=$(sed -n 's/^=* \([0-9]*\) passed in .*/\1/p' "$log" | paste -sd+ | bc)
stage_times
echo "all tests: $((ctest_total - ctest_skipped + cargo_passed + pytest_passed)) passed, 0 failed, $ctest_skipped skipped"
