#include "formats/ternary_codes.h"

namespace bitnet {

void PackBlockCodes(const Layout& l, const uint8_t* codes, uint8_t* block) {
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t byte = 0; byte < l.block_bytes; ++byte) {
    if (IsCodeByte(l.codes, n, byte)) block[byte] = PackedCodeByte(l.codes, codes, byte);
  }
}

void UnpackBlockValues(const Layout& l, const uint8_t* blocks, size_t nblocks, int8_t* values) {
  const size_t n = static_cast<size_t>(l.block_elements);
  for (size_t b = 0; b < nblocks; ++b) {
    for (size_t j = 0; j < n; ++j) {
      values[b * n + j] = static_cast<int8_t>(static_cast<int>(BlockCode(l, blocks + b * l.block_bytes, j)) - l.code_offset);
    }
  }
}

void PackBlockValues(const Layout& l, const int8_t* values, size_t nblocks, uint8_t* blocks) {
  const size_t n = static_cast<size_t>(l.block_elements);
  uint8_t codes[256] = {};  // every block element is set below; the rest is never read
  for (size_t b = 0; b < nblocks; ++b) {
    for (size_t j = 0; j < n; ++j) codes[j] = static_cast<uint8_t>(values[b * n + j] + l.code_offset);
    PackBlockCodes(l, codes, blocks + b * l.block_bytes);
  }
}

}  // namespace bitnet
