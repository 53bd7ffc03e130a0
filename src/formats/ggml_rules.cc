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
  for (size_t j = 0; j < kN; ++j) codes[j] = static_cast<uint8_t>(LroundPlusOne(x[j] * id));
  *amax_out = amax;
}

// Values of a ternary block: (float)(code - 1) * d.
void TernaryValues(const Layout& l, const uint8_t* in, float* y) {
  const float d = LoadHalf(in + l.scale_offset);
  for (size_t j = 0; j < kQK_K; ++j) {
    y[j] = X86Product(static_cast<float>(static_cast<int>(BlockCode(l, in, j)) - 1), d);
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
  for (size_t j = 0; j < kQK2_0; ++j) {
    // (int)roundf(w * id) + 1 clamped to [0, 3]; the int addition of
    // INT32_MIN (NaN) cannot overflow.
    int q = TruncToInt32(std::round(x[j] * id)) + 1;
    q = q < 0 ? 0 : (q > 3 ? 3 : q);
    codes[j] = static_cast<uint8_t>(q);
  }
  StoreHalf(out + l.scale_offset, amax);
  PackBlockCodes(l, codes, out);
}

void QuantizeBlockQ8_0(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (size_t j = 0; j < kQK8_0; ++j) amax = GgmlMax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  StoreHalf(out, d);
  for (size_t j = 0; j < kQK8_0; ++j) {
    // int8_t = roundf(): the int conversion's low byte.
    out[2 + j] = static_cast<uint8_t>(TruncToInt32(std::round(x[j] * id)) & 0xFF);
  }
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
    for (size_t j = 0; j < kQK_K; ++j) {
      const int v = NearestInt(iscale * x[j]);
      qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
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
    y[j] = X86Product(static_cast<float>(static_cast<int>(BlockCode(l, in, j)) - 1), d);
  }
}

void DequantizeBlockQ8_0(const uint8_t* in, float* y) {
  const float d = LoadHalf(in);
  for (size_t j = 0; j < kQK8_0; ++j) y[j] = X86Product(static_cast<float>(static_cast<int8_t>(in[2 + j])), d);
}

void DequantizeBlockQ8_K(const uint8_t* in, float* y) {
  float d;
  memcpy(&d, in, 4);
  for (size_t j = 0; j < kQK_K; ++j) y[j] = X86Product(d, static_cast<float>(static_cast<int8_t>(in[4 + j])));
}

void DequantizeBlockIQ2_S(const uint8_t* in, float* y) {
  // d (f16), qs[64] (32 low index bytes, then 32 sign bytes), qh[8], scales[8].
  const float d = LoadHalf(in);
  const uint8_t* qs = in + 2;
  const uint8_t* signs = qs + 32;
  const uint8_t* qh = in + 66;
  const uint8_t* scales = in + 74;
  static const float kMagnitude[3] = {8.0f, 25.0f, 43.0f};
  for (size_t ib = 0; ib < 8; ++ib) {
    const float db[2] = {d * (0.5f + static_cast<float>(scales[ib] & 0xF)) * 0.25f,
                         d * (0.5f + static_cast<float>(scales[ib] >> 4)) * 0.25f};
    for (size_t l = 0; l < 4; ++l) {
      const float dl = db[l / 2];
      const unsigned index = qs[4 * ib + l] | ((qh[ib] << (8 - 2 * l)) & 0x300u);
      unsigned digits = kIq2sGridTrits[index];
      for (size_t j = 0; j < 8; ++j, digits /= 3) {
        // ggml multiplies by +-1.0f, which its compiler (like any) turns
        // into a sign flip: the same for every number, and for a NaN it is
        // the flip that ggml's binaries do.
        const float v = dl * kMagnitude[digits % 3];
        y[32 * ib + 8 * l + j] = (signs[4 * ib + l] >> j) & 1u ? -v : v;
      }
    }
  }
}

}  // namespace bitnet
