// Highway dequantizer of the BitNet-rs quantizer family: value =
// float(code - 2) * scale, the same conversion and product as the reference.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/dequantize_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>

#include "cpu/codes-inl.h"
#include "cpu/kernels.h"
#include "formats/bitnet_rs_quantizer.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// Decodes `count` < N elements through a buffer: a block's tail.
HWY_INLINE void DecodePartial(const uint8_t* HWY_RESTRICT packed, size_t i, size_t count,
                              const CodeValues<DF>& values, float* HWY_RESTRICT out) {
  HWY_ALIGN float buf[hn::MaxLanes(DF())];
  hn::Store(values(BitsToCodes(LoadBits(packed, i, count))), DF(), buf);
  for (size_t k = 0; k < count; ++k) out[k] = buf[k];
}

HWY_INLINE void DecodeBlock(const uint8_t* HWY_RESTRICT packed, size_t start, size_t len,
                            float scale, float* HWY_RESTRICT out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const CodeValues<DF> values(df, 2, scale);  // float(code - 2) * scale
  size_t i = 0;
  for (; i + N <= len; i += N) {
    hn::StoreU(values(BitsToCodes(LoadBits(packed, start + i, N))), df, out + i);
  }
  if (i < len) DecodePartial(packed, start + i, len - i, values, out + i);
}

// Plain stores: non-temporal ones measured slower here, even for outputs far
// larger than the caches. A block with a non-finite scale takes the
// reference's element rule, which spells out the bits of its NaNs (a
// vector product would leave them to the compiler: EMU128 folds x1 and x-1).
void Dequantize(Format format, const uint8_t* HWY_RESTRICT packed,
                const float* HWY_RESTRICT scales, size_t n, size_t block,
                float* HWY_RESTRICT output) {
  ReportThisTarget();
  const bool zero_nonfinite = DequantZeroesNonFiniteScale(format);
  for (size_t b = 0, start = 0; start < n; ++b, start += block) {
    const size_t len = n - start < block ? n - start : block;
    const float scale = scales[b];
    if (HWY_UNLIKELY(!std::isfinite(scale))) {
      for (size_t k = 0; k < len; ++k) {
        output[start + k] = DequantValue(zero_nonfinite, GetCode(packed, start + k), scale);
      }
    } else {
      DecodeBlock(packed, start, len, scale, output + start);
    }
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "cpu/hwy_table.h"

namespace bitnet {

HWY_EXPORT(Dequantize);

DequantizeFn HwyDequantize(int64_t hwy_target) {
  return HwyTableEntry(HWY_DISPATCH_TABLE(Dequantize), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
