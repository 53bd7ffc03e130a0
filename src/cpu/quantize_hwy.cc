// Highway quantizers for both BitNet-rs families. Each block takes two
// passes: its scale statistics, then its codes (the block is still in L1).
//
// The element rules are the references' rules rewritten as comparisons on
// the same IEEE quotient, which is exact because every rounding boundary is
// a representable half-integer:
//   I2_S: clamp(round_half_away(y), -2, 1) + 2 = 2 + [y>=.5] - [y<=-.5] - [y<=-1.5]
//   TL1:  forward[round(t)] with the step table = [t>=126.5]+[t>=127.5]+[t>=128.5]
//   TL2:  forward[round(t)] with the step table = 1 + [t>=64.5] + [t>=191.5]
// I2_S compares x itself with +-s/2 where its scale is not capped (see
// I2SCodesByHalfScale): the same answer without a division; and it takes
// the maxima of N blocks (N lanes) with one transposing reduction
// (QuantizeI2SGroup), since a reduction per small block cost more than the
// rest of the block, prefetching ahead.
// The tests compare every target with the references bit for bit.
#include <algorithm>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/quantize_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

#include "cpu/codes-inl.h"
#include "cpu/kernels.h"
#include "formats/bitnet_rs_kernel.h"
#include "formats/bitnet_rs_quantizer.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// The largest |x| of a block over the elements a `Fold` accepts, or `none`
// when it accepts none. NaN is never accepted.
template <class Fold>
HWY_INLINE float BlockAbsMax(const float* HWY_RESTRICT x, size_t len, const Fold& fold,
                             float none) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const VF vnone = hn::Set(df, none);
  VF acc = vnone;
  size_t i = 0;
  for (; i + N <= len; i += N) acc = fold(acc, hn::LoadU(df, x + i), vnone);
  if (i < len) acc = fold(acc, LoadTail(x + i, len - i, NAN), vnone);
  return hn::GetLane(hn::MaxOfLanes(df, acc));
}

struct FoldFinite {
  HWY_INLINE VF operator()(VF acc, VF v, VF vnone) const {
    return hn::Max(acc, hn::IfThenElse(hn::IsFinite(v), hn::Abs(v), vnone));
  }
};

struct FoldNonNaN {
  HWY_INLINE VF operator()(VF acc, VF v, VF vnone) const {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
    // x86 maxps returns its second operand when the first is NaN: NaN lanes
    // leave acc as it is, at no cost.
    (void)vnone;
    return hn::Max(hn::Abs(v), acc);
#else
    return hn::Max(acc, hn::IfThenElse(hn::IsNaN(v), vnone, hn::Abs(v)));
#endif
  }
};

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
    size_t count = count_;  // a local: stores to codes_ may alias a member
    size_t i = 0;
    for (; i + N <= len; i += N) {
      hn::StoreU(NarrowTo<uint8_t>(code_of(hn::LoadU(df, x + i))), d8, codes_ + count);
      count += N;
      if (count >= kChunk && count % 4 == 0) count = Flush(count);
    }
    if (i < len) {
      hn::StoreU(NarrowTo<uint8_t>(code_of(LoadTail(x + i, len - i, 0.0f))), d8, codes_ + count);
      count += len - i;
      if (count >= kChunk && count % 4 == 0) count = Flush(count);
    }
    count_ = count;
  }

  // Where the codes of the next `count` elements go, for a caller that
  // stores them itself, then calls Staged(count); count is a multiple of 4,
  // at most kChunk.
  HWY_INLINE uint8_t* Room() { return codes_ + count_; }
  HWY_INLINE void Staged(size_t count) {
    count_ += count;
    if (count_ >= kChunk) count_ = Flush(count_);
  }

  // Packs what is staged; only the last flush may end inside a byte.
  void Finish() { count_ = Flush(count_); }

 private:
  HWY_INLINE size_t Flush(size_t count) {
    PackCodes(codes_, count, out_);
    out_ += count / 4;
    return 0;
  }

  // Emit flushes at kChunk plus at most 3 codes and a vector; Staged adds
  // up to kChunk to fewer than kChunk.
  HWY_ALIGN uint8_t codes_[2 * kChunk];
  size_t count_ = 0;
  uint8_t* out_;
};

// The code functors below hold their scales as floats, broadcast where they
// are used (hoisted out of the loop once inlined): SVE vectors are sizeless
// types, which cannot be members.

// Family A codes (BitNet-rs I2SQuantizer / TL1Quantizer / TL2Quantizer).
// I2_S: 2 + [y >= 0.5] - [y <= -0.5] - [y <= -1.5] on y = fl(x/s).
// kHasInf: the block holds +-Inf, which must code 2 like NaN does (NaN
// passes no comparison by itself).
template <bool kHasInf>
HWY_INLINE VI InfCodes2(VF x, VI code) {
  if (kHasInf) return hn::IfThenElse(hn::RebindMask(DI(), hn::IsInf(x)), hn::Set(DI(), 2), code);
  return code;
}

// A block whose scale is its largest |x| (not capped): |y| <= 1, and no
// division is needed. With h = s/2 (exact: s is a normal float),
// fl(x/s) >= 0.5 exactly when x >= h: below h, x <= h - ulp(h) with
// ulp(h) >= 2^-24 h, so x/s <= 0.5 - 2^-25, a float below 0.5. Likewise
// fl(x/s) <= -0.5 exactly when x <= -h.
template <bool kHasInf>
struct I2SCodesByHalfScale {
  float half_scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    VI code = hn::Set(DI(), 2);
    code = AddIf(code, hn::Ge(x, hn::Set(df, half_scale)), 1);
    code = AddIf(code, hn::Le(x, hn::Set(df, -half_scale)), -1);
    return InfCodes2<kHasInf>(x, code);
  }
};

// A block whose scale is capped at 1e30: |y| may exceed 1.5 (rare; divides).
template <bool kHasInf>
struct I2SCodesCapped {
  float scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF y = hn::Div(x, hn::Set(df, scale));
    VI code = hn::Set(DI(), 2);
    code = AddIf(code, hn::Ge(y, hn::Set(df, 0.5f)), 1);
    code = AddIf(code, hn::Le(y, hn::Set(df, -0.5f)), -1);
    code = AddIf(code, hn::Le(y, hn::Set(df, -1.5f)), -1);
    return InfCodes2<kHasInf>(x, code);
  }
};

template <template <bool> class Codes>
HWY_INLINE void EmitI2S(const float* HWY_RESTRICT x, size_t len, float bound, bool has_inf,
                        CodeStage& out) {
  if (HWY_UNLIKELY(has_inf)) {
    out.Emit(x, len, Codes<true>{bound});
  } else {
    out.Emit(x, len, Codes<false>{bound});
  }
}

struct Tl1Codes {
  float table_scale;  // finite; an infinite table scale codes every element 2
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF t = hn::Add(hn::Div(x, hn::Set(df, table_scale)), hn::Set(df, 128.0f));
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
  float scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const VF t = hn::Add(hn::Mul(hn::Div(x, hn::Set(df, scale)), hn::Set(df, 128.0f)),
                         hn::Set(df, 128.0f));
    VI code = hn::Set(DI(), 1);
    code = AddIf(code, hn::Ge(t, hn::Set(df, 64.5f)), 1);
    code = AddIf(code, hn::Ge(t, hn::Set(df, 191.5f)), 1);
    return code;
  }
};

// What a block's codes depend on: its largest |x| over non-NaN elements
// (TL1's table; -1 when all are NaN) and over finite ones (the stored
// scale). Without +-Inf both are the same number, which saves a pass.
struct BlockRange {
  float nonnan_absmax;
  float finite_absmax;
  bool has_inf;
};

HWY_INLINE BlockRange MeasureBlock(const float* HWY_RESTRICT x, size_t len) {
  const float nonnan = BlockAbsMax(x, len, FoldNonNaN(), -1.0f);
  if (HWY_UNLIKELY(std::isinf(nonnan))) {
    return {nonnan, BlockAbsMax(x, len, FoldFinite(), 0.0f), true};
  }
  return {nonnan, nonnan < 0.0f ? 0.0f : nonnan, false};
}

// One block's scale and codes, from its measured range.
template <Format kFormat>
HWY_INLINE void QuantizeBlock(const float* HWY_RESTRICT x, size_t len, const BlockRange& range,
                              float* HWY_RESTRICT scale_out, CodeStage& out) {
  const float scale = StoredScale(range.finite_absmax);
  *scale_out = scale;
  if (kFormat == Format::kI2S) {
    if (HWY_UNLIKELY(scale == 1e30f)) {
      EmitI2S<I2SCodesCapped>(x, len, scale, range.has_inf, out);
    } else {
      EmitI2S<I2SCodesByHalfScale>(x, len, 0.5f * scale, range.has_inf, out);
    }
  } else if (kFormat == Format::kTL1) {
    // tl1.rs: the table's scale is the block's non-NaN absmax (1 when 0);
    // infinite (a block with +-Inf, or all NaN) codes every element 2.
    const float abs_max = range.nonnan_absmax < 0.0f ? INFINITY : range.nonnan_absmax;
    if (HWY_UNLIKELY(std::isinf(abs_max))) {
      out.Emit(x, len, ConstantCode{2});
    } else {
      out.Emit(x, len, Tl1Codes{abs_max == 0.0f ? 1.0f : abs_max});
    }
  } else {
    out.Emit(x, len, Tl2Codes{scale});
  }
}

// I2_S blocks in groups of N (the vector's lanes), where one transposing
// reduction gives all N block maxima instead of one reduction per block:
// for blocks of a multiple of N elements whose group's codes fit a chunk
// (the default 32 on every such target). Not where the vector size is only
// known at run time, or 1.
#undef BITNET_I2S_GROUPS  // this file is compiled once per target
#if !(HWY_HAVE_SCALABLE || HWY_TARGET == HWY_SCALAR)
#define BITNET_I2S_GROUPS 1
constexpr size_t kGroupBlocks = hn::MaxLanes(DF());
static_assert(kGroupBlocks == 4 || kGroupBlocks == 8 || kGroupBlocks == 16, "lanes");
HWY_INLINE bool GroupsFor(size_t block) {
  return block % kGroupBlocks == 0 && kGroupBlocks * block <= kChunk;
}

// How far ahead (elements) the measuring of a group prefetches. A group is
// measured, then its codes are made from L1, and without prefetches no
// loads would be in flight meanwhile: from DRAM, the prefetches took I2_S
// from below to above TL2's speed (measured on the AVX3_DL machine).
constexpr size_t kPrefetchAhead = 2048;

// N blocks from x (GroupsFor(block)), `remaining` elements from x to the
// end of the input: returns false, writing nothing,
// unless every block has its largest |x| in [1e-30, 1e30] and no +-Inf.
// Then each block's scale is that largest |x| (StoredScale(m) = m there), and
// its codes come from comparisons with half of it (I2SCodesByHalfScale).
HWY_INLINE bool QuantizeI2SGroup(const float* HWY_RESTRICT x, size_t block, size_t remaining,
                                 float* HWY_RESTRICT scales, CodeStage& out) {
  const DF df;
  constexpr size_t N = kGroupBlocks;
  const VF vnone = hn::Set(df, -1.0f);
  VF m[kGroupBlocks];
  for (size_t k = 0; k < N; ++k) {
    VF acc = vnone;
    for (size_t i = k * block; i < (k + 1) * block; i += N) {
      hwy::Prefetch(x + std::min(i + kPrefetchAhead, remaining - 1));
      acc = FoldNonNaN()(acc, hn::LoadU(df, x + i), vnone);
    }
    m[k] = acc;
  }
  const VF maxima = TransposeMax(m);  // cpu/codes-inl.h
  if (!hn::AllTrue(df, hn::And(hn::Ge(maxima, hn::Set(df, 1e-30f)),
                               hn::Le(maxima, hn::Set(df, 1e30f))))) {
    return false;
  }
  hn::StoreU(maxima, df, scales);
  HWY_ALIGN float half_scales[kGroupBlocks];
  hn::Store(hn::Mul(maxima, hn::Set(df, 0.5f)), df, half_scales);
  const hn::Rebind<uint8_t, DI> d8;
  uint8_t* HWY_RESTRICT codes = out.Room();
  for (size_t k = 0; k < N; ++k) {
    const I2SCodesByHalfScale<false> code_of{half_scales[k]};
    for (size_t i = k * block; i < (k + 1) * block; i += N) {
      hn::StoreU(NarrowTo<uint8_t>(code_of(hn::LoadU(df, x + i))), d8, codes + i);
    }
  }
  out.Staged(N * block);
  return true;
}
#endif

// The block loop of one format (a template, so no per-block switch).
template <Format kFormat>
void QuantizeBlocks(const float* HWY_RESTRICT input, size_t n, size_t block,
                    uint8_t* HWY_RESTRICT packed, float* HWY_RESTRICT scales) {
  CodeStage out(packed);
  size_t b = 0, start = 0;
#ifdef BITNET_I2S_GROUPS
  if (kFormat == Format::kI2S && GroupsFor(block)) {
    const size_t group = kGroupBlocks * block;
    for (; n - start >= group; start += group, b += kGroupBlocks) {
      if (HWY_LIKELY(QuantizeI2SGroup(input + start, block, n - start, scales + b, out))) {
        continue;
      }
      for (size_t k = 0; k < kGroupBlocks; ++k) {
        const float* x = input + start + k * block;
        QuantizeBlock<kFormat>(x, block, MeasureBlock(x, block), scales + b + k, out);
      }
    }
  }
#endif
  if (start >= n) {
    out.Finish();
    return;
  }
  // Block b+1 is measured before block b's codes are emitted: the two
  // chains (reduction -> scale, scale -> codes) then overlap in the core.
  BlockRange next = MeasureBlock(input + start, n - start < block ? n - start : block);
  for (; start < n; ++b, start += block) {
    const size_t len = n - start < block ? n - start : block;
    const BlockRange range = next;
    const size_t next_start = start + block;
    if (next_start < n) {
      next = MeasureBlock(input + next_start, n - next_start < block ? n - next_start : block);
    }
    QuantizeBlock<kFormat>(input + start, len, range, scales + b, out);
  }
  out.Finish();
}

void Quantize(Format format, const float* HWY_RESTRICT input, size_t n, size_t block,
              uint8_t* HWY_RESTRICT packed, float* HWY_RESTRICT scales) {
  ReportThisTarget();
  switch (format) {
    case Format::kI2S: return QuantizeBlocks<Format::kI2S>(input, n, block, packed, scales);
    case Format::kTL1: return QuantizeBlocks<Format::kTL1>(input, n, block, packed, scales);
    case Format::kTL2: return QuantizeBlocks<Format::kTL2>(input, n, block, packed, scales);
  }
}

// Family B codes (BitNet-rs FallbackKernel).
struct KernelI2SCodes {
  float scale;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, hn::Set(df, scale));
    const VI minus_one = hn::IfThenElseZero(hn::RebindMask(di, hn::Lt(y, hn::Set(df, -0.5f))),
                                            hn::Set(di, 3));
    return hn::IfThenElse(hn::RebindMask(di, hn::Gt(y, hn::Set(df, 0.5f))), hn::Set(di, 1),
                          minus_one);
  }
};

struct NearestLevelCodes {
  float scale;
  const float* levels;
  HWY_INLINE VI operator()(VF x) const {
    const DF df;
    const DI di;
    const VF y = hn::Div(x, hn::Set(df, scale));
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
  ReportThisTarget();
  const size_t block = DefaultBlockSize(format);
  CodeStage out(packed);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const float* x = input + start;
    const size_t len = n - start < block ? n - start : block;
    // fold(0, f32::max) over |x|: NaN skipped, +-Inf counted.
    const float scale = KernelScale(BlockAbsMax(x, len, FoldNonNaN(), 0.0f));
    scales[b] = scale;
    switch (format) {
      case Format::kI2S:
        out.Emit(x, len, KernelI2SCodes{scale});
        break;
      case Format::kTL1:
        out.Emit(x, len, NearestLevelCodes{scale, kKernelTl1Levels});
        break;
      case Format::kTL2:
        out.Emit(x, len, NearestLevelCodes{scale, kKernelTl2Levels});
        break;
    }
  }
  out.Finish();
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

#if HWY_ARCH_ARM_A64 && HWY_OS_LINUX
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

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
#if HWY_ARCH_ARM_A64 && HWY_OS_LINUX
// From the kernel's hwcaps: the features the kernels use. Highway 1.0.3
// also demands crypto extensions (AES for NEON, SVE-AES for SVE2) that no
// kernel uses (the arm_instructions test checks that the library holds no
// crypto instruction); without this, CPUs that lack them, such as the
// Raspberry Pi 3 and 4, would run only the reference, after a warning that
// Highway prints on stderr.
int64_t HwySupportedTargets() {
  const unsigned long hwcap = getauxval(AT_HWCAP);
  int64_t targets = 0;
  if (hwcap & HWCAP_ASIMD) targets |= HWY_NEON;
#if defined(HWCAP_SVE)
  if (hwcap & HWCAP_SVE) targets |= HWY_SVE;
#endif
#if defined(HWCAP2_SVE2)
  if (getauxval(AT_HWCAP2) & HWCAP2_SVE2) targets |= HWY_SVE2;
#endif
  return targets & HWY_TARGETS;
}
#else
int64_t HwySupportedTargets() { return hwy::SupportedTargets() & HWY_TARGETS; }
#endif

}  // namespace bitnet
#endif  // HWY_ONCE
