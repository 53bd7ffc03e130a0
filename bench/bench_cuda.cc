// GPU benchmark: quantize / dequantize through the device-pointer entry
// points at 1 M, 16 M and 256 M elements (CUDA events, after warm-up, median
// of the timed calls), each against a device-to-device copy measured in the
// same run (bytes read + written); the cost of I2_S quantize's
// all-non-finite check when warps defer; and the host-pointer path end to
// end (pageable host buffers, transfers included) next to the CPU from 64 Ki
// elements up, which shows where AUTO's threshold (BITNET_CUDA_MIN_ELEMENTS,
// default 2^24) should lie on this machine.
// usage: bench_cuda [max_elements]   (default 256 M)
#define BITNET_QUANT_EXPERIMENTAL  // the device-pointer entry points and queries
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "bitnet_quant.h"
#include "cuda_bench.h"

namespace {

using cuda_bench::BitnetOk;
using cuda_bench::CudaOk;
using cuda_bench::TimeDevice;


double TimeHost(const std::function<void()>& call, int reps) {
  call();  // warm-up
  std::vector<double> seconds;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return cuda_bench::Median(seconds);
}

const char* const kNames[3] = {"I2_S", "TL1", "TL2"};
const size_t kBlock[3] = {BITNET_I2S_DEFAULT_BLOCK_SIZE, BITNET_TL1_DEFAULT_BLOCK_SIZE,
                          BITNET_TL2_DEFAULT_BLOCK_SIZE};

}  // namespace

int main(int argc, char** argv) {
  const size_t max_n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{256} << 20;
  bitnet_cuda_device_info info;
  if (!cuda_bench::UsableGpu(&info)) return 77;
  std::printf("GPU: %s, compute %d.%d, %d SMs, %.1f GiB\n", info.name, info.compute_major,
              info.compute_minor, info.multiprocessor_count, info.total_memory / 1073741824.0);

  // Input: uniform in (-1, 1), the same for every size (a prefix).
  const std::vector<float> host = cuda_bench::Random(max_n, 0x9E3779B97F4A7C15ull);
  float* d_in = static_cast<float*>(cuda_bench::DeviceAlloc(max_n * sizeof(float)));
  float* d_out = static_cast<float*>(cuda_bench::DeviceAlloc(max_n * sizeof(float)));
  uint8_t* d_packed = static_cast<uint8_t*>(cuda_bench::DeviceAlloc((max_n + 3) / 4));
  float* d_scales = static_cast<float*>(cuda_bench::DeviceAlloc((max_n + 3) / 4 * sizeof(float)));
  CudaOk(cudaMemcpy(d_in, host.data(), max_n * sizeof(float), cudaMemcpyHostToDevice), "upload");

  // The ceiling: a device-to-device copy of the largest input.
  const double copy_bw = cuda_bench::CopyBandwidth(d_out, d_in, max_n * sizeof(float));
  std::printf("\n");

  std::printf("| op | format | elements | time (ms) | Gelem/s | GB/s | %% of copy |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.device = BITNET_DEVICE_CUDA;
  for (size_t n = size_t{1} << 20; n <= max_n; n *= 16) {
    for (int f = 0; f < 3; ++f) {
      const size_t packed_len = (n + 3) / 4, scales_len = (n + kBlock[f] - 1) / kBlock[f];
      const double bytes_q = 4.0 * n + packed_len + 4.0 * scales_len;
      const double tq = TimeDevice([&](int) {
        BitnetOk(bitnet_cuda_quantize(f, &opt, d_in, n, d_packed, packed_len, d_scales, scales_len,
                                      nullptr), "bitnet_cuda_quantize");
      }, 3, 20);
      std::printf("| quantize | %s | %zu M | %.3f | %.1f | %.1f | %.1f |\n", kNames[f], n >> 20,
                  tq * 1e3, n / tq / 1e9, bytes_q / tq / 1e9, 100.0 * bytes_q / tq / copy_bw);
      const double td = TimeDevice([&](int) {
        BitnetOk(bitnet_cuda_dequantize(f, &opt, d_packed, packed_len, d_scales, scales_len, d_out,
                                        n, nullptr), "bitnet_cuda_dequantize");
      }, 3, 20);
      std::printf("| dequantize | %s | %zu M | %.3f | %.1f | %.1f | %.1f |\n", kNames[f], n >> 20,
                  td * 1e3, n / td / 1e9, bytes_q / td / 1e9, 100.0 * bytes_q / td / copy_bw);
    }
    const double tk = TimeDevice([&](int) {
      BitnetOk(bitnet_cuda_kernel_quantize(0, &opt, d_in, n, d_packed, (n + 3) / 4, d_scales,
                                           (n + 31) / 32, nullptr), "bitnet_cuda_kernel_quantize");
    }, 3, 20);
    const double bytes_k = 4.0 * n + (n + 3) / 4 + 4.0 * ((n + 31) / 32);
    std::printf("| kernel-family quantize | I2_S | %zu M | %.3f | %.1f | %.1f | %.1f |\n", n >> 20,
                tk * 1e3, n / tk / 1e9, bytes_k / tk / 1e9, 100.0 * bytes_k / tk / copy_bw);
  }

  // I2_S quantize's error contract at the largest size: an input whose first
  // half is NaN makes those warps defer, so the whole input is probed and
  // quantized again; an all-NaN input is probed and fails, writing nothing.
  // Staged in d_out, which the dequantize rows no longer need.
  std::printf("\n| I2_S quantize, %zu M elements | time (ms) | vs all finite |\n", max_n >> 20);
  std::printf("|---|---:|---:|\n");
  const auto time_i2s = [&](int expected) {
    return TimeDevice([&](int) {
      const int status = bitnet_cuda_quantize(0, &opt, d_out, max_n, d_packed, (max_n + 3) / 4,
                                              d_scales, (max_n + 31) / 32, nullptr);
      if (status != expected) {
        std::fprintf(stderr, "FATAL: bitnet_cuda_quantize returned %d, expected %d: %s\n",
                     status, expected, bitnet_last_error());
        std::exit(2);
      }
    }, 3, 20);
  };
  CudaOk(cudaMemcpy(d_out, d_in, max_n * sizeof(float), cudaMemcpyDeviceToDevice), "stage");
  const double t_finite = time_i2s(BITNET_OK);
  CudaOk(cudaMemset(d_out, 0xFF, max_n / 2 * sizeof(float)), "stage");  // 0xFFFFFFFF: a NaN
  const double t_half = time_i2s(BITNET_OK);
  CudaOk(cudaMemset(d_out, 0xFF, max_n * sizeof(float)), "stage");
  const double t_none = time_i2s(BITNET_E_ALL_NONFINITE);
  std::printf("| all finite: one pass | %.3f | 1.00 |\n", t_finite * 1e3);
  std::printf("| first half NaN: pass, probe, pass | %.3f | %.2f |\n", t_half * 1e3, t_half / t_finite);
  std::printf("| all NaN: pass, probe, BITNET_E_ALL_NONFINITE | %.3f | %.2f |\n", t_none * 1e3,
              t_none / t_finite);

  // Host-pointer path end to end (pageable buffers, copies included) vs the
  // CPU on one thread (the best target), I2_S, from 64 Ki elements up: the
  // smallest size from which the GPU wins both ways is where AUTO's
  // threshold belongs on this machine.
  std::printf("\n| host-pointer I2_S | elements | GPU ms (copies included) | CPU ms (1 thread) | "
              "GPU Melem/s | CPU Melem/s | CPU time / GPU time |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<uint8_t> packed((max_n + 3) / 4);
  std::vector<float> scales((max_n + 31) / 32);
  std::vector<float> values(max_n);
  size_t crossover = 0;
  for (size_t n = size_t{1} << 16; n <= max_n; n *= 4) {
    const int reps = static_cast<int>(std::min<size_t>(50, std::max<size_t>(5, (size_t{1} << 26) / n)));
    const size_t packed_len = (n + 3) / 4, scales_len = (n + 31) / 32;
    bool gpu_wins = true;
    for (int op = 0; op < 2; ++op) {
      double t[2];
      for (int d = 0; d < 2; ++d) {
        bitnet_quant_options o = BITNET_QUANT_OPTIONS_INIT;
        o.device = d == 0 ? BITNET_DEVICE_CUDA : BITNET_DEVICE_CPU;
        t[d] = TimeHost([&] {
          BitnetOk(op == 0 ? bitnet_quantize(0, &o, host.data(), n, packed.data(), packed_len,
                                             scales.data(), scales_len)
                           : bitnet_dequantize(0, &o, packed.data(), packed_len, scales.data(),
                                               scales_len, values.data(), n),
                   op == 0 ? "bitnet_quantize" : "bitnet_dequantize");
        }, reps);
      }
      gpu_wins = gpu_wins && t[0] < t[1];
      std::printf("| %s | %zu Ki | %.3f | %.3f | %.0f | %.0f | %.2f |\n",
                  op == 0 ? "quantize" : "dequantize", n >> 10, t[0] * 1e3, t[1] * 1e3,
                  n / t[0] / 1e6, n / t[1] / 1e6, t[1] / t[0]);
    }
    if (!gpu_wins) crossover = 0;
    else if (crossover == 0) crossover = n;
  }
  if (crossover != 0) {
    std::printf("\nthe GPU's host-pointer path wins both ways from %zu Ki elements on "
                "(BITNET_CUDA_MIN_ELEMENTS default: %zu Ki)\n", crossover >> 10,
                (size_t{1} << 24) >> 10);
  } else {
    std::printf("\nthe CPU wins at the largest size: AUTO should stay on the CPU here "
                "(set BITNET_CUDA_MIN_ELEMENTS above %zu)\n", max_n);
  }
  CudaOk(cudaFree(d_in), "cudaFree");
  CudaOk(cudaFree(d_out), "cudaFree");
  CudaOk(cudaFree(d_packed), "cudaFree");
  CudaOk(cudaFree(d_scales), "cudaFree");
  return 0;
}
