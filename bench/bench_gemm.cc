// Ternary matrix products (bitnet_gemm) on the matrix shapes of BitNet
// b1.58 2B-4T, against this machine's read bandwidth and against ggml's own
// TQ2_0 and TQ1_0 products (the npm prebuilt of llama.cpp v0.5.0: a graph
// with ggml_mul_mat on its CPU backend, the variant ggml picks for this CPU,
// a persistent threadpool as llama.cpp uses), all measured in the same run.
//
// Weights are streamed from DRAM: every call takes the next of as many
// copies of the matrix as fill 512 MiB. Activations are random f32 and are
// quantized inside every call, as a caller of bitnet_gemm has them. Each
// kernel is timed call by call; the tables use the median.
//
// usage: bench_gemm [google-benchmark flags] [--ggml_dir=DIR]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bitnet_quant.h"

#ifdef BITNET_BENCH_GGML
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};
constexpr int64_t kBatches[] = {1, 8, 32, 128};
constexpr int kThreads[] = {1, 2};
constexpr size_t kRotateBytes = size_t{512} << 20;

// ---- read bandwidth ---------------------------------------------------------

using V8 = uint64_t __attribute__((vector_size(64)));

// One streaming read of `words` 8-byte words (a multiple of 32), with the
// widest vectors this CPU has, optionally prefetching `ahead` bytes ahead.
template <size_t kAhead>
__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t ReadPass(
    const uint64_t* p, size_t words) {
  V8 a = {0, 0, 0, 0, 0, 0, 0, 0}, b = a, c = a, d = a;
  for (size_t i = 0; i < words; i += 32) {
    if (kAhead != 0) __builtin_prefetch(p + i + kAhead / 8, 0, 3);
    V8 w[4];
    std::memcpy(w, p + i, sizeof w);
    a ^= w[0];
    b ^= w[1];
    c ^= w[2];
    d ^= w[3];
  }
  a ^= b ^ c ^ d;
  return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

// Read bandwidth measured the way the kernels are: chunks of the size of a
// weight matrix, the next one of the 512 MiB each time, each read timed on
// its own, the median (long passes would also time the other processes
// that share the cores). With two threads each reads half of a chunk, the
// second woken by a spinning flag, as a thread pool's worker is.
template <size_t kAhead>
double ReadBandwidthOf(const std::vector<uint64_t>& buf, int threads) {
  constexpr size_t kChunkWords = (size_t{2} << 20) / sizeof(uint64_t);
  const size_t chunks = buf.size() / kChunkWords;
  const size_t part = kChunkWords / static_cast<size_t>(threads);
  std::atomic<size_t> go{0}, done{0};
  std::atomic<uint64_t> helper_sink{0};
  std::thread helper;
  if (threads == 2) {
    helper = std::thread([&] {
      for (size_t seen = 0;;) {
        size_t c;
        while ((c = go.load(std::memory_order_acquire)) == seen) {
        }
        if (c == SIZE_MAX) return;
        seen = c;
        helper_sink ^= ReadPass<kAhead>(buf.data() + ((c - 1) % chunks) * kChunkWords + part, part);
        done.store(c, std::memory_order_release);
      }
    });
  }
  std::vector<double> samples;
  uint64_t sink = 0;
  for (size_t i = 1; i <= 600; ++i) {
    const auto t0 = Clock::now();
    if (threads == 2) go.store(i, std::memory_order_release);
    sink ^= ReadPass<kAhead>(buf.data() + ((i - 1) % chunks) * kChunkWords, part);
    if (threads == 2) {
      while (done.load(std::memory_order_acquire) != i) {
      }
    }
    samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  if (threads == 2) {
    go.store(SIZE_MAX, std::memory_order_release);
    helper.join();
  }
  benchmark::DoNotOptimize(sink);
  benchmark::DoNotOptimize(helper_sink);
  std::sort(samples.begin(), samples.end());
  return static_cast<double>(kChunkWords * sizeof(uint64_t)) / samples[samples.size() / 2];
}

// The better of a plain read and one that prefetches 4 KiB ahead (a single
// stream reads faster with it on some machines, this one included).
double ReadBandwidth(const std::vector<uint64_t>& buf, int threads) {
  return std::max(ReadBandwidthOf<0>(buf, threads), ReadBandwidthOf<4096>(buf, threads));
}

// The 512 MiB the bandwidth is read from.
std::vector<uint64_t>* g_bw_buffer;
double g_read_bw_max[3];  // the highest of the run, by thread count

// ---- results ------------------------------------------------------------------

struct Key {
  std::string kernel;
  int shape;
  int64_t batch;
  int threads;
  bool operator<(const Key& o) const {
    return std::tie(kernel, shape, batch, threads) < std::tie(o.kernel, o.shape, o.batch, o.threads);
  }
};
struct Result {
  double median_s;
  double weight_bytes;
  double read_bw;  // bytes/s, measured right before the kernel with its threads
};
std::map<Key, Result> g_results;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The read bandwidth now, with `threads` threads. The cores may be shared
// with other processes: it is measured before every kernel (the console
// shows both side by side), and the tables compare with the highest of the
// run.
double ReadBandwidthNow(int threads) {
  const double bw = ReadBandwidth(*g_bw_buffer, threads);
  g_read_bw_max[threads] = std::max(g_read_bw_max[threads], bw);
  return bw;
}

void Report(benchmark::State& state, const Key& key, const std::vector<double>& samples,
            double weight_bytes, double read_bw) {
  const Shape& s = kShapes[key.shape];
  const double t = Median(samples);
  g_results[key] = {t, weight_bytes, read_bw};
  state.counters["median_us"] = t * 1e6;
  state.counters["GB/s"] = weight_bytes / t / 1e9;
  state.counters["read_GB/s"] = read_bw / 1e9;
  state.counters["%read_bw"] = 100.0 * weight_bytes / t / read_bw;
  state.counters["GMAC/s"] = static_cast<double>(s.rows * s.cols * key.batch) / t / 1e9;
}

// Random f32 activations, N x K.
std::vector<float> Activations(int64_t batch, int64_t cols) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * cols));
  for (float& v : x) v = normal(rng);
  return x;
}

// Ternary weights of a shape in a layout: LLM-like normal(0, 0.02) values
// through absmean, bytes as bitnet_tensor_quantize writes them (bit-exact
// with ggml's own TQ quantizers, so both sides multiply the same tensor).
std::vector<uint8_t> Weights(bitnet_type type, const Shape& s) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(s.rows * s.cols));
  for (float& v : w) v = normal(rng);
  size_t bytes = 0;
  bitnet_tensor_size(type, s.rows, s.cols, &bytes);
  std::vector<uint8_t> out(bytes);
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.ternarize = BITNET_TERNARIZE_ABSMEAN;
  o.n_threads = 2;
  if (bitnet_tensor_quantize(type, &o, BITNET_TYPE_F32, w.data(), s.rows, s.cols, out.data(),
                             bytes) != BITNET_OK) {
    std::fprintf(stderr, "quantize: %s\n", bitnet_last_error());
    std::exit(1);
  }
  return out;
}

size_t CopiesFor(size_t bytes) { return std::max<size_t>(2, kRotateBytes / bytes + 1); }

// Copies start on 64-byte boundaries, as ggml's buffers place its tensors.
size_t CopyStride(size_t bytes) { return (bytes + 63) / 64 * 64; }

// ---- this library ---------------------------------------------------------------

struct OurWeights {
  bitnet_type type = -1;
  int shape = -1;
  size_t bytes = 0, stride = 0, copies = 0;
  std::vector<uint8_t> storage;
  uint8_t* data = nullptr;  // 64-byte aligned
};
OurWeights g_ours;  // the last set, reused while the benchmarks walk its shape

const OurWeights& OurSet(bitnet_type type, int shape) {
  if (g_ours.type != type || g_ours.shape != shape) {
    g_ours.storage.clear();
    g_ours.storage.shrink_to_fit();
    const std::vector<uint8_t> one = Weights(type, kShapes[shape]);
    g_ours.bytes = one.size();
    g_ours.stride = CopyStride(one.size());
    g_ours.copies = CopiesFor(one.size());
    g_ours.storage.resize(g_ours.stride * g_ours.copies + 64);
    g_ours.data = g_ours.storage.data() + (64 - reinterpret_cast<uintptr_t>(g_ours.storage.data()) % 64) % 64;
    for (size_t c = 0; c < g_ours.copies; ++c) {
      std::memcpy(g_ours.data + c * g_ours.stride, one.data(), one.size());
    }
    g_ours.type = type;
    g_ours.shape = shape;
  }
  return g_ours;
}

void BM_Ours(benchmark::State& state, bitnet_type type, int shape, int64_t batch, int threads) {
  const Shape& s = kShapes[shape];
  const OurWeights& w = OurSet(type, shape);
  const std::vector<float> x = Activations(batch, s.cols);
  std::vector<float> y(static_cast<size_t>(batch * s.rows));
  bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
  o.n_threads = threads;
  const double read_bw = ReadBandwidthNow(threads);
  std::vector<double> samples;
  size_t copy = 0;
  for (auto _ : state) {
    const uint8_t* weights = w.data + (copy++ % w.copies) * w.stride;
    const auto t0 = Clock::now();
    const int status =
        bitnet_gemm(type, weights, w.bytes, s.rows, s.cols, x.data(), batch, y.data(), &o);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
    state.SetIterationTime(t);
    samples.push_back(t);
  }
  Report(state, {bitnet_type_name(type), shape, batch, threads}, samples,
         static_cast<double>(w.bytes), read_bw);
}

// ---- ggml ---------------------------------------------------------------------------

#ifdef BITNET_BENCH_GGML
std::string g_ggml_dir = BITNET_BENCH_GGML_DIR;

struct Ggml {
  ggml_backend_t backend = nullptr;
  ggml_threadpool_t pool = nullptr;
  int pool_threads = 0;
  decltype(ggml_threadpool_new)* threadpool_new = nullptr;
  decltype(ggml_threadpool_free)* threadpool_free = nullptr;
  decltype(ggml_backend_cpu_set_threadpool)* set_threadpool = nullptr;
  ggml_backend_set_n_threads_t set_n_threads = nullptr;
  std::string variant;

  bool Init() {
    ggml_backend_load_all_from_path(g_ggml_dir.c_str());
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (dev == nullptr) return false;
    backend = ggml_backend_dev_init(dev, nullptr);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    threadpool_new = reinterpret_cast<decltype(threadpool_new)>(
        ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new"));
    threadpool_free = reinterpret_cast<decltype(threadpool_free)>(
        ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free"));
    set_threadpool = reinterpret_cast<decltype(set_threadpool)>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_cpu_set_threadpool"));
    set_n_threads = reinterpret_cast<ggml_backend_set_n_threads_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads"));
    variant = ggml_backend_dev_description(dev);
    return backend && threadpool_new && threadpool_free && set_threadpool && set_n_threads;
  }

  // A persistent threadpool of n threads (llama.cpp keeps one per context).
  // The old pool is freed only after the backend lets go of it: setting a
  // new one pauses the old one, which must still exist then.
  void UseThreads(int n) {
    if (pool_threads == n) return;
    ggml_threadpool_params params = ggml_threadpool_params_default(n);
    ggml_threadpool_t old = pool;
    pool = threadpool_new(&params);
    set_threadpool(backend, pool);
    set_n_threads(backend, n);
    pool_threads = n;
    if (old != nullptr) threadpool_free(old);
  }
};
Ggml g_ggml;
bool g_ggml_ready = false;

// Copies of one weight matrix in a backend buffer.
struct GgmlWeights {
  ggml_type type = GGML_TYPE_COUNT;
  int shape = -1;
  ggml_context* ctx = nullptr;
  ggml_backend_buffer_t buffer = nullptr;
  std::vector<ggml_tensor*> copies;
  size_t bytes = 0;
  void Free() {
    if (buffer != nullptr) ggml_backend_buffer_free(buffer);
    if (ctx != nullptr) ggml_free(ctx);
    *this = GgmlWeights();
  }
};
GgmlWeights g_ggml_w;

const GgmlWeights& GgmlSet(ggml_type type, int shape) {
  if (g_ggml_w.type == type && g_ggml_w.shape == shape) return g_ggml_w;
  g_ggml_w.Free();
  const Shape& s = kShapes[shape];
  const std::vector<uint8_t> one = Weights(static_cast<bitnet_type>(type), s);
  const size_t copies = CopiesFor(one.size());
  ggml_init_params params = {ggml_tensor_overhead() * copies + 1024, nullptr, true};
  g_ggml_w.ctx = ggml_init(params);
  for (size_t c = 0; c < copies; ++c) {
    g_ggml_w.copies.push_back(ggml_new_tensor_2d(g_ggml_w.ctx, type, s.cols, s.rows));
  }
  g_ggml_w.buffer = ggml_backend_alloc_ctx_tensors(g_ggml_w.ctx, g_ggml.backend);
  for (ggml_tensor* t : g_ggml_w.copies) ggml_backend_tensor_set(t, one.data(), 0, one.size());
  g_ggml_w.type = type;
  g_ggml_w.shape = shape;
  g_ggml_w.bytes = one.size();
  return g_ggml_w;
}

void BM_Ggml(benchmark::State& state, ggml_type type, int shape, int64_t batch, int threads) {
  const Shape& s = kShapes[shape];
  const GgmlWeights& w = GgmlSet(type, shape);
  g_ggml.UseThreads(threads);
  // One graph per weight copy: y = mul_mat(W_c, x), x and y shared.
  const size_t copies = w.copies.size();
  ggml_init_params params = {ggml_tensor_overhead() * (copies + 2) +
                                 ggml_graph_overhead() * copies + 4096,
                             nullptr, true};
  ggml_context* ctx = ggml_init(params);
  ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, s.cols, batch);
  std::vector<ggml_cgraph*> graphs;
  for (ggml_tensor* wc : w.copies) {
    ggml_cgraph* g = ggml_new_graph(ctx);
    ggml_build_forward_expand(g, ggml_mul_mat(ctx, wc, x));
    graphs.push_back(g);
  }
  ggml_backend_buffer_t buffer = ggml_backend_alloc_ctx_tensors(ctx, g_ggml.backend);
  const std::vector<float> xv = Activations(batch, s.cols);
  ggml_backend_tensor_set(x, xv.data(), 0, xv.size() * sizeof(float));
  const double read_bw = ReadBandwidthNow(threads);
  std::vector<double> samples;
  size_t copy = 0;
  for (auto _ : state) {
    ggml_cgraph* g = graphs[copy++ % copies];
    const auto t0 = Clock::now();
    const ggml_status status = ggml_backend_graph_compute(g_ggml.backend, g);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (status != GGML_STATUS_SUCCESS) state.SkipWithError("ggml_backend_graph_compute failed");
    state.SetIterationTime(t);
    samples.push_back(t);
  }
  Report(state, {std::string("ggml ") + bitnet_type_name(static_cast<bitnet_type>(type)), shape,
                 batch, threads},
         samples, static_cast<double>(w.bytes), read_bw);
  ggml_backend_buffer_free(buffer);
  ggml_free(ctx);
}
#endif  // BITNET_BENCH_GGML

// ---- the tables -----------------------------------------------------------------------

void PrintTables() {
  std::printf("\nread bandwidth, highest of the run (2 MiB reads, median): 1 thread %.1f GB/s, "
              "2 threads %.1f GB/s\n", g_read_bw_max[1] / 1e9, g_read_bw_max[2] / 1e9);
  const char* const kKernels[] = {"I2_S", "TQ2_0", "TQ1_0", "Q2_0", "ggml TQ2_0", "ggml TQ1_0"};
  for (int64_t batch : kBatches) {
    std::printf("\nN = %lld: median us · GB/s · %% of the run's highest read bandwidth (same "
                "threads) · GMAC/s · x ggml TQ2_0 (TQ1_0: x ggml TQ1_0), same threads\n\n",
                static_cast<long long>(batch));
    std::printf("| kernel | threads |");
    for (const Shape& s : kShapes) std::printf(" %lldx%lld |", (long long)s.rows, (long long)s.cols);
    std::printf("\n|---|---|");
    for (size_t i = 0; i < sizeof kShapes / sizeof kShapes[0]; ++i) std::printf("---|");
    std::printf("\n");
    for (const char* kernel : kKernels) {
      for (int threads : kThreads) {
        bool any = false;
        std::string line = std::string("| ") + kernel + " | " + std::to_string(threads) + " |";
        for (int shape = 0; shape < static_cast<int>(sizeof kShapes / sizeof kShapes[0]); ++shape) {
          const auto it = g_results.find({kernel, shape, batch, threads});
          char cell[160] = " - |";
          if (it != g_results.end()) {
            any = true;
            const Shape& s = kShapes[shape];
            const Result& r = it->second;
            const double gbs = r.weight_bytes / r.median_s / 1e9;
            const double gmacs = static_cast<double>(s.rows * s.cols * batch) / r.median_s / 1e9;
            const std::string peer = std::string(kernel) == "TQ1_0" ? "ggml TQ1_0" : "ggml TQ2_0";
            const auto p = g_results.find({peer, shape, batch, threads});
            char ratio[32] = "";
            if (p != g_results.end() && std::string(kernel).rfind("ggml", 0) != 0) {
              std::snprintf(ratio, sizeof ratio, " · %.2fx", p->second.median_s / r.median_s);
            }
            std::snprintf(cell, sizeof cell, " %.0f · %.1f · %.0f %% · %.0f%s |", r.median_s * 1e6,
                          gbs, 100.0 * r.weight_bytes / r.median_s / g_read_bw_max[threads], gmacs,
                          ratio);
          }
          line += cell;
        }
        if (any) std::printf("%s\n", line.c_str());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
#ifdef BITNET_BENCH_GGML
    if (std::strncmp(argv[i], "--ggml_dir=", 11) == 0) {
      g_ggml_dir = argv[i] + 11;
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bitnet_quant %s, CPU target %s\n", bitnet_version_string(),
              bitnet_cpu_target_name(bitnet_cpu_get_target()));
  std::vector<uint64_t> bw_buffer(kRotateBytes / sizeof(uint64_t), 1);
  g_bw_buffer = &bw_buffer;
  std::printf("read bandwidth now (2 MiB reads over 512 MiB, median): 1 thread %.1f GB/s, "
              "2 threads %.1f GB/s\n", ReadBandwidthNow(1) / 1e9, ReadBandwidthNow(2) / 1e9);
#ifdef BITNET_BENCH_GGML
  g_ggml_ready = g_ggml.Init();
  if (g_ggml_ready) {
    std::printf("ggml: %s (from %s)\n", g_ggml.variant.c_str(), g_ggml_dir.c_str());
  } else {
    std::printf("ggml: no CPU backend could be loaded from %s\n", g_ggml_dir.c_str());
  }
#else
  std::printf("ggml: not built in (no llama.cpp prebuilt at configure time)\n");
#endif
  const int num_shapes = static_cast<int>(sizeof kShapes / sizeof kShapes[0]);
  for (int shape = 0; shape < num_shapes; ++shape) {
    const Shape& s = kShapes[shape];
    for (bitnet_type type : {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, BITNET_TYPE_Q2_0}) {
      for (int64_t batch : kBatches) {
        for (int threads : kThreads) {
          const std::string name = std::string("gemm/") + bitnet_type_name(type) + "/" +
                                   std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                                   "/N:" + std::to_string(batch) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BM_Ours, type, shape, batch, threads)
              ->UseManualTime()->Unit(benchmark::kMicrosecond);
        }
      }
    }
#ifdef BITNET_BENCH_GGML
    if (!g_ggml_ready) continue;
    for (ggml_type type : {GGML_TYPE_TQ2_0, GGML_TYPE_TQ1_0}) {
      for (int64_t batch : kBatches) {
        for (int threads : kThreads) {
          const std::string name = std::string("ggml/") + ggml_type_name(type) + "/" +
                                   std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                                   "/N:" + std::to_string(batch) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BM_Ggml, type, shape, batch, threads)
              ->UseManualTime()->Unit(benchmark::kMicrosecond);
        }
      }
    }
#endif
  }
  benchmark::RunSpecifiedBenchmarks();
  PrintTables();
  benchmark::Shutdown();
  return 0;
}
