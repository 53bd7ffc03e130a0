// Highway kernels of the ternary block layouts' code bytes
// (formats/ternary_codes.h): the values code - code_offset of whole blocks
// of TQ1_0, TQ2_0, Q2_0 or I2_S, and the code bytes of values, which the
// transcodes between those layouts re-pack. Each step is the reference's
// integer step in vector lanes, uint8 wrapping included, so that any values
// give the reference's bytes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/codes_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <utility>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "cpu/trits-inl.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

using D8 = hn::CappedTag<uint8_t, 32>;  // one run of 32 code bytes (or less)
using DI8 = hn::RebindToSigned<D8>;

HWY_INLINE int FieldShift(bool msb_first, size_t f) {
  return static_cast<int>(msb_first ? 6 - 2 * f : 2 * f);
}

// Unpack and Pack move one block's codes between its bytes (`codes`) and
// int8 values code - offset, one function per CodeMap kind, with the same
// parameters in the same order, for the one block walker below.
struct Unpack {
  using Codes = const uint8_t*;
  using Values = int8_t*;

  // kTwoBit with run a multiple of the lanes: byte b of a group of 4 * run
  // elements holds element f * run + b in field f.
  static void Runs(Codes HWY_RESTRICT in, size_t run, bool msb_first, int32_t offset, Values HWY_RESTRICT v) {
    const D8 d8;
    const DI8 di8;
    for (size_t b = 0; b < run; b += hn::Lanes(d8)) {
      const auto bytes = hn::LoadU(d8, in + b);
      for (size_t f = 0; f < 4; ++f) {
        const auto code = hn::And(hn::ShiftRightSame(bytes, FieldShift(msb_first, f)), hn::Set(d8, uint8_t{3}));
        hn::StoreU(hn::Sub(hn::BitCast(di8, code), hn::Set(di8, static_cast<int8_t>(offset))), di8,
                   v + f * run + b);
      }
    }
  }

  // run 1 (Q2_0): element 4m + r in field r of byte m; 16 elements from a
  // 32-bit word of codes at a time (int32 lanes).
  static void Consecutive(Codes HWY_RESTRICT in, size_t n, int32_t offset, Values HWY_RESTRICT v) {
    const DI di;
    const hn::Rebind<int8_t, DI> d8;
    const size_t N = hn::Lanes(di);
    for (size_t i = 0; i < n; i += N) {
      hn::StoreU(NarrowTo<int8_t>(hn::Sub(BitsToCodes(LoadBits(in, i, N)), hn::Set(di, offset))), d8, v + i);
    }
  }

  // TQ1_0's trits on uint8 lanes (cpu/trits-inl.h), uint8 wrapping as in
  // the reference: byte b of a segment holds the digits of elements
  // t * bytes + b.
  template <size_t kTrits, class D>
  static void Trits(D d, Codes HWY_RESTRICT in, const TritSegment& seg, int32_t offset, Values HWY_RESTRICT v) {
    const hn::RebindToSigned<D> di8;
    const auto minus_offset = hn::Set(di8, static_cast<int8_t>(-offset));
    for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
      auto t = hn::LoadU(d, in + b);
      HWY_UNROLL(5)
      for (size_t f = 0; f < kTrits; ++f, t = TritTimes3(t)) {
        hn::StoreU(hn::Add(hn::BitCast(di8, TritDigit(t)), minus_offset), di8, v + f * seg.bytes + b);
      }
    }
  }
};

struct Pack {
  using Codes = uint8_t*;
  using Values = const int8_t*;

  // byte = OR of (uint8)(code << shift) over the fields, code = (uint8)(v + offset).
  static void Runs(Codes HWY_RESTRICT out, size_t run, bool msb_first, int32_t offset, Values HWY_RESTRICT v) {
    const D8 d8;
    const DI8 di8;
    for (size_t b = 0; b < run; b += hn::Lanes(d8)) {
      auto byte = hn::Zero(d8);
      for (size_t f = 0; f < 4; ++f) {
        const auto code = hn::BitCast(d8, hn::Add(hn::LoadU(di8, v + f * run + b),
                                                  hn::Set(di8, static_cast<int8_t>(offset))));
        byte = hn::Or(byte, hn::ShiftLeftSame(code, FieldShift(msb_first, f)));
      }
      hn::StoreU(byte, d8, out + b);
    }
  }

  // Byte m: the four codes (uint8)(v + offset) at 4m..4m+3, each shifted to
  // its field and truncated to 8 bits, OR-ed: in uint32 lanes of four bytes.
  static void Consecutive(Codes HWY_RESTRICT out, size_t n, int32_t offset, Values HWY_RESTRICT v) {
    size_t vector_end = 0;
#if HWY_TARGET != HWY_SCALAR  // one lane: no uint32 lane of four values
    const DU du;
    const hn::Repartition<int8_t, DU> di8;
    const hn::Rebind<uint8_t, DU> dout;
    const size_t N = hn::Lanes(du);
    vector_end = n / (4 * N) * (4 * N);
    for (size_t i = 0; i < vector_end; i += 4 * N) {
      const VU w = hn::BitCast(du, hn::Add(hn::LoadU(di8, v + i), hn::Set(di8, static_cast<int8_t>(offset))));
      VU byte = hn::And(w, hn::Set(du, 0xFFu));
      byte = hn::Or(byte, hn::ShiftLeft<2>(hn::And(hn::ShiftRight<8>(w), hn::Set(du, 0xFFu))));
      byte = hn::Or(byte, hn::ShiftLeft<4>(hn::And(hn::ShiftRight<16>(w), hn::Set(du, 0xFFu))));
      byte = hn::Or(byte, hn::ShiftLeft<6>(hn::ShiftRight<24>(w)));
      hn::StoreU(hn::DemoteTo(dout, hn::BitCast(DI(), hn::And(byte, hn::Set(du, 0xFFu)))), dout, out + i / 4);
    }
#endif
    for (size_t i = vector_end; i < n; i += 4) {
      unsigned byte = 0;
      for (size_t r = 0; r < 4; ++r) {
        byte |= static_cast<uint8_t>(static_cast<uint8_t>(v[i + r] + offset) << (2 * r));
      }
      out[i / 4] = static_cast<uint8_t>(byte);
    }
  }

  // q = sum of d_t * 3^(4 - t) (missing digits are zeros), d_t = (uint8)(v + offset).
  template <size_t kTrits, class D>
  static void Trits(D d, Codes HWY_RESTRICT out, const TritSegment& seg, int32_t offset, Values HWY_RESTRICT v) {
    const hn::RebindToSigned<D> di8;
    const auto plus_offset = hn::Set(di8, static_cast<int8_t>(offset));
    for (size_t b = 0; b < seg.bytes; b += hn::Lanes(d)) {
      auto q = hn::Zero(d);
      HWY_UNROLL(5)
      for (size_t f = 0; f < 5; ++f) {
        q = TritTimes3(q);
        if (f < kTrits) {
          q = hn::Add(q, hn::BitCast(d, hn::Add(hn::LoadU(di8, v + f * seg.bytes + b), plus_offset)));
        }
      }
      hn::StoreU(TritByte(q), d, out + b);
    }
  }
};

// Runs Step (Unpack or Pack) over whole blocks of kId, its layout a
// compile-time constant.
template <class Step, LayoutId kId>
void WalkLayoutBlocks(typename Step::Codes blocks, size_t nblocks, typename Step::Values values) {
  constexpr const Layout& l = LayoutOf(kId);
  constexpr CodeMap m = l.codes;
  constexpr size_t n = static_cast<size_t>(l.block_elements);
  for (size_t blk = 0; blk < nblocks; ++blk, blocks += l.block_bytes, values += n) {
    if constexpr (m.kind == CodeMapKind::kTrits) {
      ForEachTritSegment<kId>(D8(), [&](auto d, auto digits, const TritSegment& seg, size_t first) {
        Step::template Trits<digits()>(d, blocks + seg.first_byte, seg, l.code_offset, values + first);
      });
    } else if constexpr (m.run == 1) {
      Step::Consecutive(blocks + m.codes_offset, n, l.code_offset, values);
    } else {
      for (size_t g = 0; g < n; g += size_t{4} * m.run) {
        Step::Runs(blocks + m.codes_offset + g / 4, m.run, m.msb_first, l.code_offset, values + g);
      }
    }
  }
}

// The layouts with code values: TQ1_0, TQ2_0, Q2_0 and I2_S (the tensor
// operations ask for no other).
template <class Step>
void WalkBlocks(LayoutId id, typename Step::Codes blocks, size_t nblocks, typename Step::Values values) {
  ReportThisTarget();
  switch (id) {
    case LayoutId::kTQ1_0: return WalkLayoutBlocks<Step, LayoutId::kTQ1_0>(blocks, nblocks, values);
    case LayoutId::kTQ2_0: return WalkLayoutBlocks<Step, LayoutId::kTQ2_0>(blocks, nblocks, values);
    case LayoutId::kQ2_0: return WalkLayoutBlocks<Step, LayoutId::kQ2_0>(blocks, nblocks, values);
    case LayoutId::kI2_S: return WalkLayoutBlocks<Step, LayoutId::kI2_S>(blocks, nblocks, values);
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kIQ2_S:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;
  }
}

void UnpackValues(LayoutId id, const uint8_t* HWY_RESTRICT blocks, size_t nblocks, int8_t* HWY_RESTRICT values) {
  WalkBlocks<Unpack>(id, blocks, nblocks, values);
}

void PackValues(LayoutId id, const int8_t* HWY_RESTRICT values, size_t nblocks, uint8_t* HWY_RESTRICT blocks) {
  WalkBlocks<Pack>(id, blocks, nblocks, values);
}

void ValueFlags(const int8_t* HWY_RESTRICT values, size_t pieces, size_t piece, int min_value, int max_value,
                uint8_t* HWY_RESTRICT flags) {
  ReportThisTarget();
  const hn::CappedTag<int8_t, 64> d;
  const size_t N = hn::Lanes(d);
  const auto low = hn::Set(d, static_cast<int8_t>(min_value)), high = hn::Set(d, static_cast<int8_t>(max_value));
  for (size_t p = 0; p < pieces; ++p) {
    const int8_t* HWY_RESTRICT v = values + p * piece;
    auto outside = hn::Zero(d), any = hn::Zero(d);
    size_t i = 0;
    for (; i + N <= piece; i += N) {
      const auto x = hn::LoadU(d, v + i);
      outside = hn::Or(outside, hn::VecFromMask(d, hn::Or(hn::Lt(x, low), hn::Gt(x, high))));
      any = hn::Or(any, x);
    }
    unsigned f = (hn::AllTrue(d, hn::Eq(outside, hn::Zero(d))) ? 0u : kRepackOutside) |
                 (hn::AllTrue(d, hn::Eq(any, hn::Zero(d))) ? 0u : kRepackNonzero);
    for (; i < piece; ++i) {  // pieces narrower than the lanes
      f |= (v[i] < min_value || v[i] > max_value ? kRepackOutside : 0u) | (v[i] != 0 ? kRepackNonzero : 0u);
    }
    flags[p] = static_cast<uint8_t>(f);
  }
}

// formats/ternary_codes.h's AnyTwoBitCode3: a field's two bits both set,
// found in the OR of each code byte's AND with itself shifted one bit.
bool AnyCode3(LayoutId id, const uint8_t* HWY_RESTRICT blocks, size_t nblocks) {
  ReportThisTarget();
  const Layout& l = GetLayout(id);
  size_t code_bytes = static_cast<size_t>(l.block_elements) / 4;
  if (l.block_bytes == code_bytes && l.codes.codes_offset == 0) {  // I2_S: one run of code bytes
    code_bytes *= nblocks;
    nblocks = 1;
  }
  const size_t block_bytes = l.block_bytes;
  const hn::CappedTag<uint8_t, 64> d;
  const hn::CappedTag<uint8_t, 16> d16;  // Q2_0's 16 code bytes a block, and what whole vectors leave
  const size_t N = hn::Lanes(d), N16 = hn::Lanes(d16);
  auto both = hn::Zero(d);
  auto both16 = hn::Zero(d16);
  unsigned both_bytes = 0;
  const uint8_t* HWY_RESTRICT codes = blocks + l.codes.codes_offset;
  for (size_t b = 0; b < nblocks; ++b, codes += block_bytes) {
    size_t i = 0;
    for (; i + N <= code_bytes; i += N) {
      const auto v = hn::LoadU(d, codes + i);
      both = hn::Or(both, hn::And(v, hn::ShiftRight<1>(v)));
    }
    for (; i + N16 <= code_bytes; i += N16) {
      const auto v = hn::LoadU(d16, codes + i);
      both16 = hn::Or(both16, hn::And(v, hn::ShiftRight<1>(v)));
    }
    for (; i < code_bytes; ++i) both_bytes |= codes[i] & (codes[i] >> 1);
  }
  // Bit 2f of a byte: field f is 3 (TestBit wants a single bit).
  const auto none = hn::Zero(d);
  const auto none16 = hn::Zero(d16);
  return (both_bytes & 0x55u) != 0 || !hn::AllTrue(d, hn::Eq(hn::And(both, hn::Set(d, uint8_t{0x55})), none)) ||
         !hn::AllTrue(d16, hn::Eq(hn::And(both16, hn::Set(d16, uint8_t{0x55})), none16));
}

// The fused transcode (formats/ternary_codes.h): a unit's codes go from
// source code bytes to target code bytes in vector lanes. A chunk is the
// codes of elements e .. e + cap - 1 of the unit, which lie in one two-bit
// run or one TQ1_0 digit row, so that one load (and a shift, or digit
// steps) gives them. Each pair's layouts are compile-time constants: the
// walk over a unit unrolls to fixed chunks, cap lanes each (several
// vectors where a target has fewer lanes). Targets whose vector size is a
// compile-time constant fill whole vectors instead (TwoBitVectors,
// TritVectors), with plans computed from the layouts when compiling;
// chunks serve SVE and SCALAR.

// Element j of a kTrits block: its segment, its byte in the segment's row,
// its digit.
struct TritRef {
  size_t segment, byte, digit;
};
constexpr TritRef TritRefOf(const CodeMap& m, size_t j) {
  size_t s = 0;
  for (; s + 1 < m.num_segments; ++s) {
    const size_t count = size_t{m.segments[s].bytes} * m.segments[s].trits_per_byte;
    if (j < count) break;
    j -= count;
  }
  return {s, j % m.segments[s].bytes, j / m.segments[s].bytes};
}

// Where element j of a kTrits block lies: its byte, its digit, its
// segment's bytes per digit row, and the elements from j on that one chunk
// may hold: the rest of its row, or from a row's start the rest of a
// segment of 4 or 16 bytes (its bytes repeated across the lanes).
struct TritPlace {
  size_t byte;
  size_t digit;
  size_t row_bytes;
  size_t room;
};
constexpr bool RepeatableRow(size_t bytes) { return bytes == 4 || bytes == 16; }
constexpr TritPlace TritPlaceOf(const CodeMap& m, size_t j) {
  const TritRef r = TritRefOf(m, j);
  const TritSegment& seg = m.segments[r.segment];
  const size_t count = size_t{seg.bytes} * seg.trits_per_byte, in_segment = r.digit * seg.bytes + r.byte;
  const bool whole_rows = r.byte == 0 && RepeatableRow(seg.bytes);
  return {seg.first_byte + r.byte, r.digit, seg.bytes, whole_rows ? count - in_segment : seg.bytes - r.byte};
}

// The `row_bytes` bytes at p repeated across the lanes of d (more lanes
// than row_bytes, a multiple of them: 4 or 16 bytes).
template <class D>
HWY_INLINE hn::Vec<D> LoadRepeatedRow(D d, const uint8_t* HWY_RESTRICT p, size_t row_bytes) {
  if (row_bytes == 4) {
    uint32_t word;
    memcpy(&word, p, sizeof word);
    return hn::BitCast(d, hn::Set(hn::Repartition<uint32_t, D>(), word));
  }
  return hn::LoadDup128(d, p);
}

// The code byte (from the block start) and shift of element j of a kTwoBit
// block (formats/ternary_codes.h's TwoBitPosition, as constants).
constexpr size_t TwoBitByte(const CodeMap& m, size_t j) {
  return m.codes_offset + j / (size_t{4} * m.run) * m.run + j % m.run;
}
constexpr int TwoBitFieldShift(const CodeMap& m, size_t j) {
  return static_cast<int>(m.msb_first ? 6 - 2 * (j / m.run % 4) : 2 * (j / m.run % 4));
}

// The elements from e on that one chunk of layout l may hold.
constexpr size_t ChunkRoom(const Layout& l, size_t e) {
  const size_t j = e % static_cast<size_t>(l.block_elements);
  if (l.codes.kind == CodeMapKind::kTrits) return TritPlaceOf(l.codes, j).room;
  return l.codes.run - j % l.codes.run;
}

// The widest chunk (32, 16, 4 or 1 elements) that `room` holds.
constexpr size_t ChunkCap(size_t room) { return room >= 32 ? 32 : room >= 16 ? 16 : room >= 4 ? 4 : 1; }

// The chunk at byte b of trit segment s (map m) from the codes of src: as
// wide as every digit row's elements allow in src.
HWY_MAYBE_UNUSED constexpr size_t TritChunkCap(const Layout& src, const CodeMap& m, size_t s, size_t b) {
  const TritSegment& seg = m.segments[s];
  size_t room = seg.bytes - b;
  for (size_t t = 0; t < seg.trits_per_byte; ++t) {
    const size_t r = ChunkRoom(src, SegmentFirst(m, s) + t * seg.bytes + b);
    room = r < room ? r : room;
  }
  return ChunkCap(room);
}

// The chunk of two-bit code bytes whose field 0 holds element e, `room`
// bytes left in its run, from the codes of src.
HWY_MAYBE_UNUSED constexpr size_t TwoBitChunkCap(const Layout& src, size_t e, size_t room, size_t run) {
  for (size_t f = 0; f < 4; ++f) {
    const size_t r = ChunkRoom(src, e + f * run);
    room = r < room ? r : room;
  }
  return ChunkCap(room);
}

// The digit steps t (cpu/trits-inl.h: the digit is TritDigit(t)) of
// elements kE + i .. of a unit of the kTrits layout kId (`unit` its first
// block), inside the chunk at kE.
template <LayoutId kId, size_t kE, class D>
HWY_INLINE hn::Vec<D> ChunkTritSteps(D d, const uint8_t* HWY_RESTRICT unit, size_t i) {
  constexpr const Layout& l = LayoutOf(kId);
  constexpr size_t kBlock = static_cast<size_t>(l.block_elements);
  constexpr TritPlace kPlace = TritPlaceOf(l.codes, kE % kBlock);
  const uint8_t* HWY_RESTRICT bytes = unit + kE / kBlock * l.block_bytes;
  const size_t row = kPlace.digit + i / kPlace.row_bytes;  // lane 0's digit
  const size_t lanes = hn::Lanes(d);
  if (lanes <= kPlace.row_bytes) {  // one row
    auto t = hn::LoadU(d, bytes + kPlace.byte + i % kPlace.row_bytes);
    for (size_t n = 0; n < row; ++n) t = TritTimes3(t);
    return t;
  }
  // Whole rows, one per row_bytes lanes: lanes from k * row_bytes on take
  // digit row + k.
  auto t = LoadRepeatedRow(d, bytes + kPlace.byte, kPlace.row_bytes);
  for (size_t n = 0; n < row; ++n) t = TritTimes3(t);
  auto steps = t;
  for (size_t k = 1; k * kPlace.row_bytes < lanes; ++k) {
    t = TritTimes3(t);
    steps = hn::IfThenElse(hn::FirstN(d, k * kPlace.row_bytes), steps, t);
  }
  return steps;
}

// The codes of elements kE + i .. of a unit of layout kId, inside the chunk
// at kE: ggml's digits for kTrits, the fields for kTwoBit.
template <LayoutId kId, size_t kE, class D>
HWY_INLINE hn::Vec<D> ChunkCodes(D d, const uint8_t* HWY_RESTRICT unit, size_t i) {
  constexpr const Layout& l = LayoutOf(kId);
  constexpr size_t kBlock = static_cast<size_t>(l.block_elements);
  if constexpr (l.codes.kind == CodeMapKind::kTrits) {
    return TritDigit(ChunkTritSteps<kId, kE>(d, unit, i));
  } else {
    const uint8_t* HWY_RESTRICT bytes = unit + kE / kBlock * l.block_bytes + i;
    constexpr size_t kByte = TwoBitByte(l.codes, kE % kBlock);
    return hn::And(hn::ShiftRight<TwoBitFieldShift(l.codes, kE % kBlock)>(hn::LoadU(d, bytes + kByte)),
                   hn::Set(d, uint8_t{3}));
  }
}

// acc with the digits of the steps t (TritDigit) shifted left by kShift
// added (acc's bits there are 0): [t > 85] + [t > 170] as two masked adds.
template <int kShift, class V>
HWY_INLINE V AddShiftedDigits(V t, V acc) {
  const hn::DFromV<V> d;
  const auto step = hn::Set(d, static_cast<uint8_t>(1u << kShift));
  acc = hn::IfThenElse(hn::Gt(t, hn::Set(d, uint8_t{85})), hn::Add(acc, step), acc);
  return hn::IfThenElse(hn::Gt(t, hn::Set(d, uint8_t{170})), hn::Add(acc, step), acc);
}

// Segment kSeg of kDst's trits from kSrc's codes, bytes kB on: byte b is
// q = sum of digit_t * 3^(4 - t) (a 4-digit byte gets a last digit 0),
// digit t the code of element first + t * bytes + b. On SVE and SCALAR;
// the other targets take TritVectors.
template <LayoutId kSrc, LayoutId kDst, size_t kSeg, size_t kB>
HWY_INLINE void TritChunks(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out) {
  constexpr CodeMap kMap = LayoutOf(kDst).codes;
  static_assert(LayoutOf(kDst).block_elements == kCodeUnit, "a unit is one block of trits");
  if constexpr (kSeg < kMap.num_segments) {
    constexpr TritSegment kSegment = kMap.segments[kSeg];
    if constexpr (kB == kSegment.bytes) {
      TritChunks<kSrc, kDst, kSeg + 1, 0>(in, out);
    } else {
      constexpr size_t kFirst = SegmentFirst(kMap, kSeg);
      constexpr size_t kCap = TritChunkCap(LayoutOf(kSrc), kMap, kSeg, kB);
      const hn::CappedTag<uint8_t, kCap> d;
      for (size_t i = 0; i < kCap; i += hn::Lanes(d)) {
        auto q = hn::Zero(d);
        ForIndex<5>([&](auto t) {
          q = TritTimes3(q);
          if constexpr (decltype(t)::value < kSegment.trits_per_byte) {
            q = hn::Add(q, ChunkCodes<kSrc, kFirst + decltype(t)::value * kSegment.bytes + kB>(d, in, i));
          }
        });
        hn::StoreU(TritByte(q), d, out + kSegment.first_byte + kB + i);
      }
      TritChunks<kSrc, kDst, kSeg, kB + kCap>(in, out);
    }
  }
}

// Element of field f of the unit's code byte k in the two-bit layout dst.
constexpr size_t UnitCodeElement(const Layout& dst, size_t k, size_t f) {
  const size_t block_codes = static_cast<size_t>(dst.block_elements) / 4, run = dst.codes.run;
  const size_t in_block = k % block_codes;
  return k / block_codes * static_cast<size_t>(dst.block_elements) + in_block / run * 4 * run + f * run +
         in_block % run;
}

// kDst's two-bit code bytes of the unit from TQ1_0's digits, the unit's
// code byte kC on: the OR of the four fields' codes, each shifted to its
// place. Returns false when a byte is not the offset in all four fields (a
// code other than the offset), tested in registers: a read back of the
// bytes would wait on the narrower stores. The targets whose vectors have
// a size known when compiling (all but SVE and SCALAR) take TwoBitVectors,
// AVX3_DL TwoBitLutVectors.
template <LayoutId kSrc, LayoutId kDst, size_t kC>
HWY_INLINE bool TwoBitChunks(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out) {
  constexpr const Layout& dst = LayoutOf(kDst);
  constexpr size_t kBlockCodes = static_cast<size_t>(dst.block_elements) / 4, kRun = dst.codes.run;
  if constexpr (kC < kCodeUnit / 4) {
    constexpr size_t kInBlock = kC % kBlockCodes;  // the chunk's first code byte in its block
    constexpr size_t kE = UnitCodeElement(dst, kC, 0);
    constexpr size_t kCap = TwoBitChunkCap(LayoutOf(kSrc), kE, kRun - kInBlock % kRun, kRun);
    const hn::CappedTag<uint8_t, kCap> d;
    uint8_t* HWY_RESTRICT bytes = out + kC / kBlockCodes * dst.block_bytes + dst.codes.codes_offset + kInBlock;
    const auto all_offset = hn::Set(d, static_cast<uint8_t>(dst.code_offset * 0x55));
    bool offsets = true;
    for (size_t i = 0; i < kCap; i += hn::Lanes(d)) {
      auto byte = hn::Zero(d);
      ForIndex<4>([&](auto f) {
        constexpr size_t kField = decltype(f)::value;
        constexpr int kShift = TwoBitFieldShift(LayoutOf(kDst).codes, kField * kRun);
        byte = AddShiftedDigits<kShift>(ChunkTritSteps<kSrc, kE + kField * kRun>(d, in, i), byte);
      });
      hn::StoreU(byte, d, bytes + i);
      offsets = hn::AllTrue(d, hn::Eq(byte, all_offset)) && offsets;
    }
    const bool rest_offsets = TwoBitChunks<kSrc, kDst, kC + kCap>(in, out);  // writes the rest
    return rest_offsets && offsets;
  }
  return true;
}

#if HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE
// The same bytes as TwoBitChunks, a whole vector at a time: vector v holds
// the unit's code bytes v * N .. v * N + N - 1 (N lanes, a compile-time
// constant here), and each field's lanes take their digit steps from the
// rows of one to three TQ1_0 segments, one row vector per segment whose
// lane L is byte (v * N + L) mod row bytes of the segment, blended where
// the digit or segment changes. Chunks of one row each (TwoBitChunks) left
// AVX-512's lanes half empty and stepped every row anew: TQ1_0 -> TQ2_0 ran
// at 30 % of the bandwidth bound.

// Where the unit's code byte k lies in dst's blocks: a group of one byte.
constexpr size_t UnitCodeByte(const Layout& dst, size_t k) { return RepackGroupOffset(dst, 1, k); }

// Runs of lanes of vector c (its first code byte) whose field f takes the
// same segment and digit: at most kMaxLaneRuns.
constexpr size_t kMaxLaneRuns = 8;
struct LaneRuns {
  size_t count;
  size_t first[kMaxLaneRuns + 1];  // first[count]: the lanes
  size_t segment[kMaxLaneRuns], digit[kMaxLaneRuns];
};
constexpr LaneRuns FieldLaneRuns(const Layout& src, const Layout& dst, size_t c, size_t f, size_t lanes) {
  LaneRuns r{};
  for (size_t lane = 0; lane < lanes; ++lane) {
    const TritRef t = TritRefOf(src.codes, UnitCodeElement(dst, c + lane, f));
    if (r.count > 0 && t.segment == r.segment[r.count - 1] && t.digit == r.digit[r.count - 1]) continue;
    if (r.count == kMaxLaneRuns) return LaneRuns{};  // too many: no plan
    r.first[r.count] = lane;
    r.segment[r.count] = t.segment;
    r.digit[r.count] = t.digit;
    ++r.count;
  }
  r.first[r.count] = lanes;
  return r;
}

// True when every lane's trit sits where its segment's row vector puts it
// (byte (c + lane) mod row bytes), the runs fit kMaxLaneRuns, and each
// vector's code bytes are consecutive in dst: the plan holds for the pair.
constexpr bool WholeVectorsFit(const Layout& src, const Layout& dst, size_t lanes) {
  if (src.block_elements != static_cast<int64_t>(kCodeUnit) || kCodeUnit / 4 % lanes != 0) return false;
  for (size_t c = 0; c < kCodeUnit / 4; c += lanes) {
    if (UnitCodeByte(dst, c + lanes - 1) - UnitCodeByte(dst, c) != lanes - 1) return false;
    for (size_t f = 0; f < 4; ++f) {
      if (FieldLaneRuns(src, dst, c, f, lanes).count == 0) return false;
      for (size_t lane = 0; lane < lanes; ++lane) {
        const TritRef t = TritRefOf(src.codes, UnitCodeElement(dst, c + lane, f));
        const size_t row = src.codes.segments[t.segment].bytes;
        if (t.byte != (c + lane) % row || (row < lanes && lanes % row != 0)) return false;
      }
    }
  }
  return true;
}

// Segment kSeg's row vector for vector kC: lane L is byte (kC + L) mod row
// bytes (a load inside one row, or the row repeated).
template <LayoutId kId, size_t kSeg, size_t kC, class D>
HWY_INLINE hn::Vec<D> SegmentRow(D d, const uint8_t* HWY_RESTRICT block) {
  constexpr TritSegment kSegment = LayoutOf(kId).codes.segments[kSeg];
  constexpr size_t kRow = kSegment.bytes, kN = hn::MaxLanes(D());
  const uint8_t* HWY_RESTRICT row = block + kSegment.first_byte;
  if constexpr (kRow >= kN) {
    return hn::LoadU(d, row + kC % kRow);
  } else if constexpr (kRow == 4 || kRow == 16) {
    return LoadRepeatedRow(d, row, kRow);
  } else {
    static_assert(kRow * 2 == kN, "a row of half the lanes");
    const hn::Half<D> half;
    const auto bytes = hn::LoadU(half, row);
    return hn::Combine(d, bytes, bytes);
  }
}

// The digit steps of field kF of vector kC: each run of lanes its
// segment's row stepped to its digit.
template <LayoutId kSrc, LayoutId kDst, size_t kC, size_t kF, class D>
HWY_INLINE hn::Vec<D> FieldSteps(D d, const uint8_t* HWY_RESTRICT block) {
  constexpr LaneRuns kRuns = FieldLaneRuns(LayoutOf(kSrc), LayoutOf(kDst), kC, kF, hn::MaxLanes(D()));
  const auto run_steps = [&](auto r) {
    auto t = SegmentRow<kSrc, kRuns.segment[decltype(r)::value], kC>(d, block);
    for (size_t n = 0; n < kRuns.digit[decltype(r)::value]; ++n) t = TritTimes3(t);
    return t;
  };
  auto steps = run_steps(std::integral_constant<size_t, 0>());
  ForIndex<kRuns.count - 1>([&](auto r) {
    constexpr size_t kRun = decltype(r)::value + 1;
    const auto lanes = hn::AndNot(hn::FirstN(d, kRuns.first[kRun]), hn::FirstN(d, kRuns.first[kRun + 1]));
    steps = hn::IfThenElse(lanes, run_steps(std::integral_constant<size_t, kRun>()), steps);
  });
  return steps;
}

// kDst's code bytes of a TQ1_0 unit, whole vectors; false when a byte is
// not the offset in all four fields (as TwoBitChunks).
template <LayoutId kSrc, LayoutId kDst>
HWY_INLINE bool TwoBitVectors(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out) {
  const hn::CappedTag<uint8_t, 64> d;
  constexpr size_t kN = hn::MaxLanes(decltype(d)());
  const auto all_offset = hn::Set(d, static_cast<uint8_t>(LayoutOf(kDst).code_offset * 0x55));
  bool offsets = true;
  ForIndex<kCodeUnit / 4 / kN>([&](auto v) {
    constexpr size_t kC = decltype(v)::value * kN;
    auto byte = hn::Zero(d);
    ForIndex<4>([&](auto f) {
      constexpr size_t kF = decltype(f)::value;
      constexpr int kShift = TwoBitFieldShift(LayoutOf(kDst).codes, kF * LayoutOf(kDst).codes.run);
      byte = AddShiftedDigits<kShift>(FieldSteps<kSrc, kDst, kC, kF>(d, in), byte);
    });
    hn::StoreU(byte, d, out + UnitCodeByte(LayoutOf(kDst), kC));
    offsets = hn::AllTrue(d, hn::Eq(byte, all_offset)) && offsets;
  });
  return offsets;
}

// The code bytes of a kTrits block (its segments follow each other from
// byte 0).
constexpr size_t TritCodeBytes(const CodeMap& m) {
  size_t bytes = 0;
  for (size_t s = 0; s < m.num_segments; ++s) bytes += m.segments[s].bytes;
  return bytes;
}

#if HWY_TARGET == HWY_AVX3_DL
// The same bytes by table lookups, where VBMI permutes bytes across the
// whole vector: a few 256-entry tables each map a TQ1_0 byte to several of
// its digits, each at the field position some output lanes need from that
// byte, and a few gathers move the looked-up bytes to those lanes. On the
// AMD EPYC (Zen 5) VM, which permutes two vectors a cycle, TwoBitVectors'
// digit steps (about 60 instructions a unit) ran TQ1_0 -> TQ2_0 at 33
// Gelem/s in L2.

// Up to kMaxTritLuts tables, each with a digit (or none) per field position
// p (bits 2p .. 2p + 1), and kMaxTritGathers gathers, each from one table
// or two (a two-table permute) with, per lane, the source lane (+ 64 for
// the second table) and the bits it keeps. luts 0: no plan.
constexpr size_t kMaxTritLuts = 6, kMaxTritGathers = 6, kUnitLanes = kCodeUnit / 4;
struct TritLutPlan {
  size_t luts, gathers;
  int digit[kMaxTritLuts][4];
  size_t tables[kMaxTritGathers], table[kMaxTritGathers][2];
  uint8_t index[kMaxTritGathers][kUnitLanes], keep[kMaxTritGathers][kUnitLanes];
};

// What output lane `lane` takes from the unit's TQ1_0 byte `byte`: a digit
// (or -1) per field position.
struct TritNeed {
  size_t byte;
  int digit[4];
};

// The plan's table for a need: the first whose digits agree with it where
// both have one, extended by it (a new one when none agrees).
constexpr size_t TritLutFor(TritLutPlan& p, const TritNeed& need) {
  size_t l = 0;
  for (; l < p.luts; ++l) {
    bool agrees = true;
    for (size_t q = 0; q < 4; ++q) agrees = agrees && (need.digit[q] < 0 || p.digit[l][q] < 0 || p.digit[l][q] == need.digit[q]);
    if (agrees) break;
  }
  if (l == kMaxTritLuts) return l;
  if (l == p.luts) {
    for (int& d : p.digit[l]) d = -1;
    ++p.luts;
  }
  for (size_t q = 0; q < 4; ++q) p.digit[l][q] = need.digit[q] < 0 ? p.digit[l][q] : need.digit[q];
  return l;
}

// The plan for the pair: every lane's needs (its fields grouped by source
// byte) assigned to tables and then to gathers, first fit in lane order.
constexpr TritLutPlan PlanTritLuts(const Layout& src, const Layout& dst) {
  TritLutPlan p{};
  for (size_t lane = 0; lane < kUnitLanes; ++lane) {
    TritNeed needs[4] = {};
    size_t count = 0;
    for (size_t f = 0; f < 4; ++f) {
      const TritRef t = TritRefOf(src.codes, UnitCodeElement(dst, lane, f));
      const size_t byte = src.codes.segments[t.segment].first_byte + t.byte;
      size_t k = 0;
      while (k < count && needs[k].byte != byte) ++k;
      if (k == count) {
        needs[count] = {byte, {-1, -1, -1, -1}};
        ++count;
      }
      needs[k].digit[TwoBitFieldShift(dst.codes, f * dst.codes.run) / 2] = static_cast<int>(t.digit);
    }
    for (size_t k = 0; k < count; ++k) {
      const size_t l = TritLutFor(p, needs[k]);
      if (l == kMaxTritLuts) return TritLutPlan{};
      size_t g = 0, slot = 0;
      for (; g < p.gathers; ++g) {
        if (p.keep[g][lane] != 0) continue;
        slot = p.table[g][0] == l ? 0 : p.tables[g] == 2 && p.table[g][1] == l ? 1 : 2;
        if (slot < 2) break;
        if (p.tables[g] == 1) {
          p.table[g][1] = l;
          ++p.tables[g];
          slot = 1;
          break;
        }
      }
      if (g == kMaxTritGathers) return TritLutPlan{};
      if (g == p.gathers) {
        p.table[g][0] = l;
        p.tables[g] = 1;
        slot = 0;
        ++p.gathers;
      }
      p.index[g][lane] = static_cast<uint8_t>(needs[k].byte + 64 * slot);
      for (size_t q = 0; q < 4; ++q) {
        if (needs[k].digit[q] >= 0) p.keep[g][lane] = static_cast<uint8_t>(p.keep[g][lane] | 3u << (2 * q));
      }
    }
  }
  return p;
}

// True when the plan gives every field of every lane its digit: exactly one
// gather keeps the field's bits, from a table with that digit there, at
// the byte that holds it.
constexpr bool TritLutsGiveUnit(const Layout& src, const Layout& dst, const TritLutPlan& p) {
  if (p.luts == 0) return false;
  for (size_t lane = 0; lane < kUnitLanes; ++lane) {
    if (UnitCodeByte(dst, lane) != dst.codes.codes_offset + lane) return false;
    for (size_t f = 0; f < 4; ++f) {
      const TritRef t = TritRefOf(src.codes, UnitCodeElement(dst, lane, f));
      const size_t byte = src.codes.segments[t.segment].first_byte + t.byte;
      const size_t q = static_cast<size_t>(TwoBitFieldShift(dst.codes, f * dst.codes.run)) / 2;
      size_t keeping = 0;
      for (size_t g = 0; g < p.gathers; ++g) {
        if ((p.keep[g][lane] >> (2 * q) & 3u) == 0) continue;
        ++keeping;
        const size_t l = p.table[g][p.index[g][lane] / 64];
        if (p.index[g][lane] % 64 != byte || p.digit[l][q] != static_cast<int>(t.digit)) return false;
      }
      if (keeping != 1) return false;
    }
  }
  return true;
}

// The plan's tables, 256 bytes each: table l at byte b holds b's digits at
// the field positions the plan gives it.
struct TritLutBytes {
  uint8_t bytes[kMaxTritLuts][256];
};
constexpr TritLutBytes MakeTritLutBytes(const TritLutPlan& p) {
  TritLutBytes t{};
  for (size_t l = 0; l < p.luts; ++l) {
    for (unsigned b = 0; b < 256; ++b) {
      unsigned v = 0;
      for (unsigned q = 0; q < 4; ++q) {
        if (p.digit[l][q] >= 0) v |= ::bitnet::TritDigit(static_cast<uint8_t>(b), static_cast<unsigned>(p.digit[l][q])) << (2 * q);
      }
      t.bytes[l][b] = static_cast<uint8_t>(v);
    }
  }
  return t;
}

// kDst's code bytes of a TQ1_0 unit by the plan; false when a byte is not
// the offset in all four fields (as TwoBitVectors).
template <LayoutId kSrc, LayoutId kDst>
HWY_INLINE bool TwoBitLutVectors(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out) {
  constexpr const Layout& src = LayoutOf(kSrc);
  constexpr const Layout& dst = LayoutOf(kDst);
  static constexpr TritLutPlan kPlan = PlanTritLuts(src, dst);
  static_assert(TritLutsGiveUnit(src, dst, kPlan), "a plan of tables and gathers");
  alignas(64) static constexpr TritLutBytes kTables = MakeTritLutBytes(kPlan);
  constexpr size_t kCodeBytes = TritCodeBytes(src.codes);
  static_assert(kCodeBytes <= 64, "a unit's trit bytes in one vector");
  // A masked load reads only the code bytes (no fault past them).
  const __m512i x = _mm512_maskz_loadu_epi8(~__mmask64{0} >> (64 - kCodeBytes), in + src.codes.codes_offset);
  const __mmask64 high = _mm512_movepi8_mask(x);  // bytes 128..255: each table's second half
  __m512i looked_up[kMaxTritLuts];
  ForIndex<kPlan.luts>([&](auto l) {
    const uint8_t* table = kTables.bytes[decltype(l)::value];
    const __m512i low_half = _mm512_permutex2var_epi8(_mm512_load_si512(table), x, _mm512_load_si512(table + 64));
    const __m512i high_half =
        _mm512_permutex2var_epi8(_mm512_load_si512(table + 128), x, _mm512_load_si512(table + 192));
    looked_up[decltype(l)::value] = _mm512_mask_blend_epi8(high, low_half, high_half);
  });
  __m512i bytes = _mm512_setzero_si512();
  ForIndex<kPlan.gathers>([&](auto g) {
    constexpr size_t kG = decltype(g)::value;
    const __m512i index = _mm512_loadu_si512(kPlan.index[kG]);
    const __m512i gathered =
        kPlan.tables[kG] == 2
            ? _mm512_permutex2var_epi8(looked_up[kPlan.table[kG][0]], index, looked_up[kPlan.table[kG][1]])
            : _mm512_permutexvar_epi8(index, looked_up[kPlan.table[kG][0]]);
    // bytes | (gathered & keep)
    bytes = _mm512_ternarylogic_epi64(bytes, gathered, _mm512_loadu_si512(kPlan.keep[kG]), 0xF8);
  });
  _mm512_storeu_si512(out + dst.codes.codes_offset, bytes);
  return _mm512_cmpneq_epi8_mask(bytes, _mm512_set1_epi8(static_cast<char>(dst.code_offset * 0x55))) == 0;
}
#endif

// TQ1_0's bytes from two-bit code bytes, a whole vector at a time. Byte q
// of TQ1_0 is the sum of its digits weighted 3^(4 - t), modulo 256 as the
// reference's uint8 steps wrap; each digit is a field of a source code
// byte. Where all lanes of each 128-bit block take their digits from the
// code bytes at the same distances and fields, the sum is one 16-entry
// table per nibble of the code byte at each distance (TableLookupBytes
// holds a table per block): a few lookups per vector instead of a digit
// step per field and row (TritChunks; TQ2_0 -> TQ1_0 ran at 27 % of the
// bandwidth bound).

// The unit's code byte of element e of the two-bit layout src.
constexpr size_t UnitCodeOf(const Layout& src, size_t e) {
  const size_t block = static_cast<size_t>(src.block_elements);
  return e / block * (block / 4) + TwoBitByte(src.codes, e % block) - src.codes.codes_offset;
}

// The segment of byte `byte` of a kTrits block.
constexpr size_t TritSegmentOfByte(const CodeMap& m, size_t byte) {
  size_t s = 0;
  while (s + 1 < m.num_segments && byte >= size_t{m.segments[s].first_byte} + m.segments[s].bytes) ++s;
  return s;
}

// Digit t of TQ1_0's code byte `byte` (map m): the unit's code byte of the
// two-bit layout src that holds it, and the field's shift there.
struct DigitSource {
  size_t code_byte;
  int shift;
};
constexpr DigitSource DigitSourceOf(const Layout& src, const CodeMap& m, size_t byte, size_t t) {
  const size_t s = TritSegmentOfByte(m, byte);
  const TritSegment& seg = m.segments[s];
  const size_t e = SegmentFirst(m, s) + t * seg.bytes + (byte - seg.first_byte);
  return {UnitCodeOf(src, e), TwoBitFieldShift(src.codes, e % static_cast<size_t>(src.block_elements))};
}

// The terms of the vector of TQ1_0 bytes c .. c + lanes - 1: per distinct
// start (the unit's code byte of lane 0), a low-nibble and a high-nibble
// table for each block of lanes. count 0: the plan does not hold (a block
// whose lanes differ, more than kMaxTerms starts, a start before the unit).
constexpr size_t kMaxTerms = 8;
struct NibbleTerms {
  size_t count;
  size_t start[kMaxTerms];
  uint8_t low[kMaxTerms][64], high[kMaxTerms][64];
};
constexpr NibbleTerms TritNibbleTerms(const Layout& src, const Layout& dst, size_t c, size_t lanes) {
  const CodeMap& m = dst.codes;
  NibbleTerms r{};
  const size_t weight[5] = {81, 27, 9, 3, 1};  // digit t weighs 3^(4 - t)
  for (size_t lane = 0; lane < lanes && c + lane < TritCodeBytes(m); ++lane) {
    const size_t block = lane / 16 * 16;
    for (size_t t = 0; t < m.segments[TritSegmentOfByte(m, c + lane)].trits_per_byte; ++t) {
      const auto [k, shift] = DigitSourceOf(src, m, c + lane, t);
      if (k < lane) return NibbleTerms{};
      size_t j = 0;
      while (j < r.count && r.start[j] != k - lane) ++j;
      if (j == kMaxTerms) return NibbleTerms{};
      if (j == r.count) r.start[r.count++] = k - lane;
      // A block's tables come from its first lane; the others must agree
      // (TritVectorsFit).
      if (lane != block) continue;
      for (unsigned n = 0; n < 16; ++n) {
        uint8_t* table = shift < 4 ? r.low[j] : r.high[j];
        const unsigned field = (n >> (shift % 4)) & 3u;
        table[block + n] = static_cast<uint8_t>(table[block + n] + field * weight[t]);
      }
    }
  }
  return r;
}

// True when the plan holds for every vector of lanes: each lane's digits
// come from the code bytes and fields its block's first lane says, and the
// source's code bytes of a unit are consecutive.
constexpr bool TritVectorsFit(const Layout& src, const Layout& dst, size_t lanes) {
  if (dst.block_elements != static_cast<int64_t>(kCodeUnit)) return false;
  for (size_t k = 0; k < kCodeUnit / 4; ++k) {
    if (UnitCodeByte(src, k) != src.codes.codes_offset + k) return false;
  }
  const CodeMap& m = dst.codes;
  for (size_t c = 0; c < TritCodeBytes(m); c += lanes) {
    if (TritNibbleTerms(src, dst, c, lanes).count == 0) return false;
    for (size_t lane = 0; lane < lanes && c + lane < TritCodeBytes(m); ++lane) {
      const size_t first = lane / 16 * 16;
      const size_t s = TritSegmentOfByte(m, c + lane);
      if (s != TritSegmentOfByte(m, c + first)) return false;
      for (size_t t = 0; t < m.segments[s].trits_per_byte; ++t) {
        const DigitSource here = DigitSourceOf(src, m, c + lane, t), there = DigitSourceOf(src, m, c + first, t);
        if (here.code_byte + first != there.code_byte + lane || here.shift != there.shift) return false;
      }
    }
  }
  return true;
}

// The bytes past a unit's first that the vectors read.
constexpr size_t TritVectorsReadEnd(const Layout& src, const Layout& dst, size_t lanes) {
  size_t end = 0;
  for (size_t c = 0; c < TritCodeBytes(dst.codes); c += lanes) {
    const NibbleTerms t = TritNibbleTerms(src, dst, c, lanes);
    for (size_t j = 0; j < t.count; ++j) {
      const size_t last = src.codes.codes_offset + t.start[j] + lanes;
      end = last > end ? last : end;
    }
  }
  return end;
}

// kDst's trit bytes of the unit whose code bytes start at `codes`.
template <LayoutId kSrc, LayoutId kDst>
HWY_INLINE void TritVectors(const uint8_t* HWY_RESTRICT codes, uint8_t* HWY_RESTRICT out) {
  const hn::CappedTag<uint8_t, 64> d;
  constexpr size_t kN = hn::MaxLanes(decltype(d)());
  constexpr size_t kBytes = TritCodeBytes(LayoutOf(kDst).codes);
  const auto nibble = hn::Set(d, uint8_t{0x0F});
  ForIndex<(kBytes + kN - 1) / kN>([&](auto v) {
    constexpr size_t kC = decltype(v)::value * kN;
    static constexpr NibbleTerms kTerms = TritNibbleTerms(LayoutOf(kSrc), LayoutOf(kDst), kC, kN);
    auto q = hn::Zero(d);
    ForIndex<kTerms.count>([&](auto j) {
      constexpr size_t kJ = decltype(j)::value;
      const auto x = hn::LoadU(d, codes + kTerms.start[kJ]);
      q = hn::Add(q, hn::Add(hn::TableLookupBytes(hn::LoadU(d, kTerms.low[kJ]), hn::And(x, nibble)),
                             hn::TableLookupBytes(hn::LoadU(d, kTerms.high[kJ]), hn::ShiftRight<4>(x))));
    });
    const auto bytes = TritByte(q);
    constexpr size_t kValid = kBytes - kC < kN ? kBytes - kC : kN;
    if constexpr (kValid == kN) {
      hn::StoreU(bytes, d, out + kC);
    } else {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3  // byte-masked stores: nothing past kValid is touched
      hn::BlendedStore(bytes, hn::FirstN(d, kValid), d, out + kC);
#else
      alignas(64) uint8_t staged[kN];
      hn::StoreU(bytes, d, staged);
      memcpy(out + kC, staged, kValid);
#endif
    }
  });
}
#endif

// True when a code of a unit of the kTwoBit layout kId (a transcode's
// source) is not its offset: a code byte other than the offset in all four
// fields.
template <LayoutId kId>
HWY_INLINE bool AnyCodeOffOffset(const uint8_t* HWY_RESTRICT unit) {
  constexpr const Layout& l = LayoutOf(kId);
  constexpr size_t kBlock = static_cast<size_t>(l.block_elements);
  const hn::CappedTag<uint8_t, 32> d;
  const auto all_offset = hn::Set(d, static_cast<uint8_t>(l.code_offset * 0x55));
  auto any = hn::Zero(d);
  for (size_t base = 0; base < kCodeUnit; base += kBlock, unit += l.block_bytes) {
    for (size_t i = 0; i < kBlock / 4; i += hn::Lanes(d)) {
      any = hn::Or(any, hn::Xor(hn::LoadU(d, unit + l.codes.codes_offset + i), all_offset));
    }
  }
  return !hn::AllTrue(d, hn::Eq(any, hn::Zero(d)));
}

// `units` units of a pair that CanTranscodeCodes accepts; the two-bit
// side's code bytes give the flags (the source's as read, the target's as
// formed), which zero a per-block target's scale.
template <LayoutId kSrc, LayoutId kDst>
HWY_NOINLINE void TranscodePair(const uint8_t* HWY_RESTRICT in, size_t units, [[maybe_unused]] bool more,
                                RepackScale scale, uint8_t* HWY_RESTRICT out, uint8_t* HWY_RESTRICT flags) {
  constexpr const Layout& src = LayoutOf(kSrc);
  constexpr const Layout& dst = LayoutOf(kDst);
  static_assert(CanTranscodeCodes(src, dst), "a pair of the fused transcode");
  constexpr bool kDstScales = dst.scale == ScaleKind::kBlockF16;
  static_assert(!kDstScales || dst.block_elements == static_cast<int64_t>(kCodeUnit), "a unit is a target block");
  static_assert(src.scale != ScaleKind::kBlockF16 || src.block_elements == static_cast<int64_t>(kCodeUnit),
                "a unit is a source block");
  constexpr size_t kInBytes = kCodeUnit / static_cast<size_t>(src.block_elements) * src.block_bytes;
  constexpr size_t kOutBytes = kCodeUnit / static_cast<size_t>(dst.block_elements) * dst.block_bytes;
  for (size_t u = 0; u < units; ++u, in += kInBytes, out += kOutBytes) {
    bool nonzero;
    if constexpr (dst.codes.kind == CodeMapKind::kTrits) {
#if HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE
      constexpr size_t kLanes = hn::MaxLanes(hn::CappedTag<uint8_t, 64>());
      static_assert(TritVectorsFit(src, dst, kLanes), "a plan per vector");
      // The vectors may read into the next unit: the tensor's last one is
      // copied (the last of every call was: TQ2_0 and I2_S -> TQ1_0 ran
      // 7-11 % slower).
      constexpr size_t kReadEnd = TritVectorsReadEnd(src, dst, kLanes);
      static_assert(kReadEnd <= 2 * kInBytes, "reads reach the next unit at most");
      if (kReadEnd <= kInBytes || u + 1 < units || more) {
        TritVectors<kSrc, kDst>(in + src.codes.codes_offset, out);
      } else {
        alignas(64) uint8_t padded[kReadEnd] = {};
        memcpy(padded, in, kInBytes);
        TritVectors<kSrc, kDst>(padded + src.codes.codes_offset, out);
      }
#else
      TritChunks<kSrc, kDst, 0, 0>(in, out);
#endif
      nonzero = AnyCodeOffOffset<kSrc>(in);
    } else {
#if HWY_TARGET == HWY_AVX3_DL
      nonzero = !TwoBitLutVectors<kSrc, kDst>(in, out);
#elif HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE
      static_assert(WholeVectorsFit(src, dst, hn::MaxLanes(hn::CappedTag<uint8_t, 64>())), "a plan per vector");
      nonzero = !TwoBitVectors<kSrc, kDst>(in, out);
#else
      nonzero = !TwoBitChunks<kSrc, kDst, 0>(in, out);
#endif
    }
    if constexpr (kDstScales) {
      const uint16_t h = TargetBlockScale(scale, in + src.scale_offset, nonzero);
      memcpy(out + dst.scale_offset, &h, sizeof h);
    }
    if (!kDstScales || flags != nullptr) flags[u] = nonzero ? kRepackNonzero : 0;  // a per-tensor target's are read
  }
}

// The pairs compiled, each with its layouts as constants: exactly those
// CanTranscodeCodes accepts (checked over every pair of layouts below).
struct FusedPair {
  LayoutId src, dst;
};
constexpr FusedPair kFusedPairs[] = {{LayoutId::kTQ1_0, LayoutId::kTQ2_0},
                                     {LayoutId::kTQ1_0, LayoutId::kI2_S},
                                     {LayoutId::kTQ2_0, LayoutId::kTQ1_0},
                                     {LayoutId::kI2_S, LayoutId::kTQ1_0}};
constexpr size_t kNumFusedPairs = sizeof(kFusedPairs) / sizeof(kFusedPairs[0]);
constexpr bool FusedPairsAreTheAcceptedOnes() {
  for (const Layout& a : kLayoutTable) {
    for (const Layout& b : kLayoutTable) {
      bool listed = false;
      for (const FusedPair& p : kFusedPairs) listed = listed || (p.src == a.id && p.dst == b.id);
      if (listed != CanTranscodeCodes(a, b)) return false;
    }
  }
  return true;
}
static_assert(FusedPairsAreTheAcceptedOnes(), "kFusedPairs lists the pairs CanTranscodeCodes accepts");

void TranscodeCodes(LayoutId src, const uint8_t* HWY_RESTRICT in, LayoutId dst, size_t units, bool more,
                    RepackScale scale, uint8_t* HWY_RESTRICT out, uint8_t* HWY_RESTRICT flags) {
  ReportThisTarget();
  ForIndex<kNumFusedPairs>([&](auto p) {
    constexpr FusedPair kPair = kFusedPairs[decltype(p)::value];
    if (src == kPair.src && dst == kPair.dst) {
      TranscodePair<kPair.src, kPair.dst>(in, units, more, scale, out, flags);
    }
  });
}

// A streamed re-pack stages up to kRepackStageBytes of whole target groups
// at a time, a whole number of lines (32 TQ2_0 blocks are 33), so that no
// line is written in two parts; 0 when no such number fits.
constexpr size_t kRepackStageBytes = 4096;
size_t RepackStageGroups(size_t dst_stride) {
  const size_t line_groups = kStreamAlignment / std::gcd(dst_stride, kStreamAlignment);
  return kRepackStageBytes / dst_stride / line_groups * line_groups;
}

// Byte-to-byte re-pack (formats/ternary_codes.h): each source byte's target
// byte and flags are the OR of a lookup per nibble, 16-entry tables in
// every 128-bit block. kWrite: store the target's code bytes, and a
// per-block target's scales (RepackScale). kStream: into a staging buffer
// in L1, streamed out whole, so that no target line is read before it is
// written (RepackBytes streams a dst_dense target whose lines fit the
// stage; others are written in place). Flags go to `flags` when it is not
// null; without kOutside (no source code maps outside the target) a group
// is non-zero when a byte differs from the source's byte of four zero
// values, one comparison instead of the flag tables (TQ2_0 -> I2_S in
// cache, 1 Mi elements: 16-17 against 18-20 us on the Intel VM).
template <bool kWrite, bool kStream, bool kOutside>
void RepackGroups(const ByteRepack& r, RepackScale scale, const uint8_t* HWY_RESTRICT in, size_t first,
                  size_t count, uint8_t* HWY_RESTRICT out, uint8_t* HWY_RESTRICT flags) {
  const bool dst_scales = GetLayout(r.dst).scale == ScaleKind::kBlockF16;
  // Locals: the byte stores below may alias anything behind a pointer or a
  // reference, which would reload it per group.
  const size_t group_bytes = r.group_bytes, src_stride = r.src_stride, dst_stride = r.dst_stride;
  const size_t src_codes = r.src_codes, src_scale = r.src_scale, dst_codes = r.dst_codes, dst_scale = r.dst_scale;
  const uint8_t* HWY_RESTRICT from = in + first * src_stride;
  // Past the last group: the prefetches stay inside the range.
  const uint8_t* const end = in + (first + count) * src_stride;
  alignas(kStreamAlignment) uint8_t stage[kStream ? kRepackStageBytes : 1];
  const size_t stage_groups = kStream ? RepackStageGroups(dst_stride) : count;
  uint8_t* HWY_RESTRICT to = kWrite ? out + first * dst_stride : nullptr;
#if HWY_TARGET != HWY_SCALAR  // one lane: no table in a vector
  const hn::CappedTag<uint8_t, 64> d;
  const size_t N = hn::Lanes(d);
  const auto low = hn::LoadDup128(d, r.low), high = hn::LoadDup128(d, r.high);
  const auto low_flags = hn::LoadDup128(d, r.low_flags), high_flags = hn::LoadDup128(d, r.high_flags);
  const auto nibble = hn::Set(d, uint8_t{0x0F});
  const auto outside_bit = hn::Set(d, kRepackOutside), nonzero_bit = hn::Set(d, kRepackNonzero);
  const auto zero_byte = hn::Set(d, static_cast<uint8_t>(GetLayout(r.src).code_offset * 0x55));
#endif
  for (size_t g0 = 0; g0 < count; g0 += stage_groups) {
    const size_t groups = std::min(stage_groups, count - g0);
    uint8_t* HWY_RESTRICT span = kStream ? stage : to;  // where group g0 goes
    for (size_t g = 0; g < groups; ++g, from += src_stride) {
      for (size_t b = 0; b < group_bytes && from + b + kStreamPrefetchBytes < end; b += 64) {
        hwy::Prefetch(from + b + kStreamPrefetchBytes);
      }
      const uint8_t* HWY_RESTRICT src_bytes = from + src_codes;
      uint8_t* HWY_RESTRICT dst_group = kWrite ? span + g * dst_stride : nullptr;
      size_t b = 0;
      unsigned group_flags = 0;
#if HWY_TARGET != HWY_SCALAR
      auto any = hn::Zero(d);  // kOutside: the OR of the bytes' flags, else of their XOR with zero_byte
      for (; b + N <= group_bytes; b += N) {
        const auto bytes = hn::LoadU(d, src_bytes + b);
        const auto lo = hn::And(bytes, nibble), hi = hn::ShiftRight<4>(bytes);
        if (kWrite) {
          hn::StoreU(hn::Or(hn::TableLookupBytes(low, lo), hn::TableLookupBytes(high, hi)), d,
                     dst_group + dst_codes + b);
        }
        if (kOutside) {
          any = hn::Or(any, hn::Or(hn::TableLookupBytes(low_flags, lo), hn::TableLookupBytes(high_flags, hi)));
        } else {
          any = hn::Or(any, hn::Xor(bytes, zero_byte));
        }
      }
      if (kOutside) {
        group_flags = (hn::AllFalse(d, hn::TestBit(any, outside_bit)) ? 0u : kRepackOutside) |
                      (hn::AllFalse(d, hn::TestBit(any, nonzero_bit)) ? 0u : kRepackNonzero);
      } else {
        group_flags = hn::AllFalse(d, hn::Ne(any, hn::Zero(d))) ? 0u : kRepackNonzero;
      }
#endif
      for (; b < group_bytes; ++b) {  // groups narrower than the lanes
        const unsigned lo = src_bytes[b] & 0x0Fu, hi = src_bytes[b] >> 4;
        if (kWrite) dst_group[dst_codes + b] = static_cast<uint8_t>(r.low[lo] | r.high[hi]);
        group_flags |= r.low_flags[lo] | r.high_flags[hi];
      }
      if (kWrite && dst_scales) {
        const uint16_t h = TargetBlockScale(scale, from + src_scale, (group_flags & kRepackNonzero) != 0);
        memcpy(dst_group + dst_scale, &h, sizeof h);
      }
      if (flags != nullptr) flags[g0 + g] = static_cast<uint8_t>(group_flags);
    }
    if (kStream) StreamBytes(stage, groups * dst_stride, to);
    if (kWrite) to += groups * dst_stride;
  }
  if (kStream) hwy::FlushStream();
}

void RepackBytes(const ByteRepack& r, RepackScale scale, const uint8_t* HWY_RESTRICT in, size_t first,
                 size_t count, uint8_t* HWY_RESTRICT out, bool stream, uint8_t* HWY_RESTRICT flags) {
  ReportThisTarget();
  const auto run = [&](auto outside) {
    constexpr bool kOutside = decltype(outside)::value;
    if (out == nullptr) {
      RepackGroups<false, false, kOutside>(r, scale, in, first, count, out, flags);
    } else if (stream && r.dst_dense && RepackStageGroups(r.dst_stride) != 0) {
      RepackGroups<true, true, kOutside>(r, scale, in, first, count, out, flags);
    } else {
      RepackGroups<true, false, kOutside>(r, scale, in, first, count, out, flags);
    }
  };
  if (RepackFlagsOutside(r)) {
    run(std::true_type());
  } else {
    run(std::false_type());
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(UnpackValues);
HWY_EXPORT(PackValues);
HWY_EXPORT(ValueFlags);
HWY_EXPORT(AnyCode3);
HWY_EXPORT(TranscodeCodes);
HWY_EXPORT(RepackBytes);

void HwyCodeKernels(int64_t hwy_target, TensorKernels* k) {
  k->unpack_values = HwyTableEntry(HWY_DISPATCH_TABLE(UnpackValues), hwy_target);
  k->pack_values = HwyTableEntry(HWY_DISPATCH_TABLE(PackValues), hwy_target);
  k->value_flags = HwyTableEntry(HWY_DISPATCH_TABLE(ValueFlags), hwy_target);
  k->any_two_bit_code3 = HwyTableEntry(HWY_DISPATCH_TABLE(AnyCode3), hwy_target);
  k->transcode_codes = HwyTableEntry(HWY_DISPATCH_TABLE(TranscodeCodes), hwy_target);
  k->repack_bytes = HwyTableEntry(HWY_DISPATCH_TABLE(RepackBytes), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
