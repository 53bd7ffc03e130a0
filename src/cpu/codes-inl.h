// Per-target helpers shared by the Highway kernels: moving 2-bit codes
// between vector lanes and the packed byte stream (element i at bits
// 2*(i%4) of byte i/4). At most 16 lanes, so one vector's codes fit 32 bits.
// The kernels read code bytes as little-endian words.

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

// code + delta where m holds (one masked add on AVX-512).
HWY_INLINE VI AddIf(VI code, hn::Mask<DF> m, int32_t delta) {
  const DI di;
  return hn::IfThenElse(hn::RebindMask(di, m), hn::Add(code, hn::Set(di, delta)), code);
}

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
