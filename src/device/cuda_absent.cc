// CudaDeviceUsable for a library built without the CUDA backend.
#include "device/device.h"

namespace bitnet {

bool CudaDeviceUsable(int /*index*/, const char** why) {
  *why = "this library was built without CUDA";
  return false;
}

}  // namespace bitnet
