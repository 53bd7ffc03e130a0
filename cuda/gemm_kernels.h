// The ternary products on the GPU (gemm_kernels.cu): the prepared weight
// layout, the activation quantizers and the product kernels, with their
// launchers. Arguments are checked by the callers (gemm_backend.cc).
//
// The weight layout is the A operand of the tensor cores' int8 product
// mma.m16n8k32 (s8 x s8 -> s32, exact), 2 bits per code: rows in strips of
// 16, columns in k-tiles of 32, four k-tiles (a k-group of 128 columns) per
// uint4 of each lane, so that a warp reads 512 consecutive bytes per k-group
// and each lane holds its own fragments. Codes are the stored numbers of
// every ternary layout (value + 1: 0..3), products are code * q, and a
// block's sum of (code - 1) * q is that minus the activations' sum over the
// block, which the quantizers record.
#ifndef BITNET_CUDA_GEMM_KERNELS_H_
#define BITNET_CUDA_GEMM_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "device/cuda_tensor.h"
#include "formats/layouts.h"

namespace bitnet {
namespace cuda {

constexpr int64_t kGemmStripRows = 16;
constexpr int64_t kGemmGroupCols = 128;
// Tokens a product kernel quantizes itself (one mma column tile).
constexpr int64_t kGemmFusedMaxBatch = 8;
// Tokens per pass of the batched path: the workspace holds their activations.
constexpr int64_t kGemmWorkspaceTokens = 512;

// Prepared weights as the kernels see them.
struct GemmMatrix {
  const uint4* codes;   // [strips][k-groups][32 lanes]
  const float* wscale;  // per (row, weight block), rows padded to strips; I2_S: [0] the tensor's
  int64_t rows;         // M
  int64_t cols;         // K
  int64_t strips;       // ceil(M / 16)
  int64_t kgroups;      // ceil(K / 128)
  int64_t wblocks;      // weight blocks per row: K/256 (Q8_K rule), K/64 (Q8_0 rule), 1 (I2_S)
};

// Weight blocks of a row and activation blocks of a token for a rule.
int64_t GemmWeightBlocks(GemmAct act, int64_t cols);
int64_t GemmActBlocks(GemmAct act, int64_t cols);

// The activations of up to kGemmWorkspaceTokens tokens, quantized into the
// B operand's fragments: [token tile of 8][k-group][token][lane in its
// group of 4][8 words], with per (token, activation block) the scale (I8_S:
// per token) and the exact sum of q.
struct GemmActivations {
  uint32_t* frags;
  float* scale;
  int32_t* qsum;
};
size_t GemmWorkspaceBytes(GemmAct act, int64_t cols);
GemmActivations GemmWorkspaceViews(GemmAct act, int64_t cols, void* workspace);

// One product of a launch.
struct GemmJobArgs {
  GemmMatrix m;
  const void* x;  // batch rows of cols elements
  float* y;       // batch rows of `rows` floats
};

// Sets what the product kernels need on the current device (their shared
// memory limits); once per device before the first launch.
cudaError_t GemmKernelsInit();

// w: the tensor as the tensor API writes it, in device memory; fills
// m.codes and m.wscale (allocated by the caller for m's sizes).
cudaError_t LaunchGemmPrepare(LayoutId w, const uint8_t* bytes, const GemmMatrix& m,
                              cudaStream_t stream);

// The products of up to kMaxGemmJobs jobs of batch <= kGemmFusedMaxBatch in
// one launch, each thread block quantizing its own activations in shared
// memory. Returns cudaErrorInvalidConfiguration (with nothing enqueued)
// when a job needs more shared memory than the device has: the caller takes
// the batched path for it.
cudaError_t LaunchGemmFused(GemmAct act, LayoutId x, const GemmJobArgs* jobs, int count,
                            int batch, cudaStream_t stream);

// The batched path, batch <= kGemmWorkspaceTokens: the activations into the
// workspace, then the product.
cudaError_t LaunchGemmBatched(GemmAct act, LayoutId x, const GemmJobArgs& job, int batch,
                              const GemmActivations& workspace, cudaStream_t stream);

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_GEMM_KERNELS_H_
