// The tensor primitives of the REFERENCE target: the scalar rules of
// src/formats, unchanged.
#include "cpu/kernels.h"
#include "formats/absmean.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/block_rules.h"

namespace bitnet {

const TensorKernels kReferenceTensorKernels = {
    ReferenceEncodeBlocks, ReferenceDecodeBlocks, I2SScaleOf,       QuantizeI2SBlocks,
    DequantizeI2SBlocks,   AbsScanChunk,           TernarizeCodes,   TernaryValues,
    ReferenceToFloat,
    ReferenceFromFloat,    QuantizeI8SRow,
};

}  // namespace bitnet
