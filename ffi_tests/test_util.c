#include "test_util.h"

#include <float.h>
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

void* xmalloc(size_t bytes) {
  void* p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "FATAL: out of host memory (%zu bytes)\n", bytes);
    exit(2);
  }
  return p;
}

const uint32_t kDefaultBlock[3] = {BITNET_I2S_DEFAULT_BLOCK_SIZE, BITNET_TL1_DEFAULT_BLOCK_SIZE,
                                   BITNET_TL2_DEFAULT_BLOCK_SIZE};

int untouched(const void* p, size_t bytes) {
  const uint8_t* b = (const uint8_t*)p;
  size_t i;
  for (i = 0; i < bytes; ++i) {
    if (b[i] != POISON) return 0;
  }
  return 1;
}

float float_from_bits(uint32_t bits) {
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

int same_float(float a, float b) { return float_bits(a) == float_bits(b); }

long first_float_diff(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (!same_float(a[i], b[i])) return (long)i;
  }
  return -1;
}

int same_result(float a, float b) { return (a != a && b != b) || same_float(a, b); }

long first_result_diff(const float* a, const float* b, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    if (!same_result(a[i], b[i])) return (long)i;
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

/* Checks the supported targets against BITNET_TEST_EXPECT_TARGETS. */
static void check_expected_targets(const bitnet_cpu_target* targets, int count) {
  const char* expect = getenv("BITNET_TEST_EXPECT_TARGETS");
  char names[256] = "", list[256];
  char* token;
  int t, listed = 0, all_supported = 1;
  if (expect == NULL) return;
  for (t = 0; t < count; ++t) {
    strncat(names, " ", sizeof(names) - strlen(names) - 1);
    strncat(names, bitnet_cpu_target_name(targets[t]), sizeof(names) - strlen(names) - 1);
  }
  snprintf(list, sizeof(list), "%s", expect);
  for (token = strtok(list, " "); token != NULL; token = strtok(NULL, " ")) {
    int found = 0;
    for (t = 0; t < count; ++t) found |= strcmp(token, bitnet_cpu_target_name(targets[t])) == 0;
    all_supported &= found;
    ++listed;
  }
  check(all_supported && listed == count,
        "supported targets:%s; BITNET_TEST_EXPECT_TARGETS: %s", names, expect);
}

int supported_targets(bitnet_cpu_target out[32]) {
  const bitnet_cpu_target mask = bitnet_cpu_targets_supported();
  int count = 0, bit;
  for (bit = 0; bit < 32; ++bit) {
    if (mask & (1u << bit)) out[count++] = 1u << bit;
  }
  check_expected_targets(out, count);
  return count;
}

int emulated(void) {
  const char* value = getenv("BITNET_TEST_EMULATED");
  return value != NULL && strcmp(value, "1") == 0;
}

size_t large_length(size_t n) { return emulated() ? n / 16 : n; }

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

float rng_nan(uint64_t* state) {
  const uint64_t r = rng_next(state);
  /* Payload bits below the quiet bit; a signalling NaN needs one set. */
  uint32_t payload = (uint32_t)(r >> 8) & 0x3FFFFFu;
  switch (r % 5) {
    case 0: return float_from_bits(0x7FC00000u); /* NAN, Rust's f32::NAN */
    case 1: return float_from_bits(0xFFC00000u); /* x86's default NaN */
    case 2: return float_from_bits(0x7FC00000u | payload);
    default: /* signalling, either sign */
      if (payload == 0) payload = 1;
      return float_from_bits(((r & 8) ? 0xFF800000u : 0x7F800000u) | payload);
  }
}

float rng_special(uint64_t* state) {
  switch (rng_next(state) % 14) {
    case 0: return rng_nan(state);
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -0.0f;
    case 4: return 0.0f;
    case 5: return (float)(rng_normal(state) * 1e-40); /* subnormal */
    case 6: return 1e-30f;
    case 7: return nextafterf(1e-30f, 0.0f);
    case 8: return 1e30f;
    case 9: return nextafterf(1e30f, INFINITY);
    case 10: return (rng_next(state) & 1) ? FLT_MAX : -FLT_MAX;
    case 11: return FLT_MIN;
    case 12: return (float)(rng_normal(state) * 1e31);
    default: return (float)rng_normal(state);
  }
}

const char* const kDistributionNames[NUM_DISTRIBUTIONS] = {"gauss", "uniform", "ties",
                                                           "specials", "blocky"};

/* x/s values at which some rule changes its answer (I2_S half-way points,
 * TL1 and TL2 table steps, kernel-family thresholds and level midpoints). */
static const float kBoundaries[] = {0.5f,        1.5f,  0.49609375f, 0.50390625f, 1.0f / 3.0f,
                                    0.33f,       0.665f, 0.8f,       0.4f,        0.75f,
                                    0.5f / 1.5f, 1.0f,  0.0f,        2.0f / 3.0f, 0.25f,
                                    2.5f,        3.0f};

/* A float v near q*s whose IEEE quotient v/s is exactly q, if one of its
 * neighbours has one; else the nearest. */
static float value_with_quotient(float q, float s) {
  float v = q * s, up = v, down = v;
  int k;
  for (k = 0; k < 8; ++k) {
    if (up / s == q) return up;
    if (down / s == q) return down;
    up = nextafterf(up, INFINITY);
    down = nextafterf(down, -INFINITY);
  }
  return v;
}

void fill_random(enum distribution dist, float* x, size_t n, size_t block, uint64_t seed) {
  uint64_t rng = seed;
  size_t i;
  for (i = 0; i < n; ++i) {
    switch (dist) {
      case GAUSS: x[i] = (float)rng_normal(&rng); break;
      case UNIFORM: x[i] = (float)(rng_uniform(&rng) * 2.0 - 1.0); break;
      case TIES: {
        /* Block absmax is a power of two (exact quotients), a random
         * scale, or above 1e30 (scale capped at 1e30, so x/s reaches
         * beyond +-1); the first element of each block holds it. */
        const size_t b = i / block;
        const int capped = b % 3 == 2;
        const float m = capped ? 4e30f : (b % 2) ? ldexpf(1.0f, (int)(b % 7) - 3) : 0.7f + (float)(b % 5);
        const float scale = capped ? 1e30f : m; /* the stored scale */
        float q = kBoundaries[rng_next(&rng) % (sizeof(kBoundaries) / sizeof(kBoundaries[0]))];
        const uint64_t r = rng_next(&rng);
        float v;
        if (!capped && q > 1.0f) q /= 3.0f; /* stay within the block's absmax */
        v = value_with_quotient((r & 1) ? -q : q, scale);
        if (r & 2) v = nextafterf(v, (r & 4) ? INFINITY : -INFINITY);
        x[i] = (i % block == 0) ? m : v;
        break;
      }
      case SPECIALS: x[i] = (rng_next(&rng) % 3 == 0) ? rng_special(&rng) : (float)rng_normal(&rng); break;
      case BLOCKY: {
        const size_t b = i / block;
        switch (b % 6) {
          case 0: x[i] = rng_nan(&rng); break;
          case 1: x[i] = (b & 8) ? -0.0f : 0.0f; break;
          case 2: x[i] = (float)(rng_normal(&rng) * 1e-35); break;
          case 3: x[i] = (float)(rng_normal(&rng) * 1e36); break;
          case 4: x[i] = (i % block == 3) ? INFINITY : (float)rng_normal(&rng); break;
          default: x[i] = (float)(rng_normal(&rng) * 3e-39); break; /* subnormal block */
        }
        break;
      }
      default: break;
    }
  }
}

void fill_block_adversarial(float* x, size_t n, size_t block, uint64_t seed) {
  uint64_t s = seed;
  size_t b;
  for (b = 0; b * block < n; ++b) {
    float* xb = x + b * block;
    const size_t len = n - b * block < block ? n - b * block : block;
    const unsigned kind = (unsigned)(rng_next(&s) % 18);
    const float amax = (float)(rng_uniform(&s) * 4 + 0.25);
    const size_t far = (size_t)(rng_next(&s) % len);
    /* ggml's ternary cut for a block of largest |x| big: the smallest t
     * with fl(t * (1/big)) >= 0.5 (big near FLT_MAX in every other block). */
    const float big = (b % 2) ? float_from_bits(0x7E800000u + (uint32_t)(rng_next(&s) % 0x00FFFFFFu)) : amax;
    float cut = 0.5f * big;
    size_t j;
    while (nextafterf(cut, 0) * (1.0f / big) >= 0.5f) cut = nextafterf(cut, 0);
    while (cut * (1.0f / big) < 0.5f) cut = nextafterf(cut, INFINITY);
    for (j = 0; j < len; ++j) {
      const double u = rng_uniform(&s);
      float v = (float)rng_normal(&s) * amax / 3;
      switch (kind) {
        case 0: break;                                       /* gaussian */
        case 1: v = (u < 0.5 ? -1.0f : 1.0f) * amax * (u < 0.3 || u > 0.7); break; /* ternary */
        case 2: v = (j % 3 == 0 ? amax / 2 : -amax / 2);     /* ties at +-d/2 */
                if (j % 7 == 0) v = nextafterf(v, 0);
                if (j % 11 == 0) v = nextafterf(v, 2 * v);
                break;
        case 3: v = 0.0f; break;                            /* all zero */
        case 4: v = (j % 2) ? -0.0f : 0.0f; break;          /* signed zeros */
        case 5: v = (float)(u * 1e-30); break;              /* tiny */
        case 6: v = (float)((u - 0.5) * 1e-39); break;      /* subnormal: 1/amax overflows */
        case 7: v = (float)((u - 0.5) * 3e38); break;       /* huge: f16 overflows */
        case 8: v = (float)((u - 0.5) * 1.3e5); break;
        case 9: /* NaN of every kind: quiet, signalling, payloads, negative */
          if (j % 5 == 0) v = float_from_bits(0x7FC00000u | (uint32_t)(rng_next(&s) & 0x3FFFFF));
          if (j % 5 == 1) v = float_from_bits(0x7F800001u | (uint32_t)(rng_next(&s) & 0x3FFFFF));
          if (j % 5 == 2) v = float_from_bits(0xFFC00000u);
          break;
        case 10: if (j % 9 == 0) v = (j % 2) ? INFINITY : -INFINITY; break;
        case 11: if (j == len - 1) v = NAN; break;           /* NaN last: ggml's MAX keeps it */
        case 12: v = (float)((u - 0.5) * 2.2e-38); break;   /* subnormal amax, finite 1/amax */
        case 13: if (j == far || j == len - 1 - far) v = (j == far) ? -amax : amax; break;
        case 14: /* halves of the int8 steps: Q8_0's roundf, Q8_K's and i8_s's nearest_int */
          v = amax * ((float)((int)(u * 254) - 127) + 0.5f) / 127.0f;
          if (j % 5 == 0) v = nextafterf(v, INFINITY);
          if (j == far) v = amax;
          break;
        case 15: /* around 1e-6, where I2_S's zero test switches */
          v = nextafterf(1e-6f, (j % 3) ? 1.0f : 0.0f) * ((j % 2) ? -1.0f : 1.0f);
          if (j % 4 == 0) v = (j % 8) ? 1e-6f : -1e-6f;
          break;
        case 16: if (j % 13 == 5) v = float_from_bits(0x7F800001u); break; /* one signalling NaN */
        default: /* around the ternary cut */
          v = j % 4 == 0 ? cut : j % 4 == 1 ? nextafterf(cut, 0) : j % 4 == 2 ? -cut : -nextafterf(cut, 0);
          if (j == far) v = big;
          break;
      }
      xb[j] = v;
    }
  }
}

void fill_half_edges(float* x, size_t n, uint64_t seed) {
  uint64_t s = seed;
  size_t i;
  for (i = 0; i < n; ++i) {
    const uint32_t r = (uint32_t)rng_next(&s);
    x[i] = i % 4 == 0   ? float_from_bits(r)
           : i % 4 == 1 ? (float)((int)(r % 200001) - 100000) / 1.5f
           : i % 4 == 2 ? float_from_bits(0x33000000u + (r % 0x0C000000u))
                        : ldexpf(1.0f + (float)(r & 0xFFFF) / 65536.0f, (int)(r % 40) - 26);
  }
  if (n >= 8) {
    x[0] = NAN;
    x[1] = -NAN;
    x[2] = INFINITY;
    x[3] = 65520.0f;
    x[4] = 65519.99f;
    x[5] = float_from_bits(0x7F800001u);
    x[6] = float_from_bits(0xFFA00005u);
    x[7] = -INFINITY;
  }
}

int golden_index_next(FILE* index, char* line, int size, char** file, char** name,
                      char** error) {
  while (fgets(line, size, index)) {
    if (line[0] == '#') continue;
    line[strcspn(line, "\r\n")] = '\0';
    *file = strtok(line, "\t");
    *name = strtok(NULL, "\t");
    *error = strtok(NULL, "\t");
    if (*file && *name && *error) return 1;
  }
  return 0;
}

const char* path_join(const char* dir, const char* name) {
  static char buf[4096];
  snprintf(buf, sizeof(buf), "%s/%s", dir, name);
  return buf;
}
