// The BitNet-rs `bitnet-quantization` quantizers (I2SQuantizer, TL1Quantizer,
// TL2Quantizer), scalar path: the reference every other kernel of the public
// bitnet_quantize* / bitnet_dequantize* functions must match bit for bit.
#ifndef BITNET_FORMATS_BITNET_RS_QUANTIZER_H_
#define BITNET_FORMATS_BITNET_RS_QUANTIZER_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "formats/formats.h"
#include "formats/host_device.h"
#include "formats/scalar_math.h"

namespace bitnet {

// utils.rs calculate_scale(block, bits = 2), given the largest |x| over the
// block's finite elements: the stored f32 scale of every format.
BITNET_HOST_DEVICE inline float StoredScale(float finite_absmax) {
  const float m = finite_absmax;
  if (m == 0.0f || !std::isfinite(m)) return 1.0f;
  if (m < 1e-30f) return 1.0f;
  if (m > 1e30f) return 1e30f;  // 1e30 / (2^(bits-1) - 1)
  return m;                     // m / (2^(bits-1) - 1)
}

// Dequantization of I2_S and TL2 maps a non-finite scale to 0.0; TL1
// multiplies whatever scale it is given.
BITNET_HOST_DEVICE inline bool DequantZeroesNonFiniteScale(Format f) { return f != Format::kTL1; }

// simd_ops.rs quantize_value_scalar, bits = 2: a signed value in [-2, 1].
BITNET_HOST_DEVICE inline int32_t I2SValue(float value, float scale) {
  if (std::isfinite(value) && scale != 0.0f && std::isfinite(scale)) {
    return Clamp(SaturatingI32(std::round(value / scale)), -2, 1);
  }
  return 0;
}

// 0 x +-Inf: the default NaN of x86, where BitNet-rs's outputs come from.
constexpr uint32_t kZeroTimesInfNaNBits = 0xFFC00000u;

// One dequantized element: (code - 2) * scale. Where the product of a
// non-finite scale is a NaN its bits are spelled out, so that no compiler
// (which may fold a multiply by +-1 into a copy or a sign flip) or FPU
// choice shows: a NaN scale gives itself quieted, as x86 and Arm multiply
// do, and 0 x +-Inf gives kZeroTimesInfNaNBits.
BITNET_HOST_DEVICE inline float DequantValue(bool zero_nonfinite_scale, unsigned code,
                                             float scale) {
  if (!std::isfinite(scale)) {
    if (zero_nonfinite_scale) return 0.0f;
    if (std::isnan(scale)) return QuietNaN(scale);
    if (code == 2) return FloatFromBits(kZeroTimesInfNaNBits);
  }
  return static_cast<float>(static_cast<int32_t>(code) - 2) * scale;
}

// I2_S has one error: an input with no finite element (validation.rs).
bool HasFiniteElement(const float* input, size_t n);

// Writes PackedSize(n) bytes (padding bits 0) and NumBlocks(n, block) scales.
void ReferenceQuantize(Format format, const float* input, size_t n,
                       size_t block, uint8_t* packed, float* scales);
void ReferenceDequantize(Format format, const uint8_t* packed,
                         const float* scales, size_t n, size_t block,
                         float* output);

}  // namespace bitnet

#endif  // BITNET_FORMATS_BITNET_RS_QUANTIZER_H_
