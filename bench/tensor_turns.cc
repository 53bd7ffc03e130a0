// Two builds of the library's tensor operations, timed in turns in one
// process (turns.h): quantize, dequantize or transcode from library A,
// then from library B, on the same tensor rotated over copies that fill
// 512 MiB with their targets, so that every call reads and writes memory.
// Both builds must write the same bytes.
//
//   tensor_turns LIB_A LIB_B OP DST SRC [ROWS COLS [THREADS [OFFSET]]]
//
// OP is quantize (SRC 0, 1 or 30: F32 weights, or them truncated to F16 or
// BF16), dequantize (DST 0, 1 or 30: F32,
// F16, BF16) or transcode; DST and SRC are GGUF type ids (34 TQ1_0, 35
// TQ2_0, 36 I2_S, 42 Q2_0). The weights are normal random values, 4096 x
// 4096 unless given (bench_tensor's size); ternary sources are quantized
// to I2_S first, so that one scale serves every block, and transcoded
// from it. Transcodes may round scales (BITNET_TENSOR_ALLOW_SCALE_ROUNDING).
// Each target starts OFFSET bytes past a 64-byte boundary (0 unless given:
// where bench_tensor puts it; a large output streamed to another address
// goes through a thread's buffer).
// Prints each library's median time per call and A's over B's (above 1: B
// is faster). The same library twice shows the noise floor.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitnet_quant.h"
#include "turns.h"

namespace {

enum class Op { kQuantize, kDequantize, kTranscode };
constexpr size_t kTargetAlignment = 64;

bool ParseOp(const std::string& text, Op* op) {
  if (text == "quantize") *op = Op::kQuantize;
  else if (text == "dequantize") *op = Op::kDequantize;
  else if (text == "transcode") *op = Op::kTranscode;
  else return false;
  return true;
}

// The weights' bits cut to 16: random values need no rounding. F16 keeps
// normal magnitudes only (|x| < 2^-14 becomes 0; normal random values stay
// far below its largest).
uint16_t TruncatedBFloat(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t TruncatedHalf(float x) {
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exponent = static_cast<int>((bits >> 23) & 0xFFu) - 127 + 15;
  if (exponent <= 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(exponent) << 10 | (bits & 0x7FFFFFu) >> 13);
}

}  // namespace

int main(int argc, char** argv) {
  Op op = Op::kTranscode;
  long long dst = 0, src = 0, rows = 4096, cols = 4096, threads = 1, offset = 0;
  if (argc < 6 || argc == 7 || argc > 10 || !ParseOp(argv[3], &op) || !turns::ParseInt(argv[4], 0, &dst) ||
      !turns::ParseInt(argv[5], 0, &src) || (argc > 6 && !turns::ParseInt(argv[6], 1, &rows)) ||
      (argc > 7 && !turns::ParseInt(argv[7], 1, &cols)) || (argc > 8 && !turns::ParseInt(argv[8], 1, &threads)) ||
      (argc > 9 && (!turns::ParseInt(argv[9], 0, &offset) || offset >= static_cast<long long>(kTargetAlignment)))) {
    std::fprintf(stderr,
                 "usage: %s LIB_A LIB_B quantize|dequantize|transcode DST SRC [ROWS COLS [THREADS [OFFSET < 64]]]\n",
                 argv[0]);
    return 2;
  }
  turns::Library libs[2];
  if (!turns::Open("tensor_turns", argv[1], &libs[0]) || !turns::Open("tensor_turns", argv[2], &libs[1])) return 1;
  const turns::Library& a = libs[0];
  const auto dst_type = static_cast<bitnet_type>(dst), src_type = static_cast<bitnet_type>(src);
  const auto fail = [&](const turns::Library& lib) {
    std::fprintf(stderr, "tensor_turns: %s: %s\n", lib.path, lib.last_error());
    return 1;
  };

  size_t src_bytes = 0, dst_bytes = 0, i2s_bytes = 0;
  if (a.tensor_size(src_type, rows, cols, &src_bytes) != BITNET_OK ||
      a.tensor_size(dst_type, rows, cols, &dst_bytes) != BITNET_OK ||
      a.tensor_size(BITNET_TYPE_I2_S, rows, cols, &i2s_bytes) != BITNET_OK) {
    return fail(a);
  }
  std::mt19937 rng(1);  // NOLINT(cert-msc51-cpp): the same weights in every run
  std::normal_distribution<float> normal;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& v : w) v = normal(rng);
  const size_t copies = turns::CopiesFor(src_bytes, dst_bytes);
  std::vector<uint8_t> source(copies * src_bytes);
  bitnet_tensor_options options = BITNET_TENSOR_OPTIONS_INIT;
  options.n_threads = static_cast<int32_t>(threads);
  if (op == Op::kTranscode) options.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
  if (op == Op::kQuantize) {
    if (src_type == BITNET_TYPE_F32) {
      std::memcpy(source.data(), w.data(), src_bytes);
    } else if (src_type == BITNET_TYPE_BF16 || src_type == BITNET_TYPE_F16) {
      for (size_t i = 0; i < w.size(); ++i) {
        const uint16_t h = src_type == BITNET_TYPE_BF16 ? TruncatedBFloat(w[i]) : TruncatedHalf(w[i]);
        std::memcpy(&source[2 * i], &h, sizeof h);
      }
    } else {
      std::fprintf(stderr, "tensor_turns: quantize reads F32, F16 or BF16 weights (SRC 0, 1 or 30)\n");
      return 2;
    }
  } else {
    std::vector<uint8_t> i2s(i2s_bytes);
    if (a.tensor_quantize(BITNET_TYPE_I2_S, nullptr, BITNET_TYPE_F32, w.data(), rows, cols, i2s.data(), i2s_bytes) !=
        BITNET_OK) {
      return fail(a);
    }
    if (src_type == BITNET_TYPE_I2_S) {
      std::memcpy(source.data(), i2s.data(), i2s_bytes);
    } else {
      bitnet_tensor_options rounding = BITNET_TENSOR_OPTIONS_INIT;
      rounding.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
      if (a.tensor_transcode(src_type, &rounding, BITNET_TYPE_I2_S, i2s.data(), i2s_bytes, rows, cols,
                             source.data(), src_bytes) != BITNET_OK) {
        return fail(a);
      }
    }
  }
  for (size_t c = 1; c < copies; ++c) std::memcpy(&source[c * src_bytes], source.data(), src_bytes);
  // Copies a whole number of 64-byte lines apart, the first OFFSET bytes
  // past a line.
  const size_t dst_stride = (dst_bytes + kTargetAlignment - 1) / kTargetAlignment * kTargetAlignment;
  std::vector<uint8_t> target_bytes(copies * dst_stride + 2 * kTargetAlignment, 1);
  uint8_t* const target = target_bytes.data() +
                          (kTargetAlignment - reinterpret_cast<uintptr_t>(target_bytes.data()) % kTargetAlignment) +
                          static_cast<size_t>(offset);

  const auto call = [&](const turns::Library& lib, size_t c) -> int {
    const uint8_t* in = &source[c * src_bytes];
    uint8_t* out = target + c * dst_stride;
    switch (op) {
      case Op::kQuantize:
        return lib.tensor_quantize(dst_type, &options, src_type, in, rows, cols, out, dst_bytes);
      case Op::kDequantize:
        return lib.tensor_dequantize(src_type, &options, in, src_bytes, rows, cols, dst_type, out, dst_bytes);
      case Op::kTranscode:
        return lib.tensor_transcode(dst_type, &options, src_type, in, src_bytes, rows, cols, out, dst_bytes);
    }
    return BITNET_E_INVALID_ARGUMENT;
  };
  // Both builds' bytes, from the first two copies.
  for (int k = 0; k < 2; ++k) {
    if (call(libs[k], static_cast<size_t>(k)) != BITNET_OK) return fail(libs[k]);
  }
  if (std::memcmp(target, target + dst_stride, dst_bytes) != 0) {
    std::fprintf(stderr, "tensor_turns: the two libraries' bytes differ\n");
    return 1;
  }

  double median_a = 0, median_b = 0;
  if (!turns::TimeInTurns([&](int k, size_t i) { return call(libs[k], i % copies); }, &median_a, &median_b)) return 1;
  std::printf("%s %lld <- %lld %lldx%lld threads %lld: A %.1f us, B %.1f us (%.2f Gelem/s), A/B %.3f\n", argv[3], dst,
              src, rows, cols, threads, median_a, median_b, static_cast<double>(rows * cols) / median_b / 1e3,
              median_a / median_b);
  return 0;
}
