/* Forcing a CPU target is proven: every entry point (the BitNet-rs family,
 * the tensor layouts, the ternary products), run with each supported target
 * forced (per call through options.cpu_target, per process through
 * bitnet_cpu_set_target), reports through bitnet_last_cpu_target() that
 * this target's own kernel ran (the products on SCALAR and SVE run the
 * reference, as documented, and say so), and AUTO reports the best target
 * the CPU supports (this test's own ranking) or the one BITNET_CPU_TARGET
 * names. The tensor and product calls split their work over threads, whose
 * kernels' reports reach the caller. A call that runs no kernel reports 0, a
 * failing call changes nothing, and the report belongs to the calling
 * thread.
 * usage: test_cpu_target [TARGET named by BITNET_CPU_TARGET] */
#include <math.h>
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

/* The tensor and product calls: a ROWS x COLS weight tensor in each layout
 * (written by the reference in main), BATCH tokens of activations, on
 * THREADS threads. */
enum { ROWS = 16, COLS = 256, BATCH = 3, THREADS = 3,
       TENSOR_BYTES = ROWS * COLS * 4 /* the largest: F32 */ };
static float g_w[ROWS * COLS], g_xt[BATCH * COLS], g_y[BATCH * ROWS], g_alphas[ROWS];
static uint8_t g_dst[TENSOR_BYTES], g_i2s[TENSOR_BYTES], g_tq2[TENSOR_BYTES],
    g_q8k[TENSOR_BYTES];
static size_t g_i2s_len, g_tq2_len, g_q8k_len;
static int8_t g_codes[ROWS * COLS], g_q[BATCH * COLS];
static float g_q_scales[BATCH];
static int32_t g_q_sums[BATCH];

/* One call of an entry point. `options_target` is what the call puts in
 * options.cpu_target; entry points without options run on the process
 * default. `type` is the bitnet_format or bitnet_type the call takes. */
typedef struct entry {
  const char* name;
  int type;
  int takes_options;
  int (*call)(int type, bitnet_cpu_target options_target);
  int product; /* a ternary product: SCALAR and SVE run the reference */
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

static bitnet_tensor_options tensor_options(bitnet_cpu_target t) {
  bitnet_tensor_options opt = BITNET_TENSOR_OPTIONS_INIT;
  opt.cpu_target = t;
  opt.n_threads = THREADS;
  return opt;
}
static bitnet_gemm_options gemm_options(bitnet_cpu_target t) {
  bitnet_gemm_options opt = BITNET_GEMM_OPTIONS_INIT;
  opt.cpu_target = t;
  opt.n_threads = THREADS;
  return opt;
}
static int tensor_quantize(int type, bitnet_cpu_target t) {
  const bitnet_tensor_options opt = tensor_options(t);
  return bitnet_tensor_quantize(type, &opt, BITNET_TYPE_F32, g_w, ROWS, COLS, g_dst, TENSOR_BYTES);
}
static int tensor_quantize_absmean(int type, bitnet_cpu_target t) {
  bitnet_tensor_options opt = tensor_options(t);
  opt.ternarize = BITNET_TERNARIZE_ABSMEAN;
  opt.group_size = -1;
  return bitnet_tensor_quantize(type, &opt, BITNET_TYPE_F32, g_w, ROWS, COLS, g_dst, TENSOR_BYTES);
}
static int tensor_dequantize(int type, bitnet_cpu_target t) {
  const bitnet_tensor_options opt = tensor_options(t);
  const int i2s = type == BITNET_TYPE_I2_S;
  /* I2_S to F16, TQ2_0 to F32: the block decoders and the I2_S one. */
  return bitnet_tensor_dequantize(type, &opt, i2s ? g_i2s : g_tq2, i2s ? g_i2s_len : g_tq2_len,
                                  ROWS, COLS, i2s ? BITNET_TYPE_F16 : BITNET_TYPE_F32, g_dst,
                                  TENSOR_BYTES);
}
static int tensor_transcode(int type, bitnet_cpu_target t) {
  const bitnet_tensor_options opt = tensor_options(t);
  return bitnet_tensor_transcode(type, &opt, BITNET_TYPE_TQ2_0, g_tq2, g_tq2_len, ROWS, COLS,
                                 g_dst, TENSOR_BYTES);
}
/* I2_S to TQ2_0: code bytes re-packed byte by byte; I2_S to TQ1_0: the
 * fused code-to-code kernel. */
static int tensor_repack(int type, bitnet_cpu_target t) {
  bitnet_tensor_options opt = tensor_options(t);
  opt.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
  return bitnet_tensor_transcode(type, &opt, BITNET_TYPE_I2_S, g_i2s, g_i2s_len, ROWS, COLS, g_dst, TENSOR_BYTES);
}
static int ternarize(int type, bitnet_cpu_target t) {
  bitnet_tensor_options opt = tensor_options(t);
  opt.group_size = -1;
  return bitnet_ternarize(&opt, type, g_w, ROWS, COLS, g_codes, ROWS * COLS, g_alphas, ROWS);
}
static int quantize_i8s(int type, bitnet_cpu_target t) {
  const bitnet_tensor_options opt = tensor_options(t);
  return bitnet_quantize_i8s(&opt, type, g_xt, BATCH, COLS, g_q, BATCH * COLS, g_q_scales, BATCH,
                             g_q_sums, BATCH);
}
static int gemm(int type, bitnet_cpu_target t) {
  const bitnet_gemm_options opt = gemm_options(t);
  const int i2s = type == BITNET_TYPE_I2_S;
  return bitnet_gemm(type, i2s ? g_i2s : g_tq2, i2s ? g_i2s_len : g_tq2_len, ROWS, COLS, g_xt,
                     BATCH, g_y, &opt);
}
static int gemm_i8s(int type, bitnet_cpu_target t) {
  const bitnet_gemm_options opt = gemm_options(t);
  (void)type;
  return bitnet_gemm_i8s(g_i2s, g_i2s_len, ROWS, COLS, g_q, g_q_scales, g_q_sums, BATCH, g_y,
                         &opt);
}
static int gemm_blocks(int type, bitnet_cpu_target t) {
  const bitnet_gemm_options opt = gemm_options(t);
  return bitnet_gemm_blocks(type, g_tq2, g_tq2_len, ROWS, COLS, g_q8k, g_q8k_len, BATCH, g_y,
                            &opt);
}

static const entry kEntries[] = {
    {"bitnet_quantize I2_S", 0, 1, general_quantize, 0},
    {"bitnet_quantize TL1", 1, 1, general_quantize, 0},
    {"bitnet_quantize TL2", 2, 1, general_quantize, 0},
    {"bitnet_dequantize I2_S", 0, 1, general_dequantize, 0},
    {"bitnet_dequantize TL1", 1, 1, general_dequantize, 0},
    {"bitnet_dequantize TL2", 2, 1, general_dequantize, 0},
    {"bitnet_quantize_i2s", 0, 0, fixed_quantize, 0},
    {"bitnet_quantize_tl1", 1, 0, fixed_quantize, 0},
    {"bitnet_quantize_tl2", 2, 0, fixed_quantize, 0},
    {"bitnet_dequantize_i2s", 0, 0, fixed_dequantize, 0},
    {"bitnet_dequantize_tl1", 1, 0, fixed_dequantize, 0},
    {"bitnet_dequantize_tl2", 2, 0, fixed_dequantize, 0},
    {"bitnet_cpp_quantize I2S", 0, 0, cpp_quantize, 0},
    {"bitnet_cpp_quantize TL1", 1, 0, cpp_quantize, 0},
    {"bitnet_cpp_quantize TL2", 2, 0, cpp_quantize, 0},
    {"bitnet_cpp_matmul_i2s", 0, 0, cpp_matmul, 0},
    {"bitnet_tensor_quantize TQ2_0", BITNET_TYPE_TQ2_0, 1, tensor_quantize, 0},
    {"bitnet_tensor_quantize Q8_K", BITNET_TYPE_Q8_K, 1, tensor_quantize, 0},
    {"bitnet_tensor_quantize I2_S", BITNET_TYPE_I2_S, 1, tensor_quantize, 0},
    {"bitnet_tensor_quantize TQ1_0 absmean", BITNET_TYPE_TQ1_0, 1, tensor_quantize_absmean, 0},
    {"bitnet_tensor_dequantize TQ2_0", BITNET_TYPE_TQ2_0, 1, tensor_dequantize, 0},
    {"bitnet_tensor_dequantize I2_S", BITNET_TYPE_I2_S, 1, tensor_dequantize, 0},
    {"bitnet_tensor_transcode TQ2_0 to TQ1_0", BITNET_TYPE_TQ1_0, 1, tensor_transcode, 0},
    {"bitnet_tensor_transcode I2_S to TQ2_0", BITNET_TYPE_TQ2_0, 1, tensor_repack, 0},
    {"bitnet_tensor_transcode I2_S to TQ1_0", BITNET_TYPE_TQ1_0, 1, tensor_repack, 0},
    {"bitnet_ternarize", BITNET_TYPE_F32, 1, ternarize, 0},
    {"bitnet_quantize_i8s", BITNET_TYPE_F32, 1, quantize_i8s, 0},
    {"bitnet_gemm I2_S", BITNET_TYPE_I2_S, 1, gemm, 1},
    {"bitnet_gemm TQ2_0", BITNET_TYPE_TQ2_0, 1, gemm, 1},
    {"bitnet_gemm_i8s", BITNET_TYPE_I2_S, 1, gemm_i8s, 1},
    {"bitnet_gemm_blocks TQ2_0", BITNET_TYPE_TQ2_0, 1, gemm_blocks, 1},
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

/* The target that runs entry e when `target` is forced: the products have
 * no kernels of their own on SCALAR and SVE (README: one-lane and sizeless
 * vectors cannot form their tiles) and run the reference there. */
static bitnet_cpu_target expected_target(const entry* e, bitnet_cpu_target target) {
  const int reference_products = target == BITNET_CPU_SCALAR || target == BITNET_CPU_SVE ||
                                 target == BITNET_CPU_SVE2;
  return e->product && reference_products ? BITNET_CPU_REFERENCE : target;
}

/* Runs entry e so that `target` should run it: through options for the
 * entry points that take them (with the process default elsewhere, so that
 * ignoring options shows), else through the process default. */
static void run_on(const entry* e, bitnet_cpu_target target, bitnet_cpu_target elsewhere) {
  int status;
  check(bitnet_cpu_set_target(e->takes_options ? elsewhere : target) == BITNET_OK,
        "set target %s", bitnet_cpu_target_name(e->takes_options ? elsewhere : target));
  status = e->call(e->type, target);
  check(status == BITNET_OK, "%s [%s]: status %d", e->name, bitnet_cpu_target_name(target),
        status);
  check(bitnet_last_cpu_target() == expected_target(e, target), "%s forced to %s: %s ran",
        e->name, bitnet_cpu_target_name(target),
        bitnet_cpu_target_name(bitnet_last_cpu_target()));
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
  /* The tensors the tensor and product calls read, by the reference. */
  for (i = 0; i < ROWS * COLS; ++i) g_w[i] = (float)((int)(i * 7919 % 201) - 100) / 37.0f;
  for (i = 0; i < BATCH * COLS; ++i) g_xt[i] = (float)((int)(i * 104729 % 255) - 127) / 19.0f;
  {
    const bitnet_tensor_options ref = tensor_options(BITNET_CPU_REFERENCE);
    expect_status(bitnet_tensor_size(BITNET_TYPE_I2_S, ROWS, COLS, &g_i2s_len), BITNET_OK,
                  "I2_S size");
    expect_status(bitnet_tensor_size(BITNET_TYPE_TQ2_0, ROWS, COLS, &g_tq2_len), BITNET_OK,
                  "TQ2_0 size");
    expect_status(bitnet_tensor_size(BITNET_TYPE_Q8_K, BATCH, COLS, &g_q8k_len), BITNET_OK,
                  "Q8_K size");
    expect_status(bitnet_tensor_quantize(BITNET_TYPE_I2_S, &ref, BITNET_TYPE_F32, g_w, ROWS, COLS,
                                         g_i2s, TENSOR_BYTES),
                  BITNET_OK, "I2_S weights");
    expect_status(bitnet_tensor_quantize(BITNET_TYPE_TQ2_0, &ref, BITNET_TYPE_F32, g_w, ROWS,
                                         COLS, g_tq2, TENSOR_BYTES),
                  BITNET_OK, "TQ2_0 weights");
    expect_status(bitnet_tensor_quantize(BITNET_TYPE_Q8_K, &ref, BITNET_TYPE_F32, g_xt, BATCH,
                                         COLS, g_q8k, TENSOR_BYTES),
                  BITNET_OK, "Q8_K activations");
    expect_status(quantize_i8s(BITNET_TYPE_F32, BITNET_CPU_REFERENCE), BITNET_OK,
                  "I8_S activations");
  }
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
    status = kEntries[e].call(kEntries[e].type, BITNET_CPU_AUTO);
    check(status == BITNET_OK &&
              bitnet_last_cpu_target() == expected_target(&kEntries[e], expected_default),
          "%s with AUTO: status %d, %s ran, expected %s", kEntries[e].name, status,
          bitnet_cpu_target_name(bitnet_last_cpu_target()),
          bitnet_cpu_target_name(expected_target(&kEntries[e], expected_default)));
  }

  /* A call that runs no kernel reports 0; a failing call changes nothing. */
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_quantize_tl2(g_x, 0, NULL, 0, NULL, 0) == BITNET_OK && bitnet_last_cpu_target() == 0,
        "n == 0 reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_cpp_matmul_i2s(g_a, g_b, g_c, 0, N, K) == BITNET_OK && bitnet_last_cpu_target() == 0,
        "an empty matmul reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, g_w, 0, COLS, g_dst,
                               TENSOR_BYTES) == BITNET_OK &&
            bitnet_last_cpu_target() == 0,
        "an empty tensor reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_gemm(BITNET_TYPE_TQ2_0, g_tq2, g_tq2_len, ROWS, COLS, g_xt, 0, g_y, NULL) ==
                BITNET_OK &&
            bitnet_last_cpu_target() == 0,
        "an empty product reports %s", bitnet_cpu_target_name(bitnet_last_cpu_target()));
  run_on(&kEntries[0], BITNET_CPU_REFERENCE, BITNET_CPU_AUTO);
  check(bitnet_quantize(7, NULL, g_x, N, g_packed, N, g_scales, N) == BITNET_E_INVALID_FORMAT &&
            bitnet_last_cpu_target() == BITNET_CPU_REFERENCE,
        "a failing call changed the report to %s",
        bitnet_cpu_target_name(bitnet_last_cpu_target()));
  /* A call that fails after its kernels ran (a NaN found by the absmean
   * scan) leaves the report as it was too. */
  g_w[5] = NAN;
  check(ternarize(BITNET_TYPE_F32, best_supported()) == BITNET_E_INVALID_DATA &&
            bitnet_last_cpu_target() == BITNET_CPU_REFERENCE,
        "a call failing in its kernels changed the report to %s",
        bitnet_cpu_target_name(bitnet_last_cpu_target()));
  g_w[5] = 0.0f;

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
