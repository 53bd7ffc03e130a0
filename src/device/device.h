// Device selection for a call: AUTO / CPU / CUDA, strict mode, and the
// per-thread report of which backend ran.
#ifndef BITNET_DEVICE_DEVICE_H_
#define BITNET_DEVICE_DEVICE_H_

#include "bitnet_quant.h"

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

}  // namespace bitnet

#endif  // BITNET_DEVICE_DEVICE_H_
