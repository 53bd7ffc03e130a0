/* Every BitNet-rs golden case (ffi_tests/golden, copied from the reference
 * implementations' own output) on every CPU target this machine supports,
 * through the general and the fixed-format entry points and bitnet_cpp_*.
 * An input holding NaNs runs twice: as stored (quiet NaNs), and with every
 * NaN replaced by one of other kinds (signalling, negative, with payloads),
 * which BitNet-rs skips alike, so the expected outputs are the same.
 * usage: test_golden GOLDEN_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "fixed_entry_points.h"
#include "test_util.h"

enum family_kind { QUANTIZER, KERNEL, MATMUL };

typedef struct family {
  const char* file;
  enum family_kind kind;
  bitnet_format format;
  uint32_t block;
} family;

static const family kFamilies[] = {
    {"quantizer_i2s_scalar_bs32.safetensors", QUANTIZER, BITNET_FORMAT_I2S, 32},
    {"quantizer_i2s_scalar_bs64.safetensors", QUANTIZER, BITNET_FORMAT_I2S, 64},
    {"quantizer_i2s_scalar_bs128.safetensors", QUANTIZER, BITNET_FORMAT_I2S, 128},
    {"quantizer_i2s_scalar_bs256.safetensors", QUANTIZER, BITNET_FORMAT_I2S, 256},
    {"quantizer_tl1_scalar_bs64.safetensors", QUANTIZER, BITNET_FORMAT_TL1, 64},
    {"quantizer_tl2_scalar_bs64.safetensors", QUANTIZER, BITNET_FORMAT_TL2, 64},
    {"quantizer_tl2_scalar_bs128.safetensors", QUANTIZER, BITNET_FORMAT_TL2, 128},
    {"quantizer_tl2_scalar_bs256.safetensors", QUANTIZER, BITNET_FORMAT_TL2, 256},
    {"kernel_i2s_fallback.safetensors", KERNEL, BITNET_FORMAT_I2S, 32},
    {"kernel_tl1_fallback.safetensors", KERNEL, BITNET_FORMAT_TL1, 64},
    {"kernel_tl2_fallback.safetensors", KERNEL, BITNET_FORMAT_TL2, 128},
    {"matmul_i2s.safetensors", MATMUL, 0, 0},
};
#define NUM_FAMILIES (sizeof(kFamilies) / sizeof(kFamilies[0]))

static const char* g_dir;
static st_file* g_inputs;
static st_file* g_files[NUM_FAMILIES];
static long g_cases[NUM_FAMILIES];
static long g_nan_variants;

#define SLACK 16

/* Buffers with SLACK poisoned entries past the required length, so that a
 * write past it is caught. */
typedef struct outputs {
  uint8_t* packed;
  float* scales;
  float* values;
  size_t packed_len, scales_len, n;
} outputs;

static void outputs_init(outputs* o, size_t packed_len, size_t scales_len, size_t n) {
  o->packed_len = packed_len;
  o->scales_len = scales_len;
  o->n = n;
  o->packed = (uint8_t*)malloc(packed_len + SLACK);
  o->scales = (float*)malloc((scales_len + SLACK) * sizeof(float));
  o->values = (float*)malloc((n + SLACK) * sizeof(float));
  memset(o->packed, POISON, packed_len + SLACK);
  memset(o->scales, POISON, (scales_len + SLACK) * sizeof(float));
  memset(o->values, POISON, (n + SLACK) * sizeof(float));
}

static void outputs_free(outputs* o) {
  free(o->packed);
  free(o->scales);
  free(o->values);
}

static void expect_bytes(const uint8_t* got, const st_tensor* want, const char* what,
                         const char* where) {
  long d;
  if (!check(want != NULL, "%s: golden tensor %s missing", where, what)) return;
  d = first_byte_diff(got, want->data, want->nbytes);
  check(d < 0, "%s: %s byte %ld is 0x%02x, BitNet-rs 0x%02x", where, what, d,
        d < 0 ? 0 : got[d], d < 0 ? 0 : want->data[d]);
}

static void expect_floats(const float* got, const st_tensor* want, const char* what,
                          const char* where) {
  float* w;
  long d;
  if (!check(want != NULL, "%s: golden tensor %s missing", where, what)) return;
  w = st_floats(want);
  d = first_float_diff(got, w, st_numel(want));
  check(d < 0, "%s: %s[%ld] is %.9g, BitNet-rs %.9g", where, what, d, d < 0 ? 0 : got[d],
        d < 0 ? 0 : w[d]);
  free(w);
}

static void run_quantizer_case(const family* fam, const st_file* gold, const char* name,
                               const char* variant, const float* x, size_t n, int expect_error,
                               bitnet_cpu_target target) {
  char where[256];
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t packed_len = 0, scales_len = 0;
  outputs o, fixed;
  int status;
  const int fixed_too = fam->block == kDefaultBlock[fam->format];
  snprintf(where, sizeof(where), "%s %s%s [%s]", fam->file, name, variant,
           bitnet_cpu_target_name(target));
  opt.block_size = fam->block;
  opt.cpu_target = target;
  status = bitnet_quant_buffer_sizes(fam->format, &opt, n, &packed_len, &scales_len);
  check(status == BITNET_OK, "%s: buffer sizes: %d", where, status);
  outputs_init(&o, packed_len, scales_len, n);
  outputs_init(&fixed, packed_len, scales_len, n);

  status = bitnet_quantize(fam->format, &opt, x, n, o.packed, packed_len, o.scales, scales_len);
  if (fixed_too) {
    check(bitnet_cpu_set_target(target) == BITNET_OK, "%s: set target", where);
    check(kFixedQuantize[fam->format](x, n, fixed.packed, packed_len, fixed.scales,
                                      scales_len) == status,
          "%s: fixed-format quantize disagrees with bitnet_quantize", where);
  }
  if (expect_error) {
    check(status == BITNET_E_ALL_NONFINITE, "%s: status %d, BitNet-rs errors", where, status);
    check(bitnet_last_error() != NULL, "%s: no error message", where);
    check(untouched(o.packed, packed_len + SLACK) &&
              untouched(o.scales, (scales_len + SLACK) * sizeof(float)),
          "%s: outputs written on error", where);
  } else if (check(status == BITNET_OK, "%s: status %d (%s)", where, status,
                   bitnet_last_error() ? bitnet_last_error() : "")) {
    expect_bytes(o.packed, st_field(gold, name, "packed"), "packed", where);
    expect_floats(o.scales, st_field(gold, name, "scales"), "scales", where);
    check(untouched(o.packed + packed_len, SLACK) && untouched(o.scales + scales_len, SLACK * 4),
          "%s: wrote past the required lengths", where);
    if (fixed_too) {
      check(first_byte_diff(fixed.packed, o.packed, packed_len) < 0 &&
                first_float_diff(fixed.scales, o.scales, scales_len) < 0,
            "%s: fixed-format output differs", where);
    }
    /* Dequantize BitNet-rs's own bytes and scales, and our round trip. */
    {
      const st_tensor* gp = st_field(gold, name, "packed");
      const st_tensor* gs = st_field(gold, name, "scales");
      float* gscales = gs ? st_floats(gs) : NULL;
      if (gp && gscales) {
        status = bitnet_dequantize(fam->format, &opt, gp->data, gp->nbytes, gscales,
                                   st_numel(gs), o.values, n);
        check(status == BITNET_OK, "%s: dequantize status %d", where, status);
        expect_floats(o.values, st_field(gold, name, "dequant"), "dequant", where);
        check(untouched(o.values + n, SLACK * 4), "%s: dequantize wrote past n", where);
        if (fixed_too) {
          status = kFixedDequantize[fam->format](gp->data, gp->nbytes, gscales, st_numel(gs),
                                                 fixed.values, n);
          check(status == BITNET_OK && first_float_diff(fixed.values, o.values, n) < 0,
                "%s: fixed-format dequantize differs", where);
        }
      }
      free(gscales);
    }
  }
  outputs_free(&o);
  outputs_free(&fixed);
}

static void run_kernel_case(const family* fam, const st_file* gold, const char* name,
                            const char* variant, const float* x, size_t n,
                            bitnet_cpu_target target) {
  char where[256];
  outputs o;
  const size_t packed_len = (n + 3) / 4, scales_len = (n + fam->block - 1) / fam->block;
  int status;
  snprintf(where, sizeof(where), "%s %s%s [%s]", fam->file, name, variant,
           bitnet_cpu_target_name(target));
  outputs_init(&o, packed_len, scales_len, n);
  check(bitnet_cpu_set_target(target) == BITNET_OK, "%s: set target", where);
  status = bitnet_cpp_quantize(x, (int)n, o.packed, (int)packed_len, o.scales, (int)scales_len,
                               (int)fam->format);
  if (check(status == 0, "%s: status %d (%s)", where, status,
            bitnet_cpp_get_last_error() ? bitnet_cpp_get_last_error() : "")) {
    expect_bytes(o.packed, st_field(gold, name, "packed"), "packed", where);
    expect_floats(o.scales, st_field(gold, name, "scales"), "scales", where);
    check(untouched(o.packed + packed_len, SLACK) && untouched(o.scales + scales_len, SLACK * 4),
          "%s: wrote past the required lengths", where);
  }
  outputs_free(&o);
}

static void run_matmul_case(const st_file* gold, const char* name, bitnet_cpu_target target) {
  char where[256];
  const st_tensor* a = st_field(gold, name, "a");
  const st_tensor* b = st_field(gold, name, "b");
  const st_tensor* want = st_field(gold, name, "c_fallback");
  float* c;
  int status;
  snprintf(where, sizeof(where), "matmul %s [%s]", name, bitnet_cpu_target_name(target));
  if (!check(a && b && want && a->ndim == 2 && b->ndim == 2, "%s: golden tensors", where)) return;
  c = (float*)malloc((st_numel(want) + 1) * sizeof(float));
  check(bitnet_cpu_set_target(target) == BITNET_OK, "%s: set target", where);
  status = bitnet_cpp_matmul_i2s((const int8_t*)a->data, b->data, c, (int)a->shape[0],
                                 (int)b->shape[1], (int)a->shape[1]);
  if (check(status == 0, "%s: status %d", where, status)) expect_floats(c, want, "c", where);
  free(c);
}

/* The NaNs that replace the stored ones, in turn. */
static const uint32_t kOtherNaNs[] = {0x7F800001u, 0xFFC00000u, 0x7FC12345u, 0xFF9FFFFFu,
                                      0x7FBFFFFFu, 0xFFFFFFFFu};

/* x with every NaN replaced by kOtherNaNs in turn; NULL when x has none. */
static float* with_other_nans(const float* x, size_t n) {
  float* y = NULL;
  size_t i, k = 0;
  for (i = 0; i < n; ++i) {
    if (x[i] == x[i]) continue;
    if (!y) {
      y = (float*)malloc(n * sizeof(float));
      memcpy(y, x, n * sizeof(float));
    }
    y[i] = float_from_bits(kOtherNaNs[k++ % (sizeof(kOtherNaNs) / sizeof(kOtherNaNs[0]))]);
  }
  return y;
}

static int family_index(const char* file) {
  size_t i;
  for (i = 0; i < NUM_FAMILIES; ++i) {
    if (strcmp(kFamilies[i].file, file) == 0) return (int)i;
  }
  return -1;
}

int main(int argc, char** argv) {
  bitnet_cpu_target targets[32];
  const int num_targets = supported_targets(targets);
  char line[1024], *file, *name, *error;
  FILE* index;
  size_t i;
  int t;
  if (argc != 2) {
    fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  g_inputs = st_open(path_join(g_dir, "inputs.safetensors"));
  index = fopen(path_join(g_dir, "index.tsv"), "r");
  if (!index) {
    fprintf(stderr, "cannot open %s\n", path_join(g_dir, "index.tsv"));
    return 2;
  }
  printf("targets:");
  for (t = 0; t < num_targets; ++t) printf(" %s", bitnet_cpu_target_name(targets[t]));
  printf("\n");

  while (golden_index_next(index, line, sizeof(line), &file, &name, &error)) {
    const int f = family_index(file);
    if (!check(f >= 0, "index.tsv names unknown file %s", file)) continue;
    if (!g_files[f]) g_files[f] = st_open(path_join(g_dir, file));
    ++g_cases[f];
    for (t = 0; t < num_targets; ++t) {
      const family* fam = &kFamilies[f];
      if (fam->kind == MATMUL) {
        run_matmul_case(g_files[f], name, targets[t]);
      } else {
        const st_tensor* in = st_find(g_inputs, name);
        float *x, *other_nans;
        int variant;
        if (!check(in != NULL, "input %s missing", name)) break;
        x = st_floats(in);
        other_nans = with_other_nans(x, st_numel(in));
        for (variant = 0; variant < (other_nans ? 2 : 1); ++variant) {
          const float* input = variant ? other_nans : x;
          const char* label = variant ? " (other NaNs)" : "";
          if (fam->kind == QUANTIZER) {
            run_quantizer_case(fam, g_files[f], name, label, input, st_numel(in),
                               strcmp(error, "-") != 0, targets[t]);
          } else {
            run_kernel_case(fam, g_files[f], name, label, input, st_numel(in), targets[t]);
          }
          g_nan_variants += variant;
        }
        free(x);
        free(other_nans);
      }
    }
  }
  fclose(index);
  check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  for (i = 0; i < NUM_FAMILIES; ++i) {
    printf("%-42s %3ld cases x %d targets\n", kFamilies[i].file, g_cases[i], num_targets);
    check(g_cases[i] > 0, "no cases for %s", kFamilies[i].file);
    st_close(g_files[i]);
  }
  printf("%ld case runs again with signalling/payload NaNs\n", g_nan_variants);
  check(g_nan_variants > 0, "no golden input holds a NaN");
  st_close(g_inputs);
  return finish("test_golden");
}
