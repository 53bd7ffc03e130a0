// The ternary matrix products of one CPU code path. src/gemm quantizes the
// activations into their canonical form (bitnet.cpp's I8_S rows, or ggml's
// Q8_K / Q8_0 blocks), then a kernel set arranges them for its own loops
// (once per call) and computes ranges of output rows (any number of threads,
// any split: every output is computed alone, in the reference's order).
#ifndef BITNET_CPU_GEMM_KERNELS_H_
#define BITNET_CPU_GEMM_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "formats/dot_rules.h"
#include "formats/layouts.h"

namespace bitnet {

// Quantized activations, `batch` tokens of `cols` values each.
struct GemmActs {
  ActKind kind;
  // I8_S: q[t * cols + k], and one scale and sum per token.
  const int8_t* q;
  const float* scales;
  const int32_t* sums;
  // Q8_K / Q8_0: token t's blocks start at blocks + t * row_bytes.
  const uint8_t* blocks;
  size_t row_bytes;
};

// y[t * y_stride + r] = row r of the weights . token t of the activations.
struct GemmProblem {
  LayoutId layout;          // I2_S, TQ1_0, TQ2_0 or Q2_0
  const uint8_t* weights;   // the whole tensor, as the tensor API writes it
  size_t rows;              // M
  size_t cols;              // K
  float w_scale;            // I2_S: the tensor's scale (from its tail)
  size_t batch;             // N
  GemmActs acts;
  float* y;
  size_t y_stride;
};

struct GemmKernels {
  // Bytes of the arranged activations of a problem (0: the kernels read the
  // canonical ones).
  size_t (*workspace_bytes)(const GemmProblem& p);
  // Arranges tokens [begin, end) of the activations into the workspace.
  void (*arrange)(const GemmProblem& p, uint8_t* workspace, size_t begin, size_t end);
  // Bytes of memory each thread of a call needs of its own for `rows`. The
  // caller allocates them for every thread before any runs, so that no
  // thread allocates (a worker thread could not report running out).
  size_t (*scratch_bytes)(const GemmProblem& p);
  // Every token of output rows [begin, end); `scratch`: scratch_bytes(p) of
  // the calling thread's own, 64-byte aligned.
  void (*rows)(const GemmProblem& p, const uint8_t* workspace, uint8_t* scratch, size_t begin,
               size_t end);
  // Rows a call of `rows` should cover at least (thread splits align to it).
  size_t row_tile;
};

// The scalar references (cpu/gemm_reference.cc), and the Highway kernels of
// the target with Highway bit `hwy_target` (nullptr when not compiled).
extern const GemmKernels kReferenceGemmKernels;
const GemmKernels* HwyGemmKernels(int64_t hwy_target);

}  // namespace bitnet

#endif  // BITNET_CPU_GEMM_KERNELS_H_
