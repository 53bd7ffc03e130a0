/* Compiled as C99, C++11 and C++17 with -Wall -Wextra -Werror -pedantic by
 * the header_* tests: the public header must be self-contained, idempotent
 * and warning-free in every language a caller may use. */
#include "bitnet_quant.h"
#include "bitnet_quant.h"

int header_check(void);
int header_check(void) {
  bitnet_quant_options options = BITNET_QUANT_OPTIONS_INIT;
  const bitnet_format format = BITNET_FORMAT_TL2;
  const bitnet_cpu_target target = BITNET_CPU_AVX3_DL;
  const bitnet_device device = BITNET_DEVICE_CUDA;
  const enum bitnet_status status = BITNET_E_DEVICE_FAILURE;
  const uint32_t blocks = BITNET_I2S_DEFAULT_BLOCK_SIZE + BITNET_TL1_DEFAULT_BLOCK_SIZE +
                         BITNET_TL2_DEFAULT_BLOCK_SIZE + BITNET_MIN_BLOCK_SIZE +
                         BITNET_MAX_BLOCK_SIZE;
  options.flags = BITNET_FLAG_STRICT | BITNET_FLAG_NOT_STRICT;
  if (bitnet_quant_options_init(&options, sizeof(options)) != BITNET_OK) return -1;
  return (int)options.struct_size + (int)format + (int)target + (int)device + (int)status +
         (int)options.flags + BITNET_QUANT_VERSION_NUMBER + (int)sizeof(BITNET_QUANT_VERSION_STRING) +
         (int)blocks + (int)BITNET_QUANT_OPTIONS_SIZE_V1;
}
