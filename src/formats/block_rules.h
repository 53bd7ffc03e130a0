// The scalar reference of each block-local layout and element type, chosen
// by LayoutId with exhaustive switches: what the tensor operations run on
// the REFERENCE target, and what every other kernel is compared with.
#ifndef BITNET_FORMATS_BLOCK_RULES_H_
#define BITNET_FORMATS_BLOCK_RULES_H_

#include <cstddef>
#include <cstdint>

#include "formats/layouts.h"

namespace bitnet {

// Layouts whose every block carries its own scale and can be encoded alone
// (TQ1_0, TQ2_0, Q2_0, Q8_0, Q8_K; IQ2_S decodes only).
bool IsBlockLocal(LayoutId id);
bool CanEncodeBlocks(LayoutId id);

// nblocks whole blocks: block_elements floats <-> block_bytes bytes each.
void ReferenceEncodeBlocks(LayoutId id, const float* x, size_t nblocks, uint8_t* out);
void ReferenceDecodeBlocks(LayoutId id, const uint8_t* in, size_t nblocks, float* y);

// Element types (F32, F16, BF16) <-> f32, with ggml's conversions.
void ReferenceToFloat(LayoutId src, const void* in, size_t n, float* y);
void ReferenceFromFloat(LayoutId dst, const float* x, size_t n, void* out);

}  // namespace bitnet

#endif  // BITNET_FORMATS_BLOCK_RULES_H_
