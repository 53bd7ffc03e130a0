// Highway kernels of the ggml block layouts (formats/ggml_rules.h): encode
// and decode of TQ1_0, TQ2_0, Q2_0, Q8_0 and Q8_K. IQ2_S decodes through
// its reference (grid lookups; no model stores ternary weights in it).
//
// An encoder first finds the block's largest |x| as integer bits. A block
// holding a NaN or an infinity, or whose reciprocal scale overflows (a
// subnormal maximum), is encoded by the reference: there ggml's results
// hang on the order of its MAX and on x86's conversions of NaN and Inf. On
// every other block the rules reduce to comparisons of one IEEE product,
// the reference's own (see GgmlTernaryRule).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/ggml_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/block_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// The block's largest |x|, if it is finite.
HWY_INLINE bool FiniteAmax(const float* HWY_RESTRICT x, size_t n, float* amax) {
  const int32_t bits = MaxAbsBits(x, n);
  *amax = BitsFloat(static_cast<uint32_t>(bits));
  return bits < kInfBits;
}

// ggml's TQ1_0 / TQ2_0 / Q2_0 code of x in a block whose amax and id =
// 1/amax are finite (0 for an all-zero block). Then |x * id| <= 1 + 2^-23,
// where both lroundf(v) + 1 (TQ) and clamp((int)roundf(v) + 1, 0, 3) (Q2_0)
// are 1 + [v >= 0.5] - [v <= -0.5].
struct GgmlTernaryRule {
  static constexpr int32_t kBase = 1;
  float id;

  // acc + (code(x) - kBase) * unit.
  template <class D, class VI>
  HWY_INLINE VI Add(D d, hn::Vec<D> x, VI acc, int32_t unit) const {
    const hn::Vec<D> v = hn::Mul(x, hn::Set(d, id));
    acc = AddIf(acc, hn::Ge(v, hn::Set(d, 0.5f)), unit);
    return AddIf(acc, hn::Le(v, hn::Set(d, -0.5f)), -unit);
  }
};

// The rule of a ternary block, or false when the block takes the reference.
HWY_INLINE bool TernaryRuleOf(const float* HWY_RESTRICT x, size_t n, float* amax,
                              GgmlTernaryRule* rule) {
  if (!FiniteAmax(x, n, amax)) return false;
  rule->id = *amax != 0.0f ? 1.0f / *amax : 0.0f;
  return std::isfinite(rule->id);
}

// ---- 2-bit layouts ----------------------------------------------------------

// Bit k of the mask as bit 2k.
HWY_INLINE uint64_t SpreadBits(uint32_t bits) {
  uint64_t x = bits;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x << 2)) & 0x3333333333333333ull;
  return (x | (x << 1)) & 0x5555555555555555ull;
}

template <class D>
HWY_INLINE uint32_t MaskBits(D d, hn::Mask<D> m) {
  uint8_t bytes[8] = {0};
  hn::StoreMaskBits(d, m, bytes);
  uint32_t bits;
  memcpy(&bits, bytes, sizeof bits);
  return bits;
}

// run == 1: four consecutive elements per byte (Q2_0). The 2-bit fields of
// 32 elements are 1 + up - down, built from the comparisons' mask bits in
// one 64-bit word (a field never carries into the next).
HWY_INLINE void PackConsecutive(const float* HWY_RESTRICT x, size_t n, const GgmlTernaryRule& rule,
                                uint8_t* HWY_RESTRICT out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const VF id = hn::Set(df, rule.id);
  for (size_t g = 0; g < n; g += 32) {
    uint32_t up = 0, down = 0;
    for (size_t k = 0; k < 32; k += N) {
      const VF v = hn::Mul(hn::LoadU(df, x + g + k), id);
      up |= MaskBits(df, hn::Ge(v, hn::Set(df, 0.5f))) << k;
      down |= MaskBits(df, hn::Le(v, hn::Set(df, -0.5f))) << k;
    }
    const uint64_t word = 0x5555555555555555ull + SpreadBits(up) - SpreadBits(down);
    memcpy(out + g / 4, &word, sizeof word);
  }
}

// The codes of a kTwoBit block of l.block_elements elements.
HWY_INLINE void PackTwoBit(const Layout& l, const float* HWY_RESTRICT x,
                           const GgmlTernaryRule& rule, uint8_t* HWY_RESTRICT block) {
  const CodeMap& m = l.codes;
  const size_t n = static_cast<size_t>(l.block_elements);
  uint8_t* codes = block + m.codes_offset;
  if (m.run == 1) return PackConsecutive(x, n, rule, codes);
  for (size_t g = 0; g < n; g += 4 * m.run) {
    if (m.msb_first) {
      PackRuns<true>(x + g, m.run, rule, codes + g / 4);
    } else {
      PackRuns<false>(x + g, m.run, rule, codes + g / 4);
    }
  }
}

HWY_INLINE void UnpackTwoBit(const Layout& l, const uint8_t* HWY_RESTRICT block,
                             const CodeValues<DF>& values, float* HWY_RESTRICT y) {
  const CodeMap& m = l.codes;
  const size_t n = static_cast<size_t>(l.block_elements);
  const uint8_t* codes = block + m.codes_offset;
  if (m.run == 1) {
    const size_t N = hn::Lanes(DF());
    for (size_t i = 0; i < n; i += N) hn::StoreU(values(BitsToCodes(LoadBits(codes, i, N))), DF(), y + i);
    return;
  }
  for (size_t g = 0; g < n; g += 4 * m.run) {
    if (m.msb_first) {
      UnpackRuns<true>(codes + g / 4, m.run, values, y + g);
    } else {
      UnpackRuns<false>(codes + g / 4, m.run, values, y + g);
    }
  }
}

// ---- TQ1_0's trits ------------------------------------------------------------

// A segment whose byte count is below the lane count (TQ1_0's last 4 bytes
// on AVX2 and AVX-512) runs on 4 lanes.
using D4 = hn::CappedTag<float, 4>;

// One segment: byte b holds the digits of elements t * bytes + b (t = 0
// first), stored as ceil(q * 256 / 243) of q = the digits in base 3. The
// fast path's digits are 0..2, so q <= 242 and the uint8 steps never wrap.
template <class D>
HWY_INLINE void PackTrits(D d, const float* HWY_RESTRICT x, const TritSegment& seg,
                          const GgmlTernaryRule& rule, uint8_t* HWY_RESTRICT out) {
  const hn::RebindToSigned<D> di;
  const hn::RebindToUnsigned<D> du;
  const hn::Rebind<uint8_t, D> d8;
  for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
    auto q = hn::Zero(di);
    for (size_t t = 0; t < 5; ++t) {
      q = hn::Add(hn::ShiftLeft<1>(q), q);  // q * 3
      if (t < seg.trits_per_byte) {
        q = hn::Add(q, rule.Add(d, hn::LoadU(d, x + t * seg.bytes + b), hn::Set(di, 1), 1));
      }
    }
    // (q * 256 + 242) / 243 as (q * 256 + 242) * 69043 >> 24 in uint32:
    // exact for q <= 242 (checked for each in the tests' TQ1_0 cases).
    const auto a = hn::BitCast(du, hn::Add(hn::ShiftLeft<8>(q), hn::Set(di, 242)));
    const auto byte = hn::ShiftRight<24>(hn::Mul(a, hn::Set(du, 69043u)));
    hn::StoreU(NarrowTo<uint8_t>(hn::BitCast(di, byte)), d8, out + b);
  }
}

// Digit t of a byte: ((uint8)(byte * 3^t) * 3) >> 8.
template <class D>
HWY_INLINE void UnpackTrits(D d, const uint8_t* HWY_RESTRICT in, const TritSegment& seg,
                            float scale, float* HWY_RESTRICT y) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<uint8_t, D> d8;
  const CodeValues<D> values(d, 1, scale);
  for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
    auto s = hn::PromoteTo(di, hn::LoadU(d8, in + b));  // (uint8)(byte * 3^t)
    for (size_t t = 0; t < seg.trits_per_byte; ++t) {
      const auto s3 = hn::Add(hn::ShiftLeft<1>(s), s);
      hn::StoreU(values(hn::ShiftRight<8>(s3)), d, y + t * seg.bytes + b);
      s = hn::And(s3, hn::Set(di, 0xFF));
    }
  }
}

HWY_INLINE void PackTritBlock(const Layout& l, const float* HWY_RESTRICT x,
                              const GgmlTernaryRule& rule, uint8_t* HWY_RESTRICT block) {
  size_t first = 0;
  for (size_t s = 0; s < l.codes.num_segments; ++s) {
    const TritSegment& seg = l.codes.segments[s];
    if (seg.bytes % hn::Lanes(DF()) == 0) {
      PackTrits(DF(), x + first, seg, rule, block + seg.first_byte);
    } else {
      PackTrits(D4(), x + first, seg, rule, block + seg.first_byte);
    }
    first += static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
  }
}

HWY_INLINE void UnpackTritBlock(const Layout& l, const uint8_t* HWY_RESTRICT block, float scale,
                                float* HWY_RESTRICT y) {
  size_t first = 0;
  for (size_t s = 0; s < l.codes.num_segments; ++s) {
    const TritSegment& seg = l.codes.segments[s];
    if (seg.bytes % hn::Lanes(DF()) == 0) {
      UnpackTrits(DF(), block + seg.first_byte, seg, scale, y + first);
    } else {
      UnpackTrits(D4(), block + seg.first_byte, seg, scale, y + first);
    }
    first += static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
  }
}

// ---- the ternary layouts -------------------------------------------------------

using EncodeBlockFn = void (*)(const float*, uint8_t*);

// TQ1_0, TQ2_0, Q2_0: the codes through the layout's map, then the f16 amax.
void EncodeTernary(const Layout& l, EncodeBlockFn reference, const float* HWY_RESTRICT x,
                   size_t nblocks, uint8_t* HWY_RESTRICT out) {
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t b = 0; b < nblocks; ++b, x += n, out += l.block_bytes) {
    float amax;
    GgmlTernaryRule rule;
    if (!TernaryRuleOf(x, n, &amax, &rule)) {
      reference(x, out);
      continue;
    }
    if (l.codes.kind == CodeMapKind::kTrits) {
      PackTritBlock(l, x, rule, out);
    } else {
      PackTwoBit(l, x, rule, out);
    }
    StoreHalf(out + l.scale_offset, amax);
  }
}

// (float)(code - 1) * d per element, d the block's f16. A block whose d is
// NaN or infinite takes the reference: the table of CodeValues multiplies
// d by constants, which a compiler may fold (EMU128 turns NaN * -1 into a
// sign flip), while the reference's factor is only known at run time.
void DecodeTernary(const Layout& l, const uint8_t* HWY_RESTRICT in, size_t nblocks,
                   float* HWY_RESTRICT y) {
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t b = 0; b < nblocks; ++b, in += l.block_bytes, y += n) {
    const float d = LoadHalf(in + l.scale_offset);
    if (HWY_UNLIKELY(!std::isfinite(d))) {
      ReferenceDecodeBlocks(l.id, in, 1, y);
    } else if (l.codes.kind == CodeMapKind::kTrits) {
      UnpackTritBlock(l, in, d, y);
    } else {
      UnpackTwoBit(l, in, CodeValues<DF>(DF(), 1, d), y);
    }
  }
}

// ---- the int8 layouts ---------------------------------------------------------------

// roundf (half away from zero) of |v| < 2^23: trunc, plus the sign where
// the (exact) fraction is at least one half.
HWY_INLINE VF RoundHalfAway(VF v) {
  const DF df;
  const VF t = hn::Trunc(v);
  const VF away = hn::Add(t, hn::CopySignToAbs(hn::Set(df, 1.0f), v));
  return hn::IfThenElse(hn::Ge(hn::Abs(hn::Sub(v, t)), hn::Set(df, 0.5f)), away, t);
}

// Q8_0: d = amax / 127 (f16), q = roundf(x / d) through id = 1 / d. On the
// fast path |x * id| <= 127 (plus rounding), so the int8 is the rounded value.
void EncodeQ8_0(const Layout& l, const float* HWY_RESTRICT x, size_t nblocks,
                uint8_t* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t b = 0; b < nblocks; ++b, x += n, out += l.block_bytes) {
    float amax;
    const bool finite = FiniteAmax(x, n, &amax);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!finite || !std::isfinite(id)) {
      QuantizeBlockQ8_0(x, out);
      continue;
    }
    StoreHalf(out + l.scale_offset, d);
    int8_t* q = reinterpret_cast<int8_t*>(out + l.codes.codes_offset);
    for (size_t j = 0; j < n; j += hn::Lanes(df)) {
      const VF v = hn::Mul(hn::LoadU(df, x + j), hn::Set(df, id));
      hn::StoreU(NarrowTo<int8_t>(hn::ConvertTo(di, RoundHalfAway(v))), d8, q + j);
    }
  }
}

// (float)q * d, and Q8_K's d * (float)q: the same product.
void DecodeInt8(const Layout& l, const uint8_t* HWY_RESTRICT in, size_t nblocks,
                float* HWY_RESTRICT y) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t b = 0; b < nblocks; ++b, in += l.block_bytes, y += n) {
    float scale;
    if (l.scale == ScaleKind::kBlockF32) {
      memcpy(&scale, in + l.scale_offset, sizeof scale);
    } else {
      scale = LoadHalf(in + l.scale_offset);
    }
    const VF d = hn::Set(df, scale);
    const int8_t* q = reinterpret_cast<const int8_t*>(in + l.codes.codes_offset);
    for (size_t j = 0; j < n; j += hn::Lanes(df)) {
      hn::StoreU(hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, q + j))), d), df, y + j);
    }
  }
}

// Q8_K: the signed element of largest |x| (the first of equals) gives
// iscale = -127 / max; q = min(nearest_int(iscale * x), 127), exact through
// ggml's own magic add; bsums are the sums of 16 codes; d = 1 / iscale.
// All-zero blocks, like non-finite ones, take the reference.
void EncodeQ8_K(const Layout& l, const float* HWY_RESTRICT x, size_t nblocks,
                uint8_t* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t N = hn::Lanes(df);
  const size_t n = static_cast<size_t>(l.block_elements);
  constexpr size_t kGroup = 16;  // elements per bsum, stored after the codes
  for (size_t b = 0; b < nblocks; ++b, x += n, out += l.block_bytes) {
    const int32_t amax_bits = MaxAbsBits(x, n);
    float max = 0.0f;
    for (size_t j = 0; amax_bits < kInfBits && j < n; j += N) {
      const auto at = hn::Eq(AbsBits(hn::LoadU(df, x + j)), hn::Set(di, amax_bits));
      if (!hn::AllFalse(di, at)) {
        max = x[j + static_cast<size_t>(hn::FindFirstTrue(di, at))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    if (amax_bits >= kInfBits || amax_bits == 0 || !std::isfinite(iscale)) {
      QuantizeBlockQ8_K(x, out);
      continue;
    }
    int8_t* qs = reinterpret_cast<int8_t*>(out + l.codes.codes_offset);
    int16_t bsums[kQK_K / kGroup];
    for (size_t g = 0; g < n; g += kGroup) {
      VI sum = hn::Zero(di);
      for (size_t j = g; j < g + kGroup; j += N) {
        const VF biased = hn::Add(hn::Mul(hn::Set(df, iscale), hn::LoadU(df, x + j)),
                                  hn::Set(df, 12582912.0f));
        const VI v = hn::Sub(hn::And(hn::BitCast(di, biased), hn::Set(di, 0x007FFFFF)),
                             hn::Set(di, 0x00400000));
        const VI q = hn::Min(v, hn::Set(di, 127));
        hn::StoreU(NarrowTo<int8_t>(q), d8, qs + j);
        sum = hn::Add(sum, q);
      }
      bsums[g / kGroup] = static_cast<int16_t>(hn::GetLane(hn::SumOfLanes(di, sum)));
    }
    const float d = 1.0f / iscale;
    memcpy(out + l.scale_offset, &d, sizeof d);
    memcpy(out + l.codes.codes_offset + n, bsums, sizeof bsums);
  }
}

// ---- dispatch over the layouts ------------------------------------------------------

void EncodeBlocks(LayoutId id, const float* HWY_RESTRICT x, size_t nblocks,
                  uint8_t* HWY_RESTRICT out) {
  const Layout& l = GetLayout(id);
  switch (id) {
    case LayoutId::kTQ1_0: return EncodeTernary(l, QuantizeBlockTQ1_0, x, nblocks, out);
    case LayoutId::kTQ2_0: return EncodeTernary(l, QuantizeBlockTQ2_0, x, nblocks, out);
    case LayoutId::kQ2_0: return EncodeTernary(l, QuantizeBlockQ2_0, x, nblocks, out);
    case LayoutId::kQ8_0: return EncodeQ8_0(l, x, nblocks, out);
    case LayoutId::kQ8_K: return EncodeQ8_K(l, x, nblocks, out);
    case LayoutId::kIQ2_S:  // decode only
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not block-local encoders: the tensor operations never ask
  }
}

void DecodeBlocks(LayoutId id, const uint8_t* HWY_RESTRICT in, size_t nblocks,
                  float* HWY_RESTRICT y) {
  const Layout& l = GetLayout(id);
  switch (id) {
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kQ2_0:
      return DecodeTernary(l, in, nblocks, y);
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
      return DecodeInt8(l, in, nblocks, y);
    case LayoutId::kIQ2_S: return ReferenceDecodeBlocks(id, in, nblocks, y);  // see the top
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kI2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not block-local decoders: the tensor operations never ask
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(EncodeBlocks);
HWY_EXPORT(DecodeBlocks);

void HwyGgmlKernels(int64_t hwy_target, TensorKernels* k) {
  k->encode_blocks = HwyTableEntry(HWY_DISPATCH_TABLE(EncodeBlocks), hwy_target);
  k->decode_blocks = HwyTableEntry(HWY_DISPATCH_TABLE(DecodeBlocks), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
