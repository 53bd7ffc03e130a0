// The CPU code paths: the public BITNET_CPU_* bit, the Highway target and
// the name of each, best first (the order AUTO picks them in). Shared by the
// target selection and by the kernels, which report the target they were
// compiled for (see ReportCpuTarget).
#ifndef BITNET_CPU_TARGET_LIST_H_
#define BITNET_CPU_TARGET_LIST_H_

#include <cstddef>
#include <cstdint>

#include "bitnet_quant.h"
#include "hwy/detect_targets.h"

namespace bitnet {

struct TargetInfo {
  uint32_t bit;
  int64_t hwy;  // 0 for the reference
  const char* name;
};

inline constexpr TargetInfo kTargets[] = {
    {BITNET_CPU_AVX3_DL, HWY_AVX3_DL, "AVX3_DL"},
    {BITNET_CPU_AVX3, HWY_AVX3, "AVX3"},
    {BITNET_CPU_AVX2, HWY_AVX2, "AVX2"},
    {BITNET_CPU_SSE4, HWY_SSE4, "SSE4"},
    {BITNET_CPU_SSSE3, HWY_SSSE3, "SSSE3"},
    {BITNET_CPU_SVE2, HWY_SVE2, "SVE2"},
    {BITNET_CPU_SVE, HWY_SVE, "SVE"},
    {BITNET_CPU_NEON, HWY_NEON, "NEON"},
    {BITNET_CPU_EMU128, HWY_EMU128, "EMU128"},
    {BITNET_CPU_SCALAR, HWY_SCALAR, "SCALAR"},
    {BITNET_CPU_REFERENCE, 0, "REFERENCE"},
};
inline constexpr size_t kNumTargets = sizeof(kTargets) / sizeof(kTargets[0]);

// The BITNET_CPU_* bit of Highway target `hwy`; 0 for one not listed (those
// are compiled by some Highway builds but never selected).
constexpr uint32_t CpuTargetOfHwy(int64_t hwy) {
  for (const TargetInfo& t : kTargets) {
    if (t.hwy == hwy) return t.bit;
  }
  return 0;
}

// The per-thread report behind bitnet_last_cpu_target(). Every kernel
// records the target it was compiled for as it runs; an entry point that
// succeeds without running a CPU kernel records kNoCpuKernel.
constexpr uint32_t kNoCpuKernel = 0;
void ReportCpuTarget(uint32_t target);
uint32_t LastCpuTarget();

}  // namespace bitnet

#endif  // BITNET_CPU_TARGET_LIST_H_
