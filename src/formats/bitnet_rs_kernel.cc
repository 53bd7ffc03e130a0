// Written from the semantics of BitNet-rs crates/bitnet-kernels/src/cpu/
// fallback.rs. One deliberate difference: the fallback ORs codes into a
// buffer the caller must zero and drops a last partial byte that does not
// fit; here every byte is written whole (see docs/formats.md).
#include "formats/bitnet_rs_kernel.h"

#include <cmath>
#include <cstring>

#include "formats/scalar_math.h"

namespace bitnet {

const float kKernelTl1Levels[4] = {-1.0f, -0.33f, 0.33f, 1.0f};
const float kKernelTl2Levels[4] = {-1.2f, -0.4f, 0.4f, 1.2f};

void ReferenceKernelQuantize(Format format, const float* input, size_t n,
                             uint8_t* packed, float* scales) {
  const size_t block = DefaultBlockSize(format);
  std::memset(packed, 0, PackedSize(n));
  for (size_t b = 0; b < NumBlocks(n, block); ++b) {
    const size_t start = b * block;
    const size_t len = (n - start < block) ? n - start : block;
    float max_val = 0.0f;
    // fold(0, f32::max) over |x|: every NaN skipped, +-Inf counted.
    for (size_t i = 0; i < len; ++i) max_val = MaxSkippingNaN(max_val, std::fabs(input[start + i]));
    const float scale = KernelScale(max_val);
    scales[b] = scale;
    for (size_t i = 0; i < len; ++i) {
      const float normalized = input[start + i] / scale;
      unsigned code = 0;
      switch (format) {
        case Format::kI2S: code = KernelI2SCode(normalized); break;
        case Format::kTL1: code = NearestLevel(normalized, kKernelTl1Levels); break;
        case Format::kTL2: code = NearestLevel(normalized, kKernelTl2Levels); break;
      }
      packed[(start + i) / 4] |= static_cast<uint8_t>(code << (2 * ((start + i) % 4)));
    }
  }
}

void ReferenceMatmulI2S(const int8_t* a, const uint8_t* b, float* c, size_t m,
                        size_t n, size_t k) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (size_t l = 0; l < k; ++l) {
        sum += static_cast<float>(a[i * k + l]) * static_cast<float>(b[l * n + j]);
      }
      c[i * n + j] = sum;
    }
  }
}

}  // namespace bitnet
