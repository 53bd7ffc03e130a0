// Per-target helpers shared by the Highway kernels: reporting the target
// that runs (cpu/report_target-inl.h), moving 2-bit codes between vector
// lanes and the packed byte stream (element i at bits 2*(i%4) of byte i/4).
// At most 16 lanes, so one vector's codes fit 32 bits. The kernels read
// code bytes as little-endian words.

// Toggle guard: this file is included once per Highway target.
#if defined(BITNET_CPU_CODES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITNET_CPU_CODES_INL_H_
#undef BITNET_CPU_CODES_INL_H_
#else
#define BITNET_CPU_CODES_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/report_target-inl.h"
#include "hwy/highway.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bitnet_quant's Highway kernels assume a little-endian CPU"
#endif

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
using VU = hn::Vec<DU>;

// Word bits 2k..2k+1 as lane k's code.
HWY_INLINE VI BitsToCodes(uint32_t bits) {
  const DU du;
  const VU shifts = hn::ShiftLeft<1>(hn::Iota(du, 0));
  return hn::BitCast(DI(), hn::And(hn::Shr(hn::Set(du, bits), shifts), hn::Set(du, 3u)));
}

// code + delta where m (a mask of the matching float lanes) holds: one
// masked add on AVX-512.
template <class V, class M>
HWY_INLINE V AddIf(V code, M m, int32_t delta) {
  const hn::DFromV<V> di;
  return hn::IfThenElse(hn::RebindMask(di, m), hn::Add(code, hn::Set(di, delta)), code);
}

// Lanes of int32 holding values that fit T (uint8_t or int8_t) as T: one
// vpmovdb on AVX-512.
template <typename T, class V>
HWY_INLINE hn::Vec<hn::Rebind<T, hn::DFromV<V>>> NarrowTo(V v) {
  const hn::Rebind<T, hn::DFromV<V>> d8;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(hn::DFromV<V>()) == 16) {
    return hn::Vec<decltype(d8)>{_mm512_cvtepi32_epi8(v.raw)};
  }
#endif
  return hn::DemoteTo(d8, v);
}

// The values float(code - offset) * scale of codes 0..3 (the references'
// conversion and product), looked up per lane from a loop-invariant table.
// Holds scalars: SVE's sizeless vectors cannot be class members.
template <class D>
class CodeValues {
 public:
  CodeValues(D d, int32_t offset, float scale) : d_(d), offset_(offset), scale_(scale) {}

  HWY_INLINE hn::Vec<D> operator()(hn::Vec<hn::RebindToSigned<D>> code) const {
    const hn::RebindToSigned<D> di;
    if constexpr (hn::MaxLanes(D()) >= 4) {
      const hn::Vec<D> values = hn::Mul(hn::ConvertTo(d_, hn::Sub(hn::Iota(di, 0), hn::Set(di, offset_))),
                                        hn::Set(d_, scale_));
      return hn::TableLookupLanes(values, hn::IndicesFromVec(d_, code));
    } else {
      return hn::Mul(hn::ConvertTo(d_, hn::Sub(code, hn::Set(di, offset_))), hn::Set(d_, scale_));
    }
  }

 private:
  D d_;
  int32_t offset_;
  float scale_;
};

#if !(HWY_HAVE_SCALABLE || HWY_TARGET == HWY_SCALAR)  // lanes known at compile time, > 1
// m[i] = merge(m[2i], m[2i+1]) for the first `count` vectors.
template <class V, class Merge>
HWY_INLINE void MergePairs(V* m, size_t count, const Merge& merge) {
  for (size_t i = 0; i < count; i += 2) m[i / 2] = merge(m[i], m[i + 1]);
}

// Max over all lanes of m[k] into lane k, for each of the N = Lanes(DF)
// vectors of 32-bit lanes (float or int32): one transposing reduction
// instead of N. Pairs of lanes, then quads (within 128 bits), then 128-bit
// blocks, then 256-bit halves; each step merges two vectors whose lanes
// hold the same blocks' partial maxima into one holding twice as many
// blocks, in order.
template <class V>
HWY_INLINE V TransposeMax(V* m) {
  constexpr size_t N = hn::MaxLanes(DF());
  static_assert(N == 4 || N == 8 || N == 16, "lanes");
  static_assert(hn::MaxLanes(hn::DFromV<V>()) == N, "32-bit lanes of DF's width");
  const hn::DFromV<V> d;
  const hn::Repartition<uint64_t, decltype(d)> d64;
  MergePairs(m, N, [](V a, V b) {  // even lanes: a's, odd: b's
    return hn::OddEven(hn::Max(b, hn::Shuffle2301(b)), hn::Max(a, hn::Shuffle2301(a)));
  });
  MergePairs(m, N / 2, [&](V a, V b) {  // 64-bit lanes alternate
    const V lo = hn::Max(a, hn::Shuffle1032(a)), hi = hn::Max(b, hn::Shuffle1032(b));
    return hn::BitCast(d, hn::OddEven(hn::BitCast(d64, hi), hn::BitCast(d64, lo)));
  });
  if constexpr (N >= 8) {  // 128-bit blocks alternate
    MergePairs(m, N / 4, [](V a, V b) {
      return hn::OddEvenBlocks(hn::Max(b, hn::SwapAdjacentBlocks(b)), hn::Max(a, hn::SwapAdjacentBlocks(a)));
    });
  }
  if constexpr (N == 16) {  // lower half a's, upper half b's
    MergePairs(m, 2, [&](V a, V b) {
      return hn::ConcatUpperLower(d, hn::Max(b, hn::ConcatLowerUpper(d, b, b)),
                                  hn::Max(a, hn::ConcatLowerUpper(d, a, a)));
    });
  }
  return m[0];
}
#endif

// `count` (<= 16) codes starting at element i, as the low bits of a word.
// Reads only the bytes that hold them.
HWY_INLINE uint32_t LoadBits(const uint8_t* packed, size_t i, size_t count) {
  if (i % 4 == 0 && count % 4 == 0) {  // whole bytes: one little-endian load
    uint32_t w = 0;
    memcpy(&w, packed + i / 4, count / 4);
    return w;
  }
  const size_t first = i / 4;
  const size_t last = (i + count - 1) / 4;
  uint64_t w = 0;
  for (size_t j = first; j <= last; ++j) w |= static_cast<uint64_t>(packed[j]) << (8 * (j - first));
  const uint64_t mask = (uint64_t{1} << (2 * count)) - 1;
  return static_cast<uint32_t>((w >> (2 * (i % 4))) & mask);
}

// Fills a full vector from the `count` < Lanes floats at p; other lanes
// get `pad`. Lets block tails run through the same vector code.
HWY_INLINE VF LoadTail(const float* p, size_t count, float pad) {
  const DF df;
  HWY_ALIGN float buf[hn::MaxLanes(DF())];
  for (size_t k = 0; k < hn::Lanes(df); ++k) buf[k] = k < count ? p[k] : pad;
  return hn::Load(df, buf);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_CODES_INL_H_
