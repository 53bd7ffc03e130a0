// Index of a Highway target in an HWY_EXPORT table, so that a kernel can be
// picked per call instead of through Highway's process-wide chosen target.
// Include after hwy/highway.h.
#ifndef BITNET_CPU_HWY_TABLE_H_
#define BITNET_CPU_HWY_TABLE_H_

#include <cstddef>
#include <cstdint>

namespace bitnet {

inline size_t HwyTableIndex(int64_t hwy_target) {
  // Entry 0 is Highway's first-call trampoline; the last is the fallback
  // (SCALAR or EMU128), whose bits fall outside the shifted range.
  return hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(
      HWY_CHOSEN_TARGET_SHIFT(hwy_target) | HWY_CHOSEN_TARGET_MASK_SCALAR));
}

template <typename Fn, size_t kSize>
Fn HwyTableEntry(Fn const (&table)[kSize], int64_t hwy_target) {
  if ((hwy_target & HWY_TARGETS) == 0) return nullptr;
  if (kSize == 1) return table[0];  // single-target build: no dispatch
  const size_t index = HwyTableIndex(hwy_target);
  return index < kSize ? table[index] : nullptr;
}

}  // namespace bitnet

#endif  // BITNET_CPU_HWY_TABLE_H_
