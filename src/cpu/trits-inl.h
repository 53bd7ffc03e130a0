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
#include <utility>

#include "formats/layouts.h"
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

// ceil(13 q / 243) = ((13 q + 242) * 4316) >> 20 for q <= 255, in uint16
// lanes (the encoders' q, before it is narrowed to bytes).
template <class V16>
HWY_INLINE V16 Ceil13QOver243(V16 q) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::DFromV<V16> d16;
  const auto a = hn::Add(hn::Mul(q, hn::Set(d16, uint16_t{13})), hn::Set(d16, uint16_t{242}));
  return hn::ShiftRight<4>(hn::MulHigh(a, hn::Set(d16, uint16_t{4316})));
}

#if HWY_TARGET != HWY_SCALAR
// A 16-byte table for TableLookupBytes with indices in lanes of d: in every
// 128-bit block (a whole 128-bit vector under a partial one, whose own
// load would take only its lanes' bytes).
template <class D>
HWY_INLINE auto BlockTable(D d, const uint8_t* table) {
  namespace hn = hwy::HWY_NAMESPACE;
#if HWY_HAVE_SCALABLE
  return hn::LoadDup128(d, table);
#else
  if constexpr (hn::MaxLanes(d) >= 16) {
    return hn::LoadDup128(d, table);
  } else {
    return hn::LoadU(hn::Full128<uint8_t>(), table);
  }
#endif
}
#endif

// The stored byte of q (the digits' sum of d_t * 3^(4 - t), modulo 256) in
// byte lanes: TritByteOf, from two lookups by the high nibble
// (kTritByteNibbles): transcodes into TQ1_0 ran 1.3-1.5x faster than with
// 16-bit multiplications.
template <class V>
HWY_INLINE V TritByte(V q) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::DFromV<V> d8;
#if HWY_TARGET == HWY_SCALAR
  return hn::Set(d8, TritByteOf(hn::GetLane(q)));
#else
  const hn::RebindToSigned<decltype(d8)> di8;
  const V high = hn::ShiftRight<4>(q);
  const V low = hn::And(q, hn::Set(d8, uint8_t{0x0F}));
  const V base = hn::TableLookupBytes(BlockTable(d8, kTritByteNibbles.base), high);
  const V step_at = hn::TableLookupBytes(BlockTable(d8, kTritByteNibbles.step_at), high);
  // -1 where low < step_at (both 0..16: signed lanes compare them).
  const auto before_step = hn::Gt(hn::BitCast(di8, step_at), hn::BitCast(di8, low));
  return hn::Add(hn::Add(base, low), hn::BitCast(d8, hn::VecFromMask(di8, before_step)));
#endif
}

// Calls fn(std::integral_constant<size_t, i>) for i = 0 .. kN - 1.
template <class Fn, size_t... kI>
HWY_INLINE void ForEachIndex(const Fn& fn, std::index_sequence<kI...>) {
  (fn(std::integral_constant<size_t, kI>()), ...);
}
template <size_t kN, class Fn>
HWY_INLINE void ForIndex(const Fn& fn) {
  ForEachIndex(fn, std::make_index_sequence<kN>());
}

// The first element of segment s of a kTrits map.
constexpr size_t SegmentFirst(const CodeMap& m, size_t s) {
  size_t first = 0;
  for (size_t k = 0; k < s; ++k) first += size_t{m.segments[k].bytes} * m.segments[k].trits_per_byte;
  return first;
}

// The most bytes a segment has (a bound for buffers of one segment).
constexpr size_t kMaxTritSegmentBytes = 64;

// Calls run(d, digits, seg, first) for each segment of the kTrits layout
// kId, `first` its first element: d the widest of `widest`, 16 and 4 lanes
// that the segment's byte count fills (TQ1_0: 32, 16, 4 bytes), digits the
// digits per byte (4 or 5) as a std::integral_constant. The layout is a
// compile-time constant, so that each segment's loop unrolls with constant
// sizes and weights: read from the table at run time, every block set its
// segments' loops up again, and TQ1_0's encode and decode ran 1.3x slower
// in cache (cpu/ggml_hwy.cc).
template <LayoutId kId, class D, class Run>
HWY_INLINE void ForEachTritSegment(D widest, const Run& run) {
  namespace hn = hwy::HWY_NAMESPACE;
  constexpr CodeMap kMap = LayoutOf(kId).codes;
  static_assert(kMap.kind == CodeMapKind::kTrits, "a layout of trits");
  const hn::CappedTag<hn::TFromD<D>, 16> d16;
  const hn::CappedTag<hn::TFromD<D>, 4> d4;
  ForIndex<kMap.num_segments>([&](auto s) {
    constexpr TritSegment kSeg = kMap.segments[decltype(s)::value];
    constexpr size_t kFirst = SegmentFirst(kMap, decltype(s)::value);
    static_assert(kSeg.bytes <= kMaxTritSegmentBytes, "kMaxTritSegmentBytes bounds the segments");
    const std::integral_constant<size_t, kSeg.trits_per_byte> digits;
    if (kSeg.bytes % hn::Lanes(widest) == 0) {
      run(widest, digits, kSeg, kFirst);
    } else if (kSeg.bytes % hn::Lanes(d16) == 0) {
      run(d16, digits, kSeg, kFirst);
    } else {
      run(d4, digits, kSeg, kFirst);
    }
  });
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_TRITS_INL_H_
