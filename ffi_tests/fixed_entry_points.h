/* The fixed-format entry points indexed by bitnet_format, for tests that
 * run them next to the general ones. */
#ifndef BITNET_FFI_TESTS_FIXED_ENTRY_POINTS_H
#define BITNET_FFI_TESTS_FIXED_ENTRY_POINTS_H

#include <stddef.h>
#include <stdint.h>

typedef int (*fixed_quantize_fn)(const float*, size_t, uint8_t*, size_t, float*, size_t);
typedef int (*fixed_dequantize_fn)(const uint8_t*, size_t, const float*, size_t, float*, size_t);

extern const fixed_quantize_fn kFixedQuantize[3];     /* bitnet_quantize_{i2s,tl1,tl2} */
extern const fixed_dequantize_fn kFixedDequantize[3]; /* bitnet_dequantize_{i2s,tl1,tl2} */

#endif /* BITNET_FFI_TESTS_FIXED_ENTRY_POINTS_H */
