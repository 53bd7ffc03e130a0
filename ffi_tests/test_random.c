/* Random and adversarial inputs: every supported CPU target against the
 * scalar reference (BITNET_CPU_REFERENCE), bit for bit, for both BitNet-rs
 * families and matmul_i2s; round trips; splitting at block boundaries,
 * also across threads. Deterministic (fixed seeds). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

static bitnet_cpu_target g_targets[32];
static int g_num_targets;

/* Quantizes x with the reference and every target; compares bytes, scales
 * and the dequantized values. */
static void compare_quantizer(bitnet_format format, uint32_t block, const float* x, size_t n,
                              const char* what) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t packed_len, scales_len;
  uint8_t *ref_packed, *packed;
  float *ref_scales, *scales, *ref_values, *values;
  int ref_status, t;
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CPU;
  opt.cpu_target = BITNET_CPU_REFERENCE;
  if (!check(bitnet_quant_buffer_sizes(format, &opt, n, &packed_len, &scales_len) == 0,
             "%s: sizes", what)) {
    return;
  }
  ref_packed = (uint8_t*)malloc(packed_len + 1);
  packed = (uint8_t*)malloc(packed_len + 1);
  ref_scales = (float*)malloc((scales_len + 1) * sizeof(float));
  scales = (float*)malloc((scales_len + 1) * sizeof(float));
  ref_values = (float*)malloc((n + 1) * sizeof(float));
  values = (float*)malloc((n + 1) * sizeof(float));
  ref_status = bitnet_quantize(format, &opt, x, n, ref_packed, packed_len, ref_scales, scales_len);
  if (ref_status == BITNET_OK) {
    check(bitnet_dequantize(format, &opt, ref_packed, packed_len, ref_scales, scales_len,
                            ref_values, n) == BITNET_OK,
          "%s: reference dequantize", what);
  } else {
    check(ref_status == BITNET_E_ALL_NONFINITE && format == BITNET_FORMAT_I2S,
          "%s: reference status %d", what, ref_status);
  }
  for (t = 1; t < g_num_targets; ++t) {
    int status;
    long d;
    opt.cpu_target = g_targets[t];
    status = bitnet_quantize(format, &opt, x, n, packed, packed_len, scales, scales_len);
    if (!check(status == ref_status, "%s [%s]: status %d, reference %d", what,
               bitnet_cpu_target_name(g_targets[t]), status, ref_status) ||
        status != BITNET_OK) {
      continue;
    }
    d = first_byte_diff(packed, ref_packed, packed_len);
    check(d < 0, "%s [%s]: byte %ld (elements %ld..%ld) 0x%02x, reference 0x%02x", what,
          bitnet_cpu_target_name(g_targets[t]), d, 4 * d, 4 * d + 3, d < 0 ? 0 : packed[d],
          d < 0 ? 0 : ref_packed[d]);
    d = first_float_diff(scales, ref_scales, scales_len);
    check(d < 0, "%s [%s]: scale %ld %.9g, reference %.9g", what,
          bitnet_cpu_target_name(g_targets[t]), d, d < 0 ? 0 : scales[d],
          d < 0 ? 0 : ref_scales[d]);
    status = bitnet_dequantize(format, &opt, ref_packed, packed_len, ref_scales, scales_len,
                               values, n);
    d = first_float_diff(values, ref_values, n);
    check(status == BITNET_OK && d < 0, "%s [%s]: dequantized[%ld] %.9g, reference %.9g", what,
          bitnet_cpu_target_name(g_targets[t]), d, d < 0 ? 0 : values[d],
          d < 0 ? 0 : ref_values[d]);
  }
  free(ref_packed);
  free(packed);
  free(ref_scales);
  free(scales);
  free(ref_values);
  free(values);
}

/* Round trip: I2_S and TL2 values are {-2s, -s, 0, s} per block, and
 * quantizing them again must give the same codes (a block's scale may
 * change only where the block dequantized to all zeros). */
static void check_round_trip(bitnet_format format, uint32_t block, const float* x, size_t n,
                             const char* what) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  uint8_t* packed = (uint8_t*)malloc(packed_len);
  uint8_t* again = (uint8_t*)malloc(packed_len);
  float* scales = (float*)malloc(scales_len * sizeof(float));
  float* values = (float*)malloc(n * sizeof(float));
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CPU;
  if (bitnet_quantize(format, &opt, x, n, packed, packed_len, scales, scales_len) == BITNET_OK) {
    int status = bitnet_dequantize(format, &opt, packed, packed_len, scales, scales_len, values, n);
    if (status == BITNET_OK) {
      status = bitnet_quantize(format, &opt, values, n, again, packed_len, scales, scales_len);
    }
    check(status == BITNET_OK && first_byte_diff(again, packed, packed_len) < 0,
          "%s: quantize(dequantize(q)) changed the codes (status %d)", what, status);
  }
  free(packed);
  free(again);
  free(scales);
  free(values);
}

/* Dequantizes arbitrary bytes with arbitrary scales (NaN, Inf, negative,
 * -0.0 included) on every target against the reference. */
static void compare_dequantizer(bitnet_format format, uint32_t block, size_t n, uint64_t seed) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  uint8_t* packed = (uint8_t*)malloc(packed_len);
  float* scales = (float*)malloc(scales_len * sizeof(float));
  float* ref = (float*)malloc(n * sizeof(float));
  float* out = (float*)malloc(n * sizeof(float));
  uint64_t rng = seed;
  size_t i;
  int t;
  for (i = 0; i < packed_len; ++i) packed[i] = (uint8_t)rng_next(&rng);
  for (i = 0; i < scales_len; ++i) {
    const uint64_t r = rng_next(&rng) % 4;
    scales[i] = r == 0 ? rng_special(&rng) : (float)(rng_normal(&rng) * (r == 1 ? -1.0 : 1.0));
  }
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CPU;
  opt.cpu_target = BITNET_CPU_REFERENCE;
  check(bitnet_dequantize(format, &opt, packed, packed_len, scales, scales_len, ref, n) == 0,
        "dequantize reference");
  for (t = 1; t < g_num_targets; ++t) {
    long d;
    opt.cpu_target = g_targets[t];
    check(bitnet_dequantize(format, &opt, packed, packed_len, scales, scales_len, out, n) == 0,
          "dequantize status");
    d = first_float_diff(out, ref, n);
    check(d < 0, "dequantize format %d block %u n %zu [%s]: [%ld] %.9g, reference %.9g",
          (int)format, block, n, bitnet_cpu_target_name(g_targets[t]), d, d < 0 ? 0 : out[d],
          d < 0 ? 0 : ref[d]);
  }
  free(packed);
  free(scales);
  free(ref);
  free(out);
}

/* bitnet_cpp_quantize (BitNet-rs kernel family) per target vs reference. */
static void compare_kernel_family(int qtype, const float* x, size_t n, const char* what) {
  const size_t block = kDefaultBlock[qtype];
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  uint8_t* ref_packed = (uint8_t*)calloc(packed_len + 1, 1);
  uint8_t* packed = (uint8_t*)calloc(packed_len + 1, 1);
  float* ref_scales = (float*)calloc(scales_len + 1, sizeof(float));
  float* scales = (float*)calloc(scales_len + 1, sizeof(float));
  int t;
  bitnet_cpu_set_target(BITNET_CPU_REFERENCE);
  check(bitnet_cpp_quantize(x, (int)n, ref_packed, (int)packed_len, ref_scales, (int)scales_len,
                            qtype) == 0,
        "%s: reference", what);
  for (t = 1; t < g_num_targets; ++t) {
    long d;
    bitnet_cpu_set_target(g_targets[t]);
    check(bitnet_cpp_quantize(x, (int)n, packed, (int)packed_len, scales, (int)scales_len,
                              qtype) == 0,
          "%s: status", what);
    d = first_byte_diff(packed, ref_packed, packed_len);
    check(d < 0 && first_float_diff(scales, ref_scales, scales_len) < 0,
          "%s qtype %d [%s]: differs from the reference (byte %ld)", what, qtype,
          bitnet_cpu_target_name(g_targets[t]), d);
  }
  bitnet_cpu_set_target(BITNET_CPU_AUTO);
  free(ref_packed);
  free(packed);
  free(ref_scales);
  free(scales);
}

/* matmul_i2s per target vs reference; large k and b makes f32 sums round. */
static void compare_matmul(int m, int n, int k, uint64_t seed) {
  int8_t* a = (int8_t*)malloc((size_t)m * k + 1);
  uint8_t* b = (uint8_t*)malloc((size_t)k * n + 1);
  float* ref = (float*)malloc(((size_t)m * n + 1) * sizeof(float));
  float* c = (float*)malloc(((size_t)m * n + 1) * sizeof(float));
  uint64_t rng = seed;
  size_t i;
  int t;
  for (i = 0; i < (size_t)m * k; ++i) a[i] = (int8_t)rng_next(&rng);
  for (i = 0; i < (size_t)k * n; ++i) b[i] = (uint8_t)rng_next(&rng);
  bitnet_cpu_set_target(BITNET_CPU_REFERENCE);
  check(bitnet_cpp_matmul_i2s(a, b, ref, m, n, k) == 0, "matmul reference");
  for (t = 1; t < g_num_targets; ++t) {
    long d;
    bitnet_cpu_set_target(g_targets[t]);
    check(bitnet_cpp_matmul_i2s(a, b, c, m, n, k) == 0, "matmul status");
    d = first_float_diff(c, ref, (size_t)m * n);
    check(d < 0, "matmul %dx%dx%d [%s]: c[%ld] %.9g, reference %.9g", m, n, k,
          bitnet_cpu_target_name(g_targets[t]), d, d < 0 ? 0 : c[d], d < 0 ? 0 : ref[d]);
  }
  bitnet_cpu_set_target(BITNET_CPU_AUTO);
  free(a);
  free(b);
  free(ref);
  free(c);
}

/* ---- splitting at block boundaries, on threads ---------------------------- */
typedef struct part_job {
  bitnet_format format;
  uint32_t block;
  const float* x;
  size_t n;
  uint8_t* packed;
  float* scales;
  int status;
} part_job;

static void* quantize_part(void* arg) {
  part_job* job = (part_job*)arg;
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.block_size = job->block;
  opt.device = BITNET_DEVICE_CPU;
  job->status = bitnet_quantize(job->format, &opt, job->x, job->n, job->packed, (job->n + 3) / 4,
                                job->scales, (job->n + job->block - 1) / job->block);
  return NULL;
}

static void check_split(bitnet_format format, uint32_t block, const float* x, size_t n,
                        uint64_t seed) {
  enum { PARTS = 5 };
  const size_t blocks = (n + block - 1) / block;
  uint8_t* whole = (uint8_t*)malloc((n + 3) / 4);
  uint8_t* parts = (uint8_t*)malloc((n + 3) / 4);
  float* whole_scales = (float*)malloc(blocks * sizeof(float));
  float* part_scales = (float*)malloc(blocks * sizeof(float));
  size_t cuts[PARTS + 1];
  part_job jobs[PARTS];
  pthread_t threads[PARTS];
  uint64_t rng = seed;
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  int p;
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CPU;
  check(bitnet_quantize(format, &opt, x, n, whole, (n + 3) / 4, whole_scales, blocks) == 0,
        "split: whole");
  /* Random block-aligned cut points (some parts may be empty). */
  cuts[0] = 0;
  cuts[PARTS] = blocks;
  for (p = 1; p < PARTS; ++p) cuts[p] = rng_next(&rng) % (blocks + 1);
  for (p = 1; p < PARTS; ++p) { /* insertion sort */
    int q = p;
    while (q > 1 && cuts[q - 1] > cuts[q]) {
      const size_t tmp = cuts[q];
      cuts[q] = cuts[q - 1];
      cuts[q - 1] = tmp;
      --q;
    }
  }
  for (p = 0; p < PARTS; ++p) {
    const size_t start = cuts[p] * block;
    const size_t end = cuts[p + 1] * block < n ? cuts[p + 1] * block : n;
    jobs[p].format = format;
    jobs[p].block = block;
    jobs[p].x = x + start;
    jobs[p].n = end > start ? end - start : 0;
    jobs[p].packed = parts + start / 4;
    jobs[p].scales = part_scales + cuts[p];
    pthread_create(&threads[p], NULL, quantize_part, &jobs[p]);
  }
  for (p = 0; p < PARTS; ++p) {
    pthread_join(threads[p], NULL);
    check(jobs[p].status == 0, "split: part %d status %d", p, jobs[p].status);
  }
  check(first_byte_diff(parts, whole, (n + 3) / 4) < 0 &&
            first_float_diff(part_scales, whole_scales, blocks) < 0,
        "split format %d block %u n %zu: parts on threads differ from one call", (int)format,
        block, n);
  free(whole);
  free(parts);
  free(whole_scales);
  free(part_scales);
}

int main(void) {
  static const uint32_t kBlocks[] = {4, 8, 12, 16, 20, 32, 36, 64, 100, 128, 256, 1024, 4096};
  static const size_t kLengths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63,
                                    64, 65, 100, 127, 128, 129, 255, 256, 257, 1000, 4099, 12345};
  const size_t big = large_length((size_t)1 << 22) + 3;
  float* x = (float*)malloc(big * sizeof(float));
  size_t li, bi;
  int f, d;
  uint64_t seed = 1;
  long cases = 0;
  char what[160];

  g_num_targets = supported_targets(g_targets);
  printf("targets:");
  for (f = 0; f < g_num_targets; ++f) printf(" %s", bitnet_cpu_target_name(g_targets[f]));
  printf("\n");

  for (f = 0; f < 3; ++f) {
    for (bi = 0; bi < sizeof(kBlocks) / sizeof(kBlocks[0]); ++bi) {
      const uint32_t block = kBlocks[bi];
      for (d = 0; d < NUM_DISTRIBUTIONS; ++d) {
        for (li = 0; li < sizeof(kLengths) / sizeof(kLengths[0]); ++li) {
          const size_t n = kLengths[li];
          fill_random((enum distribution)d, x, n, block, ++seed);
          snprintf(what, sizeof(what), "format %d block %u %s n %zu", f, block, kDistributionNames[d], n);
          compare_quantizer(f, block, x, n, what);
          if (f != BITNET_FORMAT_TL1) check_round_trip(f, block, x, n, what);
          ++cases;
        }
        /* Lengths around multiples of the block. */
        for (li = 0; li < 3; ++li) {
          const size_t n = 3 * (size_t)block + li - 1;
          fill_random((enum distribution)d, x, n, block, ++seed);
          snprintf(what, sizeof(what), "format %d block %u %s n %zu", f, block, kDistributionNames[d], n);
          compare_quantizer(f, block, x, n, what);
          ++cases;
        }
      }
      for (li = 0; li < sizeof(kLengths) / sizeof(kLengths[0]); li += 3) {
        compare_dequantizer(f, block, kLengths[li], ++seed);
      }
      fill_random(SPECIALS, x, 50000, block, ++seed);
      check_split(f, block, x, 50000, ++seed);
    }
    /* One large input per distribution. */
    for (d = 0; d < NUM_DISTRIBUTIONS; ++d) {
      const uint32_t block = kDefaultBlock[f];
      fill_random((enum distribution)d, x, big, block, ++seed);
      snprintf(what, sizeof(what), "format %d block %u %s n %zu", f, block, kDistributionNames[d], big);
      compare_quantizer(f, block, x, big, what);
      ++cases;
    }
  }
  for (f = 0; f < 3; ++f) {
    for (d = 0; d < NUM_DISTRIBUTIONS; ++d) {
      for (li = 0; li < sizeof(kLengths) / sizeof(kLengths[0]); ++li) {
        fill_random((enum distribution)d, x, kLengths[li], 32, ++seed);
        snprintf(what, sizeof(what), "kernel %s n %zu", kDistributionNames[d], kLengths[li]);
        compare_kernel_family(f, x, kLengths[li], what);
      }
      fill_random((enum distribution)d, x, large_length(1 << 20), 32, ++seed);
      compare_kernel_family(f, x, large_length(1 << 20), "kernel large");
    }
  }
  compare_matmul(1, 1, 1, ++seed);
  compare_matmul(3, 17, 5, ++seed);
  compare_matmul(7, 33, 64, ++seed);
  compare_matmul(16, 16, 4096, ++seed);
  compare_matmul(5, 23, 70000, ++seed); /* sums beyond 2^24 round in f32 */
  compare_matmul(2, 0, 5, ++seed);
  compare_matmul(0, 3, 5, ++seed);
  compare_matmul(2, 3, 0, ++seed);
  printf("%ld quantizer cases x %d targets\n", cases, g_num_targets);
  free(x);
  return finish("test_random");
}
