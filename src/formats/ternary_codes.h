// Reading and writing the codes of one block through its layout's CodeMap
// (kTwoBit and kTrits layouts): the one place that knows where an element's
// bits live. Codes are the stored numbers (0..3), value code - code_offset.
// The per-element and per-byte rules are shared with the CUDA kernels.
#ifndef BITNET_FORMATS_TERNARY_CODES_H_
#define BITNET_FORMATS_TERNARY_CODES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/host_device.h"
#include "formats/layouts.h"

namespace bitnet {

// Byte (from the block start) and bit shift of element j of a kTwoBit block.
struct BitPosition {
  size_t byte;
  unsigned shift;
};
// Bit shift of 2-bit field f (0..3) of a kTwoBit code byte.
BITNET_HOST_DEVICE inline unsigned TwoBitShift(const CodeMap& m, unsigned field) {
  return m.msb_first ? 6 - 2 * field : 2 * field;
}
BITNET_HOST_DEVICE inline BitPosition TwoBitPosition(const CodeMap& m, size_t j) {
  const size_t run = m.run;
  const unsigned field = static_cast<unsigned>((j / run) % 4);
  return {m.codes_offset + (j / (4 * run)) * run + j % run, TwoBitShift(m, field)};
}

// ggml's TQ1_0 digit n (0 = most significant) of a stored byte:
// ((uint8)(byte * 3^n) * 3) >> 8, which is defined for every byte value
// (3^n modulo 256 by n multiplications in uint8).
BITNET_HOST_DEVICE constexpr unsigned TritDigit(uint8_t byte, unsigned n) {
  uint8_t scaled = byte;
  for (unsigned k = 0; k < n; ++k) scaled = static_cast<uint8_t>(scaled * 3);
  return (static_cast<unsigned>(scaled) * 3u) >> 8;
}

// The stored byte of five digits (most significant first), as ggml forms
// it: q = q*3 + digit in uint8 arithmetic, then ceil(q*256/243) kept to 8
// bits. Valid digits (0..2) never wrap; other ones wrap as ggml's do.
BITNET_HOST_DEVICE inline uint8_t TritAppend(uint8_t q, uint8_t digit) {
  return static_cast<uint8_t>(q * 3 + digit);
}
BITNET_HOST_DEVICE constexpr uint8_t TritByteOf(uint8_t q) {
  return static_cast<uint8_t>((static_cast<unsigned>(q) * 256 + 242) / 243);
}

// TritByteOf by nibbles, for vector lanes (16-entry byte lookups instead of
// 16-bit multiplications): TritByteOf(q) = q + ceil(13 q / 243) (mod 256),
// and ceil(13 q / 243) rises at most once over the 16 values of a high
// nibble h (13 * 15 < 243). So TritByteOf(16 h + l) = base[h] + l - [l <
// step_at[h]] (mod 256), with base[h] = TritByteOf(16 h) + 1 and step_at[h]
// the first l at which it rises (16: none).
struct TritByteNibbles {
  uint8_t base[16];
  uint8_t step_at[16];
};

constexpr TritByteNibbles MakeTritByteNibbles() {
  TritByteNibbles t{};
  for (unsigned h = 0; h < 16; ++h) {
    const auto rise = [h](unsigned l) { return ((16 * h + l) * 256 + 242) / 243 - (16 * h + l); };
    t.base[h] = static_cast<uint8_t>(TritByteOf(static_cast<uint8_t>(16 * h)) + 1);
    unsigned l = 1;
    while (l < 16 && rise(l) == rise(0)) ++l;
    t.step_at[h] = static_cast<uint8_t>(l);
  }
  return t;
}
inline constexpr TritByteNibbles kTritByteNibbles = MakeTritByteNibbles();

constexpr bool NibblesGiveTritBytes() {
  for (unsigned q = 0; q < 256; ++q) {
    const unsigned h = q / 16, l = q % 16;
    const unsigned byte = (kTritByteNibbles.base[h] + l - (l < kTritByteNibbles.step_at[h] ? 1 : 0)) & 0xFF;
    if (byte != TritByteOf(static_cast<uint8_t>(q))) return false;
  }
  return true;
}
static_assert(NibblesGiveTritBytes(), "the nibble tables give TritByteOf for every byte");

// Code of element j of a kTwoBit or kTrits block.
BITNET_HOST_DEVICE inline unsigned MapCode(const CodeMap& m, const uint8_t* block, size_t j) {
  if (m.kind == CodeMapKind::kTrits) {
    BITNET_UNROLL
    for (unsigned s = 0; s < 3 && s < m.num_segments; ++s) {
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

// Whether byte `byte` of a block holds codes of a kTwoBit (n elements per
// block) or kTrits block, and that byte from one code per element (codes
// 0..3; trit digits of any value, which wrap as ggml's). A kTwoBit byte holds the four
// elements TwoBitPosition places in it; a kTrits byte the digits of its
// segment.
BITNET_HOST_DEVICE inline bool IsCodeByte(const CodeMap& m, size_t n, size_t byte) {
  if (m.kind == CodeMapKind::kTrits) {
    const TritSegment& last = m.segments[m.num_segments - 1];
    return byte >= m.segments[0].first_byte && byte < static_cast<size_t>(last.first_byte) + last.bytes;
  }
  return byte >= m.codes_offset && byte < m.codes_offset + n / 4;
}

BITNET_HOST_DEVICE inline uint8_t PackedCodeByte(const CodeMap& m, const uint8_t* codes, size_t byte) {
  if (m.kind == CodeMapKind::kTrits) {
    size_t first = 0;  // element of the segment's first digit
    BITNET_UNROLL
    for (unsigned s = 0; s < 3 && s < m.num_segments; ++s) {
      const TritSegment& seg = m.segments[s];
      if (byte < static_cast<size_t>(seg.first_byte) + seg.bytes) {
        const size_t b = byte - seg.first_byte;
        uint8_t q = 0;  // a 4-digit byte takes a last digit 0
        BITNET_UNROLL
        for (unsigned d = 0; d < 5; ++d) {
          q = TritAppend(q, d < seg.trits_per_byte ? codes[first + b + d * static_cast<size_t>(seg.bytes)] : 0);
        }
        return TritByteOf(q);
      }
      first += static_cast<size_t>(seg.bytes) * seg.trits_per_byte;
    }
    return 0;
  }
  const size_t c = byte - m.codes_offset;
  const size_t run = m.run;
  const size_t base = (c / run) * 4 * run + c % run;
  unsigned out = 0;
  BITNET_UNROLL
  for (unsigned f = 0; f < 4; ++f) {
    out |= static_cast<unsigned>(codes[base + f * run] & 3u) << TwoBitShift(m, f);
  }
  return static_cast<uint8_t>(out);
}

inline unsigned BlockCode(const Layout& l, const uint8_t* block, size_t j) {
  return MapCode(l.codes, block, j);
}
// Writes the code bytes of a block (not its scale) from one code per element
// (0..code_max), every byte whole.
void PackBlockCodes(const Layout& l, const uint8_t* codes, uint8_t* block);

// The values (code - code_offset) of nblocks whole blocks of a block
// layout (TQ1_0, TQ2_0, Q2_0, I2_S), and back: the code bytes of nblocks
// blocks from values (their scales are left as they are).
void UnpackBlockValues(const Layout& l, const uint8_t* blocks, size_t nblocks, int8_t* values);
void PackBlockValues(const Layout& l, const int8_t* values, size_t nblocks, uint8_t* blocks);

// True when a code of nblocks whole blocks of a kTwoBit layout is 3 (its
// code bytes only, never scales): the fields' two bits tested 32 at a time.
bool AnyTwoBitCode3(const Layout& l, const uint8_t* blocks, size_t nblocks);

// Two kTwoBit layouts with the same run keep the same four elements in each
// code byte and their code bytes in the same order, block after block: a
// transcode between them maps every code byte on its own, moving its four
// fields and re-coding each (I2_S <-> TQ2_0 reverses the fields). The work
// goes in groups of code bytes with one scale on each side: the block of
// the side with per-block scales.
inline constexpr uint8_t kRepackOutside = 1;  // a value the target cannot hold
inline constexpr uint8_t kRepackNonzero = 2;  // a non-zero value
struct ByteRepack {
  LayoutId src, dst;
  size_t group_bytes;  // code bytes per group
  // Each side's group g: its code bytes at g * stride + codes, its scale
  // (a per-block side, whose group is a block) at g * stride + scale. A
  // side's group is one block or a run of its code bytes (CanRepackBytes).
  size_t src_stride, src_codes, src_scale;
  size_t dst_stride, dst_codes, dst_scale;
  // The codes and scales a writing re-pack stores fill the target's groups
  // (no byte of them left as it was), so that they can be streamed whole.
  bool dst_dense;
  // Per nibble of a source byte (two fields): the target byte's bits of
  // those fields and their kRepack* flags. A byte maps to the OR of its
  // two nibbles' entries.
  uint8_t low[16], high[16], low_flags[16], high_flags[16];
};
bool CanRepackBytes(const Layout& src, const Layout& dst);
ByteRepack MakeByteRepack(const Layout& src, const Layout& dst);
// True when some source code maps to a value the target cannot hold.
inline bool RepackFlagsOutside(const ByteRepack& r) {
  for (size_t i = 0; i < 16; ++i) {
    if (((r.low_flags[i] | r.high_flags[i]) & kRepackOutside) != 0) return true;
  }
  return false;
}
// What a writing re-pack stores as the scale of each block of a per-block
// target: 0 for a block whose values are all 0, else the source block's
// own bits (own) or `half`.
struct RepackScale {
  bool own;
  uint16_t half;
};
// The rule above for one target block; `src_scale` is read only when `own`.
BITNET_HOST_DEVICE inline uint16_t TargetBlockScale(RepackScale scale, const uint8_t* src_scale, bool nonzero) {
  uint16_t h = scale.half;
  if (scale.own) memcpy(&h, src_scale, sizeof h);
  return nonzero ? h : uint16_t{0};
}
// The target byte of one source code byte, field by field through both
// layouts' CodeMaps, and its kRepack* flags: the rule the tables hold.
uint8_t RepackByte(const Layout& src, const Layout& dst, uint8_t byte, uint8_t* flags);

// A transcode between TQ1_0's trits and a two-bit layout whose codes sit in
// runs of 32 elements (TQ2_0, I2_S) moves codes straight from code bytes to
// code bytes, 256 elements (a TQ1_0 block) at a time, in vector registers:
// a TQ1_0 digit row of 32, 16 or 4 elements is a piece of one two-bit run.
// The sides such a transcode takes, by layout (Q2_0's run 1 scatters a
// digit row over bytes: it goes through int8 values).
inline constexpr size_t kCodeUnit = 256;  // elements per unit of the fused transcode
enum class CodeUnitSide { kNone, kTrits, kTwoBitRun32 };
// From the layout's code map: base-3 blocks of one unit, or two-bit runs of
// 32 in blocks that tile a unit. A layout this newly admits fails the
// compiled pair list's static_assert (cpu/codes_hwy.cc) until it is listed.
constexpr CodeUnitSide CodeUnitSideOf(const Layout& l) {
  if (l.codes.kind == CodeMapKind::kTrits && l.block_elements == static_cast<int64_t>(kCodeUnit)) {
    return CodeUnitSide::kTrits;
  }
  if (l.codes.kind == CodeMapKind::kTwoBit && l.codes.run == 32 && l.block_elements > 0 &&
      static_cast<int64_t>(kCodeUnit) % l.block_elements == 0) {
    return CodeUnitSide::kTwoBitRun32;
  }
  return CodeUnitSide::kNone;
}
// True when TensorKernels::transcode_codes serves src -> dst: one side
// trits, the other two-bit runs of 32, the same code offset (code for code).
constexpr bool CanTranscodeCodes(const Layout& src, const Layout& dst) {
  const CodeUnitSide s = CodeUnitSideOf(src), d = CodeUnitSideOf(dst);
  return s != CodeUnitSide::kNone && d != CodeUnitSide::kNone && s != d && src.code_offset == dst.code_offset;
}

// Where group g's code bytes start in a tensor of layout l. A group larger
// than l's block spans several blocks of codes only (CanRepackBytes).
constexpr size_t RepackGroupOffset(const Layout& l, size_t group_bytes, size_t g) {
  const size_t block_code_bytes = static_cast<size_t>(l.block_elements) / 4;
  if (block_code_bytes < group_bytes) return g * group_bytes;
  const size_t per_block = block_code_bytes / group_bytes;
  return g / per_block * l.block_bytes + l.codes.codes_offset + g % per_block * group_bytes;
}

}  // namespace bitnet

#endif  // BITNET_FORMATS_TERNARY_CODES_H_
