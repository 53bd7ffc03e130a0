#include "device/device.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "api/errors.h"

namespace bitnet {
namespace {

thread_local bitnet_backend t_last_backend = BITNET_BACKEND_NONE;

// Host-pointer calls of at least this many elements are where AUTO wants
// the GPU; see the header ("devices and backends") for how it was derived.
constexpr size_t kDefaultCudaMinElements = size_t{1} << 24;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// `value` without leading and trailing ASCII white space, as [*begin, *end).
void Trim(const char* value, const char** begin, const char** end) {
  const char* b = value;
  const char* e = value + std::strlen(value);
  while (b < e && IsSpace(*b)) ++b;
  while (e > b && IsSpace(e[-1])) --e;
  *begin = b;
  *end = e;
}

bool EqualsIgnoringCase(const char* begin, const char* end, const char* word) {
  const size_t len = std::strlen(word);
  if (static_cast<size_t>(end - begin) != len) return false;
  for (size_t i = 0; i < len; ++i) {
    char c = begin[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return true;
}

// BITNET_STRICT_MODE as BitNet-rs reads it (bitnet-kernels'
// strict_mode_enabled_from_value): "1" or "true", trimmed and
// case-insensitive; anything else, or unset, is not strict.
bool StrictFromEnvironment() {
  static const bool strict = [] {
    const char* v = std::getenv("BITNET_STRICT_MODE");
    if (v == nullptr) return false;
    const char* begin = nullptr;
    const char* end = nullptr;
    Trim(v, &begin, &end);
    return EqualsIgnoringCase(begin, end, "1") || EqualsIgnoringCase(begin, end, "true");
  }();
  return strict;
}

// BITNET_CUDA_MIN_ELEMENTS: a decimal count, trimmed; unset or blank keeps
// the default. Anything else makes the calls that consult it fail, rather
// than silently running with a threshold the user did not ask for.
struct MinElements {
  size_t value = kDefaultCudaMinElements;
  bool valid = true;
  char text[64] = "";
};

const MinElements& CudaMinElementsFromEnvironment() {
  static const MinElements min = [] {
    MinElements m;
    const char* v = std::getenv("BITNET_CUDA_MIN_ELEMENTS");
    if (v == nullptr) return m;
    const char* begin = nullptr;
    const char* end = nullptr;
    Trim(v, &begin, &end);
    if (begin == end) return m;
    size_t value = 0;
    for (const char* p = begin; p < end; ++p) {
      const unsigned digit = static_cast<unsigned>(*p - '0');
      if (digit > 9 || value > (SIZE_MAX - digit) / 10) {
        m.valid = false;
        std::snprintf(m.text, sizeof(m.text), "%s", v);
        return m;
      }
      value = value * 10 + digit;
    }
    m.value = value;
    return m;
  }();
  return min;
}

bool IsStrict(uint32_t flags) {
  if ((flags & BITNET_FLAG_STRICT) != 0) return true;
  return (flags & BITNET_FLAG_NOT_STRICT) == 0 && StrictFromEnvironment();
}

}  // namespace

int ReadDeviceRequest(const bitnet_quant_options& options, DeviceRequest* request) {
  if (options.device < BITNET_DEVICE_AUTO || options.device > BITNET_DEVICE_CUDA) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->device is %d; expected AUTO (0), CPU (1) or CUDA (2)",
                static_cast<int>(options.device));
  }
  if (options.device_index < 0) {
    return Fail(BITNET_E_INVALID_OPTIONS, "options->device_index is %d; it must be >= 0",
                static_cast<int>(options.device_index));
  }
  const uint32_t flags = options.flags;
  if ((flags & ~(BITNET_FLAG_STRICT | BITNET_FLAG_NOT_STRICT)) != 0 ||
      ((flags & BITNET_FLAG_STRICT) != 0 && (flags & BITNET_FLAG_NOT_STRICT) != 0)) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->flags is 0x%x; known flags are STRICT (0x1) or NOT_STRICT (0x2), not both",
                flags);
  }
  if (options.device == BITNET_DEVICE_CUDA && options.cpu_target != BITNET_CPU_AUTO) {
    return Fail(BITNET_E_INVALID_OPTIONS,
                "options->cpu_target is 0x%x with device CUDA; a CPU target means the CPU "
                "(use device AUTO or CPU, or cpu_target AUTO)",
                static_cast<unsigned>(options.cpu_target));
  }
  request->device = options.device;
  request->index = options.device_index;
  request->flags = flags;
  request->cpu_target_named = options.cpu_target != BITNET_CPU_AUTO;
  return BITNET_OK;
}

int ChooseDevice(const DeviceRequest& request, size_t n, DeviceChoice* choice) {
  choice->device_index = request.index;
  choice->may_fall_back = false;
  choice->backend = BITNET_BACKEND_CPU;
  if (request.device == BITNET_DEVICE_CPU) return BITNET_OK;
  const char* why = nullptr;
  if (request.device == BITNET_DEVICE_CUDA) {
    if (!CudaDeviceUsable(request.index, &why)) {
      return Fail(BITNET_E_DEVICE_UNAVAILABLE, "CUDA device %d requested but unusable: %s",
                  request.index, why);
    }
    choice->backend = BITNET_BACKEND_CUDA;
    return BITNET_OK;
  }
  // AUTO: no CUDA call at all unless the call is one where the GPU pays.
  if (request.cpu_target_named) return BITNET_OK;
  const MinElements& min = CudaMinElementsFromEnvironment();
  if (!min.valid) {
    return Fail(BITNET_E_INVALID_ARGUMENT,
                "BITNET_CUDA_MIN_ELEMENTS is \"%s\"; expected a decimal element count", min.text);
  }
  if (n < min.value) return BITNET_OK;
  const bool strict = IsStrict(request.flags);
  if (CudaDeviceUsable(request.index, &why)) {
    choice->backend = BITNET_BACKEND_CUDA;
    choice->may_fall_back = !strict;
    return BITNET_OK;
  }
  if (strict) {
    return Fail(BITNET_E_DEVICE_UNAVAILABLE,
                "strict mode: device AUTO wanted CUDA device %d for %zu elements "
                "(BITNET_CUDA_MIN_ELEMENTS %zu) but it is unusable (%s); no fallback to the CPU",
                request.index, n, min.value, why);
  }
  Note("device AUTO ran on the CPU: CUDA device %d is unusable (%s)", request.index, why);
  choice->backend = BITNET_BACKEND_CPU_FALLBACK;
  return BITNET_OK;
}

void SetLastBackend(bitnet_backend backend) { t_last_backend = backend; }

}  // namespace bitnet

extern "C" bitnet_backend bitnet_last_backend(void) { return bitnet::t_last_backend; }
