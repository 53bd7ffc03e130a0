#!/usr/bin/env bash
# The GPU checks of the CUDA backend, on a machine with an NVIDIA GPU, CUDA 13
# and a vendored Highway at third_party/highway (tools/fetch_highway_source.sh).
#   cuda/run_gpu_checks.sh build LOGDIR   configure + build (build-gpu/), then ctest (GPU)
#   cuda/run_gpu_checks.sh nogpu LOGDIR   ctest again with no GPU visible (CUDA_VISIBLE_DEVICES=)
#   cuda/run_gpu_checks.sh sanitize LOGDIR  compute-sanitizer memcheck + racecheck
#   cuda/run_gpu_checks.sh bench LOGDIR     bench_cuda at 1 M / 16 M / 256 M elements
set -uo pipefail
cd "$(dirname "$0")/.."
step=$1
logs=$2
mkdir -p "$logs"
build=build-gpu
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH
cxx=$(command -v /opt/gcc/bin/g++ || command -v g++)
cc=$(command -v /opt/gcc/bin/gcc || command -v gcc)
case $step in
  build)
    nvidia-smi -L 2>&1 | tee "$logs/gpu.txt"
    cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBITNET_HIGHWAY_SOURCE_DIR=third_party/highway \
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CUDA_HOST_COMPILER="$cxx" \
      >"$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; exit 1; }
    grep "bitnet_quant:" "$logs/configure.log"
    # -k 0: one target failing to build (reported here) does not stop the others.
    cmake --build $build -j "$(nproc)" -- -k 0 >"$logs/build.log" 2>&1 ||
      { echo "BUILD FAILURES:"; grep -A3 "^FAILED" "$logs/build.log" | head -20; }
    echo "== ctest with the GPU"
    ctest --test-dir $build --output-on-failure --timeout 900 -j 4 >"$logs/ctest_gpu.log" 2>&1
    grep -E "tests passed|Test +#|SKIPPED|Failed|\*\*\*" "$logs/ctest_gpu.log" | tail -40
    ;;
  nogpu)
    echo "== ctest with no GPU visible (CPU paths and fallback)"
    CUDA_VISIBLE_DEVICES= ctest --test-dir $build --output-on-failure --timeout 900 -j 4 \
      >"$logs/ctest_no_gpu.log" 2>&1
    grep -E "tests passed|Test +#|Failed|\*\*\*" "$logs/ctest_no_gpu.log" | tail -40
    ;;
  sanitize)
    for tool in memcheck racecheck; do
      echo "== compute-sanitizer --tool $tool: test_cuda sanitize, modes"
      for part in sanitize modes; do
        compute-sanitizer --tool $tool --error-exitcode 99 $build/ffi_tests/test_cuda $part \
          >"$logs/sanitizer_${tool}_$part.log" 2>&1
        echo "$part: exit $?"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|test_cuda|passed" "$logs/sanitizer_${tool}_$part.log" | tail -3
      done
    done
    ;;
  bench)
    $build/bench/bench_cuda 2>&1 | tee "$logs/bench_cuda.txt"
    ;;
esac
# Not a check: Nsight Compute's speed-of-light summary of the TL2 quantize
# kernel at 16 M elements (bench_cuda's 139th QuantizeWarpBlocks launch).
if [ "$step" = profile ]; then
  timeout 300 ncu --kernel-name QuantizeWarpBlocks --launch-skip 138 \
    --launch-count 1 --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy \
    $build/bench/bench_cuda 16777216 >"$logs/ncu_tl2.txt" 2>&1
  grep -E "Throughput|Duration|Occupancy|Issue|Executed Ipc|Registers" "$logs/ncu_tl2.txt" | head -30
fi
