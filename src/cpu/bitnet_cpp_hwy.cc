// Highway kernels of bitnet.cpp's rules (formats/bitnet_cpp_rules.h): the
// I2_S codes, scale and values from and to F32, BF16 and F16 elements, and
// quantize_row_i8_s. The reference's double arithmetic reduces to float
// comparisons (see I2SEncodeAs).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/bitnet_cpp_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/cache_control.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/block_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// I2SCode under a scale >= 0, which is what quantize_i2_s's scales are:
// 1 where |x| <= 1e-6f (the float nearest 1e-6 lies below it, so (double)|x|
// < 1e-6 is exactly that), else 2 where x > 0 (the double product of two
// floats is exact: only its sign matters), else 0 (NaN included). The
// scale then does not change the codes, except that a zero scale would
// code x > 1e-6f as 0; but a zero scale has no such x.
constexpr float kMicro = 1e-6f;
static_assert(static_cast<double>(kMicro) < 1e-6, "1e-6f must lie below 1e-6");

// A part holding NaN: the reference's scale (NaN skipped) and codes, on
// floats.
float I2SEncodeWithNaN(LayoutId type, const void* HWY_RESTRICT x, size_t n, uint8_t* HWY_RESTRICT out) {
  const size_t size = type == LayoutId::kF32 ? sizeof(float) : sizeof(uint16_t);
  const uint8_t* in = static_cast<const uint8_t*>(x);
  HWY_ALIGN float values[kI2SBlock];
  float scale = 0.0f;
  for (size_t i = 0; i < n; i += kI2SBlock) {
    ElementsToFloats(type, in + i * size, kI2SBlock, values);
    scale = I2SScaleMerge(scale, I2SScaleOf(values, kI2SBlock));
  }
  for (size_t i = 0; i < n; i += kI2SBlock) {
    ElementsToFloats(type, in + i * size, kI2SBlock, values);
    QuantizeI2SBlocks(values, kI2SBlock, scale, out + i / 4);
  }
  return scale;
}

// The codes of n elements (a multiple of 128) and their scale, the largest
// |x| (fmax: NaN skipped), in one pass over the keys and one over the codes
// while the part is in cache. Code 1 + [x > 1e-6f] - [x < -1e-6f] is the
// rule above when there is no NaN.
template <class View>
float I2SEncodeAs(const typename View::Stored* HWY_RESTRICT x, size_t n, uint8_t* HWY_RESTRICT out) {
  // The key pass KiB by KiB, each with a prefetch of a line that the
  // coding pass below prefetches in full (kEncodePrefetchBytes ahead).
  constexpr size_t kChunk = kKeyPassPrefetchBytes / sizeof(*x);
  int32_t key = 0;
  for (size_t c = 0; c < n; c += kChunk) {
    hwy::Prefetch(reinterpret_cast<const char*>(  // NOLINT(performance-no-int-to-ptr): see below
        reinterpret_cast<uintptr_t>(x + c) + kEncodePrefetchBytes));
    key = std::max(key, MaxAbsKey<View>(x + c, std::min(kChunk, n - c)));
  }
  if (HWY_UNLIKELY(key > View::kInfKey)) return I2SEncodeWithNaN(View::kType, x, n, out);
  constexpr const Layout& l = LayoutOf(LayoutId::kI2_S);
  const Cut<View> above_micro = Cut<View>::At(FloatFromBits(FloatBits(kMicro) + 1));
  constexpr size_t kGroup = size_t{4} * l.codes.run;
  for (size_t g = 0; g < n; g += kGroup) {
    // The elements kEncodePrefetchBytes ahead, the caller's next part near
    // the end of this one: a hint, which does not fault past the tensor
    // (the address made as an integer, not as a pointer past the array).
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(x + g) + kEncodePrefetchBytes;
    for (size_t b = 0; b < kGroup * sizeof(*x); b += 64) {
      hwy::Prefetch(reinterpret_cast<const char*>(ahead + b));  // NOLINT(performance-no-int-to-ptr)
    }
    PackRuns<View>(x + g, l.codes.run, l.codes.msb_first, above_micro, out + g / 4);
  }
  return View::Value(key);
}

float I2SEncode(LayoutId type, const void* HWY_RESTRICT x, size_t n, uint8_t* HWY_RESTRICT out) {
  ReportThisTarget();
  if (type == LayoutId::kBF16) return I2SEncodeAs<BF16View>(static_cast<const uint16_t*>(x), n, out);
  if (type == LayoutId::kF16) return I2SEncodeAs<F16View>(static_cast<const uint16_t*>(x), n, out);
  return I2SEncodeAs<F32View>(static_cast<const float*>(x), n, out);
}

// (float)(code - 1) * scale, converted to the output type; a NaN or
// infinite scale takes the reference.
template <class Out, Stores kStores>
void I2SDecodeAs(const uint8_t* HWY_RESTRICT in, size_t n, float scale, LayoutId type,
                 typename Out::Stored* HWY_RESTRICT y) {
  constexpr const Layout& l = LayoutOf(LayoutId::kI2_S);
  if (HWY_UNLIKELY(!std::isfinite(scale))) {
    HWY_ALIGN float values[kI2SBlock];
    for (size_t i = 0; i < n; i += kI2SBlock) {
      DequantizeI2SBlocks(in + i / 4, kI2SBlock, scale, values);
      ReferenceFromFloat(type, values, kI2SBlock, y + i);
    }
    return;
  }
  uint16_t record[8];
  typename Out::Scale values;
  if constexpr (std::is_same<Out, F32Out>::value) {
    values = {scale, l.code_offset};
  } else {
    Record16(type, l.code_offset, scale, record);
    values = record;
  }
  for (size_t g = 0; g < n; g += size_t{4} * l.codes.run) {
    UnpackRuns<Out, kStores>(in + g / 4, l.codes.run, l.codes.msb_first, values, y + g);
  }
}

template <Stores kStores>
void I2SDecodeTo(const uint8_t* HWY_RESTRICT in, size_t n, float scale, LayoutId type, void* HWY_RESTRICT y) {
  if (type == LayoutId::kF32) return I2SDecodeAs<F32Out, kStores>(in, n, scale, type, static_cast<float*>(y));
  I2SDecodeAs<Bits16Out, kStores>(in, n, scale, type, static_cast<uint16_t*>(y));
}

void I2SDecode(const uint8_t* HWY_RESTRICT in, size_t n, float scale, LayoutId type, void* HWY_RESTRICT y,
               Stores stores) {
  ReportThisTarget();
  if (stores == Stores::kStreamed) return I2SDecodeTo<Stores::kStreamed>(in, n, scale, type, y);
  I2SDecodeTo<Stores::kCached>(in, n, scale, type, y);
}

// quantize_row_i8_s: without NaN or Inf the running double max is the
// largest |x| (or the 1e-5 floor); a row with either takes the reference.
// q = nearest_int(x * s) through ggml's magic add (the same float bits),
// clamped; the int32 sum is the same modulo 2^32 in any order.
void I8SRow(const float* HWY_RESTRICT x, size_t n, int8_t* HWY_RESTRICT q, float* scale,
            int32_t* sum) {
  ReportThisTarget();
  const int32_t max_bits = MaxAbsKey<F32View>(x, n);
  if (max_bits >= F32View::kInfKey) return QuantizeI8SRow(x, n, q, scale, sum);
  const double amax = static_cast<double>(FloatFromBits(static_cast<uint32_t>(max_bits)));
  const float s = static_cast<float>(127.0 / (amax > 1e-5 ? amax : 1e-5));
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const size_t N = hn::Lanes(df);
  const VF vs = hn::Set(df, s);
  VI total = hn::Zero(di);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const VF biased = hn::Add(hn::Mul(hn::LoadU(df, x + i), vs), hn::Set(df, 12582912.0f));
    VI v = hn::Sub(hn::And(hn::BitCast(di, biased), hn::Set(di, 0x007FFFFF)),
                   hn::Set(di, 0x00400000));
    v = hn::Min(hn::Max(v, hn::Set(di, -128)), hn::Set(di, 127));
    hn::StoreU(NarrowTo<int8_t>(v), d8, q + i);
    total = hn::Add(total, v);
  }
  uint32_t wrapped = static_cast<uint32_t>(hn::GetLane(hn::SumOfLanes(di, total)));
  for (; i < n; ++i) {
    int v = NearestInt(x[i] * s);
    v = v > 127 ? 127 : (v < -128 ? -128 : v);
    q[i] = static_cast<int8_t>(v);
    wrapped += static_cast<uint32_t>(v);
  }
  *scale = s;
  *sum = static_cast<int32_t>(wrapped);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(I2SEncode);
HWY_EXPORT(I2SDecode);
HWY_EXPORT(I8SRow);

void HwyBitnetCppKernels(int64_t hwy_target, TensorKernels* k) {
  k->i2s_encode = HwyTableEntry(HWY_DISPATCH_TABLE(I2SEncode), hwy_target);
  k->i2s_decode = HwyTableEntry(HWY_DISPATCH_TABLE(I2SDecode), hwy_target);
  k->i8s_row = HwyTableEntry(HWY_DISPATCH_TABLE(I8SRow), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
