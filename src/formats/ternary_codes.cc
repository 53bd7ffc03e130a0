#include "formats/ternary_codes.h"

#include <cstring>

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

namespace {

bool PerBlockOrTensor(const Layout& l) {
  return l.scale == ScaleKind::kBlockF16 || l.scale == ScaleKind::kTensorF32;
}

int64_t RepackGroupElements(const Layout& src, const Layout& dst) {
  if (src.scale == ScaleKind::kBlockF16) return src.block_elements;
  if (dst.scale == ScaleKind::kBlockF16) return dst.block_elements;
  return src.block_elements > dst.block_elements ? src.block_elements : dst.block_elements;
}

// A side's blocks either hold whole groups or are codes only (contiguous).
bool TilesGroups(const Layout& l, int64_t group) {
  const bool codes_only = l.block_bytes * 4 == static_cast<size_t>(l.block_elements) && l.codes.codes_offset == 0;
  return l.block_elements % group == 0 || codes_only;
}

// Field f of a source byte holding `code`: its bits in the target byte,
// and the field's kRepack* flags.
uint8_t RepackField(const Layout& src, const Layout& dst, unsigned f, unsigned code, uint8_t* flags) {
  const int value = static_cast<int>(code) - src.code_offset;
  const bool outside = value < -dst.code_offset || value > dst.code_max - dst.code_offset;
  *flags |= static_cast<uint8_t>((outside ? kRepackOutside : 0) | (value != 0 ? kRepackNonzero : 0));
  return static_cast<uint8_t>((static_cast<unsigned>(value + dst.code_offset) & 3u) << TwoBitShift(dst.codes, f));
}

}  // namespace

bool AnyTwoBitCode3(const Layout& l, const uint8_t* blocks, size_t nblocks) {
  const size_t code_bytes = static_cast<size_t>(l.block_elements) / 4;
  uint64_t both = 0;  // bit 2f of a word: field f's two bits both set
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* codes = blocks + b * l.block_bytes + l.codes.codes_offset;
    size_t i = 0;
    for (; i + 8 <= code_bytes; i += 8) {
      uint64_t w;
      memcpy(&w, codes + i, sizeof w);
      both |= w & (w >> 1);
    }
    for (; i < code_bytes; ++i) both |= codes[i] & (codes[i] >> 1);
  }
  return (both & 0x5555555555555555u) != 0;
}

bool CanRepackBytes(const Layout& src, const Layout& dst) {
  if (src.codes.kind != CodeMapKind::kTwoBit || dst.codes.kind != CodeMapKind::kTwoBit ||
      src.codes.run != dst.codes.run || !PerBlockOrTensor(src) || !PerBlockOrTensor(dst)) {
    return false;
  }
  const int64_t byte_set = 4 * static_cast<int64_t>(src.codes.run);  // elements of run bytes
  if (src.block_elements % byte_set != 0 || dst.block_elements % byte_set != 0) return false;
  if (src.scale == ScaleKind::kBlockF16 && dst.scale == ScaleKind::kBlockF16 &&
      src.block_elements != dst.block_elements) {
    return false;  // a group would need several scales of one side
  }
  const int64_t group = RepackGroupElements(src, dst);
  return TilesGroups(src, group) && TilesGroups(dst, group);
}

uint8_t RepackByte(const Layout& src, const Layout& dst, uint8_t byte, uint8_t* flags) {
  *flags = 0;
  unsigned out = 0;
  for (unsigned f = 0; f < 4; ++f) out |= RepackField(src, dst, f, (byte >> TwoBitShift(src.codes, f)) & 3u, flags);
  return static_cast<uint8_t>(out);
}

ByteRepack MakeByteRepack(const Layout& src, const Layout& dst) {
  ByteRepack r{};
  r.src = src.id;
  r.dst = dst.id;
  r.group_bytes = static_cast<size_t>(RepackGroupElements(src, dst)) / 4;
  r.src_codes = RepackGroupOffset(src, r.group_bytes, 0);
  r.src_stride = RepackGroupOffset(src, r.group_bytes, 1) - r.src_codes;
  r.src_scale = src.scale_offset;
  r.dst_codes = RepackGroupOffset(dst, r.group_bytes, 0);
  r.dst_stride = RepackGroupOffset(dst, r.group_bytes, 1) - r.dst_codes;
  r.dst_scale = dst.scale_offset;
  r.dst_dense = r.dst_stride == r.group_bytes + (dst.scale == ScaleKind::kBlockF16 ? 2 : 0);
  // A nibble's entry: the fields whose source bits lie in it.
  for (unsigned nibble = 0; nibble < 16; ++nibble) {
    for (unsigned f = 0; f < 4; ++f) {
      const unsigned shift = TwoBitShift(src.codes, f);
      const bool high = shift >= 4;
      (high ? r.high : r.low)[nibble] |=
          RepackField(src, dst, f, (nibble >> (shift % 4)) & 3u, high ? &r.high_flags[nibble] : &r.low_flags[nibble]);
    }
  }
  return r;
}

}  // namespace bitnet
