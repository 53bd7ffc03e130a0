#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long g_checks_passed = 0;
long g_checks_failed = 0;

int check(int cond, const char* fmt, ...) {
  if (cond) {
    ++g_checks_passed;
    return 1;
  }
  ++g_checks_failed;
  if (g_checks_failed <= 100000) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
  }
  return 0;
}

int finish(const char* test_name) {
  printf("%s: %ld passed, %ld failed\n", test_name, g_checks_passed, g_checks_failed);
  return g_checks_failed == 0 && g_checks_passed > 0 ? 0 : 1;
}

int same_float(float a, float b) {
  uint32_t ua, ub;
  if (a != a && b != b) return 1;
  memcpy(&ua, &a, 4);
  memcpy(&ub, &b, 4);
  return ua == ub;
}

long first_float_diff(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (!same_float(a[i], b[i])) return (long)i;
  }
  return -1;
}

long first_byte_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (a[i] != b[i]) return (long)i;
  }
  return -1;
}

int supported_targets(bitnet_cpu_target out[32]) {
  const bitnet_cpu_target mask = bitnet_cpu_targets_supported();
  int count = 0, bit;
  for (bit = 0; bit < 32; ++bit) {
    if (mask & (1u << bit)) out[count++] = 1u << bit;
  }
  return count;
}

uint64_t rng_next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double rng_uniform(uint64_t* state) { return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(uint64_t* state) {
  const double u1 = rng_uniform(state), u2 = rng_uniform(state);
  return sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-300)) * cos(6.283185307179586 * u2);
}

const char* path_join(const char* dir, const char* name) {
  static char buf[4096];
  snprintf(buf, sizeof(buf), "%s/%s", dir, name);
  return buf;
}
