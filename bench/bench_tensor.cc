// The tensor layouts' hot paths through the public tensor API on the best
// CPU target (or BITNET_CPU_TARGET), at 16 Mi elements of LLM-like weights
// (each call on the next of copies that fill 512 MiB: from memory, not a
// cache) and the codecs at 256 Ki (in cache), as a fraction of this machine's
// single-thread streaming bandwidth measured in the same run
// (bench/roofline.h). Traffic per call:
//   quantize L from S     reads n * size(S), writes the L tensor's bytes
//   dequantize L to D     reads the L tensor's bytes, writes n * size(D)
//   absmean mean          reads 4n (the mean pass alone, below)
//   ternarize             reads 4n twice (the mean, then the codes), writes n
//   transcode A to B      reads the A tensor once, writes the B tensor (the
//                         operation reads A twice: a checking pass first)
// I2_S quantize is one pass (bitnet_tensor_quantize codes each step under
// its own scale). Lines with threads:2 run on two threads; their % is of
// the same single-thread bound (so above 100 % where threads add bandwidth).
//
// The absmean mean has no entry point of its own: it is timed here as the
// tensor operations run it (the abs_scan_chunk kernel over 64 Ki-element
// chunks, chunk sums added in order), on the library's best compiled
// target; its result is checked against bitnet_ternarize's alpha first.
//
// usage: bench_tensor [google-benchmark flags], e.g.
//   bench_tensor --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bitnet_quant.h"
#include "cpu/kernels.h"
#include "formats/absmean.h"
#include "hwy/targets.h"
#include "roofline.h"

namespace {

using roofline::Traffic;

constexpr int64_t kCols = 4096;  // rows x kCols tensors

size_t ElementSize(bitnet_type t) { return t == BITNET_TYPE_F32 ? 4 : 2; }

size_t TensorBytes(bitnet_type t, int64_t rows) {
  size_t bytes = 0;
  if (bitnet_tensor_size(t, rows, kCols, &bytes) != BITNET_OK) {
    std::fprintf(stderr, "bitnet_tensor_size(%s): %s\n", bitnet_type_name(t), bitnet_last_error());
    std::exit(1);
  }
  return bytes;
}

bitnet_tensor_options Options(int threads) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.n_threads = threads;
  return o;
}

// LLM-like weights, generated once per size.
const std::vector<float>& F32Weights(size_t n) {
  static std::map<size_t, std::vector<float>> cache;
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, roofline::LlmWeights(n)).first;
  return it->second;
}

// The weights as element type t.
std::vector<uint8_t> Weights(bitnet_type t, int64_t rows) {
  const size_t n = static_cast<size_t>(rows * kCols);
  const std::vector<float>& x = F32Weights(n);
  std::vector<uint8_t> out(n * ElementSize(t));
  const bitnet_tensor_options o = Options(1);
  if (bitnet_tensor_quantize(t, &o, BITNET_TYPE_F32, x.data(), rows, kCols, out.data(), out.size()) !=
      BITNET_OK) {
    std::fprintf(stderr, "weights as %s: %s\n", bitnet_type_name(t), bitnet_last_error());
    std::exit(1);
  }
  return out;
}

// A call's source and destination, rotated over copies that fill 512 MiB
// at 16 Mi elements, so that every call reads and writes memory that no
// cache holds (a VM with a 300 MiB L3 kept the 64 MiB of a single F32
// tensor there); a single copy at the in-cache size. The destinations are
// written once here, so that no call takes their page faults. They are
// aligned to 64 bytes, where dequantize's decoders stream a large output
// themselves (at another address it goes through a thread's buffer; a large
// malloc'd block sits 16 bytes past a page).
constexpr size_t kRotateBytes = size_t{512} << 20;
constexpr size_t kOutAlignment = 64;

class Rotation {
 public:
  Rotation(const void* source, size_t in_bytes, size_t out_bytes, int64_t rows) {
    const size_t copies = rows >= kRotateRows ? kRotateBytes / (in_bytes + out_bytes) + 1 : 1;
    for (size_t c = 0; c < copies; ++c) {
      ins_.emplace_back(static_cast<const uint8_t*>(source), static_cast<const uint8_t*>(source) + in_bytes);
      outs_.emplace_back(out_bytes + kOutAlignment);
    }
  }
  // The next call's buffers.
  void Next() { at_ = (at_ + 1) % ins_.size(); }
  const uint8_t* in() const { return ins_[at_].data(); }
  uint8_t* out() {
    uint8_t* p = outs_[at_].data();
    return p + (kOutAlignment - reinterpret_cast<uintptr_t>(p) % kOutAlignment) % kOutAlignment;
  }
  size_t in_bytes() const { return ins_[0].size(); }
  size_t out_bytes() const { return outs_[0].size() - kOutAlignment; }

 private:
  static constexpr int64_t kRotateRows = 4096;  // 16 Mi elements and above
  size_t at_ = 0;
  std::vector<std::vector<uint8_t>> ins_, outs_;
};

// Args: layout, element type, threads, rows.
void BM_Quantize(benchmark::State& state) {
  const auto layout = static_cast<bitnet_type>(state.range(0));
  const auto src = static_cast<bitnet_type>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const int64_t rows = state.range(3);
  const size_t n = static_cast<size_t>(rows * kCols);
  const std::vector<uint8_t> x = Weights(src, rows);
  Rotation r(x.data(), x.size(), TensorBytes(layout, rows), rows);
  const bitnet_tensor_options o = Options(threads);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    const int status = bitnet_tensor_quantize(layout, &o, src, r.in(), rows, kCols, r.out(), r.out_bytes());
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
    r.Next();
  }
  roofline::ReportRates(state, n, {static_cast<double>(r.in_bytes()), static_cast<double>(r.out_bytes())}, bw);
}

void BM_Dequantize(benchmark::State& state) {
  const auto layout = static_cast<bitnet_type>(state.range(0));
  const auto dst = static_cast<bitnet_type>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const int64_t rows = state.range(3);
  const size_t n = static_cast<size_t>(rows * kCols);
  const std::vector<uint8_t> x = Weights(BITNET_TYPE_F32, rows);
  std::vector<uint8_t> in(TensorBytes(layout, rows));
  const bitnet_tensor_options o = Options(threads);
  if (bitnet_tensor_quantize(layout, &o, BITNET_TYPE_F32, x.data(), rows, kCols, in.data(), in.size()) !=
      BITNET_OK) {
    state.SkipWithError(bitnet_last_error());
    return;
  }
  Rotation r(in.data(), in.size(), n * ElementSize(dst), rows);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    const int status = bitnet_tensor_dequantize(layout, &o, r.in(), r.in_bytes(), rows, kCols, dst, r.out(),
                                                r.out_bytes());
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
    r.Next();
  }
  roofline::ReportRates(state, n, {static_cast<double>(r.in_bytes()), static_cast<double>(r.out_bytes())}, bw);
}

// The mean of absmean, as the tensor operations compute it (see the top).
struct MeanKernel {
  bitnet::TensorKernels kernels{};
  const char* target = "";
  MeanKernel() {
    const int64_t best = hwy::SupportedTargets() & HWY_TARGETS;
    const int64_t bit = best & -best;  // the lowest bit: the best target
    bitnet::HwyAbsmeanKernels(bit, &kernels);
    target = hwy::TargetName(bit);
  }
  // 1 / s, the alpha of a non-ternary tensor.
  float Alpha(const float* x, size_t n) const {
    double sum = 0.0;
    bitnet::TernaryScan scan{true, true, 0.0f}, part;
    for (size_t c = 0; c < n; c += bitnet::kAbsSumChunk) {
      const size_t len = n - c < bitnet::kAbsSumChunk ? n - c : bitnet::kAbsSumChunk;
      sum += kernels.abs_scan_chunk(x + c, len, &part);
      scan = c == 0 ? part : bitnet::MergeScans(scan, part);
    }
    benchmark::DoNotOptimize(scan);
    return 1.0f / bitnet::AbsmeanInverseScale(sum, n);
  }
};

void BM_AbsmeanMean(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const size_t n = static_cast<size_t>(rows * kCols);
  const std::vector<float>& x = F32Weights(n);
  const MeanKernel mean;
  // The same number as the library's.
  std::vector<int8_t> codes(n);
  float alpha = 0.0f;
  const bitnet_tensor_options o = Options(1);
  if (bitnet_ternarize(&o, BITNET_TYPE_F32, x.data(), rows, kCols, codes.data(), n, &alpha, 1) != BITNET_OK ||
      mean.Alpha(x.data(), n) != alpha) {
    state.SkipWithError("the mean kernel does not give bitnet_ternarize's alpha");
    return;
  }
  state.SetLabel(mean.target);
  Rotation r(x.data(), 4 * n, 0, rows);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    benchmark::DoNotOptimize(mean.Alpha(reinterpret_cast<const float*>(r.in()), n));
    r.Next();
  }
  roofline::ReportRates(state, n, {4.0 * n, 0.0}, bw);
}

// Args: threads, rows.
void BM_Ternarize(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t rows = state.range(1);
  const size_t n = static_cast<size_t>(rows * kCols);
  Rotation r(F32Weights(n).data(), 4 * n, n, rows);
  float alpha = 0.0f;
  const bitnet_tensor_options o = Options(threads);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    const int status = bitnet_ternarize(&o, BITNET_TYPE_F32, r.in(), rows, kCols, reinterpret_cast<int8_t*>(r.out()),
                                        n, &alpha, 1);
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
    r.Next();
  }
  roofline::ReportRates(state, n, {8.0 * n, 1.0 * n}, bw);
}

// Transcode between the block layouts: the source made from the weights
// (I2_S quantized; TQ2_0 transcoded from that, so that its blocks share
// I2_S's scale), scales rounded where the target needs it. Traffic: the
// source read once, the target written once.
void BM_Transcode(benchmark::State& state) {
  const auto src = static_cast<bitnet_type>(state.range(0));
  const auto dst = static_cast<bitnet_type>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const int64_t rows = state.range(3);
  const size_t n = static_cast<size_t>(rows * kCols);
  bitnet_tensor_options o = Options(threads);
  o.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
  std::vector<uint8_t> i2s(TensorBytes(BITNET_TYPE_I2_S, rows));
  std::vector<uint8_t> in(TensorBytes(src, rows));
  int status = bitnet_tensor_quantize(BITNET_TYPE_I2_S, &o, BITNET_TYPE_F32, F32Weights(n).data(), rows,
                                      kCols, i2s.data(), i2s.size());
  if (status == BITNET_OK && src != BITNET_TYPE_I2_S) {
    status = bitnet_tensor_transcode(src, &o, BITNET_TYPE_I2_S, i2s.data(), i2s.size(), rows, kCols,
                                     in.data(), in.size());
  } else {
    in = i2s;
  }
  if (status != BITNET_OK) {
    state.SkipWithError(bitnet_last_error());
    return;
  }
  Rotation r(in.data(), in.size(), TensorBytes(dst, rows), rows);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    status = bitnet_tensor_transcode(dst, &o, src, r.in(), r.in_bytes(), rows, kCols, r.out(), r.out_bytes());
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
    r.Next();
  }
  roofline::ReportRates(state, n, {static_cast<double>(r.in_bytes()), static_cast<double>(r.out_bytes())}, bw);
}

// 16 Mi elements: 4096 rows of 4096.
constexpr int64_t kRows = 4096;
const bitnet_type kLayouts[] = {BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, BITNET_TYPE_Q2_0, BITNET_TYPE_I2_S};
const bitnet_type kElements[] = {BITNET_TYPE_F32, BITNET_TYPE_BF16, BITNET_TYPE_F16};

void Common(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMillisecond);
  roofline::AddBest(b);
}

// 256 Ki elements (64 rows): in cache, the kernels' own speed.
constexpr int64_t kCachedRows = 64;

void Codecs(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {kRows, kCachedRows}) {
    for (bitnet_type l : kLayouts) {
      for (bitnet_type e : kElements) b->Args({l, e, 1, rows});
    }
  }
  for (bitnet_type l : {BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S}) b->Args({l, BITNET_TYPE_F32, 2, kRows});
  b->ArgNames({"layout", "type", "threads", "rows"});
  Common(b);
}

BENCHMARK(BM_Quantize)->Apply(Codecs);
BENCHMARK(BM_Dequantize)->Apply(Codecs);
BENCHMARK(BM_AbsmeanMean)->ArgName("rows")->Arg(kRows)->Apply(Common);
BENCHMARK(BM_Ternarize)->ArgNames({"threads", "rows"})->Args({1, kRows})->Args({2, kRows})->Apply(Common);
BENCHMARK(BM_Transcode)
    ->ArgNames({"src", "dst", "threads", "rows"})
    ->Args({BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, 1, kRows})
    ->Args({BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, 1, kRows})
    ->Args({BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, 2, kRows})
    ->Args({BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, 1, kRows})
    ->Args({BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, 1, kRows})
    ->Args({BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0, 1, kRows})
    ->Args({BITNET_TYPE_TQ1_0, BITNET_TYPE_I2_S, 1, kRows})
    ->Apply(Common);

// op | from | to | elements | threads, from the benchmark's name.
std::string Columns(const std::string& name) {
  const auto arg = [&](const char* key) { return roofline::NameArg(name, key); };
  const long long threads = arg("threads") > 0 ? arg("threads") : 1;
  const long long elements = arg("rows") * kCols;
  char row[160];
  if (name.rfind("BM_AbsmeanMean", 0) == 0) {
    std::snprintf(row, sizeof row, "| absmean mean | F32 | | %lld | 1 |", elements);
  } else if (name.rfind("BM_Ternarize", 0) == 0) {
    std::snprintf(row, sizeof row, "| ternarize (mean, codes) | F32 | int8 | %lld | %lld |", elements, threads);
  } else if (name.rfind("BM_Transcode", 0) == 0) {
    std::snprintf(row, sizeof row, "| transcode | %s | %s | %lld | %lld |",
                  bitnet_type_name(static_cast<bitnet_type>(arg("src"))),
                  bitnet_type_name(static_cast<bitnet_type>(arg("dst"))), elements, threads);
  } else {
    const bool quantize = name.rfind("BM_Quantize", 0) == 0;
    const char* layout = bitnet_type_name(static_cast<bitnet_type>(arg("layout")));
    const char* type = bitnet_type_name(static_cast<bitnet_type>(arg("type")));
    std::snprintf(row, sizeof row, "| %s | %s | %s | %lld | %lld |", quantize ? "quantize" : "dequantize",
                  quantize ? type : layout, quantize ? layout : type, elements, threads);
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bitnet_quant %s, CPU target %s\n", bitnet_version_string(),
              bitnet_cpu_target_name(bitnet_cpu_get_target()));
  roofline::TableReporter reporter("| op | from | to | elements | threads |", Columns);
  roofline::RunWithRoofline(reporter);
  benchmark::Shutdown();
  return 0;
}
