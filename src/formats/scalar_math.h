// Float-to-integer conversions with Rust's `as` semantics (saturating, NaN
// to 0); C's casts are undefined out of range, so the references use these.
#ifndef BITNET_FORMATS_SCALAR_MATH_H_
#define BITNET_FORMATS_SCALAR_MATH_H_

#include <cstddef>
#include <cstdint>

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

}  // namespace bitnet

#endif  // BITNET_FORMATS_SCALAR_MATH_H_
