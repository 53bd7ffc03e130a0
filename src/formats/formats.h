// Format descriptors and the byte layout shared by every format.
//
// Layout (all formats): element i of the tensor is a 2-bit code stored in
// byte i/4 at bits 2*(i%4), least significant first; the unused high bits
// of the last byte are 0. Block b covers elements [b*B, (b+1)*B) and owns
// scale b. Block sizes are multiples of 4, so every block starts on a byte.
#ifndef BITNET_FORMATS_FORMATS_H_
#define BITNET_FORMATS_FORMATS_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "formats/host_device.h"

namespace bitnet {

enum class Format : int32_t { kI2S = 0, kTL1 = 1, kTL2 = 2 };

constexpr size_t kMinBlockSize = BITNET_MIN_BLOCK_SIZE;
constexpr size_t kMaxBlockSize = BITNET_MAX_BLOCK_SIZE;

inline bool IsValidFormat(int32_t f) { return f >= 0 && f <= 2; }
inline bool IsValidBlockSize(size_t b) {
  return b >= kMinBlockSize && b <= kMaxBlockSize && b % 4 == 0;
}

// BITNET_*_DEFAULT_BLOCK_SIZE: the block sizes of the fixed-format entry
// points, and also the fixed block sizes of BitNet-rs's bitnet-kernels
// quantizers.
size_t DefaultBlockSize(Format f);
const char* FormatName(Format f);

BITNET_HOST_DEVICE inline size_t PackedSize(size_t n) { return n / 4 + (n % 4 != 0); }
BITNET_HOST_DEVICE inline size_t NumBlocks(size_t n, size_t block) {
  return n / block + (n % block != 0);
}

inline unsigned GetCode(const uint8_t* packed, size_t i) {
  return (packed[i / 4] >> (2 * (i % 4))) & 3u;
}

}  // namespace bitnet

#endif  // BITNET_FORMATS_FORMATS_H_
