#include "formats/formats.h"

namespace bitnet {

size_t DefaultBlockSize(Format f) {
  switch (f) {
    case Format::kI2S: return BITNET_I2S_DEFAULT_BLOCK_SIZE;
    case Format::kTL1: return BITNET_TL1_DEFAULT_BLOCK_SIZE;
    case Format::kTL2: return BITNET_TL2_DEFAULT_BLOCK_SIZE;
  }
  return 0;
}

const char* FormatName(Format f) {
  switch (f) {
    case Format::kI2S: return "I2_S";
    case Format::kTL1: return "TL1";
    case Format::kTL2: return "TL2";
  }
  return "unknown";
}

}  // namespace bitnet
