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

#include "formats/half.h"
#include "formats/host_device.h"
#include "formats/x86_float.h"

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

// ggml's nearest_int (round half to even through the 1.5*2^23 magic add),
// exact for |v| <= 2^22; ggml asserts that range. A NaN v gives its own
// low mantissa bits less 2^22 (the x86 sum is v itself): 0 for the quiet
// NaN 0x7FC00000, other payloads other numbers.
BITNET_HOST_DEVICE inline int NearestInt(float v) {
  const float biased = X86Add(v, 12582912.0f);
  uint32_t bits;
  memcpy(&bits, &biased, sizeof bits);
  return static_cast<int>(bits & 0x007FFFFFu) - 0x00400000;
}

// ---- the per-element rules, shared with the CUDA kernels ----------------------

// TQ1_0 / TQ2_0 code before packing: lroundf(x * id) + 1 kept to 8 bits
// (TQ2_0 then keeps its low two bits; TQ1_0's digits wrap in TritByte).
BITNET_HOST_DEVICE inline uint8_t TqCode(float x, float id) {
  return static_cast<uint8_t>(LroundPlusOne(x * id));
}

// Q2_0: (int)roundf(x * id) + 1 clamped to [0, 3]; the int addition of
// INT32_MIN (NaN) cannot overflow.
BITNET_HOST_DEVICE inline uint8_t Q2Code(float x, float id) {
  const int q = TruncToInt32(std::round(x * id)) + 1;
  return static_cast<uint8_t>(q < 0 ? 0 : (q > 3 ? 3 : q));
}

// Q8_0: int8_t = roundf(x * id), the int conversion's low byte.
BITNET_HOST_DEVICE inline uint8_t Q8_0Byte(float x, float id) {
  return static_cast<uint8_t>(TruncToInt32(std::round(x * id)) & 0xFF);
}

// Q8_K: nearest_int(iscale * x) capped at 127 (iscale is never NaN).
BITNET_HOST_DEVICE inline int8_t Q8KValue(float x, float iscale) {
  const int v = NearestInt(X86Mul(iscale, x));
  return static_cast<int8_t>(v < 127 ? v : 127);
}

// Decoded ternary value (code - 1) * d, and q * d of the 8-bit layouts
// (Q8_0 multiplies q * d, Q8_K d * q).
BITNET_HOST_DEVICE inline float TernaryValue(unsigned code, float d) {
  return X86Mul(static_cast<float>(static_cast<int>(code) - 1), d);
}

// ggml's iq2s_grid: 1024 groups of 8 magnitudes, each 8, 25 or 43, stored as
// 8 base-3 digits (digit j = magnitude of element j: 0 -> 8, 1 -> 25, 2 -> 43).
extern const uint16_t kIq2sGridTrits[1024];
constexpr size_t kIq2sBlockBytes = 82;

// Element j of an IQ2_S block: d (f16), qs[64] (32 low index bytes, then 32
// sign bytes), qh[8], scales[8]; `grid` is kIq2sGridTrits (a copy of it on a
// GPU). ggml multiplies by +-1.0f, which its compiler (like any) turns into
// a sign flip: the same for every number, and for a NaN it is the flip that
// ggml's binaries do.
BITNET_HOST_DEVICE inline float Iq2sValue(const uint8_t* block, size_t j, const uint16_t* grid) {
  uint16_t h;
  memcpy(&h, block, sizeof h);
  const float d = HalfToFloat(h);
  const uint8_t* qs = block + 2;
  const uint8_t* signs = qs + 32;
  const uint8_t* qh = block + 66;
  const uint8_t* scales = block + 74;
  const size_t ib = j / 32, l = (j % 32) / 8, e = j % 8;
  const unsigned scale = l < 2 ? scales[ib] & 0xFu : scales[ib] >> 4;
  const float dl = X86Mul(X86Mul(d, 0.5f + static_cast<float>(scale)), 0.25f);
  const unsigned index = qs[4 * ib + l] | ((qh[ib] << (8 - 2 * l)) & 0x300u);
  unsigned digits = grid[index];
  for (size_t k = 0; k < e; ++k) digits /= 3;
  const float magnitude = digits % 3 == 0 ? 8.0f : (digits % 3 == 1 ? 25.0f : 43.0f);
  const float v = X86Mul(dl, magnitude);
  return (signs[4 * ib + l] >> e) & 1u ? FlipSign(v) : v;
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

}  // namespace bitnet

#endif  // BITNET_FORMATS_GGML_RULES_H_
