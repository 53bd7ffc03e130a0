#include "device/device.h"

#include <cstdlib>
#include <cstring>

#include "api/errors.h"

namespace bitnet {
namespace {

thread_local bitnet_backend t_last_backend = BITNET_BACKEND_NONE;

bool StrictFromEnvironment() {
  static const bool strict = [] {
    const char* v = std::getenv("BITNET_STRICT_MODE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return strict;
}

}  // namespace

int ResolveDevice(const bitnet_quant_options* options, DeviceChoice* choice) {
  bitnet_device device = BITNET_DEVICE_AUTO;
  int index = 0;
  uint32_t flags = 0;
  if (options != nullptr) {
    device = options->device;
    index = options->device_index;
    flags = options->flags;
  }
  if (device < BITNET_DEVICE_AUTO || device > BITNET_DEVICE_CUDA) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->device is %d; expected AUTO (0), CPU (1) or CUDA (2)",
                static_cast<int>(device));
  }
  if (index < 0) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->device_index is %d; it must be >= 0", index);
  }
  if ((flags & ~(BITNET_FLAG_STRICT | BITNET_FLAG_NOT_STRICT)) != 0 ||
      (flags & BITNET_FLAG_STRICT && flags & BITNET_FLAG_NOT_STRICT)) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->flags is 0x%x; known flags are STRICT (0x1) or NOT_STRICT (0x2), not both",
                flags);
  }
  const bool strict = (flags & BITNET_FLAG_STRICT) != 0 ||
                      ((flags & BITNET_FLAG_NOT_STRICT) == 0 && StrictFromEnvironment());
  choice->device_index = index;
  if (device == BITNET_DEVICE_CPU) {
    choice->backend = BITNET_BACKEND_CPU;
    return BITNET_OK;
  }
  const char* why = nullptr;
  if (CudaDeviceUsable(index, &why)) {
    choice->backend = BITNET_BACKEND_CUDA;
    return BITNET_OK;
  }
  if (device == BITNET_DEVICE_CUDA) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE, "CUDA device %d requested but unusable: %s", index, why);
  }
  if (strict) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE,
                "strict mode: device AUTO found no usable GPU (%s) and may not fall back to the CPU",
                why);
  }
  choice->backend = BITNET_BACKEND_CPU_FALLBACK;
  return BITNET_OK;
}

void SetLastBackend(bitnet_backend backend) { t_last_backend = backend; }

}  // namespace bitnet

extern "C" bitnet_backend bitnet_last_backend(void) { return bitnet::t_last_backend; }
