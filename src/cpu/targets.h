// CPU code paths: which are compiled and runnable, the process default, and
// the kernels of each. Targets are the public BITNET_CPU_* bits.
#ifndef BITNET_CPU_TARGETS_H_
#define BITNET_CPU_TARGETS_H_

#include <cstdint>

#include "cpu/kernels.h"

namespace bitnet {

uint32_t CompiledTargets();
uint32_t SupportedTargets();
const char* TargetName(uint32_t target);
// 0 and sets *target on success; BITNET_E_INVALID_ARGUMENT otherwise.
int TargetFromName(const char* name, uint32_t* target);

// Process default (BITNET_CPU_AUTO restores env/best). Fails for a target
// that is not a single supported bit.
int SetDefaultTarget(uint32_t target);
// The default now: the one set, else BITNET_CPU_TARGET, else the best.
// Fails (with a message) when BITNET_CPU_TARGET names an unusable target.
int DefaultTarget(uint32_t* target);

// The kernels of `requested` (BITNET_CPU_AUTO = the default).
int ResolveKernels(uint32_t requested, const KernelSet** kernels);

}  // namespace bitnet

#endif  // BITNET_CPU_TARGETS_H_
