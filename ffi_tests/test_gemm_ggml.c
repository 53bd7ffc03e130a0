/* The ternary products against the real ggml: mainline llama.cpp v0.5.0's
 * CPU backend from the npm prebuilt (tools/fetch_llama_prebuilt.sh), loaded
 * with dlopen. Its baseline x86-64 variant (libggml-cpu-x64.so, no FMA, every
 * float operation rounded as the C source writes it) defines the contract:
 *  - its type traits pair TQ1_0 and TQ2_0 with Q8_K, Q2_0 with Q8_0;
 *  - for random shapes, weights quantized by ggml or arbitrary bytes (every
 *    code, every f16 scale), and activations quantized by ggml from random
 *    and adversarial floats (all at the maximum, alternating signs, zeros,
 *    one huge outlier) or arbitrary Q8_K / Q8_0 bytes (q = -128, any scale),
 *    bitnet_gemm_blocks and bitnet_gemm give, on every CPU target and with
 *    1 and 2 threads, the bits of ggml_vec_dot_{tq1_0,tq2_0}_q8_K_generic
 *    and ggml_vec_dot_q2_0_q8_0 (any NaN equal to any NaN).
 * It also reports (without failing) how often the variant ggml picks for
 * this CPU differs in its own dots: its AVX2 TQ dots sum in another order,
 * and its builds for FMA CPUs fuse the generic dots' block step.
 * Usage: test_gemm_ggml LLAMA_LIB_DIR. Without the prebuilt it is skipped
 * (exit 77), except under CI=true, where that is a failure. */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* What this test calls in ggml, declared here in our words. */
typedef void (*vec_dot_fn)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y,
                           size_t by, int nrc);
typedef void (*quantize_fn)(const float* x, void* y, int64_t n);
typedef void (*init_fn)(void);
/* ggml_get_type_traits_cpu's struct: from_float, vec_dot, vec_dot_type, nrows. */
struct traits_cpu {
  void* from_float;
  void* vec_dot;
  int vec_dot_type;
  int64_t nrows;
};
typedef const struct traits_cpu* (*traits_fn)(int type);

struct ggml_cpu {
  void* lib;
  vec_dot_fn dot_tq1_0, dot_tq2_0, dot_q2_0;         /* the generic dots */
  vec_dot_fn simd_tq1_0, simd_tq2_0;                 /* the variant's own */
  quantize_fn q8_K, q8_0;                            /* activation quantizers */
  traits_fn traits;
};

static quantize_fn g_quantize[3]; /* quantize_row_{tq1_0,tq2_0,q2_0}_ref (weights) */

static void* sym(void* lib, const char* name, int* ok) {
  void* p = dlsym(lib, name);
  if (p == NULL) {
    fprintf(stderr, "missing %s\n", name);
    *ok = 0;
  }
  return p;
}

static int load_variant(const char* dir, const char* variant, struct ggml_cpu* g) {
  char path[4096];
  snprintf(path, sizeof path, "%s/libggml-cpu-%s.so", dir, variant);
  g->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (g->lib == NULL) {
    fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
    return 0;
  }
  int ok = 1;
  /* ggml's loader score: 0 when this CPU cannot run the variant. */
  int (*score)(void);
  *(void**)&score = sym(g->lib, "ggml_backend_score", &ok);
  if (!ok || score() == 0) return 0;
  *(void**)&g->dot_tq1_0 = sym(g->lib, "ggml_vec_dot_tq1_0_q8_K_generic", &ok);
  *(void**)&g->dot_tq2_0 = sym(g->lib, "ggml_vec_dot_tq2_0_q8_K_generic", &ok);
  /* Q2_0 has no SIMD dot on x86: this is its generic one. */
  *(void**)&g->dot_q2_0 = sym(g->lib, "ggml_vec_dot_q2_0_q8_0", &ok);
  *(void**)&g->simd_tq1_0 = sym(g->lib, "ggml_vec_dot_tq1_0_q8_K", &ok);
  *(void**)&g->simd_tq2_0 = sym(g->lib, "ggml_vec_dot_tq2_0_q8_K", &ok);
  *(void**)&g->q8_K = sym(g->lib, "quantize_row_q8_K", &ok);
  *(void**)&g->traits = sym(g->lib, "ggml_get_type_traits_cpu", &ok);
  init_fn init;
  *(void**)&init = sym(g->lib, "ggml_cpu_init", &ok);
  if (!ok) return 0;
  init(); /* fills the fp16 table the dots read */
  return 1;
}

static int load_base(const char* dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/libggml-base.so", dir);
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
    return 0;
  }
  int ok = 1;
  *(void**)&g_quantize[0] = sym(lib, "quantize_row_tq1_0_ref", &ok);
  *(void**)&g_quantize[1] = sym(lib, "quantize_row_tq2_0_ref", &ok);
  *(void**)&g_quantize[2] = sym(lib, "quantize_row_q2_0_ref", &ok);
  return ok;
}

/* The three layouts: weight type, its block, ggml ids of it and its partner. */
struct layout {
  bitnet_type type;
  int64_t block;
  size_t block_bytes;
  int act_ggml_type; /* GGML_TYPE_Q8_K = 15, GGML_TYPE_Q8_0 = 8 */
  size_t act_block, act_block_bytes;
};
static const struct layout kLayouts[3] = {
    {BITNET_TYPE_TQ1_0, 256, 54, 15, 256, 292},
    {BITNET_TYPE_TQ2_0, 256, 66, 15, 256, 292},
    {BITNET_TYPE_Q2_0, 64, 18, 8, 32, 34},
};

static vec_dot_fn generic_dot(const struct ggml_cpu* g, int li) {
  return li == 0 ? g->dot_tq1_0 : li == 1 ? g->dot_tq2_0 : g->dot_q2_0;
}

enum acts { A_GAUSS, A_MAX, A_ALTERNATE, A_ZERO, A_OUTLIER, A_BYTES, NUM_ACTS };
static const char* const kActNames[NUM_ACTS] = {"gauss", "all-max", "alternating", "zeros",
                                                "outlier", "arbitrary bytes"};

static int same_bits(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, 4) == 0; }

static void compare(const struct ggml_cpu* g, quantize_fn q8_0, int li, int64_t rows, int64_t cols,
                    int64_t batch, int arbitrary_weights, enum acts ak, uint64_t seed,
                    const bitnet_cpu_target* targets, int num_targets) {
  const struct layout* l = &kLayouts[li];
  const size_t w_len = (size_t)(rows * cols / l->block) * l->block_bytes;
  const size_t row_bytes = (size_t)(cols / l->block) * l->block_bytes;
  const size_t act_row = (size_t)cols / l->act_block * l->act_block_bytes;
  uint8_t* w = malloc(w_len + 1);
  uint8_t* xq = malloc((size_t)batch * act_row + 1);
  float* x = malloc((size_t)(batch * cols) * sizeof(float) + 1);
  float* want = malloc((size_t)(batch * rows) * sizeof(float));
  float* got = malloc((size_t)(batch * rows) * sizeof(float));
  uint64_t s = seed;
  if (arbitrary_weights) {
    for (size_t i = 0; i < w_len; ++i) w[i] = (uint8_t)rng_next(&s);
  } else {
    float* wf = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; ++i) wf[i] = (float)rng_normal(&s) * 0.02f;
    g_quantize[li](wf, w, rows * cols);
    free(wf);
  }
  for (int64_t i = 0; i < batch * cols; ++i) {
    switch (ak) {
      case A_MAX: x[i] = 3.0f; break;
      case A_ALTERNATE: x[i] = (i % 2) ? -2.5f : 2.5f; break;
      case A_ZERO: x[i] = 0.0f; break;
      case A_OUTLIER: x[i] = i % cols == cols / 2 ? 3e30f : (float)rng_normal(&s); break;
      default: x[i] = (float)rng_normal(&s); break;
    }
  }
  for (int64_t b = 0; b < batch; ++b) {
    uint8_t* row = xq + (size_t)b * act_row;
    if (ak == A_BYTES) {
      for (size_t i = 0; i < act_row; ++i) row[i] = (uint8_t)rng_next(&s);
    } else if (l->act_ggml_type == 15) {
      g->q8_K(x + b * cols, row, cols);
    } else {
      q8_0(x + b * cols, row, cols);
    }
  }
  /* ggml, one dot per (row, token). */
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      generic_dot(g, li)((int)cols, &want[b * rows + r], 0, w + (size_t)r * row_bytes, 0,
                         xq + (size_t)b * act_row, 0, 1);
    }
  }
  for (int t = 0; t < num_targets; ++t) {
    for (int threads = 1; threads <= 2; ++threads) {
      bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
      o.cpu_target = targets[t];
      o.n_threads = threads;
      const int passes = ak != A_BYTES ? 2 : 1; /* arbitrary bytes have no floats */
      for (int from_floats = 0; from_floats < passes; ++from_floats) {
        memset(got, POISON, (size_t)(batch * rows) * sizeof(float));
        const int status =
            from_floats ? bitnet_gemm(l->type, w, w_len, rows, cols, x, batch, got, &o)
                        : bitnet_gemm_blocks(l->type, w, w_len, rows, cols, xq,
                                             (size_t)batch * act_row, batch, got, &o);
        long bad = -1;
        for (int64_t i = 0; i < batch * rows && bad < 0; ++i) {
          if (!same_bits(got[i], want[i])) bad = (long)i;
        }
        check(status == BITNET_OK && bad < 0,
              "%s %lldx%lld batch %lld, %s weights, %s acts%s (%s, %d threads): status %d, "
              "y[%ld] = %.9g, ggml %.9g",
              bitnet_type_name(l->type), (long long)rows, (long long)cols, (long long)batch,
              arbitrary_weights ? "arbitrary" : "quantized", kActNames[ak],
              from_floats ? " from floats" : "", bitnet_cpu_target_name(targets[t]), threads,
              status, bad, bad < 0 ? 0.0 : (double)got[bad], bad < 0 ? 0.0 : (double)want[bad]);
      }
    }
  }
  free(w);
  free(xq);
  free(x);
  free(want);
  free(got);
}

/* How the variant ggml picks here differs from its baseline generic dots. */
static void report_variant(const struct ggml_cpu* base, const struct ggml_cpu* v, const char* name) {
  const int64_t rows = 64, cols = 2560;
  for (int li = 0; li < 2; ++li) {
    const struct layout* l = &kLayouts[li];
    const size_t row_bytes = (size_t)(cols / l->block) * l->block_bytes;
    uint8_t* w = malloc((size_t)rows * row_bytes);
    uint8_t* xq = malloc((size_t)cols / 256 * 292);
    float* wf = malloc((size_t)(rows * cols) * sizeof(float));
    float* x = malloc((size_t)cols * sizeof(float));
    uint64_t s = 77;
    for (int64_t i = 0; i < rows * cols; ++i) wf[i] = (float)rng_normal(&s);
    for (int64_t i = 0; i < cols; ++i) x[i] = (float)rng_normal(&s);
    g_quantize[li](wf, w, rows * cols);
    base->q8_K(x, xq, cols);
    int fma_diff = 0, simd_diff = 0;
    for (int64_t r = 0; r < rows; ++r) {
      float a = 0, b = 0, c = 0;
      generic_dot(base, li)((int)cols, &a, 0, w + r * row_bytes, 0, xq, 0, 1);
      generic_dot(v, li)((int)cols, &b, 0, w + r * row_bytes, 0, xq, 0, 1);
      (li == 0 ? v->simd_tq1_0 : v->simd_tq2_0)((int)cols, &c, 0, w + r * row_bytes, 0, xq, 0, 1);
      fma_diff += !same_bits(a, b);
      simd_diff += !same_bits(a, c);
    }
    printf("ggml %s variant vs its baseline generic %s dot, %lld rows of %lld: generic differs in "
           "%d, SIMD in %d\n",
           name, bitnet_type_name(l->type), (long long)rows, (long long)cols, fma_diff, simd_diff);
    free(w);
    free(xq);
    free(wf);
    free(x);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LLAMA_LIB_DIR\n", argv[0]);
    return 2;
  }
  struct ggml_cpu base;
  if (!load_base(argv[1]) || !load_variant(argv[1], "x64", &base)) {
    const char* ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0) {
      fprintf(stderr, "FAIL: CI=true and the llama.cpp prebuilt is missing (tools/fetch_llama_prebuilt.sh)\n");
      return 1;
    }
    printf("SKIPPED: no llama.cpp prebuilt in %s (run tools/fetch_llama_prebuilt.sh)\n", argv[1]);
    return 77;
  }
  quantize_fn q8_0;
  {
    char path[4096];
    snprintf(path, sizeof path, "%s/libggml-base.so", argv[1]);
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    int ok = 1;
    *(void**)&q8_0 = sym(lib, "quantize_row_q8_0_ref", &ok);
    if (!ok) return 1;
  }
  /* The pairing comes from ggml's own type traits. */
  for (int li = 0; li < 3; ++li) {
    const struct traits_cpu* t = base.traits((int)kLayouts[li].type);
    check(t != NULL && t->vec_dot_type == kLayouts[li].act_ggml_type,
          "ggml pairs %s with type %d; this library with %d", bitnet_type_name(kLayouts[li].type),
          t ? t->vec_dot_type : -1, kLayouts[li].act_ggml_type);
    bitnet_type act = 0;
    bitnet_gemm_act_type(kLayouts[li].type, &act);
    check(act == kLayouts[li].act_ggml_type, "bitnet_gemm_act_type(%s) = %d",
          bitnet_type_name(kLayouts[li].type), act);
  }
  bitnet_cpu_target targets[32];
  const int count = supported_targets(targets);
  static const int64_t kShapes[][3] = {/* rows, cols, batch */
                                       {1, 256, 1}, {7, 512, 3}, {33, 768, 4}, {20, 2560, 5},
                                       {17, 6912, 1}, {3, 64 * 5, 2}, {19, 768, 37}};
  uint64_t seed = 1;
  for (int li = 0; li < 3; ++li) {
    for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
      const int64_t cols = kShapes[si][1];
      if (cols % kLayouts[li].block != 0) continue;
      for (int aw = 0; aw <= 1; ++aw) {
        for (int ak = 0; ak < NUM_ACTS; ++ak) {
          compare(&base, q8_0, li, kShapes[si][0], cols, kShapes[si][2], aw, (enum acts)ak,
                  seed++, targets, count);
        }
      }
    }
  }
  /* Informational: the variant the backend loader would pick on this CPU. */
  static const char* const kVariants[] = {"zen4", "icelake", "haswell"};
  for (size_t i = 0; i < sizeof kVariants / sizeof kVariants[0]; ++i) {
    struct ggml_cpu v;
    if (load_variant(argv[1], kVariants[i], &v)) {
      report_variant(&base, &v, kVariants[i]);
      break;
    }
  }
  return finish("gemm_ggml");
}
