/* Every CPU target against the REFERENCE target, bit for bit, on the tensor
 * paths: quantize to each layout from F32, F16 and BF16 (with and without
 * absmean ternarization), dequantize of arbitrary bytes with every kind of
 * scale to F32, F16 and BF16, the element conversions, bitnet_ternarize and
 * bitnet_quantize_i8s, bitnet_tensor_transcode between the block layouts. Inputs: random, LLM-like and adversarial (NaN of
 * every kind, signalling ones with payloads included, +-Inf, -0.0,
 * subnormals, ties of every rounding, f16 overflow, all-zero, tiny and
 * already-ternary blocks), shapes with odd row counts and lengths that end
 * inside a vector or a step, on 1 and 3 threads. The status must agree too
 * (absmean rejects NaN and Inf). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static bitnet_tensor_options opts(bitnet_cpu_target target, int threads) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = target;
  o.n_threads = threads;
  return o;
}

static size_t element_size(bitnet_type t) { return t == BITNET_TYPE_F32 ? 4 : 2; }

/* 1 or 3 threads, alternating from one call to the next. */
static int next_threads(void) {
  static int calls = 0;
  return 1 + 2 * (calls++ % 2);
}

/* ---- inputs ------------------------------------------------------------------ */

enum { LLM, RANDOM, ADVERSARIAL, SPECIAL_VALUES, BLOCK_PATTERNS, TERNARY, NUM_KINDS };
static const char* const kKindNames[NUM_KINDS] = {"llm", "uniform", "adversarial", "specials",
                                                  "blocky", "ternary"};

/* n floats of one kind; `block` places the block-wise patterns. */
static void fill_kind(int kind, float* x, size_t n, size_t block, uint64_t seed) {
  uint64_t s = seed;
  size_t i;
  switch (kind) {
    case LLM:
      for (i = 0; i < n; ++i) x[i] = (float)rng_normal(&s) * 0.02f * (rng_uniform(&s) < 0.001 ? 20 : 1);
      break;
    case RANDOM: fill_random(UNIFORM, x, n, block, seed); break;
    case ADVERSARIAL: fill_block_adversarial(x, n, block, seed); break;
    case SPECIAL_VALUES: fill_random(SPECIALS, x, n, block, seed); break;
    case BLOCK_PATTERNS: fill_random(BLOCKY, x, n, block, seed); break;
    default: { /* already ternary: +-alpha and zeros, zeros first */
      const float alpha = (float)(rng_uniform(&s) + 0.01);
      for (i = 0; i < n; ++i) x[i] = i < n / 5 ? 0.0f : (float)((int)(rng_next(&s) % 3) - 1) * alpha;
    }
  }
}

/* The n elements of x as `type` (F32, F16 or BF16), converted by the
 * reference; a quarter of the 16-bit ones replaced by random bit patterns
 * (NaN payloads, signalling bf16 NaNs, subnormals). */
static void* as_type(bitnet_type type, const float* x, size_t n, uint64_t seed) {
  void* out = malloc(n * element_size(type) + 1);
  if (type == BITNET_TYPE_F32) {
    memcpy(out, x, n * 4);
    return out;
  }
  bitnet_tensor_options ref = opts(BITNET_CPU_REFERENCE, 1);
  check(bitnet_tensor_quantize(type, &ref, BITNET_TYPE_F32, x, 1, (int64_t)n, out, n * 2) == BITNET_OK,
        "F32 -> %s: %s", bitnet_type_name(type), bitnet_last_error());
  uint64_t s = seed;
  uint16_t* h = out;
  for (size_t i = 0; i < n; ++i) {
    if (rng_next(&s) % 4 == 0) h[i] = (uint16_t)rng_next(&s);
  }
  return out;
}

/* ---- one call on two targets ---------------------------------------------------- */

struct run {
  int status;
  uint8_t* out;
};

static void compare(const char* what, bitnet_cpu_target target, int threads,
                    const struct run* ref, const struct run* got, size_t bytes) {
  const char* tname = bitnet_cpu_target_name(target);
  if (!check(got->status == ref->status, "%s (%s, %d threads): status %d, REFERENCE %d", what,
             tname, threads, got->status, ref->status)) {
    return;
  }
  if (ref->status != BITNET_OK) return;
  const long at = first_byte_diff(got->out, ref->out, bytes);
  check(at < 0, "%s (%s, %d threads): byte %ld of %zu is 0x%02x, REFERENCE 0x%02x", what, tname,
        threads, at, bytes, at < 0 ? 0 : got->out[at], at < 0 ? 0 : ref->out[at]);
}

static struct run quantize_on(bitnet_type dst, const bitnet_tensor_options* o, bitnet_type src,
                              const void* x, int64_t rows, int64_t cols, size_t bytes) {
  struct run r = {0, malloc(bytes + 1)};
  memset(r.out, POISON, bytes + 1);
  r.status = bitnet_tensor_quantize(dst, o, src, x, rows, cols, r.out, bytes);
  return r;
}

/* Quantize rows x cols of x (as src) to dst on every target. */
static void check_quantize(bitnet_type dst, bitnet_type src, const void* x, int64_t rows, int64_t cols,
                           int absmean, int64_t group, const bitnet_cpu_target* targets, int count,
                           const char* what) {
  size_t bytes = 0;
  if (!check(bitnet_tensor_size(dst, rows, cols, &bytes) == BITNET_OK, "size of %s %lldx%lld",
             bitnet_type_name(dst), (long long)rows, (long long)cols)) {
    return;
  }
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.ternarize = absmean ? BITNET_TERNARIZE_ABSMEAN : BITNET_TERNARIZE_NONE;
  o.group_size = group;
  const struct run ref = quantize_on(dst, &o, src, x, rows, cols, bytes);
  char label[160];
  snprintf(label, sizeof label, "quantize %s -> %s %lldx%lld %s%s", bitnet_type_name(src),
           bitnet_type_name(dst), (long long)rows, (long long)cols, what, absmean ? " absmean" : "");
  for (int t = 0; t < count; ++t) {
    o.cpu_target = targets[t];
    o.n_threads = next_threads();
    struct run got = quantize_on(dst, &o, src, x, rows, cols, bytes);
    compare(label, targets[t], o.n_threads, &ref, &got, bytes);
    free(got.out);
  }
  free(ref.out);
}

static struct run dequantize_on(bitnet_type src, const bitnet_tensor_options* o, const uint8_t* in,
                                size_t in_bytes, int64_t rows, int64_t cols, bitnet_type dst,
                                size_t bytes) {
  struct run r = {0, malloc(bytes + 1)};
  memset(r.out, POISON, bytes + 1);
  r.status = bitnet_tensor_dequantize(src, o, in, in_bytes, rows, cols, dst, r.out, bytes);
  return r;
}

static void check_dequantize(bitnet_type src, const uint8_t* in, size_t in_bytes, int64_t rows,
                             int64_t cols, const bitnet_cpu_target* targets, int count,
                             const char* what) {
  static const bitnet_type kDst[3] = {BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16};
  for (int d = 0; d < 3; ++d) {
    const size_t bytes = (size_t)(rows * cols) * element_size(kDst[d]);
    bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
    const struct run ref = dequantize_on(src, &o, in, in_bytes, rows, cols, kDst[d], bytes);
    char label[160];
    snprintf(label, sizeof label, "dequantize %s -> %s %lldx%lld %s", bitnet_type_name(src),
             bitnet_type_name(kDst[d]), (long long)rows, (long long)cols, what);
    for (int t = 0; t < count; ++t) {
      o.cpu_target = targets[t];
      o.n_threads = next_threads();
      struct run got = dequantize_on(src, &o, in, in_bytes, rows, cols, kDst[d], bytes);
      compare(label, targets[t], o.n_threads, &ref, &got, bytes);
      free(got.out);
    }
    free(ref.out);
  }
}

/* ---- quantize ---------------------------------------------------------------------- */

struct layout_case {
  bitnet_type type;
  int64_t block;     /* elements per block (I2_S: its 128-element groups) */
  int can_absmean;   /* a ternary layout */
};

static const struct layout_case kQuantizeLayouts[] = {
    {BITNET_TYPE_TQ1_0, 256, 1}, {BITNET_TYPE_TQ2_0, 256, 1}, {BITNET_TYPE_Q2_0, 64, 1},
    {BITNET_TYPE_Q8_0, 32, 0},   {BITNET_TYPE_Q8_K, 256, 0},  {BITNET_TYPE_I2_S, 128, 1},
    {BITNET_TYPE_F16, 1, 1},     {BITNET_TYPE_BF16, 1, 1},    {BITNET_TYPE_F32, 1, 1},
    {BITNET_TYPE_HF_BITNET, 1, 1}, {BITNET_TYPE_BITNET_RS_I2S, 1, 1},
};

static void quantize_cases(const bitnet_cpu_target* targets, int count) {
  /* Rows x blocks per row: odd row counts; lengths that end inside a
   * 4096-element step and, for the element types, inside a vector. */
  static const int64_t kShapes[][2] = {{1, 1}, {3, 3}, {7, 17}, {5, 2}, {33, 10}};
  static const bitnet_type kSources[3] = {BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16};
  for (size_t l = 0; l < sizeof kQuantizeLayouts / sizeof kQuantizeLayouts[0]; ++l) {
    const struct layout_case* lc = &kQuantizeLayouts[l];
    for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
      const int small_block = lc->block < 32;
      int64_t rows = kShapes[si][0];
      int64_t cols = small_block ? 97 * kShapes[si][1] + 3 : lc->block * kShapes[si][1];
      if (lc->type == BITNET_TYPE_HF_BITNET) rows = 4 * rows;  /* rows/4 byte rows */
      if (lc->type == BITNET_TYPE_I2_S && (rows * cols) % 128 != 0) cols = 128 * kShapes[si][1];
      const size_t n = (size_t)(rows * cols);
      float* x = malloc(n * sizeof(float));
      for (int kind = 0; kind < NUM_KINDS; ++kind) {
        const uint64_t seed = 1000 * l + 10 * si + (uint64_t)kind;
        fill_kind(kind, x, n, lc->block > 1 ? (size_t)lc->block : 256, seed);
        for (int s = 0; s < 3; ++s) {
          if (s > 0 && kind % 2 == 1) continue;  /* 16-bit sources on half the kinds */
          void* src = as_type(kSources[s], x, n, seed);
          if (lc->type != BITNET_TYPE_HF_BITNET) {
            check_quantize(lc->type, kSources[s], src, rows, cols, 0, 0, targets, count, kKindNames[kind]);
          }
          if (lc->can_absmean) {
            check_quantize(lc->type, kSources[s], src, rows, cols, 1, 0, targets, count, kKindNames[kind]);
          }
          free(src);
        }
      }
      free(x);
    }
  }
}

/* ---- dequantize --------------------------------------------------------------------- */

/* Scales of every kind: f16 (NaN quiet and signalling, with payloads and
 * negative, +-Inf, subnormal, zero, the largest), and f32. */
static const uint16_t kHalfScales[] = {0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE55, 0x7D23, 0x0001,
                                       0x8000, 0x0000, 0x3C00, 0x7BFF, 0x83FF, 0x2E66};
static const uint32_t kFloatScales[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u,
                                        0xFFC12345u, 0x7FA00000u, 0x00000001u, 0x80000000u,
                                        0x3F800000u, 0x7F7FFFFFu, 0x3C23D70Au, 0xBD4CCCCDu};
#define NUM_HALF_SCALES (sizeof kHalfScales / sizeof kHalfScales[0])
#define NUM_FLOAT_SCALES (sizeof kFloatScales / sizeof kFloatScales[0])

struct block_layout {
  bitnet_type type;
  int64_t block;
  size_t block_bytes;
  size_t scale_offset;
  int scale_is_f32;
};

static const struct block_layout kBlockLayouts[] = {
    {BITNET_TYPE_TQ1_0, 256, 54, 52, 0}, {BITNET_TYPE_TQ2_0, 256, 66, 64, 0},
    {BITNET_TYPE_Q2_0, 64, 18, 0, 0},    {BITNET_TYPE_Q8_0, 32, 34, 0, 0},
    {BITNET_TYPE_Q8_K, 256, 292, 0, 1},  {BITNET_TYPE_IQ2_S, 256, 82, 0, 0},
};

static void dequantize_cases(const bitnet_cpu_target* targets, int count) {
  static const int64_t kShapes[][2] = {{1, 1}, {3, 5}, {7, 17}};
  uint64_t s = 77;
  for (size_t l = 0; l < sizeof kBlockLayouts / sizeof kBlockLayouts[0]; ++l) {
    const struct block_layout* bl = &kBlockLayouts[l];
    for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
      const int64_t rows = kShapes[si][0], cols = bl->block * kShapes[si][1];
      const size_t blocks = (size_t)(rows * cols / bl->block), bytes = blocks * bl->block_bytes;
      uint8_t* in = malloc(bytes);
      for (size_t i = 0; i < bytes; ++i) in[i] = (uint8_t)rng_next(&s);
      /* Half the blocks get a scale of every kind; the others stay random bits. */
      for (size_t b = 0; b < blocks; b += 2) {
        uint8_t* p = in + b * bl->block_bytes + bl->scale_offset;
        if (bl->scale_is_f32) {
          memcpy(p, &kFloatScales[(b / 2) % NUM_FLOAT_SCALES], 4);
        } else {
          memcpy(p, &kHalfScales[(b / 2) % NUM_HALF_SCALES], 2);
        }
      }
      check_dequantize(bl->type, in, bytes, rows, cols, targets, count, "random bytes");
      free(in);
    }
  }
  /* I2_S: random codes under a tail scale of every kind. */
  const int64_t rows = 7, cols = 640;
  const size_t n = (size_t)(rows * cols), bytes = n / 4 + 32;
  uint8_t* in = malloc(bytes);
  for (size_t i = 0; i < bytes; ++i) in[i] = (uint8_t)rng_next(&s);
  for (size_t k = 0; k < NUM_FLOAT_SCALES; ++k) {
    memcpy(in + n / 4, &kFloatScales[k], 4);
    char what[64];
    snprintf(what, sizeof what, "scale bits 0x%08x", kFloatScales[k]);
    check_dequantize(BITNET_TYPE_I2_S, in, bytes, rows, cols, targets, count, what);
  }
  free(in);
  /* The element types: every 16-bit pattern, to each other and to F32. */
  uint16_t* h = malloc(65536 * 2);
  for (size_t i = 0; i < 65536; ++i) h[i] = (uint16_t)i;
  check_dequantize(BITNET_TYPE_F16, (const uint8_t*)h, 65536 * 2, 256, 256, targets, count, "all patterns");
  check_dequantize(BITNET_TYPE_BF16, (const uint8_t*)h, 65536 * 2, 256, 256, targets, count, "all patterns");
  /* F32 -> F32, F16, BF16: the conversions' edges, and lengths ending inside a vector. */
  float* x = malloc(65536 * sizeof(float));
  fill_half_edges(x, 65536, 5);
  check_dequantize(BITNET_TYPE_F32, (const uint8_t*)x, 65536 * 4, 256, 256, targets, count, "edges");
  check_dequantize(BITNET_TYPE_F32, (const uint8_t*)x, 3 * 37 * 4, 3, 37, targets, count, "edges");
  free(x);
  free(h);
}

/* ---- transcode ------------------------------------------------------------------------ */

static struct run transcode_on(bitnet_type dst, const bitnet_tensor_options* o, bitnet_type src,
                               const uint8_t* in, size_t in_bytes, int64_t rows, int64_t cols,
                               size_t bytes) {
  struct run r = {0, malloc(bytes + 1)};
  memset(r.out, POISON, bytes + 1);
  r.status = bitnet_tensor_transcode(dst, o, src, in, in_bytes, rows, cols, r.out, bytes);
  return r;
}

static void check_transcode(bitnet_type dst, bitnet_type src, const uint8_t* in, size_t in_bytes,
                            int64_t rows, int64_t cols, uint32_t flags, const bitnet_cpu_target* targets,
                            int count, const char* what) {
  size_t bytes = 0;
  check(bitnet_tensor_size(dst, rows, cols, &bytes) == BITNET_OK, "size of %s", bitnet_type_name(dst));
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.flags = flags;
  const struct run ref = transcode_on(dst, &o, src, in, in_bytes, rows, cols, bytes);
  char label[160];
  snprintf(label, sizeof label, "transcode %s -> %s %lldx%lld %s flags %u", bitnet_type_name(src),
           bitnet_type_name(dst), (long long)rows, (long long)cols, what, flags);
  for (int t = 0; t < count; ++t) {
    o.cpu_target = targets[t];
    o.n_threads = next_threads();
    struct run got = transcode_on(dst, &o, src, in, in_bytes, rows, cols, bytes);
    compare(label, targets[t], o.n_threads, &ref, &got, bytes);
    free(got.out);
  }
  free(ref.out);
}

/* I2_S <-> TQ2_0 re-pack code bytes directly, TQ1_0 <-> TQ2_0 / I2_S go
 * code bytes to code bytes (the fused kernel); the same transcode through
 * Q2_0 (whose codes sit elsewhere in its bytes, so it goes through int8
 * values, and which holds every value the others hold) must give the same
 * bytes. */
static int has_direct_route(bitnet_type dst, bitnet_type src) {
  const int two_bit_dst = dst == BITNET_TYPE_TQ2_0 || dst == BITNET_TYPE_I2_S;
  const int two_bit_src = src == BITNET_TYPE_TQ2_0 || src == BITNET_TYPE_I2_S;
  return (two_bit_src && two_bit_dst) || (two_bit_src && dst == BITNET_TYPE_TQ1_0) ||
         (src == BITNET_TYPE_TQ1_0 && two_bit_dst);
}

static void check_direct_route(bitnet_type dst, bitnet_type src, const uint8_t* in, size_t in_bytes,
                               int64_t rows, int64_t cols, uint32_t flags, const char* what) {
  size_t bytes = 0, mid_bytes = 0;
  bitnet_tensor_size(dst, rows, cols, &bytes);
  bitnet_tensor_size(BITNET_TYPE_Q2_0, rows, cols, &mid_bytes);
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.flags = flags;
  struct run direct = transcode_on(dst, &o, src, in, in_bytes, rows, cols, bytes);
  struct run mid = transcode_on(BITNET_TYPE_Q2_0, &o, src, in, in_bytes, rows, cols, mid_bytes);
  struct run via = {mid.status, NULL};
  if (mid.status == BITNET_OK) via = transcode_on(dst, &o, BITNET_TYPE_Q2_0, mid.out, mid_bytes, rows, cols, bytes);
  /* The two-bit pairs fail alike. Through Q2_0 the checks run in two steps
   * (and unit scales make Q2_0's blocks agree), so that a fused pair may
   * fail with another status, or fail where the route under unit scales
   * succeeds; a success directly is one through Q2_0. */
  const int two_bit = src != BITNET_TYPE_TQ1_0 && dst != BITNET_TYPE_TQ1_0;
  const int unit = (flags & BITNET_TENSOR_UNIT_SCALE) != 0;
  const int same = two_bit ? direct.status == via.status
                           : (direct.status == BITNET_OK) == (via.status == BITNET_OK) ||
                                 (unit && direct.status != BITNET_OK);
  check(same, "transcode %s -> %s %s flags %u: status %d directly, %d through Q2_0",
        bitnet_type_name(src), bitnet_type_name(dst), what, flags, direct.status, via.status);
  if (direct.status == BITNET_OK && via.status == BITNET_OK) {
    check(memcmp(direct.out, via.out, bytes) == 0, "transcode %s -> %s %s flags %u: bytes differ from the route through Q2_0",
          bitnet_type_name(src), bitnet_type_name(dst), what, flags);
  }
  free(direct.out);
  free(mid.out);
  free(via.out);
}

/* Between the block layouts: tensors quantized from ternary, LLM-like and
 * adversarial values (so that some pairs fail on values or scales, with
 * the same status on every target), and arbitrary code bytes under finite
 * scales. */
static void transcode_cases(const bitnet_cpu_target* targets, int count) {
  static const bitnet_type kTernary[4] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_Q2_0,
                                          BITNET_TYPE_I2_S};
  static const uint32_t kFlags[3] = {0, BITNET_TENSOR_ALLOW_SCALE_ROUNDING, BITNET_TENSOR_UNIT_SCALE};
  const int64_t rows = 3, cols = 4352;
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  for (int kind = 0; kind < NUM_KINDS; ++kind) {
    fill_kind(kind, x, n, 256, 700 + (uint64_t)kind);
    for (int si = 0; si < 4; ++si) {
      size_t in_bytes = 0;
      bitnet_tensor_size(kTernary[si], rows, cols, &in_bytes);
      uint8_t* in = malloc(in_bytes);
      bitnet_tensor_options ref = opts(BITNET_CPU_REFERENCE, 1);
      ref.ternarize = kind == TERNARY ? BITNET_TERNARIZE_NONE : BITNET_TERNARIZE_ABSMEAN;
      if (bitnet_tensor_quantize(kTernary[si], &ref, BITNET_TYPE_F32, x, rows, cols, in, in_bytes) != BITNET_OK) {
        /* absmean rejects NaN/Inf: the layout's own rule then */
        ref.ternarize = BITNET_TERNARIZE_NONE;
        check(bitnet_tensor_quantize(kTernary[si], &ref, BITNET_TYPE_F32, x, rows, cols, in, in_bytes) == BITNET_OK,
              "transcode source %s: %s", bitnet_type_name(kTernary[si]), bitnet_last_error());
      }
      if (kind == RANDOM) {  /* arbitrary codes; I2_S keeps its scale */
        uint64_t s = 91;
        for (size_t i = 0; i < (kTernary[si] == BITNET_TYPE_I2_S ? n / 4 : in_bytes); ++i) {
          const int is_scale = kTernary[si] == BITNET_TYPE_TQ1_0 ? i % 54 >= 52
                               : kTernary[si] == BITNET_TYPE_TQ2_0 ? i % 66 >= 64
                               : kTernary[si] == BITNET_TYPE_Q2_0 ? i % 18 < 2 : 0;
          if (!is_scale) in[i] = (uint8_t)rng_next(&s);
        }
      }
      for (int di = 0; di < 4; ++di) {
        if (di == si) continue;
        for (int f = 0; f < 3; ++f) {
          check_transcode(kTernary[di], kTernary[si], in, in_bytes, rows, cols, kFlags[f], targets, count,
                          kKindNames[kind]);
          if (has_direct_route(kTernary[di], kTernary[si])) {
            check_direct_route(kTernary[di], kTernary[si], in, in_bytes, rows, cols, kFlags[f], kKindNames[kind]);
          }
        }
      }
      free(in);
    }
  }
  free(x);
}

/* src -> dst (2 threads, the default target) keeps every value: both
 * decoded to F32 agree. Returns the transcode (its status and bytes). */
static struct run check_values_kept(bitnet_type dst, bitnet_type src, const uint8_t* in, size_t in_bytes,
                                    int64_t rows, int64_t cols, int want_status, const char* what) {
  const size_t n = (size_t)(rows * cols);
  size_t bytes = 0;
  bitnet_tensor_size(dst, rows, cols, &bytes);
  const bitnet_tensor_options o = opts(BITNET_CPU_AUTO, 2);
  const struct run out = transcode_on(dst, &o, src, in, in_bytes, rows, cols, bytes);
  check(out.status == want_status, "%s %s -> %s: status %d, want %d", what, bitnet_type_name(src),
        bitnet_type_name(dst), out.status, want_status);
  if (out.status == BITNET_OK) {
    float* want = malloc(n * sizeof(float));
    float* got = malloc(n * sizeof(float));
    check(bitnet_tensor_dequantize(src, &o, in, in_bytes, rows, cols, BITNET_TYPE_F32, want, n * sizeof(float)) ==
                  BITNET_OK &&
              bitnet_tensor_dequantize(dst, &o, out.out, bytes, rows, cols, BITNET_TYPE_F32, got,
                                       n * sizeof(float)) == BITNET_OK &&
              memcmp(want, got, n * sizeof(float)) == 0,
          "%s %s -> %s: values differ", what, bitnet_type_name(src), bitnet_type_name(dst));
    free(want);
    free(got);
  }
  return out;
}

/* Blocks of one non-zero element each, at every position of a block (its
 * block's scale must stay), and an all-zero block: from TQ1_0, TQ2_0 and
 * I2_S to the others, on every target, through Q2_0, values kept. */
static void single_element_cases(const bitnet_cpu_target* targets, int count) {
  static const bitnet_type kLayouts[3] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S};
  const int64_t rows = 257, cols = 256;
  const size_t n = (size_t)(rows * cols);
  float* x = calloc(n, sizeof(float));
  for (size_t r = 0; r < 256; ++r) x[r * 256 + r] = r % 2 ? -1.0f : 1.0f;
  for (int si = 0; si < 3; ++si) {
    size_t in_bytes = 0;
    bitnet_tensor_size(kLayouts[si], rows, cols, &in_bytes);
    uint8_t* in = malloc(in_bytes);
    bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
    o.ternarize = BITNET_TERNARIZE_NONE;
    check(bitnet_tensor_quantize(kLayouts[si], &o, BITNET_TYPE_F32, x, rows, cols, in, in_bytes) == BITNET_OK,
          "single elements: quantize %s: %s", bitnet_type_name(kLayouts[si]), bitnet_last_error());
    for (int di = 0; di < 3; ++di) {
      if (di == si) continue;
      check_transcode(kLayouts[di], kLayouts[si], in, in_bytes, rows, cols, 0, targets, count, "single elements");
      check_direct_route(kLayouts[di], kLayouts[si], in, in_bytes, rows, cols, 0, "single elements");
      free(check_values_kept(kLayouts[di], kLayouts[si], in, in_bytes, rows, cols, BITNET_OK, "single elements").out);
    }
    free(in);
  }
  free(x);
}

/* TQ1_0 blocks of any bytes: every byte value in every byte of the block
 * (blocks 0..255; ggml decodes bytes above 242 too), then blocks whose
 * digits are all 1 (all-zero values: the target block's scale is 0) between
 * random ones, under one scale (so that I2_S holds them) or several. To
 * TQ2_0, I2_S and Q2_0 on every target and through Q2_0; the values kept
 * (as decoded to F32); TQ2_0 -> TQ1_0 -> TQ2_0 gives the same bytes. */
static void trit_byte_cases(const bitnet_cpu_target* targets, int count) {
  static const bitnet_type kTargets[3] = {BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, BITNET_TYPE_Q2_0};
  static const uint32_t kFlags[3] = {0, BITNET_TENSOR_ALLOW_SCALE_ROUNDING, BITNET_TENSOR_UNIT_SCALE};
  const int64_t rows = 291, cols = 256; /* an odd number of blocks */
  size_t in_bytes = 0;
  bitnet_tensor_size(BITNET_TYPE_TQ1_0, rows, cols, &in_bytes);
  uint8_t* in = malloc(in_bytes);
  for (int scales = 0; scales < 2; ++scales) {
    uint64_t s = 17 + (uint64_t)scales;
    for (size_t b = 0; b < (size_t)rows; ++b) {
      uint8_t* block = in + b * 54;
      const int zero = b >= 256 && b % 3 != 0;
      for (size_t i = 0; i < 52; ++i) {
        block[i] = b < 256 ? (uint8_t)(b + 101 * i) : zero ? (i < 48 ? 128 : 127) : (uint8_t)rng_next(&s);
      }
      const uint16_t h = scales ? (uint16_t)(0x3C00 + b % 5) : 0x3C00;
      memcpy(block + 52, &h, 2);
    }
    for (int di = 0; di < 3; ++di) {
      for (int f = 0; f < 3; ++f) {
        const char* what = scales ? "any bytes, several scales" : "any bytes, one scale";
        check_transcode(kTargets[di], BITNET_TYPE_TQ1_0, in, in_bytes, rows, cols, kFlags[f], targets, count, what);
        if (has_direct_route(kTargets[di], BITNET_TYPE_TQ1_0)) {
          check_direct_route(kTargets[di], BITNET_TYPE_TQ1_0, in, in_bytes, rows, cols, kFlags[f], what);
        }
      }
      size_t bytes = 0;
      bitnet_tensor_size(kTargets[di], rows, cols, &bytes);
      const bitnet_tensor_options o = opts(BITNET_CPU_AUTO, 2);
      const int want = scales && kTargets[di] == BITNET_TYPE_I2_S ? BITNET_E_INVALID_DATA : BITNET_OK;
      const struct run out = check_values_kept(kTargets[di], BITNET_TYPE_TQ1_0, in, in_bytes, rows, cols, want,
                                               scales ? "any bytes, several scales" : "any bytes, one scale");
      if (out.status == BITNET_OK) {
        for (size_t b = 256; b < (size_t)rows && kTargets[di] == BITNET_TYPE_TQ2_0; ++b) {
          uint16_t h;
          memcpy(&h, out.out + b * 66 + 64, 2);
          if (!check((h == 0) == (b % 3 != 0), "TQ1_0 -> TQ2_0 block %zu: scale 0x%04x", b, (unsigned)h)) break;
        }
      }
      if (out.status == BITNET_OK && kTargets[di] == BITNET_TYPE_TQ2_0) {
        /* TQ2_0 -> TQ1_0 -> TQ2_0: the digits 0..2 come back as they were. */
        uint8_t* trits = malloc(in_bytes);
        const int to_trits = bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, &o, BITNET_TYPE_TQ2_0, out.out, bytes, rows,
                                                     cols, trits, in_bytes);
        const struct run again = transcode_on(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_TQ1_0, trits, in_bytes, rows, cols,
                                              bytes);
        check(to_trits == BITNET_OK && again.status == BITNET_OK && memcmp(again.out, out.out, bytes) == 0,
              "TQ2_0 -> TQ1_0 -> TQ2_0 (scales %d): status %d, %d, bytes differ", scales, to_trits, again.status);
        free(again.out);
        free(trits);
      }
      free(out.out);
    }
  }
  free(in);
}

/* ---- ternarize and i8s --------------------------------------------------------------- */

static void check_ternarize(const float* x, int64_t rows, int64_t cols, int64_t group, float threshold,
                            const bitnet_cpu_target* targets, int count, const char* what) {
  const size_t n = (size_t)(rows * cols);
  const size_t units = group == 0 ? 1 : group < 0 ? (size_t)rows : n / (size_t)group;
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.group_size = group;
  o.threshold = threshold;
  int8_t* q_ref = malloc(n);
  float* a_ref = malloc(units * sizeof(float));
  const int st_ref = bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, q_ref, n, a_ref, units);
  int8_t* q = malloc(n);
  float* a = malloc(units * sizeof(float));
  for (int t = 0; t < count; ++t) {
    o.cpu_target = targets[t];
    o.n_threads = next_threads();
    const int st = bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, q, n, a, units);
    const char* tname = bitnet_cpu_target_name(targets[t]);
    if (!check(st == st_ref, "ternarize %s %lldx%lld group %lld (%s): status %d, REFERENCE %d", what,
               (long long)rows, (long long)cols, (long long)group, tname, st, st_ref) ||
        st != BITNET_OK) {
      continue;
    }
    check(memcmp(q, q_ref, n) == 0, "ternarize %s %lldx%lld group %lld (%s): code %ld differs", what,
          (long long)rows, (long long)cols, (long long)group, tname,
          first_byte_diff((const uint8_t*)q, (const uint8_t*)q_ref, n));
    check(memcmp(a, a_ref, units * sizeof(float)) == 0,
          "ternarize %s %lldx%lld group %lld (%s): alpha %ld differs", what, (long long)rows,
          (long long)cols, (long long)group, tname, first_float_diff(a, a_ref, units));
  }
  free(q_ref);
  free(a_ref);
  free(q);
  free(a);
}

/* The sum of |x| in the mean's documented order (one chunk): element i
 * added in double to partial i % 16, the partials folded by halves; or, for
 * the comparison, with `lanes` partials (1: a plain running sum). */
static double abs_sum_in_order(const float* x, size_t n, size_t lanes) {
  double p[32] = {0};
  for (size_t i = 0; i < n; ++i) p[i % lanes] += fabs((double)x[i]);
  for (size_t half = lanes / 2; half > 0; half /= 2) {
    for (size_t i = 0; i < half; ++i) p[i] += p[i + half];
  }
  return p[0];
}

/* alpha = 1 / s, s = 1 / max((float)(sum / n), 1e-5f). */
static float alpha_of(double sum, size_t n) {
  const float mean = (float)(sum / (double)n);
  const float s = 1.0f / (mean > 1e-5f ? mean : 1e-5f);
  return 1.0f / s;
}

/* Rows of 48 whose alpha depends on the order of the double sum: four
 * large values whose sum puts the mean exactly on a float tie, and sparse
 * values below half an ulp of the large partials, which survive only where
 * they meet each other first. Kept only where the documented order gives
 * another alpha than a running sum or 8 or 32 partials would. */
static void order_sensitive_rows(float* x, size_t rows, uint64_t seed) {
  const size_t cols = 48;
  static const float kLarge[4] = {32.0f, 16.0f, 0x1p-19f, 0x1p-20f};
  static const float kSmall[6] = {0.0f, 0.0f, 0.0f, 0x1p-51f, 0x1p-50f, 0x3p-51f};
  uint64_t s = seed;
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (;;) {
      for (size_t i = 0; i < cols; ++i) row[i] = kSmall[rng_next(&s) % 6] * ((rng_next(&s) & 1) ? -1 : 1);
      for (size_t k = 0; k < 4; ++k) row[rng_next(&s) % cols] = kLarge[k];
      const float documented = alpha_of(abs_sum_in_order(row, cols, 16), cols);
      const float other = alpha_of(abs_sum_in_order(row, cols, r % 3 == 0 ? 1 : r % 3 == 1 ? 8 : 32), cols);
      if (documented != other) break;
    }
  }
}

/* The documented order itself: each row's alpha from REFERENCE equals the
 * one computed here, and every target's (check_ternarize) REFERENCE's. */
static void order_cases(const bitnet_cpu_target* targets, int count) {
  const size_t rows = 24, cols = 48, n = rows * cols;
  float* x = malloc(n * sizeof(float));
  order_sensitive_rows(x, rows, 2024);
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.group_size = -1;
  int8_t* q = malloc(n);
  float alphas[24];
  check(bitnet_ternarize(&o, BITNET_TYPE_F32, x, (int64_t)rows, (int64_t)cols, q, n, alphas, rows) == BITNET_OK,
        "ternarize order-sensitive rows: %s", bitnet_last_error());
  for (size_t r = 0; r < rows; ++r) {
    const float want = alpha_of(abs_sum_in_order(x + r * cols, cols, 16), cols);
    check(same_float(alphas[r], want), "order-sensitive row %zu: alpha %a, the documented order gives %a", r,
          (double)alphas[r], (double)want);
  }
  check_ternarize(x, (int64_t)rows, (int64_t)cols, -1, 0.0f, targets, count, "order-sensitive");
  free(q);
  free(x);
}

static void ternarize_cases(const bitnet_cpu_target* targets, int count) {
  /* Units of every width: whole tensors over several 65536-element chunks
   * (the last one ending inside a group of 16), rows, groups. */
  static const int64_t kShapes[][3] = {{3, 23335, 0}, {5, 100, -1}, {4, 2560, 128}, {1, 7, 0},
                                       {2, 65536, -1}, {9, 48, 16}};
  for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
    const int64_t rows = kShapes[si][0], cols = kShapes[si][1], group = kShapes[si][2];
    const size_t n = (size_t)(rows * cols);
    float* x = malloc(n * sizeof(float));
    for (int kind = 0; kind < NUM_KINDS; ++kind) {
      fill_kind(kind, x, n, 256, 31 * si + (uint64_t)kind);
      check_ternarize(x, rows, cols, group, 0.0f, targets, count, kKindNames[kind]);
      check_ternarize(x, rows, cols, group, 0.7f, targets, count, kKindNames[kind]);
    }
    /* Nearly ternary: one magnitude off by an ulp, late in the tensor. */
    fill_kind(TERNARY, x, n, 256, 99 + si);
    for (size_t i = n - 1; i > 0; --i) {
      if (x[i] != 0.0f) {
        x[i] = nextafterf(x[i], 0.0f);
        break;
      }
    }
    check_ternarize(x, rows, cols, group, 0.0f, targets, count, "nearly ternary");
    /* Already ternary after zeros, with a NaN or an Inf at the end (rejected). */
    fill_kind(TERNARY, x, n, 256, 7 + si);
    x[n - 1] = float_from_bits(0x7F800001u);
    check_ternarize(x, rows, cols, group, 0.0f, targets, count, "signalling NaN last");
    x[n - 1] = -INFINITY;
    check_ternarize(x, rows, cols, group, 0.0f, targets, count, "-Inf last");
    free(x);
  }
}

static void check_i8s(const float* x, int64_t rows, int64_t cols, const bitnet_cpu_target* targets,
                      int count, const char* what) {
  const size_t n = (size_t)(rows * cols), r = (size_t)rows;
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  int8_t *q_ref = malloc(n), *q = malloc(n);
  float *s_ref = malloc(r * 4), *sc = malloc(r * 4);
  int32_t *sum_ref = malloc(r * 4), *sum = malloc(r * 4);
  check(bitnet_quantize_i8s(&o, BITNET_TYPE_F32, x, rows, cols, q_ref, n, s_ref, r, sum_ref, r) == BITNET_OK,
        "i8s %s: %s", what, bitnet_last_error());
  for (int t = 0; t < count; ++t) {
    o.cpu_target = targets[t];
    o.n_threads = next_threads();
    const int st = bitnet_quantize_i8s(&o, BITNET_TYPE_F32, x, rows, cols, q, n, sc, r, sum, r);
    check(st == BITNET_OK && memcmp(q, q_ref, n) == 0 && memcmp(sc, s_ref, r * 4) == 0 &&
              memcmp(sum, sum_ref, r * 4) == 0,
          "i8s %s %lldx%lld (%s): status %d, q %ld, scale %ld, sum differs %d", what, (long long)rows,
          (long long)cols, bitnet_cpu_target_name(targets[t]), st,
          first_byte_diff((const uint8_t*)q, (const uint8_t*)q_ref, n), first_float_diff(sc, s_ref, r),
          memcmp(sum, sum_ref, r * 4) != 0);
  }
  free(q_ref);
  free(q);
  free(s_ref);
  free(sc);
  free(sum_ref);
  free(sum);
}

static void i8s_cases(const bitnet_cpu_target* targets, int count) {
  static const int64_t kShapes[][2] = {{3, 1}, {5, 7}, {3, 16}, {7, 100}, {4, 2560}, {3, 6912}};
  for (size_t si = 0; si < sizeof kShapes / sizeof kShapes[0]; ++si) {
    const int64_t rows = kShapes[si][0], cols = kShapes[si][1];
    const size_t n = (size_t)(rows * cols);
    float* x = malloc(n * sizeof(float));
    for (int kind = 0; kind < NUM_KINDS; ++kind) {
      /* Rows are the blocks of the adversarial patterns. */
      fill_kind(kind, x, n, (size_t)cols, 53 * si + (uint64_t)kind);
      check_i8s(x, rows, cols, targets, count, kKindNames[kind]);
    }
    /* Rows below the 1e-5 floor. */
    for (size_t i = 0; i < n; ++i) x[i] = (float)((double)(i % 17) * 1e-7 - 8e-7);
    check_i8s(x, rows, cols, targets, count, "below the floor");
    free(x);
  }
}

int main(void) {
  bitnet_cpu_target all[32];
  const int supported = supported_targets(all);
  /* REFERENCE is the first; the others are compared with it. */
  const bitnet_cpu_target* targets = all + 1;
  const int count = supported - 1;
  printf("targets:");
  for (int t = 0; t < count; ++t) printf(" %s", bitnet_cpu_target_name(targets[t]));
  printf("\n");
  quantize_cases(targets, count);
  dequantize_cases(targets, count);
  ternarize_cases(targets, count);
  order_cases(targets, count);
  transcode_cases(targets, count);
  trit_byte_cases(targets, count);
  single_element_cases(targets, count);
  i8s_cases(targets, count);
  return finish("tensor_random");
}
