/* Forcing a CPU target is proven: every entry point, run with each
 * supported target forced (per call through options.cpu_target, per process
 * through bitnet_cpu_set_target), reports through bitnet_last_cpu_target()
 * that this target's own kernel ran, and AUTO reports the best target the
 * CPU supports (this test's own ranking) or the one BITNET_CPU_TARGET names.
 * A call that runs no kernel reports 0, a failing call changes nothing, and
 * the report belongs to the calling thread.
 * usage: test_cpu_target [TARGET named by BITNET_CPU_TARGET] */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bitnet_quant.h"
#include "fixed_entry_points.h"
#include "test_util.h"

enum { N = 300, M = 3, K = 5 };
static float g_x[N], g_scales[N], g_out[N], g_c[M * N];
static uint8_t g_packed[N], g_b[K * N];
static int8_t g_a[M * K];

/* One call of an entry point. `options_target` is what the call puts in
 * options.cpu_target; entry points without options run on the process
 * default. */
typedef struct entry {
  const char* name;
  int format;
  int takes_options;
  int (*call)(int format, bitnet_cpu_target options_target);
} entry;

static int general_quantize(int format, bitnet_cpu_target t) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.cpu_target = t;
  opt.device = BITNET_DEVICE_CPU;
  return bitnet_quantize(format, &opt, g_x, N, g_packed, N, g_scales, N);
}
static int general_dequantize(int format, bitnet_cpu_target t) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.cpu_target = t;
  opt.device = BITNET_DEVICE_CPU;
  return bitnet_dequantize(format, &opt, g_packed, (N + 3) / 4, g_scales,
                           (N + kDefaultBlock[format] - 1) / kDefaultBlock[format], g_out, N);
}
static int fixed_quantize(int format, bitnet_cpu_target t) {
  (void)t;
  return kFixedQuantize[format](g_x, N, g_packed, N, g_scales, N);
}
static int fixed_dequantize(int format, bitnet_cpu_target t) {
  (void)t;
  return kFixedDequantize[format](g_packed, (N + 3) / 4, g_scales,
                                  (N + kDefaultBlock[format] - 1) / kDefaultBlock[format], g_out,
                                  N);
}
static int cpp_quantize(int format, bitnet_cpu_target t) {
  (void)t;
  return bitnet_cpp_quantize(g_x, N, g_packed, N, g_scales, N, format);
}
static int cpp_matmul(int format, bitnet_cpu_target t) {
  (void)format, (void)t;
  return bitnet_cpp_matmul_i2s(g_a, g_b, g_c, M, N, K);
}

static const entry kEntries[] = {
    {"bitnet_quantize I2_S", 0, 1, general_quantize},
    {"bitnet_quantize TL1", 1, 1, general_quantize},
    {"bitnet_quantize TL2", 2, 1, general_quantize},
    {"bitnet_dequantize I2_S", 0, 1, general_dequantize},
    {"bitnet_dequantize TL1", 1, 1, general_dequantize},
    {"bitnet_dequantize TL2", 2, 1, general_dequantize},
    {"bitnet_quantize_i2s", 0, 0, fixed_quantize},
    {"bitnet_quantize_tl1", 1, 0, fixed_quantize},
    {"bitnet_quantize_tl2", 2, 0, fixed_quantize},
    {"bitnet_dequantize_i2s", 0, 0, fixed_dequantize},
    {"bitnet_dequantize_tl1", 1, 0, fixed_dequantize},
    {"bitnet_dequantize_tl2", 2, 0, fixed_dequantize},
    {"bitnet_cpp_quantize I2S", 0, 0, cpp_quantize},
    {"bitnet_cpp_quantize TL1", 1, 0, cpp_quantize},
    {"bitnet_cpp_quantize TL2", 2, 0, cpp_quantize},
    {"bitnet_cpp_matmul_i2s", 0, 0, cpp_matmul},
};
#define NUM_ENTRIES (sizeof(kEntries) / sizeof(kEntries[0]))

/* The best target first, as documented for AUTO; written here rather than
 * taken from the library, so that a wrong ranking there shows. */
static const bitnet_cpu_target kBestFirst[] = {
    BITNET_CPU_AVX3_DL, BITNET_CPU_AVX3, BITNET_CPU_AVX2,   BITNET_CPU_SSE4,
    BITNET_CPU_SSSE3,   BITNET_CPU_SVE2, BITNET_CPU_SVE,    BITNET_CPU_NEON,
    BITNET_CPU_EMU128,  BITNET_CPU_SCALAR, BITNET_CPU_REFERENCE};

static bitnet_cpu_target best_supported(void) {
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  size_t i;
  for (i = 0; i < sizeof(kBestFirst) / sizeof(kBestFirst[0]); ++i) {
    if (supported & kBestFirst[i]) return kBestFirst[i];
  }
  return 0;
}

/* Runs entry e so that `target` should run it: through options for the
 * entry points that take them (with the process default elsewhere, so that
 * ignoring options shows), else through the process default. */
static void run_on(const entry* e, bitnet_cpu_target target, bitnet_cpu_target elsewhere) {
  int status;
  check(bitnet_cpu_set_target(e->takes_options ? elsewhere : target) == BITNET_OK,
        "set target %s", bitnet_cpu_target_name(e->takes_options ? elsewhere : target));
  status = e->call(e->format, target);
  check(status == BITNET_OK, "%s [%s]: status %d", e->name, bitnet_cpu_target_name(target),
        status);
  check(bitnet_last_cpu_target() == target, "%s forced to %s: %s ran", e->name,
        bitnet_cpu_target_name(target), bitnet_cpu_target_name(bitnet_last_cpu_target()));
}

typedef struct thread_job {
  bitnet_cpu_target target;
  bitnet_cpu_target reported;
} thread_job;

static void* run_on_thread(void* arg) {
  thread_job* job = (thread_job*)arg;
  job->reported = 0xFFFFFFFFu;
  if (general_quantize(1, job->target) == BITNET_OK) job->reported = bitnet_last_cpu_target();
  return NULL;
}

int main(int argc, char** argv) {
  bitnet_cpu_target targets[32], expected_default = best_supported();
  const int num_targets = supported_targets(targets);
  size_t e, i;
  int t;
  if (argc == 2 && bitnet_cpu_target_from_name(argv[1], &expected_default) != BITNET_OK) {
    fprintf(stderr, "usage: %s [TARGET]\n", argv[0]);
    return 2;
  }
  for (i = 0; i < N; ++i) g_x[i] = (float)((int)(i * 7919 % 201) - 100) / 37.0f;
  for (i = 0; i < M * K; ++i) g_a[i] = (int8_t)(i * 37);
  for (i = 0; i < K * N; ++i) g_b[i] = (uint8_t)(i * 53);

  check(bitnet_last_cpu_target() == 0, "no call yet, but bitnet_last_cpu_target() is 0x%x",
        (unsigned)bitnet_last_cpu_target());
  /* Every entry point on every target; before each, a call on another
   * target, so that the report must change to pass. */
  for (t = 0; t < num_targets; ++t) {
    const bitnet_cpu_target other = targets[t] == BITNET_CPU_REFERENCE ? best_supported()
                                                                       : BITNET_CPU_REFERENCE;
    for (e = 0; e < NUM_ENTRIES; ++e) {
      run_on(&kEntries[e], other, targets[t]);
      run_on(&kEntries[e], targets[t], other);
    }
  }
  /* AUTO: the default, per process and in options. */
  check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  check(bitnet_cpu_get_target() == expected_default, "AUTO is %s, expected %s",
        bitnet_cpu_target_name(bitnet_cpu_get_target()), bitnet_cpu_target_name(expected_default));
  for (e = 0; e < NUM_ENTRIES; ++e) {
    const bitnet_cpu_target other = expected_default == BITNET_CPU_REFERENCE
                                        ? best_supported()
                                        : BITNET_CPU_REFERENCE;
    int status;
    run_on(&kEntries[e], other, BITNET_CPU_AUTO);
    check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
    status = kEntries[e].call(kEntries[e].format, BITNET_CPU_AUTO);
    check(status == BITNET_OK && bitnet_last_cpu_target() == expected_default,
          "%s with AUTO: status %d, %s ran, expected %s", kEntries[e].name, status,
          bitnet_cpu_target_name(bitnet_last_cpu_target()),
          bitnet_cpu_target_name(expected_default));
  }

  /* A call that runs no kernel reports 0; a failing call changes nothing. */
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_quantize_tl2(g_x, 0, NULL, 0, NULL, 0) == BITNET_OK && bitnet_last_cpu_target() == 0,
        "n == 0 reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_cpp_matmul_i2s(g_a, g_b, g_c, 0, N, K) == BITNET_OK && bitnet_last_cpu_target() == 0,
        "an empty matmul reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_quantize(7, NULL, g_x, N, g_packed, N, g_scales, N) == BITNET_E_INVALID_FORMAT &&
            bitnet_last_cpu_target() == BITNET_CPU_REFERENCE,
        "a failing call changed the report to %s",
        bitnet_cpu_target_name(bitnet_last_cpu_target()));

  /* Per thread: another thread's call leaves this thread's report alone. */
  {
    thread_job job;
    pthread_t thread;
    job.target = best_supported();
    pthread_create(&thread, NULL, run_on_thread, &job);
    pthread_join(thread, NULL);
    check(job.reported == job.target, "the thread ran %s, expected %s",
          bitnet_cpu_target_name(job.reported), bitnet_cpu_target_name(job.target));
    check(bitnet_last_cpu_target() == BITNET_CPU_REFERENCE,
          "another thread's call changed this thread's report to %s",
          bitnet_cpu_target_name(bitnet_last_cpu_target()));
  }
  check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == BITNET_OK, "restore AUTO");
  printf("%zu entry points x %d targets, AUTO = %s\n", NUM_ENTRIES, num_targets,
         bitnet_cpu_target_name(expected_default));
  return finish("test_cpu_target");
}
