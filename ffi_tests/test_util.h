/* Helpers shared by the C tests: a safetensors reader, bit-exact float
 * comparison, check counting and the list of CPU targets to run on. */
#ifndef BITNET_FFI_TESTS_TEST_UTIL_H
#define BITNET_FFI_TESTS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bitnet_quant.h"

/* ---- checks --------------------------------------------------------------- */
extern long g_checks_passed;
extern long g_checks_failed;

/* Counts one check; prints the message when it fails. Returns cond. */
int check(int cond, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prints "N passed, N failed" and returns the process exit code. */
int finish(const char* test_name);

/* Two floats are equal when their bits are, or both are NaN (-0.0 != +0.0). */
int same_float(float a, float b);
/* Index of the first differing element, or -1. */
long first_float_diff(const float* a, const float* b, size_t n);
long first_byte_diff(const uint8_t* a, const uint8_t* b, size_t n);

/* ---- safetensors ---------------------------------------------------------- */
typedef struct st_tensor {
  char name[128];
  char dtype[8]; /* "F32", "U8", "I8", "I32" */
  size_t shape[4];
  int ndim;
  const uint8_t* data;
  size_t nbytes;
} st_tensor;

typedef struct st_file {
  uint8_t* bytes;
  size_t size;
  st_tensor* tensors;
  size_t count;
} st_file;

/* Loads and parses a whole file; exits the test with a message on error. */
st_file* st_open(const char* path);
void st_close(st_file* f);
/* The tensor called name, or NULL. */
const st_tensor* st_find(const st_file* f, const char* name);
/* Like st_find with "<prefix>/<field>". */
const st_tensor* st_field(const st_file* f, const char* prefix, const char* field);
/* Number of elements of a tensor. */
size_t st_numel(const st_tensor* t);
/* Copies a F32 tensor into a malloc'ed, aligned float array. */
float* st_floats(const st_tensor* t);

/* ---- targets ---------------------------------------------------------------- */
/* The supported targets, one bit each, REFERENCE first; returns the count. */
int supported_targets(bitnet_cpu_target out[32]);

/* Deterministic PRNG (SplitMix64) for random tests. */
uint64_t rng_next(uint64_t* state);
double rng_uniform(uint64_t* state); /* [0, 1) */
double rng_normal(uint64_t* state);

/* Joins dir and name into a static buffer. */
const char* path_join(const char* dir, const char* name);

#endif /* BITNET_FFI_TESTS_TEST_UTIL_H */
