#include "formats/formats.h"

namespace bitnet {

size_t DefaultBlockSize(Format f) {
  switch (f) {
    case Format::kI2S: return 32;
    case Format::kTL1: return 64;
    case Format::kTL2: return 128;
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
