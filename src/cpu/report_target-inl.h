// ReportThisTarget(), per Highway target: the first call of every Highway
// kernel entry, so that the report behind bitnet_last_cpu_target() comes
// from the code that runs and a dispatch that sent a forced target
// elsewhere would show. A kernel that runs a scalar rule for some blocks
// (NaN/Inf, a layout without a vector path) still reports its own target:
// the dispatch chose it, and the rule is part of its code.

// Toggle guard: this file is included once per Highway target.
#if defined(BITNET_CPU_REPORT_TARGET_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITNET_CPU_REPORT_TARGET_INL_H_
#undef BITNET_CPU_REPORT_TARGET_INL_H_
#else
#define BITNET_CPU_REPORT_TARGET_INL_H_
#endif

#include <cstdint>

#include "cpu/target_list.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitnet {
namespace HWY_NAMESPACE {

HWY_INLINE void ReportThisTarget() {
  constexpr uint32_t kThisTarget = CpuTargetOfHwy(HWY_TARGET);
  ReportCpuTarget(kThisTarget);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace bitnet
HWY_AFTER_NAMESPACE();

#endif  // BITNET_CPU_REPORT_TARGET_INL_H_
