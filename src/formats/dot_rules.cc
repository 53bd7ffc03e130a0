// Written from the semantics of bitnet.cpp's ggml_vec_dot_i2_i8_s and its
// fork's mul_mat epilogue, and of ggml-cpu/quants.c (llama.cpp v0.5.0):
// ggml_vec_dot_tq1_0_q8_K_generic, ggml_vec_dot_tq2_0_q8_K_generic and
// ggml_vec_dot_q2_0_q8_0 (which has no SIMD version on x86).
#include "formats/dot_rules.h"

#include <cstring>

#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/ternary_codes.h"

namespace bitnet {
namespace {

float Q8KScale(const uint8_t* block) {
  float d;
  memcpy(&d, block, sizeof d);
  return d;
}

float HalfAt(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return HalfToFloat(h);
}

// Sum of (code - 1) * q over elements [first, first + count) of one block
// of a ternary layout; q holds those `count` activations.
int32_t TernaryBlockSum(const Layout& l, const uint8_t* block, size_t first, size_t count,
                        const uint8_t* q) {
  int32_t sum = 0;
  for (size_t j = 0; j < count; ++j) {
    const int value = static_cast<int>(BlockCode(l, block, first + j)) - 1;
    sum += value * static_cast<int8_t>(q[j]);
  }
  return sum;
}

}  // namespace

bool GemmActKind(LayoutId w, ActKind* kind) {
  switch (w) {
    case LayoutId::kI2_S: *kind = ActKind::kI8S; return true;
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0: *kind = ActKind::kQ8K; return true;
    case LayoutId::kQ2_0: *kind = ActKind::kQ8_0; return true;
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S: return false;
  }
  return false;
}

size_t ActBlockElements(ActKind kind) {
  switch (kind) {
    case ActKind::kI8S: return 1;
    case ActKind::kQ8K: return kQK_K;
    case ActKind::kQ8_0: return kQK8_0;
  }
  return 1;
}

size_t ActBlockBytes(ActKind kind) {
  switch (kind) {
    case ActKind::kI8S: return 1;
    case ActKind::kQ8K: return kQ8KBytes;
    case ActKind::kQ8_0: return kQ8_0Bytes;
  }
  return 1;
}

int32_t I2SCodeSum(const uint8_t* codes, size_t first, const int8_t* q, size_t k) {
  const Layout& l = GetLayout(LayoutId::kI2_S);
  const size_t block = static_cast<size_t>(l.block_elements);
  int32_t sum = 0;  // |sum| <= 384 * k: exact for k <= kMaxI2SCols
  for (size_t i = 0; i < k; ++i) {
    const size_t e = first + i;
    sum += static_cast<int32_t>(BlockCode(l, codes + (e / block) * l.block_bytes, e % block)) * q[i];
  }
  return sum;
}

float I2SOutput(int32_t code_sum, int32_t act_sum, float act_scale, float w_scale) {
  // The fork keeps the kernel's sum as a float and subtracts the int32
  // activation sum from it (converted to float), then scales.
  const float raw = static_cast<float>(code_sum);
  return (raw - static_cast<float>(act_sum)) / act_scale * w_scale;
}

float DotTQ1_0(const uint8_t* w, const uint8_t* q8k, size_t nblocks) {
  const Layout& l = GetLayout(LayoutId::kTQ1_0);
  float sumf = 0.0f;
  for (size_t i = 0; i < nblocks; ++i) {
    const uint8_t* x = w + i * l.block_bytes;
    const uint8_t* y = q8k + i * kQ8KBytes;
    const int32_t sum = TernaryBlockSum(l, x, 0, kQK_K, y + kQ8KQs);
    // sumf += (float) sum * (GGML_FP16_TO_FP32(x[i].d) * y[i].d)
    const float scale = HalfAt(x + l.scale_offset) * Q8KScale(y);
    sumf = sumf + static_cast<float>(sum) * scale;
  }
  return sumf;
}

float DotTQ2_0(const uint8_t* w, const uint8_t* q8k, size_t nblocks) {
  const Layout& l = GetLayout(LayoutId::kTQ2_0);
  float sumf = 0.0f;
  for (size_t i = 0; i < nblocks; ++i) {
    const uint8_t* x = w + i * l.block_bytes;
    const uint8_t* y = q8k + i * kQ8KBytes;
    const int32_t sumi = TernaryBlockSum(l, x, 0, kQK_K, y + kQ8KQs);
    // d = y[i].d * GGML_FP16_TO_FP32(x[i].d); sumf += (float) sumi * d
    const float d = Q8KScale(y) * HalfAt(x + l.scale_offset);
    sumf = sumf + static_cast<float>(sumi) * d;
  }
  return sumf;
}

float DotQ2_0(const uint8_t* w, const uint8_t* q8_0, size_t nblocks) {
  const Layout& l = GetLayout(LayoutId::kQ2_0);
  float sumf = 0.0f;
  for (size_t i = 0; i < nblocks; ++i) {
    const uint8_t* x = w + i * l.block_bytes;
    // Each Q2_0 block meets two Q8_0 blocks: the block's sum starts at 0.0f
    // and takes (float)sumi * d_y of each half, then is scaled by d_x.
    float sumb = 0.0f;
    for (size_t h = 0; h < 2; ++h) {
      const uint8_t* y = q8_0 + (2 * i + h) * kQ8_0Bytes;
      const int32_t sumi = TernaryBlockSum(l, x, h * kQK8_0, kQK8_0, y + kQ8_0Qs);
      sumb = sumb + static_cast<float>(sumi) * HalfAt(y);
    }
    sumf = sumf + sumb * HalfAt(x + l.scale_offset);
  }
  return sumf;
}

}  // namespace bitnet
