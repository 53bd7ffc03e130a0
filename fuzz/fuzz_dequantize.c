/* libFuzzer harness: bitnet_dequantize (format, options struct) and the
 * fixed-format dequantizers on arbitrary packed bytes (padding bits too)
 * and scale bit patterns (NaNs with payloads made common by a shape bit),
 * with arbitrary lengths and alignment. Checks: the
 * status is documented and is BITNET_OK exactly when the lengths are
 * exact and the arguments valid; a failure writes nothing; a success writes
 * exactly n floats, equal to the scalar reference's bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "fixed_entry_points.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_input in = {data, size};
  const uint8_t entry = take_u8(&in);
  const uint8_t shape = take_u8(&in);
  const int packed_delta = (shape & 0x10) ? (int8_t)take_u8(&in) : 0;
  const int scales_delta = (shape & 0x20) ? (int8_t)take_u8(&in) : 0;
  const size_t output_offset = (shape & 0x40) ? 1 + (shape & 1) : 0;
  const size_t scales_offset = (shape & 0x80) ? 2 : 0;
  const int fixed = (entry & 3) != 3;
  bitnet_quant_options options;
  int use_options = 0, status, valid;
  bitnet_format format;
  size_t n = 0, block = 0, need_packed, need_scales, packed_len, scales_len;
  uint8_t *packed, *scales_bytes, *output_bytes;
  float *scales, *output;

  if (fixed) {
    format = entry & 3;
  } else {
    format = take_format(&in);
    take_options(&in, &options, &use_options);
  }
  valid = options_valid(format, use_options ? &options : NULL, &block);

  /* The rest is the packed bytes of n elements, then their scales: as many
   * elements as fit, less 0-3 so that the last byte may be partial. */
  if (in.size > 0 && block > 0) {
    const size_t tail = take_u8(&in) % 4;
    const size_t bytes = in.size;
    size_t np = bytes * block / (block + 16); /* a byte per 4 elements, 4 per block */
    while (np > 0 && np + ceil_div(np * 4, block) * sizeof(float) > bytes) --np;
    n = np * 4 > tail ? np * 4 - tail : 0;
    if (n > FUZZ_MAX_N) n = FUZZ_MAX_N;
  }
  need_packed = ceil_div(n, 4);
  need_scales = block ? ceil_div(n, block) : 0;
  packed_len = (size_t)((long)need_packed + packed_delta < 0 ? 0 : (long)need_packed + packed_delta);
  scales_len = (size_t)((long)need_scales + scales_delta < 0 ? 0 : (long)need_scales + scales_delta);

  /* Exact-size inputs: reading past their lengths is an ASan report. */
  packed = (uint8_t*)malloc(packed_len + 1);
  memset(packed, 0, packed_len);
  memcpy(packed, in.data, packed_len < in.size ? packed_len : in.size);
  scales_bytes = (uint8_t*)malloc(scales_len * sizeof(float) + scales_offset + 1);
  memset(scales_bytes, 0, scales_len * sizeof(float) + scales_offset);
  if (in.size > need_packed) {
    const size_t have = in.size - need_packed;
    const size_t want = scales_len * sizeof(float);
    memcpy(scales_bytes + scales_offset, in.data + need_packed, have < want ? have : want);
  }
  scales = (float*)(void*)(scales_bytes + scales_offset);
  if ((shape & 0x2) && scales_offset == 0) inject_nans(scales, scales_len);
  output_bytes = (uint8_t*)poisoned(n * sizeof(float) + output_offset);
  output = (float*)(void*)(output_bytes + output_offset);

  if (fixed) {
    status = kFixedDequantize[format](packed, packed_len, scales, scales_len, output, n);
  } else {
    status = bitnet_dequantize(format, use_options ? &options : NULL, packed, packed_len, scales,
                               scales_len, output, n);
  }
  require_documented(status, "dequantize");
  if (valid >= 0) {
    int expect_ok = valid && packed_len == need_packed && scales_len == need_scales;
    if (n > 0) expect_ok = expect_ok && output_offset == 0 && scales_offset == 0;
    require((status == BITNET_OK) == expect_ok,
            "format %d n %zu lengths %zu/%zu %zu/%zu: status %d (%s), expected %s", (int)format, n,
            packed_len, need_packed, scales_len, need_scales, status,
            status ? bitnet_last_error() : "ok", expect_ok ? "success" : "a failure");
  }
  if (status != BITNET_OK) {
    require(untouched(output, n * sizeof(float) + FUZZ_GUARD),
            "a failing dequantize (%d) wrote to its output", status);
  } else {
    bitnet_quant_options ref = BITNET_QUANT_OPTIONS_INIT;
    float* ref_output = (float*)malloc(n * sizeof(float) + 1);
    require(untouched(output + n, FUZZ_GUARD), "dequantize wrote past n");
    ref.cpu_target = BITNET_CPU_REFERENCE;
    ref.device = BITNET_DEVICE_CPU;
    ref.block_size = (uint32_t)block;
    status = bitnet_dequantize(format, &ref, packed, packed_len, scales, scales_len, ref_output, n);
    require(status == BITNET_OK, "reference dequantize failed: %d", status);
    require(same_floats(output, ref_output, n), "format %d n %zu block %zu: differs from the "
            "reference", (int)format, n, block);
    free(ref_output);
  }

  /* A length too large to address is rejected with the same buffers. */
  if (entry & 0x80) {
    const size_t huge = (entry & 0x40) ? SIZE_MAX - (shape & 0xF) : (size_t)PTRDIFF_MAX / 4 + 1;
    status = bitnet_dequantize(format, use_options ? &options : NULL, packed, packed_len, scales,
                               scales_len, output, huge);
    require(status < 0, "dequantize of %zu elements succeeded", huge);
    require_documented(status, "dequantize");
  }
  free(packed);
  free(scales_bytes);
  free(output_bytes);
  return 0;
}
