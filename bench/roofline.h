// The roofline of the CPU benchmarks: each kernel's bound is the time its
// bytes take at this machine's single-thread streaming bandwidth,
// bytes_read / read_bw + bytes_written / write_bw, with the bandwidth
// measured in the same run: once at the start (printed), and again right
// before every benchmark (and every repetition), whose percentage uses its
// own measurement, so that other load on a shared machine moves both
// together. A markdown table reporter prints, per benchmark, the single run
// or the median and the best of the repetitions (--benchmark_repetitions).
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

#include "cpu/stream_pages.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace roofline {

struct Bandwidth {
  double read_bytes_per_s = 0;
  double write_bytes_per_s = 0;
};

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

// Single-thread bandwidth through hot buffers of `read_bytes` and
// `write_bytes` (multiples of 16): reads, the better of a summing loop and
// glibc's vectorized memchr (for a byte that is not there); writes, the
// best of memset, a plain store loop and (x86) loops of non-temporal
// stores, which dequantize uses for large outputs (every line, or all but
// each page's first line, as the library does); each the best of
// `passes` timed passes. A pass repeats
// the operation on the same buffer so that it covers at least 256 KiB:
// small buffers stay in the caches, buffers larger than any last-level
// cache stream from DRAM.
inline Bandwidth MeasureBandwidth(size_t read_bytes, size_t write_bytes, int passes) {
  constexpr size_t kPassBytes = size_t{256} << 10;
  Bandwidth bw;
  {
    std::vector<uint64_t> buf(read_bytes / sizeof(uint64_t), 0);
    const size_t n = buf.size(), reps = std::max<size_t>(1, kPassBytes / read_bytes);
    uint64_t sink = 0;
    const double sum_s = BestSeconds(passes, [&] {
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
    const double memchr_s = BestSeconds(passes, [&] {
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
    const double memset_s = BestSeconds(passes, [&] {
      for (size_t r = 0; r < reps; ++r) {
        std::memset(buf.data(), ++value, write_bytes);
        benchmark::ClobberMemory();
      }
    });
    const double store_s = BestSeconds(passes, [&] {
      for (size_t r = 0; r < reps; ++r) {
        const uint64_t v = ++value;
        for (size_t i = 0; i < n; ++i) buf[i] = v;
        benchmark::ClobberMemory();
      }
    });
    double stream_s = store_s, page_stream_s = store_s;
#if defined(__x86_64__)
    stream_s = BestSeconds(passes, [&] {
      for (size_t r = 0; r < reps; ++r) {
        const __m128i v = _mm_set1_epi64x(static_cast<long long>(++value));
        for (size_t i = 0; i + 2 <= n; i += 2) _mm_stream_si128(reinterpret_cast<__m128i*>(&buf[i]), v);
        _mm_sfence();
        benchmark::ClobberMemory();
      }
    });
    // The same with each page's first line stored plainly, as the library
    // streams (cpu/stream_pages.h; on the AMD EPYC VM about twice as fast as
    // streaming every line).
    page_stream_s = BestSeconds(passes, [&] {
      for (size_t r = 0; r < reps; ++r) {
        const __m128i v = _mm_set1_epi64x(static_cast<long long>(++value));
        for (size_t i = 0; i + 2 <= n; i += 2) {
          auto* p = reinterpret_cast<__m128i*>(&buf[i]);
          if (bitnet::StartsStreamPage(p)) {
            _mm_storeu_si128(p, v);
          } else {
            _mm_stream_si128(p, v);
          }
        }
        _mm_sfence();
        benchmark::ClobberMemory();
      }
    });
#endif
    bw.write_bytes_per_s =
        static_cast<double>(reps * write_bytes) / std::min({memset_s, store_s, stream_s, page_stream_s});
  }
  return bw;
}

// The start-of-run measurement, and the one before each benchmark: taken
// again when the last one is more than 250 ms old (Google Benchmark calls
// a benchmark several times in a row to size its iteration count).
constexpr size_t kProbeBytes = size_t{512} << 20;
constexpr size_t kLocalProbeBytes = size_t{256} << 20;
inline Bandwidth LocalBandwidth() {
  using Clock = std::chrono::steady_clock;
  static Bandwidth last;
  static Clock::time_point taken;
  if (last.read_bytes_per_s == 0 || Clock::now() - taken > std::chrono::milliseconds(250)) {
    last = MeasureBandwidth(kLocalProbeBytes, kLocalProbeBytes, 3);
    taken = Clock::now();
  }
  return last;
}

// Bytes one call must move.
struct Traffic {
  double read;
  double written;
};

inline double BoundSeconds(const Traffic& t, const Bandwidth& bw) {
  return t.read / bw.read_bytes_per_s + t.written / bw.write_bytes_per_s;
}

// Items and bytes per second, the bandwidth measured before the benchmark,
// and its % of the bound (a rate counter divides by the measured time:
// bound time / real time).
inline void ReportRates(benchmark::State& state, size_t n, const Traffic& t, const Bandwidth& bw) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (t.read + t.written)));
  state.counters["elements"] = static_cast<double>(n);
  state.counters["read_GBps"] = bw.read_bytes_per_s / 1e9;
  state.counters["write_GBps"] = bw.write_bytes_per_s / 1e9;
  state.counters["of_bound_%"] = benchmark::Counter(
      100.0 * BoundSeconds(t, bw) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The best repetition (the highest %) next to Google Benchmark's median.
inline void AddBest(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("best", [](const std::vector<double>& v) {
    return *std::max_element(v.begin(), v.end());
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

// Collects the runs while printing the usual console output; PrintTable
// prints the markdown table: the caller's columns from the benchmark's
// name, then Gelem/s and GB/s (median time), the bandwidth measured before
// it, and the % of the bound (median; and best of the repetitions).
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
      const double pct = r.counters.at("of_bound_%").value;
      if (aggregate && r.aggregate_name == "best") {
        row.best_pct = pct;
        continue;
      }
      row.name = r.run_name.str();
      row.repeated = aggregate;
      row.seconds = r.GetAdjustedRealTime() / TimeUnitPerSecond(r.time_unit);
      row.elements = r.counters.at("elements").value;
      row.bytes_per_s = r.counters.at("bytes_per_second").value;
      row.read_gbps = r.counters.at("read_GBps").value;
      row.write_gbps = r.counters.at("write_GBps").value;
      row.pct = pct;
      if (!aggregate) row.best_pct = pct;
    }
  }

  void PrintTable() const {
    std::vector<const Row*> ordered;
    for (const auto& kv : rows_) ordered.push_back(&kv.second);
    std::sort(ordered.begin(), ordered.end(),
              [](const Row* a, const Row* b) { return a->order < b->order; });
    const bool repeated = !ordered.empty() && ordered.front()->repeated;
    std::printf("\n%s Gelem/s | GB/s | bandwidth read/write GB/s | %% of bound |%s\n",
                header_.c_str(), repeated ? " best % |" : "");
    std::string rule = "|";
    const long columns = std::count(header_.begin(), header_.end(), '|') - 1;
    for (long c = 0; c < columns; ++c) rule += "---|";
    for (int c = 0; c < (repeated ? 5 : 4); ++c) rule += "---:|";
    std::printf("%s\n", rule.c_str());
    for (const Row* row : ordered) {
      std::printf("%s %.2f | %.2f | %.1f / %.1f | %.0f %% |", columns_(row->name).c_str(),
                  row->elements / row->seconds / 1e9, row->bytes_per_s / 1e9, row->read_gbps,
                  row->write_gbps, row->pct);
      if (repeated) std::printf(" %.0f %% |", row->best_pct);
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
    std::string name;
    double seconds = 0, elements = 0, bytes_per_s = 0, read_gbps = 0, write_gbps = 0;
    double pct = 0, best_pct = 0;
  };
  std::string header_;
  Columns columns_;
  std::map<std::string, Row> rows_;
  size_t count_ = 0;
};

// Measures and prints the bandwidth, runs the benchmarks, prints the table.
inline void RunWithRoofline(TableReporter& reporter) {
  const Bandwidth bw = MeasureBandwidth(kProbeBytes, kProbeBytes, 7);
  std::printf("measured read %.2f GB/s, write %.2f GB/s (single thread, %zu MiB buffers); each "
              "benchmark measures again (%zu MiB) before it runs\n",
              bw.read_bytes_per_s / 1e9, bw.write_bytes_per_s / 1e9, kProbeBytes >> 20,
              kLocalProbeBytes >> 20);
  benchmark::RunSpecifiedBenchmarks(&reporter);
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
