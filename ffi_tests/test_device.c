/* Device choice on whatever machine runs it: AUTO / CPU / CUDA, AUTO's size
 * threshold (BITNET_CUDA_MIN_ELEMENTS, set here to 1000 before the first
 * call), a named CPU target, strict mode from the flags and from
 * BITNET_STRICT_MODE, the backend report and the capability queries. With
 * a usable GPU, AUTO runs there from 1000 elements and CUDA always; without
 * one (no driver, no device, a build without CUDA, or
 * CUDA_VISIBLE_DEVICES="" as ctest's device_no_gpu* set it), AUTO falls
 * back to the CPU with the same results unless strict, and everything that
 * cannot run writes nothing. Below the threshold AUTO is the CPU
 * everywhere, strict or not. usage: test_device */
#define _POSIX_C_SOURCE 200809L /* setenv */
#define BITNET_QUANT_EXPERIMENTAL /* bitnet_cuda_device_count, _get_device_info */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

#define THRESHOLD 1000
#define N_SMALL (THRESHOLD - 1)
#define N_LARGE (THRESHOLD + 1)

static float g_x[N_LARGE];
static uint8_t g_want_packed[2][(N_LARGE + 3) / 4];
static float g_want_scales[2][(N_LARGE + 31) / 32];
static float g_want_values[2][N_LARGE];

/* One quantize + dequantize of n elements with `opt` (NULL: the
 * fixed-format functions): either it runs on `backend` with the CPU's
 * results, or (backend NONE) it fails with `fail_status` and writes nothing. */
static void expect_call_status(const bitnet_quant_options* opt, size_t n, bitnet_backend backend,
                               int fail_status, const char* what) {
  const int large = n == N_LARGE;
  const size_t packed_len = (n + 3) / 4, scales_len = (n + 31) / 32;
  uint8_t packed[(N_LARGE + 3) / 4];
  float scales[(N_LARGE + 31) / 32], values[N_LARGE];
  const int want_status = backend == BITNET_BACKEND_NONE ? fail_status : BITNET_OK;
  char where[160];
  int status;
  snprintf(where, sizeof(where), "%s, n %zu", what, n);
  memset(packed, POISON, sizeof(packed));
  memset(scales, POISON, sizeof(scales));
  memset(values, POISON, sizeof(values));
  status = opt ? bitnet_quantize(BITNET_FORMAT_I2S, opt, g_x, n, packed, packed_len, scales,
                                 scales_len)
               : bitnet_quantize_i2s(g_x, n, packed, packed_len, scales, scales_len);
  check(status == want_status, "%s: quantize status %d, expected %d (%s)", where, status,
        want_status, bitnet_last_error() ? bitnet_last_error() : "");
  if (want_status != BITNET_OK) {
    check(bitnet_last_error() != NULL, "%s: no message", where);
    check(untouched(packed, sizeof(packed)) && untouched(scales, sizeof(scales)),
          "%s: outputs written on failure", where);
    printf("  %-52s -> %d: %s\n", where, status, bitnet_last_error());
    return;
  }
  check(bitnet_last_backend() == backend, "%s: backend %d, expected %d", where,
        (int)bitnet_last_backend(), (int)backend);
  if (backend == BITNET_BACKEND_CPU_FALLBACK) {
    check(bitnet_last_error() != NULL && strstr(bitnet_last_error(), "ran on the CPU") != NULL,
          "%s: a fallback leaves no reason in bitnet_last_error()", where);
  }
  check(first_byte_diff(packed, g_want_packed[large], packed_len) < 0 &&
            first_float_diff(scales, g_want_scales[large], scales_len) < 0,
        "%s: results differ from the CPU's", where);
  status = opt ? bitnet_dequantize(BITNET_FORMAT_I2S, opt, packed, packed_len, scales, scales_len,
                                   values, n)
               : bitnet_dequantize_i2s(packed, packed_len, scales, scales_len, values, n);
  check(status == BITNET_OK && bitnet_last_backend() == backend &&
            first_float_diff(values, g_want_values[large], n) < 0,
        "%s: dequantize status %d backend %d", where, status, (int)bitnet_last_backend());
  printf("  %-52s -> backend %d\n", where, (int)bitnet_last_backend());
}

static void expect_call(const bitnet_quant_options* opt, size_t n, bitnet_backend backend,
                        const char* what) {
  expect_call_status(opt, n, backend, BITNET_E_DEVICE_UNAVAILABLE, what);
}

int main(void) {
  const char* visible = getenv("CUDA_VISIBLE_DEVICES");
  const char* env_strict = getenv("BITNET_STRICT_MODE");
  /* test_environment checks the parsing; here "1" or unset. */
  const int strict_env = env_strict != NULL && strcmp(env_strict, "1") == 0;
  bitnet_cuda_device_info info;
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  int count, gpu, i, large;
  uint64_t rng = 42;
  bitnet_backend wanted_gpu;

  /* Read by the first call that consults it: this one. */
  check(setenv("BITNET_CUDA_MIN_ELEMENTS", " 1000 ", 1) == 0, "setenv");
  for (i = 0; i < N_LARGE; ++i) g_x[i] = (float)rng_normal(&rng);
  opt.device = BITNET_DEVICE_CPU;
  for (large = 0; large < 2; ++large) {
    const size_t n = large ? N_LARGE : N_SMALL;
    check(bitnet_quantize(BITNET_FORMAT_I2S, &opt, g_x, n, g_want_packed[large],
                          (n + 3) / 4, g_want_scales[large], (n + 31) / 32) == 0 &&
              bitnet_dequantize(BITNET_FORMAT_I2S, &opt, g_want_packed[large], (n + 3) / 4,
                                g_want_scales[large], (n + 31) / 32, g_want_values[large], n) == 0,
          "CPU reference results");
  }

  count = bitnet_cuda_device_count();
  memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  gpu = count > 0 && bitnet_cuda_get_device_info(0, &info) == 0 && info.usable;
  if (visible != NULL && visible[0] == '\0') {
    check(count == 0 && !gpu, "CUDA_VISIBLE_DEVICES is empty, yet %d device(s) are seen", count);
  }
  if (gpu) {
    printf("GPU 0: %s (compute %d.%d); strict mode from the environment: %s\n", info.name,
           info.compute_major, info.compute_minor, strict_env ? "yes" : "no");
  } else {
    check(bitnet_cuda_get_device_info(0, &info) == BITNET_E_DEVICE_UNAVAILABLE,
          "device info without a usable GPU");
    printf("no usable GPU (%d device(s); %s); strict mode from the environment: %s\n", count,
           bitnet_last_error() ? bitnet_last_error() : "?", strict_env ? "yes" : "no");
    check(bitnet_cuda_quantize(BITNET_FORMAT_I2S, NULL, g_x, N_LARGE, g_want_packed[1],
                               sizeof(g_want_packed[1]), g_want_scales[1],
                               sizeof(g_want_scales[1]) / 4, NULL) == BITNET_E_DEVICE_UNAVAILABLE,
          "device-pointer quantize without a GPU");
  }

  /* What AUTO does where it wants the GPU. */
  wanted_gpu = gpu ? BITNET_BACKEND_CUDA
                   : (strict_env ? BITNET_BACKEND_NONE : BITNET_BACKEND_CPU_FALLBACK);
  expect_call(NULL, N_SMALL, BITNET_BACKEND_CPU, "fixed-format functions (NULL options)");
  expect_call(NULL, N_LARGE, wanted_gpu, "fixed-format functions (NULL options)");
  opt = (bitnet_quant_options)BITNET_QUANT_OPTIONS_INIT;
  expect_call(&opt, N_SMALL, BITNET_BACKEND_CPU, "AUTO");
  expect_call(&opt, N_LARGE, wanted_gpu, "AUTO");
  opt.flags = BITNET_FLAG_STRICT;
  expect_call(&opt, N_SMALL, BITNET_BACKEND_CPU, "AUTO, STRICT");
  expect_call(&opt, N_LARGE, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_NONE, "AUTO, STRICT");
  opt.cpu_target = BITNET_CPU_REFERENCE;
  expect_call(&opt, N_LARGE, BITNET_BACKEND_CPU, "AUTO, STRICT, cpu_target REFERENCE");
  opt.cpu_target = BITNET_CPU_AUTO;
  opt.flags = BITNET_FLAG_NOT_STRICT;
  expect_call(&opt, N_LARGE, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_CPU_FALLBACK,
              "AUTO, NOT_STRICT");
  opt.device = BITNET_DEVICE_CUDA;
  expect_call(&opt, N_SMALL, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_NONE, "CUDA, NOT_STRICT");
  opt.cpu_target = BITNET_CPU_REFERENCE;
  expect_call_status(&opt, N_LARGE, BITNET_BACKEND_NONE, BITNET_E_INVALID_OPTIONS,
                     "CUDA with cpu_target REFERENCE");
  opt.cpu_target = BITNET_CPU_AUTO;
  opt.flags = 0;
  opt.device_index = count; /* never a device */
  expect_call(&opt, N_SMALL, BITNET_BACKEND_NONE, "CUDA, index = device count");
  opt.device = BITNET_DEVICE_AUTO;
  expect_call(&opt, N_SMALL, BITNET_BACKEND_CPU, "AUTO, index = device count");
  expect_call(&opt, N_LARGE, strict_env ? BITNET_BACKEND_NONE : BITNET_BACKEND_CPU_FALLBACK,
              "AUTO, index = device count");
  opt.device = BITNET_DEVICE_CPU;
  opt.device_index = 0;
  opt.flags = BITNET_FLAG_STRICT;
  expect_call(&opt, N_LARGE, BITNET_BACKEND_CPU, "CPU, STRICT");
  return finish("test_device");
}
