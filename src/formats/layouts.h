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

struct Layout {
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
