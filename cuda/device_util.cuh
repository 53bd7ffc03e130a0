// Device helpers shared by the tensor-layout and product kernels (included
// by .cu files only): warp reductions, unaligned little-endian loads and
// stores of layout bytes, and 8-element loads and stores of the element
// types with ggml's conversions.
#ifndef BITNET_CUDA_DEVICE_UTIL_CUH_
#define BITNET_CUDA_DEVICE_UTIL_CUH_

#include <cstddef>
#include <cstdint>

#include "formats/half.h"
#include "formats/layouts.h"
#include "lane_codes.h"

namespace bitnet {
namespace cuda {

constexpr unsigned kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ unsigned Lane() { return threadIdx.x % kWarp; }

// Reductions over the kWidth lanes of each aligned group of a warp.
template <unsigned kWidth>
__device__ __forceinline__ float GroupMax(float v) {
#pragma unroll
  for (unsigned o = kWidth / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
template <unsigned kWidth>
__device__ __forceinline__ int GroupMax(int v) {
#pragma unroll
  for (unsigned o = kWidth / 2; o > 0; o /= 2) v = max(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
template <unsigned kWidth>
__device__ __forceinline__ int GroupMin(int v) {
#pragma unroll
  for (unsigned o = kWidth / 2; o > 0; o /= 2) v = min(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
template <unsigned kWidth>
__device__ __forceinline__ unsigned long long GroupMin(unsigned long long v) {
#pragma unroll
  for (unsigned o = kWidth / 2; o > 0; o /= 2) {
    const unsigned long long other = __shfl_xor_sync(kFullMask, v, o);
    v = other < v ? other : v;
  }
  return v;
}
__device__ __forceinline__ uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
__device__ __forceinline__ float LoadF32(const uint8_t* p) {
  return __uint_as_float(p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<unsigned>(p[3]) << 24));
}
__device__ __forceinline__ void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
__device__ __forceinline__ void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---- element types (F32, F16, BF16) ------------------------------------------------

__device__ __forceinline__ float ElementToFloat(LayoutId t, uint32_t bits) {
  switch (t) {
    case LayoutId::kF16: return HalfToFloat(static_cast<uint16_t>(bits));
    case LayoutId::kBF16: return BFloatToFloat(static_cast<uint16_t>(bits));
    default: return __uint_as_float(bits);
  }
}

// Elements [e, e + count) (count <= 8) of an F32/F16/BF16 buffer as floats;
// `vec`: the buffer is 16-byte aligned and e a multiple of 8, count 8.
template <LayoutId kT>
__device__ __forceinline__ void Load8(const void* base, size_t e, unsigned count, bool vec,
                                      float v[8]) {
  if (kT == LayoutId::kF32) {
    const float* p = static_cast<const float*>(base) + e;
    if (vec) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(p));
      const float4 b = __ldg(reinterpret_cast<const float4*>(p) + 1);
      v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
      v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
      return;
    }
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) v[i] = i < count ? __ldg(p + i) : 0.0f;
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(base) + e;
    if (vec) {
      const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
      const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (unsigned i = 0; i < 8; ++i) v[i] = ElementToFloat(kT, (w[i / 2] >> (16 * (i % 2))) & 0xFFFFu);
      return;
    }
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) v[i] = i < count ? ElementToFloat(kT, __ldg(p + i)) : 0.0f;
  }
}

// Elements [e, e + 8) of an F32/F16/BF16 buffer from their bits (16 bits
// in the low half for F16/BF16); `vec`: the buffer is 16-byte aligned and e
// a multiple of 8: one 16-byte store for F16/BF16, two for F32.
template <LayoutId kT>
__device__ __forceinline__ void StoreBits8(void* base, size_t e, unsigned count, bool vec,
                                           const uint32_t bits[8]) {
  if (kT == LayoutId::kF32) {
    uint32_t* p = static_cast<uint32_t*>(base) + e;
    if (vec) {
      reinterpret_cast<uint4*>(p)[0] = make_uint4(bits[0], bits[1], bits[2], bits[3]);
      reinterpret_cast<uint4*>(p)[1] = make_uint4(bits[4], bits[5], bits[6], bits[7]);
      return;
    }
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (i < count) p[i] = bits[i];
    }
  } else {
    uint16_t* p = static_cast<uint16_t*>(base) + e;
    if (vec) {
      *reinterpret_cast<uint4*>(p) = make_uint4(bits[0] | (bits[1] << 16), bits[2] | (bits[3] << 16),
                                                bits[4] | (bits[5] << 16), bits[6] | (bits[7] << 16));
      return;
    }
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (i < count) p[i] = static_cast<uint16_t>(bits[i]);
    }
  }
}

template <LayoutId kT>
__device__ __forceinline__ void Store8(void* base, size_t e, unsigned count, bool vec,
                                       const float v[8]) {
  uint32_t bits[8];
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) bits[i] = ElementBits<kT>(v[i]);
  StoreBits8<kT>(base, e, count, vec, bits);
}

// ---- the block reductions of ggml's activation rules -------------------------------
// A warp holds a 256-element group, lane l its elements 8l..8l+7 (`valid`:
// they lie in the tensor; lanes past it still take part).

// Q8_0's amax of each 32-element block (4 lanes): MAX(amax, |x|) in element
// order from 0, where ggml's MAX(a, b) = a > b ? a : b lets a NaN replace
// the running value and the next element replace the NaN: the largest |x|
// after the block's last NaN, or a NaN when its last element is one.
__device__ __forceinline__ float Q8_0BlockAmax(const float v[8], bool valid, unsigned lane) {
  const int first = static_cast<int>(8 * (lane % 4));  // of the lane's elements in its block
  int last_nan = -1;
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) {
    if (valid && v[i] != v[i]) last_nan = first + static_cast<int>(i);
  }
  last_nan = GroupMax<4>(last_nan);
  float m = 0.0f;
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) {
    if (valid && first + static_cast<int>(i) > last_nan) m = fmaxf(m, fabsf(v[i]));
  }
  m = GroupMax<4>(m);
  return last_nan == 31 ? __uint_as_float(0x7FC00000u) : m;
}

// Q8_K's max of a 256-element block (the warp): the first element of the
// largest |x| (`if (ax > amax)`: NaN never, ties keep the earlier), found
// as (|x|, index) with the earlier index winning ties; 0 when amax is 0.
__device__ __forceinline__ float Q8KBlockMax(const float v[8], bool valid, unsigned lane) {
  float best = 0.0f, best_value = 0.0f;
  int best_index = -1;
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) {
    const float a = fabsf(v[i]);
    if (valid && a > best) {
      best = a;
      best_value = v[i];
      best_index = static_cast<int>(8 * lane + i);
    }
  }
#pragma unroll
  for (unsigned o = 16; o > 0; o /= 2) {
    const float ob = __shfl_xor_sync(kFullMask, best, o);
    const float ov = __shfl_xor_sync(kFullMask, best_value, o);
    const int oi = __shfl_xor_sync(kFullMask, best_index, o);
    if (ob > best || (ob == best && oi < best_index)) {
      best = ob;
      best_value = ov;
      best_index = oi;
    }
  }
  return best != 0.0f ? best_value : 0.0f;
}

inline bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_DEVICE_UTIL_CUH_
