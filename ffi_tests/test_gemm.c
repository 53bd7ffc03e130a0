/* The ternary matrix products (bitnet_gemm, bitnet_gemm_i8s,
 * bitnet_gemm_blocks) against
 *  - bitnet.cpp's golden I2_S dots (ffi_tests/golden/ggml/i2_s_dot: its
 *    AVX2 kernel's sums and its fork's float epilogue), from its int8
 *    activations and from the float activations they came from; the one
 *    case where its int16 lanes wrap gives the exact sum instead;
 *  - ggml's golden TQ1_0/TQ2_0 dots (tq_vec_dot: the generic scalar dots),
 *    from its Q8_K blocks and from the float activations;
 *  - the scalar reference (cpu_target REFERENCE), on every CPU target, with
 *    1 to 3 threads and row ranges: random shapes of every layout, valid
 *    and arbitrary weight bytes (every code, every f16 scale), and
 *    adversarial activations (all 127, all -128, zeros, one huge outlier,
 *    arbitrary Q8_K / Q8_0 bytes). Outputs must be the same bits (any NaN
 *    equals any NaN). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static bitnet_gemm_options gemm_options(bitnet_cpu_target target, int threads) {
  bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
  o.cpu_target = target;
  o.n_threads = threads;
  return o;
}

/* ---- golden: bitnet.cpp I2_S ------------------------------------------------ */

/* The i8_s case whose float input gave each dot case's activations. */
static const char* act_input_of(const char* dot_case) {
  static const char* const kPairs[][2] = {
      {"absmean8x2560_x_gauss4x2560", "gauss_4x2560_s50"},
      {"tern4x2560_x_outliers2x2560", "outliers_2x2560_s51"},
      {"tern2x6912_x_uniform1x6912", "uniform_1x6912_s52"},
      {"tern1x128_x_llm8x128", "llm_act_8x128_s54"},
      {"pattern1x128_x_llm8x128", "llm_act_8x128_s54"},
      {"ones1x4096_x_max1x4096", "max_1x4096"},
  };
  for (size_t i = 0; i < sizeof kPairs / sizeof kPairs[0]; ++i) {
    if (strcmp(kPairs[i][0], dot_case) == 0) return kPairs[i][1];
  }
  return NULL;
}

static void golden_i2s(const char* dir, bitnet_cpu_target target, int threads) {
  st_file* f = st_open(path_join(dir, "i2_s_dot.safetensors"));
  st_file* acts = st_open(path_join(dir, "i8_s.safetensors"));
  const bitnet_gemm_options o = gemm_options(target, threads);
  const char* tname = bitnet_cpu_target_name(target);
  int overflow_cases = 0;
  for (size_t i = 0; i < f->count; ++i) {
    const char* slash = strrchr(f->tensors[i].name, '/');
    if (strcmp(slash, "/w_bytes") != 0) continue;
    char name[128];
    memcpy(name, f->tensors[i].name, (size_t)(slash - f->tensors[i].name));
    name[slash - f->tensors[i].name] = '\0';
    const st_tensor* w = &f->tensors[i];
    const st_tensor* q = st_field(f, name, "act_q");
    const st_tensor* scale = st_field(f, name, "act_scale");
    const st_tensor* sum = st_field(f, name, "act_sum");
    const st_tensor* raw = st_field(f, name, "raw");
    const st_tensor* exact = st_field(f, name, "exact_code_sum");
    const st_tensor* golden = st_field(f, name, "y_fork_formula");
    const int64_t batch = (int64_t)q->shape[0], cols = (int64_t)q->shape[1];
    const int64_t rows = (int64_t)raw->shape[1];
    float w_scale;
    memcpy(&w_scale, w->data + w->nbytes - 32, 4);
    float* y = malloc((size_t)(batch * rows) * sizeof(float));
    float* expected = malloc((size_t)(batch * rows) * sizeof(float));
    /* Where the AVX2 kernel's sum wrapped, the exact sum through the same
     * epilogue (and it must differ from bitnet.cpp's). */
    for (int64_t k = 0; k < batch * rows; ++k) {
      const float r = ((const float*)raw->data)[k];
      const int32_t e = ((const int32_t*)exact->data)[k];
      expected[k] = ((const float*)golden->data)[k];
      if (r != (float)e) {
        const int64_t b = k / rows;
        expected[k] = ((float)e - (float)((const int32_t*)sum->data)[b]) /
                      ((const float*)scale->data)[b] * w_scale;
        check(!same_float(expected[k], ((const float*)golden->data)[k]),
              "i2_s_dot %s: the wrapped sum's output equals the exact one's", name);
        ++overflow_cases;
      }
    }
    memset(y, POISON, (size_t)(batch * rows) * sizeof(float));
    int status = bitnet_gemm_i8s(w->data, w->nbytes, rows, cols, (const int8_t*)q->data,
                                 (const float*)scale->data, (const int32_t*)sum->data, batch, y, &o);
    check(status == BITNET_OK, "i2_s_dot %s (%s): status %d %s", name, tname, status,
          bitnet_last_error());
    long at = first_result_diff(y, expected, (size_t)(batch * rows));
    check(at < 0, "i2_s_dot %s (%s, %d threads): y[%ld] = %.9g, bitnet.cpp %.9g", name, tname,
          threads, at, at < 0 ? 0.0 : (double)y[at], at < 0 ? 0.0 : (double)expected[at]);
    /* From the float activations, quantized inside. */
    const char* input_case = act_input_of(name);
    check(input_case != NULL, "i2_s_dot %s: no activation input known", name);
    if (input_case != NULL) {
      float* x = st_floats(st_field(acts, input_case, "input"));
      memset(y, POISON, (size_t)(batch * rows) * sizeof(float));
      status = bitnet_gemm(BITNET_TYPE_I2_S, w->data, w->nbytes, rows, cols, x, batch, y, &o);
      at = first_result_diff(y, expected, (size_t)(batch * rows));
      check(status == BITNET_OK && at < 0, "i2_s_dot %s from floats (%s): status %d, y[%ld] differs",
            name, tname, status, at);
      free(x);
    }
    free(y);
    free(expected);
  }
  check(overflow_cases == 1, "i2_s_dot: %d cases where bitnet.cpp's int16 lanes wrap, expected 1",
        overflow_cases);
  st_close(acts);
  st_close(f);
}

/* ---- golden: ggml TQ1_0 / TQ2_0 ---------------------------------------------- */

static void golden_tq(const char* dir, bitnet_cpu_target target, int threads) {
  st_file* f = st_open(path_join(dir, "tq_vec_dot.safetensors"));
  const bitnet_gemm_options o = gemm_options(target, threads);
  const char* tname = bitnet_cpu_target_name(target);
  static const struct {
    bitnet_type type;
    const char* weights;
    const char* dot;
  } kTypes[] = {{BITNET_TYPE_TQ1_0, "w_tq1_0", "dot_tq1_0"}, {BITNET_TYPE_TQ2_0, "w_tq2_0", "dot_tq2_0"}};
  for (size_t i = 0; i < f->count; ++i) {
    const char* slash = strrchr(f->tensors[i].name, '/');
    if (strcmp(slash, "/act_q8_K") != 0) continue;
    char name[128];
    memcpy(name, f->tensors[i].name, (size_t)(slash - f->tensors[i].name));
    name[slash - f->tensors[i].name] = '\0';
    const st_tensor* act = &f->tensors[i];
    float* x = st_floats(st_field(f, name, "act"));
    for (size_t k = 0; k < 2; ++k) {
      const st_tensor* w = st_field(f, name, kTypes[k].weights);
      const st_tensor* dot = st_field(f, name, kTypes[k].dot);
      const int64_t rows = (int64_t)w->shape[0], cols = (int64_t)act->shape[0] * 256;
      float* y = malloc((size_t)rows * sizeof(float));
      memset(y, POISON, (size_t)rows * sizeof(float));
      int status = bitnet_gemm_blocks(kTypes[k].type, w->data, w->nbytes, rows, cols, act->data,
                                      act->nbytes, 1, y, &o);
      long at = first_result_diff(y, (const float*)dot->data, (size_t)rows);
      check(status == BITNET_OK && at < 0, "%s %s (%s, %d threads): status %d, y[%ld] = %.9g, ggml %.9g",
            kTypes[k].dot, name, tname, threads, status, at, at < 0 ? 0.0 : (double)y[at],
            at < 0 ? 0.0 : (double)((const float*)dot->data)[at]);
      memset(y, POISON, (size_t)rows * sizeof(float));
      status = bitnet_gemm(kTypes[k].type, w->data, w->nbytes, rows, cols, x, 1, y, &o);
      at = first_result_diff(y, (const float*)dot->data, (size_t)rows);
      check(status == BITNET_OK && at < 0, "%s %s from floats (%s): status %d, y[%ld] differs",
            kTypes[k].dot, name, tname, status, at);
      free(y);
    }
    free(x);
  }
  st_close(f);
}

/* ---- every target against the reference ------------------------------------------ */

struct shape {
  bitnet_type type;
  int64_t rows, cols;
};

static const struct shape kShapes[] = {
    {BITNET_TYPE_I2_S, 1, 128},     {BITNET_TYPE_I2_S, 37, 256},    {BITNET_TYPE_I2_S, 16, 384},
    {BITNET_TYPE_I2_S, 33, 2560},   {BITNET_TYPE_I2_S, 6, 64},      {BITNET_TYPE_I2_S, 2, 192},
    {BITNET_TYPE_I2_S, 19, 6912},   {BITNET_TYPE_TQ2_0, 1, 256},    {BITNET_TYPE_TQ2_0, 35, 512},
    {BITNET_TYPE_TQ2_0, 17, 2560},  {BITNET_TYPE_TQ1_0, 1, 256},    {BITNET_TYPE_TQ1_0, 35, 768},
    {BITNET_TYPE_TQ1_0, 18, 2560},  {BITNET_TYPE_Q2_0, 1, 64},      {BITNET_TYPE_Q2_0, 21, 192},
    {BITNET_TYPE_Q2_0, 40, 320},    {BITNET_TYPE_Q2_0, 9, 2560},    {BITNET_TYPE_TQ2_0, 3, 0},
};
#define NUM_SHAPES (sizeof kShapes / sizeof kShapes[0])

enum weights_kind { W_QUANTIZED, W_ARBITRARY };
enum acts_kind {
  A_GAUSS,      /* floats, quantized inside */
  A_MAX,        /* every activation at the row's max: all q = 127 */
  A_ALTERNATE,  /* +-1: q = +-127 */
  A_ZERO,
  A_OUTLIER,    /* normal, one element 1e30 */
  A_MIN_Q,      /* pre-quantized: every q = -128 (I8_S, Q8_K, Q8_0) */
  A_BYTES,      /* pre-quantized: arbitrary bytes (scales of every kind) */
  NUM_ACTS
};
static const char* const kActNames[NUM_ACTS] = {"gauss", "all-max", "alternating", "zeros",
                                                "outlier", "all -128", "arbitrary bytes"};

static void fill_acts(enum acts_kind kind, float* x, size_t n, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case A_MAX: x[i] = 0.75f; break;
      case A_ALTERNATE: x[i] = (i % 2) ? -1.0f : 1.0f; break;
      case A_ZERO: x[i] = 0.0f; break;
      case A_OUTLIER: x[i] = i == n / 3 ? 1e30f : (float)rng_normal(&s); break;
      default: x[i] = (float)rng_normal(&s); break;
    }
  }
}

/* The quantized activations of a call of one type: I8_S arrays or blocks. */
struct quantized {
  int8_t* q;
  float* scales;
  int32_t* sums;
  uint8_t* blocks;
  size_t blocks_len;
};

static void make_quantized(bitnet_type w_type, enum acts_kind kind, const float* x, int64_t batch,
                           int64_t cols, uint64_t seed, struct quantized* out) {
  bitnet_type act_type = 0;
  bitnet_gemm_act_type(w_type, &act_type);
  uint64_t s = seed;
  memset(out, 0, sizeof *out);
  const size_t n = (size_t)(batch * cols);
  if (act_type == BITNET_TYPE_I8_S) {
    out->q = malloc(n + 1);
    out->scales = malloc((size_t)batch * sizeof(float) + 1);
    out->sums = malloc((size_t)batch * sizeof(int32_t) + 1);
    check(bitnet_quantize_i8s(NULL, BITNET_TYPE_F32, x, batch, cols, out->q, n, out->scales,
                              (size_t)batch, out->sums, (size_t)batch) == BITNET_OK,
          "quantize_i8s: %s", bitnet_last_error());
    for (int64_t b = 0; b < batch; ++b) {
      if (kind == A_MIN_Q || kind == A_BYTES) {
        int32_t sum = 0;
        for (int64_t k = 0; k < cols; ++k) {
          const int8_t v = kind == A_MIN_Q ? -128 : (int8_t)rng_next(&s);
          out->q[b * cols + k] = v;
          sum += v;
        }
        out->sums[b] = kind == A_MIN_Q ? sum : (int32_t)rng_next(&s);
        if (kind == A_BYTES) {
          const uint32_t bits = (uint32_t)rng_next(&s);
          memcpy(&out->scales[b], &bits, 4);
        }
      }
    }
    return;
  }
  size_t bytes = 0;
  check(bitnet_tensor_size(act_type, batch, cols, &bytes) == BITNET_OK, "act size");
  out->blocks = malloc(bytes + 1);
  out->blocks_len = bytes;
  check(bitnet_tensor_quantize(act_type, NULL, BITNET_TYPE_F32, x, batch, cols, out->blocks,
                               bytes) == BITNET_OK,
        "quantize %s: %s", bitnet_type_name(act_type), bitnet_last_error());
  const size_t block = act_type == BITNET_TYPE_Q8_K ? 292 : 34;
  const size_t qs = act_type == BITNET_TYPE_Q8_K ? 4 : 2;
  const size_t per = act_type == BITNET_TYPE_Q8_K ? 256 : 32;
  for (size_t blk = 0; blk < bytes / block && (kind == A_MIN_Q || kind == A_BYTES); ++blk) {
    uint8_t* p = out->blocks + blk * block;
    if (kind == A_MIN_Q) {
      memset(p + qs, 0x80, per);
    } else {
      for (size_t i = 0; i < block; ++i) p[i] = (uint8_t)rng_next(&s);
    }
  }
}

static void free_quantized(struct quantized* q) {
  free(q->q);
  free(q->scales);
  free(q->sums);
  free(q->blocks);
}

/* One call of the entry point the activations kind uses. */
static int run(const struct shape* sh, const uint8_t* w, size_t w_len, enum acts_kind kind,
               const float* x, const struct quantized* qa, int64_t batch, float* y,
               const bitnet_gemm_options* o) {
  if (kind == A_MIN_Q || kind == A_BYTES) {
    if (sh->type == BITNET_TYPE_I2_S) {
      return bitnet_gemm_i8s(w, w_len, sh->rows, sh->cols, qa->q, qa->scales, qa->sums, batch, y, o);
    }
    return bitnet_gemm_blocks(sh->type, w, w_len, sh->rows, sh->cols, qa->blocks, qa->blocks_len,
                              batch, y, o);
  }
  return bitnet_gemm(sh->type, w, w_len, sh->rows, sh->cols, x, batch, y, o);
}

static void against_reference(const bitnet_cpu_target* targets, int num_targets) {
  /* 37: past the groups of tokens that meet a tile together (8 of 4).
   * 25, 37: TQ tokens in lanes (vectors of 4, 8 or 16 tokens, on every
   * x86 target an odd number once), then tokens in groups and alone.
   * 153: more token vectors than one pass over a tile takes (8), on every
   * target. */
  static const int64_t kBatches[] = {1, 2, 3, 4, 5, 25, 37, 153};
  uint64_t seed = 1000;
  for (size_t si = 0; si < NUM_SHAPES; ++si) {
    const struct shape* sh = &kShapes[si];
    /* Under an emulator the large shapes would take minutes; the small ones
     * cover the same code (full tiles, partial tiles, every layout). */
    if (emulated() && sh->rows * sh->cols > 40000) continue;
    size_t w_len = 0;
    check(bitnet_tensor_size(sh->type, sh->rows, sh->cols, &w_len) == BITNET_OK, "tensor size");
    uint8_t* w = malloc(w_len);
    for (int wk = W_QUANTIZED; wk <= W_ARBITRARY; ++wk) {
      if (wk == W_QUANTIZED) {
        const size_t n = (size_t)(sh->rows * sh->cols);
        float* wf = malloc(n * sizeof(float) + 1);
        fill_random(GAUSS, wf, n, 256, seed++);
        bitnet_tensor_options to = BITNET_TENSOR_OPTIONS_INIT;
        to.ternarize = BITNET_TERNARIZE_ABSMEAN;
        check(bitnet_tensor_quantize(sh->type, &to, BITNET_TYPE_F32, wf, sh->rows, sh->cols, w,
                                     w_len) == BITNET_OK,
              "weights %s: %s", bitnet_type_name(sh->type), bitnet_last_error());
        free(wf);
      } else {
        uint64_t s = seed++;
        for (size_t i = 0; i < w_len; ++i) w[i] = (uint8_t)rng_next(&s);
        if (sh->type == BITNET_TYPE_I2_S) { /* a finite tensor scale, and a NaN one */
          const float scale = si % 2 ? 0.0625f : NAN;
          memcpy(w + w_len - 32, &scale, 4);
        }
      }
      for (int ak = 0; ak < NUM_ACTS; ++ak) {
        const int64_t batch = kBatches[(si + (size_t)ak) % (sizeof kBatches / sizeof kBatches[0])];
        const size_t n = (size_t)(batch * sh->cols), ny = (size_t)(batch * sh->rows);
        float* x = malloc(n * sizeof(float) + 1);
        fill_acts((enum acts_kind)ak, x, n, seed++);
        struct quantized qa;
        make_quantized(sh->type, (enum acts_kind)ak, x, batch, sh->cols, seed++, &qa);
        float* want = malloc(ny * sizeof(float) + 1);
        float* got = malloc(ny * sizeof(float) + 1);
        bitnet_gemm_options o = gemm_options(BITNET_CPU_REFERENCE, 1);
        int status = run(sh, w, w_len, (enum acts_kind)ak, x, &qa, batch, want, &o);
        check(status == BITNET_OK, "%s %lldx%lld reference: %s", bitnet_type_name(sh->type),
              (long long)sh->rows, (long long)sh->cols, bitnet_last_error());
        for (int t = 0; t < num_targets; ++t) {
          for (int threads = 1; threads <= 3; ++threads) {
            o = gemm_options(targets[t], threads);
            /* With 3 threads, a row range: only it is written. */
            const int ranged = threads == 3 && sh->rows > 2;
            if (ranged) {
              o.flags = BITNET_GEMM_ROW_RANGE;
              o.row_begin = 1;
              o.row_end = sh->rows - 1;
            }
            memset(got, POISON, ny * sizeof(float));
            status = run(sh, w, w_len, (enum acts_kind)ak, x, &qa, batch, got, &o);
            long bad = -1;
            for (size_t i = 0; i < ny && bad < 0; ++i) {
              const int64_t r = (int64_t)(i % (size_t)sh->rows);
              const int inside = !ranged || (r >= o.row_begin && r < o.row_end);
              if (inside ? !same_result(got[i], want[i]) : !untouched(&got[i], sizeof(float))) {
                bad = (long)i;
              }
            }
            check(status == BITNET_OK && bad < 0,
                  "%s %lldx%lld, %s weights, %s acts, batch %lld (%s, %d threads%s): status %d; "
                  "y[%ld] = %.9g, reference %.9g",
                  bitnet_type_name(sh->type), (long long)sh->rows, (long long)sh->cols,
                  wk == W_QUANTIZED ? "quantized" : "arbitrary", kActNames[ak], (long long)batch,
                  bitnet_cpu_target_name(targets[t]), threads, ranged ? ", rows 1..n-2" : "",
                  status, bad, bad < 0 ? 0.0 : (double)got[bad], bad < 0 ? 0.0 : (double)want[bad]);
          }
        }
        free(x);
        free(want);
        free(got);
        free_quantized(&qa);
      }
    }
    free(w);
  }
}

/* ---- every f16 block scale -------------------------------------------------------- */

/* One block per row, row r's scale the half with bits r: every one of the
 * 65536 halves (subnormals, Inf, NaN included) goes through each target's
 * conversion of block scales, which must give the reference's bits. One
 * token: every path converts scales with the same function (the paths
 * themselves are against_reference's). */
static void every_half_as_block_scale(const bitnet_cpu_target* targets, int num_targets) {
  static const struct {
    bitnet_type type;
    int64_t cols;         /* one block */
    size_t scale_offset;  /* of its f16 scale */
  } kBlocks[] = {{BITNET_TYPE_TQ1_0, 256, 52}, {BITNET_TYPE_TQ2_0, 256, 64}, {BITNET_TYPE_Q2_0, 64, 0}};
  const int64_t rows = 65536;
  uint64_t seed = 77;
  for (size_t k = 0; k < sizeof kBlocks / sizeof kBlocks[0]; ++k) {
    const bitnet_type type = kBlocks[k].type;
    const int64_t cols = kBlocks[k].cols;
    size_t w_len = 0;
    check(bitnet_tensor_size(type, rows, cols, &w_len) == BITNET_OK, "tensor size");
    const size_t block_bytes = w_len / (size_t)rows;
    uint8_t* w = malloc(w_len);
    for (size_t i = 0; i < w_len; ++i) w[i] = (uint8_t)rng_next(&seed);
    for (int64_t r = 0; r < rows; ++r) {
      const uint16_t half = (uint16_t)r;
      memcpy(w + (size_t)r * block_bytes + kBlocks[k].scale_offset, &half, sizeof half);
    }
    float* x = malloc((size_t)cols * sizeof(float));
    fill_random(GAUSS, x, (size_t)cols, 256, seed++);
    float* want = malloc((size_t)rows * sizeof(float));
    float* got = malloc((size_t)rows * sizeof(float));
    bitnet_gemm_options o = gemm_options(BITNET_CPU_REFERENCE, 1);
    check(bitnet_gemm(type, w, w_len, rows, cols, x, 1, want, &o) == BITNET_OK, "%s every half, reference: %s",
          bitnet_type_name(type), bitnet_last_error());
    for (int t = 0; t < num_targets; ++t) {
      o = gemm_options(targets[t], 1);
      memset(got, POISON, (size_t)rows * sizeof(float));
      const int status = bitnet_gemm(type, w, w_len, rows, cols, x, 1, got, &o);
      long bad = -1;
      for (long r = 0; r < rows && bad < 0; ++r) {
        if (!same_result(got[r], want[r])) bad = r;
      }
      check(status == BITNET_OK && bad < 0, "%s, row r's scale the half r (%s): status %d; y[%ld] = %.9g, reference %.9g",
            bitnet_type_name(type), bitnet_cpu_target_name(targets[t]), status, bad,
            bad < 0 ? 0.0 : (double)got[bad], bad < 0 ? 0.0 : (double)want[bad]);
    }
    free(x);
    free(want);
    free(got);
    free(w);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s GOLDEN_GGML_DIR\n", argv[0]);
    return 2;
  }
  bitnet_cpu_target targets[32];
  const int count = supported_targets(targets);
  for (int t = 0; t < count; ++t) {
    for (int threads = 1; threads <= 3; threads += 2) {
      golden_i2s(argv[1], targets[t], threads);
      golden_tq(argv[1], targets[t], threads);
    }
  }
  against_reference(targets, count);
  every_half_as_block_scale(targets, count);
  return finish("gemm");
}
