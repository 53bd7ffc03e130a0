// The matrix products of the public API, composed from one CPU target's
// kernels: activation quantization (the tensor primitives' I8_S, Q8_K and
// Q8_0 rules), the kernels' arrangement of the activations, and the split
// of output rows over threads. Arguments are validated by src/api first.
#ifndef BITNET_GEMM_GEMM_OPS_H_
#define BITNET_GEMM_GEMM_OPS_H_

#include <cstddef>
#include <cstdint>

#include "cpu/gemm_kernels.h"
#include "cpu/kernels.h"
#include "formats/layouts.h"

namespace bitnet {

struct GemmJob {
  const KernelSet* kernels;
  int threads;       // >= 1
  size_t row_begin;  // output rows [row_begin, row_end)
  size_t row_end;
};

// Float activations (F32, F16 or BF16 rows of p.cols) quantized with the
// rule of p.layout's engine, then multiplied. p.acts is filled here.
int GemmFromFloat(const GemmJob& job, GemmProblem p, const Layout& x_layout, const void* x);
// Activations already quantized (p.acts set by the caller).
int GemmQuantized(const GemmJob& job, const GemmProblem& p);

// The I2_S tensor scale of a rows x cols tensor.
float I2SWeightScale(const uint8_t* weights, size_t rows, size_t cols);

}  // namespace bitnet

#endif  // BITNET_GEMM_GEMM_OPS_H_
