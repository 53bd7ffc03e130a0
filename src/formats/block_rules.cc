#include "formats/block_rules.h"

#include <cstring>

#include "formats/ggml_rules.h"
#include "formats/half.h"

namespace bitnet {
namespace {

using EncodeBlockFn = void (*)(const float*, uint8_t*);
using DecodeBlockFn = void (*)(const uint8_t*, float*);

EncodeBlockFn EncoderOf(LayoutId id) {
  switch (id) {
    case LayoutId::kTQ1_0: return QuantizeBlockTQ1_0;
    case LayoutId::kTQ2_0: return QuantizeBlockTQ2_0;
    case LayoutId::kQ2_0: return QuantizeBlockQ2_0;
    case LayoutId::kQ8_0: return QuantizeBlockQ8_0;
    case LayoutId::kQ8_K: return QuantizeBlockQ8_K;
    case LayoutId::kIQ2_S:  // decode only
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return nullptr;
  }
  return nullptr;
}

DecodeBlockFn DecoderOf(LayoutId id) {
  switch (id) {
    case LayoutId::kTQ1_0: return DequantizeBlockTQ1_0;
    case LayoutId::kTQ2_0: return DequantizeBlockTQ2_0;
    case LayoutId::kQ2_0: return DequantizeBlockQ2_0;
    case LayoutId::kQ8_0: return DequantizeBlockQ8_0;
    case LayoutId::kQ8_K: return DequantizeBlockQ8_K;
    case LayoutId::kIQ2_S: return DequantizeBlockIQ2_S;
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

bool IsBlockLocal(LayoutId id) { return DecoderOf(id) != nullptr; }
bool CanEncodeBlocks(LayoutId id) { return EncoderOf(id) != nullptr; }

void ReferenceEncodeBlocks(LayoutId id, const float* x, size_t nblocks, uint8_t* out) {
  const Layout& l = GetLayout(id);
  const EncodeBlockFn encode = EncoderOf(id);
  for (size_t b = 0; b < nblocks; ++b) {
    encode(x + b * static_cast<size_t>(l.block_elements), out + b * l.block_bytes);
  }
}

void ReferenceDecodeBlocks(LayoutId id, const uint8_t* in, size_t nblocks, float* y) {
  const Layout& l = GetLayout(id);
  const DecodeBlockFn decode = DecoderOf(id);
  for (size_t b = 0; b < nblocks; ++b) {
    decode(in + b * l.block_bytes, y + b * static_cast<size_t>(l.block_elements));
  }
}

void ReferenceToFloat(LayoutId src, const void* in, size_t n, float* y) {
  const uint16_t* h = static_cast<const uint16_t*>(in);
  switch (src) {
    case LayoutId::kF32: memcpy(y, in, n * sizeof(float)); return;
    case LayoutId::kF16:
      for (size_t i = 0; i < n; ++i) y[i] = HalfToFloat(h[i]);
      return;
    case LayoutId::kBF16:
      for (size_t i = 0; i < n; ++i) y[i] = BFloatToFloat(h[i]);
      return;
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kI2_S:
    case LayoutId::kQ2_0:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not element types: the API never asks
  }
}

void ReferenceFromFloat(LayoutId dst, const float* x, size_t n, void* out) {
  uint16_t* h = static_cast<uint16_t*>(out);
  switch (dst) {
    case LayoutId::kF32: memcpy(out, x, n * sizeof(float)); return;
    case LayoutId::kF16:
      for (size_t i = 0; i < n; ++i) h[i] = FloatToHalf(x[i]);
      return;
    case LayoutId::kBF16:
      for (size_t i = 0; i < n; ++i) h[i] = FloatToBFloat(x[i]);
      return;
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kI2_S:
    case LayoutId::kQ2_0:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not element types: the API never asks
  }
}

}  // namespace bitnet
