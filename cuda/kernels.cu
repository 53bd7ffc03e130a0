// Quantize / dequantize kernels of both BitNet-rs families, bit for bit the
// scalar references of src/formats/ (whose element rules they share). The
// build compiles this file with -fmad=false and IEEE division (no fast math):
// every a*b+c below rounds twice, as on the CPU.
//
// Work mapping. Quad q = elements [4q, 4q+4) = packed byte q; a block of B
// elements is B/4 quads (B is a multiple of 4, so a quad never straddles
// two blocks). Blocks of at most 512 elements each go to a group of 1..32
// lanes of one warp (the fewest, a power of two, that leave each lane at
// most 4 quads of a block, but at least kMinLanes: the per-block work, the
// scale reduction (warp shuffles) and the rule's setup, is shared by as
// many elements as possible); each lane holds 4 quads in registers (of 4,
// 2 or 1 blocks) from the reduction to the codes, so the input is read
// once, with 4 loads in flight per thread. Larger blocks each go to a whole
// thread block, which reads its block twice (the second time mostly from
// cache). Grids cover the whole work (GridFor).
#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "formats/bitnet_rs_kernel.h"
#include "formats/bitnet_rs_quantizer.h"

namespace bitnet {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr unsigned kMaxQuadsPerLane = 4;
// Lanes per block at least (where it has as many quads): each load
// instruction then reads 64-byte pieces of the input, not the 32-byte ones
// of 2-lane groups of 32-element blocks; on an H100 that took I2_S quantize
// from 85 to 89 % of the copy bandwidth, 8 lanes (4 blocks, so 4 scales
// and reductions per lane) back to 77 %.
constexpr unsigned kMinLanes = 4;
constexpr size_t kMaxWarpBlock = 4 * kWarp * kMaxQuadsPerLane;  // 512 elements

// The largest |x| of a block over its finite elements (-1 when there is
// none), and over its non-NaN elements (-1 when every element is NaN). The
// -1 tells the deferral whether a block holds a finite element, with no
// per-element flag beside the maximum.
struct BlockMax {
  float finite = -1.0f;
  float nonnan = -1.0f;
  __device__ bool HasFinite() const { return finite >= 0.0f; }
  // The reference's finite absmax: 0 when there is no finite element.
  __device__ float FiniteAbsMax() const { return fmaxf(finite, 0.0f); }
};

__device__ __forceinline__ void Add(BlockMax& m, float x) {
  const float a = fabsf(x);
  if (isfinite(x)) m.finite = fmaxf(m.finite, a);
  m.nonnan = fmaxf(m.nonnan, a);  // fmaxf ignores a NaN
}

__device__ __forceinline__ void Merge(BlockMax& m, float finite, float nonnan) {
  m.finite = fmaxf(m.finite, finite);
  m.nonnan = fmaxf(m.nonnan, nonnan);
}

// A TL1/TL2 level table of the kernel family, passed by value.
struct Levels {
  float v[4];
};

// ---- the division-free code --------------------------------------------------
// Every rule below codes a finite element x of a block as Q(y) of the IEEE
// quotient y = fl(x/d), d > 0 the block's divisor, where Q's rank (the
// position of its code in Rule::kCodes) is non-decreasing in y over every
// quotient a finite element can give (|y| <= 1.5 + 2^-22, or y in
// [-3.4e8, 3.4e8] for a family-A block whose scale is capped at 1e30). So
// rank(Q(y)) = #{k : y >= Y_k}, Y_k the least float of [-4, 4] of rank >= k
// (found on the host by bisection on Q itself, CutsOf). Per block:
//   hi_k = fl_up(Y_k * d) >= Y_k * d and lo_k = fl_down(pred(Y_k) * d) <= pred(Y_k) * d
// (directed rounding bounds the real products). Since fl(x/d) is monotone in x:
//   x >= hi_k  =>  x/d >= Y_k        =>  fl(x/d) >= Y_k
//   x <  lo_k  =>  x/d <  pred(Y_k)  =>  fl(x/d) <= pred(Y_k) < Y_k
// and lo_k <= hi_k. When #{x >= hi_k} == #{x >= lo_k}, every k is decided,
// and that count is y's rank with no division. Otherwise (x within about an
// ulp of a cut; a NaN x; an infinite d; see CodeByte), the rule's own
// division decides.
constexpr unsigned kMaxCuts = 3;

struct Cuts {
  float at[kMaxCuts];     // Y_k
  float below[kMaxCuts];  // pred(Y_k)
};

// What a quantize kernel takes beside its buffers.
struct RuleParams {
  Levels levels;
  Cuts cuts;
};

// Codes listed in rank order, two bits each, lowest rank first.
constexpr unsigned CodeOrder(unsigned c0, unsigned c1, unsigned c2, unsigned c3 = 0) {
  return c0 | c1 << 2 | c2 << 4 | c3 << 6;
}

// The code of rank r.
__host__ __device__ constexpr unsigned CodeOfRank(unsigned codes, unsigned r) {
  return (codes >> (2 * r)) & 3u;
}

template <unsigned kCuts>
struct Bracket {
  float lo[kCuts];
  float hi[kCuts];
  __device__ Bracket(float divisor, const Cuts& cuts) {
#pragma unroll
    for (unsigned k = 0; k < kCuts; ++k) {
      lo[k] = isfinite(divisor) ? __fmul_rd(cuts.below[k], divisor) : -INFINITY;
      hi[k] = isfinite(divisor) ? __fmul_ru(cuts.at[k], divisor) : NAN;
    }
  }
};

// ---- element rules: one block's scale, then each element's 2-bit code ------
// `scale` is the block's stored scale, `bracket` its division-free form,
// Code(x) the rule itself. kUsesNonNan: the rule needs BlockMax::nonnan
// (else its reduction is skipped). QuotientCode(y) = Q(y) above. kInfApart:
// an infinite x with a finite d is not coded as Q's monotone extension
// (I2_S codes it 2; NearestLevel(+-Inf) is 0). kLowCuts: how many of the
// lowest cuts lie at or below -1 (Y_0 = -1.5 for the quantizers' I2_S and
// TL1), so that every finite x with |x| <= d passes them, as |fl(x/d)| <= 1;
// Bounded(): d bounds every finite |x| of the block (the block maximum's own
// scale, not a capped one), so CodeByte may skip those cuts.

// Family A, I2SQuantizer: for finite x, I2SValue(x, s) = I2SValue(fl(x/s), 1).
struct QuantizerI2S {
  static constexpr bool kUsesNonNan = false;
  static constexpr bool kInfApart = true;
  static constexpr unsigned kCuts = 3;
  static constexpr unsigned kLowCuts = 1;
  static constexpr unsigned kCodes = CodeOrder(0, 1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    return static_cast<unsigned>(I2SValue(y, 1.0f) + 2);
  }
  float scale;
  bool bounded;
  Bracket<kCuts> bracket;
  __device__ QuantizerI2S(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.FiniteAbsMax())),
        bounded(scale >= m.FiniteAbsMax()),
        bracket(scale, p.cuts) {}
  __device__ bool Bounded() const { return bounded; }
  __device__ unsigned Code(float x) const { return static_cast<unsigned>(I2SValue(x, scale) + 2); }
};

// TL1Quantizer: its table scale is the block's non-NaN absmax (infinite when
// there is none, 1 when it is 0). forward[round(x/s + 128)] of the reference
// is the step function [t >= 126.5] + [t >= 127.5] + [t >= 128.5] of the same
// t = x/s + 128 (every step is at a representable half-integer, so rounding
// first changes nothing), and every entry is 2 when s is infinite; the same
// forms as src/cpu/quantize_hwy.cc, which the tests check against the reference.
struct QuantizerTl1 {
  static constexpr bool kUsesNonNan = true;
  static constexpr bool kInfApart = false;
  static constexpr unsigned kCuts = 3;
  static constexpr unsigned kLowCuts = 1;
  static constexpr unsigned kCodes = CodeOrder(0, 1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    const float t = y + 128.0f;
    return (t >= 126.5f) + (t >= 127.5f) + (t >= 128.5f);
  }
  float scale;
  float table_scale;
  Bracket<kCuts> bracket;
  __device__ QuantizerTl1(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.FiniteAbsMax())),
        table_scale(m.nonnan < 0.0f ? INFINITY : m.nonnan == 0.0f ? 1.0f : m.nonnan),
        bracket(table_scale, p.cuts) {}
  // Finite |x| <= nonnan absmax <= table scale (1 when that is 0).
  __device__ static constexpr bool Bounded() { return true; }
  __device__ unsigned Code(float x) const {
    return isinf(table_scale) ? 2 : QuotientCode(x / table_scale, Levels{});
  }
};

// TL2Quantizer: forward[round(x/s*128 + 128)] = 1 + [t >= 64.5] + [t >= 191.5].
struct QuantizerTl2 {
  static constexpr bool kUsesNonNan = false;
  static constexpr bool kInfApart = false;
  static constexpr unsigned kCuts = 2;
  static constexpr unsigned kLowCuts = 0;
  __device__ static constexpr bool Bounded() { return false; }
  static constexpr unsigned kCodes = CodeOrder(1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    const float t = y * 128.0f + 128.0f;
    return 1u + (t >= 64.5f) + (t >= 191.5f);
  }
  float scale;
  Bracket<kCuts> bracket;
  __device__ QuantizerTl2(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.FiniteAbsMax())), bracket(scale, p.cuts) {}
  __device__ unsigned Code(float x) const { return QuotientCode(x / scale, Levels{}); }
};

// Family B (FallbackKernel): scale from the non-NaN absmax (infinite when an
// element is), reference rules.
struct KernelI2S {
  static constexpr bool kUsesNonNan = true;
  static constexpr bool kInfApart = false;
  static constexpr unsigned kCuts = 2;
  static constexpr unsigned kLowCuts = 0;
  __device__ static constexpr bool Bounded() { return false; }
  static constexpr unsigned kCodes = CodeOrder(3, 0, 1);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    return KernelI2SCode(y);
  }
  float scale;
  Bracket<kCuts> bracket;
  __device__ KernelI2S(const BlockMax& m, const RuleParams& p)
      : scale(KernelScale(fmaxf(m.nonnan, 0.0f))), bracket(scale, p.cuts) {}
  __device__ unsigned Code(float x) const { return KernelI2SCode(x / scale); }
};

struct KernelNearestLevel {
  static constexpr bool kUsesNonNan = true;
  static constexpr bool kInfApart = true;
  static constexpr unsigned kCuts = 3;
  static constexpr unsigned kLowCuts = 0;
  __device__ static constexpr bool Bounded() { return false; }
  static constexpr unsigned kCodes = CodeOrder(0, 1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels& levels) {
    return NearestLevel(y, levels.v);
  }
  float scale;
  Levels levels;
  Bracket<kCuts> bracket;
  __device__ KernelNearestLevel(const BlockMax& m, const RuleParams& p)
      : scale(KernelScale(fmaxf(m.nonnan, 0.0f))), levels(p.levels), bracket(scale, p.cuts) {}
  __device__ unsigned Code(float x) const { return NearestLevel(x / scale, levels.v); }
};

// ---- quads ---------------------------------------------------------------------

// Elements of block b (of at most 2^20), the last one possibly short.
__device__ __forceinline__ unsigned BlockLength(size_t n, unsigned block, size_t b) {
  const size_t rest = n - b * block;
  return rest < block ? static_cast<unsigned>(rest) : block;
}

// Loads the elements of the quad starting at element e of a block that lie
// before its length len, the rest NaN (which no block maximum counts);
// returns how many. kAligned: x is 16-byte aligned, so whole quads load as
// one float4. Offsets within a block are 32-bit (blocks hold at most 2^20).
template <bool kAligned>
__device__ __forceinline__ unsigned LoadQuad(const float* __restrict__ x, unsigned len, unsigned e,
                                             float v[4]) {
  if (kAligned && e + 4 <= len) {
    const float4 f = __ldg(reinterpret_cast<const float4*>(x + e));
    v[0] = f.x;
    v[1] = f.y;
    v[2] = f.z;
    v[3] = f.w;
    return 4;
  }
  const unsigned count = len - e < 4 ? len - e : 4u;
#pragma unroll
  for (unsigned i = 0; i < 4; ++i) v[i] = i < count ? __ldg(x + e + i) : NAN;
  return count;
}

// Adds a quad loaded by LoadQuad (its padding is NaN) to the maxima.
template <class Rule>
__device__ __forceinline__ void AddQuad(BlockMax& m, const float v[4]) {
#pragma unroll
  for (unsigned i = 0; i < 4; ++i) {
    if (Rule::kUsesNonNan) {
      Add(m, v[i]);
    } else if (isfinite(v[i])) {
      m.finite = fmaxf(m.finite, fabsf(v[i]));
    }
  }
}

// The packed byte of a quad: codes LSB first, bits past `count` zero. The
// rule's division codes the whole quad when the bracket leaves one undecided.
// Cut k of element x is decided when x >= hi_k or x < lo_k (lo_k <= hi_k, so
// that is #{x >= hi_k} == #{x >= lo_k} cut by cut); a NaN x never is, nor is
// any x when d is infinite (hi NaN, lo -Inf). x = +-Inf with a finite d gets
// the top / bottom rank, as fl(x/d) = +-Inf does where Q is monotone up to
// +-Inf (kInfApart: the rule codes it apart). When all are decided, the
// [x >= hi_k] are the exact [fl(x/d) >= Y_k], nested in k, so adding code
// steps CodeOfRank(k+1) - CodeOfRank(k) for the cuts passed to each field,
// from the lowest rank's code, leaves every field in [0, 3]: the sum is the
// packed codes, with no carry between fields (a predicated add per cut
// instead of counting ranks and looking codes up).
// kFirst: cuts below it are known passed by every finite x (Rule::kLowCuts).
template <class Rule, unsigned kFirst>
__device__ __forceinline__ uint8_t CodeByteFrom(const Rule& rule, const float v[4],
                                                unsigned count) {
  static_assert(kFirst < Rule::kCuts, "a NaN must meet a cut to stay undecided");
  // Unsigned: a step down wraps, and the sum is exact modulo 2^32.
  unsigned byte = CodeOfRank(Rule::kCodes, kFirst) * 0x55u;
  bool decided = true;
#pragma unroll
  for (unsigned i = 0; i < 4; ++i) {
#pragma unroll
    for (unsigned k = kFirst; k < Rule::kCuts; ++k) {
      const unsigned step = CodeOfRank(Rule::kCodes, k + 1) - CodeOfRank(Rule::kCodes, k);
      const bool above = v[i] >= rule.bracket.hi[k];
      if (above) byte += step << (2 * i);
      decided &= above || v[i] < rule.bracket.lo[k];
    }
    if (Rule::kInfApart) decided &= fabsf(v[i]) != INFINITY;
  }
  if (!decided) {
    byte = 0;
#pragma unroll
    for (unsigned i = 0; i < 4; ++i) byte |= rule.Code(v[i]) << (2 * i);
  }
  return static_cast<uint8_t>(byte & (0xFFu >> (2 * (4 - count))));
}

template <class Rule>
__device__ __forceinline__ uint8_t CodeByte(const Rule& rule, const float v[4], unsigned count) {
  return Rule::kLowCuts > 0 && rule.Bounded() ? CodeByteFrom<Rule, Rule::kLowCuts>(rule, v, count)
                                              : CodeByteFrom<Rule, 0>(rule, v, count);
}

// Max over the `lanes` lanes of each aligned group of a warp.
template <class Rule>
__device__ __forceinline__ void GroupMax(BlockMax& m, unsigned lanes) {
  for (unsigned offset = lanes / 2; offset > 0; offset /= 2) {
    const float finite = __shfl_xor_sync(kFullMask, m.finite, offset);
    const float nonnan =
        Rule::kUsesNonNan ? __shfl_xor_sync(kFullMask, m.nonnan, offset) : m.nonnan;
    Merge(m, finite, nonnan);
  }
}

// ---- kernels ---------------------------------------------------------------------

// Blocks of at most kMaxWarpBlock elements, one per group of 2^lanes_log2
// lanes; kQuads = quads of a block per lane (1, 2 or 4), so a group takes
// 4 / kQuads blocks at a time, `groups` blocks apart (each of them
// contiguous across the warp). num_blocks = NumBlocks(n, block), divided
// out once on the host instead of in every thread. deferral: see Deferral
// (per warp).
template <class Rule, bool kAligned, unsigned kQuads>
__global__ void __launch_bounds__(kThreads)
    QuantizeWarpBlocks(const float* __restrict__ x, size_t n, size_t num_blocks, unsigned block,
                       unsigned lanes_log2, uint8_t* __restrict__ packed,
                       float* __restrict__ scales, RuleParams params, Deferral deferral) {
  constexpr unsigned kBlocks = kMaxQuadsPerLane / kQuads;
  const unsigned lanes = 1u << lanes_log2;
  const unsigned lane = threadIdx.x & (lanes - 1);
  const unsigned quads = block / 4;
  const size_t thread = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t groups = (static_cast<size_t>(gridDim.x) * blockDim.x) >> lanes_log2;
  const size_t group_in_warp = (threadIdx.x % kWarp) >> lanes_log2;
  // The loop condition is the warp's, so every lane reaches every shuffle.
  for (size_t warp_first = (thread - threadIdx.x % kWarp) >> lanes_log2; warp_first < num_blocks;
       warp_first += groups * kBlocks) {
    float v[kBlocks][kQuads][4];
    unsigned count[kBlocks][kQuads];
    BlockMax m[kBlocks];
#pragma unroll
    for (unsigned r = 0; r < kBlocks; ++r) {  // all loads first
      const size_t b = warp_first + group_in_warp + r * groups;
      const unsigned len = b < num_blocks ? BlockLength(n, block, b) : 0;
#pragma unroll
      for (unsigned k = 0; k < kQuads; ++k) {
        const unsigned e = 4 * (lane + k * lanes);
        count[r][k] = e < len ? LoadQuad<kAligned>(x + b * block, len, e, v[r][k]) : 0;
      }
    }
    bool finite = false;  // among this lane's blocks
#pragma unroll
    for (unsigned r = 0; r < kBlocks; ++r) {
#pragma unroll
      for (unsigned k = 0; k < kQuads; ++k) {
        if (count[r][k] > 0) AddQuad<Rule>(m[r], v[r][k]);
      }
      GroupMax<Rule>(m[r], lanes);
      finite |= m[r].HasFinite();
    }
    if (deferral.flag != nullptr && !__any_sync(kFullMask, finite)) {
      if (threadIdx.x % kWarp == 0) *deferral.flag = 1;
      continue;
    }
#pragma unroll
    for (unsigned r = 0; r < kBlocks; ++r) {
      const size_t b = warp_first + group_in_warp + r * groups;
      if (b >= num_blocks) continue;
      const Rule rule(m[r], params);
      if (lane == 0) scales[b] = rule.scale;
#pragma unroll
      for (unsigned k = 0; k < kQuads; ++k) {
        if (count[r][k] > 0) {
          packed[b * quads + lane + k * lanes] = CodeByte(rule, v[r][k], count[r][k]);
        }
      }
    }
  }
}

// Blocks of more than kMaxWarpBlock elements, one per thread block.
// deferral: see Deferral (per block of elements).
template <class Rule, bool kAligned>
__global__ void __launch_bounds__(kThreads)
    QuantizeLargeBlocks(const float* __restrict__ x, size_t n, size_t num_blocks, unsigned block,
                        uint8_t* __restrict__ packed, float* __restrict__ scales, RuleParams params,
                        Deferral deferral) {
  __shared__ float warp_finite[kThreads / kWarp];
  __shared__ float warp_nonnan[kThreads / kWarp];
  for (size_t b = blockIdx.x; b < num_blocks; b += gridDim.x) {
    const float* xb = x + b * block;
    const unsigned len = BlockLength(n, block, b);
    const unsigned quads = (len + 3) / 4;
    BlockMax m;
    for (unsigned q = threadIdx.x; q < quads; q += kThreads) {
      float v[4];
      LoadQuad<kAligned>(xb, len, 4 * q, v);
      AddQuad<Rule>(m, v);
    }
    GroupMax<Rule>(m, kWarp);
    if (threadIdx.x % kWarp == 0) {
      warp_finite[threadIdx.x / kWarp] = m.finite;
      warp_nonnan[threadIdx.x / kWarp] = m.nonnan;
    }
    __syncthreads();
    for (unsigned w = 0; w < kThreads / kWarp; ++w) Merge(m, warp_finite[w], warp_nonnan[w]);
    if (deferral.flag == nullptr || m.HasFinite()) {  // the same in every thread
      const Rule rule(m, params);
      if (threadIdx.x == 0) scales[b] = rule.scale;
      for (unsigned q = threadIdx.x; q < quads; q += kThreads) {
        float v[4];
        const unsigned count = LoadQuad<kAligned>(xb, len, 4 * q, v);
        packed[b * (block / 4) + q] = CodeByte(rule, v, count);
      }
    } else if (threadIdx.x == 0) {
      *deferral.flag = 1;
    }
    __syncthreads();  // the next block reuses warp_finite / warp_nonnan
  }
}

// Each thread takes kDequantUnroll quads per step, blockDim.x apart (every
// store instruction is contiguous across the warp), loads first. Index:
// uint32_t where the quad count allows (32-bit divisions).
constexpr unsigned kDequantUnroll = 4;

template <bool kAligned, class Index>
__global__ void __launch_bounds__(kThreads)
    DequantizeQuads(const uint8_t* __restrict__ packed, const float* __restrict__ scales,
                    size_t n, Index quads_per_block, bool zero_nonfinite_scale,
                    float* __restrict__ out) {
  const Index total = static_cast<Index>(PackedSize(n));
  const Index tile = static_cast<Index>(blockDim.x) * kDequantUnroll;
  for (Index base = static_cast<Index>(blockIdx.x) * tile; base < total;
       base += static_cast<Index>(gridDim.x) * tile) {
    unsigned bytes[kDequantUnroll];
    float scale[kDequantUnroll];
#pragma unroll
    for (unsigned u = 0; u < kDequantUnroll; ++u) {
      const Index q = base + threadIdx.x + u * blockDim.x;
      if (q < total) {
        bytes[u] = __ldg(packed + q);
        scale[u] = __ldg(scales + q / quads_per_block);
      }
    }
#pragma unroll
    for (unsigned u = 0; u < kDequantUnroll; ++u) {
      const Index q = base + threadIdx.x + u * blockDim.x;
      if (q >= total) break;
      float v[4];
#pragma unroll
      for (unsigned i = 0; i < 4; ++i) {
        v[i] = DequantValue(zero_nonfinite_scale, (bytes[u] >> (2 * i)) & 3u, scale[u]);
      }
      const size_t e = static_cast<size_t>(q) * 4;
      if (kAligned && e + 4 <= n) {
        *reinterpret_cast<float4*>(out + e) = make_float4(v[0], v[1], v[2], v[3]);
      } else {
#pragma unroll
        for (unsigned i = 0; i < 4; ++i) {
          if (e + i < n) out[e + i] = v[i];
        }
      }
    }
  }
}

// One write per thread block that found one, as the flag is written
// across the bus.
__global__ void __launch_bounds__(kThreads)
    FindFiniteKernel(const float* __restrict__ x, size_t n, int* found) {
  bool any = false;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    any = any || isfinite(x[i]);
  }
  if (__syncthreads_or(any) && threadIdx.x == 0) *found = 1;
}

// ---- launchers -------------------------------------------------------------------

// Thread blocks for `threads` threads of work: one per kThreads of them
// (the kernels' loops cover what a grid of at most 2^31 - 1 blocks leaves).
// The whole grid, not a few waves of resident blocks that loop: the
// hardware then hands out the work as blocks finish, which took dequantize
// at 256 M elements from 88 to 94 % of the copy bandwidth on an H100, and
// quantize up by 1 to 5 points.
unsigned GridFor(size_t threads) {
  const size_t wanted = (threads + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(wanted, INT32_MAX)));
}

template <class... Params, class... Args>
cudaError_t Launch(void (*kernel)(Params...), unsigned grid, cudaStream_t stream,
                   Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(kThreads);
  config.stream = stream;
  return cudaLaunchKernelEx(&config, kernel, args...);
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class Rule, bool kAligned, unsigned kQuads>
cudaError_t LaunchWarpBlocks(const float* x, size_t n, unsigned block, unsigned lanes_log2,
                             uint8_t* packed, float* scales, const RuleParams& params,
                             Deferral deferral, cudaStream_t stream) {
  constexpr unsigned kBlocks = kMaxQuadsPerLane / kQuads;
  const size_t num_blocks = NumBlocks(n, block);
  const unsigned grid = GridFor(((num_blocks << lanes_log2) + kBlocks - 1) / kBlocks);
  return Launch(QuantizeWarpBlocks<Rule, kAligned, kQuads>, grid, stream, x, n, num_blocks, block,
                lanes_log2, packed, scales, params, deferral);
}

template <class Rule, bool kAligned>
cudaError_t LaunchRule(const float* x, size_t n, size_t block, uint8_t* packed, float* scales,
                       const RuleParams& params, Deferral deferral, cudaStream_t stream) {
  const unsigned b = static_cast<unsigned>(block);
  if (block <= kMaxWarpBlock) {
    unsigned lanes_log2 = 0;
    while (((kMaxQuadsPerLane << lanes_log2) < b / 4 ||
            ((1u << lanes_log2) < kMinLanes && (1u << lanes_log2) < b / 4)) &&
           (1u << lanes_log2) < kWarp) {
      ++lanes_log2;
    }
    const unsigned quads_per_lane = (b / 4 + (1u << lanes_log2) - 1) >> lanes_log2;
    if (quads_per_lane == 1) {
      return LaunchWarpBlocks<Rule, kAligned, 1>(x, n, b, lanes_log2, packed, scales, params,
                                                 deferral, stream);
    }
    if (quads_per_lane == 2) {
      return LaunchWarpBlocks<Rule, kAligned, 2>(x, n, b, lanes_log2, packed, scales, params,
                                                 deferral, stream);
    }
    return LaunchWarpBlocks<Rule, kAligned, 4>(x, n, b, lanes_log2, packed, scales, params, deferral,
                                               stream);
  }
  const size_t num_blocks = NumBlocks(n, block);
  return Launch(QuantizeLargeBlocks<Rule, kAligned>, GridFor(num_blocks * kThreads), stream, x, n,
                num_blocks, b, packed, scales, params, deferral);
}

// Floats as integers in the same order (-0 and +0 both 0), and back.
int64_t OrderKey(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof(i));
  return i < 0 ? -int64_t{i & INT32_MAX} : i;
}

float FromOrderKey(int64_t k) {
  const uint32_t i = k < 0 ? 0x80000000u | static_cast<uint32_t>(-k) : static_cast<uint32_t>(k);
  float f;
  std::memcpy(&f, &i, sizeof(f));
  return f;
}

template <class Rule>
unsigned RankOf(float y, const Levels& levels) {
  const unsigned code = Rule::QuotientCode(y, levels);
  unsigned rank = 0;
  while (((Rule::kCodes >> (2 * rank)) & 3u) != code) ++rank;
  return rank;
}

// The cuts Y_k of the rule's quotient code (see Bracket): bisection over
// the floats of [-4, 4], at whose ends the ranks are 0 and kCuts.
template <class Rule>
Cuts CutsOf(const Levels& levels) {
  Cuts cuts{};
  for (unsigned k = 0; k < Rule::kCuts; ++k) {
    int64_t below = OrderKey(-4.0f), above = OrderKey(4.0f);  // rank <= k, rank > k
    while (above - below > 1) {
      const int64_t mid = below + (above - below) / 2;
      (RankOf<Rule>(FromOrderKey(mid), levels) > k ? above : below) = mid;
    }
    cuts.at[k] = FromOrderKey(above);
    cuts.below[k] = FromOrderKey(above - 1);
  }
  return cuts;
}

template <class Rule>
cudaError_t LaunchRule(const float* x, size_t n, size_t block, uint8_t* packed, float* scales,
                       const Levels& levels, Deferral deferral, cudaStream_t stream) {
  const RuleParams params{levels, CutsOf<Rule>(levels)};
  return Aligned16(x) ? LaunchRule<Rule, true>(x, n, block, packed, scales, params, deferral, stream)
                      : LaunchRule<Rule, false>(x, n, block, packed, scales, params, deferral, stream);
}

Levels LevelsOf(const float* table) {
  Levels levels;
  std::copy(table, table + 4, levels.v);
  return levels;
}

template <bool kAligned, class Index>
cudaError_t LaunchDequantizeIndexed(const uint8_t* packed, const float* scales, size_t n,
                                    size_t block, bool zero_nonfinite, float* out,
                                    unsigned grid, cudaStream_t stream) {
  return Launch(DequantizeQuads<kAligned, Index>, grid, stream, packed, scales, n,
                static_cast<Index>(block / 4), zero_nonfinite, out);
}

}  // namespace

cudaError_t LaunchQuantize(Family family, Format format, const float* input, size_t n,
                           size_t block, uint8_t* packed, float* scales, Deferral deferral,
                           cudaStream_t stream) {
  const Levels none{};
  if (family == Family::kQuantizer) {
    switch (format) {
      case Format::kI2S: return LaunchRule<QuantizerI2S>(input, n, block, packed, scales, none, deferral, stream);
      case Format::kTL1: return LaunchRule<QuantizerTl1>(input, n, block, packed, scales, none, deferral, stream);
      case Format::kTL2: return LaunchRule<QuantizerTl2>(input, n, block, packed, scales, none, deferral, stream);
    }
  } else {
    switch (format) {
      case Format::kI2S:
        return LaunchRule<KernelI2S>(input, n, block, packed, scales, none, deferral, stream);
      case Format::kTL1:
        return LaunchRule<KernelNearestLevel>(input, n, block, packed, scales,
                                              LevelsOf(kKernelTl1Levels), deferral, stream);
      case Format::kTL2:
        return LaunchRule<KernelNearestLevel>(input, n, block, packed, scales,
                                              LevelsOf(kKernelTl2Levels), deferral, stream);
    }
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchDequantize(Format format, const uint8_t* packed, const float* scales, size_t n,
                             size_t block, float* output, cudaStream_t stream) {
  const size_t quads = PackedSize(n);
  const unsigned grid = GridFor((quads + kDequantUnroll - 1) / kDequantUnroll);
  const bool zero_nonfinite = DequantZeroesNonFiniteScale(format);
  // 32-bit indices when base + the grid's stride cannot wrap around.
  const bool narrow =
      quads + static_cast<size_t>(grid) * kThreads * kDequantUnroll * 2 <= UINT32_MAX;
  if (Aligned16(output)) {
    return narrow ? LaunchDequantizeIndexed<true, uint32_t>(packed, scales, n, block,
                                                            zero_nonfinite, output, grid, stream)
                  : LaunchDequantizeIndexed<true, size_t>(packed, scales, n, block,
                                                          zero_nonfinite, output, grid, stream);
  }
  return narrow ? LaunchDequantizeIndexed<false, uint32_t>(packed, scales, n, block,
                                                           zero_nonfinite, output, grid, stream)
                : LaunchDequantizeIndexed<false, size_t>(packed, scales, n, block,
                                                         zero_nonfinite, output, grid, stream);
}

cudaError_t LaunchFindFinite(const float* input, size_t n, int* found, cudaStream_t stream) {
  // At most 4096 thread blocks, so at most 4096 writes cross the bus.
  return Launch(FindFiniteKernel, std::min(GridFor(n), 4096u), stream, input, n, found);
}

const void* AnyKernel() { return reinterpret_cast<const void*>(&FindFiniteKernel); }

}  // namespace cuda
}  // namespace bitnet
