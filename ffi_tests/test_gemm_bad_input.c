/* Every way a caller can get a matrix-product call wrong, as a table: one row
 * per mistake (or per edge that must succeed) with the status the library
 * must return. As in test_bad_input: a failing row leaves a fresh non-empty
 * message, a known status string and bitnet_last_backend() as it was, and
 * no byte of any buffer changes (all buffers live in one poisoned arena,
 * compared whole after each call); a successful row writes only the bytes
 * the header says (y's rows of the row range, per token). */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_quant.h"
#include "test_util.h"

enum entry { GEMM, GEMM_I8S, GEMM_BLOCKS, ACT_TYPE, OPTIONS_INIT };
static const char* const kEntryNames[] = {"bitnet_gemm", "bitnet_gemm_i8s", "bitnet_gemm_blocks",
                                          "bitnet_gemm_act_type", "bitnet_gemm_options_init"};

/* Shapes of the tensors in the arena: M x K weights, up to B tokens. */
#define M 16
#define K 256
#define B 4

enum region {
  R_NULL,
  R_W_I2S,  /* M x K I2_S: M*K/4 + 32 bytes */
  R_W_TQ1,  /* M x K TQ1_0: M * 54 */
  R_W_TQ2,  /* M x K TQ2_0: M * 66 */
  R_W_Q2,   /* M x K Q2_0: M * 4 * 18 */
  R_X,      /* B x K floats */
  R_Q,      /* B x K int8 */
  R_SCALES, /* B floats */
  R_SUMS,   /* B int32 */
  R_XQ_K,   /* B x K as Q8_K */
  R_XQ_0,   /* B x K as Q8_0 */
  R_Y,      /* B x M floats */
  R_TYPE,   /* one bitnet_type / options struct */
  NUM_REGIONS
};
#define W_I2S_BYTES (M * K / 4 + 32)
#define W_TQ1_BYTES (M * 54)
#define W_TQ2_BYTES (M * 66)
#define W_Q2_BYTES (M * (K / 64) * 18)
#define XQ_K_BYTES(b) ((size_t)(b) * (K / 256) * 292)
#define XQ_0_BYTES(b) ((size_t)(b) * (K / 32) * 34)
static const size_t kRegionBytes[NUM_REGIONS] = {
    0, W_I2S_BYTES, W_TQ1_BYTES, W_TQ2_BYTES, W_Q2_BYTES, B * K * 4, B * K, B * 4, B * 4,
    XQ_K_BYTES(B), XQ_0_BYTES(B), B * M * 4, 64};
#define GUARD 64

typedef struct ptr_arg {
  enum region region;
  size_t offset;
} ptr_arg;
#define P(r, off) {(r), (off)}
#define NUL P(R_NULL, 0)

typedef struct row {
  const char* what;
  enum entry entry;
  int expected;
  bitnet_type type;
  const bitnet_gemm_options* options;
  ptr_arg w, x, y; /* x: x, q or xq */
  ptr_arg scales, sums;
  size_t w_len, xq_len;
  int64_t rows, cols, batch;
} row;

#define SZ ((uint32_t)sizeof(bitnet_gemm_options))
#define OPT(...) (&(const bitnet_gemm_options){.struct_size = SZ, __VA_ARGS__})
#define CPU_UNSUPPORTED 0xFFFFFFFFu /* replaced with a target this CPU cannot run */
#define RANGE(b, e) OPT(.flags = BITNET_GEMM_ROW_RANGE, .row_begin = (b), .row_end = (e))

/* bitnet_gemm on one layout's tensor. */
#define G(what, status, type, w, wlen, rows, cols, x, batch, y, opt) \
  {what, GEMM, status, type, opt, w, x, y, NUL, NUL, wlen, 0, rows, cols, batch}
#define I8S(what, status, w, wlen, q, scales, sums, batch, y, opt) \
  {what, GEMM_I8S, status, BITNET_TYPE_I2_S, opt, w, q, y, scales, sums, wlen, 0, M, K, batch}
#define BLK(what, status, type, w, wlen, xq, xqlen, batch, y, opt) \
  {what, GEMM_BLOCKS, status, type, opt, w, xq, y, NUL, NUL, wlen, xqlen, M, K, batch}

#define WI P(R_W_I2S, 0)
#define W1 P(R_W_TQ1, 0)
#define W2 P(R_W_TQ2, 0)
#define WQ P(R_W_Q2, 0)
#define X P(R_X, 0)
#define Y P(R_Y, 0)
#define Q P(R_Q, 0)
#define SC P(R_SCALES, 0)
#define SU P(R_SUMS, 0)
#define XK P(R_XQ_K, 0)
#define X0 P(R_XQ_0, 0)

static const row kRows[] = {
    /* ---- bitnet_gemm: successes and edges ---- */
    G("I2_S", BITNET_OK, BITNET_TYPE_I2_S, WI, W_I2S_BYTES, M, K, X, B, Y, NULL),
    G("TQ1_0", BITNET_OK, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES, M, K, X, B, Y, NULL),
    G("TQ2_0", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, NULL),
    G("Q2_0, 2 threads", BITNET_OK, BITNET_TYPE_Q2_0, WQ, W_Q2_BYTES, M, K, X, B, Y, OPT(.n_threads = 2)),
    G("batch 0: x and y may be NULL", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, NUL, 0, NUL, NULL),
    G("rows 0: y may be NULL", BITNET_OK, BITNET_TYPE_I2_S, WI, 32, 0, K, X, B, NUL, NULL),
    G("cols 0: y is 0", BITNET_OK, BITNET_TYPE_TQ2_0, W2, 0, M, 0, NUL, B, Y, NULL),
    G("row range [2, 5)", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, RANGE(2, 5)),
    G("empty row range [3, 3): writes nothing", BITNET_OK, BITNET_TYPE_I2_S, WI, W_I2S_BYTES, M, K, X, B, Y, RANGE(3, 3)),
    G("row range to the last row", BITNET_OK, BITNET_TYPE_I2_S, WI, W_I2S_BYTES, M, K, X, B, Y, RANGE(15, 16)),
    G("BF16 x", BITNET_OK, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES, M, K, P(R_X, 2), 2, Y, OPT(.x_type = BITNET_TYPE_BF16)),
    G("I2_S 2 x 64 (rows across 128-blocks)", BITNET_OK, BITNET_TYPE_I2_S, WI, 2 * 64 / 4 + 32, 2, 64, X, B, Y, NULL),
    /* ---- bitnet_gemm: mistakes ---- */
    G("w NULL", BITNET_E_NULL_POINTER, BITNET_TYPE_TQ2_0, NUL, W_TQ2_BYTES, M, K, X, B, Y, NULL),
    G("x NULL", BITNET_E_NULL_POINTER, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, NUL, B, Y, NULL),
    G("y NULL", BITNET_E_NULL_POINTER, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, NUL, NULL),
    G("I2_S w NULL with rows 0 (the tail is there)", BITNET_E_NULL_POINTER, BITNET_TYPE_I2_S, NUL, 32, 0, K, X, B, NUL, NULL),
    G("w_len one short", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES - 1, M, K, X, B, Y, NULL),
    G("w_len one long", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES + 1, M, K, X, B, Y, NULL),
    G("I2_S w_len without its tail", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_I2_S, WI, M * K / 4, M, K, X, B, Y, NULL),
    G("w_type not a type", BITNET_E_INVALID_TYPE, 12345, W2, W_TQ2_BYTES, M, K, X, B, Y, NULL),
    G("w_type F32", BITNET_E_INVALID_TYPE, BITNET_TYPE_F32, X, B * K * 4, B, K, X, B, Y, NULL),
    G("w_type Q8_0 (an activation type)", BITNET_E_INVALID_TYPE, BITNET_TYPE_Q8_0, X0, XQ_0_BYTES(B), B, K, X, B, Y, NULL),
    G("w_type HF_BITNET (not a product's layout)", BITNET_E_INVALID_TYPE, BITNET_TYPE_HF_BITNET, WI, M * K / 4 + 4, M, K, X, B, Y, NULL),
    G("rows negative", BITNET_E_INVALID_SHAPE, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, -1, K, X, B, Y, NULL),
    G("cols negative", BITNET_E_INVALID_SHAPE, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, -256, X, B, Y, NULL),
    G("batch negative", BITNET_E_INVALID_SHAPE, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, -1, Y, NULL),
    G("TQ2_0 cols 128 (not a multiple of 256)", BITNET_E_INVALID_SHAPE, BITNET_TYPE_TQ2_0, W2, 33 * M, M, 128, X, B, Y, NULL),
    G("TQ1_0 cols 255", BITNET_E_INVALID_SHAPE, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES, M, 255, X, B, Y, NULL),
    G("Q2_0 cols 32", BITNET_E_INVALID_SHAPE, BITNET_TYPE_Q2_0, WQ, 9 * M, M, 32, X, B, Y, NULL),
    G("I2_S 3 x 40 (not a multiple of 128 elements)", BITNET_E_INVALID_SHAPE, BITNET_TYPE_I2_S, WI, 62, 3, 40, X, B, Y, NULL),
    G("I2_S cols past the int32 sums", BITNET_E_INVALID_SHAPE, BITNET_TYPE_I2_S, WI, 32, 0, 5592448, X, B, NUL, NULL),
    G("rows x cols overflow", BITNET_E_SIZE_OVERFLOW, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, INT64_MAX / 256, 512, X, B, Y, NULL),
    G("batch x cols overflow", BITNET_E_SIZE_OVERFLOW, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, INT64_MAX / 2, Y, NULL),
    G("y overlaps x", BITNET_E_OVERLAP, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, P(R_X, 64), NULL),
    G("y ends in x", BITNET_E_OVERLAP, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, P(R_X, 64), 1, P(R_X, 4), NULL),
    G("y ends where x begins", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, P(R_X, 64), 1, X, NULL),
    G("y overlaps w", BITNET_E_OVERLAP, BITNET_TYPE_I2_S, WI, W_I2S_BYTES, M, K, X, B, P(R_W_I2S, 4), NULL),
    G("y's row range overlaps x", BITNET_E_OVERLAP, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, P(R_X, 16), 1, X, RANGE(4, 8)),
    G("y misaligned", BITNET_E_MISALIGNED, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, P(R_Y, 2), NULL),
    G("x misaligned", BITNET_E_MISALIGNED, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, P(R_X, 1), B, Y, NULL),
    G("F16 x misaligned", BITNET_E_MISALIGNED, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, P(R_X, 1), 2, Y, OPT(.x_type = BITNET_TYPE_F16)),
    G("options struct_size 0", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, (&(const bitnet_gemm_options){.struct_size = 0})),
    G("options struct_size one more", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, (&(const bitnet_gemm_options){.struct_size = SZ + 1})),
    G("unknown flag", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.flags = 0x80)),
    G("n_threads -1", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.n_threads = -1)),
    G("n_threads 1025", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.n_threads = 1025)),
    G("x_type I8_S", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.x_type = BITNET_TYPE_I8_S)),
    G("x_type TQ2_0", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.x_type = BITNET_TYPE_TQ2_0)),
    G("reserved set", BITNET_E_INVALID_OPTIONS, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.reserved = 1)),
    G("cpu_target unsupported", BITNET_E_UNSUPPORTED_TARGET, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.cpu_target = CPU_UNSUPPORTED)),
    G("cpu_target two bits", BITNET_E_UNSUPPORTED_TARGET, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.cpu_target = BITNET_CPU_REFERENCE | BITNET_CPU_SCALAR)),
    G("row range begin > end", BITNET_E_INVALID_ARGUMENT, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, RANGE(5, 4)),
    G("row range negative", BITNET_E_INVALID_ARGUMENT, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, RANGE(-1, 4)),
    G("row range past the rows", BITNET_E_INVALID_ARGUMENT, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, RANGE(0, M + 1)),
    G("range fields without the flag are ignored", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, M, K, X, B, Y, OPT(.row_begin = 9, .row_end = 2)),
    /* ---- bitnet_gemm_i8s ---- */
    I8S("I2_S with I8_S activations", BITNET_OK, WI, W_I2S_BYTES, Q, SC, SU, B, Y, NULL),
    I8S("batch 0: q, scales, sums, y may be NULL", BITNET_OK, WI, W_I2S_BYTES, NUL, NUL, NUL, 0, NUL, NULL),
    I8S("q NULL", BITNET_E_NULL_POINTER, WI, W_I2S_BYTES, NUL, SC, SU, B, Y, NULL),
    I8S("scales NULL", BITNET_E_NULL_POINTER, WI, W_I2S_BYTES, Q, NUL, SU, B, Y, NULL),
    I8S("sums NULL", BITNET_E_NULL_POINTER, WI, W_I2S_BYTES, Q, SC, NUL, B, Y, NULL),
    I8S("w NULL", BITNET_E_NULL_POINTER, NUL, W_I2S_BYTES, Q, SC, SU, B, Y, NULL),
    I8S("w_len one short", BITNET_E_SIZE_MISMATCH, WI, W_I2S_BYTES - 1, Q, SC, SU, B, Y, NULL),
    I8S("scales misaligned", BITNET_E_MISALIGNED, WI, W_I2S_BYTES, Q, P(R_SCALES, 1), SU, B, Y, NULL),
    I8S("sums misaligned", BITNET_E_MISALIGNED, WI, W_I2S_BYTES, Q, SC, P(R_SUMS, 2), B, Y, NULL),
    I8S("y overlaps q", BITNET_E_OVERLAP, WI, W_I2S_BYTES, Q, SC, SU, B, P(R_Q, 0), NULL),
    I8S("y overlaps sums", BITNET_E_OVERLAP, WI, W_I2S_BYTES, Q, SC, SU, 1, P(R_SUMS, 0), NULL),
    I8S("bad options", BITNET_E_INVALID_OPTIONS, WI, W_I2S_BYTES, Q, SC, SU, B, Y, OPT(.n_threads = -3)),
    /* ---- bitnet_gemm_blocks ---- */
    BLK("TQ1_0 with Q8_K", BITNET_OK, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES, XK, XQ_K_BYTES(B), B, Y, NULL),
    BLK("TQ2_0 with Q8_K, row range", BITNET_OK, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, XK, XQ_K_BYTES(B), B, Y, RANGE(1, 9)),
    BLK("Q2_0 with Q8_0", BITNET_OK, BITNET_TYPE_Q2_0, WQ, W_Q2_BYTES, X0, XQ_0_BYTES(B), B, Y, NULL),
    BLK("batch 0: xq and y may be NULL", BITNET_OK, BITNET_TYPE_Q2_0, WQ, W_Q2_BYTES, NUL, 0, 0, NUL, NULL),
    BLK("I2_S (takes I8_S rows)", BITNET_E_INVALID_TYPE, BITNET_TYPE_I2_S, WI, W_I2S_BYTES, XK, XQ_K_BYTES(B), B, Y, NULL),
    BLK("xq_len one short", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, XK, XQ_K_BYTES(B) - 1, B, Y, NULL),
    BLK("xq_len of Q8_0 for TQ2_0", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, X0, XQ_0_BYTES(B), B, Y, NULL),
    BLK("xq_len of Q8_K for Q2_0", BITNET_E_SIZE_MISMATCH, BITNET_TYPE_Q2_0, WQ, W_Q2_BYTES, XK, XQ_K_BYTES(B), B, Y, NULL),
    BLK("xq NULL", BITNET_E_NULL_POINTER, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, NUL, XQ_K_BYTES(B), B, Y, NULL),
    BLK("y overlaps xq", BITNET_E_OVERLAP, BITNET_TYPE_TQ2_0, W2, W_TQ2_BYTES, XK, XQ_K_BYTES(B), B, P(R_XQ_K, 8), NULL),
    BLK("y overlaps w", BITNET_E_OVERLAP, BITNET_TYPE_TQ1_0, W1, W_TQ1_BYTES, XK, XQ_K_BYTES(B), B, P(R_W_TQ1, 0), NULL),
    BLK("w_type unknown", BITNET_E_INVALID_TYPE, -7, W2, W_TQ2_BYTES, XK, XQ_K_BYTES(B), B, Y, NULL),
    /* ---- bitnet_gemm_act_type, bitnet_gemm_options_init ---- */
    {"act type of TQ1_0", ACT_TYPE, BITNET_OK, BITNET_TYPE_TQ1_0, NULL, NUL, NUL, P(R_TYPE, 0), NUL, NUL, 0, 0, 0, 0, 0},
    {"act type of an unknown type", ACT_TYPE, BITNET_E_INVALID_TYPE, 99999, NULL, NUL, NUL, P(R_TYPE, 0), NUL, NUL, 0, 0, 0, 0, 0},
    {"act type of F16", ACT_TYPE, BITNET_E_INVALID_TYPE, BITNET_TYPE_F16, NULL, NUL, NUL, P(R_TYPE, 0), NUL, NUL, 0, 0, 0, 0, 0},
    {"act type into NULL", ACT_TYPE, BITNET_E_NULL_POINTER, BITNET_TYPE_I2_S, NULL, NUL, NUL, NUL, NUL, NUL, 0, 0, 0, 0, 0},
    {"options init", OPTIONS_INIT, BITNET_OK, 0, NULL, NUL, NUL, P(R_TYPE, 0), NUL, NUL, sizeof(bitnet_gemm_options), 0, 0, 0, 0},
    {"options init NULL", OPTIONS_INIT, BITNET_E_NULL_POINTER, 0, NULL, NUL, NUL, NUL, NUL, NUL, sizeof(bitnet_gemm_options), 0, 0, 0, 0},
    {"options init, another size", OPTIONS_INIT, BITNET_E_INVALID_OPTIONS, 0, NULL, NUL, NUL, P(R_TYPE, 0), NUL, NUL, sizeof(bitnet_gemm_options) - 8, 0, 0, 0, 0},
};
#define NUM_ROWS (sizeof kRows / sizeof kRows[0])

/* ---- the arena --------------------------------------------------------------- */

static uint8_t* g_arena;
static uint8_t* g_snapshot;
static size_t g_arena_bytes;
static size_t g_region_start[NUM_REGIONS];
static bitnet_cpu_target g_unsupported_target;

static void* at(ptr_arg p) {
  return p.region == R_NULL ? NULL : g_arena + g_region_start[p.region] + p.offset;
}

static void arena_init(void) {
  size_t at_byte = 0;
  for (int r = 0; r < NUM_REGIONS; ++r) {
    g_region_start[r] = at_byte;
    at_byte += (kRegionBytes[r] + GUARD + 63) / 64 * 64;
  }
  g_arena_bytes = at_byte;
  if (posix_memalign((void**)&g_arena, 64, g_arena_bytes) != 0) abort();
  g_snapshot = malloc(g_arena_bytes);
  for (size_t i = 0; i < g_arena_bytes; ++i) g_arena[i] = (uint8_t)(0xA5 ^ (i * 29));
  /* Real tensors and activations where a call reads them. */
  float* w = malloc(M * K * sizeof(float));
  float* x = (float*)(g_arena + g_region_start[R_X]);
  uint64_t s = 5;
  for (int i = 0; i < M * K; ++i) w[i] = (float)rng_normal(&s) * 0.02f;
  for (int i = 0; i < B * K; ++i) x[i] = (float)rng_normal(&s);
  bitnet_tensor_options to = BITNET_TENSOR_OPTIONS_INIT;
  to.ternarize = BITNET_TERNARIZE_ABSMEAN;
  const struct {
    enum region r;
    bitnet_type type;
  } tensors[] = {{R_W_I2S, BITNET_TYPE_I2_S}, {R_W_TQ1, BITNET_TYPE_TQ1_0},
                 {R_W_TQ2, BITNET_TYPE_TQ2_0}, {R_W_Q2, BITNET_TYPE_Q2_0}};
  for (size_t t = 0; t < 4; ++t) {
    if (bitnet_tensor_quantize(tensors[t].type, &to, BITNET_TYPE_F32, w, M, K, at((ptr_arg){tensors[t].r, 0}),
                               kRegionBytes[tensors[t].r]) != BITNET_OK) {
      abort();
    }
  }
  if (bitnet_quantize_i8s(NULL, BITNET_TYPE_F32, x, B, K, at((ptr_arg){R_Q, 0}), B * K, at((ptr_arg){R_SCALES, 0}),
                          B, at((ptr_arg){R_SUMS, 0}), B) != BITNET_OK ||
      bitnet_tensor_quantize(BITNET_TYPE_Q8_K, NULL, BITNET_TYPE_F32, x, B, K, at((ptr_arg){R_XQ_K, 0}),
                             XQ_K_BYTES(B)) != BITNET_OK ||
      bitnet_tensor_quantize(BITNET_TYPE_Q8_0, NULL, BITNET_TYPE_F32, x, B, K, at((ptr_arg){R_XQ_0, 0}),
                             XQ_0_BYTES(B)) != BITNET_OK) {
    abort();
  }
  free(w);
}

/* A byte range a successful call may write. */
typedef struct span {
  const uint8_t* start;
  size_t bytes;
} span;
#define MAX_SPANS B

static int call_row(const row* r, span* spans, int* num_spans) {
  bitnet_gemm_options options;
  const bitnet_gemm_options* opt = NULL;
  if (r->options != NULL) {
    options = *r->options;
    if (options.cpu_target == CPU_UNSUPPORTED) options.cpu_target = g_unsupported_target;
    opt = &options;
  }
  *num_spans = 0;
  uint8_t* y = at(r->y);
  switch (r->entry) {
    case GEMM:
    case GEMM_I8S:
    case GEMM_BLOCKS: {
      /* y's rows of the range, per token. */
      int64_t b0 = 0, e0 = r->rows;
      if (opt != NULL && (opt->flags & BITNET_GEMM_ROW_RANGE)) {
        b0 = opt->row_begin;
        e0 = opt->row_end;
      }
      for (int64_t t = 0; t < r->batch && t < MAX_SPANS && e0 > b0; ++t) {
        spans[*num_spans].start = y + (size_t)(t * r->rows + b0) * sizeof(float);
        spans[(*num_spans)++].bytes = (size_t)(e0 - b0) * sizeof(float);
      }
      break;
    }
    case ACT_TYPE:
      spans[0].start = y;
      spans[0].bytes = sizeof(bitnet_type);
      *num_spans = 1;
      break;
    case OPTIONS_INIT:
      spans[0].start = y;
      spans[0].bytes = sizeof(bitnet_gemm_options);
      *num_spans = 1;
      break;
  }
  switch (r->entry) {
    case GEMM:
      return bitnet_gemm(r->type, at(r->w), r->w_len, r->rows, r->cols, at(r->x), r->batch,
                         (float*)y, opt);
    case GEMM_I8S:
      return bitnet_gemm_i8s(at(r->w), r->w_len, r->rows, r->cols, at(r->x), at(r->scales),
                             at(r->sums), r->batch, (float*)y, opt);
    case GEMM_BLOCKS:
      return bitnet_gemm_blocks(r->type, at(r->w), r->w_len, r->rows, r->cols, at(r->x), r->xq_len,
                                r->batch, (float*)y, opt);
    case ACT_TYPE: return bitnet_gemm_act_type(r->type, (bitnet_type*)y);
    case OPTIONS_INIT: return bitnet_gemm_options_init((bitnet_gemm_options*)y, r->w_len);
  }
  return INT_MIN;
}

static void run_row(size_t index) {
  const row* r = &kRows[index];
  span spans[MAX_SPANS];
  int num_spans = 0;
  char where[256];
  snprintf(where, sizeof where, "row %zu %s: %s", index, kEntryNames[r->entry], r->what);
  /* A known message, which a failing call must replace. */
  bitnet_cpu_target ignored;
  bitnet_cpu_target_from_name("sentinel: no such target", &ignored);
  const char* sentinel = bitnet_last_error();
  char sentinel_copy[512];
  snprintf(sentinel_copy, sizeof sentinel_copy, "%s", sentinel ? sentinel : "");
  const bitnet_backend backend_before = bitnet_last_backend();
  memcpy(g_snapshot, g_arena, g_arena_bytes);
  const int status = call_row(r, spans, &num_spans);
  check(status == r->expected, "%s: status %d (%s), expected %d (%s)", where, status,
        bitnet_last_error() ? bitnet_last_error() : "no message", r->expected,
        bitnet_status_string(r->expected));
  check(strncmp(bitnet_status_string(status), "unknown", 7) != 0, "%s: status %d has no string",
        where, status);
  if (status != BITNET_OK) {
    const char* msg = bitnet_last_error();
    check(msg != NULL && msg[0] != '\0' && strcmp(msg, sentinel_copy) != 0,
          "%s: no fresh error message", where);
    check(bitnet_last_backend() == backend_before, "%s: a failed call changed the last backend",
          where);
    num_spans = 0;
  }
  size_t bad = 0, first_bad = SIZE_MAX;
  for (size_t i = 0; i < g_arena_bytes; ++i) {
    if (g_arena[i] == g_snapshot[i]) continue;
    int allowed = 0;
    for (int s = 0; s < num_spans && !allowed; ++s) {
      allowed = g_arena + i >= spans[s].start && g_arena + i < spans[s].start + spans[s].bytes;
    }
    if (!allowed) {
      if (first_bad == SIZE_MAX) first_bad = i;
      ++bad;
    }
  }
  check(bad == 0, "%s: %zu bytes written outside what the call may write (first at arena offset %zu)",
        where, bad, first_bad);
  /* A success writes every byte it may (each output is a float of the
   * product; the poison pattern is no such float by chance). */
  for (int s = 0; s < num_spans && status == BITNET_OK && r->entry <= GEMM_BLOCKS; ++s) {
    const size_t off = (size_t)(spans[s].start - g_arena);
    check(memcmp(spans[s].start, g_snapshot + off, spans[s].bytes) != 0 || r->cols == 0,
          "%s: y's rows of token %d were not written", where, s);
  }
  memcpy(g_arena, g_snapshot, g_arena_bytes);
}

int main(void) {
  arena_init();
  /* A known target bit this build or CPU cannot run (one always exists:
   * no CPU runs both x86 and ARM targets). */
  const bitnet_cpu_target supported = bitnet_cpu_targets_supported();
  for (unsigned bit = 0; bit <= 10 && g_unsupported_target == 0; ++bit) {
    if (!(supported & (1u << bit))) g_unsupported_target = 1u << bit;
  }
  check(g_unsupported_target != 0, "every known target is supported: impossible");
  for (size_t i = 0; i < NUM_ROWS; ++i) run_row(i);
  return finish("gemm_bad_input");
}
