/* libFuzzer harness: the BitNet-rs FFI contract (bitnet_cpp_quantize with
 * int lengths and qtype, bitnet_cpp_matmul_i2s) and the CPU target calls
 * (bitnet_cpu_target_from_name, bitnet_cpu_set_target). Checks: documented
 * statuses, success exactly for valid arguments, no writes on failure, and
 * every supported target bit-equal to the scalar reference (on inputs where
 * a bit of qtype's byte makes NaNs of every kind common). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"

static const size_t kKernelBlock[3] = {BITNET_I2S_DEFAULT_BLOCK_SIZE, BITNET_TL1_DEFAULT_BLOCK_SIZE,
                                       BITNET_TL2_DEFAULT_BLOCK_SIZE};

/* A length: usually the honest one, sometimes off by one or two, or any
 * int (negative, INT_MAX). Read before the data, resolved after. */
typedef struct length_spec {
  uint8_t mode;
  uint32_t value;
} length_spec;

static length_spec take_length(fuzz_input* in) {
  length_spec spec;
  spec.mode = take_u8(in);
  spec.value = spec.mode < 224 ? 0 : spec.mode < 240 ? take_u8(in) : take_u32(in);
  return spec;
}

static int resolve_length(length_spec spec, int honest) {
  if (spec.mode < 224) return honest;
  if (spec.mode < 240) return honest + (int)(int8_t)spec.value % 3;
  return (int)spec.value;
}

static void fuzz_cpp_quantize(fuzz_input* in) {
  const uint8_t q = take_u8(in);
  const int qtype = q < 240 ? q % 3 : (int)take_u32(in);
  const bitnet_cpu_target target = take_supported_target(in);
  const length_spec input_spec = take_length(in), output_spec = take_length(in),
                    scales_spec = take_length(in);
  const size_t n = in->size / sizeof(float) > FUZZ_MAX_N ? FUZZ_MAX_N : in->size / sizeof(float);
  const size_t block = qtype >= 0 && qtype <= 2 ? kKernelBlock[qtype] : 32;
  const size_t need_packed = ceil_div(n, 4), need_scales = ceil_div(n, block);
  const int input_len = resolve_length(input_spec, (int)n);
  const int output_len = resolve_length(output_spec, (int)need_packed);
  const int scales_len = resolve_length(scales_spec, (int)need_scales);
  const size_t out_cap = output_len > 0 ? (size_t)output_len : 0;
  const size_t sc_cap = scales_len > 0 ? (size_t)scales_len : 0;
  /* Capacities may claim up to INT_MAX; allocate what a call on these n
   * floats can need and a margin: ASan reports a write beyond it. */
  const size_t out_alloc = out_cap < need_packed + 64 ? out_cap : need_packed + 64;
  const size_t sc_alloc = sc_cap < need_scales + 16 ? sc_cap : need_scales + 16;
  float* input = (float*)malloc(n * sizeof(float) + 1);
  uint8_t* packed = (uint8_t*)poisoned(out_alloc);
  float* scales = (float*)poisoned(sc_alloc * sizeof(float));
  uint8_t* ref_packed = (uint8_t*)malloc(need_packed + 1);
  float* ref_scales = (float*)malloc(need_scales * sizeof(float) + 1);
  int status, args_valid;
  memcpy(input, in->data, n * sizeof(float));
  if (q < 240 && (q / 3) % 2) inject_nans(input, n);

  args_valid = qtype >= 0 && qtype <= 2 && input_len >= 0 && output_len >= 0 &&
               scales_len >= 0 && out_cap >= ceil_div((size_t)input_len, 4) &&
               sc_cap >= ceil_div((size_t)input_len, block);
  /* A valid call that claims more floats than the buffer holds would read
   * past it: a caller error no library can see, so it is not made. */
  if (args_valid && (size_t)input_len > n) goto done;
  require(bitnet_cpu_set_target(target) == BITNET_OK, "set target 0x%x", (unsigned)target);
  status = bitnet_cpp_quantize(input, input_len, packed, output_len, scales, scales_len, qtype);
  require_documented(status, "bitnet_cpp_quantize");
  require((status == 0) == args_valid, "bitnet_cpp_quantize qtype %d lengths %d %d %d: status %d",
          qtype, input_len, output_len, scales_len, status);
  if (status != 0) {
    require(bitnet_cpp_get_last_error() != NULL, "bitnet_cpp_get_last_error() is NULL");
    require(untouched(packed, out_alloc + FUZZ_GUARD) &&
                untouched(scales, sc_alloc * sizeof(float) + FUZZ_GUARD),
            "a failing bitnet_cpp_quantize wrote to its outputs");
  } else {
    const size_t m = (size_t)input_len;
    const size_t np = ceil_div(m, 4), ns = ceil_div(m, block);
    require(untouched(packed + np, out_alloc - np + FUZZ_GUARD) &&
                untouched(scales + ns, (sc_alloc - ns) * sizeof(float) + FUZZ_GUARD),
            "bitnet_cpp_quantize wrote past the required lengths");
    require(bitnet_cpu_set_target(BITNET_CPU_REFERENCE) == BITNET_OK, "set REFERENCE");
    status = bitnet_cpp_quantize(input, input_len, ref_packed, (int)np, ref_scales, (int)ns, qtype);
    require(status == 0, "reference bitnet_cpp_quantize failed: %d", status);
    require(memcmp(packed, ref_packed, np) == 0 && same_floats(scales, ref_scales, ns),
            "bitnet_cpp_quantize qtype %d n %zu on 0x%x differs from the reference", qtype, m,
            (unsigned)target);
  }
done:
  require(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  free(input);
  free(packed);
  free(scales);
  free(ref_packed);
  free(ref_scales);
}

static void fuzz_matmul(fuzz_input* in) {
  const uint8_t shape = take_u8(in);
  const bitnet_cpu_target target = take_supported_target(in);
  int m = take_u8(in) % 9, n = take_u8(in) % 9, k = take_u8(in) % 70;
  size_t a_len, b_len, c_len;
  int8_t* a;
  uint8_t* b;
  float *c, *ref_c;
  int status, expect_ok = 1;
  if (shape & 0x80) { /* negative or overflowing dimensions: nothing may be read */
    const int bad = (shape & 0x40) ? INT_MIN + (int)(shape & 7) : INT_MAX - (int)(shape & 7);
    switch (shape % 3) {
      case 0: m = bad; break;
      case 1: n = bad; break;
      default: k = bad; break;
    }
    if (bad > 0) { /* INT_MAX in one dimension overflows only with the others */
      m = n = bad;
    }
    expect_ok = 0;
  }
  a_len = expect_ok ? (size_t)m * (size_t)k : 0;
  b_len = expect_ok ? (size_t)k * (size_t)n : 0;
  c_len = expect_ok ? (size_t)m * (size_t)n : 0;
  a = (int8_t*)malloc(a_len + 1);
  b = (uint8_t*)malloc(b_len + 1);
  c = (float*)poisoned(c_len * sizeof(float));
  ref_c = (float*)malloc(c_len * sizeof(float) + 1);
  memset(a, 0, a_len);
  memset(b, 0, b_len);
  memcpy(a, in->data, a_len < in->size ? a_len : in->size);
  if (in->size > a_len) memcpy(b, in->data + a_len, in->size - a_len < b_len ? in->size - a_len : b_len);

  require(bitnet_cpu_set_target(target) == BITNET_OK, "set target");
  status = bitnet_cpp_matmul_i2s(a, b, c, m, n, k);
  require_documented(status, "bitnet_cpp_matmul_i2s");
  require((status == 0) == expect_ok, "matmul %d x %d x %d: status %d", m, n, k, status);
  if (status != 0) {
    require(untouched(c, c_len * sizeof(float) + FUZZ_GUARD), "a failing matmul wrote to c");
  } else {
    require(untouched(c + c_len, FUZZ_GUARD), "matmul wrote past m*n");
    require(bitnet_cpu_set_target(BITNET_CPU_REFERENCE) == BITNET_OK, "set REFERENCE");
    require(bitnet_cpp_matmul_i2s(a, b, ref_c, m, n, k) == 0, "reference matmul failed");
    require(same_floats(c, ref_c, c_len), "matmul %d x %d x %d on 0x%x differs from the reference",
            m, n, k, (unsigned)target);
  }
  require(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  free(a);
  free(b);
  free(c);
  free(ref_c);
}

static void fuzz_targets(fuzz_input* in) {
  char name[24];
  const bitnet_cpu_target bits = take_u32(in);
  const size_t len = in->size < sizeof(name) - 1 ? in->size : sizeof(name) - 1;
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  bitnet_cpu_target parsed = 0xDEADBEEFu;
  int status;
  memcpy(name, in->data, len);
  name[len] = '\0';
  status = bitnet_cpu_target_from_name(name, &parsed);
  require_documented(status, "bitnet_cpu_target_from_name");
  if (status == BITNET_OK) {
    require(strcasecmp(bitnet_cpu_target_name(parsed), name) == 0,
            "\"%s\" parsed to 0x%x named %s", name, (unsigned)parsed, bitnet_cpu_target_name(parsed));
  } else {
    require(parsed == 0xDEADBEEFu, "a failing bitnet_cpu_target_from_name wrote its output");
  }
  status = bitnet_cpu_set_target(bits);
  require_documented(status, "bitnet_cpu_set_target");
  require((status == BITNET_OK) ==
              (bits == 0 || ((bits & (bits - 1)) == 0 && (bits & supported) != 0)),
          "bitnet_cpu_set_target(0x%x): status %d", (unsigned)bits, status);
  if (status == BITNET_OK && bits != 0) {
    require(bitnet_cpu_get_target() == bits, "bitnet_cpu_get_target() is not the target just set");
  }
  require(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_input in = {data, size};
  switch (take_u8(&in) % 3) {
    case 0: fuzz_cpp_quantize(&in); break;
    case 1: fuzz_matmul(&in); break;
    default: fuzz_targets(&in); break;
  }
  return 0;
}
