// What the GPU benchmarks share (bench_cuda, bench_cuda_tensor): fatal
// errors, device buffers, the input values, the usable-GPU check, and the
// event timing of device work with the device-to-device copy it is set
// against.
#ifndef BITNET_BENCH_CUDA_BENCH_H_
#define BITNET_BENCH_CUDA_BENCH_H_

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "bitnet_quant.h"

namespace cuda_bench {

inline void CudaOk(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "FATAL: %s: %s\n", what, cudaGetErrorString(err));
    std::exit(2);
  }
}

inline void BitnetOk(int status, const char* what) {
  if (status != BITNET_OK) {
    std::fprintf(stderr, "FATAL: %s: %s\n", what, bitnet_last_error());
    std::exit(2);
  }
}

inline void* DeviceAlloc(size_t bytes) {
  void* p = nullptr;
  CudaOk(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}

// n values uniform in (-1, 1) from a seed (xorshift64).
inline std::vector<float> Random(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed;
  for (float& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x = static_cast<float>(static_cast<int64_t>(s >> 11) - (int64_t{1} << 52)) / 4503599627370496.0f;
  }
  return v;
}

// Device 0's description, or false after printing SKIPPED and why (the
// benchmarks then exit 77).
inline bool UsableGpu(bitnet_cuda_device_info* info) {
  std::memset(info, 0, sizeof(*info));
  info->struct_size = sizeof(*info);
  if (bitnet_cuda_get_device_info(0, info) != BITNET_OK || !info->usable) {
    std::printf("SKIPPED: no usable CUDA GPU: %s\n", bitnet_last_error());
    return false;
  }
  return true;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of call(i) for i = 0.. on the device, events around each.
inline double TimeDevice(const std::function<void(int)>& call, int warmup, int reps) {
  cudaEvent_t start, stop;
  CudaOk(cudaEventCreate(&start), "cudaEventCreate");
  CudaOk(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < warmup; ++i) call(i);
  CudaOk(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> seconds;
  for (int i = 0; i < reps; ++i) {
    CudaOk(cudaEventRecord(start, nullptr), "cudaEventRecord");
    call(warmup + i);
    CudaOk(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    CudaOk(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    CudaOk(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    seconds.push_back(ms * 1e-3);
  }
  CudaOk(cudaEventDestroy(start), "cudaEventDestroy");
  CudaOk(cudaEventDestroy(stop), "cudaEventDestroy");
  return Median(seconds);
}

// The ceiling of both benchmarks: a device-to-device copy of `bytes`,
// printed; returns bytes read + written per second.
inline double CopyBandwidth(void* dst, const void* src, size_t bytes) {
  const double s = TimeDevice(
      [&](int) { CudaOk(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr), "copy"); },
      3, 20);
  const double bw = 2.0 * bytes / s;
  std::printf("device-to-device copy of %.0f MiB: %.3f ms, %.1f GB/s (read + write)\n",
              bytes / 1048576.0, s * 1e3, bw / 1e9);
  return bw;
}

}  // namespace cuda_bench

#endif  // BITNET_BENCH_CUDA_BENCH_H_
