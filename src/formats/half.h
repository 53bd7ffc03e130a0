// IEEE binary16 and bfloat16 <-> binary32, with the exact results of ggml's
// conversions (ggml-impl.h), which the ggml layouts' scales and the F16/BF16
// element types go through:
//   f16 -> f32: exact; a NaN keeps its payload and becomes quiet.
//   bf16 -> f32: the 16 bits shifted up, a NaN as it is.
//   f32 -> f16: round to nearest even, overflow to +-Inf, NaN -> sign | 0x7E00.
//   f32 -> bf16: round to nearest even; NaN -> its top 16 bits | 0x40 (quiet).
#ifndef BITNET_FORMATS_HALF_H_
#define BITNET_FORMATS_HALF_H_

#include <cstdint>
#include <cstring>

#include "formats/host_device.h"
#include "formats/scalar_math.h"

namespace bitnet {

// False for an f16 Inf or NaN (all-ones exponent), from the bits alone.
BITNET_HOST_DEVICE inline bool HalfIsFinite(uint16_t h) { return (h & 0x7C00u) != 0x7C00u; }

BITNET_HOST_DEVICE inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) {  // Inf, or NaN made quiet
    return FloatFromBits(sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
  }
  if (exponent != 0) return FloatFromBits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return FloatFromBits(sign);
  // Subnormal: shift the leading 1 up into the implicit position.
  uint32_t e = 113;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return FloatFromBits(sign | (e << 23) | ((mantissa & 0x3FFu) << 13));
}

BITNET_HOST_DEVICE inline uint16_t FloatToHalf(float f) {
  const uint32_t u = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;       // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;      // rounds to >= 2^16: Inf
  if (abs >= 0x38800000u) {                           // normal f16 (>= 2^-14)
    const uint32_t rounded = abs + 0xFFFu + ((abs >> 13) & 1u);  // to nearest even
    return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  }
  if (abs < 0x33000000u) return sign;                 // below half the smallest subnormal
  // Subnormal f16: the value in units of 2^-24, rounded to nearest even.
  const uint32_t exponent = abs >> 23;
  const uint32_t mantissa = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14..24 (so that units are 2^-24)
  const uint32_t q = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  const uint32_t up = rest > half || (rest == half && (q & 1u));
  return sign | static_cast<uint16_t>(q + up);
}

BITNET_HOST_DEVICE inline float BFloatToFloat(uint16_t b) {
  return FloatFromBits(static_cast<uint32_t>(b) << 16);
}

BITNET_HOST_DEVICE inline uint16_t FloatToBFloat(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// The f16 stored at p (any alignment, the machine's byte order) as f32, and back.
BITNET_HOST_DEVICE inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return HalfToFloat(h);
}
BITNET_HOST_DEVICE inline void StoreHalf(uint8_t* p, float v) {
  const uint16_t h = FloatToHalf(v);
  memcpy(p, &h, sizeof h);
}

}  // namespace bitnet

#endif  // BITNET_FORMATS_HALF_H_
