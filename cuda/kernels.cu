// Quantize / dequantize kernels of both BitNet-rs families, bit for bit the
// scalar references of src/formats/ (whose element rules they share). The
// build compiles this file with -fmad=false and IEEE division (no fast math):
// every a*b+c below rounds twice, as on the CPU.
//
// Work mapping. Quad q = elements [4q, 4q+4) = packed byte q; a block of B
// elements is B/4 quads (B is a multiple of 4, so a quad never straddles
// two blocks). Blocks of at most 512 elements each go to a group of 1..32
// lanes of one warp (the fewest, a power of two, that leave each lane at
// most 4 quads of a block: the per-block work, the scale reduction (warp
// shuffles) and the rule's setup, is shared by as many elements as
// possible); each lane holds 4 quads in registers (of 4, 2 or 1 blocks)
// from the reduction to the codes, so the input is read once, with 4 loads
// in flight per thread. Larger blocks each go to a whole thread block, which reads its
// block twice (the second time mostly from cache).
#include "kernels.h"

#include <algorithm>
#include <cmath>
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
constexpr size_t kMaxWarpBlock = 4 * kWarp * kMaxQuadsPerLane;  // 512 elements

// The largest |x| of a block over its finite elements, and over its non-NaN
// elements (-1 when every element is NaN).
struct BlockMax {
  float finite = 0.0f;
  float nonnan = -1.0f;
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
// ulp of a cut; a NaN x; an infinite d; see Bracket::Rank), the rule's own
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
  // The rank of x's code; false when the rule's division must decide.
  // !(x < lo) is true for a NaN x, so a NaN is never decided (sure = 0,
  // maybe = kCuts), nor is any x when d is infinite (hi NaN, lo -Inf).
  // x = +-Inf with a finite d gets the top / bottom rank, as fl(x/d) = +-Inf
  // does where Q is monotone up to +-Inf (kInfApart: the rule codes it apart).
  template <bool kInfApart>
  __device__ __forceinline__ bool Rank(float x, unsigned* rank) const {
    unsigned sure = 0, maybe = 0;
#pragma unroll
    for (unsigned k = 0; k < kCuts; ++k) {
      sure += x >= hi[k];
      maybe += !(x < lo[k]);
    }
    *rank = sure;
    return sure == maybe && (!kInfApart || fabsf(x) != INFINITY);
  }
};

// ---- element rules: one block's scale, then each element's 2-bit code ------
// `scale` is the block's stored scale, `bracket` its division-free form,
// Code(x) the rule itself. kUsesNonNan: the rule needs BlockMax::nonnan
// (else its reduction is skipped). QuotientCode(y) = Q(y) above. kInfApart:
// an infinite x with a finite d is not coded as Q's monotone extension
// (I2_S codes it 2; NearestLevel(+-Inf) is 0).

// Family A, I2SQuantizer: for finite x, I2SValue(x, s) = I2SValue(fl(x/s), 1).
struct QuantizerI2S {
  static constexpr bool kUsesNonNan = false;
  static constexpr bool kInfApart = true;
  static constexpr unsigned kCuts = 3;
  static constexpr unsigned kCodes = CodeOrder(0, 1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    return static_cast<unsigned>(I2SValue(y, 1.0f) + 2);
  }
  float scale;
  Bracket<kCuts> bracket;
  __device__ QuantizerI2S(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.finite)), bracket(scale, p.cuts) {}
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
  static constexpr unsigned kCodes = CodeOrder(0, 1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    const float t = y + 128.0f;
    return (t >= 126.5f) + (t >= 127.5f) + (t >= 128.5f);
  }
  float scale;
  float table_scale;
  Bracket<kCuts> bracket;
  __device__ QuantizerTl1(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.finite)),
        table_scale(m.nonnan < 0.0f ? INFINITY : m.nonnan == 0.0f ? 1.0f : m.nonnan),
        bracket(table_scale, p.cuts) {}
  __device__ unsigned Code(float x) const {
    return isinf(table_scale) ? 2 : QuotientCode(x / table_scale, Levels{});
  }
};

// TL2Quantizer: forward[round(x/s*128 + 128)] = 1 + [t >= 64.5] + [t >= 191.5].
struct QuantizerTl2 {
  static constexpr bool kUsesNonNan = false;
  static constexpr bool kInfApart = false;
  static constexpr unsigned kCuts = 2;
  static constexpr unsigned kCodes = CodeOrder(1, 2, 3);
  __host__ __device__ static unsigned QuotientCode(float y, const Levels&) {
    const float t = y * 128.0f + 128.0f;
    return 1u + (t >= 64.5f) + (t >= 191.5f);
  }
  float scale;
  Bracket<kCuts> bracket;
  __device__ QuantizerTl2(const BlockMax& m, const RuleParams& p)
      : scale(StoredScale(m.finite)), bracket(scale, p.cuts) {}
  __device__ unsigned Code(float x) const { return QuotientCode(x / scale, Levels{}); }
};

// Family B (FallbackKernel): scale from the non-NaN absmax (infinite when an
// element is), reference rules.
struct KernelI2S {
  static constexpr bool kUsesNonNan = true;
  static constexpr bool kInfApart = false;
  static constexpr unsigned kCuts = 2;
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

// Loads the elements of the quad starting at element e that lie before n,
// the rest NaN (which no block maximum counts); returns how many. kAligned:
// x is 16-byte aligned, so whole quads load as one float4.
template <bool kAligned>
__device__ __forceinline__ unsigned LoadQuad(const float* __restrict__ x, size_t n, size_t e,
                                             float v[4]) {
  if (kAligned && e + 4 <= n) {
    const float4 f = __ldg(reinterpret_cast<const float4*>(x + e));
    v[0] = f.x;
    v[1] = f.y;
    v[2] = f.z;
    v[3] = f.w;
    return 4;
  }
  const unsigned count = n - e < 4 ? static_cast<unsigned>(n - e) : 4u;
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
template <class Rule>
__device__ __forceinline__ uint8_t CodeByte(const Rule& rule, const float v[4], unsigned count) {
  unsigned byte = 0;
  bool decided = true;
#pragma unroll
  for (unsigned i = 0; i < 4; ++i) {
    unsigned rank;
    decided &= rule.bracket.template Rank<Rule::kInfApart>(v[i], &rank);
    byte |= ((Rule::kCodes >> (2 * rank)) & 3u) << (2 * i);
  }
  if (!decided) {
    byte = 0;
#pragma unroll
    for (unsigned i = 0; i < 4; ++i) byte |= rule.Code(v[i]) << (2 * i);
  }
  return static_cast<uint8_t>(byte & (0xFFu >> (2 * (4 - count))));
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
// contiguous across the warp). gate: see LaunchQuantize.
template <class Rule, bool kAligned, unsigned kQuads>
__global__ void __launch_bounds__(kThreads)
    QuantizeWarpBlocks(const float* __restrict__ x, size_t n, unsigned block,
                       unsigned lanes_log2, uint8_t* __restrict__ packed,
                       float* __restrict__ scales, RuleParams params, const int* gate) {
  constexpr unsigned kBlocks = kMaxQuadsPerLane / kQuads;
  if (gate != nullptr && *gate == 0) return;
  const unsigned lanes = 1u << lanes_log2;
  const unsigned lane = threadIdx.x & (lanes - 1);
  const unsigned quads = block / 4;
  const size_t num_blocks = NumBlocks(n, block);
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
#pragma unroll
      for (unsigned k = 0; k < kQuads; ++k) {
        const size_t e = b * block + 4 * static_cast<size_t>(lane + k * lanes);
        count[r][k] = 0;
        if (b < num_blocks && lane + k * lanes < quads && e < n) {
          count[r][k] = LoadQuad<kAligned>(x, n, e, v[r][k]);
        }
      }
    }
#pragma unroll
    for (unsigned r = 0; r < kBlocks; ++r) {
#pragma unroll
      for (unsigned k = 0; k < kQuads; ++k) {
        if (count[r][k] > 0) AddQuad<Rule>(m[r], v[r][k]);
      }
      GroupMax<Rule>(m[r], lanes);
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
          packed[b * (block / 4) + lane + k * lanes] = CodeByte(rule, v[r][k], count[r][k]);
        }
      }
    }
  }
}

// Blocks of more than kMaxWarpBlock elements, one per thread block.
template <class Rule, bool kAligned>
__global__ void __launch_bounds__(kThreads)
    QuantizeLargeBlocks(const float* __restrict__ x, size_t n, unsigned block,
                        uint8_t* __restrict__ packed, float* __restrict__ scales, RuleParams params,
                        const int* gate) {
  __shared__ float warp_finite[kThreads / kWarp];
  __shared__ float warp_nonnan[kThreads / kWarp];
  if (gate != nullptr && *gate == 0) return;
  const size_t num_blocks = NumBlocks(n, block);
  for (size_t b = blockIdx.x; b < num_blocks; b += gridDim.x) {
    const size_t start = b * block;
    const size_t len = n - start < block ? n - start : block;
    const size_t quads = (len + 3) / 4;
    BlockMax m;
    for (size_t q = threadIdx.x; q < quads; q += kThreads) {
      float v[4];
      LoadQuad<kAligned>(x, n, start + 4 * q, v);
      AddQuad<Rule>(m, v);
    }
    GroupMax<Rule>(m, kWarp);
    if (threadIdx.x % kWarp == 0) {
      warp_finite[threadIdx.x / kWarp] = m.finite;
      warp_nonnan[threadIdx.x / kWarp] = m.nonnan;
    }
    __syncthreads();
    for (unsigned w = 0; w < kThreads / kWarp; ++w) Merge(m, warp_finite[w], warp_nonnan[w]);
    const Rule rule(m, params);
    if (threadIdx.x == 0) scales[b] = rule.scale;
    for (size_t q = threadIdx.x; q < quads; q += kThreads) {
      float v[4];
      const unsigned count = LoadQuad<kAligned>(x, n, start + 4 * q, v);
      packed[start / 4 + q] = CodeByte(rule, v, count);
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

__global__ void __launch_bounds__(kThreads)
    FindFiniteKernel(const float* __restrict__ x, size_t n, int* found_device, int* found_host) {
  bool any = false;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    any = any || isfinite(x[i]);
  }
  if (__any_sync(kFullMask, any) && threadIdx.x % kWarp == 0) {
    if (found_device != nullptr) *found_device = 1;
    *found_host = 1;
  }
}

// ---- launchers -------------------------------------------------------------------

// Thread blocks for `threads` threads of work: at most 4 waves of resident
// blocks; the kernels' loops cover the rest.
cudaError_t GridFor(size_t threads, unsigned* grid) {
  int device = 0, sms = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) return err;
  const size_t most = static_cast<size_t>(sms) * (2048 / kThreads) * 4;
  const size_t wanted = (threads + kThreads - 1) / kThreads;
  *grid = static_cast<unsigned>(std::max<size_t>(1, std::min(wanted, most)));
  return cudaSuccess;
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
                             const int* gate, cudaStream_t stream) {
  constexpr unsigned kBlocks = kMaxQuadsPerLane / kQuads;
  unsigned grid = 0;
  const cudaError_t err = GridFor((NumBlocks(n, block) << lanes_log2) / kBlocks, &grid);
  if (err != cudaSuccess) return err;
  return Launch(QuantizeWarpBlocks<Rule, kAligned, kQuads>, grid, stream, x, n, block, lanes_log2,
                packed, scales, params, gate);
}

template <class Rule, bool kAligned>
cudaError_t LaunchRule(const float* x, size_t n, size_t block, uint8_t* packed, float* scales,
                       const RuleParams& params, const int* gate, cudaStream_t stream) {
  const unsigned b = static_cast<unsigned>(block);
  if (block <= kMaxWarpBlock) {
    unsigned lanes_log2 = 0;
    while ((kMaxQuadsPerLane << lanes_log2) < b / 4 && (1u << lanes_log2) < kWarp) ++lanes_log2;
    const unsigned quads_per_lane = (b / 4 + (1u << lanes_log2) - 1) >> lanes_log2;
    if (quads_per_lane == 1) {
      return LaunchWarpBlocks<Rule, kAligned, 1>(x, n, b, lanes_log2, packed, scales, params,
                                                 gate, stream);
    }
    if (quads_per_lane == 2) {
      return LaunchWarpBlocks<Rule, kAligned, 2>(x, n, b, lanes_log2, packed, scales, params,
                                                 gate, stream);
    }
    return LaunchWarpBlocks<Rule, kAligned, 4>(x, n, b, lanes_log2, packed, scales, params, gate,
                                               stream);
  }
  unsigned grid = 0;
  const cudaError_t err = GridFor(NumBlocks(n, block) * kThreads, &grid);
  if (err != cudaSuccess) return err;
  return Launch(QuantizeLargeBlocks<Rule, kAligned>, grid, stream, x, n, b, packed, scales, params,
                gate);
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
                       const Levels& levels, const int* gate, cudaStream_t stream) {
  const RuleParams params{levels, CutsOf<Rule>(levels)};
  return Aligned16(x) ? LaunchRule<Rule, true>(x, n, block, packed, scales, params, gate, stream)
                      : LaunchRule<Rule, false>(x, n, block, packed, scales, params, gate, stream);
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
                           size_t block, uint8_t* packed, float* scales, const int* gate,
                           cudaStream_t stream) {
  const Levels none{};
  if (family == Family::kQuantizer) {
    switch (format) {
      case Format::kI2S: return LaunchRule<QuantizerI2S>(input, n, block, packed, scales, none, gate, stream);
      case Format::kTL1: return LaunchRule<QuantizerTl1>(input, n, block, packed, scales, none, gate, stream);
      case Format::kTL2: return LaunchRule<QuantizerTl2>(input, n, block, packed, scales, none, gate, stream);
    }
  } else {
    switch (format) {
      case Format::kI2S:
        return LaunchRule<KernelI2S>(input, n, block, packed, scales, none, gate, stream);
      case Format::kTL1:
        return LaunchRule<KernelNearestLevel>(input, n, block, packed, scales,
                                              LevelsOf(kKernelTl1Levels), gate, stream);
      case Format::kTL2:
        return LaunchRule<KernelNearestLevel>(input, n, block, packed, scales,
                                              LevelsOf(kKernelTl2Levels), gate, stream);
    }
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchDequantize(Format format, const uint8_t* packed, const float* scales, size_t n,
                             size_t block, float* output, cudaStream_t stream) {
  const size_t quads = PackedSize(n);
  unsigned grid = 0;
  const cudaError_t err = GridFor((quads + kDequantUnroll - 1) / kDequantUnroll, &grid);
  if (err != cudaSuccess) return err;
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

cudaError_t LaunchFindFinite(const float* input, size_t n, int* found_device, int* found_host,
                             cudaStream_t stream) {
  unsigned grid = 0;
  const cudaError_t err = GridFor(n, &grid);
  if (err != cudaSuccess) return err;
  return Launch(FindFiniteKernel, grid, stream, input, n, found_device, found_host);
}

const void* AnyKernel() { return reinterpret_cast<const void*>(&FindFiniteKernel); }

}  // namespace cuda
}  // namespace bitnet
