// Quantize / dequantize throughput of each BitNet-rs format on one thread,
// reported as a fraction of this machine's streaming bandwidth measured in
// the same run (bench/roofline.h). Traffic: 4 bytes per float, 1/4 byte per
// code, 4 bytes per block scale.
//
// usage: bench_cpu [google-benchmark flags]   (BITNET_CPU_TARGET picks a target)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bitnet_quant.h"
#include "roofline.h"

namespace {

using roofline::Traffic;

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

void BM_Quantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    const int status = bitnet_quantize(format, &opt, b.input.data(), n, b.packed.data(),
                                       b.packed.size(), b.scales.data(), b.scales.size());
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
  }
  roofline::ReportRates(state, n, {b.float_bytes, b.code_bytes}, bw);
}

void BM_Dequantize(benchmark::State& state) {
  const auto format = static_cast<bitnet_format>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  const bitnet_quant_options opt = CpuOptions();
  Buffers b = MakeBuffers(format, opt, n);
  const roofline::Bandwidth bw = roofline::LocalBandwidth();
  for (auto _ : state) {
    const int status = bitnet_dequantize(format, &opt, b.packed.data(), b.packed.size(),
                                         b.scales.data(), b.scales.size(), b.output.data(), n);
    if (status != BITNET_OK) state.SkipWithError(bitnet_last_error());
    benchmark::ClobberMemory();
  }
  roofline::ReportRates(state, n, {b.code_bytes, b.float_bytes}, bw);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int format = 0; format < 3; ++format) {
    for (int64_t n : {int64_t{4096}, int64_t{256} << 10, int64_t{16} << 20}) b->Args({format, n});
  }
  b->ArgNames({"format", "n"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  roofline::AddBest(b);
}

BENCHMARK(BM_Quantize)->Apply(Sizes);
BENCHMARK(BM_Dequantize)->Apply(Sizes);

// kernel | format | elements, from BM_Quantize/format:F/n:N/real_time.
std::string Columns(const std::string& name) {
  char row[128];
  std::snprintf(row, sizeof row, "| %s | %s | %lld |",
                name.rfind("BM_Quantize", 0) == 0 ? "quantize" : "dequantize",
                kFormatNames[roofline::NameArg(name, "format")], roofline::NameArg(name, "n"));
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bitnet_quant %s, CPU target %s\n", bitnet_version_string(),
              bitnet_cpu_target_name(bitnet_cpu_get_target()));
  roofline::TableReporter reporter("| kernel | format | elements |", Columns);
  roofline::RunWithRoofline(reporter);
  benchmark::Shutdown();
  return 0;
}
