/* Loads the library with dlopen into a process that is not linked with it,
 * as FFI bindings do: every function the header declares resolves with
 * dlsym, the loaded version is the header's, and golden cases run through
 * the loaded pointers bit for bit, twice (load, unload, load again). Then
 * a plugin host's life: 1,000 more loads and unloads, each calling the
 * device queries and a device-CUDA call (the CUDA backend's device table)
 * and a CPU call; neither the heap in use nor the process's anonymous resident
 * memory may grow with them. The CUDA build is linked -z nodelete (its
 * static cudart cannot be torn down and set up again without leaking):
 * there dlclose must leave the library loaded, and every dlopen after the
 * first finds it (BITNET_TEST_NODELETE); the others must unload.
 * usage: test_dlopen LIBRARY_PATH HEADER_PATH GOLDEN_DIR */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dlfcn.h>
#include <malloc.h> /* mallinfo2 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* sysconf */

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

/* Names of the functions the header declares (BITNET_API <type> <name>();
 * *experimental counts those inside #ifdef BITNET_QUANT_EXPERIMENTAL. */
static int header_functions(const char* header_path, char names[][64], int cap,
                            int* experimental) {
  FILE* f = fopen(header_path, "r");
  char line[512];
  int count = 0, in_experimental = 0;
  *experimental = 0;
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
    if (strncmp(p, "#ifdef BITNET_QUANT_EXPERIMENTAL", 32) == 0) in_experimental = 1;
    if (strncmp(p, "#endif /* BITNET_QUANT_EXPERIMENTAL", 35) == 0) in_experimental = 0;
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
    *experimental += in_experimental;
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
    opt.block_size = BITNET_I2S_DEFAULT_BLOCK_SIZE;
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

/* ---- loading and unloading many times ----------------------------------------- */

#ifdef BITNET_TEST_NODELETE
#define UNLOADS 0
#else
#define UNLOADS 1
#endif

/* After the last dlclose: whether the library left the process as this
 * build must (UNLOADS) or stayed (-z nodelete). */
static int unload_as_built(const char* path, const char* where) {
  void* still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  const int ok = check((still == NULL) == UNLOADS,
                       UNLOADS ? "%s: dlclose left the library in the process"
                               : "%s: dlclose unloaded the CUDA build, which is linked -z nodelete",
                       where);
  if (still != NULL) dlclose(still); /* RTLD_NOLOAD took a reference too */
  return ok;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#define RELOAD_WARMUP 100
#ifdef UNDER_SANITIZER
/* No bounds checked there (LeakSanitizer finds a leak of one cycle). */
#define RELOAD_CYCLES 100
#else
#define RELOAD_CYCLES 1000
#endif
/* The device table the CUDA backend kept before leaked about 220 bytes a
 * cycle: 215 KiB here. The heap in use is exact (0 measured); resident
 * memory also moves with the allocator's trimming, hence the margin. */
#define RELOAD_HEAP_GROWTH_KIB 16
#define RELOAD_RESIDENT_GROWTH_KIB 64

/* Anonymous resident memory (resident less the file-backed pages, which
 * come and go with the page cache: the library's code among them). */
static long resident_kib(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, resident = -1, shared = -1;
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld %ld", &size, &resident, &shared) != 3) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : (resident - shared) * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes malloc has handed out and not got back, in all arenas. */
static long heap_in_use_kib(void) {
  const struct mallinfo2 info = mallinfo2();
  return (long)((info.uordblks + info.hblkhd) / 1024);
}

typedef int (*count_fn)(void);
typedef int (*set_target_fn)(bitnet_cpu_target);

static void reload_many(const char* path) {
  long heap_before = -1, resident_before = -1, heap_after, resident_after;
  int cycle;
  for (cycle = 0; cycle < RELOAD_WARMUP + RELOAD_CYCLES; ++cycle) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void* sym;
    count_fn device_count;
    bitnet_quant_options cuda = BITNET_QUANT_OPTIONS_INIT;
    uint8_t packed[2];
    float scales[1];
    static const float x[8] = {1, -2, 3, -4, 5, -6, 7, -8};
    if (!check(lib != NULL, "reload %d: dlopen: %s", cycle, lib ? "" : dlerror())) return;
    if (cycle == RELOAD_WARMUP) {
      heap_before = heap_in_use_kib();
      resident_before = resident_kib();
    }
    sym = load_symbol(lib, "bitnet_cuda_device_count");
    memcpy(&device_count, &sym, sizeof(device_count));
    LOAD(lib, quantize, "bitnet_quantize");
    LOAD(lib, quantize_i2s, "bitnet_quantize_i2s");
    if (g_checks_failed) return;
    check(device_count() >= 0, "reload %d: device count", cycle);
    cuda.device = BITNET_DEVICE_CUDA; /* asks the device table, GPU or not */
    g_api.quantize(BITNET_FORMAT_I2S, &cuda, NULL, 0, NULL, 0, NULL, 0);
    check(g_api.quantize_i2s(x, 8, packed, 2, scales, 1) == BITNET_OK, "reload %d: quantize",
          cycle);
    check(dlclose(lib) == 0, "reload %d: dlclose: %s", cycle, dlerror());
    if (!unload_as_built(path, "reload")) return;
  }
  heap_after = heap_in_use_kib();
  resident_after = resident_kib();
  printf("%d loads and %s: heap in use %ld -> %ld KiB, anonymous resident %ld -> %ld KiB\n", RELOAD_CYCLES,
         UNLOADS ? "unloads" : "dlcloses (-z nodelete: it stays loaded)", heap_before, heap_after,
         resident_before, resident_after);
#ifdef UNDER_SANITIZER
  printf("(no bounds under a sanitizer, whose own memory grows; LeakSanitizer checks leaks)\n");
#else
  check(heap_after - heap_before <= RELOAD_HEAP_GROWTH_KIB,
        "the heap in use grew by %ld KiB over %d loads and unloads (at most %d allowed)",
        heap_after - heap_before, RELOAD_CYCLES, RELOAD_HEAP_GROWTH_KIB);
  if (emulated()) {
    /* qemu-user's /proc/self/statm is the emulator's, whose translated code
     * grows with each load at a new address. */
    printf("(resident memory not bounded under an emulator: it is the emulator's)\n");
  } else {
    check(resident_before > 0 && resident_after > 0 &&
              resident_after - resident_before <= RELOAD_RESIDENT_GROWTH_KIB,
          "anonymous resident memory grew by %ld KiB over %d loads and unloads (at most %d allowed)",
          resident_after - resident_before, RELOAD_CYCLES, RELOAD_RESIDENT_GROWTH_KIB);
  }
#endif
}

int main(int argc, char** argv) {
  char names[128][64];
  int num_names, num_experimental, i, load;
  if (argc != 4) {
    fprintf(stderr, "usage: %s LIBRARY_PATH HEADER_PATH GOLDEN_DIR\n", argv[0]);
    return 2;
  }
  num_names = header_functions(argv[2], names, 128, &num_experimental);
  /* 27 stable functions in version 0.1.0, then bitnet_quant_options_init;
   * later versions may only add. The experimental ones
   * (BITNET_QUANT_EXPERIMENTAL) may change. */
  check(num_names - num_experimental >= 28, "found only %d stable BITNET_API functions in %s",
        num_names - num_experimental, argv[2]);
  check(num_experimental > 0, "found no experimental section in %s", argv[2]);
  check(dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL, "the library is in the process before a load");
  for (load = 1; load <= 2; ++load) {
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
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
    unload_as_built(argv[1], load == 1 ? "load 1" : "load 2");
  }
  printf("%d functions from the header resolved (%d stable, %d experimental)\n", num_names,
         num_names - num_experimental, num_experimental);
  if (!g_checks_failed) reload_many(argv[1]);
  return finish("test_dlopen");
}
