/* Each documented rule as a small case with its expected codes, scales and
 * values written out by hand from BitNet-rs's semantics (README "Formats",
 * /work/shared/specs/bitnet-rs-formats.md §1-5: utils.rs, i2s.rs, tl1.rs,
 * tl2.rs, fallback.rs), run on every supported CPU target and the reference.
 * The other tests compare the targets with a reference that shares their
 * rule helpers, so a rule changed in a helper passes them wherever the
 * golden vectors have no case; these expectations depend on no library
 * code. Floats are compared bit for bit. tools/mutation_test.sh proves that
 * they catch deliberate bugs in the shared rules. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

#define MAX_N 8
#define KERNEL_FAMILY 0 /* block of a case of bitnet_cpp_quantize */

typedef struct quant_case {
  const char* rule;
  bitnet_format format;
  uint32_t block; /* KERNEL_FAMILY: bitnet_cpp_quantize with its fixed block */
  int status;
  size_t n;
  float x[MAX_N];
  uint8_t codes[MAX_N];
  float scales[2];
} quant_case;

typedef struct dequant_case {
  const char* rule;
  bitnet_format format;
  uint32_t block;
  size_t n;
  uint8_t codes[MAX_N];
  float scales[2];
  float values[MAX_N];
} dequant_case;

static bitnet_cpu_target g_targets[32];
static int g_num_targets;

/* codes -> bytes, element i at bits 2*(i%4) of byte i/4, padding bits 0. */
static void pack(const uint8_t* codes, size_t n, uint8_t* bytes) {
  size_t i;
  memset(bytes, 0, (n + 3) / 4);
  for (i = 0; i < n; ++i) bytes[i / 4] |= (uint8_t)(codes[i] << (2 * (i % 4)));
}

static void expect_floats(const float* got, const float* want, size_t n, const char* what,
                          const char* rule, bitnet_cpu_target t) {
  size_t i;
  for (i = 0; i < n; ++i) {
    check(same_float(got[i], want[i]), "%s [%s]: %s[%zu] is 0x%08x (%g), expected 0x%08x (%g)",
          rule, bitnet_cpu_target_name(t), what, i, (unsigned)float_bits(got[i]), got[i],
          (unsigned)float_bits(want[i]), want[i]);
  }
}

static void run_quant_case(const quant_case* c, bitnet_cpu_target t) {
  const size_t block = c->block == KERNEL_FAMILY ? kDefaultBlock[c->format] : c->block;
  const size_t num_scales = (c->n + block - 1) / block;
  uint8_t packed[MAX_N], want[MAX_N];
  float scales[2];
  int status;
  long d;
  memset(packed, POISON, sizeof(packed));
  memset(scales, POISON, sizeof(scales));
  if (c->block == KERNEL_FAMILY) {
    check(bitnet_cpu_set_target(t) == BITNET_OK, "set target");
    status = bitnet_cpp_quantize(c->x, (int)c->n, packed, MAX_N, scales, 2, (int)c->format);
  } else {
    bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
    opt.block_size = c->block;
    opt.cpu_target = t;
    opt.device = BITNET_DEVICE_CPU;
    status = bitnet_quantize(c->format, &opt, c->x, c->n, packed, MAX_N, scales, 2);
  }
  if (!check(status == c->status, "%s [%s]: status %d, expected %d", c->rule,
             bitnet_cpu_target_name(t), status, c->status) ||
      status != BITNET_OK) {
    return;
  }
  pack(c->codes, c->n, want);
  d = first_byte_diff(packed, want, (c->n + 3) / 4);
  check(d < 0, "%s [%s]: byte %ld is 0x%02x, expected 0x%02x", c->rule,
        bitnet_cpu_target_name(t), d, d < 0 ? 0 : packed[d], d < 0 ? 0 : want[d]);
  expect_floats(scales, c->scales, num_scales, "scale", c->rule, t);
}

static void run_dequant_case(const dequant_case* c, bitnet_cpu_target t) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  const size_t num_scales = (c->n + c->block - 1) / c->block;
  uint8_t packed[MAX_N];
  float values[MAX_N];
  int status;
  opt.block_size = c->block;
  opt.cpu_target = t;
  opt.device = BITNET_DEVICE_CPU;
  pack(c->codes, c->n, packed);
  status = bitnet_dequantize(c->format, &opt, packed, (c->n + 3) / 4, c->scales, num_scales,
                             values, c->n);
  if (check(status == BITNET_OK, "%s [%s]: status %d", c->rule, bitnet_cpu_target_name(t), status)) {
    expect_floats(values, c->values, c->n, "value", c->rule, t);
  }
}

/* x moved k ulps up (k > 0) or down. */
static float step(float x, int k) {
  for (; k > 0; --k) x = nextafterf(x, INFINITY);
  for (; k < 0; ++k) x = nextafterf(x, -INFINITY);
  return x;
}

int main(void) {
  const float big = 1e30f, tiny = 1e-35f, threshold = 0.49609375f; /* 63.5 / 128 */
  const float snan = float_from_bits(0x7F800001u), neg_snan = float_from_bits(0xFF812345u);
  const float payload_nan = float_from_bits(0x7FC0BEEFu);
  const float above_kernel_floor = nextafterf(1e-8f, 1.0f);
  const float inf = INFINITY, nan_0x_inf = float_from_bits(0xFFC00000u);
  const quant_case quant[] = {
      /* Family A (utils.rs calculate_scale, i2s.rs, simd_ops.rs scalar). */
      {"I2_S: s = largest |x|; |x| >= s/2 gives sign(x), halves away from zero", 0, 4, 0, 4,
       {1.0f, 0.5f, -0.5f, 0.49999997f}, {3, 3, 1, 2}, {1.0f}},
      {"I2_S: all +-0 -> scale 1.0, code 2", 0, 4, 0, 4, {0.0f, -0.0f, 0.0f, -0.0f},
       {2, 2, 2, 2}, {1.0f}},
      {"I2_S: largest |x| below 1e-30 -> scale 1.0", 0, 4, 0, 4,
       {nextafterf(1e-30f, 0.0f), -1e-31f, 0.0f, 3e-31f}, {2, 2, 2, 2}, {1.0f}},
      {"I2_S: largest |x| of exactly 1e-30 is the scale", 0, 4, 0, 4,
       {1e-30f, -1e-30f, 0.0f, 0.0f}, {3, 1, 2, 2}, {1e-30f}},
      {"I2_S: largest |x| above 1e30 -> scale 1e30, x/s clamped to [-2, 1]", 0, 4, 0, 4,
       {4 * big, -2 * big, big / 2, -big / 4}, {3, 0, 3, 2}, {big}},
      {"I2_S: largest |x| just above 1e30 -> scale 1e30", 0, 4, 0, 4,
       {nextafterf(big, inf), 0.0f, -big / 2, 0.0f}, {3, 2, 1, 2}, {big}},
      {"I2_S: NaNs of every kind and +-Inf code 2; the scale skips them", 0, 4, 0, 4,
       {snan, inf, -inf, -2.0f}, {2, 2, 2, 1}, {2.0f}},
      {"I2_S: no finite element -> BITNET_E_ALL_NONFINITE", 0, 4, BITNET_E_ALL_NONFINITE, 4,
       {snan, -inf, payload_nan, neg_snan}, {0}, {0}},
      {"layout: blocks in order, element i at bits 2(i%4) of byte i/4, padding 0", 0, 4, 0, 6,
       {1.0f, -1.0f, 0.0f, 0.25f, -3.0f, 1.5f}, {3, 1, 2, 2, 1, 3}, {1.0f, 3.0f}},
      /* tl1.rs: table scale a = largest non-NaN |x|, t = x/a + 128. */
      {"TL1: +a/2 -> +1 but -a/2 -> 0", 1, 4, 0, 4, {2.0f, 1.0f, -1.0f, -2.0f}, {3, 3, 2, 1},
       {2.0f}},
      {"TL1: NaNs of every kind -> code 0", 1, 4, 0, 4, {snan, 1.0f, -0.5f, payload_nan},
       {0, 3, 2, 0}, {1.0f}},
      {"TL1: a block holding Inf codes 2; the stored scale skips Inf", 1, 4, 0, 4,
       {inf, 1.0f, -3.0f, neg_snan}, {2, 2, 2, 2}, {3.0f}},
      {"TL1: codes relative to the block's own |x| below 1e-30; stored scale 1.0", 1, 4, 0, 4,
       {tiny, -tiny, 0.0f, tiny / 2}, {3, 1, 2, 3}, {1.0f}},
      {"TL1: an all-NaN block codes 2, scale 1.0", 1, 4, 0, 4,
       {snan, payload_nan, NAN, neg_snan}, {2, 2, 2, 2}, {1.0f}},
      /* tl2.rs: t = (x/s)*128 + 128, table steps at 64.5 and 191.5. */
      {"TL2: +1 from f32 t >= 191.5: x/s >= 0.49609375 - 2 ulp", 2, 4, 0, 4,
       {1.0f, step(threshold, -2), step(threshold, -3), -threshold}, {3, 3, 2, 2}, {1.0f}},
      {"TL2: -1 below f32 t = 64.5: x/s <= -(0.49609375 + 2 ulp); -s/2 -> -1", 2, 4, 0, 4,
       {-step(threshold, 1), -step(threshold, 2), -0.5f, 1.0f}, {2, 1, 1, 3}, {1.0f}},
      {"TL2: NaNs of every kind and -Inf -> -1, +Inf -> +1", 2, 4, 0, 4,
       {snan, inf, -inf, -2.0f}, {1, 3, 1, 1}, {2.0f}},
      /* fallback.rs (bitnet_cpp_quantize): s = largest |x|, NaN skipped, / 1.5. */
      {"kernel I2S: code 1 if x/s > 0.5, 3 if < -0.5, else 0; NaNs skipped and 0", 0,
       KERNEL_FAMILY, 0, 8,
       {1.5f, 0.5f, -0.5f, nextafterf(0.5f, 1.0f), nextafterf(-0.5f, -1.0f), snan, neg_snan,
        -1.5f},
       {1, 0, 0, 1, 3, 0, 0, 3}, {1.0f}},
      {"kernel: largest |x| <= 1e-8 -> scale 1.0", 0, KERNEL_FAMILY, 0, 2, {1e-8f, -1e-9f},
       {0, 0}, {1.0f}},
      {"kernel: largest |x| above 1e-8 -> scale |x|/1.5", 0, KERNEL_FAMILY, 0, 1,
       {above_kernel_floor}, {1}, {above_kernel_floor / 1.5f}},
      {"kernel: a block holding Inf has scale Inf, every code 0", 0, KERNEL_FAMILY, 0, 4,
       {inf, 1.0f, -2.0f, snan}, {0, 0, 0, 0}, {inf}},
      {"kernel TL1: nearest of [-1, -0.33, 0.33, 1], lower index on ties, NaN -> 0", 1,
       KERNEL_FAMILY, 0, 8, {1.5f, 0.0f, snan, -1.5f, 0.3f, -0.3f, 0.7f, -0.7f},
       {3, 1, 0, 0, 2, 1, 3, 0}, {1.0f}},
      {"kernel TL2: nearest of [-1.2, -0.4, 0.4, 1.2]; 0.8 -> 2 (f32 distances)", 2,
       KERNEL_FAMILY, 0, 8, {1.5f, 0.0f, payload_nan, -1.5f, 0.8f, -0.3f, 1.0f, 0.3f},
       {3, 1, 0, 0, 2, 1, 3, 2}, {1.0f}},
  };
  const dequant_case dequant[] = {
      {"I2_S: (code-2)*s", 0, 4, 4, {0, 1, 2, 3}, {2.0f}, {-4.0f, -2.0f, 0.0f, 2.0f}},
      {"I2_S: a non-finite scale gives +0.0", 0, 4, 8, {0, 1, 2, 3, 3, 2, 1, 0},
       {snan, -inf}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}},
      {"TL2: a non-finite scale gives +0.0", 2, 4, 8, {0, 1, 2, 3, 3, 2, 1, 0},
       {payload_nan, inf}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}},
      {"TL1: (code-2)*s, signed zeros", 1, 4, 4, {0, 1, 2, 3}, {-0.0f},
       {0.0f, 0.0f, -0.0f, -0.0f}},
      {"TL1: a NaN scale gives itself quieted, sign and payload kept", 1, 4, 8,
       {0, 1, 2, 3, 0, 1, 2, 3}, {snan, neg_snan},
       {float_from_bits(0x7FC00001u), float_from_bits(0x7FC00001u),
        float_from_bits(0x7FC00001u), float_from_bits(0x7FC00001u),
        float_from_bits(0xFFC12345u), float_from_bits(0xFFC12345u),
        float_from_bits(0xFFC12345u), float_from_bits(0xFFC12345u)}},
      {"TL1: a +-Inf scale gives +-Inf, and 0 x Inf the NaN 0xFFC00000", 1, 4, 8,
       {0, 1, 2, 3, 0, 1, 2, 3}, {inf, -inf},
       {-inf, -inf, nan_0x_inf, inf, inf, inf, nan_0x_inf, -inf}},
  };
  const int8_t a[4] = {1, -2, 3, 4};
  const uint8_t b[4] = {5, 6, 7, 255};
  const float c_want[4] = {-9.0f, -504.0f, 43.0f, 1038.0f};
  size_t i;
  int t;

  g_num_targets = supported_targets(g_targets);
  for (t = 0; t < g_num_targets; ++t) {
    float c[4];
    for (i = 0; i < sizeof(quant) / sizeof(quant[0]); ++i) run_quant_case(&quant[i], g_targets[t]);
    for (i = 0; i < sizeof(dequant) / sizeof(dequant[0]); ++i) {
      run_dequant_case(&dequant[i], g_targets[t]);
    }
    check(bitnet_cpu_set_target(g_targets[t]) == BITNET_OK, "set target");
    check(bitnet_cpp_matmul_i2s(a, b, c, 2, 2, 2) == BITNET_OK, "matmul status");
    expect_floats(c, c_want, 4, "c", "matmul_i2s: C = A (int8) x B (uint8)", g_targets[t]);
  }
  check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  printf("%zu quantize and %zu dequantize rules, matmul, x %d targets\n",
         sizeof(quant) / sizeof(quant[0]), sizeof(dequant) / sizeof(dequant[0]), g_num_targets);
  return finish("test_rules");
}
