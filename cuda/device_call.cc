#include "device_call.h"

#include "api/errors.h"
#include "device/device.h"

namespace bitnet {
namespace cuda {

CurrentDevice::CurrentDevice(int device) {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  status_ = previous_ == device ? cudaSuccess : cudaSetDevice(device);
}

CurrentDevice::~CurrentDevice() {
  if (previous_ >= 0 && status_ == cudaSuccess) cudaSetDevice(previous_);
}

int DeviceFailure(const char* what, cudaError_t err) {
  return Fail(BITNET_E_DEVICE_FAILURE, "CUDA %s failed: %s (%s, %d)", what,
              cudaGetErrorString(err), cudaGetErrorName(err), static_cast<int>(err));
}

int CheckDeviceUsable(int device) {
  const char* why = nullptr;
  if (CudaDeviceUsable(device, &why)) return BITNET_OK;
  return Fail(BITNET_E_DEVICE_UNAVAILABLE, "CUDA device %d unusable: %s", device, why);
}

int CheckDeviceAccessible(const Region& r, int device) {
  cudaPointerAttributes attributes;
  const cudaError_t err = cudaPointerGetAttributes(&attributes, r.ptr);
  if (err != cudaSuccess) {
    return Fail(BITNET_E_INVALID_ARGUMENT, "%s (%p): cudaPointerGetAttributes failed: %s", r.name,
                r.ptr, cudaGetErrorName(err));
  }
  switch (attributes.type) {
    case cudaMemoryTypeDevice:
      if (attributes.device == device) return BITNET_OK;
      return Fail(BITNET_E_INVALID_ARGUMENT,
                  "%s (%p) is memory of CUDA device %d; the call runs on device %d", r.name,
                  r.ptr, attributes.device, device);
    case cudaMemoryTypeManaged:
      return BITNET_OK;
    case cudaMemoryTypeHost:
      if (attributes.devicePointer == r.ptr) return BITNET_OK;
      return Fail(BITNET_E_INVALID_ARGUMENT,
                  "%s (%p) is pinned host memory not mapped at the same address on the device",
                  r.name, r.ptr);
    case cudaMemoryTypeUnregistered:
      break;
  }
  return Fail(BITNET_E_INVALID_ARGUMENT,
              "%s (%p) is not memory the GPU can access (host buffers go to the host-pointer "
              "calls: bitnet_quantize, bitnet_dequantize, bitnet_tensor_*)", r.name, r.ptr);
}

int CheckStream(cudaStream_t stream, int device) {
  if (stream == nullptr) return BITNET_OK;
  int stream_device = -1;
  const cudaError_t err = cudaStreamGetDevice(stream, &stream_device);
  if (err != cudaSuccess) {
    return Fail(BITNET_E_INVALID_ARGUMENT, "stream %p: cudaStreamGetDevice failed: %s",
                static_cast<void*>(stream), cudaGetErrorName(err));
  }
  if (stream_device != device) {
    return Fail(BITNET_E_INVALID_ARGUMENT,
                "stream %p belongs to CUDA device %d; the call runs on device %d",
                static_cast<void*>(stream), stream_device, device);
  }
  return BITNET_OK;
}

bool IsCapturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &capture) != cudaSuccess) return false;
  return capture != cudaStreamCaptureStatusNone;
}

int RefuseCapture(cudaStream_t stream, const char* why) {
  if (!IsCapturing(stream)) return BITNET_OK;
  return Fail(BITNET_E_INVALID_ARGUMENT,
              "stream %p is being captured: %s, which a capture does not allow",
              static_cast<void*>(stream), why);
}

}  // namespace cuda
}  // namespace bitnet
