/* The README's main job: quantizes BitNet-rs's own sample inputs with each
 * format on each CPU target and prints parity with BitNet-rs (its golden
 * outputs), the quantization error, and single-thread throughput.
 * usage: bitnet_quant_demo GOLDEN_DIR   (exit status 1 on any mismatch or
 * failed call) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitnet_quant.h"
#include "safetensors.h"

typedef struct format_case {
  const char* name;
  bitnet_format format;
  uint32_t block;
  const char* golden; /* BitNet-rs scalar quantizer output for this block */
} format_case;

static const format_case kFormats[] = {
    {"I2_S", BITNET_FORMAT_I2S, BITNET_I2S_DEFAULT_BLOCK_SIZE, "quantizer_i2s_scalar_bs32.safetensors"},
    {"TL1", BITNET_FORMAT_TL1, BITNET_TL1_DEFAULT_BLOCK_SIZE, "quantizer_tl1_scalar_bs64.safetensors"},
    {"TL2", BITNET_FORMAT_TL2, BITNET_TL2_DEFAULT_BLOCK_SIZE, "quantizer_tl2_scalar_bs128.safetensors"},
};
#define NUM_FORMATS 3

/* Inputs whose quantization error is shown (BitNet-rs's distributions). */
static const char* const kErrorInputs[] = {"gauss_65536_s24", "weights_16384_s10",
                                           "uniform_4096_s5", "laplace_2048_s7",
                                           "outliers_2048_s8"};

static int same_bits(const void* a, const void* b, size_t bytes, int floats) {
  size_t i;
  if (!floats) return memcmp(a, b, bytes) == 0;
  for (i = 0; i < bytes / 4; ++i) {
    const float x = ((const float*)a)[i], y = ((const float*)b)[i];
    if (!(x != x && y != y) && memcmp(&x, &y, 4) != 0) return 0;
  }
  return 1;
}

/* Reports a call that failed on valid arguments and ends the demo (exit 1). */
static void fail_call(const char* call, const format_case* f, bitnet_cpu_target target) {
  fprintf(stderr, "%s (%s on %s) failed: %s\n", call, f->name, bitnet_cpu_target_name(target),
          bitnet_last_error() ? bitnet_last_error() : "no message");
  exit(1);
}

/* Quantizes and dequantizes one input; returns 1 when bytes, scales and
 * values all equal BitNet-rs's, 0 when not, -1 when BitNet-rs errored and
 * so did we. *out receives the dequantized values (caller frees). */
static int run_case(const format_case* f, bitnet_cpu_target target, const float* x, size_t n,
                    const st_file* gold, const char* name, float** out) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t packed_len = 0, scales_len = 0;
  uint8_t* packed;
  float* scales;
  const st_tensor* gp = st_field(gold, name, "packed");
  const st_tensor* gs = st_field(gold, name, "scales");
  const st_tensor* gd = st_field(gold, name, "dequant");
  int status, same;
  opt.block_size = f->block;
  opt.cpu_target = target;
  opt.device = BITNET_DEVICE_CPU;
  if (bitnet_quant_buffer_sizes(f->format, &opt, n, &packed_len, &scales_len) != BITNET_OK) {
    fail_call("bitnet_quant_buffer_sizes", f, target);
  }
  packed = (uint8_t*)malloc(packed_len + 1);
  scales = (float*)malloc((scales_len + 1) * sizeof(float));
  *out = (float*)malloc((n + 1) * sizeof(float));
  status = bitnet_quantize(f->format, &opt, x, n, packed, packed_len, scales, scales_len);
  if (status != BITNET_OK) {
    same = gp == NULL && status == BITNET_E_ALL_NONFINITE ? -1 : 0;
  } else {
    status = bitnet_dequantize(f->format, &opt, packed, packed_len, scales, scales_len, *out, n);
    same = status == BITNET_OK && gp && gs && gd && gp->nbytes == packed_len &&
           same_bits(packed, gp->data, packed_len, 0) &&
           same_bits(scales, gs->data, scales_len * 4, 1) && same_bits(*out, gd->data, n * 4, 1);
  }
  free(packed);
  free(scales);
  return same;
}

/* Pearson correlation and SNR (dB) of y against x over finite pairs. */
static void error_metrics(const float* x, const float* y, size_t n, double* pearson,
                          double* snr_db) {
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, signal = 0, noise = 0;
  size_t i, count = 0;
  for (i = 0; i < n; ++i) {
    if (!isfinite(x[i]) || !isfinite(y[i])) continue;
    sx += x[i];
    sy += y[i];
    sxx += (double)x[i] * x[i];
    syy += (double)y[i] * y[i];
    sxy += (double)x[i] * y[i];
    signal += (double)x[i] * x[i];
    noise += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    ++count;
  }
  *pearson = (count * sxy - sx * sy) /
             sqrt((count * sxx - sx * sx) * (count * syy - sy * sy));
  *snr_db = 10.0 * log10(signal / noise);
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best of 5 timed calls on n values ~ N(0, 0.02) (LLM-like weights); the
 * status of each is checked after it is timed. */
static void throughput(const format_case* f, bitnet_cpu_target target, double* q_gelem,
                       double* d_gelem) {
  enum { N = 1 << 22 };
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t packed_len = 0, scales_len = 0, i;
  float* x = (float*)malloc(N * sizeof(float));
  float* y = (float*)malloc(N * sizeof(float));
  uint8_t* packed;
  float* scales;
  uint64_t state = 7;
  double best_q = 1e30, best_d = 1e30;
  int r;
  opt.block_size = f->block;
  opt.cpu_target = target;
  opt.device = BITNET_DEVICE_CPU;
  if (bitnet_quant_buffer_sizes(f->format, &opt, N, &packed_len, &scales_len) != BITNET_OK) {
    fail_call("bitnet_quant_buffer_sizes", f, target);
  }
  packed = (uint8_t*)malloc(packed_len);
  scales = (float*)malloc(scales_len * sizeof(float));
  for (i = 0; i < N; i += 2) { /* Box-Muller from a xorshift generator */
    double u1, u2, m;
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    u1 = ((state >> 11) + 1.0) / 9007199254740993.0;
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    u2 = (state >> 11) / 9007199254740992.0;
    m = 0.02 * sqrt(-2.0 * log(u1));
    x[i] = (float)(m * cos(6.283185307179586 * u2));
    x[i + 1] = (float)(m * sin(6.283185307179586 * u2));
  }
  for (r = 0; r < 5; ++r) {
    double t = seconds_now();
    int status = bitnet_quantize(f->format, &opt, x, N, packed, packed_len, scales, scales_len);
    t = seconds_now() - t;
    if (status != BITNET_OK) fail_call("bitnet_quantize", f, target);
    if (t < best_q) best_q = t;
    t = seconds_now();
    status = bitnet_dequantize(f->format, &opt, packed, packed_len, scales, scales_len, y, N);
    t = seconds_now() - t;
    if (status != BITNET_OK) fail_call("bitnet_dequantize", f, target);
    if (t < best_d) best_d = t;
  }
  *q_gelem = N / best_q / 1e9;
  *d_gelem = N / best_d / 1e9;
  free(x);
  free(y);
  free(packed);
  free(scales);
}

int main(int argc, char** argv) {
  char path[4096];
  st_file *inputs, *gold[NUM_FORMATS];
  bitnet_cpu_target targets[32];
  int num_targets = 0, bit, f, t, mismatches = 0;
  size_t c;
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  if (argc != 2) {
    fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
    return 2;
  }
  for (bit = 0; bit < 32; ++bit) {
    if (supported & (1u << bit)) targets[num_targets++] = 1u << bit;
  }
  snprintf(path, sizeof(path), "%s/inputs.safetensors", argv[1]);
  inputs = st_open(path);
  for (f = 0; f < NUM_FORMATS; ++f) {
    snprintf(path, sizeof(path), "%s/%s", argv[1], kFormats[f].golden);
    gold[f] = st_open(path);
  }
  printf("bitnet_quant %s; CPU targets supported here:", bitnet_version_string());
  for (t = 0; t < num_targets; ++t) printf(" %s", bitnet_cpu_target_name(targets[t]));
  printf(" (AUTO picks %s)\n\n", bitnet_cpu_target_name(bitnet_cpu_get_target()));

  printf("Parity with BitNet-rs (its scalar quantizers' own outputs, %zu sample inputs):\n\n",
         inputs->count);
  printf("| format | block | target | identical | BitNet-rs errors, so do we | differ |\n");
  printf("|---|---:|---|---:|---:|---:|\n");
  for (f = 0; f < NUM_FORMATS; ++f) {
    for (t = 0; t < num_targets; ++t) {
      int identical = 0, both_error = 0, differ = 0;
      for (c = 0; c < inputs->count; ++c) {
        const st_tensor* in = &inputs->tensors[c];
        float* x = st_floats(in);
        float* y = NULL;
        const int r = run_case(&kFormats[f], targets[t], x, st_numel(in), gold[f], in->name, &y);
        identical += r == 1;
        both_error += r == -1;
        differ += r == 0;
        free(x);
        free(y);
      }
      mismatches += differ;
      printf("| %s | %u | %s | %d | %d | %d |\n", kFormats[f].name, kFormats[f].block,
             bitnet_cpu_target_name(targets[t]), identical, both_error, differ);
    }
  }

  printf("\nQuantization error of dequantize(quantize(x)) against x:\n\n");
  printf("| format | input | Pearson | SNR (dB) |\n|---|---|---:|---:|\n");
  for (f = 0; f < NUM_FORMATS; ++f) {
    for (c = 0; c < sizeof(kErrorInputs) / sizeof(kErrorInputs[0]); ++c) {
      const st_tensor* in = st_find(inputs, kErrorInputs[c]);
      float *x, *y = NULL;
      double pearson, snr;
      if (!in) continue;
      x = st_floats(in);
      run_case(&kFormats[f], BITNET_CPU_AUTO, x, st_numel(in), gold[f], in->name, &y);
      error_metrics(x, y, st_numel(in), &pearson, &snr);
      printf("| %s | %s | %.4f | %.2f |\n", kFormats[f].name, kErrorInputs[c], pearson, snr);
      free(x);
      free(y);
    }
  }

  printf("\nSingle-thread throughput, 4 Mi elements ~ N(0, 0.02), best of 5 "
         "(bench/bench_cpu has the roofline):\n\n");
  printf("| format | target | quantize Gelem/s | dequantize Gelem/s |\n|---|---|---:|---:|\n");
  for (f = 0; f < NUM_FORMATS; ++f) {
    for (t = 0; t < num_targets; ++t) {
      double q, d;
      throughput(&kFormats[f], targets[t], &q, &d);
      printf("| %s | %s | %.2f | %.2f |\n", kFormats[f].name, bitnet_cpu_target_name(targets[t]),
             q, d);
    }
  }
  for (f = 0; f < NUM_FORMATS; ++f) st_close(gold[f]);
  st_close(inputs);
  printf("\n%s\n", mismatches == 0 ? "Parity: every case identical to BitNet-rs on every target."
                                   : "Parity: MISMATCHES (see the table).");
  return mismatches == 0 ? 0 : 1;
}
