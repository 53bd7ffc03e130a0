#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t take_u8(fuzz_input* in) {
  uint8_t v;
  if (in->size == 0) return 0;
  v = in->data[0];
  ++in->data;
  --in->size;
  return v;
}

uint32_t take_u32(fuzz_input* in) {
  uint32_t v = 0;
  int i;
  for (i = 0; i < 4; ++i) v |= (uint32_t)take_u8(in) << (8 * i);
  return v;
}

void require(int cond, const char* fmt, ...) {
  va_list args;
  if (cond) return;
  va_start(args, fmt);
  fprintf(stderr, "fuzz check failed: ");
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\n");
  va_end(args);
  abort();
}

void* poisoned(size_t bytes) {
  void* p = malloc(bytes + FUZZ_GUARD);
  require(p != NULL, "out of memory");
  memset(p, FUZZ_POISON, bytes + FUZZ_GUARD);
  return p;
}

int untouched(const void* p, size_t bytes) {
  const uint8_t* b = (const uint8_t*)p;
  size_t i;
  for (i = 0; i < bytes; ++i) {
    if (b[i] != FUZZ_POISON) return 0;
  }
  return 1;
}

int same_floats(const float* a, const float* b, size_t n) {
  return memcmp(a, b, n * sizeof(float)) == 0;
}

int same_results(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (!(a[i] != a[i] && b[i] != b[i]) && memcmp(&a[i], &b[i], sizeof(float)) != 0) return 0;
  }
  return 1;
}

void inject_nans(float* x, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    uint32_t bits;
    memcpy(&bits, &x[i], sizeof bits);
    if ((bits & 0xFFu) < 0x40u) bits |= 0x7F800000u;
    memcpy(&x[i], &bits, sizeof bits);
  }
}

void require_documented(int status, const char* call) {
  const char* msg;
  require(status <= BITNET_OK && status >= BITNET_E_OUT_OF_MEMORY,
          "%s returned %d, not a documented status", call, status);
  if (status == BITNET_OK) return;
  msg = bitnet_last_error();
  require(msg != NULL && msg[0] != '\0', "%s failed with %d and no message", call, status);
}

bitnet_format take_format(fuzz_input* in) {
  const uint8_t b = take_u8(in);
  return b < 240 ? (bitnet_format)(b % 3) : (bitnet_format)take_u32(in);
}

bitnet_cpu_target take_supported_target(fuzz_input* in) {
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  int k = take_u8(in) % __builtin_popcount(supported);
  bitnet_cpu_target bit;
  for (bit = 1;; bit <<= 1) {
    if ((supported & bit) && k-- == 0) return bit;
  }
}

void take_options(fuzz_input* in, bitnet_quant_options* options, int* use_options) {
  const uint8_t mode = take_u8(in);
  const bitnet_quant_options defaults = BITNET_QUANT_OPTIONS_INIT;
  *options = defaults;
  *use_options = (mode & 1) != 0;
  if (!*use_options) return;
  if (mode & 2) options->struct_size = take_u32(in);
  switch ((mode >> 2) & 3) {
    case 0: break; /* the default block */
    case 1: options->block_size = 4u * (1u + take_u8(in)); break;
    case 2: options->block_size = take_u32(in) % ((1u << 20) + 8); break;
    default: options->block_size = take_u32(in); break;
  }
  switch ((mode >> 4) & 3) {
    case 0: break; /* AUTO */
    case 1: case 2: options->cpu_target = take_supported_target(in); break;
    default: options->cpu_target = take_u32(in); break;
  }
  if (mode & 0x40) {
    options->device = (int8_t)take_u8(in);
    options->device_index = (int8_t)take_u8(in);
    options->flags = take_u8(in);
  } else {
    options->device = BITNET_DEVICE_CPU;
  }
}

/* Whether a CUDA device is usable, asked once through the public API
 * (device CUDA checks the GPU even for n == 0). */
static int gpu_usable(void) {
  static int usable = -1;
  if (usable < 0) {
    bitnet_quant_options cuda = BITNET_QUANT_OPTIONS_INIT;
    cuda.device = BITNET_DEVICE_CUDA;
    usable = bitnet_quantize(BITNET_FORMAT_I2S, &cuda, NULL, 0, NULL, 0, NULL, 0) == BITNET_OK;
  }
  return usable;
}

int sizes_valid(bitnet_format format, const bitnet_quant_options* options, size_t* block) {
  static const size_t kDefaultBlock[3] = {BITNET_I2S_DEFAULT_BLOCK_SIZE,
                                          BITNET_TL1_DEFAULT_BLOCK_SIZE,
                                          BITNET_TL2_DEFAULT_BLOCK_SIZE};
  if (format < 0 || format > 2) return 0;
  *block = kDefaultBlock[format];
  if (options == NULL) return 1;
  /* The one released layout so far is this header's. */
  if (options->struct_size != BITNET_QUANT_OPTIONS_SIZE_V1 &&
      options->struct_size != sizeof(bitnet_quant_options)) {
    return 0;
  }
  if (options->block_size != 0) {
    if (options->block_size < BITNET_MIN_BLOCK_SIZE || options->block_size > BITNET_MAX_BLOCK_SIZE ||
        options->block_size % 4)
      return 0;
    *block = options->block_size;
  }
  return 1;
}

int options_valid(bitnet_format format, const bitnet_quant_options* options, size_t* block) {
  const bitnet_cpu_target t = options ? options->cpu_target : 0;
  if (!sizes_valid(format, options, block)) return 0;
  /* NULL options: AUTO, and FUZZ_MAX_N elements are below its GPU
   * threshold: the CPU. */
  if (options == NULL) return 1;
  if (options->device < BITNET_DEVICE_AUTO || options->device > BITNET_DEVICE_CUDA) return 0;
  if (options->device_index < 0) return 0;
  if (options->flags > 2) return 0;
  if (options->device == BITNET_DEVICE_CUDA) {
    if (t != BITNET_CPU_AUTO) return 0;
    return gpu_usable() ? -1 : 0;
  }
  /* AUTO (below the threshold) or CPU: the CPU, strict or not. */
  if (t != BITNET_CPU_AUTO && ((t & (t - 1)) != 0 || !(t & bitnet_cpu_targets_supported())))
    return 0;
  return 1;
}

size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }
