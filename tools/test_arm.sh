#!/usr/bin/env bash
# The ARM tests of bitnet-quant: cross-builds the library and the C tests for
# aarch64 and armhf with Debian's cross toolchains and Highway 1.0.3 from
# source (cmake/<triple>.cmake), then runs the whole ctest suite under
# qemu-user once per CPU model below. In each run the tests force every
# target the emulated CPU supports against the scalar reference (golden,
# random and adversarial suites), and the supported set must be exactly the
# expected one (BITNET_TEST_EXPECT_TARGETS), so a model cannot pass on fewer
# targets. BITNET_TEST_EMULATED=1 cuts the largest inputs to 1/16.
# Fails on the first failure, on a skipped test, or on a run past its time.
# Usage: tools/test_arm.sh   (from anywhere; builds in $BITNET_ARM_BUILD_DIR,
# default build-arm/, one directory per triple; about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

# Triple | CPU model (qemu -cpu, through QEMU_CPU) | what it exercises | expected
# targets | optional library (in the build) that the test programs preload
RUNS=(
  "aarch64-linux-gnu|cortex-a72|NEON only (Armv8.0, no dotprod)|REFERENCE NEON"
  "aarch64-linux-gnu|a64fx|SVE at 512 bits, no SVE2|REFERENCE NEON SVE"
  "aarch64-linux-gnu|max,sve-default-vector-length=16|SVE and SVE2 at 128 bits|REFERENCE NEON SVE SVE2"
  "aarch64-linux-gnu|max,sve-default-vector-length=32|SVE and SVE2 at 256 bits|REFERENCE NEON SVE SVE2"
  "aarch64-linux-gnu|max,sve-default-vector-length=64|SVE and SVE2 at 512 bits|REFERENCE NEON SVE SVE2"
  "aarch64-linux-gnu|max,sve-default-vector-length=256|SVE and SVE2 at 2048 bits (16-lane capped vectors)|REFERENCE NEON SVE SVE2"
  "aarch64-linux-gnu|max,sve-default-vector-length=32|no crypto extensions in the hwcaps (as a Raspberry Pi 3/4; SVE2 without SVE-AES)|REFERENCE NEON SVE SVE2|ffi_tests/libhwcap_no_crypto.so"
  "arm-linux-gnueabihf|cortex-a7|32-bit ARMv7: SCALAR (Highway's NEON is not IEEE there)|REFERENCE SCALAR"
)
# Debian packages of each triple.
declare -A PACKAGES=(
  [aarch64-linux-gnu]="g++-aarch64-linux-gnu libc6-dev-arm64-cross"
  [arm-linux-gnueabihf]="g++-arm-linux-gnueabihf libc6-dev-armhf-cross"
)

# shellcheck disable=SC2086  # package lists
tools/setup_debian.sh qemu-user ${PACKAGES[aarch64-linux-gnu]} ${PACKAGES[arm-linux-gnueabihf]}
tools/fetch_highway_source.sh
builds=${BITNET_ARM_BUILD_DIR:-build-arm}
jobs=${BITNET_JOBS:-2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# No CUDA (no ARM CUDA toolkit here) and no benchmark (no ARM Google
# Benchmark in the cross sysroots; timings under an emulator mean nothing).
# The demo program and every C test are built; the command-line tool is
# not (the x86 llama.cpp prebuilt is its oracle, and the cross sysroots have
# no gtest or xxhash).
for triple in aarch64-linux-gnu arm-linux-gnueabihf; do
  printf '\n==== build for %s\n' "$triple"
  cmake -S . -B "$builds/$triple" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/$triple.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DBITNET_HIGHWAY_SOURCE_DIR=third_party/highway \
    -DBITNET_WITH_CUDA=OFF -DBITNET_BUILD_BENCH=OFF -DBITNET_BUILD_CLI=OFF > "$log" || { cat "$log"; exit 1; }
  timeout 900 cmake --build "$builds/$triple" -j "$jobs"
done

export BITNET_TEST_EMULATED=1
summary=()
for run in "${RUNS[@]}"; do
  IFS='|' read -r triple cpu what expected preload <<< "$run"
  build=$builds/$triple
  printf '\n==== %s, qemu -cpu %s: %s\n' "$triple" "$cpu" "$what"
  start=$SECONDS
  # -LE oracle: the oracles (the llama.cpp prebuilt, python3-torch) are x86
  # programs that cannot load an ARM library; the x86 runs have them.
  # QEMU_SET_ENV: the preload reaches the emulated programs, not qemu itself.
  guest_env=()
  if [ -n "$preload" ]; then
    [ -f "$build/$preload" ] || { echo "test_arm: $build/$preload was not built"; exit 1; }
    guest_env=(QEMU_SET_ENV="LD_PRELOAD=$(cd "$build" && pwd)/$preload")
  fi
  env "${guest_env[@]}" QEMU_CPU="$cpu" BITNET_TEST_EXPECT_TARGETS="$expected" \
    timeout 900 ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" \
    --timeout 600 -LE oracle 2>&1 | tee "$log"
  skipped=$(grep -c '(Skipped)$' "$log" || true)
  [ "$skipped" -eq 0 ] || { echo "test_arm: $skipped tests skipped ($triple, -cpu $cpu)"; exit 1; }
  # ld.so only warns about a preload it cannot load: the preload's own line
  # must be there.
  [ -z "$preload" ] || grep -q '^hwcap_no_crypto: ' "$build/Testing/Temporary/LastTest.log" ||
    { echo "test_arm: the preload did not load"; exit 1; }
  total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$log")
  # What the tests ran on, as they printed it (ctest hides passing output).
  ran=$(grep -m1 '^targets:' "$build/Testing/Temporary/LastTest.log")
  summary+=("$(printf '%-20s %-34s %3s tests passed in %3ss, %s%s' "$triple" "$cpu" "$total" \
    $((SECONDS - start)) "$ran" "${preload:+ (hwcaps without crypto)}")")
done

printf '\n==== ARM under %s: every test passed with each CPU model\n' \
  "$(qemu-aarch64 --version | head -1)"
printf '%s\n' "${summary[@]}"
