// Highway kernels of the ternary matrix products.
//
// Weights stay in their layout; each vector of code bytes is split into its
// 2-bit fields (I2_S, TQ2_0, Q2_0) or base-3 digits (TQ1_0) with shifts and
// masks, one unsigned byte per weight (code 0..3), and multiplied with int8
// activations four bytes per int32 lane (vpdpbusd on AVX3_DL, maddubs+madd
// on the other x86 targets: code * act pairs fit int16). The activations
// are arranged once per call in the order the fields come out, so a field
// vector meets its activations with one load. Because the codes are the
// stored 0..2, a block's sum of code * act minus its sum of act is the
// exact sum of weight * act (bitnet.cpp's identity; ggml's dots sum the same
// integers directly). A tile of R rows x T tokens keeps R*T accumulators
// (Q2_0: four per token, a block of G rows in each); at each float step of
// the reference (a TQ block, a Q2_0 block, an I2_S row) they are reduced
// into vectors whose lanes are the tile's (row, token) pairs, and the
// reference's float operations run on those lanes in its order. Rows and
// tokens past the end of a tile are computed on copies and not stored.
// TQ1_0 and TQ2_0 from kL tokens on turn this around (LaneActs): the lanes
// are tokens, a tile's decoded codes are broadcast four bytes at a time,
// and no lane totals are needed.
// Every result is the reference's, bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/gemm_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <algorithm>
#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/report_target-inl.h"
#include "cpu/trits-inl.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/dot_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE

// One-lane vectors cannot hold the four bytes of an int32 lane, and
// scalable (SVE) vectors cannot be array elements or members, which these
// tiles are made of: those targets run the references.
const GemmKernels* GetGemmKernels() { return &kReferenceGemmKernels; }

#else

#if HWY_ARCH_X86
using D8 = hn::ScalableTag<uint8_t>;  // 16, 32 or 64 bytes
#else
using D8 = hn::CappedTag<uint8_t, 16>;
#endif
using DI8 = hn::RebindToSigned<D8>;
using D16 = hn::Repartition<uint16_t, D8>;
using D32 = hn::Repartition<int32_t, D8>;
using DU32 = hn::RebindToUnsigned<D32>;
using DF = hn::Repartition<float, D8>;
using VU8 = hn::Vec<D8>;
using VI8 = hn::Vec<DI8>;
using VI32 = hn::Vec<D32>;
using VF = hn::Vec<DF>;

constexpr size_t kV = hn::MaxLanes(D8());  // bytes per vector
constexpr size_t kL = kV / 4;              // int32 lanes: the (row, token) pairs of a tile

// ---- primitives ----------------------------------------------------------

// acc + sum over each group of four bytes of codes (unsigned) * acts.
HWY_INLINE VI32 DotQuad(VI32 acc, VU8 codes, VI8 acts) {
#if HWY_TARGET == HWY_AVX3_DL
  // Highway 1.0.3's AVX3_DL target string lacks avx512vnni: the instruction
  // as inline assembly, which needs no target attribute.
  auto raw = acc.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(raw) : "v"(codes.raw), "v"(acts.raw));
  return VI32{raw};
#elif HWY_TARGET == HWY_AVX3
  const __m512i pairs = _mm512_maddubs_epi16(codes.raw, acts.raw);
  return VI32{_mm512_add_epi32(acc.raw, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)))};
#elif HWY_TARGET == HWY_AVX2
  const __m256i pairs = _mm256_maddubs_epi16(codes.raw, acts.raw);
  return VI32{_mm256_add_epi32(acc.raw, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))};
#elif HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
  const __m128i pairs = _mm_maddubs_epi16(codes.raw, acts.raw);
  return VI32{_mm_add_epi32(acc.raw, _mm_madd_epi16(pairs, _mm_set1_epi16(1)))};
#else
  // Any other target: byte k of each lane, extended and multiplied.
  const D32 d32;
  const DU32 du32;
  const auto c = hn::BitCast(du32, codes);
  const auto a = hn::BitCast(d32, acts);
  const auto ff = hn::Set(du32, 0xFFu);
  const auto c0 = hn::BitCast(d32, hn::And(c, ff));
  const auto c1 = hn::BitCast(d32, hn::And(hn::ShiftRight<8>(c), ff));
  const auto c2 = hn::BitCast(d32, hn::And(hn::ShiftRight<16>(c), ff));
  const auto c3 = hn::BitCast(d32, hn::ShiftRight<24>(c));
  acc = hn::Add(acc, hn::Mul(c0, hn::ShiftRight<24>(hn::ShiftLeft<24>(a))));
  acc = hn::Add(acc, hn::Mul(c1, hn::ShiftRight<24>(hn::ShiftLeft<16>(a))));
  acc = hn::Add(acc, hn::Mul(c2, hn::ShiftRight<24>(hn::ShiftLeft<8>(a))));
  return hn::Add(acc, hn::Mul(c3, hn::ShiftRight<24>(a)));
#endif
}

// Keeps a loaded vector in a register: otherwise compilers fold the load
// into each of the ops that read it (one load per field), which multiplies
// the loads in flight behind every weight line's miss. GCC only: clang 14
// cannot tie a vector register operand inside Highway's target regions.
HWY_INLINE VU8 InRegister(VU8 v) {
#if HWY_ARCH_X86 && HWY_COMPILER_GCC_ACTUAL
  asm("" : "+v"(v.raw));
#endif
  return v;
}

// The 2-bit field at bits 2k of every byte (k constant once unrolled).
HWY_INLINE VU8 FieldAt(VU8 packed, size_t k) {
  const D8 d8;
  const D16 d16;
  return hn::And(hn::BitCast(d8, hn::ShiftRightSame(hn::BitCast(d16, packed), static_cast<int>(2 * k))),
                 hn::Set(d8, 3));
}

// Stores the total of each of the kL accumulators: out[i] = sum of acc[i].
HWY_INLINE void LaneTotals(const VI32* acc, int32_t* out) {
#if HWY_ARCH_X86
  const D32 d32;
  const hn::Repartition<int64_t, D8> d64;
  // Within each 128-bit block: four accumulators -> one lane each.
  VI32 quads[kL / 4];
  for (size_t q = 0; q < kL / 4; ++q) {
    const VI32 a = acc[4 * q], b = acc[4 * q + 1], c = acc[4 * q + 2], e = acc[4 * q + 3];
    const VI32 ab = hn::Add(hn::InterleaveLower(d32, a, b), hn::InterleaveUpper(d32, a, b));
    const VI32 ce = hn::Add(hn::InterleaveLower(d32, c, e), hn::InterleaveUpper(d32, c, e));
    const auto ab64 = hn::BitCast(d64, ab), ce64 = hn::BitCast(d64, ce);
    // 64-bit interleaves move pairs of int32 lanes; the sums stay 32-bit.
    quads[q] = hn::Add(hn::BitCast(d32, hn::InterleaveLower(d64, ab64, ce64)),
                       hn::BitCast(d32, hn::InterleaveUpper(d64, ab64, ce64)));
  }
#if HWY_TARGET <= HWY_AVX3
  // Blocks: [X0+X2, X1+X3, Y0+Y2, Y1+Y3], then the pairs of blocks.
  const VI32 xy = hn::Add(hn::ConcatLowerLower(d32, quads[1], quads[0]),
                          hn::ConcatUpperUpper(d32, quads[1], quads[0]));
  const VI32 uw = hn::Add(hn::ConcatLowerLower(d32, quads[3], quads[2]),
                          hn::ConcatUpperUpper(d32, quads[3], quads[2]));
  const VI32 total{_mm512_add_epi32(_mm512_shuffle_i32x4(xy.raw, uw.raw, _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_i32x4(xy.raw, uw.raw, _MM_SHUFFLE(3, 1, 3, 1)))};
#elif HWY_TARGET == HWY_AVX2
  const VI32 total = hn::Add(hn::ConcatLowerLower(d32, quads[1], quads[0]),
                             hn::ConcatUpperUpper(d32, quads[1], quads[0]));
#else
  const VI32 total = quads[0];
#endif
  hn::Store(total, d32, out);
#else
  const D32 d32;
  for (size_t i = 0; i < kL; ++i) out[i] = hn::GetLane(hn::SumOfLanes(d32, acc[i]));
#endif
}

HWY_INLINE float Half(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return HalfToFloat(h);
}

#if !(HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2)
// The f16 in the low 16 bits of each lane as f32, exactly as HalfToFloat
// converts it (NaNs made quiet): normal values rebiased, subnormal ones
// scaled from an integer (exact), Inf and NaN with an all-ones exponent.
HWY_INLINE VF HalvesToFloat(VI32 bits) {
  const D32 d32;
  const DF df;
  const VI32 em = hn::And(bits, hn::Set(d32, 0x7FFF));
  const VI32 sign = hn::ShiftLeft<16>(hn::And(bits, hn::Set(d32, 0x8000)));
  const VI32 normal = hn::Add(hn::ShiftLeft<13>(em), hn::Set(d32, 0x38000000));
  const VI32 nan_quiet = hn::IfThenElseZero(hn::Gt(hn::And(em, hn::Set(d32, 0x3FF)), hn::Zero(d32)),
                                            hn::Set(d32, 0x400000));
  const VI32 special = hn::Or(hn::Or(hn::ShiftLeft<13>(em), hn::Set(d32, 0x7F800000)), nan_quiet);
  const VI32 small =
      hn::BitCast(d32, hn::Mul(hn::ConvertTo(df, em), hn::Set(df, 5.9604644775390625e-8f)));  // 2^-24
  const VI32 out = hn::IfThenElse(hn::Lt(em, hn::Set(d32, 0x400)), small,
                                  hn::IfThenElse(hn::Gt(em, hn::Set(d32, 0x7BFF)), special, normal));
  return hn::BitCast(df, hn::Or(out, sign));
}
#endif

// The f16 at base + offsets[i] as f32 in lane i (kL lanes), exactly as
// HalfToFloat converts it: one scalar load per lane into memory that a
// vector load reads back (a gather of the kL words, vpgatherdd, cost the
// Q2_0 tile a tenth of its time: bench/gemm_turns, N = 1, one thread,
// Zen 5). x86 from AVX2 on widens them with vcvtph2ps (F16C): the same
// bits for all 65536 halves (test_gemm's every-half case), in one
// instruction instead of HalvesToFloat's twenty.
HWY_INLINE VF HalvesAt(const uint8_t* base, const int32_t* offsets) {
  HWY_ALIGN uint16_t halves[kL];
  for (size_t i = 0; i < kL; ++i) memcpy(&halves[i], base + offsets[i], sizeof halves[i]);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  return VF{_mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(halves)))};
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  return VF{_mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(halves)))};
#else
  const hn::Rebind<uint16_t, DU32> d16;
  return HalvesToFloat(hn::BitCast(D32(), hn::PromoteTo(DU32(), hn::Load(d16, halves))));
#endif
}

// ---- arranged activations -----------------------------------------------
// Tokens [first, first + batch), each multiplied alone or in groups of T
// (those before `first` go in lanes: LaneActs). Per token: the int8
// activations in field order (`act_bytes` each, a multiple of kV); then,
// per float step of the layout (Q2_0: per lane of each step), the integer
// sum of its activations and its scale, in two arrays.
struct Arranged {
  const uint8_t* base;
  size_t act_bytes;    // per token
  size_t steps;        // step entries per token
  size_t first;
  size_t batch;
  const int8_t* Acts(size_t t) const {
    return reinterpret_cast<const int8_t*>(base + (t - first) * act_bytes);
  }
  const int32_t* ActSums(size_t t) const {
    return reinterpret_cast<const int32_t*>(base + batch * act_bytes) + (t - first) * steps;
  }
  const float* Scales(size_t t) const {
    return reinterpret_cast<const float*>(base + batch * act_bytes + batch * steps * 4) +
           (t - first) * steps;
  }
};

// TQ1_0 and TQ2_0 from kL tokens on: whole vectors of kL tokens are
// multiplied with the tokens in the int32 lanes (token t in lane t % kL of
// vector t / kL), the four bytes of every lane the same four elements (a
// chunk) of each token. A block's codes, decoded once per tile and
// compacted (TQ1_0's padding bytes dropped), meet a chunk as one broadcast
// 32-bit word: every byte product is a weight's, and each accumulator lane
// is already one token's sum (no lane totals). vpdpbusd multiplies
// unsigned by signed bytes, so the activations are stored + 128 (unsigned)
// and the codes are the signed side: 128 * the block's code sum is
// subtracted with the act sum. Per vector and block: 64 chunks of kV bytes,
// then the kL act sums, then the kL scales.
constexpr size_t kChunks = kQK_K / 4;
constexpr size_t kLaneBlockBytes = kChunks * kV + kL * (sizeof(int32_t) + sizeof(float));

struct LaneActs {
  const uint8_t* base;
  size_t steps;
  size_t vectors;  // of kL tokens
  const uint8_t* Chunks(size_t v, size_t s) const {
    return base + (v * steps + s) * kLaneBlockBytes;
  }
  const int32_t* ActSums(size_t v, size_t s) const {
    return reinterpret_cast<const int32_t*>(Chunks(v, s) + kChunks * kV);
  }
  const float* Scales(size_t v, size_t s) const {
    return reinterpret_cast<const float*>(Chunks(v, s) + kChunks * kV + kL * sizeof(int32_t));
  }
};

size_t LaneTokens(const GemmProblem& p) {
  const bool tq = p.layout == LayoutId::kTQ1_0 || p.layout == LayoutId::kTQ2_0;
  return tq && p.batch >= kL ? p.batch / kL * kL : 0;
}

size_t CeilDiv(size_t a, size_t b) { return a / b + (a % b != 0); }

// How each layout's rows are cut into vector loads, and which activation
// each lane of each field meets.
struct Geometry {
  size_t fields;          // per load: 4 two-bit fields, or 5 digits
  size_t loads;           // per float step
  size_t steps;           // per row
  size_t step_bytes;      // weight bytes from one step to the next
  size_t row_bytes;       // weight bytes of a row
  size_t act_step_bytes;  // arranged activation bytes per step
  size_t step_sums;       // act sums (and scales) per step
};

// I2_S rows are taken in whole 128-blocks: cols rounded up (the kernel
// realigns rows that do not start on a block).
size_t I2SPaddedCols(size_t cols) { return CeilDiv(cols, kI2SBlock) * kI2SBlock; }

Geometry GeometryOf(const GemmProblem& p) {
  const Layout& l = GetLayout(p.layout);
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const size_t bytes = I2SPaddedCols(p.cols) / 4;
      const size_t loads = CeilDiv(bytes, kV);
      return {4, loads, 1, 0, bytes, loads * 4 * kV, 1};
    }
    case LayoutId::kTQ2_0:
    case LayoutId::kTQ1_0: {
      const size_t fields = p.layout == LayoutId::kTQ1_0 ? 5 : 4;
      const size_t blocks = p.cols / kQK_K;
      return {fields, 64 / kV, blocks, l.block_bytes, blocks * l.block_bytes, 64 / kV * fields * kV, 1};
    }
    case LayoutId::kQ2_0: {
      // One block per step; its 16 activation bytes per field are loaded
      // into every 128-bit block of a vector. Two Q8_0 halves per block.
      const size_t blocks = p.cols / kQK2_0;
      return {4, 1, blocks, l.block_bytes, blocks * l.block_bytes, 4 * size_t{16}, 2};
    }
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S: break;
  }
  return {4, 1, 0, 0, 0, 0, 0};
}

LaneActs LaneActsOf(const GemmProblem& p, const uint8_t* ws) {
  return {ws, GeometryOf(p).steps, LaneTokens(p) / kL};
}

size_t LaneBytes(const LaneActs& la) { return la.vectors * la.steps * kLaneBlockBytes; }

size_t WorkspaceBytes(const GemmProblem& p) {
  const Geometry g = GeometryOf(p);
  const size_t rest = p.batch - LaneTokens(p);
  return LaneBytes(LaneActsOf(p, nullptr)) +
         rest * g.steps * (g.act_step_bytes + g.step_sums * (sizeof(int32_t) + sizeof(float)));
}

Arranged ArrangedOf(const GemmProblem& p, const uint8_t* ws) {
  const Geometry g = GeometryOf(p);
  const size_t lane_tokens = LaneTokens(p);
  return {ws + LaneBytes(LaneActsOf(p, ws)), g.steps * g.act_step_bytes, g.steps * g.step_sums,
          lane_tokens, p.batch - lane_tokens};
}

// Element of the row (or of a 256-block) that lane i of field f of the
// vector at byte `byte` of the codes meets; -1: none (its act is 0).
//   two-bit (I2_S, TQ2_0): byte b holds elements (b/32)*128 + 32*field + b%32
//     with field = shift/2 (TQ2_0) or 3 - shift/2 (I2_S, most significant
//     first);
//   TQ1_0: the three segments of ggml's base-3 bytes (formats/layouts.cc).
long TwoBitElement(size_t byte, size_t shift_field, bool msb_first) {
  const size_t field = msb_first ? 3 - shift_field : shift_field;
  return static_cast<long>((byte / 32) * 128 + 32 * field + byte % 32);
}

constexpr long TritElement(size_t byte, size_t digit) {
  if (byte < 32) return static_cast<long>(byte + 32 * digit);
  if (byte < 48) return static_cast<long>(160 + (byte - 32) + 16 * digit);
  if (byte < 52 && digit < 4) return static_cast<long>(240 + (byte - 48) + 4 * digit);
  return -1;
}

// Lanes whose activations are consecutive elements: 32 for the two-bit
// layouts (one byte quarter of a 128-element block), 4 for TQ1_0 (its
// segments are 32, 16 and 4 bytes long).
constexpr size_t kTwoBitRun = kV < 32 ? kV : 32;
constexpr size_t kTritRun = 4;

// The first element of each run of kTritRun lanes of one TQ1_0 step's
// activation vectors (64 / kV loads of 5 fields, 64 lanes each; -1: none), worked out
// once: run by run through TritElement, a step of TQ1_0 took 0.2 us to
// arrange, a tenth of a 640x2560 product on one thread (AMD EPYC VM).
constexpr size_t kTritStepRuns = size_t{5} * 64 / kTritRun;
struct TritStepRuns {
  int16_t element[kTritStepRuns];
};
constexpr TritStepRuns MakeTritStepRuns() {
  TritStepRuns r{};
  size_t n = 0;
  for (size_t j = 0; j < 64 / kV; ++j) {
    for (size_t f = 0; f < 5; ++f) {
      for (size_t i = 0; i < kV; i += kTritRun) r.element[n++] = static_cast<int16_t>(TritElement(j * kV + i, f));
    }
  }
  return r;
}
constexpr TritStepRuns kTritStepRunElements = MakeTritStepRuns();

// The kV activations of one (load, field): lane i meets element
// element_of(first_byte + i) of q, or none (act 0) when that is -1, at or
// past `elements`, or its byte is at or past `bytes`. Copied in runs of
// `run` lanes, whose elements are consecutive.
template <class ElementOf>
void ArrangeRuns(const int8_t* q, size_t elements, size_t first_byte, size_t bytes, size_t run,
                 const ElementOf& element_of, int8_t* out) {
  for (size_t i = 0; i < kV; i += run) {
    const long e = first_byte + i < bytes ? element_of(first_byte + i) : -1;
    size_t n = 0;
    if (e >= 0 && static_cast<size_t>(e) < elements) {
      n = elements - static_cast<size_t>(e) < run ? elements - static_cast<size_t>(e) : run;
      memcpy(out + i, q + e, n);
    }
    memset(out + i + n, 0, run - n);
  }
}

const uint8_t* TokenBlocks(const GemmProblem& p, size_t t) {
  return p.acts.blocks + t * p.acts.row_bytes;
}

void ArrangeToken(const GemmProblem& p, const Geometry& g, const Arranged& a, size_t t) {
  int8_t* out = const_cast<int8_t*>(a.Acts(t));
  int32_t* act_sums = const_cast<int32_t*>(a.ActSums(t));
  float* scales = const_cast<float*>(a.Scales(t));
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const int8_t* q = p.acts.q + t * p.cols;
      for (size_t j = 0; j < g.loads; ++j) {
        for (size_t f = 0; f < 4; ++f, out += kV) {
          ArrangeRuns(q, p.cols, j * kV, g.row_bytes, kTwoBitRun,
                      [f](size_t byte) { return TwoBitElement(byte, f, true); }, out);
        }
      }
      act_sums[0] = p.acts.sums[t];
      scales[0] = p.acts.scales[t];
      return;
    }
    case LayoutId::kTQ2_0:
    case LayoutId::kTQ1_0: {
      const bool trits = p.layout == LayoutId::kTQ1_0;
      for (size_t s = 0; s < g.steps; ++s) {
        const uint8_t* block = TokenBlocks(p, t) + s * kQ8KBytes;
        const int8_t* q = reinterpret_cast<const int8_t*>(block + kQ8KQs);
        int32_t sum = 0;
        for (size_t e = 0; e < kQK_K; ++e) sum += q[e];
        act_sums[s] = sum;
        memcpy(&scales[s], block, sizeof(float));
        if (trits) {
          for (const int16_t e : kTritStepRunElements.element) {
            if (e >= 0) {
              memcpy(out, q + e, kTritRun);
            } else {
              memset(out, 0, kTritRun);
            }
            out += kTritRun;
          }
          continue;
        }
        for (size_t j = 0; j < g.loads; ++j) {
          for (size_t f = 0; f < g.fields; ++f, out += kV) {
            ArrangeRuns(q, kQK_K, j * kV, 64, kTwoBitRun,
                        [f](size_t byte) { return TwoBitElement(byte, f, false); }, out);
          }
        }
      }
      return;
    }
    case LayoutId::kQ2_0: {
      // Per block: field f's 16 bytes (byte i meets element 4*i + f), then
      // per Q8_0 half its act sum and scale.
      const uint8_t* y = TokenBlocks(p, t);
      for (size_t b = 0; b < g.steps; ++b) {
        for (size_t f = 0; f < 4; ++f) {
          for (size_t i = 0; i < 16; ++i, ++out) {
            const size_t e = 4 * i + f;
            *out = static_cast<int8_t>(y[(2 * b + e / kQK8_0) * kQ8_0Bytes + kQ8_0Qs + e % kQK8_0]);
          }
        }
        for (size_t h = 0; h < 2; ++h) {
          const uint8_t* q8 = y + (2 * b + h) * kQ8_0Bytes;
          int32_t sum = 0;
          for (size_t e = 0; e < kQK8_0; ++e) sum += static_cast<int8_t>(q8[kQ8_0Qs + e]);
          act_sums[2 * b + h] = sum;
          scales[2 * b + h] = Half(q8);
        }
      }
      return;
    }
    case LayoutId::kF32:
    case LayoutId::kF16:
    case LayoutId::kBF16:
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S: break;
  }
}

// Where field k of load j of a TQ block goes in the block's compacted codes
// (field_at[j * F + k]) and how many of its bytes (field_bytes). Each field keeps
// the prefix of its bytes that hold elements (all of TQ2_0's; TQ1_0's
// 52 bytes of its first four digits, 48 of its fifth).
void CompactFieldOffsets(const Geometry& g, bool trits, uint32_t* field_at, uint32_t* field_bytes) {
  uint32_t at = 0;
  for (size_t j = 0; j < g.loads; ++j) {
    for (size_t k = 0; k < g.fields; ++k) {
      field_at[j * g.fields + k] = at;
      for (size_t b = j * kV; b < (j + 1) * kV; b += 4) {
        if (trits && TritElement(b, k) < 0) break;
        at += 4;
      }
      field_bytes[j * g.fields + k] = at - field_at[j * g.fields + k];
    }
  }
}

// The first element of each chunk: the element of the first byte of each
// 32-bit word of the compacted codes.
void ChunkElements(const Geometry& g, bool trits, size_t* element) {
  size_t c = 0;
  for (size_t j = 0; j < g.loads; ++j) {
    for (size_t k = 0; k < g.fields; ++k) {
      for (size_t b = j * kV; b < (j + 1) * kV; b += 4) {
        const long e = trits ? TritElement(b, k) : TwoBitElement(b, k, false);
        if (e < 0) break;
        element[c++] = static_cast<size_t>(e);
      }
    }
  }
}

void ArrangeLaneToken(const GemmProblem& p, const Geometry& g, const LaneActs& la,
                      const size_t* element, size_t t) {
  const size_t v = t / kL, lane = t % kL;
  for (size_t s = 0; s < g.steps; ++s) {
    const uint8_t* block = TokenBlocks(p, t) + s * kQ8KBytes;
    const uint8_t* q = block + kQ8KQs;
    uint8_t* chunks = const_cast<uint8_t*>(la.Chunks(v, s)) + lane * 4;
    for (size_t c = 0; c < kChunks; ++c) {
      uint32_t word;
      memcpy(&word, q + element[c], sizeof word);
      word ^= 0x80808080u;  // each int8 + 128, as uint8
      memcpy(chunks + c * kV, &word, sizeof word);
    }
    int32_t sum = 0;
    for (size_t e = 0; e < kQK_K; ++e) sum += static_cast<int8_t>(q[e]);
    const_cast<int32_t*>(la.ActSums(v, s))[lane] = sum;
    memcpy(const_cast<float*>(la.Scales(v, s)) + lane, block, sizeof(float));
  }
}

void Arrange(const GemmProblem& p, uint8_t* ws, size_t begin, size_t end) {
  ReportThisTarget();
  const Geometry g = GeometryOf(p);
  const Arranged a = ArrangedOf(p, ws);
  const LaneActs la = LaneActsOf(p, ws);
  size_t element[kChunks] = {};
  if (begin < a.first) ChunkElements(g, p.layout == LayoutId::kTQ1_0, element);
  for (size_t t = begin; t < end; ++t) {
    if (t < a.first) {
      ArrangeLaneToken(p, g, la, element, t);
    } else {
      ArrangeToken(p, g, a, t);
    }
  }
}

// ---- kernels ---------------------------------------------------------------
// Weights are read in memory order (row after row, each from its start), so
// that the hardware prefetchers see one stream; activations come from L1.

// The fields of a weight load, taken in field order (k = 0, 1, ...) from
// a state that starts as the loaded vector: a loop over fields keeps one
// field of each row live, not all of them.
struct TwoBitFields {
  static constexpr size_t kFields = 4;
  static HWY_INLINE VU8 Take(VU8& packed, size_t k) { return FieldAt(packed, k); }
};

struct TritFields {
  static constexpr size_t kFields = 5;
  static HWY_INLINE VU8 Take(VU8& t, size_t /*k*/) {
    const VU8 digit = TritDigit(t);
    t = TritTimes3(t);
    return digit;
  }
};

// TQ1_0 against one token where vpdpbusd multiplies whole bytes: digit n
// of a byte is (3 t_n - t_{n+1}) / 256 (TritTimes3: t_{n+1} = 3 t_n mod
// 256), so 256 * sum of digit_n * act_n = 3 * sum t_n * act_n - sum
// t_{n+1} * act_n, ten byte products and no digit compares; exact in int32
// (|sum| < 2^24 per 256-block). The tile's totals are divided by 256 once.
// Without VNNI, maddubs would saturate the int16 pairs of whole bytes.
constexpr bool kTritBytes = HWY_TARGET == HWY_AVX3_DL;

// True for the tiles of T tokens and F fields whose single-group loads
// (TileLoad) multiply whole trit bytes: their totals carry a factor 256.
template <size_t T, size_t F>
constexpr bool TritBytesTile() {
  return T == 1 && F == 5 && kTritBytes;
}

HWY_MAYBE_UNUSED HWY_INLINE VI32 TritBytesTimes256(VU8 t, const VI8* act) {
  const D32 d32;
  VI32 now = hn::Zero(d32), next = hn::Zero(d32);
  HWY_UNROLL(5)
  for (size_t k = 0; k < 5; ++k) {
    const VU8 t3 = TritTimes3(t);
    now = DotQuad(now, t, act[k]);
    next = DotQuad(next, t3, act[k]);
    t = t3;
  }
  return hn::Sub(hn::Add(hn::Add(now, now), now), next);
}

// ---- tiles of rows ------------------------------------------------------------
// A tile is R = kL / T rows x T tokens, its lanes r*T + t. Its rows are
// read side by side, one load of every row per step of the loop, so that
// the activations of that load are read once for all R rows: with one
// token, each weight line then costs one load, not five (loads of the
// activations from L1 between the weight loads cut the misses a core keeps
// in flight: 15 GB/s instead of 31 on this machine). The R interleaved
// streams are more than the hardware prefetchers follow, so the same place
// of a later tile is prefetched with every load.

// How far ahead the weights are prefetched: a quarter of a tile past the
// same row and offset of the next tile (measured here on the 2B-4T shapes:
// shorter distances leave misses, longer ones evict lines before use).
HWY_INLINE size_t PrefetchDistance(size_t tile_bytes) {
  return (tile_bytes + tile_bytes / 4) / 64 * 64;
}

// Where a tile's weight lines are prefetched to: every cache level (T0) or
// L2 and beyond (T1). Measured on the Intel development machine (N = 1, one
// thread, the 2B-4T shapes): I2_S, whose loads are code bytes only, streams
// at 73-90 % of the read bandwidth with L2 against 66-81 % with L1; the TQ
// and Q2_0 tiles, whose blocks interleave scales and straddle lines, went
// 0-8 % slower with L2. Every tile's weight prefetch goes through
// PrefetchWeights, so the level is chosen in one place per tile kind.
enum class WeightFetch { kToL1, kToL2 };

template <WeightFetch kFetch>
HWY_INLINE void PrefetchWeights(const uint8_t* line) {
  if constexpr (kFetch == WeightFetch::kToL1) {
    hwy::Prefetch(line);
  } else {
    __builtin_prefetch(line, /*rw=*/0, /*locality=*/2);
  }
}

// The R rows of a tile: evenly spaced (a copy when the tensor's rows
// cannot be read in place).
struct TileRows {
  const uint8_t* base;
  size_t stride;
};

// acc[r*T + t] += the products of the loads at byte `offset` of the R rows
// with token t's activations (acts[t]: their first field), field by field
// (each field's R weight and T activation vectors made once).
template <size_t R, size_t T, class Decoded, WeightFetch kFetch>
HWY_INLINE void TileLoad(const TileRows& rows, size_t offset, size_t ahead,
                         const int8_t* const* acts, VI32* acc) {
  constexpr size_t F = Decoded::kFields;
  const D8 d8;
  const DI8 di8;
  const uint8_t* at = rows.base + offset;
  if (T == 1) {
    VI8 act[F];
    HWY_UNROLL(5)
    for (size_t k = 0; k < F; ++k) act[k] = hn::LoadU(di8, acts[0] + k * kV);
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r, at += rows.stride) {
      PrefetchWeights<kFetch>(at + ahead);
      if constexpr (TritBytesTile<T, F>()) {
        acc[r] = hn::Add(acc[r], TritBytesTimes256(InRegister(hn::LoadU(d8, at)), act));
      } else {
        VU8 state = InRegister(hn::LoadU(d8, at));
        HWY_UNROLL(5)
        for (size_t k = 0; k < F; ++k) acc[r] = DotQuad(acc[r], Decoded::Take(state, k), act[k]);
      }
    }
  } else {
    VU8 state[R];
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r, at += rows.stride) {
      PrefetchWeights<kFetch>(at + ahead);
      state[r] = InRegister(hn::LoadU(d8, at));
    }
    HWY_UNROLL(5)
    for (size_t k = 0; k < F; ++k) {
      VU8 w[R];
      VI8 x[T];
      HWY_UNROLL(16)
      for (size_t r = 0; r < R; ++r) w[r] = Decoded::Take(state[r], k);
      HWY_UNROLL(4)
      for (size_t t = 0; t < T; ++t) x[t] = hn::LoadU(di8, acts[t] + k * kV);
      HWY_UNROLL(16)
      for (size_t r = 0; r < R; ++r) {
        HWY_UNROLL(4)
        for (size_t t = 0; t < T; ++t) acc[r * T + t] = DotQuad(acc[r * T + t], w[r], x[t]);
      }
    }
  }
}

// The same from loads decoded once for several groups of tokens: `fields`
// holds row r's field k at (r*F + k)*kV. Field by field, so that each
// field's R weight and T activation vectors are loaded once.
template <size_t R, size_t T, size_t F>
HWY_INLINE void DecodedLoad(const uint8_t* fields, const int8_t* const* acts, VI32* acc) {
  const D8 d8;
  const DI8 di8;
  HWY_UNROLL(5)
  for (size_t k = 0; k < F; ++k) {
    VU8 w[R];
    VI8 x[T];
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r) w[r] = hn::Load(d8, fields + (r * F + k) * kV);
    HWY_UNROLL(4)
    for (size_t t = 0; t < T; ++t) x[t] = hn::LoadU(di8, acts[t] + k * kV);
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r) {
      HWY_UNROLL(4)
      for (size_t t = 0; t < T; ++t) acc[r * T + t] = DotQuad(acc[r * T + t], w[r], x[t]);
    }
  }
}

// The act sums and scales of every float step in the lanes of a tile
// (lane i: token i % T), built once per group of tokens; steps * kL of each
// (PartScratch).
struct StepLanes {
  int32_t* act_sum;  // [step * kL + lane]
  float* scale;
};

template <size_t T>
void BuildStepLanes(const Arranged& a, const Geometry& g, const size_t* tokens, const StepLanes& lanes) {
  for (size_t s = 0; s < g.steps; ++s) {
    for (size_t i = 0; i < kL; ++i) {
      lanes.act_sum[s * kL + i] = a.ActSums(tokens[i % T])[s];
      lanes.scale[s * kL + i] = a.Scales(tokens[i % T])[s];
    }
  }
}

// I2_S, one float step per row: out[r*T + t] = ((float)sum - (float)act_sum)
// / act_scale * w_scale.
template <size_t T>
void I2STile(const TileRows& rows, const size_t* tokens, const Arranged& a, const Geometry& g,
             const StepLanes& lanes, float w_scale, float* out) {
  constexpr size_t R = kL / T;
  const D32 d32;
  const DF df;
  const int8_t* acts[T];
  const size_t ahead = PrefetchDistance(R * g.row_bytes);
  VI32 acc[kL];
  HWY_UNROLL(16)
  for (size_t i = 0; i < kL; ++i) acc[i] = hn::Zero(d32);
  for (size_t j = 0; j < g.loads; ++j) {
    for (size_t t = 0; t < T; ++t) acts[t] = a.Acts(tokens[t]) + j * 4 * kV;
    TileLoad<R, T, TwoBitFields, WeightFetch::kToL2>(rows, j * kV, ahead, acts, acc);
  }
  HWY_ALIGN int32_t sums[kL];
  LaneTotals(acc, sums);
  const VF raw = hn::ConvertTo(df, hn::Load(d32, sums));
  const VF act_sum = hn::ConvertTo(df, hn::LoadU(d32, lanes.act_sum));
  const VF y = hn::Mul(hn::Div(hn::Sub(raw, act_sum), hn::LoadU(df, lanes.scale)),
                       hn::Set(df, w_scale));
  hn::Store(y, df, out);
}

// TQ1_0 / TQ2_0: per block, sumf += (float)(sum of (code - 1) * q) *
// (d_q * d_w) (TQ1_0 writes d_w * d_q: the same number), in the lanes;
// `groups` groups of T tokens (tokens[grp*T + t], lanes[grp]), out[grp*kL
// + lane]. With several groups each block's loads are decoded once, into
// L1, and every group multiplies the decoded fields.
template <size_t T, class Decoded>
void TQTile(const TileRows& rows, const size_t* tokens, size_t groups, const Arranged& a,
            const Geometry& g, const StepLanes* lanes, size_t scale_offset, float* out) {
  constexpr size_t R = kL / T;
  constexpr size_t F = Decoded::kFields;
  const D8 d8;
  const D32 d32;
  const DF df;
  const int8_t* acts[T];
  const size_t ahead = PrefetchDistance(R * g.row_bytes);
  HWY_ALIGN int32_t sums[kL], scale_at[kL];
  for (size_t i = 0; i < kL; ++i) scale_at[i] = static_cast<int32_t>((i / T) * rows.stride);
  HWY_ALIGN uint8_t fields[(64 / kV) * R * F * kV];  // one step's loads, decoded
  for (size_t i = 0; i < groups * kL; ++i) out[i] = 0.0f;
  for (size_t s = 0; s < g.steps; ++s) {
    if (groups > 1) {
      for (size_t j = 0; j < g.loads; ++j) {
        const uint8_t* at = rows.base + s * g.step_bytes + j * kV;
        for (size_t r = 0; r < R; ++r, at += rows.stride) {
          PrefetchWeights<WeightFetch::kToL1>(at + ahead);
          VU8 state = InRegister(hn::LoadU(d8, at));
          HWY_UNROLL(5)
          for (size_t k = 0; k < F; ++k) {
            hn::Store(Decoded::Take(state, k), d8, fields + ((j * R + r) * F + k) * kV);
          }
        }
      }
    }
    const VF d_w = HalvesAt(rows.base + s * g.step_bytes + scale_offset, scale_at);
    for (size_t grp = 0; grp < groups; ++grp) {
      VI32 acc[kL];
      HWY_UNROLL(16)
      for (size_t i = 0; i < kL; ++i) acc[i] = hn::Zero(d32);
      for (size_t j = 0; j < g.loads; ++j) {
        for (size_t t = 0; t < T; ++t) {
          acts[t] = a.Acts(tokens[grp * T + t]) + (s * g.loads + j) * F * kV;
        }
        if (groups > 1) {
          DecodedLoad<R, T, F>(fields + j * R * F * kV, acts, acc);
        } else {
          const size_t offset = s * g.step_bytes + j * kV;
          TileLoad<R, T, Decoded, WeightFetch::kToL1>(rows, offset, ahead, acts, acc);
        }
      }
      LaneTotals(acc, sums);
      VI32 totals = hn::Load(d32, sums);
      if (TritBytesTile<T, F>() && groups == 1) totals = hn::ShiftRight<8>(totals);  // TileLoad's
      const StepLanes& l = lanes[grp];
      const VI32 sumi = hn::Sub(totals, hn::LoadU(d32, &l.act_sum[s * kL]));
      const VF d = hn::Mul(hn::LoadU(df, &l.scale[s * kL]), d_w);
      float* sumf = out + grp * kL;
      hn::Store(hn::Add(hn::Load(df, sumf), hn::Mul(hn::ConvertTo(df, sumi), d)), df, sumf);
    }
  }
}

// The sums of the two Q8_0 halves of a Q2_0 block in four accumulators:
// each 128-bit block of acc[j] holds one row's block, its lanes 0-1 the
// first half (bytes 0-7: elements 0-31), lanes 2-3 the second. Lane 4*s + j
// of *first / *second: the half of acc[j]'s 128-bit block s.
HWY_INLINE void HalfSums(const VI32* acc, VI32* first, VI32* second) {
  const D32 d32;
  const hn::Repartition<int64_t, D8> d64;
  // [a0+a1, b0+b1, a2+a3, b2+b3] in every 128-bit block.
  const auto pair = [&](VI32 a, VI32 b) {
    const auto lo = hn::BitCast(d64, hn::InterleaveLower(d32, a, b));  // a0 b0 a1 b1
    const auto hi = hn::BitCast(d64, hn::InterleaveUpper(d32, a, b));  // a2 b2 a3 b3
    return hn::Add(hn::BitCast(d32, hn::InterleaveLower(d64, lo, hi)),
                   hn::BitCast(d32, hn::InterleaveUpper(d64, lo, hi)));
  };
  const auto ab = hn::BitCast(d64, pair(acc[0], acc[1]));
  const auto ce = hn::BitCast(d64, pair(acc[2], acc[3]));
  *first = hn::BitCast(d32, hn::InterleaveLower(d64, ab, ce));
  *second = hn::BitCast(d32, hn::InterleaveUpper(d64, ab, ce));
}

// The code bytes of one Q2_0 block of each of kV/16 rows, one row per
// 128-bit block.
HWY_INLINE VU8 LoadQ2_0Codes(const uint8_t* const* blocks) {
  const hn::CappedTag<uint8_t, 16> d16b;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  const hn::Half<D8> dh;
  const D8 d8;
  const auto lo = hn::Combine(dh, hn::LoadU(d16b, blocks[1] + 2), hn::LoadU(d16b, blocks[0] + 2));
  const auto hi = hn::Combine(dh, hn::LoadU(d16b, blocks[3] + 2), hn::LoadU(d16b, blocks[2] + 2));
  return hn::Combine(d8, hi, lo);
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  return hn::Combine(D8(), hn::LoadU(d16b, blocks[1] + 2), hn::LoadU(d16b, blocks[0] + 2));
#else
  return hn::LoadU(d16b, blocks[0] + 2);
#endif
}

// Q2_0: a tile of kL rows, each token with its own accumulators (a block's
// 16 code bytes fill a 128-bit block, so one load holds G = kV/16 rows and
// four loads the tile). Per block, as ggml orders it: sumb = (0.0f +
// (float)s0 * d_q0) + (float)s1 * d_q1 and sumf += sumb * d_w, with s0, s1
// the Q8_0 halves' sums of (code - 1) * q. Lane 4*s + j holds row j*G + s;
// out[row * T + t].
template <size_t T>
void Q2_0Tile(const TileRows& rows, const size_t* tokens, const Arranged& a, const Geometry& g,
              float* out) {
  constexpr size_t G = kV / 16;
  const D32 d32;
  const DF df;
  const DI8 di8;
  const auto row_of_lane = [](size_t lane) { return (lane % 4) * G + lane / 4; };
  const size_t ahead = PrefetchDistance(kL * g.row_bytes);
  HWY_ALIGN int32_t scale_at[kL];
  for (size_t i = 0; i < kL; ++i) scale_at[i] = static_cast<int32_t>(row_of_lane(i) * rows.stride);
  VF sumf[T];
  for (size_t t = 0; t < T; ++t) sumf[t] = hn::Zero(df);
  for (size_t b = 0; b < g.steps; ++b) {
    const uint8_t* at = rows.base + b * g.step_bytes;
    // Two blocks (36 bytes) per prefetch still touch every line.
    if (b % 2 == 0) {
      HWY_UNROLL(16)
      for (size_t r = 0; r < kL; ++r) PrefetchWeights<WeightFetch::kToL1>(at + r * rows.stride + ahead);
    }
    // Field by field: each field's four weight and T activation vectors
    // are made once.
    VU8 packed[4];
    HWY_UNROLL(4)
    for (size_t j = 0; j < 4; ++j) {
      const uint8_t* blocks[G];
      for (size_t s = 0; s < G; ++s) blocks[s] = at + (j * G + s) * rows.stride;
      packed[j] = InRegister(LoadQ2_0Codes(blocks));
    }
    VI32 acc[T][4];
    HWY_UNROLL(4)
    for (size_t t = 0; t < T; ++t) {
      HWY_UNROLL(4)
      for (size_t j = 0; j < 4; ++j) acc[t][j] = hn::Zero(d32);
    }
    HWY_UNROLL(4)
    for (size_t k = 0; k < 4; ++k) {
      VU8 w[4];
      VI8 x[T];
      HWY_UNROLL(4)
      for (size_t j = 0; j < 4; ++j) w[j] = FieldAt(packed[j], k);
      HWY_UNROLL(4)
      for (size_t t = 0; t < T; ++t) {
        x[t] = hn::LoadDup128(di8, a.Acts(tokens[t]) + b * g.act_step_bytes + 16 * k);
      }
      HWY_UNROLL(4)
      for (size_t t = 0; t < T; ++t) {
        HWY_UNROLL(4)
        for (size_t j = 0; j < 4; ++j) acc[t][j] = DotQuad(acc[t][j], w[j], x[t]);
      }
    }
    const VF d_w = HalvesAt(at, scale_at);  // the rows' block scales
    HWY_UNROLL(4)
    for (size_t t = 0; t < T; ++t) {
      const int32_t* act_sums = a.ActSums(tokens[t]) + 2 * b;
      const float* act_scales = a.Scales(tokens[t]) + 2 * b;
      VI32 s0, s1;
      HalfSums(acc[t], &s0, &s1);
      const VF p0 = hn::Mul(hn::ConvertTo(df, hn::Sub(s0, hn::Set(d32, act_sums[0]))),
                            hn::Set(df, act_scales[0]));
      const VF p1 = hn::Mul(hn::ConvertTo(df, hn::Sub(s1, hn::Set(d32, act_sums[1]))),
                            hn::Set(df, act_scales[1]));
      const VF sumb = hn::Add(hn::Add(hn::Zero(df), p0), p1);
      sumf[t] = hn::Add(sumf[t], hn::Mul(sumb, d_w));
    }
  }
  HWY_ALIGN float lanes[kL];
  for (size_t t = 0; t < T; ++t) {
    hn::Store(sumf[t], df, lanes);
    for (size_t i = 0; i < kL; ++i) {
      float* at = out + row_of_lane(i) * T + t;
      *at = lanes[i];
    }
  }
}

// ---- driving the kernels ---------------------------------------------------

// Rows of LaneRows' tiles, and of the largest tile of any path.
constexpr size_t kLaneTileRows = 8;
constexpr size_t kMaxTileRows = kLaneTileRows > kL ? kLaneTileRows : kL;

// Groups of tokens that meet a tile of rows together.
constexpr size_t kGroups = 8;

// A thread's own memory (GemmKernels::scratch_bytes), cut into pieces.
struct PartScratch {
  uint8_t* tile_copy;             // TileSource: kMaxTileRows rows and a vector
  StepLanes step_lanes[kGroups];  // RunGroups
};

// Cuts `base` into p's PartScratch, each piece 64-byte aligned; returns the
// bytes they take (base nullptr: only counts them).
size_t CutScratch(const GemmProblem& p, uint8_t* base, PartScratch* s) {
  const Geometry g = GeometryOf(p);
  size_t used = 0;
  const auto take = [&](size_t bytes) {
    uint8_t* piece = base == nullptr ? nullptr : base + used;
    used += CeilDiv(bytes, 64) * 64;
    return piece;
  };
  s->tile_copy = take(kMaxTileRows * g.row_bytes + kV);
  for (StepLanes& l : s->step_lanes) {
    l.act_sum = reinterpret_cast<int32_t*>(take(g.steps * kL * sizeof(int32_t)));
    l.scale = reinterpret_cast<float*>(take(g.steps * kL * sizeof(float)));
  }
  return used;
}

size_t ScratchBytes(const GemmProblem& p) {
  PartScratch s;
  return CutScratch(p, nullptr, &s);
}

// Where a tile's rows are read: in place when they are R whole rows of the
// tensor that can be read as they are, else a copy, R rows at the same
// stride: the last tile of a range that ends short of R rows (the missing
// rows zero), TQ1_0's tile with the tensor's last row (its last 54-byte
// block is read as 64 bytes), and I2_S rows that do not start on a
// 128-block (realigned, padded with code 0, whose activation is 0).
class TileSource {
 public:
  // copy: PartScratch::tile_copy.
  TileSource(const GemmProblem& p, const Geometry& g, uint8_t* copy) : p_(p), g_(g), copy_(copy) {}

  TileRows Rows(size_t r0, size_t nr, size_t R) {
    const bool realign = p_.layout == LayoutId::kI2_S && p_.cols % kI2SBlock != 0;
    const bool last = p_.layout == LayoutId::kTQ1_0 && r0 + nr == p_.rows;
    if (nr == R && !realign && !last) return {p_.weights + r0 * g_.row_bytes, g_.row_bytes};
    memset(copy_, 0, R * g_.row_bytes + kV);
    for (size_t r = 0; r < nr; ++r) {
      uint8_t* out = copy_ + r * g_.row_bytes;
      if (realign) {
        Realign(r0 + r, out);
      } else {
        memcpy(out, p_.weights + (r0 + r) * g_.row_bytes, g_.row_bytes);
      }
    }
    return {copy_, g_.row_bytes};
  }

 private:
  void Realign(size_t r, uint8_t* out) const {
    const Layout& l = GetLayout(LayoutId::kI2_S);
    uint8_t codes[kI2SBlock];
    for (size_t b = 0; b * kI2SBlock < p_.cols; ++b) {
      for (size_t j = 0; j < kI2SBlock; ++j) {
        const size_t k = b * kI2SBlock + j;
        const size_t e = r * p_.cols + k;
        codes[j] = k < p_.cols ? static_cast<uint8_t>(BlockCode(
                                     l, p_.weights + (e / kI2SBlock) * l.block_bytes, e % kI2SBlock))
                               : 0;
      }
      PackBlockCodes(l, codes, out + b * l.block_bytes);
    }
  }

  const GemmProblem& p_;
  const Geometry& g_;
  uint8_t* copy_;
};

// TQ1_0 / TQ2_0 with tokens in lanes (LaneActs).

// Bytes of a row's decoded block: its 256 codes, and room for the last
// field's whole-vector store.
constexpr size_t kCodesBytes = kQK_K + kV;

// One block of a row, decoded into its compacted codes (CompactFieldOffsets:
// field_at, field_bytes); returns their sums in bytes, from the registers
// (a load of what was just stored, in overlapping pieces, would wait for
// the stores).
// TQ1_0's bytes past its codes are zeroed first (all their digits 0), so
// only its fifth digits, which its last four code bytes lack, are masked.
template <class Decoded>
HWY_INLINE VU8 DecodeBlock(const uint8_t* block, const uint32_t* field_at,
                           const uint32_t* field_bytes, size_t loads, uint8_t* codes) {
  constexpr size_t F = Decoded::kFields;
  const D8 d8;
  VU8 sum = hn::Zero(d8);  // at most 2 * 5 * 64 / kV per byte
  for (size_t j = 0; j < loads; ++j) {
    const uint32_t* bytes = field_bytes + j * F;
    VU8 state = InRegister(hn::LoadU(d8, block + j * kV));
    if (F == 5) state = hn::IfThenElseZero(hn::FirstN(d8, bytes[0]), state);
    HWY_UNROLL(5)
    for (size_t k = 0; k < F; ++k) {
      const VU8 field = Decoded::Take(state, k);
      hn::StoreU(field, d8, codes + field_at[j * F + k]);
      const bool short_field = F == 5 && k == 4;
      sum = hn::Add(sum, short_field ? hn::IfThenElseZero(hn::FirstN(d8, bytes[k]), field) : field);
    }
  }
  return sum;
}

// sumf[r * sumf_stride + v * kL + lane] += block s of R rows (codes[r]:
// compacted, code_sums[r]: their sum, d_w[r]: the block's scale) . token
// vector v0 + v, v < NV, in the reference's float order.
template <size_t R, size_t NV>
HWY_INLINE void LaneBlock(const uint8_t (*codes)[kCodesBytes], const int32_t* code_sums,
                          const float* d_w, const LaneActs& la, size_t v0, size_t s, float* sumf,
                          size_t sumf_stride) {
  const D8 d8;
  const DI8 di8;
  const D32 d32;
  const DU32 du32;
  const DF df;
  VI32 acc[R][NV];
  HWY_UNROLL(16)
  for (size_t r = 0; r < R; ++r) {
    HWY_UNROLL(4)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d32);
  }
  const uint8_t* chunks[NV];
  for (size_t v = 0; v < NV; ++v) chunks[v] = la.Chunks(v0 + v, s);
  for (size_t c = 0; c < kChunks; ++c) {
    VU8 x[NV];
    HWY_UNROLL(4)
    for (size_t v = 0; v < NV; ++v) x[v] = hn::LoadU(d8, chunks[v] + c * kV);
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r) {
      uint32_t word;
      memcpy(&word, &codes[r][4 * c], sizeof word);
      const VI8 w = hn::BitCast(di8, hn::Set(du32, word));
      HWY_UNROLL(4)
      for (size_t v = 0; v < NV; ++v) acc[r][v] = DotQuad(acc[r][v], x[v], w);
    }
  }
  HWY_UNROLL(4)
  for (size_t v = 0; v < NV; ++v) {
    const VI32 act_sum = hn::LoadU(d32, la.ActSums(v0 + v, s));
    const VF act_scale = hn::LoadU(df, la.Scales(v0 + v, s));
    HWY_UNROLL(16)
    for (size_t r = 0; r < R; ++r) {
      // sum of (code - 1) * q = sum of code * (q + 128) - 128 * sum of code - sum of q
      const VI32 sumi = hn::Sub(acc[r][v], hn::Add(hn::Set(d32, 128 * code_sums[r]), act_sum));
      const VF d = hn::Mul(act_scale, hn::Set(df, d_w[r]));
      float* out = sumf + r * sumf_stride + v * kL;
      hn::StoreU(hn::Add(hn::LoadU(df, out), hn::Mul(hn::ConvertTo(df, sumi), d)), df, out);
    }
  }
}

// Output rows [begin, end) against tokens [0, la.vectors * kL): tiles of R
// rows, each block of a tile decoded once per kVectors token vectors and
// met by each, NV at a time. The sums of a tile and those vectors stay on
// the stack: with them in the thread's scratch memory the same loop ran
// 1.6x slower (TQ2_0, N = 32), though not for page faults, alignment or
// 4 KiB address aliasing (padding them changed nothing).
template <class Decoded>
void LaneRows(const GemmProblem& p, const LaneActs& la, const Geometry& g, const PartScratch& scratch,
              size_t begin, size_t end) {
  constexpr size_t R = kLaneTileRows;
  constexpr size_t NV = 2;
  constexpr size_t F = Decoded::kFields;
  using D64 = hn::Repartition<uint64_t, D8>;
  const D64 d64;
  static_assert(R % 4 == 0, "code sums are taken four rows at a time");
  uint32_t field_at[4 * 5], field_bytes[4 * 5];
  CompactFieldOffsets(g, F == 5, field_at, field_bytes);
  const size_t scale_offset = GetLayout(p.layout).scale_offset;
  const size_t ahead = PrefetchDistance(R * g.row_bytes);
  constexpr size_t kVectors = 8;
  constexpr size_t kStride = kVectors * kL;
  HWY_ALIGN float sumf[R * kStride];  // [r * kStride + token of the pass]
  HWY_ALIGN uint8_t codes[R][kCodesBytes];
  int32_t code_sums[R];
  // Where the rows' block scales are, kL rows per HalvesAt (lanes past R
  // repeat row 0).
  constexpr size_t kScaleVectors = (R + kL - 1) / kL;
  HWY_ALIGN int32_t scale_at[kScaleVectors * kL];
  for (size_t i = 0; i < kScaleVectors * kL; ++i) {
    scale_at[i] = static_cast<int32_t>((i < R ? i : 0) * g.row_bytes);
  }
  HWY_ALIGN float d_w[kScaleVectors * kL];
  TileSource source(p, g, scratch.tile_copy);
  for (size_t r0 = begin; r0 < end; r0 += R) {
    const size_t nr = end - r0 < R ? end - r0 : R;
    const TileRows rows = source.Rows(r0, nr, R);
    for (size_t first = 0; first < la.vectors; first += kVectors) {
      const size_t vectors = la.vectors - first < kVectors ? la.vectors - first : kVectors;
      std::fill(sumf, sumf + R * kStride, 0.0f);
      for (size_t s = 0; s < g.steps; ++s) {
        const uint8_t* tile_block = rows.base + s * g.step_bytes;
        // The code sums (at most 512) of four rows in the 16-bit quarters of
        // each 64-bit lane: one lane total per four rows.
        hn::Vec<D64> quarters[R / 4];
        for (size_t q = 0; q < R / 4; ++q) quarters[q] = hn::Zero(d64);
        for (size_t r = 0; r < R; ++r) {
          const uint8_t* block = tile_block + r * rows.stride;
          for (size_t j = 0; j < g.loads; ++j) PrefetchWeights<WeightFetch::kToL1>(block + j * kV + ahead);
          const VU8 sums = DecodeBlock<Decoded>(block, field_at, field_bytes, g.loads, codes[r]);
          const int shift = static_cast<int>(16 * (r % 4));
          quarters[r / 4] = hn::Or(quarters[r / 4], hn::ShiftLeftSame(hn::SumsOf8(sums), shift));
        }
        for (size_t q = 0; q < R / 4; ++q) {
          const uint64_t total = hn::GetLane(hn::SumOfLanes(d64, quarters[q]));
          for (size_t i = 0; i < 4; ++i) {
            code_sums[4 * q + i] = static_cast<int32_t>((total >> (16 * i)) & 0xFFFF);
          }
        }
        for (size_t i = 0; i < kScaleVectors; ++i) {
          hn::Store(HalvesAt(tile_block + scale_offset, scale_at + i * kL), DF(), d_w + i * kL);
        }
        size_t v = 0;
        for (; v + NV <= vectors; v += NV) {
          LaneBlock<R, NV>(codes, code_sums, d_w, la, first + v, s, sumf + v * kL, kStride);
        }
        if (v < vectors) LaneBlock<R, 1>(codes, code_sums, d_w, la, first + v, s, sumf + v * kL, kStride);
      }
      // Token by token: each token's rows are consecutive in y.
      for (size_t t = 0; t < vectors * kL; ++t) {
        for (size_t r = 0; r < nr; ++r) p.y[(first * kL + t) * p.y_stride + r0 + r] = sumf[r * kStride + t];
      }
    }
  }
}

// Output rows [begin, end) against tokens [t_begin, t_end), at most
// kGroups groups of T (a short last group repeats its first token and
// stores only its own). Tiles of rows outer: every group meets a tile
// while it is in cache.
template <size_t T>
void RunGroups(const GemmProblem& p, const Arranged& a, const Geometry& g, size_t begin,
               size_t end, size_t t_begin, size_t t_end, const PartScratch& scratch) {
  // Q2_0's tiles are kL rows for any T (every token its own accumulators).
  const size_t R = p.layout == LayoutId::kQ2_0 ? kL : kL / T;
  const size_t groups = CeilDiv(t_end - t_begin, T);
  size_t tokens[kGroups * T];
  for (size_t grp = 0; grp < groups; ++grp) {
    const size_t t0 = t_begin + grp * T;
    for (size_t t = 0; t < T; ++t) tokens[grp * T + t] = t0 + (t0 + t < t_end ? t : 0);
    if (p.layout != LayoutId::kQ2_0) BuildStepLanes<T>(a, g, &tokens[grp * T], scratch.step_lanes[grp]);
  }
  const StepLanes* lanes = scratch.step_lanes;
  TileSource source(p, g, scratch.tile_copy);
  const Layout& l = GetLayout(p.layout);
  HWY_ALIGN float out[kGroups * kL * T];  // [grp * R*T + r*T + t]
  for (size_t r0 = begin; r0 < end; r0 += R) {
    const size_t nr = end - r0 < R ? end - r0 : R;
    const TileRows rows = source.Rows(r0, nr, R);
    switch (p.layout) {
      case LayoutId::kI2_S:
        for (size_t grp = 0; grp < groups; ++grp) {
          I2STile<T>(rows, &tokens[grp * T], a, g, lanes[grp], p.w_scale, &out[grp * kL]);
        }
        break;
      case LayoutId::kTQ2_0:
        TQTile<T, TwoBitFields>(rows, tokens, groups, a, g, lanes, l.scale_offset, out);
        break;
      case LayoutId::kTQ1_0:
        TQTile<T, TritFields>(rows, tokens, groups, a, g, lanes, l.scale_offset, out);
        break;
      case LayoutId::kQ2_0:
        for (size_t grp = 0; grp < groups; ++grp) {
          Q2_0Tile<T>(rows, &tokens[grp * T], a, g, &out[grp * kL * T]);
        }
        break;
      case LayoutId::kF32:
      case LayoutId::kF16:
      case LayoutId::kBF16:
      case LayoutId::kQ8_0:
      case LayoutId::kQ8_K:
      case LayoutId::kIQ2_S:
      case LayoutId::kHfBitnet:
      case LayoutId::kBitnetRsI2S: break;
    }
    for (size_t grp = 0; grp < groups; ++grp) {
      const size_t t0 = t_begin + grp * T;
      const size_t nt = t_end - t0 < T ? t_end - t0 : T;
      for (size_t r = 0; r < nr; ++r) {
        for (size_t t = 0; t < nt; ++t) p.y[(t0 + t) * p.y_stride + r0 + r] = out[grp * R * T + r * T + t];
      }
    }
  }
}

template <size_t T>
void RunRows(const GemmProblem& p, const Arranged& a, const Geometry& g, const PartScratch& scratch,
             size_t begin, size_t end, size_t t_begin, size_t t_end) {
  for (size_t t0 = t_begin; t0 < t_end; t0 += kGroups * T) {
    RunGroups<T>(p, a, g, begin, end, t0, t_end - t0 < kGroups * T ? t_end : t0 + kGroups * T, scratch);
  }
}

void Rows(const GemmProblem& p, const uint8_t* ws, uint8_t* scratch_memory, size_t begin, size_t end) {
  ReportThisTarget();
  const Geometry g = GeometryOf(p);
  const Arranged a = ArrangedOf(p, ws);
  const LaneActs la = LaneActsOf(p, ws);
  PartScratch scratch;
  CutScratch(p, scratch_memory, &scratch);
  if (la.vectors != 0) {
    if (p.layout == LayoutId::kTQ1_0) {
      LaneRows<TritFields>(p, la, g, scratch, begin, end);
    } else {
      LaneRows<TwoBitFields>(p, la, g, scratch, begin, end);
    }
  }
  // The other tokens: four share each decoded weight load; a last one to
  // three go alone.
  const size_t t4 = a.first + a.batch / 4 * 4;
  if (t4 != a.first) RunRows<4>(p, a, g, scratch, begin, end, a.first, t4);
  if (t4 != p.batch) RunRows<1>(p, a, g, scratch, begin, end, t4, p.batch);
}

const GemmKernels kHwyGemmKernels = {WorkspaceBytes, Arrange, ScratchBytes, Rows, kL};

const GemmKernels* GetGemmKernels() { return &kHwyGemmKernels; }

#endif  // HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(GetGemmKernels);

const GemmKernels* HwyGemmKernels(int64_t hwy_target) {
  const auto get = HwyTableEntry(HWY_DISPATCH_TABLE(GetGemmKernels), hwy_target);
  return get != nullptr ? get() : nullptr;
}

}  // namespace bitnet
#endif  // HWY_ONCE
