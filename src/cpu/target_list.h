// The CPU code paths: the public BITNET_CPU_* bit, the Highway target and
// the name of each, best first (the order AUTO picks them in). Shared by the
// target selection and by the kernels, which report the target they were
// compiled for (see ReportCpuTarget).
#ifndef BITNET_CPU_TARGET_LIST_H_
#define BITNET_CPU_TARGET_LIST_H_

#include <atomic>
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

// The REFERENCE target's kernels: ReportingReference<rule>::Run reports
// REFERENCE, then runs the scalar rule. The rules themselves do not report:
// Highway kernels also run them (for special blocks) and report their own
// target.
template <auto kRule>
struct ReportingReference;
template <class R, class... Args, R (*kRule)(Args...)>
struct ReportingReference<kRule> {
  static R Run(Args... args) {
    ReportCpuTarget(BITNET_CPU_REFERENCE);
    return kRule(args...);
  }
};

// One step of a call split over threads. Each part starts from no report
// and adds what it ran; the calling thread, which may have run no part
// itself, then reports the union: the one target every part ran, or
// several bits (no single target) if the parts ran different code.
class PartReports {
 public:
  // Runs part() on the thread that runs the part (the caller's included).
  template <class Part>
  void Run(const Part& part) {
    ReportCpuTarget(kNoCpuKernel);
    part();
    ran_.fetch_or(LastCpuTarget(), std::memory_order_relaxed);
  }
  // On the calling thread, once every part is done (joined or counted
  // with acquire/release, which orders these relaxed updates).
  void Publish() const { ReportCpuTarget(ran_.load(std::memory_order_relaxed)); }

 private:
  std::atomic<uint32_t> ran_{kNoCpuKernel};
};

}  // namespace bitnet

#endif  // BITNET_CPU_TARGET_LIST_H_
