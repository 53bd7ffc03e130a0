/* The tensor layouts against the golden vectors of the engines that define
 * them (ffi_tests/golden/ggml/): ggml's TQ1_0/TQ2_0 quantizers and decoders,
 * bitnet.cpp's I2_S quantizer and int8 activation quantizer, and the BitNet
 * converters' absmean, on every CPU target and with 1 and 3 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static bitnet_tensor_options options_for(bitnet_cpu_target target, int threads) {
  bitnet_tensor_options o = BITNET_TENSOR_OPTIONS_INIT;
  o.cpu_target = target;
  o.n_threads = threads;
  return o;
}

static const char* const kTargetThreads = "target %s, %d thread(s)";

/* The case names of a golden file: every "<case>/input" tensor. */
static size_t case_names(const st_file* f, const char* names[], size_t max) {
  size_t count = 0;
  for (size_t i = 0; i < f->count && count < max; ++i) {
    const char* slash = strrchr(f->tensors[i].name, '/');
    if (slash != NULL && strcmp(slash, "/input") == 0) {
      static char storage[256][128];
      const size_t len = (size_t)(slash - f->tensors[i].name);
      memcpy(storage[count], f->tensors[i].name, len);
      storage[count][len] = '\0';
      names[count] = storage[count];
      ++count;
    }
  }
  return count;
}

static void check_tq(const char* dir, const char* file, bitnet_type type, bitnet_cpu_target target,
                     int threads) {
  st_file* f = st_open(path_join(dir, file));
  const char* names[64];
  const size_t cases = case_names(f, names, 64);
  bitnet_tensor_options o = options_for(target, threads);
  for (size_t c = 0; c < cases; ++c) {
    const st_tensor* in = st_field(f, names[c], "input");
    const st_tensor* blocks = st_field(f, names[c], "blocks");
    const st_tensor* dequant = st_field(f, names[c], "dequant");
    const int64_t rows = (int64_t)in->shape[0], cols = (int64_t)in->shape[1];
    float* x = st_floats(in);
    uint8_t* q = malloc(blocks->nbytes + 8);
    float* y = malloc(st_numel(dequant) * sizeof(float));
    memset(q, POISON, blocks->nbytes + 8);
    int status = bitnet_tensor_quantize(type, &o, BITNET_TYPE_F32, x, rows, cols, q, blocks->nbytes + 8);
    check(status == BITNET_OK, "%s %s quantize: status %d (%s)", file, names[c], status,
          bitnet_last_error());
    const long at = first_byte_diff(q, blocks->data, blocks->nbytes);
    check(at < 0, "%s %s: byte %ld is 0x%02x, ggml wrote 0x%02x (%s)", file, names[c], at,
          at < 0 ? 0 : q[at], at < 0 ? 0 : blocks->data[at], bitnet_cpu_target_name(target));
    check(untouched(q + blocks->nbytes, 8), "%s %s: bytes past the tensor written", file, names[c]);
    status = bitnet_tensor_dequantize(type, &o, blocks->data, blocks->nbytes, rows, cols,
                                      BITNET_TYPE_F32, y, st_numel(dequant) * sizeof(float));
    check(status == BITNET_OK, "%s %s dequantize: status %d", file, names[c], status);
    float* want = st_floats(dequant);  /* aligned: the file's data need not be */
    const long d = first_float_diff(y, want, st_numel(dequant));
    free(want);
    check(d < 0 && memcmp(y, dequant->data, dequant->nbytes) == 0,
          "%s %s: value %ld differs from ggml's (" /* bits */ "%s)", file, names[c], d,
          bitnet_cpu_target_name(target));
    free(x);
    free(q);
    free(y);
  }
  st_close(f);
}

static void check_i2s(const char* dir, bitnet_cpu_target target, int threads) {
  st_file* f = st_open(path_join(dir, "i2_s.safetensors"));
  const char* names[64];
  const size_t cases = case_names(f, names, 64);
  bitnet_tensor_options o = options_for(target, threads);
  for (size_t c = 0; c < cases; ++c) {
    const st_tensor* in = st_field(f, names[c], "input");
    const st_tensor* bytes = st_field(f, names[c], "bytes");
    const int64_t rows = (int64_t)in->shape[0], cols = (int64_t)in->shape[1];
    float* x = st_floats(in);
    size_t size = 0;
    check(bitnet_tensor_size(BITNET_TYPE_I2_S, rows, cols, &size) == BITNET_OK &&
              size == bytes->nbytes,
          "i2_s %s: size %zu, the file has %zu", names[c], size, bytes->nbytes);
    uint8_t* q = malloc(size);
    memset(q, POISON, size);
    const int status = bitnet_tensor_quantize(BITNET_TYPE_I2_S, &o, BITNET_TYPE_F32, x, rows, cols, q, size);
    check(status == BITNET_OK, "i2_s %s: status %d (%s)", names[c], status, bitnet_last_error());
    /* The 28 bytes after the scale: bitnet.cpp leaves them as the buffer
     * was (zeros in the harness); this library writes zeros. */
    const long at = first_byte_diff(q, bytes->data, size);
    check(at < 0, "i2_s %s: byte %ld of %zu is 0x%02x, bitnet.cpp wrote 0x%02x (" /* */ "%s)",
          names[c], at, size, at < 0 ? 0 : q[at], at < 0 ? 0 : bytes->data[at],
          bitnet_cpu_target_name(target));
    /* Decoding gives (code - 1) * scale. */
    float* y = malloc((size_t)(rows * cols) * sizeof(float));
    check(bitnet_tensor_dequantize(BITNET_TYPE_I2_S, &o, q, size, rows, cols, BITNET_TYPE_F32, y,
                                   (size_t)(rows * cols) * sizeof(float)) == BITNET_OK,
          "i2_s %s: dequantize", names[c]);
    float scale;
    memcpy(&scale, q + size - 32, 4);
    long bad = -1;
    for (int64_t i = 0; i < rows * cols && bad < 0; ++i) {
      const unsigned code = (q[(i / 128) * 32 + i % 32] >> (6 - 2 * ((i % 128) / 32))) & 3u;
      /* x86-64's product, which the library gives on every CPU: 0 * Inf is
       * its default NaN 0xFFC00000 (AArch64's would be 0x7FC00000). */
      const float value = (float)((int)code - 1), product = value * scale;
      const float want = product != product && value == value && scale == scale
                             ? float_from_bits(0xFFC00000u)
                             : product;
      if (!same_float(y[i], want)) bad = (long)i;
    }
    check(bad < 0, "i2_s %s: decoded element %ld is not (code - 1) * scale", names[c], bad);
    free(x);
    free(q);
    free(y);
  }
  st_close(f);
}

static void check_i8s(const char* dir, bitnet_cpu_target target, int threads) {
  st_file* f = st_open(path_join(dir, "i8_s.safetensors"));
  const char* names[64];
  const size_t cases = case_names(f, names, 64);
  bitnet_tensor_options o = options_for(target, threads);
  for (size_t c = 0; c < cases; ++c) {
    const st_tensor* in = st_field(f, names[c], "input");
    const st_tensor* gq = st_field(f, names[c], "q");
    const st_tensor* gscale = st_field(f, names[c], "scale");
    const st_tensor* gsum = st_field(f, names[c], "sum");
    const int64_t rows = (int64_t)in->shape[0], cols = (int64_t)in->shape[1];
    const size_t n = (size_t)(rows * cols);
    float* x = st_floats(in);
    int8_t* q = malloc(n);
    float* scale = malloc((size_t)rows * sizeof(float));
    int32_t* sum = malloc((size_t)rows * sizeof(int32_t));
    const int status = bitnet_quantize_i8s(&o, BITNET_TYPE_F32, x, rows, cols, q, n, scale,
                                           (size_t)rows, sum, (size_t)rows);
    check(status == BITNET_OK, "i8_s %s: status %d (%s)", names[c], status, bitnet_last_error());
    const long at = first_byte_diff((const uint8_t*)q, gq->data, n);
    check(at < 0, "i8_s %s: q[%ld] = %d, bitnet.cpp %d", names[c], at, at < 0 ? 0 : q[at],
          at < 0 ? 0 : ((const int8_t*)gq->data)[at]);
    check(memcmp(scale, gscale->data, gscale->nbytes) == 0, "i8_s %s: scales differ", names[c]);
    check(memcmp(sum, gsum->data, gsum->nbytes) == 0, "i8_s %s: sums differ", names[c]);
    free(x);
    free(q);
    free(scale);
    free(sum);
  }
  st_close(f);
}

/* The float64 mean's s, computed here independently (long double sum). */
static float f64_inverse_scale(const float* x, size_t n) {
  long double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += fabsl((long double)x[i]);
  const float mean = (float)(double)(sum / (long double)n);
  return 1.0f / (mean > 1e-5f ? mean : 1e-5f);
}

static void check_absmean(const char* dir, bitnet_cpu_target target, int threads) {
  st_file* f = st_open(path_join(dir, "absmean.safetensors"));
  const char* names[64];
  const size_t cases = case_names(f, names, 64);
  bitnet_tensor_options o = options_for(target, threads);
  o.ternarize = BITNET_TERNARIZE_ABSMEAN;
  for (size_t c = 0; c < cases; ++c) {
    const st_tensor* in = st_field(f, names[c], "input");
    const st_tensor* ternary = st_field(f, names[c], "ternary");
    const st_tensor* gscale = st_field(f, names[c], "scale");
    const st_tensor* dequant = st_field(f, names[c], "dequant");
    const int64_t rows = (int64_t)in->shape[0], cols = (int64_t)in->shape[1];
    const size_t n = (size_t)(rows * cols);
    float* x = st_floats(in);
    int8_t* q = malloc(n);
    float alpha = 0;
    int status = bitnet_ternarize(&o, BITNET_TYPE_F32, x, rows, cols, q, n, &alpha, 1);
    check(status == BITNET_OK, "absmean %s: status %d (%s)", names[c], status, bitnet_last_error());
    check(memcmp(q, ternary->data, n) == 0, "absmean %s: codes differ from the converter's", names[c]);
    /* alpha is 1/s. numpy's float32 pairwise mean and this library's
     * double one give the same s except where the golden manifest says a
     * float64 mean changes it (llm_16x256_s60, gauss_4x2560_s61); an
     * already-ternary input keeps its magnitude instead. */
    float golden_s;
    memcpy(&golden_s, gscale->data, 4);
    float magnitude = 0;
    int is_ternary = 1;
    for (size_t i = 0; i < n; ++i) {
      const float a = fabsf(x[i]);
      if (a != 0 && magnitude == 0) magnitude = a;
      if (a != 0 && a != magnitude) is_ternary = 0;
    }
    const int f64_differs = strcmp(names[c], "llm_16x256_s60") == 0 ||
                            strcmp(names[c], "gauss_4x2560_s61") == 0;
    const float want = is_ternary && magnitude != 0 ? magnitude
                       : f64_differs             ? 1.0f / f64_inverse_scale(x, n)
                                                 : 1.0f / golden_s;
    check(same_float(alpha, want), "absmean %s: alpha %.9g, expected %.9g", names[c], (double)alpha,
          (double)want);
    if (f64_differs) {
      check(!same_float(1.0f / f64_inverse_scale(x, n), 1.0f / golden_s),
            "absmean %s: the manifest's float64 difference is not there", names[c]);
    }
    /* The values q * alpha as an F32 tensor: the converter's q / s. */
    if (!f64_differs && !is_ternary) {
      float* y = malloc(n * sizeof(float));
      status = bitnet_tensor_quantize(BITNET_TYPE_F32, &o, BITNET_TYPE_F32, x, rows, cols, y,
                                      n * sizeof(float));
      check(status == BITNET_OK && memcmp(y, dequant->data, n * sizeof(float)) == 0,
            "absmean %s: values differ from the converter's q / s", names[c]);
      free(y);
    }
    free(x);
    free(q);
  }
  st_close(f);
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
      const long before = g_checks_failed;
      check_tq(argv[1], "tq1_0.safetensors", BITNET_TYPE_TQ1_0, targets[t], threads);
      check_tq(argv[1], "tq2_0.safetensors", BITNET_TYPE_TQ2_0, targets[t], threads);
      check_i2s(argv[1], targets[t], threads);
      check_i8s(argv[1], targets[t], threads);
      check_absmean(argv[1], targets[t], threads);
      if (g_checks_failed != before) {
        printf(kTargetThreads, bitnet_cpu_target_name(targets[t]), threads);
        printf(": %ld failures\n", g_checks_failed - before);
      }
    }
  }
  return finish("tensor_golden");
}
