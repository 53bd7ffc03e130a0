// What every device-pointer call (cuda/backend.cc, tensor_backend.cc,
// gemm_backend.cc) does around its kernels: make its GPU current, check
// that each buffer is memory that GPU can access and that the stream
// belongs to it, and turn a CUDA error into a status.
#ifndef BITNET_CUDA_DEVICE_CALL_H_
#define BITNET_CUDA_DEVICE_CALL_H_

#include <cuda_runtime_api.h>


#include "api/validate.h"

namespace bitnet {
namespace cuda {

// CUDA keeps the last error of each host thread until cudaGetLastError()
// reads it. A call holds one of these: the errors its own CUDA calls leave
// are cleared when it returns, while one that was already pending (the
// application's) stays.
class PendingErrorGuard {
 public:
  PendingErrorGuard() : pending_before_(cudaPeekAtLastError()) {}
  ~PendingErrorGuard() {
    if (pending_before_ == cudaSuccess) static_cast<void>(cudaGetLastError());
  }
  PendingErrorGuard(const PendingErrorGuard&) = delete;
  PendingErrorGuard& operator=(const PendingErrorGuard&) = delete;

 private:
  cudaError_t pending_before_;
};

// Makes `device` current for the lifetime of the guard, then restores the
// caller's current device.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device);
  ~CurrentDevice();
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;
  cudaError_t status() const { return status_; }

 private:
  int previous_ = -1;
  cudaError_t status_ = cudaSuccess;
};

// BITNET_E_DEVICE_FAILURE naming the step and CUDA's error.
int DeviceFailure(const char* what, cudaError_t err);

// BITNET_E_DEVICE_UNAVAILABLE unless GPU `device` runs this library's kernels.
int CheckDeviceUsable(int device);

// The buffer is memory `device` can address: a device allocation of it,
// managed memory, or mapped pinned host memory.
int CheckDeviceAccessible(const Region& r, int device);

// The stream is NULL (the legacy default stream) or one of `device`. Not
// for a capturing stream: CUDA 13 refuses cudaStreamGetDevice on one
// (cudaErrorStreamCaptureUnsupported) and invalidates its capture.
int CheckStream(cudaStream_t stream, int device);

// Whether `stream` is being captured into a graph (then no call may
// synchronize). cudaStreamIsCapturing is one of the few queries a capture
// allows.
bool IsCapturing(cudaStream_t stream);

// BITNET_E_INVALID_ARGUMENT, before anything touches the stream, for a call
// that must synchronize `stream` (`why`) while it is being captured.
int RefuseCapture(cudaStream_t stream, const char* why);

// A device-pointer call once its arguments are checked: the device usable
// and current, every region (a container of Region) accessible, the stream
// its own; then enqueue(stream), which returns a status. Records CUDA as
// the backend. On a capturing stream the stream's device and the buffers'
// memory are not queried (the queries would end the capture with an
// error): a buffer the GPU cannot access, or a stream of another GPU, then
// fails when the graph runs or at the launch.
template <class Regions, class Enqueue>
int RunDeviceCall(int device, const Regions& regions, void* stream, const Enqueue& enqueue) {
  PendingErrorGuard pending;
  int status = CheckDeviceUsable(device);
  if (status != BITNET_OK) return status;
  CurrentDevice current(device);
  if (current.status() != cudaSuccess) return DeviceFailure("cudaSetDevice", current.status());
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (!IsCapturing(s)) {
    if ((status = CheckStream(s, device)) != BITNET_OK) return status;
    for (const Region& r : regions) {
      if (r.bytes > 0 && (status = CheckDeviceAccessible(r, device)) != BITNET_OK) return status;
    }
  }
  if ((status = enqueue(s)) != BITNET_OK) return status;
  SetLastBackend(BITNET_BACKEND_CUDA);
  return BITNET_OK;
}

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_DEVICE_CALL_H_
