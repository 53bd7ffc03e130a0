// The ternary products on the GPU: y = x . W^T with the activations
// quantized by the rule of W's reference engine and every float operation
// of the CPU's epilogue done in its order (-fmad=false, IEEE division).
//
//   I8_S (I2_S weights): S = sum of code * q over the row (exact int32);
//     y = ((float)S - (float)act_sum) / act_scale * w_scale.
//   Q8_K (TQ1_0, TQ2_0): per 256-column block b, sumi_b = sum of code * q -
//     the block's sum of q; y = (((0 + t_0) + t_1) + ...) with t_b = (float)
//     sumi_b * (d_y * d_w), added in block order.
//   Q8_0 (Q2_0): per 64-column weight block, sumb = (0 + (float)sumi_0 *
//     d_y0) + (float)sumi_1 * d_y1 over its two 32-column activation
//     blocks, t_b = sumb * d_w, added in block order as above.
//
// The integer sums come from mma.m16n8k32 (s8 x s8 -> s32, exact: codes
// 0..3 times int8, at most 384 * K), one k-tile of 32 columns per mma; a
// block's sum is read from the accumulators when the k-loop leaves it. The
// float terms are formed per block and added in block order, so that a
// block's term is the CPU's whatever warp made it.
//
// Two kernels: a fused one for up to 8 tokens (the decode step), in which
// each thread block quantizes the activations it needs into shared memory
// and its warps split K (the weights, not the activations, are what must
// stream at HBM speed), several products in one launch; and a batched one
// for larger batches, whose activations a separate kernel quantizes once
// into a workspace.
#include "gemm_kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>

#include "device_util.cuh"
#include "formats/bitnet_cpp_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/ternary_codes.h"
#include "formats/x86_float.h"

namespace bitnet {
namespace cuda {
namespace {

constexpr unsigned kFusedWarps = 8;
constexpr unsigned kFusedThreads = kFusedWarps * kWarp;
constexpr unsigned kBatchedWarps = 4;  // one strip each
constexpr unsigned kBatchedThreads = kBatchedWarps * kWarp;

__host__ __device__ constexpr int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- the tensor-core product -----------------------------------------------------------

// c += a . b for a 16 x 32 tile of codes (a[f]: the lane's bytes of
// fragment f) and 32 x 8 activations (b0, b1).
__device__ __forceinline__ void Mma(int c[4], const unsigned a[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The A fragments of k-tile word w of a lane: byte b of fragment f (rows g
// and g + 8 for odd f; columns 4t + b, and 16 + 4t + b for f >= 2) is the
// 2-bit field f of byte b.
__device__ __forceinline__ void Fragments(unsigned w, unsigned a[4]) {
#pragma unroll
  for (unsigned f = 0; f < 4; ++f) a[f] = (w >> (2 * f)) & 0x03030303u;
}

// Accumulator entry e of a lane (g = lane / 4, t = lane % 4): row g (+8 for
// e >= 2) of the strip, token 2t + e % 2 of the tile.
__device__ __forceinline__ unsigned EntryRow(unsigned lane, unsigned e) { return lane / 4 + 8 * (e / 2); }
__device__ __forceinline__ unsigned EntryToken(unsigned lane, unsigned e) { return 2 * (lane % 4) + e % 2; }

// ---- activations ------------------------------------------------------------------------

// Where a token's quantized activations go: fragments [tile][k-group]
// [token in tile (tpt per tile)][lane in group][8 words]; word 2j + h of
// a lane (t) holds columns 32 (4q + j) + 16h + 4t .. +3 of its token.
struct ActView {
  uint32_t* frags;
  float* scale;    // [token][block] (I8_S: [token])
  int32_t* qsum;   // [token][block] (I8_S: the token's sum of q)
  int64_t kgroups;
  int64_t blocks;  // activation blocks per token (I8_S: 1)
  unsigned tpt;    // tokens per tile: 8, or the batch of a fused block

  // Word holding columns k .. k+3 (k % 4 == 0) of token tok.
  __device__ uint32_t* Word(unsigned tok, int64_t k) const {
    const int64_t q = k / 128, j = (k / 32) % 4, h = (k / 16) % 2, t = (k / 4) % 4;
    const int64_t tile = tok / tpt, in_tile = tok % tpt;
    return frags + (((tile * kgroups + q) * tpt + in_tile) * 4 + t) * 8 + 2 * j + h;
  }
  // The lane's 8 words for k-group q of token tok (tile-relative lane).
  __device__ const uint4* Lane(unsigned tok, int64_t q, unsigned t) const {
    const int64_t tile = tok / tpt, in_tile = tok % tpt;
    return reinterpret_cast<const uint4*>(frags + (((tile * kgroups + q) * tpt + in_tile) * 4 + t) * 8);
  }
};

__device__ __forceinline__ uint32_t PackBytes(const int v[4]) {
  return (static_cast<uint32_t>(v[0]) & 0xFF) | ((static_cast<uint32_t>(v[1]) & 0xFF) << 8) |
         ((static_cast<uint32_t>(v[2]) & 0xFF) << 16) | (static_cast<uint32_t>(v[3]) << 24);
}

// Stores a lane's 8 quantized values of columns k .. k+7 (k % 8 == 0).
__device__ __forceinline__ void StoreQ8(const ActView& a, unsigned tok, int64_t k, const int q[8]) {
  *a.Word(tok, k) = PackBytes(q);
  *a.Word(tok, k + 4) = PackBytes(q + 4);
}

template <unsigned kWidth>
__device__ __forceinline__ int GroupSum(int v) {
#pragma unroll
  for (unsigned o = kWidth / 2; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Q8_K (quantize_row_q8_K_ref) of columns [256b, 256b + 256) of one token,
// by one warp.
template <LayoutId kX>
__device__ void QuantizeQ8KBlock(const void* row, bool vec, int64_t b, unsigned lane,
                                 const ActView& a, unsigned tok) {
  float v[8];
  Load8<kX>(row, b * 256 + 8 * lane, 8, vec, v);
  const float max = Q8KBlockMax(v, true, lane);
  int q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float d = 0.0f;
  if (max != 0.0f) {
    const float iscale = -127.0f / max;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) q[i] = Q8KValue(v[i], iscale);
    d = 1.0f / iscale;
  }
  StoreQ8(a, tok, b * 256 + 8 * lane, q);
  const int sum = GroupSum<32>(q[0] + q[1] + q[2] + q[3] + q[4] + q[5] + q[6] + q[7]);
  if (lane == 0) {
    a.scale[tok * a.blocks + b] = d;
    a.qsum[tok * a.blocks + b] = sum;
  }
}

// Q8_0 (quantize_row_q8_0_ref) of columns [256g, 256g + 256) (or up to
// cols) of one token, by one warp: 4 lanes a 32-column block; the scale as
// the f16 the block stores.
template <LayoutId kX>
__device__ void QuantizeQ8_0Group(const void* row, bool vec, int64_t cols, int64_t g,
                                  unsigned lane, const ActView& a, unsigned tok) {
  const int64_t k = g * 256 + 8 * lane;
  const bool valid = k < cols;
  float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (valid) Load8<kX>(row, k, 8, vec, v);
  const float d = Q8_0BlockAmax(v, valid, lane) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int q[8];
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) q[i] = static_cast<int8_t>(Q8_0Byte(v[i], id));
  const int sum = GroupSum<4>(q[0] + q[1] + q[2] + q[3] + q[4] + q[5] + q[6] + q[7]);
  if (valid) {
    StoreQ8(a, tok, k, q);
    if (lane % 4 == 0) {
      a.scale[tok * a.blocks + k / 32] = HalfToFloat(FloatToHalf(d));
      a.qsum[tok * a.blocks + k / 32] = sum;
    }
  }
}

// Reductions over a thread block (warp results through `slots`, one per
// warp; every thread gets the result).
template <unsigned kWarps, class T, class Op>
__device__ T BlockReduce(T v, T* slots, const Op& op) {
#pragma unroll
  for (unsigned o = 16; o > 0; o /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, o));
  __syncthreads();  // slots may still be read by a previous reduction
  if (Lane() == 0) slots[threadIdx.x / kWarp] = v;
  __syncthreads();
  v = slots[0];
#pragma unroll
  for (unsigned w = 1; w < kWarps; ++w) v = op(v, slots[w]);
  return v;
}

// I8_S (quantize_row_i8_s) of one token of `cols` columns by a whole
// thread block of kWarps warps. Its max is MAX(max, |x|) in double from
// 1e-5, where a NaN |x| replaces the running value and the next element
// replaces the NaN: the largest |x| after the row's last NaN (the floor
// kept only when there is none; a double of a float is exact, so the
// largest float), or that NaN when the last element is one, which x86
// carries through 127 / max and the float conversion as |x| made quiet.
template <unsigned kWarps, LayoutId kX>
__device__ void QuantizeI8SRow(const void* row, bool vec, int64_t cols, const ActView& a,
                               unsigned tok, int* islots, float* fslots) {
  const int64_t step = 8 * static_cast<int64_t>(kWarps * kWarp);
  const int64_t first = 8 * static_cast<int64_t>(threadIdx.x);
  int64_t last_nan = -1;
  for (int64_t k = first; k < cols; k += step) {
    float v[8];
    const unsigned count = cols - k < 8 ? static_cast<unsigned>(cols - k) : 8u;
    Load8<kX>(row, k, count, vec && count == 8, v);
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (i < count && v[i] != v[i]) last_nan = k + i;
    }
  }
  // Indices below 2^31 (cols <= kMaxI2SGemmCols).
  const int last = BlockReduce<kWarps>(static_cast<int>(last_nan), islots,
                                       [](int x, int y) { return x > y ? x : y; });
  float m = 0.0f;
  for (int64_t k = first; k < cols; k += step) {
    float v[8];
    const unsigned count = cols - k < 8 ? static_cast<unsigned>(cols - k) : 8u;
    Load8<kX>(row, k, count, vec && count == 8, v);
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (i < count && k + i > last) m = fmaxf(m, fabsf(v[i]));
    }
  }
  m = BlockReduce<kWarps>(m, fslots, [](float x, float y) { return fmaxf(x, y); });
  float s;
  if (last == cols - 1) {
    float v[8];
    Load8<kX>(row, cols - 1, 1, false, v);
    s = __uint_as_float((__float_as_uint(v[0]) & 0x7FFFFFFFu) | kQuietBit);
  } else {
    const double max = last < 0 && static_cast<double>(m) <= 1e-5 ? 1e-5 : static_cast<double>(m);
    s = static_cast<float>(127.0 / max);
  }
  int sum = 0;
  for (int64_t k = first; k < cols; k += step) {
    float v[8];
    const unsigned count = cols - k < 8 ? static_cast<unsigned>(cols - k) : 8u;
    Load8<kX>(row, k, count, vec && count == 8, v);
    int q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (i < count) q[i] = I8SValue(v[i], s);
      sum += q[i];
    }
    StoreQ8(a, tok, k, q);  // past the row's end: zeros (the weights' padding codes are 0 too)
  }
  sum = BlockReduce<kWarps>(sum, islots, [](int x, int y) { return x + y; });
  if (threadIdx.x == 0) {
    a.scale[tok] = s;
    a.qsum[tok] = sum;
  }
}

// The element offset of token tok's row and whether it is 16-byte aligned.
template <LayoutId kX>
__device__ __forceinline__ const void* RowOf(const void* x, int64_t cols, unsigned tok, bool* vec) {
  constexpr int64_t kSize = LayoutOf(kX).block_bytes;
  const uint8_t* p = static_cast<const uint8_t*>(x) + static_cast<int64_t>(tok) * cols * kSize;
  *vec = reinterpret_cast<uintptr_t>(p) % 16 == 0;
  return p;
}

// Quantizes `batch` tokens with the warps of a thread block of kWarps.
template <GemmAct kAct, unsigned kWarps, LayoutId kX>
__device__ void QuantizeTokens(const void* x, int64_t cols, unsigned batch, const ActView& a,
                               int* islots, float* fslots) {
  const unsigned warp = threadIdx.x / kWarp, lane = Lane();
  if (kAct == GemmAct::kI8S) {
    for (unsigned tok = 0; tok < batch; ++tok) {
      bool vec;
      const void* row = RowOf<kX>(x, cols, tok, &vec);
      QuantizeI8SRow<kWarps, kX>(row, vec, cols, a, tok, islots, fslots);
    }
    return;
  }
  const int64_t groups = CeilDiv(cols, 256);
  for (int64_t task = warp; task < static_cast<int64_t>(batch) * groups; task += kWarps) {
    const unsigned tok = static_cast<unsigned>(task / groups);
    bool vec;
    const void* row = RowOf<kX>(x, cols, tok, &vec);
    if (kAct == GemmAct::kQ8K) {
      QuantizeQ8KBlock<kX>(row, vec, task % groups, lane, a, tok);
    } else {
      QuantizeQ8_0Group<kX>(row, vec, cols, task % groups, lane, a, tok);
    }
  }
}

// ---- the k-loop ----------------------------------------------------------------------------

// Columns per unit a warp's share of K is made of: whole weight blocks.
template <GemmAct kAct>
__host__ __device__ constexpr int64_t GroupsPerUnit() {
  return kAct == GemmAct::kQ8K ? 2 : 1;
}

// What the k-loop of one warp (one strip, one token tile) hands to its
// epilogue at the end of each block: the block's integer sums per entry.
// kAct decides the blocks: Q8_K every 2 k-groups, Q8_0 every k-tile, I8_S
// once at the end (Flush).
struct TileSums {
  int c[4];
};

// Loops over k-groups [q0, q1) of strip `strip` against the token tile
// whose B fragments `b_of(q, words)` provides (zeros for missing tokens),
// calling block(kt_or_block, sums) at each block end.
template <GemmAct kAct, class BOf, class Block>
__device__ __forceinline__ void KLoop(const GemmMatrix& m, int64_t strip, int64_t q0, int64_t q1,
                                      unsigned lane, const BOf& b_of, const Block& block,
                                      int acc[4]) {
  constexpr int kBatch = 4;  // k-groups loaded ahead of their use
  const uint4* codes = m.codes + (strip * m.kgroups) * kWarp + lane;
  const int64_t k_tiles = CeilDiv(m.cols, 32);  // Q8_0: tiles past K hold padding only
  for (int64_t q = q0; q < q1; q += kBatch) {
    uint4 w[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (q + u < q1) w[u] = __ldg(codes + (q + u) * kWarp);
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (q + u >= q1) break;
      unsigned bw[8];
      b_of(q + u, bw);
      const unsigned words[4] = {w[u].x, w[u].y, w[u].z, w[u].w};
#pragma unroll
      for (unsigned j = 0; j < 4; ++j) {
        unsigned a[4];
        Fragments(words[j], a);
        if (kAct == GemmAct::kQ8_0) {
          const int64_t kt = 4 * (q + u) + j;
          if (kt >= k_tiles) continue;
          int c[4] = {0, 0, 0, 0};
          Mma(c, a, bw[2 * j], bw[2 * j + 1]);
          block(kt, c);
        } else {
          Mma(acc, a, bw[2 * j], bw[2 * j + 1]);
        }
      }
      if (kAct == GemmAct::kQ8K && (q + u) % 2 == 1) {
        block((q + u) / 2, acc);
        acc[0] = acc[1] = acc[2] = acc[3] = 0;
      }
    }
  }
}

// The float term of one weight block of one accumulator entry; Q8_0 keeps
// its block's first half in sumb.
struct TermOf {
  const GemmMatrix& m;
  const ActView& a;
  template <GemmAct kAct>
  __device__ __forceinline__ bool Term(int64_t blk, int c, int64_t row, unsigned tok, float* sumb,
                                       float* term) const {
    if (kAct == GemmAct::kQ8K) {
      const int sumi = c - a.qsum[tok * a.blocks + blk];
      const float d = a.scale[tok * a.blocks + blk] * m.wscale[row * m.wblocks + blk];
      *term = static_cast<float>(sumi) * d;
      return true;
    }
    // Q8_0: blk is the 32-column activation block, half of weight block blk / 2.
    const int sumi = c - a.qsum[tok * a.blocks + blk];
    const float p = static_cast<float>(sumi) * a.scale[tok * a.blocks + blk];
    if (blk % 2 == 0) {
      *sumb = 0.0f + p;
      return false;
    }
    *sumb = *sumb + p;
    *term = *sumb * m.wscale[row * m.wblocks + blk / 2];
    return true;
  }
};

// I2_S's epilogue of bitnet.cpp's fork.
__device__ __forceinline__ float I8SOutput(int code_sum, int act_sum, float act_scale, float w_scale) {
  return (static_cast<float>(code_sum) - static_cast<float>(act_sum)) / act_scale * w_scale;
}

// ---- the fused kernel (batch <= 8) --------------------------------------------------------------

// One product of a fused launch: thread blocks [cta_begin, next job's),
// each rows_per_cta strips with splits warps on each (rows_per_cta *
// splits = 8), splitting the units of K.
struct FusedJob {
  GemmJobArgs args;
  int64_t cta_begin;
  int strips_per_cta;
  int splits;
};

struct FusedArgs {
  FusedJob jobs[kMaxGemmJobs];
  int count;
  unsigned batch;
};

// Shared memory of a job's thread block, from its start (16-byte aligned):
// activation fragments (kgroups * batch * 128 bytes), the activations'
// scales and sums, then the terms (per strip row, token and weight block)
// or, for I8_S, each warp's integer sums.
struct FusedSmem {
  int64_t frags, scale, qsum, terms, total;
};

__host__ __device__ inline int64_t Align16(int64_t v) { return (v + 15) / 16 * 16; }

__host__ __device__ inline FusedSmem FusedSmemOf(GemmAct act, const GemmMatrix& m, unsigned batch,
                                                 int strips_per_cta) {
  FusedSmem s;
  const int64_t blocks = act == GemmAct::kI8S ? 1 : (act == GemmAct::kQ8K ? m.cols / 256 : m.cols / 32);
  s.frags = 0;
  s.scale = Align16(m.kgroups * batch * 128);
  s.qsum = Align16(s.scale + blocks * batch * 4);
  s.terms = Align16(s.qsum + blocks * batch * 4);
  const int64_t terms = act == GemmAct::kI8S ? static_cast<int64_t>(kFusedWarps) * 16 * batch * 4
                                             : static_cast<int64_t>(strips_per_cta) * 16 * batch * m.wblocks * 4;
  s.total = s.terms + terms;
  return s;
}

template <GemmAct kAct, LayoutId kX>
__global__ void __launch_bounds__(kFusedThreads) GemmFusedKernel(const __grid_constant__ FusedArgs args) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int islots[kFusedWarps];
  __shared__ float fslots[kFusedWarps];
  int j = 0;
  while (j + 1 < args.count && static_cast<int64_t>(blockIdx.x) >= args.jobs[j + 1].cta_begin) ++j;
  const FusedJob& job = args.jobs[j];
  const GemmMatrix& m = job.args.m;
  const unsigned batch = args.batch;
  const FusedSmem layout = FusedSmemOf(kAct, m, batch, job.strips_per_cta);
  const int64_t blocks = kAct == GemmAct::kI8S ? 1 : (kAct == GemmAct::kQ8K ? m.cols / 256 : m.cols / 32);
  const ActView act{reinterpret_cast<uint32_t*>(smem + layout.frags),
                    reinterpret_cast<float*>(smem + layout.scale),
                    reinterpret_cast<int32_t*>(smem + layout.qsum), m.kgroups, blocks, batch};
  float* terms = reinterpret_cast<float*>(smem + layout.terms);
  int* iparts = reinterpret_cast<int*>(smem + layout.terms);

  const unsigned warp = threadIdx.x / kWarp, lane = Lane();
  const int splits = job.splits;
  const int local_strip = static_cast<int>(warp) / splits, split = static_cast<int>(warp) % splits;
  const int64_t strip = (static_cast<int64_t>(blockIdx.x) - job.cta_begin) * job.strips_per_cta + local_strip;
  constexpr int64_t kUnit = GroupsPerUnit<kAct>();
  const int64_t units = m.kgroups / kUnit;
  const int64_t q0 = split * units / splits * kUnit, q1 = (split + 1) * units / splits * kUnit;
  // The warp's weights start towards L2 while the block quantizes.
  if (strip < m.strips) {
    for (int64_t q = q0; q < q1; ++q) {
      asm volatile("prefetch.L2 [%0];" ::"l"(m.codes + (strip * m.kgroups + q) * kWarp + lane));
    }
  }
  // Columns past K (a k-group's padding) meet weight codes 0, so their
  // activation bytes may be anything.
  QuantizeTokens<kAct, kFusedWarps, kX>(job.args.x, m.cols, batch, act, islots, fslots);
  __syncthreads();

  const unsigned g = lane / 4, t = lane % 4;
  const TermOf term_of{m, act};
  int acc[4] = {0, 0, 0, 0};
  float sumb[4] = {0, 0, 0, 0};
  if (strip < m.strips) {
    const auto b_of = [&](int64_t q, unsigned bw[8]) {
      if (g < batch) {
        const uint4* p = act.Lane(g, q, t);
        const uint4 lo = p[0], hi = p[1];
        bw[0] = lo.x; bw[1] = lo.y; bw[2] = lo.z; bw[3] = lo.w;
        bw[4] = hi.x; bw[5] = hi.y; bw[6] = hi.z; bw[7] = hi.w;
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) bw[i] = 0;
      }
    };
    const auto block = [&](int64_t blk, const int c[4]) {
#pragma unroll
      for (unsigned e = 0; e < 4; ++e) {
        const unsigned tok = EntryToken(lane, e), r = EntryRow(lane, e);
        if (tok >= batch) continue;
        float term;
        if (term_of.Term<kAct>(blk, c[e], strip * 16 + r, tok, &sumb[e], &term)) {
          const int64_t wblk = kAct == GemmAct::kQ8_0 ? blk / 2 : blk;
          terms[((local_strip * 16 + r) * static_cast<int64_t>(batch) + tok) * m.wblocks + wblk] = term;
        }
      }
    };
    KLoop<kAct>(m, strip, q0, q1, lane, b_of, block, acc);
    if (kAct == GemmAct::kI8S) {
#pragma unroll
      for (unsigned e = 0; e < 4; ++e) {
        const unsigned tok = EntryToken(lane, e);
        if (tok < batch) iparts[(warp * 16 + EntryRow(lane, e)) * batch + tok] = acc[e];
      }
    }
  }
  __syncthreads();

  // One thread per (row, token): the terms in block order, or I8_S's sums.
  const int64_t rows = static_cast<int64_t>(job.strips_per_cta) * 16;
  for (int64_t i = threadIdx.x; i < rows * batch; i += kFusedThreads) {
    const unsigned tok = static_cast<unsigned>(i / rows);
    const int64_t local_row = i % rows;
    const int64_t row = ((static_cast<int64_t>(blockIdx.x) - job.cta_begin) * job.strips_per_cta) * 16 + local_row;
    if (row >= m.rows) continue;
    float y;
    if (kAct == GemmAct::kI8S) {
      const int64_t ls = local_row / 16, r = local_row % 16;
      int sum = 0;
      for (int s = 0; s < splits; ++s) sum += iparts[((ls * splits + s) * 16 + r) * batch + tok];
      y = I8SOutput(sum, act.qsum[tok], act.scale[tok], m.wscale[0]);
    } else {
      const float* p = terms + (local_row * batch + tok) * m.wblocks;
      y = 0.0f;
      for (int64_t b = 0; b < m.wblocks; ++b) y = y + p[b];
    }
    job.args.y[static_cast<int64_t>(tok) * m.rows + row] = y;
  }
}

// ---- the batched path ------------------------------------------------------------------------------

template <GemmAct kAct, LayoutId kX>
__global__ void __launch_bounds__(256) QuantizeKernel(const void* x, int64_t cols, unsigned batch,
                                                     ActView act) {
  __shared__ int islots[8];
  __shared__ float fslots[8];
  if (kAct == GemmAct::kI8S) {  // one thread block per token
    bool vec;
    const void* row = RowOf<kX>(x, cols, blockIdx.x, &vec);
    QuantizeI8SRow<8, kX>(row, vec, cols, act, blockIdx.x, islots, fslots);
    return;
  }
  const int64_t groups = CeilDiv(cols, 256);
  const int64_t task = static_cast<int64_t>(blockIdx.x) * 8 + threadIdx.x / kWarp;
  if (task >= static_cast<int64_t>(batch) * groups) return;
  const unsigned tok = static_cast<unsigned>(task / groups);
  bool vec;
  const void* row = RowOf<kX>(x, cols, tok, &vec);
  if (kAct == GemmAct::kQ8K) {
    QuantizeQ8KBlock<kX>(row, vec, task % groups, Lane(), act, tok);
  } else {
    QuantizeQ8_0Group<kX>(row, vec, cols, task % groups, Lane(), act, tok);
  }
}

// Each warp one strip against kTiles token tiles of 8; no split of K, so
// each entry adds its terms in block order in registers.
template <GemmAct kAct, int kTiles>
__global__ void __launch_bounds__(kBatchedThreads)
    GemmBatchedKernel(GemmMatrix m, ActView act, unsigned batch, float* y) {
  const unsigned warp = threadIdx.x / kWarp, lane = Lane();
  const int64_t strip = static_cast<int64_t>(blockIdx.x) * kBatchedWarps + warp;
  if (strip >= m.strips) return;
  const unsigned tile0 = blockIdx.y * kTiles;
  const unsigned g = lane / 4, t = lane % 4;
  const TermOf term_of{m, act};
  int acc[kTiles][4] = {};
  float sumb[kTiles][4] = {};
  float sumf[kTiles][4];
#pragma unroll
  for (int tt = 0; tt < kTiles; ++tt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) sumf[tt][e] = 0.0f;
  }
  // The k-loop of KLoop with kTiles token tiles per A fragment.
  constexpr int64_t kUnit = GroupsPerUnit<kAct>();
  const int64_t k_tiles = CeilDiv(m.cols, 32);
  const uint4* codes = m.codes + (strip * m.kgroups) * kWarp + lane;
  for (int64_t q = 0; q < m.kgroups; ++q) {
    const uint4 w = __ldg(codes + q * kWarp);
    const unsigned words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int tt = 0; tt < kTiles; ++tt) {
      const unsigned tok0 = (tile0 + tt) * 8;
      const uint4* p = act.Lane(tok0 + g, q, t);
      const uint4 lo = __ldg(p), hi = __ldg(p + 1);
      const unsigned bw[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (unsigned j = 0; j < 4; ++j) {
        unsigned a[4];
        Fragments(words[j], a);
        if (kAct == GemmAct::kQ8_0) {
          const int64_t kt = 4 * q + j;
          if (kt >= k_tiles) continue;
          int c[4] = {0, 0, 0, 0};
          Mma(c, a, bw[2 * j], bw[2 * j + 1]);
#pragma unroll
          for (unsigned e = 0; e < 4; ++e) {
            const unsigned tok = tok0 + EntryToken(lane, e);
            if (tok >= batch) continue;
            float term;
            if (term_of.Term<kAct>(kt, c[e], strip * 16 + EntryRow(lane, e), tok, &sumb[tt][e], &term)) {
              sumf[tt][e] = sumf[tt][e] + term;
            }
          }
        } else {
          Mma(acc[tt], a, bw[2 * j], bw[2 * j + 1]);
        }
      }
      if (kAct == GemmAct::kQ8K && q % kUnit == kUnit - 1) {
#pragma unroll
        for (unsigned e = 0; e < 4; ++e) {
          const unsigned tok = tok0 + EntryToken(lane, e);
          float term;
          if (tok < batch && term_of.Term<kAct>(q / 2, acc[tt][e], strip * 16 + EntryRow(lane, e), tok, nullptr, &term)) {
            sumf[tt][e] = sumf[tt][e] + term;
          }
          acc[tt][e] = 0;
        }
      }
    }
  }
#pragma unroll
  for (int tt = 0; tt < kTiles; ++tt) {
#pragma unroll
    for (unsigned e = 0; e < 4; ++e) {
      const unsigned tok = (tile0 + tt) * 8 + EntryToken(lane, e);
      const int64_t row = strip * 16 + EntryRow(lane, e);
      if (tok >= batch || row >= m.rows) continue;
      const float out = kAct == GemmAct::kI8S ? I8SOutput(acc[tt][e], act.qsum[tok], act.scale[tok], m.wscale[0])
                                              : sumf[tt][e];
      y[static_cast<int64_t>(tok) * m.rows + row] = out;
    }
  }
}

// ---- prepare ------------------------------------------------------------------------------------------

// One lane's uint4 of (strip, k-group): the codes of its fragments.
template <LayoutId kW>
__global__ void __launch_bounds__(256) PrepareCodesKernel(const uint8_t* w, GemmMatrix m, uint4* codes) {
  constexpr CodeMap kMap = LayoutOf(kW).codes;
  constexpr int64_t kBlock = LayoutOf(kW).block_elements;
  constexpr int64_t kBlockBytes = LayoutOf(kW).block_bytes;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= m.strips * m.kgroups * kWarp) return;
  const unsigned lane = static_cast<unsigned>(i % kWarp);
  const int64_t q = (i / kWarp) % m.kgroups, strip = i / kWarp / m.kgroups;
  const unsigned g = lane / 4, t = lane % 4;
  unsigned words[4];
  for (unsigned j = 0; j < 4; ++j) {
    unsigned word = 0;
    for (unsigned f = 0; f < 4; ++f) {
      const int64_t row = strip * 16 + g + 8 * (f % 2);
      for (unsigned b = 0; b < 4; ++b) {
        const int64_t k = (4 * q + j) * 32 + 16 * (f / 2) + 4 * t + b;
        unsigned code = 0;
        if (row < m.rows && k < m.cols) {
          const int64_t e = row * m.cols + k;
          code = MapCode(kMap, w + e / kBlock * kBlockBytes, static_cast<size_t>(e % kBlock));
        }
        word |= code << (8 * b + 2 * f);
      }
    }
    words[j] = word;
  }
  codes[i] = make_uint4(words[0], words[1], words[2], words[3]);
}

// The weight scales: per (row, block) the block's f16 d; I2_S its tail's f32.
template <LayoutId kW>
__global__ void __launch_bounds__(256) PrepareScalesKernel(const uint8_t* w, GemmMatrix m, float* wscale) {
  constexpr int64_t kBlockBytes = LayoutOf(kW).block_bytes;
  constexpr int64_t kScaleOffset = LayoutOf(kW).scale_offset;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (kW == LayoutId::kI2_S) {
    if (i == 0) wscale[0] = LoadF32(w + m.rows * m.cols / 4);
    return;
  }
  if (i >= m.strips * 16 * m.wblocks) return;
  const int64_t row = i / m.wblocks, blk = i % m.wblocks;
  // A row holds whole blocks (cols % block == 0): block row * wblocks + blk.
  wscale[i] = row < m.rows ? HalfToFloat(LoadU16(w + (row * m.wblocks + blk) * kBlockBytes + kScaleOffset)) : 0.0f;
}

unsigned Blocks(int64_t threads, unsigned per_block) {
  return static_cast<unsigned>(std::max<int64_t>(1, CeilDiv(threads, per_block)));
}

template <class... Params, class... Args>
cudaError_t Launch(void (*kernel)(Params...), dim3 grid, unsigned threads, size_t smem,
                   cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = dim3(threads);
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

template <LayoutId kW>
cudaError_t LaunchPrepareOf(const uint8_t* w, const GemmMatrix& m, cudaStream_t stream) {
  uint4* codes = const_cast<uint4*>(m.codes);
  float* wscale = const_cast<float*>(m.wscale);
  cudaError_t err = Launch(PrepareCodesKernel<kW>, dim3(Blocks(m.strips * m.kgroups * kWarp, 256)), 256,
                           0, stream, w, m, codes);
  if (err != cudaSuccess) return err;
  return Launch(PrepareScalesKernel<kW>, dim3(Blocks(m.strips * 16 * m.wblocks, 256)), 256, 0, stream,
                w, m, wscale);
}

// The fused kernel of a rule and x type.
template <GemmAct kAct>
void (*FusedKernelOf(LayoutId x))(FusedArgs) {
  switch (x) {
    case LayoutId::kF16: return GemmFusedKernel<kAct, LayoutId::kF16>;
    case LayoutId::kBF16: return GemmFusedKernel<kAct, LayoutId::kBF16>;
    default: return GemmFusedKernel<kAct, LayoutId::kF32>;
  }
}

void (*FusedKernelOf(GemmAct act, LayoutId x))(FusedArgs) {
  switch (act) {
    case GemmAct::kI8S: return FusedKernelOf<GemmAct::kI8S>(x);
    case GemmAct::kQ8K: return FusedKernelOf<GemmAct::kQ8K>(x);
    case GemmAct::kQ8_0: return FusedKernelOf<GemmAct::kQ8_0>(x);
  }
  return nullptr;
}

int MaxDynamicSmem() {
  int device = 0, bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    return 48 * 1024;
  }
  return bytes - 1024;  // the kernel's static reduction slots
}

int MultiprocessorCount() {
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return 1;
  }
  return count;
}

template <GemmAct kAct, LayoutId kX>
cudaError_t LaunchBatchedOf(const GemmJobArgs& job, int batch, const ActView& act, cudaStream_t stream) {
  const GemmMatrix& m = job.m;
  const unsigned quantize_grid =
      kAct == GemmAct::kI8S ? static_cast<unsigned>(batch) : Blocks(batch * CeilDiv(m.cols, 256), 8);
  cudaError_t err = Launch(QuantizeKernel<kAct, kX>, dim3(quantize_grid), 256, 0, stream, job.x, m.cols,
                           static_cast<unsigned>(batch), act);
  if (err != cudaSuccess) return err;
  const unsigned strips_grid = Blocks(m.strips, kBatchedWarps);
  if (batch <= 16) {
    return Launch(GemmBatchedKernel<kAct, 2>, dim3(strips_grid, Blocks(batch, 16)), kBatchedThreads, 0,
                  stream, m, act, static_cast<unsigned>(batch), job.y);
  }
  return Launch(GemmBatchedKernel<kAct, 4>, dim3(strips_grid, Blocks(batch, 32)), kBatchedThreads, 0,
                stream, m, act, static_cast<unsigned>(batch), job.y);
}

template <GemmAct kAct>
cudaError_t LaunchBatchedAct(LayoutId x, const GemmJobArgs& job, int batch, const ActView& act,
                             cudaStream_t stream) {
  switch (x) {
    case LayoutId::kF16: return LaunchBatchedOf<kAct, LayoutId::kF16>(job, batch, act, stream);
    case LayoutId::kBF16: return LaunchBatchedOf<kAct, LayoutId::kBF16>(job, batch, act, stream);
    default: return LaunchBatchedOf<kAct, LayoutId::kF32>(job, batch, act, stream);
  }
}

}  // namespace

int64_t GemmWeightBlocks(GemmAct act, int64_t cols) {
  switch (act) {
    case GemmAct::kI8S: return 1;
    case GemmAct::kQ8K: return cols / 256;
    case GemmAct::kQ8_0: return cols / 64;
  }
  return 1;
}

int64_t GemmActBlocks(GemmAct act, int64_t cols) {
  switch (act) {
    case GemmAct::kI8S: return 1;
    case GemmAct::kQ8K: return cols / 256;
    case GemmAct::kQ8_0: return cols / 32;
  }
  return 1;
}

size_t GemmWorkspaceBytes(GemmAct act, int64_t cols) {
  const int64_t frags = kGemmWorkspaceTokens * CeilDiv(cols, kGemmGroupCols) * 128;
  const int64_t meta = kGemmWorkspaceTokens * GemmActBlocks(act, cols) * 4;
  return static_cast<size_t>(Align16(frags) + 2 * Align16(meta));
}

GemmActivations GemmWorkspaceViews(GemmAct act, int64_t cols, void* workspace) {
  uint8_t* p = static_cast<uint8_t*>(workspace);
  const int64_t frags = Align16(kGemmWorkspaceTokens * CeilDiv(cols, kGemmGroupCols) * 128);
  const int64_t meta = Align16(kGemmWorkspaceTokens * GemmActBlocks(act, cols) * 4);
  return {reinterpret_cast<uint32_t*>(p), reinterpret_cast<float*>(p + frags),
          reinterpret_cast<int32_t*>(p + frags + meta)};
}

cudaError_t GemmKernelsInit() {
  const int smem = MaxDynamicSmem();
  for (GemmAct act : {GemmAct::kI8S, GemmAct::kQ8K, GemmAct::kQ8_0}) {
    for (LayoutId x : {LayoutId::kF32, LayoutId::kF16, LayoutId::kBF16}) {
      const cudaError_t err = cudaFuncSetAttribute(reinterpret_cast<const void*>(FusedKernelOf(act, x)),
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
      if (err != cudaSuccess) return err;
    }
  }
  return cudaSuccess;
}

cudaError_t LaunchGemmPrepare(LayoutId w, const uint8_t* bytes, const GemmMatrix& m,
                              cudaStream_t stream) {
  switch (w) {
    case LayoutId::kI2_S: return LaunchPrepareOf<LayoutId::kI2_S>(bytes, m, stream);
    case LayoutId::kTQ1_0: return LaunchPrepareOf<LayoutId::kTQ1_0>(bytes, m, stream);
    case LayoutId::kTQ2_0: return LaunchPrepareOf<LayoutId::kTQ2_0>(bytes, m, stream);
    case LayoutId::kQ2_0: return LaunchPrepareOf<LayoutId::kQ2_0>(bytes, m, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchGemmFused(GemmAct act, LayoutId x, const GemmJobArgs* jobs, int count, int batch,
                            cudaStream_t stream) {
  const int max_smem = MaxDynamicSmem();
  const int sms = MultiprocessorCount();
  FusedArgs args;
  args.count = count;
  args.batch = static_cast<unsigned>(batch);
  int64_t ctas = 0, smem = 0;
  for (int i = 0; i < count; ++i) {
    const GemmMatrix& m = jobs[i].m;
    // Strips per block: as many as leave a block per multiprocessor (fewer
    // blocks quantize the activations fewer times), the rest of the 8 warps
    // splitting K, but no more splits than units of K (whole weight
    // blocks); fewer strips where the terms would not fit.
    const int64_t units = act == GemmAct::kQ8K ? m.kgroups / 2 : m.kgroups;
    int strips_per_cta = 1;
    while (strips_per_cta < static_cast<int>(kFusedWarps) && m.strips >= 2LL * strips_per_cta * sms) {
      strips_per_cta *= 2;
    }
    while (strips_per_cta < static_cast<int>(kFusedWarps) &&
           static_cast<int64_t>(kFusedWarps) / strips_per_cta > units) {
      strips_per_cta *= 2;
    }
    while (strips_per_cta > 1 && FusedSmemOf(act, m, args.batch, strips_per_cta).total > max_smem) {
      strips_per_cta /= 2;
    }
    const int splits = static_cast<int>(kFusedWarps) / strips_per_cta;
    const int64_t need = FusedSmemOf(act, m, args.batch, strips_per_cta).total;
    if (need > max_smem) return cudaErrorInvalidConfiguration;
    smem = std::max(smem, need);
    args.jobs[i] = {jobs[i], ctas, strips_per_cta, splits};
    ctas += CeilDiv(m.strips, strips_per_cta);
  }
  if (ctas > INT32_MAX) return cudaErrorInvalidConfiguration;
  return Launch(FusedKernelOf(act, x), dim3(static_cast<unsigned>(ctas)), kFusedThreads,
                static_cast<size_t>(smem), stream, args);
}

cudaError_t LaunchGemmBatched(GemmAct act, LayoutId x, const GemmJobArgs& job, int batch,
                              const GemmActivations& workspace, cudaStream_t stream) {
  const ActView view{workspace.frags, workspace.scale, workspace.qsum, job.m.kgroups,
                     GemmActBlocks(act, job.m.cols), 8};
  switch (act) {
    case GemmAct::kI8S: return LaunchBatchedAct<GemmAct::kI8S>(x, job, batch, view, stream);
    case GemmAct::kQ8K: return LaunchBatchedAct<GemmAct::kQ8K>(x, job, batch, view, stream);
    case GemmAct::kQ8_0: return LaunchBatchedAct<GemmAct::kQ8_0>(x, job, batch, view, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace cuda
}  // namespace bitnet
