#!/usr/bin/env bash
# The GPU checks of the CUDA backend, on a machine with an NVIDIA GPU, CUDA 13
# and a vendored Highway at third_party/highway (tools/fetch_highway_source.sh;
# the GPU machine has no libhwy, so the carried source tree is built statically).
#   cuda/run_gpu_checks.sh all LOGDIR       everything below in one go, within 9
#                                           minutes on an H200 (BITNET_GPU_SECONDS,
#                                           default 540): build, ctest, both
#                                           benchmarks, then the sanitizers in what
#                                           time is left; each step's time in
#                                           LOGDIR/steps.txt
#   cuda/run_gpu_checks.sh build LOGDIR     configure + build (build-gpu/), then ctest (GPU)
#   cuda/run_gpu_checks.sh compile LOGDIR   configure + build only (a fresh machine before
#                                           another step)
#   cuda/run_gpu_checks.sh nogpu LOGDIR     ctest again with no GPU visible (CUDA_VISIBLE_DEVICES=)
#   cuda/run_gpu_checks.sh sanitize LOGDIR  compute-sanitizer memcheck + racecheck
#   cuda/run_gpu_checks.sh bench LOGDIR     bench_cuda at 1 M / 16 M / 256 M elements,
#                                           bench_cuda_tensor (layouts, products, cuBLAS)
# Every step leaves LOGDIR with few files (a machine that returns only a few
# keeps them all): steps.txt, ctest_gpu.log and the benchmarks' tables as
# they are, every other log packed into LOGDIR/logs.tar.gz.
# BITNET_GPU_ARCH (default 90) sets CMAKE_CUDA_ARCHITECTURES for the build:
# the machine's own architecture only, to keep the build short.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
step=$1
logs=$2
mkdir -p "$logs"
build="build-gpu"
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH
cxx=$(command -v /opt/gcc/bin/g++ || command -v g++)
cc=$(command -v /opt/gcc/bin/gcc || command -v gcc)

run_build() {
  nvidia-smi -L 2>&1 | tee "$logs/gpu.txt"
  [ -f third_party/highway/hwy/highway.h ] ||
    { echo "third_party/highway is missing: run tools/fetch_highway_source.sh and carry it"; return 1; }
  # Without the command-line tool: its CLI11, nlohmann-json and xxhash are not
  # on the GPU machine, and nothing of it runs on a GPU.
  cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITNET_BUILD_CLI=OFF \
    -DBITNET_HIGHWAY_SOURCE_DIR=third_party/highway \
    -DCMAKE_CUDA_ARCHITECTURES="${BITNET_GPU_ARCH:-90}" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CUDA_HOST_COMPILER="$cxx" \
    >"$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; return 1; }
  grep "bitnet_quant:" "$logs/configure.log"
  # -k 0: one target failing to build (reported here) does not stop the others.
  cmake --build $build -j "$(nproc)" -- -k 0 >"$logs/build.log" 2>&1 ||
    { echo "BUILD FAILURES:"; grep -A3 "^FAILED" "$logs/build.log" | head -20; }
}

# ctest with the GPU; `large` (2^31 + 5 elements, 30 GiB of host memory) only
# when asked for (BITNET_GPU_LARGE=1).
run_ctest() {
  echo "== ctest with the GPU"
  local exclude=()
  [ "${BITNET_GPU_LARGE:-0}" = 1 ] || exclude=(-LE large)
  ctest --test-dir $build --output-on-failure --timeout 300 -j 8 "${exclude[@]}" \
    >"$logs/ctest_gpu.log" 2>&1
  grep -E "tests passed|Test +#|SKIPPED|Failed|\*\*\*" "$logs/ctest_gpu.log" | tail -60
}

run_nogpu() {
  echo "== ctest with no GPU visible (CPU paths and fallback)"
  CUDA_VISIBLE_DEVICES="" ctest --test-dir $build --output-on-failure --timeout 900 -j 4 -LE large \
    >"$logs/ctest_no_gpu.log" 2>&1
  grep -E "tests passed|Test +#|Failed|\*\*\*" "$logs/ctest_no_gpu.log" | tail -40
}

# memcheck and racecheck of the three parts, all at once (separate
# processes on one GPU), each stopped after $1 seconds (default 240).
# test_cuda modes sets up a pending CUDA error on purpose (an invalid
# device), which the API-error report would count.
run_sanitize() {
  local limit=${1:-240} pids=() names=()
  echo "== compute-sanitizer memcheck + racecheck (at most $limit s each, in parallel)"
  for tool in memcheck racecheck; do
    for part in test_cuda:sanitize test_cuda:modes test_cuda_tensor:sanitize; do
      local program=${part%%:*} mode=${part##*:} api=()
      [ "$mode" = modes ] && api=(--report-api-errors no)
      local log="$logs/sanitizer_${tool}_${program}_$mode.log"
      timeout "$limit" compute-sanitizer --tool "$tool" "${api[@]}" --error-exitcode 99 \
        "$build/ffi_tests/$program" "$mode" >"$log" 2>&1 &
      pids+=($!)
      names+=("$tool $program $mode")
    done
  done
  local i rc failed=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    [ $rc = 0 ] || failed=1
    echo "${names[$i]}: exit $rc$([ $rc = 124 ] && echo ' (stopped at the time limit)')"
    grep -hE "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$logs/sanitizer_$(echo "${names[$i]}" | tr ' ' '_').log" | tail -3
  done
  return $failed
}

# Each benchmark stopped after 200 s (its table so far stays in the log).
run_bench() {
  timeout 200 $build/bench/bench_cuda 2>&1 | tee "$logs/bench_cuda.txt"
  timeout 200 $build/bench/bench_cuda_tensor 2>&1 | tee "$logs/bench_cuda_tensor.txt"
}

# Runs one step, recording its time and exit status.
timed() {
  local name=$1 start=$SECONDS rc
  shift
  "$@"
  rc=$?
  echo "$name: $((SECONDS - start)) s, exit $rc" | tee -a "$logs/steps.txt"
  return $rc
}

# Packs every log but steps.txt, ctest_gpu.log and the benchmarks' tables
# into logs.tar.gz (added to one left by an earlier step).
pack_logs() {
  local keep='^(steps\.txt|ctest_gpu\.log|bench_cuda\.txt|bench_cuda_tensor\.txt|logs\.tar\.gz)$'
  local files=()
  mapfile -t files < <(cd "$logs" && ls -1 | grep -vE "$keep")
  [ ${#files[@]} -gt 0 ] || return 0
  if [ -f "$logs/logs.tar.gz" ]; then
    mkdir -p "$logs/.earlier" && tar xzf "$logs/logs.tar.gz" -C "$logs/.earlier" &&
      mv -n "$logs"/.earlier/* "$logs"/ 2>/dev/null
    rm -rf "$logs/.earlier"
    mapfile -t files < <(cd "$logs" && ls -1 | grep -vE "$keep")
  fi
  tar czf "$logs/logs.tar.gz" -C "$logs" "${files[@]}" && (cd "$logs" && rm -f "${files[@]}")
}
trap pack_logs EXIT

case $step in
  all)
    : >"$logs/steps.txt"
    timed build run_build || exit 1
    timed ctest run_ctest
    timed bench run_bench
    # The sanitizers get what is left of the time (at least a minute).
    left=$((${BITNET_GPU_SECONDS:-540} - SECONDS - 15))
    timed sanitize run_sanitize $((left > 60 ? left : 60))
    ;;
  build) run_build && run_ctest ;;
  compile) run_build ;;
  nogpu) run_nogpu ;;
  sanitize) run_sanitize ;;
  bench) run_bench ;;
esac
# Not a check: Nsight Compute's speed-of-light summary of the TL2 quantize
# kernel at 16 M elements (bench_cuda's 139th QuantizeWarpBlocks launch).
if [ "$step" = profile ]; then
  timeout 300 ncu --kernel-name QuantizeWarpBlocks --launch-skip 138 \
    --launch-count 1 --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy \
    $build/bench/bench_cuda 16777216 >"$logs/ncu_tl2.txt" 2>&1
  grep -E "Throughput|Duration|Occupancy|Issue|Executed Ipc|Registers" "$logs/ncu_tl2.txt" | head -30
fi
