/* Many threads at once: workers quantize and dequantize shared inputs
 * (several threads read the same floats, bytes and scales at the same time,
 * and windows of one input overlap) into their own buffers, through every
 * entry point and on every supported target, while other threads call
 * bitnet_cpp_init/cleanup and switch the process-wide target. Every result
 * must be bit-equal to the single-threaded run, and error messages and the
 * backend report must stay per thread. Run under TSan by
 * tools/test_hardening.sh. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "fixed_entry_points.h"
#include "test_util.h"

#define NUM_INPUTS 4
#define INPUT_LEN 3000
#define NUM_WINDOWS 3
#define NUM_JOBS (3 * NUM_INPUTS * NUM_WINDOWS)
#define NUM_WORKERS 8
#define ITERATIONS 120
#define LIFECYCLE_ROUNDS 400
#define MAT_M 8
#define MAT_N 12
#define MAT_K 200

/* Windows [offset, INPUT_LEN) of each input; they overlap. */
static const size_t kWindowOffset[NUM_WINDOWS] = {0, 96, 1001};

typedef struct job {
  bitnet_format format;
  const float* input;
  size_t n, packed_len, scales_len; /* the kernel family has the same block sizes */
  /* the single-threaded results */
  uint8_t* packed;
  float* scales;
  float* values;
  uint8_t* kernel_packed;
  float* kernel_scales;
} job;

static float g_inputs[NUM_INPUTS][INPUT_LEN];
static job g_jobs[NUM_JOBS];
static int8_t g_mat_a[MAT_M * MAT_K];
static uint8_t g_mat_b[MAT_K * MAT_N];
static float g_mat_c[MAT_M * MAT_N];
static bitnet_cpu_target g_targets[32];
static int g_num_targets;

/* ---- the single-threaded run -------------------------------------------- */

static void make_inputs(void) {
  uint64_t rng = 0x7EAD5;
  size_t i;
  int k;
  for (k = 0; k < NUM_INPUTS; ++k) {
    for (i = 0; i < INPUT_LEN; ++i) {
      double v = rng_normal(&rng) * (k + 1);
      if (k == 3 && rng_next(&rng) % 50 == 0) v = (rng_next(&rng) & 1) ? 1e35 : -0.0;
      g_inputs[k][i] = (float)v;
    }
  }
  for (i = 0; i < MAT_M * MAT_K; ++i) g_mat_a[i] = (int8_t)(rng_next(&rng) % 255 - 127);
  for (i = 0; i < MAT_K * MAT_N; ++i) g_mat_b[i] = (uint8_t)(rng_next(&rng) % 4);
}

static int single_threaded_results(void) {
  int f, k, w, j = 0;
  for (f = 0; f < 3; ++f) {
    for (k = 0; k < NUM_INPUTS; ++k) {
      for (w = 0; w < NUM_WINDOWS; ++w, ++j) {
        job* jb = &g_jobs[j];
        jb->format = f;
        jb->input = g_inputs[k] + kWindowOffset[w];
        jb->n = INPUT_LEN - kWindowOffset[w];
        jb->packed_len = (jb->n + 3) / 4;
        jb->scales_len = (jb->n + kDefaultBlock[f] - 1) / kDefaultBlock[f];
        jb->packed = (uint8_t*)malloc(jb->packed_len);
        jb->scales = (float*)malloc(jb->scales_len * sizeof(float));
        jb->values = (float*)malloc(jb->n * sizeof(float));
        jb->kernel_packed = (uint8_t*)malloc(jb->packed_len);
        jb->kernel_scales = (float*)malloc(jb->scales_len * sizeof(float));
        if (!check(bitnet_quantize(f, NULL, jb->input, jb->n, jb->packed, jb->packed_len,
                                   jb->scales, jb->scales_len) == BITNET_OK &&
                       bitnet_dequantize(f, NULL, jb->packed, jb->packed_len, jb->scales,
                                         jb->scales_len, jb->values, jb->n) == BITNET_OK &&
                       bitnet_cpp_quantize(jb->input, (int)jb->n, jb->kernel_packed,
                                           (int)jb->packed_len, jb->kernel_scales,
                                           (int)jb->scales_len, f) == 0,
                   "single-threaded job %d: %s", j,
                   bitnet_last_error() ? bitnet_last_error() : "")) {
          return 0;
        }
      }
    }
  }
  return check(bitnet_cpp_matmul_i2s(g_mat_a, g_mat_b, g_mat_c, MAT_M, MAT_N, MAT_K) == 0,
               "single-threaded matmul");
}

/* ---- the threads ---------------------------------------------------------- */

/* What a thread saw; check() is not thread-safe, so threads only record. */
typedef struct report {
  int id;
  long calls;
  long failures;
  char first_failure[256];
} report;

static void record_failure(report* r, const char* fmt, ...) {
  va_list args;
  if (r->failures++ > 0) return;
  va_start(args, fmt);
  vsnprintf(r->first_failure, sizeof(r->first_failure), fmt, args);
  va_end(args);
}


/* One job through the general (on a random target) or the fixed-format
 * entry points, and through bitnet_cpp_quantize. */
static void run_job(report* r, const job* jb, uint64_t* rng, uint8_t* packed, float* scales,
                    float* values) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  const int general = (int)(rng_next(rng) & 1);
  int qs, ds;
  opt.cpu_target = g_targets[rng_next(rng) % (uint64_t)g_num_targets];
  opt.device = BITNET_DEVICE_CPU;
  if (general) {
    qs = bitnet_quantize(jb->format, &opt, jb->input, jb->n, packed, jb->packed_len, scales,
                         jb->scales_len);
    ds = bitnet_dequantize(jb->format, &opt, jb->packed, jb->packed_len, jb->scales,
                           jb->scales_len, values, jb->n);
  } else {
    qs = kFixedQuantize[jb->format](jb->input, jb->n, packed, jb->packed_len, scales,
                                    jb->scales_len);
    ds = kFixedDequantize[jb->format](jb->packed, jb->packed_len, jb->scales, jb->scales_len,
                                      values, jb->n);
  }
  r->calls += 2;
  if (qs != BITNET_OK || ds != BITNET_OK) {
    record_failure(r, "format %d n %zu: statuses %d %d", (int)jb->format, jb->n, qs, ds);
  } else if (first_byte_diff(packed, jb->packed, jb->packed_len) >= 0 ||
             first_float_diff(scales, jb->scales, jb->scales_len) >= 0 ||
             first_float_diff(values, jb->values, jb->n) >= 0) {
    record_failure(r, "format %d n %zu %s target 0x%x: differs from the single-threaded run",
                   (int)jb->format, jb->n, general ? "general" : "fixed-format",
                   (unsigned)opt.cpu_target);
  } else if (general && bitnet_last_backend() != BITNET_BACKEND_CPU) {
    record_failure(r, "backend %d after a CPU call", (int)bitnet_last_backend());
  }
  qs = bitnet_cpp_quantize(jb->input, (int)jb->n, packed, (int)jb->packed_len, scales,
                           (int)jb->scales_len, (int)jb->format);
  ++r->calls;
  if (qs != 0 || first_byte_diff(packed, jb->kernel_packed, jb->packed_len) >= 0 ||
      first_float_diff(scales, jb->kernel_scales, jb->scales_len) >= 0) {
    record_failure(r, "bitnet_cpp_quantize format %d n %zu: status %d or differs",
                   (int)jb->format, jb->n, qs);
  }
}

/* A failing call whose message names this thread's own bad value. */
static void own_error(report* r) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  char want[32];
  const char* msg;
  uint8_t packed[4];
  float scale;
  opt.block_size = 4u * (uint32_t)r->id + 1000001u; /* invalid: not a multiple of 4 */
  snprintf(want, sizeof(want), "%u", opt.block_size);
  ++r->calls;
  if (bitnet_quantize(BITNET_FORMAT_TL1, &opt, g_inputs[0], 16, packed, 4, &scale, 1) !=
      BITNET_E_INVALID_BLOCK_SIZE) {
    record_failure(r, "block size %s accepted", want);
    return;
  }
  msg = bitnet_last_error();
  if (msg == NULL || strstr(msg, want) == NULL) {
    record_failure(r, "error message \"%s\" is not this thread's (block size %s)",
                   msg ? msg : "(null)", want);
  }
}

static void* worker(void* arg) {
  report* r = (report*)arg;
  uint64_t rng = 0x5EED0000u + (uint64_t)r->id;
  size_t max_n = INPUT_LEN;
  uint8_t* packed = (uint8_t*)malloc(max_n / 4 + 1);
  float* scales = (float*)malloc((max_n / 32 + 1) * sizeof(float));
  float* values = (float*)malloc(max_n * sizeof(float));
  float c[MAT_M * MAT_N];
  int it;
  if (bitnet_last_backend() != BITNET_BACKEND_NONE) {
    record_failure(r, "a new thread's backend is %d", (int)bitnet_last_backend());
  }
  for (it = 0; it < ITERATIONS; ++it) {
    run_job(r, &g_jobs[rng_next(&rng) % NUM_JOBS], &rng, packed, scales, values);
    if (it % 8 == 0) {
      ++r->calls;
      if (bitnet_cpp_matmul_i2s(g_mat_a, g_mat_b, c, MAT_M, MAT_N, MAT_K) != 0 ||
          first_float_diff(c, g_mat_c, MAT_M * MAT_N) >= 0) {
        record_failure(r, "matmul differs from the single-threaded run");
      }
    }
    if (it % 16 == 0) own_error(r);
  }
  free(packed);
  free(scales);
  free(values);
  return NULL;
}

static void* lifecycle(void* arg) {
  report* r = (report*)arg;
  const job* jb = &g_jobs[0];
  uint8_t* packed = (uint8_t*)malloc(jb->packed_len);
  float* scales = (float*)malloc(jb->scales_len * sizeof(float));
  int round;
  for (round = 0; round < LIFECYCLE_ROUNDS; ++round) {
    int status = bitnet_cpp_init();
    ++r->calls;
    if (status != 0) record_failure(r, "bitnet_cpp_init: %d", status);
    if (round % 40 == 0) {
      ++r->calls;
      if (bitnet_cpp_quantize(jb->input, (int)jb->n, packed, (int)jb->packed_len, scales,
                              (int)jb->scales_len, (int)jb->format) != 0 ||
          first_byte_diff(packed, jb->kernel_packed, jb->packed_len) >= 0) {
        record_failure(r, "bitnet_cpp_quantize between init and cleanup differs");
      }
    }
    bitnet_cpp_cleanup();
    if (round % 3 == 0) bitnet_cpp_cleanup(); /* extra cleanups must be harmless */
  }
  free(packed);
  free(scales);
  return NULL;
}

/* Switches the process default under the fixed-format callers: every
 * target gives the same bits, so their results must not change. */
static void* target_switcher(void* arg) {
  report* r = (report*)arg;
  int round;
  for (round = 0; round < LIFECYCLE_ROUNDS; ++round) {
    const bitnet_cpu_target t = g_targets[round % g_num_targets];
    ++r->calls;
    if (bitnet_cpu_set_target(t) != BITNET_OK) record_failure(r, "set target 0x%x", (unsigned)t);
    if (bitnet_cpu_get_target() == 0) record_failure(r, "no usable default target");
  }
  if (bitnet_cpu_set_target(BITNET_CPU_AUTO) != BITNET_OK) record_failure(r, "restore AUTO");
  return NULL;
}

int main(void) {
  enum { NUM_THREADS = NUM_WORKERS + 3 };
  pthread_t threads[NUM_THREADS];
  report reports[NUM_THREADS];
  long calls = 0;
  int i, j;
  g_num_targets = supported_targets(g_targets);
  make_inputs();
  if (!single_threaded_results()) return finish("test_threads");

  memset(reports, 0, sizeof(reports));
  for (i = 0; i < NUM_THREADS; ++i) {
    void* (*body)(void*) = i < NUM_WORKERS ? worker : i < NUM_WORKERS + 2 ? lifecycle
                                                                           : target_switcher;
    reports[i].id = i;
    check(pthread_create(&threads[i], NULL, body, &reports[i]) == 0, "pthread_create %d", i);
  }
  for (i = 0; i < NUM_THREADS; ++i) {
    check(pthread_join(threads[i], NULL) == 0, "pthread_join %d", i);
    check(reports[i].failures == 0, "thread %d: %ld failures, first: %s", i,
          reports[i].failures, reports[i].first_failure);
    calls += reports[i].calls;
  }
  /* The shared inputs and golden results were only read. */
  for (j = 0; j < NUM_JOBS; ++j) {
    uint8_t packed[INPUT_LEN / 4 + 1];
    float scales[INPUT_LEN / 32 + 1];
    const job* jb = &g_jobs[j];
    check(bitnet_quantize(jb->format, NULL, jb->input, jb->n, packed, sizeof(packed), scales,
                          INPUT_LEN / 32 + 1) == BITNET_OK &&
              first_byte_diff(packed, jb->packed, jb->packed_len) < 0,
          "job %d after the threads differs", j);
  }
  check(bitnet_cpu_get_target() != 0, "default target after the threads");
  printf("%d threads, %ld calls, %d targets\n", NUM_THREADS, calls, g_num_targets);
  for (j = 0; j < NUM_JOBS; ++j) {
    free(g_jobs[j].packed);
    free(g_jobs[j].scales);
    free(g_jobs[j].values);
    free(g_jobs[j].kernel_packed);
    free(g_jobs[j].kernel_scales);
  }
  return finish("test_threads");
}
