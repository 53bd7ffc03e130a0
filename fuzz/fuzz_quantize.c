/* libFuzzer harness: bitnet_quantize (format, options struct) and the
 * fixed-format quantizers, with arbitrary lengths, capacities, alignment
 * and float bit patterns (NaNs of every kind made common by a shape bit);
 * also bitnet_quant_buffer_sizes. Checks: the
 * status is documented and is BITNET_OK exactly when the arguments are
 * valid; a failure writes nothing; a success writes only the required
 * bytes, equal to the scalar reference's, and dequantize(quantize(x)) on
 * the chosen target equals the reference's, bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "fixed_entry_points.h"
#include "fuzz_common.h"

static int has_finite(const float* x, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (x[i] - x[i] == 0.0f) return 1; /* false for NaN and +-Inf */
  }
  return 0;
}

/* The reference's quantization and both dequantizations of it. */
static void compare_with_reference(bitnet_format format, const bitnet_quant_options* used,
                                   size_t block, const float* x, size_t n, const uint8_t* packed,
                                   const float* scales) {
  bitnet_quant_options ref = *used;
  const size_t np = ceil_div(n, 4), ns = ceil_div(n, block);
  uint8_t* ref_packed = (uint8_t*)malloc(np);
  float* ref_scales = (float*)malloc(ns * sizeof(float));
  float* values = (float*)malloc(n * sizeof(float));
  float* ref_values = (float*)malloc(n * sizeof(float));
  int status;
  ref.cpu_target = BITNET_CPU_REFERENCE;
  ref.device = BITNET_DEVICE_CPU;
  ref.block_size = (uint32_t)block;
  status = bitnet_quantize(format, &ref, x, n, ref_packed, np, ref_scales, ns);
  require(status == BITNET_OK, "reference quantize failed: %d", status);
  require(memcmp(packed, ref_packed, np) == 0, "format %d n %zu block %zu target 0x%x: packed "
          "bytes differ from the reference", (int)format, n, block, (unsigned)used->cpu_target);
  require(same_floats(scales, ref_scales, ns), "format %d n %zu: scales differ from the reference",
          (int)format, n);
  status = bitnet_dequantize(format, used, packed, np, scales, ns, values, n);
  require(status == BITNET_OK, "dequantize of a fresh quantization failed: %d", status);
  status = bitnet_dequantize(format, &ref, ref_packed, np, ref_scales, ns, ref_values, n);
  require(status == BITNET_OK, "reference dequantize failed: %d", status);
  require(same_floats(values, ref_values, n), "format %d n %zu: dequantize(quantize(x)) differs "
          "from the reference", (int)format, n);
  free(ref_packed);
  free(ref_scales);
  free(values);
  free(ref_values);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_input in = {data, size};
  const uint8_t entry = take_u8(&in);
  const uint8_t shape = take_u8(&in);
  const int packed_delta = (int8_t)take_u8(&in), scales_delta = (int8_t)take_u8(&in);
  const size_t input_offset = (shape & 0x3) * ((shape & 0x4) ? 1 : 0);
  const int nans = (shape & 0x10) != 0;
  const size_t scales_offset = (shape & 0x8) ? (size_t)(1 + (shape >> 6)) % 4 : 0;
  bitnet_quant_options options;
  int use_options, fixed = (entry & 3) != 3, status, valid;
  bitnet_format format;
  size_t n, block = 0, need_packed, need_scales, packed_len, scales_len;
  size_t sizes[2] = {0, 0};
  uint8_t *input_bytes, *packed, *scales_bytes;
  float* input;
  float* scales;

  if (fixed) {
    format = entry & 3;
    use_options = 0;
  } else {
    format = take_format(&in);
    take_options(&in, &options, &use_options);
  }
  valid = options_valid(format, use_options ? &options : NULL, &block);
  n = in.size / sizeof(float);
  if (n > FUZZ_MAX_N) n = FUZZ_MAX_N;

  /* The floats, copied to an exact-size allocation at the chosen offset. */
  input_bytes = (uint8_t*)malloc(n * sizeof(float) + input_offset + 1);
  memcpy(input_bytes + input_offset, in.data, n * sizeof(float));
  input = (float*)(void*)(input_bytes + input_offset);
  if (nans && input_offset == 0) inject_nans(input, n);

  need_packed = ceil_div(n, 4);
  need_scales = block ? ceil_div(n, block) : 1;
  packed_len = (size_t)((long)need_packed + packed_delta < 0 ? 0 : (long)need_packed + packed_delta);
  scales_len = (size_t)((long)need_scales + scales_delta < 0 ? 0 : (long)need_scales + scales_delta);
  packed = (uint8_t*)poisoned(packed_len);
  scales_bytes = (uint8_t*)poisoned(scales_len * sizeof(float) + scales_offset);
  scales = (float*)(void*)(scales_bytes + scales_offset);

  /* A length too large to address, with the small buffers: rejected
   * before any access. */
  if (entry & 0x80) n = (entry & 0x40) ? SIZE_MAX - (shape & 0xF) : (size_t)PTRDIFF_MAX / 4 + 1 + shape;

  if (fixed) {
    status = kFixedQuantize[format](input, n, packed, packed_len, scales, scales_len);
  } else {
    status = bitnet_quantize(format, use_options ? &options : NULL, input, n, packed, packed_len,
                             scales, scales_len);
  }
  require_documented(status, "quantize");

  if (valid >= 0) {
    int expect_ok = valid;
    if (n > FUZZ_MAX_N) expect_ok = 0;
    else if (n > 0) {
      expect_ok = expect_ok && input_offset == 0 && scales_offset == 0 && packed_len >= need_packed &&
                  scales_len >= need_scales && (format != BITNET_FORMAT_I2S || has_finite(input, n));
    }
    require((status == BITNET_OK) == expect_ok,
            "format %d n %zu options %d: status %d (%s), expected %s", (int)format, n, use_options,
            status, status ? bitnet_last_error() : "ok", expect_ok ? "success" : "a failure");
  }
  if (status != BITNET_OK) {
    require(untouched(packed, packed_len + FUZZ_GUARD) &&
                untouched(scales, scales_len * sizeof(float) + FUZZ_GUARD),
            "a failing quantize (%d) wrote to its outputs", status);
  } else {
    require(untouched(packed + need_packed, packed_len - need_packed + FUZZ_GUARD) &&
                untouched(scales + need_scales,
                          (scales_len - need_scales) * sizeof(float) + FUZZ_GUARD),
            "quantize wrote past the required lengths");
    if (n > 0) {
      bitnet_quant_options used = BITNET_QUANT_OPTIONS_INIT;
      if (use_options) used = options;
      compare_with_reference(format, &used, block, input, n, packed, scales);
    }
  }

  /* bitnet_quant_buffer_sizes: format, struct_size and block size only. */
  if (!fixed) {
    const int sizes_ok = sizes_valid(format, use_options ? &options : NULL, &block);
    const int expect_ok = sizes_ok && n <= (size_t)PTRDIFF_MAX / sizeof(float);
    status = bitnet_quant_buffer_sizes(format, use_options ? &options : NULL, n, &sizes[0],
                                       &sizes[1]);
    require_documented(status, "bitnet_quant_buffer_sizes");
    require((status == BITNET_OK) == expect_ok, "buffer sizes status %d, expected %s", status,
            expect_ok ? "success" : "a failure");
    if (status == BITNET_OK) {
      require(sizes[0] == ceil_div(n, 4) && sizes[1] == ceil_div(n, block),
              "buffer sizes %zu %zu for n %zu block %zu", sizes[0], sizes[1], n, block);
    }
  }
  free(input_bytes);
  free(packed);
  free(scales_bytes);
  return 0;
}
