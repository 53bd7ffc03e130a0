/* The environment variables the library reads, each in a fresh process
 * (they are read once per process): BITNET_STRICT_MODE as BitNet-rs parses
 * it ("1" or "true", trimmed, case-insensitive), BITNET_CUDA_MIN_ELEMENTS
 * (AUTO's GPU threshold: default, override, bad values), BITNET_CPU_TARGET
 * through bitnet_cpp_init, that none is read again after the first call
 * that consults it, and that bitnet_quant_buffer_sizes consults none.
 * Device AUTO with device_index 99 (no such GPU anywhere) shows what AUTO
 * decided: the CPU (BITNET_BACKEND_CPU), a fallback, or a strict failure.
 * usage: test_environment [EMULATOR...]   (runs itself as the child of each
 * case; a cross build's ctest passes its emulator, which each child then
 * runs under: execve starts host programs there) */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bitnet_quant.h"
#include "test_util.h"

extern char** environ;

#define NO_GPU_INDEX 99

/* ---- what a child checks ----------------------------------------------------------- */

static float g_x[8] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f, 2.0f, -3.0f};

/* A quantize of n elements (g_x repeated) with device AUTO, device_index
 * 99 and `flags`; returns its status and sets *backend. */
static int auto_call(size_t n, uint32_t flags, bitnet_backend* backend) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  float* x = (float*)calloc(n ? n : 1, sizeof(float));
  uint8_t* packed = (uint8_t*)malloc(n / 4 + 1);
  float* scales = (float*)malloc((n / 32 + 1) * sizeof(float));
  size_t i;
  int status;
  for (i = 0; i < n; ++i) x[i] = g_x[i % 8];
  opt.device_index = NO_GPU_INDEX;
  opt.flags = flags;
  status = bitnet_quantize(BITNET_FORMAT_I2S, &opt, x, n, packed, n / 4 + 1, scales, n / 32 + 1);
  *backend = bitnet_last_backend();
  free(x);
  free(packed);
  free(scales);
  return status;
}

/* AUTO over the threshold without a GPU: strict fails, else falls back. */
static void expect_strict(int strict, const char* what) {
  bitnet_backend backend;
  const int status = auto_call(8, 0, &backend);
  if (strict) {
    check(status == BITNET_E_DEVICE_UNAVAILABLE, "%s: strict, yet status %d", what, status);
  } else {
    check(status == BITNET_OK && backend == BITNET_BACKEND_CPU_FALLBACK,
          "%s: not strict, yet status %d, backend %d (%s)", what, status, (int)backend,
          bitnet_last_error() ? bitnet_last_error() : "");
  }
}

static void expect_backend(size_t n, bitnet_backend want, const char* what) {
  bitnet_backend backend;
  const int status = auto_call(n, BITNET_FLAG_NOT_STRICT, &backend);
  check(status == BITNET_OK && backend == want, "%s: n %zu: status %d, backend %d, expected %d (%s)",
        what, n, status, (int)backend, (int)want, bitnet_last_error() ? bitnet_last_error() : "");
}

/* child "strict 0|1": BITNET_STRICT_MODE is set by the parent;
 * BITNET_CUDA_MIN_ELEMENTS=1. */
static void child_strict(const char* expected) {
  expect_strict(strcmp(expected, "1") == 0, getenv("BITNET_STRICT_MODE"));
}

/* Strict mode is read at the first call that consults it; changing the
 * variable later changes nothing. The parent set it to argv's value. */
static void child_strict_read_once(const char* initially) {
  const int strict = strcmp(initially, "1") == 0;
  expect_strict(strict, "first call");
  if (strict) {
    unsetenv("BITNET_STRICT_MODE");
  } else {
    setenv("BITNET_STRICT_MODE", "1", 1);
  }
  expect_strict(strict, "after changing BITNET_STRICT_MODE");
}

/* BITNET_CUDA_MIN_ELEMENTS=" 4096 ": AUTO wants the GPU from 4096 elements
 * on; a later change is not read. */
static void child_threshold(void) {
  expect_backend(4095, BITNET_BACKEND_CPU, "below the threshold");
  expect_backend(4096, BITNET_BACKEND_CPU_FALLBACK, "at the threshold");
  setenv("BITNET_CUDA_MIN_ELEMENTS", "1", 1);
  expect_backend(8, BITNET_BACKEND_CPU, "after changing BITNET_CUDA_MIN_ELEMENTS");
}

/* BITNET_CUDA_MIN_ELEMENTS unset: the default, 2^24. */
static void child_default_threshold(void) {
  expect_backend(((size_t)1 << 24) - 1, BITNET_BACKEND_CPU, "default threshold");
  expect_backend((size_t)1 << 24, BITNET_BACKEND_CPU_FALLBACK, "default threshold");
}

/* BITNET_CUDA_MIN_ELEMENTS=0: every AUTO call wants the GPU. */
static void child_threshold_zero(void) {
  expect_backend(8, BITNET_BACKEND_CPU_FALLBACK, "threshold 0");
  expect_backend(0, BITNET_BACKEND_CPU_FALLBACK, "threshold 0");
}

/* A bad BITNET_CUDA_MIN_ELEMENTS fails the calls that consult it, naming
 * it; calls that do not (device CPU, a named CPU target, the size query)
 * work. */
static void child_bad_threshold(void) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  bitnet_backend backend;
  uint8_t packed[2];
  float scales[1];
  size_t a = 0, b = 0;
  const char* msg;
  check(auto_call(8, 0, &backend) == BITNET_E_INVALID_ARGUMENT &&
            (msg = bitnet_last_error()) != NULL && strstr(msg, "BITNET_CUDA_MIN_ELEMENTS") != NULL,
        "AUTO with BITNET_CUDA_MIN_ELEMENTS=\"%s\": %s", getenv("BITNET_CUDA_MIN_ELEMENTS"),
        bitnet_last_error() ? bitnet_last_error() : "(succeeded)");
  check(bitnet_quantize_i2s(g_x, 8, packed, 2, scales, 1) == BITNET_E_INVALID_ARGUMENT,
        "the fixed-format functions consult it too");
  opt.device = BITNET_DEVICE_CPU;
  check(bitnet_quantize(BITNET_FORMAT_I2S, &opt, g_x, 8, packed, 2, scales, 1) == BITNET_OK,
        "device CPU does not consult it");
  opt.device = BITNET_DEVICE_AUTO;
  opt.cpu_target = BITNET_CPU_REFERENCE;
  check(bitnet_quantize(BITNET_FORMAT_I2S, &opt, g_x, 8, packed, 2, scales, 1) == BITNET_OK,
        "a named CPU target does not consult it");
  check(bitnet_quant_buffer_sizes(BITNET_FORMAT_I2S, NULL, 8, &a, &b) == BITNET_OK,
        "the size query does not consult it");
}

/* BITNET_CPU_TARGET names a target: bitnet_cpp_init reports whether the
 * kernels it selects can run ("bogus": no; "REFERENCE": yes). */
static void child_cpu_target(const char* expected) {
  if (strcmp(expected, "bogus") == 0) {
    check(bitnet_cpp_init() == BITNET_E_UNSUPPORTED_TARGET && bitnet_last_error() != NULL &&
              strstr(bitnet_cpp_get_last_error(), "BITNET_CPU_TARGET") != NULL,
          "bitnet_cpp_init with BITNET_CPU_TARGET=bogus: %s",
          bitnet_last_error() ? bitnet_last_error() : "(succeeded)");
    bitnet_cpp_cleanup();
  } else {
    check(bitnet_cpp_init() == BITNET_OK, "bitnet_cpp_init with BITNET_CPU_TARGET=%s", expected);
    check(strcmp(bitnet_cpu_target_name(bitnet_cpu_get_target()), expected) == 0,
          "the default target is %s, not %s", bitnet_cpu_target_name(bitnet_cpu_get_target()),
          expected);
    bitnet_cpp_cleanup();
  }
}

/* Every variable unusable (strict, a bogus CPU target, a bad threshold)
 * and no GPU visible: the size query still answers, for any device
 * fields, reading only struct_size and block_size. */
static void child_pure_sizes(void) {
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t packed = 0, scales = 0;
  opt.block_size = 64;
  opt.device = BITNET_DEVICE_CUDA;
  opt.device_index = 5;
  opt.cpu_target = 0xFFFFFFFFu;
  opt.flags = 0xFFFFFFFFu;
  check(bitnet_quant_buffer_sizes(BITNET_FORMAT_TL1, &opt, 1000, &packed, &scales) == BITNET_OK &&
            packed == 250 && scales == 16,
        "sizes for device CUDA without a GPU: %zu and %zu (%s)", packed, scales,
        bitnet_last_error() ? bitnet_last_error() : "");
  check(bitnet_quant_buffer_sizes(BITNET_FORMAT_TL2, NULL, 1000, &packed, &scales) == BITNET_OK &&
            packed == 250 && scales == 8,
        "sizes with NULL options: %zu and %zu", packed, scales);
  check(bitnet_last_error() == NULL, "the size query recorded an error: %s", bitnet_last_error());
  /* The compute calls do consult them. */
  check(bitnet_quantize_i2s(g_x, 8, (uint8_t*)&packed, 2, (float*)&scales, 1) != BITNET_OK,
        "a compute call ignored BITNET_CPU_TARGET=bogus");
}

static int run_child(const char* name, const char* arg) {
  if (strcmp(name, "strict") == 0) child_strict(arg);
  else if (strcmp(name, "strict_read_once") == 0) child_strict_read_once(arg);
  else if (strcmp(name, "threshold") == 0) child_threshold();
  else if (strcmp(name, "default_threshold") == 0) child_default_threshold();
  else if (strcmp(name, "threshold_zero") == 0) child_threshold_zero();
  else if (strcmp(name, "bad_threshold") == 0) child_bad_threshold();
  else if (strcmp(name, "cpu_target") == 0) child_cpu_target(arg);
  else if (strcmp(name, "pure_sizes") == 0) child_pure_sizes();
  else return check(0, "unknown case %s", name), 2;
  return finish(name);
}

/* ---- the parent: one process per case ------------------------------------------------ */

typedef struct env_case {
  const char* name;
  const char* arg;
  /* "NAME=value" sets, "NAME" unsets; the library's variables not named
   * here are unset. */
  const char* env[4];
} env_case;

static const char* const kLibraryVariables[] = {"BITNET_STRICT_MODE", "BITNET_CUDA_MIN_ELEMENTS",
                                                "BITNET_CPU_TARGET", "CUDA_VISIBLE_DEVICES"};

#define STRICT(value, expected) {"strict", expected, {"BITNET_STRICT_MODE=" value, "BITNET_CUDA_MIN_ELEMENTS=1"}}
#define MIN_ELEMENTS(case_name, value) {case_name, "", {"BITNET_CUDA_MIN_ELEMENTS=" value}}

static const env_case kCases[] = {
    STRICT("1", "1"), STRICT("true", "1"), STRICT("TRUE", "1"), STRICT("True", "1"),
    STRICT(" 1 ", "1"), STRICT("\ttrue\n", "1"), STRICT(" TrUe", "1"),
    STRICT("0", "0"), STRICT("false", "0"), STRICT("yes", "0"), STRICT("on", "0"),
    STRICT("", "0"), STRICT("  ", "0"), STRICT("2", "0"), STRICT("1x", "0"), STRICT("tru", "0"),
    STRICT("true1", "0"), STRICT("t rue", "0"), STRICT("01", "0"),
    {"strict", "0", {"BITNET_CUDA_MIN_ELEMENTS=1"}},
    {"strict_read_once", "0", {"BITNET_CUDA_MIN_ELEMENTS=1"}},
    {"strict_read_once", "1", {"BITNET_STRICT_MODE=1", "BITNET_CUDA_MIN_ELEMENTS=1"}},
    MIN_ELEMENTS("threshold", " 4096 "),
    {"default_threshold", "", {NULL}},
    MIN_ELEMENTS("default_threshold", ""),
    MIN_ELEMENTS("default_threshold", "  "),
    MIN_ELEMENTS("threshold_zero", "0"),
    MIN_ELEMENTS("bad_threshold", "abc"),
    MIN_ELEMENTS("bad_threshold", "-1"),
    MIN_ELEMENTS("bad_threshold", "+5"),
    MIN_ELEMENTS("bad_threshold", "1e6"),
    MIN_ELEMENTS("bad_threshold", "0x10"),
    MIN_ELEMENTS("bad_threshold", "12 34"),
    MIN_ELEMENTS("bad_threshold", "18446744073709551616"),
    {"cpu_target", "bogus", {"BITNET_CPU_TARGET=bogus"}},
    {"cpu_target", "REFERENCE", {"BITNET_CPU_TARGET=REFERENCE"}},
    {"pure_sizes", "", {"BITNET_STRICT_MODE=1", "BITNET_CPU_TARGET=bogus",
                        "BITNET_CUDA_MIN_ELEMENTS=junk", "CUDA_VISIBLE_DEVICES="}},
};

static int library_variable(const char* entry) {
  size_t v;
  for (v = 0; v < sizeof(kLibraryVariables) / sizeof(kLibraryVariables[0]); ++v) {
    const size_t len = strlen(kLibraryVariables[v]);
    if (strncmp(entry, kLibraryVariables[v], len) == 0 && entry[len] == '=') return 1;
  }
  return 0;
}

static void run_case(char* const* emulator, int emulator_args, const char* self,
                     const env_case* c) {
  char* env[512];
  char* args[32];
  size_t count = 0, i;
  int a = 0;
  pid_t pid;
  int wstatus = 0;
  for (i = 0; environ[i] != NULL && count < 500; ++i) {
    if (!library_variable(environ[i])) env[count++] = environ[i];
  }
  for (i = 0; i < 4 && c->env[i] != NULL; ++i) env[count++] = (char*)c->env[i];
  env[count] = NULL;
  for (i = 0; i < (size_t)emulator_args; ++i) args[a++] = emulator[i];
  args[a++] = (char*)self;
  args[a++] = "child";
  args[a++] = (char*)c->name;
  args[a++] = (char*)c->arg;
  args[a] = NULL;
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    execve(args[0], args, env);
    _exit(127);
  }
  if (!check(pid > 0, "fork")) return;
  check(waitpid(pid, &wstatus, 0) == pid && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
        "case %s %s with %s%s%s: child failed (status 0x%x)", c->name, c->arg,
        c->env[0] ? c->env[0] : "nothing set", c->env[1] ? ", " : "", c->env[1] ? c->env[1] : "",
        (unsigned)wstatus);
}

int main(int argc, char** argv) {
  char self[4096] = "/proc/self/exe";
  size_t i;
  if (argc == 4 && strcmp(argv[1], "child") == 0) return run_child(argv[2], argv[3]);
  if (argc > 20) {
    fprintf(stderr, "usage: %s [EMULATOR...]\n", argv[0]);
    return 2;
  }
  if (argc > 1) { /* the emulator needs this program's own path */
    const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (!check(len > 0 && (size_t)len < sizeof(self) - 1, "readlink /proc/self/exe")) {
      return finish("test_environment");
    }
    self[len] = '\0';
  }
  for (i = 0; i < sizeof(kCases) / sizeof(kCases[0]); ++i) {
    run_case(argv + 1, argc - 1, self, &kCases[i]);
  }
  printf("%zu cases, each in its own process\n", sizeof(kCases) / sizeof(kCases[0]));
  return finish("test_environment");
}
