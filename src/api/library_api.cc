// Version and CPU-target entry points.
#include "api/errors.h"
#include "bitnet_quant.h"
#include "cpu/target_list.h"
#include "cpu/targets.h"

extern "C" {

unsigned bitnet_version_number(void) { return BITNET_QUANT_VERSION_NUMBER; }
const char* bitnet_version_string(void) { return BITNET_QUANT_VERSION_STRING; }

bitnet_cpu_target bitnet_cpu_targets_compiled(void) { return bitnet::CompiledTargets(); }
bitnet_cpu_target bitnet_cpu_targets_supported(void) { return bitnet::SupportedTargets(); }
const char* bitnet_cpu_target_name(bitnet_cpu_target target) {
  return bitnet::TargetName(target);
}

int bitnet_cpu_target_from_name(const char* name, bitnet_cpu_target* target) {
  if (name == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "name is NULL");
  if (target == nullptr) return bitnet::Fail(BITNET_E_NULL_POINTER, "target is NULL");
  if (bitnet::TargetFromName(name, target) != BITNET_OK) {
    return bitnet::Fail(BITNET_E_INVALID_ARGUMENT, "\"%s\" is not a CPU target name", name);
  }
  return BITNET_OK;
}

int bitnet_cpu_set_target(bitnet_cpu_target target) { return bitnet::SetDefaultTarget(target); }

bitnet_cpu_target bitnet_cpu_get_target(void) {
  uint32_t target = 0;
  return bitnet::DefaultTarget(&target) == BITNET_OK ? target : 0;
}

bitnet_cpu_target bitnet_last_cpu_target(void) { return bitnet::LastCpuTarget(); }

}  // extern "C"
