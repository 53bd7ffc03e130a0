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

// The largest |x| over the elements of a block that `keep` accepts, or
// `none` when it accepts none. NaN is never accepted.
template <class Keep>
HWY_INLINE float BlockAbsMax(const float* HWY_RESTRICT x, size_t len, const Keep& keep,
                             float none) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const VF vnone = hn::Set(df, none);
  VF acc = vnone;
  size_t i = 0;
  for (; i + N <= len; i += N) {
    const VF v = hn::LoadU(df, x + i);
    acc = hn::Max(acc, hn::IfThenElse(keep(v), hn::Abs(v), vnone));
  }
  if (i < len) {
    const VF v = LoadTail(x + i, len - i, NAN);
    acc = hn::Max(acc, hn::IfThenElse(keep(v), hn::Abs(v), vnone));
  }
  return hn::GetLane(hn::MaxOfLanes(df, acc));
}

struct KeepFinite {
  HWY_INLINE hn::Mask<DF> operator()(VF v) const { return hn::IsFinite(v); }
};
struct KeepNonNaN {
  HWY_INLINE hn::Mask<DF> operator()(VF v) const { return hn::Not(hn::IsNaN(v)); }
};

// utils.rs calculate_scale: over finite elements.
HWY_INLINE float BlockStoredScale(const float* HWY_RESTRICT x, size_t len) {
  return StoredScale(BlockAbsMax(x, len, KeepFinite(), 0.0f));
}

// Codes are computed as one byte per element, then packed four to a byte,
// a chunk at a time (the chunk stays in L1).
constexpr size_t kChunk = 512;

// m codes (0..3, one per byte) -> ceil(m/4) packed bytes, the last one
// zero-padded.
HWY_INLINE void PackCodes(const uint8_t* HWY_RESTRICT codes, size_t m,
                          uint8_t* HWY_RESTRICT out) {
  const DU du;
  const DI di;
  const hn::Rebind<uint8_t, DI> d8;
  const size_t N = hn::Lanes(du);
  size_t j = 0;
  // Each u32 lane holds 4 codes in its 4 bytes (little-endian): fold bits
  // 8-9, 16-17 and 24-25 down next to bits 0-1.
  for (; j + 4 * N <= m; j += 4 * N) {
    VU w = hn::LoadU(du, reinterpret_cast<const uint32_t*>(codes + j));
    w = hn::Or(w, hn::ShiftRight<6>(w));
    w = hn::Or(w, hn::ShiftRight<12>(w));
    hn::StoreU(hn::DemoteTo(d8, hn::BitCast(di, hn::And(w, hn::Set(du, 0xFFu)))), d8, out + j / 4);
  }
  for (; j < m; j += 4) {
    unsigned byte = 0;
    for (size_t k = 0; k < 4 && j + k < m; ++k) byte |= static_cast<unsigned>(codes[j + k]) << (2 * k);
    out[j / 4] = static_cast<uint8_t>(byte);
  }
}

// Collects codes, one byte per element, across blocks, and packs them
// whenever a chunk is full (always at a multiple of 4 codes, so on a byte).
class CodeStage {
 public:
  explicit CodeStage(uint8_t* out) : out_(out) {}

  // Appends the codes of the len elements at x.
  template <class CodeOf>
  HWY_INLINE void Emit(const float* HWY_RESTRICT x, size_t len, const CodeOf& code_of) {
    const DF df;
    const hn::Rebind<uint8_t, DI> d8;
    const size_t N = hn::Lanes(df);
    size_t i = 0;
    for (; i + N <= len; i += N) {
      hn::StoreU(hn::DemoteTo(d8, code_of(hn::LoadU(df, x + i))), d8, codes_ + count_);
      count_ += N;
      if (count_ >= kChunk && count_ % 4 == 0) Flush();
    }
    if (i < len) {
      hn::StoreU(hn::DemoteTo(d8, code_of(LoadTail(x + i, len - i, 0.0f))), d8, codes_ + count_);
      count_ += len - i;
      if (count_ >= kChunk && count_ % 4 == 0) Flush();
    }
  }

  // Packs what is staged; only the last flush may end inside a byte.
  HWY_INLINE void Flush() {
    PackCodes(codes_, count_, out_);
    out_ += count_ / 4;
    count_ = 0;
  }

 private:
  HWY_ALIGN uint8_t codes_[kChunk + 4 * hn::MaxLanes(DF())];
  size_t count_ = 0;
  uint8_t* out_;
};

// Family A codes (BitNet-rs I2SQuantizer / TL1Quantizer / TL2Quantizer).
// kWide: the block's scale is capped at 1e30, so |x/s| may exceed 1.5;
// otherwise |x| <= s and the -1.5 comparison cannot hold.
template <bool kWide>
struct I2SCodes {
  VF scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, scale);
    VI code = hn::Set(di, 2);
    code = AddIf(code, hn::Ge(y, hn::Set(df, 0.5f)), 1);
    code = AddIf(code, hn::Le(y, hn::Set(df, -0.5f)), -1);
    if (kWide) code = AddIf(code, hn::Le(y, hn::Set(df, -1.5f)), -1);
    return hn::IfThenElse(hn::RebindMask(di, hn::IsFinite(x)), code, hn::Set(di, 2));
  }
};
struct Tl1Codes {
  VF table_scale;  // finite; an infinite table scale codes every element 2
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF t = hn::Add(hn::Div(x, table_scale), hn::Set(df, 128.0f));
    VI code = hn::Zero(DI());
    code = AddIf(code, hn::Ge(t, hn::Set(df, 126.5f)), 1);
    code = AddIf(code, hn::Ge(t, hn::Set(df, 127.5f)), 1);
    code = AddIf(code, hn::Ge(t, hn::Set(df, 128.5f)), 1);
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
    code = AddIf(code, hn::Ge(t, hn::Set(df, 64.5f)), 1);
    code = AddIf(code, hn::Ge(t, hn::Set(df, 191.5f)), 1);
    return code;
  }
};

// TL1 codes with a table from the block's own non-NaN |min|/|max| (tl1.rs),
// stored with the finite-absmax scale. Without +-Inf in the block both
// maxima are the same number, which saves a pass.
HWY_INLINE void QuantizeTl1Block(const float* HWY_RESTRICT x, size_t len, float* scale,
                                 CodeStage& out) {
  const DF df;
  const float nonnan_absmax = BlockAbsMax(x, len, KeepNonNaN(), -1.0f);  // -1: all NaN
  if (std::isinf(nonnan_absmax)) {
    // An infinite table scale codes every element 2.
    *scale = BlockStoredScale(x, len);
    out.Emit(x, len, ConstantCode{2});
    return;
  }
  if (nonnan_absmax < 0.0f) {
    *scale = StoredScale(0.0f);  // no finite element
    out.Emit(x, len, ConstantCode{2});  // infinite table scale, as above
    return;
  }
  *scale = StoredScale(nonnan_absmax);
  const float table_scale = nonnan_absmax == 0.0f ? 1.0f : nonnan_absmax;
  out.Emit(x, len, Tl1Codes{hn::Set(df, table_scale)});
}

void Quantize(Format format, const float* HWY_RESTRICT input, size_t n,
              size_t block, uint8_t* HWY_RESTRICT packed,
              float* HWY_RESTRICT scales) {
  const DF df;
  CodeStage out(packed);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const float* x = input + start;
    const size_t len = n - start < block ? n - start : block;
    if (format == Format::kTL1) {
      QuantizeTl1Block(x, len, &scales[b], out);
      continue;
    }
    const float scale = BlockStoredScale(x, len);
    scales[b] = scale;
    switch (format) {
      case Format::kI2S:
        if (scale == 1e30f) {
          out.Emit(x, len, I2SCodes<true>{hn::Set(df, scale)});
        } else {
          out.Emit(x, len, I2SCodes<false>{hn::Set(df, scale)});
        }
        break;
      case Format::kTL1:  // handled above
        break;
      case Format::kTL2:
        out.Emit(x, len, Tl2Codes{hn::Set(df, scale)});
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
  CodeStage out(packed);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const float* x = input + start;
    const size_t len = n - start < block ? n - start : block;
    // fold(0, f32::max) over |x|: NaN skipped, +-Inf counted.
    const float scale = KernelScale(BlockAbsMax(x, len, KeepNonNaN(), 0.0f));
    scales[b] = scale;
    const VF vscale = hn::Set(df, scale);
    switch (format) {
      case Format::kI2S:
        out.Emit(x, len, KernelI2SCodes{vscale});
        break;
      case Format::kTL1:
        out.Emit(x, len, NearestLevelCodes{vscale, kKernelTl1Levels});
        break;
      case Format::kTL2:
        out.Emit(x, len, NearestLevelCodes{vscale, kKernelTl2Levels});
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
