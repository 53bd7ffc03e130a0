#include "formats/layouts.h"

#include <strings.h>

#include <cstdint>


namespace bitnet {
namespace {

constexpr CodeMap kNoCodes = {CodeMapKind::kElement, 0, 0, false, 0, {}};

constexpr CodeMap Int8Codes(uint16_t offset) {
  return {CodeMapKind::kInt8, offset, 0, false, 0, {}};
}
constexpr CodeMap TwoBit(uint16_t offset, uint16_t run, bool msb_first) {
  return {CodeMapKind::kTwoBit, offset, run, msb_first, 0, {}};
}

// Indexed by LayoutId. Sources: ggml ggml-common.h / ggml-quants.c (Q8_0,
// Q8_K, IQ2_S, TQ1_0, TQ2_0, Q2_0), bitnet.cpp src/ggml-bitnet-mad.cpp
// (I2_S, x86 ACT_PARALLEL layout, which its official GGUF files use),
// transformers integrations/bitnet.py (HF_BITNET), BitNet-rs
// bitnet-quantization (family A). docs/formats.md has the details.
const Layout kLayouts[] = {
    {LayoutId::kF32, BITNET_TYPE_F32, "F32", "IEEE", 1, 4, ScaleKind::kNone, 0, 0, kNoCodes, 0, 0,
     1, 1, 1, false, false, true},
    {LayoutId::kF16, BITNET_TYPE_F16, "F16", "IEEE", 1, 2, ScaleKind::kNone, 0, 0, kNoCodes, 0, 0,
     1, 1, 1, false, false, true},
    {LayoutId::kBF16, BITNET_TYPE_BF16, "BF16", "Google Brain", 1, 2, ScaleKind::kNone, 0, 0,
     kNoCodes, 0, 0, 1, 1, 1, false, false, true},
    {LayoutId::kQ8_0, BITNET_TYPE_Q8_0, "Q8_0", "ggml", 32, 34, ScaleKind::kBlockF16, 0, 0,
     Int8Codes(2), 0, 0, 32, 1, 1, false, true, false},
    {LayoutId::kQ8_K, BITNET_TYPE_Q8_K, "Q8_K", "ggml", 256, 292, ScaleKind::kBlockF32, 0, 0,
     Int8Codes(4), 0, 0, 256, 1, 1, false, true, false},
    {LayoutId::kIQ2_S, BITNET_TYPE_IQ2_S, "IQ2_S", "ggml", 256, 82, ScaleKind::kBlockF16, 0, 0,
     {CodeMapKind::kIq2sGrid, 2, 0, false, 0, {}}, 0, 0, 256, 1, 1, false, false, false},
    {LayoutId::kTQ1_0, BITNET_TYPE_TQ1_0, "TQ1_0", "ggml", 256, 54, ScaleKind::kBlockF16, 52, 0,
     {CodeMapKind::kTrits, 0, 0, false, 3, {{0, 32, 5}, {32, 16, 5}, {48, 4, 4}}}, 1, 2, 256, 1, 1,
     true, true, false},
    {LayoutId::kTQ2_0, BITNET_TYPE_TQ2_0, "TQ2_0", "ggml", 256, 66, ScaleKind::kBlockF16, 64, 0,
     TwoBit(0, 32, false), 1, 3, 256, 1, 1, true, true, false},
    {LayoutId::kI2_S, BITNET_TYPE_I2_S, "I2_S", "bitnet.cpp", 128, 32, ScaleKind::kTensorF32, 0,
     32, TwoBit(0, 32, true), 1, 3, 1, 1, 128, true, true, false},
    {LayoutId::kQ2_0, BITNET_TYPE_Q2_0, "Q2_0", "ggml", 64, 18, ScaleKind::kBlockF16, 0, 0,
     TwoBit(2, 1, false), 1, 3, 64, 1, 1, true, true, false},
    {LayoutId::kHfBitnet, BITNET_TYPE_HF_BITNET, "HF_BITNET", "transformers", 4, 1,
     ScaleKind::kTensorF32Divisor, 0, 4, {CodeMapKind::kRowInterleaved, 0, 0, false, 0, {}}, 1, 3,
     1, 4, 1, true, true, false},
    {LayoutId::kBitnetRsI2S, BITNET_TYPE_BITNET_RS_I2S, "BITNET_RS_I2S", "BitNet-rs", 0, 0,
     ScaleKind::kBlockF32Planar, 0, 0, TwoBit(0, 1, false), 2, 3, 1, 1, 1, true, true, false},
};

constexpr size_t kNumLayouts = sizeof(kLayouts) / sizeof(kLayouts[0]);
static_assert(kNumLayouts == static_cast<size_t>(LayoutId::kBitnetRsI2S) + 1,
              "kLayouts is indexed by LayoutId");

}  // namespace

const Layout& GetLayout(LayoutId id) { return kLayouts[static_cast<size_t>(id)]; }

const Layout* FindLayout(bitnet_type type) {
  for (const Layout& l : kLayouts) {
    if (l.type == type) return &l;
  }
  return nullptr;
}

const char* LayoutName(bitnet_type type) {
  const Layout* l = FindLayout(type);
  return l != nullptr ? l->name : "unknown";
}

int LayoutFromName(const char* name, bitnet_type* type) {
  for (const Layout& l : kLayouts) {
    if (strcasecmp(name, l.name) == 0) {
      *type = l.type;
      return BITNET_OK;
    }
  }
  return BITNET_E_INVALID_TYPE;
}

TensorParts PartsOf(const Layout& l, size_t n, uint32_t rs_block) {
  TensorParts p{};
  const size_t block = static_cast<size_t>(BlockElements(l, rs_block));
  p.num_blocks = n / block + (n % block != 0);
  if (l.scale == ScaleKind::kBlockF32Planar) {
    p.codes_bytes = n / 4 + (n % 4 != 0);
    p.scales_offset = p.codes_bytes;
    p.total = p.codes_bytes + 4 * p.num_blocks;
  } else {
    p.codes_bytes = p.num_blocks * l.block_bytes;
    p.scales_offset = p.codes_bytes;
    p.total = p.codes_bytes + l.tail_bytes;
  }
  return p;
}

}  // namespace bitnet
