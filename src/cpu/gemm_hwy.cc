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
// integers directly). A tile of R rows x T tokens keeps R*T accumulators;
// at each float step of the reference (a TQ block, a Q8_0 block, an I2_S
// row) they are reduced into one vector whose lanes are the tile's
// (row, token) pairs, and the reference's float operations run on those
// lanes in its order. Rows and tokens past the end of a tile are computed
// on copies and not stored. Every result is the reference's, bit for bit.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/gemm_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cstring>
#include <vector>

#include "cpu/gemm_kernels.h"
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

#if HWY_TARGET == HWY_SCALAR

// One-lane vectors cannot hold the four bytes of an int32 lane: this target
// runs the references.
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

// The 2-bit field at bits 2k of every byte.
template <int k>
HWY_INLINE VU8 Field(VU8 packed) {
  const D8 d8;
  const D16 d16;
  return hn::And(hn::BitCast(d8, hn::ShiftRight<2 * k>(hn::BitCast(d16, packed))), hn::Set(d8, 3));
}

// The five base-3 digits of TQ1_0 bytes (ggml: digit n = ((uint8)(b * 3^n)
// * 3) >> 8). With t_0 = b and t_{n+1} = 3 t_n mod 256, digit n is
// floor(3 t_n / 256) = [t_n >= 86] + [t_n >= 171].
HWY_INLINE void Digits(VU8 t, VU8 out[5]) {
  const D8 d8;
  const VU8 one = hn::Set(d8, 1), lo = hn::Set(d8, 85), hi = hn::Set(d8, 170);
  for (int n = 0; n < 5; ++n) {
    out[n] = hn::Add(hn::IfThenElseZero(hn::Gt(t, lo), one), hn::IfThenElseZero(hn::Gt(t, hi), one));
    t = hn::Add(hn::Add(t, t), t);
  }
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

// ---- arranged activations -----------------------------------------------
// Per token: the int8 activations in field order (`act_bytes` each, a
// multiple of kV), then per float step of the layout its integer sum of
// activations and its scale.
struct Step {
  int32_t act_sum;
  float scale;
};

struct Arranged {
  const uint8_t* base;
  size_t act_bytes;    // per token
  size_t steps;        // float steps per token
  size_t batch;
  const int8_t* Acts(size_t t) const {
    return reinterpret_cast<const int8_t*>(base + t * act_bytes);
  }
  const Step* Steps(size_t t) const {
    return reinterpret_cast<const Step*>(base + batch * act_bytes) + t * steps;
  }
};

size_t CeilDiv(size_t a, size_t b) { return a / b + (a % b != 0); }

// How each layout's rows are cut into vector loads, and which activation
// each lane of each field meets.
struct Geometry {
  size_t fields;          // per load: 4 two-bit fields, or 5 digits
  size_t loads;           // per float step
  size_t steps;           // per row
  size_t step_bytes;      // weight bytes from one step to the next
  size_t row_bytes;       // weight bytes of a row
};

// I2_S rows are taken in whole 128-blocks: cols rounded up (the kernel
// realigns rows that do not start on a block).
size_t I2SPaddedCols(size_t cols) { return CeilDiv(cols, kI2SBlock) * kI2SBlock; }

Geometry GeometryOf(const GemmProblem& p) {
  const Layout& l = GetLayout(p.layout);
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const size_t bytes = I2SPaddedCols(p.cols) / 4;
      return {4, CeilDiv(bytes, kV), 1, 0, bytes};
    }
    case LayoutId::kTQ2_0:
      return {4, 64 / kV, p.cols / kQK_K, l.block_bytes, p.cols / kQK_K * l.block_bytes};
    case LayoutId::kTQ1_0:
      return {5, 64 / kV, p.cols / kQK_K, l.block_bytes, p.cols / kQK_K * l.block_bytes};
    case LayoutId::kQ2_0: {
      const size_t blocks = p.cols / kQK2_0;
      return {4, 1, CeilDiv(blocks, kV / 16), (kV / 16) * l.block_bytes, blocks * l.block_bytes};
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
  return {4, 1, 0, 0, 0};
}

size_t ActBytes(const Geometry& g) {
  return g.steps * g.loads * g.fields * kV;
}

size_t WorkspaceBytes(const GemmProblem& p) {
  const Geometry g = GeometryOf(p);
  const size_t steps = p.layout == LayoutId::kQ2_0 ? g.steps * kL : g.steps;
  return p.batch * (ActBytes(g) + steps * sizeof(Step));
}

Arranged ArrangedOf(const GemmProblem& p, const uint8_t* ws) {
  const Geometry g = GeometryOf(p);
  const size_t steps = p.layout == LayoutId::kQ2_0 ? g.steps * kL : g.steps;
  return {ws, ActBytes(g), steps, p.batch};
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

long TritElement(size_t byte, size_t digit) {
  if (byte < 32) return static_cast<long>(byte + 32 * digit);
  if (byte < 48) return static_cast<long>(160 + (byte - 32) + 16 * digit);
  if (byte < 52 && digit < 4) return static_cast<long>(240 + (byte - 48) + 4 * digit);
  return -1;
}

const uint8_t* TokenBlocks(const GemmProblem& p, size_t t) {
  return p.acts.blocks + t * p.acts.row_bytes;
}

void ArrangeToken(const GemmProblem& p, const Geometry& g, const Arranged& a, size_t t) {
  int8_t* out = const_cast<int8_t*>(a.Acts(t));
  Step* steps = const_cast<Step*>(a.Steps(t));
  switch (p.layout) {
    case LayoutId::kI2_S: {
      const int8_t* q = p.acts.q + t * p.cols;
      const size_t bytes = g.row_bytes;
      for (size_t j = 0; j < g.loads; ++j) {
        for (size_t f = 0; f < 4; ++f, out += kV) {
          for (size_t i = 0; i < kV; ++i) {
            const size_t byte = j * kV + i;
            const long e = byte < bytes ? TwoBitElement(byte, f, true) : -1;
            out[i] = e >= 0 && static_cast<size_t>(e) < p.cols ? q[e] : 0;
          }
        }
      }
      steps[0] = {p.acts.sums[t], p.acts.scales[t]};
      return;
    }
    case LayoutId::kTQ2_0:
    case LayoutId::kTQ1_0: {
      const bool trits = p.layout == LayoutId::kTQ1_0;
      for (size_t s = 0; s < g.steps; ++s) {
        const uint8_t* block = TokenBlocks(p, t) + s * 292;
        const int8_t* q = reinterpret_cast<const int8_t*>(block + 4);
        int32_t sum = 0;
        for (size_t e = 0; e < kQK_K; ++e) sum += q[e];
        float d;
        memcpy(&d, block, sizeof d);
        steps[s] = {sum, d};
        for (size_t j = 0; j < g.loads; ++j) {
          for (size_t f = 0; f < g.fields; ++f, out += kV) {
            for (size_t i = 0; i < kV; ++i) {
              const size_t byte = j * kV + i;
              const long e = trits ? TritElement(byte, f) : TwoBitElement(byte, f, false);
              out[i] = e >= 0 ? q[e] : 0;
            }
          }
        }
      }
      return;
    }
    case LayoutId::kQ2_0: {
      // Load s holds Q2_0 blocks s*kV/16 + i/16 (missing ones: no act),
      // byte i%16 of each: elements 4*(i%16) + field. Its steps: per lane
      // 4*blk + 2*h + (0|1), the Q8_0 block 2*blk + h's act sum and scale.
      const size_t blocks = p.cols / kQK2_0;
      const uint8_t* y = TokenBlocks(p, t);
      for (size_t s = 0; s < g.steps; ++s) {
        for (size_t f = 0; f < 4; ++f, out += kV) {
          for (size_t i = 0; i < kV; ++i) {
            const size_t blk = s * (kV / 16) + i / 16;
            const size_t e = 4 * (i % 16) + f;
            out[i] = blk < blocks
                         ? static_cast<int8_t>(y[(2 * blk + e / 32) * 34 + 2 + e % 32])
                         : 0;
          }
        }
        for (size_t lane = 0; lane < kL; ++lane) {
          const size_t blk = s * (kV / 16) + lane / 4;
          Step st{0, 0.0f};
          if (blk < blocks) {
            const uint8_t* q8 = y + (2 * blk + (lane % 4) / 2) * 34;
            for (size_t e = 0; e < kQK8_0; ++e) st.act_sum += static_cast<int8_t>(q8[2 + e]);
            st.scale = Half(q8);
          }
          steps[s * kL + lane] = st;
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

void Arrange(const GemmProblem& p, uint8_t* ws, size_t begin, size_t end) {
  const Geometry g = GeometryOf(p);
  const Arranged a = ArrangedOf(p, ws);
  for (size_t t = begin; t < end; ++t) ArrangeToken(p, g, a, t);
}

// ---- tiles ---------------------------------------------------------------

// The rows and tokens of one tile. Pointers of missing rows/tokens repeat
// the first, whose results are not stored.
template <size_t R, size_t T>
struct Tile {
  const uint8_t* row[R];
  size_t token[T];
};

// Decoded fields of one weight load.
template <size_t F>
struct Fields {
  VU8 v[F];
};

HWY_INLINE Fields<4> DecodeTwoBit(VU8 packed) {
  return {{Field<0>(packed), Field<1>(packed), Field<2>(packed), Field<3>(packed)}};
}

HWY_INLINE Fields<5> DecodeTrits(VU8 packed) {
  Fields<5> f;
  Digits(packed, f.v);
  return f;
}

// One float step of a streaming tile (I2_S: the whole row; TQ: a block):
// acc[r*T + t] += the step's code * act sums.
template <size_t R, size_t T, size_t F, class Decode>
HWY_INLINE void StepSums(const Tile<R, T>& tile, const Arranged& a, const Geometry& g, size_t s,
                         const Decode& decode, VI32* acc) {
  const D8 d8;
  const DI8 di8;
  const int8_t* acts[T];
  for (size_t t = 0; t < T; ++t) acts[t] = a.Acts(tile.token[t]) + s * g.loads * F * kV;
  for (size_t j = 0; j < g.loads; ++j) {
    for (size_t r = 0; r < R; ++r) {
      const Fields<F> f = decode(hn::LoadU(d8, tile.row[r] + s * g.step_bytes + j * kV));
      for (size_t t = 0; t < T; ++t) {
        for (size_t k = 0; k < F; ++k) {
          acc[r * T + t] = DotQuad(acc[r * T + t], f.v[k], hn::LoadU(di8, acts[t] + (j * F + k) * kV));
        }
      }
    }
  }
}

template <size_t R, size_t T>
void I2STile(const Tile<R, T>& tile, const Arranged& a, const Geometry& g, float w_scale,
             float* out) {
  const D32 d32;
  const DF df;
  VI32 acc[kL];
  for (VI32& v : acc) v = hn::Zero(d32);
  StepSums<R, T, 4>(tile, a, g, 0, DecodeTwoBit, acc);
  HWY_ALIGN int32_t sums[kL];
  LaneTotals(acc, sums);
  HWY_ALIGN float act_sum[kL], act_scale[kL];
  for (size_t i = 0; i < kL; ++i) {
    const Step& st = a.Steps(tile.token[i % T])[0];
    act_sum[i] = static_cast<float>(st.act_sum);
    act_scale[i] = st.scale;
  }
  // ((float)sum - (float)act_sum) / act_scale * w_scale
  const VF raw = hn::ConvertTo(df, hn::Load(d32, sums));
  const VF y = hn::Mul(hn::Div(hn::Sub(raw, hn::Load(df, act_sum)), hn::Load(df, act_scale)),
                       hn::Set(df, w_scale));
  hn::Store(y, df, out);
}

// TQ1_0 / TQ2_0: sumf += (float)(sum of (code - 1) * q) * (d_w * d_q) per
// block, the product of the scales in either order (TQ2_0 writes
// d_q * d_w): the same number.
template <size_t R, size_t T, size_t F, class Decode>
void TQTile(const Tile<R, T>& tile, const Arranged& a, const Geometry& g, size_t scale_offset,
            const Decode& decode, float* out) {
  const D32 d32;
  const DF df;
  VF sumf = hn::Zero(df);
  HWY_ALIGN int32_t sums[kL], act_sums[kL];
  HWY_ALIGN float scales[kL];
  for (size_t s = 0; s < g.steps; ++s) {
    VI32 acc[kL];
    for (VI32& v : acc) v = hn::Zero(d32);
    StepSums<R, T, F>(tile, a, g, s, decode, acc);
    LaneTotals(acc, sums);
    for (size_t r = 0; r < R; ++r) {
      const float dw = Half(tile.row[r] + s * g.step_bytes + scale_offset);
      for (size_t t = 0; t < T; ++t) {
        const Step& st = a.Steps(tile.token[t])[s];
        scales[r * T + t] = st.scale * dw;
        act_sums[r * T + t] = st.act_sum;
      }
    }
    const VI32 sumi = hn::Sub(hn::Load(d32, sums), hn::Load(d32, act_sums));
    sumf = hn::Add(sumf, hn::Mul(hn::ConvertTo(df, sumi), hn::Load(df, scales)));
  }
  hn::Store(sumf, df, out);
}

// The code bytes of the kV/16 Q2_0 blocks of one load (16 each; a block
// past the row is `zero`).
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

// Q2_0: per block, sumb = ((0.0f + (float)s0 * d_q0) + (float)s1 * d_q1) and
// sumf += sumb * d_w, with s0, s1 the two Q8_0 halves' sums of
// (code - 1) * q. Lanes of a load: 4*blk + 2*h + (0|1) hold half h of block
// blk; the float steps of a block run on its lane 4*blk, the sequential sum
// over blocks per (row, token).
template <size_t R, size_t T>
void Q2_0Tile(const Tile<R, T>& tile, const Arranged& a, const Geometry& g, size_t blocks,
              float* out) {
  const D32 d32;
  const DF df;
  constexpr size_t kBlocks = kV / 16;  // per load
  static const uint8_t kZeroBlock[18] = {0};
  float sumf[R * T];
  for (float& v : sumf) v = 0.0f;
  HWY_ALIGN float dw[kL], sumb[kL];
  for (size_t s = 0; s < g.steps; ++s) {
    const size_t first = s * kBlocks;
    const size_t count = blocks - first < kBlocks ? blocks - first : kBlocks;
    for (size_t r = 0; r < R; ++r) {
      const uint8_t* blk[kBlocks];
      for (size_t b = 0; b < kBlocks; ++b) {
        blk[b] = b < count ? tile.row[r] + (first + b) * 18 : kZeroBlock;
        dw[4 * b] = dw[4 * b + 1] = dw[4 * b + 2] = dw[4 * b + 3] = b < count ? Half(blk[b]) : 0.0f;
      }
      const Fields<4> f = DecodeTwoBit(LoadQ2_0Codes(blk));
      for (size_t t = 0; t < T; ++t) {
        const int8_t* acts = a.Acts(tile.token[t]) + s * 4 * kV;
        const Step* st = a.Steps(tile.token[t]) + s * kL;
        VI32 acc = hn::Zero(d32);
        for (size_t k = 0; k < 4; ++k) acc = DotQuad(acc, f.v[k], hn::LoadU(DI8(), acts + k * kV));
        // Lane pairs (2m, 2m+1) are one Q8_0 block; subtract its act sum.
        HWY_ALIGN int32_t act_sum[kL];
        HWY_ALIGN float scale[kL];
        for (size_t i = 0; i < kL; ++i) {
          act_sum[i] = st[i].act_sum;
          scale[i] = st[i].scale;
        }
        const VI32 pair = hn::Add(acc, hn::Shuffle2301(acc));
        const VI32 sumi = hn::Sub(pair, hn::Load(d32, act_sum));
        const VF prod = hn::Mul(hn::ConvertTo(df, sumi), hn::Load(df, scale));
        const VF first_half = hn::Add(hn::Zero(df), prod);
        const VF block_sum = hn::Add(first_half, hn::Shuffle1032(first_half));
        hn::Store(hn::Mul(block_sum, hn::Load(df, dw)), df, sumb);
        float& acc_f = sumf[r * T + t];
        for (size_t b = 0; b < count; ++b) acc_f = acc_f + sumb[4 * b];
      }
    }
  }
  for (size_t i = 0; i < R * T; ++i) out[i] = sumf[i];
}

// ---- driving the tiles ---------------------------------------------------

// A copy of rows the kernels cannot read in place: I2_S rows that do not
// start on a 128-block (realigned, padded with code 0 whose act is 0), and
// the last row of TQ1_0, whose last 54-byte block is read as 64 bytes.
class RowCopies {
 public:
  RowCopies(const GemmProblem& p, const Geometry& g) : p_(p), g_(g) {}

  const uint8_t* Row(size_t r) {
    if (p_.layout == LayoutId::kI2_S) {
      if (p_.cols % kI2SBlock == 0) return p_.weights + r * g_.row_bytes;
      return Realigned(r);
    }
    const uint8_t* row = p_.weights + r * g_.row_bytes;
    if (p_.layout == LayoutId::kTQ1_0 && r + 1 == p_.rows) {
      last_.assign(g_.row_bytes + kV, 0);
      memcpy(last_.data(), row, g_.row_bytes);
      return last_.data();
    }
    return row;
  }

 private:
  const uint8_t* Realigned(size_t r) {
    const Layout& l = GetLayout(LayoutId::kI2_S);
    std::vector<uint8_t>& out = realigned_[r % kMaxTileRows];
    out.assign(g_.row_bytes + kV, 0);
    uint8_t codes[kI2SBlock];
    for (size_t b = 0; b * kI2SBlock < p_.cols; ++b) {
      for (size_t j = 0; j < kI2SBlock; ++j) {
        const size_t k = b * kI2SBlock + j;
        const size_t e = r * p_.cols + k;
        codes[j] = k < p_.cols
                       ? static_cast<uint8_t>(BlockCode(l, p_.weights + (e / kI2SBlock) * l.block_bytes,
                                                        e % kI2SBlock))
                       : 0;
      }
      PackBlockCodes(l, codes, out.data() + b * l.block_bytes);
    }
    return out.data();
  }

  static constexpr size_t kMaxTileRows = kL;
  const GemmProblem& p_;
  const Geometry& g_;
  std::vector<uint8_t> last_;
  std::vector<uint8_t> realigned_[kMaxTileRows];
};

template <size_t T>
void RunTiles(const GemmProblem& p, const Arranged& a, const Geometry& g, size_t begin,
              size_t end, size_t t_begin, size_t t_end) {
  constexpr size_t R = kL / T;
  RowCopies copies(p, g);
  HWY_ALIGN float out[kL];
  for (size_t r0 = begin; r0 < end; r0 += R) {
    const size_t nr = end - r0 < R ? end - r0 : R;
    Tile<R, T> tile;
    for (size_t r = 0; r < R; ++r) tile.row[r] = r < nr ? copies.Row(r0 + r) : tile.row[0];
    for (size_t t0 = t_begin; t0 < t_end; t0 += T) {
      const size_t nt = t_end - t0 < T ? t_end - t0 : T;
      for (size_t t = 0; t < T; ++t) tile.token[t] = t0 + (t < nt ? t : 0);
      switch (p.layout) {
        case LayoutId::kI2_S: I2STile(tile, a, g, p.w_scale, out); break;
        case LayoutId::kTQ2_0:
          TQTile<R, T, 4>(tile, a, g, GetLayout(p.layout).scale_offset, DecodeTwoBit, out);
          break;
        case LayoutId::kTQ1_0:
          TQTile<R, T, 5>(tile, a, g, GetLayout(p.layout).scale_offset, DecodeTrits, out);
          break;
        case LayoutId::kQ2_0: Q2_0Tile(tile, a, g, p.cols / kQK2_0, out); break;
        case LayoutId::kF32:
        case LayoutId::kF16:
        case LayoutId::kBF16:
        case LayoutId::kQ8_0:
        case LayoutId::kQ8_K:
        case LayoutId::kIQ2_S:
        case LayoutId::kHfBitnet:
        case LayoutId::kBitnetRsI2S: break;
      }
      for (size_t r = 0; r < nr; ++r) {
        for (size_t t = 0; t < nt; ++t) p.y[(t0 + t) * p.y_stride + r0 + r] = out[r * T + t];
      }
    }
  }
}

void Rows(const GemmProblem& p, const uint8_t* ws, size_t begin, size_t end) {
  const Geometry g = GeometryOf(p);
  const Arranged a = ArrangedOf(p, ws);
  // Tiles of kL (row, token) pairs: one token over kL rows for decoding,
  // four tokens over kL/4 rows (weights decoded once for four) for more.
  const size_t t4 = p.batch / 4 * 4;
  if (t4 != 0) RunTiles<4>(p, a, g, begin, end, 0, t4);
  if (t4 != p.batch) RunTiles<1>(p, a, g, begin, end, t4, p.batch);
}

const GemmKernels kHwyGemmKernels = {WorkspaceBytes, Arrange, Rows, kL};

const GemmKernels* GetGemmKernels() { return &kHwyGemmKernels; }

#endif  // HWY_TARGET == HWY_SCALAR

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
