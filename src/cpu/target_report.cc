// The per-thread report behind bitnet_last_cpu_target() (cpu/target_list.h),
// on its own: the kernel files that a benchmark compiles into itself link
// with it alone.
#include "cpu/target_list.h"

namespace bitnet {
namespace {

thread_local uint32_t t_last_cpu_target = kNoCpuKernel;

}  // namespace

void ReportCpuTarget(uint32_t target) { t_last_cpu_target = target; }
uint32_t LastCpuTarget() { return t_last_cpu_target; }

}  // namespace bitnet
