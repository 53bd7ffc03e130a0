#include "fixed_entry_points.h"

#include "bitnet_quant.h"

const fixed_quantize_fn kFixedQuantize[3] = {bitnet_quantize_i2s, bitnet_quantize_tl1,
                                             bitnet_quantize_tl2};
const fixed_dequantize_fn kFixedDequantize[3] = {bitnet_dequantize_i2s, bitnet_dequantize_tl1,
                                                 bitnet_dequantize_tl2};
