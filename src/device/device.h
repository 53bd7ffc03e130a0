// Device selection for a call: AUTO / CPU / CUDA, strict mode, and the
// per-thread report of which backend ran.
#ifndef BITNET_DEVICE_DEVICE_H_
#define BITNET_DEVICE_DEVICE_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/formats.h"

namespace bitnet {

struct DeviceChoice {
  bitnet_backend backend;  // CPU, CUDA or CPU_FALLBACK
  int device_index;        // for CUDA
};

// options may be NULL (AUTO, strict from the environment).
int ResolveDevice(const bitnet_quant_options* options, DeviceChoice* choice);
void SetLastBackend(bitnet_backend backend);

// Whether CUDA device `index` can run kernels; else *why says why. Defined
// by the CUDA backend, or by cuda_absent.cc in a build without CUDA.
bool CudaDeviceUsable(int index, const char** why);

// The host-pointer path of the CUDA backend, for calls whose arguments are
// already checked: copies the buffers to GPU `device`, runs the kernels and
// copies the results back. Returns BITNET_OK or BITNET_E_DEVICE_FAILURE
// (cuda/, or cuda_absent.cc: BITNET_E_DEVICE_UNAVAILABLE).
int CudaQuantizeHost(int device, Format format, const float* input, size_t n, size_t block,
                     uint8_t* packed, float* scales);
int CudaDequantizeHost(int device, Format format, const uint8_t* packed, const float* scales,
                       size_t n, size_t block, float* output);

}  // namespace bitnet

#endif  // BITNET_DEVICE_DEVICE_H_
