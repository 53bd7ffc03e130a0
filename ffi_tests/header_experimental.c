/* The experimental part of the header. header_experimental compiles this
 * with BITNET_QUANT_EXPERIMENTAL defined (it must build, warning-free), and
 * header_experimental_hidden without it, which must fail: those
 * declarations are not there for a caller who did not ask for them. */
#include "bitnet_quant.h"

int header_experimental(void);
int header_experimental(void) {
  bitnet_cuda_device_info info;
  info.struct_size = (uint32_t)sizeof(info);
  return bitnet_cuda_device_count() + (int)info.struct_size;
}
