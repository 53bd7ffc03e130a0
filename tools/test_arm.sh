#!/usr/bin/env bash
# The aarch64 tests of bitnet-quant: cross-builds the library and the C tests
# with Debian's cross toolchain and Highway 1.0.3 from source
# (cmake/aarch64-linux-gnu.cmake), then runs the whole ctest suite under
# qemu-user once per CPU model below. In each run the tests force every
# target the emulated CPU supports against the scalar reference (golden,
# random and adversarial suites), and the supported set must be exactly the
# expected one (BITNET_TEST_EXPECT_TARGETS), so a model cannot pass on fewer
# targets. BITNET_TEST_EMULATED=1 cuts the largest inputs to 1/16.
# Fails on the first failure, on a skipped test, or on a run past its time.
# Usage: tools/test_arm.sh   (from anywhere; build in $BITNET_ARM_BUILD_DIR,
# default build-aarch64/; about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

# CPU model (qemu -cpu, through QEMU_CPU) | what it exercises | expected targets
MODELS=(
  "cortex-a72|NEON only, Armv8.0 without dotprod|REFERENCE NEON"
  "a64fx|SVE at 512 bits, no SVE2|REFERENCE NEON SVE"
  "max,sve-default-vector-length=16|SVE and SVE2 at 128 bits|REFERENCE NEON SVE SVE2"
  "max,sve-default-vector-length=32|SVE and SVE2 at 256 bits|REFERENCE NEON SVE SVE2"
  "max,sve-default-vector-length=64|SVE and SVE2 at 512 bits|REFERENCE NEON SVE SVE2"
  "max,sve-default-vector-length=256|SVE and SVE2 at 2048 bits (16-lane capped vectors)|REFERENCE NEON SVE SVE2"
)

tools/setup_debian.sh g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
tools/fetch_highway_source.sh
build=${BITNET_ARM_BUILD_DIR:-build-aarch64}
jobs=${BITNET_JOBS:-2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# No CUDA (no aarch64 CUDA toolkit here) and no benchmark (no aarch64
# Google Benchmark in the cross sysroot; timings under an emulator mean
# nothing). The demo program and every C test are built.
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DBITNET_HIGHWAY_SOURCE_DIR=third_party/highway \
  -DBITNET_WITH_CUDA=OFF -DBITNET_BUILD_BENCH=OFF > "$log" || { cat "$log"; exit 1; }
timeout 900 cmake --build "$build" -j "$jobs"

export BITNET_TEST_EMULATED=1
summary=()
for model in "${MODELS[@]}"; do
  IFS='|' read -r cpu what expected <<< "$model"
  printf '\n==== qemu-aarch64 -cpu %s: %s\n' "$cpu" "$what"
  start=$SECONDS
  QEMU_CPU=$cpu BITNET_TEST_EXPECT_TARGETS=$expected \
    timeout 900 ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" \
    --timeout 600 2>&1 | tee "$log"
  skipped=$(grep -c '(Skipped)$' "$log" || true)
  [ "$skipped" -eq 0 ] || { echo "test_arm: $skipped tests skipped under -cpu $cpu"; exit 1; }
  total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log")
  # What the tests ran on, as they printed it (ctest hides passing output).
  ran=$(grep -m1 '^targets:' "$build/Testing/Temporary/LastTest.log")
  summary+=("$(printf '%-34s %3s tests passed in %3ss, %s' "$cpu" "$total" $((SECONDS - start)) "$ran")")
done

printf '\n==== aarch64 under qemu (%s): every test passed with each CPU model\n' \
  "$(qemu-aarch64 --version | head -1)"
printf '%s\n' "${summary[@]}"
