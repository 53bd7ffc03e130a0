// Highway quantizers for both BitNet-rs families. Each block takes two
// passes: its scale statistics, then its codes (the block is still in L1).
//
// The element rules are the references' rules rewritten as comparisons on
// the same IEEE quotient, which is exact because every rounding boundary is
// a representable half-integer:
//   I2_S: clamp(round_half_away(y), -2, 1) + 2 = 2 + [y>=.5] - [y<=-.5] - [y<=-1.5]
//   TL1:  forward[round(t)] with the step table = [t>=126.5]+[t>=127.5]+[t>=128.5]
//   TL2:  forward[round(t)] with the step table = 1 + [t>=64.5] + [t>=191.5]
// The tests compare every target with the references bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/quantize_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "cpu/codes-inl.h"
#include "cpu/kernels.h"
#include "formats/bitnet_rs_kernel.h"
#include "formats/bitnet_rs_quantizer.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// Largest |x| over a block: over finite x (the stored scale of the quantizer
// family) and over non-NaN x (TL1's table, the kernel family's scale),
// the latter -1 when every element is NaN.
struct BlockStats {
  float finite_absmax;
  float nonnan_absmax;
};

// Folds one vector into the two maxima (NaN lanes give -1 to `nonnan`).
HWY_INLINE void AddStats(VF v, VF& finite, VF& nonnan) {
  const VF a = hn::Abs(v);
  finite = hn::Max(finite, hn::IfThenElseZero(hn::IsFinite(v), a));
  nonnan = hn::Max(nonnan, hn::IfThenElse(hn::IsNaN(v), hn::Set(DF(), -1.0f), a));
}

BlockStats ComputeStats(const float* HWY_RESTRICT x, size_t len) {
  const DF df;
  const size_t N = hn::Lanes(df);
  VF finite = hn::Zero(df);
  VF nonnan = hn::Set(df, -1.0f);
  size_t i = 0;
  for (; i + N <= len; i += N) AddStats(hn::LoadU(df, x + i), finite, nonnan);
  if (i < len) AddStats(LoadTail(x + i, len - i, NAN), finite, nonnan);  // NaN counts for neither
  return {hn::GetLane(hn::MaxOfLanes(df, finite)), hn::GetLane(hn::MaxOfLanes(df, nonnan))};
}

// Runs `code_of` over a block and appends the codes to `out`.
template <class CodeOf>
HWY_INLINE void EmitBlockCodes(const float* HWY_RESTRICT x, size_t len,
                               const CodeOf& code_of, CodeWriter& out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= len; i += N) out.Put(CodesToBits(code_of(hn::LoadU(df, x + i))), N);
  if (i < len) {
    const size_t rem = len - i;
    const uint32_t bits = CodesToBits(code_of(LoadTail(x + i, rem, 0.0f)));
    out.Put(bits & ((uint32_t{1} << (2 * rem)) - 1), rem);
  }
}

// Family A codes (BitNet-rs I2SQuantizer / TL1Quantizer / TL2Quantizer).
struct I2SCodes {
  VF scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, scale);
    VI code = hn::Set(di, 2);
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(y, hn::Set(df, 0.5f))));
    code = hn::Add(code, MaskToMinusOne(hn::Le(y, hn::Set(df, -0.5f))));
    code = hn::Add(code, MaskToMinusOne(hn::Le(y, hn::Set(df, -1.5f))));
    return hn::IfThenElse(hn::RebindMask(di, hn::IsFinite(x)), code, hn::Set(di, 2));
  }
};

struct Tl1Codes {
  VF table_scale;  // finite; an infinite table scale codes every element 2
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF t = hn::Add(hn::Div(x, table_scale), hn::Set(df, 128.0f));
    VI code = hn::Zero(DI());
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(t, hn::Set(df, 126.5f))));
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(t, hn::Set(df, 127.5f))));
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(t, hn::Set(df, 128.5f))));
    return code;
  }
};

struct ConstantCode {
  int32_t value;
  HWY_INLINE VI operator()(VF) const { return hn::Set(DI(), value); }
};

struct Tl2Codes {
  VF scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF t = hn::Add(hn::Mul(hn::Div(x, scale), hn::Set(df, 128.0f)),
                         hn::Set(df, 128.0f));
    VI code = hn::Set(DI(), 1);
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(t, hn::Set(df, 64.5f))));
    code = hn::Sub(code, MaskToMinusOne(hn::Ge(t, hn::Set(df, 191.5f))));
    return code;
  }
};

void Quantize(Format format, const float* HWY_RESTRICT input, size_t n,
              size_t block, uint8_t* HWY_RESTRICT packed,
              float* HWY_RESTRICT scales) {
  const DF df;
  CodeWriter out(packed);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const float* x = input + start;
    const size_t len = n - start < block ? n - start : block;
    const BlockStats stats = ComputeStats(x, len);
    const float scale = StoredScale(stats.finite_absmax);
    scales[b] = scale;
    switch (format) {
      case Format::kI2S:
        EmitBlockCodes(x, len, I2SCodes{hn::Set(df, scale)}, out);
        break;
      case Format::kTL1: {
        // tl1.rs: table scale = block |min|/|max| over non-NaN elements
        // (infinite when there are none), 1 when that is 0.
        const float abs_max = stats.nonnan_absmax < 0.0f ? INFINITY : stats.nonnan_absmax;
        const float table_scale = abs_max == 0.0f ? 1.0f : abs_max;
        if (std::isinf(table_scale)) {
          EmitBlockCodes(x, len, ConstantCode{2}, out);
        } else {
          EmitBlockCodes(x, len, Tl1Codes{hn::Set(df, table_scale)}, out);
        }
        break;
      }
      case Format::kTL2:
        EmitBlockCodes(x, len, Tl2Codes{hn::Set(df, scale)}, out);
        break;
    }
  }
  out.Flush();
}

// Family B codes (BitNet-rs FallbackKernel).
struct KernelI2SCodes {
  VF scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, scale);
    const VI minus_one = hn::IfThenElseZero(hn::RebindMask(di, hn::Lt(y, hn::Set(df, -0.5f))),
                                            hn::Set(di, 3));
    return hn::IfThenElse(hn::RebindMask(di, hn::Gt(y, hn::Set(df, 0.5f))), hn::Set(di, 1),
                          minus_one);
  }
};

struct NearestLevelCodes {
  VF scale;
  const float* levels;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, scale);
    VI best = hn::Zero(di);
    VF best_dist = hn::Abs(hn::Sub(y, hn::Set(df, levels[0])));
    for (int idx = 1; idx < 4; ++idx) {
      const VF dist = hn::Abs(hn::Sub(y, hn::Set(df, levels[idx])));
      const auto closer = hn::Lt(dist, best_dist);
      best = hn::IfThenElse(hn::RebindMask(di, closer), hn::Set(di, idx), best);
      best_dist = hn::IfThenElse(closer, dist, best_dist);
    }
    return best;
  }
};

void KernelQuantize(Format format, const float* HWY_RESTRICT input, size_t n,
                    uint8_t* HWY_RESTRICT packed, float* HWY_RESTRICT scales) {
  const DF df;
  const size_t block = DefaultBlockSize(format);
  CodeWriter out(packed);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const float* x = input + start;
    const size_t len = n - start < block ? n - start : block;
    const float absmax = ComputeStats(x, len).nonnan_absmax;
    const float scale = KernelScale(absmax < 0.0f ? 0.0f : absmax);
    scales[b] = scale;
    const VF vscale = hn::Set(df, scale);
    switch (format) {
      case Format::kI2S:
        EmitBlockCodes(x, len, KernelI2SCodes{vscale}, out);
        break;
      case Format::kTL1:
        EmitBlockCodes(x, len, NearestLevelCodes{vscale, kKernelTl1Levels}, out);
        break;
      case Format::kTL2:
        EmitBlockCodes(x, len, NearestLevelCodes{vscale, kKernelTl2Levels}, out);
        break;
    }
  }
  out.Flush();
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(Quantize);
HWY_EXPORT(KernelQuantize);

QuantizeFn HwyQuantize(int64_t hwy_target) {
  return HwyTableEntry(HWY_DISPATCH_TABLE(Quantize), hwy_target);
}
KernelQuantizeFn HwyKernelQuantize(int64_t hwy_target) {
  return HwyTableEntry(HWY_DISPATCH_TABLE(KernelQuantize), hwy_target);
}
int64_t HwyCompiledTargets() { return HWY_TARGETS; }
int64_t HwySupportedTargets() { return hwy::SupportedTargets() & HWY_TARGETS; }

}  // namespace bitnet
#endif  // HWY_ONCE
