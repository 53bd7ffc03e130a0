#include "cpu/targets.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <strings.h>

#include "api/errors.h"
#include "cpu/gemm_kernels.h"
#include "cpu/target_list.h"
#include "formats/bitnet_rs_kernel.h"
#include "formats/bitnet_rs_quantizer.h"
#include "hwy/targets.h"

namespace bitnet {
namespace {

uint32_t FromHwyMask(int64_t hwy_mask) {
  uint32_t bits = BITNET_CPU_REFERENCE;
  for (const TargetInfo& t : kTargets) {
    if (t.hwy & hwy_mask) bits |= t.bit;
  }
  return bits;
}

bool IsSingleBit(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

const TargetInfo* Find(uint32_t bit) {
  for (const TargetInfo& t : kTargets) {
    if (t.bit == bit) return &t;
  }
  return nullptr;
}

struct KernelTable {
  KernelSet sets[kNumTargets];
  TensorKernels tensor[kNumTargets];
  KernelTable() {
    for (size_t i = 0; i < kNumTargets; ++i) {
      const TargetInfo& t = kTargets[i];
      if (t.hwy == 0) {
        // The references report REFERENCE (the Highway kernels report
        // themselves).
        sets[i] = {ReportingReference<ReferenceQuantize>::Run,
                   ReportingReference<ReferenceDequantize>::Run,
                   ReportingReference<ReferenceKernelQuantize>::Run,
                   ReportingReference<ReferenceMatmulI2S>::Run, &kReferenceTensorKernels,
                   &kReferenceGemmKernels};
      } else {
        HwyGgmlKernels(t.hwy, &tensor[i]);
        HwyBitnetCppKernels(t.hwy, &tensor[i]);
        HwyAbsmeanKernels(t.hwy, &tensor[i]);
        HwyHalfKernels(t.hwy, &tensor[i]);
        HwyCodeKernels(t.hwy, &tensor[i]);
        sets[i] = {HwyQuantize(t.hwy), HwyDequantize(t.hwy), HwyKernelQuantize(t.hwy),
                   HwyMatmulI2S(t.hwy), &tensor[i], HwyGemmKernels(t.hwy)};
      }
    }
  }
};

const KernelSet* KernelsOf(uint32_t bit) {
  static const KernelTable table;
  for (size_t i = 0; i < kNumTargets; ++i) {
    if (kTargets[i].bit == bit) return &table.sets[i];
  }
  return nullptr;
}

// BITNET_CPU_TARGET, read once. status != 0 when it names an unusable target.
struct EnvTarget {
  uint32_t target = BITNET_CPU_AUTO;
  int status = BITNET_OK;
  char value[64] = {0};
};

const EnvTarget& GetEnvTarget() {
  static const EnvTarget env = [] {
    EnvTarget e;
    const char* v = std::getenv("BITNET_CPU_TARGET");
    if (v == nullptr || *v == '\0') return e;
    std::snprintf(e.value, sizeof(e.value), "%s", v);
    uint32_t t = 0;
    if (TargetFromName(v, &t) != BITNET_OK || (t != BITNET_CPU_AUTO && !(t & SupportedTargets()))) {
      e.status = BITNET_E_UNSUPPORTED_TARGET;
    } else {
      e.target = t;
    }
    return e;
  }();
  return env;
}

std::atomic<uint32_t> g_default_target{BITNET_CPU_AUTO};

uint32_t BestTarget() {
  const uint32_t supported = SupportedTargets();
  for (const TargetInfo& t : kTargets) {
    if (t.bit & supported) return t.bit;
  }
  return BITNET_CPU_REFERENCE;
}

// BITNET_OK if `target` is one known bit that this CPU can run.
int CheckUsable(uint32_t target, const char* what) {
  if (!IsSingleBit(target) || Find(target) == nullptr) {
    return Fail(BITNET_E_UNSUPPORTED_TARGET, "%s 0x%x is not one BITNET_CPU_* bit", what,
                target);
  }
  if (!(target & SupportedTargets())) {
    return Fail(BITNET_E_UNSUPPORTED_TARGET, "%s %s is not %s", what, TargetName(target),
                (target & CompiledTargets()) ? "supported by this CPU"
                                             : "compiled into this library");
  }
  return BITNET_OK;
}

}  // namespace

uint32_t CompiledTargets() {
  static const uint32_t compiled = FromHwyMask(HwyCompiledTargets());
  return compiled;
}
// Cached: the CPUID queries behind it cost microseconds in a VM.
uint32_t SupportedTargets() {
  static const uint32_t supported = FromHwyMask(HwySupportedTargets());
  return supported;
}

const char* TargetName(uint32_t target) {
  if (target == BITNET_CPU_AUTO) return "AUTO";
  const TargetInfo* t = Find(target);
  return t ? t->name : "UNKNOWN";
}

int TargetFromName(const char* name, uint32_t* target) {
  if (strcasecmp(name, "AUTO") == 0) {
    *target = BITNET_CPU_AUTO;
    return BITNET_OK;
  }
  for (const TargetInfo& t : kTargets) {
    if (strcasecmp(name, t.name) == 0) {
      *target = t.bit;
      return BITNET_OK;
    }
  }
  return BITNET_E_INVALID_ARGUMENT;
}

int SetDefaultTarget(uint32_t target) {
  if (target != BITNET_CPU_AUTO) {
    const int status = CheckUsable(target, "cpu target");
    if (status != BITNET_OK) return status;
  }
  g_default_target.store(target, std::memory_order_relaxed);
  return BITNET_OK;
}

int DefaultTarget(uint32_t* target) {
  const uint32_t set = g_default_target.load(std::memory_order_relaxed);
  if (set != BITNET_CPU_AUTO) {
    *target = set;
    return BITNET_OK;
  }
  const EnvTarget& env = GetEnvTarget();
  if (env.status != BITNET_OK) {
    return Fail(env.status,
                "BITNET_CPU_TARGET=%s is not a target this library and CPU support "
                "(supported: see bitnet_cpu_targets_supported)",
                env.value);
  }
  *target = env.target != BITNET_CPU_AUTO ? env.target : BestTarget();
  return BITNET_OK;
}

int ResolveKernels(uint32_t requested, const KernelSet** kernels) {
  uint32_t target = requested;
  const int status = target == BITNET_CPU_AUTO ? DefaultTarget(&target)
                                               : CheckUsable(target, "options.cpu_target");
  if (status != BITNET_OK) return status;
  *kernels = KernelsOf(target);
  return BITNET_OK;
}

}  // namespace bitnet
