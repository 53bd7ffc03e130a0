/* Helpers shared by the C tests: bit-exact float comparison, check
 * counting, the CPU targets to run on, a PRNG; plus the safetensors reader. */
#ifndef BITNET_FFI_TESTS_TEST_UTIL_H
#define BITNET_FFI_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitnet_quant.h"
#include "safetensors.h"

/* ---- checks --------------------------------------------------------------- */
extern long g_checks_passed;
extern long g_checks_failed;

/* Counts one check; prints the message when it fails. Returns cond. */
int check(int cond, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Checks a call's status, with bitnet_last_error() in the message (inline:
 * test_util.c itself is also built into test_dlopen, which does not link
 * the library). */
static inline int expect_status(int got, int want, const char* what) {
  return check(got == want, "%s: status %d, expected %d (%s)", what, got, want,
               bitnet_last_error() ? bitnet_last_error() : "");
}
/* Prints "N passed, N failed" and returns the process exit code. */
int finish(const char* test_name);

/* Two floats are equal when their bits are: -0.0 != +0.0, and NaNs must
 * agree in sign, quiet bit and payload (the library specifies every output
 * bit, NaNs included). */
int same_float(float a, float b);
float float_from_bits(uint32_t bits);
uint32_t float_bits(float f);
/* Index of the first differing element, or -1. */
long first_float_diff(const float* a, const float* b, size_t n);
long first_byte_diff(const uint8_t* a, const uint8_t* b, size_t n);
/* The products' equality: equal bits, or NaN both (their NaNs' sign and
 * payload are unspecified); the index of the first difference, or -1. */
int same_result(float a, float b);
long first_result_diff(const float* a, const float* b, size_t n);

/* ---- buffers -------------------------------------------------------------- */
/* malloc that ends the test (exit 2) when the host is out of memory; 0
 * bytes give a valid pointer. */
void* xmalloc(size_t bytes);
/* The default (and the kernel family's fixed) block of I2_S, TL1, TL2. */
extern const uint32_t kDefaultBlock[3];
/* What output buffers are filled with before a call, to see what it wrote. */
#define POISON 0xA5
/* 1 when the first `bytes` bytes from p are all POISON. */
int untouched(const void* p, size_t bytes);

/* ---- targets ---------------------------------------------------------------- */
/* The supported targets, one bit each, REFERENCE first; returns the count.
 * When BITNET_TEST_EXPECT_TARGETS is set (names separated by spaces, e.g.
 * "REFERENCE NEON SVE SVE2"), a supported set that differs from it is a
 * failed check: a run meant for a CPU model cannot pass on fewer targets. */
int supported_targets(bitnet_cpu_target out[32]);

/* ---- under an emulator -------------------------------------------------------- */
/* 1 when BITNET_TEST_EMULATED=1: the suite runs under an emulator such as
 * qemu-user (tools/test_arm.sh). */
int emulated(void);
/* The length of a large input: n, or n / 16 under an emulator. Callers add
 * their ragged tail after it; the input still spans many blocks and chunks. */
size_t large_length(size_t n);

/* Deterministic PRNG (SplitMix64) for random tests. */
uint64_t rng_next(uint64_t* state);
double rng_uniform(uint64_t* state); /* [0, 1) */
double rng_normal(uint64_t* state);
/* A NaN of any kind: quiet or signalling, either sign, a random payload. */
float rng_nan(uint64_t* state);
/* A value of the kinds that stress quantizers: a NaN (rng_nan), +-Inf, +-0, a
 * subnormal, the 1e-30 / 1e30 scale-cap edges, +-FLT_MAX, FLT_MIN, a huge
 * or a standard normal value. */
float rng_special(uint64_t* state);

/* Random inputs of one distribution, x[0, n) from seed; `block` places the
 * block-wise patterns of TIES and BLOCKY. */
enum distribution {
  GAUSS,
  UNIFORM,
  TIES,     /* rounding boundaries of every rule, and their neighbours */
  SPECIALS, /* NaNs (signalling, payloads), +-Inf, -0.0, subnormals, 1e-30 / 1e30 edges, FLT_MAX */
  BLOCKY,   /* each block a different magnitude, some all-NaN (of mixed kinds) or all-zero */
  NUM_DISTRIBUTIONS
};
extern const char* const kDistributionNames[NUM_DISTRIBUTIONS];
void fill_random(enum distribution dist, float* x, size_t n, size_t block, uint64_t seed);

/* Each block of x[0, n) one adversarial pattern for block quantizers: a
 * gaussian, a ternary block, ties at +-amax/2 and their neighbours, all
 * zero, signed zeros, tiny, subnormal (1/amax overflows, or not), huge (f16
 * overflows), NaN of every kind (quiet, signalling, with payloads,
 * negative), +-Inf, a NaN last, +-amax both present, ties of int8 rounding,
 * magnitudes around 1e-6, elements at ggml's ternary cut and just below it
 * (also for amax near FLT_MAX). */
void fill_block_adversarial(float* x, size_t n, size_t block, uint64_t seed);
/* Floats near the f16 and bf16 rounding and range edges, random bits,
 * NaN (quiet, signalling, negative) and Inf. */
void fill_half_edges(float* x, size_t n, uint64_t seed);

/* ---- golden vectors ----------------------------------------------------------- */
/* Reads the next case of a golden index.tsv into line[size] and points file,
 * name and error at its three tab-separated columns (lines starting with
 * '#' and short lines are skipped). Returns 0 at the end of the index. */
int golden_index_next(FILE* index, char* line, int size, char** file, char** name,
                      char** error);

/* Joins dir and name into a static buffer. */
const char* path_join(const char* dir, const char* name);

#endif /* BITNET_FFI_TESTS_TEST_UTIL_H */
