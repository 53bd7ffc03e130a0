// What one lane of a tensor-layout kernel (tensor_kernels.cu) does with its
// 8 consecutive elements j0 .. j0+7 of a block (j0 % 8 == 0; every block
// size is a multiple of 8, so they share one block): read their codes
// through the layout's map, and decode them. Host and device code, so that
// test_cuda_lanes checks each against the scalar rules on any machine.
//
// Speed is the point: the scalar rule of each element (MapCode, one
// TernaryValue and one conversion per element) costs the kernels several
// times the instructions their memory traffic leaves room for. Here the
// map's index arithmetic is done once per lane where the 8 elements share a
// byte run and a bit field (or a digit), a block's scale is read once, and
// a ternary block's at most four values are converted once and selected.
#ifndef BITNET_CUDA_LANE_CODES_H_
#define BITNET_CUDA_LANE_CODES_H_

#include <cstddef>
#include <cstdint>

#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/host_device.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

namespace bitnet {
namespace cuda {

constexpr unsigned kLaneElements = 8;

// A kTrits map whose segments each hold a multiple of 8 elements: a lane's
// 8 elements then lie in one segment.
BITNET_HOST_DEVICE constexpr bool SegmentsHoldLanes(const CodeMap& m) {
  return m.num_segments >= 1 && m.segments[0].bytes * m.segments[0].trits_per_byte % 8 == 0 &&
         (m.num_segments < 2 || m.segments[1].bytes * m.segments[1].trits_per_byte % 8 == 0) &&
         (m.num_segments < 3 || m.segments[2].bytes * m.segments[2].trits_per_byte % 8 == 0);
}

// 3^n modulo 256 (n <= 4): TritDigit's n multiplications by 3 in uint8 are
// one multiplication by this.
BITNET_HOST_DEVICE inline unsigned Pow3Mod256(unsigned n) {
  return n == 0 ? 1u : n == 1 ? 3u : n == 2 ? 9u : n == 3 ? 27u : 81u;
}
BITNET_HOST_DEVICE inline unsigned TritDigitScaled(uint8_t byte, unsigned pow3) {
  return (static_cast<unsigned>(static_cast<uint8_t>(byte * pow3)) * 3u) >> 8;
}

// The codes (MapCode) of elements j0 .. j0+7 of `block`, a block of layout
// kId (kTwoBit or kTrits).
template <LayoutId kId>
BITNET_HOST_DEVICE inline void LaneCodes(const uint8_t* block, unsigned j0, unsigned codes[8]) {
  constexpr CodeMap kMap = LayoutOf(kId).codes;
  if constexpr (kMap.kind == CodeMapKind::kTwoBit && kMap.run % 8 == 0) {
    // One field of 8 consecutive bytes.
    const BitPosition p = TwoBitPosition(kMap, j0);
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) codes[i] = (block[p.byte + i] >> p.shift) & 3u;
  } else if constexpr (kMap.kind == CodeMapKind::kTwoBit && kMap.run <= 2) {
    // Runs of 1 or 2 bytes: j0 (a multiple of 8 = 4 runs of 2) starts
    // field 0 of a run, and element j0 + i sits where element i of a block
    // would, that many runs on.
    const size_t base = TwoBitPosition(kMap, j0).byte - kMap.codes_offset;
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) {
      const BitPosition p = TwoBitPosition(kMap, i);
      codes[i] = (block[base + p.byte] >> p.shift) & 3u;
    }
  } else if constexpr (kMap.kind == CodeMapKind::kTrits && SegmentsHoldLanes(kMap)) {
    unsigned j = j0;
    BITNET_UNROLL
    for (unsigned s = 0; s < 3 && s < kMap.num_segments; ++s) {
      const TritSegment seg = kMap.segments[s];
      const unsigned count = static_cast<unsigned>(seg.bytes) * seg.trits_per_byte;
      if (j < count) {
        if (seg.bytes % 8 == 0) {  // one digit of 8 consecutive bytes
          const unsigned pow3 = Pow3Mod256(j / seg.bytes);
          const uint8_t* bytes = block + seg.first_byte + j % seg.bytes;
          BITNET_UNROLL
          for (unsigned i = 0; i < 8; ++i) codes[i] = TritDigitScaled(bytes[i], pow3);
        } else {
          BITNET_UNROLL
          for (unsigned i = 0; i < 8; ++i) {
            codes[i] = TritDigitScaled(block[seg.first_byte + (j + i) % seg.bytes],
                                       Pow3Mod256((j + i) / seg.bytes));
          }
        }
        return;
      }
      j -= count;
    }
  } else {
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) codes[i] = MapCode(kMap, block, j0 + i);
  }
}

// The bits of float v as element type kT (F32, F16 or BF16), with ggml's
// conversions.
template <LayoutId kT>
BITNET_HOST_DEVICE inline uint32_t ElementBits(float v) {
  return kT == LayoutId::kF16 ? FloatToHalf(v) : kT == LayoutId::kBF16 ? FloatToBFloat(v) : FloatBits(v);
}

// TernaryValue(code, d) with its x86 result for a NaN d spelled out (d made
// quiet, whatever the code): the lanes multiply d by the constants -1, 0,
// 1, 2, and a host compiler may fold -1 * d into -d, or 1 * d into -(-1 *
// d), which flips a NaN's sign that x86's multiplication keeps.
BITNET_HOST_DEVICE inline float LaneTernaryValue(unsigned code, float d) {
  return d != d ? QuietNaN(d) : TernaryValue(code, d);
}

// One of four values by a 2-bit code, without indexing (an indexed local
// array would go to a GPU's local memory).
BITNET_HOST_DEVICE inline uint32_t Select4(const uint32_t v[4], unsigned code) {
  return (code & 2u) ? ((code & 1u) ? v[3] : v[2]) : ((code & 1u) ? v[1] : v[0]);
}

// The block scale of a ternary block layout (I2_S: the tensor's).
template <LayoutId kId>
BITNET_HOST_DEVICE inline float BlockScale(const uint8_t* block, float tensor_scale) {
  if constexpr (LayoutOf(kId).scale == ScaleKind::kTensorF32) {
    return tensor_scale;
  } else {
    uint16_t h;
    memcpy(&h, block + LayoutOf(kId).scale_offset, sizeof h);
    return HalfToFloat(h);
  }
}

// Elements j0 .. j0+7 of a block of kSrc (a ternary block layout, Q8_0,
// Q8_K or IQ2_S) decoded into kDst's bits, as DequantizeTensor does each:
// the value by the layout's rule, then the element conversion. I2_S takes
// the tensor's scale; IQ2_S its grid (kIq2sGridTrits or a GPU copy).
template <LayoutId kSrc, LayoutId kDst>
BITNET_HOST_DEVICE inline void DecodeLane(const uint8_t* block, unsigned j0, float tensor_scale,
                                          const uint16_t* iq2s_grid, uint32_t out[8]) {
  constexpr CodeMapKind kKind = LayoutOf(kSrc).codes.kind;
  if constexpr (kKind == CodeMapKind::kTwoBit || kKind == CodeMapKind::kTrits) {
    unsigned codes[8];
    LaneCodes<kSrc>(block, j0, codes);
    const float d = BlockScale<kSrc>(block, tensor_scale);
    uint32_t values[4];
    BITNET_UNROLL
    for (unsigned c = 0; c < 4; ++c) values[c] = ElementBits<kDst>(LaneTernaryValue(c, d));
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) out[i] = Select4(values, codes[i]);
  } else if constexpr (kSrc == LayoutId::kQ8_0) {
    uint16_t h;
    memcpy(&h, block, sizeof h);
    const float d = HalfToFloat(h);
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) {
      out[i] = ElementBits<kDst>(X86Mul(static_cast<float>(static_cast<int8_t>(block[2 + j0 + i])), d));
    }
  } else if constexpr (kSrc == LayoutId::kQ8_K) {
    float d;
    memcpy(&d, block, sizeof d);
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) {
      out[i] = ElementBits<kDst>(X86Mul(d, static_cast<float>(static_cast<int8_t>(block[4 + j0 + i]))));
    }
  } else {  // IQ2_S
    BITNET_UNROLL
    for (unsigned i = 0; i < 8; ++i) out[i] = ElementBits<kDst>(Iq2sValue(block, j0 + i, iq2s_grid));
  }
}

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_LANE_CODES_H_
