// Quantize / dequantize throughput of each format on one thread, reported
// as a fraction of what this machine can move through buffers of the same
// sizes, measured in the same run. For each kernel the bound is the time the
// bytes it must move take at those speeds:
//   bytes_read / read_bandwidth + bytes_written / write_bandwidth,
// where the bandwidths are probed on hot buffers of the kernel's own input
// and output sizes: in the caches for the small sizes, from DRAM for the
// largest (so an in-cache kernel is never divided by a DRAM bound).
//
// usage: bench_cpu [google-benchmark flags]   (BITNET_CPU_TARGET picks a target)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bitnet_quant.h"
#include "roofline.h"

namespace {

using roofline::Bandwidth;
using roofline::BestSeconds;
using roofline::Traffic;

// Larger than any last-level cache: the machine's streaming bandwidth,
// printed for reference.
constexpr size_t kDramProbeBytes = size_t{512} << 20;

// Single-thread bandwidth through hot buffers of `read_bytes` and
// `write_bytes` (multiples of 8): reads, the better of a summing loop and
// glibc's vectorized memchr (for a byte that is not there); writes, the
// better of memset and a store loop; each the best of 9 timed passes. A pass
// repeats the operation on the same buffer so that it covers at least
// 256 KiB: small buffers stay in the caches, large ones stream from DRAM.
Bandwidth ProbeBandwidthAt(size_t read_bytes, size_t write_bytes) {
  constexpr size_t kPassBytes = size_t{256} << 10;
  constexpr int kPasses = 9;
  Bandwidth bw;
  {
    std::vector<uint64_t> buf(read_bytes / sizeof(uint64_t), 0);
    const size_t n = buf.size(), reps = std::max<size_t>(1, kPassBytes / read_bytes);
    uint64_t sink = 0;
    const double sum_s = BestSeconds(kPasses, [&] {
      for (size_t r = 0; r < reps; ++r) {
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i + 4 <= n; i += 4) {
          s0 += buf[i];
          s1 += buf[i + 1];
          s2 += buf[i + 2];
          s3 += buf[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
        benchmark::ClobberMemory();
      }
    });
    benchmark::DoNotOptimize(sink);
    const double memchr_s = BestSeconds(kPasses, [&] {
      for (size_t r = 0; r < reps; ++r) {
        benchmark::DoNotOptimize(std::memchr(buf.data(), 1, read_bytes));
        benchmark::ClobberMemory();
      }
    });
    bw.read_bytes_per_s = static_cast<double>(reps * read_bytes) / std::min(sum_s, memchr_s);
  }
  {
    std::vector<uint64_t> buf(write_bytes / sizeof(uint64_t), 1);
    const size_t n = buf.size(), reps = std::max<size_t>(1, kPassBytes / write_bytes);
    uint8_t value = 0;
    const double memset_s = BestSeconds(kPasses, [&] {
      for (size_t r = 0; r < reps; ++r) {
        std::memset(buf.data(), ++value, write_bytes);
        benchmark::ClobberMemory();
      }
    });
    const double store_s = BestSeconds(kPasses, [&] {
      for (size_t r = 0; r < reps; ++r) {
        const uint64_t v = ++value;
        for (size_t i = 0; i < n; ++i) buf[i] = v;
        benchmark::ClobberMemory();
      }
    });
    bw.write_bytes_per_s = static_cast<double>(reps * write_bytes) / std::min(memset_s, store_s);
  }
  return bw;
}

Bandwidth g_dram;


// The bound of a kernel moving `t`, from a probe of its own buffer sizes
// (rounded up to 8 bytes), measured once per pair of sizes.
double BoundSeconds(const Traffic& t) {
  static std::map<std::pair<size_t, size_t>, Bandwidth> probed;
  const auto round8 = [](double bytes) { return (static_cast<size_t>(bytes) + 7) / 8 * 8; };
  const std::pair<size_t, size_t> sizes{round8(t.read), round8(t.written)};
  auto it = probed.find(sizes);
  if (it == probed.end()) it = probed.emplace(sizes, ProbeBandwidthAt(sizes.first, sizes.second)).first;
  return t.read / it->second.read_bytes_per_s + t.written / it->second.write_bytes_per_s;
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

// Runs `call` (returning a status) in timed batches of calls, a batch
// being enough calls for 64 Ki elements (one call from there up), and
// reports the usual mean rates plus those of the fastest batch: on a
// machine shared with other work, the fastest batch is what the kernel does
// when it has the core, as the probes' best passes are for the bound.
template <class Call>
void RunTimed(benchmark::State& state, size_t n, const Traffic& traffic, Call&& call) {
  const double bound_s = BoundSeconds(traffic);
  const size_t batch = std::max<size_t>(1, (size_t{1} << 16) / n);
  double best_s = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < batch; ++i) {
      if (call() != BITNET_OK) {
        state.SkipWithError(bitnet_last_error());
        break;
      }
      benchmark::ClobberMemory();
    }
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best_s = std::min(best_s, dt.count());
  }
  const auto calls = static_cast<int64_t>(state.iterations() * batch);
  state.SetItemsProcessed(calls * static_cast<int64_t>(n));
  state.SetBytesProcessed(calls * static_cast<int64_t>(traffic.read + traffic.written));
  const double call_s = best_s / static_cast<double>(batch);
  state.counters["best_Gelem/s"] = static_cast<double>(n) / call_s / 1e9;
  state.counters["best_GB/s"] = (traffic.read + traffic.written) / call_s / 1e9;
  state.counters["best_of_bound_%"] = 100.0 * bound_s / call_s;
}

void BM_Quantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  RunTimed(state, n, {b.float_bytes, b.code_bytes}, [&] {
    return bitnet_quantize(format, &opt, b.input.data(), n, b.packed.data(), b.packed.size(),
                           b.scales.data(), b.scales.size());
  });
}

void BM_Dequantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  RunTimed(state, n, {b.code_bytes, b.float_bytes}, [&] {
    return bitnet_dequantize(format, &opt, b.packed.data(), b.packed.size(), b.scales.data(),
                             b.scales.size(), b.output.data(), n);
  });
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
    std::printf("\nSingle-thread DRAM streaming bandwidth: read %.2f GB/s, write %.2f GB/s\n",
                g_dram.read_bytes_per_s / 1e9, g_dram.write_bytes_per_s / 1e9);
    std::printf("\nFastest batch of calls of each benchmark:\n");
    std::printf("\n| kernel | format | elements | Gelem/s | GB/s moved | %% of bound at its size |\n");
    std::printf("|---|---|---:|---:|---:|---:|\n");
    for (const Run& r : rows_) {
      const std::string name = r.benchmark_name();
      // name: BM_Quantize/format:F/n:N/real_time
      int format = 0;
      long long n = 0;
      std::sscanf(name.c_str() + name.find("format:"), "format:%d/n:%lld", &format, &n);
      std::printf("| %s | %s | %lld | %.2f | %.2f | %.0f %% |\n",
                  name.rfind("BM_Quantize", 0) == 0 ? "quantize" : "dequantize",
                  kFormatNames[format], n, r.counters.at("best_Gelem/s").value,
                  r.counters.at("best_GB/s").value, r.counters.at("best_of_bound_%").value);
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
  g_dram = ProbeBandwidthAt(kDramProbeBytes, kDramProbeBytes);
  std::printf("DRAM: read %.2f GB/s, write %.2f GB/s (single thread, %zu MiB buffers)\n",
              g_dram.read_bytes_per_s / 1e9, g_dram.write_bytes_per_s / 1e9,
              kDramProbeBytes >> 20);
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
