/* Loads the library with dlopen into a process that is not linked with it,
 * as FFI bindings do: every function the header declares resolves with
 * dlsym, the loaded version is the header's, and golden cases run through
 * the loaded pointers bit for bit, twice (load, unload, load again).
 * usage: test_dlopen LIBRARY_PATH HEADER_PATH GOLDEN_DIR */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "fixed_entry_points.h" /* the function types only: nothing here links the library */
#include "test_util.h"

typedef unsigned (*version_number_fn)(void);
typedef const char* (*version_string_fn)(void);
typedef bitnet_cpu_target (*targets_fn)(void);
typedef const char* (*target_name_fn)(bitnet_cpu_target);
typedef const char* (*last_error_fn)(void);
typedef int (*quantize_fn)(bitnet_format, const bitnet_quant_options*, const float*, size_t,
                           uint8_t*, size_t, float*, size_t);
typedef int (*dequantize_fn)(bitnet_format, const bitnet_quant_options*, const uint8_t*,
                             size_t, const float*, size_t, float*, size_t);
typedef int (*cpp_quantize_fn)(const float*, int, uint8_t*, int, float*, int, int);

typedef struct api {
  version_number_fn version_number;
  version_string_fn version_string;
  targets_fn targets_supported;
  target_name_fn target_name;
  last_error_fn last_error;
  quantize_fn quantize;
  dequantize_fn dequantize;
  fixed_quantize_fn quantize_i2s;
  fixed_dequantize_fn dequantize_i2s;
  cpp_quantize_fn cpp_quantize;
} api;

static api g_api;

/* test_util's supported_targets() calls bitnet_cpu_targets_supported() and
 * bitnet_cpu_target_name(); in this program, which does not link the
 * library, those names forward to the loaded ones. The executable does not
 * export them, so they cannot interpose. */
bitnet_cpu_target bitnet_cpu_targets_supported(void) { return g_api.targets_supported(); }
const char* bitnet_cpu_target_name(bitnet_cpu_target target) { return g_api.target_name(target); }

static void* load_symbol(void* lib, const char* name) {
  void* p;
  dlerror();
  p = dlsym(lib, name);
  check(p != NULL, "dlsym(%s): %s", name, p ? "" : dlerror());
  return p;
}

/* ISO C has no conversion from void* to a function pointer; POSIX
 * guarantees that the representations agree. */
#define LOAD(lib, field, name)                          \
  do {                                                   \
    void* sym_ = load_symbol(lib, name);                 \
    memcpy(&g_api.field, &sym_, sizeof(g_api.field));    \
  } while (0)

/* Names of the functions the header declares (BITNET_API <type> <name>(). */
static int header_functions(const char* header_path, char names[][64], int cap) {
  FILE* f = fopen(header_path, "r");
  char line[512];
  int count = 0;
  if (f == NULL) {
    check(0, "cannot open %s", header_path);
    return 0;
  }
  while (fgets(line, sizeof(line), f)) {
    const char* api = strstr(line, "BITNET_API ");
    const char* paren;
    const char* end;
    const char* start;
    const char* p = line;
    while (isspace((unsigned char)*p)) ++p;
    if (*p == '#' || api == NULL) continue;
    paren = strchr(api, '(');
    if (!check(paren != NULL, "cannot parse the declaration: %s", line)) continue;
    end = paren;
    while (end > api && isspace((unsigned char)end[-1])) --end;
    start = end;
    while (start > api && (isalnum((unsigned char)start[-1]) || start[-1] == '_')) --start;
    if (!check(end > start && (size_t)(end - start) < 64 && count < cap,
               "cannot take the name from: %s", line)) {
      continue;
    }
    memcpy(names[count], start, (size_t)(end - start));
    names[count][end - start] = '\0';
    ++count;
  }
  fclose(f);
  return count;
}

static void expect_golden_bytes(const uint8_t* got, const st_tensor* want, const char* where,
                                const char* what) {
  long d;
  if (!check(want != NULL, "%s %s: golden tensor missing", where, what)) return;
  d = first_byte_diff(got, want->data, want->nbytes);
  check(d < 0, "%s %s: byte %ld differs from BitNet-rs", where, what, d);
}

static void expect_golden_floats(const float* got, const st_tensor* want, const char* where,
                                 const char* what) {
  float* w;
  long d;
  if (!check(want != NULL, "%s %s: golden tensor missing", where, what)) return;
  w = st_floats(want);
  d = first_float_diff(got, w, st_numel(want));
  check(d < 0, "%s %s: element %ld differs from BitNet-rs", where, what, d);
  free(w);
}

/* BitNet-rs's ffi_test_128 case through the loaded entry points, on every
 * supported target. */
static void run_golden(const char* golden_dir, int load) {
  const char* const kCase = "ffi_test_128";
  st_file* inputs = st_open(path_join(golden_dir, "inputs.safetensors"));
  st_file* quantizer = st_open(path_join(golden_dir, "quantizer_i2s_scalar_bs32.safetensors"));
  st_file* kernel = st_open(path_join(golden_dir, "kernel_i2s_fallback.safetensors"));
  const st_tensor* in = st_find(inputs, kCase);
  bitnet_cpu_target targets[32];
  const int num_targets = supported_targets(targets);
  float* x;
  size_t n;
  int t;
  if (!check(in != NULL, "input %s missing", kCase)) return;
  x = st_floats(in);
  n = st_numel(in);
  for (t = 0; t < num_targets; ++t) {
    bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
    const size_t packed_len = (n + 3) / 4, scales_len = (n + 31) / 32;
    uint8_t* packed = (uint8_t*)malloc(packed_len);
    float* scales = (float*)malloc(scales_len * sizeof(float));
    float* values = (float*)malloc(n * sizeof(float));
    char where[128];
    int status;
    opt.cpu_target = targets[t];
    opt.block_size = 32;
    snprintf(where, sizeof(where), "load %d, target 0x%x", load, (unsigned)targets[t]);

    status = g_api.quantize(BITNET_FORMAT_I2S, &opt, x, n, packed, packed_len, scales,
                            scales_len);
    if (check(status == BITNET_OK, "%s: bitnet_quantize status %d (%s)", where, status,
              g_api.last_error() ? g_api.last_error() : "")) {
      expect_golden_bytes(packed, st_field(quantizer, kCase, "packed"), where,
                          "bitnet_quantize packed");
      expect_golden_floats(scales, st_field(quantizer, kCase, "scales"), where,
                           "bitnet_quantize scales");
    }
    status = g_api.dequantize(BITNET_FORMAT_I2S, &opt, packed, packed_len, scales, scales_len,
                              values, n);
    if (check(status == BITNET_OK, "%s: bitnet_dequantize status %d", where, status)) {
      expect_golden_floats(values, st_field(quantizer, kCase, "dequant"), where,
                           "bitnet_dequantize");
    }
    memset(packed, 0, packed_len);
    memset(values, 0, n * sizeof(float));
    status = g_api.quantize_i2s(x, n, packed, packed_len, scales, scales_len);
    if (check(status == BITNET_OK, "%s: bitnet_quantize_i2s status %d", where, status)) {
      expect_golden_bytes(packed, st_field(quantizer, kCase, "packed"), where,
                          "bitnet_quantize_i2s");
    }
    status = g_api.dequantize_i2s(packed, packed_len, scales, scales_len, values, n);
    if (check(status == BITNET_OK, "%s: bitnet_dequantize_i2s status %d", where, status)) {
      expect_golden_floats(values, st_field(quantizer, kCase, "dequant"), where,
                           "bitnet_dequantize_i2s");
    }
    status = g_api.cpp_quantize(x, (int)n, packed, (int)packed_len, scales, (int)scales_len, 0);
    if (check(status == 0, "%s: bitnet_cpp_quantize status %d", where, status)) {
      expect_golden_bytes(packed, st_field(kernel, kCase, "packed"), where,
                          "bitnet_cpp_quantize packed");
      expect_golden_floats(scales, st_field(kernel, kCase, "scales"), where,
                           "bitnet_cpp_quantize scales");
    }
    free(packed);
    free(scales);
    free(values);
  }
  free(x);
  st_close(inputs);
  st_close(quantizer);
  st_close(kernel);
}

int main(int argc, char** argv) {
  char names[128][64];
  int num_names, i, load;
  if (argc != 4) {
    fprintf(stderr, "usage: %s LIBRARY_PATH HEADER_PATH GOLDEN_DIR\n", argv[0]);
    return 2;
  }
  num_names = header_functions(argv[2], names, 128);
  /* Version 0.1.0 declares 32; later versions may only add. */
  check(num_names >= 32, "found only %d BITNET_API functions in %s", num_names, argv[2]);
  for (load = 1; load <= 2; ++load) {
    void* lib;
    check(dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL,
          "load %d: the library is already in the process", load);
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!check(lib != NULL, "dlopen(%s): %s", argv[1], lib ? "" : dlerror())) break;
    for (i = 0; i < num_names; ++i) load_symbol(lib, names[i]);
    check(dlsym(lib, "bitnet_no_such_function") == NULL, "dlsym finds a missing name");
    LOAD(lib, version_number, "bitnet_version_number");
    LOAD(lib, version_string, "bitnet_version_string");
    LOAD(lib, targets_supported, "bitnet_cpu_targets_supported");
    LOAD(lib, target_name, "bitnet_cpu_target_name");
    LOAD(lib, last_error, "bitnet_last_error");
    LOAD(lib, quantize, "bitnet_quantize");
    LOAD(lib, dequantize, "bitnet_dequantize");
    LOAD(lib, quantize_i2s, "bitnet_quantize_i2s");
    LOAD(lib, dequantize_i2s, "bitnet_dequantize_i2s");
    LOAD(lib, cpp_quantize, "bitnet_cpp_quantize");
    if (g_checks_failed) break;
    check(g_api.version_number() == BITNET_QUANT_VERSION_NUMBER,
          "loaded version %u, header %u", g_api.version_number(),
          (unsigned)BITNET_QUANT_VERSION_NUMBER);
    check(strcmp(g_api.version_string(), BITNET_QUANT_VERSION_STRING) == 0,
          "loaded version \"%s\", header \"%s\"", g_api.version_string(),
          BITNET_QUANT_VERSION_STRING);
    run_golden(argv[3], load);
    check(dlclose(lib) == 0, "dlclose: %s", dlerror());
  }
  printf("%d functions from the header resolved\n", num_names);
  return finish("test_dlopen");
}
