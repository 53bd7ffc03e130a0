// Argument checks shared by every entry point. Each returns BITNET_OK or
// records a message naming the argument and returns a negative status;
// nothing is written to a caller's buffer before all checks pass.
#ifndef BITNET_API_VALIDATE_H_
#define BITNET_API_VALIDATE_H_

#include <cstddef>  // offsetof
#include <cstdint>
#include <initializer_list>  // callers loop over {&region, ...}
#include <new>

#include "api/errors.h"
#include "bitnet_quant.h"
#include "cpu/kernels.h"
#include "cpu/target_list.h"
#include "device/device.h"
#include "formats/formats.h"

namespace bitnet {

// The first BITNET_QUANT_OPTIONS_SIZE_V1 bytes of bitnet_quant_options are
// the version 0.1 layout; later fields are appended after them.
constexpr size_t kOptionsSizeV1 = BITNET_QUANT_OPTIONS_SIZE_V1;
static_assert(offsetof(bitnet_quant_options, flags) + sizeof(uint32_t) == kOptionsSizeV1,
              "the version 0.1 options layout is a prefix of bitnet_quant_options");

// BITNET_OK when struct_size is that of a released options layout.
int CheckOptionsSize(size_t struct_size);

// The fields the tensor and product options begin with: struct_size
// exactly this library's (`init`: the macro and function that set it),
// no unknown flag, n_threads in [0, 1024].
struct OptionsHead {
  const char* init;  // "BITNET_GEMM_OPTIONS_INIT or bitnet_gemm_options_init"
  size_t known_size;
  uint32_t known_flags;
};
int CheckOptionsHead(const OptionsHead& head, uint32_t struct_size, uint32_t flags, int32_t n_threads);

// Checks struct_size and copies the caller's options: the bytes its
// struct_size covers, the defaults (BITNET_QUANT_OPTIONS_INIT) after them.
// NULL gives the defaults.
int ReadOptions(const bitnet_quant_options* options, bitnet_quant_options* out);

// A call's format and block size, checked with the options' struct_size
// (NULL options = defaults); *fields receives the options as ReadOptions
// reads them. All that bitnet_quant_buffer_sizes needs: no device, CPU
// target or environment is consulted.
struct FormatBlock {
  Format format = Format::kI2S;
  size_t block = 0;
};
int ResolveFormatBlock(bitnet_format format, const bitnet_quant_options* options,
                       FormatBlock* out, bitnet_quant_options* fields);

// Everything a compute call needs from its format and options (NULL =
// defaults), checked: format, block size, the device request and the CPU
// kernels (none for device CUDA, which never runs on the CPU).
struct CallConfig {
  Format format = Format::kI2S;
  size_t block = 0;
  const KernelSet* kernels = nullptr;
  DeviceRequest device;
};
// All but the kernels (*fields: the options as read); for calls that never
// run on the CPU.
int ResolveOptions(bitnet_format format, const bitnet_quant_options* options, CallConfig* config,
                   bitnet_quant_options* fields);
int ResolveCall(bitnet_format format, const bitnet_quant_options* options, CallConfig* config);

// A memory region a call reads or writes.
struct Region {
  const char* name;
  const void* ptr;
  size_t bytes;
};

int CheckNotNull(const Region& r);
int CheckFloatAligned(const Region& r);
// Fails when `out` shares a byte with `other`.
int CheckNoOverlap(const Region& out, const Region& other);
// n elements of `elem_size` bytes fit in the address space.
int CheckCount(const char* name, size_t n, size_t elem_size);

// All checks of a quantize call whose outputs need PackedSize(n) bytes and
// NumBlocks(n, block) scales; packed_len/scales_len are capacities.
int CheckQuantizeBuffers(const float* input, size_t n, size_t block, const uint8_t* packed,
                         size_t packed_len, const float* scales, size_t scales_len);

// All checks of a dequantize call of n elements in blocks of `block`:
// packed_len and scales_len must be exactly PackedSize(n) / NumBlocks(n, block).
int CheckDequantizeBuffers(const uint8_t* packed, size_t packed_len, const float* scales,
                           size_t scales_len, const float* output, size_t n, size_t block);

// Runs a CPU operation whose checks have passed (the tensor and product
// entry points). Allocation failures become a status (they happen before
// the operation writes). A success reports the CPU backend and the target
// whose kernels ran last (kNoCpuKernel when none ran: an empty tensor or
// product, a plain copy); a failure leaves both reports as they were.
template <class Op>
int RunOnCpu(const Op& op) {
  const uint32_t before = LastCpuTarget();
  ReportCpuTarget(kNoCpuKernel);
  int status;
  try {
    status = op();
  } catch (const std::bad_alloc&) {
    status = Fail(BITNET_E_OUT_OF_MEMORY, "out of memory");
  }
  if (status == BITNET_OK) {
    SetLastBackend(BITNET_BACKEND_CPU);
  } else {
    ReportCpuTarget(before);
  }
  return status;
}

}  // namespace bitnet

#endif  // BITNET_API_VALIDATE_H_
