// Written from the semantics of ggml-quants.c (llama.cpp v0.5.0); each step
// keeps ggml's float operations and their order.
#include "formats/ggml_rules.h"

#include <cmath>
#include <cstring>

#include "formats/half.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

namespace bitnet {
namespace {

// The TQ codes: lroundf(x * id) + 1, without a clamp (ggml keeps xi & 3 for
// TQ2_0 and adds the digit for TQ1_0).
template <size_t kN>
void TernaryCodes(const float* x, uint8_t* codes, float* amax_out) {
  float amax = 0.0f;
  for (size_t j = 0; j < kN; ++j) amax = GgmlMax(amax, std::fabs(x[j]));
  const float id = amax != 0.0f ? 1.0f / amax : 0.0f;  // a NaN amax is "true" in C
  for (size_t j = 0; j < kN; ++j) codes[j] = TqCode(x[j], id);
  *amax_out = amax;
}

// Values of a ternary block: (float)(code - 1) * d.
void TernaryValues(const Layout& l, const uint8_t* in, float* y) {
  const float d = LoadHalf(in + l.scale_offset);
  for (size_t j = 0; j < kQK_K; ++j) {
    y[j] = TernaryValue(BlockCode(l, in, j), d);
  }
}

}  // namespace

void QuantizeBlockTQ1_0(const float* x, uint8_t* out) {
  const Layout& l = GetLayout(LayoutId::kTQ1_0);
  uint8_t codes[kQK_K];
  float amax;
  TernaryCodes<kQK_K>(x, codes, &amax);
  // Digits are 0..2 unless a NaN let amax fall below an earlier |x| (ggml's
  // MAX); TritByte then wraps them in uint8 as ggml does.
  PackBlockCodes(l, codes, out);
  StoreHalf(out + l.scale_offset, amax);
}

void QuantizeBlockTQ2_0(const float* x, uint8_t* out) {
  const Layout& l = GetLayout(LayoutId::kTQ2_0);
  uint8_t codes[kQK_K];
  float amax;
  TernaryCodes<kQK_K>(x, codes, &amax);
  for (uint8_t& c : codes) c &= 3;  // ggml: (xi & 3)
  PackBlockCodes(l, codes, out);
  StoreHalf(out + l.scale_offset, amax);
}

void QuantizeBlockQ2_0(const float* x, uint8_t* out) {
  const Layout& l = GetLayout(LayoutId::kQ2_0);
  float amax = 0.0f;
  for (size_t j = 0; j < kQK2_0; ++j) {
    const float a = std::fabs(x[j]);
    if (a > amax) amax = a;
  }
  const float id = amax > 0.0f ? 1.0f / amax : 0.0f;
  uint8_t codes[kQK2_0];
  for (size_t j = 0; j < kQK2_0; ++j) codes[j] = Q2Code(x[j], id);
  StoreHalf(out + l.scale_offset, amax);
  PackBlockCodes(l, codes, out);
}

void QuantizeBlockQ8_0(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (size_t j = 0; j < kQK8_0; ++j) amax = GgmlMax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  StoreHalf(out, d);
  for (size_t j = 0; j < kQK8_0; ++j) out[2 + j] = Q8_0Byte(x[j], id);
}

void QuantizeBlockQ8_K(const float* x, uint8_t* out) {
  float max = 0.0f, amax = 0.0f;
  for (size_t j = 0; j < kQK_K; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
  float d = 0.0f;
  if (amax == 0.0f) {
    memset(qs, 0, sizeof qs);
    memset(bsums, 0, sizeof bsums);
  } else {
    const float iscale = -127.0f / max;
    for (size_t j = 0; j < kQK_K; ++j) qs[j] = Q8KValue(x[j], iscale);
    for (size_t g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (size_t i = 0; i < 16; ++i) sum += qs[g * 16 + i];
      bsums[g] = static_cast<int16_t>(sum);
    }
    d = 1.0f / iscale;
  }
  memcpy(out, &d, 4);
  memcpy(out + 4, qs, kQK_K);
  memcpy(out + 4 + kQK_K, bsums, sizeof bsums);
}

void DequantizeBlockTQ1_0(const uint8_t* in, float* y) {
  TernaryValues(GetLayout(LayoutId::kTQ1_0), in, y);
}

void DequantizeBlockTQ2_0(const uint8_t* in, float* y) {
  TernaryValues(GetLayout(LayoutId::kTQ2_0), in, y);
}

void DequantizeBlockQ2_0(const uint8_t* in, float* y) {
  const Layout& l = GetLayout(LayoutId::kQ2_0);
  const float d = LoadHalf(in);
  for (size_t j = 0; j < kQK2_0; ++j) {
    y[j] = TernaryValue(BlockCode(l, in, j), d);
  }
}

void DequantizeBlockQ8_0(const uint8_t* in, float* y) {
  const float d = LoadHalf(in);
  for (size_t j = 0; j < kQK8_0; ++j) y[j] = X86Mul(static_cast<float>(static_cast<int8_t>(in[2 + j])), d);
}

void DequantizeBlockQ8_K(const uint8_t* in, float* y) {
  float d;
  memcpy(&d, in, 4);
  for (size_t j = 0; j < kQK_K; ++j) y[j] = X86Mul(d, static_cast<float>(static_cast<int8_t>(in[4 + j])));
}

void DequantizeBlockIQ2_S(const uint8_t* in, float* y) {
  for (size_t j = 0; j < kQK_K; ++j) y[j] = Iq2sValue(in, j, kIq2sGridTrits);
}

}  // namespace bitnet
