/* Every way a caller can get a call wrong, as a table: one row per mistake
 * with the status the library must return. For every row the status is the
 * expected one, a failing row leaves a fresh non-empty message, a known
 * status string and bitnet_last_backend() as it was, and no byte of any
 * buffer changes (all buffers live in one poisoned arena, compared whole
 * after each call). Rows that succeed may write only the bytes the header
 * says they write. Also: bitnet_cpp_init/cleanup, the messages that name
 * the argument, and bitnet_last_backend(). */
#define _POSIX_C_SOURCE 200809L /* posix_memalign, unsetenv */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

enum entry {
  QUANTIZE,
  DEQUANTIZE,
  QUANTIZE_I2S,
  QUANTIZE_TL1,
  QUANTIZE_TL2,
  DEQUANTIZE_I2S,
  DEQUANTIZE_TL1,
  DEQUANTIZE_TL2,
  BUFFER_SIZES,
  SET_TARGET,
  TARGET_FROM_NAME,
  CPP_QUANTIZE,
  CPP_MATMUL,
  OPTIONS_INIT
};
static const char* const kEntryNames[] = {
    "bitnet_quantize",       "bitnet_dequantize",     "bitnet_quantize_i2s",
    "bitnet_quantize_tl1",   "bitnet_quantize_tl2",   "bitnet_dequantize_i2s",
    "bitnet_dequantize_tl1", "bitnet_dequantize_tl2", "bitnet_quant_buffer_sizes",
    "bitnet_cpu_set_target", "bitnet_cpu_target_from_name", "bitnet_cpp_quantize",
    "bitnet_cpp_matmul_i2s", "bitnet_quant_options_init"};

/* Parts of the arena. A pointer argument is a region plus a byte offset. */
enum region {
  R_NULL,
  R_INPUT,      /* finite floats */
  R_NAN,        /* quiet NaNs */
  R_INF,        /* +Inf, -Inf, ... */
  R_NONFINITE,  /* NaN, -NaN, +Inf, -Inf, signalling NaN */
  R_ONE_FINITE, /* NaNs but for the last element */
  R_PACKED,
  R_SCALES,
  R_OUTPUT,
  R_MAT_A,
  R_MAT_B,
  R_MAT_C,
  R_SIZES,  /* two size_t */
  R_TARGET,  /* one bitnet_cpu_target */
  R_OPTIONS, /* a bitnet_quant_options and then some */
  NUM_REGIONS
};
static const size_t kRegionBytes[NUM_REGIONS] = {0,    8192, 2048, 2048, 2048, 2048, 1024,
                                                 4096, 8192, 256,  256,  256,  64,   64, 64};
#define GUARD 64 /* poisoned bytes after each region */

typedef struct ptr_arg {
  enum region region;
  size_t offset;
} ptr_arg;

/* A call. Pointer arguments are listed in declaration order:
 *   quantize: input, packed, scales      dequantize: packed, scales, output
 *   buffer_sizes: packed_len, scales_len  target_from_name: target
 *   cpp_quantize: input, output, scales  cpp_matmul: a, b, c
 *   options_init: options
 * len[] are the size_t lengths after n (quantize: packed_len, scales_len;
 * dequantize: packed_len, scales_len; options_init: struct_size); ints[]
 * the int arguments of bitnet_cpp_* in declaration order. */
typedef struct row {
  const char* what;
  enum entry entry;
  int expected;
  int32_t format; /* format, or qtype for bitnet_cpp_quantize */
  const bitnet_quant_options* options;
  ptr_arg ptr[3];
  size_t n;
  size_t len[2];
  int ints[3];
  bitnet_cpu_target target;
  const char* name;
} row;

/* ---- the table -------------------------------------------------------------- */

#define SZ ((uint32_t)sizeof(bitnet_quant_options))
/* Options with the right size and some fields set. */
#define OPT(...) (&(const bitnet_quant_options){.struct_size = SZ, __VA_ARGS__})
#define OPT_SIZED(size) (&(const bitnet_quant_options){(size), 0u, 0u, 0, 0, 0u})
/* Replaced at run time with a known target bit this CPU cannot run. */
#define CPU_UNSUPPORTED 0xFFFFFFFFu

#define P(r, off) {(r), (off)}
#define NUL P(R_NULL, 0)
#define IN P(R_INPUT, 0)
#define PK P(R_PACKED, 0)
#define SC P(R_SCALES, 0)
#define OUT P(R_OUTPUT, 0)

#define NQ 300 /* elements of a typical call */
#define NEED_PACKED(n) (((n) + 3) / 4)
#define NEED_SCALES(n, b) (((n) + (b)-1) / (b))
#define N_OVERFLOW ((size_t)PTRDIFF_MAX / 4 + 1) /* smallest n whose bytes overflow */
#define N_LARGEST ((size_t)PTRDIFF_MAX / 4)      /* largest n that passes the count */

/* Quantize mistakes for one entry point (format F, block B). */
#define QUANTIZE_ROWS(E, F, B, NONFINITE_STATUS)                                              \
  {"input NULL", E, BITNET_E_NULL_POINTER, F, NULL, {NUL, PK, SC}, NQ,                        \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"packed NULL", E, BITNET_E_NULL_POINTER, F, NULL, {IN, NUL, SC}, NQ,                       \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"scales NULL", E, BITNET_E_NULL_POINTER, F, NULL, {IN, PK, NUL}, NQ,                       \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"n 1, packed NULL", E, BITNET_E_NULL_POINTER, F, NULL, {IN, NUL, SC}, 1, {1, 1}, {0}, 0,   \
   NULL},                                                                                     \
  {"n 0: every pointer may be NULL", E, BITNET_OK, F, NULL, {NUL, NUL, NUL}, 0, {0, 0}, {0},  \
   0, NULL},                                                                                  \
  {"n 0, NULL pointers, non-zero capacities", E, BITNET_OK, F, NULL, {NUL, NUL, NUL}, 0,      \
   {7, 7}, {0}, 0, NULL},                                                                     \
  {"packed one byte too small", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL, {IN, PK, SC}, NQ,      \
   {NEED_PACKED(NQ) - 1, NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                  \
  {"packed one byte too small, partial last byte", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL,     \
   {IN, PK, SC}, NQ + 1, {NEED_PACKED(NQ + 1) - 1, NEED_SCALES(NQ + 1, B)}, {0}, 0, NULL},    \
  {"packed capacity 0", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL, {IN, PK, SC}, NQ,              \
   {0, NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                                    \
  {"scales one too small", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL, {IN, PK, SC}, NQ,           \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B) - 1}, {0}, 0, NULL},                                  \
  {"scales one too small, partial last block", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL,         \
   {IN, PK, SC}, (B) + 1, {NEED_PACKED((B) + 1), 1}, {0}, 0, NULL},                           \
  {"scales capacity 0", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL, {IN, PK, SC}, NQ,              \
   {NEED_PACKED(NQ), 0}, {0}, 0, NULL},                                                       \
  {"n SIZE_MAX", E, BITNET_E_SIZE_OVERFLOW, F, NULL, {IN, PK, SC}, SIZE_MAX,                  \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"n PTRDIFF_MAX/4+1: n*4 bytes overflow", E, BITNET_E_SIZE_OVERFLOW, F, NULL,               \
   {IN, PK, SC}, N_OVERFLOW, {SIZE_MAX, SIZE_MAX}, {0}, 0, NULL},                             \
  {"n PTRDIFF_MAX/4, small buffers", E, BITNET_E_BUFFER_TOO_SMALL, F, NULL, {IN, PK, SC},     \
   N_LARGEST, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                           \
  {"n PTRDIFF_MAX/4, capacities that claim it all: regions overlap", E, BITNET_E_OVERLAP, F,  \
   NULL, {IN, PK, SC}, N_LARGEST, {SIZE_MAX, SIZE_MAX}, {0}, 0, NULL},                        \
  {"input misaligned by 1", E, BITNET_E_MISALIGNED, F, NULL, {P(R_INPUT, 1), PK, SC}, NQ,     \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"input misaligned by 2", E, BITNET_E_MISALIGNED, F, NULL, {P(R_INPUT, 2), PK, SC}, NQ,     \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"scales misaligned by 1", E, BITNET_E_MISALIGNED, F, NULL, {IN, PK, P(R_SCALES, 1)}, NQ,   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"scales misaligned by 3", E, BITNET_E_MISALIGNED, F, NULL, {IN, PK, P(R_SCALES, 3)}, NQ,   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"packed at an odd address is fine", E, BITNET_OK, F, NULL, {IN, P(R_PACKED, 1), SC}, NQ,   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"in place: packed == input", E, BITNET_E_OVERLAP, F, NULL, {IN, IN, SC}, NQ,               \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"packed starts on the last input byte", E, BITNET_E_OVERLAP, F, NULL,                      \
   {IN, P(R_INPUT, NQ * 4 - 1), SC}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL}, \
  {"packed right after the input is fine", E, BITNET_OK, F, NULL, {IN, P(R_INPUT, NQ * 4), SC}, \
   NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                  \
  {"scales start on the last input float", E, BITNET_E_OVERLAP, F, NULL,                      \
   {IN, PK, P(R_INPUT, NQ * 4 - 4)}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL}, \
  {"packed overlaps scales", E, BITNET_E_OVERLAP, F, NULL, {IN, P(R_SCALES, 4), SC}, NQ,      \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"capacities larger than needed: only the needed part is written", E, BITNET_OK, F, NULL,   \
   {IN, PK, SC}, NQ, {NEED_PACKED(NQ) + 9, NEED_SCALES(NQ, B) + 5}, {0}, 0, NULL},            \
  {"all NaN", E, NONFINITE_STATUS, F, NULL, {P(R_NAN, 0), PK, SC}, NQ,                        \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"all +-Inf", E, NONFINITE_STATUS, F, NULL, {P(R_INF, 0), PK, SC}, NQ,                      \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"NaN, -NaN, +-Inf, signalling NaN", E, NONFINITE_STATUS, F, NULL,                          \
   {P(R_NONFINITE, 0), PK, SC}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},     \
  {"one NaN element", E, NONFINITE_STATUS, F, NULL, {P(R_NAN, 0), PK, SC}, 1, {1, 1}, {0}, 0, \
   NULL},                                                                                     \
  {"NaN but for the last element", E, BITNET_OK, F, NULL, {P(R_ONE_FINITE, 0), PK, SC}, NQ,   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL}

/* Dequantize mistakes for one entry point (format F, block B). */
#define DEQUANTIZE_ROWS(E, F, B)                                                              \
  {"packed NULL", E, BITNET_E_NULL_POINTER, F, NULL, {NUL, SC, OUT}, NQ,                      \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"scales NULL", E, BITNET_E_NULL_POINTER, F, NULL, {PK, NUL, OUT}, NQ,                      \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"output NULL", E, BITNET_E_NULL_POINTER, F, NULL, {PK, SC, NUL}, NQ,                       \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"n 0: every pointer may be NULL", E, BITNET_OK, F, NULL, {NUL, NUL, NUL}, 0, {0, 0}, {0},  \
   0, NULL},                                                                                  \
  {"packed one byte short", E, BITNET_E_SIZE_MISMATCH, F, NULL, {PK, SC, OUT}, NQ,            \
   {NEED_PACKED(NQ) - 1, NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                  \
  {"packed one byte long", E, BITNET_E_SIZE_MISMATCH, F, NULL, {PK, SC, OUT}, NQ,             \
   {NEED_PACKED(NQ) + 1, NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                  \
  {"packed one byte short, partial last byte", E, BITNET_E_SIZE_MISMATCH, F, NULL,            \
   {PK, SC, OUT}, NQ + 3, {NEED_PACKED(NQ + 3) - 1, NEED_SCALES(NQ + 3, B)}, {0}, 0, NULL},   \
  {"scales one short", E, BITNET_E_SIZE_MISMATCH, F, NULL, {PK, SC, OUT}, NQ,                 \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B) - 1}, {0}, 0, NULL},                                  \
  {"scales one long", E, BITNET_E_SIZE_MISMATCH, F, NULL, {PK, SC, OUT}, NQ,                  \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B) + 1}, {0}, 0, NULL},                                  \
  {"n 0 with non-zero lengths", E, BITNET_E_SIZE_MISMATCH, F, NULL, {PK, SC, OUT}, 0, {1, 0}, \
   {0}, 0, NULL},                                                                             \
  {"n SIZE_MAX", E, BITNET_E_SIZE_OVERFLOW, F, NULL, {PK, SC, OUT}, SIZE_MAX,                 \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"n PTRDIFF_MAX/4+1: n*4 bytes overflow", E, BITNET_E_SIZE_OVERFLOW, F, NULL,               \
   {PK, SC, OUT}, N_OVERFLOW, {NEED_PACKED(N_OVERFLOW), NEED_SCALES(N_OVERFLOW, B)}, {0}, 0,  \
   NULL},                                                                                     \
  {"n PTRDIFF_MAX/4 with lengths of a small call", E, BITNET_E_SIZE_MISMATCH, F, NULL,        \
   {PK, SC, OUT}, N_LARGEST, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},            \
  {"scales misaligned by 2", E, BITNET_E_MISALIGNED, F, NULL, {PK, P(R_SCALES, 2), OUT}, NQ,  \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"output misaligned by 1", E, BITNET_E_MISALIGNED, F, NULL, {PK, SC, P(R_OUTPUT, 1)}, NQ,   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"packed at an odd address is fine", E, BITNET_OK, F, NULL, {P(R_PACKED, 3), SC, OUT}, NQ,  \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"in place: output == packed", E, BITNET_E_OVERLAP, F, NULL, {PK, SC, PK}, NQ,              \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"packed starts on the last output byte", E, BITNET_E_OVERLAP, F, NULL,                      \
   {P(R_OUTPUT, NQ * 4 - 1), SC, OUT}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0,     \
   NULL},                                                                                     \
  {"in place: output == scales", E, BITNET_E_OVERLAP, F, NULL, {PK, SC, SC}, NQ,              \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL},                                      \
  {"scales start on the last output float", E, BITNET_E_OVERLAP, F, NULL,                     \
   {PK, P(R_OUTPUT, NQ * 4 - 4), OUT}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0,     \
   NULL},                                                                                     \
  {"scales right after the output are fine", E, BITNET_OK, F, NULL,                           \
   {PK, P(R_OUTPUT, NQ * 4), OUT}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, B)}, {0}, 0, NULL}

/* Format and options mistakes for bitnet_quantize (I2_S arguments).
 * SIZES_STATUS is what bitnet_quant_buffer_sizes returns instead: it reads
 * struct_size and block_size only. */
#define Q_OPT(what, status, sizes_status, options)                                            \
  {what, QUANTIZE, status, BITNET_FORMAT_I2S, options, {IN, PK, SC}, NQ,                      \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, 32)}, {0}, 0, NULL}
#define Q_FMT(what, format)                                                                   \
  {what, QUANTIZE, BITNET_E_INVALID_FORMAT, format, NULL, {IN, PK, SC}, NQ,                   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, 32)}, {0}, 0, NULL}
/* ... for bitnet_dequantize. */
#define D_OPT(what, status, sizes_status, options)                                            \
  {what, DEQUANTIZE, status, BITNET_FORMAT_I2S, options, {PK, SC, OUT}, NQ,                   \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, 32)}, {0}, 0, NULL}
#define D_FMT(what, format)                                                                   \
  {what, DEQUANTIZE, BITNET_E_INVALID_FORMAT, format, NULL, {PK, SC, OUT}, NQ,                \
   {NEED_PACKED(NQ), NEED_SCALES(NQ, 32)}, {0}, 0, NULL}
/* ... for bitnet_quant_buffer_sizes. */
#define S_OPT(what, status, sizes_status, options)                                            \
  {what, BUFFER_SIZES, sizes_status, BITNET_FORMAT_I2S, options,                              \
   {P(R_SIZES, 0), P(R_SIZES, sizeof(size_t)), NUL}, NQ, {0, 0}, {0}, 0, NULL}
#define S_FMT(what, format)                                                                   \
  {what, BUFFER_SIZES, BITNET_E_INVALID_FORMAT, format, NULL,                                 \
   {P(R_SIZES, 0), P(R_SIZES, sizeof(size_t)), NUL}, NQ, {0, 0}, {0}, 0, NULL}

#define OK BITNET_OK
/* Options mistakes, for each general entry point (X = Q_OPT, D_OPT, S_OPT).
 * NQ elements are below AUTO's GPU threshold: AUTO is the CPU here. */
#define OPTION_ROWS(X)                                                                        \
  X("struct_size 0", BITNET_E_INVALID_OPTIONS, BITNET_E_INVALID_OPTIONS, OPT_SIZED(0u)),      \
  X("struct_size one field short of the 0.1 layout", BITNET_E_INVALID_OPTIONS,                \
    BITNET_E_INVALID_OPTIONS, OPT_SIZED(BITNET_QUANT_OPTIONS_SIZE_V1 - 4)),                   \
  X("struct_size one field long: a newer header", BITNET_E_INVALID_OPTIONS,                   \
    BITNET_E_INVALID_OPTIONS, OPT_SIZED(SZ + 4)),                                             \
  X("struct_size off by one byte", BITNET_E_INVALID_OPTIONS, BITNET_E_INVALID_OPTIONS,        \
    OPT_SIZED(SZ + 1)),                                                                       \
  X("struct_size 4: only struct_size", BITNET_E_INVALID_OPTIONS, BITNET_E_INVALID_OPTIONS,    \
    OPT_SIZED(4u)),                                                                           \
  X("struct_size UINT32_MAX", BITNET_E_INVALID_OPTIONS, BITNET_E_INVALID_OPTIONS,             \
    OPT_SIZED(UINT32_MAX)),                                                                   \
  X("struct_size of the 0.1 layout", OK, OK, OPT_SIZED(BITNET_QUANT_OPTIONS_SIZE_V1)),        \
  X("block_size 1", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                 \
    OPT(.block_size = 1)),                                                                    \
  X("block_size 2", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                 \
    OPT(.block_size = 2)),                                                                    \
  X("block_size 3", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                 \
    OPT(.block_size = 3)),                                                                    \
  X("block_size 5", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                 \
    OPT(.block_size = 5)),                                                                    \
  X("block_size 6", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                 \
    OPT(.block_size = 6)),                                                                    \
  X("block_size 30", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,                \
    OPT(.block_size = 30)),                                                                   \
  X("block_size BITNET_MAX_BLOCK_SIZE+4", BITNET_E_INVALID_BLOCK_SIZE,                        \
    BITNET_E_INVALID_BLOCK_SIZE, OPT(.block_size = BITNET_MAX_BLOCK_SIZE + 4)),               \
  X("block_size 2^31", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,              \
    OPT(.block_size = 1u << 31)),                                                             \
  X("block_size UINT32_MAX", BITNET_E_INVALID_BLOCK_SIZE, BITNET_E_INVALID_BLOCK_SIZE,        \
    OPT(.block_size = UINT32_MAX)),                                                           \
  X("cpu_target: two bits", BITNET_E_UNSUPPORTED_TARGET, OK,                                  \
    OPT(.cpu_target = BITNET_CPU_REFERENCE | BITNET_CPU_SCALAR)),                             \
  X("cpu_target: unknown bit 11", BITNET_E_UNSUPPORTED_TARGET, OK,                            \
    OPT(.cpu_target = 1u << 11)),                                                             \
  X("cpu_target: unknown bit 31", BITNET_E_UNSUPPORTED_TARGET, OK,                            \
    OPT(.cpu_target = 1u << 31)),                                                             \
  X("cpu_target: all bits", BITNET_E_UNSUPPORTED_TARGET, OK, OPT(.cpu_target = UINT32_MAX - 1)), \
  X("cpu_target: a target this CPU cannot run", BITNET_E_UNSUPPORTED_TARGET, OK,              \
    OPT(.cpu_target = CPU_UNSUPPORTED)),                                                      \
  X("device -1", BITNET_E_INVALID_OPTIONS, OK, OPT(.device = -1)),                            \
  X("device 3", BITNET_E_INVALID_OPTIONS, OK, OPT(.device = 3)),                              \
  X("device INT32_MAX", BITNET_E_INVALID_OPTIONS, OK, OPT(.device = INT32_MAX)),              \
  X("device_index -1", BITNET_E_INVALID_OPTIONS, OK,                                          \
    OPT(.device = BITNET_DEVICE_CPU, .device_index = -1)),                                    \
  X("device_index INT32_MIN", BITNET_E_INVALID_OPTIONS, OK, OPT(.device_index = INT32_MIN)),  \
  X("flags: unknown bit", BITNET_E_INVALID_OPTIONS, OK, OPT(.flags = 0x4u)),                  \
  X("flags: STRICT and NOT_STRICT", BITNET_E_INVALID_OPTIONS, OK,                             \
    OPT(.flags = BITNET_FLAG_STRICT | BITNET_FLAG_NOT_STRICT)),                               \
  X("flags: bit 31", BITNET_E_INVALID_OPTIONS, OK, OPT(.flags = 0x80000000u)),                \
  X("device CUDA with a CPU target", BITNET_E_INVALID_OPTIONS, OK,                            \
    OPT(.device = BITNET_DEVICE_CUDA, .cpu_target = BITNET_CPU_REFERENCE)),                   \
  X("device CUDA without a usable GPU", BITNET_E_DEVICE_UNAVAILABLE, OK,                      \
    OPT(.device = BITNET_DEVICE_CUDA)),                                                       \
  X("device CUDA index 7 without a usable GPU", BITNET_E_DEVICE_UNAVAILABLE, OK,              \
    OPT(.device = BITNET_DEVICE_CUDA, .device_index = 7)),                                    \
  X("device AUTO, STRICT, below the GPU threshold: the CPU", OK, OK,                          \
    OPT(.flags = BITNET_FLAG_STRICT)),                                                        \
  X("device AUTO, index 7, STRICT, below the GPU threshold: the CPU", OK, OK,                 \
    OPT(.device_index = 7, .flags = BITNET_FLAG_STRICT)),                                     \
  X("device AUTO, NOT_STRICT", OK, OK, OPT(.flags = BITNET_FLAG_NOT_STRICT)),                 \
  X("device CPU, STRICT", OK, OK, OPT(.device = BITNET_DEVICE_CPU, .flags = BITNET_FLAG_STRICT)), \
  X("block_size 0 means the default", OK, OK, OPT(.block_size = 0))

/* Format mistakes, for each general entry point (X = Q_FMT, D_FMT, S_FMT). */
#define FORMAT_ROWS(X)                                                                        \
  X("format -1", -1), X("format 3", 3), X("format INT32_MAX", INT32_MAX),                     \
      X("format INT32_MIN", INT32_MIN)

#define CPPQ(what, status, qtype, in, out, sc, len, out_len, sc_len)                          \
  {what, CPP_QUANTIZE, status, qtype, NULL, {in, out, sc}, 0, {0, 0}, {len, out_len, sc_len}, \
   0, NULL}
#define MATMUL(what, status, a, b, c, m, n, k)                                                \
  {what, CPP_MATMUL, status, 0, NULL, {a, b, c}, 0, {0, 0}, {m, n, k}, 0, NULL}
#define SET_TARGET_ROW(what, status, target)                                                  \
  {what, SET_TARGET, status, 0, NULL, {NUL, NUL, NUL}, 0, {0, 0}, {0}, target, NULL}
#define FROM_NAME(what, status, name, out)                                                    \
  {what, TARGET_FROM_NAME, status, 0, NULL, {out, NUL, NUL}, 0, {0, 0}, {0}, 0, name}
#define OPTIONS_INIT_ROW(what, status, options, struct_size)                                  \
  {what, OPTIONS_INIT, status, 0, NULL, {options, NUL, NUL}, 0, {struct_size, 0}, {0}, 0, NULL}

#define MA P(R_MAT_A, 0)
#define MB P(R_MAT_B, 0)
#define MC P(R_MAT_C, 0)

static const row kRows[] = {
    QUANTIZE_ROWS(QUANTIZE, BITNET_FORMAT_I2S, 32, BITNET_E_ALL_NONFINITE),
    QUANTIZE_ROWS(QUANTIZE, BITNET_FORMAT_TL1, 64, BITNET_OK),
    QUANTIZE_ROWS(QUANTIZE, BITNET_FORMAT_TL2, 128, BITNET_OK),
    QUANTIZE_ROWS(QUANTIZE_I2S, BITNET_FORMAT_I2S, 32, BITNET_E_ALL_NONFINITE),
    QUANTIZE_ROWS(QUANTIZE_TL1, BITNET_FORMAT_TL1, 64, BITNET_OK),
    QUANTIZE_ROWS(QUANTIZE_TL2, BITNET_FORMAT_TL2, 128, BITNET_OK),
    DEQUANTIZE_ROWS(DEQUANTIZE, BITNET_FORMAT_I2S, 32),
    DEQUANTIZE_ROWS(DEQUANTIZE, BITNET_FORMAT_TL1, 64),
    DEQUANTIZE_ROWS(DEQUANTIZE, BITNET_FORMAT_TL2, 128),
    DEQUANTIZE_ROWS(DEQUANTIZE_I2S, BITNET_FORMAT_I2S, 32),
    DEQUANTIZE_ROWS(DEQUANTIZE_TL1, BITNET_FORMAT_TL1, 64),
    DEQUANTIZE_ROWS(DEQUANTIZE_TL2, BITNET_FORMAT_TL2, 128),
    OPTION_ROWS(Q_OPT),
    OPTION_ROWS(D_OPT),
    OPTION_ROWS(S_OPT),
    FORMAT_ROWS(Q_FMT),
    FORMAT_ROWS(D_FMT),
    FORMAT_ROWS(S_FMT),
    {"block_size 4", QUANTIZE, BITNET_OK, BITNET_FORMAT_TL2, OPT(.block_size = 4), {IN, PK, SC},
     NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, 4)}, {0}, 0, NULL},
    {"block_size 4, one scale short", QUANTIZE, BITNET_E_BUFFER_TOO_SMALL, BITNET_FORMAT_TL1,
     OPT(.block_size = 4), {IN, PK, SC}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, 4) - 1}, {0}, 0,
     NULL},
    {"block_size 4, scales of block 32", DEQUANTIZE, BITNET_E_SIZE_MISMATCH, BITNET_FORMAT_I2S,
     OPT(.block_size = 4), {PK, SC, OUT}, NQ, {NEED_PACKED(NQ), NEED_SCALES(NQ, 32)}, {0}, 0,
     NULL},
    S_OPT("block_size 4", OK, OK, OPT(.block_size = 4)),
    Q_OPT("block_size BITNET_MAX_BLOCK_SIZE", OK, OK, OPT(.block_size = BITNET_MAX_BLOCK_SIZE)),
    S_OPT("block_size BITNET_MAX_BLOCK_SIZE", OK, OK, OPT(.block_size = BITNET_MAX_BLOCK_SIZE)),
    S_OPT("options NULL", OK, OK, NULL),
    {"packed_len NULL", BUFFER_SIZES, BITNET_E_NULL_POINTER, BITNET_FORMAT_TL1, NULL,
     {NUL, P(R_SIZES, sizeof(size_t)), NUL}, NQ, {0, 0}, {0}, 0, NULL},
    {"scales_len NULL", BUFFER_SIZES, BITNET_E_NULL_POINTER, BITNET_FORMAT_TL2, NULL,
     {P(R_SIZES, 0), NUL, NUL}, NQ, {0, 0}, {0}, 0, NULL},
    {"n SIZE_MAX", BUFFER_SIZES, BITNET_E_SIZE_OVERFLOW, BITNET_FORMAT_TL2, NULL,
     {P(R_SIZES, 0), P(R_SIZES, sizeof(size_t)), NUL}, SIZE_MAX, {0, 0}, {0}, 0, NULL},
    {"n PTRDIFF_MAX/4", BUFFER_SIZES, BITNET_OK, BITNET_FORMAT_TL2, NULL,
     {P(R_SIZES, 0), P(R_SIZES, sizeof(size_t)), NUL}, PTRDIFF_MAX / 4, {0, 0}, {0}, 0, NULL},
    {"n 0", BUFFER_SIZES, BITNET_OK, BITNET_FORMAT_TL1, NULL,
     {P(R_SIZES, 0), P(R_SIZES, sizeof(size_t)), NUL}, 0, {0, 0}, {0}, 0, NULL},

    SET_TARGET_ROW("two bits", BITNET_E_UNSUPPORTED_TARGET, BITNET_CPU_AVX2 | BITNET_CPU_SSE4),
    SET_TARGET_ROW("unknown bit 11", BITNET_E_UNSUPPORTED_TARGET, 1u << 11),
    SET_TARGET_ROW("unknown bit 31", BITNET_E_UNSUPPORTED_TARGET, 1u << 31),
    SET_TARGET_ROW("all bits", BITNET_E_UNSUPPORTED_TARGET, UINT32_MAX - 1),
    SET_TARGET_ROW("a target this CPU cannot run", BITNET_E_UNSUPPORTED_TARGET, CPU_UNSUPPORTED),
    SET_TARGET_ROW("REFERENCE", BITNET_OK, BITNET_CPU_REFERENCE),
    SET_TARGET_ROW("AUTO restores the default", BITNET_OK, BITNET_CPU_AUTO),

    FROM_NAME("name NULL", BITNET_E_NULL_POINTER, NULL, P(R_TARGET, 0)),
    FROM_NAME("target NULL", BITNET_E_NULL_POINTER, "AVX2", NUL),
    FROM_NAME("empty name", BITNET_E_INVALID_ARGUMENT, "", P(R_TARGET, 0)),
    FROM_NAME("unknown name", BITNET_E_INVALID_ARGUMENT, "AVX9", P(R_TARGET, 0)),
    FROM_NAME("trailing space", BITNET_E_INVALID_ARGUMENT, "avx2 ", P(R_TARGET, 0)),
    FROM_NAME("prefix of a name", BITNET_E_INVALID_ARGUMENT, "AVX3_", P(R_TARGET, 0)),
    FROM_NAME("name with a suffix", BITNET_E_INVALID_ARGUMENT, "REFERENCEX", P(R_TARGET, 0)),
    FROM_NAME("names are case-insensitive", BITNET_OK, "avx3_dl", P(R_TARGET, 0)),

    CPPQ("qtype -1", BITNET_E_INVALID_FORMAT, -1, IN, PK, SC, NQ, 75, 10),
    CPPQ("qtype 3", BITNET_E_INVALID_FORMAT, 3, IN, PK, SC, NQ, 75, 10),
    CPPQ("qtype INT_MAX", BITNET_E_INVALID_FORMAT, INT_MAX, IN, PK, SC, NQ, 75, 10),
    CPPQ("qtype INT_MIN", BITNET_E_INVALID_FORMAT, INT_MIN, IN, PK, SC, NQ, 75, 10),
    CPPQ("input_len -1", BITNET_E_INVALID_ARGUMENT, 0, IN, PK, SC, -1, 75, 10),
    CPPQ("input_len INT_MIN", BITNET_E_INVALID_ARGUMENT, 1, IN, PK, SC, INT_MIN, 75, 10),
    CPPQ("output_len -1", BITNET_E_INVALID_ARGUMENT, 2, IN, PK, SC, NQ, -1, 10),
    CPPQ("scales_len -1", BITNET_E_INVALID_ARGUMENT, 0, IN, PK, SC, NQ, 75, -1),
    CPPQ("scales_len INT_MIN", BITNET_E_INVALID_ARGUMENT, 0, IN, PK, SC, NQ, 75, INT_MIN),
    /* With a 32-bit size_t, INT_MAX floats are more than memory can hold. */
    CPPQ("input_len INT_MAX, small buffers",
         (size_t)INT_MAX <= PTRDIFF_MAX / sizeof(float) ? BITNET_E_BUFFER_TOO_SMALL
                                                        : BITNET_E_SIZE_OVERFLOW,
         0, IN, PK, SC, INT_MAX, 75, 10),
    CPPQ("output one byte too small", BITNET_E_BUFFER_TOO_SMALL, 0, IN, PK, SC, NQ, 74, 10),
    CPPQ("scales one too small (I2_S)", BITNET_E_BUFFER_TOO_SMALL, 0, IN, PK, SC, NQ, 75, 9),
    CPPQ("scales one too small (TL1)", BITNET_E_BUFFER_TOO_SMALL, 1, IN, PK, SC, NQ, 75, 4),
    CPPQ("scales one too small (TL2)", BITNET_E_BUFFER_TOO_SMALL, 2, IN, PK, SC, NQ, 75, 2),
    CPPQ("input NULL", BITNET_E_NULL_POINTER, 0, NUL, PK, SC, NQ, 75, 10),
    CPPQ("output NULL", BITNET_E_NULL_POINTER, 0, IN, NUL, SC, NQ, 75, 10),
    CPPQ("scales NULL", BITNET_E_NULL_POINTER, 0, IN, PK, NUL, NQ, 75, 10),
    CPPQ("length 0: every pointer may be NULL", BITNET_OK, 0, NUL, NUL, NUL, 0, 0, 0),
    CPPQ("input misaligned by 2", BITNET_E_MISALIGNED, 0, P(R_INPUT, 2), PK, SC, NQ, 75, 10),
    CPPQ("scales misaligned by 1", BITNET_E_MISALIGNED, 0, IN, PK, P(R_SCALES, 1), NQ, 75, 10),
    CPPQ("in place: output == input", BITNET_E_OVERLAP, 0, IN, IN, SC, NQ, 75, 10),
    CPPQ("scales overlap input", BITNET_E_OVERLAP, 0, IN, PK, P(R_INPUT, 40), NQ, 75, 10),
    CPPQ("output overlaps scales", BITNET_E_OVERLAP, 0, IN, P(R_SCALES, 8), SC, NQ, 75, 10),
    CPPQ("all NaN: the kernel family accepts it", BITNET_OK, 0, P(R_NAN, 0), PK, SC,
         NQ, 75, 10),

    MATMUL("m -1", BITNET_E_INVALID_ARGUMENT, MA, MB, MC, -1, 4, 8),
    MATMUL("n -1", BITNET_E_INVALID_ARGUMENT, MA, MB, MC, 4, -1, 8),
    MATMUL("k -1", BITNET_E_INVALID_ARGUMENT, MA, MB, MC, 4, 4, -1),
    MATMUL("m INT_MIN", BITNET_E_INVALID_ARGUMENT, MA, MB, MC, INT_MIN, 4, 8),
    MATMUL("k INT_MIN", BITNET_E_INVALID_ARGUMENT, MA, MB, MC, 4, 4, INT_MIN),
    MATMUL("m*n*4 bytes overflow", BITNET_E_SIZE_OVERFLOW, MA, MB, MC, INT_MAX, INT_MAX, 1),
    MATMUL("m*n*4 bytes overflow, k 0", BITNET_E_SIZE_OVERFLOW, MA, MB, MC, INT_MAX, INT_MAX, 0),
    MATMUL("every length INT_MAX", BITNET_E_SIZE_OVERFLOW, MA, MB, MC, INT_MAX, INT_MAX,
           INT_MAX),
    MATMUL("a NULL", BITNET_E_NULL_POINTER, NUL, MB, MC, 4, 4, 8),
    MATMUL("b NULL", BITNET_E_NULL_POINTER, MA, NUL, MC, 4, 4, 8),
    MATMUL("c NULL", BITNET_E_NULL_POINTER, MA, MB, NUL, 4, 4, 8),
    MATMUL("c misaligned by 2", BITNET_E_MISALIGNED, MA, MB, P(R_MAT_C, 2), 4, 4, 8),
    MATMUL("in place: c == a", BITNET_E_OVERLAP, MA, MB, MA, 4, 4, 8),
    MATMUL("b lies inside c", BITNET_E_OVERLAP, MA, P(R_MAT_C, 4), MC, 4, 4, 8),
    MATMUL("m 0: every pointer may be NULL", BITNET_OK, NUL, NUL, NUL, 0, 4, 8),
    MATMUL("n 0: every pointer may be NULL", BITNET_OK, NUL, NUL, NUL, 4, 0, 8),

    OPTIONS_INIT_ROW("options NULL", BITNET_E_NULL_POINTER, NUL, SZ),
    OPTIONS_INIT_ROW("struct_size 0", BITNET_E_INVALID_OPTIONS, P(R_OPTIONS, 0), 0),
    OPTIONS_INIT_ROW("struct_size one field short of the 0.1 layout", BITNET_E_INVALID_OPTIONS,
                     P(R_OPTIONS, 0), BITNET_QUANT_OPTIONS_SIZE_V1 - 4),
    OPTIONS_INIT_ROW("struct_size one field long", BITNET_E_INVALID_OPTIONS, P(R_OPTIONS, 0),
                     SZ + 4),
    OPTIONS_INIT_ROW("struct_size SIZE_MAX", BITNET_E_INVALID_OPTIONS, P(R_OPTIONS, 0), SIZE_MAX),
#if SIZE_MAX > 0xFFFFFFFFu /* a 32-bit size_t cannot hold it */
    OPTIONS_INIT_ROW("struct_size 2^32 + 24: not truncated", BITNET_E_INVALID_OPTIONS,
                     P(R_OPTIONS, 0), ((size_t)1 << 32) + 24),
#endif
    OPTIONS_INIT_ROW("sizeof(bitnet_quant_options)", BITNET_OK, P(R_OPTIONS, 0), SZ),
    OPTIONS_INIT_ROW("the 0.1 layout", BITNET_OK, P(R_OPTIONS, 0), BITNET_QUANT_OPTIONS_SIZE_V1),
};
#define NUM_ROWS (sizeof(kRows) / sizeof(kRows[0]))

/* ---- the arena ------------------------------------------------------------- */

static uint8_t* g_arena;
static uint8_t* g_snapshot;
static size_t g_arena_bytes;
static size_t g_region_start[NUM_REGIONS];

static void fill_floats(enum region r, float (*value)(size_t i)) {
  size_t i;
  for (i = 0; i < kRegionBytes[r] / sizeof(float); ++i) {
    const float v = value(i);
    memcpy(g_arena + g_region_start[r] + i * sizeof(float), &v, sizeof(v));
  }
}

static float finite_value(size_t i) { return (float)((double)(i % 17) - 8.0) * 0.37f; }
static float nan_value(size_t i) { return (void)i, NAN; }
static float inf_value(size_t i) { return (i % 2) ? -INFINITY : INFINITY; }
static float nonfinite_value(size_t i) {
  const uint32_t bits[5] = {0x7FC00000u, 0xFFC00000u, 0x7F800000u, 0xFF800000u, 0x7F800001u};
  float f;
  memcpy(&f, &bits[i % 5], sizeof(f));
  return f;
}
static float one_finite_value(size_t i) { return i == NQ - 1 ? 2.5f : NAN; }

static void arena_init(void) {
  size_t r, i, at = 0;
  for (r = 0; r < NUM_REGIONS; ++r) {
    g_region_start[r] = at;
    at += (kRegionBytes[r] + GUARD + 63) / 64 * 64;
  }
  g_arena_bytes = at;
  if (posix_memalign((void**)&g_arena, 64, g_arena_bytes) != 0) abort();
  g_snapshot = (uint8_t*)malloc(g_arena_bytes);
  for (i = 0; i < g_arena_bytes; ++i) g_arena[i] = (uint8_t)(0xA5 ^ (i * 29));
  fill_floats(R_INPUT, finite_value);
  fill_floats(R_NAN, nan_value);
  fill_floats(R_INF, inf_value);
  fill_floats(R_NONFINITE, nonfinite_value);
  fill_floats(R_ONE_FINITE, one_finite_value);
}

static void* arg_ptr(ptr_arg p) {
  return p.region == R_NULL ? NULL : g_arena + g_region_start[p.region] + p.offset;
}

/* A byte range a successful call may write. */
typedef struct span {
  const void* start;
  size_t bytes;
} span;

static int in_spans(size_t arena_offset, const span* spans, int count) {
  const uint8_t* p = g_arena + arena_offset;
  int s;
  for (s = 0; s < count; ++s) {
    const uint8_t* start = (const uint8_t*)spans[s].start;
    if (start != NULL && p >= start && p < start + spans[s].bytes) return 1;
  }
  return 0;
}

/* ---- running one row ----------------------------------------------------- */

static int g_gpu_usable;
static bitnet_cpu_target g_unsupported_target;

static bitnet_format entry_format(const row* r) {
  switch (r->entry) {
    case QUANTIZE_I2S: case DEQUANTIZE_I2S: return BITNET_FORMAT_I2S;
    case QUANTIZE_TL1: case DEQUANTIZE_TL1: return BITNET_FORMAT_TL1;
    case QUANTIZE_TL2: case DEQUANTIZE_TL2: return BITNET_FORMAT_TL2;
    default: return r->format;
  }
}

static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

/* Calls the row's entry point; fills `spans` with what a success may write. */
static int call_row(const row* r, span spans[2], int* num_spans) {
  bitnet_quant_options options;
  const bitnet_quant_options* opt = NULL;
  void* p0 = arg_ptr(r->ptr[0]);
  void* p1 = arg_ptr(r->ptr[1]);
  void* p2 = arg_ptr(r->ptr[2]);
  const bitnet_format format = entry_format(r);
  size_t block = 0;
  bitnet_cpu_target target = r->target == CPU_UNSUPPORTED ? g_unsupported_target : r->target;
  if (r->options) {
    options = *r->options;
    if (options.cpu_target == CPU_UNSUPPORTED) options.cpu_target = g_unsupported_target;
    opt = &options;
  }
  if (format >= 0 && format <= 2) block = kDefaultBlock[format];
  if (opt && opt->block_size != 0) block = opt->block_size;
  *num_spans = 0;
  switch (r->entry) {
    case QUANTIZE: case QUANTIZE_I2S: case QUANTIZE_TL1: case QUANTIZE_TL2:
      spans[0].start = p1;
      spans[0].bytes = ceil_div(r->n, 4);
      spans[1].start = p2;
      spans[1].bytes = block ? ceil_div(r->n, block) * sizeof(float) : 0;
      *num_spans = 2;
      break;
    case DEQUANTIZE: case DEQUANTIZE_I2S: case DEQUANTIZE_TL1: case DEQUANTIZE_TL2:
      spans[0].start = p2;
      spans[0].bytes = r->n * sizeof(float);
      *num_spans = 1;
      break;
    case BUFFER_SIZES:
      spans[0].start = p0;
      spans[0].bytes = sizeof(size_t);
      spans[1].start = p1;
      spans[1].bytes = sizeof(size_t);
      *num_spans = 2;
      break;
    case TARGET_FROM_NAME:
      spans[0].start = p0;
      spans[0].bytes = sizeof(bitnet_cpu_target);
      *num_spans = 1;
      break;
    case CPP_QUANTIZE:
      spans[0].start = p1;
      spans[0].bytes = ceil_div((size_t)r->ints[0], 4);
      spans[1].start = p2;
      spans[1].bytes = block ? ceil_div((size_t)r->ints[0], block) * sizeof(float) : 0;
      *num_spans = 2;
      break;
    case CPP_MATMUL:
      spans[0].start = p2;
      spans[0].bytes = (size_t)r->ints[0] * (size_t)r->ints[1] * sizeof(float);
      *num_spans = 1;
      break;
    case OPTIONS_INIT:
      spans[0].start = p0;
      spans[0].bytes = r->len[0];
      *num_spans = 1;
      break;
    case SET_TARGET: break;
  }
  switch (r->entry) {
    case QUANTIZE: return bitnet_quantize(format, opt, p0, r->n, p1, r->len[0], p2, r->len[1]);
    case QUANTIZE_I2S: return bitnet_quantize_i2s(p0, r->n, p1, r->len[0], p2, r->len[1]);
    case QUANTIZE_TL1: return bitnet_quantize_tl1(p0, r->n, p1, r->len[0], p2, r->len[1]);
    case QUANTIZE_TL2: return bitnet_quantize_tl2(p0, r->n, p1, r->len[0], p2, r->len[1]);
    case DEQUANTIZE:
      return bitnet_dequantize(format, opt, p0, r->len[0], p1, r->len[1], p2, r->n);
    case DEQUANTIZE_I2S: return bitnet_dequantize_i2s(p0, r->len[0], p1, r->len[1], p2, r->n);
    case DEQUANTIZE_TL1: return bitnet_dequantize_tl1(p0, r->len[0], p1, r->len[1], p2, r->n);
    case DEQUANTIZE_TL2: return bitnet_dequantize_tl2(p0, r->len[0], p1, r->len[1], p2, r->n);
    case BUFFER_SIZES: return bitnet_quant_buffer_sizes(format, opt, r->n, p0, p1);
    case SET_TARGET: return bitnet_cpu_set_target(target);
    case TARGET_FROM_NAME: return bitnet_cpu_target_from_name(r->name, p0);
    case CPP_QUANTIZE:
      return bitnet_cpp_quantize(p0, r->ints[0], p1, r->ints[1], p2, r->ints[2], r->format);
    case CPP_MATMUL: return bitnet_cpp_matmul_i2s(p0, p1, p2, r->ints[0], r->ints[1], r->ints[2]);
    case OPTIONS_INIT: return bitnet_quant_options_init(p0, r->len[0]);
  }
  return INT_MIN;
}

static const char* g_unknown_status;
static char g_sentinel_message[512];

/* Leaves a known message as this thread's last error, so that a failing row
 * is seen to replace it. */
static void set_sentinel_error(void) {
  bitnet_cpu_target t;
  bitnet_cpu_target_from_name("sentinel: no such target", &t);
}

static void run_row(size_t index) {
  const row* r = &kRows[index];
  span spans[2];
  int num_spans = 0, status;
  size_t i, first_bad = SIZE_MAX, bad = 0;
  bitnet_backend backend_before;
  char where[256];
  snprintf(where, sizeof(where), "row %zu %s: %s", index, kEntryNames[r->entry], r->what);

  set_sentinel_error();
  backend_before = bitnet_last_backend();
  memcpy(g_snapshot, g_arena, g_arena_bytes);
  status = call_row(r, spans, &num_spans);

  check(status == r->expected, "%s: status %d (%s), expected %d (%s)", where, status,
        bitnet_last_error() ? bitnet_last_error() : "no message", r->expected,
        bitnet_status_string(r->expected));
  check(strcmp(bitnet_status_string(status), g_unknown_status) != 0,
        "%s: status %d has no status string", where, status);
  if (status != BITNET_OK) {
    const char* msg = bitnet_last_error();
    check(msg != NULL && msg[0] != '\0', "%s: no error message", where);
    check(msg == NULL || strcmp(msg, g_sentinel_message) != 0,
          "%s: the error message is the previous call's", where);
    check(bitnet_last_backend() == backend_before,
          "%s: a failed call changed bitnet_last_backend() from %d to %d", where,
          (int)backend_before, (int)bitnet_last_backend());
    if (r->entry == CPP_QUANTIZE || r->entry == CPP_MATMUL) {
      check(msg != NULL && bitnet_cpp_get_last_error() != NULL &&
                strcmp(bitnet_cpp_get_last_error(), msg) == 0,
            "%s: bitnet_cpp_get_last_error() differs from bitnet_last_error()", where);
    }
    num_spans = 0; /* a failure writes nothing */
  }
  for (i = 0; i < g_arena_bytes; ++i) {
    if (g_arena[i] != g_snapshot[i] && !in_spans(i, spans, num_spans)) {
      if (first_bad == SIZE_MAX) first_bad = i;
      ++bad;
    }
  }
  check(bad == 0, "%s: %zu bytes written outside what the call may write (first at arena "
        "offset %zu)", where, bad, first_bad);
  if (status == BITNET_OK && r->entry == BUFFER_SIZES) {
    size_t packed, scales;
    const bitnet_format format = entry_format(r);
    size_t block = kDefaultBlock[format];
    if (r->options && r->options->block_size) block = r->options->block_size;
    memcpy(&packed, spans[0].start, sizeof(packed));
    memcpy(&scales, spans[1].start, sizeof(scales));
    check(packed == ceil_div(r->n, 4) && scales == ceil_div(r->n, block),
          "%s: sizes %zu and %zu, expected %zu and %zu", where, packed, scales,
          ceil_div(r->n, 4), ceil_div(r->n, block));
  }
  if (status == BITNET_OK && r->entry == OPTIONS_INIT) {
    bitnet_quant_options want = BITNET_QUANT_OPTIONS_INIT;
    want.struct_size = (uint32_t)r->len[0];
    check(memcmp(spans[0].start, &want, r->len[0]) == 0,
          "%s: the options written are not BITNET_QUANT_OPTIONS_INIT's", where);
  }
  /* Undo a successful call's writes so that every row starts from the same
   * arena. */
  memcpy(g_arena, g_snapshot, g_arena_bytes);
}

/* ---- init / cleanup and the backend report --------------------------------- */

static const float kSmallInput[8] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f, 2.0f, -3.0f};

/* A bitnet_cpp_quantize call that must succeed. */
static int cpp_quantize_works(void) {
  uint8_t packed[2];
  float scales[1];
  return bitnet_cpp_quantize(kSmallInput, 8, packed, 2, scales, 1, 0) == 0;
}

/* What init and cleanup are (the header): init checks the default CPU
 * kernels (test_environment makes it fail with BITNET_CPU_TARGET), cleanup
 * does nothing; neither is needed, in any number or order. */
static void test_init_cleanup(void) {
  check(bitnet_cpp_is_available() == 1, "bitnet_cpp_is_available() is not 1");
  check(cpp_quantize_works(), "works without init");
  bitnet_cpp_cleanup();
  check(cpp_quantize_works(), "works after a cleanup without init");
  check(bitnet_cpp_init() == 0 && bitnet_cpp_init() == 0, "init with a usable default target");
  bitnet_cpp_cleanup();
  bitnet_cpp_cleanup();
  bitnet_cpp_cleanup();
  check(cpp_quantize_works(), "works after more cleanups than inits");
}

/* The messages name what was wrong. */
static void test_messages(void) {
  static const float x[8] = {0};
  uint8_t packed[2];
  float scales[1];
  bitnet_quant_options opt = BITNET_QUANT_OPTIONS_INIT;
  size_t a, b;
  const char* msg;
  check(bitnet_cpp_quantize(x, 8, packed, 2, scales, 1, 7) == BITNET_E_INVALID_FORMAT &&
            (msg = bitnet_last_error()) != NULL && strstr(msg, "qtype is 7") != NULL &&
            strstr(msg, "format") == NULL,
        "bitnet_cpp_quantize's bad qtype is reported as a qtype: %s", bitnet_last_error());
  check(bitnet_quantize(7, NULL, x, 8, packed, 2, scales, 1) == BITNET_E_INVALID_FORMAT &&
            strstr(bitnet_last_error(), "format is 7") != NULL,
        "bitnet_quantize's bad format: %s", bitnet_last_error());
  opt.struct_size = SZ + 8;
  check(bitnet_quant_buffer_sizes(0, &opt, 8, &a, &b) == BITNET_E_INVALID_OPTIONS &&
            strstr(bitnet_last_error(), "newer header") != NULL,
        "a struct_size past this library's: %s", bitnet_last_error());
  opt.struct_size = 8;
  check(bitnet_quant_buffer_sizes(0, &opt, 8, &a, &b) == BITNET_E_INVALID_OPTIONS &&
            strstr(bitnet_last_error(), "struct_size is 8") != NULL,
        "a struct_size below the 0.1 layout: %s", bitnet_last_error());
}

static void* backend_of_new_thread(void* out) {
  *(bitnet_backend*)out = bitnet_last_backend();
  return NULL;
}

static void test_last_backend(bitnet_backend at_start) {
  /* Calls this small are below AUTO's GPU threshold: the CPU everywhere. */
  const bitnet_backend auto_backend = BITNET_BACKEND_CPU;
  bitnet_quant_options cpu = BITNET_QUANT_OPTIONS_INIT;
  uint8_t packed[2];
  float scales[1], out[8];
  bitnet_backend fresh = (bitnet_backend)-1;
  pthread_t thread;
  cpu.device = BITNET_DEVICE_CPU;

  check(at_start == BITNET_BACKEND_NONE, "backend before any call is %d, not NONE",
        (int)at_start);
  check(pthread_create(&thread, NULL, backend_of_new_thread, &fresh) == 0 &&
            pthread_join(thread, NULL) == 0,
        "thread");
  check(fresh == BITNET_BACKEND_NONE, "a new thread's backend is %d, not NONE", (int)fresh);

  check(bitnet_quantize(BITNET_FORMAT_I2S, &cpu, kSmallInput, 8, packed, 2, scales, 1) == 0 &&
            bitnet_last_backend() == BITNET_BACKEND_CPU,
        "device CPU reports BITNET_BACKEND_CPU, got %d", (int)bitnet_last_backend());
  check(bitnet_quantize_i2s(kSmallInput, 8, packed, 2, scales, 1) == 0 &&
            bitnet_last_backend() == auto_backend,
        "device AUTO reports %d, got %d", (int)auto_backend, (int)bitnet_last_backend());
  check(bitnet_dequantize(BITNET_FORMAT_I2S, &cpu, packed, 2, scales, 1, out, 8) == 0 &&
            bitnet_last_backend() == BITNET_BACKEND_CPU,
        "dequantize on the CPU reports BITNET_BACKEND_CPU, got %d", (int)bitnet_last_backend());
  check(bitnet_dequantize_tl1(packed, 2, scales, 1, out, 8) == 0 &&
            bitnet_last_backend() == auto_backend,
        "fixed-format dequantize reports %d, got %d", (int)auto_backend,
        (int)bitnet_last_backend());
  check(cpp_quantize_works() && bitnet_last_backend() == BITNET_BACKEND_CPU,
        "bitnet_cpp_quantize reports BITNET_BACKEND_CPU, got %d", (int)bitnet_last_backend());
  check(bitnet_quantize_tl2(NULL, 0, NULL, 0, NULL, 0) == 0 &&
            bitnet_last_backend() == auto_backend,
        "an empty call reports %d, got %d", (int)auto_backend, (int)bitnet_last_backend());
}

/* ---- status strings ------------------------------------------------------ */

static void test_status_strings(void) {
  int s, t;
  for (s = BITNET_OK; s >= BITNET_E_OUT_OF_MEMORY; --s) {
    const char* str = bitnet_status_string(s);
    check(str != NULL && strcmp(str, g_unknown_status) != 0, "status %d has no string", s);
    for (t = s + 1; t <= BITNET_OK; ++t) {
      check(strcmp(str, bitnet_status_string(t)) != 0, "statuses %d and %d share a string", s, t);
    }
  }
  check(strcmp(bitnet_status_string(1), g_unknown_status) == 0 &&
            strcmp(bitnet_status_string(BITNET_E_OUT_OF_MEMORY - 1), g_unknown_status) == 0 &&
            strcmp(bitnet_status_string(INT_MAX), g_unknown_status) == 0,
        "undefined statuses must give the unknown string");
}

int main(void) {
  const bitnet_backend at_start = bitnet_last_backend();
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  bitnet_quant_options cuda = BITNET_QUANT_OPTIONS_INIT;
  size_t i, skipped = 0;
  int bit;

  check(bitnet_last_error() == NULL, "bitnet_last_error() before any failure is not NULL");
  /* Rows assume the library's defaults, not a forced target or strict mode. */
  unsetenv("BITNET_CPU_TARGET");
  unsetenv("BITNET_STRICT_MODE");
  g_unknown_status = bitnet_status_string(INT_MIN);
  set_sentinel_error();
  snprintf(g_sentinel_message, sizeof(g_sentinel_message), "%s", bitnet_last_error());
  for (bit = 0; bit <= 10; ++bit) {
    if (!(supported & (1u << bit))) {
      g_unsupported_target = 1u << bit;
      break;
    }
  }
  check(g_unsupported_target != 0, "every known target is supported: impossible");
  cuda.device = BITNET_DEVICE_CUDA;
  /* Device CUDA checks the GPU even for n == 0. */
  g_gpu_usable = bitnet_quantize(BITNET_FORMAT_I2S, &cuda, NULL, 0, NULL, 0, NULL, 0) == BITNET_OK;
  printf("GPU backend usable: %s; unsupported CPU target used: %s\n", g_gpu_usable ? "yes" : "no",
         bitnet_cpu_target_name(g_unsupported_target));

  test_last_backend(at_start);
  arena_init();
  for (i = 0; i < NUM_ROWS; ++i) {
    if (kRows[i].expected == BITNET_E_DEVICE_UNAVAILABLE && g_gpu_usable) {
      ++skipped;
      continue;
    }
    run_row(i);
  }
  check(bitnet_cpu_get_target() != 0, "the default target is usable after the table");
  test_init_cleanup();
  test_messages();
  test_status_strings();
  printf("bad-input rows: %zu (%zu run, %zu skipped: they need no usable GPU)\n", NUM_ROWS,
         NUM_ROWS - skipped, skipped);
  free(g_arena);
  free(g_snapshot);
  return finish("test_bad_input");
}
