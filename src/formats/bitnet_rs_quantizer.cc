// Written from the semantics of BitNet-rs crates/bitnet-quantization
// (i2s.rs, tl1.rs, tl2.rs, utils.rs, simd_ops.rs scalar path); each step
// mirrors one step there, including its float operation order.
#include "formats/bitnet_rs_quantizer.h"

#include <cmath>
#include <cstring>

#include "formats/scalar_math.h"

namespace bitnet {
namespace {

float CalculateScale(const float* block, size_t len) {
  float m = 0.0f;
  for (size_t i = 0; i < len; ++i) {
    if (std::isfinite(block[i])) m = MaxSkippingNaN(m, std::fabs(block[i]));
  }
  return StoredScale(m);
}

// tl1.rs LookupTable::new(min, max, bits = 2, symmetric).
struct Tl1Table {
  float scale;
  int32_t forward[256];

  Tl1Table(float min_val, float max_val) {
    const float abs_max = MaxSkippingNaN(std::fabs(max_val), std::fabs(min_val));
    scale = abs_max == 0.0f ? 1.0f : abs_max / 1.0f;
    for (int i = 0; i < 256; ++i) {
      const float float_val = (static_cast<float>(i) - 128.0f) * scale;
      const int32_t q = SaturatingI32(std::round(float_val / scale));
      forward[i] = Clamp(SaturatingAdd(q, 2), 0, 3);
    }
  }
  int32_t Quantize(float value) const {
    const int32_t index = SaturatingI32(std::round(value / scale + 128.0f));
    return forward[Clamp(index, 0, 255)];
  }
};

// tl2.rs VectorizedLookupTable::new(-s, s, bits = 2), via get_lookup_table.
struct Tl2Table {
  float scale;
  int32_t forward[256];

  explicit Tl2Table(float block_scale) {
    const float abs_max_in = block_scale * 1.0f;
    const float abs_max = MaxSkippingNaN(std::fabs(abs_max_in), std::fabs(-abs_max_in));
    scale = abs_max / 1.0f;
    for (int i = 0; i < 256; ++i) {
      const float float_val = (static_cast<float>(i) - 128.0f) * scale / 128.0f;
      const int32_t q = SaturatingI32(std::round(float_val / scale));
      forward[i] = Clamp(SaturatingAdd(q, 2), 0, 3);
    }
  }
  int32_t Quantize(float value) const {
    const float normalized = std::round(value / scale * 128.0f + 128.0f);
    return forward[SaturatingIndex255(normalized)];
  }
};

void PutCode(uint8_t* packed, size_t i, int32_t code) {
  packed[i / 4] |= static_cast<uint8_t>((code & 3) << (2 * (i % 4)));
}

}  // namespace

bool HasFiniteElement(const float* input, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(input[i])) return true;
  }
  return false;
}

void ReferenceQuantize(Format format, const float* input, size_t n,
                       size_t block, uint8_t* packed, float* scales) {
  std::memset(packed, 0, PackedSize(n));
  for (size_t b = 0; b < NumBlocks(n, block); ++b) {
    const size_t start = b * block;
    const size_t len = (n - start < block) ? n - start : block;
    const float* x = input + start;
    const float scale = CalculateScale(x, len);
    scales[b] = scale;

    switch (format) {
      case Format::kI2S:
        // pack_2bit_values: stored code = value + 2.
        for (size_t i = 0; i < len; ++i) PutCode(packed, start + i, I2SValue(x[i], scale) + 2);
        break;
      case Format::kTL1: {
        // The table comes from the block's own min/max (every NaN skipped,
        // +-Inf kept), not from the stored scale.
        float block_min = INFINITY, block_max = -INFINITY;
        for (size_t i = 0; i < len; ++i) {
          block_min = MinSkippingNaN(block_min, x[i]);
          block_max = MaxSkippingNaN(block_max, x[i]);
        }
        const Tl1Table table(block_min, block_max);
        for (size_t i = 0; i < len; ++i) PutCode(packed, start + i, table.Quantize(x[i]));
        break;
      }
      case Format::kTL2: {
        const Tl2Table table(scale);
        for (size_t i = 0; i < len; ++i) PutCode(packed, start + i, table.Quantize(x[i]));
        break;
      }
    }
  }
}

void ReferenceDequantize(Format format, const uint8_t* packed,
                         const float* scales, size_t n, size_t block,
                         float* output) {
  const bool zero_nonfinite = DequantZeroesNonFiniteScale(format);
  for (size_t i = 0; i < n; ++i) {
    output[i] = DequantValue(zero_nonfinite, GetCode(packed, i), scales[i / block]);
  }
}

}  // namespace bitnet
