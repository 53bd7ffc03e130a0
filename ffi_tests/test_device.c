/* Device selection on whatever machine runs it: AUTO / CPU / CUDA, strict
 * mode from the flags and from BITNET_STRICT_MODE, the backend report and
 * the capability queries. With a usable GPU, AUTO and CUDA must run there;
 * without one (no driver, no device, a build without CUDA, or
 * CUDA_VISIBLE_DEVICES="" as ctest's device_no_gpu* set it), AUTO falls
 * back to the CPU with the same results unless strict, and everything that
 * cannot run writes nothing. usage: test_device */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

#define N 1001

static float g_x[N];
static uint8_t g_want_packed[(N + 3) / 4];
static float g_want_scales[(N + 31) / 32];
static float g_want_values[N];

/* One quantize + dequantize with `opt` (NULL: the fixed-format functions):
 * either it runs on `backend` with the CPU's results, or (backend NONE) it
 * fails with DEVICE_UNAVAILABLE and writes nothing. */
static void expect_call(const bitnet_quant_options* opt, bitnet_backend backend, const char* what) {
  uint8_t packed[(N + 3) / 4];
  float scales[(N + 31) / 32], values[N];
  const int want_status = backend == BITNET_BACKEND_NONE ? BITNET_E_DEVICE_UNAVAILABLE : BITNET_OK;
  int status;
  memset(packed, POISON, sizeof(packed));
  memset(scales, POISON, sizeof(scales));
  memset(values, POISON, sizeof(values));
  status = opt ? bitnet_quantize(BITNET_FORMAT_I2S, opt, g_x, N, packed, sizeof(packed), scales,
                                 sizeof(scales) / 4)
               : bitnet_quantize_i2s(g_x, N, packed, sizeof(packed), scales, sizeof(scales) / 4);
  check(status == want_status, "%s: quantize status %d, expected %d (%s)", what, status,
        want_status, bitnet_last_error() ? bitnet_last_error() : "");
  if (want_status != BITNET_OK) {
    check(bitnet_last_error() != NULL, "%s: no message", what);
    check(untouched(packed, sizeof(packed)) && untouched(scales, sizeof(scales)),
          "%s: outputs written on failure", what);
    printf("  %-44s -> DEVICE_UNAVAILABLE: %s\n", what, bitnet_last_error());
    return;
  }
  check(bitnet_last_backend() == backend, "%s: backend %d, expected %d", what,
        (int)bitnet_last_backend(), (int)backend);
  check(first_byte_diff(packed, g_want_packed, sizeof(packed)) < 0 &&
            first_float_diff(scales, g_want_scales, sizeof(scales) / 4) < 0,
        "%s: results differ from the CPU's", what);
  status = opt ? bitnet_dequantize(BITNET_FORMAT_I2S, opt, packed, sizeof(packed), scales,
                                   sizeof(scales) / 4, values, N)
               : bitnet_dequantize_i2s(packed, sizeof(packed), scales, sizeof(scales) / 4, values, N);
  check(status == BITNET_OK && bitnet_last_backend() == backend &&
            first_float_diff(values, g_want_values, N) < 0,
        "%s: dequantize status %d backend %d", what, status, (int)bitnet_last_backend());
  printf("  %-44s -> backend %d\n", what, (int)bitnet_last_backend());
}

int main(void) {
  const char* env_strict = getenv("BITNET_STRICT_MODE");
  const char* visible = getenv("CUDA_VISIBLE_DEVICES");
  const int strict_env = env_strict != NULL && strcmp(env_strict, "1") == 0;
  const int count = bitnet_cuda_device_count();
  bitnet_cuda_device_info info;
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  int gpu, i;
  uint64_t rng = 42;
  bitnet_backend auto_backend;

  for (i = 0; i < N; ++i) g_x[i] = (float)rng_normal(&rng);
  opt.device = BITNET_DEVICE_CPU;
  check(bitnet_quantize(BITNET_FORMAT_I2S, &opt, g_x, N, g_want_packed, sizeof(g_want_packed),
                        g_want_scales, sizeof(g_want_scales) / 4) == 0 &&
            bitnet_dequantize(BITNET_FORMAT_I2S, &opt, g_want_packed, sizeof(g_want_packed),
                              g_want_scales, sizeof(g_want_scales) / 4, g_want_values, N) == 0,
        "CPU reference results");

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
    check(bitnet_cuda_quantize(BITNET_FORMAT_I2S, NULL, g_x, N, g_want_packed,
                               sizeof(g_want_packed), g_want_scales, sizeof(g_want_scales) / 4,
                               NULL) == BITNET_E_DEVICE_UNAVAILABLE,
          "device-pointer quantize without a GPU");
  }

  auto_backend = gpu ? BITNET_BACKEND_CUDA
                     : (strict_env ? BITNET_BACKEND_NONE : BITNET_BACKEND_CPU_FALLBACK);
  expect_call(NULL, auto_backend, "fixed-format functions (NULL options)");
  opt = (bitnet_quant_options)BITNET_QUANT_OPTIONS_INIT;
  expect_call(&opt, auto_backend, "AUTO");
  opt.flags = BITNET_FLAG_STRICT;
  expect_call(&opt, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_NONE, "AUTO, STRICT");
  opt.flags = BITNET_FLAG_NOT_STRICT;
  expect_call(&opt, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_CPU_FALLBACK, "AUTO, NOT_STRICT");
  opt.device = BITNET_DEVICE_CUDA;
  expect_call(&opt, gpu ? BITNET_BACKEND_CUDA : BITNET_BACKEND_NONE, "CUDA, NOT_STRICT");
  opt.flags = 0;
  opt.device_index = count; /* never a device */
  expect_call(&opt, BITNET_BACKEND_NONE, "CUDA, index = device count");
  opt.device = BITNET_DEVICE_AUTO;
  expect_call(&opt, strict_env ? BITNET_BACKEND_NONE : BITNET_BACKEND_CPU_FALLBACK,
              "AUTO, index = device count");
  opt.device = BITNET_DEVICE_CPU;
  opt.device_index = 0;
  opt.flags = BITNET_FLAG_STRICT;
  expect_call(&opt, BITNET_BACKEND_CPU, "CPU, STRICT");
  return finish("test_device");
}
