// The tensor primitives of the REFERENCE target: the scalar rules of
// src/formats, unchanged.
#include "cpu/kernels.h"
#include "formats/absmean.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/block_rules.h"
#include "formats/ternary_codes.h"

namespace bitnet {
namespace {

void UnpackValues(LayoutId id, const uint8_t* blocks, size_t nblocks, int8_t* values) {
  UnpackBlockValues(GetLayout(id), blocks, nblocks, values);
}
void PackValues(LayoutId id, const int8_t* values, size_t nblocks, uint8_t* blocks) {
  PackBlockValues(GetLayout(id), values, nblocks, blocks);
}

}  // namespace

const TensorKernels kReferenceTensorKernels = {
    ReferenceEncodeBlocks, ReferenceDecodeBlocks, I2SScaleOf,       QuantizeI2SBlocks,
    DequantizeI2SBlocks,   AbsScanChunk,           TernarizeCodes,   TernaryValues,
    ReferenceToFloat,
    ReferenceFromFloat,    UnpackValues,          PackValues,       QuantizeI8SRow,
};

}  // namespace bitnet
