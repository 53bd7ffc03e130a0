// GPU benchmark of the tensor layouts and the ternary products, each against
// a ceiling measured in the same run (CUDA events, median of the timed
// calls after warm-up):
//  - encode / decode / transcode at 256 Mi elements (bitnet_cuda_tensor_*)
//    against a device-to-device copy: bytes read + written per second, as a
//    share of the copy's;
//  - the products at N = 1 on BitNet b1.58 2B-4T's shapes (2560x2560,
//    640x2560, 6912x2560, 2560x6912) against the read floor, launch latency
//    (an empty kernel, timed the same way) + weight bytes / read bandwidth
//    (a kernel that only reads, measured here); weights rotate over copies
//    of more than three times the L2 so that every call streams them from
//    HBM; a fused call of a layer's seven projections; cuBLAS bf16 GEMV
//    (cublasGemmEx) on the same shapes;
//  - N = 32..512: GMAC/s against cuBLASLt int8 x int8 -> int32.
// usage: bench_cuda_tensor [elements]   (default 268435456 = 256 Mi)
#define BITNET_QUANT_EXPERIMENTAL
#include <cuda_runtime.h>
#if BITNET_BENCH_CUBLAS
#include <cublasLt.h>
#include <cublas_v2.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "bitnet_quant.h"
#include "cuda_bench.h"

namespace {

using cuda_bench::BitnetOk;
using cuda_bench::CudaOk;
using cuda_bench::DeviceAlloc;
using cuda_bench::Random;
using cuda_bench::TimeDevice;


// Median seconds per call of `calls` calls captured into one graph (on a
// stream of its own) and replayed: the GPU's time without the host's cost
// of each call, as a decode loop that replays a graph sees it.
double TimeGraph(const std::function<void(cudaStream_t, int)>& enqueue, int calls, int reps) {
  cudaStream_t stream;
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaEvent_t start, stop;
  CudaOk(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  CudaOk(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  for (int i = 0; i < calls; ++i) enqueue(stream, i);
  CudaOk(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
  CudaOk(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
  CudaOk(cudaEventCreate(&start), "cudaEventCreate");
  CudaOk(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> seconds;
  for (int r = 0; r < reps + 2; ++r) {
    CudaOk(cudaEventRecord(start, stream), "cudaEventRecord");
    CudaOk(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
    CudaOk(cudaEventRecord(stop, stream), "cudaEventRecord");
    CudaOk(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    CudaOk(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (r >= 2) seconds.push_back(ms * 1e-3 / calls);
  }
  CudaOk(cudaEventDestroy(start), "cudaEventDestroy");
  CudaOk(cudaEventDestroy(stop), "cudaEventDestroy");
  CudaOk(cudaGraphExecDestroy(exec), "cudaGraphExecDestroy");
  CudaOk(cudaGraphDestroy(graph), "cudaGraphDestroy");
  CudaOk(cudaStreamDestroy(stream), "cudaStreamDestroy");
  return cuda_bench::Median(seconds);
}

__global__ void EmptyKernel() {}

// Reads n uint4 (every byte once), writing one word per thread block so
// that nothing is optimized away.
__global__ void ReadKernel(const uint4* __restrict__ p, size_t n, unsigned* out) {
  unsigned acc = 0;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldg(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9E3779B9u) out[blockIdx.x] = acc;
}

size_t TensorBytes(bitnet_type t, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  BitnetOk(bitnet_tensor_size(t, rows, cols, &bytes), "bitnet_tensor_size");
  return bytes;
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};
const Shape kShapes[] = {{"attn q/o", 2560, 2560}, {"attn k/v", 640, 2560},
                         {"ffn gate/up", 6912, 2560}, {"ffn down", 2560, 6912}};

// The seven projections of a 2B-4T layer: q, k, v, o, gate, up, down.
const Shape kLayer[] = {{"q", 2560, 2560},    {"k", 640, 2560},   {"v", 640, 2560},
                        {"o", 2560, 2560},    {"gate", 6912, 2560}, {"up", 6912, 2560},
                        {"down", 2560, 6912}};

// Copies of a tensor that rotate through three times the L2 and more.
int CopiesFor(size_t bytes, int l2_bytes) {
  const size_t want = 3 * static_cast<size_t>(l2_bytes) + 32 * 1048576;
  return static_cast<int>(std::max<size_t>(2, std::min<size_t>(512, (want + bytes - 1) / bytes)));
}

struct Ceilings {
  double copy_bw;    // bytes read + written per second
  double read_bw;    // bytes read per second
  double launch_s;   // an empty kernel's time, events around it
  double graph_launch_s;  // per empty kernel in a graph of many
  int l2_bytes;
};

Ceilings Measure(void* a, void* b, size_t bytes, unsigned* sink, int sms, int l2) {
  Ceilings c;
  c.l2_bytes = l2;
  c.copy_bw = cuda_bench::CopyBandwidth(b, a, bytes);
  const size_t n = bytes / 16;
  const double read_s = TimeDevice(
      [&](int) { ReadKernel<<<sms * 8, 512>>>(static_cast<const uint4*>(a), n, sink); }, 3, 20);
  c.read_bw = bytes / read_s;
  c.launch_s = TimeDevice([&](int) { EmptyKernel<<<1, 32>>>(); }, 20, 200);
  c.graph_launch_s = TimeGraph([](cudaStream_t s, int) { EmptyKernel<<<1, 32, 0, s>>>(); }, 256, 10);
  std::printf("read-only kernel over %.0f MiB: %.3f ms, %.1f GB/s\n", bytes / 1048576.0, read_s * 1e3,
              c.read_bw / 1e9);
  std::printf("empty kernel: %.2f us with events around one launch, %.2f us each in a graph of 256\n\n",
              c.launch_s * 1e6, c.graph_launch_s * 1e6);
  return c;
}

// ---- encode / decode / transcode ----------------------------------------------------------

void BenchLayouts(size_t n, const Ceilings& c, void* d_f32, void* d_out_f32, void* d_ternary) {
  const int64_t cols = 4096, rows = static_cast<int64_t>(n / 4096);
  std::printf("| op | types | elements | time (ms) | GB/s | %% of copy |\n|---|---|---:|---:|---:|---:|\n");
  const auto row = [&](const char* op, const std::string& types, size_t bytes, double s) {
    std::printf("| %s | %s | %zu Mi | %.3f | %.1f | %.1f |\n", op, types.c_str(), n >> 20, s * 1e3,
                bytes / s / 1e9, 100.0 * bytes / s / c.copy_bw);
  };
  const bitnet_type kLayouts[] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0,
                                  BITNET_TYPE_Q2_0, BITNET_TYPE_Q8_0,  BITNET_TYPE_Q8_K};
  std::vector<void*> encoded;
  for (bitnet_type t : kLayouts) {
    const size_t bytes = TensorBytes(t, rows, cols);
    void* d = DeviceAlloc(bytes);
    encoded.push_back(d);
    const double tq = TimeDevice([&](int) {
      BitnetOk(bitnet_cuda_tensor_quantize(t, nullptr, BITNET_TYPE_F32, d_f32, rows, cols, d, bytes, 0, nullptr),
               "bitnet_cuda_tensor_quantize");
    }, 2, 10);
    row("quantize", std::string("F32 -> ") + bitnet_type_name(t), 4 * n + bytes, tq);
    for (bitnet_type e : {BITNET_TYPE_F32, BITNET_TYPE_BF16}) {
      const size_t out = (e == BITNET_TYPE_F32 ? 4 : 2) * n;
      const double td = TimeDevice([&](int) {
        BitnetOk(bitnet_cuda_tensor_dequantize(t, nullptr, d, bytes, rows, cols, e, d_out_f32, out, 0, nullptr),
                 "bitnet_cuda_tensor_dequantize");
      }, 2, 10);
      row("dequantize", std::string(bitnet_type_name(t)) + " -> " + bitnet_type_name(e), bytes + out, td);
    }
  }
  {
    const double tq = TimeDevice([&](int) {
      BitnetOk(bitnet_cuda_tensor_quantize(BITNET_TYPE_BF16, nullptr, BITNET_TYPE_F32, d_f32, rows, cols, d_out_f32,
                                           2 * n, 0, nullptr), "F32 -> BF16");
    }, 2, 10);
    row("quantize", "F32 -> BF16", 6 * n, tq);
  }
  // Transcodes of per-tensor ternary values (+-0.5, 0: every layout holds
  // their scale, so every pair can be transcoded); a transcode synchronizes
  // once (it checks the source before it writes).
  for (size_t i = 0; i < std::size(kLayouts); ++i) {
    const size_t bytes = TensorBytes(kLayouts[i], rows, cols);
    BitnetOk(bitnet_cuda_tensor_quantize(kLayouts[i], nullptr, BITNET_TYPE_F32, d_ternary, rows, cols, encoded[i],
                                         bytes, 0, nullptr), "ternary source");
  }
  struct Pair {
    int from, to;  // indices into kLayouts
    uint32_t flags;
  };
  const Pair kPairs[] = {{0, 1, BITNET_TENSOR_ALLOW_SCALE_ROUNDING}, {0, 3, BITNET_TENSOR_UNIT_SCALE},
                         {1, 2, 0}, {2, 1, 0}, {1, 0, 0}, {3, 1, 0}, {0, 2, BITNET_TENSOR_ALLOW_SCALE_ROUNDING}};
  for (const Pair& p : kPairs) {
    const bitnet_type from = kLayouts[p.from], to = kLayouts[p.to];
    const size_t in_bytes = TensorBytes(from, rows, cols), out_bytes = TensorBytes(to, rows, cols);
    bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
    o.flags = p.flags;
    // The targets' own tensors are scratch now.
    void* d_out = DeviceAlloc(out_bytes);
    int status = BITNET_OK;
    const double tt = TimeDevice([&](int) {
      status = bitnet_cuda_tensor_transcode(to, &o, from, encoded[p.from], in_bytes, rows, cols, d_out, out_bytes, 0,
                                            nullptr);
    }, 1, 5);
    if (status != BITNET_OK) {
      std::printf("| transcode | %s -> %s | %zu Mi | failed: %s | | |\n", bitnet_type_name(from), bitnet_type_name(to),
                  n >> 20, bitnet_last_error());
    } else {
      row("transcode", std::string(bitnet_type_name(from)) + " -> " + bitnet_type_name(to) +
                           (p.flags ? " (scale flag)" : ""), in_bytes + out_bytes, tt);
    }
    CudaOk(cudaFree(d_out), "cudaFree");
  }
  for (void* d : encoded) CudaOk(cudaFree(d), "cudaFree");
  std::printf("\n");
}

// ---- products ----------------------------------------------------------------------------------

// Prepared copies of one weight tensor (from the CPU's encoding of random
// values), enough to stream from HBM.
std::vector<bitnet_cuda_gemm_weights*> PrepareCopies(bitnet_type t, int64_t rows, int64_t cols, int l2,
                                                     size_t* weight_bytes) {
  const size_t n = static_cast<size_t>(rows * cols), bytes = TensorBytes(t, rows, cols);
  const std::vector<float> x = Random(n, static_cast<uint64_t>(rows * 31 + cols));
  std::vector<uint8_t> w(bytes);
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.n_threads = 8;
  BitnetOk(bitnet_tensor_quantize(t, &o, BITNET_TYPE_F32, x.data(), rows, cols, w.data(), bytes), "CPU quantize");
  // The GPU layout: 2 bits per weight, rows padded to 16, columns to 128.
  *weight_bytes = static_cast<size_t>((rows + 15) / 16 * 16) * static_cast<size_t>((cols + 127) / 128 * 128) / 4;
  std::vector<bitnet_cuda_gemm_weights*> copies(CopiesFor(*weight_bytes, l2));
  for (auto& c : copies) BitnetOk(bitnet_cuda_gemm_prepare(t, w.data(), bytes, rows, cols, 0, &c), "prepare");
  return copies;
}

void FreeCopies(std::vector<bitnet_cuda_gemm_weights*>& copies) {
  for (auto* c : copies) bitnet_cuda_gemm_free(c);
  copies.clear();
}

#if BITNET_BENCH_CUBLAS
void CublasOk(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "FATAL: %s: cuBLAS status %d\n", what, static_cast<int>(s));
    std::exit(2);
  }
}

// cuBLAS bf16 GEMV: y (f32) = W (bf16, rows x cols, row-major) . x (bf16),
// weights rotating; per call in a graph.
double CublasBf16Gemv(cublasHandle_t h, int64_t rows, int64_t cols, int l2) {
  const size_t bytes = static_cast<size_t>(rows * cols) * 2;
  const int copies = CopiesFor(bytes, l2);
  void* w = DeviceAlloc(bytes * copies);
  CudaOk(cudaMemset(w, 0x3c, bytes * copies), "cudaMemset");  // bf16 0x3c3c: 0.0115
  void* x = DeviceAlloc(static_cast<size_t>(cols) * 2);
  CudaOk(cudaMemset(x, 0x3c, static_cast<size_t>(cols) * 2), "cudaMemset");
  float* y = static_cast<float*>(DeviceAlloc(static_cast<size_t>(rows) * 4));
  const float one = 1.0f, zero = 0.0f;
  const auto call = [&](cudaStream_t stream, int i) {
    CublasOk(cublasSetStream(h, stream), "cublasSetStream");
    CublasOk(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), 1, static_cast<int>(cols), &one,
                          static_cast<uint8_t*>(w) + bytes * (i % copies), CUDA_R_16BF, static_cast<int>(cols), x,
                          CUDA_R_16BF, static_cast<int>(cols), &zero, y, CUDA_R_32F, static_cast<int>(rows),
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
  };
  call(nullptr, 0);  // cuBLAS's first call sets itself up outside the capture
  CudaOk(cudaDeviceSynchronize(), "cublas warm-up");
  const double s = TimeGraph(call, copies, 10);
  CublasOk(cublasSetStream(h, nullptr), "cublasSetStream");
  CudaOk(cudaFree(w), "cudaFree");
  CudaOk(cudaFree(x), "cudaFree");
  CudaOk(cudaFree(y), "cudaFree");
  return s;
}

// cuBLASLt int8 x int8 -> int32: y (N x rows, row-major) = x (N x cols) . W^T,
// as D (rows x N, column-major) = W^T (op T of cols x rows) . x (cols x N);
// 0 when cuBLASLt offers no algorithm.
double CublasLtInt8(cublasLtHandle_t lt, int64_t rows, int64_t cols, int64_t batch, int l2) {
  const size_t bytes = static_cast<size_t>(rows * cols);
  const int copies = CopiesFor(bytes, l2);
  int8_t* w = static_cast<int8_t*>(DeviceAlloc(bytes * copies));
  CudaOk(cudaMemset(w, 1, bytes * copies), "cudaMemset");
  int8_t* x = static_cast<int8_t*>(DeviceAlloc(static_cast<size_t>(cols * batch)));
  CudaOk(cudaMemset(x, 1, static_cast<size_t>(cols * batch)), "cudaMemset");
  int32_t* y = static_cast<int32_t*>(DeviceAlloc(static_cast<size_t>(rows * batch) * 4));
  const size_t workspace_bytes = 64 << 20;
  void* workspace = DeviceAlloc(workspace_bytes);
  cublasLtMatmulDesc_t desc;
  CublasOk(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32I, CUDA_R_32I), "desc");
  const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
  CublasOk(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof(op_t)), "transa");
  CublasOk(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof(op_n)), "transb");
  cublasLtMatrixLayout_t a, b, d;
  CublasOk(cublasLtMatrixLayoutCreate(&a, CUDA_R_8I, cols, rows, cols), "layout a");
  CublasOk(cublasLtMatrixLayoutCreate(&b, CUDA_R_8I, cols, batch, cols), "layout b");
  CublasOk(cublasLtMatrixLayoutCreate(&d, CUDA_R_32I, rows, batch, rows), "layout d");
  cublasLtMatmulPreference_t pref;
  CublasOk(cublasLtMatmulPreferenceCreate(&pref), "preference");
  CublasOk(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                                sizeof(workspace_bytes)), "workspace");
  cublasLtMatmulHeuristicResult_t heuristic;
  int found = 0;
  double s = 0;
  if (cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, d, d, pref, 1, &heuristic, &found) == CUBLAS_STATUS_SUCCESS &&
      found > 0) {
    const int32_t one = 1, zero = 0;
    s = TimeDevice([&](int i) {
      CublasOk(cublasLtMatmul(lt, desc, &one, w + bytes * (i % copies), a, x, b, &zero, y, d, y, d,
                              &heuristic.algo, workspace, workspace_bytes, nullptr), "cublasLtMatmul");
    }, 3, 20);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(d);
  cublasLtMatmulDescDestroy(desc);
  CudaOk(cudaFree(w), "cudaFree");
  CudaOk(cudaFree(x), "cudaFree");
  CudaOk(cudaFree(y), "cudaFree");
  CudaOk(cudaFree(workspace), "cudaFree");
  return s;
}
#endif

void BenchProducts(const Ceilings& c) {
  const bitnet_type kWeights[] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, BITNET_TYPE_Q2_0};
#if BITNET_BENCH_CUBLAS
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  CublasOk(cublasCreate(&blas), "cublasCreate");
  CublasOk(cublasLtCreate(&lt), "cublasLtCreate");
#endif
  // Activations: the largest batch of the longest rows, F32.
  const int64_t kMaxBatch = 512, kMaxCols = 6912, kMaxRows = 6912;
  const std::vector<float> xs = Random(static_cast<size_t>(kMaxBatch * kMaxCols), 7);
  float* d_x = static_cast<float*>(DeviceAlloc(xs.size() * 4));
  CudaOk(cudaMemcpy(d_x, xs.data(), xs.size() * 4, cudaMemcpyHostToDevice), "upload");
  float* d_y = static_cast<float*>(DeviceAlloc(static_cast<size_t>(kMaxBatch * kMaxRows) * 8));

  std::printf("N = 1, weights streamed from HBM (each call on another copy). Per call: events around one\n"
              "call (the host's checks included), floor %.2f us launch + bytes / %.0f GB/s read; in a graph\n"
              "of calls, floor %.2f us per empty kernel in a graph + bytes / read bandwidth.\n",
              c.launch_s * 1e6, c.read_bw / 1e9, c.graph_launch_s * 1e6);
  std::printf("| weights | shape | bytes | call (us) | %% of floor | in graph (us) | GB/s | %% of floor | "
              "cuBLAS bf16 GEMV in graph (us) |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (bitnet_type t : kWeights) {
    for (const Shape& s : kShapes) {
      size_t bytes = 0;
      auto copies = PrepareCopies(t, s.rows, s.cols, c.l2_bytes, &bytes);
      const double call = TimeDevice([&](int i) {
        BitnetOk(bitnet_cuda_gemm(copies[i % copies.size()], BITNET_TYPE_F32, d_x, 1, d_y, nullptr), "gemm");
      }, 10, 100);
      const double graph = TimeGraph([&](cudaStream_t stream, int i) {
        BitnetOk(bitnet_cuda_gemm(copies[i % copies.size()], BITNET_TYPE_F32, d_x, 1, d_y, stream), "gemm");
      }, static_cast<int>(copies.size()), 10);
      const double floor = c.launch_s + bytes / c.read_bw;
      const double graph_floor = c.graph_launch_s + bytes / c.read_bw;
      double blas_s = 0;
#if BITNET_BENCH_CUBLAS
      if (t == BITNET_TYPE_I2_S) blas_s = CublasBf16Gemv(blas, s.rows, s.cols, c.l2_bytes);
#endif
      char blas_text[32] = "";
      if (blas_s > 0) std::snprintf(blas_text, sizeof blas_text, "%.2f", blas_s * 1e6);
      std::printf("| %s | %lldx%lld %s | %.2f MB | %.2f | %.1f | %.2f | %.0f | %.1f | %s |\n", bitnet_type_name(t),
                  static_cast<long long>(s.rows), static_cast<long long>(s.cols), s.name, bytes / 1e6, call * 1e6,
                  100.0 * floor / call, graph * 1e6, bytes / graph / 1e9, 100.0 * graph_floor / graph, blas_text);
      FreeCopies(copies);
    }
  }

  std::printf("\nA layer's seven projections (q k v o gate up down) in one bitnet_cuda_gemm_multi call, N = 1\n");
  std::printf("| weights | bytes | call (us) | in graph (us) | GB/s | %% of read bandwidth | %% of floor |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (bitnet_type t : kWeights) {
    std::vector<std::vector<bitnet_cuda_gemm_weights*>> layer;
    size_t total = 0, copies = SIZE_MAX;
    for (const Shape& s : kLayer) {
      size_t bytes = 0;
      layer.push_back(PrepareCopies(t, s.rows, s.cols, c.l2_bytes / 7 + 1, &bytes));
      total += bytes;
      copies = std::min(copies, layer.back().size());
    }
    std::vector<bitnet_cuda_gemm_job> jobs(7);
    const auto run = [&](cudaStream_t stream, int i) {
      for (size_t j = 0; j < 7; ++j) {
        jobs[j].weights = layer[j][i % copies];
        jobs[j].d_x = d_x;
        jobs[j].d_y = d_y + j * kMaxRows;
      }
      BitnetOk(bitnet_cuda_gemm_multi(jobs.data(), 7, BITNET_TYPE_F32, 1, stream), "gemm_multi");
    };
    const double call = TimeDevice([&](int i) { run(nullptr, i); }, 5, 50);
    const double graph = TimeGraph(run, static_cast<int>(copies), 10);
    const double graph_floor = c.graph_launch_s + total / c.read_bw;
    std::printf("| %s | %.2f MB | %.2f | %.2f | %.0f | %.1f | %.1f |\n", bitnet_type_name(t), total / 1e6,
                call * 1e6, graph * 1e6, total / graph / 1e9, 100.0 * total / graph / c.read_bw,
                100.0 * graph_floor / graph);
    for (auto& l : layer) FreeCopies(l);
  }

  std::printf("\nN = 32..512: GMAC/s (x F32, quantized inside) against cuBLASLt int8 x int8 -> int32\n");
  std::printf("| weights | shape | N | time (us) | GMAC/s | cuBLASLt int8 (us) | GMAC/s | ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (bitnet_type t : {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0}) {
    for (const Shape& s : kShapes) {
      size_t bytes = 0;
      auto copies = PrepareCopies(t, s.rows, s.cols, c.l2_bytes, &bytes);
      for (int64_t n : {32, 64, 128, 256, 512}) {
        const double macs = static_cast<double>(s.rows) * s.cols * n;
        const double ts = TimeDevice([&](int i) {
          BitnetOk(bitnet_cuda_gemm(copies[i % copies.size()], BITNET_TYPE_F32, d_x, n, d_y, nullptr), "gemm");
        }, 3, 20);
        double lt_s = 0;
#if BITNET_BENCH_CUBLAS
        lt_s = CublasLtInt8(lt, s.rows, s.cols, n, c.l2_bytes);
#endif
        if (lt_s > 0) {
          std::printf("| %s | %lldx%lld | %lld | %.1f | %.0f | %.1f | %.0f | %.2f |\n", bitnet_type_name(t),
                      static_cast<long long>(s.rows), static_cast<long long>(s.cols), static_cast<long long>(n),
                      ts * 1e6, macs / ts / 1e9, lt_s * 1e6, macs / lt_s / 1e9, lt_s / ts);
        } else {
          std::printf("| %s | %lldx%lld | %lld | %.1f | %.0f | n/a | | |\n", bitnet_type_name(t),
                      static_cast<long long>(s.rows), static_cast<long long>(s.cols), static_cast<long long>(n),
                      ts * 1e6, macs / ts / 1e9);
        }
      }
      FreeCopies(copies);
    }
  }
#if BITNET_BENCH_CUBLAS
  cublasLtDestroy(lt);
  cublasDestroy(blas);
#else
  std::printf("(built without cuBLAS: no cuBLAS columns)\n");
#endif
  CudaOk(cudaFree(d_x), "cudaFree");
  CudaOk(cudaFree(d_y), "cudaFree");
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t{256} << 20;
  bitnet_cuda_device_info info;
  if (!cuda_bench::UsableGpu(&info)) return 77;
  if (n % 4096 != 0 || n == 0) {
    std::fprintf(stderr, "elements must be a positive multiple of 4096\n");
    return 2;
  }
  int l2 = 0;
  CudaOk(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0), "L2 size");
  std::printf("GPU: %s, compute %d.%d, %d SMs, %.1f GiB, L2 %d MiB\n\n", info.name, info.compute_major,
              info.compute_minor, info.multiprocessor_count, info.total_memory / 1073741824.0, l2 >> 20);
  const std::vector<float> host = Random(n, 0x9E3779B97F4A7C15ull);
  void* d_in = DeviceAlloc(n * 4);
  void* d_out = DeviceAlloc(n * 4);
  unsigned* sink = static_cast<unsigned*>(DeviceAlloc(static_cast<size_t>(info.multiprocessor_count) * 8 * 4));
  CudaOk(cudaMemcpy(d_in, host.data(), n * 4, cudaMemcpyHostToDevice), "upload");
  const Ceilings c = Measure(d_in, d_out, n * 4, sink, info.multiprocessor_count, l2);
  std::vector<float> ternary(n);
  for (size_t i = 0; i < n; ++i) ternary[i] = host[i] < -0.3f ? -0.5f : host[i] > 0.3f ? 0.5f : 0.0f;
  void* d_ternary = DeviceAlloc(n * 4);
  CudaOk(cudaMemcpy(d_ternary, ternary.data(), n * 4, cudaMemcpyHostToDevice), "upload");
  BenchLayouts(n, c, d_in, d_out, d_ternary);
  CudaOk(cudaFree(d_ternary), "cudaFree");
  CudaOk(cudaFree(d_out), "cudaFree");
  BenchProducts(c);
  CudaOk(cudaFree(d_in), "cudaFree");
  CudaOk(cudaFree(sink), "cudaFree");
  return 0;
}
