// Rust's float semantics that C and C++ leave to the compiler or libc:
// `as` conversions (saturating, NaN to 0; C's casts are undefined out of
// range), f32::max/min (std::fmax/fmin may treat a signalling NaN otherwise:
// glibc returns NaN for it, an inlined maxss skips it), and NaN bits.
#ifndef BITNET_FORMATS_SCALAR_MATH_H_
#define BITNET_FORMATS_SCALAR_MATH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/host_device.h"

namespace bitnet {

// Rust `f as i32`.
BITNET_HOST_DEVICE inline int32_t SaturatingI32(float f) {
  if (f != f) return 0;
  if (f >= 2147483648.0f) return INT32_MAX;
  if (f <= -2147483648.0f) return INT32_MIN;
  return static_cast<int32_t>(f);
}

// Rust `i32::saturating_add`.
inline int32_t SaturatingAdd(int32_t a, int32_t b) {
  const int64_t s = static_cast<int64_t>(a) + b;
  if (s > INT32_MAX) return INT32_MAX;
  if (s < INT32_MIN) return INT32_MIN;
  return static_cast<int32_t>(s);
}

BITNET_HOST_DEVICE inline int32_t Clamp(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// Rust `(f as usize).clamp(0, 255)`: NaN and negatives give 0.
inline size_t SaturatingIndex255(float f) {
  if (!(f > 0.0f)) return 0;
  if (f >= 255.0f) return 255;
  return static_cast<size_t>(f);
}

// Rust `acc.max(v)` / `acc.min(v)` for a non-NaN running value acc: every
// NaN v, quiet or signalling, leaves acc as it is.
BITNET_HOST_DEVICE inline float MaxSkippingNaN(float acc, float v) { return v > acc ? v : acc; }
BITNET_HOST_DEVICE inline float MinSkippingNaN(float acc, float v) { return v < acc ? v : acc; }

BITNET_HOST_DEVICE inline uint32_t FloatBits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
BITNET_HOST_DEVICE inline float FloatFromBits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// A NaN with its quiet bit set; sign and payload kept (IEEE 754 6.2.3).
BITNET_HOST_DEVICE inline float QuietNaN(float nan) {
  return FloatFromBits(FloatBits(nan) | 0x00400000u);
}

}  // namespace bitnet

#endif  // BITNET_FORMATS_SCALAR_MATH_H_
