/* The CUDA backend against the CPU, bit for bit: every golden case, random
 * and adversarial inputs from 1 element to 256 M (and 2^31 + 5 in `huge`),
 * sub-ranges at odd offsets, several streams and threads at once, AUTO's
 * threshold, strict mode and the argument checks of the device-pointer
 * entry points (`modes`), the fallback and no-output contract when the GPU
 * fails (`fallback`), and that calls below AUTO's threshold create no CUDA
 * context (`lazy`). The CPU side is the scalar reference
 * (BITNET_CPU_REFERENCE).
 * usage: test_cuda golden|random|thresholds|offsets|streams|modes|fallback|lazy|sanitize|huge
 *        [GOLDEN_DIR]   (random and sanitize include thresholds)
 * Exits 77 (ctest SKIP_RETURN_CODE) with the reason when no GPU is usable. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#define BITNET_QUANT_EXPERIMENTAL /* the device-pointer entry points and queries */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_cuda_util.h"
#include "test_util.h"

static const char* const kFormatNames[3] = {"I2_S", "TL1", "TL2"};

static bitnet_quant_options cuda_options(uint32_t block) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CUDA;
  opt.flags = BITNET_FLAG_STRICT;
  return opt;
}

static bitnet_quant_options reference_options(uint32_t block) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  opt.block_size = block;
  opt.device = BITNET_DEVICE_CPU;
  opt.cpu_target = BITNET_CPU_REFERENCE;
  return opt;
}

static void* to_device(const void* host, size_t bytes) {
  void* p = device_alloc(bytes);
  CUDA_OK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
  return p;
}

static void* from_device(const void* device, size_t bytes) {
  void* p = xmalloc(bytes);
  CUDA_OK(cudaMemcpy(p, device, bytes, cudaMemcpyDeviceToHost));
  return p;
}

/* ---- one comparison: CPU reference vs both GPU entry points ---------------------- */

typedef struct result {
  int status;
  uint8_t* packed;
  float* scales;
} result;

static void result_free(result* r) {
  free(r->packed);
  free(r->scales);
}

/* Quantizes through the device-pointer entry point (family A, or family B
 * when kernel_family), input at element offset `offset` of a larger buffer. */
static result gpu_quantize_device(int kernel_family, bitnet_format format, uint32_t block,
                                  const float* x, size_t n, size_t offset) {
  const bitnet_quant_options opt = cuda_options(block);
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  float* d_base = (float*)device_alloc((n + offset) * sizeof(float));
  uint8_t* d_packed = (uint8_t*)device_alloc(packed_len);
  float* d_scales = (float*)device_alloc(scales_len * sizeof(float));
  result r;
  CUDA_OK(cudaMemcpy(d_base + offset, x, n * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemset(d_packed, POISON, packed_len));
  CUDA_OK(cudaMemset(d_scales, POISON, scales_len * sizeof(float)));
  r.status = kernel_family ? bitnet_cuda_kernel_quantize(format, &opt, d_base + offset, n, d_packed,
                                                         packed_len, d_scales, scales_len, NULL)
                           : bitnet_cuda_quantize(format, &opt, d_base + offset, n, d_packed,
                                                  packed_len, d_scales, scales_len, NULL);
  CUDA_OK(cudaDeviceSynchronize());
  r.packed = (uint8_t*)from_device(d_packed, packed_len);
  r.scales = (float*)from_device(d_scales, scales_len * sizeof(float));
  CUDA_OK(cudaFree(d_base));
  CUDA_OK(cudaFree(d_packed));
  CUDA_OK(cudaFree(d_scales));
  return r;
}

static result quantize_host(const bitnet_quant_options* opt, bitnet_format format, const float* x,
                            size_t n) {
  /* The library's sizes: block_size 0 is the format's default block. */
  size_t packed_len = 0, scales_len = 0;
  result r;
  check(bitnet_quant_buffer_sizes(format, opt, n, &packed_len, &scales_len) == BITNET_OK,
        "buffer sizes: %s", bitnet_last_error() ? bitnet_last_error() : "");
  r.packed = (uint8_t*)xmalloc(packed_len);
  r.scales = (float*)xmalloc(scales_len * sizeof(float));
  memset(r.packed, POISON, packed_len);
  memset(r.scales, POISON, scales_len * sizeof(float));
  r.status = bitnet_quantize(format, opt, x, n, r.packed, packed_len, r.scales, scales_len);
  return r;
}

static void expect_same(const result* got, const result* want, size_t n, uint32_t block,
                        const char* where, const char* path) {
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  long d;
  if (!check(got->status == want->status, "%s [%s]: status %d, CPU %d (%s)", where, path,
             got->status, want->status, bitnet_last_error() ? bitnet_last_error() : ""))
    return;
  if (want->status != BITNET_OK) {
    check(untouched(got->packed, packed_len) && untouched(got->scales, scales_len * 4),
          "%s [%s]: outputs written on error", where, path);
    return;
  }
  d = first_byte_diff(got->packed, want->packed, packed_len);
  check(d < 0, "%s [%s]: byte %ld is 0x%02x, CPU 0x%02x", where, path, d, d < 0 ? 0 : got->packed[d],
        d < 0 ? 0 : want->packed[d]);
  d = first_float_diff(got->scales, want->scales, scales_len);
  check(d < 0, "%s [%s]: scale %ld is %.9g, CPU %.9g", where, path, d, d < 0 ? 0 : got->scales[d],
        d < 0 ? 0 : want->scales[d]);
}

/* Dequantizes `q` on the CPU and through both GPU paths (output at element
 * offset `offset` for the device path) and compares. */
static void compare_dequantize(bitnet_format format, uint32_t block, const result* q, size_t n,
                               size_t offset, const char* where) {
  const bitnet_quant_options ref = reference_options(block), gpu = cuda_options(block);
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  float* want = (float*)xmalloc(n * sizeof(float));
  float* got = (float*)xmalloc(n * sizeof(float));
  uint8_t* d_packed = (uint8_t*)to_device(q->packed, packed_len);
  float* d_scales = (float*)to_device(q->scales, scales_len * sizeof(float));
  float* d_out = (float*)device_alloc((n + offset) * sizeof(float));
  float* back;
  long d;
  char what[200];
  check(bitnet_dequantize(format, &ref, q->packed, packed_len, q->scales, scales_len, want, n) == 0,
        "%s: CPU dequantize", where);
  snprintf(what, sizeof what, "%s: GPU host-pointer dequantize", where);
  expect_status(bitnet_dequantize(format, &gpu, q->packed, packed_len, q->scales, scales_len, got, n), 0, what);
  d = first_float_diff(got, want, n);
  check(d < 0, "%s [dequantize host]: element %ld is %.9g, CPU %.9g", where, d, d < 0 ? 0 : got[d],
        d < 0 ? 0 : want[d]);
  snprintf(what, sizeof what, "%s: GPU device-pointer dequantize", where);
  expect_status(bitnet_cuda_dequantize(format, &gpu, d_packed, packed_len, d_scales, scales_len,
                                       d_out + offset, n, NULL), 0, what);
  CUDA_OK(cudaDeviceSynchronize());
  back = (float*)from_device(d_out + offset, n * sizeof(float));
  d = first_float_diff(back, want, n);
  check(d < 0, "%s [dequantize device]: element %ld is %.9g, CPU %.9g", where, d,
        d < 0 ? 0 : back[d], d < 0 ? 0 : want[d]);
  free(want);
  free(got);
  free(back);
  CUDA_OK(cudaFree(d_packed));
  CUDA_OK(cudaFree(d_scales));
  CUDA_OK(cudaFree(d_out));
}

/* Family A on both GPU paths vs the reference, then the round trip. */
static void compare_quantize(bitnet_format format, uint32_t block, const float* x, size_t n,
                             size_t offset, const char* where) {
  const bitnet_quant_options ref_opt = reference_options(block), gpu_opt = cuda_options(block);
  result want = quantize_host(&ref_opt, format, x, n);
  result host = quantize_host(&gpu_opt, format, x, n);
  result dev;
  if (host.status == BITNET_OK) {
    check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "%s: backend %d, not CUDA", where,
          (int)bitnet_last_backend());
  }
  expect_same(&host, &want, n, block, where, "host");
  dev = gpu_quantize_device(0, format, block, x, n, offset);
  expect_same(&dev, &want, n, block, where, "device");
  if (want.status == BITNET_OK) compare_dequantize(format, block, &want, n, offset, where);
  result_free(&want);
  result_free(&host);
  result_free(&dev);
}

/* Family B: bitnet_cpp_quantize (CPU) vs bitnet_cuda_kernel_quantize. */
static void compare_kernel_quantize(bitnet_format format, const float* x, size_t n, size_t offset,
                                    const char* where) {
  const uint32_t block = kDefaultBlock[format];
  const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
  result want, dev;
  want.packed = (uint8_t*)xmalloc(packed_len);
  want.scales = (float*)xmalloc(scales_len * sizeof(float));
  check(bitnet_cpu_set_target(BITNET_CPU_REFERENCE) == 0, "set REFERENCE");
  want.status = bitnet_cpp_quantize(x, (int)n, want.packed, (int)packed_len, want.scales,
                                    (int)scales_len, (int)format);
  check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == 0, "restore AUTO");
  dev = gpu_quantize_device(1, format, block, x, n, offset);
  expect_same(&dev, &want, n, block, where, "kernel family");
  result_free(&want);
  result_free(&dev);
}

/* ---- golden --------------------------------------------------------------------- */

static int golden_format(const char* file, int* kernel_family, uint32_t* block) {
  static const char* const kNames[3] = {"i2s", "tl1", "tl2"};
  int f;
  for (f = 0; f < 3; ++f) {
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "kernel_%s_", kNames[f]);
    if (strncmp(file, prefix, strlen(prefix)) == 0) {
      *kernel_family = 1;
      *block = kDefaultBlock[f];
      return f;
    }
    snprintf(prefix, sizeof(prefix), "quantizer_%s_scalar_bs", kNames[f]);
    if (strncmp(file, prefix, strlen(prefix)) == 0) {
      *kernel_family = 0;
      *block = (uint32_t)atoi(file + strlen(prefix));
      return f;
    }
  }
  return -1;
}

static void run_golden(const char* dir) {
  st_file* inputs = st_open(path_join(dir, "inputs.safetensors"));
  FILE* index = fopen(path_join(dir, "index.tsv"), "r");
  char line[1024], loaded_name[256] = "";
  st_file* gold = NULL;
  long cases = 0;
  if (!index) {
    fprintf(stderr, "FATAL: cannot open index.tsv in %s\n", dir);
    exit(2);
  }
  char *file, *name, *error;
  while (golden_index_next(index, line, sizeof(line), &file, &name, &error)) {
    char where[300];
    int kernel_family = 0, f;
    uint32_t block = 0;
    const st_tensor* in;
    const st_tensor *gp, *gs, *gd;
    float* x;
    size_t n;
    result dev;
    f = golden_format(file, &kernel_family, &block);
    if (f < 0) continue; /* matmul: CPU only */
    if (strcmp(loaded_name, file) != 0) {
      st_close(gold);
      gold = st_open(path_join(dir, file));
      snprintf(loaded_name, sizeof(loaded_name), "%s", file);
    }
    in = st_find(inputs, name);
    if (!check(in != NULL, "input %s missing", name)) continue;
    x = st_floats(in);
    n = st_numel(in);
    snprintf(where, sizeof(where), "%s %s", file, name);
    ++cases;
    gp = st_field(gold, name, "packed");
    gs = st_field(gold, name, "scales");
    gd = st_field(gold, name, "dequant");
    dev = gpu_quantize_device(kernel_family, f, block, x, n, 1);
    if (strcmp(error, "-") != 0) {
      const bitnet_quant_options gpu = cuda_options(block);
      result host = quantize_host(&gpu, f, x, n);
      check(dev.status == BITNET_E_ALL_NONFINITE && host.status == BITNET_E_ALL_NONFINITE,
            "%s: status %d / %d, BitNet-rs errors", where, dev.status, host.status);
      check(untouched(dev.packed, (n + 3) / 4) && untouched(host.packed, (n + 3) / 4),
            "%s: outputs written on error", where);
      result_free(&host);
    } else if (check(dev.status == 0 && gp && gs, "%s: status %d (%s)", where, dev.status,
                     bitnet_last_error() ? bitnet_last_error() : "")) {
      result want;
      want.status = BITNET_OK;
      want.packed = (uint8_t*)gp->data;
      want.scales = st_floats(gs);
      expect_same(&dev, &want, n, block, where, "device vs BitNet-rs");
      if (!kernel_family) {
        const bitnet_quant_options gpu = cuda_options(block);
        result host = quantize_host(&gpu, f, x, n);
        float* got = (float*)xmalloc(n * sizeof(float));
        expect_same(&host, &want, n, block, where, "host vs BitNet-rs");
        if (check(gd != NULL, "%s: no dequant tensor", where)) {
          float* want_values = st_floats(gd);
          check(bitnet_dequantize(f, &gpu, gp->data, gp->nbytes, want.scales, st_numel(gs), got,
                                  n) == 0 &&
                    first_float_diff(got, want_values, n) < 0,
                "%s: GPU dequantize differs from BitNet-rs", where);
          free(want_values);
        }
        compare_dequantize(f, block, &want, n, 3, where);
        free(got);
        result_free(&host);
      }
      free(want.scales);
    }
    result_free(&dev);
    free(x);
  }
  fclose(index);
  st_close(gold);
  st_close(inputs);
  printf("golden: %ld cases on the GPU\n", cases);
  check(cases > 0, "no golden cases");
}

/* ---- random ----------------------------------------------------------------------- */

/* sanitize: the subset run under compute-sanitizer (every block size and
 * kernel, fewer sizes and inputs, nothing large). */
static void run_random(int sanitize) {
  static const uint32_t kBlocks[] = {4, 8, 12, 32, 64, 100, 128, 256, 512, 516, 1024, 4096, 1u << 20};
  static const size_t kSizes[] = {1, 2, 3, 5, 33, 4099, 65537, 4, 7, 31, 127, 1000, (1u << 20) + 13};
  const size_t num_sizes = sanitize ? 7 : sizeof(kSizes) / sizeof(kSizes[0]);
  const size_t big = sanitize ? 0 : (size_t)256 << 20; /* 256 M elements */
  size_t b, s;
  const int first_dist = sanitize ? SPECIALS : 0;
  const int end_dist = sanitize ? SPECIALS + 1 : NUM_DISTRIBUTIONS;
  int format, d;
  uint64_t seed = 1;
  for (format = 0; format < 3; ++format) {
    for (d = first_dist; d < end_dist; ++d) {
      for (b = 0; b < sizeof(kBlocks) / sizeof(kBlocks[0]); ++b) {
        for (s = 0; s < num_sizes; ++s) {
          const size_t n = kSizes[s];
          float* x = (float*)xmalloc(n * sizeof(float));
          char where[160];
          fill_random((enum distribution)d, x, n, kBlocks[b], ++seed);
          snprintf(where, sizeof(where), "%s block %u %s n %zu", kFormatNames[format], kBlocks[b],
                   kDistributionNames[d], n);
          compare_quantize(format, kBlocks[b], x, n, s % 4, where);
          if (b == 0) {
            snprintf(where, sizeof(where), "kernel %s %s n %zu", kFormatNames[format],
                     kDistributionNames[d], n);
            compare_kernel_quantize(format, x, n, s % 4, where);
          }
          free(x);
        }
      }
    }
  }
  if (big) {
    float* x = (float*)xmalloc((big + 3) * sizeof(float));
    fill_random(SPECIALS, x, big + 3, 32, 99);
    for (format = 0; format < 3; ++format) {
      char where[160];
      snprintf(where, sizeof(where), "%s block %u specials n %zu", kFormatNames[format],
               kDefaultBlock[format], big + 3);
      compare_quantize(format, kDefaultBlock[format], x, big + 3, 0, where);
      snprintf(where, sizeof(where), "kernel %s n %zu", kFormatNames[format], big + 3);
      compare_kernel_quantize(format, x, big + 3, 0, where);
      printf("%s done\n", where);
      fflush(stdout);
    }
    free(x);
  }
}

/* ---- thresholds ------------------------------------------------------------------ */

/* The GPU codes an element without dividing unless its quotient lies within
 * about an ulp of a rule's threshold; these inputs sit exactly there. For
 * each rule and block absmax m, the CPU reference (as a black box, on the
 * block [m, x]) locates every x where the code changes, by bisection over
 * the floats of [-m, m]; the blocks then hold m followed by those x and
 * their neighbours up to 3 ulps away, and the GPU must match the reference
 * on them at several block sizes. */

/* Floats in order as integers, and back. */
static int64_t order_key(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof(i));
  return i < 0 ? -(int64_t)(i & INT32_MAX) : (int64_t)i;
}

static float from_order_key(int64_t k) {
  const uint32_t i = k < 0 ? 0x80000000u | (uint32_t)(-k) : (uint32_t)k;
  float f;
  memcpy(&f, &i, sizeof(f));
  return f;
}

/* The reference code of x in a block whose absmax is m (family B when
 * kernel_family; the caller has set the CPU target to REFERENCE). */
static unsigned reference_code(int kernel_family, bitnet_format format, float m, float x) {
  const float block[2] = {m, x};
  uint8_t packed = 0;
  float scale = 0.0f;
  int status;
  if (kernel_family) {
    status = bitnet_cpp_quantize(block, 2, &packed, 1, &scale, 1, (int)format);
  } else {
    bitnet_quant_options opt = reference_options(4);
    status = bitnet_quantize(format, &opt, block, 2, &packed, 1, &scale, 1);
  }
  check(status == 0, "thresholds: reference quantize of [%g, %g]: %d", m, x, status);
  return (packed >> 2) & 3u;
}

/* Appends to cuts[] every key in (lo, hi] where the code differs from the
 * code just below it (the code being monotone up to a relabelling). */
static size_t find_cuts(int kernel_family, bitnet_format format, float m, int64_t lo, unsigned code_lo,
                        int64_t hi, unsigned code_hi, int64_t* cuts, size_t count, size_t max) {
  int64_t mid;
  unsigned code_mid;
  if (code_lo == code_hi || count == max) return count;
  if (hi - lo == 1) {
    cuts[count] = hi;
    return count + 1;
  }
  mid = lo + (hi - lo) / 2;
  code_mid = reference_code(kernel_family, format, m, from_order_key(mid));
  count = find_cuts(kernel_family, format, m, lo, code_lo, mid, code_mid, cuts, count, max);
  return find_cuts(kernel_family, format, m, mid, code_mid, hi, code_hi, cuts, count, max);
}

#define MAX_CANDIDATES 64

/* The inputs around the cuts of one rule and absmax m; returns how many. */
static size_t threshold_inputs(int kernel_family, bitnet_format format, float m, float* out) {
  int64_t cuts[8];
  const int64_t lo = order_key(-m), hi = order_key(m);
  const size_t num_cuts =
      find_cuts(kernel_family, format, m, lo, reference_code(kernel_family, format, m, -m), hi,
                reference_code(kernel_family, format, m, m), cuts, 0, 8);
  size_t count = 0, c;
  int d;
  out[count++] = 0.0f;
  out[count++] = -m;
  for (c = 0; c < num_cuts; ++c) {
    for (d = -3; d <= 3; ++d) {
      const int64_t k = cuts[c] + d;
      if (k >= lo && k <= hi && count < MAX_CANDIDATES) out[count++] = from_order_key(k);
    }
  }
  return count;
}

static void run_thresholds(void) {
  static const uint32_t kBlocks[] = {4, 12, 32, 64, 128, 512, 1024};
  const float kAbsmax[] = {1.0f,   0.75f,  3.0f,   1e-3f,  0.1f,   12345.678f, 7e-20f,
                           0x1p-100f, 1.5e-30f, 1e-38f, 1e-40f, 1e-8f, 1.6e-8f, 1e30f,
                           5e30f,  3e38f,  FLT_MAX};
  const size_t num_absmax = sizeof(kAbsmax) / sizeof(kAbsmax[0]);
  float* candidates = (float*)xmalloc(num_absmax * MAX_CANDIDATES * sizeof(float));
  size_t counts[sizeof(kAbsmax) / sizeof(kAbsmax[0])];
  int kernel_family, format;
  size_t b, a, i;
  for (kernel_family = 0; kernel_family < 2; ++kernel_family) {
    for (format = 0; format < 3; ++format) {
      size_t total = 0;
      check(bitnet_cpu_set_target(BITNET_CPU_REFERENCE) == 0, "set REFERENCE");
      for (a = 0; a < num_absmax; ++a) {
        counts[a] = threshold_inputs(kernel_family, format, kAbsmax[a],
                                     candidates + a * MAX_CANDIDATES);
        total += counts[a];
      }
      check(bitnet_cpu_set_target(BITNET_CPU_AUTO) == 0, "restore AUTO");
      for (b = 0; b < sizeof(kBlocks) / sizeof(kBlocks[0]); ++b) {
        const uint32_t block = kernel_family ? kDefaultBlock[format] : kBlocks[b];
        /* Each absmax starts a block; each block starts with +-m. */
        const size_t cap = (total + num_absmax) * block + 1;
        float* x = (float*)xmalloc(cap * sizeof(float));
        size_t n = 0;
        char where[160];
        for (a = 0; a < num_absmax; ++a) {
          size_t next = 0;
          while (next < counts[a]) {
            x[n] = (n / block) % 2 ? -kAbsmax[a] : kAbsmax[a];
            for (i = 1; i < block; ++i) {
              x[n + i] = candidates[a * MAX_CANDIDATES + next % counts[a]];
              ++next;
            }
            n += block;
          }
        }
        x[n++] = kAbsmax[0]; /* a partial last block */
        snprintf(where, sizeof(where), "thresholds %s%s block %u n %zu",
                 kernel_family ? "kernel " : "", kFormatNames[format], block, n);
        if (kernel_family) {
          compare_kernel_quantize(format, x, n, 1, where);
        } else {
          compare_quantize(format, block, x, n, 3, where);
        }
        free(x);
        if (kernel_family) break;
      }
    }
  }
  free(candidates);
}

/* ---- sub-ranges ---------------------------------------------------------------------- */

/* Outputs at odd offsets inside larger poisoned buffers: the right bytes are
 * written and none outside. */
static void run_offsets(void) {
  static const size_t kOffsets[] = {1, 2, 3, 5, 17};
  const size_t n = 100003, pad = 64;
  float* x = (float*)xmalloc(n * sizeof(float));
  size_t o;
  int format;
  fill_random(SPECIALS, x, n, 32, 7);
  for (format = 0; format < 3; ++format) {
    for (o = 0; o < sizeof(kOffsets) / sizeof(kOffsets[0]); ++o) {
      const size_t off = kOffsets[o];
      const uint32_t block = kDefaultBlock[format];
      const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
      const bitnet_quant_options ref = reference_options(block), gpu = cuda_options(block);
      result want = quantize_host(&ref, format, x, n);
      float* d_in = (float*)device_alloc((n + 2 * pad) * sizeof(float));
      uint8_t* d_packed = (uint8_t*)device_alloc(packed_len + 2 * pad);
      float* d_scales = (float*)device_alloc((scales_len + 2 * pad) * sizeof(float));
      float* d_out = (float*)device_alloc((n + 2 * pad) * sizeof(float));
      uint8_t *packed, *scales_bytes, *out_bytes;
      float* out_values = (float*)xmalloc(n * sizeof(float));
      char where[128], what[160];
      snprintf(where, sizeof(where), "%s offset %zu", kFormatNames[format], off);
      CUDA_OK(cudaMemcpy(d_in + off, x, n * sizeof(float), cudaMemcpyHostToDevice));
      CUDA_OK(cudaMemset(d_packed, POISON, packed_len + 2 * pad));
      CUDA_OK(cudaMemset(d_scales, POISON, (scales_len + 2 * pad) * sizeof(float)));
      CUDA_OK(cudaMemset(d_out, POISON, (n + 2 * pad) * sizeof(float)));
      snprintf(what, sizeof what, "%s: quantize", where);
      expect_status(bitnet_cuda_quantize(format, &gpu, d_in + off, n, d_packed + off, packed_len,
                                         d_scales + off, scales_len, NULL), 0, what);
      snprintf(what, sizeof what, "%s: dequantize", where);
      expect_status(bitnet_cuda_dequantize(format, &gpu, d_packed + off, packed_len, d_scales + off,
                                           scales_len, d_out + off, n, NULL), 0, what);
      CUDA_OK(cudaDeviceSynchronize());
      packed = (uint8_t*)from_device(d_packed, packed_len + 2 * pad);
      scales_bytes = (uint8_t*)from_device(d_scales, (scales_len + 2 * pad) * sizeof(float));
      out_bytes = (uint8_t*)from_device(d_out, (n + 2 * pad) * sizeof(float));
      check(first_byte_diff(packed + off, want.packed, packed_len) < 0, "%s: packed differs", where);
      check(first_float_diff((float*)scales_bytes + off, want.scales, scales_len) < 0,
            "%s: scales differ", where);
      check(untouched(packed, off) && untouched(packed + off + packed_len, 2 * pad - off),
            "%s: bytes outside packed written", where);
      check(untouched(scales_bytes, off * 4) &&
                untouched(scales_bytes + (off + scales_len) * 4, (2 * pad - off) * 4),
            "%s: floats outside scales written", where);
      check(untouched(out_bytes, off * 4) && untouched(out_bytes + (off + n) * 4, (2 * pad - off) * 4),
            "%s: floats outside output written", where);
      check(bitnet_dequantize(format, &ref, want.packed, packed_len, want.scales, scales_len,
                              out_values, n) == 0 &&
                first_float_diff((float*)out_bytes + off, out_values, n) < 0,
            "%s: dequantized values differ", where);
      free(packed);
      free(scales_bytes);
      free(out_bytes);
      free(out_values);
      result_free(&want);
      CUDA_OK(cudaFree(d_in));
      CUDA_OK(cudaFree(d_packed));
      CUDA_OK(cudaFree(d_scales));
      CUDA_OK(cudaFree(d_out));
    }
  }
  free(x);
}

/* ---- streams and threads ------------------------------------------------------------ */

#define NUM_STREAMS 4

typedef struct host_job {
  int format;
  const float* x;
  size_t n;
  result got;
} host_job;

static void* host_worker(void* arg) {
  host_job* job = (host_job*)arg;
  const bitnet_quant_options gpu = cuda_options(kDefaultBlock[job->format]);
  job->got = quantize_host(&gpu, job->format, job->x, job->n);
  return NULL;
}

static void run_streams(void) {
  const size_t n = (4u << 20) + 3;
  cudaStream_t streams[NUM_STREAMS];
  float* x[NUM_STREAMS];
  float *d_in[NUM_STREAMS], *d_scales[NUM_STREAMS], *d_out[NUM_STREAMS];
  uint8_t* d_packed[NUM_STREAMS];
  pthread_t threads[NUM_STREAMS];
  host_job jobs[NUM_STREAMS];
  int i;
  for (i = 0; i < NUM_STREAMS; ++i) {
    const int format = i % 3;
    const uint32_t block = kDefaultBlock[format];
    x[i] = (float*)xmalloc(n * sizeof(float));
    fill_random(i % 2 ? SPECIALS : GAUSS, x[i], n, block, 1000 + i);
    CUDA_OK(cudaStreamCreateWithFlags(&streams[i], cudaStreamNonBlocking));
    d_in[i] = (float*)to_device(x[i], n * sizeof(float));
    d_packed[i] = (uint8_t*)device_alloc((n + 3) / 4);
    d_scales[i] = (float*)device_alloc((n + block - 1) / block * sizeof(float));
    d_out[i] = (float*)device_alloc(n * sizeof(float));
  }
  /* The copies ran on the legacy default stream (one from pageable memory
   * may return before its data lands), which non-blocking streams do not
   * wait for. */
  CUDA_OK(cudaDeviceSynchronize());
  /* All streams enqueued before any is waited for. */
  for (i = 0; i < NUM_STREAMS; ++i) {
    const int format = i % 3;
    const uint32_t block = kDefaultBlock[format];
    const bitnet_quant_options gpu = cuda_options(block);
    const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
    expect_status(bitnet_cuda_quantize(format, &gpu, d_in[i], n, d_packed[i], packed_len, d_scales[i],
                                       scales_len, streams[i]), 0, "stream quantize");
    expect_status(bitnet_cuda_dequantize(format, &gpu, d_packed[i], packed_len, d_scales[i], scales_len,
                                         d_out[i], n, streams[i]), 0, "stream dequantize");
  }
  for (i = 0; i < NUM_STREAMS; ++i) {
    jobs[i].format = i % 3;
    jobs[i].x = x[i];
    jobs[i].n = n;
    check(pthread_create(&threads[i], NULL, host_worker, &jobs[i]) == 0, "pthread_create");
  }
  for (i = 0; i < NUM_STREAMS; ++i) {
    const int format = i % 3;
    const uint32_t block = kDefaultBlock[format];
    const bitnet_quant_options ref = reference_options(block);
    const size_t packed_len = (n + 3) / 4, scales_len = (n + block - 1) / block;
    result want = quantize_host(&ref, format, x[i], n), dev;
    float* want_values = (float*)xmalloc(n * sizeof(float));
    float* got_values;
    char where[64];
    snprintf(where, sizeof(where), "stream %d (%s)", i, kFormatNames[format]);
    pthread_join(threads[i], NULL);
    CUDA_OK(cudaStreamSynchronize(streams[i]));
    dev.status = BITNET_OK;
    dev.packed = (uint8_t*)from_device(d_packed[i], packed_len);
    dev.scales = (float*)from_device(d_scales[i], scales_len * sizeof(float));
    got_values = (float*)from_device(d_out[i], n * sizeof(float));
    expect_same(&dev, &want, n, block, where, "device");
    expect_same(&jobs[i].got, &want, n, block, where, "host thread");
    check(bitnet_dequantize(format, &ref, want.packed, packed_len, want.scales, scales_len,
                            want_values, n) == 0 &&
              first_float_diff(got_values, want_values, n) < 0,
          "%s: dequantized values differ", where);
    result_free(&want);
    result_free(&dev);
    result_free(&jobs[i].got);
    free(want_values);
    free(got_values);
    free(x[i]);
    CUDA_OK(cudaStreamDestroy(streams[i]));
    CUDA_OK(cudaFree(d_in[i]));
    CUDA_OK(cudaFree(d_packed[i]));
    CUDA_OK(cudaFree(d_scales[i]));
    CUDA_OK(cudaFree(d_out[i]));
  }
}

/* ---- selection, strict mode, argument checks ------------------------------------------ */

static void run_modes(void) {
  const int count = bitnet_cuda_device_count();
  const size_t n = 70000, packed_len = (n + 3) / 4, scales_len = (n + 31) / 32;
  bitnet_cuda_device_info info;
  bitnet_quant_options opt = cuda_options(32);
  float* x = (float*)xmalloc(n * sizeof(float));
  uint8_t packed[16];
  float scales[4];
  float *d_x, *d_scales, *pinned, *managed;
  uint8_t* d_packed;
  int status;
  fill_random(GAUSS, x, n, 32, 5);
  d_x = (float*)to_device(x, n * sizeof(float));
  d_packed = (uint8_t*)device_alloc(packed_len + 1);
  d_scales = (float*)device_alloc(scales_len * sizeof(float) + 4);

  /* Capability queries. */
  memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  if (check(bitnet_cuda_get_device_info(0, &info) == 0, "device info: %s", bitnet_last_error())) {
    printf("device 0: %s, compute %d.%d, %d SMs, %.1f GiB (%.1f free), fp16 %d, bf16 %d\n",
           info.name, info.compute_major, info.compute_minor, info.multiprocessor_count,
           info.total_memory / 1073741824.0, info.free_memory / 1073741824.0, info.supports_fp16,
           info.supports_bf16);
    check(info.usable == 1 && info.name[0] != '\0' && info.total_memory > 0 &&
              info.free_memory <= info.total_memory && info.compute_major >= 8 &&
              info.supports_fp16 == 1 && info.supports_bf16 == 1,
          "device info fields");
  }
  info.struct_size = 8;
  expect_status(bitnet_cuda_get_device_info(0, &info), BITNET_E_INVALID_ARGUMENT, "info struct_size");
  info.struct_size = sizeof(info);
  expect_status(bitnet_cuda_get_device_info(count, &info), BITNET_E_DEVICE_UNAVAILABLE,
                "info of device count");
  expect_status(bitnet_cuda_get_device_info(0, NULL), BITNET_E_NULL_POINTER, "info NULL");

  /* Host-pointer dispatch: AUTO runs on the GPU from the default threshold
   * of 2^24 elements on, unless a CPU target is named. */
  {
    const size_t big = (size_t)1 << 24;
    float* xb = (float*)xmalloc(big * sizeof(float));
    uint8_t* pb = (uint8_t*)xmalloc(big / 4);
    float* sb = (float*)xmalloc(big / 32 * sizeof(float));
    bitnet_quant_options o = BITNET_QUANT_OPTIONS_INIT;
    uint8_t p[2];
    float s[1];
    fill_random(GAUSS, xb, big, 32, 6);
    expect_status(bitnet_quantize(0, &o, x, 8, p, 2, s, 1), 0, "AUTO, 8 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CPU, "AUTO, 8 elements, ran on %d",
          (int)bitnet_last_backend());
    expect_status(bitnet_quantize(0, &o, xb, big - 1, pb, big / 4, sb, big / 32), 0,
                  "AUTO, 2^24 - 1 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CPU, "AUTO, 2^24 - 1 elements, ran on %d",
          (int)bitnet_last_backend());
    expect_status(bitnet_quantize(0, &o, xb, big, pb, big / 4, sb, big / 32), 0,
                  "AUTO, 2^24 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "AUTO, 2^24 elements, ran on %d",
          (int)bitnet_last_backend());
    expect_status(bitnet_quantize_tl2(xb, big, pb, big / 4, sb, big / 128), 0,
                  "fixed-format, NULL options, 2^24 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "NULL options ran on %d",
          (int)bitnet_last_backend());
    o.cpu_target = BITNET_CPU_REFERENCE;
    expect_status(bitnet_quantize(0, &o, xb, big, pb, big / 4, sb, big / 32), 0,
                  "AUTO, cpu_target REFERENCE, 2^24 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CPU, "a named CPU target ran on %d",
          (int)bitnet_last_backend());
    o.cpu_target = BITNET_CPU_AUTO;
    o.device = BITNET_DEVICE_CPU;
    expect_status(bitnet_quantize(0, &o, xb, big, pb, big / 4, sb, big / 32), 0, "CPU");
    check(bitnet_last_backend() == BITNET_BACKEND_CPU, "CPU ran on %d", (int)bitnet_last_backend());
    o.device = BITNET_DEVICE_CUDA;
    expect_status(bitnet_quantize(0, &o, x, 8, p, 2, s, 1), 0, "CUDA, 8 elements");
    check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "CUDA, 8 elements, ran on %d",
          (int)bitnet_last_backend());
    o.device = BITNET_DEVICE_AUTO;
    o.device_index = count; /* no such GPU: AUTO falls back unless strict */
    o.flags = BITNET_FLAG_NOT_STRICT;
    expect_status(bitnet_quantize(0, &o, xb, big, pb, big / 4, sb, big / 32), 0,
                  "AUTO, missing index, not strict");
    check(bitnet_last_backend() == BITNET_BACKEND_CPU_FALLBACK, "fallback reported as %d",
          (int)bitnet_last_backend());
    o.flags = BITNET_FLAG_STRICT;
    memset(pb, POISON, big / 4);
    expect_status(bitnet_quantize(0, &o, xb, big, pb, big / 4, sb, big / 32),
                  BITNET_E_DEVICE_UNAVAILABLE, "AUTO, missing index, strict");
    check(untouched(pb, big / 4), "strict failure wrote its output");
    expect_status(bitnet_quantize(0, &o, x, 8, p, 2, s, 1), 0,
                  "AUTO, missing index, strict, 8 elements: the CPU");
    o.device = BITNET_DEVICE_CUDA;
    o.flags = BITNET_FLAG_NOT_STRICT;
    expect_status(bitnet_quantize(0, &o, x, 8, p, 2, s, 1), BITNET_E_DEVICE_UNAVAILABLE,
                  "CUDA, missing index");
    free(xb);
    free(pb);
    free(sb);
  }

  /* An error the application left pending in its CUDA runtime stays
   * pending through the library's calls, failing or not. */
  check(cudaSetDevice(count) == cudaErrorInvalidDevice, "set up a pending error");
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, n, d_packed, packed_len, d_scales, scales_len,
                                     NULL), 0, "device-pointer quantize, error pending");
  expect_status(bitnet_cuda_quantize(0, &opt, x, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_INVALID_ARGUMENT, "host input to device-pointer call, error pending");
  check(cudaPeekAtLastError() == cudaErrorInvalidDevice,
        "the application's pending CUDA error is gone: %s",
        cudaGetErrorName(cudaPeekAtLastError()));
  check(cudaGetLastError() == cudaErrorInvalidDevice && cudaGetLastError() == cudaSuccess,
        "clear the pending error");

  /* Device-pointer argument checks. */
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, n, d_packed, packed_len, d_scales, scales_len,
                                     NULL), 0, "device-pointer quantize");
  expect_status(bitnet_cuda_quantize(0, &opt, x, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_INVALID_ARGUMENT, "host input to device-pointer call");
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, 8, packed, 2, d_scales, 1, NULL),
                BITNET_E_INVALID_ARGUMENT, "host output to device-pointer call");
  expect_status(bitnet_cuda_dequantize(0, &opt, d_packed, 2, scales, 1, d_x, 8, NULL),
                BITNET_E_INVALID_ARGUMENT, "host scales to device-pointer dequantize");
  expect_status(bitnet_cuda_quantize(0, &opt, NULL, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_NULL_POINTER, "NULL input");
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, 8, d_packed, 1, d_scales, 1, NULL),
                BITNET_E_BUFFER_TOO_SMALL, "packed_len too small");
  expect_status(bitnet_cuda_quantize(0, &opt, (const float*)((const char*)d_x + 2), 8, d_packed, 2,
                                     d_scales, 1, NULL), BITNET_E_MISALIGNED, "misaligned input");
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, 8, (uint8_t*)d_x + 4, 2, d_scales, 1, NULL),
                BITNET_E_OVERLAP, "packed overlaps input");
  expect_status(bitnet_cuda_dequantize(0, &opt, d_packed, 3, d_scales, 1, d_x, 8, NULL),
                BITNET_E_SIZE_MISMATCH, "dequantize packed_len");
  expect_status(bitnet_cuda_kernel_quantize(0, &opt, d_x, 8, d_packed, 2, d_scales, 1, NULL), 0,
                "kernel family, block 32");
  opt.block_size = 64;
  expect_status(bitnet_cuda_kernel_quantize(0, &opt, d_x, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_INVALID_BLOCK_SIZE, "kernel family, block 64 for I2_S");
  opt = cuda_options(32);
  opt.device = BITNET_DEVICE_CPU;
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_INVALID_OPTIONS, "device-pointer call with device CPU");
  opt = cuda_options(32);
  opt.device_index = count;
  expect_status(bitnet_cuda_quantize(0, &opt, d_x, 8, d_packed, 2, d_scales, 1, NULL),
                BITNET_E_DEVICE_UNAVAILABLE, "device-pointer call, missing GPU");
  opt = cuda_options(32);

  /* I2_S writes nothing when no element is finite. Its kernel holds back the
   * blocks of a warp that sees no finite element (runs of 128+ elements), so
   * long non-finite runs take the probe and the second pass: all non-finite
   * (the error, nothing written), finite stretches between long non-finite
   * runs, and one finite element at the very end; blocks of warp groups and
   * of whole thread blocks (1024). */
  {
    static const uint32_t kBlocks[] = {4, 32, 512, 1024};
    static const char* const kPatterns[] = {"all non-finite", "finite stretches",
                                            "one finite element at the end"};
    size_t b, pattern, i;
    char where[128];
    for (b = 0; b < sizeof(kBlocks) / sizeof(kBlocks[0]); ++b) {
      for (pattern = 0; pattern < 3; ++pattern) {
        for (i = 0; i < n; ++i) {
          x[i] = (i % 2) ? NAN : (i % 3) ? -INFINITY : INFINITY;
          if (pattern == 1 && (i / 3000) % 4 == 1) x[i] = (float)((int)(i % 7) - 3) * 0.125f;
        }
        if (pattern == 2) x[n - 1] = 0.25f;
        snprintf(where, sizeof(where), "I2_S block %u, %s", (unsigned)kBlocks[b],
                 kPatterns[pattern]);
        compare_quantize(BITNET_FORMAT_I2S, kBlocks[b], x, n, 0, where);
      }
    }
  }

  /* Mapped pinned host memory and managed memory are device-accessible. */
  CUDA_OK(cudaHostAlloc((void**)&pinned, n * sizeof(float), cudaHostAllocMapped));
  CUDA_OK(cudaMallocManaged((void**)&managed, n * sizeof(float), cudaMemAttachGlobal));
  fill_random(SPECIALS, pinned, n, 32, 9);
  memcpy(managed, pinned, n * sizeof(float));
  {
    const bitnet_quant_options ref = reference_options(128), gpu = cuda_options(128);
    result want = quantize_host(&ref, 2, pinned, n), got_pinned, got_managed;
    const size_t tl2_scales = (n + 127) / 128;
    got_pinned.status = bitnet_cuda_quantize(2, &gpu, pinned, n, d_packed, packed_len, d_scales,
                                             tl2_scales, NULL);
    CUDA_OK(cudaDeviceSynchronize());
    got_pinned.packed = (uint8_t*)from_device(d_packed, packed_len);
    got_pinned.scales = (float*)from_device(d_scales, tl2_scales * 4);
    expect_same(&got_pinned, &want, n, 128, "TL2 from pinned host memory", "device");
    got_managed.status = bitnet_cuda_quantize(2, &gpu, managed, n, d_packed, packed_len, d_scales,
                                              tl2_scales, NULL);
    CUDA_OK(cudaDeviceSynchronize());
    got_managed.packed = (uint8_t*)from_device(d_packed, packed_len);
    got_managed.scales = (float*)from_device(d_scales, tl2_scales * 4);
    expect_same(&got_managed, &want, n, 128, "TL2 from managed memory", "device");
    result_free(&want);
    result_free(&got_pinned);
    result_free(&got_managed);
  }
  status = bitnet_cuda_quantize(0, &opt, d_x, 0, NULL, 0, NULL, 0, NULL);
  expect_status(status, 0, "n = 0");
  CUDA_OK(cudaFreeHost(pinned));
  CUDA_OK(cudaFree(managed));
  CUDA_OK(cudaFree(d_x));
  CUDA_OK(cudaFree(d_packed));
  CUDA_OK(cudaFree(d_scales));
  free(x);
}

/* ---- the device-failure contract ----------------------------------------------------- */

/* With the GPU's memory nearly all taken, host-pointer calls of 2^26
 * elements cannot stage their buffers: device CUDA and strict AUTO fail
 * with BITNET_E_DEVICE_FAILURE writing nothing, AUTO falls back to the CPU
 * with the CPU's results and says so, and after the memory is back AUTO
 * runs on the GPU again. */
#define MAX_HOGS 4096
static void run_fallback(void) {
  const size_t n = (size_t)1 << 26, keep = (size_t)64 << 20;
  const size_t packed_len = n / 4, scales_len = n / 32;
  float* x = (float*)xmalloc(n * sizeof(float));
  float* values = (float*)xmalloc(n * sizeof(float));
  float* want_values = (float*)xmalloc(n * sizeof(float));
  const bitnet_quant_options ref = reference_options(32);
  bitnet_quant_options o = BITNET_QUANT_OPTIONS_INIT;
  result want, got;
  void* hogs[MAX_HOGS];
  int num_hogs = 0, h;
  size_t free_bytes = 0, total_bytes = 0, chunk;
  fill_random(GAUSS, x, n, 32, 17);
  want = quantize_host(&ref, BITNET_FORMAT_I2S, x, n);
  check(want.status == 0 && bitnet_dequantize(BITNET_FORMAT_I2S, &ref, want.packed, packed_len,
                                              want.scales, scales_len, want_values, n) == 0,
        "CPU reference");

  CUDA_OK(cudaMemGetInfo(&free_bytes, &total_bytes));
  chunk = free_bytes;
  while (num_hogs < MAX_HOGS && free_bytes > keep && chunk >= ((size_t)1 << 20)) {
    void* p = NULL;
    const size_t want_bytes = chunk < free_bytes - keep ? chunk : free_bytes - keep;
    if (cudaMalloc(&p, want_bytes) == cudaSuccess) {
      hogs[num_hogs++] = p;
    } else {
      const cudaError_t err = cudaGetLastError(); /* the failed cudaMalloc's */
      if (err != cudaErrorMemoryAllocation) CUDA_OK(err);
      chunk /= 2;
    }
    CUDA_OK(cudaMemGetInfo(&free_bytes, &total_bytes));
  }
  printf("fallback: %.0f MiB of GPU memory left free\n", free_bytes / 1048576.0);
  check(free_bytes < (size_t)80 << 20, "could not take the GPU's memory (%zu bytes free)",
        free_bytes);

  o.device = BITNET_DEVICE_CUDA;
  got = quantize_host(&o, BITNET_FORMAT_I2S, x, n);
  check(got.status == BITNET_E_DEVICE_FAILURE, "CUDA quantize without memory: %d (%s)",
        got.status, bitnet_last_error() ? bitnet_last_error() : "");
  check(untouched(got.packed, packed_len) && untouched(got.scales, scales_len * 4),
        "CUDA quantize without memory wrote its outputs");
  result_free(&got);
  memset(values, POISON, n * sizeof(float));
  expect_status(bitnet_dequantize(BITNET_FORMAT_I2S, &o, want.packed, packed_len, want.scales,
                                  scales_len, values, n),
                BITNET_E_DEVICE_FAILURE, "CUDA dequantize without memory");
  check(untouched(values, n * sizeof(float)), "CUDA dequantize without memory wrote its output");

  o.device = BITNET_DEVICE_AUTO;
  o.flags = BITNET_FLAG_STRICT;
  got = quantize_host(&o, BITNET_FORMAT_I2S, x, n);
  check(got.status == BITNET_E_DEVICE_FAILURE && untouched(got.packed, packed_len),
        "strict AUTO quantize without memory: %d, outputs untouched: %d", got.status,
        untouched(got.packed, packed_len));
  result_free(&got);

  o.flags = BITNET_FLAG_NOT_STRICT;
  got = quantize_host(&o, BITNET_FORMAT_I2S, x, n);
  expect_same(&got, &want, n, 32, "AUTO quantize without GPU memory", "fallback");
  check(bitnet_last_backend() == BITNET_BACKEND_CPU_FALLBACK, "AUTO quantize ran on %d",
        (int)bitnet_last_backend());
  check(bitnet_last_error() != NULL && strstr(bitnet_last_error(), "after a failure") != NULL,
        "the fallback's reason: %s", bitnet_last_error() ? bitnet_last_error() : "(none)");
  printf("fallback: %s\n", bitnet_last_error() ? bitnet_last_error() : "");
  result_free(&got);
  memset(values, POISON, n * sizeof(float));
  /* The fixed-format functions are AUTO (not strict unless the environment says so). */
  expect_status(bitnet_dequantize_i2s(want.packed, packed_len, want.scales, scales_len, values, n),
                0, "fixed-format dequantize without GPU memory");
  check(bitnet_last_backend() == BITNET_BACKEND_CPU_FALLBACK &&
            first_float_diff(values, want_values, n) < 0,
        "fixed-format dequantize: backend %d, values as the CPU's", (int)bitnet_last_backend());

  for (h = 0; h < num_hogs; ++h) CUDA_OK(cudaFree(hogs[h]));
  got = quantize_host(&o, BITNET_FORMAT_I2S, x, n);
  expect_same(&got, &want, n, 32, "AUTO quantize with the memory back", "GPU");
  check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "AUTO with the memory back ran on %d",
        (int)bitnet_last_backend());
  result_free(&got);
  result_free(&want);
  free(x);
  free(values);
  free(want_values);
}

/* ---- no CUDA below AUTO's threshold ----------------------------------------------------- */

/* The driver API, looked up at run time so that this program still starts
 * on a machine without a driver. */
typedef int (*cu_init_fn)(unsigned flags);
typedef int (*cu_device_count_fn)(int* count);
typedef int (*cu_device_get_fn)(int* device, int ordinal);
typedef int (*cu_primary_ctx_state_fn)(int device, unsigned* flags, int* active);

/* Run before anything else in the process touches CUDA: host-pointer calls
 * below AUTO's threshold (fixed-format functions, NULL and AUTO options,
 * strict or not), bitnet_quant_buffer_sizes even for device CUDA and
 * bitnet_cpp_quantize leave every GPU without a context; the first call at
 * the threshold creates one. Returns SKIP_RETURN_CODE without a GPU. */
static int run_lazy(void) {
  void* cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  cu_init_fn cu_init;
  cu_device_count_fn cu_device_count;
  cu_device_get_fn cu_device_get;
  cu_primary_ctx_state_fn cu_primary_ctx_state;
  void* sym;
  int devices = 0, d, active_devices = 0;
  const size_t threshold = 65536, n = threshold - 1;
  float* x;
  uint8_t* packed;
  float *scales, *values;
  size_t packed_len, scales_len;
  bitnet_quant_options o = BITNET_QUANT_OPTIONS_INIT;
  if (cuda == NULL) {
    printf("SKIPPED: no CUDA driver (%s)\n", dlerror());
    return SKIP_RETURN_CODE;
  }
#define CU_SYM(var, name) (sym = dlsym(cuda, name), memcpy(&var, &sym, sizeof(var)), sym != NULL)
  if (!CU_SYM(cu_init, "cuInit") || !CU_SYM(cu_device_count, "cuDeviceGetCount") ||
      !CU_SYM(cu_device_get, "cuDeviceGet") ||
      !CU_SYM(cu_primary_ctx_state, "cuDevicePrimaryCtxGetState")) {
    printf("FATAL: the CUDA driver lacks a function: %s\n", dlerror());
    return 2;
  }
#undef CU_SYM
  if (cu_init(0) != 0 || cu_device_count(&devices) != 0 || devices == 0) {
    printf("SKIPPED: no CUDA device\n");
    return SKIP_RETURN_CODE;
  }
  /* Read by the first call that consults it. */
  if (setenv("BITNET_CUDA_MIN_ELEMENTS", "65536", 1) != 0) return 2;
  x = (float*)xmalloc(threshold * sizeof(float));
  packed = (uint8_t*)xmalloc(threshold / 4);
  scales = (float*)xmalloc(threshold / 4 * sizeof(float));
  values = (float*)xmalloc(threshold * sizeof(float));
  fill_random(GAUSS, x, threshold, 32, 3);
  packed_len = (n + 3) / 4;
  scales_len = (n + 31) / 32;
  expect_status(bitnet_quantize_i2s(x, n, packed, packed_len, scales, scales_len), 0, "i2s");
  expect_status(bitnet_dequantize_i2s(packed, packed_len, scales, scales_len, values, n), 0,
                "dequantize i2s");
  expect_status(bitnet_quantize_tl1(x, n, packed, packed_len, scales, (n + 63) / 64), 0, "tl1");
  expect_status(bitnet_dequantize_tl1(packed, packed_len, scales, (n + 63) / 64, values, n), 0,
                "dequantize tl1");
  expect_status(bitnet_quantize_tl2(x, n, packed, packed_len, scales, (n + 127) / 128), 0, "tl2");
  expect_status(bitnet_dequantize_tl2(packed, packed_len, scales, (n + 127) / 128, values, n), 0,
                "dequantize tl2");
  expect_status(bitnet_quantize(0, NULL, x, n, packed, packed_len, scales, scales_len), 0,
                "NULL options");
  o.flags = BITNET_FLAG_STRICT;
  expect_status(bitnet_quantize(0, &o, x, n, packed, packed_len, scales, scales_len), 0,
                "AUTO, STRICT");
  check(bitnet_last_backend() == BITNET_BACKEND_CPU, "AUTO below the threshold ran on %d",
        (int)bitnet_last_backend());
  o.flags = 0;
  o.cpu_target = BITNET_CPU_REFERENCE;
  expect_status(bitnet_quantize(0, &o, x, threshold, packed, threshold / 4, scales,
                                threshold / 32), 0, "AUTO with a CPU target, at the threshold");
  o.cpu_target = BITNET_CPU_AUTO;
  o.device = BITNET_DEVICE_CUDA;
  {
    size_t a = 0, b = 0;
    expect_status(bitnet_quant_buffer_sizes(0, &o, n, &a, &b), 0, "sizes for device CUDA");
  }
  expect_status(bitnet_cpp_quantize(x, (int)n, packed, (int)packed_len, scales, (int)scales_len,
                                    0), 0, "bitnet_cpp_quantize");
  for (d = 0; d < devices; ++d) {
    int device = 0, active = 0;
    unsigned flags = 0;
    check(cu_device_get(&device, d) == 0 && cu_primary_ctx_state(device, &flags, &active) == 0,
          "primary context state of device %d", d);
    check(active == 0, "device %d has a CUDA context after calls below the threshold", d);
  }
  o.device = BITNET_DEVICE_AUTO;
  expect_status(bitnet_quantize(0, &o, x, threshold, packed, threshold / 4, scales,
                                threshold / 32), 0, "AUTO at the threshold");
  check(bitnet_last_backend() == BITNET_BACKEND_CUDA, "AUTO at the threshold ran on %d",
        (int)bitnet_last_backend());
  for (d = 0; d < devices; ++d) {
    int device = 0, active = 0;
    unsigned flags = 0;
    if (cu_device_get(&device, d) == 0 && cu_primary_ctx_state(device, &flags, &active) == 0) {
      active_devices += active;
    }
  }
  check(active_devices == 1, "%d devices have a context after one GPU call", active_devices);
  free(x);
  free(packed);
  free(scales);
  free(values);
  return finish("lazy");
}

/* ---- 2^31 + 5 elements ----------------------------------------------------------------- */

static void run_huge(void) {
  const size_t n = ((size_t)1 << 31) + 5, chunk = (size_t)1 << 20;
  float* x = (float*)xmalloc(n * sizeof(float));
  size_t i;
  /* A random first MiB, repeated with a different sign and magnitude per copy. */
  fill_random(SPECIALS, x, chunk, 32, 31);
  for (i = chunk; i < n; ++i) x[i] = x[i % chunk] * ((i / chunk) % 2 ? -0.5f : 3.0f);
  compare_quantize(BITNET_FORMAT_I2S, 32, x, n, 1, "I2_S n 2^31+5");
  free(x);
}

int main(int argc, char** argv) {
  bitnet_cuda_device_info info;
  const char* mode = argc > 1 ? argv[1] : "";
  /* Before anything creates a context. */
  if (strcmp(mode, "lazy") == 0) return run_lazy();
  memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  if (bitnet_cuda_device_count() == 0 || bitnet_cuda_get_device_info(0, &info) != 0 ||
      !info.usable) {
    bitnet_quant_options opt = cuda_options(0);
    /* Device CUDA checks the GPU even for n == 0: records why it is unusable. */
    bitnet_quantize(0, &opt, NULL, 0, NULL, 0, NULL, 0);
    printf("SKIPPED: no usable CUDA GPU: %s\n", bitnet_last_error() ? bitnet_last_error() : "?");
    return SKIP_RETURN_CODE;
  }
  printf("GPU: %s (compute %d.%d)\n", info.name, info.compute_major, info.compute_minor);
  if (strcmp(mode, "golden") == 0 && argc == 3) {
    run_golden(argv[2]);
  } else if (strcmp(mode, "random") == 0) {
    run_random(0);
    run_thresholds();
  } else if (strcmp(mode, "thresholds") == 0) {
    run_thresholds();
  } else if (strcmp(mode, "sanitize") == 0) {
    run_random(1);
    run_thresholds();
    run_offsets();
  } else if (strcmp(mode, "offsets") == 0) {
    run_offsets();
  } else if (strcmp(mode, "streams") == 0) {
    run_streams();
  } else if (strcmp(mode, "modes") == 0) {
    run_modes();
  } else if (strcmp(mode, "fallback") == 0) {
    run_fallback();
  } else if (strcmp(mode, "huge") == 0) {
    run_huge();
  } else {
    fprintf(stderr, "usage: %s golden GOLDEN_DIR | random | thresholds | offsets | streams | modes | "
            "fallback | lazy | sanitize | huge\n", argv[0]);
    return 2;
  }
  return finish(mode);
}
