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
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bitnet_quant.h"
#include "roofline.h"

namespace {

using roofline::Bandwidth;
using roofline::Traffic;

// Each bandwidth probe: the best of 9 timed passes.
constexpr int kProbePasses = 9;
// The machine's DRAM streaming bandwidth, printed for reference.
Bandwidth g_dram;

// The bound of a kernel moving `t`, from a probe of its own buffer sizes
// (rounded up to 16 bytes), measured once per pair of sizes.
double BoundSeconds(const Traffic& t) {
  static std::map<std::pair<size_t, size_t>, Bandwidth> probed;
  const auto round16 = [](double bytes) { return (static_cast<size_t>(bytes) + 15) / 16 * 16; };
  const std::pair<size_t, size_t> sizes{round16(t.read), round16(t.written)};
  auto it = probed.find(sizes);
  if (it == probed.end()) {
    it = probed.emplace(sizes, roofline::MeasureBandwidth(sizes.first, sizes.second, kProbePasses)).first;
  }
  return roofline::BoundSeconds(t, it->second);
}

const char* const kFormatNames[] = {"I2_S", "TL1", "TL2"};

struct Buffers {
  std::vector<float> input, scales, output;
  std::vector<uint8_t> packed;
  double float_bytes, code_bytes;  // the two sides of the traffic
};

Buffers MakeBuffers(bitnet_format format, const bitnet_quant_options& opt, size_t n) {
  Buffers b;
  size_t packed_len = 0, scales_len = 0;
  bitnet_quant_buffer_sizes(format, &opt, n, &packed_len, &scales_len);
  b.input = roofline::LlmWeights(n);
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

// Prints the usual console output, then one markdown table for the README.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (roofline::RunFailed(r, 0) || r.run_type != Run::RT_Iteration) continue;
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
  g_dram = roofline::MeasureBandwidth(roofline::kProbeBytes, roofline::kProbeBytes, kProbePasses);
  std::printf("DRAM: read %.2f GB/s, write %.2f GB/s (single thread, %zu MiB buffers)\n",
              g_dram.read_bytes_per_s / 1e9, g_dram.write_bytes_per_s / 1e9,
              roofline::kProbeBytes >> 20);
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
