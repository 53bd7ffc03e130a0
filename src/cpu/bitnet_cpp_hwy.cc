// Highway kernels of bitnet.cpp's rules (formats/bitnet_cpp_rules.h): the
// I2_S scale, codes and values, and quantize_row_i8_s. The reference's
// double arithmetic reduces to float comparisons here: a float's magnitude
// compares with the double 1e-6 as with the float below it, and the product
// of two floats in double is exact, so only its sign matters.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/bitnet_cpp_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/bitnet_cpp_rules.h"
#include "formats/ggml_rules.h"
#include "formats/half.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// The largest |x| with NaN skipped (fmax), 0 for none: integer bits, where
// a NaN lane counts as 0.
float I2SScale(const float* HWY_RESTRICT x, size_t n) {
  const DF df;
  const DI di;
  const size_t N = hn::Lanes(df);
  const VI inf = hn::Set(di, kInfBits);
  VI m0 = hn::Zero(di), m1 = hn::Zero(di);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VI a0 = AbsBits(hn::LoadU(df, x + i)), a1 = AbsBits(hn::LoadU(df, x + i + N));
    m0 = hn::Max(m0, hn::IfThenZeroElse(hn::Gt(a0, inf), a0));
    m1 = hn::Max(m1, hn::IfThenZeroElse(hn::Gt(a1, inf), a1));
  }
  for (; i + N <= n; i += N) {
    const VI a = AbsBits(hn::LoadU(df, x + i));
    m0 = hn::Max(m0, hn::IfThenZeroElse(hn::Gt(a, inf), a));
  }
  const float head = BitsFloat(static_cast<uint32_t>(hn::GetLane(hn::MaxOfLanes(di, hn::Max(m0, m1)))));
  return I2SScaleMerge(head, I2SScaleOf(x + i, n - i));
}

// 1e-6f is the float nearest 1e-6 and lies below it: (double)|x| < 1e-6
// exactly when |x| <= 1e-6f.
constexpr float kMicro = 1e-6f;
static_assert(static_cast<double>(kMicro) < 1e-6, "1e-6f must lie below 1e-6");

// I2SCode: 1 where |x| <= kMicro; else 2 where x * scale > 0, that is where
// x has the sign kSign of the scale (none for a zero or NaN scale); else 0.
template <int kSign>
struct I2SRule {
  static constexpr int32_t kBase = 0;

  template <class D, class VI>
  HWY_INLINE VI Add(D d, hn::Vec<D> x, VI acc, int32_t unit) const {
    const auto tiny = hn::Le(hn::Abs(x), hn::Set(d, kMicro));
    acc = AddIf(acc, tiny, unit);
    if (kSign == 0) return acc;
    const auto agrees = kSign > 0 ? hn::Gt(x, hn::Zero(d)) : hn::Lt(x, hn::Zero(d));
    return AddIf(acc, hn::AndNot(tiny, agrees), 2 * unit);
  }
};

template <int kSign>
HWY_INLINE void I2SPack(const Layout& l, const float* HWY_RESTRICT x, size_t n,
                        uint8_t* HWY_RESTRICT out) {
  const size_t run = l.codes.run;
  for (size_t g = 0; g < n; g += 4 * run) {
    if (l.codes.msb_first) {
      PackRuns<true>(x + g, run, I2SRule<kSign>(), out + g / 4);
    } else {
      PackRuns<false>(x + g, run, I2SRule<kSign>(), out + g / 4);
    }
  }
}

void I2SEncode(const float* HWY_RESTRICT x, size_t n, float scale, uint8_t* HWY_RESTRICT out) {
  const Layout& l = GetLayout(LayoutId::kI2_S);
  if (scale > 0.0f) {
    I2SPack<1>(l, x, n, out);
  } else if (scale < 0.0f) {
    I2SPack<-1>(l, x, n, out);
  } else {
    I2SPack<0>(l, x, n, out);
  }
}

// (float)(code - 1) * scale; a NaN or infinite scale takes the reference
// (see DecodeTernary in cpu/ggml_hwy.cc).
void I2SDecode(const uint8_t* HWY_RESTRICT in, size_t n, float scale, float* HWY_RESTRICT y) {
  if (HWY_UNLIKELY(!std::isfinite(scale))) return DequantizeI2SBlocks(in, n, scale, y);
  const Layout& l = GetLayout(LayoutId::kI2_S);
  const CodeValues<DF> values(DF(), l.code_offset, scale);
  const size_t run = l.codes.run;
  for (size_t g = 0; g < n; g += 4 * run) {
    if (l.codes.msb_first) {
      UnpackRuns<true>(in + g / 4, run, values, y + g);
    } else {
      UnpackRuns<false>(in + g / 4, run, values, y + g);
    }
  }
}

// quantize_row_i8_s: without NaN or Inf the running double max is the
// largest |x| (or the 1e-5 floor); a row with either takes the reference.
// q = nearest_int(x * s) through ggml's magic add (the same float bits),
// clamped; the int32 sum is the same modulo 2^32 in any order.
void I8SRow(const float* HWY_RESTRICT x, size_t n, int8_t* HWY_RESTRICT q, float* scale,
            int32_t* sum) {
  const int32_t max_bits = MaxAbsBits(x, n);
  if (max_bits >= kInfBits) return QuantizeI8SRow(x, n, q, scale, sum);
  const double amax = static_cast<double>(BitsFloat(static_cast<uint32_t>(max_bits)));
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

HWY_EXPORT(I2SScale);
HWY_EXPORT(I2SEncode);
HWY_EXPORT(I2SDecode);
HWY_EXPORT(I8SRow);

void HwyBitnetCppKernels(int64_t hwy_target, TensorKernels* k) {
  k->i2s_scale = HwyTableEntry(HWY_DISPATCH_TABLE(I2SScale), hwy_target);
  k->i2s_encode = HwyTableEntry(HWY_DISPATCH_TABLE(I2SEncode), hwy_target);
  k->i2s_decode = HwyTableEntry(HWY_DISPATCH_TABLE(I2SDecode), hwy_target);
  k->i8s_row = HwyTableEntry(HWY_DISPATCH_TABLE(I8SRow), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
