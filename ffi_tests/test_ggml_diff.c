/* Differential test against the real ggml: mainline llama.cpp v0.5.0's
 * libggml-base.so from the npm prebuilt (tools/fetch_llama_prebuilt.sh),
 * loaded with dlopen. Every layout ggml defines is quantized and decoded by
 * both on random, adversarial (ties at +-d/2, NaN with payloads, signalling
 * NaN, +-Inf, -0.0, subnormals, all-zero, tiny and huge blocks) and
 * real-shaped inputs, and arbitrary bytes are decoded by both, on every CPU
 * target: the bytes and the values must be the same bits.
 * Usage: test_ggml_diff LLAMA_LIB_DIR. Without the prebuilt it is skipped
 * (exit 77), except under CI=true, where that is a failure. */
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* What this test calls in libggml-base.so, declared here in our words:
 * quantize_row_X_ref(const float* x, void* blocks, int64_t n) and
 * dequantize_row_X(const void* blocks, float* y, int64_t n). */
typedef void (*ggml_quantize_fn)(const float*, void*, int64_t);
typedef void (*ggml_dequantize_fn)(const void*, float*, int64_t);
typedef void (*ggml_to_f32_fn)(const uint16_t*, float*, int64_t);
typedef void (*ggml_from_f32_fn)(const float*, uint16_t*, int64_t);

struct ggml_layout {
  bitnet_type type;
  const char* quantize; /* NULL: decode only */
  const char* dequantize;
  int64_t block;
  size_t block_bytes;
  size_t scale_offset; /* f16 or f32 scale within the block */
  int scale_is_f32;
  ggml_quantize_fn q;
  ggml_dequantize_fn dq;
};

static struct ggml_layout kLayouts[] = {
    {BITNET_TYPE_TQ1_0, "quantize_row_tq1_0_ref", "dequantize_row_tq1_0", 256, 54, 52, 0, 0, 0},
    {BITNET_TYPE_TQ2_0, "quantize_row_tq2_0_ref", "dequantize_row_tq2_0", 256, 66, 64, 0, 0, 0},
    {BITNET_TYPE_Q2_0, "quantize_row_q2_0_ref", "dequantize_row_q2_0", 64, 18, 0, 0, 0, 0},
    {BITNET_TYPE_Q8_0, "quantize_row_q8_0_ref", "dequantize_row_q8_0", 32, 34, 0, 0, 0, 0},
    {BITNET_TYPE_Q8_K, "quantize_row_q8_K_ref", "dequantize_row_q8_K", 256, 292, 0, 1, 0, 0},
    {BITNET_TYPE_IQ2_S, NULL, "dequantize_row_iq2_s", 256, 82, 0, 0, 0, 0},
};
#define NUM_LAYOUTS (sizeof(kLayouts) / sizeof(kLayouts[0]))

static ggml_to_f32_fn g_fp16_to_fp32, g_bf16_to_fp32;
static ggml_from_f32_fn g_fp32_to_fp16, g_fp32_to_bf16;

/* Index of the first float whose bits differ (NaNs included), or -1. */
static long first_bits_diff(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (memcmp(a + i, b + i, sizeof(float)) != 0) return (long)i;
  }
  return -1;
}

static void fill_kind(int kind, float* x, size_t n, size_t block, uint64_t seed) {
  uint64_t s = seed;
  if (kind == 0) {
    for (size_t i = 0; i < n; ++i) x[i] = (float)rng_normal(&s) * 0.02f;
  } else if (kind == 1) {
    for (size_t i = 0; i < n; ++i) x[i] = (float)(rng_uniform(&s) * 2 - 1);
  } else {
    fill_block_adversarial(x, n, block, seed);
  }
}

static int load(const char* dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/libggml-base.so", dir);
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
    return 0;
  }
  for (size_t i = 0; i < NUM_LAYOUTS; ++i) {
    if (kLayouts[i].quantize) *(void**)&kLayouts[i].q = dlsym(lib, kLayouts[i].quantize);
    *(void**)&kLayouts[i].dq = dlsym(lib, kLayouts[i].dequantize);
    if ((kLayouts[i].quantize && !kLayouts[i].q) || !kLayouts[i].dq) {
      fprintf(stderr, "%s lacks %s / %s\n", path, kLayouts[i].quantize, kLayouts[i].dequantize);
      return 0;
    }
  }
  *(void**)&g_fp16_to_fp32 = dlsym(lib, "ggml_fp16_to_fp32_row");
  *(void**)&g_bf16_to_fp32 = dlsym(lib, "ggml_bf16_to_fp32_row");
  *(void**)&g_fp32_to_fp16 = dlsym(lib, "ggml_fp32_to_fp16_row");
  *(void**)&g_fp32_to_bf16 = dlsym(lib, "ggml_fp32_to_bf16_row_ref");
  return g_fp16_to_fp32 && g_bf16_to_fp32 && g_fp32_to_fp16 && g_fp32_to_bf16;
}

static bitnet_tensor_options on_target(bitnet_cpu_target target, int threads) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = target;
  o.n_threads = threads;
  return o;
}

/* One layout, one input: quantize and decode through both, compare bits. */
static void compare(const struct ggml_layout* l, bitnet_cpu_target target, int threads,
                    const float* x, int64_t rows, int64_t cols, const char* what) {
  const size_t n = (size_t)(rows * cols);
  const size_t bytes = n / (size_t)l->block * l->block_bytes;
  uint8_t* ours = malloc(bytes + 1);
  uint8_t* theirs = malloc(bytes + 1);
  float* y_ours = malloc(n * sizeof(float) + 1);
  float* y_theirs = malloc(n * sizeof(float) + 1);
  bitnet_tensor_options o = on_target(target, threads);
  const char* name = bitnet_type_name(l->type);
  const char* tname = bitnet_cpu_target_name(target);
  if (l->q != NULL) {
    memset(theirs, 0, bytes);
    l->q(x, theirs, (int64_t)n);
    const int status = bitnet_tensor_quantize(l->type, &o, BITNET_TYPE_F32, x, rows, cols, ours, bytes);
    check(status == BITNET_OK, "%s %s quantize (%s): status %d %s", name, what, tname, status,
          bitnet_last_error());
    const long at = first_byte_diff(ours, theirs, bytes);
    check(at < 0, "%s %s (%s, %d threads): byte %ld (block %ld) is 0x%02x, ggml 0x%02x", name,
          what, tname, threads, at, at / (long)l->block_bytes, at < 0 ? 0 : ours[at],
          at < 0 ? 0 : theirs[at]);
  } else {
    uint64_t s = (uint64_t)rows * 7919 + (uint64_t)cols;
    for (size_t i = 0; i < bytes; ++i) theirs[i] = (uint8_t)rng_next(&s);
  }
  /* Decode ggml's own bytes with both. */
  l->dq(theirs, y_theirs, (int64_t)n);
  const int status = bitnet_tensor_dequantize(l->type, &o, theirs, bytes, rows, cols,
                                              BITNET_TYPE_F32, y_ours, n * sizeof(float));
  check(status == BITNET_OK, "%s %s dequantize: status %d", name, what, status);
  const long at = first_bits_diff(y_ours, y_theirs, n);
  check(memcmp(y_ours, y_theirs, n * sizeof(float)) == 0,
        "%s %s (%s): value %ld is %a, ggml %a (bits differ)", name, what, tname, at,
        at < 0 ? 0.0 : (double)y_ours[at], at < 0 ? 0.0 : (double)y_theirs[at]);
  free(ours);
  free(theirs);
  free(y_ours);
  free(y_theirs);
}

/* Arbitrary bytes, with the scales made every kind of f16/f32 (NaN,
 * +-Inf, subnormal, 0): both decoders must agree on every one. */
static void compare_random_bytes(const struct ggml_layout* l, bitnet_cpu_target target,
                                 uint64_t seed) {
  const int64_t rows = 3, cols = l->block * 5;
  const size_t n = (size_t)(rows * cols), blocks = n / (size_t)l->block;
  const size_t bytes = blocks * l->block_bytes;
  uint8_t* in = malloc(bytes);
  float* a = malloc(n * sizeof(float));
  float* b = malloc(n * sizeof(float));
  uint64_t s = seed;
  for (size_t i = 0; i < bytes; ++i) in[i] = (uint8_t)rng_next(&s);
  static const uint16_t kHalves[] = {0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55, 0x0001, 0x8000, 0x0000, 0x3C00, 0x7BFF};
  static const uint32_t kFloats[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u, 0x00000001u, 0x80000000u, 0x3F800000u};
  for (size_t blk = 0; blk < blocks; ++blk) {
    uint8_t* p = in + blk * l->block_bytes + l->scale_offset;
    if (l->scale_is_f32) {
      memcpy(p, &kFloats[blk % (sizeof kFloats / 4)], 4);
    } else if (blk % 2 == 0) {
      memcpy(p, &kHalves[(blk / 2) % (sizeof kHalves / 2)], 2);
    }
  }
  l->dq(in, b, (int64_t)n);
  bitnet_tensor_options o = on_target(target, 1);
  const int status = bitnet_tensor_dequantize(l->type, &o, in, bytes, rows, cols, BITNET_TYPE_F32,
                                              a, n * sizeof(float));
  check(status == BITNET_OK && memcmp(a, b, n * sizeof(float)) == 0,
        "%s random bytes (%s): decoded values differ from ggml's (first at %ld)",
        bitnet_type_name(l->type), bitnet_cpu_target_name(target), first_bits_diff(a, b, n));
  free(in);
  free(a);
  free(b);
}

/* F16/BF16 <-> F32 against ggml's conversions: every 16-bit pattern, and
 * f32 specials and random bits. */
static void compare_conversions(bitnet_cpu_target target) {
  const size_t n = 65536;
  uint16_t* h = malloc(n * 2);
  uint16_t* h2 = malloc(n * 2);
  float* a = malloc(n * 4);
  float* b = malloc(n * 4);
  bitnet_tensor_options o = on_target(target, 1);
  for (size_t i = 0; i < n; ++i) h[i] = (uint16_t)i;
  const bitnet_type types[2] = {BITNET_TYPE_F16, BITNET_TYPE_BF16};
  const ggml_to_f32_fn to[2] = {g_fp16_to_fp32, g_bf16_to_fp32};
  const ggml_from_f32_fn from[2] = {g_fp32_to_fp16, g_fp32_to_bf16};
  for (int t = 0; t < 2; ++t) {
    to[t](h, b, (int64_t)n);
    check(bitnet_tensor_dequantize(types[t], &o, h, n * 2, 256, 256, BITNET_TYPE_F32, a, n * 4) ==
                  BITNET_OK && memcmp(a, b, n * 4) == 0,
          "%s -> F32 (%s) differs from ggml at %ld", bitnet_type_name(types[t]),
          bitnet_cpu_target_name(target), first_bits_diff(a, b, n));
    fill_half_edges(a, n, 99);
    from[t](a, h2, (int64_t)n);
    check(bitnet_tensor_quantize(types[t], &o, BITNET_TYPE_F32, a, 256, 256, h, n * 2) == BITNET_OK &&
              memcmp(h, h2, n * 2) == 0,
          "F32 -> %s (%s) differs from ggml at %ld", bitnet_type_name(types[t]),
          bitnet_cpu_target_name(target), first_byte_diff((uint8_t*)h, (uint8_t*)h2, n * 2) / 2);
    for (size_t i = 0; i < n; ++i) h[i] = (uint16_t)i;
  }
  free(h);
  free(h2);
  free(a);
  free(b);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LLAMA_LIB_DIR\n", argv[0]);
    return 2;
  }
  if (!load(argv[1])) {
    const char* ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0) {
      fprintf(stderr, "FAIL: CI=true and the llama.cpp prebuilt is missing (tools/fetch_llama_prebuilt.sh)\n");
      return 1;
    }
    printf("SKIPPED: no llama.cpp prebuilt in %s (run tools/fetch_llama_prebuilt.sh)\n", argv[1]);
    return 77;
  }
  bitnet_cpu_target targets[32];
  const int count = supported_targets(targets);
  const int64_t shapes[][2] = {{1, 256}, {3, 512}, {4, 2560}, {2, 6912}, {5, 768}};
  for (int t = 0; t < count; ++t) {
    compare_conversions(targets[t]);
    for (size_t li = 0; li < NUM_LAYOUTS; ++li) {
      const struct ggml_layout* l = &kLayouts[li];
      for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
        const int64_t rows = shapes[si][0], cols = shapes[si][1];
        float* x = malloc((size_t)(rows * cols) * sizeof(float));
        for (int kind = 0; kind < 3; ++kind) {
          fill_kind(kind, x, (size_t)(rows * cols), (size_t)l->block, (uint64_t)(si * 31 + kind + 7 * li));
          char what[64];
          snprintf(what, sizeof what, "%lldx%lld %s", (long long)rows, (long long)cols,
                   kind == 0 ? "llm" : kind == 1 ? "uniform" : "adversarial");
          compare(l, targets[t], 1 + (kind == 1), x, rows, cols, what);
        }
        free(x);
      }
      compare_random_bytes(l, targets[t], 1234 + li);
    }
  }
  /* Real shapes of BitNet 2B-4T on the best target, 2 threads. */
  const int64_t real[][2] = {{640, 2560}, {256, 6912}};
  for (size_t r = 0; r < 2; ++r) {
    const size_t n = (size_t)(real[r][0] * real[r][1]);
    float* x = malloc(n * sizeof(float));
    fill_kind(0, x, n, 256, 4242 + r);
    for (size_t li = 0; li < 3; ++li) compare(&kLayouts[li], targets[count - 1], 2, x, real[r][0], real[r][1], "2B-4T shape");
    free(x);
  }
  return finish("ggml_diff");
}
