// The BitNet-rs `bitnet-kernels` FallbackKernel (KernelProvider::quantize and
// matmul_i2s): the semantics of the bitnet_cpp_* FFI contract.
#ifndef BITNET_FORMATS_BITNET_RS_KERNEL_H_
#define BITNET_FORMATS_BITNET_RS_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include <cmath>

#include "formats/formats.h"
#include "formats/host_device.h"

namespace bitnet {

// Scale of a block whose largest |x| over its non-NaN elements is absmax.
BITNET_HOST_DEVICE inline float KernelScale(float absmax) {
  return absmax > 1e-8f ? absmax / 1.5f : 1.0f;
}

// The code tables of TL1 and TL2: the code is the index of the nearest
// entry to x/scale, the lower index winning ties.
extern const float kKernelTl1Levels[4];
extern const float kKernelTl2Levels[4];

// The I2_S code of x/scale: 1 (+1), 3 (-1) or 0.
BITNET_HOST_DEVICE inline unsigned KernelI2SCode(float normalized) {
  if (normalized > 0.5f) return 1;
  if (normalized < -0.5f) return 3;
  return 0;
}

// The TL1 / TL2 code of x/scale given its level table.
BITNET_HOST_DEVICE inline unsigned NearestLevel(float normalized, const float* levels) {
  unsigned best = 0;
  float best_dist = std::fabs(normalized - levels[0]);
  for (unsigned idx = 1; idx < 4; ++idx) {
    const float dist = std::fabs(normalized - levels[idx]);
    if (dist < best_dist) {
      best_dist = dist;
      best = idx;
    }
  }
  return best;
}

// Writes PackedSize(n) bytes and NumBlocks(n, DefaultBlockSize(f)) scales.
void ReferenceKernelQuantize(Format format, const float* input, size_t n,
                             uint8_t* packed, float* scales);

// C[m x n] = A[m x k] * B[k x n], row-major, each sum in f32 in order of k.
void ReferenceMatmulI2S(const int8_t* a, const uint8_t* b, float* c, size_t m,
                        size_t n, size_t k);

}  // namespace bitnet

#endif  // BITNET_FORMATS_BITNET_RS_KERNEL_H_
