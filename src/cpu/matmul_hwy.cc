// Highway matmul_i2s: vectorised across output columns, so every lane runs
// exactly the reference's sequential f32 sum over k (no reassociation).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/matmul_hwy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "cpu/codes-inl.h"
#include "cpu/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {
namespace {

// `count` columns of row l of B as floats (lanes past count are 0).
HWY_INLINE VF LoadColumns(const uint8_t* HWY_RESTRICT row, size_t count) {
  const DF df;
  const DI di;
  const hn::Rebind<uint8_t, DI> d8;
  if (count == hn::Lanes(df)) return hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, row)));
  HWY_ALIGN uint8_t buf[hn::MaxLanes(DF())] = {};
  for (size_t k = 0; k < count; ++k) buf[k] = row[k];
  return hn::ConvertTo(df, hn::PromoteTo(di, hn::Load(d8, buf)));
}

void MatmulI2S(const int8_t* HWY_RESTRICT a, const uint8_t* HWY_RESTRICT b,
               float* HWY_RESTRICT c, size_t m, size_t n, size_t k) {
  ReportThisTarget();
  const DF df;
  const size_t N = hn::Lanes(df);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; j += N) {
      const size_t count = n - j < N ? n - j : N;
      VF sum = hn::Zero(df);
      for (size_t l = 0; l < k; ++l) {
        const VF av = hn::Set(df, static_cast<float>(a[i * k + l]));
        sum = hn::Add(sum, hn::Mul(av, LoadColumns(b + l * n + j, count)));
      }
      if (count == N) {
        hn::StoreU(sum, df, c + i * n + j);
      } else {
        HWY_ALIGN float buf[hn::MaxLanes(DF())];
        hn::Store(sum, df, buf);
        for (size_t q = 0; q < count; ++q) c[i * n + j + q] = buf[q];
      }
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

HWY_EXPORT(MatmulI2S);

MatmulI2SFn HwyMatmulI2S(int64_t hwy_target) {
  return HwyTableEntry(HWY_DISPATCH_TABLE(MatmulI2S), hwy_target);
}

}  // namespace bitnet
#endif  // HWY_ONCE
