// Written from the semantics of bitnet.cpp's quantize_i2_s (x86 ACT_PARALLEL
// branch, the layout of its official GGUF files) and its fork's
// quantize_row_i8_s; float and double steps as there.
#include "formats/bitnet_cpp_rules.h"

#include <cmath>
#include <cstring>

#include "formats/ggml_rules.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

namespace bitnet {

float I2SScaleOf(const float* x, size_t n) {
  // fmax(max, |x|) in double: a NaN |x| leaves max as it is. Written as a
  // comparison so that no libm or compiler choice is involved.
  double max = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (a > max) max = a;
  }
  return static_cast<float>(max);
}

void QuantizeI2SBlocks(const float* x, size_t n, float scale, uint8_t* out) {
  const Layout& l = GetLayout(LayoutId::kI2_S);
  uint8_t codes[kI2SBlock];
  for (size_t b = 0; b < n / kI2SBlock; ++b) {
    for (size_t j = 0; j < kI2SBlock; ++j) codes[j] = I2SCode(x[b * kI2SBlock + j], scale);
    PackBlockCodes(l, codes, out + b * l.block_bytes);
  }
}

void DequantizeI2SBlocks(const uint8_t* in, size_t n, float scale, float* y) {
  const Layout& l = GetLayout(LayoutId::kI2_S);
  for (size_t i = 0; i < n; ++i) {
    const unsigned code = BlockCode(l, in + (i / kI2SBlock) * l.block_bytes, i % kI2SBlock);
    y[i] = TernaryValue(code, scale);
  }
}

void WriteI2STail(float scale, uint8_t* tail) {
  memset(tail, 0, kI2STailBytes);
  memcpy(tail, &scale, sizeof scale);
}

float ReadI2SScale(const uint8_t* tail) {
  float scale;
  memcpy(&scale, tail, sizeof scale);
  return scale;
}

void QuantizeI8SRow(const float* x, size_t n, int8_t* q, float* scale, int32_t* sum) {
  // max starts at the 1e-5 floor; MAX(max, fabs(x)) in double.
  double max = 1e-5;
  for (size_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    max = max > a ? max : a;
  }
  const float s = static_cast<float>(127.0 / max);
  int32_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const int v = I8SValue(x[i], s);
    q[i] = static_cast<int8_t>(v);
    total += v;
  }
  *scale = s;
  *sum = total;
}

}  // namespace bitnet
