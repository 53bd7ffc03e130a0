// The tensor-layout kernels: element conversions, encode (quantize) and
// decode of the ggml and bitnet.cpp block layouts, transcodes between the
// ternary ones. Bit for bit the scalar references of src/formats, whose
// per-element and per-byte rules they call (BITNET_HOST_DEVICE): what is
// written here is only how a warp splits a block's work, and the block
// reductions those rules do in sequence, re-derived so that their order
// does not matter (each is spelled out where it is done). Built with
// -fmad=false and IEEE division, no flush to zero: every a*b+c rounds
// twice, as on the CPU; NaN bits follow x86 through formats/x86_float.h.
//
// Work mapping: a warp takes a group of 256 consecutive elements (every
// block size, 32 to 256, divides it; a tensor's last group may hold fewer
// blocks), lane l its elements 8l..8l+7, loaded as two float4 (F32) or one
// uint4 (F16/BF16) where the buffer is 16-byte aligned. A block of B
// elements is then B/8 consecutive lanes, which reduce its scale with xor
// shuffles. Codes go to the warp's shared scratch, from which each lane
// builds whole output bytes (PackedCodeByte: the same byte rule as the
// CPU's PackBlockCodes) and stores them, consecutive bytes by consecutive
// lanes. One group per warp, 8 warps per thread block, the whole grid at
// once (the hardware hands out the blocks as they finish).
#include "tensor_kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "formats/bitnet_cpp_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/ternary_codes.h"
#include "formats/x86_float.h"
#include "device_util.cuh"

namespace bitnet {
namespace cuda {
namespace {

constexpr unsigned kWarpsPerBlock = 8;
constexpr unsigned kThreads = kWarp * kWarpsPerBlock;
constexpr unsigned kGroup = 256;           // elements per warp
constexpr unsigned kMaxGroupBytes = 292;   // Q8_K's one block, the largest group

__device__ const uint16_t kIq2sGridDevice[1024] = {
#include "formats/iq2s_grid.inc"
};

// A layout's descriptor as constants (formats/layouts.h): the kernels are
// instantiated per layout, so its map and sizes fold into the code.
template <LayoutId kId>
struct L {
  static constexpr unsigned kBlock = static_cast<unsigned>(LayoutOf(kId).block_elements);
  static constexpr unsigned kBlockBytes = static_cast<unsigned>(LayoutOf(kId).block_bytes);
  static constexpr unsigned kGroupBytes = 256 / kBlock * kBlockBytes;  // bytes of 256 elements
};

// One warp's scratch: the codes of its group, and the bytes of it that are
// not codes (scales, Q8_K's sums) staged at their place in the group.
struct WarpScratch {
  uint8_t codes[kGroup];
  uint8_t bytes[kMaxGroupBytes];
};

__device__ __forceinline__ size_t WarpIndex() {
  return static_cast<size_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
}

unsigned GridFor(size_t warps) {
  const size_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(blocks, INT32_MAX)));
}

template <class... Params, class... Args>
cudaError_t Launch(void (*kernel)(Params...), unsigned grid, cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(kThreads);
  config.stream = stream;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

// ---- conversions -----------------------------------------------------------------

template <LayoutId kSrc, LayoutId kDst>
__global__ void __launch_bounds__(kThreads)
    ConvertKernel(const void* in, void* out, size_t n, bool vec_in, bool vec_out) {
  const size_t e = (static_cast<size_t>(blockIdx.x) * kThreads + threadIdx.x) * 8;
  if (e >= n) return;
  const unsigned count = n - e < 8 ? static_cast<unsigned>(n - e) : 8u;
  float v[8];
  Load8<kSrc>(in, e, count, vec_in && count == 8, v);
  Store8<kDst>(out, e, count, vec_out && count == 8, v);
}

template <LayoutId kSrc>
cudaError_t LaunchConvertFrom(const void* in, LayoutId dst, void* out, size_t n,
                              cudaStream_t stream) {
  const unsigned grid = GridFor((n + 8 * kWarp - 1) / (8 * kWarp));
  const bool vi = Aligned16(in), vo = Aligned16(out);
  switch (dst) {
    case LayoutId::kF16:
      return Launch(ConvertKernel<kSrc, LayoutId::kF16>, grid, stream, in, out, n, vi, vo);
    case LayoutId::kBF16:
      return Launch(ConvertKernel<kSrc, LayoutId::kBF16>, grid, stream, in, out, n, vi, vo);
    default:
      return Launch(ConvertKernel<kSrc, LayoutId::kF32>, grid, stream, in, out, n, vi, vo);
  }
}

// ---- encode: one rule per layout --------------------------------------------------
// Each Encode(v, valid, lane, s, scale) sees its lane's 8 elements (`valid`:
// they lie in the tensor; a tensor's last group may hold fewer blocks, whose
// lanes still take part in the shuffles) and writes their codes to s.codes
// and its blocks' other bytes to s.bytes; `scale` is I2_S's tensor scale.

// TQ1_0 / TQ2_0, 256-element blocks (quantize_row_tq*_ref). amax is
// MAX(amax, |x|) in element order from 0, where ggml's MAX(a, b) = a > b ?
// a : b lets a NaN replace the running value and the next element replace
// the NaN: so amax is the largest |x| after the block's last NaN (from 0),
// or a NaN when the last element is one. Its f16 is then 0x7E00 and every
// code 1, whatever the NaN's bits.
template <LayoutId kId>
struct EncodeTQ {
  static constexpr LayoutId kLayout = kId;
  static __device__ void Encode(const float v[8], bool valid, unsigned lane, WarpScratch& s,
                                float) {
    int last_nan = -1;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (valid && v[i] != v[i]) last_nan = static_cast<int>(8 * lane + i);
    }
    last_nan = GroupMax<32>(last_nan);
    float m = 0.0f;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (valid && static_cast<int>(8 * lane + i) > last_nan) m = fmaxf(m, fabsf(v[i]));
    }
    m = GroupMax<32>(m);
    const float amax = last_nan == static_cast<int>(kGroup - 1) ? __uint_as_float(0x7FC00000u) : m;
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;  // a NaN amax is "true" in C
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      const uint8_t c = TqCode(v[i], id);
      s.codes[8 * lane + i] = kId == LayoutId::kTQ2_0 ? static_cast<uint8_t>(c & 3u) : c;
    }
    if (lane == 0) StoreU16(s.bytes + LayoutOf(kId).scale_offset, FloatToHalf(amax));
  }
};

// Q2_0, 64-element blocks of 18 bytes (f16 d first): amax over the non-NaN
// |x| (`if (a > amax)`), as fmaxf from 0 takes it; 8 lanes a block.
struct EncodeQ2 {
  static constexpr LayoutId kLayout = LayoutId::kQ2_0;
  static __device__ void Encode(const float v[8], bool valid, unsigned lane, WarpScratch& s,
                                float) {
    float m = 0.0f;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) {
      if (valid) m = fmaxf(m, fabsf(v[i]));
    }
    m = GroupMax<8>(m);
    const float id = m > 0.0f ? 1.0f / m : 0.0f;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) s.codes[8 * lane + i] = Q2Code(v[i], id);
    if (lane % 8 == 0) StoreU16(s.bytes + (lane / 8) * L<kLayout>::kBlockBytes, FloatToHalf(m));
  }
};

// Q8_0, 32-element blocks of 34 bytes (Q8_0BlockAmax); d = amax / 127
// stored as f16 (a NaN d as 0x7E00 whatever its bits); q the low byte of
// (int)roundf(x * id).
struct EncodeQ8_0 {
  static constexpr LayoutId kLayout = LayoutId::kQ8_0;
  static __device__ void Encode(const float v[8], bool valid, unsigned lane, WarpScratch& s,
                                float) {
    const float d = Q8_0BlockAmax(v, valid, lane) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) s.codes[8 * lane + i] = Q8_0Byte(v[i], id);
    if (lane % 4 == 0) StoreU16(s.bytes + (lane / 4) * L<kLayout>::kBlockBytes, FloatToHalf(d));
  }
};

// Q8_K, one 256-element block of 292 bytes (f32 d, 256 int8, 16 int16
// sums): iscale = -127 / max (Q8KBlockMax), q = min(nearest_int(iscale *
// x), 127), d = 1 / iscale; all zero when amax is 0.
struct EncodeQ8K {
  static constexpr LayoutId kLayout = LayoutId::kQ8_K;
  static __device__ void Encode(const float v[8], bool valid, unsigned lane, WarpScratch& s,
                                float) {
    const float max = Q8KBlockMax(v, valid, lane);
    int sum = 0;
    float d = 0.0f;
    if (max != 0.0f) {  // the same in every lane
      const float iscale = -127.0f / max;
#pragma unroll
      for (unsigned i = 0; i < 8; ++i) {
        const int8_t q = Q8KValue(v[i], iscale);
        s.codes[8 * lane + i] = static_cast<uint8_t>(q);
        sum += q;
      }
      d = 1.0f / iscale;
    } else {
#pragma unroll
      for (unsigned i = 0; i < 8; ++i) s.codes[8 * lane + i] = 0;
    }
    sum += __shfl_xor_sync(kFullMask, sum, 1);  // 16 elements per bsum
    if (lane % 2 == 0) StoreU16(s.bytes + 4 + kGroup + lane, static_cast<uint16_t>(static_cast<int16_t>(sum)));
    if (lane == 0) StoreU32(s.bytes, __float_as_uint(d));
  }
};

// I2_S (quantize_i2_s): the sign code of each element with the tensor
// scale; blocks carry no scale.
struct EncodeI2S {
  static constexpr LayoutId kLayout = LayoutId::kI2_S;
  static __device__ void Encode(const float v[8], bool, unsigned lane, WarpScratch& s,
                                float scale) {
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) s.codes[8 * lane + i] = I2SCode(v[i], scale);
  }
};

// Byte `byte` of block `blk` of the warp's group: a code byte built from
// the codes by the layout's map (Q8's int8 bytes as they are), any other
// byte as staged.
template <LayoutId kId>
__device__ __forceinline__ uint8_t GroupByte(const WarpScratch& s, unsigned blk, unsigned byte) {
  using T = L<kId>;
  constexpr CodeMap kMap = LayoutOf(kId).codes;  // a local constant: device code may not take the table's address
  const uint8_t* codes = s.codes + blk * T::kBlock;
  if (kMap.kind == CodeMapKind::kInt8) {
    const unsigned c = byte - kMap.codes_offset;
    return c < T::kBlock ? codes[c] : s.bytes[blk * T::kBlockBytes + byte];
  }
  if (IsCodeByte(kMap, T::kBlock, byte)) return PackedCodeByte(kMap, codes, byte);
  return s.bytes[blk * T::kBlockBytes + byte];
}

// Writes the blocks of the warp's group (len elements) from its scratch.
template <LayoutId kId>
__device__ __forceinline__ void StoreGroup(const WarpScratch& s, unsigned len, unsigned lane,
                                           uint8_t* out) {
  using T = L<kId>;
  const unsigned total = len / T::kBlock * T::kBlockBytes;
  for (unsigned c = lane; c < total; c += kWarp) out[c] = GroupByte<kId>(s, c / T::kBlockBytes, c % T::kBlockBytes);
}

// Copies the bytes of the warp's group (len elements) into its scratch.
template <LayoutId kId>
__device__ __forceinline__ void StageGroup(const uint8_t* in, unsigned len, unsigned lane,
                                           uint8_t* bytes) {
  const unsigned total = len / L<kId>::kBlock * L<kId>::kBlockBytes;
  for (unsigned c = lane; c < total; c += kWarp) bytes[c] = __ldg(in + c);
}

// The elements of the warp's group: where they start, how many (a multiple
// of 32), this lane's 8 (`valid` when they lie in the tensor).
struct Group {
  size_t index;
  size_t first;
  unsigned len;
  unsigned lane;
  bool valid;
};

__device__ __forceinline__ bool GroupOfWarp(size_t n, Group* g) {
  g->index = WarpIndex();
  g->first = g->index * kGroup;
  if (g->first >= n) return false;
  g->len = n - g->first < kGroup ? static_cast<unsigned>(n - g->first) : kGroup;
  g->lane = Lane();
  g->valid = 8 * g->lane < g->len;
  return true;
}

// Encodes the group (I2_S: with its tensor scale from *scale_bits).
template <class Rule, LayoutId kSrc>
__global__ void __launch_bounds__(kThreads)
    EncodeKernel(const void* in, size_t n, bool vec, uint8_t* out, const unsigned* scale_bits) {
  __shared__ WarpScratch scratch[kWarpsPerBlock];
  WarpScratch& s = scratch[threadIdx.x / kWarp];
  Group g;
  if (!GroupOfWarp(n, &g)) return;
  float v[8];
  if (g.valid) {
    Load8<kSrc>(in, g.first + 8 * g.lane, 8, vec, v);
  } else {
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) v[i] = 0.0f;
  }
  const float scale = scale_bits != nullptr ? __uint_as_float(*scale_bits) : 0.0f;
  Rule::Encode(v, g.valid, g.lane, s, scale);
  __syncwarp();
  StoreGroup<Rule::kLayout>(s, g.len, g.lane, out + g.index * L<Rule::kLayout>::kGroupBytes);
}

template <class Rule>
cudaError_t LaunchEncodeRule(void* out, LayoutId src, const void* in, size_t n,
                             const unsigned* scale_bits, cudaStream_t stream) {
  const unsigned grid = GridFor((n + kGroup - 1) / kGroup);
  uint8_t* o = static_cast<uint8_t*>(out);
  const bool vec = Aligned16(in);
  switch (src) {
    case LayoutId::kF16:
      return Launch(EncodeKernel<Rule, LayoutId::kF16>, grid, stream, in, n, vec, o, scale_bits);
    case LayoutId::kBF16:
      return Launch(EncodeKernel<Rule, LayoutId::kBF16>, grid, stream, in, n, vec, o, scale_bits);
    default:
      return Launch(EncodeKernel<Rule, LayoutId::kF32>, grid, stream, in, n, vec, o, scale_bits);
  }
}

// ---- I2_S's tensor scale --------------------------------------------------------------

// quantize_i2_s's max: fmax over |x| in double skips a NaN, and a float's
// double is exact, so it is the largest non-NaN |x| as a float (fmaxf from
// 0 skips NaN too); non-negative floats order as their bits, which an
// unsigned atomicMax combines across thread blocks.
template <LayoutId kSrc>
__global__ void __launch_bounds__(kThreads)
    I2SScaleKernel(const void* in, size_t n, bool vec, unsigned* scale_bits) {
  __shared__ float warp_max[kWarpsPerBlock];
  float m = 0.0f;
  for (size_t e = (static_cast<size_t>(blockIdx.x) * kThreads + threadIdx.x) * 8; e < n;
       e += static_cast<size_t>(gridDim.x) * kThreads * 8) {
    float v[8];
    Load8<kSrc>(in, e, 8, vec, v);  // n is a multiple of 128
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) m = fmaxf(m, fabsf(v[i]));
  }
  m = GroupMax<32>(m);
  if (Lane() == 0) warp_max[threadIdx.x / kWarp] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (unsigned w = 1; w < kWarpsPerBlock; ++w) m = fmaxf(m, warp_max[w]);
    atomicMax(scale_bits, __float_as_uint(m));
  }
}

// The tail once every code is written (the scale may sit inside it): the
// f32 scale, then 28 zero bytes.
__global__ void FinishI2STailKernel(uint8_t* tail, const unsigned* scale_bits) {
  const unsigned bits = *scale_bits;
  StoreU32(tail, bits);
  for (unsigned i = 4; i < 32; ++i) tail[i] = 0;
}

// ---- decode ----------------------------------------------------------------------------

// Each lane decodes its 8 elements of the staged group (DecodeLane: the
// map's arithmetic and the block scale once, a ternary block's four values
// converted once) and stores them as one or two 16-byte stores.
template <LayoutId kSrc, LayoutId kDst>
__global__ void __launch_bounds__(kThreads)
    DecodeKernel(const uint8_t* in, size_t n, bool vec, void* out) {
  using T = L<kSrc>;
  __shared__ WarpScratch scratch[kWarpsPerBlock];
  uint8_t* bytes = scratch[threadIdx.x / kWarp].bytes;
  Group g;
  if (!GroupOfWarp(n, &g)) return;
  // I2_S's tail follows its n/4 code bytes.
  const float tensor_scale = kSrc == LayoutId::kI2_S ? LoadF32(in + n / 4) : 0.0f;
  StageGroup<kSrc>(in + g.index * T::kGroupBytes, g.len, g.lane, bytes);
  __syncwarp();
  if (g.valid) {
    const unsigned e = 8 * g.lane;
    uint32_t bits[8];
    DecodeLane<kSrc, kDst>(bytes + (e / T::kBlock) * T::kBlockBytes, e % T::kBlock, tensor_scale,
                           kIq2sGridDevice, bits);
    StoreBits8<kDst>(out, g.first + e, 8, vec, bits);
  }
}

template <LayoutId kSrc>
cudaError_t LaunchDecodeFrom(const void* in, size_t n, LayoutId dst, void* out, cudaStream_t stream) {
  const unsigned grid = GridFor((n + kGroup - 1) / kGroup);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  const bool vec = Aligned16(out);
  switch (dst) {
    case LayoutId::kF16: return Launch(DecodeKernel<kSrc, LayoutId::kF16>, grid, stream, i, n, vec, out);
    case LayoutId::kBF16: return Launch(DecodeKernel<kSrc, LayoutId::kBF16>, grid, stream, i, n, vec, out);
    default: return Launch(DecodeKernel<kSrc, LayoutId::kF32>, grid, stream, i, n, vec, out);
  }
}

// ---- transcode --------------------------------------------------------------------------

// Finite scales in order as ints, +-0 as one.
__device__ __forceinline__ int ScaleKey(float s) {
  const int bits = s == 0.0f ? 0 : __float_as_int(s);
  return bits >= 0 ? bits : bits ^ 0x7FFFFFFF;
}

__device__ __forceinline__ void AtomicMinU64(unsigned long long* p, unsigned long long v) {
  if (v != kNotFound) atomicMin(p, v);
}

// The code numbers (value + 1 in every ternary layout) of the lane's 8
// elements of a staged source group, and their block's scale; elements
// outside the tensor read as zeros (code 1).
template <LayoutId kSrc>
__device__ __forceinline__ void SourceCodes(const uint8_t* bytes, const Group& g,
                                            float tensor_scale, unsigned codes[8], float* scale) {
  using T = L<kSrc>;
  const unsigned e = 8 * g.lane;
  const uint8_t* block = bytes + (e / T::kBlock) * T::kBlockBytes;
  if (g.valid) {
    LaneCodes<kSrc>(block, e % T::kBlock, codes);
    *scale = BlockScale<kSrc>(block, tensor_scale);
  } else {
#pragma unroll
    for (unsigned i = 0; i < 8; ++i) codes[i] = 1;
    *scale = 0.0f;
  }
}

// The first element (index in the tensor) among the lane's that is
// non-zero, kNotFound if none.
__device__ __forceinline__ unsigned long long FirstNonzero(const Group& g, const unsigned codes[8]) {
  unsigned long long at = kNotFound;
#pragma unroll
  for (int i = 7; i >= 0; --i) {
    if (codes[i] != 1) at = g.first + 8 * g.lane + i;
  }
  return at;
}

// Lanes of a target block (a per-tensor target: the whole warp).
template <LayoutId kDst>
__host__ __device__ constexpr unsigned TargetLanes() {
  return kDst == LayoutId::kI2_S ? kWarp : L<kDst>::kBlock / 8;
}

template <LayoutId kSrc, LayoutId kDst>
__global__ void __launch_bounds__(kThreads)
    TranscodeCheckKernel(const uint8_t* in, size_t n, float src_scale, bool check_exact,
                         TranscodeFindings* f) {
  using S = L<kSrc>;
  using D = L<kDst>;
  constexpr bool kPerTensor = kDst == LayoutId::kI2_S;
  __shared__ WarpScratch scratch[kWarpsPerBlock];
  uint8_t* bytes = scratch[threadIdx.x / kWarp].bytes;
  Group g;
  if (!GroupOfWarp(n, &g)) return;
  StageGroup<kSrc>(in + g.index * S::kGroupBytes, g.len, g.lane, bytes);
  __syncwarp();
  unsigned codes[8];
  float scale;
  SourceCodes<kSrc>(bytes, g, src_scale, codes, &scale);
  const unsigned e = 8 * g.lane;
  // A non-finite block scale (I2_S's was checked by the caller).
  unsigned long long bad_scale = kNotFound;
  if (kSrc != LayoutId::kI2_S && g.valid && e % S::kBlock == 0 && !isfinite(scale)) {
    bad_scale = g.first + e;
  }
  // A value the target cannot hold (+2 into TQ1_0).
  constexpr unsigned kMaxCode = static_cast<unsigned>(LayoutOf(kDst).code_max);
  unsigned long long bad_value = kNotFound;
#pragma unroll
  for (int i = 7; i >= 0; --i) {
    if (codes[i] > kMaxCode) bad_value = g.first + e + i;
  }
  // The first non-zero element of each target block (of a per-tensor
  // target: of the group), its scale, and the elements whose scales differ.
  const unsigned long long nonzero = GroupMin<TargetLanes<kDst>()>(FirstNonzero(g, codes));
  float alpha = 0.0f;
  if (nonzero != kNotFound) {
    const unsigned at = static_cast<unsigned>(nonzero - g.first);
    alpha = BlockScale<kSrc>(bytes + (at / S::kBlock) * S::kBlockBytes, src_scale);
  }
  unsigned long long disagreement = kNotFound;
  int min_key = INT_MAX, max_key = INT_MIN;
#pragma unroll
  for (int i = 7; i >= 0; --i) {
    if (codes[i] != 1) {
      if (!kPerTensor && scale != alpha) disagreement = g.first + e + i;
      min_key = min(min_key, ScaleKey(scale));
      max_key = max(max_key, ScaleKey(scale));
    }
  }
  unsigned long long inexact = kNotFound;
  if (!kPerTensor && check_exact && g.valid && e % D::kBlock == 0 && nonzero != kNotFound &&
      HalfToFloat(FloatToHalf(alpha)) != alpha) {
    inexact = (g.first + e) / D::kBlock;
  }
  bad_scale = GroupMin<32>(bad_scale);
  bad_value = GroupMin<32>(bad_value);
  disagreement = GroupMin<32>(disagreement);
  inexact = GroupMin<32>(inexact);
  min_key = GroupMin<32>(min_key);
  max_key = GroupMax<32>(max_key);
  if (g.lane == 0) {
    AtomicMinU64(&f->bad_scale, bad_scale);
    AtomicMinU64(&f->bad_value, bad_value);
    AtomicMinU64(&f->disagreement, disagreement);
    AtomicMinU64(&f->inexact_group, inexact);
    if (kPerTensor && nonzero != kNotFound) {
      AtomicMinU64(&f->first_nonzero, nonzero);
      atomicMin(&f->min_scale_key, min_key);
      atomicMax(&f->max_scale_key, max_key);
    }
  }
}

template <LayoutId kSrc, LayoutId kDst>
__global__ void __launch_bounds__(kThreads)
    TranscodePackKernel(const uint8_t* in, uint8_t* out, size_t n, float src_scale,
                        bool unit_scale, unsigned long long first_nonzero) {
  using S = L<kSrc>;
  using D = L<kDst>;
  constexpr bool kPerTensor = kDst == LayoutId::kI2_S;
  __shared__ WarpScratch scratch[kWarpsPerBlock];
  WarpScratch& w = scratch[threadIdx.x / kWarp];
  if (kPerTensor && blockIdx.x == 0 && threadIdx.x == 0) {
    float a = 0.0f;
    if (first_nonzero != kNotFound) {
      a = unit_scale ? 1.0f : BlockScale<kSrc>(in + first_nonzero / S::kBlock * S::kBlockBytes, src_scale);
    }
    uint8_t* tail = out + n / 4;
    StoreU32(tail, __float_as_uint(a));
    for (unsigned i = 4; i < 32; ++i) tail[i] = 0;
  }
  Group g;
  if (!GroupOfWarp(n, &g)) return;
  StageGroup<kSrc>(in + g.index * S::kGroupBytes, g.len, g.lane, w.bytes);
  __syncwarp();
  unsigned codes[8];
  float scale;
  SourceCodes<kSrc>(w.bytes, g, src_scale, codes, &scale);
  const unsigned e = 8 * g.lane;
  // Each target block's scale: its first non-zero element's (0 without one).
  float stored = 0.0f;
  if (!kPerTensor) {
    const unsigned long long nonzero = GroupMin<TargetLanes<kDst>()>(FirstNonzero(g, codes));
    if (nonzero != kNotFound) {
      const unsigned at = static_cast<unsigned>(nonzero - g.first);
      stored = unit_scale ? 1.0f : BlockScale<kSrc>(w.bytes + (at / S::kBlock) * S::kBlockBytes, src_scale);
    }
  }
  __syncwarp();  // the staged source is read: the scratch takes the target
#pragma unroll
  for (unsigned i = 0; i < 8; ++i) w.codes[e + i] = static_cast<uint8_t>(codes[i]);
  if (!kPerTensor && g.valid && e % D::kBlock == 0) {
    StoreU16(w.bytes + (e / D::kBlock) * D::kBlockBytes + LayoutOf(kDst).scale_offset, FloatToHalf(stored));
  }
  __syncwarp();
  StoreGroup<kDst>(w, g.len, g.lane, out + g.index * D::kGroupBytes);
}

template <LayoutId kSrc>
cudaError_t LaunchCheckFrom(const void* in, LayoutId dst, size_t n, float src_scale,
                            bool check_exact, TranscodeFindings* f, cudaStream_t stream) {
  const unsigned grid = GridFor((n + kGroup - 1) / kGroup);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  switch (dst) {
    case LayoutId::kTQ1_0: return Launch(TranscodeCheckKernel<kSrc, LayoutId::kTQ1_0>, grid, stream, i, n, src_scale, check_exact, f);
    case LayoutId::kTQ2_0: return Launch(TranscodeCheckKernel<kSrc, LayoutId::kTQ2_0>, grid, stream, i, n, src_scale, check_exact, f);
    case LayoutId::kQ2_0: return Launch(TranscodeCheckKernel<kSrc, LayoutId::kQ2_0>, grid, stream, i, n, src_scale, check_exact, f);
    case LayoutId::kI2_S: return Launch(TranscodeCheckKernel<kSrc, LayoutId::kI2_S>, grid, stream, i, n, src_scale, check_exact, f);
    default: return cudaErrorInvalidValue;  // the backend sends only these
  }
}

template <LayoutId kSrc>
cudaError_t LaunchPackFrom(const void* in, LayoutId dst, void* out, size_t n, float src_scale,
                           bool unit_scale, unsigned long long first_nonzero,
                           cudaStream_t stream) {
  const unsigned grid = GridFor((n + kGroup - 1) / kGroup);
  const uint8_t* i = static_cast<const uint8_t*>(in);
  uint8_t* o = static_cast<uint8_t*>(out);
  switch (dst) {
    case LayoutId::kTQ1_0: return Launch(TranscodePackKernel<kSrc, LayoutId::kTQ1_0>, grid, stream, i, o, n, src_scale, unit_scale, first_nonzero);
    case LayoutId::kTQ2_0: return Launch(TranscodePackKernel<kSrc, LayoutId::kTQ2_0>, grid, stream, i, o, n, src_scale, unit_scale, first_nonzero);
    case LayoutId::kQ2_0: return Launch(TranscodePackKernel<kSrc, LayoutId::kQ2_0>, grid, stream, i, o, n, src_scale, unit_scale, first_nonzero);
    case LayoutId::kI2_S: return Launch(TranscodePackKernel<kSrc, LayoutId::kI2_S>, grid, stream, i, o, n, src_scale, unit_scale, first_nonzero);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

// ---- launchers -------------------------------------------------------------------------

cudaError_t LaunchConvert(LayoutId src, const void* in, LayoutId dst, void* out, size_t n,
                          cudaStream_t stream) {
  switch (src) {
    case LayoutId::kF16: return LaunchConvertFrom<LayoutId::kF16>(in, dst, out, n, stream);
    case LayoutId::kBF16: return LaunchConvertFrom<LayoutId::kBF16>(in, dst, out, n, stream);
    default: return LaunchConvertFrom<LayoutId::kF32>(in, dst, out, n, stream);
  }
}

cudaError_t LaunchEncodeBlocks(LayoutId dst, void* out, LayoutId src, const void* in, size_t n,
                               cudaStream_t stream) {
  switch (dst) {
    case LayoutId::kTQ1_0: return LaunchEncodeRule<EncodeTQ<LayoutId::kTQ1_0>>(out, src, in, n, nullptr, stream);
    case LayoutId::kTQ2_0: return LaunchEncodeRule<EncodeTQ<LayoutId::kTQ2_0>>(out, src, in, n, nullptr, stream);
    case LayoutId::kQ2_0: return LaunchEncodeRule<EncodeQ2>(out, src, in, n, nullptr, stream);
    case LayoutId::kQ8_0: return LaunchEncodeRule<EncodeQ8_0>(out, src, in, n, nullptr, stream);
    case LayoutId::kQ8_K: return LaunchEncodeRule<EncodeQ8K>(out, src, in, n, nullptr, stream);
    default: return cudaErrorInvalidValue;  // the backend sends only these
  }
}

cudaError_t LaunchI2SScale(LayoutId src, const void* in, size_t n, unsigned* scale_bits,
                           cudaStream_t stream) {
  // At most 2048 thread blocks, so at most 2048 atomics.
  const unsigned grid = std::min(GridFor((n + 8 * kWarp - 1) / (8 * kWarp)), 2048u);
  const bool vec = Aligned16(in);
  switch (src) {
    case LayoutId::kF16: return Launch(I2SScaleKernel<LayoutId::kF16>, grid, stream, in, n, vec, scale_bits);
    case LayoutId::kBF16: return Launch(I2SScaleKernel<LayoutId::kBF16>, grid, stream, in, n, vec, scale_bits);
    default: return Launch(I2SScaleKernel<LayoutId::kF32>, grid, stream, in, n, vec, scale_bits);
  }
}

cudaError_t LaunchEncodeI2S(void* out, LayoutId src, const void* in, size_t n,
                            const unsigned* scale_bits, cudaStream_t stream) {
  const cudaError_t err = LaunchEncodeRule<EncodeI2S>(out, src, in, n, scale_bits, stream);
  if (err != cudaSuccess) return err;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(1);
  config.blockDim = dim3(1);
  config.stream = stream;
  return cudaLaunchKernelEx(&config, FinishI2STailKernel, static_cast<uint8_t*>(out) + n / 4,
                            scale_bits);
}

cudaError_t LaunchDecodeBlocks(LayoutId src, const void* in, size_t n, LayoutId dst, void* out,
                               cudaStream_t stream) {
  switch (src) {
    case LayoutId::kTQ1_0: return LaunchDecodeFrom<LayoutId::kTQ1_0>(in, n, dst, out, stream);
    case LayoutId::kTQ2_0: return LaunchDecodeFrom<LayoutId::kTQ2_0>(in, n, dst, out, stream);
    case LayoutId::kQ2_0: return LaunchDecodeFrom<LayoutId::kQ2_0>(in, n, dst, out, stream);
    case LayoutId::kQ8_0: return LaunchDecodeFrom<LayoutId::kQ8_0>(in, n, dst, out, stream);
    case LayoutId::kQ8_K: return LaunchDecodeFrom<LayoutId::kQ8_K>(in, n, dst, out, stream);
    case LayoutId::kIQ2_S: return LaunchDecodeFrom<LayoutId::kIQ2_S>(in, n, dst, out, stream);
    case LayoutId::kI2_S: return LaunchDecodeFrom<LayoutId::kI2_S>(in, n, dst, out, stream);
    default: return cudaErrorInvalidValue;
  }
}

TranscodeFindings TranscodeFindingsInit() {
  return {kNotFound, kNotFound, kNotFound, kNotFound, kNotFound, INT_MAX, INT_MIN};
}

float ScaleOfKey(int key) {
  const int bits = key >= 0 ? key : key ^ 0x7FFFFFFF;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

cudaError_t LaunchTranscodeCheck(LayoutId src, const void* in, LayoutId dst, size_t n,
                                 float src_scale, bool check_exact, TranscodeFindings* findings,
                                 cudaStream_t stream) {
  switch (src) {
    case LayoutId::kTQ1_0: return LaunchCheckFrom<LayoutId::kTQ1_0>(in, dst, n, src_scale, check_exact, findings, stream);
    case LayoutId::kTQ2_0: return LaunchCheckFrom<LayoutId::kTQ2_0>(in, dst, n, src_scale, check_exact, findings, stream);
    case LayoutId::kQ2_0: return LaunchCheckFrom<LayoutId::kQ2_0>(in, dst, n, src_scale, check_exact, findings, stream);
    case LayoutId::kI2_S: return LaunchCheckFrom<LayoutId::kI2_S>(in, dst, n, src_scale, check_exact, findings, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchTranscodePack(LayoutId src, const void* in, LayoutId dst, void* out, size_t n,
                                float src_scale, bool unit_scale,
                                unsigned long long first_nonzero, cudaStream_t stream) {
  switch (src) {
    case LayoutId::kTQ1_0: return LaunchPackFrom<LayoutId::kTQ1_0>(in, dst, out, n, src_scale, unit_scale, first_nonzero, stream);
    case LayoutId::kTQ2_0: return LaunchPackFrom<LayoutId::kTQ2_0>(in, dst, out, n, src_scale, unit_scale, first_nonzero, stream);
    case LayoutId::kQ2_0: return LaunchPackFrom<LayoutId::kQ2_0>(in, dst, out, n, src_scale, unit_scale, first_nonzero, stream);
    case LayoutId::kI2_S: return LaunchPackFrom<LayoutId::kI2_S>(in, dst, out, n, src_scale, unit_scale, first_nonzero, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace cuda
}  // namespace bitnet
