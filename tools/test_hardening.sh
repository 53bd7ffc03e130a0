#!/usr/bin/env bash
# The hardening checks of bitnet-quant, in order, each bounded in time:
#   1. ASan+UBSan build of the library and the C tests, the whole ctest suite
#   2. TSan build, the threaded tests (library calls, the products' pool)
#   3. the libFuzzer harnesses in fuzz/, FUZZ_SECONDS each (default 60)
#   4. the ABI check against abi/libbitnet_quant.abi
#   5. clang-tidy over src/ (.clang-tidy), cppcheck (.cppcheck-suppressions)
# Fails on the first failure. Installs its Debian packages if missing.
# Usage: tools/test_hardening.sh   (from anywhere; about 5 minutes on 2 cores)
# Build trees go to $BITNET_HARDENING_DIR (default build-hardening/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${BITNET_HARDENING_DIR:-build-hardening}
fuzz_seconds=${FUZZ_SECONDS:-60}
jobs=${BITNET_JOBS:-2}

step() { printf '\n==== %s\n' "$*"; }
# Runs a command with a time limit; a timeout is a failure.
bounded() {
  local seconds=$1
  shift
  timeout "$seconds" "$@"
}

step "packages"
tools/setup_debian.sh clang libclang-rt-14-dev abigail-tools cppcheck clang-tidy

# CUDA device code cannot carry these sanitizers or libFuzzer's
# instrumentation, and this machine has no GPU: the CPU builds below leave
# the CUDA backend out.
common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITNET_BUILD_BENCH=OFF
        -DBITNET_BUILD_TOOLS=OFF -DBITNET_WITH_CUDA=OFF)

configure_sanitized() {  # dir flags...
  local dir=$1
  shift
  local flags="$*"
  cmake -S . -B "$dir" "${common[@]}" -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" > "$dir.configure.log"
}

step "1. ASan+UBSan: build, whole ctest suite"
mkdir -p "$out"
configure_sanitized "$out/asan" -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
bounded 600 cmake --build "$out/asan" -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  bounded 300 ctest --test-dir "$out/asan" --output-on-failure -j "$jobs"

step "2. TSan: build, threaded tests"
configure_sanitized "$out/tsan" -fsanitize=thread -fno-omit-frame-pointer
bounded 600 cmake --build "$out/tsan" -j "$jobs" --target test_threads test_gemm_threads
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  bounded 300 ctest --test-dir "$out/tsan" --output-on-failure -R '^(threads|gemm_threads)$'

step "3. fuzzers, ${fuzz_seconds}s each"
cmake -S fuzz -B "$out/fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ > "$out/fuzz.configure.log"
bounded 600 cmake --build "$out/fuzz" -j "$jobs"
for harness in fuzz_quantize fuzz_dequantize fuzz_cpp fuzz_gemm; do
  # New inputs go to a scratch directory; the checked-in seeds are read only.
  work=$out/fuzz-corpus/$harness
  mkdir -p "$work"
  echo "-- $harness"
  bounded $((fuzz_seconds + 120)) "$out/fuzz/$harness" -max_total_time="$fuzz_seconds" \
    -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/fuzz-$harness-" "$work" "fuzz/corpus/$harness" 2> "$out/$harness.log" ||
    { tail -n 60 "$out/$harness.log"; echo "$harness failed: $out/$harness.log"; exit 1; }
  grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$out/$harness.log" || true
done

step "4. ABI check"
cmake -S . -B "$out/abi" "${common[@]}" -DBITNET_BUILD_TESTS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$out/abi.configure.log"
bounded 600 cmake --build "$out/abi" -j "$jobs"
abi/check_abi.sh "$out/abi/libbitnet_quant.so"

step "5. static analysis"
echo "-- clang-tidy (.clang-tidy)"
mapfile -t tidy_files < <(python3 -c '
import json, sys
for entry in json.load(open(sys.argv[1])):
    if "/src/" in entry["file"]:
        print(entry["file"])' "$out/abi/compile_commands.json" | sort -u)
((${#tidy_files[@]})) || { echo "no src/ files in the compile database"; exit 1; }
bounded 600 xargs -P "$jobs" -n 1 clang-tidy -p "$out/abi" --quiet <<< "$(printf '%s\n' "${tidy_files[@]}")"
echo "clang-tidy: ${#tidy_files[@]} files clean"
echo "-- cppcheck (.cppcheck-suppressions)"
cppcheck_flags=(--enable=warning,performance,portability,style --inconclusive --error-exitcode=1
                --quiet --suppressions-list=.cppcheck-suppressions -I include)
bounded 300 cppcheck "${cppcheck_flags[@]}" --language=c++ --std=c++17 -I src src
bounded 300 cppcheck "${cppcheck_flags[@]}" --language=c --std=c99 ffi_tests fuzz
echo "cppcheck: clean"

step "hardening: all checks passed ($root)"
