/* The tensor API's promises that no engine's golden vectors cover, each
 * checked against an independent statement of the rule written here:
 * transcoding (codes kept, the I2_S -> TQ2_0 per-byte pair reversal, scale
 * rounding only when allowed, equality with quantizing the decoded values as
 * llama_model_quantize does), transformers' packed layout, BitNet-rs's
 * family A through the tensor API, absmean per tensor/row/group and its
 * invariance to threads and targets, the element types, i8s. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_util.h"

static bitnet_tensor_options opts(bitnet_cpu_target target, int threads) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = target;
  o.n_threads = threads;
  return o;
}

static size_t size_of(bitnet_type t, int64_t rows, int64_t cols) {
  size_t bytes = 0;
  if (bitnet_tensor_size(t, rows, cols, &bytes) != BITNET_OK) return 0;
  return bytes;
}

/* A ternary tensor q * alpha (q in -1..1, some all-zero 256-blocks). */
static float* ternary_values(int64_t rows, int64_t cols, float alpha, uint64_t seed, int8_t* q) {
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  uint64_t s = seed;
  for (size_t i = 0; i < n; ++i) {
    const int zero_block = ((i / 256) % 7) == 3;
    const int v = zero_block ? 0 : (int)(rng_next(&s) % 3) - 1;
    q[i] = (int8_t)v;
    x[i] = (float)v * alpha;
  }
  return x;
}

static uint8_t* quantize_new(bitnet_type t, const bitnet_tensor_options* o, const float* x,
                             int64_t rows, int64_t cols, size_t* bytes) {
  *bytes = size_of(t, rows, cols);
  uint8_t* out = malloc(*bytes + 1);
  const int status = bitnet_tensor_quantize(t, o, BITNET_TYPE_F32, x, rows, cols, out, *bytes);
  check(status == BITNET_OK, "quantize to %s: %d %s", bitnet_type_name(t), status, bitnet_last_error());
  return out;
}

static float* decode_new(bitnet_type t, const bitnet_tensor_options* o, const uint8_t* in,
                         size_t bytes, int64_t rows, int64_t cols) {
  const size_t n = (size_t)(rows * cols);
  float* y = malloc(n * sizeof(float) + 1);
  const int status = bitnet_tensor_dequantize(t, o, in, bytes, rows, cols, BITNET_TYPE_F32, y, n * sizeof(float));
  check(status == BITNET_OK, "dequantize %s: %d %s", bitnet_type_name(t), status, bitnet_last_error());
  return y;
}

static int rev_pairs(int byte) {
  return ((byte & 3) << 6) | (((byte >> 2) & 3) << 4) | (((byte >> 4) & 3) << 2) | ((byte >> 6) & 3);
}

/* A chain of transcodes through every ternary layout comes back to the
 * same bytes, and each hop keeps every decoded value. */
static void transcode_chain(bitnet_cpu_target target) {
  const int64_t rows = 8, cols = 512;
  const size_t n = (size_t)(rows * cols);
  int8_t* q = malloc(n);
  float* x = ternary_values(rows, cols, 0.375f, 11, q); /* alpha exact in f16 */
  bitnet_tensor_options o = opts(target, 2);
  const bitnet_type chain[] = {BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0,
                               BITNET_TYPE_Q2_0, BITNET_TYPE_HF_BITNET, BITNET_TYPE_BITNET_RS_I2S,
                               BITNET_TYPE_TQ2_0};
  size_t bytes = 0;
  uint8_t* cur = quantize_new(chain[0], &o, x, rows, cols, &bytes);
  uint8_t* first = malloc(bytes);
  memcpy(first, cur, bytes);
  for (size_t h = 1; h < sizeof chain / sizeof chain[0]; ++h) {
    const size_t out_bytes = size_of(chain[h], rows, cols);
    uint8_t* next = malloc(out_bytes);
    const int status = bitnet_tensor_transcode(chain[h], &o, chain[h - 1], cur, bytes, rows, cols, next, out_bytes);
    check(status == BITNET_OK, "transcode %s -> %s: %d %s", bitnet_type_name(chain[h - 1]),
          bitnet_type_name(chain[h]), status, bitnet_last_error());
    float* y = decode_new(chain[h], &o, next, out_bytes, rows, cols);
    check(first_float_diff(y, x, n) < 0, "%s -> %s changed value %ld", bitnet_type_name(chain[h - 1]),
          bitnet_type_name(chain[h]), first_float_diff(y, x, n));
    free(y);
    free(cur);
    cur = next;
    bytes = out_bytes;
  }
  check(memcmp(cur, first, bytes) == 0, "the transcode chain did not return TQ2_0's bytes (%s)",
        bitnet_cpu_target_name(target));
  free(cur);
  free(first);
  free(x);
  free(q);
}

/* I2_S -> TQ2_0: for each 256-block, qs[m] = rev_pairs(i2s[64b + m]) and d =
 * f16(alpha) (0 in an all-zero block), as the interop notes state. */
static void i2s_to_tq2(void) {
  const int64_t rows = 4, cols = 2560;
  const size_t n = (size_t)(rows * cols);
  int8_t* q = malloc(n);
  float* x = ternary_values(rows, cols, 0.0123f, 5, q); /* not exact in f16 */
  bitnet_tensor_options o = opts(BITNET_CPU_AUTO, 1);
  size_t ibytes = 0;
  uint8_t* i2s = quantize_new(BITNET_TYPE_I2_S, &o, x, rows, cols, &ibytes);
  const size_t tbytes = size_of(BITNET_TYPE_TQ2_0, rows, cols);
  uint8_t* tq = malloc(tbytes);
  memset(tq, POISON, tbytes);
  int status = bitnet_tensor_transcode(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_I2_S, i2s, ibytes, rows, cols, tq, tbytes);
  check(status == BITNET_E_INEXACT_SCALE && untouched(tq, tbytes),
        "an f32 scale f16 cannot hold: status %d, want BITNET_E_INEXACT_SCALE and nothing written", status);
  check(bitnet_last_error() != NULL && strstr(bitnet_last_error(), "ALLOW_SCALE_ROUNDING") != NULL,
        "the message names the flag: %s", bitnet_last_error());
  o.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
  status = bitnet_tensor_transcode(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_I2_S, i2s, ibytes, rows, cols, tq, tbytes);
  check(status == BITNET_OK, "transcode with rounding: %d", status);
  long bad = -1;
  for (size_t b = 0; b < n / 256 && bad < 0; ++b) {
    int any = 0;
    for (int m = 0; m < 64; ++m) {
      if (tq[b * 66 + m] != rev_pairs(i2s[64 * b + m])) bad = (long)b;
      any |= i2s[64 * b + m] != 0x55;
    }
    uint16_t d;
    memcpy(&d, tq + b * 66 + 64, 2);
    const uint16_t want = any ? 0x224C /* f16(0.0123) */ : 0;
    if (d != want) bad = (long)b;
  }
  check(bad < 0, "I2_S -> TQ2_0 block %ld is not the pair reversal with d = f16(alpha)", bad);
  /* The same bytes as quantizing the decoded values (what llama_model_quantize does). */
  float* y = decode_new(BITNET_TYPE_I2_S, &o, i2s, ibytes, rows, cols);
  size_t qbytes = 0;
  uint8_t* direct = quantize_new(BITNET_TYPE_TQ2_0, &o, y, rows, cols, &qbytes);
  check(memcmp(direct, tq, tbytes) == 0, "I2_S -> TQ2_0 differs from quantizing its decoded values");
  /* Also TQ1_0 and Q2_0. */
  const bitnet_type others[2] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_Q2_0};
  for (int k = 0; k < 2; ++k) {
    const size_t b2 = size_of(others[k], rows, cols);
    uint8_t* t = malloc(b2);
    check(bitnet_tensor_transcode(others[k], &o, BITNET_TYPE_I2_S, i2s, ibytes, rows, cols, t, b2) == BITNET_OK,
          "I2_S -> %s", bitnet_type_name(others[k]));
    size_t b3 = 0;
    uint8_t* d = quantize_new(others[k], &o, y, rows, cols, &b3);
    check(memcmp(d, t, b2) == 0, "I2_S -> %s differs from quantizing the decoded values",
          bitnet_type_name(others[k]));
    free(t);
    free(d);
  }
  /* Unit scales: d = 1 in blocks with a non-zero code, 0 in the others. */
  o.flags = BITNET_TENSOR_UNIT_SCALE;
  check(bitnet_tensor_transcode(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_I2_S, i2s, ibytes, rows, cols, tq, tbytes) == BITNET_OK,
        "unit-scale transcode");
  bad = -1;
  for (size_t b = 0; b < n / 256; ++b) {
    uint16_t d;
    memcpy(&d, tq + b * 66 + 64, 2);
    if (d != (((b % 7) == 3) ? 0 : 0x3C00)) bad = (long)b;
  }
  check(bad < 0, "unit scale: block %ld has the wrong d", bad);
  free(direct);
  free(y);
  free(tq);
  free(i2s);
  free(x);
  free(q);
}

/* Sources whose blocks all store one scale transcode in one pass to a
 * per-tensor target or to coarser blocks: the values are kept, a target
 * block (or the I2_S tensor) whose values are all 0 gets scale 0 whatever
 * the source's blocks store, and unit scales give 1 where a value is not 0. */
static void uniform_scales(bitnet_cpu_target target) {
  const int64_t rows = 2, cols = 512;
  const size_t n = (size_t)(rows * cols);
  const bitnet_type sources[3] = {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_Q2_0};
  const bitnet_type targets[3] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0};
  float* x = calloc(n, sizeof(float));
  for (int threads = 1; threads <= 3; threads += 2) {
    bitnet_tensor_options o = opts(target, threads);
    for (int s = 0; s < 3; ++s) {
      for (int one = 0; one <= 1; ++one) { /* all zero, or one element 0.5 */
        x[n - 3] = one ? 0.5f : 0.0f;
        size_t bytes = 0;
        uint8_t* src = quantize_new(sources[s], &o, x, rows, cols, &bytes);
        bitnet_type_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        bitnet_type_get_info(sources[s], &info);
        /* TQ's d ends its block, Q2_0's starts it. */
        const size_t at = sources[s] == BITNET_TYPE_Q2_0 ? 0 : (size_t)info.block_bytes - 2;
        const uint16_t half_05 = 0x3800;
        for (size_t b = 0; b < bytes / info.block_bytes; ++b) memcpy(src + b * info.block_bytes + at, &half_05, 2);
        for (int t = 0; t < 3; ++t) {
          if (targets[t] == sources[s]) continue;
          for (int unit = 0; unit <= 1; ++unit) {
            o.flags = unit ? BITNET_TENSOR_UNIT_SCALE : 0u;
            const size_t out_bytes = size_of(targets[t], rows, cols);
            uint8_t* out = malloc(out_bytes);
            int status = bitnet_tensor_transcode(targets[t], &o, sources[s], src, bytes, rows, cols, out, out_bytes);
            if (!check(status == BITNET_OK, "%s: uniform %s -> %s (one %d, unit %d, %d threads): %d %s",
                       bitnet_cpu_target_name(target), bitnet_type_name(sources[s]), bitnet_type_name(targets[t]),
                       one, unit, threads, status, bitnet_last_error())) {
              free(out);
              continue;
            }
            o.flags = 0u;
            float* y = decode_new(targets[t], &o, out, out_bytes, rows, cols);
            const float value = unit ? 1.0f : 0.5f;
            long bad = -1;
            for (size_t i = 0; i < n && bad < 0; ++i) {
              if (!same_float(y[i], (one && i == n - 3) ? value : 0.0f)) bad = (long)i;
            }
            /* The stored scales: 0 in every target block (or tensor) without a non-zero value. */
            bitnet_type_info di;
            memset(&di, 0, sizeof di);
            di.struct_size = sizeof di;
            bitnet_type_get_info(targets[t], &di);
            const float want_tensor = one ? value : 0.0f;
            float tensor_scale = -1.0f;
            long bad_scale = -1;
            if (targets[t] == BITNET_TYPE_I2_S) {
              memcpy(&tensor_scale, out + n / 4, sizeof tensor_scale);
              if (!same_float(tensor_scale, want_tensor)) bad_scale = 0;
            } else {
              const size_t blocks = n / (size_t)di.block_elements;
              for (size_t b = 0; b < blocks; ++b) {
                uint16_t d;
                memcpy(&d, out + b * di.block_bytes + di.block_bytes - 2, 2);
                const uint16_t want = (one && b == blocks - 1) ? (unit ? 0x3C00 : half_05) : 0;
                if (d != want) bad_scale = (long)b;
              }
            }
            check(bad < 0 && bad_scale < 0,
                  "%s: uniform %s -> %s (one %d, unit %d, %d threads): value %ld or scale %ld wrong",
                  bitnet_cpu_target_name(target), bitnet_type_name(sources[s]), bitnet_type_name(targets[t]), one,
                  unit, threads, bad, bad_scale);
            free(y);
            free(out);
          }
        }
        free(src);
      }
    }
  }
  free(x);
}

static void transcode_errors(bitnet_cpu_target target) {
  const int64_t rows = 2, cols = 256;
  const size_t n = (size_t)(rows * cols);
  bitnet_tensor_options o = opts(target, 1);
  const char* on = bitnet_cpu_target_name(target);
  /* TQ2_0 with code 3 (+2) cannot become TQ1_0. */
  float* x = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) x[i] = (float)(int)(i % 3) - 1.0f;
  size_t bytes = 0;
  uint8_t* tq2 = quantize_new(BITNET_TYPE_TQ2_0, &o, x, rows, cols, &bytes);
  tq2[70] = 0xFF; /* block 1, four codes 3 */
  const size_t tq1_bytes = size_of(BITNET_TYPE_TQ1_0, rows, cols);
  uint8_t* out = malloc(tq1_bytes);
  memset(out, POISON, tq1_bytes);
  int status = bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, &o, BITNET_TYPE_TQ2_0, tq2, bytes, rows, cols, out, tq1_bytes);
  check(status == BITNET_E_INVALID_DATA && untouched(out, tq1_bytes), "+2 into TQ1_0 on %s: status %d", on, status);
  check(strstr(bitnet_last_error(), "+2") != NULL, "message names the value: %s", bitnet_last_error());
  /* A single code 3 anywhere among zeros (code 1): each field of bytes at
   * the starts and ends of the 8-byte words a scan may test together. */
  uint8_t* saved = malloc(bytes);
  memcpy(saved, tq2, bytes);
  static const size_t kBytes[] = {0, 1, 7, 8, 31, 32, 55, 63};
  for (size_t bi = 0; bi < sizeof kBytes / sizeof kBytes[0]; ++bi) {
    for (unsigned f = 0; f < 4; ++f) {
      for (size_t b = 0; b < 2; ++b) memset(tq2 + b * 66, 0x55, 64);
      const size_t j = kBytes[bi];
      tq2[66 + j] = (uint8_t)(0x55 | (3u << (2 * f)));
      memset(out, POISON, tq1_bytes);
      status = bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, &o, BITNET_TYPE_TQ2_0, tq2, bytes, rows, cols, out, tq1_bytes);
      char want[64];
      snprintf(want, sizeof want, "element %zu ", 256 + (j / 32) * 128 + 32 * f + j % 32);
      check(status == BITNET_E_INVALID_DATA && untouched(out, tq1_bytes) && strstr(bitnet_last_error(), want),
            "one +2 (byte %zu, field %u) into TQ1_0 on %s: status %d, %s", j, f, on, status, bitnet_last_error());
    }
  }
  /* The same from I2_S (one code 3 in its second 128-block). */
  {
    size_t ibytes = 0;
    uint8_t* i2s_src = quantize_new(BITNET_TYPE_I2_S, &o, x, rows, cols, &ibytes);
    memset(i2s_src, 0x55, n / 4);
    i2s_src[32 + 17] = 0x5D; /* a field 3 */
    memset(out, POISON, tq1_bytes);
    status = bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, &o, BITNET_TYPE_I2_S, i2s_src, ibytes, rows, cols, out, tq1_bytes);
    check(status == BITNET_E_INVALID_DATA && untouched(out, tq1_bytes) && strstr(bitnet_last_error(), "+2"),
          "one +2 from I2_S into TQ1_0 on %s: status %d, %s", on, status, bitnet_last_error());
    free(i2s_src);
  }
  /* And from Q2_0 (18-byte blocks, the scale first; element 4m + r in
   * field r of code byte m): one code 3 in its second block. */
  {
    size_t qbytes = 0;
    uint8_t* q2_src = quantize_new(BITNET_TYPE_Q2_0, &o, x, rows, cols, &qbytes);
    for (size_t b = 0; b < n / 64; ++b) memset(q2_src + b * 18 + 2, 0x55, 16);
    q2_src[18 + 2 + 5] = 0x5D; /* element 64 + 4 * 5 + 1 */
    memset(out, POISON, tq1_bytes);
    status = bitnet_tensor_transcode(BITNET_TYPE_TQ1_0, &o, BITNET_TYPE_Q2_0, q2_src, qbytes, rows, cols, out, tq1_bytes);
    check(status == BITNET_E_INVALID_DATA && untouched(out, tq1_bytes) && strstr(bitnet_last_error(), "element 85 "),
          "one +2 from Q2_0 into TQ1_0 on %s: status %d, %s", on, status, bitnet_last_error());
    free(q2_src);
  }
  memcpy(tq2, saved, bytes);
  free(saved);
  /* Two blocks with different d cannot share I2_S's one scale. */
  tq2[70] = 0x55;
  const uint16_t other_d = 0x4000; /* 2.0 */
  memcpy(tq2 + 66 + 64, &other_d, 2);
  const size_t i2s_bytes = size_of(BITNET_TYPE_I2_S, rows, cols);
  uint8_t* i2s = malloc(i2s_bytes);
  memset(i2s, POISON, i2s_bytes);
  status = bitnet_tensor_transcode(BITNET_TYPE_I2_S, &o, BITNET_TYPE_TQ2_0, tq2, bytes, rows, cols, i2s, i2s_bytes);
  check(status == BITNET_E_INVALID_DATA && untouched(i2s, i2s_bytes), "disagreeing scales: %d", status);
  /* A NaN scale defines no values. */
  const uint16_t nan_d = 0x7E00;
  memcpy(tq2 + 66 + 64, &nan_d, 2);
  status = bitnet_tensor_transcode(BITNET_TYPE_I2_S, &o, BITNET_TYPE_TQ2_0, tq2, bytes, rows, cols, i2s, i2s_bytes);
  check(status == BITNET_E_INVALID_DATA && untouched(i2s, i2s_bytes), "NaN scale: %d", status);
  /* So does an infinite one in a block of zeros, whose scale no value uses
   * (the byte re-pack to I2_S, and TQ1_0's route through values). */
  {
    size_t zbytes = 0;
    uint8_t* zero_block = quantize_new(BITNET_TYPE_TQ2_0, &o, x, rows, cols, &zbytes);
    memset(zero_block + 66, 0x55, 64);
    const uint16_t inf_d = 0x7C00;
    memcpy(zero_block + 66 + 64, &inf_d, 2);
    static const bitnet_type kTargets[] = {BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0};
    for (size_t ti = 0; ti < 2; ++ti) {
      memset(out, POISON, tq1_bytes);
      memset(i2s, POISON, i2s_bytes);
      uint8_t* dst = kTargets[ti] == BITNET_TYPE_I2_S ? i2s : out;
      const size_t dst_bytes = kTargets[ti] == BITNET_TYPE_I2_S ? i2s_bytes : tq1_bytes;
      status = bitnet_tensor_transcode(kTargets[ti], &o, BITNET_TYPE_TQ2_0, zero_block, zbytes, rows, cols, dst, dst_bytes);
      check(status == BITNET_E_INVALID_DATA && untouched(dst, dst_bytes) && strstr(bitnet_last_error(), "element 256 "),
            "Inf scale of a zero block into %s: %d, %s", bitnet_type_name(kTargets[ti]), status, bitnet_last_error());
    }
    free(zero_block);
    /* I2_S's one scale, infinite, to TQ2_0 (the byte re-pack again). */
    uint8_t* i2s_inf = quantize_new(BITNET_TYPE_I2_S, &o, x, rows, cols, &zbytes);
    const float inf = INFINITY;
    memcpy(i2s_inf + n / 4, &inf, sizeof inf);
    const size_t tq2_bytes = size_of(BITNET_TYPE_TQ2_0, rows, cols);
    uint8_t* tq2_out = malloc(tq2_bytes);
    memset(tq2_out, POISON, tq2_bytes);
    status = bitnet_tensor_transcode(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_I2_S, i2s_inf, zbytes, rows, cols, tq2_out, tq2_bytes);
    check(status == BITNET_E_INVALID_DATA && untouched(tq2_out, tq2_bytes) && strstr(bitnet_last_error(), "not finite"),
          "Inf I2_S scale into TQ2_0: %d, %s", status, bitnet_last_error());
    free(tq2_out);
    free(i2s_inf);
  }
  /* Non-ternary types are refused. */
  status = bitnet_tensor_transcode(BITNET_TYPE_Q8_0, &o, BITNET_TYPE_TQ2_0, tq2, bytes, rows, cols, i2s, i2s_bytes);
  check(status == BITNET_E_INVALID_TYPE, "Q8_0 as a transcode target: %d", status);
  free(x);
  free(tq2);
  free(out);
  free(i2s);
}

/* transformers' layout, from its definition: unpacked row k*rows/4 + r,
 * column c = ((byte[r][c] >> 2k) & 3) - 1, value q / weight_scale, where
 * weight_scale = 1 / max(mean|w|, 1e-5). */
static void hf_layout(bitnet_cpu_target target) {
  const int64_t rows = 12, cols = 40;
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  uint64_t s = 17;
  for (size_t i = 0; i < n; ++i) x[i] = (float)rng_normal(&s);
  bitnet_tensor_options o = opts(target, 3);
  size_t bytes = 0;
  uint8_t* hf = quantize_new(BITNET_TYPE_HF_BITNET, &o, x, rows, cols, &bytes);
  check(bytes == n / 4 + 4, "HF_BITNET size %zu", bytes);
  int8_t* codes = malloc(n);
  float alpha = 0;
  bitnet_tensor_options t = opts(target, 1);
  check(bitnet_ternarize(&t, BITNET_TYPE_F32, x, rows, cols, codes, n, &alpha, 1) == BITNET_OK, "ternarize");
  long bad = -1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t br = r % (rows / 4), k = r / (rows / 4);
      const int q = ((hf[br * cols + c] >> (2 * k)) & 3) - 1;
      if (q != codes[r * cols + c]) bad = (long)(r * cols + c);
    }
  }
  check(bad < 0, "HF_BITNET code of element %ld is not transformers' (%s)", bad, bitnet_cpu_target_name(target));
  float ws;
  memcpy(&ws, hf + n / 4, 4);
  check(same_float(1.0f / alpha, 1.0f / (1.0f / ws)) || same_float(ws, 1.0f / alpha),
        "weight_scale %.9g is not s = 1/alpha (alpha %.9g)", (double)ws, (double)alpha);
  float* y = decode_new(BITNET_TYPE_HF_BITNET, &o, hf, bytes, rows, cols);
  bad = -1;
  for (size_t i = 0; i < n; ++i) {
    if (!same_float(y[i], (float)codes[i] / ws)) bad = (long)i;
  }
  check(bad < 0, "HF_BITNET value %ld is not q / weight_scale", bad);
  free(y);
  free(codes);
  free(hf);
  free(x);
}

/* BitNet-rs's family A through the tensor API: the bytes of bitnet_quantize
 * (codes, then the planar scales at any byte offset). */
static void bitnet_rs_layout(bitnet_cpu_target target) {
  const int64_t rows = 3, cols = 333; /* 999 elements: odd byte count */
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  fill_random(GAUSS, x, n, 64, 23);
  const uint32_t blocks[] = {0, 64, 1024};
  for (int b = 0; b < 3; ++b) {
    bitnet_tensor_options o = opts(target, 2);
    o.block_size = blocks[b];
    const uint32_t block = blocks[b] ? blocks[b] : 32;
    const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
    const size_t bytes = packed_len + 4 * scales_len;
    uint8_t* t = malloc(bytes + 1);
    int status = bitnet_tensor_quantize(BITNET_TYPE_BITNET_RS_I2S, &o, BITNET_TYPE_F32, x, rows, cols, t + 1, bytes);
    check(status == BITNET_OK, "BITNET_RS_I2S block %u: %d %s", block, status, bitnet_last_error());
    uint8_t* packed = malloc(packed_len);
    float* scales = malloc(scales_len * sizeof(float));
    bitnet_quant_options qo = BITNET_QUANT_OPTIONS_INIT;
    qo.block_size = block;
    qo.device = BITNET_DEVICE_CPU;
    check(bitnet_quantize(BITNET_FORMAT_I2S, &qo, x, n, packed, packed_len, scales, scales_len) == BITNET_OK,
          "bitnet_quantize");
    check(memcmp(t + 1, packed, packed_len) == 0 && memcmp(t + 1 + packed_len, scales, scales_len * 4) == 0,
          "BITNET_RS_I2S block %u differs from bitnet_quantize's codes and scales", block);
    float* y = malloc(n * sizeof(float));
    float* want = malloc(n * sizeof(float));
    status = bitnet_tensor_dequantize(BITNET_TYPE_BITNET_RS_I2S, &o, t + 1, bytes, rows, cols, BITNET_TYPE_F32, y, n * 4);
    check(status == BITNET_OK && bitnet_dequantize(BITNET_FORMAT_I2S, &qo, packed, packed_len, scales, scales_len, want, n) == BITNET_OK &&
              memcmp(y, want, n * 4) == 0,
          "BITNET_RS_I2S block %u decodes otherwise than bitnet_dequantize", block);
    free(y);
    free(want);
    free(packed);
    free(scales);
    free(t);
  }
  free(x);
}

/* Absmean against its statement, computed here with a long double sum: per
 * tensor, per row, per group; every thread count gives the same bits. */
static void absmean_units(bitnet_cpu_target target) {
  const int64_t rows = 6, cols = 768;
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  uint64_t s = 31;
  for (size_t i = 0; i < n; ++i) x[i] = (float)rng_normal(&s) * (float)(1 + i / cols);
  const int64_t groups[] = {0, -1, 128};
  for (int g = 0; g < 3; ++g) {
    const size_t width = groups[g] == 0 ? n : groups[g] < 0 ? (size_t)cols : (size_t)groups[g];
    const size_t units = n / width;
    int8_t* ref_q = malloc(n);
    float* ref_alpha = malloc(units * sizeof(float));
    for (size_t u = 0; u < units; ++u) {
      long double sum = 0;
      for (size_t i = 0; i < width; ++i) sum += fabsl((long double)x[u * width + i]);
      const float mean = (float)(double)(sum / (long double)width);
      const float sc = 1.0f / (mean > 1e-5f ? mean : 1e-5f);
      ref_alpha[u] = 1.0f / sc;
      for (size_t i = 0; i < width; ++i) {
        const float v = x[u * width + i] * sc;
        ref_q[u * width + i] = fabsf(v) > 0.5f ? (v > 0 ? 1 : -1) : 0;
      }
    }
    int8_t* q0 = NULL;
    float* a0 = NULL;
    for (int threads = 1; threads <= 4; ++threads) {
      bitnet_tensor_options o = opts(target, threads);
      o.group_size = groups[g];
      int8_t* q = malloc(n);
      float* a = malloc(units * sizeof(float));
      const int status = bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, q, n, a, units);
      check(status == BITNET_OK, "ternarize group %lld: %d %s", (long long)groups[g], status, bitnet_last_error());
      if (threads == 1) {
        check(memcmp(q, ref_q, n) == 0 && memcmp(a, ref_alpha, units * 4) == 0,
              "absmean group %lld (%s) differs from the statement", (long long)groups[g],
              bitnet_cpu_target_name(target));
        q0 = q;
        a0 = a;
      } else {
        check(memcmp(q, q0, n) == 0 && memcmp(a, a0, units * 4) == 0,
              "absmean group %lld: %d threads differ from 1", (long long)groups[g], threads);
        free(q);
        free(a);
      }
    }
    free(q0);
    free(a0);
    free(ref_q);
    free(ref_alpha);
  }
  /* NaN is refused, naming the element, and nothing is written. */
  x[5 * cols + 7] = NAN;
  float alpha = 0;
  bitnet_tensor_options o = opts(target, 2);
  int8_t* codes = malloc(n);
  memset(codes, POISON, n);
  const int status = bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, codes, n, &alpha, 1);
  check(status == BITNET_E_INVALID_DATA && untouched(codes, n) && strstr(bitnet_last_error(), "(5, 7)") != NULL,
        "a NaN weight: status %d, message %s", status, bitnet_last_error());
  free(codes);
  free(x);
}

/* An already-ternary tensor keeps alpha and its codes, where absmean
 * would rescale it by its share of non-zeros. */
static void ternary_kept(void) {
  const int64_t rows = 4, cols = 256;
  const size_t n = (size_t)(rows * cols);
  int8_t* q = malloc(n);
  float* x = ternary_values(rows, cols, 0.7f, 3, q);
  int8_t* codes = malloc(n);
  float alpha = 0;
  bitnet_tensor_options o = opts(BITNET_CPU_AUTO, 1);
  check(bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, codes, n, &alpha, 1) == BITNET_OK &&
            alpha == 0.7f && memcmp(codes, q, n) == 0,
        "a ternary tensor: alpha %.9g, want 0.7", (double)alpha);
  /* Quantizing it with absmean to TQ2_0 gives what the plain rule gives. */
  o.ternarize = BITNET_TERNARIZE_ABSMEAN;
  size_t b1 = 0, b2 = 0;
  uint8_t* a = quantize_new(BITNET_TYPE_TQ2_0, &o, x, rows, cols, &b1);
  uint8_t* b = quantize_new(BITNET_TYPE_TQ2_0, NULL, x, rows, cols, &b2);
  check(memcmp(a, b, b1) == 0, "absmean changed an already-ternary tensor's TQ2_0 bytes");
  free(a);
  free(b);
  free(codes);
  free(q);
  free(x);
}

/* F16 and BF16 sources are their f32 values; F16/BF16 outputs are the f32
 * results converted. */
static void element_types(bitnet_cpu_target target) {
  const int64_t rows = 2, cols = 512;
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  fill_random(GAUSS, x, n, 256, 41);
  uint16_t* h = malloc(n * 2);
  float* xf = malloc(n * sizeof(float));
  bitnet_tensor_options o = opts(target, 2);
  const bitnet_type types[2] = {BITNET_TYPE_F16, BITNET_TYPE_BF16};
  for (int t = 0; t < 2; ++t) {
    check(bitnet_tensor_quantize(types[t], &o, BITNET_TYPE_F32, x, rows, cols, h, n * 2) == BITNET_OK, "to %s", bitnet_type_name(types[t]));
    check(bitnet_tensor_dequantize(types[t], &o, h, n * 2, rows, cols, BITNET_TYPE_F32, xf, n * 4) == BITNET_OK, "from %s", bitnet_type_name(types[t]));
    size_t b1 = 0, b2 = 0;
    uint8_t* from_f32 = quantize_new(BITNET_TYPE_TQ2_0, &o, xf, rows, cols, &b1);
    b2 = size_of(BITNET_TYPE_TQ2_0, rows, cols);
    uint8_t* from_half = malloc(b2);
    check(bitnet_tensor_quantize(BITNET_TYPE_TQ2_0, &o, types[t], h, rows, cols, from_half, b2) == BITNET_OK &&
              memcmp(from_f32, from_half, b1) == 0,
          "TQ2_0 from %s differs from TQ2_0 from its f32 values", bitnet_type_name(types[t]));
    /* Decoding to the half type = decoding to f32, then converting. */
    float* y = decode_new(BITNET_TYPE_TQ2_0, &o, from_half, b2, rows, cols);
    uint16_t* yh = malloc(n * 2);
    uint16_t* want = malloc(n * 2);
    check(bitnet_tensor_dequantize(BITNET_TYPE_TQ2_0, &o, from_half, b2, rows, cols, types[t], yh, n * 2) == BITNET_OK &&
              bitnet_tensor_quantize(types[t], &o, BITNET_TYPE_F32, y, rows, cols, want, n * 2) == BITNET_OK &&
              memcmp(yh, want, n * 2) == 0,
          "TQ2_0 -> %s is not TQ2_0 -> F32 -> %s", bitnet_type_name(types[t]), bitnet_type_name(types[t]));
    free(y);
    free(yh);
    free(want);
    free(from_f32);
    free(from_half);
  }
  free(x);
  free(h);
  free(xf);
}

/* Outputs of 8 MiB and more are streamed past the caches: the same bytes as
 * ordinary stores (BITNET_TENSOR_CACHED_OUTPUT on the reference), at a
 * 64-byte aligned destination (the decoders stream themselves), and (to
 * the first type) 16 bytes and one element past it (through a thread's
 * buffer: a large malloc'd block sits 16 bytes past a page), from every
 * source to every element type: each decoder's stores (two-bit runs,
 * consecutive fields, trits, whose F16 / BF16 qh vectors are staged; the
 * int8 and IQ2_S blocks; the element types' conversion; the row-wise
 * HF_BITNET), with a block of infinite and one of NaN scale (the
 * reference's path inside a streamed output). Under an emulator, two
 * sources to F16. */
static void streamed_outputs(const bitnet_cpu_target* targets, int count) {
  static const struct {
    bitnet_type type;
    int scale_offset; /* of a block's f16 or f32 scale, -1: none */
    int scale_bytes;
  } kSources[] = {{BITNET_TYPE_TQ1_0, 52, 2}, {BITNET_TYPE_I2_S, -1, 0},    {BITNET_TYPE_TQ2_0, 64, 2},
                  {BITNET_TYPE_Q2_0, 0, 2},   {BITNET_TYPE_Q8_0, 0, 2},     {BITNET_TYPE_Q8_K, 0, 4},
                  {BITNET_TYPE_IQ2_S, 0, 2},  {BITNET_TYPE_F16, -1, 0},     {BITNET_TYPE_HF_BITNET, -1, 0}};
  static const bitnet_type kDestinations[] = {BITNET_TYPE_F16, BITNET_TYPE_F32, BITNET_TYPE_BF16};
  const int64_t rows = 4096, cols = 1024; /* 8 MiB at two bytes an element */
  const size_t n = (size_t)rows * (size_t)cols;
  float* x = malloc(n * sizeof(float));
  fill_random(GAUSS, x, n, 256, 43);
  const size_t out_room = n * sizeof(float) + 64;
  uint8_t* want = malloc(out_room);
  uint8_t* got_buffer = malloc(out_room + 64);
  uint8_t* got = got_buffer + (64 - (uintptr_t)got_buffer % 64) % 64;
  const size_t sources = emulated() ? 2 : sizeof kSources / sizeof kSources[0];
  for (size_t c = 0; c < sources; ++c) {
    const bitnet_type src = kSources[c].type;
    size_t in_bytes = size_of(src, rows, cols);
    uint8_t* in;
    if (src == BITNET_TYPE_IQ2_S) { /* decode only: random blocks */
      in = malloc(in_bytes);
      uint64_t state = 44;
      for (size_t i = 0; i < in_bytes; ++i) in[i] = (uint8_t)rng_next(&state);
      for (size_t b = 0; b < in_bytes / 82; ++b) memcpy(in + b * 82, &(uint16_t){0x2E66}, 2); /* d = 0.1 */
    } else {
      bitnet_tensor_options q = opts(BITNET_CPU_REFERENCE, 1);
      in = quantize_new(src, &q, x, rows, cols, &in_bytes);
    }
    if (kSources[c].scale_offset >= 0) {
      bitnet_type_info info;
      memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      check(bitnet_type_get_info(src, &info) == BITNET_OK, "info of %s", bitnet_type_name(src));
      const uint8_t inf16[2] = {0x00, 0x7C}, nan16[2] = {0x01, 0x7E};
      const uint8_t inf32[4] = {0x00, 0x00, 0x80, 0x7F}, nan32[4] = {0x01, 0x00, 0xC0, 0x7F};
      const int wide = kSources[c].scale_bytes == 4;
      memcpy(in + 5 * info.block_bytes + (size_t)kSources[c].scale_offset, wide ? inf32 : inf16, wide ? 4 : 2);
      memcpy(in + 9 * info.block_bytes + (size_t)kSources[c].scale_offset, wide ? nan32 : nan16, wide ? 4 : 2);
    }
    const size_t destinations = emulated() ? 1 : sizeof kDestinations / sizeof kDestinations[0];
    for (size_t d = 0; d < destinations; ++d) {
      const bitnet_type dst = kDestinations[d];
      const size_t elem = dst == BITNET_TYPE_F32 ? 4 : 2;
      bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
      o.flags = BITNET_TENSOR_CACHED_OUTPUT;
      check(bitnet_tensor_dequantize(src, &o, in, in_bytes, rows, cols, dst, want, n * elem) == BITNET_OK,
            "%s -> %s with ordinary stores: %s", bitnet_type_name(src), bitnet_type_name(dst), bitnet_last_error());
      for (int t = 0; t < count; ++t) {
        /* The buffered path (any source, the same code) to the first type only. */
        const size_t offsets[] = {0, 16, elem};
        for (size_t k = 0; k < (d == 0 ? 3u : 1u); ++k) {
          const size_t offset = offsets[k];
          memset(got, POISON, out_room);
          o = opts(targets[t], 2);
          const int status = bitnet_tensor_dequantize(src, &o, in, in_bytes, rows, cols, dst, got + offset, n * elem);
          check(status == BITNET_OK && memcmp(got + offset, want, n * elem) == 0 && untouched(got, offset) &&
                    untouched(got + offset + n * elem, out_room - offset - n * elem),
                "%s -> %s streamed on %s at offset %zu: status %d, bytes differ or spill", bitnet_type_name(src),
                bitnet_type_name(dst), bitnet_cpu_target_name(targets[t]), offset, status);
        }
      }
    }
    free(in);
  }
  free(x);
  free(want);
  free(got_buffer);
}

/* Transcodes between I2_S and TQ2_0 (the byte re-pack) with an output of
 * 4 MiB or more are streamed past the caches: the same bytes as ordinary
 * stores (BITNET_TENSOR_CACHED_OUTPUT on the reference) on every target,
 * 2 threads, at a 64-byte aligned destination and 16 bytes past it, nothing
 * written around it. Random I2_S codes (+2 included) with all-zero groups
 * (their TQ2_0 blocks get d = 0); I2_S -> TQ2_0 with the scale rounded and
 * with unit scales; TQ2_0 -> I2_S from uniform block scales (one pass) and
 * from blocks whose zero blocks store d = 0 (the checking pass first).
 * Under an emulator, I2_S -> TQ2_0 only. */
static void streamed_transcodes(const bitnet_cpu_target* targets, int count) {
  const int64_t rows = 4096, cols = 4352; /* I2_S codes 4.25 MiB */
  const size_t n = (size_t)rows * (size_t)cols;
  const size_t i2s_bytes = size_of(BITNET_TYPE_I2_S, rows, cols), tq2_bytes = size_of(BITNET_TYPE_TQ2_0, rows, cols);
  uint8_t* i2s = malloc(i2s_bytes);
  uint64_t state = 45;
  for (size_t i = 0; i < n / 4; ++i) i2s[i] = (uint8_t)rng_next(&state);
  for (size_t g = 3; g < n / 256; g += 97) memset(i2s + g * 64, 0x55, 64); /* 256 zero values */
  memset(i2s + n / 4, 0, i2s_bytes - n / 4);
  const float scale = 0.3f; /* not an f16 value: rounded into TQ2_0 */
  memcpy(i2s + n / 4, &scale, sizeof scale);
  uint8_t* tq2 = malloc(tq2_bytes);
  bitnet_tensor_options o = opts(BITNET_CPU_REFERENCE, 1);
  o.flags = BITNET_TENSOR_ALLOW_SCALE_ROUNDING;
  check(bitnet_tensor_transcode(BITNET_TYPE_TQ2_0, &o, BITNET_TYPE_I2_S, i2s, i2s_bytes, rows, cols, tq2, tq2_bytes) ==
            BITNET_OK, "streamed transcodes: the TQ2_0 source: %s", bitnet_last_error());
  /* As transcoded, the zero blocks store d = 0 (mixed); the uniform source
   * stores the others' d in them too. */
  uint8_t* tq2_mixed = malloc(tq2_bytes);
  memcpy(tq2_mixed, tq2, tq2_bytes);
  for (size_t b = 3; b < n / 256; b += 97) memcpy(tq2 + b * 66 + 64, tq2 + 64, 2);
  static const struct {
    bitnet_type src, dst;
    int mixed; /* the TQ2_0 source with differing scales */
    unsigned flags;
  } kCases[] = {{BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, 0, BITNET_TENSOR_ALLOW_SCALE_ROUNDING},
                {BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, 0, BITNET_TENSOR_UNIT_SCALE},
                {BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, 0, 0},
                {BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S, 1, 0}};
  const size_t out_room = tq2_bytes + 128;
  uint8_t* want = malloc(out_room);
  uint8_t* got_buffer = malloc(out_room + 64);
  uint8_t* got = got_buffer + (64 - (uintptr_t)got_buffer % 64) % 64;
  const size_t cases = emulated() ? 1 : sizeof kCases / sizeof kCases[0];
  for (size_t c = 0; c < cases; ++c) {
    const int from_i2s = kCases[c].src == BITNET_TYPE_I2_S;
    const uint8_t* in = from_i2s ? i2s : kCases[c].mixed ? tq2_mixed : tq2;
    const size_t in_bytes = from_i2s ? i2s_bytes : tq2_bytes, out_bytes = from_i2s ? tq2_bytes : i2s_bytes;
    o = opts(BITNET_CPU_REFERENCE, 1);
    o.flags = kCases[c].flags | BITNET_TENSOR_CACHED_OUTPUT;
    if (!check(bitnet_tensor_transcode(kCases[c].dst, &o, kCases[c].src, in, in_bytes, rows, cols, want, out_bytes) ==
                   BITNET_OK,
               "streamed transcode case %zu with ordinary stores: %s", c, bitnet_last_error())) {
      continue;
    }
    for (int t = 0; t < count; ++t) {
      for (size_t offset = 0; offset <= 16; offset += 16) {
        memset(got, POISON, out_room);
        o = opts(targets[t], 2);
        o.flags = kCases[c].flags;
        const int status =
            bitnet_tensor_transcode(kCases[c].dst, &o, kCases[c].src, in, in_bytes, rows, cols, got + offset, out_bytes);
        check(status == BITNET_OK && memcmp(got + offset, want, out_bytes) == 0 && untouched(got, offset) &&
                  untouched(got + offset + out_bytes, out_room - offset - out_bytes),
              "%s -> %s (mixed %d, flags %u) streamed on %s at offset %zu: status %d, bytes differ or spill",
              bitnet_type_name(kCases[c].src), bitnet_type_name(kCases[c].dst), kCases[c].mixed, kCases[c].flags,
              bitnet_cpu_target_name(targets[t]), offset, status);
      }
    }
  }
  free(i2s);
  free(tq2);
  free(tq2_mixed);
  free(want);
  free(got_buffer);
}

/* A copy of `bytes` bytes that ends where an inaccessible page starts, so
 * that a read past the caller's buffer faults; *mapping and *mapping_bytes
 * for munmap. NULL when the system refuses the mapping. */
static uint8_t* guarded_copy(const uint8_t* data, size_t bytes, void** mapping, size_t* mapping_bytes) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t room = (bytes + page - 1) / page * page;
  *mapping_bytes = room + page;
  *mapping = mmap(NULL, *mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (*mapping == MAP_FAILED) return NULL;
  uint8_t* guard = (uint8_t*)*mapping + room;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    munmap(*mapping, *mapping_bytes);
    return NULL;
  }
  memcpy(guard - bytes, data, bytes);
  return guard - bytes;
}

/* The fused transcodes into and out of TQ1_0 read whole vectors, past a
 * unit's bytes into the next unit's: they must stop at the source's end.
 * The source ends at an inaccessible page (a read past it faults); several
 * steps of units, one and two threads, every target against the
 * reference's bytes. */
static void guarded_sources(const bitnet_cpu_target* targets, int count) {
  const int64_t rows = 24, cols = 4096;
  int8_t* q = malloc((size_t)(rows * cols));
  float* x = ternary_values(rows, cols, 0.25f, 46, q);
  const bitnet_tensor_options ref = opts(BITNET_CPU_REFERENCE, 1);
  static const bitnet_type kPairs[][2] = {{BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0},
                                          {BITNET_TYPE_I2_S, BITNET_TYPE_TQ1_0},
                                          {BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0},
                                          {BITNET_TYPE_TQ1_0, BITNET_TYPE_I2_S}};
  for (size_t p = 0; p < sizeof kPairs / sizeof kPairs[0]; ++p) {
    const bitnet_type src = kPairs[p][0], dst = kPairs[p][1];
    const size_t out_bytes = size_of(dst, rows, cols);
    size_t in_bytes = 0;
    uint8_t* in = quantize_new(src, &ref, x, rows, cols, &in_bytes);
    uint8_t* want = malloc(out_bytes);
    uint8_t* got = malloc(out_bytes);
    void* mapping = NULL;
    size_t mapping_bytes = 0;
    uint8_t* guarded = in == NULL ? NULL : guarded_copy(in, in_bytes, &mapping, &mapping_bytes);
    if (!check(guarded != NULL, "guarded %s source: no mapping", bitnet_type_name(src)) ||
        !check(bitnet_tensor_transcode(dst, &ref, src, in, in_bytes, rows, cols, want, out_bytes) == BITNET_OK,
               "guarded %s -> %s, reference: %s", bitnet_type_name(src), bitnet_type_name(dst), bitnet_last_error())) {
      count = 0;
    }
    for (int t = 0; t < count; ++t) {
      for (int threads = 1; threads <= 2; ++threads) {
        const bitnet_tensor_options o = opts(targets[t], threads);
        const int status = bitnet_tensor_transcode(dst, &o, src, guarded, in_bytes, rows, cols, got, out_bytes);
        check(status == BITNET_OK && memcmp(got, want, out_bytes) == 0,
              "guarded %s -> %s on %s, %d threads: status %d or bytes differ", bitnet_type_name(src),
              bitnet_type_name(dst), bitnet_cpu_target_name(targets[t]), threads, status);
      }
    }
    if (guarded != NULL) munmap(mapping, mapping_bytes);
    free(in);
    free(want);
    free(got);
  }
  free(q);
  free(x);
}

static void type_info(void) {
  bitnet_type_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  check(bitnet_type_get_info(BITNET_TYPE_TQ1_0, &info) == BITNET_OK && info.block_bytes == 54 &&
            info.block_elements == 256 && fabs(info.bits_per_weight - 1.6875) < 1e-12 && info.ternary,
        "TQ1_0 info");
  check(bitnet_type_get_info(BITNET_TYPE_I2_S, &info) == BITNET_OK && info.tail_bytes == 32 &&
            info.elements_multiple == 128 && info.bits_per_weight == 2.0,
        "I2_S info");
  check(bitnet_type_get_info(BITNET_TYPE_IQ2_S, &info) == BITNET_OK && !info.can_quantize, "IQ2_S decode only");
  bitnet_type t = 0;
  check(bitnet_type_from_name("tq2_0", &t) == BITNET_OK && t == BITNET_TYPE_TQ2_0, "name lookup");
  check(strcmp(bitnet_type_name(12345), "unknown") == 0, "unknown name");
  size_t bytes = 0;
  check(bitnet_tensor_size(BITNET_TYPE_I2_S, 30, 2560, &bytes) == BITNET_OK && bytes == 30 * 2560 / 4 + 32, "I2_S size");
  check(bitnet_tensor_size(BITNET_TYPE_TQ2_0, 6912, 2560, &bytes) == BITNET_OK && bytes == 6912u * 10 * 66, "TQ2_0 size");
  check(bitnet_tensor_size(BITNET_TYPE_TQ2_0, 1, 3200, &bytes) == BITNET_E_INVALID_SHAPE &&
            strstr(bitnet_last_error(), "256") != NULL,
        "TQ2_0 with 3200 columns names the 256 rule: %s", bitnet_last_error());
  check(bitnet_tensor_size(BITNET_TYPE_Q2_0, 1, 3200, &bytes) == BITNET_OK && bytes == 50 * 18, "Q2_0 holds 3200");
}

static void i8s_threads(bitnet_cpu_target target) {
  const int64_t rows = 7, cols = 2560;
  const size_t n = (size_t)(rows * cols);
  float* x = malloc(n * sizeof(float));
  fill_random(GAUSS, x, n, 256, 77);
  int8_t *q1 = malloc(n), *q3 = malloc(n);
  float s1[7], s3[7];
  int32_t m1[7], m3[7];
  bitnet_tensor_options o1 = opts(target, 1), o3 = opts(target, 3);
  check(bitnet_quantize_i8s(&o1, BITNET_TYPE_F32, x, rows, cols, q1, n, s1, 7, m1, 7) == BITNET_OK &&
            bitnet_quantize_i8s(&o3, BITNET_TYPE_F32, x, rows, cols, q3, n, s3, 7, m3, 7) == BITNET_OK &&
            memcmp(q1, q3, n) == 0 && memcmp(s1, s3, sizeof s1) == 0 && memcmp(m1, m3, sizeof m1) == 0,
        "i8s with 3 threads differs from 1 (%s)", bitnet_cpu_target_name(target));
  free(x);
  free(q1);
  free(q3);
}

/* Statistics: the value counts and scales of a tensor whose codes we know,
 * through every ternary layout (the chain's transcodes), and a damaged one. */
static void stats(void) {
  const int64_t rows = 4, cols = 512;
  const size_t n = (size_t)(rows * cols);
  int8_t* q = malloc(n);
  float* x = ternary_values(rows, cols, 0.375f, 21, q);
  uint64_t want[5] = {0};
  for (size_t i = 0; i < n; ++i) ++want[q[i] + 2];
  bitnet_tensor_options o = opts(BITNET_CPU_AUTO, 2);
  const bitnet_type types[] = {BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, BITNET_TYPE_Q2_0,
                               BITNET_TYPE_I2_S, BITNET_TYPE_HF_BITNET, BITNET_TYPE_BITNET_RS_I2S};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
    size_t bytes = 0;
    uint8_t* b = quantize_new(types[t], &o, x, rows, cols, &bytes);
    bitnet_tensor_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    const int status = bitnet_tensor_stats_get(types[t], &o, b, bytes, rows, cols, &st);
    check(status == BITNET_OK && memcmp(st.values, want, sizeof want) == 0 && st.nonfinite_scales == 0,
          "%s stats: status %d, counts %llu/%llu/%llu/%llu/%llu", bitnet_type_name(types[t]), status,
          (unsigned long long)st.values[0], (unsigned long long)st.values[1], (unsigned long long)st.values[2],
          (unsigned long long)st.values[3], (unsigned long long)st.values[4]);
    if (types[t] == BITNET_TYPE_TQ2_0) {
      /* 4 x 512 = 8 blocks, every other 256-block of index 3 mod 7 all zero
       * (d = 0); the others d = 0.375. A damaged block: NaN d, +2 codes. */
      check(st.scales == 8 && st.scale_min == 0.0f && st.scale_max == 0.375f, "TQ2_0 scales %llu %g..%g",
            (unsigned long long)st.scales, (double)st.scale_min, (double)st.scale_max);
      b[0] = 0xFF;
      b[64] = 0x00;
      b[65] = 0x7E;
      check(bitnet_tensor_stats_get(types[t], &o, b, bytes, rows, cols, &st) == BITNET_OK &&
                st.values[4] == 4 && st.nonfinite_scales == 1,
            "damaged TQ2_0: %llu +2 codes, %llu non-finite scales", (unsigned long long)st.values[4],
            (unsigned long long)st.nonfinite_scales);
    }
    free(b);
  }
  free(q);
  free(x);
}

int main(void) {
  bitnet_cpu_target targets[32];
  const int count = supported_targets(targets);
  type_info();
  stats();
  i2s_to_tq2();
  ternary_kept();
  for (int t = 0; t < count; ++t) {
    transcode_errors(targets[t]);
    transcode_chain(targets[t]);
    uniform_scales(targets[t]);
    hf_layout(targets[t]);
    bitnet_rs_layout(targets[t]);
    absmean_units(targets[t]);
    element_types(targets[t]);
    i8s_threads(targets[t]);
  }
  streamed_outputs(targets, count);
  streamed_transcodes(targets, count);
  guarded_sources(targets, count);
  return finish("tensor_api");
}
