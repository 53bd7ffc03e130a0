// Highway kernels of the element types: F16 and BF16 <-> f32 with ggml's
// conversions (formats/half.h). Integer steps plus one exact product, so
// that no result depends on the floating-point environment (flush-to-zero,
// denormals-are-zero, the rounding mode) or on F16C's NaN handling.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/half_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cstring>

#include "cpu/kernels.h"
#include "cpu/tensor-inl.h"
#include "formats/block_rules.h"
#include "formats/layouts.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

using D16 = hn::Rebind<uint16_t, DI>;

// HalfToFloat: normal numbers re-biased; subnormal ones as float(m) * 2^-24
// (exact, and a normal float); Inf, and NaN made quiet with its payload.
HWY_INLINE VF HalfToFloatV(VI h) {
  const DF df;
  const DI di;
  const VI sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(di, 0x8000)));
  const VI em = hn::And(h, hn::Set(di, 0x7FFF));
  const VI m = hn::And(h, hn::Set(di, 0x3FF));
  const VI normal = hn::Add(hn::ShiftLeft<13>(em), hn::Set(di, 0x38000000));
  const VI quiet = hn::IfThenElseZero(hn::Ne(m, hn::Zero(di)), hn::Set(di, 0x400000));
  const VI special = hn::Or(hn::Or(hn::Set(di, 0x7F800000), hn::ShiftLeft<13>(m)), quiet);
  const VI subnormal =
      hn::BitCast(di, hn::Mul(hn::ConvertTo(df, m), hn::Set(df, 1.0f / 16777216.0f)));
  const VI bits = hn::IfThenElse(hn::Lt(em, hn::Set(di, 0x400)), subnormal,
                                 hn::IfThenElse(hn::Gt(em, hn::Set(di, 0x7BFF)), special, normal));
  return hn::BitCast(df, hn::Or(bits, sign));
}

// FloatToHalf, case by case on |x|'s bits a: NaN, overflow, normal (round
// to nearest even by adding 0xFFF plus the kept lsb), zero, and subnormal
// (the same rounding at a per-lane shift of 14..24).
HWY_INLINE VI FloatToHalfV(VF f) {
  const DI di;
  const VI u = hn::BitCast(di, f);
  const VI sign = hn::And(hn::ShiftRight<16>(u), hn::Set(di, 0x8000));
  const VI a = hn::And(u, hn::Set(di, 0x7FFFFFFF));
  const VI one = hn::Set(di, 1);
  const VI normal = hn::ShiftRight<13>(hn::Sub(
      hn::Add(a, hn::Add(hn::Set(di, 0xFFF), hn::And(hn::ShiftRight<13>(a), one))),
      hn::Set(di, 0x38000000)));
  const VI mantissa = hn::Or(hn::And(a, hn::Set(di, 0x7FFFFF)), hn::Set(di, 0x800000));
  // 126 - exponent; lanes that are not subnormal results are clamped to a
  // valid count and discarded below.
  const VI shift = hn::Min(hn::Max(hn::Sub(hn::Set(di, 126), hn::ShiftRight<23>(a)), one),
                           hn::Set(di, 31));
  const VI half_minus_one = hn::Sub(one << hn::Sub(shift, one), one);
  const VI lsb = hn::And(mantissa >> shift, one);
  const VI subnormal = hn::Add(hn::Add(mantissa, half_minus_one), lsb) >> shift;
  VI h = hn::IfThenElseZero(hn::Gt(a, hn::Set(di, 0x32FFFFFF)), subnormal);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x387FFFFF)), normal, h);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x477FEFFF)), hn::Set(di, 0x7C00), h);
  h = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x7F800000)), hn::Set(di, 0x7E00), h);
  return hn::Or(h, sign);
}

// FloatToBFloat: the top 16 bits rounded to nearest even; a NaN's truncated
// and made quiet.
HWY_INLINE VI FloatToBFloatV(VF f) {
  const DI di;
  const DU du;
  const VU u = hn::BitCast(du, f);
  const VU top = hn::ShiftRight<16>(u);
  const VU rounded = hn::ShiftRight<16>(
      hn::Add(u, hn::Add(hn::Set(du, 0x7FFFu), hn::And(top, hn::Set(du, 1u)))));
  const auto nan = hn::Gt(AbsBits(f), hn::Set(di, kInfBits));
  return hn::IfThenElse(nan, hn::BitCast(di, hn::Or(top, hn::Set(du, 0x40u))), hn::BitCast(di, rounded));
}

void ToFloat(LayoutId src, const void* HWY_RESTRICT in, size_t n, float* HWY_RESTRICT y) {
  const DF df;
  const DI di;
  const D16 d16;
  const size_t N = hn::Lanes(df);
  const uint16_t* h = static_cast<const uint16_t*>(in);
  size_t i = 0;
  switch (src) {
    case LayoutId::kF32:
      memcpy(y, in, n * sizeof(float));
      return;
    case LayoutId::kF16:
      for (; i + N <= n; i += N) hn::StoreU(HalfToFloatV(hn::PromoteTo(di, hn::LoadU(d16, h + i))), df, y + i);
      break;
    case LayoutId::kBF16:
      for (; i + N <= n; i += N) {
        hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(di, hn::LoadU(d16, h + i)))), df, y + i);
      }
      break;
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kI2_S:
    case LayoutId::kQ2_0:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not element types: the API never asks
  }
  ReferenceToFloat(src, h + i, n - i, y + i);
}

void FromFloat(LayoutId dst, const float* HWY_RESTRICT x, size_t n, void* HWY_RESTRICT out) {
  const DF df;
  const D16 d16;
  const size_t N = hn::Lanes(df);
  uint16_t* h = static_cast<uint16_t*>(out);
  size_t i = 0;
  switch (dst) {
    case LayoutId::kF32:
      memcpy(out, x, n * sizeof(float));
      return;
    case LayoutId::kF16:
      for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(d16, FloatToHalfV(hn::LoadU(df, x + i))), d16, h + i);
      break;
    case LayoutId::kBF16:
      for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(d16, FloatToBFloatV(hn::LoadU(df, x + i))), d16, h + i);
      break;
    case LayoutId::kQ8_0:
    case LayoutId::kQ8_K:
    case LayoutId::kIQ2_S:
    case LayoutId::kTQ1_0:
    case LayoutId::kTQ2_0:
    case LayoutId::kI2_S:
    case LayoutId::kQ2_0:
    case LayoutId::kHfBitnet:
    case LayoutId::kBitnetRsI2S:
      return;  // not element types: the API never asks
  }
  ReferenceFromFloat(dst, x + i, n - i, h + i);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(ToFloat);
HWY_EXPORT(FromFloat);

void HwyHalfKernels(int64_t hwy_target, TensorKernels* k) {
  k->to_float = HwyTableEntry(HWY_DISPATCH_TABLE(ToFloat), hwy_target);
  k->from_float = HwyTableEntry(HWY_DISPATCH_TABLE(FromFloat), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
