// Highway kernels of the absmean ternarization (formats/absmean.h): one
// pass over a chunk for its |x| sum in the fixed double order and its
// ternary scan, then the codes or values of each weight.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/absmean_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <cmath>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/absmean.h"
#include "formats/half.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE
// One lane, or vectors that cannot form the array of partial sums below:
// the reference's loop is this target's.
double AbsScanChunk(const float* HWY_RESTRICT x, size_t n, TernaryScan* scan) {
  ReportThisTarget();
  return bitnet::AbsScanChunk(x, n, scan);
}
#else
// The ternary scan's state: the first finite non-zero magnitude (its bits;
// 0 before one is seen) and whether some finite non-zero |x| differed.
struct ScanState {
  int32_t magnitude = 0;
  bool mixed = false;

  // The lanes of one vector, their |x| bits given.
  HWY_INLINE void Add(VI bits) {
    const DI di;
    if (magnitude == 0) {
      const auto candidate = hn::And(hn::Gt(bits, hn::Zero(di)), hn::Lt(bits, hn::Set(di, F32View::kInfKey)));
      if (hn::AllFalse(di, candidate)) return;  // zeros and non-finite: `finite` tells
      magnitude = hn::ExtractLane(bits, static_cast<size_t>(hn::FindFirstTrue(di, candidate)));
    }
    // Lanes before the first candidate are 0 or non-finite; a non-finite
    // lane marks `mixed`, which `finite` would rule out anyway.
    const auto other = hn::And(hn::Ne(bits, hn::Zero(di)), hn::Ne(bits, hn::Set(di, magnitude)));
    mixed = mixed || !hn::AllFalse(di, other);
  }
};

// The reference's 16 partial sums as 2 * 16 / N vectors of N/2 doubles:
// vector 2v holds the lower half of float vector v of each group of 16,
// vector 2v + 1 its upper half, so every element is added, in double, to
// the same partial in the same order. |x| is taken before the widening,
// which gives the same double (a NaN's sign cleared, the NaN made quiet).
double AbsScanChunk(const float* HWY_RESTRICT x, size_t n, TernaryScan* scan) {
  ReportThisTarget();
  const DF df;
  const DI di;
  using DD = hn::Repartition<double, DF>;
  const DD dd;
  const hn::Half<DF> dh;
  constexpr size_t N = hn::MaxLanes(DF());
  static_assert(kAbsSumLanes % N == 0, "a vector of floats spans whole groups of partials");
  constexpr size_t kVectors = 2 * kAbsSumLanes / N;
  constexpr size_t kPrefetchFloats = kStreamPrefetchBytes / sizeof(float);
  hn::Vec<DD> partial[kVectors];
  for (auto& p : partial) p = hn::Zero(dd);
  VI max_bits = hn::Zero(di);
  ScanState state;
  size_t i = 0;
  for (; i + kAbsSumLanes <= n; i += kAbsSumLanes) {
    if (i + kPrefetchFloats < n) hwy::Prefetch(x + i + kPrefetchFloats);
    for (size_t v = 0; v < kAbsSumLanes / N; ++v) {
      const VF a = hn::Abs(hn::LoadU(df, x + i + v * N));
      const VI bits = hn::BitCast(di, a);
      max_bits = hn::Max(max_bits, bits);
      if (!state.mixed || state.magnitude == 0) state.Add(bits);
      partial[2 * v] = hn::Add(partial[2 * v], hn::PromoteTo(dd, hn::LowerHalf(dh, a)));
      partial[2 * v + 1] = hn::Add(partial[2 * v + 1], hn::PromoteTo(dd, hn::UpperHalf(dh, a)));
    }
  }
  double sums[kAbsSumLanes];
  for (size_t v = 0; v < kVectors; ++v) hn::StoreU(partial[v], dd, sums + v * (N / 2));
  int32_t max = hn::GetLane(hn::MaxOfLanes(di, max_bits));
  // The tail: elements continue their partials in order; the scan as the
  // reference's.
  TernaryScan tail;
  for (size_t k = i; k < n; ++k) sums[k % kAbsSumLanes] += std::fabs(static_cast<double>(x[k]));
  tail = ScanTernary(x + i, n - i);
  const TernaryScan head{max < F32View::kInfKey, !state.mixed,
                         FloatFromBits(static_cast<uint32_t>(state.magnitude))};
  *scan = i == 0 ? tail : (i == n ? head : MergeScans(head, tail));
  scan->ternary = scan->ternary && scan->finite;
  for (size_t half = kAbsSumLanes / 2; half > 0; half /= 2) {
    for (size_t k = 0; k < half; ++k) sums[k] += sums[k + half];
  }
  return sums[0];
}
#endif

// |x * s| > threshold -> sign(x * s), else 0.
void Ternarize(const float* HWY_RESTRICT x, size_t n, float s, float threshold,
               int8_t* HWY_RESTRICT q) {
  ReportThisTarget();
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF y = hn::Mul(hn::LoadU(df, x + i), hn::Set(df, s));
    const auto big = hn::Gt(hn::Abs(y), hn::Set(df, threshold));
    const VI sign = hn::IfThenElse(hn::RebindMask(di, hn::Gt(y, hn::Zero(df))), hn::Set(di, 1),
                                   hn::Set(di, -1));
    hn::StoreU(NarrowTo<int8_t>(hn::IfThenElseZero(hn::RebindMask(di, big), sign)), d8, q + i);
  }
  TernarizeCodes(x + i, n - i, s, threshold, q + i);
}

// copysign(alpha, x * s) where |x * s| > threshold, else copysign(0, x).
void Values(const float* HWY_RESTRICT x, size_t n, float s, float threshold, float alpha,
            float* HWY_RESTRICT v) {
  ReportThisTarget();
  const DF df;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF in = hn::LoadU(df, x + i);
    const VF y = hn::Mul(in, hn::Set(df, s));
    const auto big = hn::Gt(hn::Abs(y), hn::Set(df, threshold));
    hn::StoreU(hn::IfThenElse(big, hn::CopySign(hn::Set(df, alpha), y), hn::CopySign(hn::Zero(df), in)),
               df, v + i);
  }
  TernaryValues(x + i, n - i, s, threshold, alpha, v + i);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(AbsScanChunk);
HWY_EXPORT(Ternarize);
HWY_EXPORT(Values);

void HwyAbsmeanKernels(int64_t hwy_target, TensorKernels* k) {
  k->abs_scan_chunk = HwyTableEntry(HWY_DISPATCH_TABLE(AbsScanChunk), hwy_target);
  k->ternarize = HwyTableEntry(HWY_DISPATCH_TABLE(Ternarize), hwy_target);
  k->ternary_values = HwyTableEntry(HWY_DISPATCH_TABLE(Values), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
