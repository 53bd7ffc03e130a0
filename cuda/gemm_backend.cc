// The ternary products on the GPU once their arguments are checked
// (src/api/cuda_tensor_api.cc): prepared weights (the handle), and each
// call's choice between the fused kernel (batches up to 8, several products
// in one launch) and the batched path through the handle's workspace.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <new>
#include <vector>

#include "api/errors.h"
#include "device/cuda_tensor.h"
#include "device_call.h"
#include "gemm_kernels.h"

struct bitnet_cuda_gemm_weights {
  int device;
  bitnet::LayoutId w;
  bitnet::GemmAct act;
  bitnet::cuda::GemmMatrix matrix;  // codes and wscale owned here
  void* workspace;                  // the batched path's activations
};

namespace bitnet {
namespace {

using cuda::DeviceFailure;

// A failed allocation of GPU memory is BITNET_E_OUT_OF_MEMORY.
int AllocationFailure(const char* what, size_t bytes, cudaError_t err) {
  if (err == cudaErrorMemoryAllocation) {
    return Fail(BITNET_E_OUT_OF_MEMORY, "GPU memory for %s (%zu bytes) could not be allocated", what,
                bytes);
  }
  return DeviceFailure("cudaMalloc", err);
}

void FreeWeights(bitnet_cuda_gemm_weights* g) {
  cuda::PendingErrorGuard pending;
  cuda::CurrentDevice current(g->device);
  cudaFree(const_cast<uint4*>(g->matrix.codes));
  cudaFree(const_cast<float*>(g->matrix.wscale));
  cudaFree(g->workspace);
  delete g;
}

// The prepare's steps on the legacy default stream, which it waits for.
int PrepareOnDevice(const Layout& w, const void* bytes, size_t w_len, bitnet_cuda_gemm_weights* g) {
  cudaError_t err = cuda::GemmKernelsInit();
  if (err != cudaSuccess) return DeviceFailure("cudaFuncSetAttribute", err);
  const cuda::GemmMatrix& m = g->matrix;
  const size_t codes_bytes = static_cast<size_t>(m.strips * m.kgroups) * 512;
  const size_t scale_bytes =
      sizeof(float) * static_cast<size_t>(w.id == LayoutId::kI2_S ? 1 : m.strips * 16 * m.wblocks);
  const size_t workspace_bytes = cuda::GemmWorkspaceBytes(g->act, m.cols);
  void* codes = nullptr;
  void* wscale = nullptr;
  if ((err = cudaMalloc(&codes, codes_bytes)) != cudaSuccess) {
    return AllocationFailure("the prepared weights", codes_bytes, err);
  }
  g->matrix.codes = static_cast<const uint4*>(codes);
  if ((err = cudaMalloc(&wscale, scale_bytes)) != cudaSuccess) {
    return AllocationFailure("the weight scales", scale_bytes, err);
  }
  g->matrix.wscale = static_cast<const float*>(wscale);
  if ((err = cudaMalloc(&g->workspace, workspace_bytes)) != cudaSuccess) {
    return AllocationFailure("the activation workspace", workspace_bytes, err);
  }
  // The tensor as it is, in device memory of this GPU (w may be host memory).
  void* staged = nullptr;
  if ((err = cudaMalloc(&staged, w_len)) != cudaSuccess) {
    return AllocationFailure("a copy of the tensor", w_len, err);
  }
  // On the legacy default stream, as a synchronous cudaMemcpy would: w may
  // have just been written by the caller's work on it (or on any blocking
  // stream, the per-thread default stream included), which a stream of our
  // own created non-blocking would not wait for.
  cudaStream_t stream = cudaStreamLegacy;  // a handle, not a const object
  const char* what = "cudaMemcpyAsync";
  err = cudaMemcpyAsync(staged, bytes, w_len, cudaMemcpyDefault, stream);
  if (err == cudaSuccess) {
    what = "prepare kernel launch";
    err = cuda::LaunchGemmPrepare(w.id, static_cast<const uint8_t*>(staged), g->matrix, stream);
  }
  if (err == cudaSuccess) {
    what = "cudaStreamSynchronize";
    err = cudaStreamSynchronize(stream);
  }
  cudaFree(staged);
  return err == cudaSuccess ? BITNET_OK : DeviceFailure(what, err);
}

}  // namespace

int CudaGemmPrepare(const Layout& w, const void* bytes, const TensorShape& shape, int device,
                    bitnet_cuda_gemm_weights** weights) {
  cuda::PendingErrorGuard pending;
  int status = cuda::CheckDeviceUsable(device);
  if (status != BITNET_OK) return status;
  cuda::CurrentDevice current(device);
  if (current.status() != cudaSuccess) return DeviceFailure("cudaSetDevice", current.status());
  GemmAct act = GemmAct::kI8S;
  GemmActOf(w.id, &act);
  bitnet_cuda_gemm_weights* g = new (std::nothrow) bitnet_cuda_gemm_weights();
  if (g == nullptr) return Fail(BITNET_E_OUT_OF_MEMORY, "out of host memory");
  g->device = device;
  g->w = w.id;
  g->act = act;
  g->matrix.rows = shape.rows;
  g->matrix.cols = shape.cols;
  g->matrix.strips = (shape.rows + cuda::kGemmStripRows - 1) / cuda::kGemmStripRows;
  g->matrix.kgroups = (shape.cols + cuda::kGemmGroupCols - 1) / cuda::kGemmGroupCols;
  g->matrix.wblocks = cuda::GemmWeightBlocks(act, shape.cols);
  status = PrepareOnDevice(w, bytes, PartsOf(w, shape.n, 32).total, g);
  if (status != BITNET_OK) {
    FreeWeights(g);
    return status;
  }
  *weights = g;
  SetLastBackend(BITNET_BACKEND_CUDA);
  return BITNET_OK;
}

void CudaGemmFree(bitnet_cuda_gemm_weights* weights) { FreeWeights(weights); }

GemmShape CudaGemmShapeOf(const bitnet_cuda_gemm_weights* weights) {
  return {weights->matrix.rows, weights->matrix.cols, weights->device, weights->w};
}

int CudaGemmRun(const bitnet_cuda_gemm_job* jobs, int count, const Layout& x, int64_t batch,
                void* stream) {
  const bitnet_cuda_gemm_weights* first = jobs[0].weights;
  std::vector<cuda::GemmJobArgs> args(static_cast<size_t>(count));
  std::vector<Region> regions;
  regions.reserve(2 * static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const cuda::GemmMatrix& m = jobs[i].weights->matrix;
    args[i] = {m, jobs[i].d_x, jobs[i].d_y};
    regions.push_back({"d_x", jobs[i].d_x, static_cast<size_t>(batch * m.cols) * x.block_bytes});
    regions.push_back({"d_y", jobs[i].d_y, static_cast<size_t>(batch * m.rows) * sizeof(float)});
  }
  return cuda::RunDeviceCall(first->device, regions, stream, [&](cudaStream_t s) -> int {
    if (batch <= cuda::kGemmFusedMaxBatch) {
      const cudaError_t err = cuda::LaunchGemmFused(first->act, x.id, args.data(), count,
                                                    static_cast<int>(batch), s);
      if (err == cudaSuccess) return BITNET_OK;
      if (err != cudaErrorInvalidConfiguration) return DeviceFailure("product kernel launch", err);
      // Activations too large for shared memory: the batched path below.
    }
    for (int i = 0; i < count; ++i) {
      const bitnet_cuda_gemm_weights* g = jobs[i].weights;
      const cuda::GemmActivations workspace = cuda::GemmWorkspaceViews(g->act, g->matrix.cols, g->workspace);
      for (int64_t done = 0; done < batch; done += cuda::kGemmWorkspaceTokens) {
        const int64_t tokens = std::min(batch - done, cuda::kGemmWorkspaceTokens);
        cuda::GemmJobArgs part = args[i];
        part.x = static_cast<const uint8_t*>(part.x) + done * g->matrix.cols * static_cast<int64_t>(x.block_bytes);
        part.y += done * g->matrix.rows;
        const cudaError_t err = cuda::LaunchGemmBatched(g->act, x.id, part, static_cast<int>(tokens),
                                                        workspace, s);
        if (err != cudaSuccess) return DeviceFailure("product kernel launch", err);
      }
    }
    return BITNET_OK;
  });
}

}  // namespace bitnet
