// The tensor primitives of the REFERENCE target: the scalar rules of
// src/formats, with the element types converted by the reference
// conversions one block (or 128 I2_S elements) at a time.
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/target_list.h"
#include "formats/absmean.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/block_rules.h"
#include "formats/ternary_codes.h"

namespace bitnet {
namespace {

constexpr size_t kMaxBlock = 256;  // elements in the largest block (TQ, Q8_K, IQ2_S)

size_t ElementBytes(LayoutId type) { return type == LayoutId::kF32 ? sizeof(float) : sizeof(uint16_t); }

void EncodeBlocks(LayoutId id, LayoutId type, const void* x, size_t nblocks, uint8_t* out) {
  const Layout& l = GetLayout(id);
  const size_t n = static_cast<size_t>(l.block_elements);
  float values[kMaxBlock];
  for (size_t b = 0; b < nblocks; ++b) {
    ReferenceToFloat(type, static_cast<const uint8_t*>(x) + b * n * ElementBytes(type), n, values);
    ReferenceEncodeBlocks(id, values, 1, out + b * l.block_bytes);
  }
}

// Ordinary stores whatever `stores` asks: the reference's stream_out is a
// plain copy too.
void DecodeBlocks(LayoutId id, const uint8_t* in, size_t nblocks, LayoutId type, void* y, Stores) {
  const Layout& l = GetLayout(id);
  const size_t n = static_cast<size_t>(l.block_elements);
  float values[kMaxBlock];
  for (size_t b = 0; b < nblocks; ++b) {
    ReferenceDecodeBlocks(id, in + b * l.block_bytes, 1, values);
    ReferenceFromFloat(type, values, n, static_cast<uint8_t*>(y) + b * n * ElementBytes(type));
  }
}

// quantize_i2_s on the part: its scale, then its codes under that scale.
float I2SEncode(LayoutId type, const void* x, size_t n, uint8_t* out) {
  const uint8_t* in = static_cast<const uint8_t*>(x);
  float values[kI2SBlock];
  float scale = 0.0f;
  for (size_t i = 0; i < n; i += kI2SBlock) {
    ReferenceToFloat(type, in + i * ElementBytes(type), kI2SBlock, values);
    scale = I2SScaleMerge(scale, I2SScaleOf(values, kI2SBlock));
  }
  for (size_t i = 0; i < n; i += kI2SBlock) {
    ReferenceToFloat(type, in + i * ElementBytes(type), kI2SBlock, values);
    QuantizeI2SBlocks(values, kI2SBlock, scale, out + i / 4);
  }
  return scale;
}

void I2SDecode(const uint8_t* in, size_t n, float scale, LayoutId type, void* y, Stores) {
  float values[kI2SBlock];
  for (size_t i = 0; i < n; i += kI2SBlock) {
    DequantizeI2SBlocks(in + i / 4, kI2SBlock, scale, values);
    ReferenceFromFloat(type, values, kI2SBlock, static_cast<uint8_t*>(y) + i * ElementBytes(type));
  }
}

void UnpackValues(LayoutId id, const uint8_t* blocks, size_t nblocks, int8_t* values) {
  UnpackBlockValues(GetLayout(id), blocks, nblocks, values);
}
void PackValues(LayoutId id, const int8_t* values, size_t nblocks, uint8_t* blocks) {
  PackBlockValues(GetLayout(id), values, nblocks, blocks);
}

bool AnyCode3(LayoutId id, const uint8_t* blocks, size_t nblocks) {
  return AnyTwoBitCode3(GetLayout(id), blocks, nblocks);
}

void ValueFlags(const int8_t* values, size_t pieces, size_t piece, int min_value, int max_value,
                uint8_t* flags) {
  for (size_t p = 0; p < pieces; ++p) {
    flags[p] = 0;
    for (size_t i = p * piece; i < (p + 1) * piece; ++i) {
      if (values[i] < min_value || values[i] > max_value) flags[p] |= kRepackOutside;
      if (values[i] != 0) flags[p] |= kRepackNonzero;
    }
  }
}

// Unit by unit: every element's code through src's map, then dst's code
// bytes from those codes (formats/ternary_codes.h).
void TranscodeCodes(LayoutId src_id, const uint8_t* in, LayoutId dst_id, size_t units, bool /*more*/,
                    RepackScale scale, uint8_t* out, uint8_t* flags) {
  const Layout& src = GetLayout(src_id);
  const Layout& dst = GetLayout(dst_id);
  const size_t src_block = static_cast<size_t>(src.block_elements);
  const size_t dst_block = static_cast<size_t>(dst.block_elements);
  for (size_t u = 0; u < units; ++u) {
    uint8_t codes[kCodeUnit];
    uint8_t unit_flags = 0;
    for (size_t j = 0; j < kCodeUnit; ++j) {
      const size_t e = u * kCodeUnit + j;
      codes[j] = static_cast<uint8_t>(BlockCode(src, in + e / src_block * src.block_bytes, e % src_block));
      if (codes[j] != src.code_offset) unit_flags = kRepackNonzero;
    }
    for (size_t j = 0; j < kCodeUnit; j += dst_block) {
      uint8_t* block = out + (u * kCodeUnit + j) / dst_block * dst.block_bytes;
      PackBlockCodes(dst, codes + j, block);
      if (dst.scale == ScaleKind::kBlockF16) {
        const size_t e = u * kCodeUnit + j;
        const uint16_t h =
            TargetBlockScale(scale, in + e / src_block * src.block_bytes + src.scale_offset, unit_flags != 0);
        memcpy(block + dst.scale_offset, &h, sizeof h);
      }
    }
    if (flags != nullptr) flags[u] = unit_flags;
  }
}

// Ordinary stores whether or not `stream` asks for non-temporal ones.
void RepackBytes(const ByteRepack& r, RepackScale scale, const uint8_t* in, size_t first, size_t count,
                 uint8_t* out, bool /*stream*/, uint8_t* flags) {
  const Layout& src = GetLayout(r.src);
  const Layout& dst = GetLayout(r.dst);
  for (size_t g = 0; g < count; ++g) {
    const uint8_t* from = in + RepackGroupOffset(src, r.group_bytes, first + g);
    uint8_t* to = out != nullptr ? out + RepackGroupOffset(dst, r.group_bytes, first + g) : nullptr;
    uint8_t group_flags = 0;
    for (size_t b = 0; b < r.group_bytes; ++b) {
      uint8_t byte_flags = 0;
      const uint8_t byte = RepackByte(src, dst, from[b], &byte_flags);
      if (to != nullptr) to[b] = byte;
      group_flags |= byte_flags;
    }
    if (to != nullptr && dst.scale == ScaleKind::kBlockF16) {  // the group is the block
      const uint16_t h = TargetBlockScale(scale, from - src.codes.codes_offset + src.scale_offset,
                                          (group_flags & kRepackNonzero) != 0);
      memcpy(to - dst.codes.codes_offset + dst.scale_offset, &h, sizeof h);
    }
    if (flags != nullptr) flags[g] = group_flags;
  }
}

// Ordinary stores: the reference keeps to portable C++, and they need no
// fence of their own.
void StreamOut(const void* in, size_t bytes, void* out) { memcpy(out, in, bytes); }
void StreamFence() {}

}  // namespace

// Each entry reports REFERENCE as it runs (cpu/target_list.h).
const TensorKernels kReferenceTensorKernels = {
    ReportingReference<EncodeBlocks>::Run,
    ReportingReference<DecodeBlocks>::Run,
    ReportingReference<I2SEncode>::Run,
    ReportingReference<I2SDecode>::Run,
    ReportingReference<AbsScanChunk>::Run,
    ReportingReference<TernarizeCodes>::Run,
    ReportingReference<TernaryValues>::Run,
    ReportingReference<ReferenceToFloat>::Run,
    ReportingReference<ReferenceFromFloat>::Run,
    ReportingReference<UnpackValues>::Run,
    ReportingReference<PackValues>::Run,
    ReportingReference<ValueFlags>::Run,
    ReportingReference<AnyCode3>::Run,
    ReportingReference<TranscodeCodes>::Run,
    ReportingReference<RepackBytes>::Run,
    ReportingReference<QuantizeI8SRow>::Run,
    ReportingReference<StreamOut>::Run,
    ReportingReference<StreamFence>::Run,
};

}  // namespace bitnet
