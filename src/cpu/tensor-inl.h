// Per-target helpers of the tensor-layout kernels (cpu/ggml_hwy.cc,
// cpu/bitnet_cpp_hwy.cc, cpu/absmean_hwy.cc): magnitudes compared as
// integers, and the 2-bit run layouts (CodeMap kTwoBit with run >= lanes:
// TQ2_0, I2_S) packed and unpacked a whole vector at a time.

// Toggle guard: this file is included once per Highway target.
#if defined(BITNET_CPU_TENSOR_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITNET_CPU_TENSOR_INL_H_
#undef BITNET_CPU_TENSOR_INL_H_
#else
#define BITNET_CPU_TENSOR_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "cpu/codes-inl.h"
#include "formats/half.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {

// The bits of |x| as int32 order the magnitudes, with +Inf at kInfBits and
// every NaN above it.
constexpr int32_t kInfBits = 0x7F800000;

template <class V>
HWY_INLINE hn::Vec<hn::RebindToSigned<hn::DFromV<V>>> AbsBits(V v) {
  const hn::RebindToSigned<hn::DFromV<V>> di;
  return hn::And(hn::BitCast(di, v), hn::Set(di, 0x7FFFFFFF));
}

// The largest AbsBits of n floats: above kInfBits when one is NaN.
HWY_INLINE int32_t MaxAbsBits(const float* HWY_RESTRICT x, size_t n) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  VI m0 = hn::Zero(di), m1 = hn::Zero(di);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    m0 = hn::Max(m0, AbsBits(hn::LoadU(df, x + i)));
    m1 = hn::Max(m1, AbsBits(hn::LoadU(df, x + i + N)));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, AbsBits(hn::LoadU(df, x + i)));
  int32_t m = hn::GetLane(hn::MaxOfLanes(di, hn::Max(m0, m1)));
  for (; i < n; ++i) {
    const int32_t b = static_cast<int32_t>(FloatBits(x[i]) & 0x7FFFFFFFu);
    m = b > m ? b : m;
  }
  return m;
}

// 4 * run elements -> run bytes: byte b holds element f * run + b in its
// 2-bit field f, at bit 2f, or 6 - 2f when kMsbFirst. run is a multiple of
// the lane count. rule.Add(df, x, acc, unit) adds (code(x) - Rule::kBase) *
// unit to acc, so that every field's code is built with masked adds.
template <bool kMsbFirst, class Rule>
HWY_INLINE void PackRuns(const float* HWY_RESTRICT x, size_t run, const Rule& rule,
                         uint8_t* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DI> d8;
  for (size_t b = 0; b < run; b += hn::Lanes(df)) {
    VI acc = hn::Set(di, Rule::kBase * 0x55);  // the base code in all four fields
    for (int f = 0; f < 4; ++f) {
      acc = rule.Add(df, hn::LoadU(df, x + f * run + b), acc, 1 << (kMsbFirst ? 6 - 2 * f : 2 * f));
    }
    hn::StoreU(NarrowTo<uint8_t>(acc), d8, out + b);
  }
}

// The inverse: run bytes -> the values of their 4 * run elements.
template <bool kMsbFirst>
HWY_INLINE void UnpackRuns(const uint8_t* HWY_RESTRICT in, size_t run,
                           const CodeValues<DF>& values, float* HWY_RESTRICT y) {
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DI> d8;
  for (size_t b = 0; b < run; b += hn::Lanes(df)) {
    const VI bytes = hn::PromoteTo(di, hn::LoadU(d8, in + b));
    for (int f = 0; f < 4; ++f) {
      const VI code = hn::And(hn::ShiftRightSame(bytes, kMsbFirst ? 6 - 2 * f : 2 * f), hn::Set(di, 3));
      hn::StoreU(values(code), df, y + f * run + b);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_TENSOR_INL_H_
