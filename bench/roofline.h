// The roofline of the CPU benchmarks: this machine's single-thread streaming
// bandwidth, measured in the same run (before and after the benchmarks; the
// better of the two counts), and each kernel's bound, the time its bytes
// take at that bandwidth: bytes_read / read_bw + bytes_written / write_bw.
// A markdown table reporter prints the fraction of the bound that each
// benchmark reached (the median and the best of the repetitions when
// --benchmark_repetitions is given).
#ifndef BITNET_BENCH_ROOFLINE_H_
#define BITNET_BENCH_ROOFLINE_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace roofline {

struct Bandwidth {
  double read_bytes_per_s = 0;
  double write_bytes_per_s = 0;
};
inline Bandwidth g_bandwidth;

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
inline Bandwidth MeasureBandwidth() {
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

// Bytes one call must move.
struct Traffic {
  double read;
  double written;
};

inline double BoundSeconds(const Traffic& t) {
  return t.read / g_bandwidth.read_bytes_per_s + t.written / g_bandwidth.write_bytes_per_s;
}

// Items and bytes per second, and the traffic of one iteration (plain
// counters, so that every aggregate of them is the traffic itself).
inline void ReportRates(benchmark::State& state, size_t n, const Traffic& t) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (t.read + t.written)));
  state.counters["read_B"] = t.read;
  state.counters["written_B"] = t.written;
  state.counters["elements"] = static_cast<double>(n);
}

// The best repetition, next to Google Benchmark's mean/median/stddev.
inline void AddBest(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("best", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

// Weights like an LLM's: normal(0, 0.02), with rare outliers.
inline std::vector<float> LlmWeights(size_t n) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng) * (u(rng) < 0.001f ? 20.0f : 1.0f);
  return x;
}

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

// One table row: what was measured, from the run's name; the caller's
// columns come first, then Gelem/s, GB/s and the % of the bound.
struct Measured {
  std::string name;  // the benchmark's name without the aggregate suffix
  double seconds;    // per iteration
  double elements;
  double bytes_per_s;
  Traffic traffic;
};

// Collects the runs while printing the usual console output; PrintTable
// then prints one markdown table against g_bandwidth: per benchmark the
// single run, or the median and best of the repetitions.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  using Columns = std::function<std::string(const std::string& name)>;
  TableReporter(std::string header, Columns columns)
      : header_(std::move(header)), columns_(std::move(columns)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (RunFailed(r, 0)) continue;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median" && r.aggregate_name != "best") continue;
      Row& row = rows_[r.run_name.str()];
      if (row.order == 0) row.order = ++count_;
      const double seconds = r.GetAdjustedRealTime() / TimeUnitPerSecond(r.time_unit);
      const Traffic traffic{r.counters.at("read_B").value, r.counters.at("written_B").value};
      const double elements = r.counters.at("elements").value;
      const double bytes_per_s = r.counters.at("bytes_per_second").value;
      if (!aggregate) {
        row.median = row.best = {r.run_name.str(), seconds, elements, bytes_per_s, traffic};
        row.repeated = false;
      } else if (r.aggregate_name == "median") {
        row.median = {r.run_name.str(), seconds, elements, bytes_per_s, traffic};
        row.repeated = true;
      } else {
        row.best = {r.run_name.str(), seconds, elements, bytes_per_s, traffic};
      }
    }
  }

  void PrintTable() const {
    std::printf("\nSingle-thread streaming bandwidth: read %.2f GB/s, write %.2f GB/s\n",
                g_bandwidth.read_bytes_per_s / 1e9, g_bandwidth.write_bytes_per_s / 1e9);
    std::vector<const Row*> ordered;
    for (const auto& kv : rows_) ordered.push_back(&kv.second);
    std::sort(ordered.begin(), ordered.end(),
              [](const Row* a, const Row* b) { return a->order < b->order; });
    const bool repeated = !ordered.empty() && ordered.front()->repeated;
    std::printf("\n%s Gelem/s | GB/s | %% of bound |%s\n", header_.c_str(),
                repeated ? " best: % of bound |" : "");
    std::string rule = "|";
    for (size_t c = 1; c < static_cast<size_t>(std::count(header_.begin(), header_.end(), '|')); ++c) {
      rule += "---|";
    }
    for (int c = 0; c < (repeated ? 4 : 3); ++c) rule += "---:|";
    std::printf("%s\n", rule.c_str());
    for (const Row* row : ordered) {
      const Measured& m = row->median;
      std::printf("%s %.2f | %.2f | %.0f %% |", columns_(m.name).c_str(), m.elements / m.seconds / 1e9,
                  m.bytes_per_s / 1e9, 100.0 * BoundSeconds(m.traffic) / m.seconds);
      if (repeated) {
        std::printf(" %.0f %% |", 100.0 * BoundSeconds(row->best.traffic) / row->best.seconds);
      }
      std::printf("\n");
    }
  }

 private:
  static double TimeUnitPerSecond(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kNanosecond: return 1e9;
      case benchmark::kMicrosecond: return 1e6;
      case benchmark::kMillisecond: return 1e3;
      default: return 1.0;
    }
  }

  struct Row {
    size_t order = 0;
    bool repeated = false;
    Measured median, best;
  };
  std::string header_;
  Columns columns_;
  std::map<std::string, Row> rows_;
  size_t count_ = 0;
};

// Measures the bandwidth, runs the benchmarks, measures it again and prints
// the table against the better of the two measurements (so that a machine
// that got busier during the run does not inflate the percentages).
inline void RunWithRoofline(TableReporter& reporter) {
  const Bandwidth before = MeasureBandwidth();
  std::printf("measured read %.2f GB/s, write %.2f GB/s (single thread, %zu MiB buffers)\n",
              before.read_bytes_per_s / 1e9, before.write_bytes_per_s / 1e9, kProbeBytes >> 20);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const Bandwidth after = MeasureBandwidth();
  std::printf("\nmeasured again: read %.2f GB/s, write %.2f GB/s\n", after.read_bytes_per_s / 1e9,
              after.write_bytes_per_s / 1e9);
  g_bandwidth = {std::max(before.read_bytes_per_s, after.read_bytes_per_s),
                 std::max(before.write_bytes_per_s, after.write_bytes_per_s)};
  reporter.PrintTable();
}

// "key:value" of a benchmark name such as BM_X/format:1/n:4096/real_time.
inline long long NameArg(const std::string& name, const char* key) {
  const std::string k = std::string("/") + key + ":";
  const size_t at = name.find(k);
  return at == std::string::npos ? -1 : std::atoll(name.c_str() + at + k.size());
}

}  // namespace roofline

#endif  // BITNET_BENCH_ROOFLINE_H_
