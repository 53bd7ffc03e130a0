// The tensor layouts as data: one descriptor per layout, read by sizing,
// validation, the scalar references and the kernels.
//
// A ternary layout stores one code per element and scales. The codes of a
// block are placed by a CodeMap; a value is (code - code_offset) times the
// scale of its block or tensor (HF_BITNET divides by its weight_scale).
#ifndef BITNET_FORMATS_LAYOUTS_H_
#define BITNET_FORMATS_LAYOUTS_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/host_device.h"

namespace bitnet {

enum class LayoutId {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ8_K,
  kIQ2_S,
  kTQ1_0,
  kTQ2_0,
  kI2_S,
  kQ2_0,
  kHfBitnet,
  kBitnetRsI2S,
};

enum class ScaleKind {
  kNone,             // plain elements (F32, F16, BF16)
  kBlockF16,         // one f16 per block, inside the block at scale_offset
  kBlockF32,         // one f32 per block, inside the block at scale_offset (Q8_K)
  kBlockF32Planar,   // one f32 per block after all codes (BitNet-rs family A)
  kTensorF32,        // one f32 per tensor at the start of the tail (I2_S)
  kTensorF32Divisor  // one f32 per tensor in the tail, values divided by it (HF_BITNET)
};

// How the elements of a block sit in its code bytes.
//   kTwoBit: element j of the block is the 2-bit field f = (j / run) % 4 of
//     byte codes_offset + (j / (4*run))*run + j % run, at bit 2f (LSB first)
//     or 6 - 2f (MSB first). run = 1 puts four consecutive elements in a byte.
//   kTrits: base-3 digits, ggml TQ1_0: segments of bytes, element j of a
//     segment in byte j % bytes as digit j / bytes (most significant first),
//     stored as ceil(value * 256 / 243).
//   kRowInterleaved: HF_BITNET's tensor-wide layout (rows r + k*rows/4 of a
//     column share a byte, field k, LSB first).
//   kInt8 / kIq2sGrid / kElement: not ternary codes.
enum class CodeMapKind { kElement, kInt8, kTwoBit, kTrits, kIq2sGrid, kRowInterleaved };

struct TritSegment {
  uint16_t first_byte;     // within the block
  uint16_t bytes;          // bytes in the segment
  uint16_t trits_per_byte; // 5, or 4 (the qh bytes, then scaled by 3)
};

struct CodeMap {
  CodeMapKind kind;
  uint16_t codes_offset;   // first code byte within the block
  uint16_t run;            // kTwoBit
  bool msb_first;          // kTwoBit
  uint8_t num_segments;    // kTrits
  TritSegment segments[3]; // kTrits
};

// Fields in the order a layout is described (the table below reads so),
// not packed: a dozen entries.
struct Layout {  // NOLINT(clang-analyzer-optin.performance.Padding)
  LayoutId id;
  bitnet_type type;
  const char* name;
  const char* defined_by;
  int64_t block_elements;  // 0: options->block_size (BitNet-rs family A)
  size_t block_bytes;      // codes and in-block scale of one block (family A: block/4)
  ScaleKind scale;
  size_t scale_offset;     // kBlockF16 / kBlockF32: byte offset within the block
  size_t tail_bytes;       // after all blocks
  CodeMap codes;
  int code_offset;         // value = (code - code_offset) * scale
  int code_max;            // largest code the layout can hold (3, or 2 for TQ1_0)
  // Shape constraints.
  int64_t cols_multiple;
  int64_t rows_multiple;
  int64_t elements_multiple;
  bool ternary;            // a transcode end
  bool can_quantize;       // its own quantization rule exists here
  bool element_type;       // F32 / F16 / BF16
};

// The descriptors, indexed by LayoutId: compile-time data, so that kernels
// can read a layout's map as constants. Sources: ggml ggml-common.h /
// ggml-quants.c (Q8_0, Q8_K, IQ2_S, TQ1_0, TQ2_0, Q2_0), bitnet.cpp
// src/ggml-bitnet-mad.cpp (I2_S, x86 ACT_PARALLEL layout, which its official
// GGUF files use), transformers integrations/bitnet.py (HF_BITNET),
// BitNet-rs bitnet-quantization (family A). docs/formats.md has the details.
inline constexpr CodeMap kNoCodes = {CodeMapKind::kElement, 0, 0, false, 0, {}};

constexpr CodeMap Int8Codes(uint16_t offset) {
  return {CodeMapKind::kInt8, offset, 0, false, 0, {}};
}
constexpr CodeMap TwoBit(uint16_t offset, uint16_t run, bool msb_first) {
  return {CodeMapKind::kTwoBit, offset, run, msb_first, 0, {}};
}

inline constexpr Layout kLayoutTable[] = {
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

BITNET_HOST_DEVICE constexpr const Layout& LayoutOf(LayoutId id) { return kLayoutTable[static_cast<size_t>(id)]; }

// The descriptor of `type`, or nullptr.
const Layout* FindLayout(bitnet_type type);
const Layout& GetLayout(LayoutId id);
const char* LayoutName(bitnet_type type);
// BITNET_OK and *type, or BITNET_E_INVALID_TYPE.
int LayoutFromName(const char* name, bitnet_type* type);

// Elements per block, given family A's block size (the others ignore it).
inline int64_t BlockElements(const Layout& l, uint32_t rs_block) {
  return l.block_elements != 0 ? l.block_elements : static_cast<int64_t>(rs_block);
}

// Where each part of a tensor of n elements starts.
struct TensorParts {
  size_t num_blocks;
  size_t codes_bytes;   // the blocks (family A: ceil(n/4))
  size_t scales_offset; // family A's planar scales / the tail
  size_t total;
};
TensorParts PartsOf(const Layout& l, size_t n, uint32_t rs_block);

}  // namespace bitnet

#endif  // BITNET_FORMATS_LAYOUTS_H_
