// The CUDA backend of a library built without CUDA: no device is ever
// usable, and every CUDA entry point says so.
#include "api/errors.h"
#include "bitnet_quant.h"
#include "device/cuda_tensor.h"
#include "device/device.h"

namespace bitnet {
namespace {

constexpr const char* kNoCuda = "this library was built without CUDA";

int NoCuda() { return Fail(BITNET_E_DEVICE_UNAVAILABLE, "%s", kNoCuda); }

}  // namespace

bool CudaDeviceUsable(int /*index*/, const char** why) {
  *why = kNoCuda;
  return false;
}

int CudaQuantizeHost(int, Format, const float*, size_t, size_t, uint8_t*, float*) {
  return NoCuda();
}

int CudaDequantizeHost(int, Format, const uint8_t*, const float*, size_t, size_t, float*) {
  return NoCuda();
}

int CudaTensorQuantize(const DeviceTensorCall&, const Layout&, void*, const Layout&, const void*,
                       const TensorShape&) {
  return NoCuda();
}

int CudaTensorDequantize(const DeviceTensorCall&, const Layout&, void*, const Layout&, const void*,
                         const TensorShape&) {
  return NoCuda();
}

int CudaTensorTranscode(const DeviceTensorCall&, const Layout&, void*, const Layout&, const void*,
                        const TensorShape&) {
  return NoCuda();
}

int CudaGemmPrepare(const Layout&, const void*, const TensorShape&, int, bitnet_cuda_gemm_weights**) {
  return NoCuda();
}

// No handle can exist without CUDA; these are never reached with one.
void CudaGemmFree(bitnet_cuda_gemm_weights*) {}
GemmShape CudaGemmShapeOf(const bitnet_cuda_gemm_weights*) { return {0, 0, -1, LayoutId::kI2_S}; }

int CudaGemmRun(const bitnet_cuda_gemm_job*, int, const Layout&, int64_t, void*) { return NoCuda(); }

}  // namespace bitnet

extern "C" {

int bitnet_cuda_device_count(void) { return 0; }

int bitnet_cuda_get_device_info(int, bitnet_cuda_device_info*) { return bitnet::NoCuda(); }

int bitnet_cuda_quantize(bitnet_format, const bitnet_quant_options*, const float*, size_t,
                         uint8_t*, size_t, float*, size_t, void*) {
  return bitnet::NoCuda();
}

int bitnet_cuda_dequantize(bitnet_format, const bitnet_quant_options*, const uint8_t*, size_t,
                           const float*, size_t, float*, size_t, void*) {
  return bitnet::NoCuda();
}

int bitnet_cuda_kernel_quantize(bitnet_format, const bitnet_quant_options*, const float*, size_t,
                                uint8_t*, size_t, float*, size_t, void*) {
  return bitnet::NoCuda();
}

}  // extern "C"
