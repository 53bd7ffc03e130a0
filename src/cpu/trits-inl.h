// Per-target steps of TQ1_0's base-3 bytes (formats/ternary_codes.h) in
// uint8 lanes, shared by the code kernels and the products.

// Toggle guard: this file is included once per Highway target.
#if defined(BITNET_CPU_TRITS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITNET_CPU_TRITS_INL_H_
#undef BITNET_CPU_TRITS_INL_H_
#else
#define BITNET_CPU_TRITS_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "formats/ternary_codes.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {

// ggml's digit n of a byte b is ((uint8)(b * 3^n) * 3) >> 8. With t_0 = b
// and t_{n+1} = 3 t_n mod 256 (TritTimes3), digit n is floor(3 t_n / 256)
// = [t_n >= 86] + [t_n >= 171] (TritDigit).
template <class V>
HWY_INLINE V TritTimes3(V t) {
  return hwy::HWY_NAMESPACE::Add(hwy::HWY_NAMESPACE::Add(t, t), t);
}

template <class V>
HWY_INLINE V TritDigit(V t) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::DFromV<V> d8;
  // t > 170 implies t > 85: one select on the other (masked moves where
  // there are mask registers), no add.
  return hn::IfThenElse(hn::Gt(t, hn::Set(d8, 170)), hn::Set(d8, 2),
                        hn::IfThenElseZero(hn::Gt(t, hn::Set(d8, 85)), hn::Set(d8, 1)));
}

// The stored byte of q (the digits' sum of d_t * 3^(4 - t), modulo 256):
// (uint8)(q + ceil(13 q / 243)), ggml's (q * 256 + 242) / 243 for q <= 242.
// ceil(13 q / 243) = ((13 q + 242) * 4316) >> 20 (q <= 255), in uint16
// lanes for the even and the odd bytes.
// ceil(13 q / 243) for q <= 255 in uint16 lanes.
template <class V16>
HWY_INLINE V16 Ceil13QOver243(V16 q) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::DFromV<V16> d16;
  const auto a = hn::Add(hn::Mul(q, hn::Set(d16, uint16_t{13})), hn::Set(d16, uint16_t{242}));
  return hn::ShiftRight<4>(hn::MulHigh(a, hn::Set(d16, uint16_t{4316})));
}

template <class V>
HWY_INLINE V TritByte(V q) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::DFromV<V> d8;
  if constexpr (hn::MaxLanes(d8) == 1) {  // HWY_SCALAR: no uint16 lane of two bytes
    return hn::Set(d8, TritByteOf(hn::GetLane(q)));
  } else {
    const hn::Repartition<uint16_t, decltype(d8)> d16;
    const auto w = hn::BitCast(d16, q);
    const auto even = Ceil13QOver243(hn::And(w, hn::Set(d16, uint16_t{0xFF})));
    const auto odd = Ceil13QOver243(hn::ShiftRight<8>(w));
    return hn::Add(q, hn::BitCast(d8, hn::Or(even, hn::ShiftLeft<8>(odd))));
  }
}

// Calls run(d, digits, seg, first) for each segment of a kTrits CodeMap,
// `first` its first element: d the widest of `widest`, 16 and 4 lanes that
// the segment's byte count fills (TQ1_0: 32, 16, 4 bytes), digits the
// digits per byte (4 or 5) as a std::integral_constant, so that kernels
// unroll them with constant weights.
template <class D, class Run>
HWY_INLINE void ForEachTritSegment(D widest, const CodeMap& m, const Run& run) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::CappedTag<hn::TFromD<D>, 16> d16;
  const hn::CappedTag<hn::TFromD<D>, 4> d4;
  const auto with_digits = [&](auto d, const TritSegment& seg, size_t first) {
    if (seg.trits_per_byte == 5) {
      run(d, std::integral_constant<size_t, 5>(), seg, first);
    } else {
      run(d, std::integral_constant<size_t, 4>(), seg, first);
    }
  };
  size_t first = 0;
  for (size_t s = 0; s < m.num_segments; ++s) {
    const TritSegment& seg = m.segments[s];
    if (seg.bytes % hn::Lanes(widest) == 0) {
      with_digits(widest, seg, first);
    } else if (seg.bytes % hn::Lanes(d16) == 0) {
      with_digits(d16, seg, first);
    } else {
      with_digits(d4, seg, first);
    }
    first += static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_TRITS_INL_H_
