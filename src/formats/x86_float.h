// The bits x86-64 (SSE) gives where IEEE 754 leaves a NaN's bits open, for
// the rules that carry them into integers or stored bytes: an operation with
// a NaN operand returns that NaN made quiet (the first operand's when both
// are NaN), and an invalid one without a NaN operand (0 * Inf) returns the
// "default NaN" 0xFFC00000. The scalar references are plain C arithmetic,
// which on an x86-64 host gives exactly that; a GPU returns its canonical
// NaN 0x7FFFFFFF and AArch64 its default NaN 0x7FC00000 (and a signalling
// operand before a quiet one), so elsewhere these helpers rebuild the x86
// result from the operands (only on the NaN path).
#ifndef BITNET_FORMATS_X86_FLOAT_H_
#define BITNET_FORMATS_X86_FLOAT_H_

#include <cstdint>

#include "formats/host_device.h"
#include "formats/scalar_math.h"

namespace bitnet {

constexpr uint32_t kX86DefaultNaN = 0xFFC00000u;
constexpr uint32_t kQuietBit = 0x00400000u;
// The x86 NaN of an operation whose IEEE result r is NaN.
BITNET_HOST_DEVICE inline float X86NaNOf(float a, float b) {
  if (a != a) return QuietNaN(a);
  if (b != b) return QuietNaN(b);
  return FloatFromBits(kX86DefaultNaN);
}

BITNET_HOST_DEVICE inline float X86Mul(float a, float b) {
#if defined(__CUDA_ARCH__) || !defined(__x86_64__)
  const float r = a * b;
  return r == r ? r : X86NaNOf(a, b);
#else
  return a * b;
#endif
}

BITNET_HOST_DEVICE inline float X86Add(float a, float b) {
#if defined(__CUDA_ARCH__) || !defined(__x86_64__)
  const float r = a + b;
  return r == r ? r : X86NaNOf(a, b);
#else
  return a + b;
#endif
}

// -v as every compiler emits it (a sign flip, a NaN's too); a GPU's
// negation through an addition would return its canonical NaN.
BITNET_HOST_DEVICE inline float FlipSign(float v) { return FloatFromBits(FloatBits(v) ^ 0x80000000u); }

}  // namespace bitnet

#endif  // BITNET_FORMATS_X86_FLOAT_H_
