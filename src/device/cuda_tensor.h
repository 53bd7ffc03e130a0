// The device-pointer tensor and product calls between the API layer
// (src/api/cuda_tensor_api.cc, which checks every argument it can without a
// device) and the CUDA backend (cuda/tensor_backend.cc, cuda/gemm_backend.cc;
// cuda_absent.cc in a build without CUDA, where every call is
// BITNET_E_DEVICE_UNAVAILABLE).
#ifndef BITNET_DEVICE_CUDA_TENSOR_H_
#define BITNET_DEVICE_CUDA_TENSOR_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/layouts.h"
#include "tensor/tensor_ops.h"

namespace bitnet {

// What the GPU does with a layout: encode (a quantize destination), decode
// (a dequantize source), transcode (either end); element types convert.
struct DeviceSupport {
  bool encode;
  bool decode;
  bool transcode;
};
inline DeviceSupport DeviceSupportOf(LayoutId id) {
  switch (id) {
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
      return {true, true, false};
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kQ2_0:
    case LayoutId::kI2_S:
      return {true, true, true};
    case LayoutId::kIQ2_S:
      return {false, true, false};
    case LayoutId::kHfBitnet:     // tensor-wide row interleave: CPU only
    case LayoutId::kBitnetRsI2S:  // BitNet-rs family A: CPU only (bitnet_cuda_quantize has its codes)
      return {false, false, false};
  }
  return {false, false, false};
}

// A checked device tensor call: where it runs and its transcode flags.
struct DeviceTensorCall {
  int device;
  void* stream;
  uint32_t flags;  // BITNET_TENSOR_*
};

int CudaTensorQuantize(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                       const Layout& src, const void* d_src, const TensorShape& shape);
int CudaTensorDequantize(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                         const Layout& src, const void* d_src, const TensorShape& shape);
int CudaTensorTranscode(const DeviceTensorCall& call, const Layout& dst, void* d_dst,
                        const Layout& src, const void* d_src, const TensorShape& shape);

// The ternary products. The largest I2_S row whose int32 sum of code * q
// (|code| <= 3, |q| <= 128) stays exact.
constexpr int64_t kMaxI2SGemmCols = (int64_t{1} << 31) / 384 - 1;
// Jobs of one bitnet_cuda_gemm_multi call at most.
constexpr int kMaxGemmJobs = 64;

// The activation rule a weight layout's product takes, and whether the GPU
// multiplies it.
enum class GemmAct { kI8S, kQ8K, kQ8_0 };
inline bool GemmActOf(LayoutId w, GemmAct* act) {
  switch (w) {
    case LayoutId::kI2_S: *act = GemmAct::kI8S; return true;
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0: *act = GemmAct::kQ8K; return true;
    case LayoutId::kQ2_0: *act = GemmAct::kQ8_0; return true;
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S: return false;
  }
  return false;
}

// Prepares a checked weight tensor (host or device memory) on `device`.
int CudaGemmPrepare(const Layout& w, const void* bytes, const TensorShape& shape, int device,
                    bitnet_cuda_gemm_weights** weights);
void CudaGemmFree(bitnet_cuda_gemm_weights* weights);
// What the API layer checks jobs against.
struct GemmShape {
  int64_t rows;
  int64_t cols;
  int device;
  LayoutId w;
};
GemmShape CudaGemmShapeOf(const bitnet_cuda_gemm_weights* weights);
// Jobs whose handles, shapes and pointers are checked (x_type an element
// type, all handles on one device with one GemmAct, batch > 0).
int CudaGemmRun(const bitnet_cuda_gemm_job* jobs, int count, const Layout& x, int64_t batch,
                void* stream);

}  // namespace bitnet

#endif  // BITNET_DEVICE_CUDA_TENSOR_H_
