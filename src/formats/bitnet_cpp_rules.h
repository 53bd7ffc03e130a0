// bitnet.cpp's rules (microsoft/BitNet 16da220, src/ggml-bitnet-mad.cpp, and
// quantize_row_i8_s of its llama.cpp fork): the I2_S tensor quantizer and
// decoder, and the int8 activation quantizer. Scalar references.
#ifndef BITNET_FORMATS_BITNET_CPP_RULES_H_
#define BITNET_FORMATS_BITNET_CPP_RULES_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "formats/ggml_rules.h"
#include "formats/host_device.h"
#include "formats/x86_float.h"

namespace bitnet {

constexpr size_t kI2SBlock = 128;      // elements per 32-byte I2_S block
constexpr size_t kI2STailBytes = 32;   // f32 scale, then 28 zero bytes

// quantize_i2_s's scale: max |x| over the tensor, taken with fmax in double
// (NaN skipped), as the f32 it is stored as. Max-reductions of parts combine
// with I2SScaleMerge in any order.
float I2SScaleOf(const float* x, size_t n);
inline float I2SScaleMerge(float a, float b) { return b > a ? b : a; }

// The sign code of one weight: 1 (zero) if |x| < 1e-6 in double, else 2 if
// x * scale > 0 in double, else 0. NaN gives 0.
BITNET_HOST_DEVICE inline uint8_t I2SCode(float x, float scale) {
  if (std::fabs(static_cast<double>(x)) < 1e-6) return 1;
  return static_cast<double>(x) * static_cast<double>(scale) > 0.0 ? 2 : 0;
}

// Packs n (a multiple of 128) weights into n/4 bytes with `scale`.
void QuantizeI2SBlocks(const float* x, size_t n, float scale, uint8_t* out);
// n/4 bytes -> n values (code - 1) * scale.
void DequantizeI2SBlocks(const uint8_t* in, size_t n, float scale, float* y);
// The 32-byte tail: the f32 scale, then zeros.
void WriteI2STail(float scale, uint8_t* tail);
float ReadI2SScale(const uint8_t* tail);

// quantize_row_i8_s's value of one activation with the row's scale s:
// nearest_int(x * s) clamped to [-128, 127] (x86: a NaN product is x's NaN,
// or s's, made quiet; 0 * Inf the default NaN).
BITNET_HOST_DEVICE inline int I8SValue(float x, float s) {
  const int v = NearestInt(X86Mul(x, s));
  return v > 127 ? 127 : (v < -128 ? -128 : v);
}

// quantize_row_i8_s for one row of n activations.
void QuantizeI8SRow(const float* x, size_t n, int8_t* q, float* scale, int32_t* sum);

}  // namespace bitnet

#endif  // BITNET_FORMATS_BITNET_CPP_RULES_H_
