#include "formats/ternary_codes.h"

#include <cstring>

namespace bitnet {

unsigned BlockCode(const Layout& l, const uint8_t* block, size_t j) {
  const CodeMap& m = l.codes;
  if (m.kind == CodeMapKind::kTrits) {
    for (unsigned s = 0; s < m.num_segments; ++s) {
      const TritSegment& seg = m.segments[s];
      const size_t count = static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
      if (j < count) return TritDigit(block[seg.first_byte + j % seg.bytes], static_cast<unsigned>(j / seg.bytes));
      j -= count;
    }
    return 0;  // past the block: callers stay inside
  }
  const BitPosition p = TwoBitPosition(m, j);
  return (block[p.byte] >> p.shift) & 3u;
}

void PackBlockCodes(const Layout& l, const uint8_t* codes, uint8_t* block) {
  const CodeMap& m = l.codes;
  const size_t n = static_cast<size_t>(l.block_elements);
  if (m.kind == CodeMapKind::kTrits) {
    size_t first = 0;
    for (unsigned s = 0; s < m.num_segments; ++s) {
      const TritSegment& seg = m.segments[s];
      for (size_t b = 0; b < seg.bytes; ++b) {
        uint8_t digits[5] = {0, 0, 0, 0, 0};  // a 4-digit byte keeps its last digit 0
        for (unsigned d = 0; d < seg.trits_per_byte; ++d) digits[d] = codes[first + b + d * seg.bytes];
        block[seg.first_byte + b] = TritByte(digits);
      }
      first += static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
    }
    return;
  }
  std::memset(block + m.codes_offset, 0, n / 4);
  for (size_t j = 0; j < n; ++j) {
    const BitPosition p = TwoBitPosition(m, j);
    block[p.byte] = static_cast<uint8_t>(block[p.byte] | (codes[j] << p.shift));
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
  uint8_t codes[256];
  for (size_t b = 0; b < nblocks; ++b) {
    for (size_t j = 0; j < n; ++j) codes[j] = static_cast<uint8_t>(values[b * n + j] + l.code_offset);
    PackBlockCodes(l, codes, blocks + b * l.block_bytes);
  }
}

}  // namespace bitnet
