// The ggml block rules (ggml-quants.c of llama.cpp v0.5.0, ggml 0.25.1), one
// block at a time: quantize_row_{tq1_0,tq2_0,q2_0,q8_0,q8_K}_ref and
// dequantize_row_{tq1_0,tq2_0,q2_0,q8_0,q8_K,iq2_s}. These are the scalar
// references every kernel must match bit for bit.
//
// Where ggml's C leaves a result to the platform (lroundf or an int cast of
// NaN/Inf), the result is what ggml's x86-64 build gives (the conversion's
// "integer indefinite" 0x80000000...), spelled out below, so that every
// target and compiler here agrees with the prebuilt x86-64 ggml.
#ifndef BITNET_FORMATS_GGML_RULES_H_
#define BITNET_FORMATS_GGML_RULES_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/host_device.h"

namespace bitnet {

constexpr size_t kQK_K = 256;  // ggml's super-block
constexpr size_t kQK8_0 = 32;
constexpr size_t kQK2_0 = 64;

// ggml's MAX(a, b) = a > b ? a : b: a NaN b replaces the running value,
// which the next element then replaces in turn.
BITNET_HOST_DEVICE inline float GgmlMax(float a, float b) { return a > b ? a : b; }

// (int)lroundf(v) + 1 as x86-64 computes it: |v| beyond long's range or NaN
// gives LONG_MIN, and the int addition keeps the low 32 bits: 1.
BITNET_HOST_DEVICE inline int LroundPlusOne(float v) {
  if (!(std::fabs(v) < 9.2233720368547758e18f)) return 1;
  return static_cast<int>(static_cast<long long>(std::round(v)) + 1);
}

// (int)f with x86-64's cvttss2si: NaN and out-of-range give INT32_MIN.
BITNET_HOST_DEVICE inline int32_t TruncToInt32(float f) {
  if (!(f > -2147483904.0f && f < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(f);
}

// a * b as x86-64 computes it: IEEE, with the one result IEEE leaves open,
// the NaN of an invalid product (0 * +-Inf), as x86's default NaN
// 0xFFC00000 (AArch64 gives 0x7FC00000). Only the decoders multiply a value
// by a stored scale that may be infinite.
BITNET_HOST_DEVICE inline float X86Product(float a, float b) {
  const float p = a * b;
  if (p != p && a == a && b == b) {
    const uint32_t x86_default_nan = 0xFFC00000u;
    float nan;
    memcpy(&nan, &x86_default_nan, sizeof nan);
    return nan;
  }
  return p;
}

// ggml's nearest_int (round half to even through the 1.5*2^23 magic add),
// exact for |v| <= 2^22 and for NaN (0); ggml asserts that range.
BITNET_HOST_DEVICE inline int NearestInt(float v) {
  const float biased = v + 12582912.0f;
  uint32_t bits;
  memcpy(&bits, &biased, sizeof bits);
  return static_cast<int>(bits & 0x007FFFFFu) - 0x00400000;
}

// One block each; `out` receives the block's bytes, `y` its values.
void QuantizeBlockTQ1_0(const float* x, uint8_t* out);  // 256 -> 54 B
void QuantizeBlockTQ2_0(const float* x, uint8_t* out);  // 256 -> 66 B
void QuantizeBlockQ2_0(const float* x, uint8_t* out);   // 64 -> 18 B
void QuantizeBlockQ8_0(const float* x, uint8_t* out);   // 32 -> 34 B
void QuantizeBlockQ8_K(const float* x, uint8_t* out);   // 256 -> 292 B

void DequantizeBlockTQ1_0(const uint8_t* in, float* y);
void DequantizeBlockTQ2_0(const uint8_t* in, float* y);
void DequantizeBlockQ2_0(const uint8_t* in, float* y);
void DequantizeBlockQ8_0(const uint8_t* in, float* y);
void DequantizeBlockQ8_K(const uint8_t* in, float* y);
void DequantizeBlockIQ2_S(const uint8_t* in, float* y);

// ggml's iq2s_grid: 1024 groups of 8 magnitudes, each 8, 25 or 43, stored as
// 8 base-3 digits (digit j = magnitude of element j: 0 -> 8, 1 -> 25, 2 -> 43).
extern const uint16_t kIq2sGridTrits[1024];

}  // namespace bitnet

#endif  // BITNET_FORMATS_GGML_RULES_H_
