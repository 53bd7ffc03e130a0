// Quantize / dequantize throughput of each format on one thread, reported
// as a fraction of this machine's streaming bandwidth measured in the same
// run. For each kernel the bound is the time the bytes it must move take:
// bytes_read / read_bandwidth + bytes_written / write_bandwidth.
//
// usage: bench_cpu [google-benchmark flags]   (BITNET_CPU_TARGET picks a target)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitnet_quant.h"

namespace {

struct Bandwidth {
  double read_bytes_per_s = 0;
  double write_bytes_per_s = 0;
};
Bandwidth g_bandwidth;

// Larger than any last-level cache, so every pass streams from DRAM.
constexpr size_t kProbeBytes = size_t{512} << 20;

template <class Fn>
double BestSeconds(int repeats, Fn&& fn) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count());
  }
  return best;
}

// Single-thread streaming bandwidth: the best of several passes of a summing
// read, and the better of memset (non-temporal stores in glibc) and a plain
// store loop for writes.
Bandwidth MeasureBandwidth() {
  std::vector<uint64_t> buf(kProbeBytes / sizeof(uint64_t), 1);
  const size_t n = buf.size();
  uint64_t sink = 0;
  const double read_s = BestSeconds(7, [&] {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; i += 4) {
      s0 += buf[i];
      s1 += buf[i + 1];
      s2 += buf[i + 2];
      s3 += buf[i + 3];
    }
    sink += s0 + s1 + s2 + s3;
  });
  benchmark::DoNotOptimize(sink);
  uint8_t value = 0;
  const double memset_s = BestSeconds(7, [&] {
    std::memset(buf.data(), ++value, kProbeBytes);
    benchmark::ClobberMemory();
  });
  const double store_s = BestSeconds(7, [&] {
    const uint64_t v = ++value;
    for (size_t i = 0; i < n; ++i) buf[i] = v;
    benchmark::ClobberMemory();
  });
  return {kProbeBytes / read_s, kProbeBytes / std::min(memset_s, store_s)};
}

// Bytes one call must move: 4-byte floats, 2-bit codes, 4-byte scales.
struct Traffic {
  double read;
  double written;
};

double BoundSeconds(const Traffic& t) {
  return t.read / g_bandwidth.read_bytes_per_s + t.written / g_bandwidth.write_bytes_per_s;
}

const char* const kFormatNames[] = {"I2_S", "TL1", "TL2"};

// Weights like an LLM's: normal(0, 0.02), with rare outliers.
std::vector<float> RealisticWeights(size_t n) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng) * (u(rng) < 0.001f ? 20.0f : 1.0f);
  return x;
}

struct Buffers {
  std::vector<float> input, scales, output;
  std::vector<uint8_t> packed;
  double float_bytes, code_bytes;  // the two sides of the traffic
};

Buffers MakeBuffers(bitnet_format format, const bitnet_quant_options& opt, size_t n) {
  Buffers b;
  size_t packed_len = 0, scales_len = 0;
  bitnet_quant_buffer_sizes(format, &opt, n, &packed_len, &scales_len);
  b.input = RealisticWeights(n);
  b.packed.resize(packed_len);
  b.scales.resize(scales_len);
  b.output.resize(n);
  b.float_bytes = 4.0 * n;
  b.code_bytes = packed_len + 4.0 * scales_len;
  if (bitnet_quantize(format, &opt, b.input.data(), n, b.packed.data(), packed_len,
                      b.scales.data(), scales_len) != BITNET_OK) {
    std::fprintf(stderr, "quantize failed: %s\n", bitnet_last_error());
    std::exit(1);
  }
  return b;
}

bitnet_quant_options CpuOptions() {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.device = BITNET_DEVICE_CPU;
  return opt;
}

void ReportRates(benchmark::State& state, size_t n, const Traffic& t) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (t.read + t.written)));
  // A rate counter divides by the measured time: bound time / real time.
  state.counters["of_bound_%"] = benchmark::Counter(
      100.0 * BoundSeconds(t) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Quantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  for (auto _ : state) {
    const int status = bitnet_quantize(format, &opt, b.input.data(), n, b.packed.data(),
                                       b.packed.size(), b.scales.data(), b.scales.size());
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
  }
  ReportRates(state, n, {b.float_bytes, b.code_bytes});
}

void BM_Dequantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  for (auto _ : state) {
    const int status = bitnet_dequantize(format, &opt, b.packed.data(), b.packed.size(),
                                         b.scales.data(), b.scales.size(), b.output.data(), n);
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
  }
  ReportRates(state, n, {b.code_bytes, b.float_bytes});
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int format = 0; format < 3; ++format) {
    for (int64_t n : {int64_t{4096}, int64_t{256} << 10, int64_t{16} << 20}) b->Args({format, n});
  }
  b->ArgNames({"format", "n"})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Quantize)->Apply(Sizes);
BENCHMARK(BM_Dequantize)->Apply(Sizes);

// Whether a run failed: Google Benchmark 1.7 has `error_occurred`, 1.8
// replaced it with `skipped`.
template <class Run>
auto RunFailed(const Run& r, int) -> decltype(bool(r.error_occurred)) {
  return r.error_occurred;
}
template <class Run>
auto RunFailed(const Run& r, long) -> decltype(bool(r.skipped)) {
  return bool(r.skipped);
}

// Prints the usual console output, then one markdown table for the README.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (RunFailed(r, 0) || r.run_type != Run::RT_Iteration) continue;
      rows_.push_back(r);
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nSingle-thread streaming bandwidth: read %.2f GB/s, write %.2f GB/s\n",
                g_bandwidth.read_bytes_per_s / 1e9, g_bandwidth.write_bytes_per_s / 1e9);
    std::printf("\n| kernel | format | elements | Gelem/s | GB/s moved | %% of bandwidth bound |\n");
    std::printf("|---|---|---:|---:|---:|---:|\n");
    for (const Run& r : rows_) {
      const std::string name = r.benchmark_name();
      // name: BM_Quantize/format:F/n:N/real_time
      int format = 0;
      long long n = 0;
      std::sscanf(name.c_str() + name.find("format:"), "format:%d/n:%lld", &format, &n);
      const double seconds = r.GetAdjustedRealTime() / 1e6;  // microseconds
      const double gelem = n / seconds / 1e9;
      const double gbytes = r.counters.at("bytes_per_second") / 1e9;
      std::printf("| %s | %s | %lld | %.2f | %.2f | %.0f %% |\n",
                  name.rfind("BM_Quantize", 0) == 0 ? "quantize" : "dequantize",
                  kFormatNames[format], n, gelem, gbytes, r.counters.at("of_bound_%").value);
    }
  }

 private:
  std::vector<Run> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bitnet_quant %s, CPU target %s\n", bitnet_version_string(),
              bitnet_cpu_target_name(bitnet_cpu_get_target()));
  g_bandwidth = MeasureBandwidth();
  std::printf("measured read %.2f GB/s, write %.2f GB/s (single thread, %zu MiB buffers)\n",
              g_bandwidth.read_bytes_per_s / 1e9, g_bandwidth.write_bytes_per_s / 1e9,
              kProbeBytes >> 20);
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
