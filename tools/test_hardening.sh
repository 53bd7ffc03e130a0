#!/usr/bin/env bash
# The hardening checks of bitnet-quant, in order, each bounded in time:
#   1. ASan+UBSan build of the library and the C tests, the whole ctest suite
#   2. TSan build, the threaded tests (library calls, the products' pool)
#   3. the libFuzzer harnesses in fuzz/ and cli/fuzz/, FUZZ_SECONDS each (default 60),
#      BITNET_JOBS of them at a time
#   4. the ABI check against abi/libbitnet_quant.abi
#   5. clang-tidy over src/, the CUDA host code cuda/*.cc and cli/src/
#      (.clang-tidy), cppcheck (.cppcheck-suppressions)
# Builds 1 and 2 include the CUDA backend when a CUDA toolkit is found: its
# host code (cuda/*.cc) is compiled with the sanitizers and linked
# with the nvcc-built kernels (device code, not instrumented) and cudart;
# on a machine without a GPU every CUDA call there takes its no-driver path.
# Fails on the first failure. Installs its Debian packages if missing.
# Usage: tools/test_hardening.sh   (from anywhere; 15-30 minutes on 2 cores)
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

common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITNET_BUILD_BENCH=OFF
        -DBITNET_BUILD_TOOLS=OFF)
# The CUDA toolkit, found where CMake looks (CUDACXX, PATH, /usr/local/cuda).
nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  # The sanitizer flags reach the host compiler only (CMAKE_C/CXX_FLAGS, not
  # CMAKE_CUDA_FLAGS): nvcc builds the kernels as usual. PTX for one
  # architecture is enough where no GPU runs them.
  cuda=(-DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90-virtual)
  cuda_note="with the CUDA backend ($nvcc)"
else
  cuda=(-DBITNET_WITH_CUDA=OFF)
  cuda_note="WITHOUT the CUDA backend: no CUDA toolkit on this machine, cuda/backend.cc not checked"
fi

configure_sanitized() {  # dir flags...
  local dir=$1
  shift
  local flags="$*"
  cmake -S . -B "$dir" "${common[@]}" "${cuda[@]}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" > "$dir.configure.log"
  # A toolkit that CMake could not use would silently leave the backend out.
  if [ -n "$nvcc" ] && ! grep -q "bitnet_quant: CUDA backend" "$dir.configure.log"; then
    cat "$dir.configure.log"
    echo "CUDA toolkit $nvcc found, but $dir was configured without the CUDA backend"
    exit 1
  fi
}
echo "sanitizer builds: $cuda_note"

step "1. ASan+UBSan: build, whole ctest suite"
mkdir -p "$out"
configure_sanitized "$out/asan" -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
# The whole tree, the command-line tool and its tests included (their CLI11,
# nlohmann-json and gtest headers compile slowly with the sanitizers).
bounded 2700 cmake --build "$out/asan" -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  bounded 300 ctest --test-dir "$out/asan" --output-on-failure -j "$jobs" -LE python

step "2. TSan: build, threaded tests"
configure_sanitized "$out/tsan" -fsanitize=thread -fno-omit-frame-pointer
bounded 600 cmake --build "$out/tsan" -j "$jobs" --target test_threads test_gemm_threads test_out_of_memory
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  bounded 300 ctest --test-dir "$out/tsan" --output-on-failure -R '^(threads|gemm_threads|out_of_memory)$'

step "3. fuzzers, ${fuzz_seconds}s each"
cmake -S fuzz -B "$out/fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ > "$out/fuzz.configure.log"
bounded 600 cmake --build "$out/fuzz" -j "$jobs"
# harness:seed directory (the library's in fuzz/, the command-line tool's parsers in cli/fuzz/)
fuzz_entries=(fuzz_quantize:fuzz/corpus/fuzz_quantize fuzz_dequantize:fuzz/corpus/fuzz_dequantize
              fuzz_cpp:fuzz/corpus/fuzz_cpp fuzz_tensor:fuzz/corpus/fuzz_tensor
              fuzz_gemm:fuzz/corpus/fuzz_gemm
              fuzz_gguf:cli/fuzz/corpus/fuzz_gguf fuzz_safetensors:cli/fuzz/corpus/fuzz_safetensors)
# Runs one harness:seeds entry; its log is $out/<harness>.log.
fuzz_one() {
  local harness=${1%%:*} seeds=${1#*:}
  # New inputs go to a scratch directory; the checked-in seeds are read only.
  local work=$out/fuzz-corpus/$harness
  mkdir -p "$work"
  bounded $((fuzz_seconds + 120)) "$out/fuzz/$harness" -max_total_time="$fuzz_seconds" \
    -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/fuzz-$harness-" "$work" "$seeds" 2> "$out/$harness.log" ||
    { tail -n 60 "$out/$harness.log"; echo "$harness failed: $out/$harness.log"; return 1; }
}
# The harnesses are single-threaded: $jobs lanes of them run side by side,
# each lane taking every $jobs-th entry and stopping at its first failure.
rm -f "$out"/fuzz_*.log
lanes=()
for ((lane = 0; lane < jobs; lane++)); do
  (
    for ((i = lane; i < ${#fuzz_entries[@]}; i += jobs)); do
      fuzz_one "${fuzz_entries[i]}" || exit 1
    done
  ) &
  lanes+=($!)
done
failed=0
for pid in "${lanes[@]}"; do wait "$pid" || failed=1; done
((failed == 0)) || exit 1
for entry in "${fuzz_entries[@]}"; do
  echo "-- ${entry%%:*}"
  grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$out/${entry%%:*}.log" || true
done

step "4. ABI check"
# The experimental CUDA functions are outside the ABI check
# (abi/experimental.suppr): the build without CUDA gives the same ABI.
cmake -S . -B "$out/abi" "${common[@]}" -DBITNET_WITH_CUDA=OFF -DBITNET_BUILD_TESTS=OFF -DBITNET_BUILD_CLI=OFF \
  > "$out/abi.configure.log"
bounded 600 cmake --build "$out/abi" -j "$jobs"
abi/check_abi.sh "$out/abi/libbitnet_quant.so"

step "5. static analysis"
echo "-- clang-tidy (.clang-tidy), on the compile database of the ASan build"
# Files of the compile database under the given source paths (real paths).
compiled_files() {
  python3 -c '
import json, os, sys
roots = [os.path.realpath(p) for p in sys.argv[2:]]
for entry in json.load(open(sys.argv[1])):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    if any(path == r or path.startswith(r + "/") for r in roots):
        print(path)' "$out/asan/compile_commands.json" "$@" | sort -u
}
mapfile -t tidy_files < <(compiled_files "$root/src" "$root"/cuda/*.cc)
((${#tidy_files[@]})) || { echo "no src/ files in the compile database"; exit 1; }
if [ -n "$nvcc" ] && ! printf '%s\n' "${tidy_files[@]}" | grep -q '/cuda/backend.cc$'; then
  echo "cuda/backend.cc is not in the compile database"
  exit 1
fi
bounded 1200 xargs -P "$jobs" -n 1 clang-tidy -p "$out/asan" --quiet <<< "$(printf '%s\n' "${tidy_files[@]}")"
echo "clang-tidy: ${#tidy_files[@]} files clean"
# The command-line tool, bounded on its own: its CLI11 and nlohmann-json
# headers make each file slow.
mapfile -t cli_tidy_files < <(compiled_files "$root/cli/src")
((${#cli_tidy_files[@]})) || { echo "no cli/src/ files in the compile database"; exit 1; }
bounded 900 xargs -P "$jobs" -n 1 clang-tidy -p "$out/asan" --quiet <<< "$(printf '%s\n' "${cli_tidy_files[@]}")"
echo "clang-tidy: ${#cli_tidy_files[@]} files in cli/src/ clean"
echo "-- cppcheck (.cppcheck-suppressions)"
cppcheck_flags=(--enable=warning,performance,portability,style --inconclusive --error-exitcode=1
                --quiet --suppressions-list=.cppcheck-suppressions -I include)
# The library's sources see the experimental declarations, as they are built.
bounded 300 cppcheck "${cppcheck_flags[@]}" --language=c++ --std=c++17 -DBITNET_QUANT_EXPERIMENTAL \
  -I src -I cuda src cuda/*.cc ffi_tests/*.cc
bounded 300 cppcheck "${cppcheck_flags[@]}" --language=c --std=c99 ffi_tests/*.c fuzz/*.c
# The tool's C++ (its gtest files are left out: cppcheck cannot parse the TEST macros).
bounded 300 cppcheck "${cppcheck_flags[@]}" --language=c++ --std=c++17 -I cli/src -I cli/synth \
  cli/src cli/synth cli/fuzz cli/llama
echo "cppcheck: clean"

step "hardening: all checks passed, sanitizer builds $cuda_note ($root)"
