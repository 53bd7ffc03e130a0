// The tensor operations of the public tensor API, composed from one CPU
// target's primitives (cpu/kernels.h TensorKernels, and the BitNet-rs
// family's kernels for BITNET_RS_I2S): chunking, element-type conversion,
// the passes a per-tensor scale needs, threads. Arguments are validated by
// src/api before any of these runs; a data error (NaN for absmean, scales a
// transcode cannot carry) is found before the first byte of output is
// written.
#ifndef BITNET_TENSOR_TENSOR_OPS_H_
#define BITNET_TENSOR_TENSOR_OPS_H_

#include <cstddef>
#include <cstdint>

#include "cpu/kernels.h"
#include "formats/layouts.h"

namespace bitnet {

struct TensorJob {
  const KernelSet* kernels;
  int threads;         // >= 1
  uint32_t rs_block;   // BITNET_RS_I2S block size (validated)
  uint32_t flags;      // BITNET_TENSOR_*
  bool absmean;        // ternarize first
  int64_t group_size;  // absmean unit: 0 tensor, -1 row, G columns
  float threshold;     // absmean threshold (> 0)
};

struct TensorShape {
  int64_t rows;
  int64_t cols;
  size_t n;  // rows * cols
};

// Absmean units: unit u is the flattened range [u * width, (u + 1) * width).
size_t AbsmeanUnitWidth(const TensorShape& shape, int64_t group_size);
inline size_t AbsmeanUnits(const TensorShape& shape, int64_t group_size) {
  const size_t width = AbsmeanUnitWidth(shape, group_size);
  return width == 0 ? 0 : shape.n / width;
}

// Each returns BITNET_OK or a negative status with the per-thread message.
int TensorQuantize(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                   const void* in, const TensorShape& shape);
int TensorDequantize(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                     const void* in, const TensorShape& shape);
int TensorTranscode(const TensorJob& job, const Layout& dst, void* out, const Layout& src,
                    const void* in, const TensorShape& shape);
// Counts of values (-2..+2) and the scales of a ternary tensor.
struct TernaryStats {
  uint64_t values[5];
  uint64_t scales;
  uint64_t nonfinite_scales;
  float scale_min, scale_max;
};
int TensorStats(const TensorJob& job, const Layout& src, const void* in, const TensorShape& shape,
                TernaryStats* stats);
int TensorTernarize(const TensorJob& job, const Layout& src, const void* in,
                    const TensorShape& shape, int8_t* codes, float* alphas);
int TensorQuantizeI8S(const TensorJob& job, const Layout& src, const void* in,
                      const TensorShape& shape, int8_t* q, float* scales, int32_t* sums);

}  // namespace bitnet

#endif  // BITNET_TENSOR_TENSOR_OPS_H_
