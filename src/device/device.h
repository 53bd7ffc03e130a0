// Device choice for a host-pointer call: AUTO / CPU / CUDA, the size
// threshold under which AUTO stays on the CPU, strict mode, and the
// per-thread report of which backend ran.
#ifndef BITNET_DEVICE_DEVICE_H_
#define BITNET_DEVICE_DEVICE_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/formats.h"

namespace bitnet {

// What the options ask for, checked (no device is consulted).
struct DeviceRequest {
  bitnet_device device = BITNET_DEVICE_AUTO;
  int index = 0;
  uint32_t flags = 0;
  bool cpu_target_named = false;  // options->cpu_target != BITNET_CPU_AUTO
};

// Checks options.device, device_index, flags, and that device CUDA names
// no CPU target.
int ReadDeviceRequest(const bitnet_quant_options& options, DeviceRequest* request);

struct DeviceChoice {
  bitnet_backend backend = BITNET_BACKEND_CPU;  // CPU, CUDA or CPU_FALLBACK
  int device_index = 0;                         // for CUDA
  bool may_fall_back = false;  // CUDA chosen by AUTO, not strict: a device failure runs the CPU
};

// Where a host-pointer call of n elements runs (see the header's "devices
// and backends"). Consults the GPU only for device CUDA, or AUTO with no
// CPU target named and n >= the threshold.
int ChooseDevice(const DeviceRequest& request, size_t n, DeviceChoice* choice);

void SetLastBackend(bitnet_backend backend);

// Whether CUDA device `index` can run kernels; else *why says why. Defined
// by the CUDA backend, or by cuda_absent.cc in a build without CUDA.
bool CudaDeviceUsable(int index, const char** why);

// The host-pointer path of the CUDA backend, for calls whose arguments are
// already checked: copies the buffers to GPU `device`, runs the kernels and
// copies the results back, writing the outputs only once every kernel ran.
// Returns BITNET_OK or BITNET_E_DEVICE_FAILURE (cuda/, or cuda_absent.cc:
// BITNET_E_DEVICE_UNAVAILABLE).
int CudaQuantizeHost(int device, Format format, const float* input, size_t n, size_t block,
                     uint8_t* packed, float* scales);
int CudaDequantizeHost(int device, Format format, const uint8_t* packed, const float* scales,
                       size_t n, size_t block, float* output);

}  // namespace bitnet

#endif  // BITNET_DEVICE_DEVICE_H_
