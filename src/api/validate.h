// Argument checks shared by every entry point. Each returns BITNET_OK or
// records a message naming the argument and returns a negative status;
// nothing is written to a caller's buffer before all checks pass.
#ifndef BITNET_API_VALIDATE_H_
#define BITNET_API_VALIDATE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>  // callers loop over {&region, ...}

#include "bitnet_quant.h"
#include "cpu/kernels.h"
#include "device/device.h"
#include "formats/formats.h"

namespace bitnet {

struct CallConfig {
  Format format;
  size_t block;
  const KernelSet* kernels;
  DeviceChoice device;
};

// format + options (NULL = defaults) -> block size and kernels.
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

}  // namespace bitnet

#endif  // BITNET_API_VALIDATE_H_
